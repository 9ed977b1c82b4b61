"""Shared helpers of the study fault tests: a tiny data file, CLI processes, the trial table."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
FACTORY = "tests.reliability.factories:sleepy_mlp"
# Per-run timing and bookkeeping: these differ between runs of the same cells by design.
TIMING_COLUMNS = ("seconds", "trial")


def write_npz(path: Path, n: int = 90, seed: int = 0) -> Path:
    """A small 3-class tabular data set (4 features, class-shifted Gaussians) as ``.npz``."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 4)) + y[:, None] * np.array([1.0, -0.5, 0.5, 0.0])
    np.savez(path, X=X.astype(np.float32), y=y.astype(np.int64))
    return path


def study_args(
    data: Path,
    *,
    recipes: int,
    seeds: int,
    epochs: int = 2,
    heartbeat: tuple[int, int] = (1, 3),
    jobs: int = 1,
) -> list[str]:
    """``reglab study`` options for ``recipes`` x ``seeds`` cells on ``data``, ``jobs`` workers.

    ``--jobs`` is always given: its default is one worker per core, and a test must know how
    many worker processes it is dealing with.
    """
    specs: list[str] = []
    for k in range(1, recipes):
        specs += ["--recipe", f"name=r{k},dropout={0.05 * k:.2f},width=8,depth=1"]
    return [
        "study",
        "--data",
        str(data),
        "--train-size",
        "45",
        "--val-size",
        "15",
        "--model",
        FACTORY,
        "--recipes",
        "baseline",
        *specs,
        "--seeds",
        str(seeds),
        "--epochs",
        str(epochs),
        "--no-progress",
        "--jobs",
        str(jobs),
        "--heartbeat-interval",
        str(heartbeat[0]),
        "--grace-period",
        str(heartbeat[1]),
    ]


def cli_env(
    sleep: float = 0.0, pidlog: Path | None = None, main_sleep: float | None = None
) -> dict[str, str]:
    """Environment of a CLI process: the repo importable and the test factory's knobs."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["REGLAB_TEST_SLEEP"] = str(sleep)
    env.pop("REGLAB_TEST_PIDLOG", None)
    env.pop("REGLAB_TEST_MAIN_SLEEP", None)
    if main_sleep is not None:
        env["REGLAB_TEST_MAIN_SLEEP"] = str(main_sleep)
    if pidlog is not None:
        env["REGLAB_TEST_PIDLOG"] = str(pidlog)
    return env


def start_cli(args: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m reglab.cli ARGS`` in its own process group, output into ``log``."""
    fh = log.open("wb")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "reglab.cli", *args],
            cwd=REPO,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # As from a terminal: a suite started in the background inherits an ignored
            # SIGINT, and the Ctrl-C tests need the CLI to see it.
            preexec_fn=_default_sigint,
        )
    finally:
        fh.close()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


JOIN = ["study", "--join", "--no-progress", "--jobs", "1"]


def run_cli(
    args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 300, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reglab.cli", *args],
        cwd=cwd,
        env=env if env is not None else cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def finish(proc: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> int:
    """Wait for ``proc``; on timeout kill its whole group and fail with its output."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        raise AssertionError(
            f"reglab study did not finish in {timeout} s; output:\n{log.read_text()[-3000:]}"
        ) from None


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group this test started (never anything else)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def wait_for(pred: Callable[[], Any], timeout: float, what: str, poll: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# -- the database ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialRow:
    number: int
    state: str
    cell: str | None
    failed_trial: int | None  # the trial this one retries (Optuna's retry callback)
    failure: str | None  # reglab's stored reason when it released the trial


def trials(url: str) -> list[TrialRow]:
    """Every trial of the study in ``url``, read fresh from the database."""
    from reglab.lab.queue.storage import CellStore

    store = CellStore(url)
    if not store.exists():
        return []
    rows = []
    for t in store.optuna_study.get_trials(deepcopy=False):
        cell = t.user_attrs.get("cell")
        key = f"{cell['recipe']}/{cell['seed']}" if isinstance(cell, dict) else None
        rows.append(
            TrialRow(
                t.number,
                t.state.name,
                key,
                t.system_attrs.get("failed_trial"),
                t.user_attrs.get("failure"),
            )
        )
    store.storage.engine.dispose()
    return rows


def poll_states(url: str) -> Counter[str]:
    """Trials per state with plain SQL, read-only, while workers run.

    Opening a ``CellStore`` here would create Optuna's tables if the study process has not
    yet, racing with it (see test_storage_race.py); a read-only query never writes.
    """
    from sqlalchemy import create_engine, exc, text

    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not os.path.exists(path):
            return Counter()
        engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    else:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT state, count(*) FROM trials GROUP BY state")).all()
    except (exc.OperationalError, exc.ProgrammingError):  # no tables yet, or locked
        return Counter()
    finally:
        engine.dispose()
    return Counter({str(getattr(s, "name", s)): int(n) for s, n in rows})


def assert_each_cell_once(url: str, cells: Sequence[str]) -> list[TrialRow]:
    """Every cell has exactly one COMPLETE trial; nothing is left RUNNING or WAITING."""
    from reglab.lab.queue.storage import CellStore

    rows = trials(url)
    per_cell = CellStore(url).complete_counts_per_cell()
    assert per_cell == dict.fromkeys(cells, 1), per_cell
    left = [t for t in rows if t.state in ("RUNNING", "WAITING")]
    assert left == [], left
    return rows


def cell_keys(recipes: int, seeds: int) -> list[str]:
    names = ["baseline"] + [f"r{k}" for k in range(1, recipes)]
    return [f"{r}/{s}" for r in names for s in range(seeds)]


# -- the report ------------------------------------------------------------------------------


def report_without_timing(out: Path) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """``results.csv`` rows and ``summary.json`` with the timing/bookkeeping fields removed."""
    with (out / "results.csv").open(newline="") as fh:
        rows = [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in csv.DictReader(fh)]
    rows.sort(key=lambda r: (r["recipe"], int(r["seed"])))
    summary = json.loads((out / "summary.json").read_text())
    for entry in summary["recipes"]:
        entry.pop("seconds", None)
    return rows, summary
