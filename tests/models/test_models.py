"""reglab.models: architectures built from a Recipe, layer order, init, user factories."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch
from torch import nn

import reglab.nn as rnn
from reglab import ConfigError
from reglab.lab.core.recipe import Recipe
from reglab.models import MLP, SmallCNN, build_model, load_factory, norm_layer
from tests.checklist import Check, ModuleCase, checklist


def _names(model: nn.Module) -> list[str]:
    return [type(m).__name__ for m in model.children()]


NORM_TYPES = {"batch": "BatchNorm", "layer": "GroupNorm", "group": "GroupNorm"}


@pytest.mark.parametrize("norm", ["batch", "layer", "group"])
@pytest.mark.parametrize("position", ["before", "after"])
def test_cnn_layer_order_follows_norm_position(norm, position):
    r = Recipe(norm=norm, norm_position=position, dropout=0.25, width=4, depth=2)
    names = _names(SmallCNN(r, (1, 8, 8), 10))
    n = NORM_TYPES[norm]
    dense_norm = {"batch": "BatchNorm", "layer": "LayerNorm", "group": "GroupNorm"}[norm]
    block = [n, "ReLU"] if position == "before" else ["ReLU", n]
    dense = [dense_norm, "ReLU"] if position == "before" else ["ReLU", dense_norm]
    assert names == [
        "Conv2d", *block, "MaxPool2d",
        "Conv2d", *block, "MaxPool2d",
        "Flatten", "Linear", *dense, "Dropout", "Linear",
    ]  # fmt: skip


@pytest.mark.parametrize("norm", ["batch", "layer", "group", None])
@pytest.mark.parametrize("position", ["before", "after"])
def test_mlp_layer_order_follows_norm_position(norm, position):
    r = Recipe(norm=norm, norm_position=position, dropout=0.5, width=6, depth=2)
    names = _names(MLP(r, (5,), 3))
    if norm is None:
        block = ["ReLU"]
    else:
        n = {"batch": "BatchNorm", "layer": "LayerNorm", "group": "GroupNorm"}[norm]
        block = [n, "ReLU"] if position == "before" else ["ReLU", n]
    assert names == ["Linear", *block, "Dropout", "Linear", *block, "Dropout", "Linear"]


def test_norm_before_relu_sees_negative_values_and_after_does_not():
    # The functional difference the two conventions make: a norm placed after the ReLU only
    # ever receives non-negative inputs.
    seen: dict[str, torch.Tensor] = {}
    for position in ("before", "after"):
        torch.manual_seed(0)
        m = SmallCNN(Recipe(norm="batch", norm_position=position, width=4, depth=1), (1, 8, 8), 3)
        bn = next(c for c in m.children() if isinstance(c, rnn.BatchNorm))
        bn.register_forward_hook(lambda mod, inp, out, p=position: seen.__setitem__(p, inp[0]))
        m(torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(1)))
    assert seen["before"].min() < 0
    assert seen["after"].min() >= 0


def test_bias_dropped_only_when_a_norm_follows_the_linear_layer():
    before = SmallCNN(Recipe(norm="batch", width=4), (1, 8, 8), 10)
    after = SmallCNN(Recipe(norm="batch", norm_position="after", width=4), (1, 8, 8), 10)
    plain = SmallCNN(Recipe(width=4), (1, 8, 8), 10)
    assert [c.bias is None for c in before.children() if isinstance(c, (nn.Conv2d, nn.Linear))] == [
        True, True, True, False,
    ]  # fmt: skip
    assert all(
        c.bias is not None for m in (after, plain) for c in m.children()
        if isinstance(c, (nn.Conv2d, nn.Linear))
    )  # fmt: skip


def test_pool_choice():
    avg = SmallCNN(Recipe(width=4, pool="avg"), (1, 8, 8), 10)
    mx = SmallCNN(Recipe(width=4, pool="max"), (1, 8, 8), 10)
    assert _names(avg).count("AvgPool2d") == 2 and "MaxPool2d" not in _names(avg)
    assert _names(mx).count("MaxPool2d") == 2 and "AvgPool2d" not in _names(mx)
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 0, 0] = 4.0
    assert float(avg[2](x)[0, 0, 0, 0]) == 1.0  # the mean of a 2x2 window
    assert float(mx[2](x)[0, 0, 0, 0]) == 4.0  # its max


def test_cnn_shapes_width_depth_and_odd_sizes():
    r = Recipe(width=8, depth=3)
    m = SmallCNN(r, (3, 13, 9), 7)
    convs = [c for c in m.children() if isinstance(c, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32]
    # 13x9 -> 6x4 -> 3x2 -> 1x1
    assert m(torch.zeros(2, 3, 13, 9)).shape == (2, 7)
    lin = [c for c in m.children() if isinstance(c, nn.Linear)]
    assert (lin[0].in_features, lin[0].out_features) == (32, 32)
    # pooling stops at a side of 1
    tiny = SmallCNN(Recipe(width=2, depth=3), (1, 2, 2), 2)
    assert sum(isinstance(c, nn.MaxPool2d) for c in tiny.children()) == 1
    assert tiny(torch.zeros(1, 1, 2, 2)).shape == (1, 2)


def test_mlp_flattens_images_and_counts_parameters():
    m = MLP(Recipe(width=10, depth=1), (1, 8, 8), 4)
    assert isinstance(next(iter(m.children())), nn.Flatten)
    assert m(torch.zeros(3, 1, 8, 8)).shape == (3, 4)
    assert sum(p.numel() for p in m.parameters()) == 64 * 10 + 10 + 10 * 4 + 4


def test_dropout_convention_reaches_the_layer():
    m = MLP(Recipe(dropout=0.4, dropout_scaling="classic", width=4, depth=1), (3,), 2)
    drop = next(c for c in m.children() if isinstance(c, rnn.Dropout))
    assert drop.p == 0.4 and drop.scaling == "classic"
    assert not any(isinstance(c, rnn.Dropout) for c in MLP(Recipe(width=4), (3,), 2).children())


def test_group_and_layer_norm_choices():
    assert norm_layer("group", 12, spatial=True).num_groups == 4
    assert norm_layer("group", 7, spatial=False).num_groups == 1
    assert norm_layer("layer", 5, spatial=True).num_groups == 1
    assert isinstance(norm_layer("layer", 5, spatial=False), rnn.LayerNorm)
    assert norm_layer(None, 5, spatial=False) is None


@pytest.mark.parametrize("scheme", ["kaiming", "xavier", "lecun", "orthogonal"])
def test_init_scheme_is_applied(scheme):
    import reglab.init

    torch.manual_seed(0)
    m = MLP(Recipe(init=scheme, width=64, depth=1), (256,), 64)
    torch.manual_seed(0)
    ref = MLP(Recipe(width=64, depth=1), (256,), 64)
    reglab.init.apply_(ref, scheme)
    for a, b in zip(m.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    w = next(c for c in m.children() if isinstance(c, nn.Linear)).weight.detach()
    assert float(m[0].bias.detach().abs().sum()) == 0.0
    if scheme == "orthogonal":  # ReLU gain sqrt(2): rows orthogonal with squared norm 2
        torch.testing.assert_close(w @ w.T, 2 * torch.eye(64), atol=1e-4, rtol=0)
    else:
        # 64x256 weight, ReLU gain sqrt(2): kaiming std sqrt(2/256), xavier (uniform)
        # sqrt(2) * sqrt(2/(256+64)), lecun sqrt(1/256); 16384 draws: 5% is > 6 standard errors
        expected = {"kaiming": (2 / 256) ** 0.5, "xavier": (4 / 320) ** 0.5, "lecun": 1 / 16}
        assert abs(float(w.std()) / expected[scheme] - 1) < 0.05


def test_same_seed_same_model_and_eval_is_deterministic():
    r = Recipe(norm="batch", dropout=0.3, width=4)
    torch.manual_seed(3)
    a = build_model(r, (1, 8, 8), 10)
    torch.manual_seed(3)
    b = build_model(r, (1, 8, 8), 10)
    for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q)


CASES = [
    ModuleCase(
        "SmallCNN",
        lambda: SmallCNN(Recipe(norm="batch", dropout=0.3, width=4), (1, 8, 8), 10),
        (6, 1, 8, 8),
        stochastic=True,
        repr_contains=("Conv2d", "BatchNorm", "Dropout"),
        bad=[
            (
                lambda: SmallCNN(Recipe(), (64,), 10),
                "SmallCNN expects images of shape (C, H, W); got input_shape (64,). "
                "Use kind='mlp' for tabular data.",
            ),
            (
                lambda: SmallCNN(Recipe(), (1, 8, 8), 0),
                "The 'num_outputs' parameter of SmallCNN must be an int in [1, inf). "
                "Got 0 instead.",
            ),
        ],
    ),
    ModuleCase(
        "MLP",
        lambda: MLP(Recipe(norm="layer", norm_position="after", dropout=0.2, width=8), (5,), 3),
        (4, 5),
        stochastic=True,
        repr_contains=("Linear", "LayerNorm", "Dropout"),
        bad=[
            (
                lambda: MLP(Recipe(), (0, 3), 2),
                "The 'input_shape' parameter of MLP must be a tuple of positive ints, (F,), "
                "(C, L) or (C, H, W). Got (0, 3) instead.",
            ),
            (
                lambda: MLP("dropout=0.3", (3,), 2),  # type: ignore[arg-type]
                "The 'spec' parameter of MLP must be a reglab ModelSpec or Recipe. Got 'dropout=0.3' "
                "instead.",
            ),
        ],
    ),
]


# The compile item is left out: these are plain Sequentials of layers whose owners run it, and
# compiling a whole network costs ~40 s here.
@pytest.mark.parametrize(
    ("case", "check"),
    checklist(CASES, only=["train_eval", "state_dict_roundtrip", "dtypes", "repr", "bad_inputs"]),
)
def test_checklist(case: ModuleCase, check: Check) -> None:
    check(case)


# -- user factories -------------------------------------------------------------------------


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    pkg = tmp_path / "mymodels_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(
        textwrap.dedent(
            """
            import torch.nn as nn

            def tiny(recipe, input_shape, num_outputs):
                return nn.Sequential(nn.Flatten(), nn.Linear(8 * 8, num_outputs))

            def not_a_module(recipe, input_shape, num_outputs):
                return "oops"

            NOT_CALLABLE = 3
            """
        )
    )
    (pkg / "broken.py").write_text("import does_not_exist_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "mymodels_pkg"
    for name in [m for m in sys.modules if m.startswith("mymodels_pkg")]:
        del sys.modules[name]


def test_factory_spec_builds_the_users_model(user_module):
    m = build_model(Recipe(), (1, 8, 8), 10, kind=f"{user_module}.nets:tiny")
    assert m(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert load_factory(f"{user_module}.nets:tiny").__name__ == "tiny"
    # a callable works too
    assert isinstance(build_model(Recipe(), (3,), 2, kind=lambda r, s, k: nn.Linear(s[0], k)),
                      nn.Linear)  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "nodots",
            "The 'kind' parameter of build_model must be one of 'cnn', 'mlp', 'linear', 'cnn1d', 'bow', 'textcnn', 'gru' or a factory spec "
            "'package.module:name'. Got 'nodots' instead.",
        ),
        (
            "a:b:c",
            "The 'model' parameter must be 'cnn', 'mlp', 'linear', 'cnn1d', 'bow', 'textcnn', 'gru' or a factory spec "
            "'package.module:name'. Got 'a:b:c' instead.",
        ),
        (
            "{pkg}.nets:missing",
            "Module '{pkg}.nets' has no attribute 'missing' (model factory '{pkg}.nets:missing').",
        ),
        (
            "{pkg}.nets:NOT_CALLABLE",
            "The model factory '{pkg}.nets:NOT_CALLABLE' must be callable as factory(recipe, "
            "input_shape, num_outputs). Got 3 instead.",
        ),
        (
            "{pkg}.nets:not_a_module",
            "The model factory '{pkg}.nets:not_a_module' must return a torch.nn.Module. "
            "Got str instead.",
        ),
        (
            "{pkg}.broken:f",
            "Cannot import module '{pkg}.broken' of model factory '{pkg}.broken:f': "
            "ModuleNotFoundError: No module named 'does_not_exist_anywhere'. "
            "Is the package on PYTHONPATH?",
        ),
    ],
)
def test_factory_errors(user_module, spec, message):
    with pytest.raises(ConfigError) as info:
        build_model(Recipe(), (1, 8, 8), 10, kind=spec.format(pkg=user_module))
    assert str(info.value) == message.format(pkg=user_module)
