"""Models the lab trains: an MLP and a small CNN, built from a :class:`~reglab.lab.recipe.Recipe`.

The recipe decides the regularizing parts of the architecture: the dropout rate and convention
(:class:`reglab.nn.Dropout`), the normalization layer (``"batch"``, ``"layer"``, ``"group"`` or
none) and its position relative to the activation (seed 000: Andrew Ng puts batch norm *before*
the ReLU, François Chollet *after* it), the initialization scheme (:mod:`reglab.init`) and the
size (``width``, ``depth``). A hidden block is::

    norm_position="before":  Linear/Conv -> Norm -> ReLU [-> Dropout]
    norm_position="after":   Linear/Conv -> ReLU -> Norm [-> Dropout]

``SmallCNN`` stacks ``depth`` convolution stages (3x3 convolution, block, 2x2 max pooling,
or average pooling with ``pool="avg"``; stage ``i`` has ``width * 2**i`` channels), flattens, and ends with one hidden dense block of
``4 * width`` units and the output layer; dropout acts on that hidden layer only, after the last
normalization, where it does not shift the statistics a norm layer sees (Li et al., 2019,
"Understanding the disharmony between dropout and batch normalization"). ``MLP`` has ``depth``
hidden dense blocks of ``width`` units each, dropout after each.

A user's own model plugs in through :func:`load_factory`: ``"package.module:factory"`` names a
callable ``factory(recipe, input_shape, num_outputs) -> nn.Module``.

Example:
    >>> import torch
    >>> from reglab.lab.recipe import Recipe
    >>> r = Recipe(norm="batch", norm_position="after", dropout=0.2, width=8)
    >>> model = build_model(r, (1, 8, 8), 10, kind="cnn")
    >>> model(torch.zeros(4, 1, 8, 8)).shape
    torch.Size([4, 10])
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ._checks import InstanceOf, Interval, OneOf, check
from .errors import ConfigError, format_value

if TYPE_CHECKING:
    from .lab.recipe import Recipe

__all__ = ["MLP", "ModelFactory", "SmallCNN", "build_model", "load_factory", "norm_layer"]

ModelFactory = Callable[["Recipe", tuple[int, ...], int], nn.Module]

_KINDS = ("cnn", "mlp")


def _recipe(owner: str, recipe: Any) -> Recipe:
    from .lab.recipe import Recipe

    return check(owner, "recipe", recipe, InstanceOf(Recipe, description="a reglab Recipe"))


def _num_groups(channels: int) -> int:
    # Wu & He's default is 32 groups; at the lab's widths that leaves one or two channels per
    # group, so use at most 8 groups (always a divisor of the channel count).
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


def norm_layer(kind: str | None, num_features: int, *, spatial: bool) -> nn.Module | None:
    """The normalization layer for ``num_features`` channels (``spatial``: conv feature maps).

    ``"batch"`` is :class:`reglab.nn.BatchNorm`; ``"layer"`` is :class:`reglab.nn.LayerNorm` on
    dense features and, on feature maps, ``GroupNorm(1, C)`` (statistics over ``C, H, W`` per
    sample, as layer norm does, with a per-channel affine); ``"group"`` is
    :class:`reglab.nn.GroupNorm` with 8 groups (fewer when ``C`` is not divisible by 8).

    Example:
        >>> norm_layer("group", 12, spatial=True).num_groups
        4
    """
    from . import nn as rnn

    check("norm_layer", "kind", kind, OneOf("batch", "layer", "group", None))
    if kind is None:
        return None
    if kind == "batch":
        return rnn.BatchNorm(num_features)
    if kind == "layer":
        return rnn.GroupNorm(1, num_features) if spatial else rnn.LayerNorm(num_features)
    return rnn.GroupNorm(_num_groups(num_features), num_features)


def _block(recipe: Recipe, features: int, *, spatial: bool) -> list[nn.Module]:
    """The layers after a Linear/Conv: norm and ReLU in the recipe's order."""
    norm = norm_layer(recipe.norm, features, spatial=spatial)
    if norm is None:
        return [nn.ReLU()]
    if recipe.norm_position == "before":
        return [norm, nn.ReLU()]
    return [nn.ReLU(), norm]


def _dropout(recipe: Recipe) -> list[nn.Module]:
    from . import nn as rnn

    if recipe.dropout == 0:
        return []
    return [rnn.Dropout(recipe.dropout, scaling=recipe.dropout_scaling)]


def _bias(recipe: Recipe) -> bool:
    # A batch/group/layer norm right after the layer subtracts the mean: a bias there is inert.
    return recipe.norm is None or recipe.norm_position == "after"


def _init(model: nn.Module, recipe: Recipe) -> None:
    if recipe.init is None:
        return
    from . import init

    init.apply_(model, recipe.init)


class MLP(nn.Sequential):
    """A multilayer perceptron: ``depth`` hidden blocks of ``width`` units, then the output layer.

    Image inputs are flattened first. Hidden block: ``Linear -> [Norm] -> ReLU -> [Dropout]``
    (``norm_position="before"``) or ``Linear -> ReLU -> [Norm] -> [Dropout]`` (``"after"``).

    Args:
        recipe: the :class:`~reglab.lab.recipe.Recipe` (dropout, norm, init, width, depth).
        input_shape: one sample's shape, ``(F,)`` or ``(C, H, W)``.
        num_outputs: classes, or 1 for regression.

    Example:
        >>> from reglab.lab.recipe import Recipe
        >>> MLP(Recipe(width=16, depth=2), (4,), 3)(torch.zeros(2, 4)).shape
        torch.Size([2, 3])
    """

    def __init__(self, recipe: Recipe, input_shape: Sequence[int], num_outputs: int) -> None:
        recipe = _recipe("MLP", recipe)
        shape = _input_shape("MLP", input_shape)
        num_outputs = check("MLP", "num_outputs", num_outputs, Interval(int, 1, None))
        layers: list[nn.Module] = [nn.Flatten()] if len(shape) > 1 else []
        features = int(torch.tensor(shape).prod())
        for _ in range(recipe.depth):
            layers.append(nn.Linear(features, recipe.width, bias=_bias(recipe)))
            layers += _block(recipe, recipe.width, spatial=False)
            layers += _dropout(recipe)
            features = recipe.width
        layers.append(nn.Linear(features, num_outputs))
        super().__init__(*layers)
        _init(self, recipe)


class SmallCNN(nn.Sequential):
    """A small convolutional network for ``(C, H, W)`` images.

    ``depth`` stages of ``Conv3x3(pad 1) -> block -> 2x2 pooling`` (max or average by
    ``recipe.pool``; stage ``i`` has ``width * 2**i`` channels; pooling stops once a side is
    1), ``Flatten``, one hidden block ``Linear(4 * width) -> block -> [Dropout]``, and the
    output ``Linear``. ``block`` is
    ``Norm -> ReLU`` or ``ReLU -> Norm`` by ``norm_position``, or just ``ReLU`` without a norm.

    Args:
        recipe: the :class:`~reglab.lab.recipe.Recipe` (dropout, norm, init, width, depth).
        input_shape: one image's shape ``(C, H, W)``.
        num_outputs: classes, or 1 for regression.

    Example:
        >>> from reglab.lab.recipe import Recipe
        >>> net = SmallCNN(Recipe(width=8, norm="batch"), (1, 8, 8), 10)
        >>> [type(m).__name__ for m in net][:4]
        ['Conv2d', 'BatchNorm', 'ReLU', 'MaxPool2d']
    """

    def __init__(self, recipe: Recipe, input_shape: Sequence[int], num_outputs: int) -> None:
        recipe = _recipe("SmallCNN", recipe)
        shape = _input_shape("SmallCNN", input_shape)
        if len(shape) != 3:
            raise ConfigError(
                "SmallCNN expects images of shape (C, H, W); got input_shape "
                f"{format_value(tuple(shape))}. Use kind='mlp' for tabular data."
            )
        num_outputs = check("SmallCNN", "num_outputs", num_outputs, Interval(int, 1, None))
        channels, height, width = shape
        layers: list[nn.Module] = []
        for i in range(recipe.depth):
            out = recipe.width * 2**i
            layers.append(nn.Conv2d(channels, out, 3, padding=1, bias=_bias(recipe)))
            layers += _block(recipe, out, spatial=True)
            if height > 1 and width > 1:
                layers.append(nn.MaxPool2d(2) if recipe.pool == "max" else nn.AvgPool2d(2))
                height, width = height // 2, width // 2
            channels = out
        hidden = 4 * recipe.width
        layers += [nn.Flatten(), nn.Linear(channels * height * width, hidden, bias=_bias(recipe))]
        layers += _block(recipe, hidden, spatial=False)
        layers += _dropout(recipe)
        layers.append(nn.Linear(hidden, num_outputs))
        super().__init__(*layers)
        _init(self, recipe)


def _input_shape(owner: str, input_shape: Any) -> tuple[int, ...]:
    ok = (
        isinstance(input_shape, (tuple, list, torch.Size))
        and len(input_shape) in (1, 3)
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in input_shape)
    )
    if not ok:
        raise ConfigError(
            f"The 'input_shape' parameter of {owner} must be a tuple of positive ints, (F,) or "
            f"(C, H, W). Got {format_value(input_shape)} instead."
        )
    return tuple(int(d) for d in input_shape)


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
            "The 'model' parameter must be 'cnn', 'mlp' or a factory spec 'package.module:name'. "
            f"Got {format_value(spec)} instead."
        )
    module_name, attr = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import failure of user code is a configuration problem
        raise ConfigError(
            f"Cannot import module {module_name!r} of model factory {spec!r}: "
            f"{type(exc).__name__}: {exc}. Is the package on PYTHONPATH?"
        ) from exc
    factory = module
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
    return factory  # type: ignore[return-value]


def build_model(
    recipe: Recipe,
    input_shape: Sequence[int],
    num_outputs: int,
    kind: str | ModelFactory = "cnn",
) -> nn.Module:
    """Build the lab's model: ``kind`` is ``"cnn"``, ``"mlp"``, ``"module:factory"`` or a callable.

    Parameters are drawn from torch's global generator: seed it (``torch.manual_seed``) for a
    reproducible model.

    Example:
        >>> from reglab.lab.recipe import Recipe
        >>> build_model(Recipe(width=4, depth=1), (3,), 2, kind="mlp")
        MLP(
          (0): Linear(in_features=3, out_features=4, bias=True)
          (1): ReLU()
          (2): Linear(in_features=4, out_features=2, bias=True)
        )
    """
    recipe = _recipe("build_model", recipe)
    if kind == "cnn":
        return SmallCNN(recipe, input_shape, num_outputs)
    if kind == "mlp":
        return MLP(recipe, input_shape, num_outputs)
    if isinstance(kind, str) and ":" not in kind:
        raise ConfigError(
            "The 'kind' parameter of build_model must be one of 'cnn', 'mlp' or a factory spec "
            f"'package.module:name'. Got {format_value(kind)} instead."
        )
    factory = load_factory(kind) if isinstance(kind, str) else kind
    name = kind if isinstance(kind, str) else getattr(kind, "__qualname__", repr(kind))
    model = factory(recipe, tuple(input_shape), num_outputs)
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"The model factory {name!r} must return a torch.nn.Module. "
            f"Got {type(model).__name__} instead."
        )
    return model
