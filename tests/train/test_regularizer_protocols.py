"""fit places each regularizer by the protocol it declares (reglab.regularizer), not by name."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

import reglab as rl
from reglab.regularizer import (
    GradientPenalty,
    InputAugmentation,
    LabelMixer,
    LossPenalty,
    ProximalStep,
    WeightConstraint,
)
from reglab.train.regularization import make_plan


def test_reglab_classes_declare_their_protocol() -> None:
    import reglab.augment as A

    assert isinstance(rl.L1(0.1), GradientPenalty)
    assert isinstance(rl.L1(0.1) + rl.L2(0.1), GradientPenalty)
    assert isinstance(rl.LossMode(rl.L2(0.1)), LossPenalty)
    assert not isinstance(rl.LossMode(rl.L2(0.1)), GradientPenalty)
    assert isinstance(rl.ProximalL1(0.1), ProximalStep)
    assert isinstance(rl.MaxNorm(1.0), WeightConstraint)
    assert isinstance(rl.UnitNorm(), WeightConstraint)
    assert isinstance(A.RandomFlip(), InputAugmentation)
    assert isinstance(A.MixUp(), LabelMixer)
    assert not isinstance(A.MixUp(), InputAugmentation)


def test_plan_places_each_object_in_list_order() -> None:
    import reglab.augment as A

    def noise(x: torch.Tensor) -> torch.Tensor:
        return x

    flip, mix = A.RandomFlip(), A.MixUp()
    plan = make_plan(
        [rl.L2(0.1), rl.LossMode(rl.L1(0.1)), rl.ProximalL1(0.1), rl.MaxNorm(1.0), flip, mix, noise]
    )
    assert [type(p).__name__ for p in plan.grad_penalties] == ["L2"]
    assert [type(p).__name__ for p in plan.loss_penalties] == ["LossMode"]
    assert [type(p).__name__ for p in plan.proximal] == ["ProximalL1"]
    assert [type(p).__name__ for p in plan.constraints] == ["MaxNorm"]
    assert plan.batch == [("augment", flip, True), ("mix", mix, True), ("augment", noise, False)]
    assert plan.mixes_labels


class StepOnly:
    """Has a step_ method but declares nothing: once taken for a proximal step, now refused."""

    def step_(self, params: object, lr: float) -> None:
        raise AssertionError("must not be called")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_undeclared_object_with_a_protocol_method_is_a_one_line_error() -> None:
    with pytest.raises(ValueError) as info:
        make_plan([StepOnly()])
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "fit cannot tell what StepOnly does: it has step_() but declares none of the protocols "
        "of reglab.regularizer (LossPenalty, GradientPenalty, ProximalStep, WeightConstraint, "
        "LabelMixer, InputAugmentation); subclass reglab.regularizer.ProximalStep or call "
        "ProximalStep.register(StepOnly)."
    )


def test_a_user_class_declares_by_subclassing_or_register() -> None:
    class Clip(WeightConstraint):
        def __init__(self) -> None:
            self.calls = 0

        def apply_(self, params: object) -> None:
            self.calls += 1

    class Registered:
        def step_(self, params: object, lr: float) -> None:
            self.lr = lr

    ProximalStep.register(Registered)
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(40, 3, generator=g), torch.randint(0, 2, (40,), generator=g)
    clip, reg = Clip(), Registered()
    rl.fit(nn.Linear(3, 2), (X, y), None, epochs=1, lr=0.01, regularization=[clip, reg],
           progress=False)  # fmt: skip
    assert clip.calls == 2  # two batches of 32
    assert reg.lr == 0.01


def test_protocols_are_abstract() -> None:
    with pytest.raises(TypeError):
        GradientPenalty()  # type: ignore[abstract]


def test_import_reglab_does_not_import_augment() -> None:
    code = "import sys, reglab; print('reglab.augment' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
