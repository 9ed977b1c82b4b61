"""torch.distributed support for ``fit``: the rank's place, data shards, every cross-rank reduction.

Every collective that training runs lives here: the shared seed, rank 0's buffers, the exact
reduction of the per-batch numbers behind a History row, the RNG states of a checkpoint, and the
stop decision (any rank stopping stops all, decided once per epoch by the loop).
:func:`step_on_all_ranks` gives a hand-written loop the same guarantee for a single-process
callback such as ``EarlyStopping``.

Under ``torchrun`` every rank runs the same ``fit`` call. The training data is split as
``torch.utils.data.DistributedSampler`` splits it (one permutation shared by all ranks, padded to
a multiple of the world size, rank ``r`` takes every ``world``-th index from ``r``), so every rank
runs the same number of steps. Evaluation splits the single-process batches among the ranks
without padding, and the per-batch numbers are gathered so that each rank combines exactly the
numbers one process would have: the metrics equal the single-process ones.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from ..callbacks import StopReason
from ..errors import ConfigError

__all__ = [
    "World",
    "agree_seed",
    "all_gather_objects",
    "broadcast_buffers",
    "current_world",
    "eval_loader",
    "gather_rows",
    "mean_over_ranks",
    "shard_indices",
    "step_on_all_ranks",
    "stop_on_all_ranks",
    "train_loader",
]


@dataclass(frozen=True)
class World:
    """This process's rank among ``size`` and the device collectives run on."""

    rank: int = 0
    size: int = 1
    backend: str = ""
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def active(self) -> bool:
        return self.size > 1


def current_world() -> World:
    """The initialised default process group as a :class:`World` (size 1 when there is none)."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    size = int(dist.get_world_size())
    if size == 1:
        return World()
    backend = str(dist.get_backend())
    device = torch.device("cpu")
    if backend == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())
    return World(int(dist.get_rank()), size, backend, device)


def local_cuda_device() -> torch.device:
    """The GPU of this rank on its machine: ``LOCAL_RANK`` (set by torchrun), else rank % GPUs."""
    local = os.environ.get("LOCAL_RANK")
    if local is None:
        local = str(torch.distributed.get_rank() % max(1, torch.cuda.device_count()))
    return torch.device("cuda", int(local))


def agree_seed(seed: int | None, world: World) -> int:
    """Rank 0's seed on every rank (drawn from rank 0's global RNG when None)."""
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    t = torch.tensor([seed], dtype=torch.int64, device=world.device)
    torch.distributed.broadcast(t, src=0)
    return int(t.item())


def stop_on_all_ranks(reason: StopReason | None, world: World) -> StopReason | None:
    """The stop decision every rank agrees on: the largest reason code over the ranks.

    A rank never goes on while another stops (0, "go on", is the smallest code).
    """
    t = torch.tensor([StopReason.code_of(reason)], dtype=torch.int64, device=world.device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return StopReason.from_code(int(t.item()))


def mean_over_ranks(values: list[float], world: World) -> list[float]:
    """Each value averaged over the ranks (float64 sum, then divided by the world size)."""
    t = torch.tensor(values, dtype=torch.float64, device=world.device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
    return [v / world.size for v in t.cpu().tolist()]


def _averaged(metrics: Any, world: World) -> Any:
    """``metrics`` (a number or a dict) with every float averaged over the ranks."""

    def is_float(v: Any) -> bool:
        if isinstance(v, torch.Tensor):
            return v.numel() == 1 and v.is_floating_point()
        return isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral)

    if not isinstance(metrics, Mapping):
        return mean_over_ranks([float(metrics)], world)[0] if is_float(metrics) else metrics
    keys = [k for k, v in metrics.items() if is_float(v)]
    means = mean_over_ranks([float(metrics[k]) for k in keys], world) if keys else []
    return {**metrics, **dict(zip(keys, means))}


def step_on_all_ranks(
    callback: Any, metrics: Any, model: nn.Module | None = None, world: World | None = None
) -> bool:
    """``callback.step`` for a hand-written distributed loop; True on every rank when any stops.

    The metrics (a number or a dict; every float in it) are averaged over the ranks first, so a
    single-process callback such as ``EarlyStopping`` decides on the same numbers everywhere;
    then the ranks agree on the stop (:func:`stop_on_all_ranks`). A rank whose callback did not
    stop itself calls its ``finish(model)`` (``EarlyStopping`` restores its best weights there).
    Without a process group of more than one rank this is ``callback.step(metrics, model)``.

    Example:
        >>> from reglab.callbacks import EarlyStopping
        >>> es = EarlyStopping(patience=0)
        >>> step_on_all_ranks(es, {"val_loss": 1.0}), step_on_all_ranks(es, {"val_loss": 2.0})
        (False, True)
    """
    world = current_world() if world is None else world
    if not world.active:
        return bool(callback.step(metrics, model))
    stopped = bool(callback.step(_averaged(metrics, world), model))
    reason: StopReason | None = None
    if stopped:
        found = getattr(callback, "stop_reason", None)
        reason = found if isinstance(found, StopReason) else StopReason.CALLBACK
    agreed = stop_on_all_ranks(reason, world)
    if agreed is not None and not stopped and callable(getattr(callback, "finish", None)):
        callback.finish(model)
    return agreed is not None


def broadcast_buffers(module: nn.Module, world: World) -> None:
    """Rank 0's buffers (batch-norm running statistics) on every rank.

    Each rank updated them from its own shard during the epoch; the model that is measured and
    saved is rank 0's, as DDP's next forward would make it.
    """
    works = [
        torch.distributed.broadcast(b, src=0, async_op=True) for b in module.buffers() if b.numel()
    ]
    for w in works:
        assert w is not None
        w.wait()


def gather_rows(
    sections: list[list[tuple[float, ...]]], widths: list[int], world: World
) -> list[list[tuple[float, ...]]]:
    """Every rank's rows of each section, on every rank (two collectives).

    A row is a tuple of ``widths[i]`` numbers whose last is a count; rows are padded with zeros
    to the longest rank's section and the padding (count 0) is dropped again.
    """
    dist = torch.distributed
    sizes_t = torch.tensor([len(s) for s in sections], dtype=torch.int64, device=world.device)
    dist.all_reduce(sizes_t, op=dist.ReduceOp.MAX)
    sizes = [int(s) for s in sizes_t.tolist()]
    flat: list[float] = []
    for rows, size, width in zip(sections, sizes, widths):
        for row in rows:
            flat.extend(row)
        flat.extend([0.0] * ((size - len(rows)) * width))
    payload = torch.tensor(flat, dtype=torch.float64).to(world.device)
    out = [torch.empty_like(payload) for _ in range(world.size)]
    dist.all_gather(out, payload)
    merged: list[list[tuple[float, ...]]] = [[] for _ in sections]
    for t in out:
        values = t.cpu().tolist()
        offset = 0
        for i, (size, width) in enumerate(zip(sizes, widths)):
            for j in range(size):
                row = tuple(values[offset + j * width : offset + (j + 1) * width])
                if row[-1] != 0:
                    merged[i].append(row)
            offset += size * width
    return merged


def all_gather_objects(obj: Any, world: World) -> list[Any]:
    """Every rank's ``obj`` (in-memory pickles between ranks; used for RNG states)."""
    out: list[Any] = [None] * world.size
    torch.distributed.all_gather_object(out, obj)
    return out


# -- data -------------------------------------------------------------------------------------


def shard_indices(perm: torch.Tensor, world: World) -> torch.Tensor:
    """``DistributedSampler``'s split of one permutation: pad by wrapping, then stride."""
    n = int(perm.numel())
    total = math.ceil(n / world.size) * world.size
    if total > n:
        perm = perm.repeat(math.ceil(total / n))[:total]
    return perm[world.rank : total : world.size]


class EveryNth(Sampler[list[int]]):
    """The batches ``rank, rank + world, ...`` of a batch sampler (evaluation shards)."""

    def __init__(self, batches: Any, world: World) -> None:
        self.batches = batches
        self.rank = world.rank
        self.size = world.size

    def __iter__(self) -> Iterator[list[int]]:
        for i, batch in enumerate(self.batches):
            if i % self.size == self.rank:
                yield batch

    def __len__(self) -> int:
        n = len(self.batches)
        return max(0, math.ceil((n - self.rank) / self.size))


def _rebuild(loader: DataLoader[Any], **changes: Any) -> DataLoader[Any]:
    """The same DataLoader with another sampler or batch sampler."""
    args: dict[str, Any] = {
        "dataset": loader.dataset,
        "batch_size": loader.batch_size,
        "num_workers": loader.num_workers,
        "collate_fn": loader.collate_fn,
        "pin_memory": loader.pin_memory,
        "drop_last": loader.drop_last,
        "timeout": loader.timeout,
        "worker_init_fn": loader.worker_init_fn,
        "multiprocessing_context": loader.multiprocessing_context,
        "generator": loader.generator,
        "persistent_workers": loader.persistent_workers,
        "pin_memory_device": loader.pin_memory_device,
    }
    if loader.num_workers > 0:
        args["prefetch_factor"] = loader.prefetch_factor
    args.update(changes)
    return DataLoader(**args)


def _shardable(loader: Any) -> bool:
    return (
        isinstance(loader, DataLoader)
        and not isinstance(loader.dataset, IterableDataset)
        and loader.batch_size is not None
    )


def train_loader(loader: Any, name: str, world: World, seed: int) -> Any:
    """``loader`` with its sampler replaced by a ``DistributedSampler`` (shuffle kept).

    A DataLoader that already has a ``DistributedSampler`` is used as it is; so are iterables
    that are not DataLoaders and DataLoaders over an ``IterableDataset`` (each rank's must yield
    its own shard, the same number of batches on every rank).
    """
    if not _shardable(loader):
        return loader
    sampler = loader.sampler
    if isinstance(sampler, DistributedSampler):
        return loader
    plain_random = (
        type(sampler) is RandomSampler
        and not sampler.replacement
        and sampler._num_samples is None  # the only way to tell a custom size
    )
    if type(loader.batch_sampler) is not BatchSampler or not (
        type(sampler) is SequentialSampler or plain_random
    ):
        raise ConfigError(
            f"fit cannot shard {name!r} over {world.size} ranks: its DataLoader uses the "
            f"sampler {type(sampler).__name__} (fit shards sequential or shuffled DataLoaders). "
            "Pass a DataLoader with a torch.utils.data.DistributedSampler instead."
        )
    shard: DistributedSampler[Any] = DistributedSampler(
        loader.dataset,
        num_replicas=world.size,
        rank=world.rank,
        shuffle=plain_random,
        seed=seed,
        drop_last=False,
    )
    return _rebuild(loader, sampler=shard)


def eval_loader(loader: Any, world: World) -> Any:
    """The single-process evaluation batches (in dataset order, unpadded), every world-th one.

    Iterables that cannot be split are used as they are: the reduction then averages the same
    numbers from every rank, which leaves the metrics unchanged.
    """
    if not _shardable(loader):
        return loader
    assert loader.batch_size is not None
    batches = BatchSampler(
        SequentialSampler(range(len(loader.dataset))),
        batch_size=loader.batch_size,
        drop_last=False,
    )
    return _rebuild(loader, batch_size=1, drop_last=False, batch_sampler=EveryNth(batches, world))
