"""WeightDecay: parity with torch's SGD/Adam/AdamW, the three modes, schedules, optimizer protocol."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from reglab import ConfigError
from reglab.optim import WeightDecay, param_groups
from tests.reference import penalty_oracle as oracle


def _mlp(dtype: torch.dtype = torch.float32) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3)).to(dtype)


def _data(dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(64, 8, generator=g, dtype=dtype), torch.randint(0, 3, (64,), generator=g)


def _train(make_opt, steps: int = 100, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    model = _mlp(dtype)
    x, y = _data(dtype)
    opt = make_opt(model)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


def _all(m: nn.Module) -> list[torch.Tensor]:
    return list(m.parameters())


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (
            lambda m: WeightDecay(
                torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9), 0.05, "coupled", _all(m)
            ),
            lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=0.05),
        ),
        (
            lambda m: WeightDecay(torch.optim.Adam(m.parameters(), lr=1e-2), 0.05, "coupled", m),
            lambda m: torch.optim.Adam(param_groups(m, 0.05), lr=1e-2),
        ),
        (
            lambda m: WeightDecay(
                torch.optim.Adam(m.parameters(), lr=1e-2), 0.05, "coupled", _all(m)
            ),
            lambda m: torch.optim.Adam(m.parameters(), lr=1e-2, weight_decay=0.05),
        ),
        (
            lambda m: WeightDecay(
                torch.optim.Adam(m.parameters(), lr=1e-2), 0.1, "decoupled", _all(m)
            ),
            lambda m: torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1),
        ),
        (  # default selection (ndim >= 2) == AdamW over reglab's decay / no-decay groups
            lambda m: WeightDecay(torch.optim.Adam(m.parameters(), lr=1e-2), 0.1),
            lambda m: torch.optim.AdamW(param_groups(m, 0.1), lr=1e-2),
        ),
    ],
    ids=["sgd-coupled", "adam-coupled-selected", "adam-coupled", "adamw", "adamw-groups"],
)
def test_parity_with_torch_after_100_steps(ours, theirs):
    a, b = _train(ours), _train(theirs)
    assert _rel(a, b) <= 1e-6
    plain = _train(lambda m: torch.optim.Adam(m.parameters(), lr=1e-2))
    assert _rel(a, plain) > 1e-3  # the decay really acted


def test_sgd_coupled_equals_decoupled_which_is_seed_002_update():
    """SGD: ``w - lr*(g + wd*w) == (1 - lr*wd) w - lr*g``, the same update (float64)."""
    a = _train(
        lambda m: WeightDecay(torch.optim.SGD(m.parameters(), lr=0.1), 0.2, "coupled"),
        dtype=torch.float64,
    )
    b = _train(
        lambda m: WeightDecay(torch.optim.SGD(m.parameters(), lr=0.1), 0.2, "decoupled"),
        dtype=torch.float64,
    )
    assert _rel(a, b) <= 1e-12
    # one step against the oracle of W := (1 - alpha*lambda) W - alpha*grad
    g = torch.Generator().manual_seed(2)
    w0 = torch.randn(3, 4, generator=g, dtype=torch.float64)
    grad = torch.randn(3, 4, generator=g, dtype=torch.float64)
    for mode in ("coupled", "decoupled"):
        w = nn.Parameter(w0.clone())
        w.grad = grad.clone()
        WeightDecay(torch.optim.SGD([w], lr=0.1), 0.2, mode).step()
        expected = oracle.sgd_l2_update(w0.numpy(), grad.numpy(), 0.1, 0.2)
        np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-14)


def test_adam_coupled_and_decoupled_differ_and_match_their_oracles():
    """Adam divides the coupled decay by sqrt(v): large-gradient weights decay less."""
    g = torch.Generator().manual_seed(3)
    w0 = torch.randn(4, 5, generator=g, dtype=torch.float64)
    scale = torch.logspace(-3, 1, 5, dtype=torch.float64)  # gradients of very different sizes
    grads = [torch.randn(4, 5, generator=g, dtype=torch.float64) * scale for _ in range(50)]
    out = {}
    for mode in ("coupled", "decoupled"):
        w = nn.Parameter(w0.clone())
        opt = WeightDecay(torch.optim.Adam([w], lr=1e-2), 0.1, mode)
        for gt in grads:
            w.grad = gt.clone()
            opt.step()
        out[mode] = w.detach()
        expected = oracle.adam_steps(
            w0.numpy(), [gt.numpy() for gt in grads], 1e-2, wd=0.1, decoupled=mode == "decoupled"
        )
        np.testing.assert_allclose(out[mode].numpy(), expected, rtol=1e-10, atol=1e-12)
    assert _rel(out["coupled"], out["decoupled"]) > 1e-3


def test_independent_mode_is_not_scaled_by_lr():
    outs = []
    for lr in (0.5, 0.01):
        w = nn.Parameter(torch.full((2, 2), 2.0, dtype=torch.float64))
        opt = WeightDecay(torch.optim.SGD([w], lr=lr), 0.1, "independent")
        for _ in range(3):
            w.grad = torch.zeros_like(w)
            opt.step()
        outs.append(w.detach())
    expected = 2.0 * 0.9**3
    for o in outs:
        torch.testing.assert_close(o, torch.full((2, 2), expected, dtype=torch.float64))


def test_callable_schedule_multiplies_the_decay_by_step_count():
    w = nn.Parameter(torch.ones(2, 2, dtype=torch.float64))
    seen = []

    def schedule(step: int) -> float:
        seen.append(step)
        return 0.5**step

    opt = WeightDecay(torch.optim.SGD([w], lr=0.1), 0.2, "decoupled", schedule=schedule)
    for _ in range(4):
        w.grad = torch.zeros_like(w)
        opt.step()
    assert seen == [0, 1, 2, 3]
    expected = math.prod(1 - 0.1 * 0.2 * 0.5**t for t in range(4))
    assert w[0, 0].item() == pytest.approx(expected, rel=1e-14)


def test_lr_schedule_follows_the_optimizers_lr_relative_to_initial():
    w = nn.Parameter(torch.ones(2, 2, dtype=torch.float64))
    opt = WeightDecay(torch.optim.SGD([w], lr=0.5), 0.1, "independent", schedule="lr")
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    factors = []
    for _ in range(4):
        factors.append(opt.param_groups[0]["lr"] / 0.5)
        w.grad = torch.zeros_like(w)
        opt.step()
        sched.step()
    assert factors == pytest.approx([1, 1, 0.1, 0.1])
    expected = math.prod(1 - 0.1 * f for f in factors)
    assert w[0, 0].item() == pytest.approx(expected, rel=1e-14)


def test_only_selected_parameters_decay_and_params_without_grad_are_skipped():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3), nn.Linear(3, 2))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = WeightDecay(torch.optim.SGD(model.parameters(), lr=1.0), 0.5, "decoupled")
    for n, p in model.named_parameters():
        p.grad = None if n == "2.weight" else torch.zeros_like(p)
    opt.step()
    after = dict(model.named_parameters())
    torch.testing.assert_close(after["0.weight"].detach(), before["0.weight"] * 0.5)
    for n in ("0.bias", "1.weight", "1.bias", "2.bias", "2.weight"):
        assert torch.equal(after[n].detach(), before[n]), n


def test_it_is_an_optimizer_for_lr_schedulers_without_warnings():
    model = _mlp()
    x, y = _data()
    opt = WeightDecay(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), 1e-2)
    assert isinstance(opt, torch.optim.Optimizer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "lr_scheduler.step() before optimizer.step()"
        scheds = [
            torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=10),
            torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0),
        ]
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
        for _ in range(5):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            for s in scheds:
                s.step()
            plateau.step(1.0)
    # the schedulers edited the wrapped optimizer's groups, which are the wrapper's
    assert opt.param_groups is opt.optimizer.param_groups
    assert opt.optimizer.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert "initial_lr" in opt.optimizer.param_groups[0]


def test_step_hooks_and_zero_grad():
    model = _mlp()
    opt = WeightDecay(torch.optim.SGD(model.parameters(), lr=0.1), 1e-2)
    calls = []
    opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    x, y = _data()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    assert calls == ["pre", "post"]
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_closure_gives_the_same_result_as_adamw_with_closure():
    def run(make_opt):
        model = _mlp()
        x, y = _data()
        opt = make_opt(model)
        losses = []
        for _ in range(20):

            def closure():
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                return loss

            losses.append(opt.step(closure).item())
        return torch.cat([p.detach().flatten() for p in model.parameters()]), losses

    a, la = run(
        lambda m: WeightDecay(torch.optim.Adam(m.parameters(), lr=1e-2), 0.1, params=_all(m))
    )
    b, lb = run(lambda m: torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1))
    assert _rel(a, b) <= 1e-6
    assert la == pytest.approx(lb, rel=1e-6)


def test_state_dict_round_trip_resumes_exactly():
    def make(model):
        return WeightDecay(
            torch.optim.Adam(model.parameters(), lr=1e-2), 0.1, schedule=lambda t: 1.0 / (1 + t)
        )

    x, y = _data()

    def steps(model, opt, n):
        for _ in range(n):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

    m1 = _mlp()
    o1 = make(m1)
    steps(m1, o1, 10)
    m2 = _mlp()
    o2 = make(m2)
    steps(m2, o2, 5)
    sd = o2.state_dict()
    assert sd["weight_decay"]["step"] == 5 and "state" in sd and "param_groups" in sd
    m3 = nn.Sequential(*[layer for layer in _mlp()])
    m3.load_state_dict(m2.state_dict())
    o3 = make(m3)
    o3.load_state_dict(sd)
    steps(m3, o3, 5)
    for p, q in zip(m1.parameters(), m3.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    o3.load_state_dict(torch.optim.Adam(m3.parameters()).state_dict())  # a plain one loads too
    assert o3.state_dict()["weight_decay"]["step"] == 10


def test_warns_once_when_the_optimizer_already_decays():
    model = _mlp()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt = WeightDecay(torch.optim.AdamW(model.parameters()), 1e-2)
        x, y = _data()
        for _ in range(3):
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    messages = [str(w.message) for w in caught]
    assert messages == [
        "WeightDecay wraps AdamW, which already has weight_decay=0.01; both decays would "
        "apply. Build it with weight_decay=0 (e.g. torch.optim.AdamW(params, weight_decay=0)) "
        "and let WeightDecay decay."
    ]


def test_add_param_group_decays_new_matrices_with_default_selection():
    a = nn.Parameter(torch.ones(2, 2))
    b = nn.Parameter(torch.ones(2, 2))
    bias = nn.Parameter(torch.ones(2))
    opt = WeightDecay(torch.optim.SGD([a], lr=1.0), 0.5)
    opt.add_param_group({"params": [b, bias], "lr": 0.5})
    for p in (a, b, bias):
        p.grad = torch.zeros_like(p)
    opt.step()
    assert a[0, 0].item() == 0.5 and b[0, 0].item() == 0.75 and bias[0].item() == 1.0


def test_repr():
    opt = WeightDecay(torch.optim.SGD(_mlp().parameters(), lr=0.1), 0.01, "coupled")
    assert repr(opt) == (
        "WeightDecay(SGD, weight_decay=0.01, mode='coupled', schedule=None, decayed_tensors=2)"
    )


def _sgd() -> torch.optim.Optimizer:
    return torch.optim.SGD(_mlp().parameters(), lr=0.1)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: WeightDecay(_sgd(), -1e-3),
            "The 'weight_decay' parameter of WeightDecay must be a float in [0, inf). "
            "Got -0.001 instead.",
        ),
        (
            lambda: WeightDecay(_sgd(), math.nan),
            "The 'weight_decay' parameter of WeightDecay must be a float in [0, inf). "
            "Got nan instead.",
        ),
        (
            lambda: WeightDecay(_sgd(), math.inf),
            "The 'weight_decay' parameter of WeightDecay must be a float in [0, inf). "
            "Got inf instead.",
        ),
        (
            lambda: WeightDecay(_sgd(), 0.1, mode="l2"),
            "The 'mode' parameter of WeightDecay must be one of 'decoupled', 'coupled', "
            "'independent'. Got 'l2' instead.",
        ),
        (
            lambda: WeightDecay(_sgd(), 0.1, schedule="cosine"),
            "The 'schedule' parameter of WeightDecay must be None, one of 'lr' or a callable. "
            "Got 'cosine' instead.",
        ),
        (
            lambda: WeightDecay("adam", 0.1),
            "The 'optimizer' parameter of WeightDecay must be a torch.optim.Optimizer. "
            "Got 'adam' instead.",
        ),
        (
            lambda: WeightDecay(WeightDecay(_sgd(), 0.1), 0.1),
            "The 'optimizer' parameter of WeightDecay must not itself be a WeightDecay: wrap the "
            "base optimizer once, with the total weight_decay.",
        ),
        (
            lambda: WeightDecay(_sgd(), 0.1, params=[]),
            "The 'params' parameter of WeightDecay must select at least one tensor "
            "(e.g. reglab.regularized_parameters(model)). Got an empty selection instead.",
        ),
        (
            lambda: WeightDecay(_sgd(), 0.1, params=[nn.Parameter(torch.ones(2, 2))]),
            "The 'params' parameter of WeightDecay must only contain parameters the wrapped "
            "optimizer updates. Got 1 tensor(s) it does not optimize instead; build the "
            "optimizer over model.parameters().",
        ),
        (
            lambda: WeightDecay(_sgd(), 0.1, params=[torch.ones(2, requires_grad=True) + 1]),
            "WeightDecay updates tensors in place and needs leaf tensors (parameters): params[0] "
            "is the result of an operation. Pass the parameters themselves, "
            "e.g. reglab.regularized_parameters(model).",
        ),
        (
            lambda: WeightDecay(torch.optim.SGD([nn.Parameter(torch.ones(3))]), 0.1),
            "WeightDecay found no parameter with ndim >= 2 in the optimizer to decay; pass "
            "params= (e.g. params=list(model.parameters())) to choose them.",
        ),
    ],
)
def test_bad_input_messages(build, message):
    with pytest.raises(ConfigError) as info:
        build()
    assert str(info.value) == message


def test_bad_schedule_value_is_reported_at_the_step():
    w = nn.Parameter(torch.ones(2, 2))
    opt = WeightDecay(torch.optim.SGD([w], lr=0.1), 0.1, schedule=lambda t: 1.0 - t)
    w.grad = torch.zeros_like(w)
    opt.step()
    opt.step()
    with pytest.raises(ConfigError) as info:
        opt.step()
    assert str(info.value) == (
        "The 'schedule' parameter of WeightDecay must return a finite float >= 0. "
        "Got -1.0 at step 2 instead."
    )
