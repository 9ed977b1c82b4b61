"""The claim table: every source note exists, every arm a valid recipe, every rule's arm run."""

from __future__ import annotations

from pathlib import Path

import pytest

from reglab.lab.claims.arithmetic import CHECKS
from reglab.lab.claims.table import CHECK_ARM, CLAIMS, NOTES, ClaimSetting, NoteClaim
from reglab.lab.core.recipe import Recipe

SEEDS = Path(__file__).resolve().parents[4] / "shared" / "seeds"

ISSUE_IDS = [
    "dropout-reduces-overfitting",
    "dropout-updates-only-kept-units",
    "classic-equals-inverted-expectation",
    "classic-equals-inverted-accuracy",
    "l1-loss-exact-zeros",
    "l1-proximal-exact-zeros",
    "l2-shrinks-weights",
    "weight-decay-equals-l2-sgd",
    "weight-decay-differs-from-l2-adam",
    "early-stopping-at-validation-minimum",
    "batchnorm-placement",
    "batchnorm-running-stats-at-inference",
    "batchnorm-needs-large-batches",
    "batchnorm-allows-higher-lr",
    "layernorm-harder-on-fcn",
    "batchnorm-can-replace-dropout",
    "initialization-matters",
    "augmentation-reduces-overfitting",
    "regularization-converges-faster",
]


def test_every_claim_of_the_issue_is_in_the_table_in_order():
    assert list(CLAIMS) == ISSUE_IDS


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the shared notes are not beside the checkout")
def test_every_note_named_exists():
    assert sorted(p.name for p in SEEDS.glob("*.txt")) == sorted(NOTES.values())


def _problems(claim: NoteClaim) -> list[str]:
    problems = [f"unknown note {s!r}" for s in claim.sources if s not in NOTES]
    for arm, changes in claim.arms.items():
        if arm == CHECK_ARM:
            if changes not in CHECKS:
                problems.append(f"unknown check {changes!r}")
            continue
        try:
            Recipe.from_spec(claim.arm_spec(arm))
        except ValueError as exc:
            problems.append(f"arm {arm!r}: {exc}")
    problems += [
        f"rule reads arm {a!r} that is not run" for a in claim.rule.arms() - set(claim.arms)
    ]
    return problems


@pytest.mark.parametrize("claim_id", list(CLAIMS))
def test_each_claim_is_well_formed(claim_id):
    assert _problems(CLAIMS[claim_id]) == []


def test_the_checker_catches_bad_entries():
    good = CLAIMS["dropout-reduces-overfitting"]
    bad_note = NoteClaim(**{**good.__dict__, "sources": ("007",)})
    bad_key = NoteClaim(**{**good.__dict__, "arms": {**good.arms, "dropout": "dropuot=0.5"}})
    missing_arm = NoteClaim(**{**good.__dict__, "arms": {"baseline": ""}})
    assert _problems(bad_note) == ["unknown note '007'"]
    assert "has an unknown key 'dropuot'" in _problems(bad_key)[0]
    assert _problems(missing_arm) == ["rule reads arm 'dropout' that is not run"]


def test_settings_name_builtin_data_and_registered_models():
    from reglab.data import BUILTIN_DATASETS
    from reglab.models import model_names

    for claim in CLAIMS.values():
        s: ClaimSetting = claim.setting
        if set(claim.arms) == {CHECK_ARM}:
            continue
        assert s.data in BUILTIN_DATASETS and s.model in model_names(), claim.id
