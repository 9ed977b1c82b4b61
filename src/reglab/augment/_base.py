"""The augmentation base class: declared settings and draws, and a pure ``apply``.

``aug(x, generator)`` is ``aug.apply(x, aug.generate_params(x.shape, generator))``: the parameters
are a plain ``dict`` of tensors with one row per sample, so a batch can be replayed exactly, saved,
or inspected (kornia's ``generate_parameters``/``apply_transform`` split).

A subclass declares what it takes and what it draws; the base class derives the rest:

* ``settings``: the constructor's own arguments (:class:`Setting`: name, constraints, default,
  how the value is stored). With the keyword-only ``options`` every augmentation of a family
  shares (``p``, ``same_on_batch``, ``value_range``; geometric ones add ``interpolation`` and
  ``fill``) they make the constructor, its signature, its ``_parameter_constraints`` (checked by
  :func:`reglab._checks.validate_params`, as everywhere) and ``repr``.
* ``draws``: the per-sample parameters (:class:`Draw`: the key in ``draws`` and the sampler
  that fills it from :mod:`reglab._rng`), drawn in order by ``generate_params``.
* what the parameters build: a geometric augmentation's ``build`` turns them into per-sample
  matrices; every augmentation's ``_apply`` applies them to a batch.

Example (an augmentation is its declaration and its ``_apply``):
    >>> from reglab._checks import Interval
    >>> class RandomGain(Augmentation):
    ...     settings = (Setting("gain", (Interval(float, 0, None),), store=lambda o, v: (1.0, 1.0 + v)),)
    ...     draws = (Draw("factor", uniform("gain")),)
    ...     def _apply(self, x, draws):
    ...         f = torch.where(draws["apply"], draws["factor"], 1.0).view(-1, 1, 1, 1)
    ...         return x * f.to(x.dtype)
    >>> RandomGain(0.5, p=0.8)
    RandomGain(gain=(1.0, 1.5), p=0.8)
    >>> sorted(RandomGain(0.5).generate_params((4, 3, 8, 8), torch.Generator().manual_seed(0)))
    ['apply', 'factor']

Integer images: an augmentation computes in floating point. An integer image is accepted only
when the augmentation (or the ``Compose`` holding it) declares the range of its values with
``value_range=(low, high)``, e.g. ``(0, 255)`` for ``uint8``: the result is then rounded, clipped
to that range and cast back to the input's dtype. Parameters such as a noise ``std`` or a
brightness ``delta`` are in the image's own units. For float images ``value_range`` is optional
and, when given, clips the output to it.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch

from .. import _rng
from .._checks import GENERATOR, Boolean, Constraint, Constraints, Interval, validate_params
from ..errors import ConfigError, format_value
from ..regularizer import InputAugmentation

__all__ = ["Augmentation", "Draw", "Draws", "Setting"]

Draws = dict[str, torch.Tensor]

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))


class RangePair(Constraint):
    """A pair of finite floats inside ``left..right``.

    ``ordered=True``: a ``(min, max)`` range with ``min <= max``; ``ordered=False``: one bound
    per axis, ``(x, y)``. ``length=4`` with ``ordered=True`` takes two ranges,
    ``(xmin, xmax, ymin, ymax)``. ``open_left``/``open_right`` exclude the bounds.
    """

    def __init__(
        self,
        left: float,
        right: float,
        *,
        ordered: bool = True,
        length: int = 2,
        open_left: bool = False,
        open_right: bool = False,
    ) -> None:
        self.left = left
        self.right = right
        self.ordered = ordered
        self.length = length
        self.open_left = open_left
        self.open_right = open_right

    def _inside(self, v: float) -> bool:
        lo_ok = v > self.left if self.open_left else v >= self.left
        hi_ok = v < self.right if self.open_right else v <= self.right
        return lo_ok and hi_ok

    def is_satisfied_by(self, value: Any) -> bool:
        if not isinstance(value, (tuple, list)) or len(value) != self.length:
            return False
        if not all(_is_real(v) for v in value):
            return False
        vals = [float(v) for v in value]
        if not all(self._inside(v) for v in vals):
            return False
        if self.ordered:
            return all(vals[i] <= vals[i + 1] for i in range(0, self.length, 2))
        return True

    def __str__(self) -> str:
        lb = "(" if self.open_left else "["
        rb = ")" if self.open_right else "]"
        hi = "inf" if math.isinf(self.right) else _num(self.right)
        interval = f"{lb}{_num(self.left)}, {hi}{rb}"
        if not self.ordered:
            return f"an (x, y) pair of floats in {interval}"
        if self.length == 4:
            return f"a (xmin, xmax, ymin, ymax) tuple of floats in {interval}"
        return f"a (min, max) pair of floats in {interval}"


class FloatSequence(Constraint):
    """A sequence of ``length`` finite floats (``length=None``: any non-empty length)."""

    def __init__(self, length: int | None, description: str) -> None:
        self.length = length
        self.description = description

    def is_satisfied_by(self, value: Any) -> bool:
        if not isinstance(value, (tuple, list)) or len(value) == 0:
            return False
        if self.length is not None and len(value) != self.length:
            return False
        return all(_is_real(v) for v in value)

    def __str__(self) -> str:
        return self.description


class ValueRange(Constraint):
    """``None`` or a ``(low, high)`` pair of finite floats with ``low < high``."""

    def is_satisfied_by(self, value: Any) -> bool:
        if value is None:
            return True
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            return False
        return all(_is_real(v) for v in value) and float(value[0]) < float(value[1])

    def __str__(self) -> str:
        return "None or a (low, high) pair of floats with low < high"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def as_range(value: float | Sequence[float], centre: float = 0.0) -> tuple[float, float]:
    """``m`` -> ``(centre - m, centre + m)``; a pair -> itself as floats."""
    if isinstance(value, (int, float)):
        return centre - float(value), centre + float(value)
    return float(value[0]), float(value[1])


#: The arguments of ``generate_params`` (and of the calls that draw), checked by validate_params.
GENERATE_CONSTRAINTS: Constraints = {"generator": GENERATOR}


# ------------------------------------------------------------------------------ fill values
FILL = (
    Interval(float, None, None),
    FloatSequence(None, "a float or a sequence of per-channel floats"),
)


def fill_tuple(fill: float | Sequence[float]) -> tuple[float, ...]:
    """A fill value as a tuple of floats (one, or one per channel)."""
    if isinstance(fill, (int, float)):
        return (float(fill),)
    return tuple(float(v) for v in fill)


def fill_shown(fill: tuple[float, ...]) -> Any:
    """How ``repr`` shows a fill: the float when there is one value, else the tuple."""
    return fill[0] if len(fill) == 1 else fill


def fill_setting(name: str) -> Setting:
    """A fill value argument called ``name`` (default 0): one float, or one per channel."""
    return Setting(name, FILL, 0.0, store=lambda o, v: fill_tuple(v), show=fill_shown)


def fill_tensor(
    owner: str, fill: tuple[float, ...], c: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """(1, C, 1, 1) fill values, or the error for a count that is neither 1 nor ``c``."""
    if len(fill) not in (1, c):
        raise ConfigError(
            f"{owner} has a fill of {len(fill)} values for an image with {c} channels: "
            f"give one value or one per channel."
        )
    return torch.tensor(fill, dtype=dtype, device=device).view(1, -1, 1, 1)


# ------------------------------------------------------------------------------ declarations
REQUIRED = inspect.Parameter.empty


def _same(owner: str, value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Setting:
    """A constructor argument: its name, the constraints it must meet, its default, its storage.

    The ``constraints`` of a class's settings and options make its ``_parameter_constraints``.
    ``store(owner, value)`` turns the checked value into the attribute (e.g. ``d`` into the range
    ``(-d, d)``); it may check further, as an element-wise check does. ``optional=True`` lets
    ``None`` through unchecked (stored as ``None``). ``show`` is how ``repr`` prints the stored
    value and ``hidden`` the stored values ``repr`` leaves out.
    """

    name: str
    constraints: tuple[Constraint, ...] = ()
    default: Any = REQUIRED
    store: Callable[[str, Any], Any] = _same
    optional: bool = False
    show: Callable[[Any], Any] | None = None
    hidden: Callable[[Any], bool] | None = None

    def skips(self, value: Any) -> bool:
        """Whether ``value`` passes unchecked (``None`` of an optional setting)."""
        return value is None and self.optional

    def read(self, owner: str, value: Any) -> Any:
        """What the augmentation stores for ``value`` (checked against the constraints before)."""
        if self.skips(value):
            return None
        return self.store(owner, value)


@dataclass(frozen=True)
class Sampling:
    """What one call of ``generate_params`` draws for.

    ``n`` rows (1 with ``same_on_batch``), the batch ``shape`` (``n`` first), the ``generator``,
    the floating ``dtype`` of dense parameters and the ``device`` asked for (used when
    ``generator`` is None; :attr:`home` is where the draws land).
    """

    n: int
    shape: tuple[int, ...]
    generator: torch.Generator | None
    dtype: torch.dtype
    device: torch.device | None

    @property
    def home(self) -> torch.device | None:
        """The device of the draws: the generator's, else the one asked for."""
        return _rng.device_of(self.generator, self.device)


#: A sampler: ``(augmentation, sampling) -> tensor`` with ``sampling.n`` rows.
Sampler = Callable[[Any, Sampling], torch.Tensor]


@dataclass(frozen=True)
class Draw:
    """A per-sample parameter: ``draws[key] = sample(aug, sampling)``."""

    key: str
    sample: Sampler


def uniform(setting: str, missing: float = 0.0, columns: int = 1) -> Sampler:
    """Sampler of U[low, high) per sample from the ``(low, high)`` stored in ``setting``.

    ``columns=2`` draws two columns from a stored ``(low1, high1, low2, high2)``. A setting
    stored as ``None`` gives ``missing`` without a draw.
    """

    def sample(aug: Any, at: Sampling) -> torch.Tensor:
        bounds = getattr(aug, setting)
        n = at.n
        size = (n,) if columns == 1 else (n, columns)
        if bounds is None:
            return torch.full(size, missing, dtype=at.dtype, device=at.home)
        cols = [
            _rng.uniform(
                n, bounds[2 * j], bounds[2 * j + 1], at.generator, dtype=at.dtype, device=at.device
            )
            for j in range(columns)
        ]
        return cols[0] if columns == 1 else torch.stack(cols, dim=1)

    return sample


def normal(setting: str) -> Sampler:
    """Sampler of N(0, std^2) noise of the batch's shape, ``std`` stored in ``setting``."""

    def sample(aug: Any, at: Sampling) -> torch.Tensor:
        return _rng.normal(
            at.shape, getattr(aug, setting), at.generator, dtype=at.dtype, device=at.device
        )

    return sample


def p_option(default: float) -> Setting:
    """The ``p`` option (per-sample probability) with another default."""
    return replace(P, default=default)


P = Setting("p", (Interval(float, 0, 1),), 1.0, store=lambda o, v: float(v))
SAME_ON_BATCH = Setting("same_on_batch", (Boolean(),), False, hidden=lambda v: not v)
VALUE_RANGE = Setting(
    "value_range",
    (ValueRange(),),
    None,
    store=lambda o, v: None if v is None else (float(v[0]), float(v[1])),
    hidden=lambda v: v is None,
)


class Augmentation(InputAugmentation):
    """Base class: draws per-sample parameters, then applies them with a pure function.

    Subclasses declare ``settings`` and ``draws`` (see the module docstring) and implement
    ``_apply(x, draws) -> Tensor`` (pure, on a float ``(N, C, H, W)`` batch, never modifying
    ``x``). From the declaration the base class builds the constructor (checks, stored values,
    signature) and ``repr``, and ``generate_params`` draws the per-sample ``apply`` mask
    (probability ``p``) and then each declared parameter; it also handles ``same_on_batch``,
    single images, low-precision floats and integer images with a declared ``value_range``.

    Args:
        p: probability that each sample is transformed.
        same_on_batch: draw one set of parameters and use it for every sample.
        value_range: ``(low, high)`` of the pixel values; required for integer images, optional
            (clips the output) for float images.

    Example:
        >>> import torch, reglab.augment as A
        >>> aug = A.RandomRotation(15.0)
        >>> x = torch.rand(4, 3, 8, 8)
        >>> g = torch.Generator().manual_seed(0)
        >>> draws = aug.generate_params(x.shape, generator=g)
        >>> y = aug.apply(x, draws)
        >>> torch.equal(y, aug(x, generator=torch.Generator().manual_seed(0)))
        True
    """

    mixes_labels: ClassVar[bool] = False
    # Whether the base class draws the per-sample "apply" mask; RandomFlip draws its own.
    _draws_mask: ClassVar[bool] = True
    # "image": (N, C, H, W) or (C, H, W); "features": (N, F) or (F,).
    _layout: ClassVar[str] = "image"
    #: The constructor's own arguments, positional or keyword, in order.
    settings: ClassVar[tuple[Setting, ...]] = ()
    #: The keyword-only arguments shared by a family of augmentations.
    options: ClassVar[tuple[Setting, ...]] = (P, SAME_ON_BATCH, VALUE_RANGE)
    #: The per-sample parameters, drawn in this order (after the "apply" mask).
    draws: ClassVar[tuple[Draw, ...]] = ()

    p: float = 1.0
    same_on_batch: bool = False
    value_range: tuple[float, float] | None = None
    _declared: ClassVar[inspect.Signature]
    #: Derived from the ``constraints`` of ``settings`` and ``options``.
    _parameter_constraints: ClassVar[Constraints]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._declared = cls._signature()
        cls._parameter_constraints = cls._constraints()
        if getattr(cls.__init__, "_declared", False):
            # No __init__ of its own: a constructor whose signature is the declared one.
            def __init__(self: Augmentation, *args: Any, **kwargs: Any) -> None:
                Augmentation.__init__(self, *args, **kwargs)

            __init__.__signature__ = cls._signature(with_self=True)  # type: ignore[attr-defined]
            __init__.__qualname__ = f"{cls.__qualname__}.__init__"
            __init__._declared = True  # type: ignore[attr-defined]
            cls.__init__ = __init__  # type: ignore[method-assign]

    @classmethod
    def _signature(cls, with_self: bool = False) -> inspect.Signature:
        kind = inspect.Parameter
        params = [kind("self", kind.POSITIONAL_OR_KEYWORD)] if with_self else []
        params += [
            kind(s.name, kind.POSITIONAL_OR_KEYWORD, default=s.default) for s in cls.settings
        ]
        params += [kind(s.name, kind.KEYWORD_ONLY, default=s.default) for s in cls.options]
        return inspect.Signature(params)

    @classmethod
    def _constraints(cls) -> Constraints:
        declared = (*cls.settings, *cls.options)
        return {s.name: s.constraints for s in declared if s.constraints}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        owner = type(self).__name__
        bound = type(self)._declared.bind(*args, **kwargs)
        bound.apply_defaults()
        declared = (*self.settings, *self.options)
        values = bound.arguments
        validate_params(
            self, {s.name: values[s.name] for s in declared if not s.skips(values[s.name])}
        )
        for s in declared:
            setattr(self, s.name, s.read(owner, values[s.name]))
        self._setup()

    # ----------------------------------------------------------------------------- subclass API
    def _setup(self) -> None:
        """State derived from the settings (called at the end of ``__init__``)."""

    def _draw(self, at: Sampling) -> Draws:
        return {d.key: d.sample(self, at) for d in self.draws}

    def _check_generator(self, generator: Any) -> None:
        """The error for a ``generator`` that is not a torch.Generator or None."""
        validate_params(type(self).__name__, {"generator": generator}, GENERATE_CONSTRAINTS)

    def _settle(self, draws: Draws) -> Draws:
        """The parameters ``generate_params`` returns, from those drawn (one row per sample)."""
        return draws

    def _apply(self, x: torch.Tensor, draws: Draws) -> torch.Tensor:
        raise NotImplementedError

    def _apply_fresh(self, x: torch.Tensor, draws: Draws) -> torch.Tensor:
        """``_apply`` for parameters drawn by this call (free to reuse their buffers)."""
        return self._apply(x, draws)

    def _out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The batch shape after this augmentation (changed only by crops)."""
        return shape

    # ----------------------------------------------------------------------------- public API
    def generate_params(
        self,
        shape: Sequence[int],
        generator: torch.Generator | None = None,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Draws:
        """Draw the parameters for a batch of ``shape``: a dict of tensors, one row per sample.

        ``dtype`` is the floating dtype of dense parameters (noise), ``device`` where they are
        drawn when ``generator`` is None (otherwise the generator's device).
        """
        self._check_generator(generator)
        full = self._full_shape(shape)
        n = full[0]
        m = 1 if self.same_on_batch else n
        dev = torch.device(device) if device is not None else None
        draws: Draws = {}
        if self._draws_mask:
            draws["apply"] = _rng.bernoulli(m, self.p, generator, device=dev)
        draws.update(self._draw(Sampling(m, (m, *full[1:]), generator, dtype, dev)))
        if self.same_on_batch and n != 1:
            draws = {k: v.expand(n, *v.shape[1:]) for k, v in draws.items()}
        return self._settle(draws)

    def apply(self, x: torch.Tensor, draws: Draws) -> torch.Tensor:
        """Apply the given parameters to ``x`` (pure: ``x`` is not modified)."""
        x4, restore = self._prepare(x)
        self._check_draws(draws, x4.shape[0])
        return restore(self._apply(x4, draws))

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw fresh parameters for ``x`` and apply them."""
        x4, restore = self._prepare(x)
        # float32 parameters whatever the input's dtype, so that
        # aug(x, g) == aug.apply(x, aug.generate_params(x.shape, g)) for float64 inputs too.
        draws = self.generate_params(x4.shape, generator, device=x4.device)
        return restore(self._apply_fresh(x4, draws))

    def __repr__(self) -> str:
        fields = []
        for s in (*self.settings, *self.options):
            value = getattr(self, s.name)
            if s.hidden is None or not s.hidden(value):
                fields.append((s.name, value if s.show is None else s.show(value)))
        inner = ", ".join(f"{k}={v!r}" for k, v in fields)
        return f"{type(self).__name__}({inner})"

    # ----------------------------------------------------------------------------- helpers
    def _full_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        owner = type(self).__name__
        dims = shape_ints(owner, shape, self._expected())
        if self._layout == "image":
            if len(dims) == 3:
                dims = (1, *dims)
            if len(dims) != 4 or min(dims[1:], default=0) < 1:
                raise ConfigError(
                    f"{owner} expects a shape {self._expected()}. Got {dims} instead."
                )
        else:
            if len(dims) == 1:
                dims = (1, *dims)
            if len(dims) != 2 or dims[1] < 1:
                raise ConfigError(
                    f"{owner} expects a shape {self._expected()}. Got {dims} instead."
                )
        return dims

    def _expected(self) -> str:
        return "(N, C, H, W) or (C, H, W)" if self._layout == "image" else "(N, F) or (F,)"

    def _prepare(self, x: Any) -> tuple[torch.Tensor, Any]:
        """Validate ``x``; return a float batch and the function that restores dtype and shape."""
        owner = type(self).__name__
        check_input_tensor(owner, x)
        single_ndim = 3 if self._layout == "image" else 1
        if x.dim() not in (single_ndim, single_ndim + 1) or any(
            s < 1 for s in x.shape[-single_ndim:]
        ):
            raise ConfigError(
                f"{owner} expects 'input' of shape {self._expected()}. "
                f"Got shape {tuple(x.shape)} instead."
            )
        if x.is_complex():
            raise ConfigError(
                f"{owner} expects a real floating-point or integer tensor. Got dtype {x.dtype} instead."
            )
        single = x.dim() == single_ndim
        dtype = x.dtype
        vr = self.value_range
        if not x.is_floating_point():
            if vr is None:
                noun = "image" if self._layout == "image" else "input"
                raise ConfigError(
                    f"{owner} got an integer {noun} (dtype {dtype}) without a declared value "
                    f"range: pass value_range=(low, high), e.g. (0, 255) for uint8, or convert "
                    f"the {noun} to a float tensor."
                )
            xf = x.to(torch.float32)
        elif dtype in _LOW_PRECISION:
            xf = x.to(torch.float32)
        else:
            xf = x
        if single:
            xf = xf.unsqueeze(0)

        def restore(y: torch.Tensor) -> torch.Tensor:
            if vr is not None:
                if not dtype.is_floating_point:
                    y = y.round()
                y = y.clamp(vr[0], vr[1])
            if single:
                y = y.squeeze(0)
            return y.to(dtype)

        return xf, restore

    def _check_draws(self, draws: Any, n: int) -> None:
        owner = type(self).__name__
        if not isinstance(draws, dict):
            raise ConfigError(
                f"{owner}.apply expects draws as a dict of tensors from generate_params. "
                f"Got {type(draws).__name__} instead."
            )
        for key, value in draws.items():
            if not isinstance(value, torch.Tensor) or value.dim() == 0 or value.shape[0] != n:
                got = (
                    f"shape {tuple(value.shape)}"
                    if isinstance(value, torch.Tensor)
                    else type(value).__name__
                )
                raise ConfigError(
                    f"{owner}.apply got draws[{key!r}] with {got} for a batch of {n} samples: "
                    f"draw them with generate_params for this batch's shape."
                )


def shape_ints(owner: str, shape: Any, expected: str) -> tuple[int, ...]:
    """``shape`` as a tuple of ints, or the ConfigError naming the ``expected`` layout."""
    try:
        return tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{owner} expects a shape {expected}. Got {format_value(shape)} instead."
        ) from None


def check_input_tensor(owner: str, x: Any) -> None:
    """The ConfigError for an ``input`` that is not a tensor."""
    if not isinstance(x, torch.Tensor):
        raise ConfigError(
            f"{owner} expects a torch.Tensor as 'input'. Got {type(x).__name__} instead."
        )


def get(draws: Draws, key: str, owner: str) -> torch.Tensor:
    """``draws[key]``, or a one-line error naming the missing key and the ones present."""
    try:
        return draws[key]
    except KeyError:
        raise ConfigError(
            f"{owner}.apply needs draws[{key!r}] (draw them with generate_params). "
            f"Got keys {sorted(draws)} instead."
        ) from None


Augmentation._declared = Augmentation._signature()
Augmentation.__init__.__signature__ = Augmentation._signature(with_self=True)  # type: ignore[attr-defined]
Augmentation._parameter_constraints = Augmentation._constraints()
Augmentation.__init__._declared = True  # type: ignore[attr-defined]
