"""``reglab tune``: search regularization strengths with Optuna, then measure the best on test.

The search starts from a base recipe (``all`` by default; its own strengths are the first trial)
and lets Optuna's TPE sampler choose dropout, weight decay, L1, augmentation magnitude (and, on
images, which augmentation), mixup alpha, label smoothing, the network's width and the epoch
budget. A per-tenth-of-training report of the validation score lets the median pruner stop
trials whose learning curve falls behind.

The test split never reaches the search: trials are scored by the mean validation score over
``partitions`` train/validation partitions of the examples outside the test split. The final
evaluation trains the best recipe (and the base recipe, for a paired comparison) with ``seeds``
seeds. Seed 0 uses the search split; seed ``s`` draws its own training and validation examples
(as a study does), and is tested on the search split's test examples that it did not draw. So
the reported accuracy averages over draws of the training labels, and no test example ever
scored a trial. Test accuracy comes with a 95% Student-t interval.

The package, in the order a run goes through it:

* :mod:`~reglab.lab.tune.space` — :class:`TuneConfig`, the search space, trial parameters to a
  recipe;
* :mod:`~reglab.lab.tune.search` — the Optuna objective, pruning, the search loop and its
  worker processes;
* :mod:`~reglab.lab.tune.confirmation` — re-scoring the best trials, the test evaluation;
* :mod:`~reglab.lab.tune.outputs` — ``best.toml`` (:func:`recipe_toml`), ``trials.csv``,
  ``summary.json``, ``report.html``;
* :mod:`~reglab.lab.tune.runner` — :func:`run_tune`, which runs them in order.

Example:
    >>> from reglab.lab.tune import TuneConfig, run_tune
    >>> cfg = TuneConfig(data="iris", trials=4, seeds=2, epochs=5)
    >>> cfg.space[:3]
    ('dropout', 'weight_decay', 'l1')
    >>> outcome = run_tune(cfg, "runs/tune")  # doctest: +SKIP
"""

from .outputs import recipe_toml
from .runner import TuneOutcome, run_tune
from .space import SPACE, TuneConfig, search_space

__all__ = [
    "SPACE",
    "TuneConfig",
    "TuneOutcome",
    "recipe_toml",
    "run_tune",
    "search_space",
]
