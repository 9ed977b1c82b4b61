"""The ``reglab`` command line: help, one-line errors with exit code 2, and the study commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reglab.cli import main

COMMANDS = ["study", "tune", "report", "datasets"]
TINY = ["--data", "iris", "--train-size", "60", "--val-size", "30", "--seeds", "2"]
TINY += ["--epochs", "3", "--recipes", "baseline,dropout", "--jobs", "1", "--no-progress"]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["--help"], capsys)
    assert code == 0
    for name in COMMANDS:
        assert f"  {name}" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run([command, "--help"], capsys)
    assert code == 0 and err == ""
    assert out.startswith(f"Usage: reglab {command} [OPTIONS]")
    assert "--help" in out


def test_study_help_names_the_issue_options(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(["study", "--help"], capsys)
    for option in (
        "--data",
        "--target",
        "--train-size",
        "--val-size",
        "--model",
        "--recipes",
        "--recipe",
        "--seeds",
        "--epochs",
        "--jobs",
        "--storage",
        "--out",
        "--resume",
    ):
        assert f"{option} " in out


def test_datasets_lists_the_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["datasets"], capsys)
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()[1:6]]
    assert names == ["breast_cancer", "diabetes", "digits", "iris", "wine"]
    assert "digits          classification     1797  1x8x8" in out


def _data_error(name: str) -> str:
    """The library's own message for an unknown dataset (the data helper words it)."""
    from reglab import ConfigError
    from reglab.data import load_dataset

    with pytest.raises(ConfigError) as err:
        load_dataset(name)
    return f"reglab: error: {err.value}"


BAD = [
    (["study", "--data", "nope"], _data_error("nope")),
    (
        ["study", "--train-size", "lots"],
        "reglab: error: The '--train-size' option of reglab study must be a count (e.g. 200) "
        "or a fraction in (0, 1) (e.g. 0.2). Got 'lots' instead.",
    ),
    (
        ["study", "--recipes", "baseline,nope"],
        "reglab: error: The 'recipes' parameter of StudyConfig must be one of 'all', 'augment', "
        "'baseline', 'batchnorm', 'dropout', 'early_stopping', 'eda', 'weight_decay'. "
        "Got 'nope' instead.",
    ),
    (
        ["study", "--recipe", "dropout=1.5"],
        "reglab: error: The 'dropout' parameter of Recipe must be a float in [0, 1). "
        "Got 1.5 instead.",
    ),
    (
        ["study", "--seeds", "0"],
        "reglab: error: The '--seeds' option of reglab study must be 'auto' or a number of "
        "seeds >= 1 (e.g. 3). Got '0' instead.",
    ),
    (
        ["study", "--data", "iris", "--jobs", "0"],
        "reglab: error: The 'jobs' parameter of run_study must be an int in [1, inf). "
        "Got 0 instead.",
    ),
    (
        ["study", "--seeds", "x"],
        "reglab: error: The '--seeds' option of reglab study must be 'auto' or a number of "
        "seeds >= 1 (e.g. 3). Got 'x' instead.",
    ),
    (
        ["tune", "--space", "dropout,nope"],
        "reglab: error: The 'space' parameter of TuneConfig must be one of 'dropout', "
        "'weight_decay', 'l1', 'augment', 'augment_magnitude', 'mixup', 'label_smoothing', "
        "'width', 'epochs'. Got 'nope' instead.",
    ),
    (
        ["tune", "--trials", "0"],
        "reglab: error: The 'trials' parameter of TuneConfig must be an int in [1, inf). "
        "Got 0 instead.",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run([*args, "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert err == message + "\n"
    assert out == ""
    assert not (tmp_path / "out").exists()  # nothing a rerun could mistake for a study


def test_unknown_option_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["study", "--bogus"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("reglab study: error: No such option '--bogus'.")


def test_resume_without_a_study_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(["study", "--resume", "--out", str(tmp_path)], capsys)
    assert code == 2
    assert err == (
        f"reglab: error: Nothing to resume in {str(tmp_path)!r}: it holds no study.db. Start "
        "the study without --resume, or pass --out/--storage of an existing one.\n"
    )


def test_report_without_a_study_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(["report", str(tmp_path)], capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(f"reglab: error: No study found in {str(tmp_path)!r} (no study.db).")


def test_unreachable_storage_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = "postgresql://reglab:secret@127.0.0.1:1/reglab"
    code, _, err = _run(["study", *TINY, "--storage", url, "--out", str(tmp_path)], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("reglab: error: Cannot open the study storage 'postgresql://reglab:***@")
    assert "secret" not in err


def test_real_entry_point_prints_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "reglab.cli", "study", "--data", "nope", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [_data_error("nope")]
    assert "Traceback" not in proc.stdout + proc.stderr


def test_study_prints_the_table_and_report_rebuilds_identical_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "s"
    code, text, _ = _run(["study", *TINY, "--out", str(out)], capsys)
    assert code == 0
    lines = text.splitlines()
    assert lines[0].split() == ["recipe", "test_acc", "(95%", "CI)", "gap", "epochs", "s/run"]
    assert [line.split()[0] for line in lines[2:4]] == ["baseline", "dropout"]
    assert lines[-1] == f"report: {out / 'report.html'}"
    assert "4/4 cells in" in text
    first = {n: (out / n).read_bytes() for n in ("results.csv", "summary.json")}
    for n in first:
        (out / n).unlink()
    code, text, _ = _run(["report", str(out)], capsys)
    assert code == 0 and text == f"4 runs; report: {out / 'report.html'}\n"
    assert {n: (out / n).read_bytes() for n in first} == first

    # Rerunning the same command resumes: nothing is left to run, the table is the same.
    code, again, _ = _run(["study", *TINY, "--out", str(out)], capsys)
    assert code == 0 and again.splitlines()[:4] == lines[:4]
