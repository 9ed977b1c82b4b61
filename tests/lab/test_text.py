"""The text side of a lab cell: EDA copies, the vocabulary, encoded splits, text studies."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

import reglab.data as rd
from reglab.augment import wordnet
from reglab.data.text import OOV, EncodedTexts, Vocabulary
from reglab.errors import ConfigError
from reglab.lab.core import text as lt
from reglab.lab.core.recipe import BUILTIN_RECIPES, TEXT_RECIPES, Recipe
from reglab.lab.core.run import run_cell
from reglab.lab.study import DEFAULT_RECIPES, StudyConfig, prepare

SYN = {"good": ["fine"], "film": ["movie"], "bad": ["poor"], "plot": ["story"]}


class MeanBag(nn.Module):
    """A tiny text model: mean of the token embeddings (padding 0 excluded), then a head."""

    def __init__(self, spec, input_shape, num_outputs):
        super().__init__()
        self.emb = nn.EmbeddingBag(input_shape[0], 8, mode="mean", padding_idx=0)
        self.head = nn.Linear(8, num_outputs)

    def forward(self, ids):
        return self.head(self.emb(ids))


@pytest.fixture
def meanbag():
    """MeanBag registered as 'test_meanbag' for the test alone."""
    from reglab.models import register_model, spec

    register_model("test_meanbag", MeanBag)
    yield
    spec._REGISTRY.pop("test_meanbag", None)
    spec._SIZES.pop("test_meanbag", None)


def _reviews(n=240, seed=0):
    rng = random.Random(seed)
    pos, neg = ["good", "great", "fine"], ["bad", "awful", "dull"]
    filler = ["the", "film", "was", "a", "movie", "with", "plot", "and", "actors"]
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = [rng.choice(filler) for _ in range(rng.randint(2, 12))]
        words.append(rng.choice(pos if label else neg))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append("pos" if label else "neg")
    return rd.make_text_dataset(texts, labels, name="reviews")


@pytest.fixture
def synonyms(monkeypatch):
    """EDA on a small synonym table instead of WordNet (same code path: lab.text._eda)."""
    from reglab.augment.text import EDA

    def small(alpha, num_aug):
        return EDA(alpha, alpha, alpha, alpha, num_aug, synonyms=SYN)

    monkeypatch.setattr(lt, "_eda", small)


def test_eda_settings_follow_table_3_unless_given():
    eda = Recipe(augment="eda")
    assert [lt.eda_settings(eda, n) for n in (500, 501, 2000, 5000, 50_000)] == [
        (0.05, 16),
        (0.05, 8),
        (0.05, 8),
        (0.1, 4),
        (0.1, 4),
    ]
    assert lt.eda_settings(eda.replace(eda_alpha=0.2), 500) == (0.2, 16)
    assert lt.eda_settings(eda.replace(eda_num_aug=3), 500) == (0.05, 3)
    assert lt.eda_for(Recipe(), 500) is None


def test_same_seed_same_copies_and_counts(synonyms):
    sp = rd.split(_reviews(), train_size=40, val_size=40, seed=0)
    recipe = Recipe(augment="eda", eda_num_aug=3)
    a, b, c = (lt.encode_cell(recipe, s, sp) for s in (7, 7, 8))
    assert len(a.train) == 40 * 4 and len(a.scored) == 40
    assert torch.equal(a.train.ids, b.train.ids) and a.vocab.itos == b.vocab.itos
    assert not torch.equal(a.train.ids, c.train.ids)
    # the originals come first, then each sentence's copies with its label
    assert torch.equal(a.train.y[:40], sp.train.y)
    assert torch.equal(a.train.y[40:], sp.train.y.repeat_interleave(3))


def test_a_word_seen_only_in_test_is_out_of_vocabulary():
    texts = ["good film", "bad film", "good plot", "bad plot"] * 5 + ["zebra film", "bad zebra"]
    labels = [1, 0, 1, 0] * 5 + [1, 0]
    official = [False] * 20 + [True, True]
    ds = rd.make_text_dataset(texts, labels, name="t", official_test=official)
    sp = rd.split(ds, train_size=12, val_size=4, seed=0)
    assert sp.test.text_rows() == ["zebra film", "bad zebra"]
    cell = lt.encode_cell(Recipe(), 0, sp)
    assert "zebra" not in cell.vocab.stoi
    ids, lengths = cell.test.ids, cell.test.lengths
    assert ids[0, 0] == OOV and ids[1, 1] == OOV and ids[0, 1] != OOV
    assert lengths.tolist() == [2, 2]
    info = lt.text_info(sp)
    assert info["parts"]["test"]["oov"] == pytest.approx(2 / 4)
    assert info["parts"]["train"]["oov"] == 0.0


def test_per_epoch_copies_change_each_epoch_and_replay(synonyms):
    sp = rd.split(_reviews(), train_size=30, val_size=30, seed=0)
    recipe = Recipe(augment="eda", eda_num_aug=2, eda_per_epoch=True)

    def epochs(seed):
        cell = lt.encode_cell(recipe, seed, sp)
        assert len(cell.train) == 30  # the vocabulary and the fixed part: originals only
        src = cell.train_batches(10, torch.Generator().manual_seed(seed), torch.device("cpu"))
        assert len(src) == 9  # 30 sentences and 60 copies in batches of 10
        return [torch.cat([x.flatten() for x, _ in src]) for _ in range(2)]

    first, again = epochs(3), epochs(3)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], first[1])


def test_length_aware_batches_pad_to_the_batch_and_cover_every_row():
    vocab = Vocabulary.fit(["a b c d e f g h"])
    texts = [" ".join("abcdefgh"[: 1 + i % 8]) for i in range(64)]
    enc = EncodedTexts.from_texts(vocab, texts, torch.arange(64))
    g = torch.Generator().manual_seed(0)
    seen, padding = [], 0
    for ids, y in enc.batches(8, shuffle=True, generator=g):
        lengths = (ids != 0).sum(1)
        assert ids.dtype == torch.int64 and ids.shape[1] == int(lengths.max())
        padding += int((ids == 0).sum())
        seen += y.tolist()
    assert sorted(seen) == list(range(64))
    # sorted within pools: batches hold equal lengths here, so nothing is padding
    assert padding == 0
    ordered = [int(y[0]) for _, y in enc.batches(8)]
    assert [len(texts[i]) for i in ordered] == sorted(len(texts[i]) for i in ordered)


def test_eda_only_on_text_and_only_eda_on_text():
    sp = rd.split(rd.load_dataset("iris"), train_size=60, val_size=30, seed=0)
    with pytest.raises(ConfigError, match=r"^Recipe 'eda': augment='eda' augments sentences"):
        run_cell(BUILTIN_RECIPES["eda"], 0, sp, model="mlp")
    tsp = rd.split(_reviews(), train_size=40, val_size=40, seed=0)
    with pytest.raises(ConfigError, match=r"augment='noise' is for images, tables or signals"):
        run_cell(Recipe(augment="noise", name="n"), 0, tsp, model=MeanBag)


def test_text_cell_is_deterministic_and_scores_the_sentences_alone(synonyms):
    sp = rd.split(_reviews(), train_size=60, val_size=60, seed=0)
    recipe = TEXT_RECIPES["eda"].replace(epochs=3, eda_num_aug=2, lr=1e-2)
    a = run_cell(recipe, 1, sp, model=MeanBag)
    b = run_cell(recipe, 1, sp, model=MeanBag)

    def timeless(result):
        d = result.to_dict()
        d.pop("seconds")
        d["history"] = [{k: v for k, v in r.items() if k != "seconds"} for r in d["history"]]
        return d

    assert timeless(a) == timeless(b)
    # train accuracy is over the 60 training sentences, not their 120 copies
    assert round(a.train_acc * 60) == pytest.approx(a.train_acc * 60, abs=1e-6)
    assert a.epochs_run == 3


def test_a_text_study_runs_the_text_recipes(monkeypatch, meanbag):
    ds = _reviews(400)
    monkeypatch.setattr(rd, "load_dataset", lambda *a, **k: ds)
    config, _ = prepare(StudyConfig(data="reviews", model="test_meanbag", seeds=1))
    assert config.recipes == tuple(TEXT_RECIPES) == (
        "baseline", "dropout", "weight_decay", "eda", "early_stopping", "all",
    )  # fmt: skip
    assert config.recipe("all").augment == "eda" and config.recipe("all").dropout == 0.5
    info = config.data_info["text"]
    train = rd.split(ds, seed=0, train_size=config.train_size, val_size=config.val_size).train
    assert info["vocabulary"] == len(Vocabulary.fit(train.text_rows()))
    assert set(info["parts"]) == {"train", "val", "test"}
    chosen, _ = prepare(StudyConfig(data="reviews", model="test_meanbag", recipes=("baseline",)))
    assert chosen.recipes == ("baseline",) and chosen.recipe("baseline").epochs == 20
    assert tuple(DEFAULT_RECIPES) != config.recipes


def test_eda_without_wordnet_is_one_line_naming_both_sources(monkeypatch, meanbag):
    ds = _reviews(200)
    monkeypatch.setattr(rd, "load_dataset", lambda *a, **k: ds)
    monkeypatch.delenv("WORDNET_DIR", raising=False)
    monkeypatch.setattr(wordnet, "_default_locations", lambda: [])
    monkeypatch.setattr(wordnet.WordNetSynonyms, "_shared", {})
    lt._eda.cache_clear()
    with pytest.raises(ConfigError) as info:
        prepare(StudyConfig(data="reviews", model="test_meanbag", recipes=("eda",)))
    message = str(info.value)
    assert "\n" not in message and "wordnet-base" in message and "NLTK" in message
    lt._eda.cache_clear()


def test_summary_and_report_give_the_vocabulary_and_oov_shares(tmp_path):
    import json

    from reglab.lab.study.report import write_outputs

    info = lt.text_info(rd.split(_reviews(), train_size=60, val_size=60, seed=0))
    info["column"], info["detected"] = "review", True
    config = {"recipes": ["baseline"], "data_info": {"sizes": {"train": 60}, "text": info}}
    row = {
        "recipe": "baseline", "seed": 0, "status": "ok", "task": "classification",
        "train_acc": 0.9, "val_acc": 0.8, "test_acc": 0.7, "gap": 0.1, "train_loss": 0.2,
        "val_loss": 0.4, "test_loss": 0.5, "best_epoch": 1, "epochs_run": 2, "seconds": 1.0,
        "weight_norm": 1.0, "sparsity": 0.0, "stop_reason": "completed", "history": [],
    }  # fmt: skip
    paths = write_outputs(tmp_path, config, [row])
    text = json.loads(paths["summary"].read_text())["text"]
    assert text["vocabulary_size"] == info["vocabulary"] > 2
    assert text["oov"] == {"val": info["parts"]["val"]["oov"], "test": info["parts"]["test"]["oov"]}
    html = paths["report"].read_text()
    assert f"vocabulary of {info['vocabulary']:,} tokens" in html and "column &#x27;review" in html
    # a study on other data has no text entry
    (tmp_path / "plain").mkdir()
    plain = write_outputs(tmp_path / "plain", {"recipes": ["baseline"]}, [row])
    assert "text" not in json.loads(plain["summary"].read_text())


def test_mixing_token_ids_is_refused():
    sp = rd.split(_reviews(), train_size=40, val_size=40, seed=0)
    with pytest.raises(ConfigError, match=r"^Recipe 'm': mixup and cutmix mix input tensors"):
        run_cell(Recipe(mixup=0.2, name="m"), 0, sp, model=MeanBag)


def test_tune_on_text_starts_from_the_text_recipe_and_searches_no_mixing():
    from reglab.lab.tune.search import Objective
    from reglab.lab.tune.space import TuneConfig

    objective = Objective(TuneConfig(data="reviews", base="all", epochs=4), _reviews(300))
    assert objective.model == "textcnn"
    assert objective.base.augment == "eda" and objective.base.norm is None
    assert objective.base.epochs == 4
    assert "mixup" not in objective.space and "augment_magnitude" not in objective.space
    assert "dropout" in objective.space
