"""``hwprune.estimate``: price a design on a hardware target.

A design is a JSON design description (a dict, or a ``.json`` file), a QONNX model file
(``.onnx``, lowered by :mod:`hwprune.export.lower`), or a :class:`~hwprune.ir.DataflowGraph`.
Folding (PE/SIMD) left out of the design is chosen by the folding optimizer: the fastest design
that fits the target under its utilisation cap, or with ``fps`` the smallest design that reaches
it. Nothing here raises because a design is too big: the result says ``fits=False`` and names the
``binding`` resource.

Example:
    >>> from hwprune.estimate import estimate
    >>> design = {"name": "mlp", "input": {"shape": [1, 8, 8], "bits": 4},
    ...           "layers": [{"op": "fc", "out": 64, "wbits": 2, "abits": 2},
    ...                      {"op": "fc", "out": 10, "wbits": 2, "abits": None}]}
    >>> e = estimate(design, "pynq-z2")
    >>> e.fits, e.layers[0].op, e.node_cycles
    (True, 'MVAU', 4)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from hwprune.cost.folding import fold
from hwprune.cost.fpga import RESOURCE_MODELS, FpgaCostParams, node_cost, res_type_of
from hwprune.errors import ConfigError, TargetError
from hwprune.ir import DataflowGraph

RESOURCES = ("lut", "ff", "bram18", "dsp")


@dataclass(frozen=True)
class LayerEstimate:
    """Cycles and resources of one dataflow node (stream glue excluded: see ``overheads``).

    ``res_type``: what an MVAU/VVAU's products are priced on, ``"lut"`` or ``"dsp"`` (None for
    the other nodes)."""

    op: str
    name: str
    shape: str
    bits: Mapping[str, Any]
    pe: int | None
    simd: int | None
    cycles: int
    lut: float
    ff: float
    bram18: float
    dsp: float
    res_type: str | None = None


@dataclass(frozen=True)
class Estimate:
    """Price of a design on a target.

    Attributes:
        name, target: design and target names.
        clock_mhz: fabric clock used.
        lut, ff, bram18, dsp: totals including overheads.
        fps: frames per second (steady state).
        latency_us: time from the first input word to the result (pipelined estimate).
        cycles: cycles per frame (slowest node or the I/O port, plus the per-frame overhead).
        node_cycles: cycles of the slowest node.
        io_cycles: cycles the stream port needs per frame (input or output, the larger).
        fits: every resource is under ``util_cap`` of the device.
        binding: the resource that binds (``"lut"``, ``"ff"``, ``"bram18"``, ``"dsp"``), ``"io"``
            when the stream port limits the frame rate, or None.
        meets_fps: with a required frames/s: whether it is reached (else None).
        util: used / capacity per resource.
        util_cap: the cap applied.
        layers: per-node records.
        overheads: shell, dma, fifos, width_converters: count and resources.
        folding: ``{node: {"pe": .., "simd": ..}}``, with ``"res_type"`` (``"lut"``/``"dsp"``)
            for every MVAU/VVAU whose multiplier resource is set (all of them after folding).
        pinned: the nodes whose folding was given and kept as given (see :func:`estimate`).
    """

    name: str
    target: str
    clock_mhz: float
    lut: float
    ff: float
    bram18: float
    dsp: float
    fps: float
    latency_us: float
    cycles: float
    node_cycles: int
    io_cycles: int
    fits: bool
    binding: str | None
    meets_fps: bool | None
    util: Mapping[str, float]
    util_cap: float
    layers: tuple[LayerEstimate, ...]
    overheads: Mapping[str, Mapping[str, float]]
    folding: Mapping[str, Mapping[str, Any]]
    pinned: tuple[str, ...] = ()
    #: the host link the frame rate is priced with: ``"stream"`` (an AXI stream port) or
    #: ``"uart 1000000 baud"`` (a board whose only link is a USB-UART)
    link: str = "stream"
    #: which resource model priced it: ``"vivado"`` (Vivado-calibrated, Xilinx primitives) or
    #: ``"yosys-ecp5"`` (fitted to Yosys synth_ecp5 of hwprune's RTL: LUT4, TRELLIS_FF, DP16KD,
    #: MULT18X18D); ``units`` says what lut/ff/bram18/dsp count
    resource_model: str = "vivado"
    units: str = RESOURCE_MODELS["vivado"]
    #: nextpnr-ecp5's Fmax (MHz) of the design's RTL as :func:`hwprune.cost.fmax.predict_fmax`
    #: predicts it (ECP5 targets, ``"yosys-ecp5"`` model); None for other targets
    fmax_mhz: float | None = None

    def yosys_xc7(self) -> dict[str, Any] | None:
        """AMD xc7 (Zynq-7000) targets: the same folded design in Yosys ``synth_xilinx -family
        xc7`` primitives of hwprune's RTL (:func:`hwprune.cost.xc7_nodes.design_block`:
        ``resource_model`` ``"yosys-xc7"``, its ``units``, lut/ff/bram18/dsp, per node and
        glue): a second opinion next to the Vivado-calibrated figures, never mixed into them.
        None for other targets. Made when asked (``to_dict`` does), so pricing stays fast."""
        memo = self.__dict__.get("_yosys_xc7")
        if memo is None and self.__dict__.get("_xc7_graph") is not None:
            from hwprune.cost.xc7_nodes import design_block

            memo = design_block(self.__dict__["_xc7_graph"])
            object.__setattr__(self, "_yosys_xc7", memo)
        return memo

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view with rounded numbers (what ``--json`` prints); an xc7 target's
        :meth:`yosys_xc7` block as ``"yosys_xc7"``."""
        d = asdict(self)
        xc7 = self.yosys_xc7()
        if xc7 is not None:
            d["yosys_xc7"] = xc7
        for k in RESOURCES:
            d[k] = round(d[k], 1)
        d["fps"] = round(self.fps, 3)
        d["latency_us"] = round(self.latency_us, 3)
        d["util"] = {k: round(v, 4) for k, v in self.util.items()}
        d["layers"] = [{**x, **{k: round(x[k], 1) for k in RESOURCES}} for x in d["layers"]]
        d["overheads"] = {
            k: {kk: round(vv, 1) for kk, vv in v.items()} for k, v in self.overheads.items()
        }
        return d

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=indent)


def _shape(n) -> str:
    if n.op == "MVAU":
        return f"{n.mh}x{n.mw}" + (f" x{n.n_vec}px" if n.n_vec > 1 else "")
    if n.op == "VVAU":
        return f"{n.channels}ch k{n.kernel} x{n.n_vec}px"
    if n.op == "SlidingWindow":
        return f"{n.channels}x{n.ifm[0]}x{n.ifm[1]} k{n.kernel}s{n.stride}p{n.pad}"
    if n.op == "MaxPool":
        return f"{n.channels}x{n.ifm[0]}x{n.ifm[1]} k{n.kernel}"
    if n.op in ("Thresholding", "DuplicateStreams", "AddStreams"):
        return f"{n.channels}ch x{n.n_vec}"
    if n.op == "GlobalAccPool":
        return f"{n.channels}x{n.ifm[0]}x{n.ifm[1]}"
    if n.op == "FIFO":
        return f"{n.width}b x{n.depth}"
    return f"{n.labels} labels"


def _bits(n) -> dict[str, Any]:
    if n.op in ("MVAU", "VVAU"):
        return {"in": n.in_bits, "w": n.wbits, "acc": n.acc_bits, "out": n.out_bits}
    if n.op in ("SlidingWindow", "MaxPool"):
        return {"in": n.bits, "out": n.bits}
    if n.op == "Thresholding":
        return {"in": n.in_bits, "out": n.out_bits}
    if n.op in ("DuplicateStreams", "GlobalAccPool"):
        return {"in": n.bits, "out": getattr(n, "out_bits", n.bits)}
    if n.op == "FIFO":
        return {"in": n.width, "out": n.width}
    return {"in": n.in_bits, "out": n.out_bits}


def _fill_cycles(n, cycles: int) -> float:
    """Cycles before a node emits its first output (pipelined latency model)."""
    if n.op == "SlidingWindow":
        _, wp = n.padded
        return ((n.kernel - 1) * wp + n.kernel) * (n.channels // n.simd)
    if n.op in ("MVAU", "VVAU"):
        return cycles / n.n_vec if n.n_vec > 1 else cycles
    if n.op == "MaxPool":
        return n.kernel * n.ifm[1]
    if n.op in ("DuplicateStreams", "AddStreams", "FIFO"):
        return 1.0
    return cycles


def _layer_record(n: Any, c: Any, p: FpgaCostParams) -> LayerEstimate:
    return LayerEstimate(
        n.op,
        n.name,
        _shape(n),
        _bits(n),
        getattr(n, "pe", None),
        getattr(n, "simd", None),
        c.cycles,
        c.lut,
        c.ff,
        c.bram18,
        c.dsp,
        res_type_of(n, p) if n.op in ("MVAU", "VVAU") else None,
    )


def _glue(graph: DataflowGraph, io_w: int, p: FpgaCostParams) -> dict[str, dict[str, float]]:
    """FIFOs and width converters of the stream chain DMA -> n0 -> ... -> nk -> DMA (each
    stream priced on its producer and consumer widths), as the Vivado-calibrated model does;
    the ``"yosys-ecp5"`` model prices the RTL top's FIFOs and converters
    (:func:`hwprune.cost.ecp5_nodes.glue_resources`)."""
    if p.resource_model == "yosys-ecp5":
        from hwprune.cost.ecp5_nodes import glue_resources

        return glue_resources(graph.nodes)
    glue_l = glue_f = 0.0
    n_dwc = 0
    prev = io_w
    widths = []
    for n in graph.nodes:
        widths += [prev, n.in_width]
        n_dwc += prev != n.in_width
        prev = n.out_width
    widths += [prev, io_w]
    n_dwc += prev != io_w
    for x in widths:
        glue_l += p.glue_lut / 2 + p.glue_lut_per_bit * x
        glue_f += p.glue_ff / 2 + p.glue_ff_per_bit * x
    n_fifo = len(graph.nodes) + 1 + n_dwc
    share = n_fifo / (n_fifo + n_dwc)
    zero = {"bram18": 0.0, "dsp": 0.0}
    return {
        "fifos": {"count": n_fifo, "lut": glue_l * share, "ff": glue_f * share, **zero},
        "width_converters": {
            "count": n_dwc,
            "lut": glue_l * (1 - share),
            "ff": glue_f * (1 - share),
            **zero,
        },
    }


def _overheads(graph: DataflowGraph, target: Any, p: FpgaCostParams) -> dict[str, Any]:
    """Shell, DMAs (from the target file), FIFOs and width converters (:func:`_glue`)."""
    return {
        "shell": {
            "count": 1,
            "lut": target.shell_lut,
            "ff": target.shell_ff,
            "bram18": target.shell_bram18,
            "dsp": target.shell_dsp,
        },
        "dma": {
            "count": 2,
            "lut": 2 * target.dma_lut,
            "ff": 2 * target.dma_ff,
            "bram18": 2 * target.dma_bram18,
            "dsp": 0.0,
        },
        **_glue(graph, target.io_width_bits, p),
    }


def _utilisation(
    totals: Mapping[str, float], target: Any, cap: float, binding: str | None
) -> tuple[dict[str, float], bool, str | None]:
    """(used / capacity per resource, fits under ``cap``, binding resource): ``binding`` as
    given when the design fits, else the most over-used resource."""
    capacity = target.capacity()
    util = {
        k: totals[k] / capacity[k] if capacity[k] else (math.inf if totals[k] else 0.0)
        for k in RESOURCES
    }
    over = {k: u for k, u in util.items() if u > cap + 1e-12}
    if over:
        binding = max(over, key=lambda k: over[k] / cap)
    return util, not over, binding


def evaluate(
    graph: DataflowGraph,
    target: Any,
    clock_mhz: float | None = None,
    util_cap: float | None = None,
    params: FpgaCostParams | None = None,
    binding: str | None = None,
    meets_fps: bool | None = None,
) -> Estimate:
    """Price ``graph`` with the folding it carries (no optimisation).

    ``params`` default to the target's (:meth:`FpgaCostParams.for_target`: an ECP5 target is
    priced with the Yosys-fitted ECP5 model, in LUT4/FF/DP16KD/MULT18X18D; see
    ``Estimate.resource_model``). ``binding`` is reported as given when the design fits (the
    folding optimizer knows what stopped it); when it does not fit, the most over-used
    resource is named.

    Example:
        >>> from hwprune.ir import build_ir
        >>> from hwprune.targets import load_target
        >>> g = build_ir([{"op": "fc", "out": 10, "wbits": 2, "abits": None}], (16,), 2)
        >>> evaluate(g, load_target("pynq-z2")).layers[0].cycles
        160
    """
    p = params or FpgaCostParams.for_target(target)
    fmax = _predicted_fmax(graph, p)
    clock = float(clock_mhz or _default_clock(fmax, target))
    cap = float(util_cap if util_cap is not None else target.util_cap)
    layers, fills, cycles = [], [], []
    totals = dict.fromkeys(RESOURCES, 0.0)
    for n in graph.nodes:
        c = node_cost(n, p)
        layers.append(_layer_record(n, c, p))
        for k in RESOURCES:
            totals[k] += float(getattr(c, k))
        cycles.append(c.cycles)
        fills.append(_fill_cycles(n, c.cycles))
    overheads = _overheads(graph, target, p)
    for o in overheads.values():
        for k in RESOURCES:
            totals[k] += o[k]
    util, fits, binding = _utilisation(totals, target, cap, binding)
    node_cyc = max(cycles)
    # the host link: the stream port's width per cycle, or a UART's bytes at its baud rate
    io_in = target.link_cycles(graph.input_frame_bits(), clock)
    io_out = target.link_cycles(graph.output_frame_bits(), clock)
    io = max(io_in, io_out)
    frame = max(node_cyc, io) + p.frame_overhead_cycles
    slowest = cycles.index(node_cyc)
    lat_cycles = io_in + node_cyc + sum(f for i, f in enumerate(fills) if i != slowest) + io_out
    est = Estimate(
        name=graph.name,
        target=target.name,
        clock_mhz=clock,
        lut=totals["lut"],
        ff=totals["ff"],
        bram18=totals["bram18"],
        dsp=totals["dsp"],
        fps=clock * 1e6 / frame,
        latency_us=lat_cycles / clock,
        cycles=frame,
        node_cycles=node_cyc,
        io_cycles=io,
        link="stream" if target.link != "uart" else f"uart {target.link_baud} baud",
        fits=fits,
        binding=binding,
        meets_fps=meets_fps,
        util=util,
        util_cap=cap,
        layers=tuple(layers),
        overheads=overheads,
        folding=graph.folding,
        resource_model=p.resource_model,
        units=RESOURCE_MODELS[p.resource_model],
        fmax_mhz=None if fmax is None else round(fmax, 1),
    )
    return _with_xc7(est, graph, target, p)


def _with_xc7(est: Estimate, graph: DataflowGraph, target: Any, p: FpgaCostParams) -> Estimate:
    """``est`` with the graph its :meth:`Estimate.yosys_xc7` block is made from, for a
    Vivado-priced Zynq-7000 (xc7) target."""
    if p.resource_model == "vivado" and getattr(target, "family", "") == "zynq7000":
        object.__setattr__(est, "_xc7_graph", graph)
    return est


def _default_clock(fmax: float | None, target: Any) -> float:
    """The clock a design is priced at when none is given: the target's; for an ECP5-priced
    design (``fmax`` predicted) the clock its bitstream is built at, the fastest exact PLL clock
    at or below both the target's and ``fmax`` (:func:`hwprune.cost.fmax.build_clock`)."""
    if fmax is None:
        return float(target.clock_mhz)
    from hwprune.cost.fmax import build_clock

    return build_clock(target.clock_mhz, fmax)


def _predicted_fmax(graph: DataflowGraph, p: FpgaCostParams) -> float | None:
    """The Fmax model's prediction (MHz) for an ECP5-priced design (else None)."""
    if p.resource_model != "yosys-ecp5":
        return None
    from hwprune.cost.fmax import predict_fmax

    return predict_fmax(graph)


def _to_graph(design: Any) -> DataflowGraph:
    from hwprune.design import graph_from_design, load_design

    if isinstance(design, DataflowGraph):
        return design
    if isinstance(design, Mapping):
        return graph_from_design(design)
    if isinstance(design, (str, Path)):
        path = Path(design)
        if path.suffix.lower() == ".onnx":
            try:
                from hwprune.export.lower import lower_qonnx  # type: ignore[attr-defined]
            except ImportError as exc:
                raise ConfigError(
                    f"{path}: reading QONNX models needs hwprune.export.lower, which this "
                    "installation lacks; pass a JSON design instead"
                ) from exc
            return lower_qonnx(path)
        return graph_from_design(load_design(path))
    raise ConfigError(
        f"cannot price a {type(design).__name__}; pass a design dict, a .json/.onnx path or "
        "a DataflowGraph"
    )


def _with_folding(graph: DataflowGraph, folding: Mapping[str, Mapping[str, Any]]) -> DataflowGraph:
    """:meth:`DataflowGraph.with_folding`, copying only the nodes whose PE/SIMD/res_type change
    (and without re-running each frozen node's ``__init__``: a search prices thousands)."""
    nodes = []
    for n in graph.nodes:
        f = folding.get(n.name)
        if f:
            vals: dict[str, Any] = {k: int(v) for k, v in f.items() if k in ("pe", "simd")}
            if "res_type" in f and n.op in ("MVAU", "VVAU"):
                vals["res_type"] = str(f["res_type"])
            if any(getattr(n, k) != v for k, v in vals.items()):
                if hasattr(n, "__dict__"):
                    m = object.__new__(type(n))
                    m.__dict__.update(n.__dict__)
                    m.__dict__.update(vals)
                    n = m
                else:  # pragma: no cover - slotted nodes
                    n = replace(n, **vals)
        nodes.append(n)
    return replace(graph, nodes=tuple(nodes))


def pin_folding(
    graph: DataflowGraph, pin: Sequence[str] | None, windows: bool = True
) -> DataflowGraph:
    """``graph`` with only the given folding of the nodes in ``pin`` kept (``None``: all of it).

    With ``windows``, a pinned conv's sliding window that has no folding of its own is pinned
    too, at the greatest common divisor of the conv's SIMD and its channels (the conv's SIMD
    when that divides them), so a given folding is priced as a FINN build runs it, never with
    its windows at SIMD 1. Raises :class:`ConfigError` for a pinned name without a folding.

    Example:
        >>> g = graph_from_design({"input": {"shape": [4], "bits": 8}, "layers": [
        ...     {"op": "fc", "out": 8, "wbits": 2, "abits": 2, "pe": 8, "simd": 4},
        ...     {"op": "fc", "out": 2, "wbits": 2, "abits": None, "pe": 2}]})  # doctest: +SKIP
        >>> sorted(pin_folding(g, ["fc0"]).fixed)                                # doctest: +SKIP
        ['fc0']
    """
    fixed = {k: dict(v) for k, v in graph.fixed.items()}
    if pin is not None:
        unknown = sorted(set(pin) - set(fixed))
        if unknown:
            raise ConfigError(
                f"cannot pin {', '.join(unknown)}: the design gives no folding for "
                f"{'it' if len(unknown) == 1 else 'them'} (given: {', '.join(fixed) or 'none'})"
            )
        fixed = {k: v for k, v in fixed.items() if k in set(pin)}
    for n in graph.nodes if windows else ():
        conv = n.name.removesuffix("_swg")
        if n.op == "SlidingWindow" and n.name not in fixed and "simd" in fixed.get(conv, {}):
            fixed[n.name] = {"simd": math.gcd(int(fixed[conv]["simd"]), n.channels)}
    return replace(_with_folding(graph, fixed), fixed=fixed)


def estimate(
    design: Any,
    target: Any,
    fps: float | None = None,
    clock_mhz: float | None = None,
    util_cap: float | None = None,
    params: FpgaCostParams | None = None,
    pin: Sequence[str] | None = None,
    pin_windows: bool = False,
) -> Estimate:
    """Price ``design`` on ``target``, choosing the folding it leaves open.

    Args:
        design: JSON design dict, ``.json``/``.onnx`` path, or :class:`DataflowGraph`.
        target: target name (``"pynq-z2"``), TOML path, or a loaded target.
        fps: if given, the smallest design reaching this many frames/s; otherwise the fastest
            design that fits.
        clock_mhz: fabric clock (default: the target's).
        util_cap: usable fraction of each resource (default: the target's).
        params: cost-model constants (default: the calibrated ones).
        pin: the nodes whose given folding is kept (default: all of it); the rest is folded
            for ``fps`` (``pin=[]`` refolds a whole design for a frames/s goal, as
            ``hwprune estimate --fps`` does). The result's ``pinned`` names them.
        pin_windows: also pin the windows of pinned convs (see :func:`pin_folding`), as
            ``hwprune estimate`` does; by default the optimizer folds them.

    Raises :class:`ConfigError` for a malformed design or illegal given folding; a design too
    big for the target is *not* an error (``fits=False``, ``binding`` names the resource):
    a given folding is priced as given, however big.

    Example:
        >>> e = estimate({"input": {"shape": [3, 32, 32], "bits": 8}, "layers": [
        ...     {"op": "conv", "out_ch": 16, "kernel": 3, "wbits": 2, "abits": 2},
        ...     {"op": "maxpool", "kernel": 2},
        ...     {"op": "fc", "out": 10, "wbits": 2, "abits": None}]}, "pynq-z2", fps=1000)
        >>> e.meets_fps, e.fps >= 1000
        (True, True)
    """
    from hwprune.targets import FpgaTarget, GpuTarget, load_target

    t = target if isinstance(target, (FpgaTarget, GpuTarget)) else load_target(target)
    if not isinstance(t, FpgaTarget):
        raise TargetError(
            f"target '{t.name}' is a {t.kind} target; the FPGA estimate needs an FPGA target "
            "(see `hwprune targets`)"
        )
    if fps is not None and fps <= 0:
        raise ConfigError(f"--fps must be positive, got {fps}")
    if clock_mhz is not None and clock_mhz <= 0:
        raise ConfigError(f"--clock-mhz must be positive, got {clock_mhz}")
    if util_cap is not None and not 0 < util_cap <= 1:
        raise ConfigError(f"util_cap must be in (0, 1], got {util_cap}")
    p = params or FpgaCostParams.for_target(t)
    graph = pin_folding(_to_graph(design), pin, windows=pin_windows)
    r = fold(
        graph,
        t,
        mode="smallest" if fps else "fastest",
        fps=fps,
        clock_mhz=clock_mhz,
        util_cap=util_cap,
        params=p,
    )
    # the pinned values as given (the optimizer chooses a window's SIMD with its conv's)
    chosen = {k: {**v, **graph.fixed.get(k, {})} for k, v in r.folding.items()}
    folded = _with_folding(graph, {**graph.fixed, **chosen})
    est = evaluate(
        folded,
        t,
        clock_mhz=clock_mhz,
        util_cap=util_cap,
        params=p,
        binding=r.binding,
        meets_fps=r.meets_fps,
    )
    pinned = tuple(n.name for n in graph.nodes if n.name in graph.fixed)
    return _with_xc7(replace(est, pinned=pinned), folded, t, p)
