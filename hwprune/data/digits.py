"""scikit-learn's ``load_digits``: 1,797 real 8x8 handwritten digits (pixels 0..16), embedded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwprune.data.base import DatasetSplits, register, split_arrays


@register("digits")
def load_digits(data_dir: Path | None, seed: int) -> DatasetSplits:
    """Load the embedded digits set: 20% test, 10% of the rest validation."""
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    return split_arrays(
        "digits", x, bunch.target, None, None, seed=seed, input_scale=16.0, num_classes=10
    )
