"""A reglab study whose cells train a LightningModule with reglab's Lightning callbacks.

Each (recipe, seed) cell calls :func:`run`: the recipe's parts (optimizer, penalties, proximal
step, max-norm, schedule, early stopping, loss) go into a ``lightning.pytorch.Trainer`` through
``reglab.integrations.lightning``; the lab stores the rows, resumes, and writes the report.

Run: ``python examples/lightning_study.py [--out runs/lightning] [--epochs 20] [--seeds 2]``
(needs ``pip install 'reglab[lab,lightning]'``; about a minute on a laptop CPU). The same study
from the command line: ``reglab study --train-fn lightning_study:run --data digits ...`` run from
this folder.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import reglab as rl
from reglab.integrations.lightning import LightningEarlyStopping, PreciseBN, Regularization
from reglab.lab.study import StudyConfig, run_study
from reglab.lab.study.report import summary_table
from reglab.models import build_model
from reglab.train import evaluate
from reglab.train.regularization import make_plan
from reglab.train.spec import TrainingParts


class Classifier(pl.LightningModule):
    """A network, a loss, the batch transforms of the recipe (augmentation, mixing) and its
    optimizer and schedule, as a LightningModule."""

    def __init__(self, net: nn.Module, parts: TrainingParts, batch: list[Any], seed: int):
        super().__init__()
        self.net, self.parts, self.batch = net, parts, batch
        self.loss_fn = parts.loss or nn.CrossEntropyLoss()
        self.gen = torch.Generator().manual_seed(seed)
        self.history: list[dict[str, Any]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        for kind, obj, passes_generator in self.batch:
            if kind == "mix":
                x, y = obj.mix(x, y, generator=self.gen)
            else:
                x = obj(x, generator=self.gen) if passes_generator else obj(x)
        return self.loss_fn(self.net(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        out = self.net(x)
        self.log("val_loss", nn.functional.cross_entropy(out, y), prog_bar=False)
        self.log("val_acc", (out.argmax(1) == y).float().mean())

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            m = self.trainer.callback_metrics
            row = {"val_loss": float(m["val_loss"]), "val_acc": float(m["val_acc"])}
            self.history.append({"epoch": self.current_epoch, **row})

    def configure_optimizers(self) -> Any:
        opt = self.parts.optimizer  # Adam/SGD, wrapped in reglab.WeightDecay when asked
        schedulers = [c for c in self.parts.callbacks if hasattr(c, "get_last_lr")]
        if not schedulers:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": schedulers[0], "interval": "epoch"}}


def _loader(ds: Any, batch_size: int, generator: torch.Generator | None = None) -> DataLoader:
    x, y = ds.tensors()
    return DataLoader(TensorDataset(x, y), batch_size, shuffle=generator is not None,
                      generator=generator)  # fmt: skip


def run(recipe: Any, splits: Any, seed: int, device: str) -> dict[str, Any]:
    """One study cell: train ``recipe`` with ``seed`` in Lightning, measure train/val/test."""
    net = build_model(recipe, splits.input_shape, splits.num_outputs, kind="mlp")
    parts = recipe.parts(net, input_shape=tuple(splits.input_shape), num_classes=splits.num_classes)
    plan = make_plan(parts.regularization)
    callbacks: list[pl.Callback] = []
    weight_side = [*plan.penalties, *plan.proximal, *plan.constraints]
    if weight_side:
        callbacks.append(Regularization(weight_side))
    for cb in parts.callbacks:
        if isinstance(cb, rl.EarlyStopping):
            callbacks.append(LightningEarlyStopping.from_decision(cb))
    if recipe.norm == "batch":
        callbacks.append(PreciseBN(num_batches=10))
    module = Classifier(net, parts, plan.batch, seed)
    trainer = pl.Trainer(
        max_epochs=parts.epochs,
        accelerator="gpu" if device.startswith("cuda") else "cpu",
        devices=1,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic=True,
    )
    gen = torch.Generator().manual_seed(seed)
    trainer.fit(module, _loader(splits.train, recipe.batch_size, gen), _loader(splits.val, 512))
    net = net.to(device)
    scores = {
        part: evaluate(net, ((x.to(device), y.to(device)) for x, y in _loader(getattr(splits, part), 512)))
        for part in ("train", "val", "test")
    }  # fmt: skip
    stopper = next((c for c in callbacks if isinstance(c, LightningEarlyStopping)), None)
    return {
        **{f"{p}_loss": s[0] for p, s in scores.items()},
        **{f"{p}_acc": s[1] for p, s in scores.items()},
        "epochs": trainer.current_epoch,
        "best_epoch": stopper.best_epoch if stopper else trainer.current_epoch - 1,
        "stop_reason": str(stopper.stop_reason) if stopper and stopper.stop_reason else "completed",
        "history": module.history,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/lightning-study")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seeds", type=int, default=2)
    args = p.parse_args()
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="lightning")
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # workers import lightning_study
    recipes = (
        "baseline",
        "weight_decay",
        "batchnorm",
        "early_stopping",
        ("penalties", rl.lab.Recipe.from_spec("l2=1e-4,proximal_l1=1e-4,max_norm=3")),
    )
    config = StudyConfig(
        data="digits", recipes=recipes, seeds=args.seeds, epochs=args.epochs,
        train_fn="lightning_study:run",
    )  # fmt: skip
    outcome = run_study(config, args.out, jobs=1)
    for line in summary_table(outcome.rows):
        print(line)
    print(f"{outcome.done}/{outcome.cells} cells in {outcome.seconds:.1f} s; "
          f"report: {Path(args.out) / 'report.html'}")  # fmt: skip


if __name__ == "__main__":
    main()
