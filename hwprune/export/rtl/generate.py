"""IR -> Verilog: hwprune's hand-written kernels (``rtl_templates/*.v``) and a generated top.

Why hand-written Verilog-2005 kernels and a generated top rather than Amaranth or generated
kernels: the kernels are a handful of fixed micro-architectures (the HLS kernels' loops, one
iteration per cycle), so parameterised modules written once read and review like the HLS
library they mirror, and plain Verilog-2005 is the one language that Yosys, Verilator and any
vendor tool all accept without a front end to install. What differs per design -- the chain of
kernels, their parameters, the FIFOs between them and the weight/threshold ROM contents -- is
generated: ``top.v`` and ``*.hex`` ROM files (``$readmemh``).

The stages are the HLS back end's plan (:func:`hwprune.export.hls.plan_hls`): the same stages,
the same width adapters, the same stream words, so the two back ends are checked against the
same golden vectors and the same cycle counts. A chain needs one stream per stage; a residual
block's fork writes two streams and its add reads two, the one from the short branch through
the block's skip FIFO (the cost model's depth).

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

from hwprune.export.hls import Stream, _bits, _in_elems, _skip_fifo_depths, plan_hls, type_code
from hwprune.ir import (
    MVAU,
    VVAU,
    AddStreams,
    DataflowGraph,
    DuplicateStreams,
    GlobalAccPool,
    LabelSelect,
    MaxPool,
    Pad,
    SlidingWindow,
    Thresholding,
)
from hwprune.resources import resource_dir

TOP = "hwprune_top"
#: the kernel library, copied into every rtl/ folder
KERNEL_FILES = ("hwp_stream.v", "hwp_window.v", "hwp_mvau.v", "hwp_residual.v")
#: the IR node kinds (and the derived Pad kernel) that have an RTL kernel
RTL_NODES = (
    Pad,
    SlidingWindow,
    MVAU,
    VVAU,
    MaxPool,
    LabelSelect,
    Thresholding,
    DuplicateStreams,
    AddStreams,
    GlobalAccPool,
)
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
    ins: tuple[str, ...] = ()  # names of the streams read (ports in, in1)
    outs: tuple[str, ...] = ()  # names of the streams written (ports out, out1)


@dataclass(frozen=True)
class RtlFifo:
    """The FIFO of one stream of the top (``skip``: the IR FIFO node it is, else "")."""

    stream: Stream
    depth: int
    skip: str = ""


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
    fifos: tuple[RtlFifo, ...] = field(default=())

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


def acc_width(node: MVAU | VVAU) -> int:
    """Accumulator register width of the RTL MVAU (the HLS kernel's ``ap_int<ACCB + 1>``)."""
    return node.kernel_acc_bits + 1


def rtl_thresholds(node: MVAU | VVAU) -> np.ndarray:
    """Thresholds as the RTL compares them: XNOR rows on the popcount, all clipped into the
    accumulator's range + 1 (``-2^(AW-1) .. 2^(AW-1)``, which changes no comparison)."""
    assert node.thresholds is not None
    T = node.thresholds.astype(np.int64)
    if node.popcount:  # acc = 2 * popcount - MW: acc >= T  <=>  popcount >= ceil((T + MW) / 2)
        T = -((-(T + node.mw)) // 2)
    aw = acc_width(node)
    return np.clip(T, -(1 << (aw - 1)), 1 << (aw - 1))


def threshold_mode(node: MVAU | VVAU | Thresholding, mode: str) -> int:
    """0: parallel comparators, 1: pipelined binary search (``mode`` "auto" picks by count)."""
    nt = 0 if node.thresholds is None else int(node.thresholds.shape[1])
    if nt == 0 or mode == "parallel":
        return 0
    if mode == "binary":
        return 1
    return 1 if nt >= BINARY_FROM else 0


def _threshold_roms(
    name: str, T: np.ndarray, aw: int, tmode: int, out: Path
) -> tuple[dict[str, Any], list[str]]:
    """Write the threshold ROM files of ``T`` (NF, PE, NT), compared in ``aw`` signed bits
    (clipped by the caller): TMODE 0 one file of NF words, TMODE 1 one file per search stage
    and PE. Returns the ROM parameters (TFILE, TB, NB) and the file names."""
    nf, pe, nt = T.shape
    tb = aw + 1
    params: dict[str, Any] = {"TFILE": f"{name}_t", "TB": tb, "NB": 1}
    if tmode == 0:
        words = _pack_words(T.reshape(nf, pe * nt) & ((1 << tb) - 1), tb)
        fname = f"{name}_t.hex"
        (out / fname).write_text(_hex_lines(words, pe * nt * tb))
        return params, [fname]
    files = []
    nb = int(nt).bit_length()  # 2^NB - 1 >= NT
    pad = np.full((nf, pe, (1 << nb) - nt), 1 << (aw - 1), dtype=np.int64)
    Tp = np.concatenate([T, pad], axis=2)  # never-reached entries past NT
    for s in range(nb):
        j = nb - 1 - s
        idx = np.arange(1 << s) * (1 << (j + 1)) + (1 << j) - 1
        for p in range(pe):
            vals = (Tp[:, p, :][:, idx].reshape(-1)) & ((1 << tb) - 1)
            fname = f"{name}_t_{s:02d}_{p:02d}.hex"
            (out / fname).write_text(_hex_lines([int(v) for v in vals], tb))
            files.append(fname)
    params["NB"] = nb
    return params, files


def _mvau_roms(node: MVAU | VVAU, tmode: int, out: Path) -> tuple[dict[str, Any], list[str]]:
    """Write the ROM files of an MVAU/VVAU; return its ROM parameters and file names."""
    pe, simd = node.pe, node.simd
    sf, nf = node.mw // simd, node.mh // pe
    wb = _bits(node.wtype)
    enc = node.wtype.encode(node.weights).astype(np.int64).reshape(nf, pe, sf, simd)
    words = _pack_words(enc.transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd), wb)
    wfile = f"{node.name}_w.hex"
    (out / wfile).write_text(_hex_lines(words, pe * simd * wb))
    aw = acc_width(node)
    if node.thresholds is None:
        return {"WFILE": wfile, "TFILE": f"{node.name}_t", "TB": aw + 1, "NB": 1}, [wfile]
    T = rtl_thresholds(node).reshape(nf, pe, -1)  # row nf * PE + p
    params, files = _threshold_roms(node.name, T, aw, tmode, out)
    return {"WFILE": wfile, **params}, [wfile, *files]


def _mvau_stage(node: MVAU | VVAU, cur: Stream, out_s: Stream, tmode_opt: str, out: Path):
    tmode = threshold_mode(node, tmode_opt)
    rom_params, files = _mvau_roms(node, tmode, out)
    nt = 0 if node.thresholds is None else int(node.thresholds.shape[1])
    params = {
        "MW": node.mw,
        "MH": node.mh,
        "SIMD": node.simd,
        "PE": node.pe,
        "NVEC": node.n_vec,
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
        "XNOR": int(node.popcount),
        "RES": 1 if node.mul_impl == "dsp" else 0,
        "VV": int(isinstance(node, VVAU)),
        "WFILE": rom_params["WFILE"],
        "TFILE": rom_params["TFILE"],
    }
    return "hwp_mvau", params, tuple(files)


def _node_stage(node: Any, ins: list[Stream], outs: list[Stream], tmode: str, out: Path):
    """(module, parameters, ROM files) of one IR node reading ``ins`` and writing ``outs``."""
    cur, out_s = ins[0], outs[0]
    if isinstance(node, Pad):
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
    if isinstance(node, SlidingWindow):
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
    if isinstance(node, (MVAU, VVAU)):
        return _mvau_stage(node, cur, out_s, tmode, out)
    if isinstance(node, MaxPool):  # reads the windows of its <pool>_window stage
        oh, ow, c = node.out_shape
        return (
            "hwp_maxpool",
            {"OH": oh, "OW": ow, "C": c, "K": node.kernel, "B": cur.bits, "T": cur.type},
            (),
        )
    if isinstance(node, LabelSelect):
        params = {"N": node.labels, "PE": node.pe, "B": cur.bits, "T": cur.type, "OB": out_s.bits}
        if not node.offsets:
            return "hwp_labelsel", params, ()
        ofb = node.offset_bits
        words = _pack_words(np.asarray(node.offsets, dtype=np.int64).reshape(-1, node.pe), ofb)
        ofile = f"{node.name}_o.hex"
        (out / ofile).write_text(_hex_lines(words, node.pe * ofb))
        params.update(KB=node.key_bits, SHIFT=node.shift, OFB=ofb, OFILE=ofile)
        return "hwp_labelsel", params, (ofile,)
    return _residual_stage(node, ins, outs, tmode, out)


def _residual_stage(node: Any, ins: list[Stream], outs: list[Stream], tmode: str, out: Path):
    """(module, parameters, ROM files) of a fork, add, thresholding or global pool."""
    cur, out_s = ins[0], outs[0]
    words = int(np.prod(node.out_shape)) // out_s.elems
    if isinstance(node, DuplicateStreams):
        return "hwp_dup", {"W": cur.width, "N": words}, ()
    if isinstance(node, AddStreams):
        a, b = ins
        params = {"N": words, "PE": node.pe, "IB0": a.bits, "IT0": a.type, "IB1": b.bits}
        params.update(IT1=b.type, OB=out_s.bits, P=node.muls[0], Q=node.muls[1])
        return "hwp_add", params, ()
    if isinstance(node, Thresholding):
        mode = threshold_mode(node, tmode)
        aw = cur.bits + 1  # every input value, in signed bits
        T = np.clip(node.thresholds.astype(np.int64), -(1 << (aw - 1)), 1 << (aw - 1))
        nt = int(T.shape[1])
        roms, files = _threshold_roms(node.name, T.reshape(-1, node.pe, nt), aw, mode, out)
        params = {"C": node.channels, "PE": node.pe, "NVEC": node.n_vec, "IB": cur.bits}
        params.update(IT=cur.type, NT=nt, TMODE=mode, NB=roms["NB"], TB=roms["TB"])
        params.update(OB=out_s.bits, OT=out_s.type, OBIAS=node.out_bias, TFILE=roms["TFILE"])
        return "hwp_thresh", params, tuple(files)
    if isinstance(node, GlobalAccPool):
        h, w, c = node.in_shape
        t = node.out_type
        params = {"HW": h * w, "C": c, "PE": node.pe, "IB": cur.bits, "IT": cur.type}
        params.update(AW=node.acc_type.bits + 1, SHIFT=node.shift)
        params.update(RND=int(node.rounding.upper() == "ROUND"), OMIN=t.min, OMAX=t.max)
        params.update(OB=out_s.bits, OT=out_s.type)
        return "hwp_gap", params, ()
    raise TypeError(f"no RTL kernel for {type(node).__name__}")


def _stage(name: str, kind: str, module: str, params: dict[str, Any], ins: list[Stream],
           outs: list[Stream], cycles: int, roms: tuple[str, ...] = ()) -> RtlStage:  # fmt: skip
    """An :class:`RtlStage` reading ``ins`` and writing ``outs``."""
    return RtlStage(
        name, kind, module, params, ins[0], outs[0], cycles, roms,
        tuple(s.name for s in ins), tuple(s.name for s in outs),
    )  # fmt: skip


def _skip_depths(graph: DataflowGraph, plan: Any, fifo_depth: int) -> dict[str, tuple[str, int]]:
    """Stream name -> (add, depth) of each residual block's skip FIFO (the stream from the short
    branch into the add): the graph's ``fifo_depth`` of the add if it has one, else the cost
    model's (as in the HLS top), never below ``fifo_depth``."""
    out: dict[str, tuple[str, int]] = {}
    if not any(isinstance(n, AddStreams) for n in graph.nodes):
        return out
    for stream, depth in _skip_fifo_depths(graph, plan).items():
        add = next(
            st.name for st in plan.stages if st.kind == "AddStreams" and f", {stream}, " in st.call
        )
        out[stream] = (add, max(depth, fifo_depth))
    return out


def plan_rtl(
    graph: DataflowGraph, out_dir: Path, thresholds: str = "auto", fifo_depth: int = 16
) -> RtlDesign:
    """Stages of the top (writing the ROM files into ``out_dir``), in the HLS plan's order.

    Walks the graph as :func:`~hwprune.export.hls.plan_hls` does (each node reads its
    producers' streams, a fork writes two) to know which streams every stage reads."""
    plan = plan_hls(graph)
    streams = {s.name: s for s in plan.streams}
    todo = [st for st in plan.stages if st.kind not in ("axi_in", "axi_out")]
    stages: list[RtlStage] = []
    inp = graph.input
    assert inp is not None, "plan_rtl() builds a graph lowered from a model"
    producers = graph.producers()
    avail: dict[str, list[Stream]] = {inp.name: [plan.in_stream]}
    total = {inp.name: int(np.prod(inp.out_shape))}
    for node in graph.kernels():
        ins = []
        for p in producers[node.name]:
            s = avail[p].pop(0)
            if s.elems != _in_elems(node):  # the plan's width adapter
                st = todo.pop(0)
                assert st.kind == "WidthAdapt", (st.name, node.name)
                lcm = math.lcm(s.elems, st.out.elems)
                params = {"IN": s.elems, "OUT": st.out.elems, "L": lcm, "B": s.bits}
                params["G"] = total[p] // lcm
                name = st.name if all(x.name != st.name for x in stages) else f"{st.name}1"
                stages.append(
                    _stage(name, st.kind, "hwp_dwc", params, [s], [st.out], st.expected_cycles)
                )
                s = st.out
            ins.append(s)
        if isinstance(node, MaxPool):  # a max pool's window: FINN's depthwise SWG, SIMD = C
            st = todo.pop(0)
            h, w, c = node.in_shape
            k, b = node.kernel, ins[0].bits
            params = {"IH": h, "IW": w, "C": c, "SIMD": c, "K": k, "S": k, "B": b, "DW": 1}
            stages.append(
                _stage(st.name, st.kind, "hwp_swg", params, ins, [st.out], st.expected_cycles)
            )
            ins = [st.out]
        st = todo.pop(0)
        assert st.name == node.name, (st.name, node.name)
        outs = [st.out]
        if isinstance(node, DuplicateStreams):  # its second stream follows the first
            outs.append(streams[f"s{int(st.out.name[1:]) + 1}"])
        module, params, roms = _node_stage(node, ins, outs, thresholds, out_dir)
        stages.append(_stage(st.name, st.kind, module, params, ins, outs, st.expected_cycles, roms))
        avail[node.name] = outs
        total[node.name] = int(np.prod(node.out_shape))
    skip = _skip_depths(graph, plan, fifo_depth)
    fifos = [RtlFifo(plan.in_stream, fifo_depth)]
    for st in stages:
        for name in st.outs:
            add, depth = skip.get(name, ("", fifo_depth))
            label = add.removesuffix("_add") + "_fifo" if add else ""
            fifos.append(RtlFifo(streams[name], depth, label))
    return RtlDesign(
        tuple(stages),
        plan.in_stream,
        plan.out_stream,
        plan.in_words,
        plan.out_words,
        fifo_depth,
        fifos=tuple(fifos),
    )


def _param(v: Any) -> str:
    return f'"{v}"' if isinstance(v, str) else str(int(v))


def _ports(prefix: str, fifo: int, side: str) -> str:
    """Port connections of a kernel's stream port ``prefix`` to FIFO ``fifo``: its read side
    (``side`` "o", the kernel's input) or its write side ("i", the kernel's output)."""
    return (
        f".{prefix}_valid(f{fifo}_{side}v), .{prefix}_ready(f{fifo}_{side}r), "
        f".{prefix}_data(f{fifo}_{side}d)"
    )


def render_top(design: RtlDesign) -> str:
    """Verilog of the top: a FIFO on every stream (a residual block's skip FIFO on the stream
    from its short branch into the add), the kernels between them; ``iters`` = kernel loops."""
    nk = len(design.stages)
    iw, ow = design.in_stream.width, design.out_stream.width
    lines = [
        f"// {TOP}: generated by hwprune from the dataflow graph; kernels in hwp_*.v.",
        "// Streams: valid/ready words; a FIFO on every stream between two kernels (and at both",
        "// ends). With HWP_SIM defined (Verilator) iters[k] / dones[k] say that kernel k issued",
        f"// a loop iteration / the last iteration of a frame this cycle ({nk} kernels).",
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
    fifos = design.fifos or tuple(
        RtlFifo(s, design.fifo_depth)
        for s in [design.stages[0].in_stream] + [st.out_stream for st in design.stages]
    )
    index = {f.stream.name: i for i, f in enumerate(fifos)}
    for i, f in enumerate(fifos):
        w = f.stream.width
        if f.skip:
            lines.append(f"    // skip FIFO {f.skip}: {f.depth} words")
        lines += [
            f"    wire f{i}_iv, f{i}_ir, f{i}_ov, f{i}_or;",
            f"    wire [{w - 1}:0] f{i}_id, f{i}_od;",
            f"    hwp_fifo #(.W({w}), .DEPTH({f.depth})) u_fifo{i} (",
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
        ins = st.ins or (st.in_stream.name,)
        outs = st.outs or (st.out_stream.name,)
        ps = ",\n".join(f"        .{n}({_param(v)})" for n, v in st.params.items())
        conns = [_ports("in" if j == 0 else f"in{j}", index[s], "o") for j, s in enumerate(ins)]
        conns += [_ports("out" if j == 0 else f"out{j}", index[s], "i") for j, s in enumerate(outs)]
        lines += [
            f"    // {st.name}: {st.kind}, {st.cycles} iterations per frame",
            f"    {st.module} #(\n{ps}\n    ) u_{st.name} (",
            "        .clk(clk), .rst(rst),",
            *(f"        {c}," for c in conns),
            f"        .iter(iters[{k}]), .done(dones[{k}]));",
        ]
    last = index[(design.stages[-1].outs or (design.stages[-1].out_stream.name,))[0]]
    lines += [
        f"    assign out_valid = f{last}_ov;",
        f"    assign f{last}_or = out_ready;",
        f"    assign out_data = f{last}_od;",
        "endmodule",
        "",
    ]
    return "\n".join(lines)


def write_rtl(
    graph: DataflowGraph, out_dir: str | Path, *, thresholds: str = "auto", fifo_depth: int = 16
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
        design.fifos,
    )
