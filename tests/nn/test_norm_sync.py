"""Synchronized batch norm on gloo/CPU: R ranks behave as one process with the whole batch."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from reglab import ConfigError
from reglab.functional.norm import _SyncBatchNormFn, sync_batch_norm
from reglab.nn import BatchNorm, RenormClipping, convert_sync_batchnorm

C = 5
STEPS = 3
SPLITS = {"even": (32, 32), "uneven": (40, 24)}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _data(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + step)
    x = torch.randn(64, C, 3, 3, generator=g, dtype=torch.float64) * (1 + step) + step
    return x.float(), torch.randn(64, C, 3, 3, generator=g)


def _params() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(C, generator=g) + 0.5, torch.randn(C, generator=g)


def _make(kind: str) -> nn.Module:
    w, b = _params()
    if kind == "ours":
        bn: nn.Module = BatchNorm(C, sync=True)
    else:  # a torch layer converted, with the cumulative average
        bn = convert_sync_batchnorm(nn.Sequential(nn.BatchNorm2d(C, momentum=None)))[0]
    with torch.no_grad():
        bn.weight.copy_(w)
        bn.bias.copy_(b)
    return bn


def _run(bn: nn.Module, rank: int, sizes: tuple[int, int]) -> dict[str, torch.Tensor]:
    start = sum(sizes[:rank])
    ys, grads = [], []
    for step in range(STEPS):
        x, g = _data(step)
        x = x[start : start + sizes[rank]].clone().requires_grad_(True)
        y = bn(x)
        (y * g[start : start + sizes[rank]]).sum().backward()
        ys.append(y.detach())
        grads.append(x.grad)
    wgrad = torch.stack([bn.weight.grad, bn.bias.grad])
    if dist.is_initialized():
        dist.all_reduce(wgrad)  # what DDP's averaging completes (as a sum here)
    return {
        "y": torch.stack(ys),
        "xgrad": torch.stack(grads),
        "wgrad": wgrad,
        "running_mean": bn.running_mean.clone(),
        "running_var": bn.running_var.clone(),
        "num_batches_tracked": bn.num_batches_tracked.clone(),
    }


def _worker(rank: int, world: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        results = {}
        for split, sizes in SPLITS.items():
            for kind in ("ours", "converted"):
                results[f"{split}/{kind}"] = _run(_make(kind), rank, sizes)
        torch.save(results, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _reference(kind: str) -> dict[str, torch.Tensor]:
    w, b = _params()
    bn = nn.BatchNorm2d(C, momentum=None if kind == "converted" else 0.1)
    with torch.no_grad():
        bn.weight.copy_(w)
        bn.bias.copy_(b)
    return _run(bn, 0, (64, 0))


@pytest.mark.slow
def test_two_gloo_ranks_equal_one_process(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for split, sizes in SPLITS.items():
        for kind in ("ours", "converted"):
            key = f"{split}/{kind}"
            ref = _reference(kind)
            for name in ("y", "xgrad"):
                got = torch.cat([ranks[0][key][name], ranks[1][key][name]], dim=1)
                assert (got - ref[name]).abs().max().item() <= 1e-5, (key, name)
            for name in ("wgrad", "running_mean", "running_var", "num_batches_tracked"):
                for r in range(2):
                    diff = (ranks[r][key][name].double() - ref[name].double()).abs().max()
                    assert diff.item() <= 1e-5 * max(1.0, ref[name].abs().max().item()), (
                        key,
                        name,
                        r,
                    )
            assert sizes[0] + sizes[1] == 64


@pytest.fixture
def one_rank_group(tmp_path):
    if dist.is_initialized():
        pytest.skip(reason="a process group is already initialized in this process")
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    yield None
    dist.destroy_process_group()


def test_sync_function_matches_torch_and_gradcheck(one_rank_group):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, 2, generator=g, dtype=torch.float64).requires_grad_(True)
    w = (torch.rand(3, generator=g, dtype=torch.float64) + 0.5).requires_grad_(True)
    b = torch.randn(3, generator=g, dtype=torch.float64).requires_grad_(True)
    y, _mean, _var, n = _SyncBatchNormFn.apply(x, w, b, 1e-5, None)
    ref = torch.nn.functional.batch_norm(x, None, None, w, b, training=True)
    assert (y - ref).abs().max().item() <= 1e-12
    assert int(n) == 12
    assert torch.autograd.gradcheck(
        lambda x, w, b: _SyncBatchNormFn.apply(x, w, b, 1e-5, None)[0], (x, w, b)
    )
    assert torch.autograd.gradcheck(
        lambda x: _SyncBatchNormFn.apply(x, None, None, 1e-5, None)[0], (x,)
    )


def test_sync_without_group_is_plain_batch_norm():
    x = torch.randn(8, C, 4)
    ours, ref = BatchNorm(C, sync=True), nn.BatchNorm1d(C)
    assert torch.equal(ours(x), ref(x))
    assert torch.equal(ours.running_var, ref.running_var)
    rm = torch.zeros(C)
    sync_batch_norm(x, rm, torch.ones(C))
    assert torch.equal(rm, ref.running_mean)
    assert "sync=True" in repr(ours)


def test_convert_keeps_state_modes_and_flags():
    net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Sequential(BatchNorm(6)))
    net(torch.randn(8, 4))
    net[1].eval()
    net[1].weight.requires_grad_(False)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    inner = net[2][0]
    out = convert_sync_batchnorm(net)
    assert out is net and isinstance(net[1], BatchNorm) and net[1].sync
    assert net[2][0] is inner and inner.sync
    assert not net[1].training and not net[1].weight.requires_grad and net[1].bias.requires_grad
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k]), k
    double = convert_sync_batchnorm(nn.BatchNorm2d(3).double())
    assert isinstance(double, BatchNorm) and double.weight.dtype == torch.float64


def test_sync_bad_combinations_exact_message():
    with pytest.raises(ConfigError) as info:
        BatchNorm(4, sync=True, virtual_batch_size=8)
    assert str(info.value) == (
        "The 'sync' parameter of BatchNorm must be False when virtual_batch_size is set. "
        "Got True instead."
    )
    with pytest.raises(ConfigError) as info:
        BatchNorm(4, sync="yes")  # type: ignore[arg-type]
    assert str(info.value) == "The 'sync' parameter of BatchNorm must be a bool. Got 'yes' instead."
    with pytest.raises(ConfigError) as info:
        convert_sync_batchnorm(nn.Sequential(BatchNorm(4, renorm=RenormClipping())))
    assert str(info.value).startswith(
        "The 'model' parameter of convert_sync_batchnorm must be free of BatchNorm layers with "
        "virtual_batch_size or renorm. Got BatchNorm(4"
    )
