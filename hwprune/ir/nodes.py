"""The IR's node kinds: one frozen dataclass per hardware block (see :mod:`hwprune.ir`).

Example:
    >>> from hwprune.ir.nodes import MaxPool
    >>> MaxPool("p", 8, (4, 4), 2, 2, "uint").ofm
    (2, 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from hwprune.ir.dtypes import divisors


@dataclass(frozen=True)
class SlidingWindow:
    """Sliding-window (im2col) generator: ``channels`` x ``ifm`` in, one ``k*k*channels`` window
    per output pixel out; zero padding ``pad`` on each side is generated here.

    ``simd`` channels per cycle (``simd | channels``); a depthwise window feeds a VVAU and must
    have ``simd`` equal to that VVAU's ``pe``."""

    name: str
    channels: int
    ifm: tuple[int, int]
    kernel: int
    stride: int
    pad: int
    bits: int
    kind: str
    simd: int = 1
    depthwise: bool = False
    ram_style: str = "auto"
    op: ClassVar[str] = "SlidingWindow"

    @property
    def padded(self) -> tuple[int, int]:
        return (self.ifm[0] + 2 * self.pad, self.ifm[1] + 2 * self.pad)

    @property
    def ofm(self) -> tuple[int, int]:
        h, w = self.padded
        return ((h - self.kernel) // self.stride + 1, (w - self.kernel) // self.stride + 1)

    @property
    def in_width(self) -> int:
        return self.simd * self.bits

    @property
    def out_width(self) -> int:
        return self.simd * self.bits

    def fold_space(self) -> dict[str, tuple[int, ...]]:
        """Legal values of each folding parameter (``simd | channels``)."""
        return {"simd": divisors(self.channels)}


class _DotProduct:
    """What MVAU and VVAU share: XNOR-popcount for bipolar x bipolar, output bits."""

    wkind: str
    in_kind: str
    acc_bits: int
    out_bits: int | None

    @property
    def xnor(self) -> bool:
        return self.wkind == "bipolar" and self.in_kind == "bipolar"

    @property
    def obits(self) -> int:
        """Bits per output value (the accumulator when there is no activation)."""
        return self.acc_bits if self.out_bits is None else self.out_bits


@dataclass(frozen=True)
class MVAU(_DotProduct):
    """Matrix-vector-activation unit: ``mh x mw`` weights applied to ``n_vec`` input vectors.

    ``pe | mh`` rows in parallel, ``simd | mw`` columns per cycle. ``out_bits=None`` means no
    activation (the raw ``acc_bits`` accumulator goes out). ``res_type`` says what the products
    are built from: ``"lut"``, ``"dsp"``, or ``"auto"`` (the folding optimizer chooses; priced
    as is, the cost model's fixed rule applies, see :func:`hwprune.cost.fpga.res_type_of`)."""

    name: str
    mw: int
    mh: int
    n_vec: int
    wbits: int
    wkind: str
    in_bits: int
    in_kind: str
    acc_bits: int
    out_bits: int | None
    out_kind: str
    pe: int = 1
    simd: int = 1
    conv: bool = False
    mem_style: str = "auto"
    res_type: str = "auto"
    weights: Any = field(default=None, compare=False, repr=False)
    thresholds: Any = field(default=None, compare=False, repr=False)
    op: ClassVar[str] = "MVAU"

    @property
    def in_width(self) -> int:
        return self.simd * self.in_bits

    @property
    def out_width(self) -> int:
        return self.pe * self.obits

    def fold_space(self) -> dict[str, tuple[int, ...]]:
        """Legal values of each folding parameter (``pe | mh``, ``simd | mw``)."""
        return {"pe": divisors(self.mh), "simd": divisors(self.mw)}


@dataclass(frozen=True)
class VVAU(_DotProduct):
    """Depthwise convolution: per channel a ``kernel*kernel`` dot product, ``n_vec`` pixels.

    ``pe | channels``; ``simd | kernel*kernel`` and ``simd > 1`` only when ``pe == channels``;
    ``res_type`` as in :class:`MVAU`."""

    name: str
    channels: int
    kernel: int
    n_vec: int
    wbits: int
    wkind: str
    in_bits: int
    in_kind: str
    acc_bits: int
    out_bits: int | None
    out_kind: str
    pe: int = 1
    simd: int = 1
    mem_style: str = "auto"
    res_type: str = "auto"
    weights: Any = field(default=None, compare=False, repr=False)
    thresholds: Any = field(default=None, compare=False, repr=False)
    op: ClassVar[str] = "VVAU"

    @property
    def in_width(self) -> int:
        return self.pe * self.simd * self.in_bits

    @property
    def out_width(self) -> int:
        return self.pe * self.obits

    def fold_space(self) -> dict[str, tuple[int, ...]]:
        """Legal values of each folding parameter (``pe | channels``, ``simd | kernel*kernel``;
        ``simd > 1`` only with ``pe == channels``, see :meth:`legal`)."""
        return {"pe": divisors(self.channels), "simd": divisors(self.kernel * self.kernel)}

    def legal(self, pe: Any, simd: Any) -> Any:
        """Whether ``(pe, simd)`` from :meth:`fold_space` may be combined (numbers or arrays)."""
        return (simd == 1) | (pe == self.channels)


@dataclass(frozen=True)
class MaxPool:
    """2D max pooling, window = stride = ``kernel``, all channels processed in parallel."""

    name: str
    channels: int
    ifm: tuple[int, int]
    kernel: int
    bits: int
    kind: str
    op: ClassVar[str] = "MaxPool"

    @property
    def pe(self) -> int:
        return self.channels

    @property
    def ofm(self) -> tuple[int, int]:
        return (self.ifm[0] // self.kernel, self.ifm[1] // self.kernel)

    @property
    def in_width(self) -> int:
        return self.channels * self.bits

    @property
    def out_width(self) -> int:
        return self.channels * self.bits

    def fold_space(self) -> dict[str, tuple[int, ...]]:
        """Nothing to fold: all channels are processed in parallel."""
        return {}


class _Folded(Protocol):
    @property
    def pe(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def in_bits(self) -> int: ...
    @property
    def out_bits(self) -> int: ...


class _ChannelFolded:
    """What the nodes folded only by ``pe | channels`` share: ``pe`` channels a cycle, each of
    ``in_bits`` in and ``out_bits`` out."""

    @property
    def in_width(self: _Folded) -> int:
        return self.pe * self.in_bits

    @property
    def out_width(self: _Folded) -> int:
        return self.pe * self.out_bits

    def fold_space(self: _Folded) -> dict[str, tuple[int, ...]]:
        """Legal values of each folding parameter (``pe | channels``)."""
        return {"pe": divisors(self.channels)}


@dataclass(frozen=True)
class Thresholding(_ChannelFolded):
    """Standalone multi-threshold activation: ``channels`` x ``n_vec`` values of ``in_bits``."""

    name: str
    channels: int
    n_vec: int
    in_bits: int
    out_bits: int
    out_kind: str
    pe: int = 1
    thresholds: Any = field(default=None, compare=False, repr=False)
    op: ClassVar[str] = "Thresholding"


@dataclass(frozen=True)
class LabelSelect:
    """Arg-max over ``labels`` accumulators of ``in_bits`` (top-1 class index out)."""

    name: str
    labels: int
    in_bits: int
    pe: int = 1
    op: ClassVar[str] = "LabelSelect"

    @property
    def out_bits(self) -> int:
        return max(1, math.ceil(math.log2(self.labels)))

    @property
    def in_width(self) -> int:
        return self.pe * self.in_bits

    @property
    def out_width(self) -> int:
        return self.out_bits

    def fold_space(self) -> dict[str, tuple[int, ...]]:
        """Legal values of each folding parameter (``pe | labels``)."""
        return {"pe": divisors(self.labels)}


@dataclass(frozen=True)
class DuplicateStreams(_ChannelFolded):
    """Stream fork in front of a residual block (FINN's ``DuplicateStreams``): every word of the
    input goes out on two streams, the long branch (the block's body) and the short one (the
    skip). ``channels`` x ``n_vec`` pixels of ``bits``; ``pe | channels`` channels a cycle."""

    name: str
    channels: int
    n_vec: int
    bits: int
    kind: str
    pe: int = 1
    op: ClassVar[str] = "DuplicateStreams"

    @property
    def in_bits(self) -> int:
        return self.bits

    @property
    def out_bits(self) -> int:
        return self.bits


@dataclass(frozen=True)
class AddStreams(_ChannelFolded):
    """Elementwise add of two streams (FINN's ``AddStreams``): the join of a residual block.
    Inputs of ``in_bits`` (``in_kind``), output ``in_bits + 1`` signed bits. Of unequal
    scales, ``mul_bits`` gives the widths of the two constant multipliers (``a * P + b * Q``,
    see :mod:`hwprune.export.add_requant`), and the output grows by the wider one; None (equal
    scales): a plain add.

    ``long`` and ``short`` name the nodes of the two branches between the
    :class:`DuplicateStreams` ``fork`` and this add (``short`` empty: an identity skip); the
    :class:`FIFO` ``fifo`` on the short branch is sized from them (see
    :func:`hwprune.ir.build.skip_fifo_depth`)."""

    name: str
    channels: int
    n_vec: int
    in_bits: int
    in_kind: str
    pe: int = 1
    fork: str = ""
    long: tuple[str, ...] = ()
    short: tuple[str, ...] = ()
    fifo: str = ""
    mul_bits: tuple[int, int] | None = None
    op: ClassVar[str] = "AddStreams"

    @property
    def out_bits(self) -> int:
        return self.in_bits + 1 + (max(self.mul_bits) if self.mul_bits else 0)


@dataclass(frozen=True)
class GlobalAccPool(_ChannelFolded):
    """Global average pooling as an integer sum (FINN's ``GlobalAccPool``): ``channels`` x
    ``ifm`` values of ``bits`` in, one sum per channel out, rounded right by ``shift`` bits
    (Brevitas' truncation back to ``out_bits``; the pool's scale goes into the next layer).

    ``pe | channels``; cycles ``(H*W + 1) * channels / pe`` (accumulate, then write out)."""

    name: str
    channels: int
    ifm: tuple[int, int]
    bits: int
    kind: str
    out_bits: int
    shift: int = 0
    pe: int = 1
    op: ClassVar[str] = "GlobalAccPool"

    @property
    def acc_bits(self) -> int:
        """Bits of the per-channel sum (unsigned input: ``bits + ceil(log2(H*W))``)."""
        grow = max(0, math.ceil(math.log2(self.ifm[0] * self.ifm[1])))
        return self.bits + grow + (1 if self.kind == "bipolar" else 0)

    @property
    def in_bits(self) -> int:
        return self.bits


@dataclass(frozen=True)
class FIFO:
    """Stream FIFO of ``depth`` words of ``width`` bits.

    In a graph it is the skip FIFO of a residual block: it holds the short branch's output
    while the long branch fills its line buffers (depth from
    :func:`hwprune.ir.build.skip_fifo_depth`). It has no folding and does not limit the frame
    rate; it is priced for its memory."""

    name: str
    width: int
    depth: int = 32
    op: ClassVar[str] = "FIFO"

    @property
    def in_width(self) -> int:
        return self.width

    @property
    def out_width(self) -> int:
        return self.width

    def fold_space(self) -> dict[str, tuple[int, ...]]:
        """Nothing to fold."""
        return {}


@dataclass(frozen=True)
class WidthConverter:
    """Stream data-width converter, inserted where a producer's and consumer's widths differ."""

    name: str
    in_width: int
    out_width: int
    op: ClassVar[str] = "WidthConverter"


@dataclass(frozen=True)
class DMA:
    """DMA between memory and the accelerator: ``frame_bits`` per frame, ``width``-bit port."""

    name: str
    direction: str  # "in" | "out"
    width: int
    frame_bits: int
    op: ClassVar[str] = "DMA"


ComputeNode = (
    SlidingWindow
    | MVAU
    | VVAU
    | MaxPool
    | Thresholding
    | LabelSelect
    | DuplicateStreams
    | AddStreams
    | GlobalAccPool
    | FIFO
)
GlueNode = FIFO | WidthConverter | DMA
FOLDABLE = (
    "MVAU",
    "VVAU",
    "SlidingWindow",
    "Thresholding",
    "LabelSelect",
    "DuplicateStreams",
    "AddStreams",
    "GlobalAccPool",
)
