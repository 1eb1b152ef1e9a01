"""Datasets as deterministic train/val/test splits of NCHW float tensors in [0, 1].

Every loader returns a :class:`DatasetSplits`; images are always NCHW (an MLP flattens them
itself), labels are int64 class indices, pixel values lie in [0, 1] on the grid of the source's
integer pixels, so an 8-bit unsigned input quantizer represents them exactly.

Example:
    >>> from hwprune.data import load_dataset
    >>> ds = load_dataset("digits", seed=0)
    >>> ds.input_shape, ds.num_classes, ds.train.x.shape[1:]
    ((1, 8, 8), 10, torch.Size([1, 8, 8]))
"""

from __future__ import annotations

from hwprune.data.base import DatasetSplits, Split, available_datasets, load_dataset

__all__ = ["DatasetSplits", "Split", "available_datasets", "load_dataset"]
