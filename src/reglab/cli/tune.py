"""``reglab tune``: search regularization strengths by validation, then measure the best on test."""

from __future__ import annotations

import math
from pathlib import Path

import click

from .options import DataOptions, data_options, decision_options, parse_seeds, run_options
from .progress import Display


@click.command()
@data_options(
    "A count or a fraction.", "Validation examples (they score the trials): a count or a fraction."
)
@click.option(
    "--base",
    default="all",
    show_default=True,
    help='The recipe the search starts from: a built-in name or a spec ("all,epochs=80").',
)
@click.option(
    "--space",
    default=None,
    help="Comma-separated fields to search (default: dropout, weight_decay, l1, augment, "
    "augment_magnitude, mixup, label_smoothing, width, epochs).",
)
@click.option("--trials", default=40, show_default=True, type=int, help="Trials to finish.")
@click.option(
    "--timeout",
    default=None,
    type=float,
    help="Seconds for the search; the test evaluation runs after it.",
)
@decision_options(
    "Seeds of the test evaluation (each after seed 0 draws its own training examples). "
    "auto: look by look (5, 10, 15, 20) until the tuned recipe is decided better, worse, or "
    "no effect beyond --margin against the base; a number: that many (a fixed design, "
    "judged by the same rule at the largest look it reaches).",
    "the base recipe",
)
@click.option(
    "--partitions",
    default=2,
    show_default=True,
    type=int,
    help="Train/validation partitions each trial is scored on (mean validation score).",
)
@click.option(
    "--confirm",
    default=3,
    show_default=True,
    type=int,
    help="After the search, score this many of the best trials on --partitions more "
    "partitions each and keep the best mean (1: keep the search's best).",
)
@click.option("--epochs", default=None, type=int, help="Override the base recipe's epochs.")
@run_options(
    "tune",
    "tune.db",
    "best.toml, trials.csv, summary.json and report.html",
    "Search processes, this one included (default: one per CPU core).",
)
@click.option(
    "--compare/--no-compare",
    default=True,
    show_default=True,
    help="Also evaluate the base recipe on the same seeds (paired comparison).",
)
def tune(
    given: DataOptions,
    base: str,
    space: str | None,
    trials: int,
    timeout: float | None,
    seeds: str,
    max_seeds: int | None,
    margin: float,
    partitions: int,
    confirm: int,
    epochs: int | None,
    jobs: int | None,
    storage: str | None,
    out_dir: Path,
    compare: bool,
    progress: bool,
) -> None:
    """Search regularization strengths (Optuna TPE, median pruning) by validation score.

    Each trial is scored on --partitions train/validation draws of the examples outside the
    test split; the best --confirm trials are then scored on as many partitions again, and the
    best mean wins. That recipe and the base are trained with each seed and measured on test
    examples that no trial ever saw; seeds are added look by look until the tuned recipe is
    decided better, worse, or no effect beyond --margin. Rerunning the same command resumes
    where it stopped.
    """
    from ..lab.tune import SPACE, TuneConfig, run_tune
    from ..lab.tune.outputs import comparison_text

    config = TuneConfig(
        data=given.data,
        target=given.target,
        text=given.text,
        train_size=given.size("train", "tune"),
        val_size=given.size("val", "tune"),
        test=given.test,
        model=given.model,
        device=given.device,
        base=base,
        trials=trials,
        seeds=parse_seeds(seeds, "tune"),
        max_seeds=max_seeds,
        margin=margin,
        partitions=partitions,
        confirm=confirm,
        epochs=epochs,
        space=SPACE if space is None else tuple(s.strip() for s in space.split(",") if s.strip()),
    )
    with Display(progress, "tune") as display:
        outcome = run_tune(
            config, out_dir, storage=storage, jobs=jobs, timeout=timeout, on_progress=display
        )
    scores = outcome.test
    acc = scores["metric"] == "test_acc"

    def f(v: float) -> str:
        if not math.isfinite(v):
            return "-"
        return f"{100 * v:.2f}%" if acc else f"{v:.4g}"

    states = [t["state"] for t in outcome.trials]
    click.echo(
        f"{len(states)} trials ({states.count('COMPLETE')} complete, "
        f"{states.count('PRUNED')} pruned, {states.count('FAIL')} failed)"
    )
    shown = outcome.best_value if acc else -outcome.best_value
    over = 2 * config.partitions if outcome.confirmation else config.partitions
    click.echo(
        f"best by validation: {f(shown)} (trial {outcome.best_trial}, mean over {over} partitions)"
    )
    click.echo(f"best recipe: {outcome.best.summary()}")
    t = scores["tuned"]
    click.echo(
        f"test {scores['metric']} over {scores['seeds']} seeds: {f(t['mean'])} "
        f"[{f(t['low'])}, {f(t['high'])}]"
    )
    if "base" in scores:
        b = scores["base"]
        click.echo(f"base recipe {config.base!r}: {f(b['mean'])} [{f(b['low'])}, {f(b['high'])}]")
    if "comparison" in scores:
        click.echo(f"tuned vs base: {comparison_text(scores['comparison'], acc)}")
    click.echo(f"{outcome.seconds:.0f} s; recipe: {outcome.paths['toml']}")
    click.echo(f"report: {outcome.paths['report']}")
