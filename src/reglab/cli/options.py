"""The options ``reglab study``, ``tune`` and ``claims`` share, declared once, and how their
text becomes values."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError

__all__ = [
    "DataOptions",
    "data_options",
    "decision_options",
    "parse_seeds",
    "parse_size",
    "run_options",
]


def parse_size(text: str | None, name: str, command: str = "study") -> int | float | None:
    """``200`` is a count, ``0.2`` a fraction; None (not given) fits the data."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(
            f"The '{name}' option of reglab {command} must be a count (e.g. 200) or a fraction "
            f"in (0, 1) (e.g. 0.2). Got {text!r} instead."
        ) from None
    return int(value) if value.is_integer() and value >= 1 else value


@dataclass(frozen=True)
class DataOptions:
    """What the options of :func:`data_options` say, as they were given."""

    data: str
    target: str | None
    text: str | None
    train_size: str | None
    val_size: str | None
    test: str | None
    model: str
    device: str

    def size(self, split: str, command: str = "study") -> int | float | None:
        """``--train-size`` (``split="train"``) or ``--val-size`` (``"val"``) parsed."""
        return parse_size(getattr(self, f"{split}_size"), f"--{split}-size", command)


def data_options(train_help: str, val_help: str) -> Callable[[Any], Any]:
    """The options ``reglab study`` and ``reglab tune`` share: data, target, text column, split
    sizes, test split, model, device. The command receives them as one first argument, a
    :class:`DataOptions`.

    The split-size help differs per command (what the validation examples are used for).
    """
    options = [
        click.option(
            "--data",
            default="digits",
            show_default=True,
            help="Built-in dataset name (see `reglab datasets`) or a path to a file/folder.",
        ),
        click.option("--target", default=None, help="Label column of a CSV/Parquet file."),
        click.option(
            "--text",
            default=None,
            help="Text column of a CSV/TSV/Parquet/JSON Lines file (the other feature columns "
            "are ignored). Default: the one string column of long texts, when there is exactly "
            "one.",
        ),
        click.option(
            "--train-size",
            default=None,
            help=f"{train_help} Default: 200, at most half of the examples outside the test split.",
        ),
        click.option(
            "--val-size",
            default=None,
            help=f"{val_help} Default: 300, at most a quarter of the examples outside the "
            "test split.",
        ),
        click.option(
            "--test",
            type=click.Choice(["official", "random"]),
            default=None,
            help="Test split: the files' own (official; the default where they have one, as "
            "IDX t10k-* or CIFAR test_batch) or what the training and validation draws leave.",
        ),
        click.option(
            "--model",
            default="auto",
            show_default=True,
            help="auto (cnn for images, cnn1d for signals, mlp for tables), linear, mlp, cnn, "
            "cnn1d or package.module:factory.",
        ),
        click.option(
            "--device",
            default="auto",
            show_default=True,
            help="auto (CUDA when available, else CPU), cpu, cuda, cuda:N or mps. Each worker "
            "moves the data there once; --jobs workers share one GPU.",
        ),
    ]

    def gather(fn: Any) -> Any:
        @functools.wraps(fn)
        def command(**values: Any) -> Any:
            given = {f.name: values.pop(f.name) for f in dataclasses.fields(DataOptions)}
            return fn(DataOptions(**given), **values)

        return _all(options)(command)

    return gather


def parse_seeds(text: str, command: str = "study") -> int | str:
    """``auto`` (seeds look by look until decided) or a number of seeds."""
    if text.strip().lower() == "auto":
        return "auto"
    if text.strip().isdigit() and int(text) >= 1:
        return int(text)
    raise ConfigError(
        f"The '--seeds' option of reglab {command} must be 'auto' or a number of seeds >= 1 "
        f"(e.g. 3). Got {text!r} instead."
    )


def decision_options(seeds_help: str, margin_of: str) -> Callable[[Any], Any]:
    """``--seeds auto|N``, ``--max-seeds`` and ``--margin``: how many seeds, and what "no
    effect" means (``margin_of``: whose loss a regression margin is a percent of)."""
    options = [
        click.option("--seeds", default="auto", show_default=True, help=seeds_help),
        click.option(
            "--max-seeds",
            default=None,
            type=int,
            help="With --seeds auto: the last look (default 20).",
        ),
        click.option(
            "--margin",
            default=1.0,
            show_default=True,
            type=float,
            help="A difference smaller than this is 'no effect' (points of accuracy; for "
            f"regression, percent of {margin_of}'s test loss).",
        ),
    ]
    return _all(options)


def run_options(what: str, database: str, files: str, jobs_help: str) -> Callable[[Any], Any]:
    """``--jobs``, ``--storage``, ``--out`` and ``--progress/--no-progress`` of a command whose
    default folder is ``reglab-<what>`` holding ``database`` and ``files``."""
    options = [
        click.option("--jobs", default=None, type=int, help=jobs_help),
        click.option(
            "--storage",
            default=None,
            help=f"SQLAlchemy URL of the {what} database (default: OUT/{database}). Use a "
            "PostgreSQL URL to share it between machines.",
        ),
        click.option(
            "--out",
            "out_dir",
            default=f"reglab-{what}",
            show_default=True,
            type=click.Path(file_okay=False, path_type=Path),
            help=f"Folder for {database}, {files}.",
        ),
        click.option("--progress/--no-progress", default=True, show_default=True),
    ]
    return _all(options)


def _all(options: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    def apply(fn: Any) -> Any:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return apply
