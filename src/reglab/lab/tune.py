"""``reglab tune``: search regularization strengths with Optuna, then measure the best on test.

The search starts from a base recipe (``all`` by default; its own strengths are the first trial)
and lets Optuna's TPE sampler choose dropout, weight decay, L1, augmentation magnitude (and, on
images, which augmentation), mixup alpha, label smoothing, the network's width and the epoch
budget. A per-tenth-of-training report of the validation score lets the median pruner stop
trials whose learning curve falls behind.

The test split never reaches the search. One split (``split_seed``) sets the test examples
aside; the rest form the pool the search draws from. Each trial trains ``partitions`` times, on
the split's own train/validation partition and on redraws of the pool (same sizes), and is
scored by the mean **validation** accuracy (validation loss for regression): a 300-image
validation set alone cannot tell strengths apart that differ by a few images.

The final evaluation trains the best recipe (and the base recipe, for a paired comparison) with
``seeds`` seeds. Seed 0 uses the search split; seed ``s`` draws its own training and validation
examples (as a study does), and is tested on the search split's test examples that it did not
draw. So the reported accuracy averages over draws of the training labels, and no test example
ever scored a trial. Test accuracy comes with a 95% Student-t interval.

Trials live in an Optuna database (``tune.db`` in the output folder by default), so rerunning the
same command resumes: finished trials count toward ``trials``.

Example:
    >>> from reglab.lab.tune import TuneConfig, run_tune
    >>> cfg = TuneConfig(data="iris", trials=4, seeds=2, epochs=5)  # doctest: +SKIP
    >>> outcome = run_tune(cfg, "runs/tune")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .._checks import Interval, OneOf, check
from ..errors import ConfigError
from .recipe import BUILTIN_RECIPES, Recipe
from .storage import _creation_race, _first_line, _redact, _serialize_sqlite
from .storage import json_safe as _json_safe
from .study import _model_kind, _size, default_jobs

__all__ = [
    "SPACE",
    "TuneConfig",
    "TuneOutcome",
    "recipe_toml",
    "run_tune",
    "search_space",
]

STUDY_NAME = "reglab-tune"

#: The strengths ``reglab tune`` searches by default (names of :class:`Recipe` fields).
SPACE = (
    "dropout",
    "weight_decay",
    "l1",
    "augment",
    "augment_magnitude",
    "mixup",
    "label_smoothing",
    "width",
    "epochs",
)

# Pruning compares learning curves at the same point of the schedule: each trial reports at
# tenths of its own epoch budget (trials search different budgets; under cosine annealing a
# longer run at epoch 75 is at a higher learning rate than a shorter one, and scores lower).
_REPORTS = 10

# Image augmentations the search chooses among (tabular data only has feature noise).
_IMAGE_AUGMENTS = ("affine", "rotate+translate", "translate", "affine+erasing")


@dataclass(frozen=True)
class TuneConfig:
    """What ``reglab tune`` searches: data, split, model, base recipe, space and budget.

    Args:
        data, target, train_size, val_size, model: as for :class:`~reglab.lab.study.StudyConfig`.
        base: the recipe the search starts from: a built-in name or a spec
            (``"all,epochs=80"``).
        trials: finished (complete or pruned) trials to reach.
        seeds: training seeds of the final test evaluation.
        epochs: overrides the base recipe's epoch budget.
        space: the recipe fields to search (a subset of :data:`SPACE`).
        split_seed: the split that sets the test examples aside (and the search's first
            partition).
        partitions: train/validation partitions of the pool each trial is scored on (their
            mean validation score).
        confirm: after the search, the best ``confirm`` trials are each scored on
            ``partitions`` more partitions, and the best mean over all of its partitions wins
            (1 keeps the search's best as it is).
    """

    data: str = "digits"
    target: str | None = None
    train_size: int | float = 200
    val_size: int | float = 300
    model: str = "auto"
    base: str = "all"
    trials: int = 40
    seeds: int = 3
    epochs: int | None = None
    space: tuple[str, ...] = SPACE
    split_seed: int = 0
    partitions: int = 2
    confirm: int = 3

    def __post_init__(self) -> None:
        owner = "TuneConfig"
        check(owner, "partitions", self.partitions, Interval(int, 1, None))
        check(owner, "confirm", self.confirm, Interval(int, 1, None))
        check(owner, "trials", self.trials, Interval(int, 1, None))
        check(owner, "seeds", self.seeds, Interval(int, 1, None))
        check(owner, "split_seed", self.split_seed, Interval(int, 0, None))
        if self.epochs is not None:
            check(owner, "epochs", self.epochs, Interval(int, 1, None))
        object.__setattr__(self, "train_size", _size(owner, "train_size", self.train_size))
        object.__setattr__(self, "val_size", _size(owner, "val_size", self.val_size))
        space = tuple(self.space)
        if not space:
            raise ConfigError(
                "The 'space' parameter of TuneConfig must name at least one of "
                f"{', '.join(SPACE)}. Got an empty list instead."
            )
        for name in space:
            check(owner, "space", name, OneOf(*SPACE))
        object.__setattr__(self, "space", space)
        self.base_recipe()  # a bad spec fails here

    def base_recipe(self) -> Recipe:
        """The recipe the search starts from (with ``epochs`` applied)."""
        if self.base in BUILTIN_RECIPES:
            recipe = BUILTIN_RECIPES[self.base]
        else:
            recipe = Recipe.from_spec(self.base)
        if self.epochs is not None:
            recipe = recipe.replace(epochs=self.epochs)
        return recipe

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["space"] = list(self.space)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TuneConfig:
        return cls(**{**d, "space": tuple(d.get("space", SPACE))})


@dataclass
class TuneOutcome:
    """What a tuning run leaves: the best recipe, its test evaluation, and the trials.

    ``best_value`` is the chosen trial's mean validation score over all the partitions it was
    scored on (the search's and the confirmation's); ``confirmation`` has one row per re-scored
    trial (empty when ``confirm`` is 1 or only one trial finished).
    """

    out_dir: Path
    url: str
    best: Recipe
    best_value: float
    trials: list[dict[str, Any]]
    test: dict[str, Any]
    seconds: float
    paths: dict[str, Path]
    best_trial: int = 0
    confirmation: list[dict[str, Any]] = field(default_factory=list)


# -- the search space --------------------------------------------------------------------------


def search_space(fields_: Sequence[str], kind: str, base: Recipe) -> dict[str, Any]:
    """Optuna distributions for the searched recipe fields.

    ``kind`` is the data kind (``"image"`` or ``"tabular"``): tabular data searches only the
    strength of Gaussian feature noise, images also choose the augmentation. Mixup is left out
    for regression. ``epochs`` ranges from 2/3 to 5/3 of the base recipe's budget, in steps
    of a sixth.

    Example:
        >>> sorted(search_space(["dropout", "l1"], "image", BUILTIN_RECIPES["all"]))
        ['dropout', 'l1']
        >>> search_space(["epochs"], "image", BUILTIN_RECIPES["all"])["epochs"]
        IntDistribution(high=250, log=False, low=100, step=25)
    """
    import optuna.distributions as D

    ranges: dict[str, Any] = {
        "dropout": D.FloatDistribution(0.0, 0.6),
        "weight_decay": D.FloatDistribution(1e-4, 1.0, log=True),
        # 1e-7 is "off" in practice: the penalty is then far below the data loss.
        "l1": D.FloatDistribution(1e-7, 1e-3, log=True),
        "augment_magnitude": D.FloatDistribution(0.25, 2.5),
        "mixup": D.FloatDistribution(0.0, 0.5),
        "label_smoothing": D.FloatDistribution(0.0, 0.2),
        # Capacity and training length trade off with every regularizer: a wider network
        # trained longer needs (and takes) more regularization.
        "width": D.IntDistribution(32, 64, step=16),
        "epochs": _epoch_range(base.epochs),
    }
    if kind == "image":
        ranges["augment"] = D.CategoricalDistribution(_IMAGE_AUGMENTS)
    return {name: ranges[name] for name in fields_ if name in ranges}


def _epoch_range(epochs: int) -> Any:
    import optuna.distributions as D

    step = max(1, round(epochs / 6))
    low = max(step, round(epochs * 2 / 3 / step) * step)
    return D.IntDistribution(low, low + 6 * step, step=step)


def _start_params(base: Recipe, space: Mapping[str, Any]) -> dict[str, Any]:
    """The base recipe's own strengths, moved into the search ranges (the first trial)."""
    out: dict[str, Any] = {}
    for name, dist in space.items():
        value = getattr(base, name)
        if hasattr(dist, "choices"):
            if value in dist.choices:
                out[name] = value
            continue
        value = min(max(value, dist.low), dist.high)
        if isinstance(dist.low, int):
            value = dist.low + round((value - dist.low) / dist.step) * dist.step
            out[name] = int(min(value, dist.high))
        else:
            out[name] = float(value)
    return out


def _apply(base: Recipe, params: Mapping[str, Any], kind: str, name: str) -> Recipe:
    """The base recipe with the searched strengths applied."""
    changes = dict(params)
    if kind == "tabular" and "augment_magnitude" in changes:
        changes["augment"] = "noise"
    if "l1" in changes and changes["l1"] <= 1.0001e-7:
        changes["l1"] = 0.0  # the bottom of the range means "no L1"
    # Three significant digits: a readable recipe, and no strength is known better than that.
    changes = {k: float(f"{v:.3g}") if isinstance(v, float) else v for k, v in changes.items()}
    # The base's description names its own strengths; the searched ones replace them.
    searched = ", ".join(sorted(params))
    description = f"'{base.name}' with {searched} searched" if searched else base.description
    return base.replace(name=name, description=description, **changes)


# -- one trial ---------------------------------------------------------------------------------


class _NoTest:
    """The splits a trial sees: train and validation only (its ``test`` is the validation part).

    :func:`~reglab.lab.run.run_cell` measures a "test" score at the end; giving it the
    validation split there keeps the real test split out of every trial.
    """

    def __init__(self, splits: Any) -> None:
        self.train = splits.train
        self.val = splits.val
        self.test = splits.val
        self.task = splits.task
        self.kind = splits.kind
        self.input_shape = splits.input_shape
        self.num_classes = splits.num_classes
        self.num_outputs = splits.num_outputs


class _Reporter:
    """A fit callback: reports the validation score at each tenth of the epoch budget (step
    1..10, comparable across trials with different budgets); asks to stop when pruned."""

    def __init__(self, trial: Any, key: str, sign: float, epochs: int) -> None:
        self.trial, self.key, self.sign, self.epochs = trial, key, sign, epochs
        self.pruned_at: int | None = None
        self._step = 0

    def step(self, metrics: Mapping[str, Any], model: Any) -> bool:
        value = metrics.get(self.key)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        epoch = int(metrics.get("epoch", 0))
        step = (epoch + 1) * _REPORTS // self.epochs
        if step <= self._step:
            return False
        self._step = step
        self.trial.report(self.sign * float(value), step)
        if self.trial.should_prune():
            self.pruned_at = epoch
            return True
        return False


class _Objective:
    """Train one trial's recipe on the search partitions; return its mean validation score."""

    def __init__(self, config: TuneConfig, dataset: Any) -> None:
        from .. import data as rd

        self.config = config
        self.dataset = dataset
        self.splits = rd.split(
            dataset,
            train_size=config.train_size,
            val_size=config.val_size,
            seed=config.split_seed,
        )
        self.kind = self.splits.kind
        self.model = _model_kind(config.model, self.kind)
        self.base = config.base_recipe()
        if self.kind == "tabular" and self.base.augment not in (None, "noise"):
            # As in a study: image transforms become Gaussian feature noise on tabular data.
            self.base = self.base.replace(augment="noise")
        self.space = search_space(config.space, self.kind, self.base)
        if self.splits.task == "regression":
            self.space.pop("mixup", None)
            self.space.pop("label_smoothing", None)
        self.views = [self.partition(k) for k in range(config.partitions)]
        classification = self.splits.task == "classification"
        self.key, self.sign = ("val_acc", 1.0) if classification else ("val_loss", -1.0)

    def partition(self, k: int) -> _NoTest:
        """Partition ``k`` of the pool: 0 is the search split's own train/validation part, ``k``
        >= 1 a seeded redraw of the same sizes (the confirmation stage uses the next ones)."""
        return _NoTest(self.splits if k == 0 else self._redraw(k))

    def _redraw(self, k: int) -> Any:
        """Redraw ``k`` of the pool (the search split's train and validation examples)."""
        import torch

        from .. import data as rd

        sp = self.splits
        pool = torch.sort(torch.cat([sp.train_index, sp.val_index])).values
        ds = self.dataset
        pooled = replace(ds, X=ds.X[pool], y=ds.y[pool])
        # A split keeps at least one test example: the pool's partition has one validation
        # example fewer than the search split.
        return rd.split(
            pooled,
            train_size=len(sp.train),
            val_size=len(sp.val) - 1,
            seed=_PARTITION_SEED * k + self.config.split_seed,
        )

    def evaluation_splits(self, seed: int) -> Any:
        """The splits of final-evaluation seed ``seed`` (see the module docstring)."""
        import torch

        from .. import data as rd

        if seed == 0:
            return self.splits
        sp = rd.split(
            self.dataset,
            train_size=self.config.train_size,
            val_size=self.config.val_size,
            seed=_EVAL_SEED * seed + self.config.split_seed,
        )
        keep = torch.isin(sp.test_index, self.splits.test_index)
        if not bool(keep.any()):
            raise ConfigError(
                f"The final evaluation of seed {seed} has no test example left: its draw of "
                "training and validation examples covers the search's test split. Use fewer "
                "--seeds or a smaller --train-size/--val-size."
            )
        test = replace(sp.test, X=sp.test.X[keep], y=sp.test.y[keep])
        return replace(sp, test=test, test_index=sp.test_index[keep])

    def __call__(self, trial: Any) -> float:
        import optuna

        from .run import run_cell

        params = {name: _suggest(trial, name, dist) for name, dist in self.space.items()}
        recipe = _apply(self.base, params, self.kind, f"trial-{trial.number}")
        scores: list[float] = []
        seconds = 0.0
        for i, view in enumerate(self.views):
            # Pruning follows the first partition's learning curve.
            reporter = _Reporter(trial, self.key, self.sign, recipe.epochs) if i == 0 else None
            extra = [reporter] if reporter is not None else []
            result = run_cell(recipe, 0, view, model=self.model, callbacks=extra)
            if i == 0:
                trial.set_user_attr("epochs_run", result.epochs_run)
                trial.set_user_attr("train_score", _score(result, "train", self.key))
            seconds += result.seconds
            trial.set_user_attr("seconds", seconds)
            if reporter is not None and reporter.pruned_at is not None:
                raise optuna.TrialPruned(f"pruned at epoch {reporter.pruned_at}")
            value = self.score(result.val_acc, result.val_loss)
            if value is None:
                raise optuna.TrialPruned("the validation score is not finite")
            scores.append(value)
        trial.set_user_attr("partition_scores", scores)
        return sum(scores) / len(scores)

    def score(self, val_acc: float | None, val_loss: float) -> float | None:
        """A run's score (higher is better): validation accuracy, or minus the validation loss
        for regression; None when it is not a finite number."""
        value = val_acc if self.key == "val_acc" else -val_loss
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
        return None


# Seeds of the pool's redraws and of the evaluation draws: far from the small split seeds a
# user picks, so no redraw repeats the search split.
_PARTITION_SEED = 1_000_003
_EVAL_SEED = 2_000_003


def _suggest(trial: Any, name: str, dist: Any) -> Any:
    if hasattr(dist, "choices"):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist.low, int):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step)
    return trial.suggest_float(name, dist.low, dist.high, log=dist.log)


def _score(result: Any, part: str, key: str) -> float | None:
    v = getattr(result, f"{part}_acc" if key == "val_acc" else f"{part}_loss")
    return None if v is None else float(v)


# -- storage -----------------------------------------------------------------------------------


def _open(url: str, config: TuneConfig, seed: int | None = 0) -> Any:
    """Create or load the tuning study; a stored study must have the same settings."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    engine_kwargs: dict[str, Any] = (
        {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    )
    storage = None
    for attempt in range(6):
        try:
            storage = optuna.storages.RDBStorage(
                url, engine_kwargs=engine_kwargs, heartbeat_interval=10, grace_period=60
            )
            break
        except Exception as exc:
            if _creation_race(exc) and attempt < 5:
                time.sleep(0.5)
                continue
            raise ConfigError(
                f"Cannot open the tuning storage {_redact(url)!r}: {_first_line(exc)}. "
                "Check the URL, that the server is running, and that its driver is installed."
            ) from None
    assert storage is not None
    if storage.engine.dialect.name == "sqlite":
        _serialize_sqlite(storage.engine)
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=8)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=_warmup(config))
    study = optuna.create_study(
        study_name=STUDY_NAME,
        storage=storage,
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    stored = study.user_attrs.get("config")
    mine = _comparable(config.to_dict())
    if stored is None:
        study.set_user_attr("config", config.to_dict())
    elif _comparable(stored) != mine:
        diff = sorted(k for k in mine if stored.get(k) != mine.get(k))
        raise ConfigError(
            f"The storage {_redact(url)!r} already holds a tuning run with different settings "
            f"({', '.join(diff)}). Use a new --out folder or --storage, or rerun with the "
            "original settings to resume."
        )
    return study


def _comparable(d: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that must match to resume (the trial budget and the confirmation may
    change: they do not touch the stored trials)."""
    return {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in d.items()
        if k not in ("trials", "confirm")
    }


def _warmup(config: TuneConfig) -> int:
    """Reports (tenths of the budget) before pruning may act: half the budget.

    Under a cosine schedule, strongly regularized runs (heavy augmentation, mixup) climb late;
    pruning them at a quarter of the budget steered the search toward weak regularization.
    """
    del config
    return _REPORTS // 2


def _finished(study: Any) -> int:
    import optuna

    S = optuna.trial.TrialState
    return len(study.get_trials(deepcopy=False, states=(S.COMPLETE, S.PRUNED)))


# -- search workers ----------------------------------------------------------------------------


def _search(
    url: str,
    config: TuneConfig,
    dataset: Any,
    deadline: float | None,
    threads: int,
    sampler_seed: int | None,
    progress: Any = None,
) -> None:
    """Run trials in this process until ``config.trials`` are finished or time runs out."""
    import optuna
    import torch

    torch.set_num_threads(threads)
    study = _open(url, config, seed=sampler_seed)
    objective = _Objective(config, dataset)
    callbacks = [
        optuna.study.MaxTrialsCallback(
            config.trials, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        )
    ]
    if progress is not None:
        callbacks.append(progress)
    while _finished(study) < config.trials:
        left = None if deadline is None else deadline - time.time()
        if left is not None and left <= 0:
            return
        failed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
        if len(failed) >= config.trials:
            return  # every setting fails (e.g. out of memory): stop instead of looping
        study.optimize(
            objective,
            n_trials=1,
            timeout=left,
            callbacks=callbacks,
            catch=(RuntimeError, FloatingPointError),
            gc_after_trial=False,
        )


def _search_worker(
    url: str, config: dict[str, Any], dataset: Any, deadline: float | None, threads: int, k: int
) -> None:
    """Entry point of a spawned search process (a different sampler seed per worker)."""
    try:
        _search(url, TuneConfig.from_dict(config), dataset, deadline, threads, 1000 + k)
    except KeyboardInterrupt:
        sys.exit(130)
    except ConfigError as exc:
        print(f"reglab: error: {exc}", file=sys.stderr)
        sys.exit(2)


# -- orchestration -----------------------------------------------------------------------------


def run_tune(
    config: TuneConfig,
    out_dir: str | os.PathLike[str],
    *,
    storage: str | None = None,
    jobs: int | None = None,
    timeout: float | None = None,
    progress: bool = True,
    compare: bool = True,
    threads: int | None = None,
) -> TuneOutcome:
    """Search, then evaluate the best recipe on the test split; write the tuning report.

    Args:
        config: what to search.
        out_dir: folder for ``tune.db`` (default storage), ``best.toml``, ``trials.csv``,
            ``summary.json`` and ``report.html``.
        storage: SQLAlchemy URL of the tuning database.
        jobs: search processes, this one included, sharing the database (None: one per
            usable CPU core); the confirmation and the test evaluation run this many cells
            at a time.
        timeout: seconds for the search (the final evaluation comes after it).
        progress: print one line per finished trial on stderr.
        compare: also evaluate the base recipe on the same seeds (a paired comparison).
        threads: torch threads per search process and per cell after it (default 1, as for
            a study).
    """
    from .. import data as rd

    jobs = default_jobs() if jobs is None else jobs
    check("run_tune", "jobs", jobs, Interval(int, 1, None))
    if timeout is not None:
        check("run_tune", "timeout", timeout, Interval(float, 0, None, closed="neither"))
    out = Path(out_dir)
    dataset = rd.load_dataset(config.data, target=config.target)
    objective = _Objective(config, dataset)  # a bad split, model or recipe fails here
    _check_builds(objective)
    out.mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{out.resolve() / 'tune.db'}"
    study = _open(url, config)
    if not study.get_trials(deepcopy=False):
        # The search starts from the base recipe's own strengths.
        study.enqueue_trial(_start_params(objective.base, objective.space))
    t0 = time.perf_counter()
    deadline = None if timeout is None else time.time() + timeout
    threads = threads or 1
    line = _TrialLine(config.trials, objective.key) if progress else None
    if _finished(study) < config.trials:
        _run_search(url, config, dataset, deadline, threads, jobs, line)
    search_seconds = time.perf_counter() - t0
    study = _open(url, config)
    trials = _trial_rows(study)
    if not any(t["state"] == "COMPLETE" for t in trials):
        raise ConfigError(
            "No tuning trial finished (all were pruned, failed or timed out). "
            "Give --timeout more seconds or --trials more trials."
        )
    best_trial, best_value, confirmation = _confirm(
        study, config, objective, jobs, threads, progress
    )
    best = _apply(objective.base, best_trial.params, objective.kind, "tuned")
    test = _evaluate(study, config, objective, best, compare, jobs, threads)
    seconds = time.perf_counter() - t0
    paths = _write(
        out, config, url, best, best_value, trials, confirmation, test, search_seconds, seconds
    )
    return TuneOutcome(
        out, url, best, best_value, trials, test, seconds, paths, best_trial.number, confirmation
    )


def _check_builds(objective: _Objective) -> None:
    """Build the base recipe's model and parts once, so a bad --model fails before the search."""
    import torch

    from ..models import build_model

    sp = objective.splits
    classes = sp.num_classes if sp.task == "classification" else None
    with torch.random.fork_rng(devices=[]):
        recipe = _apply(
            objective.base, _start_params(objective.base, objective.space), objective.kind, "check"
        )
        net = build_model(recipe, sp.input_shape, sp.num_outputs, kind=objective.model)
        recipe.parts(net, input_shape=tuple(sp.input_shape), num_classes=classes)


def _run_search(
    url: str,
    config: TuneConfig,
    dataset: Any,
    deadline: float | None,
    threads: int,
    jobs: int,
    line: Any,
) -> None:
    ctx = mp.get_context("spawn")
    procs = []
    for k in range(1, jobs):
        p = ctx.Process(
            target=_search_worker,
            args=(url, config.to_dict(), dataset, deadline, threads, k),
            daemon=False,
        )
        p.start()
        procs.append(p)
    import torch

    previous = torch.get_num_threads()
    try:
        _search(url, config, dataset, deadline, threads, 0, line)
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            p.join(timeout=30)
        raise
    finally:
        torch.set_num_threads(previous)
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)


class _TrialLine:
    """An Optuna callback printing one line per finished trial on stderr."""

    def __init__(self, total: int, key: str) -> None:
        self.total, self.key = total, key
        self.t0 = time.perf_counter()

    def __call__(self, study: Any, trial: Any) -> None:
        done = _finished(study)
        scale = 100.0 if self.key == "val_acc" else -1.0
        value = "pruned" if trial.value is None else f"{scale * trial.value:.2f}"
        try:
            best = f"{scale * study.best_value:.2f}"
        except ValueError:
            best = "-"
        print(
            f"tune: trial {trial.number:3d} {trial.state.name.lower():8s} {self.key} {value:>7s}"
            f"  best {best}  ({done}/{self.total} finished, {time.perf_counter() - self.t0:.0f} s)",
            file=sys.stderr,
            flush=True,
        )


def _trial_rows(study: Any) -> list[dict[str, Any]]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "last_step": t.last_step,
            "epochs_run": t.user_attrs.get("epochs_run"),
            "seconds": t.user_attrs.get("seconds"),
        }
        row.update({f"param_{k}": v for k, v in sorted(t.params.items())})
        rows.append(row)
    return rows


def _evaluate(
    study: Any,
    config: TuneConfig,
    objective: _Objective,
    best: Recipe,
    compare: bool,
    jobs: int = 1,
    threads: int = 1,
) -> dict[str, Any]:
    """Test scores of the best (and base) recipe over the evaluation seeds, ``jobs`` cells at
    a time; each finished cell is saved in the study, so a rerun trains only what is missing.

    Both recipes see the same draws (a paired comparison).
    """
    from .report import _clip01, mean_ci, paired_vs_baseline

    recipes = [("tuned", best)]
    if compare:
        recipes.append(("base", objective.base.replace(name="base")))
    key = json.dumps({n: r.to_dict() for n, r in recipes}, sort_keys=True, default=str)
    cached = study.user_attrs.get("evaluation")
    done: dict[str, Any] = {}
    if isinstance(cached, dict) and cached.get("key") == key and isinstance(cached["rows"], dict):
        done = dict(cached["rows"])
    tasks = [
        (
            f"{name}/{seed}",
            (recipe.replace(name=name), seed, objective.evaluation_splits(seed), objective.model),
        )
        for seed in range(config.seeds)
        for name, recipe in recipes
        if f"{name}/{seed}" not in done
    ]
    for cell, row in _run_cells(tasks, jobs, threads):
        done[cell] = _json_safe(row)
        study.set_user_attr("evaluation", {"key": key, "rows": done})
    rows = [done[f"{name}/{seed}"] for name, _ in recipes for seed in range(config.seeds)]
    metric = "test_acc" if objective.key == "val_acc" else "test_loss"
    out: dict[str, Any] = {"metric": metric, "rows": rows}
    for name, _ in recipes:
        values = [r[metric] for r in rows if r["recipe"] == name]
        m, lo, hi = mean_ci(values)
        if metric == "test_acc":  # an accuracy interval stays within [0, 1], as in a study
            lo, hi = _clip01(lo), _clip01(hi)
        out[name] = {"mean": m, "low": lo, "high": hi, "values": values}
    if compare:
        renamed = [
            {**r, "recipe": "baseline" if r["recipe"] == "base" else r["recipe"]} for r in rows
        ]
        out["paired"] = paired_vs_baseline(renamed, "tuned")
    return out


# -- after the search: confirmation and test evaluation, cells in parallel ---------------------


def _cell_row(task: tuple[Recipe, int, Any, Any], threads: int) -> dict[str, Any]:
    """Run one cell; its result row without the history."""
    from . import run as lab_run
    from .study import _result_parts

    recipe, seed, splits, model = task
    result = lab_run.run_cell(recipe, seed, splits, model=model, threads=threads)
    return _result_parts(result)[0]


def _pool_cell(item: tuple[int, tuple[Recipe, int, Any, Any], int]) -> tuple[int, dict[str, Any]]:
    index, task, threads = item
    return index, _cell_row(task, threads)


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group; the parent alone handles it (and stops the pool).
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_cells(
    tasks: Sequence[tuple[str, tuple[Recipe, int, Any, Any]]], jobs: int, threads: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Run ``(key, (recipe, seed, splits, model))`` cells, ``jobs`` at a time (in this process
    when ``jobs`` is 1); yield ``(key, row)`` as each one ends."""
    if jobs <= 1 or len(tasks) <= 1:
        for key, task in tasks:
            yield key, _cell_row(task, threads)
        return
    pool = mp.get_context("spawn").Pool(min(jobs, len(tasks)), initializer=_ignore_sigint)
    try:
        items = [(i, task, threads) for i, (_, task) in enumerate(tasks)]
        for i, row in pool.imap_unordered(_pool_cell, items):
            yield tasks[i][0], row
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def _confirm(
    study: Any,
    config: TuneConfig,
    objective: _Objective,
    jobs: int,
    threads: int,
    progress: bool,
) -> tuple[Any, float, list[dict[str, Any]]]:
    """Choose the best trial: re-score the search's ``config.confirm`` best on more partitions.

    A search's best score is biased upward (the maximum of noisy scores), so each of the top
    trials is trained on ``config.partitions`` further partitions of the pool (the same ones
    for every trial), and the trial with the best mean over all of its partitions wins; ties
    go to the earlier trial. Each re-scored cell is saved in the study as it ends.

    Returns:
        The chosen trial, its mean score, and one row per re-scored trial (``number``,
        ``search`` score, ``confirm`` score on the new partitions, ``mean`` over all).
    """
    import optuna

    complete = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
    ]
    top = sorted(complete, key=lambda t: (-t.value, t.number))[: config.confirm]
    if len(top) <= 1:
        return top[0], float(top[0].value), []
    extra = range(config.partitions, 2 * config.partitions)
    stored: dict[str, Any] = dict(study.user_attrs.get("confirmation") or {})
    views: dict[int, _NoTest] = {}
    tasks = []
    for t in top:
        recipe = _apply(objective.base, t.params, objective.kind, f"trial-{t.number}")
        for k in extra:
            if f"{t.number}/{k}" not in stored:
                if k not in views:
                    views[k] = objective.partition(k)
                tasks.append((f"{t.number}/{k}", (recipe, 0, views[k], objective.model)))
    if progress and tasks:
        print(
            f"tune: confirming the best {len(top)} trials on {len(extra)} more partitions "
            f"({len(tasks)} runs)",
            file=sys.stderr,
            flush=True,
        )
    for cell, row in _run_cells(tasks, jobs, threads):
        stored[cell] = objective.score(row["val_acc"], row["val_loss"])
        study.set_user_attr("confirmation", stored)
    rows: list[dict[str, Any]] = []
    for t in top:
        more = [stored[f"{t.number}/{k}"] for k in extra]
        scores = [*t.user_attrs.get("partition_scores", [t.value]), *more]
        finite = all(v is not None for v in scores)
        rows.append(
            {
                "number": t.number,
                "search": float(t.value),
                "confirm": sum(more) / len(more) if finite else None,
                "mean": sum(scores) / len(scores) if finite else None,
                "scores": scores,
            }
        )
    ranked = [r for r in rows if r["mean"] is not None] or rows[:1]
    chosen = max(
        ranked, key=lambda r: (-math.inf if r["mean"] is None else r["mean"], -r["number"])
    )
    trial = next(t for t in top if t.number == chosen["number"])
    value = chosen["mean"] if chosen["mean"] is not None else float(trial.value)
    if progress:
        scale = 100.0 if objective.key == "val_acc" else -1.0
        for r in rows:
            conf = "-" if r["confirm"] is None else f"{scale * r['confirm']:.2f}"
            print(
                f"tune: trial {r['number']:3d} search {scale * r['search']:.2f}  "
                f"more partitions {conf}{'  <- chosen' if r is chosen else ''}",
                file=sys.stderr,
                flush=True,
            )
    return trial, float(value), rows


# -- outputs -----------------------------------------------------------------------------------


def recipe_toml(recipe: Recipe) -> str:
    """A recipe as a TOML file that :meth:`Recipe.from_toml` reads back to the same recipe.

    Every field is written (``none`` for an optional technique that is off), so the file does
    not depend on the built-in recipes' defaults.

    Example:
        >>> text = recipe_toml(BUILTIN_RECIPES["dropout"])
        >>> 'dropout = 0.3' in text and 'norm = "none"' in text
        True
    """
    lines = ["# reglab recipe (read with Recipe.from_toml or `reglab study --recipe FILE`)"]
    for f in fields(recipe):
        value = getattr(recipe, f.name)
        if f.name == "description" and not value:
            continue
        lines.append(f"{f.name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if value is None:
        return '"none"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def _write(
    out: Path,
    config: TuneConfig,
    url: str,
    best: Recipe,
    best_value: float,
    trials: list[dict[str, Any]],
    confirmation: list[dict[str, Any]],
    test: dict[str, Any],
    search_seconds: float,
    seconds: float,
) -> dict[str, Path]:
    from .report import _atomic_write

    paths = {
        "toml": out / "best.toml",
        "trials": out / "trials.csv",
        "summary": out / "summary.json",
        "report": out / "report.html",
    }
    _atomic_write(paths["toml"], recipe_toml(best))
    columns: list[str] = []
    for t in trials:
        columns += [k for k in t if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    for t in trials:
        writer.writerow({k: "" if t.get(k) is None else t.get(k) for k in columns})
    _atomic_write(paths["trials"], buf.getvalue())
    spec = best.summary()
    summary = {
        "config": config.to_dict(),
        "storage": _redact(url),
        "best": {"spec": spec, "recipe": best.to_dict(), "validation": best_value},
        "test": {k: v for k, v in test.items() if k != "rows"},
        "runs": test["rows"],
        "trials": {s: sum(t["state"] == s for t in trials) for s in ("COMPLETE", "PRUNED", "FAIL")},
        "confirmation": confirmation,
        "search_seconds": search_seconds,
        "seconds": seconds,
    }
    _atomic_write(paths["summary"], json.dumps(_json_safe(summary), indent=2))
    page = _html(config, best, best_value, trials, confirmation, test, seconds)
    _atomic_write(paths["report"], page)
    return paths


def _html(
    config: TuneConfig,
    best: Recipe,
    best_value: float,
    trials: list[dict[str, Any]],
    confirmation: list[dict[str, Any]],
    test: dict[str, Any],
    seconds: float,
) -> str:
    from .report import _CSS, _IMG_CHECK, _html_table

    esc = html.escape
    acc = test["metric"] == "test_acc"

    def fmt(v: Any) -> str:
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            return "–"
        return f"{100 * v:.2f}%" if acc else f"{v:.4g}"

    t = test["tuned"]
    over = 2 * config.partitions if confirmation else config.partitions
    text = (
        f"Best recipe by validation ({'accuracy' if acc else 'loss'} "
        f"{fmt(best_value if acc else -best_value)}, mean over {over} partitions): <code style='overflow-wrap:anywhere'>{esc(best.summary())}</code>. "
        f"On test examples no trial saw, over {config.seeds} seeds (each after seed 0 with "
        f"its own draw of training examples): {fmt(t['mean'])} "
        f"(95% interval {fmt(t['low'])} to {fmt(t['high'])})."
    )
    if "base" in test:
        b = test["base"]
        text += f" The base recipe <code style='overflow-wrap:anywhere'>{esc(config.base)}</code> scores {fmt(b['mean'])}"
        p = test.get("paired")
        if p:
            scale = 100 if acc else 1
            text += (
                f"; paired difference {scale * p['mean']:+.2f}{' points' if acc else ''} "
                f"(95% interval {scale * p['low']:+.2f} to {scale * p['high']:+.2f})"
            )
        text += "."
    params = sorted({k for row in trials for k in row if k.startswith("param_")})
    head = ["#", "state", "validation", "epochs", "s", *[p[6:] for p in params]]
    body: list[list[str]] = []
    for row in trials:
        cells = [
            str(row["number"]),
            row["state"].lower(),
            fmt(row["value"] if acc or row["value"] is None else -row["value"]),
            "" if row["epochs_run"] is None else str(row["epochs_run"]),
            "" if row["seconds"] is None else f"{row['seconds']:.1f}",
            *[_cell(row.get(p)) for p in params],
        ]
        body.append([esc(c) for c in cells])
    table = _html_table(head, body)
    confirmed = ""
    if confirmation:
        sign = 1.0 if acc else -1.0
        confirmed = (
            f"<h2>Confirmation</h2><p>The search's best {len(confirmation)} trials, each scored "
            f"on {config.partitions} more train/validation partitions; the best mean over all "
            f"{2 * config.partitions} partitions is chosen.</p>"
            + _html_table(
                ["#", "search", "more partitions", f"mean of {2 * config.partitions}"],
                [
                    [
                        str(r["number"]),
                        fmt(sign * r["search"]),
                        fmt(None if r["confirm"] is None else sign * r["confirm"]),
                        fmt(None if r["mean"] is None else sign * r["mean"]),
                    ]
                    for r in confirmation
                ],
            )
        )
    figure = _history_png(trials, acc)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>reglab tune report</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head>
<body><h1>reglab tune</h1><p class="sub">data={esc(config.data)}, train_size={config.train_size},
val_size={config.val_size}, base={esc(config.base)}, {len(trials)} trials, {seconds:.0f} s</p>
<div class="verdict">{text}</div>
<h2>Best recipe (TOML)</h2><pre>{esc(recipe_toml(best))}</pre>{confirmed}
<figure><h2>Search history</h2><img alt="Search history" src="data:image/png;base64,{figure}">
<figcaption>Validation score of each finished trial and the best so far; pruned trials are
stopped early by the median rule and have no final score.</figcaption></figure>
<h2>Trials</h2>{table}
<script>{_IMG_CHECK}</script></body></html>
"""


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _history_png(trials: list[dict[str, Any]], acc: bool) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .report import _png

    done = [t for t in trials if t["state"] == "COMPLETE" and t["value"] is not None]
    scale = 100.0 if acc else -1.0
    fig, ax = plt.subplots(figsize=(7, 3))
    xs = [t["number"] for t in done]
    ys = [scale * t["value"] for t in done]
    ax.plot(xs, ys, "o", color="tab:blue", alpha=0.6, label="trial")
    best: list[float] = []
    for y in ys:
        best.append(y if not best else (max(best[-1], y) if acc else min(best[-1], y)))
    ax.step(xs, best, where="post", color="tab:orange", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation accuracy (%)" if acc else "validation loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)
