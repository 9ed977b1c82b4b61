"""What every file reader shares: how a path, a list of names and a row count read in a message.

Every reader raises :class:`reglab.errors.ConfigError` with a one-line message that starts with
the path and says what would work; these helpers keep that wording the same across formats.

Example:
    >>> join_names(["a", "b"]), row_count(1), row_count(3)
    ("'a', 'b'", '1 row', '3 rows')
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["MISSING_TOKENS", "join_names", "one_line", "row_count", "show_path"]

# Cells that mean "no value" in a text table (compared lower-cased, after stripping).
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null"})


def show_path(path: Path) -> str:
    """The path as a message shows it."""
    return str(path)


def join_names(names: Sequence[str], limit: int = 20) -> str:
    """``'a', 'b', ...``: the first ``limit`` names quoted, then how many there are in all."""
    shown = ", ".join(repr(n) for n in names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names)} in all)"
    return shown


def row_count(n: int) -> str:
    """``"1 row"`` or ``"n rows"``."""
    return f"{n} row" if n == 1 else f"{n} rows"


def one_line(exc: BaseException) -> str:
    """The first line of an exception's text (its type name when the text is empty)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
