"""``fit``: a training loop that applies reglab's regularization and measures the gap.

Overfitting shows as a gap between training and validation accuracy; ``fit`` measures both in
eval mode every epoch, so the effect of each technique is visible.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from .history import History
from .loop import Loop, LoopConfig

__all__ = ["fit"]


def fit(
    model: nn.Module,
    train: Any,
    val: Any,
    *,
    epochs: int,
    optimizer: Any = None,
    lr: float = 1e-3,
    loss: Callable[..., torch.Tensor] | None = None,
    regularization: Any = None,
    callbacks: Sequence[Any] = (),
    device: str | torch.device = "auto",
    seed: int | None = None,
    progress: bool = True,
    checkpoint: str | os.PathLike[str] | None = None,
    train_curve_rows: int | None = None,
) -> History:
    """Train ``model`` for up to ``epochs`` epochs with the given regularization; return a History.

    Each training step is: augment/mix the batch, ``loss = loss_fn(model(x), y)`` (plus
    ``pen(params)`` for every ``LossMode`` penalty), ``backward()``, ``pen.add_grad_(params)``
    for every other penalty (gradient mode: the same update without an autograd graph),
    ``optimizer.step()``, then ``prox.step_(params, lr)`` for :class:`~reglab.optim.ProximalL1`
    and ``c.apply_(params)`` for :class:`~reglab.constraints.MaxNorm`/``UnitNorm``. ``params`` is
    :func:`reglab.penalty.regularized_parameters` of the model. Each object goes where the
    protocol of :mod:`reglab.regularizer` it declares says. After each epoch the model is
    measured in eval mode on the training and validation splits (see :class:`History` for the
    keys), LR schedulers step, then each callback's ``step(row, model)`` decides whether to stop.

    Args:
        model: the network; moved to ``device``.
        train: a DataLoader, a Dataset (batched by 32, shuffled) or an ``(X, y)`` pair of
            tensors (moved to the device once, reshuffled each epoch, batches of 32, the Keras
            default; pass a DataLoader for another batch size).
        val: the validation split in the same forms, or None.
        epochs: the most epochs to run.
        optimizer: None (Adam with ``lr``), an optimizer instance (``reglab.optim.WeightDecay``
            included; ``lr`` is then ignored) or an optimizer class, called as
            ``cls(model.parameters(), lr=lr)``.
        lr: learning rate of the optimizer fit builds.
        loss: ``loss(outputs, targets)`` averaged over the batch. None: cross-entropy for
            int64 targets (classification; soft targets from label mixing too), MSE for float
            targets (regression; ``(N,)`` targets are matched to ``(N, 1)`` outputs).
            ``BCEWithLogitsLoss`` gives binary accuracy (logit > 0).
        regularization: one object or a list: penalties (``L1``/``L2``/``ElasticNet``;
            gradient mode, or ``LossMode(pen)``), ``ProximalL1``, ``MaxNorm``/``UnitNorm``,
            augmentations ``aug(x, generator=)`` and label mixers (``reglab.regularizer.LabelMixer``:
            ``mix(x, y, generator=)``), the batch transforms applied in list order; one
            ``EMA``/``SWA`` (validation, callbacks and the final model use the averaged weights)
            and ``RDrop`` (two passes per batch). ``SAM`` goes in ``optimizer=``.
        callbacks: objects with ``step(metrics, model) -> bool`` (EarlyStopping) and optional
            ``finish(model)``; torch LR schedulers step once per epoch (ReduceLROnPlateau on
            ``val_loss``). Callbacks are not reset: a callback reused across calls continues.
        device: ``"auto"`` (the model's device if not CPU, else CUDA when available, else CPU),
            a device name or a ``torch.device``.
        seed: makes the run reproducible without touching the caller's RNG state: shuffling,
            augmentation and mixing draw from generators seeded from it, and dropout (and
            DataLoader shuffling) from a forked, seeded global RNG. Model initialisation is
            yours. Same seed gives a bitwise identical History on CPU, ``seconds`` excepted.
        progress: draw a progress bar (rich, on stderr) with epoch, losses and the gap.
        checkpoint: a file path. At the end of every epoch fit writes there (atomically) the
            model, optimizer, LR schedulers and callback state dicts, the RNG states, the
            History so far and the epoch; when the file exists, fit resumes from it, so a run
            killed and restarted with the same call ends with the same weights and History
            (``seconds`` aside) as one never interrupted, bitwise on CPU. The file loads with
            ``torch.load(path, weights_only=True)``. A checkpoint written by a different
            model or configuration is a ``ConfigError``; a finished run's checkpoint returns
            its History without training. ``epochs`` may grow between runs. Resuming sets
            torch's, Python's and NumPy's global RNGs to their saved states.
        train_curve_rows: None scores the whole training split every epoch. A count ``n``
            scores only ``n`` of its rows, which makes each epoch cheaper when the split is
            much larger than ``n``: the History's ``train_loss``/``train_acc`` (and ``gap``)
            become estimates on those rows; training, validation, the best epoch and the
            stop are unchanged. For ``(X, y)`` tensors the rows are ``i * N // n`` (the same,
            evenly spread rows every epoch); for a loader, the first ``n`` rows of its scoring
            pass (its ``evaluation`` batches when it names them; the same rows every epoch
            when that pass is in a fixed order, a fresh random subset when it shuffles). The
            loader is still iterated as before, so its random draws do not change. Measure
            a final training accuracy on the whole split (``reglab.train.evaluate``).

    Distributed (``torchrun``): when ``torch.distributed`` is initialised with more than one
    rank, every rank calls fit the same way. The model is wrapped in
    ``DistributedDataParallel`` (or used as given when already wrapped) on ``device``
    ("auto": the rank's GPU under NCCL, ``LOCAL_RANK``); the training data is split as
    ``DistributedSampler`` splits it (rank 0's seed, a new permutation each epoch, batches of
    32 or the DataLoader's ``batch_size`` per rank); the metrics are measured on shards and
    combined exactly, so every rank gets the rows one process would measure for the same
    weights, and callbacks decide on them (every rank stops in the same epoch). Buffers
    (batch-norm statistics) are rank 0's at each epoch end. Only rank 0 draws progress and
    writes the checkpoint (every rank must be able to read it to resume).

    Returns:
        History with one row per epoch, ``best_epoch`` (EarlyStopping's, otherwise the lowest
        ``val_loss``) and ``stop_reason`` (``COMPLETED``, EarlyStopping's reason, ``CALLBACK``,
        or ``NON_FINITE`` when the running training loss is NaN/inf; then the loop stops at
        the end of that epoch and callbacks' ``finish`` restores their best weights).

    Example:
        >>> import torch, reglab as rl
        >>> g = torch.Generator().manual_seed(0)
        >>> X, y = torch.randn(64, 4, generator=g), torch.randint(0, 2, (64,), generator=g)
        >>> _ = torch.manual_seed(0)
        >>> model = torch.nn.Linear(4, 2)
        >>> h = fit(model, (X, y), (X, y), epochs=2, seed=0, progress=False)
        >>> len(h), h.stop_reason.value, sorted(h.rows[0])[:3]
        (2, 'completed', ['epoch', 'gap', 'loss'])
    """
    return Loop(LoopConfig(**locals())).run()  # fit's arguments, as given
