"""Subcommands of the ``hwprune`` CLI, one module each.

Rule: a command module imports only the standard library, typer and rich at top level; the
library code it calls is imported inside the command function.
"""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    """Register every subcommand on ``app``."""
    from hwprune.commands import targets_cmd

    targets_cmd.register(app)
    from hwprune.commands import estimate_cmd

    estimate_cmd.register(app)
    from hwprune.commands import data_cmd

    data_cmd.register(app)
    from hwprune.commands import report_cmd

    report_cmd.register(app)
    from hwprune.commands import search_cmd

    search_cmd.register(app)
    from hwprune.commands import calibrate_cmd

    calibrate_cmd.register(app)
    from hwprune.commands import export_cmd

    export_cmd.register(app)
