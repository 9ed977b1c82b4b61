"""Text folders: ``path/<class>/<file>.txt``, one sub-folder per class, one text per file.

A class folder is a visible sub-folder that holds ``.txt`` files and no images; its name is the
class name and the classes are taken in name order, the files in name order. Files are read as
UTF-8 (a leading byte-order mark is dropped) with surrounding whitespace stripped; an empty
file is kept as an empty text. Other files (a README, ``.feat`` files) are ignored.

The aclImdb layout, ``path/train/<class>/*.txt`` and ``path/test/<class>/*.txt``, is read as
one dataset whose ``test/`` rows are the official test split (``Dataset.official_test``). A
class folder that only ``train/`` has (aclImdb's ``unsup``, unlabelled reviews) is skipped.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for cls, text in (("neg", "dull and slow"), ("pos", "a fine film")):
    ...     (root / cls).mkdir()
    ...     _ = (root / cls / "1.txt").write_text(text, encoding="utf-8")
    >>> ds = load_text_folder(root)
    >>> ds.kind, ds.class_names, ds.text_rows()
    ('text', ('neg', 'pos'), ['dull and slow', 'a fine film'])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import ConfigError
from .._dataset import Dataset, make_text_dataset
from ._common import join_names, show_path
from .image_folder import IMAGE_SUFFIXES

__all__ = ["TEXT_SUFFIX", "load_text_folder", "text_class_dirs"]

TEXT_SUFFIX = ".txt"


def text_class_dirs(path: Path) -> list[Path]:
    """The class folders of a text folder (``train/``'s in the aclImdb layout), else ``[]``."""
    train = path / "train"
    if train.is_dir():
        inner = _class_dirs(train)
        if inner:
            return inner
    return _class_dirs(path)


def load_text_folder(path: str | Path) -> Dataset:
    """Read ``path/<class>/*.txt`` (or ``path/train|test/<class>/*.txt``) as a text dataset."""
    path = Path(path)
    train, test = path / "train", path / "test"
    if train.is_dir() and _class_dirs(train):
        train_dirs = _class_dirs(train)
        test_dirs = _class_dirs(test) if test.is_dir() else []
        test_names = {d.name for d in test_dirs}
        if test_dirs:
            extra = sorted(test_names - {d.name for d in train_dirs})
            if extra:
                raise ConfigError(
                    f"{show_path(path)}: test/ has class folder(s) {join_names(extra)} that "
                    "train/ lacks; train/ and test/ need the same class folders."
                )
            train_dirs = [d for d in train_dirs if d.name in test_names]  # e.g. aclImdb's unsup
        parts = [(train_dirs, False), (test_dirs, True)]
    else:
        parts = [(_class_dirs(path), False)]
    names = [d.name for d in parts[0][0]]
    _check_classes(path, names)
    texts: list[str] = []
    labels: list[int] = []
    official: list[bool] = []
    for dirs, is_test in parts:
        for d in dirs:
            for f in _text_files(d):
                texts.append(_read_text(path, f))
                labels.append(names.index(d.name))
                official.append(is_test)
    return make_text_dataset(
        texts,
        np.array(labels, dtype=np.int64),
        name=path.name,
        task="classification",
        class_names=names,
        source=show_path(path),
        official_test=np.array(official) if any(official) else None,
    )


def _class_dirs(path: Path) -> list[Path]:
    """Visible sub-folders of ``path`` that hold ``.txt`` files and no images, in name order."""
    return sorted(
        (
            d
            for d in path.iterdir()
            if d.is_dir() and not d.name.startswith(".") and _holds_only_text(d)
        ),
        key=lambda d: d.name,
    )


def _holds_only_text(folder: Path) -> bool:
    suffixes = {f.suffix.lower() for f in folder.iterdir() if f.is_file()}
    return TEXT_SUFFIX in suffixes and not suffixes & set(IMAGE_SUFFIXES)


def _text_files(folder: Path) -> list[Path]:
    return sorted(
        (f for f in folder.iterdir() if f.is_file() and f.suffix.lower() == TEXT_SUFFIX),
        key=lambda f: f.name,
    )


def _check_classes(path: Path, names: list[str]) -> None:
    if len(names) < 2:
        found = f"only one class folder ({names[0]!r})" if names else "no class folders"
        raise ConfigError(
            f"{show_path(path)}: {found}; a text folder needs at least two class sub-folders "
            "of .txt files (e.g. neg/1.txt, pos/2.txt)."
        )


def _read_text(path: Path, f: Path) -> str:
    try:
        return f.read_text(encoding="utf-8-sig").strip()
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{show_path(path)}: {f.relative_to(path).as_posix()!r} is not valid UTF-8 (byte "
            f"{exc.start}); text files must be UTF-8."
        ) from None
