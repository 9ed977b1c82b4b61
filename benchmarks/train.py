"""Training-loop costs: EarlyStopping's snapshot vs a raw multi-tensor copy, fit vs a hand loop.

Targets (issue 4): the best-weights snapshot costs at most 1.5x ``torch._foreach_copy_`` of the
same tensors into preallocated buffers; ``fit``'s per-epoch time is at most 5% over a
hand-written loop doing the same work (training steps, eval-mode passes over the training and
validation splits, weight norm and sparsity, one host sync per epoch).

The last case prices ``checkpoint=path`` (an atomic, fsynced file per epoch) against the same
``fit`` with ``checkpoint=None``.

Run: ``python benchmarks/train.py [--json] [--threads N] [--repeats N] [--only fit] [--cpu-time]``.
"""

from __future__ import annotations

import itertools
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import Record, compare, parser, report

from reglab.callbacks import EarlyStopping
from reglab.train import DEFAULT_BATCH_SIZE, EVAL_BATCH_SIZE, fit


def cnn(width: int = 32) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.BatchNorm2d(2 * width),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(2 * width * 16, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )


def deep_mlp(width: int = 512, depth: int = 12) -> nn.Module:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.LayerNorm(width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, 10))


def bench_snapshot(repeats: int) -> list[Record]:
    """The snapshot taken at each improvement, alone and through ``es.step``."""
    records = []
    models = {
        "small CNN (digits-size)": cnn(16),
        "CNN width 64": cnn(64),
        "MLP 12x512 + LayerNorm": deep_mlp(),
    }
    for name, model in models.items():
        tensors = [*model.parameters(), *model.buffers()]
        buffers = [torch.empty_like(t) for t in tensors]
        es = EarlyStopping(patience=10**9, restore_best_weights=True)
        counter = itertools.count()

        def snapshot(es: EarlyStopping = es, model: nn.Module = model) -> None:
            es._take_snapshot(model)

        def step(es: EarlyStopping = es, model: nn.Module = model, counter: Any = counter) -> None:
            es.step(-float(next(counter)), model)  # always an improvement: one snapshot

        def ref(
            buffers: list[torch.Tensor] = buffers, tensors: list[torch.Tensor] = tensors
        ) -> None:
            with torch.no_grad():
                torch._foreach_copy_(buffers, tensors)

        numel = sum(t.numel() for t in tensors)
        label = f"{name} ({len(tensors)} tensors, {numel / 1e6:.2f}M)"
        reference = "torch._foreach_copy_ (same tensors)"
        records.append(compare("train", f"snapshot {label}", snapshot, ref, reference, repeats))
        records.append(compare("train", f"es.step+snapshot {label}", step, ref, reference, repeats))
    return records


def hand_loop(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    X: torch.Tensor,
    y: torch.Tensor,
    Xv: torch.Tensor,
    yv: torch.Tensor,
    epochs: int,
    gen: torch.Generator,
) -> list[float]:
    """The same work as fit, written out: train steps, eval passes, norm/sparsity, one sync."""
    out_rows = []
    weights = [p for p in model.parameters() if p.dim() >= 2]
    n = X.shape[0]
    for _ in range(epochs):
        model.train()
        losses = []
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, DEFAULT_BATCH_SIZE):
            idx = perm[i : i + DEFAULT_BATCH_SIZE]
            xb, yb = X.index_select(0, idx), y.index_select(0, idx)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        model.eval()
        stats = []
        with torch.no_grad():
            for A, b in ((X, y), (Xv, yv)):
                for i in range(0, A.shape[0], EVAL_BATCH_SIZE):
                    out = model(A[i : i + EVAL_BATCH_SIZE])
                    stats.append(F.cross_entropy(out, b[i : i + EVAL_BATCH_SIZE]))
                    stats.append((out.argmax(1) == b[i : i + EVAL_BATCH_SIZE]).sum())
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(weights)))
            zeros = torch.stack([(w == 0).sum() for w in weights]).sum()
        flat = torch.stack([t.double() for t in [*losses, *stats, norm, zeros]]).tolist()
        out_rows.append(math.fsum(flat))
    return out_rows


def compare_cpu(
    case: str, ours: Callable[[], object], ref: Callable[[], object], reference: str, calls: int
) -> Record:
    """Like ``_timing.compare`` but with process CPU time, alternating single calls.

    On a shared machine wall time mostly measures the neighbours; CPU time of this process does
    not (it still includes cache effects). Used with ``--cpu-time``.
    """
    a, b = [], []
    ours(), ref()  # warm-up
    for i in range(calls):
        for which in (0, 1) if i % 2 else (1, 0):
            t0 = time.process_time()
            (ours if which == 0 else ref)()
            (a if which == 0 else b).append((time.process_time() - t0) * 1e3)
    return Record(
        "train", case + " [cpu time]", statistics.median(a), statistics.median(b), reference
    )


def bench_fit(repeats: int, cpu_time: bool = False) -> list[Record]:
    records = []
    g = torch.Generator().manual_seed(0)
    cases = {
        "MLP 64-256-256-10, 1000 samples": (
            lambda: nn.Sequential(
                nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
            ),
            torch.randn(1000, 64, generator=g),
            torch.randn(300, 64, generator=g),
        ),
        "CNN 1x8x8 digits-like, 500 samples": (
            lambda: cnn(16),
            torch.randn(500, 1, 8, 8, generator=g),
            torch.randn(200, 1, 8, 8, generator=g),
        ),
    }
    epochs = 2
    for name, (make, X, Xv) in cases.items():
        y = torch.randint(0, 10, (X.shape[0],), generator=g)
        yv = torch.randint(0, 10, (Xv.shape[0],), generator=g)
        torch.manual_seed(0)
        m_fit, m_ref = make(), make()
        opt_fit = torch.optim.SGD(m_fit.parameters(), lr=1e-3, momentum=0.9)
        opt_ref = torch.optim.SGD(m_ref.parameters(), lr=1e-3, momentum=0.9)
        gen = torch.Generator().manual_seed(1)

        def ours(m: nn.Module = m_fit, o: Any = opt_fit, X=X, y=y, Xv=Xv, yv=yv) -> None:
            fit(m, (X, y), (Xv, yv), epochs=epochs, optimizer=o, device="cpu", progress=False)

        def ref(m: nn.Module = m_ref, o: Any = opt_ref, X=X, y=y, Xv=Xv, yv=yv, g=gen) -> None:
            hand_loop(m, o, X, y, Xv, yv, epochs, g)

        case, reference = f"fit {epochs} epochs, {name}", "hand-written loop, same work"
        if cpu_time:
            records.append(compare_cpu(case, ours, ref, reference, calls=max(6, repeats // 2)))
        else:
            records.append(
                compare("train", case, ours, ref, reference, repeats=max(3, repeats // 6), rounds=5)
            )
    records.append(bench_checkpoint(repeats, cpu_time))
    return records


def bench_checkpoint(repeats: int, cpu_time: bool) -> Record:
    """``fit(checkpoint=path)`` against ``checkpoint=None``: the per-epoch cost of a checkpoint."""
    g = torch.Generator().manual_seed(2)
    X, Xv = torch.randn(1000, 64, generator=g), torch.randn(300, 64, generator=g)
    y, yv = torch.randint(0, 10, (1000,), generator=g), torch.randint(0, 10, (300,), generator=g)

    def make() -> nn.Module:
        return nn.Sequential(
            nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
        )

    torch.manual_seed(0)
    m_ck, m_plain = make(), make()
    o_ck = torch.optim.SGD(m_ck.parameters(), lr=1e-3, momentum=0.9)
    o_plain = torch.optim.SGD(m_plain.parameters(), lr=1e-3, momentum=0.9)
    path = os.path.join(tempfile.mkdtemp(), "bench.ckpt")

    def ours() -> None:
        if os.path.exists(path):  # a finished checkpoint would make fit return at once
            os.remove(path)
        fit(m_ck, (X, y), (Xv, yv), epochs=2, optimizer=o_ck, device="cpu", progress=False,
            checkpoint=path)  # fmt: skip

    def ref() -> None:
        fit(m_plain, (X, y), (Xv, yv), epochs=2, optimizer=o_plain, device="cpu", progress=False)

    case = "fit 2 epochs + checkpoint each epoch, MLP 64-256-256-10, 1000 samples"
    reference = "fit, checkpoint=None"
    if cpu_time:
        return compare_cpu(case, ours, ref, reference, calls=max(6, repeats // 2))
    return compare("train", case, ours, ref, reference, repeats=max(3, repeats // 6), rounds=5)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--only", choices=("snapshot", "fit"), help="run one of the two parts")
    p.add_argument("--cpu-time", action="store_true", help="time fit with process CPU time")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    records = []
    if args.only in (None, "snapshot"):
        records += bench_snapshot(args.repeats)
    if args.only in (None, "fit"):
        records += bench_fit(args.repeats, args.cpu_time)
    report(records, args.json)
    if not args.json:
        print()
        for r in records:
            kind = "fit time" if r.case.startswith("fit") else "snapshot cost"
            if "checkpoint" in r.case:
                kind = "checkpoint cost"
            print(f"{kind} ratio ours/ref = {1 / r.speedup:.3f}  ({r.case})")


if __name__ == "__main__":
    main()
