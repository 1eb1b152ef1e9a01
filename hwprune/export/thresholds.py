"""Per-channel integer thresholds: where an accumulator crosses each output level.

What follows a layer up to its activation quantizer is a chain of per-channel monotone
:class:`Step` s (affine ops of any sign, ReLU / Clip, intermediate quantizers); the chain and the
quantizer map its integer accumulator to an output level (:func:`chain_level_fn`, in float64),
and :func:`compute_thresholds` finds by bisection the smallest accumulator that reaches each
level, which is what the MVAU/VVAU thresholding compares against. A chain falls with the
accumulator in the channels where :func:`direction` is negative; the lowering flips their weight
rows (:func:`flip_input`), so that the level always rises with the accumulator.

Example:
    >>> steps = [affine([0.5, -0.5], [0.0, 1.0]), clip(0.0, 6.0, 2)]
    >>> direction(steps).tolist()
    [1.0, -1.0]
    >>> level = chain_level_fn(steps, IntType(2, False), 1.0, 0, 3, "ROUND")
    >>> level(np.array([5, 5])).tolist()
    [2, 0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from qonnx.custom_op.general.intquant import resolve_rounding_mode

from hwprune.export.dtypes import IntType


@dataclass(frozen=True, eq=False)
class Step:
    """One per-channel monotone step ``z -> f(z)`` of a chain; each row of ``p`` holds one value
    per channel. ``kind``: ``"affine"`` (``a * z + b``, ``p = (a, b)``; it falls where ``a < 0``),
    ``"clip"`` (``min(max(z, lo), hi)``, ``p = (lo, hi)``; ReLU is ``(0, inf)``) or ``"quant"``
    (an intermediate quantizer, ``clip(round(z / s), qmin, qmax) * s``, ``p = (s, qmin, qmax)``;
    ``bipolar``: ``+-s``).

    Example:
        >>> affine([2.0], [1.0])(np.array([3.0])).tolist()
        [7.0]
    """

    kind: str
    p: np.ndarray
    rounding: str = "ROUND"
    bipolar: bool = False

    def __call__(self, z: np.ndarray) -> np.ndarray:
        if self.kind == "affine":
            return self.p[0] * z + self.p[1]
        if self.kind == "clip":
            return np.minimum(np.maximum(z, self.p[0]), self.p[1])
        s = self.p[0]
        if self.bipolar:
            return np.where(z >= 0, s, -s)
        y = np.clip(z / s, self.p[1], self.p[2])
        return resolve_rounding_mode(self.rounding)(y) * s

    def with_params(self, p: np.ndarray) -> Step:
        """The same step with other per-channel parameters ``p``."""
        return Step(self.kind, np.asarray(p, dtype=np.float64), self.rounding, self.bipolar)


def affine(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> Step:
    """The step ``z -> a * z + b`` (per channel)."""
    return Step("affine", np.stack([np.asarray(a, np.float64), np.asarray(b, np.float64)]))


def clip(lo: float | np.ndarray, hi: float | np.ndarray, nch: int) -> Step:
    """The step ``z -> min(max(z, lo), hi)`` on ``nch`` channels (ReLU: ``clip(0, inf, nch)``)."""
    return Step(
        "clip", np.stack([np.broadcast_to(np.asarray(v, np.float64), (nch,)) for v in (lo, hi)])
    )


def quant_step(scale: float, qmin: int, qmax: int, rounding: str, bipolar: bool, nch: int) -> Step:
    """An intermediate quantizer as a step (its dequantized output)."""
    p = np.broadcast_to(np.array([[scale], [qmin], [qmax]], np.float64), (3, nch)).copy()
    return Step("quant", p, rounding, bipolar)


def direction(steps: Sequence[Step]) -> np.ndarray:
    """Per channel: +1 where the chain rises with its input, -1 where it falls, 0 where an affine
    step's scale is 0 (the chain is constant): the product of the affine scales' signs."""
    d = np.ones(steps[0].p.shape[1])
    for s in steps:
        if s.kind == "affine":
            d = d * np.sign(s.p[0])
    return d


def compose_input(
    steps: Sequence[Step], scale: np.ndarray, offset: np.ndarray | None
) -> list[Step]:
    """The chain read from ``x`` with ``z = scale * x + offset`` in front: folded into the first
    step, which is an affine one (``(a, b) -> (scale * a, b + a * offset)``)."""
    first = steps[0]
    assert first.kind == "affine", "a chain starts with an affine step"
    a, b = first.p
    b2 = b if offset is None else b + a * offset
    return [first.with_params(np.stack([scale * a, b2])), *steps[1:]]


def flip_input(steps: Sequence[Step], flip: np.ndarray) -> list[Step]:
    """The chain read from ``-x`` in the channels ``flip`` (their weight rows are negated)."""
    a, b = steps[0].p
    return [steps[0].with_params(np.stack([np.where(flip, -a, a), b])), *steps[1:]]


def unique_channels(steps: Sequence[Step]) -> tuple[list[Step], np.ndarray]:
    """The chain on its distinct channels only, and each channel's index among them."""
    table = np.concatenate([s.p for s in steps]).T
    uniq, inv = np.unique(table, axis=0, return_inverse=True)
    out, row = [], 0
    for s in steps:
        k = s.p.shape[0]
        out.append(s.with_params(uniq[:, row : row + k].T))
        row += k
    return out, np.asarray(inv).reshape(-1)


def chain_level_fn(
    steps: Sequence[Step], qtype: IntType, s_a: float, qmin: int, qmax: int, rounding: str
) -> Callable[[np.ndarray], np.ndarray]:
    """Map accumulators (channel last) through ``steps`` and the quantizer to output levels
    ``0..qmax-qmin``, in float64."""
    rnd = resolve_rounding_mode(rounding)

    def level(acc: np.ndarray) -> np.ndarray:
        z = acc.astype(np.float64)
        for s in steps:
            z = s(z)
        if qtype.bipolar:
            return (z >= 0).astype(np.int64)
        y = np.clip(z / s_a, qmin, qmax)
        return rnd(y).astype(np.int64) - qmin

    return level


def _level_fn(
    A: np.ndarray,
    B: np.ndarray,
    relu: bool,
    qtype: IntType,
    s_a: float,
    qmin: int,
    qmax: int,
    rounding: str,
) -> Callable[[np.ndarray], np.ndarray]:
    """:func:`chain_level_fn` of the chain ``A * acc + B`` (then ReLU if ``relu``)."""
    steps = [affine(A, B)]
    if relu:
        steps.append(clip(0.0, np.inf, np.size(A)))
    return chain_level_fn(steps, qtype, s_a, qmin, qmax, rounding)


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
