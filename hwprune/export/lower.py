"""Lowering of a cleaned QONNX graph to the integer dataflow graph, as qonnx Transformations.

Each pass replaces one pattern of the QONNX graph by nodes of the ``hwprune.export`` domain
that compute on integers (NHWC layout). A replaced node keeps the name of the QONNX tensor it
reproduces, so later passes find their integer producer by tensor name and the executor can be
checked against qonnx at every layer boundary.

* :class:`LowerInputQuant` -- the input quantizer (and any host-side pre-processing before it)
  becomes ``IntInput``: the accelerator receives the quantizer's integers.
* :class:`LowerWeightLayer` -- ``Conv``/``MatMul`` with quantized weights, the per-channel
  monotone chain after it (affine ops of any sign: BatchNorm, Mul, Add, ...; ReLU, Clip;
  quantizers that only feed more of the chain) and the activation quantizer that ends it
  become ``[IntPad] -> [IntSlidingWindow] -> IntMVAU`` (``IntVVAU`` for a depthwise
  convolution) with integer weights and per-channel integer thresholds (the weight row of a
  channel where the chain falls is negated). Without a quantizer before the graph output the
  layer is the head: its output is the integer accumulator.
* :class:`LowerMaxPool` -- ``MaxPool`` on an integer tensor becomes ``IntMaxPool``.
* :class:`LowerFlatten` -- ``Reshape``/``Flatten`` of a feature map becomes ``IntFlatten``
  (the next fully connected layer's weight columns are reordered from C,H,W to H,W,C).
* :class:`InsertLabelSelect` -- arg-max after the head (unless scores are requested).
* :class:`DropOutputSoftmax` -- a final ``Softmax`` / ``LogSoftmax`` is dropped for label output
  (it keeps the arg-max) and refused for scores.

:func:`lower_model` runs them and reads the result into the IR
(:func:`hwprune.export.lower_read.extract_graph`: IR nodes with their integer payload, one
:class:`~hwprune.ir.DataflowGraph`); anything left over raises
:class:`~hwprune.errors.LoweringError` naming the node and its op.

Example:
    >>> graph = lower_model(load_qonnx("model.qonnx.onnx"))  # doctest: +SKIP
    >>> [n.op for n in graph.nodes]  # doctest: +SKIP
    ['MVAU', 'MVAU', 'MVAU', 'MVAU', 'LabelSelect']
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import onnx
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from hwprune.errors import LoweringError
from hwprune.export.dtypes import IntType
from hwprune.export.lower_read import extract_graph
from hwprune.export.onnx_nodes import (  # noqa: F401  (re-exported for lower_residual, tests)
    DOMAIN,
    _attrs,
    _info,
    _insert_at,
    _int_producer,
    _make,
    _next_name,
    _remove,
    _where,
)
from hwprune.export.qonnx_read import (  # noqa: F401  (re-exported)
    _AFFINE_OPS,
    _chan_vector,
    _follow_chain,
    _layer_bias,
    _nhwc,
    _quant_type,
    _scalar,
    _weights,
)
from hwprune.export.thresholds import (  # noqa: F401  (_level_fn re-exported for tests)
    _level_fn,
    chain_level_fn,
    compose_input,
    compute_thresholds,
    direction,
    flip_input,
)
from hwprune.ir import DataflowGraph

log = logging.getLogger(__name__)

_HOST_OPS = {"Mul", "Add", "Sub", "Div", "Reshape", "Flatten", "Identity"}


# --------------------------------------------------------------------------- passes


class LowerInputQuant(Transformation):
    """Replace the input quantizer (and host pre-processing before it) by ``IntInput``."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        if any(n.op_type == "IntInput" and n.domain == DOMAIN for n in model.graph.node):
            return model, False
        t = model.graph.input[0].name
        pre: list[onnx.NodeProto] = []
        while True:
            cons = model.find_consumers(t)
            if len(cons) != 1:
                raise LoweringError(
                    f"graph tensor '{t}' feeds {len(cons)} nodes before the input "
                    "quantizer; hwprune needs one input quantizer"
                )
            n = cons[0]
            if n.op_type in ("Quant", "BipolarQuant"):
                break
            consts = [model.get_initializer(x) for x in n.input[1:]]
            if n.op_type not in _HOST_OPS or any(c is None for c in consts):
                raise LoweringError(
                    f"{_where(n)} comes before the input quantizer; hwprune "
                    "needs the model to quantize its input first (add an input "
                    "QuantIdentity)"
                )
            pre.append(n)
            t = n.output[0]
        qtype, scale, qmin, qmax, _ = _quant_type(n, model)
        shape = _nhwc(model.get_tensor_shape(n.output[0]))
        node = _make(
            "IntInput",
            [],
            [n.output[0]],
            "input",
            out_shape=list(shape),
            out_type=qtype.name,
            out_scale=scale,
            qonnx_tensor=n.output[0],
            qmin=qmin,
            qmax=qmax,
            quant_input=t,
            host_preprocessing=[f"{p.op_type}:{p.name}" for p in pre] or [""],
        )
        idx = list(model.graph.node).index(n)
        _insert_at(model, idx, [node])
        _remove(model, [*pre, n])
        return model, True


def _replace_keeping_type(
    model: ModelWrapper,
    idx: int,
    n: onnx.NodeProto,
    op: str,
    prefix: str,
    src: dict[str, Any],
    out_shape: tuple[int, ...],
    **attrs: Any,
) -> None:
    """Replace ``n`` (at ``idx``) by the integer node ``op`` named ``<prefix><k>``, whose output
    keeps the type and scale of its input ``src`` (an :func:`_info` dict)."""
    node = _make(
        op,
        [n.input[0]],
        [n.output[0]],
        _next_name(model, prefix),
        out_shape=list(out_shape),
        out_type=src["type"].name,
        out_scale=src["scale"],
        qonnx_tensor=n.output[0],
        in_shape=list(src["shape"]),
        **attrs,
    )
    model.graph.node.insert(idx, node)
    model.graph.node.remove(n)


class LowerMaxPool(Transformation):
    """``MaxPool`` (kernel = stride, no padding) on an integer map -> ``IntMaxPool``."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for idx, n in enumerate(model.graph.node):
            if n.op_type != "MaxPool" or _int_producer(model, n.input[0]) is None:
                continue
            src = _info(_int_producer(model, n.input[0]))
            a = _attrs(n)
            k = list(a.get("kernel_shape", [1, 1]))
            s = list(a.get("strides", k))
            if (
                len(k) != 2
                or k[0] != k[1]
                or s != k
                or any(a.get("pads", [0]))
                or a.get("ceil_mode", 0)
                or any(d != 1 for d in a.get("dilations", [1, 1]))
            ):
                raise LoweringError(
                    f"{_where(n)}: hwprune lowers only square max-pooling with "
                    "stride = kernel, no padding and floor mode"
                )
            h, w, c = src["shape"]
            out = (h // k[0], w // k[0], c)
            _replace_keeping_type(model, idx, n, "IntMaxPool", "pool", src, out, kernel=k[0])
            return model, True
        return model, False


class LowerFlatten(Transformation):
    """``Reshape``/``Flatten`` of an integer map to (N, features) -> ``IntFlatten``."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for idx, n in enumerate(model.graph.node):
            if n.op_type not in ("Reshape", "Flatten") or _int_producer(model, n.input[0]) is None:
                continue
            src = _info(_int_producer(model, n.input[0]))
            out_shape = model.get_tensor_shape(n.output[0])
            size = int(np.prod(src["shape"]))
            if out_shape is None or len(out_shape) != 2 or int(out_shape[1]) != size:
                raise LoweringError(
                    f"{_where(n)}: only a flatten to (batch, features) can be lowered"
                )
            _replace_keeping_type(model, idx, n, "IntFlatten", "flatten", src, (size,))
            return model, True
        return model, False


class LowerWeightLayer(Transformation):
    """Conv/MatMul + affine chain + activation quantizer -> (Pad, SlidingWindow,) ``IntMVAU``."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for idx, n in enumerate(model.graph.node):
            if n.op_type not in ("Conv", "MatMul", "Gemm"):
                continue
            prod = _int_producer(model, n.input[0])
            if prod is None:
                continue
            self._lower(model, idx, n, prod)
            return model, True
        return model, False

    def _lower(
        self, model: ModelWrapper, idx: int, n: onnx.NodeProto, prod: onnx.NodeProto
    ) -> None:
        if n.op_type == "Gemm":
            raise LoweringError(f"{_where(n)}: convert Gemm with qonnx GemmToMatMul first")
        src = _info(prod)
        wint, ws, wtype, wq = _weights(model, n.input[1], n)
        name = _next_name(model, "conv" if n.op_type == "Conv" else "fc")
        if n.op_type == "Conv":
            lay = _conv_layer(n, src, wint, ws, wq, name)
        else:
            lay = _fc_layer(model, n, prod, src, wint, ws, wq)
        act = _activation(model, n, lay, name)
        W = act.W
        if not (wtype.bipolar or wtype.contains(W)):
            wtype = IntType.for_range(int(W.min()), int(W.max()))
        model.set_initializer(f"{name}_W", W.astype(np.int64))
        op = "IntVVAU" if lay.depthwise else "IntMVAU"
        attrs: dict[str, Any] = dict(
            in_shape=list(lay.in_shape),
            in_type=lay.in_type.name,
            nvec=lay.nvec,
            conv=int(lay.conv),
            source=n.name,
            **act.attrs,
        )
        if lay.depthwise:
            attrs["kernel"] = lay.kernel
        xnor = int(wtype.bipolar and lay.in_type.bipolar and not lay.depthwise)
        lay.new_nodes.append(
            _make(
                op,
                [lay.in_tensor, f"{name}_W", *act.extra_inputs],
                [act.out_tensor],
                name,
                out_shape=list(lay.out_shape),
                qonnx_tensor=act.out_tensor,
                wtype=wtype.name,
                acc_type=act.acc_type.name,
                xnor=xnor,
                **attrs,
            )
        )
        removed = [n, *act.removed]
        if prod.op_type == "IntFlatten" and not model.find_consumers(prod.output[0])[1:]:
            removed.append(prod)
        if len(model.find_consumers(n.input[1])) == 1:
            removed.append(wq)
        pos = list(model.graph.node).index(n)
        _insert_at(model, pos, lay.new_nodes)
        _remove(model, removed)


@dataclass
class _Layer:
    """A weight layer's matrix view: integer weights ``W`` (rows: outputs), per-output weight
    scale ``s_o``, the tensor and type it reads (after any padding), ``nvec`` input vectors,
    and the pad/window nodes in front of it."""

    W: np.ndarray
    s_o: np.ndarray
    s_x: float
    xrange: tuple[int, int]
    in_tensor: str
    in_type: IntType
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    nvec: int
    ndim: int
    conv: bool
    depthwise: bool = False
    kernel: int = 1
    new_nodes: list[onnx.NodeProto] = field(default_factory=list)


def _conv_layer(
    n: onnx.NodeProto, src: dict[str, Any], wint: np.ndarray, ws: np.ndarray, wq: Any, name: str
) -> _Layer:
    """A ``Conv`` as a matrix over its windows: ``[IntPad] -> [IntSlidingWindow]`` in front."""
    in_type: IntType = src["type"]
    a = _attrs(n)
    groups = int(a.get("group", 1))
    depthwise = (
        groups > 1 and groups == wint.shape[0] and wint.shape[1] == 1 and groups == src["shape"][-1]
    )
    if groups != 1 and not depthwise:
        raise LoweringError(
            f"{_where(n)} is a grouped convolution ({groups} groups); "
            "hwprune lowers plain and depthwise convolutions only"
        )
    k = list(a.get("kernel_shape", wint.shape[2:]))
    st = list(a.get("strides", [1, 1]))
    pads = list(a.get("pads", [0, 0, 0, 0]))
    if (
        k[0] != k[1]
        or st[0] != st[1]
        or len(set(pads)) > 1
        or any(d != 1 for d in a.get("dilations", [1, 1]))
    ):
        raise LoweringError(
            f"{_where(n)}: only square kernels, equal strides, equal "
            "padding and no dilation can be lowered"
        )
    if len(src["shape"]) != 3:
        raise LoweringError(f"{_where(n)}: its input is not a feature map")
    n_out = wint.shape[0]
    s_o = ws[:, 0, 0, 0]
    if not np.all(ws == s_o[:, None, None, None]):
        raise LoweringError(f"{_where(wq)}: weight scale varies inside an output channel")
    W = wint.transpose(0, 2, 3, 1).reshape(n_out, -1)  # depthwise: (C, K*K)
    h, w, c = src["shape"]
    p = int(pads[0])
    s_x = src["scale"]
    xrange = (in_type.min, in_type.max)  # a padded bipolar map holds -1, 0, +1 (INT2)
    in_tensor = n.input[0]
    new_nodes = []
    if p:
        # a bipolar map padded with zeros holds -1, 0, +1: it continues as INT2
        pad_type = IntType(2, True) if in_type.bipolar else in_type
        pname = f"{name}_pad"
        pshape = (h + 2 * p, w + 2 * p, c)
        pt = f"{pname}_out"
        new_nodes.append(
            _make(
                "IntPad",
                [in_tensor],
                [pt],
                pname,
                out_shape=list(pshape),
                out_type=pad_type.name,
                out_scale=s_x,
                qonnx_tensor="",
                in_shape=[h, w, c],
                pad=p,
                in_type=in_type.name,
            )  # fmt: skip
        )
        in_type = pad_type
        in_tensor, (h, w, c) = pt, pshape
    kk, ss = int(k[0]), int(st[0])
    oh, ow = (h - kk) // ss + 1, (w - kk) // ss + 1
    if not (kk == 1 and ss == 1 and p == 0):  # a 1x1 conv streams the map directly
        sname = f"{name}_swg"
        swt = f"{sname}_out"
        new_nodes.append(
            _make(
                "IntSlidingWindow",
                [in_tensor],
                [swt],
                sname,
                out_shape=[oh, ow, kk * kk * c],
                out_type=in_type.name,
                out_scale=s_x,
                qonnx_tensor="",
                in_shape=[h, w, c],
                kernel=kk,
                stride=ss,
                depthwise=int(depthwise),
            )  # fmt: skip
        )
        in_tensor = swt
    return _Layer(
        W, s_o, s_x, xrange, in_tensor, in_type, (oh, ow, kk * kk * c), (oh, ow, n_out),
        oh * ow, 4, True, depthwise, kk, new_nodes,
    )  # fmt: skip


def _fc_layer(
    model: ModelWrapper,
    n: onnx.NodeProto,
    prod: onnx.NodeProto,
    src: dict[str, Any],
    wint: np.ndarray,
    ws: np.ndarray,
    wq: Any,
) -> _Layer:
    """A ``MatMul`` (columns reordered from C,H,W to H,W,C after a flattened feature map)."""
    in_type: IntType = src["type"]
    W = wint.T.copy()
    n_out = W.shape[0]
    s_o = ws[0, :]
    if not np.all(ws == s_o[None, :]):
        raise LoweringError(f"{_where(wq)}: weight scale varies along the input axis")
    in_shape = src["shape"]
    in_tensor = n.input[0]
    if prod.op_type == "IntFlatten":
        fin = tuple(int(x) for x in _attrs(prod)["in_shape"])
        if len(fin) == 3:
            hh, ww, cc = fin
            W = W.reshape(n_out, cc, hh, ww).transpose(0, 2, 3, 1).reshape(n_out, -1)
            in_shape = fin
        in_tensor = prod.input[0]
    if W.shape[1] != int(np.prod(in_shape)):
        raise LoweringError(
            f"{_where(n)}: weight shape {wint.shape} does not match its "
            f"input of {int(np.prod(in_shape))} features"
        )
    xrange = (in_type.min, in_type.max)
    return _Layer(
        W, s_o, src["scale"], xrange, in_tensor, in_type, tuple(in_shape), (n_out,), 1, 2, False
    )


@dataclass
class _Activation:
    """What follows a weight layer: its thresholds (or none, for the head), the weights with
    negative-scale rows flipped, the accumulator type and the node's output attributes."""

    W: np.ndarray
    acc_type: IntType
    out_tensor: str
    removed: list[onnx.NodeProto]
    extra_inputs: list[str]
    attrs: dict[str, Any]


def _activation(model: ModelWrapper, n: onnx.NodeProto, lay: _Layer, name: str) -> _Activation:
    """The monotone chain and quantizer after ``n``: per-channel integer thresholds (the
    thresholds initializer ``<name>_T`` is set; the weight rows of the channels where the chain
    falls are negated), or the head's raw accumulator."""
    n_out = lay.W.shape[0]
    chain = _follow_chain(model, n.output[0], n_out, lay.ndim, n)
    bias, bias_nodes = _layer_bias(model, n, n_out)  # the layer's own bias input
    steps = compose_input(chain.steps, lay.s_x * lay.s_o, bias)
    removed = [*bias_nodes, *chain.removed]
    quant = chain.quant
    xmin, xmax = lay.xrange
    W = lay.W
    if lay.depthwise and quant is None:
        raise LoweringError(
            f"the depthwise {_where(n)} ends the network without an "
            "activation quantizer; the head must be a fully connected or "
            "plain convolution layer"
        )
    if quant is not None:
        qtype, s_a, qmin, qmax, rnd = _quant_type(quant, model)
        flip = direction(steps) < 0
        W = np.where(flip[:, None], -W, W)
        steps = flip_input(steps, flip)
        amax = np.maximum(W * xmin, W * xmax).sum(axis=1)
        amin = np.minimum(W * xmin, W * xmax).sum(axis=1)
        nt = 1 if qtype.bipolar else qmax - qmin
        level = chain_level_fn(steps, qtype, s_a, qmin, qmax, rnd)
        T = compute_thresholds(level, amin, amax, nt)
        acc_type = IntType.for_range(
            min(int(amin.min()), int(T.min())), max(int(amax.max()), int(T.max()))
        )
        model.set_initializer(f"{name}_T", T)
        if np.any(flip):
            log.info("%s: %d channels where the chain falls, weight rows flipped", name, flip.sum())
        attrs = dict(out_type=qtype.name, out_scale=s_a, out_bias=-1 if qtype.bipolar else qmin)
        return _Activation(
            W, acc_type, quant.output[0], [*removed, quant], [f"{name}_T"], {**attrs, "head": 0}
        )
    if not chain.affine_only:
        kinds = ", ".join(s.kind for s in chain.steps[1:])
        raise LoweringError(
            f"the head {_where(n)} ends in an activation ({kinds}, e.g. a ReLU); hwprune's "
            "head must output its accumulator (no activation)"
        )
    A, b_c = steps[0].p
    amax = np.maximum(W * xmin, W * xmax).sum(axis=1)
    amin = np.minimum(W * xmin, W * xmax).sum(axis=1)
    acc_type = IntType.for_range(int(amin.min()), int(amax.max()))
    attrs = dict(
        out_type=acc_type.name,
        out_scale=float(np.mean(A)) if A.size else 1.0,
        out_bias=0,
        head=1,
        score_scale=[float(x) for x in A],
        score_bias=[float(x) for x in b_c],
    )
    return _Activation(W, acc_type, chain.last, removed, [], attrs)


def _snap(x: Fraction) -> Fraction:
    r = round(x)
    return Fraction(r) if abs(x - r) <= abs(x) * Fraction(1, 2**23) else x


def label_offsets(
    score_scale: Any, score_bias: Any, where: str = "the head"
) -> tuple[tuple[int, ...] | None, int]:
    """Integer offsets and shift ``k`` such that ``(acc_i << k) + offsets[i]`` orders the
    classes as ``score_i = A * acc_i + b_i`` does (``A`` one positive scale): equal keys iff
    equal scores. ``(None, 0)`` when all ``b_i`` are equal (the accumulators order them).

    With ``c_i = b_i / A = floor(c_i) + f_i`` (exact rationals), ``acc_i + c_i`` orders as
    ``(acc_i + floor(c_i), f_i)``; ``r_i``, the rank of ``f_i`` among the ``R`` distinct
    fractional parts, needs ``k = ceil(log2 R)`` bits below the accumulator, so
    ``offsets[i] = floor(c_i) * 2**k + r_i``, less one common constant (the middle of their
    range, which keeps the keys narrow and orders them alike). A ``c_i`` within a float32
    rounding (``|c_i| * 2**-23``) of an integer is that integer: a bias quantized at the
    accumulator's scale (Brevitas' ``Int32Bias``) carries that scale rounded to float32, and
    its scores tie where the integers do.

    Raises :class:`LoweringError` for a per-class or negative ``A``.

    Example:
        >>> label_offsets([0.5, 0.5, 0.5], [0.25, -1.0, 0.75])
        ((2, -3, 4), 1)
        >>> label_offsets([0.5, 0.5], [0.1, 0.1])
        (None, 0)
    """
    A = np.asarray(score_scale, dtype=np.float64)
    B = np.asarray(score_bias, dtype=np.float64)
    if np.any(A <= 0) or not np.allclose(A, A[0], rtol=1e-6, atol=0):
        raise LoweringError(
            f"{where} has a per-channel or negative scale, so the arg-max of its "
            "integer accumulator may differ from the float output; use a per-tensor weight "
            "scale on the head, or export scores (--scores)"
        )
    if np.allclose(B, B[0], rtol=1e-6, atol=1e-12):
        return None, 0
    a = Fraction(float(A.mean()))
    c = [_snap(Fraction(float(b)) / a) for b in B]
    whole = [math.floor(x) for x in c]
    fracs = sorted({x - w for x, w in zip(c, whole, strict=True)})
    rank = {f: r for r, f in enumerate(fracs)}
    k = (len(fracs) - 1).bit_length()
    off = [(w << k) + rank[x - w] for x, w in zip(c, whole, strict=True)]
    mid = (min(off) + max(off)) // 2
    if max(off) - mid >= 1 << 40:  # keys far wider than any accumulator: a degenerate head
        raise LoweringError(
            f"{where} has a per-class bias over 2**{(max(off) - mid).bit_length() - k} times "
            "its scale, too wide for integer keys; check the head's quantizers, or export "
            "scores (--scores)"
        )
    return tuple(o - mid for o in off), k


class InsertLabelSelect(Transformation):
    """Append ``IntLabelSelect`` (arg-max) after the head; a head with a per-class bias
    selects on the integer keys of :func:`label_offsets` (``offsets``, ``shift``)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        if any(n.op_type == "IntLabelSelect" for n in model.graph.node):
            return model, False
        out = model.graph.output[0].name
        prod = _int_producer(model, out)
        if prod is None:
            return model, False
        info = _info(prod)
        a = info["attrs"]
        keys: dict[str, Any] = {}
        if prod.op_type == "IntMVAU" and a.get("head", 0):
            where = f"the head '{prod.name}'"
            offsets, shift = label_offsets(a["score_scale"], a["score_bias"], where)
            if offsets is not None:
                keys = {"offsets": list(offsets), "shift": shift}
        if len(info["shape"]) != 1:
            raise LoweringError(f"the graph output '{out}' is not a vector of class scores")
        nl = info["shape"][0]
        new_out = f"{out}_label"
        node = _make(
            "IntLabelSelect",
            [out],
            [new_out],
            "labelselect",
            out_shape=[1],
            out_type=IntType.for_range(0, max(nl - 1, 1)).name,
            out_scale=1.0,
            qonnx_tensor="",
            in_type=info["type"].name,
            num_labels=nl,
            **keys,
        )
        model.graph.node.append(node)
        return model, True


class DropOutputSoftmax(Transformation):
    """A ``Softmax`` / ``LogSoftmax`` over the class scores that ends the network: dropped for
    label output (it keeps the arg-max), refused for scores (hwprune outputs the head's integer
    scores)."""

    def __init__(self, output: str = "label") -> None:
        super().__init__()
        self.output = output

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        out = model.graph.output[0]
        n = model.find_producer(out.name)
        if n is None or n.op_type not in ("Softmax", "LogSoftmax"):
            return model, False
        shape = model.get_tensor_shape(n.input[0])
        axis = int(_attrs(n).get("axis", -1 if model.model.opset_import[0].version >= 13 else 1))
        if shape is None or len(shape) != 2 or axis not in (1, -1):
            raise LoweringError(
                f"{_where(n)} ends the network but is not over a vector of class scores; "
                "remove it from the model's forward()"
            )
        if self.output != "label":
            raise LoweringError(
                f"{_where(n)} ends the network; hwprune outputs the head's integer scores, not "
                "a softmax: export labels (the default, without --scores) or remove the softmax"
            )
        for vi in [v for v in model.graph.value_info if v.name == n.input[0]]:
            model.graph.value_info.remove(vi)
        out.name = n.input[0]
        model.graph.node.remove(n)
        log.info("%s dropped: it does not change the arg-max of the label output", _where(n))
        return model, True


# --------------------------------------------------------------------------- driver


def lower_onnx(model: ModelWrapper, output: str = "label") -> ModelWrapper:
    """Run the lowering passes on a cleaned QONNX model; returns the lowered ModelWrapper.

    Raises :class:`LoweringError` naming the first node that could not be lowered.
    """
    if output not in ("label", "scores"):
        raise ValueError("output must be 'label' or 'scores'")
    from hwprune.export.lower_residual import RESIDUAL_PASSES  # residual blocks, GAP
    from hwprune.export.pool_order import PoolAfterQuant  # conv -> BN -> MaxPool -> quantizer

    m = model.transform(DropOutputSoftmax(output), cleanup=False)
    m = m.transform(PoolAfterQuant(), cleanup=False)
    m = m.transform(LowerInputQuant(), cleanup=False)
    passes = (LowerWeightLayer(), LowerMaxPool(), LowerFlatten(), *RESIDUAL_PASSES)
    changed = True
    while changed:
        changed = False
        for p in passes:
            m, ch = p.apply(m)
            changed |= ch
    leftovers = [n for n in m.graph.node if n.domain != DOMAIN]
    if leftovers:
        # name the node that blocks the chain: one fed by an integer node, else not a weight
        # quantizer (those only remain because their layer was not reached)
        blocked = [n for n in leftovers if n.input and _int_producer(m, n.input[0]) is not None]
        data = blocked or [n for n in leftovers if m.get_initializer(n.input[0]) is None]
        n = (data or leftovers)[0]
        raise LoweringError(
            f"{_where(n)} cannot be lowered (unsupported op or position); supported: "
            "quantized Conv/MatMul, per-channel BatchNorm/Mul/Add/Relu/Clip between a layer and "
            "its quantizer, MaxPool, Flatten, residual Add, global average pool + Trunc, a "
            "final Softmax (label output)"
        )
    if output == "label":
        m = m.transform(InsertLabelSelect(), cleanup=False)
    return m


def lower_model(model: ModelWrapper, output: str = "label") -> DataflowGraph:
    """Lower a cleaned QONNX model (see :func:`hwprune.export.qonnx.load_qonnx`) to the IR: a
    :class:`~hwprune.ir.DataflowGraph` whose nodes carry their integer payload.

    ``output="label"`` ends the graph with an arg-max; ``"scores"`` keeps the head's integer
    accumulators. Folding is all-ones; apply one with :func:`hwprune.ir.folding.apply_folding`.
    """
    return extract_graph(lower_onnx(model, output), output)


def lower_qonnx(path: Any, output: str = "label") -> Any:
    """A QONNX file (or ModelWrapper) as the cost model's :class:`hwprune.ir.DataflowGraph`.

    The integer weights and thresholds are attached to the MVAU nodes; the folding is left open
    (all ones) for the folding optimizer. Used by ``hwprune estimate MODEL.onnx``.

    Example:
        >>> g = lower_qonnx("model.qonnx.onnx")  # doctest: +SKIP
        >>> g.nodes[0].op                        # doctest: +SKIP
        'MVAU'
    """
    from hwprune.export.qonnx import qonnx_to_ir

    return qonnx_to_ir(path, output=output)
