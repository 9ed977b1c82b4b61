"""Workers that start at the same moment against one database (the same command on several
machines, or ``--join`` workers started beside the creator).

Each case opens the storage from several threads released together by a barrier (each with
its own ``CellStore``, engine and connections, as separate processes would have):

* opening a fresh database must work from every worker: Optuna creates its tables on first
  open, and two workers doing that at once must not make either fail;
* creating the same study from several workers must enqueue each cell once, or every
  duplicate runs the cell again.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from reglab.lab.queue.storage import Cell, CellStore

pytestmark = [pytest.mark.xdist_group("studies"), pytest.mark.timeout(180)]

WORKERS = 4
CELLS = [Cell(f"r{r}", s) for r in range(3) for s in range(2)]


def _together(fn: Callable[[int], Any], n: int = WORKERS) -> list[Any]:
    """Run ``fn(i)`` in ``n`` threads released at once; return each result or exception."""
    barrier = threading.Barrier(n)
    out: list[Any] = [None] * n

    def body(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn(i)
        except Exception as exc:  # collected and asserted on below
            out[i] = exc

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    return request.getfixturevalue("postgres").new_database("race")


def test_workers_opening_a_fresh_database_together_all_succeed(fresh_url):
    results = _together(lambda i: CellStore(fresh_url))
    errors = [str(r) for r in results if isinstance(r, Exception)]
    assert errors == [], (
        f"{len(errors)} of {WORKERS} workers failed to open a fresh storage at the same time "
        f"(Optuna's create_all races); first: {errors[:1]}"
    )


def test_workers_creating_the_same_study_together_enqueue_each_cell_once(fresh_url):
    CellStore(fresh_url)  # the tables exist: this case is only about enqueueing
    stores = [CellStore(fresh_url) for _ in range(WORKERS)]
    config = {"data": "digits", "seeds": 2}
    results = _together(lambda i: stores[i].create(config, CELLS))
    errors = [str(r) for r in results if isinstance(r, Exception)]
    assert errors == []
    from reglab.lab.queue.storage import _cell_of

    queued = Counter(
        _cell_of(t).key  # type: ignore[union-attr]
        for t in CellStore(fresh_url).optuna_study.get_trials(deepcopy=False)
    )
    assert queued == Counter({c.key: 1 for c in CELLS}), (
        f"cells enqueued more than once by {WORKERS} concurrent creators: "
        f"{sorted(k for k, n in queued.items() if n > 1)}"
    )
    # Every creator reports the cells it added: together, each cell once.
    added = Counter(c.key for r in results for c in r)
    assert added == Counter({c.key: 1 for c in CELLS})
