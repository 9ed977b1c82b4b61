"""The lab's worker processes: configuration errors come back as events, dead workers are
replaced within the budget, cells map in order in this process, progress events."""

from __future__ import annotations

import os
import signal

import pytest

from reglab.lab.queue.storage import CellStore
from reglab.lab.queue.workers import (
    Event,
    WorkerGroup,
    emit,
    held_interrupt,
    map_cells,
)


def test_emit_builds_one_event_and_none_is_silent() -> None:
    events: list[Event] = []
    emit(events.append, "cells", 2, 5, running=1)
    emit(None, "cells", 3, 5)
    assert events == [Event("cells", 2, 5, {"running": 1})]


def test_map_cells_in_this_process_keeps_the_order() -> None:
    assert list(map_cells(abs, [-3, 1, -2], jobs=1)) == [(0, 3), (1, 1), (2, 2)]


@pytest.mark.slow
def test_map_cells_in_processes_yields_every_index_once() -> None:
    got = dict(map_cells(abs, [-3, 1, -2, 5], jobs=2))
    assert got == {0: 3, 1: 1, 2: 2, 3: 5}


def test_held_interrupt_delivers_the_signal_after_the_block() -> None:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    reached = False
    try:
        with pytest.raises(KeyboardInterrupt), held_interrupt():
            os.kill(os.getpid(), signal.SIGINT)
            reached = True  # the block finishes before the interrupt lands
    finally:
        signal.signal(signal.SIGINT, previous)
    assert reached


@pytest.mark.slow
def test_a_configuration_error_in_a_worker_comes_back_and_is_not_retried() -> None:
    errors: list[str] = []
    with WorkerGroup(max_restarts=3, on_error=errors.append) as group:
        group.start(CellStore, "nosuchdb://x/y")
        group.join(poll=0.1)
    assert group.restarts == 0
    assert len(errors) == 1 and errors[0].startswith("Cannot open the study storage 'nosuchdb")


@pytest.mark.slow
def test_a_dead_worker_is_replaced_up_to_the_budget() -> None:
    with WorkerGroup(max_restarts=2) as group:
        group.start(os._exit, 3)
        group.join(poll=0.1)
    assert group.restarts == 2 and group.alive() == 0
    # Without unfinished work nothing is replaced.
    with WorkerGroup(max_restarts=2) as idle:
        idle.start(os._exit, 3)
        idle.join(poll=0.1, each=lambda: idle.tend(unfinished=False))
    assert idle.restarts == 0


def test_the_old_progress_switch_is_gone(tmp_path) -> None:
    # 0.x with no outside users: the deprecated alias was removed, not kept (issue 19).
    from reglab.lab.study import StudyConfig, run_study
    from reglab.lab.tune import TuneConfig, run_tune

    with pytest.raises(TypeError, match="progress"):
        run_study(StudyConfig(data="iris"), tmp_path / "s", progress=False)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="progress"):
        run_tune(TuneConfig(data="iris"), tmp_path / "t", progress=False)  # type: ignore[call-arg]
    assert not (tmp_path / "s").exists() and not (tmp_path / "t").exists()
