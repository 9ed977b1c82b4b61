"""Running one cell of a claim: an arm with a seed, measured into one row.

A recipe arm trains :func:`reglab.lab.core.run.run_cell` on the claim's setting (the data split is
drawn by the seed, as in a study) and keeps the cell's measurements plus three derived from
its history: ``epochs_to_target`` (the first epoch, counted from 1, whose validation accuracy
reaches the setting's target; one more than the epochs run when none does),
``stopped_early`` (1 when early stopping ended the run) and ``stop_lag_error`` (how far the
epochs since the best validation loss are from the patience when it stopped). An arithmetic
arm runs its check from :mod:`.arithmetic`.

Example:
    >>> from reglab.lab.claims.table import CLAIMS
    >>> row = run_claim_cell(CLAIMS["weight-decay-equals-l2-sgd"], "check", 0, quick=True)
    >>> row["max_abs_diff"] < 1e-12, row["claim"], row["arm"]
    (True, 'weight-decay-equals-l2-sgd', 'check')
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..core.recipe import Recipe
from ..core.run import run_cell
from ..core.splits import SplitCache, SplitPlan
from .arithmetic import CHECKS
from .table import CHECK_ARM, ClaimSetting, NoteClaim

__all__ = ["plan_of", "run_claim_cell"]


def plan_of(setting: ClaimSetting) -> SplitPlan:
    """What a claim's setting splits: its dataset at its training and validation sizes."""
    return SplitPlan(setting.data, train_size=setting.train_size, val_size=setting.val_size)


_CACHE = SplitCache()


def run_claim_cell(
    claim: NoteClaim, arm: str, seed: int, *, quick: bool, cache: SplitCache | None = None
) -> dict[str, Any]:
    """Run ``arm`` of ``claim`` with ``seed``; the row has ``claim``, ``arm``, ``seed`` and metrics."""
    start = time.perf_counter()
    if arm == CHECK_ARM:
        metrics: dict[str, Any] = dict(CHECKS[claim.arms[arm]](seed))
    else:
        metrics = _train(claim, arm, seed, quick, cache or _CACHE)
    return {
        "claim": claim.id,
        "arm": arm,
        "seed": seed,
        **metrics,
        "seconds": time.perf_counter() - start,
    }


def _train(claim: NoteClaim, arm: str, seed: int, quick: bool, cache: SplitCache) -> dict[str, Any]:
    setting = claim.setting
    epochs = setting.quick_epochs if quick else setting.epochs
    recipe = Recipe.from_spec(claim.arm_spec(arm)).replace(name=arm, epochs=epochs)
    result = run_cell(recipe, seed, cache.splits(plan_of(setting), seed), model=setting.model)
    row = result.to_dict()
    history = row.pop("history")
    row.pop("recipe", None)
    row.pop("seconds", None)
    row.update(_from_history(history, setting.target, recipe.early_stopping, row))
    return row


def _from_history(
    history: list[Mapping[str, Any]], target: float, patience: int | None, row: Mapping[str, Any]
) -> dict[str, float]:
    reached = [i + 1 for i, h in enumerate(history) if (h.get("val_acc") or 0.0) >= target]
    out = {"epochs_to_target": float(reached[0] if reached else len(history) + 1)}
    stopped = str(row.get("stop_reason")) not in ("completed", "None")
    out["stopped_early"] = float(stopped)
    if patience is not None and stopped:
        lag = int(row["epochs_run"]) - 1 - int(row["best_epoch"])
        out["stop_lag_error"] = float(abs(lag - patience))
    return out
