"""``run_claims``: every claim's cells in a study's storage, run by the study's workers.

Each (claim, arm, seed) is one cell of an Optuna-backed study (``claims.db`` in the output
folder by default), so a run resumes where it stopped and several workers share the work, as
``reglab study`` does (:func:`reglab.lab.study.run_workers`). When every cell is done, each
claim's rule decides its verdict and :mod:`.outputs` writes ``results.csv``, ``summary.json``
and ``report.html``.

Example:
    >>> import tempfile
    >>> out = run_claims(tempfile.mkdtemp(), only=["weight-decay-equals-l2-sgd"], jobs=1)
    >>> [(f["id"], f["verdict"]) for f in out.claims]
    [('weight-decay-equals-l2-sgd', 'reproduced')]
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..._checks import Interval, NoneOk, check
from ...errors import ConfigError, did_you_mean
from ..storage import Cell, StudyStore, sqlite_url
from ..study import CellExecutor, run_workers
from ..workers import ProgressCallback, cells_reporter, default_jobs
from .experiments import SplitCache, run_claim_cell
from .table import CLAIMS, NoteClaim

__all__ = ["ClaimsConfig", "ClaimsOutcome", "claims_executor", "run_claims"]

RUNNER = "reglab.lab.claims.runner:claims_executor"
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
            "runner": RUNNER,
            "claims": list(self.claims),
            "seeds": self.seeds,
            "quick": self.quick,
        }


@dataclass
class ClaimsOutcome:
    """What a claims run leaves: folder, storage URL, one verdict dict per claim, rows."""

    out_dir: Path
    url: str
    claims: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    seconds: float
    missing: list[str]


def claims_executor(config: Mapping[str, Any]) -> CellExecutor:
    """The executor the study's workers use for cells stored by :func:`run_claims`."""
    quick = bool(config["quick"])
    cache = SplitCache()

    def execute(cell: Cell) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        cid, _, arm = cell.recipe.partition("|")
        row = run_claim_cell(CLAIMS[cid], arm, cell.seed, quick=quick, cache=cache)
        return {k: v for k, v in row.items() if k != "seed"}, []

    return execute


def _selection(only: Sequence[str] | str | None) -> tuple[str, ...]:
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


def run_claims(
    out_dir: str | os.PathLike[str],
    *,
    only: Sequence[str] | str | None = None,
    seeds: int | None = None,
    quick: bool = False,
    jobs: int | None = None,
    storage: str | None = None,
    on_progress: ProgressCallback | None = None,
    threads: int | None = None,
) -> ClaimsOutcome:
    """Run the claims' cells (resuming what a previous run finished) and write the report.

    Args:
        out_dir: folder for ``claims.db`` (default storage), ``results.csv``, ``summary.json``
            and ``report.html``.
        only: claim ids to run (a list or ``"id,id"``); None runs all.
        seeds: seeds per arm; None is 5, or each claim's quick count with ``quick``.
        quick: fewer epochs (and seeds) per claim: the whole table in a few minutes.
        jobs: worker processes, this one included (None: one per usable CPU core).
        storage: SQLAlchemy URL; default SQLite in ``out_dir``.
        on_progress: receives ``"cells"`` events as a study's.
        threads: torch threads per worker (default 1).
    """
    from .outputs import decide_all, write_outputs

    check("run_claims", "seeds", seeds, Interval(int, 1, None), NoneOk())
    jobs = default_jobs() if jobs is None else jobs
    check("run_claims", "jobs", jobs, Interval(int, 1, None))
    config = ClaimsConfig(_selection(only), seeds, bool(quick))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    url = storage or sqlite_url(out, "claims.db")
    store = StudyStore(url)
    cells = config.cells()
    store.create(config.to_dict(), cells)
    t0 = time.perf_counter()

    report = cells_reporter(on_progress, len(cells))

    pending = len(cells) - len(store.complete_counts_per_cell())
    try:
        report(store.counts())
        run_workers(store, max(1, min(jobs, pending)), threads or 1, report, None, on_progress)
        report(store.counts())
    finally:
        rows = _rows(store)
        seconds = time.perf_counter() - t0
        findings = decide_all(config, rows)
        done = {(r["claim"], r["arm"], r["seed"]) for r in rows}
        missing = [c.key for c in cells if (*c.recipe.split("|", 1), c.seed) not in done]
        write_outputs(out, config, findings, rows, seconds, missing)
    return ClaimsOutcome(out, url, findings, rows, seconds, missing)


def _rows(store: StudyStore) -> list[dict[str, Any]]:
    rows = []
    for r in store.completed():
        cid, _, arm = str(r.pop("recipe")).partition("|")
        r.pop("history", None)
        r.pop("trial", None)
        rows.append({**r, "claim": cid, "arm": arm})
    return rows
