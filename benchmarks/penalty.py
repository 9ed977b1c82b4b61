"""Weight regularization speed: gradient mode vs loss mode, WeightDecay(Adam) vs torch AdamW.

Cases (weights of a 20-layer, 512-wide MLP on CPU, float32):

* ``L1+L2 gradient mode vs loss mode``: ``pen.add_grad_(params)`` against the loss-mode cost
  ``pen(params).backward()`` (what the penalty adds to a training step either way). reglab's
  loss mode is itself a fused autograd Function (so that both modes are bit-for-bit equal).
* ``... vs hand-written loss``: against ``sum(l1*|w|.sum() + l2*(w**2).sum()).backward()``, the
  plain-autograd loss users write without reglab.
* ``WeightDecay(Adam, decoupled) step vs AdamW``: one optimizer step over the full MLP.

Also prints (not timed) the largest relative parameter difference after 100 steps for
gradient vs loss mode and WeightDecay vs torch (AdamW, SGD/Adam weight_decay).

Run: ``.venv/bin/python benchmarks/penalty.py [--json] [--threads N] [--repeats N]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import Record, compare, parser, report

from reglab.optim import WeightDecay
from reglab.penalty import L1, L2, regularized_parameters

L1_STRENGTH, L2_STRENGTH = 1e-4, 1e-3


def _mlp(depth: int = 20, width: int = 512) -> nn.Sequential:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*layers)


def _with_grads(model: nn.Module) -> nn.Module:
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    return model


def penalty_cases(repeats: int) -> list[Record]:
    model = _with_grads(_mlp())
    params = regularized_parameters(model)
    pen = L1(L1_STRENGTH) + L2(L2_STRENGTH)

    def grad_mode() -> None:
        pen.add_grad_(params)

    def loss_mode() -> None:
        pen(params).backward()

    def hand_written() -> None:
        total = sum(L1_STRENGTH * p.abs().sum() + L2_STRENGTH * (p**2).sum() for p in params)
        total.backward()  # type: ignore[union-attr]

    return [
        compare(
            "penalty",
            "L1+L2 gradient mode vs loss mode (20x512)",
            grad_mode,
            loss_mode,
            "reglab loss mode pen(params).backward()",
            repeats,
        ),
        compare(
            "penalty",
            "L1+L2 gradient mode vs hand-written loss",
            grad_mode,
            hand_written,
            "sum(l1*|w|+l2*w^2).backward()",
            repeats,
        ),
    ]


def optimizer_cases(repeats: int) -> list[Record]:
    m1, m2 = _with_grads(_mlp()), _with_grads(_mlp())
    ours = WeightDecay(torch.optim.Adam(m1.parameters(), lr=1e-6), 1e-2, "decoupled")
    ref = torch.optim.AdamW(m2.parameters(), lr=1e-6, weight_decay=1e-2)
    return [
        compare(
            "penalty",
            "WeightDecay(Adam, decoupled) step vs AdamW",
            ours.step,
            ref.step,
            "torch.optim.AdamW.step",
            repeats,
        )
    ]


def _rel(a: nn.Module, b: nn.Module) -> float:
    x = torch.cat([p.detach().flatten() for p in a.parameters()])
    y = torch.cat([p.detach().flatten() for p in b.parameters()])
    return ((x - y).abs().max() / y.abs().max()).item()


def _run(make: Callable[[nn.Module], torch.optim.Optimizer], mode: str = "none") -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 4)
    )
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(128, 16, generator=g), torch.randint(0, 4, (128,), generator=g)
    opt = make(model)
    params = regularized_parameters(model)
    pen = L1(L1_STRENGTH) + L2(L2_STRENGTH)
    for _ in range(100):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        if mode == "loss":
            loss = loss + pen(params)
        loss.backward()
        if mode == "grad":
            pen.add_grad_(params)
        opt.step()
    return model


def parity() -> dict[str, float]:
    """Max relative parameter difference after 100 steps (not timing)."""

    def all_(m: nn.Module) -> list[torch.Tensor]:
        return list(m.parameters())

    def sgd(m: nn.Module, **kw: float) -> torch.optim.Optimizer:
        return torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, **kw)

    def adam(m: nn.Module, **kw: float) -> torch.optim.Optimizer:
        return torch.optim.Adam(m.parameters(), lr=1e-2, **kw)

    return {
        "gradient vs loss mode (SGD momentum)": _rel(_run(sgd, "grad"), _run(sgd, "loss")),
        "gradient vs loss mode (Adam)": _rel(_run(adam, "grad"), _run(adam, "loss")),
        "WeightDecay(Adam, decoupled) vs AdamW": _rel(
            _run(lambda m: WeightDecay(adam(m), 0.1, "decoupled", all_(m))),
            _run(lambda m: torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1)),
        ),
        "WeightDecay(Adam, coupled) vs Adam(weight_decay)": _rel(
            _run(lambda m: WeightDecay(adam(m), 0.1, "coupled", all_(m))),
            _run(lambda m: adam(m, weight_decay=0.1)),
        ),
        "WeightDecay(SGD, coupled) vs SGD(weight_decay)": _rel(
            _run(lambda m: WeightDecay(sgd(m), 0.1, "coupled", all_(m))),
            _run(lambda m: sgd(m, weight_decay=0.1)),
        ),
    }


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    torch.set_num_threads(args.threads)
    records = penalty_cases(args.repeats) + optimizer_cases(args.repeats)
    report(records, args.json)
    if not args.json:
        print("max relative parameter difference after 100 steps (equivalence, not timing):")
        for name, value in parity().items():
            print(f"  {name:48s} {value:.2e}")


if __name__ == "__main__":
    main()
