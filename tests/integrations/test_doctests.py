"""The docstring examples of the Lightning integration and of custom study cells run."""

from __future__ import annotations

import doctest
import importlib

import pytest

pytest.importorskip("lightning.pytorch", reason="needs the lightning extra")

MODULES = [
    "reglab.integrations.lightning",
    "reglab.integrations.lightning._early_stopping",
    "reglab.integrations.lightning._regularization",
    "reglab.integrations.lightning._precise_bn",
    "reglab.lab.core.train_fn",
]


@pytest.mark.parametrize("module", MODULES)
def test_doctest_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
