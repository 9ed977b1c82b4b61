"""The progress bar ``fit(progress=True)`` draws: epochs done, losses and the gap, on stderr."""

from __future__ import annotations

from typing import Any

__all__ = ["EpochBar"]


class EpochBar:
    """A rich progress bar over epochs on stderr (nothing when disabled or rich is missing)."""

    def __init__(self, enabled: bool, epochs: int) -> None:
        self.bar: Any = None
        if not enabled:
            return
        try:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )
        except ImportError:  # pragma: no cover - rich is part of reglab[lab]
            return
        self.bar = Progress(
            TextColumn("epoch"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self.task = self.bar.add_task("fit", total=epochs, info="")
        self.bar.start()

    def update(self, row: dict[str, Any]) -> None:
        if self.bar is None:
            return
        parts = [f"loss {row['loss']:.4f}"]
        for key in ("val_loss", "val_acc", "gap"):
            if row.get(key) is not None:
                parts.append(f"{key} {row[key]:.4f}")
        self.bar.update(self.task, advance=1, info="  ".join(parts))

    def skip(self, epochs: int) -> None:
        """Epochs already run (a resumed checkpoint)."""
        if self.bar is not None and epochs:
            self.bar.update(self.task, advance=epochs, info="resumed")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
