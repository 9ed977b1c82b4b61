"""User files: CSV, Parquet, NPZ, image folders, MNIST IDX files and CIFAR-10 python batches.

Decisions (the README repeats them):

* **CSV / Parquet**: ``target=COLUMN`` names the label column; every other column is a feature
  and must be numeric. A non-numeric feature column is an error (encode it yourself: reglab
  does not guess an encoding that would be fit on the test rows too). Empty cells, ``NA``,
  ``N/A``, ``NaN``, ``null`` and infinities are errors naming the columns and the row count.
  String class labels are encoded ``0..K-1`` in sorted order and their names kept.
* **NPZ**: arrays ``X`` and ``y`` (optional ``class_names``, ``feature_names``), loaded with
  ``allow_pickle=False``. ``X`` of shape ``(N, F)`` is tabular, ``(N, H, W)`` or ``(N, C, H, W)``
  is images; integer images are divided by 255, float images kept as they are.
* **Image folder**: one sub-folder per class (its name is the class name), images read with
  Pillow. All grayscale -> 1 channel, otherwise every image is converted to RGB (alpha dropped).
  Without ``image_size`` all images must share one size; with ``image_size=(H, W)`` each is
  resized (bilinear). Values are divided by 255 (16-bit grayscale by 65535).
* **MNIST IDX**: ``<prefix>-images-idx3-ubyte`` with ``<prefix>-labels-idx1-ubyte`` (``.gz``
  optional, ``.idx`` spelled with a dot also accepted); ``train`` files first. Pixels / 255.
* **CIFAR-10**: ``data_batch_1`` .. ``data_batch_5`` then ``test_batch`` (any present subset),
  class names from ``batches.meta`` when present. The pickles are read by an unpickler that only
  rebuilds numpy arrays, lists, dicts, strings and numbers; anything else is refused, so a
  malicious file cannot run code.

Folder formats concatenate every file they find (train files first); ``reglab.data.split``
makes the train/validation/test split.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import pickle
import re
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ._dataset import Dataset, make_dataset

__all__ = [
    "CIFAR10_CLASSES",
    "IMAGE_SUFFIXES",
    "load_cifar10",
    "load_csv",
    "load_image_folder",
    "load_mnist_idx",
    "load_npz",
    "load_parquet",
    "safe_unpickle",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null"})
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
IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801


def _show(path: Path) -> str:
    return str(path)


def _join(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names)} in all)"
    return shown


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


# --------------------------------------------------------------------------- tabular files


class _Column:
    """One column: float64 values (NaN where missing) or strings, plus the missing mask."""

    def __init__(self, name: str, values: np.ndarray, missing: np.ndarray) -> None:
        self.name = name
        self.values = values
        self.missing = missing

    @property
    def numeric(self) -> bool:
        return self.values.dtype.kind == "f"


def _column_from_tokens(name: str, tokens: list[str]) -> _Column:
    missing = np.array([t.lower() in MISSING_TOKENS for t in tokens], dtype=bool)
    try:
        values = np.array(["nan" if m else t for t, m in zip(tokens, missing)], dtype=np.float64)
    except ValueError:
        return _Column(name, np.array(tokens, dtype=object), missing)
    return _Column(name, values, missing | ~np.isfinite(values))


def load_csv(
    path: str | Path, *, target: str | None, task: str | None = None, delimiter: str = ","
) -> Dataset:
    """Read a CSV file with a header row; ``target`` names the label column."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter, strict=True)
            try:
                header = next(reader, None)
                if header is None:
                    raise ConfigError(
                        f"{_show(path)}: the CSV file is empty; it needs a header row with the "
                        "column names, then one row per sample."
                    )
                header = [h.strip() for h in header]
                rows: list[list[str]] = []
                for row in reader:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue  # blank line
                    if len(row) != len(header):
                        raise ConfigError(
                            f"{_show(path)}: malformed CSV: line {reader.line_num} has "
                            f"{len(row)} fields but the header has {len(header)}; every row "
                            "needs one value per column."
                        )
                    rows.append([cell.strip() for cell in row])
            except csv.Error as exc:
                raise ConfigError(
                    f"{_show(path)}: malformed CSV at line {reader.line_num}: {exc}; check the "
                    "quoting and the delimiter."
                ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{_show(path)}: not a UTF-8 text file; a CSV file must be UTF-8 text."
        ) from None
    if any(not h for h in header):
        raise ConfigError(
            f"{_show(path)}: malformed CSV: the header has an empty column name "
            f"(columns: {_join(header)}); every column needs a name."
        )
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise ConfigError(
            f"{_show(path)}: malformed CSV: duplicate column name(s) {_join(duplicates)}; "
            "column names must be unique."
        )
    if not rows:
        raise ConfigError(
            f"{_show(path)}: the CSV file has a header but no data rows; it needs one row per sample."
        )
    columns = [_column_from_tokens(h, [r[j] for r in rows]) for j, h in enumerate(header)]
    return _tabular(columns, target=target, task=task, path=path)


def load_parquet(path: str | Path, *, target: str | None, task: str | None = None) -> Dataset:
    """Read a Parquet file with pyarrow; ``target`` names the label column."""
    path = Path(path)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow ships with reglab[parquet]
        raise ConfigError(
            f"{_show(path)}: reading Parquet needs pyarrow: pip install 'reglab[parquet]'."
        ) from None
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise ConfigError(
            f"{_show(path)}: not a readable Parquet file ({_one_line(exc)})."
        ) from None
    columns: list[_Column] = []
    for name, chunked in zip(table.column_names, table.columns):
        kind = chunked.type
        missing = np.asarray(chunked.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
            values = np.asarray(
                chunked.cast(pa.float64()).fill_null(math.nan).to_numpy(), dtype=np.float64
            )
            columns.append(_Column(name, values, missing | ~np.isfinite(values)))
        else:
            strings = [
                "" if v is None else str(v) for v in chunked.to_pylist()
            ]  # dictionary/str/other
            columns.append(_Column(name, np.array(strings, dtype=object), missing))
    if table.num_rows == 0:
        raise ConfigError(f"{_show(path)}: the Parquet file has no rows.")
    return _tabular(columns, target=target, task=task, path=path)


def _tabular(
    columns: list[_Column], *, target: str | None, task: str | None, path: Path
) -> Dataset:
    names = [c.name for c in columns]
    if target is None:
        raise ConfigError(
            f"{_show(path)}: name the label column with target=COLUMN (CLI: --target). "
            f"Available columns: {_join(names)}."
        )
    if target not in names:
        raise ConfigError(
            f"{_show(path)}: no target column {target!r}. Available columns: {_join(names)}."
        )
    bad = [(c.name, int(c.missing.sum())) for c in columns if c.missing.any()]
    if bad:
        any_missing = np.logical_or.reduce([c.missing for c in columns])
        detail = ", ".join(f"{name!r} ({_rows(n)})" for name, n in bad)
        raise ConfigError(
            f"{_show(path)}: missing, NaN or infinite values in column(s) {detail}; "
            f"{_rows(int(any_missing.sum()))} affected in all. Fill or drop them before loading."
        )
    features = [c for c in columns if c.name != target]
    if not features:
        raise ConfigError(
            f"{_show(path)}: the only column is the target {target!r}; a dataset needs at "
            "least one feature column."
        )
    text = [c for c in features if not c.numeric]
    if text:
        example = next(
            v for v in text[0].values if _not_number(v)
        )  # the first cell that broke parsing
        raise ConfigError(
            f"{_show(path)}: feature column(s) {_join([c.name for c in text])} are not numeric "
            f"(e.g. {example!r} in {text[0].name!r}); encode them as numbers or drop them "
            "(only the target column may hold strings)."
        )
    X = np.stack([c.values for c in features], axis=1)
    y_col = next(c for c in columns if c.name == target)
    y = y_col.values
    if y_col.numeric and np.all(y == np.round(y)) and np.all(np.abs(y) < 2**53):
        y = y.astype(np.int64)  # class names read "3", not "3.0"
    return make_dataset(
        X,
        y,
        name=path.stem,
        task=task,
        feature_names=[c.name for c in features],
        source=_show(path),
    )


def _not_number(token: Any) -> bool:
    try:
        float(token)
    except ValueError:
        return True
    return False


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- NPZ


def load_npz(path: str | Path, *, task: str | None = None) -> Dataset:
    """Read arrays ``X`` and ``y`` (and optional ``class_names``/``feature_names``) from ``.npz``."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(6)
    if not head.startswith(b"PK"):
        # np.load would fall back to reading a pickle; say what the file is not instead.
        what = "a single .npy array" if head == b"\x93NUMPY" else "a zip archive"
        found = "it is " + what if what.startswith("a single") else "it is not " + what
        raise ConfigError(
            f"{_show(path)}: not an .npz archive ({found}); save one with "
            "numpy.savez(path, X=features, y=targets)."
        )
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(
            f"{_show(path)}: not a readable .npz archive ({_one_line(exc)}); save one with "
            "numpy.savez(path, X=features, y=targets)."
        ) from None
    with archive:
        keys = list(archive.files)
        for key, meaning in (("X", "features"), ("y", "targets")):
            if key not in keys:
                raise ConfigError(
                    f"{_show(path)}: the archive has no array {key!r} ({meaning}); it needs "
                    f"arrays 'X' and 'y'. Found: {_join(keys) or 'no arrays'}."
                )
        try:
            X = archive["X"]
            y = archive["y"]
            class_names = archive["class_names"] if "class_names" in keys else None
            feature_names = archive["feature_names"] if "feature_names" in keys else None
        except ValueError as exc:  # object arrays need pickle, which stays off
            raise ConfigError(
                f"{_show(path)}: an array holds Python objects ({_one_line(exc)}); reglab loads "
                "plain numeric (and string) arrays only."
            ) from None
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ConfigError(
                f"{_show(path)}: the archive is truncated or corrupt ({_one_line(exc)})."
            ) from None
    source = _show(path)
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
    kind = "tabular" if X.ndim == 2 else "image"
    if X.ndim == 3:
        X = X[:, None]
    if X.dtype.kind in "iu" and kind == "image":
        X = X.astype(np.float32) / np.float32(255.0)
    if X.dtype.kind == "f":
        finite = np.isfinite(X.reshape(X.shape[0], -1))
        if not finite.all():
            bad_rows = int((~finite.all(axis=1)).sum())
            raise ConfigError(
                f"{source}: 'X' has {int((~finite).sum())} NaN or infinite values in "
                f"{_rows(bad_rows)}; fill or drop them before loading."
            )
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ConfigError(
            f"{source}: 'y' has {int((~np.isfinite(y)).sum())} NaN or infinite values; fill or "
            "drop them before loading."
        )
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
    )


# --------------------------------------------------------------------------- image folder

_GRAY_MODES = frozenset({"1", "L", "LA", "I", "F", "I;16", "I;16B", "I;16L", "I;16N"})


def load_image_folder(
    path: str | Path,
    *,
    image_size: tuple[int, int] | None = None,
    channels: str = "auto",
) -> Dataset:
    """Read ``path/<class>/<image>`` files with Pillow into ``(N, C, H, W)`` values in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    class_dirs = sorted(
        (d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")),
        key=lambda d: d.name,
    )
    if not class_dirs:
        raise ConfigError(
            f"{_show(path)}: no class sub-folders; an image folder needs one sub-folder per "
            "class holding its images (e.g. cats/1.png, dogs/2.png)."
        )
    files: list[tuple[Path, int]] = []
    for label, d in enumerate(class_dirs):
        found = sorted(
            (f for f in d.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES),
            key=lambda f: f.name,
        )
        if not found:
            raise ConfigError(
                f"{_show(path)}: class folder {d.name!r} has no images "
                f"({', '.join(IMAGE_SUFFIXES)}); add images or remove the folder."
            )
        files.extend((f, label) for f in found)

    images: list[Any] = []
    for f, _ in files:
        try:
            img = Image.open(f)
            img.load()
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
            raise ConfigError(
                f"{_show(path)}: cannot read image {f.relative_to(path).as_posix()!r} "
                f"({_one_line(exc)}); remove it or replace it with a valid image."
            ) from None
        images.append(img)

    gray = all(img.mode in _GRAY_MODES for img in images)
    n_channels = {"auto": 1 if gray else 3, "grayscale": 1, "rgb": 3}[channels]
    if image_size is None:
        h0, w0 = images[0].height, images[0].width
        for img, (f, _) in zip(images, files):
            if (img.height, img.width) != (h0, w0):
                raise ConfigError(
                    f"{_show(path)}: images differ in size: "
                    f"{files[0][0].relative_to(path).as_posix()!r} is {h0}x{w0} (HxW) but "
                    f"{f.relative_to(path).as_posix()!r} is {img.height}x{img.width}; pass "
                    "image_size=(H, W) (CLI: --image-size) to resize them all."
                )
        size = (h0, w0)
    else:
        size = image_size
    X = np.empty((len(images), n_channels, size[0], size[1]), dtype=np.float32)
    for i, img in enumerate(images):
        X[i] = _to_array(img, n_channels, size)
    y = np.array([label for _, label in files], dtype=np.int64)
    return make_dataset(
        X,
        y,
        name=path.name,
        task="classification",
        kind="image",
        class_names=[d.name for d in class_dirs],
        source=_show(path),
    )


def _to_array(img: Any, n_channels: int, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    if img.mode.startswith("I;16"):
        # 16-bit grayscale: keep the full range instead of clipping to 8 bits.
        img = Image.fromarray((np.asarray(img, dtype=np.float32) / 65535.0).astype(np.float32))
        scale = 1.0
    else:
        img = img.convert("L" if n_channels == 1 else "RGB") if img.mode != "F" else img
        scale = 1.0 if img.mode == "F" else 255.0
    if (img.height, img.width) != size:
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.float32) / np.float32(scale)
    if arr.ndim == 2:
        arr = arr[None]
        if n_channels == 3:
            arr = np.repeat(arr, 3, axis=0)
    else:
        arr = arr.transpose(2, 0, 1)
    return arr


# --------------------------------------------------------------------------- MNIST IDX

_IDX_IMAGES = re.compile(r"^(?P<prefix>.+)-images[-.]idx3-ubyte(?P<gz>\.gz)?$")


def idx_image_files(folder: Path) -> list[Path]:
    """The ``*-images-idx3-ubyte[.gz]`` files in ``folder``, ``train`` first."""
    found = [f for f in folder.iterdir() if f.is_file() and _IDX_IMAGES.match(f.name)]
    return sorted(found, key=lambda f: (not f.name.startswith("train"), f.name))


def _read_bytes(f: Path) -> bytes:
    try:
        if f.suffix == ".gz":
            with gzip.open(f, "rb") as fh:
                return fh.read()
        return f.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ConfigError(
            f"{_show(f)}: truncated or corrupt gzip file ({_one_line(exc)})."
        ) from None


def _read_idx(f: Path, magic: int, ndim: int, what: str) -> np.ndarray:
    data = _read_bytes(f)
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ConfigError(
            f"{_show(f)}: truncated IDX {what} file: the header needs {header} bytes but the "
            f"file has {len(data)}."
        )
    (found,) = struct.unpack(">I", data[:4])
    if found != magic:
        raise ConfigError(
            f"{_show(f)}: not an IDX {what} file: magic number 0x{found:08X}, expected "
            f"0x{magic:08X}."
        )
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != expected:
        shape = " x ".join(str(d) for d in dims)
        raise ConfigError(
            f"{_show(f)}: truncated or corrupt IDX {what} file: the header declares {shape} "
            f"({expected} bytes of data) but the file holds {len(data) - header}."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist_idx(path: str | Path) -> Dataset:
    """Read MNIST-style IDX image/label file pairs from a folder (``train`` files first)."""
    path = Path(path)
    image_files = idx_image_files(path)
    if not image_files:
        raise ConfigError(
            f"{_show(path)}: no IDX image files (e.g. train-images-idx3-ubyte[.gz]) in the folder."
        )
    xs, ys = [], []
    for f in image_files:
        m = _IDX_IMAGES.match(f.name)
        prefix = m.group("prefix") if m else f.name
        candidates = [
            path / f"{prefix}-labels{sep}idx1-ubyte{gz}" for gz in ("", ".gz") for sep in "-."
        ]
        label_file = next((c for c in candidates if c.is_file()), None)
        if label_file is None:
            raise ConfigError(
                f"{_show(path)}: {f.name!r} has no label file; expected "
                f"{prefix}-labels-idx1-ubyte (or .gz) beside it."
            )
        images = _read_idx(f, IDX_IMAGES_MAGIC, 3, "image")
        labels = _read_idx(label_file, IDX_LABELS_MAGIC, 1, "label")
        if images.shape[0] != labels.shape[0]:
            raise ConfigError(
                f"{_show(path)}: {f.name!r} holds {images.shape[0]} images but "
                f"{label_file.name!r} holds {labels.shape[0]} labels; they must match."
            )
        xs.append(images)
        ys.append(labels)
    if len({x.shape[1:] for x in xs}) > 1:
        raise ConfigError(
            f"{_show(path)}: the IDX image files have different image sizes "
            f"({', '.join(f'{x.shape[1]}x{x.shape[2]}' for x in xs)}); they must match."
        )
    X = np.concatenate(xs)[:, None].astype(np.float32) / np.float32(255.0)
    y = np.concatenate(ys).astype(np.int64)
    return make_dataset(
        X,
        y,
        name=path.name,
        task="classification",
        kind="image",
        class_names=[str(i) for i in range(int(y.max()) + 1)],
        source=_show(path),
    )


# --------------------------------------------------------------------------- CIFAR-10


def _numpy_core() -> Any:
    return getattr(np, "_core", None) or np.core


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


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Protocol-2 pickles written by Python 3 spell bytes as _codecs.encode(str, "latin1").
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"codec {encoding!r} is not allowed")
    return text.encode("latin1")


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
            f"{_show(f)}: refused to unpickle: the file references {exc} and a {what} may only "
            "hold numpy arrays, lists, dicts, strings and numbers (the file may be malicious)."
        ) from None
    except Exception as exc:  # any other failure means the bytes are not a valid pickle
        raise ConfigError(
            f"{_show(f)}: not a valid {what}: truncated or corrupt pickle ({_one_line(exc)})."
        ) from None


def _get(batch: dict[Any, Any], key: str) -> Any:
    if key.encode() in batch:
        return batch[key.encode()]
    return batch.get(key)


def cifar_batch_files(folder: Path) -> list[Path]:
    """``data_batch_1..`` in numeric order, then ``test_batch``, as present in ``folder``."""
    train = [f for f in folder.iterdir() if f.is_file() and re.fullmatch(r"data_batch_\d+", f.name)]
    train.sort(key=lambda f: int(f.name.rsplit("_", 1)[1]))
    test = [folder / "test_batch"] if (folder / "test_batch").is_file() else []
    return train + test


def load_cifar10(path: str | Path) -> Dataset:
    """Read CIFAR-10 python batches from a folder into ``(N, 3, 32, 32)`` values in [0, 1]."""
    path = Path(path)
    files = cifar_batch_files(path)
    if not files:
        raise ConfigError(
            f"{_show(path)}: no CIFAR-10 batches (data_batch_1 .. data_batch_5, test_batch)."
        )
    xs, ys = [], []
    for f in files:
        batch = _load_pickle(f, "CIFAR-10 batch")
        if not isinstance(batch, dict):
            raise ConfigError(
                f"{_show(f)}: not a CIFAR-10 batch: expected a dict with keys b'data' and "
                f"b'labels'. Got {type(batch).__name__} instead."
            )
        data, labels = _get(batch, "data"), _get(batch, "labels")
        for key, value in (("data", data), ("labels", labels)):
            if value is None:
                found = ", ".join(repr(k) for k in batch)
                raise ConfigError(
                    f"{_show(f)}: not a CIFAR-10 batch: no key b{key!r}; expected b'data' and "
                    f"b'labels'. Found: {found or 'no keys'}."
                )
        if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072:
            shape = getattr(data, "shape", type(data).__name__)
            raise ConfigError(
                f"{_show(f)}: not a CIFAR-10 batch: b'data' must be an array of shape (N, 3072) "
                f"(3x32x32 pixels per row). Got {shape} instead."
            )
        try:
            y = np.asarray(labels, dtype=np.int64).reshape(-1)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{_show(f)}: not a CIFAR-10 batch: b'labels' must be a list of integers."
            ) from None
        if y.shape[0] != data.shape[0]:
            raise ConfigError(
                f"{_show(f)}: not a CIFAR-10 batch: {data.shape[0]} images but {y.shape[0]} "
                "labels; they must match."
            )
        if y.size and (y.min() < 0 or y.max() > 255):
            raise ConfigError(
                f"{_show(f)}: not a CIFAR-10 batch: labels must be class indices >= 0. Got "
                f"values in [{y.min()}, {y.max()}]."
            )
        xs.append(np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(y)
    y_all = np.concatenate(ys)
    n_classes = int(y_all.max()) + 1
    names = list(CIFAR10_CLASSES) if n_classes <= 10 else [str(i) for i in range(n_classes)]
    meta = path / "batches.meta"
    if meta.is_file():
        info = _load_pickle(meta, "CIFAR-10 meta file")
        label_names = _get(info, "label_names") if isinstance(info, dict) else None
        if isinstance(label_names, list) and len(label_names) >= n_classes:
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in label_names]
    X = np.concatenate(xs).astype(np.float32) / np.float32(255.0)
    return make_dataset(
        X,
        y_all,
        name=path.name,
        task="classification",
        kind="image",
        class_names=names,
        source=_show(path),
    )
