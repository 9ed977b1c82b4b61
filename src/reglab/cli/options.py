"""Options ``reglab study`` and ``reglab tune`` share, and how their text becomes values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..errors import ConfigError

__all__ = ["data_options", "parse_size"]


def parse_size(text: str, name: str, command: str = "study") -> int | float:
    """``200`` is a count, ``0.2`` a fraction."""
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(
            f"The '{name}' option of reglab {command} must be a count (e.g. 200) or a fraction "
            f"in (0, 1) (e.g. 0.2). Got {text!r} instead."
        ) from None
    return int(value) if value.is_integer() and value >= 1 else value


def data_options(train_help: str, val_help: str) -> Callable[[Any], Any]:
    """The options ``reglab study`` and ``reglab tune`` share: data, target, split sizes, model.

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
        click.option("--train-size", default="200", show_default=True, help=train_help),
        click.option("--val-size", default="300", show_default=True, help=val_help),
        click.option(
            "--model",
            default="auto",
            show_default=True,
            help="auto (cnn for images, cnn1d for signals, mlp for tables), linear, mlp, cnn, "
            "cnn1d or package.module:factory.",
        ),
    ]

    def apply(fn: Any) -> Any:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return apply
