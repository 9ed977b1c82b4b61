"""Penalties, proximal steps and constraints at the hooks of a Lightning training step."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import lightning.pytorch as pl
import torch
from torch import nn

from ..._checks import CallableC, Constraints, NoneOk, validate_params
from ...errors import ConfigError
from ...train.regularization import Plan, make_plan, regularized

__all__ = ["Regularization"]


class Regularization(pl.Callback):
    """What ``reglab.fit(regularization=...)`` does in a step, at Lightning's hooks.

    For each optimizer step, with ``P`` the selected parameters that this optimizer updates:

    * ``on_before_optimizer_step`` (after every backward of the step, after AMP unscaling, before
      gradient clipping and ``optimizer.step()``): each gradient-mode penalty (``L1``, ``L2``,
      ``ElasticNet``) adds its gradient, ``g <- g + d pen(P) / dP``, and each loss-mode penalty
      (``LossMode``) adds the gradient of its value the same way. This happens once per
      optimizer step: with ``accumulate_grad_batches=k`` Lightning scales each loss by ``1/k``,
      so the step's gradient is that of ``(1/k) sum_i loss_i + pen(P)``, the penalty counted
      once, as in ``fit`` with a batch k times larger;
    * ``on_train_batch_end`` of a batch whose optimizer stepped: each proximal step
      (``ProximalL1``) with the learning rate of that step (``param_groups[0]["lr"]`` read
      before the step, so a scheduler stepped after it does not change it), then each
      constraint (``MaxNorm``, ``UnitNorm``).

    ``P`` is fit's selection, :func:`reglab.regularized_parameters` of the LightningModule
    (weights outside normalization layers, no biases), or ``params(pl_module)`` when given,
    taken in ``on_fit_start``: strategies that keep the module's parameter objects (single
    device, DDP) are supported; sharding ones (FSDP, DeepSpeed) replace them and are not.
    Input augmentations and label mixers change the batch, which happens in ``training_step``:
    they are refused here (apply them there).

    Args:
        regularization: what ``fit(regularization=...)`` takes: a penalty, ``ProximalL1``, a
            constraint, or a list of them.
        params: a function ``pl_module -> parameters``; None: ``regularized_parameters``.

    Example:
        >>> import reglab as rl
        >>> reg = Regularization([rl.L1(1e-5), rl.L2(1e-4), rl.ProximalL1(1e-5), rl.MaxNorm(3.0)])
        >>> len(reg.plan.grad_penalties), len(reg.plan.proximal), len(reg.plan.constraints)
        (2, 1, 1)
    """

    _parameter_constraints: ClassVar[Constraints] = {"params": [NoneOk(), CallableC()]}

    def __init__(
        self,
        regularization: Any,
        params: Callable[[nn.Module], Iterable[torch.Tensor]] | None = None,
    ) -> None:
        super().__init__()
        validate_params(self, locals())
        self.plan: Plan = make_plan(regularization)
        if self.plan.batch:
            names = ", ".join(type(obj).__name__ for _, obj, _ in self.plan.batch)
            raise ConfigError(
                f"Regularization acts on gradients and weights; {names} changes the batch: "
                "apply it to the batch in training_step (or the DataLoader) instead."
            )
        self.params_fn = params
        self.params: list[torch.Tensor] = []
        self._per_optimizer: dict[int, list[torch.Tensor]] = {}
        self._stepped: list[tuple[list[torch.Tensor], float]] = []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        chosen = regularized(pl_module) if self.params_fn is None else self.params_fn(pl_module)
        self.params = list(chosen)
        self._per_optimizer = {}
        self._stepped = []

    def _optimized(self, optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
        """The selected parameters that ``optimizer`` updates (cached per optimizer)."""
        found = self._per_optimizer.get(id(optimizer))
        if found is None:
            ids = {id(p) for group in optimizer.param_groups for p in group["params"]}
            found = self._per_optimizer[id(optimizer)] = [p for p in self.params if id(p) in ids]
        return found

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        params = self._optimized(optimizer)
        if not params:
            return
        if self.plan.loss_penalties:
            _add_loss_penalty_grads(self.plan.loss_penalties, params)
        for pen in self.plan.grad_penalties:
            pen.add_grad_(params)
        if self.plan.proximal or self.plan.constraints:
            self._stepped.append((params, float(optimizer.param_groups[0]["lr"])))

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if not self._stepped:
            return
        stepped, self._stepped = self._stepped, []
        for params, lr in stepped:
            for prox in self.plan.proximal:
                prox.step_(params, lr)
        touched = {id(p): p for params, _ in stepped for p in params}
        for c in self.plan.constraints:
            c.apply_(list(touched.values()))

    def __repr__(self) -> str:
        return f"Regularization({self.plan.describe()})"


def _add_loss_penalty_grads(penalties: list[Any], params: list[torch.Tensor]) -> None:
    """``p.grad += d sum(pen(params)) / dp`` for the parameters that require gradients."""
    live = [p for p in params if p.requires_grad]
    if not live:
        return
    with torch.enable_grad():
        total = torch.stack([pen(live) for pen in penalties]).sum()
        grads = torch.autograd.grad(total, live, allow_unused=True)
    for p, g in zip(live, grads):
        if g is None:
            continue
        if p.grad is None:
            p.grad = g.detach().clone()
        else:
            p.grad.add_(g)
