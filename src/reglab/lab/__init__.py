"""The lab: recipes, one training cell, studies over seeds, and their report.

This package stays light on import: the study, storage and report modules (which pull in optuna
and matplotlib) are imported where they are used, e.g. ``from reglab.lab.study import
run_study``.

Example:
    >>> from reglab.lab import BUILTIN_RECIPES, Recipe
    >>> sorted(BUILTIN_RECIPES) == sorted(
    ...     ["all", "augment", "baseline", "batchnorm", "dropout", "early_stopping", "weight_decay"]
    ... )
    True
"""

from .recipe import BUILTIN_RECIPES, Recipe

__all__ = ["BUILTIN_RECIPES", "Recipe"]
