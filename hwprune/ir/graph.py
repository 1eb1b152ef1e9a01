"""The :class:`DataflowGraph`: a network's compute nodes in stream order, with their folding.

Example:
    >>> from hwprune.ir import build_ir
    >>> build_ir([{"op": "fc", "out": 4, "wbits": 2, "abits": None}], (8,), 2).folding
    {'fc0': {'pe': 1, 'simd': 1}, 'labelselect': {'pe': 1}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hwprune.ir.dtypes import IntType
from hwprune.ir.lowered import describe_head
from hwprune.ir.nodes import FIFO, MVAU, VVAU, AddStreams, ComputeNode, LabelSelect


@dataclass(frozen=True)
class GraphInput:
    """The integer input of a lowered graph: what the model's input quantizer makes of the raw
    data (on the host).

    Attributes:
        name: the name of its stream (the executor's first layer).
        out_shape: NHWC shape of one frame (``(N,)`` for a vector).
        out_type: integer type; ``value_range`` the quantizer's integer range (narrow or not).
        out_scale: ``value = integer * out_scale``.
        qonnx_tensor: the QONNX tensor of the quantized input.
        host_preprocessing: what the host does before quantizing (e.g. ``"flatten"``).
    """

    name: str
    out_shape: tuple[int, ...]
    out_type: IntType
    out_scale: float = 1.0
    qonnx_tensor: str = ""
    host_preprocessing: tuple[str, ...] = ()
    value_range: tuple[int, int] = (0, 255)
    op = "Input"

    def cycles(self) -> int:
        return 0

    def describe(self) -> dict[str, Any]:
        """JSON-able description for ``dataflow.json``."""
        return {
            **describe_head(self),
            "host_preprocessing": list(self.host_preprocessing),
            "value_range": list(self.value_range),
        }


@dataclass(frozen=True)
class DataflowGraph:
    """The compute nodes of a streaming design, input first.

    A chain is a list; a residual block is laid out in the list as its fork
    (:class:`~hwprune.ir.nodes.DuplicateStreams`), the long branch, the short branch, the skip
    :class:`~hwprune.ir.nodes.FIFO` and the :class:`~hwprune.ir.nodes.AddStreams`, which names
    the nodes of both branches. Throughput is the slowest node's, resources are the sum.

    Attributes:
        name: design name.
        input_shape: ``(C, H, W)`` of one frame.
        input_bits: bits per input value (unsigned integers, e.g. 8 for pixels).
        nodes: compute nodes in stream order.
        input_kind: ``"uint"`` or ``"bipolar"`` (1-bit +-1 input).
        fixed: folding given by the user (``{node: {"pe": .., "simd": ..}}``, optionally
            ``"res_type"``); the folding optimizer keeps these values and chooses the rest (a
            node's own ``res_type`` other than ``"auto"`` is kept too).
        input: the integer input of a graph lowered from a model (None for one built from
            design layers).
        output: ``"label"`` (the graph ends in an arg-max) or ``"scores"``.
    """

    name: str
    input_shape: tuple[int, int, int]
    input_bits: int
    nodes: tuple[ComputeNode, ...]
    input_kind: str = "uint"
    fixed: Mapping[str, Mapping[str, int]] = field(default_factory=dict, compare=False)
    input: GraphInput | None = field(default=None, compare=False)
    output: str = field(default="label", compare=False)

    def node(self, name: str) -> ComputeNode:
        """The node called ``name``."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    @property
    def folding(self) -> dict[str, dict[str, Any]]:
        """Current PE/SIMD of every foldable node: ``{name: {"pe": .., "simd": ..}}``, and the
        ``"res_type"`` (``"lut"``/``"dsp"``) of every MVAU/VVAU that has one (not ``"auto"``).

        Example:
            >>> from hwprune.ir import build_ir
            >>> g = build_ir([{"op": "fc", "out": 8, "wbits": 2, "abits": None}], (16,), 2)
            >>> g.with_folding({"fc0": {"pe": 2, "res_type": "lut"}}).folding["fc0"]
            {'pe': 2, 'simd': 1, 'res_type': 'lut'}
        """
        out: dict[str, dict[str, Any]] = {}
        for n in self.nodes:
            params = n.fold_space()  # the node's folding parameters (none: not foldable)
            if params:
                out[n.name] = {k: getattr(n, k) for k in params}
                if isinstance(n, (MVAU, VVAU)) and n.res_type != "auto":
                    out[n.name]["res_type"] = n.res_type
        return out

    def with_folding(self, folding: Mapping[str, Mapping[str, Any]]) -> DataflowGraph:
        """A copy with the PE/SIMD values (and MVAU/VVAU ``res_type``) in ``folding`` applied
        (others kept).

        Example:
            >>> from hwprune.ir import build_ir
            >>> g = build_ir([{"op": "fc", "out": 8, "wbits": 2, "abits": None}], (16,), 2)
            >>> g.with_folding({"fc0": {"pe": 4, "simd": 8}}).node("fc0").pe
            4
        """
        nodes = []
        for n in self.nodes:
            f = folding.get(n.name)
            if f:
                vals: dict[str, Any] = {k: int(v) for k, v in f.items() if k in ("pe", "simd")}
                if "res_type" in f and isinstance(n, (MVAU, VVAU)):
                    vals["res_type"] = str(f["res_type"])
                n = replace(n, **vals)
            nodes.append(n)
        return replace(self, nodes=tuple(nodes))

    def input_frame_bits(self) -> int:
        c, h, w = self.input_shape
        return c * h * w * self.input_bits

    def output_frame_bits(self) -> int:
        last = self.nodes[-1]
        if isinstance(last, LabelSelect):
            return last.out_bits
        if isinstance(last, MVAU):
            return last.mh * last.obits
        if isinstance(last, VVAU):
            return last.channels * last.obits
        return last.out_width

    def mvaus(self) -> list[MVAU | VVAU]:
        """The matrix-vector units (and depthwise vector units) in stream order."""
        return [n for n in self.nodes if isinstance(n, (MVAU, VVAU))]

    def kernels(self) -> tuple[Any, ...]:
        """The nodes as the back ends build them, in stream order: a padded window preceded by
        its :class:`~hwprune.ir.lowered.Pad` kernel; the skip FIFOs left out (a skip FIFO is
        the stream from a short branch into its add, see :meth:`producers`).

        Example:
            >>> from hwprune.ir import build_ir
            >>> g = build_ir([{"op": "conv", "out_ch": 4, "kernel": 3, "pad": 1, "wbits": 2,
            ...                "abits": 2}], (1, 6, 6), 8)
            >>> [k.name for k in g.kernels()]
            ['conv0_pad', 'conv0_swg', 'conv0']
        """
        out: list[Any] = []
        for n in self.nodes:
            if isinstance(n, FIFO):
                continue
            pad = n.pad_kernel() if hasattr(n, "pad_kernel") else None
            if pad is not None:
                out.append(pad)
            out.append(n)
        return tuple(out)

    def producers(self) -> dict[str, tuple[str, ...]]:
        """Kernel name -> the names of the kernels (or the input) that feed it, for every
        :meth:`kernels` entry: the kernel before it, except in a residual block, whose short
        branch starts at the fork and whose add reads (long branch, short branch)."""
        ks = self.kernels()
        prev = [self.input.name if self.input is not None else "input"]
        prev += [k.name for k in ks[:-1]]
        out: dict[str, tuple[str, ...]] = {k.name: (p,) for k, p in zip(ks, prev, strict=True)}
        for n in self.nodes:
            if isinstance(n, AddStreams):
                if n.short:
                    out[self._first_kernel(n.short[0])] = (n.fork,)
                out[n.name] = (n.long[-1] if n.long else n.fork, n.short[-1] if n.short else n.fork)
        return out

    def _first_kernel(self, name: str) -> str:
        """``name``, or its pad kernel when it is a padded window."""
        pad = getattr(self.node(name), "pad_kernel", lambda: None)()
        return name if pad is None else pad.name

    def to_json(self) -> str:
        """The folded graph of a lowered model as JSON (``dataflow.json``), without weights."""
        assert self.input is not None, "to_json() describes a graph lowered from a model"
        ks = self.kernels()
        prods = self.producers()
        prev = [self.input.name] + [k.name for k in ks[:-1]]
        inputs = {
            k.name: list(prods[k.name])
            for k, p in zip(ks, prev, strict=True)
            if prods[k.name] != (p,)
        }
        doc = {
            "format": "hwprune-dataflow/1",
            "output": self.output,
            "input": {
                "shape": list(self.input.out_shape),
                "type": self.input.out_type.name,
                "scale": self.input.out_scale,
            },
            "nodes": [self.input.describe()] + [k.describe() for k in ks],
            "inputs": inputs,
            "folding": self.folding,
            "max_cycles": max((k.cycles() for k in ks), default=0),
        }
        return json.dumps(doc, indent=2)
