"""Resource-aware folding: choose PE/SIMD for every node of a dataflow graph.

The work lives in three modules; this one re-exports their public names for existing callers:

* :mod:`hwprune.cost.tables` - every legal folding of every group of nodes, priced at once
  by the cost model's own per-kind functions (:class:`GroupTable`, :func:`group_tables`);
* :mod:`hwprune.cost.optimizer` - the fastest design under the budget, or the smallest that
  reaches a frame rate (:func:`fold`, :class:`FoldResult`);
* :mod:`hwprune.cost.setfolding` - FINN's greedy SetFolding, the baseline
  (:func:`finn_set_folding`).

Example:
    >>> from hwprune.ir import build_ir
    >>> from hwprune.targets import load_target
    >>> from hwprune.cost.folding import fold
    >>> g = build_ir([{"op": "fc", "out": 64, "wbits": 2, "abits": 2},
    ...               {"op": "fc", "out": 10, "wbits": 2, "abits": None}], (1, 8, 8), 4)
    >>> r = fold(g, load_target("pynq-z2"), mode="fastest")
    >>> r.fits, r.node_cycles  # 4 cycles: the 64-bit port needs 4 to bring in 64 4-bit pixels
    (True, 4)
"""

from __future__ import annotations

from hwprune.cost.fpga import RES_CODES
from hwprune.cost.optimizer import RESOURCE_NAMES, FoldResult, clear_caches, fixed_overhead, fold
from hwprune.cost.setfolding import finn_set_folding
from hwprune.cost.tables import GroupTable, group_tables, groups_of, res_codes

__all__ = [
    "RESOURCE_NAMES",
    "RES_CODES",
    "FoldResult",
    "GroupTable",
    "clear_caches",
    "finn_set_folding",
    "fixed_overhead",
    "fold",
    "group_tables",
    "groups_of",
    "res_codes",
]
