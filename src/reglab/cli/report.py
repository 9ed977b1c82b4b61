"""``reglab report DIR``: rebuild results.csv, summary.json and report.html from the storage."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--storage", default=None, help="SQLAlchemy URL (default: DIR/study.db).")
def report(out_dir: Path, storage: str | None) -> None:
    """Rebuild a study's report from its storage."""
    from ..errors import ConfigError
    from ..lab.report import write_outputs
    from ..lab.storage import StudyStore, sqlite_url
    from ..lab.study import StudyConfig

    if storage is None and not (out_dir / "study.db").is_file():
        raise ConfigError(
            f"No study found in {str(out_dir)!r} (no study.db). Pass the folder given to "
            "`reglab study --out`, or --storage URL."
        )
    store = StudyStore(storage or sqlite_url(out_dir))
    config = StudyConfig.from_dict(store.config)
    rows = store.completed()
    if not rows:
        raise ConfigError(f"The study in {str(out_dir)!r} has no finished cells yet.")
    done = {f"{r['recipe']}/{r['seed']}" for r in rows}
    failed = [c.key for c in config.cells() if c.key not in done]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = write_outputs(out_dir, config, rows, failed_cells=failed)
    click.echo(f"{len(rows)} runs; report: {paths['report']}")
