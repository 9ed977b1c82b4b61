"""One lab cell: train a model built from a recipe with one seed, and measure it once on test.

:func:`run_cell` is what every (recipe, seed) trial of ``reglab study`` executes: it builds the
model (:func:`reglab.models.build_model`) with the seed, trains it with :func:`reglab.fit` on the
training split while the validation split drives early stopping, then evaluates the final
weights (the best ones when early stopping restored them) on the train, validation and test
splits. The test split is touched exactly once, after training.

Example:
    >>> import reglab.data as rd
    >>> from reglab.lab.core.recipe import Recipe
    >>> sp = rd.split(rd.load_dataset("iris"), train_size=60, val_size=30, seed=0)
    >>> res = run_cell(Recipe(epochs=3, width=8, depth=1), 0, sp, model="mlp")
    >>> res.epochs_run, 0.0 <= res.test_acc <= 1.0
    (3, True)
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import torch
from torch import nn

from ..._checks import Constraints, InstanceOf, Interval, NoneOk, validate_params
from ..._select import weight_stats
from ...data import Batches
from ...errors import ConfigError, format_value
from ...models import ModelFactory, build_model
from ...train import EVAL_BATCH_SIZE, fit
from ...train import evaluate as train_evaluate
from ...train.spec import TrainingParts
from .cells import torch_threads
from .recipe import Recipe
from .text import check_augment_kind, encode_cell

__all__ = ["TRAIN_CURVE_ROWS", "CellResult", "eval_batch_size", "run_cell", "score_tensors"]

#: Rows of the training split the lab scores each epoch for the learning curves: the standard
#: error of an accuracy near 0.9 on 512 rows is 1.3 points (the final scores use every row).
TRAIN_CURVE_ROWS = 512


@dataclass
class CellResult:
    """What one (recipe, seed) run measured; one row of ``results.csv`` plus its history.

    Accuracies are None for regression (the loss columns are the measure there). ``gap`` is
    ``train_acc - val_acc`` for classification and ``val_loss - train_loss`` for regression.
    ``best_epoch`` is 0-based (the epoch whose weights were kept); ``epochs_run`` counts epochs
    trained; ``seconds`` is the wall time of building, training and evaluating;
    ``weight_norm`` and ``sparsity`` are over the weights with ``ndim >= 2`` of the final model.
    """

    recipe: str
    seed: int
    task: str
    train_acc: float | None
    val_acc: float | None
    test_acc: float | None
    train_loss: float
    val_loss: float
    test_loss: float
    gap: float
    best_epoch: int
    epochs_run: int
    seconds: float
    weight_norm: float
    sparsity: float
    stop_reason: str
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain values (``history`` as a list of row dicts)."""
        return asdict(self)


class _Scoring:
    """The training split as fit scores it each epoch: in evaluation batches and in a fixed
    order drawn once from the seed (so any first rows are a random sample of the split).

    Each pass first draws a permutation from the training shuffle's generator and drops it:
    the pass used to be a shuffled pass over the training batches, and drawing it keeps every
    seed's training order as it was.
    """

    def __init__(self, train: Batches, seed: int) -> None:
        self.ds = cast(Any, train.data)  # a reglab.data.Dataset (features made per batch)
        self.device, self.shuffle = train.device, train.generator
        self.batch_size = _curve_batch_size(self.ds.input_shape)
        self.order = torch.randperm(len(self.ds), generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return math.ceil(len(self.ds) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        torch.randperm(len(self.ds), generator=self.shuffle)
        for i in range(0, len(self.ds), self.batch_size):
            idx = self.order[i : i + self.batch_size]
            yield self.ds.features(idx).to(self.device), self.ds.y[idx].to(self.device)


def _in_batches(
    X: torch.Tensor, y: torch.Tensor, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for i in range(0, len(y), batch_size):
        yield X[i : i + batch_size], y[i : i + batch_size]


def score_tensors(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    task: str = "classification",
    batch_size: int = EVAL_BATCH_SIZE,
) -> tuple[float, float | None]:
    """``(loss, accuracy)`` of ``model`` in eval mode, ``batch_size`` rows at a time.

    Classification uses the mean cross-entropy, regression the mean squared error; accuracy is
    None for regression (:func:`reglab.train.evaluate` on the batches of ``X``, ``y``).

    Example:
        >>> m = nn.Linear(2, 2)
        >>> loss, acc = score_tensors(m, torch.zeros(3, 2), torch.tensor([0, 1, 1]))
        >>> 0.0 <= acc <= 1.0
        True
    """
    return train_evaluate(model, _in_batches(X, y, batch_size), task=task)


def eval_batch_size(input_shape: Sequence[int]) -> int:
    """Rows per evaluation batch: up to 1,024, fewer for larger samples.

    A batch of about 256k input values keeps a small network's activations in cache: on
    28x28 images the lab's CNN evaluates twice as fast in batches of 256 as of 1,024.

    Example:
        >>> eval_batch_size((1, 8, 8)), eval_batch_size((1, 28, 28)), eval_batch_size((3, 32, 32))
        (1024, 256, 64)
    """
    values = max(1, math.prod(input_shape))
    return min(EVAL_BATCH_SIZE, max(64, 2 ** int(math.log2(max(1, 2**18 // values)))))


def _curve_batch_size(input_shape: Sequence[int]) -> int:
    """Rows per batch of the training curve: about 64k input values (64 rows of 28x28), where
    the lab's CNN scores fastest on CPU; unlike :func:`eval_batch_size` it changes no result."""
    values = max(1, math.prod(input_shape))
    return min(EVAL_BATCH_SIZE, max(64, 2 ** int(math.log2(max(1, 2**16 // values)))))


def _split_batches(ds: Any, device: torch.device) -> Batches:
    """A whole split in evaluation batches (features made per batch, moved per batch)."""
    batches: Batches = ds.batch_iterable(eval_batch_size(ds.input_shape), device=device)
    return batches


def _part(splits: Any, part: str) -> Any:
    ds = getattr(splits, part, None)
    if ds is None or not hasattr(ds, "batches"):
        raise ConfigError(
            "The 'splits' parameter of run_cell must be a reglab.data.Splits (train, val and "
            f"test datasets). Got {format_value(splits)} instead."
        )
    if len(ds) == 0:
        raise ConfigError(f"run_cell needs a non-empty {part} split. Got 0 samples instead.")
    return ds


#: The constraints of run_cell's arguments, checked by validate_params.
_RUN_CELL_CONSTRAINTS: Constraints = {
    "recipe": [InstanceOf(Recipe, description="a reglab Recipe")],
    "seed": [Interval(int, 0, None)],
    "epochs": [Interval(int, 1, None), NoneOk()],
    "threads": [Interval(int, 1, None), NoneOk()],
    "train_curve_rows": [Interval(int, 1, None), NoneOk()],
}


def run_cell(
    recipe: Recipe,
    seed: int,
    splits: Any,
    model: str | ModelFactory = "cnn",
    epochs: int | None = None,
    device: str | torch.device = "cpu",
    threads: int | None = None,
    callbacks: Sequence[Any] = (),
    train_curve_rows: int | None = TRAIN_CURVE_ROWS,
) -> CellResult:
    """Train ``recipe`` with ``seed`` on ``splits`` and measure it; deterministic on CPU.

    The seed fixes the model's initial weights, the batch order, dropout masks and
    augmentation draws. The validation split is used by early stopping only; test is evaluated
    once at the end.

    Args:
        recipe: what to train (:class:`~reglab.lab.core.recipe.Recipe`).
        seed: integer seed of the run.
        splits: a :class:`reglab.data.Splits` (train/val/test datasets).
        model: ``"cnn"``, ``"mlp"``, a factory spec ``"package.module:name"`` or a factory.
        epochs: overrides ``recipe.epochs`` (the cosine schedule follows it).
        device: where to train.
        threads: torch intra-op threads during the run (restored after); None leaves them.
        callbacks: extra :func:`reglab.fit` callbacks, after the recipe's own (``reglab tune``
            passes its pruning reporter here).
        train_curve_rows: the History's per-epoch training scores are measured on this many
            rows of the training split (a fixed random sample, in evaluation batches; images
            and tables) to save time; None scores the whole split each epoch as the training
            batches come. The results (final scores on every split, best epoch, epochs run)
            are the same either way.

    Returns:
        A :class:`CellResult`.
    """
    validate_params("run_cell", locals(), _RUN_CELL_CONSTRAINTS)
    if epochs is not None:
        recipe = recipe.replace(epochs=epochs)
    dev = torch.device(device)
    task = getattr(splits, "task", "classification")
    start = time.perf_counter()
    threads_set = contextlib.nullcontext() if threads is None else torch_threads(threads)
    with threads_set, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        train_ds, val_ds, test_ds = (_part(splits, p) for p in ("train", "val", "test"))
        check_augment_kind(recipe, splits.kind)
        gen = torch.Generator().manual_seed(seed)
        text = encode_cell(recipe, seed, splits).to(dev) if splits.kind == "text" else None
        input_shape = text.input_shape if text is not None else tuple(splits.input_shape)
        net = build_model(recipe, input_shape, splits.num_outputs, kind=model).to(dev)
        if len(input_shape) == 3:
            # NHWC convolutions and pooling are about a third cheaper on CPU for the lab's
            # small images; results are the same up to float rounding.
            net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        parts = recipe.parts(
            net,
            input_shape=input_shape,
            num_classes=splits.num_classes if task == "classification" else None,
        )
        parts.callbacks = [*parts.callbacks, *callbacks]
        if parts.loss is None and task == "regression":
            parts.loss = nn.MSELoss()
        train: Any
        val: Any
        scored: list[Any]
        curve_rows = None
        if text is not None:
            train = text.train_batches(recipe.batch_size, gen, dev)
            val = text.eval_batches("val")
            scored = [text.eval_batches(p) for p in ("train", "val", "test")]
        else:
            train = train_ds.batch_iterable(
                recipe.batch_size, shuffle=True, generator=gen, device=dev
            )
            if train_curve_rows is not None:
                train.evaluation = _Scoring(train, seed)
                curve_rows = train_curve_rows
            val = _split_batches(val_ds, dev)
            scored = [_split_batches(ds, dev) for ds in (train_ds, val_ds, test_ds)]
        history = _fit(net, train, val, parts, dev, seed, curve_rows)
        (train_loss, train_acc), (val_loss, val_acc), (test_loss, test_acc) = (
            train_evaluate(net, batches, task=task) for batches in scored
        )
        stats = weight_stats(net)  # the one rule of the penalties and fit's columns
        weight_norm, sparsity = stats.norm, stats.sparsity
    rows = [dict(r) for r in history.rows]
    if task == "regression":
        gap = val_loss - train_loss
    else:
        assert train_acc is not None and val_acc is not None  # classification always has them
        gap = train_acc - val_acc
    best = history.best_epoch if history.best_epoch is not None else len(rows) - 1
    return CellResult(
        recipe=recipe.name,
        seed=seed,
        task=task,
        train_acc=train_acc,
        val_acc=val_acc,
        test_acc=test_acc,
        train_loss=train_loss,
        val_loss=val_loss,
        test_loss=test_loss,
        gap=gap,
        best_epoch=int(best),
        epochs_run=len(rows),
        seconds=time.perf_counter() - start,
        weight_norm=weight_norm,
        sparsity=sparsity,
        stop_reason=str(history.stop_reason) if history.stop_reason is not None else "completed",
        history=rows,
    )


def _fit(
    net: nn.Module,
    train: Any,
    val: Any,
    parts: TrainingParts,
    device: torch.device,
    seed: int,
    train_curve_rows: int | None = None,
) -> Any:
    return fit(
        net,
        train,
        val,
        **parts.kwargs(),
        device=device,
        seed=seed,
        progress=False,
        train_curve_rows=train_curve_rows,
    )
