"""Official test splits, uint8 storage with per-batch features, default sizes, new built-ins.

IDX and CIFAR-10 files are written in their real formats (struct headers, pickled dicts).
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import reglab.data.builtin as builtin
from reglab import ConfigError
from reglab.data import (
    StandardScaler,
    default_sizes,
    list_datasets,
    load_dataset,
    pool_size,
    split,
)
from tests.data.test_formats import write_cifar, write_mnist, write_png

# --------------------------------------------------------------------------- IDX and CIFAR


def test_idx_folder_keeps_its_official_test_split(tmp_path):
    _, _, te_x, te_y = write_mnist(tmp_path / "m", n_train=30, n_test=12)
    ds = load_dataset(tmp_path / "m")
    assert ds.data.dtype == torch.uint8 and ds.divisor == 255.0
    assert ds.official_test is not None and ds.official_test.tolist() == [False] * 30 + [True] * 12
    sp = split(ds, train_size=12, val_size=6, seed=4)
    assert sp.test_source == "official"
    assert sp.sizes == {"train": 12, "val": 6, "test": 12}
    assert sp.test_index.tolist() == list(range(30, 42))
    assert max(sp.train_index.tolist() + sp.val_index.tolist()) < 30
    assert set(sp.train_index.tolist()).isdisjoint(sp.val_index.tolist())
    assert sp.test.y.tolist() == te_y.tolist()
    assert torch.allclose(sp.test.X[:, 0], torch.from_numpy(te_x).float() / 255)
    assert [int(n) for n in sp.train.y.bincount()] == [4, 4, 4]  # stratified, as before
    again = split(ds, train_size=12, val_size=6, seed=4)
    assert torch.equal(again.train_index, sp.train_index)


def test_random_test_split_pools_every_row(tmp_path):
    write_mnist(tmp_path / "m", n_train=30, n_test=12)
    ds = load_dataset(tmp_path / "m")
    sp = split(ds, train_size=12, val_size=6, seed=4, test="random")
    assert sp.test_source == "random" and sp.sizes == {"train": 12, "val": 6, "test": 24}
    rows = sp.train_index.tolist() + sp.val_index.tolist() + sp.test_index.tolist()
    assert sorted(rows) == list(range(42))
    assert pool_size(ds) == 30 and pool_size(ds, "random") == 42


def test_cifar_test_batch_is_the_official_test_split(tmp_path):
    written = write_cifar(tmp_path / "c", sizes=(10, 10), n_test=5)
    ds = load_dataset(tmp_path / "c")
    assert ds.data.dtype == torch.uint8 and ds.official_test is not None
    assert ds.official_test.tolist() == [False] * 20 + [True] * 5
    sp = split(ds, train_size=8, val_size=4, seed=0, stratify=False)
    assert sp.test_source == "official" and sp.test_index.tolist() == list(range(20, 25))
    data, labels = written["test_batch"]
    assert sp.test.y.tolist() == labels
    expected = torch.from_numpy(data.reshape(5, 3, 32, 32)).float() / 255
    assert torch.allclose(sp.test.X, expected)


def test_folders_without_test_files_have_no_official_split(tmp_path):
    write_cifar(tmp_path / "c", sizes=(4,), n_test=0)
    (tmp_path / "c" / "test_batch").unlink()
    ds = load_dataset(tmp_path / "c")
    assert ds.official_test is None and not ds.has_official_test
    assert split(ds, train_size=2, val_size=1, stratify=False).test_source == "random"


# --------------------------------------------------------------------------- uint8 storage


def test_parts_stay_uint8_and_batches_are_float(tmp_path):
    write_mnist(tmp_path / "m", n_train=30, n_test=12)
    ds = load_dataset(tmp_path / "m")
    sp = split(ds, train_size=12, val_size=6, seed=0)
    for part in (sp.train, sp.val, sp.test):
        assert part.data.dtype == torch.uint8 and part.lazy
    X, y = sp.test.tensors()
    assert X.dtype == torch.float32 and float(X.max()) <= 1.0
    got = torch.cat([xb for xb, _ in sp.test.batches(5)])
    assert torch.equal(got, X)
    assert [len(yb) for _, yb in sp.test.batches(5)] == [5, 5, 2]
    xs, ys = sp.test.tensors(2, 7)
    assert torch.equal(xs, X[2:7]) and torch.equal(ys, y[2:7])
    g = torch.Generator().manual_seed(0)
    shuffled = sorted(
        int(v) for _, yb in sp.train.batches(4, shuffle=True, generator=g) for v in yb
    )
    assert shuffled == sorted(sp.train.y.tolist())
    xb, _ = next(iter(sp.train.loader(4)))
    assert xb.dtype == torch.float32 and torch.equal(xb, sp.train.X[:4])
    # the shuffled order is the one a DataLoader over the float tensors would use
    lazy = [
        yb for _, yb in sp.train.loader(5, shuffle=True, generator=torch.Generator().manual_seed(3))
    ]
    ref = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(sp.train.X, sp.train.y),
        batch_size=5,
        shuffle=True,
        generator=torch.Generator().manual_seed(3),
    )
    assert [t.tolist() for t in lazy] == [yb.tolist() for _, yb in ref]


def test_per_channel_scaling_of_uint8_matches_the_float_scaler(tmp_path):
    write_cifar(tmp_path / "c", sizes=(10, 10), n_test=5)
    ds = load_dataset(tmp_path / "c")
    sp = split(ds, train_size=12, val_size=4, seed=1, stratify=False, scale=True)
    ref = StandardScaler.fit(ds.X[sp.train_index], per_channel=True)
    assert sp.scaler is not None and sp.train.data.dtype == torch.uint8
    assert torch.allclose(sp.scaler.mean, ref.mean, atol=1e-6)
    assert torch.allclose(sp.scaler.std, ref.std, atol=1e-6)
    assert torch.allclose(sp.test.X, ref.transform(ds.X[sp.test_index]), atol=1e-5)
    assert sp.train.X.mean(dim=(0, 2, 3)).abs().max() < 1e-4


def test_eight_bit_image_folder_is_uint8(tmp_path):
    for k, cls in enumerate(("a", "b")):
        for i in range(3):
            write_png(tmp_path / "imgs" / cls / f"{i}.png", np.full((4, 5), 40 * k + i, np.uint8))
    ds = load_dataset(tmp_path / "imgs")
    assert ds.data.dtype == torch.uint8 and ds.input_shape == (1, 4, 5)
    assert ds.X[4, 0, 0, 0].item() == pytest.approx(41 / 255)


def test_subset_keeps_dtype_and_mask_and_replace_with_other_rows_drops_the_mask(tmp_path):
    write_mnist(tmp_path / "m", n_train=6, n_test=4)
    ds = load_dataset(tmp_path / "m")
    sub = ds.subset(torch.tensor([0, 7, 8]))
    assert sub.data.dtype == torch.uint8 and sub.official_test is not None
    assert sub.official_test.tolist() == [False, True, True]
    other = dataclasses.replace(ds, X=ds.X[:3], y=ds.y[:3])
    assert other.official_test is None and other.data.dtype == torch.float32
    assert split(other, train_size=2, val_size=0, stratify=False).test_source == "random"
    same = dataclasses.replace(ds, name="renamed")
    assert same.data.dtype == torch.uint8 and same.name == "renamed"


def test_flat_uint8_images_and_signals(tmp_path):
    write_mnist(tmp_path / "m", n_train=6, n_test=4)
    flat = load_dataset(tmp_path / "m", flatten=True)
    assert flat.kind == "tabular" and flat.data.dtype == torch.uint8
    assert torch.allclose(flat.X, load_dataset(tmp_path / "m").X.reshape(10, 20))
    sp = split(flat, train_size=4, val_size=1)
    assert sp.scaler is not None and sp.train.X.dtype == torch.float32


# --------------------------------------------------------------------------- default sizes


def test_default_sizes_fit_any_pool():
    assert default_sizes(178) == (89, 44) and default_sizes(150) == (75, 37)
    assert default_sizes(60000) == (200, 300) and default_sizes(1000) == (200, 250)
    for n in range(2, 2000, 7):
        t, v = default_sizes(n)
        assert 1 <= t <= min(200, max(1, n // 2)) and v <= min(300, n // 4)


@pytest.mark.parametrize("name", ["wine", "iris", "breast_cancer", "digits"])
def test_default_sizes_split_the_small_builtins(name):
    ds = load_dataset(name)
    t, v = default_sizes(pool_size(ds))
    sp = split(ds, train_size=t, val_size=v, seed=0)
    assert sp.sizes["train"] == t and sp.sizes["val"] == v and sp.sizes["test"] >= 1


def test_explicit_size_that_cannot_fit_keeps_its_message():
    with pytest.raises(ConfigError) as err:
        split(load_dataset("wine"), train_size=200, val_size=10)
    assert str(err.value) == (
        "The 'train_size' parameter of split must be less than the 178 samples of 'wine' (the "
        "test split needs at least one). Got 200 instead."
    )


# --------------------------------------------------------------------------- built-ins


@pytest.mark.skipif(not builtin.is_installed("fashion_mnist"), reason="no dataset-fashion-mnist")
def test_fashion_mnist_builtin():
    ds = load_dataset("fashion_mnist")
    assert len(ds) == 70000 and ds.input_shape == (1, 28, 28) and ds.data.dtype == torch.uint8
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    assert ds.official_test is not None and int(ds.official_test.sum()) == 10000
    sp = split(ds, train_size=100, val_size=50, seed=0)
    assert sp.sizes == {"train": 100, "val": 50, "test": 10000} and sp.test_source == "official"
    assert sp.test.nbytes < 10000 * 784 + 10000 * 8 + 1


def test_mnist1d_builtin_is_seeded_and_leaves_the_global_rngs_alone():
    pytest.importorskip("mnist1d")
    builtin._MNIST1D_CACHE.clear()
    # make_dataset seeds the legacy global generator: it must be left as the caller had it
    np.random.seed(123)  # noqa: NPY002
    random.seed(7)
    expect_np, expect_py = np.random.rand(), random.random()  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    random.seed(7)
    ds = load_dataset("mnist1d")
    assert (np.random.rand(), random.random()) == (expect_np, expect_py)  # noqa: NPY002
    assert len(ds) == 5000 and ds.input_shape == (1, 40) and ds.kind == "signal"
    assert ds.official_test is not None and int(ds.official_test.sum()) == 1000
    assert ds.official_test[:4000].sum() == 0
    builtin._MNIST1D_CACHE.clear()
    again = load_dataset("mnist1d")
    assert torch.equal(ds.X, again.X) and torch.equal(ds.y, again.y)
    sp = split(ds, train_size=4000, val_size=0, seed=0)
    assert sp.sizes == {"train": 4000, "val": 0, "test": 1000}
    assert ds.flat().input_shape == (40,) and ds.flat().feature_names[1] == "c0_t1"


def test_reglab_datasets_lists_sources_splits_and_install_commands(monkeypatch, tmp_path):
    from reglab.cli.datasets import datasets

    monkeypatch.setattr(builtin, "FASHION_MNIST_DIR", tmp_path / "absent")
    info = {d.name: d for d in list_datasets()}
    assert not info["fashion_mnist"].installed
    assert info["fashion_mnist"].official_split == "60000/10000"
    assert info["mnist1d"].official_split == "4000/1000" and info["wine"].official_split == "none"
    out = CliRunner().invoke(datasets).output
    fashion = out.splitlines()[[ln.split()[0] if ln.split() else "" for ln in out.splitlines()]
                               .index("fashion_mnist")]  # fmt: skip
    assert "70000" in fashion and "1x28x28" in fashion and "60000/10000" in fashion
    assert "not installed; install it with: apt-get install dataset-fashion-mnist" in out
