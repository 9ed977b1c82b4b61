"""A mistyped name gets the one "Did you mean" suggestion wherever a name is looked up (issue 21, 7).

Recipes, datasets, models, claims, monitor names and CLI choices all use
:func:`reglab.errors.did_you_mean`; the command-line cases run the real ``reglab`` command.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import reglab as rl
from reglab.errors import ConfigError, did_you_mean
from tests.helpers import run_reglab


def _reglab(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_reglab(args, cwd)


def test_helper_names_the_closest_choice_or_nothing() -> None:
    assert did_you_mean("dropuot", ["baseline", "dropout"]) == " Did you mean 'dropout'?"
    assert did_you_mean("WNIE", ["wine", "iris"]) == " Did you mean 'wine'?"
    assert did_you_mean("zzz", ["baseline", "dropout"]) == ""
    assert did_you_mean(3, ["baseline"]) == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["study", "--recipes", "baseline,dropuot"],
            "reglab: error: The 'recipes' parameter of StudyConfig must be one of 'all', "
            "'augment', 'baseline', 'batchnorm', 'dropout', 'early_stopping', 'eda', "
            "'weight_decay'. Got 'dropuot' instead. Did you mean 'dropout'?",
        ),
        (
            ["study", "--recipe", "al,dropout=0.3"],
            "reglab: error: Unknown built-in recipe 'al' in 'al,dropout=0.3'. Did you mean "
            "'all'? Valid names: baseline, dropout, weight_decay, batchnorm, augment, "
            "early_stopping, all, eda.",
        ),
        (
            ["study", "--data", "wnie"],
            "reglab: error: Unknown dataset 'wnie'. Did you mean 'wine'? Built-in datasets: "
            "breast_cancer, diabetes, digits, fashion_mnist, iris, mnist1d, rotten_tomatoes, "
            "wine; or give the path of a file or folder.",
        ),
        (
            ["study", "--test", "oficial"],
            "reglab study: error: Invalid value for '--test': 'oficial' is not one of "
            "'official', 'random'. Did you mean 'official'?",
        ),
        (
            ["tune", "--space", "dropout,weight_decy"],
            "reglab: error: The 'space' parameter of TuneConfig must be one of 'dropout', "
            "'weight_decay', 'l1', 'augment', 'augment_magnitude', 'mixup', 'label_smoothing', "
            "'width', 'epochs'. Got 'weight_decy' instead. Did you mean 'weight_decay'?",
        ),
        (
            ["study", "--data", "iris", "--device", "cdua"],
            "reglab: error: The 'device' parameter of run_study must be 'auto', 'cpu', 'cuda', "
            "'cuda:N' or 'mps'. Got 'cdua' instead. Did you mean 'cuda'?",
        ),
    ],
    ids=["recipes", "recipe-base", "dataset", "cli-choice", "tune-space", "device"],
)
def test_command_line_suggests_the_close_name(
    args: list[str], message: str, tmp_path: Path
) -> None:
    proc = _reglab([*args, "--out", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [message]
    assert not (tmp_path / "out").exists()


def test_command_line_suggests_the_model_on_a_file_written_here(tmp_path: Path) -> None:
    rows = ["a,b,label"] + [f"{i % 7},{i % 5},{'yes' if i % 2 else 'no'}" for i in range(60)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    proc = _reglab(
        ["study", "--data", "t.csv", "--target", "label", "--model", "mlpp", "--out", "o"],
        tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.endswith("Got 'mlpp' instead. Did you mean 'mlp'?"), line


def test_claims_only_suggests_the_claim() -> None:
    from reglab.lab.claims.config import selection

    with pytest.raises(ConfigError, match=r"Did you mean 'l1-proximal-exact-zeros'\?$"):
        selection("l1-proximal-exact-zero")


def test_recipe_spec_item_suggests_the_key() -> None:
    from reglab.lab.core.recipe import Recipe

    with pytest.raises(ConfigError, match=r"Did you mean 'dropout'\?$"):
        Recipe.from_spec("all,dropuot")


def test_early_stopping_monitor_typo_is_named_not_mode() -> None:
    with pytest.raises(ConfigError) as info:
        rl.EarlyStopping(monitor="val_los")
    assert str(info.value) == (
        "The 'monitor' parameter of EarlyStopping names 'val_los', which is not a known metric "
        "name. Did you mean 'val_loss'? For a metric of your own, set its direction with the 'mode' parameter ('min' or 'max')."
    )
    # A name far from every known metric still asks for mode.
    with pytest.raises(ConfigError, match="The 'mode' parameter of EarlyStopping"):
        rl.EarlyStopping(monitor="sharpness")


def test_early_stopping_missing_key_suggests_the_close_one() -> None:
    es = rl.EarlyStopping(monitor="val_los", mode="min")
    with pytest.raises(ConfigError) as info:
        es.step({"val_loss": 1.0, "val_acc": 0.5})
    assert str(info.value) == (
        "EarlyStopping monitors 'val_los', which is not among the metrics given. Did you mean "
        "'val_loss'? Available keys: 'val_loss', 'val_acc'."
    )


def test_declared_choices_suggest_through_check() -> None:
    with pytest.raises(ConfigError) as info:
        rl.nn.Dropout(0.5, scaling="inverterd")
    assert str(info.value).endswith("Got 'inverterd' instead. Did you mean 'inverted'?")
