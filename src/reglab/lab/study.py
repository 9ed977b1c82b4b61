"""``reglab study``: every (recipe, seed) cell trained once, stored, and reported.

A study is a grid of cells. Its settings (:class:`StudyConfig`) and its cells live in an Optuna
database (:mod:`reglab.lab.storage`); workers pull waiting cells until none is left, so a study
can run in one process, in ``jobs`` local processes, or in workers on several machines that share
a PostgreSQL URL. Killing a worker loses nothing: its cell is failed by heartbeat and queued again;
rerunning the command resumes the study.

Example:
    >>> from reglab.lab.study import StudyConfig, run_study
    >>> cfg = StudyConfig(recipes=("baseline", "all"), seeds=1, epochs=5)  # doctest: +SKIP
    >>> outcome = run_study(cfg, "runs/quick")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

from .._checks import Interval, OneOf, check
from ..errors import ConfigError
from .storage import Cell, Claim, StudyStore, sqlite_url

__all__ = [
    "DEFAULT_RECIPES",
    "StudyConfig",
    "StudyOutcome",
    "default_jobs",
    "execute_cell",
    "prepare",
    "run_study",
    "work",
]

DEFAULT_RECIPES = (
    "baseline",
    "dropout",
    "weight_decay",
    "batchnorm",
    "augment",
    "early_stopping",
    "all",
)


def _size(owner: str, name: str, value: Any) -> int | float:
    if isinstance(value, float) and not float(value).is_integer():
        return check(owner, name, value, Interval(float, 0, 1, closed="neither"))
    return int(check(owner, name, value, Interval(int, 0, None), Interval(float, 0, None)))


@dataclass(frozen=True)
class StudyConfig:
    """What a study trains: data, split sizes, model, recipes and seeds.

    ``recipes`` holds recipe names (built-in) or ``(name, Recipe)`` pairs; the stored form keeps
    each recipe's full definition, so workers on other machines train exactly the same thing.
    """

    data: str = "digits"
    target: str | None = None
    train_size: int | float = 200
    val_size: int | float = 300
    model: str = "auto"
    recipes: Sequence[Any] = DEFAULT_RECIPES
    seeds: int = 3
    epochs: int | None = None
    recipe_defs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        owner = "StudyConfig"
        check(owner, "seeds", self.seeds, Interval(int, 1, None))
        if self.epochs is not None:
            check(owner, "epochs", self.epochs, Interval(int, 1, None))
        object.__setattr__(self, "train_size", _size(owner, "train_size", self.train_size))
        object.__setattr__(self, "val_size", _size(owner, "val_size", self.val_size))
        if not self.recipes:
            raise ConfigError(
                "The 'recipes' parameter of StudyConfig must be a non-empty list of recipe "
                "names or specs. Got an empty list instead."
            )
        from .recipe import BUILTIN_RECIPES, Recipe

        defs: dict[str, Mapping[str, Any]] = dict(self.recipe_defs)
        names: list[str] = []
        for item in self.recipes:
            if isinstance(item, str) and item in defs:
                name = item
            elif isinstance(item, str):
                if item not in BUILTIN_RECIPES:
                    check(owner, "recipes", item, OneOf(*sorted(BUILTIN_RECIPES)))
                name, recipe = item, BUILTIN_RECIPES[item]
                defs[name] = recipe.to_dict()
            elif isinstance(item, Recipe):
                name = item.name
                defs[name] = item.to_dict()
            else:
                name, recipe = item
                defs[name] = recipe.to_dict() if isinstance(recipe, Recipe) else dict(recipe)
            if name in names:
                raise ConfigError(
                    f"The 'recipes' parameter of StudyConfig names {name!r} twice. "
                    "Give each recipe a distinct name."
                )
            names.append(name)
        object.__setattr__(self, "recipes", tuple(names))
        object.__setattr__(self, "recipe_defs", {n: defs[n] for n in names})

    def cells(self) -> list[Cell]:
        """Every (recipe, seed) pair, recipe-major."""
        return [Cell(r, s) for r in self.recipes for s in range(self.seeds)]

    def recipe(self, name: str) -> Any:
        from .recipe import Recipe

        return Recipe.from_dict(dict(self.recipe_defs[name]))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["recipes"] = list(self.recipes)
        d["recipe_defs"] = {k: dict(v) for k, v in self.recipe_defs.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StudyConfig:
        return cls(**{**d, "recipes": tuple(d["recipes"])})


@dataclass
class StudyOutcome:
    """What a study run leaves: the folder, the storage URL, counts, and the result rows."""

    out_dir: Path
    url: str
    cells: int
    done: int
    failed_cells: list[str]
    rows: list[dict[str, Any]]
    seconds: float
    ran: int = 0


# -- running one cell --------------------------------------------------------------------------


class _DataCache:
    """Each worker loads the data once and splits it once per seed."""

    def __init__(self, config: StudyConfig, dataset: Any = None) -> None:
        self.config = config
        self._dataset: Any = dataset
        self._splits: dict[int, Any] = {}

    def splits(self, seed: int) -> Any:
        from .. import data as rd

        if self._dataset is None:
            self._dataset = rd.load_dataset(self.config.data, target=self.config.target)
        if seed not in self._splits:
            self._splits[seed] = rd.split(
                self._dataset,
                train_size=self.config.train_size,
                val_size=self.config.val_size,
                seed=seed,
            )
        return self._splits[seed]


def _result_parts(result: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Split a run's result into the stored row and its per-epoch history."""
    d = dict(result.to_dict()) if hasattr(result, "to_dict") else dict(asdict(result))
    history = d.pop("history", None)
    if history is None and is_dataclass(result):
        history = []
    if hasattr(history, "rows"):
        history = list(history.rows)
    return d, [dict(r) for r in (history or [])]


def execute_cell(
    config: StudyConfig, cell: Cell, cache: _DataCache | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Train one cell and return its result row and history (deterministic for the seed)."""
    from .run import run_cell

    cache = cache or _DataCache(config)
    splits = cache.splits(cell.seed)
    result = run_cell(
        config.recipe(cell.recipe),
        cell.seed,
        splits,
        model=_model_kind(config.model, splits.kind),
        epochs=config.epochs,
    )
    row, history = _result_parts(result)
    diverged = str(row.get("stop_reason")) in _DIVERGED
    row.setdefault("status", "diverged" if diverged else "ok")
    return row, history


# Stop reasons that mean the loss blew up: the run is kept and reported as diverged.
_DIVERGED = ("non_finite", "divergence_threshold")


def _model_kind(model: str, kind: str) -> str:
    """``auto`` is the CNN for images and the MLP for tabular data."""
    if model == "auto":
        return "cnn" if kind == "image" else "mlp"
    return model


def _adapt_builtin(name: str, definition: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """A built-in recipe (unchanged, by name) fitted to tabular data.

    The built-in ``augment`` and ``all`` recipes use affine image transforms; on tabular data
    the matching augmentation is Gaussian feature noise, so a default study runs on any data.
    A recipe the user defined (spec or TOML) is never changed.
    """
    from .recipe import BUILTIN_RECIPES

    d = dict(definition)
    builtin = BUILTIN_RECIPES.get(name)
    if kind != "tabular" or builtin is None or d != builtin.to_dict():
        return d
    if d.get("augment") not in (None, "noise"):
        d["augment"] = "noise"
        d["description"] = f"{d.get('description') or name}; Gaussian feature noise on tabular data"
    return d


def prepare(config: StudyConfig) -> tuple[StudyConfig, Any]:
    """Load the data once and check every recipe on it before any cell starts.

    Returns the config with built-in recipes fitted to the data (see ``_adapt_builtin``) and
    the loaded dataset. A bad ``--data``, split size, model or recipe raises the
    ``ConfigError`` here, before anything is stored.
    """
    import torch

    from .. import data as rd
    from ..models import build_model

    dataset = rd.load_dataset(config.data, target=config.target)
    splits = rd.split(dataset, train_size=config.train_size, val_size=config.val_size, seed=0)
    defs = {n: _adapt_builtin(n, config.recipe_defs[n], splits.kind) for n in config.recipes}
    if defs != {n: dict(d) for n, d in config.recipe_defs.items()}:
        config = StudyConfig.from_dict({**config.to_dict(), "recipe_defs": defs})
    kind = _model_kind(config.model, splits.kind)
    classes = splits.num_classes if splits.task == "classification" else None
    with torch.random.fork_rng(devices=[]):
        for name in config.recipes:
            recipe = config.recipe(name)
            if config.epochs is not None:
                recipe = recipe.replace(epochs=config.epochs)
            net = build_model(recipe, splits.input_shape, splits.num_outputs, kind=kind)
            recipe.parts(net, input_shape=tuple(splits.input_shape), num_classes=classes)
    return config, dataset


# -- workers -----------------------------------------------------------------------------------


def work(
    store: StudyStore,
    *,
    poll: float = 1.0,
    on_event: Callable[[str, Claim], None] | None = None,
    dataset: Any = None,
) -> int:
    """Claim and run cells until none is waiting or running; return how many this worker ran.

    While other workers still run cells, this one keeps polling, so that a cell whose worker died
    is failed by heartbeat, queued again, and picked up here. ``dataset`` saves loading the
    data again when the caller already has it.
    """
    config = StudyConfig.from_dict(store.config)
    cache = _DataCache(config, dataset)
    _warm_up()
    ran = 0
    while True:
        claim: Claim | None = None
        stored: bool | None = None
        try:
            # Storage writes hold Ctrl-C back until they finish: a claim, a completion or a
            # release cut in half would leave its cell RUNNING until the grace period ends.
            with _held_interrupt():
                store.fail_stale()
                claim = store.claim()
            if claim is None:
                counts = store.counts()
                if counts["running"] == 0 and counts["waiting"] == 0:
                    return ran
                time.sleep(poll)
                continue
            try:
                if on_event:
                    with _held_interrupt():  # it may read the storage (the progress bar)
                        on_event("start", claim)
                with store.heartbeat(claim):
                    row, history = execute_cell(config, claim.cell, cache)
            except ConfigError as exc:
                # The same settings would fail again on every retry: stop and say why.
                _release(store, claim, str(exc), retry=False)
                raise
            except Exception:
                # Keep the other cells going; the failure is stored and a rerun retries it.
                _release(store, claim, traceback.format_exc(limit=20), retry=False)
                stored = False  # released: an interrupt in the callback must not release again
                if on_event:
                    on_event("failed", claim)
                continue
            with _held_interrupt():
                stored = store.complete(claim, row, history)
        except KeyboardInterrupt:
            if claim is not None and stored is None:
                _release(store, claim, "interrupted", retry=True)
            raise
        ran += int(stored)
        if on_event:
            on_event("done" if stored else "dropped", claim)


def _release(store: StudyStore, claim: Claim, reason: str, *, retry: bool) -> None:
    with _held_interrupt():
        try:
            store.release(claim, reason, retry=retry)
        except Exception:
            # An interrupt that cut a database call can leave its pooled connection unusable:
            # try once more on fresh connections before giving up.
            store.storage.engine.dispose()
            store.release(claim, reason, retry=retry)


@contextlib.contextmanager
def _held_interrupt() -> Iterator[None]:
    """Hold SIGINT back while the block runs, then deliver it to the handler it would have met.

    Outside the main thread Python handles no signals, and the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(signal.SIGINT, None)
        elif caught and previous == signal.SIG_DFL:
            os.kill(os.getpid(), signal.SIGINT)


def _interrupt_once(_signum: int, _frame: Any) -> None:
    """SIGINT handler of a worker process: interrupt, and ignore the copies that follow.

    A Ctrl-C in a terminal reaches the worker twice: from the terminal (the whole process
    group) and forwarded by the parent. The second must not cut the release of the cell.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _warm_up() -> None:
    """Import what a cell uses before the first one starts, so its ``seconds`` are comparable."""
    import importlib

    for name in ("models", "train", "augment", "penalty", "optim", "callbacks", "constraints"):
        importlib.import_module(f"reglab.{name}")
    from . import run  # noqa: F401


def _worker_main(
    url: str, heartbeat_interval: int, grace_period: int, threads: int, dataset: Any = None
) -> None:
    """Entry point of a local worker process (spawned): one line on stderr when it fails."""
    # Started with SIGINT ignored (see _run_workers): from here on Ctrl-C, forwarded by the
    # parent, interrupts the cell, which is released for another worker.
    signal.signal(signal.SIGINT, _interrupt_once)
    try:
        import torch

        torch.set_num_threads(threads)
        store = StudyStore(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
        work(store, dataset=dataset)
    except KeyboardInterrupt:
        sys.exit(130)
    except ConfigError as exc:
        print(f"reglab: error: {exc}", file=sys.stderr)
        sys.exit(2)


# -- orchestration -----------------------------------------------------------------------------


def run_study(
    config: StudyConfig | None,
    out_dir: str | os.PathLike[str],
    *,
    storage: str | None = None,
    jobs: int | None = None,
    join: bool = False,
    progress: bool = True,
    write_report: bool = True,
    heartbeat_interval: int = 5,
    grace_period: int = 30,
    threads: int | None = None,
) -> StudyOutcome:
    """Create or resume a study, run its cells with ``jobs`` workers, and write the report.

    Rerunning with the same config resumes: finished cells are kept, the rest run. On Ctrl-C
    the running cells are released (queued again), the report of what finished is written, and
    ``KeyboardInterrupt`` propagates.

    Args:
        config: the study; ``None`` with ``join=True`` takes the settings stored in ``storage``.
        out_dir: folder for ``study.db`` (default storage), ``results.csv``, ``summary.json``
            and ``report.html``.
        storage: SQLAlchemy URL; default SQLite in ``out_dir``.
        jobs: worker processes, this one included (None: one per usable CPU core).
        join: only work on an existing study (another machine created it).
        progress: draw a progress bar on stderr.
        write_report: write ``results.csv``, ``summary.json`` and ``report.html`` at the end.
        heartbeat_interval, grace_period: seconds; a worker silent for ``grace_period`` is
            presumed dead and its cell is queued again.
        threads: torch threads per worker (default 1: the lab's models are small, and more
            threads only add synchronization, which costs a lot on a busy machine).
    """
    jobs = default_jobs() if jobs is None else jobs
    check("run_study", "jobs", jobs, Interval(int, 1, None))
    check("run_study", "heartbeat_interval", heartbeat_interval, Interval(int, 1, None))
    check("run_study", "grace_period", grace_period, Interval(int, 1, None))
    out = Path(out_dir)
    url = storage or sqlite_url(out)
    dataset = None
    if join:
        store = StudyStore(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
        config = StudyConfig.from_dict(store.config)
    else:
        if config is None:
            raise ConfigError(
                "The 'config' parameter of run_study must be a StudyConfig unless join=True. "
                "Got None instead."
            )
        # Check data and recipes before anything is written, so a typo leaves no study behind.
        config, dataset = prepare(config)
        out.mkdir(parents=True, exist_ok=True)
        store = StudyStore(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
        store.create(config.to_dict(), config.cells())
    cells = config.cells()
    pending = len(cells) - len(_done_keys(store))
    jobs = max(1, min(jobs, pending))
    threads = threads or 1
    t0 = time.perf_counter()
    ran = 0
    display = _Progress(len(cells), enabled=progress)
    try:
        with display:
            display.update(store.counts())
            ran = _run_workers(store, jobs, threads, display, dataset)
            display.update(store.counts())
    except KeyboardInterrupt:
        if write_report:
            with contextlib.suppress(Exception):  # the interrupt matters more than the report
                _write_report(store, out, config, cells)
        raise
    elapsed = time.perf_counter() - t0
    if write_report:
        rows, failed = _write_report(store, out, config, cells)
    else:
        rows = _ordered(store.completed(), config.recipes)
        failed = _missing(cells, rows)
    done = len(cells) - len(failed)
    return StudyOutcome(out, url, len(cells), done, failed, rows, elapsed, ran)


def _ordered(rows: list[dict[str, Any]], recipes: Sequence[str]) -> list[dict[str, Any]]:
    """Rows in the study's recipe order, then by seed."""
    order = {n: i for i, n in enumerate(recipes)}
    return sorted(rows, key=lambda r: (order.get(r["recipe"], len(order)), r["recipe"], r["seed"]))


def default_jobs() -> int:
    """One worker per CPU core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _done_keys(store: StudyStore) -> set[str]:
    return set(store.complete_counts_per_cell())


def _missing(cells: Sequence[Cell], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    done = {f"{r['recipe']}/{r['seed']}" for r in rows}
    return [c.key for c in cells if c.key not in done]


def _write_report(
    store: StudyStore, out: Path, config: StudyConfig, cells: Sequence[Cell]
) -> tuple[list[dict[str, Any]], list[str]]:
    rows = _ordered(store.completed(), config.recipes)
    failed = _missing(cells, rows)
    if rows:
        from .report import write_outputs

        out.mkdir(parents=True, exist_ok=True)
        write_outputs(out, config, rows, failed_cells=failed)
    return rows, failed


def _run_workers(
    store: StudyStore, jobs: int, threads: int, display: _Progress, dataset: Any
) -> int:
    """This process works, with ``jobs - 1`` spawned worker processes beside it.

    Working here saves one process start (torch and the data are already loaded), and the
    workers get the loaded dataset instead of reading it again. A worker that dies while work
    remains is replaced; one that exits with code 2 met a configuration error, which a new
    worker would meet again, so it is not. Returns the cells this process ran.
    """
    import torch

    ctx = mp.get_context("spawn")
    args = (store.url, store.heartbeat_interval, store.grace_period, threads, dataset)
    procs: list[Any] = []
    restarts = 0

    def start() -> None:
        # The child starts with SIGINT ignored (ignored signals survive exec), so a Ctrl-C that
        # reaches the whole process group while the child is still importing torch cannot
        # print a traceback there; _worker_main restores the handler and the parent forwards
        # the interrupt to children that are working.
        p = ctx.Process(target=_worker_main, args=args, daemon=False)
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            p.start()
        finally:
            signal.signal(signal.SIGINT, old)
        procs.append(p)

    def tend(counts: Mapping[str, int]) -> None:
        nonlocal restarts
        display.update(counts)
        for p in list(procs):
            if p.is_alive():
                continue
            p.join()
            procs.remove(p)
            unfinished = counts["waiting"] + counts["running"] > 0
            if p.exitcode not in (0, 2) and unfinished and restarts < 4 * jobs:
                restarts += 1
                start()

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for _ in range(jobs - 1):
            start()
        ran = work(store, on_event=lambda _e, _c: tend(store.counts()), dataset=dataset)
        while procs:
            time.sleep(0.5)
            tend(store.counts())
        return ran
    except KeyboardInterrupt:
        # Forward the interrupt; each working child releases its cell. Give them time to do so
        # (a child still starting ignores it and holds no cell: it is terminated below).
        for p in procs:
            if p.is_alive() and p.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGINT)
        for p in procs:
            p.join(timeout=30)
        raise
    finally:
        torch.set_num_threads(previous)
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)


class _Progress:
    """Cells done / running / failed with an ETA (rich), or nothing when disabled."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None
        self._start = time.perf_counter()
        self._done0: int | None = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("[bold]study[/bold]"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} cells"),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("study", total=self.total, status="")
        return self

    def update(self, counts: Mapping[str, int]) -> None:
        if not self.enabled or self._progress is None:
            return
        done = min(counts.get("done", 0), self.total)
        if self._done0 is None:
            self._done0 = done
        elapsed = time.perf_counter() - self._start
        finished_here = done - self._done0
        eta = "?"
        if finished_here > 0:
            remaining = (self.total - done) * elapsed / finished_here
            eta = f"{math.ceil(remaining)}s"
        status = f"running {counts.get('running', 0)}, failed {counts.get('failed', 0)}, ETA {eta}"
        self._progress.update(self._task, completed=done, status=status)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)
