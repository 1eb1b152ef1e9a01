"""``hwprune report RUN_DIR`` and ``hwprune compare RUN_DIR ...``: HTML reports of search runs."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Attach ``hwprune report`` and ``hwprune compare`` to ``app``."""

    @app.command("report")
    def report(
        run_dir: Path = typer.Argument(..., help="Run folder written by `hwprune search`."),
        out: Path | None = typer.Option(
            None, "--out", "-o", help="Write the report here instead of into RUN_DIR."
        ),
        study: str | None = typer.Option(
            None, "--study", help="Study name, when the storage holds several."
        ),
        storage: str | None = typer.Option(
            None,
            "--storage",
            help="Storage of the study when it is not RUN_DIR/study.db: the --storage the "
            "search used (postgresql://user:password@host/db, journal:///path/study.log, "
            "a .log/.journal path, sqlite:///path.db). The password is never shown.",
        ),
        open_browser: bool = typer.Option(
            False, "--open", help="Open the report in the default web browser."
        ),
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
    def compare(
        run_dirs: list[Path] = typer.Argument(
            ..., help="Run folders to compare (for example one recipe on several targets)."
        ),
        out: Path = typer.Option(
            Path("compare"), "--out", "-o", help="Folder for compare.html, the plot and JSON."
        ),
    ) -> None:
        """Put the Pareto fronts of several runs on one plot and one table."""
        from hwprune.report import compare_runs

        page = compare_runs(run_dirs, out)
        typer.echo(f"comparison: {page}")
