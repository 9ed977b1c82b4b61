"""``reglab study`` orchestration: every cell exactly once, resume, local processes, outputs.

Small budgets (iris/wine/diabetes, a few epochs) keep this fast; the default digits study is
measured by hand and in the README, not here.
"""

from __future__ import annotations

import csv
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reglab import ConfigError
from reglab.lab.core.recipe import BUILTIN_RECIPES, Recipe
from reglab.lab.queue.loop import work
from reglab.lab.queue.storage import CellStore, Lease, sqlite_url
from reglab.lab.queue.workers import interrupt_once
from reglab.lab.study import StudyConfig, prepare, run_study
from reglab.lab.study.runner import study_executor

QUICK = {"train_size": 60, "val_size": 30, "epochs": 3}
REQUIRED = ("recipe", "seed", "train_acc", "val_acc", "test_acc", "gap", "best_epoch")
REQUIRED += ("epochs_run", "seconds")


def _config(**kw: Any) -> StudyConfig:
    base: dict[str, Any] = {"data": "iris", "recipes": ("baseline", "dropout"), "seeds": 2}
    return StudyConfig(**{**base, **QUICK, **kw})


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _trial_count(out: Path) -> int:
    return len(CellStore(sqlite_url(out)).optuna_study.get_trials(deepcopy=False))


def test_each_cell_runs_exactly_once(tmp_path: Path) -> None:
    outcome = run_study(_config(), tmp_path)
    assert (outcome.cells, outcome.done, outcome.ran, outcome.failed_cells) == (4, 4, 4, [])
    store = CellStore(sqlite_url(tmp_path))
    assert store.complete_counts_per_cell() == {
        "baseline/0": 1,
        "baseline/1": 1,
        "dropout/0": 1,
        "dropout/1": 1,
    }
    assert _trial_count(tmp_path) == 4
    rows = _csv(tmp_path / "results.csv")
    assert set(REQUIRED) <= set(rows[0])
    assert [(r["recipe"], r["seed"]) for r in rows] == [
        ("baseline", "0"),
        ("baseline", "1"),
        ("dropout", "0"),
        ("dropout", "1"),
    ]
    for r in rows:
        assert r["status"] == "ok" and r["epochs_run"] == "3"
        gap = float(r["train_acc"]) - float(r["val_acc"])
        assert float(r["gap"]) == pytest.approx(gap)
    # Histories are stored with each trial (one row per epoch).
    assert [len(r["history"]) for r in store.completed()] == [3, 3, 3, 3]
    assert (tmp_path / "summary.json").is_file() and (tmp_path / "report.html").is_file()


def test_rerun_resumes_and_skips_finished_cells(tmp_path: Path) -> None:
    config, _ = prepare(_config())
    store = CellStore(sqlite_url(tmp_path))
    store.create(config.to_dict(), config.cells())
    started: list[str] = []

    def interrupt_second(event: str, lease: Lease) -> None:
        if event == "start":
            started.append(lease.cell.key)
            if len(started) == 2:
                raise KeyboardInterrupt  # Ctrl-C while the second cell starts

    with pytest.raises(KeyboardInterrupt):
        work(store, study_executor, on_event=interrupt_second)
    (first,) = store.completed()
    assert store.counts() == {"done": 1, "running": 0, "waiting": 3, "failed": 1}

    outcome = run_study(_config(), tmp_path)
    assert (outcome.done, outcome.ran) == (4, 3)
    assert set(store.complete_counts_per_cell().values()) == {1}
    again = next(r for r in store.completed() if r["recipe"] == first["recipe"] == "baseline")
    assert again["trial"] == first["trial"] and again["seconds"] == first["seconds"]

    # A third run has nothing left to do and adds no trial.
    before = _trial_count(tmp_path)
    assert run_study(_config(), tmp_path).ran == 0
    assert _trial_count(tmp_path) == before


def _ctrl_c() -> None:
    """What a terminal's Ctrl-C does to this process: SIGINT, handled by the main thread."""
    os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture
def terminal_sigint() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt, as in a process started from a terminal.

    A suite started in the background (``make test &``) inherits an ignored SIGINT, and Python
    then installs no handler; these tests are about what a terminal's Ctrl-C does.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("terminal_sigint")
@pytest.mark.parametrize("write", ["lease", "complete", "release"])
def test_ctrl_c_during_a_storage_write_waits_for_it_and_leaves_no_cell_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: str
) -> None:
    config, _ = prepare(_config(seeds=1))
    store = CellStore(sqlite_url(tmp_path))
    store.create(config.to_dict(), config.cells())
    original = getattr(CellStore, write)

    def write_then_ctrl_c(self: CellStore, *args: Any, **kw: Any) -> Any:
        # The signal lands in the middle of the write (between its database statements).
        _ctrl_c()
        return original(self, *args, **kw)

    def fail_cell(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("cell failed")  # a failing cell is released (not retried)

    monkeypatch.setattr(CellStore, write, write_then_ctrl_c)
    if write == "release":
        monkeypatch.setattr("reglab.lab.study.runner.execute_cell", fail_cell)
    with pytest.raises(KeyboardInterrupt):
        work(store, study_executor)
    counts = store.counts()
    assert counts["running"] == 0, counts
    expected = {
        # Leased, then released for a rerun: one failed trial, both cells waiting.
        "lease": {"done": 0, "running": 0, "waiting": 2, "failed": 1},
        # The completion is kept, not released.
        "complete": {"done": 1, "running": 0, "waiting": 1, "failed": 0},
        # The failure is stored whole (the first cell failed, the second is still queued).
        "release": {"done": 0, "running": 0, "waiting": 1, "failed": 1},
    }[write]
    assert counts == expected


def test_release_after_an_interrupt_retries_once_on_fresh_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, _ = prepare(_config(seeds=1))
    store = CellStore(sqlite_url(tmp_path))
    store.create(config.to_dict(), config.cells())
    original = CellStore.release
    calls: list[int] = []

    def broken_once(self: CellStore, *args: Any, **kw: Any) -> None:
        calls.append(1)
        if len(calls) == 1:  # the connection an interrupted call left behind
            raise RuntimeError("connection is closed")
        original(self, *args, **kw)

    def ctrl_c_in_cell(*_a: Any, **_k: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(CellStore, "release", broken_once)
    monkeypatch.setattr("reglab.lab.study.runner.execute_cell", ctrl_c_in_cell)
    with pytest.raises(KeyboardInterrupt):
        work(store, study_executor)
    assert len(calls) == 2
    assert store.counts() == {"done": 0, "running": 0, "waiting": 2, "failed": 1}


def test_worker_handler_interrupts_once_and_ignores_the_forwarded_copy() -> None:
    previous = signal.signal(signal.SIGINT, interrupt_once)
    try:
        with pytest.raises(KeyboardInterrupt):
            _ctrl_c()
            time.sleep(1)  # the handler runs at the next bytecode; never reached
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        _ctrl_c()  # the parent's forwarded copy: ignored
        time.sleep(0.01)
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.slow
def test_two_processes_give_the_same_results_as_one(tmp_path: Path) -> None:
    config = _config(data="wine", recipes=("baseline", "dropout", "weight_decay"))
    one = run_study(config, tmp_path / "one", jobs=1, write_report=False)
    two = run_study(config, tmp_path / "two", jobs=2, write_report=False)
    assert two.done == one.done == 6
    assert set(CellStore(sqlite_url(tmp_path / "two")).complete_counts_per_cell().values()) == {1}

    def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k not in ("seconds", "trial")} for r in rows]

    # Same seeds, same bits on CPU: every metric and every epoch of every history agrees.
    a, b = strip(one.rows), strip(two.rows)
    for r in a + b:
        r["history"] = [{k: v for k, v in h.items() if k != "seconds"} for h in r["history"]]
    assert a == b


def test_regression_study_has_loss_columns(tmp_path: Path) -> None:
    config = _config(data="diabetes", recipes=("baseline", "weight_decay"), seeds=2)
    run_study(config, tmp_path)
    rows = _csv(tmp_path / "results.csv")
    assert len(rows) == 4
    for r in rows:
        assert r["train_acc"] == r["val_acc"] == r["test_acc"] == ""
        losses = [float(r[k]) for k in ("train_loss", "val_loss", "test_loss")]
        assert all(v > 0 for v in losses)
        assert float(r["gap"]) == pytest.approx(losses[1] - losses[0])


def test_bad_recipe_for_the_data_fails_before_anything_is_stored(tmp_path: Path) -> None:
    rotate = Recipe.from_spec("augment=rotate")
    with pytest.raises(ConfigError, match=r"^Augmentation 'rotate' needs images"):
        run_study(_config(recipes=("baseline", rotate)), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_data_fails_before_anything_is_stored(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Unknown dataset 'nope'"):
        run_study(_config(data="nope"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_builtin_image_augmentation_becomes_feature_noise_on_tabular_data() -> None:
    config, dataset = prepare(_config(recipes=("baseline", "augment", "all")))
    assert dataset.kind == "tabular"
    assert config.recipe("augment").augment == "noise"
    assert config.recipe("all").augment == "noise"
    assert config.recipe("all").norm == BUILTIN_RECIPES["all"].norm
    assert config.recipe("baseline") == BUILTIN_RECIPES["baseline"]
    # Images keep the affine transforms.
    images, _ = prepare(_config(data="digits", recipes=("augment",)))
    assert images.recipe("augment").augment == "affine"


def test_config_round_trips_through_its_stored_form() -> None:
    spec = Recipe.from_spec("dropout=0.2,l1=1e-4")
    config = _config(recipes=("baseline", (spec.name, spec)))
    again = StudyConfig.from_dict(config.to_dict())
    assert again == config
    assert again.recipe(spec.name) == spec


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (
            {"seeds": 0},
            "The 'seeds' parameter of StudyConfig must be an int in [1, inf) or one of 'auto'. "
            "Got 0 instead.",
        ),
        (
            {"recipes": ("baseline", "nope")},
            "The 'recipes' parameter of StudyConfig must be one of 'all', 'augment', "
            "'baseline', 'batchnorm', 'dropout', 'early_stopping', 'eda', 'weight_decay'. "
            "Got 'nope' instead.",
        ),
        (
            {"recipes": ("baseline", "baseline")},
            "The 'recipes' parameter of StudyConfig names 'baseline' twice. Give each recipe a "
            "distinct name.",
        ),
    ],
)
def test_bad_study_config(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _config(**kw)
    assert str(err.value) == message


def test_config_mismatch_with_stored_study(tmp_path: Path) -> None:
    run_study(_config(recipes=("baseline",), seeds=1), tmp_path)
    with pytest.raises(ConfigError, match=r"different settings \(recipe_defs, recipes\)"):
        run_study(_config(recipes=("dropout",), seeds=1), tmp_path)
