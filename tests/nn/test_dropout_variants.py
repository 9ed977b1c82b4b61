"""Dropout variants: channel dropout, DropPath, DropBlock2d, DropConnect, Gaussian dropout and
noise, AlphaDropout. Oracles, parity with torch, statistics, gradients, checklist, errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import reglab as rl
import reglab.functional as RF
from reglab import ConfigError
from tests.checklist import Check, ModuleCase, checklist
from tests.helpers import seeded
from tests.reference import dropout_oracle as ref


def varying_dims(y: torch.Tensor) -> set[int]:
    """Dims along which the zero pattern of y (from a ones input) changes somewhere."""
    z = y == 0
    return {d for d in range(z.dim()) if not torch.equal(z, z.narrow(d, 0, 1).expand_as(z))}


# ---------------------------------------------------------------- Dropout1d / 2d / 3d

# (ours, torch's, input shape, dims the mask varies over: batch and channel, or channel only)
FEATURE = [
    (rl.nn.Dropout1d, nn.Dropout1d, (6, 5, 7), {0, 1}),
    (rl.nn.Dropout1d, nn.Dropout1d, (16, 7), {0}),
    (rl.nn.Dropout2d, nn.Dropout2d, (6, 5, 3, 4), {0, 1}),
    (rl.nn.Dropout3d, nn.Dropout3d, (6, 5, 2, 3, 4), {0, 1}),
    (rl.nn.Dropout3d, nn.Dropout3d, (16, 2, 3, 4), {0}),
]
FEATURE_IDS = [f"{c[0].__name__}-{len(c[2])}d" for c in FEATURE]


@pytest.mark.parametrize(("ours", "theirs", "shape", "channel_dims"), FEATURE, ids=FEATURE_IDS)
def test_channel_mask_shape_matches_torch(ours, theirs, shape, channel_dims) -> None:  # type: ignore[no-untyped-def]
    x = torch.ones(*shape)
    torch.manual_seed(0)
    a = ours(0.5)(x)
    b = theirs(0.5)(x)
    assert a.shape == b.shape == x.shape
    # zeros vary only across the leading (batch, channel) dims, never within a channel, in both
    assert varying_dims(a) == varying_dims(b) == channel_dims
    assert set(a.unique().tolist()) == set(b.unique().tolist()) == {0.0, 2.0}


def test_dropout2d_reads_3d_input_as_n_c_l_like_torch() -> None:
    x = torch.ones(8, 6, 5)
    with pytest.warns(UserWarning, match="3-D input"):
        a = rl.nn.Dropout2d(0.5)(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = nn.Dropout2d(0.5)(x)
    assert varying_dims(a) == varying_dims(b) == {0, 1}


@pytest.mark.parametrize(("ours", "theirs", "shape", "channel_dims"), FEATURE, ids=FEATURE_IDS)
def test_channel_dropout_eval_matches_torch(ours, theirs, shape, channel_dims) -> None:  # type: ignore[no-untyped-def]
    x = torch.randn(*shape, generator=seeded(0))
    torch.testing.assert_close(ours(0.3).eval()(x), theirs(0.3).eval()(x), rtol=0, atol=0)
    torch.testing.assert_close(ours(0.3, scaling="classic").eval()(x), x * 0.7, rtol=1e-6, atol=0)


@pytest.mark.parametrize("fn", [RF.dropout1d, RF.dropout2d, RF.dropout3d])
def test_channel_drop_rate_inside_binomial_interval(fn) -> None:  # type: ignore[no-untyped-def]
    dims = {RF.dropout1d: 1, RF.dropout2d: 2, RF.dropout3d: 3}[fn]
    n, c, p = 512, 256, 0.3
    y = fn(torch.ones(n, c, *([2] * dims)), p, generator=seeded(1))
    dropped = (y.flatten(2)[:, :, 0] == 0).double().mean().item()
    lo, hi = ref.binomial_interval(n * c, p)
    assert lo <= dropped <= hi


@pytest.mark.parametrize("scaling", ["inverted", "classic"])
def test_channel_dropout_matches_oracle_and_gradcheck(scaling: str) -> None:
    x = torch.randn(3, 4, 5, dtype=torch.float64, generator=seeded(0), requires_grad=True)
    ones = RF.dropout1d(torch.ones(3, 4, 5, dtype=torch.float64), 0.4, generator=seeded(2))
    keep = (ones != 0).numpy()
    y = RF.dropout1d(x, 0.4, scaling=scaling, generator=seeded(2))
    np.testing.assert_allclose(
        y.detach().numpy(), ref.dropout_forward(x.detach().numpy(), keep, 0.4, scaling, True)
    )
    for fn, shape in (
        (RF.dropout1d, (2, 3, 4)),
        (RF.dropout2d, (2, 3, 2, 2)),
        (RF.dropout3d, (3, 2, 2, 2)),
    ):
        t = torch.randn(*shape, dtype=torch.float64, generator=seeded(3), requires_grad=True)
        assert torch.autograd.gradcheck(
            lambda v, fn=fn: fn(v, 0.5, scaling=scaling, generator=seeded(4)), (t,)
        )


def test_channel_dropout_inplace() -> None:
    x = torch.randn(4, 3, 5, generator=seeded(0))
    expected = RF.dropout1d(x, 0.5, generator=seeded(1))
    out = RF.dropout1d(x, 0.5, inplace=True, generator=seeded(1))
    assert out.data_ptr() == x.data_ptr()
    torch.testing.assert_close(x, expected, rtol=0, atol=0)


# ---------------------------------------------------------------- DropPath


def test_drop_path_row_mode_drops_whole_samples_at_rate_p() -> None:
    n, p = 1 << 16, 0.2
    y = RF.drop_path(torch.ones(n, 3, 2), p, generator=seeded(0))
    per_sample = y.flatten(1)
    assert torch.all((per_sample == 0).all(1) | (per_sample == 1 / (1 - p)).all(1))
    lo, hi = ref.binomial_interval(n, p)
    assert lo <= (per_sample[:, 0] == 0).double().mean().item() <= hi


def test_drop_path_batch_mode_and_scale_by_keep() -> None:
    outcomes = set()
    for seed in range(40):
        y = RF.drop_path(
            torch.ones(8, 3), 0.5, mode="batch", scale_by_keep=False, generator=seeded(seed)
        )
        assert len(y.unique()) == 1  # one draw for the whole batch
        outcomes.add(y[0, 0].item())
    assert outcomes == {0.0, 1.0}


def test_drop_path_residual_expectation_and_eval() -> None:
    x = torch.randn(4, 5, generator=seeded(0))
    assert torch.equal(rl.nn.DropPath(0.3).eval()(x), x)
    draws = torch.stack([RF.drop_path(x, 0.3, generator=seeded(s)) for s in range(2000)])
    sd = x.abs() / 0.7 * math.sqrt(0.3 * 0.7 / 2000)
    assert torch.all((draws.mean(0) - x).abs() <= 5 * sd)


def test_drop_path_gradcheck() -> None:
    x = torch.randn(6, 3, dtype=torch.float64, generator=seeded(0), requires_grad=True)
    for mode in ("row", "batch"):
        assert torch.autograd.gradcheck(
            lambda t, mode=mode: RF.drop_path(t, 0.5, mode=mode, generator=seeded(1)), (x,)
        )


# ---------------------------------------------------------------- DropBlock2d


def test_drop_block_gamma_matches_paper_formula() -> None:
    for p, b, h, w in [(0.1, 3, 8, 8), (0.25, 5, 17, 9), (0.1, 1, 4, 4)]:
        assert RF.drop_block2d_gamma(p, b, h, w) == pytest.approx(ref.drop_block_gamma(p, b, h, w))


@pytest.mark.parametrize("b", [1, 2, 3, 4])
def test_block_mask_from_seeds_matches_oracle(b: int) -> None:
    from reglab.functional.dropout import _block_mask_from_seeds

    h, w = 9, 7
    seeds = (torch.rand(1, 1, h - b + 1, w - b + 1, generator=seeded(b)) < 0.1).double()
    got = _block_mask_from_seeds(seeds, b)[0, 0].numpy()
    np.testing.assert_array_equal(got, ref.drop_block_mask(seeds[0, 0].numpy(), b))


def test_drop_block_drops_whole_blocks_and_renormalises() -> None:
    b = 3
    x = torch.ones(4, 8, 12, 12)
    y = RF.drop_block2d(x, 0.2, b, generator=seeded(0))
    zero = (y == 0).double()
    assert zero.sum() > 0
    # every dropped unit lies in some b x b square of dropped units: the squares' union is zero
    corners = nn.functional.avg_pool2d(zero, b, stride=1) == 1
    for n in range(zero.shape[0]):
        for c in range(zero.shape[1]):
            union = ref.drop_block_mask(corners[n, c].numpy(), b)
            np.testing.assert_array_equal(union, zero[n, c].numpy())
    # kept units share one scale: count(M) / count_ones(M)
    kept = y[y != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, y.numel() / kept.numel()))
    torch.testing.assert_close(y.sum(), torch.tensor(float(y.numel())))


def test_drop_block_dropped_fraction_matches_expectation() -> None:
    p, b, h, w = 0.15, 4, 16, 16
    y = RF.drop_block2d(torch.ones(64, 32, h, w), p, b, generator=seeded(5))
    dropped = (y == 0).double().mean().item()
    expected = ref.drop_block_expected_fraction(p, b, h, w)
    # 2048 maps; each map's fraction has sd < 0.1, so the mean's sd < 0.0025
    assert abs(dropped - expected) < 0.01


def test_drop_block_large_block_and_eval_and_gradcheck() -> None:
    y = RF.drop_block2d(torch.ones(64, 1, 3, 3), 0.5, 7, generator=seeded(0))
    per_map = y.flatten(1)
    assert torch.all((per_map == per_map[:, :1]).all(1))  # whole map kept or dropped
    x = torch.randn(2, 3, 6, 6, generator=seeded(1))
    assert torch.equal(rl.nn.DropBlock2d(0.2, 3).eval()(x), x)
    xd = torch.randn(1, 2, 4, 4, dtype=torch.float64, generator=seeded(2), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t: RF.drop_block2d(t, 0.3, 2, generator=seeded(3)), (xd,)
    )


# ---------------------------------------------------------------- DropConnect


@pytest.mark.parametrize(
    "make",
    [lambda: nn.Linear(5, 3), lambda: nn.Conv2d(2, 4, 3, padding=1), lambda: nn.Conv1d(2, 3, 2)],
    ids=["Linear", "Conv2d", "Conv1d"],
)
def test_drop_connect_uses_dropped_weights(make) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    inner = make().double()
    layer = rl.nn.DropConnect(inner, 0.4, generator=seeded(7))
    shape = (4, 5) if isinstance(inner, nn.Linear) else (2, 2, 6, 6)[: inner.weight.dim()]
    x = torch.randn(*shape, dtype=torch.float64, generator=seeded(1))
    keep = RF.keep_mask(tuple(inner.weight.shape), 0.4, generator=seeded(7))
    y = layer(x)
    dropped_weight = inner.weight * keep / 0.6
    expected = torch.func.functional_call(inner, {"weight": dropped_weight}, (x,))
    torch.testing.assert_close(y, expected)
    y.sum().backward()
    assert torch.all(inner.weight.grad[~keep] == 0)
    assert inner.bias.grad is not None and torch.any(inner.bias.grad != 0)
    layer.eval()
    torch.testing.assert_close(layer(x), inner(x), rtol=0, atol=0)


def test_drop_connect_state_dict_is_the_wrapped_layers() -> None:
    lin = nn.Linear(4, 3)
    net = nn.Sequential(rl.nn.DropConnect(lin, 0.3), nn.ReLU(), nn.Linear(3, 2))
    keys = list(net.state_dict())
    assert keys == ["0.weight", "0.bias", "2.weight", "2.bias"]
    plain = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    plain.load_state_dict(net.state_dict())  # strict: the keys match exactly
    torch.testing.assert_close(plain[0].weight, lin.weight)
    fresh = nn.Sequential(rl.nn.DropConnect(nn.Linear(4, 3), 0.3), nn.ReLU(), nn.Linear(3, 2))
    fresh.load_state_dict(plain.state_dict())
    torch.testing.assert_close(fresh[0].module.weight, lin.weight)
    # parameters remain reachable through the wrapper for optimizers
    assert [n for n, _ in net.named_parameters()][:2] == ["0.module.weight", "0.module.bias"]


def test_drop_connect_functional_gradcheck() -> None:
    lin = nn.Linear(4, 3).double()
    x = torch.randn(5, 4, dtype=torch.float64, generator=seeded(0), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t, w: RF.drop_connect(t, lin, 0.5, generator=seeded(1)), (x, lin.weight)
    )


# ---------------------------------------------------------------- Gaussian dropout and noise


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_gaussian_dropout_mean_and_variance(p: float) -> None:
    n = 1 << 20
    x = torch.full((n,), 2.0, dtype=torch.float64)
    y = RF.gaussian_dropout(x, p, generator=seeded(0))
    mean, var = ref.gaussian_dropout_moments(np.array([2.0]), p)
    # 5-sigma bounds: sd(mean) = sqrt(var / n), sd(sample var) = var * sqrt(2 / n) (Gaussian)
    assert abs(y.mean().item() - mean[0]) < 5 * math.sqrt(var[0] / n)
    assert abs(y.var().item() - var[0]) < 5 * var[0] * math.sqrt(2 / n)


def test_gaussian_noise_statistics_and_eval() -> None:
    n = 1 << 20
    y = RF.gaussian_noise(torch.ones(n, dtype=torch.float64), 0.3, generator=seeded(0))
    assert abs(y.mean().item() - 1.0) < 5 * 0.3 / math.sqrt(n)
    assert abs(y.std().item() - 0.3) < 5 * 0.3 / math.sqrt(2 * n)
    x = torch.randn(3, 3)
    assert torch.equal(rl.nn.GaussianNoise(0.3).eval()(x), x)
    assert torch.equal(rl.nn.GaussianDropout(0.3).eval()(x), x)


def test_gaussian_gradcheck() -> None:
    x = torch.randn(4, 5, dtype=torch.float64, generator=seeded(0), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t: RF.gaussian_dropout(t, 0.3, generator=seeded(1)), (x,)
    )
    assert torch.autograd.gradcheck(lambda t: RF.gaussian_noise(t, 0.3, generator=seeded(1)), (x,))


# ---------------------------------------------------------------- AlphaDropout


def test_alpha_dropout_coefficients_match_paper() -> None:
    for p in (0.05, 0.2, 0.5):
        assert RF.alpha_dropout_coefficients(p) == pytest.approx(ref.alpha_dropout_coefficients(p))


def test_alpha_dropout_matches_oracle_and_gradcheck() -> None:
    x = torch.randn(40, 30, dtype=torch.float64, generator=seeded(0), requires_grad=True)
    keep = RF.keep_mask((40, 30), 0.2, generator=seeded(1)).numpy()
    y = RF.alpha_dropout(x, 0.2, generator=seeded(1))
    np.testing.assert_allclose(
        y.detach().numpy(), ref.alpha_dropout_forward(x.detach().numpy(), keep, 0.2), rtol=1e-12
    )
    xs = x[:4, :5].detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: RF.alpha_dropout(t, 0.2, generator=seeded(1)), (xs,))


def test_alpha_dropout_parity_with_torch_in_distribution() -> None:
    n, p = 1 << 18, 0.2
    x = torch.randn(n, dtype=torch.float64, generator=seeded(0))
    ours = RF.alpha_dropout(x, p, generator=seeded(1))
    torch.manual_seed(1)
    theirs = nn.functional.alpha_dropout(x, p, training=True)
    a, b = ref.alpha_dropout_coefficients(p)
    dropped_value = a * ref.SELU_ALPHA_PRIME + b
    for y in (ours, theirs):
        is_dropped = torch.isclose(y, torch.tensor(dropped_value, dtype=y.dtype))
        kept = ~is_dropped
        # same affine map on kept units, same constant on dropped ones
        torch.testing.assert_close(y[kept], a * x[kept] + b)
        lo, hi = ref.binomial_interval(n, p)
        assert lo <= is_dropped.double().mean().item() <= hi
        # self-normalising: a standard normal input stays (0, 1) within 5 sigma
        assert abs(y.mean().item()) < 5 / math.sqrt(n)
        assert abs(y.var().item() - 1) < 5 * math.sqrt(3 / n)
    assert abs(ours.mean().item() - theirs.mean().item()) < 10 / math.sqrt(n)


def test_alpha_dropout_eval_and_inplace() -> None:
    x = torch.randn(5, 6, generator=seeded(0))
    torch.testing.assert_close(rl.nn.AlphaDropout(0.3).eval()(x), nn.AlphaDropout(0.3).eval()(x))
    expected = RF.alpha_dropout(x, 0.3, generator=seeded(2))
    out = RF.alpha_dropout(x, 0.3, inplace=True, generator=seeded(2))
    assert out.data_ptr() == x.data_ptr()
    torch.testing.assert_close(x, expected)


# ---------------------------------------------------------------- checklist for every module


def _msg(param: str, owner: str, constraint: str, value: str) -> str:
    return f"The '{param}' parameter of {owner} must be {constraint}. Got {value} instead."


P = "a float in [0, 1)"
CASES = [
    ModuleCase(
        "Dropout1d",
        lambda: rl.nn.Dropout1d(0.3),
        (4, 6, 5),
        stochastic=True,
        repr_contains=["p=0.3"],
        bad=[(lambda: rl.nn.Dropout1d(-1), _msg("p", "Dropout1d", P, "-1"))],
    ),
    ModuleCase(
        "Dropout2d",
        lambda: rl.nn.Dropout2d(0.3, scaling="classic"),
        (4, 6, 3, 3),
        stochastic=True,
        repr_contains=["scaling='classic'"],
        bad=[
            (
                lambda: rl.nn.Dropout2d(0.3, scaling="torch"),
                _msg("scaling", "Dropout2d", "one of 'inverted', 'classic'", "'torch'"),
            )
        ],
    ),
    ModuleCase(
        "Dropout3d",
        lambda: rl.nn.Dropout3d(0.3),
        (4, 6, 2, 2, 2),
        stochastic=True,
        repr_contains=["p=0.3"],
        bad=[(lambda: rl.nn.Dropout3d(1.0), _msg("p", "Dropout3d", P, "1.0"))],
    ),
    ModuleCase(
        "DropPath",
        lambda: rl.nn.DropPath(0.3),
        (16, 5),
        stochastic=True,
        repr_contains=["p=0.3", "mode='row'", "scale_by_keep=True"],
        bad=[
            (
                lambda: rl.nn.DropPath(0.3, mode="sample"),
                _msg("mode", "DropPath", "one of 'row', 'batch'", "'sample'"),
            ),
            (
                lambda: rl.nn.DropPath(0.3, scale_by_keep=None),
                _msg("scale_by_keep", "DropPath", "a bool", "None"),
            ),
        ],
    ),
    ModuleCase(
        "DropBlock2d",
        lambda: rl.nn.DropBlock2d(0.3, 3),
        (2, 4, 8, 8),
        stochastic=True,
        repr_contains=["p=0.3", "block_size=3"],
        bad=[
            (
                lambda: rl.nn.DropBlock2d(0.3, 0),
                _msg("block_size", "DropBlock2d", "an int in [1, inf)", "0"),
            ),
            (
                lambda: rl.nn.DropBlock2d(0.3, 2.5),
                _msg("block_size", "DropBlock2d", "an int in [1, inf)", "2.5"),
            ),
        ],
    ),
    ModuleCase(
        "DropConnect",
        lambda: rl.nn.DropConnect(nn.Linear(5, 4), 0.3),
        (3, 5),
        stochastic=True,
        repr_contains=["p=0.3", "Linear(in_features=5"],
        bad=[
            (
                lambda: rl.nn.DropConnect(nn.ReLU(), 0.3),
                _msg(
                    "module",
                    "DropConnect",
                    "a torch.nn.Linear or a torch convolution module (Conv1d/2d/3d, ConvTranspose1d/2d/3d)",
                    "ReLU()",
                ),
            )
        ],
    ),
    ModuleCase(
        "GaussianDropout",
        lambda: rl.nn.GaussianDropout(0.3),
        (4, 5),
        stochastic=True,
        repr_contains=["p=0.3"],
        bad=[(lambda: rl.nn.GaussianDropout(float("nan")), _msg("p", "GaussianDropout", P, "nan"))],
    ),
    ModuleCase(
        "GaussianNoise",
        lambda: rl.nn.GaussianNoise(0.2),
        (4, 5),
        stochastic=True,
        repr_contains=["std=0.2"],
        bad=[
            (
                lambda: rl.nn.GaussianNoise(-0.1),
                _msg("std", "GaussianNoise", "a float in [0, inf)", "-0.1"),
            )
        ],
    ),
    ModuleCase(
        "AlphaDropout",
        lambda: rl.nn.AlphaDropout(0.3),
        (4, 5),
        stochastic=True,
        repr_contains=["p=0.3", "inplace=False"],
        bad=[
            (
                lambda: rl.nn.AlphaDropout(0.3, inplace="no"),
                _msg("inplace", "AlphaDropout", "a bool", "'no'"),
            )
        ],
    ),
]


@pytest.mark.parametrize(("case", "check"), checklist(CASES))
def test_checklist(case: ModuleCase, check: Check) -> None:
    check(case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_module_is_marked_as_dropout_family(case: ModuleCase) -> None:
    module = case.make()
    assert type(module)._reglab_dropout is True
    assert rl.nn.is_dropout(module)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES[:6], ids=lambda c: c.name)
def test_training_mode_under_torch_compile_does_not_crash(case: ModuleCase) -> None:
    module = torch.compile(case.make().train(), backend="aot_eager")
    x = torch.randn(*case.input_shape, requires_grad=True)
    y = module(x)
    assert y.shape[0] == x.shape[0]
    y.sum().backward()
    assert x.grad is not None


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: rl.nn.Dropout1d(0.5)(torch.ones(2, 3, 4, 5)),
            "Dropout1d expects 'input' of shape (N, C, L) or (C, L). Got shape (2, 3, 4, 5) instead.",
        ),
        (
            lambda: rl.nn.Dropout2d(0.5)(torch.ones(2, 3)),
            "Dropout2d expects 'input' of shape (N, C, H, W) or (N, C, L). Got shape (2, 3) instead.",
        ),
        (
            lambda: RF.dropout3d(torch.ones(2, 3, 4), 0.5),
            "dropout3d expects 'input' of shape (N, C, D, H, W) or (C, D, H, W). Got shape (2, 3, 4) instead.",
        ),
        (
            lambda: rl.nn.DropBlock2d(0.1, 3)(torch.ones(3, 8, 8)),
            "DropBlock2d expects 'input' of shape (N, C, H, W). Got shape (3, 8, 8) instead.",
        ),
        (
            lambda: RF.drop_block2d(torch.ones(1, 1, 8, 8), 0.1, 0),
            "The 'block_size' parameter of drop_block2d must be an int in [1, inf). Got 0 instead.",
        ),
        (
            lambda: rl.nn.GaussianNoise(0.1)(torch.ones(3, dtype=torch.int32)),
            "GaussianNoise expects a floating-point tensor as 'input'. Got dtype torch.int32 instead.",
        ),
        (
            lambda: RF.drop_path(torch.ones(2), 0.5, mode="all"),
            "The 'mode' parameter of drop_path must be one of 'row', 'batch'. Got 'all' instead.",
        ),
        (
            lambda: RF.alpha_dropout(torch.ones(2), 2.0),
            "The 'p' parameter of alpha_dropout must be a float in [0, 1). Got 2.0 instead.",
        ),
        (
            lambda: RF.gaussian_dropout(torch.ones(2), 1.0),
            "The 'p' parameter of gaussian_dropout must be a float in [0, 1). Got 1.0 instead.",
        ),
        (
            lambda: RF.drop_connect(torch.ones(2, 2), nn.Linear(2, 2), p=-0.5),
            "The 'p' parameter of drop_connect must be a float in [0, 1). Got -0.5 instead.",
        ),
    ],
)
def test_error_messages(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        call()
    assert str(info.value) == message
