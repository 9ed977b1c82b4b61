"""What ``fit`` infers before training: the device, and the task and loss from the targets.

Without ``loss=``, float targets mean regression (MSE), int64 class indices classification
(cross-entropy); a known torch loss fixes the task (``BCEWithLogitsLoss``: binary accuracy); a
custom loss takes the task from the targets and leaves shape checks to itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, format_value
from . import distributed as ddp

__all__ = ["infer_task", "resolve_device"]

_REGRESSION_LOSSES: tuple[Any, ...] = (
    nn.MSELoss,
    nn.L1Loss,
    nn.SmoothL1Loss,
    nn.HuberLoss,
    F.mse_loss,
    F.l1_loss,
    F.smooth_l1_loss,
    F.huber_loss,
)
_CLASS_LOSSES: tuple[Any, ...] = (nn.CrossEntropyLoss, nn.NLLLoss, F.cross_entropy, F.nll_loss)
_BINARY_LOSSES: tuple[Any, ...] = (nn.BCEWithLogitsLoss, F.binary_cross_entropy_with_logits)


def _known(loss: Any, kinds: tuple[Any, ...]) -> bool:
    return any(loss is k or (isinstance(k, type) and isinstance(loss, k)) for k in kinds)


def resolve_device(device: Any, model: nn.Module, world: ddp.World) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise _device_error(device)
    if device == "auto":
        for p in model.parameters():
            if p.device.type != "cpu":
                return p.device
        if world.backend == "nccl" or (world.active and torch.cuda.is_available()):
            return ddp.local_cuda_device()  # one GPU per rank
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise _device_error(device) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"The 'device' parameter of fit must name an available device. Got {device!r} "
            "instead: CUDA is not available here (use 'auto' or 'cpu')."
        )
    return resolved


def _device_error(device: Any) -> ConfigError:
    return ConfigError(
        f"The 'device' parameter of fit must be 'auto', a device name such as 'cpu' or "
        f"'cuda:0', or a torch.device. Got {format_value(device)} instead."
    )


def infer_task(
    loss: Callable[..., torch.Tensor] | None, y: torch.Tensor
) -> tuple[str, Callable[..., torch.Tensor], bool]:
    """``(task, loss_fn, check_shapes)`` for the user's ``loss`` and the first targets ``y``."""
    if loss is None:
        if y.is_floating_point():
            return "regression", F.mse_loss, True
        if y.dtype == torch.bool:
            raise ConfigError(
                "fit cannot infer a loss for boolean targets: pass float 0/1 targets with "
                "loss=torch.nn.BCEWithLogitsLoss(), or int64 class indices."
            )
        return "classification", F.cross_entropy, True
    if _known(loss, _REGRESSION_LOSSES):
        return "regression", loss, True
    if _known(loss, _BINARY_LOSSES):
        return "binary", loss, True
    if _known(loss, _CLASS_LOSSES):
        return "classification", loss, True
    # a custom loss: task from the targets, shapes are its own business
    return ("regression" if y.is_floating_point() else "classification"), loss, False
