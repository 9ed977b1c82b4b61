"""Raw tables: string columns and missing values kept at load, encoded on the training rows.

The files are real CSV (csv module) and Parquet (pyarrow) files. Three tests here replace
error cases that used to refuse such tables (``csv_nan``, ``csv_non_numeric_feature``,
``parquet_null``): the same files now load and are encoded.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from reglab import ConfigError
from reglab.data import TableEncoder, load_dataset, split
from reglab.data.encode import MISSING_CATEGORY
from tests.data.test_formats import write_csv

COLORS = ("red", "green", "blue")


def _mixed_rows(n: int = 40) -> list[list[object]]:
    """size (numeric, some missing), color (strings, some missing), shape (one rare value),
    const (one value), label (2 classes)."""
    rows: list[list[object]] = []
    for i in range(n):
        size = "" if i % 7 == 3 else round(1.5 * i, 2)
        color = "NA" if i % 9 == 4 else COLORS[i % 3]
        shape = "hexagon" if i == n - 1 else ("square" if i % 2 else "circle")
        rows.append([size, color, shape, 5, i % 2])
    return rows


HEADER = ["size", "color", "shape", "const", "label"]


def _parquet_from_rows(path, rows):
    def cell(v):
        return None if v in ("", "NA") else v

    columns = {h: [cell(r[j]) for r in rows] for j, h in enumerate(HEADER)}
    columns["size"] = [None if v is None else float(v) for v in columns["size"]]
    pq.write_table(pa.table(columns), path)
    return path


def _split_with_rare_row_in_test(ds, rare_row: int):
    for seed in range(50):
        sp = split(ds, train_size=20, val_size=8, seed=seed)
        if rare_row in sp.test_index.tolist():
            return sp
    raise AssertionError("no seed put the rare row in the test split")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_mixed_table_is_kept_raw_then_encoded_on_train_rows(tmp_path, fmt):
    rows = _mixed_rows()
    if fmt == "csv":
        path = write_csv(tmp_path / "mixed.csv", HEADER, rows)
    else:
        path = _parquet_from_rows(tmp_path / "mixed.parquet", rows)
    ds = load_dataset(path, target="label")
    assert ds.needs_encoding and ds.feature_names == ("size", "color", "shape", "const")
    assert ds.categories is not None and ds.categories[0] is None
    assert ds.categories[1] == ("blue", "green", "red")
    assert ds.categories[2] == ("circle", "hexagon", "square")
    with pytest.raises(ConfigError, match=r"call reglab\.data\.split"):
        _ = ds.X

    sp = _split_with_rare_row_in_test(ds, rare_row=len(rows) - 1)
    enc = sp.encoder
    assert enc is not None
    train_colors = {
        COLORS[i % 3] if i % 9 != 4 else MISSING_CATEGORY for i in sp.train_index.tolist()
    }
    color_cols = [f"color={c}" for c in ("blue", "green", "red") if c in train_colors]
    if MISSING_CATEGORY in train_colors:
        color_cols.append(f"color={MISSING_CATEGORY}")
    assert enc.feature_names == (
        "size",
        "size_missing",
        *color_cols,
        "shape=circle",
        "shape=square",
        "const",
    )
    # the median comes from the training rows only
    train_sizes = [1.5 * i for i in sp.train_index.tolist() if i % 7 != 3]
    info = {d["column"]: d for d in sp.encoding}
    assert info["size"]["imputed"] == pytest.approx(float(np.median(train_sizes)))
    assert info["size"]["indicator"] is True and info["size"]["kind"] == "numeric"
    assert info["shape"] == {
        "column": "shape",
        "kind": "one-hot",
        "categories": 2,
        "missing_in_train": 0,
        "imputed": None,
        "indicator": False,
        "constant": False,
        "outputs": 2,
    }
    assert info["const"]["constant"] is True and info["const"]["outputs"] == 1

    # the unseen "hexagon" is all zeros in the one-hot block (before standardization too)
    raw_test = ds.data[sp.test_index]
    codes = enc.transform(raw_test)
    rare = sp.test_index.tolist().index(len(rows) - 1)
    shape_at = enc.feature_names.index("shape=circle")
    assert codes[rare, shape_at : shape_at + 2].tolist() == [0.0, 0.0]
    # a missing size in the test rows gets the training median and the indicator
    missing_test = [k for k, i in enumerate(sp.test_index.tolist()) if i % 7 == 3]
    assert missing_test
    assert codes[missing_test[0], 0].item() == pytest.approx(info["size"]["imputed"])
    assert codes[missing_test[0], 1].item() == 1.0

    # then standardized with training statistics: finite, mean 0 on the training split
    assert sp.train.X.shape == (20, len(enc.feature_names)) and sp.input_shape == (
        len(enc.feature_names),
    )
    assert torch.isfinite(sp.test.X).all()
    assert sp.train.X.mean(0).abs().max() < 1e-5
    assert sp.train.feature_names == enc.feature_names and not sp.train.needs_encoding
    assert sp.describe() == {
        "sizes": {"train": 20, "val": 8, "test": 12},
        "test_source": "random",
        "encoding": sp.encoding,
    }
    json.dumps(sp.describe())  # JSON-ready for summary.json


def test_csv_and_parquet_encode_the_same(tmp_path):
    rows = _mixed_rows()
    a = load_dataset(write_csv(tmp_path / "m.csv", HEADER, rows), target="label")
    b = load_dataset(_parquet_from_rows(tmp_path / "m.parquet", rows), target="label")
    sa, sb = (
        split(a, train_size=20, val_size=8, seed=3),
        split(b, train_size=20, val_size=8, seed=3),
    )
    assert torch.equal(sa.train_index, sb.train_index)
    assert sa.encoding == sb.encoding
    assert torch.allclose(sa.test.X, sb.test.X)


def test_many_categories_become_one_ordinal_column_with_a_reserved_unseen_code():
    train = torch.tensor([[float(i % 25)] for i in range(50)])
    vocab = tuple(f"c{i:02d}" for i in range(30))
    enc = TableEncoder.fit(train, (vocab,), ("city",))
    assert enc.feature_names == ("city",)
    assert enc.describe()[0]["kind"] == "ordinal" and enc.describe()[0]["categories"] == 25
    out = enc.transform(torch.tensor([[0.0], [24.0], [27.0], [math.nan]]))
    assert out[:, 0].tolist() == [1.0, 25.0, 0.0, 0.0]  # 27 and missing were not in train


def test_at_most_twenty_categories_stay_one_hot():
    train = torch.tensor([[float(i % 20)] for i in range(40)])
    enc = TableEncoder.fit(train, (tuple(f"k{i:02d}" for i in range(20)),), ("k",))
    assert len(enc.feature_names) == 20 and enc.describe()[0]["kind"] == "one-hot"
    assert enc.transform(torch.tensor([[3.0]]))[0].tolist() == [float(i == 3) for i in range(20)]


def test_numeric_column_missing_only_outside_train_gets_no_indicator():
    enc = TableEncoder.fit(torch.tensor([[1.0], [3.0], [10.0]]), (None,), ("x",))
    assert enc.feature_names == ("x",)
    assert enc.transform(torch.tensor([[math.nan]])).tolist() == [[3.0]]
    assert enc.describe()[0]["indicator"] is False


def test_all_missing_training_column_is_imputed_with_zero():
    enc = TableEncoder.fit(torch.tensor([[math.nan], [math.nan]]), (None,), ("x",))
    assert enc.feature_names == ("x", "x_missing")
    assert enc.transform(torch.tensor([[math.nan], [2.0]])).tolist() == [[0.0, 1.0], [2.0, 0.0]]
    assert enc.describe()[0]["constant"] is True


# --------------------------------------------------------------------------- formerly refused


def test_csv_missing_values_are_imputed_with_indicators(tmp_path):
    # was the error case csv_nan ("missing, NaN or infinite values ... Fill or drop them")
    rows = [[1, "", 0], ["nan", 2, 1], [3, 4, 0], ["NaN", "NA", 1], [5, 6, 0]] * 2
    p = write_csv(tmp_path / "n.csv", ["a", "b", "y"], rows)
    ds = load_dataset(p, target="y")
    assert ds.needs_encoding and ds.categories == (None, None)
    sp = split(ds, train_size=6, val_size=2, seed=0)
    info = {d["column"]: d for d in sp.encoding}
    assert info["a"]["missing_in_train"] + info["b"]["missing_in_train"] > 0
    for col in ("a", "b"):
        train_vals = [
            float(rows[i][("a", "b").index(col)])
            for i in sp.train_index.tolist()
            if str(rows[i][("a", "b").index(col)]).lower() not in ("", "nan", "na")
        ]
        assert info[col]["imputed"] == pytest.approx(float(np.median(train_vals)))
        assert info[col]["indicator"] == (info[col]["missing_in_train"] > 0)
    assert torch.isfinite(sp.train.X).all() and torch.isfinite(sp.test.X).all()


def test_csv_string_feature_is_one_hot_encoded(tmp_path):
    # was the error case csv_non_numeric_feature ("... are not numeric ...; encode them")
    rows = [[i, ("red", "blue")[i % 2], i % 2] for i in range(12)]
    p = write_csv(tmp_path / "c.csv", ["size", "color", "y"], rows)
    sp = split(load_dataset(p, target="y"), train_size=6, val_size=2, seed=0)
    assert sp.encoder is not None
    assert sp.encoder.feature_names == ("size", "color=blue", "color=red")
    raw = sp.encoder.transform(load_dataset(p, target="y").data)
    assert raw[:, 1].tolist() == [float(i % 2 == 1) for i in range(12)]
    assert raw[:, 2].tolist() == [float(i % 2 == 0) for i in range(12)]


def test_parquet_null_is_imputed(tmp_path):
    # was the error case parquet_null ("missing, NaN or infinite values in column(s) 'x'")
    p = tmp_path / "n.parquet"
    xs = [1.0, None, 3.0, 4.0, None, 6.0, 7.0, 8.0]
    pq.write_table(pa.table({"x": xs, "y": ["a", "b"] * 4}), p)
    ds = load_dataset(p, target="y")
    assert ds.needs_encoding and ds.class_names == ("a", "b")
    sp = split(ds, train_size=4, val_size=2, seed=1)
    info = sp.encoding[0]
    present = [xs[i] for i in sp.train_index.tolist() if xs[i] is not None]
    assert info["imputed"] == pytest.approx(float(np.median(present)))


def test_complete_numeric_table_is_not_encoded(tmp_path):
    p = write_csv(tmp_path / "ok.csv", ["a", "y"], [[i, i % 2] for i in range(10)])
    ds = load_dataset(p, target="y")
    assert not ds.needs_encoding
    sp = split(ds, train_size=5, val_size=2)
    assert sp.encoder is None and sp.encoding == []
