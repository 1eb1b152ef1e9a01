"""Frozen reference: the folding optimizer as it was before the speed work (2026-11-22).

Kept verbatim (minus FINN's SetFolding baseline) so that tests can check that the fast
:mod:`hwprune.cost.folding` gives exactly the same folding, resources and frames/s on random
designs. Not part of the package; do not optimise this file.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from hwprune.cost.fpga import (
    _RAMB18,
    _RAMB36,
    FpgaCostParams,
    _dsp_per_lane,
    _lane_units,
    _uses_dsp,
    glue_half,
    io_cycles,
    labelselect_cost,
    maxpool_cost,
    swg_cost,
    thresholding_cost,
)
from hwprune.ir import DataflowGraph, divisors, n_thresholds

log = logging.getLogger(__name__)

RESOURCE_NAMES = ("lut", "ff", "bram18", "dsp")
_BB_NODE_LIMIT = 200_000


@dataclass(frozen=True, eq=False)
class GroupTable:
    """The Pareto-optimal legal foldings of one group of nodes (no other option has fewer or
    equal cycles and resources), sorted by cycles (ties: by LUT).

    Attributes:
        names: the group's node names.
        cycles: cycles per frame of each option (the group's slowest node).
        res: ``(m, 4)`` LUT, FF, BRAM18, DSP of each option (including its stream glue).
        values: ``(m, len(keys))`` folding values of each option.
        keys: ``(node name, "pe" | "simd")`` of each column of ``values``.
    """

    names: tuple[str, ...]
    cycles: np.ndarray
    res: np.ndarray
    values: np.ndarray
    keys: tuple[tuple[str, str], ...]

    def assign(self, i: int) -> dict[str, dict[str, int]]:
        """Folding of option ``i``: ``{node name: {"pe": .., "simd": ..}}``."""
        out: dict[str, dict[str, int]] = {}
        for (name, key), v in zip(self.keys, self.values[i].tolist(), strict=False):
            out.setdefault(name, {})[key] = int(v)
        return out


@dataclass(frozen=True)
class FoldResult:
    """Outcome of :func:`fold`.

    Attributes:
        folding: ``{node name: {"pe": .., "simd": ..}}`` for every foldable node.
        node_cycles: cycles of the slowest node of the chosen design.
        fits: the design fits under the utilisation cap.
        binding: what stops a faster (mode "fastest") or any fitting (``fits=False``) design:
            ``"lut"``, ``"ff"``, ``"bram18"``, ``"dsp"``, ``"io"`` (the stream port), or None.
        meets_fps: mode "smallest" only: whether the requested frames/s is reached.
        area: normalised area of the design (sum of used / capacity).
    """

    folding: Mapping[str, Mapping[str, int]]
    node_cycles: int
    fits: bool
    binding: str | None
    meets_fps: bool | None
    area: float


def _glue(width: int, p: FpgaCostParams) -> tuple[float, float]:
    return glue_half(width, p)


def _cdiv(a, b):
    return -(-a // b)


def _bram18_vec(width: np.ndarray, depth: np.ndarray, granularity: str) -> np.ndarray:
    """Vectorised :func:`hwprune.cost.fpga.bram18_for` (same aspect rule)."""
    table, unit = (_RAMB36, 2.0) if granularity == "ramb36" else (_RAMB18, 1.0)
    aw, ad = table[-1]
    out = unit * _cdiv(width, aw) * _cdiv(depth, ad)
    for aw, ad in reversed(table):
        out = np.where(ad >= depth, unit * _cdiv(width, aw), out)
    return np.where((width <= 0) | (depth <= 0), 0.0, out.astype(float))


def _memory_vec(width, depth, style: str, p: FpgaCostParams, granularity: str = "ramb36"):
    """Vectorised :func:`hwprune.cost.fpga.memory_cost`: (LUT, BRAM18) arrays."""
    if style == "distributed":
        lutram = np.ones(width.shape, dtype=bool)
    elif style == "block":
        lutram = np.zeros(width.shape, dtype=bool)
    else:
        lutram = (depth <= 16) | (width * depth <= p.lutram_max_bits)
    lut = np.where(lutram, width * _cdiv(depth, 64), 0).astype(float)
    bram = np.where(lutram, 0.0, _bram18_vec(width, depth, granularity))
    return lut, bram


def _mac_opts(n, p: FpgaCostParams, pes, simds, vvau: bool):
    """Every legal (pe, simd) of an MVAU/VVAU: arrays cycles, res (m x 4), pe, simd.

    Mirrors :func:`hwprune.cost.fpga._mac_cost` plus the node's two stream-glue halves
    (a test holds the two equal)."""
    pe_g, simd_g = np.meshgrid(
        np.asarray(pes, dtype=np.int64), np.asarray(simds, dtype=np.int64), indexing="ij"
    )
    pe, simd = pe_g.ravel(), simd_g.ravel()
    if vvau:
        keep = (simd == 1) | (pe == n.channels)
        pe, simd = pe[keep], simd[keep]
        depth = (n.channels // pe) * ((n.kernel * n.kernel) // simd)
        tmem = n.channels // pe
        in_w = pe * simd * n.in_bits
    else:
        depth = (n.mh // pe) * (n.mw // simd)
        tmem = n.mh // pe
        in_w = simd * n.in_bits
    cycles = depth * n.n_vec
    lanes = pe * simd
    dsp_lanes = _uses_dsp(n.wbits, n.in_bits, n.res_type, p)
    units = 0 if dsp_lanes else _lane_units(n.wbits, n.wkind, n.in_bits, n.in_kind)
    nthr = n_thresholds(n.out_bits, n.out_kind)
    lut = p.mvau_lut + p.lane_lut * units * lanes + p.pe_lut * (pe * n.acc_bits * (1 + nthr))
    ff = p.mvau_ff + p.lane_ff * units * lanes + p.pe_ff * pe * n.acc_bits
    dsp = (
        (lanes * _dsp_per_lane(n.wbits, n.in_bits)).astype(float)
        if dsp_lanes
        else (np.zeros(lanes.shape))
    )
    wwidth = pe * simd * n.wbits
    if p.weight_layout == "per_pe":
        wl, wb = _memory_vec(wwidth // pe, depth, n.mem_style, p, "ramb18")
        wl, wb = wl * pe, wb * pe
    else:
        wl, wb = _memory_vec(wwidth, depth, n.mem_style, p)
    lut = lut + wl
    bram = wb
    if nthr:
        tw = pe * nthr * n.acc_bits
        small = (tw * tmem <= p.thr_lutram_max_bits) | (tmem <= 64)  # as threshold_memory
        tl = np.where(small, tw * _cdiv(tmem, 64), 0).astype(float)
        tb = np.where(small, 0.0, _bram18_vec(tw, tmem, "ramb36"))
        lut = lut + tl
        bram = bram + tb
    out_w = pe * n.obits
    lut = (
        lut
        + (p.glue_lut / 2 + p.glue_lut_per_bit * in_w)
        + (p.glue_lut / 2 + p.glue_lut_per_bit * out_w)
    )
    ff = (
        ff
        + (p.glue_ff / 2 + p.glue_ff_per_bit * in_w)
        + (p.glue_ff / 2 + p.glue_ff_per_bit * out_w)
    )
    res = np.stack([lut, ff, bram, dsp], axis=1).astype(float)
    return cycles.astype(np.int64), res, pe, simd


@lru_cache(maxsize=4096)
def _swg_opt(n, simd: int, p: FpgaCostParams) -> tuple:
    s = replace(n, simd=simd)
    c = swg_cost(s, p)
    gl, gf = _glue(simd * n.bits, p)
    return (c.cycles, c.lut + 2 * gl, c.ff + 2 * gf, c.bram18, c.dsp)


def _fix(values, fixed: Mapping[str, int] | None, key: str):
    if fixed and key in fixed:
        return (fixed[key],)
    return values


def _table(names, cycles, res, values, keys) -> GroupTable:
    order = np.lexsort((res[:, 0], cycles))
    return GroupTable(tuple(names), cycles[order], res[order], values[order], tuple(keys))


@lru_cache(maxsize=4096)
def _group_table(nodes: tuple, fixed: tuple, p: FpgaCostParams) -> GroupTable:
    """Enumerate and cache the legal options of one group (nodes given unfolded)."""
    fx = {name: dict(items) for name, items in fixed}
    names = [x.name for x in nodes]
    if len(nodes) == 2:  # sliding window + MVAU / VVAU
        swg, mac = nodes
        fm = fx.get(mac.name)
        if mac.op == "VVAU":
            pes = _fix(divisors(mac.channels), fm, "pe")
            simds = _fix(divisors(mac.kernel * mac.kernel), fm, "simd")
            cyc, res, pe, simd = _mac_opts(mac, p, pes, simds, True)
            sw = {int(x): _swg_opt(swg, int(x), p) for x in set(pe.tolist())}
            s_cyc = np.array([sw[int(x)][0] for x in pe], dtype=np.int64)
            s_res = np.array([sw[int(x)][1:5] for x in pe], dtype=float).reshape(-1, 4)
            values = np.stack([pe, pe, simd], axis=1)
            return _table(
                names,
                np.maximum(cyc, s_cyc),
                res + s_res,
                values,
                [(swg.name, "simd"), (mac.name, "pe"), (mac.name, "simd")],
            )
        pes = _fix(divisors(mac.mh), fm, "pe")
        simds = _fix(divisors(mac.mw), fm, "simd")
        cyc, res, pe, simd = _mac_opts(mac, p, pes, simds, False)
        sdiv = divisors(swg.channels)
        sw = [_swg_opt(swg, x, p) for x in sdiv]  # cycles decrease as the window widens
        s_arr = np.asarray(sdiv, dtype=np.int64)
        s_cyc = np.asarray([x[0] for x in sw], dtype=np.int64)
        s_res = np.asarray([x[1:5] for x in sw], dtype=float)
        # integer width ratio between window and MVAU, so a width converter can join them
        ok = ((simd[:, None] % s_arr[None, :]) == 0) | ((s_arr[None, :] % simd[:, None]) == 0)
        if np.all(np.diff(s_res, axis=0) >= 0):
            # a wider window never costs less: one faster than its MVAU is only worth taking
            # in its narrowest compatible form (the wider ones are dominated)
            fast = ok & (s_cyc[None, :] <= cyc[:, None])
            first = fast & (np.cumsum(fast, axis=1) == 1)
            ok = (ok & ~fast) | first
        r, c = np.nonzero(ok)
        values = np.stack([s_arr[c], pe[r], simd[r]], axis=1)
        return _table(
            names,
            np.maximum(cyc[r], s_cyc[c]),
            res[r] + s_res[c],
            values,
            [(swg.name, "simd"), (mac.name, "pe"), (mac.name, "simd")],
        )
    (n,) = nodes
    fn = fx.get(n.name)
    if n.op in ("MVAU", "VVAU"):
        vv = n.op == "VVAU"
        pes = _fix(divisors(n.channels if vv else n.mh), fn, "pe")
        simds = _fix(divisors(n.kernel * n.kernel if vv else n.mw), fn, "simd")
        cyc, res, pe, simd = _mac_opts(n, p, pes, simds, vv)
        return _table(
            names, cyc, res, np.stack([pe, simd], axis=1), [(n.name, "pe"), (n.name, "simd")]
        )
    rows: list[tuple] = []
    keys: list[tuple[str, str]] = []
    if n.op in ("Thresholding", "LabelSelect"):
        total = n.channels if n.op == "Thresholding" else n.labels
        fn_cost = thresholding_cost if n.op == "Thresholding" else labelselect_cost
        keys = [(n.name, "pe")]
        for pe in _fix(divisors(total), fn, "pe"):
            m = replace(n, pe=pe)
            c = fn_cost(m, p)
            g1 = _glue(m.in_width, p)
            g2 = _glue(m.out_width, p)
            rows.append(
                (c.cycles, c.lut + g1[0] + g2[0], c.ff + g1[1] + g2[1], c.bram18, c.dsp, (pe,))
            )
    elif n.op == "MaxPool":
        c = maxpool_cost(n, p)
        g = _glue(n.in_width, p)
        rows.append((c.cycles, c.lut + 2 * g[0], c.ff + 2 * g[1], c.bram18, c.dsp, ()))
    elif n.op == "SlidingWindow":  # a window without its MVAU (only from a lowering)
        keys = [(n.name, "simd")]
        for s in _fix(divisors(n.channels), fn, "simd"):
            rows.append((*_swg_opt(n, s, p), (s,)))
    else:  # pragma: no cover - every compute node type is handled above
        raise TypeError(f"cannot fold node type {n.op}")
    return _table(
        names,
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1:5] for r in rows], dtype=float).reshape(-1, 4),
        np.array([r[5] for r in rows], dtype=np.int64).reshape(len(rows), len(keys)),
        keys,
    )


def groups_of(graph: DataflowGraph) -> list[tuple]:
    """Split the graph's nodes into folding groups (a window joins the MVAU/VVAU it feeds).

    Example:
        >>> from hwprune.ir import build_ir
        >>> g = build_ir([{"op": "conv", "out_ch": 8, "kernel": 3, "wbits": 2, "abits": 2},
        ...               {"op": "fc", "out": 10, "wbits": 2, "abits": None}], (1, 6, 6), 8)
        >>> [[n.name for n in grp] for grp in groups_of(g)]
        [['conv0_swg', 'conv0'], ['fc0'], ['labelselect']]
    """
    nodes = graph.nodes
    out: list[tuple] = []
    i = 0
    while i < len(nodes):
        n = nodes[i]
        if n.op == "SlidingWindow" and i + 1 < len(nodes) and nodes[i + 1].op in ("MVAU", "VVAU"):
            out.append((n, nodes[i + 1]))
            i += 2
        else:
            out.append((n,))
            i += 1
    return out


def _unfolded(n):
    if n.op in ("MVAU", "VVAU"):
        return replace(n, pe=1, simd=1) if (n.pe, n.simd) != (1, 1) else n
    if n.op == "SlidingWindow":
        return n if n.simd == 1 else replace(n, simd=1)
    if n.op in ("Thresholding", "LabelSelect"):
        return n if n.pe == 1 else replace(n, pe=1)
    return n


def group_tables(graph: DataflowGraph, params: FpgaCostParams | None = None) -> list[GroupTable]:
    """The cached option table of every group of ``graph`` (user-fixed folding respected)."""
    p = params or FpgaCostParams()
    tables = []
    for grp in groups_of(graph):
        fixed = tuple(
            sorted(
                (n.name, tuple(sorted(graph.fixed[n.name].items())))
                for n in grp
                if n.name in graph.fixed
            )
        )
        tables.append(_group_table(tuple(_unfolded(n) for n in grp), fixed, p))
    return tables


def fixed_overhead(graph: DataflowGraph, target: Any, p: FpgaCostParams) -> np.ndarray:
    """LUT/FF/BRAM18/DSP that do not depend on folding: shell, two DMAs, the port-side glue."""
    g = _glue(target.io_width_bits, p)
    return np.array(
        [
            target.shell_lut + 2 * target.dma_lut + 2 * g[0],
            target.shell_ff + 2 * target.dma_ff + 2 * g[1],
            target.shell_bram18 + 2 * target.dma_bram18,
            target.shell_dsp,
        ]
    )


class _Prepared:
    """Group tables combined with one target's capacities: prefix minima for fast probes."""

    def __init__(self, tables: list[GroupTable], weights: np.ndarray):
        self.tables = tables
        self.cyc = [t.cycles for t in tables]
        self.cyc_list = [t.cycles.tolist() for t in tables]
        self.res = [t.res for t in tables]
        self.area = [t.res @ weights for t in tables]
        self.best = []  # prefix arg-min of area
        self.minres = []  # prefix minimum of each resource
        for a, r in zip(self.area, self.res, strict=False):
            idx = np.arange(len(a))
            run = np.minimum.accumulate(a)
            # index of the prefix minimum: last position where the running minimum was set
            is_new = np.concatenate([[True], a[1:] < run[:-1]])
            self.best.append(np.maximum.accumulate(np.where(is_new, idx, 0)))
            self.minres.append(np.minimum.accumulate(r, axis=0))
        self.lower = max(int(c[0]) for c in self.cyc)  # fastest possible slowest node
        ts = np.unique(np.concatenate(self.cyc))
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
        choice = [int(b[k]) for b, k in zip(self.best, ks, strict=False)]
        total = sum(r[c] for r, c in zip(self.res, choice, strict=False))
        return choice, total

    def lower_bound(self, ks: list[int]) -> np.ndarray:
        return sum(m[k] for m, k in zip(self.minres, ks, strict=False))


#: (ids of the group tables, capacity weights) -> (tables kept alive, prepared); bounded LRU
_PREPARED: OrderedDict[tuple, tuple[list[GroupTable], _Prepared]] = OrderedDict()
_PREPARED_MAX = 2048


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


def _skyline(points: np.ndarray) -> np.ndarray:
    """Indices of the points no other point dominates (<= in every column), one per duplicate.

    Lexicographic order puts a dominator before what it dominates, so the first remaining point
    is always non-dominated; everything it dominates is dropped at once (vectorised)."""
    order = np.lexsort(points.T[::-1])
    pts, idx = points[order], order
    keep: list[int] = []
    while idx.size:
        keep.append(int(idx[0]))
        alive = (pts < pts[0]).any(axis=1)  # not dominated by the head (nor equal to it)
        pts, idx = pts[alive], idx[alive]
    return np.asarray(keep, dtype=np.int64)


def _pareto_idx(res: np.ndarray, upto: int) -> list[int]:
    """Indices among the first ``upto + 1`` options not dominated on all four resources."""
    return _skyline(res[: upto + 1]).tolist()


def _exact(prep: _Prepared, ks: list[int], budget: np.ndarray) -> list[int] | None:
    """Minimum-area choice with every resource under ``budget`` (branch and bound)."""
    sets = []
    for g, k in enumerate(ks):
        idx = _pareto_idx(prep.res[g], k)
        idx.sort(key=lambda i, g=g: prep.area[g][i])
        sets.append((g, idx))
    order = sorted(range(len(sets)), key=lambda j: len(sets[j][1]))
    sets = [sets[j] for j in order]
    n = len(sets)
    suf_res = np.zeros((n + 1, 4))
    suf_area = np.zeros(n + 1)
    for j in range(n - 1, -1, -1):
        g, idx = sets[j]
        suf_res[j] = suf_res[j + 1] + prep.res[g][idx].min(axis=0)
        suf_area[j] = suf_area[j + 1] + prep.area[g][idx].min()
    best: list[Any] = [math.inf, None]
    visits = [0]
    chosen = [0] * n

    def dfs(j: int, used: np.ndarray, area: float) -> None:
        if visits[0] > _BB_NODE_LIMIT:
            return
        visits[0] += 1
        if j == n:
            if area < best[0]:
                best[0], best[1] = area, list(chosen)
            return
        g, idx = sets[j]
        for i in idx:
            a = area + prep.area[g][i]
            if a + suf_area[j + 1] >= best[0] - 1e-12:
                break  # sorted by area: the rest are no better
            u = used + prep.res[g][i]
            if np.any(u + suf_res[j + 1] > budget + 1e-9):
                continue
            chosen[j] = i
            dfs(j + 1, u, a)

    dfs(0, np.zeros(4), 0.0)
    if visits[0] > _BB_NODE_LIMIT:
        log.warning("folding search hit its node limit; the result may not be optimal")
    if best[1] is None:
        return None
    choice = [0] * n
    for j, (g, _) in enumerate(sets):
        choice[g] = best[1][j]
    return choice


def _select(
    prep: _Prepared, T: float, budget: np.ndarray
) -> tuple[list[int] | None, np.ndarray | None]:
    """Minimum-area fitting choice with every group's cycles <= T, or (None, violated LB)."""
    ks = prep.ks(T)
    if ks is None:
        return None, None
    choice, total = prep.pick(ks)
    if np.all(total <= budget + 1e-9):
        return choice, total
    lb = prep.lower_bound(ks)
    if np.any(lb > budget + 1e-9):
        return None, lb
    choice2 = _exact(prep, ks, budget)
    if choice2 is None:
        return None, total
    return choice2, sum(r[c] for r, c in zip(prep.res, choice2, strict=False))


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


def fold(
    graph: DataflowGraph,
    target: Any,
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
    p = params or FpgaCostParams()
    clock = float(clock_mhz or target.clock_mhz) * 1e6
    cap = float(util_cap if util_cap is not None else target.util_cap)
    capacity = np.array([target.lut, target.ff, target.bram18, max(target.dsp, 1)], dtype=float)
    weights = 1.0 / capacity
    fixed = fixed_overhead(graph, target, p)
    budget = capacity * cap - fixed
    if target.dsp == 0:
        budget[3] = 0.0
    prep = _prepared(group_tables(graph, p), weights)
    io = max(
        io_cycles(graph.input_frame_bits(), target.io_width_bits),
        io_cycles(graph.output_frame_bits(), target.io_width_bits),
    )

    def result(
        choice: list[int], fits: bool, binding: str | None, meets: bool | None
    ) -> FoldResult:
        total = sum(r[c] for r, c in zip(prep.res, choice, strict=False))
        node_cyc = max(int(c[i]) for c, i in zip(prep.cyc, choice, strict=False))
        return FoldResult(
            _assemble(prep, choice),
            node_cyc,
            fits,
            binding,
            meets,
            float((total + fixed) @ weights),
        )

    def fastest() -> FoldResult:
        ts = prep.ts
        choice, tot = _select(prep, float(ts[-1]), budget)
        if choice is None:  # even the smallest design does not fit
            ks = prep.ks(float(ts[-1]))
            small, total = prep.pick(ks)  # type: ignore[arg-type]
            return result(small, False, _binding(total, budget), None)
        lo, hi = 0, len(ts) - 1  # ts[hi] feasible
        while lo < hi:
            mid = (lo + hi) // 2
            if _select(prep, float(ts[mid]), budget)[0] is not None:
                hi = mid
            else:
                lo = mid + 1
        t_star = int(ts[hi])
        t_eff = max(t_star, io)
        choice, _ = _select(prep, float(t_eff), budget)
        assert choice is not None
        if t_star < io:
            binding = "io"
        elif hi == 0:
            binding = None  # fully parallel: nothing binds
        else:
            _, viol = _select(prep, float(ts[hi - 1]), budget)
            binding = _binding(viol, budget)
        return result(choice, True, binding, None)

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
    if np.all(total <= budget + 1e-9):
        return result(choice, True, None, True)
    choice2, viol = _select(prep, float(t_target), budget)
    if choice2 is not None:
        return result(choice2, True, None, True)
    return result(choice, False, _binding(viol if viol is not None else total, budget), True)


# --- estimate.evaluate as it was before the speed work -------------------------------------
from hwprune.cost.fpga import node_cost  # noqa: E402
from hwprune.estimate import RESOURCES, Estimate, LayerEstimate  # noqa: E402


def _shape(n) -> str:
    if n.op == "MVAU":
        return f"{n.mh}x{n.mw}" + (f" x{n.n_vec}px" if n.n_vec > 1 else "")
    if n.op == "VVAU":
        return f"{n.channels}ch k{n.kernel} x{n.n_vec}px"
    if n.op == "SlidingWindow":
        return f"{n.channels}x{n.ifm[0]}x{n.ifm[1]} k{n.kernel}s{n.stride}p{n.pad}"
    if n.op == "MaxPool":
        return f"{n.channels}x{n.ifm[0]}x{n.ifm[1]} k{n.kernel}"
    if n.op == "Thresholding":
        return f"{n.channels}ch x{n.n_vec}"
    return f"{n.labels} labels"


def _bits(n) -> dict[str, Any]:
    if n.op in ("MVAU", "VVAU"):
        return {"in": n.in_bits, "w": n.wbits, "acc": n.acc_bits, "out": n.out_bits}
    if n.op in ("SlidingWindow", "MaxPool"):
        return {"in": n.bits, "out": n.bits}
    if n.op == "Thresholding":
        return {"in": n.in_bits, "out": n.out_bits}
    return {"in": n.in_bits, "out": n.out_bits}


def _fill_cycles(n, cycles: int) -> float:
    """Cycles before a node emits its first output (pipelined latency model)."""
    if n.op == "SlidingWindow":
        _, wp = n.padded
        return ((n.kernel - 1) * wp + n.kernel) * (n.channels // n.simd)
    if n.op in ("MVAU", "VVAU"):
        return cycles / n.n_vec if n.n_vec > 1 else cycles
    if n.op == "MaxPool":
        return n.kernel * n.ifm[1]
    return cycles


def evaluate(
    graph: DataflowGraph,
    target: Any,
    clock_mhz: float | None = None,
    util_cap: float | None = None,
    params: FpgaCostParams | None = None,
    binding: str | None = None,
    meets_fps: bool | None = None,
) -> Estimate:
    """Price ``graph`` with the folding it carries (no optimisation).

    ``binding`` is reported as given when the design fits (the folding optimizer knows what
    stopped it); when it does not fit, the most over-used resource is named.

    Example:
        >>> from hwprune.ir import build_ir
        >>> from hwprune.targets import load_target
        >>> g = build_ir([{"op": "fc", "out": 10, "wbits": 2, "abits": None}], (16,), 2)
        >>> evaluate(g, load_target("pynq-z2")).layers[0].cycles
        160
    """
    p = params or FpgaCostParams()
    clock = float(clock_mhz or target.clock_mhz)
    cap = float(util_cap if util_cap is not None else target.util_cap)
    layers = []
    totals = dict.fromkeys(RESOURCES, 0.0)
    fills = []
    for n in graph.nodes:
        c = node_cost(n, p)
        pe = getattr(n, "pe", None)
        simd = getattr(n, "simd", None)
        layers.append(
            LayerEstimate(
                n.op, n.name, _shape(n), _bits(n), pe, simd, c.cycles, c.lut, c.ff, c.bram18, c.dsp
            )
        )
        for k in RESOURCES:
            totals[k] += getattr(c, k)
        fills.append(_fill_cycles(n, c.cycles))
    # stream glue: DMA -> n0 -> ... -> nk -> DMA
    widths = [target.io_width_bits]
    for n in graph.nodes:
        widths += [n.in_width, n.out_width]
    widths.append(target.io_width_bits)
    streams = [(widths[i], widths[i + 1]) for i in range(0, len(widths), 2)]
    glue_l = glue_f = 0.0
    for a, b in streams:
        for w in (a, b):
            gl, gf = glue_half(w, p)
            glue_l += gl
            glue_f += gf
    n_dwc = sum(1 for a, b in streams if a != b)
    n_fifo = len(streams) + n_dwc
    share = n_fifo / (n_fifo + n_dwc)
    overheads = {
        "shell": {
            "count": 1,
            "lut": target.shell_lut,
            "ff": target.shell_ff,
            "bram18": target.shell_bram18,
            "dsp": target.shell_dsp,
        },
        "dma": {
            "count": 2,
            "lut": 2 * target.dma_lut,
            "ff": 2 * target.dma_ff,
            "bram18": 2 * target.dma_bram18,
            "dsp": 0.0,
        },
        "fifos": {
            "count": n_fifo,
            "lut": glue_l * share,
            "ff": glue_f * share,
            "bram18": 0.0,
            "dsp": 0.0,
        },
        "width_converters": {
            "count": n_dwc,
            "lut": glue_l * (1 - share),
            "ff": glue_f * (1 - share),
            "bram18": 0.0,
            "dsp": 0.0,
        },
    }
    for o in overheads.values():
        for k in RESOURCES:
            totals[k] += o[k]
    capacity = target.capacity()
    util = {
        k: totals[k] / capacity[k] if capacity[k] else (math.inf if totals[k] else 0.0)
        for k in RESOURCES
    }
    over = {k: u for k, u in util.items() if u > cap + 1e-12}
    fits = not over
    if not fits:
        binding = max(over, key=lambda k: over[k] / cap)
    cycles = [x.cycles for x in layers]
    node_cyc = max(cycles)
    io = max(
        io_cycles(graph.input_frame_bits(), target.io_width_bits),
        io_cycles(graph.output_frame_bits(), target.io_width_bits),
    )
    frame = max(node_cyc, io) + p.frame_overhead_cycles
    fps = clock * 1e6 / frame
    slowest = cycles.index(node_cyc)
    lat_cycles = (
        io_cycles(graph.input_frame_bits(), target.io_width_bits)
        + node_cyc
        + sum(f for i, f in enumerate(fills) if i != slowest)
        + io_cycles(graph.output_frame_bits(), target.io_width_bits)
    )
    return Estimate(
        name=graph.name,
        target=target.name,
        clock_mhz=clock,
        lut=totals["lut"],
        ff=totals["ff"],
        bram18=totals["bram18"],
        dsp=totals["dsp"],
        fps=fps,
        latency_us=lat_cycles / clock,
        cycles=frame,
        node_cycles=node_cyc,
        io_cycles=io,
        fits=fits,
        binding=binding,
        meets_fps=meets_fps,
        util=util,
        util_cap=cap,
        layers=tuple(layers),
        overheads=overheads,
        folding=graph.folding,
    )


def reference_estimate(
    graph: DataflowGraph,
    target: Any,
    fps: float | None = None,
    util_cap: float | None = None,
    params: FpgaCostParams | None = None,
):
    """``hwprune.estimate.estimate`` of a graph, computed with the frozen reference code."""
    p = params or FpgaCostParams()
    r = fold(
        graph,
        target,
        mode="smallest" if fps else "fastest",
        fps=fps,
        util_cap=util_cap,
        params=p,
    )
    return evaluate(
        graph.with_folding(r.folding),
        target,
        util_cap=util_cap,
        params=p,
        binding=r.binding,
        meets_fps=r.meets_fps,
    )
