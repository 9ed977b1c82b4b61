"""One way to declare and check parameters (issue 19, item 3): every module validates through
``validate_params`` and declared constraints; the older ``check``/``validate`` styles are
private helpers of ``_checks.py`` (``_check``, ``_validate``) that no module imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "reglab"
OLD_STYLE = {"check", "validate", "validate_fields", "_check", "_validate"}


def _old_style_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("_checks"):
            found |= {a.name for a in node.names} & OLD_STYLE
    return found


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p.name != "_checks.py")


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_validates_through_validate_params(path: Path) -> None:
    rel = str(path.relative_to(SRC))
    assert not _old_style_imports(path), f"{rel} imports an old validation style"
