"""reglab.data file formats: small files written in each real format, read back exactly.

The writers here (also used by the bad-input tests) produce the real layouts: CSV through the
csv module, Parquet through pyarrow, PNG through Pillow, IDX through struct with the real magic
numbers, CIFAR-10 batches as pickled dicts with the real bytes keys.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import pickle
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from reglab import ConfigError
from reglab.data import load_dataset, split
from reglab.data.files import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC

# --------------------------------------------------------------------------- writers


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def write_idx(path: Path, array: np.ndarray, magic: int, gz: bool = False) -> Path:
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


def write_mnist(folder: Path, gz: bool = False, n_train: int = 6, n_test: int = 4) -> tuple:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    tr_x = rng.integers(0, 256, (n_train, 5, 4), dtype=np.uint8)
    tr_y = np.arange(n_train, dtype=np.uint8) % 3
    te_x = rng.integers(0, 256, (n_test, 5, 4), dtype=np.uint8)
    te_y = (np.arange(n_test, dtype=np.uint8) + 1) % 3
    sfx = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{sfx}", tr_x, IDX_IMAGES_MAGIC, gz)
    write_idx(folder / f"train-labels-idx1-ubyte{sfx}", tr_y, IDX_LABELS_MAGIC, gz)
    write_idx(folder / f"t10k-images-idx3-ubyte{sfx}", te_x, IDX_IMAGES_MAGIC, gz)
    write_idx(folder / f"t10k-labels-idx1-ubyte{sfx}", te_y, IDX_LABELS_MAGIC, gz)
    return tr_x, tr_y, te_x, te_y


def write_cifar_batch(path: Path, data: np.ndarray, labels: Sequence[int]) -> Path:
    batch = {
        b"batch_label": b"training batch 1 of 5",
        b"labels": list(labels),
        b"data": data,
        b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
    }
    path.write_bytes(pickle.dumps(batch, protocol=2))
    return path


def write_cifar(folder: Path, sizes: Sequence[int] = (3, 2), n_test: int = 2) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    out = {}
    names = [f"data_batch_{i + 1}" for i in range(len(sizes))] + ["test_batch"]
    for name, n in zip(names, [*sizes, n_test]):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n)]
        write_cifar_batch(folder / name, data, labels)
        out[name] = (data, labels)
    return out


# --------------------------------------------------------------------------- CSV / TSV


def test_csv_string_labels_encoded_sorted_with_names(tmp_path):
    rows = [[1.5, 2, "dog"], [0.5, -1, "cat"], [2.0, 3, "dog"], [4.0, 0, "bird"]]
    p = write_csv(tmp_path / "animals.csv", ["w", "h", "kind"], rows)
    ds = load_dataset(p, target="kind")
    assert ds.name == "animals"
    assert ds.task == "classification"
    assert ds.class_names == ("bird", "cat", "dog")
    assert ds.y.tolist() == [2, 1, 2, 0]
    assert ds.y.dtype == torch.int64
    assert ds.feature_names == ("w", "h")
    assert ds.X.dtype == torch.float32
    assert ds.X.tolist() == [[1.5, 2.0], [0.5, -1.0], [2.0, 3.0], [4.0, 0.0]]
    assert ds.input_shape == (2,) and ds.kind == "tabular" and ds.num_classes == 3


def test_csv_target_in_the_middle_and_integer_labels_keep_numeric_names(tmp_path):
    rows = [[i, 10 if i % 2 else 2, i * 0.5] for i in range(8)]
    p = write_csv(tmp_path / "t.csv", ["a", "label", "b"], rows)
    ds = load_dataset(str(p), target="label")
    assert ds.class_names == ("2", "10")  # numeric order, not string order
    assert ds.y.tolist() == [0, 1] * 4
    assert ds.feature_names == ("a", "b")
    assert ds.X[:, 1].tolist() == [i * 0.5 for i in range(8)]


def test_csv_task_inference_and_override(tmp_path):
    reg = write_csv(tmp_path / "r.csv", ["x", "y"], [[i, i * 1.25] for i in range(10)])
    ds = load_dataset(reg, target="y")
    assert ds.task == "regression" and ds.y.dtype == torch.float32 and ds.num_classes is None
    assert ds.y.tolist() == [i * 1.25 for i in range(10)]
    # 10 distinct integers in 10 rows are values, not classes ...
    ints = write_csv(tmp_path / "i.csv", ["x", "y"], [[i, i] for i in range(10)])
    assert load_dataset(ints, target="y").task == "regression"
    # ... unless the user says so.
    forced = load_dataset(ints, target="y", task="classification")
    assert forced.num_classes == 10 and forced.y.tolist() == list(range(10))
    few = write_csv(tmp_path / "f.csv", ["x", "y"], [[i, i % 3] for i in range(12)])
    assert load_dataset(few, target="y").task == "classification"
    as_reg = load_dataset(few, target="y", task="regression")
    assert as_reg.task == "regression" and as_reg.y.dtype == torch.float32


def test_tsv_and_quoted_fields_and_blank_lines(tmp_path):
    p = tmp_path / "q.tsv"
    p.write_text('a\tb\tc\n1\t2\t"x y"\n\n3\t4\t"z"\n')
    ds = load_dataset(p, target="c")
    assert ds.class_names == ("x y", "z") and ds.X.tolist() == [[1.0, 2.0], [3.0, 4.0]]


# --------------------------------------------------------------------------- Parquet


def test_parquet_round_trip(tmp_path):
    table = pa.table(
        {
            "f1": pa.array([0.5, 1.5, 2.5, 3.5], pa.float64()),
            "f2": pa.array([1, 2, 3, 4], pa.int32()),
            "flag": pa.array([True, False, True, False]),
            "species": pa.array(["b", "a", "b", "a"]),
        }
    )
    p = tmp_path / "plants.parquet"
    pq.write_table(table, p)
    ds = load_dataset(p, target="species")
    assert ds.name == "plants" and ds.class_names == ("a", "b")
    assert ds.y.tolist() == [1, 0, 1, 0]
    assert ds.feature_names == ("f1", "f2", "flag")
    assert ds.X.tolist() == [[0.5, 1, 1], [1.5, 2, 0], [2.5, 3, 1], [3.5, 4, 0]]


def test_parquet_dictionary_target_and_regression(tmp_path):
    table = pa.table(
        {
            "x": pa.array(np.arange(30, dtype=np.float32)),
            "y": pa.array(np.linspace(0, 1, 30)),
            "c": pa.array(["u", "v", "w"] * 10).dictionary_encode(),
        }
    )
    p = tmp_path / "d.pq"
    pq.write_table(table, p)
    cls = load_dataset(p, target="c")
    assert cls.task == "classification" and cls.feature_names == ("x", "y")
    assert cls.class_names == ("u", "v", "w") and cls.y[:3].tolist() == [0, 1, 2]
    pq.write_table(table.drop(["c"]), p)
    reg = load_dataset(p, target="y")
    assert reg.task == "regression" and reg.feature_names == ("x",)
    assert torch.allclose(reg.y, torch.linspace(0, 1, 30))


# --------------------------------------------------------------------------- NPZ


def test_npz_tabular_with_names(tmp_path):
    X = np.arange(12, dtype=np.float64).reshape(6, 2)
    y = np.array([0, 1, 2, 0, 1, 2])
    p = tmp_path / "arr.npz"
    np.savez(p, X=X, y=y, class_names=np.array(["r", "g", "b"]), feature_names=np.array(["u", "v"]))
    ds = load_dataset(p)
    assert ds.kind == "tabular" and ds.class_names == ("r", "g", "b")
    assert ds.feature_names == ("u", "v")
    assert torch.equal(ds.X, torch.tensor(X, dtype=torch.float32))
    assert ds.y.tolist() == y.tolist()


def test_npz_uint8_images_scaled_and_channel_added(tmp_path):
    X = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    p = tmp_path / "img.npz"
    np.savez_compressed(p, X=X, y=np.array([1, 0, 1, 0, 1]))
    ds = load_dataset(p)
    assert ds.kind == "image" and ds.input_shape == (1, 4, 3)
    assert torch.allclose(ds.X[:, 0], torch.tensor(X, dtype=torch.float32) / 255)
    flat = load_dataset(p, flatten=True)
    assert flat.kind == "tabular" and flat.X.shape == (5, 12)
    assert torch.equal(flat.X, ds.X.reshape(5, 12))


def test_npz_float_regression_target(tmp_path):
    p = tmp_path / "r.npz"
    np.savez(p, X=np.ones((40, 3)), y=np.linspace(-1, 1, 40))
    ds = load_dataset(p)
    assert ds.task == "regression" and ds.y.dtype == torch.float32


# --------------------------------------------------------------------------- image folder


def test_image_folder_grayscale(tmp_path):
    rng = np.random.default_rng(0)
    imgs = {}
    for cls in ("zebra", "ant"):
        for i in range(3):
            a = rng.integers(0, 256, (6, 5), dtype=np.uint8)
            write_png(tmp_path / "pics" / cls / f"{i}.png", a)
            imgs[(cls, i)] = a
    (tmp_path / "pics" / "ant" / "notes.txt").write_text("not an image")  # ignored
    ds = load_dataset(tmp_path / "pics")
    assert ds.class_names == ("ant", "zebra")
    assert ds.X.shape == (6, 1, 6, 5) and ds.input_shape == (1, 6, 5) and ds.kind == "image"
    assert ds.y.tolist() == [0, 0, 0, 1, 1, 1]
    expected = torch.tensor(imgs[("zebra", 1)], dtype=torch.float32) / 255
    assert torch.allclose(ds.X[4, 0], expected)


def test_image_folder_mixed_modes_become_rgb_and_resize(tmp_path):
    gray = np.full((4, 4), 200, dtype=np.uint8)
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., 2] = 255
    rgba[..., 3] = 255
    write_png(tmp_path / "f" / "a" / "g.png", gray)
    write_png(tmp_path / "f" / "b" / "c.png", rgb)
    write_png(tmp_path / "f" / "b" / "d.png", rgba)
    with pytest.raises(ConfigError, match="images differ in size"):
        load_dataset(tmp_path / "f")
    ds = load_dataset(tmp_path / "f", image_size=(4, 4))
    assert ds.X.shape == (3, 3, 4, 4)
    assert torch.allclose(ds.X[0], torch.full((3, 4, 4), 200 / 255))  # gray repeated
    assert torch.equal(ds.X[1, 0], torch.ones(4, 4)) and ds.X[1, 1:].abs().max() == 0
    assert torch.allclose(ds.X[2, 2], torch.ones(4, 4)) and ds.X[2, :2].abs().max() == 0
    g = load_dataset(tmp_path / "f", image_size=(2, 3), channels="grayscale")
    assert g.X.shape == (3, 1, 2, 3)


# --------------------------------------------------------------------------- MNIST IDX


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_mnist_idx_round_trip(tmp_path, gz):
    tr_x, tr_y, te_x, te_y = write_mnist(tmp_path / "mnist", gz=gz)
    ds = load_dataset(tmp_path / "mnist")
    assert ds.X.shape == (10, 1, 5, 4) and ds.kind == "image"
    # train files first, then t10k
    expected = np.concatenate([tr_x, te_x]).astype(np.float32) / 255
    assert torch.allclose(ds.X[:, 0], torch.from_numpy(expected))
    assert ds.y.tolist() == [*tr_y.tolist(), *te_y.tolist()]
    assert ds.class_names == ("0", "1", "2")


# --------------------------------------------------------------------------- CIFAR-10


def test_cifar10_batches_round_trip(tmp_path):
    written = write_cifar(tmp_path / "cifar", sizes=(3, 2), n_test=2)
    # a 10th training batch sorts after the 2nd (numeric order)
    data10 = np.full((1, 3072), 7, dtype=np.uint8)
    write_cifar_batch(tmp_path / "cifar" / "data_batch_10", data10, [9])
    ds = load_dataset(tmp_path / "cifar")
    assert ds.X.shape == (8, 3, 32, 32) and ds.num_classes == 10
    assert ds.class_names[0] == "airplane" and ds.class_names[9] == "truck"
    order = ["data_batch_1", "data_batch_2"]
    labels = [lab for name in order for lab in written[name][1]]
    labels += [9, *written["test_batch"][1]]
    assert ds.y.tolist() == labels
    # rows are R(1024) G(1024) B(1024), each 32x32 row-major
    row = written["data_batch_1"][0][1]
    assert ds.X[1, 1, 2, 3].item() == pytest.approx(row[1024 + 2 * 32 + 3] / 255)
    assert torch.allclose(ds.X[5], torch.full((3, 32, 32), 7 / 255))


def test_cifar_meta_names_and_python3_str_keys(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    data = np.zeros((2, 3072), dtype=np.uint8)
    (folder / "test_batch").write_bytes(pickle.dumps({"data": data, "labels": [0, 1]}))
    meta = {b"label_names": [b"cat", b"dog"], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    ds = load_dataset(folder)
    assert ds.class_names == ("cat", "dog") and ds.y.tolist() == [0, 1]


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalExploit:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("protocol", [2, 5])
def test_malicious_cifar_pickle_is_refused_without_running_code(tmp_path, protocol):
    folder = tmp_path / "evil"
    folder.mkdir()
    marker = tmp_path / "pwned"
    batch = {b"data": _Exploit(marker), b"labels": [0]}
    (folder / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=protocol))
    with pytest.raises(ConfigError) as info:
        load_dataset(folder)
    assert not marker.exists()
    target = "posix.system" if os.name == "posix" else "nt.system"
    assert str(info.value) == (
        f"{folder / 'data_batch_1'}: refused to unpickle: the file references {target} and a "
        "CIFAR-10 batch may only hold numpy arrays, lists, dicts, strings and numbers (the file "
        "may be malicious)."
    )
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": _EvalExploit()}, protocol))
    with pytest.raises(ConfigError, match=r"references (builtins|__builtin__)\.eval"):
        load_dataset(folder)


def test_flatten_images_and_split_keeps_image_values(tmp_path):
    write_mnist(tmp_path / "m", n_train=12, n_test=6)
    ds = load_dataset(tmp_path / "m")
    sp = split(ds, train_size=6, val_size=3, seed=0)
    assert sp.scaler is None
    assert torch.equal(sp.test.X, ds.X[sp.test_index])
    flat = load_dataset(tmp_path / "m", flatten=True)
    assert flat.X.shape == (18, 20) and flat.feature_names[:2] == ("c0_y0_x0", "c0_y0_x1")


class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes bytes and str as Python 2 ``str`` (SHORT_BINSTRING), as the real CIFAR files do."""

    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def save_py2_str(self, obj: bytes | str) -> None:
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def test_cifar_python2_pickle_with_legacy_numpy_names(tmp_path):
    # The published CIFAR-10 batches were written by Python 2 cPickle with numpy.core names.
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    data = np.random.default_rng(2).integers(0, 256, (3, 3072), dtype=np.uint8)
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump({"batch_label": "x", "labels": [3, 1, 4], "data": data})
    raw = buf.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray\n_reconstruct" in raw
    (folder / "data_batch_1").write_bytes(raw)
    ds = load_dataset(folder)
    assert ds.y.tolist() == [3, 1, 4]
    assert torch.allclose(ds.X.reshape(3, 3072), torch.from_numpy(data).float() / 255)
