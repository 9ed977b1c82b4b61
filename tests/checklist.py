"""The one checklist every reglab module runs (as torch's ModuleInfo and kornia's CommonTests do).

Use from a test file: :func:`checklist` makes one test per (case, check), so a failure names
both, as in ``test_checklist[Dropout-state_dict_roundtrip]``::

    CASES = [ModuleCase("Dropout", lambda: rl.nn.Dropout(0.3), (4, 8))]

    @pytest.mark.parametrize(("case", "check"), checklist(CASES))
    def test_checklist(case: ModuleCase, check: Check) -> None:
        check(case)

Each item asserts something that can fail: eval output is deterministic and (for stochastic
layers) training output differs between draws; a state_dict round trip reproduces eval outputs;
float32 and float64 inputs give outputs of the same dtype; ``repr`` shows the settings;
``torch.compile`` (aot_eager) gives the eager result; bad constructor arguments raise the exact
one-line message.

Augmentations are not modules (no train/eval, no state_dict): an :class:`AugmentationCase` runs
the items that apply, ``repr``, bad inputs, replay (the same seed gives the same bits, drawn
parameters replay the call exactly, another seed gives another draw) and dtypes. A
:class:`CallbackCase` runs a state_dict resume, ``repr`` and bad inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import torch
from torch import nn

from reglab import ConfigError
from tests.helpers import seeded

if TYPE_CHECKING:
    from _pytest.mark.structures import ParameterSet


@dataclass
class ModuleCase:
    """A module under the checklist.

    ``make`` builds a fresh module (same seed each call gives same parameters); ``input_shape``
    is a float input shape; ``stochastic`` says training mode draws randomness; ``repr_contains``
    are substrings ``repr(module)`` must show; ``bad`` maps constructor callables to the exact
    error message they must raise.
    """

    name: str
    make: Callable[[], nn.Module]
    input_shape: Sequence[int]
    stochastic: bool = False
    repr_contains: Sequence[str] = ()
    bad: Sequence[tuple[Callable[[], Any], str]] = field(default_factory=list)
    compile: bool = True
    atol: float = 1e-6


def _input(case: ModuleCase, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    return torch.randn(*case.input_shape, generator=seeded(seed), dtype=dtype)


def check_train_eval(case: ModuleCase) -> None:
    torch.manual_seed(0)
    m = case.make()
    x = _input(case, torch.float32)
    m.train()
    a, b = m(x), m(x)
    if case.stochastic:
        assert not torch.equal(a, b), "training mode should draw a new mask/noise per call"
    m.eval()
    e1, e2 = m(x), m(x)
    assert torch.equal(e1, e2), "eval mode must be deterministic"
    assert m.training is False


def check_state_dict(case: ModuleCase) -> None:
    torch.manual_seed(0)
    m = case.make()
    x = _input(case, torch.float32)
    m.train()
    for _ in range(2):  # move running statistics, if any, away from their initial values
        m(x + 1.0)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.01)
    torch.manual_seed(1)
    m2 = case.make()
    m2.load_state_dict(m.state_dict())
    m.eval()
    m2.eval()
    torch.testing.assert_close(m2(x), m(x), rtol=0, atol=0)


def check_dtypes(case: ModuleCase) -> None:
    for dtype in (torch.float32, torch.float64):
        torch.manual_seed(0)
        m = case.make().to(dtype)
        x = _input(case, dtype)
        for mode in (True, False):
            m.train(mode)
            y = m(x)
            assert y.dtype == dtype, f"{case.name} returned {y.dtype} for {dtype} input"


def check_repr(case: ModuleCase) -> None:
    text = repr(case.make())
    assert case.name.split("[")[0] in text
    for s in case.repr_contains:
        assert s in text, f"repr {text!r} lacks {s!r}"


def check_compile(case: ModuleCase) -> None:
    if not case.compile:
        pytest.skip(reason=f"{case.name} opts out of the torch.compile check")
    torch.manual_seed(0)
    m = case.make().eval()
    x = _input(case, torch.float32)
    expected = m(x)
    compiled = torch.compile(m, backend="aot_eager")
    torch.testing.assert_close(compiled(x), expected, atol=case.atol, rtol=1e-5)


def check_bad_inputs(case: ModuleCase) -> None:
    for build, message in case.bad:
        with pytest.raises(ConfigError) as info:
            build()
        assert str(info.value) == message
        assert "\n" not in str(info.value)


@dataclass
class AugmentationCase:
    """An augmentation under the checklist.

    ``kind`` is ``"transform"`` (``aug(x, generator)``, with ``generate_params``/``apply``),
    ``"mixer"`` (``aug.mix(x, y, generator)``, integer labels of ``num_classes`` classes) or
    ``"text"`` (``aug(sentence, generator=seed)`` returns a list of sentences).
    """

    name: str
    make: Callable[[], Any]
    input_shape: Sequence[int] = (4, 3, 8, 8)
    kind: str = "transform"
    stochastic: bool = True
    repr_contains: Sequence[str] = ()
    bad: Sequence[tuple[Callable[[], Any], str]] = field(default_factory=list)
    num_classes: int = 3
    sentence: str = "the quick brown fox jumps over the lazy dog near the quiet river bank"


def _aug_data(case: AugmentationCase, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(*case.input_shape, generator=seeded(0), dtype=dtype)
    y = torch.arange(case.input_shape[0]) % case.num_classes
    return x, y


def _run(aug: Any, case: AugmentationCase, x: torch.Tensor, y: torch.Tensor, seed: int) -> Any:
    if case.kind == "mixer":
        return aug.mix(x, y, seeded(seed))
    return aug(x, seeded(seed))


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, tuple):
        return all(torch.equal(u, v) for u, v in zip(a, b))
    return torch.equal(a, b)


def check_replay(case: AugmentationCase) -> None:
    aug = case.make()
    if case.kind == "text":
        first = aug(case.sentence, generator=0)
        assert aug(case.sentence, generator=0) == first, "same seed must give the same output"
        if case.stochastic:
            others = [aug(case.sentence, generator=s) for s in range(1, 6)]
            assert any(o != first for o in others), "other seeds should give other draws"
        return
    x, y = _aug_data(case, torch.float32)
    before = x.clone()
    out = _run(aug, case, x, y, 0)
    assert torch.equal(x, before), f"{case.name} modified its input"
    assert _equal(_run(aug, case, x, y, 0), out), "same seed must give the same bits"
    params = aug.generate_params(x.shape, seeded(0))
    saved = {k: v.clone() for k, v in params.items()}
    replay = aug.apply(x, y, saved) if case.kind == "mixer" else aug.apply(x, saved)
    assert _equal(replay, out), "apply(generate_params(shape, g)) must equal the call with g"
    if case.stochastic:
        assert not _equal(_run(aug, case, x, y, 1), out), "another seed should draw again"


def check_aug_dtypes(case: AugmentationCase) -> None:
    aug = case.make()
    if case.kind == "text":
        out = aug(case.sentence, generator=0)
        assert isinstance(out, list) and all(isinstance(s, str) for s in out)
        return
    for dtype in (torch.float32, torch.float64):
        x, y = _aug_data(case, dtype)
        out = _run(aug, case, x, y, 0)
        xm = out[0] if case.kind == "mixer" else out
        assert xm.dtype == dtype and xm.shape[:2] == x.shape[:2], f"{case.name}: {xm.dtype}"
        if case.kind == "mixer":
            assert out[1].dtype == dtype and out[1].shape == (x.shape[0], case.num_classes)


@dataclass
class CallbackCase:
    """A training callback under the checklist: made by ``make``, fed ``curve`` (one metrics
    dict per epoch) through ``step(metrics, model)``; ``repr_contains`` and ``bad`` as for
    modules."""

    name: str
    make: Callable[[], Any]
    curve: Sequence[Mapping[str, float]]
    repr_contains: Sequence[str] = ()
    bad: Sequence[tuple[Callable[[], Any], str]] = ()


def _decisions(cb: Any, curve: Sequence[Mapping[str, float]], model: nn.Module) -> list[bool]:
    return [bool(cb.step(dict(m), model)) for m in curve]


def check_callback_state_dict(case: CallbackCase) -> None:
    """Stopped halfway, saved and loaded into a fresh callback: the same decisions follow."""
    model = nn.Linear(2, 2)
    whole = case.make()
    expected = _decisions(whole, case.curve, model)
    half = len(case.curve) // 2
    first = case.make()
    _decisions(first, case.curve[:half], model)
    resumed = case.make()
    resumed.load_state_dict(copy.deepcopy(first.state_dict()))
    assert _decisions(resumed, case.curve[half:], model) == expected[half:], case.name
    assert any(expected), f"{case.name}: the scripted curve must make the callback act"


def check_callback_repr(case: CallbackCase) -> None:
    text = repr(case.make())
    for part in (case.name, *case.repr_contains):
        assert part in text, f"{part!r} not in {text!r}"


def check_callback_bad_inputs(case: CallbackCase) -> None:
    for call, message in case.bad:
        with pytest.raises(ConfigError) as info:
            call()
        assert str(info.value) == message


Check = Callable[[Any], None]
Case = ModuleCase | AugmentationCase | CallbackCase

MODULE_CHECKS: dict[str, Check] = {
    "train_eval": check_train_eval,
    "state_dict_roundtrip": check_state_dict,
    "dtypes": check_dtypes,
    "repr": check_repr,
    "compile": check_compile,
    "bad_inputs": check_bad_inputs,
}

AUGMENTATION_CHECKS: dict[str, Check] = {
    "repr": check_repr,
    "bad_inputs": check_bad_inputs,
    "replay": check_replay,
    "dtypes": check_aug_dtypes,
}

CALLBACK_CHECKS: dict[str, Check] = {
    "state_dict_resume": check_callback_state_dict,
    "repr": check_callback_repr,
    "bad_inputs": check_callback_bad_inputs,
}


def checks_for(case: Case) -> dict[str, Check]:
    """The checklist items that apply to ``case``, by name."""
    if isinstance(case, AugmentationCase):
        return AUGMENTATION_CHECKS
    if isinstance(case, CallbackCase):
        return CALLBACK_CHECKS
    return MODULE_CHECKS


def checklist(
    cases: Sequence[Case],
    only: Sequence[str] | None = None,
    ids: Callable[[Any], str] = lambda case: case.name,
) -> list[ParameterSet]:
    """One ``pytest.param(case, check)`` per case and applicable check (or ``only`` those named),
    with the id ``"<case id>-<check name>"``; parametrize ``("case", "check")`` with it."""
    params = []
    for case in cases:
        checks = checks_for(case)
        unknown = set(only or ()) - set(checks)
        if unknown:
            raise ValueError(
                f"{case.name}: no checklist items {sorted(unknown)}; have {list(checks)}"
            )
        for name, check in checks.items():
            if only is None or name in only:
                params.append(pytest.param(case, check, id=f"{ids(case)}-{name}"))
    return params
