"""The integer dataflow graph produced by the lowering: streaming kernels in stream order.

Tensors are NHWC (a flat vector has shape ``(N,)``) and hold integers. Every node knows the
QONNX tensor it reproduces (``qonnx_tensor``) and the scale that dequantises it
(``value = integer * out_scale``), which is how the executor is checked against qonnx layer by
layer.

Node kinds (FINN's streaming micro-architecture):

* :class:`InputNode` -- integers produced by the model's input quantizer (on the host).
* :class:`PadNode` -- zero padding of a feature map.
* :class:`SlidingWindowNode` -- im2col stream: for each output pixel the ``K*K*C`` window in
  (kernel row, kernel column, channel) order.
* :class:`MVAUNode` -- matrix-vector unit: ``acc = W @ x`` over ``nvec`` input vectors, then
  multi-thresholding (``out = #{k: acc >= T[o, k]}`` plus an offset) or, for the head, the raw
  accumulator.
* :class:`VVAUNode` -- depthwise convolution (one ``K*K`` dot product per channel).
* :class:`MaxPoolNode` -- non-overlapping max pooling on integers (window + pool kernels).
* :class:`LabelSelectNode` -- arg-max over the head's outputs (first index on ties).
* :class:`ThresholdingNode` -- a standalone multi-threshold activation (requantization).
* :class:`DuplicateStreamsNode`, :class:`AddStreamsNode` -- the fork and the join of a residual
  block (:attr:`IntGraph.inputs` records the branches).
* :class:`GlobalAccPoolNode` -- global average pooling as an integer sum, rounded right.

Example:
    >>> from hwprune.export.dtypes import IntType
    >>> n = MaxPoolNode("pool0", (3, 3, 4), IntType(2, False), 0.5, "t", (6, 6, 4), 2)
    >>> n.window_cycles(), n.pool_cycles()  # (6 + 2) + 3 * max(12, 12) + 6; 4 * 9
    (50, 36)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hwprune.export.dtypes import IntType


@dataclass(frozen=True, eq=False)
class IntNode:
    """Common fields of every node."""

    name: str
    out_shape: tuple[int, ...]
    out_type: IntType
    out_scale: float
    qonnx_tensor: str

    @property
    def kind(self) -> str:
        """Short kind name used in dataflow.json and the HLS project."""
        return type(self).__name__.removesuffix("Node")

    def cycles(self) -> int:
        """Iterations of the kernel's pipelined loop per frame (II = 1)."""
        return 0

    def describe(self) -> dict[str, Any]:
        """JSON-able description (no weights)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "out_shape": list(self.out_shape),
            "out_type": self.out_type.name,
            "out_scale": self.out_scale,
            "qonnx_tensor": self.qonnx_tensor,
        }


@dataclass(frozen=True, eq=False)
class InputNode(IntNode):
    """The integer input: what the model's input quantizer produces from the raw data."""

    host_preprocessing: tuple[str, ...] = ()
    value_range: tuple[int, int] = (0, 255)  # the quantizer's integer range (narrow or not)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["host_preprocessing"] = list(self.host_preprocessing)
        d["value_range"] = list(self.value_range)
        return d


@dataclass(frozen=True, eq=False)
class PadNode(IntNode):
    """Zero padding of ``pad`` pixels on every side of an (H, W, C) map."""

    in_shape: tuple[int, int, int] = (1, 1, 1)
    pad: int = 0
    simd: int = 1
    in_type: IntType = field(default_factory=lambda: IntType(8, False))

    def cycles(self) -> int:
        h, w, c = self.out_shape
        return h * w * (c // self.simd)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            in_shape=list(self.in_shape), in_type=self.in_type.name, pad=self.pad, simd=self.simd
        )
        return d


@dataclass(frozen=True, eq=False)
class SlidingWindowNode(IntNode):
    """Sliding-window (im2col) generator for a ``kernel`` x ``kernel`` window, ``stride``."""

    in_shape: tuple[int, int, int] = (1, 1, 1)
    kernel: int = 1
    stride: int = 1
    simd: int = 1
    depthwise: bool = False  # window words ordered (channel fold, kernel row, kernel column)

    def cycles(self) -> int:
        """FINN's RTL generator schedule (:func:`hwprune.cost.fpga.window_cycles`)."""
        from hwprune.cost.fpga import window_cycles

        ih, iw, c = self.in_shape
        oh, ow, _ = self.out_shape
        k, s, dw = self.kernel, self.stride, self.depthwise
        return int(window_cycles((ih, iw), (oh, ow), c, self.simd, k, s, dw))

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            in_shape=list(self.in_shape),
            kernel=self.kernel,
            stride=self.stride,
            simd=self.simd,
            depthwise=self.depthwise,
            cycles=self.cycles(),
        )
        return d


@dataclass(frozen=True, eq=False)
class MVAUNode(IntNode):
    """Matrix-vector(-activation) unit.

    ``weights`` is (MH, MW) with columns in stream order; ``thresholds`` is (MH, NT), sorted per
    row, or ``None`` for the head (output = accumulator). Output value of a thresholded row:
    ``level + out_bias`` (bipolar output: ``2 * level - 1``). ``xnor`` marks bipolar weights
    times bipolar inputs (XNOR-popcount in hardware). ``in_shape`` is the shape of the input
    tensor (a 3D map for a fully connected layer that flattens it). ``res_type`` is what the
    products are built from: ``"lut"``, ``"dsp"`` or ``"auto"`` (the cost model's fixed rule,
    :func:`hwprune.cost.fpga.res_type_of`; the folding optimizer sets one of the other two).
    """

    in_shape: tuple[int, ...] = (1,)
    in_type: IntType = field(default_factory=lambda: IntType(8, False))
    weights: np.ndarray = field(default_factory=lambda: np.zeros((1, 1), np.int64))
    wtype: IntType = field(default_factory=lambda: IntType(8, True))
    thresholds: np.ndarray | None = None
    acc_type: IntType = field(default_factory=lambda: IntType(32, True))
    out_bias: int = 0
    nvec: int = 1
    pe: int = 1
    simd: int = 1
    xnor: bool = False
    conv: bool = False
    source: str = ""
    score_scale: tuple[float, ...] = ()
    score_bias: tuple[float, ...] = ()
    res_type: str = "auto"

    @property
    def mh(self) -> int:
        """Matrix height: output channels."""
        return int(self.weights.shape[0])

    @property
    def mw(self) -> int:
        """Matrix width: dot-product length."""
        return int(self.weights.shape[1])

    @property
    def is_head(self) -> bool:
        """True for the classifier head (no thresholds)."""
        return self.thresholds is None

    @property
    def mul_impl(self) -> str:
        """What the products are built from, ``"lut"`` or ``"dsp"``: ``res_type``, with
        ``"auto"`` resolved as the cost model prices it (XNOR-popcount lanes: always LUTs).

        Example:
            >>> MVAUNode("fc0", (4,), IntType(2, False), 1.0, "t", in_type=IntType(8, False),
            ...          wtype=IntType(2, True)).mul_impl
            'dsp'
        """
        from hwprune.cost.fpga import FpgaCostParams, _uses_dsp

        if self.xnor:
            return "lut"
        dsp = _uses_dsp(self.wtype.bits, self.in_type.bits, self.res_type, FpgaCostParams())
        return "dsp" if dsp else "lut"

    def cycles(self) -> int:
        return (self.mh // self.pe) * (self.mw // self.simd) * self.nvec

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            source=self.source,
            in_shape=list(self.in_shape),
            in_type=self.in_type.name,
            mw=self.mw,
            mh=self.mh,
            nvec=self.nvec,
            pe=self.pe,
            simd=self.simd,
            res_type=self.mul_impl,
            wtype=self.wtype.name,
            acc_type=self.acc_type.name,
            xnor=self.xnor,
            num_thresholds=0 if self.thresholds is None else int(self.thresholds.shape[1]),
            out_bias=self.out_bias,
            wmem=self.mw * self.mh // (self.pe * self.simd),
            tmem=0 if self.thresholds is None else self.mh // self.pe,
            cycles=self.cycles(),
        )
        return d


@dataclass(frozen=True, eq=False)
class VVAUNode(MVAUNode):
    """Depthwise convolution (vector-vector unit): channel c's ``K*K`` weights ``weights[c]``
    applied to its own window, ``nvec`` output pixels; ``pe | C`` channels in parallel,
    ``simd | K*K`` kernel positions per cycle. Thresholds as in :class:`MVAUNode`.
    ``in_shape`` is the window stream (OH, OW, K*K*C)."""

    kernel: int = 3

    @property
    def channels(self) -> int:
        """Channels (= rows of ``weights``)."""
        return self.mh


@dataclass(frozen=True, eq=False)
class MaxPoolNode(IntNode):
    """Non-overlapping ``kernel`` x ``kernel`` max pooling of an (H, W, C) map (floor mode),
    built as FINN builds it: a depthwise sliding-window generator (all C channels a word,
    stride = kernel) feeding a pool unit that takes one window word a cycle."""

    in_shape: tuple[int, int, int] = (1, 1, 1)
    kernel: int = 2

    def window_cycles(self) -> int:
        """Loop count of the window-generator kernel."""
        from hwprune.cost.fpga import maxpool_window_cycles

        return maxpool_window_cycles(self.in_shape[:2], self.kernel)

    def pool_cycles(self) -> int:
        """Loop count of the pool kernel (``K*K*OH*OW``)."""
        from hwprune.cost.fpga import pool_cycles

        return pool_cycles(self.out_shape[:2], self.kernel)

    def cycles(self) -> int:
        """The slower of the two kernels (they run concurrently)."""
        return max(self.window_cycles(), self.pool_cycles(), 1)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            in_shape=list(self.in_shape),
            kernel=self.kernel,
            window_cycles=self.window_cycles(),
            pool_cycles=self.pool_cycles(),
            cycles=self.cycles(),
        )
        return d


@dataclass(frozen=True, eq=False)
class LabelSelectNode(IntNode):
    """Arg-max over ``num_labels`` integer scores (first index wins a tie)."""

    in_type: IntType = field(default_factory=lambda: IntType(32, True))
    num_labels: int = 10
    pe: int = 1

    def cycles(self) -> int:
        return self.num_labels // self.pe

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            in_type=self.in_type.name, num_labels=self.num_labels, pe=self.pe, cycles=self.cycles()
        )
        return d


@dataclass(frozen=True, eq=False)
class ThresholdingNode(IntNode):
    """Standalone multi-threshold activation of ``channels`` x ``nvec`` integers: output
    ``#{k: x >= T[c, k]} + out_bias`` (bipolar: ``2 * level - 1``). A residual block uses it to
    requantize its identity skip into the add's quantizer and after the add (ReLU + quantizer).
    """

    in_type: IntType = field(default_factory=lambda: IntType(8, False))
    thresholds: np.ndarray = field(default_factory=lambda: np.zeros((1, 1), np.int64))
    out_bias: int = 0
    nvec: int = 1
    pe: int = 1

    @property
    def channels(self) -> int:
        return int(self.thresholds.shape[0])

    def cycles(self) -> int:
        return self.nvec * self.channels // self.pe

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            in_type=self.in_type.name,
            channels=self.channels,
            nvec=self.nvec,
            pe=self.pe,
            num_thresholds=int(self.thresholds.shape[1]),
            out_bias=self.out_bias,
            cycles=self.cycles(),
        )
        return d


@dataclass(frozen=True, eq=False)
class DuplicateStreamsNode(IntNode):
    """The fork of a residual block: every word goes to both branches (FINN's
    DuplicateStreams); ``pe`` channels a word."""

    pe: int = 1

    def cycles(self) -> int:
        return int(np.prod(self.out_shape)) // self.pe

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(pe=self.pe, cycles=self.cycles())
        return d


@dataclass(frozen=True, eq=False)
class AddStreamsNode(IntNode):
    """Elementwise add of the two branches of a residual block, ``a * P + b * Q`` with
    ``muls = (P, Q)`` (equal scales: ``(1, 1)``, an integer add, FINN's AddStreams; unequal
    scales: the integer multipliers of :mod:`hwprune.export.add_requant`, and thresholds
    follow). Inputs: ``in_types`` (long branch, short branch)."""

    in_types: tuple[IntType, IntType] = field(
        default_factory=lambda: (IntType(8, True), IntType(8, True))
    )
    pe: int = 1
    muls: tuple[int, int] = (1, 1)

    def cycles(self) -> int:
        return int(np.prod(self.out_shape)) // self.pe

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(in_types=[t.name for t in self.in_types], pe=self.pe, cycles=self.cycles())
        if self.muls != (1, 1):
            d.update(muls=list(self.muls))
        return d


@dataclass(frozen=True, eq=False)
class GlobalAccPoolNode(IntNode):
    """Global average pooling of an (H, W, C) map as an integer sum per channel, rounded right
    by ``shift`` bits (``rounding`` "ROUND": half to even, "FLOOR") and clipped to the output
    type: Brevitas' truncated average pool; the 1/(H*W) scale is in ``out_scale``."""

    in_shape: tuple[int, int, int] = (1, 1, 1)
    in_type: IntType = field(default_factory=lambda: IntType(8, False))
    acc_type: IntType = field(default_factory=lambda: IntType(16, True))
    shift: int = 0
    rounding: str = "ROUND"
    pe: int = 1

    def cycles(self) -> int:
        h, w, c = self.in_shape
        return (h * w + 1) * (c // self.pe)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            in_shape=list(self.in_shape),
            in_type=self.in_type.name,
            shift=self.shift,
            rounding=self.rounding,
            pe=self.pe,
            cycles=self.cycles(),
        )
        return d


#: node kinds folded by a PE alone (beside the MVAU/VVAU, windows and label select)
PE_NODES = (ThresholdingNode, DuplicateStreamsNode, AddStreamsNode, GlobalAccPoolNode)


@dataclass(frozen=True, eq=False)
class IntGraph:
    """A lowered network, the first node an :class:`InputNode`, in stream order.

    A chain needs nothing more; where a node's input is not the node before it (the two
    branches of a residual block and its add), ``inputs`` names its producers
    (``{node: (producer, ...)}``; an add lists its long branch first). The skip FIFO of a
    block is the stream from its short branch into the add (depth ``fifo_depth[add]`` words).
    """

    nodes: tuple[IntNode, ...]
    output: str  # "label" or "scores"
    inputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fifo_depth: Mapping[str, int] = field(default_factory=dict)

    def producers(self, i: int) -> tuple[str, ...]:
        """Names of the nodes that feed ``self.nodes[i]`` (the node before it by default)."""
        name = self.nodes[i].name
        if name in self.inputs:
            return tuple(self.inputs[name])
        return (self.nodes[i - 1].name,) if i else ()

    @property
    def input(self) -> InputNode:
        """The input node."""
        node = self.nodes[0]
        assert isinstance(node, InputNode)
        return node

    def mvaus(self) -> list[MVAUNode]:
        """The matrix-vector units (and depthwise vector units) in stream order."""
        return [n for n in self.nodes if isinstance(n, MVAUNode)]

    def to_json(self) -> str:
        """The folded graph as JSON (``dataflow.json``), without weights."""
        folding: dict[str, dict[str, Any]] = {}
        for n in self.nodes:
            if isinstance(n, MVAUNode):
                folding[n.name] = {"pe": n.pe, "simd": n.simd}
                if n.res_type != "auto":
                    folding[n.name]["res_type"] = n.res_type
            elif isinstance(n, SlidingWindowNode):
                folding[n.name] = {"simd": n.simd}
            elif isinstance(n, (LabelSelectNode, *PE_NODES)):
                folding[n.name] = {"pe": n.pe}
        doc = {
            "format": "hwprune-dataflow/1",
            "output": self.output,
            "input": {
                "shape": list(self.input.out_shape),
                "type": self.input.out_type.name,
                "scale": self.input.out_scale,
            },
            "nodes": [n.describe() for n in self.nodes],
            "inputs": {k: list(v) for k, v in self.inputs.items()},
            "folding": folding,
            "max_cycles": max((n.cycles() for n in self.nodes), default=0),
        }
        return json.dumps(doc, indent=2)
