"""Decision rules on fake cells: every verdict reachable for every rule, margins respected,
intervals those of lab.stats.decide, stopping at the first decided look."""

from __future__ import annotations

import pytest

from reglab.lab.claims.rules import (
    AllOf,
    AtLeast,
    AtMost,
    Better,
    Design,
    Differs,
    NotWorse,
    Same,
    Verdict,
    paired,
)
from reglab.lab.stats import decide

R, F, U = Verdict.REPRODUCED, Verdict.REFUTED, Verdict.INCONCLUSIVE  # U: undecided
ONE_LOOK = Design((5,))
WOBBLE = [0.0, 0.002, -0.002, 0.001, -0.001]  # mean 0, sd 0.0016: half-width about 0.0028


def _rows(diffs, base=0.5, metric="m"):
    """Arm 'a' = base + diff, arm 'b' = base, one pair per seed."""
    rows = []
    for seed, d in enumerate(diffs):
        rows.append({"arm": "a", "seed": seed, metric: base + d})
        rows.append({"arm": "b", "seed": seed, metric: base})
    return rows


def _at(center):
    return [center + w for w in WOBBLE]


def test_the_interval_is_decides_repeated_confidence_interval():
    diffs = [0.01, 0.03, 0.02, 0.05, 0.04]
    found = Better("m", "a", "b").decide(_rows(diffs))
    d = decide(diffs, margin=0.0)
    assert found.numbers["low"] == pytest.approx(d.low)
    assert found.numbers["high"] == pytest.approx(d.high)
    assert found.numbers["look"] == 1 and found.seeds == 5


@pytest.mark.parametrize(
    ("center", "margin", "expected"),
    [
        (0.10, 0.0, R),  # clearly higher
        (0.10, 0.05, R),  # higher by more than the margin
        (0.10, 0.2, F),  # higher, but surely by less than the margin
        (0.0, 0.01, F),  # equivalent: no gain as large as the margin
        (-0.10, 0.0, F),  # clearly lower
        (0.0, 0.0, U),  # straddles zero, no margin to refute by equivalence
        (0.01, 0.01, U),  # straddles the margin
    ],
)
def test_better_verdicts(center, margin, expected):
    rule = Better("m", "a", "b", margin=margin)
    assert rule.decide(_rows(_at(center)), ONE_LOOK).verdict is expected


def test_better_lower_is_better_flips_the_side():
    rows = _rows(_at(-0.10))
    assert Better("m", "a", "b", higher_is_better=False).decide(rows, ONE_LOOK).verdict is R
    assert Better("m", "a", "b", higher_is_better=True).decide(rows, ONE_LOOK).verdict is F
    found = Better("m", "a", "b", higher_is_better=False).decide(rows, ONE_LOOK)
    assert found.numbers["mean"] == pytest.approx(-0.10)  # reported as arm - than
    assert found.numbers["high"] < 0


@pytest.mark.parametrize(
    ("center", "margin", "expected"),
    [
        (0.0, 0.005, R),  # within the allowed loss
        (-0.003, 0.01, R),  # a real loss, smaller than the margin
        (0.0, 0.0, U),  # without a margin the interval straddles the bar
        (-0.05, 0.005, F),  # loses clearly more than the margin
    ],
)
def test_not_worse_verdicts(center, margin, expected):
    rule = NotWorse("m", "a", "b", margin=margin)
    assert rule.decide(_rows(_at(center)), ONE_LOOK).verdict is expected


@pytest.mark.parametrize(
    ("center", "expected_same"),
    [
        (0.0, R),  # inside (-0.01, 0.01)
        (0.005, R),  # a real difference, smaller than the margin: still "the same"
        (0.05, F),  # wholly above the margin
        (-0.05, F),  # wholly below
        (0.01, U),  # overlaps the margin
    ],
)
def test_same_and_differs_are_mirror_images(center, expected_same):
    rows = _rows(_at(center))
    assert Same("m", "a", "b", margin=0.01).decide(rows, ONE_LOOK).verdict is expected_same
    mirror = {R: F, F: R, U: U}[expected_same]
    assert Differs("m", "a", "b", margin=0.01).decide(rows, ONE_LOOK).verdict is mirror


def test_a_comparison_stops_at_its_first_decided_look():
    # seeds 0-4 decide; seeds 5-9 (run for another part of the claim) would not
    diffs = [*_at(0.10), -1.0, 1.0, -2.0, 2.0, 0.0]
    found = Better("m", "a", "b").decide(_rows(diffs), Design((5, 10)))
    assert (found.verdict, found.seeds, found.numbers["look"], found.open) == (R, 5, 1, False)


def test_an_undecided_comparison_is_open_until_the_last_look():
    noisy = [0.03, -0.02, 0.01, 0.0, -0.01]
    rule = Better("m", "a", "b")
    early = rule.decide(_rows(noisy), Design((5, 10)))
    assert (early.verdict, early.seeds, early.open) == (U, 5, True)
    last = rule.decide(_rows(noisy * 2), Design((5, 10)))
    assert (last.verdict, last.seeds, last.open) == (U, 10, False)
    before = rule.decide(_rows(noisy[:3]), Design((5, 10)))
    assert (before.verdict, before.seeds, before.open) == (U, 3, True)


def test_a_gap_in_the_seeds_ends_the_sequence():
    rows = [r for r in _rows(_at(0.1) * 2) if r["seed"] != 3]
    assert paired(rows, "m", "a", "b")["diffs"] == pytest.approx(_at(0.1)[:3])
    assert Better("m", "a", "b").decide(rows, Design((5, 10))).seeds == 3


def test_bounds_use_the_worst_seed():
    rows = [{"arm": "c", "seed": s, "x": v} for s, v in enumerate([0.0, 1e-13, 2e-12])]
    assert AtMost("x", "c", 1e-12).decide(rows).verdict is F  # one seed over the tolerance
    assert AtMost("x", "c", 1e-11).decide(rows).verdict is R
    assert AtLeast("x", "c", 0.0).decide(rows).verdict is R
    assert AtLeast("x", "c", 1e-13).decide(rows).verdict is F
    assert AtMost("x", "missing", 1.0).decide(rows).verdict is U
    assert not AtMost("x", "c", 1.0).decide(rows).open


def test_all_of_needs_every_part_and_splits_alpha():
    good, bad = Better("m", "a", "b"), Better("m", "b", "a")
    rows = _rows(_at(0.1))
    unsure = Same("m", "a", "b", margin=0.1)  # the interval overlaps the margin: inconclusive
    assert AllOf((good, good)).decide(rows, ONE_LOOK).verdict is R
    assert AllOf((good, bad)).decide(rows, ONE_LOOK).verdict is F
    both = AllOf((good, unsure)).decide(rows, Design((5, 10)))
    assert (both.verdict, both.open) == (U, True)
    found = AllOf((good, bad, AtMost("m", "a", 1.0))).decide(rows, ONE_LOOK)
    assert [p.verdict for p in found.parts] == [R, F, R] and found.to_dict()["verdict"] == "refuted"
    assert [p.numbers.get("alpha") for p in found.parts] == [0.025, 0.025, None]


def test_missing_or_non_finite_values_are_inconclusive():
    rows = _rows([0.1, 0.2, 0.3, 0.4, 0.5])
    rows = [r if r["arm"] == "b" else {**r, "m": float("nan")} for r in rows]
    found = Better("m", "a", "b").decide(rows)
    assert found.verdict is U and found.seeds == 0


@pytest.mark.parametrize("tails", ["normal", "t3"])
def test_a_sequential_claim_is_wrong_at_most_alpha_of_the_time(tails):
    # true gain exactly at the margin: every decided verdict of Better(m) is wrong, and a
    # Same(m) "reproduced" is wrong; both at most alpha (plus Monte Carlo error, 3 sd)
    import numpy as np

    rng = np.random.default_rng(20)
    runs, margin = 2000, 0.01
    wrong_better = wrong_same = 0
    for _ in range(runs):
        noise = rng.standard_normal(20) if tails == "normal" else rng.standard_t(3, 20)
        rows = _rows(list(margin + 0.02 * noise))
        wrong_better += Better("m", "a", "b", margin=margin).decide(rows).verdict is not U
        wrong_same += Same("m", "a", "b", margin=margin).decide(rows).verdict is R
    bound = 0.05 + 3 * (0.05 * 0.95 / runs) ** 0.5
    assert wrong_better / runs <= bound
    assert wrong_same / runs <= bound
