"""A PostgreSQL server that goes away for a while, in the middle of a study (issue 19, item 7).

The server is stopped as an administrator restarting it would (``pg_ctl stop -m fast``: open
connections cut), and started again 10 s later. The study must carry on by itself: its workers
wait and retry, and when it ends every cell has exactly one COMPLETE trial. A worker whose
database never comes back stops after its ``outage`` budget with one line that says so.

These tests run their own server (not the session's): stopping the shared one would break
whatever test runs beside them.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from reglab.cli import main as reglab_main
from reglab.lab.core.cells import Cell
from reglab.lab.queue.loop import CellExecutor, work
from reglab.lab.queue.storage import CellStore, StorageUnreachable
from tests.pgserver import PgServer

from ._lab import (
    assert_each_cell_once,
    cell_keys,
    cli_env,
    finish,
    poll_states,
    start_cli,
    stop_group,
    study_args,
    trials,
    wait_for,
    write_npz,
)
from .conftest import _Unavailable, running_server

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.xdist_group("studies"),
    pytest.mark.timeout(300),
]

OUTAGE = 10.0  # seconds the server stays down in the restart test


@pytest.fixture(scope="module")
def server() -> Iterator[PgServer | _Unavailable]:
    """A PostgreSQL server of this module alone (it is stopped and started by the tests)."""
    yield from running_server()


def test_a_study_carries_on_when_the_server_restarts_and_runs_each_cell_once(server, tmp_path):
    url = server.new_database("restart")
    assert isinstance(server, PgServer)
    data = write_npz(tmp_path / "data.npz")
    recipes, seeds = 3, 3
    cells = cell_keys(recipes, seeds)
    # A grace period shorter than the outage: every heartbeat stops while the server is down,
    # and no live worker's cell may be failed as stale when it is back.
    args = study_args(data, recipes=recipes, seeds=seeds, heartbeat=(1, 3), jobs=2)
    log = tmp_path / "study.log"
    proc = start_cli([*args, "--storage", url, "--out", str(tmp_path / "out")], cli_env(0.1), log)
    try:
        wait_for(lambda: poll_states(url)["COMPLETE"] >= 2, 180, "the first cells to complete")
        assert poll_states(url)["COMPLETE"] < len(cells), "the study ended before the restart"
        t0 = time.monotonic()
        server.pause()
        time.sleep(OUTAGE)
        server.resume()
        restarted = time.monotonic() - t0
        code = finish(proc, log, timeout=240)
    finally:
        if proc.poll() is None:
            stop_group(proc)
    output = log.read_text()
    assert code == 0, output[-3000:]
    assert restarted >= OUTAGE
    assert "is not answering; waiting for it" in output, output[-3000:]
    assert "answers again" in output, output[-3000:]
    rows = assert_each_cell_once(url, cells)
    # Nobody's cell was failed as stale after the outage (the workers were all alive).
    failed = [t for t in rows if t.state == "FAIL"]
    assert failed == [], failed
    assert poll_states(url) == {"COMPLETE": len(cells)}
    assert (tmp_path / "out" / "results.csv").is_file()


def _instant(config: Mapping[str, Any], dataset: Any, device: str) -> CellExecutor:
    return lambda cell: ({"val_acc": 1.0, "seed": cell.seed}, [])


def test_a_worker_whose_database_stays_away_stops_with_one_line_within_its_budget(server):
    url = server.new_database("away")
    assert isinstance(server, PgServer)
    store = CellStore(url, heartbeat_interval=1, grace_period=3, outage=3.0)
    store.create({"what": "away"}, [Cell("x", s) for s in range(3)])
    server.pause()
    try:
        t0 = time.monotonic()
        with pytest.raises(StorageUnreachable) as info:
            work(store, _instant, poll=0.05)
        elapsed = time.monotonic() - t0
    finally:
        server.resume()
    message = str(info.value)
    assert "\n" not in message
    assert re.fullmatch(
        r"The database at 'postgresql://postgres@127\.0\.0\.1:\d+/away_\d+_\d+' has not "
        r"answered for 3 s \(.+\); this worker stops\. Rerun the same command to resume\.",
        message,
    ), message
    assert 3.0 <= elapsed < 15.0, elapsed
    # Nothing was half-done: once the server is back, the same store runs every cell once.
    assert work(store, _instant, poll=0.05) == 3
    assert store.complete_counts_per_cell() == {"x/0": 1, "x/1": 1, "x/2": 1}


def test_the_cli_says_once_in_one_line_that_the_database_stayed_away(
    server, tmp_path, monkeypatch, capsys
):
    url = server.new_database("cli_away")
    assert isinstance(server, PgServer)
    data = write_npz(tmp_path / "data.npz")
    # The budget is an argument of CellStore; a test does not wait two minutes for it.
    defaults = dict(CellStore.__init__.__kwdefaults__ or {})
    monkeypatch.setattr(CellStore.__init__, "__kwdefaults__", {**defaults, "outage": 3.0})
    monkeypatch.setenv("REGLAB_TEST_SLEEP", "0.1")
    paused = threading.Event()

    def stop_after_first_cell() -> None:
        wait_for(lambda: poll_states(url)["COMPLETE"] >= 1, 120, "the first cell")
        server.pause()
        paused.set()

    stopper = threading.Thread(target=stop_after_first_cell, daemon=True)
    stopper.start()
    try:
        args = study_args(data, recipes=2, seeds=3, heartbeat=(1, 3), jobs=1)
        code = reglab_main([*args, "--storage", url, "--out", str(tmp_path / "out")])
    finally:
        stopper.join(130)
        if paused.is_set():
            server.resume()
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("reglab: error:")]
    assert code == 2, err
    assert len(errors) == 1, err
    assert "has not answered for 3 s" in errors[0] and "Rerun the same command" in errors[0]
    # The rerun (the server is back) finishes the study, each cell once.
    assert reglab_main([*args, "--storage", url, "--out", str(tmp_path / "out")]) == 0
    assert_each_cell_once(url, cell_keys(2, 3))
    assert all(t.state in ("COMPLETE", "FAIL") for t in trials(url))


def test_pause_and_resume_keep_the_data(server):
    url = server.new_database("keep")
    assert isinstance(server, PgServer)
    db = url.rsplit("/", 1)[1]
    server.pause()
    assert not Path(server.datadir, "postmaster.pid").exists()
    server.resume()
    assert server.sql(db, "SELECT current_database()") == [(db,)]
