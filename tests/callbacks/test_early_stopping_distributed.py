"""Under torch.distributed every rank stops in the same epoch: 2 processes on gloo (loopback).

EarlyStopping decides for one process; a hand-written loop makes the ranks agree through
reglab.train.distributed.step_on_all_ranks (the metrics averaged over ranks, any stop stops all).
"""

from __future__ import annotations

import datetime
import json
import math
import multiprocessing as mp
import socket
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from reglab.callbacks import EarlyStopping
from reglab.train.distributed import step_on_all_ranks

# Each rank sees its own validation shard: alone, rank 0 would stop at epoch 2 and rank 1 at 5.
SEQS = {
    0: [1.0, 0.5, 0.75, 0.25, 0.5, 0.5, 0.5, 0.5],
    1: [1.0, 0.75, 0.25, 0.1875, 0.125, 0.5, 0.5, 0.5],
}
# Only rank 1's value turns NaN at epoch 3.
NAN_SEQS = {
    0: [1.0, 0.5, 0.25, 0.125, 0.0625],
    1: [1.0, 0.5, 0.25, math.nan, 0.0625],
}


def _stop_epoch(values: list[float], **kwargs: Any) -> tuple[int | None, EarlyStopping]:
    es = EarlyStopping(**kwargs)
    for epoch, v in enumerate(values):
        if es.step(v):
            return epoch, es
    return None, es


def _worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    torch.distributed.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=2,
        timeout=datetime.timedelta(seconds=60),
    )
    try:
        result: dict[str, Any] = {}
        model = nn.Linear(2, 2)
        es = EarlyStopping(patience=1, restore_best_weights=True)
        for epoch, v in enumerate(SEQS[rank]):
            with torch.no_grad():
                model.weight.fill_(epoch)
            if step_on_all_ranks(es, {"val_loss": v}, model):
                break
        result["plateau"] = [
            es.stopped_epoch,
            es.best_epoch,
            es.best,
            str(es.stop_reason),
            model.weight[0, 0].item(),
        ]
        es = EarlyStopping(patience=9)
        for v in NAN_SEQS[rank]:
            if step_on_all_ranks(es, v):
                break
        result["nan"] = [es.stopped_epoch, str(es.stop_reason)]
        Path(out).write_text(json.dumps(result))
    finally:
        torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_gloo_ranks_stop_in_the_same_epoch(tmp_path: Path) -> None:
    alone = [_stop_epoch(SEQS[r], patience=1)[0] for r in (0, 1)]
    assert alone == [2, 5]  # the ranks disagree when each decides alone
    mean = [(a + b) / 2 for a, b in zip(SEQS[0], SEQS[1])]
    expected_stop, expected_es = _stop_epoch(mean, patience=1)
    assert expected_stop == 4

    ctx = mp.get_context("spawn")
    port = _free_port()
    procs = [
        ctx.Process(target=_worker, args=(r, port, str(tmp_path / f"rank{r}.json"))) for r in (0, 1)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    hung = [p.pid for p in procs if p.is_alive()]
    for p in procs:
        if p.is_alive():
            p.terminate()
            p.join(5)
    assert not hung, f"ranks {hung} did not finish: a rank stopped alone and the other hung"
    assert [p.exitcode for p in procs] == [0, 0]
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]

    assert results[0] == results[1]
    stopped, best_epoch, best, reason, restored = results[0]["plateau"]
    assert (stopped, best_epoch, best, reason) == (
        expected_stop,
        expected_es.best_epoch,
        expected_es.best,
        "patience",
    )
    assert restored == float(best_epoch)  # both ranks restored the same epoch's weights
    assert results[0]["nan"] == [3, "non_finite"]
