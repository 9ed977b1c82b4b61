"""Normalization layers, drop-in for torch's (the batch-norm safety kit is in ``norm_tools.py``).

:class:`BatchNorm` is one class for ``(N, C)`` and ``(N, C, *)`` inputs with the outputs,
gradients, running statistics and state_dict keys of torch's ``BatchNorm1d/2d/3d``, plus ghost
batches, batch renormalization and a policy for batches with one value per channel.
:class:`LayerNorm`, :class:`GroupNorm` and :class:`RMSNorm` mirror torch's signatures.
:func:`recalibrate_batchnorm`, :func:`freeze_batchnorm` and :func:`find_dropout_before_batchnorm`
(in :mod:`reglab.nn.norm_tools`) repair or diagnose the usual batch-norm traps.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from .._checks import (
    BOOL,
    Constraints,
    InstanceOf,
    Interval,
    NoneOk,
    OneOf,
    check_floating,
    validate_params,
)
from ..errors import ConfigError, param_error
from ..functional.norm import (
    RenormClipping,
    _batch_norm,
    _batch_renorm,
    _check_bn_input,
    _check_trailing,
    _ghost_splits,
    _rms_norm,
    _sync_active,
    _sync_batch_norm,
    keras_momentum,
)

__all__ = [
    "BatchNorm",
    "GroupNorm",
    "LayerNorm",
    "RMSNorm",
    "RenormClipping",
    "keras_momentum",
]

_CUDNN = torch.backends.cudnn
_EPS = Interval(float, 0, None, closed="neither")
_MOMENTUM = Interval(float, 0, 1)
_NONE = NoneOk()
_SHAPE_DOC = "an int or a sequence of ints >= 1"


class BatchNorm(_BatchNorm):
    """Batch normalization for ``(N, C)`` and ``(N, C, *)`` inputs, torch-exact, with extras.

    Training normalizes each channel with the batch statistics (biased variance) and moves the
    running averages towards them (unbiased variance), exactly as torch's ``BatchNorm1d/2d/3d``::

        y = gamma * (x - mu_B) / sqrt(sigma_B^2 + eps) + beta
        running <- (1 - momentum) * running + momentum * batch_stat     (momentum=None:
                                                                          cumulative average)

    Evaluation uses the running averages. The state_dict has torch's keys (``weight``, ``bias``,
    ``running_mean``, ``running_var``, ``num_batches_tracked``) and loads both ways; with
    ``renorm`` it adds ``running_std``, ``renorm_mean`` and ``renorm_std`` (derived from the
    running statistics when a torch state_dict lacks them).

    Args:
        num_features: ``C``.
        eps: added to the variance.
        momentum: torch convention (weight of the new batch); ``None`` for a cumulative average.
            Convert Keras' momentum with :func:`keras_momentum`.
        affine: learn ``gamma`` (``weight``) and ``beta`` (``bias``).
        track_running_stats: keep running averages; if False, batch statistics are used in eval.
        virtual_batch_size: ghost batch norm: in training, split the batch into
            ``N // virtual_batch_size`` ghost batches, each normalized with its own statistics
            (see :func:`reglab.functional.batch_norm`).
        small_batch: what a training batch with a single value per channel (e.g. ``(1, C)``)
            does: ``"error"`` raises a one-line ``ConfigError`` naming the fixes;
            ``"running_stats"`` normalizes it with the running statistics and leaves them as
            they are.
        renorm: a :class:`RenormClipping` for batch renormalization (Keras 3 semantics), or None.
        sync: in training, compute the statistics over every rank of ``process_group`` by
            all-reducing batch sums (any backend, gloo/CPU included); see
            :func:`reglab.functional.sync_batch_norm`. A no-op without an initialized group of
            two or more ranks.
        process_group: the group for ``sync`` (``None``: the default group).

    Example:
        >>> bn = BatchNorm(3)
        >>> y = bn(torch.randn(8, 3, 4, 4, generator=torch.Generator().manual_seed(0)))
        >>> sorted(bn.state_dict()) == sorted(torch.nn.BatchNorm2d(3).state_dict())
        True

    Papers: Ioffe & Szegedy 2015 (arXiv:1502.03167); Hoffer et al. 2017 (arXiv:1705.08741,
    ghost batches); Ioffe 2017 (arXiv:1702.03275, renormalization).
    """

    running_std: Tensor | None
    renorm_mean: Tensor | None
    renorm_std: Tensor | None

    _parameter_constraints: ClassVar[Constraints] = {
        "num_features": [Interval(int, 1, None)],
        "eps": [_EPS],
        "momentum": [_MOMENTUM, _NONE],
        "affine": BOOL,
        "track_running_stats": BOOL,
        "virtual_batch_size": [Interval(int, 1, None), _NONE],
        "small_batch": [OneOf("error", "running_stats")],
        "renorm": [InstanceOf(RenormClipping, description="a RenormClipping"), _NONE],
        "sync": BOOL,
    }

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        virtual_batch_size: int | None = None,
        small_batch: str = "error",
        renorm: RenormClipping | None = None,
        sync: bool = False,
        process_group: Any = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        validate_params(self, locals())
        if sync and virtual_batch_size is not None:
            raise param_error("sync", "BatchNorm", "False when virtual_batch_size is set", sync)
        if sync and renorm is not None:
            raise param_error("sync", "BatchNorm", "False when renorm is set", sync)
        if small_batch == "running_stats" and not track_running_stats:
            raise param_error(
                "small_batch", "BatchNorm", "'error' when track_running_stats=False", small_batch
            )
        if renorm is not None and not track_running_stats:
            raise param_error("renorm", "BatchNorm", "None when track_running_stats=False", renorm)
        if renorm is not None and virtual_batch_size is not None:
            raise param_error("renorm", "BatchNorm", "None when virtual_batch_size is set", renorm)
        super().__init__(
            num_features,
            float(eps),
            None if momentum is None else float(momentum),
            affine,
            track_running_stats,
            device=device,
            dtype=dtype,
        )
        self.virtual_batch_size = virtual_batch_size
        self.small_batch = small_batch
        self.renorm = renorm
        self.sync = sync
        self.process_group = process_group
        if renorm is not None:
            kw: dict[str, Any] = {"device": device, "dtype": dtype}
            self.register_buffer("running_std", torch.ones(num_features, **kw))
            self.register_buffer("renorm_mean", torch.zeros(num_features, **kw))
            self.register_buffer("renorm_std", torch.ones(num_features, **kw))
        else:
            self.running_std = self.renorm_mean = self.renorm_std = None

    def reset_running_stats(self) -> None:
        super().reset_running_stats()
        if getattr(self, "running_std", None) is not None:
            self.running_std.fill_(1.0)  # type: ignore[union-attr]
            self.renorm_mean.zero_()  # type: ignore[union-attr]
            self.renorm_std.fill_(1.0)  # type: ignore[union-attr]

    def _check_input_dim(self, input: Tensor) -> None:
        _check_bn_input("BatchNorm", input, self.num_features)

    def _single_value(self, x: Tensor) -> bool:
        n = x.shape[0]
        if self.virtual_batch_size is not None:
            n = n // _ghost_splits(n, self.virtual_batch_size)
        return n * (x.numel() // max(1, x.shape[0] * x.shape[1])) < 2

    def forward(self, input: Tensor) -> Tensor:
        _check_bn_input("BatchNorm", input, self.num_features)
        if self.sync and self.training and _sync_active(self.process_group):
            return self._forward_sync(input)
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        if bn_training and self._single_value(input):
            if self.small_batch == "error":
                raise ConfigError(
                    f"BatchNorm got 1 value per channel in training mode (input shape "
                    f"{tuple(input.shape)}): use a batch of at least 2, call .eval(), or pass "
                    f"small_batch='running_stats'."
                )
            return torch.batch_norm(
                input,
                self.weight,
                self.bias,
                self.running_mean,
                self.running_var,
                False,
                0.0,
                self.eps,
                _CUDNN.enabled,
            )
        factor = self._count_batch()
        if self.renorm is not None and self.training:
            return _batch_renorm(
                input,
                self.running_mean,  # type: ignore[arg-type]
                self.running_var,  # type: ignore[arg-type]
                self.running_std,  # type: ignore[arg-type]
                self.renorm_mean,  # type: ignore[arg-type]
                self.renorm_std,  # type: ignore[arg-type]
                self.weight,
                self.bias,
                self.renorm,
                factor,
                self.eps,
            )
        running = self._running(not self.training or self.track_running_stats)
        return _batch_norm(
            input,
            *running,
            self.weight,
            self.bias,
            bn_training,
            factor,
            self.eps,
            self.virtual_batch_size,
        )

    def _count_batch(self) -> float:
        """Count a training batch in ``num_batches_tracked``; the running statistics' factor
        (``momentum``, or ``1 / count`` for the cumulative average of ``momentum=None``)."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            nbt = self.num_batches_tracked
            if nbt is not None:
                nbt.add_(1)
                if self.momentum is None:
                    factor = 1.0 / float(nbt)
        return factor

    def _running(self, use: bool) -> tuple[Tensor | None, Tensor | None]:
        """``(running_mean, running_var)`` when ``use``, else ``(None, None)``."""
        return (self.running_mean, self.running_var) if use else (None, None)

    def _forward_sync(self, input: Tensor) -> Tensor:
        # one value per channel on this rank is fine: the statistics span the whole group
        factor = self._count_batch()
        running = self._running(self.track_running_stats)
        return _sync_batch_norm(
            input,
            *running,
            self.weight,
            self.bias,
            factor,
            self.eps,
            self.process_group,
        )

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.sync:
            text += ", sync=True"
        if self.virtual_batch_size is not None:
            text += f", virtual_batch_size={self.virtual_batch_size}"
        if self.small_batch != "error":
            text += f", small_batch={self.small_batch!r}"
        if self.renorm is not None:
            text += f", renorm={self.renorm}"
        return text

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        # a torch BatchNorm state_dict has no renorm buffers: start them from its statistics,
        # as if renormalization had tracked the same averages
        if self.renorm is not None and prefix + "running_var" in state_dict:
            var = state_dict[prefix + "running_var"]
            std = torch.sqrt(var + self.eps)
            state_dict.setdefault(prefix + "running_std", std)
            state_dict.setdefault(prefix + "renorm_mean", state_dict[prefix + "running_mean"])
            state_dict.setdefault(prefix + "renorm_std", std.clone())
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


def _check_shape(owner: str, normalized_shape: Any) -> tuple[int, ...]:
    ok = isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool)
    if ok:
        shape: tuple[int, ...] = (int(normalized_shape),)
    elif isinstance(normalized_shape, Sequence) and not isinstance(normalized_shape, str):
        shape = tuple(normalized_shape)
    else:
        raise param_error("normalized_shape", owner, _SHAPE_DOC, normalized_shape)
    if not shape or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in shape
    ):
        raise param_error("normalized_shape", owner, _SHAPE_DOC, normalized_shape)
    return tuple(int(s) for s in shape)


class LayerNorm(nn.LayerNorm):
    """Layer normalization over the trailing ``normalized_shape`` dims (torch's signature).

    ::

        y = gamma * (z - E[z]) / sqrt(Var[z] + eps) + beta     per sample, biased variance

    Same parameters and state_dict as ``torch.nn.LayerNorm`` (it is a subclass), validated with
    reglab's messages, and calls the same kernel.

    Example:
        >>> ln = LayerNorm(10)
        >>> ln(torch.randn(4, 10, generator=torch.Generator().manual_seed(0))).shape
        torch.Size([4, 10])

    Paper: Ba, Kiros & Hinton, "Layer Normalization", 2016 (arXiv:1607.06450).
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "eps": [_EPS],
        "elementwise_affine": BOOL,
        "bias": BOOL,
    }

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        shape = _check_shape("LayerNorm", normalized_shape)
        validate_params(self, locals())
        super().__init__(shape, float(eps), elementwise_affine, bias, device=device, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        _check_trailing("LayerNorm", input, self.normalized_shape)
        return torch.layer_norm(
            input, self.normalized_shape, self.weight, self.bias, self.eps, _CUDNN.enabled
        )


class GroupNorm(nn.GroupNorm):
    """Group normalization (torch's signature and state_dict; it is a subclass).

    ::

        y = gamma_c * (x - E_g[x]) / sqrt(Var_g[x] + eps) + beta_c    per sample and group g

    Example:
        >>> gn = GroupNorm(2, 4)
        >>> gn(torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0))).shape
        torch.Size([3, 4, 5])

    Paper: Wu & He, "Group Normalization", ECCV 2018 (arXiv:1803.08494).
    """

    _parameter_constraints: ClassVar[Constraints] = {
        "num_groups": [Interval(int, 1, None)],
        "num_channels": [Interval(int, 1, None)],
        "eps": [_EPS],
        "affine": BOOL,
    }

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        validate_params(self, locals())
        if num_channels % num_groups != 0:
            raise param_error(
                "num_groups", "GroupNorm", f"a divisor of num_channels={num_channels}", num_groups
            )
        super().__init__(num_groups, num_channels, float(eps), affine, device=device, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        check_floating("GroupNorm", input)
        if input.dim() < 2 or input.shape[1] != self.num_channels:
            c = self.num_channels
            raise ConfigError(
                f"GroupNorm expects 'input' of shape (N, {c}) or (N, {c}, *). "
                f"Got shape {tuple(input.shape)} instead."
            )
        return torch.group_norm(
            input, self.num_groups, self.weight, self.bias, self.eps, _CUDNN.enabled
        )


class RMSNorm(nn.Module):
    """Root-mean-square normalization with ``torch.nn.RMSNorm``'s signature and state_dict.

    ::

        y = gamma * z / sqrt(mean(z^2) + eps)       eps=None: torch.finfo(input.dtype).eps

    Runs on torch >= 2.2 (torch's own ``nn.RMSNorm`` arrived in 2.4); uses the native kernel
    when present.

    Example:
        >>> rms = RMSNorm(8)
        >>> y = rms(torch.randn(2, 8, generator=torch.Generator().manual_seed(0)))
        >>> y.pow(2).mean(-1).sub(1).abs().max().item() < 1e-5
        True

    Paper: Zhang & Sennrich, "Root Mean Square Layer Normalization", NeurIPS 2019
    (arXiv:1910.07467).
    """

    _reglab_norm = True  # reglab.nn.is_norm: it cannot subclass nn.RMSNorm (torch < 2.4)
    normalized_shape: tuple[int, ...]
    eps: float | None
    elementwise_affine: bool

    _parameter_constraints: ClassVar[Constraints] = {
        "eps": [_EPS, _NONE],
        "elementwise_affine": BOOL,
    }

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        shape = _check_shape("RMSNorm", normalized_shape)
        validate_params(self, locals())
        super().__init__()
        self.normalized_shape = shape
        self.eps = None if eps is None else float(eps)
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.empty(shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            nn.init.ones_(self.weight)

    def forward(self, input: Tensor) -> Tensor:
        _check_trailing("RMSNorm", input, self.normalized_shape)
        return _rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
