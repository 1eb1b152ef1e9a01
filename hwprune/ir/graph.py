"""The :class:`DataflowGraph`: a network's compute nodes in stream order, with their folding.

Example:
    >>> from hwprune.ir import build_ir
    >>> build_ir([{"op": "fc", "out": 4, "wbits": 2, "abits": None}], (8,), 2).folding
    {'fc0': {'pe': 1, 'simd': 1}, 'labelselect': {'pe': 1}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hwprune.ir.nodes import MVAU, VVAU, ComputeNode, LabelSelect


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
    """

    name: str
    input_shape: tuple[int, int, int]
    input_bits: int
    nodes: tuple[ComputeNode, ...]
    input_kind: str = "uint"
    fixed: Mapping[str, Mapping[str, int]] = field(default_factory=dict, compare=False)

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
