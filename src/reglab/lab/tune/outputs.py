"""The outputs of ``reglab tune``: ``best.toml``, ``trials.csv``, ``summary.json``, ``report.html``.

:func:`recipe_toml` writes a recipe as TOML that :meth:`Recipe.from_toml` reads back to the same
recipe. The report page is built from :mod:`reglab.lab.render`, as a study's is: the verdict (the
best recipe by validation and its test score with a 95% interval, beside the base recipe's, and
the sequential rule's verdict on the two: better, worse, no effect beyond the margin, or
undecided, with its interval and seeds), the decision rule, the best recipe as TOML, the
confirmation table, the search history plot and the trials table. ``summary.json`` carries the
verdict as ``comparison`` (``verdict``, ``seeds``, ``low``, ``high``, ``look``, ...).

Example:
    >>> from reglab.lab.core.recipe import BUILTIN_RECIPES
    >>> recipe_toml(BUILTIN_RECIPES["baseline"]).splitlines()[1]
    'name = "baseline"'
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.recipe import Recipe
from ..queue.storage import json_safe, redact
from ..render import atomic_write, csv_text, figure_html, html_page, html_table, png, pyplot
from .space import TuneConfig

__all__ = ["comparison_text", "recipe_toml", "render_html", "verdict_label", "write_outputs"]


def recipe_toml(recipe: Recipe) -> str:
    """A recipe as a TOML file that :meth:`Recipe.from_toml` reads back to the same recipe.

    Every field is written (``none`` for an optional technique that is off), so the file does
    not depend on the built-in recipes' defaults.

    Example:
        >>> from reglab.lab.core.recipe import BUILTIN_RECIPES
        >>> text = recipe_toml(BUILTIN_RECIPES["dropout"])
        >>> 'dropout = 0.5' in text and 'norm = "none"' in text
        True
    """
    lines = ["# reglab recipe (read with Recipe.from_toml or `reglab study --recipe FILE`)"]
    for key, value in recipe.to_dict().items():
        if key == "description" and not value:
            continue
        lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if value is None:
        return '"none"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def write_outputs(
    out: Path,
    config: TuneConfig,
    url: str,
    best: Recipe,
    best_value: float,
    trials: list[dict[str, Any]],
    confirmation: list[dict[str, Any]],
    test: dict[str, Any],
    search_seconds: float,
    seconds: float,
) -> dict[str, Path]:
    """Write the four files of a tuning run (each atomically); return their paths."""
    paths = {
        "toml": out / "best.toml",
        "trials": out / "trials.csv",
        "summary": out / "summary.json",
        "report": out / "report.html",
    }
    atomic_write(paths["toml"], recipe_toml(best))
    columns: list[str] = []
    for t in trials:
        columns += [k for k in t if k not in columns]
    cells = [{k: "" if t.get(k) is None else t.get(k) for k in columns} for t in trials]
    atomic_write(paths["trials"], csv_text(columns, cells))
    summary = {
        "config": config.to_dict(),
        "storage": redact(url),
        "best": {"spec": best.summary(), "recipe": best.to_dict(), "validation": best_value},
        "test": {k: v for k, v in test.items() if k not in ("rows", "comparison")},
        "comparison": test.get("comparison"),
        "runs": test["rows"],
        "trials": {s: sum(t["state"] == s for t in trials) for s in ("COMPLETE", "PRUNED", "FAIL")},
        "confirmation": confirmation,
        "search_seconds": search_seconds,
        "seconds": seconds,
    }
    atomic_write(paths["summary"], json.dumps(json_safe(summary), indent=2))
    page = render_html(config, best, trials, summary)
    atomic_write(paths["report"], page)
    return paths


def _formatter(acc: bool) -> Callable[[Any], str]:
    """Accuracy in percent (two decimals) or a loss; a dash for a missing value."""

    def fmt(v: Any) -> str:
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            return "–"
        return f"{100 * v:.2f}%" if acc else f"{v:.4g}"

    return fmt


def verdict_label(comparison: Mapping[str, Any], acc: bool) -> str:
    """``better``, ``worse``, ``no effect beyond ±1 point`` or ``undecided after 20 seeds``.

    Example:
        >>> verdict_label({"verdict": "equivalent", "margin": 1.0, "seeds": 5}, acc=True)
        'no effect beyond ±1 point'
    """
    verdict = comparison["verdict"]
    if verdict == "equivalent":
        m = comparison["margin"]
        unit = (" point" if m == 1 else " points") if acc else "% of the base's test loss"
        return f"no effect beyond ±{m:g}{unit}"
    if verdict == "undecided":
        return f"undecided after {comparison['seeds']} seeds"
    return str(verdict)


def comparison_text(comparison: Mapping[str, Any], acc: bool) -> str:
    """The verdict on the tuned recipe against the base, with its interval and seeds (one line).

    Example:
        >>> c = {"verdict": "better", "margin": 1.0, "seeds": 5, "mean": 0.02, "low": 0.01,
        ...      "high": 0.03, "look": 1, "looks": [5, 10, 15, 20], "sequential": True}
        >>> comparison_text(c, acc=True)
        'better: +2.00 points (95% repeated interval +1.00 to +3.00; 5 seeds, look 1 of 4)'
    """
    c = comparison
    label = verdict_label(c, acc)
    looks = list(c["looks"])
    if c["look"] == 0:
        return (
            f"{label}: {c['seeds']} seeds are below the rule's first look ({looks[0]} seeds), "
            "so there is no interval"
        )

    def fmt(v: float) -> str:
        return f"{100 * v:+.2f}" if acc else f"{v:+.4g}"

    what = " points" if acc else " (base loss minus tuned loss)"
    where = f"{c['seeds']} seeds, look {c['look']} of {len(looks)}"
    if not c["sequential"]:
        where = f"the first {where} (a fixed --seeds design)"
    return (
        f"{label}: {fmt(c['mean'])}{what} (95% repeated interval {fmt(c['low'])} to "
        f"{fmt(c['high'])}; {where})"
    )


def _verdict(
    config: TuneConfig, best: Recipe, best_value: float, confirmed: bool, test: dict[str, Any]
) -> str:
    """The best recipe by validation, its test score and the rule's verdict against the base."""
    esc = html.escape
    acc = test["metric"] == "test_acc"
    fmt = _formatter(acc)
    t = test["tuned"]
    over = 2 * config.partitions if confirmed else config.partitions
    text = (
        f"Best recipe by validation ({'accuracy' if acc else 'loss'} "
        f"{fmt(best_value if acc else -best_value)}, mean over {over} partitions): <code style='overflow-wrap:anywhere'>{esc(best.summary())}</code>. "
        f"On test examples no trial saw, over {test['seeds']} seeds (each after seed 0 with "
        f"its own draw of training examples): {fmt(t['mean'])} "
        f"(95% interval {fmt(t['low'])} to {fmt(t['high'])})."
    )
    if "base" in test:
        b = test["base"]
        text += f" The base recipe <code style='overflow-wrap:anywhere'>{esc(config.base)}</code> scores {fmt(b['mean'])} on the same draws."
    c = test.get("comparison")
    if c:
        detail = comparison_text(c, acc).removeprefix(verdict_label(c, acc) + ": ")
        text += f"<br><b>Tuned against base: {esc(verdict_label(c, acc))}</b>: {esc(detail)}."
        if c.get("same_recipe"):
            text += " The search kept the base's strengths: one recipe, its runs stand for both."
    return text


def _rule_section(test: Mapping[str, Any], acc: bool) -> str:
    """How the verdict was reached: the rule, its looks and margin (empty without a base)."""
    c = test.get("comparison")
    if not c:
        return ""
    looks = ", ".join(str(n) for n in c["looks"])
    margin = (
        f"±{c['margin']:g} points of accuracy"
        if acc
        else (f"±{c['margin']:g}% of the base's mean test loss over the first look's seeds")
    )
    design = (
        "Seeds were added look by look and stopped at the first decided look"
        if c["sequential"]
        else f"The seeds were fixed (--seeds {test['seeds']}); the verdict is the rule's at the "
        "largest look they reach, or undecided below the first look"
    )
    return (
        "<h2>Decision rule</h2><p>The tuned and the base recipe are trained on the same seeds "
        "and draws, and their per-seed differences on test are judged by repeated 95% "
        f"confidence intervals valid at every look ({looks} seeds): better when the interval "
        f"lies above 0, worse when below, no effect when it lies within {margin}, undecided "
        f'otherwise. {design}. "No effect" means no difference as large as the margin in '
        "this setting (data, model, split); a smaller one may remain.</p>"
    )


def _trials_table(trials: list[dict[str, Any]], acc: bool) -> str:
    """One row per trial: state, validation score, epochs run, seconds and its parameters."""
    fmt = _formatter(acc)
    params = sorted({k for row in trials for k in row if k.startswith("param_")})
    head = ["#", "state", "validation", "epochs", "s", *[p[6:] for p in params]]
    body: list[list[str]] = []
    for row in trials:
        cells = [
            str(row["number"]),
            row["state"].lower(),
            fmt(row["value"] if acc or row["value"] is None else -row["value"]),
            "" if row["epochs_run"] is None else str(row["epochs_run"]),
            "" if row["seconds"] is None else f"{row['seconds']:.1f}",
            *[_cell(row.get(p)) for p in params],
        ]
        body.append([html.escape(c) for c in cells])
    return html_table(head, body)


def _confirmation_section(
    config: TuneConfig, confirmation: Sequence[dict[str, Any]], acc: bool
) -> str:
    """The re-scored trials and their means (empty when nothing was confirmed)."""
    if not confirmation:
        return ""
    fmt = _formatter(acc)
    sign = 1.0 if acc else -1.0
    return (
        f"<h2>Confirmation</h2><p>The search's best {len(confirmation)} trials, each scored "
        f"on {config.partitions} more train/validation partitions; the best mean over all "
        f"{2 * config.partitions} partitions is chosen.</p>"
        + html_table(
            ["#", "search", "more partitions", f"mean of {2 * config.partitions}"],
            [
                [
                    str(r["number"]),
                    fmt(sign * r["search"]),
                    fmt(None if r["confirm"] is None else sign * r["confirm"]),
                    fmt(None if r["mean"] is None else sign * r["mean"]),
                ]
                for r in confirmation
            ],
        )
    )


def render_html(
    config: TuneConfig, best: Recipe, trials: list[dict[str, Any]], summary: Mapping[str, Any]
) -> str:
    """The tuning report as one HTML string (the search history plot embedded); ``summary`` is
    what :func:`write_outputs` writes to ``summary.json`` (before it is made JSON-safe)."""
    best_value: float = summary["best"]["validation"]
    confirmation: list[dict[str, Any]] = summary["confirmation"]
    test: dict[str, Any] = {**summary["test"], "rows": summary["runs"]}
    if summary.get("comparison") is not None:
        test["comparison"] = summary["comparison"]
    seconds: float = summary["seconds"]
    esc = html.escape
    acc = test["metric"] == "test_acc"
    text = _verdict(config, best, best_value, bool(confirmation), test)
    figure = figure_html(
        "Search history",
        "Validation score of each finished trial and the best so far; pruned trials are "
        "stopped early by the median rule and have no final score.",
        _history_png(trials, acc),
    )
    body = f"""<p class="sub">data={esc(config.data)}, train_size={config.train_size},
val_size={config.val_size}, base={esc(config.base)}, {len(trials)} trials, {seconds:.0f} s</p>
<div class="verdict">{text}</div>
{_rule_section(test, acc)}
<h2>Best recipe (TOML)</h2><pre>{esc(recipe_toml(best))}</pre>{_confirmation_section(config, confirmation, acc)}
{figure}
<h2>Trials</h2>{_trials_table(trials, acc)}"""
    return html_page("reglab tune report", "reglab tune", body)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _history_png(trials: list[dict[str, Any]], acc: bool) -> str:
    """Each finished trial's validation score and the best so far, as base64 PNG."""
    plt = pyplot()
    done = [t for t in trials if t["state"] == "COMPLETE" and t["value"] is not None]
    scale = 100.0 if acc else -1.0
    fig, ax = plt.subplots(figsize=(7, 3))
    xs = [t["number"] for t in done]
    ys = [scale * t["value"] for t in done]
    ax.plot(xs, ys, "o", color="tab:blue", alpha=0.6, label="trial")
    best: list[float] = []
    for y in ys:
        best.append(y if not best else (max(best[-1], y) if acc else min(best[-1], y)))
    ax.step(xs, best, where="post", color="tab:orange", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation accuracy (%)" if acc else "validation loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return png(fig)
