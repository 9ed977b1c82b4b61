"""Sort the objects given as ``fit(regularization=...)`` into the places of a training step."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, format_value

__all__ = ["Plan", "make_plan", "weight_tensors"]

_ACCEPTED = (
    "a Penalty (L1/L2/ElasticNet), LossMode, ProximalL1, MaxNorm/UnitNorm, an augmentation or "
    "a label mixer (MixUp/CutMix), or a list of them"
)


@dataclass
class Plan:
    """Where each regularization object acts in a step, in the order given by the user."""

    loss_penalties: list[Any] = field(default_factory=list)  # pen(params) added to the loss
    grad_penalties: list[Any] = field(default_factory=list)  # pen.add_grad_(params) after backward
    proximal: list[Any] = field(default_factory=list)  # prox.step_(params, lr) after step
    constraints: list[Any] = field(default_factory=list)  # c.apply_(params) after step
    # ("augment", fn, passes_generator) or ("mix", obj, True), applied to each training batch
    batch: list[tuple[str, Any, bool]] = field(default_factory=list)
    mixes_labels: bool = False

    @property
    def penalties(self) -> list[Any]:
        return [*self.loss_penalties, *self.grad_penalties]

    def describe(self) -> list[str]:
        """One line per object saying what fit does with it."""
        out = [f"{p!r}: added to the loss (loss mode)" for p in self.loss_penalties]
        out += [
            f"{p!r}: gradient added after backward (gradient mode)" for p in self.grad_penalties
        ]
        out += [f"{p!r}: proximal step after optimizer.step()" for p in self.proximal]
        out += [f"{c!r}: constraint applied after optimizer.step()" for c in self.constraints]
        for kind, obj, _ in self.batch:
            what = "mixes inputs and labels" if kind == "mix" else "augments each training batch"
            out.append(f"{obj!r}: {what}")
        return out


def _is_loss_mode(obj: Any) -> bool:
    try:
        from ..penalty import LossMode
    except ImportError:  # pragma: no cover - the penalty module ships with reglab
        return type(obj).__name__ == "LossMode"
    return isinstance(obj, LossMode)


def _takes_generator(fn: Callable[..., Any]) -> bool:
    # Only an explicit `generator` parameter counts: modules and wrappers often take **kwargs
    # that would not know what to do with it.
    target = fn.forward if isinstance(fn, nn.Module) else fn
    try:
        return "generator" in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False


def make_plan(regularization: Any) -> Plan:
    """Classify each object by what it can do (duck typing, as in the contracts)."""
    plan = Plan()
    if regularization is None:
        return plan
    items: Sequence[Any] = (
        list(regularization) if isinstance(regularization, (list, tuple)) else [regularization]
    )
    for obj in items:
        if isinstance(obj, torch.optim.Optimizer):
            raise ConfigError(
                f"The 'regularization' parameter of fit must be {_ACCEPTED}. Got the optimizer "
                f"{type(obj).__name__} instead: pass optimizers (WeightDecay included) as "
                "optimizer=."
            )
        if _is_loss_mode(obj):
            plan.loss_penalties.append(obj)
        elif callable(getattr(obj, "add_grad_", None)):
            plan.grad_penalties.append(obj)
        elif callable(getattr(obj, "step_", None)):
            plan.proximal.append(obj)
        elif callable(getattr(obj, "apply_", None)):
            plan.constraints.append(obj)
        elif getattr(obj, "mixes_labels", False) and callable(getattr(obj, "mix", None)):
            plan.batch.append(("mix", obj, True))
            plan.mixes_labels = True
        elif callable(obj) and not isinstance(obj, (type, str)):
            plan.batch.append(("augment", obj, _takes_generator(obj)))
        else:
            raise ConfigError(
                f"The 'regularization' parameter of fit must be {_ACCEPTED}. "
                f"Got {format_value(obj)} instead."
            )
    return plan


def regularized(model: nn.Module) -> list[torch.Tensor]:
    """The parameters penalties and constraints act on (reglab's default selection)."""
    from ..penalty import regularized_parameters

    return regularized_parameters(model)


def weight_tensors(model: nn.Module) -> list[torch.Tensor]:
    """Every parameter with ``ndim >= 2`` (for ``weight_norm`` and ``sparsity``)."""
    return [p for p in model.parameters() if p.dim() >= 2]
