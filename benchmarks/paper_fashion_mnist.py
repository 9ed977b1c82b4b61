"""Fashion-MNIST: the MLP 256-128-100 of the dataset's benchmark table, on the official split.

The table in the dataset's README (Debian: ``/usr/share/doc/dataset-fashion-mnist/``) lists
"MLP 256-128-100" at 88.33% test accuracy. This script trains that network (784-256-128-100-10,
ReLU) with reglab: the built-in ``fashion_mnist`` (uint8 images, features made per batch), the
official 60,000 / 10,000 split with 5,000 training images held out for validation, Adam at lr
1e-3, batch 128, at most 40 epochs with early stopping on the validation loss (patience 5, best
weights restored). It prints the test accuracy of each seed and their mean beside 88.33%.
Target: within 1.5 points.

Run: ``python benchmarks/paper_fashion_mnist.py [--seeds 2] [--epochs 40]`` (needs Debian's
``dataset-fashion-mnist``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import reglab as rl
from reglab import data as rd

PAPER = 88.33


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 256),
        nn.ReLU(),
        nn.Linear(256, 128),
        nn.ReLU(),
        nn.Linear(128, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )


def run(splits: rd.Splits, seed: int, epochs: int) -> tuple[float, float, int]:
    torch.manual_seed(seed)
    model = mlp()
    g = torch.Generator().manual_seed(seed)
    train = splits.train.loader(batch_size=128, shuffle=True, generator=g)
    val = splits.val.loader(batch_size=1024)
    es = rl.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = rl.fit(model, train, val, epochs=epochs, optimizer=opt, callbacks=[es],
                     device="cpu", seed=seed, progress=False)  # fmt: skip
    _, train_acc = rl.train.evaluate(model, splits.train.batches(2048))
    _, test_acc = rl.train.evaluate(model, splits.test.batches(2048))
    return 100 * float(train_acc or 0), 100 * float(test_acc or 0), len(history)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(2)
    ds = rd.load_dataset("fashion_mnist")
    splits = rd.split(ds, train_size=55_000, val_size=5_000, test="official", seed=0)
    print(f"Fashion-MNIST: {splits.sizes} ({splits.test_source} test split), "
          f"stored as {splits.train.data.dtype}")  # fmt: skip
    tests = []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        train, test, epochs = run(splits, seed, args.epochs)
        tests.append(test)
        print(f"seed {seed}: train {train:.2f}%, test {test:.2f}% after {epochs} epochs "
              f"({time.perf_counter() - t0:.0f} s)")  # fmt: skip
    mean = statistics.fmean(tests)
    print(f"MLP 256-128-100: ours {mean:.2f}% (mean of {len(tests)}), table {PAPER:.2f}%, "
          f"difference {mean - PAPER:+.2f} points")  # fmt: skip


if __name__ == "__main__":
    main()
