"""Lightning's Trainer with reglab's callbacks ends where reglab.fit ends (CPU, deterministic)."""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import reglab as rl

pl = pytest.importorskip("lightning.pytorch", reason="needs the lightning extra")
from reglab.integrations.lightning import PreciseBN, Regularization  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def _data(n: int = 96, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 0.5).long()
    return TensorDataset(x, y)


def _net(bn: bool = True) -> nn.Module:
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Linear(8, 16)]
    if bn:
        layers.append(nn.BatchNorm1d(16))
    layers += [nn.ReLU(), nn.Linear(16, 3)]
    return nn.Sequential(*layers)


class Lit(pl.LightningModule):
    def __init__(self, net: nn.Module, lr: float = 0.1, gamma: float | None = None) -> None:
        super().__init__()
        self.net, self.lr, self.gamma = net, lr, gamma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.net.parameters(), lr=self.lr, momentum=0.9)
        if self.gamma is None:
            return opt
        return {
            "optimizer": opt,
            "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 1, self.gamma),
        }


def _trainer(epochs: int, callbacks: list[Any], **kwargs: Any) -> Any:
    return pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        num_sanity_val_steps=0,
        **kwargs,
    )


def _regs() -> list[Any]:
    return [rl.L1(1e-3), rl.L2(1e-2), rl.ProximalL1(2e-2), rl.MaxNorm(0.9)]


def _max_diff(a: nn.Module, b: nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    return max(float((sa[k].double() - sb[k].double()).abs().max()) for k in sa)


def _fit(net: nn.Module, loader: DataLoader, epochs: int, gamma: float | None) -> None:
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    cbs = [] if gamma is None else [torch.optim.lr_scheduler.StepLR(opt, 1, gamma)]
    rl.fit(
        net,
        loader,
        None,
        epochs=epochs,
        optimizer=opt,
        loss=nn.CrossEntropyLoss(),
        regularization=_regs(),
        callbacks=cbs,
        seed=0,
        progress=False,
        device="cpu",
    )


@pytest.mark.parametrize("gamma", [None, 0.5])
def test_trainer_with_regularization_ends_with_fits_weights_bitwise(gamma: float | None) -> None:
    """Same model, data order, seed and regularization: every parameter and buffer bitwise."""
    loader = DataLoader(_data(), batch_size=16, shuffle=False)
    ours, theirs = _net(), _net()
    _fit(ours, loader, 3, gamma)
    lit = Lit(theirs, gamma=gamma)
    _trainer(3, [Regularization(_regs())], limit_val_batches=0).fit(lit, loader)
    diff = _max_diff(ours, theirs)
    print(f"max |w_fit - w_lightning| = {diff:.3g} (gamma={gamma})")
    assert diff == 0.0
    assert _max_diff(_net(), theirs) > 1e-3  # training moved the weights
    if gamma is None:  # ProximalL1 zeroed some weights, MaxNorm holds the last layer's rows
        assert any(float((p == 0).sum()) > 0 for p in theirs.parameters())
        assert float(theirs[3].weight.norm(dim=1).max()) == pytest.approx(0.9)


def test_without_the_callback_the_weights_differ() -> None:
    loader = DataLoader(_data(), batch_size=16, shuffle=False)
    ours, theirs = _net(), _net()
    _fit(ours, loader, 2, None)
    _trainer(2, [], limit_val_batches=0).fit(Lit(theirs), loader)
    assert _max_diff(ours, theirs) > 1e-4


def test_gradient_accumulation_adds_the_penalty_once_per_step() -> None:
    """Two micro-batches of 8 accumulated = fit on batches of 16 (to 1e-6: sums regroup)."""
    data = _data()
    ours, theirs = _net(bn=False), _net(bn=False)
    _fit(ours, DataLoader(data, batch_size=16, shuffle=False), 3, 0.5)
    lit = Lit(theirs, gamma=0.5)
    trainer = _trainer(3, [Regularization(_regs())], limit_val_batches=0, accumulate_grad_batches=2)
    trainer.fit(lit, DataLoader(data, batch_size=8, shuffle=False))
    diff = _max_diff(ours, theirs)
    print(f"accumulation: max |w_fit - w_lightning| = {diff:.3g}")
    assert diff < 1e-6
    assert trainer.global_step == 3 * 96 // 16


def test_loss_mode_penalty_matches_fit() -> None:
    loader = DataLoader(_data(), batch_size=16, shuffle=False)
    ours, theirs = _net(bn=False), _net(bn=False)
    pen = rl.LossMode(rl.L2(1e-2))
    opt = torch.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    rl.fit(ours, loader, None, epochs=2, optimizer=opt, loss=nn.CrossEntropyLoss(),
           regularization=[pen], seed=0, progress=False, device="cpu")  # fmt: skip
    _trainer(2, [Regularization([pen])], limit_val_batches=0).fit(Lit(theirs), loader)
    assert _max_diff(ours, theirs) < 1e-6


def test_batch_transforms_are_refused() -> None:
    from reglab.augment import MixUp

    with pytest.raises(rl.ConfigError, match="training_step"):
        Regularization([rl.L2(1e-3), MixUp(0.2, num_classes=3)])


def test_only_the_selected_parameters_are_regularized() -> None:
    """Biases and batch-norm parameters are left alone, as in fit."""
    net = _net()
    reg = Regularization([rl.MaxNorm(1e-3)])
    loader = DataLoader(_data(), batch_size=16, shuffle=False)
    _trainer(1, [reg], limit_val_batches=0).fit(Lit(net), loader)
    assert [p.shape for p in reg.params] == [torch.Size([16, 8]), torch.Size([3, 16])]
    assert float(net[0].weight.norm(dim=1).max()) <= 1e-3 + 1e-9
    assert float(net[0].bias.abs().max()) > 1e-2


class LitVal(Lit):
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self.net(x), y))


def test_precise_bn_recalibrates_before_each_validation() -> None:
    data = _data()
    loader = DataLoader(data, batch_size=16, shuffle=False)
    net = _net()
    seen: list[torch.Tensor] = []

    class Spy(pl.Callback):
        def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
            seen.append(pl_module.net[1].running_mean.clone())

    cb = PreciseBN(num_batches=3)
    _trainer(2, [cb, Spy()], limit_val_batches=1).fit(LitVal(net), loader, loader)
    assert cb.last_used == 3 and len(seen) == 2
    expected = copy.deepcopy(net)
    rl.nn.recalibrate_batchnorm(expected, loader, num_batches=3)
    torch.testing.assert_close(seen[-1], expected[1].running_mean, rtol=0, atol=0)
    torch.testing.assert_close(net[1].running_var, expected[1].running_var, rtol=0, atol=0)


def test_weight_decay_from_configure_optimizers_with_a_scheduler() -> None:
    """WeightDecay(SGD) with StepLR: w <- (1 - lr_t*wd) w - lr_t*g, lr_t halved each epoch."""
    data = _data(32)
    loader = DataLoader(data, batch_size=16, shuffle=False)

    class LitWD(Lit):
        def configure_optimizers(self) -> Any:
            opt = rl.WeightDecay(
                torch.optim.SGD(self.net.parameters(), lr=0.1), 0.5, params=self.net
            )
            return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)}

    net = _net(bn=False)
    ref = copy.deepcopy(net)
    trainer = _trainer(3, [], limit_val_batches=0)
    trainer.fit(LitWD(net), loader)
    assert isinstance(trainer.optimizers[0], rl.WeightDecay)
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)
    weights = {id(ref[0].weight), id(ref[2].weight)}
    for epoch in range(3):
        lr = 0.1 * 0.5**epoch
        for x, y in loader:
            ref.zero_grad()
            nn.functional.cross_entropy(ref(x), y).backward()
            with torch.no_grad():
                for p in ref.parameters():
                    if id(p) in weights:
                        p.mul_(1 - lr * 0.5)
                    p.sub_(lr * p.grad)
    assert _max_diff(ref, net) < 1e-6
    assert _max_diff(_net(bn=False), net) > 1e-3


def test_reglab_does_not_import_lightning_and_the_error_without_it_is_one_line() -> None:
    code = (
        "import sys, reglab, reglab.train, reglab.lab.study, reglab.cli.study, reglab.integrations\n"
        "assert 'lightning' not in sys.modules, 'reglab imported lightning'\n"
        "sys.modules['lightning'] = None; sys.modules['lightning.pytorch'] = None\n"
        "try:\n    import reglab.integrations.lightning\n"
        "except ImportError as e:\n    print('ERR', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("ERR")]
    assert len(lines) == 1 and "pip install 'reglab[lightning]'" in lines[0], out.stdout


@pytest.mark.slow
def test_the_example_study_runs_and_writes_a_report(tmp_path: Any) -> None:
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "lightning_study.py"
    out = tmp_path / "study"
    args = [sys.executable, str(script), "--out", str(out), "--epochs", "2", "--seeds", "1"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "5/5 cells" in done.stdout
    assert (out / "report.html").is_file() and (out / "results.csv").is_file()
