"""``reglab study``: every (recipe, seed) cell trained once, stored, and reported.

A study is a grid of cells. Its settings (:class:`~reglab.lab.study.config.StudyConfig`) and its
cells live in the queue's storage (:mod:`reglab.lab.queue.storage`); workers lease waiting cells
until none is left (:mod:`reglab.lab.queue.loop`), so a study can run in one process, in
``jobs`` local processes, or in workers on several machines that share a PostgreSQL URL.
Killing a worker loses nothing: its cell is failed by heartbeat and queued again; rerunning the
command resumes the study cell by cell. Progress goes to an ``on_progress`` callback as
``"cells"`` events; the report is :mod:`reglab.lab.study.report`.

Example:
    >>> from reglab.lab.study import StudyConfig, run_study
    >>> cfg = StudyConfig(recipes=("baseline", "all"), seeds=1, epochs=5)  # doctest: +SKIP
    >>> outcome = run_study(cfg, "runs/quick")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import data as rd
from ..._checks import Constraints, Interval, validate_params
from ...errors import ConfigError
from ..core.cells import (
    DIVERGED,
    Cell,
    cell_key,
    check_builds,
    json_safe,
    lab_device,
    model_kind,
    result_parts,
)
from ..core.recipe import builtin_for_kind
from ..core.run import run_cell
from ..core.splits import SplitCache
from ..core.text import text_info
from ..core.train_fn import load_train_fn, run_train_fn
from ..queue.loop import CellExecutor, run_workers
from ..queue.storage import CellStore, sqlite_url
from ..queue.workers import (
    ProgressCallback,
    cells_reporter,
    default_jobs,
    emit,
)
from .config import StudyConfig, for_text, inert_notes
from .report import ordered_rows, write_outputs
from .sequential import decisions, wanted_cells

__all__ = [
    "StudyOutcome",
    "execute_cell",
    "prepare",
    "rebuild_report",
    "run_study",
    "study_executor",
]


@dataclass
class StudyOutcome:
    """What a study run leaves: the folder, the storage URL, counts, and the result rows.

    ``failures`` are the cells whose training raised, each with the first line of its error
    (:func:`~reglab.lab.queue.loop.describe_failure`); ``stopped`` says why the study stopped
    early (every cell of the first seed failed the same way), else None.
    """

    out_dir: Path
    url: str
    cells: int
    done: int
    failed_cells: list[str]
    rows: list[dict[str, Any]]
    seconds: float
    ran: int = 0
    config: StudyConfig | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)
    stopped: str | None = None


# -- running one cell --------------------------------------------------------------------------


def execute_cell(
    config: StudyConfig, cell: Cell, cache: SplitCache | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Train one cell and return its result row and history (deterministic for the seed).

    With ``config.train_fn`` set, the user's function runs the cell instead of ``run_cell``:
    ``run(recipe, splits, seed, device)`` gets the recipe (``epochs`` overridden when the study
    sets it; ``recipe.parts(model, ...)`` gives the optimizer, penalties, callbacks and loss),
    the :class:`reglab.data.Splits` of the seed, the seed (the global torch generator is seeded
    with it, and restored afterwards) and the device string. It returns the row: a dict or an
    object with ``to_dict()`` (a ``CellResult``), with ``train_acc``/``val_acc``/``test_acc`` or
    the ``*_loss`` columns, ``epochs`` (or ``epochs_run``) and optionally ``history`` (rows).
    """
    cache = cache or SplitCache()
    splits = cache.splits(config.plan, cell.seed, cell.train_size)
    if config.train_fn is not None:
        row, history = run_train_fn(config, cell, splits, str(cache.device))
    else:
        result = run_cell(
            config.recipe(cell.recipe),
            cell.seed,
            splits,
            model=model_kind(config.model, splits.kind),
            epochs=config.epochs,
            device=cache.device,
        )
        row, history = result_parts(result)
        diverged = str(row.get("stop_reason")) in DIVERGED
        row.setdefault("status", "diverged" if diverged else "ok")
    row.setdefault("train_size", len(splits.train))
    return row, history


def study_executor(config: Mapping[str, Any], dataset: Any, device: str) -> CellExecutor:
    """The :data:`~reglab.lab.queue.loop.ExecutorFactory` of a study: :func:`execute_cell`
    on the stored settings, with one split cache per worker."""
    study = StudyConfig.from_dict(config)
    cache = SplitCache(device)
    cache.keep(study.plan, dataset)
    return lambda cell: execute_cell(study, cell, cache)


def prepare(config: StudyConfig) -> tuple[StudyConfig, Any]:
    """Load the data once and check every recipe on it before any cell starts.

    Returns the config with built-in recipes fitted to the data (``builtin_for_kind``) and
    the loaded dataset. A bad ``--data``, split size, model or recipe raises the
    ``ConfigError`` here, before anything is stored. A sweep's validation size is fit once, for
    its largest training size, and both its smallest and largest size must split the data.
    """
    dataset = rd.load_dataset(config.data, target=config.target, text=config.text)
    sizes = config.train_sizes
    largest = config.train_size if sizes is None else sizes[-1]
    train_size, val_size = rd.fitted_sizes(dataset, largest, config.val_size, config.test)
    splits = rd.split(dataset, train_size=train_size, val_size=val_size, seed=0, test=config.test)
    if sizes is not None and len(sizes) > 1:  # e.g. fewer training rows than classes
        rd.split(dataset, train_size=sizes[0], val_size=val_size, seed=0, test=config.test)
    if splits.kind == "text":
        config = for_text(config)
    defs = {n: builtin_for_kind(n, config.recipe_defs[n], splits.kind) for n in config.recipes}
    info = {"rows": len(dataset), "kind": splits.kind, **splits.describe()}
    if sizes is not None:
        info["train_sizes"] = list(sizes)
    if splits.kind == "text":
        info["text"] = {**info.get("text", {}), **text_info(splits)}
    config = StudyConfig.from_dict(
        {
            **config.to_dict(),
            "recipe_defs": defs,
            "train_size": train_size if sizes is None else None,
            "val_size": val_size,
            "data_info": json_safe(info),
        }
    )
    if config.train_fn is not None:
        load_train_fn(config.train_fn)  # a bad spec fails before anything is stored
    recipes = [config.recipe(name) for name in config.recipes]
    if config.epochs is not None:
        recipes = [r.replace(epochs=config.epochs) for r in recipes]
    check_builds(recipes, splits, model_kind(config.model, splits.kind))
    return config, dataset


# -- orchestration -----------------------------------------------------------------------------


#: The constraints of run_study's arguments, checked by validate_params.
_RUN_STUDY_CONSTRAINTS: Constraints = {
    "jobs": [Interval(int, 1, None)],
    "heartbeat_interval": [Interval(int, 1, None)],
    "grace_period": [Interval(int, 1, None)],
}


def run_study(
    config: StudyConfig | None,
    out_dir: str | os.PathLike[str],
    *,
    storage: str | None = None,
    jobs: int | None = None,
    join: bool = False,
    on_progress: ProgressCallback | None = None,
    write_report: bool = True,
    heartbeat_interval: int = 5,
    grace_period: int = 30,
    threads: int | None = None,
    device: str = "cpu",
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
        on_progress: receives a ``"cells"`` :class:`~reglab.lab.queue.workers.Event` (``done`` of
            ``total`` cells; ``running``, ``failed``, ``waiting``) whenever the counts may have
            changed, and an ``"error"`` event when a worker process stops on a configuration
            error.
        write_report: write ``results.csv``, ``summary.json`` and ``report.html`` at the end.
        heartbeat_interval, grace_period: seconds; a worker silent for ``grace_period`` is
            presumed dead and its cell is queued again.
        threads: torch threads per worker (default 1: the lab's models are small, and more
            threads only add synchronization, which costs a lot on a busy machine).
        device: where every worker trains: ``"auto"`` (CUDA when available), ``"cpu"``,
            ``"cuda"``, ``"cuda:N"`` or ``"mps"``. Each worker moves the data there once; several
            workers share one GPU.
    """
    device = lab_device(device)
    jobs = default_jobs() if jobs is None else jobs
    validate_params("run_study", locals(), _RUN_STUDY_CONSTRAINTS)
    out = Path(out_dir)
    url = storage or sqlite_url(out)
    dataset = None
    if join:
        store = CellStore(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
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
        store = CellStore(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
        store.create(config.to_dict(), config.cells())
    total = {"cells": len(store.known_cells()) if config.sequential else len(config.cells())}
    pending = total["cells"] - len(store.complete_counts_per_cell())
    jobs = max(1, min(jobs, max(pending, config.first_seeds)))
    t0 = time.perf_counter()

    report = cells_reporter(on_progress, lambda: total["cells"])

    def next_wave(retry: bool = False) -> int:
        """Queue the seeds the open comparisons need (a sequential study), or nothing; with
        ``retry`` (a rerun) cells that failed before are queued again too."""
        if not config.sequential or join:
            return 0
        rows = store.completed()
        found = decisions(rows, config.recipes, margin=config.margin, looks=config.looks)
        wanted = wanted_cells(found, config.recipes, config.looks)
        queue = store.enqueue_missing if retry else store.enqueue_new
        added = queue(config.longest_first(wanted))
        total["cells"] = len(store.known_cells())
        return len(added)

    reported: set[str] = set()
    seen = {"failed": -1}

    def watch(counts: Mapping[str, int]) -> None:
        """Say each failure once, as it happens; stop early when every cell of the first seed
        failed the same way (rerunning cannot help: fix the code or the settings)."""
        if counts.get("failed", 0) == seen["failed"]:
            return
        seen["failed"] = counts.get("failed", 0)
        failures = store.failures()
        for cell, line in failures:
            if cell.key not in reported:
                reported.add(cell.key)
                emit(on_progress, "failure", cell=cell.key, message=line)
        lines = {cell.key: line for cell, line in failures}
        first = [c.key for c in config.cells() if c.seed == 0]
        same = bool(first) and all(k in lines for k in first)
        if same and len({lines[k] for k in first}) == 1 and store.stop_reason is None:
            store.request_stop(f"every cell of seed 0 failed with {lines[first[0]]}")

    try:
        if not join:
            store.request_stop(None)  # a rerun carries on after an early stop
        emit(on_progress, "settings", **_settings(config, jobs, device))
        next_wave(retry=True)  # a resumed sequential study may already be past its first look
        report(store.counts())
        ran = run_workers(
            store,
            study_executor,
            jobs=jobs,
            threads=threads or 1,
            report=report,
            dataset=dataset,
            on_progress=on_progress,
            device=device,
            next_wave=next_wave if config.sequential and not join else None,
            linger=join,
            watch=watch,
        )
        counts = store.counts()
        report(counts)
        watch(counts)
    except KeyboardInterrupt:
        if write_report:
            with contextlib.suppress(Exception):  # the interrupt matters more than the report
                _write_report(store, out, config)
        raise
    elapsed = time.perf_counter() - t0
    if write_report:
        rows, failed = _write_report(store, out, config)
    else:
        rows = ordered_rows(store.completed(), config.recipes)
        failed = _missing(_expected(store, config), rows)
    cells = len(_expected(store, config))
    failures = [(cell.key, line) for cell, line in store.failures()]
    stopped = store.stop_reason
    return StudyOutcome(
        out, url, cells, cells - len(failed), failed, rows, elapsed, ran, config, failures, stopped
    )


def _expected(store: CellStore, config: StudyConfig) -> list[Cell]:
    """The cells the study should have finished: its fixed grid, or what it queued."""
    return store.known_cells() if config.sequential else config.cells()


def _settings(config: StudyConfig, jobs: int, device: str) -> dict[str, Any]:
    """What the study runs, as the CLI states it before the first cell."""
    info = dict(config.data_info)
    sizes = dict(info.get("sizes", {"train": config.train_size, "val": config.val_size}))
    if config.train_sizes is not None:
        sizes["train"] = ",".join(map(str, config.train_sizes))
    return {
        "data": config.data,
        "rows": info.get("rows"),
        "sizes": sizes,
        "test_source": info.get("test_source"),
        "model": config.model,
        "recipes": len(config.recipes),
        "seeds": (
            f"{config.looks[0]}-{config.looks[-1]} (until decided, ±{config.margin:.1f})"
            if config.sequential
            else config.first_seeds
        ),
        "jobs": jobs,
        "device": device,
        "encoded_columns": len(info.get("encoding", [])),
        "text": info.get("text"),
        "train_fn": config.train_fn,
        "inert": inert_notes(config),
    }


def _missing(cells: Sequence[Cell], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    sweep = any(c.train_size is not None for c in cells)
    done = {cell_key(r["recipe"], r["seed"], r.get("train_size") if sweep else None) for r in rows}
    return [c.key for c in cells if c.key not in done]


def _write_report(
    store: CellStore, out: Path, config: StudyConfig
) -> tuple[list[dict[str, Any]], list[str]]:
    rows = ordered_rows(store.completed(), config.recipes)
    failed = _missing(_expected(store, config), rows)
    if rows:
        out.mkdir(parents=True, exist_ok=True)
        failures = [(cell.key, line) for cell, line in store.failures()]
        write_outputs(out, config, rows, failed_cells=failed, failures=failures)
    return rows, failed


def rebuild_report(
    out_dir: str | os.PathLike[str], storage: str | None = None
) -> tuple[int, dict[str, Path]]:
    """Write a study's ``results.csv``, ``summary.json`` and ``report.html`` from its storage.

    Returns the number of finished runs and the paths written.
    """
    out = Path(out_dir)
    if storage is None and not (out / "study.db").is_file():
        raise ConfigError(
            f"No study found in {str(out)!r} (no study.db). Pass the folder given to "
            "`reglab study --out`, or --storage URL."
        )
    store = CellStore(storage or sqlite_url(out))
    config = StudyConfig.from_dict(store.config)
    rows = store.completed()
    failures = [(cell.key, line) for cell, line in store.failures()]
    if not rows:
        said = ""
        if failures:
            key, line = failures[0]
            said = (
                f": {len(failures)} cells failed; the first, {key}: {line}. Fix the cause and "
                "rerun the same `reglab study` command to resume"
            )
        raise ConfigError(f"The study in {str(out)!r} has no finished cells yet{said}.")
    out.mkdir(parents=True, exist_ok=True)
    missing = _missing(_expected(store, config), rows)
    paths = write_outputs(out, config, rows, failed_cells=missing, failures=failures)
    return len(rows), paths
