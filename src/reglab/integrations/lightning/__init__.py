"""Lightning callbacks that bring reglab into a ``lightning.pytorch.Trainer``.

``LightningEarlyStopping`` is reglab's :class:`~reglab.callbacks.EarlyStopping` decision in a
Lightning callback (named apart from it, and from Lightning's own ``EarlyStopping``).

=========================================  ===============================================
reglab part                                Lightning hook where it acts
=========================================  ===============================================
gradient-mode penalties (``L1``, ``L2``,   ``on_before_optimizer_step``: after backward (and
``ElasticNet``), ``LossMode`` penalties    AMP unscaling), before clipping and the step;
                                           once per optimizer step
``ProximalL1`` (with the step's lr),       ``on_train_batch_end`` after a batch whose
``MaxNorm``/``UnitNorm``                   optimizer stepped
``LightningEarlyStopping``                 ``on_train_epoch_end`` (or ``on_validation_end``);
                                           restores at the stop and in ``on_train_end``
``PreciseBN``                              ``on_validation_start`` (not in the sanity check)
``WeightDecay``                            the optimizer from ``configure_optimizers``
=========================================  ===============================================

Example:
    >>> import lightning.pytorch as pl  # doctest: +SKIP
    >>> import reglab as rl
    >>> from reglab.integrations.lightning import LightningEarlyStopping, PreciseBN, Regularization
    >>> callbacks = [
    ...     Regularization([rl.L2(1e-4), rl.ProximalL1(1e-5), rl.MaxNorm(3.0)]),
    ...     LightningEarlyStopping(patience=5, restore_best_weights=True),
    ...     PreciseBN(num_batches=50),
    ... ]
    >>> trainer = pl.Trainer(max_epochs=50, callbacks=callbacks)  # doctest: +SKIP
"""

from __future__ import annotations

try:
    import lightning.pytorch  # noqa: F401
except ImportError:
    raise ImportError(
        "reglab.integrations.lightning needs Lightning: pip install 'reglab[lightning]'."
    ) from None

from ._early_stopping import LightningEarlyStopping
from ._precise_bn import PreciseBN
from ._regularization import Regularization

__all__ = ["LightningEarlyStopping", "PreciseBN", "Regularization"]
