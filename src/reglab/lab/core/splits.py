"""The one split cache of the lab: data loaded once, split once per seed (and training size).

:class:`SplitCache` is what a worker keeps between cells, whatever the front end; a
:class:`SplitPlan` says what to split. A training-size sweep
(``StudyConfig.train_sizes``) trains every recipe at several training sizes. For a seed,
the data is split once, for the largest size ``N`` (:func:`reglab.data.split`, stratified and
seeded as in any study); a smaller size ``n`` trains on the first ``n`` rows of
:func:`nested_order` of those ``N`` training rows and keeps the same validation and test rows.
So, for one seed, every size is validated and tested on exactly the same examples, and the
training set of a smaller size is contained in every larger one: a difference between sizes
is the training data's size, not a different draw. Encoding and scaling are fit on the ``n``
training rows only, as :func:`~reglab.data.split` would.

For classification every prefix of the order is stratified: class ``c`` with ``N_c`` of the
``N`` training rows contributes its ``j``-th row (its rows in a seeded random order) at key
``j / N_c``, and rows are taken by increasing key (ties: classes in a seeded random order).
Every class appears once before any appears twice, and a prefix of ``n`` rows holds close to
``n * N_c / N`` rows of class ``c``.

Example:
    >>> import torch
    >>> y = torch.tensor([0, 0, 0, 0, 1, 1])
    >>> order = nested_order(y, seed=0)
    >>> sorted(int(v) for v in y[order[:3]])
    [0, 0, 1]
    >>> check_train_sizes("StudyConfig", [50, 100, 200])
    (50, 100, 200)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ... import data as rd
from ...errors import ConfigError, format_value

__all__ = [
    "SplitCache",
    "SplitPlan",
    "check_train_sizes",
    "nested_order",
    "pool_split",
    "sized_splits",
]


@dataclass(frozen=True)
class SplitPlan:
    """What a front end splits: a dataset (name, label and text columns) and the split's sizes.

    ``train_sizes`` makes the plan a training-size sweep (see the module); ``test`` is
    ``"official"``, ``"random"`` or None, as in :func:`reglab.data.split`.
    """

    data: str
    target: str | None = None
    text: str | None = None
    train_size: int | float | None = None
    val_size: int | float | None = None
    test: str | None = None
    train_sizes: tuple[int, ...] | None = None


class SplitCache:
    """Each worker loads a dataset once and splits it once per (plan, seed, size), on its device.

    The one cache of every front end: a study's workers, the claims' cells (several datasets
    in one process) and the tuner's trials. The splits keep the stored dtype (uint8 images stay
    uint8) and are moved to ``device`` once; batches are made from them there. In a sweep the
    data is split once per seed, for the largest size, and each smaller size subsets its
    training rows (:func:`sized_splits`); only the splits of the size being trained are kept,
    since a sweep's cells run size by size. :meth:`keep` hands over a dataset already loaded.
    """

    def __init__(self, device: Any = "cpu") -> None:
        self.device = device
        self._data: dict[tuple[str, str | None, str | None], Any] = {}
        self._splits: dict[tuple[SplitPlan, int, int | None], Any] = {}
        self._bases: dict[tuple[SplitPlan, int], tuple[Any, Tensor]] = {}

    @staticmethod
    def _key(plan: SplitPlan) -> tuple[str, str | None, str | None]:
        return (plan.data, plan.target, plan.text)

    def keep(self, plan: SplitPlan, dataset: Any) -> None:
        """Use ``dataset`` (already loaded by the caller) for ``plan``'s data."""
        if dataset is not None:
            self._data[self._key(plan)] = dataset

    def dataset(self, plan: SplitPlan) -> Any:
        """The dataset of ``plan``, loaded on first use."""
        key = self._key(plan)
        if key not in self._data:
            self._data[key] = rd.load_dataset(plan.data, target=plan.target, text=plan.text)
        return self._data[key]

    def splits(self, plan: SplitPlan, seed: int, train_size: int | None = None) -> Any:
        """The :class:`~reglab.data.Splits` of ``seed`` (at ``train_size`` in a sweep)."""
        key = (plan, seed, train_size)
        if key not in self._splits:
            if train_size is None:
                splits = self._split(plan, seed, plan.train_size)
            else:
                self._splits = {k: v for k, v in self._splits.items() if k[2] == train_size}
                base, order = self._base(plan, seed)
                splits = sized_splits(self.dataset(plan), base, order, train_size)
            self._splits[key] = splits.to(self.device)
        return self._splits[key]

    def _split(self, plan: SplitPlan, seed: int, train_size: int | float | None) -> Any:
        # A size left None fits the data, as a study's settings say (front ends that prepare
        # their settings make both explicit first).
        dataset = self.dataset(plan)
        train, val = rd.fitted_sizes(dataset, train_size, plan.val_size, plan.test)
        return rd.split(dataset, train_size=train, val_size=val, seed=seed, test=plan.test)

    def _base(self, plan: SplitPlan, seed: int) -> tuple[Any, Tensor]:
        """The split of ``seed`` at the largest size, and the order its training rows join in."""
        if (plan, seed) not in self._bases:
            assert plan.train_sizes is not None
            base = self._split(plan, seed, plan.train_sizes[-1])
            stratify = base.task == "classification"
            self._bases[(plan, seed)] = (base, nested_order(base.train.y, seed, stratify=stratify))
        return self._bases[(plan, seed)]


def pool_split(dataset: Any, splits: Any, seed: int) -> Any:
    """A seeded redraw of ``splits``' training and validation examples, at the same sizes.

    The test examples stay out. The redraw keeps one test example (a split needs one), so its
    validation part has one example fewer than ``splits``'.
    """
    pool = torch.sort(torch.cat([splits.train_index, splits.val_index])).values
    return rd.split(
        dataset.subset(pool),
        train_size=len(splits.train),
        val_size=len(splits.val) - 1,
        seed=seed,
    )


def check_train_sizes(owner: str, value: Any) -> tuple[int, ...]:
    """``value`` as a tuple of distinct counts >= 1 in ascending order, or a one-line error.

    Example:
        >>> check_train_sizes("StudyConfig", [500, 200])
        Traceback (most recent call last):
        ...
        reglab.errors.ConfigError: The 'train_sizes' parameter of StudyConfig must be distinct counts >= 1 in ascending order (e.g. 200,500). Got [500, 200] instead.
    """
    items = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else None
    ok = bool(items) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in items or ()
    )
    sizes = tuple(int(v) for v in items or ()) if ok else ()
    if not ok or any(a >= b for a, b in pairwise(sizes)):
        example = ",".join(map(str, sorted(set(sizes)))) if ok else "200,500"
        raise ConfigError(
            f"The 'train_sizes' parameter of {owner} must be distinct counts >= 1 in ascending "
            f"order (e.g. {example}). Got {format_value(value)} instead."
        )
    return sizes


def nested_order(y: Tensor, seed: int, *, stratify: bool = True) -> Tensor:
    """A seeded order of training rows whose every prefix is a training set (see the module).

    ``y`` holds the targets of the training rows: classes (int64) are stratified, and with
    ``stratify=False`` (regression) the order is a plain seeded shuffle. Returns the row
    positions ``0..N-1`` in the order they join the training set.
    """
    generator = torch.Generator().manual_seed(seed)
    if not stratify:
        return torch.randperm(len(y), generator=generator)
    labels = y.cpu().numpy()
    n = len(labels)
    classes, counts = np.unique(labels, return_counts=True)
    tie = torch.randperm(len(classes), generator=generator).numpy()
    key = np.zeros(n, dtype=np.float64)
    rank = np.zeros(n, dtype=np.int64)
    for i, (c, count) in enumerate(zip(classes, counts)):
        rows = np.flatnonzero(labels == c)
        rows = rows[torch.randperm(len(rows), generator=generator).numpy()]
        key[rows] = np.arange(len(rows)) / count
        rank[rows] = tie[i]
    return torch.from_numpy(np.lexsort((rank, key)).astype(np.int64))


def sized_splits(dataset: Any, base: Any, order: Tensor, n: int) -> Any:
    """The :class:`~reglab.data.Splits` of ``base`` with its first ``n`` training rows by ``order``.

    Validation and test hold the rows of ``base``; encoding and scaling are fit on the ``n``
    training rows. ``n`` equal to the size of ``base``'s training split returns ``base``.
    """
    # The split's own assembly (encode, scale on train only), so a sized split is exactly what
    # split() makes from the same rows.
    if n == len(base.train):
        return base
    rows = torch.sort(base.train_index[order[:n]]).values
    return rd.split_rows(
        dataset, rows, base.val_index, base.test_index, test_source=base.test_source
    )
