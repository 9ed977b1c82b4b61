"""EDA text augmentation throughput: sentences per second (imported by augment.py).

Target (issue 5): at least 5,000 sentences/s for ``num_aug=4`` on 20-word sentences, synonym
look-ups on the real WordNet 3.0 database included. There is no reference implementation to run
beside ours (the paper's code needs NLTK, not installed here), so each case reports an absolute
rate; the machine is shared, so run it a couple of times.

Run alone: ``python benchmarks/eda.py [--json] [--repeats 30]``.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import parser

from reglab.augment.text import EDA
from reglab.augment.wordnet import WordNetSynonyms

# Review-like sentences: content words from a small vocabulary mixed with stop words at about
# the rate of English prose, 20 words each, seeded.
CONTENT = [
    "movie",
    "film",
    "plot",
    "actor",
    "actress",
    "story",
    "script",
    "scene",
    "director",
    "camera",
    "music",
    "score",
    "ending",
    "character",
    "dialogue",
    "performance",
    "audience",
    "theater",
    "screen",
    "picture",
    "drama",
    "comedy",
    "thriller",
    "horror",
    "romance",
    "hero",
    "villain",
    "friend",
    "family",
    "city",
    "house",
    "road",
    "car",
    "night",
    "day",
    "morning",
    "summer",
    "winter",
    "war",
    "love",
    "life",
    "death",
    "money",
    "power",
    "world",
    "time",
    "year",
    "moment",
    "child",
    "woman",
    "man",
    "dog",
    "good",
    "bad",
    "great",
    "terrible",
    "boring",
    "funny",
    "beautiful",
    "ugly",
    "quick",
    "slow",
    "strong",
    "weak",
    "young",
    "old",
    "happy",
    "sad",
    "dark",
    "bright",
    "loud",
    "quiet",
    "simple",
    "complex",
    "brilliant",
    "awful",
    "clever",
    "stupid",
    "warm",
    "cold",
    "run",
    "walk",
    "talk",
    "laugh",
    "cry",
    "watch",
    "see",
    "feel",
    "think",
    "know",
    "make",
    "take",
    "give",
    "find",
    "tell",
    "ask",
    "work",
    "seem",
    "leave",
    "call",
    "try",
    "need",
    "become",
    "keep",
    "begin",
    "show",
    "hear",
    "play",
    "move",
    "live",
    "believe",
    "bring",
    "really",
    "quite",
    "rather",
    "almost",
    "never",
    "always",
    "often",
    "still",
    "even",
    "well",
    "badly",
    "quickly",
    "slowly",
]
STOP = [
    "the",
    "a",
    "an",
    "of",
    "to",
    "and",
    "in",
    "is",
    "it",
    "that",
    "was",
    "for",
    "on",
    "with",
    "as",
    "his",
    "her",
    "they",
    "at",
    "be",
    "this",
    "by",
    "from",
    "or",
    "but",
    "not",
    "are",
    "were",
    "have",
    "has",
    "had",
    "he",
    "she",
    "we",
    "you",
    "i",
]


def make_sentences(count: int, length: int = 20, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(
            rng.choice(STOP) if rng.random() < 0.4 else rng.choice(CONTENT) for _ in range(length)
        )
        for _ in range(count)
    ]


def _rate(fn: Callable[[], object], sentences: int, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sentences / statistics.median(times)


def cases(repeats: int, rounds: int = 3) -> list[dict[str, object]]:
    """One dict per case: ``{"area": "text", "case": ..., "sentences_per_s": ...}``.

    The cases are timed in turn over ``rounds`` rounds (median of ``repeats`` calls each), and
    each reports the median of its rounds, so a burst of load on the shared machine hits all.
    """
    batch = make_sentences(500)
    wordnet = WordNetSynonyms()
    warm4 = EDA(num_aug=4, synonyms=wordnet)
    warm9 = EDA(num_aug=9, synonyms=wordnet)
    by_map = EDA(num_aug=4, synonyms={w: list(wordnet.synonyms(w)[:8]) for w in CONTENT})

    def cold() -> None:
        # A fresh reader: opening the files and every first look-up are in the timing.
        EDA(num_aug=4, synonyms=WordNetSynonyms(wordnet.path)).batch(batch, generator=0)

    timed: dict[str, tuple[Callable[[], object], int]] = {
        "EDA num_aug=4, 20 words, WordNet (warm cache)": (
            lambda: warm4.batch(batch, generator=0),
            repeats,
        ),
        "EDA num_aug=9, 20 words, WordNet (warm cache)": (
            lambda: warm9.batch(batch, generator=0),
            repeats,
        ),
        "EDA num_aug=4, 20 words, WordNet (cold: new reader)": (cold, max(3, repeats // 5)),
        "EDA num_aug=4, 20 words, dict synonyms": (
            lambda: by_map.batch(batch, generator=0),
            repeats,
        ),
    }
    rates: dict[str, list[float]] = {case: [] for case in timed}
    for _ in range(rounds):
        for case, (fn, n) in timed.items():
            rates[case].append(_rate(fn, len(batch), n, warmup=1))
    return [
        {"area": "text", "case": case, "sentences_per_s": round(statistics.median(r), 1)}
        for case, r in rates.items()
    ]


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    records = cases(args.repeats)
    if args.json:
        for r in records:
            print(json.dumps(r))
        return
    print(f"{'case':54s} {'sentences/s':>12s}")
    for r in records:
        print(f"{r['case']!s:54s} {r['sentences_per_s']:12,.0f}")
    print("target: >= 5,000 sentences/s for num_aug=4 on 20-word sentences")


if __name__ == "__main__":
    main()
