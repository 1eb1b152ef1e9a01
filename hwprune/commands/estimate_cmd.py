"""``hwprune estimate``: price a design (JSON description or QONNX model) on an FPGA target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.1f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _bits(b: dict[str, Any]) -> str:
    parts = []
    for k, tag in (("in", "i"), ("w", "w"), ("acc", "a"), ("out", "o")):
        if k in b:
            parts.append(f"{tag}{'-' if b[k] is None else b[k]}")
    return " ".join(parts)


def _print_table(e: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if console.width < 150:  # pipes and narrow terminals: keep one row per node
        console = Console(width=150)
    table = Table(title=f"{e.name} on {e.target} @ {e.clock_mhz:g} MHz")
    for col in (
        "op",
        "name",
        "shape",
        "bits",
        "PE",
        "SIMD",
        "mult",
        "cycles",
        "LUT",
        "FF",
        "BRAM18",
        "DSP",
    ):
        table.add_column(col, justify="left" if col in ("op", "name", "shape", "bits") else "right")
    for x in e.layers:
        table.add_row(
            x.op,
            x.name,
            x.shape,
            _bits(x.bits),
            _fmt(x.pe),
            _fmt(x.simd),
            x.res_type or "",  # what the products are built from: lut / dsp
            _fmt(x.cycles),
            _fmt(x.lut),
            _fmt(x.ff),
            _fmt(x.bram18),
            _fmt(x.dsp),
        )
    table.add_section()
    for key, o in e.overheads.items():
        table.add_row(
            "overhead",
            f"{key} x{int(o['count'])}",
            "",
            "",
            "",
            "",
            "",
            "",
            _fmt(o["lut"]),
            _fmt(o["ff"]),
            _fmt(o["bram18"]),
            _fmt(o["dsp"]),
        )
    table.add_section()
    table.add_row(
        "total",
        "",
        "",
        "",
        "",
        "",
        "",
        _fmt(e.node_cycles),
        _fmt(e.lut),
        _fmt(e.ff),
        _fmt(e.bram18),
        _fmt(e.dsp),
    )
    table.add_row(
        "use",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        f"{e.util['lut']:.0%}",
        f"{e.util['ff']:.0%}",
        f"{e.util['bram18']:.0%}",
        f"{e.util['dsp']:.0%}",
    )
    console.print(table)
    fps_note = ""
    if e.meets_fps is False:
        fps_note = " (the requested frames/s cannot be reached; fastest design shown)"
    console.print(
        f"frames/s {e.fps:,.1f}{fps_note}   latency {e.latency_us:,.2f} us   "
        f"fits {'yes' if e.fits else 'NO'} (cap {e.util_cap:.0%})   "
        f"binding {e.binding or '-'}"
    )


def register(app: typer.Typer) -> None:
    """Attach ``hwprune estimate`` to ``app``."""

    @app.command("estimate")
    def estimate_command(
        design: Path = typer.Argument(
            ..., help="Design description (.json) or QONNX model (.onnx)."
        ),
        target: str = typer.Option(
            "pynq-z2", "--target", "-t", help="Target name (see `hwprune targets`)."
        ),
        target_file: Path | None = typer.Option(
            None, "--target-file", help="A target TOML file (overrides --target)."
        ),
        clock_mhz: float | None = typer.Option(
            None, "--clock-mhz", help="Fabric clock in MHz (default: the target's)."
        ),
        fps: float | None = typer.Option(
            None, "--fps", help="Fold for the smallest design that reaches N frames/s."
        ),
        util_cap: float | None = typer.Option(
            None, "--util-cap", help="Usable fraction of each resource (default: the target's)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the estimate as JSON."),
    ) -> None:
        """Estimate cycles, frames/s, latency and LUT/FF/BRAM18/DSP of a design on an FPGA."""
        from hwprune.errors import ConfigError, InfeasibleError
        from hwprune.estimate import estimate
        from hwprune.targets import load_target

        if not design.exists():
            raise ConfigError(f"design file {design} does not exist; check the path")
        if design.suffix.lower() not in (".json", ".onnx"):
            raise ConfigError(f"{design}: expected a .json design or an .onnx QONNX model")
        t = load_target(target_file if target_file is not None else target)
        e = estimate(design, t, fps=fps, clock_mhz=clock_mhz, util_cap=util_cap)
        if as_json:
            typer.echo(e.to_json())
        else:
            _print_table(e)
        if not e.fits:
            need = getattr(e, e.binding) if e.binding in ("lut", "ff", "bram18", "dsp") else None
            cap = t.capacity().get(e.binding or "", 0) * e.util_cap
            detail = f" needs {need:,.0f} of {cap:,.0f} usable" if need is not None else ""
            raise InfeasibleError(
                f"{e.name} does not fit {t.name} even fully folded: {e.binding}{detail} "
                f"({e.util_cap:.0%} cap); shrink the design or pick a bigger target"
            )
