"""The one random engine (reglab._rng): same seed same bits, thread-count independence, chunk
boundaries, and the statistics of its Gaussian and Bernoulli draws."""

from __future__ import annotations

import math

import pytest
import torch

import reglab.functional as RF
from reglab import _rng
from tests.helpers import seeded


def with_threads(n: int, fn):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(n)
        return fn()
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    "draw",
    [
        lambda g: _rng.normal((3, 100_003), 0.5, g),
        lambda g: _rng.keep_mask((5, 300_001), 0.3, g),
        lambda g: _rng.add_normal(torch.linspace(-1, 1, 700_001), 0.2, g),
    ],
    ids=["normal", "keep_mask", "add_normal"],
)
def test_bits_depend_on_seed_and_shape_not_thread_count(draw):
    one = with_threads(1, lambda: draw(seeded(3)))
    two = with_threads(2, lambda: draw(seeded(3)))
    four = with_threads(4, lambda: draw(seeded(3)))
    assert torch.equal(one, two) and torch.equal(one, four)
    assert not torch.equal(one, draw(seeded(4)))


def test_global_generator_governs_draws_without_a_generator():
    torch.manual_seed(5)
    a = _rng.normal((200_000,), 1.0, None)
    torch.manual_seed(5)
    assert torch.equal(a, _rng.normal((200_000,), 1.0, None))


def test_a_draw_advances_the_generator_by_one_seed():
    g = seeded(6)
    _rng.normal((200_000,), 1.0, g)
    h = seeded(6)
    _rng.seed_from(h)
    assert torch.equal(g.get_state(), h.get_state())


@pytest.mark.parametrize("n", [_rng.SMALL + 1, 2 * _rng.WORDS + 1, 4 * _rng.WORDS - 1, 1_000_001])
def test_chunk_boundaries_and_odd_sizes_are_all_filled(n):
    z = _rng.normal((n,), 1.0, seeded(7))
    assert z.shape == (n,) and torch.isfinite(z).all()
    # no chunk left as zeros or repeated: every 2**17 block has its own mean near 0, sd near 1
    for block in z.split(2 * _rng.WORDS):
        if block.numel() > 1000:
            assert abs(block.mean().item()) < 6 / math.sqrt(block.numel())
            assert block.std().item() == pytest.approx(1.0, abs=0.05)
    chunks = z[: (n // (2 * _rng.WORDS)) * 2 * _rng.WORDS].view(-1, 2 * _rng.WORDS)
    if chunks.shape[0] > 1:
        assert not torch.equal(chunks[0], chunks[1])


def test_normal_is_gaussian_mean_std_kurtosis():
    # 2**22 float32 draws of N(0, 0.05^2). Standard errors: mean 0.05/2048 = 2.4e-5,
    # sd 0.05/sqrt(2 * 2**22) = 1.7e-5, kurtosis sqrt(24 / 2**22) = 0.0024. Tolerances are 6 of them.
    n = 1 << 22
    z = _rng.normal((n,), 0.05, seeded(8)).double()
    mean, sd = z.mean().item(), z.std().item()
    kurtosis = (((z - mean) / sd) ** 4).mean().item()
    assert abs(mean) < 6 * 0.05 / math.sqrt(n)
    assert abs(sd - 0.05) < 6 * 0.05 / math.sqrt(2 * n)
    assert abs(kurtosis - 3.0) < 6 * math.sqrt(24 / n)
    # tails: P(|z| > 3 sd) = 0.0027 (binomial sd 2.5e-5)
    tail = (z.abs() > 3 * 0.05).double().mean().item()
    assert abs(tail - 0.0026998) < 6 * math.sqrt(0.0027 / n)
    # pairs are independent: the cosine and sine halves of a chunk are uncorrelated
    half = _rng.WORDS
    c, s = z[:half], z[half : 2 * half]
    assert abs(torch.corrcoef(torch.stack([c, s]))[0, 1].item()) < 6 / math.sqrt(half)
    assert abs(torch.corrcoef(torch.stack([c**2, s**2]))[0, 1].item()) < 6 / math.sqrt(half)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_normal_dtypes_and_zero_std(dtype):
    z = _rng.normal((300, 300), 2.0, seeded(9), dtype=dtype)
    assert z.dtype == dtype
    assert z.float().std().item() == pytest.approx(2.0, rel=0.02)
    assert torch.equal(_rng.normal((300, 300), 0.0, seeded(9)), torch.zeros(300, 300))


def test_keep_mask_is_the_dropout_mask():
    g = seeded(10)
    assert torch.equal(
        RF.keep_mask((600, 700), 0.25, generator=g), _rng.keep_mask((600, 700), 0.25, seeded(10))
    )
    m = _rng.keep_mask((1 << 21,), 0.25, seeded(11))
    # drop rate 0.25 exactly representable in 2**-16 steps; binomial sd 3e-4
    assert abs((1 - m.double().mean().item()) - 0.25) < 6 * math.sqrt(0.25 * 0.75 / m.numel())


def test_gaussian_noise_layer_uses_the_engine():
    x = torch.zeros(256, 3, 32, 32)
    y = RF.gaussian_noise(x, 0.1, generator=seeded(12))
    assert torch.equal(y, _rng.normal(x.shape, 0.1, seeded(12)))


@pytest.mark.parametrize(
    "x",
    [
        torch.rand(256, 3, 32, 32),  # fused: each chunk added by the thread that drew it
        torch.rand(3, 50),  # small: the torch generator
        torch.rand(600, 700).t(),  # not contiguous: the plain sum
    ],
    ids=["fused", "small", "strided"],
)
def test_add_normal_is_x_plus_the_same_draw(x):
    z = _rng.normal(tuple(x.shape), 0.3, seeded(9))
    g = seeded(9)
    out = with_threads(2, lambda: _rng.add_normal(x, 0.3, g))
    assert torch.equal(out, x + z) and out.shape == x.shape
    h = seeded(9)
    _rng.seed_from(h)
    if x.numel() > _rng.SMALL:
        assert torch.equal(g.get_state(), h.get_state())  # one seed, as normal() draws
