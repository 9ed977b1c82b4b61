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
    # The checker itself must resolve `from ...models.spec import ...` to reglab.models.spec.
    found = _imported_modules(SRC / "lab" / "core" / "recipe.py")
    assert "reglab.models.spec" in found and "reglab.train.spec" in found
    assert "reglab.lab.core.cells" in found


# -- the lab's layers --------------------------------------------------------------------------

# Each layer may import itself (in the order below, for the modules inside it) and the layers
# listed before it; the front ends come last and never import each other.
LAB_LAYERS: list[tuple[str, list[str]]] = [
    ("stats", ["reglab.lab.stats"]),
    (
        "core",
        [
            "reglab.lab.core.text",
            "reglab.lab.core.cells",
            "reglab.lab.core.recipe",
            "reglab.lab.core.splits",
            "reglab.lab.core.run",
            "reglab.lab.core.train_fn",
        ],
    ),
    ("queue", ["reglab.lab.queue.workers", "reglab.lab.queue.storage", "reglab.lab.queue.loop"]),
    ("render", ["reglab.lab.render"]),
]
FRONT_ENDS = ["reglab.lab.study", "reglab.lab.tune", "reglab.lab.claims"]


def _lab_module(path: Path) -> str:
    parts = ["reglab", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _rank(module: str) -> tuple[int, int] | None:
    """(layer, position inside the layer) of a lab module; front ends share the last layer."""
    for i, (_, modules) in enumerate(LAB_LAYERS):
        for j, m in enumerate(modules):
            if module == m or module.startswith(m + "."):
                return (i, j)
        package = modules[0].rsplit(".", 1)[0]
        if len(modules) > 1 and module == package:
            return (i, len(modules))  # the layer's __init__ sits on top of its modules
    for front in FRONT_ENDS:
        if module == front or module.startswith(front + "."):
            return (len(LAB_LAYERS), 0)
    return None


def _front(module: str) -> str | None:
    return next((f for f in FRONT_ENDS if module == f or module.startswith(f + ".")), None)


def _lab_sources() -> list[Path]:
    return sorted((SRC / "lab").rglob("*.py"))


def test_every_lab_module_belongs_to_a_layer():
    unplaced = [
        _lab_module(p)
        for p in _lab_sources()
        if _lab_module(p) != "reglab.lab" and _rank(_lab_module(p)) is None
    ]
    assert unplaced == []


def test_the_lab_imports_run_downward_only():
    offenders = []
    for path in _lab_sources():
        me = _lab_module(path)
        mine = _rank(me)
        if mine is None:
            continue
        for other in _imported_modules(path):
            theirs = _rank(other)
            if theirs is None or (_front(me) is not None and _front(me) == _front(other)):
                continue  # outside the lab's layers, or inside one front end
            if theirs >= mine and other != me:
                offenders.append(f"{me} imports {other}")
    assert offenders == []


def test_no_front_end_imports_another():
    offenders = []
    for path in _lab_sources():
        me = _front(_lab_module(path))
        if me is None:
            continue
        for other in _imported_modules(path):
            theirs = _front(other)
            if theirs is not None and theirs != me:
                offenders.append(f"{_lab_module(path)} imports {other}")
    assert offenders == []


def _local_imports(path: Path) -> list[str]:
    """Imports of reglab modules inside a function body (a way to dodge an import cycle)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.ImportFrom)
                    and (inner.level or (inner.module or "").startswith("reglab"))
                ) or (
                    isinstance(inner, ast.Import)
                    and any(a.name.startswith("reglab") for a in inner.names)
                ):
                    out.append(f"{path.relative_to(SRC)}:{inner.lineno}")
    return out


def test_the_lab_has_no_function_local_import_of_reglab():
    found = [where for path in _lab_sources() for where in _local_imports(path)]
    assert found == []


def test_the_layer_checker_sees_a_violation():
    # core importing the queue would be upward: the checker must rank it so.
    assert _rank("reglab.lab.queue.loop") > _rank("reglab.lab.core.run")
    assert _rank("reglab.lab.core.recipe") > _rank("reglab.lab.core.cells")
    assert _rank("reglab.lab.study.runner") == _rank("reglab.lab.claims.runner")
    assert _front("reglab.lab.tune.search") == "reglab.lab.tune"
