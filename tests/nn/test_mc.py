"""mc_predict: dropout on, everything else in eval mode, modes restored, reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import reglab as rl
from reglab import ConfigError
from reglab.nn import mc_predict
from tests.helpers import seeded


def make_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(5, 16),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        rl.nn.Dropout(0.3),
        nn.Linear(16, 16),
        nn.Dropout(0.2),  # torch's own layer is switched on too
        nn.Linear(16, 2),
    )


def test_mean_and_std_equal_a_numpy_oracle_over_the_same_samples() -> None:
    net = make_net()
    x = torch.randn(7, 5, generator=seeded(1))
    with torch.no_grad():
        net.train()(torch.randn(64, 5, generator=seeded(2)))  # give BN non-trivial running stats
    mean, std = mc_predict(net, x, samples=20, generator=seeded(3))

    # Replay: the seed mc_predict draws first, then the same modes and random sources by hand.
    g = seeded(3)
    seed = int(torch.randint(0, 2**62, (1,), generator=g))
    net.eval()
    net[3].train()
    net[5].train()
    net[3].generator = g
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        samples = np.stack([net(x).numpy() for _ in range(20)]).astype(np.float64)
    net[3].generator = None
    np.testing.assert_allclose(mean.numpy(), samples.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(std.numpy(), samples.std(0), rtol=1e-4, atol=1e-6)
    assert np.all(samples.std(0) > 0)


def test_batchnorm_stays_in_eval_mode_and_modes_are_restored() -> None:
    net = make_net()
    net.train()
    net[1].eval()  # a mixed state must come back exactly
    before = {name: m.training for name, m in net.named_modules()}
    running = net[1].running_mean.clone()
    batches = net[1].num_batches_tracked.clone()
    mc_predict(net, torch.randn(4, 5), samples=5)
    assert {name: m.training for name, m in net.named_modules()} == before
    assert torch.equal(net[1].running_mean, running)  # BN never updated: it ran in eval mode
    assert torch.equal(net[1].num_batches_tracked, batches)


def test_linear_model_mean_converges_to_the_eval_output() -> None:
    # Dropout followed by a linear map: the expectation over masks is exactly the eval output.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 32), rl.nn.Dropout(0.5), nn.Linear(32, 1)).double()
    x = torch.randn(3, 4, dtype=torch.float64, generator=seeded(0))
    mean, std = mc_predict(net, x, samples=1000, generator=seeded(1))
    expected = net.eval()(x).detach()
    # 5 standard errors of the Monte Carlo mean
    assert torch.all((mean - expected).abs() <= 5 * std / 1000**0.5)


def test_same_generator_same_result_and_global_rng_untouched() -> None:
    net = make_net()
    x = torch.randn(3, 5, generator=seeded(0))
    state = torch.get_rng_state()
    a = mc_predict(net, x, samples=8, generator=seeded(4))
    assert torch.equal(torch.get_rng_state(), state)
    b = mc_predict(net, x, samples=8, generator=seeded(4))
    c = mc_predict(net, x, samples=8, generator=seeded(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    assert net[3].generator is None  # the layer's own source is given back


def test_modes_and_generators_restored_when_forward_raises() -> None:
    class Boom(nn.Module):
        calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            if self.calls == 3:
                raise RuntimeError("boom")
            return x

    mine = torch.Generator()
    net = nn.Sequential(nn.Linear(3, 3), rl.nn.Dropout(0.5, generator=mine), Boom())
    net.train()
    with pytest.raises(RuntimeError, match="boom"):
        mc_predict(net, torch.randn(2, 3), samples=5, generator=seeded(0))
    assert all(m.training for m in net.modules())
    assert net[1].generator is mine


def test_single_sample_has_zero_std_and_works_with_torch_dropout_only() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.5), nn.Linear(8, 2)).eval()
    mean, std = mc_predict(net, torch.randn(4, 3), samples=1, generator=seeded(0))
    assert mean.shape == std.shape == (4, 2)
    assert torch.equal(std, torch.zeros_like(std))
    assert net.training is False


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: mc_predict(nn.Sequential(nn.Linear(2, 2)), torch.ones(1, 2)),
            "mc_predict needs a dropout-family layer in 'model' (reglab.nn.Dropout, "
            "torch.nn.Dropout, ...). Got Sequential with none instead.",
        ),
        (
            lambda: mc_predict(rl.nn.Dropout(0.1), torch.ones(2), samples=0),
            "The 'samples' parameter of mc_predict must be an int in [1, inf). Got 0 instead.",
        ),
        (
            lambda: mc_predict("net.pt", torch.ones(2)),
            "The 'model' parameter of mc_predict must be a torch.nn.Module. Got 'net.pt' instead.",
        ),
    ],
)
def test_error_messages(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        call()
    assert str(info.value) == message
