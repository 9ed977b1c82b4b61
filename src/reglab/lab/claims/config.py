"""Which claims a claims run tests, with how many seeds, and its stored settings.

With ``seeds="auto"`` (the default) every claim with a trained arm gets its seeds look by look:
the first look's seeds for every arm; then, whenever the queue runs dry, each claim is decided
(:mod:`.rules`: repeated confidence intervals, valid at every look, alpha 0.05 per claim) and
only the claims still inconclusive get the next look's seeds, for the arms of their open
comparisons (a part already decided, and an arm only plotted, keep the seeds they have). The
looks are :data:`FULL_LOOKS` (5, 10, 15, 20, 30, 40), or :data:`QUICK_LOOKS` with ``quick``. Arithmetic claims (only ``check`` arms) stay arithmetic: a
fixed :data:`FULL_SEEDS` seeds, or the claim's ``quick_seeds``. The decisions read only the
finished cells of seeds ``0..n-1``, so a resumed run reaches the same verdicts. A number of
seeds is a fixed design: that many seeds for every arm, decided by the one-look interval.

Example:
    >>> config = ClaimsConfig(selection("weight-decay-equals-l2-sgd"), seeds=1)
    >>> [c.key for c in config.cells()]
    ['weight-decay-equals-l2-sgd|check/0']
    >>> ClaimsConfig(selection("augmentation-reduces-overfitting")).design.looks
    (5, 10, 15, 20, 30, 40)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..._checks import Constraints, Interval, OneOf, validate_params
from ...errors import ConfigError, did_you_mean
from ..core.cells import Cell
from ..stats import next_look
from .rules import Design, Finding
from .table import CHECK_ARM, CLAIMS, NoteClaim

__all__ = ["FULL_LOOKS", "FULL_SEEDS", "QUICK_LOOKS", "ClaimsConfig", "is_arithmetic", "selection"]

#: Seeds of an arithmetic claim in a full run.
FULL_SEEDS = 5

#: The looks of a full run with ``seeds="auto"``: the study's four, then 30 and 40 seeds (the
#: whole table takes about 4 minutes on 2 cores, far inside a 30-minute budget, and the noisiest
#: claims need more than 20 seeds to be decided). Every look's interval is wider than with four
#: looks (the same 5% over six looks), so a claim that decides early pays for the later looks.
FULL_LOOKS: tuple[int, ...] = (5, 10, 15, 20, 30, 40)
#: The looks of a quick run with ``seeds="auto"``.
QUICK_LOOKS: tuple[int, ...] = (3, 6)


#: The constraint of a claims run's seeds, checked by validate_params.
_SEEDS_CONSTRAINTS: Constraints = {"seeds": [Interval(int, 1, None), OneOf("auto")]}


def is_arithmetic(claim: NoteClaim) -> bool:
    """True when every arm of ``claim`` is an arithmetic check (no training)."""
    return set(claim.arms) == {CHECK_ARM}


@dataclass(frozen=True)
class ClaimsConfig:
    """Which claims run, with how many seeds (``"auto"`` or a number), and whether ``quick``."""

    claims: tuple[str, ...]
    seeds: int | str = "auto"
    quick: bool = False

    def __post_init__(self) -> None:
        validate_params("run_claims", {"seeds": self.seeds}, _SEEDS_CONSTRAINTS)

    @property
    def sequential(self) -> bool:
        return self.seeds == "auto"

    @property
    def design(self) -> Design:
        """The looks at which comparisons are decided: a fixed number of seeds is one look."""
        if isinstance(self.seeds, int):
            return Design((max(self.seeds, 2),))
        return Design(QUICK_LOOKS if self.quick else FULL_LOOKS)

    def first_seeds(self, claim: NoteClaim) -> int:
        """The seeds every arm of ``claim`` runs in the first wave (all of them when fixed)."""
        if isinstance(self.seeds, int):
            return self.seeds
        if is_arithmetic(claim):
            return claim.quick_seeds if self.quick else FULL_SEEDS
        return self.design.looks[0]

    def cells(self) -> list[Cell]:
        """The first wave's (claim|arm, seed) cells, claim by claim."""
        out = []
        for cid in self.claims:
            claim = CLAIMS[cid]
            seeds = range(self.first_seeds(claim))
            out += [Cell(f"{cid}|{arm}", s) for arm in claim.arms for s in seeds]
        return out

    def decide(self, cid: str, rows: Sequence[Mapping[str, Any]]) -> Finding:
        """The verdict of claim ``cid`` on its rows (those with ``claim == cid``)."""
        mine = [r for r in rows if r.get("claim") == cid]
        return CLAIMS[cid].rule.decide(mine, self.design)

    def wanted_cells(self, rows: Sequence[Mapping[str, Any]]) -> list[Cell]:
        """Every cell the design wants by now (finished ones included): the next look's seeds
        for the arms of the open comparisons of each open claim."""
        out = self.cells()
        if not self.sequential:
            return out
        for cid in self.claims:
            claim = CLAIMS[cid]
            if is_arithmetic(claim):
                continue
            found = self.decide(cid, rows)
            if not found.open:
                continue
            want = next_look(found.seeds, self.design.looks) or found.seeds
            arms = [a for a in claim.arms if a in claim.rule.open_arms(found)]
            out += [Cell(f"{cid}|{arm}", s) for arm in arms for s in range(want)]
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
