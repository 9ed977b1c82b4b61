"""Worker processes of the lab: one spawn pool, one interrupt policy, one progress channel.

``reglab study`` and ``reglab tune`` run their work in the process the user started plus
spawned worker processes (``spawn``: a fresh interpreter, safe beside torch's threads):

* :class:`WorkerGroup` — long-lived workers that claim their own work from the shared storage
  (a study's cells, a tuning run's trials). A worker that dies is replaced while work remains;
  one that exits with code 2 met a configuration error, which a new worker would meet again, so
  it is not. Its message comes back to the parent as an ``"error"`` :class:`Event`.
* :func:`map_cells` — a process pool for independent cells the parent saves as each one ends
  (a tuning run's confirmation and test evaluation).

The interrupt policy (Ctrl-C, SIGINT), the same for every command:

1. The parent alone decides. A Ctrl-C in a terminal reaches the whole process group; the parent
   raises ``KeyboardInterrupt``, saves what finished and propagates it.
2. Every child starts with SIGINT ignored (ignored signals survive ``exec``), so a Ctrl-C while
   it is still importing torch cannot print a traceback there.
3. A :class:`WorkerGroup` worker, once started, interrupts at the first SIGINT and ignores the
   copies that follow (:func:`interrupt_once`): the terminal's copy and the one the parent
   forwards. It releases its claimed work and exits with code 130; the parent waits for it.
   A parent that ignores SIGINT (started in the background) has workers that ignore it too.
4. A :func:`map_cells` child keeps SIGINT ignored for good: the parent stops the pool, and the
   cells that ended are already saved.
5. Storage writes run under :func:`held_interrupt`: a claim, a completion or a release is never
   cut in half.

No child outlives its parent: every worker and pool child calls :func:`watch_parent` first, so
when the parent dies without cleaning up (``kill -9``, the kernel's OOM killer) the child ends
within a second (at once on Linux, by the parent-death signal). Its claimed cell stops
beating and is queued again for the next run.

Progress reaches the caller as :class:`Event` objects through an ``on_progress`` callback; the
library never prints (the CLI draws them).

Example:
    >>> events = []
    >>> emit(events.append, "cells", done=3, total=8, running=2)
    >>> events[0].kind, events[0].done, events[0].info["running"]
    ('cells', 3, 2)
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import ConfigError

__all__ = [
    "Event",
    "ProgressCallback",
    "WorkerGroup",
    "cells_reporter",
    "default_jobs",
    "emit",
    "held_interrupt",
    "ignore_interrupt",
    "interrupt_once",
    "interrupt_pending",
    "map_cells",
    "warm_up",
    "watch_parent",
]


@dataclass(frozen=True)
class Event:
    """One progress report: ``kind`` names it, ``done`` of ``total`` units, ``info`` the rest.

    Kinds: ``"settings"`` (what a study runs: data, sizes, test source, model, recipes,
    seeds, workers, device), ``"cells"`` (a study's counts: ``running``, ``failed``, ``waiting``), ``"trial"`` (a
    finished tuning trial), ``"confirm"`` and ``"confirmed"`` (a tuning run's confirmation
    stage), ``"error"`` (a worker process stopped on a configuration error: ``message``),
    ``"database"`` (the database stopped answering and this process waits for it: ``url``,
    ``waiting`` True; then ``waiting`` False once it answers again).
    """

    kind: str
    done: int = 0
    total: int = 0
    info: Mapping[str, Any] = field(default_factory=dict)


ProgressCallback = Callable[[Event], None]


def emit(
    on_progress: ProgressCallback | None, kind: str, done: int = 0, total: int = 0, **info: Any
) -> None:
    """Send one :class:`Event` to ``on_progress`` (nothing when it is None)."""
    if on_progress is not None:
        on_progress(Event(kind, done, total, info))


def cells_reporter(
    on_progress: ProgressCallback | None, total: int | Callable[[], int]
) -> Callable[[Mapping[str, int]], None]:
    """A callback turning storage counts into ``"cells"`` events (``done`` of ``total``, the
    other counts as info), as a study and a claims run report them. ``total`` may be a callable,
    read at each report: a sequential run queues more cells as it decides."""

    def report(counts: Mapping[str, int]) -> None:
        n = total() if callable(total) else total
        rest = {k: v for k, v in counts.items() if k != "done"}
        emit(on_progress, "cells", min(counts.get("done", 0), n), n, **rest)

    return report


def default_jobs() -> int:
    """One worker per CPU core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# -- the interrupt policy ----------------------------------------------------------------------


@contextlib.contextmanager
def held_interrupt() -> Iterator[None]:
    """Hold SIGINT back while the block runs, then deliver it to the handler it would have met.

    Outside the main thread Python handles no signals, and the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    _held.append(caught)
    try:
        yield
    finally:
        _held.remove(caught)
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(signal.SIGINT, None)
        elif caught and previous == signal.SIG_DFL:
            os.kill(os.getpid(), signal.SIGINT)


_held: list[list[int]] = []  # the interrupts each open held_interrupt block caught


def interrupt_pending() -> bool:
    """Whether a Ctrl-C is being held back by :func:`held_interrupt` right now.

    A storage call that only waits (the database is away, nothing half-written) checks it, so
    that Ctrl-C does not wait out the whole outage.
    """
    return any(_held)


def interrupt_once(_signum: int, _frame: Any) -> None:
    """SIGINT handler of a worker process: interrupt, and ignore the copies that follow.

    A Ctrl-C in a terminal reaches the worker twice: from the terminal (the whole process
    group) and forwarded by the parent. The second must not cut the release of the work.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def ignore_interrupt() -> None:
    """Ignore SIGINT in this process (a pool child: the parent handles Ctrl-C)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def warm_up() -> None:
    """Import what a cell uses before the first one starts, so its ``seconds`` are comparable."""
    import importlib

    for name in ("models", "train", "augment", "penalty", "optim", "callbacks", "constraints"):
        importlib.import_module(f"reglab.{name}")
    importlib.import_module("reglab.lab.core.run")


def watch_parent(parent: int, interval: float = 0.5) -> None:
    """End this process when process ``parent`` is gone (killed without a chance to clean up).

    On Linux the kernel sends SIGKILL when the parent dies (``PR_SET_PDEATHSIG``); everywhere,
    a daemon thread checks every ``interval`` seconds whether this process was re-parented.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(1)

    def poll() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=poll, name="reglab-watch-parent", daemon=True).start()


_PR_SET_PDEATHSIG = 1


# -- long-lived workers ------------------------------------------------------------------------


def _worker_main(
    target: Callable[..., Any],
    args: tuple[Any, ...],
    errors: Any,
    arm: bool = True,
    parent: int | None = None,
) -> None:
    """Entry point of a spawned worker: arm the interrupt, run ``target``, exit with a code.

    Exit codes: 0 done, 130 interrupted, 2 a configuration error (its message goes to the
    parent through ``errors``). ``arm`` False (the parent ignores SIGINT, e.g. it runs in the
    background) keeps SIGINT ignored here too.
    """
    # Started with SIGINT ignored (see WorkerGroup.start): from here on a Ctrl-C interrupts
    # the work, which the target releases for another worker. The codes are this child's exit
    # status (multiprocessing reads SystemExit); an exception left to multiprocessing would
    # print a traceback.
    if parent is not None:
        watch_parent(parent)
    if arm:
        signal.signal(signal.SIGINT, interrupt_once)
    try:
        target(*args)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except ConfigError as exc:
        with held_interrupt():
            errors.put(str(exc))
        raise SystemExit(2) from None


class WorkerGroup:
    """Spawned processes that each run ``target(*args)`` until their work is gone.

    Use it as a context manager: on ``KeyboardInterrupt`` the interrupt is forwarded to the
    workers, which get ``grace`` seconds to release their work; any worker still alive when
    the block ends is terminated.

    Args:
        max_restarts: how many dead workers (exit code other than 0 and 2) may be replaced.
        on_error: receives the message of each worker that stopped on a configuration error.
        grace: seconds an interrupted worker gets to release its work.
    """

    def __init__(
        self,
        *,
        max_restarts: int = 0,
        on_error: Callable[[str], None] | None = None,
        grace: float = 30.0,
    ) -> None:
        self._ctx = mp.get_context("spawn")
        self._errors: Any = None  # made with the first worker (it starts a resource tracker)
        self._procs: list[tuple[Any, Callable[..., Any], tuple[Any, ...]]] = []
        self.max_restarts = max_restarts
        self.restarts = 0
        self.on_error = on_error
        self.grace = grace
        #: Messages already reported (several workers meeting the same error say it once).
        self.reported: set[str] = set()

    def start(self, target: Callable[..., Any], *args: Any) -> None:
        """Start one worker process running ``target(*args)`` (both picklable)."""
        if self._errors is None:
            self._errors = self._ctx.SimpleQueue()
        # The child starts with SIGINT ignored; _worker_main arms the handler once it runs,
        # unless this process ignores SIGINT itself.
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        arm = old != signal.SIG_IGN
        p = self._ctx.Process(
            target=_worker_main,
            args=(target, args, self._errors, arm, os.getpid()),
            daemon=False,
        )
        try:
            p.start()
        finally:
            signal.signal(signal.SIGINT, old)
        self._procs.append((p, target, args))

    def alive(self) -> int:
        """Workers not yet reaped by :meth:`tend`."""
        return len(self._procs)

    def tend(self, unfinished: bool = True) -> None:
        """Reap workers that ended; replace dead ones while work is ``unfinished``."""
        for entry in list(self._procs):
            p, target, args = entry
            if p.is_alive():
                continue
            p.join()
            self._procs.remove(entry)
            dead = p.exitcode not in (0, 2)
            if dead and unfinished and self.restarts < self.max_restarts:
                self.restarts += 1
                self.start(target, *args)
        self._drain()

    def join(self, poll: float = 0.5, each: Callable[[], None] | None = None) -> None:
        """Wait until every worker ended, calling ``each`` (or :meth:`tend`) every ``poll`` s."""
        while self._procs:
            time.sleep(poll)
            if each is not None:
                each()
            else:
                self.tend()

    def _drain(self) -> None:
        while self._errors is not None and not self._errors.empty():
            message = self._errors.get()
            if message in self.reported:
                continue
            self.reported.add(message)
            if self.on_error is not None:
                self.on_error(message)

    def interrupt(self) -> None:
        """Forward SIGINT to every live worker and give them ``grace`` seconds to end.

        A worker still starting ignores it and holds no work; :meth:`close` terminates it.
        """
        for p, _, _ in self._procs:
            if p.is_alive() and p.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGINT)
        for p, _, _ in self._procs:
            p.join(timeout=self.grace)

    def close(self) -> None:
        """Terminate workers still alive and report errors that came back."""
        for p, _, _ in self._procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        with contextlib.suppress(Exception):  # closing must never hide what happened
            self._drain()

    def __enter__(self) -> WorkerGroup:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
                self.interrupt()
        finally:
            self.close()


# -- independent cells -------------------------------------------------------------------------


def map_cells(
    fn: Callable[[Any], Any], items: Iterable[Any], jobs: int
) -> Iterator[tuple[int, Any]]:
    """``(index, fn(item))`` for each item as it ends, ``jobs`` processes at a time.

    With ``jobs`` 1 (or one item) the cells run in this process, in order. The children ignore
    SIGINT; on any exception here (Ctrl-C included) the pool is terminated at once.
    """
    items = list(items)
    if jobs <= 1 or len(items) <= 1:
        for i, item in enumerate(items):
            yield i, fn(item)
        return
    pool = mp.get_context("spawn").Pool(
        min(jobs, len(items)), initializer=_pool_child, initargs=(os.getpid(),)
    )
    try:
        yield from pool.imap_unordered(_indexed, [(i, fn, item) for i, item in enumerate(items)])
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def _pool_child(parent: int) -> None:
    ignore_interrupt()
    watch_parent(parent)


def _indexed(task: tuple[int, Callable[[Any], Any], Any]) -> tuple[int, Any]:
    i, fn, item = task
    return i, fn(item)
