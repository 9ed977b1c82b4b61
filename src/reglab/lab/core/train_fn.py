"""A study cell run by the user's own training function (``reglab study --train-fn mod:run``).

The function is named by a spec ``"package.module:function"``, stored in the study's settings
so that every worker imports the same one; it is called as ``run(recipe, splits, seed, device)``
and returns the measured row (see :func:`reglab.lab.study.execute_cell`).

Example:
    >>> load_train_fn("reglab.lab.core.run:run_cell").__name__
    'run_cell'
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..._checks import Constraint, Constraints, validate_params
from ...errors import ConfigError
from .cells import DIVERGED, Cell, result_parts

__all__ = ["TrainFnSpec", "as_train_fn_spec", "load_train_fn", "run_train_fn"]


class TrainFnSpec(Constraint):
    """A spec ``"package.module:function"``."""

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and value.count(":") == 1 and all(value.split(":"))

    def __str__(self) -> str:
        return "a spec 'package.module:function'"


def as_train_fn_spec(cell: Any) -> Any:
    """A module-level function as its spec ``"module:qualname"``; anything else unchanged.

    Example:
        >>> from reglab.lab.core.run import run_cell
        >>> as_train_fn_spec(run_cell)
        'reglab.lab.core.run:run_cell'
    """
    if callable(cell) and not isinstance(cell, str):
        module, name = getattr(cell, "__module__", None), getattr(cell, "__qualname__", "")
        if module and name and "<" not in name:
            return f"{module}:{name}"
    return cell


#: The constraint of the training function's spec (run_study's ``cell`` argument).
_CELL_CONSTRAINTS: Constraints = {"cell": [TrainFnSpec()]}


def load_train_fn(spec: str) -> Callable[..., Any]:
    """The training function named by ``"package.module:function"`` (a one-line error else)."""
    validate_params("run_study", {"cell": spec}, _CELL_CONSTRAINTS)
    module_name, attr = spec.split(":")
    try:
        found: Any = importlib.import_module(module_name)
    except Exception as exc:  # any import failure of user code is a configuration problem
        raise ConfigError(
            f"Cannot import module {module_name!r} of the training function {spec!r}: "
            f"{type(exc).__name__}: {exc}. Is the package on PYTHONPATH?"
        ) from exc
    for part in attr.split("."):
        if not hasattr(found, part):
            raise ConfigError(f"Module {module_name!r} has no attribute {attr!r} (cell {spec!r}).")
        found = getattr(found, part)
    if not callable(found):
        raise ConfigError(
            f"The training function {spec!r} must be callable as run(recipe, splits, seed, device)."
        )
    return found


def run_train_fn(
    config: Any, cell: Cell, splits: Any, device: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ``config.train_fn`` for one cell (see :func:`reglab.lab.study.execute_cell`): the row
    and history, with ``recipe``, ``seed``, ``task``, ``epochs_run``, ``gap`` and ``status``
    filled in where the function left them out."""
    import torch

    assert config.train_fn is not None
    run = load_train_fn(config.train_fn)
    recipe = config.recipe(cell.recipe)
    if config.epochs is not None:
        recipe = recipe.replace(epochs=config.epochs)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cell.seed)
        result = run(recipe, splits, cell.seed, device)
    if not isinstance(result, Mapping) and not callable(getattr(result, "to_dict", None)):
        raise ConfigError(
            f"The training function {config.train_fn!r} must return a dict or an object with to_dict() "
            f"(the measured row). Got {type(result).__name__} instead."
        )
    if isinstance(result, Mapping):
        row = dict(result)
        found = row.pop("history", None)
        found = found.rows if hasattr(found, "rows") else found
        history = [dict(r) for r in (found or [])]
    else:
        row, history = result_parts(result)
    row = {k: v.item() if getattr(v, "ndim", None) == 0 else v for k, v in row.items()}
    if "epochs" in row:
        row.setdefault("epochs_run", row.pop("epochs"))
    row.setdefault("epochs_run", len(history))
    row.setdefault("seconds", time.perf_counter() - start)
    row.update(recipe=cell.recipe, seed=cell.seed)
    row.setdefault("task", getattr(splits, "task", "classification"))
    if "gap" not in row:
        if row.get("train_acc") is not None and row.get("val_acc") is not None:
            row["gap"] = row["train_acc"] - row["val_acc"]
        elif row.get("train_loss") is not None and row.get("val_loss") is not None:
            row["gap"] = row["val_loss"] - row["train_loss"]
    row.setdefault("stop_reason", "completed")
    row.setdefault("status", "diverged" if str(row["stop_reason"]) in DIVERGED else "ok")
    return row, history
