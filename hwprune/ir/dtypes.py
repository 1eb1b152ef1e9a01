"""Data types of the dataflow IR: kinds, integer ranges, accumulator widths, divisors.

An activation or weight is ``(bits, kind)`` with kind ``"uint"``, ``"int"`` (signed, weights
narrow-range as Brevitas exports them) or ``"bipolar"`` (1 bit meaning -1/+1).

Example:
    >>> from hwprune.ir.dtypes import value_range
    >>> value_range(3, "int")
    (-4, 3)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

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


#: an element kind's code in hwprune's kernels (HLS and RTL ``T`` parameters)
KIND_CODES = {"uint": 0, "int": 1, "bipolar": 2}


def kind_code(kind: str) -> int:
    """The kernels' type code of an element kind: 0 unsigned (also any other kind), 1 signed,
    2 bipolar.

    Example:
        >>> kind_code("uint"), kind_code("int"), kind_code("bipolar")
        (0, 1, 2)
    """
    return KIND_CODES.get(kind, 0)


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


@lru_cache(maxsize=65536)
def divisors(n: int) -> tuple[int, ...]:
    """All divisors of ``n`` in increasing order.

    Example:
        >>> divisors(12)
        (1, 2, 3, 4, 6, 12)
    """
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return tuple(sorted(set(small + [n // d for d in small])))


@dataclass(frozen=True)
class IntType:
    """An integer element type: ``bits`` wide, signed or not, or bipolar (values -1/+1)."""

    bits: int
    signed: bool
    bipolar: bool = False

    @property
    def min(self) -> int:
        """Smallest representable value."""
        if self.bipolar:
            return -1
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        """Largest representable value."""
        if self.bipolar:
            return 1
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def name(self) -> str:
        """FINN-style name: ``BIPOLAR``, ``UINT<b>`` or ``INT<b>``."""
        if self.bipolar:
            return "BIPOLAR"
        return f"{'INT' if self.signed else 'UINT'}{self.bits}"

    @property
    def cpp(self) -> str:
        """The ap_int type that holds one encoded element."""
        if self.bipolar:
            return "ap_uint<1>"
        return f"ap_{'int' if self.signed else 'uint'}<{self.bits}>"

    def contains(self, values: np.ndarray) -> bool:
        """True if every value is representable."""
        v = np.asarray(values)
        if v.size == 0:
            return True
        if self.bipolar:
            return bool(np.all(np.abs(v) == 1))
        return bool(v.min() >= self.min and v.max() <= self.max)

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Raw bit patterns (uint64) of ``values`` as they travel on a stream."""
        v = np.asarray(values, dtype=np.int64)
        if self.bipolar:
            return (v > 0).astype(np.uint64)
        mask = np.uint64((1 << self.bits) - 1)
        return v.astype(np.uint64) & mask

    @staticmethod
    def from_name(name: str) -> IntType:
        """Parse ``BIPOLAR``, ``BINARY`` (= UINT1), ``UINT<b>`` or ``INT<b>``."""
        if name == "BIPOLAR":
            return IntType(1, True, True)
        if name == "BINARY":
            return IntType(1, False)
        m = re.fullmatch(r"(U?)INT(\d+)", name)
        if m is None:
            raise ValueError(f"unknown integer type {name!r}")
        return IntType(int(m.group(2)), m.group(1) != "U")

    @staticmethod
    def for_range(lo: int, hi: int) -> IntType:
        """The narrowest type that holds every integer in ``[lo, hi]`` (FINN's rule).

        Example:
            >>> IntType.for_range(0, 255).name, IntType.for_range(-1, 0).name
            ('UINT8', 'INT1')
        """
        lo, hi = int(lo), int(hi)
        if lo >= 0:
            return IntType(max(1, int(hi).bit_length()), False)
        bits = max((-lo - 1).bit_length(), hi.bit_length()) + 1
        return IntType(bits, True)

    @property
    def kind(self) -> str:
        """The IR's data-type kind: ``uint``, ``int`` or ``bipolar``.

        Example:
            >>> IntType(4, True).kind, IntType.of(1, "bipolar").name
            ('int', 'BIPOLAR')
        """
        return "bipolar" if self.bipolar else ("int" if self.signed else "uint")

    @staticmethod
    def of(bits: int, kind: str) -> IntType:
        """The type of ``bits`` bits of the IR's ``kind`` (``uint``, ``int`` or ``bipolar``)."""
        if kind == "bipolar":
            return IntType(1, True, True)
        return IntType(int(bits), kind == "int")
