"""``hwprune report RUN_DIR`` and ``hwprune compare RUN_DIR ...``: HTML reports of search runs."""

from __future__ import annotations

from pathlib import Path

import typer

# --- the options of `hwprune report` and `hwprune compare` (module level, as in the other
# commands, so that each command reads as a list)
_RUN_DIR = typer.Argument(..., help="Run folder written by `hwprune search`.")
_OUT = typer.Option(None, "--out", "-o", help="Write the report here instead of into RUN_DIR.")
_STUDY = typer.Option(None, "--study", help="Study name, when the storage holds several.")
_STORAGE = typer.Option(
    None,
    "--storage",
    help="Storage of the study when it is not RUN_DIR/study.db: the --storage the "
    "search used (postgresql://user:password@host/db, journal:///path/study.log, "
    "a .log/.journal path, sqlite:///path.db). The password is never shown.",
)
_OPEN = typer.Option(False, "--open", help="Open the report in the default web browser.")
_RUN_DIRS = typer.Argument(
    ..., help="Run folders to compare (for example one recipe on several targets)."
)
_COMPARE_OUT = typer.Option(
    Path("compare"), "--out", "-o", help="Folder for compare.html, the plot and JSON."
)


def register(app: typer.Typer) -> None:
    """Attach ``hwprune report`` and ``hwprune compare`` to ``app``."""

    @app.command("report")
    def report(
        run_dir: Path = _RUN_DIR,
        out: Path | None = _OUT,
        study: str | None = _STUDY,
        storage: str | None = _STORAGE,
        open_browser: bool = _OPEN,
    ) -> None:
        """Write report.html (self-contained), the plots (PNG + SVG) and summary.json.

        The study database also opens in optuna-dashboard:
        `optuna-dashboard sqlite:///RUN_DIR/study.db`.
        """
        from hwprune.report import write_report

        page = write_report(run_dir, out, study_name=study, storage=storage)
        typer.echo(f"report: {page}")
        typer.echo(f"summary: {page.parent / 'summary.json'}")
        if open_browser:
            import webbrowser

            webbrowser.open(page.resolve().as_uri())

    @app.command("compare")
    def compare(run_dirs: list[Path] = _RUN_DIRS, out: Path = _COMPARE_OUT) -> None:
        """Put the Pareto fronts of several runs on one plot and one table."""
        from hwprune.report import compare_runs

        page = compare_runs(run_dirs, out)
        typer.echo(f"comparison: {page}")
