"""Which claims a claims run tests, with how many seeds, and its stored settings.

Example:
    >>> config = ClaimsConfig(selection("weight-decay-equals-l2-sgd"), seeds=1)
    >>> [c.key for c in config.cells()]
    ['weight-decay-equals-l2-sgd|check/0']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError, did_you_mean
from ..core.cells import Cell
from .table import CLAIMS, NoteClaim

__all__ = ["FULL_SEEDS", "ClaimsConfig", "selection"]

FULL_SEEDS = 5


@dataclass(frozen=True)
class ClaimsConfig:
    """Which claims run, with how many seeds, and whether in the ``quick`` setting."""

    claims: tuple[str, ...]
    seeds: int | None = None
    quick: bool = False

    def seeds_of(self, claim: NoteClaim) -> int:
        """``seeds`` when given, else the claim's quick count or the full run's 5."""
        if self.seeds is not None:
            return self.seeds
        return claim.quick_seeds if self.quick else FULL_SEEDS

    def cells(self) -> list[Cell]:
        """Every (claim|arm, seed) cell, claim by claim."""
        out = []
        for cid in self.claims:
            claim = CLAIMS[cid]
            out += [
                Cell(f"{cid}|{arm}", s) for arm in claim.arms for s in range(self.seeds_of(claim))
            ]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "what": "claims",
            "claims": list(self.claims),
            "seeds": self.seeds,
            "quick": self.quick,
        }


def selection(only: Sequence[str] | str | None) -> tuple[str, ...]:
    """The claim ids named by ``only`` (a list or ``"id,id"``; None: every claim), in order."""
    if only is None:
        return tuple(CLAIMS)
    items = [s.strip() for s in (only.split(",") if isinstance(only, str) else only)]
    items = [s for s in items if s]
    unknown = [s for s in items if s not in CLAIMS]
    if unknown or not items:
        raise ConfigError(
            f"The 'only' parameter of run_claims must name claims among {', '.join(CLAIMS)}. "
            f"Got {', '.join(repr(u) for u in unknown) or 'nothing'} instead."
            + "".join(did_you_mean(u, CLAIMS) for u in unknown)
        )
    return tuple(dict.fromkeys(items))
