"""History: what ``fit`` measured, one row per epoch, and how the run ended."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from ..callbacks.early_stopping import StopReason
from ..errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["COLUMNS", "History"]

#: The keys of every row, in order. ``train_acc``/``val_acc`` are None for regression; ``val_*``
#: and ``gap`` are None without a validation set.
COLUMNS = (
    "epoch",
    "loss",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "gap",
    "penalty",
    "lr",
    "weight_norm",
    "sparsity",
    "seconds",
)


class History:
    """Per-epoch records of a training run, the best epoch and why the run stopped.

    ``rows[i]`` is a dict with the keys of :data:`COLUMNS`: ``loss`` is the running mean of the
    training loss over the epoch's batches with regularization active (dropout, augmentation and
    label mixing on; penalty terms excluded, see ``penalty``); ``train_loss``/``train_acc`` are
    measured afterwards in eval mode on the unaugmented training split, ``val_loss``/``val_acc``
    on the validation split; ``gap`` is ``train_acc - val_acc`` (classification) or
    ``val_loss - train_loss`` (regression); ``penalty`` is the summed value of the weight
    penalties at the end of the epoch; ``lr`` the first parameter group's learning rate;
    ``weight_norm`` the L2 norm of all weights with ``ndim >= 2``; ``sparsity`` the fraction of
    those weights that are exactly zero; ``seconds`` the epoch's wall time.

    Example:
        >>> h = History([{"epoch": 0, "val_loss": 0.5}, {"epoch": 1, "val_loss": 0.4}], best_epoch=1)
        >>> h["val_loss"], len(h), h.best_epoch
        ([0.5, 0.4], 2, 1)
    """

    def __init__(
        self,
        rows: Sequence[Mapping[str, Any]] = (),
        *,
        best_epoch: int | None = None,
        stop_reason: StopReason | str | None = None,
        task: str = "classification",
    ) -> None:
        self.rows: list[dict[str, Any]] = [dict(r) for r in rows]
        self.best_epoch = best_epoch
        self.stop_reason = None if stop_reason is None else StopReason(stop_reason)
        self.task = task

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __getitem__(self, key: str) -> list[Any]:
        """The column ``key`` as a list (one value per epoch)."""
        if self.rows and key not in self.rows[0]:
            raise ConfigError(
                f"History has no column {key!r}. Available: {', '.join(self.rows[0])}."
            )
        return [r.get(key) for r in self.rows]

    def keys(self) -> list[str]:
        return list(self.rows[0]) if self.rows else list(COLUMNS)

    @property
    def best(self) -> dict[str, Any] | None:
        """The row of :attr:`best_epoch` (None when unknown)."""
        if self.best_epoch is None or not 0 <= self.best_epoch < len(self.rows):
            return None
        return self.rows[self.best_epoch]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: ``rows``, ``best_epoch``, ``stop_reason`` (str) and ``task``."""
        return {
            "rows": [dict(r) for r in self.rows],
            "best_epoch": self.best_epoch,
            "stop_reason": None if self.stop_reason is None else self.stop_reason.value,
            "task": self.task,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        """Inverse of :meth:`to_dict`."""
        return cls(
            data.get("rows", ()),
            best_epoch=data.get("best_epoch"),
            stop_reason=data.get("stop_reason"),
            task=data.get("task", "classification"),
        )

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write one line per epoch with a header; None is written as an empty field.

        Under torch.distributed only rank 0 writes (every rank holds the same rows).
        """
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
            return
        keys = self.keys()
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(keys)
            for row in self.rows:
                writer.writerow(["" if row.get(k) is None else row.get(k) for k in keys])

    def plot(self, title: str | None = None) -> Figure:
        """Train vs validation curves (loss, and accuracy for classification) as a Figure.

        Needs matplotlib (an optional dependency); draws with the Agg canvas, never opens a
        window. The best epoch is marked with a dotted line.
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError(
                "History.plot needs matplotlib: pip install matplotlib (or reglab[lab])."
            ) from None
        classification = any(r.get("train_acc") is not None for r in self.rows)
        fig = Figure(figsize=(10 if classification else 5.5, 3.8), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 2 if classification else 1, squeeze=False)[0]
        epochs = [int(r["epoch"]) + 1 for r in self.rows]
        panels: list[tuple[str, tuple[str, ...]]] = [("loss", ("loss", "train_loss", "val_loss"))]
        if classification:
            panels.append(("accuracy", ("train_acc", "val_acc")))
        labels = {
            "loss": "train (running, regularized)",
            "train_loss": "train (eval mode)",
            "val_loss": "validation",
            "train_acc": "train (eval mode)",
            "val_acc": "validation",
        }
        for ax, (name, keys) in zip(axes, panels):
            for key in keys:
                ys = [_nan(r.get(key)) for r in self.rows]
                if all(math.isnan(y) for y in ys):
                    continue
                style = "--" if key == "loss" else "-"
                ax.plot(epochs, ys, style, marker="o", markersize=3, label=labels[key])
            if self.best_epoch is not None:
                ax.axvline(self.best_epoch + 1, color="grey", linestyle=":", label="best epoch")
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.legend(fontsize="small")
            ax.grid(alpha=0.3)
        if title or self.stop_reason is not None:
            reason = "" if self.stop_reason is None else f"stopped: {self.stop_reason.value}"
            fig.suptitle(" - ".join(t for t in (title, reason) if t))
        return fig

    def __repr__(self) -> str:
        reason = None if self.stop_reason is None else self.stop_reason.value
        return (
            f"History(epochs={len(self.rows)}, best_epoch={self.best_epoch}, "
            f"stop_reason={reason!r})"
        )


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)
