"""``ModelSpec`` (what an architecture looks like) and the registry that builds models from it.

A :class:`ModelSpec` holds only architecture fields: size (``width``, ``depth``), the dropout
layers (rate and scaling convention), the normalization layer and its place relative to the
activation, the initialization scheme, the CNN's pooling and the text models' embedding (size,
word and element dropout, max-norm of the rows). Model families register a factory
``factory(spec, input_shape, num_outputs) -> nn.Module`` under a name with
:func:`register_model`; :func:`build_model` looks the name up (or imports a user's
``"package.module:factory"``) and checks what the factory returns.

Example:
    >>> import torch
    >>> spec = ModelSpec(width=8, norm="batch", norm_position="after", dropout=0.2)
    >>> build_model(spec, (1, 8, 8), 10, kind="cnn")(torch.zeros(4, 1, 8, 8)).shape
    torch.Size([4, 10])
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from .._checks import (
    Constraints,
    InstanceOf,
    Interval,
    NoneOk,
    OneOf,
    store_float_fields,
    validate_params,
)
from ..errors import ConfigError, did_you_mean, format_value

__all__ = [
    "MODEL_FIELDS",
    "ModelFactory",
    "ModelSpec",
    "build_model",
    "load_factory",
    "model_names",
    "register_model",
    "resolve_size",
]

ModelFactory = Callable[[Any, tuple[int, ...], int], nn.Module]
S = TypeVar("S", bound="ModelSpec")


@dataclass(frozen=True)
class ModelSpec:
    """The architecture of a lab model (frozen; every field validated on creation).

    A hidden block is ``Linear/Conv -> Norm -> ReLU [-> Dropout]`` with
    ``norm_position="before"`` (Ng's placement) or ``Linear/Conv -> ReLU -> Norm [-> Dropout]``
    with ``"after"`` (Chollet's).

    Args:
        dropout: drop probability ``p`` of the hidden layers (:class:`reglab.nn.Dropout`).
        dropout_scaling: ``"inverted"`` (scale by ``1/(1-p)`` in training) or ``"classic"``
            (scale by ``1-p`` at inference).
        norm: ``"batch"``, ``"layer"``, ``"group"`` or None.
        norm_position: the norm ``"before"`` or ``"after"`` the activation.
        init: ``"kaiming"``, ``"xavier"``, ``"lecun"``, ``"orthogonal"`` or None (torch's).
        width, depth: the model's size (units per dense layer / channels of the first stage,
            and the number of hidden blocks or conv stages); None is the family's default
            (32 and 2 for ``mlp`` and ``cnn``, 25 and 3 for ``cnn1d``).
        pool: the CNN's 2x2 downsampling, ``"max"`` or ``"avg"``.
        embedding_dim: the text models' embedding size; None is the family's default (100
            for ``bow``, 128 for ``textcnn`` and ``gru``).
        word_dropout: probability of dropping a whole token in training (its embedding vector
            zeroed; each occurrence independently), with the ``dropout_scaling`` convention.
        embedding_dropout: probability of dropping each element of the token embeddings.
        embedding_max_norm: every embedding row looked up is renormalised to at most this L2
            norm, as ``torch.nn.Embedding(max_norm=...)``; None: no limit.

    Example:
        >>> ModelSpec(norm="batch").norm
        'batch'
        >>> ModelSpec(width=0)
        Traceback (most recent call last):
        ...
        reglab.errors.ConfigError: The 'width' parameter of ModelSpec must be an int in [1, inf) or None. Got 0 instead.
    """

    dropout: float = 0.0
    dropout_scaling: str = "inverted"
    norm: str | None = None
    norm_position: str = "before"
    init: str | None = None
    width: int | None = None
    depth: int | None = None
    pool: str = "max"
    embedding_dim: int | None = None
    word_dropout: float = 0.0
    embedding_dropout: float = 0.0
    embedding_max_norm: float | None = None

    #: The declared constraint of each field (checked on creation).
    _parameter_constraints: ClassVar[Constraints] = {
        "dropout": [Interval(float, 0, 1, closed="left")],
        "dropout_scaling": [OneOf("inverted", "classic")],
        "norm": [OneOf("batch", "layer", "group"), NoneOk()],
        "norm_position": [OneOf("before", "after")],
        "init": [OneOf("kaiming", "xavier", "lecun", "orthogonal"), NoneOk()],
        "width": [Interval(int, 1, None), NoneOk()],
        "depth": [Interval(int, 1, None), NoneOk()],
        "pool": [OneOf("max", "avg")],
        "embedding_dim": [Interval(int, 1, None), NoneOk()],
        "word_dropout": [Interval(float, 0, 1, closed="left")],
        "embedding_dropout": [Interval(float, 0, 1, closed="left")],
        "embedding_max_norm": [Interval(float, 0, None, closed="neither"), NoneOk()],
    }

    def __post_init__(self) -> None:
        validate_params(self, vars(self))
        store_float_fields(self)

    def size(self, width: int, depth: int) -> tuple[int, int]:
        """``(width, depth)``, each field's family default ``width``/``depth`` where it is None.

        Example:
            >>> ModelSpec(depth=4).size(32, 2)
            (32, 4)
        """
        return (
            width if self.width is None else self.width,
            depth if self.depth is None else self.depth,
        )

    @property
    def model_spec(self) -> ModelSpec:
        """The architecture fields alone, as a plain :class:`ModelSpec` (for subclasses)."""
        return ModelSpec(**{name: getattr(self, name) for name in MODEL_FIELDS})


#: The field names of :class:`ModelSpec`, in declaration order.
MODEL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ModelSpec))

_REGISTRY: dict[str, ModelFactory] = {}
_SIZES: dict[str, dict[str, int]] = {}


#: The constraints of register_model's arguments, checked by validate_params.
_REGISTER_MODEL_CONSTRAINTS: Constraints = {
    "name": [InstanceOf(str, description="a str without ':' (':' marks 'module:factory' specs)")]
}


def register_model(
    name: str,
    factory: ModelFactory,
    *,
    width: int | None = None,
    depth: int | None = None,
    embedding_dim: int | None = None,
) -> None:
    """Make ``build_model(spec, input_shape, num_outputs, kind=name)`` call ``factory``.

    ``width``, ``depth`` and ``embedding_dim`` are the family's defaults, the sizes a spec that
    leaves them None gets (:func:`resolve_size` fills them in; None: the family has no such
    knob).

    Example:
        >>> register_model("tiny_linear", lambda spec, shape, k: nn.Linear(shape[0], k))
        >>> build_model(ModelSpec(), (3,), 2, kind="tiny_linear")
        Linear(in_features=3, out_features=2, bias=True)
    """
    validate_params("register_model", locals(), _REGISTER_MODEL_CONSTRAINTS)
    if ":" in name or not name:
        raise ConfigError(
            "The 'name' parameter of register_model must be a non-empty str without ':'. "
            f"Got {format_value(name)} instead."
        )
    if not callable(factory):
        raise ConfigError(
            "The 'factory' parameter of register_model must be callable as factory(spec, "
            f"input_shape, num_outputs). Got {format_value(factory)} instead."
        )
    _REGISTRY[name] = factory
    sizes = {"width": width, "depth": depth, "embedding_dim": embedding_dim}
    _SIZES[name] = {k: v for k, v in sizes.items() if v is not None}


def resolve_size(spec: S, kind: str) -> S:
    """``spec`` with a None ``width``/``depth``/``embedding_dim`` replaced by ``kind``'s default.

    A kind that is not registered (a user's ``"module:factory"``) leaves the spec as it is.

    Example:
        >>> resolve_size(ModelSpec(depth=3), "cnn1d").width, resolve_size(ModelSpec(), "mlp").depth
        (25, 2)
    """
    defaults = _SIZES.get(kind, {})
    changes: dict[str, Any] = {k: v for k, v in defaults.items() if getattr(spec, k) is None}
    return dataclasses.replace(spec, **changes) if changes else spec


def model_names() -> tuple[str, ...]:
    """The registered model kinds, in registration order."""
    return tuple(_REGISTRY)


def _kinds_text() -> str:
    return ", ".join(repr(k) for k in _REGISTRY)


def load_factory(spec: str) -> ModelFactory:
    """Import a user's model factory from ``"package.module:factory"``.

    The factory is called as ``factory(recipe, input_shape, num_outputs)`` and must return a
    ``torch.nn.Module`` (:func:`build_model` checks that on each call).

    Example:
        >>> f = load_factory("reglab.models:MLP")
        >>> f.__name__
        'MLP'
    """
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise ConfigError(
            f"The 'model' parameter must be {_kinds_text()} or a factory spec "
            f"'package.module:name'. Got {format_value(spec)} instead."
        )
    module_name, attr = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import failure of user code is a configuration problem
        raise ConfigError(
            f"Cannot import module {module_name!r} of model factory {spec!r}: "
            f"{type(exc).__name__}: {exc}. Is the package on PYTHONPATH?"
        ) from exc
    factory: Any = module
    for part in attr.split("."):
        if not hasattr(factory, part):
            raise ConfigError(
                f"Module {module_name!r} has no attribute {attr!r} (model factory {spec!r})."
            )
        factory = getattr(factory, part)
    if not callable(factory):
        raise ConfigError(
            f"The model factory {spec!r} must be callable as factory(recipe, input_shape, "
            f"num_outputs). Got {format_value(factory)} instead."
        )
    return factory


def build_model(
    spec: ModelSpec,
    input_shape: Sequence[int],
    num_outputs: int,
    kind: str | ModelFactory = "cnn",
) -> nn.Module:
    """Build a model: ``kind`` is a registered name, ``"module:factory"`` or a callable.

    The factory receives ``spec`` as given (a :class:`ModelSpec`, or a lab ``Recipe``, which is
    one), the sample shape as a tuple and the number of outputs. Parameters are drawn from
    torch's global generator: seed it (``torch.manual_seed``) for a reproducible model.

    Example:
        >>> build_model(ModelSpec(width=4, depth=1), (3,), 2, kind="mlp")
        MLP(
          (0): Linear(in_features=3, out_features=4, bias=True)
          (1): ReLU()
          (2): Linear(in_features=4, out_features=2, bias=True)
        )
    """
    spec = check_spec("build_model", spec)
    if isinstance(kind, str) and kind in _REGISTRY:
        factory, name = _REGISTRY[kind], kind
    elif isinstance(kind, str) and ":" not in kind:
        raise ConfigError(
            f"The 'kind' parameter of build_model must be one of {_kinds_text()} or a factory "
            f"spec 'package.module:name'. Got {format_value(kind)} instead."
            f"{did_you_mean(kind, _REGISTRY)}"
        )
    else:
        factory = load_factory(kind) if isinstance(kind, str) else kind
        name = kind if isinstance(kind, str) else getattr(kind, "__qualname__", repr(kind))
    model = factory(spec, tuple(input_shape), num_outputs)
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"The model factory {name!r} must return a torch.nn.Module. "
            f"Got {type(model).__name__} instead."
        )
    return model


#: The constraints of the arguments every model family's constructor checks declaratively (its
#: ``spec`` and ``input_shape`` have their own checks: :func:`check_spec`, :func:`check_input_shape`).
FAMILY_CONSTRAINTS: Constraints = {"num_outputs": [Interval(int, 1, None)]}

#: The constraints of check_spec's argument, checked by validate_params.
_CHECK_SPEC_CONSTRAINTS: Constraints = {
    "spec": [InstanceOf(ModelSpec, description="a reglab ModelSpec or Recipe")]
}


def check_spec(owner: str, spec: Any) -> ModelSpec:
    """``spec`` if it is a :class:`ModelSpec` (a lab ``Recipe`` is one), else the one-line error."""
    validate_params(owner, locals(), _CHECK_SPEC_CONSTRAINTS)
    return spec


def check_flat_model(
    model: nn.Module, spec: Any, input_shape: Any, num_outputs: Any
) -> tuple[ModelSpec, tuple[int, ...]]:
    """The spec and input shape of a model over flattened features, checked in order (then
    ``num_outputs``): inputs ``(F,)``, ``(C, L)`` or ``(C, H, W)``."""
    owner = type(model).__name__
    spec = check_spec(owner, spec)
    shape = check_input_shape(owner, input_shape, ndims=(1, 2, 3))
    validate_params(model, {"num_outputs": num_outputs})
    return spec, shape


def check_input_shape(
    owner: str, input_shape: Any, ndims: Sequence[int] = (1, 3)
) -> tuple[int, ...]:
    """One sample's shape as a tuple of positive ints with one of ``ndims`` dimensions."""
    layouts = {1: "(F,)", 2: "(C, L)", 3: "(C, H, W)"}
    ok = (
        isinstance(input_shape, (tuple, list, torch.Size))
        and len(input_shape) in ndims
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in input_shape)
    )
    if not ok:
        names = [layouts[n] for n in ndims]
        allowed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise ConfigError(
            f"The 'input_shape' parameter of {owner} must be a tuple of positive ints, {allowed}. "
            f"Got {format_value(input_shape)} instead."
        )
    return tuple(int(d) for d in input_shape)
