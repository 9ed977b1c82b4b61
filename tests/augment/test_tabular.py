"""Tabular augmentations: per-feature Gaussian noise (fitted or batch scale) and tabular MixUp."""

from __future__ import annotations

import pytest
import torch

import reglab.augment as A
from reglab import ConfigError
from reglab.augment import tabular
from tests.helpers import seeded

SCALES = torch.tensor([0.1, 1.0, 10.0, 100.0], dtype=torch.float64)


def features(n: int = 4000, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 4, generator=seeded(seed), dtype=torch.float64) * SCALES + 5.0


def test_noise_scaled_by_fitted_feature_std():
    train = features(seed=1)
    aug = tabular.FeatureNoise(0.2).fit(train)
    torch.testing.assert_close(aug.scale_, train.std(0, correction=0))
    x = features(seed=2)
    d = aug(x, seeded(3)) - x
    # per-feature noise sd = 0.2 * s_j; 4000 rows: sample sd within ~1.1% (1 sd), 5% tolerance
    ratio = d.std(0) / (0.2 * aug.scale_)
    torch.testing.assert_close(ratio, torch.ones(4, dtype=torch.float64), atol=0.05, rtol=0)
    assert d.mean(0).abs().max() / (0.2 * aug.scale_).max() < 0.05


def test_noise_uses_the_batch_std_when_not_fitted():
    aug = tabular.FeatureNoise(0.3)
    x = features(seed=4)
    p = aug.generate_params(x.shape, seeded(5), dtype=torch.float64)
    y = aug.apply(x, p)
    torch.testing.assert_close(y, x + p["noise"] * x.std(0, correction=0))


def test_noise_without_per_feature_scale():
    x = features(seed=6)
    aug = tabular.FeatureNoise(0.5, per_feature_scale=False)
    p = aug.generate_params(x.shape, seeded(7), dtype=torch.float64)
    torch.testing.assert_close(aug.apply(x, p), x + p["noise"])
    assert p["noise"].std().item() == pytest.approx(0.5, rel=0.03)


def test_noise_probability_state_dict_and_replay():
    train = features(seed=8)
    aug = tabular.FeatureNoise(0.2, p=0.5).fit(train)
    other = tabular.FeatureNoise(0.2, p=0.5)
    other.load_state_dict(aug.state_dict())
    x = features(200, seed=9)
    y = aug(x, seeded(10))
    assert torch.equal(other(x, seeded(10)), y)
    p = aug.generate_params(x.shape, seeded(10))
    assert torch.equal(aug.apply(x, p), y)
    changed = (y != x).any(1)
    assert torch.equal(changed, p["apply"])
    assert 70 < int(changed.sum()) < 130  # Binomial(200, 0.5): sd 7


def test_single_row_and_float32_keep_dtype():
    aug = tabular.FeatureNoise(0.1).fit(features(seed=11))
    x = features(1, seed=12)[0].float()
    y = aug(x, seeded(13))
    assert y.shape == (4,) and y.dtype == torch.float32


def test_gradcheck_noise_and_mixup():
    x = features(6, seed=14).requires_grad_()
    aug = tabular.FeatureNoise(0.1).fit(features(seed=15))
    p = aug.generate_params(x.shape, seeded(16), dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: aug.apply(t, p), (x,))
    m = A.MixUp(0.4, layout="tabular")
    pm = m.generate_params(x.shape, seeded(17))
    y = torch.rand(6, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: m.apply(t, y, pm)[0], (x,))


def test_mixup_regression_and_classification_targets():
    x = features(8, seed=18)
    m = A.MixUp(0.4, layout="tabular")
    y = torch.arange(8, dtype=torch.float64)
    p = m.generate_params(x.shape, seeded(19))
    xm, ym = m.apply(x, y, p)
    lam = p["lam"]
    torch.testing.assert_close(ym, lam * y + (1 - lam) * y[p["index"]])
    torch.testing.assert_close(xm, lam[:, None] * x + (1 - lam[:, None]) * x[p["index"]])
    mc = A.MixUp(0.4, num_classes=3, label_smoothing=0.1, layout="tabular")
    _, ys = mc.mix(x, torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]), seeded(20))
    assert ys.shape == (8, 3)
    torch.testing.assert_close(ys.sum(1), torch.ones(8, dtype=torch.float64))
    assert A.MixUp(0.4, layout="tabular").mixes_labels is True


def test_error_messages():
    with pytest.raises(ConfigError) as e:
        tabular.FeatureNoise(0.1)(torch.rand(1, 3))
    assert str(e.value) == (
        "FeatureNoise with per_feature_scale=True needs a fitted scale (call fit(X_train)) or a "
        "batch of at least 2 rows. Got 1 row instead."
    )
    with pytest.raises(ConfigError) as e:
        tabular.FeatureNoise(0.1).fit(torch.rand(3, 2))(torch.rand(4, 3))
    assert str(e.value) == "FeatureNoise was fitted on 2 features; the input has 3."
    with pytest.raises(ConfigError) as e:
        tabular.FeatureNoise(0.1)(torch.rand(2, 3, 4))
    assert (
        str(e.value)
        == "FeatureNoise expects 'input' of shape (N, F) or (F,). Got shape (2, 3, 4) instead."
    )
    with pytest.raises(ConfigError) as e:
        tabular.FeatureNoise(0.1)(torch.ones(4, 3, dtype=torch.int64))
    assert str(e.value) == (
        "FeatureNoise got an integer input (dtype torch.int64) without a declared value range: "
        "pass value_range=(low, high), e.g. (0, 255) for uint8, or convert the input to a float tensor."
    )
    with pytest.raises(ConfigError) as e:
        tabular.FeatureNoise(0.1, per_feature_scale=1)  # type: ignore[arg-type]
    assert str(e.value) == (
        "The 'per_feature_scale' parameter of FeatureNoise must be a bool. Got 1 instead."
    )
    with pytest.raises(ConfigError) as e:
        tabular.FeatureNoise(0.1).fit(torch.rand(1, 3))
    assert (
        str(e.value)
        == "FeatureNoise.fit needs at least 2 rows to estimate a standard deviation. Got 1 instead."
    )
    with pytest.raises(ConfigError) as e:
        A.MixUp(0.2, layout="tabular").mix(torch.rand(4, 3, 2), torch.rand(4))
    assert str(e.value) == "MixUp expects 'input' of shape (N, F). Got shape (4, 3, 2) instead."
    with pytest.raises(ConfigError) as e:
        A.MixUp(0.2, label_smoothing=0.1, layout="tabular").mix(torch.rand(4, 3), torch.rand(4))
    assert str(e.value) == (
        "MixUp got float targets of shape (N,) (regression) with label_smoothing=0.1: "
        "smoothing applies to class targets."
    )
    assert repr(tabular.FeatureNoise(0.1)) == "FeatureNoise(std=0.1, per_feature_scale=True, p=1.0)"
