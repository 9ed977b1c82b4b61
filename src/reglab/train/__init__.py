"""The training package: ``fit`` and the parts it is built from.

``fit.py`` holds :func:`fit`; ``loop.py`` the epoch loop (:class:`Loop`, built from a
:class:`LoopConfig` of fit's arguments, set up in named steps); ``evaluate.py`` batched evaluation (fit's per-epoch scores and the lab's final ones);
``sources.py`` the batch sources
((X, y) tensors served on the device, or any DataLoader); ``task.py`` the device and the task
and loss inferred from the targets; ``regularization.py`` places each
regularizer by the protocol it declares (:mod:`reglab.regularizer`); ``history.py`` the
:class:`History` fit returns; ``checkpoint.py`` atomic, resumable checkpoints; ``progress.py`` the
progress bar; ``spec.py`` :class:`RegularizationSpec` (a run's regularization and training
knobs, turned into fit's arguments); ``distributed.py`` every torch.distributed collective (shared seed, data shards,
the exact metric reduction, the stop decision agreed by all ranks).

Example:
    >>> import torch, reglab as rl
    >>> X, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    >>> h = rl.train.fit(torch.nn.Linear(4, 2), (X, y), None, epochs=1, progress=False)
    >>> h.stop_reason.value
    'completed'
"""

from __future__ import annotations

from . import distributed as distributed
from .evaluate import evaluate
from .fit import fit
from .history import COLUMNS, History
from .loop import Loop, LoopConfig
from .sources import DEFAULT_BATCH_SIZE, EVAL_BATCH_SIZE
from .spec import RegularizationSpec

__all__ = [
    "COLUMNS",
    "DEFAULT_BATCH_SIZE",
    "EVAL_BATCH_SIZE",
    "History",
    "Loop",
    "LoopConfig",
    "RegularizationSpec",
    "distributed",
    "evaluate",
    "fit",
]
