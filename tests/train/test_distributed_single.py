"""train/distributed.py without a process group, and EarlyStopping's public state."""

from __future__ import annotations

import torch
from torch import nn

from reglab.callbacks import EarlyStopping, StopReason
from reglab.train import distributed as ddp


def test_stop_reason_codes_round_trip() -> None:
    codes = [r.code for r in StopReason]
    assert codes == list(range(1, len(StopReason) + 1))
    assert StopReason.code_of(None) == 0 and StopReason.from_code(0) is None
    assert all(StopReason.from_code(r.code) is r for r in StopReason)


def test_step_on_all_ranks_is_a_plain_step_in_one_process() -> None:
    es, ref = EarlyStopping(patience=2), EarlyStopping(patience=2)
    values = [1.0, 0.5, 0.7, 0.8, 0.1]
    got = [ddp.step_on_all_ranks(es, {"val_loss": v}) for v in values]
    assert got == [ref.step(v) for v in values] == [False, False, False, True, False]
    assert (es.best_epoch, es.stopped_epoch, es.stop_reason) == (4, 3, StopReason.PATIENCE)


def test_early_stopping_installs_no_global_module_hooks() -> None:
    from torch.nn.modules import module

    names = [
        "_global_parameter_registration_hooks",
        "_global_buffer_registration_hooks",
        "_global_module_registration_hooks",
    ]
    before = [len(getattr(module, n, {})) for n in names]
    es = EarlyStopping(patience=3, restore_best_weights=True)
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    es.step(1.0, model)
    model.add_module("2", nn.Linear(2, 1))  # registration after a snapshot: picked up
    with torch.no_grad():
        model[2].weight.fill_(0.5)
    es.step(0.5, model)
    with torch.no_grad():
        model[2].weight.fill_(-1.0)
    es.finish(model)
    assert torch.equal(model[2].weight.detach(), torch.full((1, 2), 0.5))
    assert [len(getattr(module, n, {})) for n in names] == before
