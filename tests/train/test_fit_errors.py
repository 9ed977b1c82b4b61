"""fit's bad input: one-line errors naming the problem (or a StopReason), never a hang."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from reglab import ConfigError
from reglab.callbacks import EarlyStopping
from reglab.train import fit

pytestmark = pytest.mark.timeout(60)


def data(n: int = 40, classes: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 4, generator=g), torch.randint(0, classes, (n,), generator=g)


def model(out: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(4, out)


def run(**kwargs: Any) -> Any:
    args: dict[str, Any] = {"model": model(), "train": data(), "val": data(), "epochs": 1}
    args.update(kwargs)
    return fit(args.pop("model"), args.pop("train"), args.pop("val"), progress=False, **args)


X, Y = data()
KEYS = (
    "'epoch', 'loss', 'train_loss', 'train_acc', 'val_loss', 'val_acc', 'gap', 'penalty', "
    "'lr', 'weight_norm', 'sparsity', 'seconds'"
)
EXPECTED = "a DataLoader, a Dataset or an (X, y) pair of tensors with at least one sample"

CASES: list[tuple[str, Callable[[], Any], str]] = [
    ("epochs=0", lambda: run(epochs=0),
     "The 'epochs' parameter of fit must be an int in [1, inf). Got 0 instead."),
    ("lr<0", lambda: run(lr=-1.0),
     "The 'lr' parameter of fit must be a float in (0, inf). Got -1.0 instead."),
    ("seed<0", lambda: run(seed=-1),
     "The 'seed' parameter of fit must be None or an int in [0, inf). Got -1 instead."),
    ("train_curve_rows", lambda: run(train_curve_rows=0),
     "The 'train_curve_rows' parameter of fit must be None or an int in [1, inf). Got 0 "
     "instead."),
    ("progress", lambda: fit(model(), data(), None, epochs=1, progress="yes"),
     "The 'progress' parameter of fit must be a bool. Got 'yes' instead."),
    ("device name", lambda: run(device="tpu9"),
     "The 'device' parameter of fit must be 'auto', a device name such as 'cpu' or 'cuda:0', "
     "or a torch.device. Got 'tpu9' instead."),
    ("device type", lambda: run(device=3),
     "The 'device' parameter of fit must be 'auto', a device name such as 'cpu' or 'cuda:0', "
     "or a torch.device. Got 3 instead."),
    ("model", lambda: run(model="mlp"),
     "The 'model' parameter of fit must be a torch.nn.Module. Got 'mlp' instead."),
    ("loss", lambda: run(loss="mse"),
     "The 'loss' parameter of fit must be None or a callable. Got 'mse' instead."),
    ("optimizer", lambda: run(optimizer="adam"),
     "The 'optimizer' parameter of fit must be None (Adam), a torch.optim.Optimizer "
     "(reglab.optim.WeightDecay included) or an optimizer class called as cls(params, lr=lr). "
     "Got 'adam' instead."),
    ("callback", lambda: run(callbacks=[42]),
     "The 'callbacks' parameter of fit must be a list of objects with step(metrics, model) -> "
     "bool (EarlyStopping) or LR schedulers. Got 42 instead."),
    ("empty tensors", lambda: run(train=(X[:0], Y[:0])),
     f"The 'train' parameter of fit must be {EXPECTED} and as many targets as inputs. "
     "Got X of shape (0, 4) and y of shape (0,) instead."),
    ("length mismatch", lambda: run(val=(X, Y[:-1])),
     f"The 'val' parameter of fit must be {EXPECTED} and as many targets as inputs. "
     "Got X of shape (40, 4) and y of shape (39,) instead."),
    ("empty loader", lambda: run(train=DataLoader(TensorDataset(X[:0], Y[:0]), batch_size=4)),
     f"The 'train' parameter of fit must be {EXPECTED}. Got a DataLoader with 0 batches "
     "instead."),
    ("empty list", lambda: run(val=[]),
     f"The 'val' parameter of fit must be {EXPECTED}. Got a list with 0 batches instead."),
    ("not data", lambda: run(train="digits"),
     f"The 'train' parameter of fit must be {EXPECTED}. Got 'digits' instead."),
    ("exhausted generator", lambda: run(train=iter([])),
     "The 'train' parameter of fit must yield at least one batch per epoch. Got an iterable "
     "that yielded none (an exhausted generator?) instead."),
    ("not pairs", lambda: run(train=DataLoader(TensorDataset(X), batch_size=8)),
     "fit expects 'train' to yield (inputs, targets) pairs. Got a batch of type list instead."),
    ("label shape", lambda: run(train=(X, Y.repeat(2, 1).T.contiguous())),
     "fit expects model outputs of shape (N, num_classes) for class-index targets (N,). Got "
     "outputs of shape (32, 3) and targets of shape (32, 2) instead."),
    ("label range", lambda: run(train=(X, torch.where(Y == 2, 5, Y))),
     "fit got class indices in [0, 5] in 'train' but the model outputs 3 classes (expected "
     "labels in [0, 2])."),
    ("val label range", lambda: run(val=(X, torch.where(Y == 2, -1, Y))),
     "fit got class indices in [-1, 1] in 'val' but the model outputs 3 classes (expected "
     "labels in [0, 2])."),
    ("regression shape", lambda: run(model=model(3), train=(X, Y.float()), val=None),
     "fit expects model outputs of shape equal to the targets' shape (regression). Got "
     "outputs of shape (32, 3) and targets of shape (32,) instead."),
    ("bool targets", lambda: run(train=(X, Y > 0)),
     "fit cannot infer a loss for boolean targets: pass float 0/1 targets with "
     "loss=torch.nn.BCEWithLogitsLoss(), or int64 class indices."),
    ("unknown monitor", lambda: run(callbacks=[EarlyStopping(monitor="val_accuracy")]),
     f"EarlyStopping monitors 'val_accuracy', which is not among the metrics given. "
     f"Did you mean 'val_acc'? Available keys: {KEYS}."),
    ("monitor without value", lambda: run(train=(X, Y.float()), val=(X, Y.float()),
                                          model=model(1),
                                          callbacks=[EarlyStopping(monitor="val_acc")]),
     "EarlyStopping monitors 'val_acc', whose value is None this epoch (not measured for this "
     "task); monitor another metric."),
    ("negative patience", lambda: run(callbacks=[EarlyStopping(patience=-1)]),
     "The 'patience' parameter of EarlyStopping must be an int in [0, inf). Got -1 instead."),
    ("bad mode", lambda: run(callbacks=[EarlyStopping(mode="up")]),
     "The 'mode' parameter of EarlyStopping must be one of 'auto', 'min', 'max'. Got 'up' "
     "instead."),
]  # fmt: skip


@pytest.mark.parametrize(("name", "call", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_the_exact_one_line_error(
    name: str, call: Callable[[], Any], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        call()
    assert str(info.value) == message
    assert "\n" not in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when CUDA is absent")
def test_cuda_requested_without_cuda() -> None:
    with pytest.raises(ConfigError) as info:
        run(device="cuda")
    assert str(info.value) == (
        "The 'device' parameter of fit must name an available device. Got 'cuda' instead: "
        "CUDA is not available here (use 'auto' or 'cpu')."
    )
