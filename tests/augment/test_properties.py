"""Property tests (hypothesis) over shapes and dtypes, and the modules' doctest examples."""

from __future__ import annotations

import doctest
import importlib

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import reglab.augment as A

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


def _make(name: str, h: int, w: int) -> A.Augmentation:
    return {
        "flip": lambda: A.RandomFlip("both"),
        "rotation": lambda: A.RandomRotation(45.0),
        "translation": lambda: A.RandomTranslation(0.3, interpolation="nearest"),
        "zoom": lambda: A.RandomZoom(0.3, fill=0.5),
        "affine": lambda: A.RandomAffine(20.0, 0.2, (0.8, 1.2), (-5.0, 5.0, -5.0, 5.0)),
        "crop": lambda: A.RandomCrop((h, w), padding=1),
        "erasing": lambda: A.RandomErasing(p=1.0),
        "noise": lambda: A.RandomGaussianNoise(0.1),
        "brightness": lambda: A.RandomBrightness(0.2),
        "contrast": lambda: A.RandomContrast(0.5),
        "compose": lambda: A.Compose(
            [
                A.RandomFlip(),
                A.RandomRotation(15.0),
                A.RandomTranslation(0.1),
                A.RandomGaussianNoise(0.1),
            ]
        ),
    }[name]()


NAMES = ["flip", "rotation", "translation", "zoom", "affine", "crop", "erasing", "noise"]
NAMES += ["brightness", "contrast", "compose"]


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    n=st.integers(1, 4),
    c=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**16),
)
def test_shape_dtype_replay_and_p0_identity(name, n, c, h, w, dtype, seed):
    aug = _make(name, h, w)
    x = torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed)).to(dtype)
    y = aug(x, torch.Generator().manual_seed(seed))
    assert y.shape == x.shape and y.dtype == dtype
    assert torch.isfinite(y.float()).all()
    params = aug.generate_params(x.shape, torch.Generator().manual_seed(seed))
    assert torch.equal(aug.apply(x, params), y)
    assert x.shape == (n, c, h, w)  # the input is never modified in place
    if name != "compose":
        aug.p = 0.0
        assert torch.equal(aug(x, torch.Generator().manual_seed(seed)), x)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 5),
    h=st.integers(2, 12),
    w=st.integers(2, 12),
    seed=st.integers(0, 2**16),
)
def test_fused_pipeline_equals_single_warp_of_product(n, h, w, seed):
    aug = A.Compose([A.RandomFlip(), A.RandomRotation(30.0), A.RandomTranslation(0.2)])
    x = torch.rand(n, 2, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    p = aug.generate_params(x.shape, torch.Generator().manual_seed(seed), dtype=torch.float64)
    sub = [{k.split(".", 1)[1]: v for k, v in p.items() if k.startswith(f"{i}.")} for i in range(3)]
    ms = [t.matrix(s, h, w, torch.float64) for t, s in zip(aug.transforms, sub)]
    expected = A.warp_affine(x, ms[2] @ ms[1] @ ms[0])
    torch.testing.assert_close(aug.apply(x, p), expected, atol=1e-12, rtol=0)


def test_input_is_not_modified():
    x = torch.rand(4, 3, 8, 8)
    before = x.clone()
    for name in NAMES:
        _make(name, 8, 8)(x, torch.Generator().manual_seed(0))
    assert torch.equal(x, before)


@pytest.mark.parametrize(
    "module",
    [
        "reglab.augment",
        "reglab.augment._base",
        "reglab.augment.geometric",
        "reglab.augment.intensity",
        "reglab.augment.container",
        "reglab.augment.mix",
        "reglab.augment.tabular",
    ],
)
def test_doctest_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
