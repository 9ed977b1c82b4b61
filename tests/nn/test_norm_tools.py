"""The batch-norm safety kit: recalibrate_batchnorm, freeze_batchnorm, find_dropout_before_batchnorm."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from reglab import ConfigError
from reglab.nn import (
    BatchNorm,
    RenormClipping,
    find_dropout_before_batchnorm,
    freeze_batchnorm,
    recalibrate_batchnorm,
)


def _batches(n: int, size: int = 16, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(size, 4, generator=g) * (1 + i) + i for i in range(n)]


def _net(**bn_kw: object) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 6), nn.Dropout(0.5), BatchNorm(6, **bn_kw), nn.ReLU(), nn.BatchNorm1d(6)
    )


# ----------------------------------------------------------------------------- recalibrate


def test_recalibrate_gives_equal_weight_averages_with_dropout_off():
    net = _net()
    for x in _batches(3, seed=9):  # training moves the statistics somewhere else
        net(x)
    net[4].eval()  # a mixed set of modes must come back as it was
    batches = _batches(5)
    used = recalibrate_batchnorm(net, [(x, torch.zeros(16)) for x in batches])
    assert used == 5
    with torch.no_grad():
        feats = [net[0](x).double().numpy() for x in batches]  # dropout off: identity
    means = np.stack([f.mean(0) for f in feats]).mean(0)
    variances = np.stack([f.var(0, ddof=1) for f in feats]).mean(0)
    np.testing.assert_allclose(net[2].running_mean.numpy(), means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net[2].running_var.numpy(), variances, rtol=1e-5, atol=1e-6)
    assert int(net[2].num_batches_tracked) == 5 and int(net[4].num_batches_tracked) == 5
    assert net[2].momentum == 0.1 and net[4].momentum == 0.1
    assert net.training and net[1].training and net[2].training and not net[4].training


def test_recalibrate_num_batches_and_plain_tensors():
    net = _net()
    assert recalibrate_batchnorm(net, iter(_batches(6)), num_batches=2) == 2
    with torch.no_grad():
        feats = [net[0](x) for x in _batches(2)]
    expected = torch.stack([f.mean(0) for f in feats]).mean(0)
    torch.testing.assert_close(net[2].running_mean, expected)


def test_recalibrate_restores_everything_on_failure():
    net = _net()
    net(_batches(1)[0])
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(ConfigError) as info:
        recalibrate_batchnorm(net, [])
    assert str(info.value) == (
        "The 'batches' parameter of recalibrate_batchnorm must be a non-empty iterable of "
        "batches. Got [] instead."
    )
    bad = [_batches(1)[0], torch.randn(3, 5)]  # second batch has the wrong width
    with pytest.raises(RuntimeError):
        recalibrate_batchnorm(net, bad)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(m.training for m in net.modules())
    with pytest.raises(ConfigError) as info:
        recalibrate_batchnorm(net, [{"x": 1}])
    assert str(info.value) == (
        "recalibrate_batchnorm expects each batch to be a tensor or an (x, y) tuple. "
        "Got dict instead."
    )


def test_recalibrate_keeps_renorm_statistics_consistent_and_ignores_bn_free_models():
    net = _net(renorm=RenormClipping(2.0, 1.0), eps=1e-3)
    recalibrate_batchnorm(net, _batches(4))
    bn = net[2]
    torch.testing.assert_close(bn.running_std, torch.sqrt(bn.running_var + 1e-3))
    torch.testing.assert_close(bn.renorm_std, bn.running_std)
    assert bn.renorm == RenormClipping(2.0, 1.0)
    assert recalibrate_batchnorm(nn.Linear(4, 2), _batches(2)) == 0


# ----------------------------------------------------------------------------- freeze


def test_freeze_survives_model_train_and_unfreezes():
    net = _net()
    net(_batches(1)[0])
    stats = {k: v.clone() for k, v in net.state_dict().items() if "running" in k}
    frozen = freeze_batchnorm(net)
    assert frozen.names == ["2", "4"]
    net.train()
    x = _batches(1, seed=3)[0]
    net[1].eval()  # compare without dropout noise
    y = net(x)
    for k, v in stats.items():
        assert torch.equal(net.state_dict()[k], v), k
    assert not net[2].training and not net[4].weight.requires_grad
    ref = nn.Sequential(*[m for m in net]).eval()
    assert torch.equal(y, ref(x))
    y.sum().backward()
    assert net[2].weight.grad is None and net[0].weight.grad is not None
    frozen.unfreeze()
    net.train()
    assert net[2].training and net[2].weight.requires_grad
    net(x)
    assert not torch.equal(net[2].running_mean, stats["2.running_mean"])


def test_freeze_as_context_manager():
    net = _net()
    with freeze_batchnorm(net) as frozen:
        assert repr(frozen) == "BatchNormFreeze(names=['2', '4'])"
        assert not net[4].training
    assert net[4].training and net[4].bias.requires_grad


# ----------------------------------------------------------------------------- dropout -> BN


class _Branches(nn.Module):
    """Dropout runs before the BN but feeds only the other branch."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(4, 4)
        self.bn = nn.BatchNorm1d(4)
        self.fed = nn.Sequential(nn.Dropout(0.2), nn.Linear(4, 4), nn.ReLU())
        self.bn2 = BatchNorm(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.head(self.drop(x))
        b = self.bn(x)
        return a + self.bn2(self.fed(b)) + self.bn2(b)


class _ReglabStyleDrop(nn.Module):
    _reglab_dropout = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_find_by_sequential_order():
    net = nn.Sequential(
        nn.Linear(4, 8),
        nn.Dropout(0.5),
        nn.Linear(8, 8),
        nn.ReLU(),
        nn.Sequential(BatchNorm(8), _ReglabStyleDrop()),
        nn.BatchNorm1d(8),
        nn.Dropout(0.1),
    )
    assert find_dropout_before_batchnorm(net) == [("1", "4.0"), ("4.1", "5")]
    assert find_dropout_before_batchnorm(nn.Sequential(nn.BatchNorm1d(3), nn.Dropout())) == []


def test_find_by_data_flow_sees_branches_and_leaves_model_untouched():
    net = _Branches()
    net.train()
    net.bn.eval()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(5, 4)
    rng = torch.get_rng_state()
    assert find_dropout_before_batchnorm(net, x) == [("fed.0", "bn2")]
    assert torch.equal(torch.get_rng_state(), rng)
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert net.training and not net.bn.training and net.drop.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
    assert not x.requires_grad


def test_find_by_data_flow_stops_at_the_first_batchnorm():
    net = nn.Sequential(
        nn.Dropout(0.5), BatchNorm(4), nn.Linear(4, 4), _ReglabStyleDrop(), nn.BatchNorm1d(4)
    )
    found = find_dropout_before_batchnorm(net, torch.randn(3, 4))
    assert found == [("0", "1"), ("3", "4")]


def test_find_bad_model_message():
    with pytest.raises(ConfigError) as info:
        find_dropout_before_batchnorm("net")  # type: ignore[arg-type]
    assert str(info.value) == (
        "The 'model' parameter of find_dropout_before_batchnorm must be a Module. "
        "Got 'net' instead."
    )
