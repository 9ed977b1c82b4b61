"""Proximal L1: soft-thresholding after the optimizer step, for exact zeros."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import torch
from torch import nn

from .._checks import Constraints, Interval, validate_params
from .._select import param_list
from ..functional.penalty import soft_threshold_
from ..regularizer import ProximalStep

__all__ = ["ProximalL1"]

#: The constraints of ProximalL1.step_'s arguments, checked by validate_params.
_STEP_CONSTRAINTS: Constraints = {"lr": [Interval(float, 0, None)]}


class ProximalL1(ProximalStep):
    """Proximal step for ``l1 * sum|w|``: ``w <- sign(w) * max(|w| - lr*l1, 0)``.

    Call ``prox.step_(params, lr)`` right after ``optimizer.step()``. Together with a gradient
    step on the loss alone this is proximal gradient descent (ISTA): the L1 part is handled
    exactly, so weights whose magnitude falls below ``lr*l1`` become exactly 0 instead of
    oscillating around 0 as with the L1 subgradient in the loss. Same strength convention as
    :class:`reglab.L1`.

    Args:
        l1: strength, finite and >= 0.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([0.5, -0.05, 0.02, -2.0]))
        >>> ProximalL1(1.0).step_([w], lr=0.1)
        >>> w.data
        tensor([ 0.4000,  0.0000,  0.0000, -1.9000])

    Beck & Teboulle, "A fast iterative shrinkage-thresholding algorithm (FISTA)", 2009;
    Tibshirani, "Regression shrinkage and selection via the lasso", 1996.
    """

    _parameter_constraints: ClassVar[Constraints] = {"l1": [Interval(float, 0, None)]}

    def __init__(self, l1: float) -> None:
        validate_params(self, locals())
        self.l1 = float(l1)

    def step_(self, params: nn.Module | Iterable[torch.Tensor], lr: float) -> None:
        """Soft-threshold ``params`` in place with threshold ``lr * l1``."""
        validate_params("ProximalL1.step_", locals(), _STEP_CONSTRAINTS)
        ps = param_list("ProximalL1.step_", params, leaf=True)
        if self.l1 and lr:
            soft_threshold_(ps, float(lr) * self.l1)

    def __repr__(self) -> str:
        return f"ProximalL1(l1={self.l1!r})"
