"""The ``Dataset`` record every loader returns, and the label/task helpers they share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from .._checks import InstanceOf, Interval, NoneOk, OneOf, check
from ..errors import ConfigError

__all__ = ["TASKS", "Dataset", "encode_labels", "infer_task", "make_dataset"]

TASKS = ("classification", "regression")

# A target with at most this many distinct integer values is read as class labels.
MAX_INFERRED_CLASSES = 20


@dataclass(frozen=True, eq=False)
class Dataset(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Features, targets and what they mean.

    ``X`` is float32, ``(N, F)`` for tabular data or ``(N, C, H, W)`` for images (values in
    [0, 1]); ``y`` holds int64 class indices ``0..K-1`` (classification) or float32 values
    (regression). ``ds[i]`` is ``(X[i], y[i])``, so a ``Dataset`` feeds a ``DataLoader`` as is.

    Example:
        >>> import torch
        >>> ds = make_dataset(torch.rand(6, 2), torch.tensor([0, 1, 0, 1, 0, 1]), name="toy")
        >>> ds.task, ds.num_classes, ds.input_shape, len(ds)
        ('classification', 2, (2,), 6)
    """

    X: Tensor
    y: Tensor
    task: str
    name: str
    kind: str
    input_shape: tuple[int, ...]
    num_classes: int | None
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.X[index], self.y[index]

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

    def tensors(self) -> tuple[Tensor, Tensor]:
        """``(X, y)``: the pair ``reglab.fit`` accepts for a split."""
        return self.X, self.y

    def loader(
        self,
        batch_size: int = 64,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> DataLoader[tuple[Tensor, ...]]:
        """A ``DataLoader`` over ``(X, y)``; ``generator`` makes the shuffling replayable."""
        check("Dataset.loader", "batch_size", batch_size, Interval(int, 1, None))
        check("Dataset.loader", "generator", generator, NoneOk(), InstanceOf(torch.Generator))
        return DataLoader(
            TensorDataset(self.X, self.y),
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator,
        )

    def flat(self) -> Dataset:
        """Images as tabular features ``(N, C*H*W)``; tabular data is returned unchanged."""
        if self.kind == "tabular":
            return self
        n_features = int(np.prod(self.input_shape))
        c, h, w = self.input_shape
        names = tuple(f"c{ci}_y{yi}_x{xi}" for ci in range(c) for yi in range(h) for xi in range(w))
        return replace(
            self,
            X=self.X.reshape(len(self), n_features),
            kind="tabular",
            input_shape=(n_features,),
            feature_names=names,
        )


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
) -> Dataset:
    """Build a ``Dataset`` from arrays: infer the task, encode labels, fix dtypes.

    ``X`` of 2 dims is tabular, 4 dims ``(N, C, H, W)`` is images (``kind`` may say so
    explicitly). ``class_names`` names already-encoded integer labels ``0..K-1``.
    """
    source = source or name
    check("load_dataset", "task", task, NoneOk(), OneOf(*TASKS))
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
        kind = "image" if X_np.ndim == 4 else "tabular"
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
    X_t = torch.from_numpy(np.ascontiguousarray(X_np, dtype=np.float32))
    return Dataset(
        X=X_t,
        y=y_t,
        task=task,
        name=name,
        kind=kind,
        input_shape=tuple(int(s) for s in X_t.shape[1:]),
        num_classes=num_classes,
        class_names=names,
        feature_names=tuple(feature_names) if feature_names is not None else (),
    )
