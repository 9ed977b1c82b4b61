"""Every module's docstring examples run, so that no example can drift unnoticed.

The per-package doctest tests (tests/lab, tests/data, tests/augment, tests/integrations) also
require that the modules they list have examples; this one walks every module of reglab.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import reglab

# A "__main__" module runs the CLI when imported; its code is cli.main, whose examples run.
MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(reglab.__path__, "reglab.")
    if not m.name.endswith(".__main__")
)


@pytest.fixture(autouse=True)
def _model_registry_restored():
    """An example may register a model kind (``register_model``): it must not leak into the
    tests that run after it in the same process (they list the kinds in messages)."""
    from reglab.models import spec

    registry, sizes = dict(spec._REGISTRY), dict(spec._SIZES)
    yield
    spec._REGISTRY.clear()
    spec._REGISTRY.update(registry)
    spec._SIZES.clear()
    spec._SIZES.update(sizes)


@pytest.mark.parametrize("module", MODULES)
def test_every_module_s_examples_pass(module: str) -> None:
    if module.startswith("reglab.integrations.lightning"):
        pytest.importorskip("lightning.pytorch", reason="needs the lightning extra")
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples fail in {module}"
