"""BatchNorm and LayerNorm, reglab vs torch: forward+backward on CPU (imported by layers.py).

Run alone: ``python benchmarks/cases_norm.py [--json] [--threads 2] [--repeats 30]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import Record, compare, parser, report

import reglab as rl

SHAPES = {"256x4096": (256, 4096), "64x64x32x32": (64, 64, 32, 32)}


def _step(module: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        x.grad = None
        module(x).backward(grad)

    return run


def _bn_pair(shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    c = shape[1]
    ref: nn.Module = nn.BatchNorm1d(c) if len(shape) == 2 else nn.BatchNorm2d(c)
    return rl.nn.BatchNorm(c), ref


def _ln_pair(shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    # normalise each sample over all its non-batch dims: (4096,) or (C, H, W)
    dims = shape[1:]
    return rl.nn.LayerNorm(dims), nn.LayerNorm(dims)


def cases(repeats: int) -> list[Record]:
    """BN and LN forward+backward, ours vs torch, at 256x4096 and 64x64x32x32 float32."""
    records = []
    for layer, make in (("BatchNorm", _bn_pair), ("LayerNorm", _ln_pair)):
        for label, shape in SHAPES.items():
            g = torch.Generator().manual_seed(0)
            x = torch.randn(*shape, generator=g).requires_grad_(True)
            grad = torch.randn(*shape, generator=g)
            ours, ref = make(shape)
            records.append(
                compare(
                    "norm",
                    f"{layer} fwd+bwd {label}",
                    _step(ours, x, grad),
                    _step(ref, x, grad),
                    f"torch.nn.{type(ref).__name__}",
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
