"""Reading a QONNX graph for the lowering: quantizer types, integer weights, affine chains.

These helpers turn the float-with-quantizers view of QONNX into the integers the lowered
nodes hold; anything that cannot be lowered raises :class:`~hwprune.errors.LoweringError`
naming the node and saying what to change.

Example:
    >>> _nhwc([1, 16, 8, 8])
    (8, 8, 16)
"""

from __future__ import annotations

import numpy as np
import onnx
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.intquant import max_int, min_int, resolve_rounding_mode
from qonnx.custom_op.general.quant import quant

from hwprune.errors import LoweringError
from hwprune.export.dtypes import IntType
from hwprune.export.onnx_nodes import _attrs, _where

_AFFINE_OPS = {"Mul", "Add", "Sub", "Div"}


def _scalar(value: np.ndarray | None, what: str, node: onnx.NodeProto) -> float:
    if value is None:
        raise LoweringError(
            f"{_where(node)}: its {what} is not a constant; export the model "
            "with constant quantizer parameters"
        )
    v = np.asarray(value, dtype=np.float64).ravel()
    if v.size == 0 or not np.all(v == v[0]):
        raise LoweringError(
            f"{_where(node)}: per-channel {what} on an activation cannot be "
            "lowered to integers; use a per-tensor activation quantizer"
        )
    return float(v[0])


def _quant_type(node: onnx.NodeProto, model: ModelWrapper) -> tuple[IntType, float, int, int, str]:
    """(type, scale, qmin, qmax, rounding) of an activation Quant/BipolarQuant node."""
    if node.op_type == "BipolarQuant":
        scale = _scalar(model.get_initializer(node.input[1]), "scale", node)
        return IntType(1, True, True), scale, -1, 1, "ROUND"
    a = _attrs(node)
    scale = _scalar(model.get_initializer(node.input[1]), "scale", node)
    zp = _scalar(model.get_initializer(node.input[2]), "zero point", node)
    bits = int(_scalar(model.get_initializer(node.input[3]), "bit width", node))
    if zp != 0:
        raise LoweringError(
            f"{_where(node)} has zero point {zp}; hwprune lowers only "
            "quantizers with zero point 0 (use a symmetric/unsigned quantizer)"
        )
    if scale <= 0:
        raise LoweringError(f"{_where(node)} has a non-positive scale {scale}")
    signed, narrow = bool(a.get("signed", 1)), bool(a.get("narrow", 0))
    if bits == 1 and signed:
        return IntType(1, True, True), scale, -1, 1, "ROUND"
    qmin = int(min_int(signed, narrow, bits))
    qmax = int(max_int(signed, narrow, bits))
    return IntType(bits, signed), scale, qmin, qmax, str(a.get("rounding_mode", "ROUND"))


def _nhwc(shape: list[int] | tuple[int, ...]) -> tuple[int, ...]:
    """QONNX (N, C, H, W) or (N, F) tensor shape -> our per-sample NHWC / flat shape."""
    s = tuple(int(x) for x in shape[1:])
    if len(s) == 3:
        return (s[1], s[2], s[0])
    return s


def _weights(model: ModelWrapper, tensor: str, user: onnx.NodeProto):
    """Integer weights, their scale broadcast to the weight shape, type and producer nodes."""
    prod = model.find_producer(tensor)
    if prod is None:
        w = model.get_initializer(tensor)
        if w is None:
            raise LoweringError(
                f"{_where(user)}: its weights are computed at run time; hwprune "
                "needs constant quantized weights"
            )
        raise LoweringError(
            f"{_where(user)} has float (unquantized) weights; quantize them "
            "(e.g. brevitas QuantConv2d/QuantLinear) before export"
        )
    if prod.op_type not in ("Quant", "BipolarQuant"):
        raise LoweringError(
            f"{_where(user)}: its weights come from {_where(prod)}, not from a "
            "weight quantizer; hwprune cannot lower that"
        )
    w = model.get_initializer(prod.input[0])
    if w is None:
        raise LoweringError(f"{_where(prod)}: weight quantizer input is not a constant")
    w = np.asarray(w, dtype=np.float64)
    s = model.get_initializer(prod.input[1])
    if s is None:
        raise LoweringError(f"{_where(prod)}: weight scale is not a constant")
    s = np.broadcast_to(np.asarray(s, dtype=np.float64), w.shape)
    if prod.op_type == "BipolarQuant":
        wint = np.where(w >= 0, 1, -1).astype(np.int64)
        return wint, s, IntType(1, True, True), prod
    a = _attrs(prod)
    zp = model.get_initializer(prod.input[2])
    bits = model.get_initializer(prod.input[3])
    if zp is None or bits is None or np.any(np.asarray(zp) != 0):
        raise LoweringError(f"{_where(prod)}: weight zero point must be the constant 0")
    bits = int(np.asarray(bits).ravel()[0])
    signed, narrow = bool(a.get("signed", 1)), bool(a.get("narrow", 0))
    y = w / s
    if bits == 1 and signed:
        return np.where(y >= 0, 1, -1).astype(np.int64), s, IntType(1, True, True), prod
    y = np.clip(y, min_int(signed, narrow, bits), max_int(signed, narrow, bits))
    y = resolve_rounding_mode(str(a.get("rounding_mode", "ROUND")))(y)
    return y.astype(np.int64), s, IntType(bits, signed), prod


def _layer_bias(
    model: ModelWrapper, layer: onnx.NodeProto, nch: int
) -> tuple[np.ndarray, list[onnx.NodeProto]]:
    """The float bias a layer adds itself (a ``Conv``'s third input), per output channel, and
    the quantizer nodes that only it reads (to remove with it); zeros when it has none.

    The bias is a constant, or a ``Quant`` of constants (a quantized bias, e.g. Brevitas'
    ``Int32Bias``), whose value is computed here.
    """
    if len(layer.input) < 3 or not layer.input[2]:
        return np.zeros(nch), []
    name = layer.input[2]
    value = model.get_initializer(name)
    removed: list[onnx.NodeProto] = []
    if value is None:
        prod = model.find_producer(name)
        consts = [model.get_initializer(x) for x in prod.input] if prod is not None else [None]
        if prod is None or prod.op_type != "Quant" or any(c is None for c in consts):
            raise LoweringError(
                f"{_where(layer)}: its bias is not a constant; export the model with a "
                "constant (or constant-quantized) bias"
            )
        a = _attrs(prod)
        value = quant(
            *(np.asarray(c, dtype=np.float64) for c in consts),
            signed=int(a.get("signed", 1)),
            narrow=int(a.get("narrow", 0)),
            rounding_mode=str(a.get("rounding_mode", "ROUND")),
        )
        if len(model.find_consumers(name)) == 1:
            removed.append(prod)
    v = np.asarray(value, dtype=np.float64).ravel()  # ONNX: one value per output channel
    if v.size not in (1, nch):
        raise LoweringError(f"{_where(layer)}: its bias has {v.size} values for {nch} channels")
    return np.broadcast_to(v, (nch,)).copy(), removed


def _chan_vector(c: np.ndarray, nch: int, ndim: int, node: onnx.NodeProto) -> np.ndarray:
    target = (1, nch) + (1,) * (ndim - 2)
    try:
        v = np.broadcast_to(np.asarray(c, dtype=np.float64), target)
    except ValueError:
        msg = (
            f"{_where(node)}: its constant of shape {np.shape(c)} is not per channel; "
            "hwprune folds only per-tensor or per-channel constants"
        )
        raise LoweringError(msg) from None
    return v.reshape(nch).copy()


def _follow_chain(model: ModelWrapper, start: str, nch: int, ndim: int, layer: onnx.NodeProto):
    """Collect the per-channel affine ops (+ReLU) after a layer up to its quantizer.

    Returns (a, b, relu, removed nodes, quant node or None, last tensor).
    """
    a = np.ones(nch)
    b = np.zeros(nch)
    relu = False
    removed: list[onnx.NodeProto] = []
    outputs = {o.name for o in model.graph.output}
    t = start
    while True:
        cons = model.find_consumers(t)
        if t in outputs and not cons:
            return a, b, relu, removed, None, t
        if len(cons) != 1:
            names = ", ".join(_where(c) for c in cons)
            raise LoweringError(
                f"the output of {_where(layer)} feeds several nodes ({names}); "
                "hwprune lowers only chains (no residual branches yet)"
            )
        n = cons[0]
        op = n.op_type
        if op in ("Quant", "BipolarQuant"):
            return a, b, relu, removed, n, t
        if op == "BatchNormalization":
            g, beta, mean, var = (model.get_initializer(x) for x in n.input[1:5])
            if any(x is None for x in (g, beta, mean, var)):
                raise LoweringError(f"{_where(n)}: BatchNorm parameters must be constants")
            eps = float(_attrs(n).get("epsilon", 1e-5))
            sc = np.asarray(g, np.float64) / np.sqrt(np.asarray(var, np.float64) + eps)
            sh = np.asarray(beta, np.float64) - np.asarray(mean, np.float64) * sc
            if relu:
                raise LoweringError(f"{_where(n)} after a ReLU cannot be folded into thresholds")
            a, b = a * sc, b * sc + sh
        elif op in _AFFINE_OPS:
            consts = [model.get_initializer(x) for x in n.input]
            dyn = [i for i, c in enumerate(consts) if c is None]
            if len(dyn) != 1:
                what = "a residual add" if op == "Add" else "an elementwise op of two tensors"
                raise LoweringError(f"{_where(n)} is {what}, which hwprune cannot requantize yet")
            if relu:
                raise LoweringError(f"{_where(n)} after a ReLU cannot be folded into thresholds")
            c = _chan_vector(consts[1 - dyn[0]], nch, ndim, n)
            if op == "Mul":
                a, b = a * c, b * c
            elif op == "Add":
                b = b + c
            elif op == "Sub":
                a, b = (a, b - c) if dyn[0] == 0 else (-a, c - b)
            else:  # Div
                if dyn[0] != 0:
                    raise LoweringError(f"{_where(n)} divides a constant by a tensor")
                a, b = a / c, b / c
        elif op == "Relu":
            relu = True
        elif op == "Identity":
            pass
        else:
            raise LoweringError(
                f"{_where(n)} follows {_where(layer)} before its output is "
                "quantized (a float activation or an unsupported op); add an "
                "activation quantizer (QuantReLU / QuantIdentity) there"
            )
        removed.append(n)
        t = n.output[0]
