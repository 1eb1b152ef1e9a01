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

from hwprune.ir.dtypes import IntType, divisors
from hwprune.ir.lowered import Lowered, Pad


class _Valued(Protocol):
    @property
    def bits(self) -> int: ...
    @property
    def kind(self) -> str: ...


class _PassesValues(Lowered):
    """What the nodes that pass their values on unchanged share (a window generator, a max
    pool, a stream fork): ``bits`` of ``kind`` in and out."""

    @property
    def in_bits(self: _Valued) -> int:
        return self.bits

    @property
    def out_bits(self: _Valued) -> int:
        return self.bits

    def _in_type(self: _Valued) -> IntType:
        return IntType.of(self.bits, self.kind)

    def _out_type(self: _Valued) -> IntType:
        return IntType.of(self.bits, self.kind)


@dataclass(frozen=True)
class SlidingWindow(_PassesValues):
    """Sliding-window (im2col) generator: ``channels`` x ``ifm`` in, one ``k*k*channels`` window
    per output pixel out; zero padding ``pad`` on each side is generated here (the back ends
    that pad in a kernel of their own take it from :meth:`pad_kernel`).

    ``simd`` channels per cycle (``simd | channels``); a depthwise window feeds a VVAU and must
    have ``simd`` equal to that VVAU's ``pe``. Its words are (kernel row, kernel column,
    channel) per output pixel; depthwise: (channel fold, kernel row, kernel column)."""

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

    def _in_shape(self) -> tuple[int, ...]:
        return (*self.padded, self.channels)  # what the window kernel reads (padded)

    def _out_shape(self) -> tuple[int, ...]:
        return (*self.ofm, self.kernel * self.kernel * self.channels)

    def _out_type(self) -> IntType:
        # the input type is before padding; a bipolar map padded with zeros holds -1, 0, +1:
        # it continues as INT2
        return IntType(2, True) if self.pad and self.kind == "bipolar" else self._in_type()

    def pad_kernel(self) -> Pad | None:
        """The zero-padding kernel in front of this window (``<conv>_pad``), None unpadded."""
        if not self.pad:
            return None
        base = self.name.removesuffix("_swg")
        shape = (self.ifm[0], self.ifm[1], self.channels)
        t_in, t_out = self._in_type(), self._out_type()
        return Pad(f"{base}_pad", shape, self.pad, self.simd, t_in, t_out, self.out_scale)

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


class _DotProduct(Lowered):
    """What MVAU and VVAU share: XNOR-popcount for bipolar x bipolar, output bits, and the
    integer views the back ends read (``wtype``, ``acc_type``, ``in_type``, ``out_type``)."""

    name: str
    wbits: int
    wkind: str
    in_bits: int
    in_kind: str
    acc_bits: int
    out_bits: int | None
    out_kind: str
    n_vec: int
    pe: int
    simd: int
    res_type: str
    weights: Any
    thresholds: Any

    @property
    def xnor(self) -> bool:
        return self.wkind == "bipolar" and self.in_kind == "bipolar"

    @property
    def obits(self) -> int:
        """Bits per output value (the accumulator when there is no activation)."""
        return self.acc_bits if self.out_bits is None else self.out_bits

    @property
    def is_head(self) -> bool:
        """True for the classifier head (no activation: the accumulator goes out)."""
        return self.out_bits is None

    @property
    def popcount(self) -> bool:
        """Whether the kernel accumulates an XNOR popcount (an MVAU of bipolar weights on
        bipolar inputs; hwprune's depthwise kernel multiplies)."""
        return False

    @property
    def wtype(self) -> IntType:
        """Integer type of the weights."""
        return IntType.of(self.wbits, self.wkind)

    @property
    def acc_type(self) -> IntType:
        """The accumulator's type (signed ``acc_bits`` unless the lowering says otherwise)."""
        return self._ex.acc_type or IntType(self.acc_bits, True)

    @property
    def kernel_acc_bits(self) -> int:
        """Accumulator bits of the HLS/RTL kernel: the popcount's for an XNOR unit, else the
        accumulator type's."""
        return int(self.mw_len + 1).bit_length() if self.popcount else self.acc_type.bits

    @property
    def mw_len(self) -> int:
        """Length of one dot product."""
        raise NotImplementedError

    @property
    def out_bias(self) -> int:
        """Added to a thresholded level (the activation quantizer's minimum)."""
        return self._ex.out_bias

    @property
    def score_scale(self) -> tuple[float, ...]:
        """A head's per-class ``score = acc * score_scale + score_bias``."""
        return self._ex.score_scale

    @property
    def score_bias(self) -> tuple[float, ...]:
        """A head's per-class score offset (see :attr:`score_scale`)."""
        return self._ex.score_bias

    @property
    def mul_impl(self) -> str:
        """What the products are built from, ``"lut"`` or ``"dsp"``: ``res_type``, with
        ``"auto"`` resolved as the cost model prices it (XNOR-popcount lanes: always LUTs).

        Example:
            >>> MVAU("fc0", 8, 4, 1, 2, "int", 8, "uint", 12, None, "int").mul_impl
            'dsp'
        """
        from hwprune.cost.fpga import FpgaCostParams, _uses_dsp

        if self.popcount:
            return "lut"
        dsp = _uses_dsp(self.wbits, self.in_bits, self.res_type, FpgaCostParams())
        return "dsp" if dsp else "lut"

    def _in_type(self) -> IntType:
        return IntType.of(self.in_bits, self.in_kind)

    def _out_type(self) -> IntType:
        if self.out_bits is None:
            return self.acc_type
        return IntType.of(self.out_bits, self.out_kind)

    def _describe_dot(self, rows: int, cols: int) -> dict[str, Any]:
        d = super().describe()
        nt = 0 if self.thresholds is None else int(self.thresholds.shape[1])
        d.update(
            source=self._ex.source,  # the QONNX node the layer came from
            in_shape=list(self.in_shape),
            in_type=self.in_type.name,
            mw=cols,
            mh=rows,
            nvec=self.n_vec,
            pe=self.pe,
            simd=self.simd,
            res_type=self.mul_impl,
            wtype=self.wtype.name,
            acc_type=self.acc_type.name,
            xnor=self.popcount,
            num_thresholds=nt,
            out_bias=self.out_bias,
            wmem=cols * rows // (self.pe * self.simd),
            tmem=0 if self.thresholds is None else rows // self.pe,
            cycles=self.cycles(),
        )
        return d


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

    @property
    def popcount(self) -> bool:
        return self.xnor

    @property
    def mw_len(self) -> int:
        return self.mw

    def _out_shape(self) -> tuple[int, ...]:
        shape = self._ex.in_shape
        if self.conv and len(shape) == 3:
            return (shape[0], shape[1], self.mh)
        return (self.mh,) if self.n_vec == 1 else (self.n_vec, self.mh)

    def describe(self) -> dict[str, Any]:
        return self._describe_dot(self.mh, self.mw)


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

    @property
    def mh(self) -> int:
        """Rows of the weight matrix (one per channel)."""
        return self.channels

    @property
    def mw(self) -> int:
        """Columns of the weight matrix (``kernel*kernel``)."""
        return self.kernel * self.kernel

    @property
    def mw_len(self) -> int:
        return self.kernel * self.kernel

    def _out_shape(self) -> tuple[int, ...]:
        shape = self._ex.in_shape
        return (shape[0], shape[1], self.channels) if len(shape) == 3 else (self.channels,)

    def describe(self) -> dict[str, Any]:
        return self._describe_dot(self.channels, self.kernel * self.kernel)


@dataclass(frozen=True)
class MaxPool(_PassesValues):
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

    def _in_shape(self) -> tuple[int, ...]:
        return (*self.ifm, self.channels)

    def _out_shape(self) -> tuple[int, ...]:
        return (*self.ofm, self.channels)

    def window_cycles(self) -> int:
        """Loop count of the pool's window-generator kernel."""
        from hwprune.cost.fpga import maxpool_window_cycles

        return maxpool_window_cycles(self.ifm, self.kernel)

    def pool_cycles(self) -> int:
        """Loop count of the pool kernel (``K*K*OH*OW``)."""
        from hwprune.cost.fpga import pool_cycles

        return pool_cycles(self.ofm, self.kernel)

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


class _Folded(Protocol):
    @property
    def pe(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def in_bits(self) -> int: ...
    @property
    def out_bits(self) -> int: ...


class _ChannelFolded(Lowered):
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

    @property
    def out_bias(self) -> int:
        """Added to a level (the quantizer's minimum; bipolar: ``2 * level - 1``)."""
        return self._ex.out_bias

    def _out_type(self) -> IntType:
        return IntType.of(self.out_bits, self.out_kind)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            in_type=self.in_type.name,
            channels=self.channels,
            nvec=self.n_vec,
            pe=self.pe,
            num_thresholds=int(self.thresholds.shape[1]),
            out_bias=self.out_bias,
            cycles=self.cycles(),
        )
        return d


@dataclass(frozen=True)
class LabelSelect(Lowered):
    """Arg-max over ``labels`` accumulators of ``in_bits`` (top-1 class index out).

    A head with a per-class bias (``score_i = A * acc_i + b_i``, one positive ``A``) is
    selected on integer keys ``(acc_i << shift) + offsets[i]``, which order the classes as the
    scores do (ties to the first index); without ``offsets`` the key is the accumulator.

    Example:
        >>> LabelSelect("ls", 4, 8, offsets=(-3, 0, 2, 5), shift=1).key_bits
        10
        >>> LabelSelect("ls", 10, 16, pe=2).key_bits  # no offsets: the accumulator
        16
    """

    name: str
    labels: int
    in_bits: int
    pe: int = 1
    offsets: tuple[int, ...] | None = None
    shift: int = 0
    op: ClassVar[str] = "LabelSelect"

    @property
    def offset_bits(self) -> int:
        """Bits of one signed offset in the offset table (0 without offsets)."""
        if not self.offsets:
            return 0
        return 1 + max(max(v, -v - 1).bit_length() for v in self.offsets)

    @property
    def key_bits(self) -> int:
        """``w``: every key fits ``w + 1`` signed bits, the kernels' compare width (as an
        ``in_bits`` accumulator compares in ``in_bits + 1``), for a signed or unsigned
        accumulator; ``in_bits`` without offsets."""
        if not self.offsets:
            return self.in_bits
        b, k = self.in_bits, self.shift
        lo = -(1 << (b - 1 + k)) + min(self.offsets)
        hi = (((1 << b) - 1) << k) + max(self.offsets)
        return max(hi.bit_length(), (-lo - 1).bit_length())

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

    def _out_shape(self) -> tuple[int, ...]:
        return (1,)

    def _out_type(self) -> IntType:
        return IntType.for_range(0, max(self.labels - 1, 1))

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            in_type=self.in_type.name, num_labels=self.labels, pe=self.pe, cycles=self.cycles()
        )
        if self.offsets:
            d.update(offsets=list(self.offsets), shift=self.shift, key_bits=self.key_bits)
        return d


@dataclass(frozen=True)
class DuplicateStreams(_PassesValues, _ChannelFolded):
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

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(pe=self.pe, cycles=self.cycles())
        return d


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

    @property
    def muls(self) -> tuple[int, int]:
        """Integer multipliers of the two inputs (long branch first): ``a * P + b * Q``."""
        return self._ex.muls

    @property
    def in_types(self) -> tuple[IntType, IntType]:
        """Integer types of the two inputs (long branch first)."""
        t = self._ex.in_types
        if t is None:
            one = IntType.of(self.in_bits, self.in_kind)
            return (one, one)
        return t

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(in_types=[t.name for t in self.in_types], pe=self.pe, cycles=self.cycles())
        if self.muls != (1, 1):
            d.update(muls=list(self.muls))
        return d


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

    @property
    def acc_type(self) -> IntType:
        """Type of the per-channel sum (the lowering's exact range, else ``acc_bits``)."""
        return self._ex.acc_type or IntType(self.acc_bits, self.kind != "uint")

    @property
    def rounding(self) -> str:
        """Rounding of the right shift: ``"ROUND"`` (half to even) or ``"FLOOR"``."""
        return self._ex.rounding

    def _in_shape(self) -> tuple[int, ...]:
        return (*self.ifm, self.channels)

    def _out_shape(self) -> tuple[int, ...]:
        return (1, 1, self.channels)

    def _in_type(self) -> IntType:
        return IntType.of(self.bits, self.kind)

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
