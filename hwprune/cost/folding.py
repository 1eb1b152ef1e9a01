"""Resource-aware folding: choose PE/SIMD for every node of a dataflow graph.

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
exact branch-and-bound over each group's Pareto-optimal options decides (a multi-resource
knapsack; the bound makes it small in practice). Tests check both modes against exhaustive
enumeration.

Speed (a search prices thousands of new candidates; ``bench/cost_speed.py``): the options of
all MVAUs of a design are computed in one vectorised pass; window-bound options that another
option dominates are dropped before sorting (an exact reduction: a dropped row never changes a
pick, a bound or a branch-and-bound set); the bisection first narrows ``T`` with the cheap
per-resource lower bounds, then decides feasibility with the minimum-area pick, those bounds,
Lagrangian prices (a witness or an infeasibility proof) and only then a depth-first search;
prefix arg-minima, bounds and Pareto sets are cached on the tables; the branch and bound runs
on plain Python numbers. The tables of all of a design's new MVAU groups (with or without a
window) are then built in one vectorised pass too (window options numbered across groups, the
dominance pruning on a list of pairs), and every sorted table drops the rows that their
predecessor dominates (another exact reduction: about 60% of the rows left on CNV variants).
``tests/test_folding.py`` holds the results identical to the pre-optimisation code
(``tests/folding_reference.py``) on random designs.

Multiplier resource: every MVAU/VVAU whose ``res_type`` is ``"auto"`` is offered both ways, its
products built from LUTs (``lane_lut`` per lane unit) or on DSP48s (one or more per lane), as a
FINN engineer sets each MVAU's ``resType``; the choice is a column of the option tables like PE
and SIMD (an XNOR-popcount layer has no multiplier: LUTs only; a node with ``res_type`` ``"lut"``
or ``"dsp"`` keeps it). So a first layer with 8-bit pixels and 2-bit weights can move its lanes
off the DSPs when they bind, and the result's folding says ``"res_type"`` per MVAU/VVAU.

Legality: ``PE | output channels``, ``SIMD | input length`` (MVAU: ``k*k*c_in``; VVAU:
``k*k``, and ``SIMD > 1`` only with ``PE = channels``); a sliding window's SIMD divides its input
channels and its width has an integer ratio to the MVAU's (one of the two SIMDs divides the
other, so a width converter can join them); a depthwise window's SIMD equals its VVAU's PE;
``PE | labels`` for label-select; a 2D max-pool processes all channels in parallel.

Example:
    >>> from hwprune.ir import build_ir
    >>> from hwprune.targets import load_target
    >>> from hwprune.cost.folding import fold
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
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from hwprune.cost.fpga import (
    _RAMB18,
    _RAMB36,
    LUTRAM_DEPTH,
    FpgaCostParams,
    _dsp_per_lane,
    _lane_units,
    glue_half,
    io_cycles,
    labelselect_cost,
    maxpool_cost,
    swg_cost,
    swg_cycles,
    thresholding_cost,
)
from hwprune.ir import DataflowGraph, SlidingWindow, divisors, n_thresholds

log = logging.getLogger(__name__)

RESOURCE_NAMES = ("lut", "ff", "bram18", "dsp")
_BB_NODE_LIMIT = 200_000

#: multiplier resources of MVAU/VVAU options, by code (the ``res_type`` column of a table)
RES_CODES = ("lut", "dsp")


def res_codes(n) -> tuple[int, ...]:
    """The multiplier implementations the folding may choose for an MVAU/VVAU, as codes into
    :data:`RES_CODES`: both for ``res_type`` ``"auto"`` (LUT only for XNOR-popcount lanes,
    which have no multiplier), else the one given.

    Example:
        >>> from hwprune.ir import build_ir
        >>> g = build_ir([{"op": "fc", "out": 8, "wbits": 1, "abits": 1},
        ...               {"op": "fc", "out": 4, "wbits": 2, "abits": 2},
        ...               {"op": "fc", "out": 2, "wbits": 2, "abits": None, "res_type": "dsp"}],
        ...              (16,), 1, input_kind="bipolar")
        >>> [res_codes(n) for n in g.nodes[:3]]
        [(0,), (0, 1), (1,)]
    """
    if n.res_type == "auto":
        return (0,) if n.xnor else (0, 1)
    return (RES_CODES.index(n.res_type),)


@dataclass(frozen=True, eq=False)
class GroupTable:
    """The legal foldings of one group of nodes, sorted by cycles (ties: by LUT, then by
    enumeration order), less options that an earlier one dominates (no more cycles and no more
    of any resource; such an option can never be chosen).

    Attributes:
        names: the group's node names.
        cycles: cycles per frame of each option (the group's slowest node).
        res: ``(m, 4)`` LUT, FF, BRAM18, DSP of each option (including its stream glue).
        values: ``(m, len(keys))`` folding values of each option.
        keys: ``(node name, "pe" | "simd" | "res_type")`` of each column of ``values``
            (``res_type`` as a code: index into :data:`RES_CODES`).
        memo: derived data cached with the table (cycle list, per-target prefix minima,
            Pareto sets of prefixes).
    """

    names: tuple[str, ...]
    cycles: np.ndarray
    res: np.ndarray
    values: np.ndarray
    keys: tuple[tuple[str, str], ...]
    memo: dict = field(default_factory=dict, repr=False)

    def assign(self, i: int) -> dict[str, dict[str, Any]]:
        """Folding of option ``i``: ``{node name: {"pe": .., "simd": .., "res_type": ..}}``
        (``res_type`` of an MVAU/VVAU: ``"lut"`` or ``"dsp"``)."""
        out: dict[str, dict[str, Any]] = {}
        for (name, key), v in zip(self.keys, self.values[i].tolist(), strict=False):
            out.setdefault(name, {})[key] = RES_CODES[v] if key == "res_type" else int(v)
        return out


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


def _glue(width: int, p: FpgaCostParams) -> tuple[float, float]:
    return glue_half(width, p)


def _cdiv(a, b):
    return -(-a // b)


_ASPECTS = {
    # granularity -> (widths, depths, log2 of the shallowest depth, RAMB18 per block)
    "ramb36": (
        np.array([w for w, _ in _RAMB36]),
        np.array([d for _, d in _RAMB36]),
        9,
        2.0,
    ),
    "ramb18": (
        np.array([w for w, _ in _RAMB18]),
        np.array([d for _, d in _RAMB18]),
        9,
        1.0,
    ),
}


def _bram18_vec(width: np.ndarray, depth: np.ndarray, granularity: str) -> np.ndarray:
    """Vectorised :func:`hwprune.cost.fpga.bram18_for` (same aspect rule).

    The aspect depths are 512 * 2**i, so the shallowest one that holds ``depth`` words is
    ``i = ceil(log2(depth)) - 9`` (clipped); ``frexp(depth - 1)`` gives that exponent exactly."""
    aws, ads, lg, unit = _ASPECTS[granularity]
    e = np.frexp(np.maximum(depth, 1) - 1)[1]
    i = np.minimum(np.maximum(e - lg, 0), len(aws) - 1)
    last = int(ads[-1])
    out = unit * _cdiv(width, aws[i]) * np.where(depth > last, _cdiv(depth, last), 1)
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
    """Every legal (pe, simd, multiplier resource) of an MVAU/VVAU: arrays cycles, res (m x 4),
    pe, simd, res_type code (:func:`res_codes`; one pe-major grid per code, in code order).

    Mirrors :func:`hwprune.cost.fpga._mac_cost` plus the node's two stream-glue halves
    (a test holds the two equal)."""
    pe, simd, rt = _grid(tuple(pes), tuple(simds), res_codes(n))
    if vvau:
        keep = (simd == 1) | (pe == n.channels)
        pe, simd, rt = pe[keep], simd[keep], rt[keep]
        depth = (n.channels // pe) * ((n.kernel * n.kernel) // simd)
        tmem = n.channels // pe
        in_w = pe * simd * n.in_bits
    else:
        depth = (n.mh // pe) * (n.mw // simd)
        tmem = n.mh // pe
        in_w = simd * n.in_bits
    cycles = depth * n.n_vec
    lanes = pe * simd
    # per resource code: the lane's LUT units (0 on DSPs) and DSPs per lane (0 in LUTs)
    units = np.array([_lane_units(n.wbits, n.wkind, n.in_bits, n.in_kind), 0])[rt]
    dpl = np.array([0, _dsp_per_lane(n.wbits, n.in_bits)])[rt]
    nthr = n_thresholds(n.out_bits, n.out_kind)
    lane_lut, lane_ff = p.lane_lut * units, p.lane_ff * units
    lut = p.mvau_lut + lane_lut * lanes + p.pe_lut * (pe * n.acc_bits * (1 + nthr))
    ff = p.mvau_ff + lane_ff * lanes + p.pe_ff * pe * n.acc_bits
    dsp = (lanes * dpl).astype(float)
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
        small = (tw * tmem <= p.thr_lutram_max_bits) | (tmem <= LUTRAM_DEPTH)  # as threshold_memory
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
    return cycles.astype(np.int64), res, pe, simd, rt


_STYLE = {"auto": 0, "distributed": 1, "block": 2}


@lru_cache(maxsize=4096)
def _grid(
    pes: tuple[int, ...], simds: tuple[int, ...], codes: tuple[int, ...] = (0,)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pe-major grid of every (PE, SIMD) pair, once per resource code: PE, SIMD, code."""
    a, b = np.asarray(pes, dtype=np.int64), np.asarray(simds, dtype=np.int64)
    m = len(a) * len(b)
    pe, simd = np.tile(np.repeat(a, len(b)), len(codes)), np.tile(b, len(a) * len(codes))
    return pe, simd, np.repeat(np.asarray(codes, dtype=np.int64), m)


def _mac_opts_batch(items: list[tuple], p: FpgaCostParams) -> list[tuple]:
    """:func:`_mac_opts` of several MVAUs at once (``items``: (node, pes, simds)).

    The same formulas, evaluated in the same order on one concatenated array (bit-identical
    results), so that the per-call overhead of numpy is paid once per design, not per layer.
    """
    cycles, res, pe, simd, rt, counts = _mac_opts_cat(items, p)
    cut = np.cumsum(counts)[:-1]
    return list(
        zip(
            np.split(cycles, cut),
            np.split(res, cut),
            np.split(pe, cut),
            np.split(simd, cut),
            np.split(rt, cut),
            strict=True,
        )
    )


def _mac_opts_cat(items: list[tuple], p: FpgaCostParams) -> tuple:
    """:func:`_mac_opts_batch` before the split: concatenated cycles, res, pe, simd,
    res_type code and the option count of every item.

    Each item's options are one pe-major grid per resource code (as :func:`_mac_opts`); the
    per-node parameters are repeated per grid, so a code's LUT units and DSPs per lane enter
    the same formulas as in the scalar model."""
    scal = []
    blocks = []  # options per (item, code) block
    grids = []
    counts = []
    for n, pes, simds in items:
        codes = res_codes(n)
        g = _grid(tuple(pes), tuple(simds), codes)
        grids.append(g)
        counts.append(len(g[0]))
        m = len(g[0]) // len(codes)
        base = (
            n.mh,
            n.mw,
            n.n_vec,
            n.in_bits,
            n.acc_bits,
            n_thresholds(n.out_bits, n.out_kind),
            n.wbits,
            n.obits,
        )
        for code in codes:
            dsp_lanes = code == 1
            units = 0 if dsp_lanes else _lane_units(n.wbits, n.wkind, n.in_bits, n.in_kind)
            scal.append(
                (
                    *base,
                    _dsp_per_lane(n.wbits, n.in_bits) if dsp_lanes else 0,
                    _STYLE[n.mem_style],
                    p.lane_lut * units,
                    p.lane_ff * units,
                )
            )
            blocks.append(m)
    pe = np.concatenate([g[0] for g in grids])
    simd = np.concatenate([g[1] for g in grids])
    rt = np.concatenate([g[2] for g in grids])
    # per-option copies of each block's parameters, one contiguous row per parameter
    ints = np.repeat(np.array([s[:10] for s in scal], dtype=np.int64).T, blocks, axis=1)
    floats = np.repeat(np.array([s[10:] for s in scal], dtype=float).T, blocks, axis=1)
    mh, mw, n_vec, in_bits, acc, nthr, wbits, obits, dpl, style = ints
    lane_lut, lane_ff = floats
    tmem = mh // pe
    depth = tmem * (mw // simd)
    in_w = simd * in_bits
    cycles = depth * n_vec
    lanes = pe * simd
    lut = p.mvau_lut + lane_lut * lanes + p.pe_lut * (pe * acc * (1 + nthr))
    ff = p.mvau_ff + lane_ff * lanes + p.pe_ff * pe * acc
    dsp = (lanes * dpl).astype(float)
    wwidth = lanes * wbits
    if p.weight_layout == "per_pe":
        width, gran = wwidth // pe, "ramb18"
    else:
        width, gran = wwidth, "ramb36"
    lutram = (depth <= 16) | (width * depth <= p.lutram_max_bits)
    if any(x[9] for x in scal):  # a node with a forced memory style
        lutram = np.where(style == 1, True, np.where(style == 2, False, lutram))
    wl = np.where(lutram, width * ((depth + 63) >> 6), 0).astype(float)
    wb = np.where(lutram, 0.0, _bram18_vec(width, depth, gran))
    if p.weight_layout == "per_pe":
        wl, wb = wl * pe, wb * pe
    lut = lut + wl
    bram = wb
    tw = pe * nthr * acc  # 0 without thresholds: adds exactly 0.0 below
    small = (tw * tmem <= p.thr_lutram_max_bits) | (tmem <= LUTRAM_DEPTH)  # as threshold_memory
    tl = np.where(small, tw * ((tmem + 63) >> 6), 0).astype(float)
    tb = np.zeros(len(tw))
    big = np.flatnonzero(~small)
    if big.size:  # threshold memories in block RAM (rare): map only those
        tb[big] = _bram18_vec(tw[big], tmem[big], "ramb36")
    lut = lut + tl
    bram = bram + tb
    out_w = pe * obits
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
    res = np.stack([lut, ff, bram, dsp], axis=1)
    return cycles, res, pe, simd, rt, counts


@lru_cache(maxsize=16384)
def _swg_opt(n, simd: int, p: FpgaCostParams) -> tuple:
    s = replace(n, simd=simd)
    c = swg_cost(s, p)
    gl, gf = _glue(simd * n.bits, p)
    return (c.cycles, c.lut + 2 * gl, c.ff + 2 * gf, c.bram18, c.dsp)


def _swg_table(n, p: FpgaCostParams) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Every SIMD of a sliding window (the divisors of its channels): SIMD, cycles and
    resources with both stream-glue halves, as arrays (cycles decrease as it widens), and
    whether a wider window never costs less. Cached by shape (not by name)."""
    return _swg_table_of(
        (n.channels, n.ifm, n.kernel, n.stride, n.pad, n.bits, n.kind, n.depthwise, n.ram_style),
        p,
    )


@lru_cache(maxsize=8192)
def _swg_table_of(shape: tuple, p: FpgaCostParams) -> tuple:
    n = SlidingWindow("swg", *shape[:7], simd=1, depthwise=shape[7], ram_style=shape[8])
    sdiv = divisors(n.channels)
    sw = [_swg_opt(n, x, p) for x in sdiv]
    res = np.asarray([x[1:5] for x in sw], dtype=float).reshape(-1, 4)
    return (
        np.asarray(sdiv, dtype=np.int64),
        np.asarray([x[0] for x in sw], dtype=np.int64),
        res,
        bool(np.all(np.diff(res, axis=0) >= 0)) and bool(np.all(np.diff([x[0] for x in sw]) <= 0)),
    )


def _prune_slow(slow: np.ndarray, res: np.ndarray, rounds: int = 2) -> np.ndarray:
    """Drop window-bound options that another one dominates (an exact reduction).

    ``slow[m, s]``: MVAU option ``m`` with window SIMD ``s`` is legal and the window is the
    slower of the two, so the option's cycles are the window's. All options sharing ``s``
    have equal cycles and differ only by the MVAU's resources ``res[m]``; an option whose
    resources are all >= those of another one that comes first in the table order (fewer LUTs,
    ties by position) can never be chosen and is dropped. A few rounds, each taking the
    cheapest remaining option per ``s`` as the dominator, remove most of them (on CNV layers
    about 1,900 of 2,250 rows in two rounds); the dominators themselves are always kept.
    """
    alive = slow.T.copy()  # s x m
    done = np.zeros_like(alive)
    rows = np.arange(alive.shape[0])
    lut, ff, bram, dsp = res.T
    for _ in range(rounds):
        cand = np.where(alive & ~done, lut[None, :], np.inf)
        champ = cand.argmin(axis=1)  # first of the cheapest: first in table order
        has = np.isfinite(cand[rows, champ])
        if not has.any():
            break
        cr = res[champ]
        dom = (
            (lut[None, :] >= cr[:, 0, None])
            & (ff[None, :] >= cr[:, 1, None])
            & (bram[None, :] >= cr[:, 2, None])
            & (dsp[None, :] >= cr[:, 3, None])
        )
        dom &= has[:, None] & ~done
        dom[rows, champ] = False
        done[rows, champ] |= has
        alive &= ~dom
    return alive.T


def _fix(values, fixed: Mapping[str, int] | None, key: str):
    if fixed and key in fixed:
        return (fixed[key],)
    return values


def _table(names, cycles, res, values, keys) -> GroupTable:
    """Sort the options by cycles (ties: LUT, then enumeration order) and drop every option
    that its predecessor in that order dominates (no more cycles, no more of any resource).

    The reduction is exact: a dropped row has an earlier kept row (its predecessor, or that
    one's dominator) that is no worse in anything, so it can never change a prefix arg-min, a
    prefix lower bound, a Pareto set or a Lagrangian pick, and a cycle count that only dropped
    rows have leaves every probe of the folding search unchanged. On CNV variants it removes
    about 60% of the rows, which makes everything downstream cheaper."""
    order = np.lexsort((res[:, 0], cycles))
    r = res[order]
    if len(r) > 1:
        dom = (r[:-1] <= r[1:]).all(axis=1)
        if dom.any():
            keep = np.concatenate(([True], ~dom))
            order, r = order[keep], r[keep]
    return GroupTable(tuple(names), cycles[order], r, values[order], tuple(keys))


def _mvau_table(
    nodes: tuple,
    p: FpgaCostParams,
    simds: tuple[int, ...],
    cyc: np.ndarray,
    res: np.ndarray,
    pe: np.ndarray,
    simd: np.ndarray,
    rt: np.ndarray,
) -> GroupTable:
    """Table of an MVAU group (a lone MVAU, or a sliding window + MVAU) from the MVAU's options
    (``simds``: the SIMD values of its pe-major option grids, one grid per ``rt`` code)."""
    if len(nodes) == 1:
        (n,) = nodes
        return _table([n.name], cyc, res, np.stack([pe, simd, rt], axis=1), _mac_keys(n.name))
    swg, mac = nodes
    s_arr, s_cyc, s_res, widening_costs = _swg_table(swg, p)  # cycles fall as it widens
    # integer width ratio between window and MVAU, so a width converter can join them
    comp, nxt = _compat(simds, swg.channels)
    sim = np.arange(len(pe)) % len(simds)  # row of each option's SIMD in ``comp``
    if widening_costs:
        # a wider window never costs less: one faster than its MVAU is only worth taking
        # in its narrowest compatible form (the wider ones are dominated). Window cycles fall
        # as it widens, so the windows slower than option m are the first j0[m] ones.
        j0 = np.searchsorted(-s_cyc, -cyc, side="left")
        first = nxt[sim, j0]  # narrowest compatible window at least as fast (or none)
        slow = (np.arange(len(s_arr))[None, :] < j0[:, None]) & comp[sim]
        ok = _prune_slow(slow, res)
        has = np.flatnonzero(first < len(s_arr))
        ok[has, first[has]] = True
    else:
        ok = comp[sim]
    r, c = np.nonzero(ok)
    values = np.stack([s_arr[c], pe[r], simd[r], rt[r]], axis=1)
    return _table(
        [swg.name, mac.name],
        np.maximum(cyc[r], s_cyc[c]),
        res[r] + s_res[c],
        values,
        [(swg.name, "simd"), *_mac_keys(mac.name)],
    )


def _mac_keys(name: str) -> list[tuple[str, str]]:
    """Table columns of an MVAU/VVAU: PE, SIMD and the resource code."""
    return [(name, "pe"), (name, "simd"), (name, "res_type")]


def _prune_pairs(m: np.ndarray, s: np.ndarray, res: np.ndarray, rounds: int = 2) -> np.ndarray:
    """:func:`_prune_slow` on a list of pairs instead of a matrix (the same rows survive).

    ``(m[i], s[i])``: window-bound option ``i`` (MVAU option ``m``, window ``s``; the ``s`` of
    different tables are distinct). Per ``s`` and round, the champion is the alive, not yet
    used option with the fewest LUTs (ties: smallest ``m``); it drops every other unused
    option of that ``s`` whose MVAU resources are all >= its own. Returns the alive mask."""
    n = len(m)
    alive = np.ones(n, dtype=bool)
    if not n:
        return alive
    done = np.zeros(n, dtype=bool)
    nm = len(res)
    rank = np.empty(nm, dtype=np.int64)
    rank[np.argsort(res[:, 0], kind="stable")] = np.arange(nm)  # order by (LUT, m)
    order = np.argsort(s * nm + rank[m])  # by s, then LUTs, then m (keys are distinct)
    cols = [np.ascontiguousarray(res[:, c]) for c in range(4)]
    mine = [c[m] for c in cols]
    champ_of = np.full(int(s.max()) + 1, -1, dtype=np.int64)
    for _ in range(rounds):
        cs = order[(alive & ~done)[order]]
        if not cs.size:
            break
        sc = s[cs]
        head = np.empty(len(cs), dtype=bool)
        head[0] = True
        np.not_equal(sc[1:], sc[:-1], out=head[1:])
        champs = cs[head]
        champ_of[:] = -1
        champ_of[s[champs]] = m[champs]
        cm = champ_of[s]
        dom = (cm >= 0) & ~done
        for c, x in zip(cols, mine, strict=True):
            dom &= x >= c[cm]
        dom[champs] = False
        done[champs] = True
        alive &= ~dom
    return alive


def _window_mvau_tables(
    groups: list[tuple],
    p: FpgaCostParams,
    cyc: np.ndarray,
    res: np.ndarray,
    pe: np.ndarray,
    simd: np.ndarray,
    rt: np.ndarray,
) -> list[GroupTable]:
    """:func:`_mvau_table` of several window + MVAU groups at once (bit-identical tables).

    ``groups``: (nodes, simds, start, stop) with the MVAU's options at ``start:stop`` of the
    concatenated ``cyc``/``res``/``pe``/``simd``/``rt`` (:func:`_mac_opts_cat`); every window
    must be one that never costs less when wider. The per-group steps of :func:`_mvau_table`
    run once on concatenated arrays (window options numbered across groups), so that numpy's
    per-call overhead is paid once per design."""
    k = len(groups)
    sw = [_swg_table(nodes[0], p) for nodes, *_ in groups]
    big = int(max(cyc.max(), *(int(x[1].max()) for x in sw))) + 1
    if (k + 1) * big >= 2**62:  # group keys would overflow int64: one group at a time
        return [
            _mvau_table(nodes, p, simds, cyc[a:b], res[a:b], pe[a:b], simd[a:b], rt[a:b])
            for nodes, simds, a, b in groups
        ]
    cp = [_compat(simds, nodes[0].channels) for nodes, simds, *_ in groups]
    idx = np.concatenate([np.arange(a, b) for *_, a, b in groups])
    cm, rm, pm, sm, tm = cyc[idx], res[idx], pe[idx], simd[idx], rt[idx]
    cnt = np.array([b - a for *_, a, b in groups], dtype=np.int64)
    tid = np.repeat(np.arange(k), cnt)
    ns = np.array([len(x[0]) for x in sw], dtype=np.int64)  # window options per group
    so = np.concatenate([[0], np.cumsum(ns)[:-1]])
    s_arr = np.concatenate([x[0] for x in sw])
    s_cyc = np.concatenate([x[1] for x in sw])
    s_res = np.concatenate([x[2] for x in sw])
    nsimd = np.array([len(x[1]) for x in groups], dtype=np.int64)
    mo = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    sim = (np.arange(len(idx)) - mo[tid]) % nsimd[tid]
    # per group: j0 = searchsorted(-s_cyc, -cyc); groups kept apart by a key offset
    skey = np.repeat(np.arange(k, dtype=np.int64), ns) * big - s_cyc
    j0 = np.searchsorted(skey, tid * big - cm, side="left") - so[tid]
    nst = ns[tid]
    nxt_off = np.concatenate([[0], np.cumsum([x[1].size for x in cp])[:-1]])
    first = np.concatenate([x[1].ravel() for x in cp])[nxt_off[tid] + sim * (nst + 1) + j0]
    comp_off = np.concatenate([[0], np.cumsum([x[0].size for x in cp])[:-1]])
    comp = np.concatenate([x[0].ravel() for x in cp])
    # window-bound pairs: window j < j0[m], compatible
    mp = np.repeat(np.arange(len(idx)), j0)
    sp = np.arange(len(mp)) - np.repeat(np.cumsum(j0) - j0, j0)
    ok = comp[comp_off[tid[mp]] + sim[mp] * nst[mp] + sp]
    mp, sp = mp[ok], sp[ok]
    alive = _prune_pairs(mp, so[tid[mp]] + sp, rm)
    has = np.flatnonzero(first < nst)
    mr = np.concatenate([mp[alive], has])
    sr = np.concatenate([sp[alive], first[has]])
    # option-major, as np.nonzero of the per-group matrix: the window-bound pairs are in
    # (option, window) order already and an option's own fast window is wider than them all
    o = np.argsort(mr, kind="stable")
    mr, sr = mr[o], sr[o]
    tr = tid[mr]
    sg = so[tr] + sr
    cycles = np.maximum(cm[mr], s_cyc[sg])
    rr = rm[mr] + s_res[sg]
    values = np.stack([s_arr[sg], pm[mr], sm[mr], tm[mr]], axis=1)
    names = []
    keys = []
    for nodes, *_ in groups:
        swg, mac = nodes
        names.append((swg.name, mac.name))
        keys.append(((swg.name, "simd"), *_mac_keys(mac.name)))
    return _tables(names, keys, tr, cycles, rr, values, big)


def _tables(
    names: list[tuple],
    keys: list[tuple],
    tid: np.ndarray,
    cycles: np.ndarray,
    res: np.ndarray,
    values: np.ndarray,
    big: int,
) -> list[GroupTable]:
    """:func:`_table` of several groups at once: ``tid`` says the group of every row (rows of a
    group in enumeration order), ``big`` exceeds every cycle count."""
    if (len(names) + 1) * big < 2**62:  # sort by (group, cycles, LUT), stable:
        o1 = np.argsort(res[:, 0], kind="stable")  # = np.lexsort((res[:, 0], cycles, tid))
        order = o1[np.argsort((tid * big + cycles)[o1], kind="stable")]
    else:
        order = np.lexsort((res[:, 0], cycles, tid))
    r, t = res[order], tid[order]
    if len(r) > 1:  # drop the rows that their predecessor in the same group dominates
        dom = t[:-1] == t[1:]
        for c in range(4):
            dom &= r[:-1, c] <= r[1:, c]
        if dom.any():
            keep = np.concatenate(([True], ~dom))
            order, r, t = order[keep], r[keep], t[keep]
    cycles, values = cycles[order], values[order]
    cut = np.searchsorted(t, np.arange(len(names) + 1)).tolist()
    return [
        GroupTable(nm, cycles[a:b], r[a:b], values[a:b], ky)
        for nm, ky, a, b in zip(names, keys, cut[:-1], cut[1:], strict=True)
    ]


@lru_cache(maxsize=4096)
def _compat(simds: tuple[int, ...], channels: int) -> tuple[np.ndarray, np.ndarray]:
    """``comp[i, j]``: an MVAU SIMD ``simds[i]`` and a window SIMD ``divisors(channels)[j]``
    have an integer width ratio (one divides the other), so a width converter can join them;
    ``nxt[i, j]``: the first ``j' >= j`` with ``comp[i, j']`` (``len(divisors)`` if none)."""
    m = np.asarray(simds, dtype=np.int64)[:, None]
    s = np.asarray(divisors(channels), dtype=np.int64)[None, :]
    comp = ((m % s) == 0) | ((s % m) == 0)
    ns = comp.shape[1]
    nxt = np.full((comp.shape[0], ns + 1), ns, dtype=np.int64)
    for j in range(ns - 1, -1, -1):
        nxt[:, j] = np.where(comp[:, j], j, nxt[:, j + 1])
    return comp, nxt


@lru_cache(maxsize=8192)
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
            cyc, res, pe, simd, rt = _mac_opts(mac, p, pes, simds, True)
            s_arr, s_cyc, s_res, _ = _swg_table(swg, p)
            at = np.searchsorted(s_arr, pe)  # the window's SIMD is the VVAU's PE
            s_cyc, s_res = s_cyc[at], s_res[at]
            values = np.stack([pe, pe, simd, rt], axis=1)
            return _table(
                names,
                np.maximum(cyc, s_cyc),
                res + s_res,
                values,
                [(swg.name, "simd"), *_mac_keys(mac.name)],
            )
        pes = _fix(divisors(mac.mh), fm, "pe")
        simds = _fix(divisors(mac.mw), fm, "simd")
        return _mvau_table(nodes, p, simds, *_mac_opts(mac, p, pes, simds, False))
    (n,) = nodes
    fn = fx.get(n.name)
    if n.op == "MVAU":
        pes = _fix(divisors(n.mh), fn, "pe")
        simds = _fix(divisors(n.mw), fn, "simd")
        return _mvau_table(nodes, p, simds, *_mac_opts(n, p, pes, simds, False))
    if n.op == "VVAU":
        pes = _fix(divisors(n.channels), fn, "pe")
        simds = _fix(divisors(n.kernel * n.kernel), fn, "simd")
        cyc, res, pe, simd, rt = _mac_opts(n, p, pes, simds, True)
        return _table(names, cyc, res, np.stack([pe, simd, rt], axis=1), _mac_keys(n.name))
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


def _unfolded(n, fixed: Mapping[str, Any] | None = None):
    """``n`` with its folding reset (the optimizer's key), keeping its resource choice: a
    ``res_type`` in ``fixed`` (the graph's user-given folding) replaces the node's own."""
    if n.op in ("MVAU", "VVAU"):
        if fixed and fixed.get("res_type", n.res_type) != n.res_type:
            n = replace(n, res_type=str(fixed["res_type"]))
        return replace(n, pe=1, simd=1) if (n.pe, n.simd) != (1, 1) else n
    if n.op == "SlidingWindow":
        return n if n.simd == 1 else replace(n, simd=1)
    if n.op in ("Thresholding", "LabelSelect"):
        return n if n.pe == 1 else replace(n, pe=1)
    return n


#: (unfolded nodes, fixed folding, params) -> GroupTable of the MVAU groups; bounded LRU
_MVAU_TABLES: OrderedDict[tuple, GroupTable] = OrderedDict()
_MVAU_TABLES_MAX = 2048


def clear_caches() -> None:
    """Forget every cached option table (for benchmarks of the cold path)."""
    _group_table.cache_clear()
    _swg_opt.cache_clear()
    _swg_table_of.cache_clear()
    _compat.cache_clear()
    _grid.cache_clear()
    _MVAU_TABLES.clear()
    _PREPARED.clear()


def group_tables(graph: DataflowGraph, params: FpgaCostParams | None = None) -> list[GroupTable]:
    """The cached option table of every group of ``graph`` (user-fixed folding respected).

    Tables of MVAU groups missing from the cache are built together (one vectorised pass over
    all their PE/SIMD options); the others one by one.
    """
    p = params or FpgaCostParams()
    tables: list[Any] = []
    todo: list[tuple[int, tuple, tuple, tuple]] = []
    for grp in groups_of(graph):
        fixed = tuple(
            sorted(
                (n.name, tuple(sorted(graph.fixed[n.name].items())))
                for n in grp
                if n.name in graph.fixed
            )
        )
        nodes = tuple(_unfolded(n, graph.fixed.get(n.name)) for n in grp)
        if nodes[-1].op != "MVAU":
            tables.append(_group_table(nodes, fixed, p))
            continue
        key = (nodes, fixed, p)
        hit = _MVAU_TABLES.get(key)
        if hit is not None:
            _MVAU_TABLES.move_to_end(key)
        else:
            mac = nodes[-1]
            fm = dict(fixed).get(mac.name)
            fm = dict(fm) if fm else None
            todo.append(
                (
                    len(tables),
                    key,
                    _fix(divisors(mac.mh), fm, "pe"),
                    _fix(divisors(mac.mw), fm, "simd"),
                )
            )
        tables.append(hit)
    if todo:
        cyc, res, pe, simd, rt, counts = _mac_opts_cat(
            [(k[0][-1], pes, simds) for _, k, pes, simds in todo], p
        )
        ends = np.cumsum(counts).tolist()
        batch, where, lone, lone_where = [], [], [], []
        for (i, key, _, simds), b, c in zip(todo, ends, counts, strict=True):
            a = b - c
            if len(key[0]) == 1:
                lone.append((key[0][0], a, b))
                lone_where.append((i, key))
            elif _swg_table(key[0][0], p)[3]:
                batch.append((key[0], simds, a, b))
                where.append((i, key))
            else:
                t = _mvau_table(key[0], p, simds, cyc[a:b], res[a:b], pe[a:b], simd[a:b], rt[a:b])
                tables[i] = _MVAU_TABLES[key] = t
        made = _window_mvau_tables(batch, p, cyc, res, pe, simd, rt) if batch else []
        if lone:  # lone MVAUs: their options as they are (:func:`_mvau_table`), all at once
            idx = np.concatenate([np.arange(a, b) for _, a, b in lone])
            made += _tables(
                [(n.name,) for n, _, _ in lone],
                [tuple(_mac_keys(n.name)) for n, _, _ in lone],
                np.repeat(np.arange(len(lone)), [b - a for _, a, b in lone]),
                cyc[idx],
                res[idx],
                np.stack([pe[idx], simd[idx], rt[idx]], axis=1),
                int(cyc.max()) + 1,
            )
        for (i, key), t in zip(where + lone_where, made, strict=True):
            tables[i] = _MVAU_TABLES[key] = t
        while len(_MVAU_TABLES) > _MVAU_TABLES_MAX:
            _MVAU_TABLES.popitem(last=False)
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
    """Group tables combined with one target's capacity weights, concatenated so that a probe
    at a cycle budget is a handful of vectorised look-ups.

    Per table (cached on the table per weights): area of every option, prefix arg-min of the
    area and prefix minimum of each resource. Across tables: one array of each, with offsets.
    """

    def __init__(self, tables: list[GroupTable], weights: np.ndarray):
        self.tables = tables
        self.weights = weights
        wkey = self.wkey = ("w", weights.tobytes())
        self.cyc_list = [_cyc_list(t) for t in tables]
        per = [_per_weights(t, weights, wkey) for t in tables]
        self.area = [x[0] for x in per]
        sizes = [len(c) for c in self.cyc_list]
        self.offsets = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
        self.best_all = np.concatenate([x[1] + o for x, o in zip(per, self.offsets, strict=True)])
        self.minres_all = np.concatenate([x[2] for x in per])
        self.res_all = np.concatenate([t.res for t in tables])
        self.group_of = np.repeat(np.arange(len(tables)), sizes)
        self.pos = np.arange(len(self.res_all))
        self.lower = max(c[0] for c in self.cyc_list)  # fastest possible slowest node
        ts = np.unique(np.concatenate([t.cycles for t in tables]))
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
        return (g - self.offsets).tolist(), self.res_all[g].sum(axis=0)

    def lower_bound(self, ks: list[int]) -> np.ndarray:
        return self.minres_all[self.offsets + np.asarray(ks)].sum(axis=0)

    def total(self, choice: list[int]) -> np.ndarray:
        return self.res_all[self.offsets + np.asarray(choice)].sum(axis=0)

    def sets(self, ks: list[int]) -> list[tuple]:
        """Per group: the Pareto-optimal options of its prefix sorted by area (stable), with
        their areas and resources as Python numbers and the resources as an array, groups
        ordered by option count (cached on the tables per prefix and weights)."""
        sets = []
        for g, k in enumerate(ks):
            t = self.tables[g]
            key = ("set", k, self.wkey)
            hit = t.memo.get(key)
            if hit is None:
                idx = _skyline_at(t, k)
                a = self.area[g][idx].tolist()
                order = sorted(range(len(idx)), key=a.__getitem__)
                ordered = [idx[i] for i in order]
                arr = t.res[ordered]
                hit = t.memo[key] = (ordered, [a[i] for i in order], arr.tolist(), arr)
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


def _skyline_at(t: GroupTable, k: int) -> list[int]:
    """Options among the first ``k + 1`` of a table not dominated on all four resources
    (lexicographic order of their resources), cached on the table."""
    key = ("sky", k)
    hit = t.memo.get(key)
    if hit is None:
        hit = t.memo[key] = _skyline(t.res[: k + 1]).tolist()
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
    lp = (lam if lam is not None else np.zeros(4)).tolist()
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
        r = sets[j][3]
        m = [min(x[c] for x in r) for c in range(4)]
        s = suf_res[j + 1]
        suf_res[j] = [s[0] + m[0], s[1] + m[1], s[2] + m[2], s[3] + m[3]]
        suf_area[j] = suf_area[j + 1] + min(full[j][2])
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
            if dfs(j + 1, v0, v1, v2, v3, a, pu + pi):
                return True
        return False

    dfs(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if visits[0] > _BB_NODE_LIMIT:
        log.warning("folding search hit its node limit; the result may not be optimal")
    if best[1] is None:
        return None
    choice = [0] * n
    for j, s in enumerate(sets):
        choice[s[0]] = best[1][j]
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
        ok &= (res <= (lim0 - tot + mins)[gid]).all(axis=1)
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
    smallest ones together exceed the budget. Order within and between groups is kept."""
    sizes = [len(x[1]) for x in sets]
    res = np.concatenate([x[4] for x in sets])
    offsets = np.cumsum([0, *sizes[:-1]])
    gid = np.repeat(np.arange(len(sets)), sizes)
    ok = _trim_mask(res, offsets, gid, budget, rounds)
    if ok is None:
        return None
    if ok.all():
        return sets
    out = []
    for x, a, size in zip(sets, offsets.tolist(), sizes, strict=True):
        keep = ok[a : a + size]
        if keep.all():
            out.append(x)
            continue
        if not keep.any():
            return None
        k = np.flatnonzero(keep).tolist()
        out.append((x[0], [x[1][i] for i in k], [x[2][i] for i in k], [x[3][i] for i in k], None))
    return out


def _fits(total: np.ndarray, budget: np.ndarray) -> bool:
    return bool(np.all(total <= budget + 1e-9))


def _feasible(prep: _Prepared, T: float, budget: np.ndarray) -> bool:
    """Whether some choice with every group's cycles <= T fits under ``budget``."""
    ks = prep.ks(T)
    if ks is None:
        return False
    _, total = prep.pick(ks)
    if _fits(total, budget):
        return True
    if not _fits(prep.lower_bound(ks), budget):
        return False
    verdict, lam = _lagrange(prep, ks, budget, total)
    if verdict is not None:
        return verdict
    if _trimmed_out(prep, ks, budget):
        return False
    if _repaired(prep, ks, budget):
        return True
    return _exact(prep, ks, budget, first=True, lam=lam) is not None


def _repaired(prep: _Prepared, ks: list[int], budget: np.ndarray, steps: int = 8) -> bool:
    """A quick search for a witness: from the minimum-area choice, change one group's option
    at a time to the one that leaves the least overflow (relative to the budget; ties: the
    least area added), while the overflow shrinks. True when a choice that fits is reached
    (then it is one); False says nothing. Typical case: a LUT-bound design whose
    best move is putting one layer's products on DSPs."""
    b = budget + 1e-9
    inv = 1.0 / np.maximum(b, 1e-9)
    live = prep.pos <= (prep.offsets + np.asarray(ks))[prep.group_of]
    rows = np.flatnonzero(live)
    res, gid = prep.res_all[rows], prep.group_of[rows]
    area = np.concatenate([a[: k + 1] for a, k in zip(prep.area, ks, strict=True)])
    choice, total = prep.pick(ks)
    cur = prep.offsets + np.asarray(choice)  # chosen rows (indices into res_all)
    over = float((np.maximum(total - b, 0.0) * inv).sum())
    for _ in range(steps):
        delta = res - prep.res_all[cur][gid]  # change of the totals if row replaces its group's
        new_over = (np.maximum(total + delta - b, 0.0) * inv).sum(axis=1)
        best = new_over.min()
        if best >= over - 1e-12:
            return False
        hit = np.flatnonzero(new_over <= best + 1e-12)
        i = hit[np.argmin(area[hit])]
        total = total + delta[i]
        cur[gid[i]] = rows[i]
        over = float(best)
        if over <= 0.0:
            return _fits(prep.res_all[cur].sum(axis=0), budget)
    return False


def _trimmed_out(prep: _Prepared, ks: list[int], budget: np.ndarray, rounds: int = 3) -> bool:
    """:func:`_trim` on every option of the prefixes at once (no Pareto sets needed): True
    when it proves that no choice fits (a group loses every option, or the groups' smallest
    together exceed the budget). With a multiplier choice per layer most infeasible budgets
    are decided here (a LUT-bound design cannot move enough lanes onto too few DSPs)."""
    rows = np.flatnonzero(prep.pos <= (prep.offsets + np.asarray(ks))[prep.group_of])
    starts = np.concatenate([[0], np.cumsum(np.asarray(ks) + 1)[:-1]])
    ok = _trim_mask(prep.res_all[rows], starts, prep.group_of[rows], budget, rounds)
    return ok is None


def _lagrange(
    prep: _Prepared, ks: list[int], budget: np.ndarray, total: np.ndarray, rounds: int = 4
) -> tuple[bool | None, np.ndarray]:
    """Decide feasibility with Lagrangian relaxation when it can (None when it cannot), and
    the last prices tried.

    For prices ``lam >= 0`` on the four resources, the cheapest option of every group (within
    its prefix) at those prices gives (a) a witness when their total fits and (b) a proof of
    infeasibility when even their priced total exceeds the priced budget (no choice can be
    cheaper). Prices start at the capacity weights and rise on the resources that overflow.
    """
    b = budget + 1e-9
    lam = prep.weights.copy()
    end = (prep.offsets + np.asarray(ks))[prep.group_of]
    live = prep.pos <= end
    for _ in range(rounds):
        over = total > b
        lam = lam * np.where(over, 4.0 * np.maximum(total / np.maximum(b, 1e-9), 1.0), 0.5)
        v = np.where(live, prep.res_all @ lam, np.inf)
        mins = np.minimum.reduceat(v, prep.offsets)
        hit = np.flatnonzero(v == mins[prep.group_of])
        pick = hit[np.searchsorted(hit, prep.offsets)]
        total = prep.res_all[pick].sum(axis=0)
        if np.all(total <= b):
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

    def fastest() -> FoldResult:
        ts = prep.ts
        if not _feasible(prep, float(ts[-1]), budget):  # even the smallest design does not fit
            ks = prep.ks(float(ts[-1]))
            small, total = prep.pick(ks)  # type: ignore[arg-type]
            return result(small, False, _binding(total, budget), None)
        # feasibility is monotone in the budget and implies the per-resource lower bounds:
        # bisect on the (cheap) bounds first, then on feasibility above that
        lo, hi = 0, len(ts) - 1  # ts[hi] feasible
        while lo < hi:
            mid = (lo + hi) // 2
            if _lb_feasible(prep, float(ts[mid]), budget):
                hi = mid
            else:
                lo = mid + 1
        lo, hi = lo, len(ts) - 1
        if _feasible(prep, float(ts[lo]), budget):
            hi = lo
        else:
            lo += 1
        while lo < hi:
            mid = (lo + hi) // 2
            if _feasible(prep, float(ts[mid]), budget):
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
            ks = prep.ks(float(ts[hi - 1]))
            assert ks is not None
            lb = prep.lower_bound(ks)
            binding = _binding(lb if not _fits(lb, budget) else prep.pick(ks)[1], budget)
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
    if _fits(total, budget):
        return result(choice, True, None, True)
    choice2, viol = _select(prep, float(t_target), budget)
    if choice2 is not None:
        return result(choice2, True, None, True)
    return result(choice, False, _binding(viol if viol is not None else total, budget), True)


def finn_set_folding(
    graph: DataflowGraph,
    target_cycles: int,
    mvau_wwidth_max: int = 36,
    two_pass_relaxation: bool = True,
    params: FpgaCostParams | None = None,
) -> dict[str, dict[str, int]]:
    """FINN's greedy SetFolding, re-implemented from its published algorithm (a baseline).

    Per node in graph order: MVAU SIMD walks the divisors of MW until cycles < target (reverting
    one step if the weight width ``W*SIMD`` exceeds ``mvau_wwidth_max``), then PE walks the
    divisors of MH; VVAU PE, then SIMD once PE = C (its window copies PE); window SIMD, and
    Thresholding/LabelSelect PE walk their divisors. With two-pass relaxation it is run again
    with the achieved maximum as target. It ignores resources.

    Example:
        >>> from hwprune.ir import build_ir
        >>> g = build_ir([{"op": "fc", "out": 64, "wbits": 2, "abits": 2},
        ...               {"op": "fc", "out": 64, "wbits": 2, "abits": 2},
        ...               {"op": "fc", "out": 64, "wbits": 2, "abits": 2},
        ...               {"op": "fc", "out": 1, "wbits": 2, "abits": None}], (600,), 1,
        ...              label_select=False)
        >>> f = finn_set_folding(g, 100, mvau_wwidth_max=80)
        >>> [(f[k]["pe"], f[k]["simd"]) for k in ("fc0", "fc1", "fc2", "fc3")]
        [(16, 40), (1, 64), (1, 64), (1, 1)]
    """
    from hwprune.cost.fpga import node_cost

    p = params or FpgaCostParams()

    def one_pass(target: int) -> tuple[dict[str, dict[str, int]], int]:
        nodes = list(graph.nodes)
        folding: dict[str, dict[str, int]] = {}

        def cyc(n) -> int:
            return node_cost(n, p).cycles if n.op != "SlidingWindow" else swg_cycles(n)

        for i, n in enumerate(nodes):
            if n.op == "MVAU":
                n = replace(n, pe=1, simd=1)
                prev = 1
                for s in divisors(n.mw):
                    n = replace(n, simd=s)
                    if cyc(n) < target:
                        break
                    if n.wbits * s > mvau_wwidth_max:
                        n = replace(n, simd=prev)
                        break
                    prev = s
                for pe in divisors(n.mh):
                    n = replace(n, pe=pe)
                    if cyc(n) < target:
                        break
            elif n.op == "VVAU":
                n = replace(n, pe=1, simd=1)
                for pe in divisors(n.channels):
                    n = replace(n, pe=pe)
                    if cyc(n) < target:
                        break
                if cyc(n) >= target and n.pe == n.channels:
                    for s in divisors(n.kernel * n.kernel):
                        n = replace(n, simd=s)
                        if cyc(n) < target:
                            break
                if i > 0 and nodes[i - 1].op == "SlidingWindow":
                    nodes[i - 1] = replace(nodes[i - 1], simd=n.pe)
                    folding[nodes[i - 1].name] = {"simd": n.pe}
            elif n.op == "SlidingWindow" and not n.depthwise:
                for s in divisors(n.channels):
                    n = replace(n, simd=s)
                    if cyc(n) < target:
                        break
            elif n.op in ("Thresholding", "LabelSelect"):
                total = n.channels if n.op == "Thresholding" else n.labels
                for pe in divisors(total):
                    n = replace(n, pe=pe)
                    if cyc(n) < target:
                        break
            nodes[i] = n
            if n.op in ("MVAU", "VVAU"):
                folding[n.name] = {"pe": n.pe, "simd": n.simd}
            elif n.op == "SlidingWindow" and not n.depthwise:
                folding[n.name] = {"simd": n.simd}
            elif n.op in ("Thresholding", "LabelSelect"):
                folding[n.name] = {"pe": n.pe}
        return folding, max(cyc(n) for n in nodes)

    folding, achieved = one_pass(target_cycles)
    if two_pass_relaxation and achieved > target_cycles:
        folding, _ = one_pass(achieved)
    return folding
