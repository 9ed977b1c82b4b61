"""WordNet 3.0 reader: the index/data parser on small files in the real format, the look-up over
the real database, locating a database, and the errors when there is none."""

from __future__ import annotations

import pickle
import random
import zipfile
from pathlib import Path

import pytest

from reglab import ConfigError
from reglab.augment import wordnet as wnmod
from reglab.augment.wordnet import (
    MappingSynonyms,
    Synset,
    WordNetSynonyms,
    as_synonym_source,
    find_wordnet,
)

POS_NAMES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
LICENCE = (
    "  1 This software and database is being provided to you, the LICENSEE, by  \n"
    "  2 Princeton University under the following license.  By obtaining, using  \n"
    "  3   \n"
)


def write_wordnet(folder: Path, synsets: dict[str, list[tuple[str, list[str]]]]) -> dict:
    """Write index.* and data.* in the WordNet 3.0 format.

    ``synsets`` maps a pos letter to ``(ss_type, words)`` entries, words as they appear in the
    data file (``galore(ip)``, ``ice_cream``). Returns ``{(pos, i): offset}``. Pointers are made
    up but well formed (one ``@`` hypernym pointer to the synset itself), so the parser must skip
    them by count.
    """
    folder.mkdir(parents=True, exist_ok=True)
    offsets: dict[tuple[str, int], int] = {}
    for pos, name in POS_NAMES.items():
        data = LICENCE.encode()
        lemma_offsets: dict[str, list[int]] = {}
        for i, (ss_type, words) in enumerate(synsets.get(pos, [])):
            off = len(data)
            offsets[(pos, i)] = off
            fields = [f"{off:08d}", "03", ss_type, f"{len(words):02x}"]
            for j, w in enumerate(words):
                fields += [w, f"{j % 16:x}"]
            fields += ["001", "@", f"{off:08d}", pos, "0000", "|", f"gloss number {i}"]
            data += (" ".join(fields) + "  \n").encode()
            for w in words:
                lemma = w.split("(")[0].lower()
                lemma_offsets.setdefault(lemma, []).append(off)
        (folder / f"data.{name}").write_bytes(data)
        index = LICENCE
        for lemma in sorted(lemma_offsets, key=lambda s: s.encode()):
            offs = lemma_offsets[lemma]
            fields = [lemma, pos, str(len(offs)), "2", "@", "~", str(len(offs)), "0"]
            fields += [f"{o:08d}" for o in offs]
            index += " ".join(fields) + "  \n"
        (folder / f"index.{name}").write_bytes(index.encode())
    return offsets


SMALL = {
    "n": [
        ("n", ["dog", "domestic_dog", "Canis_familiaris"]),
        ("n", ["dog", "frump"]),
        ("n", ["goose", "Anser"]),
        ("n", ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]),  # w_cnt 0b, lex_id a
    ],
    "v": [("v", ["run", "race"]), ("v", ["dog", "chase", "tail"])],
    "a": [("s", ["abounding", "galore(ip)"]), ("a", ["quick", "speedy"]), ("s", ["Quick", "fast"])],
    "r": [("r", ["quickly", "rapidly", "quick"])],
}


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, dict]:
    folder = tmp_path / "wn"
    offsets = write_wordnet(folder, SMALL)
    (folder / "noun.exc").write_text("geese goose\n")
    return folder, offsets


# -- the parser, exactly ------------------------------------------------------------------------


def test_index_line_and_offsets_exact(small):
    folder, offsets = small
    wn = WordNetSynonyms(folder)
    d0, d1 = offsets[("n", 0)], offsets[("n", 1)]
    assert wn.index_line("dog", "n") == f"dog n 2 2 @ ~ 2 0 {d0:08d} {d1:08d}  "
    assert wn.offsets("dog", "n") == [d0, d1]
    assert wn.offsets("dog", "v") == [offsets[("v", 1)]]
    assert wn.offsets("cat", "n") == []
    assert wn.index_line("", "n") is None
    assert wn.index_line("aaa", "n") is None  # before the first lemma
    assert wn.index_line("zzz", "n") is None  # after the last


def test_data_line_parse_exact(small):
    folder, offsets = small
    wn = WordNetSynonyms(folder)
    assert wn.synset(offsets[("n", 0)], "n") == Synset(
        "n", offsets[("n", 0)], ("dog", "domestic dog", "Canis familiaris")
    )
    # 11 words: w_cnt is hexadecimal (0b) and the lex_id of the 11th is "a".
    assert wn.synset(offsets[("n", 3)], "n").lemmas == tuple("abcdefghijk")
    # Adjective syntactic markers are not part of the lemma; satellites keep ss_type "s".
    assert wn.synset(offsets[("a", 0)], "a") == Synset(
        "s", offsets[("a", 0)], ("abounding", "galore")
    )


def test_synonyms_order_dedupe_and_self_excluded(small):
    folder, _ = small
    wn = WordNetSynonyms(folder)
    # noun senses in index order, then the verb sense; "dog" itself left out.
    assert wn.synonyms("dog") == ("domestic dog", "Canis familiaris", "frump", "chase", "tail")
    assert wn.synonyms("DOG") == wn.synonyms("dog")
    # "Quick" (capitalized in a satellite) is the word itself, not a synonym; repeats dropped.
    assert wn.synonyms("quick") == ("speedy", "fast", "quickly", "rapidly")
    assert wn.synonyms("galore") == ("abounding",)
    assert wn.synonyms("unknown") == ()
    assert wn.synonyms("") == ()


def test_morphology_rules_and_exceptions(small):
    folder, _ = small
    wn = WordNetSynonyms(folder)
    assert wn.base_forms("dogs", "n") == ["dog"]  # suffix rule s -> ""
    assert wn.base_forms("geese", "n") == ["goose"]  # noun.exc
    assert wn.base_forms("running", "v") == []  # "runn" and "runne" are not lemmas
    assert wn.synonyms("geese") == ("Anser",)
    assert wn.synonyms("dogs") == ("domestic dog", "Canis familiaris", "frump", "chase", "tail")
    plain = WordNetSynonyms(folder, morphology=False)
    assert plain.synonyms("dogs") == ()
    assert plain.synonyms("geese") == ()


def test_binary_search_over_many_lemmas(tmp_path):
    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz_-.'0123456789"
    words = sorted(
        {"".join(rng.choice(letters) for _ in range(rng.randint(1, 12))) for _ in range(3000)}
    )
    words = [w for w in words if w[0].isalpha()]
    offsets = write_wordnet(tmp_path, {"n": [("n", [w, f"{w}x"]) for w in words]})
    expected: dict[str, list[int]] = {}
    for i, w in enumerate(words):
        for lemma in (w, f"{w}x"):
            expected.setdefault(lemma, []).append(offsets[("n", i)])
    wn = WordNetSynonyms(tmp_path, morphology=False)
    for lemma, offs in expected.items():
        assert wn.offsets(lemma, "n") == offs, lemma
    present = set(expected)
    for _ in range(500):
        probe = "".join(rng.choice(letters) for _ in range(rng.randint(1, 12)))
        assert (wn.index_line(probe, "n") is not None) == (probe in present), probe


def test_corrupt_index_line_message(tmp_path):
    write_wordnet(tmp_path, SMALL)
    path = tmp_path / "index.verb"
    path.write_text(path.read_text().replace("run v 1 2 @ ~ 1 0", "run v 3 2 @ ~ 1 0"))
    wn = WordNetSynonyms(tmp_path)
    line = next(li for li in path.read_text().splitlines() if li.startswith("run "))
    with pytest.raises(ConfigError) as err:
        wn.synonyms("run")
    assert str(err.value) == (
        "WordNet file index.verb must have lines 'lemma pos synset_cnt p_cnt [ptr_symbol...] "
        f"sense_cnt tagsense_cnt synset_offset...'. Got {line!r} instead."
    )


def test_data_offset_mismatch_message(tmp_path):
    offsets = write_wordnet(tmp_path, SMALL)
    wn = WordNetSynonyms(tmp_path)
    off = offsets[("n", 1)] + 9  # inside a line, not at its start
    with pytest.raises(ConfigError) as err:
        wn.synset(off, "n")
    msg = str(err.value)
    assert msg.startswith(
        f"WordNet file data.noun must have at byte {off} a line 'offset lex_filenum ss_type "
        f"w_cnt word lex_id ...' starting with {off:08d}. Got '"
    )
    assert "\n" not in msg


def test_pickle_round_trip(small):
    folder, _ = small
    wn = WordNetSynonyms(folder)
    assert wn.synonyms("dog")
    clone = pickle.loads(pickle.dumps(wn))
    assert clone.path == wn.path and clone.synonyms("dog") == wn.synonyms("dog")


def test_nltk_zip_layout(small, tmp_path):
    folder, _ = small
    archive = tmp_path / "nltk" / "corpora" / "wordnet.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f"wordnet/{f.name}")
    wn = WordNetSynonyms(archive)
    assert wn.synonyms("dogs") == WordNetSynonyms(folder).synonyms("dogs")


# -- locating a database ------------------------------------------------------------------------


def test_path_then_env_then_defaults(small, tmp_path, monkeypatch):
    folder, _ = small
    assert find_wordnet(folder) == folder
    monkeypatch.setenv("WORDNET_DIR", str(folder))
    assert find_wordnet() == folder
    assert WordNetSynonyms().path == folder
    monkeypatch.delenv("WORDNET_DIR")
    nltk = tmp_path / "nltk_data"
    write_wordnet(nltk / "corpora" / "wordnet", SMALL)
    monkeypatch.setenv("NLTK_DATA", str(nltk))
    places = wnmod._default_locations()
    assert places[0] == Path("/usr/share/wordnet")
    assert nltk / "corpora" / "wordnet" in places and nltk / "corpora" / "wordnet.zip" in places
    monkeypatch.setattr(
        wnmod, "_default_locations", lambda: [tmp_path / "none", nltk / "corpora" / "wordnet"]
    )
    assert find_wordnet() == nltk / "corpora" / "wordnet"


def test_no_database_message(monkeypatch, tmp_path):
    monkeypatch.delenv("WORDNET_DIR", raising=False)
    monkeypatch.setattr(wnmod, "_default_locations", lambda: [tmp_path / "nothing"])
    expected = (
        "No WordNet 3.0 database found (searched $WORDNET_DIR, /usr/share/wordnet and the NLTK "
        "data folders): install one with 'apt-get install wordnet-base', set WORDNET_DIR to a "
        "folder holding index.noun and data.noun (and verb, adj, adv), or pass "
        "synonyms={word: [synonyms, ...]} or a TSV file (word<TAB>synonym<TAB>...)."
    )
    for make in (WordNetSynonyms, find_wordnet, lambda: as_synonym_source(None)):
        with pytest.raises(ConfigError) as err:
            make()
        assert str(err.value) == expected


def test_bad_path_and_env_messages(small, tmp_path, monkeypatch):
    folder, _ = small
    (folder / "data.adv").unlink()
    constraint = (
        "a folder holding the WordNet 3.0 files index.* and data.* for noun, verb, adj and adv "
        "(or an NLTK wordnet.zip)"
    )
    with pytest.raises(ConfigError) as err:
        WordNetSynonyms(folder)
    assert str(err.value) == (
        f"The 'path' parameter of WordNetSynonyms must be {constraint}. Got {str(folder)!r} instead."
    )
    with pytest.raises(ConfigError) as err:
        WordNetSynonyms(tmp_path / "missing")
    assert str(err.value).endswith(f"Got {str(tmp_path / 'missing')!r} instead.")
    monkeypatch.setenv("WORDNET_DIR", "/no/such/wordnet")
    with pytest.raises(ConfigError) as err:
        WordNetSynonyms()
    assert str(err.value) == (
        f"The WORDNET_DIR environment variable must be {constraint}. Got '/no/such/wordnet' instead."
    )
    with pytest.raises(ConfigError) as err:
        WordNetSynonyms(folder, morphology=1)  # type: ignore[arg-type]
    assert str(err.value) == (
        "The 'morphology' parameter of WordNetSynonyms must be a bool. Got 1 instead."
    )


# -- mapping and TSV sources --------------------------------------------------------------------


def test_mapping_source_normalizes():
    src = MappingSynonyms({"Quick": ["fast", "quick", "Fast", " speedy "], "quick": ["rapid"]})
    assert src.synonyms("QUICK") == ("fast", "speedy", "rapid")
    assert len(src) == 1 and repr(src) == "MappingSynonyms(1 words)"


def test_mapping_source_bad_values():
    expected = (
        "The 'synonyms' parameter of MappingSynonyms must be a mapping from str to lists of str. "
        "Got {'quick': 'fast'} instead."
    )
    with pytest.raises(ConfigError) as err:
        MappingSynonyms({"quick": "fast"})  # type: ignore[dict-item]
    assert str(err.value) == expected
    with pytest.raises(ConfigError) as err:
        MappingSynonyms({"quick": ["fast", 3]})  # type: ignore[list-item]
    assert str(err.value).endswith("Got {'quick': ['fast', 3]} instead.")


def test_tsv_format(tmp_path):
    path = tmp_path / "syn.tsv"
    path.write_text(
        "# word<TAB>synonyms\n\nquick\tfast\tspeedy\nQuick\trapid\t\nslow\t\n",
        encoding="utf-8",
    )
    src = MappingSynonyms.from_tsv(path)
    assert src.synonyms("quick") == ("fast", "speedy", "rapid")
    assert src.synonyms("slow") == ()
    assert as_synonym_source(str(path)).synonyms("quick") == ("fast", "speedy", "rapid")


def test_tsv_space_separated_is_an_error(tmp_path):
    path = tmp_path / "syn.tsv"
    path.write_text("quick\tfast\nslow sluggish tardy\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        MappingSynonyms.from_tsv(path)
    assert str(err.value) == (
        f"The synonyms file {str(path)!r} must have lines word<TAB>synonym<TAB>synonym... "
        "Got 'slow sluggish tardy' on line 2 instead."
    )


def test_as_synonym_source_dispatch(small, tmp_path):
    folder, _ = small
    assert isinstance(as_synonym_source(folder), WordNetSynonyms)
    assert isinstance(as_synonym_source({"a": ["b"]}), MappingSynonyms)
    src = MappingSynonyms({})
    assert as_synonym_source(src) is src
    with pytest.raises(ConfigError) as err:
        as_synonym_source(tmp_path / "nope.tsv")
    assert str(err.value) == (
        "The 'synonyms' parameter of EDA must be a path to an existing TSV file or WordNet "
        f"folder. Got {str(tmp_path / 'nope.tsv')!r} instead."
    )
    with pytest.raises(ConfigError) as err:
        as_synonym_source(42)
    assert str(err.value) == (
        "The 'synonyms' parameter of EDA must be None (WordNet), a {word: [synonyms]} mapping, "
        "a path to a TSV file or WordNet folder, or an object with a synonyms(word) method. "
        "Got 42 instead."
    )


# -- the real database (make test installs wordnet-base) ----------------------------------------


@pytest.fixture(scope="module")
def real() -> WordNetSynonyms:
    try:
        return WordNetSynonyms()
    except ConfigError as err:
        pytest.fail(
            f"these tests need a real WordNet 3.0 database (run 'make test', which installs the "
            f"Debian package wordnet-base into /usr/share/wordnet): {err}"
        )


def test_real_quick(real):
    syns = real.synonyms("quick")
    assert "speedy" in syns or "fast" in syns
    assert {"speedy", "fast", "nimble", "quickly"} <= set(syns)
    assert "quick" not in syns


def test_real_parse_exact(real):
    assert real.index_line("quick", "a") == (
        "quick a 6 2 & + 6 6 00979366 01270486 00032733 01335903 00978754 00919018  "
    )
    assert real.synset(979366, "a") == Synset("s", 979366, ("quick", "speedy"))
    assert real.synset(14358, "a").lemmas == ("abounding", "galore")  # galore(ip)
    assert real.base_forms("geese", "n") == ["goose"]
    assert "domestic dog" in real.synonyms("dogs")


def test_real_index_lookup_agrees_with_a_scan(real):
    """Every lemma of a 2,000-line sample of each real index file is found with its exact line."""
    rng = random.Random(0)
    for pos, name in POS_NAMES.items():
        lines = [
            li.rstrip("\n")
            for li in (real.path / f"index.{name}").read_text(encoding="utf-8").splitlines(True)
            if not li.startswith("  ")
        ]
        for line in rng.sample(lines, min(2000, len(lines))):
            assert real.index_line(line.split(" ", 1)[0], pos) == line
