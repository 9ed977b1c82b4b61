"""The data package's layout: one reader per format behind ``reglab.data.files``, short
functions, private names kept inside their module, and the docstring examples run."""

from __future__ import annotations

import ast
import doctest
import importlib
from pathlib import Path

import pytest

import reglab.data.files as files

DATA = Path(__file__).resolve().parents[2] / "src" / "reglab" / "data"
READERS = ["_common", "table", "npz", "image_folder", "idx", "cifar"]


def test_every_exported_name_resolves_and_comes_from_a_reader():
    for name in files.__all__:
        obj = getattr(files, name)
        module = getattr(obj, "__module__", None)
        assert module is None or module.startswith("reglab.data.files."), (name, module)
    for name in ("load_csv", "load_parquet", "load_npz", "load_image_folder"):
        assert name in files.__all__
    assert files.load_mnist_idx.__module__ == "reglab.data.files.idx"
    assert files.load_cifar10.__module__ == "reglab.data.files.cifar"
    assert files.IDX_IMAGES_MAGIC == 0x803 and files.IDX_LABELS_MAGIC == 0x801


def test_no_reader_imports_a_private_name_from_a_sibling():
    offenders = []
    for path in sorted((DATA / "files").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                offenders += [f"{path.name}: {a.name}" for a in node.names if a.name[0] == "_"]
    assert offenders == []


def _body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = fn.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(body) > 1:
        first = body[1]  # the docstring does not count
    return (fn.end_lineno or fn.lineno) - first.lineno + 1


def test_files_and_functions_stay_short():
    long_files, long_functions = [], []
    for path in sorted(DATA.rglob("*.py")):
        text = path.read_text()
        if text.count("\n") > 700:
            long_files.append(path.name)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _body_lines(node) > 80:
                long_functions.append(f"{path.name}:{node.name}")
    assert long_files == [] and long_functions == []


@pytest.mark.parametrize(
    "module",
    [
        "reglab.data",
        "reglab.data._load",
        "reglab.data.split",
        "reglab.data.encode",
        "reglab.data.builtin",
        "reglab.data._dataset",
        *(f"reglab.data.files.{m}" for m in READERS),
    ],
)
def test_doctest_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
