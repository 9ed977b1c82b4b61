"""How the CLI shows the lab's progress events: a bar for a study, lines for a tuning run.

The lab reports progress as :class:`~reglab.lab.queue.workers.Event` objects; :class:`Display` is the
callback the commands pass. A worker's configuration error is always shown (one
``reglab: error:`` line on stderr); the rest only with ``--progress``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import click

__all__ = ["Display", "settings_line"]


def settings_line(label: str, i: dict[str, Any]) -> str:
    """What a study runs, in one line (the sizes as drawn, where the test split came from).

    Example:
        >>> settings_line("study", {"data": "wine", "rows": 178, "test_source": "random",
        ...     "sizes": {"train": 89, "val": 44, "test": 45}, "model": "auto", "recipes": 7,
        ...     "seeds": 3, "jobs": 2, "device": "cpu", "encoded_columns": 0})
        'study: wine (178 rows): train 89 / val 44 / test 45 (random test split); model auto; 7 recipes x 3 seeds; 2 workers on cpu'
    """
    sizes = i.get("sizes") or {}
    parts = " / ".join(f"{k} {v}" for k, v in sizes.items())
    source = f" ({i['test_source']} test split)" if i.get("test_source") else ""
    encoded = f"; {i['encoded_columns']} columns encoded" if i.get("encoded_columns") else ""
    text = i.get("text") or {}
    if text.get("column"):
        how = " (detected)" if text.get("detected") else ""
        encoded += f"; text column {text['column']!r}{how}"
    if text.get("vocabulary"):
        oov = text.get("parts", {}).get("val", {}).get("oov")
        share = f", {100 * oov:.1f}% of validation tokens out of it" if oov is not None else ""
        encoded += f"; vocabulary {text['vocabulary']:,} words from train{share}"
    model = f"training function {i['train_fn']}" if i.get("train_fn") else f"model {i['model']}"
    inert = "".join(
        f"; NOTE {name}: {note}" for name, notes in (i.get("inert") or {}).items() for note in notes
    )
    return (
        f"{label}: {i['data']} ({i['rows']} rows): {parts}{source}{encoded}; {model}; "
        f"{i['recipes']} recipes x {i['seeds']} seeds; {i['jobs']} workers on {i['device']}"
        f"{inert}"
    )


class Display:
    """Render lab events on stderr: cells done / running / failed with an ETA (rich), one line
    per finished tuning trial, the confirmation stage, and worker errors."""

    def __init__(self, enabled: bool, label: str = "study") -> None:
        self.enabled = enabled
        self.label = label
        self._bar: Any = None
        self._task: Any = None
        self._start = time.perf_counter()
        self._done0: int | None = None
        self._failures: set[str] = set()

    def __enter__(self) -> Display:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __call__(self, event: Any) -> None:
        if event.kind == "error":
            self._line(f"reglab: error: {event.info['message']}")
        elif event.kind == "failure":  # a cell's training raised: said at once, always
            message = event.info["message"]
            said = "the same way" if message in self._failures else message
            self._failures.add(message)
            self._line(f"reglab: cell {event.info['cell']} failed: {said}")
        elif event.kind == "settings":  # the record of what ran: always, on standard error
            self._line(settings_line(self.label, event.info))
        elif event.kind == "database":  # shown even without --progress: the study seems stuck
            url = event.info["url"]
            if event.info["waiting"]:
                self._line(f"reglab: the database at {url!r} is not answering; waiting for it")
            else:
                self._line(f"reglab: the database at {url!r} answers again; carrying on")
        elif not self.enabled:
            return
        elif event.kind == "cells":
            self._cells(event)
        elif event.kind == "trial":
            self._trial(event)
        elif event.kind == "confirm":
            i = event.info
            self._line(
                f"tune: confirming the best {i['trials']} trials on {i['partitions']} more "
                f"partitions ({i['runs']} runs)"
            )
        elif event.kind == "confirmed":
            self._confirmed(event)
        elif event.kind == "evaluate":
            i = event.info
            self._line(f"tune: test evaluation, seeds 0-{i['seeds'] - 1} ({i['runs']} runs)")
        elif event.kind == "look":
            from ..lab.tune.outputs import verdict_label

            c = event.info["comparison"]
            label = verdict_label(c, event.info.get("metric") == "test_acc")
            more = f", next look {c['wanted']} seeds" if c["sequential"] and not c["final"] else ""
            self._line(f"tune: look {c['look']} ({c['seeds']} seeds): {label}{more}")

    def _line(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            click.echo(text, err=True)

    def _cells(self, event: Any) -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn(f"[bold]{self.label}[/bold]"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} cells"),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=event.total, status="")
        done = event.done
        if self._done0 is None:
            self._done0 = done
        elapsed = time.perf_counter() - self._start
        finished_here = done - self._done0
        eta = "?"
        if finished_here > 0:
            eta = f"{math.ceil((event.total - done) * elapsed / finished_here)}s"
        i = event.info
        status = f"running {i.get('running', 0)}, failed {i.get('failed', 0)}, ETA {eta}"
        # A sequential study queues more cells as it decides: the total grows.
        self._bar.update(self._task, completed=done, total=event.total, status=status)

    def _trial(self, event: Any) -> None:
        i = event.info
        scale = 100.0 if i["key"] == "val_acc" else -1.0
        value = "pruned" if i["value"] is None else f"{scale * i['value']:.2f}"
        best = "-" if i["best"] is None else f"{scale * i['best']:.2f}"
        self._line(
            f"tune: trial {i['number']:3d} {i['state']:8s} {i['key']} {value:>7s}"
            f"  best {best}  ({event.done}/{event.total} finished, {i['seconds']:.0f} s)"
        )

    def _confirmed(self, event: Any) -> None:
        i = event.info
        scale = 100.0 if i["key"] == "val_acc" else -1.0
        for r in i["rows"]:
            conf = "-" if r["confirm"] is None else f"{scale * r['confirm']:.2f}"
            chosen = "  <- chosen" if r["number"] == i["chosen"] else ""
            self._line(
                f"tune: trial {r['number']:3d} search {scale * r['search']:.2f}  "
                f"more partitions {conf}{chosen}"
            )
