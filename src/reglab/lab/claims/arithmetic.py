"""The claims that arithmetic settles: each check is ``check(seed) -> {metric: value}``.

They run reglab's own parts on small seeded tensors in float64 where the claim is an identity,
and measure how far the two sides are apart (0 when the identity holds bit for bit).

Example:
    >>> CHECKS["weight_decay_sgd"](0)["max_abs_diff"] <= 1e-12
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from torch import nn

from ...functional import dropout
from ...nn import BatchNorm
from ...optim import WeightDecay
from ...penalty import L2

__all__ = ["CHECKS"]


def _net(seed: int, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)).to(dtype)


def _data(seed: int, n: int = 32, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1000 + seed)
    x = torch.randn(n, 6, generator=g, dtype=dtype)
    y = torch.randint(0, 3, (n,), generator=g)
    return x, y


def dropout_gradients(seed: int) -> dict[str, float]:
    """After a backward pass through dropout, the weights of dropped units get no gradient.

    One sample goes through ``Linear -> ReLU -> dropout(0.5) -> Linear``; the units its mask
    drops have exactly zero gradient on their incoming weights, so an SGD step leaves those
    weights unchanged. With Adam, momentum from an earlier step (all units kept) still moves
    them: ``adam_dropped_weight_change`` measures that.
    """

    x, y = _data(seed, n=1)
    out: dict[str, float] = {}
    for name in ("sgd", "adam"):
        net = _net(seed)
        params = list(net.parameters())
        opt: torch.optim.Optimizer = (
            torch.optim.SGD(params, lr=0.1) if name == "sgd" else torch.optim.Adam(params, lr=0.1)
        )
        if name == "adam":  # one step with every unit kept builds up momentum
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
            opt.zero_grad()
        # The same seed and shape give the same mask: probe it on ones, then drop the hidden layer.
        mask = dropout(torch.ones(1, 16, dtype=x.dtype), 0.5, generator=_gen(seed))
        first, act, last = cast(nn.Linear, net[0]), net[1], net[2]
        hidden = dropout(act(first(x)), 0.5, generator=_gen(seed))
        dropped = mask[0] == 0
        before = first.weight.detach().clone()
        nn.functional.cross_entropy(last(hidden), y).backward()
        opt.step()
        moved = (first.weight.detach() - before)[dropped].abs()
        out[f"{name}_dropped_weight_change"] = float(moved.max()) if moved.numel() else 0.0
        out["dropped_units"] = float(dropped.sum())
    return out


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def dropout_expectation(seed: int) -> dict[str, float]:
    """Classic and inverted dropout keep the same expected activation relative to inference.

    Inverted: ``E[train(x)] = x`` and inference is ``x``. Classic: ``E[train(x)] = (1-p) x`` and
    inference is ``(1-p) x``. Over many masks, the relative error of the mean training output
    against the inference output is measured for both, in units of its standard error.
    """

    p, n = 0.3, 20_000
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 64, generator=g, dtype=torch.float64) + 0.5
    out: dict[str, float] = {}
    for scaling in ("inverted", "classic"):
        train = dropout(x.expand(n, 64), p, training=True, scaling=scaling, generator=g)
        infer = dropout(x, p, training=False, scaling=scaling)
        se = train.std(0) / n**0.5
        z = ((train.mean(0) - infer[0]) / se).abs().max()
        out[f"{scaling}_max_z"] = float(z)
    return out


def _sgd_run(seed: int, mode: str, lam: float, lr: float, steps: int = 20) -> list[torch.Tensor]:

    net = _net(seed)
    x, y = _data(seed)
    params = list(net.parameters())
    opt: torch.optim.Optimizer = torch.optim.SGD(params, lr=lr)
    if mode == "decay":
        opt = WeightDecay(opt, lam, mode="decoupled", params=params)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        if mode == "l2":
            loss = loss + L2(lam / 2)(params)
        loss.backward()
        if mode == "formula":
            with torch.no_grad():
                for w in params:
                    w.mul_(1 - lr * lam).sub_(lr * w.grad)  # type: ignore[operator]
        else:
            opt.step()
    return [p.detach().clone() for p in params]


def weight_decay_sgd(seed: int) -> dict[str, float]:
    """With plain SGD, decoupled weight decay, the L2 penalty ``lambda/2 ||W||^2`` and the update
    ``W <- (1 - lr*lambda) W - lr*grad`` give the same weights (float64, 20 steps).
    """
    lam, lr = 0.05, 0.1
    runs = [_sgd_run(seed, m, lam, lr) for m in ("decay", "l2", "formula")]
    diff = max(float((a - b).abs().max()) for other in runs[1:] for a, b in zip(runs[0], other))
    return {"max_abs_diff": diff}


def weight_decay_adam(seed: int) -> dict[str, float]:
    """With Adam, the coupled L2 penalty and decoupled decay (AdamW) end at different weights.

    The number is the largest difference relative to the weights' scale after 50 steps.
    """

    lam, lr = 0.1, 0.01
    finals = []
    for mode in ("l2", "decay"):
        net = _net(seed)
        x, y = _data(seed)
        params = list(net.parameters())
        opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=lr)
        if mode == "decay":
            opt = WeightDecay(opt, lam, mode="decoupled", params=params)
        for _ in range(50):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(x), y)
            if mode == "l2":
                loss = loss + L2(lam / 2)(params)
            loss.backward()
            opt.step()
        finals.append(torch.cat([p.detach().flatten() for p in params]))
    scale = float(finals[1].abs().max())
    return {"max_rel_diff": float((finals[0] - finals[1]).abs().max()) / scale}


def batchnorm_inference(seed: int) -> dict[str, float]:
    """In eval mode (running averages), a sample's output is the same alone and in any batch.

    The model is trained briefly so the running statistics are not the initial ones. In training
    mode the same comparison moves the output: the second number shows that dependence.
    """

    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), BatchNorm(16), nn.ReLU(), nn.Linear(16, 3)).double()
    x, y = _data(seed, n=64)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for i in range(0, 64, 16):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[i : i + 16]), y[i : i + 16]).backward()
        opt.step()
    probe, others = x[:1], x[1:17]
    out: dict[str, float] = {}
    with torch.no_grad():
        for mode in ("eval", "train"):
            model.train(mode == "train")
            alone = model(torch.cat([probe, probe]))[0] if mode == "train" else model(probe)[0]
            mixed = model(torch.cat([probe, others]))[0]
            out[f"{mode}_max_diff"] = float((alone - mixed).abs().max())
    return out


CHECKS: dict[str, Callable[[int], dict[str, float]]] = {
    "dropout_gradients": dropout_gradients,
    "dropout_expectation": dropout_expectation,
    "weight_decay_sgd": weight_decay_sgd,
    "weight_decay_adam": weight_decay_adam,
    "batchnorm_inference": batchnorm_inference,
}
