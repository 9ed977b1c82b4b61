"""Study storage over Optuna's RDB: cells enqueued once, atomic claims, heartbeats, retries.

Everything here runs against real SQLite files (the default storage); the PostgreSQL versions
of the concurrency tests live with the scale-out work.
"""

from __future__ import annotations

import collections
import threading
import time
from pathlib import Path

import optuna
import pytest

from reglab import ConfigError
from reglab.lab.queue.storage import Cell, CellStore, sqlite_url

CELLS = [Cell(r, s) for r in ("baseline", "dropout") for s in range(3)]
CONFIG = {"data": "iris", "seeds": 3}


def _store(tmp_path: Path, **kw: int) -> CellStore:
    return CellStore(sqlite_url(tmp_path), **kw)


def _states(store: CellStore) -> collections.Counter[str]:
    return collections.Counter(t.state.name for t in store.optuna_study.get_trials(deepcopy=False))


def test_sqlite_url_is_study_db_in_the_folder(tmp_path: Path) -> None:
    assert sqlite_url(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'study.db'}"


def test_cells_are_enqueued_once(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert store.create(CONFIG, CELLS) == CELLS
    # Creating again (a rerun of the same command, or a second store object) adds nothing.
    assert store.create(CONFIG, CELLS) == []
    assert _store(tmp_path).create(CONFIG, CELLS) == []
    assert _states(store) == {"WAITING": len(CELLS)}
    assert store.counts() == {"done": 0, "running": 0, "waiting": 6, "failed": 0}
    assert store.config == CONFIG


def test_claim_complete_and_read_back(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.create(CONFIG, CELLS)
    lease = store.lease()
    assert lease is not None and lease.cell == CELLS[0]  # lowest trial number first
    history = [{"epoch": 0, "val_acc": 0.5}, {"epoch": 1, "val_acc": float("nan")}]
    assert store.complete(lease, {"val_acc": 0.75, "test_acc": float("inf")}, history)
    (row,) = store.completed()
    assert row["recipe"] == "baseline" and row["seed"] == 0 and row["val_acc"] == 0.75
    assert row["test_acc"] is None  # non-finite values are stored as null (valid JSON)
    assert row["history"] == [{"epoch": 0, "val_acc": 0.5}, {"epoch": 1, "val_acc": None}]
    frozen = store.optuna_study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)
    )
    assert frozen[0].value == 0.75  # the trial's objective is the validation accuracy
    assert store.counts() == {"done": 1, "running": 0, "waiting": 5, "failed": 0}


def test_regression_result_uses_negative_validation_loss(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.create(CONFIG, CELLS[:1])
    lease = store.lease()
    assert lease is not None
    store.complete(lease, {"val_acc": None, "val_loss": 2.5}, [])
    (trial,) = store.optuna_study.get_trials(deepcopy=False)
    assert trial.value == -2.5


@pytest.mark.slow
def test_racing_workers_never_claim_the_same_cell(tmp_path: Path) -> None:
    """Each worker has its own store (engine, connections), as separate processes would.

    Without ``BEGIN IMMEDIATE`` on SQLite this loses: 3 workers claimed 65-73 times for 60 cells.
    """
    workers = 3
    cells = [Cell("r", s) for s in range(24)]
    _store(tmp_path).create(CONFIG, cells)
    claimed: dict[int, list[str]] = collections.defaultdict(list)
    barrier = threading.Barrier(workers)

    def worker(k: int) -> None:
        store = _store(tmp_path)
        barrier.wait()
        while (lease := store.lease()) is not None:
            claimed[k].append(lease.cell.key)
            store.complete(lease, {"val_acc": 1.0}, [])

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [key for ks in claimed.values() for key in ks]
    assert sorted(keys) == sorted(c.key for c in cells)  # each exactly once, none twice
    store = _store(tmp_path)
    assert set(store.complete_counts_per_cell().values()) == {1}
    assert _states(store) == {"COMPLETE": 24}


def test_stale_heartbeat_fails_the_trial_and_queues_it_again(tmp_path: Path) -> None:
    store = _store(tmp_path, heartbeat_interval=1, grace_period=1)
    store.create(CONFIG, CELLS[:2])
    dead = store.lease()  # a worker that claims and then dies: no more heartbeats
    assert dead is not None
    time.sleep(2.2)
    other = _store(tmp_path, heartbeat_interval=1, grace_period=1)
    other.fail_stale()
    assert _states(other) == {"FAIL": 1, "WAITING": 2}
    # The retried copy is the same cell, and the late result of the dead worker is dropped.
    claims = [other.lease(), other.lease()]
    assert sorted(c.cell.key for c in claims if c) == sorted(c.key for c in CELLS[:2])
    assert store.complete(dead, {"val_acc": 0.1}, []) is False
    for c in claims:
        assert c is not None
        assert other.complete(c, {"val_acc": 0.9}, [])
    assert other.complete_counts_per_cell() == {CELLS[0].key: 1, CELLS[1].key: 1}
    assert {r["val_acc"] for r in other.completed()} == {0.9}


def test_a_beating_worker_is_not_failed(tmp_path: Path) -> None:
    store = _store(tmp_path, heartbeat_interval=1, grace_period=2)
    store.create(CONFIG, CELLS[:1])
    lease = store.lease()
    assert lease is not None
    with store.heartbeat(lease):
        time.sleep(3.2)
        _store(tmp_path, heartbeat_interval=1, grace_period=2).fail_stale()
        assert _states(store) == {"RUNNING": 1}
    assert store.complete(lease, {"val_acc": 0.5}, [])


def test_release_on_interrupt_requeues_the_cell(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.create(CONFIG, CELLS[:1])
    lease = store.lease()
    assert lease is not None
    store.release(lease, "interrupted", retry=True)
    assert _states(store) == {"FAIL": 1, "WAITING": 1}
    again = store.lease()
    assert again is not None and again.cell == lease.cell and again.number != lease.number
    failed = store.optuna_study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
    assert failed[0].user_attrs["failure"] == "interrupted"


def test_release_without_retry_leaves_the_cell_for_a_rerun(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.create(CONFIG, CELLS[:1])
    lease = store.lease()
    assert lease is not None
    store.release(lease, "boom", retry=False)
    assert store.lease() is None
    assert _states(store) == {"FAIL": 1}
    assert store.create(CONFIG, CELLS[:1]) == CELLS[:1]  # the rerun queues it again


def test_config_mismatch_names_the_differing_settings(tmp_path: Path) -> None:
    _store(tmp_path).create(CONFIG, CELLS)
    with pytest.raises(ConfigError) as err:
        _store(tmp_path).create({"data": "wine", "seeds": 3}, CELLS)
    url = sqlite_url(tmp_path)
    assert str(err.value) == (
        f"The storage {url!r} already holds a study with different settings (data). Use a new "
        "--out folder or --storage, or rerun with the original settings to resume."
    )


def test_loading_a_missing_study_says_how_to_start_one(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert not store.exists()
    with pytest.raises(ConfigError, match=r"holds no reglab study yet\. Start one with"):
        _ = store.config


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("postgresql://reglab:secret@127.0.0.1:1/reglab", "postgresql://reglab:***@127.0.0.1:1"),
        ("sqlite:////nonexistent-dir/sub/study.db", "sqlite:////nonexistent-dir/sub/study.db"),
        ("nosuchdb://host/db", "nosuchdb://host/db"),
    ],
)
def test_unreachable_storage_is_one_line_config_error(url: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        CellStore(url)
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(f"Cannot open the study storage '{fragment}")
    assert text.endswith(
        "Check the URL, that the server is running, and that its driver is installed."
    )
    assert "secret" not in text


def test_bad_store_settings_use_the_parameter_template(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _store(tmp_path, grace_period=0)
    assert str(err.value) == (
        "The 'grace_period' parameter of CellStore must be an int in [1, inf). Got 0 instead."
    )


def test_duplicate_waiting_trials_are_dropped_not_run(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.create(CONFIG, CELLS[:2])
    # A racing creator on a database without a queue lock could enqueue a cell twice.
    store.optuna_study.enqueue_trial({}, user_attrs={"cell": {"recipe": "baseline", "seed": 0}})
    first = store.lease()
    assert first is not None and first.cell == CELLS[0]
    second = store.lease()  # skips (and fails) the duplicate of the running cell
    assert second is not None and second.cell == CELLS[1]
    assert store.lease() is None
    failed = store.optuna_study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
    assert [t.user_attrs["failure"] for t in failed] == ["duplicate"]
    assert _states(store) == {"RUNNING": 2, "FAIL": 1}


def test_concurrent_creators_enqueue_each_cell_once(tmp_path: Path) -> None:
    _store(tmp_path)
    stores = [_store(tmp_path) for _ in range(3)]
    barrier = threading.Barrier(3)
    added: list[list[Cell]] = [[] for _ in stores]

    def create(k: int) -> None:
        barrier.wait()
        added[k] = stores[k].create(CONFIG, CELLS)

    threads = [threading.Thread(target=create, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(c.key for a in added for c in a) == sorted(c.key for c in CELLS)
    assert _states(stores[0]) == {"WAITING": len(CELLS)}
