"""Shared pytest set-up: one intra-op thread per xdist worker (2 workers share 2 cores)."""

from __future__ import annotations

import os

import pytest
import torch

from tests.helpers import seeded

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture
def gen() -> torch.Generator:
    """A CPU generator seeded with 0 (``tests.helpers.seeded`` for other seeds)."""
    return seeded(0)
