"""EDA (Wei & Zou 2019): the four operations, n = max(1, floor(alpha * l)), stop words, the
paper's recommended settings, seeded determinism, synonym inputs and the exact error messages."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest
import torch

from reglab import ConfigError
from reglab.augment import wordnet as wnmod
from reglab.augment.text import (
    EDA,
    english_stopwords,
    num_changes,
    random_deletion,
    random_insertion,
    random_swap,
    synonym_replacement,
)

# Every word w{i} has the single synonym S{i}; stop words have synonyms too, so that a stop word
# left alone shows the stop list at work, not a missing synonym.
WORDS = [f"w{i}" for i in range(40)]
SYN = {w: [f"S{w[1:]}"] for w in WORDS} | {"the": ["THEE"], "of": ["OFF"], "a": ["AN"]}
ONLY_SR = {"alpha_ri": 0.0, "alpha_rs": 0.0, "p_rd": 0.0}


def sentence(n: int) -> str:
    return " ".join(WORDS[:n])


# -- n = max(1, floor(alpha * l)) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("alpha", "length", "n"),
    [(0.1, 1, 1), (0.1, 9, 1), (0.1, 10, 1), (0.1, 19, 1), (0.1, 20, 2), (0.05, 39, 1),
     (0.05, 40, 2), (0.3, 10, 3), (0.29, 100, 29), (0.5, 7, 3), (1.0, 13, 13), (0.0, 5, 1)],
)  # fmt: skip
def test_num_changes(alpha, length, n):
    assert num_changes(alpha, length) == n == max(1, math.floor(round(alpha * length, 9)))


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.25, 0.5, 1.0])
@pytest.mark.parametrize("length", [1, 2, 7, 10, 20, 33])
def test_sr_replaces_exactly_n_words(alpha, length):
    eda = EDA(alpha_sr=alpha, **ONLY_SR, num_aug=12, synonyms=SYN, stopwords=None)
    words = sentence(length).split()
    for out in eda(sentence(length), generator=length):
        new = out.split()
        assert len(new) == length
        changed = [i for i in range(length) if new[i] != words[i]]
        assert len(changed) == num_changes(alpha, length)
        assert all(new[i] == SYN[words[i]][0] for i in changed)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.3])
@pytest.mark.parametrize("length", [1, 5, 20, 33])
def test_ri_inserts_exactly_n_synonyms_keeping_the_sentence(alpha, length):
    eda = EDA(alpha_sr=0, alpha_ri=alpha, alpha_rs=0, p_rd=0, num_aug=8, synonyms=SYN)
    words = sentence(length).split()
    n = num_changes(alpha, length)
    for out in eda(sentence(length), generator=1):
        new = out.split()
        assert len(new) == length + n
        assert [w for w in new if w.startswith("w")] == words  # order of the original kept
        inserted = [w for w in new if w.startswith("S")]
        assert len(inserted) == n and all(w[1:] in {x[1:] for x in words} for w in inserted)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.3])
@pytest.mark.parametrize("length", [2, 5, 20, 33])
def test_rs_is_n_swaps(alpha, length):
    eda = EDA(alpha_sr=0, alpha_ri=0, alpha_rs=alpha, p_rd=0, num_aug=8, synonyms=SYN)
    words = sentence(length).split()
    n = num_changes(alpha, length)
    for out in eda(sentence(length), generator=2):
        new = out.split()
        assert sorted(new) == sorted(words)
        moved = sum(a != b for a, b in zip(new, words))
        assert moved <= 2 * n
        if n == 1:
            assert moved == 2  # one swap of two distinct positions always shows


def test_rs_single_word_is_unchanged():
    assert random_swap(["alone"], 3, generator=0) == ["alone"]


def test_rd_keeps_a_subsequence_and_at_least_one_word():
    words = sentence(30).split()
    for seed in range(50):
        kept = random_deletion(words, 0.3, generator=seed)
        it = iter(words)
        assert all(w in it for w in kept)  # a subsequence, in order
        assert len(kept) >= 1
        everything = random_deletion(words, 1.0, generator=seed)
        assert len(everything) == 1 and everything[0] in words
    assert random_deletion(["solo"], 1.0, generator=0) == ["solo"]
    assert random_deletion(words, 0.0, generator=0) == words


def test_rd_deletion_rate():
    """Each word goes with probability p: over 20,000 draws of 20 words the deleted fraction is
    p within 0.005 (about 7 standard errors of 0.0007; seeded)."""
    words = sentence(20).split()
    rng = random.Random(0)
    kept = sum(len(random_deletion(words, 0.3, generator=rng)) for _ in range(20_000))
    assert abs(1 - kept / (20 * 20_000) - 0.3) < 0.005


# -- stop words ---------------------------------------------------------------------------------


def test_stop_words_never_replaced_nor_inserted():
    text = "the w1 of w2 a w3 the w4"
    eda = EDA(alpha_sr=1.0, alpha_ri=1.0, alpha_rs=0, p_rd=0, num_aug=20, synonyms=SYN)
    words = text.split()
    for out in eda(text, generator=3):
        new = out.split()
        assert not {"THEE", "OFF", "AN"} & set(new)
        if len(new) == len(words):  # SR: every non-stop word replaced, stop words kept
            assert new == ["the", "S1", "of", "S2", "a", "S3", "the", "S4"]
    # Without the stop list the same words are fair game.
    loose = EDA(alpha_sr=1.0, **ONLY_SR, num_aug=1, synonyms=SYN, stopwords=None)
    assert loose(text, generator=0) == ["THEE S1 OFF S2 AN S3 THEE S4"]


def test_stop_words_are_case_insensitive_and_custom():
    eda = EDA(alpha_sr=1.0, **ONLY_SR, num_aug=1, synonyms=SYN, stopwords=["W1", "the"])
    assert eda("The w1 w2", generator=0) == ["The w1 S2"]
    assert synonym_replacement(["w1", "w2"], 2, SYN, stopwords={"w2"}, generator=0) == ["S1", "w2"]


def test_shipped_stopword_list():
    stop = english_stopwords()
    assert len(stop) == 179
    assert {"the", "a", "of", "and", "not", "don't", "yourselves"} <= stop
    assert not {"fox", "quick", "good", "movie"} & stop
    assert EDA(synonyms={}).stopwords == stop


def test_sentence_without_candidates_stays_whole():
    eda = EDA(alpha_sr=0.5, alpha_ri=0.5, alpha_rs=0, p_rd=0, num_aug=4, synonyms={})
    assert eda("nothing has synonyms here", generator=0) == ["nothing has synonyms here"] * 4


# -- num_aug split between operations -----------------------------------------------------------


def classify(out: str, length: int) -> str:
    new = out.split()
    if len(new) == 1:
        return "rd"  # p_rd = 1 leaves one word
    if len(new) > length:
        return "ri"
    return "sr" if any(w.startswith("S") for w in new) else "rs"


@pytest.mark.parametrize(("num_aug", "split"), [(1, [0, 0, 0, 1]), (4, [1, 1, 1, 1]),
                                                (9, [2, 2, 2, 3]), (16, [4, 4, 4, 4])])  # fmt: skip
def test_num_aug_split_evenly(num_aug, split):
    eda = EDA(alpha_sr=0.1, alpha_ri=0.1, alpha_rs=0.1, p_rd=1.0, num_aug=num_aug, synonyms=SYN)
    for seed in range(10):
        out = eda(sentence(10), generator=seed)
        assert len(out) == num_aug
        counts = Counter(classify(o, 10) for o in out)
        assert sorted(counts[op] for op in ("sr", "ri", "rs", "rd")) == split


def test_disabled_operation_never_used():
    eda = EDA(alpha_sr=0.1, alpha_ri=0, alpha_rs=0.1, p_rd=0, num_aug=9, synonyms=SYN)
    counts = Counter(classify(o, 10) for o in eda(sentence(10), generator=0))
    assert set(counts) == {"sr", "rs"} and sorted(counts.values()) == [4, 5]


# -- the paper's recommended settings -----------------------------------------------------------


@pytest.mark.parametrize(
    ("n_train", "alpha", "num_aug"),
    [(1, 0.05, 16), (500, 0.05, 16), (501, 0.05, 8), (2_000, 0.05, 8), (2_001, 0.1, 4),
     (5_000, 0.1, 4), (5_001, 0.1, 4), (10**7, 0.1, 4)],
)  # fmt: skip
def test_for_dataset_size(n_train, alpha, num_aug):
    eda = EDA.for_dataset_size(n_train, synonyms=SYN)
    assert (eda.alpha_sr, eda.alpha_ri, eda.alpha_rs, eda.p_rd) == (alpha,) * 4
    assert eda.num_aug == num_aug
    assert eda.synonyms.synonyms("w1") == ("S1",)


# -- randomness ---------------------------------------------------------------------------------


def test_deterministic_for_a_seed():
    eda = EDA(num_aug=9, synonyms=SYN)
    text = sentence(20)
    assert eda(text, generator=7) == eda(text, generator=7)
    assert eda(text, generator=7) != eda(text, generator=8)
    assert eda(text, generator=np.random.default_rng(3)) == eda(
        text, generator=np.random.default_rng(3)
    )
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert eda(text, generator=g1) == eda(text, generator=g2)
    torch.manual_seed(11)
    first = eda(text)
    torch.manual_seed(11)
    assert eda(text) == first


def test_random_random_state_advances():
    eda = EDA(num_aug=4, synonyms=SYN)
    rng = random.Random(0)
    a, b = eda(sentence(20), generator=rng), eda(sentence(20), generator=rng)
    assert a != b
    rng = random.Random(0)
    assert eda(sentence(20), generator=rng) == a


def test_batch_matches_single_calls_on_one_stream():
    eda = EDA(num_aug=4, synonyms=SYN)
    texts = [sentence(5), sentence(20), "w3 the w9"]
    out = eda.batch(texts, generator=4)
    assert out[0] == eda(texts[0], generator=4)
    rng = random.Random(4)
    assert out == [eda(t, generator=rng) for t in texts]


def test_expand_keeps_labels():
    eda = EDA(num_aug=3, synonyms=SYN)
    xs, ys = eda.expand([sentence(6), sentence(8)], ["pos", "neg"], generator=0)
    assert len(xs) == 8 and ys == ["pos"] * 4 + ["neg"] * 4
    assert xs[0] == sentence(6) and xs[4] == sentence(8)
    xs2, ys2 = eda.expand([sentence(6)], [1], generator=0, include_original=False)
    assert xs2 == xs[1:4] and ys2 == [1, 1, 1]


# -- synonym inputs -----------------------------------------------------------------------------


def test_mapping_and_tsv_inputs(tmp_path):
    path = tmp_path / "syn.tsv"
    path.write_text("# toy thesaurus\nfilm\tmovie\tpicture\ngood\tfine\n", encoding="utf-8")
    by_map = EDA(
        alpha_sr=1.0,
        **ONLY_SR,
        num_aug=6,
        synonyms={"film": ["movie", "picture"], "good": ["fine"]},
    )
    by_tsv = EDA(alpha_sr=1.0, **ONLY_SR, num_aug=6, synonyms=str(path))
    by_path = EDA(alpha_sr=1.0, **ONLY_SR, num_aug=6, synonyms=path)
    out = by_map("a good film", generator=0)
    assert out == by_tsv("a good film", generator=0) == by_path("a good film", generator=0)
    assert set(out) <= {"a fine movie", "a fine picture"} and len(set(out)) == 2


def test_functions_take_sources():
    assert sorted(random_insertion(["w1"], 2, SYN, generator=0)) == ["S1", "S1", "w1"]
    assert random_insertion(["the"], 2, SYN, generator=0) == ["the"]  # only a stop word
    assert synonym_replacement(["w1", "w2", "w3"], 3, SYN, generator=0) == ["S1", "S2", "S3"]
    assert synonym_replacement(["w1", "w2"], 0, SYN, generator=0) == ["w1", "w2"]


# -- the real WordNet ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wordnet_eda() -> EDA:
    try:
        return EDA(alpha_sr=0.2, **ONLY_SR, num_aug=16)
    except ConfigError as err:
        pytest.fail(
            "EDA with synonyms=None needs a real WordNet 3.0 database (run 'make test', which "
            f"installs the Debian package wordnet-base into /usr/share/wordnet): {err}"
        )


def test_eda_on_real_wordnet(wordnet_eda):
    syns = wordnet_eda.synonyms.synonyms("quick")
    assert "speedy" in syns or "fast" in syns
    outs = wordnet_eda("the quick fox", generator=0)
    replaced = {o.split(" ", 1)[1].rsplit(" ", 1)[0] for o in outs if o.endswith(" fox")}
    assert replaced and replaced <= set(syns)
    assert all(o.startswith("the ") for o in outs)  # "the" is a stop word


# -- bad input: exact messages ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha_sr": 1.5}, "The 'alpha_sr' parameter of EDA must be a float in [0, 1]. Got 1.5 instead."),
        ({"alpha_ri": -0.1}, "The 'alpha_ri' parameter of EDA must be a float in [0, 1]. Got -0.1 instead."),
        ({"alpha_rs": float("nan")}, "The 'alpha_rs' parameter of EDA must be a float in [0, 1]. Got nan instead."),
        ({"p_rd": 2}, "The 'p_rd' parameter of EDA must be a float in [0, 1]. Got 2 instead."),
        ({"num_aug": 0}, "The 'num_aug' parameter of EDA must be an int in [1, inf). Got 0 instead."),
        ({"num_aug": 2.0}, "The 'num_aug' parameter of EDA must be an int in [1, inf). Got 2.0 instead."),
        ({"alpha_sr": 0, "alpha_ri": 0, "alpha_rs": 0, "p_rd": 0},
         "EDA needs at least one operation: alpha_sr, alpha_ri, alpha_rs and p_rd are all 0."),
        ({"stopwords": "french"},
         "The 'stopwords' parameter of EDA must be 'english', None or a collection of str. Got 'french' instead."),
        ({"synonyms": 42},
         "The 'synonyms' parameter of EDA must be None (WordNet), a {word: [synonyms]} mapping, a path to a TSV file or WordNet folder, or an object with a synonyms(word) method. Got 42 instead."),
    ],
)  # fmt: skip
def test_bad_settings(kwargs, message):
    kwargs = {"synonyms": SYN, **kwargs}
    with pytest.raises(ConfigError) as err:
        EDA(**kwargs)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e(""), "EDA expects a non-empty sentence (at least one word). Got '' instead."),
        (lambda e: e(" \t "), "EDA expects a non-empty sentence (at least one word). Got ' \\t ' instead."),
        (lambda e: e(None), "EDA expects a str sentence. Got None instead."),
        (lambda e: e.batch(["w1", ""]),
         "EDA expects a non-empty sentence (at least one word). Got '' at index 1 instead."),
        (lambda e: e.batch("w1 w2"), "EDA.batch expects a list of sentences. Got 'w1 w2' instead."),
        (lambda e: e("w1", generator="seed"),
         "The 'generator' parameter of EDA must be an int seed, a random.Random, a numpy.random.Generator, a torch.Generator or None. Got 'seed' instead."),
        (lambda e: e.expand(["w1", "w2"], [1]),
         "EDA.expand expects one label per sentence (2 sentences). Got 1 labels instead."),
        (lambda e: EDA.for_dataset_size(0),
         "The 'n_train' parameter of EDA.for_dataset_size must be an int in [1, inf). Got 0 instead."),
        (lambda e: synonym_replacement("w1 w2", 1, SYN),
         "synonym_replacement expects a list of words (for example sentence.split()). Got 'w1 w2' instead."),
        (lambda e: random_swap(["a"], -1),
         "The 'n' parameter of random_swap must be an int in [0, inf). Got -1 instead."),
        (lambda e: random_deletion(["a"], 1.2),
         "The 'p' parameter of random_deletion must be a float in [0, 1]. Got 1.2 instead."),
    ],
)  # fmt: skip
def test_bad_calls(call, message):
    eda = EDA(synonyms=SYN)
    with pytest.raises(ConfigError) as err:
        call(eda)
    assert str(err.value) == message


def test_missing_database_message(monkeypatch, tmp_path):
    monkeypatch.delenv("WORDNET_DIR", raising=False)
    monkeypatch.setattr(wnmod, "_default_locations", lambda: [tmp_path / "none"])
    with pytest.raises(ConfigError) as err:
        EDA()
    assert str(err.value).startswith("No WordNet 3.0 database found")
    assert "apt-get install wordnet-base" in str(err.value) and "\n" not in str(err.value)


def test_repr():
    assert repr(EDA(num_aug=4, synonyms={"a": ["b"]}, stopwords=["x"])) == (
        "EDA(alpha_sr=0.1, alpha_ri=0.1, alpha_rs=0.1, p_rd=0.1, num_aug=4, "
        "synonyms=MappingSynonyms(1 words), stopwords=1 words)"
    )
