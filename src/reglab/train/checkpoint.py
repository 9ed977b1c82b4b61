"""Checkpoints of a ``fit`` run: everything needed to continue it bitwise, and nothing that runs.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts, so that
``torch.load(path, weights_only=True)`` reads it: model, optimizer, LR schedulers and callback
state dicts, the RNG states of every rank, the History so far, the next epoch, and a
fingerprint of the run's configuration that a resume must match. It is written atomically
(a temporary file in the same directory, then ``os.replace``): a run killed while writing
leaves the previous checkpoint intact.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import random
import sys
from collections.abc import Mapping
from typing import Any

import torch

from ..errors import ConfigError, format_value

__all__ = ["FORMAT", "check_fingerprint", "get_rng", "load", "plain", "save", "set_rng"]

#: The ``format`` entry of every checkpoint; a file without it is not one of ours.
FORMAT = "reglab.fit.checkpoint/1"

_ADVICE = "Remove it or pass another checkpoint path."
_KEYS = (
    "epoch",
    "seed",
    "fingerprint",
    "model",
    "optimizer",
    "schedulers",
    "callbacks",
    "rng",
    "history",
    "stop_reason",
    "stopper",
)


def plain(obj: Any, where: str) -> Any:
    """``obj`` with enums, dataclasses and NumPy values turned into what weights_only loads."""
    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor)):
        if isinstance(obj, enum.Enum):
            return plain(obj.value, where)
        return obj
    if isinstance(obj, enum.Enum):
        return plain(obj.value, where)
    if isinstance(obj, Mapping):
        return {plain(k, where): plain(v, where) for k, v in obj.items()}
    if isinstance(obj, torch.Size):
        return tuple(int(s) for s in obj)
    if isinstance(obj, (list, tuple)):
        items = [plain(v, where) for v in obj]
        return items if isinstance(obj, list) else tuple(items)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name), where) for f in dataclasses.fields(obj)}
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(obj, np.ndarray):
            return torch.from_numpy(obj.copy())
        if isinstance(obj, np.generic):
            return obj.item()
    raise ConfigError(
        f"fit cannot write {where} into a checkpoint: it holds a {type(obj).__name__}, which "
        "torch.load(weights_only=True) refuses. Its state_dict must hold only tensors, "
        "numbers, strings, lists and dicts."
    )


# -- RNG states ---------------------------------------------------------------------------------


def get_rng(generators: Mapping[str, torch.Generator | None], device: torch.device) -> dict:
    """This process's RNG states: torch's global RNG (and CUDA's), Python's, NumPy's, fit's."""
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": {
            "version": int(version),
            "state": torch.tensor(internal, dtype=torch.int64),
            "gauss": gauss,
        },
        "generators": {k: g.get_state() for k, g in generators.items() if g is not None},
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    np = sys.modules.get("numpy")
    if np is not None:
        name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
        state["numpy"] = {
            "name": str(name),
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        }
    return state


def set_rng(
    state: Mapping[str, Any], generators: Mapping[str, torch.Generator | None], device: torch.device
) -> None:
    """Inverse of :func:`get_rng`."""
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    saved = state.get("generators", {})
    for key, g in generators.items():
        if g is not None and key in saved:
            g.set_state(saved[key])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
    np = sys.modules.get("numpy")
    if np is not None and "numpy" in state:
        s = state["numpy"]
        keys = s["keys"].numpy().astype(np.uint32)
        np.random.set_state((s["name"], keys, s["pos"], s["has_gauss"], s["cached"]))


# -- files --------------------------------------------------------------------------------------


def save(path: str, state: Mapping[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, ``os.replace``)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(dict(state), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load(path: str) -> dict[str, Any] | None:
    """The checkpoint at ``path`` (None when there is no file); anything else is a ConfigError."""
    if not os.path.exists(path):
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors come in many types
        raise ConfigError(
            f"fit cannot resume from the checkpoint {path!r}: it is not a reglab fit checkpoint "
            f"({type(e).__name__} while loading it with weights_only=True). {_ADVICE}"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ConfigError(
            f"fit cannot resume from the checkpoint {path!r}: it is not a reglab fit checkpoint "
            f"(no format entry {FORMAT!r}). {_ADVICE}"
        )
    missing = [k for k in _KEYS if k not in state]
    if missing:
        raise ConfigError(
            f"fit cannot resume from the checkpoint {path!r}: it lacks the entries "
            f"{', '.join(missing)}. {_ADVICE}"
        )
    return state


def _short(value: Any) -> str:
    return format_value(value, limit=60)


def check_fingerprint(path: str, saved: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """A one-line ConfigError naming the first part of the run that differs from the checkpoint."""
    for key, now in current.items():
        then = saved.get(key)
        if then == now:
            continue
        if isinstance(now, list) and isinstance(then, list):
            i = next(
                (i for i, (a, b) in enumerate(zip(then, now)) if a != b), min(len(then), len(now))
            )
            then = then[i] if i < len(then) else "nothing"
            now = now[i] if i < len(now) else "nothing"
        raise ConfigError(
            f"fit cannot resume from the checkpoint {path!r}: it was written by a different run "
            f"({key}: {_short(then)} there, {_short(now)} here). {_ADVICE}"
        )
