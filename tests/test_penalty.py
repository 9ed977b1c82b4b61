"""Penalties (L1, L2, ElasticNet): values, gradient mode == loss mode, conventions, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from reglab import ConfigError
from reglab.functional import penalty as F
from reglab.penalty import L1, L2, ElasticNet, LossMode, Penalty, PenaltySum
from tests.reference import penalty_oracle as oracle


def _tensors(gen: torch.Generator, dtype: torch.dtype = torch.float64) -> list[torch.Tensor]:
    ws = [torch.randn(5, 4, generator=gen, dtype=dtype), torch.randn(3, 2, 2, generator=gen)]
    ws[1] = ws[1].to(dtype)
    ws[0][0, :2] = 0.0  # exact zeros exercise the sign(0) = 0 convention
    return [w.requires_grad_() for w in ws]


@pytest.mark.parametrize(("l1", "l2"), [(0.3, 0.0), (0.0, 0.7), (0.3, 0.7), (0.0, 0.0)])
def test_penalty_value_matches_oracle(gen, l1, l2):
    ws = _tensors(gen)
    np_ws = [w.detach().numpy() for w in ws]
    expected = oracle.l1_penalty(np_ws, l1) + oracle.l2_penalty(np_ws, l2)
    for pen in (ElasticNet(l1, l2), L1(l1) + L2(l2)):
        assert pen(ws).item() == pytest.approx(expected, rel=1e-12)
    assert L1(l1)(ws).item() == pytest.approx(oracle.l1_penalty(np_ws, l1), rel=1e-12)
    assert L2(l2)(ws).item() == pytest.approx(oracle.l2_penalty(np_ws, l2), rel=1e-12)


@pytest.mark.parametrize(("l1", "l2"), [(0.3, 0.0), (0.0, 0.7), (0.3, 0.7)])
def test_gradient_mode_matches_oracle_and_autograd(gen, l1, l2):
    ws = _tensors(gen)
    pen = ElasticNet(l1, l2)
    pen(ws).backward()
    autograd = [w.grad.clone() for w in ws]
    for w in ws:
        w.grad = None
    pen.add_grad_(ws)
    for w, a in zip(ws, autograd):
        expected = torch.from_numpy(oracle.elastic_net_grad(w.detach().numpy(), l1, l2))
        torch.testing.assert_close(w.grad, expected, rtol=1e-12, atol=0)
        torch.testing.assert_close(w.grad, a, rtol=1e-12, atol=0)


def test_loss_mode_backward_scales_with_the_upstream_gradient(gen):
    ws = _tensors(gen)
    (0.5 * ElasticNet(0.3, 0.7)(ws)).backward()
    for w in ws:
        expected = 0.5 * torch.from_numpy(oracle.elastic_net_grad(w.detach().numpy(), 0.3, 0.7))
        torch.testing.assert_close(w.grad, expected, rtol=1e-12, atol=0)


def test_loss_mode_passes_gradients_only_to_tensors_that_need_them():
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2)
    L2(1.0)([a, b]).backward()
    assert a.grad.tolist() == [2.0, 2.0] and b.grad is None


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_low_precision_weights(dtype):
    w = torch.tensor([1.0, -2.0, 0.0], dtype=dtype, requires_grad=True)
    pen = ElasticNet(0.5, 0.25)
    value = pen([w])
    assert value.dtype == dtype and value.item() == pytest.approx(1.5 + 1.25, rel=1e-2)
    value.backward()
    loss_grad = w.grad.clone()
    w.grad = None
    pen.add_grad_([w])
    assert torch.equal(w.grad, loss_grad)
    assert w.grad.tolist() == [1.0, -1.5, 0.0]


def test_l1_subgradient_at_zero_is_zero_like_autograd_of_abs():
    w = torch.tensor([0.0, -0.0, 2.0, -3.0], requires_grad=True)
    L1(0.5).add_grad_([w])
    assert w.grad.tolist() == [0.0, 0.0, 0.5, -0.5]
    v = w.detach().clone().requires_grad_()
    v.abs().sum().backward()
    assert v.grad.tolist() == [0.0, 0.0, 1.0, -1.0]


def test_add_grad_accumulates_into_existing_grad_and_creates_missing_ones():
    a = torch.ones(2, 2, requires_grad=True)
    b = torch.ones(2, 2, requires_grad=True)
    frozen = torch.ones(2, 2)  # requires_grad=False: nothing to add to
    a.grad = torch.full((2, 2), 10.0)
    L2(0.25).add_grad_([a, b, frozen])
    assert a.grad.tolist() == [[10.5, 10.5], [10.5, 10.5]]
    assert b.grad.tolist() == [[0.5, 0.5], [0.5, 0.5]]
    assert frozen.grad is None


def _mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 4)
    )


def _train(mode: str, optimizer: str, steps: int = 100) -> torch.Tensor:
    model = _mlp(0)
    params = [model[0].weight, model[2].weight, model[4].weight]
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)  # Adam + L1 magnifies any rounding
    pen = L1(1e-3) + L2(1e-2)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 10, generator=g)
    y = torch.randint(0, 4, (64,), generator=g)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        if mode == "loss":
            loss = loss + pen(params)
        loss.backward()
        if mode == "grad":
            pen.add_grad_(params)
        opt.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("block_bytes", [None, 1500])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_gradient_mode_equals_loss_mode_over_100_steps(optimizer, block_bytes, monkeypatch):
    if block_bytes is not None:  # one cache block per weight (1280, 4096, 512 bytes)
        monkeypatch.setattr(F, "_CPU_BLOCK_BYTES", block_bytes)
    a, b = _train("loss", optimizer), _train("grad", optimizer)
    rel = ((a - b).abs().max() / b.abs().max()).item()
    assert rel <= 1e-6, rel
    assert torch.equal(a, b)  # in fact bit for bit: both add the same P to the loss gradient
    # and the penalty did something: the unregularized run ends elsewhere
    c = _train("none", optimizer)
    assert ((a - c).abs().max() / c.abs().max()).item() > 1e-3


def test_cache_blocks_split_in_order_without_changing_a_bit(gen, monkeypatch):
    shapes = [(7, 3), (40, 40), (2,), (30, 30), (5, 5), (5, 5), (100, 3)]
    ws = [torch.randn(*s, generator=gen) for s in shapes]
    ws[1][0, :3] = 0.0
    monkeypatch.setattr(F, "_CPU_BLOCK_BYTES", 4000)
    blocks = [ws[s] for s in F._cache_blocks(ws)]
    # consecutive runs covering every tensor once, each within the budget or a single tensor
    assert [t for b in blocks for t in b] == ws
    assert [len(b) for b in blocks] == [1, 1, 4, 1]  # 84 | 6400 | 8+3600+100+100 | 1200 B
    assert all(sum(t.numel() * 4 for t in b) <= 4000 or len(b) == 1 for b in blocks)
    for l1, l2 in [(0.3, 0.0), (0.0, 0.7), (0.3, 0.7)]:
        grads = [torch.randn(*s, generator=gen) for s in shapes]
        expected = [g + (l1 * torch.sign(w)).add(w, alpha=2 * l2) for g, w in zip(grads, ws)]
        F.elastic_net_grad_(grads, ws, l1, l2)
        for got, want in zip(grads, expected):
            assert torch.equal(got, want)
        P = F.elastic_net_grad(ws, l1, l2)
        assert [p.shape for p in P] == [w.shape for w in ws]
        for p, w in zip(P, ws):
            assert torch.equal(p, (l1 * torch.sign(w)).add(w, alpha=2 * l2))


def test_l2_converts_to_seed_002_update_and_to_torch_sgd_weight_decay(gen):
    """``L2(lam/2)`` + SGD is the textbook ``W := (1 - lr*lam) W - lr*grad`` and SGD(weight_decay=lam)."""
    lam, lr = 0.2, 0.1
    w0 = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    grad = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    w = w0.clone().requires_grad_()
    w.grad = grad.clone()
    L2(lam / 2).add_grad_([w])
    torch.optim.SGD([w], lr=lr).step()
    expected = oracle.sgd_l2_update(w0.numpy(), grad.numpy(), lr, lam)
    np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-14)
    v = w0.clone().requires_grad_()
    v.grad = grad.clone()
    torch.optim.SGD([v], lr=lr, weight_decay=lam).step()
    torch.testing.assert_close(w.detach(), v.detach(), rtol=1e-14, atol=0)


def test_penalties_add():
    assert L1(0.1) + L2(0.2) == ElasticNet(0.1, 0.2)
    assert repr(L1(0.1) + L2(0.2)) == "ElasticNet(l1=0.1, l2=0.2)"
    assert L1(0.1) + L1(0.2) == ElasticNet(0.1 + 0.2, 0.0)
    assert sum([L1(0.1), L2(0.2)]) == ElasticNet(0.1, 0.2)

    class Sum(Penalty):  # a user penalty: sum(w), gradient 1
        def penalty(self, params):
            return sum(p.sum() for p in params)

        def grad_(self, grads, params):
            torch._foreach_add_(grads, 1.0)

        def __repr__(self):
            return "Sum()"

    mixed = L2(0.5) + Sum()
    assert isinstance(mixed, PenaltySum)
    assert repr(mixed + L1(1.0)) == "L2(l2=0.5) + Sum() + L1(l1=1.0)"
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    assert mixed([w]).item() == pytest.approx(0.5 * 5 - 1.0)
    mixed.add_grad_([w])
    assert w.grad.tolist() == [2.0, -1.0]
    with pytest.raises(TypeError):
        L1(0.1) + 3  # type: ignore[operator]


def test_module_argument_means_its_regularized_parameters():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    assert L2(1.0)(model).item() == pytest.approx(model[0].weight.square().sum().item())
    L2(1.0).add_grad_(model)
    assert model[0].bias.grad is None and model[1].weight.grad is None
    torch.testing.assert_close(model[0].weight.grad, 2 * model[0].weight.detach())


def test_loss_mode_wrapper():
    w = torch.tensor([3.0], requires_grad=True)
    lm = LossMode(L2(0.5))
    assert lm([w]).item() == 4.5
    assert not hasattr(lm, "add_grad_")
    assert repr(lm) == "LossMode(L2(l2=0.5))"


def test_functional_elastic_net_with_float32_sums_in_float32():
    w = [torch.ones(3, dtype=torch.float32)]
    out = F.elastic_net_penalty(w, 0.5, 0.25)
    assert out.dtype == torch.float32 and out.item() == 2.25


def test_repr():
    assert repr(L1(1e-4)) == "L1(l1=0.0001)"
    assert repr(L2(0.001)) == "L2(l2=0.001)"
    assert repr(ElasticNet(1, 2)) == "ElasticNet(l1=1.0, l2=2.0)"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: L1(-1), "The 'l1' parameter of L1 must be a float in [0, inf). Got -1 instead."),
        (
            lambda: L1(math.nan),
            "The 'l1' parameter of L1 must be a float in [0, inf). Got nan instead.",
        ),
        (
            lambda: L2(math.inf),
            "The 'l2' parameter of L2 must be a float in [0, inf). Got inf instead.",
        ),
        (
            lambda: ElasticNet(0.1, "0.2"),
            "The 'l2' parameter of ElasticNet must be a float in [0, inf). Got '0.2' instead.",
        ),
        (
            lambda: LossMode(0.1),
            "The 'penalty' parameter of LossMode must be a reglab Penalty. Got 0.1 instead.",
        ),
        (
            lambda: L1(0.1)([]),
            "The 'params' parameter of L1 must select at least one tensor "
            "(e.g. reglab.regularized_parameters(model)). Got an empty selection instead.",
        ),
        (
            lambda: L2(0.1)(5),
            "The 'params' parameter of L2 must be an nn.Module or an iterable of tensors "
            "(e.g. reglab.regularized_parameters(model)). Got 5 instead.",
        ),
        (
            lambda: L1(0.1)([torch.ones(2), "w"]),
            "L1 expects a torch.Tensor as 'params[1]'. Got str instead.",
        ),
        (
            lambda: L1(0.1).add_grad_([torch.ones(2, dtype=torch.long)]),
            "L1.add_grad_ expects a floating-point tensor as 'params[0]'. Got dtype torch.int64 "
            "instead.",
        ),
        (
            lambda: ElasticNet(0.1).add_grad_([torch.ones(2, requires_grad=True) * 2]),
            "ElasticNet.add_grad_ updates tensors in place and needs leaf tensors (parameters): "
            "params[0] is the result of an operation. Pass the parameters themselves, "
            "e.g. reglab.regularized_parameters(model).",
        ),
        (
            lambda: L1(0.1)(nn.ReLU()),
            "The 'model' parameter of regularized_parameters must be a torch.nn.Module with at "
            "least one parameter. Got ReLU() instead.",
        ),
    ],
)
def test_bad_input_messages(build, message):
    with pytest.raises(ConfigError) as info:
        build()
    assert str(info.value) == message


def test_loss_mode_accepts_non_leaf_tensors():
    """Loss mode is differentiable, so a computed weight (e.g. a parametrization) is fine."""
    base = torch.tensor([1.0, -2.0], requires_grad=True)
    L1(1.0)([base * 3]).backward()
    assert base.grad.tolist() == [3.0, -3.0]


@pytest.mark.slow
def test_loss_mode_under_torch_compile_matches_eager():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    pen = L1(0.1) + L2(0.2)

    def step(x):
        loss = model(x).sum() + pen([model.weight])
        loss.backward()
        return loss

    x = torch.randn(2, 4)
    compiled = torch.compile(step, backend="aot_eager")(x)
    grad = model.weight.grad.clone()
    model.weight.grad = None
    eager = step(x)
    torch.testing.assert_close(compiled, eager)
    assert torch.equal(grad, model.weight.grad)
