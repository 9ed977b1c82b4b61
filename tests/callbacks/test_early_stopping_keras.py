"""EarlyStopping decides exactly as Keras 3's callback: scripted sequences run through both.

Keras (a dev-only oracle, KERAS_BACKEND=torch) is driven directly: its callback gets a stand-in
model whose "weights" are the epoch number, so the restored epoch is visible. Values are
multiples of 1/8 (and min_delta too) wherever Keras' float32 comparison could round differently
from our float64 one; a few hand-written cases use decimal values that round the same way.
"""

from __future__ import annotations

import math
import os
import random
from typing import Any

import pytest
import torch
from torch import nn

from reglab.callbacks import EarlyStopping

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras is the dev-only oracle for these tests")

pytestmark = pytest.mark.slow  # importing keras takes several seconds


class _KerasStandIn:
    """What Keras' EarlyStopping touches on a model: stop_training and get/set_weights."""

    def __init__(self) -> None:
        self.stop_training = False
        self.tag = -1

    def get_weights(self) -> list[Any]:
        return [self.tag]

    def set_weights(self, weights: list[Any]) -> None:
        self.tag = int(weights[0])


class _Tagged(nn.Module):
    """A parameter and a buffer that hold the epoch number, so restoring shows which epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(2, 2))
        self.register_buffer("b", torch.zeros(3))

    def set(self, epoch: int) -> None:
        with torch.no_grad():
            self.w.fill_(epoch)
            self.b.fill_(epoch)


def run_keras(kwargs: dict[str, Any], values: list[float]) -> dict[str, Any]:
    cb = keras.callbacks.EarlyStopping(**kwargs)
    model = _KerasStandIn()
    cb.set_model(model)
    cb.on_train_begin()
    stop = None
    for epoch, v in enumerate(values):
        model.tag = epoch
        cb.on_epoch_end(epoch, {kwargs.get("monitor", "val_loss"): v})
        if model.stop_training:
            stop = epoch
            break
    cb.on_train_end()
    return {
        "stop": stop,
        "best_epoch": cb.best_epoch,
        "stopped_epoch": cb.stopped_epoch,
        "weights": model.tag,
    }


def run_ours(kwargs: dict[str, Any], values: list[float]) -> dict[str, Any]:
    es = EarlyStopping(check_finite=False, **kwargs)
    model = _Tagged()
    stop = None
    for epoch, v in enumerate(values):
        model.set(epoch)
        if es.step({kwargs.get("monitor", "val_loss"): v, "other": 0.0}, model):
            stop = epoch
            break
    es.finish(model)
    tag = int(model.w[0, 0].item())
    assert tag == int(model.b[0].item()), "parameters and buffers restored from different epochs"
    return {
        "stop": stop,
        "best_epoch": es.best_epoch,
        "stopped_epoch": es.stopped_epoch,
        "weights": tag,
    }


HAND: list[tuple[dict[str, Any], list[float]]] = [
    ({}, [1.0, 0.9, 0.8, 0.85]),
    ({}, [1.0, 1.0]),  # a tie is not an improvement
    ({"patience": 2}, [0.5, 0.6, 0.4, 0.45, 0.46, 0.3]),
    ({"patience": 3}, [0.3, 0.2, 0.1, 0.2, 0.3, 0.4, 0.5]),
    ({"patience": 1, "min_delta": 0.1}, [1.0, 0.95, 0.7, 0.65]),
    ({"patience": 2, "baseline": 0.5}, [0.9, 0.8, 0.7, 0.6, 0.55, 0.6]),
    ({"patience": 2, "baseline": 0.5}, [0.9, 0.95, 0.96, 0.4, 0.45, 0.46]),
    ({"patience": 1, "start_from_epoch": 3}, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
    ({"patience": 0, "start_from_epoch": 1}, [1.0, 2.0, 3.0]),
    ({"monitor": "val_acc", "mode": "max", "patience": 1}, [0.5, 0.7, 0.7, 0.6]),
    ({"monitor": "val_acc", "mode": "max", "patience": 2, "baseline": 0.9}, [0.5, 0.6, 0.6, 0.7]),
    ({"mode": "max", "patience": 2, "min_delta": 0.05}, [0.1, 0.14, 0.2, 0.24, 0.28]),
    ({"patience": 2}, [1.0, math.nan, 0.5, 0.4]),  # NaN never improves (check_finite=False)
    ({"patience": 1}, [math.nan, 0.5, 0.4]),  # a NaN first value blocks every improvement
    ({"patience": 1}, [math.inf, 2.0, 3.0]),
    ({"restore_best_weights": True, "patience": 2}, [0.5, 0.3, 0.4, 0.35, 0.2]),
    ({"restore_best_weights": True, "patience": 1}, [0.5, 0.3, 0.4, 0.2]),
    ({"restore_best_weights": True, "patience": 5}, [0.5, 0.4, 0.45]),  # ends without a stop
    ({"restore_best_weights": True, "patience": 1, "baseline": 0.1}, [0.5, 0.4, 0.45]),
    ({"restore_best_weights": True, "start_from_epoch": 2, "patience": 1}, [0.1, 0.2, 0.3, 0.4]),
]


def random_cases(n: int, seed: int = 0) -> list[tuple[dict[str, Any], list[float]]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        kwargs: dict[str, Any] = {"patience": rng.randint(0, 4)}
        if rng.random() < 0.5:
            kwargs["min_delta"] = rng.choice([0.125, 0.25])
        if rng.random() < 0.3:
            kwargs["baseline"] = rng.randint(0, 16) / 8
        if rng.random() < 0.3:
            kwargs["start_from_epoch"] = rng.randint(1, 4)
        if rng.random() < 0.5:
            kwargs["mode"] = "max"
        if rng.random() < 0.4:
            kwargs["restore_best_weights"] = True
        values = [rng.randint(0, 16) / 8 for _ in range(rng.randint(1, 14))]
        cases.append((kwargs, values))
    return cases


CASES = HAND + random_cases(400)


def test_scripted_sequences_agree_with_keras() -> None:
    disagree = []
    for kwargs, values in CASES:
        expected, got = run_keras(kwargs, values), run_ours(kwargs, values)
        if expected != got:
            disagree.append((kwargs, values, expected, got))
    assert not disagree, f"{len(disagree)}/{len(CASES)} disagree, first: {disagree[0]}"
    print(f"{len(CASES)} scripted sequences agree with keras {keras.__version__}")


def test_defaults_match_keras_defaults() -> None:
    ours, theirs = EarlyStopping(), keras.callbacks.EarlyStopping()
    assert (ours.monitor, ours.patience, ours.min_delta, ours.baseline) == (
        theirs.monitor,
        theirs.patience,
        theirs.min_delta,
        theirs.baseline,
    )
    assert (ours.start_from_epoch, ours.restore_best_weights) == (
        theirs.start_from_epoch,
        theirs.restore_best_weights,
    )


def test_float32_rounding_is_the_one_known_difference() -> None:
    # Keras compares float32 tensors: 0.99999999 and 1.0 are equal there, so it sees no
    # improvement and stops; in float64 the value improves and training goes on.
    kwargs: dict[str, Any] = {"patience": 0}
    values = [1.0, 0.99999999]
    assert run_keras(kwargs, values)["stop"] == 1
    assert run_ours(kwargs, values)["stop"] is None
