"""A new user's own table through the real command line (issue 21, items 2 and 3).

Each test writes its CSV into a temporary folder and runs ``python -m reglab.cli study`` on it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

import reglab.data as rd
from reglab.errors import ConfigError
from tests.helpers import run_reglab

SHORT = ["--recipes", "baseline", "--seeds", "1", "--epochs", "2", "--jobs", "1", "--no-progress"]


def _reglab(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_reglab(args, cwd)


def _write(path: Path, labels: list[str], constant: bool = False) -> None:
    rows = ["a,b,c,label"] if constant else ["a,b,label"]
    for i, label in enumerate(labels):
        cells = [f"{(i * 7) % 11}", f"{(i * 3) % 5}.5"] + (["4"] if constant else [])
        rows.append(",".join([*cells, label]))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_one_class_target_is_one_line_and_exit_2(tmp_path: Path) -> None:
    _write(tmp_path / "one.csv", ["yes"] * 150)
    proc = _reglab(
        ["study", "--data", "one.csv", "--target", "label", *SHORT, "--out", "o"], tmp_path
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        "reglab: error: Cannot train a classifier on 'one': its training split holds 1 class "
        "('yes': 75 rows); a classification target needs at least two classes in the training "
        "split. Rows per class in the data: 'yes': 150."
    ]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "o" / "results.csv").exists()


def test_training_split_with_one_class_names_the_rows_of_each(tmp_path: Path) -> None:
    _write(tmp_path / "two.csv", ["no"] * 3 + ["yes"] * 57)
    ds = rd.load_dataset(str(tmp_path / "two.csv"), target="label")
    # Training rows chosen by hand (as an unstratified split may draw them): both 'yes'.
    with pytest.raises(ConfigError) as info:
        rd.split_rows(ds, torch.tensor([10, 11]), torch.tensor([0, 12]), torch.tensor([1, 2, 13]))
    assert str(info.value) == (
        "Cannot train a classifier on 'two': its training split holds 1 class ('yes': 2 rows); "
        "a classification target needs at least two classes in the training split. Rows per "
        "class in the data: 'no': 3, 'yes': 57."
    )


def test_constant_column_is_marked_in_encoding_and_summary(tmp_path: Path) -> None:
    _write(tmp_path / "const.csv", ["no", "yes", "yes"] * 40, constant=True)
    sp = rd.split(rd.load_dataset(str(tmp_path / "const.csv"), target="label"), seed=0)
    assert [(e["column"], e["constant"]) for e in sp.encoding] == [
        ("a", False),
        ("b", False),
        ("c", True),
    ]
    assert sp.train.feature_names == ("a", "b", "c")
    assert torch.all(sp.train.X[:, 2] == 0)  # kept, standardized to 0

    proc = _reglab(
        ["study", "--data", "const.csv", "--target", "label", *SHORT, "--out", "o"], tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert [e["column"] for e in summary["encoding"] if e["constant"]] == ["c"]
    assert "Encoded columns" in (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
