"""The work loop: lease a waiting cell, run it, store its result, until none is left.

Every front end keeps its cells in a :class:`~reglab.lab.queue.storage.CellStore` and runs them
here. What runs a cell is the front end's business: it passes an :data:`ExecutorFactory` (a
module-level function, so a spawned worker receives it by reference), and each worker calls it
once with the stored settings to get its :data:`CellExecutor`. Nothing here knows a study from a
claims run, and nothing is looked up from a string in the database.

A cell whose training raises is released with its traceback and counted as failed (the first
line of the stored failure is :func:`describe_failure`: the exception and the frame of the
user's own code where it happened); a ``ConfigError`` (the same settings would fail again on
every retry) stops the worker. A front end can ask every worker to stop leasing
(:meth:`~reglab.lab.queue.storage.CellStore.request_stop`), e.g. when every cell fails the same
way. A database that stops answering is waited for (see
:class:`~reglab.lab.queue.storage.CellStore`'s ``outage``); one that stays away stops the
worker with :class:`~reglab.lab.queue.storage.StorageUnreachable`, its leased cell left to go
stale. A worker
that dies is replaced by :class:`~reglab.lab.queue.workers.WorkerGroup`; its leased cell stops
beating and is queued again.

Example:
    >>> import tempfile
    >>> from reglab.lab.core.cells import Cell
    >>> from reglab.lab.queue.storage import CellStore, sqlite_url
    >>> store = CellStore(sqlite_url(tempfile.mkdtemp()))
    >>> _ = store.create({"what": "doubling"}, [Cell("x", 1), Cell("x", 2)])
    >>> def double(config, dataset, device):
    ...     return lambda cell: ({"value": 2 * cell.seed}, [])
    >>> work(store, double, poll=0.01)
    2
    >>> sorted(r["value"] for r in store.completed())
    [2, 4]
"""

from __future__ import annotations

import contextlib
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from ...errors import ConfigError
from ..core.cells import Cell, torch_threads
from .storage import CellStore, Lease, StorageUnreachable, redact
from .workers import (
    ProgressCallback,
    WorkerGroup,
    emit,
    held_interrupt,
    interrupt_pending,
    warm_up,
)

__all__ = ["CellExecutor", "ExecutorFactory", "describe_failure", "run_workers", "work"]

#: Runs one cell: returns its result row and its per-epoch history.
CellExecutor = Callable[[Cell], tuple[dict[str, Any], list[dict[str, Any]]]]

#: ``factory(stored_config, dataset, device)`` -> the executor of one worker (``dataset`` is the
#: parent's loaded data or None). A module-level function, so that spawned workers get it.
ExecutorFactory = Callable[[Mapping[str, Any], Any, str], CellExecutor]


def work(
    store: CellStore,
    make_executor: ExecutorFactory,
    *,
    poll: float = 1.0,
    on_event: Callable[[str, Lease], None] | None = None,
    dataset: Any = None,
    device: str = "cpu",
    linger: bool = False,
    idle_limit: float = 600.0,
    on_wait: Callable[[float | None], None] | None = None,
) -> int:
    """Lease and run cells until none is waiting or running; return how many this worker ran.

    While other workers still run cells, this one keeps polling, so that a cell whose worker died
    is failed by heartbeat, queued again, and picked up here. With ``linger`` it also keeps
    polling while the store :attr:`~reglab.lab.queue.storage.CellStore.is_open` (the process
    that runs the study may queue the next seeds), for at most ``idle_limit`` seconds without
    work. ``dataset`` saves loading the data again when the caller already has it.
    ``on_event`` hears ``"start"``, ``"done"``, ``"failed"`` and ``"dropped"`` (a completion
    another worker stored first) per lease. ``on_wait`` hears each wait for a database that
    stopped answering (seconds so far), then None when it is back; a Ctrl-C while waiting
    interrupts at once.
    """

    def waiting(seconds: float | None) -> None:
        if seconds is not None and interrupt_pending():
            raise KeyboardInterrupt  # nothing is half-written while the database is away
        if on_wait is not None:
            on_wait(seconds)

    store.on_wait = waiting
    execute = make_executor(store.config, dataset, device)
    warm_up()
    ran = 0
    idle_since = time.monotonic()
    while True:
        lease: Lease | None = None
        stored: bool | None = None
        try:
            # Storage writes hold Ctrl-C back until they finish: a lease, a completion or a
            # release cut in half would leave its cell RUNNING until the grace period ends.
            if store.stop_reason is not None:
                return ran
            with held_interrupt():
                store.fail_stale()
                lease = store.lease()
            if lease is None:
                # Waits out an outage (or raises): never read as "nothing left".
                counts = store.counts()
                if counts["running"] == 0 and counts["waiting"] == 0:
                    waiting_for_more = linger and store.is_open
                    if not waiting_for_more or time.monotonic() - idle_since > idle_limit:
                        return ran
                time.sleep(poll)
                continue
            idle_since = time.monotonic()
            try:
                if on_event:
                    with held_interrupt():  # it may read the storage (the progress events)
                        on_event("start", lease)
                with store.heartbeat(lease):
                    row, history = execute(lease.cell)
            except StorageUnreachable:
                raise  # releasing needs the database: the lease goes stale, a rerun retries it
            except ConfigError as exc:
                # The same settings would fail again on every retry: stop and say why.
                _release(store, lease, str(exc), retry=False)
                raise
            except Exception as exc:
                # Keep the other cells going; the failure is stored and a rerun retries it.
                reason = describe_failure(exc) + "\n" + traceback.format_exc(limit=20)
                stored = False  # released here: an interrupt must not release it a second time
                _release(store, lease, reason, retry=False)
                if on_event:
                    on_event("failed", lease)
                continue
            with held_interrupt():
                stored = store.complete(lease, row, history)
        except KeyboardInterrupt:
            if lease is not None and stored is None:
                _release(store, lease, "interrupted", retry=True, wait=False)
            raise
        ran += int(stored)
        if on_event:
            on_event("done" if stored else "dropped", lease)


_LIBRARY = Path(__file__).resolve().parents[2]  # the reglab package


def _foreign(filename: str) -> bool:
    """True for a frame of the user's own code: not reglab's, not an installed package's, not
    Python's own library."""
    path = Path(filename)
    if not path.is_absolute() or filename.startswith("<"):
        return False
    resolved = path.resolve()
    library = Path(sysconfig.get_paths()["stdlib"]).resolve()
    return not (
        resolved.is_relative_to(_LIBRARY)
        or resolved.is_relative_to(library)
        or "site-packages" in resolved.parts
        or "dist-packages" in resolved.parts
    )


def describe_failure(exc: BaseException) -> str:
    """One line: the exception's type and message, and the innermost frame of the user's own
    code (else the innermost frame) as ``file:line in function``.

    Example:
        >>> try:
        ...     {}["lr"]
        ... except KeyError as exc:
        ...     describe_failure(exc).split(" (")[0]
        "KeyError: 'lr'"
    """
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if _foreign(f.filename)]
    where = mine[-1] if mine else (frames[-1] if frames else None)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    line = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if where is not None:
        line += f" ({Path(where.filename).name}:{where.lineno} in {where.name})"
    return line


def _release(
    store: CellStore, lease: Lease, reason: str, *, retry: bool, wait: bool = True
) -> None:
    """Release ``lease``; without ``wait`` (interrupted), give up at once if the database is
    away: the lease then goes stale and is queued again by the next run."""
    with held_interrupt():
        try:
            with contextlib.nullcontext() if wait else store.patience(0):
                store.release(lease, reason, retry=retry)
        except StorageUnreachable:
            if wait:
                raise
        except Exception:
            # An interrupt that cut a database call can leave its pooled connection unusable:
            # try once more on fresh connections before giving up.
            store.storage.engine.dispose()
            store.release(lease, reason, retry=retry)


def _worker(
    url: str,
    heartbeat_interval: int,
    grace_period: int,
    outage: float,
    threads: int,
    make_executor: ExecutorFactory,
    dataset: Any = None,
    device: str = "cpu",
) -> None:
    """What a spawned worker runs (see :class:`~reglab.lab.queue.workers.WorkerGroup`)."""
    torch.set_num_threads(threads)
    store = CellStore(
        url, heartbeat_interval=heartbeat_interval, grace_period=grace_period, outage=outage
    )
    work(store, make_executor, dataset=dataset, device=device, linger=True)


def run_workers(
    store: CellStore,
    make_executor: ExecutorFactory,
    *,
    jobs: int,
    threads: int,
    report: Callable[[Mapping[str, int]], None],
    dataset: Any = None,
    on_progress: ProgressCallback | None = None,
    device: str = "cpu",
    next_wave: Callable[[], int] | None = None,
    linger: bool = False,
    watch: Callable[[Mapping[str, int]], None] | None = None,
) -> int:
    """This process works, with ``jobs - 1`` spawned worker processes beside it.

    Working here saves one process start (torch and the data are already loaded), and the
    workers get the loaded dataset instead of reading it again. A worker that dies while work
    remains is replaced (up to ``4 * jobs`` times). Whenever the queue runs dry, ``next_wave``
    (if given) may queue more cells and returns how many; the work goes on until it queues
    none. The store is open (:attr:`~reglab.lab.queue.storage.CellStore.is_open`) meanwhile,
    so the spawned workers (and workers that joined from other machines) wait for the next
    wave instead of leaving. ``linger`` makes this process wait too: a worker that joined a
    study someone else runs. ``watch`` gets the counts whenever they are read (e.g. to
    report failures as they happen). Returns the cells this process ran.

    While the database is away every worker waits for it (``store.outage`` seconds); this
    process says so once with a ``"database"`` event. A worker that gives up says why in one
    ``"error"`` event; the same message from several workers is said once, and not at all when
    this process raises it too.
    """
    args = (
        store.url,
        store.heartbeat_interval,
        store.grace_period,
        store.outage,
        threads,
        make_executor,
    )
    group = WorkerGroup(
        max_restarts=4 * jobs, on_error=lambda message: emit(on_progress, "error", message=message)
    )
    away = False

    def on_wait(seconds: float | None) -> None:
        nonlocal away
        if (seconds is not None) != away:
            away = seconds is not None
            emit(on_progress, "database", url=redact(store.url), waiting=away)

    def tend() -> None:
        counts = store.counts()
        report(counts)
        if watch is not None:
            watch(counts)
        group.tend(unfinished=counts["waiting"] + counts["running"] > 0)

    # Only a creator that may queue more seeds keeps the store open (and marks it while alive).
    coordinator = not linger and next_wave is not None
    keep_open = threading.Event()

    def mark_open() -> None:
        while not keep_open.wait(store.heartbeat_interval):
            with contextlib.suppress(Exception):  # a missed mark only shortens the wait
                store.set_open(True)

    with torch_threads(threads), group:
        try:
            marker = threading.Thread(target=mark_open, name="reglab-open", daemon=True)
            if coordinator:
                store.set_open(True)
                marker.start()
            try:
                for _ in range(jobs - 1):
                    group.start(_worker, *args, dataset, device)
                # One executor (one split cache) for all the waves of this process.
                execute = make_executor(store.config, dataset, device)
                ran = 0
                while True:
                    ran += work(
                        store,
                        lambda _config, _dataset, _device: execute,
                        on_event=lambda _e, _c: tend(),
                        dataset=dataset,
                        device=device,
                        linger=linger,
                        on_wait=on_wait,
                    )
                    if store.stop_reason is not None or next_wave is None or next_wave() == 0:
                        break
            finally:
                keep_open.set()
                if marker.is_alive():
                    marker.join()  # its last mark must not land after the store is closed
                if coordinator:
                    with contextlib.suppress(StorageUnreachable):
                        store.set_open(False)
            group.join(each=tend)
        except StorageUnreachable as exc:
            group.reported.add(str(exc))  # the caller reports it: the workers' copies are quiet
            raise
        return ran
