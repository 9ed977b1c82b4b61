"""Dropout, reglab vs torch: forward+backward of 256x4096 float32 on CPU (imported by layers.py).

Run alone: ``python benchmarks/cases_dropout.py [--json] [--threads 2] [--repeats 30] [--cpu-time]``.
``--cpu-time`` times the CPU time of the calling thread instead of wall time: on a loaded
machine it is not inflated by waiting for a core (with helper threads it leaves their share out,
so it estimates quiet wall time rather than bounding it).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import Record, compare, parser, report

import reglab as rl

SHAPE = (256, 4096)
PS = (0.1, 0.5)


def _step(
    fn: Callable[[torch.Tensor, float], torch.Tensor], x: torch.Tensor, grad: torch.Tensor, p: float
) -> Callable[[], None]:
    def run() -> None:
        x.grad = None
        fn(x, p).backward(grad)

    return run


def _cpu_median_ms(fn: Callable[[], object], repeats: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.thread_time()
        fn()
        times.append((time.thread_time() - t0) * 1e3)
    return statistics.median(times)


def cpu_cases(repeats: int, rounds: int = 3) -> list[Record]:
    """As :func:`cases`, timed by the calling thread's CPU time (interleaved rounds)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(*SHAPE, generator=g).requires_grad_(True)
    grad = torch.randn(*SHAPE, generator=g)
    records = []
    for p in PS:
        ours, ref = [], []
        for _ in range(rounds):
            ours.append(_cpu_median_ms(_step(rl.functional.dropout, x, grad, p), repeats))
            ref.append(_cpu_median_ms(_step(F.dropout, x, grad, p), repeats))
        records.append(
            Record(
                "dropout",
                f"dropout p={p} fwd+bwd {SHAPE[0]}x{SHAPE[1]} (cpu time)",
                statistics.median(ours),
                statistics.median(ref),
                "torch.nn.functional.dropout",
            )
        )
    return records


def cases(repeats: int) -> list[Record]:
    """Dropout forward+backward at p=0.1 and p=0.5, ours (CPU sampler) vs torch.nn.functional."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(*SHAPE, generator=g).requires_grad_(True)
    grad = torch.randn(*SHAPE, generator=g)
    records = []
    for p in PS:
        records.append(
            compare(
                "dropout",
                f"dropout p={p} fwd+bwd {SHAPE[0]}x{SHAPE[1]}",
                _step(rl.functional.dropout, x, grad, p),
                _step(F.dropout, x, grad, p),
                "torch.nn.functional.dropout",
                repeats=repeats,
            )
        )
    return records


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--cpu-time", action="store_true", help="time CPU of the calling thread")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    report((cpu_cases if args.cpu_time else cases)(args.repeats), args.json)


if __name__ == "__main__":
    main()
