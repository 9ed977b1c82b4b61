"""reglab.init.apply_: variances against the fan-in/fan-out formulas, zeros, norm layers, seeds."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import reglab.init as rinit
from reglab import ConfigError
from reglab.nn import BatchNorm, GroupNorm, LayerNorm, RMSNorm

# The sample variance of n i.i.d. values has relative standard error sqrt(2/n) (normal) or
# sqrt(0.8/n) (uniform); with n >= 18,000 that is <= 1.1%, so 6% is > 5 standard errors.
REL_TOL = 0.06


def _net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(32, 64, 3),  # fan_in 288, fan_out 576, 18,432 weights
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(400, 300),  # fan_in 400, fan_out 300, 120,000 weights
        LayerNorm(300),
        nn.Linear(300, 100),
    )


FANS = {"0": (288, 576), "4": (400, 300), "6": (300, 100)}


def _expected_var(scheme: str, fan_in: int, fan_out: int, gain: float) -> float:
    if scheme == "kaiming":
        return gain**2 / fan_in
    if scheme == "xavier":
        return gain**2 * 2 / (fan_in + fan_out)
    return 1 / fan_in  # lecun


@pytest.mark.parametrize("scheme", ["kaiming", "xavier", "lecun"])
@pytest.mark.parametrize("nonlinearity", ["relu", "tanh", "linear", "leaky_relu"])
def test_variances_follow_the_formulas(scheme, nonlinearity):
    net = rinit.apply_(_net(), scheme, nonlinearity, generator=torch.Generator().manual_seed(0))
    gain = nn.init.calculate_gain(nonlinearity, 0.01 if nonlinearity == "leaky_relu" else None)
    modules = dict(net.named_modules())
    for name, (fan_in, fan_out) in FANS.items():
        w = modules[name].weight.detach().double()
        expected = _expected_var(scheme, fan_in, fan_out, gain)
        assert abs(w.mean().item()) < 4 * math.sqrt(expected / w.numel())
        assert w.var().item() == pytest.approx(expected, rel=REL_TOL), name
        if scheme == "xavier":  # uniform: bounded by a = gain * sqrt(6 / (fan_in + fan_out))
            assert w.abs().max().item() <= gain * math.sqrt(6 / (fan_in + fan_out)) + 1e-7


@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
def test_orthogonal_rows_are_orthonormal_times_gain(nonlinearity):
    net = rinit.apply_(
        _net(), "orthogonal", nonlinearity, generator=torch.Generator().manual_seed(1)
    )
    gain = nn.init.calculate_gain(nonlinearity)
    for layer in (net[0], net[4], net[6]):
        w = layer.weight.detach().double().flatten(1)
        rows = w.shape[0] <= w.shape[1]
        gram = w @ w.T if rows else w.T @ w
        eye = torch.eye(gram.shape[0], dtype=torch.float64)
        torch.testing.assert_close(gram, gain**2 * eye, atol=1e-5, rtol=0)


def test_biases_zero_and_norm_layers_identity():
    net = nn.Sequential(
        nn.Linear(4, 6),
        BatchNorm(6),
        nn.PReLU(6),
        nn.Linear(6, 6),
        GroupNorm(2, 6),
        LayerNorm(6),
        RMSNorm(6),
        nn.BatchNorm1d(6),
    )
    with torch.no_grad():
        for p in net.parameters():
            p.uniform_(2.0, 3.0)
    assert rinit.apply_(net, "xavier") is net
    for i in (1, 4, 5, 6, 7):
        assert torch.equal(net[i].weight, torch.ones(6)), i
        if getattr(net[i], "bias", None) is not None:
            assert torch.equal(net[i].bias, torch.zeros(6)), i
    assert torch.equal(net[0].bias, torch.zeros(6)) and torch.equal(net[3].bias, torch.zeros(6))
    assert net[2].weight.min().item() >= 2.0  # PReLU slopes are not weights of a scheme
    assert net[0].weight.abs().max().item() <= math.sqrt(6 / 10) * math.sqrt(2)


def test_recurrent_and_attention_weights_are_covered():
    lstm = nn.LSTM(8, 16)
    attn = nn.MultiheadAttention(16, 2)
    for m in (lstm, attn):
        rinit.apply_(m, "orthogonal", "tanh", generator=torch.Generator().manual_seed(0))
        for name, p in m.named_parameters():
            if "bias" in name:
                assert torch.count_nonzero(p) == 0, name
    w = lstm.weight_hh_l0.detach().double()  # (64, 16): orthonormal columns times gain 5/3
    torch.testing.assert_close(
        w.T @ w, (5 / 3) ** 2 * torch.eye(16, dtype=torch.float64), atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("scheme", rinit.SCHEMES)
def test_same_seed_same_bits(scheme):
    a = rinit.apply_(_net(), scheme, generator=torch.Generator().manual_seed(5))
    b = rinit.apply_(_net(), scheme, generator=torch.Generator().manual_seed(5))
    c = rinit.apply_(_net(), scheme, generator=torch.Generator().manual_seed(6))
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert not torch.equal(a[4].weight, c[4].weight)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"scheme": "he"},
            "The 'scheme' parameter of apply_ must be one of 'kaiming', 'xavier', 'lecun', "
            "'orthogonal'. Got 'he' instead.",
        ),
        (
            {"nonlinearity": "gelu"},
            "The 'nonlinearity' parameter of apply_ must be one of 'linear', 'conv1d', "
            "'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', 'conv_transpose3d', "
            "'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu'. Got 'gelu' instead. Did you mean "
            "'selu'?",
        ),
        (
            {"generator": 0},
            "The 'generator' parameter of apply_ must be a torch.Generator or None. Got 0 instead.",
        ),
    ],
)
def test_bad_arguments_exact_message(kwargs, message):
    with pytest.raises(ConfigError) as info:
        rinit.apply_(nn.Linear(2, 2), **kwargs)
    assert str(info.value) == message


def test_bad_model_exact_message():
    with pytest.raises(ConfigError) as info:
        rinit.apply_("net")  # type: ignore[arg-type]
    assert str(info.value) == (
        "The 'model' parameter of apply_ must be a torch.nn.Module. Got 'net' instead."
    )
