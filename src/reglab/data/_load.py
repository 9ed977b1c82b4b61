"""``load_dataset``: one entry point for built-in names, files and folders."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._checks import Boolean, Constraint, Constraints, InstanceOf, NoneOk, OneOf, validate_params
from ..errors import ConfigError, did_you_mean, param_error
from ._dataset import TASKS, Dataset
from .builtin import BUILTIN_DATASETS, load_builtin
from .files import (
    IMAGE_SUFFIXES,
    JSONL_SUFFIXES,
    cifar_batch_files,
    idx_image_files,
    load_cifar10,
    load_csv,
    load_image_folder,
    load_jsonl,
    load_mnist_idx,
    load_npz,
    load_parquet,
    load_text_folder,
    text_class_dirs,
)

__all__ = ["load_dataset"]

_FILE_KINDS = {
    ".csv": "CSV",
    ".tsv": "TSV",
    ".parquet": "Parquet",
    ".pq": "Parquet",
    **dict.fromkeys(JSONL_SUFFIXES, "JSON Lines"),
    ".npz": "NPZ",
}
_WHAT_WORKS = (
    f"a built-in dataset ({', '.join(BUILTIN_DATASETS)}), a .csv/.tsv/.parquet/.jsonl/.npz file, "
    "or a folder (one sub-folder of images or of .txt files per class, MNIST IDX files, or "
    "CIFAR-10 batches)"
)
_ONE_FORMAT = ["MNIST IDX files", "CIFAR-10 batches", "one sub-folder of images per class"]


class _ImageSize(Constraint):
    """A pair of ints ``(H, W)``, each at least 1 (a tuple or a list)."""

    def is_satisfied_by(self, value: Any) -> bool:
        return (
            isinstance(value, (tuple, list))
            and len(value) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in value)
        )

    def __str__(self) -> str:
        return "a pair of ints (H, W) >= 1"


_COLUMN = InstanceOf(str, description="a column name (str)")

#: The constraints of load_dataset's arguments, checked by validate_params.
_LOAD_DATASET_CONSTRAINTS: Constraints = {
    "name_or_path": [InstanceOf(str, os.PathLike, description="a str or path")],
    "target": [NoneOk(), _COLUMN],
    "task": [NoneOk(), OneOf(*TASKS)],
    "flatten": [Boolean()],
    "channels": [OneOf("auto", "grayscale", "rgb")],
    "image_size": [NoneOk(), _ImageSize()],
    "text": [NoneOk(), _COLUMN],
}


def load_dataset(
    name_or_path: str | os.PathLike[str],
    *,
    target: str | None = None,
    text: str | None = None,
    task: str | None = None,
    flatten: bool = False,
    image_size: tuple[int, int] | None = None,
    channels: str = "auto",
) -> Dataset:
    """Load a built-in dataset by name, or a user's file or folder, as a ``Dataset``.

    A string that names a built-in dataset loads it; anything else is a path. Files: CSV/TSV,
    Parquet and JSON Lines (``.jsonl``/``.ndjson``, one object per line) tables (``target`` names
    the label column; string columns and missing values are kept raw and encoded by ``split``),
    NPZ (arrays ``X``, ``y``). A table gives a text dataset (``kind="text"``) from the column
    ``text`` names, every other feature column ignored; without ``text``, from its one long-text
    column when exactly one string column has a median of at least 4 words per cell and mostly
    distinct cells (``Dataset.text_detected``). Folders: one sub-folder of images or of UTF-8
    ``.txt`` files per class (the aclImdb ``train/``, ``test/`` layout too: a class only train
    has, like ``unsup``, is skipped), MNIST IDX files, or CIFAR-10 python batches (``test/``
    texts, IDX ``t10k-*`` files and CIFAR's ``test_batch`` are marked as the official test
    split); a folder mixing these is an error.
    The task is inferred (strings or at most 20 distinct integers: classification; otherwise
    regression) unless ``task`` says it. 8-bit images are held as uint8 (``Dataset.data``).

    Args:
        name_or_path: built-in name (see ``list_datasets``) or a path.
        target: label column of a CSV/Parquet/JSON Lines file.
        text: text column of a CSV/Parquet/JSON Lines file (None: detect a long-text column).
        task: ``"classification"``, ``"regression"`` or ``None`` to infer.
        flatten: give images as ``(N, C*H*W)`` tabular features.
        image_size: image folder only: resize every image to ``(H, W)``; ``None`` requires
            all images to share one size.
        channels: image folder only: ``"auto"`` (1 if all images are grayscale, else 3),
            ``"grayscale"`` or ``"rgb"``.

    Example:
        >>> ds = load_dataset("digits")
        >>> ds.X.shape, ds.y.dtype, ds.task, float(ds.X.max())
        (torch.Size([1797, 1, 8, 8]), torch.int64, 'classification', 1.0)
    """
    owner = "load_dataset"
    validate_params(owner, locals(), _LOAD_DATASET_CONSTRAINTS)
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_DATASETS:
        if text is not None:
            raise param_error(
                "text", owner, f"None for the built-in dataset {name_or_path!r}", text
            )
        return _load_builtin_name(owner, name_or_path, target, task, flatten, image_size, channels)
    path = Path(name_or_path)
    if not path.exists():
        text = str(name_or_path)
        if path.suffix or os.sep in text or "/" in text:
            raise ConfigError(f"File or folder not found: {text!r}. Expected {_WHAT_WORKS}.")
        raise ConfigError(
            f"Unknown dataset {text!r}.{did_you_mean(text, BUILTIN_DATASETS)} Built-in "
            f"datasets: {', '.join(BUILTIN_DATASETS)}; or give the path of a file or folder."
        )
    if path.is_file():
        ds = _load_file(owner, path, target, text, task, image_size, channels)
    else:
        _no_column(owner, "text", text, str(path))
        ds = _load_folder(owner, path, target, task, image_size, channels)
    return ds.flat() if flatten else ds


def _load_builtin_name(
    owner: str,
    name: str,
    target: str | None,
    task: str | None,
    flatten: bool,
    image_size: tuple[int, int] | None,
    channels: str,
) -> Dataset:
    """A built-in dataset: no column, task or image option may contradict it."""
    if target is not None:
        raise param_error("target", owner, f"None for the built-in dataset {name!r}", target)
    if task is not None and task != _builtin_task(name):
        raise param_error(
            "task",
            owner,
            f"None or {_builtin_task(name)!r} for {name!r}",
            task,
        )
    _no_image_options(owner, image_size, channels, name)
    return load_builtin(name, flatten=flatten)


def _load_file(
    owner: str,
    path: Path,
    target: str | None,
    text: str | None,
    task: str | None,
    image_size: tuple[int, int] | None,
    channels: str,
) -> Dataset:
    """A CSV/TSV, Parquet, JSON Lines or NPZ file, chosen by its suffix."""
    suffix = path.suffix.lower()
    if suffix not in _FILE_KINDS:
        raise ConfigError(
            f"{path}: unsupported file type {suffix or '(no suffix)'!r}. Expected {_WHAT_WORKS}."
        )
    _no_image_options(owner, image_size, channels, str(path))
    if suffix in (".csv", ".tsv"):
        delimiter = "\t" if suffix == ".tsv" else ","
        return load_csv(path, target=target, task=task, delimiter=delimiter, text=text)
    if suffix in (".parquet", ".pq"):
        return load_parquet(path, target=target, task=task, text=text)
    if suffix in JSONL_SUFFIXES:
        return load_jsonl(path, target=target, task=task, text=text)
    _no_column(owner, "target", target, str(path))
    _no_column(owner, "text", text, str(path))
    return load_npz(path, task=task)


def _load_folder(
    owner: str,
    path: Path,
    target: str | None,
    task: str | None,
    image_size: tuple[int, int] | None,
    channels: str,
) -> Dataset:
    """CIFAR-10 batches, MNIST IDX files, one sub-folder of .txt files per class, or else one
    sub-folder of images per class."""
    _no_column(owner, "target", target, str(path))
    if task == "regression":
        raise param_error(
            "task", owner, f"None or 'classification' for the folder {str(path)!r}", task
        )
    if not any(not p.name.startswith(".") for p in path.iterdir()):
        raise ConfigError(f"{path}: the folder is empty. Expected {_WHAT_WORKS}.")
    cifar, idx, text_dirs = cifar_batch_files(path), idx_image_files(path), text_class_dirs(path)
    if cifar or idx or text_dirs:
        _one_format(path, cifar, idx, text_dirs)
    if text_dirs:
        _no_image_options(owner, image_size, channels, str(path))
        return load_text_folder(path)
    if cifar:
        _no_image_options(owner, image_size, channels, str(path))
        return load_cifar10(path)
    if idx:
        _no_image_options(owner, image_size, channels, str(path))
        return load_mnist_idx(path)
    return load_image_folder(
        path,
        image_size=tuple(image_size) if image_size is not None else None,  # type: ignore[arg-type]
        channels=channels,
    )


def _one_format(path: Path, cifar: list[Path], idx: list[Path], text_dirs: list[Path]) -> None:
    """A folder holds CIFAR-10 batches, IDX files, texts or images, never two of them."""
    found = []
    if idx:
        found.append(f"MNIST IDX files ({idx[0].name!r})")
    if cifar:
        found.append(f"CIFAR-10 batches ({cifar[0].name!r})")
    image = _first_image(path)
    if image is not None:
        found.append(f"image files ({image.relative_to(path).as_posix()!r})")
    formats = list(_ONE_FORMAT)
    if text_dirs:
        found.append(f"text files ({text_dirs[0].relative_to(path).as_posix() + '/'!r})")
        formats.append("one sub-folder of .txt files per class")
    if len(found) > 1:
        raise ConfigError(
            f"{path}: the folder mixes formats: {' and '.join(found)}; a folder must hold one "
            f"format: {', '.join(formats[:-1])}, or {formats[-1]}."
        )


def _first_image(path: Path) -> Path | None:
    """An image file in ``path`` or one of its visible sub-folders, if there is one."""
    for folder in [path, *sorted(d for d in path.iterdir() if d.is_dir())]:
        if folder.name.startswith(".") and folder != path:
            continue
        for f in sorted(folder.iterdir()):
            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                return f
    return None


def _builtin_task(name: str) -> str:
    return "regression" if name == "diabetes" else "classification"


def _no_column(owner: str, name: str, value: str | None, what: str) -> None:
    """``target``/``text`` name a column: only tables have them."""
    if value is not None:
        why = "only CSV/Parquet files have columns"
        if name == "text":
            why = "a text column is read from a CSV/TSV, Parquet or JSON Lines file"
        raise param_error(name, owner, f"None for {what!r} ({why})", value)


def _no_image_options(owner: str, image_size: object, channels: str, what: str) -> None:
    if image_size is not None:
        raise param_error(
            "image_size", owner, f"None for {what!r} (it applies to image folders)", image_size
        )
    if channels != "auto":
        raise param_error(
            "channels", owner, f"'auto' for {what!r} (it applies to image folders)", channels
        )
