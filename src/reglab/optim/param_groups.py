"""Decay / no-decay parameter groups for a plain torch optimizer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from .._checks import Interval, check
from ..penalty import _classify, _nothing_selected

__all__ = ["param_groups"]


def param_groups(
    model: nn.Module,
    weight_decay: float,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Split ``model``'s parameters into a decay group and a no-decay group.

    The decay group is :func:`reglab.regularized_parameters` (``include``/``exclude`` as there:
    glob patterns over parameter names or module types) with ``weight_decay``; every other
    parameter goes to a group with ``weight_decay=0.0``. An empty no-decay group is left out.
    Pass the result to any torch optimizer that has a ``weight_decay`` argument; with
    ``torch.optim.AdamW`` this is the usual "no decay on biases and norms" set-up.

    Example:
        >>> import torch
        >>> m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
        >>> groups = param_groups(m, 0.05)
        >>> [(len(g["params"]), g["weight_decay"]) for g in groups]
        [(1, 0.05), (3, 0.0)]
        >>> opt = torch.optim.AdamW(groups, lr=1e-3)
    """
    check("param_groups", "weight_decay", weight_decay, Interval(float, 0, None))
    rows = _classify("param_groups", model, include, exclude)
    decay = [p for info, p in rows if info.regularized]
    rest = [p for info, p in rows if not info.regularized]
    if not decay:
        raise _nothing_selected("param_groups", model)
    groups: list[dict[str, Any]] = [{"params": decay, "weight_decay": float(weight_decay)}]
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    return groups
