"""``reglab study``: every (recipe, seed) cell trained once, stored, and reported.

A study is a grid of cells. Its settings (:class:`StudyConfig`) and its cells live in an Optuna
database (:mod:`reglab.lab.storage`); workers pull waiting cells until none is left, so a study
can run in one process, in ``jobs`` local processes (:class:`~reglab.lab.workers.WorkerGroup`,
whose interrupt policy is written in :mod:`reglab.lab.workers`), or in workers on several
machines that share a PostgreSQL URL. Killing a worker loses nothing: its cell is failed by
heartbeat and queued again; rerunning the command resumes the study cell by cell. Progress goes
to an ``on_progress`` callback as ``"cells"`` events; the report is :mod:`reglab.lab.report`.

Example:
    >>> from reglab.lab.study import StudyConfig, resolve_recipes, run_study
    >>> [r if isinstance(r, str) else r[0] for r in resolve_recipes("baseline", ["dropout=0.2"])]
    ['baseline', 'dropout=0.2']
    >>> cfg = StudyConfig(recipes=("baseline", "all"), seeds=1, epochs=5)  # doctest: +SKIP
    >>> outcome = run_study(cfg, "runs/quick")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import importlib
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._checks import Interval, NoneOk, OneOf, check
from ..errors import ConfigError
from .cells import (
    DIVERGED,
    check_builds,
    lab_device,
    model_kind,
    result_parts,
    split_size,
)
from .custom_cell import CellSpec, as_cell_spec, load_cell, run_custom_cell
from .recipe import builtin_for_kind
from .report import ordered_rows
from .splits import StudySplits, check_train_sizes
from .storage import Cell, Claim, StudyStore, cell_key, json_safe, sqlite_url
from .text import text_info
from .workers import (
    ProgressCallback,
    WorkerGroup,
    cells_reporter,
    default_jobs,
    emit,
    held_interrupt,
    torch_threads,
    warm_up,
    warn_progress_deprecated,
)

__all__ = [
    "DEFAULT_RECIPES",
    "CellExecutor",
    "StudyConfig",
    "StudyOutcome",
    "cell_executor",
    "default_jobs",
    "execute_cell",
    "prepare",
    "rebuild_report",
    "resolve_recipes",
    "run_study",
    "run_workers",
    "stored_config",
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


@dataclass(frozen=True)
class StudyConfig:
    """What a study trains: data, split sizes, test split, model, recipes and seeds.

    ``recipes`` holds recipe names (built-in) or ``(name, Recipe)`` pairs; the stored form keeps
    each recipe's full definition, so workers on other machines train exactly the same thing.
    ``train_size``/``val_size`` None fit the data (:func:`reglab.data.default_sizes`: at most
    200 / 300, never more than half / a quarter of the rows train and validation come from);
    ``test`` is ``"official"``, ``"random"`` or None (official where the files have one);
    ``target`` and ``text`` name a table's label and text columns (``reglab.data.load_dataset``).
    :func:`prepare` makes the sizes explicit and records the split in ``data_info``.
    ``train_sizes`` (distinct counts, ascending; exclusive with ``train_size``) makes the study a
    training-size sweep: every (recipe, seed) cell runs at each size, on nested training
    subsets with one validation and test split per seed (:mod:`reglab.lab.splits`). ``cell``
    is None (each cell runs :func:`reglab.lab.run.run_cell`) or a spec ``"package.module:run"``
    of the user's training function (a module-level function is stored as its spec; see
    :func:`execute_cell`).
    """

    data: str = "digits"
    target: str | None = None
    text: str | None = None
    train_size: int | float | None = None
    val_size: int | float | None = None
    train_sizes: tuple[int, ...] | None = None
    model: str = "auto"
    recipes: Sequence[Any] = DEFAULT_RECIPES
    seeds: int = 3
    epochs: int | None = None
    recipe_defs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    test: str | None = None
    data_info: Mapping[str, Any] = field(default_factory=dict)
    cell: str | None = None

    def __post_init__(self) -> None:
        owner = "StudyConfig"
        object.__setattr__(self, "cell", as_cell_spec(self.cell))
        check(owner, "cell", self.cell, NoneOk(), CellSpec())
        check(owner, "seeds", self.seeds, Interval(int, 1, None))
        check(owner, "test", self.test, OneOf("official", "random", None))
        if self.epochs is not None:
            check(owner, "epochs", self.epochs, Interval(int, 1, None))
        for name in ("train_size", "val_size"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, split_size(owner, name, getattr(self, name)))
        if self.train_sizes is not None:
            object.__setattr__(self, "train_sizes", check_train_sizes(owner, self.train_sizes))
            if self.train_size is not None:
                raise ConfigError(
                    f"The 'train_size' and 'train_sizes' parameters of {owner} are exclusive: "
                    f"give one. Got train_size={self.train_size!r} and train_sizes="
                    f"{','.join(map(str, self.train_sizes))} instead."
                )
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
        """Every (recipe, seed) pair (in a sweep, at each size), the longest first.

        Cells are claimed in this order, so the longest start first and the short ones fill the
        workers at the end. The length is estimated as training size x epochs x (1 + EDA copies
        per sentence); ties keep the recipe order, then the seeds.
        """
        sizes = [None] if self.train_sizes is None else list(reversed(self.train_sizes))
        cells = [Cell(r, s, n) for n in sizes for r in self.recipes for s in range(self.seeds)]
        cost = {(r, n): self._cost(r, n) for r in self.recipes for n in sizes}
        return sorted(cells, key=lambda c: -cost[(c.recipe, c.train_size)])

    def _cost(self, name: str, size: int | None) -> float:
        from .text import eda_settings

        recipe = self.recipe(name)
        n = size if size is not None else self.train_size
        rows = float(n) if isinstance(n, int) else 1.0
        copies = eda_settings(recipe, int(rows))[1] if recipe.augment == "eda" else 0
        return rows * (self.epochs or recipe.epochs) * (1 + copies)

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


def execute_cell(
    config: StudyConfig, cell: Cell, cache: StudySplits | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Train one cell and return its result row and history (deterministic for the seed).

    With ``config.cell`` set, the user's function runs the cell instead of ``run_cell``:
    ``run(recipe, splits, seed, device)`` gets the recipe (``epochs`` overridden when the study
    sets it; ``recipe.parts(model, ...)`` gives the optimizer, penalties, callbacks and loss),
    the :class:`reglab.data.Splits` of the seed, the seed (the global torch generator is seeded
    with it, and restored afterwards) and the device string. It returns the row: a dict or an
    object with ``to_dict()`` (a ``CellResult``), with ``train_acc``/``val_acc``/``test_acc`` or
    the ``*_loss`` columns, ``epochs`` (or ``epochs_run``) and optionally ``history`` (rows).
    """
    from .run import run_cell

    cache = cache or StudySplits(config)
    splits = cache.splits(cell.seed, cell.train_size)
    if config.cell is not None:
        row, history = run_custom_cell(config, cell, splits, str(cache.device))
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


def _for_text(config: StudyConfig) -> StudyConfig:
    """The default recipes of a text study: the text built-ins (``eda`` in, ``batchnorm`` and
    ``augment`` out); any other choice stays."""
    from .recipe import BUILTIN_RECIPES, TEXT_RECIPES

    if tuple(config.recipes) != DEFAULT_RECIPES or any(
        config.recipe_defs[n] != BUILTIN_RECIPES[n].to_dict() for n in DEFAULT_RECIPES
    ):
        return config
    names = tuple(TEXT_RECIPES)
    return StudyConfig.from_dict(
        {
            **config.to_dict(),
            "recipes": names,
            "recipe_defs": {n: BUILTIN_RECIPES[n].to_dict() for n in names},
        }
    )


def prepare(config: StudyConfig) -> tuple[StudyConfig, Any]:
    """Load the data once and check every recipe on it before any cell starts.

    Returns the config with built-in recipes fitted to the data (``builtin_for_kind``) and
    the loaded dataset. A bad ``--data``, split size, model or recipe raises the
    ``ConfigError`` here, before anything is stored. A sweep's validation size is fit once, for
    its largest training size, and both its smallest and largest size must split the data.
    """
    from .. import data as rd

    dataset = rd.load_dataset(config.data, target=config.target, text=config.text)
    sizes = config.train_sizes
    largest = config.train_size if sizes is None else sizes[-1]
    train_size, val_size = rd.fitted_sizes(dataset, largest, config.val_size, config.test)
    splits = rd.split(dataset, train_size=train_size, val_size=val_size, seed=0, test=config.test)
    if sizes is not None and len(sizes) > 1:  # e.g. fewer training rows than classes
        rd.split(dataset, train_size=sizes[0], val_size=val_size, seed=0, test=config.test)
    if splits.kind == "text":
        config = _for_text(config)
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
    if config.cell is not None:
        load_cell(config.cell)  # a bad spec fails before anything is stored
    recipes = [config.recipe(name) for name in config.recipes]
    if config.epochs is not None:
        recipes = [r.replace(epochs=config.epochs) for r in recipes]
    check_builds(recipes, splits, model_kind(config.model, splits.kind))
    return config, dataset


def resolve_recipes(names: str | Sequence[str] | None, specs: Sequence[str] = ()) -> list[Any]:
    """The ``recipes`` of a :class:`StudyConfig` from built-in names and recipe specs.

    ``names`` are built-in recipe names (a comma-separated string or a list); None means all
    of :data:`DEFAULT_RECIPES`, or only ``baseline`` when ``specs`` are given. Each spec is a
    recipe spec string or a ``.toml`` file and becomes a ``(name, Recipe)`` pair; a spec that
    names no recipe is named after itself.
    """
    from .recipe import Recipe

    chosen: list[Any]
    if names is None:
        chosen = ["baseline"] if specs else list(DEFAULT_RECIPES)
    elif isinstance(names, str):
        chosen = [n.strip() for n in names.split(",") if n.strip()]
    else:
        chosen = list(names)
    for spec in specs:
        if spec.endswith(".toml"):
            path = Path(spec)
            if not path.is_file():
                raise ConfigError(
                    f"The '--recipe' option of reglab study names a TOML file that does not "
                    f"exist. Got {spec!r} instead."
                )
            recipe = Recipe.from_toml(path)
        else:
            recipe = Recipe.from_spec(spec)
        if recipe.name in ("custom", "baseline") and "name=" not in spec:
            recipe = recipe.replace(name=spec)
        chosen.append((recipe.name, recipe))
    return chosen


def stored_config(out_dir: str | os.PathLike[str], storage: str | None = None) -> StudyConfig:
    """The settings of the study stored in ``storage`` (default: ``study.db`` in ``out_dir``)."""
    out = Path(out_dir)
    if storage is None and not (out / "study.db").is_file():
        raise ConfigError(
            f"Nothing to resume in {str(out)!r}: it holds no study.db. Start the study "
            "without --resume, or pass --out/--storage of an existing one."
        )
    return StudyConfig.from_dict(StudyStore(storage or sqlite_url(out)).config)


# -- workers -----------------------------------------------------------------------------------


def work(
    store: StudyStore,
    *,
    poll: float = 1.0,
    on_event: Callable[[str, Claim], None] | None = None,
    dataset: Any = None,
    device: str = "cpu",
) -> int:
    """Claim and run cells until none is waiting or running; return how many this worker ran.

    While other workers still run cells, this one keeps polling, so that a cell whose worker died
    is failed by heartbeat, queued again, and picked up here. ``dataset`` saves loading the
    data again when the caller already has it. ``on_event`` hears ``"start"``, ``"done"``,
    ``"failed"`` and ``"dropped"`` (a completion another worker stored first) per claim.
    """
    execute = cell_executor(store.config, dataset, device)
    warm_up()
    ran = 0
    while True:
        claim: Claim | None = None
        stored: bool | None = None
        try:
            # Storage writes hold Ctrl-C back until they finish: a claim, a completion or a
            # release cut in half would leave its cell RUNNING until the grace period ends.
            with held_interrupt():
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
                    with held_interrupt():  # it may read the storage (the progress events)
                        on_event("start", claim)
                with store.heartbeat(claim):
                    row, history = execute(claim.cell)
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
            with held_interrupt():
                stored = store.complete(claim, row, history)
        except KeyboardInterrupt:
            if claim is not None and stored is None:
                _release(store, claim, "interrupted", retry=True)
            raise
        ran += int(stored)
        if on_event:
            on_event("done" if stored else "dropped", claim)


CellExecutor = Callable[[Cell], tuple[dict[str, Any], list[dict[str, Any]]]]


def cell_executor(
    config: Mapping[str, Any], dataset: Any = None, device: str = "cpu"
) -> CellExecutor:
    """What runs a cell of the stored ``config``: a study's :func:`execute_cell` by default.

    Other commands that keep their cells in the same storage (``reglab claims``) store
    ``runner = "package.module:factory"``; ``factory(config)`` returns the executor. Spawned
    workers read it from the storage, so they run the same cells as the parent.
    """
    runner = config.get("runner")
    if runner is not None:
        module, _, name = str(runner).partition(":")
        factory = getattr(importlib.import_module(module), name)
        executor: CellExecutor = factory(config)
        return executor
    study_config = StudyConfig.from_dict(config)
    cache = StudySplits(study_config, dataset, device)
    return lambda cell: execute_cell(study_config, cell, cache)


def _release(store: StudyStore, claim: Claim, reason: str, *, retry: bool) -> None:
    with held_interrupt():
        try:
            store.release(claim, reason, retry=retry)
        except Exception:
            # An interrupt that cut a database call can leave its pooled connection unusable:
            # try once more on fresh connections before giving up.
            store.storage.engine.dispose()
            store.release(claim, reason, retry=retry)


def _worker(
    url: str,
    heartbeat_interval: int,
    grace_period: int,
    threads: int,
    dataset: Any = None,
    device: str = "cpu",
) -> None:
    """What a spawned study worker runs (see :class:`~reglab.lab.workers.WorkerGroup`)."""
    import torch

    torch.set_num_threads(threads)
    store = StudyStore(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    work(store, dataset=dataset, device=device)


# -- orchestration -----------------------------------------------------------------------------


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
    progress: bool | None = None,
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
        on_progress: receives a ``"cells"`` :class:`~reglab.lab.workers.Event` (``done`` of
            ``total`` cells; ``running``, ``failed``, ``waiting``) whenever the counts may have
            changed, and an ``"error"`` event when a worker process stops on a configuration
            error.
        write_report: write ``results.csv``, ``summary.json`` and ``report.html`` at the end.
        heartbeat_interval, grace_period: seconds; a worker silent for ``grace_period`` is
            presumed dead and its cell is queued again.
        threads: torch threads per worker (default 1: the lab's models are small, and more
            threads only add synchronization, which costs a lot on a busy machine).
        progress: deprecated and ignored (the library draws nothing; pass ``on_progress``).
        device: where every worker trains: ``"auto"`` (CUDA when available), ``"cpu"``,
            ``"cuda"``, ``"cuda:N"`` or ``"mps"``. Each worker moves the data there once; several
            workers share one GPU.
    """
    warn_progress_deprecated("run_study", progress)
    device = lab_device(device)
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
    pending = len(cells) - len(store.complete_counts_per_cell())
    jobs = max(1, min(jobs, pending))
    t0 = time.perf_counter()

    report = cells_reporter(on_progress, len(cells))

    try:
        emit(on_progress, "settings", **_settings(config, jobs, device))
        report(store.counts())
        ran = run_workers(store, jobs, threads or 1, report, dataset, on_progress, device)
        report(store.counts())
    except KeyboardInterrupt:
        if write_report:
            with contextlib.suppress(Exception):  # the interrupt matters more than the report
                _write_report(store, out, config, cells)
        raise
    elapsed = time.perf_counter() - t0
    if write_report:
        rows, failed = _write_report(store, out, config, cells)
    else:
        rows = ordered_rows(store.completed(), config.recipes)
        failed = _missing(cells, rows)
    done = len(cells) - len(failed)
    return StudyOutcome(out, url, len(cells), done, failed, rows, elapsed, ran)


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
        "seeds": config.seeds,
        "jobs": jobs,
        "device": device,
        "encoded_columns": len(info.get("encoding", [])),
        "text": info.get("text"),
    }


def _missing(cells: Sequence[Cell], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    sweep = any(c.train_size is not None for c in cells)
    done = {cell_key(r["recipe"], r["seed"], r.get("train_size") if sweep else None) for r in rows}
    return [c.key for c in cells if c.key not in done]


def _write_report(
    store: StudyStore, out: Path, config: StudyConfig, cells: Sequence[Cell]
) -> tuple[list[dict[str, Any]], list[str]]:
    rows = ordered_rows(store.completed(), config.recipes)
    failed = _missing(cells, rows)
    if rows:
        from .report import write_outputs

        out.mkdir(parents=True, exist_ok=True)
        write_outputs(out, config, rows, failed_cells=failed)
    return rows, failed


def rebuild_report(
    out_dir: str | os.PathLike[str], storage: str | None = None
) -> tuple[int, dict[str, Path]]:
    """Write a study's ``results.csv``, ``summary.json`` and ``report.html`` from its storage.

    Returns the number of finished runs and the paths written.
    """
    from .report import write_outputs

    out = Path(out_dir)
    if storage is None and not (out / "study.db").is_file():
        raise ConfigError(
            f"No study found in {str(out)!r} (no study.db). Pass the folder given to "
            "`reglab study --out`, or --storage URL."
        )
    store = StudyStore(storage or sqlite_url(out))
    config = StudyConfig.from_dict(store.config)
    rows = store.completed()
    if not rows:
        raise ConfigError(f"The study in {str(out)!r} has no finished cells yet.")
    out.mkdir(parents=True, exist_ok=True)
    paths = write_outputs(out, config, rows, failed_cells=_missing(config.cells(), rows))
    return len(rows), paths


def run_workers(
    store: StudyStore,
    jobs: int,
    threads: int,
    report: Callable[[Mapping[str, int]], None],
    dataset: Any,
    on_progress: ProgressCallback | None,
    device: str = "cpu",
) -> int:
    """This process works, with ``jobs - 1`` spawned worker processes beside it.

    Working here saves one process start (torch and the data are already loaded), and the
    workers get the loaded dataset instead of reading it again. A worker that dies while work
    remains is replaced (up to ``4 * jobs`` times). Returns the cells this process ran.
    """
    args = (store.url, store.heartbeat_interval, store.grace_period, threads, dataset, device)
    group = WorkerGroup(
        max_restarts=4 * jobs, on_error=lambda message: emit(on_progress, "error", message=message)
    )

    def tend() -> None:
        counts = store.counts()
        report(counts)
        group.tend(unfinished=counts["waiting"] + counts["running"] > 0)

    with torch_threads(threads), group:
        for _ in range(jobs - 1):
            group.start(_worker, *args)
        ran = work(store, on_event=lambda _e, _c: tend(), dataset=dataset, device=device)
        group.join(each=tend)
        return ran
