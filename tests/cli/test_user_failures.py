"""What a new user sees when their training function fails, through the real command line.

A crashing ``--train-fn`` is named at once (exception, message, the user's own file:line), the
study stops early when every cell of the first seed fails the same way, the command exits 1,
and ``reglab report`` names the failure. The settings line is printed with ``--no-progress``,
flags a technique that cannot act, and names the training function instead of the model.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.helpers import run_reglab

CRASH = """\
def run(recipe, splits, seed, device):
    model = None
    return model.fit(splits)
"""

# Fails on seed 1 only: the other cells finish and are kept.
FLAKY = """\
def run(recipe, splits, seed, device):
    if seed == 1:
        raise ValueError("seed one is cursed")
    return {"train_acc": 0.9, "val_acc": 0.8, "test_acc": 0.8 + 0.001 * seed, "epochs": 1}
"""


def _reglab(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_reglab(list(args), tmp_path, importable=tmp_path)


def test_a_crashing_training_function_is_named_at_once_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "crashmod.py").write_text(CRASH)
    out = tmp_path / "out"
    common = ["--data", "iris", "--train-size", "60", "--val-size", "30", "--seeds", "3"]
    done = _reglab(
        tmp_path, "study", *common, "--train-fn", "crashmod:run", "--recipes", "baseline,dropout",
        "--jobs", "1", "--no-progress", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    first = "AttributeError: 'NoneType' object has no attribute 'fit' (crashmod.py:3 in run)"
    assert f"reglab: cell baseline/0 failed: {first}" in done.stderr
    assert "reglab: cell dropout/0 failed: the same way" in done.stderr
    # Stopped after seed 0 of each recipe: the other seeds never ran.
    assert "Stopped early: every cell of seed 0 failed with AttributeError" in done.stderr
    assert "baseline/1" in done.stderr and "Traceback" not in done.stderr
    # The settings line is the record of what ran: there with --no-progress, on stderr, and it
    # names the training function rather than a model it did not choose.
    assert (
        "study: iris (150 rows)" in done.stderr and "training function crashmod:run" in done.stderr
    )
    assert "study:" not in done.stdout

    report = _reglab(tmp_path, "report", str(out))
    assert report.returncode == 2
    assert "no finished cells yet: 2 cells failed; the first, baseline/0: " + first in report.stderr


def test_cells_that_fail_are_reported_and_the_rest_is_kept(tmp_path: Path) -> None:
    (tmp_path / "flakymod.py").write_text(FLAKY)
    out = tmp_path / "out"
    done = _reglab(
        tmp_path, "study", "--data", "iris", "--train-size", "60", "--val-size", "30",
        "--seeds", "3", "--train-fn", "flakymod:run", "--recipes", "baseline,dropout",
        "--jobs", "1", "--no-progress", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert (
        "reglab: cell baseline/1 failed: ValueError: seed one is cursed (flakymod.py:3 in run)"
        in (done.stderr)
    )
    assert "Stopped early" not in done.stderr
    assert "2 cells failed; the first, " in done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert {f["cell"] for f in summary["failures"]} == {"baseline/1", "dropout/1"}
    assert [r["runs"] for r in summary["recipes"]] == [2, 2]  # seeds 0 and 2 of each are kept
    page = (out / "report.html").read_text()
    assert "Cells that failed" in page and "seed one is cursed" in page
    assert "train_fn=flakymod:run" in page and "model=auto" not in page


def test_a_technique_that_cannot_act_is_flagged(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _reglab(
        tmp_path, "study", "--data", "iris", "--train-size", "60", "--val-size", "30",
        "--seeds", "2", "--epochs", "3", "--recipes", "baseline,early_stopping", "--jobs", "1",
        "--no-progress", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    note = "early stopping with patience 10 cannot stop a run of 3 epochs"
    assert f"NOTE early_stopping: {note}" in done.stderr
    assert note in (out / "report.html").read_text()
    assert json.loads((out / "summary.json").read_text())["cannot_act"] == {
        "early_stopping": [note]
    }
