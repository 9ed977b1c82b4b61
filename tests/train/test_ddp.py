"""fit under torch.distributed: 2 gloo ranks on this machine against one process.

Three runs in each rank (spawned, loopback TCP store):

A. (X, y) tensors, seed=None, dropout, rank-dependent initialisation (DDP broadcasts rank 0's),
   EarlyStopping on val_loss, a checkpoint and History.to_csv. Checked: both ranks stop in the
   same epoch with identical rows and bitwise identical final weights; every row's metrics equal
   a single-process evaluation of that epoch's weights (abs 1e-6; the same batches, combined
   exactly); EarlyStopping fed those rows alone stops in the same epoch; only rank 0 writes.
B. DataLoaders (32 per rank, no shuffling) with synchronized batch norm against one process
   with batches of 64 over the same order: same trajectory, metrics and weights within 1e-5.
C. A checkpointed run of 2 epochs, resumed to 4 with fresh objects, equals 4 epochs in one go
   bitwise (each rank's RNG streams come back from the checkpoint).
"""

from __future__ import annotations

import copy
import math
import socket
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset, WeightedRandomSampler

from reglab import ConfigError
from reglab.callbacks import EarlyStopping, StopReason
from reglab.train import EVAL_BATCH_SIZE, History, fit

WORLD = 2
METRICS = ("loss", "train_loss", "train_acc", "val_loss", "val_acc", "gap", "weight_norm")
# A: 1100 training samples (padded to 2 x 550, two evaluation batches of 1024 + 76).
N_A, N_VAL_A = 1100, 300
# B: 256 training samples = 4 steps of 64; validation in batches of 50, 50, 20.
N_B, N_VAL_B = 256, 120
ES_ARGS: dict[str, Any] = {"patience": 1, "min_delta": 0.02, "restore_best_weights": True}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _blobs(n: int, seed: int, features: int = 6, classes: int = 3):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, features, generator=torch.Generator().manual_seed(99)) * 1.5
    y = torch.randint(0, classes, (n,), generator=g)
    return centres[y] + torch.randn(n, features, generator=g), y


def _mlp(seed: int, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))


def _bn_mlp() -> nn.Module:
    torch.manual_seed(5)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


class _Recorder:
    """Each epoch's weights, before EarlyStopping may restore older ones."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []

    def step(self, metrics: dict[str, Any], model: nn.Module) -> bool:
        self.states.append(copy.deepcopy(model.state_dict()))
        return False


def _strip(h: History) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in h.rows]


def _run_b(model: nn.Module, batch: int) -> tuple[History, nn.Module]:
    X, y = _blobs(N_B, 3)
    Xv, yv = _blobs(N_VAL_B, 4)
    train = DataLoader(TensorDataset(X, y), batch_size=batch, shuffle=False)
    val = DataLoader(TensorDataset(Xv, yv), batch_size=50, shuffle=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    h = fit(model, train, val, epochs=3, optimizer=opt, seed=0, progress=False)
    return h, model


def _run_c(epochs: int, ckpt: Path | None) -> tuple[History, nn.Module]:
    X, y = _blobs(200, 5)
    model = _mlp(dist.get_rank() if dist.is_initialized() else 0, dropout=0.3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.8)
    h = fit(model, (X, y), _blobs(64, 6), epochs=epochs, optimizer=opt, callbacks=[sched],
            seed=11, progress=False, checkpoint=ckpt)  # fmt: skip
    return h, model


def _worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD
    )
    try:
        from reglab.nn import convert_sync_batchnorm

        result: dict[str, Any] = {}
        # A
        X, y = _blobs(N_A, 1)
        model = _mlp(seed=rank, dropout=0.2)  # DDP makes rank 0's initialisation everyone's
        rec, es = _Recorder(), EarlyStopping(**ES_ARGS)
        h = fit(model, (X, y), _blobs(N_VAL_A, 2), epochs=12, lr=0.05,
                optimizer=torch.optim.SGD, callbacks=[rec, es], progress=False,
                checkpoint=Path(out) / "a.ckpt")  # fmt: skip
        h.to_csv(Path(out) / f"history{rank}.csv")
        result["a"] = {
            "rows": h.to_dict(),
            "states": rec.states,
            "final": model.state_dict(),
            "stopped": es.stopped_epoch,
        }
        # B
        h, model = _run_b(convert_sync_batchnorm(_bn_mlp()), batch=32)
        result["b"] = {"rows": _strip(h), "final": model.state_dict()}
        # C
        ckpt = Path(out) / "c.ckpt"
        _run_c(2, ckpt)
        h_resumed, m_resumed = _run_c(4, ckpt)
        h_straight, m_straight = _run_c(4, None)
        result["c"] = {
            "resumed": (_strip(h_resumed), m_resumed.state_dict()),
            "straight": (_strip(h_straight), m_straight.state_dict()),
        }
        torch.save(result, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _single_process_metrics(model: nn.Module, X: torch.Tensor, y: torch.Tensor):
    """fit's evaluation in one process: batches of EVAL_BATCH_SIZE, combined exactly."""
    model.eval()
    losses, correct = [], 0.0
    with torch.no_grad():
        for i in range(0, len(y), EVAL_BATCH_SIZE):
            out = model(X[i : i + EVAL_BATCH_SIZE])
            t = y[i : i + EVAL_BATCH_SIZE]
            losses.append(F.cross_entropy(out, t).double().item() * len(t))
            correct += float((out.argmax(1) == t).sum())
    return math.fsum(losses) / len(y), correct / len(y)


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(_free_port(), str(out)), nprocs=WORLD, join=True)
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(WORLD)], out


@pytest.mark.slow
def test_ranks_stop_together_with_identical_weights(ranks) -> None:
    results, out = ranks
    a0, a1 = results[0]["a"], results[1]["a"]
    assert a0["rows"]["stop_reason"] == StopReason.PATIENCE.value
    stop = a0["stopped"]
    assert 1 <= stop < 11 and a1["stopped"] == stop
    assert len(a0["rows"]["rows"]) == len(a1["rows"]["rows"]) == stop + 1
    for r0, r1 in zip(a0["rows"]["rows"], a1["rows"]["rows"]):
        r0.pop("seconds"), r1.pop("seconds")
        assert r0 == r1  # every number of every row, bitwise
    for k, v in a0["final"].items():
        assert torch.equal(v, a1["final"][k]), k
    # ... and the weights restored are those of the best epoch
    for k, v in a0["final"].items():
        assert torch.equal(v, a0["states"][a0["rows"]["best_epoch"]][k]), k
    # Only rank 0 writes files.
    assert (out / "history0.csv").exists() and not (out / "history1.csv").exists()
    saved = torch.load(out / "a.ckpt", weights_only=True)
    assert saved["epoch"] == stop + 1 and len(saved["rng"]) == WORLD
    assert not any(p.name.startswith(".a.ckpt.tmp") for p in out.iterdir())


@pytest.mark.slow
def test_reduced_metrics_equal_one_process_and_drive_early_stopping(ranks) -> None:
    results, _ = ranks
    a = results[0]["a"]
    X, y = _blobs(N_A, 1)
    Xv, yv = _blobs(N_VAL_A, 2)
    worst = 0.0
    for row, state in zip(a["rows"]["rows"], a["states"]):
        model = _mlp(0, dropout=0.2)
        model.load_state_dict(state)
        train_loss, train_acc = _single_process_metrics(model, X, y)
        val_loss, val_acc = _single_process_metrics(model, Xv, yv)
        assert row["train_acc"] == train_acc and row["val_acc"] == val_acc  # counts: exact
        for key, value in (("train_loss", train_loss), ("val_loss", val_loss)):
            worst = max(worst, abs(row[key] - value))
    assert worst <= 1e-6, worst
    # EarlyStopping fed the rows in one process decides exactly as the two ranks did.
    es = EarlyStopping(**{**ES_ARGS, "restore_best_weights": False})
    stops = [es.step(r["val_loss"]) for r in a["rows"]["rows"]]
    assert stops.index(True) == a["stopped"] and es.best_epoch == a["rows"]["best_epoch"]


@pytest.mark.slow
def test_two_ranks_of_32_follow_one_process_with_batches_of_64(ranks) -> None:
    results, _ = ranks
    h, model = _run_b(_bn_mlp(), batch=64)
    ref_rows = _strip(h)
    for rank in range(WORLD):
        b = results[rank]["b"]
        assert len(b["rows"]) == len(ref_rows) == 3
        diff_rows = max(abs(r[k] - ref[k]) for r, ref in zip(b["rows"], ref_rows) for k in METRICS)
        assert diff_rows <= 1e-5, diff_rows
        assert _max_diff(b["final"], model.state_dict()) <= 1e-5
    assert results[0]["b"]["rows"] == results[1]["b"]["rows"]


@pytest.mark.slow
def test_distributed_checkpoint_resumes_bitwise(ranks) -> None:
    results, _ = ranks
    for rank in range(WORLD):
        c = results[rank]["c"]
        (rows_r, state_r), (rows_s, state_s) = c["resumed"], c["straight"]
        assert rows_r == rows_s and len(rows_r) == 4
        for k, v in state_s.items():
            assert torch.equal(state_r[k], v), (rank, k)


# ---------------------------------------------------------------------------- shards, no processes


@pytest.mark.parametrize(("n", "world"), [(7, 3), (8, 2), (2, 3), (10, 4)])
def test_tensor_shards_are_torch_distributed_sampler_shards(n: int, world: int) -> None:
    from reglab.train.distributed import World, shard_indices

    for rank in range(world):
        sampler = DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=True, seed=4)
        sampler.set_epoch(2)  # DistributedSampler seeds its permutation with seed + epoch
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(4 + 2))
        assert shard_indices(perm, World(rank, world)).tolist() == list(sampler)


def test_each_rank_gets_its_shard_of_tensors_and_loaders() -> None:
    from reglab.train.distributed import World
    from reglab.train.sources import LoaderSource, TensorSource

    n = 2500  # 3 evaluation batches of EVAL_BATCH_SIZE over 2 ranks: 2 + 1
    X = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    y = torch.zeros(n, dtype=torch.long)
    cpu = torch.device("cpu")
    seen_train, seen_eval = [], []
    for rank in range(WORLD):
        src = TensorSource(X, y, cpu, World(rank, WORLD))
        seen_train.append(torch.cat([x for x, _ in src.train_batches(torch.Generator())]))
        seen_eval += [x.squeeze(1) for x, _ in src.eval_batches()]
    assert [len(s) for s in seen_train] == [n // 2, n // 2]
    assert sorted(torch.cat(seen_train).squeeze(1).long().tolist()) == list(range(n))
    assert torch.equal(torch.sort(torch.cat(seen_eval)).values, X.squeeze(1))
    assert sorted(len(b) for b in seen_eval) == [n - 2 * EVAL_BATCH_SIZE] + [EVAL_BATCH_SIZE] * 2

    data = TensorDataset(X[:101], y[:101])
    loader = DataLoader(data, batch_size=10, shuffle=True)
    batches, evals = [], []
    for rank in range(WORLD):
        src = LoaderSource(loader, "train", cpu, World(rank, WORLD), shuffle_seed=7)
        sampler = src.train_loader.sampler  # type: ignore[attr-defined]
        assert isinstance(sampler, DistributedSampler) and sampler.shuffle and sampler.seed == 7
        src.set_epoch(3)
        assert sampler.epoch == 3
        batches.append([x.squeeze(1).long().tolist() for x, _ in src.train_batches(None)])
        evals += [x.squeeze(1).long().tolist() for x, _ in src.eval_batches()]
    assert len(batches[0]) == len(batches[1]) == 6  # 51 samples each (one repeated), by 10
    assert {i for b in batches[0] + batches[1] for i in b} == set(range(101))
    # evaluation: the single-process batches of 10 in dataset order, split between the ranks
    assert sorted(evals) == [list(range(i, min(i + 10, 101))) for i in range(0, 101, 10)]


def test_a_loader_fit_cannot_shard_is_a_one_line_error() -> None:
    from reglab.train.distributed import World, train_loader

    data = TensorDataset(torch.zeros(4, 1), torch.zeros(4))
    weighted = DataLoader(data, sampler=WeightedRandomSampler([1.0] * 4, 4), batch_size=2)
    with pytest.raises(ConfigError) as info:
        train_loader(weighted, "train", World(0, 2), seed=0)
    assert str(info.value) == (
        "fit cannot shard 'train' over 2 ranks: its DataLoader uses the sampler "
        "WeightedRandomSampler (fit shards sequential or shuffled DataLoaders). Pass a "
        "DataLoader with a torch.utils.data.DistributedSampler instead."
    )
    ready = DataLoader(data, sampler=DistributedSampler(data, num_replicas=2, rank=0))
    assert train_loader(ready, "train", World(0, 2), seed=0) is ready
