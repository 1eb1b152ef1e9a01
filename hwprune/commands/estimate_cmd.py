"""``hwprune estimate``: price a design (JSON description or QONNX model) on an FPGA target."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from hwprune.targets import GpuTarget


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
    res = ("lut", "ff", "bram18", "dsp")
    table.add_section()
    for key, o in e.overheads.items():
        _summary_row(table, "overhead", f"{key} x{int(o['count'])}", "", [_fmt(o[k]) for k in res])
    table.add_section()
    _summary_row(table, "total", "", _fmt(e.node_cycles), [_fmt(getattr(e, k)) for k in res])
    _summary_row(table, "use", "", "", [f"{e.util[k]:.0%}" for k in res])
    console.print(table)
    if getattr(e, "resource_model", "vivado") != "vivado":  # not Vivado figures: say whose
        console.print(f"resources: {e.resource_model} model; {e.units}")
    xc7 = e.yosys_xc7() if hasattr(e, "yosys_xc7") else None
    if xc7:  # xc7 targets: the Yosys-fitted model, a line apart from the Vivado figures
        console.print(_yosys_xc7_line(xc7), highlight=False)
    if getattr(e, "fmax_mhz", None) is not None:  # ECP5: the Fmax model (nextpnr-ecp5)
        console.print(
            f"predicted Fmax {e.fmax_mhz:g} MHz (nextpnr-ecp5 model); priced at "
            f"{e.clock_mhz:g} MHz, the PLL clock the bitstream is built at"
        )
    fps_note = ""
    if e.meets_fps is False:
        fps_note = " (the requested frames/s cannot be reached; fastest design shown)"
    console.print(
        f"frames/s {e.fps:,.1f}{fps_note}   latency {e.latency_us:,.2f} us   "
        f"fits: {'yes' if e.fits else 'no'} (cap {e.util_cap:.0%})   "
        f"binding {e.binding or '-'}"
        + (f" (the host link: {e.link})" if e.binding == "io" and e.link != "stream" else "")
    )
    console.print(_pinned_line(e))
    if not e.fits:
        console.print(f"over the cap: {_overuse(e)}")


def _yosys_xc7_line(b: dict[str, Any]) -> str:
    """The labelled line of an estimate's ``yosys_xc7`` block (not Vivado figures).

    Example:
        >>> _yosys_xc7_line({"lut": 1234.4, "ff": 99.0, "bram18": 2.0, "dsp": 0.0,
        ...                  "resource_model": "yosys-xc7", "scope": "kernels"})[:52]
        'Yosys xc7 model (yosys-xc7, not Vivado): LUT 1,234  '
    """
    return (
        f"Yosys xc7 model ({b['resource_model']}, not Vivado): LUT {b['lut']:,.0f}  "
        f"FF {b['ff']:,.0f}  RAMB18 {b['bram18']:,.0f}  DSP48E1 {b['dsp']:,.0f}  "
        f"[Yosys synth_xilinx -family xc7 of hwprune's RTL; {b['scope']}]"
    )


def _summary_row(table: Any, op: str, name: str, cycles: str, resources: list[str]) -> None:
    """A table row without the per-node columns (shape, bits, PE, SIMD, mult)."""
    table.add_row(op, name, "", "", "", "", "", cycles, *resources)


def _pinned_line(e: Any) -> str:
    """Which layers kept the design's folding and which hwprune chose."""
    chosen = [k for k in e.folding if k not in e.pinned]
    pinned = ", ".join(e.pinned) if e.pinned else "none"
    return f"pinned (kept as given): {pinned}; folded by hwprune: {', '.join(chosen) or 'none'}"


def _overuse(e: Any) -> str:
    """``lut 61,000 of 45,220 usable (85% of 53,200), ...`` for every resource over the cap."""
    parts = []
    for k in ("lut", "ff", "bram18", "dsp"):
        u = e.util.get(k, 0.0)
        if u > e.util_cap:
            used = getattr(e, k)
            cap = used / u if u else 0.0
            parts.append(
                f"{k} {used:,.0f} of {cap * e.util_cap:,.0f} usable "
                f"({e.util_cap:.0%} of {cap:,.0f})"
            )
    return ", ".join(parts) or "-"


def _gpu(design: Path, t: GpuTarget, as_json: bool) -> None:
    """Price ``design`` with the GPU latency model, as the search does."""
    from hwprune.cost.gpu import estimate_gpu
    from hwprune.design import load_design
    from hwprune.estimate import _to_graph

    src = load_design(design) if design.suffix.lower() == ".json" else _to_graph(design)
    e = estimate_gpu(src, t)
    typer.echo(e.to_json() if as_json else e.table())


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
        pin: str | None = typer.Option(
            None,
            "--pin",
            help="Layers whose folding in the design is kept (comma-separated, or 'all'). "
            "Default: all without --fps, none with --fps (--fps refolds the rest).",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the estimate as JSON."),
    ) -> None:
        """Estimate frames/s, latency and LUT/FF/BRAM18/DSP of a design on an FPGA (or its
        latency and memory on a GPU target)."""
        from hwprune.errors import ConfigError
        from hwprune.estimate import estimate
        from hwprune.targets import GpuTarget, load_target

        if not design.exists():
            raise ConfigError(f"design file {design} does not exist; check the path")
        if design.suffix.lower() not in (".json", ".onnx"):
            raise ConfigError(f"{design}: expected a .json design or an .onnx QONNX model")
        t = load_target(target_file if target_file is not None else target)
        if isinstance(t, GpuTarget):
            _gpu(design, t, as_json)
            return
        # a frames/s goal refolds what the user did not pin
        pins: list[str] | None = [] if fps else None
        if pin is not None and pin.strip().lower() != "all":
            pins = [x.strip() for x in pin.split(",") if x.strip()]
        elif pin is not None:
            from hwprune.estimate import _to_graph

            pins = list(_to_graph(design).fixed)
        e = estimate(
            design, t, fps=fps, clock_mhz=clock_mhz, util_cap=util_cap, pin=pins, pin_windows=True
        )
        if as_json:
            typer.echo(e.to_json())
        else:
            _print_table(e)  # a design over the cap is priced and reported (fits: no), exit 0
