"""IR -> Vitis HLS project of hwprune's own kernels (``hls_templates/``), and golden vectors.

:func:`plan_hls` turns a folded, lowered :class:`~hwprune.ir.DataflowGraph` into a list of kernel
stages joined by streams (inserting width adapters where a producer's word differs from its
consumer's); :func:`write_hls_project` renders the templates: ``hwp_kernels.hpp`` (the kernel
library), ``params_*.hpp`` (weights and thresholds per layer), ``top.hpp``/``top.cpp`` (AXI-stream
top level with ``#pragma HLS DATAFLOW``), ``testbench.cpp``, ``run_hls.tcl`` and, for Zynq
boards, ``block_design.tcl``. :func:`write_golden` stores the golden inputs, outputs and every
layer's integers for the testbench.

Example:
    >>> plan = write_hls_project(graph, "out/hls", part="xc7z020clg400-1")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwprune import __version__, ir
from hwprune.resources import resource_dir

TOP = "hwprune_top"


def type_code(t: ir.IntType) -> int:
    """Element type code of the kernels: 0 unsigned, 1 signed, 2 bipolar."""
    return 2 if t.bipolar else (1 if t.signed else 0)


#: kernels folded by a PE alone (beside the MVAU/VVAU, windows and label select)
PE_NODES = (ir.Thresholding, ir.DuplicateStreams, ir.AddStreams, ir.GlobalAccPool)


def res_code(node: ir.MVAU | ir.VVAU) -> str:
    """The ``RES`` template argument of an MVAU/VVAU kernel call: where its products are bound
    (``#pragma HLS BIND_OP ... impl=dsp`` or ``impl=fabric`` in ``hwp::lane_mul``).

    Example:
        >>> from hwprune.ir import MVAU
        >>> res_code(MVAU("fc0", 8, 4, 1, 2, "int", 8, "uint", 12, 2, "uint", res_type="lut"))
        'hwp::RES_LUT'
    """
    return "hwp::RES_DSP" if node.mul_impl == "dsp" else "hwp::RES_LUT"


def _axi_width(bits: int) -> int:
    """AXI-stream width: the next power of two >= 8 (what an AXI DMA accepts)."""
    return 1 << max(3, (bits - 1).bit_length())


@dataclass(frozen=True)
class Stream:
    """A stream between two stages: words of ``elems`` elements of ``bits`` bits."""

    name: str
    elems: int
    bits: int
    type: int

    @property
    def width(self) -> int:
        return self.elems * self.bits


@dataclass(frozen=True)
class Stage:
    """One kernel call of the top level."""

    name: str
    kind: str
    kernel_id: int
    layer_id: int  # -1 when the stage's output is not traced
    call: str
    out: Stream
    expected_cycles: int = 0


@dataclass(frozen=True)
class HlsPlan:
    """Stages and streams of the top level, and the I/O format of the AXI ports."""

    stages: tuple[Stage, ...]
    streams: tuple[Stream, ...]
    traced: tuple[tuple[str, int, int], ...]  # (layer name, elements per frame, golden bytes)
    in_stream: Stream
    in_words: int
    in_axi_width: int
    out_stream: Stream
    out_words: int
    out_axi_width: int
    params: tuple[str, ...] = field(default=())


def _in_elems(node: Any) -> int:
    if isinstance(node, ir.VVAU):
        return node.pe * node.simd
    if isinstance(node, (ir.Pad, ir.SlidingWindow, ir.MVAU)):
        return node.simd
    if isinstance(node, ir.MaxPool):
        return node.in_shape[2]
    if isinstance(node, (ir.LabelSelect, *PE_NODES)):
        return node.pe
    raise TypeError(type(node).__name__)


def _out_elems(node: Any) -> int:
    if isinstance(node, (ir.Pad, ir.SlidingWindow)):
        return node.simd
    if isinstance(node, (ir.MVAU, ir.VVAU, *PE_NODES)):
        return node.pe
    if isinstance(node, ir.MaxPool):
        return node.out_shape[2]
    return 1


def _bits(t: ir.IntType) -> int:
    return 1 if t.bipolar else t.bits


def golden_bytes(t: ir.IntType, values: np.ndarray | None = None) -> int:
    """Bytes per value in a golden file (signed little-endian)."""
    lo, hi = (t.min, t.max)
    if values is not None and values.size:
        lo, hi = min(lo, int(values.min())), max(hi, int(values.max()))
    for b in (1, 2, 4):
        if -(1 << (8 * b - 1)) <= lo and hi < (1 << (8 * b - 1)):
            return b
    return 8


class _Planner:
    """Builds the stages and streams of :func:`plan_hls`."""

    def __init__(self) -> None:
        self.streams: list[Stream] = []
        self.stages: list[Stage] = []
        self.traced: list[tuple[str, int, int]] = []
        self.kid = 0

    def new_stream(self, elems: int, t: ir.IntType) -> Stream:
        s = Stream(f"s{len(self.streams)}", elems, _bits(t), type_code(t))
        self.streams.append(s)
        return s

    def adapt(self, cur: Stream, need: int, total: int, name: str) -> Stream:
        """``cur`` re-packed into words of ``need`` elements (a width adapter when it differs)."""
        if need == cur.elems:
            return cur
        lcm = math.lcm(need, cur.elems)
        s = Stream(f"s{len(self.streams)}", need, cur.bits, cur.type)
        self.streams.append(s)
        call = (
            f"hwp::width_adapt<{self.kid}, {cur.elems}, {need}, {lcm}, {cur.bits}, "
            f"{total}>({cur.name}, {s.name});"
        )
        groups = total // lcm
        if need % cur.elems == 0 or cur.elems % need == 0:
            cycles = groups * max(lcm // cur.elems, lcm // need)
        else:
            cycles = groups * (lcm // cur.elems + lcm // need)
        self.stages.append(Stage(f"{name}_dwc", "WidthAdapt", self.kid, -1, call, s, cycles))
        self.kid += 1
        return s


def plan_hls(graph: ir.DataflowGraph) -> HlsPlan:
    """Kernel stages, streams and I/O widths of the HLS top level for a folded graph.

    Each kernel (:meth:`~hwprune.ir.DataflowGraph.kernels`) reads the streams of its producers
    (:meth:`~hwprune.ir.DataflowGraph.producers`): a residual block's fork writes one stream
    per branch, its add reads both (the short branch through the skip FIFO)."""
    nodes = list(graph.kernels())
    inp = graph.input
    assert inp is not None, "plan_hls() builds a graph lowered from a model"
    producers = graph.producers()
    pl = _Planner()
    first = pl.new_stream(_in_elems(nodes[0]), inp.out_type)
    total_in = int(np.prod(inp.out_shape))
    pl.stages.append(Stage("axi_in", "axi_in", pl.kid, -1, "", first))
    pl.kid += 1
    avail: dict[str, list[Stream]] = {inp.name: [first]}
    total: dict[str, int] = {inp.name: total_in}
    cur = first
    for node in nodes:
        ins = [
            pl.adapt(avail[p].pop(0), _in_elems(node), total[p], node.name)
            for p in producers[node.name]
        ]
        out_t = node.out_type
        if isinstance(node, ir.LabelSelect):
            out_t = ir.IntType.for_range(0, max(node.labels - 1, 1))
        outs = [pl.new_stream(_out_elems(node), out_t)]
        if isinstance(node, ir.DuplicateStreams):
            outs.append(pl.new_stream(_out_elems(node), out_t))
        layer_id = -1
        traced = (ir.MVAU, ir.VVAU, ir.MaxPool, ir.LabelSelect, *PE_NODES)
        if isinstance(node, traced) and not isinstance(node, ir.DuplicateStreams):
            layer_id = len(pl.traced)
            size = int(np.prod(node.out_shape))
            pl.traced.append((node.name, size, golden_bytes(out_t)))
        expected = node.cycles()
        if isinstance(node, ir.MaxPool):  # FINN's pool: a window generator, then the pool
            ins = [_pool_window(pl, node, ins[0])]
            expected = node.pool_cycles()
        call = _call(node, pl.kid, layer_id, ins, outs)
        pl.stages.append(Stage(node.name, node.op, pl.kid, layer_id, call, outs[0], expected))
        pl.kid += 1
        avail[node.name] = outs
        total[node.name] = int(np.prod(node.out_shape))
        cur = outs[0]
    out_words = total[nodes[-1].name] // cur.elems
    pl.stages.append(Stage("axi_out", "axi_out", pl.kid, -1, "", cur))
    return HlsPlan(
        tuple(pl.stages),
        tuple(pl.streams),
        tuple(pl.traced),
        first,
        total_in // first.elems,
        _axi_width(first.width),
        cur,
        out_words,
        _axi_width(cur.width),
    )


def _pool_window(pl: _Planner, node: ir.MaxPool, cur: Stream) -> Stream:
    """The window-generator stage ``<pool>_window`` of a max pool; returns its output."""
    h, w, c = node.in_shape
    s = Stream(f"s{len(pl.streams)}", c, cur.bits, cur.type)
    pl.streams.append(s)
    call = (
        f"hwp::pool_window<{pl.kid}, {h}, {w}, {c}, {node.kernel}, {cur.bits}>"
        f"({cur.name}, {s.name});"
    )
    name = f"{node.name}_window"
    pl.stages.append(Stage(name, "PoolWindow", pl.kid, -1, call, s, node.window_cycles()))
    pl.kid += 1
    return s


def _call(node: Any, kid: int, layer_id: int, ins: list[Stream], outs: list[Stream]) -> str:
    """The kernel call of one stage (inputs ``ins``, outputs ``outs``)."""
    cur, out = ins[0], outs[0]
    if isinstance(node, ir.Pad):
        h, w, c = node.in_shape
        return (
            f"hwp::pad<{kid}, {h}, {w}, {c}, {node.simd}, {node.pad}, {cur.bits}, "
            f"{cur.type}, {out.bits}, {out.type}>({cur.name}, {out.name});"
        )
    if isinstance(node, ir.SlidingWindow):
        h, w, c = node.in_shape
        return (
            f"hwp::sliding_window<{kid}, {h}, {w}, {c}, {node.simd}, {node.kernel}, "
            f"{node.stride}, {cur.bits}, {int(node.depthwise)}>({cur.name}, {out.name});"
        )
    if isinstance(node, ir.VVAU):
        return _dot_call("vvau", f"{kid}, {layer_id}, {node.channels}, {node.mw}", node, cur, out)
    if isinstance(node, ir.MVAU):
        head = f"{kid}, {layer_id}, {node.mw}, {node.mh}"
        return _dot_call("mvau", head, node, cur, out, int(node.xnor))
    if isinstance(node, ir.MaxPool):  # reads the windows of its _pool_window stage
        oh, ow, c = node.out_shape
        return (
            f"hwp::maxpool<{kid}, {layer_id}, {oh}, {ow}, {c}, {node.kernel}, {cur.bits}, "
            f"{cur.type}>({cur.name}, {out.name});"
        )
    if isinstance(node, ir.LabelSelect):
        keyed = f", {node.key_bits}, {node.shift}, true" if node.offsets else ""
        table = f", {node.name}_o" if node.offsets else ""
        return (
            f"hwp::label_select<{kid}, {layer_id}, {node.labels}, {node.pe}, "
            f"{cur.bits}, {cur.type}, {out.bits}{keyed}>({cur.name}, {out.name}{table});"
        )
    return _residual_call(node, kid, layer_id, ins, outs)


def _dot_call(
    kernel: str, head: str, node: ir.MVAU | ir.VVAU, cur: Stream, out: Stream, *flags: int
) -> str:
    """An ``hwp::mvau``/``hwp::vvau`` call: ``head`` (kernel and layer ids, the shape), then
    what the two kernels share: SIMD, PE, vectors, input, weight and accumulator types,
    thresholds, output type and bias, ``flags`` (an MVAU's XNOR), the weight memory's limb
    count and the multiplier resource; then the streams and the weight and threshold memories."""
    nt = 0 if node.thresholds is None else int(node.thresholds.shape[1])
    w = _bits(node.wtype)
    obias = node.out_bias if nt else 0
    flag = "".join(f"{f}, " for f in flags)
    return (
        f"hwp::{kernel}<{head}, {node.simd}, {node.pe}, {node.n_vec}, {cur.bits}, {cur.type}, "
        f"{w}, {type_code(node.wtype)}, {node.kernel_acc_bits}, {nt}, {out.bits}, {out.type}, "
        f"{obias}, {flag}{limb_layout(node.simd * w)[2]}, {res_code(node)}>"
        f"({cur.name}, {out.name}, {node.name}_w, {node.name}_t);"
    )


def _residual_call(
    node: Any, kid: int, layer_id: int, ins: list[Stream], outs: list[Stream]
) -> str:
    """Kernel calls of the residual-block and global-pool stages."""
    cur, out = ins[0], outs[0]
    words = int(np.prod(node.out_shape)) // out.elems
    if isinstance(node, ir.DuplicateStreams):
        return (
            f"hwp::duplicate<{kid}, {words}, {cur.width}>({cur.name}, {out.name}, {outs[1].name});"
        )
    if isinstance(node, ir.AddStreams):
        a, b = ins
        return (
            f"hwp::add_streams<{kid}, {layer_id}, {words}, {node.pe}, {a.bits}, {a.type}, "
            f"{b.bits}, {b.type}, {out.bits}, {node.muls[0]}, {node.muls[1]}>"
            f"({a.name}, {b.name}, {out.name});"
        )
    if isinstance(node, ir.Thresholding):
        nt = int(node.thresholds.shape[1])
        return (
            f"hwp::thresholding<{kid}, {layer_id}, {node.channels}, {node.pe}, {node.n_vec}, "
            f"{cur.bits}, {cur.type}, {nt}, {out.bits}, {out.type}, {node.out_bias}>"
            f"({cur.name}, {out.name}, {node.name}_t);"
        )
    if isinstance(node, ir.GlobalAccPool):
        h, w, c = node.in_shape
        t = node.out_type
        return (
            f"hwp::global_acc_pool<{kid}, {layer_id}, {h * w}, {c}, {node.pe}, {cur.bits}, "
            f"{cur.type}, {node.acc_type.bits}, {node.shift}, "
            f"{int(node.rounding == 'ROUND')}, {t.min}, {t.max}, {out.bits}, {out.type}>"
            f"({cur.name}, {out.name});"
        )
    raise TypeError(type(node).__name__)


# --------------------------------------------------------------------------- parameters


_LIMB_TYPES = ((8, "uint8_t"), (16, "uint16_t"), (32, "uint32_t"), (64, "uint64_t"))


def limb_layout(width: int) -> tuple[int, str, int]:
    """(limb bits, C type, limbs per word) used to store ``width``-bit weight words."""
    for bits, ctype in _LIMB_TYPES:
        if width <= bits:
            return bits, ctype, 1
    return 64, "uint64_t", (width + 63) // 64


def threshold_ctype(values: np.ndarray) -> str:
    """Smallest signed C integer type holding every threshold."""
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
    for bits in (8, 16, 32):
        if -(1 << (bits - 1)) <= lo and hi < (1 << (bits - 1)):
            return f"int{bits}_t"
    return "int64_t"


def _pack(enc: np.ndarray, bits: int) -> list[list[str]]:
    """Words made of ``enc`` (nwords, n) raw elements of ``bits`` bits: C literals of limbs."""
    nwords, n = enc.shape
    width = n * bits
    lb, _, nl = limb_layout(width)
    bitarr = ((enc[:, :, None] >> np.arange(bits, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    padded = np.zeros((nwords, nl * 64), dtype=np.uint8)
    padded[:, :width] = bitarr.reshape(nwords, width)
    limbs = np.packbits(padded, axis=1, bitorder="little").view("<u8").reshape(nwords, nl)
    if lb < 64:
        limbs = limbs & np.uint64((1 << lb) - 1)
    suffix = "ULL" if lb == 64 else "u"
    return [[f"{v:#x}{suffix}" for v in row] for row in limbs.tolist()]


def mvau_params(node: ir.MVAU | ir.VVAU) -> dict[str, Any]:
    """Per-PE weight words and thresholds of an MVAU in kernel layout (for the params header)."""
    pe, simd = node.pe, node.simd
    sf, nf = node.mw // simd, node.mh // pe
    wb = _bits(node.wtype)
    enc = node.wtype.encode(node.weights).reshape(nf, pe, sf, simd)  # row = nf*PE + p
    per_pe = []
    for p in range(pe):
        words = enc[:, p, :, :].reshape(nf * sf, simd)
        per_pe.append(_pack(words, wb))
    thr = None
    tctype = "int8_t"
    accb = node.kernel_acc_bits
    if node.thresholds is not None:
        T = node.thresholds.astype(np.int64)
        if node.popcount:  # acc = 2 * popcount - MW: acc >= T  <=>  popcount >= ceil((T + MW) / 2)
            T = np.clip(-((-(T + node.mw)) // 2), 0, node.mw + 1)
        tctype = threshold_ctype(T)
        T = T.reshape(nf, pe, -1)
        thr = [[[int(v) for v in T[f, p]] for f in range(nf)] for p in range(pe)]
    lb, ltype, nl = limb_layout(simd * wb)
    return {
        "name": node.name,
        "pe": pe,
        "wmem": nf * sf,
        "wwidth": simd * wb,
        "weights": per_pe,
        "limb_type": ltype,
        "limbs": nl,
        "tmem": nf,
        "nt": 0 if thr is None else len(thr[0][0]),
        "accb": accb,
        "thresholds": thr,
        "thr_type": tctype,
    }


def thresholding_params(node: ir.Thresholding) -> dict[str, Any]:
    """Thresholds of a standalone thresholding node in kernel layout ``[pe][nf][t]``."""
    pe = node.pe
    T = node.thresholds.astype(np.int64).reshape(node.channels // pe, pe, -1)
    return {
        "name": node.name,
        "pe": pe,
        "tmem": node.channels // pe,
        "nt": int(T.shape[2]),
        "thr_type": threshold_ctype(T),
        "thresholds": [[[int(v) for v in T[f, p]] for f in range(T.shape[0])] for p in range(pe)],
    }


def offset_params(node: ir.LabelSelect) -> dict[str, Any]:
    """A label select's offsets in kernel layout ``[pe][nf]`` (label ``nf * PE + pe``).

    Example:
        >>> p = offset_params(ir.LabelSelect("ls", 4, 8, pe=2, offsets=(2, -3, 4, 0), shift=1))
        >>> p["offsets"], p["ctype"]
        ([[2, 4], [-3, 0]], 'int8_t')
    """
    assert node.offsets is not None, f"{node.name} has no offsets"
    o = np.asarray(node.offsets, dtype=np.int64).reshape(-1, node.pe)
    return {
        "name": node.name,
        "pe": node.pe,
        "nf": int(o.shape[0]),
        "shift": node.shift,
        "ctype": threshold_ctype(o),
        "offsets": [[int(v) for v in o[:, p]] for p in range(node.pe)],
    }


def _skip_fifo_depths(graph: ir.DataflowGraph, plan: HlsPlan) -> dict[str, int]:
    """Stream name -> depth of each residual block's skip FIFO (the cost model's, in words of
    the stream feeding the add from the short branch)."""
    stage_in: dict[str, str] = {}
    for st in plan.stages:
        if st.kind == "AddStreams":
            m = re.search(r"\(([^,]+), ([^,]+), ", st.call)
            if m:
                stage_in[st.name] = m.group(2)
    out: dict[str, int] = {}
    for n in graph.nodes:
        if isinstance(n, ir.AddStreams) and n.name in stage_in:
            fifo = graph.node(n.fifo)
            stream = next(s for s in plan.streams if s.name == stage_in[n.name])
            out[stream.name] = max(2, math.ceil(fifo.depth * fifo.width / stream.width))
    return out


def _env():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("hls_templates"))),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def write_hls_project(
    graph: ir.DataflowGraph,
    out_dir: str | Path,
    *,
    part: str = "xc7z020clg400-1",
    clock_mhz: float = 100.0,
    board: str | None = None,
    zynq: bool = True,
) -> HlsPlan:
    """Render the HLS project of ``graph`` into ``out_dir`` and return its plan."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = _env()
    plan = plan_hls(graph)
    keyed = [n for n in graph.nodes if isinstance(n, ir.LabelSelect) and n.offsets]
    ctx: dict[str, Any] = {
        "version": __version__,
        "top": TOP,
        "plan": plan,
        "graph": graph,
        "part": part,
        "clock_mhz": clock_mhz,
        "period_ns": round(1000.0 / clock_mhz, 3),
        "board": board,
        "mvaus": [n.name for n in graph.mvaus()],
        "thresholdings": [n.name for n in graph.nodes if isinstance(n, ir.Thresholding)],
        "label_offsets": [n.name for n in keyed],
        "fifo_depth": _skip_fifo_depths(graph, plan),
    }
    (out / "hwp_kernels.hpp").write_text(env.get_template("hwp_kernels.hpp.j2").render(**ctx))
    params_t = env.get_template("params.hpp.j2")
    for node in graph.mvaus():
        (out / f"params_{node.name}.hpp").write_text(params_t.render(p=mvau_params(node), **ctx))
    thr_t = env.get_template("params_thresholds.hpp.j2")
    for node in graph.nodes:
        if isinstance(node, ir.Thresholding):
            (out / f"params_{node.name}.hpp").write_text(
                thr_t.render(p=thresholding_params(node), **ctx)
            )
    off_t = env.get_template("params_offsets.hpp.j2")
    for node in keyed:
        (out / f"params_{node.name}.hpp").write_text(off_t.render(p=offset_params(node), **ctx))
    for name in ("top.hpp", "top.cpp", "testbench.cpp", "run_hls.tcl"):
        (out / name).write_text(env.get_template(f"{name}.j2").render(**ctx))
    if zynq:
        (out / "block_design.tcl").write_text(env.get_template("block_design.tcl.j2").render(**ctx))
    return plan


# --------------------------------------------------------------------------- golden vectors


def write_golden(
    graph: ir.DataflowGraph,
    x_int: np.ndarray,
    layers: dict[str, np.ndarray],
    output: np.ndarray,
    out_dir: str | Path,
) -> int:
    """Write golden files for the testbench; returns the number of samples.

    ``x_int``: integer inputs (batch, NHWC or flat); ``layers``: the executor's integer output
    of every node; ``output``: labels (batch,) or scores (batch, classes).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = plan_hls(graph)
    n = int(x_int.shape[0])
    np.asarray(x_int, dtype="<i4").reshape(n, -1).tofile(out / "input.bin")
    np.asarray(output, dtype="<i4").reshape(n, -1).tofile(out / "output.bin")
    lines = [f"samples {n}"]
    for name, size, nbytes in plan.traced:
        v = np.asarray(layers[name], dtype=np.int64).reshape(n, -1)
        assert v.shape[1] == size, (name, v.shape, size)
        v.astype(f"<i{nbytes}").tofile(out / f"{name}.bin")
        lines.append(f"layer {name} {size} {nbytes}")
    (out / "manifest.txt").write_text("\n".join(lines) + "\n")
    np.save(out / "inputs.npy", np.asarray(x_int, dtype=np.int64))
    np.save(out / "expected.npy", np.asarray(output, dtype=np.int64))
    return n
