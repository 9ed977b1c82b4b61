"""Weight penalties, their gradients and the proximal / constraint maps, as pure tensor functions.

Conventions (Keras'):

* L1 penalty ``l1 * sum_i |w_i|``; its (sub)gradient is ``l1 * sign(w)`` with ``sign(0) = 0``,
  which is what autograd gives for ``torch.abs`` at 0.
* L2 penalty ``l2 * sum_i w_i^2`` (no 1/2); its gradient is ``2 * l2 * w``. The same penalty
  written ``lambda/2 * ||W||^2`` (the textbook form) has ``lambda = 2 * l2``.

The in-place functions (``*_``) run under ``torch.no_grad`` with ``torch._foreach_*`` multi-tensor
kernels and take lists of tensors. Validation of strengths and tensors is the caller's job
(:mod:`reglab.penalty`, :mod:`reglab.optim`, :mod:`reglab.constraints` validate once).

Example:
    >>> import torch
    >>> w = [torch.tensor([1.0, -2.0, 0.0])]
    >>> elastic_net_penalty(w, 0.1, 0.01).item()
    0.35...
    >>> g = [torch.zeros(3)]
    >>> elastic_net_grad_(g, w, 0.1, 0.01)
    >>> g[0]
    tensor([ 0.1200, -0.1400,  0.0000])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

__all__ = [
    "elastic_net_grad",
    "elastic_net_grad_",
    "elastic_net_penalty",
    "l1_penalty",
    "l2_penalty",
    "max_norm_",
    "soft_threshold_",
    "unit_norm_",
]


def l1_penalty(params: Sequence[torch.Tensor], l1: float) -> torch.Tensor:
    """``l1 * sum_i |w_i|`` over all tensors (differentiable; gradient ``l1 * sign(w)``)."""
    return elastic_net_penalty(params, l1, 0.0)


def l2_penalty(params: Sequence[torch.Tensor], l2: float) -> torch.Tensor:
    """``l2 * sum_i w_i^2`` over all tensors (differentiable; gradient ``2 * l2 * w``)."""
    return elastic_net_penalty(params, 0.0, l2)


def elastic_net_penalty(params: Sequence[torch.Tensor], l1: float, l2: float) -> torch.Tensor:
    """``l1 * sum|w| + l2 * sum w^2`` over all tensors, as a differentiable scalar.

    The backward pass hands each tensor :func:`elastic_net_grad` as one tensor, so the gradient
    autograd accumulates (``g + P``) is bit for bit what :func:`elastic_net_grad_` produces: loss
    mode and gradient mode give identical updates for any optimizer, not only up to rounding
    (with Adam and L1, rounding-level differences grow as weights cross 0). The value is returned
    in the first tensor's dtype and device (a float32 zero for an empty list: the sum over no
    weights). Not twice differentiable.
    """
    if not params:
        return torch.zeros(())
    return _ElasticNetFn.apply(float(l1), float(l2), *params)


class _ElasticNetFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, l1: float, l2: float, *params: torch.Tensor) -> torch.Tensor:
        ctx.l1, ctx.l2 = l1, l2
        ctx.save_for_backward(*params)
        total = params[0].new_zeros(())
        if l1:
            for n in torch._foreach_norm(list(params), 1):
                total = total + l1 * n
        if l2:
            for p in params:
                flat = p.reshape(-1)
                total = total + l2 * torch.dot(flat, flat)
        return total

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        params = list(ctx.saved_tensors)
        needed = ctx.needs_input_grad[2:]
        chosen = [p for p, n in zip(params, needed) if n]
        grads = iter(elastic_net_grad(chosen, ctx.l1, ctx.l2) if chosen else [])
        out: list[torch.Tensor | None] = [next(grads) if n else None for n in needed]
        # skip the multiply in the usual case (penalty added to the loss, grad 1) on CPU, where
        # reading the scalar costs nothing (not under torch.compile: .item() would break the
        # graph); x * 1 is exact anyway
        if _compiling() or grad_out.device.type != "cpu" or grad_out.item() != 1.0:
            real = [g for g in out if g is not None]
            if real:
                torch._foreach_mul_(real, grad_out)
        return (None, None, *out)


def _compiling() -> bool:
    fn = getattr(torch.compiler, "is_compiling", None)
    return bool(fn()) if fn is not None else False


@torch.no_grad()
def elastic_net_grad(params: Sequence[torch.Tensor], l1: float, l2: float) -> list[torch.Tensor]:
    """The penalty gradient ``P = l1 * sign(w) + 2 * l2 * w`` as new tensors (``sign(0) = 0``).

    Computed as ``fma(w, 2*l2, l1*sign(w))`` with multi-tensor kernels; both modes use it.
    """
    params = list(params)
    out: list[torch.Tensor] = []
    for block in _cache_blocks(params):
        out += _elastic_net_grad(params[block], l1, l2)
    return out


def _elastic_net_grad(params: list[torch.Tensor], l1: float, l2: float) -> list[torch.Tensor]:
    if l1:
        out = list(torch._foreach_sign(params))
        torch._foreach_mul_(out, l1)
        if l2:
            torch._foreach_add_(out, params, alpha=2.0 * l2)
        return out
    if l2:
        return list(torch._foreach_mul(params, 2.0 * l2))
    return [torch.zeros_like(p) for p in params]


# On CPU a ``torch._foreach_*`` op runs one kernel per tensor, so a chain of them streams every
# tensor through memory once per op: over a 20x512 MLP (21 MB of weights) each op misses the
# caches. Running the chain over blocks of about this many bytes keeps the intermediates in the
# core's L2 cache: the same kernels on the same elements, so the same results bit for bit, and
# about 1.4x faster. (On CUDA one fused launch over all tensors is the fast path: no blocks.)
_CPU_BLOCK_BYTES = 1 << 20


def _cache_blocks(params: list[torch.Tensor]) -> Iterator[slice]:
    """Consecutive runs of ``params`` of about ``_CPU_BLOCK_BYTES`` each (CPU tensors)."""
    if not params:
        return
    if params[0].device.type != "cpu":
        yield slice(0, len(params))
        return
    start, size = 0, 0
    for i, p in enumerate(params):
        nbytes = p.numel() * p.element_size()
        if i > start and size + nbytes > _CPU_BLOCK_BYTES:
            yield slice(start, i)
            start, size = i, 0
        size += nbytes
    yield slice(start, len(params))


@torch.no_grad()
def elastic_net_grad_(
    grads: Sequence[torch.Tensor], params: Sequence[torch.Tensor], l1: float, l2: float
) -> None:
    """Add ``l1 * sign(w) + 2 * l2 * w`` to each gradient in place (multi-tensor, no autograd).

    ``grads[i] += P[i]`` with ``P`` from :func:`elastic_net_grad`, in one rounding step, so the
    result equals what autograd accumulates in loss mode. ``sign(0) = 0``: an exactly-zero weight
    gets no L1 push, as with autograd through ``torch.abs``. On CPU the work runs over
    cache-sized blocks of tensors.
    """
    grads = list(grads)
    params = list(params)
    if not (l1 or l2):
        return
    for block in _cache_blocks(params):
        ws, gs = params[block], grads[block]
        if l1 and not l2:
            # l1 * sign(w) is exact, so grads + l1*sign(w) rounds like grads + P: one pass less
            torch._foreach_add_(gs, torch._foreach_sign(ws), alpha=l1)
        else:
            torch._foreach_add_(gs, _elastic_net_grad(ws, l1, l2))


@torch.no_grad()
def soft_threshold_(params: Sequence[torch.Tensor], threshold: float) -> None:
    """Soft-threshold in place: ``w <- sign(w) * max(|w| - threshold, 0)``.

    Computed as ``w - clamp(w, -t, t)``, which is the same map and gives ``w - w = 0`` exactly
    for ``|w| <= t`` (the proximal operator of ``t * ||w||_1``; Tibshirani 1996, ISTA).
    """
    params = list(params)
    if not params:
        return
    clipped = torch._foreach_clamp_max(params, threshold)
    torch._foreach_clamp_min_(clipped, -threshold)
    torch._foreach_sub_(params, clipped)


def _unit_norms(w: torch.Tensor, dim: int | None) -> torch.Tensor:
    if dim is None:
        return torch.linalg.vector_norm(w)
    other = [d for d in range(w.dim()) if d != dim % w.dim()]
    if not other:  # a 1-D tensor split along its only dim: each entry is its own unit
        return w.abs()
    return torch.linalg.vector_norm(w, dim=other, keepdim=True)


@torch.no_grad()
def max_norm_(params: Sequence[torch.Tensor], max_value: float, dim: int | None = 0) -> None:
    """Rescale each unit's weight vector whose L2 norm exceeds ``max_value`` to norm ``max_value``.

    Units are the slices along ``dim`` (``dim=0``: each output unit's incoming weights of a
    ``Linear``/``Conv`` weight, the norm taken over all other dims, as ``torch.renorm``);
    ``dim=None`` treats each tensor as one unit. Vectors within the bound are left untouched.
    """
    for w in params:
        norms = _unit_norms(w, dim)
        scale = (max_value / norms.clamp_min(1e-12)).clamp_max(1.0)
        w.mul_(scale)


@torch.no_grad()
def unit_norm_(params: Sequence[torch.Tensor], dim: int | None = 0, eps: float = 1e-12) -> None:
    """Rescale each unit's weight vector (slices along ``dim``) to L2 norm 1; zero vectors stay 0."""
    for w in params:
        w.div_(_unit_norms(w, dim).clamp_min(eps))
