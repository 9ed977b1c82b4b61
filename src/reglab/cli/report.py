"""``reglab report DIR``: rebuild results.csv, summary.json and report.html from the storage."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--storage", default=None, help="SQLAlchemy URL (default: DIR/study.db).")
def report(out_dir: Path, storage: str | None) -> None:
    """Rebuild a study's report from its storage."""
    from ..lab.study import rebuild_report

    runs, paths = rebuild_report(out_dir, storage)
    click.echo(f"{runs} runs; report: {paths['report']}")
