"""The work loop: lease a waiting cell, run it, store its result, until none is left.

Every front end keeps its cells in a :class:`~reglab.lab.queue.storage.CellStore` and runs them
here. What runs a cell is the front end's business: it passes an :data:`ExecutorFactory` (a
module-level function, so a spawned worker receives it by reference), and each worker calls it
once with the stored settings to get its :data:`CellExecutor`. Nothing here knows a study from a
claims run, and nothing is looked up from a string in the database.

A cell whose training raises is released with its traceback and counted as failed; a
``ConfigError`` (the same settings would fail again on every retry) stops the worker. A worker
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

import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import torch

from ...errors import ConfigError
from ..core.cells import Cell, torch_threads
from .storage import CellStore, Lease
from .workers import ProgressCallback, WorkerGroup, emit, held_interrupt, warm_up

__all__ = ["CellExecutor", "ExecutorFactory", "run_workers", "work"]

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
) -> int:
    """Lease and run cells until none is waiting or running; return how many this worker ran.

    While other workers still run cells, this one keeps polling, so that a cell whose worker died
    is failed by heartbeat, queued again, and picked up here. With ``linger`` it also keeps
    polling while the store :attr:`~reglab.lab.queue.storage.CellStore.is_open` (the process
    that runs the study may queue the next seeds), for at most ``idle_limit`` seconds without
    work. ``dataset`` saves loading the data again when the caller already has it.
    ``on_event`` hears ``"start"``, ``"done"``, ``"failed"`` and ``"dropped"`` (a completion
    another worker stored first) per lease.
    """
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
            with held_interrupt():
                store.fail_stale()
                lease = store.lease()
            if lease is None:
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
            except ConfigError as exc:
                # The same settings would fail again on every retry: stop and say why.
                _release(store, lease, str(exc), retry=False)
                raise
            except Exception:
                # Keep the other cells going; the failure is stored and a rerun retries it.
                _release(store, lease, traceback.format_exc(limit=20), retry=False)
                stored = False  # released: an interrupt in the callback must not release again
                if on_event:
                    on_event("failed", lease)
                continue
            with held_interrupt():
                stored = store.complete(lease, row, history)
        except KeyboardInterrupt:
            if lease is not None and stored is None:
                _release(store, lease, "interrupted", retry=True)
            raise
        ran += int(stored)
        if on_event:
            on_event("done" if stored else "dropped", lease)


def _release(store: CellStore, lease: Lease, reason: str, *, retry: bool) -> None:
    with held_interrupt():
        try:
            store.release(lease, reason, retry=retry)
        except Exception:
            # An interrupt that cut a database call can leave its pooled connection unusable:
            # try once more on fresh connections before giving up.
            store.storage.engine.dispose()
            store.release(lease, reason, retry=retry)


def _worker(
    url: str,
    heartbeat_interval: int,
    grace_period: int,
    threads: int,
    make_executor: ExecutorFactory,
    dataset: Any = None,
    device: str = "cpu",
) -> None:
    """What a spawned worker runs (see :class:`~reglab.lab.queue.workers.WorkerGroup`)."""
    torch.set_num_threads(threads)
    store = CellStore(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
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
) -> int:
    """This process works, with ``jobs - 1`` spawned worker processes beside it.

    Working here saves one process start (torch and the data are already loaded), and the
    workers get the loaded dataset instead of reading it again. A worker that dies while work
    remains is replaced (up to ``4 * jobs`` times). Whenever the queue runs dry, ``next_wave``
    (if given) may queue more cells and returns how many; the work goes on until it queues
    none. The store is open (:attr:`~reglab.lab.queue.storage.CellStore.is_open`) meanwhile,
    so the spawned workers (and workers that joined from other machines) wait for the next
    wave instead of leaving. ``linger`` makes this process wait too: a worker that joined a
    study someone else runs. Returns the cells this process ran.
    """
    args = (store.url, store.heartbeat_interval, store.grace_period, threads, make_executor)
    group = WorkerGroup(
        max_restarts=4 * jobs, on_error=lambda message: emit(on_progress, "error", message=message)
    )

    def tend() -> None:
        counts = store.counts()
        report(counts)
        group.tend(unfinished=counts["waiting"] + counts["running"] > 0)

    coordinator = not linger
    with torch_threads(threads), group:
        if coordinator:
            store.set_open(True)
        try:
            for _ in range(jobs - 1):
                group.start(_worker, *args, dataset, device)
            execute = make_executor(store.config, dataset, device)  # one split cache for all waves
            ran = 0
            while True:
                ran += work(
                    store,
                    lambda _config, _dataset, _device: execute,
                    on_event=lambda _e, _c: tend(),
                    dataset=dataset,
                    device=device,
                    linger=linger,
                )
                if next_wave is None or next_wave() == 0:
                    break
        finally:
            if coordinator:
                store.set_open(False)
        group.join(each=tend)
        return ran
