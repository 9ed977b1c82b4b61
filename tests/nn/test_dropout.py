"""Plain dropout: both conventions against the seed formulas, statistics, gradients, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import reglab as rl
from reglab import ConfigError
from reglab.functional import dropout, keep_mask
from tests.checklist import Check, ModuleCase, checklist
from tests.helpers import seeded
from tests.reference import dropout_oracle as ref


def recovered_keep(shape: tuple[int, ...], p: float, seed: int) -> np.ndarray:
    """The keep mask a seeded call draws, read back from dropout(ones)."""
    return (dropout(torch.ones(shape, dtype=torch.float64), p, generator=seeded(seed)) != 0).numpy()


# ---------------------------------------------------------------- reference (seed formulas)


@pytest.mark.parametrize("scaling", ["inverted", "classic"])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_forward_and_backward_match_oracle(scaling: str, p: float) -> None:
    x = torch.randn(32, 50, dtype=torch.float64, generator=seeded(1), requires_grad=True)
    g = torch.randn(32, 50, dtype=torch.float64, generator=seeded(2))
    keep = recovered_keep((32, 50), p, seed=7)
    y = dropout(x, p, scaling=scaling, generator=seeded(7))
    y.backward(g)
    np.testing.assert_allclose(
        y.detach().numpy(),
        ref.dropout_forward(x.detach().numpy(), keep, p, scaling, True),
        rtol=1e-15,
    )
    np.testing.assert_allclose(
        x.grad.numpy(), ref.dropout_backward(g.numpy(), keep, p, scaling), rtol=1e-15
    )


@pytest.mark.parametrize("scaling", ["inverted", "classic"])
def test_inference_rule_matches_oracle(scaling: str) -> None:
    x = torch.randn(5, 7, dtype=torch.float64, generator=seeded(0))
    y = dropout(x, 0.3, training=False, scaling=scaling)
    np.testing.assert_allclose(
        y.numpy(), ref.dropout_forward(x.numpy(), None, 0.3, scaling, False), rtol=1e-15
    )


def test_float32_matches_torch_formula_for_the_same_mask() -> None:
    # torch's rule x * m / (1 - p), evaluated in float32 exactly as torch evaluates it.
    x = torch.randn(64, 33, generator=seeded(3))
    keep = torch.from_numpy(recovered_keep((64, 33), 0.3, seed=5))
    y = dropout(x, 0.3, generator=seeded(5))
    torch.testing.assert_close(y, x * keep.float() * (1.0 / (1.0 - 0.3)), rtol=1e-6, atol=0)


@pytest.mark.parametrize("scaling", ["inverted", "classic"])
def test_gradient_flows_only_through_kept_units(scaling: str) -> None:
    x = torch.randn(200, 100, generator=seeded(0), requires_grad=True)
    y = dropout(x, 0.4, scaling=scaling, generator=seeded(9))
    y.sum().backward()
    kept = y.detach() != 0
    scale = 1 / 0.6 if scaling == "inverted" else 1.0
    assert torch.all(x.grad[~kept] == 0)
    torch.testing.assert_close(x.grad[kept], torch.full_like(x.grad[kept], scale))


# ---------------------------------------------------------------- both conventions


@pytest.mark.parametrize("scaling", ["inverted", "classic"])
def test_expected_training_activation_equals_inference_output(scaling: str) -> None:
    # E[train(x)] = x (inverted) or (1 - p) x (classic): exactly the inference output.
    p, n = 0.3, 40_000
    x = torch.linspace(-2, 2, 16, dtype=torch.float64)
    draws = dropout(x.expand(n, 16), p, scaling=scaling, generator=seeded(11))
    expected = dropout(x, p, training=False, scaling=scaling)
    scale = 1 / (1 - p) if scaling == "inverted" else 1.0
    sd = x.abs() * scale * math.sqrt(p * (1 - p) / n)  # std of the mean over n draws
    assert torch.all((draws.mean(0) - expected).abs() <= 5 * sd + 1e-12)


def _train(scaling: str, lr: float = 0.05, p: float = 0.4) -> nn.Sequential:
    """Train Linear-Tanh-Dropout-Linear with SGD on a fixed regression task and fixed masks.

    For the classic net the weights after the dropout start at W / (1 - p) and take steps with
    lr / (1 - p)**2: their gradients are (1 - p) times smaller, so both nets compute the same
    training function at every step.
    """
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(6, 16),
        nn.Tanh(),
        rl.nn.Dropout(p, scaling=scaling, generator=seeded(3)),
        nn.Linear(16, 1),
    ).double()
    factor = 1.0 / (1.0 - p) if scaling == "classic" else 1.0
    with torch.no_grad():
        net[3].weight.mul_(factor)
    data = torch.randn(64, 6, dtype=torch.float64, generator=seeded(4))
    target = data[:, :1] * 2 - data[:, 1:2]
    opt = torch.optim.SGD(
        [
            {"params": [*net[0].parameters(), net[3].bias]},
            {"params": [net[3].weight], "lr": lr * factor**2},
        ],
        lr=lr,
    )
    for _ in range(50):
        opt.zero_grad()
        nn.functional.mse_loss(net(data), target).backward()
        opt.step()
    return net.eval()


def test_trained_networks_agree_at_inference_across_conventions() -> None:
    inverted, classic = _train("inverted"), _train("classic")
    x = torch.randn(20, 6, dtype=torch.float64, generator=seeded(8))
    torch.testing.assert_close(classic(x), inverted(x), rtol=1e-9, atol=1e-9)
    # the trained weights differ by exactly the rescaling, and training moved them
    torch.testing.assert_close(classic[3].weight * 0.6, inverted[3].weight, rtol=1e-9, atol=1e-12)
    untrained = _train("inverted", lr=0.0)
    assert not torch.allclose(untrained[3].weight, inverted[3].weight, atol=1e-3)


# ---------------------------------------------------------------- statistics and the sampler


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("seed", [0, 1])
def test_drop_rate_inside_binomial_999_interval(p: float, seed: int) -> None:
    n = 1 << 20
    y = dropout(torch.ones(n), p, generator=seeded(seed))
    lo, hi = ref.binomial_interval(n, p)
    assert lo <= (y == 0).double().mean().item() <= hi


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_drop_rate_of_small_masks_inside_binomial_999_interval(p: float) -> None:
    # Masks of at most 8192 elements come from torch's generator directly (no numpy seeding).
    g = seeded(3)
    masks = torch.stack([keep_mask((64, 128), p, generator=g) for _ in range(64)])
    lo, hi = ref.binomial_interval(masks.numel(), p)
    assert lo <= 1 - masks.double().mean().item() <= hi
    assert not torch.equal(masks[0], masks[1])


def test_each_16_bit_lane_of_a_random_word_is_a_fair_draw() -> None:
    # A word with a constant top bit (torch's default random_ range on int64 stops at 2**63 - 1)
    # would keep every 4th draw at p=0.5.
    n = 1 << 20
    dropped = ~keep_mask((n // 4, 4), 0.5, generator=seeded(2))
    lo, hi = ref.binomial_interval(n // 4, 0.5)
    for lane in range(4):
        assert lo <= dropped[:, lane].double().mean().item() <= hi


@pytest.mark.parametrize("k", [1, 65535])
def test_quantisation_of_p_resolves_2_to_minus_16(k: int) -> None:
    # p = k / 2**16 must be realised as such: a coarser sampler would give 0 or 2**-15.
    n, p = 1 << 22, k / 65536
    dropped = (~keep_mask((n,), p, generator=seeded(4))).double().mean().item()
    lo, hi = ref.binomial_interval(n, p)
    assert lo <= dropped <= hi


def test_same_seed_same_mask_and_different_seeds_differ() -> None:
    x = torch.randn(64, 64)
    a = dropout(x, 0.5, generator=seeded(5))
    b = dropout(x, 0.5, generator=seeded(5))
    c = dropout(x, 0.5, generator=seeded(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_mask_does_not_depend_on_the_number_of_threads() -> None:
    # Large masks are drawn in fixed, independently seeded chunks by several threads.
    threads = torch.get_num_threads()
    masks = []
    try:
        for t in (1, 2, 3):
            torch.set_num_threads(t)
            masks.append(keep_mask((3, 1 << 19), 0.3, generator=seeded(8)))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(masks[0], masks[1]) and torch.equal(masks[0], masks[2])
    lo, hi = ref.binomial_interval(masks[0].numel(), 0.3)
    assert lo <= 1 - masks[0].double().mean().item() <= hi


def test_global_generator_is_used_without_generator() -> None:
    torch.manual_seed(3)
    a = dropout(torch.ones(1000), 0.5)
    torch.manual_seed(3)
    b = dropout(torch.ones(1000), 0.5)
    assert torch.equal(a, b)


def test_saved_mask_takes_at_most_one_byte_per_element() -> None:
    saved: list[torch.Tensor] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(t)
        return t

    x = torch.randn(128, 256, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = dropout(x, 0.5)
    assert sum(t.numel() * t.element_size() for t in saved) <= x.numel()
    y.sum().backward()  # the saved mask is enough for the backward pass


# ---------------------------------------------------------------- gradcheck, inplace, edges


@pytest.mark.parametrize("scaling", ["inverted", "classic"])
@pytest.mark.parametrize("inplace", [False, True])
def test_gradcheck_float64(scaling: str, inplace: bool) -> None:
    x = torch.randn(6, 9, dtype=torch.float64, generator=seeded(0), requires_grad=True)
    fn = lambda t: dropout(t.clone(), 0.35, scaling=scaling, inplace=inplace, generator=seeded(1))  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


def test_torch_func_grad_matches_autograd() -> None:
    x = torch.randn(7, 5, dtype=torch.float64, generator=seeded(0))
    via_func = torch.func.grad(lambda t: dropout(t, 0.3, generator=seeded(1)).pow(2).sum())(x)
    leaf = x.clone().requires_grad_(True)
    dropout(leaf, 0.3, generator=seeded(1)).pow(2).sum().backward()
    torch.testing.assert_close(via_func, leaf.grad, rtol=0, atol=0)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("scaling", ["inverted", "classic"])
def test_inplace_writes_into_input(training: bool, scaling: str) -> None:
    x = torch.randn(10, 10, generator=seeded(0))
    expected = dropout(x, 0.3, training, scaling, generator=seeded(2))
    z = x.clone()
    out = dropout(z, 0.3, training, scaling, inplace=True, generator=seeded(2))
    assert out.data_ptr() == z.data_ptr()
    torch.testing.assert_close(z, expected, rtol=0, atol=0)


def test_p_zero_and_empty_input_are_identity() -> None:
    x = torch.randn(3, 4)
    assert torch.equal(dropout(x, 0.0), x)
    assert dropout(torch.empty(0, 5), 0.5).shape == (0, 5)


def test_non_contiguous_and_half_inputs() -> None:
    x = torch.randn(20, 30, generator=seeded(0)).t()
    y = dropout(x, 0.5, generator=seeded(1))
    assert y.shape == x.shape
    assert torch.all((y == 0) | torch.isclose(y, 2 * x))
    h = dropout(torch.ones(100, dtype=torch.bfloat16), 0.5, generator=seeded(1))
    assert h.dtype == torch.bfloat16
    assert set(h.unique().tolist()) <= {0.0, 2.0}


def test_non_cpu_tensors_use_torchs_fused_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    # The meta device stands in for CUDA: any non-CPU device without a generator goes to F.dropout.
    calls: list[tuple[float, bool]] = []
    real = torch.nn.functional.dropout

    def spy(x: torch.Tensor, p: float, training: bool, inplace: bool) -> torch.Tensor:
        calls.append((p, training))
        return real(x, p, training, inplace)

    monkeypatch.setattr(torch.nn.functional, "dropout", spy)
    y = dropout(torch.ones(8, 8, device="meta"), 0.25)
    assert y.device.type == "meta"
    assert calls == [(0.25, True)]
    dropout(torch.ones(8, device="meta"), 0.25, scaling="classic")
    assert len(calls) == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_the_rule() -> None:
    x = torch.randn(256, 256, device="cuda")
    y = dropout(x, 0.5)
    assert torch.all((y == 0) | torch.isclose(y, 2 * x))
    g = torch.Generator(device="cuda").manual_seed(0)
    a = dropout(x, 0.5, generator=g)
    g.manual_seed(0)
    assert torch.equal(a, dropout(x, 0.5, generator=g))


@pytest.mark.slow
def test_training_mode_under_torch_compile_runs_and_is_dropout() -> None:
    layer = torch.compile(rl.nn.Dropout(0.5), backend="aot_eager")
    x = torch.randn(16, 32, requires_grad=True)
    y = layer(x)
    assert torch.all((y == 0) | torch.isclose(y, 2 * x))
    y.sum().backward()
    torch.testing.assert_close(x.grad, (y != 0).float() * 2)


# ---------------------------------------------------------------- module and errors


CASES = [
    ModuleCase(
        "Dropout",
        lambda: rl.nn.Dropout(0.3),
        (4, 8),
        stochastic=True,
        repr_contains=["p=0.3", "scaling='inverted'", "inplace=False"],
        bad=[
            (
                lambda: rl.nn.Dropout(1.5),
                "The 'p' parameter of Dropout must be a float in [0, 1). Got 1.5 instead.",
            ),
            (
                lambda: rl.nn.Dropout(0.5, scaling="keras"),
                "The 'scaling' parameter of Dropout must be one of 'inverted', 'classic'. "
                "Got 'keras' instead.",
            ),
            (
                lambda: rl.nn.Dropout(0.5, inplace=1),
                "The 'inplace' parameter of Dropout must be a bool. Got 1 instead.",
            ),
        ],
    ),
    ModuleCase(
        "Dropout[classic]",
        lambda: rl.nn.Dropout(0.3, scaling="classic"),
        (4, 8),
        stochastic=True,
        repr_contains=["scaling='classic'"],
    ),
]


@pytest.mark.parametrize(("case", "check"), checklist(CASES))
def test_checklist(case: ModuleCase, check: Check) -> None:
    check(case)


def test_module_matches_function_and_is_marked_as_dropout() -> None:
    layer = rl.nn.Dropout(0.3, generator=seeded(4))
    x = torch.randn(5, 6)
    torch.testing.assert_close(layer(x), dropout(x, 0.3, generator=seeded(4)), rtol=0, atol=0)
    assert rl.nn.Dropout._reglab_dropout is True
    assert rl.nn.is_dropout(layer)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: dropout(torch.ones(2), -0.1),
            "The 'p' parameter of dropout must be a float in [0, 1). Got -0.1 instead.",
        ),
        (
            lambda: dropout(torch.ones(2), 1),
            "The 'p' parameter of dropout must be a float in [0, 1). Got 1 instead.",
        ),
        (
            lambda: dropout(torch.ones(2), 0.5, scaling="Inverted"),
            "The 'scaling' parameter of dropout must be one of 'inverted', 'classic'. "
            "Got 'Inverted' instead. Did you mean 'inverted'?",
        ),
        (
            lambda: dropout(torch.ones(2, dtype=torch.int64), 0.5),
            "dropout expects a floating-point tensor as 'input'. Got dtype torch.int64 instead.",
        ),
        (
            lambda: rl.nn.Dropout(0.5)(torch.ones(2, dtype=torch.bool)),
            "Dropout expects a floating-point tensor as 'input'. Got dtype torch.bool instead.",
        ),
        (
            lambda: dropout(torch.ones(2), 0.5, generator=0),
            "The 'generator' parameter of dropout must be a torch.Generator or None. "
            "Got 0 instead.",
        ),
    ],
)
def test_error_messages(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        call()
    assert str(info.value) == message
