"""Studies over the user's own training function: ``run_study`` with ``StudyConfig(train_fn=...)``
and ``reglab study --train-fn module:function``; the lab keeps storage, resume and the report."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from reglab.errors import ConfigError
from reglab.lab.study import StudyConfig, run_study

CALLS: list[tuple[str, int, int, str, int]] = []


def train_fn(recipe: Any, splits: Any, seed: int, device: str) -> dict[str, Any]:
    """A stand-in training function: a nearest-class-mean classifier, no training loop."""
    CALLS.append((recipe.name, recipe.epochs, seed, device, len(splits.train)))
    draw = float(torch.rand(()))  # the lab seeded the global generator with the seed

    def acc(ds: Any) -> float:
        x, y = ds.tensors()
        means = torch.stack([x[y == k].mean(0) for k in range(splits.num_classes)])
        return float((torch.cdist(x, means).argmin(1) == y).double().mean())

    return {
        "train_acc": acc(splits.train),
        "val_acc": acc(splits.val),
        "test_acc": torch.tensor(acc(splits.test)),  # 0-d tensors become floats
        "train_loss": 0.0,
        "val_loss": draw,
        "test_loss": 0.0,
        "epochs": recipe.epochs,
        "history": [{"epoch": e, "val_loss": draw} for e in range(recipe.epochs)],
    }


def _config(**kw: Any) -> StudyConfig:
    base: dict[str, Any] = {
        "data": "iris",
        "train_size": 60,
        "val_size": 30,
        "recipes": ("baseline", "dropout"),
        "seeds": 2,
        "epochs": 3,
        "train_fn": train_fn,
    }
    return StudyConfig(**{**base, **kw})


def test_a_function_is_stored_as_its_spec() -> None:
    config = _config()
    assert config.train_fn == f"{__name__}:train_fn"
    assert StudyConfig.from_dict(config.to_dict()).train_fn == config.train_fn
    assert StudyConfig.from_dict({**config.to_dict(), "train_fn": None}).train_fn is None


def test_run_study_runs_every_cell_with_the_function_and_resumes(tmp_path: Path) -> None:
    CALLS.clear()
    outcome = run_study(_config(), tmp_path, jobs=1)
    assert (outcome.cells, outcome.done, outcome.ran) == (4, 4, 4)
    assert sorted(CALLS) == sorted(
        (r, 3, s, "cpu", 60) for r in ("baseline", "dropout") for s in (0, 1)
    )
    rows = {(r["recipe"], r["seed"]): r for r in outcome.rows}
    row = rows[("baseline", 1)]
    assert row["epochs_run"] == 3 and row["status"] == "ok" and row["task"] == "classification"
    assert isinstance(row["test_acc"], float) and 0.5 < row["test_acc"] <= 1.0
    assert row["gap"] == pytest.approx(row["train_acc"] - row["val_acc"])
    # seeded per cell: the same seed draws the same number whatever the recipe
    assert rows[("baseline", 0)]["val_loss"] == rows[("dropout", 0)]["val_loss"]
    assert rows[("baseline", 0)]["val_loss"] != rows[("baseline", 1)]["val_loss"]
    with open(tmp_path / "results.csv") as f:
        assert len(list(csv.DictReader(f))) == 4
    assert (tmp_path / "report.html").is_file()
    CALLS.clear()
    assert run_study(_config(), tmp_path, jobs=1).ran == 0 and CALLS == []


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("no_colon", "must be None or a spec 'package.module:function'"),
        ("no_such_module_xyz:run", "Cannot import module 'no_such_module_xyz'"),
        (f"{__name__}:nope", "has no attribute 'nope'"),
        (f"{__name__}:CALLS", "must be callable"),
    ],
)
def test_a_bad_train_fn_fails_before_anything_is_stored(
    spec: str, match: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=match):
        run_study(_config(train_fn=spec), tmp_path / "s", jobs=1)
    assert not (tmp_path / "s").exists()


def bad_return(recipe: Any, splits: Any, seed: int, device: str) -> Any:
    return 0.9


def test_a_function_returning_no_row_is_a_config_error() -> None:
    from reglab.lab.queue.storage import Cell
    from reglab.lab.study import execute_cell, prepare

    config, _ = prepare(_config(train_fn=bad_return))
    with pytest.raises(ConfigError, match="must return a dict or an object with to_dict"):
        execute_cell(config, Cell("baseline", 0))


CLI_MODULE = """
def run(recipe, splits, seed, device):
    return {"train_acc": 1.0, "val_acc": 0.5 + seed / 10, "test_acc": 0.75, "train_loss": 0.1,
            "val_loss": 0.2, "test_loss": 0.3, "epochs": recipe.epochs}
"""


def test_cli_cell_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from reglab.cli import main

    (tmp_path / "my_cell_mod_15.py").write_text(CLI_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    args = ["study", "--data", "iris", "--train-size", "60", "--val-size", "30", "--seeds", "2"]
    args += ["--epochs", "2", "--recipes", "baseline", "--jobs", "1", "--no-progress"]
    code = main([*args, "--train-fn", "my_cell_mod_15:run", "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "2/2 cells" in out
    with open(tmp_path / "out" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(float(r["val_acc"]) for r in rows) == [0.5, 0.6]
    assert {r["epochs_run"] for r in rows} == {"2"}
    stored = StudyConfig.from_dict(
        __import__("reglab.lab.study", fromlist=["x"]).stored_config(tmp_path / "out").to_dict()
    )
    assert stored.train_fn == "my_cell_mod_15:run"
