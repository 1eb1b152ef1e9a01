"""FINN hand-off: ``model.finn.onnx``, ``folding_config.json``, ``specialize_layers_config.json``,
``build_config.json`` and ``build.py`` for FINN's ``build_dataflow`` (finn-plus 1.6.1).

What FINN builds must be what hwprune priced, so the hand-off fixes FINN's view of the design:

* ``model.finn.onnx`` is the exported QONNX with the input quantizer moved to the host: its
  input is the integer frame hwprune's first kernel reads (annotated ``UINT8``, ``INT4``,
  ``BIPOLAR``, ... and scaled by the quantizer's scale), so FINN's streamlining absorbs the
  scale into the first layer's thresholds instead of building a ``Thresholding`` node at PE=1.
  For a classifier (``output="label"``) a ``TopK`` closes the graph, which FINN builds as the
  ``LabelSelect`` hwprune priced (hwprune checked that the head's scale is one positive
  number, so the arg-max of the accumulators is the arg-max of the scores); a head with a
  per-class bias is the known exception (:func:`finn_differences`). For
  ``output="scores"`` the head's score scale and offset are undone at the output, so FINN's
  streamlining cancels them and FINN, like hwprune, outputs the head's integer accumulators.
* Node names are the ones FINN gives after ``SpecializeLayers`` + ``GiveUniqueNodeNames``
  (``<op_type>_<style>_<k>``, k counting per op type in graph order), the style pinned by
  ``specialize_layers_config.json``. A max-pool is what finn-plus builds of it: a sliding-window
  generator (depthwise, SIMD = channels) and a ``Pool_hls`` (PE = channels).
* Every memory gets the ``ram_style`` hwprune priced it with (LUTRAM -> ``distributed``,
  block RAM -> ``block``), weights, thresholds and line buffers alike.

Example:
    >>> write_finn_handoff(graph, "pynq-z2", "out/finn")  # doctest: +SKIP
    ['out/finn/folding_config.json', ...]
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwprune import ir
from hwprune.errors import ConfigError, TargetError
from hwprune.ir.folding import check_folding

# hwprune target -> (FINN board name, shell flow, Vitis platform or None)
FINN_BOARDS: dict[str, tuple[str, str, str | None]] = {
    "pynq-z1": ("Pynq-Z1", "vivado_zynq", None),
    "pynq-z2": ("Pynq-Z2", "vivado_zynq", None),
    "ultra96-v2": ("Ultra96-V2", "vivado_zynq", None),
    "zcu102": ("ZCU102", "vivado_zynq", None),
    "zcu104": ("ZCU104", "vivado_zynq", None),
    "kv260": ("KV260_SOM", "vivado_zynq", None),
    "alveo-u250": ("U250", "vitis_alveo", "xilinx_u250_gen3x16_xdma_4_1_202210_1"),
}

#: the FINN model the hand-off writes next to its config files
FINN_MODEL = "model.finn.onnx"


@dataclass(frozen=True)
class FinnNode:
    """One node FINN builds: ``ours`` is the hwprune node it implements (a max-pool is two FINN
    nodes), ``pre`` its name before ``SpecializeLayers``, ``name`` after, ``config`` its
    ``folding_config.json`` entry."""

    ours: str
    op: str
    style: str
    pre: str
    name: str
    config: dict[str, Any] = field(default_factory=dict)


def _memory_styles(graph: ir.DataflowGraph) -> dict[str, dict[str, str]]:
    """Per node, the ``ram_style`` of each memory as the cost model priced it."""
    from hwprune.cost.fpga import FpgaCostParams, memory_cost, n_thresholds, threshold_memory

    p = FpgaCostParams()
    out: dict[str, dict[str, str]] = {}
    for n in graph.nodes:
        op = type(n).__name__
        if op in ("MVAU", "VVAU"):
            rows, cols = (n.mh, n.mw) if op == "MVAU" else (n.channels, n.kernel * n.kernel)
            depth = (rows // n.pe) * (cols // n.simd)
            _, wb = memory_cost(n.pe * n.simd * n.wbits, depth, n.mem_style, p)
            styles = {"ram_style": "block" if wb > 0 else "distributed"}
            nthr = n_thresholds(n.out_bits, n.out_kind) if n.out_bits else 0
            if nthr and op == "MVAU":  # FINN's VVAU has no threshold memory style
                _, tb = threshold_memory(n.pe * nthr * n.acc_bits, rows // n.pe, p)
                styles["ram_style_thresholds"] = "block" if tb > 0 else "distributed"
            out[n.name] = styles
        elif op == "SlidingWindow":
            _, wp = n.padded
            words = ((n.kernel - 1) * wp + n.kernel) * (n.channels // n.simd)
            bits = words * n.simd * n.bits
            lutram = n.ram_style == "distributed" or (
                n.ram_style == "auto" and bits <= p.swg_lutram_max_bits
            )
            out[n.name] = {"ram_style": "distributed" if lutram else "block"}
    return out


def _finn_ops(n: Any, styles: dict[str, dict[str, str]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(FINN op type, implementation style, folding entry) of the FINN nodes for ``n``."""
    mem = styles.get(n.name, {})
    if isinstance(n, (ir.MVAU, ir.VVAU)):
        cfg = {"PE": n.pe, "SIMD": n.simd, "resType": n.mul_impl, **mem}
        cfg.update(mem_mode="internal_decoupled", runtime_writeable_weights=0)
        return [(n.op, "hls", cfg)]
    if isinstance(n, ir.SlidingWindow):
        cfg = {"SIMD": n.simd, "parallel_window": 0, **mem}
        return [("ConvolutionInputGenerator", "rtl", cfg)]
    if isinstance(n, ir.Pad):
        return [("FMPadding", "rtl", {"SIMD": n.simd})]
    if isinstance(n, ir.MaxPool):
        c = n.in_shape[2]  # all channels in parallel, as the IR's MaxPool is priced
        window = {"SIMD": c, "parallel_window": 0, "ram_style": "distributed"}
        return [("ConvolutionInputGenerator", "rtl", window), ("Pool", "hls", {"PE": c})]
    if isinstance(n, ir.LabelSelect) and n.offsets:  # see finn_differences
        return [("ElementwiseMul", "hls", {"PE": n.pe}), ("ElementwiseAdd", "hls", {"PE": n.pe})]
    if isinstance(n, ir.LabelSelect):
        return [("LabelSelect", "hls", {"PE": n.pe})]
    if isinstance(n, (ir.DuplicateStreams, ir.AddStreams, ir.Thresholding, ir.GlobalAccPool)):
        return [(n.op, "hls", {"PE": n.pe})]
    raise ConfigError(f"{n.name}: FINN has no node for a {n.op} kernel")


def finn_differences(graph: ir.DataflowGraph, model: Any = None) -> tuple[str, ...]:
    """What FINN builds differently from hwprune for ``graph`` (known and stated; its nodes
    are configured and priced alike, :func:`finn_nodes`), and, given ``model`` (the
    ``model.finn.onnx``), for its chains (:func:`finn_chain_differences`).

    A head with a per-class bias: hwprune's LabelSelect takes the arg-max of integer keys
    (the bias as per-class offsets). ``model.finn.onnx`` keeps the model's own head scale and
    bias (``Mul``, ``Add``), which FINN's streamlining cannot make integer, so finn-plus 1.6.1
    builds them as float ``ElementwiseMul``/``ElementwiseAdd`` (labels / PE cycles each, as the
    LabelSelect) and leaves the arg-max (``TopK``) to the host: it builds a LabelSelect only from
    a ``TopK`` on integers, and has no ``ChannelwiseOp`` (older FINN's per-channel op).

    Example:
        >>> finn_differences(ir.DataflowGraph("empty", (1, 1, 1), 8, ()))
        ()
    """
    chains = () if model is None else finn_chain_differences(model)
    return chains + tuple(
        f"{n.name}: the head's per-class bias is built by FINN as float ElementwiseMul + "
        "ElementwiseAdd (the model's own head scale and bias) and the arg-max (TopK) is left "
        "to the host; hwprune's LabelSelect adds the bias as integer offsets in the fabric"
        for n in graph.nodes
        if isinstance(n, ir.LabelSelect) and n.offsets
    )


def finn_unsupported(graph: ir.DataflowGraph) -> str | None:
    """Why FINN cannot build ``graph`` as hwprune does, or None when it can.

    FINN's AddStreams adds its two streams as they are; an add of two differently scaled inputs
    (lowered with integer multipliers P, Q on its inputs) has no FINN equivalent.

    Example:
        >>> finn_unsupported(ir.DataflowGraph("empty", (1, 1, 1), 8, ()))  # nothing to refuse
    """
    for n in graph.nodes:
        if isinstance(n, ir.AddStreams) and tuple(n.muls) != (1, 1):
            return (
                f"{n.name} adds two differently scaled inputs (x*{n.muls[0]} + y*{n.muls[1]}); "
                "FINN's AddStreams has no input multipliers. Give both inputs of the add one "
                "shared quantizer to hand the design to FINN"
            )
    return None


def finn_nodes(graph: ir.DataflowGraph) -> list[FinnNode]:
    """The nodes FINN builds for ``graph``, in graph order, with their folding entries.

    Example:
        >>> [(f.ours, f.name) for f in finn_nodes(graph)][:2]  # doctest: +SKIP
        [('conv0_swg', 'ConvolutionInputGenerator_rtl_0'), ('conv0', 'MVAU_hls_0')]
    """
    styles = _memory_styles(graph)
    counts: dict[str, int] = {}
    out: list[FinnNode] = []
    for n in graph.kernels():
        for op, style, cfg in _finn_ops(n, styles):
            k = counts.get(op, 0)
            counts[op] = k + 1
            out.append(FinnNode(n.name, op, style, f"{op}_{k}", f"{op}_{style}_{k}", cfg))
    return out


def finn_names(graph: ir.DataflowGraph) -> dict[str, tuple[str, str]]:
    """Our node name -> (FINN name before specialization, after) of its last FINN node.

    Example:
        >>> finn_names(graph)["conv0"]  # doctest: +SKIP
        ('MVAU_0', 'MVAU_hls_0')
    """
    return {f.ours: (f.pre, f.name) for f in finn_nodes(graph)}


def folding_config(graph: ir.DataflowGraph) -> dict[str, Any]:
    """FINN ``folding_config.json`` contents for the folded ``graph`` (checked first).

    Each MVAU/VVAU gets its PE, SIMD, ``resType`` (``"lut"`` or ``"dsp"``: what the folding
    chose and the cost model priced, see :attr:`~hwprune.ir.MVAU.mul_impl`) and
    the ``ram_style`` of its weights and thresholds as priced.

    Example:
        >>> folding_config(graph)["MVAU_hls_0"]["resType"]  # doctest: +SKIP
        'dsp'
    """
    check_folding(graph)
    cfg: dict[str, Any] = {"Defaults": {}}
    for f in finn_nodes(graph):
        cfg[f.name] = dict(f.config)
    return cfg


def specialize_config(graph: ir.DataflowGraph) -> dict[str, Any]:
    """FINN ``specialize_layers_config.json`` pinning each node's implementation style."""
    return {f.pre: {"preferred_impl_style": f.style} for f in finn_nodes(graph)}


def build_config(
    target: Any, clock_mhz: float | None = None, output_dir: str = "finn_output"
) -> dict[str, Any]:
    """FINN ``DataflowBuildConfig`` as JSON for ``target`` (a loaded FpgaTarget)."""
    name = getattr(target, "name", str(target))
    if name not in FINN_BOARDS:
        raise TargetError(
            f"FINN has no board definition for target '{name}'; FINN hand-off "
            f"supports {sorted(FINN_BOARDS)}"
        )
    board, shell, platform = FINN_BOARDS[name]
    clock = float(clock_mhz or target.clock_mhz)
    outputs = ["estimate_reports", "stitched_ip", "bitfile"]
    if shell == "vivado_zynq":
        outputs[2:2] = ["out_of_context_synth"]
        outputs += ["pynq_driver", "deployment_package"]
    cfg: dict[str, Any] = {
        "output_dir": output_dir,
        "synth_clk_period_ns": round(1000.0 / clock, 4),
        "board": board,
        "shell_flow_type": shell,
        "fpga_part": target.part,
        "folding_config_file": "folding_config.json",
        "specialize_layers_config_file": "specialize_layers_config.json",
        "auto_fifo_depths": True,
        "minimize_bit_width": True,
        "standalone_thresholds": False,
        "save_intermediate_models": True,
        "generate_outputs": outputs,
    }
    if platform:
        cfg["vitis_platform"] = platform
    return cfg


def finn_model(qonnx_model: Any, graph: ir.DataflowGraph) -> Any:
    """The QONNX model FINN should build: the host's integer frame as input, arg-max at the end.

    The input quantizer (and any host pre-processing before it, such as TFC's reshape) is
    replaced by a multiplication of the integer input (annotated with the input node's type)
    by the quantizer's scale; a ``Clip`` (nn.ReLU6, nn.Hardtanh) whose bounds do not change
    its quantizer's output is dropped or, when only its lower bound 0 does, made a ``Relu``
    (exact; FINN maps no ``Clip``). When ``graph.output == "label"`` a final
    ``Softmax``/``LogSoftmax`` is dropped (FINN would build it as a float ``HWSoftmax``; the
    arg-max is unchanged, as hwprune's lowering drops it) and a ``TopK`` (k=1) is appended.

    Example:
        >>> m = finn_model(load_qonnx("model.qonnx.onnx"), graph)  # doctest: +SKIP
        >>> m.save("model.finn.onnx")                                # doctest: +SKIP
    """
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.insert_topk import InsertTopK

    from hwprune.export.lower import DropOutputSoftmax
    from hwprune.export.qonnx import input_quantizer

    m = copy.deepcopy(qonnx_model)
    quant, tensor = input_quantizer(m)
    doomed, cur = [], m.graph.input[0].name
    while cur != tensor:
        node = m.find_consumers(cur)[0]
        doomed.append(node)
        cur = node.output[0]
    shape = m.get_tensor_shape(quant.output[0])
    for node in [*doomed, quant]:
        m.graph.node.remove(node)
    m.graph.input.remove(m.graph.input[0])
    x = "global_in_int"
    m.graph.input.append(helper.make_tensor_value_info(x, TensorProto.FLOAT, shape))
    scale = np.asarray([graph.input.out_scale], dtype=np.float32)
    m.set_initializer(f"{x}_scale", scale.reshape(()))
    m.graph.node.insert(
        0, helper.make_node("Mul", [x, f"{x}_scale"], [quant.output[0]], name="HostScale")
    )
    m.set_tensor_datatype(x, DataType[graph.input.out_type.name])
    _inert_clips(m)
    if graph.output == "label":
        m = m.transform(DropOutputSoftmax("label"), cleanup=False)  # FINN cannot build it
        m = m.transform(InsertTopK(k=1))
    else:
        _raw_scores(m, graph)
    return m.transform(InferShapes())


def _quant_of(m: Any, t: str) -> Any:
    """The activation ``Quant`` that is the only consumer of tensor ``t``, or None."""
    cons = m.find_consumers(t) or []
    if len(cons) != 1 or cons[0].op_type != "Quant" or cons[0].input[0] != t:
        return None
    q = cons[0]
    params = [m.get_initializer(i) for i in q.input[1:4]]
    return None if any(p is None for p in params) else q


def _quant_level(m: Any, q: Any, x: float) -> np.ndarray:
    """``q``'s output for the constant input ``x`` (per channel when its scale is)."""
    from qonnx.custom_op.general.quant import quant
    from qonnx.custom_op.registry import getCustomOp

    op = getCustomOp(q)
    scale, zp, bits = (np.asarray(m.get_initializer(i)) for i in q.input[1:4])
    inp = np.full(np.broadcast(scale, zp).shape or (1,), x, dtype=np.float32)
    return quant(inp, scale, zp, bits, op.get_nodeattr("signed"), op.get_nodeattr("narrow"),
                 op.get_nodeattr("rounding_mode"))  # fmt: skip


def _inert_clips(m: Any) -> None:
    """Drop each ``Clip`` before an activation quantizer whose bounds do not change that
    quantizer's output (it clamps there anyway); one whose only active bound is a lower bound
    0 becomes a ``Relu``. Others stay (FINN cannot map them: :func:`finn_unbuildable`)."""
    from onnx import helper

    for n in [n for n in m.graph.node if n.op_type == "Clip"]:
        q = _quant_of(m, n.output[0])
        names = [*n.input[1:3], "", ""][:2]  # min, max (optional)
        bounds = [m.get_initializer(i) if i else None for i in names]
        computed = any(i and b is None for i, b in zip(names, bounds, strict=True))
        if q is None or n.attribute or computed:
            continue
        lo, hi = (None if b is None else float(np.asarray(b)) for b in bounds)
        lo_inert = lo is None or np.array_equal(_quant_level(m, q, lo), _quant_level(m, q, -1e30))
        hi_inert = hi is None or np.array_equal(_quant_level(m, q, hi), _quant_level(m, q, 1e30))
        if not hi_inert or not (lo_inert or lo == 0.0):
            continue
        idx = list(m.graph.node).index(n)
        m.graph.node.remove(n)
        if lo_inert:
            q.input[0] = n.input[0]
        else:
            m.graph.node.insert(idx, helper.make_node("Relu", [n.input[0]], [n.output[0]],
                                                      name=f"{n.name}_relu"))  # fmt: skip


_AFFINE = ("Mul", "Add", "Sub", "Div", "Neg", "BatchNormalization", "Relu", "Clip")


def _chain_after(m: Any, q: Any) -> list[Any]:
    """The nodes from activation quantizer ``q`` through per-element ops to the next
    activation quantizer (that quantizer last), or [] when none follows."""
    path, cur = [], q.output[0]
    while True:
        cons = m.find_consumers(cur) or []
        if len(cons) != 1:
            return []
        n = cons[0]
        if n.op_type == "Quant" and n.input[0] == cur:
            return [*path, n] if path else []
        if n.op_type not in _AFFINE or m.get_initializer(n.input[0]) is not None:
            return []
        path.append(n)
        cur = n.output[0]


def finn_chain_differences(model: Any) -> tuple[str, ...]:
    """What FINN builds differently for the monotone chains of ``model`` (a ``model.finn.onnx``)
    that hwprune folds into one layer's thresholds.

    A quantizer followed by per-element ops and another quantizer (``QuantReLU -> BatchNorm ->
    QuantIdentity``) is one threshold step in hwprune; finn-plus 1.6.1 absorbs the first
    quantizer into the layer, then builds the rest as separate nodes (an ``ElementwiseMul`` for
    a scale it cannot absorb, such as a negative BatchNorm gamma, a ``Thresholding`` for the
    second quantizer, ``Shuffle`` transposes around them in a convolution), which hwprune's
    folding does not configure: FINN folds them itself (PE=1). A ``Clip`` that
    :func:`finn_model` could not drop is refused by FINN (:func:`finn_unbuildable`).

    Example:
        >>> finn_chain_differences(finn_model(qonnx, graph))  # doctest: +SKIP
        ('Quant_3 -> BatchNormalization_1 -> Quant_4: ...',)
    """
    out = []
    for q in [n for n in model.graph.node if n.op_type == "Quant"]:
        if model.get_initializer(q.input[0]) is not None:
            continue
        chain = _chain_after(model, q)
        if chain:
            names = " -> ".join(n.name for n in [q, *chain])
            out.append(
                f"{names}: hwprune folds this chain into one layer's thresholds; FINN builds "
                "the quantizer after the first as a separate Thresholding node (with an "
                "ElementwiseMul for a scale it cannot absorb and Shuffle transposes in a "
                "convolution) that hwprune's folding does not configure (FINN folds it at PE=1)"
            )
    return tuple(out)


def finn_unbuildable(model: Any) -> str | None:
    """Why FINN cannot build ``model`` (a ``model.finn.onnx``), or None.

    finn-plus 1.6.1 maps no ``Clip``: a ``Clip`` (nn.ReLU6, nn.Hardtanh) whose bounds change
    the quantizer's output after it stays in the model (:func:`finn_model` drops the others).

    Example:
        >>> finn_unbuildable(finn_model(qonnx, graph))  # doctest: +SKIP
    """
    clips = [n.name for n in model.graph.node if n.op_type == "Clip"]
    if clips:
        return (
            f"{', '.join(clips)}: a Clip (nn.ReLU6, nn.Hardtanh) whose bounds change the "
            "quantized output after it; finn-plus 1.6.1 maps no Clip (hwprune folds it into "
            "the layer's thresholds). Calibrate the quantizer after it within the clip's range "
            "or use a ReLU to hand the design to FINN"
        )
    return None


def _raw_scores(m: Any, graph: ir.DataflowGraph) -> None:
    """Undo the head's score scale and offset at the graph output, so that FINN's streamlining
    cancels them and FINN's output is the head's integer accumulator, as hwprune's is."""
    from onnx import TensorProto, helper

    head = graph.mvaus()[-1]
    scale = np.asarray(head.score_scale, dtype=np.float64)
    bias = np.asarray(head.score_bias, dtype=np.float64)
    if not scale.size:
        return
    out = m.graph.output[0]
    shape = m.get_tensor_shape(out.name)
    cur = out.name
    steps = []
    if np.any(bias != 0):
        steps.append(("Add", (-bias).reshape(1, -1)))
    steps.append(("Mul", (1.0 / scale).reshape(1, -1)))
    for k, (op, val) in enumerate(steps):
        nxt = f"{out.name}_raw{k}"
        m.set_initializer(f"{nxt}_param", val.astype(np.float32))
        m.graph.node.append(helper.make_node(op, [cur, f"{nxt}_param"], [nxt], name=f"Raw{op}"))
        cur = nxt
    m.graph.output.remove(out)
    m.graph.output.append(helper.make_tensor_value_info(cur, TensorProto.FLOAT, shape))


_BUILD_PY = '''"""Build this accelerator with FINN (finn-plus 1.6.1), outside `finn build`.

    python build.py                  # the full flow of build_config.json (needs Vivado)
    python build.py --estimate-only  # FINN's estimate reports only (no Vivado needed)
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

here = Path(__file__).resolve().parent
os.environ.setdefault("FINN_BUILD_DIR", tempfile.mkdtemp(prefix="finn_build_"))
if not os.environ.get("XILINX_VIVADO"):
    import finn.xsi  # RTL simulation needs Vivado; the estimate steps do not use it

    finn.xsi.SimEngine = None
import finn.builder.build_dataflow as bd  # noqa: E402
from finn.builder.build_dataflow_config import (  # noqa: E402
    DataflowBuildConfig,
    DataflowOutputType,
    estimate_only_dataflow_steps,
)

if not os.environ.get("XILINX_VIVADO"):
    bd.get_vivado_root = lambda: "no-vivado"  # the build's metadata names the Vivado version
ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--estimate-only", action="store_true", help="stop after the estimate reports")
args = ap.parse_args()
cfg = DataflowBuildConfig.construct_from(here / "build_config.json")
cfg.output_dir = str(here / cfg.output_dir)
if args.estimate_only:
    cfg.generate_outputs = [DataflowOutputType.ESTIMATE_REPORTS]
    cfg.steps = list(estimate_only_dataflow_steps)
sys.exit(bd.build_dataflow_cfg(str(here / "{model}"), cfg))
'''


def write_finn_handoff(
    graph: ir.DataflowGraph,
    target: Any,
    out_dir: str | Path,
    clock_mhz: float | None = None,
    qonnx_model: Any = None,
) -> list[Path]:
    """Write the FINN hand-off files into ``out_dir``; returns their paths.

    ``qonnx_model`` is the exported QONNX (default: ``model.qonnx.onnx`` next to ``out_dir``),
    from which ``model.finn.onnx`` is made (:func:`finn_model`). What FINN builds differently
    (:func:`finn_differences`) is listed in ``DIFFERENCES.txt``; for a model FINN cannot build
    (:func:`finn_unbuildable`) only ``NOT_WRITTEN.txt`` is written, saying why.

    Example:
        >>> write_finn_handoff(graph, "pynq-z2", "out/finn")  # doctest: +SKIP
        [PosixPath('out/finn/folding_config.json'), ...]
    """
    out = Path(out_dir)
    try:
        fold_cfg = folding_config(graph)
    except ConfigError as exc:
        raise ConfigError(f"the folding is not legal for FINN: {exc}") from exc
    if qonnx_model is None:
        from hwprune.export.qonnx import load_qonnx

        qonnx_model = load_qonnx(out.parent / "model.qonnx.onnx")
    out.mkdir(parents=True, exist_ok=True)
    fmodel = finn_model(qonnx_model, graph)
    why_not = finn_unbuildable(fmodel)
    if why_not is not None:  # never a different design
        (out / "NOT_WRITTEN.txt").write_text(f"No FINN hand-off for this design: {why_not}.\n")
        return [out / "NOT_WRITTEN.txt"]
    files = {
        "folding_config.json": fold_cfg,
        "specialize_layers_config.json": specialize_config(graph),
        "build_config.json": build_config(target, clock_mhz),
    }
    paths = []
    for fname, doc in files.items():
        p = out / fname
        p.write_text(json.dumps(doc, indent=2) + "\n")
        paths.append(p)
    model_path = out / FINN_MODEL
    fmodel.save(str(model_path))
    script = out / "build.py"
    script.write_text(_BUILD_PY.replace("{model}", FINN_MODEL))
    diffs = finn_differences(graph, fmodel)
    if diffs:
        (out / "DIFFERENCES.txt").write_text("".join(f"- {d}\n" for d in diffs))
        paths.append(out / "DIFFERENCES.txt")
    return [*paths, model_path, script]
