"""Verilator simulation of the generated RTL against the export's golden vectors.

The testbench (``rtl_templates/tb.cpp.j2``) streams ``golden/input.bin`` through the top twice:
once with random input gaps and output back-pressure (30% each; bit-exactness and per-frame
iteration counts must not depend on them) and once with an always-valid source and an
always-ready sink (first-frame latency and steady-state frame interval). Every kernel's
iterations per frame must equal its loop count in the IR (``node.cycles()``, what the cost model
prices); the frame interval is the slowest kernel's cycles plus the stated fill.

Example:
    >>> res = run_rtl_sim(design, "out/rtl", "out/golden")  # doctest: +SKIP
    >>> res.bit_exact, res.cycles_match                     # doctest: +SKIP
    (True, True)
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwprune import __version__
from hwprune.export.rtl.generate import TOP, RtlDesign
from hwprune.export.rtl.tools import RtlToolError, run_tool, verilator_env, verilator_root
from hwprune.resources import resource_dir


@dataclass(frozen=True)
class RtlSimResult:
    """Outcome of the Verilator runs."""

    bit_exact: bool
    frames: int
    first_mismatch: str | None
    kernels: tuple[dict[str, Any], ...]  # name, kind, counted (per frame), model
    latency: int | None  # cycles from the first input word to the first frame's last output
    interval: float | None  # steady-state cycles per frame (ideal source and sink)
    max_cycles: int
    build_s: float = 0.0
    run_s: float = 0.0
    log: str = ""
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def cycles_match(self) -> bool:
        """Every kernel issued exactly its modelled iterations in every frame."""
        return all(k["counted"] == k["model"] for k in self.kernels)


def render_testbench(design: RtlDesign) -> str:
    """C++ testbench source for ``design``."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("rtl_templates"))),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    nk = len(design.stages)
    ports = [
        ("in_data", design.in_stream.width),
        ("out_data", design.out_stream.width),
        ("iters", nk),
        ("dones", nk),
    ]
    return env.get_template("tb.cpp.j2").render(
        top=TOP,
        version=__version__,
        nk=nk,
        stages=design.stages,
        ports=ports,
        in_elems=design.in_stream.elems,
        in_bits=design.in_stream.bits,
        in_type=design.in_stream.type,
        in_words=design.in_words,
        out_elems=design.out_stream.elems,
        out_bits=design.out_stream.bits,
        out_type=design.out_stream.type,
        out_words=design.out_words,
    )


def build_sim(design: RtlDesign, rtl_dir: Path, build_dir: Path) -> Path:
    """Verilate ``rtl_dir``'s design with the testbench into ``build_dir``; the executable."""
    rtl = rtl_dir.resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    (rtl / "tb.cpp").write_text(render_testbench(design))
    sources = [str(rtl / f) for f in design.files if f.endswith(".v")]
    cmd = [
        str(verilator_root() / "bin" / "verilator"),
        "--cc", "--exe", "--build", "-j", "2",
        "-Wno-fatal", "-Wno-lint", "-Wno-style",
        "--default-language", "1364-2005", "-DHWP_SIM", "--top-module", TOP,
        "--Mdir", str(build_dir / "obj"), "-o", "tb",
        "-MAKEFLAGS", "OPT_FAST=-O1", "-MAKEFLAGS", "OPT_SLOW=-O0",
        "-MAKEFLAGS", "OPT_GLOBAL=-O1",
        # the wheel's verilated.mk leaves the precompiled-header include flag empty
        "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include",
        str(rtl / "tb.cpp"), *sources,
    ]  # fmt: skip
    run_tool(cmd, cwd=build_dir, log=build_dir / "verilator.log", env=verilator_env())
    exe = build_dir / "obj" / "tb"
    if not exe.is_file():
        raise RtlToolError(f"Verilator built no testbench in {build_dir}")
    return exe


def _parse(out: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"kernels": {}}
    for ln in out.splitlines():
        m = re.match(r"kernel (\S+) frames=(\d+) iterations_min=(-?\d+) iterations_max=(-?\d+)", ln)
        if m:
            doc["kernels"][m[1]] = (int(m[2]), int(m[3]), int(m[4]))
        elif ln.startswith("first_mismatch"):
            doc.setdefault("first_mismatch", ln.split(" ", 1)[1])
        elif "=" in ln:
            for tok in ln.split():
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    doc.setdefault(k, v)
    return doc


def run_rtl_sim(
    design: RtlDesign,
    rtl_dir: str | Path,
    golden_dir: str | Path,
    seed: int = 1,
    cost_model: dict[str, int] | None = None,
) -> RtlSimResult:
    """Build and run the testbench (random gaps/back-pressure, then ideal); see the module.

    ``cost_model``: the cost model's cycles per kernel name, logged next to the counts.
    """
    rtl = Path(rtl_dir).resolve()
    golden = Path(golden_dir).resolve()
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="hwprune-verilator-"))
    try:
        exe = build_sim(design, rtl, tmp)
        build_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        outs = {}
        for mode in ("random", "ideal"):
            import subprocess

            p = subprocess.run(
                [str(exe), str(golden), mode, str(seed)],
                cwd=rtl,
                capture_output=True,
                text=True,
                timeout=1800,
            )
            outs[mode] = p.stdout + p.stderr
        run_s = time.perf_counter() - t1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rnd, ideal = _parse(outs["random"]), _parse(outs["ideal"])
    frames = int(rnd.get("frames", "0") or 0)
    kernels = []
    for st in design.stages:
        n, lo, hi = rnd["kernels"].get(st.name, (0, -1, -1))
        counted = lo if (lo == hi and n == frames) else None
        kernels.append(
            {
                "kernel": st.name,
                "kind": st.kind,
                "frames": n,
                "counted": counted,
                "min": lo,
                "max": hi,
                "model": st.cycles,
                "cost_model": (cost_model or {}).get(st.name),
            }
        )
    exact = (rnd.get("result") == "BIT-EXACT") and (ideal.get("result") == "BIT-EXACT")
    unread = [ln for ln in outs["random"].splitlines() if "$readmem" in ln]
    if unread:  # Verilator only warns when a ROM file is missing or short: that is a failure
        exact = False
        rnd["first_mismatch"] = f"ROM contents not loaded: {unread[0].strip()}"
    max_cycles = max(st.cycles for st in design.stages)
    latency = int(ideal["first_frame_latency"]) if "first_frame_latency" in ideal else None
    interval = float(ideal["frame_interval"]) if "frame_interval" in ideal else None
    mismatch = rnd.get("first_mismatch") or ideal.get("first_mismatch")
    if not exact and mismatch is None:
        mismatch = "simulation incomplete (see rtl/sim.log)"
    res = RtlSimResult(
        exact, frames, mismatch, tuple(kernels), latency, interval, max_cycles, build_s, run_s
    )
    log = _sim_log(res, outs)
    return RtlSimResult(
        exact, frames, mismatch, tuple(kernels), latency, interval, max_cycles, build_s, run_s, log
    )


def _sim_log(res: RtlSimResult, outs: dict[str, str]) -> str:
    from hwprune.export.rtl.tools import tool_versions

    lines = [
        "# hwprune RTL simulation (Verilator): golden vectors through the whole design",
        f"# tool: {tool_versions().get('verilator', 'verilator')}",
        "# run 1: random input gaps and output back-pressure (30% each); run 2: ideal source/sink",
        f"# build {res.build_s:.1f} s, runs {res.run_s:.2f} s",
        "",
        "# cycles per frame: kernel, kind, counted in every frame, the kernel's loop count in",
        "# the IR (node.cycles()), the cost model's cycles (hwprune.cost.fpga; '-': not a node",
        "# of the cost model's graph). A max-pool is priced as finn-plus builds it (window",
        "# generator + Pool_hls); hwprune's kernel takes one pixel per cycle, never more.",
    ]
    for k in res.kernels:
        ok = "ok" if k["counted"] == k["model"] else "DIFFERENT"
        cm = "-" if k.get("cost_model") is None else str(k["cost_model"])
        lines.append(
            f"{k['kernel']:<24} {k['kind']:<16} {k['counted']!s:>10} {k['model']:>10} "
            f"{cm:>10}  {ok}"
        )
    lines.append(f"cycles_match={'yes' if res.cycles_match else 'no'}")
    if res.interval is not None:
        fill = res.interval - res.max_cycles
        lines.append(
            f"frame_interval={res.interval:.2f} (slowest kernel {res.max_cycles} + fill "
            f"{fill:.2f} cycles per frame; ideal source and sink)"
        )
    if res.latency is not None:
        lines.append(f"first_frame_latency={res.latency} cycles (first input word to last output)")
    lines.append(f"frames={res.frames}")
    if res.first_mismatch:
        lines.append(f"first_mismatch={res.first_mismatch}")
    lines += [
        "",
        "# --- testbench output, random mode ---",
        outs["random"].strip(),
        "",
        "# --- testbench output, ideal mode ---",
        outs["ideal"].strip(),
        "",
    ]
    lines.append(f"result={'BIT-EXACT' if res.bit_exact else 'MISMATCH'}")
    return "\n".join(lines) + "\n"
