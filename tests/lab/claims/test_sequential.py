"""Sequential seeds for claims: decided claims stop, open ones get the next look, resume agrees.

The cells are fake (a deterministic function of claim, arm and seed, run in this process with
jobs=1), so the tests exercise the queue, the waves and the rules without training.
"""

from __future__ import annotations

import pytest

from reglab.cli import main
from reglab.lab.claims import runner
from reglab.lab.claims.config import FULL_LOOKS, QUICK_LOOKS, ClaimsConfig
from reglab.lab.claims.runner import run_claims
from reglab.lab.queue.storage import CellStore

CLEAR = "batchnorm-placement"  # Better(before, none) and Better(after, none)
NOISY = "batchnorm-can-replace-dropout"  # NotWorse(batchnorm, batchnorm+dropout)
ARITH = "weight-decay-equals-l2-sgd"


def _fake_cell(claim, arm, seed, *, quick, cache=None):
    if claim.id == CLEAR:
        acc = {"none": 0.80, "before": 0.90, "after": 0.88}[arm] + 0.001 * (seed % 3)
    else:  # differences of ±5 points around 0: never decided within 1 point
        acc = 0.9 + (0.05 * (-1) ** seed if arm == "batchnorm" else 0.0)
    return {"claim": claim.id, "arm": arm, "seed": seed, "test_acc": acc, "seconds": 0.0}


@pytest.fixture
def fake_cells(monkeypatch):
    monkeypatch.setattr(runner, "run_claim_cell", _fake_cell)


def _seeds_per_arm(url):
    out: dict[str, int] = {}
    for cell in CellStore(url).known_cells():
        out[cell.recipe] = out.get(cell.recipe, 0) + 1
    return out


def test_a_decided_claim_stops_and_an_open_one_gets_every_look(fake_cells, tmp_path):
    out = run_claims(tmp_path, only=[CLEAR, NOISY, ARITH], jobs=1)
    seeds = _seeds_per_arm(out.url)
    assert {seeds[f"{CLEAR}|{arm}"] for arm in ("none", "before", "after")} == {5}
    last = FULL_LOOKS[-1]  # an open claim gets every look, up to the last
    assert seeds[f"{NOISY}|batchnorm"] == seeds[f"{NOISY}|batchnorm+dropout"] == last
    assert seeds[f"{ARITH}|check"] == 5  # arithmetic: fixed seeds
    found = {f["id"]: f for f in out.claims}
    assert (found[CLEAR]["verdict"], found[CLEAR]["seeds"]) == ("reproduced", 5)
    assert (found[NOISY]["verdict"], found[NOISY]["seeds"]) == ("inconclusive", last)
    assert found[NOISY]["looks"] == list(FULL_LOOKS) and found[ARITH]["looks"] is None
    assert out.missing == []


def test_a_resumed_run_reaches_the_same_verdicts_without_new_cells(fake_cells, tmp_path):
    # stop after the first wave (as an interrupted run would), then resume
    config = ClaimsConfig((CLEAR, NOISY))
    store = CellStore(f"sqlite:///{tmp_path / 'claims.db'}")
    store.create(config.to_dict(), config.cells())
    first = run_claims(tmp_path, only=[CLEAR, NOISY], jobs=1)
    known = len(CellStore(first.url).known_cells())
    again = run_claims(tmp_path, only=[CLEAR, NOISY], jobs=1)
    assert len(CellStore(again.url).known_cells()) == known
    assert [(f["verdict"], f["seeds"]) for f in again.claims] == [
        (f["verdict"], f["seeds"]) for f in first.claims
    ]


def test_only_the_rules_arms_get_later_looks():
    config = ClaimsConfig(("batchnorm-allows-higher-lr",))
    rows = [
        {"claim": "batchnorm-allows-higher-lr", "arm": arm, "seed": s, "test_acc": 0.5}
        for arm in ("none@lr=0.3", "batch@lr=0.3")
        for s in range(5)
    ]
    rows[0]["test_acc"] = 0.9  # a noisy difference: open after the first look
    wanted = {c.key for c in config.wanted_cells(rows)}
    assert "batchnorm-allows-higher-lr|batch@lr=0.3/9" in wanted
    assert "batchnorm-allows-higher-lr|none@lr=0.3/9" in wanted
    assert "batchnorm-allows-higher-lr|none@lr=3.0/5" not in wanted  # plotted only


def test_a_decided_part_of_a_claim_gets_no_more_seeds():
    cid = "batchnorm-needs-large-batches"
    level = {"layer@2": 0.9, "group@2": 0.9, "batch@2": 0.6, "batch@32": 0.9, "layer@32": 0.9}
    rows = [
        {"claim": cid, "arm": arm, "seed": s, "test_acc": acc + (0.03 * (-1) ** s)}
        for arm, acc in level.items()
        for s in range(5)
    ]
    for r in rows:  # batch@32 - layer@32 = ±6 points: open; the batch-size-2 parts decided
        if r["arm"] == "layer@32":
            r["test_acc"] = 0.9
    wanted = {c.key for c in ClaimsConfig((cid,)).wanted_cells(rows)}
    assert {f"{cid}|batch@32/9", f"{cid}|layer@32/9"} <= wanted
    assert not {f"{cid}|{arm}/9" for arm in ("layer@2", "group@2", "batch@2")} & wanted


def test_quick_and_fixed_designs():
    assert ClaimsConfig((CLEAR,), quick=True).design.looks == QUICK_LOOKS
    fixed = ClaimsConfig((CLEAR, ARITH), seeds=7)
    assert fixed.design.looks == (7,) and not fixed.sequential
    assert {c.seed for c in fixed.cells()} == set(range(7))
    assert fixed.wanted_cells([]) == fixed.cells()


@pytest.mark.parametrize("bad", ["many", "0", "-3", "2.5"])
def test_bad_seeds_are_one_line_errors(bad, tmp_path, capsys):
    assert main(["claims", "--seeds", bad, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "reglab: error: The '--seeds' option of reglab claims must be 'auto' or a number of "
        f"seeds >= 1 (e.g. 3). Got {bad!r} instead."
    )
    assert not (tmp_path / "x").exists()


def test_bad_seeds_in_python_are_config_errors():
    with pytest.raises(ValueError, match="The 'seeds' parameter of run_claims must be"):
        ClaimsConfig((CLEAR,), seeds=0)
