"""The epoch loop behind ``reglab.fit``: set-up, one training epoch, measurements, decisions.

:class:`LoopConfig` holds ``fit``'s arguments as given. :class:`Loop` sets up in named steps
(arguments, device and DDP, checkpoint, random streams, sources, regularization, optimizer,
run state) and keeps all run state (model, optimizer, schedulers, callbacks, generators, epoch
index, rows), so that a checkpoint of it can be written and resumed from. Each epoch it trains,
measures (eval-mode passes, one host copy, the exact reduction over ranks), then lets the
schedulers and callbacks decide; under torch.distributed the loop alone makes every rank stop
when one does (:func:`reglab.train.distributed.stop_on_all_ranks`).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .._checks import Boolean, CallableC, InstanceOf, Interval, NoneOk, check
from .._select import weight_stats_tensors
from ..callbacks import EarlyStopping, StopReason
from ..errors import ConfigError, format_value, param_error
from ..optim.sam import SAM, running_stats_kept
from . import checkpoint as ckpt
from . import distributed as ddp
from .evaluate import BatchScores, combine, score_batches
from .history import History
from .progress import EpochBar
from .regularization import Plan, make_plan, model_weights, regularized
from .sources import Source, TensorSource, as_source
from .task import infer_task, resolve_device

__all__ = ["Loop", "LoopConfig"]

_OWNER = "fit"

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _describe(obj: Any) -> str:
    """``repr`` without memory addresses (stable from one process to the next)."""
    return _ADDRESS.sub("", repr(obj))


def _describe_optimizer(opt: Any) -> str:
    head = type(opt).__name__
    if type(opt).__repr__ is not torch.optim.Optimizer.__repr__:
        head = _describe(opt)  # e.g. WeightDecay(SGD, weight_decay=..., mode=...)
    defaults = {k: v for k, v in getattr(opt, "defaults", {}).items() if k != "params"}
    return f"{head} {sorted(defaults.items(), key=lambda kv: kv[0])}"


def _is_scheduler(obj: Any) -> bool:
    sched = torch.optim.lr_scheduler
    return isinstance(obj, (sched.LRScheduler, sched.ReduceLROnPlateau))


@dataclass(frozen=True)
class LoopConfig:
    """``fit``'s arguments, as given (see :func:`reglab.fit` for each)."""

    model: nn.Module
    train: Any
    val: Any
    epochs: int
    optimizer: Any = None
    lr: float = 1e-3
    loss: Callable[..., torch.Tensor] | None = None
    regularization: Any = None
    callbacks: Sequence[Any] = ()
    device: Any = "auto"
    seed: int | None = None
    progress: bool = True
    checkpoint: str | os.PathLike[str] | None = None
    train_curve_rows: int | None = None


def _check_config(c: LoopConfig) -> list[Any]:
    """Validate the plain arguments; return the callbacks as a list."""
    check(_OWNER, "model", c.model, InstanceOf(nn.Module, description="a torch.nn.Module"))
    check(_OWNER, "epochs", c.epochs, Interval(int, 1, None))
    check(_OWNER, "lr", c.lr, Interval(float, 0, None, closed="neither"))
    check(_OWNER, "loss", c.loss, NoneOk(), CallableC())
    check(_OWNER, "seed", c.seed, NoneOk(), Interval(int, 0, None))
    check(_OWNER, "progress", c.progress, Boolean())
    path = InstanceOf(str, os.PathLike, description="a file path")
    check(_OWNER, "checkpoint", c.checkpoint, NoneOk(), path)
    check(_OWNER, "train_curve_rows", c.train_curve_rows, NoneOk(), Interval(int, 1, None))
    callbacks = list(c.callbacks) if isinstance(c.callbacks, (list, tuple)) else [c.callbacks]
    for cb in callbacks:
        if not (_is_scheduler(cb) or callable(getattr(cb, "step", None))):
            raise ConfigError(
                "The 'callbacks' parameter of fit must be a list of objects with "
                "step(metrics, model) -> bool (EarlyStopping) or LR schedulers. Got "
                f"{format_value(cb)} instead."
            )
    return callbacks


@dataclass
class _Epoch:
    """One epoch's numbers on the host: per-batch rows ``(mean loss[, correct], count)``."""

    running: list[tuple[float, ...]]
    train: list[tuple[float, ...]]
    val: list[tuple[float, ...]] | None
    train_total: int
    val_total: int
    weight_norm: float | None
    zeros: float | None
    penalty: float


def _mean_loss(batches: list[tuple[float, ...]]) -> float:
    return combine(batches, 0, scored=False)[0]


class Loop:
    """One ``fit`` run: build it from a :class:`LoopConfig` (validates, sets up), then :meth:`run`."""

    def __init__(self, config: LoopConfig) -> None:
        callbacks = _check_config(config)
        self.epochs = int(config.epochs)
        self.seed = config.seed
        self.progress = config.progress
        self.train_curve_rows = config.train_curve_rows
        self._setup_device(config.model, config.device)
        self._setup_checkpoint(config.checkpoint)
        self._setup_random(config.seed)
        self._setup_sources(config.train, config.val)
        self._setup_regularization(config.regularization)
        self.optimizer = self._make_optimizer(config.optimizer, float(config.lr))
        inner = getattr(self.optimizer, "optimizer", None)
        self.sam = isinstance(self.optimizer, SAM) or isinstance(inner, SAM)
        self.schedulers = [cb for cb in callbacks if _is_scheduler(cb)]
        self.callbacks = [cb for cb in callbacks if not _is_scheduler(cb)]
        self._setup_task(config.loss)
        self._setup_state()
        self._check_resumable()

    # -- set-up ------------------------------------------------------------------------------

    def _setup_device(self, model: nn.Module, device: Any) -> None:
        """The device, and the DDP wrapper (given, or made here) around the module.

        ``self.module`` is the model that is evaluated, regularized, snapshotted and saved;
        ``self.net`` the network trained (the DDP wrapper under torch.distributed).
        """
        self.model = model
        self.ddp: DistributedDataParallel | None = None
        module = model
        if isinstance(model, DistributedDataParallel):
            self.ddp, module = model, model.module
        self.module: nn.Module = module
        world = ddp.current_world()
        self.device = resolve_device(device, module, world)
        if world.backend == "nccl" and self.device.type == "cuda":
            torch.cuda.set_device(self.device)
            world = ddp.current_world()  # collectives on this rank's GPU
        self.world = world
        module.to(self.device)
        if world.active and self.ddp is None:
            ids = [self.device] if self.device.type == "cuda" else None
            self.ddp = DistributedDataParallel(module, device_ids=ids)  # broadcasts rank 0's
        self.net: nn.Module = self.ddp if self.ddp is not None else module

    def _setup_checkpoint(self, checkpoint: str | os.PathLike[str] | None) -> None:
        self.checkpoint: str | None = None if checkpoint is None else os.fspath(checkpoint)
        self.saved: dict[str, Any] | None = None
        if self.checkpoint is not None:
            self.saved = ckpt.load(self.checkpoint)

    def _setup_random(self, seed: int | None) -> None:
        """One seed fans out into independent streams: shuffling, augmentation, and the global
        RNG that dropout and DataLoader shuffling draw from.

        Under torch.distributed the ranks share rank 0's seed (drawn when None, or kept in the
        checkpoint): the same shuffling, and augmentation and dropout streams offset by the rank.
        """
        world = self.world
        if world.active:
            wanted = seed
            if wanted is None and self.saved is not None and self.saved["seed"] is not None:
                wanted = int(self.saved["seed"])
            seed = ddp.agree_seed(wanted, world)
        self.run_seed = seed
        self.shuffle_gen: torch.Generator | None = None
        self.aug_gen: torch.Generator | None = None
        self.global_seed: int | None = None
        self.shuffle_seed = 0
        if seed is not None:
            base = torch.Generator().manual_seed(int(seed))
            s_shuffle, s_aug, s_global = torch.randint(0, 2**62, (3,), generator=base).tolist()
            self.shuffle_seed = s_shuffle
            self.shuffle_gen = torch.Generator().manual_seed(s_shuffle)
            self.aug_gen = torch.Generator(device=self.device).manual_seed(s_aug + world.rank)
            self.global_seed = s_global + world.rank

    def _setup_sources(self, train: Any, val: Any) -> None:
        dev, world = self.device, self.world
        self.train_source: Source = as_source(
            train, "train", dev, self.shuffle_gen, True, world, self.shuffle_seed
        )
        self.val_source: Source | None = (
            None if val is None else as_source(val, "val", dev, None, False, world)
        )

    def _setup_regularization(self, regularization: Any) -> None:
        self.plan: Plan = make_plan(regularization)
        needs_params = self.plan.penalties or self.plan.proximal or self.plan.constraints
        self.reg_params: list[torch.Tensor] = regularized(self.module) if needs_params else []
        self.weights = model_weights(self.module)
        for avg in self.plan.averaging:  # SWA averages from an epoch fit reaches
            start = getattr(avg, "start", 0)
            if avg.every == "epoch" and not 0 <= start < self.epochs:
                last = f"an int in [0, {self.epochs - 1}] (an epoch of fit(epochs={self.epochs}))"
                raise param_error("start", type(avg).__name__, last, start)
        self.step_averages = [a for a in self.plan.averaging if a.every == "step"]
        self.swapped = False  # the average is in the model for this epoch's measurements

    def _setup_task(self, loss: Callable[..., torch.Tensor] | None) -> None:
        """The loss and task are settled on the first training batch (see :meth:`_set_task`)."""
        self.user_loss = loss
        self.loss_fn: Callable[..., torch.Tensor] | None = None
        self.task: str | None = None
        self.check_shapes = True
        self._range_checked: set[str] = set()
        self.acc_dtype = torch.float32 if self.device.type == "mps" else torch.float64

    def _setup_state(self) -> None:
        """The next epoch to run, the rows so far, and why (and by which callback) it stopped."""
        self.epoch = 0
        self.rows: list[dict[str, Any]] = []
        self.stop_reason: StopReason | None = None
        self.stopper: int | None = None

    def _check_resumable(self) -> None:
        self.fingerprint: dict[str, Any] = {}
        if self.checkpoint is not None:
            self.fingerprint = self._fingerprint()
            if self.saved is not None:
                ckpt.check_fingerprint(self.checkpoint, self.saved["fingerprint"], self.fingerprint)

    def _make_optimizer(self, optimizer: Any, lr: float) -> Any:
        if optimizer is None:
            return torch.optim.Adam(self.module.parameters(), lr=lr)
        if isinstance(optimizer, torch.optim.Optimizer):
            return optimizer
        if callable(optimizer):  # an optimizer class or factory: called with (params, lr=lr)
            made = optimizer(self.module.parameters(), lr=lr)
            if callable(getattr(made, "step", None)) and hasattr(made, "param_groups"):
                return made
        raise ConfigError(
            "The 'optimizer' parameter of fit must be None (Adam), a torch.optim.Optimizer "
            "(reglab.optim.WeightDecay included) or an optimizer class called as "
            f"cls(params, lr=lr). Got {format_value(optimizer)} instead."
        )

    def _set_task(self, y: torch.Tensor) -> None:
        self.task, self.loss_fn, self.check_shapes = infer_task(self.user_loss, y)

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
        model, opt, plan, params = self.net, self.optimizer, self.plan, self.reg_params
        model.train()
        losses: list[torch.Tensor] = []
        counts: list[int] = []
        for x, y in self.train_source.train_batches(self.shuffle_gen):
            if self.loss_fn is None:
                self._set_task(y)
            assert self.loss_fn is not None
            x, y = self._transform(x, y)
            if self.sam:
                loss = self._sam_step(x, y)
            else:
                loss, total = self._losses(x, y)
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
            for avg in self.step_averages:
                avg.update(self.module)
            losses.append(loss.detach())
            counts.append(int(x.shape[0]))
        return losses, counts

    def _losses(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's data loss (what the ``loss`` column averages) and the total to minimize.

        With a paired penalty (RDrop) the model runs once on ``cat([x, x])``: the data loss is
        the mean over the two halves, the penalty compares them.
        """
        assert self.loss_fn is not None
        paired = self.plan.paired
        if paired:
            out, out2 = self.net(torch.cat([x, x])).chunk(2)
        else:
            out = self.net(x)
        y = self._align(out, y)
        self._check_labels("train", out, y)
        loss = self.loss_fn(out, y)
        if paired:
            loss = (loss + self.loss_fn(out2, y)) / 2
        total = loss
        for pair in paired:
            total = total + pair.penalty(out, out2)
        for pen in self.plan.loss_penalties:
            total = total + pen(self.reg_params)
        return loss, total

    def _sam_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One SAM step: the closure runs at ``w`` and at ``w + e``, gradient-mode penalties in
        both; batch-norm running statistics are updated by the first pass only."""
        calls = 0

        def closure() -> torch.Tensor:
            nonlocal calls
            keep = running_stats_kept(self.module) if calls else contextlib.nullcontext()
            calls += 1
            with keep:
                loss, total = self._losses(x, y)
                total.backward()
            for pen in self.plan.grad_penalties:
                pen.add_grad_(self.reg_params)
            return loss

        loss: torch.Tensor = self.optimizer.step(closure)
        return loss

    def _swap_in(self, epoch: int) -> None:
        """Fold in an epoch-wise average, then measure with the average (once there is one)."""
        for avg in self.plan.averaging:
            if avg.every == "epoch" and epoch >= avg.start:
                avg.update(self.module)
            self.swapped = avg.swap_in(self.module, self.train_source.eval_batches())
            if self.swapped and self.world.active:
                ddp.broadcast_buffers(self.module, self.world)  # recomputed batch norm: rank 0's

    def _swap_back(self) -> None:
        """Training continues from the training weights, not the average."""
        if self.swapped:
            for avg in self.plan.averaging:
                avg.swap_back(self.module)
            self.swapped = False

    @torch.no_grad()
    def _evaluate(self, name: str, source: Source, rows: int | None = None) -> BatchScores:
        """Per-batch mean losses and correct counts in eval mode, without synchronising.

        ``rows``: score only that many rows of the source (:meth:`TensorSource.eval_batches`).
        """
        assert self.loss_fn is not None

        def prepare(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            y = self._align(out, y)
            self._check_labels(name, out, y)
            return y

        task = str(self.task)
        batches = source.eval_batches(rows)
        return score_batches(self.module, batches, self.loss_fn, task, prepare)

    def _weight_stats(self) -> list[torch.Tensor]:
        """Weight norm, exact zeros and the penalty value, as device tensors (no sync)."""
        extra: list[torch.Tensor] = []
        with torch.no_grad():
            if self.weights:
                extra.extend(weight_stats_tensors(self.weights, self.acc_dtype))
            if self.plan.penalties:
                params = self.reg_params
                extra.append(torch.stack([p(params) for p in self.plan.penalties]).sum())
        return extra

    def _read_epoch(self, running: list[torch.Tensor], train_counts: list[int]) -> _Epoch:
        """Evaluate both splits and copy every number of the epoch to the host at once."""
        tr_vals, tr_counts, tr_total = self._evaluate(
            "train", self.train_source, self.train_curve_rows
        )
        va = None if self.val_source is None else self._evaluate("val", self.val_source)
        extra = self._weight_stats()
        parts = [*running, *tr_vals, *(va[0] if va else []), *extra]
        flat = torch.stack([t.to(self.acc_dtype) for t in parts]).cpu().tolist() if parts else []
        it: Iterator[float] = iter(flat)
        scored = self.task in ("classification", "binary")

        def rows(counts: list[int]) -> list[tuple[float, ...]]:
            if scored:
                return [(next(it), next(it), n) for n in counts]
            return [(next(it), n) for n in counts]

        run_rows: list[tuple[float, ...]] = [(next(it), n) for n in train_counts]
        tr_rows = rows(tr_counts)
        va_rows = rows(va[1]) if va is not None else None
        norm = zeros = None
        if self.weights:
            norm, zeros = next(it), next(it)
        penalty = next(it) if self.plan.penalties else 0.0
        va_total = va[2] if va is not None else 0
        return _Epoch(run_rows, tr_rows, va_rows, tr_total, va_total, norm, zeros, penalty)

    def _reduce(self, e: _Epoch) -> _Epoch:
        """Every rank's per-batch rows, combined as one process would (exact metrics)."""
        width = 3 if self.task in ("classification", "binary") else 2
        totals: list[tuple[float, ...]] = [(e.train_total, e.val_total, 1)]
        run, tr, va, totals = ddp.gather_rows(
            [e.running, e.train, e.val or [], totals], [2, width, width, 3], self.world
        )
        e.running, e.train = run, tr
        e.val = va if e.val is not None else None
        e.train_total = int(sum(t[0] for t in totals))
        e.val_total = int(sum(t[1] for t in totals))
        return e

    def _row(self, epoch: int, e: _Epoch, seconds_from: float) -> dict[str, Any]:
        """The History row of one epoch from its (reduced) numbers."""
        scored = self.task in ("classification", "binary")

        def loss_acc(batches: list[tuple[float, ...]], total: int) -> tuple[float, float | None]:
            return combine(batches, total, scored)

        train_loss, train_acc = loss_acc(e.train, e.train_total)
        val_loss = val_acc = gap = None
        if e.val is not None:
            val_loss, val_acc = loss_acc(e.val, e.val_total)
            if train_acc is not None and val_acc is not None:
                gap = train_acc - val_acc
            else:
                gap = val_loss - train_loss
        sparsity = None
        if e.zeros is not None:
            sparsity = e.zeros / sum(w.numel() for w in self.weights)
        return {
            "epoch": epoch,
            "loss": _mean_loss(e.running),
            "train_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "gap": gap,
            "penalty": e.penalty,
            "lr": float(self.optimizer.param_groups[0]["lr"]),
            "weight_norm": e.weight_norm,
            "sparsity": sparsity,
            "seconds": time.perf_counter() - seconds_from,
        }

    def _measure(self, epoch: int, seconds_from: float) -> dict[str, Any]:
        """Train one epoch, then measure it in eval mode: the History row."""
        running, train_counts = self._train_epoch()
        if self.world.active and self.ddp is not None:
            ddp.broadcast_buffers(self.module, self.world)
        if self.plan.averaging:
            self._swap_in(epoch)
        self.module.eval()
        numbers = self._read_epoch(running, train_counts)
        if self.world.active:
            numbers = self._reduce(numbers)
        return self._row(epoch, numbers, seconds_from)

    # -- decisions -----------------------------------------------------------------------------

    def _step_callbacks(self, row: dict[str, Any]) -> tuple[StopReason | None, int | None]:
        """Schedulers step, then callbacks decide; under torch.distributed all ranks agree.

        The row holds the metrics over all ranks already (the same on every rank), so each
        callback decides as a single process would; the one reduction here makes a stop on any
        rank (a callback with rank-local state) stop all.
        """
        for sched in self.schedulers:
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                value = row["val_loss"] if row["val_loss"] is not None else row["train_loss"]
                sched.step(value)
            else:
                sched.step()
        stopper = None
        for i, cb in enumerate(self.callbacks):
            if bool(cb.step(dict(row), self.module)) and stopper is None:
                stopper = i
        reason: StopReason | None = None
        if stopper is not None:
            found = getattr(self.callbacks[stopper], "stop_reason", None)
            reason = found if isinstance(found, StopReason) else StopReason.CALLBACK
        if self.world.active:
            reason = ddp.stop_on_all_ranks(reason, self.world)
        return reason, stopper

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

    # -- checkpoints ---------------------------------------------------------------------------

    def _fingerprint(self) -> dict[str, Any]:
        """What a resumed run must share with the run that wrote the checkpoint."""
        model = [
            f"{k} {tuple(v.shape)} {v.dtype}" if isinstance(v, torch.Tensor) else k
            for k, v in self.module.state_dict().items()
        ]
        return {
            "model": model,
            "optimizer": _describe_optimizer(self.optimizer),
            "schedulers": [type(s).__name__ for s in self.schedulers],
            "callbacks": [_describe(cb) for cb in self.callbacks],
            "regularization": [_ADDRESS.sub("", line) for line in self.plan.describe()],
            "loss": "default" if self.user_loss is None else _describe(self.user_loss),
            "seed": repr(self.seed),
            "world_size": self.world.size,
            "train": self.train_source.describe(),
            "val": "None" if self.val_source is None else self.val_source.describe(),
        }

    def _generators(self) -> dict[str, torch.Generator | None]:
        gens: dict[str, torch.Generator | None] = {
            "shuffle": self.shuffle_gen,
            "augment": self.aug_gen,
        }
        sources = [("train", self.train_source), ("val", self.val_source)]
        for name, source in sources:
            for i, g in enumerate(source.generators() if source is not None else []):
                gens[f"{name}{i}"] = g
        return gens

    def _save(self) -> None:
        assert self.checkpoint is not None
        rng = ckpt.get_rng(self._generators(), self.device)
        rngs = ddp.all_gather_objects(rng, self.world) if self.world.active else [rng]
        if self.world.rank != 0:
            return
        cbs = []
        for cb in self.callbacks:
            sd = getattr(cb, "state_dict", None)
            cbs.append(
                ckpt.plain(sd(), f"the callback {type(cb).__name__}") if callable(sd) else None
            )
        state = {
            "format": ckpt.FORMAT,
            "epoch": self.epoch,
            "seed": self.run_seed,
            "fingerprint": self.fingerprint,
            "model": self._training_state(),
            "optimizer": ckpt.plain(self.optimizer.state_dict(), "the optimizer"),
            "schedulers": [
                ckpt.plain(s.state_dict(), f"the scheduler {type(s).__name__}")
                for s in self.schedulers
            ],
            "callbacks": cbs,
            "rng": rngs,
            "history": {"rows": ckpt.plain(self.rows, "the History"), "task": self.task},
            "stop_reason": None if self.stop_reason is None else self.stop_reason.value,
            "stopper": self.stopper,
        }
        if self.plan.averaging:
            state["averaging"] = [
                ckpt.plain(a.state_dict(), f"the average {type(a).__name__}")
                for a in self.plan.averaging
            ]
        ckpt.save(self.checkpoint, state)

    def _training_state(self) -> dict[str, Any]:
        """The model's state dict with the training weights (not an average swapped in)."""
        if not self.swapped:
            return self.module.state_dict()
        for avg in self.plan.averaging:
            avg.swap_back(self.module)
        state = {k: v.clone() for k, v in self.module.state_dict().items()}
        for avg in self.plan.averaging:
            avg.swap_in(self.module, self.train_source.eval_batches())
        return state

    def _resume(self) -> None:
        """Continue from the checkpoint read at set-up (model, optimizer, ..., RNG, History)."""
        state = self.saved
        if state is None:
            return
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for sched, sd in zip(self.schedulers, state["schedulers"]):
            sched.load_state_dict(sd)
        for cb, sd in zip(self.callbacks, state["callbacks"]):
            if sd is not None and callable(getattr(cb, "load_state_dict", None)):
                cb.load_state_dict(sd)
        ckpt.set_rng(state["rng"][self.world.rank], self._generators(), self.device)
        self.epoch = int(state["epoch"])
        self.rows = [dict(r) for r in state["history"]["rows"]]
        self.task = state["history"]["task"]
        reason = state["stop_reason"]
        self.stop_reason = None if reason is None else StopReason(reason)
        self.stopper = state["stopper"]
        for avg, sd in zip(self.plan.averaging, state.get("averaging", [])):
            avg.load_state_dict(sd)
            if self.stop_reason is not None or self.epoch >= self.epochs:  # finished: the average
                self.swapped = avg.swap_in(self.module, self.train_source.eval_batches())

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> History:
        """Train for the remaining epochs (or until a stop) and return the History."""
        was_training = self.model.training
        bar = EpochBar(self.progress and self.world.rank == 0, self.epochs)
        try:
            with self._rng():
                if self.global_seed is not None:
                    torch.manual_seed(self.global_seed)
                self._resume()
                bar.skip(self.epoch)
                while self.stop_reason is None and self.epoch < self.epochs:
                    start = time.perf_counter()
                    self.train_source.set_epoch(self.epoch)
                    row = self._measure(self.epoch, start)
                    self.rows.append(row)
                    self.epoch += 1
                    bar.update(row)
                    if not math.isfinite(row["loss"]):
                        self.stop_reason = StopReason.NON_FINITE
                    else:
                        self.stop_reason, self.stopper = self._step_callbacks(row)
                    if self.stop_reason is None and self.epoch < self.epochs:
                        self._swap_back()
                    if self.checkpoint is not None:
                        self._save()
            for avg in self.plan.averaging:  # the average stays in the model
                avg.release()
            for i, cb in enumerate(self.callbacks):
                if i != self.stopper and callable(getattr(cb, "finish", None)):
                    cb.finish(self.module)
        finally:
            bar.close()
            self.model.train(was_training)
        return History(
            self.rows,
            best_epoch=self._best_epoch(),
            stop_reason=self.stop_reason or StopReason.COMPLETED,
            task=self.task or "classification",
        )
