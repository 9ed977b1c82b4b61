"""Studies under concurrency and faults: several workers, kill -9, Ctrl-C, divergence.

Every test drives the real CLI (``python -m reglab.cli study``) in separate processes against a
real database (a throwaway PostgreSQL server, or SQLite in the output folder) and counts from
the database that each (recipe, seed) cell has exactly one COMPLETE trial. Trials are made slow
with a model factory that pauses in ``forward`` (``tests.reliability.factories``), not with more
compute, so the tests stay cheap on a busy machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from reglab.cli import main as reglab_main

from ._lab import (
    JOIN,
    assert_each_cell_once,
    cell_keys,
    cli_env,
    finish,
    poll_states,
    report_without_timing,
    start_cli,
    stop_group,
    study_args,
    trials,
    wait_for,
    write_npz,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("studies"), pytest.mark.timeout(420)]


def _pids(pidlog: Path) -> list[int]:
    if not pidlog.exists():
        return []
    return [int(line.split()[0]) for line in pidlog.read_text().splitlines() if line.strip()]


@pytest.mark.postgres
def test_three_workers_on_postgres_run_each_cell_once_and_match_one_worker(postgres, tmp_path):
    url = postgres.new_database("concurrent")
    data = write_npz(tmp_path / "data.npz")
    recipes, seeds = 8, 3
    cells = cell_keys(recipes, seeds)
    # No-fault run: a generous grace period, so a worker slowed by a busy machine is not
    # presumed dead (that case is the kill test's).
    args = study_args(data, recipes=recipes, seeds=seeds, heartbeat=(1, 20))
    pidlog = tmp_path / "pids.log"
    env = cli_env(sleep=0.15, pidlog=pidlog)

    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    creator = start_cli([*args, "--storage", url, "--out", str(tmp_path / "w0")], env, logs[0])
    procs = [creator]
    try:
        wait_for(
            lambda: poll_states(url).total() == len(cells), 120, "the creator to enqueue the cells"
        )
        join = [*JOIN, "--storage", url, "--heartbeat-interval", "1", "--grace-period", "20"]
        for i in (1, 2):
            procs.append(start_cli([*join, "--out", str(tmp_path / f"w{i}")], env, logs[i]))
        codes = [finish(p, log) for p, log in zip(procs, logs)]
    finally:
        for p in procs:
            if p.poll() is None:
                stop_group(p)
    assert codes == [0, 0, 0], [log.read_text()[-2000:] for log in logs]

    # Counted twice: through reglab's store and with plain SQL on Optuna's tables.
    assert_each_cell_once(url, cells)
    db = url.rsplit("/", 1)[1]
    sql_counts = postgres.sql(
        db,
        "SELECT a.value_json, count(*) FROM trials t JOIN trial_user_attributes a "
        "ON a.trial_id = t.trial_id AND a.key = 'cell' WHERE t.state = 'COMPLETE' "
        "GROUP BY a.value_json",
    )
    assert len(sql_counts) == len(cells)
    assert {n for _, n in sql_counts} == {1}
    # The work was shared: models were built by more than one worker process.
    assert len(set(_pids(pidlog))) >= 2, _pids(pidlog)
    assert len(_pids(pidlog)) >= len(cells)

    # The same study by one worker (in this process, SQLite): the same report.
    ref = tmp_path / "single"
    assert reglab_main([*args, "--out", str(ref)]) == 0
    expected = report_without_timing(ref)
    for i in range(3):
        assert report_without_timing(tmp_path / f"w{i}") == expected, f"worker {i}"


def _heartbeat_failed_and_retried(rows: list) -> list:
    """FAIL trials left by a dead worker (no reason stored) that a later trial retried."""
    dead = [t for t in rows if t.state == "FAIL" and t.failure is None]
    retried = {t.failed_trial: t for t in rows if t.failed_trial is not None}
    out = []
    for t in dead:
        # Optuna's retry callback chains retries: follow them to the COMPLETE one.
        nxt = retried.get(t.number)
        while nxt is not None and nxt.state != "COMPLETE":
            nxt = retried.get(nxt.number)
        if nxt is not None and nxt.cell == t.cell:
            out.append((t, nxt))
    return out


@pytest.mark.postgres
def test_kill9_worker_mid_trial_on_postgres_is_retried_by_another(postgres, tmp_path):
    url = postgres.new_database("kill")
    data = write_npz(tmp_path / "data.npz")
    recipes, seeds = 2, 3
    cells = cell_keys(recipes, seeds)
    args = study_args(data, recipes=recipes, seeds=seeds, epochs=2, heartbeat=(1, 3))
    pidlog = tmp_path / "pids.log"
    env = cli_env(sleep=0.3, pidlog=pidlog)  # about 3 s per cell
    log0, log1 = tmp_path / "victim.log", tmp_path / "survivor.log"
    # The creator is the victim: it starts its first cell as soon as it has enqueued them, so
    # the kill does not depend on how long the other worker takes to start on a busy machine.
    victim = start_cli([*args, "--storage", url, "--out", str(tmp_path / "w0")], env, log0)
    survivor = None
    try:
        wait_for(
            lambda: poll_states(url).total() == len(cells), 120, "the creator to enqueue the cells"
        )
        join = [*JOIN, "--storage", url, "--out", str(tmp_path / "w1")]
        survivor = start_cli([*join, "--heartbeat-interval", "1", "--grace-period", "3"], env, log1)
        # A worker logs its pid when it builds a cell's model: the victim is inside a trial.
        wait_for(lambda: victim.pid in _pids(pidlog), 120, "the creator to start a cell")
        running_before = poll_states(url)["RUNNING"]
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
        assert finish(survivor, log1) == 0, log1.read_text()[-3000:]
    finally:
        for p in (victim, survivor):
            if p is not None and p.poll() is None:
                stop_group(p)
    assert running_before >= 1
    rows = assert_each_cell_once(url, cells)
    pairs = _heartbeat_failed_and_retried(rows)
    assert len(pairs) >= 1, rows
    # The victim's cell was finished by the survivor, which also wrote the whole report.
    assert set(_pids(pidlog)) == {victim.pid, survivor.pid}
    assert _pids(pidlog).count(victim.pid) == 1
    csv_rows, summary = report_without_timing(tmp_path / "w1")
    assert len(csv_rows) == len(cells) and summary["failed_cells"] == []


def _workers_of(pid: int) -> list[int]:
    """Worker processes (multiprocessing spawn children) of ``pid``, by /proc and pgrep -P."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    workers = []
    for child in map(int, out.split()):
        try:
            cmd = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmd:  # not the resource tracker
            workers.append(child)
    return workers


def test_kill9_worker_mid_trial_with_sqlite_jobs2_is_retried(tmp_path):
    data = write_npz(tmp_path / "data.npz")
    recipes, seeds = 2, 3
    cells = cell_keys(recipes, seeds)
    out = tmp_path / "study"
    args = study_args(data, recipes=recipes, seeds=seeds, heartbeat=(1, 3), jobs=2)
    pidlog = tmp_path / "pids.log"
    # `reglab study --jobs 2` works itself beside one spawned worker: slow it down so the
    # spawned worker gets cells however long it takes to start.
    env = cli_env(sleep=0.3, pidlog=pidlog, main_sleep=0.6)
    log = tmp_path / "study.log"
    proc = start_cli([*args, "--out", str(out)], env, log)
    try:

        def busy_worker() -> int | None:
            workers = set(_workers_of(proc.pid))
            return next((p for p in reversed(_pids(pidlog)) if p in workers), None)

        victim = wait_for(busy_worker, 180, "a worker process to start a cell")
        url = f"sqlite:///{out.resolve() / 'study.db'}"
        running_before = poll_states(url)["RUNNING"]
        os.kill(victim, signal.SIGKILL)
        assert finish(proc, log) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            stop_group(proc)
    assert running_before >= 1
    rows = assert_each_cell_once(url, cells)
    assert len(_heartbeat_failed_and_retried(rows)) >= 1, rows
    assert victim not in _pids(pidlog)[_pids(pidlog).index(victim) + 1 :]
    assert (out / "results.csv").is_file()


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_keeps_finished_cells_and_the_rerun_completes_each_once(tmp_path, jobs):
    data = write_npz(tmp_path / "data.npz")
    recipes, seeds = 2, 2 + jobs
    cells = cell_keys(recipes, seeds)
    out = tmp_path / "study"
    url = f"sqlite:///{out.resolve() / 'study.db'}"
    args = [*study_args(data, recipes=recipes, seeds=seeds, heartbeat=(1, 10), jobs=jobs)]
    args += ["--out", str(out)]
    pidlog = tmp_path / "pids.log"
    # About 2 s per cell; the main process (a worker beside jobs - 1 spawned ones) slower.
    env = cli_env(sleep=0.25, pidlog=pidlog, main_sleep=0.6 if jobs > 1 else None)
    log = tmp_path / "first.log"
    proc = start_cli(args, env, log)
    try:

        def mid_study() -> bool:
            # Every worker is past its start-up (Ctrl-C during start-up: the next test).
            if len(set(_pids(pidlog))) < jobs:
                return False
            c = poll_states(url)
            return c["COMPLETE"] >= 1 and c["RUNNING"] >= 1

        wait_for(mid_study, 180, "one finished cell and one running", poll=0.2)
        # Ctrl-C in a terminal: SIGINT to the whole foreground process group.
        os.killpg(proc.pid, signal.SIGINT)
        code = finish(proc, log, timeout=120)
    finally:
        if proc.poll() is None:
            stop_group(proc)
    text = log.read_text()
    assert code == 130, text[-3000:]
    assert "rerun the same command" in text

    # Consistent: nothing left RUNNING, nothing done twice, what finished is stored.
    rows = trials(url)
    workers = pidlog.read_text() if pidlog.exists() else ""
    assert [t for t in rows if t.state == "RUNNING"] == [], (rows, workers, text[-3000:])
    done = [t.cell for t in rows if t.state == "COMPLETE"]
    assert len(done) == len(set(done)) >= 1
    # The interrupted cell was released with a reason and queued again.
    released = [t for t in rows if t.state == "FAIL"]
    assert all(t.failure == "interrupted" for t in released), released
    # A report written on the way out lists exactly the finished cells and names the rest.
    if (out / "results.csv").exists():
        csv_rows, summary = report_without_timing(out)
        assert sorted(f"{r['recipe']}/{r['seed']}" for r in csv_rows) == sorted(done)
        assert sorted(summary["failed_cells"]) == sorted(set(cells) - set(done))

    again = tmp_path / "second.log"
    rerun = start_cli(args, env, again)
    assert finish(rerun, again) == 0, again.read_text()[-3000:]
    assert_each_cell_once(url, cells)
    # Finished cells were kept, not run again.
    after = {t.number for t in trials(url) if t.state == "COMPLETE"}
    assert {t.number for t in rows if t.state == "COMPLETE"} <= after
    with (out / "results.csv").open() as fh:
        assert len(fh.read().strip().splitlines()) == 1 + len(cells)
    # Checked last, so that the storage checks above run either way: a clean stop prints no
    # traceback, also from a worker process that was still starting when Ctrl-C came.
    assert "Traceback" not in text, text[-3000:]


def test_diverged_trial_is_recorded_with_history_and_reported(tmp_path):
    from reglab.lab.queue.storage import CellStore, sqlite_url

    data = write_npz(tmp_path / "data.npz")
    out = tmp_path / "study"
    # SGD with lr 1e12 overflows to inf/NaN within two epochs; "after" runs once it diverged.
    args = ["study", "--data", str(data), "--train-size", "45", "--val-size", "15"]
    args += ["--model", "mlp", "--seeds", "1", "--epochs", "4", "--no-progress", "--jobs", "1"]
    args += ["--recipes", "baseline", "--recipe", "name=boom,optimizer=sgd,lr=1e12"]
    args += ["--recipe", "name=after,width=8,depth=1", "--out", str(out)]
    assert reglab_main(args) == 0

    rows = {r["recipe"]: r for r in CellStore(sqlite_url(out)).completed()}
    assert sorted(rows) == ["after", "baseline", "boom"]
    boom = rows["boom"]
    assert boom["stop_reason"] == "non_finite"
    assert 1 <= len(boom["history"]) <= 4
    assert boom["history"][-1]["loss"] is None  # NaN stored as null, the epochs before kept
    assert rows["after"]["status"] == "ok" and rows["baseline"]["status"] == "ok"
    assert boom["status"] == "diverged", (
        "a trial whose loss became NaN must be stored with status 'diverged' "
        f"(got {boom['status']!r}; see /work/notes/requests-reliability.md)"
    )
    csv_rows = report_without_timing(out)[0]
    assert {r["recipe"]: r["status"] for r in csv_rows}["boom"] == "diverged"
    summary = report_without_timing(out)[1]
    assert {s["recipe"]: s["diverged"] for s in summary["recipes"]} == {
        "baseline": 0,
        "boom": 1,
        "after": 0,
    }
    html = (out / "report.html").read_text()
    assert "Diverged runs" in html and "boom/0" in html


def _maps_torch(pid: int) -> bool:
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def test_ctrl_c_while_worker_processes_start_stops_cleanly(tmp_path):
    """Ctrl-C right after ``reglab study --jobs 2`` started: its workers are still importing."""
    data = write_npz(tmp_path / "data.npz")
    out = tmp_path / "study"
    url = f"sqlite:///{out.resolve() / 'study.db'}"
    args = [*study_args(data, recipes=2, seeds=2, jobs=2), "--out", str(out)]
    pidlog = tmp_path / "pids.log"
    log = tmp_path / "study.log"
    proc = start_cli(args, cli_env(sleep=0.25, pidlog=pidlog, main_sleep=1.0), log)
    try:
        # `reglab study --jobs 2` works itself beside one spawned worker process: interrupt
        # while that one is importing torch (its shared library mapped, no trial yet).
        spawned = wait_for(
            lambda: [p for p in _workers_of(proc.pid) if _maps_torch(p)],
            180,
            "the worker process to be importing torch",
            poll=0.02,
        )
        os.killpg(proc.pid, signal.SIGINT)
        assert not set(spawned) & set(_pids(pidlog))  # it had not reached a trial
        code = finish(proc, log, timeout=120)
    finally:
        if proc.poll() is None:
            stop_group(proc)
    text = log.read_text()
    assert code == 130, text[-3000:]
    assert [t for t in trials(url) if t.state == "RUNNING"] == []
    assert "Traceback" not in text, (
        "a worker interrupted while starting printed a traceback (see "
        f"/work/notes/requests-reliability.md):\n{text[-3000:]}"
    )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_kill9_of_the_main_process_leaves_no_worker_and_the_rerun_completes(tmp_path):
    # The OOM killer or kill -9 takes the study's main process alone: its workers must not go
    # on training without a parent. They stop within seconds (parent-death signal), and the
    # next run retries their cells, each exactly once.
    data = write_npz(tmp_path / "data.npz")
    recipes, seeds = 2, 3
    cells = cell_keys(recipes, seeds)
    out = tmp_path / "study"
    args = [*study_args(data, recipes=recipes, seeds=seeds, heartbeat=(1, 3), jobs=2)]
    args += ["--out", str(out)]
    pidlog = tmp_path / "pids.log"
    log = tmp_path / "study.log"
    proc = start_cli(args, cli_env(sleep=0.3, pidlog=pidlog, main_sleep=0.6), log)
    try:
        workers = wait_for(
            lambda: [p for p in _workers_of(proc.pid) if p in _pids(pidlog)],
            180,
            "a worker process to start a cell",
        )
        os.kill(proc.pid, signal.SIGKILL)  # the main process only, not its group
        proc.wait(timeout=30)
        # every process of the study's group, spawned workers and helpers, ends by itself
        wait_for(lambda: not _group_alive(proc.pid), 15, "the study's workers to stop")
    finally:
        if _group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    assert workers
    url = f"sqlite:///{out.resolve() / 'study.db'}"
    assert poll_states(url)["COMPLETE"] < len(cells)  # the kill did cut the study short
    rerun = tmp_path / "rerun.log"
    again = start_cli(args, cli_env(), rerun)
    try:
        assert finish(again, rerun) == 0, rerun.read_text()[-3000:]
    finally:
        if again.poll() is None:
            stop_group(again)
    assert_each_cell_once(url, cells)


@pytest.mark.postgres
def test_a_sequential_study_on_postgres_is_shared_with_a_joined_worker_across_looks(
    postgres, tmp_path
):
    """--seeds auto on PostgreSQL: a worker that joined from elsewhere waits between looks
    (the store stays open while the creator queues the next seeds) and takes cells of later
    looks; every cell runs once and the verdicts are those of one worker alone."""
    url = postgres.new_database("sequential")
    data = write_npz(tmp_path / "data.npz")
    args = study_args(data, recipes=3, seeds=1, heartbeat=(1, 20))
    at = args.index("--seeds")
    # margin 0: "no effect" is never declared, so the noisy comparisons need a second look.
    args[at : at + 2] = ["--seeds", "auto", "--max-seeds", "10", "--margin", "0"]
    pidlog = tmp_path / "pids.log"
    env = cli_env(sleep=0.1, pidlog=pidlog)
    logs = [tmp_path / "creator.log", tmp_path / "joined.log"]
    creator = start_cli([*args, "--storage", url, "--out", str(tmp_path / "w0")], env, logs[0])
    procs = [creator]
    try:
        wait_for(lambda: poll_states(url).total() >= 15, 120, "the creator to queue the first look")
        join = [*JOIN, "--storage", url, "--heartbeat-interval", "1", "--grace-period", "20"]
        procs.append(start_cli([*join, "--out", str(tmp_path / "w1")], env, logs[1]))
        codes = [finish(p, log) for p, log in zip(procs, logs)]
    finally:
        for p in procs:
            if p.poll() is None:
                stop_group(p)
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]

    rows = trials(url)
    done = [t.cell for t in rows if t.state == "COMPLETE"]
    assert len(done) == len(set(done))  # each cell once
    assert len(done) > 15, "a second look ran"  # 3 recipes x 5 seeds is the first look
    assert len(set(_pids(pidlog))) >= 2, _pids(pidlog)  # the joined worker took cells

    ref = tmp_path / "single"
    assert reglab_main([*args, "--out", str(ref)]) == 0
    _, summary = report_without_timing(ref)
    _, shared = report_without_timing(tmp_path / "w0")
    verdicts = [(r["recipe"], r.get("verdict"), r.get("seeds")) for r in summary["recipes"]]
    assert [(r["recipe"], r.get("verdict"), r.get("seeds")) for r in shared["recipes"]] == verdicts
