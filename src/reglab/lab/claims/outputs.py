"""The verdicts of a claims run and its files: ``summary.json``, ``results.csv``, ``report.html``.

``summary.json`` has ``claims``: one entry per claim with ``id``, ``verdict``, ``statement``,
``sources`` (the notes' file names), ``setting``, ``seeds`` (how many seeds the verdict
reads), ``looks`` (the design's seed counts; None for an arithmetic claim) and ``finding``
(the rule's numbers, part by part). The report has the verdict table on top and one section per claim: statement, source
notes, setting, a plot of the measured metric per arm, the verdict and its numbers.

Example:
    >>> rows = [{"claim": "weight-decay-equals-l2-sgd", "arm": "check", "seed": 0,
    ...          "max_abs_diff": 0.0}]
    >>> from reglab.lab.claims.config import ClaimsConfig
    >>> decide_all(ClaimsConfig(("weight-decay-equals-l2-sgd",)), rows)[0]["verdict"]
    'reproduced'
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..core.cells import json_safe
from ..render import atomic_write, csv_text, figure_html, html_page, html_table, png, pyplot
from ..stats import mean_ci
from .config import ClaimsConfig, is_arithmetic
from .rules import Verdict
from .table import CHECK_ARM, CLAIMS, NOTES, NoteClaim

__all__ = ["decide_all", "write_outputs"]

Row = Mapping[str, Any]


def decide_all(config: ClaimsConfig, rows: Sequence[Row]) -> list[dict[str, Any]]:
    """One verdict dict per claim of ``config``, in table order."""
    out = []
    for cid in config.claims:
        claim = CLAIMS[cid]
        finding = config.decide(cid, rows)
        out.append(
            {
                "id": cid,
                "verdict": str(finding.verdict),
                "statement": claim.statement,
                "sources": [NOTES[s] for s in claim.sources],
                "setting": _setting(claim, config.quick),
                "seeds": finding.seeds,
                "looks": None if is_arithmetic(claim) else list(config.design.looks),
                "metric": claim.metric,
                "text": finding.text,
                "finding": finding.to_dict(),
            }
        )
    return out


def _setting(claim: NoteClaim, quick: bool) -> dict[str, Any]:
    arms = {
        a: claim.arm_spec(a) if a != CHECK_ARM else f"check {claim.arms[a]}" for a in claim.arms
    }
    if is_arithmetic(claim):
        return {"arms": arms}
    s = asdict(claim.setting)
    quick_epochs = s.pop("quick_epochs")
    if quick:
        s["epochs"] = quick_epochs
    return {**s, "arms": arms}


def write_outputs(
    out: Path,
    config: ClaimsConfig,
    findings: Sequence[Mapping[str, Any]],
    rows: Sequence[Row],
    seconds: float,
    missing: Sequence[str],
) -> None:
    """Write the three files into ``out`` (atomically, each)."""
    columns: list[str] = ["claim", "arm", "seed"]
    for r in rows:
        columns += [k for k in r if k not in columns]
    ordered = sorted(rows, key=lambda r: (list(CLAIMS).index(r["claim"]), r["arm"], r["seed"]))
    atomic_write(out / "results.csv", csv_text(columns, ordered))
    summary = {
        "quick": config.quick,
        "seconds": seconds,
        "missing_cells": list(missing),
        "counts": {v.value: sum(f["verdict"] == v.value for f in findings) for v in Verdict},
        "claims": list(findings),
    }
    atomic_write(out / "summary.json", json.dumps(json_safe(summary), indent=2) + "\n")
    atomic_write(out / "report.html", _html(config, findings, rows, seconds, missing))


def _html(
    config: ClaimsConfig,
    findings: Sequence[Mapping[str, Any]],
    rows: Sequence[Row],
    seconds: float,
    missing: Sequence[str],
) -> str:
    esc = html.escape
    mode = "quick run" if config.quick else "full run"
    table = html_table(
        ["claim", "verdict", "notes", "what was measured"],
        [
            [
                f'<a href="#{f["id"]}">{esc(f["id"])}</a>',
                f"<b>{esc(f['verdict'])}</b>",
                esc(", ".join(s[:3] for s in f["sources"])),
                "<span style='display:block;text-align:left'>"
                + esc(f["text"][:160] + ("..." if len(f["text"]) > 160 else ""))
                + "</span>",
            ]
            for f in findings
        ],
    )
    counts = ", ".join(
        f"{sum(f['verdict'] == v.value for f in findings)} {v.value}" for v in Verdict
    )
    warn = ""
    if missing:
        warn = f'<p class="warn">{len(missing)} cells did not finish: rerun to complete them.</p>'
    body = [
        f'<p class="sub">{len(findings)} claims of the notes, {mode}, {seconds:.0f} s: {counts}.</p>',
        warn,
        table,
    ]
    for f in findings:
        body.append(_section(CLAIMS[f["id"]], f, [r for r in rows if r.get("claim") == f["id"]]))
    return html_page("reglab claims", "The notes' claims, tested", "".join(body))


def _section(claim: NoteClaim, f: Mapping[str, Any], rows: Sequence[Row]) -> str:
    esc = html.escape
    parts = f["finding"]["parts"] or [f["finding"]]
    reasons = "".join(f"<li>{esc(p['verdict'])}: {esc(p['text'])}</li>" for p in parts)
    setting = esc(json.dumps(f["setting"], default=str))
    caption = f"{claim.metric} per arm: mean over seeds with its 95% interval"
    fig = figure_html(f"{claim.id}: {f['verdict']}", caption, _plot(claim, rows))
    note = f"<p>{esc(claim.note)}</p>" if claim.note else ""
    return (
        f'<section id="{esc(claim.id)}">{fig}<p><b>Claim.</b> {esc(claim.statement)}</p>'
        f"<p><b>Notes:</b> {esc(', '.join(f['sources']))}</p>"
        f"<p><b>Setting (the verdict reads {f['seeds']} seeds):</b> <code>{setting}</code></p>{note}"
        f'<div class="verdict"><b>{esc(f["verdict"])}</b><ul>{reasons}</ul></div></section>'
    )


def _sweep_point(arm: str) -> tuple[str, float] | None:
    m = re.fullmatch(r"(?P<series>[^@=]+)[@=](?:[a-z_]+=)?(?P<x>[-+0-9.e]+)", arm)
    if m is None:
        return None
    try:
        return m["series"], float(m["x"])
    except ValueError:
        return None


def _plot(claim: NoteClaim, rows: Sequence[Row]) -> str:
    """One PNG: the claim's metric per arm (a sweep as lines on a log axis, else bars)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    stats = {}
    for arm in claim.arms:
        values = [r.get(claim.metric) for r in rows if r.get("arm") == arm]
        stats[arm] = mean_ci([v for v in values if isinstance(v, (int, float))])
    points = {arm: _sweep_point(arm) for arm in claim.arms}
    if claim.plot == "sweep" and all(points.values()):
        series: dict[str, list[tuple[float, tuple[float, float, float]]]] = {}
        for arm, point in points.items():
            assert point is not None
            series.setdefault(point[0], []).append((point[1], stats[arm]))
        for name, pts in series.items():
            pts.sort()
            xs = [max(x, 1e-6) for x, _ in pts]
            ms = [s[0] for _, s in pts]
            err = [[s[0] - s[1] for _, s in pts], [s[2] - s[0] for _, s in pts]]
            ax.errorbar(xs, ms, yerr=err, marker="o", capsize=3, label=name)
        ax.set_xscale("log")
        ax.legend(fontsize=8)
    else:
        names = list(stats)
        ms = [0.0 if math.isnan(stats[a][0]) else stats[a][0] for a in names]
        err = [[_half(stats[a], 0) for a in names], [_half(stats[a], 1) for a in names]]
        ax.bar(range(len(names)), ms, yerr=err, capsize=4, color="#7a9fe0")
        ax.set_xticks(range(len(names)), names, rotation=20 if len(names) > 4 else 0, fontsize=8)
        if names == [CHECK_ARM] or (all(m >= 0 for m in ms) and max(ms, default=0) < 1e-6):
            ax.set_yscale("symlog", linthresh=1e-16)
    ax.set_ylabel(claim.metric)
    ax.grid(alpha=0.3)
    return png(fig)


def _half(stat: tuple[float, float, float], side: int) -> float:
    m, lo, hi = stat
    if math.isnan(m):
        return 0.0
    return max(0.0, m - lo) if side == 0 else max(0.0, hi - m)
