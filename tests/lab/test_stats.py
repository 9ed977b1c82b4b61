"""The sequential decision rule of reglab.lab.stats: its critical values, and its error rate by
simulation (seeded, vectorized), against the plain interval looked at after every seed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from reglab.errors import ConfigError
from reglab.lab import stats
from reglab.lab.stats import Decision, critical_values, decide, decide_family, next_look

ALPHA = 0.05
MARGIN = 0.01  # one accuracy point
LOOK_SETS = [(5, 10, 15, 20), (3, 6, 9, 12), (10, 20, 30)]
VERDICTS = ("undecided", "better", "worse", "equivalent")  # codes 0..3 below


def _intervals(
    x: np.ndarray, looks: tuple[int, ...], c: tuple[float, ...]
) -> tuple[np.ndarray, ...]:
    """Each replicate's (mean, low, high) at each look: arrays of shape (reps, len(looks))."""
    n = np.asarray(looks, dtype=np.float64)
    idx = np.asarray(looks) - 1
    total = np.cumsum(x, axis=1)[:, idx]
    squares = np.cumsum(x**2, axis=1)[:, idx]
    mean = total / n
    sd = np.sqrt(np.maximum(squares - n * mean**2, 0.0) / (n - 1))
    half = np.asarray(c) * sd / np.sqrt(n)
    return mean, mean - half, mean + half


def _codes(low: np.ndarray, high: np.ndarray, margin: float) -> np.ndarray:
    codes = np.zeros(low.shape, dtype=np.int64)
    codes[(-margin < low) & (high < margin)] = 3
    codes[high < 0] = 2
    codes[low > 0] = 1
    return codes


def _stopped(
    x: np.ndarray, looks: tuple[int, ...], c: tuple[float, ...], margin: float
) -> np.ndarray:
    """The verdict code the lab reports: the first decided look's, else the last look's."""
    _, low, high = _intervals(x, looks, c)
    codes = _codes(low, high, margin)
    decided = codes != 0
    first = np.where(decided.any(axis=1), decided.argmax(axis=1), len(looks) - 1)
    return codes[np.arange(len(codes)), first]


def _wrong(codes: np.ndarray, mu: float, margin: float) -> np.ndarray:
    return (
        ((codes == 1) & (mu <= 0))
        | ((codes == 2) & (mu >= 0))
        | ((codes == 3) & (abs(mu) >= margin))
    )


def _draw(rng: np.random.Generator, noise: str, shape: tuple[int, int], sd: float) -> np.ndarray:
    if noise == "normal":
        return rng.standard_normal(shape) * sd
    return rng.standard_t(3, shape) * sd / math.sqrt(3.0)  # t3 scaled to the same sd


def _bound(reps: int, alpha: float = ALPHA) -> float:
    return alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)


# --- critical values --------------------------------------------------------------------------


def test_default_table_matches_a_fresh_simulation() -> None:
    fresh = stats._simulate_critical_values((5, 10, 15, 20), ALPHA, reps=400_000, seed=11)
    assert critical_values() == stats._TABLE[((5, 10, 15, 20), ALPHA)]
    assert fresh == pytest.approx(critical_values(), abs=0.02)
    # The issue quotes 3.97, 2.94, 2.72, 2.63 (alpha' 0.0166 per look); those cover together
    # with probability about 0.951, slightly more than asked, so ours sit 0.01-0.025 lower.
    assert critical_values() == pytest.approx((3.97, 2.94, 2.72, 2.63), abs=0.03)


def test_default_values_cover_together_with_probability_1_minus_alpha() -> None:
    # Raw normal draws, not the simulation's sufficient statistics: checks the shortcut too.
    reps = 200_000
    x = np.random.default_rng(5).standard_normal((reps, 20)) * 3.0 + 7.0
    _, low, high = _intervals(x, (5, 10, 15, 20), critical_values())
    cover = ((low <= 7.0) & (high >= 7.0)).all(axis=1).mean()
    assert abs(cover - (1 - ALPHA)) < 3 * math.sqrt(ALPHA * (1 - ALPHA) / reps)


def test_critical_values_for_any_design_are_cached_and_ordered() -> None:
    c = critical_values((10, 20, 30))
    assert critical_values([10, 20, 30], 0.05) is c  # cached: the same tuple
    assert c[0] > c[1] > c[2] > sps.t.ppf(0.975, 29)
    one = stats._simulate_critical_values((8,), ALPHA, reps=100_000)
    assert one[0] == pytest.approx(sps.t.ppf(0.975, 7), abs=0.01)  # one look: the plain t


# --- the rule's error rate by simulation ------------------------------------------------------


@pytest.mark.parametrize("looks", LOOK_SETS, ids=lambda looks: "-".join(map(str, looks)))
def test_wrong_verdicts_at_most_alpha_at_every_true_difference(looks: tuple[int, ...]) -> None:
    reps = 4000
    c = critical_values(looks)
    rng = np.random.default_rng(sum(looks))
    seen: set[int] = set()
    rates = {}
    for noise in ("normal", "t3"):
        for scale in (0.5, 1.0, 2.0):
            noise_draws = _draw(rng, noise, (reps, looks[-1]), scale * MARGIN)
            for k in (0.0, 0.5, -0.5, 1.0, -1.0, 2.0):
                mu = k * MARGIN
                codes = _stopped(mu + noise_draws, looks, c, MARGIN)
                seen.update(np.unique(codes).tolist())
                rates[noise, scale, k] = _wrong(codes, mu, MARGIN).mean()
    worst = max(rates, key=rates.__getitem__)
    assert rates[worst] <= _bound(reps), (worst, rates[worst])
    assert seen == {0, 1, 2, 3}  # each verdict reachable


def test_plain_interval_checked_after_every_seed_is_wrong_far_more_often() -> None:
    # True difference 0; the plain 95% t-interval looked at after every seed from 3 to 20 and
    # stopped at the first that excludes 0, against the sequential rule on the same draws.
    reps = 20_000
    x = np.random.default_rng(3).standard_normal((reps, 20)) * MARGIN
    every = tuple(range(3, 21))
    plain = tuple(float(sps.t.ppf(0.975, n - 1)) for n in every)
    plain_rate = _wrong(_stopped(x, every, plain, 0.0), 0.0, 0.0).mean()
    rule_rate = _wrong(_stopped(x, stats.DEFAULT_LOOKS, critical_values(), 0.0), 0.0, 0.0).mean()
    assert plain_rate > 0.15
    assert rule_rate <= _bound(reps)


def test_family_wise_error_with_a_shared_baseline() -> None:
    # Two recipes, both truly equal to the baseline; any wrong verdict in the family counts.
    # Family alpha 0.1 over m = 2 is 0.05 per comparison: the tabulated critical values.
    reps, m, family_alpha, looks = 4000, 2, 0.1, stats.DEFAULT_LOOKS
    c = critical_values(looks, family_alpha / m)
    rng = np.random.default_rng(17)
    baseline = rng.standard_normal((reps, 20)) * MARGIN
    wrong = np.zeros(reps, dtype=bool)
    for _ in range(m):
        x = rng.standard_normal((reps, 20)) * MARGIN - baseline
        wrong |= _wrong(_stopped(x, looks, c, MARGIN / 2), 0.0, MARGIN / 2)
    assert wrong.mean() <= _bound(reps, family_alpha)


@pytest.mark.parametrize("looks", LOOK_SETS, ids=lambda looks: "-".join(map(str, looks)))
def test_decide_agrees_with_the_vectorized_rule(looks: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(looks))
    reps = 60
    mu = rng.choice([-2.0, -1.0, 0.0, 0.5, 2.0], size=(reps, 1)) * MARGIN
    x = (
        mu
        + rng.standard_normal((reps, looks[-1])) * rng.choice([0.3, 1.0, 2.0], (reps, 1)) * MARGIN
    )
    mean, low, high = _intervals(x, looks, critical_values(looks))
    codes = _codes(low, high, MARGIN)
    for i in range(reps):
        for k, n in enumerate(looks):
            d = decide(x[i, : n + k % 2].tolist(), margin=MARGIN, looks=looks)  # extra diffs wait
            assert (d.look, d.n, d.verdict) == (k + 1, n, VERDICTS[codes[i, k]])
            assert (d.mean, d.low, d.high) == pytest.approx((mean[i, k], low[i, k], high[i, k]))


# --- the decision object ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("diffs", "verdict"),
    [
        ([0.012, 0.009, 0.015, 0.011, 0.013], "better"),
        ([-0.012, -0.009, -0.015, -0.011, -0.013], "worse"),
        ([0.001, -0.002, 0.0, 0.002, -0.001], "equivalent"),
        ([0.03, -0.02, 0.01, -0.01, 0.02], "undecided"),
    ],
)
def test_each_verdict(diffs: list[float], verdict: str) -> None:
    d = decide(diffs, margin=MARGIN)
    assert d.verdict == verdict
    assert d.final is (verdict != "undecided")
    assert (d.n, d.look) == (5, 1)


def test_before_the_first_look_nothing_is_decided() -> None:
    empty = decide([], margin=MARGIN)
    assert (empty.verdict, empty.n, empty.look, empty.final) == ("undecided", 0, 0, False)
    assert math.isnan(empty.mean) and isinstance(empty, Decision)
    d = decide([0.05, 0.06, 0.07, 0.08], margin=MARGIN)
    assert (d.verdict, d.look, d.n, d.final) == ("undecided", 0, 4, False)
    assert (d.low, d.high) == (-math.inf, math.inf) and d.mean == pytest.approx(0.065)


def test_the_last_look_is_final_even_when_undecided() -> None:
    diffs = [0.03, -0.02, 0.01, -0.01, 0.02] * 4
    assert decide(diffs, margin=MARGIN).final
    assert not decide(diffs[:15], margin=MARGIN).final


def test_margin_zero_never_declares_equivalence() -> None:
    assert decide([0.0, 0.001, -0.001, 0.0, 0.0005], margin=0).verdict == "undecided"
    assert decide([0.0] * 5, margin=0.0).verdict == "undecided"


def test_numpy_input() -> None:
    diffs = np.array([0.012, 0.009, 0.015, 0.011, 0.013])
    d = decide(diffs, margin=MARGIN, looks=np.array([5, 10, 15, 20]))
    assert (d.verdict, d.look) == ("better", 1)


def test_family_is_bonferroni() -> None:
    diffs = {"a": [0.012, 0.009, 0.015, 0.011, 0.013], "b": [0.001, -0.002, 0.0, 0.002, -0.001]}
    out = decide_family(diffs, margin=MARGIN, alpha=0.1)
    for name, d in out.items():
        assert d == decide(diffs[name], margin=MARGIN, alpha=0.05)
    assert decide_family({"a": diffs["a"]}, margin=MARGIN)["a"] == decide(diffs["a"], margin=MARGIN)
    assert decide_family({}, margin=MARGIN) == {}


def test_next_look() -> None:
    assert [next_look(n) for n in (0, 4, 5, 19, 20, 25)] == [5, 5, 10, 20, None, None]
    assert next_look(3, looks=(3, 6)) == 6


# --- bad input: one error path, one wording ---------------------------------------------------

GOOD = [0.01, 0.02, 0.0, 0.01, 0.02]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"diffs": [0.01, math.nan]},
            "The 'diffs' parameter of decide must be a sequence of finite numbers. "
            "Got [0.01, nan] instead.",
        ),
        (
            {"diffs": [0.01, "0.02"]},
            "The 'diffs' parameter of decide must be a sequence of finite numbers. "
            "Got [0.01, '0.02'] instead.",
        ),
        (
            {"diffs": 0.01},
            "The 'diffs' parameter of decide must be a sequence of finite numbers. "
            "Got 0.01 instead.",
        ),
        (
            {"margin": -0.01},
            "The 'margin' parameter of decide must be a float in [0, inf). Got -0.01 instead.",
        ),
        (
            {"margin": math.inf},
            "The 'margin' parameter of decide must be a float in [0, inf). Got inf instead.",
        ),
        (
            {"alpha": 1.0},
            "The 'alpha' parameter of decide must be a float in (0, 1). Got 1.0 instead.",
        ),
        (
            {"alpha": 0},
            "The 'alpha' parameter of decide must be a float in (0, 1). Got 0 instead.",
        ),
        (
            {"looks": (5, 5, 10)},
            "The 'looks' parameter of decide must be a non-empty, strictly increasing sequence "
            "of ints >= 2. Got (5, 5, 10) instead.",
        ),
        (
            {"looks": (1, 5)},
            "The 'looks' parameter of decide must be a non-empty, strictly increasing sequence "
            "of ints >= 2. Got (1, 5) instead.",
        ),
        (
            {"looks": (5.0, 10.0)},
            "The 'looks' parameter of decide must be a non-empty, strictly increasing sequence "
            "of ints >= 2. Got (5.0, 10.0) instead.",
        ),
        (
            {"looks": ()},
            "The 'looks' parameter of decide must be a non-empty, strictly increasing sequence "
            "of ints >= 2. Got () instead.",
        ),
    ],
)
def test_bad_input(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"diffs": GOOD, "margin": MARGIN, **kwargs}
    diffs = args.pop("diffs")
    with pytest.raises(ConfigError) as err:
        decide(diffs, **args)  # type: ignore[arg-type]
    assert str(err.value) == message


def test_bad_family_input() -> None:
    with pytest.raises(ConfigError) as err:
        decide_family({"l2": GOOD, "dropout": [0.01, None]}, margin=MARGIN)  # type: ignore[list-item]
    assert str(err.value) == (
        "The \"diffs_by_name['dropout']\" parameter of decide_family must be a sequence of "
        "finite numbers. Got [0.01, None] instead."
    )
    with pytest.raises(ConfigError) as err:
        decide_family([GOOD], margin=MARGIN)  # type: ignore[arg-type]
    assert str(err.value) == (
        "The 'diffs_by_name' parameter of decide_family must be a mapping of names to sequences "
        "of differences. Got [[0.01, 0.02, 0.0, 0.01, 0.02]] instead."
    )


def test_bad_next_look_and_critical_values_input() -> None:
    with pytest.raises(ConfigError, match=r"The 'n' parameter of next_look must be an int in \[0"):
        next_look(-1)
    with pytest.raises(ConfigError, match="The 'looks' parameter of critical_values must be"):
        critical_values((10, 5))
