"""The package's layout rules, checked on the source: imports run downward only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "reglab"


def _imported_modules(path: Path) -> set[str]:
    """Every reglab module ``path`` imports, as a dotted name (relative imports resolved)."""
    package = ["reglab", *path.relative_to(SRC).with_suffix("").parts]
    if package[-1] == "__init__":
        package.pop()
    else:
        package = package[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{a.name}" for a in node.names)
    return {m for m in out if m == "reglab" or m.startswith("reglab.")}


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("upper", ["reglab.lab", "reglab.cli"])
def test_nothing_below_the_lab_and_cli_imports_them(upper):
    offenders = []
    for path in _sources():
        rel = path.relative_to(SRC)
        if rel.parts[0] in ("lab", "cli") or (rel.name == "__init__.py" and len(rel.parts) == 1):
            continue
        bad = {m for m in _imported_modules(path) if m == upper or m.startswith(upper + ".")}
        if bad:
            offenders.append(f"{rel}: {sorted(bad)}")
    assert offenders == []


def test_the_lab_never_imports_the_cli():
    offenders = [
        str(p.relative_to(SRC))
        for p in (SRC / "lab").rglob("*.py")
        if any(m.startswith("reglab.cli") for m in _imported_modules(p))
    ]
    assert offenders == []


def test_the_import_checker_sees_relative_imports():
    # The checker itself must resolve `from ..lab.recipe import Recipe` to reglab.lab.recipe.
    found = _imported_modules(SRC / "lab" / "recipe.py")
    assert "reglab.models.spec" in found and "reglab.train.spec" in found
