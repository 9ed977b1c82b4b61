"""BatchNorm and friends: NumPy references, torch parity, gradcheck, errors, the checklist."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import reglab as rl
import reglab.functional.norm as fnorm
from reglab import ConfigError
from reglab.nn import BatchNorm, GroupNorm, LayerNorm, RenormClipping, RMSNorm
from tests.checklist import Check, ModuleCase, checklist
from tests.reference import norm_oracle as oracle

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
SHAPES = [(16, 5), (8, 5, 7), (4, 5, 6, 6), (3, 5, 2, 3, 4)]


def _randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _torch_bn(shape: tuple[int, ...], **kw: object) -> nn.Module:
    cls = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}
    return cls[len(shape)](shape[1], **kw)  # type: ignore[arg-type]


def _perturb(*modules: nn.Module) -> None:
    g = torch.Generator().manual_seed(7)
    params = [list(m.parameters()) for m in modules]
    with torch.no_grad():
        for group in zip(*params):
            noise = torch.randn(group[0].shape, generator=g, dtype=group[0].dtype)
            for p in group:
                p.add_(noise)


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


# ----------------------------------------------------------------------------- references


@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_matches_seed_formulas(shape):
    x = _randn(*shape) * 3 + 1
    bn = BatchNorm(shape[1], eps=1e-3, momentum=0.2).double()
    _perturb(bn)
    gamma = bn.weight.detach().numpy().copy()
    beta = bn.bias.detach().numpy().copy()
    rm, rv = np.zeros(shape[1]), np.ones(shape[1])
    for step in range(3):
        xs = x + step
        y = bn(xs)
        expected, _, _ = oracle.bn_train(xs.numpy(), gamma, beta, 1e-3)
        np.testing.assert_allclose(y.detach().numpy(), expected, rtol=0, atol=1e-10)
        rm, rv = oracle.running_update(rm, rv, xs.numpy(), 0.2)
        np.testing.assert_allclose(bn.running_mean.numpy(), rm, rtol=0, atol=1e-12)
        np.testing.assert_allclose(bn.running_var.numpy(), rv, rtol=0, atol=1e-12)
    bn.eval()
    expected = oracle.bn_normalize(x.numpy(), rm, rv, gamma, beta, 1e-3)
    np.testing.assert_allclose(bn(x).detach().numpy(), expected, rtol=0, atol=1e-10)


def test_cumulative_average_is_mean_of_batch_statistics():
    bn = BatchNorm(4, momentum=None).double()
    xs = [_randn(10, 4, seed=s) * (s + 1) for s in range(5)]
    for x in xs:
        bn(x)
    means = np.stack([oracle.bn_statistics(x.numpy())[0] for x in xs])
    variances = np.stack([oracle.bn_statistics(x.numpy())[1] * 10 / 9 for x in xs])
    np.testing.assert_allclose(bn.running_mean.numpy(), means.mean(0), atol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), variances.mean(0), atol=1e-12)
    assert int(bn.num_batches_tracked) == 5


@pytest.mark.parametrize("k", [1, 2])
def test_layernorm_matches_seed_rows(k):
    x = _randn(6, 4, 5) * 2 + 3
    shape = tuple(x.shape[3 - k :])
    ln = LayerNorm(shape).double()
    _perturb(ln)
    expected = oracle.layer_norm_rows(
        x.numpy(), ln.weight.detach().numpy(), ln.bias.detach().numpy(), 1e-5, k
    )
    np.testing.assert_allclose(ln(x).detach().numpy(), expected, rtol=0, atol=1e-10)


def test_rmsnorm_matches_formula():
    x = _randn(6, 8) + 0.5
    rms = RMSNorm(8, eps=1e-6).double()
    _perturb(rms)
    expected = oracle.rms_rows(x.numpy(), rms.weight.detach().numpy(), 1e-6)
    np.testing.assert_allclose(rms(x).detach().numpy(), expected, rtol=0, atol=1e-10)


# ----------------------------------------------------------------------------- torch parity


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"momentum": None},
        {"affine": False},
        {"track_running_stats": False},
        {"eps": 1e-3, "momentum": 0.5},
    ],
    ids=["default", "cumulative", "no_affine", "no_stats", "eps_momentum"],
)
def test_batchnorm_parity_with_torch(shape, dtype, kw):
    ours = BatchNorm(shape[1], **kw).to(dtype)
    ref = _torch_bn(shape, **kw).to(dtype)
    _perturb(ours, ref)
    tol = TOL[dtype]
    for step in range(3):
        x = (_randn(*shape, seed=step, dtype=dtype) * 2 + step).requires_grad_(True)
        x2 = x.detach().clone().requires_grad_(True)
        grad = _randn(*shape, seed=10 + step, dtype=dtype)
        y, y2 = ours(x), ref(x2)
        assert _max_diff(y, y2) <= tol
        y.backward(grad)
        y2.backward(grad)
        assert _max_diff(x.grad, x2.grad) <= tol
        for p, q in zip(ours.parameters(), ref.parameters()):
            assert _max_diff(p.grad, q.grad) <= tol * 10
        for (name, b), (_, b2) in zip(ours.named_buffers(), ref.named_buffers()):
            assert _max_diff(b.double(), b2.double()) <= tol, name
    ours.eval()
    ref.eval()
    x = _randn(*shape, seed=99, dtype=dtype)
    assert _max_diff(ours(x), ref(x)) <= tol


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 9),
    c=st.integers(1, 6),
    spatial=st.lists(st.integers(1, 4), max_size=3),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
)
def test_batchnorm_any_shape_matches_torch(n, c, spatial, dtype, seed):
    shape = (n, c, *spatial)
    ours, ref = BatchNorm(c).to(dtype), _torch_bn(shape).to(dtype)
    x = _randn(*shape, seed=seed, dtype=dtype)
    y = ours(x)
    assert y.shape == x.shape and y.dtype == dtype
    assert _max_diff(y, ref(x)) <= TOL[dtype]
    assert _max_diff(ours.running_var, ref.running_var) <= TOL[dtype]


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5, 5)])
def test_state_dict_loads_both_ways(shape):
    ours, ref = BatchNorm(shape[1]), _torch_bn(shape)
    _perturb(ref)
    for _ in range(2):
        ref(_randn(*shape, dtype=torch.float32) + 2)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    ours.eval(), ref.eval()
    x = _randn(*shape, seed=3, dtype=torch.float32)
    torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)
    fresh = _torch_bn(shape)
    ours.train()(x * 5)
    fresh.load_state_dict(ours.state_dict())
    ours.eval(), fresh.eval()
    torch.testing.assert_close(fresh(x), ours(x), rtol=0, atol=0)
    assert int(fresh.num_batches_tracked) == 3


def test_layer_group_rms_norm_parity_with_torch():
    x = _randn(4, 6, 5, dtype=torch.float32).requires_grad_(True)
    pairs = [
        (LayerNorm((6, 5), eps=1e-4), nn.LayerNorm((6, 5), eps=1e-4)),
        (LayerNorm(5, bias=False), nn.LayerNorm(5, bias=False)),
        (LayerNorm(5, elementwise_affine=False), nn.LayerNorm(5, elementwise_affine=False)),
        (GroupNorm(3, 6), nn.GroupNorm(3, 6)),
        (GroupNorm(2, 6, affine=False), nn.GroupNorm(2, 6, affine=False)),
        (RMSNorm(5), nn.RMSNorm(5)),
        (RMSNorm((6, 5), eps=1e-3), nn.RMSNorm((6, 5), eps=1e-3)),
    ]
    grad = _randn(4, 6, 5, seed=1, dtype=torch.float32)
    for ours, ref in pairs:
        _perturb(ours, ref)
        ref.load_state_dict(ours.state_dict())
        x1 = x.detach().clone().requires_grad_(True)
        x2 = x.detach().clone().requires_grad_(True)
        y1, y2 = ours(x1), ref(x2)
        assert _max_diff(y1, y2) <= 1e-6
        y1.backward(grad)
        y2.backward(grad)
        assert _max_diff(x1.grad, x2.grad) <= 1e-5
        assert repr(ours).split("(", 1)[1] == repr(ref).split("(", 1)[1]


def test_rmsnorm_fallback_for_old_torch(monkeypatch):
    x = _randn(3, 4, 8)
    rms = RMSNorm(8).double()
    _perturb(rms)
    native = rms(x)
    monkeypatch.delattr(F, "rms_norm")
    fallback = rms(x)
    assert _max_diff(native, fallback) <= 1e-12
    eps = torch.finfo(torch.float64).eps
    expected = oracle.rms_rows(x.numpy(), rms.weight.detach().numpy(), eps)
    np.testing.assert_allclose(fallback.detach().numpy(), expected, atol=1e-12)


# ----------------------------------------------------------------------------- ghost batches


@pytest.mark.parametrize(("n", "vbs"), [(12, 4), (14, 4), (6, 8)])
def test_ghost_batches_normalise_each_piece(n, vbs):
    x = _randn(n, 3, 2) * 2 + 1
    bn = BatchNorm(3, virtual_batch_size=vbs, momentum=0.3).double()
    _perturb(bn)
    gamma, beta = bn.weight.detach().numpy(), bn.bias.detach().numpy()
    y = bn(x).detach().numpy()
    k = max(1, n // vbs)
    sizes = [len(p) for p in np.array_split(np.arange(n), k)]
    assert min(sizes) >= min(vbs, n)
    start, means, variances = 0, [], []
    for size in sizes:
        piece = x.numpy()[start : start + size]
        expected, mu, var = oracle.bn_train(piece, gamma, beta, 1e-5)
        np.testing.assert_allclose(y[start : start + size], expected, atol=1e-10)
        m = size * 2
        means.append(mu * size / n)
        variances.append(var * m / (m - 1) * size / n)
        start += size
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.3 * np.sum(means, 0), atol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.7 + 0.3 * np.sum(variances, 0), atol=1e-12)
    bn.eval()
    plain = BatchNorm(3).double().eval()
    plain.load_state_dict(bn.state_dict())
    assert torch.equal(bn(x), plain(x))


# ----------------------------------------------------------------------------- renormalization


def _renorm_state(c: int) -> dict[str, np.ndarray]:
    return {
        "renorm_mean": np.zeros(c),
        "renorm_std": np.ones(c),
        "running_mean": np.zeros(c),
        "running_std": np.ones(c),
        "running_var": np.ones(c),
    }


@pytest.mark.parametrize("shape", [(32, 4), (8, 4, 3, 3)])
def test_renorm_matches_ioffe_algorithm(shape):
    clip = RenormClipping(rmax=1.5, dmax=0.5, rmin=1 / 1.5, momentum=0.3)
    bn = BatchNorm(shape[1], eps=1e-3, momentum=0.2, renorm=clip).double()
    _perturb(bn)
    gamma, beta = bn.weight.detach().numpy(), bn.bias.detach().numpy()
    state = _renorm_state(shape[1])
    for step in range(4):
        x = _randn(*shape, seed=step) * (1 + step) + 2 * step
        y = bn(x)
        expected = oracle.renorm_step(
            x.numpy(),
            gamma,
            beta,
            state,
            eps=1e-3,
            momentum=0.2,
            renorm_momentum=0.3,
            rmax=1.5,
            rmin=1 / 1.5,
            dmax=0.5,
        )
        np.testing.assert_allclose(y.detach().numpy(), expected, rtol=0, atol=1e-10)
        for key, value in state.items():
            np.testing.assert_allclose(getattr(bn, key).numpy(), value, atol=1e-12, err_msg=key)
    bn.eval()
    x = _randn(*shape, seed=50)
    expected = oracle.bn_normalize(
        x.numpy(), state["running_mean"], state["running_var"], gamma, beta, 1e-3
    )
    np.testing.assert_allclose(bn(x).detach().numpy(), expected, atol=1e-10)


def test_renorm_corrections_carry_no_gradient():
    clip = RenormClipping(rmax=3.0, dmax=2.0)
    bn = BatchNorm(3, eps=1e-3, renorm=clip).double()
    with torch.no_grad():
        bn.renorm_mean.fill_(0.4)
        bn.renorm_std.fill_(1.7)
    _perturb(bn)
    x = (_randn(16, 3) * 2).requires_grad_(True)
    grad = _randn(16, 3, seed=1)
    bn(x).backward(grad)
    # same forward with r, d computed aside as constants: autograd must agree
    x2 = x.detach().clone().requires_grad_(True)
    w = bn.weight.detach().clone().requires_grad_(True)
    b = bn.bias.detach().clone().requires_grad_(True)
    var, mean = torch.var_mean(x2.detach(), 0, correction=0)
    std = torch.sqrt(var + 1e-3)
    r = (std / 1.7).clamp(0, 3.0)
    d = ((mean - 0.4) / 1.7).clamp(-2.0, 2.0)
    mu2 = x2.mean(0)
    x_hat = (x2 - mu2) / torch.sqrt(x2.var(0, correction=0) + 1e-3)
    ((x_hat * r + d) * w + b).backward(grad)
    assert _max_diff(x.grad, x2.grad) <= 1e-10
    assert _max_diff(bn.weight.grad, w.grad) <= 1e-10
    assert _max_diff(bn.bias.grad, b.grad) <= 1e-10


def test_renorm_without_correction_is_batchnorm_and_loads_torch_state():
    clip = RenormClipping(rmax=1.0, dmax=0.0, rmin=1.0)
    ours = BatchNorm(4, renorm=clip)
    ref = nn.BatchNorm1d(4)
    _perturb(ours, ref)
    x = _randn(20, 4, dtype=torch.float32) * 3
    assert _max_diff(ours(x), ref(x)) <= 1e-5
    ref(x + 1)
    ours.load_state_dict(ref.state_dict())
    assert torch.allclose(ours.running_std, torch.sqrt(ref.running_var + ours.eps))
    assert torch.equal(ours.renorm_mean, ref.running_mean)
    ours.eval(), ref.eval()
    assert _max_diff(ours(x), ref(x)) <= 1e-6


# ----------------------------------------------------------------------------- small batches


def test_single_value_per_channel_error_names_the_fix():
    bn = BatchNorm(3)
    with pytest.raises(ConfigError) as info:
        bn(torch.randn(1, 3))
    assert str(info.value) == (
        "BatchNorm got 1 value per channel in training mode (input shape (1, 3)): use a batch "
        "of at least 2, call .eval(), or pass small_batch='running_stats'."
    )
    bn(torch.randn(1, 3, 2))  # two values per channel: fine, as in torch


def test_single_value_policy_running_stats():
    bn = BatchNorm(3, small_batch="running_stats")
    _perturb(bn)
    bn(_randn(8, 3, dtype=torch.float32) + 1)
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    x = _randn(1, 3, seed=4, dtype=torch.float32).requires_grad_(True)
    y = bn(x)
    y.sum().backward()
    for k, v in bn.state_dict().items():
        assert torch.equal(v, before[k]), k
    expected = bn.eval()(x.detach())
    assert torch.equal(y.detach(), expected)
    assert torch.allclose(x.grad[0], bn.weight / torch.sqrt(bn.running_var + bn.eps))


# ----------------------------------------------------------------------------- gradcheck


def _gc(fn, *inputs):
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6)


def test_gradcheck_batch_norm_train_eval_and_ghost():
    x = _randn(6, 3, 2).requires_grad_(True)
    w = (_randn(3, seed=1) + 1).requires_grad_(True)
    b = _randn(3, seed=2).requires_grad_(True)
    rm, rv = _randn(3, seed=3), _randn(3, seed=4).abs() + 0.5
    _gc(lambda x, w, b: fnorm.batch_norm(x, None, None, w, b, training=True), x, w, b)
    _gc(lambda x, w, b: fnorm.batch_norm(x, rm, rv, w, b, training=False), x, w, b)
    _gc(
        lambda x, w, b: fnorm.batch_norm(x, None, None, w, b, training=True, virtual_batch_size=3),
        x,
        w,
        b,
    )


def test_gradcheck_batch_renorm_with_active_clipping():
    # renorm averages far from the batch: r and d sit on their clips, so they are constants
    # under the finite-difference perturbations and numerical == analytical gradient
    x = _randn(8, 3).requires_grad_(True)
    w = (_randn(3, seed=1) + 1).requires_grad_(True)
    b = _randn(3, seed=2).requires_grad_(True)
    clip = RenormClipping(rmax=2.0, dmax=1.0, rmin=0.5)

    def fn(x, w, b):
        bufs = [torch.zeros(3), torch.ones(3), torch.ones(3), torch.full((3,), -10.0)]
        bufs = [t.double() for t in bufs] + [torch.full((3,), 0.1, dtype=torch.float64)]
        return fnorm.batch_renorm(x, *bufs, w, b, clipping=clip, eps=1e-3)

    _gc(fn, x, w, b)


def test_gradcheck_layer_group_rms():
    x = _randn(3, 4, 5).requires_grad_(True)
    w = (_randn(5, seed=1) + 1).requires_grad_(True)
    wc = (_randn(4, seed=2) + 1).requires_grad_(True)
    _gc(lambda x, w: fnorm.layer_norm(x, 5, w, w * 0.5), x, w)
    _gc(lambda x, w: fnorm.group_norm(x, 2, w, w * 0.5), x, wc)
    _gc(lambda x, w: fnorm.rms_norm(x, 5, w, 1e-6), x, w)


def test_gradcheck_rms_fallback(monkeypatch):
    monkeypatch.delattr(F, "rms_norm")
    x = _randn(3, 4, 5).requires_grad_(True)
    w = (_randn(5, seed=1) + 1).requires_grad_(True)
    _gc(lambda x, w: fnorm.rms_norm(x, 5, w), x, w)


# ----------------------------------------------------------------------------- keras_momentum


def test_keras_momentum_round_trip():
    assert rl.nn.keras_momentum(0.99) == 0.01
    assert rl.nn.keras_momentum(0.01) == 0.99
    for m in (0.0, 0.1, 0.5, 0.9, 0.999, 1.0):
        assert math.isclose(rl.nn.keras_momentum(rl.nn.keras_momentum(m)), m, abs_tol=1e-15)
    with pytest.raises(ConfigError) as info:
        rl.nn.keras_momentum(1.5)
    assert str(info.value) == (
        "The 'momentum' parameter of keras_momentum must be a float in [0, 1]. Got 1.5 instead."
    )


# ----------------------------------------------------------------------------- errors


def _msg(param: str, owner: str, constraint: str, got: str) -> str:
    return f"The '{param}' parameter of {owner} must be {constraint}. Got {got} instead."


BN_BAD = [
    (lambda: BatchNorm(0), _msg("num_features", "BatchNorm", "an int in [1, inf)", "0")),
    (lambda: BatchNorm(4, eps=-1e-5), _msg("eps", "BatchNorm", "a float in (0, inf)", "-1e-05")),
    (
        lambda: BatchNorm(4, momentum=1.5),
        _msg("momentum", "BatchNorm", "a float in [0, 1] or None", "1.5"),
    ),
    (
        lambda: BatchNorm(4, small_batch="skip"),
        _msg("small_batch", "BatchNorm", "one of 'error', 'running_stats'", "'skip'"),
    ),
    (
        lambda: BatchNorm(4, virtual_batch_size=0),
        _msg("virtual_batch_size", "BatchNorm", "an int in [1, inf) or None", "0"),
    ),
    (
        lambda: BatchNorm(4, renorm=3.0),  # type: ignore[arg-type]
        _msg("renorm", "BatchNorm", "a RenormClipping or None", "3.0"),
    ),
    (
        lambda: BatchNorm(4, track_running_stats=False, small_batch="running_stats"),
        _msg(
            "small_batch",
            "BatchNorm",
            "'error' when track_running_stats=False",
            "'running_stats'",
        ),
    ),
    (
        lambda: BatchNorm(4, virtual_batch_size=8, renorm=RenormClipping()),
        _msg(
            "renorm",
            "BatchNorm",
            "None when virtual_batch_size is set",
            "RenormClipping(rmax=inf, dmax=inf, rmin=0.0, momentum=0.01)",
        ),
    ),
    (
        lambda: RenormClipping(rmax=0.5),
        _msg("rmax", "RenormClipping", "a float in [1, inf]", "0.5"),
    ),
    (
        lambda: RenormClipping(dmax=-1.0),
        _msg("dmax", "RenormClipping", "a float in [0, inf]", "-1.0"),
    ),
]

OTHER_BAD = [
    (
        lambda: LayerNorm(0),
        _msg("normalized_shape", "LayerNorm", "an int or a sequence of ints >= 1", "0"),
    ),
    (lambda: LayerNorm(4, eps=-1.0), _msg("eps", "LayerNorm", "a float in (0, inf)", "-1.0")),
    (
        lambda: GroupNorm(3, 4),
        _msg("num_groups", "GroupNorm", "a divisor of num_channels=4", "3"),
    ),
    (
        lambda: RMSNorm(4, eps=0.0),
        _msg("eps", "RMSNorm", "a float in (0, inf) or None", "0.0"),
    ),
]


@pytest.mark.parametrize(("build", "message"), BN_BAD + OTHER_BAD)
def test_bad_parameters_exact_message(build, message):
    with pytest.raises(ConfigError) as info:
        build()
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("module", "x", "message"),
    [
        (
            BatchNorm(4),
            torch.randn(8, 3),
            "BatchNorm expects 'input' of shape (N, 4) or (N, 4, *). Got shape (8, 3) instead.",
        ),
        (
            BatchNorm(4),
            torch.randn(4),
            "BatchNorm expects 'input' of shape (N, 4) or (N, 4, *). Got shape (4,) instead.",
        ),
        (
            BatchNorm(4),
            torch.ones(8, 4, dtype=torch.long),
            "BatchNorm expects a floating-point tensor as 'input'. Got dtype torch.int64 instead.",
        ),
        (
            LayerNorm((3, 5)),
            torch.randn(2, 5, 3),
            "LayerNorm expects 'input' of shape (*, 3, 5). Got shape (2, 5, 3) instead.",
        ),
        (
            GroupNorm(2, 4),
            torch.randn(2, 6, 3),
            "GroupNorm expects 'input' of shape (N, 4) or (N, 4, *). Got shape (2, 6, 3) instead.",
        ),
        (
            RMSNorm(5),
            torch.ones(2, 5, dtype=torch.int32),
            "RMSNorm expects a floating-point tensor as 'input'. Got dtype torch.int32 instead.",
        ),
    ],
)
def test_bad_input_tensors_exact_message(module, x, message):
    with pytest.raises(ConfigError) as info:
        module(x)
    assert str(info.value) == message


# ----------------------------------------------------------------------------- checklist

CASES = [
    ModuleCase(
        "BatchNorm",
        lambda: BatchNorm(4),
        (8, 4, 5),
        repr_contains=("4", "eps=1e-05", "momentum=0.1"),
        bad=BN_BAD[:4],
    ),
    ModuleCase(
        "BatchNorm[ghost]",
        lambda: BatchNorm(4, virtual_batch_size=4, momentum=None),
        (16, 4),
        repr_contains=("virtual_batch_size=4", "momentum=None"),
    ),
    ModuleCase(
        "BatchNorm[renorm]",
        lambda: BatchNorm(4, renorm=RenormClipping(3.0, 5.0)),
        (16, 4, 3, 3),
        repr_contains=("renorm=RenormClipping(rmax=3.0",),
        bad=BN_BAD[-4:],
    ),
    ModuleCase(
        "BatchNorm[running_stats]",
        lambda: BatchNorm(4, small_batch="running_stats"),
        (1, 4),
        repr_contains=("small_batch='running_stats'",),
    ),
    ModuleCase(
        "LayerNorm",
        lambda: LayerNorm((4, 5)),
        (3, 4, 5),
        repr_contains=("(4, 5)", "eps=1e-05"),
        bad=OTHER_BAD[:2],
    ),
    ModuleCase(
        "GroupNorm", lambda: GroupNorm(2, 4), (3, 4, 5), repr_contains=("2, 4",), bad=OTHER_BAD[2:3]
    ),
    ModuleCase(
        "RMSNorm", lambda: RMSNorm(5), (3, 4, 5), repr_contains=("(5,)",), bad=OTHER_BAD[3:]
    ),
]


@pytest.mark.parametrize(("case", "check"), checklist(CASES))
def test_checklist(case: ModuleCase, check: Check) -> None:
    check(case)
