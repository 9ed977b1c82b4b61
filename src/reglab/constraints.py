"""Weight constraints applied after each optimizer step: max-norm and unit-norm.

Example:
    >>> import torch
    >>> layer = torch.nn.Linear(3, 2)
    >>> MaxNorm(0.5).apply_([layer.weight])
    >>> bool((layer.weight.norm(dim=1) <= 0.5 + 1e-6).all())
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import torch
from torch import nn

from ._checks import Constraints, Interval, NoneOk, validate_params
from ._select import param_list
from .errors import ConfigError
from .functional.penalty import max_norm_, unit_norm_
from .regularizer import WeightConstraint

__all__ = ["MaxNorm", "UnitNorm"]

_DIM = [NoneOk(), Interval(int, None, None)]
_POSITIVE = [Interval(float, 0, None, closed="neither")]


def _check_dim(owner: str, dim: int | None, params: list[torch.Tensor]) -> None:
    if dim is None:
        return
    for i, p in enumerate(params):
        if not -p.dim() <= dim < max(p.dim(), 1):
            raise ConfigError(
                f"{owner} got dim={dim}, which params[{i}] of shape {tuple(p.shape)} does not "
                "have; use dim=0 (output units of Linear/Conv weights) or dim=None (whole tensor)."
            )


class _UnitConstraint(WeightConstraint):
    """A constraint on each unit's weight vector: the slices of each tensor along ``dim``."""

    dim: int | None

    def apply_(self, params: nn.Module | Iterable[torch.Tensor]) -> None:
        """Constrain ``params`` in place (a module means its regularized parameters)."""
        owner = f"{type(self).__name__}.apply_"
        ps = param_list(owner, params, leaf=True)
        _check_dim(owner, self.dim, ps)
        self._constrain(ps)

    def _constrain(self, params: list[torch.Tensor]) -> None:
        raise NotImplementedError


class MaxNorm(_UnitConstraint):
    """Max-norm constraint: rescale each unit's weight vector to L2 norm at most ``max_value``.

    ``w_u <- w_u * min(1, max_value / ||w_u||_2)`` for every unit ``u``: the slices of each tensor
    along ``dim`` (``dim=0``: each output unit's incoming weights of a ``Linear``/``Conv`` weight,
    norms over all other dims, as ``torch.renorm``). Keras' ``MaxNorm(axis=0)`` on a Dense kernel
    ``(in, out)`` is ``dim=0`` here, because torch stores ``Linear.weight`` as ``(out, in)``.
    ``dim=None`` constrains each tensor's total norm. Call ``c.apply_(params)`` after
    ``optimizer.step()``; vectors within the bound are left untouched.

    Args:
        max_value: the bound, finite and > 0 (the dropout paper used 3 to 4).
        dim: the unit dimension (default 0), or None.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([[3.0, 4.0], [0.3, 0.4]]))
        >>> MaxNorm(1.0).apply_([w])
        >>> w.data
        tensor([[0.6000, 0.8000],
                [0.3000, 0.4000]])

    Srivastava et al., "Dropout: a simple way to prevent neural networks from overfitting",
    JMLR 2014 (section 5.1).
    """

    _parameter_constraints: ClassVar[Constraints] = {"max_value": _POSITIVE, "dim": _DIM}

    def __init__(self, max_value: float, dim: int | None = 0) -> None:
        validate_params(self, locals())
        self.max_value = float(max_value)
        self.dim = dim

    def _constrain(self, params: list[torch.Tensor]) -> None:
        max_norm_(params, self.max_value, self.dim)

    def __repr__(self) -> str:
        return f"MaxNorm(max_value={self.max_value!r}, dim={self.dim!r})"


class UnitNorm(_UnitConstraint):
    """Unit-norm constraint: rescale each unit's weight vector to L2 norm 1.

    ``w_u <- w_u / max(||w_u||_2, eps)`` for the slices along ``dim`` (as :class:`MaxNorm`); an
    all-zero vector stays zero. Call ``c.apply_(params)`` after ``optimizer.step()``.

    Args:
        dim: the unit dimension (default 0), or None for the whole tensor.
        eps: floor of the norm, finite and > 0.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
        >>> UnitNorm().apply_([w])
        >>> w.data
        tensor([[0.6000, 0.8000],
                [0.0000, 0.0000]])
    """

    _parameter_constraints: ClassVar[Constraints] = {"dim": _DIM, "eps": _POSITIVE}

    def __init__(self, dim: int | None = 0, eps: float = 1e-12) -> None:
        validate_params(self, locals())
        self.dim = dim
        self.eps = float(eps)

    def _constrain(self, params: list[torch.Tensor]) -> None:
        unit_norm_(params, self.dim, self.eps)

    def __repr__(self) -> str:
        return f"UnitNorm(dim={self.dim!r}, eps={self.eps!r})"
