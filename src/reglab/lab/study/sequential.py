"""Seeds until each question is decided: the study's sequential design (``seeds="auto"``).

Every recipe is compared with the baseline on the same split and seed. The study runs the
first look's seeds for every recipe; then, whenever the queue runs dry, each comparison is
decided by :func:`reglab.lab.stats.decide_family` with ``sequential=True`` (repeated confidence intervals, valid
at every look, Bonferroni over the comparisons), and only the comparisons still undecided get
the next look's seeds (the baseline runs while any comparison is open). The decisions depend
only on the finished cells of seeds ``0..n-1``, so a resumed study reaches the same verdicts as
an uninterrupted one, and workers on other machines can take any cell of the queue.

The compared quantity is the per-seed gain on the test split, oriented so that positive is
better: accuracy (recipe minus baseline) for classification, the baseline's loss minus the
recipe's for regression. The margin of "no effect" is ``margin`` points of accuracy, or
``margin`` percent of the baseline's mean test loss over the first look's seeds.

Example:
    >>> rows = [{"recipe": r, "seed": s, "test_acc": a + 0.001 * s}
    ...         for r, a in (("baseline", 0.90), ("l2", 0.92)) for s in range(5)]
    >>> decisions(rows, ("baseline", "l2"), margin=1.0, looks=(5, 10))["l2"].verdict
    'better'
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.cells import Cell
from ..stats import Decision, decide_family, next_look, task_of

__all__ = ["BASELINE", "decisions", "gains", "margin_of", "seeds_wanted", "wanted_cells"]

BASELINE = "baseline"


def _scores(rows: Sequence[Mapping[str, Any]], key: str) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {}
    for r in rows:
        v = r.get(key)
        if r.get("status", "ok") == "ok" and isinstance(v, (int, float)) and math.isfinite(v):
            out.setdefault(str(r["recipe"]), {})[int(r["seed"])] = float(v)
    return out


def gains(rows: Sequence[Mapping[str, Any]], recipes: Sequence[str]) -> dict[str, list[float]]:
    """Per-seed gains over the baseline for each recipe, seeds 0, 1, ... while both have one.

    A gap (a seed that failed, diverged or has not run yet) ends the sequence: a look counts
    only the first ``n`` seeds, whatever finished later.
    """
    task = task_of(rows)
    key, sign = ("test_acc", 1.0) if task == "classification" else ("test_loss", -1.0)
    scores = _scores(rows, key)
    base = scores.get(BASELINE, {})
    out: dict[str, list[float]] = {}
    for name in recipes:
        if name == BASELINE:
            continue
        mine = scores.get(name, {})
        seq: list[float] = []
        while len(seq) in mine and len(seq) in base:
            s = len(seq)
            seq.append(sign * (mine[s] - base[s]))
        out[name] = seq
    return out


def margin_of(rows: Sequence[Mapping[str, Any]], margin: float, looks: Sequence[int]) -> float:
    """The margin in the metric's units: ``margin`` points of accuracy, or ``margin`` percent of
    the baseline's mean test loss over the first look's seeds (regression)."""
    if task_of(rows) == "classification":
        return margin / 100.0
    losses = _scores(rows, "test_loss").get(BASELINE, {})
    first = [losses[s] for s in range(looks[0]) if s in losses]
    return margin / 100.0 * abs(statistics.fmean(first)) if first else 0.0


def decisions(
    rows: Sequence[Mapping[str, Any]],
    recipes: Sequence[str],
    *,
    margin: float,
    looks: Sequence[int],
    alpha: float = 0.05,
) -> dict[str, Decision]:
    """Each recipe's decision against the baseline where the sequential design stops it."""
    if BASELINE not in recipes or len(recipes) < 2:
        return {}
    return decide_family(
        gains(rows, recipes),
        margin=margin_of(rows, margin, looks),
        looks=looks,
        alpha=alpha,
        sequential=True,
    )


def seeds_wanted(
    found: Mapping[str, Decision], recipes: Sequence[str], looks: Sequence[int]
) -> dict[str, int]:
    """How many seeds each recipe needs now: its stopping look's, or the next look's while its
    comparison is open; the baseline as many as the most any comparison needs."""
    want: dict[str, int] = {}
    for name in recipes:
        if name == BASELINE:
            continue
        d = found.get(name)
        if d is None or d.look == 0:
            want[name] = looks[0]
        elif d.final:
            want[name] = d.n
        else:
            want[name] = next_look(d.n, looks) or d.n
    want[BASELINE] = max(want.values(), default=looks[0])
    return {name: want.get(name, looks[0]) for name in recipes}


def wanted_cells(
    found: Mapping[str, Decision], recipes: Sequence[str], looks: Sequence[int]
) -> list[Cell]:
    """The cells the design wants run by now (finished ones included), given the
    :func:`decisions` so far (empty before any cell finished)."""
    want = seeds_wanted(found, recipes, looks)
    return [Cell(name, s) for name in recipes for s in range(want[name])]
