"""MNIST IDX files: ``<prefix>-images-idx3-ubyte`` beside ``<prefix>-labels-idx1-ubyte``.

Each image file needs a label file with the same prefix (``.gz`` optional, ``.idx`` spelled
with a dot also accepted). An IDX file is a big-endian header (magic number, then one 32-bit
size per dimension) followed by unsigned bytes; the magic number is ``0x00000803`` for images
and ``0x00000801`` for labels, and the data must hold exactly the declared sizes. Every pair in
the folder is read, ``train`` files first, and concatenated. The pixels stay uint8 in
``Dataset.data`` (``divisor`` 255, so the features ``X`` are ``(N, 1, H, W)`` in [0, 1]); the
class names are ``"0"``, ``"1"``, ... The rows of files whose prefix starts with ``t10k`` or
``test`` are the official test split (``Dataset.official_test``) when ``train`` files are there
too.

Example:
    >>> import tempfile, pathlib, struct
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "train-images-idx3-ubyte").write_bytes(
    ...     struct.pack(">IIII", IDX_IMAGES_MAGIC, 2, 2, 2) + bytes(8))
    >>> _ = (root / "train-labels-idx1-ubyte").write_bytes(
    ...     struct.pack(">II", IDX_LABELS_MAGIC, 2) + bytes([0, 1]))
    >>> ds = load_mnist_idx(root)
    >>> ds.X.shape, ds.data.dtype, ds.class_names
    (torch.Size([2, 1, 2, 2]), torch.uint8, ('0', '1'))
"""

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path

import numpy as np

from ...errors import ConfigError
from .._dataset import Dataset, make_dataset
from ._common import one_line, show_path

__all__ = ["IDX_IMAGES_MAGIC", "IDX_LABELS_MAGIC", "idx_image_files", "load_mnist_idx"]

IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801
_IDX_IMAGES = re.compile(r"^(?P<prefix>.+)-images[-.]idx3-ubyte(?P<gz>\.gz)?$")


def load_mnist_idx(path: str | Path) -> Dataset:
    """Read MNIST-style IDX image/label file pairs from a folder (``train`` files first)."""
    path = Path(path)
    image_files = idx_image_files(path)
    if not image_files:
        raise ConfigError(
            f"{show_path(path)}: no IDX image files (e.g. train-images-idx3-ubyte[.gz]) in the "
            "folder."
        )
    xs, ys = [], []
    for f in image_files:
        images, labels = _read_pair(path, f)
        xs.append(images)
        ys.append(labels)
    if len({x.shape[1:] for x in xs}) > 1:
        raise ConfigError(
            f"{show_path(path)}: the IDX image files have different image sizes "
            f"({', '.join(f'{x.shape[1]}x{x.shape[2]}' for x in xs)}); they must match."
        )
    X = np.concatenate(xs)[:, None]
    y = np.concatenate(ys).astype(np.int64)
    test = [_is_test(f) for f in image_files]
    official = None
    if any(test) and not all(test):
        official = np.concatenate([np.full(len(x), t) for x, t in zip(xs, test)])
    return make_dataset(
        X,
        y,
        name=path.name,
        task="classification",
        kind="image",
        class_names=[str(i) for i in range(int(y.max()) + 1)],
        source=show_path(path),
        divisor=255.0,
        official_test=official,
    )


def _is_test(f: Path) -> bool:
    """``t10k-*`` and ``test-*`` files are an official test split."""
    return f.name.startswith(("t10k", "test"))


def idx_image_files(folder: Path) -> list[Path]:
    """The ``*-images-idx3-ubyte[.gz]`` files in ``folder``, ``train`` first."""
    found = [f for f in folder.iterdir() if f.is_file() and _IDX_IMAGES.match(f.name)]
    return sorted(found, key=lambda f: (not f.name.startswith("train"), f.name))


def _read_pair(path: Path, f: Path) -> tuple[np.ndarray, np.ndarray]:
    """The ``(N, H, W)`` images of ``f`` and the ``(N,)`` labels of its label file."""
    m = _IDX_IMAGES.match(f.name)
    prefix = m.group("prefix") if m else f.name
    candidates = [
        path / f"{prefix}-labels{sep}idx1-ubyte{gz}" for gz in ("", ".gz") for sep in "-."
    ]
    label_file = next((c for c in candidates if c.is_file()), None)
    if label_file is None:
        raise ConfigError(
            f"{show_path(path)}: {f.name!r} has no label file; expected "
            f"{prefix}-labels-idx1-ubyte (or .gz) beside it."
        )
    images = _read_idx(f, IDX_IMAGES_MAGIC, 3, "image")
    labels = _read_idx(label_file, IDX_LABELS_MAGIC, 1, "label")
    if images.shape[0] != labels.shape[0]:
        raise ConfigError(
            f"{show_path(path)}: {f.name!r} holds {images.shape[0]} images but "
            f"{label_file.name!r} holds {labels.shape[0]} labels; they must match."
        )
    return images, labels


def _read_bytes(f: Path) -> bytes:
    try:
        if f.suffix == ".gz":
            with gzip.open(f, "rb") as fh:
                return fh.read()
        return f.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ConfigError(
            f"{show_path(f)}: truncated or corrupt gzip file ({one_line(exc)})."
        ) from None


def _read_idx(f: Path, magic: int, ndim: int, what: str) -> np.ndarray:
    """The uint8 array of an IDX file, checked against ``magic`` and its declared sizes."""
    data = _read_bytes(f)
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ConfigError(
            f"{show_path(f)}: truncated IDX {what} file: the header needs {header} bytes but the "
            f"file has {len(data)}."
        )
    (found,) = struct.unpack(">I", data[:4])
    if found != magic:
        raise ConfigError(
            f"{show_path(f)}: not an IDX {what} file: magic number 0x{found:08X}, expected "
            f"0x{magic:08X}."
        )
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != expected:
        shape = " x ".join(str(d) for d in dims)
        raise ConfigError(
            f"{show_path(f)}: truncated or corrupt IDX {what} file: the header declares {shape} "
            f"({expected} bytes of data) but the file holds {len(data) - header}."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
