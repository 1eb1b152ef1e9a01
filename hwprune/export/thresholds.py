"""Per-channel integer thresholds: where an accumulator crosses each output level.

A layer's affine chain, ReLU and activation quantizer map its integer accumulator to an output
level (:func:`_level_fn`); :func:`compute_thresholds` finds by bisection the smallest
accumulator that reaches each level, which is what the MVAU/VVAU thresholding compares against.
"""

from __future__ import annotations

import numpy as np
from qonnx.custom_op.general.intquant import resolve_rounding_mode

from hwprune.export.dtypes import IntType


def _level_fn(
    A: np.ndarray,
    B: np.ndarray,
    relu: bool,
    qtype: IntType,
    s_a: float,
    qmin: int,
    qmax: int,
    rounding: str,
):
    """Map accumulators (per channel) to output levels 0..qmax-qmin, in float64."""
    rnd = resolve_rounding_mode(rounding)

    def level(acc: np.ndarray) -> np.ndarray:
        z = A * acc.astype(np.float64) + B
        if relu:
            z = np.maximum(z, 0.0)
        if qtype.bipolar:
            return (z >= 0).astype(np.int64)
        y = np.clip(z / s_a, qmin, qmax)
        return rnd(y).astype(np.int64) - qmin

    return level


def compute_thresholds(level, amin: np.ndarray, amax: np.ndarray, nt: int) -> np.ndarray:
    """Smallest accumulator reaching each level (``amax + 1`` if never), per channel.

    ``level`` must be non-decreasing in the accumulator for every channel.

    Example:
        >>> f = lambda acc: np.clip(acc // 3, 0, 3)
        >>> compute_thresholds(f, np.array([-10]), np.array([20]), 3).tolist()
        [[3, 6, 9]]
    """
    T = np.empty((amin.size, nt), dtype=np.int64)
    for k in range(1, nt + 1):
        lo = amin.astype(np.int64).copy()
        hi = amax.astype(np.int64) + 1
        while np.any(lo < hi):
            mid = (lo + hi) // 2
            ok = level(mid) >= k
            active = lo < hi
            hi = np.where(active & ok, mid, hi)
            lo = np.where(active & ~ok, mid + 1, lo)
        T[:, k - 1] = lo
    return T
