"""EarlyStopping beyond Keras: tables of expected outcomes, snapshots, state_dict, errors."""

from __future__ import annotations

import copy
import io
import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from reglab import ConfigError
from reglab.callbacks import EarlyStopping, StopReason
from reglab.callbacks.early_stopping import infer_mode
from tests.checklist import ModuleCase, check_bad_inputs


def run(kwargs: dict[str, Any], values: list[float]) -> tuple[int | None, EarlyStopping]:
    es = EarlyStopping(**kwargs)
    for epoch, v in enumerate(values):
        if es.step(v):
            return epoch, es
    return None, es


@pytest.mark.parametrize(
    ("monitor", "mode"),
    [
        ("val_loss", "min"),
        ("loss", "min"),
        ("mean_squared_error", "min"),
        ("val_error_rate", "min"),
        ("val_acc", "max"),
        ("val_accuracy", "max"),
        ("train_acc", "max"),
        ("auc", "max"),
        ("val_f1", "max"),
        ("precision", "max"),
        ("val_recall", "max"),
        ("Val_Loss", "min"),
        ("lr", None),
        ("gap", None),
    ],
)
def test_auto_mode_from_name(monitor: str, mode: str | None) -> None:
    assert infer_mode(monitor) == mode
    if mode is not None:
        assert EarlyStopping(monitor=monitor).direction == mode


# (kwargs, values, stop epoch or None, reason, best_epoch)
EXTRAS: list[tuple[dict[str, Any], list[float], int | None, StopReason | None, int]] = [
    # threshold_mode="rel" (skorch): min improves when v < best - min_delta * best
    ({"min_delta": 0.1, "threshold_mode": "rel"}, [10.0, 9.5], 1, StopReason.PATIENCE, 0),
    ({"min_delta": 0.1, "threshold_mode": "abs"}, [10.0, 9.5], None, None, 1),
    ({"min_delta": 0.1, "threshold_mode": "rel"}, [10.0, 8.9], None, None, 1),
    ({"min_delta": 0.1, "threshold_mode": "rel", "mode": "max"}, [2.0, 2.1], 1, StopReason.PATIENCE, 0),
    ({"min_delta": 0.1, "threshold_mode": "rel", "mode": "max"}, [2.0, 2.3], None, None, 1),
    (
        {"min_delta": 0.5, "threshold_mode": "rel", "patience": 1, "baseline": 4.0},
        [10.0, 4.0, 1.9, 2.5],
        3,  # 1.9 beats the baseline by 50% (< 2.0): the counter resets at epoch 2
        StopReason.PATIENCE,
        2,
    ),
    # check_finite (Lightning): stop on NaN/inf, also during warm-up; best stays finite
    ({"patience": 5}, [1.0, math.nan], 1, StopReason.NON_FINITE, 0),
    ({"patience": 5}, [math.inf], 0, StopReason.NON_FINITE, 0),
    ({"patience": 5, "start_from_epoch": 3}, [1.0, -math.inf], 1, StopReason.NON_FINITE, 0),
    ({"patience": 5, "check_finite": False}, [1.0, math.nan, 0.5], None, None, 2),
    # stopping_threshold: stop once strictly better than it
    ({"patience": 9, "stopping_threshold": 0.1}, [0.5, 0.2, 0.1, 0.05], 3, StopReason.STOPPING_THRESHOLD, 3),
    ({"monitor": "val_acc", "patience": 9, "stopping_threshold": 0.9}, [0.5, 0.9, 0.95], 2, StopReason.STOPPING_THRESHOLD, 2),
    # divergence_threshold: stop once strictly worse than it
    ({"patience": 9, "divergence_threshold": 2.0}, [1.0, 1.5, 2.0, 2.5], 3, StopReason.DIVERGENCE_THRESHOLD, 0),
    ({"monitor": "val_acc", "patience": 9, "divergence_threshold": 0.1}, [0.5, 0.1, 0.05], 2, StopReason.DIVERGENCE_THRESHOLD, 0),
    # thresholds are not checked during warm-up
    ({"patience": 9, "start_from_epoch": 2, "divergence_threshold": 2.0}, [3.0, 3.0, 1.0], None, None, 2),
    # Keras rules kept: an improvement that misses the baseline neither resets nor stops
    ({"patience": 2, "baseline": 0.5}, [0.9, 0.8, 0.7, 0.6], None, None, 3),
    ({"patience": 2, "baseline": 0.5}, [0.9, 0.8, 0.7, 0.7], 3, StopReason.PATIENCE, 2),
    ({"patience": 0}, [1.0, 0.5, 0.25, 0.125], None, None, 3),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "values", "stop", "reason", "best"), EXTRAS)
def test_extras_table(
    kwargs: dict[str, Any],
    values: list[float],
    stop: int | None,
    reason: StopReason | None,
    best: int,
) -> None:
    got, es = run(kwargs, values)
    assert (got, es.stop_reason, es.best_epoch) == (stop, reason, best)
    assert es.stopped_epoch == (stop or 0)
    if kwargs.get("check_finite", True) and es.best is not None:
        assert math.isfinite(es.best)


def test_accepts_tensors_numpy_and_dicts() -> None:
    es = EarlyStopping(patience=1)
    assert es.step(torch.tensor(1.0)) is False
    assert es.step(np.float32(0.5)) is False
    assert es.step({"val_loss": torch.tensor([0.75]), "val_acc": 0.1}) is True
    assert es.best == 0.5


def _bn_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def _train_epoch(model: nn.Module, opt: torch.optim.Optimizer, g: torch.Generator) -> None:
    model.train()
    for _ in range(3):
        x = torch.randn(16, 4, generator=g)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_restore_best_weights_restores_parameters_and_buffers_on_stop() -> None:
    model = _bn_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(0)
    es = EarlyStopping(patience=2, restore_best_weights=True)
    states = []
    values = [0.9, 0.5, 0.7, 0.3, 0.4, 0.6, 0.1]
    for v in values:
        _train_epoch(model, opt, g)
        states.append({k: t.clone() for k, t in model.state_dict().items()})
        if es.step(v, model):
            break
    assert (es.stopped_epoch, es.best_epoch) == (5, 3)
    for k, t in model.state_dict().items():
        assert torch.equal(t, states[3][k]), k
    assert not torch.equal(states[5]["1.running_mean"], states[3]["1.running_mean"])
    assert int(model.state_dict()["1.num_batches_tracked"]) == 12


def test_finish_restores_when_the_loop_ends_without_a_stop() -> None:
    model = _bn_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(1)
    es = EarlyStopping(patience=5, restore_best_weights=True)
    best = None
    for v in [0.9, 0.2, 0.5]:
        _train_epoch(model, opt, g)
        if v == 0.2:
            best = copy.deepcopy(model.state_dict())
        assert es.step(v, model) is False
    assert best is not None
    assert not torch.equal(model.state_dict()["0.weight"], best["0.weight"])
    es.finish(model)
    for k, t in model.state_dict().items():
        assert torch.equal(t, best[k]), k


def test_no_restore_without_the_flag() -> None:
    model = _bn_model()
    before = copy.deepcopy(model.state_dict())
    es = EarlyStopping(patience=0)
    es.step(1.0, model)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert es.step(2.0, model) is True
    es.finish(model)
    assert torch.equal(model[0].weight, before["0.weight"] + 1.0)


def test_snapshot_reuses_preallocated_tensors_without_deepcopy_or_disk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("snapshot must not deepcopy or write to disk")

    model = _bn_model()
    monkeypatch.setattr(copy, "deepcopy", forbidden)
    monkeypatch.setattr(torch, "save", forbidden)
    es = EarlyStopping(patience=9, restore_best_weights=True)
    es.step(1.0, model)
    assert es._snapshot is not None
    ptrs = [t.data_ptr() for t in es._snapshot]
    assert len(ptrs) == len(list(model.parameters())) + len(list(model.buffers()))
    with torch.no_grad():
        model[0].weight.add_(1.0)
    es.step(0.5, model)
    assert [t.data_ptr() for t in es._snapshot] == ptrs
    assert torch.equal(es._snapshot[0], model[0].weight)


def _values() -> list[float]:
    return [0.9, 0.6, 0.7, 0.5, 0.55, 0.58, 0.52, 0.51, 0.6, 0.7, 0.8]


def _run_with_resume(split: int | None) -> tuple[list[bool], dict[str, torch.Tensor], Any]:
    model = _bn_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(2)
    es = EarlyStopping(patience=3, restore_best_weights=True)
    decisions = []
    for epoch, v in enumerate(_values()):
        if epoch == split:
            buffer = io.BytesIO()
            torch.save(es.state_dict(), buffer)
            buffer.seek(0)
            es = EarlyStopping(patience=3, restore_best_weights=True)
            es.load_state_dict(torch.load(buffer, weights_only=True))
        _train_epoch(model, opt, g)
        decisions.append(es.step(v, model))
        if decisions[-1]:
            break
    return decisions, model.state_dict(), (es.wait, es.best, es.best_epoch, es.stopped_epoch)


@pytest.mark.parametrize("split", [1, 3, 5, 6])
def test_state_dict_resume_continues_counter_and_snapshot(split: int) -> None:
    expected = _run_with_resume(None)
    got = _run_with_resume(split)
    assert got[0] == expected[0]
    assert got[2] == expected[2]
    assert expected[2][3] == 6  # three epochs without beating epoch 3's 0.5
    for k, t in expected[1].items():
        assert torch.equal(got[1][k], t), k


def test_state_dict_is_plain_and_round_trips() -> None:
    es = EarlyStopping(patience=1)
    for v in [1.0, 0.5, 0.7, 0.8]:
        es.step(v)
    state = es.state_dict()
    assert state == {
        "monitor": "val_loss",
        "epoch": 4,
        "wait": 2,
        "best": 0.5,
        "best_epoch": 1,
        "stopped_epoch": 3,
        "stop_reason": "patience",
        "restored": False,
        "best_weights": None,
    }
    other = EarlyStopping(patience=1)
    other.load_state_dict(state)
    assert other.state_dict() == state
    es.reset()
    assert (es.epoch, es.wait, es.best, es.stop_reason) == (0, 0, None, None)


def test_restore_into_a_different_model_is_an_error() -> None:
    es = EarlyStopping(patience=0, restore_best_weights=True)
    es.step(1.0, _bn_model())
    with pytest.raises(ConfigError, match="differ from those in the snapshot"):
        es.step(2.0, nn.Linear(3, 3))


def test_stop_reason_is_a_string_enum() -> None:
    assert StopReason("patience") is StopReason.PATIENCE
    assert str(StopReason.NON_FINITE) == "non_finite"
    assert StopReason.COMPLETED == "completed"


def test_repr_shows_non_default_settings() -> None:
    es = EarlyStopping(patience=3, restore_best_weights=True, threshold_mode="rel")
    assert repr(es) == (
        "EarlyStopping(monitor='val_loss', mode='auto', patience=3, threshold_mode='rel', "
        "restore_best_weights=True)"
    )


P = "The {!r} parameter of EarlyStopping must be {}. Got {} instead."
BAD = [
    (lambda: EarlyStopping(patience=-1), P.format("patience", "an int in [0, inf)", "-1")),
    (lambda: EarlyStopping(patience=1.5), P.format("patience", "an int in [0, inf)", "1.5")),
    (
        lambda: EarlyStopping(mode="median"),
        P.format("mode", "one of 'auto', 'min', 'max'", "'median'"),
    ),
    (
        lambda: EarlyStopping(monitor="lr"),
        "The 'mode' parameter of EarlyStopping must be 'min' or 'max' for monitor='lr' (its "
        "direction cannot be inferred from the name). Got 'auto' instead.",
    ),
    (lambda: EarlyStopping(monitor=""), P.format("monitor", "a non-empty str", "''")),
    (lambda: EarlyStopping(min_delta=-0.1), P.format("min_delta", "a float in [0, inf)", "-0.1")),
    (
        lambda: EarlyStopping(threshold_mode="pct"),
        P.format("threshold_mode", "one of 'abs', 'rel'", "'pct'"),
    ),
    (
        lambda: EarlyStopping(baseline=math.nan),
        P.format("baseline", "None or a float in (-inf, inf)", "nan"),
    ),
    (
        lambda: EarlyStopping(start_from_epoch=-2),
        P.format("start_from_epoch", "an int in [0, inf)", "-2"),
    ),
    (
        lambda: EarlyStopping(restore_best_weights=1),
        P.format("restore_best_weights", "a bool", "1"),
    ),
    (lambda: EarlyStopping(check_finite="yes"), P.format("check_finite", "a bool", "'yes'")),
    (
        lambda: EarlyStopping(stopping_threshold="0.1"),
        P.format("stopping_threshold", "None or a float in (-inf, inf)", "'0.1'"),
    ),
    (
        lambda: EarlyStopping(divergence_threshold=math.inf),
        P.format("divergence_threshold", "None or a float in (-inf, inf)", "inf"),
    ),
    (
        lambda: EarlyStopping().step({"loss": 1.0, "val_acc": 0.5}),
        "EarlyStopping monitors 'val_loss', which is not among the metrics given. "
        "Available keys: 'loss', 'val_acc'.",
    ),
    (
        lambda: EarlyStopping(monitor="val_acc").step({"val_acc": None}),
        "EarlyStopping monitors 'val_acc', whose value is None this epoch (not measured for "
        "this task); monitor another metric.",
    ),
    (
        lambda: EarlyStopping(restore_best_weights=True).step(1.0),
        "EarlyStopping(restore_best_weights=True) needs the model: call "
        "es.step(value_or_metrics, model).",
    ),
    (
        lambda: EarlyStopping().step("low"),
        "EarlyStopping expects a number or a dict of metrics. Got 'low' instead.",
    ),
    (
        lambda: EarlyStopping().step(torch.ones(3)),
        "EarlyStopping expects one number per epoch. Got a tensor of shape (3,) instead.",
    ),
    (
        lambda: EarlyStopping().load_state_dict({"wait": 1}),
        "EarlyStopping.load_state_dict expects an EarlyStopping state_dict. Missing keys: "
        "best, best_epoch, epoch, stopped_epoch.",
    ),
]


def test_bad_inputs_give_the_exact_one_line_message() -> None:
    case = ModuleCase("EarlyStopping", lambda: nn.Identity(), (1,), bad=BAD)
    check_bad_inputs(case)


def test_snapshot_follows_model_to_and_reassigned_buffers() -> None:
    model = _bn_model()
    es = EarlyStopping(patience=9, restore_best_weights=True)
    es.step(1.0, model)
    # model.to() swaps buffers and parameter data without registering anything
    model.to(torch.float64)
    with torch.no_grad():
        model[0].weight.fill_(0.25)
        model[1].running_mean.fill_(3.0)
    es.step(0.5, model)
    assert es._snapshot is not None
    assert es._snapshot[0].dtype == torch.float64
    names = [n for n, _ in model.named_parameters()] + [n for n, _ in model.named_buffers()]
    snap = dict(zip(names, es._snapshot))
    assert torch.equal(snap["0.weight"], model[0].weight.detach())
    assert torch.equal(snap["1.running_mean"], model[1].running_mean)
    # a buffer assigned anew is picked up too
    model[1].running_var = torch.full((8,), 7.0, dtype=torch.float64)
    es.step(0.25, model)
    snap = dict(zip(names, es._snapshot))
    assert torch.equal(snap["1.running_var"], torch.full((8,), 7.0, dtype=torch.float64))
    with torch.no_grad():
        model[1].running_var.fill_(0.0)
        model[0].weight.fill_(9.0)
    es.step(0.3, model)
    assert es.step(0.4, model) is False
    es.finish(model)
    assert torch.equal(model[1].running_var, torch.full((8,), 7.0, dtype=torch.float64))
    assert torch.equal(model[0].weight.detach(), torch.full_like(model[0].weight, 0.25))


def test_snapshot_after_a_submodule_is_replaced() -> None:
    model = _bn_model()
    es = EarlyStopping(patience=9, restore_best_weights=True)
    es.step(1.0, model)
    model[3] = nn.Linear(8, 2)  # registration: the cached tensor list is rebuilt
    with torch.no_grad():
        model[3].weight.fill_(0.5)
    es.step(0.5, model)
    with torch.no_grad():
        model[3].weight.fill_(-1.0)
    es.finish(model)
    assert torch.equal(model[3].weight.detach(), torch.full((2, 8), 0.5))
