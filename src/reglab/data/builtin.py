"""Built-in datasets: scikit-learn's bundled files, read from disk (no network).

``digits`` is a set of 8x8 grayscale images, returned as ``(N, 1, 8, 8)`` with values divided by
16 (the pixel range is 0..16), so in [0, 1]; ``flatten=True`` gives the 64 pixels as tabular
features. The others are tabular. ``diabetes`` uses the raw (unscaled) features; ``split``
standardizes them on the training split.

Example:
    >>> ds = load_builtin("iris")
    >>> ds.X.shape, ds.num_classes, ds.class_names
    (torch.Size([150, 4]), 3, ('setosa', 'versicolor', 'virginica'))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ._dataset import Dataset, make_dataset

__all__ = ["BUILTIN_DATASETS", "DatasetInfo", "list_datasets", "load_builtin"]


@dataclass(frozen=True)
class DatasetInfo:
    """What ``reglab datasets`` shows for one built-in dataset (known without loading it)."""

    name: str
    task: str
    n_samples: int
    input_shape: tuple[int, ...]
    num_classes: int | None
    class_names: tuple[str, ...]
    description: str

    @property
    def n_features(self) -> int:
        """Number of input values per sample (64 for digits)."""
        return int(np.prod(self.input_shape))


_INFOS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "breast_cancer",
            "classification",
            569,
            (30,),
            2,
            ("malignant", "benign"),
            "Wisconsin breast cancer: 30 cell-nucleus measurements, malignant vs benign.",
        ),
        DatasetInfo(
            "diabetes",
            "regression",
            442,
            (10,),
            None,
            (),
            "Diabetes progression one year after baseline from 10 measurements (raw units).",
        ),
        DatasetInfo(
            "digits",
            "classification",
            1797,
            (1, 8, 8),
            10,
            tuple(str(d) for d in range(10)),
            "Handwritten digits 0-9 as 1x8x8 grayscale images scaled to [0, 1].",
        ),
        DatasetInfo(
            "iris",
            "classification",
            150,
            (4,),
            3,
            ("setosa", "versicolor", "virginica"),
            "Iris flowers: 4 sepal/petal measurements, 3 species.",
        ),
        DatasetInfo(
            "wine",
            "classification",
            178,
            (13,),
            3,
            ("class_0", "class_1", "class_2"),
            "Wine recognition: 13 chemical measurements, 3 cultivars.",
        ),
    )
}

BUILTIN_DATASETS: tuple[str, ...] = tuple(sorted(_INFOS))


def list_datasets() -> list[DatasetInfo]:
    """The built-in datasets, sorted by name (nothing is loaded).

    Example:
        >>> [d.name for d in list_datasets()]
        ['breast_cancer', 'diabetes', 'digits', 'iris', 'wine']
    """
    return [_INFOS[name] for name in BUILTIN_DATASETS]


def load_builtin(name: str, *, flatten: bool = False) -> Dataset:
    """Load a built-in dataset by name from scikit-learn's bundled files."""
    try:
        from sklearn import datasets as skd
    except ImportError as exc:  # pragma: no cover - scikit-learn ships with reglab[lab]
        raise ConfigError(
            "Built-in datasets need scikit-learn: pip install 'reglab[lab]'."
        ) from exc
    if name not in _INFOS:
        raise ConfigError(
            f"Unknown dataset {name!r}. Built-in datasets: {', '.join(BUILTIN_DATASETS)}."
        )
    info = _INFOS[name]
    if name == "diabetes":
        bunch = skd.load_diabetes(scaled=False)
        return make_dataset(
            bunch.data,
            bunch.target,
            name=name,
            task="regression",
            feature_names=list(bunch.feature_names),
        )
    loader = {
        "breast_cancer": skd.load_breast_cancer,
        "digits": skd.load_digits,
        "iris": skd.load_iris,
        "wine": skd.load_wine,
    }[name]
    bunch = loader()
    X = np.asarray(bunch.data, dtype=np.float32)
    feature_names = [str(f) for f in getattr(bunch, "feature_names", [])]
    if name == "digits":
        X = X / np.float32(16.0)
        if not flatten:
            return make_dataset(
                X.reshape(-1, 1, 8, 8),
                bunch.target,
                name=name,
                task="classification",
                kind="image",
                class_names=info.class_names,
            )
    return make_dataset(
        X,
        bunch.target,
        name=name,
        task="classification",
        class_names=info.class_names,
        feature_names=feature_names,
    )
