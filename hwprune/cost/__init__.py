"""Cost models: FPGA dataflow (``fpga``, ``folding``) and GPU latency (``gpu``).

Example:
    >>> from hwprune.cost import FpgaCostParams
    >>> FpgaCostParams().weight_layout
    'shared'
"""

from __future__ import annotations

from hwprune.cost.fpga import FpgaCostParams, NodeCost, node_cost

__all__ = ["FpgaCostParams", "NodeCost", "node_cost"]
