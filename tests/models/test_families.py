"""The linear and 1-D CNN families, and each family's default size."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reglab import ConfigError
from reglab.lab.core.recipe import Recipe
from reglab.models import (
    CNN1d,
    LinearModel,
    ModelSpec,
    SmallCNN,
    build_model,
    resolve_size,
)


def _params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_cnn1d_defaults_to_the_mnist1d_cnn():
    net = CNN1d(ModelSpec(), (1, 40), 10)
    convs = [m for m in net if isinstance(m, nn.Conv1d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 25), (25, 25), (25, 25)]
    assert [c.kernel_size for c in convs] == [(5,), (3,), (3,)]
    assert all(c.stride == (2,) and c.padding == (1,) for c in convs)
    assert [type(m).__name__ for m in net] == [
        "Conv1d", "ReLU", "Conv1d", "ReLU", "Conv1d", "ReLU", "Flatten", "Linear",
    ]  # fmt: skip
    # 3 convolutions (150 + 1900 + 1900) and a head on 25 x 5 features (1260): 5,210 parameters
    assert _params(net) == 5210
    assert net(torch.zeros(3, 1, 40)).shape == (3, 10)


def test_cnn1d_follows_the_spec_knobs():
    spec = ModelSpec(width=8, depth=2, norm="batch", norm_position="after", dropout=0.3)
    net = CNN1d(spec, (2, 64), 4)
    names = [type(m).__name__ for m in net]
    assert names == ["Conv1d", "ReLU", "BatchNorm", "Conv1d", "ReLU", "BatchNorm",
                     "Flatten", "Dropout", "Linear"]  # fmt: skip
    assert net[0].bias is not None  # norm after the activation: the bias is not inert
    before = CNN1d(ModelSpec(norm="batch"), (1, 40), 10)
    assert before[0].bias is None  # norm right after the convolution: no bias


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((1, 8, 8), "CNN1d expects signals of shape (C, L); got input_shape (1, 8, 8). Use "
         "kind='cnn' for images or 'mlp' for tables."),
        ((1, 2), "CNN1d with depth 3 needs longer signals: convolution 1 gets length 2, shorter "
         "than its kernel 5 allows. Got input_shape (1, 2); use a smaller depth."),
    ],
)  # fmt: skip
def test_cnn1d_refuses_shapes_it_cannot_take(shape, message):
    with pytest.raises(ConfigError) as err:
        CNN1d(ModelSpec(), shape, 3)
    assert str(err.value) == message


def test_linear_model_is_one_affine_map_on_the_flattened_sample():
    torch.manual_seed(0)
    m = LinearModel(ModelSpec(), (2, 3, 4), 5)
    x = torch.randn(7, 2, 3, 4)
    lin = m[-1]
    assert isinstance(lin, nn.Linear) and _params(m) == 24 * 5 + 5
    torch.testing.assert_close(m(x), x.flatten(1) @ lin.weight.T + lin.bias)
    assert isinstance(build_model(ModelSpec(), (40,), 1, kind="linear"), LinearModel)


def test_none_sizes_are_the_family_defaults():
    assert ModelSpec().width is None and Recipe().depth is None
    torch.manual_seed(0)
    implicit = SmallCNN(ModelSpec(), (1, 8, 8), 10)
    torch.manual_seed(0)
    explicit = SmallCNN(ModelSpec(width=32, depth=2), (1, 8, 8), 10)
    assert repr(implicit) == repr(explicit)
    assert resolve_size(Recipe(), "cnn1d").model_spec == ModelSpec(width=25, depth=3)
    assert resolve_size(Recipe(width=7), "mlp").model_spec == ModelSpec(width=7, depth=2)
    assert resolve_size(Recipe(), "linear") == Recipe()  # no size knobs
    assert resolve_size(Recipe(), "pkg.mod:factory") == Recipe()
    assert isinstance(resolve_size(Recipe(), "cnn"), Recipe)


def test_an_explicit_none_size_reads_from_spec_and_toml(tmp_path):
    r = Recipe.from_spec("width=64,depth=none")
    assert (r.width, r.depth) == (64, None)
    p = tmp_path / "r.toml"
    p.write_text('width = "none"\ndepth = 3\n')
    assert (Recipe.from_toml(p).width, Recipe.from_toml(p).depth) == (None, 3)
