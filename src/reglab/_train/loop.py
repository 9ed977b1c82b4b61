"""The epoch loop behind ``reglab.fit``: set-up, one training epoch, measurements, decisions.

All run state lives on :class:`Loop` (model, optimizer, schedulers, callbacks, generators, epoch
index, rows), so that a checkpoint of it can later be written and resumed from.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import Boolean, CallableC, InstanceOf, Interval, NoneOk, check
from ..callbacks.early_stopping import EarlyStopping, StopReason
from ..errors import ConfigError, format_value
from .data import Source, TensorSource, as_source
from .history import History
from .regularization import Plan, make_plan, regularized, weight_tensors

__all__ = ["Loop"]

_OWNER = "fit"

_REGRESSION_LOSSES: tuple[Any, ...] = (
    nn.MSELoss,
    nn.L1Loss,
    nn.SmoothL1Loss,
    nn.HuberLoss,
    F.mse_loss,
    F.l1_loss,
    F.smooth_l1_loss,
    F.huber_loss,
)
_CLASS_LOSSES: tuple[Any, ...] = (nn.CrossEntropyLoss, nn.NLLLoss, F.cross_entropy, F.nll_loss)
_BINARY_LOSSES: tuple[Any, ...] = (nn.BCEWithLogitsLoss, F.binary_cross_entropy_with_logits)


def _known(loss: Any, kinds: tuple[Any, ...]) -> bool:
    return any(loss is k or (isinstance(k, type) and isinstance(loss, k)) for k in kinds)


def _resolve_device(device: Any, model: nn.Module) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise _device_error(device)
    if device == "auto":
        for p in model.parameters():
            if p.device.type != "cpu":
                return p.device
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise _device_error(device) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"The 'device' parameter of fit must name an available device. Got {device!r} "
            "instead: CUDA is not available here (use 'auto' or 'cpu')."
        )
    return resolved


def _device_error(device: Any) -> ConfigError:
    return ConfigError(
        f"The 'device' parameter of fit must be 'auto', a device name such as 'cpu' or "
        f"'cuda:0', or a torch.device. Got {format_value(device)} instead."
    )


def _is_scheduler(obj: Any) -> bool:
    sched = torch.optim.lr_scheduler
    return isinstance(obj, (sched.LRScheduler, sched.ReduceLROnPlateau))


class _Progress:
    """A rich progress bar over epochs on stderr (nothing when disabled or rich is missing)."""

    def __init__(self, enabled: bool, epochs: int) -> None:
        self.bar: Any = None
        if not enabled:
            return
        try:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )
        except ImportError:  # pragma: no cover - rich is part of reglab[lab]
            return
        self.bar = Progress(
            TextColumn("epoch"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self.task = self.bar.add_task("fit", total=epochs, info="")
        self.bar.start()

    def update(self, row: dict[str, Any]) -> None:
        if self.bar is None:
            return
        parts = [f"loss {row['loss']:.4f}"]
        for key in ("val_loss", "val_acc", "gap"):
            if row.get(key) is not None:
                parts.append(f"{key} {row[key]:.4f}")
        self.bar.update(self.task, advance=1, info="  ".join(parts))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


class Loop:
    """One ``fit`` run. Build it (validates and sets up), then call :meth:`run`."""

    def __init__(
        self,
        model: nn.Module,
        train: Any,
        val: Any,
        *,
        epochs: int,
        optimizer: Any = None,
        lr: float = 1e-3,
        loss: Callable[..., torch.Tensor] | None = None,
        regularization: Any = None,
        callbacks: Sequence[Any] = (),
        device: Any = "auto",
        seed: int | None = None,
        progress: bool = True,
    ) -> None:
        check(_OWNER, "model", model, InstanceOf(nn.Module, description="a torch.nn.Module"))
        check(_OWNER, "epochs", epochs, Interval(int, 1, None))
        check(_OWNER, "lr", lr, Interval(float, 0, None, closed="neither"))
        check(_OWNER, "loss", loss, NoneOk(), CallableC())
        check(_OWNER, "seed", seed, NoneOk(), Interval(int, 0, None))
        check(_OWNER, "progress", progress, Boolean())
        if not isinstance(callbacks, (list, tuple)):
            callbacks = [callbacks]
        for cb in callbacks:
            if not (_is_scheduler(cb) or callable(getattr(cb, "step", None))):
                raise ConfigError(
                    "The 'callbacks' parameter of fit must be a list of objects with "
                    "step(metrics, model) -> bool (EarlyStopping) or LR schedulers. Got "
                    f"{format_value(cb)} instead."
                )

        self.model = model
        self.epochs = int(epochs)
        self.seed = seed
        self.progress = progress
        self.device = _resolve_device(device, model)
        model.to(self.device)

        # Randomness: one seed fans out into independent streams (shuffling, augmentation, and
        # the global RNG that dropout and DataLoader shuffling draw from).
        self.shuffle_gen: torch.Generator | None = None
        self.aug_gen: torch.Generator | None = None
        self.global_seed: int | None = None
        if seed is not None:
            base = torch.Generator().manual_seed(int(seed))
            s_shuffle, s_aug, s_global = torch.randint(0, 2**62, (3,), generator=base).tolist()
            self.shuffle_gen = torch.Generator().manual_seed(s_shuffle)
            self.aug_gen = torch.Generator(device=self.device).manual_seed(s_aug)
            self.global_seed = s_global

        self.train_source: Source = as_source(train, "train", self.device, self.shuffle_gen, True)
        self.val_source: Source | None = (
            None if val is None else as_source(val, "val", self.device, None, False)
        )

        self.plan: Plan = make_plan(regularization)
        needs_params = self.plan.penalties or self.plan.proximal or self.plan.constraints
        self.reg_params: list[torch.Tensor] = regularized(model) if needs_params else []
        self.weights = weight_tensors(model)

        self.optimizer = self._make_optimizer(optimizer, float(lr))
        self.schedulers = [cb for cb in callbacks if _is_scheduler(cb)]
        self.callbacks = [cb for cb in callbacks if not _is_scheduler(cb)]

        self.user_loss = loss
        self.loss_fn: Callable[..., torch.Tensor] | None = None
        self.task: str | None = None
        self.check_shapes = True
        self._range_checked: set[str] = set()
        self.acc_dtype = torch.float32 if self.device.type == "mps" else torch.float64

        # The run's state: the next epoch to run and what has been measured so far.
        self.epoch = 0
        self.rows: list[dict[str, Any]] = []
        self.stop_reason: StopReason | None = None

    # -- set-up ------------------------------------------------------------------------------

    def _make_optimizer(self, optimizer: Any, lr: float) -> Any:
        if optimizer is None:
            return torch.optim.Adam(self.model.parameters(), lr=lr)
        if isinstance(optimizer, torch.optim.Optimizer):
            return optimizer
        if callable(optimizer):  # an optimizer class or factory: called with (params, lr=lr)
            made = optimizer(self.model.parameters(), lr=lr)
            if callable(getattr(made, "step", None)) and hasattr(made, "param_groups"):
                return made
        raise ConfigError(
            "The 'optimizer' parameter of fit must be None (Adam), a torch.optim.Optimizer "
            "(reglab.optim.WeightDecay included) or an optimizer class called as "
            f"cls(params, lr=lr). Got {format_value(optimizer)} instead."
        )

    def _set_task(self, y: torch.Tensor) -> None:
        loss = self.user_loss
        if loss is None:
            if y.is_floating_point():
                self.task, self.loss_fn = "regression", F.mse_loss
            elif y.dtype == torch.bool:
                raise ConfigError(
                    "fit cannot infer a loss for boolean targets: pass float 0/1 targets with "
                    "loss=torch.nn.BCEWithLogitsLoss(), or int64 class indices."
                )
            else:
                self.task, self.loss_fn = "classification", F.cross_entropy
            return
        self.loss_fn = loss
        if _known(loss, _REGRESSION_LOSSES):
            self.task = "regression"
        elif _known(loss, _BINARY_LOSSES):
            self.task = "binary"
        elif _known(loss, _CLASS_LOSSES):
            self.task = "classification"
        else:  # a custom loss: task from the targets, shapes are its own business
            self.task = "regression" if y.is_floating_point() else "classification"
            self.check_shapes = False

    # -- one batch ---------------------------------------------------------------------------

    def _shape_error(self, out: torch.Tensor, y: torch.Tensor, expected: str) -> ConfigError:
        return ConfigError(
            f"fit expects model outputs of shape {expected}. Got outputs of shape "
            f"{tuple(out.shape)} and targets of shape {tuple(y.shape)} instead."
        )

    def _align(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Targets shaped for the loss; a mismatch with the outputs is a one-line error."""
        if self.task != "classification":
            # (N,) targets against (N, 1) outputs: broadcasting would silently give (N, N).
            if y.dim() == 1 and out.dim() == 2 and out.shape[1] == 1:
                y = y.unsqueeze(1)
            if self.check_shapes and out.shape != y.shape:
                raise self._shape_error(out, y, "equal to the targets' shape (regression)")
            return y
        if not self.check_shapes:
            return y
        if y.is_floating_point():  # soft targets (N, K), e.g. from MixUp
            if out.shape != y.shape:
                raise self._shape_error(out, y, "(N, K) equal to the soft targets' shape")
        elif out.dim() != y.dim() + 1 or out.shape[0] != y.shape[0] or out.shape[2:] != y.shape[1:]:
            raise self._shape_error(out, y, "(N, num_classes) for class-index targets (N,)")
        return y

    def _check_labels(self, name: str, out: torch.Tensor, y: torch.Tensor) -> None:
        """Class indices within [0, K) (checked once per source: it costs a sync)."""
        if name in self._range_checked or self.task != "classification" or y.is_floating_point():
            return
        self._range_checked.add(name)
        if not self.check_shapes:
            return
        source = self.train_source if name == "train" else self.val_source
        full = source.targets() if isinstance(source, TensorSource) else None
        labels = full if full is not None else y
        lo, hi = int(labels.min()), int(labels.max())
        k = int(out.shape[1])
        if lo < 0 or hi >= k:
            raise ConfigError(
                f"fit got class indices in [{lo}, {hi}] in {name!r} but the model outputs "
                f"{k} classes (expected labels in [0, {k - 1}])."
            )

    def _transform(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for kind, obj, passes_generator in self.plan.batch:
            if kind == "mix":
                x, y = obj.mix(x, y, generator=self.aug_gen)
            elif passes_generator:
                x = obj(x, generator=self.aug_gen)
            else:
                x = obj(x)
        return x, y

    # -- one epoch ---------------------------------------------------------------------------

    def _train_epoch(self) -> tuple[list[torch.Tensor], list[int]]:
        model, opt, plan, params = self.model, self.optimizer, self.plan, self.reg_params
        model.train()
        losses: list[torch.Tensor] = []
        counts: list[int] = []
        for x, y in self.train_source.train_batches(self.shuffle_gen):
            if self.task is None:
                self._set_task(y)
            assert self.loss_fn is not None
            x, y = self._transform(x, y)
            out = model(x)
            y = self._align(out, y)
            self._check_labels("train", out, y)
            loss = self.loss_fn(out, y)
            total = loss
            for pen in plan.loss_penalties:
                total = total + pen(params)
            opt.zero_grad(set_to_none=True)
            total.backward()
            for pen in plan.grad_penalties:
                pen.add_grad_(params)
            opt.step()
            if plan.proximal:
                lr = float(opt.param_groups[0]["lr"])
                for prox in plan.proximal:
                    prox.step_(params, lr)
            for c in plan.constraints:
                c.apply_(params)
            losses.append(loss.detach())
            counts.append(int(x.shape[0]))
        return losses, counts

    @torch.no_grad()
    def _evaluate(self, name: str, source: Source) -> tuple[list[torch.Tensor], list[int], int]:
        """Per-batch mean losses and correct counts in eval mode, without synchronising."""
        model = self.model
        assert self.loss_fn is not None
        values: list[torch.Tensor] = []
        counts: list[int] = []
        total = 0
        for x, y in source.eval_batches():
            out = model(x)
            y = self._align(out, y)
            self._check_labels(name, out, y)
            values.append(self.loss_fn(out, y))
            counts.append(int(x.shape[0]))
            if self.task == "classification":
                target = y.argmax(1) if y.is_floating_point() else y
                values.append((out.argmax(1) == target).sum())
                total += target.numel()
            elif self.task == "binary":
                values.append(((out > 0) == (y > 0.5)).sum())
                total += y.numel()
        return values, counts, total

    def _measure(self, epoch: int, seconds_from: float) -> dict[str, Any]:
        running, train_counts = self._train_epoch()
        self.model.eval()
        tr_vals, tr_counts, tr_total = self._evaluate("train", self.train_source)
        va: tuple[list[torch.Tensor], list[int], int] | None = None
        if self.val_source is not None:
            va = self._evaluate("val", self.val_source)
        with torch.no_grad():
            extra: list[torch.Tensor] = []
            if self.weights:
                norms = torch._foreach_norm([w.detach() for w in self.weights])
                extra.append(torch.linalg.vector_norm(torch.stack(norms).to(self.acc_dtype)))
                extra.append(torch.stack([(w == 0).sum() for w in self.weights]).sum())
            if self.plan.penalties:
                params = self.reg_params
                extra.append(torch.stack([p(params) for p in self.plan.penalties]).sum())
        # One device-to-host copy per epoch for every number of the row.
        parts = [*running, *tr_vals, *(va[0] if va else []), *extra]
        flat = torch.stack([t.to(self.acc_dtype) for t in parts]).cpu().tolist()
        it: Iterator[float] = iter(flat)

        def mean_loss(counts: list[int]) -> float:
            return math.fsum(next(it) * n for n in counts) / sum(counts)

        def loss_acc(counts: list[int], total: int) -> tuple[float, float | None]:
            if self.task not in ("classification", "binary"):
                return mean_loss(counts), None
            pairs = [(next(it), next(it)) for _ in counts]
            loss = math.fsum(v * n for (v, _), n in zip(pairs, counts)) / sum(counts)
            return loss, math.fsum(c for _, c in pairs) / total

        loss = mean_loss(train_counts)
        train_loss, train_acc = loss_acc(tr_counts, tr_total)
        val_loss = val_acc = None
        if va is not None:
            val_loss, val_acc = loss_acc(va[1], va[2])
        weight_norm = sparsity = None
        if self.weights:
            weight_norm = next(it)
            sparsity = next(it) / sum(w.numel() for w in self.weights)
        penalty = next(it) if self.plan.penalties else 0.0
        gap = None
        if val_loss is not None:
            if train_acc is not None and val_acc is not None:
                gap = train_acc - val_acc
            else:
                gap = val_loss - train_loss
        return {
            "epoch": epoch,
            "loss": loss,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "gap": gap,
            "penalty": penalty,
            "lr": float(self.optimizer.param_groups[0]["lr"]),
            "weight_norm": weight_norm,
            "sparsity": sparsity,
            "seconds": time.perf_counter() - seconds_from,
        }

    # -- decisions -----------------------------------------------------------------------------

    def _step_callbacks(self, row: dict[str, Any]) -> tuple[bool, Any]:
        for sched in self.schedulers:
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                value = row["val_loss"] if row["val_loss"] is not None else row["train_loss"]
                sched.step(value)
            else:
                sched.step()
        stopper = None
        for cb in self.callbacks:
            if bool(cb.step(dict(row), self.model)) and stopper is None:
                stopper = cb
        return stopper is not None, stopper

    def _best_epoch(self) -> int | None:
        for cb in self.callbacks:
            if isinstance(cb, EarlyStopping) and cb.best is not None:
                return cb.best_epoch
        key = "val_loss" if self.val_source is not None else "train_loss"
        scored = [(r[key], r["epoch"]) for r in self.rows if r[key] is not None]
        finite = [s for s in scored if math.isfinite(s[0])]
        return min(finite)[1] if finite else None

    def _rng(self) -> contextlib.AbstractContextManager[Any]:
        if self.global_seed is None:
            return contextlib.nullcontext()
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        return torch.random.fork_rng(devices=devices)

    def run(self) -> History:
        """Train for the remaining epochs (or until a stop) and return the History."""
        was_training = self.model.training
        bar = _Progress(self.progress, self.epochs)
        stopper: Any = None
        try:
            with self._rng():
                if self.global_seed is not None:
                    torch.manual_seed(self.global_seed)
                while self.epoch < self.epochs:
                    start = time.perf_counter()
                    row = self._measure(self.epoch, start)
                    self.rows.append(row)
                    self.epoch += 1
                    bar.update(row)
                    if not math.isfinite(row["loss"]):
                        self.stop_reason = StopReason.NON_FINITE
                        break
                    stop, stopper = self._step_callbacks(row)
                    if stop:
                        reason = getattr(stopper, "stop_reason", None)
                        self.stop_reason = (
                            reason if isinstance(reason, StopReason) else StopReason.CALLBACK
                        )
                        break
                else:
                    self.stop_reason = StopReason.COMPLETED
            for cb in self.callbacks:
                if cb is not stopper and callable(getattr(cb, "finish", None)):
                    cb.finish(self.model)
        finally:
            bar.close()
            self.model.train(was_training)
        return History(
            self.rows,
            best_epoch=self._best_epoch(),
            stop_reason=self.stop_reason,
            task=self.task or "classification",
        )
