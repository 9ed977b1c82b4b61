"""What every front end shares about one cell: a recipe trained with one seed (and size).

A :class:`Cell` names the point of the grid (its key is what the queue stores);

A split size is a count (``200``) or a fraction in (0, 1) (``0.2``); the ``auto`` model is the
CNN on images and the MLP on tabular data; a run's result becomes one stored row plus its
per-epoch history; every recipe's model and parts are built once before any cell starts, so a
bad model or recipe fails at once.

Example:
    >>> model_kind("auto", "image"), model_kind("auto", "tabular"), model_kind("mlp", "image")
    ('cnn', 'mlp', 'mlp')
    >>> split_size("StudyConfig", "train_size", 0.25), split_size("StudyConfig", "val_size", 300)
    (0.25, 300)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

import torch

from ..._checks import Interval, validate_params
from ...data.text import DEFAULT_MAX_SIZE, Vocabulary
from ...errors import ConfigError, format_value
from ...models import build_model
from .text import check_augment_kind, eda_for

__all__ = [
    "AUTO_MODELS",
    "DIVERGED",
    "NOISE_KINDS",
    "Cell",
    "cell_key",
    "check_builds",
    "json_safe",
    "lab_device",
    "model_kind",
    "result_parts",
    "split_size",
    "torch_threads",
]


@dataclass(frozen=True, order=True)
class Cell:
    """One unit of work: a recipe (by name, with its full definition), a seed, and a size.

    ``train_size`` is set only in a training-size sweep; the key is then ``"recipe/seed@size"``,
    else ``"recipe/seed"`` (as every study stored before sweeps existed).

    Example:
        >>> Cell("baseline", 0).key, Cell("baseline", 0, 500).key
        ('baseline/0', 'baseline/0@500')
    """

    recipe: str
    seed: int
    train_size: int | None = None

    @property
    def key(self) -> str:
        return cell_key(self.recipe, self.seed, self.train_size)

    def attrs(self) -> dict[str, Any]:
        """The trial attributes that name this cell (no ``train_size`` when it has none)."""
        d: dict[str, Any] = {"recipe": self.recipe, "seed": self.seed}
        if self.train_size is not None:
            d["train_size"] = self.train_size
        return d


def cell_key(recipe: str, seed: int, train_size: int | None = None) -> str:
    """``"recipe/seed"``, or ``"recipe/seed@train_size"`` in a training-size sweep."""
    key = f"{recipe}/{seed}"
    return key if train_size is None else f"{key}@{train_size}"


def json_safe(value: Any) -> Any:
    """Replace NaN/inf (not valid JSON) with None, recursively (shared by the lab's writers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch threads, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


#: Stop reasons that mean the loss blew up: the run is kept and reported as diverged.
DIVERGED = ("non_finite", "divergence_threshold")


#: A split size: a fraction in (0, 1), or a count (an int or a whole float).
_FRACTION = [Interval(float, 0, 1, closed="neither")]
_COUNT = [Interval(int, 0, None), Interval(float, 0, None)]


def split_size(owner: str, name: str, value: Any) -> int | float:
    """A validated split size: a fraction in (0, 1) stays a float, anything else is a count."""
    if isinstance(value, float) and not float(value).is_integer():
        validate_params(owner, {name: value}, {name: _FRACTION})
        return value
    validate_params(owner, {name: value}, {name: _COUNT})
    return int(value)


#: Data kinds whose only augmentation is Gaussian noise (the image transforms do not apply).
NOISE_KINDS = ("tabular", "signal")

#: The model ``--model auto`` picks for each data kind (the MLP for any other kind).
AUTO_MODELS = {"image": "cnn", "signal": "cnn1d", "tabular": "mlp", "text": "textcnn"}


def model_kind(model: str, kind: str) -> str:
    """``auto`` picks by the data's kind (:data:`AUTO_MODELS`); other names stay."""
    if model == "auto":
        return AUTO_MODELS.get(kind, "mlp")
    return model


def lab_device(device: Any, owner: str = "run_study") -> str:
    """The device a study or tuning run trains on, as a string workers can be given.

    ``"auto"`` is CUDA when it is available, else the CPU; ``"cpu"``, ``"cuda"``, ``"cuda:N"``
    and ``"mps"`` must be available here, or the one-line error says what is.

    Example:
        >>> lab_device("cpu")
        'cpu'
    """
    valid = "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
    if not isinstance(device, str):
        raise ConfigError(
            f"The 'device' parameter of {owner} must be {valid}. Got {format_value(device)} instead."
        )
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(
            f"The 'device' parameter of {owner} must be {valid}. Got {format_value(device)} instead."
        )
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index is not None and dev.index >= count):
            have = f"{count} CUDA device(s)" if count else "no CUDA device"
            raise ConfigError(
                f"The 'device' parameter of {owner} must name an available device. Got "
                f"{device!r} instead: this machine has {have} (use 'auto' or 'cpu')."
            )
    if dev.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ConfigError(
            f"The 'device' parameter of {owner} must name an available device. Got {device!r} "
            "instead: MPS is not available here (use 'auto' or 'cpu')."
        )
    return str(dev)


def result_parts(result: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Split a run's result into the stored row and its per-epoch history."""
    d = dict(result.to_dict()) if hasattr(result, "to_dict") else dict(asdict(result))
    history = d.pop("history", None)
    if history is None and is_dataclass(result):
        history = []
    if hasattr(history, "rows"):
        history = list(history.rows)
    return d, [dict(r) for r in (history or [])]


def check_builds(recipes: Iterable[Any], splits: Any, model: str) -> None:
    """Build each recipe's model and training parts once (a bad one raises its ConfigError).

    On text the model's input is the vocabulary of the training split, and a recipe with EDA
    finds its WordNet database here.

    The global random state is left as it was, so the check changes no later draw.
    """
    classes = splits.num_classes if splits.task == "classification" else None
    shape = tuple(splits.input_shape)
    if splits.kind == "text":
        vocab = Vocabulary.fit(splits.train.text_rows(), max_size=DEFAULT_MAX_SIZE)
        shape = (len(vocab),)
    with torch.random.fork_rng(devices=[]):
        for recipe in recipes:
            check_augment_kind(recipe, splits.kind)
            if splits.kind == "text":
                eda_for(recipe, len(splits.train))  # no WordNet: the one-line error, now
            net = build_model(recipe, shape, splits.num_outputs, kind=model)
            recipe.parts(net, input_shape=shape, num_classes=classes)
