"""``reglab claims``: test every claim of the source notes and report the verdicts."""

from __future__ import annotations

from pathlib import Path

import click

from .options import parse_seeds, run_options
from .progress import Display


@click.command()
@click.option(
    "--only", default=None, help="Comma-separated claim ids (default: every claim; see --list)."
)
@click.option("--list", "list_only", is_flag=True, help="List the claims and exit.")
@click.option("--quick", is_flag=True, help="Fewer epochs and looks: the whole table in minutes.")
@click.option(
    "--seeds",
    default="auto",
    show_default=True,
    help="auto: seeds look by look (5, 10, 15, 20, 30, 40; 3, 6 with --quick) until each claim is "
    "decided; arithmetic claims 5 (3 with --quick). A number: that many seeds for every arm.",
)
@run_options(
    "claims",
    "claims.db",
    "results.csv, summary.json and report.html",
    "Local worker processes, this one included (default: one per CPU core).",
)
def claims(
    only: str | None,
    list_only: bool,
    quick: bool,
    seeds: str,
    jobs: int | None,
    storage: str | None,
    out_dir: Path,
    progress: bool,
) -> None:
    """Run one small experiment per claim of the notes; say which hold, with numbers.

    Rerunning the same command resumes: finished cells are kept and only the rest run.
    """
    from ..lab.claims import CLAIMS
    from ..lab.claims.runner import run_claims

    if list_only:
        for claim in CLAIMS.values():
            click.echo(f"{claim.id:40s} {claim.statement}")
        return
    with Display(progress, "claims") as display:
        outcome = run_claims(
            out_dir,
            only=only,
            seeds=parse_seeds(seeds, "claims"),
            quick=quick,
            jobs=jobs,
            storage=storage,
            on_progress=display,
        )
    width = max(len(f["id"]) for f in outcome.claims)
    for f in outcome.claims:
        click.echo(f"{f['id']:{width}s}  {f['verdict']:12s}  {f['seeds']:2d} seeds  {f['text']}")
    counts = {
        v: sum(f["verdict"] == v for f in outcome.claims)
        for v in ("reproduced", "refuted", "inconclusive")
    }
    click.echo(
        f"\n{len(outcome.claims)} claims in {outcome.seconds:.0f} s: "
        + ", ".join(f"{n} {v}" for v, n in counts.items())
    )
    if outcome.missing:
        click.echo(
            f"{len(outcome.missing)} cells did not finish; rerun the same command to resume.",
            err=True,
        )
    click.echo(f"report: {outcome.out_dir / 'report.html'}")
