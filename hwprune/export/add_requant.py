"""An add of two integer tensors of different scales, requantized through thresholds.

``y = Quant(f(a * sa + b * sb))`` (``f``: the per-channel affine ops and ReLU between the add and
its quantizer) is computed in hardware as the integer sum ``s = a * P + b * Q`` followed by
per-channel thresholds on ``s``. :func:`add_multipliers` finds the smallest positive integers
``P``, ``Q`` for which some thresholds reproduce the float result for EVERY pair of input values
(``a``, ``b`` range over their integer types): for each output level ``k`` and each value of
``a``, the smallest ``b`` reaching ``k`` bounds ``P / Q`` from one side, so the exact ratios form
an open interval and the simplest fraction inside it (Stern-Brocot) is the answer. The
thresholds are then checked against all pairs. (The true ratio ``sa / sb`` lies in the
interval, whose ends are fractions of denominators below the number of values of ``a``, so
inputs of ``n`` bits need multipliers of about ``n + 1`` bits.)

Example:
    >>> level = lambda x: np.clip(np.floor(x / 0.5), 0, 3).astype(np.int64)
    >>> p, q, T = add_multipliers(level, range(0, 4), 0.25, range(0, 4), 0.5, 3)
    >>> (p, q), T.tolist()
    ((1, 2), [[2, 4, 6]])
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np

#: the widest multiplier (bits, unsigned) an add may use before it is refused
MAX_MUL_BITS = 16
#: the most values one input of a requantized add may take (enumerated exhaustively)
MAX_VALUES = 1 << 10


def _simplest_between(lo: Fraction, hi: Fraction | None) -> Fraction:
    """The fraction of smallest denominator (then numerator) strictly inside ``(lo, hi)``,
    ``lo >= 0`` (``hi`` None: unbounded)."""
    fl = lo.numerator // lo.denominator
    if hi is None or fl + 1 < hi:
        return Fraction(fl + 1)
    # fl <= lo < hi <= fl + 1: x = fl + 1 / y with y in (1 / (hi - fl), 1 / (lo - fl))
    inner = _simplest_between(1 / (hi - fl), None if lo == fl else 1 / (lo - fl))
    return fl + 1 / inner


def _ratio_interval(bk: np.ndarray, nb: int) -> tuple[Fraction, Fraction | None] | None:
    """Open interval of ``P / Q`` separating every level boundary; None if empty.

    ``bk[i, j]``: index of the smallest ``b`` whose pair with the i-th ``a`` reaches boundary
    ``j`` (``nb``: none does). The largest pair below the boundary, ``(i1, bk[i1] - 1)``, must
    sum lower than the smallest above it, ``(i2, bk[i2])``: ``(i1 - i2) P < (bk[i2] - bk[i1] +
    1) Q``."""
    lo, hi = Fraction(0), None
    na = bk.shape[0]
    d = np.arange(na)[:, None] - np.arange(na)[None, :]
    for j in range(bk.shape[1]):
        col = bk[:, j]
        below = col >= 1
        above = col <= nb - 1
        e = col[None, :] - col[:, None] + 1
        ok = below[:, None] & above[None, :]
        up = ok & (d > 0)
        if np.any(up):
            r = np.where(up, e / np.where(d == 0, 1, d), np.inf)
            i1, i2 = np.unravel_index(np.argmin(r), r.shape)
            f = Fraction(int(e[i1, i2]), int(d[i1, i2]))
            hi = f if hi is None else min(hi, f)
        dn = ok & (d < 0)
        if np.any(dn):
            r = np.where(dn, e / np.where(d == 0, 1, d), -np.inf)
            i1, i2 = np.unravel_index(np.argmax(r), r.shape)
            lo = max(lo, Fraction(int(e[i1, i2]), int(d[i1, i2])))
        if hi is not None and lo >= hi:
            return None
    return lo, hi


def add_multipliers(
    level: Callable[[np.ndarray], np.ndarray],
    a_vals: range,
    sa: float,
    b_vals: range,
    sb: float,
    nt: int,
) -> tuple[int, int, np.ndarray] | None:
    """Smallest ``(P, Q)`` and the thresholds ``T`` (channels x ``nt``) with
    ``#{t: a * P + b * Q >= T[c, t]} == level(a * sa + b * sb)[c]`` for every ``a``, ``b``;
    None when no ``P``, ``Q`` of at most :data:`MAX_MUL_BITS` bits does it.

    ``level`` maps float sums (channel last) to output levels, non-decreasing in the sum; the
    sums are formed in float32 as qonnx executes the add (see the module example)."""
    a = np.asarray(a_vals, dtype=np.int64)
    b = np.asarray(b_vals, dtype=np.int64)
    x = (a[:, None].astype(np.float32) * np.float32(sa)) + (
        b[None, :].astype(np.float32) * np.float32(sb)
    )
    lv = np.asarray(level(x.astype(np.float64)[:, :, None]), dtype=np.int64)
    if lv.ndim == 2:
        lv = lv[:, :, None]
    nch = lv.shape[2]
    ks = np.arange(1, nt + 1)
    # bk[i, c, k]: how many b of the i-th a stay below level k (levels rise with b)
    bk = (lv[:, :, :, None] < ks).sum(axis=1)
    interval = _ratio_interval(bk.reshape(a.size, nch * nt), b.size)
    if interval is None:
        return None
    t = _simplest_between(*interval)
    p, q = t.numerator, t.denominator
    if max(p, q) >= 1 << MAX_MUL_BITS:
        return None
    s = a[:, None] * p + b[None, :] * q
    smax = int(s.max())
    reach = lv[:, :, :, None] >= ks  # (a, b, c, k)
    T = np.where(reach, s[:, :, None, None], smax + 1).min(axis=(0, 1))
    got = (s[:, :, None, None] >= T[None, None]).sum(axis=3)
    if not np.array_equal(got, lv):
        return None
    return p, q, T.astype(np.int64)
