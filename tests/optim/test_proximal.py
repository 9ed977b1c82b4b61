"""ProximalL1 (soft-thresholding) and param_groups (decay / no-decay groups)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from reglab import ConfigError
from reglab.optim import ProximalL1, param_groups
from tests.reference import penalty_oracle as oracle


def test_soft_threshold_matches_oracle_and_gives_exact_zeros(gen):
    w0 = torch.randn(50, 20, generator=gen, dtype=torch.float64)
    w = nn.Parameter(w0.clone())
    ProximalL1(2.0).step_([w], lr=0.25)  # threshold 0.5
    expected = oracle.soft_threshold(w0.numpy(), 0.5)
    np.testing.assert_allclose(w.detach().numpy(), expected, rtol=0, atol=1e-15)
    zeros = (w == 0).sum().item()
    assert zeros == int((w0.abs() <= 0.5).sum()) and zeros > 0
    assert torch.equal(w[w0.abs() <= 0.5], torch.zeros(zeros, dtype=torch.float64))


def test_float32_soft_threshold_is_exact_at_the_threshold():
    w = nn.Parameter(torch.tensor([0.3, -0.3, 0.30000001, 1e-8, -5.0]))
    ProximalL1(0.3).step_([w], lr=1.0)
    assert w[0].item() == 0.0 and w[1].item() == 0.0 and w[3].item() == 0.0
    assert w[4].item() == pytest.approx(-4.7)


def test_proximal_on_a_module_touches_only_regularized_weights():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    bias, ln = m[0].bias.detach().clone(), m[1].weight.detach().clone()
    ProximalL1(100.0).step_(m, lr=1.0)
    assert torch.count_nonzero(m[0].weight) == 0
    assert torch.equal(m[0].bias.detach(), bias) and torch.equal(m[1].weight.detach(), ln)


def test_zero_strength_or_lr_leaves_weights_unchanged(gen):
    w0 = torch.randn(3, 3, generator=gen)
    w = nn.Parameter(w0.clone())
    ProximalL1(0.0).step_([w], lr=1.0)
    ProximalL1(1.0).step_([w], lr=0.0)
    assert torch.equal(w.detach(), w0)


def test_param_groups_split_decay_and_no_decay():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    groups = param_groups(m, 0.05)
    assert [g["weight_decay"] for g in groups] == [0.05, 0.0]
    assert groups[0]["params"] == [m[0].weight, m[2].weight]
    assert groups[1]["params"] == [m[0].bias, m[1].weight, m[1].bias, m[2].bias]
    excl = param_groups(m, 0.05, exclude="2.*")
    assert excl[0]["params"] == [m[0].weight] and len(excl[1]["params"]) == 5
    only = param_groups(nn.Linear(2, 2, bias=False), 0.1)
    assert len(only) == 1  # no empty no-decay group
    torch.optim.AdamW(groups)  # a plain torch optimizer takes them


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: ProximalL1(-0.1),
            "The 'l1' parameter of ProximalL1 must be a float in [0, inf). Got -0.1 instead.",
        ),
        (
            lambda: ProximalL1(math.inf),
            "The 'l1' parameter of ProximalL1 must be a float in [0, inf). Got inf instead.",
        ),
        (
            lambda: ProximalL1(0.1).step_([nn.Parameter(torch.ones(2))], lr=math.nan),
            "The 'lr' parameter of ProximalL1.step_ must be a float in [0, inf). Got nan instead.",
        ),
        (
            lambda: ProximalL1(0.1).step_([torch.ones(2, requires_grad=True) * 2], lr=0.1),
            "ProximalL1.step_ updates tensors in place and needs leaf tensors (parameters): "
            "params[0] is the result of an operation. Pass the parameters themselves, "
            "e.g. reglab.regularized_parameters(model).",
        ),
        (
            lambda: ProximalL1(0.1).step_([], lr=0.1),
            "The 'params' parameter of ProximalL1.step_ must select at least one tensor "
            "(e.g. reglab.regularized_parameters(model)). Got an empty selection instead.",
        ),
        (
            lambda: param_groups(nn.Linear(2, 2), -1.0),
            "The 'weight_decay' parameter of param_groups must be a float in [0, inf). "
            "Got -1.0 instead.",
        ),
        (
            lambda: param_groups(nn.Linear(2, 2), 0.1, exclude="weight"),
            "param_groups selected no parameter of Linear: the default takes weights with "
            "ndim >= 2 outside normalization layers; widen it with include= "
            "(e.g. include='*.weight') or narrow exclude=.",
        ),
        (
            lambda: param_groups(nn.ReLU(), 0.1),
            "The 'model' parameter of param_groups must be a torch.nn.Module with at least one "
            "parameter. Got ReLU() instead.",
        ),
    ],
)
def test_bad_input_messages(build, message):
    with pytest.raises(ConfigError) as info:
        build()
    assert str(info.value) == message


def test_repr():
    assert repr(ProximalL1(1e-4)) == "ProximalL1(l1=0.0001)"
