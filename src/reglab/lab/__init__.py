"""The lab: recipes, one training cell, studies over seeds, tuning, and their reports.

One module per capability, each importing only those above it in this list:

* ``recipe`` — :class:`Recipe` (spec strings, TOML, the built-in recipes); ``run`` — one cell;
* ``cells`` — what a study and a tuning run share about a cell (split sizes, model kind, rows);
* ``storage`` — cells and trials in an Optuna database; ``workers`` — worker processes, the
  interrupt policy and progress events; ``render`` — the HTML, table and PNG parts of a page;
  ``splits`` — each worker's splits, and a training-size sweep's nested training subsets;
* ``sweep_report`` — a sweep's plot and table across the training sizes;
* ``report`` — a study's statistics and files; ``study`` — :func:`~reglab.lab.study.run_study`
  and recipe resolution; ``tune/`` — :func:`~reglab.lab.tune.run_tune` (space, search,
  confirmation, outputs).

The library raises ``ConfigError`` and reports progress through ``on_progress`` callbacks; it
never prints. This package stays light on import: the modules that pull in optuna and
matplotlib are imported where they are used, e.g. ``from reglab.lab.study import run_study``.

Example:
    >>> from reglab.lab import BUILTIN_RECIPES, Recipe
    >>> sorted(BUILTIN_RECIPES) == sorted(
    ...     ["all", "augment", "baseline", "batchnorm", "dropout", "early_stopping", "weight_decay",
    ...      "eda"]
    ... )
    True
"""

from .recipe import BUILTIN_RECIPES, Recipe

__all__ = ["BUILTIN_RECIPES", "Recipe"]
