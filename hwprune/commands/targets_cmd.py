"""``hwprune targets``: list the shipped hardware targets (FPGA boards and GPUs)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from hwprune.targets import Target


def _row(target: Target) -> dict[str, Any]:
    """One listing row; GPU targets have no LUT/BRAM/DSP."""
    from hwprune.targets import FpgaTarget

    if isinstance(target, FpgaTarget):
        return {
            "name": target.name,
            "kind": "fpga",
            "part": target.part,
            "lut": target.lut,
            "bram18": target.bram18,
            "dsp": target.dsp,
            "clock_mhz": target.clock_mhz,
            "description": target.description,
        }
    return {
        "name": target.name,
        "kind": "gpu",
        "part": target.description,
        "lut": None,
        "bram18": None,
        "dsp": None,
        "clock_mhz": None,
        "description": target.description,
    }


def register(app: typer.Typer) -> None:
    """Attach ``hwprune targets`` to ``app``."""

    @app.command("targets")
    def targets(
        as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
        target_file: list[str] = typer.Option(
            [], "--target-file", help="Also list (and validate) this target TOML file."
        ),
    ) -> None:
        """List the hardware targets: name, kind, part, LUT / BRAM18 / DSP and clock."""
        from rich.console import Console
        from rich.table import Table

        from hwprune.targets import list_targets, load_target

        rows = [_row(load_target(name)) for name in list_targets()]
        rows += [_row(load_target(path)) for path in target_file]
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        table = Table(title="hwprune targets")
        for col, just in (
            ("name", "left"),
            ("kind", "left"),
            ("part", "left"),
            ("LUT", "right"),
            ("BRAM18", "right"),
            ("DSP", "right"),
            ("clock MHz", "right"),
        ):
            table.add_column(col, justify=just)  # type: ignore[arg-type]

        def fmt(v: Any) -> str:
            return "-" if v is None else (f"{v:,}" if isinstance(v, int) else f"{v:g}")

        for r in rows:
            table.add_row(
                r["name"],
                r["kind"],
                r["part"],
                fmt(r["lut"]),
                fmt(r["bram18"]),
                fmt(r["dsp"]),
                fmt(r["clock_mhz"]),
            )
        Console().print(table)
