"""Layers for token sequences: :class:`WordDropout` drops whole token embeddings."""

from __future__ import annotations

import torch

from .._checks import check_floating, check_ndim
from .dropout import Dropout1d

__all__ = ["WordDropout"]


class WordDropout(Dropout1d):
    r"""Zero whole token vectors of embeddings ``(N, L, E)`` (or ``(L, E)``) with probability ``p``.

    With ``m_{n,t} ~ Bernoulli(1 - p)`` one draw per token position:
    ``scaling="inverted"``: training ``y[n, t, :] = x[n, t, :] * m_{n,t} / (1 - p)``, inference
    identity; ``scaling="classic"``: training ``x * m``, inference ``x * (1 - p)``. Each
    occurrence of a word is dropped independently (Iyyer et al. 2015's word dropout); Gal &
    Ghahramani's variant, which drops a word type everywhere in a sequence, ties the draws of
    equal ids instead. The mask comes from the engine of :class:`reglab.nn.Dropout1d` (the
    embedding's ``L`` axis is its channel axis), so ``torch.manual_seed`` or ``generator``
    replays it.

    Example:
        >>> y = WordDropout(0.5)(torch.ones(4, 6, 3))
        >>> bool(((y == 0).all(-1) | (y == 2).all(-1)).all())
        True

    Papers: Iyyer et al., "Deep Unordered Composition Rivals Syntactic Methods for Text
    Classification", ACL 2015; Gal & Ghahramani, "A Theoretically Grounded Application of Dropout
    in Recurrent Neural Networks", NeurIPS 2016.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        check_floating("WordDropout", input)
        check_ndim("WordDropout", input, (2, 3), "(N, L, E) or (L, E)")
        return super().forward(input)
