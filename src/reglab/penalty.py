"""Weight penalties (L1, L2, elastic net), a report of which parameters they apply to, sparsity.

A penalty works in two modes that give the same update:

* **loss mode** ``loss = loss + pen(params)``: a differentiable scalar, autograd does the rest;
* **gradient mode** ``pen.add_grad_(params)`` after ``backward()`` and before ``optimizer.step()``:
  adds ``d pen / d w`` straight into ``.grad`` with multi-tensor kernels, no autograd graph
  (regularization as a transformation of gradients, as optax's ``add_decayed_weights``).

Both modes add the same penalty-gradient tensor to the loss gradient in one rounding step, so the
updates are identical bit for bit, for any optimizer (Adam included, where L1 would otherwise
amplify rounding differences as weights cross 0).

Conventions are Keras': ``L1(l1) = l1 * sum|w|`` and ``L2(l2) = l2 * sum w^2`` (no 1/2). The
textbook ``lambda/2 * ||W||^2`` form is ``L2(lambda / 2)``; with plain SGD its gradient
``lambda * W`` gives the update ``W <- (1 - lr*lambda) W - lr*grad``. The L1 subgradient at
exactly 0 is 0 (``sign(0) = 0``), as autograd gives for ``torch.abs``.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    >>> params = rl.penalty.regularized_parameters(model)   # the Linear weight only
    >>> pen = rl.penalty.L1(1e-4) + rl.penalty.L2(1e-3)
    >>> pen
    ElasticNet(l1=0.0001, l2=0.001)
    >>> loss = model(torch.randn(2, 4)).sum()
    >>> loss.backward()
    >>> pen.add_grad_(params)                  # gradient mode
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from ._checks import Constraint, Constraints, InstanceOf, Interval, NoneOk, validate_params
from ._select import (
    ParamInfo,
    Params,
    classify,
    param_list,
    regularized_parameters,
    weight_stats,
)
from .functional import penalty as F
from .regularizer import GradientPenalty, LossPenalty

__all__ = [
    "L1",
    "L2",
    "ElasticNet",
    "LossMode",
    "ParamInfo",
    "Penalty",
    "PenaltySum",
    "RegularizationSummary",
    "SparsityReport",
    "describe_regularization",
    "regularized_parameters",
    "sparsity",
]

_STRENGTH = [Interval(float, 0, None)]  # finite, >= 0: NaN and inf are refused

# ---------------------------------------------------------------- parameter lists


def _grads_for(params: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The ``.grad`` of every trainable tensor, created as zeros where backward left none."""
    ps, gs = [], []
    for p in params:
        if not p.requires_grad:
            continue
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        ps.append(p)
        gs.append(p.grad)
    return ps, gs


# ---------------------------------------------------------------- penalties


class Penalty(GradientPenalty):
    """Base class of weight penalties: ``pen(params)`` (loss mode) and ``pen.add_grad_(params)``.

    Subclasses implement :meth:`penalty` (a differentiable scalar over a checked list of tensors)
    and :meth:`grad_` (add its gradient into given gradient tensors). Penalties add: ``a + b``.
    ``params`` may be an ``nn.Module`` (meaning :func:`regularized_parameters` of it), a tensor
    or an iterable of tensors.
    """

    def penalty(self, params: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def grad_(self, grads: list[torch.Tensor], params: list[torch.Tensor]) -> None:
        raise NotImplementedError

    def __call__(self, params: Params) -> torch.Tensor:
        """Loss mode: the penalty as a differentiable scalar tensor."""
        return self.penalty(param_list(type(self).__name__, params, leaf=False))

    def add_grad_(self, params: Params) -> None:
        """Gradient mode: add the penalty's gradient into each parameter's ``.grad`` in place.

        Call after ``loss.backward()`` and before ``optimizer.step()``. Parameters without a
        ``.grad`` get one (zeros plus the penalty gradient); frozen ones are skipped.
        """
        ps = param_list(f"{type(self).__name__}.add_grad_", params, leaf=True)
        ps, gs = _grads_for(ps)
        if ps:
            self.grad_(gs, ps)

    def __add__(self, other: Penalty) -> Penalty:
        if not isinstance(other, Penalty):
            return NotImplemented
        return PenaltySum([self, other])

    def __radd__(self, other: Any) -> Penalty:
        if isinstance(other, (int, float)) and other == 0:  # sum([...]) starts at 0
            return self
        return NotImplemented


#: The constraint on each of PenaltySum's terms.
_TERM = [InstanceOf(Penalty, description="a Penalty")]


class PenaltySum(Penalty):
    """The sum of several penalties (what ``a + b`` gives for penalties other than L1/L2)."""

    terms: list[Penalty]

    def __init__(self, terms: Sequence[Penalty]) -> None:
        flat: list[Penalty] = []
        for i, t in enumerate(terms):
            term = f"terms[{i}]"
            validate_params(self, {term: t}, {term: _TERM})
            flat.extend(t.terms if isinstance(t, PenaltySum) else [t])
        self.terms = flat

    def penalty(self, params: list[torch.Tensor]) -> torch.Tensor:
        total = self.terms[0].penalty(params)
        for t in self.terms[1:]:
            total = total + t.penalty(params)
        return total

    def grad_(self, grads: list[torch.Tensor], params: list[torch.Tensor]) -> None:
        for t in self.terms:
            t.grad_(grads, params)

    def __repr__(self) -> str:
        return " + ".join(repr(t) for t in self.terms)


class _ElasticBase(Penalty):
    """``l1 * sum|w| + l2 * sum w^2``; L1, L2 and ElasticNet are this with one or both terms."""

    l1: float
    l2: float
    #: The strengths ``repr`` shows.
    _shown: ClassVar[tuple[str, ...]] = ("l1", "l2")

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        validate_params(self, locals())
        self.l1 = float(l1)
        self.l2 = float(l2)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._shown)
        return f"{type(self).__name__}({shown})"

    def penalty(self, params: list[torch.Tensor]) -> torch.Tensor:
        return F.elastic_net_penalty(params, self.l1, self.l2)

    def grad_(self, grads: list[torch.Tensor], params: list[torch.Tensor]) -> None:
        F.elastic_net_grad_(grads, params, self.l1, self.l2)

    def __add__(self, other: Penalty) -> Penalty:
        if isinstance(other, _ElasticBase):
            return ElasticNet(self.l1 + other.l1, self.l2 + other.l2)
        return super().__add__(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _ElasticBase):
            return NotImplemented
        return (self.l1, self.l2) == (other.l1, other.l2)

    def __hash__(self) -> int:
        return hash((self.l1, self.l2))


class L1(_ElasticBase):
    """L1 penalty ``l1 * sum_i |w_i|`` (Keras' ``L1``); pushes weights toward exact zero.

    Gradient ``l1 * sign(w)`` with ``sign(0) = 0``. Plain (sub)gradient steps make weights
    oscillate around 0 rather than land on it; use :class:`reglab.optim.ProximalL1` for exact
    zeros.

    Args:
        l1: strength, finite and >= 0.

    Example:
        >>> import torch
        >>> L1(0.5)([torch.tensor([1.0, -3.0])]).item()
        2.0

    Tibshirani, "Regression shrinkage and selection via the lasso", 1996.
    """

    _parameter_constraints: ClassVar[Constraints] = {"l1": _STRENGTH}
    _shown = ("l1",)

    def __init__(self, l1: float) -> None:
        super().__init__(l1=l1)


class L2(_ElasticBase):
    """L2 penalty ``l2 * sum_i w_i^2`` (Keras' ``L2``, no 1/2).

    Gradient ``2 * l2 * w``. The textbook ``lambda/2 * ||W||^2`` is ``L2(lambda / 2)``; with SGD at
    learning rate ``lr`` it gives ``W <- (1 - lr*lambda) W - lr*grad``. ``torch.optim.SGD(
    weight_decay=wd)`` adds ``wd * w`` to the gradient, i.e. it is ``L2(wd / 2)``.

    Args:
        l2: strength, finite and >= 0.

    Example:
        >>> import torch
        >>> L2(0.5)([torch.tensor([1.0, -3.0])]).item()
        5.0

    Hoerl & Kennard, "Ridge regression", 1970; Krogh & Hertz, "A simple weight decay can improve
    generalization", 1992.
    """

    _parameter_constraints: ClassVar[Constraints] = {"l2": _STRENGTH}
    _shown = ("l2",)

    def __init__(self, l2: float) -> None:
        super().__init__(l2=l2)


class ElasticNet(_ElasticBase):
    """Elastic net ``l1 * sum|w| + l2 * sum w^2``, the same as ``L1(l1) + L2(l2)``.

    Args:
        l1: L1 strength, finite and >= 0.
        l2: L2 strength, finite and >= 0.

    Example:
        >>> import torch
        >>> ElasticNet(0.5, 0.5)([torch.tensor([1.0, -3.0])]).item()
        7.0
        >>> L1(0.5) + L2(0.5) == ElasticNet(0.5, 0.5)
        True

    Zou & Hastie, "Regularization and variable selection via the elastic net", 2005.
    """

    _parameter_constraints: ClassVar[Constraints] = {"l1": _STRENGTH, "l2": _STRENGTH}


class LossMode(LossPenalty):
    """Ask ``reglab.fit`` to add ``penalty(params)`` to the loss instead of using gradient mode.

    Both modes give the same update; loss mode keeps the penalty inside the autograd graph (for
    example to see it in the loss, or when something between backward and step rescales the
    gradients, such as clipping). It has no ``add_grad_``: it is a
    :class:`reglab.regularizer.LossPenalty`, where ``Penalty`` is a ``GradientPenalty``.

    Example:
        >>> import torch
        >>> LossMode(L2(0.5))([torch.tensor([2.0])]).item()
        2.0
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "penalty": [InstanceOf(Penalty, description="a reglab Penalty")]
    }

    def __init__(self, penalty: Penalty) -> None:
        validate_params(self, locals())
        self.penalty = penalty

    def __call__(self, params: Params) -> torch.Tensor:
        return self.penalty(params)

    def __repr__(self) -> str:
        return f"LossMode({self.penalty!r})"


# ---------------------------------------------------------------- parameter selection


@dataclass
class RegularizationSummary:
    """Which parameters of a model are regularized, with counts; ``str()`` gives a table."""

    rows: list[ParamInfo] = field(default_factory=list)

    @property
    def regularized(self) -> list[ParamInfo]:
        return [r for r in self.rows if r.regularized]

    @property
    def not_regularized(self) -> list[ParamInfo]:
        return [r for r in self.rows if not r.regularized]

    @property
    def counts(self) -> dict[str, int]:
        reg, other = self.regularized, self.not_regularized
        return {
            "regularized_tensors": len(reg),
            "regularized_elements": sum(r.numel for r in reg),
            "other_tensors": len(other),
            "other_elements": sum(r.numel for r in other),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "parameters": [
                {
                    "name": r.name,
                    "module_type": r.module_type,
                    "shape": list(r.shape),
                    "numel": r.numel,
                    "regularized": r.regularized,
                    "reason": r.reason,
                }
                for r in self.rows
            ],
        }

    def __str__(self) -> str:
        head = ("parameter", "module", "shape", "numel", "regularized", "why")
        body = [
            (
                r.name,
                r.module_type,
                "x".join(map(str, r.shape)) or "scalar",
                str(r.numel),
                "yes" if r.regularized else "no",
                r.reason,
            )
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head, *body]
        ]
        c = self.counts
        lines.append(
            f"regularized: {c['regularized_tensors']} tensors, {c['regularized_elements']} "
            f"elements; not regularized: {c['other_tensors']} tensors, "
            f"{c['other_elements']} elements"
        )
        return "\n".join(lines)


def describe_regularization(
    model: nn.Module,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
) -> RegularizationSummary:
    """List which parameters :func:`regularized_parameters` selects and why, with counts.

    Example:
        >>> import torch
        >>> m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
        >>> print(describe_regularization(m))
        parameter  module     shape  numel  regularized  why
        0.weight   Linear     4x3    12     yes          weight (ndim 2)
        0.bias     Linear     4      4      no           bias
        1.weight   LayerNorm  4      4      no           normalization layer
        1.bias     LayerNorm  4      4      no           bias
        regularized: 1 tensors, 12 elements; not regularized: 3 tensors, 12 elements
    """
    rows = classify("describe_regularization", model, include, exclude)
    return RegularizationSummary([info for info, _ in rows])


@dataclass
class SparsityReport:
    """Fractions of exact zeros: ``overall`` over all selected weights and ``per_layer`` by name.

    ``float(report)`` is ``overall``.
    """

    overall: float
    per_layer: dict[str, float]
    zeros: int
    total: int

    def __float__(self) -> float:
        return self.overall

    def __str__(self) -> str:
        parts = [f"{k}: {v:.1%}" for k, v in self.per_layer.items()]
        return f"sparsity {self.overall:.1%} ({self.zeros}/{self.total} zeros; {', '.join(parts)})"


class _IterableC(Constraint):
    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, Iterable) and not isinstance(value, (str, bytes))

    def __str__(self) -> str:
        return "an iterable of tensors"


#: The constraints of sparsity's arguments, checked by validate_params.
_SPARSITY_CONSTRAINTS: Constraints = {
    "model": [InstanceOf(nn.Module, description="a torch.nn.Module")],
    "params": [NoneOk(), _IterableC()],
}


def sparsity(model: nn.Module, params: Iterable[torch.Tensor] | None = None) -> SparsityReport:
    """Overall and per-parameter fraction of weights that are exactly zero.

    ``params`` defaults to :func:`regularized_parameters` of ``model``; tensors that are not
    parameters of ``model`` are named ``params[i]``.

    Example:
        >>> import torch
        >>> m = torch.nn.Linear(2, 2)
        >>> with torch.no_grad():
        ...     _ = m.weight.copy_(torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
        >>> sparsity(m).overall
        0.75
    """
    validate_params("sparsity", locals(), _SPARSITY_CONSTRAINTS)
    if params is None:
        chosen = regularized_parameters(model)
    else:
        chosen = param_list("sparsity", params, leaf=False)
    names = {id(p): n for n, p in model.named_parameters()}
    per_layer: dict[str, float] = {}
    for i, p in enumerate(chosen):
        per_layer[names.get(id(p), f"params[{i}]")] = weight_stats(p).sparsity
    stats = weight_stats(chosen)  # the same computation as fit's column and the lab's
    return SparsityReport(stats.sparsity, per_layer, stats.zeros, stats.total)
