"""The layers every lab model shares: the norm layer, the hidden block, dropout, init.

A hidden block follows a Linear/Conv layer::

    norm_position="before":  Norm -> ReLU     (Ng: normalize the pre-activations)
    norm_position="after":   ReLU -> Norm     (Chollet: normalize the activations)

and dropout, where a model has it, comes after the block's last normalization, where it does not
shift the statistics a norm layer sees (Li et al., 2019, "Understanding the disharmony between
dropout and batch normalization").

Example:
    >>> from reglab.models.spec import ModelSpec
    >>> [type(m).__name__ for m in hidden_block(ModelSpec(norm="batch"), 4, spatial=False)]
    ['BatchNorm', 'ReLU']
"""

from __future__ import annotations

from torch import nn

from .._checks import Constraints, OneOf, validate_params
from .spec import ModelSpec

__all__ = ["dropout_layers", "hidden_block", "init_model", "needs_bias", "norm_layer"]


def _num_groups(channels: int) -> int:
    # Wu & He's default is 32 groups; at the lab's widths that leaves one or two channels per
    # group, so use at most 8 groups (always a divisor of the channel count).
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


#: The constraints of norm_layer's arguments, checked by validate_params.
_NORM_LAYER_CONSTRAINTS: Constraints = {"kind": [OneOf("batch", "layer", "group", None)]}


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
    from .. import nn as rnn

    validate_params("norm_layer", locals(), _NORM_LAYER_CONSTRAINTS)
    if kind is None:
        return None
    if kind == "batch":
        return rnn.BatchNorm(num_features)
    if kind == "layer":
        return rnn.GroupNorm(1, num_features) if spatial else rnn.LayerNorm(num_features)
    return rnn.GroupNorm(_num_groups(num_features), num_features)


def hidden_block(spec: ModelSpec, features: int, *, spatial: bool) -> list[nn.Module]:
    """The layers after a Linear/Conv: norm and ReLU in the spec's order."""
    norm = norm_layer(spec.norm, features, spatial=spatial)
    if norm is None:
        return [nn.ReLU()]
    if spec.norm_position == "before":
        return [norm, nn.ReLU()]
    return [nn.ReLU(), norm]


def dropout_layers(spec: ModelSpec) -> list[nn.Module]:
    """``[Dropout(p, scaling)]``, or nothing when the spec's rate is 0."""
    from .. import nn as rnn

    if spec.dropout == 0:
        return []
    return [rnn.Dropout(spec.dropout, scaling=spec.dropout_scaling)]


def needs_bias(spec: ModelSpec) -> bool:
    """Whether a layer followed by the spec's block needs a bias."""
    # A batch/group/layer norm right after the layer subtracts the mean: a bias there is inert.
    return spec.norm is None or spec.norm_position == "after"


def init_model(model: nn.Module, spec: ModelSpec) -> None:
    """Apply the spec's init scheme (:func:`reglab.init.apply_`); None keeps torch's."""
    if spec.init is None:
        return
    from .. import init

    init.apply_(model, spec.init)
