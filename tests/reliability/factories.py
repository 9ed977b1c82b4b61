"""Model factories for the reliability tests (``--model tests.reliability.factories:NAME``).

They build the lab's own MLP, so the numbers are the lab's, and add test-only behaviour around
it without touching reglab: a pause in every forward call (``REGLAB_TEST_SLEEP`` seconds) so
that a trial is slow enough to be killed mid-way without burning CPU, and a log line when a model
first trains (``REGLAB_TEST_PIDLOG``: ``<pid> <recipe>``) so a test knows which process is inside
a trial. (Not when it is built: ``reglab study`` builds each recipe's model once up front to
check it, outside any trial.) Both are read when the model is built; unset, the model is the
plain MLP.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from reglab.models import MLP


class Sleepy(nn.Module):
    """``inner`` with a fixed pause before each forward call (the output is unchanged)."""

    def __init__(self, inner: nn.Module, delay: float, log: str | None, label: str) -> None:
        super().__init__()
        self.inner = inner
        self.delay = delay
        self.log = log
        self.label = label

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.log and self.training:
            # One short O_APPEND write: lines from concurrent workers never interleave.
            fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{os.getpid()} {self.label}\n".encode())
            finally:
                os.close(fd)
            self.log = None
        if self.delay > 0:
            time.sleep(self.delay)
        out: torch.Tensor = self.inner(x)
        return out


def sleepy_mlp(recipe: Any, input_shape: Sequence[int], num_outputs: int) -> nn.Module:
    """The lab's MLP for ``recipe``, paused ``REGLAB_TEST_SLEEP`` seconds per forward call.

    ``REGLAB_TEST_MAIN_SLEEP``, when set, is the pause in the ``reglab study`` process itself
    (which works beside its ``--jobs - 1`` spawned workers): slowing it leaves cells for the
    spawned workers however long they take to start on a busy machine.
    """
    delay = float(os.environ.get("REGLAB_TEST_SLEEP", "0"))
    main = os.environ.get("REGLAB_TEST_MAIN_SLEEP")
    if main and multiprocessing.parent_process() is None:
        delay = float(main)
    log = os.environ.get("REGLAB_TEST_PIDLOG") or None
    return Sleepy(MLP(recipe, input_shape, num_outputs), delay, log, recipe.name)
