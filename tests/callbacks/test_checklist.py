"""The shared checklist over every public callback (state_dict resume, repr, bad inputs)."""

from __future__ import annotations

import inspect

import pytest

import reglab.callbacks as C
from tests.callbacks.test_early_stopping import BAD
from tests.checklist import CallbackCase, Check, checklist

# A validation loss that falls, then rises: every stopping rule below acts on it.
CURVE = [{"val_loss": v, "val_acc": 1 - v} for v in (1.0, 0.8, 0.7, 0.72, 0.75, 0.78, 0.8, 0.9)]

CASES = [
    CallbackCase(
        "EarlyStopping",
        lambda: C.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True),
        CURVE,
        repr_contains=("val_loss", "patience=2"),
        bad=BAD,
    ),
    CallbackCase(
        "EarlyStopping",
        lambda: C.EarlyStopping(monitor="val_acc", mode="max", patience=1, min_delta=0.01),
        CURVE,
        repr_contains=("val_acc", "max"),
    ),
]


@pytest.mark.parametrize(("case", "check"), checklist(CASES, ids=lambda c: repr(c.make())))
def test_checklist(case: CallbackCase, check: Check) -> None:
    check(case)


def test_every_public_callback_has_a_case() -> None:
    public = {
        name
        for name in C.__all__
        if inspect.isclass(getattr(C, name)) and hasattr(getattr(C, name), "state_dict")
    }
    assert public <= {c.name for c in CASES}
