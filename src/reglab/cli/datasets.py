"""``reglab datasets``: the built-in datasets."""

from __future__ import annotations

import click


@click.command()
def datasets() -> None:
    """List the built-in datasets (scikit-learn's bundled files; no download)."""
    from ..data import list_datasets

    rows = list_datasets()
    click.echo(
        f"{'name':15s} {'task':15s} {'samples':>7s}  {'input':10s} {'classes':>7s}  description"
    )
    for d in rows:
        classes = "-" if d.num_classes is None else str(d.num_classes)
        shape = "x".join(str(s) for s in d.input_shape)
        click.echo(
            f"{d.name:15s} {d.task:15s} {d.n_samples:7d}  {shape:10s} {classes:>7s}  {d.description}"
        )
    click.echo(
        "\nAlso: a CSV/Parquet file (--target COLUMN), an .npz (X, y), an image folder, "
        "MNIST IDX files or CIFAR-10 batches in a folder."
    )
