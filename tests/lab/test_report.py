"""The study report: statistics against hand computation, the verdict, and the written files."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from reglab.lab.stats import mean_ci, paired_vs_baseline
from reglab.lab.study.report import (
    RESULT_COLUMNS,
    render_html,
    summarize,
    write_outputs,
)

REQUIRED = ("recipe", "seed", "train_acc", "val_acc", "test_acc", "gap", "best_epoch")
REQUIRED += ("epochs_run", "seconds")


def _history(epochs: int, train: float, val: float) -> list[dict[str, Any]]:
    return [
        {
            "epoch": e,
            "train_acc": train * (e + 1) / epochs,
            "val_acc": val * (e + 1) / epochs,
            "train_loss": 1.0 / (e + 1),
            "val_loss": 1.2 / (e + 1),
        }
        for e in range(epochs)
    ]


def _row(recipe: str, seed: int, test: float, val: float, train: float = 1.0) -> dict[str, Any]:
    return {
        "recipe": recipe,
        "seed": seed,
        "status": "ok",
        "task": "classification",
        "train_acc": train,
        "val_acc": val,
        "test_acc": test,
        "gap": train - val,
        "train_loss": 0.01,
        "val_loss": 0.3,
        "test_loss": 0.31,
        "best_epoch": 3 + seed,
        "epochs_run": 5 + seed,
        "seconds": 1.5 + seed,
        "weight_norm": 10.0 + seed,
        "sparsity": 0.0,
        "stop_reason": "completed",
        "history": _history(5 + seed, train, val),
    }


# Validation and test disagree on purpose: "wide" has the best validation accuracy, "narrow"
# the best test accuracy. The verdict must follow validation.
TABLE = {
    "baseline": [(0.90, 0.91), (0.92, 0.90), (0.91, 0.92)],  # (test, val) for seeds 0, 1, 2
    "wide": [(0.93, 0.99), (0.95, 0.98), (0.94, 0.985)],
    "narrow": [(0.97, 0.95), (0.98, 0.96), (0.975, 0.955)],
}


def _rows() -> list[dict[str, Any]]:
    return [_row(n, s, t, v) for n, pairs in TABLE.items() for s, (t, v) in enumerate(pairs)]


def _ci(xs: list[float]) -> tuple[float, float, float]:
    """The oracle: Student-t interval from scipy."""
    m = float(np.mean(xs))
    half = float(stats.t.ppf(0.975, len(xs) - 1) * np.std(xs, ddof=1) / math.sqrt(len(xs)))
    return m, m - half, m + half


@pytest.mark.parametrize("n", [2, 3, 5, 10, 30])
def test_mean_ci_is_the_student_t_interval(n: int) -> None:
    xs = list(np.random.default_rng(n).normal(0.9, 0.02, n))
    got = mean_ci(xs)
    want = _ci(xs)
    # The t quantiles are tabulated to 3 decimals.
    assert got == pytest.approx(want, abs=1e-3 * np.std(xs, ddof=1))


def test_mean_ci_edge_cases() -> None:
    assert mean_ci([0.5]) == (0.5, 0.5, 0.5)
    assert all(math.isnan(v) for v in mean_ci([]))
    # NaN/None/inf are not values: they are skipped, not averaged.
    assert mean_ci([0.4, None, float("nan"), 0.6, float("inf")]) == mean_ci([0.4, 0.6])
    # Many seeds: the normal quantile.
    xs = [0.1 * (i % 7) for i in range(50)]
    m, lo, _ = mean_ci(xs)
    assert m - lo == pytest.approx(1.96 * np.std(xs, ddof=1) / math.sqrt(50))


def test_summary_matches_hand_computation() -> None:
    summary = {s["recipe"]: s for s in summarize(_rows())}
    assert list(summary) == ["baseline", "wide", "narrow"]  # first-seen order
    for name, pairs in TABLE.items():
        s = summary[name]
        tests = [t for t, _ in pairs]
        vals = [v for _, v in pairs]
        m, lo, hi = _ci(tests)
        assert s["test_acc"] == pytest.approx(m)
        assert s["test_acc_low"] == pytest.approx(lo, abs=1e-4)
        assert s["test_acc_high"] == pytest.approx(hi, abs=1e-4)
        assert s["val_acc"] == pytest.approx(np.mean(vals))
        assert s["gap"] == pytest.approx(np.mean([1.0 - v for v in vals]))
        assert s["best_epoch"] == pytest.approx(4.0)  # seeds 0, 1, 2 -> 3, 4, 5
        assert s["epochs_run"] == pytest.approx(6.0)
        assert s["seconds"] == pytest.approx(2.5)
        assert s["runs"] == 3 and s["diverged"] == 0 and s["task"] == "classification"


def test_accuracy_interval_is_clipped_to_0_100_percent() -> None:
    rows = [_row("baseline", 0, 0.99, 0.9), _row("baseline", 1, 0.80, 0.9)]
    (s,) = summarize(rows)
    assert _ci([0.99, 0.80])[2] > 1.0  # the raw t interval reaches past 100%
    assert s["test_acc_high"] == 1.0
    assert s["test_acc_low"] == 0.0


def test_paired_comparison_is_per_seed() -> None:
    rows = _rows()
    p = paired_vs_baseline(rows, "narrow")
    assert p is not None
    diffs = [n[0] - b[0] for n, b in zip(TABLE["narrow"], TABLE["baseline"])]
    assert p["seeds"] == [0, 1, 2]
    assert p["diffs"] == pytest.approx(diffs)
    m, lo, hi = _ci(diffs)
    assert (p["mean"], p["low"], p["high"]) == pytest.approx((m, lo, hi), abs=1e-4)
    assert p["wins"] == 3
    # Pairing matters: the unpaired interval of the same data is wider than the paired one.
    assert p["high"] - p["low"] < 0.5 * (_ci([t for t, _ in TABLE["narrow"]])[2] - m)
    assert paired_vs_baseline(rows, "baseline") is None
    assert paired_vs_baseline([r for r in rows if r["recipe"] != "baseline"], "wide") is None


def test_paired_comparison_uses_only_seeds_both_have() -> None:
    rows = [r for r in _rows() if not (r["recipe"] == "wide" and r["seed"] == 1)]
    p = paired_vs_baseline(rows, "wide")
    assert p is not None and p["seeds"] == [0, 2]
    assert p["diffs"] == pytest.approx([0.93 - 0.90, 0.94 - 0.91])
    assert p["wins"] == 2


def test_verdict_chooses_by_validation_not_test() -> None:
    rows = _rows()
    summary = summarize(rows)
    page = render_html({"data": "digits"}, rows, summary, plots=False)
    verdict = re.search(r'<div class="verdict">(.*?)</div>', page, re.S)
    assert verdict is not None
    text = verdict.group(1)
    # "narrow" has the best test accuracy (97.5%), "wide" the best validation accuracy.
    assert "the best recipe is <b>wide</b> (val_acc 98.5%)" in text
    assert "On the test split it scores 94.0%" in text
    assert "<b>narrow</b>" not in text
    assert "better on 3 of 3 seeds" in text
    assert "gap goes from 9.0 to 1.5 points" in text


def test_diverged_runs_are_counted_and_listed_but_not_averaged() -> None:
    rows = _rows()
    bad = _row("wide", 3, float("nan"), float("nan"))
    bad["status"] = "diverged"
    rows.append(bad)
    summary = {s["recipe"]: s for s in summarize(rows)}
    assert summary["wide"]["runs"] == 4 and summary["wide"]["diverged"] == 1
    assert summary["wide"]["test_acc"] == pytest.approx(np.mean([0.93, 0.95, 0.94]))
    page = render_html({}, rows, list(summary.values()), plots=False)
    assert "Diverged runs (loss became NaN or blew up): wide/3." in page
    assert "4 (1 diverged)" in page


def test_write_outputs_files(tmp_path: Path) -> None:
    config = {"data": "digits", "recipes": ["wide", "baseline", "narrow"], "recipe_defs": {}}
    paths = write_outputs(tmp_path, config, _rows(), failed_cells=["narrow/3"])
    with paths["results"].open() as fh:
        table = list(csv.DictReader(fh))
    assert tuple(table[0])[: len(RESULT_COLUMNS)] == RESULT_COLUMNS
    assert set(REQUIRED) <= set(table[0])
    assert "history" not in table[0]  # histories live in the storage, not in the CSV
    # Rows in the study's recipe order, then by seed.
    assert [(r["recipe"], r["seed"]) for r in table][:4] == [
        ("wide", "0"),
        ("wide", "1"),
        ("wide", "2"),
        ("baseline", "0"),
    ]
    assert float(table[0]["test_acc"]) == 0.93
    summary = json.loads(paths["summary"].read_text())
    assert [s["recipe"] for s in summary["recipes"]] == ["wide", "baseline", "narrow"]
    assert summary["failed_cells"] == ["narrow/3"]
    assert summary["config"]["data"] == "digits"
    page = paths["report"].read_text()
    assert page.count('src="data:image/png;base64,') == 6
    assert "Cells not finished: narrow/3." in page
    assert "http://" not in page and "https://" not in page  # opens offline
    assert not list(tmp_path.glob("*.tmp"))


def test_regression_outputs_use_losses(tmp_path: Path) -> None:
    rows = []
    for name, shift in (("baseline", 0.0), ("all", -0.2)):
        for seed in range(3):
            r = _row(name, seed, 0.0, 0.0)
            r.update(
                task="regression",
                train_acc=None,
                val_acc=None,
                test_acc=None,
                train_loss=0.2 + shift / 2,
                val_loss=0.6 + shift + 0.01 * seed,
                test_loss=0.7 + shift + 0.02 * seed,
            )
            r["gap"] = r["val_loss"] - r["train_loss"]
            for h in r["history"]:
                h["train_acc"] = h["val_acc"] = None
            rows.append(r)
    paths = write_outputs(tmp_path, {"recipes": ["baseline", "all"]}, rows)
    summary = json.loads(paths["summary"].read_text())["recipes"]
    assert summary[1]["task"] == "regression"
    assert summary[1]["test_loss"] == pytest.approx(np.mean([0.5, 0.52, 0.54]))
    assert summary[1]["val_loss"] == pytest.approx(0.41)
    assert "test_acc" not in summary[1]
    assert summary[1]["vs_baseline"]["diffs"] == pytest.approx([-0.2, -0.2, -0.2])
    with paths["results"].open() as fh:
        first = next(csv.DictReader(fh))
    assert first["test_acc"] == "" and float(first["test_loss"]) == pytest.approx(0.7)
    page = paths["report"].read_text()
    assert "Chosen by validation loss, the best recipe is <b>all</b>" in page
    assert page.count('src="data:image/png;base64,') == 6
