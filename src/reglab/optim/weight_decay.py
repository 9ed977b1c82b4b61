"""Weight decay as an optimizer wrapper: coupled (L2), decoupled (AdamW) or lr-independent."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch
from torch import nn

from .._checks import CallableC, Constraints, InstanceOf, Interval, NoneOk, OneOf, validate_params
from .._select import param_list, weight_tensors
from ..errors import ConfigError, format_value
from ._wrapper import OptimizerWrapper

__all__ = ["WeightDecay"]

Schedule = Callable[[int], float] | str | None


class WeightDecay(OptimizerWrapper):
    r"""Add weight decay to any ``torch.optim`` optimizer, for the selected parameters only.

    With learning rate ``lr`` (of the parameter's group), strength ``wd`` and schedule multiplier
    ``s_t`` (1 without a schedule), each step does, for every selected parameter with a gradient:

    * ``"coupled"``: ``g <- g + s_t*wd*w`` before the optimizer's update (classic L2, the penalty
      ``s_t*wd/2 * ||w||^2``): identical to ``SGD(weight_decay=wd)`` / ``Adam(weight_decay=wd)``.
      The decay term goes through the optimizer's adaptive scaling.
    * ``"decoupled"``: ``w <- (1 - lr*s_t*wd) w`` before the optimizer's update, outside its
      adaptive scaling: ``WeightDecay(Adam(...), wd)`` is ``AdamW(weight_decay=wd)``.
    * ``"independent"``: ``w <- (1 - s_t*wd) w``, not scaled by the learning rate (Loshchilov &
      Hutter's fully decoupled form, where ``s_t`` is the schedule multiplier ``eta_t``).

    For plain SGD (no momentum) coupled and decoupled are the same update up to rounding,
    ``w <- (1 - lr*wd) w - lr*g`` (the textbook L2 update); for Adam they differ, because the
    coupled decay goes through the moment estimates and is divided by ``sqrt(v_t)``.

    It is itself a ``torch.optim.Optimizer`` (``isinstance`` holds, so torch LR schedulers accept
    it): ``step(closure)``, ``zero_grad``, ``param_groups``, ``state``, ``state_dict`` and
    ``load_state_dict`` act on the wrapped optimizer, whose ``param_groups`` are shared.

    Args:
        optimizer: the optimizer to wrap. Its own ``weight_decay`` should be 0 (a warning says so).
        weight_decay: strength ``wd``, finite and >= 0.
        mode: ``"decoupled"`` (default), ``"coupled"`` or ``"independent"``.
        params: which parameters decay: a model (its :func:`reglab.regularized_parameters`), or an
            iterable of tensors, all optimized by ``optimizer``. Default: the optimizer's
            weight tensors (``ndim >= 2``, reglab's one rule for weights) — the same as ``regularized_parameters(model)`` for
            standard layers (biases and norm parameters are 1-D).
        schedule: ``None``; a callable ``step -> multiplier`` (``step`` counts from 0); or ``"lr"``:
            the multiplier is the group's current lr over its initial lr (``initial_lr`` that LR
            schedulers record, else the lr when this wrapper was built). ``"lr"`` is meant for
            ``"independent"`` and ``"coupled"``: in ``"decoupled"`` mode the decay already scales
            with lr.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(3, 2)
        >>> opt = WeightDecay(torch.optim.Adam(model.parameters(), lr=1e-3), 1e-2)
        >>> sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)
        >>> model(torch.randn(4, 3)).sum().backward()
        >>> opt.step(); sched.step(); opt.zero_grad()

    Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "optimizer": [InstanceOf(torch.optim.Optimizer, description="a torch.optim.Optimizer")],
        "weight_decay": [Interval(float, 0, None)],
        "mode": [OneOf("decoupled", "coupled", "independent")],
        "schedule": [NoneOk(), OneOf("lr"), CallableC()],
    }

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        weight_decay: float,
        mode: str = "decoupled",
        params: nn.Module | Iterable[torch.Tensor] | None = None,
        schedule: Schedule = None,
    ) -> None:
        validate_params(self, locals())
        self._wrap(optimizer, WeightDecay, once=", with the total weight_decay")
        self.weight_decay = float(weight_decay)
        self.mode = mode
        self.schedule = schedule
        self._step = 0
        self._initial_lrs = [_lr(g) for g in optimizer.param_groups]

        owned = {id(p) for g in optimizer.param_groups for p in g["params"]}
        if params is None:
            self._default_selection = True
            chosen = weight_tensors(p for g in optimizer.param_groups for p in g["params"])
            if not chosen:
                raise ConfigError(
                    "WeightDecay found no parameter with ndim >= 2 in the optimizer to decay; "
                    "pass params= (e.g. params=list(model.parameters())) to choose them."
                )
        else:
            self._default_selection = False
            chosen = param_list("WeightDecay", params, leaf=True)
            stray = sum(id(p) not in owned for p in chosen)
            if stray:
                raise ConfigError(
                    "The 'params' parameter of WeightDecay must only contain parameters the "
                    f"wrapped optimizer updates. Got {stray} tensor(s) it does not optimize "
                    "instead; build the optimizer over model.parameters()."
                )
        self._selected = {id(p) for p in chosen}

        existing = sorted({g.get("weight_decay", 0) for g in optimizer.param_groups} - {0})
        if existing:
            name = type(optimizer).__name__
            warnings.warn(
                f"WeightDecay wraps {name}, which already has weight_decay={existing[0]}; both "
                f"decays would apply. Build it with weight_decay=0 (e.g. torch.optim.{name}"
                f"(params, weight_decay=0)) and let WeightDecay decay.",
                UserWarning,
                stacklevel=2,
            )

    def __repr__(self) -> str:
        sched = self.schedule if isinstance(self.schedule, str) or self.schedule is None else "fn"
        return (
            f"WeightDecay({type(self.optimizer).__name__}, weight_decay={self.weight_decay!r}, "
            f"mode={self.mode!r}, schedule={sched!r}, decayed_tensors={len(self._selected)})"
        )

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the wrapped optimizer; with the default selection its ndim >= 2 decay."""
        self.optimizer.add_param_group(param_group)
        group = self.optimizer.param_groups[-1]
        self._initial_lrs.append(_lr(group))
        if self._default_selection:
            self._selected.update(id(p) for p in group["params"] if p.dim() >= 2)

    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimizer's state dict plus a ``"weight_decay"`` entry (step, initial lrs)."""
        sd = self.optimizer.state_dict()
        sd["weight_decay"] = {
            "step": self._step,
            "initial_lrs": list(self._initial_lrs),
            "weight_decay": self.weight_decay,
            "mode": self.mode,
        }
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict from :meth:`state_dict` (or a plain one of the wrapped optimizer)."""
        sd = dict(state_dict)
        extra = sd.pop("weight_decay", None)
        self.optimizer.load_state_dict(sd)
        if extra is not None:
            self._step = int(extra["step"])
            self._initial_lrs = [float(x) for x in extra["initial_lrs"]]

    # ---------------------------------------------------------------- the update

    def _multiplier(self, group_index: int, group: dict[str, Any]) -> float:
        if self.schedule is None:
            return 1.0
        if self.schedule == "lr":
            base = group.get("initial_lr", self._initial_lrs[group_index])
            base = float(base)
            return _lr(group) / base if base else 0.0
        value = self.schedule(self._step)  # type: ignore[operator]
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(
                "The 'schedule' parameter of WeightDecay must return a finite float >= 0. "
                f"Got {format_value(value)} at step {self._step} instead."
            )
        return float(value)

    @torch.no_grad()
    def _apply(self) -> None:
        """Decay (coupled: into the gradients; else: the weights) for one step."""
        schedule_value: float | None = None
        for i, group in enumerate(self.optimizer.param_groups):
            ps = [p for p in group["params"] if p.grad is not None and id(p) in self._selected]
            if not ps:
                continue
            if self.schedule is None or self.schedule == "lr":
                mult = self._multiplier(i, group)
            else:  # a step-count schedule is evaluated once per step
                if schedule_value is None:
                    schedule_value = self._multiplier(i, group)
                mult = schedule_value
            wd = self.weight_decay * mult
            if self.mode == "coupled":
                torch._foreach_add_([p.grad for p in ps], ps, alpha=wd)
            elif self.mode == "decoupled":
                torch._foreach_mul_(ps, 1.0 - _lr(group) * wd)
            else:
                torch._foreach_mul_(ps, 1.0 - wd)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Decay, then step the wrapped optimizer; with a closure, decay after it computed grads.

        Coupled mode adds the decay to the gradients after every closure evaluation; the other
        modes decay the weights once per step, after the first evaluation (as AdamW does).
        """
        if closure is None:
            self._apply()
            loss = self.optimizer.step()
        else:
            applied = False

            def wrapped() -> Any:
                nonlocal applied
                loss = closure()
                if self.mode == "coupled" or not applied:
                    self._apply()
                    applied = True
                return loss

            loss = self.optimizer.step(wrapped)
        self._step += 1
        return loss


def _lr(group: dict[str, Any]) -> float:
    lr = group.get("lr", 0.0)
    return float(lr.item() if isinstance(lr, torch.Tensor) else lr)
