"""The one error type reglab raises for bad input, and the one way it is worded."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["ConfigError", "did_you_mean", "format_value", "param_error"]


class ConfigError(ValueError):
    """A parameter or input that reglab cannot use.

    The message is one line: it names the parameter and its owner, says what would be valid, and
    shows what was given. Being a ``ValueError``, it is caught by code written for torch's errors.

    Example:
        >>> raise param_error("p", "Dropout", "a float in [0, 1)", 1.5)
        Traceback (most recent call last):
        ...
        reglab.errors.ConfigError: The 'p' parameter of Dropout must be a float in [0, 1). Got 1.5 instead.
    """


def format_value(value: Any, limit: int = 80) -> str:
    """Show a value in an error message: ``repr`` for scalars and strings, a summary for tensors."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None and not isinstance(value, (int, float)):
        return f"{type(value).__name__} of shape {tuple(shape)} and dtype {dtype}"
    text = repr(value).replace("\n", " ")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def did_you_mean(name: Any, choices: Iterable[Any]) -> str:
    """``" Did you mean 'x'?"`` for the choice closest to a mistyped ``name``, else ``""``.

    The one suggestion every name look-up appends to its error (recipes, datasets, models, metric
    names, recipe keys, CLI choices). Case is ignored when comparing; only string choices count.

    Example:
        >>> did_you_mean("dropuot", ["baseline", "dropout", "all"])
        " Did you mean 'dropout'?"
        >>> did_you_mean("xyz", ["baseline", "dropout"])
        ''
    """
    if not isinstance(name, str):
        return ""
    words = {str(c).lower(): str(c) for c in choices if isinstance(c, str)}
    close = difflib.get_close_matches(name.lower(), list(words), n=1, cutoff=0.7)
    return f" Did you mean {words[close[0]]!r}?" if close else ""


def param_error(
    param: str, owner: str, constraint: str, value: Any, choices: Iterable[Any] = ()
) -> ConfigError:
    """Build the error for a parameter that breaks its constraint (the one template).

    With ``choices`` (the valid names), a close one is suggested after the template.
    """
    return ConfigError(
        f"The {param!r} parameter of {owner} must be {constraint}. Got {format_value(value)} "
        f"instead.{did_you_mean(value, choices)}"
    )
