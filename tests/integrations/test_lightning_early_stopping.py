"""The Lightning LightningEarlyStopping stops where reglab's and Keras's do, and restores the best epoch."""

from __future__ import annotations

import math
import os
import random
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import reglab as rl
from reglab.callbacks import StopReason

pl = pytest.importorskip("lightning.pytorch", reason="needs the lightning extra")
from reglab.integrations.lightning import LightningEarlyStopping  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


class Scripted(pl.LightningModule):
    """Its parameter and buffer hold the epoch number; validation logs a scripted curve."""

    def __init__(self, values: list[float], monitor: str = "val_loss") -> None:
        super().__init__()
        self.values, self.monitor = values, monitor
        self.w = nn.Parameter(torch.zeros(2, 2))
        self.register_buffer("b", torch.zeros(3))

    def training_step(self, batch: Any, batch_idx: int) -> None:
        with torch.no_grad():
            self.w.fill_(self.current_epoch)
            self.b.fill_(self.current_epoch)
        return None  # no optimizer step

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        value = torch.tensor(self.values[self.current_epoch], dtype=torch.float64)
        self.log(self.monitor, value)
        self.log("other", 0.0)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD([self.w], lr=0.1)


def _loader() -> DataLoader:
    return DataLoader(TensorDataset(torch.zeros(1, 1)), batch_size=1)


def _trainer(epochs: int, callbacks: list[Any], **kwargs: Any) -> Any:
    return pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **kwargs,
    )


def run_lightning(kwargs: dict[str, Any], values: list[float]) -> dict[str, Any]:
    monitor = kwargs.get("monitor", "val_loss")
    es = LightningEarlyStopping(check_finite=False, **kwargs)
    module = Scripted(values, monitor)
    trainer = _trainer(len(values), [es])
    trainer.fit(module, _loader(), _loader())
    tag = int(module.w[0, 0].item())
    assert tag == int(module.b[0].item()), "parameters and buffers restored from different epochs"
    stop = es.stopped_epoch if es.stop_reason is not None else None
    if stop is not None:
        assert trainer.current_epoch == stop + 1  # no epoch ran after the stop
    return {
        "stop": stop,
        "best_epoch": es.best_epoch,
        "stopped_epoch": es.stopped_epoch,
        "weights": tag,
    }


def run_reglab(kwargs: dict[str, Any], values: list[float]) -> dict[str, Any]:
    es = rl.EarlyStopping(check_finite=False, **kwargs)
    model = Scripted(values)
    stop = None
    for epoch, v in enumerate(values):
        with torch.no_grad():
            model.w.fill_(epoch)
            model.b.fill_(epoch)
        if es.step({kwargs.get("monitor", "val_loss"): v}, model):
            stop = epoch
            break
    es.finish(model)
    tag = int(model.w[0, 0].item())
    return {
        "stop": stop,
        "best_epoch": es.best_epoch,
        "stopped_epoch": es.stopped_epoch,
        "weights": tag,
    }


HAND: list[tuple[dict[str, Any], list[float]]] = [
    ({}, [1.0, 0.9, 0.8, 0.85]),
    ({}, [1.0, 1.0]),
    ({"patience": 2}, [0.5, 0.6, 0.4, 0.45, 0.46, 0.3]),
    ({"patience": 1, "min_delta": 0.1}, [1.0, 0.95, 0.7, 0.65]),
    ({"patience": 2, "baseline": 0.5}, [0.9, 0.95, 0.96, 0.4, 0.45, 0.46]),
    ({"patience": 1, "start_from_epoch": 3}, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
    ({"monitor": "val_acc", "mode": "max", "patience": 1}, [0.5, 0.7, 0.7, 0.6]),
    ({"patience": 2}, [1.0, math.nan, 0.5, 0.4]),
    ({"restore_best_weights": True, "patience": 2}, [0.5, 0.3, 0.4, 0.35, 0.2]),
    ({"restore_best_weights": True, "patience": 1}, [0.5, 0.3, 0.4, 0.2]),
    ({"restore_best_weights": True, "patience": 5}, [0.5, 0.4, 0.45]),  # ends without a stop
    ({"restore_best_weights": True, "start_from_epoch": 2, "patience": 1}, [0.1, 0.2, 0.3, 0.4]),
]


def _random_cases(n: int, seed: int = 1) -> list[tuple[dict[str, Any], list[float]]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        kwargs: dict[str, Any] = {"patience": rng.randint(0, 3), "restore_best_weights": True}
        if rng.random() < 0.4:
            kwargs["min_delta"] = 0.125
        if rng.random() < 0.3:
            kwargs["baseline"] = rng.randint(0, 8) / 8
        if rng.random() < 0.5:
            kwargs["mode"] = "max"
        cases.append((kwargs, [rng.randint(0, 8) / 8 for _ in range(rng.randint(2, 8))]))
    return cases


CASES = HAND + _random_cases(12)


@pytest.mark.slow
@pytest.mark.parametrize(("kwargs", "values"), CASES)
def test_stops_and_restores_like_reglab(kwargs: dict[str, Any], values: list[float]) -> None:
    assert run_lightning(kwargs, values) == run_reglab(kwargs, values)


@pytest.mark.slow
def test_agrees_with_keras_on_the_scripted_curves() -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras", reason="keras is the dev-only oracle")
    for kwargs, values in CASES:
        cb = keras.callbacks.EarlyStopping(**kwargs)

        class Stand:
            stop_training = False
            tag = -1

            def get_weights(self) -> list[int]:
                return [self.tag]

            def set_weights(self, w: list[int]) -> None:
                self.tag = int(w[0])

        model = Stand()
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
        expected = {"stop": stop, "best_epoch": cb.best_epoch, "stopped_epoch": cb.stopped_epoch}
        expected["weights"] = model.tag if kwargs.get("restore_best_weights") else -1
        got = run_lightning(kwargs, values)
        if not kwargs.get("restore_best_weights"):
            got["weights"] = -1
        assert got == expected, (kwargs, values)


def test_restores_a_trained_models_best_parameters_and_batchnorm_buffers() -> None:
    """A real model: the weights and BN statistics at the end equal those of the best epoch."""

    class Net(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
            self.snapshots: list[dict[str, torch.Tensor]] = []

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            return nn.functional.cross_entropy(self.net(x), y)

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            curve = [1.0, 0.5, 0.7, 0.8, 0.9, 0.4]
            self.log("val_loss", curve[self.current_epoch])

        def on_validation_epoch_end(self) -> None:
            self.snapshots.append({k: v.clone() for k, v in self.state_dict().items()})

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.5)

    torch.manual_seed(0)
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    module = Net()
    es = LightningEarlyStopping(patience=2, restore_best_weights=True)
    _trainer(6, [es]).fit(module, loader, loader)
    assert (es.stop_reason, es.best_epoch, es.stopped_epoch) == (StopReason.PATIENCE, 1, 3)
    final = module.state_dict()
    for k, v in module.snapshots[1].items():
        assert torch.equal(final[k], v), k
    assert not torch.equal(final["net.1.running_mean"], module.snapshots[3]["net.1.running_mean"])


def test_state_is_saved_in_and_restored_from_lightning_checkpoints(tmp_path: Any) -> None:
    values = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9]
    es = LightningEarlyStopping(patience=3, restore_best_weights=True)
    trainer = _trainer(3, [es])
    trainer.fit(Scripted(values), _loader(), _loader())
    path = tmp_path / "run.ckpt"
    trainer.save_checkpoint(path)
    saved = torch.load(path, weights_only=True)["callbacks"][es.state_key]
    assert (saved["wait"], saved["best_epoch"], saved["epoch"]) == (1, 1, 3)
    assert saved["best_weights"]["w"].eq(1).all() and saved["best_weights"]["b"].eq(1).all()

    resumed = LightningEarlyStopping(patience=3, restore_best_weights=True)
    module = Scripted(values)
    trainer = _trainer(6, [resumed])
    trainer.fit(module, _loader(), _loader(), ckpt_path=path)
    assert (resumed.stop_reason, resumed.stopped_epoch, resumed.best_epoch) == (
        StopReason.PATIENCE,
        4,
        1,
    )
    assert module.w.eq(1).all() and module.b.eq(1).all()


def test_decides_after_validation_when_it_runs_less_than_once_an_epoch() -> None:
    es = LightningEarlyStopping(patience=0)
    module = Scripted([1.0, 1.0, 2.0, 2.0, 3.0, 3.0])
    trainer = _trainer(6, [es], check_val_every_n_epoch=2)
    trainer.fit(module, _loader(), _loader())
    # validations at epochs 1, 3 and 5 see 1.0, 2.0, 3.0: the second one stops
    assert es.stop_reason is StopReason.PATIENCE and es.decision.epoch == 2
    assert trainer.current_epoch == 4


def test_a_missing_monitor_is_a_one_line_config_error() -> None:
    es = LightningEarlyStopping(monitor="val_acc")
    with pytest.raises(rl.ConfigError, match="'val_acc', which is not among the metrics"):
        _trainer(2, [es]).fit(Scripted([1.0, 2.0]), _loader(), _loader())


class PerRank(Scripted):
    """Each rank sees its own curve; the mean of the two is the curve that decides."""

    CURVES = ([1.0, 0.5, 0.9, 0.9, 0.9, 0.9], [1.0, 1.0, 0.2, 0.9, 0.9, 0.9])

    def __init__(self, out: str) -> None:
        super().__init__([0.0] * 6)
        self.out = out

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        value = self.CURVES[self.global_rank][self.current_epoch]
        self.log("val_loss", torch.tensor(value, dtype=torch.float64))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        super().training_step(batch, batch_idx)
        return (self.w * 0).sum()  # a zero gradient: the step leaves w at the epoch number

    def on_train_end(self) -> None:
        es = next(cb for cb in self.trainer.callbacks if isinstance(cb, LightningEarlyStopping))
        row = [es.stopped_epoch, es.best_epoch, float(self.w[0, 0]), float(self.b[0])]
        with open(f"{self.out}/rank{self.global_rank}.txt", "w") as f:
            f.write(" ".join(map(str, row)))


@pytest.mark.slow
def test_ranks_take_one_decision_under_ddp(tmp_path: Any) -> None:
    """Alone, rank 0 would stop at epoch 3 restoring epoch 1; on the mean curve
    1.0, 0.75, 0.55, 0.9, 0.9 both ranks stop at epoch 4 and restore epoch 2."""
    es = LightningEarlyStopping(patience=2, restore_best_weights=True)
    trainer = pl.Trainer(
        max_epochs=6,
        accelerator="cpu",
        devices=2,
        strategy="ddp_spawn",
        callbacks=[es],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(PerRank(str(tmp_path)), _loader(), _loader())
    rows = [(tmp_path / f"rank{r}.txt").read_text().split() for r in (0, 1)]
    assert rows[0] == rows[1] == ["4", "2", "2.0", "2.0"]
