"""Compression: structured pruning, Brevitas quantization, training (float, QAT, KD).

Brevitas is imported inside the functions that need it; torch-pruning at import (the importance
criteria subclass its ``Importance``).

Example:
    >>> from hwprune.compress import prune_to, to_brevitas, finetune_qat  # doctest: +SKIP
"""

from __future__ import annotations

from hwprune.compress.prune import (
    CRITERIA,
    GroupImportance,
    channel_groups,
    channel_scores,
    make_importance,
    prune_to,
)
from hwprune.compress.quant import (
    LayerGroup,
    QuantNet,
    calibrate,
    layer_groups,
    needs_calibration,
    quant_layers,
    to_brevitas,
)
from hwprune.compress.train import (
    EpochStats,
    History,
    evaluate,
    finetune_qat,
    kd_loss,
    parent_cache_key,
    train_float,
    train_parent,
)

__all__ = [
    "CRITERIA",
    "EpochStats",
    "GroupImportance",
    "History",
    "LayerGroup",
    "QuantNet",
    "calibrate",
    "channel_groups",
    "channel_scores",
    "evaluate",
    "finetune_qat",
    "kd_loss",
    "layer_groups",
    "make_importance",
    "needs_calibration",
    "parent_cache_key",
    "prune_to",
    "quant_layers",
    "to_brevitas",
    "train_float",
    "train_parent",
]
