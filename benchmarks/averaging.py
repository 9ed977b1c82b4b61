"""Weight averaging and SAM speed: EMA update vs AveragedModel, SAM step vs the plain step.

Cases (CPU, float32):

* ``EMA update vs AveragedModel``: ``rl.EMA(decay, warmup=False).update(model)`` against
  ``AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
  .update_parameters(model)`` on a ResNet-sized MLP (about 10M parameters, batch norm buffers
  included). Target: not slower (ref/ours >= 1).
* ``SAM step vs plain step``: ``SAM(SGD).step(closure)`` against ``closure(); SGD.step()`` for an
  MLP on a batch of 256 (forward, backward and the update each time). Target: SAM/plain <= 2.05
  (two forward/backward passes are 2x; the rest is the ascent, the copy of w and its restore,
  timed alone as ``SAM ascent + restore`` against the same plain step: the part of the ratio
  above 2 that a busy machine cannot blur).

Run: ``.venv/bin/python benchmarks/averaging.py [--json] [--threads N] [--repeats N]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import Record, compare, parser, report

import reglab as rl


def _mlp(width: int, depth: int, inputs: int, outputs: int) -> nn.Module:
    layers: list[nn.Module] = []
    size = inputs
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.BatchNorm1d(width), nn.ReLU()]
        size = width
    layers.append(nn.Linear(size, outputs))
    return nn.Sequential(*layers)


def ema_case(repeats: int) -> Record:
    torch.manual_seed(0)
    model = _mlp(1280, 6, 512, 1000)  # ~10.1M parameters
    ema = rl.EMA(0.999, warmup=False)
    ref = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999), use_buffers=True)
    ema.update(model)
    ref.update_parameters(model)
    n = sum(p.numel() for p in model.parameters())
    return compare(
        "averaging",
        f"EMA update ({n / 1e6:.1f}M params)",
        lambda: ema.update(model),
        lambda: ref.update_parameters(model),
        "AveragedModel + get_ema_multi_avg_fn",
        repeats,
    )


def sam_cases(repeats: int) -> list[Record]:
    torch.manual_seed(0)
    model = _mlp(512, 3, 256, 10)
    x, y = torch.randn(256, 256), torch.randint(0, 10, (256,))
    plain = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    sam = rl.SAM(torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9), rho=0.05)

    def closure() -> torch.Tensor:
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    def plain_step() -> None:
        plain.zero_grad()
        closure()
        plain.step()

    def ascent() -> None:
        sam.descend(sam.ascend())

    step = compare(
        "averaging", "SAM step (MLP, batch 256)", lambda: sam.step(closure), plain_step,
        "closure + SGD.step", repeats, rounds=8,
    )  # fmt: skip
    extra = compare(
        "averaging", "SAM ascent + restore", ascent, plain_step, "closure + SGD.step", repeats,
        rounds=8,
    )  # fmt: skip
    return [step, extra]


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    torch.set_num_threads(args.threads)
    ema = ema_case(args.repeats)
    sam, extra = sam_cases(args.repeats)
    report([ema, sam, extra], args.json)
    if not args.json:
        print(f"EMA update: AveragedModel / EMA = {ema.speedup:.2f}x (target >= 1)")
        print(f"SAM step: SAM / plain = {sam.ours_ms / sam.ref_ms:.2f}x (target <= 2.05)")
        # robust to a busy machine: SAM = 2 x (closure) + ascent + restore + base step
        print(f"SAM ascent + restore / plain step = {extra.ours_ms / extra.ref_ms:.3f}")


if __name__ == "__main__":
    main()
