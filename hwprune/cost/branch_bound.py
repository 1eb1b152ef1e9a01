"""The exact search of the folding optimizer (:mod:`hwprune.cost.optimizer`) at one cycle budget:
a branch and bound over each group's Pareto-optimal options for the minimum-area choice that
fits under a resource budget (a multi-resource knapsack), or for any choice that fits.

The optimizer hands it, per group, the options within the budget's prefix (its
:meth:`~hwprune.cost.optimizer._Prepared.sets`); :func:`_trim` first leaves out the options
that cannot fit whatever the other groups take.

Example:
    >>> import numpy as np
    >>> sets = [(0, [0, 1], [0.1, 0.2], [[5.0, 0, 0, 0], [1.0, 0, 0, 0]], (1.0, 0, 0, 0),
    ...          (5.0, 0, 0, 0))]
    >>> [x[1] for x in _trim(sets, np.array([2.0, 1, 1, 1]))]
    [[1]]
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from hwprune.cost.array_ops import _all4

if TYPE_CHECKING:
    from hwprune.cost.optimizer import _Prepared

log = logging.getLogger(__name__)

#: visits after which the branch and bound stops (and says so)
_BB_NODE_LIMIT = 200_000


def _exact(
    prep: _Prepared,
    ks: list[int],
    budget: np.ndarray,
    first: bool = False,
    lam: np.ndarray | None = None,
) -> list[int] | None:
    """Minimum-area choice with every resource under ``budget`` (branch and bound).

    Depth-first over the groups (fewest options first), each group's Pareto-optimal options in
    order of area; a branch is cut when its area cannot beat the best by more than 1e-12 or a
    resource cannot stay under the budget. Ties go to the first choice found in that order.
    With ``first``, stops at the first feasible choice (a feasibility test), trying each
    group's options in order of priced resources. With prices ``lam`` (>= 0), a branch is also
    cut when its priced resources plus the cheapest priced completion exceed the priced budget
    (it cannot fit; the result is unchanged). Options that cannot fit whatever the other groups
    take (:func:`_trim`) are left out first; the per-resource and priced bounds use what is
    left, the area bound all Pareto-optimal options (so ties are broken as without them)."""
    full = prep.sets(ks)
    sets = _trim(full, budget)
    if sets is None:
        return None
    n = len(sets)
    if lam is None:  # no prices: every option's priced resources are 0
        priced = [[0.0] * len(x[3]) for x in sets]
    else:
        lp = lam.tolist()
        priced = [
            [lp[0] * r[0] + lp[1] * r[1] + lp[2] * r[2] + lp[3] * r[3] for r in x[3]] for x in sets
        ]
    suf_p = [0.0] * (n + 1)
    for j in range(n - 1, -1, -1):
        suf_p[j] = suf_p[j + 1] + min(priced[j])
    pb = float(np.dot(lam, budget + 1e-9)) * (1 + 1e-9) + 1e-12 if lam is not None else math.inf
    suf_res = [[0.0] * 4 for _ in range(n + 1)]
    suf_area = [0.0] * (n + 1)
    for j in range(n - 1, -1, -1):
        m = sets[j][4]
        s = suf_res[j + 1]
        suf_res[j] = [s[0] + m[0], s[1] + m[1], s[2] + m[2], s[3] + m[3]]
        suf_area[j] = suf_area[j + 1] + full[j][2][0]  # sorted by area
    b0, b1, b2, b3 = (budget + 1e-9).tolist()
    best: list[Any] = [math.inf, None]
    visits = [0]
    chosen = [0] * n
    opts = [list(zip(x[1], x[2], x[3], priced[j], strict=True)) for j, x in enumerate(sets)]
    if first and lam is not None:  # likeliest to fit first: cheapest at the prices
        opts = [sorted(o, key=lambda x: x[3]) for o in opts]

    def dfs(j: int, u0: float, u1: float, u2: float, u3: float, area: float, pu: float) -> bool:
        if visits[0] > _BB_NODE_LIMIT:
            return True
        visits[0] += 1
        if j == n:
            if area < best[0]:
                best[0], best[1] = area, list(chosen)
            return first
        sa = suf_area[j + 1]
        sp = suf_p[j + 1]
        s0, s1, s2, s3 = suf_res[j + 1]
        leaf = j == n - 1
        for i, ai, r, pi in opts[j]:
            a = area + ai
            if a + sa >= best[0] - 1e-12:
                break  # sorted by area: the rest are no better
            v0 = u0 + r[0]
            v1 = u1 + r[1]
            v2 = u2 + r[2]
            v3 = u3 + r[3]
            if v0 + s0 > b0 or v1 + s1 > b1 or v2 + s2 > b2 or v3 + s3 > b3:
                continue
            if pu + pi + sp > pb:
                continue
            chosen[j] = i
            if leaf:  # the last group: the visit of the complete choice, done here
                if visits[0] > _BB_NODE_LIMIT:
                    return True
                visits[0] += 1
                if a < best[0]:
                    best[0], best[1] = a, list(chosen)
                if first:
                    return True
            elif dfs(j + 1, v0, v1, v2, v3, a, pu + pi):
                return True
        return False

    dfs(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if visits[0] > _BB_NODE_LIMIT:
        log.warning("folding search hit its node limit; the result may not be optimal")
    if best[1] is None:
        return None
    choice = [0] * n
    for j, grp in enumerate(sets):
        choice[grp[0]] = best[1][j]
    return choice


def _trim_mask(
    res: np.ndarray, starts: np.ndarray, gid: np.ndarray, budget: np.ndarray, rounds: int
) -> np.ndarray | None:
    """The options (rows of ``res``, grouped: group ``gid[i]``, groups starting at ``starts``)
    whose resources plus the other groups' smallest stay within ``budget`` (with a margin, so
    that nothing the branch and bound would accept is dropped), refined for a few rounds as
    the other groups' smallest grow. None when it proves that no choice fits (the groups'
    smallest together exceed the budget, or a group lost every option)."""
    b = budget + 1e-9
    lim0 = b + 1e-9 * np.maximum(1.0, np.abs(b))
    ok = np.ones(len(res), dtype=bool)
    n = len(res)
    for _ in range(rounds):
        mins = np.minimum.reduceat(np.where(ok[:, None], res, np.inf), starts, axis=0)
        tot = mins.sum(axis=0)
        if not (tot <= lim0).all():  # an empty group gives inf
            return None
        ok &= _all4(res <= (lim0 - tot + mins).take(gid, axis=0))
        m = int(ok.sum())
        if m == n:
            break
        n = m
    return ok


def _trim(sets: list[tuple], budget: np.ndarray, rounds: int = 3) -> list[tuple] | None:
    """:meth:`_Prepared.sets` less the options that cannot be part of any choice under
    ``budget``: an option whose resource plus the other groups' smallest exceeds the budget
    (with a margin, so that nothing the branch and bound would accept is dropped). A few
    rounds, as the other groups' smallest grow; None when a group has no option left or the
    smallest ones together exceed the budget. Order within and between groups is kept (a
    trimmed group's smallest resources are recomputed).

    The sets hold a few dozen options, so this runs on their Python numbers: the arithmetic
    of :func:`_trim_mask`, in the same order (the same options stay)."""
    b = budget + 1e-9
    l0, l1, l2, l3 = (b + 1e-9 * np.maximum(1.0, np.abs(b))).tolist()
    keep: list[Any] = [None] * len(sets)  # per group: its options still in (None: all)
    mins = [x[4] for x in sets]
    for _ in range(rounds):
        t0 = t1 = t2 = t3 = 0.0
        for m in mins:
            t0 += m[0]
            t1 += m[1]
            t2 += m[2]
            t3 += m[3]
        if not (t0 <= l0 and t1 <= l1 and t2 <= l2 and t3 <= l3):  # an empty group: inf
            return None
        changed = False
        for g, x in enumerate(sets):
            m = mins[g]
            c0, c1, c2, c3 = l0 - t0 + m[0], l1 - t1 + m[1], l2 - t2 + m[2], l3 - t3 + m[3]
            top = x[5]  # the largest of each resource: when within, every option stays
            if c0 >= top[0] and c1 >= top[1] and c2 >= top[2] and c3 >= top[3]:
                continue
            r = x[3]
            k = range(len(r)) if keep[g] is None else keep[g]
            new = [
                i for i in k if (q := r[i])[0] <= c0 and q[1] <= c1 and q[2] <= c2 and q[3] <= c3
            ]
            if len(new) < len(k):
                changed = True
                keep[g] = new
                mins[g] = (
                    tuple(min(r[i][c] for i in new) for c in range(4)) if new else (math.inf,) * 4
                )
        if not changed:
            break
    out = []
    for x, k, m in zip(sets, keep, mins, strict=True):
        if k is None:
            out.append(x)
        elif not k:
            return None
        else:
            out.append(
                (x[0], [x[1][i] for i in k], [x[2][i] for i in k], [x[3][i] for i in k], m, x[5])
            )
    return out
