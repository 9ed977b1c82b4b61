"""Every ``reglab ...`` command and every Python block of README.md runs, so the README cannot drift.

README.md is parsed at collection time, so a section added later is covered without editing this
file. Each command and block is one test whose id carries its README line number.

Commands: the lines of fenced ``bash``/``console``/``sh`` blocks that start with ``reglab `` or
``.venv/bin/reglab `` (``make ...`` lines are not commands of reglab: ``make demo`` is the 60 s
demo and ``make test`` runs this suite). Each runs through :func:`reglab.cli.main` in a fresh
temporary folder (relative ``--out`` paths land there), shortened by ``SHORTEN`` (set or replace
each option) and ``REPLACE`` (replace an option the command sets), and must return 0. What a command needs from outside gets a real stand-in:

* files it reads (``--data data.csv``, ``--recipe strong.toml``): written by ``INPUT_FILES``;
* ``--model package.module:factory``: a small factory module written to the folder;
* ``--storage postgresql://...``: a fresh database on a throwaway local PostgreSQL server
  (``tests.pgserver``); if the server cannot start, the test fails with the reason;
* the output of another README command (``reglab report runs/demo``, ``--recipe
  runs/tune/best.toml``, ``--join`` on a study a first machine started): that command runs first,
  shortened the same way.

``pytest ...`` lines are not run (that is this suite), but the test files they name must exist.
A command that cannot run here must be a key of ``EXPECTED_UNRUNNABLE`` with its reason, and
``test_unrunnable_commands_are_in_the_readme`` checks that every key is a README command, so the
commands not run are exactly the listed ones.

Python blocks: every ``python`` block runs with ``exec``, in README order, in one namespace, as a
reader pasting them into one session would. ``PRELUDES`` defines, per heading, the names a block
uses as placeholders for the reader's own objects (``X_train``, ``model``, ``x``...); a prelude
never replaces a name an earlier block bound, except those in ``REBINDS`` (a section's own
model) and those its blocks assign the placeholder ``...``: a statement ``name = ...`` (the
README's "your object here") is skipped, so the prelude's value stays.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reglab.cli import main
from tests.pgserver import PgServer, PgServerError

README = Path(__file__).resolve().parents[1] / "README.md"

_SHELL_LANGS = {"bash", "console", "sh", "shell"}
_PREFIXES = ("reglab ", ".venv/bin/reglab ")

# Options each subcommand gets, set or replaced, so the README's command runs in seconds.
SHORTEN: dict[str, list[tuple[str, str | None]]] = {
    "study": [("--epochs", "2"), ("--seeds", "2"), ("--jobs", "1"), ("--no-progress", None)],
    "tune": [
        ("--trials", "3"),
        ("--timeout", "20"),
        ("--epochs", "2"),
        ("--seeds", "2"),
        ("--confirm", "1"),
        ("--jobs", "1"),
        ("--no-progress", None),
    ],
    "claims": [("--quick", None), ("--seeds", "2"), ("--jobs", "1"), ("--no-progress", None)],
}
# Options added only where the command sets none of the options listed with them: a claims run
# without --only tests three claims (one arithmetic, two trained), not all eighteen; a study
# without a recipe choice trains two of the seven default recipes.
DEFAULTS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "claims": [
        (
            "--only",
            "weight-decay-equals-l2-sgd,l1-proximal-exact-zeros,batchnorm-placement",
            ("--only", "--list"),
        )
    ],
    "study": [("--recipes", "baseline,dropout", ("--recipes", "--recipe", "--join", "--resume"))],
}

# Options replaced only where the command sets them: a training-size sweep runs two small sizes.
REPLACE: dict[str, list[tuple[str, str]]] = {"study": [("--train-sizes", "20,40")]}

# README commands (as written, comment stripped) that are not run here, with the reason.
EXPECTED_UNRUNNABLE: dict[str, str] = {}


# ----------------------------------------------------------------------------- README parsing


@dataclass(frozen=True)
class Fence:
    """One fenced block: its language, the README line of its first content line, its text."""

    lang: str
    line: int
    text: str
    heading: str


def _fences(text: str) -> list[Fence]:
    fences: list[Fence] = []
    heading = ""
    lang: str | None = None
    start = 0
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if lang is None:
            if stripped.startswith("```"):
                lang, start, body = stripped[3:].strip().lower(), number + 1, []
            elif line.startswith("#"):
                heading = line.lstrip("#").strip()
        elif stripped.startswith("```"):
            fences.append(Fence(lang, start, "\n".join(body), heading))
            lang = None
        else:
            body.append(line)
    return fences


@dataclass(frozen=True)
class Command:
    """One README command line: where it is, and its words (comment dropped, prefix dropped)."""

    line: int
    text: str
    argv: tuple[str, ...]

    @property
    def subcommand(self) -> str:
        return self.argv[0] if self.argv else ""

    def option(self, name: str) -> str | None:
        argv = list(self.argv)
        return argv[argv.index(name) + 1] if name in argv[:-1] else None


def readme_commands() -> list[Command]:
    commands = []
    for fence in _fences(README.read_text(encoding="utf-8")):
        if fence.lang not in _SHELL_LANGS:
            continue
        for offset, raw in enumerate(fence.text.splitlines()):
            line = raw.strip().removeprefix("$ ")
            if not line.startswith(_PREFIXES):
                continue
            words = shlex.split(line, comments=True)
            commands.append(Command(fence.line + offset, shlex.join(words), tuple(words[1:])))
    return commands


def readme_python_blocks() -> list[Fence]:
    return [f for f in _fences(README.read_text(encoding="utf-8")) if f.lang in {"python", "py"}]


COMMANDS = readme_commands()
BLOCKS = readme_python_blocks()


# ----------------------------------------------------------------------------- commands


def shorten(argv: tuple[str, ...]) -> list[str]:
    """``argv`` with the options of ``SHORTEN[argv[0]]`` set (replaced where present), those
    of ``REPLACE`` replaced where present, and ``DEFAULTS`` added where none of theirs is."""
    out = list(argv)
    command = argv[0] if argv else ""
    for name, value in REPLACE.get(command, []):
        if name in out[:-1]:
            out[out.index(name) + 1] = value
    for name, value in SHORTEN.get(command, []):
        if name in out:
            i = out.index(name)
            if value is not None:
                out[i + 1] = value
        else:
            out += [name] if value is None else [name, value]
    for name, value, unless in DEFAULTS.get(command, []):
        if not any(option in out for option in unless):
            out += [name, value]
    return out


def _write_csv(path: Path, target: str) -> None:
    from sklearn.datasets import load_wine

    bunch = load_wine()
    names = [f"f{j}" for j in range(bunch.data.shape[1])]
    rows = [",".join([*names, target])]
    for features, label in zip(bunch.data, bunch.target, strict=True):
        rows.append(",".join([*(f"{v:g}" for v in features), str(bunch.target_names[label])]))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def _write_toml(path: Path, target: str) -> None:
    path.write_text('base = "all"\ndropout = 0.3\nweight_decay = 0.1\n', encoding="utf-8")


def _write_jsonl(path: Path, target: str) -> None:
    """Short reviews with a text column long enough to be detected, labelled pos/neg."""
    import json
    import random

    rng = random.Random(0)
    words = {"pos": ["good", "great", "moving", "fine"], "neg": ["bad", "dull", "weak", "flat"]}
    filler = ["the", "film", "was", "a", "story", "with", "actors", "and", "plot", "very"]
    lines = []
    for i in range(240):
        label = "pos" if i % 2 else "neg"
        review = [rng.choice(filler) for _ in range(rng.randint(4, 12))]
        review.insert(rng.randrange(len(review)), rng.choice(words[label]))
        lines.append(json.dumps({"review": " ".join(review), target: label, "stars": i % 5}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# A reader's own input files, by suffix: a small real file in the format the README names.
INPUT_FILES: dict[str, Callable[[Path, str], None]] = {
    ".csv": _write_csv,
    ".jsonl": _write_jsonl,
    ".toml": _write_toml,
}

_FACTORY = """
import math
import torch

def {name}(recipe, input_shape, num_outputs):
    features = math.prod(input_shape)
    return torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(features, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, num_outputs),
    )
"""


def _producer(path: str) -> Command | None:
    """The README command whose ``--out`` folder holds ``path`` (``runs/tune/best.toml``)."""
    for cmd in COMMANDS:
        out = cmd.option("--out")
        if out and (path == out or path.startswith(out.rstrip("/") + "/")):
            return cmd
    return None


def _inputs(cmd: Command) -> list[str]:
    """Paths the command reads: positional arguments and the values of --data/--recipe."""
    argv = list(cmd.argv[1:])
    found = []
    for i, word in enumerate(argv):
        before = argv[i - 1] if i else ""
        if before in {"--data", "--recipe"} or (not word.startswith("-") and before not in _VALUED):
            found.append(word)
    return found


_VALUED = {
    "--data", "--target", "--train-size", "--val-size", "--test", "--model", "--device",
    "--recipes", "--recipe", "--seeds", "--epochs", "--jobs", "--storage", "--out", "--base",
    "--space", "--trials", "--timeout", "--partitions", "--confirm", "--only",
}  # fmt: skip


class _Runner:
    """Runs README commands in one temporary folder, providing what each one needs first."""

    def __init__(self, tmp: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
        self.tmp, self.request, self.monkeypatch = tmp, request, monkeypatch
        self.urls: dict[str, str] = {}
        self.done: set[int] = set()

    def prepare(self, cmd: Command) -> list[str]:
        argv = shorten(cmd.argv)
        for path in _inputs(cmd):
            producer = _producer(path)
            if producer is not None and producer.line != cmd.line:
                self.run(producer)
            elif Path(path).suffix in INPUT_FILES and not (self.tmp / path).exists():
                (self.tmp / path).parent.mkdir(parents=True, exist_ok=True)
                INPUT_FILES[Path(path).suffix](self.tmp / path, cmd.option("--target") or "y")
        model = cmd.option("--model")
        if model and ":" in model:
            self._factory(model)
        storage = cmd.option("--storage")
        if storage and storage.startswith("postgresql"):
            if "--join" in cmd.argv:
                first = next(
                    c
                    for c in COMMANDS
                    if c.option("--storage") == storage and "--join" not in c.argv
                )
                self.run(first)
            argv[argv.index("--storage") + 1] = self._database(storage)
        return argv

    def _factory(self, spec: str) -> None:
        module, name = spec.split(":")
        path = self.tmp.joinpath(*module.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(self.tmp).parents:
            if parent != Path("."):
                (self.tmp / parent / "__init__.py").touch()
        path.write_text(_FACTORY.format(name=name), encoding="utf-8")
        self.monkeypatch.syspath_prepend(str(self.tmp))
        self.monkeypatch.setenv(
            "PYTHONPATH", os.pathsep.join([str(self.tmp), os.environ.get("PYTHONPATH", "")])
        )
        top = module.split(".")[0]
        for key in [k for k in sys.modules if k == top or k.startswith(top + ".")]:
            self.monkeypatch.delitem(sys.modules, key)

    def _database(self, url: str) -> str:
        if url not in self.urls:
            server = self.request.getfixturevalue("postgres_server")
            self.urls[url] = server.new_database("readme")
        return self.urls[url]

    def run(self, cmd: Command, capsys: pytest.CaptureFixture[str] | None = None) -> None:
        if cmd.line in self.done:
            return
        argv = self.prepare(cmd)
        code = main(argv)
        self.done.add(cmd.line)
        if code != 0:
            output = ""
            if capsys is not None:
                captured = capsys.readouterr()
                output = (captured.out + captured.err)[-3000:]
            pytest.fail(
                f"README.md line {cmd.line}: `{cmd.text}` exited {code} "
                f"(ran as `reglab {shlex.join(argv)}`)\n{output}",
                pytrace=False,
            )


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL server; the test that needs one fails if it cannot start."""
    try:
        server = PgServer.start()
    except (PgServerError, OSError) as exc:
        pytest.fail(f"PostgreSQL test server unavailable: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def _command_params() -> list[object]:
    params = []
    for cmd in COMMANDS:
        if cmd.text in EXPECTED_UNRUNNABLE:
            continue
        marks = [pytest.mark.xdist_group("studies")] if cmd.option("--storage") else []
        if cmd.subcommand in SHORTEN:
            marks.append(pytest.mark.slow)
        params.append(pytest.param(cmd, id=f"L{cmd.line}-{cmd.subcommand}", marks=marks))
    return params


def test_readme_has_commands_and_blocks() -> None:
    assert any(c.subcommand == "study" for c in COMMANDS), "no `reglab study` command parsed"
    assert len(BLOCKS) >= 5, f"only {len(BLOCKS)} python blocks parsed from README.md"


def test_pytest_paths_exist() -> None:
    """A README ``pytest PATH`` line (not run: that is this suite) names test files that exist."""
    root = README.parent
    for fence in _fences(README.read_text(encoding="utf-8")):
        if fence.lang not in _SHELL_LANGS:
            continue
        for offset, raw in enumerate(fence.text.splitlines()):
            words = shlex.split(raw.strip().removeprefix("$ "), comments=True)
            if not words or Path(words[0]).name != "pytest":
                continue
            for word in words[1:]:
                if not word.startswith("-"):
                    path = word.split("::")[0]
                    assert (root / path).exists(), (
                        f"README.md line {fence.line + offset}: {path} does not exist"
                    )


def test_unrunnable_commands_are_in_the_readme() -> None:
    texts = {c.text for c in COMMANDS}
    stale = sorted(set(EXPECTED_UNRUNNABLE) - texts)
    assert not stale, f"EXPECTED_UNRUNNABLE lists commands no longer in README.md: {stale}"


@pytest.mark.parametrize("cmd", _command_params())
def test_readme_command(
    cmd: Command,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = _Runner(tmp_path, request, monkeypatch)
    runner.run(cmd, capsys)
    out = cmd.option("--out")
    if out is not None:
        assert (tmp_path / out).is_dir(), f"README.md line {cmd.line}: no output folder {out}"


# ----------------------------------------------------------------------------- python blocks

# Per heading: the reader's own objects a block uses without defining them.
PRELUDES: dict[str, str] = {
    "With Lightning": """
        import torch
        from torch.utils.data import DataLoader, TensorDataset
        _g = torch.Generator().manual_seed(0)
        _data = TensorDataset(torch.randn(64, 784, generator=_g), torch.randint(0, 10, (64,)))
        train_loader = DataLoader(_data, batch_size=32)
        val_loader = DataLoader(_data, batch_size=64)
    """,
    "A quick tour": """
        import reglab.data as rd
        _sp = rd.split(rd.load_dataset("digits"), train_size=100, val_size=100, seed=0)
        X_train, y_train = _sp.train.tensors()
        X_val, y_val = _sp.val.tensors()
    """,
    "Dropout family (`reglab.nn`, `reglab.functional`)": """
        import torch
        x = torch.randn(8, 16)
    """,
    "Normalization and initialization": """
        import torch
        model = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Dropout(0.2),
            torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Flatten(),
            torch.nn.Linear(4 * 8 * 8, 10),
        )
        example_input = torch.randn(4, 1, 8, 8)
        train_loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.randn(64, 1, 8, 8), torch.randint(0, 10, (64,))),
            batch_size=16,
        )
    """,
    "`EarlyStopping`": """
        import torch
        model = torch.nn.Linear(4, 1)
        _losses = iter([1.0, 0.8, 0.9, 0.7, 0.75] + [0.8] * 200)
        def train_one_epoch(model):
            pass
        def evaluate(model):
            return next(_losses)
    """,
    "`fit`": """
        import torch, reglab as rl
        import reglab.data as rd
        _sp = rd.split(rd.load_dataset("digits", flatten=True), train_size=100, val_size=100,
                       seed=0)
        X_train, y_train = _sp.train.tensors()
        X_val, y_val = _sp.val.tensors()
        model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                    torch.nn.Linear(32, 10))
        augment = rl.augment.tabular.FeatureNoise(0.1)
        mixup = rl.augment.MixUp(0.2, num_classes=10, layout="tabular")
    """,
    "Data-parallel training and checkpoints": """
        import torch
        import reglab.data as rd
        _sp = rd.split(rd.load_dataset("digits", flatten=True), train_size=100, val_size=100,
                       seed=0)
        X, y = _sp.train.tensors()
        X_val, y_val = _sp.val.tensors()
        def MyNet():
            return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                       torch.nn.Linear(32, 10))
    """,
    "Data augmentation (`reglab.augment`)": """
        import torch
        x = torch.rand(4, 3, 16, 16)
    """,
    "Label mixing": """
        import torch
        import reglab.augment as A
        g = torch.Generator().manual_seed(0)
        x, y = torch.rand(4, 3, 16, 16), torch.randint(0, 10, (4,))
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 10))
    """,
    "Text augmentation: EDA on a real WordNet (`reglab.augment.text`)": """
        sentences = ["the film was good", "a quick and clever plot", "the acting is bad"]
        labels = [1, 1, 0]
    """,
    "Data (`reglab.data`)": """
        import torch
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32),
                                    torch.nn.ReLU(), torch.nn.Linear(32, 10))
    """,
    "Models and recipes (`reglab.models`, `reglab.lab.core.recipe`, `reglab.lab.core.run`)": """
        from pathlib import Path
        Path("strong.toml").write_text('base = "all"\\ndropout = 0.3\\n')
        d = {}
    """,
}


def test_preludes_name_readme_headings() -> None:
    headings = {b.heading for b in BLOCKS}
    stale = sorted(set(PRELUDES) - headings)
    assert not stale, f"PRELUDES names headings without python blocks in README.md: {stale}"


# A statement that assigns the README's placeholder `...` ("your data here"): skipped.
_PLACEHOLDER = re.compile(r"^(\s*)[\w\s,\[\]]+=\s*\.\.\.\s*(#.*)?$")


def _source(block: Fence) -> str:
    return "\n".join(_PLACEHOLDER.sub(r"\1pass", line) for line in block.text.splitlines())


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def _block_groups() -> list[tuple[str, list[Fence]]]:
    groups: dict[str, list[Fence]] = {}
    for block in BLOCKS:
        groups.setdefault(block.heading, []).append(block)
    return list(groups.items())


# Per heading: names its prelude may set although an earlier README block bound them (the
# section's own "your model here"). Any other name keeps what the README's blocks left in it,
# so a snippet that rebinds a name a later snippet relies on (`y`) fails here as in a session.
REBINDS: dict[str, set[str]] = {
    heading: {"model"}
    for heading in (
        "Normalization and initialization",
        "`EarlyStopping`",
        "`fit`",
        "Label mixing",
        "Data (`reglab.data`)",
    )
}


def _placeholder_names(blocks: list[Fence]) -> set[str]:
    """Names the blocks assign the placeholder ``...`` ("your object here")."""
    names: set[str] = set()
    for block in blocks:
        for line in block.text.splitlines():
            if _PLACEHOLDER.match(line):
                names |= set(re.findall(r"\w+", line.split("=")[0]))
    return names


def _values(namespace: dict[str, object]) -> dict[str, int]:
    return {k: id(v) for k, v in namespace.items()}


def test_readme_python_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every block runs in README order in one namespace, as a reader pasting them in one
    session would; before a heading's first block its prelude adds the reader's own objects."""
    monkeypatch.chdir(tmp_path)
    # A README block may start a one-process torch.distributed group (`torchrun` sets these).
    for key, value in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": _free_port(),
                       "RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict[str, object] = {"__name__": "__readme__"}
    bound: set[str] = set()  # names a README block assigned
    for heading, blocks in _block_groups():
        scratch = dict(namespace)
        exec(textwrap.dedent(PRELUDES.get(heading, "")), scratch)
        before = _values(namespace)
        allowed = REBINDS.get(heading, set()) | _placeholder_names(blocks)
        for name, value in scratch.items():
            if before.get(name) == id(value) or name.startswith("__"):
                continue
            if name not in bound or name in allowed:
                namespace[name] = value
        for block in blocks:
            before = _values(namespace)
            try:
                exec(compile(_source(block), f"README.md:{block.line}", "exec"), namespace)
            except Exception as exc:
                pytest.fail(
                    f"README.md python block at line {block.line} ({block.heading!r}) raised "
                    f"{type(exc).__name__}: {exc}",
                    pytrace=True,
                )
            bound |= {k for k, v in namespace.items() if before.get(k) != id(v)}


def test_quick_tour_prints_the_gap_of_the_weights_it_keeps() -> None:
    """EarlyStopping restores the best epoch's weights: the tour's gap is that epoch's row."""
    (tour, *_) = [b for b in BLOCKS if b.heading == "A quick tour"]
    assert 'history.rows[history.best_epoch]["gap"]' in tour.text
    assert "rows[-1]" not in tour.text
