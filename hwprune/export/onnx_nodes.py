"""Building blocks of the lowering passes: reading and editing ONNX nodes of a QONNX graph.

The lowered nodes live in the ``hwprune.export`` ONNX domain (:data:`DOMAIN`); each carries
its output shape, integer type and scale as attributes (read back by :func:`_info`).

Example:
    >>> n = _make("IntFlatten", ["x"], ["y"], "flatten0", out_shape=[4])
    >>> (n.domain, _attrs(n)["out_shape"], _where(n))
    ('hwprune.export', [4], "node 'flatten0' (IntFlatten)")
"""

from __future__ import annotations

from typing import Any

import onnx
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper

from hwprune.export.dtypes import IntType

DOMAIN = "hwprune.export"


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode() for x in v]
        out[a.name] = v
    return out


def _where(node: onnx.NodeProto) -> str:
    return f"node '{node.name}' ({node.op_type})"


def _int_producer(model: ModelWrapper, tensor: str) -> onnx.NodeProto | None:
    prod = model.find_producer(tensor)
    if prod is not None and prod.domain == DOMAIN:
        return prod
    return None


def _make(
    op: str, inputs: list[str], outputs: list[str], name: str, **attrs: Any
) -> onnx.NodeProto:
    return helper.make_node(op, inputs, outputs, name=name, domain=DOMAIN, **attrs)


def _next_name(model: ModelWrapper, prefix: str) -> str:
    """``<prefix><k>`` with the first free k (the IR's names: conv0, fc1, pool0, ...)."""
    names = {n.name for n in model.graph.node}
    k = 0
    while f"{prefix}{k}" in names:
        k += 1
    return f"{prefix}{k}"


def _remove(model: ModelWrapper, nodes: list[onnx.NodeProto]) -> None:
    for n in nodes:
        if n in model.graph.node:
            model.graph.node.remove(n)


def _insert_at(model: ModelWrapper, index: int, nodes: list[onnx.NodeProto]) -> None:
    for k, n in enumerate(nodes):
        model.graph.node.insert(index + k, n)


def _info(node: onnx.NodeProto) -> dict[str, Any]:
    """Common attributes of an integer node: out_shape, out_type, out_scale."""
    a = _attrs(node)
    return {
        "shape": tuple(int(x) for x in a["out_shape"]),
        "type": IntType.from_name(a["out_type"]),
        "scale": float(a["out_scale"]),
        "attrs": a,
    }
