"""Yosys synthesis of the generated RTL for the target's family: ``synth/report.json``.

These are Yosys numbers (tool, version and script recorded with them), not Vivado's: they are
kept apart from the Vivado-calibrated estimate. Yosys does not check device capacity.

Families: ``ecp5`` (``synth_ecp5``: LUT4, CCU2C carry, TRELLIS_FF, DP16KD, MULT18X18D),
``xc7`` (``synth_xilinx -family xc7``: Zynq-7000 / 7-series) and ``xcup``
(``synth_xilinx -family xcup``: Zynq UltraScale+ / Alveo). The hierarchy is kept so that every
kernel's cells are counted apart.

Example:
    >>> rep = synthesize("out/rtl", design, "ecp5", "out/synth")  # doctest: +SKIP
    >>> rep["total"]["lut"] > 0                                   # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from hwprune.export.rtl.generate import TOP, RtlDesign
from hwprune.export.rtl.tools import RtlToolError, run_tool, tool_versions, yowasp

#: LUT-equivalents, flip-flops, RAM blocks (BRAM18 / EBR), DSP slices per primitive
_ECP5 = {
    "LUT4": ("lut", 1),
    "CCU2C": ("lut", 2),  # a carry cell occupies two LUT4s
    "TRELLIS_DPR16X4": ("lut", 4),  # 16x4 distributed RAM: counted as 4 LUT4
    "L6MUX21": ("lut", 0),
    "PFUMX": ("lut", 0),
    "TRELLIS_FF": ("ff", 1),
    "DP16KD": ("bram", 1),
    "PDPW16KD": ("bram", 1),
    "MULT18X18D": ("dsp", 1),
}
_XILINX = {
    **{f"LUT{i}": ("lut", 1) for i in range(1, 7)},
    "SRL16E": ("lut", 1), "SRLC32E": ("lut", 1), "RAM32X1D": ("lut", 2), "RAM64X1D": ("lut", 2),
    "RAM128X1D": ("lut", 4), "RAM32M": ("lut", 4), "RAM64M": ("lut", 4), "RAM32M16": ("lut", 8),
    "RAM64M8": ("lut", 8), "RAM256X1S": ("lut", 4), "RAM64X1S": ("lut", 1),
    "RAM32X1S": ("lut", 1), "RAM128X1S": ("lut", 2), "RAM256X1D": ("lut", 8),
    "FDRE": ("ff", 1), "FDSE": ("ff", 1), "FDCE": ("ff", 1), "FDPE": ("ff", 1),
    "RAMB18E1": ("bram", 1), "RAMB36E1": ("bram", 2),
    "RAMB18E2": ("bram", 1), "RAMB36E2": ("bram", 2),
    "DSP48E1": ("dsp", 1), "DSP48E2": ("dsp", 1),
}  # fmt: skip
UNITS = {
    "ecp5": "lut = LUT4 (+2 per CCU2C carry, +4 per DPR16X4 RAM), ff = TRELLIS_FF, "
    "bram = DP16KD (18 Kbit EBR), dsp = MULT18X18D",
    "xc7": "lut = LUT1-6 (+LUTRAM/SRL LUTs), ff = FD*, bram = RAMB18 (RAMB36 = 2), dsp = DSP48E1",
    "xcup": "lut = LUT1-6 (+LUTRAM/SRL LUTs), ff = FD*, bram = RAMB18 (RAMB36 = 2), dsp = DSP48E2",
}


def family_of(target: Any) -> str:
    """Yosys family of a target: ``ecp5``, ``xc7`` (Zynq-7000) or ``xcup`` (UltraScale+)."""
    fam = getattr(target, "family", "")
    if fam == "ecp5":
        return "ecp5"
    if fam == "zynq7000":
        return "xc7"
    return "xcup"


def synth_script(family: str, sources: list[str], json_out: str | None = None) -> str:
    """The Yosys script (relative file names: YoWASP sees only its working folder)."""
    read = f"read_verilog -defer {' '.join(sources)}"
    if family == "ecp5":
        synth = f"synth_ecp5 -top {TOP} -noflatten" + (f" -json {json_out}" if json_out else "")
    elif family in ("xc7", "xcup"):
        synth = f"synth_xilinx -family {family} -top {TOP}"
    else:
        raise ValueError(f"no Yosys flow for family {family!r}")
    return f"{read}; {synth}; tee -q -o stat.json stat -json; write_json -compat-int netlist.json"


def _counts(by_type: dict[str, int], table: dict[str, tuple[str, int]]) -> dict[str, int]:
    res = {"lut": 0, "ff": 0, "bram": 0, "dsp": 0}
    for cell, n in by_type.items():
        if cell in table:
            key, w = table[cell]
            res[key] += w * int(n)
    return res


def _module_cells(stat: dict[str, Any]) -> dict[str, dict[str, int]]:
    mods = {}
    for name, m in stat.get("modules", {}).items():
        mods[name.lstrip("\\")] = {
            k.lstrip("\\"): int(v) for k, v in m.get("num_cells_by_type", {}).items()
        }
    return mods


def _flat(name: str, mods: dict[str, dict[str, int]]) -> dict[str, int]:
    """Primitive counts of module ``name`` with its submodules expanded."""
    out: dict[str, int] = {}
    for cell, n in mods.get(name, {}).items():
        sub = _flat(cell, mods) if cell in mods else {cell: 1}
        for k, v in sub.items():
            out[k] = out.get(k, 0) + n * v
    return out


def synthesize(
    rtl_dir: str | Path,
    design: RtlDesign,
    family: str,
    out_dir: str | Path,
    *,
    board: tuple[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Run Yosys on ``rtl_dir``; write and return ``out_dir/report.json``.

    ``board``: (top module, extra sources) of an ECP5 board wrapper: the whole board is
    synthesized once, the report counts its ``hwprune_top``, and the flattened netlist is left
    in ``rtl_dir/board.json`` for nextpnr.
    """
    rtl = Path(rtl_dir).resolve()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sources = [f for f in design.files if f.endswith(".v")]
    if board is None:
        script = synth_script(family, sources)
    else:
        top, extra = board
        script = (
            f"read_verilog -defer {' '.join(sources + extra)}; "
            f"synth_ecp5 -top {top} -noflatten; tee -q -o stat.json stat -json; "
            f"write_json -compat-int netlist.json; flatten; hierarchy -top {top}; "
            "write_json board.json"
        )
    t0 = time.perf_counter()
    run_tool([yowasp("yosys"), "-q", "-p", script], cwd=rtl, log=out / "yosys.log")
    secs = time.perf_counter() - t0
    try:
        stat = json.loads((rtl / "stat.json").read_text())
        netlist = json.loads((rtl / "netlist.json").read_text())
    except (OSError, ValueError) as e:
        raise RtlToolError(f"Yosys wrote no statistics in {rtl}") from e
    finally:
        for f in ("stat.json", "netlist.json"):
            (rtl / f).unlink(missing_ok=True)
    table = _ECP5 if family == "ecp5" else _XILINX
    mods = _module_cells(stat)
    top_cells = netlist["modules"][TOP]["cells"]
    kernels = []
    for st in design.stages:
        cell = top_cells.get(f"u_{st.name}")
        prims = _flat(cell["type"].lstrip("\\"), mods) if cell else {}
        kernels.append({"kernel": st.name, "kind": st.kind, **_counts(prims, table)})
    fifo = {"lut": 0, "ff": 0, "bram": 0, "dsp": 0}
    for name, cell in top_cells.items():
        if name.startswith("u_fifo"):
            for k, v in _counts(_flat(cell["type"].lstrip("\\"), mods), table).items():
                fifo[k] += v
    skips = []  # a residual block's skip FIFO: the FIFO node of the cost model's graph
    for i, f in enumerate(design.fifos):
        cell = top_cells.get(f"u_fifo{i}")
        if f.skip and cell:
            prims = _flat(cell["type"].lstrip("\\"), mods)
            skips.append({"fifo": f.skip, "depth": f.depth, **_counts(prims, table)})
    total_prims = _flat(TOP, mods)
    report = {
        "source": "Yosys synthesis of hwprune's RTL (not Vivado; not the calibrated estimate)",
        "tool": "yosys",
        "version": tool_versions().get("yosys", "unknown"),
        "family": family,
        "script": script,
        "units": UNITS[family],
        "seconds": round(secs, 1),
        "kernels": kernels,
        "fifos": fifo,
        "skip_fifos": skips,
        "total": _counts(total_prims, table),
        "cells": dict(sorted(total_prims.items())),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
