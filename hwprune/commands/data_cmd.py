"""``hwprune data``: list, inspect, download and verify datasets.

Examples:
    hwprune data list
    hwprune data info fashion-mnist
    hwprune data download mnist --dir data/mnist     # needs internet
    hwprune data verify fashion-mnist --dir /usr/share/datasets/fashion-mnist
"""

from __future__ import annotations

from pathlib import Path

import typer

data_app = typer.Typer(
    name="data",
    help="List, inspect, download and verify datasets.",
    no_args_is_help=True,
    add_completion=False,
)


@data_app.command("list")
def list_cmd() -> None:
    """List the dataset names that --dataset accepts."""
    from hwprune.data import available_datasets
    from hwprune.data.remote import SOURCES

    for name in available_datasets():
        note = "  (downloadable)" if name in SOURCES else ""
        typer.echo(f"{name}{note}")


@data_app.command("info")
def info_cmd(
    name: str = typer.Argument(..., help="Dataset name (see `hwprune data list`)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder with its files."),
    seed: int = typer.Option(0, help="Split seed."),
) -> None:
    """Load a dataset and print its splits, shape and classes."""
    from hwprune.data import load_dataset

    ds = load_dataset(name, data_dir=data_dir, seed=seed)
    c, h, w = ds.input_shape
    typer.echo(
        f"{ds.name}: train {len(ds.train)}, val {len(ds.val)}, test {len(ds.test)}; "
        f"input {c}x{h}x{w}, {ds.num_classes} classes, pixel levels {ds.input_scale:g}"
    )


@data_app.command("download")
def download_cmd(
    name: str = typer.Argument(..., help="mnist, fashion-mnist or cifar10."),
    directory: Path = typer.Option(..., "--dir", help="Folder to put the files in."),
    force: bool = typer.Option(False, "--force", help="Download even if verified files exist."),
) -> None:
    """Download a dataset's files (needs internet) and check their SHA-256."""
    import logging

    from hwprune.data.remote import download

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    paths = download(name, directory, force=force)
    typer.echo(f"{name}: {len(paths)} verified file(s) in {directory}; use --data-dir {directory}")


@data_app.command("verify")
def verify_cmd(
    name: str = typer.Argument(..., help="mnist, fashion-mnist or cifar10."),
    directory: Path = typer.Option(..., "--dir", help="Folder holding the files."),
) -> None:
    """Check a dataset's files against the known checksums (exit 1 if any is wrong)."""
    from hwprune.data.remote import verify

    status = verify(name, directory)
    for filename, state in status.items():
        typer.echo(f"{filename}: {state}")
    if not all(s.startswith("ok") for s in status.values()):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach ``hwprune data ...`` to the main app."""
    app.add_typer(data_app, name="data")
