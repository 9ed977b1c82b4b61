"""R-Drop: consistency between two dropout passes over the same batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import Constraints, Interval, validate_params
from .errors import ConfigError
from .regularizer import PairedPenalty

__all__ = ["RDrop", "symmetric_kl"]


def symmetric_kl(logits1: torch.Tensor, logits2: torch.Tensor) -> torch.Tensor:
    r"""``(KL(p1 || p2) + KL(p2 || p1)) / 2`` between the predictive distributions of two passes.

    ``p = softmax(logits)`` over dim 1 for ``(N, K)`` logits (``K >= 2``); a single logit per
    row (``(N,)`` or ``(N, 1)``, binary) is a Bernoulli with ``p = sigmoid(logit)``. Summed over
    the classes, averaged over the rows (and any further dimensions)::

        KL(p || q) = sum_k p_k (log p_k - log q_k)

    Example:
        >>> a = torch.tensor([[2.0, 0.0]]); b = torch.tensor([[0.0, 2.0]])
        >>> round(symmetric_kl(a, b).item(), 4), symmetric_kl(a, a).item()
        (1.5232, 0.0)
    """
    if logits1.shape != logits2.shape:
        raise ConfigError(
            "symmetric_kl expects two outputs of the same shape. Got shapes "
            f"{tuple(logits1.shape)} and {tuple(logits2.shape)} instead."
        )
    if logits1.dim() <= 1 or logits1.shape[1] == 1:  # binary: [log sigmoid(z), log sigmoid(-z)]
        z1, z2 = logits1.reshape(-1), logits2.reshape(-1)
        lp = torch.stack([F.logsigmoid(z1), F.logsigmoid(-z1)], 1)
        lq = torch.stack([F.logsigmoid(z2), F.logsigmoid(-z2)], 1)
    else:
        lp, lq = F.log_softmax(logits1, 1), F.log_softmax(logits2, 1)
    diff = lp - lq
    # p (lp - lq) + q (lq - lp) = (p - q)(lp - lq): both directions in one pass
    both = ((lp.exp() - lq.exp()) * diff).sum(1)
    return both.mean() / 2


class RDrop(PairedPenalty):
    r"""R-Drop: run the model twice (independent dropout masks), penalize the disagreement.

    With outputs ``z1, z2`` of the two passes and the task loss ``L``::

        loss = (L(z1, y) + L(z2, y)) / 2 + alpha * (KL(p1 || p2) + KL(p2 || p1)) / 2

    (:func:`symmetric_kl`; the paper's objective sums the two task losses, so this is half of
    it with ``alpha`` doubled: ``alpha=1.0`` here is the paper's ``alpha=2``). The two passes are
    one forward on ``cat([x, x])``: every row gets its own dropout mask; batch norm sees the
    batch twice (the same mean and biased variance).

    With label mixing (MixUp, CutMix) both passes see the same mixed batch and the task loss
    takes the soft targets; label smoothing lives in the task loss
    (``CrossEntropyLoss(label_smoothing=...)``). The KL term compares the two predictions with
    each other and never sees the labels, so neither changes it.

    In ``fit(regularization=[rl.RDrop(1.0)])`` (classification and binary tasks; the text models
    included) the ``loss`` column is the mean task loss of the two passes. In your own loop::

        loss = rdrop(model, x, y, loss_fn)

    Args:
        alpha: weight of the KL term, finite and >= 0.

    Example:
        >>> import torch, reglab as rl
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.3),
        ...                             torch.nn.Linear(8, 3))
        >>> x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
        >>> loss = rl.RDrop(alpha=1.0)(model, x, y, torch.nn.functional.cross_entropy)
        >>> loss.backward()

    Liang et al., "R-Drop: Regularized Dropout for Neural Networks", NeurIPS 2021.
    """

    _parameter_constraints: ClassVar[Constraints] = {"alpha": [Interval(float, 0, None)]}

    def __init__(self, alpha: float = 1.0) -> None:
        validate_params(self, locals())
        self.alpha = float(alpha)

    def penalty(self, out1: torch.Tensor, out2: torch.Tensor) -> torch.Tensor:
        """``alpha * symmetric_kl(out1, out2)``."""
        return self.alpha * symmetric_kl(out1, out2)

    def __call__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """The R-Drop loss of one batch (two passes in one forward on ``cat([x, x])``)."""
        out1, out2 = model(torch.cat([x, x])).chunk(2)
        return (loss_fn(out1, y) + loss_fn(out2, y)) / 2 + self.penalty(out1, out2)

    def __repr__(self) -> str:
        return f"RDrop(alpha={self.alpha!r})"
