"""The training-size sweep in a study's report: one plot and one table across the sizes.

Each size's summary is made like a single study's (:func:`reglab.lab.study.report.summarize` on the
rows of that size: means and 95% Student-t intervals over seeds, the baseline comparison
paired by seed within the size). The plot draws each recipe's test score (accuracy, or the
test loss for regression) and its generalization gap against the training size on a log
axis, with the intervals as error bars; the table gives the same numbers.

Example:
    >>> rows = [{"recipe": "baseline", "seed": 0, "train_size": n} for n in (200, 50)]
    >>> train_sizes(rows)
    [50, 200]
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..render import html_table, png

__all__ = ["size_figure", "size_table", "train_sizes"]


def train_sizes(rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """The distinct training sizes of ``rows``, ascending (rows without one are left out)."""
    return sorted({int(r["train_size"]) for r in rows if r.get("train_size") is not None})


def _keys(task: str) -> tuple[str, float, str, str]:
    """(test key, scale, test axis label, gap axis label)."""
    if task == "classification":
        return "test_acc", 100.0, "test accuracy (%)", "train - val accuracy (points)"
    return "test_loss", 1.0, "test loss", "val - train loss"


def size_figure(plt: Any, by_size: Sequence[Mapping[str, Any]], task: str) -> tuple[str, str, str]:
    """(title, caption, base64 PNG): test score and gap per recipe against the training size."""
    test_key, scale, test_label, gap_label = _keys(task)
    sizes = [int(s["train_size"]) for s in by_size]
    names: list[str] = []
    for block in by_size:
        names += [e["recipe"] for e in block["recipes"] if e["recipe"] not in names]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for i, name in enumerate(names):
        # Recipes side by side around each size (a small log-scale offset) so bars stay apart.
        dodge = 1.0 + 0.025 * (i - (len(names) - 1) / 2)
        for ax, key in zip(axes, (test_key, "gap")):
            xs, ms, lo, hi = [], [], [], []
            for n, block in zip(sizes, by_size):
                e: Mapping[str, Any] = next(
                    (e for e in block["recipes"] if e["recipe"] == name), {}
                )
                m = e.get(key)
                if not isinstance(m, (int, float)) or not math.isfinite(m):
                    continue
                xs.append(n * dodge)
                ms.append(scale * m)
                lo.append(scale * (m - e[f"{key}_low"]))
                hi.append(scale * (e[f"{key}_high"] - m))
            ax.errorbar(xs, ms, yerr=[lo, hi], fmt="o-", capsize=3, lw=1.4, label=name)
    for ax, label in zip(axes, (test_label, gap_label)):
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
        ax.set_xlabel("training examples (log scale)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    what = "test accuracy" if task == "classification" else "test loss"
    return (
        "Training-size sweep",
        f"Each recipe's {what} (left) and train-validation gap (right) against the number of "
        "training examples: mean over seeds with 95% Student-t intervals. For each seed every "
        "size is validated and tested on the same rows, and smaller training sets are subsets "
        "of larger ones.",
        png(fig),
    )


def size_table(by_size: Sequence[Mapping[str, Any]], task: str) -> str:
    """One row per (training size, recipe): test score, gap and the paired baseline difference."""
    test_key, scale, _, _ = _keys(task)
    unit = " (points)" if task == "classification" else ""

    def f(v: Any) -> str:
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            return "–"
        return f"{scale * v:.1f}" if task == "classification" else f"{v:.4g}"

    def ci(e: Mapping[str, Any], key: str) -> str:
        return f"{f(e.get(key))} [{f(e.get(key + '_low'))}, {f(e.get(key + '_high'))}]"

    body = []
    for block in by_size:
        for e in block["recipes"]:
            p = e.get("vs_baseline")
            paired = (
                f"{scale * p['mean']:+.2f} [{scale * p['low']:+.2f}, {scale * p['high']:+.2f}]"
                if p
                else "–"
            )
            body.append(
                [
                    str(block["train_size"]),
                    html.escape(e["recipe"]),
                    str(e["runs"]),
                    ci(e, test_key),
                    ci(e, "gap"),
                    paired,
                ]
            )
    head = [
        "train size",
        "recipe",
        "runs",
        f"{test_key} (95% CI)",
        "gap (95% CI)",
        f"vs baseline, paired{unit}",
    ]
    return html_table(head, body)
