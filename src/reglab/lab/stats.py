"""Statistics for every front end: intervals, paired comparisons and decision rules.

Pure functions on numbers (and on result rows, which are mappings of numbers): no torch, no
storage, no rendering. The study's report, tune's confirmation stage and the claims' rules all
take their intervals from here, so one rule decides everywhere.

Confidence intervals are Student-t intervals over seeds: ``mean ± t(0.975, n-1) * sd / sqrt(n)``.
The comparison with the baseline is paired by seed (same split and initial draw per seed).

Example:
    >>> m, lo, hi = mean_ci([0.9, 0.92, 0.94])
    >>> round(m, 3), round(hi - m, 4)
    (0.92, 0.0497)
"""

from __future__ import annotations

import functools
import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .._checks import (
    Constraint,
    Constraints,
    InstanceOf,
    Interval,
    _is_int,
    _is_real,
    validate_params,
)

__all__ = [
    "DEFAULT_LOOKS",
    "Decision",
    "Verdict",
    "critical_values",
    "decide",
    "decide_family",
    "finite",
    "mean_ci",
    "metric_keys",
    "next_look",
    "paired_vs_baseline",
    "task_of",
]

# Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom (then 1.96).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def _t975(df: int) -> float:
    return _T975[df - 1] if 1 <= df <= len(_T975) else 1.96


def finite(values: Sequence[Any]) -> list[float]:
    """The finite real numbers among ``values`` (None, NaN, inf and booleans dropped), as floats."""
    out = []
    for v in values:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.append(float(v))
    return out


def mean_ci(values: Sequence[Any]) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval ``(mean, low, high)``; NaN when there are no values.

    Example:
        >>> m, lo, hi = mean_ci([0.9, 0.92, 0.94])
        >>> round(m, 3), round(hi - m, 4)
        (0.92, 0.0497)
    """
    xs = finite(values)
    if not xs:
        return (math.nan, math.nan, math.nan)
    m = statistics.fmean(xs)
    if len(xs) == 1:
        return (m, m, m)
    half = _t975(len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs))
    return (m, m - half, m + half)


def task_of(rows: Sequence[Mapping[str, Any]]) -> str:
    """ "classification" when any row has a test accuracy, else "regression"."""
    return "classification" if any(r.get("test_acc") is not None for r in rows) else "regression"


def metric_keys(task: str) -> tuple[str, str, bool]:
    """(test metric, validation metric, higher is better) for a task."""
    if task == "classification":
        return "test_acc", "val_acc", True
    return "test_loss", "val_loss", False


def paired_vs_baseline(
    rows: Sequence[Mapping[str, Any]], recipe: str, baseline: str = "baseline"
) -> dict[str, Any] | None:
    """Per-seed differences of the test metric (recipe minus baseline) with a 95% interval."""
    test_key, _, _ = metric_keys(task_of(rows))
    by_seed: dict[str, dict[int, float]] = {}
    for r in rows:
        v = r.get(test_key)
        if r.get("recipe") in (recipe, baseline) and isinstance(v, (int, float)):
            by_seed.setdefault(r["recipe"], {})[int(r["seed"])] = float(v)
    if recipe == baseline or recipe not in by_seed or baseline not in by_seed:
        return None
    seeds = sorted(set(by_seed[recipe]) & set(by_seed[baseline]))
    if not seeds:
        return None
    diffs = [by_seed[recipe][s] - by_seed[baseline][s] for s in seeds]
    m, lo, hi = mean_ci(diffs)
    wins = sum(d > 0 for d in diffs)
    return {"seeds": seeds, "diffs": diffs, "mean": m, "low": lo, "high": hi, "wins": wins}


# --- Sequential decisions: repeated confidence intervals over looks ---------------------------
#
# A comparison of a recipe with the baseline gathers per-seed paired differences and looks at
# them after n_1 < n_2 < ... < n_K seeds. At look k the interval is mean ± c_k * sd / sqrt(n_k)
# with c_k the Student-t quantile t_{n_k - 1}(1 - alpha' / 2): the same nominal level alpha' at
# every look (Pocock's choice), with alpha' set so that all K intervals cover the true mean
# together with probability 1 - alpha. The joint coverage is pivotal (free of the mean and the
# variance of normal differences), so one seeded simulation of standard normal data fixes it.

Verdict = Literal["better", "worse", "equivalent", "undecided"]
Numbers = Sequence[float] | npt.NDArray[Any]  # a plain sequence or a 1-D numpy array
Ints = Sequence[int] | npt.NDArray[Any]

DEFAULT_LOOKS: tuple[int, ...] = (5, 10, 15, 20)

# Simulation size and seed behind critical_values for designs outside the table: across seeds
# the first look's value for looks 5/10/15/20 (the least stable, a t with 4 degrees of freedom)
# has a standard deviation of about 0.006, the later looks' about 0.003.
_REPS = 1_000_000
_SEED = 20_250_520
_CHUNK = 250_000

# (looks, alpha) -> critical values: the mean of _simulate_critical_values(looks, alpha,
# reps=20_000_000, seed=s) for s = 1..4 (standard error 0.0006 on the first value, less on the
# others); alpha' = 0.01690 per look. tests/lab/test_stats.py checks them against a fresh run.
_TABLE: dict[tuple[tuple[int, ...], float], tuple[float, ...]] = {
    ((5, 10, 15, 20), 0.05): (3.944, 2.925, 2.711, 2.619),
}


class _IncreasingLooks(Constraint):
    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
            return False
        items = list(value)
        if not items or not all(_is_int(v) and v >= 2 for v in items):
            return False
        return all(a < b for a, b in itertools.pairwise(items))

    def __str__(self) -> str:
        return "a non-empty, strictly increasing sequence of ints >= 2"


class _FiniteNumbers(Constraint):
    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
            return False
        if isinstance(value, np.ndarray) and value.ndim != 1:
            return False
        return all(_is_real(v) and math.isfinite(v) for v in value)

    def __str__(self) -> str:
        return "a sequence of finite numbers"


#: The constraints shared by the public functions of this module, checked by validate_params.
_DESIGN_CONSTRAINTS: Constraints = {
    "looks": [_IncreasingLooks()],
    "alpha": [Interval(float, 0, 1, closed="neither")],
}
_MARGIN_CONSTRAINTS: Constraints = {"margin": [Interval(float, 0, None)]}
_DECIDE_CONSTRAINTS: Constraints = {**_MARGIN_CONSTRAINTS, "diffs": [_FiniteNumbers()]}
_DECIDE_FAMILY_CONSTRAINTS: Constraints = {
    **_MARGIN_CONSTRAINTS,
    "diffs_by_name": [
        InstanceOf(Mapping, description="a mapping of names to sequences of differences")
    ],
}
_NEXT_LOOK_CONSTRAINTS: Constraints = {
    "n": [Interval(int, 0, None)],
    "looks": [_IncreasingLooks()],
}
_DIFFS = [_FiniteNumbers()]


def _check_diffs(owner: str, name: str, diffs: Any) -> None:
    key = f"diffs_by_name[{name!r}]"
    validate_params(owner, {key: diffs}, {key: _DIFFS})


def _check_design(owner: str, looks: Any, alpha: Any) -> tuple[tuple[int, ...], float]:
    validate_params(owner, locals(), _DESIGN_CONSTRAINTS)
    return tuple(int(n) for n in looks), float(alpha)


def _simulate_critical_values(
    looks: tuple[int, ...], alpha: float, reps: int = _REPS, seed: int = _SEED
) -> tuple[float, ...]:
    """Pocock critical values for t-intervals at ``looks`` by a seeded simulation.

    Each replicate draws the looks' sufficient statistics of standard normal data directly: per
    block of m new observations, their sum ~ N(0, m) and their sum of squares about the block
    mean ~ chi^2(m - 1), all independent. alpha' is the alpha-quantile of the smallest two-sided
    t p-value over the looks: then P(some look's |t| > c_k) = P(min p <= alpha') = alpha.
    """
    from scipy import special  # a lab dependency (pyproject: lab extra)

    n = np.asarray(looks, dtype=np.float64)
    df = n - 1
    block = np.diff(np.concatenate([[0.0], n]))
    # alpha' <= alpha (alpha = P(min p <= alpha') >= P(first look's p <= alpha') = alpha'), so
    # only t values beyond the 2 * alpha quantile need an exact p-value (stdtr is the slow part);
    # the rest count as 1 and cannot move the alpha-quantile.
    screen = special.stdtrit(df, 1 - min(2 * alpha, 1.0) / 2)
    rng = np.random.default_rng(seed)
    smallest = []
    for start in range(0, reps, _CHUNK):
        r = min(_CHUNK, reps - start)
        sums = rng.standard_normal((r, len(n))) * np.sqrt(block)
        within = np.zeros((r, len(n)))
        for j, m in enumerate(block):
            if m > 1:
                within[:, j] = rng.chisquare(m - 1, r)
        total = np.cumsum(sums, axis=1)
        squares = np.cumsum(within + sums**2 / block, axis=1) - total**2 / n
        t = np.abs(total) / np.sqrt(n * squares / df)
        p = np.ones_like(t)
        far = t > screen
        p[far] = 2 * special.stdtr(np.broadcast_to(df, t.shape)[far], -t[far])
        smallest.append(p.min(axis=1))
    level = float(np.quantile(np.concatenate(smallest), alpha))
    return tuple(float(c) for c in special.stdtrit(df, 1 - level / 2))


@functools.lru_cache(maxsize=64)
def _critical_values(looks: tuple[int, ...], alpha: float) -> tuple[float, ...]:
    return _TABLE.get((looks, alpha)) or _simulate_critical_values(looks, alpha)


def critical_values(looks: Ints = DEFAULT_LOOKS, alpha: float = 0.05) -> tuple[float, ...]:
    """Pocock-type critical values ``c_k``: all looks' t-intervals cover together w.p. ``1 - alpha``.

    ``c_k = t_{n_k - 1}^{-1}(1 - alpha' / 2)`` with one nominal level ``alpha'`` for every look,
    chosen so that for normal differences of any mean and variance

        P(|mean_k - mu| <= c_k * sd_k / sqrt(n_k) at every look k) = 1 - alpha.

    The default design (looks 5, 10, 15, 20; alpha 0.05) is tabulated (alpha' = 0.0169 per
    look); other designs are computed once per process by a seeded simulation of 10^6 replicates
    (about a second) and cached, so the same design always gets the same values.

    Example:
        >>> critical_values()
        (3.944, 2.925, 2.711, 2.619)
    """
    return _critical_values(*_check_design("critical_values", looks, alpha))


@dataclass(frozen=True)
class Decision:
    """The verdict of a paired comparison at one look, with the interval it follows from.

    ``low``/``high`` bound the mean difference (recipe minus baseline, in the metric's units);
    ``n`` is how many differences the interval uses and ``look`` which look it is (1-based; 0
    before the first look, where the interval is unbounded). ``final`` is True when the
    comparison stops here: it is decided, or this is the last look.
    """

    verdict: Verdict
    low: float
    high: float
    n: int
    look: int
    mean: float
    final: bool


def _verdict(low: float, high: float, margin: float) -> Verdict:
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    if -margin < low and high < margin:
        return "equivalent"
    return "undecided"


def _decide(values: list[float], margin: float, looks: tuple[int, ...], alpha: float) -> Decision:
    reached = sum(n <= len(values) for n in looks)
    if reached == 0:
        mean = statistics.fmean(values) if values else math.nan
        return Decision("undecided", -math.inf, math.inf, len(values), 0, mean, False)
    n = looks[reached - 1]
    xs = values[:n]
    mean = math.fsum(xs) / n
    half = _critical_values(looks, alpha)[reached - 1] * statistics.stdev(xs, mean) / math.sqrt(n)
    low, high = mean - half, mean + half
    verdict = _verdict(low, high, margin)
    return Decision(verdict, low, high, n, reached, mean, verdict != "undecided" or n == looks[-1])


def decide(
    diffs: Numbers,
    *,
    margin: float,
    looks: Ints = DEFAULT_LOOKS,
    alpha: float = 0.05,
) -> Decision:
    """Decide a paired comparison at the largest look that ``len(diffs)`` has reached.

    ``diffs`` are the per-seed differences seen so far, recipe minus baseline on the same split
    and seed, in the metric's own units (accuracy as a fraction: one point is 0.01), in seed
    order. At look k (``n_k = looks[k - 1]`` differences, the first ``n_k`` of ``diffs``) the
    repeated confidence interval is

        mean ± c_k * sd / sqrt(n_k)

    with the :func:`critical_values` ``c_k``. The verdict is "better" when low > 0, "worse" when
    high < 0, "equivalent" when -margin < low and high < margin, else "undecided" (also before
    the first look). A "better" interval may still lie inside ±margin: a real gain, smaller than
    the margin. ``margin=0`` never declares equivalence.

    Every verdict follows from an interval, and the intervals of all looks cover the true mean
    together with probability 1 - alpha, so the chance of any wrong verdict is at most alpha
    however early the comparison stops. The lab stops a comparison at the first look whose
    verdict is not "undecided" (``Decision.final``; the later seeds are never drawn) or at the
    last look. For several recipes against one baseline use :func:`decide_family`.

    "equivalent" does not mean "no effect" or "the same": it means that no effect as large as
    the margin is compatible with the data, in this setting (data, model, split, seeds); a
    difference smaller than the margin may remain, and other settings may differ. "undecided"
    at the last look is not evidence of equivalence either: the seeds could not tell.

    Critical values for the default looks and alpha 0.05 (nominal 0.0169 per look):

        ====  =====  =====  =====  =====
        n_k       5     10     15     20
        c_k   3.944  2.925  2.711  2.619
        ====  =====  =====  =====  =====

    A fixed-n 95% t-interval uses 2.776, 2.262, 2.145, 2.093. With no true difference, checking
    it after every seed from 3 to 20 and stopping when it excludes 0 declares a difference 23%
    of the time (normal differences, 200,000 simulated runs); this rule, 5%. Identical
    differences give a zero-width interval.

    Example:
        >>> d = decide([0.012, 0.009, 0.015, 0.011, 0.013], margin=0.01)
        >>> d.verdict, d.look, d.n, round(d.low, 4), round(d.high, 4)
        ('better', 1, 5, 0.0081, 0.0159)
        >>> decide([0.001, -0.002, 0.0, 0.002, -0.001], margin=0.01).verdict
        'equivalent'
        >>> decide([0.01, -0.02, 0.03], margin=0.01)
        Decision(verdict='undecided', low=-inf, high=inf, n=3, look=0, mean=0.00666..., final=False)
    """
    looks_t, alpha_f = _check_design("decide", looks, alpha)
    validate_params("decide", locals(), _DECIDE_CONSTRAINTS)
    return _decide([float(v) for v in diffs], float(margin), looks_t, alpha_f)


def decide_family(
    diffs_by_name: Mapping[str, Numbers],
    *,
    margin: float,
    looks: Ints = DEFAULT_LOOKS,
    alpha: float = 0.05,
    sequential: bool = False,
) -> dict[str, Decision]:
    """:func:`decide` for several recipes against one baseline, family-wise error <= alpha.

    Bonferroni: each of the m comparisons is decided at level alpha / m, so all m comparisons'
    intervals at all looks cover together with probability at least 1 - alpha, and the chance
    of any wrong verdict in the family is at most alpha. Holm is not used: it is a step-down
    rule on the p-values of single null hypotheses, re-ordered whenever they change, so it gives
    no simultaneous intervals; here every comparison needs an interval at every look (for three
    verdicts, "equivalent" included) whichever comparisons stop first.

    Example:
        >>> out = decide_family({"l2": [0.012, 0.009, 0.015, 0.011, 0.013],
        ...                      "dropout": [0.001, -0.002, 0.0, 0.002, -0.001]}, margin=0.01)
        >>> {name: d.verdict for name, d in out.items()}
        {'l2': 'better', 'dropout': 'equivalent'}

    With ``sequential``, each comparison's decision is the one where a run that adds seeds
    look by look stops it: at the first look whose verdict is not "undecided", or at the last
    look (the seeds after that look are never drawn). Given the differences a run has (in seed
    order; a resumed run, or one that drew more seeds for the baseline, may have more than a
    comparison needs), that is the decision at the look where the comparison stops, or at the
    largest look reached while it is still open (``final`` False: it needs the seeds of
    :func:`next_look`).

        >>> out = decide_family(
        ...     {"l2": [0.012, 0.009, 0.015, 0.011, 0.013, 0.2, -0.3, 0.1, 0.0, 0.0],
        ...      "noise": [0.03, -0.02, 0.01, 0.0, -0.01]}, margin=0.01, sequential=True)
        >>> [(n, d.verdict, d.look, d.final) for n, d in out.items()]
        [('l2', 'better', 1, True), ('noise', 'undecided', 1, False)]
    """
    looks_t, alpha_f = _check_design("decide_family", looks, alpha)
    validate_params("decide_family", locals(), _DECIDE_FAMILY_CONSTRAINTS)
    for name, diffs in diffs_by_name.items():
        _check_diffs("decide_family", name, diffs)
    level = alpha_f / max(len(diffs_by_name), 1)
    decide_one = _stopped if sequential else _decide
    return {
        name: decide_one([float(v) for v in diffs], float(margin), looks_t, level)
        for name, diffs in diffs_by_name.items()
    }


def _stopped(values: list[float], margin: float, looks: tuple[int, ...], alpha: float) -> Decision:
    """The decision at the first look that decides ``values``, or at the largest look reached."""
    decision = _decide(values[: looks[0] - 1], margin, looks, alpha)  # before the first look
    for n in looks:
        if n > len(values):
            break
        decision = _decide(values[:n], margin, looks, alpha)
        if decision.final:
            break
    return decision


def next_look(n: int, looks: Ints = DEFAULT_LOOKS) -> int | None:
    """How many differences the next look needs after ``n``, or None past the last look.

    Example:
        >>> next_look(0), next_look(5), next_look(12), next_look(20)
        (5, 10, 15, None)
    """
    validate_params("next_look", locals(), _NEXT_LOOK_CONSTRAINTS)
    return next((int(k) for k in looks if k > n), None)
