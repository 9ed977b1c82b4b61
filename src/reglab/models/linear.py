"""``LinearModel``: logistic regression (classes) or linear regression (one output)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn

from .._checks import Constraints
from .blocks import dropout_layers, init_model
from .spec import FAMILY_CONSTRAINTS, ModelSpec, check_flat_model

__all__ = ["LinearModel"]


class LinearModel(nn.Sequential):
    """``y = W x + b`` on the flattened sample: logistic regression under cross-entropy, linear
    regression under the squared error.

    The spec's ``dropout`` (if any) drops input features; ``width``, ``depth``, ``norm`` and
    ``pool`` do not apply. ``init`` initializes ``W``.

    Args:
        spec: the :class:`~reglab.models.ModelSpec`.
        input_shape: one sample's shape: ``(F,)``, ``(C, L)`` or ``(C, H, W)``.
        num_outputs: classes, or 1 for regression.

    Example:
        >>> m = LinearModel(ModelSpec(), (1, 40), 10)
        >>> m(torch.zeros(2, 1, 40)).shape, sum(p.numel() for p in m.parameters())
        (torch.Size([2, 10]), 410)
    """

    _parameter_constraints: ClassVar[Constraints] = FAMILY_CONSTRAINTS

    def __init__(self, spec: ModelSpec, input_shape: Sequence[int], num_outputs: int) -> None:
        spec, shape = check_flat_model(self, spec, input_shape, num_outputs)
        layers: list[nn.Module] = [nn.Flatten()] if len(shape) > 1 else []
        layers += dropout_layers(spec)
        layers.append(nn.Linear(int(torch.tensor(shape).prod()), num_outputs))
        super().__init__(*layers)
        init_model(self, spec)
