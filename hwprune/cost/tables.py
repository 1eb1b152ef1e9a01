"""Folding option tables: every legal folding of every group of nodes, priced at once.

A *group* is a node, or a sliding window together with the MVAU/VVAU it feeds (their SIMDs
must agree). A group's :class:`GroupTable` lists its legal foldings sorted by cycles with their
LUT/FF/BRAM18/DSP (stream glue included), less the options another one dominates; the
optimizer (:mod:`hwprune.cost.optimizer`) picks one row per table.

Options are priced with the cost model's own per-kind functions
(:data:`hwprune.cost.fpga.COST_FUNCTIONS`): an :class:`OptionView` is a node whose folding
fields (``pe``, ``simd``, the multiplier ``res_type`` code) are arrays, one entry per option,
and the cost function broadcasts over them. So a table row and :func:`~hwprune.cost.fpga.node_cost`
of the folded node are the same numbers by construction. The options of all new MVAUs of a
design are priced in one pass (one view standing for several nodes).

Legality comes from the nodes (``fold_space``): ``PE | output channels``, ``SIMD | input
length`` (VVAU: ``k*k``, and ``SIMD > 1`` only with ``PE = channels``); a sliding window's SIMD
divides its input channels and its width has an integer ratio to the MVAU's (one of the two SIMDs
divides the other, so a width converter can join them); a depthwise window's SIMD equals its
VVAU's PE; a 2D max-pool processes all channels in parallel.

Tables are cached by the group's shape (its nodes named by position, see :func:`_anonymous`)
and handed out under the group's node names, so a layer shape seen in an earlier design is not
priced again whatever its name.

Multiplier resource: every MVAU/VVAU whose ``res_type`` is ``"auto"`` is offered both ways, its
products built from LUTs or on DSP48s (a column of the table like PE and SIMD; an XNOR-popcount
layer has no multiplier: LUTs only; a node with ``res_type`` ``"lut"`` or ``"dsp"`` keeps it).

Example:
    >>> from hwprune.ir import build_ir
    >>> g = build_ir([{"op": "fc", "out": 4, "wbits": 2, "abits": None}], (8,), 2)
    >>> t = group_tables(g)[0]
    >>> t.names, int(t.cycles[0]), t.assign(0)["fc0"]["pe"]
    (('fc0',), 1, 4)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import Any

import numpy as np

from hwprune.cost.array_ops import _all4, _dense_rank, _span
from hwprune.cost.fpga import (
    RES_CODES,
    FpgaCostParams,
    MacConstants,
    cost_function,
    glue_half,
    mac_constants,
)
from hwprune.ir import MVAU, VVAU, DataflowGraph, SlidingWindow, divisors


class OptionView:
    """A node whose folding fields are arrays (one entry per option), or a view of several
    nodes of one kind whose every numeric field is such an array.

    Attribute reads go to the given fields first and then to the node class (its properties,
    such as ``in_width``, are evaluated on the view), so the cost model's functions read a
    view as they read a node and broadcast over the options.

    Example:
        >>> from hwprune.ir import LabelSelect
        >>> v = OptionView(LabelSelect, {**LabelSelect("ls", 10, 16).__dict__,
        ...                              "pe": np.array([1, 2, 5, 10])})
        >>> v.in_width.tolist()
        [16, 32, 80, 160]
    """

    pe: Any
    simd: Any
    res_type: Any
    mac: Any

    def __init__(self, kind_class: type, values: Mapping[str, Any]):
        self.__dict__.update(values)
        self.kind_class = kind_class

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.kind_class, name)
        return attr.__get__(self, self.kind_class) if isinstance(attr, property) else attr


def option_costs(view: Any, p: FpgaCostParams, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Cycles (int64) and ``(m, 4)`` LUT/FF/BRAM18/DSP of the ``m`` options of ``view``,
    each with the two stream-glue halves of its node (producer and consumer side)."""
    c = cost_function(view)(view, p)
    gin, gout = glue_half(view.in_width, p), glue_half(view.out_width, p)
    res = np.empty((m, 4))
    res[:, 0] = c.lut + gin[0] + gout[0]
    res[:, 1] = c.ff + gin[1] + gout[1]
    res[:, 2] = c.bram18
    res[:, 3] = c.dsp
    return np.broadcast_to(np.asarray(c.cycles, dtype=np.int64), (m,)).copy(), res


def res_codes(n: Any) -> tuple[int, ...]:
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


@lru_cache(maxsize=4096)
def _grid(
    pes: tuple[int, ...], simds: tuple[int, ...], codes: tuple[int, ...] = (0,)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pe-major grid of every (PE, SIMD) pair, once per resource code: PE, SIMD, code."""
    a, b = np.asarray(pes, dtype=np.int64), np.asarray(simds, dtype=np.int64)
    m = len(a) * len(b)
    pe, simd = np.tile(np.repeat(a, len(b)), len(codes)), np.tile(b, len(a) * len(codes))
    return pe, simd, np.repeat(np.asarray(codes, dtype=np.int64), m)


def _mac_opts(n: Any, p: FpgaCostParams, pes: tuple, simds: tuple) -> tuple:
    """Every legal (pe, simd, multiplier resource) of one MVAU/VVAU: arrays cycles, res
    (m x 4, stream glue included), pe, simd, res_type code (:func:`res_codes`; one pe-major
    grid per code, in code order)."""
    pe, simd, rt = _grid(tuple(pes), tuple(simds), res_codes(n))
    if isinstance(n, VVAU):
        keep = n.legal(pe, simd)
        pe, simd, rt = pe[keep], simd[keep], rt[keep]
    view = OptionView(type(n), {**n.__dict__, "pe": pe, "simd": simd, "res_type": rt})
    view.mac = mac_constants(n, p)
    cycles, res = option_costs(view, p, len(pe))
    return cycles, res, pe, simd, rt


#: the MVAU fields :func:`_mac_opts_cat` may repeat per option (not its folding), and those of
#: its cost constants
_MVAU_FIELDS = tuple(f.name for f in fields(MVAU) if f.name not in ("pe", "simd"))
_MAC_FIELDS = tuple(f.name for f in fields(MacConstants))


def _mac_opts_cat(items: list[tuple], p: FpgaCostParams) -> tuple:
    """:func:`_mac_opts` of several MVAUs at once (``items``: (node, pes, simds)), on one
    concatenated array: cycles, res, pe, simd, res_type code and the option count of every
    item. The nodes' numeric fields and :class:`~hwprune.cost.fpga.MacConstants` are repeated
    per option, so that one call of the cost function prices them all (numpy's per-call
    overhead is paid once per design, not per layer)."""
    grids = [_grid(tuple(pes), tuple(simds), res_codes(n)) for n, pes, simds in items]
    counts = [len(g[0]) for g in grids]
    nodes = [n for n, _, _ in items]
    cols: dict[str, Any] = {}
    for name in _MVAU_FIELDS:
        vals = [getattr(n, name) for n in nodes]
        ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals)
        if ints:
            cols[name] = vals
    cols["obits"] = [n.obits for n in nodes]
    consts = [mac_constants(n, p) for n in nodes]
    for name in _MAC_FIELDS:
        cols["mac." + name] = [getattr(k, name) for k in consts]
    table = np.repeat(np.array(list(cols.values()), dtype=np.int64), counts, axis=1)
    values = dict(zip(cols, table, strict=True))
    view = OptionView(MVAU, {k: v for k, v in values.items() if not k.startswith("mac.")})
    view.mac = MacConstants(*(values["mac." + name] for name in _MAC_FIELDS))
    view.pe = np.concatenate([g[0] for g in grids])
    view.simd = np.concatenate([g[1] for g in grids])
    view.res_type = np.concatenate([g[2] for g in grids])
    cycles, res = option_costs(view, p, len(view.pe))
    return cycles, res, view.pe, view.simd, view.res_type, counts


def _swg_table(n: SlidingWindow, p: FpgaCostParams) -> tuple:
    """Every SIMD of a sliding window (the divisors of its channels): SIMD, cycles and
    resources with both stream-glue halves, as arrays (cycles decrease as it widens), and
    whether a wider window never costs less. Cached by shape (not by name)."""
    return _swg_table_of(
        (n.channels, n.ifm, n.kernel, n.stride, n.pad, n.bits, n.kind, n.depthwise, n.ram_style),
        p,
    )


@lru_cache(maxsize=8192)
def _swg_table_of(shape: tuple, p: FpgaCostParams) -> tuple:
    channels, ifm, kernel, stride, pad, bits, kind, depthwise, ram_style = shape
    n = SlidingWindow(
        "swg", channels, ifm, kernel, stride, pad, bits, kind, 1, depthwise, ram_style
    )
    sdiv = np.asarray(n.fold_space()["simd"], dtype=np.int64)
    cycles, res = option_costs(
        OptionView(SlidingWindow, {**n.__dict__, "simd": sdiv}), p, len(sdiv)
    )
    widening_costs = bool(np.all(np.diff(res, axis=0) >= 0)) and bool(np.all(np.diff(cycles) <= 0))
    return sdiv, cycles, res, widening_costs


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
        cr = res.take(champ, axis=0)
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
    r = res.take(order, axis=0)
    if len(r) > 1:
        dom = _all4(r[:-1] <= r[1:])
        if dom.any():
            keep = np.concatenate(([True], ~dom))
            order, r = order[keep], r.compress(keep, axis=0)
        keep = _undominated(r, np.zeros(len(r), dtype=np.int64))
        if not keep.all():
            order, r = order[keep], r.compress(keep, axis=0)
    return GroupTable(tuple(names), cycles[order], r, values.take(order, axis=0), tuple(keys))


#: how many rows back :func:`_undominated` looks for a dominating row
_REACH = 16


def _undominated(res: np.ndarray, tid: np.ndarray, reach: int = _REACH) -> np.ndarray:
    """The rows (sorted by group ``tid``, then cycles) that none of the ``reach - 1`` rows
    before them in their group dominates (no more of any resource; being earlier, it has no
    more cycles): an exact reduction like the predecessor's (on CNV variants the tables keep
    about 1,400 of 3,800 rows; the full five-dimensional Pareto set would be about 1,300).
    The same rows survive whether a group's table is reduced alone or with others."""
    n = len(res)
    dom = np.zeros(n, dtype=bool)
    r = np.ascontiguousarray(res)
    for s in range(2, min(reach, n)):
        d = _all4(r[:-s] <= r[s:])
        d &= tid[:-s] == tid[s:]
        dom[s:] |= d
    return ~dom


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
        res.take(r, axis=0) + s_res.take(c, axis=0),
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
    nl, lut = _dense_rank(res[:, 0])
    if (int(s.max()) + 1) * nl * nm < 2**62:  # by s, then LUTs, then m (distinct keys)
        order = np.argsort((s * nl + lut[m]) * nm + m)
    else:  # pragma: no cover - keys too large for int64
        order = np.lexsort((m, lut[m], s))
    mine = res.take(m, axis=0)
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
        dom &= _all4(mine >= res.take(cm, axis=0))
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
    idx = _span([(a, b) for *_, a, b in groups])
    rm = res[idx] if isinstance(idx, slice) else res.take(idx, axis=0)
    cm, pm, sm, tm = cyc[idx], pe[idx], simd[idx], rt[idx]
    n_opts = len(cm)
    cnt = np.array([b - a for *_, a, b in groups], dtype=np.int64)
    tid = np.repeat(np.arange(k), cnt)
    ns = np.array([len(x[0]) for x in sw], dtype=np.int64)  # window options per group
    so = np.concatenate([[0], np.cumsum(ns)[:-1]])
    s_arr = np.concatenate([x[0] for x in sw])
    s_cyc = np.concatenate([x[1] for x in sw])
    s_res = np.concatenate([x[2] for x in sw])
    nsimd = np.array([len(x[1]) for x in groups], dtype=np.int64)
    mo = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    sim = (np.arange(n_opts) - mo[tid]) % nsimd[tid]
    # per group: j0 = searchsorted(-s_cyc, -cyc); groups kept apart by a key offset
    skey = np.repeat(np.arange(k, dtype=np.int64), ns) * big - s_cyc
    j0 = np.searchsorted(skey, tid * big - cm, side="left") - so[tid]
    nst = ns[tid]
    nxt_off = np.concatenate([[0], np.cumsum([x[1].size for x in cp])[:-1]])
    first = np.concatenate([x[1].ravel() for x in cp])[nxt_off[tid] + sim * (nst + 1) + j0]
    comp_off = np.concatenate([[0], np.cumsum([x[0].size for x in cp])[:-1]])
    comp = np.concatenate([x[0].ravel() for x in cp])
    # window-bound pairs: window j < j0[m], compatible
    mp = np.repeat(np.arange(n_opts), j0)
    sp = np.arange(len(mp)) - np.repeat(np.cumsum(j0) - j0, j0)
    ok = comp[comp_off[tid[mp]] + sim[mp] * nst[mp] + sp]
    mp, sp = mp[ok], sp[ok]
    alive = _prune_pairs(mp, so[tid[mp]] + sp, rm)
    has = np.flatnonzero(first < nst)
    mr = np.concatenate([mp[alive], has])
    sr = np.concatenate([sp[alive], first[has]])
    # enumeration order: option-major, as np.nonzero of the per-group matrix (an option's
    # own fast window is wider than its window-bound ones)
    width = int(nst.max()) + 1 if len(nst) else 1
    tr = tid[mr]
    sg = so[tr] + sr
    cycles = np.maximum(cm[mr], s_cyc[sg])
    rr = rm.take(mr, axis=0) + s_res.take(sg, axis=0)
    values = np.stack([s_arr[sg], pm[mr], sm[mr], tm[mr]], axis=1)
    names = []
    keys = []
    for nodes, *_ in groups:
        swg, mac = nodes
        names.append((swg.name, mac.name))
        keys.append(((swg.name, "simd"), *_mac_keys(mac.name)))
    return _tables(names, keys, tr, cycles, rr, values, big, mr * width + sr, n_opts * width)


def _tables(
    names: list[tuple],
    keys: list[tuple],
    tid: np.ndarray,
    cycles: np.ndarray,
    res: np.ndarray,
    values: np.ndarray,
    big: int,
    pos: np.ndarray | None = None,
    npos: int = 0,
) -> list[GroupTable]:
    """:func:`_table` of several groups at once: ``tid`` says the group of every row, ``big``
    exceeds every cycle count; the rows of a group in enumeration order, or in the order of
    ``pos`` (distinct integers below ``npos``) when given."""
    n = len(cycles)
    if pos is None:
        pos, npos = np.arange(n), n
    nl, rank = _dense_rank(res[:, 0])
    if (len(names) + 1) * big * (nl + 1) * (npos + 1) < 2**62:
        # sort by (group, cycles, LUT, position): one unstable sort of a unique integer key
        # (the LUT as its rank among the distinct values), as np.lexsort orders them
        order = np.argsort(((tid * big + cycles) * nl + rank) * npos + pos)
    else:
        order = np.lexsort((pos, res[:, 0], cycles, tid))
    r, t = res.take(order, axis=0), tid[order]
    if len(r) > 1:  # drop the rows that their predecessor in the same group dominates
        dom = t[:-1] == t[1:]
        dom &= _all4(r[:-1] <= r[1:])
        if dom.any():
            keep = np.concatenate(([True], ~dom))
            order, r, t = order[keep], r.compress(keep, axis=0), t[keep]
        keep = _undominated(r, t)  # and those that one of the rows before them dominates
        if not keep.all():
            order, r, t = order[keep], r.compress(keep, axis=0), t[keep]
    cycles, values = cycles[order], values.take(order, axis=0)
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


def _space(n: Any, fixed: Mapping[str, Any] | None) -> dict[str, tuple[int, ...]]:
    """The node's folding space with the user-fixed values pinned."""
    return {k: _fix(v, fixed, k) for k, v in n.fold_space().items()}


@lru_cache(maxsize=8192)
def _group_table(nodes: tuple, fixed: tuple, p: FpgaCostParams) -> GroupTable:
    """Enumerate and cache the legal options of one group (nodes given unfolded)."""
    fx = {name: dict(items) for name, items in fixed}
    names = [x.name for x in nodes]
    mac = nodes[-1]
    if isinstance(mac, (MVAU, VVAU)):
        space = _space(mac, fx.get(mac.name))
        pes, simds = space["pe"], space["simd"]
        cyc, res, pe, simd, rt = _mac_opts(mac, p, pes, simds)
        if isinstance(mac, MVAU):
            return _mvau_table(nodes, p, simds, cyc, res, pe, simd, rt)
        if len(nodes) == 1:
            return _table(names, cyc, res, np.stack([pe, simd, rt], axis=1), _mac_keys(mac.name))
        swg = nodes[0]
        s_arr, s_cyc, s_res, _ = _swg_table(swg, p)
        at = np.searchsorted(s_arr, pe)  # the window's SIMD is the VVAU's PE
        return _table(
            names,
            np.maximum(cyc, s_cyc[at]),
            res + s_res.take(at, axis=0),
            np.stack([pe, pe, simd, rt], axis=1),
            [(swg.name, "simd"), *_mac_keys(mac.name)],
        )
    # any other node kind: the grid of its folding space, priced by its cost function
    (n,) = nodes
    space = _space(n, fx.get(n.name))
    keys = [(n.name, k) for k in space]
    grid = (
        np.stack(
            [
                a.ravel()
                for a in np.meshgrid(*(np.asarray(v) for v in space.values()), indexing="ij")
            ]
        ).T
        if space
        else np.zeros((1, 0), dtype=np.int64)
    )
    view = OptionView(type(n), {**n.__dict__, **dict(zip(space, grid.T, strict=True))})
    cycles, res = option_costs(view, p, len(grid))
    return _table(names, cycles, res, grid.astype(np.int64), keys)


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
        if (
            isinstance(n, SlidingWindow)
            and i + 1 < len(nodes)
            and isinstance(nodes[i + 1], (MVAU, VVAU))
        ):
            out.append((n, nodes[i + 1]))
            i += 2
        else:
            out.append((n,))
            i += 1
    return out


def _unfolded(n: Any, fixed: Mapping[str, Any] | None = None) -> Any:
    """``n`` with its folding reset (the optimizer's key), keeping its resource choice: a
    ``res_type`` in ``fixed`` (the graph's user-given folding) replaces the node's own."""
    if isinstance(n, (MVAU, VVAU)) and fixed and fixed.get("res_type", n.res_type) != n.res_type:
        n = replace(n, res_type=str(fixed["res_type"]))
    reset = {k: 1 for k in n.fold_space() if getattr(n, k) != 1}
    return replace(n, **reset) if reset else n


#: (unfolded nodes, fixed folding, params) -> GroupTable of the MVAU groups; bounded LRU
_MVAU_TABLES: OrderedDict[tuple, GroupTable] = OrderedDict()
_MVAU_TABLES_MAX = 2048


def clear_caches() -> None:
    """Forget every cached option table (for benchmarks of the cold path)."""
    _group_table.cache_clear()
    _swg_table_of.cache_clear()
    _compat.cache_clear()
    _grid.cache_clear()
    _MVAU_TABLES.clear()


def group_tables(graph: DataflowGraph, params: FpgaCostParams | None = None) -> list[GroupTable]:
    """The cached option table of every group of ``graph`` (user-fixed folding respected).

    Tables of MVAU groups missing from the cache are built together (one vectorised pass over
    all their PE/SIMD options); the others one by one.
    """
    p = params or FpgaCostParams()
    tables: list[Any] = []
    todo: list[tuple[int, tuple, tuple, tuple]] = []
    names: list[tuple[str, ...]] = []
    pending: dict[tuple, int] = {}  # key of a table being built -> its first group
    for grp in groups_of(graph):
        names.append(tuple(n.name for n in grp))
        fixed = tuple(
            (f"#{j}", tuple(sorted(graph.fixed[n.name].items())))
            for j, n in enumerate(grp)
            if n.name in graph.fixed
        )
        nodes = _anonymous([_unfolded(n, graph.fixed.get(n.name)) for n in grp])
        if not isinstance(nodes[-1], MVAU):
            tables.append(_group_table(nodes, fixed, p))
            continue
        key = (nodes, fixed, p)
        hit = _MVAU_TABLES.get(key)
        if hit is not None:
            _MVAU_TABLES.move_to_end(key)
        elif key in pending:  # the same shape twice in one design: built once
            tables.append(pending[key])
            continue
        else:
            pending[key] = len(tables)
            mac = nodes[-1]
            fm = dict(fixed).get(mac.name)
            space = _space(mac, dict(fm) if fm else None)
            todo.append((len(tables), key, space["pe"], space["simd"]))
        tables.append(hit)
    if todo:  # windowed groups first, then lone MVAUs: each kind's options are one slice
        todo.sort(
            key=lambda x: 1 if len(x[1][0]) == 1 else 0 if _swg_table(x[1][0][0], p)[3] else 2
        )
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
            idx = _span([(a, b) for _, a, b in lone])
            made += _tables(
                [(n.name,) for n, _, _ in lone],
                [tuple(_mac_keys(n.name)) for n, _, _ in lone],
                np.repeat(np.arange(len(lone)), [b - a for _, a, b in lone]),
                cyc[idx],
                res[idx] if isinstance(idx, slice) else res.take(idx, axis=0),
                np.stack([pe[idx], simd[idx], rt[idx]], axis=1),
                int(cyc.max()) + 1,
            )
        for (i, key), t in zip(where + lone_where, made, strict=True):
            tables[i] = _MVAU_TABLES[key] = t
        while len(_MVAU_TABLES) > _MVAU_TABLES_MAX:
            _MVAU_TABLES.popitem(last=False)
    return [
        _relabel(tables[t] if isinstance(t, int) else t, nm)
        for t, nm in zip(tables, names, strict=True)
    ]


def _anonymous(nodes: list[Any]) -> tuple:
    """The nodes of a group named by their position (``#0``, ``#1``): the tables' cache key,
    so that a layer shape seen in an earlier design (under other names) is not priced again.
    (Copies without re-running the frozen nodes' ``__init__``.)"""
    out = []
    for j, n in enumerate(nodes):
        m = object.__new__(type(n))
        m.__dict__.update(n.__dict__)
        m.__dict__["name"] = f"#{j}"
        out.append(m)
    return tuple(out)


def _relabel(t: GroupTable, names: tuple[str, ...]) -> GroupTable:
    """Table ``t`` (built for the :func:`_anonymous` nodes) under the group's node names; the
    arrays and the derived data cached with the table (``memo``) are shared."""
    if t.names == names:
        return t
    key = ("named", names)  # the same object each time, so what is cached by table stays
    hit = t.memo.get(key)
    if hit is not None:
        return hit
    real = dict(zip(t.names, names, strict=True))
    keys = tuple((real[a], b) for a, b in t.keys)
    hit = t.memo[key] = GroupTable(names, t.cycles, t.res, t.values, keys, t.memo)
    return hit
