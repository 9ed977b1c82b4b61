"""The study's outputs: ``results.csv`` (one row per run), ``summary.json`` (per recipe) and
``report.html`` (one self-contained page, plots embedded, opens offline).

Validation decides, test reports: the verdict names the recipe with the best mean *validation*
score and then reports its test score, so the test split never chooses anything.

Confidence intervals are Student-t intervals over seeds: ``mean ± t(0.975, n-1) * sd / sqrt(n)``.
The comparison with the baseline is paired by seed (same split and initial draw per seed).
The page is built from :mod:`reglab.lab.render`; :func:`summary_table` gives the same results as
text lines for a terminal. A training-size sweep (rows of several ``train_size`` values) is
summarized per size, and compared with the baseline within each size; the page's main results
are those of the largest size, and :mod:`reglab.lab.study.sweep_report` adds the plot and table
across the sizes.

Example:
    >>> rows = [{"recipe": "baseline", "seed": s, "test_acc": a} for s, a in enumerate([0.9, 0.92])]
    >>> summarize(rows)[0]["test_acc"]
    0.91
"""

from __future__ import annotations

import html
import json
import math
import os
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ..core.cells import cell_key, json_safe
from ..render import atomic_write, clip01, csv_text, figure_html, html_page, html_table, png, pyplot
from ..stats import Decision, decide, finite, mean_ci, metric_keys, paired_vs_baseline, task_of
from .config import StudyConfig, inert_notes
from .sequential import decisions, gains, margin_of
from .sweep_report import size_figure, size_table, train_sizes

__all__ = [
    "RESULT_COLUMNS",
    "StudyDesign",
    "ordered_rows",
    "render_html",
    "summarize",
    "summary_table",
    "write_outputs",
]

RESULT_COLUMNS = (
    "recipe",
    "seed",
    "train_size",
    "status",
    "train_acc",
    "val_acc",
    "test_acc",
    "gap",
    "train_loss",
    "val_loss",
    "test_loss",
    "best_epoch",
    "epochs_run",
    "seconds",
    "weight_norm",
    "sparsity",
    "stop_reason",
)


def summarize(
    rows: Sequence[Mapping[str, Any]], design: StudyDesign | None = None
) -> list[dict[str, Any]]:
    """One dict per recipe (in first-seen order): means and 95% intervals over seeds.

    With a sequential ``design`` each compared recipe also gets its ``decision``: ``verdict``,
    ``low``/``high`` (the repeated confidence interval of the gain over the baseline), ``look``,
    ``seeds`` and ``final``, plus the same keys at the top level for ``summary.json``.
    """
    found = design.decide(rows) if design is not None else {}
    task = task_of(rows)
    test_key, val_key, _ = metric_keys(task)
    order: list[str] = []
    for r in rows:
        if r["recipe"] not in order:
            order.append(r["recipe"])
    out = []
    for name in order:
        rs = [r for r in rows if r["recipe"] == name]
        ok = [r for r in rs if r.get("status", "ok") == "ok"]
        test = mean_ci([r.get(test_key) for r in ok])
        if task == "classification":
            # An accuracy lies in [0, 1]; with few seeds the t-interval can reach past it.
            test = (test[0], clip01(test[1]), clip01(test[2]))
        entry: dict[str, Any] = {
            "recipe": name,
            "task": task,
            "runs": len(rs),
            "diverged": sum(r.get("status") == "diverged" for r in rs),
            test_key: test[0],
            f"{test_key}_low": test[1],
            f"{test_key}_high": test[2],
            val_key: mean_ci([r.get(val_key) for r in ok])[0],
            "gap": mean_ci([r.get("gap") for r in ok])[0],
            "gap_low": mean_ci([r.get("gap") for r in ok])[1],
            "gap_high": mean_ci([r.get("gap") for r in ok])[2],
            "best_epoch": mean_ci([r.get("best_epoch") for r in ok])[0],
            "epochs_run": mean_ci([r.get("epochs_run") for r in ok])[0],
            "seconds": mean_ci([r.get("seconds") for r in rs])[0],
            "weight_norm": mean_ci([r.get("weight_norm") for r in ok])[0],
            "sparsity": mean_ci([r.get("sparsity") for r in ok])[0],
        }
        if task == "classification":
            entry["train_acc"] = mean_ci([r.get("train_acc") for r in ok])[0]
        else:
            entry["train_loss"] = mean_ci([r.get("train_loss") for r in ok])[0]
        paired = paired_vs_baseline(rows, name)
        if paired is not None:
            entry["vs_baseline"] = paired
        if name in found and design is not None:
            d = found[name]
            decision = {
                "verdict": d.verdict,
                "low": d.low,
                "high": d.high,
                "mean": d.mean,
                "look": d.look,
                "seeds": d.n,
                "final": d.final,
                "margin": design.margin_units(rows),
                "text": design.verdict_text(d),
            }
            entry["decision"] = decision
            entry.update({k: decision[k] for k in ("verdict", "seeds", "low", "high", "look")})
        out.append(entry)
    return out


class StudyDesign:
    """A sequential study's decision rule, as its report states it (margin, looks, alpha).

    Example:
        >>> StudyDesign(("baseline", "l2"), margin=1.0, looks=(5, 10)).verdict_label("equivalent")
        'no effect beyond ±1.0'
    """

    def __init__(
        self, recipes: Sequence[str], *, margin: float, looks: Sequence[int], alpha: float = 0.05
    ) -> None:
        self.recipes = tuple(recipes)
        self.margin = margin
        self.looks = tuple(looks)
        self.alpha = alpha

    @classmethod
    def of(cls, config: StudyConfig) -> StudyDesign | None:
        """The design of ``config``, or None for a fixed number of seeds."""
        if not config.sequential:
            return None
        return cls(config.recipes, margin=config.margin, looks=config.looks)

    def decide(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Decision]:
        return decisions(rows, self.recipes, margin=self.margin, looks=self.looks, alpha=self.alpha)

    def margin_units(self, rows: Sequence[Mapping[str, Any]]) -> float:
        """The margin in the metric's units (a fraction of accuracy, or a loss)."""
        return margin_of(rows, self.margin, self.looks)

    def verdict_label(self, verdict: str, seeds: int | None = None) -> str:
        """``better``, ``worse``, ``no effect beyond ±1.0`` or ``undecided after 20 seeds``."""
        if verdict == "equivalent":
            return f"no effect beyond ±{self.margin:.1f}"
        if verdict == "undecided":
            return f"undecided after {seeds if seeds is not None else self.looks[-1]} seeds"
        return verdict

    def verdict_text(self, d: Decision) -> str:
        return self.verdict_label(d.verdict, d.n)

    def per_look(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Decision]]:
        """Each comparison's interval at every look up to where it stopped (for the plot)."""
        found = self.decide(rows)
        diffs = gains(rows, self.recipes)
        level = self.alpha / max(len(diffs), 1)
        margin = self.margin_units(rows)
        out: dict[str, list[Decision]] = {}
        for name, d in found.items():
            out[name] = [
                decide(diffs[name][:n], margin=margin, looks=self.looks, alpha=level)
                for n in self.looks
                if n <= d.n
            ]
        return out


def _in_words(summary: Sequence[Mapping[str, Any]], design: StudyDesign | None) -> str:
    """Which techniques help, which make no practical difference, which hurt (sequential)."""
    if design is None:
        return ""
    groups: dict[str, list[str]] = {}
    for s in summary:
        if "decision" in s:
            groups.setdefault(s["decision"]["verdict"], []).append(html.escape(s["recipe"]))
    if not groups:
        return ""
    unit = "points of accuracy" if summary[0]["task"] == "classification" else "% of the loss"
    said = []
    if groups.get("better"):
        said.append(f"<b>helps</b>: {', '.join(groups['better'])}")
    if groups.get("equivalent"):
        said.append(
            f"<b>no practical difference</b> (less than ±{design.margin:.1f} {unit}): "
            f"{', '.join(groups['equivalent'])}"
        )
    if groups.get("worse"):
        said.append(f"<b>hurts</b>: {', '.join(groups['worse'])}")
    if groups.get("undecided"):
        said.append(
            f"<b>undecided</b> after {design.looks[-1]} seeds: {', '.join(groups['undecided'])}"
        )
    return (
        "<p>Against the baseline, on the test split, with every verdict's chance of being wrong "
        f"at most {100 * design.alpha:.0f}% for the whole table: " + "; ".join(said) + ".</p>"
    )


def _verdict(summary: Sequence[Mapping[str, Any]]) -> str:
    """One paragraph naming the recipe chosen by validation and what it does on test."""
    if not summary:
        return "No run finished, so there is nothing to compare yet."
    task = summary[0]["task"]
    test_key, val_key, higher = metric_keys(task)
    scored = [s for s in summary if isinstance(s.get(val_key), float) and math.isfinite(s[val_key])]
    if not scored:
        return "Every run diverged; lower the learning rate or the regularization strengths."
    best = (max if higher else min)(scored, key=lambda s: s[val_key])
    base = next((s for s in summary if s["recipe"] == "baseline"), None)

    def fmt(v: float) -> str:
        return f"{100 * v:.1f}%" if task == "classification" else f"{v:.4g}"

    text = (
        f"Chosen by validation {'accuracy' if higher else 'loss'}, the best recipe is "
        f"<b>{html.escape(best['recipe'])}</b> ({val_key} {fmt(best[val_key])}). On the test "
        f"split it scores {fmt(best[test_key])} (95% interval {fmt(best[test_key + '_low'])} to "
        f"{fmt(best[test_key + '_high'])}, {best['runs']} seeds)."
    )
    if base is not None and base is not best:
        paired = best.get("vs_baseline")
        d = best.get("decision")
        unit = " points" if task == "classification" else ""
        scale = 100 if task == "classification" else 1
        against = f" Against the baseline ({fmt(base[test_key])})"
        if d:  # a sequential study: the interval its verdict follows from
            text += (
                f"{against} its gain is {scale * d['mean']:+.2f}{unit} (sequential 95% interval "
                f"{scale * d['low']:+.2f} to {scale * d['high']:+.2f} at {d['seeds']} seeds: "
                f"{html.escape(d['text'])})."
            )
        elif paired:
            text += (
                f"{against} the paired difference is {scale * paired['mean']:+.2f}{unit} (95% "
                f"interval {scale * paired['low']:+.2f} to {scale * paired['high']:+.2f}; better "
                f"on {paired['wins']} of {len(paired['diffs'])} seeds)."
            )
        if task == "classification" and math.isfinite(base["gap"]) and math.isfinite(best["gap"]):
            text += (
                f" The train-validation accuracy gap goes from {100 * base['gap']:.1f} to "
                f"{100 * best['gap']:.1f} points."
            )
    return text


# -- plots -------------------------------------------------------------------------------------


#: Each plot's grid axis, title and caption, by the name of the function that draws it.
_PLOTS: dict[str, tuple[str, str, str]] = {
    "test_scores": (
        "x",
        "Test score",
        "Mean over seeds with its 95% interval; dots are single seeds.",
    ),
    "gaps": (
        "y",
        "Generalization gap",
        "At the end of training (best weights when early stopping restores them); smaller is better.",
    ),
    "paired": (
        "x",
        "Paired comparison with the baseline",
        "Per-seed differences (dots) and their mean with a 95% interval.",
    ),
    "epochs": (
        "y",
        "Epochs",
        "Epoch with the best validation score and epochs actually run (early stopping ends runs sooner).",
    ),
    "weights": (
        "y",
        "Weights",
        "Weight decay and L2 shrink the norm; L1 with proximal steps makes exact zeros.",
    ),
    "looks": (
        "x",
        "Sequential intervals at each look",
        "Each comparison's repeated confidence interval at each look (number of seeds beside "
        "it, darker = later), until it was decided: green better, red worse, blue no effect "
        "beyond the margin (shaded), gray undecided.",
    ),
}


def _figure(fig: Any, axes: Sequence[Any], plot: str) -> _Figure:
    """A finished plot: a light grid on each of ``axes``, tight layout, PNG, as ``_PLOTS`` says."""
    grid, title, caption = _PLOTS[plot]
    for ax in axes:
        ax.grid(axis=grid, alpha=0.3)
    fig.tight_layout()
    return title, caption, png(fig)


def _curves(rows: Sequence[Mapping[str, Any]], recipe: str, key: str) -> tuple[list, list, list]:
    """Mean, low and high (min/max over seeds) of a per-epoch key, epoch by epoch."""
    series = [[h.get(key) for h in r.get("history", [])] for r in rows if r["recipe"] == recipe]
    length = max((len(s) for s in series), default=0)
    mean, low, high = [], [], []
    for i in range(length):
        vals = finite([s[i] for s in series if i < len(s)])
        mean.append(statistics.fmean(vals) if vals else math.nan)
        low.append(min(vals) if vals else math.nan)
        high.append(max(vals) if vals else math.nan)
    return mean, low, high


_Figure = tuple[str, str, str]


def _learning_curves(
    plt: Any, rows: Sequence[Mapping[str, Any]], names: Sequence[str], task: str
) -> _Figure:
    """One panel per recipe: train (eval mode) against validation, with the min-max band."""
    classification = task == "classification"
    pct = 100.0 if classification else 1.0
    train_key, val_key = ("train_acc", "val_acc") if classification else ("train_loss", "val_loss")
    ncols = min(4, max(1, len(names)))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.8 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for key, color, label in (
            (train_key, "tab:blue", "train (eval mode)"),
            (val_key, "tab:orange", "validation"),
        ):
            m, lo, hi = _curves(rows, name, key)
            xs = list(range(len(m)))
            ax.plot(xs, [pct * v for v in m], color=color, label=label, lw=1.5)
            ax.fill_between(
                xs, [pct * v for v in lo], [pct * v for v in hi], color=color, alpha=0.2
            )
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    axes.flat[0].set_ylabel("accuracy (%)" if classification else "loss")
    fig.tight_layout()
    return (
        "Learning curves",
        "Training split measured in eval mode against validation, mean over seeds with the "
        "min-max band. Curves that stay apart are overfitting; curves that meet high are the goal.",
        png(fig),
    )


def _test_scores(
    plt: Any, rows: Sequence[Mapping[str, Any]], summary: Sequence[Mapping[str, Any]], task: str
) -> _Figure:
    """Each recipe's test score with its 95% interval, and the single seeds as dots."""
    test_key, _, _ = metric_keys(task)
    pct = 100.0 if task == "classification" else 1.0
    names = [s["recipe"] for s in summary]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.2))
    ys = list(range(len(names)))[::-1]
    for y, s in zip(ys, summary):
        m, lo, hi = s[test_key], s[f"{test_key}_low"], s[f"{test_key}_high"]
        ax.errorbar(
            [pct * m],
            [y],
            xerr=[[pct * (m - lo)], [pct * (hi - m)]],
            fmt="o",
            capsize=4,
            color="tab:green" if s["recipe"] != "baseline" else "tab:gray",
        )
        for r in rows:
            if r["recipe"] == s["recipe"] and isinstance(r.get(test_key), (int, float)):
                ax.plot([pct * r[test_key]], [y], ".", color="black", alpha=0.4)
    ax.set_yticks(ys, names)
    ax.set_xlabel("test accuracy (%)" if task == "classification" else "test loss")
    return _figure(fig, [ax], "test_scores")


def _gaps(plt: Any, summary: Sequence[Mapping[str, Any]], task: str) -> _Figure:
    """The generalization gap per recipe with its 95% interval."""
    pct = 100.0 if task == "classification" else 1.0
    fig, ax = plt.subplots(figsize=(7, 3))
    gaps = [pct * s["gap"] for s in summary]
    errs = [
        [pct * (s["gap"] - s["gap_low"]) for s in summary],
        [pct * (s["gap_high"] - s["gap"]) for s in summary],
    ]
    names = [s["recipe"] for s in summary]
    ax.bar(names, gaps, yerr=errs, capsize=4, color="tab:purple", alpha=0.8)
    ax.set_ylabel(
        "train - val accuracy (points)" if task == "classification" else "val - train loss"
    )
    ax.tick_params(axis="x", rotation=30)
    return _figure(fig, [ax], "gaps")


def _paired(plt: Any, summary: Sequence[Mapping[str, Any]], task: str) -> _Figure | None:
    """Per-seed differences from the baseline and their mean; None without a baseline."""
    paired = [(s["recipe"], s["vs_baseline"]) for s in summary if s.get("vs_baseline")]
    if not paired:
        return None
    pct = 100.0 if task == "classification" else 1.0
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(paired) + 1.2))
    ys = list(range(len(paired)))[::-1]
    for y, (_name, p) in zip(ys, paired):
        ax.errorbar(
            [pct * p["mean"]],
            [y],
            xerr=[[pct * (p["mean"] - p["low"])], [pct * (p["high"] - p["mean"])]],
            fmt="o",
            capsize=4,
            color="tab:blue",
        )
        ax.plot([pct * d for d in p["diffs"]], [y] * len(p["diffs"]), ".", color="black", alpha=0.4)
    ax.axvline(0, color="gray", lw=1)
    ax.set_yticks(ys, [n for n, _ in paired])
    ax.set_xlabel(
        "difference from baseline, same seed (points)"
        if task == "classification"
        else "difference in test loss"
    )
    return _figure(fig, [ax], "paired")


def _epochs(plt: Any, summary: Sequence[Mapping[str, Any]]) -> _Figure:
    """Epoch of the best validation score beside the epochs run."""
    names = [s["recipe"] for s in summary]
    fig, ax = plt.subplots(figsize=(7, 3))
    xs = list(range(len(names)))
    ax.bar([x - 0.2 for x in xs], [s["best_epoch"] for s in summary], width=0.4, label="best epoch")
    ax.bar([x + 0.2 for x in xs], [s["epochs_run"] for s in summary], width=0.4, label="epochs run")
    ax.set_xticks(xs, names, rotation=30)
    ax.legend(fontsize=8)
    return _figure(fig, [ax], "epochs")


def _weights(plt: Any, summary: Sequence[Mapping[str, Any]]) -> _Figure:
    """Weight norm and the share of exact zeros per recipe."""
    names = [s["recipe"] for s in summary]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3))
    a1.bar(names, [s["weight_norm"] for s in summary], color="tab:brown")
    a1.set_title("weight norm (L2, regularized weights)", fontsize=10)
    a2.bar(
        names,
        [100 * (s["sparsity"] if math.isfinite(s["sparsity"]) else 0) for s in summary],
        color="tab:olive",
    )
    a2.set_title("exact zeros (%)", fontsize=10)
    a2.set_ylim(bottom=0)
    for a in (a1, a2):
        a.tick_params(axis="x", rotation=30)
    return _figure(fig, [a1, a2], "weights")


def _looks(
    plt: Any, rows: Sequence[Mapping[str, Any]], design: StudyDesign | None, task: str
) -> _Figure | None:
    """Each comparison's sequential interval at each look, up to where it was decided."""
    if design is None:
        return None
    per_look = {n: ds for n, ds in design.per_look(rows).items() if ds}
    if not per_look:
        return None
    scale = 100.0 if task == "classification" else 1.0
    margin = scale * design.margin_units(rows)
    fig, ax = plt.subplots(figsize=(7, 0.55 * len(per_look) + 1.4))
    ys = list(range(len(per_look)))[::-1]
    colours = {"better": "tab:green", "worse": "tab:red", "equivalent": "tab:blue"}
    for y, (_name, ds) in zip(ys, per_look.items()):
        for k, d in enumerate(ds):
            offset = 0.3 * (k - (len(ds) - 1) / 2) / max(len(ds), 1)
            ax.errorbar(
                [scale * d.mean],
                [y + offset],
                xerr=[[scale * (d.mean - d.low)], [scale * (d.high - d.mean)]],
                fmt="o",
                ms=3,
                capsize=2,
                color=colours.get(d.verdict, "gray"),
                alpha=0.35 + 0.65 * (k + 1) / len(ds),
            )
            ax.annotate(
                f"{d.n}",
                (scale * d.high, y + offset),
                fontsize=6,
                xytext=(2, -2),
                textcoords="offset points",
            )
    ax.axvline(0, color="gray", lw=1)
    if margin > 0:
        ax.axvspan(-margin, margin, color="tab:blue", alpha=0.08)
    ax.set_yticks(ys, list(per_look))
    ax.set_xlabel(
        "gain over the baseline (points)" if task == "classification" else "loss reduction"
    )
    return _figure(fig, [ax], "looks")


def _figures(
    rows: Sequence[Mapping[str, Any]],
    summary: Sequence[Mapping[str, Any]],
    design: StudyDesign | None = None,
) -> list[_Figure]:
    """(title, caption, base64 PNG) for each plot of the report."""
    plt = pyplot()
    task = summary[0]["task"] if summary else "classification"
    names = [s["recipe"] for s in summary]
    figs = [
        _learning_curves(plt, rows, names, task),
        _test_scores(plt, rows, summary, task),
        _gaps(plt, summary, task),
        _looks(plt, rows, design, task),
        _paired(plt, summary, task),
        _epochs(plt, summary),
        _weights(plt, summary),
    ]
    return [f for f in figs if f is not None]


# -- html --------------------------------------------------------------------------------------


def render_html(
    config: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    summary: Sequence[Mapping[str, Any]],
    failed_cells: Sequence[str] = (),
    *,
    plots: bool = True,
    by_size: Sequence[Mapping[str, Any]] = (),
    design: StudyDesign | None = None,
    failures: Sequence[tuple[str, str]] = (),
    inert: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The whole report as one HTML string (plots as embedded PNGs; ``plots=False`` skips them).

    ``by_size`` (a sweep: ``{"train_size": n, "recipes": summarize(rows of n)}`` per size) adds
    the sweep's plot and table; ``summary`` and the other plots are then the largest size's.
    """
    task = summary[0]["task"] if summary else "classification"
    test_key, val_key, _ = metric_keys(task)
    esc = html.escape

    def pct(v: Any) -> str:
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            return "–"
        return f"{100 * v:.1f}" if task == "classification" else f"{v:.4g}"

    head = [
        "recipe",
        "runs",
        f"{test_key} (95% CI)",
        val_key,
        "gap",
        "best epoch",
        "epochs run",
        "s / run",
    ]
    sequential = any("decision" in x for x in summary)
    if sequential:
        head[2:2] = ["vs baseline", "gain (sequential interval)"]
    body: list[list[str]] = []
    for s in summary:
        ci = f"{pct(s[test_key])} [{pct(s[test_key + '_low'])}, {pct(s[test_key + '_high'])}]"
        cells = [
            esc(s["recipe"]),
            f"{s['runs']}" + (f" ({s['diverged']} diverged)" if s["diverged"] else ""),
            ci,
            pct(s[val_key]),
            pct(s["gap"]),
            f"{s['best_epoch']:.1f}" if math.isfinite(s["best_epoch"]) else "–",
            f"{s['epochs_run']:.1f}" if math.isfinite(s["epochs_run"]) else "–",
            f"{s['seconds']:.1f}" if math.isfinite(s["seconds"]) else "–",
        ]
        if sequential:
            d = s.get("decision")
            cells[2:2] = (
                [
                    esc(d["text"]),
                    f"{_gain(d['mean'], task)} [{_gain(d['low'], task)}, "
                    f"{_gain(d['high'], task)}] at {d['seeds']} seeds",
                ]
                if d
                else ["–", "–"]
            )
        body.append(cells)
    table = html_table(head, body)
    largest = by_size[-1]["train_size"] if by_size else None
    main_rows = [r for r in rows if largest is None or r.get("train_size") == largest]
    figures = "".join(
        figure_html(t, c, b64)
        for t, c, b64 in (_figures(main_rows, summary, design) if summary and plots else [])
    )
    sweep, at = "", ""
    if by_size:
        at = f" at the largest training size ({largest} examples)"
        sweep = "<h2>Training sizes</h2>" + size_table(by_size, task)
        if plots:
            sweep += figure_html(*size_figure(pyplot(), by_size, task))
    problems = ""
    diverged = [
        cell_key(r["recipe"], r["seed"], r.get("train_size") if by_size else None)
        for r in rows
        if r.get("status") == "diverged"
    ]
    if diverged:
        problems += f"<p class='warn'>Diverged runs (loss became NaN or blew up): {esc(', '.join(diverged))}.</p>"
    if failures:
        items = "".join(f"<li>{esc(k)}: <code>{esc(line)}</code></li>" for k, line in failures)
        problems += f"<p class='warn'>Cells that failed (the training raised):</p><ul>{items}</ul>"
    failed = {k for k, _ in failures}
    unfinished = [k for k in failed_cells if k not in failed]
    if unfinished:
        problems += (
            f"<p class='warn'>Cells not finished: {esc(', '.join(unfinished))}. Rerun the same "
            "command to resume them.</p>"
        )
    # A study over the user's training function: that function chose the model, not --model.
    skip = {"recipe_defs", "data_info", *(("model",) if config.get("train_fn") else ())}
    settings = ", ".join(
        f"{k}={esc(','.join(map(str, v)) if isinstance(v, (list, tuple)) else str(v))}"
        for k, v in config.items()
        if k not in skip and v is not None
    )
    if inert:
        items = "".join(
            f"<li>{esc(name)}: {esc(note)}</li>" for name, notes in inert.items() for note in notes
        )
        problems += (
            f"<p class='warn'>Techniques that cannot act at these settings:</p><ul>{items}</ul>"
        )
    recipes = "".join(
        f"<tr><td>{esc(n)}</td><td style='text-align:left'>{esc(_recipe_text(d))}</td></tr>"
        for n, d in (config.get("recipe_defs") or {}).items()
    )
    page = f"""<p class="sub">{settings}</p>{_data_html(config.get("data_info") or {})}
<div class="verdict">{"At the largest training size: " if by_size else ""}{_verdict(summary)}{_in_words(summary, design)}</div>{problems}
<h2>Results{at}</h2>{table}
<p class="sub">Validation decides (early stopping, the chosen recipe); the test split only reports.
Test intervals are 95% Student-t over seeds.{_design_note(design)}</p>
{sweep}{figures}
<h2>Recipes</h2><table><tbody>{recipes}</tbody></table>"""
    return html_page("reglab study report", "reglab study", page)


def _gain(v: float, task: str) -> str:
    if not math.isfinite(v):
        return "–"
    return f"{100 * v:+.2f}" if task == "classification" else f"{v:+.4g}"


def _design_note(design: StudyDesign | None) -> str:
    if design is None:
        return ""
    looks = ", ".join(map(str, design.looks))
    return (
        f" Seeds were added look by look ({looks}) until each recipe's gain over the baseline "
        "was decided: better (the interval above 0), worse (below 0), or no effect beyond "
        f"±{design.margin:.1f} (inside the margin). The gain intervals are repeated confidence "
        f"intervals, valid at every look together, with Bonferroni over the recipes: the chance "
        f"of any wrong verdict in the table is at most {100 * design.alpha:.0f}%."
    )


def _text_summary(info: Mapping[str, Any]) -> dict[str, Any]:
    """``{"text": ...}`` for a text study: its column, the vocabulary fit on the training
    sentences and each split's share of out-of-vocabulary tokens (empty for other data)."""
    text = info.get("text")
    if not text:
        return {}
    parts = text.get("parts") or {}
    oov = {p: parts[p]["oov"] for p in ("val", "test") if p in parts}
    return {"text": {**text, "vocabulary_size": text.get("vocabulary"), "oov": oov}}


def _text_html(info: Mapping[str, Any]) -> str:
    text = info.get("text")
    if not text or not text.get("vocabulary"):
        return ""
    parts = text.get("parts") or {}
    column = f"column {text['column']!r}, " if text.get("column") else ""
    shares = ", ".join(f"{p} {100 * parts[p]['oov']:.1f}%" for p in ("val", "test") if p in parts)
    empty = sum(int(parts[p].get("empty", 0)) for p in parts)
    cut = sum(int(parts[p].get("truncated", 0)) for p in parts)
    return (
        f"<p class='sub'>Text: {html.escape(column)}vocabulary of {text['vocabulary']:,} tokens "
        f"fit on the training sentences; out-of-vocabulary tokens: {html.escape(shares)}; "
        f"{empty} empty texts kept as padding; {cut} texts cut at {text.get('max_length')} "
        "tokens.</p>"
    )


def _data_html(info: Mapping[str, Any]) -> str:
    """The split sizes, where the test split came from, the text vocabulary, and each encoded
    table column."""
    if not info:
        return ""
    esc = html.escape
    sizes = dict(info.get("sizes") or {})
    if info.get("train_sizes"):
        sizes["train"] = ", ".join(map(str, info["train_sizes"]))
    line = " / ".join(f"{k} {v}" for k, v in sizes.items())
    out = f"<p class='sub'>Split: {esc(line)} ({esc(str(info.get('test_source')))} test split)"
    out += f" of {info.get('rows')} rows.</p>"
    out += _text_html(info)
    encoding = info.get("encoding") or []
    if encoding:
        head = sorted({k for e in encoding for k in e}, key=lambda k: (k != "column", k))
        rows = [[esc(str(e.get(k, ""))) for k in head] for e in encoding]
        out += "<h2>Encoded columns</h2>" + html_table(head, rows)
    return out


def _recipe_text(d: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{k}={v}" for k, v in d.items() if k != "name" and v not in (None, 0, 0.0, False)
    )


def ordered_rows(rows: Sequence[Mapping[str, Any]], recipes: Sequence[str]) -> list[dict[str, Any]]:
    """Rows by training size, then in the study's recipe order, then by seed."""
    order = {n: i for i, n in enumerate(recipes)}
    return sorted(
        (dict(r) for r in rows),
        key=lambda r: (
            r.get("train_size") or 0,
            order.get(r["recipe"], len(order)),
            r["recipe"],
            r["seed"],
        ),
    )


def write_outputs(
    out_dir: str | os.PathLike[str],
    config: Any,
    rows: Sequence[Mapping[str, Any]],
    failed_cells: Sequence[str] = (),
    failures: Sequence[tuple[str, str]] = (),
) -> dict[str, Path]:
    """Write ``results.csv``, ``summary.json`` and ``report.html`` (each atomically).

    Every row gets its ``train_size`` (a row stored before rows had one: the study's). With
    several sizes, ``summary.json`` adds ``train_sizes`` and ``by_train_size`` (one
    :func:`summarize` per size) and its ``recipes`` are the largest size's.
    """
    out = Path(out_dir)
    cfg = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    design, inert = _design_of(config, cfg)
    study_size = ((cfg.get("data_info") or {}).get("sizes") or {}).get(
        "train", cfg.get("train_size")
    )
    rows = [r if r.get("train_size") is not None else {**r, "train_size": study_size} for r in rows]
    rows = ordered_rows(rows, cfg.get("recipes", []))
    sizes = train_sizes(rows)
    by_size: list[dict[str, Any]] = [
        {"train_size": n, "recipes": summarize([r for r in rows if r.get("train_size") == n])}
        for n in (sizes if len(sizes) > 1 else [])
    ]
    summary = by_size[-1]["recipes"] if by_size else summarize(rows, design)
    paths = {
        "results": out / "results.csv",
        "summary": out / "summary.json",
        "report": out / "report.html",
    }
    extra = sorted({k for r in rows for k in r} - set(RESULT_COLUMNS) - {"history"})
    columns = [*RESULT_COLUMNS, *extra]
    text = csv_text(columns, [{k: _csv_value(r.get(k)) for k in columns} for r in rows])
    atomic_write(paths["results"], text)
    atomic_write(
        paths["summary"],
        json.dumps(
            {
                "config": cfg,
                "sizes": (cfg.get("data_info") or {}).get("sizes"),
                "test_source": (cfg.get("data_info") or {}).get("test_source"),
                "encoding": (cfg.get("data_info") or {}).get("encoding", []),
                "recipes": json_safe(summary),
                "failed_cells": list(failed_cells),
                "failures": [{"cell": k, "error": line} for k, line in failures],
                "cannot_act": inert,
                **({"train_sizes": sizes, "by_train_size": json_safe(by_size)} if by_size else {}),
                **_text_summary(cfg.get("data_info") or {}),
            },
            indent=2,
        ),
    )
    report = render_html(
        cfg,
        rows,
        summary,
        failed_cells,
        by_size=by_size,
        design=design,
        failures=failures,
        inert=inert,
    )
    atomic_write(paths["report"], report)
    return paths


def _design_of(
    config: Any, cfg: Mapping[str, Any]
) -> tuple[StudyDesign | None, dict[str, list[str]]]:
    """The sequential design and the inert-technique notes of a study's settings; none for
    settings that are not a whole study's (rows and a bare mapping, as in a rebuilt page)."""
    try:
        study = config if isinstance(config, StudyConfig) else StudyConfig.from_dict(cfg)
    except (ConfigError, TypeError, KeyError):
        return None, {}
    return StudyDesign.of(study), inert_notes(study)


def _csv_value(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return "" if v is None else v


def summary_table(
    rows: Sequence[Mapping[str, Any]], config: StudyConfig | None = None
) -> list[str]:
    """The study's result table as plain-text lines (header, rule, one line per recipe).

    Empty when no run finished. Accuracies are in percent; regression shows losses. With
    several training sizes, a first column gives the size and each size has its lines. A
    sequential study (``config``) adds each recipe's verdict against the baseline, the seeds it
    used and its gain with the sequential interval.
    """
    if not rows:
        return []
    sizes = train_sizes(rows)
    if len(sizes) > 1:
        tables = [summary_table([r for r in rows if r.get("train_size") == n]) for n in sizes]
        width = max(len(str(n)) for n in sizes) + 1
        lines = ["n".ljust(width) + tables[0][0], "-" * width + tables[0][1]]
        for n, table in zip(sizes, tables):
            lines += [str(n).ljust(width) + line for line in table[2:]]
        return lines
    design = StudyDesign.of(config) if config is not None else None
    summary = summarize(rows, design)
    classification = summary[0]["task"] == "classification"
    key = "test_acc" if classification else "test_loss"

    def f(v: Any, scale: float = 100.0) -> str:
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            return "-"
        return f"{scale * v:.1f}" if classification else f"{v:.4g}"

    head = f"{'recipe':24s} {key + ' (95% CI)':>24s} {'gap':>6s} {'epochs':>7s} {'s/run':>7s}"
    if design is not None:
        head += f"  {'seeds':>5s} {'gain [sequential interval]':>26s}  verdict"
    lines = [head, "-" * len(head)]
    for s in summary:
        ci = f"{f(s[key])} [{f(s[key + '_low'])}, {f(s[key + '_high'])}]"
        epochs = f"{s['epochs_run']:.0f}" if math.isfinite(s["epochs_run"]) else "-"
        secs = f"{s['seconds']:.1f}" if math.isfinite(s["seconds"]) else "-"
        line = f"{s['recipe'][:24]:24s} {ci:>24s} {f(s['gap']):>6s} {epochs:>7s} {secs:>7s}"
        if design is not None:
            d = s.get("decision")
            task = "classification" if classification else "regression"
            gain = (
                f"{_gain(d['mean'], task)} [{_gain(d['low'], task)}, {_gain(d['high'], task)}]"
                if d
                else ""
            )
            seeds = d["seeds"] if d else s["runs"]
            line += f"  {seeds:>5d} {gain:>26s}  {d['text'] if d else ''}"
        lines.append(line.rstrip())
    return lines
