"""Image augmentation throughput, reglab vs kornia 0.9 (images per second), plus EDA text rates.

Targets, on 256x3x32x32 float32 with 2 threads: the flip + rotation(15) + translation(0.1) +
noise(0.05) pipeline >= 2.5x the images/s of kornia's equivalent ``AugmentationSequential``;
``RandomGaussianNoise`` alone >= 2x kornia's ``RandomGaussianNoise``; ``RandomFlip`` >= 1x
kornia's ``RandomHorizontalFlip``; ``RandAugment(2, 9)`` and ``TrivialAugment()`` (an operation
drawn per sample) >= 2x kornia's ``auto.RandAugment(n=2, m=10)`` and ``auto.TrivialAugment()``
(one operation drawn per batch). Ours and kornia are timed interleaved in the same run (median
of medians over rounds); the ratio is kornia's time over ours (above 1: we are faster). If
``benchmarks/eda.py`` is present its sentence rates are printed too.

Run: ``python benchmarks/augment.py [--json] [--threads 2] [--repeats 30] [--no-text] [--cpu]
[--paired] [--only NAME]``. ``--only`` times the cases whose name contains ``NAME``. ``--cpu``
times process CPU time instead of wall time (use with ``--threads 1`` on a busy shared machine:
CPU time is far less sensitive to other processes than wall time). ``--paired`` alternates
single calls of ours and kornia's (``4 * repeats`` pairs, the order swapped every pair) and
compares the medians: on a shared machine both then see the same load, where the default rounds
of ``repeats`` calls can catch a burst on one side only.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import Record, compare, parser

import reglab.augment as A

BATCH = (256, 3, 32, 32)
PIPELINE = "flip+rot15+trans0.1+noise0.05 256x3x32x32"
NOISE = "RandomGaussianNoise(0.05) 256x3x32x32"
FLIP = "RandomFlip 256x3x32x32"
RANDAUGMENT = "RandAugment(2, 9) 256x3x32x32"
TRIVIALAUGMENT = "TrivialAugment() 256x3x32x32"
#: case -> the ratio to kornia it must reach.
TARGETS = {PIPELINE: 2.5, NOISE: 2.0, FLIP: 1.0, RANDAUGMENT: 2.0, TRIVIALAUGMENT: 2.0}


def _pairs() -> dict[str, tuple[Callable[[], object], Callable[[], object], str]]:
    import kornia.augmentation as K

    x = torch.rand(*BATCH, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (BATCH[0],), generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(2)

    pipeline = A.Compose(
        [
            A.RandomFlip(),
            A.RandomRotation(15.0),
            A.RandomTranslation(0.1),
            A.RandomGaussianNoise(0.05),
        ]
    )
    k_pipeline = K.AugmentationSequential(
        K.RandomHorizontalFlip(p=0.5),
        K.RandomRotation(15.0, p=1.0),
        K.RandomTranslate(0.1, 0.1, p=1.0),
        K.RandomGaussianNoise(std=0.05, p=1.0),
    )
    geometric = A.Compose([A.RandomFlip(), A.RandomRotation(15.0), A.RandomTranslation(0.1)])
    k_geometric = K.AugmentationSequential(
        K.RandomHorizontalFlip(p=0.5),
        K.RandomRotation(15.0, p=1.0),
        K.RandomTranslate(0.1, 0.1, p=1.0),
    )

    def single(ours: A.Augmentation, ref: torch.nn.Module) -> tuple[Callable[[], object], ...]:
        return (lambda: ours(x, g)), (lambda: ref(x))

    cases: dict[str, tuple[Callable[[], object], Callable[[], object], str]] = {
        PIPELINE: (
            lambda: pipeline(x, g),
            lambda: k_pipeline(x),
            "kornia AugmentationSequential",
        ),
        "flip+rot15+trans0.1 256x3x32x32": (
            lambda: geometric(x, g),
            lambda: k_geometric(x),
            "kornia AugmentationSequential",
        ),
    }
    singles = {
        "RandomFlip": (A.RandomFlip(), K.RandomHorizontalFlip(p=0.5)),
        "RandomRotation(15)": (A.RandomRotation(15.0), K.RandomRotation(15.0, p=1.0)),
        "RandomAffine(15, 0.1, (0.9, 1.1), 5)": (
            A.RandomAffine(15.0, 0.1, (0.9, 1.1), 5.0),
            K.RandomAffine(15.0, (0.1, 0.1), (0.9, 1.1), 5.0, p=1.0),
        ),
        "RandomCrop(32, padding=4)": (
            A.RandomCrop(32, padding=4),
            K.RandomCrop((32, 32), padding=4, p=1.0),
        ),
        "RandomErasing(p=0.5)": (A.RandomErasing(), K.RandomErasing(p=0.5)),
        "RandomGaussianNoise(0.05)": (
            A.RandomGaussianNoise(0.05),
            K.RandomGaussianNoise(std=0.05, p=1.0),
        ),
    }
    for name, (ours, ref) in singles.items():
        o, r = single(ours, ref)
        cases[f"{name} 256x3x32x32"] = (o, r, f"kornia {type(ref).__name__}")

    from kornia.augmentation import auto as KA

    policies = {
        RANDAUGMENT: (A.RandAugment(2, 9), KA.RandAugment(n=2, m=10), "auto.RandAugment(2, 10)"),
        TRIVIALAUGMENT: (A.TrivialAugment(), KA.TrivialAugment(), "auto.TrivialAugment()"),
    }
    for case, (ours, ref, ref_name) in policies.items():
        o, r = single(ours, ref)
        cases[case] = (o, r, f"kornia {ref_name}")

    mixup = A.MixUp(1.0, num_classes=10)
    k_mixup = K.RandomMixUpV2(p=1.0, data_keys=["input", "class"])
    cutmix = A.CutMix(1.0, num_classes=10)
    k_cutmix = K.RandomCutMixV2(p=1.0, data_keys=["input", "class"], use_correct_lambda=True)
    cases["MixUp(1.0) 256x3x32x32"] = (
        lambda: mixup.mix(x, y, g),
        lambda: k_mixup(x, y),
        "kornia RandomMixUpV2",
    )
    cases["CutMix(1.0) 256x3x32x32"] = (
        lambda: cutmix.mix(x, y, g),
        lambda: k_cutmix(x, y),
        "kornia RandomCutMixV2",
    )
    return cases


def _cpu_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append((time.process_time() - t0) * 1e3)
    return statistics.median(times)


def _compare_cpu(
    name: str, ours: Callable[[], object], ref: Callable[[], object], reference: str, repeats: int
) -> Record:
    a, b = [], []
    for _ in range(3):
        a.append(_cpu_ms(ours, repeats))
        b.append(_cpu_ms(ref, repeats))
    return Record("augment", name, statistics.median(a), statistics.median(b), reference)


def _compare_paired(
    name: str, ours: Callable[[], object], ref: Callable[[], object], reference: str, repeats: int
) -> Record:
    for _ in range(3):
        ours()
        ref()
    a: list[float] = []
    b: list[float] = []
    for i in range(4 * repeats):
        pair = ((ours, a), (ref, b)) if i % 2 else ((ref, b), (ours, a))
        for fn, times in pair:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return Record("augment", name, statistics.median(a), statistics.median(b), reference)


def cases(
    repeats: int, cpu: bool = False, paired: bool = False, only: str | None = None
) -> list[Record]:
    """Ours vs kornia, each case timed interleaved (median of medians over 3 rounds).

    ``only``: time just the cases whose name contains it.
    """
    pairs = {k: v for k, v in _pairs().items() if only is None or only in k}
    if paired:
        return [
            _compare_paired(name, ours, ref, reference, repeats)
            for name, (ours, ref, reference) in pairs.items()
        ]
    if cpu:
        return [
            _compare_cpu(name, ours, ref, reference, repeats)
            for name, (ours, ref, reference) in pairs.items()
        ]
    return [
        compare("augment", name, ours, ref, reference, repeats=repeats)
        for name, (ours, ref, reference) in pairs.items()
    ]


def _text_rows(repeats: int) -> list[dict[str, object]]:
    if not (Path(__file__).resolve().parent / "eda.py").exists():
        return []
    import eda

    rows = eda.cases(repeats)
    return [r.to_dict() if isinstance(r, Record) else dict(r) for r in rows]


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--no-text", action="store_true", help="skip the EDA sentence rates")
    p.add_argument("--cpu", action="store_true", help="time process CPU time, not wall time")
    p.add_argument("--paired", action="store_true", help="alternate single calls (shared CPUs)")
    p.add_argument("--only", default=None, help="time only the cases whose name contains this")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    records = cases(args.repeats, cpu=args.cpu, paired=args.paired, only=args.only)
    text = [] if args.no_text else _text_rows(max(3, args.repeats // 3))
    n = BATCH[0]
    if args.json:
        for r in records:
            row = r.to_dict()
            row["ours_images_per_s"] = n / r.ours_ms * 1e3
            row["ref_images_per_s"] = n / r.ref_ms * 1e3
            print(json.dumps(row))
        for t in text:
            print(json.dumps(t))
        return
    clock = (
        "process CPU time"
        if args.cpu
        else "wall time, paired calls"
        if args.paired
        else "wall time"
    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}, {clock}")
    print(f"{'case':46s} {'ours img/s':>11s} {'kornia img/s':>13s} {'ratio':>7s}  reference")
    for r in records:
        print(
            f"{r.case:46s} {n / r.ours_ms * 1e3:11,.0f} {n / r.ref_ms * 1e3:13,.0f} "
            f"{r.speedup:6.2f}x  {r.reference}"
        )
    by_case = {r.case: r.speedup for r in records}
    for case, target in TARGETS.items():
        if case not in by_case:
            continue
        got = by_case[case]
        verdict = "met" if got >= target else "NOT met"
        print(f"target {case}: >= {target:.1f}x kornia, measured {got:.2f}x ({verdict})")
    if text:
        print()
        print(f"{'text case':54s} {'sentences/s':>12s}")
        for t in text:
            rate = t.get("sentences_per_s", float("nan"))
            print(f"{t.get('case')!s:54s} {float(rate):12,.0f}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
