"""Lowering of residual blocks and global average pooling (qonnx Transformations).

The passes of :mod:`hwprune.export.lower` lower chains; these add what residual and
depthwise-separable networks need, in the same shape (one pattern per pass, integer nodes of the
``hwprune.export`` domain named after the QONNX tensor they reproduce):

* :class:`LowerDuplicate` -- an integer tensor read by two nodes (the input of a residual block)
  gets an ``IntDuplicateStreams`` fork, one output per branch.
* :class:`LowerAdd` -- ``Add`` of two integer tensors of equal scale (Brevitas' shared add
  quantizer) becomes ``IntAddStreams`` (an integer add); of unequal scales, ``IntAddStreams``
  with integer multipliers ``a * P + b * Q`` and ``IntThresholding`` for the quantizer after it
  (exact for every input pair, :mod:`hwprune.export.add_requant`; refused, naming the add, when
  no multipliers of 16 bits are).
* :class:`LowerRequant` -- a quantizer (with the affine ops and ReLU before it) on an integer
  tensor that no weight layer absorbs -- the identity skip requantized into the add's quantizer,
  the ReLU + quantizer after an add -- becomes ``IntThresholding`` (per-channel thresholds).
* :class:`LowerGlobalAccPool` -- ``GlobalAveragePool`` + Brevitas' ``Trunc`` becomes
  ``IntGlobalAccPool``: an integer sum per channel, rounded right by the truncated bits; its
  scale (1/(H*W) folded in) goes to the next layer.

:mod:`hwprune.export.lower_read` reads the lowered model into the IR in the stream order of
:func:`hwprune.ir.build_ir`: a block's fork, its long branch (the one with more weight layers:
the body), its short branch, the skip FIFO, its add; nodes are named as the IR names them
(``conv<k>`` body before shortcut, ``res<k>_dup``/``_skip``/``_add``/``_act``, ``gap<k>``).

Example:
    >>> graph = lower_model(load_qonnx("resnet.qonnx.onnx"))   # doctest: +SKIP
    >>> [n.op for n in graph.nodes][3:5]                        # doctest: +SKIP
    ['DuplicateStreams', 'SlidingWindow']
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.intquant import max_int, min_int
from qonnx.transformation.base import Transformation

from hwprune.errors import LoweringError
from hwprune.export.add_requant import MAX_MUL_BITS, MAX_VALUES, add_multipliers
from hwprune.export.dtypes import IntType
from hwprune.export.onnx_nodes import (
    DOMAIN,
    _attrs,
    _info,
    _int_producer,
    _make,
    _next_name,
    _where,
)
from hwprune.export.qonnx_read import _constant, _follow_chain, _quant_type, _scalar
from hwprune.export.thresholds import (
    chain_level_fn,
    compose_input,
    compute_thresholds,
    direction,
    unique_channels,
)

#: ops a requantization chain may start with (what LowerWeightLayer's chain would absorb)
_CHAIN_START = {
    "Quant", "BipolarQuant", "Relu", "Clip", "BatchNormalization", "Mul", "Div", "Sub", "Neg"
}  # fmt: skip


def _data_consumers(model: ModelWrapper, tensor: str) -> list[onnx.NodeProto]:
    return list(model.find_consumers(tensor) or [])


class LowerDuplicate(Transformation):
    """An integer tensor read by two nodes -> ``IntDuplicateStreams`` (one output each)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for idx, n in enumerate(model.graph.node):
            if n.domain != DOMAIN or n.op_type == "IntDuplicateStreams":
                continue
            for t in n.output:
                cons = _data_consumers(model, t)
                if len(cons) < 2:
                    continue
                if len(cons) > 2:
                    raise LoweringError(
                        f"the output of {_where(n)} feeds {len(cons)} nodes; hwprune forks a "
                        "stream in two (a residual block), not more"
                    )
                src = _info(n)
                outs = [f"{t}_b0", f"{t}_b1"]
                for c, o in zip(cons, outs, strict=True):
                    c.input[list(c.input).index(t)] = o
                node = _make(
                    "IntDuplicateStreams",
                    [t],
                    outs,
                    _next_name(model, "dup"),
                    out_shape=list(src["shape"]),
                    out_type=src["type"].name,
                    out_scale=src["scale"],
                    qonnx_tensor=t,
                )
                model.graph.node.insert(idx + 1, node)
                return model, True
        return model, False


class LowerAdd(Transformation):
    """``Add`` of two integer tensors -> ``IntAddStreams`` (unequal scales: with multipliers
    and the thresholds of the quantizer after it)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for idx, n in enumerate(model.graph.node):
            if n.op_type != "Add" or len(n.input) != 2:
                continue
            prods = [_int_producer(model, t) for t in n.input]
            if any(p is None for p in prods):
                continue
            a, b = (_info(p) for p in prods)  # type: ignore[arg-type]
            if a["shape"] != b["shape"]:
                raise LoweringError(
                    f"{_where(n)} adds tensors of shapes {a['shape']}, {b['shape']}"
                )
            if not math.isclose(a["scale"], b["scale"], rel_tol=1e-6):
                _lower_scaled_add(model, idx, n, a, b)
                return model, True
            ta, tb = a["type"], b["type"]
            out = IntType.for_range(ta.min + tb.min, ta.max + tb.max)
            node = _make(
                "IntAddStreams",
                list(n.input),
                [n.output[0]],
                _next_name(model, "add"),
                out_shape=list(a["shape"]),
                out_type=out.name,
                out_scale=a["scale"],
                qonnx_tensor=n.output[0],
                in_types=[ta.name, tb.name],
                mul=[1, 1],
            )
            model.graph.node.insert(idx, node)
            model.graph.node.remove(n)
            return model, True
        return model, False


def _lower_scaled_add(
    model: ModelWrapper, idx: int, n: onnx.NodeProto, a: dict[str, Any], b: dict[str, Any]
) -> None:
    """An add of unequal scales and the requantization after it -> ``IntAddStreams`` with
    integer multipliers (``a * P + b * Q``) + ``IntThresholding`` (see :mod:`add_requant`)."""
    shape, ta, tb = a["shape"], a["type"], b["type"]
    nch = int(shape[-1])
    chain = _follow_chain(model, n.output[0], nch, 4 if len(shape) == 3 else 2, n)
    quant = chain.quant
    fix = "share one quantizer on both inputs of the add, or requantize its output"
    if quant is None:
        raise LoweringError(
            f"{_where(n)} adds tensors of unequal scales and is not followed by a quantizer; {fix}"
        )
    qtype, s_q, qmin, qmax, rnd = _quant_type(quant, model)
    if np.any(direction(chain.steps) <= 0) or a["scale"] <= 0 or b["scale"] <= 0:
        raise LoweringError(
            f"{_where(n)}: a non-positive scale around an add of unequal scales "
            "cannot be requantized by thresholds"
        )
    if max(ta.max - ta.min, tb.max - tb.min) >= MAX_VALUES:
        raise LoweringError(
            f"{_where(n)} adds inputs of types {ta.name}, {tb.name}; an add of "
            f"unequal scales takes inputs of at most 10 bits; {fix}"
        )
    nt = 1 if qtype.bipolar else qmax - qmin
    uniq, inv = unique_channels(chain.steps)
    level = chain_level_fn(uniq, qtype, s_q, qmin, qmax, rnd)
    found = add_multipliers(
        level,
        range(ta.min, ta.max + 1),
        a["scale"],
        range(tb.min, tb.max + 1),
        b["scale"],
        nt,
    )
    if found is None:
        raise LoweringError(
            f"{_where(n)} adds tensors of scales {a['scale']:g} and {b['scale']:g}, which no "
            f"integer multipliers of {MAX_MUL_BITS} bits reproduce exactly; {fix}"
        )
    p, q, T = found
    out = IntType.for_range(ta.min * p + tb.min * q, ta.max * p + tb.max * q)
    add = _make(
        "IntAddStreams",
        list(n.input),
        [n.output[0]],
        _next_name(model, "add"),
        out_shape=list(shape),
        out_type=out.name,
        out_scale=a["scale"] / p,
        qonnx_tensor="",
        in_types=[ta.name, tb.name],
        mul=[p, q],
    )
    thr = _thresholding_node(model, n.output[0], T[inv], quant, shape, qtype, s_q, qmin, out)
    model.graph.node.insert(idx, thr)
    model.graph.node.insert(idx, add)
    for r in [n, *chain.removed, quant]:
        if r in model.graph.node:
            model.graph.node.remove(r)


def _thresholding_node(
    model: ModelWrapper,
    src: str,
    T: np.ndarray,
    quant: onnx.NodeProto,
    shape: Any,
    qtype: IntType,
    scale: float,
    qmin: int,
    in_type: IntType,
) -> onnx.NodeProto:
    """An ``IntThresholding`` node from tensor ``src`` to ``quant``'s output (its thresholds
    ``T`` stored as a new initializer): levels of ``qtype`` at ``scale``, offset by the
    quantizer's minimum ``qmin`` (bipolar: ``2 * level - 1``)."""
    name = _next_name(model, "thr")
    model.set_initializer(f"{name}_T", T)
    return _make(
        "IntThresholding",
        [src, f"{name}_T"],
        [quant.output[0]],
        name,
        out_shape=list(shape),
        out_type=qtype.name,
        out_scale=scale,
        qonnx_tensor=quant.output[0],
        in_type=in_type.name,
        out_bias=-1 if qtype.bipolar else qmin,
        nvec=int(np.prod(shape[:-1])),
    )


class LowerRequant(Transformation):
    """Affine ops / ReLU / quantizer on an integer tensor no weight layer absorbs ->
    ``IntThresholding`` (the skip's requantization, the activation after an add)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for n in model.graph.node:
            if n.op_type not in _CHAIN_START and not (
                n.op_type == "Add" and any(_constant(model, t)[0] is not None for t in n.input)
            ):
                continue
            prod = _int_producer(model, n.input[0])
            if prod is None or prod.op_type not in ("IntDuplicateStreams", "IntAddStreams"):
                continue
            self._lower(model, n, prod)
            return model, True
        return model, False

    @staticmethod
    def _lower(model: ModelWrapper, n: onnx.NodeProto, prod: onnx.NodeProto) -> None:
        src = _info(prod)
        shape, in_type, s_x = src["shape"], src["type"], src["scale"]
        nch = int(shape[-1])
        chain = _follow_chain(model, n.input[0], nch, 4 if len(shape) == 3 else 2, prod)
        quant = chain.quant
        if quant is None:
            raise LoweringError(
                f"{_where(n)}: the output of {_where(prod)} reaches the graph output without a "
                "quantizer; end the block with an activation quantizer"
            )
        steps = compose_input(chain.steps, np.full(nch, s_x), None)
        if np.any(direction(steps) <= 0):
            raise LoweringError(
                f"{_where(n)}: a non-positive per-channel scale after {_where(prod)} cannot be "
                "requantized by thresholds"
            )
        qtype, s_a, qmin, qmax, rnd = _quant_type(quant, model)
        nt = 1 if qtype.bipolar else qmax - qmin
        level = chain_level_fn(steps, qtype, s_a, qmin, qmax, rnd)
        lo = np.full(nch, in_type.min, dtype=np.int64)
        hi = np.full(nch, in_type.max, dtype=np.int64)
        T = compute_thresholds(level, lo, hi, nt)
        node = _thresholding_node(model, n.input[0], T, quant, shape, qtype, s_a, qmin, in_type)
        pos = list(model.graph.node).index(n)
        model.graph.node.insert(pos, node)
        for r in [*chain.removed, quant]:
            if r in model.graph.node:
                model.graph.node.remove(r)


def _trunc_params(model: ModelWrapper, tr: onnx.NodeProto) -> tuple[float, float, int, bool, str]:
    """(scale, output scale, output bits, signed, rounding) of a QONNX ``Trunc`` node."""
    vals = [model.get_initializer(t) for t in tr.input[1:]]
    if any(v is None for v in vals):
        raise LoweringError(f"{_where(tr)}: its parameters must be constants")
    scale = _scalar(vals[0], "scale", tr)
    if _scalar(vals[1], "zero point", tr) != 0:
        raise LoweringError(f"{_where(tr)} has a non-zero zero point")
    in_bits = int(_scalar(vals[2], "input bit width", tr))
    if len(vals) >= 5:  # Trunc v2: scale, zeropt, input bits, output scale, output bits
        out_scale = _scalar(vals[3], "output scale", tr)
        out_bits = int(_scalar(vals[4], "output bit width", tr))
    else:  # v1: the output scale follows from the dropped bits
        out_bits = int(_scalar(vals[3], "output bit width", tr))
        out_scale = scale * 2.0 ** (in_bits - out_bits)
    a = _attrs(tr)
    return (
        scale,
        out_scale,
        out_bits,
        bool(a.get("signed", 1)),
        str(a.get("rounding_mode", "FLOOR")),
    )


def _whole_map_pool(n: onnx.NodeProto, h: int, w: int) -> bool:
    """Whether ``n`` averages the whole ``h`` x ``w`` map into one value per channel: a
    ``GlobalAveragePool``, or an ``AveragePool`` whose unpadded kernel covers the map (Brevitas'
    ``TruncAvgPool2d(kernel_size=map size)``); any other ``AveragePool`` is refused.

    Example:
        >>> from onnx import helper
        >>> _whole_map_pool(helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[4, 4]),
        ...                 4, 4)
        True
    """
    if n.op_type == "GlobalAveragePool":
        return True
    a = _attrs(n)
    kernel = [int(k) for k in a.get("kernel_shape", [])]
    pads = [int(x) for x in a.get("pads", [0, 0, 0, 0])]
    if kernel == [h, w] and not any(pads):
        return True
    raise LoweringError(
        f"{_where(n)} averages {kernel} windows of a {h}x{w} map; hwprune lowers only an "
        "average over the whole map (global average pooling: Brevitas TruncAdaptiveAvgPool2d(1) "
        "or TruncAvgPool2d with the map's size); use that or a max-pool"
    )


class LowerGlobalAccPool(Transformation):
    """``GlobalAveragePool`` (or an ``AveragePool`` over the whole map) on an integer map +
    ``Trunc`` -> ``IntGlobalAccPool``."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for idx, n in enumerate(model.graph.node):
            if n.op_type not in ("GlobalAveragePool", "AveragePool"):
                continue
            prod = _int_producer(model, n.input[0])
            if prod is None:
                continue
            src = _info(prod)
            h, w, c = src["shape"]
            _whole_map_pool(n, h, w)
            cons = _data_consumers(model, n.output[0])
            if len(cons) != 1 or cons[0].op_type != "Trunc":
                raise LoweringError(
                    f"{_where(n)} is not followed by a truncation (Brevitas "
                    "TruncAdaptiveAvgPool2d); quantize the global average pool's output"
                )
            tr = cons[0]
            scale, out_scale, out_bits, signed, rounding = _trunc_params(model, tr)
            if not math.isclose(scale, src["scale"] / (h * w), rel_tol=1e-5):
                raise LoweringError(
                    f"{_where(tr)}: its scale {scale:g} is not the pooled input's "
                    f"{src['scale']:g} / {h * w}; hwprune lowers an integer sum"
                )
            shift = int(round(math.log2(out_scale / scale)))
            if rounding.upper() not in ("ROUND", "FLOOR") or shift < 0:
                raise LoweringError(f"{_where(tr)}: rounding {rounding!r} / shift {shift}")
            it: IntType = src["type"]
            out_t = IntType.for_range(
                int(min_int(signed, False, out_bits)), int(max_int(signed, False, out_bits))
            )
            node = _make(
                "IntGlobalAccPool",
                [n.input[0]],
                [tr.output[0]],
                _next_name(model, "gap"),
                out_shape=[1, 1, c],
                out_type=out_t.name,
                out_scale=out_scale,
                qonnx_tensor=tr.output[0],
                in_shape=[h, w, c],
                in_type=it.name,
                acc_type=IntType.for_range(h * w * min(it.min, 0), h * w * it.max).name,
                shift=shift,
                rounding=rounding.upper(),
            )
            model.graph.node.insert(idx, node)
            model.graph.node.remove(n)
            model.graph.node.remove(tr)
            return model, True
        return model, False


#: the passes :func:`hwprune.export.lower.lower_onnx` runs after the chain passes
RESIDUAL_PASSES: tuple[Transformation, ...] = (
    LowerDuplicate(),
    LowerAdd(),
    LowerRequant(),
    LowerGlobalAccPool(),
)
