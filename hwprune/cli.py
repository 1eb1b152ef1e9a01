"""The ``hwprune`` command.

Each subcommand lives in ``hwprune/commands/<name>.py`` and imports its heavy dependencies
(torch, brevitas, optuna, ...) inside the function body, so ``hwprune --help`` stays fast.
User errors (:class:`hwprune.errors.HwpruneError`, bad options) are printed as one line on
stderr and exit with code 2.
"""

from __future__ import annotations

import sys

import click
import typer

from hwprune import __version__
from hwprune.errors import HwpruneError

app = typer.Typer(
    name="hwprune",
    help="Hardware-aware pruning and quantization search for FPGA dataflow accelerators and GPUs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"hwprune {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_version_callback,
        is_eager=True,
    ),
) -> None:
    """Hardware-aware pruning and quantization search."""


def _register() -> None:
    """Attach the subcommands (their modules import nothing heavy at top level)."""
    from hwprune.commands import register_all

    register_all(app)


_register()


def fail(message: str) -> None:
    """Print ``message`` as the one-line error and exit with code 2."""
    sys.stderr.write(f"hwprune: error: {message}\n")
    sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    try:
        app(args=argv, standalone_mode=False)
    except HwpruneError as exc:
        fail(str(exc))
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        fail("interrupted")
    except click.UsageError as exc:
        hint = f"; see `{exc.ctx.command_path} --help`" if exc.ctx is not None else ""
        fail(f"{exc.format_message()}{hint}")
    except click.ClickException as exc:
        fail(exc.format_message())
    except KeyboardInterrupt:
        fail("interrupted; finished work is kept in the run folder")


if __name__ == "__main__":  # pragma: no cover
    main()
