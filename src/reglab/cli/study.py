"""``reglab study``: train each recipe over several seeds and report what closes the gap."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError


def _size(text: str, name: str, command: str = "study") -> int | float:
    """``200`` is a count, ``0.2`` a fraction."""
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(
            f"The '{name}' option of reglab {command} must be a count (e.g. 200) or a fraction "
            f"in (0, 1) (e.g. 0.2). Got {text!r} instead."
        ) from None
    return int(value) if value.is_integer() and value >= 1 else value


def _recipes(names: str | None, specs: tuple[str, ...]) -> list[Any]:
    """Built-in names from --recipes, then one recipe per --recipe (a spec or a TOML file)."""
    from ..lab.recipe import Recipe

    if names is None:
        from ..lab.study import DEFAULT_RECIPES

        chosen: list[Any] = ["baseline"] if specs else list(DEFAULT_RECIPES)
    else:
        chosen = [n.strip() for n in names.split(",") if n.strip()]
    for spec in specs:
        if spec.endswith(".toml"):
            path = Path(spec)
            if not path.is_file():
                raise ConfigError(
                    f"The '--recipe' option of reglab study names a TOML file that does not "
                    f"exist. Got {spec!r} instead."
                )
            recipe = Recipe.from_toml(path)
        else:
            recipe = Recipe.from_spec(spec)
        if recipe.name in ("custom", "baseline") and "name=" not in spec:
            recipe = recipe.replace(name=spec) if hasattr(recipe, "replace") else recipe
        chosen.append((recipe.name, recipe))
    return chosen


def data_options(train_help: str, val_help: str) -> Callable[[Any], Any]:
    """The options ``reglab study`` and ``reglab tune`` share: data, target, split sizes, model.

    The split-size help differs per command (what the validation examples are used for).
    """
    options = [
        click.option(
            "--data",
            default="digits",
            show_default=True,
            help="Built-in dataset name (see `reglab datasets`) or a path to a file/folder.",
        ),
        click.option("--target", default=None, help="Label column of a CSV/Parquet file."),
        click.option("--train-size", default="200", show_default=True, help=train_help),
        click.option("--val-size", default="300", show_default=True, help=val_help),
        click.option(
            "--model",
            default="auto",
            show_default=True,
            help="mlp, cnn, auto (cnn for images, mlp otherwise) or package.module:factory.",
        ),
    ]

    def apply(fn: Any) -> Any:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return apply


@click.command()
@data_options(
    "Training examples: a count or a fraction.",
    "Validation examples (early stopping, recipe choice): a count or a fraction.",
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
@click.option("--seeds", default=3, show_default=True, type=int, help="Seeds per recipe.")
@click.option("--epochs", default=None, type=int, help="Override each recipe's epoch budget.")
@click.option(
    "--jobs",
    default=None,
    type=int,
    help="Local worker processes, this one included (default: one per CPU core).",
)
@click.option(
    "--storage",
    default=None,
    help="SQLAlchemy URL of the study database (default: OUT/study.db). Use a "
    "PostgreSQL URL to share a study between machines.",
)
@click.option(
    "--out",
    "out_dir",
    default="reglab-study",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for study.db, results.csv, summary.json and report.html.",
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
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option("--heartbeat-interval", default=5, type=int, hidden=True)
@click.option("--grace-period", default=30, type=int, hidden=True)
def study(
    data: str,
    target: str | None,
    train_size: str,
    val_size: str,
    model: str,
    recipe_names: str | None,
    recipe_specs: tuple[str, ...],
    seeds: int,
    epochs: int | None,
    jobs: int | None,
    storage: str | None,
    out_dir: Path,
    resume: bool,
    join: bool,
    progress: bool,
    heartbeat_interval: int,
    grace_period: int,
) -> None:
    """Train every recipe over several seeds; write results.csv, summary.json, report.html.

    Rerunning the same command resumes: finished cells are kept and only the rest run.
    """
    from ..lab.storage import StudyStore, sqlite_url
    from ..lab.study import StudyConfig, run_study

    config: StudyConfig | None
    if resume or join:
        url = storage or sqlite_url(out_dir)
        if storage is None and not (out_dir / "study.db").is_file():
            raise ConfigError(
                f"Nothing to resume in {str(out_dir)!r}: it holds no study.db. Start the study "
                "without --resume, or pass --out/--storage of an existing one."
            )
        config = StudyConfig.from_dict(StudyStore(url).config)
    else:
        config = StudyConfig(
            data=data,
            target=target,
            train_size=_size(train_size, "--train-size"),
            val_size=_size(val_size, "--val-size"),
            model=model,
            recipes=tuple(_recipes(recipe_names, recipe_specs)),
            seeds=seeds,
            epochs=epochs,
        )
    try:
        outcome = run_study(
            config,
            out_dir,
            storage=storage,
            jobs=jobs,
            join=join,
            progress=progress,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
        )
    except KeyboardInterrupt:
        _say_interrupted(storage or sqlite_url(out_dir), len(config.cells()))
        raise
    _print_table(outcome.rows)
    click.echo(
        f"\n{outcome.done}/{outcome.cells} cells in {outcome.seconds:.1f} s "
        f"(storage: {outcome.url})"
    )
    if outcome.failed_cells:
        click.echo(
            f"Not finished: {', '.join(outcome.failed_cells)}; rerun the same command to resume.",
            err=True,
        )
    if outcome.rows:
        click.echo(f"report: {outcome.out_dir / 'report.html'}")


def _say_interrupted(url: str, total: int) -> None:
    from ..lab.storage import StudyStore

    try:
        done = StudyStore(url).counts()["done"]
        click.echo(
            f"Interrupted: {done}/{total} cells are stored; rerun the same command to resume.",
            err=True,
        )
    except Exception:  # reporting the interrupt must never hide it
        click.echo("Interrupted; rerun the same command to resume.", err=True)


def _print_table(rows: list[dict[str, Any]]) -> None:
    from ..lab.report import summarize

    if not rows:
        return
    summary = summarize(rows)
    classification = summary[0]["task"] == "classification"
    key = "test_acc" if classification else "test_loss"

    def f(v: Any, scale: float = 100.0) -> str:
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            return "-"
        return f"{scale * v:.1f}" if classification else f"{v:.4g}"

    head = f"{'recipe':24s} {key + ' (95% CI)':>24s} {'gap':>6s} {'epochs':>7s} {'s/run':>7s}"
    click.echo(head)
    click.echo("-" * len(head))
    for s in summary:
        ci = f"{f(s[key])} [{f(s[key + '_low'])}, {f(s[key + '_high'])}]"
        epochs = f"{s['epochs_run']:.0f}" if math.isfinite(s["epochs_run"]) else "-"
        secs = f"{s['seconds']:.1f}" if math.isfinite(s["seconds"]) else "-"
        click.echo(f"{s['recipe'][:24]:24s} {ci:>24s} {f(s['gap']):>6s} {epochs:>7s} {secs:>7s}")
