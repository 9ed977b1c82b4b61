"""The lab: studies over seeds, tuning and the notes' claims, built in layers.

Each layer imports only the layers above it in this list; the three front ends are siblings
and never import each other (``tests/test_layout.py`` checks both):

====================  ==========================================  ==============================
layer                 modules                                     may import
====================  ==========================================  ==============================
statistics            ``stats``                                   nothing of the lab
core                  ``core/``: text, cells, recipe, splits,     statistics
                      run, train_fn
queue                 ``queue/``: workers, storage, loop          core, statistics
rendering             ``render``                                  queue, core, statistics
front ends            ``study/``, ``tune/``, ``claims/``          every layer above, not each
                                                                  other
====================  ==========================================  ==============================

* ``stats`` — every interval, paired comparison and decision rule: pure functions on numbers;
* ``core`` — what one cell is and how it trains (recipes, one split cache, text encoding);
* ``queue`` — cells in a database, leased by workers and run by the work loop, with the front
  end's executor passed in;
* ``render`` — the HTML, table and PNG parts of a page;
* ``study``, ``tune``, ``claims`` — the commands' engines and their reports.

The library raises ``ConfigError`` and reports progress through ``on_progress`` callbacks; it
never prints. This package stays light on import: ``from reglab.lab.study import run_study``
loads a front end and what it needs.

Example:
    >>> from reglab.lab import BUILTIN_RECIPES, Recipe
    >>> sorted(BUILTIN_RECIPES) == sorted(
    ...     ["all", "augment", "baseline", "batchnorm", "dropout", "early_stopping", "weight_decay",
    ...      "eda"]
    ... )
    True
"""

from .core.recipe import BUILTIN_RECIPES, Recipe

__all__ = ["BUILTIN_RECIPES", "Recipe"]
