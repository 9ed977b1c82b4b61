"""CSV / TSV and Parquet tables: one label column, every other column a feature.

``target=COLUMN`` names the label column; every other column is a feature, numeric or strings.
Empty cells, ``NA``, ``N/A``, ``NaN``, ``null`` and infinities are missing. A table whose
features are all numeric and complete gives float32 features as they are. Otherwise the
``Dataset`` keeps the raw table (numbers, category codes into ``Dataset.categories``, NaN where
missing) and ``reglab.data.split`` encodes it with statistics of the training rows only (see
``reglab.data.encode``). A missing target is an error naming the column and the row count.
String class labels are encoded ``0..K-1`` in sorted order and their names kept; integral float
labels become integers (class names read ``"3"``, not ``"3.0"``). Parquet columns of integer,
float, decimal, boolean, string, categorical (dictionary) and date/time types are read; nested
(list, struct, map, union) and binary columns are an error naming the column.

**Text.** ``text=COLUMN`` makes a text dataset (``kind="text"``) from that string column and the
target; every other column is then ignored. Without ``text``, a table in which exactly one
feature column is *long text* becomes a text dataset from that column (``Dataset.text_detected``
is True); a column is long text when it holds strings, the median of its cells has at least 4
words (whitespace-separated) and more than half of its non-empty cells are distinct. A table
with several such columns, or none, stays a table (string columns are categories). An empty or
missing cell of the text column is kept as an empty text.

Both formats are read into :class:`Column` objects (float64 values with NaN where missing, or
strings) and :func:`table_dataset` turns the columns into a ``Dataset``, so a new column kind
is one more branch there.

Example:
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "toy.csv"
    >>> _ = f.write_text("a,b,label\\n1,2,x\\n3,4,y\\n5,6,x\\n")
    >>> ds = load_csv(f, target="label")
    >>> ds.X.shape, ds.class_names, ds.feature_names
    (torch.Size([3, 2]), ('x', 'y'), ('a', 'b'))
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError
from .._dataset import Dataset, _with, make_dataset, make_text_dataset
from ._common import MISSING_TOKENS, join_names, one_line, row_count, show_path

__all__ = [
    "LONG_TEXT_WORDS",
    "Column",
    "column_from_tokens",
    "is_long_text",
    "load_csv",
    "load_parquet",
    "table_dataset",
]

# A string column whose median cell has at least this many words is long text (see the module
# docstring for the whole rule).
LONG_TEXT_WORDS = 4


class Column:
    """One column: float64 values (NaN where missing) or strings, plus the missing mask."""

    def __init__(self, name: str, values: np.ndarray, missing: np.ndarray) -> None:
        self.name = name
        self.values = values
        self.missing = missing

    @property
    def numeric(self) -> bool:
        return self.values.dtype.kind == "f"


def column_from_tokens(name: str, tokens: list[str]) -> Column:
    """A numeric column when every present token parses as a float, else a string column."""
    missing = np.array([t.lower() in MISSING_TOKENS for t in tokens], dtype=bool)
    try:
        values = np.array(["nan" if m else t for t, m in zip(tokens, missing)], dtype=np.float64)
    except ValueError:
        return Column(name, np.array(tokens, dtype=object), missing)
    return Column(name, values, missing | ~np.isfinite(values))


# --------------------------------------------------------------------------- CSV


def load_csv(
    path: str | Path,
    *,
    target: str | None,
    task: str | None = None,
    delimiter: str = ",",
    text: str | None = None,
) -> Dataset:
    """Read a CSV file with a header row; ``target`` names the label column, ``text`` a text
    column (see the module docstring)."""
    path = Path(path)
    header, rows = _read_csv(path, delimiter)
    _check_header(path, header, rows)
    columns = [column_from_tokens(h, [r[j] for r in rows]) for j, h in enumerate(header)]
    return table_dataset(columns, target=target, task=task, path=path, text=text)


def _read_csv(path: Path, delimiter: str) -> tuple[list[str], list[list[str]]]:
    """The stripped header and data rows (blank lines skipped) of a UTF-8 CSV file."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter, strict=True)
            try:
                header = next(reader, None)
                if header is None:
                    raise ConfigError(
                        f"{show_path(path)}: the CSV file is empty; it needs a header row with the "
                        "column names, then one row per sample."
                    )
                header = [h.strip() for h in header]
                rows: list[list[str]] = []
                for row in reader:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue  # blank line
                    if len(row) != len(header):
                        raise ConfigError(
                            f"{show_path(path)}: malformed CSV: line {reader.line_num} has "
                            f"{len(row)} fields but the header has {len(header)}; every row "
                            "needs one value per column."
                        )
                    rows.append([cell.strip() for cell in row])
            except csv.Error as exc:
                raise ConfigError(
                    f"{show_path(path)}: malformed CSV at line {reader.line_num}: {exc}; check the "
                    "quoting and the delimiter."
                ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{show_path(path)}: not a UTF-8 text file; a CSV file must be UTF-8 text."
        ) from None
    return header, rows


def _check_header(path: Path, header: list[str], rows: list[list[str]]) -> None:
    if any(not h for h in header):
        raise ConfigError(
            f"{show_path(path)}: malformed CSV: the header has an empty column name "
            f"(columns: {join_names(header)}); every column needs a name."
        )
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise ConfigError(
            f"{show_path(path)}: malformed CSV: duplicate column name(s) {join_names(duplicates)}; "
            "column names must be unique."
        )
    if not rows:
        raise ConfigError(
            f"{show_path(path)}: the CSV file has a header but no data rows; it needs one row per "
            "sample."
        )


# --------------------------------------------------------------------------- Parquet


def load_parquet(
    path: str | Path, *, target: str | None, task: str | None = None, text: str | None = None
) -> Dataset:
    """Read a Parquet file with pyarrow; ``target`` names the label column, ``text`` a text
    column."""
    path = Path(path)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow ships with reglab[parquet]
        raise ConfigError(
            f"{show_path(path)}: reading Parquet needs pyarrow: pip install 'reglab[parquet]'."
        ) from None
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise ConfigError(
            f"{show_path(path)}: not a readable Parquet file ({one_line(exc)})."
        ) from None
    columns = [
        _parquet_column(name, chunked, path)
        for name, chunked in zip(table.column_names, table.columns)
    ]
    if table.num_rows == 0:
        raise ConfigError(f"{show_path(path)}: the Parquet file has no rows.")
    return table_dataset(columns, target=target, task=task, path=path, text=text)


def _parquet_column(name: str, chunked: Any, path: Path) -> Column:
    """Numeric, decimal and boolean columns as float64; strings, categories, dates as strings."""
    import pyarrow as pa

    kind = chunked.type
    missing = np.asarray(chunked.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if any(
        test(kind)
        for test in (pa.types.is_nested, pa.types.is_binary, pa.types.is_large_binary,
                     pa.types.is_fixed_size_binary, pa.types.is_null)
    ):  # fmt: skip
        raise ConfigError(
            f"{show_path(path)}: column {name!r} has the Parquet type {kind}, which cannot be a "
            "feature or target; valid column types: integer, float, decimal, boolean, string, "
            "dictionary (categorical), date/time."
        )
    if (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
    ):
        values = np.asarray(
            chunked.cast(pa.float64()).fill_null(math.nan).to_numpy(), dtype=np.float64
        )
        return Column(name, values, missing | ~np.isfinite(values))
    strings = ["" if v is None else str(v) for v in chunked.to_pylist()]  # dictionary/str/dates
    return Column(name, np.array(strings, dtype=object), missing)


# --------------------------------------------------------------------------- columns -> Dataset


def table_dataset(
    columns: list[Column],
    *,
    target: str | None,
    task: str | None,
    path: Path,
    text: str | None = None,
) -> Dataset:
    """The ``Dataset`` of a table: ``target`` is the label column, the others the features (or
    the text column alone: ``text``, or the one long-text column found)."""
    target = _check_target(columns, target, path)
    y_col = next(c for c in columns if c.name == target)
    _check_missing([y_col], path)
    features = [c for c in columns if c.name != target]
    _check_features(features, target, path)
    text_col = _text_column(features, text, target, path)
    if text_col is not None:
        texts = ["" if m else str(v) for v, m in zip(text_col.values, text_col.missing)]
        ds = make_text_dataset(
            texts, _labels(y_col), name=path.stem, task=task, source=show_path(path)
        )
        return _with(ds, feature_names=(text_col.name,), text_detected=text is None)
    raw = any(not c.numeric or c.missing.any() for c in features)
    categories: tuple[tuple[str, ...] | None, ...] | None = None
    if raw:
        coded = [_raw_values(c) for c in features]
        X = np.stack([values for values, _ in coded], axis=1)
        categories = tuple(vocab for _, vocab in coded)
    else:
        X = np.stack([c.values for c in features], axis=1)
    return make_dataset(
        X,
        _labels(y_col),
        name=path.stem,
        task=task,
        feature_names=[c.name for c in features],
        source=show_path(path),
        categories=categories,
    )


def _labels(y_col: Column) -> np.ndarray:
    """The target's values; integral floats as int64 (class names read "3", not "3.0")."""
    y = y_col.values
    if y_col.numeric and np.all(y == np.round(y)) and np.all(np.abs(y) < 2**53):
        return y.astype(np.int64)
    return y


def is_long_text(column: Column) -> bool:
    """Strings whose median cell has ``LONG_TEXT_WORDS`` words or more, mostly distinct.

    Example:
        >>> cells = ["a fine film indeed", "dull from start to end", "ok"]
        >>> is_long_text(Column("review", np.array(cells, dtype=object), np.zeros(3, bool)))
        True
    """
    if column.numeric:
        return False
    present = [str(v) for v, m in zip(column.values, column.missing) if not m]
    if not present:
        return False
    words = np.median([len(v.split()) for v in present])
    return bool(words >= LONG_TEXT_WORDS) and len(set(present)) * 2 > len(present)


def _text_column(
    features: list[Column], text: str | None, target: str, path: Path
) -> Column | None:
    """The column ``text`` names, else the one long-text column, else None (a table)."""
    strings = [c.name for c in features if not c.numeric]
    if text is None:
        long = [c for c in features if is_long_text(c)]
        return long[0] if len(long) == 1 else None
    available = (
        f"String columns: {join_names(strings)}."
        if strings
        else f"The table has no string columns (columns: {join_names([c.name for c in features])})."
    )
    if text == target:
        raise ConfigError(
            f"{show_path(path)}: the text column {text!r} is also the target; name another "
            f"column. {available}"
        )
    column = next((c for c in features if c.name == text), None)
    if column is None:
        raise ConfigError(f"{show_path(path)}: no text column {text!r}. {available}")
    if column.numeric:
        what = "is empty in every row" if column.missing.all() else "holds numbers only"
        raise ConfigError(
            f"{show_path(path)}: the text column {text!r} {what}; a text column holds strings. "
            f"{available}"
        )
    return column


def _raw_values(column: Column) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Numbers, or codes into the sorted distinct strings, with NaN where a cell is missing."""
    if column.numeric:
        return np.where(column.missing, np.nan, column.values), None
    present = [str(v) for v, m in zip(column.values, column.missing) if not m]
    vocab = tuple(sorted(set(present)))
    position = {v: i for i, v in enumerate(vocab)}
    codes = np.array(
        [np.nan if m else position[str(v)] for v, m in zip(column.values, column.missing)],
        dtype=np.float64,
    )
    return codes, vocab


def _check_target(columns: list[Column], target: str | None, path: Path) -> str:
    names = [c.name for c in columns]
    if target is None:
        raise ConfigError(
            f"{show_path(path)}: name the label column with target=COLUMN (CLI: --target). "
            f"Available columns: {join_names(names)}."
        )
    if target not in names:
        raise ConfigError(
            f"{show_path(path)}: no target column {target!r}. Available columns: "
            f"{join_names(names)}."
        )
    return target


def _check_missing(columns: list[Column], path: Path) -> None:
    """The target column may not miss a value (features may: they are imputed)."""
    bad = [(c.name, int(c.missing.sum())) for c in columns if c.missing.any()]
    if bad:
        any_missing = np.logical_or.reduce([c.missing for c in columns])
        detail = ", ".join(f"{name!r} ({row_count(n)})" for name, n in bad)
        raise ConfigError(
            f"{show_path(path)}: missing, NaN or infinite values in the target column {detail}; "
            f"{row_count(int(any_missing.sum()))} affected in all. Drop those rows before "
            "loading (missing feature values are imputed)."
        )


def _check_features(features: list[Column], target: str, path: Path) -> None:
    if not features:
        raise ConfigError(
            f"{show_path(path)}: the only column is the target {target!r}; a dataset needs at "
            "least one feature column."
        )
