"""CIFAR-10 python batches, read by an unpickler that cannot run code.

A folder holds ``data_batch_1`` .. ``data_batch_5`` and ``test_batch`` (any present subset is
read, training batches in numeric order first, and concatenated). Each batch is a pickled dict
with ``b'data'``, a ``(N, 3072)`` uint8 array (3x32x32 pixels per row), and ``b'labels'``, a
list of class indices. Class names come from ``batches.meta`` when it is present and names
every class, else ``CIFAR10_CLASSES``. The pixels stay uint8 in ``Dataset.data`` (``divisor``
255, so the features ``X`` are ``(N, 3, 32, 32)`` in [0, 1]). The rows of ``test_batch`` are the
official test split (``Dataset.official_test``) when training batches are there too. All batches
must hold rows of 3072 values; a folder whose batches differ is an error naming the file.

The pickles are read by :func:`safe_unpickle`, which only rebuilds numpy arrays, lists, dicts,
strings and numbers; any other global (``os.system``, ``eval``, ...) is refused before it can
run, so a malicious file cannot execute code.

Example:
    >>> import pickle
    >>> safe_unpickle(pickle.dumps({b"labels": [1, 2]}))
    {b'labels': [1, 2]}
"""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError
from .._dataset import Dataset, make_dataset
from ._common import one_line, show_path

__all__ = ["CIFAR10_CLASSES", "cifar_batch_files", "load_cifar10", "safe_unpickle"]

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


def load_cifar10(path: str | Path) -> Dataset:
    """Read CIFAR-10 python batches from a folder into ``(N, 3, 32, 32)`` values in [0, 1]."""
    path = Path(path)
    files = cifar_batch_files(path)
    if not files:
        raise ConfigError(
            f"{show_path(path)}: no CIFAR-10 batches (data_batch_1 .. data_batch_5, test_batch)."
        )
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for f in files:
        x, y = _read_batch(f, files[0] if xs else None)
        xs.append(x)
        ys.append(y)
    y_all = np.concatenate(ys)
    names = _class_names(path, int(y_all.max()) + 1)
    test = [f.name == "test_batch" for f in files]
    official = None
    if any(test) and not all(test):
        official = np.concatenate([np.full(len(x), t) for x, t in zip(xs, test)])
    return make_dataset(
        np.concatenate(xs),
        y_all,
        name=path.name,
        task="classification",
        kind="image",
        class_names=names,
        source=show_path(path),
        divisor=255.0,
        official_test=official,
    )


def cifar_batch_files(folder: Path) -> list[Path]:
    """``data_batch_1..`` in numeric order, then ``test_batch``, as present in ``folder``."""
    train = [f for f in folder.iterdir() if f.is_file() and re.fullmatch(r"data_batch_\d+", f.name)]
    train.sort(key=lambda f: int(f.name.rsplit("_", 1)[1]))
    test = [folder / "test_batch"] if (folder / "test_batch").is_file() else []
    return train + test


def _read_batch(f: Path, first: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """The uint8 ``(N, 3, 32, 32)`` images and int64 ``(N,)`` labels of one batch file.

    ``first`` is the folder's first batch (already read, so its rows held 3072 values).
    """
    batch = _load_pickle(f, "CIFAR-10 batch")
    if not isinstance(batch, dict):
        raise ConfigError(
            f"{show_path(f)}: not a CIFAR-10 batch: expected a dict with keys b'data' and "
            f"b'labels'. Got {type(batch).__name__} instead."
        )
    data, labels = _get(batch, "data"), _get(batch, "labels")
    for key, value in (("data", data), ("labels", labels)):
        if value is None:
            found = ", ".join(repr(k) for k in batch)
            raise ConfigError(
                f"{show_path(f)}: not a CIFAR-10 batch: no key b{key!r}; expected b'data' and "
                f"b'labels'. Found: {found or 'no keys'}."
            )
    if (
        first is not None
        and isinstance(data, np.ndarray)
        and data.ndim == 2
        and data.shape[1] != 3072
    ):
        raise ConfigError(
            f"{show_path(f)}: CIFAR-10 batches of mixed shapes: rows of {data.shape[1]} "
            f"values here but 3072 in {first.name!r}; every batch must hold rows of 3072 "
            "values (3x32x32 pixels)."
        )
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", type(data).__name__)
        raise ConfigError(
            f"{show_path(f)}: not a CIFAR-10 batch: b'data' must be an array of shape (N, 3072) "
            f"(3x32x32 pixels per row). Got {shape} instead."
        )
    try:
        y = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{show_path(f)}: not a CIFAR-10 batch: b'labels' must be a list of integers."
        ) from None
    if y.shape[0] != data.shape[0]:
        raise ConfigError(
            f"{show_path(f)}: not a CIFAR-10 batch: {data.shape[0]} images but {y.shape[0]} "
            "labels; they must match."
        )
    if y.size and (y.min() < 0 or y.max() > 255):
        raise ConfigError(
            f"{show_path(f)}: not a CIFAR-10 batch: labels must be class indices >= 0. Got "
            f"values in [{y.min()}, {y.max()}]."
        )
    return np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32), y


def _class_names(path: Path, n_classes: int) -> list[str]:
    """Names from ``batches.meta`` when it names every class, else the CIFAR-10 names or indices."""
    names = list(CIFAR10_CLASSES) if n_classes <= 10 else [str(i) for i in range(n_classes)]
    meta = path / "batches.meta"
    if meta.is_file():
        info = _load_pickle(meta, "CIFAR-10 meta file")
        label_names = _get(info, "label_names") if isinstance(info, dict) else None
        if isinstance(label_names, list) and len(label_names) >= n_classes:
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in label_names]
    return names


def _get(batch: dict[Any, Any], key: str) -> Any:
    """``batch[b"key"]`` (Python 2 pickles) or ``batch["key"]``; ``None`` when absent."""
    if key.encode() in batch:
        return batch[key.encode()]
    return batch.get(key)


# --------------------------------------------------------------------------- safe unpickling


def safe_unpickle(data: bytes) -> Any:
    """Unpickle ``data`` allowing only numpy arrays, containers, strings and numbers.

    Raises ``ConfigError``-free ``pickle.UnpicklingError`` subclasses; callers word the message.
    """
    return _NumpyOnlyUnpickler(io.BytesIO(data)).load()


def _load_pickle(f: Path, what: str) -> Any:
    data = f.read_bytes()
    try:
        return safe_unpickle(data)
    except _Refused as exc:
        raise ConfigError(
            f"{show_path(f)}: refused to unpickle: the file references {exc} and a {what} may only "
            "hold numpy arrays, lists, dicts, strings and numbers (the file may be malicious)."
        ) from None
    except Exception as exc:  # any other failure means the bytes are not a valid pickle
        raise ConfigError(
            f"{show_path(f)}: not a valid {what}: truncated or corrupt pickle ({one_line(exc)})."
        ) from None


class _Refused(pickle.UnpicklingError):
    pass


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays and plain containers; refuses every other global."""

    def __init__(self, fh: Any) -> None:
        super().__init__(fh, encoding="bytes")
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None


def _allowed_globals() -> dict[tuple[str, str], Any]:
    core = _numpy_core()
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for module in ("numpy.core", "numpy._core"):
        allowed[(f"{module}.multiarray", "_reconstruct")] = core.multiarray._reconstruct
        allowed[(f"{module}.multiarray", "scalar")] = core.multiarray.scalar
        allowed[(f"{module}.numeric", "_frombuffer")] = core.numeric._frombuffer
    return allowed


def _numpy_core() -> Any:
    return getattr(np, "_core", None) or np.core


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Protocol-2 pickles written by Python 3 spell bytes as _codecs.encode(str, "latin1").
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"codec {encoding!r} is not allowed")
    return text.encode("latin1")
