"""``CNN1d``: a small convolutional network for 1-D signals ``(C, L)``.

Its defaults are the CNN of MNIST-1D (Greydanus & Kobak, "Scaling down deep learning with
MNIST-1D", ICML 2024): three convolutions of 25 channels with kernels 5, 3, 3, stride 2 and
padding 1, each followed by a ReLU, then a linear head on the flattened features; 5,210
parameters for MNIST-1D's ``(1, 40)`` signals and 10 classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from torch import nn

from .._checks import Constraints, validate_params
from ..errors import ConfigError, format_value
from .blocks import dropout_layers, hidden_block, init_model, needs_bias
from .spec import FAMILY_CONSTRAINTS, ModelSpec, check_input_shape, check_spec

__all__ = ["CNN1d"]

WIDTH, DEPTH = 25, 3


def _out_length(length: int, kernel: int) -> int:
    return (length + 2 - kernel) // 2 + 1


class CNN1d(nn.Sequential):
    """Strided 1-D convolutions, then a linear head.

    ``depth`` convolutions (default 3) of ``width`` channels (default 25): the first with
    kernel 5, the others kernel 3, all stride 2 and padding 1; each is followed by the spec's
    block (``Norm -> ReLU`` or ``ReLU -> Norm``, or ``ReLU`` alone). The features are
    flattened, dropped out with the spec's rate (dropout acts before the head only), and a
    ``Linear`` gives the outputs. ``pool`` does not apply (the strides downsample).

    Args:
        spec: the :class:`~reglab.models.ModelSpec`; a lab ``Recipe`` is one.
        input_shape: one signal's shape ``(C, L)``.
        num_outputs: classes, or 1 for regression.

    Example:
        >>> import torch
        >>> net = CNN1d(ModelSpec(), (1, 40), 10)
        >>> net(torch.zeros(2, 1, 40)).shape, sum(p.numel() for p in net.parameters())
        (torch.Size([2, 10]), 5210)
    """

    _parameter_constraints: ClassVar[Constraints] = FAMILY_CONSTRAINTS

    def __init__(self, spec: ModelSpec, input_shape: Sequence[int], num_outputs: int) -> None:
        spec = check_spec("CNN1d", spec)
        shape = check_input_shape("CNN1d", input_shape, ndims=(1, 2, 3))
        if len(shape) != 2:
            raise ConfigError(
                "CNN1d expects signals of shape (C, L); got input_shape "
                f"{format_value(tuple(shape))}. Use kind='cnn' for images or 'mlp' for tables."
            )
        validate_params(self, locals())
        channels, length = shape
        width, depth = spec.size(WIDTH, DEPTH)
        layers: list[nn.Module] = []
        for i in range(depth):
            kernel = 5 if i == 0 else 3
            if _out_length(length, kernel) < 1:
                raise ConfigError(
                    f"CNN1d with depth {depth} needs longer signals: convolution {i + 1} gets "
                    f"length {length}, shorter than its kernel {kernel} allows. Got input_shape "
                    f"{format_value(tuple(shape))}; use a smaller depth."
                )
            layers.append(
                nn.Conv1d(channels, width, kernel, stride=2, padding=1, bias=needs_bias(spec))
            )
            layers += hidden_block(spec, width, spatial=True)
            channels, length = width, _out_length(length, kernel)
        layers.append(nn.Flatten())
        layers += dropout_layers(spec)
        layers.append(nn.Linear(channels * length, num_outputs))
        super().__init__(*layers)
        init_model(self, spec)
