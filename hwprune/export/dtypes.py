"""Integer data types of the lowered dataflow graph (FINN's naming: UINT4, INT8, BIPOLAR).

A value of a BIPOLAR tensor is -1 or +1 and travels on a stream as one bit (1 means +1).
Signed types are two's complement.

Example:
    >>> IntType.for_range(-3, 5).name
    'INT4'
    >>> IntType.from_name("BIPOLAR").encode(np.array([-1, 1])).tolist()
    [0, 1]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


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
