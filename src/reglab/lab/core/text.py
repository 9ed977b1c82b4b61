"""The text side of a lab cell: EDA copies, the vocabulary, and the encoded splits.

A text cell trains on the training sentences and, with ``augment="eda"``, on EDA copies of
them (Wei & Zou 2019), made once per seed before training (their way) or anew each epoch
(``eda_per_epoch=True``). The copies are drawn from the seed alone, so a cell replays exactly.
EDA works on the tokenized sentence (lower case, punctuation dropped: the paper's
preprocessing); an empty sentence gets no copies. The vocabulary is fit on what the model
trains on: the training sentences and, when made once, their copies (with copies drawn each
epoch, on the training sentences alone). Validation and test are encoded with it, so a word
only they contain is out of vocabulary. :func:`text_info` gives what ``summary.json`` records:
the vocabulary of the training split and the out-of-vocabulary share of validation and test.

Example:
    >>> import reglab.data as rd
    >>> from reglab.lab.core.recipe import Recipe
    >>> ds = rd.make_text_dataset(["good film", "bad film", "fine", "awful"] * 5, [1, 0] * 10,
    ...                           name="toy")
    >>> sp = rd.split(ds, train_size=8, val_size=4, seed=0)
    >>> cell = encode_cell(Recipe(), 0, sp)
    >>> len(cell.vocab), len(cell.train), cell.input_shape
    (7, 8, (7,))
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ...augment.text import EDA
from ...data import Batches
from ...data.text import DEFAULT_MAX_LENGTH, DEFAULT_MAX_SIZE, EncodedTexts, Vocabulary, tokenize
from ...errors import ConfigError

__all__ = [
    "TextBatches",
    "TextCell",
    "check_augment_kind",
    "eda_for",
    "eda_settings",
    "encode_cell",
    "text_info",
]


def check_augment_kind(recipe: Any, kind: str) -> None:
    """EDA only on text, and on text nothing but EDA (no mixing of token ids either):
    otherwise the one-line error."""
    name = getattr(recipe, "name", "custom")
    mixing = float(getattr(recipe, "mixup", 0.0)) + float(getattr(recipe, "cutmix", 0.0))
    if kind == "text" and mixing > 0:
        raise ConfigError(
            f"Recipe {name!r}: mixup and cutmix mix input tensors; token ids cannot be mixed. "
            "Use mixup=0 and cutmix=0 on text (label_smoothing still applies)."
        )
    augment = getattr(recipe, "augment", None)
    if augment is None:
        return
    if augment == "eda" and kind != "text":
        raise ConfigError(
            f"Recipe {name!r}: augment='eda' augments sentences; the data is {kind}. Use an "
            "image augmentation (e.g. 'affine') or 'noise' for tables and signals."
        )
    if augment != "eda" and kind == "text":
        raise ConfigError(
            f"Recipe {name!r}: augment={augment!r} is for images, tables or signals; text data "
            "takes augment='eda' (or none)."
        )


def eda_settings(recipe: Any, n_train: int) -> tuple[float, int]:
    """``(alpha, num_aug)`` of a recipe's EDA: its own ``eda_alpha``/``eda_num_aug``, each one
    that is None from Wei & Zou's Table 3 for ``n_train`` sentences.

    Example:
        >>> from reglab.lab.core.recipe import Recipe
        >>> eda_settings(Recipe(augment="eda"), 500), eda_settings(Recipe(augment="eda"), 5000)
        ((0.05, 16), (0.1, 4))
        >>> eda_settings(Recipe(augment="eda", eda_num_aug=2), 2000)
        (0.05, 2)
    """

    alpha, num_aug = EDA.recommended(n_train)
    if recipe.eda_alpha is not None:
        alpha = recipe.eda_alpha
    if recipe.eda_num_aug is not None:
        num_aug = recipe.eda_num_aug
    return float(alpha), int(num_aug)


@functools.cache
def _eda(alpha: float, num_aug: int) -> Any:
    # WordNet is read once per process (WordNetSynonyms.default shares one instance).
    return EDA(alpha, alpha, alpha, alpha, num_aug)


def eda_for(recipe: Any, n_train: int) -> Any:
    """The :class:`reglab.augment.text.EDA` a recipe asks for (None without ``augment="eda"``).

    Raises the one-line ``ConfigError`` when no WordNet database is found.
    """
    if recipe.augment != "eda":
        return None
    return _eda(*eda_settings(recipe, n_train))


def _eda_copies(eda: Any, texts: Sequence[str], y: Tensor, seed: int) -> tuple[list[str], Tensor]:
    """The training sentences (tokenized) followed by their EDA copies, with the labels."""
    words = [" ".join(tokenize(t)) for t in texts]
    keep = [i for i, w in enumerate(words) if w]
    copies = eda.batch([words[i] for i in keep], generator=seed)
    extra = [s for group in copies for s in group]
    rows = torch.tensor([i for i, group in zip(keep, copies) for _ in group], dtype=torch.long)
    labels = torch.cat([y, y[rows]]) if len(rows) else y
    return [*texts, *extra], labels


class TextBatches:
    """Length-aware training batches on ``device``; with ``eda`` set, EDA copies are drawn
    anew for each pass (epoch ``k`` from the seed and ``k``), else the split is fixed."""

    def __init__(
        self,
        data: EncodedTexts,
        batch_size: int,
        generator: torch.Generator | None,
        device: torch.device,
        *,
        eda: Any = None,
        texts: Sequence[str] = (),
        vocab: Vocabulary | None = None,
        seed: int = 0,
        evaluation: Any = None,
    ) -> None:
        self.data, self.batch_size, self.generator = data, batch_size, generator
        self.device = device
        self.eda, self.texts, self.vocab, self.seed = eda, list(texts), vocab, seed
        #: What fit scores the training split on (the sentences without their copies).
        self.evaluation = evaluation
        self.epoch = 0
        # Rows per pass: the split, and with copies drawn per epoch num_aug per non-empty text.
        copies = 0 if eda is None else eda.num_aug * sum(1 for t in self.texts if tokenize(t))
        self._rows = len(data) + copies

    def __len__(self) -> int:
        return math.ceil(self._rows / self.batch_size)

    def _epoch_data(self) -> EncodedTexts:
        if self.eda is None:
            return self.data
        assert self.vocab is not None
        seed = self.seed * 1_000_003 + self.epoch
        texts, y = _eda_copies(self.eda, self.texts, self.data.y.cpu(), seed)
        return EncodedTexts.from_texts(self.vocab, texts, y).to(self.device)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        data = self._epoch_data()
        self.epoch += 1
        yield from data.batches(self.batch_size, shuffle=True, generator=self.generator)


@dataclass
class TextCell:
    """A text cell's data: the vocabulary, the encoded training sentences (with their EDA copies
    when made once), the training sentences alone (``scored``: what train accuracy and the gap
    are measured on), validation and test, the EDA drawn per epoch (or None), and the model's
    ``input_shape`` ``(vocabulary size,)``."""

    vocab: Vocabulary
    train: EncodedTexts
    scored: EncodedTexts
    val: EncodedTexts
    test: EncodedTexts
    train_texts: list[str]
    eda_per_epoch: Any
    seed: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (len(self.vocab),)

    def to(self, device: torch.device) -> TextCell:
        parts = (self.train, self.scored, self.val, self.test)
        self.train, self.scored, self.val, self.test = (d.to(device) for d in parts)
        return self

    def train_batches(
        self, batch_size: int, generator: torch.Generator, device: torch.device
    ) -> TextBatches:
        return TextBatches(
            self.train,
            batch_size,
            generator,
            device,
            eda=self.eda_per_epoch,
            texts=self.train_texts,
            vocab=self.vocab,
            seed=self.seed,
            evaluation=self.eval_batches("train"),
        )

    def eval_batches(self, part: str, batch_size: int = 256) -> Batches:
        """Evaluation batches of ``"train"`` (the sentences without copies), ``"val"`` or
        ``"test"``."""
        data: EncodedTexts = self.scored if part == "train" else getattr(self, part)
        return data.batch_iterable(batch_size)


def _check_text(splits: Any) -> None:
    if getattr(splits, "kind", None) != "text":
        raise ConfigError(
            f"encode_cell needs the splits of a text dataset. Got kind "
            f"{getattr(splits, 'kind', None)!r} instead."
        )


def encode_cell(recipe: Any, seed: int, splits: Any) -> TextCell:
    """EDA copies (per the recipe), the vocabulary, and the three encoded splits of one cell."""
    _check_text(splits)
    texts = splits.train.text_rows()
    y = splits.train.y.cpu()
    eda = eda_for(recipe, len(texts))
    per_epoch = eda is not None and recipe.eda_per_epoch
    if eda is not None and not per_epoch:
        fit_texts, fit_y = _eda_copies(eda, texts, y, seed)
    else:
        fit_texts, fit_y = texts, y
    vocab = Vocabulary.fit(fit_texts, max_size=DEFAULT_MAX_SIZE)
    train = EncodedTexts.from_texts(vocab, fit_texts, fit_y)
    scored = train if fit_texts is texts else EncodedTexts.from_texts(vocab, texts, y)
    return TextCell(
        vocab=vocab,
        train=train,
        scored=scored,
        val=EncodedTexts.from_texts(vocab, splits.val.text_rows(), splits.val.y.cpu()),
        test=EncodedTexts.from_texts(vocab, splits.test.text_rows(), splits.test.y.cpu()),
        train_texts=texts,
        eda_per_epoch=eda if per_epoch else None,
        seed=seed,
    )


def text_info(splits: Any) -> dict[str, Any]:
    """What ``summary.json`` records about a text split: the vocabulary fit on the training
    sentences (its size, ``max_size``, ``max_length``), the share of out-of-vocabulary tokens
    and the empty texts of each part, and the texts cut at ``max_length``.

    Example:
        >>> import reglab.data as rd
        >>> ds = rd.make_text_dataset(["a good film", "a bad film", "good", ""] * 3,
        ...                           [1, 0, 1, 0] * 3, name="toy")
        >>> info = text_info(rd.split(ds, train_size=4, val_size=4, seed=0))
        >>> info["vocabulary"], sorted(info["parts"]["train"])
        (6, ['empty', 'oov', 'tokens', 'truncated'])
    """
    _check_text(splits)
    train = splits.train.text_rows()
    vocab = Vocabulary.fit(train, max_size=DEFAULT_MAX_SIZE)
    parts = {}
    for part in ("train", "val", "test"):
        rows = train if part == "train" else getattr(splits, part).text_rows()
        d = vocab.describe(rows)
        truncated = sum(len(tokenize(t)) > DEFAULT_MAX_LENGTH for t in rows)
        parts[part] = {
            "tokens": d["tokens"],
            "oov": round(d["oov"], 6),
            "empty": d["empty"],
            "truncated": truncated,
        }
    return {
        "vocabulary": len(vocab),
        "max_size": DEFAULT_MAX_SIZE,
        "max_length": DEFAULT_MAX_LENGTH,
        "parts": parts,
    }
