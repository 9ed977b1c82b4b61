"""Precise batch-norm statistics before each validation of a Lightning run."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import lightning.pytorch as pl
import torch
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn

from ..._checks import Constraints, Interval, validate_params
from ...nn.norm_tools import recalibrate_batchnorm

__all__ = ["PreciseBN"]


class PreciseBN(pl.Callback):
    """Recompute batch-norm running statistics on ``num_batches`` training batches.

    Before each validation of ``trainer.fit`` (``on_validation_start``; not in the sanity check,
    nor in ``trainer.validate``) it calls :func:`reglab.nn.recalibrate_batchnorm` on the
    LightningModule: with the weights fixed and every other layer in eval mode, each batch
    norm's statistics become the equal-weight average over the ``B`` batches,
    ``running_mean = 1/B sum_b mu_b`` and ``running_var = 1/B sum_b s_b^2``. The batches are the
    first ``num_batches`` of ``batches`` or, by default, of ``trainer.train_dataloader`` (a
    sequence of ``(x, ...)``; ``x`` goes to the LightningModule's ``forward``, which it must
    define); the global random state is
    left as it was, so the training batches that follow are the same as without it. Under a
    distributed strategy the statistics are averaged over the ranks.

    Args:
        num_batches: how many batches to average over (>= 1).
        batches: an iterable of batches to use instead of the training loader.

    Example:
        >>> PreciseBN(num_batches=20).num_batches
        20

    Paper: Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021 (arXiv:2105.07576).
    """

    _parameter_constraints: ClassVar[Constraints] = {"num_batches": [Interval(int, 1, None)]}

    def __init__(self, num_batches: int = 200, batches: Iterable[Any] | None = None) -> None:
        super().__init__()
        validate_params(self, locals())
        self.num_batches = int(num_batches)
        self.batches = batches
        #: batches used by the last recalibration (0 before the first)
        self.last_used = 0

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        batches = self.batches if self.batches is not None else trainer.train_dataloader
        if batches is None:
            return
        device = pl_module.device
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            self.last_used = recalibrate_batchnorm(pl_module, batches, self.num_batches)
        if trainer.world_size > 1 and self.last_used:
            _average_statistics(trainer, pl_module)


def _average_statistics(trainer: pl.Trainer, module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
            for name in ("running_mean", "running_var"):
                buf = getattr(m, name)
                buf.copy_(trainer.strategy.reduce(buf.clone(), reduce_op="mean"))
