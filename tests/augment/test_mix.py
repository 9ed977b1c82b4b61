"""MixUp and CutMix: Beta sampling, formulas, area-corrected CutMix weights, smoothing, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import reglab.augment as A
from reglab import ConfigError, _rng
from tests.helpers import seeded


# ------------------------------------------------------------------------------ Beta(alpha, alpha)
@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
def test_beta_mean_and_variance(alpha):
    n = 200_000
    lam = _rng.beta(alpha, n, seeded(1), dtype=torch.float64)
    var = 1 / (4 * (2 * alpha + 1))
    # sd of the sample mean: sqrt(var / n) <= 0.0008; tolerance about 6 sd
    assert lam.mean().item() == pytest.approx(0.5, abs=0.005)
    # sd of the sample variance of a bounded variable is below 0.4% of var here
    assert lam.var().item() == pytest.approx(var, rel=0.03)
    assert lam.min() >= 0 and lam.max() <= 1


@pytest.mark.parametrize("alpha", [0.2, 1.0])
def test_beta_distribution_matches_the_beta_cdf(alpha):
    special = pytest.importorskip("scipy.special", reason="scipy gives the Beta CDF")
    n = 20_000
    lam = np.sort(_rng.beta(alpha, n, seeded(2), dtype=torch.float64).numpy())
    cdf = special.betainc(alpha, alpha, lam)
    # Kolmogorov-Smirnov statistic; 1.95 / sqrt(n) is the 0.1% critical value
    d = max((np.arange(1, n + 1) / n - cdf).max(), (cdf - np.arange(n) / n).max())
    assert d < 1.95 / np.sqrt(n)


def test_beta_small_alpha_has_no_nan_and_replays():
    lam = _rng.beta(0.01, 10_000, seeded(3))
    assert torch.isfinite(lam).all() and lam.min() >= 0 and lam.max() <= 1
    # most mass at the ends for a tiny alpha
    assert ((lam < 0.01) | (lam > 0.99)).float().mean() > 0.9
    assert torch.equal(lam, _rng.beta(0.01, 10_000, seeded(3)))


# ------------------------------------------------------------------------------ MixUp
def test_mixup_formula_matches_numpy():
    x = torch.rand(7, 3, 4, 4, generator=seeded(4), dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 4, 0, 1])
    m = A.MixUp(alpha=0.4, num_classes=5)
    p = m.generate_params(x.shape, seeded(5))
    xm, ys = m.apply(x, y, p)
    lam, idx = p["lam"].numpy(), p["index"].numpy()
    xn, onehot = x.numpy(), np.eye(5)[y.numpy()]
    l4 = lam[:, None, None, None]
    np.testing.assert_allclose(xm.numpy(), l4 * xn + (1 - l4) * xn[idx], atol=1e-12)
    np.testing.assert_allclose(
        ys.numpy(), lam[:, None] * onehot + (1 - lam[:, None]) * onehot[idx], atol=1e-12
    )
    assert sorted(idx.tolist()) == list(range(7))  # a permutation: every sample is used once


def test_mixup_lambda_is_per_sample():
    p = A.MixUp(alpha=1.0, num_classes=2).generate_params((64, 3), seeded(6))
    assert p["lam"].unique().numel() == 64


@pytest.mark.parametrize("n", [1, 3, 7])
def test_odd_batches(n):
    x = torch.rand(n, 1, 5, 5, generator=seeded(7))
    y = torch.arange(n) % 3
    for mixer in (A.MixUp(0.2, num_classes=3), A.CutMix(1.0, num_classes=3)):
        xm, ys = mixer.mix(x, y, seeded(8))
        assert xm.shape == x.shape and ys.shape == (n, 3)
        torch.testing.assert_close(ys.sum(1), torch.ones(n))


def test_replay_from_saved_params():
    x = torch.rand(6, 2, 8, 8, generator=seeded(9))
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    for mixer in (A.MixUp(0.3, num_classes=3), A.CutMix(1.0, num_classes=3)):
        a = mixer.mix(x, y, seeded(10))
        p = mixer.generate_params(x.shape, seeded(10))
        b = mixer.apply(x, y, {k: v.clone() for k, v in p.items()})
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        c = mixer(x, y, seeded(11))
        assert not torch.equal(a[0], c[0])


def test_soft_targets_in_soft_targets_out():
    x = torch.rand(5, 4, generator=seeded(12))
    soft = torch.softmax(torch.randn(5, 3, generator=seeded(13)), 1)
    m = A.MixUp(0.5)  # num_classes not needed for soft targets
    p = m.generate_params(x.shape, seeded(14))
    _, ys = m.apply(x, soft, p)
    lam = p["lam"].float()[:, None]
    torch.testing.assert_close(ys, lam * soft + (1 - lam) * soft[p["index"]])


def test_label_smoothing_matches_torch_cross_entropy():
    # With lam = 1 (no mixing) the smoothed target gives torch's label_smoothing loss.
    logits = torch.randn(6, 4, generator=seeded(15), dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    m = A.MixUp(0.2, num_classes=4, label_smoothing=0.1)
    p = {"lam": torch.ones(6, dtype=torch.float64), "index": torch.arange(6)}
    _, ys = m.apply(torch.zeros(6, 2, dtype=torch.float64), y, p)
    ours = -(ys * logits.log_softmax(1)).sum(1).mean()
    ref = F.cross_entropy(logits, y, label_smoothing=0.1)
    torch.testing.assert_close(ours, ref)
    # smoothing commutes with mixing (both are affine in the targets)
    p = m.generate_params((6, 2), seeded(16))
    _, ys = m.apply(torch.zeros(6, 2), y, p)
    _, plain = A.MixUp(0.2, num_classes=4).apply(torch.zeros(6, 2), y, p)
    torch.testing.assert_close(ys, plain * 0.9 + 0.1 / 4)


# ------------------------------------------------------------------------------ CutMix
def test_cutmix_weight_is_the_pasted_area():
    n, h, w = 64, 9, 11
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 2, h, w).contiguous()
    y = torch.arange(n) % 4
    c = A.CutMix(1.0, num_classes=4)
    p = c.generate_params(x.shape, seeded(17))
    xm, ys = c.apply(x, y, p)
    idx = p["index"]
    from_partner = (xm[:, 0] == idx.view(n, 1, 1).float()).flatten(1).float().mean(1)
    moved = idx != torch.arange(n)
    onehot = F.one_hot(y, 4).float()
    weight = 1 - from_partner
    expected = weight[:, None] * onehot + (1 - weight[:, None]) * onehot[idx]
    torch.testing.assert_close(ys[moved], expected[moved])
    # boxes clipped at the border paste less than the nominal (1 - lam): the correction matters
    nominal = 1 - p["lam"].float()
    assert (from_partner[moved] < nominal[moved] - 0.05).any()
    box = p["box"]
    torch.testing.assert_close(from_partner, (box[:, 2] * box[:, 3]).float() / (h * w))


def test_cutmix_box_inside_the_image_and_lam_beta():
    p = A.CutMix(1.0, num_classes=2).generate_params((20_000, 1, 16, 16), seeded(18))
    y0, x0, bh, bw = p["box"].unbind(1)
    assert (y0 >= 0).all() and (x0 >= 0).all() and (y0 + bh <= 16).all() and (x0 + bw <= 16).all()
    # Beta(1, 1) is uniform: mean 1/2, variance 1/12
    assert p["lam"].mean().item() == pytest.approx(0.5, abs=0.01)
    assert p["lam"].var().item() == pytest.approx(1 / 12, rel=0.05)


# ------------------------------------------------------------------------------ gradients
def test_gradcheck_mixup_and_cutmix():
    x = torch.rand(3, 2, 4, 4, dtype=torch.float64, generator=seeded(19)).requires_grad_()
    y = torch.tensor([0, 1, 0])
    for mixer in (A.MixUp(0.5, num_classes=2), A.CutMix(1.0, num_classes=2)):
        p = mixer.generate_params(x.shape, seeded(20))
        assert torch.autograd.gradcheck(lambda t, m=mixer, pp=p: m.apply(t, y, pp)[0], (x,))


# ------------------------------------------------------------------------------ properties
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 9),
    k=st.integers(1, 5),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    alpha=st.floats(0.05, 5.0),
    eps=st.floats(0.0, 0.5),
    seed=st.integers(0, 2**16),
)
def test_soft_targets_are_distributions(n, k, dtype, alpha, eps, seed):
    x = torch.rand(n, 2, 3, 3, generator=seeded(seed), dtype=dtype)
    y = torch.randint(0, k, (n,), generator=seeded(seed + 1))
    for mixer in (A.MixUp(alpha, num_classes=k, label_smoothing=eps), A.CutMix(alpha, k, eps)):
        xm, ys = mixer.mix(x, y, seeded(seed + 2))
        assert xm.shape == x.shape and xm.dtype == dtype
        assert ys.shape == (n, k) and ys.dtype == dtype
        assert (ys >= 0).all() and (ys <= 1 + 1e-6).all()
        torch.testing.assert_close(ys.sum(1), torch.ones(n, dtype=dtype))
        # inputs stay within the range of the batch (convex combinations or pasted pixels)
        assert xm.min() >= x.min() - 1e-6 and xm.max() <= x.max() + 1e-6


# ------------------------------------------------------------------------------ errors
def test_error_messages():
    x = torch.rand(4, 1, 4, 4)
    with pytest.raises(ConfigError) as e:
        A.MixUp(0.2).mix(x, torch.tensor([0, 1, 0, 1]))
    assert str(e.value) == (
        "MixUp needs num_classes to turn integer labels into soft targets: "
        "pass MixUp(..., num_classes=K)."
    )
    with pytest.raises(ConfigError) as e:
        A.CutMix(1.0, num_classes=3).mix(x, torch.tensor([0, 1, 3, 1]))
    assert str(e.value) == "CutMix got labels outside [0, 3) (num_classes=3): min 0, max 3."
    with pytest.raises(ConfigError) as e:
        A.MixUp(0.2, num_classes=3).mix(x, torch.tensor([0, -1, 2, 1]))
    assert str(e.value) == "MixUp got labels outside [0, 3) (num_classes=3): min -1, max 2."
    with pytest.raises(ConfigError) as e:
        A.MixUp(0.0, num_classes=3)
    assert (
        str(e.value)
        == "The 'alpha' parameter of MixUp must be a float in (0, inf). Got 0.0 instead."
    )
    with pytest.raises(ConfigError) as e:
        A.CutMix(1.0, num_classes=0)
    assert str(e.value) == (
        "The 'num_classes' parameter of CutMix must be an int in [1, inf) or None. Got 0 instead."
    )
    with pytest.raises(ConfigError) as e:
        A.MixUp(0.2, num_classes=3, label_smoothing=1.0)
    assert str(e.value) == (
        "The 'label_smoothing' parameter of MixUp must be a float in [0, 1). Got 1.0 instead."
    )
    with pytest.raises(ConfigError) as e:
        A.CutMix(1.0, num_classes=2).mix(torch.rand(4, 16), torch.tensor([0, 1, 0, 1]))
    assert (
        str(e.value) == "CutMix expects 'input' of shape (N, C, H, W). Got shape (4, 16) instead."
    )
    with pytest.raises(ConfigError) as e:
        A.MixUp(0.2, num_classes=2).mix(x, torch.tensor([0, 1, 0]))
    assert str(e.value) == (
        "MixUp got (3,) labels for a batch of 4 inputs: the labels' first dimension must be the "
        "batch size."
    )
    with pytest.raises(ConfigError) as e:
        A.MixUp(0.2, num_classes=2).mix(x, torch.rand(4, 3))
    assert str(e.value) == "MixUp got soft targets with 3 columns; num_classes is 2."
    with pytest.raises(ConfigError) as e:
        A.MixUp(0.2, num_classes=2).mix(x.to(torch.uint8), torch.tensor([0, 1, 0, 1]))
    assert str(e.value) == (
        "MixUp expects a floating-point tensor as 'input'. Got dtype torch.uint8 instead: "
        "convert it to float (mixing blends values)."
    )
    with pytest.raises(ConfigError) as e:
        A.MixUp(0.2, num_classes=2).mix(x, torch.rand(4))
    assert str(e.value) == (
        "MixUp expects integer labels (N,) or float soft targets (N, K). "
        "Got float targets of shape (4,) instead."
    )
    with pytest.raises(ConfigError) as e:
        A.MixUp(0.2, num_classes=2).mix(x, torch.tensor([0, 1, 0, 1]), generator=1)  # type: ignore[arg-type]
    assert (
        str(e.value)
        == "The 'generator' parameter of MixUp must be a torch.Generator or None. Got 1 instead."
    )


def test_repr():
    assert repr(A.MixUp(0.2, num_classes=10)) == "MixUp(alpha=0.2, num_classes=10)"
    assert repr(A.CutMix(1.0, 10, 0.1)) == "CutMix(alpha=1.0, num_classes=10, label_smoothing=0.1)"
