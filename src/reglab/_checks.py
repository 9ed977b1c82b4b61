"""Declared parameter constraints: the single validation path for every public object.

One style, as scikit-learn's ``_parameter_constraints``: each public class declares a
class-level mapping ``_parameter_constraints = {"p": [...], ...}`` next to its ``__init__``, which
checks them all with one call, ``validate_params(self, locals())``; a public function declares a
module-level mapping next to its signature and calls ``validate_params("name", locals(), MAPPING)``.
Constraints shared across modules (:data:`PROBABILITY`, :data:`GENERATOR`, :data:`BOOL`) are
defined here once. The error is always the template of :func:`reglab.errors.param_error`::

    The 'p' parameter of Dropout must be a float in [0, 1). Got 1.5 instead.

A parameter is valid when it satisfies *any* of its constraints; the message lists them all, and
parameters are checked in the order the mapping declares them.

Example:
    >>> class Dropout:
    ...     _parameter_constraints = {"p": PROBABILITY, "scaling": [OneOf("inverted", "classic")]}
    ...     def __init__(self, p=0.5, scaling="inverted"):
    ...         validate_params(self, locals())
    >>> Dropout(1.5)
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: The 'p' parameter of Dropout must be a float in [0, 1). Got 1.5 instead.

A frozen dataclass spec declares ``_parameter_constraints`` as a ``ClassVar`` and its
``__post_init__`` calls ``validate_params(self, vars(self))`` (then :func:`store_float_fields`).
Where the values are not the arguments themselves (one element of a list, a value that is only
checked when given), pass the mapping to check: ``validate_params(owner, {"size": v}, MAPPING)``.

(:func:`check` and :func:`validate`, the older call styles, are thin wrappers of
:func:`validate_params` outside ``__all__``, kept only while ``train/loop.py``, ``data/``
and ``lab/core/run.py`` still call ``check``;
``tests/test_one_validation_style.py`` keeps every other module on the one path.)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import torch

from .errors import ConfigError, param_error

__all__ = [
    "BOOL",
    "GENERATOR",
    "PROBABILITY",
    "Boolean",
    "CallableC",
    "Constraint",
    "Constraints",
    "InstanceOf",
    "Interval",
    "NoneOk",
    "OneOf",
    "check_floating",
    "check_ndim",
    "describe",
    "make_generator",
    "store_float_fields",
    "validate_params",
]

T = TypeVar("T")


class Constraint:
    """A predicate on a parameter value with a human description ("a float in [0, 1)")."""

    def is_satisfied_by(self, value: Any) -> bool:
        raise NotImplementedError

    def __str__(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self})"


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class Interval(Constraint):
    """A number in an interval. ``kind`` is ``int`` (integers only) or ``float`` (any real number).

    ``closed`` is ``"both"``, ``"left"``, ``"right"`` or ``"neither"``; ``None`` bounds are
    infinite. Real intervals never contain NaN, and contain infinities only when unbounded on
    that side and the bound is explicitly ``math.inf`` (``None`` means finite values only).
    """

    def __init__(
        self,
        kind: type,
        left: float | None,
        right: float | None,
        *,
        closed: str = "both",
    ) -> None:
        if kind not in (int, float):
            raise TypeError(f"Interval kind must be int or float, got {kind!r}")
        if closed not in ("both", "left", "right", "neither"):
            raise TypeError(f"Interval closed must be both/left/right/neither, got {closed!r}")
        self.kind = kind
        self.left = left
        self.right = right
        self.closed = closed

    def is_satisfied_by(self, value: Any) -> bool:
        if self.kind is int:
            if not _is_int(value):
                return False
        elif not _is_real(value):
            return False
        v = float(value)
        if math.isnan(v):
            return False
        if math.isinf(v) and not (
            (v > 0 and self.right == math.inf) or (v < 0 and self.left == -math.inf)
        ):
            return False
        left_open = self.closed in ("right", "neither")
        right_open = self.closed in ("left", "neither")
        if self.left is not None and (v < self.left or (v == self.left and left_open)):
            return False
        return not (self.right is not None and (v > self.right or (v == self.right and right_open)))

    def __str__(self) -> str:
        noun = "an int" if self.kind is int else "a float"
        lo = "-inf" if self.left is None else _num(self.left)
        hi = "inf" if self.right is None else _num(self.right)
        lb = "[" if self.closed in ("both", "left") and self.left is not None else "("
        rb = "]" if self.closed in ("both", "right") and self.right is not None else ")"
        return f"{noun} in {lb}{lo}, {hi}{rb}"


def _num(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


class OneOf(Constraint):
    """One of a fixed set of choices (compared with ``==``)."""

    def __init__(self, *choices: Any) -> None:
        self.choices = choices

    def is_satisfied_by(self, value: Any) -> bool:
        try:
            return any(value == c and type(value) is type(c) for c in self.choices)
        except Exception:  # an exotic __eq__ (tensors) is simply "not a choice"
            return False

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)


class InstanceOf(Constraint):
    """An instance of the given types, described by ``description`` ("a torch.nn.Module")."""

    def __init__(self, *types: type, description: str | None = None) -> None:
        self.types = types
        self.description = description or " or ".join(
            f"an instance of {t.__module__}.{t.__qualname__}" for t in types
        )

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def __str__(self) -> str:
        return self.description


class Boolean(Constraint):
    """A ``bool`` (not an int standing in for one)."""

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, bool)

    def __str__(self) -> str:
        return "a bool"


class CallableC(Constraint):
    """Any callable."""

    def is_satisfied_by(self, value: Any) -> bool:
        return callable(value)

    def __str__(self) -> str:
        return "a callable"


class NoneOk(Constraint):
    """``None``."""

    def is_satisfied_by(self, value: Any) -> bool:
        return value is None

    def __str__(self) -> str:
        return "None"


def describe(constraints: Sequence[Constraint]) -> str:
    """Join constraint descriptions: ``"a, b or c"``."""
    parts = [str(c) for c in constraints]
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


#: Constraint lists shared by several modules (declare them once, import them everywhere).
#: A dropout-style probability: a float in [0, 1).
PROBABILITY: list[Constraint] = [Interval(float, 0, 1, closed="left")]
#: A ``generator=`` argument: a torch.Generator or None (the global RNG).
GENERATOR: list[Constraint] = [
    InstanceOf(torch.Generator, description="a torch.Generator"),
    NoneOk(),
]
#: A flag: a real ``bool``.
BOOL: list[Constraint] = [Boolean()]

Constraints = Mapping[str, Sequence[Constraint]]


def validate_params(
    owner: Any, values: Mapping[str, Any], constraints: Constraints | None = None
) -> None:
    """Check ``values`` against declared constraints; raise the one-line ``ConfigError``.

    ``owner`` is the instance being built (its class's ``_parameter_constraints`` and its class
    name, so a subclass reports its own name) or, for a function, the function's name together
    with its module-level ``constraints``. Pass ``locals()`` as ``values``: the declared names
    found there are checked, in declaration order, and other names are ignored. A subclass that
    adds arguments extends its base's mapping (``{**Base._parameter_constraints, "layout": ...}``,
    as scikit-learn does), so the base's ``__init__`` checks the arguments it received and the
    subclass's call checks its own.
    """
    if isinstance(owner, str):
        name = owner
        declared = constraints
    else:
        name = type(owner).__name__
        declared = constraints if constraints is not None else owner._parameter_constraints
    if declared is None:
        raise TypeError(f"validate_params needs the constraints of {name}")
    for param, allowed in declared.items():
        if param not in values:
            continue
        value = values[param]
        if not any(c.is_satisfied_by(value) for c in allowed):
            choices = [c for con in allowed if isinstance(con, OneOf) for c in con.choices]
            raise param_error(param, name, describe(allowed), value, choices)


def store_float_fields(obj: Any) -> None:
    """Store the ints given to a frozen dataclass's declared ``float`` fields as floats.

    A dataclass spec declares ``_parameter_constraints`` and its ``__post_init__`` calls
    ``validate_params(self, vars(self))`` and then this, so that equal specs compare and
    serialize the same (``lr=1`` is ``lr=1.0``).
    """
    import dataclasses

    declared = type(obj)._parameter_constraints
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name in declared and f.type in ("float", "float | None") and isinstance(value, int):
            object.__setattr__(obj, f.name, float(value))


def check(owner: str, name: str, value: T, *constraints: Constraint) -> T:
    """``value`` if it satisfies any constraint (the older per-argument style).

    Kept for the modules not yet converted to declared constraints (listed in the module
    docstring); it goes through :func:`validate_params`, so the message is the same.
    """
    validate_params(owner, {name: value}, {name: constraints})
    return value


def validate(owner: str, params: Mapping[str, Any], spec: Constraints) -> None:
    """The older ``validate(owner, values, constraints)`` style: :func:`validate_params` itself.

    Example:
        >>> validate("Dropout", {"p": 0.1}, {"p": [Interval(float, 0, 1, closed="left")]})
    """
    validate_params(owner, params, spec)


def check_floating(owner: str, x: Any, name: str = "input") -> torch.Tensor:
    """Require a floating-point tensor; the message names the dtype that was given."""
    if not isinstance(x, torch.Tensor):
        raise ConfigError(
            f"{owner} expects a torch.Tensor as {name!r}. Got {type(x).__name__} instead."
        )
    if not x.is_floating_point():
        raise ConfigError(
            f"{owner} expects a floating-point tensor as {name!r}. Got dtype {x.dtype} instead."
        )
    return x


def check_ndim(
    owner: str,
    x: torch.Tensor,
    allowed: Iterable[int],
    expected: str,
    name: str = "input",
) -> torch.Tensor:
    """Require ``x.dim()`` in ``allowed``; ``expected`` describes the layout, e.g. ``"(N, C, L)"``."""
    if x.dim() not in set(allowed):
        raise ConfigError(
            f"{owner} expects {name!r} of shape {expected}. Got shape {tuple(x.shape)} instead."
        )
    return x


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator | None:
    """A ``torch.Generator`` seeded with ``seed``, or ``None`` (global RNG) when ``seed`` is None."""
    if seed is None:
        return None
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g
