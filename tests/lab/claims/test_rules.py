"""Decision rules on fake cells: every verdict reachable, margins respected, intervals exact."""

from __future__ import annotations

import math
import statistics

import pytest

from reglab.lab.claims.rules import (
    AllOf,
    AtLeast,
    AtMost,
    Better,
    Differs,
    NotWorse,
    Same,
    Verdict,
    paired,
)

R, F, U = Verdict.REPRODUCED, Verdict.REFUTED, Verdict.INCONCLUSIVE  # U: undecided


def _rows(diffs, base=0.5, metric="m"):
    """Arm 'a' = base + diff, arm 'b' = base, one pair per seed."""
    rows = []
    for seed, d in enumerate(diffs):
        rows.append({"arm": "a", "seed": seed, metric: base + d})
        rows.append({"arm": "b", "seed": seed, metric: base})
    return rows


def test_paired_interval_is_the_student_t_interval():
    diffs = [0.01, 0.03, 0.02, 0.05]
    p = paired(_rows(diffs), "m", "a", "b")
    half = 3.182446305284263 * statistics.stdev(diffs) / math.sqrt(4)  # t(0.975, 3)
    assert p["mean"] == pytest.approx(statistics.fmean(diffs))
    # the lab's t table holds t(0.975, 3) to four significant digits (3.182)
    assert p["mean"] - p["low"] == pytest.approx(half, rel=1e-3)
    assert p["high"] - p["mean"] == pytest.approx(half, rel=1e-3)
    assert p["seeds"] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("diffs", "margin", "expected"),
    [
        ([0.10, 0.11, 0.12], 0.0, R),  # clearly higher
        ([0.10, 0.11, 0.12], 0.05, R),  # higher by more than the margin
        ([0.10, 0.11, 0.12], 0.2, F),  # higher, but not by the margin: the interval is below it
        ([-0.10, -0.11, -0.12], 0.0, F),  # clearly lower
        ([-0.05, 0.0, 0.06], 0.0, U),  # straddles zero
    ],
)
def test_better_verdicts(diffs, margin, expected):
    assert Better("m", "a", "b", margin=margin).decide(_rows(diffs)).verdict is expected


def test_better_lower_is_better_flips_the_side():
    rows = _rows([-0.10, -0.11, -0.12])
    assert Better("m", "a", "b", higher_is_better=False).decide(rows).verdict is R
    assert Better("m", "a", "b", higher_is_better=True).decide(rows).verdict is F


@pytest.mark.parametrize(
    ("diffs", "margin", "expected"),
    [
        ([-0.001, 0.0, 0.001], 0.005, R),  # within the allowed loss
        ([-0.001, 0.0, 0.001], 0.0, U),  # without a margin the interval straddles the bar
        ([-0.05, -0.06, -0.055], 0.005, F),  # loses clearly more than the margin
    ],
)
def test_not_worse_verdicts(diffs, margin, expected):
    assert NotWorse("m", "a", "b", margin=margin).decide(_rows(diffs)).verdict is expected


@pytest.mark.parametrize(
    ("diffs", "expected_same"),
    [
        ([-0.002, 0.0, 0.003], R),  # inside (-0.01, 0.01)
        ([0.05, 0.06, 0.055], F),  # wholly above the margin
        ([-0.05, -0.06, -0.055], F),  # wholly below
        ([-0.02, 0.0, 0.03], U),  # overlaps the margin
    ],
)
def test_same_and_differs_are_mirror_images(diffs, expected_same):
    rows = _rows(diffs)
    assert Same("m", "a", "b", margin=0.01).decide(rows).verdict is expected_same
    mirror = {R: F, F: R, U: U}[expected_same]
    assert Differs("m", "a", "b", margin=0.01).decide(rows).verdict is mirror


def test_bounds_use_the_worst_seed():
    rows = [{"arm": "c", "seed": s, "x": v} for s, v in enumerate([0.0, 1e-13, 2e-12])]
    assert AtMost("x", "c", 1e-12).decide(rows).verdict is F  # one seed over the tolerance
    assert AtMost("x", "c", 1e-11).decide(rows).verdict is R
    assert AtLeast("x", "c", 0.0).decide(rows).verdict is R
    assert AtLeast("x", "c", 1e-13).decide(rows).verdict is F
    assert AtMost("x", "missing", 1.0).decide(rows).verdict is U


def test_all_of_needs_every_part():
    good, bad = Better("m", "a", "b"), Better("m", "b", "a")
    rows = _rows([0.1, 0.11, 0.12])
    unsure = Same("m", "a", "b", margin=0.105)  # the interval overlaps the margin: inconclusive
    assert AllOf((good, good)).decide(rows).verdict is R
    assert AllOf((good, bad)).decide(rows).verdict is F
    assert AllOf((good, unsure)).decide(rows).verdict is U
    found = AllOf((good, bad)).decide(rows)
    assert [p.verdict for p in found.parts] == [R, F] and found.to_dict()["verdict"] == "refuted"


def test_missing_or_non_finite_values_are_inconclusive():
    rows = _rows([0.1, 0.2])
    rows = [r if r["arm"] == "b" else {**r, "m": float("nan")} for r in rows]
    assert Better("m", "a", "b").decide(rows).verdict is U


def test_one_seed_decides_on_its_own_difference():
    assert Better("m", "a", "b").decide(_rows([0.01])).verdict is R
