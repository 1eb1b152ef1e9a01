"""Compression: structured pruning, Brevitas quantization, training (float, QAT, KD).

Brevitas and torch-pruning are imported inside the functions that need them.

Example:
    >>> from hwprune.compress import prune_to, to_brevitas, finetune_qat  # doctest: +SKIP
"""

from __future__ import annotations

from hwprune.compress.prune import CRITERIA, channel_scores, prune_to
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
    "History",
    "LayerGroup",
    "QuantNet",
    "calibrate",
    "channel_scores",
    "evaluate",
    "finetune_qat",
    "kd_loss",
    "layer_groups",
    "needs_calibration",
    "parent_cache_key",
    "prune_to",
    "quant_layers",
    "to_brevitas",
    "train_float",
    "train_parent",
]
