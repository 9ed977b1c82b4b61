"""How the CLI draws the lab's progress events: worker errors always, the rest with --progress."""

from __future__ import annotations

import pytest

from reglab.cli.progress import Display
from reglab.lab.queue.workers import Event


def test_worker_errors_show_even_without_progress(capsys: pytest.CaptureFixture[str]) -> None:
    with Display(enabled=False) as display:
        display(Event("cells", 1, 4, {"running": 1, "failed": 0}))
        display(Event("error", info={"message": "Unknown dataset 'nope'."}))
    out, err = capsys.readouterr()
    assert out == "" and err == "reglab: error: Unknown dataset 'nope'.\n"


def test_tuning_lines(capsys: pytest.CaptureFixture[str]) -> None:
    trial = {"number": 3, "state": "complete", "value": 0.9125, "best": 0.95, "key": "val_acc"}
    pruned = {**trial, "number": 4, "state": "pruned", "value": None, "best": None}
    rows = [
        {"number": 3, "search": 0.9, "confirm": 0.925, "mean": 0.91},
        {"number": 1, "search": 0.95, "confirm": None, "mean": None},
    ]
    with Display(enabled=True, label="tune") as display:
        display(Event("trial", 4, 10, {**trial, "seconds": 12.4}))
        display(Event("trial", 5, 10, {**pruned, "seconds": 13.0}))
        display(Event("confirm", info={"trials": 2, "partitions": 2, "runs": 4}))
        display(Event("confirmed", info={"rows": rows, "chosen": 3, "key": "val_acc"}))
    assert capsys.readouterr().err.splitlines() == [
        "tune: trial   3 complete val_acc   91.25  best 95.00  (4/10 finished, 12 s)",
        "tune: trial   4 pruned   val_acc  pruned  best -  (5/10 finished, 13 s)",
        "tune: confirming the best 2 trials on 2 more partitions (4 runs)",
        "tune: trial   3 search 90.00  more partitions 92.50  <- chosen",
        "tune: trial   1 search 95.00  more partitions -",
    ]
