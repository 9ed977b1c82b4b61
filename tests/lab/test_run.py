"""reglab.lab.core.run.run_cell: one seeded (recipe, seed) cell on real data."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import reglab.data as rd
from reglab import ConfigError
from reglab.lab.core.recipe import Recipe
from reglab.lab.core.run import TRAIN_CURVE_ROWS, CellResult, run_cell, score_tensors

SMALL = Recipe(width=8, epochs=4, batch_size=50)


@pytest.fixture(scope="module")
def digits() -> rd.Splits:
    return rd.split(rd.load_dataset("digits"), train_size=200, val_size=100, seed=0)


def _strip_time(res: CellResult) -> dict:
    d = res.to_dict()
    d.pop("seconds")
    for row in d["history"]:
        row.pop("seconds")
    return d


def test_same_seed_same_result_other_seed_differs(digits):
    r = SMALL.replace(norm="batch", dropout=0.2, augment="affine")
    a, b = run_cell(r, 1, digits, threads=1), run_cell(r, 1, digits, threads=1)
    assert _strip_time(a) == _strip_time(b)
    c = run_cell(r, 2, digits, threads=1)
    assert c.history[0]["loss"] != a.history[0]["loss"]


def test_result_fields_are_consistent(digits):
    res = run_cell(SMALL, 0, digits, model="cnn")
    assert res.recipe == "custom" and res.seed == 0 and res.task == "classification"
    assert res.epochs_run == 4 == len(res.history) and res.stop_reason == "completed"
    assert res.gap == pytest.approx(res.train_acc - res.val_acc)
    # without early stopping the final weights are the last epoch's: fit's last row agrees
    last = res.history[-1]
    assert last["train_acc"] == pytest.approx(res.train_acc, abs=1e-6)
    assert last["val_loss"] == pytest.approx(res.val_loss, rel=1e-5)
    assert 0 <= res.best_epoch < 4
    assert res.seconds > 0 and res.weight_norm > 0 and res.sparsity == 0.0
    assert 0.0 <= res.test_acc <= 1.0 and res.test_loss > 0


def test_epochs_override_and_threads_restored(digits):
    before = torch.get_num_threads()
    res = run_cell(SMALL, 0, digits, epochs=2, threads=1)
    assert res.epochs_run == 2 and torch.get_num_threads() == before
    # the cosine schedule follows the override: lr halves after the first of two epochs
    assert [row["lr"] for row in res.history] == pytest.approx([SMALL.lr, SMALL.lr / 2])


def test_test_split_is_evaluated_exactly_once(digits):
    # Every test image (those that occur in no other split) goes through the model once, in
    # evaluation batches after training; none of them is seen while training or validating.
    def key(row: torch.Tensor) -> bytes:
        return row.numpy().tobytes()

    others = {key(r) for part in (digits.train, digits.val) for r in part.X.flatten(1)}
    test_keys = [key(r) for r in digits.test.X.flatten(1)]
    unique = {k for k in test_keys if k not in others and test_keys.count(k) == 1}
    seen: dict[bytes, int] = {}

    def factory(recipe, input_shape, num_outputs):
        net = nn.Sequential(nn.Flatten(), nn.Linear(64, num_outputs))

        def count(m, inp):
            for r in inp[0].flatten(1):
                k = key(r)
                if k in unique:
                    seen[k] = seen.get(k, 0) + 1

        net.register_forward_pre_hook(count)
        return net

    run_cell(SMALL.replace(epochs=2), 0, digits, model=factory)
    assert len(unique) > 1000  # nearly all of the 1,297 test images
    assert set(seen) == unique and set(seen.values()) == {1}


def test_proximal_l1_gives_exact_zeros_where_baseline_has_none(digits):
    base = run_cell(SMALL, 0, digits, model="mlp")
    # threshold lr * l1 = 3e-3 per step, 16 steps: about 0.05 in all, against initial weights
    # uniform in +-1/8 (first layer): roughly a third of them end at exactly zero
    prox = SMALL.replace(proximal_l1=1.0, lr_schedule="constant", name="prox")
    sparse = run_cell(prox, 0, digits, model="mlp")
    assert base.sparsity == 0.0
    assert sparse.sparsity > 0.2 and sparse.recipe == "prox"
    assert sparse.history[-1]["sparsity"] == pytest.approx(sparse.sparsity)


def test_early_stopping_restores_the_best_epoch(digits):
    # A learning rate this high makes the validation loss rise after a few epochs.
    r = SMALL.replace(epochs=8, width=4, lr=0.05, lr_schedule="constant", early_stopping=1)
    res = run_cell(r, 0, digits)
    val = [row["val_loss"] for row in res.history]
    assert res.best_epoch == min(range(len(val)), key=val.__getitem__)
    assert res.val_loss == pytest.approx(val[res.best_epoch], rel=1e-5)
    if res.stop_reason == "patience":
        assert res.epochs_run == res.best_epoch + 2


def test_regression_reports_losses():
    sp = rd.split(rd.load_dataset("diabetes"), train_size=200, val_size=100, seed=0)
    res = run_cell(Recipe(width=16, depth=1, epochs=3, lr=1e-2), 0, sp, model="mlp")
    assert res.task == "regression"
    assert res.train_acc is None and res.val_acc is None and res.test_acc is None
    assert res.gap == pytest.approx(res.val_loss - res.train_loss)
    assert res.test_loss > 0 and res.history[-1]["train_acc"] is None


def test_bad_arguments(digits):
    cases = [
        (lambda: run_cell("baseline", 0, digits),  # type: ignore[arg-type]
         "The 'recipe' parameter of run_cell must be a reglab Recipe. Got 'baseline' instead."),
        (lambda: run_cell(SMALL, -1, digits),
         "The 'seed' parameter of run_cell must be an int in [0, inf). Got -1 instead."),
        (lambda: run_cell(SMALL, 0, digits, epochs=0),
         "The 'epochs' parameter of run_cell must be an int in [1, inf) or None. Got 0 instead."),
        (lambda: run_cell(SMALL, 0, (1, 2)),
         "The 'splits' parameter of run_cell must be a reglab.data.Splits (train, val and test "
         "datasets). Got (1, 2) instead."),
        (lambda: run_cell(SMALL, 0, digits, model="transformer"),
         "The 'kind' parameter of build_model must be one of 'cnn', 'mlp', 'linear', 'cnn1d', 'bow', 'textcnn', 'gru' or a factory spec "
         "'package.module:name'. Got 'transformer' instead."),
    ]  # fmt: skip
    for call, message in cases:
        with pytest.raises(ConfigError) as info:
            call()
        assert str(info.value) == message


def test_evaluate_matches_torch():
    torch.manual_seed(0)
    m = nn.Linear(3, 4)
    x, y = torch.randn(10, 3), torch.randint(0, 4, (10,))
    loss, acc = score_tensors(m, x, y)
    with torch.no_grad():
        out = m(x)
    assert loss == pytest.approx(float(nn.functional.cross_entropy(out, y)))
    assert acc == pytest.approx(float((out.argmax(1) == y).float().mean()))
    m.train()
    score_tensors(m, x, y)
    assert m.training  # mode restored


# -- the training curve on a sample (issue 20, item 6) -------------------------------------------

_RESULT_KEYS = (
    "train_acc", "val_acc", "test_acc", "train_loss", "val_loss", "test_loss", "gap",
    "best_epoch", "epochs_run", "weight_norm", "sparsity", "stop_reason",
)  # fmt: skip


@pytest.fixture(scope="module")
def digits_large() -> rd.Splits:
    # more training rows than the curve scores, so the sample is a real subset
    return rd.split(rd.load_dataset("digits"), train_size=700, val_size=150, seed=1)


@pytest.mark.parametrize(
    "recipe, seed",
    [
        (SMALL.replace(epochs=3), 0),
        (SMALL.replace(dropout=0.3, augment="affine", epochs=3), 1),
        (SMALL.replace(norm="batch", dropout=0.1, label_smoothing=0.1, epochs=3), 2),
        # early stopping fires (learning rates far too high) and restores an earlier epoch
        (SMALL.replace(epochs=8, width=4, lr=0.2, lr_schedule="constant", early_stopping=1), 0),
        (SMALL.replace(epochs=10, lr=0.03, lr_schedule="constant", early_stopping=0), 0),
        (
            SMALL.replace(
                norm="batch",
                dropout=0.2,
                epochs=10,
                lr=0.05,
                lr_schedule="constant",
                early_stopping=1,
            ),
            3,
        ),
    ],
)
def test_sampled_training_curve_leaves_the_results_bit_identical(digits_large, recipe, seed):
    # train_curve_rows=None is the old path: the whole split scored each epoch on the shuffled
    # training batches. The sampled curve must change nothing but the curve itself.
    full = run_cell(recipe, seed, digits_large, threads=1, train_curve_rows=None)
    fast = run_cell(recipe, seed, digits_large, threads=1, train_curve_rows=128)
    assert {k: getattr(fast, k) for k in _RESULT_KEYS} == {
        k: getattr(full, k) for k in _RESULT_KEYS
    }
    for key in ("loss", "val_loss", "val_acc", "lr", "weight_norm", "penalty"):
        assert [r[key] for r in fast.history] == [r[key] for r in full.history], key
    # the curve is an estimate on 128 rows: close to the whole split's, not equal to it
    assert [r["train_acc"] for r in fast.history] != [r["train_acc"] for r in full.history]
    for a, b in zip(fast.history, full.history):
        assert abs(a["train_acc"] - b["train_acc"]) < 0.2
        assert a["train_acc"] * 128 == pytest.approx(round(a["train_acc"] * 128))


def test_the_lab_scores_the_curve_on_train_curve_rows(digits_large):
    seen: list[int] = []

    def factory(recipe, input_shape, num_outputs):
        net = nn.Sequential(nn.Flatten(), nn.Linear(64, num_outputs))
        net.register_forward_pre_hook(
            lambda m, inp: None if m.training else seen.append(len(inp[0]))
        )
        return net

    run_cell(SMALL.replace(epochs=2), 0, digits_large, model=factory, train_curve_rows=300)
    # per epoch: 300 training rows then the 150 validation rows; then train, val, test once
    assert seen[:4] == [300, 150, 300, 150]
    assert seen[4:] == [700, 150, len(digits_large.test)]
    seen.clear()
    run_cell(SMALL.replace(epochs=1), 0, digits_large, model=factory)
    assert seen[0] == TRAIN_CURVE_ROWS
