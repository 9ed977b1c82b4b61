"""Early stopping for a Lightning ``Trainer`` with reglab's decision and best-weight restoring."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import lightning.pytorch as pl
import torch

from ..._checks import Boolean, Constraints, InstanceOf, NoneOk, validate_params
from ...callbacks import EarlyStopping as _Decision
from ...callbacks import StopReason

__all__ = ["LightningEarlyStopping"]

#: ``check_on_train_epoch_end``: None or a bool.
_ON_EPOCH_END = [NoneOk(), Boolean()]
#: The constraints of LightningEarlyStopping.from_decision's arguments.
_FROM_DECISION_CONSTRAINTS: Constraints = {
    "decision": [InstanceOf(_Decision)],
    "check_on_train_epoch_end": _ON_EPOCH_END,
}


def _of_decision(name: str) -> Any:
    """A read-only property: the callback's ``decision.<name>``."""
    return property(lambda self: getattr(self.decision, name), doc=f"``decision.{name}``.")


class LightningEarlyStopping(pl.Callback):
    """reglab's :class:`reglab.callbacks.EarlyStopping` as a Lightning callback.

    The decision is made by a :class:`reglab.callbacks.EarlyStopping` (``self.decision``) once
    per epoch on ``trainer.callback_metrics[monitor]``, so it is Keras 3's with the default
    arguments (see that class for the rule, ``check_finite`` and the thresholds). With
    ``restore_best_weights=True`` the LightningModule's parameters and buffers (batch-norm
    statistics included) of the best epoch are copied back in memory when it stops and at the
    end of a run that did not stop (``on_train_end``); no checkpoint file is read.

    It decides in ``on_train_epoch_end`` when validation runs once at the end of every epoch
    (Lightning's default; ``check_on_train_epoch_end=None`` picks that), else after each
    validation (``on_validation_end``, never in the sanity check). Under a distributed strategy
    the monitored value is averaged over the ranks first (``trainer.strategy.reduce``), so every
    rank takes the same decision and restores the same epoch, and the stop is agreed with
    ``trainer.strategy.reduce_boolean_decision`` (any rank stopping stops all). Its state,
    snapshot included, is saved in Lightning checkpoints (``state_dict``/``load_state_dict``).

    Args:
        monitor, mode, patience, min_delta, threshold_mode, baseline, start_from_epoch,
        restore_best_weights, check_finite, stopping_threshold, divergence_threshold: as for
            :class:`reglab.callbacks.EarlyStopping`.
        check_on_train_epoch_end: decide at the end of each training epoch (True) or after each
            validation (False); None: True when validation runs once per epoch.

    Example:
        >>> es = LightningEarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
        >>> es.decision
        EarlyStopping(monitor='val_loss', mode='auto', patience=3, restore_best_weights=True)
    """

    _parameter_constraints: ClassVar[Constraints] = {"check_on_train_epoch_end": _ON_EPOCH_END}

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        patience: int = 0,
        min_delta: float = 0.0,
        threshold_mode: str = "abs",
        baseline: float | None = None,
        start_from_epoch: int = 0,
        restore_best_weights: bool = False,
        check_finite: bool = True,
        stopping_threshold: float | None = None,
        divergence_threshold: float | None = None,
        check_on_train_epoch_end: bool | None = None,
    ) -> None:
        super().__init__()
        validate_params(self, locals())
        self.decision = _Decision(
            monitor=monitor,
            mode=mode,
            patience=patience,
            min_delta=min_delta,
            threshold_mode=threshold_mode,
            baseline=baseline,
            start_from_epoch=start_from_epoch,
            restore_best_weights=restore_best_weights,
            check_finite=check_finite,
            stopping_threshold=stopping_threshold,
            divergence_threshold=divergence_threshold,
        )
        self.check_on_train_epoch_end = check_on_train_epoch_end
        self._on_epoch_end = bool(check_on_train_epoch_end)
        #: why training stopped (None while running or when it ran all its epochs)
        self.stop_reason: StopReason | None = None

    @classmethod
    def from_decision(
        cls, decision: _Decision, check_on_train_epoch_end: bool | None = None
    ) -> LightningEarlyStopping:
        """The callback around an existing :class:`reglab.callbacks.EarlyStopping` (one that a
        recipe's ``parts()`` made, say), used as it is: its arguments and state are kept.

        Example:
            >>> import reglab as rl
            >>> LightningEarlyStopping.from_decision(rl.EarlyStopping(patience=4)).decision.patience
            4
        """
        validate_params("LightningEarlyStopping", locals(), _FROM_DECISION_CONSTRAINTS)
        made = cls(monitor=decision.monitor, mode=decision.direction)
        made.decision = decision
        made.check_on_train_epoch_end = check_on_train_epoch_end
        made._on_epoch_end = bool(check_on_train_epoch_end)
        return made

    # -- what the decision knows (read-only) -------------------------------------------------------

    monitor = _of_decision("monitor")
    best = _of_decision("best")
    best_epoch = _of_decision("best_epoch")
    stopped_epoch = _of_decision("stopped_epoch")
    wait = _of_decision("wait")

    @property
    def state_key(self) -> str:
        return self._generate_state_key(monitor=self.monitor, mode=self.decision.direction)

    def state_dict(self) -> dict[str, Any]:
        state = self.decision.state_dict()
        state["agreed_stop_reason"] = None if self.stop_reason is None else self.stop_reason.value
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.decision.load_state_dict(state_dict)
        reason = state_dict.get("agreed_stop_reason")
        self.stop_reason = None if reason is None else StopReason(reason)

    # -- hooks -----------------------------------------------------------------------------------

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.check_on_train_epoch_end is None:
            self._on_epoch_end = (
                trainer.val_check_interval == 1.0 and trainer.check_val_every_n_epoch == 1
            )

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._on_epoch_end:
            self._check(trainer, pl_module)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._on_epoch_end and not trainer.sanity_checking:
            self._check(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.decision.finish(pl_module)  # a no-op when the stop restored them already

    def _check(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = trainer.callback_metrics
        if self.monitor not in metrics:
            self.decision.step(dict(metrics), pl_module)  # raises the missing-key ConfigError
        value = torch.as_tensor(metrics[self.monitor], dtype=torch.float64).detach()
        if trainer.world_size > 1:
            value = trainer.strategy.reduce(value.to(pl_module.device), reduce_op="mean")
        stop = self.decision.step(float(value), pl_module)
        if trainer.world_size > 1:
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
            if stop and self.decision.stop_reason is None:
                self.decision.finish(pl_module)  # another rank stopped
        if stop:
            self.stop_reason = self.decision.stop_reason or StopReason.CALLBACK
            trainer.should_stop = True

    def __repr__(self) -> str:
        return f"Lightning{self.decision!r}"
