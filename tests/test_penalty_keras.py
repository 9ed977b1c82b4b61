"""Parity with Keras 3 (dev-only oracle): L1/L2/L1L2 regularizer values, MaxNorm/UnitNorm.

Keras stores a Dense kernel as ``(in, out)``; torch's ``Linear.weight`` is its transpose, so
Keras' ``axis=0`` (norm over the inputs of each unit) is reglab's ``dim=0`` on the torch layout.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torch import nn

from reglab.constraints import MaxNorm, UnitNorm
from reglab.penalty import L1, L2, ElasticNet

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="Keras 3 is the dev-only oracle for its conventions")

pytestmark = [
    pytest.mark.slow,  # importing Keras takes several seconds
    # Keras' torch backend trips NumPy 2's __array__(copy=...) deprecation internally
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]


def _kernel(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = rng.normal(size=(7, 5)).astype(np.float32)
    k[:, 1] *= 0.05  # one unit inside the bound
    k[0, 2] = 0.0
    return k


def _np(x) -> np.ndarray:
    return keras.ops.convert_to_numpy(x)


def test_regularizer_values_match_keras():
    k = _kernel()
    w = [torch.from_numpy(k.T.copy())]
    pairs = [
        (L1(0.01), keras.regularizers.L1(0.01)),
        (L2(0.02), keras.regularizers.L2(0.02)),
        (ElasticNet(0.01, 0.02), keras.regularizers.L1L2(l1=0.01, l2=0.02)),
        (L1(0.01) + L2(0.02), keras.regularizers.L1L2(l1=0.01, l2=0.02)),
    ]
    for ours, theirs in pairs:
        expected = float(_np(theirs(keras.ops.convert_to_tensor(k))))
        assert ours(w).item() == pytest.approx(expected, rel=1e-6), ours


def test_max_norm_and_unit_norm_match_keras():
    k = _kernel(1) * 3.0
    for ours, theirs in [
        (MaxNorm(2.0, dim=0), keras.constraints.MaxNorm(2.0, axis=0)),
        (UnitNorm(dim=0), keras.constraints.UnitNorm(axis=0)),
    ]:
        expected = _np(theirs(keras.ops.convert_to_tensor(k)))
        w = nn.Parameter(torch.from_numpy(k.T.copy()))
        ours.apply_([w])
        # Keras divides by (eps + norm) with eps = 1e-7 even inside the bound: rel ~1e-7 apart
        np.testing.assert_allclose(w.detach().numpy().T, expected, rtol=1e-6, atol=1e-7)
