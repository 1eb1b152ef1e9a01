"""Resource-aware folding: choose PE/SIMD for every node of a dataflow graph.

The work lives in these modules; this one re-exports their public names for existing callers:

* :mod:`hwprune.cost.tables` - every legal folding of every group of nodes, priced at once
  by the cost model's own per-kind functions (:class:`GroupTable`, :func:`group_tables`);
* :mod:`hwprune.cost.optimizer` - the fastest design under the budget, or the smallest that
  reaches a frame rate (:func:`fold`, :class:`FoldResult`), with the exact search at one
  cycle budget in :mod:`hwprune.cost.branch_bound` and the Pareto cuts in
  :mod:`hwprune.cost.pareto_sets`;
* :mod:`hwprune.cost.setfolding` - FINN's greedy SetFolding, the baseline
  (:func:`finn_set_folding`).

Example (folding a graph: see :mod:`hwprune.cost.optimizer`):
    >>> from hwprune.cost import optimizer, setfolding
    >>> from hwprune.cost.folding import finn_set_folding, fold
    >>> fold is optimizer.fold and finn_set_folding is setfolding.finn_set_folding
    True
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
