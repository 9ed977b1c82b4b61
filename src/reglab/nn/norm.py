"""Normalization layers, drop-in for torch's, and the batch-norm safety kit.

:class:`BatchNorm` is one class for ``(N, C)`` and ``(N, C, *)`` inputs with the outputs,
gradients, running statistics and state_dict keys of torch's ``BatchNorm1d/2d/3d``, plus ghost
batches, batch renormalization and a policy for batches with one value per channel.
:class:`LayerNorm`, :class:`GroupNorm` and :class:`RMSNorm` mirror torch's signatures.
:func:`recalibrate_batchnorm`, :func:`freeze_batchnorm` and :func:`find_dropout_before_batchnorm`
repair or diagnose the usual batch-norm traps.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from .._checks import (
    Boolean,
    InstanceOf,
    Interval,
    NoneOk,
    OneOf,
    check,
    check_floating,
    validate,
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
    "BatchNormFreeze",
    "GroupNorm",
    "LayerNorm",
    "RMSNorm",
    "RenormClipping",
    "convert_sync_batchnorm",
    "find_dropout_before_batchnorm",
    "freeze_batchnorm",
    "keras_momentum",
    "recalibrate_batchnorm",
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
        validate(
            "BatchNorm",
            {
                "num_features": num_features,
                "eps": eps,
                "momentum": momentum,
                "affine": affine,
                "track_running_stats": track_running_stats,
                "virtual_batch_size": virtual_batch_size,
                "small_batch": small_batch,
                "renorm": renorm,
                "sync": sync,
            },
            {
                "num_features": [Interval(int, 1, None)],
                "eps": [_EPS],
                "momentum": [_MOMENTUM, _NONE],
                "affine": [Boolean()],
                "track_running_stats": [Boolean()],
                "virtual_batch_size": [Interval(int, 1, None), _NONE],
                "small_batch": [OneOf("error", "running_stats")],
                "renorm": [InstanceOf(RenormClipping, description="a RenormClipping"), _NONE],
                "sync": [Boolean()],
            },
        )
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
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            nbt = self.num_batches_tracked
            if nbt is not None:
                nbt.add_(1)
                if self.momentum is None:
                    factor = 1.0 / float(nbt)
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
        use_buffers = not self.training or self.track_running_stats
        return _batch_norm(
            input,
            self.running_mean if use_buffers else None,
            self.running_var if use_buffers else None,
            self.weight,
            self.bias,
            bn_training,
            factor,
            self.eps,
            self.virtual_batch_size,
        )

    def _forward_sync(self, input: Tensor) -> Tensor:
        # one value per channel on this rank is fine: the statistics span the whole group
        factor = 0.0 if self.momentum is None else self.momentum
        nbt = self.num_batches_tracked
        if self.track_running_stats and nbt is not None:
            nbt.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(nbt)
        track = self.track_running_stats
        return _sync_batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
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
        validate(
            "LayerNorm",
            {"eps": eps, "elementwise_affine": elementwise_affine, "bias": bias},
            {"eps": [_EPS], "elementwise_affine": [Boolean()], "bias": [Boolean()]},
        )
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

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        validate(
            "GroupNorm",
            {"num_groups": num_groups, "num_channels": num_channels, "eps": eps, "affine": affine},
            {
                "num_groups": [Interval(int, 1, None)],
                "num_channels": [Interval(int, 1, None)],
                "eps": [_EPS],
                "affine": [Boolean()],
            },
        )
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

    _reglab_norm = True  # lets reglab.init recognise it as a normalization layer
    normalized_shape: tuple[int, ...]
    eps: float | None
    elementwise_affine: bool

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        shape = _check_shape("RMSNorm", normalized_shape)
        validate(
            "RMSNorm",
            {"eps": eps, "elementwise_affine": elementwise_affine},
            {"eps": [_EPS, _NONE], "elementwise_affine": [Boolean()]},
        )
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


# --------------------------------------------------------------------------- safety kit


def _batchnorms(model: nn.Module) -> list[tuple[str, _BatchNorm]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, _BatchNorm)]


def _first_input(batch: Any) -> Tensor:
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Tensor):
        return batch[0]
    raise ConfigError(
        "recalibrate_batchnorm expects each batch to be a tensor or an (x, y) tuple. "
        f"Got {type(batch).__name__} instead."
    )


def recalibrate_batchnorm(
    model: nn.Module,
    batches: Iterable[Any],
    num_batches: int | None = None,
) -> int:
    """Recompute every batch norm's running statistics with the weights fixed (PreciseBN).

    Resets the running statistics of each ``_BatchNorm`` (torch's or reglab's) that tracks them
    and feeds the batches with every other layer in eval mode (dropout off, so the statistics
    are those inference will see: this also removes dropout's variance shift) and the batch norms
    in training mode with ``momentum=None``, so the result is the equal-weight average over the
    ``B`` batches::

        running_mean = 1/B sum_b mu_b       running_var = 1/B sum_b s_b^2   (unbiased per batch)

    Gradients are off; momentum, renorm settings and every module's train/eval mode are restored
    afterwards, and on an error (or no batches at all) the previous statistics are put back.

    Args:
        model: the network.
        batches: an iterable of input tensors or ``(x, y, ...)`` tuples (a DataLoader works);
            inputs are moved to the model's device.
        num_batches: use at most this many batches (``None``: all).

    Returns:
        The number of batches used.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), BatchNorm(3))
        >>> g = torch.Generator().manual_seed(0)
        >>> recalibrate_batchnorm(net, [torch.randn(16, 4, generator=g) for _ in range(5)])
        5

    Paper: Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021 (arXiv:2105.07576).
    """
    check("recalibrate_batchnorm", "model", model, InstanceOf(nn.Module, description="a Module"))
    check("recalibrate_batchnorm", "num_batches", num_batches, Interval(int, 1, None), _NONE)
    bns = [m for _, m in _batchnorms(model) if m.track_running_stats and m.running_mean is not None]
    if not bns:
        return 0
    modes = [(m, m.training) for m in model.modules()]
    saved = [(m, {k: v.clone() for k, v in m.state_dict().items()}, m.momentum) for m in bns]
    renorms = [(m, m.renorm) for m in bns if isinstance(m, BatchNorm) and m.renorm is not None]
    first: Tensor | None = next(iter(model.parameters()), None)
    if first is None:
        first = next(iter(model.buffers()), None)
    device = None if first is None else first.device
    used = 0
    ok = False
    try:
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        for m, _ in renorms:
            m.renorm = None
        model.eval()
        for m in bns:
            m.train()
        with torch.no_grad():
            for batch in batches:
                if num_batches is not None and used >= num_batches:
                    break
                x = _first_input(batch)
                model(x if device is None else x.to(device))
                used += 1
        if used == 0:
            raise param_error(
                "batches", "recalibrate_batchnorm", "a non-empty iterable of batches", batches
            )
        ok = True
    finally:
        for m, state, momentum in saved:
            m.momentum = momentum
            if not ok:
                m.load_state_dict(state)
        for m, clip in renorms:
            m.renorm = clip
            if ok:  # keep inference (running_var) and the renorm statistics consistent
                with torch.no_grad():
                    std = torch.sqrt(m.running_var + m.eps)  # type: ignore[operator, arg-type]
                    m.running_std.copy_(std)  # type: ignore[union-attr]
                    m.renorm_mean.copy_(m.running_mean)  # type: ignore[union-attr, arg-type]
                    m.renorm_std.copy_(std)  # type: ignore[union-attr]
        for mod, mode in modes:
            mod.training = mode
    return used


def _stay_eval(module: nn.Module, args: Any) -> None:
    # model.train() flips every child back to training; a frozen batch norm must not follow
    module.training = False


class BatchNormFreeze:
    """What :func:`freeze_batchnorm` returns: the frozen layers and the way to unfreeze them.

    ``names`` lists the frozen modules' qualified names. ``unfreeze()`` (or leaving a ``with``
    block) restores ``requires_grad`` and the training mode each layer had, and stops forcing
    eval mode.
    """

    def __init__(self, model: nn.Module) -> None:
        self.names: list[str] = []
        self._undo: list[tuple[nn.Module, bool, list[tuple[nn.Parameter, bool]], Any]] = []
        for name, m in _batchnorms(model):
            params = [(p, p.requires_grad) for p in m.parameters(recurse=False)]
            handle = m.register_forward_pre_hook(_stay_eval)
            self._undo.append((m, m.training, params, handle))
            self.names.append(name)
            m.eval()
            for p, _ in params:
                p.requires_grad_(False)

    def unfreeze(self) -> None:
        """Undo the freeze (idempotent)."""
        for m, mode, params, handle in self._undo:
            handle.remove()
            m.training = mode
            for p, flag in params:
                p.requires_grad_(flag)
        self._undo = []

    def __enter__(self) -> BatchNormFreeze:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unfreeze()

    def __repr__(self) -> str:
        return f"BatchNormFreeze(names={self.names})"


def freeze_batchnorm(model: nn.Module) -> BatchNormFreeze:
    """Freeze every batch norm: eval-mode (running) statistics and no gradient for gamma/beta.

    Each ``_BatchNorm`` (torch's ``BatchNorm1d/2d/3d``, ``SyncBatchNorm``, reglab's
    :class:`BatchNorm`) is put in eval mode, so it normalizes with its running statistics and
    never updates them, and its ``weight``/``bias`` get ``requires_grad=False`` (an optimizer
    built afterwards from ``p for p in model.parameters() if p.requires_grad`` skips them). A
    forward pre-hook keeps the layer in eval mode even after a later ``model.train()``: the usual
    fine-tuning trap.

    Returns:
        A :class:`BatchNormFreeze` handle: ``.names`` lists the frozen layers, ``.unfreeze()``
        undoes everything; it is also a context manager.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
        >>> frozen = freeze_batchnorm(net)
        >>> _ = net.train()(torch.randn(2, 4))
        >>> frozen.names, net[1].training, net[1].weight.requires_grad
        (['1'], False, False)
    """
    check("freeze_batchnorm", "model", model, InstanceOf(nn.Module, description="a Module"))
    return BatchNormFreeze(model)


def _is_dropout(m: nn.Module) -> bool:
    return isinstance(m, nn.modules.dropout._DropoutNd) or bool(
        getattr(type(m), "_reglab_dropout", False)
    )


def _sequential_pairs(model: nn.Module) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []

    def leaves(prefix: str, seq: nn.Sequential) -> Iterator[tuple[str, nn.Module]]:
        for name, child in seq.named_children():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(child, nn.Sequential):
                yield from leaves(full, child)
            else:
                yield full, child

    nested = {id(c) for m in model.modules() if isinstance(m, nn.Sequential) for c in m.children()}
    for name, m in model.named_modules():
        if not isinstance(m, nn.Sequential) or id(m) in nested:
            continue
        pending: list[str] = []
        for leaf_name, leaf in leaves(name, m):
            if _is_dropout(leaf):
                pending.append(leaf_name)
            elif isinstance(leaf, _BatchNorm):
                pairs.extend((d, leaf_name) for d in pending)
                pending = []
    return pairs


def _traced_pairs(model: nn.Module, example_input: Any) -> list[tuple[str, str]]:
    # Tag each dropout's and batch norm's output with its own autograd node (a view), then walk
    # each batch norm's input graph back: a dropout tag reached without crossing another batch
    # norm's tag feeds it. Eval mode: nothing is updated and no randomness is drawn.
    tags: dict[Any, tuple[str, str]] = {}
    found: list[tuple[str, str]] = []
    memo: dict[Any, frozenset[str]] = {}

    def reach(root: Any) -> frozenset[str]:
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            if node is None or (node in memo and not done):
                continue
            tag = tags.get(node)
            children = [n for n, _ in node.next_functions if n is not None]
            if tag is not None and tag[0] == "bn":
                memo[node] = frozenset()
                continue
            if not done:
                stack.append((node, True))
                stack.extend((c, False) for c in children if c not in memo)
                continue
            acc: set[str] = set()
            for c in children:
                acc |= memo.get(c, frozenset())
            if tag is not None:
                acc.add(tag[1])
            memo[node] = frozenset(acc)
        return memo.get(root, frozenset())

    def tag_output(kind: str, name: str) -> Any:
        def hook(module: nn.Module, args: Any, output: Any) -> Any:
            if isinstance(output, Tensor) and output.requires_grad:
                out = output.view_as(output)
                tags[out.grad_fn] = (kind, name)
                return out
            return None

        return hook

    def check_input(name: str) -> Any:
        def hook(module: nn.Module, args: Any) -> None:
            x = args[0] if args else None
            if isinstance(x, Tensor) and x.grad_fn is not None:
                found.extend((d, name) for d in sorted(reach(x.grad_fn)))

        return hook

    handles = []
    for name, m in model.named_modules():
        if _is_dropout(m):
            handles.append(m.register_forward_hook(tag_output("dropout", name)))
        elif isinstance(m, _BatchNorm):
            handles.append(m.register_forward_pre_hook(check_input(name)))
            handles.append(m.register_forward_hook(tag_output("bn", name)))
    modes = [(m, m.training) for m in model.modules()]
    inputs = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    inputs = tuple(
        t.detach().clone().requires_grad_(True)
        if isinstance(t, Tensor) and t.is_floating_point()
        else t
        for t in inputs
    )
    try:
        model.eval()
        with torch.enable_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for mod, mode in modes:
            mod.training = mode
    return list(dict.fromkeys(found))


def find_dropout_before_batchnorm(
    model: nn.Module, example_input: Any = None
) -> list[tuple[str, str]]:
    """Find dropout layers whose output reaches a batch norm: the variance-shift problem.

    Dropout changes the variance of its output between training and inference, so a batch norm
    downstream learns running statistics that do not hold at inference (Li et al. 2019). A
    dropout is any ``torch.nn.modules.dropout._DropoutNd`` or a module whose class sets
    ``_reglab_dropout = True`` (reglab's dropout family); a batch norm is any ``_BatchNorm``.

    Two ways to see the order:

    - with ``example_input``: one eval-mode forward pass (no statistics updated, no randomness
      drawn, modes restored) follows the actual data flow through the autograd graph; a pair is
      reported when a dropout's output reaches a batch norm's input through any layers (linear,
      conv, activations, reshapes, adds) but not through another batch norm. Works for any model.
    - without it: the order inside each ``nn.Sequential`` (nested ones flattened); a dropout
      pairs with the next batch norm that follows it. Layers outside Sequentials are not seen.

    Returns:
        ``(dropout_name, batchnorm_name)`` pairs of qualified module names, in forward order.

    Example:
        >>> net = torch.nn.Sequential(
        ...     torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 8), BatchNorm(8))
        >>> find_dropout_before_batchnorm(net)
        [('1', '3')]
        >>> find_dropout_before_batchnorm(net, torch.randn(2, 4))
        [('1', '3')]

    Paper: Li, Chen, Hu & Yang, "Understanding the Disharmony between Dropout and Batch
    Normalization by Variance Shift", CVPR 2019 (arXiv:1801.05134).
    """
    check(
        "find_dropout_before_batchnorm",
        "model",
        model,
        InstanceOf(nn.Module, description="a Module"),
    )
    if example_input is None:
        return _sequential_pairs(model)
    return _traced_pairs(model, example_input)


def convert_sync_batchnorm(model: nn.Module, process_group: Any = None) -> nn.Module:
    """Make every batch norm of ``model`` synchronize its statistics across ranks (any backend).

    torch's ``BatchNorm1d/2d/3d`` and ``SyncBatchNorm`` layers are replaced by
    :class:`BatchNorm` with ``sync=True`` carrying the same parameters, buffers, ``requires_grad``
    flags and train/eval mode (state_dict keys are unchanged); reglab :class:`BatchNorm` layers are
    switched to ``sync=True`` in place. Unlike ``torch.nn.SyncBatchNorm``, this runs on gloo/CPU.

    Returns:
        The converted model (``model`` itself unless ``model`` is a batch norm).

    Example:
        >>> net = convert_sync_batchnorm(torch.nn.Sequential(torch.nn.BatchNorm1d(3)))
        >>> type(net[0]).__name__, net[0].sync
        ('BatchNorm', True)
    """
    check("convert_sync_batchnorm", "model", model, InstanceOf(nn.Module, description="a Module"))
    if isinstance(model, BatchNorm):
        if model.virtual_batch_size is not None or model.renorm is not None:
            raise param_error(
                "model",
                "convert_sync_batchnorm",
                "free of BatchNorm layers with virtual_batch_size or renorm",
                model,
            )
        model.sync = True
        model.process_group = process_group
        return model
    if isinstance(model, _BatchNorm):
        ref = model.weight if model.weight is not None else model.running_mean
        where: dict[str, Any] = {} if ref is None else {"device": ref.device, "dtype": ref.dtype}
        new = BatchNorm(
            model.num_features,
            model.eps,
            model.momentum,
            model.affine,
            model.track_running_stats,
            sync=True,
            process_group=process_group,
            **where,
        )
        new.load_state_dict(model.state_dict())
        for name, p in model.named_parameters(recurse=False):
            getattr(new, name).requires_grad_(p.requires_grad)
        new.train(model.training)
        return new
    for name, child in model.named_children():
        converted = convert_sync_batchnorm(child, process_group)
        if converted is not child:
            model.add_module(name, converted)
    return model
