"""``reglab study --train-sizes``: a sweep end to end on digits, and its one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from reglab.cli import main

SWEEP = ["study", "--data", "digits", "--train-sizes", "20,40", "--epochs", "1", "--seeds", "1"]
SWEEP += ["--recipes", "baseline", "--jobs", "1", "--no-progress"]


def test_train_sizes_sweep_end_to_end(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "s"
    assert main([*SWEEP, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["n", "recipe"]
    assert [line.split()[:2] for line in lines[2:4]] == [["20", "baseline"], ["40", "baseline"]]
    assert "2/2 cells in" in text
    with (out / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["recipe"], r["seed"], r["train_size"]) for r in rows] == [
        ("baseline", "0", "20"),
        ("baseline", "0", "40"),
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert [b["train_size"] for b in summary["by_train_size"]] == [20, 40]
    assert summary["config"]["train_sizes"] == [20, 40]
    assert 'alt="Training-size sweep"' in (out / "report.html").read_text()
    # The same command again resumes: nothing runs, the sizes are the stored ones.
    assert main([*SWEEP, "--out", str(out)]) == 0
    assert "2/2 cells in" in capsys.readouterr().out
    assert main(["study", "--resume", "--out", str(out), "--no-progress"]) == 0
    assert "2/2 cells in" in capsys.readouterr().out


BAD = [
    (
        ["--train-sizes", "20,40", "--train-size", "30"],
        "reglab: error: The '--train-size' and '--train-sizes' options of reglab study are "
        "exclusive: give one. Got --train-size 30 and --train-sizes 20,40 instead.",
    ),
    (
        ["--train-sizes", "20,abc"],
        "reglab: error: The '--train-sizes' option of reglab study must be comma-separated "
        "counts (e.g. 500,2000,5000). Got '20,abc' instead.",
    ),
    (
        ["--train-sizes", "0.25,0.5"],
        "reglab: error: The '--train-sizes' option of reglab study must be comma-separated "
        "counts (e.g. 500,2000,5000). Got '0.25,0.5' instead.",
    ),
    (
        ["--train-sizes", "20,5000"],
        "reglab: error: The 'train_size' parameter of split must be less than the 1797 samples "
        "of 'digits' (the test split needs at least one). Got 5000 instead.",
    ),
    (
        ["--train-sizes", "20,20"],
        "reglab: error: The 'train_sizes' parameter of StudyConfig must be distinct counts >= 1 "
        "in ascending order (e.g. 20). Got (20, 20) instead.",
    ),
    (
        ["--train-sizes", "40,20"],
        "reglab: error: The 'train_sizes' parameter of StudyConfig must be distinct counts >= 1 "
        "in ascending order (e.g. 20,40). Got (40, 20) instead.",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_train_sizes_are_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["study", "--data", "digits", *args, "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert (code, out, err) == (2, "", message + "\n")
    assert not (tmp_path / "out").exists()  # nothing written
