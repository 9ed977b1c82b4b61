"""ModelSpec, the model registry, and RegularizationSpec: the specs below the lab."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from reglab import ConfigError
from reglab.lab.core.recipe import BUILTIN_RECIPES, Recipe
from reglab.models import (
    MLP,
    MODEL_FIELDS,
    ModelSpec,
    SmallCNN,
    build_model,
    model_names,
    register_model,
)
from reglab.train.spec import REGULARIZATION_FIELDS, RegularizationSpec


def test_model_spec_validates_each_field_with_the_shared_template():
    with pytest.raises(ConfigError) as err:
        ModelSpec(norm="instance")
    assert str(err.value) == (
        "The 'norm' parameter of ModelSpec must be one of 'batch', 'layer', 'group' or None. "
        "Got 'instance' instead."
    )
    with pytest.raises(ConfigError, match=r"^The 'width' parameter of ModelSpec must be an int"):
        ModelSpec(width=0)
    assert ModelSpec(dropout=0).dropout == 0.0 and isinstance(ModelSpec(dropout=0).dropout, float)


def test_recipe_is_exactly_a_model_spec_and_a_regularization_spec_with_a_name():
    assert set(Recipe.keys()) == {*MODEL_FIELDS, *REGULARIZATION_FIELDS, "name", "description"}
    assert not set(MODEL_FIELDS) & set(REGULARIZATION_FIELDS)
    r = BUILTIN_RECIPES["all"]
    assert isinstance(r, ModelSpec) and isinstance(r, RegularizationSpec)
    assert type(r.model_spec) is ModelSpec and type(r.regularization_spec) is RegularizationSpec
    assert r.model_spec == ModelSpec(dropout=0.1, norm="batch")
    assert dataclasses.asdict(r.regularization_spec) == {
        k: getattr(r, k) for k in REGULARIZATION_FIELDS
    }
    # the defaults of the halves are the recipe's defaults
    assert (
        Recipe().model_spec == ModelSpec() and Recipe().regularization_spec == RegularizationSpec()
    )


@pytest.mark.parametrize("kind", ["cnn", "mlp"])
def test_a_model_spec_and_the_recipe_holding_it_build_the_same_model(kind):
    r = Recipe(norm="batch", dropout=0.2, width=6, depth=2, init="kaiming")
    torch.manual_seed(0)
    a = build_model(r, (1, 8, 8), 10, kind=kind)
    torch.manual_seed(0)
    b = build_model(r.model_spec, (1, 8, 8), 10, kind=kind)
    assert repr(a) == repr(b)
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert na == nb and torch.equal(pa, pb)
    assert isinstance(a, SmallCNN if kind == "cnn" else MLP)


def test_registry_lists_the_built_in_kinds_and_takes_new_ones():
    assert model_names()[:2] == ("cnn", "mlp")
    seen = {}

    def factory(spec, input_shape, num_outputs):
        seen["args"] = (spec, input_shape, num_outputs)
        return nn.Linear(input_shape[0], num_outputs)

    register_model("test_linear_kind", factory)
    try:
        spec = ModelSpec(width=3)
        model = build_model(spec, [5], 2, kind="test_linear_kind")
        assert isinstance(model, nn.Linear) and seen["args"] == (spec, (5,), 2)
        assert "test_linear_kind" in model_names()
    finally:
        from reglab.models import spec as spec_module

        spec_module._REGISTRY.pop("test_linear_kind")


@pytest.mark.parametrize(
    ("name", "factory", "message"),
    [
        (
            "a:b",
            lambda s, i, n: nn.Linear(1, 1),
            "The 'name' parameter of register_model must be a non-empty str without ':'. "
            "Got 'a:b' instead.",
        ),
        (
            "ok",
            "not callable",
            "The 'factory' parameter of register_model must be callable as factory(spec, "
            "input_shape, num_outputs). Got 'not callable' instead.",
        ),
    ],
)
def test_register_model_refuses_bad_entries(name, factory, message):
    with pytest.raises(ConfigError) as err:
        register_model(name, factory)
    assert str(err.value) == message
    assert "ok" not in model_names()


def test_build_model_refuses_a_spec_that_is_not_one():
    with pytest.raises(ConfigError) as err:
        build_model({"width": 4}, (3,), 2, kind="mlp")  # type: ignore[arg-type]
    assert str(err.value) == (
        "The 'spec' parameter of build_model must be a reglab ModelSpec or Recipe. "
        "Got {'width': 4} instead."
    )


def test_regularization_spec_parts_match_the_recipe_parts():
    r = Recipe(
        l1=1e-4,
        l2=1e-3,
        weight_decay=0.1,
        proximal_l1=1e-5,
        max_norm=3.0,
        augment="noise",
        mixup=0.2,
        label_smoothing=0.1,
        early_stopping=4,
        epochs=7,
    )
    model = nn.Linear(4, 3)
    a = r.parts(model, input_shape=(4,), num_classes=3)
    b = r.regularization_spec.parts(model, input_shape=(4,), num_classes=3)
    assert (
        sorted(a.kwargs())
        == sorted(b.kwargs())
        == ["callbacks", "epochs", "loss", "optimizer", "regularization"]
    )
    assert [repr(x) for x in a.regularization] == [repr(x) for x in b.regularization]
    assert [type(c).__name__ for c in a.callbacks] == [type(c).__name__ for c in b.callbacks]
    assert a.epochs == b.epochs == 7
    assert type(a.optimizer).__name__ == type(b.optimizer).__name__ == "WeightDecay"


def test_regularization_spec_names_itself_in_errors():
    with pytest.raises(ConfigError) as err:
        RegularizationSpec(mixup=0.2).parts(nn.Linear(2, 2))
    assert str(err.value).startswith("RegularizationSpec.parts needs num_classes for mixup/cutmix")
