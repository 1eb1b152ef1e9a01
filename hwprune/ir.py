"""The dataflow IR: one frozen node per hardware block of a FINN-style streaming accelerator.

A network becomes a chain of nodes, each with its shapes, bit widths and folding:

* :class:`SlidingWindow` - the im2col line buffer in front of a convolution (zero padding included);
* :class:`MVAU` - matrix-vector-activation unit: a fully connected layer, or a convolution lowered
  to a matrix (``mw = k*k*c_in`` columns, ``mh = c_out`` rows, ``n_vec`` output pixels), with its
  activation as embedded thresholds (``out_bits``) or none (``out_bits=None``: raw accumulator);
* :class:`VVAU` - depthwise convolution (one ``k*k`` dot product per channel);
* :class:`MaxPool` - 2D max pooling, all channels in parallel;
* :class:`Thresholding` - a standalone multi-threshold activation;
* :class:`LabelSelect` - arg-max over the classifier's accumulators;
* glue the build adds between them: :class:`FIFO`, :class:`WidthConverter`, :class:`DMA`.

Data types: an activation or weight is ``(bits, kind)`` with kind ``"uint"``, ``"int"`` (signed,
weights narrow-range as Brevitas exports them) or ``"bipolar"`` (1 bit meaning -1/+1: binary
weights and 1-bit activations, as FINN expects).

:func:`build_ir` turns design layers (the layer vocabulary shared by model specs, the JSON design
description and the search) into a :class:`DataflowGraph`. The QONNX lowering builds the same node
types and may attach integer weights/thresholds (fields excluded from equality).

Example:
    >>> from hwprune.ir import build_ir
    >>> g = build_ir([{"op": "conv", "out_ch": 16, "kernel": 3, "wbits": 2, "abits": 2},
    ...               {"op": "maxpool", "kernel": 2},
    ...               {"op": "fc", "out": 10, "wbits": 2, "abits": None}], (1, 8, 8), 8)
    >>> [n.op for n in g.nodes]
    ['SlidingWindow', 'MVAU', 'MaxPool', 'MVAU', 'LabelSelect']
    >>> g.nodes[1].mw, g.nodes[1].mh, g.nodes[1].n_vec
    (9, 16, 36)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, ClassVar, NamedTuple

from hwprune.errors import ConfigError

DTypeKind = str  # "uint" | "int" | "bipolar"

#: multiplier resource of an MVAU/VVAU: chosen by the folding optimizer ("auto"), LUTs or DSPs
RES_TYPES = ("auto", "lut", "dsp")

#: why an XNOR unit (binary weights on binary inputs) cannot take ``res_type`` "dsp"
XNOR_DSP_ERROR = (
    "res_type 'dsp' is meaningless for binary weights on binary inputs (an XNOR-popcount has "
    "no multiplier); use 'lut' or 'auto'"
)


def act_kind(bits: int) -> str:
    """Kind of an activation of ``bits`` bits: 1-bit activations are bipolar, wider ones unsigned.

    Example:
        >>> act_kind(1), act_kind(4)
        ('bipolar', 'uint')
    """
    return "bipolar" if bits == 1 else "uint"


def weight_kind(bits: int) -> str:
    """Kind of ``bits``-bit weights: 1-bit weights are bipolar, wider ones signed narrow-range.

    Example:
        >>> weight_kind(1), weight_kind(4)
        ('bipolar', 'int')
    """
    return "bipolar" if bits == 1 else "int"


def value_range(bits: int, kind: str, narrow: bool = False) -> tuple[int, int]:
    """Integer range of a data type.

    Example:
        >>> value_range(2, "int", narrow=True), value_range(8, "uint"), value_range(1, "bipolar")
        ((-1, 1), (0, 255), (-1, 1))
    """
    if kind == "bipolar":
        return (-1, 1)
    if kind == "uint":
        return (0, 2**bits - 1)
    lo = -(2 ** (bits - 1)) + (1 if narrow else 0)
    return (lo, 2 ** (bits - 1) - 1)


def accumulator_bits(mw: int, wbits: int, wkind: str, in_bits: int, in_kind: str) -> int:
    """Smallest accumulator width for a ``mw``-long dot product, from the data-type ranges.

    XNOR layers (bipolar x bipolar) accumulate a popcount in ``[0, mw]``; otherwise the bound is
    ``mw`` times the extreme products (FINN's MinimizeAccumulatorWidth with worst-case weights).
    The QONNX lowering may pass a tighter width computed from the real weights.

    Example:
        >>> accumulator_bits(576, 1, "bipolar", 1, "bipolar")  # popcount 0..576
        10
        >>> accumulator_bits(27, 1, "bipolar", 8, "uint")      # +-27*255
        14
    """
    if wkind == "bipolar" and in_kind == "bipolar":
        return max(1, math.ceil(math.log2(mw + 1)))
    wlo, whi = value_range(wbits, wkind, narrow=True)
    xlo, xhi = value_range(in_bits, in_kind)
    prods = (wlo * xlo, wlo * xhi, whi * xlo, whi * xhi)
    amax, amin = mw * max(prods), mw * min(prods)
    if amin >= 0:
        return max(1, math.ceil(math.log2(amax + 1)))
    return math.ceil(math.log2(max(-amin, amax + 1))) + 1


def n_thresholds(out_bits: int | None, out_kind: str) -> int:
    """Thresholds per channel for an activation of ``out_bits`` bits (0 when there is none).

    Example:
        >>> n_thresholds(1, "bipolar"), n_thresholds(2, "uint"), n_thresholds(None, "int")
        (1, 3, 0)
    """
    if out_bits is None:
        return 0
    if out_kind == "bipolar":
        return 1
    return 2**out_bits - 1


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


@dataclass(frozen=True)
class Thresholding:
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
    def in_width(self) -> int:
        return self.pe * self.in_bits

    @property
    def out_width(self) -> int:
        return self.pe * self.out_bits

    def fold_space(self) -> dict[str, tuple[int, ...]]:
        """Legal values of each folding parameter (``pe | channels``)."""
        return {"pe": divisors(self.channels)}


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
class FIFO:
    """Stream FIFO between two nodes (``depth`` words of ``width`` bits)."""

    name: str
    width: int
    depth: int = 32
    op: ClassVar[str] = "FIFO"


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


ComputeNode = SlidingWindow | MVAU | VVAU | MaxPool | Thresholding | LabelSelect
GlueNode = FIFO | WidthConverter | DMA
FOLDABLE = ("MVAU", "VVAU", "SlidingWindow", "Thresholding", "LabelSelect")


@dataclass(frozen=True)
class DataflowGraph:
    """A chain of compute nodes, input first.

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
            >>> g = build_ir([{"op": "fc", "out": 8, "wbits": 2, "abits": None}], (16,), 2)
            >>> g.with_folding({"fc0": {"pe": 2, "res_type": "lut"}}).folding["fc0"]
            {'pe': 2, 'simd': 1, 'res_type': 'lut'}
        """
        out: dict[str, dict[str, Any]] = {}
        for n in self.nodes:
            if isinstance(n, (MVAU, VVAU)):
                out[n.name] = {"pe": n.pe, "simd": n.simd}
                if n.res_type != "auto":
                    out[n.name]["res_type"] = n.res_type
            elif isinstance(n, SlidingWindow):
                out[n.name] = {"simd": n.simd}
            elif isinstance(n, (Thresholding, LabelSelect)):
                out[n.name] = {"pe": n.pe}
        return out

    def with_folding(self, folding: Mapping[str, Mapping[str, Any]]) -> DataflowGraph:
        """A copy with the PE/SIMD values (and MVAU/VVAU ``res_type``) in ``folding`` applied
        (others kept).

        Example:
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


@lru_cache(maxsize=65536)
def divisors(n: int) -> tuple[int, ...]:
    """All divisors of ``n`` in increasing order.

    Example:
        >>> divisors(12)
        (1, 2, 3, 4, 6, 12)
    """
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return tuple(sorted(set(small + [n // d for d in small])))


def _as_int(
    layer: Mapping[str, Any], key: str, i: int, default: Any = ..., minimum: int = 1
) -> Any:
    if key not in layer or layer[key] is None:
        if default is ...:
            raise ConfigError(f"layer {i} ({layer.get('op')}): missing '{key}'; add it")
        return default
    v = layer[key]
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise ConfigError(
            f"layer {i} ({layer.get('op')}): '{key}' must be an integer >= {minimum}, got {v!r}"
        )
    return v


def _check_fold(name: str, what: str, value: int | None, total: int, rule: str) -> int | None:
    if value is None:
        return None
    if total % value != 0:
        raise ConfigError(
            f"{name}: {what}={value} is illegal: {rule} ({total} % {value} != 0); "
            f"pick one of {list(divisors(total))}"
        )
    return value


def build_ir(
    layers: Sequence[Mapping[str, Any]],
    input_shape: Sequence[int],
    input_bits: int = 8,
    name: str = "design",
    label_select: bool = True,
    input_kind: str = "uint",
) -> DataflowGraph:
    """Lower design layers to a :class:`DataflowGraph`.

    Args:
        layers: design layers (``conv``/``maxpool``/``fc`` dicts with ``wbits``/``abits`` and
            optional ``pe``/``simd``/``res_type``); see the module docstring of
            :mod:`hwprune.design`.
        input_shape: ``(C, H, W)`` (or ``(N,)`` for a flat input).
        input_bits: bits of the unsigned integer input values.
        name: design name.
        label_select: append an arg-max :class:`LabelSelect` after a final layer without
            activation (``abits`` None), as FINN does for classifiers.
        input_kind: ``"uint"`` (integer pixels, the default) or ``"bipolar"`` (a 1-bit +-1
            input, as in BNN-PYNQ's binarized MNIST).

    Given ``pe``/``simd`` values are checked: an illegal one raises :class:`ConfigError` naming
    the divisibility rule. Folding left out stays 1 (the optimizer chooses it).

    Example:
        >>> g = build_ir([{"op": "fc", "out": 64, "wbits": 1, "abits": 1, "pe": 16},
        ...               {"op": "fc", "out": 10, "wbits": 1, "abits": None}], (1, 28, 28), 1)
        >>> g.nodes[0].mw, g.nodes[0].pe, g.nodes[1].acc_bits
        (784, 16, 7)
    """
    shape = _check_input(layers, input_shape, input_bits, input_kind)
    st = _Lowering(*shape, bits=input_bits, kind=input_kind)
    last_abits: Any = "unset"
    for i, layer in enumerate(layers):
        if not isinstance(layer, Mapping):
            raise ConfigError(f'layer {i} must be an object such as {{"op": "fc", "out": 10}}')
        op = layer.get("op")
        if last_abits is None:
            raise ConfigError(
                f"layer {i} ({op}) follows a layer with abits null; only the last layer may "
                "have no activation"
            )
        if op == "maxpool":
            _add_maxpool(st, layer, i)
            continue
        if op not in ("conv", "fc"):
            raise ConfigError(f"layer {i}: unknown op {op!r}; use 'conv', 'maxpool' or 'fc'")
        q = _layer_quant(layer, i, st.kind)
        if op == "conv":
            _add_conv(st, layer, i, q)
        else:
            _add_fc(st, layer, i, q)
        last_abits = q.abits
        if q.abits is not None:
            st.bits, st.kind = q.abits, act_kind(q.abits)
    if last_abits == "unset":
        raise ConfigError("the design has no conv or fc layer; add one")
    if last_abits is None and label_select:
        last = st.nodes[-1]
        assert isinstance(last, (MVAU, VVAU))
        labels = last.mh if isinstance(last, MVAU) else last.channels
        st.nodes.append(LabelSelect("labelselect", labels, last.acc_bits))
    return DataflowGraph(name, shape, input_bits, tuple(st.nodes), input_kind, st.fixed)


def _check_input(
    layers: Sequence[Any], input_shape: Sequence[int], input_bits: int, input_kind: str
) -> tuple[int, int, int]:
    """The input shape as ``(C, H, W)``, after checking the design's input description."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 1:
        shape = (shape[0], 1, 1)
    if len(shape) != 3 or min(shape) < 1:
        raise ConfigError(
            f"input shape must be [C, H, W] of positive sizes, got {list(input_shape)}"
        )
    if not isinstance(input_bits, int) or not 1 <= input_bits <= 32:
        raise ConfigError(f"input bits must be an integer in 1..32, got {input_bits!r}")
    if not layers:
        raise ConfigError("the design has no layers; add at least one 'fc' or 'conv'")
    if input_kind not in ("uint", "bipolar") or (input_kind == "bipolar" and input_bits != 1):
        raise ConfigError(f"input kind must be 'uint' or (1-bit) 'bipolar', got {input_kind!r}")
    return shape[0], shape[1], shape[2]


@dataclass
class _Lowering:
    """What :func:`build_ir` carries from layer to layer: the current map and data type."""

    c: int
    h: int
    w: int
    bits: int
    kind: str
    flat: bool = False
    nodes: list[ComputeNode] = field(default_factory=list)
    fixed: dict[str, dict[str, int]] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=lambda: {"conv": 0, "fc": 0, "pool": 0})

    def next_name(self, what: str) -> str:
        k = self.count[what]
        self.count[what] += 1
        return f"{what}{k}"


class _Quant(NamedTuple):
    """A conv/fc layer's bits, data kinds, given folding and multiplier resource."""

    wbits: int
    wkind: str
    abits: int | None
    okind: str
    pe: int | None
    simd: int | None
    res_type: str


def _layer_quant(layer: Mapping[str, Any], i: int, in_kind: str) -> _Quant:
    op = layer.get("op")
    wbits = _as_int(layer, "wbits", i)
    if wbits > 32:
        raise ConfigError(f"layer {i}: wbits must be <= 32, got {wbits}")
    abits = layer.get("abits", "missing")
    if abits == "missing":
        raise ConfigError(f"layer {i} ({op}): missing 'abits' (use null for the last layer)")
    if abits is not None and (
        not isinstance(abits, int) or isinstance(abits, bool) or not 1 <= abits <= 32
    ):
        raise ConfigError(f"layer {i} ({op}): 'abits' must be an integer in 1..32 or null")
    wkind = weight_kind(wbits)
    return _Quant(
        wbits,
        wkind,
        abits,
        act_kind(abits) if abits is not None else "int",
        _as_int(layer, "pe", i, None),
        _as_int(layer, "simd", i, None),
        _res_type(layer, i, wkind == "bipolar" and in_kind == "bipolar"),
    )


def _add_maxpool(st: _Lowering, layer: Mapping[str, Any], i: int) -> None:
    if st.flat:
        raise ConfigError(f"layer {i}: maxpool after an fc layer is not supported")
    k = _as_int(layer, "kernel", i)
    if k > st.h or k > st.w:
        raise ConfigError(f"layer {i}: maxpool kernel {k} is larger than the {st.h}x{st.w} map")
    st.nodes.append(MaxPool(st.next_name("pool"), st.c, (st.h, st.w), k, st.bits, st.kind))
    st.h, st.w = st.h // k, st.w // k


def _add_conv(st: _Lowering, layer: Mapping[str, Any], i: int, q: _Quant) -> None:
    if st.flat:
        raise ConfigError(f"layer {i}: conv after an fc layer is not supported")
    c, h, w = st.c, st.h, st.w
    out_ch = _as_int(layer, "out_ch", i)
    k = _as_int(layer, "kernel", i)
    stride = _as_int(layer, "stride", i, 1)
    pad = _as_int(layer, "pad", i, 0, minimum=0)
    groups = _as_int(layer, "groups", i, 1)
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    if oh < 1 or ow < 1:
        raise ConfigError(f"layer {i}: kernel {k} does not fit the {h}x{w} input (pad {pad})")
    cname = st.next_name("conv")
    pe, simd = q.pe, q.simd
    dot = (q.wbits, q.wkind, st.bits, st.kind)
    if groups == 1:
        mw = k * k * c
        _check_fold(cname, "pe", pe, out_ch, "PE must divide the output channels")
        _check_fold(cname, "simd", simd, mw, "SIMD must divide kernel*kernel*in_channels")
        if not (k == 1 and stride == 1 and pad == 0):
            sw_simd = simd if simd is not None and c % simd == 0 else 1
            st.nodes.append(
                SlidingWindow(f"{cname}_swg", c, (h, w), k, stride, pad, *dot[2:], simd=sw_simd)
            )
        acc = accumulator_bits(mw, *dot)
        _record(st.fixed, cname, pe, simd)
        st.nodes.append(
            MVAU(
                cname,
                mw,
                out_ch,
                oh * ow,
                *dot,
                acc,
                q.abits,
                q.okind,
                pe or 1,
                simd or 1,
                conv=True,
                res_type=q.res_type,
            )
        )
    elif groups == c and out_ch == c:
        _check_fold(cname, "pe", pe, c, "PE must divide the channels of a depthwise conv")
        _check_fold(cname, "simd", simd, k * k, "SIMD must divide kernel*kernel")
        if simd not in (None, 1) and pe not in (None, c):
            raise ConfigError(f"{cname}: simd > 1 needs pe = channels ({c}) in a depthwise conv")
        st.nodes.append(
            SlidingWindow(
                f"{cname}_swg", c, (h, w), k, stride, pad, *dot[2:], simd=pe or 1, depthwise=True
            )
        )
        acc = accumulator_bits(k * k, *dot)
        _record(st.fixed, cname, pe, simd)
        st.nodes.append(
            VVAU(
                cname,
                c,
                k,
                oh * ow,
                *dot,
                acc,
                q.abits,
                q.okind,
                pe or 1,
                simd or 1,
                res_type=q.res_type,
            )
        )
    else:
        raise ConfigError(
            f"layer {i}: groups={groups} is not supported; use 1 or depthwise "
            f"(groups = in_ch = out_ch = {c})"
        )
    st.c, st.h, st.w = out_ch, oh, ow


def _add_fc(st: _Lowering, layer: Mapping[str, Any], i: int, q: _Quant) -> None:
    out = _as_int(layer, "out", i)
    mw = st.c * st.h * st.w
    fname = st.next_name("fc")
    _check_fold(fname, "pe", q.pe, out, "PE must divide the output neurons")
    _check_fold(fname, "simd", q.simd, mw, "SIMD must divide the input length")
    dot = (q.wbits, q.wkind, st.bits, st.kind)
    acc = accumulator_bits(mw, *dot)
    _record(st.fixed, fname, q.pe, q.simd)
    st.nodes.append(
        MVAU(
            fname,
            mw,
            out,
            1,
            *dot,
            acc,
            q.abits,
            q.okind,
            q.pe or 1,
            q.simd or 1,
            res_type=q.res_type,
        )
    )
    st.c, st.h, st.w, st.flat = out, 1, 1, True


def _res_type(layer: Mapping[str, Any], i: int, xnor: bool) -> str:
    """A layer's ``res_type`` (``"auto"`` when left out), checked."""
    v = layer.get("res_type", "auto")
    if v is None:
        v = "auto"
    if v not in RES_TYPES:
        raise ConfigError(
            f"layer {i} ({layer.get('op')}): 'res_type' must be one of {list(RES_TYPES)}, got {v!r}"
        )
    if v == "dsp" and xnor:
        raise ConfigError(f"layer {i} ({layer.get('op')}): {XNOR_DSP_ERROR}")
    return v


def _record(fixed: dict[str, dict[str, int]], name: str, pe: int | None, simd: int | None) -> None:
    given = {k: v for k, v in (("pe", pe), ("simd", simd)) if v is not None}
    if given:
        fixed[name] = given
