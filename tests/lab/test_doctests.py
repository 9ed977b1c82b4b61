"""The lab modules' docstring examples run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "reglab.lab.core.cells",
    "reglab.lab.render",
    "reglab.lab.study.report",
    "reglab.lab.core.splits",
    "reglab.lab.queue.loop",
    "reglab.lab.stats",
    "reglab.lab.claims.config",
    "reglab.lab.study",
    "reglab.lab.study.sweep_report",
    "reglab.lab.queue.workers",
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
