"""EMA and SWA: parity with torch.optim.swa_utils, the warmup formula, swapping, state, fit, errors."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, update_bn

import reglab as rl
from reglab import ConfigError
from reglab.regularizer import WeightConstraint


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


def _data(n: int = 64, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()


def _steps(model: nn.Module, n: int, after) -> None:
    """n SGD steps on fixed data; after(model) after each."""
    x, y = _data()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for i in range(n):
        xb, yb = x[(i * 16) % 64 :][:16], y[(i * 16) % 64 :][:16]
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
        after(model)


def _floats(model: nn.Module) -> list[torch.Tensor]:
    return [t for t in [*model.parameters(), *model.buffers()] if t.is_floating_point()]


def test_ema_without_warmup_is_averaged_model_bit_for_bit_over_100_steps() -> None:
    model = _net()
    ema = rl.EMA(decay=0.95, warmup=False)
    ref = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.95), use_buffers=True)

    def both(m: nn.Module) -> None:
        ema.update(m)
        ref.update_parameters(m)

    _steps(model, 100, both)
    with ema.swapped(model) as swapped:
        assert swapped
        for mine, theirs in zip(_floats(model), _floats(ref.module)):
            assert torch.equal(mine, theirs)


def test_ema_warmup_follows_the_formula() -> None:
    ema = rl.EMA(decay=0.99)
    assert [ema.decay_at(t) for t in (1, 2, 100, 10_000)] == [
        2 / 11,
        3 / 12,
        min(0.99, 101 / 110),
        0.99,
    ]
    model = nn.Linear(1, 1, bias=False)
    seen = []
    for v in (1.0, 3.0, 7.0):
        with torch.no_grad():
            model.weight.fill_(v)
        seen.append(v)
        ema.update(model)
    expected = 1.0  # copy, then decay_1 = 2/11, decay_2 = 3/12
    expected = 2 / 11 * expected + 9 / 11 * 3.0
    expected = 3 / 12 * expected + 9 / 12 * 7.0
    assert ema.averaged["weight"].item() == pytest.approx(expected, rel=1e-6)


def test_nothing_is_swapped_before_the_first_update_and_weights_come_back_bitwise() -> None:
    model = _net()
    ema = rl.EMA(0.9)
    before = copy.deepcopy(model.state_dict())
    with ema.swapped(model) as swapped:
        assert not swapped
    _steps(model, 3, ema.update)
    training = copy.deepcopy(model.state_dict())
    with ema.swapped(model):
        assert not torch.equal(model[0].weight, training["0.weight"])
    for k, v in model.state_dict().items():
        assert torch.equal(v, training[k])
    assert not torch.equal(before["0.weight"], training["0.weight"])
    with pytest.raises(ConfigError, match="copy_to needs at least one update"):
        rl.EMA(0.9).copy_to(model)


def test_copy_to_and_state_dict_round_trip() -> None:
    model = _net()
    ema = rl.EMA(0.9)
    _steps(model, 5, ema.update)
    sd = ema.state_dict()
    other = rl.EMA(0.9)
    other.load_state_dict(sd)
    _steps(model, 5, lambda m: (ema.update(m), other.update(m)))
    a, b = _net(1), _net(2)
    ema.copy_to(a)
    other.copy_to(b)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(x, y)
    with pytest.raises(ConfigError, match=r"decay=0\.5"):
        rl.EMA(0.5).load_state_dict(sd)


def test_swa_is_averaged_model_plus_update_bn() -> None:
    model = _net()
    swa = rl.SWA(start=0)
    ref = AveragedModel(model)
    x, _ = _data()
    batches = [x[i : i + 16] for i in range(0, 64, 16)]
    for _ in range(6):  # six "epochs" of 4 steps, averaged at each end
        _steps(model, 4, lambda m: None)
        swa.update(model)
        ref.update_parameters(model)
    update_bn(batches, ref)
    with swa.swapped(model, batches=batches):
        for mine, theirs in zip(model.parameters(), ref.module.parameters()):
            assert torch.equal(mine, theirs)
        bn, ref_bn = model[1], ref.module[1]
        torch.testing.assert_close(bn.running_mean, ref_bn.running_mean, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(bn.running_var, ref_bn.running_var, rtol=1e-6, atol=1e-7)


def test_swa_over_batch_norm_needs_batches() -> None:
    model = _net()
    swa = rl.SWA()
    swa.update(model)
    with pytest.raises(ConfigError, match=r"^The 'batches' parameter of SWA.swap_in must be"):
        swa.swap_in(model)
    lin = nn.Linear(2, 2)
    s2 = rl.SWA()
    s2.update(lin)
    s2.copy_to(lin)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: rl.EMA(decay=0), "The 'decay' parameter of EMA must be a float in (0, 1). Got 0"),
        (lambda: rl.EMA(decay=1.0), "The 'decay' parameter of EMA must be a float in (0, 1)."),
        (lambda: rl.SWA(start=-1), "The 'start' parameter of SWA must be an int in [0, inf)."),
    ],
)
def test_bad_settings_are_one_line_errors(make, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        make()
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_model_that_changed_structure_is_refused() -> None:
    model = _net()
    ema = rl.EMA(0.9)
    ema.update(model)
    model[3] = nn.Linear(16, 4)
    with pytest.raises(ConfigError) as err:
        ema.update(model)
    msg = str(err.value)
    assert msg.startswith("The 'model' parameter of EMA.update must have the structure")
    assert "'3.weight' (4, 16)" in msg and "(3, 16)" in msg and "\n" not in msg


def test_swa_start_beyond_the_epochs_is_refused_by_fit() -> None:
    x, y = _data()
    with pytest.raises(ConfigError) as err:
        rl.fit(_net(), (x, y), None, epochs=3, regularization=rl.SWA(start=3), progress=False)
    assert str(err.value).startswith(
        "The 'start' parameter of SWA must be an int in [0, 2] (an epoch of fit(epochs=3)). "
        "Got 3 instead."
    )


class _Record(WeightConstraint):
    """Records the training weights after every step (a constraint that changes nothing)."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.seen = model, []

    def apply_(self, params) -> None:
        self.seen.append([p.detach().clone() for p in self.model.parameters()])


def test_fit_measures_stops_and_ends_with_the_ema() -> None:
    x, y = _data(96)
    model = _net()
    ema = rl.EMA(0.9, warmup=False, buffers=False)
    rec = _Record(model)
    hist = rl.fit(
        model, (x, y), (x, y), epochs=3, optimizer=torch.optim.SGD, lr=0.1,
        regularization=[rec, ema], seed=0, progress=False,
    )  # fmt: skip
    assert ema.num_updates == 9  # 3 steps of 32 per epoch
    expected = [w.clone() for w in rec.seen[0]]
    for ws in rec.seen[1:]:
        for e, w in zip(expected, ws):
            e.lerp_(w, 1 - 0.9)
    for p, e in zip(model.parameters(), expected):
        torch.testing.assert_close(p.detach(), e)
    model.eval()
    with torch.no_grad():
        val = nn.functional.cross_entropy(model(x), y).item()
    assert hist.rows[-1]["val_loss"] == pytest.approx(val, rel=1e-6)


def test_fit_with_swa_and_early_stopping_keeps_averaged_weights() -> None:
    x, y = _data(96)
    model = _net()
    swa = rl.SWA(start=1)
    rec = _Record(model)
    es = rl.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    hist = rl.fit(
        model, (x, y), (x, y), epochs=4, optimizer=torch.optim.SGD, lr=0.1,
        regularization=[rec, swa], callbacks=[es], seed=0, progress=False,
    )  # fmt: skip
    assert swa.num_updates == 3
    best = hist.best_epoch
    assert best is not None
    if best >= 1:  # the best snapshot holds the average of epochs 1..best (3 steps each)
        ends = [rec.seen[3 * e + 2] for e in range(1, best + 1)]
        for i, p in enumerate(model.parameters()):
            mean = torch.stack([w[i] for w in ends]).mean(0)
            torch.testing.assert_close(p.detach(), mean, rtol=1e-5, atol=1e-6)
    # batch norm statistics were recomputed for the averaged weights (PreciseBN), not trained
    assert model[1].momentum == 0.1


def test_fit_checkpoint_resumes_the_average(tmp_path) -> None:
    x, y = _data(96)
    path = tmp_path / "run.pt"

    def run(epochs: int) -> nn.Module:
        model = _net()
        rl.fit(
            model, (x, y), (x, y), epochs=epochs, regularization=[rl.EMA(0.9)],
            seed=0, progress=False, checkpoint=path,
        )  # fmt: skip
        return model

    run(2)
    resumed = run(4)
    path.unlink()
    whole = _net()
    rl.fit(whole, (x, y), (x, y), epochs=4, regularization=[rl.EMA(0.9)], seed=0, progress=False)
    for a, b in zip(resumed.state_dict().values(), whole.state_dict().values()):
        assert torch.equal(a, b)
