"""Integer data types of the lowered graph: :class:`hwprune.ir.dtypes.IntType` (FINN's naming:
UINT4, INT8, BIPOLAR), re-exported where the export modules have always imported it.

Example:
    >>> IntType.for_range(-3, 5).name
    'INT4'
"""

from __future__ import annotations

from hwprune.ir.dtypes import IntType

__all__ = ["IntType"]
