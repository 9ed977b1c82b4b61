"""reglab.data.split and the built-in datasets: stratification, seeds, leak-free scaling."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from sklearn import datasets as skd

from reglab import ConfigError
from reglab.data import (
    BUILTIN_DATASETS,
    Dataset,
    StandardScaler,
    list_datasets,
    load_dataset,
    make_dataset,
    split,
)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


# --------------------------------------------------------------------------- built-ins


def test_list_datasets_matches_what_loads():
    infos = list_datasets()
    assert [i.name for i in infos] == list(BUILTIN_DATASETS)
    assert BUILTIN_DATASETS == (
        "breast_cancer",
        "diabetes",
        "digits",
        "fashion_mnist",
        "iris",
        "mnist1d",
        "rotten_tomatoes",
        "wine",
    )
    for info in infos:
        if not info.installed:  # e.g. no dataset-fashion-mnist: the error names the install
            with pytest.raises(ConfigError, match=re.escape(info.install)):
                load_dataset(info.name)
            continue
        ds = load_dataset(info.name)
        assert (ds.task, len(ds), ds.input_shape) == (info.task, info.n_samples, info.input_shape)
        assert ds.num_classes == info.num_classes and ds.class_names == info.class_names
        assert info.n_features == int(np.prod(ds.input_shape)) and info.description
        if ds.num_classes is not None:
            assert ds.y.dtype == torch.int64 and set(ds.y.tolist()) == set(range(ds.num_classes))
        else:
            assert ds.y.dtype == torch.float32
        if info.kind == "text":  # token ids come from a vocabulary fit on the training split
            assert ds.kind == "text" and len(ds.text_rows()) == info.n_samples
        else:
            assert ds.X.dtype == torch.float32


def test_digits_are_images_scaled_by_16(digits):
    sk = skd.load_digits()
    assert digits.X.shape == (1797, 1, 8, 8) and digits.kind == "image"
    assert torch.equal(digits.X.reshape(1797, 64) * 16, torch.tensor(sk.data, dtype=torch.float32))
    assert float(digits.X.min()) == 0.0 and float(digits.X.max()) == 1.0
    assert digits.y.tolist() == sk.target.tolist()
    flat = load_dataset("digits", flatten=True)
    assert flat.kind == "tabular" and flat.X.shape == (1797, 64)
    assert flat.feature_names[:2] == ("pixel_0_0", "pixel_0_1")
    assert torch.equal(flat.X, digits.X.reshape(1797, 64))


def test_diabetes_is_raw_regression():
    ds = load_dataset("diabetes")
    sk = skd.load_diabetes(scaled=False)
    assert torch.allclose(ds.y, torch.tensor(sk.target, dtype=torch.float32))
    assert ds.feature_names[:3] == ("age", "sex", "bmi")
    assert float(ds.X[:, 0].max()) > 10  # raw ages, not sklearn's pre-scaled values


def test_dataset_protocol_and_loader():
    ds = make_dataset(np.arange(10.0).reshape(5, 2), np.array([0, 1, 0, 1, 1]), name="toy")
    x, y = ds[3]
    assert x.tolist() == [6.0, 7.0] and int(y) == 1 and len(ds) == 5
    assert ds.tensors() == (ds.X, ds.y) and ds.num_outputs == 2
    batches = list(ds.loader(2))
    assert [b[0].shape[0] for b in batches] == [2, 2, 1]
    assert "name='toy'" in repr(ds) and "num_classes=2" in repr(ds)


# --------------------------------------------------------------------------- sizes and partition


def _expected_counts(counts: np.ndarray, total: int) -> np.ndarray:
    return total * counts / counts.sum()


def test_digits_200_stratified_partition(digits):
    sp = split(digits, train_size=200, val_size=0.2, seed=0)
    assert (len(sp.train), len(sp.val), len(sp.test)) == (200, 359, 1238)
    idx = torch.cat([sp.train_index, sp.val_index, sp.test_index])
    assert torch.equal(torch.sort(idx).values, torch.arange(1797))  # a partition
    counts = np.bincount(digits.y.numpy())
    for part, total in ((sp.train, 200), (sp.val, 359)):
        got = np.bincount(part.y.numpy(), minlength=10)
        # largest-remainder allocation: every class within one sample of its exact share
        assert np.all(np.abs(got - _expected_counts(counts, total)) < 1.0), got
    assert torch.equal(sp.train.X, digits.X[sp.train_index])  # images are not rescaled
    assert sp.scaler is None and sp.train.name == "digits:train"
    assert sp.task == "classification" and sp.num_classes == 10 and sp.input_shape == (1, 8, 8)


def test_fraction_sizes_round(digits):
    sp = split(load_dataset("iris"), train_size=0.5, val_size=0.1, seed=3)
    assert (len(sp.train), len(sp.val), len(sp.test)) == (75, 15, 60)
    sp = split(digits, train_size=0.123, val_size=0, seed=0)
    assert len(sp.train) == round(0.123 * 1797) and len(sp.val) == 0


def test_every_class_in_train_when_imbalanced():
    # 200 / 20 / 2 samples: a 10-sample train split still sees the rare classes
    y = np.array([0] * 200 + [1] * 20 + [2] * 2)
    ds = make_dataset(np.random.default_rng(0).normal(size=(222, 3)), y, name="imb")
    for seed in range(5):
        sp = split(ds, train_size=10, val_size=6, seed=seed)
        assert set(sp.train.y.tolist()) == {0, 1, 2}
        assert np.bincount(sp.train.y.numpy()).tolist() == [8, 1, 1]
        # the rare class keeps its second sample for evaluation
        assert int((sp.val.y == 2).sum() + (sp.test.y == 2).sum()) == 1


def test_stratify_false_and_regression_split_are_random_permutations():
    ds = load_dataset("diabetes")
    sp = split(ds, train_size=300, val_size=50, seed=0)
    perm = torch.randperm(442, generator=torch.Generator().manual_seed(0))
    assert torch.equal(sp.train_index, torch.sort(perm[:300]).values)
    assert torch.equal(sp.test_index, torch.sort(perm[350:]).values)
    iris = load_dataset("iris")
    unstrat = split(iris, train_size=30, val_size=30, stratify=False, seed=0)
    perm = torch.randperm(150, generator=torch.Generator().manual_seed(0))
    assert torch.equal(unstrat.train_index, torch.sort(perm[:30]).values)


# --------------------------------------------------------------------------- seeds


def test_same_seed_same_split_other_seed_other_split(digits):
    a = split(digits, train_size=200, val_size=100, seed=7)
    b = split(digits, train_size=200, val_size=100, seed=7)
    c = split(digits, train_size=200, val_size=100, seed=8)
    g = split(digits, train_size=200, val_size=100, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.train_index, b.train_index) and torch.equal(a.val_index, b.val_index)
    assert torch.equal(a.train_index, g.train_index)
    assert not torch.equal(a.train_index, c.train_index)
    default = split(digits, train_size=200, val_size=100)
    assert torch.equal(
        default.train_index, split(digits, train_size=200, val_size=100, seed=0).train_index
    )


# --------------------------------------------------------------------------- scaling


def _leaky_dataset() -> Dataset:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = np.repeat([0, 1, 2], 40)
    return make_dataset(X, y, name="leak")


def test_scaler_is_fit_on_train_only():
    ds = _leaky_dataset()
    base = split(ds, train_size=60, val_size=30, seed=4)
    # Shift the rows that end up in val/test: a scaler fit on them would no longer give the
    # training split mean 0 / std 1, nor the statistics of the training rows.
    X = ds.X.clone()
    held_out = torch.cat([base.val_index, base.test_index])
    X[held_out] += 1000.0
    shifted = make_dataset(X.numpy(), ds.y.numpy(), name="leak")
    sp = split(shifted, train_size=60, val_size=30, seed=4)
    assert torch.equal(sp.train_index, base.train_index)
    train_raw = X[sp.train_index].double()
    assert torch.allclose(sp.scaler.mean.double(), train_raw.mean(0), atol=1e-5)
    assert torch.allclose(sp.scaler.std.double(), train_raw.std(0, unbiased=False), atol=1e-5)
    assert torch.allclose(sp.train.X.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(sp.train.X.std(0, unbiased=False), torch.ones(3), atol=1e-5)
    # val/test are transformed with the train statistics, so they sit far from 0
    assert float(sp.test.X.mean()) > 100
    expected_test = (X[sp.test_index] - sp.scaler.mean) / sp.scaler.std
    assert torch.allclose(sp.test.X, expected_test)
    # and the held-out rows did not change the training split at all
    assert torch.allclose(sp.train.X, base.train.X, atol=1e-5)


def test_constant_feature_and_scaler_state_round_trip():
    X = np.column_stack([np.arange(20.0), np.full(20, 3.0)])
    ds = make_dataset(X, np.arange(20) % 2, name="c")
    sp = split(ds, train_size=10, val_size=4, seed=0)
    assert sp.scaler.std[1].item() == 1.0 and torch.all(sp.train.X[:, 1] == 0)
    s2 = StandardScaler(torch.zeros(2), torch.ones(2))
    s2.load_state_dict(sp.scaler.state_dict())
    assert torch.allclose(s2.inverse_transform(sp.val.X), ds.X[sp.val_index])


def test_images_per_channel_scaling_when_asked(digits):
    sp = split(digits, train_size=300, val_size=100, scale=True, seed=0)
    assert sp.scaler.mean.shape == (1, 1, 1)
    raw = digits.X[sp.train_index].double()
    assert sp.scaler.mean.item() == pytest.approx(raw.mean().item(), abs=1e-6)
    assert float(sp.train.X.mean()) == pytest.approx(0.0, abs=1e-5)
    tab = split(load_dataset("wine"), train_size=100, val_size=30, scale=False, seed=0)
    assert tab.scaler is None


def test_scale_target_for_regression():
    ds = load_dataset("diabetes")
    sp = split(ds, train_size=300, val_size=50, scale_target=True, seed=0)
    assert sp.target_scaler is not None
    assert float(sp.train.y.mean()) == pytest.approx(0.0, abs=1e-5)
    y_raw = ds.y[sp.train_index].double()
    assert sp.target_scaler.mean.item() == pytest.approx(y_raw.mean().item(), rel=1e-6)
    assert torch.allclose(
        sp.target_scaler.inverse_transform(sp.test.y), ds.y[sp.test_index], atol=1e-3
    )


# --------------------------------------------------------------------------- loaders


def test_loaders_shuffle_train_only_and_replay_with_generator(digits):
    sp = split(digits, train_size=200, val_size=100, seed=0)
    tr1, va, te = sp.loaders(64, generator=torch.Generator().manual_seed(5))
    tr2, _, _ = sp.loaders(64, generator=torch.Generator().manual_seed(5))
    b1 = [y for _, y in tr1]
    b2 = [y for _, y in tr2]
    assert all(torch.equal(p, q) for p, q in zip(b1, b2))
    assert not torch.equal(torch.cat(b1), sp.train.y)  # shuffled
    assert torch.equal(torch.cat([y for _, y in va]), sp.val.y)  # in order
    x0, _ = next(iter(te))
    assert x0.shape == (64, 1, 8, 8)
