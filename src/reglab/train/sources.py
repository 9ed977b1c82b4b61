"""Batch sources for ``fit``: (X, y) tensors served directly, or any DataLoader."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import ConfigError, format_value
from .distributed import World, eval_loader, shard_indices, train_loader

__all__ = ["DEFAULT_BATCH_SIZE", "EVAL_BATCH_SIZE", "LoaderSource", "TensorSource", "as_source"]

#: Training batch size for (X, y) tensors and Datasets (Keras' ``fit`` default).
DEFAULT_BATCH_SIZE = 32
#: Batch size of the eval-mode passes over (X, y) tensors (does not change the results).
EVAL_BATCH_SIZE = 1024

Batch = tuple[torch.Tensor, torch.Tensor]


class TensorSource:
    """(X, y) tensors, moved to the device once; training order reshuffled every epoch.

    Under torch.distributed each rank trains on its ``DistributedSampler``-style shard of the
    shared permutation and evaluates every ``world``-th evaluation batch.
    """

    def __init__(
        self, X: torch.Tensor, y: torch.Tensor, device: torch.device, world: World | None = None
    ) -> None:
        self.X = X.to(device)
        self.y = y.to(device)
        self.n = int(X.shape[0])
        self.world = world or World()
        self._subset: tuple[int, torch.Tensor, torch.Tensor] | None = None

    def __len__(self) -> int:
        return math.ceil(self.n / DEFAULT_BATCH_SIZE)

    def describe(self) -> str:
        X, y = self.X, self.y
        return f"tensors X {tuple(X.shape)} {X.dtype}, y {tuple(y.shape)} {y.dtype}"

    def set_epoch(self, epoch: int) -> None:
        pass

    def generators(self) -> list[torch.Generator]:
        return []

    def train_batches(self, generator: torch.Generator | None) -> Iterator[Batch]:
        # The permutation is drawn on the CPU so that the same seed gives the same order on
        # every device (and on every rank).
        perm = torch.randperm(self.n, generator=generator)
        if self.world.active:
            perm = shard_indices(perm, self.world)
        perm = perm.to(self.X.device)
        for i in range(0, int(perm.numel()), DEFAULT_BATCH_SIZE):
            idx = perm[i : i + DEFAULT_BATCH_SIZE]
            yield self.X.index_select(0, idx), self.y.index_select(0, idx)

    def eval_batches(self, rows: int | None = None) -> Iterator[Batch]:
        """The split in evaluation batches; ``rows``: only that many evenly spaced rows.

        The rows ``i * n // rows`` are the same every epoch and spread over the whole split
        (a split sorted by class gives each class its share).
        """
        X, y, n = self.X, self.y, self.n
        if rows is not None and rows < n:
            if self._subset is None or self._subset[0] != rows:
                idx = (torch.arange(rows, dtype=torch.int64) * n // rows).to(X.device)
                self._subset = (rows, X.index_select(0, idx), y.index_select(0, idx))
            _, X, y = self._subset
            n = rows
        step = EVAL_BATCH_SIZE * self.world.size
        for i in range(EVAL_BATCH_SIZE * self.world.rank, n, step):
            yield X[i : i + EVAL_BATCH_SIZE], y[i : i + EVAL_BATCH_SIZE]

    def targets(self) -> torch.Tensor:
        return self.y


class LoaderSource:
    """A DataLoader (or any re-iterable of ``(inputs, targets)`` batches) used as it is.

    fit scores the training data on the same batches, unless the iterable names other ones in
    an ``evaluation`` attribute (another re-iterable of batches: for example the training rows
    without their augmented copies, in larger batches).
    """

    def __init__(
        self,
        loader: Iterable[Any],
        name: str,
        device: torch.device,
        world: World | None = None,
        shuffle_seed: int = 0,
    ) -> None:
        self.loader = loader
        self.name = name
        self.device = device
        self.non_blocking = device.type == "cuda"
        self.train_loader: Iterable[Any] = loader
        scored = getattr(loader, "evaluation", None)
        self.eval_loader: Iterable[Any] = loader if scored is None else scored
        world = world or World()
        self.world = world
        if world.active:
            if name == "train":
                self.train_loader = train_loader(loader, name, world, shuffle_seed)
            self.eval_loader = eval_loader(self.eval_loader, world)
        sampler = getattr(self.train_loader, "sampler", None)
        self._set_epoch = getattr(sampler, "set_epoch", None)

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    def describe(self) -> str:
        try:
            size = f"{len(self.loader)} batches"  # type: ignore[arg-type]
        except TypeError:
            size = "unsized"
        return f"{type(self.loader).__name__} of {size}"

    def set_epoch(self, epoch: int) -> None:
        """``DistributedSampler.set_epoch``: a new shared permutation each epoch."""
        if callable(self._set_epoch):
            self._set_epoch(epoch)

    def generators(self) -> list[torch.Generator]:
        """Generators the loader draws from (their states go into checkpoints)."""
        gens = [getattr(self.loader, "generator", None)]
        gens.append(getattr(getattr(self.loader, "sampler", None), "generator", None))
        out: list[torch.Generator] = []
        for g in gens:
            if isinstance(g, torch.Generator) and all(g is not o for o in out):
                out.append(g)
        return out

    def _batches(self, loader: Iterable[Any]) -> Iterator[Batch]:
        count = 0
        for batch in loader:
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise ConfigError(
                    f"fit expects {self.name!r} to yield (inputs, targets) pairs. Got a batch "
                    f"of type {type(batch).__name__} instead."
                )
            x, y = batch
            if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
                raise ConfigError(
                    f"fit expects {self.name!r} to yield (inputs, targets) pairs of tensors. "
                    f"Got ({type(x).__name__}, {type(y).__name__}) instead."
                )
            count += 1
            yield (
                x.to(self.device, non_blocking=self.non_blocking),
                y.to(self.device, non_blocking=self.non_blocking),
            )
        if count == 0 and loader is self.loader:
            raise ConfigError(
                f"The {self.name!r} parameter of fit must yield at least one batch per epoch. "
                f"Got an iterable that yielded none (an exhausted generator?) instead."
            )

    def train_batches(self, generator: torch.Generator | None) -> Iterator[Batch]:
        return self._batches(self.train_loader)

    def eval_batches(self, rows: int | None = None) -> Iterator[Batch]:
        """The scoring pass; ``rows``: only its first ``rows`` rows (per rank, their share).

        The loader is iterated as it always is (so whatever it draws at the start of a pass,
        such as a shuffling permutation, is drawn as before), and the batch that crosses
        ``rows`` is cut before it reaches the model. A loader in a fixed order gives the same
        rows every epoch; one that shuffles, a fresh random subset.
        """
        batches = self._batches(self.eval_loader)
        if rows is None:
            return batches
        return _first_rows(batches, math.ceil(rows / self.world.size))

    def targets(self) -> None:
        return None


def _first_rows(batches: Iterator[Batch], rows: int) -> Iterator[Batch]:
    """The batches up to ``rows`` rows in all (the last one cut); none after that is made."""
    left = rows
    for x, y in batches:
        if x.shape[0] > left:
            x, y = x[:left], y[:left]
        left -= int(x.shape[0])
        yield x, y
        if left <= 0:
            return


Source = TensorSource | LoaderSource


_EXPECTED = "a DataLoader, a Dataset or an (X, y) pair of tensors with at least one sample"


def as_source(
    data: Any,
    name: str,
    device: torch.device,
    generator: torch.Generator | None,
    train: bool,
    world: World | None = None,
    shuffle_seed: int = 0,
) -> Source:
    """Wrap ``data`` (``train`` or ``val`` of ``fit``) as a batch source, checking it is usable."""
    pair = None
    if isinstance(data, (tuple, list)) and len(data) == 2:
        pair = data
    elif callable(getattr(data, "tensors", None)) and not isinstance(data, DataLoader):
        pair = data.tensors()  # reglab.data.Dataset
    if pair is not None:
        X, y = pair
        if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise ConfigError(
                f"The {name!r} parameter of fit must be {_EXPECTED}. "
                f"Got a pair of ({type(X).__name__}, {type(y).__name__}) instead."
            )
        if X.dim() == 0 or y.dim() == 0 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise ConfigError(
                f"The {name!r} parameter of fit must be {_EXPECTED} and as many targets "
                f"as inputs. Got X of shape {tuple(X.shape)} and y of shape {tuple(y.shape)} "
                "instead."
            )
        return TensorSource(X, y, device, world)
    if isinstance(data, Dataset) and not isinstance(data, Iterable):
        if len(data) == 0:  # type: ignore[arg-type]
            raise ConfigError(
                f"The {name!r} parameter of fit must be {_EXPECTED}. Got an empty "
                f"{type(data).__name__} instead."
            )
        data = DataLoader(
            data,
            batch_size=DEFAULT_BATCH_SIZE if train else EVAL_BATCH_SIZE,
            shuffle=train,
            generator=generator,
        )
    if isinstance(data, (str, bytes, torch.Tensor)) or not isinstance(data, Iterable):
        raise ConfigError(
            f"The {name!r} parameter of fit must be {_EXPECTED}. Got {format_value(data)} instead."
        )
    try:
        n = len(data)  # type: ignore[arg-type]
    except TypeError:
        n = None
    if n == 0:
        raise ConfigError(
            f"The {name!r} parameter of fit must be {_EXPECTED}. Got a "
            f"{type(data).__name__} with 0 batches instead."
        )
    return LoaderSource(data, name, device, world, shuffle_seed)
