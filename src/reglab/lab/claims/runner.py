"""``run_claims``: every claim's cells in a study's storage, run by the study's workers.

Each (claim, arm, seed) is one cell of an Optuna-backed study (``claims.db`` in the output
folder by default), so a run resumes where it stopped and several workers share the work, as
``reglab study`` does (:func:`reglab.lab.queue.loop.run_workers`, with
:func:`claims_executor` passed in). With ``seeds="auto"`` the first look's seeds run first;
whenever the queue runs dry, the claims still open get the next look's seeds
(:meth:`.config.ClaimsConfig.wanted_cells`), until none is queued. Then each claim's rule
decides its verdict and :mod:`.outputs` writes ``results.csv``, ``summary.json`` and
``report.html``.

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

from ..._checks import Constraints, Interval, OneOf, validate_params
from ..core.cells import Cell
from ..core.splits import SplitCache
from ..queue.loop import CellExecutor, run_workers
from ..queue.storage import CellStore, sqlite_url
from ..queue.workers import ProgressCallback, cells_reporter, default_jobs
from .config import ClaimsConfig, selection
from .experiments import run_claim_cell
from .outputs import decide_all, write_outputs
from .table import CLAIMS

__all__ = ["ClaimsOutcome", "claims_executor", "run_claims"]


@dataclass
class ClaimsOutcome:
    """What a claims run leaves: folder, storage URL, one verdict dict per claim, rows."""

    out_dir: Path
    url: str
    claims: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    seconds: float
    missing: list[str]


def claims_executor(config: Mapping[str, Any], dataset: Any, device: str) -> CellExecutor:
    """The :data:`~reglab.lab.queue.loop.ExecutorFactory` of the cells stored by
    :func:`run_claims` (each claim loads its own data, on the CPU)."""
    quick = bool(config["quick"])
    cache = SplitCache()

    def execute(cell: Cell) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        cid, _, arm = cell.recipe.partition("|")
        row = run_claim_cell(CLAIMS[cid], arm, cell.seed, quick=quick, cache=cache)
        return {k: v for k, v in row.items() if k != "seed"}, []

    return execute


#: The constraints of run_claims's arguments, checked by validate_params.
_RUN_CLAIMS_CONSTRAINTS: Constraints = {
    "seeds": [Interval(int, 1, None), OneOf("auto")],
    "jobs": [Interval(int, 1, None)],
}


def run_claims(
    out_dir: str | os.PathLike[str],
    *,
    only: Sequence[str] | str | None = None,
    seeds: int | str = "auto",
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
        seeds: ``"auto"`` (seeds look by look until each claim is decided: 5, 10, 15, 20, 30, 40, or
            3, 6 with ``quick``; arithmetic claims 5, or their quick count) or a number of
            seeds for every arm (a fixed design).
        quick: fewer epochs (and looks) per claim: the whole table in a few minutes.
        jobs: worker processes, this one included (None: one per usable CPU core).
        storage: SQLAlchemy URL; default SQLite in ``out_dir``.
        on_progress: receives ``"cells"`` events as a study's.
        threads: torch threads per worker (default 1).
    """
    jobs = default_jobs() if jobs is None else jobs
    validate_params("run_claims", locals(), _RUN_CLAIMS_CONSTRAINTS)
    config = ClaimsConfig(selection(only), seeds, bool(quick))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    url = storage or sqlite_url(out, "claims.db")
    store = CellStore(url)
    cells = config.cells()
    store.create(config.to_dict(), cells)
    t0 = time.perf_counter()

    total = {"cells": len(store.known_cells())}

    report = cells_reporter(on_progress, lambda: total["cells"])

    def next_wave() -> int:
        """Queue the next look's seeds of the claims still open (nothing when fixed)."""
        if not config.sequential:
            return 0
        added = store.enqueue_new(config.wanted_cells(_rows(store)))
        total["cells"] = len(store.known_cells())
        return len(added)

    try:
        next_wave()  # a resumed run may already be past its first look
        pending = total["cells"] - len(store.complete_counts_per_cell())
        report(store.counts())
        run_workers(
            store,
            claims_executor,
            jobs=max(1, min(jobs, pending)),
            threads=threads or 1,
            report=report,
            on_progress=on_progress,
            next_wave=next_wave,
        )
        report(store.counts())
    finally:
        rows = _rows(store)
        seconds = time.perf_counter() - t0
        findings = decide_all(config, rows)
        done = {(r["claim"], r["arm"], r["seed"]) for r in rows}
        known = store.known_cells()
        missing = [c.key for c in known if (*c.recipe.split("|", 1), c.seed) not in done]
        write_outputs(out, config, findings, rows, seconds, missing)
    return ClaimsOutcome(out, url, findings, rows, seconds, missing)


def _rows(store: CellStore) -> list[dict[str, Any]]:
    rows = []
    for r in store.completed():
        cid, _, arm = str(r.pop("recipe")).partition("|")
        r.pop("history", None)
        r.pop("trial", None)
        rows.append({**r, "claim": cid, "arm": arm})
    return rows
