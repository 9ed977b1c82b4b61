"""Seeded random draws shared by the augmentations: uniform, Bernoulli, Gaussian, Beta.

Every function takes a ``torch.Generator`` (or ``None`` for torch's global generator) and gives
the same bits for the same seed on CPU, whatever the number of threads.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import torch

__all__ = ["bernoulli", "beta", "normal", "randint", "uniform"]

# Below this many elements one serial draw is cheaper than splitting the work.
_PARALLEL_MIN_NUMEL = 1 << 16
# The number of independent streams a large Gaussian draw is split into. It is fixed (not the
# thread count) so that the bits depend only on the seed and the shape.
_STREAMS = 8

_pool: ThreadPoolExecutor | None = None
_pool_pid = -1
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    # A pool created before a fork (DataLoader workers) has no live threads in the child:
    # build a fresh one per process.
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(
                max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="reglab-rng"
            )
            _pool_pid = os.getpid()
        return _pool


def _device_of(
    generator: torch.Generator | None, device: torch.device | str | None
) -> torch.device:
    if generator is not None:
        return generator.device
    return torch.device(device) if device is not None else torch.device("cpu")


def uniform(
    n: int,
    low: float | torch.Tensor,
    high: float | torch.Tensor,
    generator: torch.Generator | None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``n`` draws from U[low, high)."""
    u = torch.rand(n, generator=generator, dtype=dtype, device=_device_of(generator, device))
    return u * (high - low) + low


def bernoulli(
    n: int,
    p: float,
    generator: torch.Generator | None,
    *,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``n`` booleans, each True with probability ``p`` (no draw at all when p is 0 or 1)."""
    dev = _device_of(generator, device)
    if p >= 1.0:
        return torch.ones(n, dtype=torch.bool, device=dev)
    if p <= 0.0:
        return torch.zeros(n, dtype=torch.bool, device=dev)
    return torch.rand(n, generator=generator, device=dev) < p


def randint(
    high: torch.Tensor,
    generator: torch.Generator | None,
    *,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """One integer uniform on ``{0, ..., high[i] - 1}`` per entry of ``high`` (``high >= 1``)."""
    dev = _device_of(generator, device)
    u = torch.rand(high.shape, generator=generator, dtype=torch.float64, device=dev)
    high = high.to(dev)
    # floor(u * high) can only reach high through rounding; clamp it back.
    return torch.minimum((u * high).floor().long(), high.long() - 1)


def normal(
    shape: tuple[int, ...],
    std: float,
    generator: torch.Generator | None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Gaussian noise N(0, std^2) of ``shape``.

    torch draws CPU normals serially (one Mersenne-Twister stream). A large CPU draw is split into
    a fixed number of streams, each seeded from ``generator``, which threads fill in parallel:
    the result depends on the seed and the shape only, never on the thread count.
    """
    dev = _device_of(generator, device)
    numel = math.prod(shape)
    work_dtype = dtype if dtype in (torch.float32, torch.float64) else torch.float32
    if dev.type != "cpu" or numel < _PARALLEL_MIN_NUMEL:
        out = torch.randn(shape, generator=generator, dtype=work_dtype, device=dev)
        return (out.mul_(std) if std != 1.0 else out).to(dtype)
    seeds = torch.randint(0, 2**62, (_STREAMS,), generator=generator).tolist()
    out = torch.empty(shape, dtype=work_dtype)
    chunks = torch.tensor_split(out.view(-1), _STREAMS)

    def fill(worker: int, workers: int) -> None:
        for i in range(worker, _STREAMS, workers):
            g = torch.Generator()
            g.manual_seed(int(seeds[i]))
            chunks[i].normal_(0.0, std, generator=g)

    workers = min(_STREAMS, torch.get_num_threads())
    if workers <= 1:
        fill(0, 1)
    else:
        pool = _executor()
        futures = [pool.submit(fill, w, workers) for w in range(1, workers)]
        fill(0, workers)
        for f in futures:
            f.result()
    return out.to(dtype)


def beta(
    alpha: float,
    n: int,
    generator: torch.Generator | None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``n`` draws from Beta(alpha, alpha), replayable from ``generator``.

    Beta(a, a) = G1 / (G1 + G2) with G1, G2 ~ Gamma(a). For small ``a`` the Gamma draws underflow
    to 0 (0/0 = NaN), so each is drawn in log space with the boost
    ``Gamma(a) = Gamma(a + 1) * U^(1/a)`` (Marsaglia & Tsang, 2000), and
    ``lambda = sigmoid(log G1 - log G2)``.
    """
    dev = _device_of(generator, device)
    conc = torch.full((2, n), alpha + 1.0, dtype=torch.float64, device=dev)
    g = torch._standard_gamma(conc, generator=generator)
    u = torch.rand((2, n), generator=generator, dtype=torch.float64, device=dev)
    # 1 - u lies in (0, 1]: its log is finite.
    log_g = g.log() + torch.log1p(-u) / alpha
    return torch.sigmoid(log_g[0] - log_g[1]).to(dtype)
