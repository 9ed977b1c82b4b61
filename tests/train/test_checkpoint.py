"""fit(checkpoint=path): killed runs resume to the same result, files load with weights_only,
and a checkpoint from another run is a one-line error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from reglab import ConfigError
from reglab.callbacks import EarlyStopping, StopReason
from reglab.optim import WeightDecay
from reglab.train import History, fit

# A training script as a user would write it: every kind of state a checkpoint must carry
# (momentum, a weight-decay wrapper, a scheduler, early stopping with a best-weights snapshot,
# batch-norm statistics, dropout, fit's generators, Python's and NumPy's global RNGs).
SCRIPT = textwrap.dedent(
    """
    import random, sys, time
    import numpy as np
    import torch
    from torch import nn
    from reglab.callbacks import EarlyStopping
    from reglab.optim import WeightDecay
    from reglab.penalty import L1
    from reglab.train import fit

    torch.set_num_threads(1)
    ckpt, out, slow = sys.argv[1], sys.argv[2], float(sys.argv[3])

    class HostNoise:  # draws from Python's and NumPy's global RNGs
        def __call__(self, x):
            time.sleep(slow)  # gives the test time to kill the run in the middle of an epoch
            noise = torch.from_numpy(np.random.standard_normal(tuple(x.shape))).to(x.dtype)
            return x * random.uniform(0.9, 1.1) + 0.05 * noise

    class Noise:  # draws from fit's augmentation generator
        def __call__(self, x, generator=None):
            return x + 0.05 * torch.randn(x.shape, generator=generator)

    random.seed(1)
    np.random.seed(1)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(300, 8, generator=g)
    y = (X[:, :2].sum(1) > 0).long() + (X[:, 2] > 1).long()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3),
                          nn.Linear(32, 3))
    opt = WeightDecay(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                      weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.7)
    es = EarlyStopping(patience=20, restore_best_weights=True)
    h = fit(model, (X[:240], y[:240]), (X[240:], y[240:]), epochs=EPOCHS, optimizer=opt,
            regularization=[L1(1e-4), Noise(), HostNoise()], callbacks=[sched, es], seed=5,
            progress=False, checkpoint=None if ckpt == "-" else ckpt)
    rows = [{k: v for k, v in r.items() if k != "seconds"} for r in h.rows]
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "rows": rows,
                "stop": h.stop_reason.value, "best": h.best_epoch}, out)
    """
)
EPOCHS = 8
KILLS = (2, 5)  # kill once a checkpoint holds this many epochs


def _launch(script: Path, ckpt: str, out: Path, slow: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(script), ckpt, str(out), str(slow)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _kill_after(proc: subprocess.Popen[bytes], ckpt: Path, epochs: int) -> int:
    """SIGKILL ``proc`` once ``ckpt`` holds ``epochs`` epochs; the epoch count it had."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be killed: {proc.stderr.read()!r}")  # type: ignore[union-attr]
        try:
            done = int(torch.load(ckpt, weights_only=True)["epoch"])
        except FileNotFoundError:
            done = 0
        if done >= epochs:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return done
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the run never reached the epoch to kill it at")


def _finish(proc: subprocess.Popen[bytes]) -> None:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]


def _assert_same_tensors(a: Any, b: Any, where: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_same_tensors(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_tensors(x, y, f"{where}/{i}")
    else:
        assert a == b, where


@pytest.mark.slow
def test_killed_twice_and_restarted_ends_bitwise_like_an_uninterrupted_run(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.replace("EPOCHS", str(EPOCHS)))
    ckpt = tmp_path / "run.ckpt"
    straight = _launch(script, "-", tmp_path / "straight.pt", 0.0)
    killed = _launch(script, str(ckpt), tmp_path / "resumed.pt", 0.02)
    seen = [_kill_after(killed, ckpt, KILLS[0])]
    assert killed.returncode == -signal.SIGKILL
    again = _launch(script, str(ckpt), tmp_path / "resumed.pt", 0.02)
    seen.append(_kill_after(again, ckpt, KILLS[1]))
    assert again.returncode == -signal.SIGKILL
    assert not (tmp_path / "resumed.pt").exists()  # neither run got to the end
    _finish(_launch(script, str(ckpt), tmp_path / "resumed.pt", 0.0))
    _finish(straight)
    assert KILLS[0] <= seen[0] < seen[1] < EPOCHS

    a = torch.load(tmp_path / "straight.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert len(a["rows"]) == EPOCHS and a["stop"] == "completed"
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    _assert_same_tensors(a["optimizer"], b["optimizer"], "optimizer")
    assert a["rows"] == b["rows"]  # every number of the History but seconds, bitwise
    assert (a["stop"], a["best"]) == (b["stop"], b["best"])
    assert not [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]


# ---------------------------------------------------------------------------- in one process


def _data(n: int = 120, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 6, generator=g)
    return X, (X[:, 0] + X[:, 1] > 0).long()


def _model(width: int = 16) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(6, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(0.2), nn.Linear(width, 2)
    )


def _run(
    path: Path | None,
    epochs: int,
    width: int = 16,
    lr: float = 1e-2,
    seed: int = 3,
    **kwargs: Any,
) -> tuple[History, nn.Module, EarlyStopping]:
    """A fresh set of objects each call, as in a restarted process."""
    model = _model(width)
    opt = WeightDecay(torch.optim.Adam(model.parameters(), lr=lr), weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.9)
    es = EarlyStopping(patience=10, restore_best_weights=True)
    h = fit(model, _data(), _data(40, 1), epochs=epochs, optimizer=opt, callbacks=[sched, es],
            seed=seed, progress=False, checkpoint=path, **kwargs)  # fmt: skip
    return h, model, es


def _rows(h: History) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in h.rows]


def test_checkpoint_loads_with_weights_only_and_holds_the_whole_run(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "run.ckpt"  # the directory is created
    h, model, es = _run(path, 2)
    state = torch.load(path, weights_only=True)
    assert state["format"] == "reglab.fit.checkpoint/1" and state["epoch"] == 2
    assert {k for k in state} >= {"model", "optimizer", "schedulers", "callbacks", "rng"}
    for k, v in state["model"].items():  # the last epoch's weights (finish restores later)
        assert v.shape == model.state_dict()[k].shape
    assert state["optimizer"]["weight_decay"]["step"] == 2 * 4  # WeightDecay's own counter
    assert len(state["optimizer"]["state"]) == len(list(model.parameters()))  # Adam moments
    assert state["schedulers"][0]["last_epoch"] == 2
    es_state = state["callbacks"][0]
    assert es_state["best_epoch"] == es.best_epoch and es_state["best"] == es.best
    assert set(es_state["best_weights"]) >= {"1.running_mean", "0.weight"}
    rng = state["rng"]
    assert len(rng) == 1 and set(rng[0]["generators"]) == {"shuffle", "augment"}
    assert {"torch", "python", "numpy"} <= set(rng[0])
    assert state["history"]["rows"] == h.rows and state["history"]["task"] == "classification"
    assert [p.name for p in path.parent.iterdir()] == ["run.ckpt"]  # no temporary left


def test_resumed_run_equals_an_uninterrupted_one_bitwise(tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"
    _run(path, 2)  # "killed" after epoch 2: the caller reruns with more epochs
    h_resumed, m_resumed, es_resumed = _run(path, 5)
    h_straight, m_straight, es_straight = _run(None, 5)
    assert _rows(h_resumed) == _rows(h_straight)
    assert h_resumed.rows[:2] == torch.load(path, weights_only=True)["history"]["rows"][:2]
    for k, v in m_straight.state_dict().items():
        assert torch.equal(m_resumed.state_dict()[k], v), k
    assert es_resumed.state_dict()["best_epoch"] == es_straight.best_epoch
    assert h_resumed.best_epoch == h_straight.best_epoch


def test_finished_checkpoint_returns_its_history_without_training(tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"
    h1, m1, _ = _run(path, 3)
    mtime = path.stat().st_mtime_ns
    h2, m2, es2 = _run(path, 3)
    assert h2.to_dict() == h1.to_dict()  # seconds included: nothing was rerun
    assert path.stat().st_mtime_ns == mtime
    for k, v in m1.state_dict().items():  # the same final (best-epoch) weights
        assert torch.equal(m2.state_dict()[k], v), k
    assert h2.stop_reason is StopReason.COMPLETED and es2.epoch == 3


def test_a_stopped_run_stays_stopped(tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"
    X, y = _data()

    def run() -> tuple[History, nn.Module]:
        model = _model()
        es = EarlyStopping(monitor="lr", mode="min", patience=1, restore_best_weights=True)
        h = fit(model, (X, y), None, epochs=9, callbacks=[es], seed=0, progress=False,
                checkpoint=path)  # fmt: skip
        return h, model

    h1, m1 = run()
    h2, m2 = run()
    assert (len(h1), h1.stop_reason) == (2, StopReason.PATIENCE)
    assert h2.to_dict() == h1.to_dict()
    for k, v in m1.state_dict().items():
        assert torch.equal(m2.state_dict()[k], v), k


PREFIX = "fit cannot resume from the checkpoint {path!r}: "
ADVICE = " Remove it or pass another checkpoint path."


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (
            {"width": 32},
            "it was written by a different run (model: '0.weight (16, 6) torch.float32' there, "
            "'0.weight (32, 6) torch.float32' here).",
        ),
        ({"lr": 0.1}, "it was written by a different run (optimizer: "),
        ({"seed": 4}, "it was written by a different run (seed: '3' there, '4' here)."),
        (
            {"regularization": nn.Identity()},
            "it was written by a different run (regularization: 'nothing' there, "
            "'Identity(): augments each training batch' here).",
        ),
    ],
)
def test_checkpoint_of_another_run_is_a_one_line_error(
    tmp_path: Path, change: dict[str, Any], detail: str
) -> None:
    path = tmp_path / "run.ckpt"
    _run(path, 1)
    before = path.read_bytes()
    with pytest.raises(ConfigError) as info:
        _run(path, 2, **change)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(PREFIX.format(path=str(path)) + detail)
    assert message.endswith(ADVICE)
    assert path.read_bytes() == before  # left as it was


def test_files_that_are_not_checkpoints_are_one_line_errors(tmp_path: Path) -> None:
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ConfigError) as info:
        _run(other, 1)
    assert str(info.value) == (
        PREFIX.format(path=str(other))
        + "it is not a reglab fit checkpoint (no format entry 'reglab.fit.checkpoint/1')."
        + ADVICE
    )
    partial = tmp_path / "partial.pt"
    torch.save({"format": "reglab.fit.checkpoint/1", "epoch": 1, "model": {}}, partial)
    with pytest.raises(ConfigError) as info:
        _run(partial, 1)
    assert str(info.value) == (
        PREFIX.format(path=str(partial)) + "it lacks the entries seed, fingerprint, optimizer, "
        "schedulers, callbacks, rng, history, stop_reason, stopper." + ADVICE
    )
    pickled = tmp_path / "pickled.pt"
    torch.save({"obj": StopReason}, pickled)  # a class: refused by weights_only
    with pytest.raises(ConfigError) as info:
        _run(pickled, 1)
    assert str(info.value) == (
        PREFIX.format(path=str(pickled))
        + "it is not a reglab fit checkpoint (UnpicklingError while loading it with "
        "weights_only=True)." + ADVICE
    )


class _OpaqueState:
    def step(self, metrics: dict[str, Any], model: nn.Module) -> bool:
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"fn": len}


def test_state_that_weights_only_cannot_load_is_refused(tmp_path: Path) -> None:
    X, y = _data()
    with pytest.raises(ConfigError) as info:
        fit(_model(), (X, y), None, epochs=1, callbacks=[_OpaqueState()], progress=False,
            checkpoint=tmp_path / "c.ckpt")  # fmt: skip
    assert str(info.value) == (
        "fit cannot write the callback _OpaqueState into a checkpoint: it holds a "
        "builtin_function_or_method, which torch.load(weights_only=True) refuses. Its "
        "state_dict must hold only tensors, numbers, strings, lists and dicts."
    )
    assert not (tmp_path / "c.ckpt").exists()


def test_checkpoint_parameter_is_validated() -> None:
    X, y = _data()
    with pytest.raises(ConfigError) as info:
        fit(_model(), (X, y), None, epochs=1, progress=False, checkpoint=3)  # type: ignore[arg-type]
    assert str(info.value) == (
        "The 'checkpoint' parameter of fit must be None or a file path. Got 3 instead."
    )
