"""fit: rows against a hand-written loop, each regularization object's place in the step,
tasks (classification, regression, binary, soft targets), determinism and History."""

from __future__ import annotations

import copy
import csv
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from reglab.callbacks import EarlyStopping, StopReason
from reglab.regularizer import LabelMixer
from reglab.train import COLUMNS, History, fit


def blobs(n: int = 96, features: int = 6, classes: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, features, generator=g) * 2
    y = torch.randint(0, classes, (n,), generator=g)
    X = centres[y] + torch.randn(n, features, generator=g)
    return X, y


def mlp(features: int = 6, out: int = 3, dropout: float = 0.0, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(features, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, out)
    )


def strip_seconds(h: History) -> dict[str, Any]:
    d = h.to_dict()
    for r in d["rows"]:
        r.pop("seconds")
    return d


def ordered_loader(X: torch.Tensor, y: torch.Tensor, batch_size: int = 16) -> DataLoader:
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=False)


# ----------------------------------------------------------------------------- reference loop


def test_rows_match_a_hand_written_loop() -> None:
    X, y = blobs()
    Xv, yv = blobs(40, seed=1)
    model = mlp()
    ref = copy.deepcopy(model)
    h = fit(
        model,
        ordered_loader(X, y),
        ordered_loader(Xv, yv),
        epochs=2,
        optimizer=torch.optim.SGD,
        lr=0.1,
        progress=False,
    )
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    for epoch in range(2):
        ref.train()
        batch_losses = []
        for xb, yb in ordered_loader(X, y):
            loss = F.cross_entropy(ref(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            batch_losses.append(loss.item())
        ref.eval()
        with torch.no_grad():
            out, out_v = ref(X), ref(Xv)
        row = h.rows[epoch]
        assert row["epoch"] == epoch
        assert row["loss"] == pytest.approx(sum(batch_losses) / len(batch_losses), rel=1e-6)
        assert row["train_loss"] == pytest.approx(F.cross_entropy(out, y).item(), rel=1e-5)
        assert row["val_loss"] == pytest.approx(F.cross_entropy(out_v, yv).item(), rel=1e-5)
        train_acc = (out.argmax(1) == y).double().mean().item()
        val_acc = (out_v.argmax(1) == yv).double().mean().item()
        assert row["train_acc"] == pytest.approx(train_acc, abs=1e-12)
        assert row["val_acc"] == pytest.approx(val_acc, abs=1e-12)
        assert row["gap"] == pytest.approx(train_acc - val_acc, abs=1e-12)
        weights = [p for p in ref.parameters() if p.dim() >= 2]
        norm = math.sqrt(sum(float(p.detach().pow(2).sum()) for p in weights))
        assert row["weight_norm"] == pytest.approx(norm, rel=1e-6)
        assert row["sparsity"] == 0.0
        assert row["lr"] == 0.1
        assert row["penalty"] == 0.0
        assert row["seconds"] > 0
    for a, b in zip(model.parameters(), ref.parameters()):
        assert torch.equal(a, b)
    assert list(h.rows[0]) == list(COLUMNS)
    assert h.stop_reason is StopReason.COMPLETED
    assert h.best_epoch == min(range(2), key=lambda e: h.rows[e]["val_loss"])


def test_running_loss_is_measured_with_dropout_on_and_eval_loss_with_it_off() -> None:
    X, y = blobs()
    model = mlp(dropout=0.9)
    h = fit(model, (X, y), (X, y), epochs=1, optimizer=torch.optim.SGD, lr=1e-12, seed=0,
            progress=False)  # fmt: skip
    row = h.rows[0]
    # Train and val are the same tensors: eval-mode measurements agree exactly.
    assert row["train_loss"] == row["val_loss"] and row["gap"] == 0.0
    # With 90% dropout the running loss is far from the eval-mode loss.
    assert abs(row["loss"] - row["train_loss"]) > 0.05


# ----------------------------------------------------------------------------- regularization


def _reference_step_loop(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    opt: torch.optim.Optimizer,
    after_backward: Any = None,
    after_step: Any = None,
    epochs: int = 2,
) -> None:
    for _ in range(epochs):
        for xb, yb in ordered_loader(X, y):
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            if after_backward:
                after_backward()
            opt.step()
            if after_step:
                after_step()


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.dim() >= 2]


def test_penalty_gradient_mode_equals_the_same_penalty_in_the_loss() -> None:
    from reglab.penalty import L1, L2, LossMode

    X, y = blobs()
    pen = L1(1e-3) + L2(1e-2)
    m_grad, m_loss = mlp(), mlp()
    h_grad = fit(m_grad, ordered_loader(X, y), None, epochs=2, regularization=pen,
                 optimizer=torch.optim.SGD, lr=0.1, progress=False)  # fmt: skip
    h_loss = fit(m_loss, ordered_loader(X, y), None, epochs=2, regularization=LossMode(pen),
                 optimizer=torch.optim.SGD, lr=0.1, progress=False)  # fmt: skip
    for a, b in zip(m_grad.parameters(), m_loss.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # The penalty column is the penalty's value at the end of each epoch, in both modes.
    ws = _weights(m_grad)
    with torch.no_grad():
        expected = 1e-3 * sum(float(w.abs().sum()) for w in ws) + 1e-2 * sum(
            float(w.pow(2).sum()) for w in ws
        )
    assert h_grad.rows[-1]["penalty"] == pytest.approx(expected, rel=1e-5)
    assert h_loss.rows[-1]["penalty"] == pytest.approx(expected, rel=1e-5)
    # ... and the running loss is the data term only, in both modes.
    assert h_grad.rows[0]["loss"] == pytest.approx(h_loss.rows[0]["loss"], rel=1e-5)
    # the hand-written loss-mode loop gives the same weights
    ref = mlp()
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    for _ in range(2):
        for xb, yb in ordered_loader(X, y):
            loss = F.cross_entropy(ref(xb), yb) + pen(_weights(ref))
            opt.zero_grad()
            loss.backward()
            opt.step()
    for a, b in zip(m_loss.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_proximal_l1_runs_after_the_step_and_makes_exact_zeros() -> None:
    from reglab.optim import ProximalL1

    X, y = blobs()
    model, ref = mlp(), mlp()
    prox = ProximalL1(0.05)
    h = fit(model, ordered_loader(X, y), None, epochs=2, regularization=[prox],
            optimizer=torch.optim.SGD, lr=0.1, progress=False)  # fmt: skip
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    _reference_step_loop(ref, X, y, opt, after_step=lambda: prox.step_(_weights(ref), 0.1))
    for a, b in zip(model.parameters(), ref.parameters()):
        assert torch.equal(a, b)
    zeros = sum(int((w == 0).sum()) for w in _weights(model))
    total = sum(w.numel() for w in _weights(model))
    assert zeros > 0
    assert h.rows[-1]["sparsity"] == zeros / total


def test_sparsity_column_equals_reglab_sparsity() -> None:
    from reglab.optim import ProximalL1
    from reglab.penalty import sparsity

    X, y = blobs()
    model = mlp()
    h = fit(model, (X, y), None, epochs=2, regularization=ProximalL1(0.05),
            optimizer=torch.optim.SGD, lr=0.1, seed=0, progress=False)  # fmt: skip
    assert h.rows[-1]["sparsity"] == pytest.approx(sparsity(model).overall, abs=0)
    assert h.rows[-1]["sparsity"] > 0


def test_max_norm_applies_after_every_step() -> None:
    from reglab.constraints import MaxNorm

    X, y = blobs()
    model, ref = mlp(), mlp()
    c = MaxNorm(0.5)
    fit(model, ordered_loader(X, y), None, epochs=2, regularization=c,
        optimizer=torch.optim.SGD, lr=0.5, progress=False)  # fmt: skip
    opt = torch.optim.SGD(ref.parameters(), lr=0.5)
    _reference_step_loop(ref, X, y, opt, after_step=lambda: c.apply_(_weights(ref)))
    for a, b in zip(model.parameters(), ref.parameters()):
        assert torch.equal(a, b)
    for w in _weights(model):
        assert float(w.detach().norm(dim=1).max()) <= 0.5 + 1e-6


def test_weight_decay_wrapper_as_optimizer() -> None:
    from reglab.optim import WeightDecay

    X, y = blobs()
    model, ref = mlp(), mlp()
    opt = WeightDecay(torch.optim.SGD(model.parameters(), lr=0.1), weight_decay=0.1)
    fit(model, ordered_loader(X, y), None, epochs=2, optimizer=opt, progress=False)
    ref_opt = WeightDecay(torch.optim.SGD(ref.parameters(), lr=0.1), weight_decay=0.1)
    _reference_step_loop(ref, X, y, ref_opt)
    for a, b in zip(model.parameters(), ref.parameters()):
        assert torch.equal(a, b)
    assert not torch.equal(model[0].weight, mlp()[0].weight)


class RecordingNoise:
    """An augmentation stand-in (the Augmentation contract: aug(x, generator=None))."""

    def __init__(self, std: float) -> None:
        self.std = std
        self.calls: list[tuple[tuple[int, ...], bool]] = []

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        self.calls.append((tuple(x.shape), generator is not None))
        return x + self.std * torch.randn(x.shape, generator=generator)


class TinyMixUp(LabelMixer):
    """A label-mixing stand-in with the contract's shape: mix(x, y, generator) -> (x, y_soft)."""

    def __init__(self, classes: int) -> None:
        self.classes = classes
        self.seen_int_labels = 0

    def mix(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
        if not y.is_floating_point():
            self.seen_int_labels += 1
            y = F.one_hot(y, self.classes).float()
        perm = torch.randperm(x.shape[0], generator=generator)
        lam = 0.7
        return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]


def test_augmentation_and_mixing_apply_to_training_batches_only_in_order() -> None:
    X, y = blobs()
    noise, mix = RecordingNoise(0.1), TinyMixUp(3)
    model = mlp()
    h = fit(model, (X, y), (X, y), epochs=2, regularization=[noise, mix], seed=0,
            progress=False)  # fmt: skip
    batches = math.ceil(96 / 32)
    assert len(noise.calls) == 2 * batches  # never during the eval passes
    assert all(passed for _, passed in noise.calls)  # a seeded generator is passed
    assert mix.seen_int_labels == 2 * batches  # noise first, then mixing, as listed
    assert h.rows[0]["train_loss"] == h.rows[0]["val_loss"]
    assert 0 <= h.rows[-1]["train_acc"] <= 1


class FlipMix(TinyMixUp):
    """Mixes each sample with its mirror in the batch (no randomness), lam = 0.7."""

    def mix(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
        y = F.one_hot(y, self.classes).float()
        return 0.7 * x + 0.3 * x.flip(0), 0.7 * y + 0.3 * y.flip(0)


def test_soft_targets_from_mixing_train_with_soft_cross_entropy() -> None:
    X, y = blobs(16)
    model, ref = mlp(), mlp()
    h = fit(model, ordered_loader(X, y), None, epochs=1, regularization=FlipMix(3),
            progress=False)  # fmt: skip
    xm = 0.7 * X + 0.3 * X.flip(0)
    ym = 0.7 * F.one_hot(y, 3).float() + 0.3 * F.one_hot(y.flip(0), 3).float()
    manual = -(ym * F.log_softmax(ref(xm), 1)).sum(1).mean()  # loss before the only step
    assert h.rows[0]["loss"] == pytest.approx(manual.item(), rel=1e-6)
    assert h.rows[0]["train_loss"] != h.rows[0]["loss"]  # eval pass uses the unmixed labels


def test_regularization_that_is_not_understood_is_an_error() -> None:
    X, y = blobs()
    with pytest.raises(ValueError) as info:
        fit(mlp(), (X, y), None, epochs=1, regularization=[0.5], progress=False)
    assert str(info.value) == (
        "The 'regularization' parameter of fit must be a Penalty (L1/L2/ElasticNet), LossMode, "
        "ProximalL1, MaxNorm/UnitNorm, an augmentation or a label mixer (MixUp/CutMix), or a "
        "list of them. Got 0.5 instead."
    )
    model = mlp()
    with pytest.raises(ValueError, match=r"pass optimizers \(WeightDecay included\) as optimizer="):
        fit(model, (X, y), None, epochs=1, progress=False,
            regularization=torch.optim.SGD(model.parameters(), lr=0.1))  # fmt: skip


# ----------------------------------------------------------------------------- tasks


def test_regression_with_n_targets_and_n1_outputs_uses_mse() -> None:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(80, 5, generator=g)
    y = X @ torch.randn(5, generator=g) + 0.1 * torch.randn(80, generator=g)
    model = mlp(5, 1)
    h = fit(model, (X[:60], y[:60]), (X[60:], y[60:]), epochs=3, lr=1e-2, seed=0,
            progress=False)  # fmt: skip
    model.eval()
    with torch.no_grad():
        mse_val = F.mse_loss(model(X[60:]).squeeze(1), y[60:]).item()
        mse_tr = F.mse_loss(model(X[:60]).squeeze(1), y[:60]).item()
    row = h.rows[-1]
    assert row["val_loss"] == pytest.approx(mse_val, rel=1e-5)
    assert row["train_acc"] is None and row["val_acc"] is None
    assert row["gap"] == pytest.approx(mse_val - mse_tr, rel=1e-4, abs=1e-6)
    assert h.task == "regression"
    assert h.rows[-1]["train_loss"] < h.rows[0]["train_loss"]


def test_binary_logits_with_bce_report_accuracy() -> None:
    X, y = blobs(classes=2)
    model = mlp(out=1)
    h = fit(model, (X, y.float()), (X, y.float()), epochs=2, loss=nn.BCEWithLogitsLoss(),
            lr=1e-2, seed=0, progress=False)  # fmt: skip
    model.eval()
    with torch.no_grad():
        acc = ((model(X).squeeze(1) > 0) == (y > 0)).double().mean().item()
    assert h.rows[-1]["val_acc"] == pytest.approx(acc)
    assert h.task == "binary"


def test_dataset_objects_are_accepted_directly() -> None:
    from reglab.data import load_dataset, split

    parts = split(load_dataset("iris"), seed=0)
    model = mlp(4, 3)
    h = fit(model, parts.train, parts.val, epochs=2, lr=1e-2, seed=0, progress=False)
    assert len(h) == 2 and h.rows[-1]["val_acc"] is not None


# ----------------------------------------------------------------------------- determinism


def _seeded_run(seed: int, check_global_rng: bool = False) -> History:
    X, y = blobs()
    model = mlp(dropout=0.3)
    state = torch.get_rng_state()
    h = fit(model, (X, y), blobs(40, seed=1), epochs=3, seed=seed,
            regularization=[RecordingNoise(0.1), TinyMixUp(3)], progress=False)  # fmt: skip
    if check_global_rng:
        assert torch.equal(torch.get_rng_state(), state), "fit(seed=) moved the global RNG"
    return h


def test_same_seed_gives_a_bitwise_identical_history() -> None:
    a, b = _seeded_run(7, check_global_rng=True), _seeded_run(7)
    assert strip_seconds(a) == strip_seconds(b)
    assert strip_seconds(a) != strip_seconds(_seeded_run(8))


def test_seed_also_fixes_dataloader_shuffling() -> None:
    X, y = blobs()

    def run() -> dict[str, Any]:
        loader = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True)
        return strip_seconds(fit(mlp(dropout=0.5), loader, None, epochs=2, seed=1,
                                 progress=False))  # fmt: skip

    assert run() == run()


# ----------------------------------------------------------------------------- callbacks


class Recorder:
    """Keeps each epoch's weights (runs before EarlyStopping restores)."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []
        self.metrics: list[dict[str, Any]] = []

    def step(self, metrics: dict[str, Any], model: nn.Module) -> bool:
        self.metrics.append(metrics)
        self.states.append(copy.deepcopy(model.state_dict()))
        return False


def test_early_stopping_stops_restores_and_sets_best_epoch() -> None:
    X, y = blobs()
    rec = Recorder()
    # lr never improves: patience 2 stops at epoch 2; the best epoch is 0.
    es = EarlyStopping(monitor="lr", mode="min", patience=2, restore_best_weights=True)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    h = fit(model, (X, y), (X, y), epochs=10, callbacks=[rec, es], seed=0, progress=False)
    assert len(h) == 3
    assert h.stop_reason is StopReason.PATIENCE
    assert h.best_epoch == 0
    for k, t in model.state_dict().items():
        assert torch.equal(t, rec.states[0][k]), k
    assert set(rec.metrics[0]) == set(COLUMNS)


def test_finish_restores_best_weights_when_all_epochs_run() -> None:
    X, y = blobs()
    rec = Recorder()
    es = EarlyStopping(monitor="epoch", mode="min", patience=10, restore_best_weights=True)
    model = mlp()
    h = fit(model, (X, y), None, epochs=3, callbacks=[rec, es], seed=0, progress=False)
    assert h.stop_reason is StopReason.COMPLETED and h.best_epoch == 0
    for k, t in model.state_dict().items():
        assert torch.equal(t, rec.states[0][k]), k


def test_lr_scheduler_in_callbacks_steps_per_epoch() -> None:
    X, y = blobs()
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(model, (X, y), None, epochs=3, optimizer=opt, callbacks=[sched], progress=False)
    assert h["lr"] == [0.1, 0.05, 0.025]


def test_nan_loss_at_epoch_zero_stops_with_a_reason() -> None:
    X, y = blobs()
    model = mlp()
    with torch.no_grad():
        model[0].weight.fill_(math.nan)
    es = EarlyStopping(patience=5)
    h = fit(model, (X, y), (X, y), epochs=5, callbacks=[es], seed=0, progress=False)
    assert len(h) == 1
    assert h.stop_reason is StopReason.NON_FINITE
    assert math.isnan(h.rows[0]["loss"])
    assert h.best_epoch is None


def test_val_loss_nan_is_caught_by_early_stopping() -> None:
    X, y = blobs()
    Xv = X.clone()
    Xv[0, 0] = math.nan
    h = fit(mlp(), (X, y), (Xv, y), epochs=4, callbacks=[EarlyStopping(patience=3)],
            seed=0, progress=False)  # fmt: skip
    assert (len(h), h.stop_reason) == (1, StopReason.NON_FINITE)


# ----------------------------------------------------------------------------- History


def test_history_to_dict_csv_and_back(tmp_path: Path) -> None:
    X, y = blobs()
    h = fit(mlp(), (X, y), None, epochs=2, seed=0, progress=False)
    again = History.from_dict(h.to_dict())
    assert again.to_dict() == h.to_dict()
    path = tmp_path / "h.csv"
    h.to_csv(path)
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(COLUMNS)
    assert float(rows[1]["loss"]) == h.rows[1]["loss"]
    assert rows[0]["val_loss"] == ""  # None (no validation set) is an empty field
    assert h["epoch"] == [0, 1]
    with pytest.raises(
        ValueError, match=r"History has no column 'val_accuracy'\. Available: epoch"
    ):
        h["val_accuracy"]


def test_plot_draws_train_and_validation_curves() -> None:
    pytest.importorskip("matplotlib", reason="History.plot needs matplotlib")
    X, y = blobs()
    h = fit(mlp(), (X, y), (X, y), epochs=2, seed=0, progress=False)
    fig = h.plot(title="blobs")
    axes = fig.get_axes()
    assert len(axes) == 2
    labels = [line.get_label() for line in axes[1].get_lines()]
    assert labels[:2] == ["train (eval mode)", "validation"]
    assert len(axes[0].get_lines()) == 4  # running, train, val, best-epoch marker
    reg = History([{"epoch": 0, "loss": 1.0, "train_loss": 1.0, "val_loss": 2.0,
                    "train_acc": None, "val_acc": None}], task="regression")  # fmt: skip
    assert len(reg.plot().get_axes()) == 1


def test_progress_bar_shows_epoch_losses_and_gap(capsys: pytest.CaptureFixture[str]) -> None:
    X, y = blobs()
    fit(mlp(), (X, y), (X, y), epochs=2, seed=0, progress=True)
    err = capsys.readouterr().err
    assert "epoch" in err and "val_loss" in err and "gap" in err and "2/2" in err
    fit(mlp(), (X, y), (X, y), epochs=2, seed=0, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_train_curve_rows_scores_evenly_spaced_rows_and_changes_nothing_else() -> None:
    X, y = blobs(n=96)
    runs = {}
    for rows in (None, 10, 96):
        model = mlp(dropout=0.2)
        h = fit(model, (X, y), (X[:32], y[:32]), epochs=3, seed=0, progress=False,
                train_curve_rows=rows)  # fmt: skip
        runs[rows] = (h, model)
    full, _ = runs[None]
    sampled, model = runs[10]
    keep = ("loss", "val_loss", "val_acc", "lr", "weight_norm", "penalty")
    for key in keep:
        assert sampled[key] == full[key], key
    assert strip_seconds(runs[96][0]) == strip_seconds(full)  # n rows of n: the whole split
    # the last row's training scores are those of rows i * 96 // 10 under the final weights
    idx = torch.arange(10) * 96 // 10
    model.eval()
    with torch.no_grad():
        out = model(X[idx])
    last = sampled.rows[-1]
    assert last["train_loss"] == pytest.approx(F.cross_entropy(out, y[idx]).item(), rel=1e-6)
    assert last["train_acc"] == int((out.argmax(1) == y[idx]).sum()) / 10


def test_train_curve_rows_takes_the_first_rows_of_a_loader_pass() -> None:
    X, y = blobs(n=64)
    seen: list[int] = []
    model = mlp()
    model.register_forward_pre_hook(lambda m, inp: None if m.training else seen.append(len(inp[0])))
    loader = DataLoader(TensorDataset(X, y), batch_size=16)  # a fixed order
    h = fit(model, loader, None, epochs=1, progress=False, train_curve_rows=20)
    assert seen == [16, 4]  # the batch that crosses 20 rows is cut before the model sees it
    model.eval()
    with torch.no_grad():
        loss = F.cross_entropy(model(X[:20]), y[:20]).item()
    assert h.rows[0]["train_loss"] == pytest.approx(loss, rel=1e-6)


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_recipe_optimizers_step_bit_identically_to_the_per_tensor_loop(name: str) -> None:
    # RegularizationSpec.parts builds Adam/SGD with foreach=True (one call per step on CPU);
    # the weights after training must equal those of torch's default per-tensor loop exactly.
    from reglab.train.spec import RegularizationSpec

    spec = RegularizationSpec(optimizer=name, lr=0.05, weight_decay=0.1, epochs=2)
    X, y = blobs(n=64)
    finals = []
    for foreach in (True, False):
        model = mlp(dropout=0.1)
        opt = spec.parts(model, input_shape=(6,), num_classes=3)["optimizer"]
        inner = getattr(opt, "optimizer", opt)
        assert inner.defaults["foreach"] is True
        inner.defaults["foreach"] = foreach
        for group in inner.param_groups:
            group["foreach"] = foreach
        fit(model, (X, y), None, epochs=3, optimizer=opt, seed=0, progress=False)
        finals.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*finals))
