"""Helpers every test module may import (fixtures live in ``conftest.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch


def seeded(seed: int = 0) -> torch.Generator:
    """A fresh CPU generator seeded with ``seed``: the same seed gives the same draws."""
    return torch.Generator().manual_seed(seed)


def run_reglab(
    args: list[str], cwd: Path, *, importable: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command line (``python -m reglab.cli ARGS``) in ``cwd``, as a user runs it;
    ``importable`` is put on ``PYTHONPATH`` (a module of the user's written by the test)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if importable is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(importable), *sys.path])
    return subprocess.run(
        [sys.executable, "-m", "reglab.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )
