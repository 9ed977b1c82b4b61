"""Where one lab cell's time goes, and what the sampled training curve saves.

A cell (:func:`reglab.lab.core.run.run_cell`) trains, scores the training and validation splits in
eval mode after every epoch, then evaluates the final weights on train, validation and test.
This script times those phases of one cell (CPU time of this process, which a shared machine
disturbs less than wall time) and compares the lab's default, the training curve scored on
``TRAIN_CURVE_ROWS`` rows, with ``train_curve_rows=None`` (the whole split scored each epoch on
the shuffled training batches, as before issue 20), alternating, median of repeats. Both give
the same final results bit for bit; the script checks that too.

Target (issue 20, item 6): the Fashion-MNIST study of ``study_memory.py`` within 5 minutes.

Run: ``python benchmarks/cell_time.py [--data fashion_mnist] [--train-size 1000]
[--recipe baseline] [--epochs 15] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from reglab.lab.core import run as lab_run
from reglab.lab.core.splits import SplitCache
from reglab.lab.study import StudyConfig, prepare
from reglab.train import loop

PHASES: dict[str, float] = collections.defaultdict(float)


def _timed(owner: Any, name: str, label: Callable[..., str]) -> None:
    inner = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            PHASES[label(*args, **kwargs)] += time.process_time() - t0

    setattr(owner, name, wrapper)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="fashion_mnist")
    ap.add_argument("--train-size", type=int, default=1000)
    ap.add_argument("--recipe", default="baseline")
    ap.add_argument("--epochs", type=int, default=15, help="0: the recipe's own")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    config, dataset = prepare(
        StudyConfig(data=args.data, train_size=args.train_size, recipes=(args.recipe,), seeds=1)
    )
    splits = SplitCache(config, dataset).splits(0, None)
    recipe = config.recipe(args.recipe)
    epochs = args.epochs or None
    _timed(loop.Loop, "_train_epoch", lambda *a: "training passes")
    _timed(loop.Loop, "_evaluate", lambda self, name, *a: f"per-epoch {name} scoring")
    _timed(lab_run, "train_evaluate", lambda *a, **k: "final train/val/test evaluation")
    keys = ("train_acc", "val_acc", "test_acc", "train_loss", "val_loss", "test_loss")
    keys += ("best_epoch", "epochs_run")
    times: dict[str, list[float]] = {"sampled": [], "whole": []}
    phases: dict[str, dict[str, float]] = {}
    results: dict[str, tuple[Any, ...]] = {}
    for i in range(args.repeats):
        order = ("sampled", "whole") if i % 2 == 0 else ("whole", "sampled")
        for mode in order:
            rows = lab_run.TRAIN_CURVE_ROWS if mode == "sampled" else None
            PHASES.clear()
            t0 = time.process_time()
            res = lab_run.run_cell(
                recipe, 0, splits, model="cnn", epochs=epochs, threads=1, train_curve_rows=rows
            )
            times[mode].append(time.process_time() - t0)
            phases[mode] = dict(PHASES)
            results[mode] = tuple(getattr(res, k) for k in keys)
    print(
        f"{args.data}: train {len(splits.train)} / val {len(splits.val)} / test "
        f"{len(splits.test)}; recipe {args.recipe}, {results['whole'][-1]} epochs; CPU seconds"
    )
    for mode in ("whole", "sampled"):
        total = statistics.median(times[mode])
        print(f"  curve on {mode:8s}: {total:7.2f} s (median of {args.repeats})")
        for name, sec in sorted(phases[mode].items(), key=lambda kv: -kv[1]):
            print(f"      {name:32s} {sec:7.2f} s  {100 * sec / times[mode][-1]:5.1f}%")
    ratio = statistics.median(times["whole"]) / statistics.median(times["sampled"])
    print(f"  whole/sampled: {ratio:.2f}x")
    print(f"  final results identical: {results['whole'] == results['sampled']}")


if __name__ == "__main__":
    main()
