"""``run_tune``: the search, the confirmation, the test evaluation and the outputs, in order.

Trials live in an Optuna database (``tune.db`` in the output folder by default), so rerunning the
same command resumes: finished trials count toward ``trials``, and the confirmation and test
cells already saved are not trained again.

Example:
    >>> from reglab.lab.tune import TuneConfig, run_tune
    >>> cfg = TuneConfig(data="iris", trials=4, seeds=2, epochs=5)  # doctest: +SKIP
    >>> outcome = run_tune(cfg, "runs/tune")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import data as rd
from ..._checks import Constraints, Interval, validate_params
from ...errors import ConfigError
from ..core.cells import check_builds
from ..core.recipe import Recipe
from ..queue.workers import ProgressCallback, default_jobs
from .confirmation import confirm, test_scores
from .outputs import write_outputs
from .search import Objective, finished_trials, open_search, run_search, trial_rows
from .space import TuneConfig, apply_params, start_params

__all__ = ["TuneOutcome", "run_tune"]


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


#: The constraints of run_tune's arguments (``timeout=None``, no limit, is not checked).
_RUN_TUNE_CONSTRAINTS: Constraints = {
    "jobs": [Interval(int, 1, None)],
    "timeout": [Interval(float, 0, None, closed="neither")],
}


def run_tune(
    config: TuneConfig,
    out_dir: str | os.PathLike[str],
    *,
    storage: str | None = None,
    jobs: int | None = None,
    timeout: float | None = None,
    on_progress: ProgressCallback | None = None,
    compare: bool = True,
    threads: int | None = None,
) -> TuneOutcome:
    """Search, then score the best recipe on the test split; write the tuning report.

    Args:
        config: what to search.
        out_dir: folder for ``tune.db`` (default storage), ``best.toml``, ``trials.csv``,
            ``summary.json`` and ``report.html``.
        storage: SQLAlchemy URL of the tuning database.
        jobs: search processes, this one included, sharing the database (None: one per
            usable CPU core); the confirmation and the test evaluation run this many cells
            at a time.
        timeout: seconds for the search (the final evaluation comes after it).
        on_progress: receives :class:`~reglab.lab.queue.workers.Event` objects: ``"trial"`` per
            finished trial of this process, ``"confirm"``/``"confirmed"`` around the
            confirmation, ``"evaluate"`` before each batch of test runs and ``"look"`` after
            each decision on the tuned recipe against the base, ``"error"`` when a search
            process stops on a configuration error.
        compare: also evaluate the base recipe on the same seeds, and decide the paired
            comparison with the sequential rule of :mod:`reglab.lab.stats` (the outcome's
            ``test["comparison"]``: verdict, seeds, interval, look).
        threads: torch threads per search process and per cell after it (default 1, as for
            a study).
    """
    jobs = default_jobs() if jobs is None else jobs
    given = {"jobs": jobs} if timeout is None else {"jobs": jobs, "timeout": timeout}
    validate_params("run_tune", given, _RUN_TUNE_CONSTRAINTS)
    out = Path(out_dir)
    dataset = rd.load_dataset(config.data, target=config.target, text=config.text)
    objective = Objective(config, dataset)  # a bad split, model or recipe fails here
    start = start_params(objective.base, objective.space)
    # Build the first trial's model and parts once, so a bad --model fails before the search.
    check_builds(
        [apply_params(objective.base, start, objective.kind, "check")],
        objective.splits,
        objective.model,
    )
    out.mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{out.resolve() / 'tune.db'}"
    search = open_search(url, config)
    if not search.get_trials(deepcopy=False):
        search.enqueue_trial(start)  # the search starts from the base recipe's own strengths
    t0 = time.perf_counter()
    deadline = None if timeout is None else time.time() + timeout
    threads = threads or 1
    if finished_trials(search) < config.trials:
        run_search(url, config, dataset, deadline, threads, jobs, on_progress, objective.key)
    search_seconds = time.perf_counter() - t0
    search = open_search(url, config)
    trials = trial_rows(search)
    if not any(t["state"] == "COMPLETE" for t in trials):
        raise ConfigError(
            "No tuning trial finished (all were pruned, failed or timed out). "
            "Give --timeout more seconds or --trials more trials."
        )
    best_trial, best_value, confirmation = confirm(
        search, config, objective, jobs, threads, on_progress
    )
    best = apply_params(objective.base, best_trial.params, objective.kind, "tuned")
    test = test_scores(search, config, objective, best, compare, jobs, threads, on_progress)
    seconds = time.perf_counter() - t0
    paths = write_outputs(
        out, config, url, best, best_value, trials, confirmation, test, search_seconds, seconds
    )
    return TuneOutcome(
        out, url, best, best_value, trials, test, seconds, paths, best_trial.number, confirmation
    )
