"""``reglab study``: the front end that trains every (recipe, seed) cell and reports them.

* :mod:`.config` — :class:`StudyConfig` (data, sizes, model, recipes, seeds) and recipe
  resolution;
* :mod:`.runner` — :func:`run_study`: prepare, queue the cells, run the workers, write the
  report; :func:`execute_cell` runs one cell;
* :mod:`.report` and :mod:`.sweep_report` — ``results.csv``, ``summary.json``, ``report.html``.

A sibling of :mod:`reglab.lab.tune` and :mod:`reglab.lab.claims`: it imports the layers below
it (core, queue, stats, render) and never the other front ends.

Example:
    >>> from reglab.lab.study import StudyConfig, resolve_recipes
    >>> [r if isinstance(r, str) else r[0] for r in resolve_recipes("baseline", ["dropout=0.2"])]
    ['baseline', 'dropout=0.2']
"""

from .config import DEFAULT_RECIPES, StudyConfig, resolve_recipes, stored_config
from .runner import StudyOutcome, execute_cell, prepare, rebuild_report, run_study

__all__ = [
    "DEFAULT_RECIPES",
    "StudyConfig",
    "StudyOutcome",
    "execute_cell",
    "prepare",
    "rebuild_report",
    "resolve_recipes",
    "run_study",
    "stored_config",
]
