"""The one random engine: dropout masks, augmentation draws and Gaussian noise all come from here.

Contract (the same for every draw):

* Every function takes a ``torch.Generator`` (``None``: torch's global generator) and, on CPU,
  gives the same bits for the same generator state and the same shape, whatever the number of
  threads. On other devices it calls torch's sampler on that device.
* Small draws (at most :data:`SMALL` elements, e.g. one angle per sample) come from the torch
  generator directly: for them seeding anything else costs more than the draw.
* A large CPU draw takes one 63-bit seed from the torch generator (so ``torch.manual_seed`` and
  explicit generators govern it) and splits the output into chunks of :data:`WORDS` 64-bit random
  words: chunk ``i`` is filled from ``SFC64(SeedSequence([seed, i]))``. The chunking is fixed,
  so the bits depend on the seed and the shape only; helper threads (numpy releases the GIL)
  fill chunks in parallel, which is why this is faster than torch's serial Mersenne Twister.

What a chunk's words become:

* :func:`keep_mask`: four 16-bit draws per word, uniform on ``[-32768, 32767]``; a unit is kept
  when its draw is ``>= k - 32768`` with ``k = round(p * 2**16)`` (``p`` exact to ``2**-17``).
* :func:`normal` (float32, float16, bfloat16): Box-Muller on the chunk's ``k`` pairs,
  ``z_j = r_j cos(2 pi v_j)`` and ``z_{k+j} = r_j sin(2 pi v_j)`` with
  ``r_j = std sqrt(-2 log u_j)``; ``u_j`` (the chunk's first ``k`` 32-bit halves) is uniform on
  ``(0, 1]`` and ``v_j`` (the next ``k``) on ``[0, 1)``, both with 23-bit resolution, so
  ``|z| <= 5.64 std``. Float64 normals come from ``torch.randn`` (serial): numpy's float64
  sine is not vectorised, and the draw would be slower than torch's.

Example:
    >>> import torch
    >>> a = normal((4, 100_000), 1.0, torch.Generator().manual_seed(0))
    >>> torch.equal(a, normal((4, 100_000), 1.0, torch.Generator().manual_seed(0)))
    True
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

__all__ = [
    "SMALL",
    "WORDS",
    "bernoulli",
    "beta",
    "device_of",
    "keep_mask",
    "normal",
    "normal_async",
    "randint",
    "seed_from",
    "uniform",
]

#: 64-bit random words per independently seeded chunk (2**18 mask entries, 2**17 float32 normals).
WORDS = 1 << 16
#: Up to this many elements, a draw comes from the torch generator directly.
SMALL = 1 << 13
_LEVELS = 1 << 16  # keep_mask quantises p to multiples of 2**-16
_MAX_WORKERS = 4

_pool_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def _executor() -> ThreadPoolExecutor:
    """The engine's helper threads (recreated in a forked child, where threads do not survive)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (
                os.getpid(),
                ThreadPoolExecutor(max_workers=_MAX_WORKERS - 1, thread_name_prefix="reglab-rng"),
            )
        return _pool[1]


def _is_compiling() -> bool:
    # torch.compiler.is_compiling (torch >= 2.3) is constant-folded by dynamo; older torch: eager.
    fn = getattr(torch.compiler, "is_compiling", None)
    return bool(fn()) if fn is not None else False


def seed_from(generator: torch.Generator | None) -> int:
    """One 63-bit seed drawn from ``generator`` (advances it by one draw)."""
    return int(torch.empty((), dtype=torch.int64).random_(generator=generator))


def _stream(seed: int, i: int) -> np.random.SFC64:
    return np.random.SFC64(np.random.SeedSequence([seed, i]))


class _Claims:
    """Chunk numbers ``0..chunks-1``, each handed to the first thread that asks (thread-safe)."""

    def __init__(self, chunks: int) -> None:
        self._next, self._end, self._lock = 0, chunks, threading.Lock()

    def __iter__(self) -> Iterator[int]:
        while True:
            with self._lock:
                i = self._next
                self._next += 1
            if i >= self._end:
                return
            yield i


def _chunked(fill: Callable[[Iterable[int]], None], chunks: int) -> None:
    """Run ``fill`` over the chunks ``0..chunks-1`` on up to 4 threads (this one included).

    Each thread claims the next chunk when it is free, so a thread that starts late (its core
    busy, e.g. with torch's own workers still spinning) takes fewer chunks; the bits of chunk
    ``i`` depend only on ``i``, never on which thread drew it.
    """
    workers = min(torch.get_num_threads(), chunks, _MAX_WORKERS)
    if workers <= 1:
        fill(range(chunks))
        return
    pool = _executor()
    claims = _Claims(chunks)
    jobs = [pool.submit(fill, claims) for _ in range(1, workers)]
    fill(claims)
    for job in jobs:
        job.result()


def device_of(
    generator: torch.Generator | None, device: torch.device | str | None = None
) -> torch.device:
    """The device a draw happens on: the generator's, else ``device``, else CPU."""
    if generator is not None:
        return generator.device
    return torch.device(device) if device is not None else torch.device("cpu")


# ------------------------------------------------------------------------------ masks
def keep_mask(shape: tuple[int, ...], p: float, generator: torch.Generator | None) -> torch.Tensor:
    """CPU boolean mask of ``shape``, ``False`` (dropped) with probability ``round(p * 2**16) / 2**16``."""
    n = math.prod(shape)
    k = round(p * _LEVELS)  # number of the 65536 equally likely draws that drop the unit
    if k <= 0:
        return torch.ones(shape, dtype=torch.bool)
    if k >= _LEVELS:
        return torch.zeros(shape, dtype=torch.bool)
    if _is_compiling():
        # numpy cannot be traced; inside a compiled graph draw with torch.rand (symbolic shapes
        # allowed, p resolved to 2**-24). Checking here instead of decorating the function with
        # torch.compiler.disable keeps torch._dynamo, and its seconds of start-up, out of import.
        u = torch.rand(shape) if generator is None else torch.rand(shape, generator=generator)
        return u >= p
    if n <= SMALL:
        # randint draws one 32-bit word per element; 2**32 is a multiple of 2**16: uniform draws.
        return torch.randint(_LEVELS, shape, generator=generator) >= k
    threshold = k - _LEVELS // 2
    seed = seed_from(generator)
    keep = np.empty(n, dtype=np.bool_)
    per_chunk = 4 * WORDS

    def fill(chunks: Iterable[int]) -> None:
        for i in chunks:
            lo, hi = i * per_chunk, min((i + 1) * per_chunk, n)
            words = _stream(seed, i).random_raw((hi - lo + 3) // 4)
            np.greater_equal(words.view(np.int16)[: hi - lo], threshold, out=keep[lo:hi])

    _chunked(fill, -(-n // per_chunk))
    return torch.from_numpy(keep).view(shape)


def bernoulli(
    n: int, p: float, generator: torch.Generator | None, *, device: torch.device | str | None = None
) -> torch.Tensor:
    """``n`` booleans, each True with probability ``p`` (no draw at all when p is 0 or 1)."""
    dev = device_of(generator, device)
    if p >= 1.0:
        return torch.ones(n, dtype=torch.bool, device=dev)
    if p <= 0.0:
        return torch.zeros(n, dtype=torch.bool, device=dev)
    return torch.rand(n, generator=generator, device=dev) < p


# ------------------------------------------------------------------------------ uniforms
def uniform(
    n: int,
    low: float | torch.Tensor,
    high: float | torch.Tensor,
    generator: torch.Generator | None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``n`` draws from U[low, high) (per-sample parameters: small, from the torch generator)."""
    u = torch.rand(n, generator=generator, dtype=dtype, device=device_of(generator, device))
    return u * (high - low) + low


def randint(
    high: torch.Tensor,
    generator: torch.Generator | None,
    *,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """One integer uniform on ``{0, ..., high[i] - 1}`` per entry of ``high`` (``high >= 1``)."""
    dev = device_of(generator, device)
    u = torch.rand(high.shape, generator=generator, dtype=torch.float64, device=dev)
    high = high.to(dev)
    # floor(u * high) can only reach high through rounding; clamp it back.
    return torch.minimum((u * high).floor().long(), high.long() - 1)


def beta(
    alpha: float,
    n: int,
    generator: torch.Generator | None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``n`` draws from Beta(alpha, alpha).

    Beta(a, a) = G1 / (G1 + G2) with G1, G2 ~ Gamma(a). For small ``a`` the Gamma draws underflow
    to 0 (0/0 = NaN), so each is drawn in log space with the boost
    ``Gamma(a) = Gamma(a + 1) * U^(1/a)`` (Marsaglia & Tsang, 2000), and
    ``lambda = sigmoid(log G1 - log G2)``.
    """
    dev = device_of(generator, device)
    conc = torch.full((2, n), alpha + 1.0, dtype=torch.float64, device=dev)
    g = torch._standard_gamma(conc, generator=generator)
    u = torch.rand((2, n), generator=generator, dtype=torch.float64, device=dev)
    # 1 - u lies in (0, 1]: its log is finite.
    log_g = g.log() + torch.log1p(-u) / alpha
    return torch.sigmoid(log_g[0] - log_g[1]).to(dtype)


# ------------------------------------------------------------------------------ normals
def _box_muller(out: np.ndarray, seed: int, i: int, std: float) -> None:
    """Fill ``out`` (float32, one chunk of at most ``2 * WORDS``) with N(0, std^2) from stream ``i``."""
    m = out.shape[0]
    k = (m + 1) // 2  # pairs; the last sine is dropped when m is odd
    bits = _stream(seed, i).random_raw(k).view(np.uint32)[: 2 * k]
    # 23 mantissa bits under the exponent of 1.0 give f uniform on [1, 2): u = 2 - f lies in
    # (0, 1] (its log is finite) and cos(2 pi f) = cos(2 pi (f - 1)).
    np.right_shift(bits, 9, out=bits)
    np.bitwise_or(bits, 0x3F800000, out=bits)
    f = bits.view(np.float32)
    r, theta = f[:k], f[k:]
    np.subtract(np.float32(2.0), r, out=r)
    np.log(r, out=r)
    np.multiply(r, np.float32(-2.0 * std * std), out=r)
    np.sqrt(r, out=r)
    np.multiply(theta, np.float32(2.0 * math.pi), out=theta)
    np.cos(theta, out=out[:k])
    np.multiply(out[:k], r, out=out[:k])
    np.sin(theta, out=theta)
    np.multiply(r[: m - k], theta[: m - k], out=out[k:])


def _done() -> None:
    return None


def normal_async(
    shape: tuple[int, ...] | torch.Size,
    std: float,
    generator: torch.Generator | None,
    *,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, Callable[[], None]]:
    """Float32 :func:`normal` filled by helper threads while the caller goes on: ``(z, wait)``.

    ``z`` holds the draw once ``wait()`` has returned (the same bits as :func:`normal` from the
    same generator state; the seed is taken at once, so later draws are not affected). With one
    torch thread, or for draws :func:`normal` does not chunk, it is filled before returning.
    """
    shape = tuple(int(s) for s in shape)
    dev = device_of(generator, device)
    n = math.prod(shape)
    threads = torch.get_num_threads()
    if dev.type != "cpu" or n <= SMALL or threads <= 1 or _is_compiling():
        return normal(shape, std, generator, device=device), _done
    seed = seed_from(generator)
    flat = np.empty(n, dtype=np.float32)
    fill = _normal_fill(flat, seed, std)
    chunks = -(-n // (2 * WORDS))
    workers = min(threads - 1, chunks, _MAX_WORKERS - 1)
    pool = _executor()
    claims = _Claims(chunks)
    jobs = [pool.submit(fill, claims) for _ in range(workers)]

    def wait() -> None:
        for job in jobs:
            job.result()

    return torch.from_numpy(flat).view(shape), wait


def _normal_fill(
    flat: np.ndarray, seed: int, std: float, add: np.ndarray | None = None
) -> Callable[[Iterable[int]], None]:
    per_chunk = 2 * WORDS

    def fill(chunks: Iterable[int]) -> None:
        for i in chunks:
            part = slice(i * per_chunk, (i + 1) * per_chunk)
            _box_muller(flat[part], seed, i, std)
            if add is not None:  # while the chunk is in cache: z + x (== x + z, bit for bit)
                np.add(flat[part], add[part], out=flat[part])

    return fill


def normal(
    shape: tuple[int, ...] | torch.Size,
    std: float,
    generator: torch.Generator | None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Gaussian noise N(0, std^2) of ``shape`` (large float32 CPU draws: chunked Box-Muller).

    Float16 and bfloat16 are drawn in float32 and rounded; float64 comes from ``torch.randn``.
    """
    shape = tuple(int(s) for s in shape)
    dev = device_of(generator, device)
    n = math.prod(shape)
    work = torch.float64 if dtype == torch.float64 else torch.float32
    if dev.type != "cpu" or n <= SMALL or work == torch.float64 or _is_compiling():
        out = torch.randn(shape, generator=generator, dtype=work, device=dev)
        return (out.mul_(std) if std != 1.0 else out).to(dtype)
    return _chunked_normal(n, std, generator).view(shape).to(dtype)


def _chunked_normal(
    n: int, std: float, generator: torch.Generator | None, add: np.ndarray | None = None
) -> torch.Tensor:
    """``n`` float32 N(0, std^2) draws (plus ``add``, chunk by chunk), Box-Muller in chunks."""
    flat = np.empty(n, dtype=np.float32)
    _chunked(_normal_fill(flat, seed_from(generator), std, add), -(-n // (2 * WORDS)))
    return torch.from_numpy(flat)


def add_normal(x: torch.Tensor, std: float, generator: torch.Generator | None) -> torch.Tensor:
    """``x + normal(x.shape, std, generator)`` as a new tensor, the same bits, the same draw.

    For a large contiguous float32 CPU ``x`` each chunk of noise is added to its part of ``x``
    by the thread that drew it (no second pass over memory, no torch kernel between the draws);
    otherwise it is the plain sum.
    """
    n = x.numel()
    dev = device_of(generator, x.device)
    fused = (
        x.dtype == torch.float32
        and x.device.type == "cpu"
        and dev.type == "cpu"
        and x.is_contiguous()
        and not x.requires_grad
        and n > SMALL
        and not _is_compiling()
    )
    if not fused:
        return x + normal(tuple(x.shape), std, generator, device=x.device).to(x.dtype)
    return _chunked_normal(n, std, generator, x.detach().numpy().reshape(-1)).view(x.shape)
