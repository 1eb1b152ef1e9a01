"""Folding of the lowered graph, and its view as the cost model's IR (:mod:`hwprune.ir`).

The lowered :class:`~hwprune.export.graph.IntGraph` uses the IR's node names (``conv0``,
``conv0_swg``, ``fc1``, ``pool0``, ``labelselect``), so one folding dictionary
``{name: {"pe": .., "simd": ..}}`` drives both the estimate and the HLS project. An MVAU/VVAU's
entry may also say ``"res_type"``: ``"lut"`` or ``"dsp"`` (FINN's ``resType``), what its
multiplications are built from; the HLS kernels bind them so, the FINN hand-off says so.

Example:
    >>> g2 = apply_folding(graph, {"fc0": {"pe": 4, "simd": 8}})  # doctest: +SKIP
    >>> to_ir(g2).node("fc0").pe                                   # doctest: +SKIP
    4
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hwprune.errors import ConfigError
from hwprune.export import graph as ig
from hwprune.export.dtypes import IntType
from hwprune.ir import RES_TYPES, XNOR_DSP_ERROR

log = logging.getLogger(__name__)

Folding = dict[str, dict[str, Any]]


def kind_of(t: IntType) -> str:
    """The IR's data-type kind of an :class:`IntType`: ``uint``, ``int`` or ``bipolar``."""
    return "bipolar" if t.bipolar else ("int" if t.signed else "uint")


def _dot_product_ir(n: ig.MVAUNode) -> Any:
    """The IR's MVAU (or VVAU) of a lowered MVAU (or VVAU), integer weights attached."""
    from hwprune import ir

    out = (None, "int") if n.is_head else (n.out_type.bits, kind_of(n.out_type))
    if isinstance(n, ig.VVAUNode):
        cls: Any = ir.VVAU
        shape, acc_bits, extra = (n.channels, n.kernel), n.acc_type.bits, {}
    else:
        cls = ir.MVAU
        # an XNOR unit accumulates a popcount in [0, MW] (as the HLS kernel does)
        acc_bits = int(n.mw + 1).bit_length() if n.xnor else n.acc_type.bits
        shape, extra = (n.mw, n.mh), {"conv": n.conv}
    return cls(
        n.name,
        *shape,
        n.nvec,
        n.wtype.bits,
        kind_of(n.wtype),
        n.in_type.bits,
        kind_of(n.in_type),
        acc_bits,
        *out,
        pe=n.pe,
        simd=n.simd,
        res_type=n.res_type,
        weights=n.weights,
        thresholds=n.thresholds,
        **extra,
    )


def to_ir(graph: ig.IntGraph, name: str = "design") -> Any:
    """The :class:`hwprune.ir.DataflowGraph` of a lowered graph (integer weights attached).

    Padding belongs to the IR's SlidingWindow (hwprune's HLS pads in a separate kernel with the
    same SIMD).
    """
    from hwprune import ir

    nodes: list[Any] = []
    pads: dict[str, ig.PadNode] = {n.name: n for n in graph.nodes if isinstance(n, ig.PadNode)}
    inp = graph.input
    shape = inp.out_shape
    in_shape = (shape[2], shape[0], shape[1]) if len(shape) == 3 else (shape[0], 1, 1)
    for n in graph.nodes:
        if isinstance(n, ig.SlidingWindowNode):
            mv = n.name.removesuffix("_swg")
            pad = pads.get(f"{mv}_pad")
            h, w, c = pad.in_shape if pad else n.in_shape
            t = pad.in_type if pad else n.out_type
            nodes.append(
                ir.SlidingWindow(
                    n.name,
                    c,
                    (h, w),
                    n.kernel,
                    n.stride,
                    pad.pad if pad else 0,
                    t.bits,
                    kind_of(t),
                    simd=n.simd,
                    depthwise=n.depthwise,
                )
            )
        elif isinstance(n, ig.MVAUNode):  # a VVAUNode is one too
            nodes.append(_dot_product_ir(n))
        elif isinstance(n, ig.MaxPoolNode):
            h, w, c = n.in_shape
            nodes.append(
                ir.MaxPool(n.name, c, (h, w), n.kernel, n.out_type.bits, kind_of(n.out_type))
            )
        elif isinstance(n, ig.LabelSelectNode):
            nodes.append(ir.LabelSelect(n.name, n.num_labels, n.in_type.bits, pe=n.pe))
        elif isinstance(n, ig.PE_NODES):
            nodes += _residual_ir(graph, n, nodes)
    kind = "bipolar" if inp.out_type.bipolar else "uint"
    return ir.DataflowGraph(name, in_shape, inp.out_type.bits, tuple(nodes), input_kind=kind)


def _residual_ir(graph: ig.IntGraph, n: Any, done: list[Any]) -> list[Any]:
    """The IR node(s) of a thresholding, fork, add (with the skip FIFO before it) or global
    pool; ``done`` holds the IR nodes of the graph so far (a block's branches among them)."""
    from hwprune import ir

    if isinstance(n, ig.ThresholdingNode):
        t = n.out_type
        return [
            ir.Thresholding(n.name, n.channels, n.nvec, n.in_type.bits, t.bits, kind_of(t), pe=n.pe)
        ]
    if isinstance(n, ig.DuplicateStreamsNode):
        h, w, c = n.out_shape
        t = n.out_type
        return [ir.DuplicateStreams(n.name, c, h * w, t.bits, kind_of(t), pe=n.pe)]
    if isinstance(n, ig.GlobalAccPoolNode):
        h, w, c = n.in_shape
        t = n.in_type
        return [
            ir.GlobalAccPool(
                n.name, c, (h, w), t.bits, kind_of(t), n.out_type.bits, n.shift, pe=n.pe
            )
        ]
    assert isinstance(n, ig.AddStreamsNode)
    names = [x.name for x in graph.nodes]
    i = names.index(n.name)
    fork = next(
        k for k in range(i - 1, -1, -1) if isinstance(graph.nodes[k], ig.DuplicateStreamsNode)
    )
    starts = [k for k in range(fork + 2, i) if graph.inputs.get(names[k]) == (names[fork],)]
    split = starts[0] if starts else i
    members = {names[k] for k in range(fork + 1, i)}
    long = [x for x in done if x.name in {names[k] for k in range(fork + 1, split)}]
    short = [x for x in done if x.name in members and x not in long]
    dup = graph.nodes[fork]
    h, w, c = n.out_shape
    in_pixels = dup.out_shape[0] * dup.out_shape[1]
    t = n.in_types[0]
    base = n.name.removesuffix("_add")
    skip_bits = n.in_types[1].bits  # the FIFO holds the short branch
    fifo = ir.FIFO(f"{base}_fifo", c * skip_bits, ir.skip_fifo_depth(long, short, h * w, in_pixels))
    add = ir.AddStreams(
        n.name,
        c,
        h * w,
        max(t.bits, skip_bits),
        kind_of(t),
        pe=n.pe,
        fork=dup.name,
        long=tuple(x.name for x in long),
        short=tuple(x.name for x in short),
        fifo=fifo.name,
        mul_bits=None if n.muls == (1, 1) else tuple(int(m).bit_length() for m in n.muls),
    )
    return [fifo, add]


def folding_of(graph: ig.IntGraph) -> Folding:
    """Current folding ``{name: {"pe": .., "simd": ..}}`` of the foldable nodes, with the
    ``"res_type"`` of every MVAU/VVAU that has one (not ``"auto"``), as
    :attr:`hwprune.ir.DataflowGraph.folding` reports it."""
    out: Folding = {}
    for n in graph.nodes:
        if isinstance(n, ig.MVAUNode):
            out[n.name] = {"pe": n.pe, "simd": n.simd}
            if n.res_type != "auto":
                out[n.name]["res_type"] = n.res_type
        elif isinstance(n, ig.SlidingWindowNode):
            out[n.name] = {"simd": n.simd}
        elif isinstance(n, (ig.LabelSelectNode, *ig.PE_NODES)):
            out[n.name] = {"pe": n.pe}
    return out


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def check_folding(graph: ig.IntGraph) -> None:
    """Raise :class:`ConfigError` if a PE/SIMD does not divide what it must (FINN's rules)."""
    nodes = list(graph.nodes)
    for i, n in enumerate(nodes):
        rules: list[tuple[str, int, int, str]] = []
        if isinstance(n, ig.MVAUNode):  # a VVAUNode is one too
            if isinstance(n, ig.VVAUNode):
                rules = [
                    ("pe", n.pe, n.channels, "channels"),
                    ("simd", n.simd, n.mw, "kernel size"),
                ]
                if n.simd > 1 and n.pe != n.channels:
                    raise ConfigError(
                        f"{n.name}: simd={n.simd} > 1 needs pe = channels "
                        f"({n.channels}) in a depthwise convolution"
                    )
                swg = nodes[i - 1]
                if isinstance(swg, ig.SlidingWindowNode) and swg.simd != n.pe:
                    raise ConfigError(
                        f"{swg.name}: simd={swg.simd} must equal the pe={n.pe} of the "
                        f"depthwise {n.name} it feeds"
                    )
            else:
                rules = [
                    ("pe", n.pe, n.mh, "output channels"),
                    ("simd", n.simd, n.mw, "input length"),
                ]
            if n.xnor and n.res_type == "dsp":
                raise ConfigError(f"{n.name}: {XNOR_DSP_ERROR}")
        elif isinstance(n, (ig.SlidingWindowNode, ig.PadNode)):
            rules = [("simd", n.simd, n.in_shape[2], "channels")]
        elif isinstance(n, ig.LabelSelectNode):
            rules = [("pe", n.pe, n.num_labels, "labels")]
        elif isinstance(n, ig.PE_NODES):
            rules = [("pe", n.pe, n.out_shape[-1], "channels")]
        for what, v, total, of in rules:
            if v < 1 or total % v:
                raise ConfigError(
                    f"{n.name}: {what}={v} is illegal: it must divide the {total} "
                    f"{of}; pick one of {_divisors(total)}"
                )


def _as_folding(folding: Any) -> Folding:
    if isinstance(folding, (str, Path)):
        p = Path(folding)
        if not p.is_file():
            raise ConfigError(f"folding file {p} does not exist; pass 'auto' or a JSON file")
        try:
            folding = json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"folding file {p} is not valid JSON ({exc}); fix it") from exc
    if isinstance(folding, Mapping) and "folding" in folding:
        folding = folding["folding"]
    if isinstance(folding, list):
        folding = {f["name"]: f for f in folding if isinstance(f, Mapping) and "name" in f}
    if not isinstance(folding, Mapping):
        raise ConfigError('a folding must map node names to {"pe": .., "simd": ..}')
    out: Folding = {}
    for name, f in folding.items():
        if name == "Defaults" or not isinstance(f, Mapping):
            continue
        vals = {k.lower(): f[k] for k in f if k.lower() in ("pe", "simd")}
        for k, v in vals.items():
            if not isinstance(v, int) or isinstance(v, bool):
                raise ConfigError(f"folding of {name}: {k} must be an integer, got {v!r}")
        entry: dict[str, Any] = {k: int(v) for k, v in vals.items()}
        res = [f[k] for k in f if k.lower() in ("res_type", "restype")]  # ours, FINN's resType
        if res:
            if res[0] not in RES_TYPES:
                raise ConfigError(
                    f"folding of {name}: res_type must be one of {list(RES_TYPES)}, got {res[0]!r}"
                )
            entry["res_type"] = str(res[0])
        out[str(name)] = entry
    return out


def with_folding(graph: ig.IntGraph, folding: Mapping[str, Mapping[str, Any]]) -> ig.IntGraph:
    """A copy of ``graph`` with ``folding`` applied and checked (an MVAU/VVAU's ``res_type``
    too).

    Unknown names raise :class:`ConfigError`. The zero-padding kernel of a convolution takes its
    sliding window's SIMD.
    """
    names = {n.name for n in graph.nodes}
    unknown = sorted(set(folding) - names)
    if unknown:
        raise ConfigError(
            f"folding names unknown nodes {unknown}; the design has {sorted(folding_of(graph))}"
        )
    nodes = []
    folding = dict(folding)
    for n, m in zip(graph.nodes, graph.nodes[1:], strict=False):
        # a depthwise window not given a SIMD takes its VVAU's PE (they must be equal)
        given, own = folding.get(m.name, {}), folding.get(n.name, {})
        dw = isinstance(n, ig.SlidingWindowNode) and isinstance(m, ig.VVAUNode)
        if dw and "simd" not in own and "pe" in given:
            folding[n.name] = {**own, "simd": int(given["pe"])}
    for n in graph.nodes:
        f = dict(folding.get(n.name, {}))
        if isinstance(n, ig.PadNode):
            sw = folding.get(n.name.removesuffix("_pad") + "_swg", {})
            if "simd" in sw:
                f = {"simd": sw["simd"]}
        if isinstance(n, (ig.MVAUNode, ig.LabelSelectNode, *ig.PE_NODES)) and "pe" in f:
            n = dataclasses.replace(n, pe=int(f["pe"]))
        if isinstance(n, ig.MVAUNode) and "res_type" in f:
            n = dataclasses.replace(n, res_type=str(f["res_type"]))
        if isinstance(n, (ig.MVAUNode, ig.SlidingWindowNode, ig.PadNode)) and "simd" in f:
            n = dataclasses.replace(n, simd=int(f["simd"]))
        nodes.append(n)
    out = dataclasses.replace(graph, nodes=tuple(nodes))
    check_folding(out)
    return out


def auto_folding(
    graph: ig.IntGraph,
    target: Any,
    fps: float | None = None,
    clock_mhz: float | None = None,
    fixed: Mapping[str, Mapping[str, Any]] | None = None,
) -> Folding:
    """The cost model's folding for ``target``: the fastest that fits, or with ``fps`` the
    smallest that reaches it (:func:`hwprune.cost.folding.fold`); ``fixed`` values are kept."""
    from hwprune.cost.folding import fold
    from hwprune.targets import load_target

    tgt = target if hasattr(target, "kind") else load_target(target)
    ir_graph = to_ir(graph)
    if fixed:
        ir_graph = dataclasses.replace(ir_graph, fixed={k: dict(v) for k, v in fixed.items()})
    result = fold(
        ir_graph, tgt, mode="smallest" if fps else "fastest", fps=fps, clock_mhz=clock_mhz
    )
    return {k: dict(v) for k, v in result.folding.items()}


def apply_folding(
    graph: ig.IntGraph,
    folding: Any = "auto",
    target: Any = None,
    fps: float | None = None,
    clock_mhz: float | None = None,
) -> ig.IntGraph:
    """Apply ``folding``: "auto" (needs ``target``), "none" (all ones), a dict, list or JSON file.

    With a ``target``, PE/SIMD left out of a partial folding are chosen by the cost model's
    optimizer around the given ones (e.g. a search's design.json gives only conv/fc folding),
    and so is the ``res_type`` of every MVAU/VVAU the folding does not give one. A complete
    PE/SIMD folding is applied as it is: its ``"auto"`` layers keep the cost model's fixed rule.
    """
    if folding is None or folding == "none":
        return graph
    if isinstance(folding, str) and folding == "auto":
        if target is None:
            raise ConfigError("--folding auto needs a target (e.g. --target pynq-z2)")
        folding = auto_folding(graph, target, fps, clock_mhz)
    given = _as_folding(folding)
    foldable = folding_of(graph)
    partial = any(k not in given.get(name, {}) for name, f in foldable.items() for k in f)
    if partial and target is not None:  # the optimizer chooses what the user left open
        with_folding(graph, given)  # check the given values first
        given = auto_folding(graph, target, fps, clock_mhz, fixed=given)
    return with_folding(graph, given)
