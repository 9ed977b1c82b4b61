"""The queue's storage: one Optuna study in a real database, one trial per cell.

Every front end (``reglab study``, ``reglab claims``) keeps its cells here, one trial per
(recipe, seed[, size]) cell; :mod:`.loop` leases and runs them.

Why Optuna's RDB storage: it already gives a transactional trial queue (``WAITING`` trials leased
with a row lock), heartbeats that mark a killed worker's trial as failed, and a retry callback that
re-queues it. reglab adds the cell bookkeeping on top:

* every cell is enqueued once, as a ``WAITING`` trial whose user attributes name the cell;
* a worker leases a waiting trial (``WAITING -> RUNNING`` is atomic: two workers never get the
  same trial), records heartbeats while it runs, and stores the result and per-epoch history as
  user attributes before marking the trial ``COMPLETE``;
* a trial whose worker died (no heartbeat for ``grace_period`` seconds) is marked ``FAIL`` and a
  copy is queued again; an interrupted worker (Ctrl-C) does the same at once;
* a cell counts as done when it has a ``COMPLETE`` trial. Rerunning the study enqueues only the
  cells that have no waiting, running or complete trial.

SQLite in the output folder is the default; any SQLAlchemy URL works (PostgreSQL for several
machines).

A database server that goes away for a while (restarted, a network cut) is waited for: every
call a worker makes (lease, heartbeat, completion, release, counts, the stale check) retries with
backoff on fresh connections for up to ``outage`` seconds, then raises
:class:`StorageUnreachable`, one line. Writes are safe to repeat: a completion whose commit was
lost with the connection is recognised when it is retried, and no stale trial is failed until
every live worker has had the time to beat again after the outage.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ..._checks import Constraints, InstanceOf, Interval, validate_params
from ...errors import ConfigError
from ..core.cells import Cell, json_safe

__all__ = [
    "CellStore",
    "Lease",
    "StorageUnreachable",
    "open_rdb_storage",
    "redact",
    "sqlite_url",
]

STUDY_NAME = "reglab"
_CELL_ATTR = "cell"
_RESULT_ATTR = "result"
_HISTORY_ATTR = "history"
_CONFIG_ATTR = "config"
_OPEN_ATTR = "open"
_STOP_ATTR = "stop"
_OPEN_ATTEMPTS = 6
_MAX_BACKOFF = 2.0  # seconds between tries while the database is away: it is noticed soon back
T = TypeVar("T")


class StorageUnreachable(ConfigError):
    """The study's database has not answered for the store's whole ``outage`` budget.

    A ``ConfigError`` (exit code 2 in the CLI, and a worker that meets it is not replaced): a
    new worker would only wait again. Rerunning the same command resumes the study.
    """


@dataclass(frozen=True)
class Lease:
    """A trial this worker owns: its Optuna id, number, and the cell it runs."""

    trial_id: int
    number: int
    cell: Cell


def sqlite_url(out_dir: str | Path, name: str = "study.db") -> str:
    """The default storage: ``name`` (``study.db``) in the output folder."""
    return f"sqlite:///{Path(out_dir).resolve() / name}"


def _optuna() -> Any:
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Heartbeats and the retry callback are marked experimental; reglab relies on them knowingly.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def _driver_url(url: str) -> str:
    """Pick an installed PostgreSQL driver for a bare ``postgresql://`` URL.

    SQLAlchemy 2.1 maps the bare scheme to psycopg 3; reglab's ``postgres`` extra installs
    psycopg2, so use whichever of the two is importable.
    """
    if not url.startswith(("postgresql://", "postgres://")):
        return url
    import importlib.util

    rest = url.split("://", 1)[1]
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return "postgresql+psycopg2://" + rest
    return "postgresql://" + rest


def open_rdb_storage(url: str, what: str, **kwargs: Any) -> Any:
    """An Optuna ``RDBStorage`` on ``url``; a failure is one ``ConfigError`` line.

    ``what`` names the storage in the message (``"study"``, ``"tuning"``); ``kwargs`` go to
    ``RDBStorage``. SQLite waits for locks (several local processes share the file) and takes
    its write lock when a transaction starts (see ``_serialize_sqlite``); a server's pooled
    connections are checked before use.
    """
    optuna = _optuna()
    if url.startswith("sqlite"):
        engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": 60}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            storage = optuna.storages.RDBStorage(
                _driver_url(url), engine_kwargs=engine_kwargs, **kwargs
            )
            break
        except Exception as exc:  # SQLAlchemy/driver errors: one line naming the storage
            # Workers opening a fresh database together race in Optuna's check-then-create
            # of its tables; the next attempt finds them.
            if _creation_race(exc) and attempt < _OPEN_ATTEMPTS - 1:
                time.sleep(0.2 + random.random() * 0.8)
                continue
            raise ConfigError(
                f"Cannot open the {what} storage {redact(url)!r}: {_first_line(exc)}. "
                "Check the URL, that the server is running, and that its driver is installed."
            ) from None
    if storage.engine.dialect.name == "sqlite":
        _serialize_sqlite(storage.engine)
    return storage


class CellStore:
    """The cells of one study (or claims run) in an Optuna RDB storage.

    Args:
        url: SQLAlchemy URL (``sqlite:///path/study.db``, ``postgresql://user@host/db``).
        heartbeat_interval: seconds between a running trial's heartbeats.
        grace_period: seconds without a heartbeat after which a running trial is failed and
            queued again.
        max_retry: how many times one cell is retried after its worker died.
        outage: seconds a worker waits for a database server that stopped answering (each
            call retried on fresh connections) before it raises :class:`StorageUnreachable`.

    Example:
        >>> store = CellStore("sqlite:///:memory:")  # doctest: +SKIP
        >>> store.create({"data": "digits"}, [Cell("baseline", 0)])  # doctest: +SKIP
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "url": [InstanceOf(str, description="a SQLAlchemy URL string")],
        "heartbeat_interval": [Interval(int, 1, None)],
        "grace_period": [Interval(int, 1, None)],
        "max_retry": [Interval(int, 0, None)],
        "outage": [Interval(float, 0, None)],
    }

    def __init__(
        self,
        url: str,
        *,
        heartbeat_interval: int = 5,
        grace_period: int = 30,
        max_retry: int = 3,
        outage: float = 120.0,
    ) -> None:
        validate_params(self, locals())
        optuna = _optuna()
        self.url = url
        self.heartbeat_interval = int(heartbeat_interval)
        self.grace_period = int(grace_period)
        self.outage = float(outage)
        #: Hears each wait for the database (seconds it has not answered so far), and None when
        #: it answers again; it may raise to stop waiting (the work loop raises on Ctrl-C).
        self.on_wait: Callable[[float | None], None] | None = None
        self._last_lost = -math.inf  # when a call last found the database away (monotonic)
        retry_cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        if retry_cls is None:  # optuna < 4.9
            retry_cls = optuna.storages.RetryFailedTrialCallback
        callback_kw = (
            "heartbeat_stale_trial_callback"
            if "heartbeat_stale_trial_callback"
            in optuna.storages.RDBStorage.__init__.__code__.co_varnames
            else "failed_trial_callback"
        )
        self.storage = open_rdb_storage(
            url,
            "study",
            heartbeat_interval=self.heartbeat_interval,
            grace_period=self.grace_period,
            **{callback_kw: retry_cls(max_retry=max_retry)},
        )
        self._study: Any = None

    # -- study ---------------------------------------------------------------------------------

    @property
    def optuna_study(self) -> Any:
        if self._study is None:
            optuna = _optuna()
            try:
                self._study = optuna.load_study(study_name=STUDY_NAME, storage=self.storage)
            except KeyError:
                raise ConfigError(
                    f"The storage {redact(self.url)!r} holds no reglab study yet. "
                    "Start one with `reglab study` (without --join) first."
                ) from None
        return self._study

    def exists(self) -> bool:
        optuna = _optuna()
        names = [s.study_name for s in optuna.get_all_study_summaries(self.storage)]
        return STUDY_NAME in names

    def create(self, config: dict[str, Any], cells: Sequence[Cell]) -> list[Cell]:
        """Create the study (or open it) and enqueue the cells that are not queued or done.

        Returns the cells that were newly enqueued. A study that already exists must have the
        same ``config``; otherwise a ``ConfigError`` says what differs. Several processes or
        machines may create the same study at once: each cell is still enqueued once.
        """
        optuna = _optuna()
        study = optuna.create_study(
            study_name=STUDY_NAME,
            storage=self.storage,
            direction="maximize",
            load_if_exists=True,
        )
        self._study = study
        with self._queue_lock():
            stored = study.user_attrs.get(_CONFIG_ATTR)
            wanted = json_safe(config)
            if stored is None:
                study.set_user_attr(_CONFIG_ATTR, wanted)
            elif diff := _differences(stored, wanted):
                raise ConfigError(
                    f"The storage {redact(self.url)!r} already holds a study with different "
                    f"settings ({', '.join(diff)}). Use a new --out folder or --storage, or rerun "
                    "with the original settings to resume."
                )
            return self._enqueue_unlocked(cells)

    @property
    def config(self) -> dict[str, Any]:
        cfg = self._call(lambda: self.optuna_study.user_attrs.get(_CONFIG_ATTR))
        if cfg is None:
            raise ConfigError(f"The study in {redact(self.url)!r} has no stored settings.")
        return dict(cfg)

    def enqueue_missing(self, cells: Sequence[Cell]) -> list[Cell]:
        """Queue each cell that has no waiting, running or complete trial.

        Safe to retry after a lost connection: a cell queued by the lost attempt is found.
        """

        def enqueue() -> list[Cell]:
            with self._queue_lock():
                return self._enqueue_unlocked(cells)

        return self._call(enqueue)

    @contextlib.contextmanager
    def _queue_lock(self) -> Iterator[None]:
        """Serialize read-then-enqueue across processes and machines.

        SQLite: an exclusive ``flock`` on ``<database>.lock`` beside the file. PostgreSQL: a
        session advisory lock held on its own connection. Other databases get no lock; there
        the duplicate check in :meth:`lease` still keeps each cell to one run.
        """
        engine = self.storage.engine
        name = engine.dialect.name
        if name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            import fcntl

            with open(f"{engine.url.database}.lock", "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
        elif name == "postgresql":
            from sqlalchemy import text

            with engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                    conn.commit()
        else:
            yield

    def _enqueue_unlocked(self, cells: Sequence[Cell]) -> list[Cell]:
        optuna = _optuna()
        states = (
            optuna.trial.TrialState.WAITING,
            optuna.trial.TrialState.RUNNING,
            optuna.trial.TrialState.COMPLETE,
        )
        trials = self.optuna_study.get_trials(deepcopy=False, states=states)
        present = {c.key for c in map(_cell_of, trials) if c is not None}
        added = []
        for cell in cells:
            if cell.key not in present:
                self.optuna_study.enqueue_trial({}, user_attrs={_CELL_ATTR: cell.attrs()})
                added.append(cell)
        return added

    # -- leasing and finishing ----------------------------------------------------------------

    def fail_stale(self) -> None:
        """Fail running trials whose worker stopped beating, and queue them again.

        Not right after the database was away: the heartbeats stopped for every worker then,
        and each live one gets ``grace_period`` seconds to beat again before any is failed.
        """
        optuna = _optuna()
        if time.monotonic() - self._last_lost < self.grace_period + self.heartbeat_interval:
            return
        self._call(lambda: optuna.storages.fail_stale_trials(self.optuna_study))

    def lease(self) -> Lease | None:
        """Take one waiting trial (atomically), or return None when none is waiting.

        A waiting trial whose cell already has a running or complete trial, or an older
        waiting one, is a duplicate (enqueued by a racing creator): it is failed with
        ``failure="duplicate"`` and never run.
        """
        optuna = _optuna()
        TrialState = optuna.trial.TrialState
        trials = self._call(
            lambda: self.optuna_study.get_trials(
                deepcopy=False,
                states=(TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE),
            )
        )
        taken = {
            c.key
            for t in trials
            if t.state != TrialState.WAITING and (c := _cell_of(t)) is not None
        }
        queued: set[str] = set()
        waiting = [t for t in trials if t.state == TrialState.WAITING]
        for t in sorted(waiting, key=lambda t: t.number):
            cell = _cell_of(t)
            if cell is None:
                continue
            trial_id = t._trial_id
            if cell.key in taken or cell.key in queued:
                self._drop_duplicate(trial_id)
                continue
            queued.add(cell.key)
            # Beat before leasing: a running trial with no heartbeat row is never found stale,
            # so a worker killed right after the lease would otherwise hold the cell forever.
            # (A lease whose commit was lost with the connection reads as taken when retried;
            # its trial is failed as stale after the grace period and queued again.)
            self._call(lambda: self.storage.record_heartbeat(trial_id))  # noqa: B023
            try:
                ok = self._call(
                    lambda: self.storage.set_trial_state_values(trial_id, TrialState.RUNNING)  # noqa: B023
                )
            except optuna.exceptions.UpdateFinishedTrialError:
                ok = False
            if ok:
                return Lease(trial_id, t.number, cell)
        return None

    def _drop_duplicate(self, trial_id: int) -> None:
        optuna = _optuna()
        TrialState = optuna.trial.TrialState
        # Lease it first, so no other worker runs it while it is being failed.
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            if self._call(
                lambda: self.storage.set_trial_state_values(trial_id, TrialState.RUNNING)
            ):
                self._call(
                    lambda: self.storage.set_trial_user_attr(trial_id, "failure", "duplicate")
                )
                self._call(lambda: self.storage.set_trial_state_values(trial_id, TrialState.FAIL))

    @contextlib.contextmanager
    def heartbeat(self, lease: Lease) -> Iterator[None]:
        """Record heartbeats for ``lease`` in a background thread while the block runs.

        The thread never gives up: a beat that fails (the database away) is tried again every
        second on fresh connections, so the lease beats as soon as the database is back (a
        silent heartbeat would get the cell failed as stale and run twice). The block decides
        when to stop waiting for the database.
        """
        stop = threading.Event()

        def beat() -> None:
            wait = float(self.heartbeat_interval)
            while not stop.wait(wait):
                try:
                    self.storage.record_heartbeat(lease.trial_id)
                    wait = float(self.heartbeat_interval)
                except Exception as exc:  # never let the thread die: the next beat retries
                    if self._lost(exc):
                        self._last_lost = time.monotonic()
                        with contextlib.suppress(Exception):
                            self.storage.engine.dispose()
                    wait = min(1.0, float(self.heartbeat_interval))

        thread = threading.Thread(target=beat, name=f"reglab-heartbeat-{lease.number}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def complete(self, lease: Lease, result: dict[str, Any], history: list[dict[str, Any]]) -> bool:
        """Store the result and history and mark the trial complete.

        Returns False when the trial was already failed by another worker (this worker was
        presumed dead); its result is then dropped, and the retried copy produces it. A
        completion retried after a lost connection whose first commit went through finds its
        trial already complete, and returns True (only the lease holder completes a trial).
        """
        optuna = _optuna()
        value = result.get("val_acc")
        if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
            value = -float(result.get("val_loss") or 0.0)
        if not math.isfinite(value):
            value = 0.0
        tid = lease.trial_id
        try:
            self._call(
                lambda: self.storage.set_trial_user_attr(tid, _RESULT_ATTR, json_safe(result))
            )
            history_json = json.dumps(json_safe(history))
            self._call(lambda: self.storage.set_trial_user_attr(tid, _HISTORY_ATTR, history_json))
            return bool(
                self._call(
                    lambda: self.storage.set_trial_state_values(
                        tid, optuna.trial.TrialState.COMPLETE, [float(value)]
                    )
                )
            )
        except optuna.exceptions.UpdateFinishedTrialError:
            state = self._call(lambda: self.storage.get_trial(tid).state)
            return bool(state == optuna.trial.TrialState.COMPLETE)

    def release(self, lease: Lease, reason: str, *, retry: bool = True) -> None:
        """Fail a leased trial (interrupt or error) and, with ``retry``, queue its cell again."""
        optuna = _optuna()
        tid = lease.trial_id
        try:
            self._call(lambda: self.storage.set_trial_user_attr(tid, "failure", reason[:2000]))
            self._call(
                lambda: self.storage.set_trial_state_values(tid, optuna.trial.TrialState.FAIL)
            )
        except optuna.exceptions.UpdateFinishedTrialError:
            # Failed by another worker's stale check (which queued it again), or by this call's
            # own first try whose answer was lost with the connection: queue it if it is not.
            pass
        if retry:
            self.enqueue_missing([lease.cell])

    # -- reading -------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Cells done, running, waiting, and failed trials (each retry counts once)."""
        optuna = _optuna()
        S = optuna.trial.TrialState
        out = {"done": 0, "running": 0, "waiting": 0, "failed": 0}
        names = {S.COMPLETE: "done", S.RUNNING: "running", S.WAITING: "waiting", S.FAIL: "failed"}
        for t in self._call(lambda: self.optuna_study.get_trials(deepcopy=False)):
            if t.state in names:
                out[names[t.state]] += 1
        return out

    def completed(self) -> list[dict[str, Any]]:
        """Result rows of the complete trials, each with ``recipe``, ``seed`` and ``history``.

        A sweep's cell also sets ``train_size`` (the cell's, whatever the result says).
        """
        optuna = _optuna()
        rows = []
        for t in self._call(
            lambda: self.optuna_study.get_trials(
                deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)
            )
        ):
            cell = _cell_of(t)
            if cell is None:
                continue
            result = dict(t.user_attrs.get(_RESULT_ATTR, {}))
            result["recipe"] = cell.recipe
            result["seed"] = cell.seed
            if cell.train_size is not None:
                result["train_size"] = cell.train_size
            result["trial"] = t.number
            result["history"] = json.loads(t.user_attrs.get(_HISTORY_ATTR, "[]"))
            rows.append(result)
        rows.sort(key=lambda r: (r["recipe"], r["seed"], r.get("train_size") or 0))
        return rows

    def complete_counts_per_cell(self) -> dict[str, int]:
        """How many complete trials each cell has (exactly one when all went well)."""
        optuna = _optuna()
        counts: dict[str, int] = {}
        for t in self._call(
            lambda: self.optuna_study.get_trials(
                deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)
            )
        ):
            cell = _cell_of(t)
            if cell is not None:
                counts[cell.key] = counts.get(cell.key, 0) + 1
        return counts

    def failures(self) -> list[tuple[Cell, str]]:
        """Cells that failed in their worker and have no complete trial: each with the first
        line of its stored failure (interrupted cells and dead workers' cells, which are
        queued again, are not failures)."""
        optuna = _optuna()
        S = optuna.trial.TrialState
        done: set[str] = set()
        failed: dict[str, tuple[Cell, str]] = {}
        trials = self._call(
            lambda: self.optuna_study.get_trials(deepcopy=False, states=(S.COMPLETE, S.FAIL))
        )
        for t in trials:
            cell = _cell_of(t)
            if cell is None:
                continue
            if t.state == S.COMPLETE:
                done.add(cell.key)
                continue
            reason = str(t.user_attrs.get("failure", ""))
            if reason and reason != "interrupted":
                failed.setdefault(cell.key, (cell, reason.splitlines()[0]))
        return [v for k, v in failed.items() if k not in done]

    def known_cells(self) -> list[Cell]:
        """Every cell with a trial in any state (queued, running, done or failed), once each."""
        seen: dict[str, Cell] = {}
        for t in self._call(lambda: self.optuna_study.get_trials(deepcopy=False)):
            cell = _cell_of(t)
            if cell is not None:
                seen.setdefault(cell.key, cell)
        return list(seen.values())

    def enqueue_new(self, cells: Sequence[Cell]) -> list[Cell]:
        """Queue each cell that has no trial at all (a cell that failed in this run stays
        failed: a rerun of the command retries it, as :meth:`create` does)."""

        def enqueue() -> list[Cell]:
            with self._queue_lock():
                known = {c.key for c in self.known_cells()}
                return self._enqueue_unlocked([c for c in cells if c.key not in known])

        return self._call(enqueue)

    @property
    def stop_reason(self) -> str | None:
        """Why the run that owns the study asked every worker to stop leasing (or None)."""
        reason = self._call(lambda: self.optuna_study.user_attrs.get(_STOP_ATTR))
        return str(reason) if reason else None

    def request_stop(self, reason: str | None) -> None:
        """Ask every worker to stop leasing cells (None: carry on); running cells finish."""
        self._call(lambda: self.optuna_study.set_user_attr(_STOP_ATTR, reason))

    @property
    def is_open(self) -> bool:
        """True while the process that created the study may still queue cells (workers that
        joined from elsewhere keep polling until then): it marked the store open less than
        ``grace_period`` seconds ago (a creator that died stops marking it)."""
        marked = self._call(lambda: self.optuna_study.user_attrs.get(_OPEN_ATTR))
        return isinstance(marked, (int, float)) and time.time() - marked < self.grace_period

    def set_open(self, value: bool) -> None:
        """Mark whether more cells may still be queued (see :attr:`is_open`); the creator marks
        it again every ``heartbeat_interval`` seconds while it may."""
        stamp = time.time() if value else None
        self._call(lambda: self.optuna_study.set_user_attr(_OPEN_ATTR, stamp))

    # -- a database that goes away -------------------------------------------------------------

    @contextlib.contextmanager
    def patience(self, outage: float) -> Iterator[None]:
        """Wait at most ``outage`` seconds for the database inside the block (``0``: one retry
        on fresh connections, as when a worker is interrupted and must not hang)."""
        saved, self.outage = self.outage, float(outage)
        try:
            yield
        finally:
            self.outage = saved

    def _lost(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the database server is out of reach (not an SQLite file)."""
        return self.storage.engine.dialect.name != "sqlite" and _connection_lost(exc)

    def _call(self, fn: Callable[[], T]) -> T:
        """``fn()``, retried with backoff on fresh connections while the database is away.

        After ``outage`` seconds without an answer (and at least one retry), raise
        :class:`StorageUnreachable`. ``on_wait`` hears each wait, then None once it answers.
        """
        started: float | None = None
        tries = 0
        while True:
            try:
                out = _locked(fn)
            except Exception as exc:
                if not self._lost(exc):
                    raise
                now = time.monotonic()
                self._last_lost = now
                started = now if started is None else started
                waited = now - started
                tries += 1
                with contextlib.suppress(Exception):  # drop the pool's dead connections
                    self.storage.engine.dispose()
                if waited >= self.outage and tries > 1:
                    raise StorageUnreachable(
                        f"The database at {redact(self.url)!r} has not answered for "
                        f"{self.outage:.0f} s ({_driver_message(exc)}); this worker stops. "
                        "Rerun the same command to resume."
                    ) from None
                if self.on_wait is not None:
                    self.on_wait(waited)
                pause = min(_MAX_BACKOFF, 0.25 * 2 ** (tries - 1)) * (0.75 + random.random() / 2)
                time.sleep(max(0.0, min(pause, self.outage - waited)) if tries > 1 else 0.0)
                continue
            if started is not None:
                self._last_lost = time.monotonic()
                if self.on_wait is not None:
                    self.on_wait(None)
            return out


def _connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a lost or refused database connection.

    Optuna wraps a failed commit in ``StorageInternalError``; the driver's error is its cause.
    SQLite's "database is locked" is contention, not an outage (``_locked`` waits for it).
    """
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, sa_exc.DBAPIError) and cur.connection_invalidated:
            return True
        if isinstance(cur, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
            return True
        if isinstance(cur, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return "locked" not in str(cur)
        name = type(cur).__name__
        if type(cur).__module__.startswith("psycopg") and name in (
            "OperationalError",
            "InterfaceError",
        ):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _driver_message(exc: BaseException) -> str:
    """The first line of the driver's own error inside ``exc`` (what the server said)."""
    cur: BaseException | None = exc
    while cur is not None:
        orig = getattr(cur, "orig", None)
        if isinstance(orig, BaseException):
            return _first_line(orig)
        if cur.__cause__ is None and cur.__context__ is None:
            break
        cur = cur.__cause__ or cur.__context__
    return _first_line(exc)


# One advisory-lock key for reglab's enqueueing on a PostgreSQL server (64-bit signed).
_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"reglab.lab.queue.storage.enqueue").digest()[:8], "big", signed=True
)


def _creation_race(exc: BaseException) -> bool:
    """Whether ``exc`` is Optuna's table creation losing a race with another worker."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.IntegrityError):
        return True
    text = str(exc).lower()
    return isinstance(exc, (sa_exc.OperationalError, sa_exc.ProgrammingError)) and (
        "already exists" in text or "duplicate key" in text
    )


def _serialize_sqlite(engine: Any) -> None:
    """Make every SQLite transaction take the write lock when it starts (``BEGIN IMMEDIATE``).

    Python's sqlite3 driver only opens a transaction at the first write, so Optuna's
    read-check-write of a trial state (``WAITING -> RUNNING`` when leasing, ``RUNNING -> FAIL``
    when failing a stale trial) runs its read outside any transaction: two workers can both read
    ``WAITING`` and both lease the same cell. With the lock taken at ``BEGIN``, the second
    worker waits and then reads ``RUNNING``. (PostgreSQL gets the same guarantee from the
    ``SELECT ... FOR UPDATE`` Optuna already issues.)
    """
    from sqlalchemy import event

    if engine.url.database in (None, "", ":memory:"):
        return  # one connection per thread, nothing shared: and disposing would drop the data

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver stops opening transactions itself

    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    engine.dispose()  # connections opened while Optuna created the tables lack the hooks


def _cell_of(trial: Any) -> Cell | None:
    attr = trial.user_attrs.get(_CELL_ATTR)
    if not isinstance(attr, dict) or "recipe" not in attr or "seed" not in attr:
        return None
    size = attr.get("train_size")
    return Cell(str(attr["recipe"]), int(attr["seed"]), None if size is None else int(size))


def _differences(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Settings whose stored and wanted values differ; a missing key equals None.

    A study stored before a setting existed has no key for it; the setting's default (None)
    means the same, so that study still resumes.
    """
    return sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))


def _locked(fn: Callable[[], T], attempts: int = 30, delay: float = 0.1) -> T:
    """Call ``fn``, retrying while SQLite says "database is locked" (concurrent local workers)."""
    from sqlalchemy import exc as sa_exc

    for i in range(attempts):
        try:
            return fn()
        except sa_exc.OperationalError as exc:
            if "locked" not in str(exc) or i == attempts - 1:
                raise
            time.sleep(delay * (1 + i))
    raise AssertionError("unreachable")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text else type(exc).__name__


def redact(url: str) -> str:
    """Hide a password in a URL before it goes into a message."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url
