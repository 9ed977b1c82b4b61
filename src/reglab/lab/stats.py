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

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["finite", "mean_ci", "metric_keys", "paired_vs_baseline", "task_of"]

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
