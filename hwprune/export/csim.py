"""C simulation of the generated HLS project with g++ (no Vitis needed).

The Xilinx ``ap_int.h``/``hls_stream.h`` headers come from ``$XILINX_HLS/include`` when Vitis
is installed, else from the copy inside the hls4ml wheel (``pip install hwprune[csim]``).

Example:
    >>> result = run_csim("out/hls", "out/golden")  # doctest: +SKIP
    >>> result.bit_exact, result.cycles["fc0"]      # doctest: +SKIP
    (True, 64.0)
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from hwprune.errors import HwpruneError

log = logging.getLogger(__name__)


class CsimError(HwpruneError):
    """The C simulation could not be built or run."""


def find_hls_headers() -> Path:
    """Folder holding ``ap_int.h`` and ``hls_stream.h``.

    Raises :class:`CsimError` with the install hint when neither Vitis nor hls4ml is present.
    """
    xilinx = os.environ.get("XILINX_HLS")
    if xilinx and (Path(xilinx) / "include" / "ap_int.h").is_file():
        return Path(xilinx) / "include"
    try:
        import importlib.util

        spec = importlib.util.find_spec("hls4ml")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        cand = Path(spec.origin).parent / "templates" / "vivado" / "ap_types"
        if (cand / "ap_int.h").is_file() and (cand / "hls_stream.h").is_file():
            return cand
    raise CsimError(
        "the Xilinx ap_int.h/hls_stream.h headers are missing; install them with "
        "`pip install hwprune[csim]` (hls4ml) or set XILINX_HLS to a Vitis HLS install"
    )


@dataclass(frozen=True)
class CsimResult:
    """Outcome of a C simulation."""

    bit_exact: bool
    samples: int
    mismatching_samples: int
    first_mismatch: str | None
    cycles: dict[str, float] = field(default_factory=dict)  # kernel -> iterations per frame
    kinds: dict[str, str] = field(default_factory=dict)
    compile_s: float = 0.0
    run_s: float = 0.0
    log: str = ""


def compile_csim(hls_dir: str | Path, opt: str = "-O2") -> Path:
    """Compile ``testbench.cpp`` + ``top.cpp`` of ``hls_dir`` into ``hls_dir/csim``."""
    hls = Path(hls_dir).resolve()  # absolute: the simulation runs with cwd=hls_dir
    cxx = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")
    if cxx is None:
        raise CsimError("no C++ compiler found; install g++ (e.g. `apt-get install g++`)")
    inc = find_hls_headers()
    exe = hls / "csim"
    objs = []
    for src in ("top.cpp", "testbench.cpp"):
        obj = hls / f"{src}.o"
        cmd = [
            cxx,
            "-std=c++14",
            opt,
            "-w",
            "-I",
            str(inc),
            "-I",
            str(hls),
            "-c",
            str(hls / src),
            "-o",
            str(obj),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise CsimError(f"g++ failed on {src}: {proc.stderr.strip()[-2000:]}")
        objs.append(str(obj))
    proc = subprocess.run([cxx, *objs, "-o", str(exe)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise CsimError(f"linking the C simulation failed: {proc.stderr.strip()[-2000:]}")
    for o in objs:
        Path(o).unlink(missing_ok=True)
    return exe


_CYC = re.compile(r"HWPRUNE_CYCLES kernel=(\S+) kind=(\S+) iterations=(\d+) per_frame=([\d.]+)")
#: the testbench's verdict line (also read back from a saved csim.log by the report)
CSIM_RESULT = re.compile(r"HWPRUNE_CSIM samples=(\d+) mismatching_samples=(\d+) result=(\S+)")


def parse_csim_log(text: str) -> CsimResult:
    """Parse the testbench's output."""
    cycles: dict[str, float] = {}
    kinds: dict[str, str] = {}
    for m in _CYC.finditer(text):
        cycles[m.group(1)] = float(m.group(4))
        kinds[m.group(1)] = m.group(2)
    m = CSIM_RESULT.search(text)
    if m is None:
        raise CsimError(f"the C simulation did not finish; its output ends with: {text[-500:]}")
    first = next((ln for ln in text.splitlines() if ln.startswith("HWPRUNE_MISMATCH")), None)
    return CsimResult(
        m.group(3) == "BIT-EXACT", int(m.group(1)), int(m.group(2)), first, cycles, kinds, log=text
    )


def run_csim(
    hls_dir: str | Path, golden_dir: str | Path, opt: str = "-O2", timeout_s: float | None = None
) -> CsimResult:
    """Compile and run the C simulation; returns its parsed result."""
    t0 = time.perf_counter()
    exe = compile_csim(hls_dir, opt)
    t1 = time.perf_counter()
    try:
        proc = subprocess.run(
            [str(exe), str(Path(golden_dir).resolve())],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=str(hls_dir),
        )
    except subprocess.TimeoutExpired as exc:
        raise CsimError(
            f"the C simulation ran longer than {timeout_s} s; use fewer golden vectors"
        ) from exc
    t2 = time.perf_counter()
    text = proc.stdout + (f"\n[stderr]\n{proc.stderr}" if proc.stderr.strip() else "")
    res = parse_csim_log(text)
    return CsimResult(
        res.bit_exact,
        res.samples,
        res.mismatching_samples,
        res.first_mismatch,
        res.cycles,
        res.kinds,
        t1 - t0,
        t2 - t1,
        text,
    )
