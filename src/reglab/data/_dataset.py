"""The ``Dataset`` record every loader returns, and the label/task helpers they share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import Field, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
)

from .._checks import Constraints, InstanceOf, Interval, NoneOk, OneOf, validate_params
from ..errors import ConfigError
from .batches import BatchIterable

__all__ = ["TASKS", "Dataset", "encode_labels", "infer_task", "make_dataset", "make_text_dataset"]

TASKS = ("classification", "regression")

# A target with at most this many distinct integer values is read as class labels.
MAX_INFERRED_CLASSES = 20

# Rows converted to float at a time when a whole lazily-scaled split is materialized or scanned.
CHUNK_ROWS = 4096

Index = Tensor | slice | int | None

if TYPE_CHECKING:
    # The type checker sees a plain class with its own __init__ (which takes X), so that
    # dataclasses.replace(ds, X=...) type-checks; at run time it is a frozen dataclass.
    def _record(cls: type) -> type:
        return cls
else:
    _record = dataclass(frozen=True, eq=False, init=False)


#: The constraints of Dataset.batches' and Dataset.loader's arguments, checked by validate_params.
_BATCHES_CONSTRAINTS: Constraints = {
    "batch_size": [Interval(int, 1, None)],
    "generator": [NoneOk(), InstanceOf(torch.Generator)],
}


@_record
class Dataset(torch.utils.data.Dataset, BatchIterable):
    """Features, targets and what they mean, each held once in its smallest exact dtype.

    ``data`` holds the stored values: float32 for tables and float images, uint8 for 8-bit
    images (IDX, CIFAR-10, 8-bit image folders). The features a model sees are made per batch:

        ``x = (data / divisor - mean) / std``

    (``divisor`` is 255 for 8-bit images, else 1; ``mean``/``std`` are ``None`` unless ``split``
    standardized images with training statistics). ``X`` is that float32 array for the whole
    dataset (made on each access: use it for small data); :meth:`tensors` with ``start``/``stop``,
    :meth:`features` and :meth:`batches` make only the rows asked for. ``y`` holds int64 class
    indices ``0..K-1`` (classification) or float32 values (regression).

    ``official_test`` is a bool mask of the rows that are the file's official test split
    (IDX ``t10k-*``, CIFAR ``test_batch``, MNIST-1D's test part), or ``None``. ``categories`` is
    set for a table that still needs encoding (string columns or missing values): one entry per
    column, the category names of a string column (``data`` holds the code, NaN where missing) or
    ``None`` for a numeric column (NaN where missing); ``reglab.data.split`` fits the encoder on the
    training rows.

    A text dataset (``kind="text"``) keeps its raw strings in ``texts``; ``data`` holds int64
    positions into ``texts`` (so :meth:`subset` shares the strings instead of copying them) and
    :meth:`text_rows` gives a part's texts. Its features are token ids, made by a
    :class:`reglab.data.text.Vocabulary` fit on the training split, so :meth:`features` refuses.
    Texts read from a table column name it in ``feature_names``; ``text_detected`` is True when
    the loader chose that column itself (no ``text=`` given).

    ``Dataset(X=..., y=..., ...)`` and ``dataclasses.replace(ds, X=...)`` take ``X`` as final
    float features (no divisor or standardization; an ``official_test`` mask of another length
    is dropped); :meth:`subset` keeps the stored dtype and the mask.

    Example:
        >>> import torch
        >>> ds = make_dataset(torch.rand(6, 2), torch.tensor([0, 1, 0, 1, 0, 1]), name="toy")
        >>> ds.task, ds.num_classes, ds.input_shape, len(ds)
        ('classification', 2, (2,), 6)
        >>> img = make_dataset(torch.full((3, 1, 2, 2), 255, dtype=torch.uint8), [0, 1, 1],
        ...                    name="img", divisor=255.0)
        >>> img.data.dtype, img.X.dtype, float(img.X.max())
        (torch.uint8, torch.float32, 1.0)
    """

    if TYPE_CHECKING:
        __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    data: Tensor
    y: Tensor
    task: str
    name: str
    kind: str
    input_shape: tuple[int, ...]
    num_classes: int | None
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    divisor: float
    mean: Tensor | None
    std: Tensor | None
    official_test: Tensor | None
    categories: tuple[tuple[str, ...] | None, ...] | None
    texts: tuple[str, ...] | None
    text_detected: bool

    def __init__(
        self,
        X: Tensor | None = None,
        y: Tensor | None = None,
        task: str = "classification",
        name: str = "data",
        kind: str = "tabular",
        input_shape: tuple[int, ...] | None = None,
        num_classes: int | None = None,
        class_names: tuple[str, ...] = (),
        feature_names: tuple[str, ...] = (),
        *,
        data: Tensor | None = None,
        divisor: float = 1.0,
        mean: Tensor | None = None,
        std: Tensor | None = None,
        official_test: Tensor | None = None,
        categories: tuple[tuple[str, ...] | None, ...] | None = None,
        texts: tuple[str, ...] | None = None,
        text_detected: bool = False,
    ) -> None:
        if X is not None:  # final float features: nothing left to apply per batch
            data, divisor, mean, std, categories = X, 1.0, None, None, None
        if data is None or y is None:
            raise ConfigError("Dataset needs the features (X or data) and the targets y.")
        if official_test is not None and official_test.shape[0] != data.shape[0]:
            # Other rows (dataclasses.replace(ds, X=ds.X[rows], ...)): which of them are
            # official test rows is unknown, so the result has no official test split.
            # Dataset.subset(rows) keeps it.
            official_test = None
        values = {
            "data": data,
            "y": y,
            "task": task,
            "name": name,
            "kind": kind,
            "input_shape": tuple(data.shape[1:]) if input_shape is None else tuple(input_shape),
            "num_classes": num_classes,
            "class_names": tuple(class_names),
            "feature_names": tuple(feature_names),
            "divisor": float(divisor),
            "mean": mean,
            "std": std,
            "official_test": official_test,
            "categories": categories,
            "texts": texts,
            "text_detected": bool(text_detected),
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index: Any) -> tuple[Tensor, Tensor]:
        """``(x, y)`` of one row, or of a batch of rows (a list or tensor of row numbers)."""
        if isinstance(index, list):
            index = torch.as_tensor(index, dtype=torch.long)
        return self.features(index), self.y[index]

    def __repr__(self) -> str:
        classes = f", num_classes={self.num_classes}" if self.num_classes is not None else ""
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, kind={self.kind!r}, "
            f"n={len(self)}, input_shape={self.input_shape}{classes})"
        )

    @property
    def num_outputs(self) -> int:
        """Width of a model's output: the number of classes, or 1 for regression."""
        return self.num_classes if self.num_classes is not None else 1

    @property
    def needs_encoding(self) -> bool:
        """True for a table with string columns or missing values (``split`` encodes it)."""
        return self.categories is not None

    @property
    def has_official_test(self) -> bool:
        """True when some rows are the file's official test split."""
        return self.official_test is not None and bool(self.official_test.any())

    @property
    def lazy(self) -> bool:
        """True when features are made per batch (a divisor or standardization to apply)."""
        return (
            self.data.dtype != torch.float32
            or self.divisor != 1.0
            or self.mean is not None
            or self.std is not None
        )

    @property
    def nbytes(self) -> int:
        """Bytes held by ``data`` and ``y``."""
        return int(
            self.data.element_size() * self.data.nelement()
            + self.y.element_size() * self.y.nelement()
        )

    @property
    def X(self) -> Tensor:
        """float32 features of every row (made on each access when :attr:`lazy`)."""
        return self.features(None)

    def features(self, index: Index = None) -> Tensor:
        """float32 features of the rows ``index`` (a tensor of rows, a slice, an int or all)."""
        if self.texts is not None:
            raise ConfigError(
                f"{self.name}: a text dataset has no float features; its token ids come from a "
                "reglab.data.text.Vocabulary fit on the training split (see Dataset.text_rows)."
            )
        if self.categories is not None:
            raise ConfigError(
                f"{self.name}: the table has string columns or missing values that are encoded "
                "when it is split; call reglab.data.split(dataset) and use its parts."
            )
        rows = self.data if index is None else self.data[index]
        if not self.lazy:
            return rows
        x = rows.to(torch.float32)
        if self.divisor != 1.0:
            x = x / self.divisor
        if self.mean is not None:
            x = x - self.mean
        if self.std is not None:
            x = x / self.std
        return x

    def text_rows(self, index: Index = None) -> list[str]:
        """The texts of the rows ``index`` (all by default) of a text dataset.

        Example:
            >>> ds = make_text_dataset(["good", "bad", "fine"], [1, 0, 1], name="toy")
            >>> ds.subset(torch.tensor([2, 0])).text_rows()
            ['fine', 'good']
        """
        if self.texts is None:
            raise ConfigError(
                f"{self.name}: text_rows needs a text dataset; this one is {self.kind}."
            )
        rows = self.data if index is None else self.data[index]
        texts = self.texts
        return [texts[i] for i in rows.reshape(-1).tolist()]

    def tensors(self, start: int | None = None, stop: int | None = None) -> tuple[Tensor, Tensor]:
        """``(X, y)`` of rows ``start:stop`` (all by default): the pair ``reglab.fit`` accepts."""
        if start is None and stop is None:
            return self.X, self.y
        return self.features(slice(start, stop)), self.y[start:stop]

    def batches(
        self,
        batch_size: int = 256,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """float32 ``(X, y)`` batches; memory grows with ``batch_size``, not with the dataset.

        Example:
            >>> ds = make_dataset(torch.zeros(5, 2), [0, 1, 0, 1, 0], name="toy")
            >>> [len(y) for _, y in ds.batches(2)]
            [2, 2, 1]
        """
        validate_params("Dataset.batches", locals(), _BATCHES_CONSTRAINTS)
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else None
        for i in range(0, n, batch_size):
            if order is None:
                yield self.tensors(i, i + batch_size)
            else:
                idx = order[i : i + batch_size]
                yield self.features(idx), self.y[idx]

    def to(self, device: torch.device | str) -> Dataset:
        """The dataset with its stored rows, targets and scaling on ``device`` (dtype kept)."""
        dev = torch.device(device)

        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(dev)

        return _with(
            self,
            data=self.data.to(dev),
            y=self.y.to(dev),
            mean=move(self.mean),
            std=move(self.std),
            official_test=move(self.official_test),
        )

    def subset(self, index: Tensor) -> Dataset:
        """The rows ``index`` (a tensor of row numbers or a bool mask), stored dtype kept."""
        mask = self.official_test[index] if self.official_test is not None else None
        return _with(self, data=self.data[index], y=self.y[index], official_test=mask)

    def loader(
        self,
        batch_size: int = 64,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> DataLoader[tuple[Tensor, ...]]:
        """A ``DataLoader`` over ``(X, y)``; ``generator`` makes the shuffling replayable.

        When :attr:`lazy`, each batch is made from the stored rows (one indexing per batch), in
        the order a ``DataLoader(..., shuffle=True, generator=generator)`` would use.
        """
        validate_params("Dataset.loader", locals(), _BATCHES_CONSTRAINTS)
        if not self.lazy:
            return DataLoader(
                TensorDataset(self.X, self.y),
                batch_size=batch_size,
                shuffle=shuffle,
                generator=generator,
            )
        rows: Any = (
            RandomSampler(range(len(self)), generator=generator)
            if shuffle
            else SequentialSampler(range(len(self)))
        )
        return DataLoader(
            self,
            batch_size=None,
            sampler=BatchSampler(rows, batch_size, False),
            generator=generator,  # the loader draws its base seed from it first, as shuffle=True
        )

    def flat(self) -> Dataset:
        """Images ``(C, H, W)`` or signals ``(C, L)`` as tabular features; tables unchanged."""
        if self.texts is not None:
            raise ConfigError(f"{self.name}: a text dataset cannot be flattened into features.")
        if self.kind == "tabular":
            return self
        shape = self.input_shape
        n_features = int(np.prod(shape))
        axes = ("c", "y", "x") if len(shape) == 3 else ("c", "t")
        names = tuple("_".join(f"{a}{i}" for a, i in zip(axes, pos)) for pos in np.ndindex(*shape))

        def per_feature(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.expand(*shape).reshape(n_features)

        return _with(
            self,
            data=self.data.reshape(len(self), n_features),
            kind="tabular",
            input_shape=(n_features,),
            feature_names=names,
            mean=per_feature(self.mean),
            std=per_feature(self.std),
        )


def _with(ds: Dataset, **changes: Any) -> Dataset:
    """``ds`` with some stored fields changed (``dataclasses.replace`` without ``X``)."""
    fields = {
        key: getattr(ds, key)
        for key in (
            "y", "task", "name", "kind", "input_shape", "num_classes", "class_names",
            "feature_names", "data", "divisor", "mean", "std", "official_test", "categories",
            "texts", "text_detected",
        )
    }  # fmt: skip
    fields.update(changes)
    return Dataset(**fields)


def infer_task(y: np.ndarray) -> str:
    """Classification for strings/booleans or few integer values, regression otherwise."""
    if y.dtype.kind in "USOb":
        return "classification"
    values = y.astype(np.float64)
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        return "regression"
    n_unique = np.unique(values).size
    # A handful of integers among many rows are labels; 300 distinct integer ages are not.
    limit = max(2, min(MAX_INFERRED_CLASSES, y.shape[0] // 2))
    return "classification" if n_unique <= limit else "regression"


def encode_labels(y: np.ndarray, source: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map labels to ``0..K-1`` (sorted) and keep their names.

    Integer labels keep their numeric order ("1", "2", "10"); strings sort as strings.
    """
    if y.dtype.kind in "USO":
        labels = np.array([str(v) for v in y.tolist()])
        classes, codes = np.unique(labels, return_inverse=True)
        return codes.astype(np.int64), tuple(str(c) for c in classes)
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    values = y.astype(np.float64)
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        raise ConfigError(
            f"{source}: task='classification' needs integer or string labels, but the target has "
            f"non-integer values such as {_first_fractional(values)}; use task='regression'."
        )
    classes, codes = np.unique(values.astype(np.int64), return_inverse=True)
    return codes.astype(np.int64), tuple(str(int(c)) for c in classes)


def _first_fractional(values: np.ndarray) -> str:
    bad = values[~(np.isfinite(values) & (values == np.round(values)))]
    return repr(float(bad[0])) if bad.size else "?"


#: The constraints of make_dataset's arguments, checked by validate_params (its errors name
#: load_dataset, which builds every Dataset through it).
_MAKE_DATASET_CONSTRAINTS: Constraints = {"task": [NoneOk(), OneOf(*TASKS)]}


def make_dataset(
    X: Any,
    y: Any,
    *,
    name: str,
    task: str | None = None,
    kind: str | None = None,
    class_names: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    source: str | None = None,
    divisor: float = 1.0,
    official_test: Any = None,
    categories: tuple[tuple[str, ...] | None, ...] | None = None,
) -> Dataset:
    """Build a ``Dataset`` from arrays: infer the task, encode labels, fix dtypes.

    ``X`` of 2 dims is tabular, 3 dims ``(N, C, L)`` is signals, 4 dims ``(N, C, H, W)`` is
    images (``kind`` may say so explicitly). uint8 images and signals stay uint8 (the features
    are ``X / divisor``); anything else becomes float32. ``class_names`` names already-encoded
    integer labels ``0..K-1``; ``official_test`` is a bool mask of the official test rows.
    """
    source = source or name
    validate_params("load_dataset", locals(), _MAKE_DATASET_CONSTRAINTS)
    X_np = np.asarray(X)
    y_np = np.asarray(y)
    if y_np.ndim != 1:
        raise ConfigError(
            f"{source}: the target must be one value per sample, shape (N,). "
            f"Got shape {y_np.shape} instead."
        )
    if X_np.shape[0] != y_np.shape[0]:
        raise ConfigError(
            f"{source}: X has {X_np.shape[0]} samples but y has {y_np.shape[0]}; "
            "they must have the same length."
        )
    if X_np.shape[0] == 0:
        raise ConfigError(f"{source}: the dataset has no samples.")
    if kind is None:
        kind = {4: "image", 3: "signal"}.get(X_np.ndim, "tabular")
    if task is None:
        task = "classification" if class_names is not None else infer_task(y_np)
    if task == "classification":
        if class_names is not None:
            if y_np.dtype.kind not in "iub":
                values = y_np.astype(np.float64)
                if not np.all(np.isfinite(values) & (values == np.round(values))):
                    raise ConfigError(
                        f"{source}: labels must be integer class indices to match the class "
                        f"names. Got values such as {_first_fractional(values)}."
                    )
            codes = y_np.astype(np.int64)
            names = tuple(class_names)
            if codes.min() < 0 or codes.max() >= len(names):
                raise ConfigError(
                    f"{source}: labels must lie in [0, {len(names)}) to match the "
                    f"{len(names)} class names. Got labels in [{codes.min()}, {codes.max()}]."
                )
        else:
            codes, names = encode_labels(y_np, source)
        y_t = torch.from_numpy(codes)
        num_classes: int | None = len(names)
    else:
        if y_np.dtype.kind not in "iufb":
            raise ConfigError(
                f"{source}: task='regression' needs a numeric target. Got values of type "
                f"{y_np.dtype} (e.g. {y_np[0]!r}); use task='classification'."
            )
        y_t = torch.from_numpy(y_np.astype(np.float32))
        names = ()
        num_classes = None
    keep = X_np.dtype == np.uint8 and kind != "tabular"
    X_t = torch.from_numpy(np.ascontiguousarray(X_np, dtype=np.uint8 if keep else np.float32))
    mask = None
    if official_test is not None:
        mask = torch.as_tensor(np.asarray(official_test, dtype=bool))
    return Dataset(
        data=X_t,
        divisor=divisor,
        official_test=mask,
        categories=categories,
        y=y_t,
        task=task,
        name=name,
        kind=kind,
        input_shape=tuple(int(s) for s in X_t.shape[1:]),
        num_classes=num_classes,
        class_names=names,
        feature_names=tuple(feature_names) if feature_names is not None else (),
    )


def make_text_dataset(
    texts: Sequence[str],
    y: Any,
    *,
    name: str,
    task: str | None = None,
    class_names: Sequence[str] | None = None,
    source: str | None = None,
    official_test: Any = None,
) -> Dataset:
    """A text ``Dataset``: one string per sample and its target (labels encoded as in
    :func:`make_dataset`); ``official_test`` is a bool mask of the official test rows.

    Example:
        >>> ds = make_text_dataset(["a fine film", "dull"], ["pos", "neg"], name="toy")
        >>> ds.kind, ds.class_names, ds.y.tolist(), ds.text_rows()
        ('text', ('neg', 'pos'), [1, 0], ['a fine film', 'dull'])
    """
    source = source or name
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise ConfigError(f"{source}: texts must be a sequence of str. Got {type(texts).__name__}.")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise ConfigError(
            f"{source}: texts must be str; row {bad} holds {type(texts[bad]).__name__} "
            f"{texts[bad]!r}."
        )
    positions = np.arange(len(texts), dtype=np.int64).reshape(-1, 1)
    ds = make_dataset(
        positions,
        y,
        name=name,
        task=task,
        kind="text",
        class_names=class_names,
        source=source,
        official_test=official_test,
    )
    rows = torch.arange(len(texts), dtype=torch.int64)
    return _with(ds, data=rows, input_shape=(), texts=tuple(texts))
