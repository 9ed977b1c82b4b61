"""Early stopping: stop when the monitored metric stops improving, and keep the best weights.

The decision with default arguments is Keras 3's (``keras.callbacks.EarlyStopping``); the extras
come from skorch (relative thresholds) and Lightning (non-finite values, stopping and divergence
thresholds). Training longer fits the training set ever better while the validation loss reaches
a minimum and then rises: early stopping keeps the model of that minimum.

The decision is a single process's: under torch.distributed, ``reglab.fit`` gives every rank the
same metrics (measured over all ranks) and agrees on the stop across ranks itself;
``reglab.train.distributed.step_on_all_ranks`` does the same for a hand-written loop.
"""

from __future__ import annotations

import enum
import math
import numbers
import operator
import weakref
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from .._checks import BOOL, Constraint, Constraints, Interval, NoneOk, OneOf, validate_params
from ..errors import ConfigError, did_you_mean, format_value

__all__ = ["EarlyStopping", "StopReason"]

# Substrings of a metric name that fix its direction under mode="auto" (checked in this order).
_MIN_WORDS = ("loss", "error")
_MAX_WORDS = ("accuracy", "acc", "auc", "f1", "precision", "recall")
# Metric names that training loops commonly record (fit's History, Keras, Lightning): a monitor
# whose direction cannot be inferred is checked against them for a likely typo ("val_los").
_COMMON_METRICS = (
    "loss", "train_loss", "val_loss", "test_loss",
    "acc", "train_acc", "val_acc", "test_acc", "accuracy", "val_accuracy",
)  # fmt: skip


class StopReason(str, enum.Enum):
    """Why a training loop stopped (a ``str`` so it serializes as its value)."""

    #: no improvement for ``patience`` epochs (Keras' only reason)
    PATIENCE = "patience"
    #: the monitored value was NaN or infinite (``check_finite``)
    NON_FINITE = "non_finite"
    #: the monitored value reached ``stopping_threshold``
    STOPPING_THRESHOLD = "stopping_threshold"
    #: the monitored value went past ``divergence_threshold``
    DIVERGENCE_THRESHOLD = "divergence_threshold"
    #: a callback other than :class:`EarlyStopping` asked to stop (set by ``fit``)
    CALLBACK = "callback"
    #: the loop ran all its epochs (set by ``fit``)
    COMPLETED = "completed"

    def __str__(self) -> str:
        return self.value

    @property
    def code(self) -> int:
        """A positive integer per reason, for reductions across processes (0 means "go on").

        Example:
            >>> StopReason.PATIENCE.code, StopReason.from_code(StopReason.PATIENCE.code)
            (1, <StopReason.PATIENCE: 'patience'>)
        """
        return list(StopReason).index(self) + 1

    @staticmethod
    def code_of(reason: StopReason | None) -> int:
        """``reason.code``, or 0 for None (no stop)."""
        return 0 if reason is None else reason.code

    @staticmethod
    def from_code(code: int) -> StopReason | None:
        """The reason with this :attr:`code`; None for 0."""
        return None if code == 0 else list(StopReason)[code - 1]


class _NonEmptyStr(Constraint):
    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and value != ""

    def __str__(self) -> str:
        return "a non-empty str"


_FINITE = Interval(float, None, None)


def infer_mode(monitor: str) -> str | None:
    """``"min"``/``"max"`` from a metric name (losses/errors down, accuracy-like up), else None.

    Example:
        >>> infer_mode("val_loss"), infer_mode("val_acc"), infer_mode("lr")
        ('min', 'max', None)
    """
    name = monitor.lower()
    if any(w in name for w in _MIN_WORDS):
        return "min"
    if any(w in name for w in _MAX_WORDS):
        return "max"
    return None


def _to_float(value: Any, owner: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ConfigError(
                f"{owner} expects one number per epoch. Got a tensor of shape "
                f"{tuple(value.shape)} instead."
            )
        return float(value.detach().reshape(()).item())
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    try:  # numpy scalars and 0-d arrays
        return float(value.item())
    except (AttributeError, TypeError, ValueError):
        raise ConfigError(
            f"{owner} expects a number or a dict of metrics. Got {format_value(value)} instead."
        ) from None


def _model_tensors(model: nn.Module) -> list[torch.Tensor]:
    """Every parameter, then every buffer (BN running statistics included), each once.

    The order is that of ``named_parameters()`` followed by ``named_buffers()``.
    """
    modules = list(model.modules())
    seen: set[int] = set()
    out: list[torch.Tensor] = []
    for attr in ("_parameters", "_buffers"):
        for m in modules:
            for t in getattr(m, attr).values():
                if t is not None and id(t) not in seen:
                    seen.add(id(t))
                    out.append(t)
    return out


def _model_names(model: nn.Module) -> list[str]:
    return [n for n, _ in model.named_parameters()] + [n for n, _ in model.named_buffers()]


class _TensorCache:
    """The model's parameters and buffers, reused while the model's structure is unchanged.

    Valid for one model as long as every module's parameter, buffer and child dicts hold the
    same entries as when it was built, and every tensor sits on the same memory (``model.to()``
    swaps parameter data and buffers without registering anything). Checking that is much
    cheaper than walking the module tree at every improvement.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = weakref.ref(model)
        self.dicts = [d for m in model.modules() for d in _holders(m)]
        self.lengths = [len(d) for d in self.dicts]
        self.keys = [(d, k) for d in self.dicts for k in d]
        self.values = [d[k] for d, k in self.keys]
        self.tensors = _model_tensors(model)
        self.ptrs = [t.data_ptr() for t in self.tensors]
        self.names = _model_names(model)

    def valid_for(self, model: nn.Module) -> bool:
        return (
            self.model() is model
            and list(map(len, self.dicts)) == self.lengths
            and all(map(operator.is_, [d.get(k) for d, k in self.keys], self.values))
            and [t.data_ptr() for t in self.tensors] == self.ptrs
        )


def _holders(m: nn.Module) -> tuple[dict[str, Any], ...]:
    return (m._parameters, m._buffers, m._modules)


class EarlyStopping:
    """Stop training when ``monitor`` has stopped improving; optionally restore the best weights.

    Called once per epoch, ``step`` counts epochs without improvement. With ``mode="min"`` and
    ``threshold_mode="abs"`` the value ``v`` improves on the best ``b`` when ``v + min_delta < b``
    (``v - min_delta > b`` for ``"max"``); with ``threshold_mode="rel"`` when
    ``v < b - min_delta * b`` (``v > b + min_delta * b``), skorch's convention, meant for
    positive metrics. The first monitored epoch is always an improvement. Training stops at an
    epoch without improvement once ``wait >= patience``, where ``wait`` counts epochs since the
    last improvement that also beat ``baseline`` (Keras 3: an epoch that improves on the best but
    not on ``baseline`` neither resets ``wait`` nor stops).

    With the default arguments the decision, ``best_epoch`` and ``stopped_epoch`` (0-based) equal
    Keras 3's ``keras.callbacks.EarlyStopping`` for finite values. Differences, all deliberate:
    ``check_finite=True`` stops on NaN/inf (Keras carries on; ``check_finite=False`` reproduces
    it); values are compared as Python floats (float64) where Keras compares float32 tensors; a
    missing ``monitor`` key is an error (Keras warns and skips the epoch).

    Beyond Keras: ``stopping_threshold`` stops once the value is strictly better than it,
    ``divergence_threshold`` stops once it is strictly worse (Lightning's semantics);
    ``stop_reason`` says which rule fired. ``restore_best_weights=True`` copies parameters and
    buffers into preallocated tensors with one multi-tensor copy at each improvement and copies
    them back when ``step`` returns True or at :meth:`finish`.

    The decision is this process's alone (no collective runs in ``step``). ``reglab.fit`` under
    torch.distributed gives every rank the same metrics and stops all ranks when one stops; in a
    hand-written loop, ``reglab.train.distributed.step_on_all_ranks(es, metrics, model)`` averages
    the metrics over the ranks and agrees on the stop.

    State (public, read by training loops; saved by :meth:`state_dict`): ``epoch`` (calls so
    far), ``wait``, ``best`` (None before the first monitored epoch), ``best_epoch``,
    ``stopped_epoch`` and ``stop_reason`` (a :class:`StopReason`, None while running).

    Args:
        monitor: key to read when ``step`` gets a dict of metrics.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (min for names containing "loss"/"error", max
            for "acc"/"accuracy"/"auc"/"f1"/"precision"/"recall").
        patience: epochs without improvement before stopping.
        min_delta: smallest change that counts as an improvement (absolute or relative).
        threshold_mode: ``"abs"`` (Keras) or ``"rel"`` (skorch).
        baseline: a value the metric must beat for an improvement to reset the patience counter.
        start_from_epoch: epochs ignored at the start (warm-up).
        restore_best_weights: restore parameters and buffers of the best epoch.
        check_finite: stop when the monitored value is NaN or infinite.
        stopping_threshold: stop as soon as the value is better than this.
        divergence_threshold: stop as soon as the value is worse than this.

    Example:
        >>> es = EarlyStopping(patience=2)
        >>> [es.step(v) for v in [1.0, 0.5, 0.7, 0.6]]
        [False, False, False, True]
        >>> es.best_epoch, es.stopped_epoch, es.stop_reason
        (1, 3, <StopReason.PATIENCE: 'patience'>)

    References:
        Prechelt, "Early Stopping - But When?", Neural Networks: Tricks of the Trade, 1998.
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "monitor": [_NonEmptyStr()],
        "mode": [OneOf("auto", "min", "max")],
        "patience": [Interval(int, 0, None)],
        "min_delta": [Interval(float, 0, None)],
        "threshold_mode": [OneOf("abs", "rel")],
        "baseline": [NoneOk(), _FINITE],
        "start_from_epoch": [Interval(int, 0, None)],
        "restore_best_weights": BOOL,
        "check_finite": BOOL,
        "stopping_threshold": [NoneOk(), _FINITE],
        "divergence_threshold": [NoneOk(), _FINITE],
    }

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
    ) -> None:
        validate_params(self, locals())
        resolved = mode if mode != "auto" else infer_mode(monitor)
        if resolved is None and did_you_mean(monitor, _COMMON_METRICS):
            raise ConfigError(
                f"The 'monitor' parameter of EarlyStopping names {monitor!r}, which is not a known "
                f"metric name.{did_you_mean(monitor, _COMMON_METRICS)} For a metric of your own, "
                "set its direction with the 'mode' parameter ('min' or 'max')."
            )
        if resolved is None:
            raise ConfigError(
                f"The 'mode' parameter of EarlyStopping must be 'min' or 'max' for "
                f"monitor={monitor!r} (its direction cannot be inferred from the name). "
                f"Got {mode!r} instead."
            )
        self.monitor = monitor
        self.mode = mode
        self.direction = resolved
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.threshold_mode = threshold_mode
        self.baseline = None if baseline is None else float(baseline)
        self.start_from_epoch = int(start_from_epoch)
        self.restore_best_weights = restore_best_weights
        self.check_finite = check_finite
        self.stopping_threshold = None if stopping_threshold is None else float(stopping_threshold)
        self.divergence_threshold = (
            None if divergence_threshold is None else float(divergence_threshold)
        )
        self._snapshot: list[torch.Tensor] | None = None
        self._snapshot_names: list[str] | None = None
        self._cache: _TensorCache | None = None  # the model tensors the snapshot copies
        self.reset()

    # -- state ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything seen so far (counters, best value, snapshot), as for a new run."""
        self.epoch = 0  # index of the next call to step
        self.wait = 0
        self.best: float | None = None
        self.best_epoch = 0
        self.stopped_epoch = 0
        self.stop_reason: StopReason | None = None
        self._has_snapshot = False
        self._restored = False

    def state_dict(self) -> dict[str, Any]:
        """Counters, best value and the best-weights snapshot (tensors and plain Python values).

        Loadable with ``torch.load(weights_only=True)``; a run resumed with
        :meth:`load_state_dict` continues with the same patience counter and snapshot.
        """
        weights = None
        if self._has_snapshot and self._snapshot is not None and self._snapshot_names is not None:
            weights = dict(zip(self._snapshot_names, (t.clone() for t in self._snapshot)))
        return {
            "monitor": self.monitor,
            "epoch": self.epoch,
            "wait": self.wait,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
            "stop_reason": None if self.stop_reason is None else self.stop_reason.value,
            "restored": self._restored,
            "best_weights": weights,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state_dict` (the constructor arguments are not part of it)."""
        missing = {"epoch", "wait", "best", "best_epoch", "stopped_epoch"} - set(state)
        if missing:
            raise ConfigError(
                f"EarlyStopping.load_state_dict expects an EarlyStopping state_dict. Missing keys: "
                f"{', '.join(sorted(missing))}."
            )
        self.epoch = int(state["epoch"])
        self.wait = int(state["wait"])
        self.best = None if state["best"] is None else float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.stopped_epoch = int(state["stopped_epoch"])
        reason = state.get("stop_reason")
        self.stop_reason = None if reason is None else StopReason(reason)
        self._restored = bool(state.get("restored", False))
        weights = state.get("best_weights")
        self._cache = None
        if weights is None:
            self._has_snapshot = False
            self._snapshot = None
            self._snapshot_names = None
        else:
            self._snapshot_names = list(weights)
            self._snapshot = [t.detach().clone() for t in weights.values()]
            self._has_snapshot = True

    # -- the decision --------------------------------------------------------------------------

    def _better(self, value: float, reference: float) -> bool:
        """Whether ``value`` improves on ``reference`` by more than ``min_delta``."""
        if self.threshold_mode == "abs":
            # Same arithmetic as Keras (shift the value, then compare) so rounding agrees.
            if self.direction == "min":
                return value + self.min_delta < reference
            return value - self.min_delta > reference
        change = self.min_delta * reference
        if self.direction == "min":
            return value < reference - change
        return value > reference + change

    def _value(self, value_or_metrics: Any) -> float:
        if isinstance(value_or_metrics, Mapping):
            if self.monitor not in value_or_metrics:
                keys = ", ".join(repr(k) for k in value_or_metrics) or "none"
                raise ConfigError(
                    f"EarlyStopping monitors {self.monitor!r}, which is not among the metrics "
                    f"given.{did_you_mean(self.monitor, value_or_metrics)} Available keys: {keys}."
                )
            value = value_or_metrics[self.monitor]
            if value is None:
                raise ConfigError(
                    f"EarlyStopping monitors {self.monitor!r}, whose value is None this epoch "
                    f"(not measured for this task); monitor another metric."
                )
            return _to_float(value, "EarlyStopping")
        return _to_float(value_or_metrics, "EarlyStopping")

    def _decide(self, current: float, epoch: int, model: nn.Module | None) -> StopReason | None:
        if self.check_finite and not math.isfinite(current):
            return StopReason.NON_FINITE
        if epoch < self.start_from_epoch:
            return None
        self.wait += 1
        improved = self.best is None or self._better(current, self.best)
        if improved:
            self.best = current
            self.best_epoch = epoch
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
        if self.restore_best_weights and (improved or not self._has_snapshot):
            assert model is not None  # checked in step
            self._take_snapshot(model)
        if self.stopping_threshold is not None and (
            current < self.stopping_threshold
            if self.direction == "min"
            else current > self.stopping_threshold
        ):
            return StopReason.STOPPING_THRESHOLD
        if self.divergence_threshold is not None and (
            current > self.divergence_threshold
            if self.direction == "min"
            else current < self.divergence_threshold
        ):
            return StopReason.DIVERGENCE_THRESHOLD
        if not improved and self.wait >= self.patience and epoch > 0:
            return StopReason.PATIENCE
        return None

    def step(self, value_or_metrics: Any, model: nn.Module | None = None) -> bool:
        """Record one epoch's value (a number or a dict holding ``monitor``); True means stop.

        When it returns True and ``restore_best_weights`` is set, ``model`` already holds the
        parameters and buffers of ``best_epoch``.
        """
        if self.restore_best_weights and model is None:
            raise ConfigError(
                "EarlyStopping(restore_best_weights=True) needs the model: call "
                "es.step(value_or_metrics, model)."
            )
        current = self._value(value_or_metrics)
        epoch = self.epoch
        reason = self._decide(current, epoch, model)
        self.epoch += 1
        self._restored = False
        if reason is None:
            return False
        self.stop_reason = reason
        self.stopped_epoch = epoch
        if model is not None:
            self._restore(model)
        return True

    def finish(self, model: nn.Module | None = None) -> None:
        """End of training without a stop: restore the best weights (Keras 3's ``on_train_end``)."""
        if model is not None:
            self._restore(model)

    # -- snapshot ------------------------------------------------------------------------------

    def _take_snapshot(self, model: nn.Module) -> None:
        cache = self._cache
        if cache is None or not cache.valid_for(model):
            cache = self._cache = _TensorCache(model)
            snap = self._snapshot
            if snap is None or [(s.shape, s.dtype, s.device) for s in snap] != [
                (t.shape, t.dtype, t.device) for t in cache.tensors
            ]:
                self._snapshot = [torch.empty_like(t) for t in cache.tensors]
            self._snapshot_names = cache.names
        assert self._snapshot is not None
        with torch.no_grad():
            torch._foreach_copy_(self._snapshot, cache.tensors)
        self._has_snapshot = True

    def _restore(self, model: nn.Module) -> None:
        if not (self.restore_best_weights and self._has_snapshot) or self._restored:
            return
        assert self._snapshot is not None
        if _model_names(model) != self._snapshot_names:
            raise ConfigError(
                "EarlyStopping cannot restore the best weights: the model's parameters and "
                "buffers differ from those in the snapshot (a different model?)."
            )
        tensors = _model_tensors(model)
        src = self._snapshot
        if any(s.device != t.device or s.dtype != t.dtype for s, t in zip(src, tensors)):
            src = [s.to(device=t.device, dtype=t.dtype) for s, t in zip(src, tensors)]
        with torch.no_grad():
            torch._foreach_copy_(tensors, src)
        self._restored = True

    def __repr__(self) -> str:
        args = [f"monitor={self.monitor!r}", f"mode={self.mode!r}", f"patience={self.patience}"]
        defaults: dict[str, Any] = {
            "min_delta": 0.0,
            "threshold_mode": "abs",
            "baseline": None,
            "start_from_epoch": 0,
            "restore_best_weights": False,
            "check_finite": True,
            "stopping_threshold": None,
            "divergence_threshold": None,
        }
        for key, default in defaults.items():
            value = getattr(self, key)
            if value != default:
                args.append(f"{key}={value!r}")
        return f"EarlyStopping({', '.join(args)})"
