"""Frame interval of the RTL against the depth of the FIFOs between kernels.

The RTL top puts a ``fifo_depth``-word FIFO (16 by default) on every stream. A chain of
equally slow convolutions, each fed by a sliding-window generator, runs below its slowest
kernel's rate when those FIFOs cannot absorb the window generators' fill and drain (the
fashion-cnv row of ``bench/results/rtl_recipes.md``: 1.76x). This bench exports a small such
chain (four 3x3 convolutions of 8 channels on 12x12, folded to the same cycles per frame),
simulates it in Verilator at several depths and records the ideal-source/sink frame interval
next to the slowest kernel's cycles. Writes ``bench/results/rtl_fifo_depth.md``.

Usage: python bench/rtl_fifo_depth.py [DEPTH ...]   (default 16 64 256 1024)
"""

from __future__ import annotations

import datetime
import functools
import importlib.metadata as md
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import hwprune.export.rtl.generate as generate
from hwprune.compress.quant import to_brevitas
from hwprune.export.core import export_model
from hwprune.models import build_model
from hwprune.models.spec import ModelSpec

ROOT = Path(__file__).resolve().parents[1]
SPEC = ModelSpec(
    "conv-chain",
    (1, 12, 12),
    4,
    (
        *({"op": "conv", "out_ch": 8, "kernel": 3, "pad": 1} for _ in range(4)),
        {"op": "fc", "out": 4},
    ),
)
#: every convolution at 10,368 cycles per frame (144 pixels x 72 MACs / SIMD x 8 / PE)
FOLDING = {"conv0": {"pe": 1, "simd": 1}, **{f"conv{i}": {"pe": 1, "simd": 8} for i in (1, 2, 3)}}


def interval(depth: int, work: Path) -> tuple[float, int, str]:
    """(ideal frame interval, slowest kernel's cycles, result) at FIFO depth ``depth``."""
    original = generate.write_rtl
    generate.write_rtl = functools.partial(original, fifo_depth=depth)
    try:
        torch.manual_seed(0)
        q = to_brevitas(build_model(SPEC), [2] * 5, [2, 2, 2, 2, None], 16.0).eval()
        out = work / f"d{depth}"
        export_model(q, "pynq-z2", out_dir=out, input_shape=SPEC.input_shape, n_golden=4,
                     csim=False, rtl="sim", folding=FOLDING)  # fmt: skip
    finally:
        generate.write_rtl = original
    log = (out / "rtl" / "sim.log").read_text()
    m = re.search(r"frame_interval=([\d.]+) \(slowest kernel (\d+)", log)
    result = re.search(r"result=(\S+)", log)
    assert m and result, log[-2000:]
    return float(m.group(1)), int(m.group(2)), result.group(1)


def main(argv: list[str]) -> None:
    depths = [int(a) for a in argv] or [16, 64, 256, 1024]
    rows = []
    with tempfile.TemporaryDirectory(prefix="hwprune-fifo-") as tmp:
        for d in depths:
            t0 = time.perf_counter()
            iv, slowest, result = interval(d, Path(tmp))
            rows.append(
                f"| {d} | {iv:,.0f} | {slowest:,} | {iv / slowest:.2f}x | {result} | "
                f"{time.perf_counter() - t0:.0f} |"
            )
            print(rows[-1], flush=True)
    rev = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    text = "\n".join(
        [
            "# RTL frame interval vs the FIFO depth between kernels (bench/rtl_fifo_depth.py)",
            "",
            f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ}. Machine: "
            f"{platform.machine()}, 2 cores shared; Python {platform.python_version()}, "
            f"Verilator {md.version('verilator')}; hwprune {rev}.",
            "",
            "Design: four 3x3 convolutions (8 channels, pad 1) on 12x12, 2-bit weights and "
            "activations, each at 10,368 cycles per frame, then an FC head; exported for "
            "pynq-z2 with that folding and `write_rtl(fifo_depth=D)` (every inter-kernel FIFO "
            "D words; the default is 16). Interval: Verilator, ideal source and sink, 4 frames.",
            "",
            "| FIFO depth (words) | frame interval (cycles) | slowest kernel | ratio | result "
            "| wall s |",
            "|---:|---:|---:|---:|---|---:|",
            *rows,
            "",
        ]
    )
    (ROOT / "bench" / "results" / "rtl_fifo_depth.md").write_text(text)


if __name__ == "__main__":
    main(sys.argv[1:])
