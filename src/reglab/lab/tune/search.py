"""The search of ``reglab tune``: the Optuna objective, pruning on learning curves, the loop.

The test split never reaches the search. One split (``split_seed``) sets the test examples
aside; the rest form the pool the search draws from. Each trial trains ``partitions`` times, on
the split's own train/validation partition and on redraws of the pool (same sizes), and is
scored by the mean **validation** accuracy (validation loss for regression): a 300-image
validation set alone cannot tell strengths apart that differ by a few images.

A report of the validation score at each tenth of the trial's own epoch budget lets Optuna's
median pruner stop trials whose learning curve falls behind (trials search different budgets;
under cosine annealing a longer run at epoch 75 is at a higher learning rate than a shorter one,
and scores lower, so curves are compared at the same point of their schedule).

Trials live in an Optuna database; ``jobs`` search processes share it
(:class:`~reglab.lab.queue.workers.WorkerGroup`), each with its own sampler seed.

Example:
    >>> from reglab.lab.tune import TuneConfig
    >>> from reglab.data import load_dataset
    >>> config = TuneConfig(data="iris", train_size=60, val_size=30, epochs=2)
    >>> objective = Objective(config, load_dataset("iris"))
    >>> objective.key, objective.model, len(objective.views)
    ('val_acc', 'mlp', 2)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch

from ... import data as rd
from ...errors import ConfigError
from ...models import resolve_size
from ..core.cells import lab_device, model_kind, torch_threads
from ..core.run import run_cell
from ..core.splits import SplitCache, SplitPlan, pool_split
from ..queue.storage import open_rdb_storage, redact
from ..queue.workers import ProgressCallback, WorkerGroup, emit
from .space import TuneConfig, apply_params, search_space

__all__ = [
    "STUDY_NAME",
    "NoTest",
    "Objective",
    "Reporter",
    "TrialEvents",
    "finished_trials",
    "open_search",
    "run_search",
    "trial_rows",
]

STUDY_NAME = "reglab-tune"

# Reports per trial: one at each tenth of its epoch budget.
_REPORTS = 10


class NoTest:
    """The splits a trial sees: train and validation only (its ``test`` is the validation part).

    :func:`~reglab.lab.core.run.run_cell` measures a "test" score at the end; giving it the
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


class Reporter:
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


class Objective:
    """Train one trial's recipe on the search partitions; return its mean validation score."""

    def __init__(self, config: TuneConfig, dataset: Any) -> None:
        self.config = config
        self.dataset = dataset
        self.device = lab_device(config.device, "run_tune")
        train_size, val_size = rd.fitted_sizes(
            dataset, config.train_size, config.val_size, config.test
        )
        self.train_size, self.val_size = train_size, val_size
        self.plan = SplitPlan(
            config.data, config.target, config.text, train_size, val_size, config.test
        )
        self.cache = SplitCache()
        self.cache.keep(self.plan, dataset)
        self.splits = self.cache.splits(self.plan, config.split_seed)
        self.kind = self.splits.kind
        self.model = model_kind(config.model, self.kind)
        # The first trial is the base recipe exactly: sizes left to the model are made explicit.
        self.base = resolve_size(config.base_recipe(self.kind), self.model)
        self.space = search_space(config.space, self.kind, self.base)
        if self.splits.task == "regression":
            self.space.pop("mixup", None)
            self.space.pop("label_smoothing", None)
        if self.kind == "text":  # token ids are not mixed; EDA's strength has its own knobs
            self.space.pop("mixup", None)
            self.space.pop("augment_magnitude", None)
        self.views = [self.partition(k) for k in range(config.partitions)]
        classification = self.splits.task == "classification"
        self.key, self.sign = ("val_acc", 1.0) if classification else ("val_loss", -1.0)

    def partition(self, k: int) -> NoTest:
        """Partition ``k`` of the pool: 0 is the search split's own train/validation part, ``k``
        >= 1 a seeded redraw of the same sizes (the confirmation stage uses the next ones)."""
        return NoTest(self.splits if k == 0 else self._redraw(k))

    def _redraw(self, k: int) -> Any:
        """Redraw ``k`` of the pool (the search split's train and validation examples)."""
        return pool_split(self.dataset, self.splits, _PARTITION_SEED * k + self.config.split_seed)

    def evaluation_splits(self, seed: int) -> Any:
        """The splits of final-evaluation seed ``seed`` (see the module docstring)."""
        if seed == 0:
            return self.splits
        sp = self.cache.splits(self.plan, _EVAL_SEED * seed + self.config.split_seed)
        keep = torch.isin(sp.test_index, self.splits.test_index)
        if not bool(keep.any()):
            raise ConfigError(
                f"The final evaluation of seed {seed} has no test example left: its draw of "
                "training and validation examples covers the search's test split. Use fewer "
                "--seeds or a smaller --train-size/--val-size."
            )
        return replace(sp, test=sp.test.subset(keep), test_index=sp.test_index[keep])

    def __call__(self, trial: Any) -> float:
        import optuna

        params = {name: _suggest(trial, name, dist) for name, dist in self.space.items()}
        recipe = apply_params(self.base, params, self.kind, f"trial-{trial.number}")
        scores: list[float] = []
        seconds = 0.0
        for i, view in enumerate(self.views):
            # Pruning follows the first partition's learning curve.
            reporter = Reporter(trial, self.key, self.sign, recipe.epochs) if i == 0 else None
            extra = [reporter] if reporter is not None else []
            result = run_cell(
                recipe, 0, view, model=self.model, callbacks=extra, device=self.device
            )
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


def open_search(url: str, config: TuneConfig, seed: int | None = 0) -> Any:
    """Create or load the search (an Optuna study); a stored one must have the same settings."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    storage = open_rdb_storage(url, "tuning", heartbeat_interval=10, grace_period=60)
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=8)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=_warmup(config))
    search = optuna.create_study(
        study_name=STUDY_NAME,
        storage=storage,
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    stored = search.user_attrs.get("config")
    mine = _comparable(config.to_dict())
    if stored is None:
        search.set_user_attr("config", config.to_dict())
    elif _comparable(stored) != mine:
        diff = sorted(k for k in mine if stored.get(k) != mine.get(k))
        raise ConfigError(
            f"The storage {redact(url)!r} already holds a tuning run with different settings "
            f"({', '.join(diff)}). Use a new --out folder or --storage, or rerun with the "
            "original settings to resume."
        )
    return search


def _comparable(d: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that must match to resume (the trial budget, the confirmation and the
    test evaluation's seeds and margin may change: they do not touch the stored trials, and
    the evaluation's cells are saved per recipe and seed)."""
    return {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in d.items()
        if k not in ("trials", "confirm", "seeds", "max_seeds", "margin")
    }


def _warmup(config: TuneConfig) -> int:
    """Reports (tenths of the budget) before pruning may act: half the budget.

    Under a cosine schedule, strongly regularized runs (heavy augmentation, mixup) climb late;
    pruning them at a quarter of the budget steered the search toward weak regularization.
    """
    del config
    return _REPORTS // 2


def finished_trials(search: Any) -> int:
    """Trials that count toward the budget: complete or pruned."""
    import optuna

    S = optuna.trial.TrialState
    return len(search.get_trials(deepcopy=False, states=(S.COMPLETE, S.PRUNED)))


class _InterruptWithoutTraceback(logging.Filter):
    """Optuna logs a trial that Ctrl-C stopped with the interrupt's traceback; keep the line,
    drop the traceback (a clean stop prints none, as a study's does)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
            record.exc_info = None
            record.exc_text = None
        return True


# The logger Optuna reports failed trials on (a filter applies where the record is made).
logging.getLogger("optuna.study._optimize").addFilter(_InterruptWithoutTraceback())


def _search(
    url: str,
    config: TuneConfig,
    dataset: Any,
    deadline: float | None,
    threads: int,
    sampler_seed: int | None,
    callback: Any = None,
) -> None:
    """Run trials in this process until ``config.trials`` are finished or time runs out.

    ``callback`` is an extra Optuna callback (called after each trial).
    """
    import optuna
    import torch

    torch.set_num_threads(threads)
    search = open_search(url, config, seed=sampler_seed)
    objective = Objective(config, dataset)
    callbacks = [
        optuna.study.MaxTrialsCallback(
            config.trials, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        )
    ]
    if callback is not None:
        callbacks.append(callback)
    while finished_trials(search) < config.trials:
        left = None if deadline is None else deadline - time.time()
        if left is not None and left <= 0:
            return
        failed = search.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
        if len(failed) >= config.trials:
            return  # every setting fails (e.g. out of memory): stop instead of looping
        search.optimize(
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
    """What a spawned search process runs (a different sampler seed per worker)."""
    _search(url, TuneConfig.from_dict(config), dataset, deadline, threads, 1000 + k)


def run_search(
    url: str,
    config: TuneConfig,
    dataset: Any,
    deadline: float | None,
    threads: int,
    jobs: int,
    on_progress: ProgressCallback | None = None,
    key: str = "val_acc",
) -> None:
    """Search in this process and ``jobs - 1`` spawned ones until the trials are finished.

    This process reports each finished trial to ``on_progress`` (a ``"trial"`` event whose
    scores are ``key``: ``val_acc``, or minus ``val_loss`` for regression); a worker that stops
    on a configuration error sends an ``"error"`` event.
    """
    group = WorkerGroup(on_error=lambda message: emit(on_progress, "error", message=message))
    line = TrialEvents(config.trials, on_progress, key) if on_progress is not None else None
    with torch_threads(threads), group:
        for k in range(1, jobs):
            group.start(_search_worker, url, config.to_dict(), dataset, deadline, threads, k)
        _search(url, config, dataset, deadline, threads, 0, line)
        group.join(poll=0.2)


class TrialEvents:
    """An Optuna callback: one ``"trial"`` event per finished trial.

    The event's ``info`` holds the trial's ``number``, ``state`` (lower case), ``value`` (None
    when pruned), the study's ``best`` value so far (None before one), the score's ``key``
    and the ``seconds`` since the search started; ``done`` of ``total`` counts finished trials.
    """

    def __init__(self, total: int, on_progress: ProgressCallback, key: str = "val_acc") -> None:
        self.total, self.on_progress, self.key = total, on_progress, key
        self.t0 = time.perf_counter()

    def __call__(self, search: Any, trial: Any) -> None:
        try:
            best: float | None = float(search.best_value)
        except ValueError:
            best = None
        emit(
            self.on_progress,
            "trial",
            finished_trials(search),
            self.total,
            number=trial.number,
            state=trial.state.name.lower(),
            value=trial.value,
            best=best,
            key=self.key,
            seconds=time.perf_counter() - self.t0,
        )


def trial_rows(search: Any) -> list[dict[str, Any]]:
    rows = []
    for t in search.get_trials(deepcopy=False):
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
