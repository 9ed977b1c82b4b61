"""The validation path and its one error template."""

from __future__ import annotations

import math

import pytest
import torch

from reglab import ConfigError
from reglab._checks import (
    Boolean,
    InstanceOf,
    Interval,
    NoneOk,
    OneOf,
    check_floating,
    check_ndim,
)
from reglab._checks import _check as check
from reglab._checks import _validate as validate


def test_template_matches_design_example():
    with pytest.raises(ConfigError) as info:
        check("Dropout", "p", 1.5, Interval(float, 0, 1, closed="left"))
    assert str(info.value) == (
        "The 'p' parameter of Dropout must be a float in [0, 1). Got 1.5 instead."
    )
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("constraint", "good", "bad"),
    [
        (
            Interval(float, 0, 1, closed="left"),
            [0, 0.0, 0.5, 0.999],
            [1, 1.0, -0.1, math.nan, True, "0.5"],
        ),
        (
            Interval(float, 0, None, closed="neither"),
            [1e-9, 10, 1e300],
            [0, -1, math.inf, math.nan],
        ),
        (Interval(float, 0, math.inf), [0, math.inf], [-1e-9, math.nan]),
        (Interval(int, 1, None), [1, 5], [0, 1.0, True, -3]),
        (OneOf("inverted", "classic"), ["inverted", "classic"], ["Inverted", None, 1]),
        (Boolean(), [True, False], [0, 1, "yes"]),
        (NoneOk(), [None], [0, ""]),
        (InstanceOf(torch.Tensor, description="a tensor"), [torch.zeros(1)], [[0.0]]),
    ],
)
def test_constraints_accept_and_reject(constraint, good, bad):
    for v in good:
        assert constraint.is_satisfied_by(v), v
    for v in bad:
        assert not constraint.is_satisfied_by(v), v


def test_descriptions():
    assert str(Interval(float, 0, 1, closed="left")) == "a float in [0, 1)"
    assert str(Interval(int, 1, None)) == "an int in [1, inf)"
    assert str(Interval(float, 0, None, closed="neither")) == "a float in (0, inf)"
    assert str(OneOf("a", "b")) == "one of 'a', 'b'"


def test_several_constraints_are_listed():
    with pytest.raises(ConfigError) as info:
        check("BatchNorm", "momentum", -1, Interval(float, 0, 1), NoneOk())
    assert str(info.value) == (
        "The 'momentum' parameter of BatchNorm must be a float in [0, 1] or None. Got -1 instead."
    )


def test_validate_reports_first_bad_parameter():
    spec = {"p": [Interval(float, 0, 1, closed="left")], "scaling": [OneOf("inverted", "classic")]}
    validate("Dropout", {"p": 0.2, "scaling": "inverted"}, spec)
    with pytest.raises(ConfigError, match="'scaling' parameter of Dropout must be one of"):
        validate("Dropout", {"p": 0.2, "scaling": "keras"}, spec)


def test_tensor_checks_name_dtype_and_shape():
    with pytest.raises(ConfigError) as info:
        check_floating("Dropout", torch.zeros(2, dtype=torch.int64))
    assert str(info.value) == (
        "Dropout expects a floating-point tensor as 'input'. Got dtype torch.int64 instead."
    )
    with pytest.raises(ConfigError) as info:
        check_ndim("BatchNorm", torch.zeros(2), (2, 3, 4, 5), "(N, C) or (N, C, *)")
    assert str(info.value) == (
        "BatchNorm expects 'input' of shape (N, C) or (N, C, *). Got shape (2,) instead."
    )


def test_long_values_are_truncated_and_tensors_summarised():
    with pytest.raises(ConfigError) as info:
        check("X", "v", "a" * 500, OneOf("b"))
    assert len(str(info.value)) < 200
    with pytest.raises(ConfigError) as info:
        check("X", "v", torch.zeros(3, 4), OneOf("b"))
    assert "Tensor of shape (3, 4) and dtype torch.float32" in str(info.value)
