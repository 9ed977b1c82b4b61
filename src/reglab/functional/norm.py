"""Normalization as pure functions: batch norm (with ghost batches), batch renorm, LN, GN, RMS.

The plain paths call the same ATen kernels as ``torch.nn.functional`` (``torch.batch_norm``,
``torch.layer_norm``, ``torch.group_norm``) so that outputs, gradients and speed match torch's;
the extras (ghost batches, renormalization) are built from those kernels.

Batch normalization (Ioffe & Szegedy, 2015), per channel ``k`` over the ``m`` values of a batch::

    mu_B = 1/m sum_i x_i          sigma_B^2 = 1/m sum_i (x_i - mu_B)^2       (biased)
    y_i  = gamma * (x_i - mu_B) / sqrt(sigma_B^2 + eps) + beta

and the running averages (torch's convention, ``momentum`` is the weight of the new batch)::

    running_mean <- (1 - momentum) * running_mean + momentum * mu_B
    running_var  <- (1 - momentum) * running_var  + momentum * m / (m - 1) * sigma_B^2  (unbiased)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from .._checks import (
    Constraints,
    InstanceOf,
    Interval,
    NoneOk,
    check_floating,
    validate_params,
)
from ..errors import ConfigError

__all__ = [
    "RenormClipping",
    "batch_norm",
    "batch_renorm",
    "group_norm",
    "keras_momentum",
    "layer_norm",
    "rms_norm",
    "sync_batch_norm",
]

_CUDNN = torch.backends.cudnn


@dataclass(frozen=True)
class RenormClipping:
    """Clipping of the batch renormalization corrections ``r`` and ``d`` (Keras' semantics).

    With ``sigma_B = sqrt(var_B + eps)`` (biased batch variance) and the renorm moving averages
    ``mu``, ``sigma`` (``sigma`` floored at ``sqrt(eps)``)::

        r = clip(sigma_B / sigma, rmin, rmax)      d = clip((mu_B - mu) / sigma, -dmax, dmax)
        y = gamma * ((x - mu_B) / sigma_B * r + d) + beta       (r, d: no gradient)

    Keras' defaults for missing keys are ``rmax=inf``, ``rmin=0``, ``dmax=inf``; the paper uses
    ``rmin = 1 / rmax``, so pass it explicitly when you want the symmetric range.

    Args:
        rmax: upper clip of ``r`` (``>= 1``).
        dmax: symmetric clip of ``d`` (``>= 0``).
        rmin: lower clip of ``r`` (in ``[0, 1]``).
        momentum: torch-convention momentum of the renorm moving averages ``mu``, ``sigma``
            (Keras' ``renorm_momentum=0.99`` is ``0.01`` here; see :func:`keras_momentum`).

    Example:
        >>> RenormClipping(rmax=3.0, dmax=5.0, rmin=1 / 3)
        RenormClipping(rmax=3.0, dmax=5.0, rmin=0.3333333333333333, momentum=0.01)

    Paper: Ioffe, "Batch Renormalization", NeurIPS 2017, arXiv:1702.03275.
    """

    rmax: float = math.inf
    dmax: float = math.inf
    rmin: float = 0.0
    momentum: float = 0.01

    _parameter_constraints: ClassVar[Constraints] = {
        "rmax": [Interval(float, 1, math.inf)],
        "dmax": [Interval(float, 0, math.inf)],
        "rmin": [Interval(float, 0, 1)],
        "momentum": [Interval(float, 0, 1, closed="right")],
    }

    def __post_init__(self) -> None:
        validate_params(self, vars(self))


_NONE = NoneOk()
_RENORM = InstanceOf(RenormClipping, description="a RenormClipping")


#: The constraints of keras_momentum's arguments, checked by validate_params.
_KERAS_MOMENTUM_CONSTRAINTS: Constraints = {"momentum": [Interval(float, 0, 1)]}


def keras_momentum(momentum: float) -> float:
    """Convert a momentum between Keras' and torch's conventions (the map is its own inverse).

    Keras weights the *old* average (``moving = m * moving + (1 - m) * batch``), torch weights the
    *new batch* (``running = (1 - m) * running + m * batch``), so each is ``1 - m`` of the other:
    ``keras_momentum(0.99) == 0.01`` (Keras to torch) and ``keras_momentum(0.01) == 0.99``
    (torch to Keras). The result is rounded to 15 decimals so that 0.99 maps to 0.01 exactly.

    Example:
        >>> keras_momentum(0.99), keras_momentum(0.01)
        (0.01, 0.99)
    """
    validate_params("keras_momentum", locals(), _KERAS_MOMENTUM_CONSTRAINTS)
    return round(1.0 - float(momentum), 15)


def _reduce_dims(x: Tensor) -> list[int]:
    return [0, *range(2, x.dim())]


def _check_bn_input(owner: str, x: Tensor, num_features: int | None) -> None:
    check_floating(owner, x)
    if x.dim() < 2 or (num_features is not None and x.shape[1] != num_features):
        c = "C" if num_features is None else str(num_features)
        raise ConfigError(
            f"{owner} expects 'input' of shape (N, {c}) or (N, {c}, *). "
            f"Got shape {tuple(x.shape)} instead."
        )


def _ghost_splits(n: int, virtual_batch_size: int) -> int:
    # floor, so that every ghost batch holds at least virtual_batch_size samples
    return max(1, n // virtual_batch_size)


def _batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    training: bool,
    momentum: float,
    eps: float,
    virtual_batch_size: int | None,
) -> Tensor:
    if not training or virtual_batch_size is None or x.shape[0] <= virtual_batch_size:
        return torch.batch_norm(
            x, weight, bias, running_mean, running_var, training, momentum, eps, _CUDNN.enabled
        )
    pieces = torch.tensor_split(x, _ghost_splits(x.shape[0], virtual_batch_size))
    c = x.shape[1]
    track = running_mean is not None and running_var is not None
    outs = []
    means = []
    variances = []
    for piece in pieces:
        # momentum 1 makes the kernel write this piece's mean and unbiased variance into them
        rm = torch.zeros(c, dtype=x.dtype, device=x.device) if track else None
        rv = torch.zeros(c, dtype=x.dtype, device=x.device) if track else None
        outs.append(torch.batch_norm(piece, weight, bias, rm, rv, True, 1.0, eps, _CUDNN.enabled))
        means.append(rm)
        variances.append(rv)
    if running_mean is not None and running_var is not None:
        with torch.no_grad():
            sizes = torch.tensor([p.shape[0] for p in pieces], dtype=x.dtype, device=x.device)
            w = (sizes / sizes.sum()).unsqueeze(1)
            mean = (torch.stack(means) * w).sum(0)  # type: ignore[arg-type]
            var = (torch.stack(variances) * w).sum(0)  # type: ignore[arg-type]
            running_mean.lerp_(mean.to(running_mean.dtype), momentum)
            running_var.lerp_(var.to(running_var.dtype), momentum)
    return torch.cat(outs)


#: The constraints of batch_norm's arguments, checked by validate_params.
_BATCH_NORM_CONSTRAINTS: Constraints = {
    "momentum": [Interval(float, 0, 1)],
    "eps": [Interval(float, 0, None, closed="neither")],
    "virtual_batch_size": [Interval(int, 1, None), _NONE],
}


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
    *,
    virtual_batch_size: int | None = None,
) -> Tensor:
    """Batch normalization of ``(N, C)`` / ``(N, C, *)`` input, optionally over ghost batches.

    Same arguments and results as :func:`torch.nn.functional.batch_norm`; with
    ``virtual_batch_size=v`` in training the batch is split into ``N // v`` ghost batches of
    near-equal size (each at least ``v`` samples), each normalized with its own statistics, and the
    running averages move once towards the size-weighted mean of the ghost means and of the ghost
    unbiased variances::

        y_g = gamma * (x_g - mu_g) / sqrt(sigma_g^2 + eps) + beta      for each ghost batch g

    Args:
        input: ``(N, C)`` or ``(N, C, *)`` floating tensor.
        running_mean, running_var: ``(C,)`` buffers updated in place in training (or ``None``).
        weight, bias: ``(C,)`` affine parameters or ``None``.
        training: normalize with batch statistics (and update the buffers) when True.
        momentum: weight of the new batch in the running averages.
        eps: added to the variance.
        virtual_batch_size: ghost batch size (Hoffer et al.), ``None`` for the whole batch.

    Example:
        >>> x = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
        >>> y = batch_norm(x, None, None, training=True, virtual_batch_size=4)
        >>> y[:4].mean(0).abs().max().item() < 1e-6
        True

    Papers: Ioffe & Szegedy 2015 (arXiv:1502.03167); Hoffer, Hubara & Soudry 2017, "Train
    longer, generalize better" (arXiv:1705.08741) for ghost batch normalization.
    """
    validate_params("batch_norm", locals(), _BATCH_NORM_CONSTRAINTS)
    _check_bn_input("batch_norm", input, None)
    return _batch_norm(
        input,
        running_mean,
        running_var,
        weight,
        bias,
        training,
        momentum,
        eps,
        virtual_batch_size,
    )


def _batch_renorm(
    x: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    running_std: Tensor,
    renorm_mean: Tensor,
    renorm_std: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    clipping: RenormClipping,
    momentum: float,
    eps: float,
) -> Tensor:
    with torch.no_grad():
        var, mean = torch.var_mean(x, dim=_reduce_dims(x), correction=0)
        std = torch.sqrt(var + eps)
        sigma = torch.clamp(renorm_std.to(x.dtype), min=math.sqrt(eps))
        r = (std / sigma).clamp_(min=clipping.rmin, max=clipping.rmax)
        d = ((mean - renorm_mean.to(x.dtype)) / sigma).clamp_(-clipping.dmax, clipping.dmax)
    # (x_hat * r + d) * gamma + beta == x_hat * (r * gamma) + (d * gamma + beta): one kernel call
    # with batch statistics (their gradient flows) and the corrections folded into the affine.
    if weight is not None:
        w_eff = r * weight
        b_eff = d * weight if bias is None else d * weight + bias
    else:
        w_eff = r
        b_eff = d if bias is None else d + bias
    y = torch.batch_norm(x, w_eff, b_eff, None, None, True, 0.0, eps, _CUDNN.enabled)
    with torch.no_grad():
        rm = clipping.momentum
        renorm_mean.lerp_(mean.to(renorm_mean.dtype), rm)
        renorm_std.lerp_(std.to(renorm_std.dtype), rm)
        running_mean.lerp_(mean.to(running_mean.dtype), momentum)
        running_std.lerp_(std.to(running_std.dtype), momentum)
        # inference uses sqrt(running_var + eps) == running_std; relu guards rounding
        running_var.copy_(torch.relu(running_std * running_std - eps))
    return y


#: The constraints of batch_renorm's arguments, checked by validate_params.
_BATCH_RENORM_CONSTRAINTS: Constraints = {
    "clipping": [_RENORM],
    "momentum": [Interval(float, 0, 1)],
    "eps": [Interval(float, 0, None, closed="neither")],
}


def batch_renorm(
    input: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    running_std: Tensor,
    renorm_mean: Tensor,
    renorm_std: Tensor,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    *,
    clipping: RenormClipping,
    momentum: float = 0.01,
    eps: float = 1e-3,
) -> Tensor:
    """Training-mode batch renormalization (Keras 3 semantics); buffers are updated in place.

    ``r``, ``d`` come from :class:`RenormClipping` (computed with the renorm averages *before*
    this batch and treated as constants), then::

        y = gamma * ((x - mu_B) / sigma_B * r + d) + beta,   sigma_B = sqrt(var_B + eps)
        renorm_mean  <- lerp(renorm_mean,  mu_B,    clipping.momentum)
        renorm_std   <- lerp(renorm_std,   sigma_B, clipping.momentum)
        running_mean <- lerp(running_mean, mu_B,    momentum)
        running_std  <- lerp(running_std,  sigma_B, momentum)
        running_var   = max(running_std^2 - eps, 0)       (so inference divides by running_std)

    Inference is plain batch norm with ``running_mean`` / ``running_var``.

    Example:
        >>> x = torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
        >>> bufs = [torch.zeros(3), torch.ones(3), torch.ones(3), torch.zeros(3), torch.ones(3)]
        >>> y = batch_renorm(x, *bufs, clipping=RenormClipping(1.0, 0.0, rmin=1.0))
        >>> bool(torch.allclose(y, batch_norm(x, None, None, training=True, eps=1e-3), atol=1e-6))
        True

    Paper: Ioffe, "Batch Renormalization: Towards Reducing Minibatch Dependence in
    Batch-Normalized Models", NeurIPS 2017 (arXiv:1702.03275).
    """
    validate_params("batch_renorm", locals(), _BATCH_RENORM_CONSTRAINTS)
    _check_bn_input("batch_renorm", input, None)
    return _batch_renorm(
        input,
        running_mean,
        running_var,
        running_std,
        renorm_mean,
        renorm_std,
        weight,
        bias,
        clipping,
        momentum,
        eps,
    )


class _SyncBatchNormFn(torch.autograd.Function):
    """Batch norm whose statistics and input-gradient sums are all-reduced over a group."""

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        weight: Tensor | None,
        bias: Tensor | None,
        eps: float,
        group: Any,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        dims = _reduce_dims(x)
        c = x.shape[1]
        view = (1, c) + (1,) * (x.dim() - 2)
        # two reductions (sum, then squared deviations from the global mean) rather than one
        # of sum and sum of squares: the variance stays exact when the mean is large
        packed = torch.cat([x.sum(dims), x.new_full((1,), x.numel() // max(c, 1))])
        dist.all_reduce(packed, group=group)
        n = packed[c]
        mean = packed[:c] / n
        xc = x - mean.view(view)
        sq = (xc * xc).sum(dims)
        dist.all_reduce(sq, group=group)
        var = sq / n
        invstd = torch.rsqrt(var + eps)
        xhat = xc * invstd.view(view)
        y = xhat
        if weight is not None:
            y = y * weight.view(view)
        if bias is not None:
            y = y + bias.view(view)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.group = group
        ctx.n = n
        ctx.has_bias = bias is not None
        ctx.mark_non_differentiable(mean, var, n)
        return y, mean, var, n

    @staticmethod
    def backward(ctx: Any, dy: Tensor, *_: Tensor | None) -> tuple[Tensor | None, ...]:
        xhat, invstd, weight = ctx.saved_tensors
        dims = _reduce_dims(dy)
        c = dy.shape[1]
        view = (1, c) + (1,) * (dy.dim() - 2)
        sum_dy = dy.sum(dims)
        sum_dy_xhat = (dy * xhat).sum(dims)
        # parameter gradients stay local (DDP averages them); the input gradient needs the
        # group's sums because every sample's statistics involve every rank's samples
        packed = torch.cat([sum_dy, sum_dy_xhat])
        dist.all_reduce(packed, group=ctx.group)
        g = invstd if weight is None else invstd * weight
        mean_dy = (packed[:c] / ctx.n).view(view)
        mean_dy_xhat = (packed[c:] / ctx.n).view(view)
        dx = g.view(view) * (dy - mean_dy - xhat * mean_dy_xhat)
        dw = sum_dy_xhat if weight is not None and ctx.needs_input_grad[1] else None
        db = sum_dy if ctx.has_bias and ctx.needs_input_grad[2] else None
        return dx, dw, db, None, None


def _sync_active(group: Any) -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def _sync_batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    momentum: float,
    eps: float,
    group: Any,
) -> Tensor:
    y, mean, var, n = _SyncBatchNormFn.apply(x, weight, bias, eps, group)
    if running_mean is not None and running_var is not None:
        with torch.no_grad():
            unbiased = var * (n / (n - 1).clamp(min=1))
            running_mean.lerp_(mean.to(running_mean.dtype), momentum)
            running_var.lerp_(unbiased.to(running_var.dtype), momentum)
    return y


#: The constraints of sync_batch_norm's arguments, checked by validate_params.
_SYNC_BATCH_NORM_CONSTRAINTS: Constraints = {
    "momentum": [Interval(float, 0, 1)],
    "eps": [Interval(float, 0, None, closed="neither")],
}


def sync_batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    momentum: float = 0.1,
    eps: float = 1e-5,
    process_group: Any = None,
) -> Tensor:
    """Training-mode batch norm with statistics over every rank of a process group, any backend.

    Each rank all-reduces its per-channel sums and counts (then the squared deviations from the
    global mean), so ``R`` ranks with batches ``B_r`` give the outputs, running averages and
    input gradients of one process with the concatenated batch. Works on gloo (CPU) as on NCCL.
    Parameter gradients are local sums: DDP's gradient averaging completes them. Without an
    initialized group of two or more ranks it is plain :func:`batch_norm` in training mode.

    Example:
        >>> x = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
        >>> torch.equal(sync_batch_norm(x, None, None), batch_norm(x, None, None, training=True))
        True
    """
    validate_params("sync_batch_norm", locals(), _SYNC_BATCH_NORM_CONSTRAINTS)
    _check_bn_input("sync_batch_norm", input, None)
    if not _sync_active(process_group):
        return _batch_norm(
            input, running_mean, running_var, weight, bias, True, momentum, eps, None
        )
    return _sync_batch_norm(
        input, running_mean, running_var, weight, bias, momentum, eps, process_group
    )


def _check_trailing(owner: str, x: Tensor, shape: tuple[int, ...]) -> None:
    check_floating(owner, x)
    k = len(shape)
    if x.dim() < k or tuple(x.shape[x.dim() - k :]) != shape:
        dims = ", ".join(str(s) for s in shape)
        raise ConfigError(
            f"{owner} expects 'input' of shape (*, {dims}). Got shape {tuple(x.shape)} instead."
        )


def _as_shape(normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(normalized_shape)


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalization over the trailing ``normalized_shape`` dimensions (as torch's).

    Each row ``z`` (the trailing ``n`` values of one sample) is normalized with its own
    statistics::

        y = gamma * (z - E[z]) / sqrt(Var[z] + eps) + beta,   Var biased (1/n)

    Example:
        >>> x = torch.randn(4, 10, generator=torch.Generator().manual_seed(0))
        >>> layer_norm(x, 10).mean(-1).abs().max().item() < 1e-6
        True

    Paper: Ba, Kiros & Hinton, "Layer Normalization", 2016 (arXiv:1607.06450).
    """
    shape = _as_shape(normalized_shape)
    _check_trailing("layer_norm", input, shape)
    return torch.layer_norm(input, shape, weight, bias, eps, _CUDNN.enabled)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalization: per sample, the ``C / num_groups`` channels of a group share stats.

    ::

        y = gamma_c * (x - E_g[x]) / sqrt(Var_g[x] + eps) + beta_c

    Example:
        >>> x = torch.randn(2, 4, 5, generator=torch.Generator().manual_seed(0))
        >>> y = group_norm(x, 2)
        >>> y[0, :2].mean().abs().item() < 1e-6
        True

    Paper: Wu & He, "Group Normalization", ECCV 2018 (arXiv:1803.08494).
    """
    check_floating("group_norm", input)
    if input.dim() < 2 or input.shape[1] % num_groups != 0:
        raise ConfigError(
            f"group_norm expects 'input' of shape (N, C, *) with C divisible by {num_groups}. "
            f"Got shape {tuple(input.shape)} instead."
        )
    return torch.group_norm(input, num_groups, weight, bias, eps, _CUDNN.enabled)


def _rms_norm(
    x: Tensor,
    shape: tuple[int, ...],
    weight: Tensor | None,
    eps: float | None,
) -> Tensor:
    native = getattr(F, "rms_norm", None)
    if native is not None:  # torch >= 2.4
        return native(x, shape, weight, eps)
    e = torch.finfo(x.dtype).eps if eps is None else eps
    dims = tuple(range(x.dim() - len(shape), x.dim()))
    y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + e)
    return y if weight is None else y * weight


def rms_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """Root-mean-square normalization over the trailing ``normalized_shape`` dimensions.

    ::

        y = gamma * z / sqrt(mean(z^2) + eps)        eps=None: torch.finfo(dtype).eps

    Uses ``torch.nn.functional.rms_norm`` where it exists (torch >= 2.4) and the formula above
    on older torch.

    Example:
        >>> x = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
        >>> rms_norm(x, 8).pow(2).mean(-1).sub(1).abs().max().item() < 1e-5
        True

    Paper: Zhang & Sennrich, "Root Mean Square Layer Normalization", NeurIPS 2019
    (arXiv:1910.07467).
    """
    shape = _as_shape(normalized_shape)
    _check_trailing("rms_norm", input, shape)
    return _rms_norm(input, shape, weight, eps)
