"""FINN's SetFolding, re-implemented from its published algorithm: the baseline that
``bench/cost_speed.py`` compares the resource-aware optimizer (:mod:`hwprune.cost.optimizer`)
against. It is greedy and ignores resources.

Example:
    >>> from hwprune.ir import build_ir
    >>> g = build_ir([{"op": "fc", "out": 8, "wbits": 2, "abits": None}], (16,), 2)
    >>> finn_set_folding(g, 4)["fc0"]
    {'pe': 4, 'simd': 16}
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hwprune.cost.fpga import FpgaCostParams, node_cost
from hwprune.ir import (
    MVAU,
    VVAU,
    AddStreams,
    DataflowGraph,
    DuplicateStreams,
    GlobalAccPool,
    LabelSelect,
    SlidingWindow,
    Thresholding,
    divisors,
)


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
    p = params or FpgaCostParams()
    folding, achieved = _one_pass(graph, target_cycles, mvau_wwidth_max, p)
    if two_pass_relaxation and achieved > target_cycles:
        folding, _ = _one_pass(graph, achieved, mvau_wwidth_max, p)
    return folding


def _cycles(n: Any, p: FpgaCostParams) -> int:
    return int(node_cost(n, p).cycles)


def _walk(n: Any, key: str, values: tuple[int, ...], target: int, p: FpgaCostParams) -> Any:
    """``n`` with ``key`` set to the first of ``values`` that brings it under ``target``
    cycles (the last one if none does)."""
    for v in values:
        n = replace(n, **{key: v})
        if _cycles(n, p) < target:
            break
    return n


def _fold_mvau(n: MVAU, target: int, wwidth_max: int, p: FpgaCostParams) -> MVAU:
    n = replace(n, pe=1, simd=1)
    prev = 1
    for s in divisors(n.mw):
        n = replace(n, simd=s)
        if _cycles(n, p) < target:
            break
        if n.wbits * s > wwidth_max:
            n = replace(n, simd=prev)
            break
        prev = s
    return _walk(n, "pe", divisors(n.mh), target, p)


def _fold_vvau(n: VVAU, target: int, p: FpgaCostParams) -> VVAU:
    n = _walk(replace(n, pe=1, simd=1), "pe", divisors(n.channels), target, p)
    if _cycles(n, p) >= target and n.pe == n.channels:
        n = _walk(n, "simd", divisors(n.kernel * n.kernel), target, p)
    return n


def _one_pass(
    graph: DataflowGraph, target: int, wwidth_max: int, p: FpgaCostParams
) -> tuple[dict[str, dict[str, int]], int]:
    nodes = list(graph.nodes)
    folding: dict[str, dict[str, int]] = {}
    for i, n in enumerate(nodes):
        if isinstance(n, MVAU):
            n = _fold_mvau(n, target, wwidth_max, p)
            folding[n.name] = {"pe": n.pe, "simd": n.simd}
        elif isinstance(n, VVAU):
            n = _fold_vvau(n, target, p)
            folding[n.name] = {"pe": n.pe, "simd": n.simd}
            prev = nodes[i - 1] if i > 0 else None
            if isinstance(prev, SlidingWindow):  # the window copies the VVAU's PE
                nodes[i - 1] = replace(prev, simd=n.pe)
                folding[prev.name] = {"simd": n.pe}
        elif isinstance(n, SlidingWindow) and not n.depthwise:
            n = _walk(n, "simd", divisors(n.channels), target, p)
            folding[n.name] = {"simd": n.simd}
        elif isinstance(n, (Thresholding, DuplicateStreams, AddStreams, GlobalAccPool)):
            n = _walk(n, "pe", divisors(n.channels), target, p)
            folding[n.name] = {"pe": n.pe}
        elif isinstance(n, LabelSelect):
            n = _walk(n, "pe", divisors(n.labels), target, p)
            folding[n.name] = {"pe": n.pe}
        nodes[i] = n
    return folding, max(_cycles(n, p) for n in nodes)
