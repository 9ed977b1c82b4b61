"""JSON Lines tables (``.jsonl``, ``.ndjson``): one JSON object per line, one key per column.

Each line is a JSON object (blank lines are skipped); the columns are the keys in the order
they first appear. Every value becomes the token a CSV cell would hold (numbers as written,
``true``/``false``, strings as they are; ``null`` or a key that a line lacks is missing), so the
table then goes through the CSV path: :func:`reglab.data.files.table.column_from_tokens` and
:func:`reglab.data.files.table.table_dataset` (``target``, ``text``, the task and the encoding
work as for CSV). A list or object value is an error naming the column and the line.

Example:
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "toy.jsonl"
    >>> _ = f.write_text('{"a": 1, "label": "x"}\\n{"a": 2, "label": "y"}\\n')
    >>> ds = load_jsonl(f, target="label")
    >>> ds.X.tolist(), ds.class_names
    ([[1.0], [2.0]], ('x', 'y'))
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from .._dataset import Dataset
from ._common import show_path
from .table import column_from_tokens, table_dataset

__all__ = ["JSONL_SUFFIXES", "load_jsonl"]

JSONL_SUFFIXES = (".jsonl", ".ndjson")


def load_jsonl(
    path: str | Path, *, target: str | None, task: str | None = None, text: str | None = None
) -> Dataset:
    """Read a JSON Lines file; ``target`` names the label column, ``text`` a text column."""
    path = Path(path)
    records = _read_records(path)
    names: dict[str, None] = {}
    for record in records.values():
        names.update(dict.fromkeys(record))
    columns = []
    for name in names:
        tokens = [_token(path, record.get(name), name, line) for line, record in records.items()]
        columns.append(column_from_tokens(name, tokens))
    return table_dataset(columns, target=target, task=task, path=path, text=text)


def _read_records(path: Path) -> dict[int, dict[str, Any]]:
    """The JSON object of each non-blank line, by line number (from 1)."""
    records: dict[int, dict[str, Any]] = {}
    try:
        with path.open(encoding="utf-8-sig") as fh:
            for line, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise ConfigError(
                        f"{show_path(path)}: line {line} is not valid JSON ({exc.msg} at column "
                        f"{exc.colno}); JSON Lines needs one JSON object per line."
                    ) from None
                if not isinstance(record, dict):
                    raise ConfigError(
                        f"{show_path(path)}: line {line} holds a JSON {type(record).__name__}, "
                        "not an object; JSON Lines needs one object per line "
                        '(e.g. {"text": "a fine film", "label": "pos"}).'
                    )
                records[line] = record
    except UnicodeDecodeError:
        raise ConfigError(
            f"{show_path(path)}: not a UTF-8 text file; a JSON Lines file must be UTF-8 text."
        ) from None
    if not records:
        raise ConfigError(
            f"{show_path(path)}: the JSON Lines file has no records; it needs one JSON object "
            "per line, one per sample."
        )
    return records


def _token(path: Path, value: Any, name: str, line: int) -> str:
    """The CSV cell a JSON value stands for (``""``, missing, for null or an absent key)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise ConfigError(
        f"{show_path(path)}: column {name!r} holds a JSON {type(value).__name__} on line {line}; "
        "values must be numbers, strings, booleans or null."
    )
