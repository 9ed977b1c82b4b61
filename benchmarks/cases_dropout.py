"""Dropout, reglab vs torch: forward+backward of 256x4096 float32 on CPU (imported by layers.py).

Run alone: ``python benchmarks/cases_dropout.py [--json] [--threads 2] [--repeats 30]``.
"""

from __future__ import annotations

import sys
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
    args = parser(__doc__ or "").parse_args()
    torch.set_num_threads(args.threads)
    report(cases(args.repeats), args.json)


if __name__ == "__main__":
    main()
