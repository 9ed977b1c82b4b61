"""Helpers every test module may import (fixtures live in ``conftest.py``)."""

from __future__ import annotations

import torch


def seeded(seed: int = 0) -> torch.Generator:
    """A fresh CPU generator seeded with ``seed``: the same seed gives the same draws."""
    return torch.Generator().manual_seed(seed)
