"""Synonym sources for text augmentation: a WordNet 3.0 reader, a mapping, a TSV file.

Every source answers ``synonyms(word) -> tuple[str, ...]`` (possibly empty), case-insensitively,
never listing the word itself. :func:`as_synonym_source` turns what a user passes (``None``, a
``{word: [synonyms]}`` mapping, a path, or a source) into one.

The WordNet reader parses the database files of the Princeton distribution itself (no NLTK):

* ``index.<pos>`` (``pos`` in noun, verb, adj, adv), one line per lemma, sorted bytewise::

      lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...

* ``data.<pos>``, one line per synset, starting at byte ``synset_offset``::

      offset lex_filenum ss_type w_cnt(2 hex digits) word lex_id(1 hex digit) [word lex_id...] ...

Nothing is read until the first look-up; then the files are memory-mapped and each word costs a
binary search in the index and one slice per synset, with the answer cached.

Example:
    >>> src = MappingSynonyms({"quick": ["fast", "speedy"]})
    >>> src.synonyms("Quick")
    ('fast', 'speedy')
    >>> src.synonyms("slow")
    ()
"""

from __future__ import annotations

import bisect
import mmap
import os
import sys
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Protocol, TypeAlias, runtime_checkable

from ..errors import ConfigError, format_value, param_error

__all__ = [
    "MappingSynonyms",
    "SynonymSource",
    "Synset",
    "WordNetSynonyms",
    "as_synonym_source",
    "find_wordnet",
]

POS_FILES: dict[str, str] = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
_REQUIRED = tuple(f"{kind}.{name}" for name in POS_FILES.values() for kind in ("index", "data"))

# WordNet's documented detachment rules (morphy(7WN)): inflectional suffix -> base-form ending.
_DETACH: dict[str, tuple[tuple[str, str], ...]] = {
    "n": (
        ("s", ""),
        ("ses", "s"),
        ("xes", "x"),
        ("zes", "z"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("men", "man"),
        ("ies", "y"),
    ),
    "v": (
        ("s", ""),
        ("ies", "y"),
        ("es", "e"),
        ("es", ""),
        ("ed", "e"),
        ("ed", ""),
        ("ing", "e"),
        ("ing", ""),
    ),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}

# Adjective words may carry a syntactic marker: (a) prenominal, (p) predicate, (ip) postnominal.
_ADJ_MARKERS = ("(a)", "(p)", "(ip)")

_MISSING_HELP = (
    "install one with 'apt-get install wordnet-base', set WORDNET_DIR to a folder holding "
    "index.noun and data.noun (and verb, adj, adv), or pass synonyms={word: [synonyms, ...]} "
    "or a TSV file (word<TAB>synonym<TAB>...)"
)
_FOLDER_CONSTRAINT = (
    "a folder holding the WordNet 3.0 files index.* and data.* for noun, verb, adj and adv "
    "(or an NLTK wordnet.zip)"
)


@runtime_checkable
class SynonymSource(Protocol):
    """Anything with ``synonyms(word)`` returning the word's synonyms (empty when unknown)."""

    def synonyms(self, word: str) -> Sequence[str]: ...


class Synset(NamedTuple):
    """One WordNet synset: part of speech (n, v, a, s, r), byte offset, and its lemmas.

    Lemmas are as spelled in ``data.*`` with underscores turned into spaces and adjective
    markers removed (``galore(ip)`` -> ``galore``).
    """

    pos: str
    offset: int
    lemmas: tuple[str, ...]


def _dedupe(words: Iterable[str], exclude: Iterable[str]) -> tuple[str, ...]:
    """Keep the first spelling of each word (case-insensitive), leaving out ``exclude``."""
    seen = {w.lower() for w in exclude}
    out = []
    for w in words:
        key = w.lower()
        if w and key not in seen:
            seen.add(key)
            out.append(w)
    return tuple(out)


class MappingSynonyms:
    """Synonyms from a ``{word: [synonym, ...]}`` mapping (keys matched case-insensitively).

    Args:
        mapping: words to lists (or tuples) of synonyms. Keys differing only in case are merged;
            a synonym equal to its key and repeated synonyms are dropped.

    Example:
        >>> MappingSynonyms({"Big": ["large", "big", "huge"]}).synonyms("big")
        ('large', 'huge')
    """

    def __init__(
        self, mapping: Mapping[str, Sequence[str]], *, _owner: str = "MappingSynonyms"
    ) -> None:
        constraint = "a mapping from str to lists of str"
        if not isinstance(mapping, Mapping):
            raise param_error("synonyms", _owner, constraint, mapping)
        merged: dict[str, list[str]] = {}
        for word, syns in mapping.items():
            if (
                not isinstance(word, str)
                or isinstance(syns, (str, bytes))
                or not isinstance(syns, Iterable)
            ):
                raise param_error("synonyms", _owner, constraint, {word: syns})
            syns = list(syns)
            if not all(isinstance(s, str) for s in syns):
                raise param_error("synonyms", _owner, constraint, {word: syns})
            merged.setdefault(word.strip().lower(), []).extend(s.strip() for s in syns)
        self._map: dict[str, tuple[str, ...]] = {
            w: _dedupe(syns, (w,)) for w, syns in merged.items()
        }

    @classmethod
    def from_tsv(cls, path: str | os.PathLike[str]) -> MappingSynonyms:
        """Read a UTF-8 TSV file: one ``word<TAB>synonym<TAB>synonym...`` line per word.

        Blank lines and lines starting with ``#`` are ignored; every other line needs a word and
        at least one TAB (so a space-separated file is caught, not silently read as one word).

        Example:
            >>> import tempfile, pathlib
            >>> p = pathlib.Path(tempfile.mkdtemp()) / "syn.tsv"
            >>> _ = p.write_text("# word, synonyms\\nquick\\tfast\\tspeedy\\n", encoding="utf-8")
            >>> MappingSynonyms.from_tsv(p).synonyms("quick")
            ('fast', 'speedy')
        """
        mapping: dict[str, list[str]] = {}
        text = Path(path).read_text(encoding="utf-8")
        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) < 2 or not fields[0].strip():
                raise ConfigError(
                    f"The synonyms file {os.fspath(path)!r} must have lines "
                    f"word<TAB>synonym<TAB>synonym... Got {format_value(line)} on line "
                    f"{lineno} instead."
                )
            mapping.setdefault(fields[0], []).extend(f for f in fields[1:] if f.strip())
        return cls(mapping)

    def synonyms(self, word: str) -> tuple[str, ...]:
        """Synonyms of ``word`` (case-insensitive), or ``()``."""
        return self._map.get(word.lower(), ())

    def __len__(self) -> int:
        return len(self._map)

    def __repr__(self) -> str:
        return f"MappingSynonyms({len(self._map)} words)"


def _path_error(param: str, owner: str, constraint: str, path: Any) -> ConfigError:
    """``param_error`` for a path, shown whole (``format_value`` would cut a long one)."""
    shown = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    if not isinstance(shown, str):
        return param_error(param, owner, constraint, shown)
    return ConfigError(
        f"The {param!r} parameter of {owner} must be {constraint}. Got {shown!r} instead."
    )


def _default_locations() -> list[Path]:
    """Where a WordNet database usually lives: Debian's package, then NLTK's data folders."""
    places = [Path("/usr/share/wordnet")]
    nltk_roots = [Path(p) for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
    nltk_roots.append(Path("~/nltk_data").expanduser())
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        nltk_roots += [Path(prefix, "nltk_data"), Path(prefix, "share", "nltk_data")]
        nltk_roots.append(Path(prefix, "lib", "nltk_data"))
    for shared in ("/usr/share", "/usr/local/share", "/usr/lib", "/usr/local/lib"):
        nltk_roots.append(Path(shared, "nltk_data"))
    for root in nltk_roots:
        places += [root / "corpora" / "wordnet", root / "corpora" / "wordnet.zip"]
    return places


def _zip_prefix(path: Path) -> str | None:
    """The folder inside an NLTK ``wordnet.zip`` holding the database, or None if it has none."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return None
    for prefix in ("wordnet/", ""):
        if all(prefix + f in names for f in _REQUIRED):
            return prefix
    return None


def _is_database(path: Path) -> bool:
    if path.is_dir():
        return all((path / f).is_file() for f in _REQUIRED)
    return path.is_file() and path.suffix == ".zip" and _zip_prefix(path) is not None


def find_wordnet(path: str | os.PathLike[str] | None = None) -> Path:
    """Locate a WordNet 3.0 database: ``path``, else ``$WORDNET_DIR``, else the usual places.

    The usual places are Debian's ``/usr/share/wordnet`` (package ``wordnet-base``) and
    ``corpora/wordnet`` (or ``corpora/wordnet.zip``) under NLTK's data folders (``$NLTK_DATA``,
    ``~/nltk_data``, ``<sys.prefix>/nltk_data``, ``/usr/share/nltk_data``, ...). An explicit
    ``path`` or ``$WORDNET_DIR`` that holds no database is an error, not skipped.

    Raises:
        ConfigError: no database found; the message says how to get one.
    """
    if path is not None:
        if not isinstance(path, (str, os.PathLike)) or not _is_database(Path(path)):
            shown = os.fspath(path) if isinstance(path, os.PathLike) else path
            raise _path_error("path", "WordNetSynonyms", _FOLDER_CONSTRAINT, shown)
        return Path(path)
    env = os.environ.get("WORDNET_DIR", "")
    if env:
        if not _is_database(Path(env)):
            raise ConfigError(
                f"The WORDNET_DIR environment variable must be {_FOLDER_CONSTRAINT}. "
                f"Got {env!r} instead."
            )
        return Path(env)
    for place in _default_locations():
        if _is_database(place):
            return place
    raise ConfigError(
        "No WordNet 3.0 database found (searched $WORDNET_DIR, /usr/share/wordnet and the NLTK "
        f"data folders): {_MISSING_HELP}."
    )


_Buffer: TypeAlias = "bytes | mmap.mmap"


class _Index:
    """Binary search for a lemma's line in a bytewise-sorted ``index.<pos>`` buffer.

    A table of every ``_STRIDE``-th byte's next line (built once, a few milliseconds) narrows
    each search to a few dozen lines, so a look-up costs a handful of steps, not ~17.
    """

    _SAMPLES = 4096

    def __init__(self, buf: _Buffer) -> None:
        self.buf = buf
        # The licence header lines start with two spaces; the sorted lemmas follow.
        start = 0
        while buf[start : start + 2] == b"  ":
            nl = buf.find(b"\n", start)
            start = len(buf) if nl < 0 else nl + 1
        self.keys: list[bytes] = []
        self.starts: list[int] = []
        size = len(buf)
        step = max(1, (size - start) // self._SAMPLES)
        at = start
        while at < size:
            space = buf.find(b" ", at)
            key = bytes(buf[at : size if space < 0 else space])
            if not self.keys or key > self.keys[-1]:
                self.keys.append(key)
                self.starts.append(at)
            nl = buf.find(b"\n", at + step)
            if nl < 0:
                break
            at = nl + 1
        self.first = start

    def line(self, key: bytes) -> str | None:
        buf, keys, starts = self.buf, self.keys, self.starts
        j = bisect.bisect_right(keys, key) - 1
        if j < 0:
            return None
        lo = starts[j]
        hi = starts[j + 1] if j + 1 < len(starts) else len(buf)
        while lo < hi:
            mid = (lo + hi) // 2
            nl = buf.rfind(b"\n", lo, mid)
            start = lo if nl < 0 else nl + 1
            end = buf.find(b"\n", start)
            if end < 0:
                end = len(buf)
            space = buf.find(b" ", start, end)
            word = buf[start : end if space < 0 else space]
            if word == key:
                return bytes(buf[start:end]).decode("utf-8")
            if word < key:
                lo = end + 1
            else:
                hi = start
        return None


class WordNetSynonyms:
    """Synonyms from a WordNet 3.0 database, read lazily from its standard files.

    The synonyms of a word are the other lemmas of every synset that contains it, over all parts
    of speech in WordNet's order (noun, verb, adjective, adverb; senses by frequency within each),
    underscores turned into spaces, repeats and the word itself removed. With ``morphology``
    (default), inflected forms are reduced first as WordNet's ``morphy`` does (the ``*.exc``
    exception lists, then the suffix rules), so ``"dogs"`` finds the synsets of ``"dog"``.

    Args:
        path: a folder holding ``index.{noun,verb,adj,adv}`` and ``data.{noun,verb,adj,adv}``
            (or an NLTK ``wordnet.zip``); by default ``$WORDNET_DIR``, ``/usr/share/wordnet``
            (Debian ``wordnet-base``), then NLTK's ``corpora/wordnet``. See :func:`find_wordnet`.
        morphology: reduce inflected forms to their base forms before the look-up.

    Raises:
        ConfigError: no database at ``path`` or anywhere usual (says how to get one).

    Example:
        >>> wn = WordNetSynonyms()  # doctest: +SKIP
        >>> wn.synonyms("quick")[:3]  # doctest: +SKIP
        ('speedy', 'flying', 'fast')
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, morphology: bool = True
    ) -> None:
        if not isinstance(morphology, bool):
            raise param_error("morphology", "WordNetSynonyms", "a bool", morphology)
        self.path = find_wordnet(path)
        self.morphology = morphology
        self._reset()

    # One instance per database, so every EDA built with synonyms=None shares one cache.
    _shared: ClassVar[dict[str, WordNetSynonyms]] = {}

    @classmethod
    def default(cls) -> WordNetSynonyms:
        """The shared instance for the database :func:`find_wordnet` picks (one cache for all)."""
        found = find_wordnet()
        key = os.fspath(found)
        inst = cls._shared.get(key)
        if inst is None:
            inst = cls._shared[key] = cls(found)
        return inst

    def _reset(self) -> None:
        self._index: dict[str, _Index] = {}
        self._data: dict[str, _Buffer] = {}
        self._exc: dict[str, dict[str, tuple[str, ...]]] = {}
        self._cache: dict[str, tuple[str, ...]] = {}

    # Memory maps cannot be pickled (DataLoader workers under spawn): send the settings only.
    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "morphology": self.morphology}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self.morphology = state["morphology"]
        self._reset()

    def __repr__(self) -> str:
        return f"WordNetSynonyms({os.fspath(self.path)!r})"

    # -- file access -------------------------------------------------------------------------

    def _read(self, name: str, required: bool = True) -> _Buffer:
        if self.path.is_dir():
            file = self.path / name
            if not file.is_file():
                if required:
                    raise _path_error("path", "WordNetSynonyms", _FOLDER_CONSTRAINT, self.path)
                return b""
            with open(file, "rb") as fh:
                if os.fstat(fh.fileno()).st_size == 0:
                    return b""
                return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        prefix = _zip_prefix(self.path) or ""
        with zipfile.ZipFile(self.path) as zf:
            try:
                return zf.read(prefix + name)
            except KeyError:
                if required:
                    raise _path_error(
                        "path", "WordNetSynonyms", _FOLDER_CONSTRAINT, self.path
                    ) from None
                return b""

    def _index_buffer(self, pos: str) -> _Index:
        got = self._index.get(pos)
        if got is None:
            got = self._index[pos] = _Index(self._read(f"index.{POS_FILES[pos]}"))
        return got

    def _data_buffer(self, pos: str) -> _Buffer:
        buf = self._data.get(pos)
        if buf is None:
            buf = self._data[pos] = self._read(f"data.{POS_FILES[pos]}")
        return buf

    def _exceptions(self, pos: str) -> dict[str, tuple[str, ...]]:
        exc = self._exc.get(pos)
        if exc is None:
            exc = {}
            text = bytes(self._read(f"{POS_FILES[pos]}.exc", required=False)).decode("utf-8")
            for line in text.splitlines():
                fields = line.split()
                if len(fields) >= 2:
                    exc[fields[0]] = exc.get(fields[0], ()) + tuple(fields[1:])
            self._exc[pos] = exc
        return exc

    # -- parsing -----------------------------------------------------------------------------

    def index_line(self, lemma: str, pos: str) -> str | None:
        """The raw ``index.<pos>`` line for ``lemma`` (lowercase, spaces as underscores), or None."""
        return self._index_buffer(pos).line(lemma.encode("utf-8"))

    def offsets(self, lemma: str, pos: str) -> list[int]:
        """Synset offsets of ``lemma`` in ``index.<pos>``, in the file's (sense) order."""
        line = self.index_line(lemma, pos)
        return [] if line is None else self._parse_offsets(line, pos)

    @staticmethod
    def _parse_offsets(line: str, pos: str) -> list[int]:
        fields = line.split()
        try:
            synset_cnt, p_cnt = int(fields[2]), int(fields[3])
            offsets = fields[6 + p_cnt :]
            if fields[1] != pos or len(fields) < 6 + p_cnt or len(offsets) != synset_cnt:
                raise ValueError
            return [int(o) for o in offsets]
        except (ValueError, IndexError):
            raise ConfigError(
                f"WordNet file index.{POS_FILES[pos]} must have lines 'lemma pos synset_cnt p_cnt "
                f"[ptr_symbol...] sense_cnt tagsense_cnt synset_offset...'. Got {line!r} instead."
            ) from None

    def synset(self, offset: int, pos: str) -> Synset:
        """Parse the ``data.<pos>`` line at byte ``offset``."""
        buf = self._data_buffer(pos)
        end = buf.find(b"\n", offset)
        line = bytes(buf[offset : len(buf) if end < 0 else end]).decode("utf-8")
        fields = line.split(" ")
        try:
            if int(fields[0]) != offset:
                raise ValueError
            ss_type = fields[2]
            w_cnt = int(fields[3], 16)
            words = fields[4 : 4 + 2 * w_cnt : 2]
            lex_ids = fields[5 : 5 + 2 * w_cnt : 2]
            if len(words) != w_cnt or len(lex_ids) != w_cnt or ss_type not in "nvasr":
                raise ValueError
            for lex_id in lex_ids:
                int(lex_id, 16)
        except (ValueError, IndexError):
            raise ConfigError(
                f"WordNet file data.{POS_FILES[pos]} must have at byte {offset} a line 'offset "
                f"lex_filenum ss_type w_cnt word lex_id ...' starting with {offset:08d}. "
                f"Got {format_value(line)} instead."
            ) from None
        lemmas = []
        for w in words:
            for marker in _ADJ_MARKERS:
                if w.endswith(marker):
                    w = w[: -len(marker)]
                    break
            lemmas.append(w.replace("_", " "))
        return Synset(ss_type, offset, tuple(lemmas))

    def _forms(self, word: str, pos: str) -> list[tuple[str, str]]:
        lemma = word.strip().lower().replace(" ", "_")
        candidates = [lemma]
        if self.morphology:
            exc = self._exceptions(pos).get(lemma)
            if exc is not None:
                candidates += exc
            else:
                candidates += [
                    lemma[: -len(suffix)] + ending
                    for suffix, ending in _DETACH[pos]
                    if lemma.endswith(suffix) and len(lemma) > len(suffix)
                ]
        found = []
        for form in dict.fromkeys(candidates):
            line = self.index_line(form, pos)
            if line is not None:
                found.append((form, line))
        return found

    def base_forms(self, word: str, pos: str) -> list[str]:
        """Forms of ``word`` that are lemmas in ``index.<pos>`` (itself first, then morphy's)."""
        return [form for form, _ in self._forms(word, pos)]

    def _synsets(self, word: str) -> tuple[list[Synset], set[str]]:
        synsets: list[Synset] = []
        forms: set[str] = set()
        for pos in POS_FILES:
            for form, line in self._forms(word, pos):
                forms.add(form.replace("_", " "))
                synsets += (self.synset(off, pos) for off in self._parse_offsets(line, pos))
        return synsets, forms

    def synsets(self, word: str) -> list[Synset]:
        """Every synset containing ``word`` (or its base forms), noun, verb, adj, adv order."""
        return self._synsets(word)[0]

    def synonyms(self, word: str) -> tuple[str, ...]:
        """Other lemmas of the synsets of ``word`` (case-insensitive, cached), or ``()``."""
        got = self._cache.get(word)
        if got is not None:
            return got
        key = word.strip().lower()
        got = self._cache.get(key)
        if got is None:
            if not key:
                got = ()
            else:
                synsets, forms = self._synsets(key)
                got = _dedupe((w for s in synsets for w in s.lemmas), forms | {key})
            self._cache[key] = got
        self._cache[word] = got
        return got


SynonymsLike: TypeAlias = (
    SynonymSource | Mapping[str, Sequence[str]] | str | os.PathLike[str] | None
)


def as_synonym_source(value: Any, owner: str = "EDA", param: str = "synonyms") -> SynonymSource:
    """Turn what a user passed as ``synonyms`` into a source.

    ``None`` is the shared :class:`WordNetSynonyms` on the default database; a mapping becomes
    :class:`MappingSynonyms`; a path to a folder (or ``.zip``) is read as WordNet, a path to a
    file as TSV (``word<TAB>synonym<TAB>...``); an object with ``synonyms(word)`` is used as is.
    """
    if value is None:
        return WordNetSynonyms.default()
    if isinstance(value, SynonymSource) and not isinstance(value, (str, os.PathLike)):
        return value
    if isinstance(value, Mapping):
        return MappingSynonyms(value, _owner=owner)
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if path.is_dir() or path.suffix == ".zip":
            return WordNetSynonyms(path)
        if path.is_file():
            return MappingSynonyms.from_tsv(path)
        raise _path_error(param, owner, "a path to an existing TSV file or WordNet folder", value)
    raise param_error(
        param,
        owner,
        "None (WordNet), a {word: [synonyms]} mapping, a path to a TSV file or WordNet folder, "
        "or an object with a synonyms(word) method",
        value,
    )
