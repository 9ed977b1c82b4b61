"""``reglab tune``: search space, pruning on learning curves, test split kept out, resume, TOML."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import pytest

import reglab.lab.core.run as lab_run
import reglab.lab.tune.confirmation as tune_confirmation
import reglab.lab.tune.search as tune_search
from reglab import ConfigError
from reglab.lab.core.recipe import BUILTIN_RECIPES, Recipe
from reglab.lab.tune import SPACE, TuneConfig, recipe_toml, run_tune, search_space
from reglab.lab.tune.confirmation import confirm, run_cells
from reglab.lab.tune.search import Objective, Reporter
from reglab.lab.tune.space import apply_params, start_params

TINY = {"data": "iris", "train_size": 60, "val_size": 30, "epochs": 4, "seeds": 2}


def test_search_space_depends_on_the_data_kind() -> None:
    base = BUILTIN_RECIPES["all"]
    images = search_space(SPACE, "image", base)
    assert sorted(images) == sorted(SPACE)
    assert "affine" in images["augment"].choices
    tabular = search_space(SPACE, "tabular", base)
    assert "augment" not in tabular and "augment_magnitude" in tabular
    assert images["weight_decay"].log and images["l1"].log


def test_first_trial_is_the_base_recipe() -> None:
    base = BUILTIN_RECIPES["all"]
    space = search_space(SPACE, "image", base)
    start = start_params(base, space)
    assert start["dropout"] == base.dropout
    assert start["weight_decay"] == base.weight_decay
    assert start["augment"] == base.augment
    assert start["l1"] == 1e-7  # 0 moved to the bottom of the log range ...
    recipe = apply_params(base, start, "image", "tuned")
    assert recipe.l1 == 0.0  # ... which means "no L1"
    assert recipe.replace(name=base.name) == base


def test_recipe_toml_round_trips(tmp_path: Path) -> None:
    tuned = BUILTIN_RECIPES["all"].replace(
        name="tuned", dropout=0.27, l1=3.5e-6, augment="rotate+translate", max_norm=None
    )
    for recipe in [*BUILTIN_RECIPES.values(), tuned]:
        path = tmp_path / f"{recipe.name}.toml"
        path.write_text(recipe_toml(recipe))
        again = Recipe.from_toml(path)
        assert again == recipe
        assert again.name == recipe.name
    # The spec string printed for the best recipe reads back to the same strengths.
    assert Recipe.from_spec(tuned.summary()).replace(name="tuned") == tuned


@pytest.mark.slow
def test_trials_never_see_the_test_split(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[tuple[str, bool]] = []
    real = lab_run.run_cell

    def spy(recipe: Recipe, seed: int, splits: Any, **kw: Any) -> Any:
        seen.append((recipe.name, splits.test is splits.val))
        return real(recipe, seed, splits, **kw)

    for module in (tune_search, tune_confirmation):  # each imports run_cell by name
        monkeypatch.setattr(module, "run_cell", spy)
    outcome = run_tune(TuneConfig(**TINY, trials=3), tmp_path, jobs=1)
    trials = [s for s in seen if s[0].startswith("trial-")]
    final = [s for s in seen if not s[0].startswith("trial-")]
    # two partitions per trial, then two more for each of the 3 confirmed trials, each scored
    # on validation in place of test
    assert len(trials) == 6 + 6 and all(is_val for _, is_val in trials)
    assert sorted(final) == [("base", False), ("base", False), ("tuned", False), ("tuned", False)]
    assert outcome.best.name == "tuned"


def test_partitions_and_evaluation_draws_keep_the_test_examples_out_of_the_search() -> None:
    import torch

    from reglab.data import make_dataset

    n = 240
    # 1x1x2 "images" (not rescaled) whose first pixel is the row number: every example traced
    X = torch.stack([torch.arange(n, dtype=torch.float32), torch.rand(n)], 1).reshape(n, 1, 1, 2)
    ds = make_dataset(X, torch.arange(n) % 3, name="rows")
    config = TuneConfig(data="iris", train_size=60, val_size=30, seeds=3, partitions=3)
    objective = Objective(config, ds)

    def rows(part: Any) -> set[int]:
        return {round(float(v)) for v in part.X[:, 0, 0, 0]}

    sp = objective.splits
    test = set(sp.test_index.tolist())
    pool = set(range(n)) - test
    assert len(objective.views) == 3
    draws = []
    for view in objective.views:
        assert view.test is view.val
        tr, va = rows(view.train), rows(view.val)
        assert tr | va <= pool and not tr & va
        assert (len(tr), len(va)) in [(60, 30), (60, 29)]
        draws.append(frozenset(tr))
    assert len(set(draws)) == 3  # the redraws differ from the search split and each other
    for seed in range(3):
        ev = objective.evaluation_splits(seed)
        got = set(ev.test_index.tolist())
        assert got <= test and not got & set(ev.train_index.tolist())
        assert not got & set(ev.val_index.tolist()) and len(ev.test) == len(got) > 0
    assert objective.evaluation_splits(0) is sp


def test_pruning_stops_a_trial_whose_curve_falls_behind() -> None:
    # The epoch budget is fixed (not searched): 6 epochs report at tenths 1, 3, 5, 6, 8, 10.
    config = TuneConfig(**{**TINY, "epochs": 6}, trials=2, space=("dropout",))
    from reglab.data import load_dataset

    objective = Objective(config, load_dataset("iris"))
    study = optuna.create_study(
        direction="maximize",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=3),
    )
    # A finished trial that scored 100% validation accuracy at every tenth of its budget.
    dist = optuna.distributions.FloatDistribution(0.0, 0.6)
    study.add_trial(
        optuna.trial.create_trial(
            params={"dropout": 0.1},
            distributions={"dropout": dist},
            value=1.0,
            intermediate_values={s: 1.0 for s in range(1, 11)},
        )
    )
    study.optimize(objective, n_trials=1)
    trial = study.trials[-1]
    assert trial.state == optuna.trial.TrialState.PRUNED
    # Reported after epoch 0 (tenth 1, warm-up) and epoch 1 (tenth 3), pruned at the first
    # report it may act on: the fit loop stopped there instead of running all 6 epochs.
    assert sorted(trial.intermediate_values) == [1, 3]
    assert trial.user_attrs["epochs_run"] == 2


def test_reports_fall_on_the_same_tenths_whatever_the_epoch_budget() -> None:
    class Trial:
        def __init__(self) -> None:
            self.steps: list[int] = []

        def report(self, value: float, step: int) -> None:
            self.steps.append(step)

        def should_prune(self) -> bool:
            return False

    for epochs, expected in [
        (10, list(range(1, 11))),
        (20, list(range(1, 11))),
        (4, [2, 5, 7, 10]),
    ]:
        trial = Trial()
        reporter = Reporter(trial, "val_acc", 1.0, epochs)
        for epoch in range(epochs):
            assert reporter.step({"epoch": epoch, "val_acc": 0.5}, None) is False
        assert trial.steps == expected


def test_epochs_and_width_are_searched_around_the_base() -> None:
    space = search_space(SPACE, "image", BUILTIN_RECIPES["all"])
    assert (space["epochs"].low, space["epochs"].high, space["epochs"].step) == (100, 250, 25)
    assert (space["width"].low, space["width"].high, space["width"].step) == (32, 64, 16)
    start = start_params(BUILTIN_RECIPES["all"].replace(epochs=140, width=44), space)
    assert (start["epochs"], start["width"]) == (150, 48)  # on the grid, nearest point
    assert isinstance(start["epochs"], int)


@pytest.mark.slow
def test_outputs_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = TuneConfig(**TINY, trials=3)
    first = run_tune(config, tmp_path, jobs=1)
    for name in ("best.toml", "trials.csv", "summary.json", "report.html", "tune.db"):
        assert (tmp_path / name).is_file()
    assert Recipe.from_toml(tmp_path / "best.toml") == first.best
    with (tmp_path / "trials.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["number"] for r in rows] == ["0", "1", "2"]
    assert {"state", "value", "epochs_run", "param_dropout", "param_weight_decay"} <= set(rows[0])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["best"]["spec"] == first.best.summary()
    assert len(summary["test"]["tuned"]["values"]) == 2
    assert summary["test"]["tuned"]["mean"] == pytest.approx(
        sum(summary["test"]["tuned"]["values"]) / 2
    )
    for name in ("tuned", "base"):  # accuracy intervals stay within [0, 1]
        t = summary["test"][name]
        assert 0.0 <= t["low"] <= t["mean"] <= t["high"] <= 1.0
    page = (tmp_path / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 1
    # The three finished trials were re-scored; the chosen one has the best mean of 4 scores.
    confirmed = summary["confirmation"]
    assert len(confirmed) == 3 and all(len(r["scores"]) == 4 for r in confirmed)
    chosen = max(confirmed, key=lambda r: (r["mean"], -r["number"]))
    assert first.best_trial == chosen["number"]
    assert summary["best"]["validation"] == pytest.approx(chosen["mean"]) == first.best_value
    assert "<h2>Confirmation</h2>" in page

    # Rerunning resumes: no new trial, and the cached test evaluation trains nothing.
    calls: list[str] = []
    real = lab_run.run_cell
    monkeypatch.setattr(
        tune_confirmation,
        "run_cell",
        lambda r, *a, **k: calls.append(r.name) or real(r, *a, **k),
    )
    again = run_tune(config, tmp_path, jobs=1)
    assert calls == [] and len(again.trials) == 3 and again.best == first.best
    # A larger budget continues the same search.
    more = run_tune(TuneConfig(**TINY, trials=4), tmp_path, jobs=1)
    assert len(more.trials) == 4

    with pytest.raises(ConfigError, match=r"different settings \(data\)"):
        run_tune(TuneConfig(**{**TINY, "data": "wine"}, trials=3), tmp_path)


class _Fake:
    """What run_cell returns, reduced to what the confirmation reads."""

    def __init__(self, val_acc: float) -> None:
        self.val_acc = val_acc

    def to_dict(self) -> dict[str, Any]:
        return {"val_acc": self.val_acc, "val_loss": 1.0 - self.val_acc, "history": []}


def test_confirmation_picks_the_best_mean_over_all_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    from reglab.data import make_dataset

    ds = make_dataset(torch.rand(120, 3), torch.arange(120) % 3, name="rows")
    config = TuneConfig(data="iris", train_size=30, val_size=30, partitions=2, confirm=3)
    objective = Objective(config, ds)
    study = optuna.create_study(direction="maximize")
    dist = {"dropout": optuna.distributions.FloatDistribution(0.0, 0.6)}
    # (dropout, search scores): trial 0 is the search's best by a lucky partition.
    for p, scores in [(0.1, [0.99, 0.90]), (0.2, [0.93, 0.93]), (0.3, [0.80, 0.80]),
                      (0.4, [0.94, 0.91])]:  # fmt: skip
        study.add_trial(
            optuna.trial.create_trial(
                params={"dropout": p},
                distributions=dist,
                value=sum(scores) / 2,
                user_attrs={"partition_scores": scores},
            )
        )
    # On the new partitions each recipe scores what its dropout says it is worth.
    worth = {0.1: 0.90, 0.2: 0.935, 0.4: 0.92}
    calls: list[tuple[float, int]] = []

    def fake(recipe: Recipe, seed: int, splits: Any, **kw: Any) -> _Fake:
        assert splits.test is splits.val  # confirmation never sees test either
        calls.append((recipe.dropout, len(splits.val)))
        return _Fake(worth[recipe.dropout])

    monkeypatch.setattr(tune_confirmation, "run_cell", fake)
    trial, value, rows = confirm(study, config, objective, jobs=1, threads=1)
    # the top 3 by search score (0.945, 0.93, 0.925) are re-scored on 2 partitions each
    assert sorted(calls) == [(0.1, 29)] * 2 + [(0.2, 29)] * 2 + [(0.4, 29)] * 2
    assert [r["number"] for r in rows] == [0, 1, 3]
    assert trial.number == 1 and value == pytest.approx((0.93 + 0.93 + 0.935 + 0.935) / 4)
    assert rows[0]["confirm"] == pytest.approx(0.90) and rows[0]["mean"] == pytest.approx(0.9225)
    # every re-scored cell is saved: choosing again trains nothing
    calls.clear()
    again, _, _ = confirm(study, config, objective, jobs=1, threads=1)
    assert calls == [] and again.number == 1
    # confirm=1 keeps the search's best as it is
    one = replace(config, confirm=1)
    best, best_value, none = confirm(study, one, objective, jobs=1, threads=1)
    assert (best.number, none) == (0, []) and best_value == pytest.approx(0.945)


@pytest.mark.slow
def test_cells_in_worker_processes_equal_cells_in_this_one() -> None:
    import reglab.data as rd

    sp = rd.split(rd.load_dataset("iris"), train_size=60, val_size=30, seed=0)
    recipe = Recipe(epochs=3, width=8, depth=1, dropout=0.2)
    tasks = [(f"s{seed}", (recipe, seed, sp, "mlp")) for seed in range(3)]
    here = dict(run_cells(tasks, jobs=1, threads=1))
    there = dict(run_cells(tasks, jobs=2, threads=1))
    assert sorted(there) == ["s0", "s1", "s2"]
    for key in here:
        a, b = here[key], there[key]
        assert (a["val_acc"], a["test_acc"], a["train_loss"]) == (
            b["val_acc"],
            b["test_acc"],
            b["train_loss"],
        )
    assert len({here[k]["train_loss"] for k in here}) == 3  # the seeds differ


def test_bad_tune_config_messages() -> None:
    with pytest.raises(ConfigError) as err:
        TuneConfig(trials=0)
    assert str(err.value) == (
        "The 'trials' parameter of TuneConfig must be an int in [1, inf). Got 0 instead."
    )
    with pytest.raises(ConfigError, match=r"'confirm' parameter of TuneConfig must be an int"):
        TuneConfig(confirm=0)
    with pytest.raises(ConfigError, match=r"^Unknown built-in recipe 'nope'"):
        TuneConfig(base="nope,dropout=0.1")


# --- The test evaluation: the tuned recipe against the base by the sequential rule ----------


class _Scored:
    """What run_cell returns, reduced to what the test evaluation reads."""

    def __init__(self, recipe: str, seed: int, test_acc: float) -> None:
        self.row = {"recipe": recipe, "seed": seed, "test_acc": test_acc, "val_acc": test_acc}

    def to_dict(self) -> dict[str, Any]:
        return {**self.row, "history": []}


def _evaluation(
    monkeypatch: pytest.MonkeyPatch, gain: float, noise: float, **config: Any
) -> tuple[Any, TuneConfig, Objective, list[tuple[str, int]], Recipe]:
    """A study, objective and tuned recipe whose evaluation cells score ``0.85 + gain`` (tuned)
    and ``0.85`` (base), each with its own seeded normal noise of sd ``noise``."""
    import numpy as np
    import torch

    from reglab.data import make_dataset

    ds = make_dataset(torch.rand(400, 3), torch.arange(400) % 3, name="rows")
    cfg = TuneConfig(data="iris", train_size=30, val_size=30, **config)
    objective = Objective(cfg, ds)
    calls: list[tuple[str, int]] = []

    def fake(recipe: Recipe, seed: int, splits: Any, **kw: Any) -> _Scored:
        assert splits.test is not splits.val  # the evaluation scores test examples
        calls.append((recipe.name, seed))
        rng = np.random.default_rng([seed, recipe.name == "tuned"])
        mean = 0.85 + (gain if recipe.name == "tuned" else 0.0)
        return _Scored(recipe.name, seed, mean + noise * float(rng.standard_normal()))

    monkeypatch.setattr(tune_confirmation, "run_cell", fake)
    study = optuna.create_study(direction="maximize")
    best = objective.base.replace(name="tuned", dropout=0.3)
    return study, cfg, objective, calls, best


def test_a_clearly_better_tuned_recipe_stops_at_the_first_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    study, cfg, objective, calls, best = _evaluation(monkeypatch, gain=0.05, noise=0.005)
    out = tune_confirmation.test_scores(study, cfg, objective, best, compare=True)
    c = out["comparison"]
    assert (c["verdict"], c["look"], c["seeds"], c["final"]) == ("better", 1, 5, True)
    assert out["seeds"] == 5 and len(out["tuned"]["values"]) == len(out["base"]["values"]) == 5
    assert sorted(calls) == sorted((n, s) for n in ("tuned", "base") for s in range(5))
    assert 0 < c["low"] < c["mean"] < c["high"] and c["mean"] == pytest.approx(0.05, abs=0.01)
    # A rerun trains nothing and reaches the same verdict.
    calls.clear()
    again = tune_confirmation.test_scores(study, cfg, objective, best, compare=True)
    assert calls == [] and again["comparison"] == c


def test_an_equal_tuned_recipe_is_no_effect_beyond_the_margin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    study, cfg, objective, calls, best = _evaluation(monkeypatch, gain=0.0, noise=0.001)
    out = tune_confirmation.test_scores(study, cfg, objective, best, compare=True)
    c = out["comparison"]
    assert (c["verdict"], c["seeds"], c["look"]) == ("equivalent", 5, 1)
    assert -0.01 < c["low"] < c["high"] < 0.01 and c["margin_units"] == pytest.approx(0.01)
    assert len(calls) == 10


def test_when_the_search_keeps_the_base_its_runs_stand_for_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    study, cfg, objective, calls, _ = _evaluation(monkeypatch, gain=0.0, noise=0.03)
    best = objective.base.replace(name="tuned", description="'all' with dropout searched")
    out = tune_confirmation.test_scores(study, cfg, objective, best, compare=True)
    c = out["comparison"]
    assert sorted(calls) == [("tuned", s) for s in range(5)]  # the base is not trained again
    assert c["same_recipe"] and c["diffs"] == [0.0] * 5
    assert (c["verdict"], c["seeds"], c["low"], c["high"]) == ("equivalent", 5, 0.0, 0.0)
    assert out["base"]["values"] == out["tuned"]["values"]
    calls.clear()
    assert tune_confirmation.test_scores(study, cfg, objective, best, compare=True) == out
    assert calls == []


def test_a_noisy_comparison_gets_more_seeds_look_by_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reglab.lab.stats import decide

    events: list[Any] = []
    study, cfg, objective, calls, best = _evaluation(monkeypatch, gain=0.005, noise=0.03)
    out = tune_confirmation.test_scores(
        study, cfg, objective, best, compare=True, on_progress=events.append
    )
    c = out["comparison"]
    assert out["seeds"] > 5 and c["seeds"] == out["seeds"] and c["seeds"] in (10, 15, 20)
    # Both recipes ran every seed up to the stopping look, once each.
    assert sorted(calls) == sorted((n, s) for n in ("tuned", "base") for s in range(c["seeds"]))
    looks = [e.info["comparison"] for e in events if e.kind == "look"]
    assert [x["seeds"] for x in looks] == list(range(5, c["seeds"] + 1, 5))
    assert all(x["verdict"] == "undecided" for x in looks[:-1])  # more seeds only while open
    # The verdict is the rule's on the per-seed gains at that look.
    d = decide(c["diffs"], margin=0.01)
    assert (d.verdict, d.low, d.high) == (c["verdict"], c["low"], c["high"])
    # A smaller cap stops sooner; the cells already saved are reused.
    calls.clear()
    capped = replace(cfg, max_seeds=5)
    first = tune_confirmation.test_scores(study, capped, objective, best, compare=True)
    assert calls == [] and first["seeds"] == 5 and first["comparison"]["looks"] == [5]
    assert first["comparison"]["final"]


def test_a_fixed_number_of_seeds_is_judged_at_the_largest_look_it_reaches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    study, cfg, objective, calls, best = _evaluation(monkeypatch, gain=0.05, noise=0.005, seeds=3)
    out = tune_confirmation.test_scores(study, cfg, objective, best, compare=True)
    c = out["comparison"]
    assert (c["verdict"], c["look"], c["seeds"], out["seeds"]) == ("undecided", 0, 3, 3)
    assert c["low"] == -float("inf") and len(calls) == 6
    twelve = replace(cfg, seeds=12)
    out = tune_confirmation.test_scores(study, twelve, objective, best, compare=True)
    c = out["comparison"]
    # all 12 seeds run (only the 9 new ones trained); the verdict uses look 2's 10 seeds
    assert len(calls) == 6 + 18 and out["seeds"] == 12 and len(out["tuned"]["values"]) == 12
    assert (c["verdict"], c["look"], c["seeds"], c["sequential"]) == ("better", 2, 10, False)


def test_without_compare_only_the_tuned_recipe_runs_the_first_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    study, cfg, objective, calls, best = _evaluation(monkeypatch, gain=0.0, noise=0.03)
    out = tune_confirmation.test_scores(study, cfg, objective, best, compare=False)
    assert "comparison" not in out and "base" not in out and out["seeds"] == 5
    assert sorted(calls) == [("tuned", s) for s in range(5)]


def test_regression_gains_are_oriented_and_the_margin_is_a_percent_of_the_base_loss() -> None:
    done = {
        **{f"tuned/{s}": {"test_loss": 0.9 + 0.001 * s} for s in range(5)},
        **{f"base/{s}": {"test_loss": 2.0} for s in range(5)},
    }
    cfg = TuneConfig(margin=2.0)
    c = tune_confirmation.comparison_of(done, "test_loss", 5, cfg)
    assert c["diffs"][0] == pytest.approx(1.1)  # positive: the tuned loss is lower
    assert c["margin_units"] == pytest.approx(0.04) and c["verdict"] == "better"
    assert c["gain"] == "base minus tuned test loss"
    # A seed without a finite score ends the sequence.
    done["base/2"] = {"test_loss": None}
    assert len(tune_confirmation.gains(done, "test_loss", 5)) == 2


def test_the_report_and_the_command_line_carry_the_verdict(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import reglab.lab.tune as lab_tune
    from reglab.cli import main
    from reglab.lab.tune.outputs import write_outputs
    from reglab.lab.tune.runner import TuneOutcome

    study, cfg, objective, _, best = _evaluation(monkeypatch, gain=0.05, noise=0.005)
    test = tune_confirmation.test_scores(study, cfg, objective, best, compare=True)
    trials = [
        {"number": 0, "state": "COMPLETE", "value": 0.9, "epochs_run": 4, "seconds": 1.0},
    ]
    paths = write_outputs(tmp_path, cfg, "sqlite:///x.db", best, 0.9, trials, [], test, 1, 2)
    summary = json.loads(paths["summary"].read_text())
    c = summary["comparison"]
    assert (c["verdict"], c["seeds"], c["look"]) == ("better", 5, 1)
    assert c["low"] == pytest.approx(test["comparison"]["low"]) and c["high"] > c["low"] > 0
    assert summary["test"]["seeds"] == 5 and "comparison" not in summary["test"]
    page = paths["report"].read_text()
    assert "Tuned against base: better</b>" in page and "<h2>Decision rule</h2>" in page
    assert "Tuned against base: better</b>: +4.84 points (95% repeated interval +" in page
    assert "; 5 seeds, look 1 of 4)." in page

    outcome = TuneOutcome(tmp_path, "sqlite:///x.db", best, 0.9, trials, test, 2.0, paths)
    monkeypatch.setattr(lab_tune, "run_tune", lambda *a, **k: outcome)
    code = main(["tune", "--data", "iris", "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "test test_acc over 5 seeds:" in out
    line = next(s for s in out.splitlines() if s.startswith("tuned vs base: "))
    assert line.startswith("tuned vs base: better: +4.84 points (95% repeated interval +")
    assert line.endswith("; 5 seeds, look 1 of 4)")


def test_bad_seeds_and_margin_messages(capsys: pytest.CaptureFixture[str]) -> None:
    from reglab.cli import main

    with pytest.raises(ConfigError, match=r"'seeds' parameter of TuneConfig must be an int"):
        TuneConfig(seeds="many")
    with pytest.raises(ConfigError, match=r"'margin' parameter of TuneConfig must be a float"):
        TuneConfig(margin=-1.0)
    assert TuneConfig(max_seeds=12).looks == (5, 10, 12)
    assert main(["tune", "--seeds", "lots"]) == 2
    assert capsys.readouterr().err.strip() == (
        "reglab: error: The '--seeds' option of reglab tune must be 'auto' or a number of "
        "seeds >= 1 (e.g. 3). Got 'lots' instead."
    )


def test_the_progress_display_shows_each_look(capsys: pytest.CaptureFixture[str]) -> None:
    from reglab.cli.progress import Display
    from reglab.lab.queue.workers import Event

    open_look = {"look": 1, "seeds": 5, "verdict": "undecided", "sequential": True}
    with Display(enabled=True, label="tune") as display:
        display(Event("evaluate", info={"seeds": 5, "runs": 10}))
        undecided = {**open_look, "final": False, "wanted": 10}
        display(Event("look", info={"comparison": undecided, "metric": "test_acc"}))
        display(Event("evaluate", info={"seeds": 10, "runs": 10}))
        done = {**open_look, "look": 2, "seeds": 10, "verdict": "equivalent", "final": True}
        display(Event("look", info={"comparison": {**done, "margin": 1.0, "wanted": 10}}))
    assert capsys.readouterr().err.splitlines() == [
        "tune: test evaluation, seeds 0-4 (10 runs)",
        "tune: look 1 (5 seeds): undecided after 5 seeds, next look 10 seeds",
        "tune: test evaluation, seeds 0-9 (10 runs)",
        "tune: look 2 (10 seeds): no effect beyond ±1% of the base's test loss",
    ]
