"""Dropout family as pure functions: dropout (inverted and classic), channel dropout, drop path,
DropBlock, DropConnect, Gaussian dropout and noise, alpha dropout.

Every function takes ``training`` and ``generator``; the same seeded generator gives the same mask
on CPU. Masks and Gaussian noise come from :mod:`reglab._rng`, the one random engine: masks slice
64-bit random words into 16-bit draws, so the drop probability is exact up to a quantisation of
at most 2**-17 and costs a fraction of ``torch.bernoulli``. On other devices (CUDA) plain
:func:`dropout` calls torch's fused kernel when no generator is given.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from .. import _rng
from .._checks import (
    BOOL,
    GENERATOR,
    PROBABILITY,
    Constraints,
    InstanceOf,
    Interval,
    OneOf,
    check_floating,
    check_ndim,
    validate_params,
)

__all__ = [
    "SELU_ALPHA_PRIME",
    "alpha_dropout",
    "alpha_dropout_coefficients",
    "drop_block2d",
    "drop_block2d_gamma",
    "drop_connect",
    "drop_path",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "gaussian_dropout",
    "gaussian_noise",
    "keep_mask",
]

#: The SELU negative saturation value, ``-lambda * alpha`` (Klambauer et al. 2017).
SELU_ALPHA_PRIME = -1.7580993408473766

_SCALING = OneOf("inverted", "classic")


# --------------------------------------------------------------------------------------------
# The mask sampler (reglab._rng, the one random engine)
# --------------------------------------------------------------------------------------------


def keep_mask(
    shape: tuple[int, ...] | torch.Size,
    p: float,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Boolean mask of ``shape`` whose entries are ``False`` (dropped) with probability ``p``.

    On CPU the probability is ``round(p * 2**16) / 2**16`` (within 2**-17 of ``p``), drawn from
    16-bit slices of 64-bit random words; the mask depends on the generator's state and the shape
    only (not on the number of threads). Elsewhere it is ``rand(shape) >= p``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> m = keep_mask((1000,), 0.25, generator=g)
        >>> m.dtype, 0.2 < 1 - m.float().mean().item() < 0.3
        (torch.bool, True)
    """
    shape = tuple(int(s) for s in shape)
    dev = torch.device("cpu") if device is None else torch.device(device)
    if dev.type == "cpu":
        return _rng.keep_mask(shape, p, generator)
    return torch.rand(shape, device=dev, generator=generator) >= p


# --------------------------------------------------------------------------------------------
# Elementwise dropout
# --------------------------------------------------------------------------------------------


def _masked_scale(x: torch.Tensor, mask: torch.Tensor, scale: float) -> torch.Tensor:
    # torch's bool->float cast and where()/masked_fill are scalar loops on CPU; the uint8 view of
    # the mask converts to float with a vectorised kernel, then two vectorised multiplies.
    factor = mask.view(torch.uint8).to(x.dtype) if mask.dtype == torch.bool else mask.to(x.dtype)
    factor.mul_(x)
    return factor.mul_(scale) if scale != 1.0 else factor


class _MaskedScale(torch.autograd.Function):
    """``x * mask * scale`` that saves only the boolean mask (1 byte per element)."""

    generate_vmap_rule = True  # the separate setup_context also lets torch.func transforms in

    @staticmethod
    def forward(x: torch.Tensor, mask: torch.Tensor, scale: float) -> torch.Tensor:
        return _masked_scale(x, mask, scale)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        _, mask, scale = inputs
        ctx.save_for_backward(mask)
        ctx.scale = scale

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        (mask,) = ctx.saved_tensors
        return _MaskedScale.apply(grad, mask, ctx.scale), None, None


class _MaskedScaleInplace(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, mask: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(mask)
        ctx.scale = scale
        ctx.mark_dirty(x)
        return x.mul_(_masked_scale(torch.ones((), dtype=x.dtype), mask, scale))

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        (mask,) = ctx.saved_tensors
        return _masked_scale(grad, mask, ctx.scale), None, None


#: The arguments dropout and the channel dropouts share, declared once.
_DROPOUT_CONSTRAINTS: Constraints = {
    "p": PROBABILITY,
    "training": BOOL,
    "scaling": [_SCALING],
    "inplace": BOOL,
    "generator": GENERATOR,
}


def _check_dropout_args(
    owner: str,
    input: torch.Tensor,
    p: float,
    training: bool,
    scaling: str,
    inplace: bool,
    generator: torch.Generator | None,
) -> None:
    validate_params(owner, locals(), _DROPOUT_CONSTRAINTS)
    check_floating(owner, input)


def _train_scale(p: float, scaling: str) -> float:
    return 1.0 / (1.0 - p) if scaling == "inverted" else 1.0


def _eval(x: torch.Tensor, p: float, scaling: str, inplace: bool) -> torch.Tensor:
    if scaling == "inverted" or p == 0.0:
        return x
    return x.mul_(1.0 - p) if inplace else x * (1.0 - p)


def _dropout(
    x: torch.Tensor,
    p: float,
    training: bool,
    scaling: str,
    inplace: bool,
    generator: torch.Generator | None,
) -> torch.Tensor:
    if not training or p == 0.0 or x.numel() == 0:
        return _eval(x, p, scaling, inplace)
    scale = _train_scale(p, scaling)
    if x.device.type != "cpu":
        if generator is None:  # torch's fused kernel (mask and scale in one pass)
            y = F.dropout(x, p, True, inplace)
            return y if scale != 1.0 else (y.mul_(1.0 - p) if inplace else y * (1.0 - p))
        mask = keep_mask(x.shape, p, x.device, generator)
    else:
        mask = _rng.keep_mask(tuple(x.shape), p, generator)
    fn = _MaskedScaleInplace if inplace else _MaskedScale
    out: torch.Tensor = fn.apply(x, mask, scale)
    return out


def dropout(
    input: torch.Tensor,
    p: float = 0.5,
    training: bool = True,
    scaling: str = "inverted",
    inplace: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Zero each element with probability ``p`` (Srivastava et al. 2014).

    With ``m_j ~ Bernoulli(1 - p)``:

    * ``scaling="inverted"`` (torch, Keras): training ``y = x * m / (1 - p)``; inference ``y = x``.
    * ``scaling="classic"`` (the original paper): training ``y = x * m``; inference
      ``y = x * (1 - p)``.

    Both give the inference output as the expected training activation. The gradient flows only
    through kept units. On CPU the mask is drawn by :func:`keep_mask` (``p`` quantised to
    ``2**-16``) and saved as one byte per element; on CUDA without a generator torch's fused
    kernel runs.

    Args:
        input: a floating-point tensor of any shape.
        p: probability of dropping an element, in ``[0, 1)``.
        training: apply dropout (``True``) or the inference rule (``False``).
        scaling: ``"inverted"`` or ``"classic"``.
        inplace: write the result into ``input``.
        generator: random source; the same seeded generator gives the same mask.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = dropout(torch.ones(2, 4), 0.5, generator=g)
        >>> sorted(set(y.flatten().tolist())) in ([0.0, 2.0], [0.0], [2.0])
        True
        >>> dropout(torch.ones(3), 0.25, training=False, scaling="classic")
        tensor([0.7500, 0.7500, 0.7500])

    Paper: Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
    Overfitting", JMLR 2014.
    """
    _check_dropout_args("dropout", input, p, training, scaling, inplace, generator)
    return _dropout(input, float(p), training, scaling, inplace, generator)


# --------------------------------------------------------------------------------------------
# Channel dropout (Dropout1d / 2d / 3d)
# --------------------------------------------------------------------------------------------

# (batched rank, unbatched rank or None, layout description) per spatial dimensionality.
_FEATURE_LAYOUTS: dict[int, tuple[int, int, str]] = {
    1: (3, 2, "(N, C, L) or (C, L)"),
    2: (4, 3, "(N, C, H, W) or (N, C, L)"),
    3: (5, 4, "(N, C, D, H, W) or (C, D, H, W)"),
}


def _feature_dropout(
    x: torch.Tensor,
    p: float,
    training: bool,
    scaling: str,
    inplace: bool,
    generator: torch.Generator | None,
    dims: int,
    owner: str,
) -> torch.Tensor:
    batched, other, layout = _FEATURE_LAYOUTS[dims]
    check_ndim(owner, x, (batched, other), layout)
    if not training or p == 0.0 or x.numel() == 0:
        return _eval(x, p, scaling, inplace)
    if x.dim() == batched:
        mask_shape = (x.shape[0], x.shape[1]) + (1,) * dims
    elif dims == 2:
        # torch reads a 3-D input to dropout2d as (N, C, L), not as an unbatched (C, H, W).
        warnings.warn(
            f"{owner} received a 3-D input and, as torch does, treats it as (N, C, L) and drops "
            "whole channels of dim 1; use Dropout1d to say so explicitly.",
            UserWarning,
            stacklevel=3,
        )
        mask_shape = (x.shape[0], x.shape[1], 1)
    else:  # unbatched: channels are dim 0
        mask_shape = (x.shape[0],) + (1,) * dims
    mask = keep_mask(mask_shape, p, x.device, generator)
    factor = mask.to(x.dtype).mul_(_train_scale(p, scaling))
    return x.mul_(factor) if inplace else x * factor


def _feature_public(dims: int, name: str, doc_layout: str) -> Any:
    def fn(
        input: torch.Tensor,
        p: float = 0.5,
        training: bool = True,
        scaling: str = "inverted",
        inplace: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        _check_dropout_args(name, input, p, training, scaling, inplace, generator)
        return _feature_dropout(input, float(p), training, scaling, inplace, generator, dims, name)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"""Zero whole channels (a channel is input[n, c], a {dims}-D map) with probability ``p``.

    Input layout {doc_layout}; the mask has shape (N, C{", 1" * dims}) and the scaling rule is the
    one of :func:`dropout` (``"inverted"`` or ``"classic"``). Shape rules follow
    ``torch.nn.functional.{name}``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = {name}(torch.ones(2, 3{", 4" * dims}), 0.5, generator=g)
        >>> bool(((y == 0).all(dim=tuple(range(2, y.dim()))) | (y != 0).all(dim=tuple(range(2, y.dim())))).all())
        True

    Paper: Tompson et al., "Efficient Object Localization Using Convolutional Networks", CVPR 2015.
    """
    return fn


dropout1d = _feature_public(1, "dropout1d", "(N, C, L) or unbatched (C, L)")
dropout2d = _feature_public(
    2, "dropout2d", "(N, C, H, W) (a 3-D input is read as (N, C, L), as torch does)"
)
dropout3d = _feature_public(3, "dropout3d", "(N, C, D, H, W) or unbatched (C, D, H, W)")


# --------------------------------------------------------------------------------------------
# Drop path (stochastic depth)
# --------------------------------------------------------------------------------------------


def _drop_path(
    x: torch.Tensor,
    p: float,
    training: bool,
    mode: str,
    scale_by_keep: bool,
    generator: torch.Generator | None,
) -> torch.Tensor:
    if not training or p == 0.0 or x.numel() == 0:
        return x
    shape = (
        (x.shape[0],) + (1,) * (x.dim() - 1) if mode == "row" and x.dim() > 0 else (1,) * x.dim()
    )
    factor = keep_mask(shape, p, x.device, generator).to(x.dtype)
    if scale_by_keep:
        factor.mul_(1.0 / (1.0 - p))
    return x * factor


#: The constraints of drop_path's arguments, checked by validate_params.
_DROP_PATH_CONSTRAINTS: Constraints = {
    "p": PROBABILITY,
    "training": BOOL,
    "mode": [OneOf("row", "batch")],
    "scale_by_keep": BOOL,
    "generator": GENERATOR,
}


def drop_path(
    input: torch.Tensor,
    p: float,
    training: bool = True,
    mode: str = "row",
    scale_by_keep: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Stochastic depth: zero a whole residual branch with probability ``p`` (Huang et al. 2016).

    ``mode="row"`` draws one keep/drop per sample (dim 0), ``"batch"`` one for the whole batch.
    Training: ``y = x * m / (1 - p)`` (or ``x * m`` with ``scale_by_keep=False``); inference:
    ``y = x``. Apply it to the branch output before adding the shortcut.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = drop_path(torch.ones(4, 3), 0.5, generator=g)
        >>> [row in ([0.0] * 3, [2.0] * 3) for row in y.tolist()]
        [True, True, True, True]

    Paper: Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016.
    """
    validate_params("drop_path", locals(), _DROP_PATH_CONSTRAINTS)
    check_floating("drop_path", input)
    return _drop_path(input, float(p), training, mode, scale_by_keep, generator)


# --------------------------------------------------------------------------------------------
# DropBlock
# --------------------------------------------------------------------------------------------


def drop_block2d_gamma(p: float, block_size: int, height: int, width: int) -> float:
    """Seed rate of DropBlock (Ghiasi et al. 2018, eq. 1), for a ``block_size`` that fits.

    ``gamma = p / block_size**2 * (H * W) / ((H - block_size + 1) * (W - block_size + 1))``

    Example:
        >>> round(drop_block2d_gamma(0.1, 3, 8, 8), 6)
        0.019753
    """
    return (
        p
        / block_size**2
        * (height * width)
        / ((height - block_size + 1) * (width - block_size + 1))
    )


def _block_mask_from_seeds(seeds: torch.Tensor, block_size: int) -> torch.Tensor:
    """Dropped-unit mask (1 = dropped) from block seeds at the top-left corner of each block.

    ``seeds`` has shape (N, C, H - b + 1, W - b + 1); the result (N, C, H, W).
    """
    pad = block_size - 1
    padded = F.pad(seeds, (pad, pad, pad, pad))
    return F.max_pool2d(padded, kernel_size=block_size, stride=1)


def _drop_block2d(
    x: torch.Tensor,
    p: float,
    block_size: int,
    training: bool,
    generator: torch.Generator | None,
    owner: str,
) -> torch.Tensor:
    check_ndim(owner, x, (4,), "(N, C, H, W)")
    if not training or p == 0.0 or x.numel() == 0:
        return x
    n, c, h, w = x.shape
    b = min(block_size, h, w)  # a block larger than the map covers the whole map
    gamma = drop_block2d_gamma(p, b, h, w)
    seeds = (~keep_mask((n, c, h - b + 1, w - b + 1), min(gamma, 1.0), x.device, generator)).to(
        x.dtype
    )
    keep = 1.0 - _block_mask_from_seeds(seeds, b)
    # Renormalise by the kept fraction of this batch (the paper's count(M) / count_ones(M)).
    kept = keep.sum()
    factor = keep * (keep.numel() / kept.clamp_min(1.0))
    return x * factor


#: The constraints of drop_block2d's arguments, checked by validate_params.
_DROP_BLOCK2D_CONSTRAINTS: Constraints = {
    "p": PROBABILITY,
    "block_size": [Interval(int, 1, None)],
    "training": BOOL,
    "generator": GENERATOR,
}


def drop_block2d(
    input: torch.Tensor,
    p: float,
    block_size: int,
    training: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """DropBlock: zero contiguous ``block_size x block_size`` regions of each feature map.

    Block seeds are drawn with rate ``gamma`` (:func:`drop_block2d_gamma`) at positions where a
    whole block fits, each channel with its own mask; every seed zeroes the block below and right
    of it, and the kept units are rescaled by ``count(M) / count_ones(M)``. A ``block_size``
    larger than the map is reduced to ``min(H, W)``. Inference: identity.

    Args:
        input: (N, C, H, W) floating-point tensor.
        p: target fraction of dropped units, in ``[0, 1)``.
        block_size: side of the square block, ``>= 1`` (1 is channel-independent dropout).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = drop_block2d(torch.ones(2, 3, 8, 8), 0.2, 3, generator=g)
        >>> y.shape, bool((y.sum() - y.numel()).abs() < 1e-3)
        (torch.Size([2, 3, 8, 8]), True)

    Paper: Ghiasi, Lin, Le, "DropBlock: A regularization method for convolutional networks",
    NeurIPS 2018.
    """
    validate_params("drop_block2d", locals(), _DROP_BLOCK2D_CONSTRAINTS)
    check_floating("drop_block2d", input)
    return _drop_block2d(input, float(p), block_size, training, generator, "drop_block2d")


# --------------------------------------------------------------------------------------------
# DropConnect
# --------------------------------------------------------------------------------------------

_DROP_CONNECT_TYPES = (nn.Linear, nn.modules.conv._ConvNd)
_DROP_CONNECT_MODULE = InstanceOf(
    *_DROP_CONNECT_TYPES,
    description="a torch.nn.Linear or a torch convolution module (Conv1d/2d/3d, ConvTranspose1d/2d/3d)",
)


def _drop_connect(
    x: torch.Tensor,
    module: nn.Module,
    p: float,
    training: bool,
    generator: torch.Generator | None,
) -> torch.Tensor:
    if not training or p == 0.0:
        out: torch.Tensor = module(x)
        return out
    weight = cast(torch.Tensor, module.weight)
    mask = keep_mask(tuple(weight.shape), p, weight.device, generator)
    dropped = _MaskedScale.apply(weight, mask, 1.0 / (1.0 - p))
    out = torch.func.functional_call(module, {"weight": dropped}, (x,))
    return out


#: The constraints of drop_connect's arguments, checked by validate_params.
_DROP_CONNECT_CONSTRAINTS: Constraints = {
    "module": [_DROP_CONNECT_MODULE],
    "p": PROBABILITY,
    "training": BOOL,
    "generator": GENERATOR,
}


def drop_connect(
    input: torch.Tensor,
    module: nn.Module,
    p: float = 0.5,
    training: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Run ``module`` (a Linear or convolution) on ``input`` with its weights dropped (Wan et al. 2013).

    Training: ``y = module_{W * M / (1 - p)}(x)`` with one mask ``M ~ Bernoulli(1 - p)`` over the
    weight per call (the bias is kept); inference: ``y = module(x)``. Gradients reach only the kept
    weights.

    Example:
        >>> lin = torch.nn.Linear(4, 2)
        >>> y = drop_connect(torch.ones(3, 4), lin, 0.5, generator=torch.Generator().manual_seed(0))
        >>> y.shape
        torch.Size([3, 2])

    Paper: Wan et al., "Regularization of Neural Networks using DropConnect", ICML 2013.
    """
    validate_params("drop_connect", locals(), _DROP_CONNECT_CONSTRAINTS)
    check_floating("drop_connect", input)
    return _drop_connect(input, module, float(p), training, generator)


# --------------------------------------------------------------------------------------------
# Gaussian dropout and Gaussian noise
# --------------------------------------------------------------------------------------------


def _randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return _rng.normal(x.shape, 1.0, generator, dtype=x.dtype, device=x.device)


def _gaussian_dropout(
    x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None
) -> torch.Tensor:
    if not training or p == 0.0 or x.numel() == 0:
        return x
    noise = _randn_like(x, generator).mul_(math.sqrt(p / (1.0 - p))).add_(1.0)
    return x * noise


#: The constraints of gaussian_dropout's arguments, checked by validate_params.
_GAUSSIAN_DROPOUT_CONSTRAINTS: Constraints = {
    "p": PROBABILITY,
    "training": BOOL,
    "generator": GENERATOR,
}


def gaussian_dropout(
    input: torch.Tensor,
    p: float,
    training: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Multiplicative Gaussian noise with the mean and variance of dropout (Srivastava et al. 2014).

    Training: ``y = x * e`` with ``e ~ N(1, p / (1 - p))`` per element (the variance of
    inverted dropout's ``m / (1 - p)``); inference: ``y = x``. Keras calls it ``GaussianDropout``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = gaussian_dropout(torch.ones(100_000), 0.5, generator=g)
        >>> round(y.mean().item(), 1), round(y.var().item(), 1)
        (1.0, 1.0)

    Paper: Srivastava et al., JMLR 2014, section 10 ("Multiplicative Gaussian Noise").
    """
    validate_params("gaussian_dropout", locals(), _GAUSSIAN_DROPOUT_CONSTRAINTS)
    check_floating("gaussian_dropout", input)
    return _gaussian_dropout(input, float(p), training, generator)


def _gaussian_noise(
    x: torch.Tensor, std: float, training: bool, generator: torch.Generator | None
) -> torch.Tensor:
    if not training or std == 0.0 or x.numel() == 0:
        return x
    noise = _rng.normal(x.shape, std, generator, dtype=x.dtype, device=x.device)
    return x + noise


#: The constraints of gaussian_noise's arguments, checked by validate_params.
_GAUSSIAN_NOISE_CONSTRAINTS: Constraints = {
    "std": [Interval(float, 0, None)],
    "training": BOOL,
    "generator": GENERATOR,
}


def gaussian_noise(
    input: torch.Tensor,
    std: float,
    training: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Additive Gaussian noise during training: ``y = x + std * N(0, 1)``; inference ``y = x``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = gaussian_noise(torch.zeros(100_000), 0.5, generator=g)
        >>> round(y.std().item(), 2)
        0.5
    """
    validate_params("gaussian_noise", locals(), _GAUSSIAN_NOISE_CONSTRAINTS)
    check_floating("gaussian_noise", input)
    return _gaussian_noise(input, float(std), training, generator)


# --------------------------------------------------------------------------------------------
# Alpha dropout
# --------------------------------------------------------------------------------------------


def alpha_dropout_coefficients(p: float) -> tuple[float, float]:
    """``(a, b)`` of alpha dropout: ``a = (q + alpha'^2 q (1 - q))^(-1/2)``, ``b = -a (1 - q) alpha'``.

    ``q = 1 - p`` is the keep probability and ``alpha'`` :data:`SELU_ALPHA_PRIME`.
    """
    q = 1.0 - p
    a = (q + SELU_ALPHA_PRIME**2 * q * (1.0 - q)) ** -0.5
    return a, -a * (1.0 - q) * SELU_ALPHA_PRIME


def _alpha_dropout(
    x: torch.Tensor,
    p: float,
    training: bool,
    inplace: bool,
    generator: torch.Generator | None,
) -> torch.Tensor:
    if not training or p == 0.0 or x.numel() == 0:
        return x
    a, b = alpha_dropout_coefficients(p)
    keep = keep_mask(tuple(x.shape), p, x.device, generator).to(x.dtype)
    # kept: a * x + b; dropped: a * alpha' + b (the SELU saturation, shifted and scaled)
    shift = keep.mul(-a * SELU_ALPHA_PRIME).add_(a * SELU_ALPHA_PRIME + b)
    factor = keep.mul_(a)
    if inplace:
        return x.mul_(factor).add_(shift)
    return torch.addcmul(shift, x, factor)


#: The constraints of alpha_dropout's arguments, checked by validate_params.
_ALPHA_DROPOUT_CONSTRAINTS: Constraints = {
    "p": PROBABILITY,
    "training": BOOL,
    "inplace": BOOL,
    "generator": GENERATOR,
}


def alpha_dropout(
    input: torch.Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Dropout for SELU networks: keeps zero mean and unit variance (Klambauer et al. 2017).

    Dropped units are set to SELU's saturation ``alpha' = -1.7581``, then everything is mapped
    by ``a * (.) + b`` (:func:`alpha_dropout_coefficients`) so a standardised input stays
    standardised. Inference: identity. Same semantics as ``torch.nn.functional.alpha_dropout``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = alpha_dropout(torch.randn(200_000, generator=g), 0.2, generator=g)
        >>> round(y.mean().item(), 1) == 0.0, round(y.var().item(), 1)
        (True, 1.0)

    Paper: Klambauer et al., "Self-Normalizing Neural Networks", NeurIPS 2017.
    """
    validate_params("alpha_dropout", locals(), _ALPHA_DROPOUT_CONSTRAINTS)
    check_floating("alpha_dropout", input)
    return _alpha_dropout(input, float(p), training, inplace, generator)
