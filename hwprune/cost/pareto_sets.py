"""Pareto sets of folding options, and each design's cut of the option tables.

The folding optimizer (:mod:`hwprune.cost.optimizer`) needs, per group, the options that no
other one dominates on the four resources (LUT, FF, BRAM18, DSP): within a prefix of a table for
its branch and bound, and among the options every probe of a design sees, to cut the tables
(:func:`_reduced_all`). Both are exact: the same indices, in the same order, as the plain
head-by-head elimination (:func:`_skyline`).

Example:
    >>> import numpy as np
    >>> _skyline(np.array([[2.0, 1, 0, 0], [1, 2, 0, 0], [2, 2, 0, 0], [1, 2, 0, 0]])).tolist()
    [1, 0]
"""

from __future__ import annotations

import numpy as np

from hwprune.cost import tables as _tables
from hwprune.cost.array_ops import _all4, _any4
from hwprune.cost.tables import GroupTable


def _reduced_all(tables: list[GroupTable], lower: int) -> list[GroupTable]:
    """Each table less the options that no probe at a cycle budget ``>= lower`` can need.

    Every option with at most ``lower`` cycles is in every prefix the search looks at, so of
    those only the Pareto-optimal ones on the four resources are kept (one per duplicate: the
    first), and a slower option that one of them dominates (no more of any resource) is
    dropped too. An exact reduction: a dropped option has, in every prefix that holds it, a
    kept one with no more of anything that comes first in table order, so no prefix arg-min,
    bound, Pareto set, Lagrangian pick, greedy repair step or trimming verdict changes, and
    the cycle counts that remain are those where feasibility can change. (Cached on each
    table per ``lower``; on CNV variants about 55% of the rows go.)"""
    key = ("reduced", lower)
    todo = [t for t in tables if key not in t.memo]
    ks = [int(np.searchsorted(t.cycles, lower, side="right")) for t in todo]
    skies = _pareto_sets([t.res[:k] for t, k in zip(todo, ks, strict=True)], lex=False)
    for t, k, sky in zip(todo, ks, skies, strict=True):
        above = np.arange(k, len(t.cycles))
        if len(above) and len(sky):
            q = t.res.take(sky, axis=0)
            dominated = _all4(t.res[k:, None, :] >= q[None, :, :]).any(axis=1)
            above = above[~dominated]
        if len(sky) + len(above) == len(t.cycles):
            t.memo[key] = t
        else:
            idx = np.concatenate([sky, above])
            t.memo[key] = GroupTable(
                t.names, t.cycles[idx], t.res.take(idx, axis=0), t.values.take(idx, axis=0), t.keys
            )
    out = []
    for t in tables:
        hit = t.memo[key]
        if hit.names != t.names:  # the table was relabelled (a shape shared by several designs)
            hit = _tables._relabel(hit, t.names)
        out.append(hit)
    return out


def _reduced(t: GroupTable, lower: int) -> GroupTable:
    """:func:`_reduced_all` of one table."""
    return _reduced_all([t], lower)[0]


def _pareto_sets(points: list[np.ndarray], lex: bool = True) -> list[np.ndarray]:
    """:func:`_skyline` of each point set (the same indices; in lexicographic order of the
    points, or with ``lex`` False in increasing order). Sets of up to :data:`_FEW` points are
    done together, a few of similar sizes at a time, by comparing every pair of points of a
    set at once (of duplicates the first one stays, as in :func:`_skyline`)."""
    out: list[np.ndarray] = [np.arange(0)] * len(points)
    small = []
    for i, x in enumerate(points):
        if len(x) <= 1:
            out[i] = np.arange(len(x))
        elif len(x) > _FEW:
            sky = _skyline(x)
            out[i] = sky if lex else np.sort(sky)
        else:
            small.append(i)
    small.sort(key=lambda i: len(points[i]))
    while small:  # sets of similar sizes together, up to _FEW**2 pairs of points at a time
        count = 1
        while count < len(small) and (count + 1) * len(points[small[count]]) ** 2 <= _FEW**2:
            count += 1
        batch, small = small[:count], small[count:]
        for i, keep in zip(batch, _pairwise_pareto([points[i] for i in batch], lex), strict=True):
            out[i] = keep
    return out


def _pairwise_pareto(points: list[np.ndarray], lex: bool) -> list[np.ndarray]:
    """:func:`_pareto_sets` of a few small sets by comparing every pair of points of a set at
    once (the sets padded to the largest with points that dominate nothing)."""
    m = max(len(x) for x in points)
    pts = np.full((len(points), m, 4), np.inf)
    for g, x in enumerate(points):
        pts[g, : len(x)] = x
    le = pts[:, :, None, 0] <= pts[:, None, :, 0]  # le[g, i, j]: point i <= point j
    for c in (1, 2, 3):
        le &= pts[:, :, None, c] <= pts[:, None, :, c]
    # j goes when some other i is <= it and not equal to it, or equal and before it
    gone = np.any(le & (~le.transpose(0, 2, 1) | _BEFORE[:m, :m]), axis=1)
    out = []
    for g, x in enumerate(points):
        keep = np.flatnonzero(~gone[g, : len(x)])
        if lex:
            keep = keep[np.lexsort(x[keep].T[::-1])]
        out.append(keep)
    return out


def _undominated_set(points: np.ndarray) -> np.ndarray:
    """The indices of :func:`_skyline`, in increasing order."""
    return _pareto_sets([points], lex=False)[0]


#: Pareto sets of at most this many points: by comparing all pairs (``_BEFORE[i, j]``: i < j)
_FEW = 96
_BEFORE = np.triu(np.ones((_FEW, _FEW), dtype=bool), k=1)


def _skyline(points: np.ndarray) -> np.ndarray:
    """Indices of the points no other point dominates (<= in every column), one per duplicate.

    Lexicographic order puts a dominator before what it dominates, so the first remaining point
    is always non-dominated; everything it dominates is dropped at once (vectorised)."""
    order = np.lexsort(points.T[::-1])
    pts, idx = points.take(order, axis=0), order
    keep: list[int] = []
    while idx.size:
        keep.append(int(idx[0]))
        alive = _any4(pts < pts[0])  # not dominated by the head (nor equal to it)
        pts, idx = pts.compress(alive, axis=0), idx[alive]
    return np.asarray(keep, dtype=np.int64)
