"""Max-pooling moved behind the activation quantizer when that is exact.

A network may pool a layer's float output and quantize afterwards (``conv -> BatchNorm ->
MaxPool -> QuantReLU``). hwprune's max-pool works on the quantized integers after the
thresholds, so :class:`PoolAfterQuant` rewrites such a graph to ``conv -> BatchNorm ->
QuantReLU -> MaxPool`` when every step between the pool and the quantizer is non-decreasing
per channel (ReLU, Clip, BatchNorm / Mul / Div by positive scales, Add / Sub of constants, the
quantizer itself): for such an ``f``, ``f(max(a, b)) = max(f(a), f(b))``, so the two graphs
compute the same values. A step that falls in some channel (a negative scale turns the max into
a min) leaves the graph as it is, and the lowering refuses it by name as before.

Example:
    >>> model = model.transform(PoolAfterQuant())  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import onnx
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes

from hwprune.export.qonnx_read import _bn_affine, _constant

_QUANTS = ("Quant", "BipolarQuant")


def _rising(model: ModelWrapper, n: onnx.NodeProto, t: str) -> bool:
    """Whether node ``n``, reading the run-time tensor ``t``, is non-decreasing in it per
    channel (its other inputs constants)."""
    op = n.op_type
    if op in ("Relu", "Clip", "Identity"):
        return n.input[0] == t and all(_constant(model, x)[0] is not None for x in n.input[1:] if x)
    if op == "BatchNormalization":
        bn = _bn_affine(model, n)
        return n.input[0] == t and bn is not None and bool(np.all(bn[0] > 0))
    if op not in ("Mul", "Div", "Add", "Sub") or len(n.input) != 2:
        return False
    other = n.input[1] if n.input[0] == t else n.input[0]
    c, _ = _constant(model, other)
    if c is None or other == t:
        return False
    if op in ("Add",):
        return True
    if op == "Sub":
        return n.input[0] == t  # t - c rises, c - t falls
    if op == "Div" and n.input[0] != t:
        return False  # c / t
    return bool(np.all(c > 0))


def _chain_to_quant(model: ModelWrapper, t: str) -> list[onnx.NodeProto] | None:
    """The single-consumer nodes from tensor ``t`` up to and including an activation quantizer,
    if each is non-decreasing (None otherwise)."""
    chain: list[onnx.NodeProto] = []
    while True:
        cons = model.find_consumers(t) or []
        if len(cons) != 1:
            return None
        n = cons[0]
        if n.op_type in _QUANTS:
            consts = [model.get_initializer(x) for x in n.input[1:]]
            if n.input[0] != t or any(c is None for c in consts):
                return None
            if np.any(np.asarray(consts[0]) <= 0):  # scale
                return None
            return [*chain, n]
        if not _rising(model, n, t):
            return None
        chain.append(n)
        t = n.output[0]


class PoolAfterQuant(Transformation):
    """Move a ``MaxPool`` of a float tensor behind the activation quantizer it feeds, when
    exact (see the module docstring)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for pool in model.graph.node:
            if pool.op_type != "MaxPool":
                continue
            prod = model.find_producer(pool.input[0])
            if prod is None or prod.op_type in _QUANTS:
                continue  # pools integers already (or the graph input)
            chain = _chain_to_quant(model, pool.output[0])
            if chain is None:
                continue
            quant = chain[-1]
            src, pooled, qout = pool.input[0], pool.output[0], quant.output[0]
            first = chain[0]
            first.input[list(first.input).index(pooled)] = src
            moved = f"{qout}_unpooled"
            quant.output[0] = moved
            pool.input[0], pool.output[0] = moved, qout
            nodes = list(model.graph.node)
            nodes.remove(pool)
            nodes.insert(nodes.index(quant) + 1, pool)
            del model.graph.node[:]
            model.graph.node.extend(nodes)
            stale = {pooled, *(n.output[0] for n in chain), moved}
            for vi in [v for v in model.graph.value_info if v.name in stale]:
                model.graph.value_info.remove(vi)
            return model.transform(InferShapes()), True
        return model, False
