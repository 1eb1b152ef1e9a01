"""Reading a QONNX graph for the lowering: quantizer types, integer weights, monotone chains.

These helpers turn the float-with-quantizers view of QONNX into the integers the lowered
nodes hold; anything that cannot be lowered raises :class:`~hwprune.errors.LoweringError`
naming the node and saying what to change.

Example:
    >>> _nhwc([1, 16, 8, 8])
    (8, 8, 16)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.intquant import max_int, min_int, resolve_rounding_mode
from qonnx.custom_op.general.quant import quant

from hwprune.errors import LoweringError
from hwprune.export.dtypes import IntType
from hwprune.export.onnx_nodes import _attrs, _where
from hwprune.export.thresholds import Step, affine, clip, quant_step

_AFFINE_OPS = {"Mul", "Add", "Sub", "Div"}


def _check_finite(v: np.ndarray, what: str, node: onnx.NodeProto) -> None:
    """Refuse NaN / infinite quantizer parameters (a training run that diverged) by name."""
    if not np.all(np.isfinite(v)):
        raise LoweringError(
            f"{_where(node)}: its {what} holds NaN or infinite values (the training diverged, "
            "e.g. 1-bit weights under a float-scale quantizer); retrain, or use a binary "
            "quantizer such as brevitas.quant.SignedBinaryWeightPerTensorConst for 1 bit"
        )


def _scalar(value: np.ndarray | None, what: str, node: onnx.NodeProto) -> float:
    if value is None:
        raise LoweringError(
            f"{_where(node)}: its {what} is not a constant; export the model "
            "with constant quantizer parameters"
        )
    v = np.asarray(value, dtype=np.float64).ravel()
    _check_finite(v, what, node)
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
    _check_finite(np.asarray(s, dtype=np.float64), "weight scale", prod)
    _check_finite(w, "weights", prod)
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


def _constant(model: ModelWrapper, name: str) -> tuple[np.ndarray | None, onnx.NodeProto | None]:
    """The value of tensor ``name`` when it is a constant (an initializer, or a ``Quant`` of
    initializers: a quantized bias or operand, e.g. Brevitas' ``Int32Bias``, computed here with
    qonnx's ``quant``), and that ``Quant`` node; ``(None, None)`` for a run-time tensor.

    Example:
        >>> _constant(model, "Add_0_param0")  # doctest: +SKIP
        (array([...]), None)
    """
    value = model.get_initializer(name)
    if value is not None:
        return np.asarray(value, dtype=np.float64), None
    prod = model.find_producer(name)
    if prod is None or prod.op_type != "Quant":
        return None, None
    consts = [model.get_initializer(x) for x in prod.input]
    if any(c is None for c in consts):
        return None, None
    a = _attrs(prod)
    value = quant(
        *(np.asarray(c, dtype=np.float64) for c in consts),
        signed=int(a.get("signed", 1)),
        narrow=int(a.get("narrow", 0)),
        rounding_mode=str(a.get("rounding_mode", "ROUND")),
    )
    return np.asarray(value, dtype=np.float64), prod


def _only_reader(model: ModelWrapper, prod: onnx.NodeProto | None, name: str) -> list:
    """``[prod]`` when tensor ``name`` (its output) has one reader, so it goes with it."""
    return [prod] if prod is not None and len(model.find_consumers(name)) == 1 else []


def _layer_bias(
    model: ModelWrapper, layer: onnx.NodeProto, nch: int
) -> tuple[np.ndarray, list[onnx.NodeProto]]:
    """The float bias a layer adds itself (a ``Conv``'s third input), per output channel, and
    the quantizer nodes that only it reads (to remove with it); zeros when it has none.

    The bias is a constant, or a ``Quant`` of constants (:func:`_constant`).
    """
    if len(layer.input) < 3 or not layer.input[2]:
        return np.zeros(nch), []
    name = layer.input[2]
    value, prod = _constant(model, name)
    if value is None:
        raise LoweringError(
            f"{_where(layer)}: its bias is not a constant; export the model with a "
            "constant (or constant-quantized) bias"
        )
    v = value.ravel()  # ONNX: one value per output channel
    if v.size not in (1, nch):
        raise LoweringError(f"{_where(layer)}: its bias has {v.size} values for {nch} channels")
    return np.broadcast_to(v, (nch,)).copy(), _only_reader(model, prod, name)


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


@dataclass
class Chain:
    """What follows a layer up to its activation quantizer: per-channel monotone ``steps`` (the
    first an affine one; see :mod:`hwprune.export.thresholds`), the nodes they replace, the
    quantizer (``None`` when the chain reaches the graph output) and the last tensor before it.

    Example:
        >>> chain = _follow_chain(model, conv.output[0], 16, 4, conv)  # doctest: +SKIP
        >>> [s.kind for s in chain.steps], chain.quant.op_type       # doctest: +SKIP
        (['affine', 'clip'], 'Quant')
    """

    steps: list[Step]
    removed: list[onnx.NodeProto]
    quant: onnx.NodeProto | None
    last: str

    @property
    def affine_only(self) -> bool:
        """True when the chain is one affine step (BatchNorm / Mul / Add ..., no ReLU)."""
        return len(self.steps) == 1


def _bn_affine(model: ModelWrapper, n: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray] | None:
    """A BatchNorm (inference) as per-channel ``(scale, shift)``; None when its parameters are
    not constants."""
    g, beta, mean, var = (model.get_initializer(x) for x in n.input[1:5])
    if any(x is None for x in (g, beta, mean, var)):
        return None
    eps = float(_attrs(n).get("epsilon", 1e-5))
    sc = np.asarray(g, np.float64) / np.sqrt(np.asarray(var, np.float64) + eps)
    return sc, np.asarray(beta, np.float64) - np.asarray(mean, np.float64) * sc


def _bn_fold(model: ModelWrapper, n: onnx.NodeProto):
    bn = _bn_affine(model, n)
    if bn is None:
        raise LoweringError(f"{_where(n)}: BatchNorm parameters must be constants")
    sc, sh = bn
    return lambda a, b: (a * sc, b * sc + sh)


def _affine_fold(model: ModelWrapper, n: onnx.NodeProto, nch: int, ndim: int):
    """``(a, b) -> (a', b')`` of a Mul/Add/Sub/Div by a constant (or a quantized constant), and
    the constant's quantizer when only this node reads it."""
    found = [_constant(model, x) for x in n.input]
    dyn = [i for i, (c, _) in enumerate(found) if c is None]
    op = n.op_type
    if len(dyn) != 1:
        what = "a residual add" if op == "Add" else "an elementwise op of two tensors"
        raise LoweringError(
            f"{_where(n)} is {what} that reads a layer's output before it is quantized, which "
            "hwprune cannot requantize yet; quantize both inputs first (in Brevitas: one shared "
            "QuantIdentity on the block's output and on the skip, then the add)"
        )
    value, prod = found[1 - dyn[0]]
    c = _chan_vector(value, nch, ndim, n)
    extra = _only_reader(model, prod, n.input[1 - dyn[0]])
    if op == "Mul":
        return (lambda a, b: (a * c, b * c)), extra
    if op == "Add":
        return (lambda a, b: (a, b + c)), extra
    if op == "Sub":
        if dyn[0] == 0:
            return (lambda a, b: (a, b - c)), extra
        return (lambda a, b: (-a, c - b)), extra
    if dyn[0] != 0:
        raise LoweringError(
            f"{_where(n)} divides a constant by a tensor, which is not monotone; "
            "multiply by a constant instead"
        )
    return (lambda a, b: (a / c, b / c)), extra


def _clip_step(model: ModelWrapper, n: onnx.NodeProto, nch: int, ndim: int) -> Step:
    """A ``Clip`` (nn.ReLU6, nn.Hardtanh) with constant bounds (inputs, or attributes before
    opset 11) as a step."""
    a = _attrs(n)
    bounds = [float(a.get("min", -np.inf)), float(a.get("max", np.inf))]
    for k, name in enumerate(n.input[1:3]):
        if not name:
            continue
        value, _ = _constant(model, name)
        if value is None:
            raise LoweringError(
                f"{_where(n)}: its {('min', 'max')[k]} bound is not a constant; "
                "clip to constant bounds (nn.ReLU6, nn.Hardtanh)"
            )
        bounds[k] = _chan_vector(value, nch, ndim, n)
    return clip(bounds[0], bounds[1], nch)


def _chain_op(model: ModelWrapper, n: onnx.NodeProto, nch: int, ndim: int, layer: onnx.NodeProto):
    """One node of a chain: ``(affine fold, None, extra nodes)``, ``(None, step, [])`` or
    ``(None, None, [])`` (an Identity); a node that is no monotone per-channel step raises."""
    op = n.op_type
    if op == "BatchNormalization":
        return _bn_fold(model, n), None, []
    if op in _AFFINE_OPS:
        fold, extra = _affine_fold(model, n, nch, ndim)
        return fold, None, extra
    if op == "Neg":
        return (lambda a, b: (-a, -b)), None, []
    if op == "Relu":
        return None, clip(0.0, np.inf, nch), []
    if op == "Clip":
        return None, _clip_step(model, n, nch, ndim), []
    if op == "Identity":
        return None, None, []
    raise LoweringError(
        f"{_where(n)} follows {_where(layer)} before its output is quantized; between a "
        "layer and its quantizer hwprune folds only monotone per-channel steps (BatchNorm, "
        "Mul/Add/Sub/Div by a constant, Relu, Clip): quantize the output before it (a float "
        "activation needs an activation quantizer, QuantReLU / QuantIdentity) or remove it"
    )


def _follow_chain(
    model: ModelWrapper, start: str, nch: int, ndim: int, layer: onnx.NodeProto
) -> Chain:
    """Collect the per-channel monotone steps after a layer up to its quantizer.

    The walk goes on past a quantizer whose output only feeds more steps and another quantizer
    (``QuantReLU -> BatchNorm -> QuantIdentity``: the first quantizer becomes a step); it stops
    at the last quantizer so reached, and raises for an unsupported node before the first.
    """
    steps = [affine(np.ones(nch), np.zeros(nch))]
    removed: list[onnx.NodeProto] = []
    outputs = {o.name for o in model.graph.output}
    done: Chain | None = None  # the chain up to the last quantizer passed
    t = start
    while True:
        cons = model.find_consumers(t)
        if t in outputs and (done is not None or not cons):
            return done or Chain(steps, removed, None, t)
        try:
            if len(cons) != 1:
                names = ", ".join(_where(c) for c in cons)
                raise LoweringError(
                    f"the output of {_where(layer)} feeds several nodes ({names}); "
                    "hwprune lowers only chains (no residual branches yet)"
                )
            n = cons[0]
            if n.op_type in ("Quant", "BipolarQuant"):
                done = Chain(list(steps), list(removed), n, t)
                qtype, scale, qmin, qmax, rnd = _quant_type(n, model)
                steps.append(quant_step(scale, qmin, qmax, rnd, qtype.bipolar, nch))
                fold, step, extra = None, None, []
            else:
                fold, step, extra = _chain_op(model, n, nch, ndim, layer)
        except LoweringError:
            if done is not None:
                return done
            raise
        if fold is not None:
            if steps[-1].kind != "affine":
                steps.append(affine(np.ones(nch), np.zeros(nch)))
            steps[-1] = affine(*fold(*steps[-1].p))
        elif step is not None:
            steps.append(step)
        removed += [n, *extra]
        t = n.output[0]
