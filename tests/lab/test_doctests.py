"""The lab modules' docstring examples run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "reglab.lab.cells",
    "reglab.lab.render",
    "reglab.lab.report",
    "reglab.lab.splits",
    "reglab.lab.storage",
    "reglab.lab.study",
    "reglab.lab.sweep_report",
    "reglab.lab.workers",
    "reglab.lab.tune",
    "reglab.lab.tune.space",
    "reglab.lab.tune.search",
    "reglab.lab.tune.confirmation",
    "reglab.lab.tune.outputs",
]


@pytest.mark.parametrize("module", MODULES)
def test_doctest_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
