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
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
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
    "execute_cell",
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


# -- running one cell --------------------------------------------------------------------------


class _DataCache:
    """Each worker loads the data once and splits it once per seed."""

    def __init__(self, config: StudyConfig) -> None:
        self.config = config
        self._dataset: Any = None
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
    model = config.model
    if model == "auto":
        model = "cnn" if splits.kind == "image" else "mlp"
    result = run_cell(
        config.recipe(cell.recipe),
        cell.seed,
        splits,
        model=model,
        epochs=config.epochs,
    )
    row, history = _result_parts(result)
    row.setdefault("status", "ok")
    return row, history


# -- workers -----------------------------------------------------------------------------------


def work(
    store: StudyStore,
    *,
    poll: float = 1.0,
    on_event: Callable[[str, Claim], None] | None = None,
) -> int:
    """Claim and run cells until none is waiting or running; return how many this worker ran.

    While other workers still run cells, this one keeps polling, so that a cell whose worker died
    is failed by heartbeat, queued again, and picked up here.
    """
    config = StudyConfig.from_dict(store.config)
    cache = _DataCache(config)
    ran = 0
    while True:
        store.fail_stale()
        claim = store.claim()
        if claim is None:
            counts = store.counts()
            if counts["running"] == 0 and counts["waiting"] == 0:
                return ran
            time.sleep(poll)
            continue
        if on_event:
            on_event("start", claim)
        try:
            with store.heartbeat(claim):
                row, history = execute_cell(config, claim.cell, cache)
        except KeyboardInterrupt:
            store.release(claim, "interrupted", retry=True)
            raise
        except ConfigError as exc:
            # The same settings would fail again on every retry: stop and say why.
            store.release(claim, str(exc), retry=False)
            raise
        except Exception:
            # Keep the other cells going; the failure is stored and a rerun retries the cell.
            store.release(claim, traceback.format_exc(limit=20), retry=False)
            if on_event:
                on_event("failed", claim)
            continue
        stored = store.complete(claim, row, history)
        ran += int(stored)
        if on_event:
            on_event("done" if stored else "dropped", claim)


def _worker_main(url: str, heartbeat_interval: int, grace_period: int, threads: int) -> None:
    """Entry point of a local worker process (spawned)."""
    import torch

    torch.set_num_threads(threads)
    store = StudyStore(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    with contextlib.suppress(KeyboardInterrupt):
        work(store)


# -- orchestration -----------------------------------------------------------------------------


def run_study(
    config: StudyConfig | None,
    out_dir: str | os.PathLike[str],
    *,
    storage: str | None = None,
    jobs: int = 1,
    join: bool = False,
    progress: bool = True,
    write_report: bool = True,
    heartbeat_interval: int = 5,
    grace_period: int = 30,
    threads: int | None = None,
) -> StudyOutcome:
    """Create or resume a study, run its cells with ``jobs`` workers, and write the report.

    Args:
        config: the study; ``None`` with ``join=True`` takes the settings stored in ``storage``.
        out_dir: folder for ``study.db`` (default storage), ``results.csv``, ``summary.json``
            and ``report.html``.
        storage: SQLAlchemy URL; default SQLite in ``out_dir``.
        jobs: local worker processes (1 runs in this process).
        join: only work on an existing study (another machine created it).
        heartbeat_interval, grace_period: seconds; a worker silent for ``grace_period`` is
            presumed dead and its cell is queued again.
        threads: torch threads per worker (default: cores / jobs).
    """
    check("run_study", "jobs", jobs, Interval(int, 1, None))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    url = storage or sqlite_url(out)
    store = StudyStore(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    if join:
        config = StudyConfig.from_dict(store.config)
    else:
        if config is None:
            raise ConfigError(
                "The 'config' parameter of run_study must be a StudyConfig unless join=True. "
                "Got None instead."
            )
        store.create(config.to_dict(), config.cells())
    assert config is not None
    cells = config.cells()
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    t0 = time.perf_counter()
    display = _Progress(len(cells), enabled=progress)
    try:
        with display:
            if jobs == 1:
                import torch

                previous = torch.get_num_threads()
                torch.set_num_threads(threads)
                try:
                    work(store, on_event=lambda _e, _c: display.update(store.counts()))
                finally:
                    torch.set_num_threads(previous)
            else:
                _run_processes(store, jobs, threads, display)
            display.update(store.counts())
    finally:
        elapsed = time.perf_counter() - t0
    rows = store.completed()
    done_keys = {f"{r['recipe']}/{r['seed']}" for r in rows}
    failed = [c.key for c in cells if c.key not in done_keys]
    outcome = StudyOutcome(out, url, len(cells), len(done_keys), failed, rows, elapsed)
    if write_report and rows:
        from .report import write_outputs

        write_outputs(out, config, rows, failed_cells=failed)
    return outcome


def _run_processes(store: StudyStore, jobs: int, threads: int, display: _Progress) -> None:
    """Run ``jobs`` worker processes; replace any that dies while work remains."""
    ctx = mp.get_context("spawn")
    args = (store.url, store.heartbeat_interval, store.grace_period, threads)

    def start() -> Any:
        p = ctx.Process(target=_worker_main, args=args, daemon=False)
        p.start()
        return p

    procs = [start() for _ in range(jobs)]
    restarts = 0
    try:
        while procs:
            time.sleep(0.5)
            counts = store.counts()
            display.update(counts)
            alive = []
            for p in procs:
                if p.is_alive():
                    alive.append(p)
                    continue
                p.join()
                unfinished = counts["waiting"] + counts["running"] > 0
                if p.exitcode != 0 and unfinished and restarts < 4 * jobs:
                    restarts += 1
                    alive.append(start())
            procs = alive
    except KeyboardInterrupt:
        # The workers got the same SIGINT; each releases its cell. Give them time to do so.
        for p in procs:
            p.join(timeout=30)
        raise
    finally:
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
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("[bold]study[/bold]"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} cells"),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
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
