"""Text classifiers on token ids: ``bow`` (mean of embeddings), ``textcnn`` (Kim 2014), ``gru``.

Every model takes an int64 tensor ``ids`` of shape ``(B, L)``: id 0 is padding
(``reglab.data.text.PAD``), id 1 the out-of-vocabulary token, and rows are padded at the end
only (a 0 before a token is a one-line error), so a row's true length is its number of
non-zero ids (an all-zero row is an empty text). It returns ``(B, num_outputs)`` logits. The
factories take ``input_shape == (vocab_size,)``.

The embedding stage is shared: ``nn.Embedding(vocab_size, E, padding_idx=0,
max_norm=spec.embedding_max_norm)`` initialised by torch (``N(0, 1)``, no pretrained vectors),
padding vectors set to zero, then in training :class:`reglab.nn.WordDropout`
(``spec.word_dropout``) and elementwise :class:`reglab.nn.Dropout` (``spec.embedding_dropout``),
both with ``spec.dropout_scaling``. ``spec.dropout`` acts before the linear head. Padding never
changes an output: extra padding columns give the same logits in eval mode. An empty text is
read as one padding token (its embedding is zero), so its output is finite.

``spec.init`` initialises the convolutions and linear layers (the embedding and the GRU keep
torch's initialisation); ``norm`` must be None, and ``norm_position`` and ``pool`` do not apply.

Example:
    >>> import torch
    >>> from reglab.models import ModelSpec, build_model
    >>> net = build_model(ModelSpec(), (1000,), 2, kind="textcnn").eval()
    >>> ids = torch.tensor([[5, 9, 2, 0], [7, 0, 0, 0]])
    >>> net(ids).shape
    torch.Size([2, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import Constraints, validate_params
from ..errors import ConfigError, format_value, param_error
from .blocks import dropout_layers, init_model
from .spec import FAMILY_CONSTRAINTS, ModelSpec, check_spec

__all__ = ["PAD", "BagOfWords", "TextCNN", "TextGRU"]

#: The padding id (``reglab.data.text.PAD``).
PAD = 0
#: Kim's filter widths.
KERNEL_SIZES = (3, 4, 5)
#: The families' default sizes (the registry's defaults too).
BOW_DIM, EMBEDDING_DIM = 100, 128
CNN_WIDTH = 100
GRU_WIDTH, GRU_DEPTH = 128, 1


def check_vocab(owner: str, input_shape: Any) -> int:
    """The vocabulary size from ``input_shape == (vocab_size,)``, ``vocab_size >= 2``."""
    ok = (
        isinstance(input_shape, (tuple, list, torch.Size))
        and len(input_shape) == 1
        and isinstance(input_shape[0], int)
        and not isinstance(input_shape[0], bool)
        and input_shape[0] >= 2
    )
    if not ok:
        raise param_error(
            "input_shape",
            owner,
            "(vocab_size,) with an int vocab_size >= 2 (padding and OOV ids included)",
            tuple(input_shape) if isinstance(input_shape, (list, torch.Size)) else input_shape,
        )
    return int(input_shape[0])


def check_ids(owner: str, ids: Any, vocab_size: int) -> torch.Tensor:
    """``ids`` if it is an int64 ``(B, L)`` tensor of ids in ``[0, vocab_size)``."""
    if not (isinstance(ids, torch.Tensor) and ids.dtype == torch.int64 and ids.dim() == 2):
        raise ConfigError(
            f"{owner} expects token ids as an int64 tensor of shape (B, L), padded with 0 at "
            f"the end. Got {format_value(ids)} instead."
        )
    if ids.numel():
        low, high = (int(v) for v in torch.aminmax(ids))
        if low < 0 or high >= vocab_size:
            raise ConfigError(
                f"{owner} has a vocabulary of {vocab_size} ids, [0, {vocab_size - 1}]. "
                f"Got ids in [{low}, {high}] instead."
            )
    return ids


def check_end_padding(owner: str, tokens: torch.Tensor) -> None:
    """Refuse a padding id before a token (``tokens = ids != 0``): lengths would be wrong."""
    gap = tokens[:, 1:] & ~tokens[:, :-1]
    if gap.any():
        row = int(gap.any(1).nonzero()[0])
        raise ConfigError(
            f"{owner} expects rows padded with 0 at the end only. Got a 0 before a token in row "
            f"{row}; pad at the end (left padding and 0 inside a text are not token ids)."
        )


class _TextModel(nn.Module):
    """The shared checks, embedding stage and head; subclasses add their body and ``forward``."""

    embedding_default = EMBEDDING_DIM

    _parameter_constraints: ClassVar[Constraints] = FAMILY_CONSTRAINTS

    def __init__(self, spec: ModelSpec, input_shape: Sequence[int], num_outputs: int) -> None:
        super().__init__()
        owner = type(self).__name__
        spec = check_spec(owner, spec)
        self.vocab_size = check_vocab(owner, input_shape)
        validate_params(self, locals())
        if spec.norm is not None:
            raise param_error(
                "norm", owner, "None (text models have no normalization layer)", spec.norm
            )
        from .. import nn as rnn

        dim = self.embedding_default if spec.embedding_dim is None else spec.embedding_dim
        self.embedding = nn.Embedding(
            self.vocab_size, dim, padding_idx=PAD, max_norm=spec.embedding_max_norm
        )
        scaling = spec.dropout_scaling
        self.word_dropout = (
            rnn.WordDropout(spec.word_dropout, scaling) if spec.word_dropout else nn.Identity()
        )
        self.embedding_dropout = (
            rnn.Dropout(spec.embedding_dropout, scaling)
            if spec.embedding_dropout
            else nn.Identity()
        )
        self.num_outputs = num_outputs

    def _head(self, spec: ModelSpec, features: int) -> nn.Sequential:
        return nn.Sequential(*dropout_layers(spec), nn.Linear(features, self.num_outputs))

    def embed(self, ids: torch.Tensor, extra: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(embeddings (B, T + extra, E), lengths (B,))`` with padding vectors zero.

        ``T = max(1, longest length)``: columns of padding only are cut (they cannot change the
        output, and cost time when a loader pads every batch to one global length); ``extra``
        padding columns are appended (room for the CNN's widths).
        """
        owner = type(self).__name__
        check_ids(owner, ids, self.vocab_size)
        tokens = ids != PAD
        check_end_padding(owner, tokens)
        lengths = tokens.sum(1)
        longest = max(int(lengths.max()) if ids.numel() else 0, 1)
        ids = ids[:, :longest]
        pad = longest - ids.shape[1] + extra
        if pad:
            ids = F.pad(ids, (0, pad), value=PAD)
        keep = (ids != PAD).unsqueeze(-1)
        # The padding row is zero at init (padding_idx), but a loaded or decayed state may not
        # keep it so: zero the vectors explicitly so that padding can never reach the output.
        emb = self.embedding(ids) * keep.to(self.embedding.weight.dtype)
        return self.embedding_dropout(self.word_dropout(emb)), lengths


class BagOfWords(_TextModel):
    r"""The mean of a text's token embeddings, then a linear head (fastText-style).

    ``h = (1 / max(n, 1)) \sum_{t < n} e_{x_t}``, ``y = W dropout(h) + b``, for a text of ``n``
    tokens (an empty text gives ``h = 0``). ``embedding_dim`` defaults to 100 (fastText's
    supervised default); ``width`` and ``depth`` do not apply.

    Args:
        spec: the :class:`~reglab.models.ModelSpec`; a lab ``Recipe`` is one.
        input_shape: ``(vocab_size,)``, the number of ids (padding and OOV included).
        num_outputs: classes, or 1 for regression.

    Example:
        >>> net = BagOfWords(ModelSpec(embedding_dim=8), (50,), 3)
        >>> net(torch.tensor([[4, 2, 0], [0, 0, 0]])).shape
        torch.Size([2, 3])

    Paper: Joulin et al., "Bag of Tricks for Efficient Text Classification", EACL 2017.
    """

    embedding_default = BOW_DIM

    def __init__(self, spec: ModelSpec, input_shape: Sequence[int], num_outputs: int) -> None:
        super().__init__(spec, input_shape, num_outputs)
        self.head = self._head(spec, self.embedding.embedding_dim)
        init_model(self.head, spec)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        emb, lengths = self.embed(ids)
        mean = emb.sum(1) / lengths.clamp(min=1).unsqueeze(1).to(emb.dtype)
        out: torch.Tensor = self.head(mean)
        return out


class TextCNN(_TextModel):
    r"""Kim's convolutional text classifier: widths 3, 4, 5, max-over-time pooling, linear head.

    For each width ``k`` a ``Conv1d(E, width, k)`` slides over the embeddings; window ``t`` is
    kept when it starts inside the text (``t < max(n, 1)``; windows reaching past the end see
    zero vectors), ``c_k = ReLU(max_t conv_k(e)_t)``, and ``y = W dropout([c_3, c_4, c_5]) + b``.
    ``width`` is the maps per filter width (default 100, Kim's); ``depth`` does not apply.
    ``embedding_dim`` defaults to 128 random vectors for CPU speed (Kim used 300-d word2vec
    vectors; ``embedding_dim=300`` gives his size). Parameters:
    ``V E + sum_k (E k + 1) width + (3 width + 1) K`` for ``V`` ids and ``K`` outputs.

    Args:
        spec: the :class:`~reglab.models.ModelSpec`; a lab ``Recipe`` is one.
        input_shape: ``(vocab_size,)``, the number of ids (padding and OOV included).
        num_outputs: classes, or 1 for regression.

    Example:
        >>> net = TextCNN(ModelSpec(width=4, embedding_dim=8), (50,), 2)
        >>> net(torch.tensor([[4, 2, 0]])).shape, sum(p.numel() for p in net.parameters())
        (torch.Size([1, 2]), 822)

    Paper: Kim, "Convolutional Neural Networks for Sentence Classification", EMNLP 2014.
    """

    def __init__(self, spec: ModelSpec, input_shape: Sequence[int], num_outputs: int) -> None:
        super().__init__(spec, input_shape, num_outputs)
        width = CNN_WIDTH if spec.width is None else spec.width
        dim = self.embedding.embedding_dim
        self.convs = nn.ModuleList(nn.Conv1d(dim, width, k) for k in KERNEL_SIZES)
        self.head = self._head(spec, width * len(KERNEL_SIZES))
        init_model(self.convs, spec)
        init_model(self.head, spec)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        extra = max(KERNEL_SIZES) - 1
        emb, lengths = self.embed(ids, extra=extra)
        x = emb.transpose(1, 2).contiguous()  # (B, E, T + 4); one copy for the three convs
        windows = x.shape[2] - extra
        start = torch.arange(windows, device=ids.device)
        valid = start < lengths.clamp(min=1).unsqueeze(1)
        # an additive 0 / -inf mask: a broadcast add, cheaper than masked_fill on the maps
        neg = torch.zeros(valid.shape, dtype=x.dtype, device=x.device)
        neg = neg.masked_fill_(~valid, float("-inf")).unsqueeze(1)
        pooled = [(conv(x)[..., :windows] + neg).amax(2) for conv in self.convs]
        out: torch.Tensor = self.head(torch.relu(torch.cat(pooled, 1)))
        return out


class TextGRU(_TextModel):
    r"""A bidirectional GRU over the packed token embeddings, then a linear head.

    ``depth`` layers (default 1) of ``width`` hidden units per direction (default 128) run over
    each text's ``max(n, 1)`` tokens only (``pack_padded_sequence``); the last layer's final
    forward and backward states are concatenated, ``y = W dropout([h_fwd, h_bwd]) + b``.
    ``embedding_dim`` defaults to 128. Dropout acts before the head only (none between layers).

    Args:
        spec: the :class:`~reglab.models.ModelSpec`; a lab ``Recipe`` is one.
        input_shape: ``(vocab_size,)``, the number of ids (padding and OOV included).
        num_outputs: classes, or 1 for regression.

    Example:
        >>> net = TextGRU(ModelSpec(width=4, embedding_dim=8), (50,), 2)
        >>> net(torch.tensor([[4, 2, 0], [0, 0, 0]])).shape
        torch.Size([2, 2])

    Paper: Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder for
    Statistical Machine Translation", EMNLP 2014.
    """

    def __init__(self, spec: ModelSpec, input_shape: Sequence[int], num_outputs: int) -> None:
        super().__init__(spec, input_shape, num_outputs)
        width, depth = spec.size(GRU_WIDTH, GRU_DEPTH)
        self.gru = nn.GRU(
            self.embedding.embedding_dim, width, depth, batch_first=True, bidirectional=True
        )
        self.head = self._head(spec, 2 * width)
        init_model(self.head, spec)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        emb, lengths = self.embed(ids)
        packed = nn.utils.rnn.pack_padded_sequence(
            emb, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
        )
        _, hidden = self.gru(packed)  # (2 * depth, B, width), in the input's row order
        out: torch.Tensor = self.head(torch.cat([hidden[-2], hidden[-1]], 1))
        return out
