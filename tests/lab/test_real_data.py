"""The lab on real data: sizes that fit, official test splits, encoded tables, signals, devices."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reglab import ConfigError
from reglab.cli import main
from reglab.lab.core.cells import lab_device, model_kind
from reglab.lab.study import StudyConfig, prepare, run_study

QUICK = {"epochs": 2, "seeds": 1}


def _run(tmp_path: Path, **kw) -> tuple[dict, list[dict]]:
    events: list = []
    out = tmp_path / "study"
    outcome = run_study(StudyConfig(**{**QUICK, **kw}), out, jobs=1, on_progress=events.append)
    summary = json.loads((out / "summary.json").read_text())
    settings = [e.info for e in events if e.kind == "settings"]
    assert len(settings) == 1 and outcome.done == outcome.cells
    return summary, settings


def test_default_sizes_fit_a_small_dataset_and_are_stated(tmp_path):
    summary, settings = _run(tmp_path, data="wine", recipes=("baseline",))
    # 178 rows: at most half for training and a quarter for validation, the rest is the test
    assert summary["sizes"] == {"train": 89, "val": 44, "test": 45}
    assert summary["test_source"] == "random"
    assert settings[0]["sizes"] == summary["sizes"] and settings[0]["device"] == "cpu"
    assert summary["config"]["train_size"] == 89 and summary["config"]["val_size"] == 44


def test_an_explicit_size_that_cannot_fit_is_one_line(tmp_path, capsys):
    code = main(["study", "--data", "iris", "--train-size", "200", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("reglab: error:")
    assert "200" in err[0] and not (tmp_path / "x").exists()


def _csv_with_strings_and_nan(path: Path, n: int = 120) -> Path:
    rng = np.random.default_rng(0)
    colours = np.array(["red", "green", "blue"])
    y = np.arange(n) % 2
    lines = ["size,colour,note,label"]
    for i in range(n):
        size = "" if i % 7 == 0 else f"{rng.normal() + 2 * y[i]:.3f}"
        colour = "" if i % 11 == 0 else colours[(i + y[i]) % 3]
        lines.append(f"{size},{colour},same,{'yes' if y[i] else 'no'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_table_with_strings_and_missing_values_runs_and_lists_its_encoding(tmp_path):
    data = _csv_with_strings_and_nan(tmp_path / "mixed.csv")
    summary, settings = _run(
        tmp_path, data=str(data), target="label", recipes=("baseline", "augment")
    )
    columns = {e["column"]: e for e in summary["encoding"]}
    assert set(columns) == {"size", "colour", "note"}
    assert settings[0]["encoded_columns"] == 3
    report = (tmp_path / "study" / "report.html").read_text()
    assert "Encoded columns" in report and "colour" in report


def test_the_official_test_split_is_kept_and_random_on_request(tmp_path):
    base = {"data": "mnist1d", "recipes": ("baseline",), "train_size": 100, "val_size": 50}
    official, _ = prepare(StudyConfig(**base))
    random, _ = prepare(StudyConfig(**base, test="random"))
    assert official.data_info["test_source"] == "official"
    assert official.data_info["sizes"] == {"train": 100, "val": 50, "test": 1000}
    assert random.data_info["test_source"] == "random"
    assert random.data_info["sizes"]["test"] == 5000 - 150
    assert official.data_info["kind"] == "signal" and model_kind("auto", "signal") == "cnn1d"


def test_signals_train_with_the_1d_cnn_and_noise_augmentation(tmp_path):
    summary, _ = _run(
        tmp_path, data="mnist1d", recipes=("baseline", "augment"), train_size=100, val_size=50
    )
    assert [r["recipe"] for r in summary["recipes"]] == ["baseline", "augment"]
    augment = summary["config"]["recipe_defs"]["augment"]
    assert augment["augment"] == "noise" and "noise on signals" in augment["description"]


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_an_unavailable_device_is_one_line_and_exit_2(tmp_path, capsys):
    code = main(["study", "--data", "iris", "--device", "cuda", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [
        "reglab: error: The 'device' parameter of run_study must name an available device. "
        "Got 'cuda' instead: this machine has no CUDA device (use 'auto' or 'cpu')."
    ]
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", 3])
def test_a_malformed_device_names_the_valid_forms(bad):
    with pytest.raises(ConfigError) as err:
        lab_device(bad)
    assert "must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'" in str(err.value)


def test_auto_is_the_cpu_here_without_cuda():
    import torch

    assert lab_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


def test_tuning_on_signals_turns_image_transforms_into_noise():
    # As a study does: the base recipe's affine transforms cannot act on (C, L) signals.
    from reglab import data as rd
    from reglab.lab.tune import TuneConfig
    from reglab.lab.tune.search import Objective

    config = TuneConfig(data="mnist1d", base="all", train_size=100, val_size=50)
    objective = Objective(config, rd.load_dataset("mnist1d"))
    assert objective.kind == "signal" and objective.model == "cnn1d"
    assert objective.base.augment == "noise"
    assert (objective.train_size, objective.val_size) == (100, 50)
