"""reglab inside other training frameworks; each integration is an optional extra.

* :mod:`reglab.integrations.lightning` (``pip install 'reglab[lightning]'``): Lightning callbacks
  for early stopping with best-weight restoring, regularization at the hooks of a step, and
  precise batch-norm statistics.

Nothing else in reglab imports these modules, so ``import reglab`` never needs the frameworks.
"""

from __future__ import annotations

__all__: list[str] = []
