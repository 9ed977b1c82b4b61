"""Timing helpers shared by the benchmark scripts (never used by tests).

Each benchmark measures ours and the reference in the same run, reports the median of repeats in
milliseconds and the ratio reference/ours (above 1 means we are faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch


@dataclass
class Record:
    """One benchmark row: the case, our median, the reference's median and their ratio."""

    area: str
    case: str
    ours_ms: float
    ref_ms: float
    reference: str

    @property
    def speedup(self) -> float:
        return self.ref_ms / self.ours_ms

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "speedup": self.speedup}


def median_ms(fn: Callable[[], object], repeats: int = 30, warmup: int = 5) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def compare(
    area: str,
    case: str,
    ours: Callable[[], object],
    ref: Callable[[], object],
    reference: str,
    repeats: int = 30,
    rounds: int = 4,
) -> Record:
    """Time ``ours`` and ``ref`` interleaved over ``rounds`` and keep the median of each.

    The order alternates between rounds: whichever runs first in a round pays for allocator
    and cache warm-up, which otherwise biases the ratio by a few percent.
    """
    a, b = [], []
    for i in range(rounds):
        if i % 2 == 0:
            a.append(median_ms(ours, repeats))
            b.append(median_ms(ref, repeats))
        else:
            b.append(median_ms(ref, repeats))
            a.append(median_ms(ours, repeats))
    return Record(area, case, statistics.median(a), statistics.median(b), reference)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", action="store_true", help="print one JSON record per line")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    p.add_argument("--repeats", type=int, default=30)
    return p


def report(records: Sequence[Record], as_json: bool) -> None:
    if as_json:
        for r in records:
            print(json.dumps(r.to_dict()))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'case':44s} {'ours ms':>9s} {'ref ms':>9s} {'ref/ours':>9s}  reference")
    for r in records:
        print(f"{r.case:44s} {r.ours_ms:9.3f} {r.ref_ms:9.3f} {r.speedup:8.2f}x  {r.reference}")
