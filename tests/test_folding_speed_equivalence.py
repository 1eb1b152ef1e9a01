"""The folding optimizer's shortcuts choose exactly what the plain bisection chooses.

:func:`hwprune.cost.optimizer._fastest` first brackets the fastest feasible cycle budget with
bounds computed at every budget at once (:func:`~hwprune.cost.optimizer._bracket`), then probes
only inside the bracket. The reference below is the plain search it replaced: bisection on the
per-resource lower bounds, then on exact feasibility (each probe: :func:`_witness`). Over random
CNV-like designs, three targets, both folding modes and utilisation caps from roomy to
infeasible, every :class:`FoldResult` must be identical (same folding, cycles, fit, binding,
area).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from hwprune.cost import branch_bound, optimizer
from hwprune.cost.folding import fold
from hwprune.ir import build_ir
from hwprune.targets import load_target


def _reference_fastest(prep: Any, budget: np.ndarray, io: int) -> tuple:
    """The plain search: witness at the slowest budget, bisection on the lower bounds, then on
    feasibility; minimum-area choice at the first feasible budget."""
    o = optimizer
    ts = prep.ts

    def at(t: float) -> int | None:
        w = o._witness(prep, t, budget)
        return None if w is None else int(np.searchsorted(ts, w))

    top = at(float(ts[-1]))
    if top is None:
        ks = prep.ks(float(ts[-1]))
        small, total = prep.pick(ks)
        return small, False, o._binding(total, budget)
    lo = o._bisect(ts, 0, top, lambda t: len(ts) if o._lb_feasible(prep, t, budget) else None)
    hi = top
    if lo < top:
        hi = lo if at(float(ts[lo])) is not None else o._bisect(ts, lo + 1, top, at)
    t_star = int(ts[hi])
    choice, _ = o._select(prep, float(max(t_star, io)), budget)
    if t_star < io:
        binding = "io"
    elif hi == 0:
        binding = None
    else:
        ks = prep.ks(float(ts[hi - 1]))
        lb = prep.lower_bound(ks)
        binding = o._binding(lb if not o._fits(lb, budget) else prep.pick(ks)[1], budget)
    return choice, True, binding


def _random_design(rng: random.Random) -> Any:
    """A CNV-like network: random channel counts (multiples of 8) and 1/2/4-bit layers."""
    base = (64, 64, 128, 128, 256, 256, 512, 512)
    widths = [max(8, 8 * round(c * rng.uniform(0.25, 1.0) / 8)) for c in base]
    bits = [rng.choice((1, 2, 4)) for _ in range(17)]
    layers: list[dict[str, Any]] = []
    for i, c in enumerate(widths[:6]):
        layers.append(
            {"op": "conv", "out_ch": c, "kernel": 3, "wbits": bits[i], "abits": bits[9 + i]}
        )
        if i in (1, 3):
            layers.append({"op": "maxpool", "kernel": 2})
    for i, c in enumerate(widths[6:], start=6):
        layers.append({"op": "fc", "out": c, "wbits": bits[i], "abits": bits[9 + i]})
    layers.append({"op": "fc", "out": 10, "wbits": bits[8], "abits": None})
    return build_ir(layers, (3, 32, 32), 8, name="cnv-variant")


def _cases(n: int) -> list[tuple]:
    rng = random.Random(12)
    targets = [load_target(t) for t in ("pynq-z2", "ultra96-v2", "zcu104")]
    out = []
    for i in range(n):
        g, t = _random_design(rng), targets[i % 3]
        cap = rng.choice((0.02, 0.1, 0.25, 0.5))  # 0.02: nothing fits
        fps = rng.choice((1e3, 2e4, 1e9))  # 1e9: unreachable, falls back to "fastest"
        out += [
            (g, t, {"mode": "fastest"}),
            (g, t, {"mode": "fastest", "util_cap": cap}),
            (g, t, {"mode": "smallest", "fps": fps}),
            (g, t, {"mode": "smallest", "fps": fps, "util_cap": cap}),
        ]
    return out


@pytest.mark.parametrize("seed_designs", [150])
def test_bracketed_search_chooses_what_the_plain_bisection_chooses(monkeypatch, seed_designs):
    cases = _cases(seed_designs)
    optimizer.clear_caches()
    fast = [fold(g, t, **kw) for g, t, kw in cases]
    optimizer.clear_caches()
    monkeypatch.setattr(optimizer, "_fastest", _reference_fastest)
    plain = [fold(g, t, **kw) for g, t, kw in cases]
    optimizer.clear_caches()
    assert fast == plain
    fits = [r.fits for r in fast]
    assert any(fits) and not all(fits)  # both sides of the budget are exercised
    assert {r.binding for r in fast} >= {None, "lut"}


def _reference_trim(sets: list[tuple], budget: np.ndarray, rounds: int = 3) -> list | None:
    """The trimming on arrays (:func:`branch_bound._trim_mask`), as the branch and bound used it
    before it ran on the sets' Python numbers: the options (group, option index) that stay."""
    sizes = [len(x[1]) for x in sets]
    res = np.concatenate([np.asarray(x[3], dtype=float).reshape(-1, 4) for x in sets])
    offsets = np.cumsum([0, *sizes[:-1]])
    gid = np.repeat(np.arange(len(sets)), sizes)
    ok = branch_bound._trim_mask(res, offsets, gid, budget, rounds)
    if ok is None:
        return None
    out = []
    for x, a, size in zip(sets, offsets.tolist(), sizes, strict=True):
        keep = ok[a : a + size]
        if not keep.any():
            return None
        out.append((x[0], [x[1][i] for i in np.flatnonzero(keep)]))
    return out


def test_trimming_on_python_numbers_keeps_what_the_array_trimming_keeps():
    """:func:`branch_bound._trim` (Python numbers, cached smallest/largest resources) keeps the
    same options of every group as the array version, at budgets from roomy to infeasible."""
    rng = random.Random(7)
    t = load_target("pynq-z2")
    checked = trimmed = infeasible = 0
    for _ in range(12):
        g = _random_design(rng)
        optimizer.clear_caches()
        r = fold(g, t)
        prep = next(iter(optimizer._PREPARED.values()))[1]
        ks = prep.ks(float(max(r.node_cycles, prep.lower)))
        sets = prep.sets(ks)
        low = np.sum([np.min(np.asarray(x[3]), axis=0) for x in sets], axis=0)
        high = np.sum([np.max(np.asarray(x[3]), axis=0) for x in sets], axis=0)
        for _ in range(20):  # between the smallest and the largest choice, per resource
            budget = low + (high - low) * np.array([rng.uniform(-0.05, 0.6) for _ in range(4)])
            got = branch_bound._trim(sets, budget)
            ref = _reference_trim(sets, budget)
            if ref is None:
                assert got is None
                infeasible += 1
                continue
            assert got is not None
            assert [(x[0], x[1]) for x in got] == ref
            for x in got:  # the smallest resources handed on match the options kept
                assert tuple(x[4]) == tuple(np.min(np.asarray(x[3]), axis=0).tolist())
            checked += 1
            trimmed += sum(len(x[1]) for x in got) < sum(len(x[1]) for x in sets)
    optimizer.clear_caches()
    assert checked > 50 and trimmed > 10 and infeasible > 10
