"""One name per concept: unique public class names, removed aliases, the lazy text submodule."""

from __future__ import annotations

import collections
import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest
import torch

import reglab
import reglab.augment as A
from reglab.augment import tabular


def test_public_class_names_are_unique_across_reglab():
    seen: dict[str, set[str]] = collections.defaultdict(set)
    for info in pkgutil.walk_packages(reglab.__path__, "reglab."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj):
                seen[name].add(f"{obj.__module__}.{obj.__qualname__}")
    shared = {name: sorted(where) for name, where in seen.items() if len(where) > 1}
    assert not shared, f"public classes sharing a name: {shared}"
    assert seen["GaussianNoise"] == {"reglab.nn.dropout.GaussianNoise"}
    assert seen["RandomGaussianNoise"] == {"reglab.augment.intensity.RandomGaussianNoise"}
    assert seen["FeatureNoise"] == {"reglab.augment.tabular.FeatureNoise"}
    assert seen["MixUp"] == {"reglab.augment.mix.MixUp"}


def test_removed_aliases_are_gone():
    # 0.x with no outside users: the old names were removed, not kept as warning aliases.
    assert "GaussianNoise" not in A.__all__
    with pytest.raises(AttributeError):
        A.GaussianNoise  # noqa: B018
    assert tabular.__all__ == ["FeatureNoise"]
    for name in ("GaussianNoise", "MixUp", "NoSuchThing"):
        with pytest.raises(AttributeError):
            getattr(tabular, name)


def test_mixup_layouts_differ_only_in_input_shape_and_regression_targets():
    x, y = torch.rand(6, 3), torch.arange(6) % 2
    g = torch.Generator
    a = A.MixUp(0.4, num_classes=2).mix(x, y, g().manual_seed(1))
    b = A.MixUp(0.4, num_classes=2, layout="tabular").mix(x, y, g().manual_seed(1))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    with pytest.raises(reglab.ConfigError, match="integer labels"):
        A.MixUp(0.4).mix(x, torch.rand(6))


def test_text_is_a_lazy_submodule():
    code = (
        "import sys, reglab.augment as A\n"
        "assert 'reglab.augment.text' not in sys.modules\n"
        "assert A.text.EDA.__module__ == 'reglab.augment.text'\n"
        "assert 'reglab.augment.text' in sys.modules\n"
        "assert 'text' in dir(A)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert A.text is importlib.import_module("reglab.augment.text")


def test_constructors_have_their_declared_signatures():
    sig = inspect.signature(A.RandomAffine)
    assert list(sig.parameters) == [
        "degrees",
        "translate",
        "scale",
        "shear",
        "interpolation",
        "fill",
        "p",
        "same_on_batch",
        "value_range",
    ]
    assert inspect.signature(A.RandomFlip).parameters["p"].default == 0.5
    assert "interpolation" not in inspect.signature(A.RandomFlip).parameters
    with pytest.raises(TypeError):
        A.RandomRotation()  # degrees is required
    with pytest.raises(TypeError):
        A.RandomRotation(10.0, 0.5)  # interpolation and the options are keyword-only
    assert A.RandomAffine(5.0, 0.1).translate == (0.1, 0.1)
    assert list(inspect.signature(A.Compose).parameters) == ["transforms", "value_range"]
