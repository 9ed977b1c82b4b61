"""``reglab study``: train each recipe over several seeds and report what closes the gap."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..errors import ConfigError
from .options import DataOptions, data_options, decision_options, parse_seeds, run_options
from .progress import Display


@click.command()
@data_options(
    "Training examples: a count or a fraction.",
    "Validation examples (early stopping, recipe choice): a count or a fraction.",
)
@click.option(
    "--train-sizes",
    default=None,
    metavar="N,N,...",
    help="A training-size sweep: run every recipe and seed at each of these training sizes "
    "(ascending counts), with the same validation and test rows at every size.",
)
@click.option(
    "--recipes",
    "recipe_names",
    default=None,
    help="Comma-separated built-in recipes (default: all seven; baseline only when "
    "--recipe is given).",
)
@click.option(
    "--recipe",
    "recipe_specs",
    multiple=True,
    help='A recipe spec ("dropout=0.3,weight_decay=5e-4,augment=affine") or a TOML '
    "file; repeatable.",
)
@click.option(
    "--train-fn",
    default=None,
    metavar="MODULE:FUNCTION",
    help="Run each cell with your own training function run(recipe, splits, seed, device) "
    "returning the measured row, instead of reglab's fit (the current folder is importable).",
)
@decision_options(
    "auto: seeds look by look (5, 10, 15, 20) until each recipe's comparison with the "
    "baseline is decided (better, worse, or no effect beyond --margin); a number: that many "
    "seeds per recipe (a fixed design).",
    "the baseline",
)
@click.option("--epochs", default=None, type=int, help="Override each recipe's epoch budget.")
@run_options(
    "study",
    "study.db",
    "results.csv, summary.json and report.html",
    "Local worker processes, this one included (default: one per CPU core).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the study stored in --out/--storage with its stored settings.",
)
@click.option(
    "--join",
    is_flag=True,
    help="Work on an existing study in --storage (another machine started it).",
)
@click.option("--heartbeat-interval", default=5, type=int, hidden=True)
@click.option("--grace-period", default=30, type=int, hidden=True)
def study(
    given: DataOptions,
    train_sizes: str | None,
    recipe_names: str | None,
    recipe_specs: tuple[str, ...],
    train_fn: str | None,
    seeds: str,
    max_seeds: int | None,
    margin: float,
    epochs: int | None,
    jobs: int | None,
    storage: str | None,
    out_dir: Path,
    resume: bool,
    join: bool,
    progress: bool,
    heartbeat_interval: int,
    grace_period: int,
) -> int:
    """Train every recipe over several seeds; write results.csv, summary.json, report.html.

    Rerunning the same command resumes: finished cells are kept and only the rest run.
    """
    from ..lab.queue.storage import sqlite_url
    from ..lab.study import StudyConfig, resolve_recipes, run_study, stored_config
    from ..lab.study.report import summary_table

    config: StudyConfig | None
    if resume or join:
        config = stored_config(out_dir, storage)
    else:
        config = StudyConfig(
            data=given.data,
            target=given.target,
            text=given.text,
            train_size=given.size("train"),
            train_sizes=_parse_sizes(train_sizes, given.train_size),
            val_size=given.size("val"),
            test=given.test,
            model=given.model,
            recipes=tuple(resolve_recipes(recipe_names, recipe_specs)),
            seeds=parse_seeds(seeds),
            max_seeds=max_seeds,
            margin=margin,
            epochs=epochs,
            train_fn=train_fn,
        )
    if config.train_fn is not None and os.getcwd() not in sys.path:
        sys.path.insert(
            0, os.getcwd()
        )  # `--train-fn mymodule:run` next to the command, as python -m
    try:
        with Display(progress, "study") as display:
            outcome = run_study(
                config,
                out_dir,
                storage=storage,
                jobs=jobs,
                join=join,
                on_progress=display,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                device=given.device,
            )
    except KeyboardInterrupt:
        _say_interrupted(storage or sqlite_url(out_dir))
        raise
    for line in summary_table(outcome.rows, config=outcome.config):
        click.echo(line)
    click.echo(
        f"\n{outcome.done}/{outcome.cells} cells in {outcome.seconds:.1f} s "
        f"(storage: {outcome.url})"
    )
    if outcome.rows:
        click.echo(f"report: {outcome.out_dir / 'report.html'}")
    failed = {key for key, _ in outcome.failures}
    unfinished = [key for key in outcome.failed_cells if key not in failed]
    if outcome.failures:
        key, line = outcome.failures[0]
        more = f" ({len(outcome.failures) - 1} more in the report)" if len(failed) > 1 else ""
        click.echo(f"{len(failed)} cells failed; the first, {key}: {line}{more}", err=True)
    if outcome.stopped:
        click.echo(
            f"Stopped early: {outcome.stopped}. Rerunning cannot help until the cause is fixed.",
            err=True,
        )
    if unfinished:
        when = "once the cause is fixed" if outcome.stopped else "to resume"
        click.echo(
            f"Not finished: {', '.join(unfinished)}; rerun the same command {when}.", err=True
        )
    return 1 if outcome.failures else 0


def _parse_sizes(text: str | None, train_size: str | None) -> tuple[int, ...] | None:
    """``"500,2000"`` as counts; exclusive with ``--train-size``."""
    if text is None:
        return None
    if train_size is not None:
        raise ConfigError(
            "The '--train-size' and '--train-sizes' options of reglab study are exclusive: give "
            f"one. Got --train-size {train_size} and --train-sizes {text} instead."
        )
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() for p in parts):
        raise ConfigError(
            "The '--train-sizes' option of reglab study must be comma-separated counts "
            f"(e.g. 500,2000,5000). Got {text!r} instead."
        )
    return tuple(int(p) for p in parts)


def _say_interrupted(url: str) -> None:
    from ..lab.queue.storage import CellStore

    try:
        store = CellStore(url)
        done, total = store.counts()["done"], len(store.known_cells())
        click.echo(
            f"Interrupted: {done}/{total} cells are stored; rerun the same command to resume.",
            err=True,
        )
    except Exception:  # reporting the interrupt must never hide it
        click.echo("Interrupted; rerun the same command to resume.", err=True)
