"""NPZ archives: arrays ``X`` and ``y``, optional ``class_names`` and ``feature_names``.

The archive is read with ``allow_pickle=False``, so an object array is an error rather than code
that runs. ``X`` of shape ``(N, F)`` is tabular, ``(N, H, W)`` or ``(N, C, H, W)`` is images
(``(N, H, W)`` gains a channel axis); integer images are divided by 255 (uint8 ones stay uint8
in ``Dataset.data``, divided per batch), float images kept as they are. ``X`` must be numeric and finite, ``y`` one finite target per sample. Class names are
dropped for a regression task.

Example:
    >>> import tempfile, pathlib, numpy as np
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "toy.npz"
    >>> np.savez(f, X=np.zeros((4, 8, 8), dtype=np.uint8), y=np.array([0, 1, 0, 1]))
    >>> ds = load_npz(f)
    >>> ds.kind, ds.input_shape
    ('image', (1, 8, 8))
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError
from .._dataset import Dataset, make_dataset
from ._common import join_names, one_line, row_count, show_path

__all__ = ["load_npz"]


def load_npz(path: str | Path, *, task: str | None = None) -> Dataset:
    """Read arrays ``X`` and ``y`` (and optional ``class_names``/``feature_names``) from ``.npz``."""
    path = Path(path)
    X, y, class_names, feature_names = _read_arrays(path)
    source = show_path(path)
    _check_shapes(source, X, y)
    X, kind = _as_tabular_or_images(X)
    _check_finite(source, X, y)
    divisor = 255.0 if X.dtype == np.uint8 and kind == "image" else 1.0
    names = [str(c) for c in class_names.tolist()] if class_names is not None else None
    if names is not None and task == "regression":
        names = None
    return make_dataset(
        X,
        y,
        name=path.stem,
        task=task,
        kind=kind,
        class_names=names,
        feature_names=[str(f) for f in feature_names.tolist()]
        if feature_names is not None
        else None,
        source=source,
        divisor=divisor,
    )


def _open_archive(path: Path) -> Any:
    """``np.load`` of a zip archive; any other file is an error that says what it is."""
    with path.open("rb") as fh:
        head = fh.read(6)
    if not head.startswith(b"PK"):
        # np.load would fall back to reading a pickle; say what the file is not instead.
        what = "a single .npy array" if head == b"\x93NUMPY" else "a zip archive"
        found = "it is " + what if what.startswith("a single") else "it is not " + what
        raise ConfigError(
            f"{show_path(path)}: not an .npz archive ({found}); save one with "
            "numpy.savez(path, X=features, y=targets)."
        )
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(
            f"{show_path(path)}: not a readable .npz archive ({one_line(exc)}); save one with "
            "numpy.savez(path, X=features, y=targets)."
        ) from None


def _read_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, Any, Any]:
    """``X``, ``y``, ``class_names`` and ``feature_names`` (``None`` when absent)."""
    with _open_archive(path) as archive:
        keys = list(archive.files)
        for key, meaning in (("X", "features"), ("y", "targets")):
            if key not in keys:
                raise ConfigError(
                    f"{show_path(path)}: the archive has no array {key!r} ({meaning}); it needs "
                    f"arrays 'X' and 'y'. Found: {join_names(keys) or 'no arrays'}."
                )
        try:
            X = archive["X"]
            y = archive["y"]
            class_names = archive["class_names"] if "class_names" in keys else None
            feature_names = archive["feature_names"] if "feature_names" in keys else None
        except ValueError as exc:  # object arrays need pickle, which stays off
            raise ConfigError(
                f"{show_path(path)}: an array holds Python objects ({one_line(exc)}); reglab loads "
                "plain numeric (and string) arrays only."
            ) from None
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ConfigError(
                f"{show_path(path)}: the archive is truncated or corrupt ({one_line(exc)})."
            ) from None
    return X, y, class_names, feature_names


def _check_shapes(source: str, X: np.ndarray, y: np.ndarray) -> None:
    if X.dtype.kind not in "iufb":
        raise ConfigError(f"{source}: 'X' must be numeric. Got dtype {X.dtype} instead.")
    if X.ndim not in (2, 3, 4):
        raise ConfigError(
            f"{source}: 'X' must have shape (N, F) for tabular data or (N, H, W) / (N, C, H, W) "
            f"for images. Got shape {X.shape} instead."
        )
    if y.ndim != 1:
        raise ConfigError(
            f"{source}: 'y' must have shape (N,), one target per sample. Got shape {y.shape} instead."
        )
    if X.shape[0] != y.shape[0]:
        raise ConfigError(
            f"{source}: 'X' has {X.shape[0]} samples but 'y' has {y.shape[0]}; they must have "
            "the same length."
        )


def _as_tabular_or_images(X: np.ndarray) -> tuple[np.ndarray, str]:
    """``(X, kind)``: 2-D is tabular; images get a channel axis and integers are divided by 255."""
    kind = "tabular" if X.ndim == 2 else "image"
    if X.ndim == 3:
        X = X[:, None]
    if X.dtype.kind in "iu" and kind == "image" and X.dtype != np.uint8:
        X = X.astype(np.float32) / np.float32(255.0)
    return X, kind


def _check_finite(source: str, X: np.ndarray, y: np.ndarray) -> None:
    if X.dtype.kind == "f":
        finite = np.isfinite(X.reshape(X.shape[0], -1))
        if not finite.all():
            bad_rows = int((~finite.all(axis=1)).sum())
            raise ConfigError(
                f"{source}: 'X' has {int((~finite).sum())} NaN or infinite values in "
                f"{row_count(bad_rows)}; fill or drop them before loading."
            )
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ConfigError(
            f"{source}: 'y' has {int((~np.isfinite(y)).sum())} NaN or infinite values; fill or "
            "drop them before loading."
        )
