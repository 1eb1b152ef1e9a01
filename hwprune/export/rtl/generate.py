"""IR -> Verilog: hwprune's hand-written kernels (``rtl_templates/*.v``) and a generated top.

Why hand-written Verilog-2005 kernels and a generated top rather than Amaranth or generated
kernels: the kernels are a handful of fixed micro-architectures (the HLS kernels' loops, one
iteration per cycle), so parameterised modules written once read and review like the HLS
library they mirror, and plain Verilog-2005 is the one language that Yosys, Verilator and any
vendor tool all accept without a front end to install. What differs per design -- the chain of
kernels, their parameters, the FIFOs between them and the weight/threshold ROM contents -- is
generated: ``top.v`` and ``*.hex`` ROM files (``$readmemh``).

The chain is the HLS back end's plan (:func:`hwprune.export.hls.plan_hls`): the same stages,
the same width adapters, the same stream words, so the two back ends are checked against the
same golden vectors and the same cycle counts.

Example:
    >>> design = write_rtl(graph, "out/rtl")  # doctest: +SKIP
    >>> [s.module for s in design.stages][:2]  # doctest: +SKIP
    ['hwp_mvau', 'hwp_mvau']
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwprune.export.graph import (
    IntGraph,
    LabelSelectNode,
    MaxPoolNode,
    MVAUNode,
    PadNode,
    SlidingWindowNode,
    VVAUNode,
)
from hwprune.export.hls import Stream, _bits, plan_hls, type_code
from hwprune.resources import resource_dir

TOP = "hwprune_top"
#: the kernel library, copied into every rtl/ folder
KERNEL_FILES = ("hwp_stream.v", "hwp_window.v", "hwp_mvau.v")
#: thresholds per row from which the binary-search comparator is used ("auto")
BINARY_FROM = 16


@dataclass(frozen=True)
class RtlStage:
    """One kernel instance of the top: module, parameters, stream words in and out."""

    name: str
    kind: str
    module: str
    params: dict[str, Any]
    in_stream: Stream
    out_stream: Stream
    cycles: int  # iterations per frame (the IR's / HLS kernel's loop count)
    roms: tuple[str, ...] = ()


@dataclass(frozen=True)
class RtlDesign:
    """The generated design: stages in stream order and the top's I/O words."""

    stages: tuple[RtlStage, ...]
    in_stream: Stream
    out_stream: Stream
    in_words: int  # words per frame
    out_words: int
    fifo_depth: int
    files: tuple[str, ...] = field(default=())

    @property
    def kernel_names(self) -> list[str]:
        """Instance names, in the order of the top's ``iters`` bits."""
        return [s.name for s in self.stages]


def _hex_lines(words: list[int], width: int) -> str:
    digits = max(1, (width + 3) // 4)
    return "".join(f"{w:0{digits}x}\n" for w in words)


def _pack_words(enc: np.ndarray, bits: int) -> list[int]:
    """Words of ``enc`` (nwords, n) raw unsigned elements, element i at bits [i*bits, ...)."""
    out = []
    for row in enc.tolist():
        w = 0
        for i, v in enumerate(row):
            w |= (int(v) & ((1 << bits) - 1)) << (i * bits)
        out.append(w)
    return out


def acc_width(node: MVAUNode) -> int:
    """Accumulator register width of the RTL MVAU (the HLS kernel's ``ap_int<ACCB + 1>``)."""
    if node.xnor:
        return int(node.mw + 1).bit_length() + 1
    return node.acc_type.bits + 1


def rtl_thresholds(node: MVAUNode) -> np.ndarray:
    """Thresholds as the RTL compares them: XNOR rows on the popcount, all clipped into the
    accumulator's range + 1 (``-2^(AW-1) .. 2^(AW-1)``, which changes no comparison)."""
    assert node.thresholds is not None
    T = node.thresholds.astype(np.int64)
    if node.xnor:  # acc = 2 * popcount - MW: acc >= T  <=>  popcount >= ceil((T + MW) / 2)
        T = -((-(T + node.mw)) // 2)
    aw = acc_width(node)
    return np.clip(T, -(1 << (aw - 1)), 1 << (aw - 1))


def threshold_mode(node: MVAUNode, mode: str) -> int:
    """0: parallel comparators, 1: pipelined binary search (``mode`` "auto" picks by count)."""
    nt = 0 if node.thresholds is None else int(node.thresholds.shape[1])
    if nt == 0 or mode == "parallel":
        return 0
    if mode == "binary":
        return 1
    return 1 if nt >= BINARY_FROM else 0


def _mvau_roms(node: MVAUNode, tmode: int, out: Path) -> tuple[dict[str, Any], list[str]]:
    """Write the ROM files of an MVAU/VVAU; return its ROM parameters and file names."""
    pe, simd = node.pe, node.simd
    sf, nf = node.mw // simd, node.mh // pe
    wb = _bits(node.wtype)
    enc = node.wtype.encode(node.weights).astype(np.int64).reshape(nf, pe, sf, simd)
    words = _pack_words(enc.transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd), wb)
    wfile = f"{node.name}_w.hex"
    (out / wfile).write_text(_hex_lines(words, pe * simd * wb))
    files = [wfile]
    aw = acc_width(node)
    tb = aw + 1
    params: dict[str, Any] = {"WFILE": wfile, "TFILE": f"{node.name}_t", "TB": tb, "NB": 1}
    if node.thresholds is None:
        return params, files
    T = rtl_thresholds(node).reshape(nf, pe, -1)  # row nf * PE + p
    nt = T.shape[2]
    if tmode == 0:
        words = _pack_words(T.reshape(nf, pe * nt) & ((1 << tb) - 1), tb)
        name = f"{node.name}_t.hex"
        (out / name).write_text(_hex_lines(words, pe * nt * tb))
        files.append(name)
        return params, files
    nb = int(nt).bit_length()  # 2^NB - 1 >= NT
    pad = np.full((nf, pe, (1 << nb) - nt), 1 << (aw - 1), dtype=np.int64)
    Tp = np.concatenate([T, pad], axis=2)  # never-reached entries past NT
    for s in range(nb):
        j = nb - 1 - s
        idx = np.arange(1 << s) * (1 << (j + 1)) + (1 << j) - 1
        for p in range(pe):
            vals = (Tp[:, p, :][:, idx].reshape(-1)) & ((1 << tb) - 1)
            name = f"{node.name}_t_{s:02d}_{p:02d}.hex"
            (out / name).write_text(_hex_lines([int(v) for v in vals], tb))
            files.append(name)
    params["NB"] = nb
    return params, files


def _mvau_stage(node: MVAUNode, cur: Stream, out_s: Stream, tmode_opt: str, out: Path):
    tmode = threshold_mode(node, tmode_opt)
    rom_params, files = _mvau_roms(node, tmode, out)
    nt = 0 if node.thresholds is None else int(node.thresholds.shape[1])
    params = {
        "MW": node.mw,
        "MH": node.mh,
        "SIMD": node.simd,
        "PE": node.pe,
        "NVEC": node.nvec,
        "IB": cur.bits,
        "IT": cur.type,
        "WB": _bits(node.wtype),
        "WT": type_code(node.wtype),
        "AW": acc_width(node),
        "NT": nt,
        "TMODE": tmode,
        "NB": rom_params["NB"],
        "TB": rom_params["TB"],
        "OB": out_s.bits,
        "OT": out_s.type,
        "OBIAS": node.out_bias if nt else 0,
        "XNOR": int(node.xnor),
        "RES": 1 if node.mul_impl == "dsp" else 0,
        "VV": int(isinstance(node, VVAUNode)),
        "WFILE": rom_params["WFILE"],
        "TFILE": rom_params["TFILE"],
    }
    return "hwp_mvau", params, tuple(files)


def _node_stage(node: Any, cur: Stream, out_s: Stream, tmode: str, out: Path):
    """(module, parameters, ROM files) of one IR node fed by ``cur``."""
    if isinstance(node, PadNode):
        h, w, c = node.in_shape
        return (
            "hwp_pad",
            {
                "H": h,
                "W": w,
                "C": c,
                "SIMD": node.simd,
                "P": node.pad,
                "IB": cur.bits,
                "IT": cur.type,
                "OB": out_s.bits,
                "OT": out_s.type,
            },
            (),
        )
    if isinstance(node, SlidingWindowNode):
        h, w, c = node.in_shape
        return (
            "hwp_swg",
            {
                "IH": h,
                "IW": w,
                "C": c,
                "SIMD": node.simd,
                "K": node.kernel,
                "S": node.stride,
                "B": cur.bits,
                "DW": int(node.depthwise),
            },
            (),
        )
    if isinstance(node, MVAUNode):
        return _mvau_stage(node, cur, out_s, tmode, out)
    if isinstance(node, MaxPoolNode):  # reads the windows of its <pool>_window stage
        oh, ow, c = node.out_shape
        return (
            "hwp_maxpool",
            {"OH": oh, "OW": ow, "C": c, "K": node.kernel, "B": cur.bits, "T": cur.type},
            (),
        )
    if isinstance(node, LabelSelectNode):
        return (
            "hwp_labelsel",
            {"N": node.num_labels, "PE": node.pe, "B": cur.bits, "T": cur.type, "OB": out_s.bits},
            (),
        )
    raise TypeError(f"no RTL kernel for {type(node).__name__}")


def _stream_total(graph: IntGraph, dwc_name: str, by_name: dict[str, Any]) -> int:
    """Elements per frame on the stream a width adapter (named ``<node>_dwc``) converts."""
    node = by_name[dwc_name.removesuffix("_dwc")]
    i = list(graph.nodes).index(node)
    return int(np.prod(graph.nodes[i - 1].out_shape))


def plan_rtl(
    graph: IntGraph, out_dir: Path, thresholds: str = "auto", fifo_depth: int = 16
) -> RtlDesign:
    """Stages of the top (writing the ROM files into ``out_dir``)."""
    plan = plan_hls(graph)
    by_name = {n.name: n for n in graph.nodes}
    stages: list[RtlStage] = []
    cur = plan.in_stream
    for st in plan.stages:
        if st.kind in ("axi_in", "axi_out"):
            continue
        if st.kind == "WidthAdapt":
            lcm = math.lcm(cur.elems, st.out.elems)
            total = _stream_total(graph, st.name, by_name)
            params = {
                "IN": cur.elems,
                "OUT": st.out.elems,
                "L": lcm,
                "B": cur.bits,
                "G": total // lcm,
            }
            stages.append(
                RtlStage(st.name, "WidthAdapt", "hwp_dwc", params, cur, st.out, st.expected_cycles)
            )
        elif st.kind == "PoolWindow":  # a max pool's window: FINN's depthwise SWG, SIMD = C
            pool = by_name[st.name.removesuffix("_window")]
            h, w, c = pool.in_shape
            k = pool.kernel
            params = {"IH": h, "IW": w, "C": c, "SIMD": c, "K": k, "S": k, "B": cur.bits, "DW": 1}
            stages.append(
                RtlStage(st.name, st.kind, "hwp_swg", params, cur, st.out, st.expected_cycles)
            )
        else:
            node = by_name[st.name]
            module, params, roms = _node_stage(node, cur, st.out, thresholds, out_dir)
            stages.append(
                RtlStage(st.name, st.kind, module, params, cur, st.out, st.expected_cycles, roms)
            )
        cur = st.out
    return RtlDesign(
        tuple(stages), plan.in_stream, plan.out_stream, plan.in_words, plan.out_words, fifo_depth
    )


def _param(v: Any) -> str:
    return f'"{v}"' if isinstance(v, str) else str(int(v))


def render_top(design: RtlDesign) -> str:
    """Verilog of the top: FIFO, kernel, FIFO, kernel, ..., FIFO; ``iters`` = kernel loops."""
    nk = len(design.stages)
    iw, ow = design.in_stream.width, design.out_stream.width
    lines = [
        f"// {TOP}: generated by hwprune from the dataflow graph; kernels in hwp_*.v.",
        "// Streams: valid/ready words; a FIFO between every two kernels (and at both ends).",
        "// With HWP_SIM defined (Verilator) iters[k] / dones[k] say that kernel k issued a loop",
        f"// iteration / the last iteration of a frame this cycle ({nk} kernels).",
        f"module {TOP} (",
        "    input  wire clk,",
        "    input  wire rst,",
        "    input  wire in_valid,",
        "    output wire in_ready,",
        f"    input  wire [{iw - 1}:0] in_data,",
        "    output wire out_valid,",
        "    input  wire out_ready,",
        f"    output wire [{ow - 1}:0] out_data",
        "`ifdef HWP_SIM",
        f"    , output wire [{nk - 1}:0] iters",
        f"    , output wire [{nk - 1}:0] dones",
        "`endif",
        ");",
        "`ifndef HWP_SIM",
        f"    wire [{nk - 1}:0] iters, dones;",
        "`endif",
    ]
    streams = [design.stages[0].in_stream] + [s.out_stream for s in design.stages]
    for i, s in enumerate(streams):  # fifo i sits in front of kernel i (last: the output)
        w = s.width
        lines += [
            f"    wire f{i}_iv, f{i}_ir, f{i}_ov, f{i}_or;",
            f"    wire [{w - 1}:0] f{i}_id, f{i}_od;",
            f"    hwp_fifo #(.W({w}), .DEPTH({design.fifo_depth})) u_fifo{i} (",
            "        .clk(clk), .rst(rst),",
            f"        .in_valid(f{i}_iv), .in_ready(f{i}_ir), .in_data(f{i}_id),",
            f"        .out_valid(f{i}_ov), .out_ready(f{i}_or), .out_data(f{i}_od));",
        ]
    lines += [
        "    assign f0_iv = in_valid;",
        "    assign in_ready = f0_ir;",
        "    assign f0_id = in_data;",
    ]
    for k, st in enumerate(design.stages):
        ps = ",\n".join(f"        .{n}({_param(v)})" for n, v in st.params.items())
        lines += [
            f"    // {st.name}: {st.kind}, {st.cycles} iterations per frame",
            f"    {st.module} #(\n{ps}\n    ) u_{st.name} (",
            "        .clk(clk), .rst(rst),",
            f"        .in_valid(f{k}_ov), .in_ready(f{k}_or), .in_data(f{k}_od),",
            f"        .out_valid(f{k + 1}_iv), .out_ready(f{k + 1}_ir), .out_data(f{k + 1}_id),",
            f"        .iter(iters[{k}]), .done(dones[{k}]));",
        ]
    lines += [
        f"    assign out_valid = f{nk}_ov;",
        f"    assign f{nk}_or = out_ready;",
        f"    assign out_data = f{nk}_od;",
        "endmodule",
        "",
    ]
    return "\n".join(lines)


def write_rtl(
    graph: IntGraph, out_dir: str | Path, *, thresholds: str = "auto", fifo_depth: int = 16
) -> RtlDesign:
    """Write the Verilog design of ``graph`` into ``out_dir``: kernels, ``top.v``, ROMs.

    ``thresholds``: "auto" (binary search from 16 thresholds per row), "parallel" or "binary".
    ``fifo_depth``: words per FIFO between kernels; 16 (one ECP5 DPR16X4 / Xilinx LUTRAM deep)
    absorbs the sliding window's bursts, so that a frame leaves every slowest-kernel cycles.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if thresholds not in ("auto", "parallel", "binary"):
        from hwprune.errors import ConfigError

        raise ConfigError(f"thresholds '{thresholds}': use auto, parallel or binary")
    design = plan_rtl(graph, out, thresholds, fifo_depth)
    src = resource_dir("rtl_templates")
    for name in KERNEL_FILES:
        shutil.copyfile(src / name, out / name)
    (out / "top.v").write_text(render_top(design))
    roms = tuple(r for s in design.stages for r in s.roms)
    files = (*KERNEL_FILES, "top.v", *roms)
    return RtlDesign(
        design.stages,
        design.in_stream,
        design.out_stream,
        design.in_words,
        design.out_words,
        fifo_depth,
        files,
    )
