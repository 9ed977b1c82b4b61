"""``reglab datasets``: the built-in datasets, where each comes from, and how to install it."""

from __future__ import annotations

import click


@click.command()
def datasets() -> None:
    """List the built-in datasets: source, size, shape, official split, install command."""
    from ..data import list_datasets

    # scikit-learn's bundled sets first (always there), then the ones that need an install.
    rows = sorted(list_datasets(), key=lambda d: (d.install != "pip install 'reglab[lab]'", d.name))
    click.echo(
        f"{'name':15s} {'task':15s} {'samples':>7s}  {'input':10s} {'classes':>7s}  "
        f"{'official':11s}  description (source)"
    )
    for d in rows:
        classes = "-" if d.num_classes is None else str(d.num_classes)
        shape = "text" if d.kind == "text" else "x".join(str(s) for s in d.input_shape)
        click.echo(
            f"{d.name:15s} {d.task:15s} {d.n_samples:7d}  {shape:10s} {classes:>7s}  "
            f"{d.official_split:11s}  {d.description} ({d.source})"
        )
        if not d.installed:
            click.echo(f"{'':15s} not installed; install it with: {d.install}")
    click.echo(
        "\nAlso: a CSV/Parquet/JSON Lines file (--target COLUMN; string columns and missing "
        "values are encoded on the training split; --text COLUMN, or one detected column of long "
        "texts, makes it text data), an .npz (X, y), a folder of one sub-folder of images or of "
        ".txt files per class (aclImdb's train/ and test/ too), MNIST IDX files or CIFAR-10 "
        "batches in a folder (test/, IDX t10k-* and CIFAR test_batch are the official test "
        "split)."
    )
