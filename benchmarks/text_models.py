"""Text model benchmarks on CPU: reglab's bow, textcnn and gru vs the same layers in plain torch.

One step is forward + cross-entropy + backward for a batch of 50 sentences of 15-35 tokens
(mean 25) padded to 35, over a 15,000-id vocabulary, with head dropout 0.5. The reference is
the same architecture written directly in torch without padding masks (bow: ``nn.Embedding`` and
a mean over all columns; textcnn: ``nn.Embedding``, three ``nn.Conv1d``, max over all positions;
gru: ``nn.GRU`` over the padded tensor, no packing), so the ratio is the price of exact padding
handling. A second textcnn row pads the same batch to 100 columns, as a loader that pads every
batch to one global length does (ours cuts the all-padding columns). Rows are medians of
``--repeats`` steps (four interleaved rounds), in milliseconds, and the ratio reference/ours
(above 1: we are faster). ``--clock cpu`` times the process's CPU time instead of the wall
clock: on a machine other jobs share, it keeps their load out of the figures.

Usage: ``python benchmarks/text_models.py [--json] [--threads 2] [--repeats 30] [--clock cpu]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _timing
from _timing import Record, compare, parser, report

from reglab.models import ModelSpec, build_model

BATCH, VOCAB, CLASSES = 50, 15_000, 2


def batch(columns: int = 35, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(15, 36, (BATCH,), generator=g)
    ids = torch.randint(2, VOCAB, (BATCH, columns), generator=g)
    ids[torch.arange(columns) >= lengths[:, None]] = 0
    return ids, torch.randint(0, CLASSES, (BATCH,), generator=g)


class PlainBow(nn.Module):
    def __init__(self, dim: int = 100) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, dim, padding_idx=0)
        self.drop, self.fc = nn.Dropout(0.5), nn.Linear(dim, CLASSES)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(self.emb(ids).mean(1)))


class PlainCNN(nn.Module):
    def __init__(self, dim: int = 128, width: int = 100) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, dim, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(dim, width, k) for k in (3, 4, 5))
        self.drop, self.fc = nn.Dropout(0.5), nn.Linear(3 * width, CLASSES)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.emb(ids).transpose(1, 2)
        h = torch.cat([F.relu(c(x)).amax(2) for c in self.convs], 1)
        return self.fc(self.drop(h))


class PlainGRU(nn.Module):
    def __init__(self, dim: int = 128, width: int = 128) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, dim, padding_idx=0)
        self.gru = nn.GRU(dim, width, batch_first=True, bidirectional=True)
        self.drop, self.fc = nn.Dropout(0.5), nn.Linear(2 * width, CLASSES)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        _, h = self.gru(self.emb(ids))
        return self.fc(self.drop(torch.cat([h[-2], h[-1]], 1)))


def step(model: nn.Module, ids: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(ids), y).backward()

    return run


def cases(repeats: int) -> list[Record]:
    refs = {"bow": PlainBow, "textcnn": PlainCNN, "gru": PlainGRU}
    rows = [(kind, 35) for kind in refs] + [("textcnn", 100)]
    records = []
    for kind, columns in rows:
        ids, y = batch(columns)
        torch.manual_seed(0)
        ours = build_model(ModelSpec(dropout=0.5), (VOCAB,), CLASSES, kind=kind).train()
        plain = refs[kind]
        records.append(
            compare(
                "text",
                f"{kind} fwd+bwd B={BATCH} n=15-35 L={columns}",
                step(ours, ids, y),
                step(plain().train(), ids, y),
                f"torch {plain.__name__} (no masking)",
                repeats,
            )
        )
    return records


class _CpuClock:
    perf_counter = staticmethod(time.process_time)


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.clock == "cpu":  # the shared helpers read time.perf_counter through their module
        _timing.time = _CpuClock()  # type: ignore[assignment]
    report(cases(args.repeats), args.json)


if __name__ == "__main__":
    main()
