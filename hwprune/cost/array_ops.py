"""Array idioms of the folding code (:mod:`hwprune.cost.tables`, :mod:`hwprune.cost.optimizer`):
the same results as the plain numpy calls, faster on the arrays a design's option tables hold
(``bench/cost_speed.py`` times each against the plain call).

Example:
    >>> import numpy as np
    >>> _all4(np.array([[1.0, 2, 3, 4]]) <= np.array([1.0, 2, 3, 5])).tolist()
    [True]
"""

from __future__ import annotations

import numpy as np


def _all4(b: np.ndarray) -> np.ndarray:
    """``b.all(axis=-1)`` of a boolean array whose last axis has length 4 (a comparison of
    resource rows): each row's four bytes read as one 32-bit word (all True: 0x01010101), as
    numpy's reduction over a length-4 axis is several times slower.

    Example:
        >>> _all4(np.array([[1.0, 2, 3, 4], [1, 2, 3, 5]]) <= np.array([1.0, 2, 3, 4])).tolist()
        [True, False]
    """
    return np.ascontiguousarray(b).view(np.uint32)[..., 0] == 0x01010101


def _any4(b: np.ndarray) -> np.ndarray:
    """``b.any(axis=-1)`` of a boolean array whose last axis has length 4 (see :func:`_all4`).

    Example:
        >>> _any4(np.array([[1.0, 2, 3, 4], [1, 2, 3, 5]]) > np.array([1.0, 2, 3, 4])).tolist()
        [False, True]
    """
    return np.ascontiguousarray(b).view(np.uint32)[..., 0] != 0


def _dense_rank(x: np.ndarray) -> tuple[int, np.ndarray]:
    """How many distinct values ``x`` holds, and each entry's rank among them (what
    ``np.unique(x, return_inverse=True)`` gives, by one unstable argsort).

    Example:
        >>> n, r = _dense_rank(np.array([2.5, 1.0, 2.5, 0.5]))
        >>> n, r.tolist()
        (3, [2, 1, 2, 0])
    """
    n = len(x)
    if not n:
        return 0, np.zeros(0, dtype=np.int64)
    o = np.argsort(x)
    sx = x[o]
    step = np.empty(n, dtype=np.int64)
    step[0] = 0
    np.not_equal(sx[1:], sx[:-1], out=step[1:])
    np.cumsum(step, out=step)
    rank = np.empty(n, dtype=np.int64)
    rank[o] = step
    return int(step[-1]) + 1, rank


def _span(ranges: list[tuple[int, int]]) -> slice | np.ndarray:
    """The positions of the ``[a, b)`` ranges in order: a slice when they are contiguous (the
    usual case: :func:`group_tables` prices each kind of group in one run), else an index.

    Example:
        >>> _span([(0, 3), (3, 5)]), _span([(0, 2), (4, 5)]).tolist()
        (slice(0, 5, None), [0, 1, 4])
    """
    if all(b == a2 for (_, b), (a2, _) in zip(ranges, ranges[1:], strict=False)):
        return slice(ranges[0][0], ranges[-1][1])
    return np.concatenate([np.arange(a, b) for a, b in ranges])


def _distinct(x: np.ndarray) -> np.ndarray:
    """The distinct values of ``x`` in increasing order (:func:`numpy.unique` without its
    overhead; no NaN).

    Example:
        >>> _distinct(np.array([3, 1, 3, 2])).tolist()
        [1, 2, 3]
    """
    s = np.sort(x)
    if len(s) < 2:
        return s
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]
