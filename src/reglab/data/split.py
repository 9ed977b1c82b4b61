"""Train / validation / test splits: stratified, seeded, scaled on the training split only.

Sizes are counts (``int``) or fractions of the pool (``float``, rounded). The test split is the
dataset's official test rows where it has them (``test="official"``, the default there: IDX
``t10k-*`` files, CIFAR-10's ``test_batch``, the built-ins ``fashion_mnist`` and ``mnist1d``),
and train/validation are drawn from the other rows (the pool); otherwise (``test="random"``) the
pool is every row and the test split is what train/validation leave. The test split never fits
anything. :func:`default_sizes` gives train/validation sizes that fit any pool. For classification the split is stratified: each class is
divided in proportion to its size (largest remainders), every class gets at least one training
sample, and one validation/test sample when the sizes allow it. Tabular features are then
standardized, ``z = (x - mean_train) / std_train`` (population std; a constant feature keeps
``std = 1``), with statistics from the training split only. Images are left as loaded (values in
[0, 1]); ``scale=True`` standardizes them per channel, again with training statistics only.
uint8 images stay uint8 in the parts: the divisor and the standardization are applied per
batch (``Dataset.batches``, ``Dataset.tensors(start, stop)``). A table with string columns or
missing values is encoded by :class:`reglab.data.encode.TableEncoder`, fit on the training rows
(``Splits.encoding`` says what was done), then standardized; a table whose training rows hold a
constant column gets the encoder too (numbers pass through unchanged), so ``Splits.encoding``
marks the column ``constant``. A classification target with fewer than two classes in the
training split is a ``ConfigError`` that gives the rows of each class.

Example:
    >>> from reglab.data import load_dataset
    >>> sp = split(load_dataset("iris"), train_size=0.6, val_size=0.2, seed=0)
    >>> len(sp.train), len(sp.val), len(sp.test)
    (90, 30, 30)
    >>> [int(n) for n in sp.train.y.bincount()]
    [30, 30, 30]
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from .._checks import (
    Boolean,
    Constraints,
    InstanceOf,
    Interval,
    NoneOk,
    OneOf,
    validate_params,
)
from ..errors import ConfigError, param_error
from ._dataset import CHUNK_ROWS, Dataset, _with
from .encode import TableEncoder

__all__ = [
    "TEST_SOURCES",
    "Splits",
    "StandardScaler",
    "default_sizes",
    "pool_size",
    "split",
    "split_rows",
]

TEST_SOURCES = ("official", "random")
# Default train / validation sizes: at most these, and at most 1/2 and 1/4 of the pool.
DEFAULT_TRAIN_SIZE, DEFAULT_VAL_SIZE = 200, 300


class StandardScaler:
    """``z = (x - mean) / std`` with statistics from the data it was fit on.

    ``std`` is the population standard deviation; a zero ``std`` (constant feature) is replaced
    by 1 so the feature becomes 0 rather than NaN. For ``(N, F)`` data the statistics are per
    feature, shape ``(F,)``; with ``per_channel=True`` on ``(N, C, H, W)`` images they are per
    channel, shape ``(C, 1, 1)``; for ``(N,)`` targets they are scalars.

    Example:
        >>> s = StandardScaler.fit(torch.tensor([[1.0, 5.0], [3.0, 5.0]]))
        >>> s.transform(torch.tensor([[2.0, 5.0], [5.0, 6.0]])).tolist()
        [[0.0, 0.0], [3.0, 1.0]]
    """

    def __init__(self, mean: Tensor, std: Tensor) -> None:
        self.mean = mean
        self.std = std

    @classmethod
    def fit(cls, X: Tensor, per_channel: bool = False) -> StandardScaler:
        """Statistics of ``X`` (the training split)."""
        dims: tuple[int, ...] = (0, *range(2, X.dim())) if per_channel else (0,)
        x64 = X.to(torch.float64)
        mean = x64.mean(dim=dims, keepdim=per_channel)
        std = x64.std(dim=dims, unbiased=False, keepdim=per_channel)
        std = torch.where(std > 0, std, torch.ones_like(std))
        if per_channel:
            mean, std = mean[0], std[0]
        return cls(mean.to(X.dtype), std.to(X.dtype))

    def transform(self, X: Tensor) -> Tensor:
        """Standardize ``X`` with the fitted statistics."""
        return (X - self.mean) / self.std

    def inverse_transform(self, Z: Tensor) -> Tensor:
        """Undo :meth:`transform`."""
        return Z * self.std + self.mean

    def state_dict(self) -> dict[str, Tensor]:
        """``{"mean", "std"}`` tensors."""
        return {"mean": self.mean.clone(), "std": self.std.clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore statistics saved by :meth:`state_dict`."""
        self.mean = state["mean"].clone()
        self.std = state["std"].clone()

    def __repr__(self) -> str:
        return f"StandardScaler(shape={tuple(self.mean.shape)})"


@dataclass(frozen=True, eq=False)
class Splits:
    """The three parts of a dataset (already scaled) and how they were made.

    ``train``, ``val`` and ``test`` are :class:`Dataset` objects with the source's metadata;
    ``train_index`` etc. are the rows of the source dataset (ascending) each part holds.
    ``test_source`` is ``"official"`` (the file's own test rows) or ``"random"``; ``encoder`` is
    the table encoder fit on the training rows (``None`` when nothing needed encoding).
    """

    train: Dataset
    val: Dataset
    test: Dataset
    scaler: StandardScaler | None
    target_scaler: StandardScaler | None
    train_index: Tensor
    val_index: Tensor
    test_index: Tensor
    test_source: str = "random"
    encoder: TableEncoder | None = field(default=None)

    @property
    def sizes(self) -> dict[str, int]:
        """``{"train": n, "val": n, "test": n}``."""
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    @property
    def encoding(self) -> list[dict[str, Any]]:
        """What the table encoder did, one dict per source column (``[]`` when nothing)."""
        return [] if self.encoder is None else self.encoder.describe()

    def to(self, device: torch.device | str) -> Splits:
        """The three parts on ``device`` (stored dtype kept; batches are made there)."""
        if torch.device(device) == self.train.data.device:
            return self
        return dataclasses.replace(
            self, train=self.train.to(device), val=self.val.to(device), test=self.test.to(device)
        )

    def describe(self) -> dict[str, Any]:
        """What ``summary.json`` records: ``sizes``, ``test_source`` and ``encoding``; for text
        data also ``text``: the table column the texts came from (None for text files) and
        whether the loader detected it.

        Example:
            >>> from reglab.data import load_dataset
            >>> split(load_dataset("iris"), train_size=60, val_size=30).describe()
            {'sizes': {'train': 60, 'val': 30, 'test': 60}, 'test_source': 'random', 'encoding': []}
        """
        out = {"sizes": self.sizes, "test_source": self.test_source, "encoding": self.encoding}
        if self.train.texts is not None:
            names = self.train.feature_names
            column = names[0] if names else None
            out["text"] = {"column": column, "detected": self.train.text_detected}
        return out

    @property
    def task(self) -> str:
        return self.train.task

    @property
    def kind(self) -> str:
        return self.train.kind

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.train.input_shape

    @property
    def num_classes(self) -> int | None:
        return self.train.num_classes

    @property
    def num_outputs(self) -> int:
        return self.train.num_outputs

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.train.class_names

    def loaders(
        self, batch_size: int = 64, *, generator: torch.Generator | None = None
    ) -> tuple[
        DataLoader[tuple[Tensor, ...]],
        DataLoader[tuple[Tensor, ...]],
        DataLoader[tuple[Tensor, ...]],
    ]:
        """``(train, val, test)`` loaders; only the training loader shuffles (with ``generator``)."""
        return (
            self.train.loader(batch_size, shuffle=True, generator=generator),
            self.val.loader(batch_size),
            self.test.loader(batch_size),
        )

    def __repr__(self) -> str:
        return (
            f"Splits(name={self.train.name.rsplit(':', 1)[0]!r}, train={len(self.train)}, "
            f"val={len(self.val)}, test={len(self.test)}, test_source={self.test_source!r}, "
            f"scaled={self.scaler is not None})"
        )


def _resolve(size: int | float, n: int) -> int:
    if isinstance(size, numbers.Integral):
        return int(size)
    return round(size * n)


def _allocate(total: int, ideal: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Integers in [low, high] summing to ``total``, as close to ``ideal`` as possible.

    Start from ``floor(ideal)`` clipped to the bounds, then move one unit at a time where it
    reduces the error most (largest remainder); ties go to the lower class index.
    """
    alloc = np.clip(np.floor(ideal).astype(np.int64), low, high)
    while alloc.sum() < total:
        gain = np.where(alloc < high, ideal - alloc, -np.inf)
        alloc[int(np.argmax(gain))] += 1
    while alloc.sum() > total:
        excess = np.where(alloc > low, alloc - ideal, -np.inf)
        alloc[int(np.argmax(excess))] -= 1
    return alloc


def _stratified(
    y: Tensor,
    n_train: int,
    n_val: int,
    generator: torch.Generator,
    dataset: Dataset,
    train_size: int | float,
) -> tuple[Tensor, Tensor, Tensor]:
    k = dataset.num_classes or 0
    counts = np.bincount(y.numpy(), minlength=k).astype(np.int64)
    present = counts > 0
    for small in np.flatnonzero(present & (counts < 2)):
        raise ConfigError(
            f"Cannot stratify {dataset.name!r}: class {dataset.class_names[small]!r} has only "
            f"{counts[small]} sample; a stratified split needs at least 2 per class (one to train on, "
            "one to evaluate). Remove the class or pass stratify=False."
        )
    n_present = int(present.sum())
    if n_train < n_present:
        raise param_error(
            "train_size",
            "split",
            f"at least {n_present} (one sample per class) for a stratified split of "
            f"{dataset.name!r}",
            train_size,
        )
    n = int(counts.sum())
    ones = present.astype(np.int64)
    # Train: every class at least once; leave each class one sample to evaluate on if possible.
    high = counts - ones if (counts - ones).sum() >= n_train else counts
    a_train = _allocate(n_train, n_train * counts / n, ones, high)
    rest = counts - a_train
    low_val = ones if (n_val >= n_present and np.all(rest[present] >= 2)) else np.zeros_like(ones)
    high_val = rest - ones if np.maximum(rest - ones, 0).sum() >= n_val else rest
    high_val = np.maximum(high_val, low_val)
    a_val = _allocate(n_val, n_val * counts / n, low_val, high_val)

    parts: list[list[Tensor]] = [[], [], []]
    for c in range(k):
        if not present[c]:
            continue
        idx = torch.nonzero(y == int(c)).flatten()
        idx = idx[torch.randperm(idx.numel(), generator=generator)]
        t, v = int(a_train[c]), int(a_val[c])
        parts[0].append(idx[:t])
        parts[1].append(idx[t : t + v])
        parts[2].append(idx[t + v :])
    train_idx, val_idx, test_idx = (torch.sort(torch.cat(p)).values for p in parts)
    return train_idx, val_idx, test_idx


#: The constraints of default_sizes's arguments, checked by validate_params.
_DEFAULT_SIZES_CONSTRAINTS: Constraints = {"n_pool": [Interval(int, 1, None)]}


def default_sizes(n_pool: int) -> tuple[int, int]:
    """Train / validation sizes that fit a pool of ``n_pool`` rows (the rows train+val come from).

    ``train = min(200, max(1, n_pool // 2))`` and ``val = min(300, n_pool // 4)``: at most 200 / 300,
    never more than half / a quarter of the pool, so the test split keeps the rest.

    Example:
        >>> default_sizes(178), default_sizes(150), default_sizes(60000)
        ((89, 44), (75, 37), (200, 300))
    """
    validate_params("default_sizes", locals(), _DEFAULT_SIZES_CONSTRAINTS)
    return min(DEFAULT_TRAIN_SIZE, max(1, n_pool // 2)), min(DEFAULT_VAL_SIZE, n_pool // 4)


def fitted_sizes(
    dataset: Dataset,
    train_size: int | float | None,
    val_size: int | float | None,
    test: str | None = None,
) -> tuple[int | float, int | float]:
    """``(train_size, val_size)`` with each one left None replaced by :func:`default_sizes` of
    the dataset's pool (the rows outside an official test split).

    Example:
        >>> from reglab.data import load_dataset
        >>> fitted_sizes(load_dataset("wine"), None, 30)
        (89, 30)
    """
    if train_size is not None and val_size is not None:
        return train_size, val_size
    fit_train, fit_val = default_sizes(pool_size(dataset, test))
    return (
        fit_train if train_size is None else train_size,
        fit_val if val_size is None else val_size,
    )


def pool_size(dataset: Dataset, test: str | None = None) -> int:
    """Rows train and validation are drawn from: those outside the official test split, or all.

    Example:
        >>> from reglab.data import load_dataset
        >>> pool_size(load_dataset("wine"))
        178
    """
    if _test_source(dataset, test) == "official":
        assert dataset.official_test is not None
        return int((~dataset.official_test).sum())
    return len(dataset)


#: The constraints of split's arguments, checked by validate_params (``test`` is checked where
#: it is read, by _test_source, which pool_size shares).
_SPLIT_CONSTRAINTS: Constraints = {
    "dataset": [InstanceOf(Dataset, description="a reglab.data.Dataset")],
    "train_size": [Interval(int, 1, None), Interval(float, 0, 1, closed="neither")],
    "val_size": [Interval(int, 0, None), Interval(float, 0, 1, closed="left")],
    "stratify": [NoneOk(), Boolean()],
    "scale": [NoneOk(), Boolean()],
    "scale_target": [Boolean()],
    "seed": [NoneOk(), Interval(int, 0, None)],
    "generator": [NoneOk(), InstanceOf(torch.Generator)],
}
#: The constraint of split's (and pool_size's) ``test``, checked by validate_params.
_TEST_CONSTRAINTS: Constraints = {"test": [NoneOk(), OneOf(*TEST_SOURCES)]}


def split(
    dataset: Dataset,
    *,
    train_size: int | float = 0.7,
    val_size: int | float = 0.15,
    stratify: bool | None = None,
    scale: bool | None = None,
    scale_target: bool = False,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    test: str | None = None,
) -> Splits:
    """Split ``dataset`` into train / validation / test; fit encoding and scaling on train only.

    Args:
        dataset: what :func:`reglab.data.load_dataset` returned.
        train_size: training samples, a count (>= 1) or a fraction of the pool in (0, 1).
        val_size: validation samples, a count (>= 0) or a fraction of the pool in [0, 1). With
            a random test split the rest (at least one sample) is the test split.
        stratify: keep class proportions; ``None`` means yes for classification. Not allowed
            for regression.
        scale: standardize features with training statistics; ``None`` means yes for tabular
            data, no for images and signals (``True`` on them standardizes per channel).
        scale_target: regression only: standardize ``y`` too (``Splits.target_scaler``).
        seed: seed of the shuffle; ``None`` (and no ``generator``) means 0.
        generator: a ``torch.Generator`` to draw the shuffle from, instead of ``seed``.
        test: ``"official"`` (the dataset's own test rows), ``"random"`` (what train/val leave)
            or ``None``: official where the dataset has an official test split, else random.

    Returns:
        :class:`Splits`; the same seed gives the same split.

    Example:
        >>> from reglab.data import load_dataset
        >>> sp = split(load_dataset("digits"), train_size=200, val_size=0.2, seed=0)
        >>> len(sp.train), len(sp.val), len(sp.test), sp.scaler is None, sp.test_source
        (200, 359, 1238, True, 'random')
    """
    validate_params("split", locals(), _SPLIT_CONSTRAINTS)
    _check_combinations(dataset, stratify, scale_target, seed, generator)
    source = _test_source(dataset, test)
    pool = _pool_rows(dataset, source)
    n_train, n_val = _sizes(dataset, train_size, val_size, len(pool), source)
    if generator is None:
        generator = torch.Generator().manual_seed(0 if seed is None else seed)
    y_pool = dataset.y if source == "random" else dataset.y[pool]
    if dataset.task == "classification" and stratify is not False:
        parts = _stratified(y_pool, n_train, n_val, generator, dataset, train_size)
    else:
        parts = _shuffled(len(pool), n_train, n_val, generator)
    train_idx, val_idx, test_idx = parts
    if source == "official":
        assert dataset.official_test is not None
        train_idx, val_idx = pool[train_idx], pool[val_idx]
        test_idx = torch.nonzero(dataset.official_test).flatten()
    return _scaled_splits(dataset, train_idx, val_idx, test_idx, scale, scale_target, source)


#: The constraints of split_rows's arguments, checked by validate_params.
_SPLIT_ROWS_CONSTRAINTS: Constraints = {
    "dataset": [InstanceOf(Dataset, description="a reglab.data.Dataset")],
    "test_source": [OneOf(*TEST_SOURCES)],
}


def split_rows(
    dataset: Dataset,
    train_index: Tensor,
    val_index: Tensor,
    test_index: Tensor,
    *,
    test_source: str = "random",
) -> Splits:
    """The :class:`Splits` of given rows, assembled as :func:`split` assembles its own: encoding
    and scaling (tabular data) fit on the training rows only.

    Example:
        >>> from reglab.data import load_dataset
        >>> ds = load_dataset("iris")
        >>> sp = split_rows(ds, torch.arange(0, 150, 2), torch.arange(1, 150, 4), torch.arange(3, 150, 4))
        >>> len(sp.train), len(sp.val), len(sp.test), sp.scaler is not None
        (75, 38, 37, True)
    """
    validate_params("split_rows", locals(), _SPLIT_ROWS_CONSTRAINTS)
    return _scaled_splits(dataset, train_index, val_index, test_index, None, False, test_source)


def _test_source(dataset: Dataset, test: str | None) -> str:
    """``"official"`` or ``"random"``: what ``test`` asks for, checked against the dataset."""
    validate_params("split", locals(), _TEST_CONSTRAINTS)
    has_official = isinstance(dataset, Dataset) and dataset.has_official_test
    if test == "official" and not has_official:
        raise param_error(
            "test",
            "split",
            f"'random' or None for {getattr(dataset, 'name', dataset)!r}, which has no official "
            "test split",
            test,
        )
    if test is None:
        return "official" if has_official else "random"
    return test


def _pool_rows(dataset: Dataset, source: str) -> Tensor:
    """The rows train and validation are drawn from."""
    if source == "official":
        assert dataset.official_test is not None
        return torch.nonzero(~dataset.official_test).flatten()
    return torch.arange(len(dataset))


def _check_combinations(
    dataset: Dataset,
    stratify: bool | None,
    scale_target: bool,
    seed: int | None,
    generator: torch.Generator | None,
) -> None:
    """The rules between split's arguments (each one already valid on its own)."""
    owner = "split"
    if seed is not None and generator is not None:
        raise param_error("seed", owner, "None when a generator is given", seed)
    classification = dataset.task == "classification"
    if stratify and not classification:
        raise param_error("stratify", owner, "False or None for a regression dataset", stratify)
    if scale_target and classification:
        raise param_error("scale_target", owner, "False for a classification dataset", scale_target)


def _sizes(
    dataset: Dataset, train_size: int | float, val_size: int | float, n: int, source: str
) -> tuple[int, int]:
    """``(n_train, n_val)`` from a pool of ``n`` rows; a random test split keeps at least one."""
    owner = "split"
    n_train = max(1, _resolve(train_size, n))
    n_val = _resolve(val_size, n)
    if source == "official":
        where = f"the {n} rows of {dataset.name!r} outside its official test split"
        if n_train > n:
            raise param_error("train_size", owner, f"at most {n}, {where}", train_size)
        if n_train + n_val > n:
            raise param_error(
                "val_size",
                owner,
                f"at most {n - n_train} samples when train_size is {n_train} of {where}",
                val_size,
            )
        return n_train, n_val
    if n_train > n - 1:
        raise param_error(
            "train_size",
            owner,
            f"less than the {n} samples of {dataset.name!r} (the test split needs at least one)",
            train_size,
        )
    if n_train + n_val > n - 1:
        raise param_error(
            "val_size",
            owner,
            f"at most {n - 1 - n_train} samples when train_size is {n_train} of the {n} samples "
            f"of {dataset.name!r} (the test split needs at least one)",
            val_size,
        )
    return n_train, n_val


def _shuffled(
    n: int, n_train: int, n_val: int, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """One permutation of ``n`` rows cut into train / val / test (each sorted)."""
    perm = torch.randperm(n, generator=generator)
    train_idx, val_idx, test_idx = (
        torch.sort(p).values
        for p in (perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :])
    )
    return train_idx, val_idx, test_idx


def _scaled_splits(
    dataset: Dataset,
    train_idx: Tensor,
    val_idx: Tensor,
    test_idx: Tensor,
    scale: bool | None,
    scale_target: bool,
    source: str,
) -> Splits:
    """The three parts, encoded, features (and targets) scaled with training statistics only."""
    parts = [
        _with(dataset.subset(idx), name=f"{dataset.name}:{label}", official_test=None)
        for idx, label in ((train_idx, "train"), (val_idx, "val"), (test_idx, "test"))
    ]
    _check_classes(dataset, parts[0])
    encoder: TableEncoder | None = None
    if dataset.needs_encoding:
        assert dataset.categories is not None
        encoder = TableEncoder.fit(parts[0].data, dataset.categories, dataset.feature_names)
        parts = [encoder.encode(p) for p in parts]
    elif _has_constant_column(dataset, parts[0]):
        # Numeric columns without missing cells encode to themselves: the encoder only records
        # what was found (the constant column), so the parts keep their data.
        numeric = (None,) * int(parts[0].data.shape[1])
        encoder = TableEncoder.fit(parts[0].data, numeric, dataset.feature_names)
    scaler: StandardScaler | None = None
    if scale if scale is not None else dataset.kind == "tabular":
        if dataset.kind == "tabular":
            X_tr, X_va, X_te = (p.X for p in parts)
            scaler = StandardScaler.fit(X_tr)
            parts = [_with(p, data=scaler.transform(x)) for p, x in zip(parts, (X_tr, X_va, X_te))]
        else:
            scaler = _fit_per_channel(parts[0])
            parts = [_with(p, mean=scaler.mean, std=scaler.std) for p in parts]
    target_scaler: StandardScaler | None = None
    if scale_target:
        target_scaler = StandardScaler.fit(parts[0].y)
        parts = [_with(p, y=target_scaler.transform(p.y)) for p in parts]
    train, val, test = parts
    return Splits(
        train=train,
        val=val,
        test=test,
        scaler=scaler,
        target_scaler=target_scaler,
        train_index=train_idx,
        val_index=val_idx,
        test_index=test_idx,
        test_source=source,
        encoder=encoder,
    )


def _check_classes(dataset: Dataset, train: Dataset) -> None:
    """A classifier needs two classes to tell apart in its training rows; say which exist."""
    if dataset.task != "classification":
        return
    present = torch.unique(train.y)
    if len(present) >= 2:
        return
    names = dataset.class_names
    counts = torch.bincount(dataset.y, minlength=len(names)).tolist()
    in_data = ", ".join(f"{names[k]!r}: {n}" for k, n in enumerate(counts))
    in_train = ", ".join(f"{names[int(k)]!r}: {len(train)}" for k in present) or "no rows"
    raise ConfigError(
        f"Cannot train a classifier on {dataset.name!r}: its training split holds "
        f"{len(present)} class ({in_train} rows); a classification target needs at least two "
        f"classes in the training split. Rows per class in the data: {in_data}."
    )


def _has_constant_column(dataset: Dataset, train: Dataset) -> bool:
    """Whether a numeric table's training rows hold a column with one value."""
    X = train.data
    if dataset.kind != "tabular" or X.dim() != 2 or len(train) == 0:
        return False
    return bool((X.amax(dim=0) == X.amin(dim=0)).any())


def _fit_per_channel(train: Dataset) -> StandardScaler:
    """Per-channel statistics of images/signals; uint8 data in chunks, never a float copy."""
    if not train.lazy:
        return StandardScaler.fit(train.data, per_channel=True)
    dims = (0, *range(2, train.data.dim()))
    total = torch.zeros(train.data.shape[1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for i in range(0, len(train), CHUNK_ROWS):
        chunk = train.data[i : i + CHUNK_ROWS].to(torch.float64) / train.divisor
        total += chunk.sum(dim=dims)
        squares += (chunk * chunk).sum(dim=dims)
    count = len(train) * int(np.prod(train.data.shape[2:]))
    mean = total / count
    std = (squares / count - mean * mean).clamp_min(0).sqrt()
    std = torch.where(std > 0, std, torch.ones_like(std))
    shape = (-1, *([1] * (train.data.dim() - 2)))
    return StandardScaler(mean.reshape(shape).float(), std.reshape(shape).float())
