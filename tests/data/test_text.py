"""Tokenizer and vocabulary: fit on training texts only, OOV and padding ids, truncation."""

from __future__ import annotations

import pytest
import torch

from reglab import ConfigError
from reglab.data.text import OOV, PAD, Vocabulary, tokenize

TRAIN = ["A good film.", "A bad film!", "Good, good acting", "the plot"]


def test_tokenize_lowercases_and_keeps_inner_apostrophes():
    assert tokenize("It's NOT bad -- it's great_ 10/10") == [
        "it's", "not", "bad", "it's", "great", "10", "10",
    ]  # fmt: skip
    assert tokenize("") == [] and tokenize("...!") == []
    assert tokenize("Café déjà vu") == ["café", "déjà", "vu"]


def test_ids_follow_frequency_then_alphabet_after_pad_and_oov():
    vocab = Vocabulary.fit(TRAIN)
    # good x3, a x2, film x2, then the singletons alphabetically
    assert vocab.itos == ("<pad>", "<oov>", "good", "a", "film", "acting", "bad", "plot", "the")
    assert (vocab.stoi["<pad>"], vocab.stoi["<oov>"]) == (PAD, OOV) == (0, 1)
    assert Vocabulary.fit(list(reversed(TRAIN))).itos == vocab.itos  # order-independent


def test_a_word_seen_only_in_test_maps_to_oov():
    vocab = Vocabulary.fit(TRAIN)
    ids, lengths = vocab.encode(["a superb film"])
    assert ids.tolist() == [[vocab.stoi["a"], OOV, vocab.stoi["film"]]]
    assert "superb" not in vocab.stoi and lengths.tolist() == [3]
    assert vocab.describe(["a superb film", "superb"]) == {
        "size": len(vocab), "tokens": 4, "oov": 0.5, "empty": 0,
    }  # fmt: skip


def test_min_freq_and_max_size():
    assert Vocabulary.fit(TRAIN, min_freq=2).itos[2:] == ("good", "a", "film")
    assert Vocabulary.fit(TRAIN, max_size=2).itos[2:] == ("good", "a")
    assert len(Vocabulary.fit(TRAIN, min_freq=10)) == 2  # only the special ids


def test_padding_truncation_and_empty_texts():
    vocab = Vocabulary.fit(TRAIN)
    ids, lengths = vocab.encode(["good good good good", "", "a"], max_length=3)
    g, a = vocab.stoi["good"], vocab.stoi["a"]
    assert ids.dtype == torch.int64 and ids.tolist() == [[g, g, g], [PAD, PAD, PAD], [a, PAD, PAD]]
    assert lengths.tolist() == [3, 0, 1]  # the empty text is kept as an all-padding row
    assert vocab.describe(["", "!!", "good"])["empty"] == 2
    only_empty, n = vocab.encode([""])
    assert only_empty.shape == (1, 1) and n.tolist() == [0]


def test_state_dict_round_trip_gives_the_same_ids():
    vocab = Vocabulary.fit(TRAIN, min_freq=1)
    again = Vocabulary.from_state_dict(vocab.state_dict())
    assert again.itos == vocab.itos
    assert torch.equal(again.encode(TRAIN)[0], vocab.encode(TRAIN)[0])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Vocabulary.fit(TRAIN, min_freq=0),
         "The 'min_freq' parameter of Vocabulary.fit must be an int in [1, inf). Got 0 instead."),
        (lambda: Vocabulary.fit("a good film"),
         "The 'texts' parameter of Vocabulary.fit must be a sequence of str. Got 'a good film' "
         "instead."),
        (lambda: Vocabulary.fit(["ok", 3]),
         "The 'texts' parameter of Vocabulary.fit must be a sequence of str. Got 3 at position 1 "
         "instead."),
        (lambda: Vocabulary.fit(TRAIN).encode(["a"], max_length=0),
         "The 'max_length' parameter of Vocabulary.encode must be an int in [1, inf) or None. "
         "Got 0 instead."),
        (lambda: Vocabulary.from_state_dict({"words": []}),
         "Vocabulary.from_state_dict expects a Vocabulary state_dict ({'tokens': [...]}). Got "
         "{'words': []} instead."),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(call, message):
    with pytest.raises(ConfigError) as err:
        call()
    assert str(err.value) == message
