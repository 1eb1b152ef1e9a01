"""The ``hwprune`` command.

Each subcommand lives in ``hwprune/commands/<name>.py`` and imports its heavy dependencies
(torch, brevitas, optuna, ...) inside the function body, so ``hwprune --help`` stays fast.
User errors (:class:`hwprune.errors.HwpruneError`, bad options) are printed as one line on
stderr and exit with code 2.
"""

from __future__ import annotations

import sys
import warnings

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
        False,
        "--version",
        help="Print the version and exit.",
        callback=_version_callback,
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


#: the exit code click gives a Ctrl-C
_INTERRUPTED = 130
_INTERRUPT_MESSAGE = (
    "interrupted before the work was complete; finished work is kept, re-run the same "
    "command to resume"
)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    # brevitas announces an optional CUDA kernel package on import; nothing for a user to act on
    warnings.filterwarnings("ignore", message="fast_hadamard_transform")
    try:
        # outside standalone mode click *returns* the exit code of ``typer.Exit`` and of a
        # Ctrl-C (which it turns into Exit(130)); dropping it would exit 0 after an interrupt
        code = app(args=argv, standalone_mode=False)
        if code == _INTERRUPTED:
            raise KeyboardInterrupt
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            sys.exit(code)
    except HwpruneError as exc:
        fail(str(exc))
    except typer.Exit as exc:
        if exc.exit_code == _INTERRUPTED:
            fail(_INTERRUPT_MESSAGE)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        fail(_INTERRUPT_MESSAGE)
    except RecursionError:
        fail("an input is nested too deeply (a cyclic or absurdly deep file?); check the input")
    except MemoryError:
        fail("out of memory (absurd widths or sizes in the input?); use smaller values")
    except typer.TyperException as exc:  # click's usage errors (typer vendors click)
        ctx = getattr(exc, "ctx", None)
        hint = f"; see `{ctx.command_path} --help`" if ctx is not None else ""
        fail(f"{exc.format_message().rstrip('.')}{hint}")
    except Exception as exc:
        message = disk_message(exc) or path_message(exc)
        if message is None:
            raise
        fail(message)


def path_message(exc: BaseException) -> str | None:
    """One line for an :class:`OSError` about a named path (too long, not a folder, ...).

    Example:
        >>> import errno
        >>> path_message(OSError(errno.ENAMETOOLONG, "File name too long", "a" * 300))[:40]
        "cannot use 'aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    """
    seen: set[int] = set()
    err: BaseException | None = exc
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.filename:
            name = str(err.filename)
            shown = name if len(name) <= 120 else name[:60] + "..." + name[-40:]
            return (
                f"cannot use '{shown}': {err.strerror or type(err).__name__}; check the path "
                "and its permissions"
            )
        err = err.__cause__ or err.__context__
    return None


def disk_message(exc: BaseException) -> str | None:
    """The one-line error for a full or read-only disk somewhere in ``exc``'s chain, else None.

    Example:
        >>> import errno
        >>> disk_message(OSError(errno.ENOSPC, "No space left on device", "r/study.db"))[:50]
        'cannot write r/study.db: No space left on device; '
    """
    from hwprune.workers import disk_error

    err = disk_error(exc)
    if err is None:
        return None
    if isinstance(err, OSError):
        where = f" {err.filename}" if err.filename else ""
        why = err.strerror or str(err)
    else:
        where, why = " the study database", str(err).strip().splitlines()[0][:200]
    return (
        f"cannot write{where}: {why}; free space or make the folder writable (or write "
        "elsewhere), then re-run the same command to resume (finished work is kept)"
    )


if __name__ == "__main__":  # pragma: no cover
    main()
