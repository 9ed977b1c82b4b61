"""reglab._select: one rule for weights, normalization and dropout layers, used everywhere."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import reglab as rl
import reglab.init as rinit
from reglab._select import is_dropout, is_norm, is_weight, param_groups, regularized_parameters


class T5LayerNorm(nn.Module):
    """A third-party norm (as in transformers): no torch base class, named *Norm."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((n,), 3.0))
        self.bias = nn.Parameter(torch.full((n,), 2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight + self.bias


class FrozenBatchNorm2d(T5LayerNorm):
    """torchvision-style: the dimension suffix after Norm still counts."""


class NormalizedLinear(nn.Linear):
    """Contains "Norm" but is a linear layer: its weight is a weight like any other."""


class Marked(nn.Module):
    """Declares itself a norm layer with the marker, whatever its name."""

    _reglab_norm = True

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(2, 2))


class MyDrop(nn.Module):
    _reglab_dropout = True


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (nn.BatchNorm1d(3), True),
        (nn.InstanceNorm2d(3), True),
        (nn.LayerNorm(3), True),
        (nn.GroupNorm(1, 3), True),
        (nn.LocalResponseNorm(2), True),
        (rl.nn.BatchNorm(3), True),
        (rl.nn.LayerNorm(3), True),
        (rl.nn.GroupNorm(1, 3), True),
        (rl.nn.RMSNorm(3), True),
        (T5LayerNorm(3), True),
        (FrozenBatchNorm2d(3), True),
        (Marked(), True),
        (NormalizedLinear(2, 2), False),
        (nn.Linear(2, 2), False),
        (nn.Dropout(), False),
    ],
)
def test_is_norm_one_rule(module: nn.Module, expected: bool) -> None:
    assert is_norm(module) is expected
    assert rl.nn.is_norm is is_norm


def test_is_dropout_torch_and_reglab_and_marker() -> None:
    assert [is_dropout(m) for m in (nn.Dropout(), rl.nn.Dropout(0.1), MyDrop(), nn.ReLU())] == [
        True,
        True,
        True,
        False,
    ]
    assert rl.nn.is_dropout is is_dropout


def test_is_weight_is_ndim_at_least_2() -> None:
    assert [is_weight(torch.zeros(s)) for s in [(3,), (2, 3), (1, 1, 1), ()]] == [
        False,
        True,
        True,
        False,
    ]


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), T5LayerNorm(4), NormalizedLinear(4, 2), Marked())


def test_penalties_and_init_agree_on_a_third_party_norm_layer() -> None:
    m = _net()
    # penalties: the third-party norm's parameters and the marked layer's 2-D gain are out,
    # NormalizedLinear's weight is in
    assert [tuple(p.shape) for p in regularized_parameters(m)] == [(4, 3), (2, 4)]
    # init: the same layers are norms: gamma 1 and beta 0
    rinit.apply_(m, generator=torch.Generator().manual_seed(0))
    assert torch.equal(m[1].weight.detach(), torch.ones(4))
    assert torch.equal(m[1].bias.detach(), torch.zeros(4))
    assert torch.equal(m[3].gain.detach(), torch.ones(2, 2))  # not "weight": left alone
    assert m[2].weight.std().item() > 0.1  # kaiming-filled like any Linear


def test_param_groups_and_weight_decay_default_use_the_same_rule() -> None:
    m = _net()
    groups = param_groups(m, 0.1)
    assert [tuple(p.shape) for p in groups[0]["params"]] == [(4, 3), (2, 4)]
    assert rl.param_groups is param_groups and rl.optim.param_groups is param_groups
    assert rl.regularized_parameters is regularized_parameters
    # WeightDecay's default (no model given): the optimizer's weight tensors (ndim >= 2)
    opt = rl.WeightDecay(torch.optim.SGD(m.parameters(), lr=0.1), 0.1)
    before = [p.detach().clone() for p in m.parameters()]
    for p in m.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()  # zero gradients: only the decay moves the weights
    moved = [tuple(p.shape) for p, b in zip(m.parameters(), before) if not torch.equal(p, b)]
    assert moved == [(4, 3), (2, 4), (2, 2)]


def test_describe_regularization_says_why() -> None:
    rows = {r.name: r.reason for r in rl.describe_regularization(_net()).rows}
    assert rows["1.weight"] == "normalization layer"
    assert rows["2.weight"] == "weight (ndim 2)"
    assert rows["3.gain"] == "normalization layer"
