"""Layer benchmarks, reglab vs torch on CPU: dropout (p=0.1, 0.5) and, when present, BN and LN.

Each row is the median of ``--repeats`` forward+backward calls (three interleaved rounds), in
milliseconds, and the ratio torch/ours (above 1: we are faster).

Usage: ``python benchmarks/layers.py [--json] [--threads 2] [--repeats 30]``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _timing import Record, parser, report  # noqa: E402 - found through sys.path above

# Case modules, in print order; each exposes cases(repeats) -> list[Record]. A missing optional
# one (another area's) is skipped, not an error.
CASE_MODULES = ("cases_dropout", "cases_norm")


def collect(repeats: int) -> list[Record]:
    records: list[Record] = []
    for name in CASE_MODULES:
        if not (HERE / f"{name}.py").exists():
            continue
        records.extend(importlib.import_module(name).cases(repeats))
    return records


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    torch.set_num_threads(args.threads)
    report(collect(args.repeats), args.json)


if __name__ == "__main__":
    main()
