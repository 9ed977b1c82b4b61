"""Batch renormalization parity with Keras 3 (torch backend), the convention's owner.

Importing Keras takes several seconds, hence the slow mark.
"""

from __future__ import annotations

import os

import pytest
import torch

from reglab.nn import BatchNorm, RenormClipping, keras_momentum

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _torch_backend():
    if keras.backend.backend() != "torch":
        pytest.skip(reason="Keras was imported with a non-torch backend in this process")


@pytest.mark.parametrize("shape", [(32, 4), (16, 4, 3, 3)])
def test_renorm_matches_keras(shape):
    c = shape[1]
    clipping = {"rmax": 1.5, "rmin": 0.5, "dmax": 0.3}
    layer = keras.layers.BatchNormalization(
        axis=1,
        momentum=0.9,
        epsilon=1e-3,
        renorm=True,
        renorm_clipping=clipping,
        renorm_momentum=0.8,
    )
    layer.build((None, *shape[1:]))
    ours = BatchNorm(
        c,
        eps=1e-3,
        momentum=keras_momentum(0.9),
        renorm=RenormClipping(**clipping, momentum=keras_momentum(0.8)),
    )
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        gamma, beta = torch.rand(c, generator=g) + 0.5, torch.randn(c, generator=g)
        ours.weight.copy_(gamma)
        ours.bias.copy_(beta)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
    clipped_r = clipped_d = False
    pairs = [
        ("running_mean", "moving_mean"),
        ("running_var", "moving_variance"),
        ("running_std", "moving_stddev"),
        ("renorm_mean", "renorm_mean"),
        ("renorm_std", "renorm_stddev"),
    ]
    for step in range(4):
        x = torch.randn(*shape, generator=g) * (1 + step) + step
        dims = [0, *range(2, x.dim())]
        var, mean = torch.var_mean(x, dims, correction=0)
        r = torch.sqrt(var + 1e-3) / ours.renorm_std.clamp(min=1e-3**0.5)
        d = (mean - ours.renorm_mean) / ours.renorm_std.clamp(min=1e-3**0.5)
        clipped_r |= bool(((r > 1.5) | (r < 0.5)).any())
        clipped_d |= bool((d.abs() > 0.3).any())
        x1 = x.clone().requires_grad_(True)
        x2 = x.clone().requires_grad_(True)
        y1, y2 = ours(x1), layer(x2, training=True)
        assert (y1 - y2).abs().max().item() <= 1e-5
        grad = torch.randn(*shape, generator=g)
        y1.backward(grad)
        y2.backward(grad)
        assert (x1.grad - x2.grad).abs().max().item() <= 1e-5
        assert (ours.weight.grad - layer.gamma.value.grad).abs().max().item() <= 1e-5
        assert (ours.bias.grad - layer.beta.value.grad).abs().max().item() <= 1e-5
        for p in (ours.weight, ours.bias, layer.gamma.value, layer.beta.value):
            p.grad = None
        for mine, theirs in pairs:
            diff = (getattr(ours, mine) - getattr(layer, theirs).value).abs().max().item()
            assert diff <= 1e-5, mine
    assert clipped_r and clipped_d, "the test must exercise both clips"
    ours.eval()
    x = torch.randn(*shape, generator=g)
    assert (ours(x) - layer(x, training=False)).abs().max().item() <= 1e-5
