"""The study's sequential design: seeds look by look until each comparison is decided.

A stand-in training function makes the scores a known function of the seed (no training), so
each recipe's effect is set by the test: a clear gain stops at the first look, no effect stops
as "equivalent", a noisy one needs more looks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from reglab.lab.queue.storage import CellStore, sqlite_url
from reglab.lab.study import StudyConfig, run_study
from reglab.lab.study.report import summary_table
from reglab.lab.study.sequential import decisions, seeds_wanted, wanted_cells

# recipe -> (effect on test accuracy, noise amplitude of the per-seed difference)
EFFECTS = {
    "baseline": (0.0, 0.0),
    "dropout": (0.03, 0.004),  # a clear gain: better at the first look
    "weight_decay": (0.0, 0.002),  # no effect: equivalent within +-1 point
    "batchnorm": (0.006, 0.02),  # a small noisy gain: needs more seeds
}
CALLS: list[tuple[str, int]] = []
INTERRUPT_AT: list[int] = []


def _noise(recipe: str, seed: int) -> float:
    """A fixed, zero-mean-ish sequence per recipe (deterministic, no generator needed)."""
    k = sum(map(ord, recipe))
    return math.sin(1.7 * seed + k) * math.sqrt(2)


def scores(recipe: Any, splits: Any, seed: int, device: str) -> dict[str, Any]:
    """A training function whose test accuracy is 0.9 + effect + noise (no training)."""
    CALLS.append((recipe.name, seed))
    if INTERRUPT_AT and len(CALLS) == INTERRUPT_AT[0]:
        raise KeyboardInterrupt
    effect, noise = EFFECTS[recipe.name]
    acc = 0.9 + 0.01 * math.sin(seed) + effect + noise * _noise(recipe.name, seed)
    return {"train_acc": acc + 0.05, "val_acc": acc, "test_acc": acc, "epochs": 1}


def _config(**kw: Any) -> StudyConfig:
    base: dict[str, Any] = {
        "data": "iris",
        "train_size": 60,
        "val_size": 30,
        "recipes": tuple(EFFECTS),
        "epochs": 1,
        "train_fn": scores,
    }
    return StudyConfig(**{**base, **kw})


def _seeds_run(rows: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r["recipe"]] = out.get(r["recipe"], 0) + 1
    return out


def test_auto_is_the_default_and_its_looks_end_at_max_seeds() -> None:
    config = StudyConfig()
    assert config.seeds == "auto" and config.sequential
    assert config.looks == (5, 10, 15, 20) and config.first_seeds == 5
    assert StudyConfig(max_seeds=12).looks == (5, 10, 12)
    assert StudyConfig(max_seeds=4).looks == (4,)
    fixed = StudyConfig(seeds=3)
    assert not fixed.sequential and fixed.first_seeds == 3
    assert {c.seed for c in fixed.cells()} == {0, 1, 2}
    # A training-size sweep keeps a fixed design.
    sweep = StudyConfig(train_sizes=(50, 100))
    assert not sweep.sequential and sweep.first_seeds == 3


def test_bad_seed_settings_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match=r"The 'seeds' parameter of StudyConfig must be"):
        StudyConfig(seeds="many")
    with pytest.raises(ValueError, match=r"The 'max_seeds' parameter of StudyConfig must be"):
        StudyConfig(max_seeds=1)
    with pytest.raises(ValueError, match=r"The 'margin' parameter of StudyConfig must be"):
        StudyConfig(margin=-1.0)


def _rows(n: dict[str, int]) -> list[dict[str, Any]]:
    out = []
    for name, count in n.items():
        for s in range(count):
            effect, noise = EFFECTS[name]
            acc = 0.9 + 0.01 * math.sin(s) + effect + noise * _noise(name, s)
            out.append({"recipe": name, "seed": s, "test_acc": acc})
    return out


def test_only_undecided_comparisons_get_the_next_look() -> None:
    recipes = tuple(EFFECTS)
    rows = _rows(dict.fromkeys(recipes, 5))
    found = decisions(rows, recipes, margin=1.0, looks=(5, 10, 15, 20))
    assert found["dropout"].verdict == "better" and found["dropout"].final
    assert found["weight_decay"].verdict == "equivalent"
    assert found["batchnorm"].verdict == "undecided" and not found["batchnorm"].final
    want = seeds_wanted(found, recipes, (5, 10, 15, 20))
    assert want == {"baseline": 10, "dropout": 5, "weight_decay": 5, "batchnorm": 10}
    cells = wanted_cells(found, recipes, (5, 10, 15, 20))
    assert sorted(c.key for c in cells if c.recipe == "batchnorm")[-1] == "batchnorm/9"


def test_a_gap_in_the_seeds_ends_the_sequence() -> None:
    # Seed 2 of the recipe failed: the first look (5 seeds) is not reached, whatever came later.
    rows = [
        r
        for r in _rows({"baseline": 6, "dropout": 6})
        if (r["recipe"], r["seed"]) != ("dropout", 2)
    ]
    found = decisions(rows, ("baseline", "dropout"), margin=1.0, looks=(5, 10))
    assert found["dropout"].look == 0 and found["dropout"].n == 2


def test_a_study_runs_seeds_until_each_comparison_is_decided(tmp_path: Path) -> None:
    CALLS.clear()
    outcome = run_study(_config(), tmp_path, jobs=1)
    seeds = _seeds_run(outcome.rows)
    assert seeds["dropout"] == 5 and seeds["weight_decay"] == 5
    assert seeds["batchnorm"] > 5 and seeds["baseline"] == seeds["batchnorm"]
    assert outcome.done == outcome.cells == sum(seeds.values()) and not outcome.failures
    summary = {
        r["recipe"]: r for r in json.loads((tmp_path / "summary.json").read_text())["recipes"]
    }
    assert summary["dropout"]["verdict"] == "better" and summary["dropout"]["seeds"] == 5
    assert (
        summary["weight_decay"]["verdict"] == "equivalent" and summary["weight_decay"]["look"] == 1
    )
    assert summary["dropout"]["low"] > 0 and "verdict" not in summary["baseline"]
    page = (tmp_path / "report.html").read_text()
    assert "no effect beyond ±1.0" in page and "Sequential intervals at each look" in page
    assert "<b>helps</b>: dropout" in page
    lines = summary_table(outcome.rows, config=outcome.config)
    assert "verdict" in lines[0]
    assert any(
        line.startswith("weight_decay") and line.endswith("no effect beyond ±1.0") for line in lines
    )


def test_resume_in_the_middle_of_a_sequence_gives_the_same_verdicts(tmp_path: Path) -> None:
    CALLS.clear()
    whole = run_study(_config(), tmp_path / "whole", jobs=1)
    CALLS.clear()
    INTERRUPT_AT[:] = [len(whole.rows) - 3]  # Ctrl-C in the middle of a later look
    try:
        with pytest.raises(KeyboardInterrupt):
            run_study(_config(), tmp_path / "cut", jobs=1)
    finally:
        INTERRUPT_AT.clear()
    resumed = run_study(_config(), tmp_path / "cut", jobs=1)

    def verdicts(out: Path) -> dict[str, Any]:
        recipes = json.loads((out / "summary.json").read_text())["recipes"]
        return {r["recipe"]: (r.get("verdict"), r.get("seeds"), r.get("low")) for r in recipes}

    assert verdicts(tmp_path / "cut") == verdicts(tmp_path / "whole")
    assert _seeds_run(resumed.rows) == _seeds_run(whole.rows)
    assert set(CellStore(sqlite_url(tmp_path / "cut")).complete_counts_per_cell().values()) == {1}


def test_a_fixed_design_keeps_its_seeds(tmp_path: Path) -> None:
    outcome = run_study(_config(seeds=3), tmp_path, jobs=1)
    assert _seeds_run(outcome.rows) == dict.fromkeys(EFFECTS, 3)
    recipes = json.loads((tmp_path / "summary.json").read_text())["recipes"]
    assert all("verdict" not in r for r in recipes)
