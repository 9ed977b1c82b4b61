"""SAM: a NumPy oracle from the paper's formulas (SAM and ASAM, one and ten steps), fit (penalties
in both passes, batch-norm statistics from the first pass), Lightning's Trainer, DDP, errors."""

from __future__ import annotations

import copy
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import reglab as rl
from reglab import ConfigError

LR, RHO = 0.1, 0.05


def _regression(n: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return x, x @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * rng.normal(size=n)


def _grad(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Gradient of mean((x w + b - y)^2)."""
    r = x @ w + b - y
    return 2 * x.T @ r / len(y), float(2 * r.mean())


def _oracle(steps: int, adaptive: bool, momentum: float) -> tuple[np.ndarray, float]:
    """Foret et al. eq. 2 (Kwon et al. eq. 7 for ASAM) with SGD + heavy-ball momentum."""
    x, y = _regression()
    w, b = np.array([0.2, -0.1, 0.4]), -0.3
    buf_w, buf_b = np.zeros(3), 0.0
    for t in range(steps):
        gw, gb = _grad(w, b, x, y)
        if adaptive:  # e = rho T^2 g / ||T g||, T = |w|
            tw, tb = np.abs(w), abs(b)
            norm = np.sqrt(np.sum((tw * gw) ** 2) + (tb * gb) ** 2)
            ew, eb = RHO * tw**2 * gw / norm, RHO * tb**2 * gb / norm
        else:  # e = rho g / ||g||
            norm = np.sqrt(np.sum(gw**2) + gb**2)
            ew, eb = RHO * gw / norm, RHO * gb / norm
        sw, sb = _grad(w + ew, b + eb, x, y)
        buf_w = sw if t == 0 else momentum * buf_w + sw
        buf_b = sb if t == 0 else momentum * buf_b + sb
        w, b = w - LR * buf_w, b - LR * buf_b
    return w, b


@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.parametrize("steps", [1, 10])
def test_matches_the_numpy_oracle(steps: int, adaptive: bool) -> None:
    x, y = (torch.from_numpy(a) for a in _regression())
    model = nn.Linear(3, 1).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.2, -0.1, 0.4]], dtype=torch.float64))
        model.bias.fill_(-0.3)
    opt = rl.SAM(torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9), RHO, adaptive)

    def closure() -> torch.Tensor:
        loss = ((model(x).squeeze(1) - y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    w, b = _oracle(steps, adaptive, 0.9)
    np.testing.assert_allclose(model.weight.detach().numpy()[0], w, rtol=1e-12, atol=1e-12)
    assert model.bias.item() == pytest.approx(b, rel=1e-12, abs=1e-12)


def _bn_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


def _classes(n: int = 32, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()


def test_fit_drives_sam_with_penalties_in_both_passes_and_bn_stats_from_the_first() -> None:
    x, y = _classes(32)  # one batch of 32: the order does not depend on the shuffle
    pen = rl.L2(1e-2)
    model = _bn_net()
    manual = copy.deepcopy(model)
    opt = rl.SAM(torch.optim.SGD(model.parameters(), lr=LR), rho=RHO)
    rl.fit(model, (x, y), None, epochs=1, optimizer=opt, regularization=pen, progress=False)

    ref = rl.SAM(torch.optim.SGD(manual.parameters(), lr=LR), rho=RHO)
    params = rl.regularized_parameters(manual)
    calls = []

    def closure() -> torch.Tensor:
        calls.append(1)
        loss = nn.functional.cross_entropy(manual(x), y)
        loss.backward()
        pen.add_grad_(params)
        return loss

    first = copy.deepcopy(manual)
    first.train()(x)  # the running statistics after one pass at w
    manual.train()
    ref.step(closure)
    assert len(calls) == 2
    # plain SAM (no stats bookkeeping) updates the running statistics twice ...
    assert int(manual[1].num_batches_tracked) == 2
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        getattr(manual[1], name).copy_(getattr(first[1], name))
    for (k, a), b in zip(model.state_dict().items(), manual.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, msg=k)
    # ... fit keeps those of the first pass only
    assert int(model[1].num_batches_tracked) == 1
    torch.testing.assert_close(model[1].running_mean, first[1].running_mean)


def test_running_stats_kept_restores_any_momentum() -> None:
    from reglab.optim.sam import running_stats_kept

    bn = nn.BatchNorm1d(3, momentum=None)
    bn(torch.randn(8, 3))
    before = copy.deepcopy(bn.state_dict())
    with running_stats_kept(bn):
        bn(torch.randn(8, 3) + 5)
    for k, v in bn.state_dict().items():
        assert torch.equal(v, before[k])


def test_errors_name_the_parameter() -> None:
    model = nn.Linear(2, 1)
    base = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ConfigError) as err:
        rl.SAM(base, rho=0)
    assert (
        str(err.value) == "The 'rho' parameter of SAM must be a float in (0, inf). Got 0 instead."
    )
    with pytest.raises(ConfigError) as err:
        rl.SAM(base).step()
    msg = str(err.value)
    assert msg.startswith("The 'closure' parameter of SAM.step must be a callable")
    assert msg.endswith("Got None instead.") and "\n" not in msg
    with pytest.raises(ConfigError, match="'optimizer' parameter of SAM"):
        rl.SAM(rl.SAM(base))


def test_wraps_weight_decay_and_works_with_schedulers_and_state_dicts() -> None:
    x, y = _classes(32)
    model = _bn_net()
    opt = rl.SAM(rl.WeightDecay(torch.optim.Adam(model.parameters(), lr=1e-2), 1e-2), rho=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)
    for _ in range(2):
        opt.step(lambda: nn.functional.cross_entropy(model(x), y).backward())
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(2.5e-3)
    sd = opt.state_dict()
    assert sd["sam"] == {"rho": 0.1, "adaptive": False}
    other = rl.SAM(rl.WeightDecay(torch.optim.Adam(model.parameters(), lr=1e-2), 1e-2), rho=0.1)
    other.load_state_dict(sd)
    assert other.state_dict()["weight_decay"]["step"] == 2


def test_lightning_trainer_with_automatic_optimization() -> None:
    pl = pytest.importorskip("lightning.pytorch")
    from torch.utils.data import DataLoader, TensorDataset

    x, y = _classes(64)
    net = _bn_net()
    manual = copy.deepcopy(net)

    class Lit(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            xb, yb = batch
            return nn.functional.cross_entropy(self.net(xb), yb)

        def configure_optimizers(self) -> Any:
            return rl.SAM(torch.optim.SGD(self.net.parameters(), lr=LR, momentum=0.9), rho=RHO)

    trainer = pl.Trainer(
        max_steps=4, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )  # fmt: skip
    start = time.perf_counter()
    trainer.fit(Lit(), DataLoader(TensorDataset(x, y), batch_size=16))
    seconds = time.perf_counter() - start

    ref = rl.SAM(torch.optim.SGD(manual.parameters(), lr=LR, momentum=0.9), rho=RHO)
    manual.train()
    for i in range(4):
        xb, yb = x[16 * i : 16 * i + 16], y[16 * i : 16 * i + 16]
        ref.step(lambda xb=xb, yb=yb: nn.functional.cross_entropy(manual(xb), yb).backward())
    for a, b in zip(net.parameters(), manual.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    print(f"Lightning Trainer, 4 SAM steps: {seconds:.2f} s")


# -- DDP: the ascent uses the all-reduced gradient ------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ddp_worker(rank: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
        ddp = nn.parallel.DistributedDataParallel(model)
        opt = rl.SAM(torch.optim.SGD(model.parameters(), lr=LR), rho=0.5)
        x, y = _classes(32)
        xs, ys = x[16 * rank : 16 * rank + 16], y[16 * rank : 16 * rank + 16]
        for _ in range(3):
            opt.step(lambda: nn.functional.cross_entropy(ddp(xs), ys).backward())
        torch.save(model.state_dict(), Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two spawned gloo ranks: mostly start-up time (about 10-30 s on 2 cores)
def test_ddp_ascent_uses_the_all_reduced_gradient(tmp_path: Path) -> None:
    mp.spawn(_ddp_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = rl.SAM(torch.optim.SGD(model.parameters(), lr=LR), rho=0.5)
    x, y = _classes(32)
    for _ in range(3):  # one process, the whole batch: the mean gradient DDP all-reduces
        opt.step(lambda: nn.functional.cross_entropy(model(x), y).backward())
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        for k, v in model.state_dict().items():
            torch.testing.assert_close(got[k], v, rtol=1e-5, atol=1e-6, msg=k)
