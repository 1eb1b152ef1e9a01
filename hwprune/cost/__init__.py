"""Cost models.

FPGA dataflow: :mod:`~hwprune.cost.fpga` (each node kind's cycles and resources, written once
with numpy broadcasting), :mod:`~hwprune.cost.tables` (every legal folding of each group, priced
by those same functions), :mod:`~hwprune.cost.optimizer` (the resource-aware folding),
:mod:`~hwprune.cost.setfolding` (FINN's SetFolding, the baseline); :mod:`~hwprune.cost.folding`
re-exports the folding API. GPU latency: :mod:`~hwprune.cost.gpu` (the model) and
:mod:`~hwprune.cost.gpu_target` (the targets it reads).

Example:
    >>> from hwprune.cost import FpgaCostParams
    >>> FpgaCostParams().weight_layout
    'shared'
"""

from __future__ import annotations

from hwprune.cost.fpga import FpgaCostParams, NodeCost, node_cost

__all__ = ["FpgaCostParams", "NodeCost", "node_cost"]
