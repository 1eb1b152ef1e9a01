"""Read a lowered QONNX model (nodes of the ``hwprune`` domain) into the IR.

The lowering (:mod:`hwprune.export.lower`, :mod:`hwprune.export.lower_residual`) rewrites the
QONNX graph into integer nodes; :func:`extract_graph` turns them into IR nodes
(:mod:`hwprune.ir.nodes`, each with its integer payload, :class:`~hwprune.ir.Export`) in stream
order and one :class:`~hwprune.ir.DataflowGraph`: a zero padding becomes its window's ``pad``,
a residual block its fork, long branch, short branch, skip FIFO and add (IR names ``res<k>_*``).

Example:
    >>> graph = extract_graph(lower_onnx(load_qonnx("tfc.qonnx.onnx")))  # doctest: +SKIP
    >>> [n.op for n in graph.nodes]                                       # doctest: +SKIP
    ['MVAU', 'MVAU', 'MVAU', 'MVAU', 'LabelSelect']
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import onnx
from qonnx.core.modelwrapper import ModelWrapper

from hwprune import ir
from hwprune.errors import LoweringError
from hwprune.export.onnx_nodes import DOMAIN, _attrs, _info, _where
from hwprune.ir.dtypes import IntType

#: a zero padding read back, waiting for its window: (pad, (H, W, C) before padding, type)
_PadInfo = tuple[int, tuple[int, int, int], IntType]


def _export(model: ModelWrapper, n: onnx.NodeProto, **more: Any) -> ir.Export:
    """The common payload of a lowered node: its output type, shape, scale and QONNX tensor."""
    info = _info(n)
    a = info["attrs"]
    shape = tuple(int(x) for x in info["shape"])
    return ir.Export(
        out_type=info["type"],
        out_shape=shape,
        out_scale=float(info["scale"]),
        qonnx_tensor=str(a.get("qonnx_tensor", "")),
        **more,
    )


def _input(n: onnx.NodeProto) -> ir.GraphInput:
    info = _info(n)
    a = info["attrs"]
    t: IntType = info["type"]
    return ir.GraphInput(
        n.name,
        tuple(int(x) for x in info["shape"]),
        t,
        float(info["scale"]),
        str(a.get("qonnx_tensor", "")),
        tuple(x for x in a.get("host_preprocessing", []) if x),
        (int(a.get("qmin", t.min)), int(a.get("qmax", t.max))),
    )


def _window(model: ModelWrapper, n: onnx.NodeProto, pad: _PadInfo | None) -> ir.SlidingWindow:
    a = _attrs(n)
    ex = _export(model, n)
    if pad is not None:
        p, (h, w, c), t = pad
    else:
        p, t = 0, ex.out_type
        h, w, c = (int(x) for x in a["in_shape"])
    assert t is not None
    return ir.SlidingWindow(
        n.name,
        c,
        (h, w),
        int(a["kernel"]),
        int(a["stride"]),
        p,
        t.bits,
        t.kind,
        depthwise=bool(a.get("depthwise", 0)),
        export=ex,
    )


def _dot_product(model: ModelWrapper, n: onnx.NodeProto) -> ir.MVAU | ir.VVAU:
    """The IR's MVAU (or VVAU) of a lowered ``IntMVAU`` (``IntVVAU``), integer weights attached."""
    a = _attrs(n)
    W = np.asarray(model.get_initializer(n.input[1]), dtype=np.int64)
    T = None
    if len(n.input) > 2:
        T = np.asarray(model.get_initializer(n.input[2]), dtype=np.int64)
    in_t, wt, acc_t = (IntType.from_name(a[k]) for k in ("in_type", "wtype", "acc_type"))
    ex = _export(
        model,
        n,
        in_type=in_t,
        in_shape=tuple(int(x) for x in a["in_shape"]),
        acc_type=acc_t,
        out_bias=int(a.get("out_bias", 0)),
        source=str(a.get("source", "")),
        score_scale=tuple(float(x) for x in a.get("score_scale", [])),
        score_bias=tuple(float(x) for x in a.get("score_bias", [])),
    )
    assert ex.out_type is not None
    out = (None, "int") if T is None else (ex.out_type.bits, ex.out_type.kind)
    common = dict(weights=W, thresholds=T, export=ex)
    nvec = int(a["nvec"])
    if n.op_type == "IntVVAU":
        return ir.VVAU(
            n.name, W.shape[0], int(a["kernel"]), nvec, wt.bits, wt.kind, in_t.bits, in_t.kind,
            acc_t.bits, *out, **common,
        )  # fmt: skip
    xnor = bool(a.get("xnor", 0))
    # an XNOR unit accumulates a popcount in [0, MW] (as the HLS kernel does)
    acc_bits = int(W.shape[1] + 1).bit_length() if xnor else acc_t.bits
    return ir.MVAU(
        n.name, W.shape[1], W.shape[0], nvec, wt.bits, wt.kind, in_t.bits, in_t.kind, acc_bits,
        *out, conv=bool(a.get("conv", 0)), **common,
    )  # fmt: skip


def to_ir_node(model: ModelWrapper, n: onnx.NodeProto, pad: _PadInfo | None = None) -> Any:
    """The IR node of one lowered node (not ``IntInput``, ``IntPad``, ``IntFlatten`` or
    ``IntAddStreams``, which the graph readers take apart); ``pad``: the padding in front of a
    window."""
    a = _attrs(n)
    op = n.op_type
    if op == "IntSlidingWindow":
        return _window(model, n, pad)
    if op in ("IntMVAU", "IntVVAU"):
        return _dot_product(model, n)
    ex = _export(model, n)
    t = ex.out_type
    assert t is not None
    if op == "IntMaxPool":
        h, w, c = (int(x) for x in a["in_shape"])
        return ir.MaxPool(n.name, c, (h, w), int(a["kernel"]), t.bits, t.kind, export=ex)
    if op == "IntLabelSelect":
        it = IntType.from_name(a["in_type"])
        ex = dataclasses.replace(ex, in_type=it)
        offsets = tuple(int(v) for v in a["offsets"]) if "offsets" in a else None
        return ir.LabelSelect(
            n.name, int(a["num_labels"]), it.bits, 1, offsets, int(a.get("shift", 0)), export=ex
        )
    if op == "IntDuplicateStreams":
        shape = ex.out_shape
        nvec = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        return ir.DuplicateStreams(n.name, shape[-1], nvec, t.bits, t.kind, export=ex)
    if op == "IntThresholding":
        T = np.asarray(model.get_initializer(n.input[1]), dtype=np.int64)
        it = IntType.from_name(a["in_type"])
        ex = dataclasses.replace(ex, in_type=it, out_bias=int(a["out_bias"]))
        return ir.Thresholding(
            n.name, T.shape[0], int(a["nvec"]), it.bits, t.bits, t.kind, thresholds=T, export=ex
        )
    if op == "IntGlobalAccPool":
        h, w, c = (int(x) for x in a["in_shape"])
        it = IntType.from_name(a["in_type"])
        ex = dataclasses.replace(
            ex,
            in_type=it,
            acc_type=IntType.from_name(a["acc_type"]),
            rounding=str(a["rounding"]),
        )
        return ir.GlobalAccPool(
            n.name, c, (h, w), it.bits, it.kind, t.bits, int(a["shift"]), export=ex
        )
    raise LoweringError(f"{_where(n)}: unknown lowered node")


def _graph(
    model: ModelWrapper, inp: ir.GraphInput, nodes: list[Any], output: str
) -> ir.DataflowGraph:
    shape = inp.out_shape
    in_shape = (shape[2], shape[0], shape[1]) if len(shape) == 3 else (int(np.prod(shape)), 1, 1)
    t = inp.out_type
    kind = "bipolar" if t.bipolar else "uint"
    return ir.DataflowGraph(
        "design", in_shape, t.bits, tuple(nodes), input_kind=kind, input=inp, output=output
    )


def extract_graph(model: ModelWrapper, output: str = "label") -> ir.DataflowGraph:
    """Read the lowered ModelWrapper into a :class:`~hwprune.ir.DataflowGraph` (stream order;
    integer payload attached; folding all ones)."""
    if any(n.op_type == "IntDuplicateStreams" for n in model.graph.node):
        return _extract_branched(model, output)
    start = next(n for n in model.graph.node if n.op_type == "IntInput")
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in model.graph.node:
        for i in n.input[:1]:
            consumers.setdefault(i, []).append(n)
    nodes: list[Any] = []
    pad: _PadInfo | None = None
    nxt = consumers.get(start.output[0], [])
    cur = nxt[0] if nxt else None
    while cur is not None:
        if cur.op_type == "IntPad":
            pad = _pad_info(cur)
        elif cur.op_type != "IntFlatten":
            nodes.append(to_ir_node(model, cur, pad))
            pad = None
        nxt = consumers.get(cur.output[0], [])
        cur = nxt[0] if nxt else None
    return _graph(model, _input(start), nodes, output)


def _pad_info(n: onnx.NodeProto) -> _PadInfo:
    a = _attrs(n)
    h, w, c = (int(x) for x in a["in_shape"])
    return int(a["pad"]), (h, w, c), IntType.from_name(a.get("in_type", a["out_type"]))


# --------------------------------------------------------------------------- residual blocks


class _Reader:
    """The lowered model's integer nodes as a stream-ordered list, blocks laid out as the IR
    lays them out (fork, long branch, short branch, add)."""

    def __init__(self, model: ModelWrapper):
        self.model = model
        self.nodes = [n for n in model.graph.node if n.domain == DOMAIN]
        self.prod = {t: n for n in self.nodes for t in n.output}
        self.cons: dict[str, list[onnx.NodeProto]] = {}
        for n in self.nodes:
            data = n.input[:2] if n.op_type == "IntAddStreams" else n.input[:1]
            for t in data:
                self.cons.setdefault(t, []).append(n)
        self.order: list[onnx.NodeProto] = []
        self.blocks: dict[str, tuple[list[onnx.NodeProto], list[onnx.NodeProto], bool]] = {}

    def next(self, n: onnx.NodeProto, out: int = 0) -> onnx.NodeProto | None:
        c = self.cons.get(n.output[out], [])
        return c[0] if c else None

    def branch(self, first: onnx.NodeProto | None) -> tuple[list[onnx.NodeProto], Any]:
        """The nodes from ``first`` up to (not including) the add they reach, and that add."""
        path: list[onnx.NodeProto] = []
        n = first
        while n is not None and n.op_type != "IntAddStreams":
            if n.op_type == "IntDuplicateStreams":
                raise LoweringError(
                    f"{_where(n)} forks inside a residual branch; hwprune lowers residual blocks "
                    "whose branches are chains (no nested blocks)"
                )
            path.append(n)
            n = self.next(n)
        if n is None:
            where = _where(first) if first is not None else "a fork"
            raise LoweringError(f"the branch at {where} never joins an add")
        return path, n

    def walk(self) -> list[onnx.NodeProto]:
        """Stream order; ``blocks[add]`` = (long branch, short branch, whether the add's first
        input is the short branch)."""
        n: onnx.NodeProto | None = next(x for x in self.nodes if x.op_type == "IntInput")
        while n is not None:
            if n.op_type != "IntDuplicateStreams":
                self.order.append(n)
                n = self.next(n)
                continue
            (p0, add0), (p1, add1) = self.branch(self.next(n, 0)), self.branch(self.next(n, 1))
            if add0 is not add1:
                raise LoweringError(f"the two branches of {_where(n)} do not meet in one add")
            weights = [sum(x.op_type in ("IntMVAU", "IntVVAU") for x in p) for p in (p0, p1)]
            first_in = self.prod.get(add0.input[0])
            feeds0 = (p0[-1] if p0 else n) is first_in
            long_first = weights[0] > weights[1] or (weights[0] == weights[1] and feeds0)
            long, short = (p0, p1) if long_first else (p1, p0)
            self.order += [n, *long, *short, add0]
            self.blocks[add0.name] = (long, short, (p0 is short) == feeds0)
            n = self.next(add0)
        return self.order


def _ir_names(order: list[onnx.NodeProto], prod: dict[str, onnx.NodeProto]) -> dict[str, str]:
    """Lowered node name -> the name :func:`hwprune.ir.build_ir` gives the same block."""
    names: dict[str, str] = {}
    count = {"conv": 0, "fc": 0, "pool": 0, "res": 0, "gap": 0, "thr": 0}

    def take(what: str) -> str:
        k = count[what]
        count[what] += 1
        return f"{what}{k}"

    block = ""
    for n in order:
        op = n.op_type
        if op in ("IntMVAU", "IntVVAU"):
            conv = op == "IntVVAU" or bool(_attrs(n).get("conv", 0))
            new = take("conv" if conv else "fc")
            names[n.name] = new
            for suffix in ("_pad", "_swg"):
                names[n.name + suffix] = new + suffix
        elif op == "IntMaxPool":
            names[n.name] = take("pool")
        elif op == "IntGlobalAccPool":
            names[n.name] = take("gap")
        elif op == "IntDuplicateStreams":
            block = take("res")
            names[n.name] = f"{block}_dup"
        elif op == "IntAddStreams":
            names[n.name] = f"{block}_add"
        elif op == "IntThresholding":
            src = prod.get(n.input[0])
            after = src.op_type if src is not None else ""
            kind = {"IntDuplicateStreams": "skip", "IntAddStreams": "act"}.get(after)
            names[n.name] = f"{block}_{kind}" if kind and block else take("thr")
    return names


def _extract_branched(model: ModelWrapper, output: str) -> ir.DataflowGraph:
    """Read a lowered model with residual blocks (IR order and names)."""
    reader = _Reader(model)
    order = reader.walk()
    names = _ir_names(order, reader.prod)
    nodes: list[Any] = []
    by_name: dict[str, Any] = {}
    pad: _PadInfo | None = None
    inp: ir.GraphInput | None = None
    for n in order:
        if n.op_type == "IntInput":
            inp = _input(n)
        elif n.op_type == "IntPad":
            pad = _pad_info(n)
        elif n.op_type == "IntAddStreams":
            nodes += _add(model, n, reader, names, by_name)
        elif n.op_type != "IntFlatten":
            node = dataclasses.replace(to_ir_node(model, n, pad), name=names.get(n.name, n.name))
            pad = None
            nodes.append(node)
            by_name[n.name] = node
    assert inp is not None
    return _graph(model, inp, nodes, output)


def _add(
    model: ModelWrapper,
    n: onnx.NodeProto,
    reader: _Reader,
    names: dict[str, str],
    by_name: dict[str, Any],
) -> list[Any]:
    """The skip FIFO and the :class:`~hwprune.ir.AddStreams` of a block's add (the branches'
    IR nodes in ``by_name``, by lowered name)."""
    a = _attrs(n)
    long_p, short_p, swap = reader.blocks[n.name]
    ta, tb = (IntType.from_name(t) for t in a["in_types"])
    p, q = (int(m) for m in a.get("mul", (1, 1)))
    if swap:  # the IR's add reads the long branch first
        ta, tb, p, q = tb, ta, q, p
    ex = _export(model, n, in_types=(ta, tb), muls=(p, q))
    long = [by_name[x.name] for x in long_p if x.name in by_name]
    short = [by_name[x.name] for x in short_p if x.name in by_name]
    fork = reader.prod[n.input[0]]
    while fork.op_type != "IntDuplicateStreams":  # walk back to the block's fork
        fork = reader.prod[fork.input[0]]
    dup = by_name[fork.name]
    shape = ex.out_shape
    c, pixels = shape[-1], int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    base = names[n.name].removesuffix("_add")
    depth = ir.skip_fifo_depth(long, short, pixels, dup.n_vec)
    fifo = ir.FIFO(f"{base}_fifo", c * tb.bits, depth)
    add = ir.AddStreams(
        names[n.name],
        c,
        pixels,
        max(ta.bits, tb.bits),
        ta.kind,
        fork=dup.name,
        long=tuple(x.name for x in long),
        short=tuple(x.name for x in short),
        fifo=fifo.name,
        mul_bits=None if (p, q) == (1, 1) else (p.bit_length(), q.bit_length()),
        export=ex,
    )
    return [fifo, add]
