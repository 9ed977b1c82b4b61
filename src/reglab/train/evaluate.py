"""Batched evaluation: one path for fit's per-epoch measurements and the lab's final scores.

:func:`score_batches` runs a model in eval mode over batches and keeps, per batch, the mean loss
and the number of correct predictions as device tensors (no host sync per batch);
:func:`combine` turns those into the split's mean loss and accuracy exactly as one pass over
the whole split would (losses weighted by batch size, summed with ``math.fsum``).
:func:`evaluate` does both. Memory grows with the batch size, never with the split.

Example:
    >>> import torch
    >>> m = torch.nn.Linear(2, 3)
    >>> x, y = torch.randn(10, 2), torch.randint(0, 3, (10,))
    >>> loss, acc = evaluate(m, [(x[:4], y[:4]), (x[4:], y[4:])])
    >>> whole = torch.nn.functional.cross_entropy(m(x), y).item()
    >>> abs(loss - whole) < 1e-6
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["BatchScores", "combine", "evaluate", "score_batches"]

Batch = tuple[torch.Tensor, torch.Tensor]
# (per-batch values: mean loss [then correct count] per batch, batch sizes, scored targets)
BatchScores = tuple[list[torch.Tensor], list[int], int]


def _default_loss(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if task == "regression":
        return lambda out, y: F.mse_loss(out.reshape(y.shape), y)
    if task == "binary":
        return lambda out, y: F.binary_cross_entropy_with_logits(out.reshape(y.shape), y)
    return F.cross_entropy


@torch.no_grad()
def score_batches(
    model: nn.Module,
    batches: Iterable[Batch],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    task: str = "classification",
    prepare: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> BatchScores:
    """Per-batch mean losses (and correct counts for classification) of ``model`` as it is.

    ``prepare(out, y)`` may reshape or check the targets first (fit aligns them to the outputs).
    The caller sets eval mode; nothing is synchronised with the host here.
    """
    loss_fn = loss_fn or _default_loss(task)
    values: list[torch.Tensor] = []
    counts: list[int] = []
    total = 0
    for x, y in batches:
        out = model(x)
        if prepare is not None:
            y = prepare(out, y)
        values.append(loss_fn(out, y))
        counts.append(int(x.shape[0]))
        if task == "classification":
            target = y.argmax(1) if y.is_floating_point() else y
            values.append((out.argmax(1) == target).sum())
            total += target.numel()
        elif task == "binary":
            values.append(((out.reshape(y.shape) > 0) == (y > 0.5)).sum())
            total += y.numel()
    return values, counts, total


def combine(rows: list[tuple[float, ...]], total: int, scored: bool) -> tuple[float, float | None]:
    """``(mean loss, accuracy)`` of per-batch rows ``(loss, [correct,] size)``."""
    n = sum(r[-1] for r in rows)
    loss = math.fsum(r[0] * r[-1] for r in rows) / n if n else math.nan
    if not scored:
        return loss, None
    return loss, math.fsum(r[1] for r in rows) / total if total else math.nan


def evaluate(
    model: nn.Module,
    batches: Iterable[Batch],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    task: str = "classification",
) -> tuple[float, float | None]:
    """``(loss, accuracy)`` of ``model`` in eval mode over ``batches`` (accuracy None for
    regression); the model's train/eval mode is restored afterwards.

    Classification uses the mean cross-entropy, regression the mean squared error, unless
    ``loss_fn`` is given.
    """
    was_training = model.training
    model.eval()
    try:
        values, counts, total = score_batches(model, batches, loss_fn, task)
    finally:
        model.train(was_training)
    scored = task in ("classification", "binary")
    flat: Any = torch.stack([v.double() for v in values]).cpu().tolist() if values else []
    it = iter(flat)
    rows: list[tuple[float, ...]] = [
        (next(it), next(it), n) if scored else (next(it), n) for n in counts
    ]
    return combine(rows, total, scored)
