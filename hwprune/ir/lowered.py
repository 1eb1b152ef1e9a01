"""What the QONNX lowering attaches to an IR node beyond its priced shape and bits.

A node built from design layers (:func:`hwprune.ir.build_ir`) is priced and folded and carries
nothing more. A node the lowering emits (:mod:`hwprune.export.lower`) also carries an
:class:`Export` record: its exact integer types, NHWC shapes, the scale that dequantises its
output (``value = integer * out_scale``) and the QONNX tensor it reproduces. The back ends (the
executor, the HLS writer, the FINN hand-off, the RTL) read these through the node's properties
(:class:`Lowered`); the record is left out of node equality, so the cost caches key on the
priced fields alone.

Example:
    >>> from hwprune.ir import MaxPool
    >>> p = MaxPool("pool0", 4, (6, 6), 2, 2, "uint", export=Export(out_scale=0.5))
    >>> p.out_shape, p.out_type.name, p.out_scale, p == MaxPool("pool0", 4, (6, 6), 2, 2, "uint")
    ((3, 3, 4), 'UINT2', 0.5, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hwprune.ir.dtypes import IntType


@dataclass(frozen=True)
class Export:
    """The integer facts of a lowered node (fields a kind does not use keep their defaults).

    Attributes:
        out_type, in_type: exact integer types where the node's bits and kind do not say them
            (an accumulator's signedness, a head's output).
        out_shape, in_shape: NHWC shapes (a flat vector ``(N,)``); ``in_shape`` of a fully
            connected layer may be the 3D map it flattens.
        out_scale: ``value = integer * out_scale``.
        qonnx_tensor: the QONNX tensor the node's output reproduces ("" for none).
        acc_type: the accumulator's type (MVAU/VVAU, global pool).
        out_bias: added to a thresholded level (the quantizer's minimum).
        source: the QONNX node the layer came from.
        score_scale, score_bias: per class, ``score = acc * scale + bias`` of a head.
        in_types: the two inputs of an add (long branch first); ``muls`` its input multipliers.
        rounding: a global pool's rounding of the right shift, ``"ROUND"`` or ``"FLOOR"``.
    """

    out_type: IntType | None = None
    in_type: IntType | None = None
    out_shape: tuple[int, ...] = ()
    in_shape: tuple[int, ...] = ()
    out_scale: float = 1.0
    qonnx_tensor: str = ""
    acc_type: IntType | None = None
    out_bias: int = 0
    source: str = ""
    score_scale: tuple[float, ...] = ()
    score_bias: tuple[float, ...] = ()
    in_types: tuple[IntType, IntType] | None = None
    muls: tuple[int, int] = (1, 1)
    rounding: str = "ROUND"


_NONE = Export()


@dataclass(frozen=True)
class Lowered:
    """The ``export`` field every compute node has, and the views of it the back ends read.

    A node kind whose shapes or types follow from its own fields overrides the views
    (``_out_type``/``_in_type``/``_out_shape``/``_in_shape``)."""

    export: Export | None = field(default=None, compare=False, repr=False, kw_only=True)

    @property
    def _ex(self) -> Export:
        return _NONE if self.export is None else self.export

    def _need(self, what: str, value: Any) -> Any:
        if value is None or value == ():
            name = getattr(self, "name", "?")
            raise ValueError(f"{name}: no {what} (the node was not lowered from a model)")
        return value

    @property
    def out_scale(self) -> float:
        """Scale of the output integers (``value = integer * out_scale``)."""
        return self._ex.out_scale

    @property
    def qonnx_tensor(self) -> str:
        """The QONNX tensor the output reproduces ("" for none)."""
        return self._ex.qonnx_tensor

    @property
    def out_type(self) -> IntType:
        """Exact integer type of the output."""
        return self._ex.out_type or self._need("output type", self._out_type())

    @property
    def in_type(self) -> IntType:
        """Exact integer type of the input."""
        return self._ex.in_type or self._need("input type", self._in_type())

    @property
    def out_shape(self) -> tuple[int, ...]:
        """NHWC shape of the output (``(N,)`` for a vector)."""
        return self._ex.out_shape or self._need("output shape", self._out_shape())

    @property
    def in_shape(self) -> tuple[int, ...]:
        """NHWC shape of the input."""
        return self._ex.in_shape or self._need("input shape", self._in_shape())

    def _out_type(self) -> IntType | None:
        return None

    def _in_type(self) -> IntType | None:
        return None

    def _out_shape(self) -> tuple[int, ...]:
        return ()

    def _in_shape(self) -> tuple[int, ...]:
        return ()

    def cycles(self) -> int:
        """Iterations per frame of the node's kernel loop (II = 1): the cost model's cycles
        (:func:`hwprune.cost.fpga.node_cost`), which the HLS and RTL kernels run."""
        from hwprune.cost.fpga import node_cost

        return int(node_cost(self).cycles)

    def describe(self) -> dict[str, Any]:
        """JSON-able description for ``dataflow.json`` (no weights)."""
        return describe_head(self)


def describe_head(node: Any) -> dict[str, Any]:
    """The fields every ``dataflow.json`` node entry starts with: name, kind (the node's
    ``op``), output shape, type and scale, and the QONNX tensor it reproduces."""
    return {
        "name": getattr(node, "name", ""),
        "kind": getattr(node, "op", type(node).__name__),
        "out_shape": list(node.out_shape),
        "out_type": node.out_type.name,
        "out_scale": node.out_scale,
        "qonnx_tensor": node.qonnx_tensor,
    }


@dataclass(frozen=True)
class Pad:
    """The zero-padding kernel in front of a padded :class:`~hwprune.ir.SlidingWindow`, for the
    back ends that build it as a kernel of its own (hwprune's HLS, the executor, FINN's
    ``FMPadding``); it is priced as part of the window. ``in_shape`` ``(H, W, C)``, ``pad``
    pixels each side, ``simd`` channels a cycle (the window's).

    Example:
        >>> from hwprune.ir import SlidingWindow
        >>> w = SlidingWindow("conv0_swg", 4, (6, 6), 3, 1, 1, 2, "uint", simd=2)
        >>> p = w.pad_kernel()
        >>> p.name, p.out_shape, p.cycles()
        ('conv0_pad', (8, 8, 4), 128)
    """

    name: str
    in_shape: tuple[int, int, int]
    pad: int
    simd: int
    in_type: IntType
    out_type: IntType
    out_scale: float = 1.0
    qonnx_tensor: str = ""
    op = "Pad"

    @property
    def out_shape(self) -> tuple[int, int, int]:
        h, w, c = self.in_shape
        return (h + 2 * self.pad, w + 2 * self.pad, c)

    def cycles(self) -> int:
        """One word of ``simd`` channels per padded pixel and channel fold."""
        h, w, c = self.out_shape
        return h * w * (c // self.simd)

    def describe(self) -> dict[str, Any]:
        """JSON-able description for ``dataflow.json``."""
        return {
            **describe_head(self),
            "in_shape": list(self.in_shape),
            "in_type": self.in_type.name,
            "pad": self.pad,
            "simd": self.simd,
        }
