"""After the search of ``reglab tune``: confirm the best trials, then measure on test.

A search's best score is biased upward (the maximum of noisy scores), so :func:`confirm`
re-scores the search's ``confirm`` best trials on ``partitions`` further partitions of the pool
and keeps the best mean over all of a trial's partitions. :func:`test_scores` then trains the best
recipe (and the base recipe, for a paired comparison) with each evaluation seed and scores it on
test examples no trial saw. The comparison is decided by the sequential rule of
:mod:`reglab.lab.stats` (repeated confidence intervals, valid at every look): seeds come look
by look (5, 10, 15, 20) and stop as soon as the tuned recipe is better, worse, or within
``margin`` of the base. Both run their cells ``jobs`` at a time
(:func:`~reglab.lab.queue.workers.map_cells`) and save each cell in the search's database as it ends, so a
rerun trains only what is missing.

Example:
    >>> import reglab.data as rd
    >>> from reglab.lab.core.recipe import Recipe
    >>> sp = rd.split(rd.load_dataset("iris"), train_size=30, val_size=30, seed=0)
    >>> recipe = Recipe(epochs=1, width=8, depth=1)
    >>> [key for key, _ in run_cells([("a", (recipe, 0, sp, "mlp"))], jobs=1, threads=1)]
    ['a']
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..core.cells import result_parts
from ..core.recipe import Recipe
from ..core.run import run_cell
from ..queue.storage import json_safe
from ..queue.workers import ProgressCallback, emit, map_cells
from ..render import clip01
from ..stats import decide, decide_family, finite, mean_ci, next_look
from .search import NoTest, Objective
from .space import TuneConfig, apply_params

__all__ = ["comparison_of", "confirm", "gains", "run_cells", "test_scores"]

# (recipe, seed, splits, model[, device]): the device is "cpu" when left out
Task = tuple[Any, ...]


def _cell_row(item: tuple[Task, int]) -> dict[str, Any]:
    """Run one cell; its result row without the history."""
    (recipe, seed, splits, model, *rest), threads = item
    device = rest[0] if rest else "cpu"
    result = run_cell(recipe, seed, splits, model=model, threads=threads, device=device)
    return result_parts(result)[0]


def run_cells(
    tasks: Sequence[tuple[str, Task]], jobs: int, threads: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Run ``(key, (recipe, seed, splits, model[, device]))`` cells, ``jobs`` at a time (in this process
    when ``jobs`` is 1); yield ``(key, row)`` as each one ends."""
    items = [(task, threads) for _, task in tasks]
    for i, row in map_cells(_cell_row, items, jobs):
        yield tasks[i][0], row


def confirm(
    search: Any,
    config: TuneConfig,
    objective: Objective,
    jobs: int,
    threads: int,
    on_progress: ProgressCallback | None = None,
) -> tuple[Any, float, list[dict[str, Any]]]:
    """Choose the best trial: re-score the search's ``config.confirm`` best on more partitions.

    Each of the top trials is trained on ``config.partitions`` further partitions of the pool
    (the same ones for every trial), and the trial with the best mean over all of its
    partitions wins; ties go to the earlier trial. Each re-scored cell is saved in the search's database as
    it ends. ``on_progress`` hears a ``"confirm"`` event before the runs (``trials``,
    ``partitions``, ``runs``) and a ``"confirmed"`` one after (``rows``, ``chosen``, ``key``).

    Returns:
        The chosen trial, its mean score, and one row per re-scored trial (``number``,
        ``search`` score, ``confirm`` score on the new partitions, ``mean`` over all).
    """
    import optuna

    complete = [
        t
        for t in search.get_trials(deepcopy=False)
        if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
    ]
    top = sorted(complete, key=lambda t: (-t.value, t.number))[: config.confirm]
    if len(top) <= 1:
        return top[0], float(top[0].value), []
    extra = range(config.partitions, 2 * config.partitions)
    stored: dict[str, Any] = dict(search.user_attrs.get("confirmation") or {})
    tasks = _confirmation_tasks(top, extra, stored, objective)
    if tasks:
        emit(on_progress, "confirm", trials=len(top), partitions=len(extra), runs=len(tasks))
    for cell, row in run_cells(tasks, jobs, threads):
        stored[cell] = objective.score(row["val_acc"], row["val_loss"])
        search.set_user_attr("confirmation", stored)
    rows = [_confirmation_row(t, [stored[f"{t.number}/{k}"] for k in extra]) for t in top]
    ranked = [r for r in rows if r["mean"] is not None] or rows[:1]
    chosen = max(
        ranked, key=lambda r: (-math.inf if r["mean"] is None else r["mean"], -r["number"])
    )
    trial = next(t for t in top if t.number == chosen["number"])
    value = chosen["mean"] if chosen["mean"] is not None else float(trial.value)
    emit(on_progress, "confirmed", rows=rows, chosen=chosen["number"], key=objective.key)
    return trial, float(value), rows


def _confirmation_tasks(
    top: Sequence[Any], extra: range, stored: dict[str, Any], objective: Objective
) -> list[tuple[str, Task]]:
    """The cells of the top trials not yet stored; each partition is drawn once."""
    views: dict[int, NoTest] = {}
    tasks = []
    for t in top:
        recipe = apply_params(objective.base, t.params, objective.kind, f"trial-{t.number}")
        for k in extra:
            if f"{t.number}/{k}" not in stored:
                if k not in views:
                    views[k] = objective.partition(k)
                tasks.append(
                    (f"{t.number}/{k}", (recipe, 0, views[k], objective.model, objective.device))
                )
    return tasks


def _confirmation_row(trial: Any, more: list[float | None]) -> dict[str, Any]:
    scores = [*trial.user_attrs.get("partition_scores", [trial.value]), *more]
    finite = all(v is not None for v in scores)
    return {
        "number": trial.number,
        "search": float(trial.value),
        "confirm": sum(more) / len(more) if finite else None,  # type: ignore[arg-type]
        "mean": sum(scores) / len(scores) if finite else None,
        "scores": scores,
    }


def test_scores(
    search: Any,
    config: TuneConfig,
    objective: Objective,
    best: Recipe,
    compare: bool,
    jobs: int = 1,
    threads: int = 1,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Test scores of the best (and base) recipe, and the rule's verdict on the two.

    Both recipes see the same draws (a paired comparison), ``jobs`` cells at a time; each
    finished cell is saved in the search's database, so a rerun trains only what is missing. With
    ``config.seeds == "auto"`` both are trained on the first look's seeds, the comparison is
    decided (:func:`reglab.lab.stats.decide_family`), and the next look's seeds are added
    only while it is undecided; with a number of seeds, all of them are trained and the verdict
    is :func:`reglab.lab.stats.decide`'s at the largest look reached ("undecided" below the
    first look). Without ``compare`` the tuned recipe alone runs the first look's seeds (or the
    given number). When the best recipe trains the same thing as the base (the search kept the
    base's strengths), its runs stand for both (``comparison["same_recipe"]``). ``on_progress``
    hears an ``"evaluate"`` event before each batch of runs (``seeds``, ``runs``) and a
    ``"look"`` event after each decision (``comparison``, ``metric``).

    Returns:
        ``metric``, ``seeds`` (how many were used), ``rows`` (one per cell), ``tuned`` and
        ``base`` (``mean`` with a 95% Student-t interval ``low``/``high``, clipped to [0, 1] for
        accuracy, and the ``values``), and with ``compare`` the ``comparison``
        (:func:`comparison_of`).
    """
    recipes = [("tuned", best)]
    if compare:
        recipes.append(("base", objective.base.replace(name="base")))
    key = json.dumps({n: r.to_dict() for n, r in recipes}, sort_keys=True, default=str)
    cached = search.user_attrs.get("evaluation")
    done: dict[str, Any] = {}
    if isinstance(cached, dict) and cached.get("key") == key and isinstance(cached["rows"], dict):
        done = dict(cached["rows"])
    metric = "test_acc" if objective.key == "val_acc" else "test_loss"
    # When the search kept the base's strengths, the two recipes are one: its runs stand for both
    # (the same seed gives the same bits), and every difference is 0.
    same = compare and _same_recipe(best, recipes[-1][1])
    trained = recipes[:1] if same else recipes

    def train(seeds: int) -> None:
        for seed in range(seeds if same else 0):
            if f"tuned/{seed}" in done and f"base/{seed}" not in done:
                done[f"base/{seed}"] = {**done[f"tuned/{seed}"], "recipe": "base"}
        tasks = [
            (
                f"{name}/{seed}",
                (
                    recipe.replace(name=name),
                    seed,
                    objective.evaluation_splits(seed),
                    objective.model,
                    objective.device,
                ),
            )
            for seed in range(seeds)
            for name, recipe in trained
            if f"{name}/{seed}" not in done
        ]
        if tasks:
            emit(on_progress, "evaluate", seeds=seeds, runs=len(tasks))
        for cell, row in run_cells(tasks, jobs, threads):
            done[cell] = json_safe(row)
            if same:
                done[cell.replace("tuned/", "base/")] = {**done[cell], "recipe": "base"}
            search.set_user_attr("evaluation", {"key": key, "rows": done})

    looks = config.looks
    seeds = config.seeds if isinstance(config.seeds, int) else looks[0]
    comparison: dict[str, Any] | None = None
    train(seeds)
    if compare:
        comparison = comparison_of(done, metric, seeds, config)
        emit(on_progress, "look", comparison=comparison, metric=metric)
        while config.sequential and comparison["wanted"] > seeds:
            seeds = comparison["wanted"]
            train(seeds)
            comparison = comparison_of(done, metric, seeds, config)
            emit(on_progress, "look", comparison=comparison, metric=metric)
    rows = [done[f"{name}/{seed}"] for name, _ in recipes for seed in range(seeds)]
    out: dict[str, Any] = {"metric": metric, "seeds": seeds, "rows": rows}
    for name, _ in recipes:
        values = [r[metric] for r in rows if r["recipe"] == name]
        m, lo, hi = mean_ci(values)
        if metric == "test_acc":
            lo, hi = clip01(lo), clip01(hi)
        out[name] = {"mean": m, "low": lo, "high": hi, "values": values}
    if comparison is not None:
        out["comparison"] = {**comparison, "same_recipe": same}
    return out


def _same_recipe(a: Recipe, b: Recipe) -> bool:
    """True when two recipes train the same thing (their names and descriptions aside)."""
    skip = ("name", "description")
    return {k: v for k, v in a.to_dict().items() if k not in skip} == {
        k: v for k, v in b.to_dict().items() if k not in skip
    }


def gains(done: Mapping[str, Any], metric: str, seeds: int) -> list[float]:
    """The tuned recipe's per-seed gains over the base, seeds 0, 1, ... while both scored.

    Positive is better: test accuracy (tuned minus base), or the base's test loss minus the
    tuned recipe's. A seed missing or without a finite score ends the sequence, so a look
    counts only the first ``n`` seeds.
    """
    sign = 1.0 if metric == "test_acc" else -1.0
    out: list[float] = []
    for seed in range(seeds):
        pair = [(done.get(f"{name}/{seed}") or {}).get(metric) for name in ("tuned", "base")]
        values = finite(pair)
        if len(values) < 2:
            break
        out.append(sign * (values[0] - values[1]))
    return out


def comparison_of(
    done: Mapping[str, Any], metric: str, seeds: int, config: TuneConfig
) -> dict[str, Any]:
    """The rule's verdict on the tuned recipe against the base, from the cells of ``seeds`` seeds.

    The margin is ``config.margin`` points of accuracy, or percent of the base's mean test loss
    over the first look's seeds (all of them below it). ``wanted`` is how many seeds the
    sequential design needs now: the stopping look's, or the next look's while undecided.
    ``low``/``high`` bound the mean gain (:func:`gains`, in the metric's units) with the
    repeated confidence interval of the look (unbounded, None in JSON, before the first look).
    """
    looks = config.looks
    diffs = gains(done, metric, seeds)
    if metric == "test_acc":
        margin = config.margin / 100.0
    else:
        first = finite(
            [(done.get(f"base/{s}") or {}).get(metric) for s in range(min(seeds, looks[0]))]
        )
        margin = config.margin / 100.0 * abs(statistics.fmean(first)) if first else 0.0
    if config.sequential:
        d = decide_family({"tuned": diffs}, margin=margin, looks=looks, sequential=True)["tuned"]
    else:
        d = decide(diffs, margin=margin, looks=looks)
    if d.look == 0:
        wanted = looks[0]
    else:
        wanted = d.n if d.final else (next_look(d.n, looks) or d.n)
    return {
        "verdict": d.verdict,
        "seeds": d.n,
        "low": d.low,
        "high": d.high,
        "mean": d.mean,
        "look": d.look,
        "final": d.final,
        "wanted": wanted,
        "looks": list(looks),
        "margin": config.margin,
        "margin_units": margin,
        "sequential": config.sequential,
        "gain": (
            "tuned minus base test accuracy"
            if metric == "test_acc"
            else "base minus tuned test loss"
        ),
        "diffs": diffs,
    }
