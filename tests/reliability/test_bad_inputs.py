"""Bad input, systematically: one table of wrong calls across the public API and the CLI.

Every row is one bad input. A library row must raise ``reglab.ConfigError`` whose message is ONE
line that names the parameter or the problem (the words listed in the row). A CLI row runs
``reglab`` (in this process, through ``reglab.cli.main``, as the console script does) and must
exit with code 2, print exactly one line on stderr naming the problem, no traceback, and leave
nothing a rerun would take for finished work: no ``results.csv``/``summary.json``/
``report.html`` and no COMPLETE trial in the output folder's ``study.db``.

The files are real formats made small and broken (a ragged CSV, a CSV with NaN, an .npz without
``y``, a truncated PNG, ...), written once per module.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import reglab
import reglab.augment as A
import reglab.functional as F
import reglab.nn as rnn
from reglab import ConfigError
from reglab.augment import tabular as TB
from reglab.augment.text import EDA
from reglab.cli import main as reglab_main
from reglab.data import load_dataset, split
from reglab.lab.core.recipe import Recipe
from reglab.lab.queue.storage import CellStore
from reglab.lab.study import StudyConfig

# A port nothing listens on (1 is privileged and unused): connecting is refused at once.
DEAD_PG = "postgresql://nobody@127.0.0.1:1/reglab"


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[dict[str, Path]], Any] | None  # library cases
    words: tuple[str, ...]  # what the one-line message must name
    argv: Callable[[dict[str, Path], Path], list[str]] | None = None  # CLI cases: (files, out)


CASES: list[Case] = []


def api(id: str, *words: str) -> Callable[[Callable[[dict[str, Path]], Any]], None]:
    def register(fn: Callable[[dict[str, Path]], Any]) -> None:
        CASES.append(Case(id, fn, words))

    return register


def bad(id: str, call: Callable[[dict[str, Path]], Any], *words: str) -> None:
    CASES.append(Case(id, call, words))


def cli(id: str, argv: Callable[[dict[str, Path], Path], list[str]], *words: str) -> None:
    CASES.append(Case(id, None, words, argv))


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def _adam() -> torch.optim.Optimizer:
    return torch.optim.Adam(_mlp().parameters())


def _xy(n: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(n, 4), torch.arange(n) % 3


# -- layers (reglab.nn) --------------------------------------------------------------------

bad("Dropout.p>1", lambda f: rnn.Dropout(p=1.5), "'p'", "Dropout", "1.5")
bad("Dropout.p<0", lambda f: rnn.Dropout(p=-0.1), "'p'", "Dropout")
bad("Dropout.p=str", lambda f: rnn.Dropout(p="0.5"), "'p'", "Dropout")
bad("Dropout.p=nan", lambda f: rnn.Dropout(p=float("nan")), "'p'", "Dropout")
bad("Dropout.scaling", lambda f: rnn.Dropout(0.5, scaling="weird"), "'scaling'", "inverted")
bad("Dropout.inplace", lambda f: rnn.Dropout(0.5, inplace="yes"), "'inplace'")
bad("Dropout2d.p", lambda f: rnn.Dropout2d(p=2), "'p'", "Dropout2d")
bad("DropPath.mode", lambda f: rnn.DropPath(0.1, mode="col"), "'mode'", "DropPath")
bad("DropBlock2d.block_size", lambda f: rnn.DropBlock2d(0.1, block_size=0), "'block_size'")
bad("GaussianDropout.p", lambda f: rnn.GaussianDropout(1.0), "'p'", "GaussianDropout")
bad("GaussianNoise.std", lambda f: rnn.GaussianNoise(-1.0), "'std'", "GaussianNoise")
bad("AlphaDropout.p", lambda f: rnn.AlphaDropout(p=1.0), "'p'", "AlphaDropout")
bad("DropConnect.module", lambda f: rnn.DropConnect("linear", 0.5), "'module'", "DropConnect")
bad("BatchNorm.num_features", lambda f: rnn.BatchNorm(0), "'num_features'", "BatchNorm")
bad("BatchNorm.eps", lambda f: rnn.BatchNorm(4, eps=-1e-5), "'eps'", "BatchNorm")
bad("BatchNorm.momentum", lambda f: rnn.BatchNorm(4, momentum=1.5), "'momentum'", "BatchNorm")
bad("BatchNorm.small_batch", lambda f: rnn.BatchNorm(4, small_batch="drop"), "'small_batch'")
bad("BatchNorm.virtual", lambda f: rnn.BatchNorm(4, virtual_batch_size=0), "'virtual_batch_size'")
bad("LayerNorm.shape", lambda f: rnn.LayerNorm(0), "'normalized_shape'", "LayerNorm")
bad("GroupNorm.divisible", lambda f: rnn.GroupNorm(3, 4), "num_groups", "num_channels")
bad("RMSNorm.eps", lambda f: rnn.RMSNorm(4, eps=-1.0), "'eps'", "RMSNorm")

# -- wrong tensors ----------------------------------------------------------------------------

bad("BatchNorm.features", lambda f: rnn.BatchNorm(4)(torch.randn(8, 3)), "4", "3")
bad("BatchNorm.batch_of_1", lambda f: rnn.BatchNorm(4).train()(torch.randn(1, 4)), "batch")
bad("LayerNorm.shape_mismatch", lambda f: rnn.LayerNorm(5)(torch.randn(2, 4)), "5", "4")
bad("dropout.int_tensor", lambda f: F.dropout(torch.ones(4, dtype=torch.long), 0.5), "dtype")
bad("dropout2d.ndim", lambda f: F.dropout2d(torch.randn(4), 0.5), "dropout2d")
bad("drop_block2d.ndim", lambda f: F.drop_block2d(torch.randn(2, 3, 4), 0.1, 3), "drop_block2d")
bad("RandomRotation.2d", lambda f: A.RandomRotation(10)(torch.rand(8, 8)), "(N, C, H, W)", "(8, 8)")
bad("RandomRotation.5d", lambda f: A.RandomRotation(10)(torch.rand(1, 1, 1, 8, 8)), "(N, C, H, W)")
bad("RandomFlip.int", lambda f: A.RandomFlip()(torch.ones(2, 1, 4, 4, dtype=torch.long)), "dtype")
bad(
    "MixUp.label_range",
    lambda f: A.MixUp(0.2, num_classes=3).mix(torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 2, 5])),
    "num_classes",
)
bad(
    "MixUp.y_length",
    lambda f: A.MixUp(0.2, num_classes=3).mix(torch.rand(4, 1, 4, 4), torch.tensor([0, 1])),
    "labels",
    "batch",
)
bad(
    "mc_predict.samples",
    lambda f: rnn.mc_predict(_mlp(), torch.randn(2, 4), samples=0),
    "'samples'",
)

# -- penalties, optimizers, constraints, callbacks, init ------------------------------------------

bad("L1.negative", lambda f: reglab.L1(-0.1), "'l1'", "L1")
bad("L2.nan", lambda f: reglab.L2(float("nan")), "'l2'", "L2")
bad("L2.str", lambda f: reglab.L2("1e-3"), "'l2'", "L2")
bad("ElasticNet.l1", lambda f: reglab.ElasticNet(l1=-1.0, l2=0.1), "'l1'", "ElasticNet")
bad("ProximalL1.l1", lambda f: reglab.ProximalL1(-1e-4), "'l1'", "ProximalL1")
bad(
    "WeightDecay.optimizer", lambda f: reglab.WeightDecay("adam", 0.1), "'optimizer'", "WeightDecay"
)
bad("WeightDecay.negative", lambda f: reglab.WeightDecay(_adam(), -0.1), "'weight_decay'")
bad(
    "WeightDecay.mode",
    lambda f: reglab.WeightDecay(_adam(), 0.1, mode="both"),
    "'mode'",
    "decoupled",
)
bad("MaxNorm.zero", lambda f: reglab.MaxNorm(0.0), "'max_value'", "MaxNorm")
bad("UnitNorm.eps", lambda f: reglab.UnitNorm(eps=-1.0), "'eps'", "UnitNorm")
bad("EarlyStopping.patience", lambda f: reglab.EarlyStopping(patience=-1), "'patience'")
bad("EarlyStopping.mode", lambda f: reglab.EarlyStopping(mode="up"), "'mode'", "EarlyStopping")
bad(
    "EarlyStopping.min_delta", lambda f: reglab.EarlyStopping(min_delta=float("inf")), "'min_delta'"
)
bad(
    "EarlyStopping.unknown_metric",
    lambda f: reglab.EarlyStopping(monitor="val_acc5").step({"val_loss": 1.0}, _mlp()),
    "val_acc5",
    "val_loss",
)
bad(
    "EarlyStopping.no_direction",
    lambda f: reglab.EarlyStopping(monitor="val_los"),
    "'mode'",
    "val_los",
)
bad("init.scheme", lambda f: reglab.init.apply_(_mlp(), scheme="he"), "'scheme'", "kaiming")
bad("fit.epochs", lambda f: reglab.fit(_mlp(), _xy(), _xy(), epochs=0, progress=False), "'epochs'")
bad(
    "fit.lr",
    lambda f: reglab.fit(_mlp(), _xy(), _xy(), epochs=1, lr=-1.0, progress=False),
    "'lr'",
)
bad(
    "fit.device",
    lambda f: reglab.fit(_mlp(), _xy(), _xy(), epochs=1, device="tpu", progress=False),
    "device",
    "tpu",
)

# -- augmentations ------------------------------------------------------------------------------

bad("RandomRotation.range", lambda f: A.RandomRotation((10.0, 5.0)), "'degrees'", "RandomRotation")
bad("RandomTranslation.big", lambda f: A.RandomTranslation(1.5), "'fraction'", "RandomTranslation")
bad("RandomAffine.scale", lambda f: A.RandomAffine(scale=(0.0, 1.0)), "'scale'", "RandomAffine")
bad("RandomFlip.mode", lambda f: A.RandomFlip("diagonal"), "'mode'", "horizontal")
bad("RandomCrop.size", lambda f: A.RandomCrop(0), "'size'", "RandomCrop")
bad("RandomErasing.scale", lambda f: A.RandomErasing(scale=(0.5, 0.1)), "'scale'", "RandomErasing")
bad("RandomZoom.range", lambda f: A.RandomZoom((-1.0, 2.0)), "'range'", "RandomZoom")
bad("RandomBrightness.p", lambda f: A.RandomBrightness(p=2.0), "'p'", "RandomBrightness")
bad(
    "RandomGaussianNoise.std",
    lambda f: A.RandomGaussianNoise(std=-1.0),
    "'std'",
    "RandomGaussianNoise",
)
bad("MixUp.alpha", lambda f: A.MixUp(alpha=-1.0), "'alpha'", "MixUp")
bad("CutMix.smoothing", lambda f: A.CutMix(1.0, label_smoothing=1.5), "'label_smoothing'", "CutMix")
bad("Compose.items", lambda f: A.Compose([1, 2]), "'transforms'", "Compose")
bad("tabular.FeatureNoise", lambda f: TB.FeatureNoise(std=-1.0), "'std'", "FeatureNoise")
bad("EDA.alpha_sr", lambda f: EDA(alpha_sr=2.0), "'alpha_sr'", "EDA")
bad("EDA.num_aug", lambda f: EDA(num_aug=-1), "'num_aug'", "EDA")

# -- recipes, studies, storage ------------------------------------------------------------------

bad("Recipe.dropout", lambda f: Recipe(dropout=1.0), "'dropout'", "Recipe")
bad("Recipe.norm", lambda f: Recipe(norm="instance"), "'norm'", "batch")
bad("Recipe.epochs", lambda f: Recipe(epochs=0), "'epochs'", "Recipe")
bad("Recipe.augment", lambda f: Recipe(augment="blur"), "'augment'", "affine")
bad("Recipe.spec_value", lambda f: Recipe.from_spec("dropout=abc"), "'dropout'", "abc")
bad("Recipe.spec_key", lambda f: Recipe.from_spec("dropuot=0.3"), "dropuot", "dropout")
bad("Recipe.spec_base", lambda f: Recipe.from_spec("nosuch,dropout=0.1"), "nosuch")
bad("Recipe.toml_unknown_key", lambda f: Recipe.from_toml(f["unknown_key.toml"]), "colour")
bad("Recipe.toml_syntax", lambda f: Recipe.from_toml(f["syntax.toml"]), "syntax.toml")
bad("Recipe.toml_missing", lambda f: Recipe.from_toml(f["dir"] / "nope.toml"), "nope.toml")
bad("StudyConfig.seeds", lambda f: StudyConfig(seeds=0), "'seeds'", "StudyConfig")
bad("StudyConfig.recipe", lambda f: StudyConfig(recipes=("nosuch",)), "nosuch")
bad("CellStore.unreachable", lambda f: CellStore(DEAD_PG), "storage", "127.0.0.1:1")
bad("CellStore.bad_scheme", lambda f: CellStore("nosuchdb://x/y"), "storage", "nosuchdb")

# -- data -----------------------------------------------------------------------------------------

bad("data.unknown_name", lambda f: load_dataset("mnist_fake"), "mnist_fake")
bad("data.task", lambda f: load_dataset("iris", task="clustering"), "'task'", "clustering")
bad("data.ragged_csv", lambda f: load_dataset(f["ragged.csv"], target="y"), "ragged.csv")
bad("data.nan_csv", lambda f: load_dataset(f["nan.csv"], target="y"), "nan.csv", "NaN")
bad("data.missing_target", lambda f: load_dataset(f["ok.csv"], target="label"), "label")
bad("data.no_target", lambda f: load_dataset(f["ok.csv"]), "target")
# a text feature is one-hot encoded now; a text column is still refused as a regression target
bad(
    "data.text_feature",
    lambda f: load_dataset(f["text.csv"], target="b", task="regression"),
    "text.csv",
)
bad("data.empty_csv", lambda f: load_dataset(f["empty.csv"], target="y"), "empty.csv")
bad("data.npz_no_y", lambda f: load_dataset(f["no_y.npz"]), "no_y.npz", "y")
bad("data.npz_lengths", lambda f: load_dataset(f["lengths.npz"]), "lengths.npz")
bad("data.npz_corrupt", lambda f: load_dataset(f["corrupt.npz"]), "corrupt.npz")
bad("data.png_truncated", lambda f: load_dataset(f["broken_images"]), "broken.png")
bad("data.png_sizes", lambda f: load_dataset(f["mixed_sizes"]), "image_size")
bad(
    "data.split_train",
    lambda f: split(load_dataset(f["ok.csv"], target="y"), train_size=0),
    "'train_size'",
)
bad(
    "data.split_too_big",
    lambda f: split(load_dataset(f["ok.csv"], target="y"), train_size=500),
    "train_size",
)

# -- the CLI --------------------------------------------------------------------------------------

_TINY = ["--train-size", "12", "--val-size", "6", "--seeds", "1", "--epochs", "1", "--no-progress"]


def _study(*args: str) -> Callable[[dict[str, Path], Path], list[str]]:
    def argv(f: dict[str, Path], out: Path) -> list[str]:
        resolved = [str(f[a[1:]]) if a.startswith("@") else a for a in args]
        return ["study", *resolved, "--out", str(out)]

    return argv


cli("cli.unknown_data", _study("--data", "nosuch_set", *_TINY), "nosuch_set")
cli("cli.ragged_csv", _study("--data", "@ragged.csv", "--target", "y", *_TINY), "ragged.csv")
cli("cli.nan_csv", _study("--data", "@nan.csv", "--target", "y", *_TINY), "NaN")
cli("cli.missing_target", _study("--data", "@ok.csv", "--target", "label", *_TINY), "label")
cli("cli.no_target", _study("--data", "@ok.csv", *_TINY), "target")
cli("cli.corrupt_npz", _study("--data", "@corrupt.npz", *_TINY), "corrupt.npz")
cli("cli.broken_png", _study("--data", "@broken_images", *_TINY), "broken.png")
cli(
    "cli.train_size_text",
    _study("--data", "@ok.csv", "--target", "y", "--train-size", "abc"),
    "--train-size",
    "abc",
)
cli(
    "cli.train_size_zero",
    _study("--data", "@ok.csv", "--target", "y", "--train-size", "0", "--seeds", "1"),
    "train_size",
)
cli("cli.seeds_zero", _study("--data", "@ok.csv", "--target", "y", "--seeds", "0"), "seeds")
cli("cli.seeds_text", _study("--seeds", "three"), "--seeds", "three")
cli(
    "cli.epochs_zero",
    _study("--data", "@ok.csv", "--target", "y", "--seeds", "1", "--epochs", "0"),
    "epochs",
)
cli("cli.jobs_zero", _study("--data", "@ok.csv", "--target", "y", *_TINY, "--jobs", "0"), "jobs")
cli(
    "cli.unknown_recipe",
    _study("--data", "@ok.csv", "--target", "y", "--recipes", "nosuch", *_TINY),
    "nosuch",
)
cli(
    "cli.recipe_spec_key",
    _study("--data", "@ok.csv", "--target", "y", "--recipe", "dropuot=0.3", *_TINY),
    "dropuot",
)
cli(
    "cli.recipe_toml_keys",
    _study("--data", "@ok.csv", "--target", "y", "--recipe", "@unknown_key.toml", *_TINY),
    "colour",
)
cli(
    "cli.recipe_toml_missing",
    _study("--data", "@ok.csv", "--target", "y", "--recipe", "nope.toml", *_TINY),
    "nope.toml",
)
cli(
    "cli.model_module",
    _study("--data", "@ok.csv", "--target", "y", "--model", "no_such_pkg.models:f", *_TINY),
    "no_such_pkg",
)
cli(
    "cli.model_name",
    _study("--data", "@ok.csv", "--target", "y", "--model", "transformer", *_TINY),
    "transformer",
)
cli(
    "cli.storage_unreachable",
    _study("--data", "@ok.csv", "--target", "y", "--storage", DEAD_PG, *_TINY),
    "127.0.0.1:1",
)
cli(
    "cli.storage_scheme",
    _study("--data", "@ok.csv", "--target", "y", "--storage", "nosuchdb://x/y", *_TINY),
    "nosuchdb",
)
cli("cli.resume_nothing", _study("--resume"), "resume")
cli(
    "cli.join_no_study",
    lambda f, out: [
        "study",
        "--join",
        "--storage",
        f"sqlite:///{out.parent / 'j.db'}",
        "--out",
        str(out),
    ],
    "no reglab study",
)
cli("cli.unknown_option", _study("--colour", "red"), "--colour")
cli("cli.unknown_command", lambda f, out: ["stuyd", "--out", str(out)], "stuyd")
cli("cli.report_empty", lambda f, out: ["report", str(out)], "study")


# -- the files ------------------------------------------------------------------------------------


def _png(path: Path, size: tuple[int, int], value: int = 128) -> None:
    from PIL import Image

    Image.new("L", size, color=value).save(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad_inputs")
    f: dict[str, Path] = {"dir": d}

    def write(name: str, text: str) -> None:
        (d / name).write_text(text)
        f[name] = d / name

    rows = "\n".join(f"{i * 0.1:.1f},{(i * 7) % 5 * 0.2:.1f},{i % 2}" for i in range(24))
    write("ok.csv", "a,b,y\n" + rows + "\n")
    write("ragged.csv", "a,b,y\n1.0,2.0,0\n3.0,1\n4.0,5.0,1\n")
    # missing features are imputed now; a missing target is still refused
    write("nan.csv", "a,b,y\n1.0,2.0,0\n3.0,1.0,nan\n4.0,5.0,1\n2.0,2.0,0\n")
    write("text.csv", "a,b,y\n1.0,red,0\n3.0,blue,1\n4.0,green,1\n")
    write("empty.csv", "")
    write("unknown_key.toml", 'base = "dropout"\ncolour = "blue"\n')
    write("syntax.toml", "dropout = = 0.3\n")
    np.savez(d / "no_y.npz", X=np.zeros((6, 2)))
    f["no_y.npz"] = d / "no_y.npz"
    np.savez(d / "lengths.npz", X=np.zeros((6, 2)), y=np.zeros(5, dtype=np.int64))
    f["lengths.npz"] = d / "lengths.npz"
    (d / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    f["corrupt.npz"] = d / "corrupt.npz"
    broken = d / "broken_images"
    for cls in ("cat", "dog"):
        (broken / cls).mkdir(parents=True)
        for i in range(3):
            _png(broken / cls / f"{i}.png", (8, 8), 40 * i)
    good = (broken / "dog" / "0.png").read_bytes()
    (broken / "dog" / "broken.png").write_bytes(good[: len(good) // 2])
    f["broken_images"] = broken
    mixed = d / "mixed_sizes"
    for cls, size in (("a", (8, 8)), ("b", (6, 9))):
        (mixed / cls).mkdir(parents=True)
        for i in range(3):
            _png(mixed / cls / f"{i}.png", size, 30 * i)
    f["mixed_sizes"] = mixed
    return f


# -- the test ---------------------------------------------------------------------------------------


def _complete_trials(out: Path) -> int:
    total = 0
    for db in out.rglob("*.db"):
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            total += con.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[
                0
            ]
        except sqlite3.OperationalError:  # no Optuna tables: nothing stored
            pass
        finally:
            con.close()
    return total


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_one_line_naming_the_problem(case, files, tmp_path, capfd):
    if case.call is not None:
        with pytest.raises(ConfigError) as info:
            case.call(files)
        message = str(info.value)
    else:
        assert case.argv is not None
        out = tmp_path / "out"
        capfd.readouterr()
        code = reglab_main(case.argv(files, out))
        captured = capfd.readouterr()
        lines = captured.err.strip("\n").splitlines()
        assert code == 2, f"exit code {code}; stderr: {captured.err!r}"
        assert "Traceback" not in captured.err + captured.out
        assert len(lines) == 1, f"expected one stderr line, got {len(lines)}: {captured.err!r}"
        message = lines[0]
        # Nothing a rerun would take for finished work.
        leftovers = [
            n for n in ("results.csv", "summary.json", "report.html") if (out / n).exists()
        ]
        assert leftovers == []
        assert _complete_trials(out) == 0
    assert "\n" not in message.strip(), f"message has several lines: {message!r}"
    assert message.strip(), "empty message"
    missing = [w for w in case.words if w not in message]
    assert missing == [], f"message does not name {missing}: {message!r}"


def test_the_table_covers_at_least_sixty_bad_inputs():
    assert len(CASES) >= 60
    assert sum(c.argv is not None for c in CASES) >= 20
    assert len({c.id for c in CASES}) == len(CASES)


def test_console_script_exits_2_with_one_line(tmp_path):
    """The installed entry point (not only ``main``): exit status 2, one line, no traceback."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "reglab.cli",
            "study",
            "--data",
            "nosuch_set",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "nosuch_set" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results.csv").exists()
