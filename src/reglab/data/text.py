"""Text as token ids: a regex word tokenizer and a vocabulary fit on the training texts only.

:func:`tokenize` lower-cases a text and splits it into words (letters and digits, with an inner
apostrophe kept: ``"don't"``). :meth:`Vocabulary.fit` counts the tokens of the training texts
and keeps those seen at least ``min_freq`` times, the ``max_size`` most frequent (ties in
alphabetical order, so the same texts always give the same ids). Id 0 is padding and id 1 the
out-of-vocabulary token: a word that only validation or test texts contain maps to 1.
:meth:`Vocabulary.encode` turns texts into a padded ``(N, L)`` id matrix and their lengths;
a text with no token is an all-padding row of length 0, and :meth:`Vocabulary.describe` counts
such rows and the share of out-of-vocabulary tokens. :class:`EncodedTexts` holds an encoded
split and makes length-aware batches: each batch is padded to its own longest text only, and
shuffled batches hold texts of similar length (sorted within pools of 50 batches, the pools and
the batch order shuffled), so little of a batch is padding.

Example:
    >>> vocab = Vocabulary.fit(["a good film", "a bad film", "good"], min_freq=2)
    >>> vocab.itos
    ('<pad>', '<oov>', 'a', 'film', 'good')
    >>> ids, lengths = vocab.encode(["a great film", ""])
    >>> ids.tolist(), lengths.tolist()
    ([[2, 1, 3], [0, 0, 0]], [3, 0])
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._checks import Constraints, InstanceOf, Interval, NoneOk, validate_params
from ..errors import ConfigError, format_value
from .batches import BatchIterable

__all__ = [
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_MAX_SIZE",
    "OOV",
    "PAD",
    "EncodedTexts",
    "Vocabulary",
    "tokenize",
]

PAD, OOV = 0, 1
#: The lab's vocabulary and truncation: the 50,000 most frequent training tokens, texts cut
#: after 400 tokens (a long review's first 400 words; a sentence is never cut).
DEFAULT_MAX_SIZE, DEFAULT_MAX_LENGTH = 50_000, 400
# Batches sorted by length together (a pool) when shuffled batches are length-aware.
_POOL_BATCHES = 50
_SPECIAL = ("<pad>", "<oov>")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize(text: str) -> list[str]:
    """Lower-cased words of ``text`` (letters and digits; inner apostrophes kept).

    Example:
        >>> tokenize("Don't miss it: 10/10!")
        ["don't", 'miss', 'it', '10', '10']
    """
    if not isinstance(text, str):
        raise ConfigError(f"tokenize expects a str. Got {format_value(text)} instead.")
    return _WORD.findall(text.lower())


def _texts(owner: str, texts: Any) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Iterable):
        raise ConfigError(
            f"The 'texts' parameter of {owner} must be a sequence of str. "
            f"Got {format_value(texts)} instead."
        )
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise ConfigError(
                f"The 'texts' parameter of {owner} must be a sequence of str. Got "
                f"{format_value(t)} at position {i} instead."
            )
    return out


#: The constraints of Vocabulary.fit's and Vocabulary.encode's arguments, checked by
#: validate_params.
_FIT_CONSTRAINTS: Constraints = {
    "min_freq": [Interval(int, 1, None)],
    "max_size": [Interval(int, 1, None), NoneOk()],
}
_ENCODE_CONSTRAINTS: Constraints = {"max_length": [Interval(int, 1, None), NoneOk()]}


class Vocabulary:
    """Token ids fit on training texts: 0 padding, 1 out of vocabulary, then by frequency.

    Build it with :meth:`fit`; ``itos`` lists the tokens by id, ``stoi`` maps them back.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        self.itos: tuple[str, ...] = (*_SPECIAL, *tokens)
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ConfigError("Vocabulary tokens must be distinct (and not '<pad>' or '<oov>').")

    @classmethod
    def fit(
        cls, texts: Iterable[str], *, min_freq: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """The vocabulary of ``texts``: tokens seen ``min_freq`` times or more, the
        ``max_size`` most frequent of them (ties alphabetical); None keeps them all."""
        validate_params("Vocabulary.fit", locals(), _FIT_CONSTRAINTS)
        counts = Counter(tok for t in _texts("Vocabulary.fit", texts) for tok in tokenize(t))
        kept = sorted(
            (t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t)
        )
        return cls(kept if max_size is None else kept[:max_size])

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)})"

    def ids(self, text: str) -> list[int]:
        """The ids of one text's tokens (1 for a token outside the vocabulary)."""
        return [self.stoi.get(tok, OOV) for tok in tokenize(text)]

    def encode(
        self, texts: Iterable[str], *, max_length: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, lengths)``: int64 ``(N, L)`` ids padded with 0 to the longest text (at most
        ``max_length``: longer texts keep their first ``max_length`` tokens), and the lengths.
        """
        validate_params("Vocabulary.encode", locals(), _ENCODE_CONSTRAINTS)
        rows = [self.ids(t) for t in _texts("Vocabulary.encode", texts)]
        if max_length is not None:
            rows = [r[:max_length] for r in rows]
        width = max((len(r) for r in rows), default=0) or 1
        ids = torch.full((len(rows), width), PAD, dtype=torch.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.int64)
        return ids, torch.tensor([len(r) for r in rows], dtype=torch.int64)

    def describe(self, texts: Iterable[str]) -> dict[str, Any]:
        """``size``, ``tokens``, ``oov`` (share of tokens outside the vocabulary) and ``empty``
        (texts with no token) of ``texts`` under this vocabulary."""
        rows = [self.ids(t) for t in _texts("Vocabulary.describe", texts)]
        tokens = sum(len(r) for r in rows)
        oov = sum(r.count(OOV) for r in rows)
        return {
            "size": len(self),
            "tokens": tokens,
            "oov": oov / tokens if tokens else 0.0,
            "empty": sum(not r for r in rows),
        }

    def state_dict(self) -> dict[str, Any]:
        """The tokens by id (the special ones left out)."""
        return {"tokens": list(self.itos[len(_SPECIAL) :])}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> Vocabulary:
        """The inverse of :meth:`state_dict`."""
        if not isinstance(state, Mapping) or not isinstance(state.get("tokens"), list):
            raise ConfigError(
                "Vocabulary.from_state_dict expects a Vocabulary state_dict ({'tokens': [...]}). "
                f"Got {format_value(state)} instead."
            )
        return cls(state["tokens"])


#: The constraints of EncodedTexts.from_texts' and EncodedTexts.batches' arguments, checked by
#: validate_params.
_FROM_TEXTS_CONSTRAINTS: Constraints = {"vocab": [InstanceOf(Vocabulary)]}
_BATCHES_CONSTRAINTS: Constraints = {"batch_size": [Interval(int, 1, None)]}


@dataclass(frozen=True, eq=False)
class EncodedTexts(BatchIterable):
    """An encoded split: ``ids`` ``(N, L)`` padded with 0, ``lengths`` ``(N,)``, targets ``y``.

    :meth:`batches` pads each batch to its longest text only. Build it with
    :meth:`from_texts`; ``ids`` are stored as int32 and given to models as int64.

    Example:
        >>> vocab = Vocabulary.fit(["a good film", "a bad one", "good"])
        >>> enc = EncodedTexts.from_texts(vocab, ["good", "a good film"], torch.tensor([1, 1]))
        >>> [tuple(x.shape) for x, _ in enc.batches(1)]
        [(1, 1), (1, 3)]
    """

    ids: Tensor
    lengths: Tensor
    y: Tensor

    @classmethod
    def from_texts(
        cls,
        vocab: Vocabulary,
        texts: Sequence[str],
        y: Tensor,
        *,
        max_length: int | None = DEFAULT_MAX_LENGTH,
    ) -> EncodedTexts:
        """Encode ``texts`` with ``vocab`` (cut after ``max_length`` tokens)."""
        validate_params("EncodedTexts.from_texts", locals(), _FROM_TEXTS_CONSTRAINTS)
        ids, lengths = vocab.encode(texts, max_length=max_length)
        if len(y) != len(lengths):
            raise ConfigError(
                f"EncodedTexts.from_texts needs one target per text ({len(lengths)} texts). "
                f"Got {len(y)} targets instead."
            )
        return cls(ids.to(torch.int32), lengths, y)

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def to(self, device: torch.device | str) -> EncodedTexts:
        """The split on ``device``."""
        return EncodedTexts(self.ids.to(device), self.lengths.to(device), self.y.to(device))

    def order(self, shuffle: bool, batch_size: int, generator: torch.Generator | None) -> Tensor:
        """Row order of one pass: by length (stable) without ``shuffle``; else length-aware
        random batches (pools of 50 batches sorted by length, the batch order shuffled)."""
        lengths = self.lengths.cpu()
        if not shuffle:
            return torch.sort(lengths, stable=True).indices
        perm = torch.randperm(len(self), generator=generator)
        pool = batch_size * _POOL_BATCHES
        parts = [
            chunk[torch.sort(lengths[chunk], stable=True).indices] for chunk in perm.split(pool)
        ]
        batches = torch.cat(parts).split(batch_size)
        shuffled = torch.randperm(len(batches), generator=generator).tolist()
        return torch.cat([batches[i] for i in shuffled])

    def batches(
        self,
        batch_size: int = 256,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """``(ids, y)`` batches, ids int64 ``(B, longest length in the batch)`` (at least 1)."""
        validate_params("EncodedTexts.batches", locals(), _BATCHES_CONSTRAINTS)
        order = self.order(shuffle, batch_size, generator).to(self.ids.device)
        for idx in order.split(batch_size):
            width = max(1, int(self.lengths[idx].max()))
            yield self.ids[idx, :width].to(torch.int64), self.y[idx]
