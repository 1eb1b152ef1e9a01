"""The folding optimizer: choose PE/SIMD (and LUT or DSP products) for every node.

Two modes:

* ``"fastest"`` - the highest frames/s whose total LUT/FF/BRAM18/DSP (with glue, DMAs and shell)
  stays under ``util_cap`` of the device, and among those the smallest design;
* ``"smallest"`` - the smallest design that reaches a given frames/s.

"Smallest" means the least normalised area ``sum_r used_r / capacity_r`` over LUT, FF, BRAM18
and DSP.

Algorithm. The throughput is set by the slowest node, so a design is a cycle budget ``T`` plus,
per node, the cheapest legal folding whose cycles are ``<= T``. Nodes that must agree (a sliding
window and the MVAU/VVAU it feeds) form one *group* whose options are enumerated jointly. Each
group's legal options are enumerated once with vectorised formulas, sorted by cycles and cached
(the search prices thousands of candidates that share layer shapes). For a budget ``T`` the
per-group minimum-area option is a prefix arg-min (area is a sum over groups, so this is
exact); fitting under the cap is monotone in ``T``, so "fastest" bisects over the distinct
cycle counts. When the minimum-area pick does not fit but the per-resource lower bounds do, an
exact branch-and-bound over each group's Pareto-optimal options decides
(:mod:`hwprune.cost.branch_bound`; a multi-resource knapsack; the bound makes it small in
practice). Tests check both modes against exhaustive enumeration.

Speed (a search prices thousands of new candidates; ``bench/cost_speed.py``): the options of
all MVAUs of a design are computed in one vectorised pass; window-bound options that another
option dominates are dropped before sorting (an exact reduction: a dropped row never changes a
pick, a bound or a branch-and-bound set); the search first brackets ``T`` with bounds computed
at every candidate budget at once (:func:`_bracket`: Lagrangian lower bounds at a few fixed
prices, the minimum-area pick as a witness), then bisects inside the bracket, deciding
feasibility with the minimum-area pick, the per-resource bounds, adaptive Lagrangian prices (a
witness or an infeasibility proof) and only then a depth-first search;
prefix arg-minima, bounds and Pareto sets are cached on the tables; the branch and bound runs
on plain Python numbers. The tables of all of a design's new MVAU groups (with or without a
window) are then built in one vectorised pass too (window options numbered across groups, the
dominance pruning on a list of pairs), and every sorted table drops the rows that their
predecessor (or one of the 14 rows before it in its group) dominates (another exact reduction).
Per design, each table is then cut to what a probe can need
(:mod:`hwprune.cost.pareto_sets`): every probe's budget is at least the slowest group's
fastest option, so the options at or below it are in every prefix and only their Pareto set on
the four resources matters, and a slower option that one of those dominates can go too (exact;
about 55% of the rows on CNV variants). Pareto sets of few options are computed for all
groups at once by comparing every pair.
``tests/test_folding.py`` holds both modes equal to exhaustive enumeration.

Example:
    >>> from hwprune.ir import build_ir
    >>> from hwprune.targets import load_target
    >>> from hwprune.cost.optimizer import fold
    >>> g = build_ir([{"op": "fc", "out": 64, "wbits": 2, "abits": 2},
    ...               {"op": "fc", "out": 10, "wbits": 2, "abits": None}], (1, 8, 8), 4)
    >>> r = fold(g, load_target("pynq-z2"), mode="fastest")
    >>> r.fits, r.node_cycles  # 4 cycles: the 64-bit port needs 4 to bring in 64 4-bit pixels
    (True, 4)
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from hwprune.cost import tables as _tables
from hwprune.cost.array_ops import _all4, _distinct
from hwprune.cost.branch_bound import _exact, _trim_mask
from hwprune.cost.fpga import FpgaCostParams, glue_half
from hwprune.cost.pareto_sets import (
    _pareto_sets,
    _reduced_all,
)
from hwprune.cost.tables import GroupTable, group_tables
from hwprune.ir import DataflowGraph
from hwprune.targets import FpgaTarget

log = logging.getLogger(__name__)

RESOURCE_NAMES = ("lut", "ff", "bram18", "dsp")


@dataclass(frozen=True)
class FoldResult:
    """Outcome of :func:`fold`.

    Attributes:
        folding: ``{node name: {"pe": .., "simd": ..}}`` for every foldable node, with the
            ``"res_type"`` (``"lut"`` or ``"dsp"``) of every MVAU/VVAU.
        node_cycles: cycles of the slowest node of the chosen design.
        fits: the design fits under the utilisation cap.
        binding: what stops a faster (mode "fastest") or any fitting (``fits=False``) design:
            ``"lut"``, ``"ff"``, ``"bram18"``, ``"dsp"``, ``"io"`` (the stream port), or None.
        meets_fps: mode "smallest" only: whether the requested frames/s is reached.
        area: normalised area of the design (sum of used / capacity).
    """

    folding: Mapping[str, Mapping[str, Any]]
    node_cycles: int
    fits: bool
    binding: str | None
    meets_fps: bool | None
    area: float


def fixed_overhead(graph: DataflowGraph, target: FpgaTarget, p: FpgaCostParams) -> np.ndarray:
    """LUT/FF/BRAM18/DSP that do not depend on folding: shell, two DMAs, the port-side glue."""
    g = glue_half(target.io_width_bits, p)
    return np.array(
        [
            target.shell_lut + 2 * target.dma_lut + 2 * g[0],
            target.shell_ff + 2 * target.dma_ff + 2 * g[1],
            target.shell_bram18 + 2 * target.dma_bram18,
            target.shell_dsp,
        ]
    )


class _Prepared:
    """Group tables combined with one target's capacity weights, concatenated so that a probe
    at a cycle budget is a handful of vectorised look-ups.

    Per table (cached on the table per weights): area of every option, prefix arg-min of the
    area and prefix minimum of each resource. Across tables: one array of each, with offsets.
    """

    def __init__(self, tables: list[GroupTable], weights: np.ndarray):
        # every probe's budget is at least the slowest group's fastest option's cycles
        lower = max(int(t.cycles[0]) for t in tables)
        tables = _reduced_all(tables, lower)
        self.tables = tables
        #: results of :func:`_fastest` per (budget, I/O cycles): a design priced again
        self.fastest_memo: dict[tuple, tuple[list[int], bool, str | None]] = {}
        self.weights = weights
        #: derived arrays cached with the prepared set (see :func:`_bracket`)
        self.memo: dict[str, Any] = {}
        wkey = self.wkey = ("w", weights.tobytes())
        self.cyc_list = [_cyc_list(t) for t in tables]
        per = [_per_weights(t, weights, wkey) for t in tables]
        self.area = [x[0] for x in per]
        sizes = [len(c) for c in self.cyc_list]
        self.offsets = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
        self.best_all = np.concatenate([x[1] + o for x, o in zip(per, self.offsets, strict=True)])
        self.minres_all = np.concatenate([x[2] for x in per])
        self.res_all = np.concatenate([t.res for t in tables])
        self.cyc_all = np.concatenate([t.cycles for t in tables])
        self.group_of = np.repeat(np.arange(len(tables)), sizes)
        self.pos = np.arange(len(self.res_all))
        self.lower = max(c[0] for c in self.cyc_list)  # fastest possible slowest node
        ts = _distinct(np.concatenate([t.cycles for t in tables]))
        self.ts = ts[ts >= self.lower]  # candidate cycle budgets

    def ks(self, T: float) -> list[int] | None:
        """Last option index with cycles <= T in every group (None if some group cannot)."""
        out = []
        for cl in self.cyc_list:
            k = bisect.bisect_right(cl, T) - 1
            if k < 0:
                return None
            out.append(k)
        return out

    def pick(self, ks: list[int]) -> tuple[list[int], np.ndarray]:
        """Minimum-area option of every group within the prefixes ``ks``, and their total."""
        g = self.best_all[self.offsets + np.asarray(ks)]
        return (g - self.offsets).tolist(), self.res_all.take(g, axis=0).sum(axis=0)

    def lower_bound(self, ks: list[int]) -> np.ndarray:
        return self.minres_all.take(self.offsets + np.asarray(ks), axis=0).sum(axis=0)

    def total(self, choice: list[int]) -> np.ndarray:
        return self.res_all.take(self.offsets + np.asarray(choice), axis=0).sum(axis=0)

    def sets(self, ks: list[int]) -> list[tuple]:
        """Per group: the Pareto-optimal options of its prefix sorted by area (stable), with
        their areas and resources as Python numbers and the smallest and largest of each
        resource, groups ordered by option count (cached on the tables per prefix and
        weights)."""
        sets = []
        todo = [g for g, k in enumerate(ks) if ("set", k, self.wkey) not in self.tables[g].memo]
        sky = dict(
            zip(todo, _pareto_sets([self.tables[g].res[: ks[g] + 1] for g in todo]), strict=True)
        )
        for g, k in enumerate(ks):
            t = self.tables[g]
            key = ("set", k, self.wkey)
            hit = t.memo.get(key)
            if hit is None:
                idx = sky[g].tolist()
                a = self.area[g][idx].tolist()
                order = sorted(range(len(idx)), key=a.__getitem__)
                ordered = [idx[i] for i in order]
                arr = t.res.take(ordered, axis=0)
                mins, maxs = tuple(arr.min(axis=0).tolist()), tuple(arr.max(axis=0).tolist())
                hit = t.memo[key] = (ordered, [a[i] for i in order], arr.tolist(), mins, maxs)
            sets.append((g, *hit))
        sets.sort(key=lambda s: len(s[1]))
        return sets


def _cyc_list(t: GroupTable) -> list[int]:
    hit = t.memo.get("cyc")
    if hit is None:
        hit = t.memo["cyc"] = t.cycles.tolist()
    return hit


def _per_weights(t: GroupTable, weights: np.ndarray, wkey: tuple) -> tuple:
    """(area, prefix arg-min of area, prefix minimum of each resource) of a table."""
    hit = t.memo.get(wkey)
    if hit is not None:
        return hit
    a = t.res @ weights
    idx = np.arange(len(a))
    run = np.minimum.accumulate(a)
    # index of the prefix minimum: last position where the running minimum was set
    is_new = np.concatenate([[True], a[1:] < run[:-1]])
    best = np.maximum.accumulate(np.where(is_new, idx, 0))
    minres = np.minimum.accumulate(t.res, axis=0)
    hit = t.memo[wkey] = (a, best, minres)
    return hit


#: (ids of the group tables, capacity weights) -> (tables kept alive, prepared); bounded LRU
_PREPARED: OrderedDict[tuple, tuple[list[GroupTable], _Prepared]] = OrderedDict()
_PREPARED_MAX = 128


def _prepared(tables: list[GroupTable], weights: np.ndarray) -> _Prepared:
    key = (tuple(id(t) for t in tables), weights.tobytes())
    hit = _PREPARED.get(key)
    if hit is not None:
        _PREPARED.move_to_end(key)
        return hit[1]
    prep = _Prepared(tables, weights)
    _PREPARED[key] = (tables, prep)  # holding the tables keeps their ids unique
    if len(_PREPARED) > _PREPARED_MAX:
        _PREPARED.popitem(last=False)
    return prep


def clear_caches() -> None:
    """Forget every cached option table and prepared table set (benchmarks of the cold path)."""
    _tables.clear_caches()
    _PREPARED.clear()


def _fits(total: np.ndarray, budget: np.ndarray) -> bool:
    """Every resource of ``total`` within ``budget`` (+1e-9), on Python numbers."""
    return all(t <= b + 1e-9 for t, b in zip(total.tolist(), budget.tolist(), strict=True))


def _feasible(prep: _Prepared, T: float, budget: np.ndarray) -> bool:
    """Whether some choice with every group's cycles <= T fits under ``budget``."""
    return _witness(prep, T, budget) is not None


def _witness(prep: _Prepared, T: float, budget: np.ndarray) -> int | None:
    """:func:`_feasible`, with the slowest node's cycles of a fitting choice found on the way
    (a witness: every budget from there on is feasible too), or None when none fits."""
    ks = prep.ks(T)
    if ks is None:
        return None
    choice, total = prep.pick(ks)
    if _fits(total, budget):
        return int(prep.cyc_all[prep.offsets + np.asarray(choice)].max())
    if not _fits(prep.lower_bound(ks), budget):
        return None
    rows: list[np.ndarray] = []
    verdict, lam = _lagrange(prep, ks, budget, total, out=rows)
    if verdict is not None:
        return int(prep.cyc_all[rows[-1]].max()) if verdict else None
    if _trimmed_out(prep, ks, budget):
        return None
    if _repaired(prep, ks, budget, out=rows):
        return int(prep.cyc_all[rows[-1]].max())
    found = _exact(prep, ks, budget, first=True, lam=lam)
    if found is None:
        return None
    return int(prep.cyc_all[prep.offsets + np.asarray(found)].max())


def _repaired(
    prep: _Prepared,
    ks: list[int],
    budget: np.ndarray,
    steps: int = 8,
    out: list[np.ndarray] | None = None,
) -> bool:
    """A quick search for a witness: from the minimum-area choice, change one group's option
    at a time to the one that leaves the least overflow (relative to the budget; ties: the
    least area added), while the overflow shrinks. True when a choice that fits is reached
    (then it is one); False says nothing. Typical case: a LUT-bound design whose
    best move is putting one layer's products on DSPs."""
    b = budget + 1e-9
    inv = 1.0 / np.maximum(b, 1e-9)
    live = prep.pos <= (prep.offsets + np.asarray(ks))[prep.group_of]
    rows = np.flatnonzero(live)
    res, gid = prep.res_all.take(rows, axis=0), prep.group_of[rows]
    area = np.concatenate([a[: k + 1] for a, k in zip(prep.area, ks, strict=True)])
    choice, total = prep.pick(ks)
    cur = prep.offsets + np.asarray(choice)  # chosen rows (indices into res_all)
    over = float((np.maximum(total - b, 0.0) * inv).sum())
    for _ in range(steps):
        delta = res - prep.res_all.take(cur, axis=0).take(
            gid, axis=0
        )  # change of the totals if row replaces its group's
        x = np.maximum(total + delta - b, 0.0) * inv
        new_over = x[:, 0] + x[:, 1] + x[:, 2] + x[:, 3]  # = x.sum(axis=1), in its order
        best = new_over.min()
        if best >= over - 1e-12:
            return False
        hit = np.flatnonzero(new_over <= best + 1e-12)
        i = hit[np.argmin(area[hit])]
        total = total + delta[i]
        cur[gid[i]] = rows[i]
        over = float(best)
        if over <= 0.0:
            ok = _fits(prep.res_all.take(cur, axis=0).sum(axis=0), budget)
            if ok and out is not None:
                out.append(cur.copy())
            return ok
    return False


def _trimmed_out(prep: _Prepared, ks: list[int], budget: np.ndarray, rounds: int = 3) -> bool:
    """:func:`_trim` on every option of the prefixes at once (no Pareto sets needed): True
    when it proves that no choice fits (a group loses every option, or the groups' smallest
    together exceed the budget). With a multiplier choice per layer most infeasible budgets
    are decided here (a LUT-bound design cannot move enough lanes onto too few DSPs)."""
    rows = np.flatnonzero(prep.pos <= (prep.offsets + np.asarray(ks))[prep.group_of])
    starts = np.concatenate([[0], np.cumsum(np.asarray(ks) + 1)[:-1]])
    ok = _trim_mask(prep.res_all.take(rows, axis=0), starts, prep.group_of[rows], budget, rounds)
    return ok is None


def _lagrange(
    prep: _Prepared,
    ks: list[int],
    budget: np.ndarray,
    total: np.ndarray,
    rounds: int = 4,
    out: list[np.ndarray] | None = None,
) -> tuple[bool | None, np.ndarray]:
    """Decide feasibility with Lagrangian relaxation when it can (None when it cannot), and
    the last prices tried.

    For prices ``lam >= 0`` on the four resources, the cheapest option of every group (within
    its prefix) at those prices gives (a) a witness when their total fits and (b) a proof of
    infeasibility when even their priced total exceeds the priced budget (no choice can be
    cheaper). Prices start at the capacity weights and rise on the resources that overflow.
    """
    b = budget + 1e-9
    bl = b.tolist()
    lam = prep.weights.copy()
    end = (prep.offsets + np.asarray(ks))[prep.group_of]
    live = prep.pos <= end
    for _ in range(rounds):
        # prices x4 (at least) on the overflowing resources, halved on the others (the
        # 4-vector arithmetic on Python numbers: the same IEEE operations)
        tl = total.tolist()
        lam = lam * np.array(
            [
                4.0 * max(t / max(c, 1e-9), 1.0) if t > c else 0.5
                for t, c in zip(tl, bl, strict=True)
            ]
        )
        v = np.where(live, prep.res_all @ lam, np.inf)
        mins = np.minimum.reduceat(v, prep.offsets)
        hit = np.flatnonzero(v == mins[prep.group_of])
        pick = hit[np.searchsorted(hit, prep.offsets)]
        total = prep.res_all.take(pick, axis=0).sum(axis=0)
        if all(t <= c for t, c in zip(total.tolist(), bl, strict=True)):
            if out is not None:
                out.append(pick)
            return True, lam
        priced = float(mins.sum())
        if priced > float(lam @ b) * (1 + 1e-9) + 1e-12:
            return False, lam
    return None, lam


def _select(
    prep: _Prepared, T: float, budget: np.ndarray
) -> tuple[list[int] | None, np.ndarray | None]:
    """Minimum-area fitting choice with every group's cycles <= T, or (None, violated LB)."""
    ks = prep.ks(T)
    if ks is None:
        return None, None
    choice, total = prep.pick(ks)
    if _fits(total, budget):
        return choice, total
    lb = prep.lower_bound(ks)
    if not _fits(lb, budget):
        return None, lb
    choice2 = _exact(prep, ks, budget)
    if choice2 is None:
        return None, total
    return choice2, prep.total(choice2)


def _binding(total: np.ndarray | None, budget: np.ndarray) -> str | None:
    if total is None:
        return None
    ratio = total / np.maximum(budget, 1e-9)
    return RESOURCE_NAMES[int(np.argmax(ratio))]


def _assemble(prep: _Prepared, choice: list[int]) -> dict[str, dict[str, int]]:
    folding: dict[str, dict[str, int]] = {}
    for t, c in zip(prep.tables, choice, strict=False):
        for name, f in t.assign(c).items():
            folding[name] = f
    return folding


def _lb_feasible(prep: _Prepared, T: float, budget: np.ndarray) -> bool:
    ks = prep.ks(T)
    return ks is not None and _fits(prep.lower_bound(ks), budget)


def _result(
    prep: _Prepared,
    choice: list[int],
    fits: bool,
    binding: str | None,
    meets: bool | None,
    fixed: np.ndarray,
    weights: np.ndarray,
) -> FoldResult:
    total = sum(prep.tables[g].res[c] for g, c in enumerate(choice))
    node_cyc = max(prep.cyc_list[g][c] for g, c in enumerate(choice))
    return FoldResult(
        _assemble(prep, choice),
        int(node_cyc),
        fits,
        binding,
        meets,
        float((total + fixed) @ weights),
    )


def _bisect(ts: np.ndarray, lo: int, hi: int, test: Any) -> int:
    """The first index in ``[lo, hi]`` whose budget ``ts[i]`` passes the monotone ``test``
    (``ts[hi]`` is known to pass). ``test(t)`` returns None (fails) or the index of a budget
    at most ``t`` known to pass (a witness's), which narrows the search further."""
    while lo < hi:
        mid = (lo + hi) // 2
        at = test(float(ts[mid]))
        if at is None:
            lo = mid + 1
        else:
            hi = max(lo, min(mid, at))
    return hi


#: price directions of the Lagrangian bounds that :func:`_bracket` tries at every budget at
#: once (times the capacity weights): LUTs alone, all four resources, and LUTs mixed with DSPs
#: (products on LUTs or on DSPs) or with BRAM18 (weights in LUTRAM or BRAM)
_DIRECTIONS = np.array(
    [np.eye(4)[0], np.ones(4)]
    + [np.eye(4)[0] + a * np.eye(4)[3] for a in (0.25, 0.5, 1, 2, 4)]
    + [np.eye(4)[0] + np.eye(4)[2]]
).T


def _bracket(prep: _Prepared, budget: np.ndarray) -> tuple[int, int | None]:
    """``(lo, hi)``: every budget ``ts[i]`` with ``i < lo`` is proven infeasible and ``ts[hi]``
    feasible (``hi`` None when no cheap witness is found), all budgets tested at once.

    Infeasibility: for prices ``lam >= 0`` (:data:`_DIRECTIONS`), the cheapest priced option
    of every group within its prefix sums to more than the priced budget (with a margin, so
    that nothing feasible is ever ruled out). Feasibility: the minimum-area pick of a budget
    fits (its slowest group's cycles are then a feasible budget)."""
    hit = prep.memo.get("bracket")
    if hit is None:
        ts = prep.ts
        gi = (
            np.stack([np.searchsorted(t.cycles, ts, side="right") - 1 for t in prep.tables])
            + prep.offsets[:, None]
        )  # groups x budgets: last row within each budget
        lam = prep.weights[:, None] * _DIRECTIONS  # 4 x K
        v = lam.T @ prep.res_all.T  # K x rows, >= 0
        # prefix minima within each group in one pass: every group's values shifted below
        # all earlier groups' (the shift is undone after; an error of ~1e-15 of the values,
        # well inside the margin below)
        big = 2.0 * float(v.max()) + 1.0
        shift = prep.group_of * big
        bounds = np.minimum.accumulate(v - shift, axis=1) + shift
        priced = bounds[:, gi].sum(axis=1)  # K x budgets
        picks = prep.best_all[gi]  # groups x budgets
        totals = prep.res_all.take(picks, axis=0).sum(axis=0)  # budgets x 4
        slowest = prep.cyc_all[picks].max(axis=0)
        hit = prep.memo["bracket"] = (lam, priced, totals, slowest)
    lam, priced, totals, slowest = hit
    b = budget + 1e-9
    lim = (b @ lam) * (1 + 1e-6) + 1e-9
    ok = (priced <= lim[:, None]).all(axis=0)
    lo = int(np.argmax(ok)) if ok.any() else len(prep.ts)
    fit = _all4(totals <= b)
    if not fit.any():
        return lo, None
    hi = int(np.searchsorted(prep.ts, slowest[fit].min()))
    return min(lo, hi), hi


def _fastest(prep: _Prepared, budget: np.ndarray, io: int) -> tuple[list[int], bool, str | None]:
    """Mode "fastest": the choice, whether it fits and what binds."""
    ts = prep.ts

    def at(t: float) -> int | None:  # a feasible budget at most t (a witness's), or None
        w = _witness(prep, t, budget)
        return None if w is None else int(np.searchsorted(ts, w))

    lo, top = _bracket(prep, budget)
    if top is None:
        top = at(float(ts[-1])) if lo < len(ts) else None
    if top is None:  # even the smallest design does not fit
        ks = prep.ks(float(ts[-1]))
        assert ks is not None
        small, total = prep.pick(ks)
        return small, False, _binding(total, budget)
    # feasibility is monotone in the budget: bisect between the proven bounds
    if lo < top:
        first = at(float(ts[lo]))
        hi = lo if first is not None else _bisect(ts, lo + 1, top, at)
    else:
        hi = top
    t_star = int(ts[hi])
    choice, _ = _select(prep, float(max(t_star, io)), budget)
    assert choice is not None
    if t_star < io:
        binding: str | None = "io"
    elif hi == 0:
        binding = None  # fully parallel: nothing binds
    else:
        ks = prep.ks(float(ts[hi - 1]))
        assert ks is not None
        lb = prep.lower_bound(ks)
        binding = _binding(lb if not _fits(lb, budget) else prep.pick(ks)[1], budget)
    return choice, True, binding


def fold(
    graph: DataflowGraph,
    target: FpgaTarget,
    mode: str = "fastest",
    fps: float | None = None,
    clock_mhz: float | None = None,
    util_cap: float | None = None,
    params: FpgaCostParams | None = None,
) -> FoldResult:
    """Choose the folding of ``graph`` for ``target``.

    Args:
        graph: the dataflow graph (user-fixed PE/SIMD in ``graph.fixed`` are kept).
        target: an :class:`~hwprune.targets.FpgaTarget`.
        mode: ``"fastest"`` (highest fps under the cap) or ``"smallest"`` (least area with
            at least ``fps`` frames/s).
        fps: required frames/s for ``"smallest"``.
        clock_mhz: fabric clock (default: the target's).
        util_cap: fraction of each resource usable (default: the target's).
        params: cost-model constants.

    Example:
        >>> from hwprune.ir import build_ir
        >>> from hwprune.targets import load_target
        >>> g = build_ir([{"op": "fc", "out": 64, "wbits": 2, "abits": 2},
        ...               {"op": "fc", "out": 10, "wbits": 2, "abits": None}], (1, 8, 8), 4)
        >>> r = fold(g, load_target("pynq-z2"), mode="smallest", fps=1e5)
        >>> r.meets_fps, r.node_cycles <= 1e8 / 1e5
        (True, True)
    """
    p = params or FpgaCostParams.for_target(target)
    clock = float(clock_mhz or target.clock_mhz) * 1e6
    cap = float(util_cap if util_cap is not None else target.util_cap)
    capacity = np.array([target.lut, target.ff, target.bram18, max(target.dsp, 1)], dtype=float)
    weights = 1.0 / capacity
    fixed = fixed_overhead(graph, target, p)
    budget = capacity * cap - fixed
    if target.dsp == 0:
        budget[3] = 0.0
    prep = _prepared(group_tables(graph, p), weights)
    io = max(  # the host link: stream port width per cycle, or a UART's baud rate
        target.link_cycles(graph.input_frame_bits()),
        target.link_cycles(graph.output_frame_bits()),
    )

    def result(
        choice: list[int], fits: bool, binding: str | None, meets: bool | None
    ) -> FoldResult:
        return _result(prep, choice, fits, binding, meets, fixed, weights)

    def fastest() -> FoldResult:
        key = (budget.tobytes(), io)
        hit = prep.fastest_memo.get(key)
        if hit is None:
            hit = prep.fastest_memo[key] = _fastest(prep, budget, io)
        choice, fits, binding = hit
        return result(list(choice), fits, binding, None)

    if mode == "fastest":
        return fastest()
    if mode != "smallest":
        raise ValueError(f"unknown folding mode {mode!r}")
    if not fps or fps <= 0:
        raise ValueError("mode 'smallest' needs fps > 0")
    t_target = math.floor(clock / fps - p.frame_overhead_cycles)
    if t_target < max(prep.lower, io):
        r = fastest()
        return replace(r, meets_fps=False)
    ks = prep.ks(float(t_target))
    assert ks is not None
    choice, total = prep.pick(ks)
    if _fits(total, budget):
        return result(choice, True, None, True)
    choice2, viol = _select(prep, float(t_target), budget)
    if choice2 is not None:
        return result(choice2, True, None, True)
    return result(choice, False, _binding(viol if viol is not None else total, budget), True)
