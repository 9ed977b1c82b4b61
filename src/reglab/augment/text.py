"""EDA text augmentation: synonym replacement, random insertion, random swap, random deletion.

The four operations of Wei & Zou (2019), on a sentence of ``l`` words::

    SR  replace n words (not stop words, having synonyms) by a random synonym each
    RI  n times: insert a random synonym of a random non-stop word at a random position
    RS  n times: swap two random words
    RD  remove each word independently with probability p (at least one word is kept)

    n = max(1, floor(alpha * l))        (alpha_sr, alpha_ri, alpha_rs; p = p_rd)

:class:`EDA` draws ``num_aug`` augmented sentences from one sentence, splitting them as evenly as
possible between the enabled operations (an operation is disabled by setting its alpha to 0).
Sentences are split on whitespace and joined with single spaces; clean them (lowercase, strip
punctuation) beforehand if you want the paper's preprocessing.

Randomness: every call takes ``generator``, which is an ``int`` seed, a ``random.Random`` (its
state advances), a ``numpy.random.Generator`` or ``torch.Generator`` (one 62-bit seed is drawn
from it), or ``None`` (a seed is drawn from torch's global generator, so ``torch.manual_seed``
makes runs repeatable). The same seed gives the same sentences.

Paper: J. Wei and K. Zou, "EDA: Easy Data Augmentation Techniques for Boosting Performance on
Text Classification Tasks", EMNLP-IJCNLP 2019.

Example:
    >>> eda = EDA(num_aug=2, synonyms={"quick": ["fast"], "fox": ["canine"]})
    >>> out = eda("the quick brown fox", generator=0)
    >>> len(out), all(isinstance(s, str) for s in out)
    (2, True)
    >>> out == eda("the quick brown fox", generator=0)
    True
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Collection, Iterable, Sequence
from importlib import resources
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch

from .._checks import BOOL, Constraints, Interval, validate_params
from ..errors import ConfigError, format_value, param_error
from .wordnet import (
    MappingSynonyms,
    SynonymsLike,
    SynonymSource,
    WordNetSynonyms,
    as_synonym_source,
)

__all__ = [
    "EDA",
    "MappingSynonyms",
    "WordNetSynonyms",
    "english_stopwords",
    "num_changes",
    "random_deletion",
    "random_insertion",
    "random_swap",
    "synonym_replacement",
]

T = TypeVar("T")
Lookup = Callable[[str], Sequence[str]]
GeneratorLike = int | random.Random | np.random.Generator | torch.Generator | None

_GENERATOR_CONSTRAINT = (
    "an int seed, a random.Random, a numpy.random.Generator, a torch.Generator or None"
)


@functools.lru_cache(maxsize=1)
def english_stopwords() -> frozenset[str]:
    """The English stop-word list shipped with reglab (``augment/stopwords_en.txt``, 179 words).

    Example:
        >>> "the" in english_stopwords(), "fox" in english_stopwords()
        (True, False)
    """
    text = resources.files("reglab.augment").joinpath("stopwords_en.txt").read_text("utf-8")
    return frozenset(
        w.strip().lower() for w in text.splitlines() if w.strip() and not w.startswith("#")
    )


def _as_random(generator: Any, owner: str) -> random.Random:
    """One ``random.Random`` per call; torch/numpy generators only seed it (Python's RNG is fast)."""
    if isinstance(generator, random.Random):
        return generator
    if generator is None:
        return random.Random(int(torch.randint(0, 2**62, (1,)).item()))
    if isinstance(generator, int) and not isinstance(generator, bool):
        return random.Random(generator)
    if isinstance(generator, np.random.Generator):
        return random.Random(int(generator.integers(0, 2**62)))
    if isinstance(generator, torch.Generator):
        seed = torch.randint(0, 2**62, (1,), generator=generator, device=generator.device)
        return random.Random(int(seed.item()))
    raise param_error("generator", owner, _GENERATOR_CONSTRAINT, generator)


def _as_stopwords(stopwords: Any, owner: str) -> frozenset[str]:
    if isinstance(stopwords, str) and stopwords == "english":
        return english_stopwords()
    if stopwords is None:
        return frozenset()
    if not isinstance(stopwords, (str, bytes)) and isinstance(stopwords, Iterable):
        words = list(stopwords)
        if all(isinstance(w, str) for w in words):
            return frozenset(w.lower() for w in words)
    raise param_error("stopwords", owner, "'english', None or a collection of str", stopwords)


def _as_words(words: Any, owner: str) -> list[str]:
    if isinstance(words, (list, tuple)) and all(isinstance(w, str) for w in words):
        return list(words)
    raise ConfigError(
        f"{owner} expects a list of words (for example sentence.split()). "
        f"Got {format_value(words)} instead."
    )


def num_changes(alpha: float, length: int) -> int:
    """Words an operation changes in a sentence of ``length`` words: ``max(1, floor(alpha*l))``.

    A tiny tolerance keeps products such as ``0.29 * 100`` (28.999999999999996 in floating point)
    at their exact value.

    Example:
        >>> num_changes(0.1, 9), num_changes(0.1, 20), num_changes(0.29, 100)
        (1, 2, 29)
    """
    return max(1, math.floor(alpha * length + 1e-9))


# -- the four operations on token lists (internal forms take a ready rng and lookup) ----------
# Indices are drawn as int(random() * m): random() is one C call, randrange() a Python loop, and
# the bias (below 2**-53 * m) is far under anything a text pipeline can see.


def _sr(words: list[str], n: int, lookup: Lookup, pool: list[int], rng: random.Random) -> list[str]:
    # A uniform n-subset of the positions that have synonyms is what "visit the non-stop words in
    # random order, replace the first n that have synonyms" draws; a partial Fisher-Yates shuffle
    # of the pool gives it in n steps.
    out = list(words)
    rand = rng.random
    order = list(pool)
    m = len(order)
    for t in range(n if n < m else m):
        j = t + int(rand() * (m - t))
        order[t], order[j] = order[j], order[t]
        i = order[t]
        syns = lookup(words[i])
        out[i] = syns[int(rand() * len(syns))]
    return out


def _ri(words: list[str], n: int, lookup: Lookup, pool: list[int], rng: random.Random) -> list[str]:
    out = list(words)
    if not pool:
        return out
    rand = rng.random
    m = len(pool)
    for _ in range(n):
        syns = lookup(words[pool[int(rand() * m)]])
        out.insert(int(rand() * (len(out) + 1)), syns[int(rand() * len(syns))])
    return out


def _rs(words: list[str], n: int, rng: random.Random) -> list[str]:
    out = list(words)
    size = len(out)
    if size < 2:
        return out
    rand = rng.random
    for _ in range(n):
        i = int(rand() * size)
        j = int(rand() * (size - 1))
        if j >= i:  # two distinct positions, uniformly
            j += 1
        out[i], out[j] = out[j], out[i]
    return out


def _rd(words: list[str], p: float, rng: random.Random) -> list[str]:
    if len(words) <= 1:
        return list(words)
    rand = rng.random
    out = [w for w in words if rand() >= p]
    if not out:
        return [words[int(rand() * len(words))]]
    return out


def _pool(words: Sequence[str], lookup: Lookup, stop: Collection[str]) -> list[int]:
    """Positions of the words that are not stop words and have at least one synonym."""
    return [i for i, w in enumerate(words) if w.lower() not in stop and lookup(w)]


#: The constraints of the count ``n`` of synonym_replacement, random_insertion and random_swap.
_COUNT_CONSTRAINTS: Constraints = {"n": [Interval(int, 0, None)]}
#: The constraints of random_deletion's arguments, checked by validate_params.
_RANDOM_DELETION_CONSTRAINTS: Constraints = {"p": [Interval(float, 0, 1)]}
#: The constraints of EDA.for_dataset_size's and EDA.recommended's arguments.
_N_TRAIN_CONSTRAINTS: Constraints = {"n_train": [Interval(int, 1, None)]}
#: The constraints of EDA.expand's arguments, checked by validate_params.
_EXPAND_CONSTRAINTS: Constraints = {"include_original": BOOL}


def synonym_replacement(
    words: Sequence[str],
    n: int,
    synonyms: SynonymsLike = None,
    *,
    stopwords: Collection[str] | str | None = "english",
    generator: GeneratorLike = None,
) -> list[str]:
    """Replace ``n`` random non-stop words that have synonyms, each by a random synonym.

    Positions are visited in random order and skipped when the word is a stop word or has no
    synonym, so fewer than ``n`` words change only when fewer than ``n`` qualify.

    Args:
        words: the sentence as a list of words.
        n: number of words to replace (EDA uses :func:`num_changes`).
        synonyms: a synonym source (see :class:`EDA`); ``None`` is WordNet.
        stopwords: ``"english"`` (the shipped list), ``None`` or a collection of words.
        generator: seed or generator (see the module docstring).

    Example:
        >>> synonym_replacement(["a", "quick", "fox"], 1, {"quick": ["fast"], "a": ["one"]},
        ...                     generator=0)
        ['a', 'fast', 'fox']
    """
    owner = "synonym_replacement"
    words = _as_words(words, owner)
    validate_params(owner, locals(), _COUNT_CONSTRAINTS)
    source = as_synonym_source(synonyms, owner)
    stop = _as_stopwords(stopwords, owner)
    rng = _as_random(generator, owner)
    return _sr(words, n, source.synonyms, _pool(words, source.synonyms, stop), rng)


def random_insertion(
    words: Sequence[str],
    n: int,
    synonyms: SynonymsLike = None,
    *,
    stopwords: Collection[str] | str | None = "english",
    generator: GeneratorLike = None,
) -> list[str]:
    """``n`` times, insert a random synonym of a random non-stop word at a random position.

    The words whose synonyms are inserted are drawn from the original sentence; if none has a
    synonym, the sentence comes back unchanged.

    Example:
        >>> random_insertion(["a", "quick", "fox"], 1, {"quick": ["fast"]}, generator=0)
        ['a', 'quick', 'fox', 'fast']
    """
    owner = "random_insertion"
    words = _as_words(words, owner)
    validate_params(owner, locals(), _COUNT_CONSTRAINTS)
    source = as_synonym_source(synonyms, owner)
    stop = _as_stopwords(stopwords, owner)
    rng = _as_random(generator, owner)
    return _ri(words, n, source.synonyms, _pool(words, source.synonyms, stop), rng)


def random_swap(words: Sequence[str], n: int, *, generator: GeneratorLike = None) -> list[str]:
    """``n`` times, swap the words at two distinct random positions.

    Example:
        >>> random_swap(["a", "b"], 1, generator=0)
        ['b', 'a']
    """
    owner = "random_swap"
    words = _as_words(words, owner)
    validate_params(owner, locals(), _COUNT_CONSTRAINTS)
    return _rs(words, n, _as_random(generator, owner))


def random_deletion(
    words: Sequence[str], p: float, *, generator: GeneratorLike = None
) -> list[str]:
    """Remove each word with probability ``p``; if all would go, keep one random word.

    Example:
        >>> random_deletion(["a", "b", "c"], 1.0, generator=0)
        ['a']
    """
    owner = "random_deletion"
    words = _as_words(words, owner)
    validate_params(owner, locals(), _RANDOM_DELETION_CONSTRAINTS)
    return _rd(words, float(p), _as_random(generator, owner))


class EDA:
    """Easy Data Augmentation: ``num_aug`` label-preserving variants of a sentence.

    Each augmented sentence comes from one operation (SR, RI, RS or RD, see the module
    docstring) with ``n = max(1, floor(alpha * l))`` for a sentence of ``l`` words; RD drops each
    word with probability ``p_rd``. ``num_aug`` is split as evenly as possible between the enabled
    operations (``num_aug = 9`` with all four: 2 each and one more for a random operation), and the
    results are returned in random order. The original sentence is not included (see
    :meth:`expand`).

    Args:
        alpha_sr: fraction of words replaced by a synonym (0 disables SR).
        alpha_ri: fraction of words inserted as synonyms (0 disables RI).
        alpha_rs: fraction of words swapped (0 disables RS).
        p_rd: probability of deleting each word (0 disables RD).
        num_aug: augmented sentences per original sentence.
        synonyms: ``None`` (WordNet 3.0 from ``$WORDNET_DIR``, ``/usr/share/wordnet`` or NLTK's
            data; see :class:`~reglab.augment.wordnet.WordNetSynonyms`), a ``{word: [synonyms]}``
            mapping, a path to a TSV file (``word<TAB>synonym<TAB>synonym...`` per line) or to a
            WordNet folder, or any object with a ``synonyms(word)`` method.
        stopwords: words never replaced nor used for insertion: ``"english"`` (179 words shipped
            in ``reglab/augment/stopwords_en.txt``), ``None``, or a collection of words.

    Example:
        >>> eda = EDA(alpha_sr=0.5, alpha_ri=0, alpha_rs=0, p_rd=0, num_aug=1,
        ...           synonyms={"quick": ["speedy"], "brown": ["chocolate"]})
        >>> eda("the quick brown fox", generator=1)
        ['the speedy chocolate fox']

    Paper: Wei & Zou, "EDA: Easy Data Augmentation Techniques for Boosting Performance on Text
    Classification Tasks", EMNLP-IJCNLP 2019.
    """

    # Table 3 of the paper: (largest N_train of the row, alpha, n_aug).
    RECOMMENDED: tuple[tuple[float, float, int], ...] = (
        (500, 0.05, 16),
        (2_000, 0.05, 8),
        (5_000, 0.1, 4),
        (math.inf, 0.1, 4),
    )

    _parameter_constraints: ClassVar[Constraints] = {
        "alpha_sr": [Interval(float, 0, 1)],
        "alpha_ri": [Interval(float, 0, 1)],
        "alpha_rs": [Interval(float, 0, 1)],
        "p_rd": [Interval(float, 0, 1)],
        "num_aug": [Interval(int, 1, None)],
    }

    def __init__(
        self,
        alpha_sr: float = 0.1,
        alpha_ri: float = 0.1,
        alpha_rs: float = 0.1,
        p_rd: float = 0.1,
        num_aug: int = 9,
        synonyms: SynonymsLike = None,
        stopwords: Collection[str] | str | None = "english",
    ) -> None:
        validate_params(self, locals())
        self.alpha_sr = float(alpha_sr)
        self.alpha_ri = float(alpha_ri)
        self.alpha_rs = float(alpha_rs)
        self.p_rd = float(p_rd)
        self.num_aug = num_aug
        if not (self.alpha_sr or self.alpha_ri or self.alpha_rs or self.p_rd):
            raise ConfigError(
                "EDA needs at least one operation: alpha_sr, alpha_ri, alpha_rs and p_rd are all 0."
            )
        self.synonyms: SynonymSource = as_synonym_source(synonyms, "EDA")
        self.stopwords: frozenset[str] = _as_stopwords(stopwords, "EDA")
        # word -> its synonyms, () for stop words; sources are taken to be fixed once given.
        self._cache: dict[str, tuple[str, ...]] = {}
        self._ops = tuple(
            op
            for op, a in (
                ("sr", self.alpha_sr),
                ("ri", self.alpha_ri),
                ("rs", self.alpha_rs),
                ("rd", self.p_rd),
            )
            if a > 0
        )

    @classmethod
    def for_dataset_size(
        cls,
        n_train: int,
        *,
        synonyms: SynonymsLike = None,
        stopwords: Collection[str] | str | None = "english",
    ) -> EDA:
        """EDA with the paper's recommended settings (Table 3) for ``n_train`` training sentences.

        The same ``alpha`` is used for all four operations (``p_rd = alpha``)::

            n_train          alpha   num_aug
            <= 500           0.05    16
            501 .. 2,000     0.05     8
            2,001 .. 5,000   0.1      4
            more             0.1      4

        Example:
            >>> e = EDA.for_dataset_size(1_000, synonyms={})
            >>> e.alpha_sr, e.p_rd, e.num_aug
            (0.05, 0.05, 8)
        """
        validate_params("EDA.for_dataset_size", locals(), _N_TRAIN_CONSTRAINTS)
        alpha, num_aug = cls.recommended(n_train)
        return cls(alpha, alpha, alpha, alpha, num_aug, synonyms=synonyms, stopwords=stopwords)

    @classmethod
    def recommended(cls, n_train: int) -> tuple[float, int]:
        """``(alpha, num_aug)`` of the paper's Table 3 for ``n_train`` training sentences.

        Example:
            >>> EDA.recommended(500), EDA.recommended(2_000), EDA.recommended(20_000)
            ((0.05, 16), (0.05, 8), (0.1, 4))
        """
        validate_params("EDA.recommended", locals(), _N_TRAIN_CONSTRAINTS)
        return next((a, k) for upto, a, k in cls.RECOMMENDED if n_train <= upto)

    def __repr__(self) -> str:
        return (
            f"EDA(alpha_sr={self.alpha_sr}, alpha_ri={self.alpha_ri}, alpha_rs={self.alpha_rs}, "
            f"p_rd={self.p_rd}, num_aug={self.num_aug}, synonyms={self.synonyms!r}, "
            f"stopwords={len(self.stopwords)} words)"
        )

    def _words(self, sentence: Any, where: str = "") -> list[str]:
        if not isinstance(sentence, str):
            raise ConfigError(
                f"EDA expects a str sentence. Got {format_value(sentence)}{where} instead."
            )
        words = sentence.split()
        if not words:
            raise ConfigError(
                f"EDA expects a non-empty sentence (at least one word). "
                f"Got {format_value(sentence)}{where} instead."
            )
        return words

    def _lookup(self, words: list[str]) -> list[int]:
        """Positions eligible for SR and RI; fills the per-instance synonym cache on the way."""
        cache = self._cache
        for w in words:
            if w not in cache:
                cache[w] = () if w.lower() in self.stopwords else tuple(self.synonyms.synonyms(w))
        return [i for i, w in enumerate(words) if cache[w]]

    def _augment(self, words: list[str], rng: random.Random) -> list[str]:
        ops = self._ops
        k = len(ops)
        base, extra = divmod(self.num_aug, k)
        counts = [base] * k
        if extra:
            for j in rng.sample(range(k), extra):
                counts[j] += 1
        size = len(words)
        lookup = self._cache.__getitem__
        pool: list[int] | None = None
        out: list[str] = []
        for op, count in zip(ops, counts):
            if not count:
                continue
            if op == "rs":
                n = num_changes(self.alpha_rs, size)
                out += [" ".join(_rs(words, n, rng)) for _ in range(count)]
            elif op == "rd":
                out += [" ".join(_rd(words, self.p_rd, rng)) for _ in range(count)]
            else:
                if pool is None:
                    pool = self._lookup(words)
                if op == "sr":
                    n = num_changes(self.alpha_sr, size)
                    out += [" ".join(_sr(words, n, lookup, pool, rng)) for _ in range(count)]
                else:
                    n = num_changes(self.alpha_ri, size)
                    out += [" ".join(_ri(words, n, lookup, pool, rng)) for _ in range(count)]
        rng.shuffle(out)
        return out

    def __call__(self, sentence: str, generator: GeneratorLike = None) -> list[str]:
        """``num_aug`` augmented versions of ``sentence`` (the original not included)."""
        words = self._words(sentence)
        return self._augment(words, _as_random(generator, "EDA"))

    def batch(self, sentences: Sequence[str], generator: GeneratorLike = None) -> list[list[str]]:
        """Augment each sentence: one list of ``num_aug`` sentences per input sentence.

        One random stream serves the whole batch, so ``batch([s], seed)[0] == eda(s, seed)``.

        Example:
            >>> eda = EDA(num_aug=3, synonyms={})
            >>> [len(x) for x in eda.batch(["a b c", "d e"], generator=0)]
            [3, 3]
        """
        if isinstance(sentences, str) or not isinstance(sentences, Sequence):
            raise ConfigError(
                f"EDA.batch expects a list of sentences. Got {format_value(sentences)} instead."
            )
        all_words = [self._words(s, f" at index {i}") for i, s in enumerate(sentences)]
        rng = _as_random(generator, "EDA")
        return [self._augment(words, rng) for words in all_words]

    def expand(
        self,
        sentences: Sequence[str],
        labels: Sequence[T],
        generator: GeneratorLike = None,
        include_original: bool = True,
    ) -> tuple[list[str], list[T]]:
        """An augmented training set: each sentence (if ``include_original``) and its variants,
        each with the label of the sentence it came from.

        Example:
            >>> eda = EDA(num_aug=2, synonyms={})
            >>> xs, ys = eda.expand(["good film", "bad plot"], [1, 0], generator=0)
            >>> len(xs), ys
            (6, [1, 1, 1, 0, 0, 0])
        """
        if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
            raise ConfigError(
                f"EDA.expand expects a sequence of labels. Got {format_value(labels)} instead."
            )
        if len(labels) != len(sentences):
            raise ConfigError(
                f"EDA.expand expects one label per sentence ({len(sentences)} sentences). "
                f"Got {len(labels)} labels instead."
            )
        validate_params("EDA.expand", locals(), _EXPAND_CONSTRAINTS)
        variants = self.batch(sentences, generator)
        xs: list[str] = []
        ys: list[T] = []
        for sentence, label, augmented in zip(sentences, labels, variants):
            if include_original:
                xs.append(sentence)
                ys.append(label)
            xs += augmented
            ys += [label] * len(augmented)
        return xs, ys
