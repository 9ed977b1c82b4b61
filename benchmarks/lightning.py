"""What reglab's Lightning callbacks cost per training step, against the same run without them.

One ``lightning.pytorch.Trainer`` run per case and round (rounds interleave the cases): an MLP
on random data, ``--steps`` optimizer steps per epoch, one validation batch per epoch. Two
timer callbacks (first and last in the list) time each step from ``on_train_batch_start`` to
``on_train_batch_end``, so a step includes Regularization's work at both its hooks; epochs
are timed from ``on_train_epoch_start`` to ``on_train_epoch_end`` (after validation,
PreciseBN and LightningEarlyStopping). Reported: the median step, the overhead per step
against ``none`` and the median epoch divided by the steps (the per-epoch callbacks spread
over the steps).

Run: ``python benchmarks/lightning.py [--json] [--threads 1] [--steps 50] [--epochs 4]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

# This file's folder comes first on sys.path when it is run as a script, and this file's name
# would then shadow the lightning package: take the folder off before importing it.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import lightning.pytorch as pl  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import reglab as rl  # noqa: E402
from reglab.integrations.lightning import LightningEarlyStopping, PreciseBN, Regularization  # noqa: E402


class Net(pl.LightningModule):
    def __init__(self, width: int, batchnorm: bool) -> None:
        super().__init__()
        norm: list[nn.Module] = [nn.BatchNorm1d(width)] if batchnorm else []
        self.net = nn.Sequential(
            nn.Linear(784, width), *norm, nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
            nn.Linear(width, 10),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self.net(x), y))

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)


class _Times:
    def __init__(self) -> None:
        self.step: list[float] = []
        self.epoch: list[float] = []
        self.t_step = self.t_epoch = 0.0


class _Start(pl.Callback):
    def __init__(self, times: _Times) -> None:
        self.times = times

    def on_train_batch_start(self, *args: Any) -> None:
        self.times.t_step = time.perf_counter()

    def on_train_epoch_start(self, *args: Any) -> None:
        self.times.t_epoch = time.perf_counter()


class _End(pl.Callback):
    def __init__(self, times: _Times) -> None:
        self.times = times

    def on_train_batch_end(self, *args: Any) -> None:
        self.times.step.append(time.perf_counter() - self.times.t_step)

    def on_train_epoch_end(self, *args: Any) -> None:
        self.times.epoch.append(time.perf_counter() - self.times.t_epoch)


def _regularization() -> pl.Callback:
    return Regularization([rl.L1(1e-5), rl.L2(1e-4), rl.ProximalL1(1e-5), rl.MaxNorm(3.0)])


CASES: dict[str, Callable[[], list[pl.Callback]]] = {
    "none": lambda: [],
    "Regularization(L1,L2,ProximalL1,MaxNorm)": lambda: [_regularization()],
    "LightningEarlyStopping(restore_best_weights)": lambda: [
        LightningEarlyStopping(patience=100, restore_best_weights=True)
    ],
    "PreciseBN(10)": lambda: [PreciseBN(num_batches=10)],
    "all three": lambda: [
        _regularization(),
        LightningEarlyStopping(patience=100, restore_best_weights=True),
        PreciseBN(num_batches=10),
    ],
}


def run_case(callbacks: list[pl.Callback], args: argparse.Namespace) -> _Times:
    torch.manual_seed(0)
    x, y = (
        torch.randn(args.steps * args.batch_size, 784),
        torch.randint(0, 10, (args.steps * args.batch_size,)),
    )
    train = DataLoader(TensorDataset(x, y), batch_size=args.batch_size)
    val = DataLoader(TensorDataset(x[:512], y[:512]), batch_size=512)
    times = _Times()
    trainer = pl.Trainer(
        max_epochs=args.epochs,
        accelerator="cpu",
        devices=1,
        callbacks=[_Start(times), *callbacks, _End(times)],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1,
    )
    trainer.fit(Net(args.width, batchnorm=True), train, val)
    times.step = times.step[args.steps :]  # the first epoch warms up
    times.epoch = times.epoch[1:]
    return times


def own_work_ms(args: argparse.Namespace, repeats: int = 300) -> float:
    """The regularizers' own work per step, called by hand on the same parameters."""
    torch.manual_seed(0)
    net = Net(args.width, batchnorm=True)
    params = rl.regularized_parameters(net)
    for p in net.parameters():
        p.grad = torch.randn_like(p)
    pens, prox, con = [rl.L1(1e-5), rl.L2(1e-4)], rl.ProximalL1(1e-5), rl.MaxNorm(3.0)
    times = []
    for i in range(repeats + 20):
        t0 = time.perf_counter()
        for pen in pens:
            pen.add_grad_(params)
        prox.step_(params, 0.05)
        con.apply_(params)
        if i >= 20:
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    steps: dict[str, list[float]] = {k: [] for k in CASES}
    epochs: dict[str, list[float]] = {k: [] for k in CASES}
    for r in range(args.rounds):
        order = list(CASES) if r % 2 == 0 else list(reversed(CASES))
        for name in order:
            t = run_case(CASES[name](), args)
            steps[name] += t.step
            epochs[name] += t.epoch
    base_step = statistics.median(steps["none"]) * 1e3
    base_epoch = statistics.median(epochs["none"]) * 1e3 / args.steps
    rows = []
    for name in CASES:
        step = statistics.median(steps[name]) * 1e3
        per_step = statistics.median(epochs[name]) * 1e3 / args.steps
        rows.append({
            "case": name, "step_ms": step, "step_overhead_ms": step - base_step,
            "step_overhead_pct": 100 * (step / base_step - 1), "epoch_per_step_ms": per_step,
            "epoch_overhead_pct": 100 * (per_step / base_epoch - 1),
        })  # fmt: skip
    own = own_work_ms(args)
    if args.json:
        print(json.dumps({"rows": rows, "regularizers_by_hand_ms": own}, indent=2))
        return
    print(
        f"MLP 784-{args.width}(BN)-{args.width}-10, batch {args.batch_size}, {args.steps} steps/epoch, "
        f"{args.threads} thread(s), torch {torch.__version__}, lightning {pl.__version__}"
    )
    print(
        f"{'case':42s} {'step ms':>8s} {'+ms/step':>9s} {'+%':>6s} {'epoch/step ms':>14s} {'+%':>6s}"
    )
    for r in rows:
        print(
            f"{r['case']:42s} {r['step_ms']:8.3f} {r['step_overhead_ms']:+9.3f} "
            f"{r['step_overhead_pct']:+6.1f} {r['epoch_per_step_ms']:14.3f} {r['epoch_overhead_pct']:+6.1f}"
        )
    print(f"L1 + L2 + ProximalL1 + MaxNorm called by hand (no Lightning): {own:.3f} ms per step")


if __name__ == "__main__":
    main()
