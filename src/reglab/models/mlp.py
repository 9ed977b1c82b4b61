"""``MLP``: a multilayer perceptron for feature vectors (images are flattened first)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn

from .._checks import Constraints
from .blocks import dropout_layers, hidden_block, init_model, needs_bias
from .spec import FAMILY_CONSTRAINTS, ModelSpec, check_flat_model

__all__ = ["MLP"]

WIDTH, DEPTH = 32, 2


class MLP(nn.Sequential):
    """A multilayer perceptron: ``depth`` hidden blocks of ``width`` units, then the output layer.

    ``width`` and ``depth`` default to 32 and 2 (``ModelSpec`` fields left None).

    Image and signal inputs are flattened first. Hidden block: ``Linear -> [Norm] -> ReLU -> [Dropout]``
    (``norm_position="before"``) or ``Linear -> ReLU -> [Norm] -> [Dropout]`` (``"after"``).

    Args:
        spec: the :class:`~reglab.models.ModelSpec` (dropout, norm, init, width, depth); a lab
            ``Recipe`` is one.
        input_shape: one sample's shape, ``(F,)``, ``(C, L)`` or ``(C, H, W)``.
        num_outputs: classes, or 1 for regression.

    Example:
        >>> MLP(ModelSpec(width=16, depth=2), (4,), 3)(torch.zeros(2, 4)).shape
        torch.Size([2, 3])
    """

    _parameter_constraints: ClassVar[Constraints] = FAMILY_CONSTRAINTS

    def __init__(self, spec: ModelSpec, input_shape: Sequence[int], num_outputs: int) -> None:
        spec, shape = check_flat_model(self, spec, input_shape, num_outputs)
        layers: list[nn.Module] = [nn.Flatten()] if len(shape) > 1 else []
        features = int(torch.tensor(shape).prod())
        units, depth = spec.size(WIDTH, DEPTH)
        for _ in range(depth):
            layers.append(nn.Linear(features, units, bias=needs_bias(spec)))
            layers += hidden_block(spec, units, spatial=False)
            layers += dropout_layers(spec)
            features = units
        layers.append(nn.Linear(features, num_outputs))
        super().__init__(*layers)
        init_model(self, spec)
