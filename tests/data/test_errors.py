"""Every bad input to reglab.data gives one ConfigError line naming the problem and what works.

Each case writes a small (malformed) file in its real format and asserts the exact message.
"""

from __future__ import annotations

import gzip
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from reglab import ConfigError
from reglab.data import load_dataset, make_dataset, split
from reglab.data.files import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC
from tests.data.test_formats import (
    write_cifar_batch,
    write_csv,
    write_idx,
    write_mnist,
    write_png,
)

Case = Callable[[Path], tuple[Callable[[], Any], str]]
CASES: list[tuple[str, Case]] = []

BUILTINS = "breast_cancer, diabetes, digits, fashion_mnist, iris, mnist1d, rotten_tomatoes, wine"
WHAT_WORKS = (
    f"a built-in dataset ({BUILTINS}), a .csv/.tsv/.parquet/.jsonl/.npz file, or a folder (one "
    "sub-folder of images or of .txt files per class, MNIST IDX files, or CIFAR-10 batches)"
)


def case(fn: Case) -> Case:
    CASES.append((fn.__name__, fn))
    return fn


def _toy(n_per_class: tuple[int, ...] = (5, 5, 5), name: str = "toy"):
    y = np.concatenate([np.full(n, k) for k, n in enumerate(n_per_class)])
    X = np.arange(y.size * 2, dtype=np.float64).reshape(-1, 2)
    return make_dataset(X, y, name=name, class_names=[f"c{k}" for k in range(len(n_per_class))])


# --------------------------------------------------------------------------- names and paths


@case
def unknown_dataset_name(tmp):
    return lambda: load_dataset("mnist_fake"), (
        f"Unknown dataset 'mnist_fake'. Built-in datasets: {BUILTINS}; or give the path of a "
        "file or folder."
    )


@case
def missing_file(tmp):
    p = str(tmp / "nope.csv")
    return lambda: load_dataset(p, target="y"), (
        f"File or folder not found: {p!r}. Expected {WHAT_WORKS}."
    )


@case
def unsupported_suffix(tmp):
    p = tmp / "data.xlsx"
    p.write_bytes(b"PK")
    return lambda: load_dataset(p), (f"{p}: unsupported file type '.xlsx'. Expected {WHAT_WORKS}.")


@case
def bad_task_name(tmp):
    return lambda: load_dataset("iris", task="classify"), (
        "The 'task' parameter of load_dataset must be None or one of 'classification', "
        "'regression'. Got 'classify' instead."
    )


@case
def target_for_builtin(tmp):
    return lambda: load_dataset("iris", target="species"), (
        "The 'target' parameter of load_dataset must be None for the built-in dataset 'iris'. "
        "Got 'species' instead."
    )


@case
def wrong_task_for_builtin(tmp):
    return lambda: load_dataset("diabetes", task="classification"), (
        "The 'task' parameter of load_dataset must be None or 'regression' for 'diabetes'. "
        "Got 'classification' instead."
    )


@case
def bad_image_size(tmp):
    return lambda: load_dataset(tmp, image_size=(0, 4)), (
        "The 'image_size' parameter of load_dataset must be None or a pair of ints (H, W) >= 1. "
        "Got (0, 4) instead."
    )


@case
def bad_channels(tmp):
    return lambda: load_dataset(tmp, channels="cmyk"), (
        "The 'channels' parameter of load_dataset must be one of 'auto', 'grayscale', 'rgb'. "
        "Got 'cmyk' instead."
    )


@case
def image_size_on_csv(tmp):
    p = write_csv(tmp / "a.csv", ["x", "y"], [[1, 0], [2, 1]])
    return lambda: load_dataset(p, target="y", image_size=(8, 8)), (
        f"The 'image_size' parameter of load_dataset must be None for '{p}' (it applies to "
        "image folders). Got (8, 8) instead."
    )


@case
def target_for_npz(tmp):
    p = tmp / "a.npz"
    np.savez(p, X=np.ones((2, 2)), y=np.array([0, 1]))
    return lambda: load_dataset(p, target="y"), (
        f"The 'target' parameter of load_dataset must be None for '{p}' (only CSV/Parquet files "
        "have columns). Got 'y' instead."
    )


# --------------------------------------------------------------------------- CSV


@case
def csv_empty(tmp):
    p = tmp / "e.csv"
    p.write_text("")
    return lambda: load_dataset(p, target="y"), (
        f"{p}: the CSV file is empty; it needs a header row with the column names, then one "
        "row per sample."
    )


@case
def csv_header_only(tmp):
    p = write_csv(tmp / "h.csv", ["x", "y"], [])
    return lambda: load_dataset(p, target="y"), (
        f"{p}: the CSV file has a header but no data rows; it needs one row per sample."
    )


@case
def csv_ragged_row(tmp):
    p = tmp / "r.csv"
    p.write_text("a,b,y\n1,2,0\n3,4\n5,6,1\n")
    return lambda: load_dataset(p, target="y"), (
        f"{p}: malformed CSV: line 3 has 2 fields but the header has 3; every row needs one "
        "value per column."
    )


@case
def csv_unterminated_quote(tmp):
    p = tmp / "q.csv"
    p.write_text('a,y\n1,"abc\n')
    return lambda: load_dataset(p, target="y"), (
        f"{p}: malformed CSV at line 2: unexpected end of data; check the quoting and the "
        "delimiter."
    )


@case
def csv_duplicate_columns(tmp):
    p = write_csv(tmp / "d.csv", ["a", "a", "y"], [[1, 2, 0]])
    return lambda: load_dataset(p, target="y"), (
        f"{p}: malformed CSV: duplicate column name(s) 'a'; column names must be unique."
    )


@case
def csv_not_utf8(tmp):
    p = tmp / "b.csv"
    p.write_bytes(b"a,y\n\xff\xfe,1\n")
    return lambda: load_dataset(p, target="y"), (
        f"{p}: not a UTF-8 text file; a CSV file must be UTF-8 text."
    )


@case
def csv_infinite_and_missing_label(tmp):
    p = write_csv(tmp / "i.csv", ["a", "y"], [["inf", 0], [1, ""], [2, 1]])
    return lambda: load_dataset(p, target="y"), (
        f"{p}: missing, NaN or infinite values in the target column 'y' (1 row); 1 row "
        "affected in all. Drop those rows before loading (missing feature values are imputed)."
    )


@case
def csv_missing_target_column(tmp):
    p = write_csv(tmp / "t.csv", ["a", "b", "label"], [[1, 2, 0]])
    return lambda: load_dataset(p, target="class"), (
        f"{p}: no target column 'class'. Available columns: 'a', 'b', 'label'."
    )


@case
def csv_no_target_given(tmp):
    p = write_csv(tmp / "t.csv", ["a", "label"], [[1, 0]])
    return lambda: load_dataset(p), (
        f"{p}: name the label column with target=COLUMN (CLI: --target). Available columns: "
        "'a', 'label'."
    )


@case
def csv_only_target(tmp):
    p = write_csv(tmp / "o.csv", ["y"], [[0], [1]])
    return lambda: load_dataset(p, target="y"), (
        f"{p}: the only column is the target 'y'; a dataset needs at least one feature column."
    )


@case
def csv_classification_on_fractions(tmp):
    p = write_csv(tmp / "f.csv", ["x", "y"], [[1, 0.5], [2, 1.0]])
    return lambda: load_dataset(p, target="y", task="classification"), (
        f"{p}: task='classification' needs integer or string labels, but the target has "
        "non-integer values such as 0.5; use task='regression'."
    )


@case
def csv_regression_on_strings(tmp):
    p = write_csv(tmp / "s.csv", ["x", "y"], [[1, "cat"], [2, "dog"]])
    return lambda: load_dataset(p, target="y", task="regression"), (
        f"{p}: task='regression' needs a numeric target. Got values of type object "
        "(e.g. 'cat'); use task='classification'."
    )


# --------------------------------------------------------------------------- Parquet


@case
def parquet_corrupt(tmp):
    p = tmp / "c.parquet"
    p.write_bytes(b"this is not parquet at all")
    return lambda: load_dataset(p, target="y"), None


# --------------------------------------------------------------------------- NPZ


@case
def npz_without_y(tmp):
    p = tmp / "a.npz"
    np.savez(p, X=np.ones((3, 2)), labels=np.zeros(3))
    return lambda: load_dataset(p), (
        f"{p}: the archive has no array 'y' (targets); it needs arrays 'X' and 'y'. Found: "
        "'X', 'labels'."
    )


@case
def npz_without_x(tmp):
    p = tmp / "b.npz"
    np.savez(p, features=np.ones((3, 2)), y=np.zeros(3))
    return lambda: load_dataset(p), (
        f"{p}: the archive has no array 'X' (features); it needs arrays 'X' and 'y'. Found: "
        "'features', 'y'."
    )


@case
def npz_mismatched_lengths(tmp):
    p = tmp / "m.npz"
    np.savez(p, X=np.ones((5, 2)), y=np.zeros(4))
    return lambda: load_dataset(p), (
        f"{p}: 'X' has 5 samples but 'y' has 4; they must have the same length."
    )


@case
def npz_not_an_archive(tmp):
    p = tmp / "g.npz"
    p.write_bytes(b"garbage bytes, not a zip")
    return lambda: load_dataset(p), (
        f"{p}: not an .npz archive (it is not a zip archive); save one with "
        "numpy.savez(path, X=features, y=targets)."
    )


@case
def npz_is_a_single_npy(tmp):
    p = tmp / "s.npz"
    with p.open("wb") as fh:
        np.save(fh, np.ones(3))
    return lambda: load_dataset(p), (
        f"{p}: not an .npz archive (it is a single .npy array); save one with "
        "numpy.savez(path, X=features, y=targets)."
    )


@case
def npz_truncated_zip(tmp):
    p = tmp / "t.npz"
    np.savez(p, X=np.ones((50, 4)), y=np.zeros(50))
    p.write_bytes(p.read_bytes()[:300])
    return lambda: load_dataset(p), None


@case
def npz_object_array(tmp):
    p = tmp / "o.npz"
    np.savez(p, X=np.array([[1, None]], dtype=object), y=np.array([0]))
    return lambda: load_dataset(p), None


@case
def npz_nan_in_x(tmp):
    p = tmp / "nan.npz"
    X = np.ones((4, 2))
    X[1, 0] = np.nan
    X[3] = np.inf
    np.savez(p, X=X, y=np.array([0, 1, 0, 1]))
    return lambda: load_dataset(p), (
        f"{p}: 'X' has 3 NaN or infinite values in 2 rows; fill or drop them before loading."
    )


@case
def npz_bad_rank(tmp):
    p = tmp / "r.npz"
    np.savez(p, X=np.ones((2, 1, 1, 1, 1)), y=np.array([0, 1]))
    return lambda: load_dataset(p), (
        f"{p}: 'X' must have shape (N, F) for tabular data or (N, H, W) / (N, C, H, W) for "
        "images. Got shape (2, 1, 1, 1, 1) instead."
    )


@case
def npz_y_2d(tmp):
    p = tmp / "y2.npz"
    np.savez(p, X=np.ones((2, 3)), y=np.ones((2, 2)))
    return lambda: load_dataset(p), (
        f"{p}: 'y' must have shape (N,), one target per sample. Got shape (2, 2) instead."
    )


@case
def npz_fractional_labels_with_class_names(tmp):
    p = tmp / "f.npz"
    np.savez(p, X=np.ones((2, 3)), y=np.array([0.0, 1.5]), class_names=np.array(["a", "b"]))
    return lambda: load_dataset(p), (
        f"{p}: labels must be integer class indices to match the class names. Got values such "
        "as 1.5."
    )


@case
def npz_labels_outside_class_names(tmp):
    p = tmp / "o.npz"
    np.savez(p, X=np.ones((2, 3)), y=np.array([0, 2]), class_names=np.array(["a", "b"]))
    return lambda: load_dataset(p), (
        f"{p}: labels must lie in [0, 2) to match the 2 class names. Got labels in [0, 2]."
    )


# --------------------------------------------------------------------------- image folder


@case
def image_folder_without_classes(tmp):
    d = tmp / "flat"
    write_png(d / "1.png", np.zeros((4, 4), np.uint8))
    return lambda: load_dataset(d), (
        f"{d}: no class sub-folders; an image folder needs one sub-folder per class holding "
        "its images (e.g. cats/1.png, dogs/2.png)."
    )


@case
def image_folder_unreadable_image(tmp):
    d = tmp / "imgs"
    write_png(d / "a" / "ok.png", np.zeros((4, 4), np.uint8))
    (d / "b").mkdir()
    (d / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return lambda: load_dataset(d), None


@case
def image_folder_empty_class(tmp):
    d = tmp / "imgs"
    write_png(d / "a" / "ok.png", np.zeros((4, 4), np.uint8))
    (d / "b").mkdir()
    return lambda: load_dataset(d), (
        f"{d}: class folder 'b' has no images (.png, .jpg, .jpeg, .bmp, .gif, .tif, .tiff, "
        ".webp); add images or remove the folder."
    )


@case
def image_folder_mixed_sizes(tmp):
    d = tmp / "imgs"
    write_png(d / "a" / "1.png", np.zeros((4, 4), np.uint8))
    write_png(d / "b" / "2.png", np.zeros((5, 3), np.uint8))
    return lambda: load_dataset(d), (
        f"{d}: images differ in size: 'a/1.png' is 4x4 (HxW) but 'b/2.png' is 5x3; pass "
        "image_size=(H, W) (CLI: --image-size) to resize them all."
    )


# --------------------------------------------------------------------------- MNIST IDX


@case
def idx_bad_magic(tmp):
    d = tmp / "mnist"
    write_mnist(d)
    write_idx(d / "train-images-idx3-ubyte", np.zeros((6, 5, 4)), 0x00000801)
    f = d / "train-images-idx3-ubyte"
    return lambda: load_dataset(d), (
        f"{f}: not an IDX image file: magic number 0x00000801, expected 0x00000803."
    )


@case
def idx_truncated_data(tmp):
    d = tmp / "mnist"
    write_mnist(d)
    f = d / "t10k-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-7])
    return lambda: load_dataset(d), (
        f"{f}: truncated or corrupt IDX image file: the header declares 4 x 5 x 4 (80 bytes of "
        "data) but the file holds 73."
    )


@case
def idx_truncated_header(tmp):
    d = tmp / "mnist"
    write_mnist(d)
    f = d / "train-labels-idx1-ubyte"
    f.write_bytes(f.read_bytes()[:6])
    return lambda: load_dataset(d), (
        f"{f}: truncated IDX label file: the header needs 8 bytes but the file has 6."
    )


@case
def idx_truncated_gzip(tmp):
    d = tmp / "mnist"
    write_mnist(d, gz=True)
    f = d / "train-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:20])
    return lambda: load_dataset(d), None


@case
def idx_missing_labels(tmp):
    d = tmp / "mnist"
    write_mnist(d)
    (d / "t10k-labels-idx1-ubyte").unlink()
    return lambda: load_dataset(d), (
        f"{d}: 't10k-images-idx3-ubyte' has no label file; expected t10k-labels-idx1-ubyte "
        "(or .gz) beside it."
    )


@case
def idx_count_mismatch(tmp):
    d = tmp / "mnist"
    write_mnist(d)
    write_idx(d / "train-labels-idx1-ubyte", np.zeros(5), IDX_LABELS_MAGIC)
    return lambda: load_dataset(d), (
        f"{d}: 'train-images-idx3-ubyte' holds 6 images but 'train-labels-idx1-ubyte' holds "
        "5 labels; they must match."
    )


# --------------------------------------------------------------------------- CIFAR-10


@case
def cifar_not_a_dict(tmp):
    d = tmp / "cifar"
    d.mkdir()
    (d / "data_batch_1").write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    return lambda: load_dataset(d), (
        f"{d / 'data_batch_1'}: not a CIFAR-10 batch: expected a dict with keys b'data' and "
        "b'labels'. Got list instead."
    )


@case
def cifar_missing_labels(tmp):
    d = tmp / "cifar"
    d.mkdir()
    (d / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}))
    return lambda: load_dataset(d), (
        f"{d / 'test_batch'}: not a CIFAR-10 batch: no key b'labels'; expected b'data' and "
        "b'labels'. Found: b'data'."
    )


@case
def cifar_wrong_shape(tmp):
    d = tmp / "cifar"
    d.mkdir()
    write_cifar_batch(d / "data_batch_1", np.zeros((2, 1024), np.uint8), [0, 1])
    return lambda: load_dataset(d), (
        f"{d / 'data_batch_1'}: not a CIFAR-10 batch: b'data' must be an array of shape "
        "(N, 3072) (3x32x32 pixels per row). Got (2, 1024) instead."
    )


@case
def cifar_label_count(tmp):
    d = tmp / "cifar"
    d.mkdir()
    write_cifar_batch(d / "data_batch_1", np.zeros((3, 3072), np.uint8), [0, 1])
    return lambda: load_dataset(d), (
        f"{d / 'data_batch_1'}: not a CIFAR-10 batch: 3 images but 2 labels; they must match."
    )


@case
def cifar_truncated_pickle(tmp):
    d = tmp / "cifar"
    d.mkdir()
    write_cifar_batch(d / "data_batch_1", np.zeros((3, 3072), np.uint8), [0, 1, 2])
    f = d / "data_batch_1"
    f.write_bytes(f.read_bytes()[:500])
    return lambda: load_dataset(d), None


# --------------------------------------------------------------------------- split


@case
def split_train_size_zero(tmp):
    return lambda: split(_toy(), train_size=0), (
        "The 'train_size' parameter of split must be an int in [1, inf) or a float in (0, 1). "
        "Got 0 instead."
    )


@case
def split_train_size_one_float(tmp):
    return lambda: split(_toy(), train_size=1.0), (
        "The 'train_size' parameter of split must be an int in [1, inf) or a float in (0, 1). "
        "Got 1.0 instead."
    )


@case
def split_train_size_bool(tmp):
    return lambda: split(_toy(), train_size=True), (
        "The 'train_size' parameter of split must be an int in [1, inf) or a float in (0, 1). "
        "Got True instead."
    )


@case
def split_val_size_negative(tmp):
    return lambda: split(_toy(), val_size=-1), (
        "The 'val_size' parameter of split must be an int in [0, inf) or a float in [0, 1). "
        "Got -1 instead."
    )


@case
def split_train_too_large(tmp):
    return lambda: split(_toy(), train_size=15, val_size=0), (
        "The 'train_size' parameter of split must be less than the 15 samples of 'toy' (the "
        "test split needs at least one). Got 15 instead."
    )


@case
def split_val_too_large(tmp):
    return lambda: split(_toy(), train_size=0.6, val_size=0.4), (
        "The 'val_size' parameter of split must be at most 5 samples when train_size is 9 of "
        "the 15 samples of 'toy' (the test split needs at least one). Got 0.4 instead."
    )


@case
def split_class_with_one_sample(tmp):
    return lambda: split(_toy((5, 1, 5)), train_size=5, val_size=2), (
        "Cannot stratify 'toy': class 'c1' has only 1 sample; a stratified split needs at least "
        "2 per class (one to train on, one to evaluate). Remove the class or pass stratify=False."
    )


@case
def split_fewer_train_than_classes(tmp):
    return lambda: split(_toy(), train_size=2, val_size=2), (
        "The 'train_size' parameter of split must be at least 3 (one sample per class) for a "
        "stratified split of 'toy'. Got 2 instead."
    )


@case
def split_stratify_regression(tmp):
    ds = make_dataset(np.ones((10, 2)), np.linspace(0, 1, 10), name="r")
    return lambda: split(ds, stratify=True), (
        "The 'stratify' parameter of split must be False or None for a regression dataset. "
        "Got True instead."
    )


@case
def split_scale_target_classification(tmp):
    return lambda: split(_toy(), scale_target=True), (
        "The 'scale_target' parameter of split must be False for a classification dataset. "
        "Got True instead."
    )


@case
def split_seed_and_generator(tmp):
    return lambda: split(_toy(), seed=1, generator=torch.Generator()), (
        "The 'seed' parameter of split must be None when a generator is given. Got 1 instead."
    )


@case
def split_not_a_dataset(tmp):
    return lambda: split("digits"), (
        "The 'dataset' parameter of split must be a reglab.data.Dataset. Got 'digits' instead."
    )


# --------------------------------------------------------------------------- mixed folders


MIXED = (
    "; a folder must hold one format: MNIST IDX files, CIFAR-10 batches, or one sub-folder of "
    "images per class."
)


@case
def folder_mixes_idx_and_cifar(tmp):
    d = tmp / "mixed"
    write_mnist(d)
    write_cifar_batch(d / "data_batch_1", np.zeros((2, 3072), np.uint8), [0, 1])
    return lambda: load_dataset(d), (
        f"{d}: the folder mixes formats: MNIST IDX files ('train-images-idx3-ubyte') and "
        f"CIFAR-10 batches ('data_batch_1'){MIXED}"
    )


@case
def folder_mixes_images_and_idx(tmp):
    d = tmp / "mixed"
    write_mnist(d)
    write_png(d / "cats" / "1.png", np.zeros((4, 4), np.uint8))
    return lambda: load_dataset(d), (
        f"{d}: the folder mixes formats: MNIST IDX files ('train-images-idx3-ubyte') and "
        f"image files ('cats/1.png'){MIXED}"
    )


@case
def cifar_mixed_shapes(tmp):
    d = tmp / "cifar"
    d.mkdir()
    write_cifar_batch(d / "data_batch_1", np.zeros((2, 3072), np.uint8), [0, 1])
    write_cifar_batch(d / "data_batch_2", np.zeros((2, 1024), np.uint8), [0, 1])
    return lambda: load_dataset(d), (
        f"{d / 'data_batch_2'}: CIFAR-10 batches of mixed shapes: rows of 1024 values here but "
        "3072 in 'data_batch_1'; every batch must hold rows of 3072 values (3x32x32 pixels)."
    )


PARQUET_TYPES = (
    "which cannot be a feature or target; valid column types: integer, float, decimal, boolean, "
    "string, dictionary (categorical), date/time."
)


@case
def parquet_list_column(tmp):
    p = tmp / "l.parquet"
    pq.write_table(pa.table({"tags": [["a"], ["b", "c"]], "y": [0, 1]}), p)
    return lambda: load_dataset(p, target="y"), (
        f"{p}: column 'tags' has the Parquet type list<element: string>, {PARQUET_TYPES}"
    )


@case
def parquet_struct_column(tmp):
    p = tmp / "s.parquet"
    pq.write_table(pa.table({"pt": [{"x": 1}, {"x": 2}], "y": [0, 1]}), p)
    return lambda: load_dataset(p, target="y"), (
        f"{p}: column 'pt' has the Parquet type struct<x: int64>, {PARQUET_TYPES}"
    )


@case
def split_official_test_without_one(tmp):
    return lambda: split(load_dataset("iris"), train_size=50, val_size=20, test="official"), (
        "The 'test' parameter of split must be 'random' or None for 'iris', which has no "
        "official test split. Got 'official' instead."
    )


@case
def split_unknown_test_source(tmp):
    return lambda: split(load_dataset("iris"), test="holdout"), (
        "The 'test' parameter of split must be None or one of 'official', 'random'. Got "
        "'holdout' instead."
    )


@case
def split_official_pool_too_small(tmp):
    d = tmp / "m"
    write_mnist(d, n_train=6, n_test=4)
    return lambda: split(load_dataset(d), train_size=4, val_size=3), (
        "The 'val_size' parameter of split must be at most 2 samples when train_size is 4 of the "
        "6 rows of 'm' outside its official test split. Got 3 instead."
    )


def _without_fashion_mnist(tmp: Path) -> Any:
    import reglab.data.builtin as builtin

    saved = builtin.FASHION_MNIST_DIR
    builtin.FASHION_MNIST_DIR = tmp / "no-such-folder"
    try:
        return load_dataset("fashion_mnist")
    finally:
        builtin.FASHION_MNIST_DIR = saved


@case
def builtin_fashion_mnist_not_installed(tmp):
    return lambda: _without_fashion_mnist(tmp), (
        "fashion_mnist: Debian's dataset-fashion-mnist is not installed (no IDX files in "
        f"{tmp / 'no-such-folder'}); install it with: apt-get install dataset-fashion-mnist"
    )


def _without_mnist1d() -> Any:
    import sys

    import reglab.data.builtin as builtin

    saved_cache, saved_module = dict(builtin._MNIST1D_CACHE), sys.modules.get("mnist1d.data")
    builtin._MNIST1D_CACHE.clear()
    sys.modules["mnist1d.data"] = None  # type: ignore[assignment]  # import now fails
    try:
        return load_dataset("mnist1d")
    finally:
        builtin._MNIST1D_CACHE.update(saved_cache)
        if saved_module is None:
            del sys.modules["mnist1d.data"]
        else:
            sys.modules["mnist1d.data"] = saved_module


@case
def builtin_mnist1d_not_installed(tmp):
    return _without_mnist1d, (
        "mnist1d: the mnist1d package is not installed (mnist1d.data); install it with: "
        "pip install 'reglab[mnist1d]'"
    )


# Messages that embed a library's own wording (zip, PIL, pickle, gzip, pyarrow) are checked by
# their stable prefix and suffix instead of word for word.
LOOSE = {
    "parquet_corrupt": (": not a readable Parquet file (", ")."),
    "npz_truncated_zip": (
        ": not a readable .npz archive (",
        "); save one with numpy.savez(path, X=features, y=targets).",
    ),
    "npz_object_array": (
        ": an array holds Python objects (",
        "); reglab loads plain numeric (and string) arrays only.",
    ),
    "image_folder_unreadable_image": (
        ": cannot read image 'b/broken.png' (",
        "); remove it or replace it with a valid image.",
    ),
    "idx_truncated_gzip": (": truncated or corrupt gzip file (", ")."),
    "cifar_truncated_pickle": (
        ": not a valid CIFAR-10 batch: truncated or corrupt pickle (",
        ").",
    ),
}


@pytest.mark.parametrize("make", [fn for _, fn in CASES], ids=[name for name, _ in CASES])
def test_bad_input_message(make, tmp_path, request):
    name = request.node.callspec.id
    thunk, expected = make(tmp_path)
    with pytest.raises(ConfigError) as info:
        thunk()
    message = str(info.value)
    assert "\n" not in message
    assert isinstance(info.value, ValueError)
    if expected is None:
        head, tail = LOOSE[name]
        assert head in message and message.endswith(tail), message
    else:
        assert message == expected


def test_case_count():
    assert len(CASES) >= 50


def test_gzip_helper_is_real_gzip(tmp_path):
    # the truncated-gzip case above must start from a valid file, or it proves nothing
    write_mnist(tmp_path / "m", gz=True)
    with gzip.open(tmp_path / "m" / "train-images-idx3-ubyte.gz") as fh:
        assert int.from_bytes(fh.read(4), "big") == IDX_IMAGES_MAGIC
