"""Re-iterable batches of a dataset: what a training loop iterates once per epoch.

:meth:`reglab.data.Dataset.batches` (and :meth:`reglab.data.text.EncodedTexts.batches`) is a
generator: one pass. :class:`Batches` wraps it for ``fit`` and the lab's cells: it has a
``len`` (batches per pass), every pass calls ``batches`` again (a new shuffle from the same
generator, so epoch ``k``'s order is the ``k``-th draw), and each batch moves to ``device``.

Example:
    >>> import torch
    >>> from reglab.data import make_dataset
    >>> ds = make_dataset(torch.arange(10.0).reshape(5, 2), [0, 1, 0, 1, 0], name="toy")
    >>> loader = ds.batch_iterable(2, shuffle=True, generator=torch.Generator().manual_seed(0))
    >>> len(loader), [len(y) for _, y in loader], [len(y) for _, y in loader]
    (3, [2, 2, 1], [2, 2, 1])
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Protocol

import torch
from torch import Tensor

__all__ = ["Batchable", "Batches"]


class Batchable(Protocol):
    """What :class:`Batches` draws from: a sized dataset with a ``batches`` generator."""

    def __len__(self) -> int: ...

    def batches(
        self,
        batch_size: int = ...,
        *,
        shuffle: bool = ...,
        generator: torch.Generator | None = ...,
    ) -> Iterator[tuple[Tensor, Tensor]]: ...


class Batches:
    """The batches of ``data``, pass after pass (see the module).

    ``evaluation``, when set, is what ``fit`` scores the training split on instead of these
    batches (e.g. a fixed sample of it, or the texts without their EDA copies).
    """

    def __init__(
        self,
        data: Batchable,
        batch_size: int,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        evaluation: Any = None,
    ) -> None:
        self.data, self.batch_size = data, batch_size
        self.shuffle, self.generator = shuffle, generator
        self.device = None if device is None else torch.device(device)
        self.evaluation = evaluation

    def __len__(self) -> int:
        return math.ceil(len(self.data) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        passes = self.data.batches(self.batch_size, shuffle=self.shuffle, generator=self.generator)
        if self.device is None:
            yield from passes
            return
        for x, y in passes:
            yield x.to(self.device), y.to(self.device)


class BatchIterable:
    """Gives a dataset with a ``batches`` generator its :meth:`batch_iterable`."""

    def batch_iterable(
        self,
        batch_size: int = 256,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> Batches:
        """``batches`` pass after pass, with a ``len``: what ``fit`` iterates each epoch
        (:class:`Batches`; a new shuffle each pass, batches on ``device``)."""
        data: Batchable = self  # type: ignore[assignment]
        return Batches(data, batch_size, shuffle=shuffle, generator=generator, device=device)
