"""reglab.lab.core.recipe: validation, spec/TOML/dict round trips, built-ins, and fit's parts."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import reglab.augment as A
from reglab import ConfigError
from reglab.callbacks import EarlyStopping
from reglab.constraints import MaxNorm
from reglab.lab.core.recipe import AUGMENTATIONS, BUILTIN_RECIPES, Recipe, augmentation
from reglab.models import build_model
from reglab.optim import ProximalL1, WeightDecay
from reglab.penalty import L1, L2, ElasticNet

KEYS = ", ".join(Recipe.keys())


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dropout": 1.0}, "The 'dropout' parameter of Recipe must be a float in [0, 1). Got 1.0 instead."),
        ({"dropout_scaling": "keras"}, "The 'dropout_scaling' parameter of Recipe must be one of 'inverted', 'classic'. Got 'keras' instead."),
        ({"norm": "instance"}, "The 'norm' parameter of Recipe must be one of 'batch', 'layer', 'group' or None. Got 'instance' instead."),
        ({"norm_position": "middle"}, "The 'norm_position' parameter of Recipe must be one of 'before', 'after'. Got 'middle' instead."),
        ({"init": "he"}, "The 'init' parameter of Recipe must be one of 'kaiming', 'xavier', 'lecun', 'orthogonal' or None. Got 'he' instead."),
        ({"l1": -1e-4}, "The 'l1' parameter of Recipe must be a float in [0, inf). Got -0.0001 instead."),
        ({"l2": math.nan}, "The 'l2' parameter of Recipe must be a float in [0, inf). Got nan instead."),
        ({"weight_decay_mode": "adamw"}, "The 'weight_decay_mode' parameter of Recipe must be one of 'decoupled', 'coupled', 'independent'. Got 'adamw' instead."),
        ({"max_norm": 0.0}, "The 'max_norm' parameter of Recipe must be a float in (0, inf) or None. Got 0.0 instead."),
        ({"augment": "rotate+zoom"}, "The 'augment' parameter of Recipe must be one of 'affine', 'crop', 'erasing', 'flip', 'noise', 'rotate', 'translate' (or several joined by '+'), or 'eda' for text or None. Got 'rotate+zoom' instead."),
        ({"augment_magnitude": 0}, "The 'augment_magnitude' parameter of Recipe must be a float in (0, 10]. Got 0 instead."),
        ({"augment_p": 0.0}, "The 'augment_p' parameter of Recipe must be a float in (0, 1]. Got 0.0 instead."),
        ({"label_smoothing": 1}, "The 'label_smoothing' parameter of Recipe must be a float in [0, 1). Got 1 instead."),
        ({"early_stopping": 2.5}, "The 'early_stopping' parameter of Recipe must be an int in [0, inf) or None. Got 2.5 instead."),
        ({"epochs": 0}, "The 'epochs' parameter of Recipe must be an int in [1, inf). Got 0 instead."),
        ({"lr": 0.0}, "The 'lr' parameter of Recipe must be a float in (0, inf). Got 0.0 instead."),
        ({"optimizer": "rmsprop"}, "The 'optimizer' parameter of Recipe must be one of 'adam', 'sgd'. Got 'rmsprop' instead."),
        ({"batch_size": True}, "The 'batch_size' parameter of Recipe must be an int in [1, inf). Got True instead."),
        ({"name": " x"}, "The 'name' parameter of Recipe must be a non-empty str without surrounding spaces. Got ' x' instead."),
    ],
)  # fmt: skip
def test_validation_messages(kwargs, message):
    with pytest.raises(ConfigError) as info:
        Recipe(**kwargs)
    assert str(info.value) == message


def test_frozen_and_ints_stored_as_floats():
    r = Recipe(lr=1, weight_decay=0)
    assert isinstance(r.lr, float) and r.lr == 1.0 and isinstance(r.weight_decay, float)
    assert r == Recipe(lr=1.0)
    with pytest.raises(AttributeError):
        r.dropout = 0.5  # type: ignore[misc]


def test_default_recipe_is_unregularized_and_matches_baseline():
    r = Recipe()
    assert r.summary() == "(no regularization)"
    base = BUILTIN_RECIPES["baseline"]
    assert base.replace(name="custom", description="") == r


def test_builtins_switch_on_one_technique_each():
    expected = {
        "baseline": "(no regularization)",
        "dropout": "dropout=0.5",
        "weight_decay": "weight_decay=0.5",
        "batchnorm": "norm=batch",
        "augment": "augment=affine,augment_p=0.5",
        "early_stopping": "early_stopping=10",
    }
    assert list(BUILTIN_RECIPES) == [*expected, "all", "eda"]
    for name, summary in expected.items():
        assert BUILTIN_RECIPES[name].name == name
        assert BUILTIN_RECIPES[name].summary() == summary
    # every single-technique recipe's change is part of "all" (early stopping excepted: it
    # fights the cosine schedule there, see the built-ins' comment)
    all_ = BUILTIN_RECIPES["all"]
    assert all_.early_stopping is None and all_.label_smoothing == 0.2
    assert (all_.epochs, all_.lr) == (150, 3e-3)
    for name in ("dropout", "weight_decay", "batchnorm", "augment"):
        changed = {
            k for k, v in BUILTIN_RECIPES[name].to_dict().items() if v != getattr(Recipe(), k)
        }
        changed -= {"name", "description"}
        assert all(getattr(all_, k) != getattr(Recipe(), k) for k in changed), name


# -- spec -----------------------------------------------------------------------------------


def test_spec_parses_types_and_names_itself():
    r = Recipe.from_spec(" dropout=0.3, weight_decay=5e-4 ,augment=affine,early_stopping=7")
    assert (r.dropout, r.weight_decay, r.augment, r.early_stopping) == (0.3, 5e-4, "affine", 7)
    assert r.name == "dropout=0.3,weight_decay=5e-4,augment=affine,early_stopping=7"
    assert r.epochs == BUILTIN_RECIPES["baseline"].epochs
    based = Recipe.from_spec("all,dropout=0.5,norm=none,name=mine")
    assert based.name == "mine" and based.dropout == 0.5 and based.norm is None
    assert based.augment == BUILTIN_RECIPES["all"].augment
    assert Recipe.from_spec("batchnorm") == BUILTIN_RECIPES["batchnorm"]
    assert Recipe.from_spec("augment=rotate+noise").augment == "rotate+noise"


def test_spec_round_trips_through_summary():
    for r in BUILTIN_RECIPES.values():
        again = Recipe.from_spec(r.summary()) if r.summary() != "(no regularization)" else Recipe()
        assert again.replace(name=r.name) == r


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("dropuot=0.3", f"Recipe spec 'dropuot=0.3' has an unknown key 'dropuot'. Did you mean 'dropout'? Valid keys: {KEYS}."),
        ("colour=red", f"Recipe spec 'colour=red' has an unknown key 'colour'. Valid keys: {KEYS}."),
        ("dropout=lots", "The 'dropout' parameter of Recipe must be a float in [0, 1). Got 'lots' instead."),
        ("early_stopping=2.5", "The 'early_stopping' parameter of Recipe must be an int in [0, inf) or None. Got '2.5' instead."),
        ("dropout=0.1,dropout=0.2", "Recipe spec 'dropout=0.1,dropout=0.2' sets 'dropout' twice."),
        ("fancy,dropout=0.1", "Unknown built-in recipe 'fancy' in 'fancy,dropout=0.1'. Valid names: baseline, dropout, weight_decay, batchnorm, augment, early_stopping, all, eda."),
        ("dropout=0.1,all", "Recipe spec item 'all' in 'dropout=0.1,all' is not key=value; only the first item may be a built-in recipe name (baseline, dropout, weight_decay, batchnorm, augment, early_stopping, all, eda)."),
        ("  ", "A recipe spec must be a non-empty string like 'dropout=0.3,augment=affine' or a built-in name (baseline, dropout, weight_decay, batchnorm, augment, early_stopping, all, eda). Got '  ' instead."),
    ],
)  # fmt: skip
def test_spec_errors(spec, message):
    with pytest.raises(ConfigError) as info:
        Recipe.from_spec(spec)
    assert str(info.value) == message


# -- TOML and dict ----------------------------------------------------------------------------


def test_toml_round_trip(tmp_path):
    p = tmp_path / "strong.toml"
    p.write_text(
        'base = "all"\ndropout = 0.5\nnorm_position = "after"\nmax_norm = 3.0\n'
        'early_stopping = "off"\nlr = 1\n'
    )
    r = Recipe.from_toml(p)
    assert r.name == "strong"
    assert (r.dropout, r.norm_position, r.max_norm, r.early_stopping, r.lr) == (
        0.5, "after", 3.0, None, 1.0,
    )  # fmt: skip
    assert r.augment == BUILTIN_RECIPES["all"].augment
    q = tmp_path / "table.toml"
    q.write_text('[recipe]\nname = "t"\nl1 = 1e-4\n')
    assert Recipe.from_toml(q) == Recipe(name="t", l1=1e-4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dropuot = 0.3\n", f"Recipe file '{{p}}' has an unknown key 'dropuot'. Did you mean 'dropout'? Valid keys: {KEYS}."),
        ("dropout = 2.0\n", "The 'dropout' parameter of Recipe must be a float in [0, 1). Got 2.0 instead."),
        ('base = "nope"\n', "Unknown built-in recipe 'nope' in '{p}'. Valid names: baseline, dropout, weight_decay, batchnorm, augment, early_stopping, all, eda."),
        ("dropout = \n", "Cannot read recipe file '{p}': Invalid value (at line 1, column 11)."),
    ],
)  # fmt: skip
def test_toml_errors(tmp_path, text, message):
    p = tmp_path / "r.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        Recipe.from_toml(p)
    assert str(info.value) == message.format(p=p)


def test_toml_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        Recipe.from_toml(tmp_path / "none.toml")
    assert str(info.value) == f"Recipe file '{tmp_path / 'none.toml'}' does not exist."


def test_dict_round_trip_and_unknown_keys():
    for r in [
        *BUILTIN_RECIPES.values(),
        Recipe(augment="rotate+noise", max_norm=2.0, init="xavier"),
    ]:
        d = r.to_dict()
        assert set(d) == set(Recipe.keys())
        assert Recipe.from_dict(d) == r
    with pytest.raises(ConfigError) as info:
        Recipe.from_dict({"dropout": 0.1, "drop_out": 0.2})
    assert str(info.value) == (
        f"Recipe.from_dict has an unknown key 'drop_out'. Did you mean 'dropout'? Valid keys: {KEYS}."
    )  # fmt: skip


# -- parts --------------------------------------------------------------------------------------


def _model(r: Recipe) -> nn.Module:
    torch.manual_seed(0)
    return build_model(r, (1, 8, 8), 10)


def test_parts_baseline_is_plain_adam_with_cosine():
    r = Recipe()
    m = _model(r)
    p = r.parts(m)
    assert type(p.optimizer) is torch.optim.Adam
    assert p.optimizer.param_groups[0]["lr"] == r.lr
    assert p.regularization == [] and p.loss is None and p.epochs == r.epochs
    (sched,) = p.callbacks
    assert isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR) and sched.T_max == r.epochs
    assert Recipe(lr_schedule="constant").parts(m).callbacks == []
    sgd = Recipe(optimizer="sgd", momentum=0.5).parts(m).optimizer
    assert type(sgd) is torch.optim.SGD and sgd.param_groups[0]["momentum"] == 0.5


def test_parts_everything_on():
    r = Recipe(
        l1=1e-4, l2=1e-3, weight_decay=0.01, weight_decay_mode="coupled", proximal_l1=1e-5,
        max_norm=3.0, augment="affine", augment_magnitude=0.5, mixup=0.2, label_smoothing=0.1,
        early_stopping=4,
    )  # fmt: skip
    m = _model(r)
    p = r.parts(m, input_shape=(1, 8, 8), num_classes=10)
    opt = p.optimizer
    assert isinstance(opt, WeightDecay) and opt.weight_decay == 0.01 and opt.mode == "coupled"
    pen, prox, cons, aug, mix = p.regularization
    assert isinstance(pen, ElasticNet) and (pen.l1, pen.l2) == (1e-4, 1e-3)
    assert isinstance(prox, ProximalL1) and prox.l1 == 1e-5
    assert isinstance(cons, MaxNorm) and cons.max_value == 3.0
    assert isinstance(aug, A.RandomAffine)
    assert isinstance(mix, A.MixUp) and mix.alpha == 0.2 and mix.label_smoothing == 0.1
    # label smoothing travels with the mixer, so the loss stays fit's default
    assert p.loss is None
    _sched, es = p.callbacks
    assert isinstance(es, EarlyStopping)
    assert (es.monitor, es.patience, es.restore_best_weights) == ("val_loss", 4, True)


def test_parts_single_penalties_and_label_smoothing_loss():
    m = _model(Recipe())
    (l1,) = Recipe(l1=1e-3).parts(m).regularization
    (l2,) = Recipe(l2=1e-3).parts(m).regularization
    assert type(l1) is L1 and l1.l1 == 1e-3 and type(l2) is L2 and l2.l2 == 1e-3
    loss = Recipe(label_smoothing=0.2).parts(m).loss
    assert isinstance(loss, nn.CrossEntropyLoss) and loss.label_smoothing == 0.2


def test_parts_cutmix_and_both_mixers():
    m = _model(Recipe())
    (cm,) = Recipe(cutmix=1.0).parts(m, num_classes=10).regularization
    assert isinstance(cm, A.CutMix)
    (both,) = Recipe(cutmix=1.0, mixup=0.2).parts(m, num_classes=10).regularization
    assert both.mixes_labels
    x, y = torch.rand(8, 1, 8, 8), torch.arange(8)
    xm, ym = both.mix(x, y, generator=torch.Generator().manual_seed(0))
    assert xm.shape == x.shape and ym.shape == (8, 10)
    torch.testing.assert_close(ym.sum(1), torch.ones(8))
    with pytest.raises(ConfigError) as info:
        Recipe(mixup=0.2).parts(m)
    assert str(info.value) == (
        "Recipe.parts needs num_classes for mixup/cutmix (a classification task). "
        "Got num_classes=None instead."
    )


def test_weight_decay_acts_on_weights_only():
    r = Recipe(weight_decay=0.5, norm="batch", lr_schedule="constant")
    m = _model(r)
    opt = r.parts(m).optimizer
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    for p in m.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()  # zero gradients: only the decay moves parameters
    for n, p in m.named_parameters():
        if p.dim() >= 2:
            torch.testing.assert_close(p, before[n] * (1 - r.lr * 0.5))
        else:
            assert torch.equal(p, before[n]), n


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_every_augmentation_name_builds_and_keeps_shape(name):
    aug = augmentation(name, 1.0, (1, 8, 8))
    x = torch.rand(4, 1, 8, 8)
    y = aug(x, generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.dtype == x.dtype


def test_augment_p_reaches_the_augmentation():
    m = _model(Recipe())
    (aug,) = Recipe(augment="affine", augment_p=0.5).parts(m).regularization
    assert aug.p == 0.5
    (both,) = Recipe(augment="rotate+noise", augment_p=0.25).parts(m).regularization
    assert [t.p for t in both.transforms] == [0.25, 0.25]


def test_augmentation_magnitude_scales_strength():
    assert augmentation("rotate", 2.0).degrees == (-30.0, 30.0)
    assert augmentation("noise", 0.5).std == 0.05
    assert isinstance(augmentation("rotate+translate"), A.Compose)
    tab = augmentation("noise", 1.0, (5,))
    assert tab.std == 0.1 and type(tab).__module__.endswith("tabular")
    with pytest.raises(ConfigError) as info:
        augmentation("rotate", 1.0, (5,))
    assert str(info.value) == (
        "Augmentation 'rotate' needs images (C, H, W); the data is tabular with input_shape "
        "(5,). Use augment=noise for tabular data."
    )


# ----------------------------------------------------------------- your own optimizer (issue 21, 8)


def _zero_grad_step(opt: torch.optim.Optimizer, model: torch.nn.Module) -> None:
    """One step with zero gradients: the optimizer's own update is 0, only the decay acts."""
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()


def test_parts_with_your_optimizer_keeps_the_recipes_decay_per_step() -> None:
    recipe = BUILTIN_RECIPES["weight_decay"]  # 0.5, decoupled, under Adam at 5e-3
    assert recipe.weight_decay_for(1.0) == pytest.approx(0.5 * 5e-3 / 1.0)
    torch.manual_seed(0)
    theirs, ours = torch.nn.Linear(6, 3), torch.nn.Linear(6, 3)
    ours.load_state_dict(theirs.state_dict())
    start = ours.weight.detach().clone()
    adadelta = torch.optim.Adadelta(ours.parameters(), lr=1.0)
    p = recipe.parts(ours, optimizer=adadelta)
    assert isinstance(p.optimizer, WeightDecay) and p.optimizer.optimizer is adadelta
    assert p.optimizer.weight_decay == pytest.approx(2.5e-3)
    assert p.callbacks == []  # the recipe's cosine schedule belongs to its own optimizer
    _zero_grad_step(p.optimizer, ours)
    _zero_grad_step(recipe.parts(theirs).optimizer, theirs)
    # Both shrink the weight by (1 - 5e-3 * 0.5) and leave the bias: the recipe's decay.
    torch.testing.assert_close(ours.weight, theirs.weight, rtol=1e-6, atol=0)
    torch.testing.assert_close(ours.bias, theirs.bias, rtol=0, atol=0)
    torch.testing.assert_close(ours.weight, start * (1 - 5e-3 * 0.5), rtol=1e-6, atol=0)


def test_parts_with_your_optimizer_without_decay_returns_it_and_keeps_the_rest() -> None:
    model = torch.nn.Linear(4, 3)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    p = Recipe(l1=1e-4, early_stopping=3).parts(model, optimizer=sgd)
    assert p.optimizer is sgd
    assert [type(c).__name__ for c in p.callbacks] == ["EarlyStopping"]
    assert [type(r).__name__ for r in p.regularization] == ["L1"]
    coupled = Recipe(weight_decay=1e-3, weight_decay_mode="coupled")
    assert coupled.weight_decay_for(0.1) == 1e-3
    with pytest.raises(ConfigError, match=r"The 'optimizer' parameter of Recipe\.parts must be"):
        Recipe().parts(model, optimizer="adam")  # type: ignore[arg-type]
