"""Place the objects given as ``fit(regularization=...)`` in a training step, by protocol.

Each object declares one protocol of :mod:`reglab.regularizer` (penalty in the loss, penalty on
the gradients, proximal step, constraint, label mixer, input augmentation); a plain callable is
an input augmentation. The :class:`Plan` lists them in the order the user gave.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .._select import measured_weights, regularized_parameters
from ..errors import ConfigError, format_value
from ..regularizer import (
    GradientPenalty,
    InputAugmentation,
    LabelMixer,
    LossPenalty,
    PairedPenalty,
    ProximalStep,
    WeightAveraging,
    WeightConstraint,
)

__all__ = ["Plan", "make_plan", "model_weights", "regularized"]

_ACCEPTED = (
    "a Penalty (L1/L2/ElasticNet), LossMode, ProximalL1, MaxNorm/UnitNorm, an augmentation or "
    "a label mixer (MixUp/CutMix), EMA/SWA, RDrop, or a list of them"
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
    averaging: list[Any] = field(default_factory=list)  # EMA / SWA: update, swap in to measure
    paired: list[Any] = field(default_factory=list)  # RDrop: two passes, penalty(out1, out2)

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
        for a in self.averaging:
            when = "each optimizer step" if a.every == "step" else f"each epoch from {a.start}"
            out.append(f"{a!r}: averages the weights after {when}; evaluated with the average")
        out += [f"{p!r}: two passes per batch, penalty between them" for p in self.paired]
        return out


def _takes_generator(fn: Callable[..., Any]) -> bool:
    # Only an explicit `generator` parameter counts: modules and wrappers often take **kwargs
    # that would not know what to do with it.
    target = fn.forward if isinstance(fn, nn.Module) else fn
    try:
        return "generator" in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False


# Method names of the protocols: an object that has one but declares no protocol is refused,
# not guessed at (it would otherwise be taken for an augmentation when it is callable).
_METHODS = {
    "add_grad_": "GradientPenalty",
    "step_": "ProximalStep",
    "apply_": "WeightConstraint",
    "mix": "LabelMixer",
}


def _undeclared(obj: Any) -> ConfigError | None:
    for method, protocol in _METHODS.items():
        if callable(getattr(obj, method, None)):
            return ConfigError(
                f"fit cannot tell what {type(obj).__name__} does: it has {method}() but declares "
                "none of the protocols of reglab.regularizer (LossPenalty, GradientPenalty, "
                "ProximalStep, WeightConstraint, LabelMixer, InputAugmentation); subclass "
                f"reglab.regularizer.{protocol} or call {protocol}.register({type(obj).__name__})."
            )
    return None


def _place(plan: Plan, obj: Any) -> None:
    """Put ``obj`` where its protocol acts (the first of PROTOCOLS it declares)."""
    if isinstance(obj, LossPenalty):
        plan.loss_penalties.append(obj)
    elif isinstance(obj, GradientPenalty):
        plan.grad_penalties.append(obj)
    elif isinstance(obj, ProximalStep):
        plan.proximal.append(obj)
    elif isinstance(obj, WeightConstraint):
        plan.constraints.append(obj)
    elif isinstance(obj, WeightAveraging):
        if plan.averaging:
            raise ConfigError(
                "The 'regularization' parameter of fit must hold at most one weight average "
                f"(EMA or SWA). Got {plan.averaging[0]!r} and {obj!r} instead."
            )
        plan.averaging.append(obj)
    elif isinstance(obj, PairedPenalty):
        plan.paired.append(obj)
    elif isinstance(obj, LabelMixer):
        plan.batch.append(("mix", obj, True))
        plan.mixes_labels = True
    elif isinstance(obj, InputAugmentation):
        plan.batch.append(("augment", obj, _takes_generator(obj)))
    elif (err := _undeclared(obj)) is not None:
        raise err
    elif callable(obj) and not isinstance(obj, (type, str)):
        # A plain function or nn.Module: an input augmentation.
        plan.batch.append(("augment", obj, _takes_generator(obj)))
    else:
        raise ConfigError(
            f"The 'regularization' parameter of fit must be {_ACCEPTED}. "
            f"Got {format_value(obj)} instead."
        )


def make_plan(regularization: Any) -> Plan:
    """Place each object by the protocol it declares (:mod:`reglab.regularizer`), in list order."""
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
        _place(plan, obj)
    return plan


def regularized(model: nn.Module) -> list[torch.Tensor]:
    """The parameters penalties and constraints act on (reglab's default selection)."""
    return regularized_parameters(model)


def model_weights(model: nn.Module) -> list[torch.Tensor]:
    """The weights behind ``weight_norm`` and ``sparsity``: ``reglab._select.weight_stats``'s rule."""
    return measured_weights(model)
