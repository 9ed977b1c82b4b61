"""MaxNorm and UnitNorm constraints: NumPy oracle, torch.renorm parity, dims, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from reglab import ConfigError
from reglab.constraints import MaxNorm, UnitNorm
from tests.reference import penalty_oracle as oracle


@pytest.mark.parametrize("shape", [(6, 5), (4, 3, 3, 3)], ids=["linear", "conv"])
def test_max_norm_matches_oracle_and_torch_renorm(gen, shape):
    w0 = torch.randn(*shape, generator=gen, dtype=torch.float64)
    w0[0] *= 0.01  # one unit well inside the bound
    c = 1.5
    w = nn.Parameter(w0.clone())
    MaxNorm(c).apply_([w])
    np.testing.assert_allclose(w.detach().numpy(), oracle.max_norm(w0.numpy(), c), rtol=1e-12)
    torch.testing.assert_close(w.detach(), torch.renorm(w0, 2, 0, c), rtol=1e-6, atol=0)
    norms = w.detach().reshape(shape[0], -1).norm(dim=1)
    assert bool((norms <= c * (1 + 1e-12)).all())
    assert torch.equal(w[0].detach(), w0[0])  # within the bound: untouched, bit for bit


def test_max_norm_other_dims_and_whole_tensor():
    w0 = torch.tensor([[3.0, 0.0], [4.0, 0.5]], dtype=torch.float64)
    w = nn.Parameter(w0.clone())
    MaxNorm(1.0, dim=1).apply_([w])  # units are columns: (3, 4) -> (0.6, 0.8); (0, 0.5) stays
    torch.testing.assert_close(
        w.detach(), torch.tensor([[0.6, 0.0], [0.8, 0.5]], dtype=torch.float64)
    )
    v = nn.Parameter(w0.clone())
    MaxNorm(1.0, dim=None).apply_([v])
    assert v.detach().norm().item() == pytest.approx(1.0)
    b = nn.Parameter(torch.tensor([2.0, -0.5]))
    MaxNorm(1.0).apply_([b])  # 1-D: each entry is its own unit
    assert b.tolist() == [1.0, -0.5]


def test_unit_norm_matches_oracle_and_keeps_zero_rows(gen):
    w0 = torch.randn(5, 2, 3, generator=gen, dtype=torch.float64)
    w0[2] = 0.0
    w = nn.Parameter(w0.clone())
    UnitNorm().apply_([w])
    np.testing.assert_allclose(w.detach().numpy(), oracle.unit_norm(w0.numpy()), rtol=1e-12)
    norms = w.detach().reshape(5, -1).norm(dim=1)
    torch.testing.assert_close(norms, torch.tensor([1, 1, 0, 1, 1], dtype=torch.float64))


def test_constraints_on_a_module_touch_only_regularized_weights():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    with torch.no_grad():
        m[0].bias.fill_(10.0)
    MaxNorm(0.1).apply_(m)
    assert bool((m[0].weight.norm(dim=1) <= 0.1 + 1e-7).all())
    assert m[0].bias.tolist() == [10.0, 10.0, 10.0]


def test_repr():
    assert repr(MaxNorm(3)) == "MaxNorm(max_value=3.0, dim=0)"
    assert repr(UnitNorm(dim=None)) == "UnitNorm(dim=None, eps=1e-12)"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: MaxNorm(0),
            "The 'max_value' parameter of MaxNorm must be a float in (0, inf). Got 0 instead.",
        ),
        (
            lambda: MaxNorm(math.nan),
            "The 'max_value' parameter of MaxNorm must be a float in (0, inf). Got nan instead.",
        ),
        (
            lambda: MaxNorm(2.0, dim=1.5),
            "The 'dim' parameter of MaxNorm must be None or an int in (-inf, inf). "
            "Got 1.5 instead.",
        ),
        (
            lambda: UnitNorm(eps=-1.0),
            "The 'eps' parameter of UnitNorm must be a float in (0, inf). Got -1.0 instead.",
        ),
        (
            lambda: MaxNorm(2.0, dim=2).apply_([nn.Parameter(torch.ones(3, 3))]),
            "MaxNorm.apply_ got dim=2, which params[0] of shape (3, 3) does not have; use dim=0 "
            "(output units of Linear/Conv weights) or dim=None (whole tensor).",
        ),
        (
            lambda: UnitNorm().apply_([torch.ones(2, 2, requires_grad=True) * 3]),
            "UnitNorm.apply_ updates tensors in place and needs leaf tensors (parameters): "
            "params[0] is the result of an operation. Pass the parameters themselves, "
            "e.g. reglab.regularized_parameters(model).",
        ),
        (
            lambda: MaxNorm(1.0).apply_(nn.Sequential()),
            "The 'model' parameter of regularized_parameters must be a torch.nn.Module with at "
            "least one parameter. Got Sequential() instead.",
        ),
    ],
)
def test_bad_input_messages(build, message):
    with pytest.raises(ConfigError) as info:
        build()
    assert str(info.value) == message
