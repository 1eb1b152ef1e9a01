"""Folding optimizer: legality, user-fixed folding, and equality with the exhaustive optimum."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import replace

import pytest

from hwprune.cost.folding import finn_set_folding, fold
from hwprune.estimate import estimate, evaluate
from hwprune.ir import build_ir, divisors
from hwprune.targets import FpgaTarget, load_target


def tiny_target(lut: float, ff: float, bram18: float, dsp: float, io: int = 4096) -> FpgaTarget:
    return FpgaTarget(
        name="tiny",
        part="xc7z007s",
        family="zynq7000",
        lut=lut,
        ff=ff,
        bram18=max(bram18, 1e-9),
        dsp=dsp,
        clock_mhz=100.0,
        io_width_bits=io,
        shell_lut=500,
        shell_ff=500,
        dma_lut=100,
        dma_ff=100,
        util_cap=1.0,
    )


def res_choices(n) -> tuple[str, ...]:
    """Multiplier resources an MVAU/VVAU may use: its own, or both when "auto" (an XNOR layer
    has no multiplier: LUTs only)."""
    if n.res_type != "auto":
        return (n.res_type,)
    return ("lut",) if n.wkind == "bipolar" and n.in_kind == "bipolar" else ("lut", "dsp")


def all_foldings(graph):
    """Every legal folding (PE, SIMD and multiplier resource), enumerated independently of the
    optimizer's tables."""
    per_node = []
    nodes = graph.nodes
    for i, n in enumerate(nodes):
        if n.op == "MVAU":
            opts = [
                {n.name: {"pe": p, "simd": s, "res_type": r}}
                for r in res_choices(n)
                for p in divisors(n.mh)
                for s in divisors(n.mw)
            ]
        elif n.op == "VVAU":
            opts = [
                {n.name: {"pe": p, "simd": s, "res_type": r}, nodes[i - 1].name: {"simd": p}}
                for r in res_choices(n)
                for p in divisors(n.channels)
                for s in divisors(n.kernel**2)
                if s == 1 or p == n.channels
            ]
        elif n.op == "LabelSelect":
            opts = [{n.name: {"pe": p}} for p in divisors(n.labels)]
        elif n.op == "SlidingWindow" and not n.depthwise:
            opts = [{n.name: {"simd": s}} for s in divisors(n.channels)]
        else:
            continue
        per_node.append(opts)
    for combo in itertools.product(*per_node):
        f = {}
        for part in combo:
            f.update(part)
        ok = True
        for i, n in enumerate(nodes):  # window/MVAU width ratio must be an integer
            if n.op == "SlidingWindow" and not n.depthwise:
                s, m = f[n.name]["simd"], f[nodes[i + 1].name]["simd"]
                ok = ok and (s % m == 0 or m % s == 0)
        if ok:
            yield f


def area(e, t) -> float:
    return e.lut / t.lut + e.ff / t.ff + e.bram18 / t.bram18 + e.dsp / max(t.dsp, 1)


NETS = {
    # 8-bit outputs: 255 thresholds a channel, a shallow memory wider than one block RAM
    "wide-thresholds": (
        [
            {"op": "fc", "out": 16, "wbits": 4, "abits": 8},
            {"op": "fc", "out": 4, "wbits": 4, "abits": None},
        ],
        (1, 4, 4),
        8,
    ),
    "conv-pool-fc": (
        [
            {"op": "conv", "out_ch": 4, "kernel": 3, "wbits": 2, "abits": 2},
            {"op": "maxpool", "kernel": 2},
            {"op": "fc", "out": 6, "wbits": 2, "abits": 2},
            {"op": "fc", "out": 3, "wbits": 2, "abits": None},
        ],
        (1, 6, 6),
        8,
    ),
    "two-convs": (
        [
            {"op": "conv", "out_ch": 4, "kernel": 3, "wbits": 4, "abits": 2},
            {"op": "conv", "out_ch": 3, "kernel": 2, "pad": 1, "wbits": 2, "abits": 1},
            {"op": "fc", "out": 2, "wbits": 1, "abits": None},
        ],
        (2, 4, 4),
        8,
    ),
    "depthwise": (
        [
            {"op": "conv", "out_ch": 4, "kernel": 1, "wbits": 2, "abits": 2},
            {"op": "conv", "out_ch": 4, "kernel": 3, "groups": 4, "wbits": 4, "abits": 2},
            {"op": "fc", "out": 4, "wbits": 2, "abits": None},
        ],
        (2, 5, 5),
        8,
    ),
}


def _space(net):
    layers, shape, bits = NETS[net]
    g = build_ir(layers, shape, bits)
    big = tiny_target(10**7, 10**7, 10**4, 10**4)
    rows = []
    for f in all_foldings(g):
        e = evaluate(g.with_folding(f), big, util_cap=1.0)
        rows.append((e, f))
    return g, rows


@pytest.fixture(scope="module", params=sorted(NETS))
def space(request):
    return request.param, *_space(request.param)


def _fits(e, t, cap):
    return (
        e.lut <= cap * t.lut + 1e-9
        and e.ff <= cap * t.ff + 1e-9
        and e.bram18 <= cap * t.bram18 + 1e-9
        and e.dsp <= cap * t.dsp + 1e-9
    )


def budgets(rows, n: int = 10, seed: int = 0):
    """Budgets in the interesting region: each resource capped at the usage of one of two
    random designs, so different resources bind and trade against each other."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.choice(rows)[0], rng.choice(rows)[0]
        pick = [rng.random() < 0.5 for _ in range(4)]
        vec = [
            max(x, y) if p else min(x, y)
            for x, y, p in zip(
                (a.lut, a.ff, a.bram18, a.dsp), (b.lut, b.ff, b.bram18, b.dsp), pick, strict=False
            )
        ]
        out.append(tuple(v * (1 + 1e-9) for v in vec))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("k", range(10))
def test_fastest_equals_exhaustive_optimum(space, k):
    net, g, rows = space
    t = tiny_target(*budgets(rows)[k])
    fitting = [(e, f) for e, f in rows if _fits(e, t, 1.0)]
    got = estimate(g, t, util_cap=1.0)
    if not fitting:
        assert not got.fits and got.binding in ("lut", "ff", "bram18", "dsp")
        return
    best_fps = max(e.fps for e, _ in fitting)
    best_area = min(area(e, t) for e, _ in fitting if e.fps >= best_fps * (1 - 1e-12))
    assert got.fits
    assert got.fps == pytest.approx(best_fps, rel=1e-12), net
    assert area(got, t) == pytest.approx(best_area, rel=1e-9), net
    for lay in got.layers:  # the multiplier resource is part of the folding found
        if lay.op in ("MVAU", "VVAU"):
            assert got.folding[lay.name]["res_type"] == lay.res_type


@pytest.mark.slow
@pytest.mark.parametrize("k", range(4))
def test_smallest_equals_exhaustive_optimum(space, k):
    net, g, rows = space
    t = tiny_target(*budgets(rows, seed=1)[k])
    fps_levels = sorted({round(e.fps, 6) for e, _ in rows})
    for want in fps_levels[:: max(1, len(fps_levels) // 6)]:
        ok = [(e, f) for e, f in rows if _fits(e, t, 1.0) and e.fps >= want * (1 - 1e-9)]
        got = estimate(g, t, fps=want * (1 - 1e-9), util_cap=1.0)
        if not ok:
            assert not (got.fits and got.meets_fps)
            continue
        assert got.fits and got.meets_fps
        assert area(got, t) == pytest.approx(min(area(e, t) for e, _ in ok), rel=1e-9), (net, want)


def test_result_is_legal_and_fixed_folding_is_kept():
    layers = [
        {"op": "conv", "out_ch": 64, "kernel": 3, "wbits": 1, "abits": 1},
        {"op": "conv", "out_ch": 64, "kernel": 3, "wbits": 1, "abits": 1, "pe": 4},
        {"op": "maxpool", "kernel": 2},
        {"op": "fc", "out": 128, "wbits": 1, "abits": 1, "simd": 8},
        {"op": "fc", "out": 10, "wbits": 1, "abits": None},
    ]
    g = build_ir(layers, (3, 32, 32), 8)
    e = estimate(g, "pynq-z2")
    folded = g.with_folding(e.folding)
    assert folded.node("conv1").pe == 4 and folded.node("fc0").simd == 8
    for i, n in enumerate(folded.nodes):
        if n.op == "MVAU":
            assert n.mh % n.pe == 0 and n.mw % n.simd == 0
        if n.op == "SlidingWindow":
            m = folded.nodes[i + 1]
            assert n.channels % n.simd == 0
            assert m.simd % n.simd == 0 or n.simd % m.simd == 0
    assert e.fits


def test_smallest_reaches_fps_with_less_area_than_fastest():
    t = load_target("pynq-z2")
    d = {
        "input": {"shape": [3, 32, 32], "bits": 8},
        "layers": [
            {"op": "conv", "out_ch": 32, "kernel": 3, "wbits": 2, "abits": 2},
            {"op": "maxpool", "kernel": 2},
            {"op": "conv", "out_ch": 64, "kernel": 3, "wbits": 2, "abits": 2},
            {"op": "fc", "out": 10, "wbits": 2, "abits": None},
        ],
    }
    fast = estimate(d, t)
    slow = estimate(d, t, fps=fast.fps / 10)
    assert slow.meets_fps and slow.fps >= fast.fps / 10
    assert area(slow, t) < area(fast, t)
    assert slow.fps < fast.fps


def test_unreachable_fps_falls_back_to_fastest():
    d = {
        "input": {"shape": [1, 8, 8], "bits": 8},
        "layers": [{"op": "fc", "out": 16, "wbits": 2, "abits": None}],
    }
    e = estimate(d, "pynq-z2", fps=1e12)
    assert e.meets_fps is False and e.fits


def test_finn_set_folding_reproduces_the_unsw_worked_example():
    """FINN notebook: target 100 cycles, mvau_wwidth_max=80 -> (16,40), (1,64), (1,64), (1,1)."""
    layers = [{"op": "fc", "out": 64, "wbits": 2, "abits": 2}] * 3 + [
        {"op": "fc", "out": 1, "wbits": 2, "abits": None}
    ]
    g = build_ir(layers, (600,), 1, label_select=False)
    f = finn_set_folding(g, 100, mvau_wwidth_max=80)
    got = [(f[n]["pe"], f[n]["simd"]) for n in ("fc0", "fc1", "fc2", "fc3")]
    assert got == [(16, 40), (1, 64), (1, 64), (1, 1)]
    cycles = [n.cycles for n in evaluate(g.with_folding(f), load_target("pynq-z2")).layers]
    assert cycles == [60, 64, 64, 64]


def test_resource_aware_folding_fits_where_setfolding_does_not():
    t = load_target("pynq-z2")
    pool = {"op": "maxpool", "kernel": 2}
    layers = [
        {"op": "conv", "out_ch": c, "kernel": 3, "wbits": 1, "abits": 1} if c else pool
        for c in (64, 64, 0, 128, 128, 0, 256, 256)
    ]
    layers += [{"op": "fc", "out": 512, "wbits": 1, "abits": 1}] * 2 + [
        {"op": "fc", "out": 10, "wbits": 1, "abits": None}
    ]
    g = build_ir(layers, (3, 32, 32), 8)
    ours = estimate(g, t)
    assert ours.fits
    # SetFolding ignores resources: asked for our frames/s it overflows the board (DSPs of
    # the 8-bit first layer), and no SetFolding that fits is faster than ours
    same = evaluate(g.with_folding(finn_set_folding(g, int(1e8 / ours.fps))), t)
    assert not same.fits and same.binding == "dsp"
    for fps in (ours.fps * 2, ours.fps, ours.fps / 2, ours.fps / 4):
        finn = evaluate(g.with_folding(finn_set_folding(g, int(1e8 / fps))), t)
        assert not finn.fits or finn.fps <= ours.fps * (1 + 1e-9)


def test_the_folding_chooses_the_multiplier_resource_of_each_layer():
    """FINN's TFC (784-64-64-64-10), 2-bit weights and activations, priced as the search prices
    a candidate, on pynq-z2 (220 DSPs): with the 8-bit pixels the first layer's products went
    on DSPs by the fixed rule, which bound the design at 235k frames/s whatever its weight
    bits. Built from LUTs where that pays, it is faster and no longer DSP-bound."""
    from hwprune.models import get_spec
    from hwprune.recipe import Recipe
    from hwprune.search import Candidate, make_design, price

    t = load_target("pynq-z2")
    cand = Candidate((64, 64, 64), (2, 2, 2, 2), (2, 2, 2, None))
    design = make_design(get_spec("tfc"), cand, 8, "tfc")
    free, hw, _ = price(design, t, Recipe())
    dsp_only = {**design, "layers": [dict(x) for x in design["layers"]]}
    dsp_only["layers"][0]["res_type"] = "dsp"  # the fixed rule's choice for 8-bit inputs
    fixed, hw_fixed, _ = price(dsp_only, t, Recipe())
    assert fixed.folding["fc0"]["res_type"] == "dsp" and hw_fixed["binding"] == "dsp"
    assert hw_fixed["fps"] == pytest.approx(235849, rel=1e-4)
    assert hw["fits"] and hw["binding"] != "dsp"
    assert hw["fps"] > 3 * hw_fixed["fps"]
    assert free.folding["fc0"]["res_type"] == "lut" and free.layers[0].res_type == "lut"
    # the fixed rule alone (every layer priced as "auto", with the folding the search found
    # for the DSP-only first layer) is what it was: DSP lanes for the 8-bit input
    auto = evaluate(
        build_ir(design["layers"], (1, 28, 28), 8).with_folding(
            {
                k: {kk: vv for kk, vv in v.items() if kk != "res_type"}
                for k, v in fixed.folding.items()
            }
        ),
        t,
    )
    assert auto.layers[0].res_type == "dsp" and auto.dsp == fixed.dsp


def test_a_folded_graph_prices_as_its_table_rows_and_round_trips_as_a_design(tmp_path):
    """The folding's resources (its option-table rows) are what the scalar cost model gives the
    folded graph; the search's design JSON (PE, SIMD, res_type per conv/fc layer) loads, and
    pricing it again gives the same estimate."""
    from hwprune.design import graph_from_design, load_design, save_design
    from hwprune.search import _with_folding

    t = load_target("pynq-z2")
    for layers, shape, bits in NETS.values():
        design = {"name": "d", "input": {"shape": list(shape), "bits": bits}, "layers": layers}
        for fps in (None, 2e4):
            g = graph_from_design(design)
            r = fold(g, t, mode="smallest" if fps else "fastest", fps=fps)
            e = evaluate(g.with_folding(r.folding), t)
            cap = t.capacity()
            used = sum(getattr(e, k) / max(cap[k], 1) for k in ("lut", "ff", "bram18", "dsp"))
            assert used == pytest.approx(r.area, rel=1e-9)
            for lay in e.layers:
                if lay.op in ("MVAU", "VVAU"):
                    assert r.folding[lay.name]["res_type"] == lay.res_type in ("lut", "dsp")
            est = estimate(design, t, fps=fps)
            written = _with_folding(design, est)
            conv_fc = [x for x in written["layers"] if x["op"] in ("conv", "fc")]
            assert all(x["res_type"] in ("lut", "dsp") for x in conv_fc)
            path = save_design(written, tmp_path / "design.json")
            again = estimate(load_design(path), t, fps=fps).to_dict()
            # everything fixed, no faster folding is left for a resource to stop
            assert again.pop("binding") in (None, est.binding)
            assert again.pop("pinned") and not est.pinned  # the second one was given a folding
            assert again == {
                k: v for k, v in est.to_dict().items() if k not in ("binding", "pinned")
            }


def test_a_given_res_type_is_kept():
    layers = [
        {"op": "fc", "out": 16, "wbits": 2, "abits": 2, "res_type": "dsp"},
        {"op": "fc", "out": 8, "wbits": 8, "abits": 2, "res_type": "lut"},
        {"op": "fc", "out": 4, "wbits": 2, "abits": None},
    ]
    g = build_ir(layers, (1, 8, 8), 8)
    for fps in (None, 1e3, 1e6):
        e = estimate(g, "pynq-z2", fps=fps)
        assert [x.res_type for x in e.layers[:2]] == ["dsp", "lut"]
        assert e.layers[0].dsp > 0 and e.layers[1].dsp == 0
    # given as the graph's fixed folding (as an export's partial folding is) it is kept too
    free = build_ir([{k: v for k, v in x.items() if k != "res_type"} for x in layers], (1, 8, 8), 8)
    pinned_by_fixed = replace(free, fixed={"fc0": {"res_type": "dsp"}, "fc1": {"res_type": "lut"}})
    r = fold(pinned_by_fixed, load_target("pynq-z2"))
    assert r.folding["fc0"]["res_type"] == "dsp" and r.folding["fc1"]["res_type"] == "lut"


def test_feasibility_shortcuts_and_branch_and_bound_agree_with_brute_force():
    """The exact parts of the folding search against brute force over every combination of
    the groups' Pareto-optimal options, on budgets around the minimum-area choice: the branch
    and bound's minimum area and feasibility, the trimming's infeasibility proofs and the
    greedy repair's witnesses (with a multiplier choice per layer these decide most probes)."""
    import numpy as np

    from hwprune.cost.folding import group_tables
    from hwprune.cost.optimizer import _exact, _prepared, _repaired, _trimmed_out

    rng = random.Random(4)
    checked = proofs = witnesses = 0
    for layers, shape, bits in NETS.values():
        g = build_ir(layers, shape, bits)
        tables = group_tables(g)
        weights = 1.0 / np.array([53200.0, 106400.0, 280.0, 220.0])
        prep = _prepared(tables, weights)
        for T in prep.ts[:: max(1, len(prep.ts) // 12)]:
            ks = prep.ks(float(T))
            sets = prep.sets(ks)
            if math.prod(len(x[1]) for x in sets) > 20000:
                continue
            combos = list(itertools.product(*(range(len(x[1])) for x in sets)))
            for _ in range(6):  # each resource capped at the use of one of two random choices
                a, b = (
                    np.sum([x[3][i] for x, i in zip(sets, rng.choice(combos), strict=True)], axis=0)
                    for _ in range(2)
                )
                budget = np.where([rng.random() < 0.5 for _ in range(4)], a, b)
                fit = [
                    sum(x[2][i] for x, i in zip(sets, c, strict=True))
                    for c in combos
                    if all(
                        sum(x[3][i][r] for x, i in zip(sets, c, strict=True)) <= budget[r] + 1e-9
                        for r in range(4)
                    )
                ]
                got = _exact(prep, ks, budget)
                assert (got is None) == (not fit)
                if fit:
                    area = sum(prep.area[gi][ci] for gi, ci in enumerate(got))
                    assert area == pytest.approx(min(fit), rel=1e-12, abs=1e-12)
                    assert np.all(prep.total(got) <= budget + 1e-9)
                lam = np.array([rng.uniform(0, 1) for _ in range(4)]) * weights
                assert (_exact(prep, ks, budget, first=True, lam=lam) is None) == (not fit)
                if _trimmed_out(prep, ks, budget):
                    assert not fit
                    proofs += 1
                if _repaired(prep, ks, budget):
                    assert fit
                    witnesses += 1
                checked += 1
    assert checked > 100 and proofs > 5 and witnesses > 5


def test_fold_modes_reject_bad_arguments():
    g = build_ir([{"op": "fc", "out": 4, "wbits": 2, "abits": None}], (4,), 2)
    with pytest.raises(ValueError):
        fold(g, load_target("pynq-z2"), mode="balanced")
    with pytest.raises(ValueError):
        fold(g, load_target("pynq-z2"), mode="smallest")


def test_vectorised_option_tables_match_the_scalar_cost_model():
    """Every option row equals node_cost of the folded nodes plus their stream-glue halves,
    with the products in LUTs and on DSPs (the resource the row says) and with a res_type fixed
    by the design."""
    from hwprune.cost.folding import group_tables, groups_of
    from hwprune.cost.fpga import FpgaCostParams, glue_half, node_cost

    p = FpgaCostParams()
    seen = set()
    nets = [build_ir(*net) for net in NETS.values()]
    fixed = [dict(lay) for lay in NETS["conv-pool-fc"][0]]
    fixed[0]["res_type"], fixed[2]["res_type"] = "dsp", "lut"
    nets.append(build_ir(fixed, *NETS["conv-pool-fc"][1:]))
    for per_pe in (False, True):
        params = p if not per_pe else type(p)(**{**p.__dict__, "weight_layout": "per_pe"})
        for g in nets:
            for grp, table in zip(groups_of(g), group_tables(g, params), strict=False):
                for i in range(0, len(table.cycles), max(1, len(table.cycles) // 40)):
                    f = table.assign(i)
                    folded = g.with_folding(f)
                    seen.update(x["res_type"] for x in f.values() if "res_type" in x)
                    for n in grp:
                        if getattr(n, "res_type", "auto") != "auto":  # a fixed one is kept
                            assert f[n.name]["res_type"] == n.res_type
                    nodes = [folded.node(n.name) for n in grp]
                    costs = [node_cost(n, params) for n in nodes]
                    glue = [
                        sum(
                            glue_half(w, params)[j]
                            for n in nodes
                            for w in (n.in_width, n.out_width)
                        )
                        for j in (0, 1)
                    ]
                    want = [
                        sum(c.lut for c in costs) + glue[0],
                        sum(c.ff for c in costs) + glue[1],
                        sum(c.bram18 for c in costs),
                        sum(c.dsp for c in costs),
                    ]
                    assert table.res[i] == pytest.approx(want, rel=1e-12)
                    assert table.cycles[i] == max(c.cycles for c in costs)
    assert seen == {"lut", "dsp"}


# --- the option tables against a naive enumeration priced by the scalar cost model


def _random_design(rng: random.Random) -> tuple[list[dict], tuple[int, int, int], int]:
    """A random CNV-like or MLP-like design as a search proposes them (channel counts in
    multiples of 8, mixed bit widths, sometimes 8-bit weights, depthwise convolutions,
    padding, strides or user-fixed PE/SIMD)."""
    bits = (1, 2, 4, 4, 8) if rng.random() < 0.2 else (1, 2, 4)
    layers: list[dict] = []
    if rng.random() < 0.7:
        shape = (rng.choice((1, 3)), rng.choice((16, 24, 32)), rng.choice((16, 24, 32)))
        c, h = shape[0], min(shape[1:])
        for i in range(rng.randint(1, 5)):
            k = rng.choice((1, 3, 3, 3))
            if i > 0 and rng.random() < 0.15 and h > 3:
                layers.append(
                    {"op": "conv", "out_ch": c, "kernel": 3, "groups": c, "pad": 1}
                )  # depthwise
            else:
                pad = rng.choice((0, 0, 1)) if k == 3 else 0
                stride = rng.choice((1, 1, 2)) if k == 3 and h > 8 else 1
                c = 8 * rng.randint(1, 16)
                layers.append(
                    {"op": "conv", "out_ch": c, "kernel": k, "pad": pad, "stride": stride}
                )
                h = (h + 2 * pad - k) // stride + 1
            if h >= 4 and rng.random() < 0.3:
                layers.append({"op": "maxpool", "kernel": 2})
                h //= 2
            if h < 3:
                break
    else:
        shape = (1, rng.choice((8, 16, 28)), rng.choice((8, 16, 28)))
    for _ in range(rng.randint(0, 2)):
        layers.append({"op": "fc", "out": 8 * rng.randint(1, 32)})
    layers.append({"op": "fc", "out": rng.choice((2, 10, 16))})
    for lay in layers:
        if lay["op"] != "maxpool":
            lay["wbits"] = rng.choice(bits)
            lay["abits"] = rng.choice(bits)
    layers[-1]["abits"] = None
    return layers, shape, rng.choice((1, 8)) if shape[0] == 1 else 8


def naive_rows(grp, p) -> set[tuple]:
    """Every legal folding of a group (window + MVAU/VVAU, or one node), priced node by node
    with ``node_cost`` plus the stream-glue halves: (cycles, lut, ff, bram18, dsp, values...)
    in the table's column order. Written from the legality rules, not from the tables' code."""
    from hwprune.cost.fpga import glue_half, node_cost
    from hwprune.ir import MVAU, VVAU, SlidingWindow

    def price(nodes):
        cs = [node_cost(n, p) for n in nodes]
        gl = [
            sum(glue_half(w, p)[j] for n in nodes for w in (n.in_width, n.out_width))
            for j in (0, 1)
        ]
        return (
            max(c.cycles for c in cs),
            sum(c.lut for c in cs) + gl[0],
            sum(c.ff for c in cs) + gl[1],
            sum(c.bram18 for c in cs),
            sum(c.dsp for c in cs),
        )

    rows = set()
    mac = grp[-1]
    if isinstance(mac, (MVAU, VVAU)):
        rts = ("lut",) if mac.xnor else ("lut", "dsp")
        cols = divisors(mac.mw) if isinstance(mac, MVAU) else divisors(mac.kernel**2)
        outs = divisors(mac.mh) if isinstance(mac, MVAU) else divisors(mac.channels)
        for pe, simd, rt in itertools.product(outs, cols, rts):
            if isinstance(mac, VVAU) and simd > 1 and pe != mac.channels:
                continue
            m = replace(mac, pe=pe, simd=simd, res_type=rt)
            code = ("lut", "dsp").index(rt)
            if len(grp) == 1:
                rows.add((*price([m]), pe, simd, code))
                continue
            for s in divisors(grp[0].channels):
                if mac.op == "VVAU" and s != pe:
                    continue
                if mac.op == "MVAU" and s % simd and simd % s:
                    continue
                rows.add((*price([replace(grp[0], simd=s), m]), s, pe, simd, code))
    elif isinstance(grp[0], SlidingWindow):
        rows = {(*price([replace(grp[0], simd=s)]), s) for s in divisors(grp[0].channels)}
    elif grp[0].op == "MaxPool":
        rows = {price(grp)}
    else:
        total = grp[0].channels if grp[0].op == "Thresholding" else grp[0].labels
        rows = {(*price([replace(grp[0], pe=pe)]), pe) for pe in divisors(total)}
    return rows


@pytest.mark.parametrize("layout", ["shared", "per_pe"])
def test_tables_keep_only_rows_of_the_naive_enumeration_and_drop_only_dominated_ones(layout):
    """Each table holds legal foldings priced as ``node_cost`` prices the folded nodes, and
    every legal folding it leaves out is dominated by a kept row (no more cycles, no more of
    any resource) that comes first in table order: the reductions are exact."""
    from dataclasses import replace as dc_replace

    import numpy as np

    from hwprune.cost.folding import clear_caches, group_tables, groups_of
    from hwprune.cost.fpga import FpgaCostParams

    p = dc_replace(FpgaCostParams(), weight_layout=layout)
    clear_caches()
    rng = random.Random(3)
    dropped = 0
    for _ in range(8):
        layers, shape, bits = _random_design(rng)
        g = build_ir(layers, shape, bits)
        for grp, table in zip(groups_of(g), group_tables(g, p), strict=True):
            naive = naive_rows(grp, p)
            kept = [
                (int(c), *r.tolist(), *v.tolist())
                for c, r, v in zip(table.cycles, table.res, table.values, strict=True)
            ]
            keyed = {x[5:]: x for x in naive}
            for row in kept:  # a kept row is a legal folding at its scalar price
                x = keyed[row[5:]]
                assert row[0] == x[0], row
                assert row[1:5] == pytest.approx(x[1:5], rel=1e-12), row
            assert [r[0] for r in kept] == sorted(r[0] for r in kept)  # sorted by cycles
            k5 = np.array([r[:5] for r in kept], dtype=float)
            for vals in set(keyed) - {r[5:] for r in kept}:
                x = np.array(keyed[vals][:5], dtype=float)
                dropped += 1
                assert (k5 <= x * (1 + 1e-12)).all(axis=1).any(), x
    assert dropped > 100


def test_batched_option_formulas_equal_the_per_layer_ones():
    """Options of several MVAUs computed in one vectorised pass equal, bit for bit, those
    computed layer by layer (both layouts, DSP and LUT multipliers, fixed folding)."""
    from dataclasses import replace as dc_replace

    import numpy as np

    from hwprune.cost.fpga import FpgaCostParams
    from hwprune.cost.tables import _mac_opts, _mac_opts_cat

    rng = random.Random(5)
    codes = set()
    for params in (FpgaCostParams(), dc_replace(FpgaCostParams(), weight_layout="per_pe")):
        items = []
        for _ in range(8):
            layers, shape, bits = _random_design(rng)
            for n in build_ir(layers, shape, bits).nodes:
                if n.op == "MVAU":
                    if rng.random() < 0.3:
                        n = dc_replace(n, mem_style=rng.choice(("block", "distributed")))
                    if rng.random() < 0.3 and not n.xnor:  # a res_type given by the design
                        n = dc_replace(n, res_type=rng.choice(("lut", "dsp")))
                    pes = divisors(n.mh) if rng.random() < 0.8 else (divisors(n.mh)[-1],)
                    items.append((n, pes, divisors(n.mw)))
        *cat, counts = _mac_opts_cat(items, params)
        cut = np.cumsum(counts)[:-1]
        batch = list(zip(*(np.split(x, cut) for x in cat), strict=True))
        for (n, pes, simds), got in zip(items, batch, strict=True):
            want = _mac_opts(n, params, pes, simds)
            for a, b in zip(got, want, strict=True):
                assert a.shape == b.shape and np.array_equal(a, b)
            codes.update(got[4].tolist())
            if n.res_type == "auto" and not n.xnor:  # both implementations of every (PE, SIMD)
                assert len(got[0]) == 2 * len(pes) * len(simds)
    assert codes == {0, 1}


def test_vectorised_bram_mapping_equals_the_scalar_one():
    import numpy as np

    from hwprune.cost.fpga import bram18_for

    rng = np.random.default_rng(0)
    width = rng.integers(0, 3000, 4000)
    depth = np.concatenate(
        [
            rng.integers(0, 70000, 2000),
            2 ** rng.integers(0, 17, 1000),
            2 ** rng.integers(0, 17, 1000) + 1,
        ]
    )
    for gran in ("ramb36", "ramb18"):
        got = bram18_for(width, depth, gran)
        want = [bram18_for(int(w), int(d), gran) for w, d in zip(width, depth, strict=True)]
        assert got.tolist() == want


def test_batched_window_tables_equal_the_per_group_ones():
    """Window + MVAU tables built for a whole design at once (``_window_mvau_tables``) equal,
    row for row and bit for bit, those built group by group (``_mvau_table``), and the pair
    form of the dominance pruning keeps exactly the rows of the matrix form."""
    from dataclasses import replace as dc_replace

    import numpy as np

    from hwprune.cost.fpga import FpgaCostParams
    from hwprune.cost.tables import (
        _mac_opts_cat,
        _mvau_table,
        _swg_table,
        _unfolded,
        _window_mvau_tables,
        groups_of,
    )

    rng = random.Random(11)
    checked = 0
    for params in (FpgaCostParams(), dc_replace(FpgaCostParams(), weight_layout="per_pe")):
        for _ in range(25):
            layers, shape, bits = _random_design(rng)
            g = build_ir(layers, shape, bits)
            grps = [
                tuple(_unfolded(n) for n in grp)
                for grp in groups_of(g)
                if len(grp) == 2 and grp[1].op == "MVAU" and _swg_table(grp[0], params)[3]
            ]
            if not grps:
                continue
            items = []
            for nodes in grps:
                mac = nodes[1]
                pes = divisors(mac.mh) if rng.random() < 0.8 else (rng.choice(divisors(mac.mh)),)
                items.append((mac, pes, divisors(mac.mw)))
            cyc, res, pe, simd, rt, counts = _mac_opts_cat(items, params)
            ends = np.cumsum(counts).tolist()
            batch = [
                (nodes, it[2], b - c, b)
                for nodes, it, b, c in zip(grps, items, ends, counts, strict=True)
            ]
            got = _window_mvau_tables(batch, params, cyc, res, pe, simd, rt)
            for (nodes, simds, a, b), t in zip(batch, got, strict=True):
                want = _mvau_table(
                    nodes, params, simds, cyc[a:b], res[a:b], pe[a:b], simd[a:b], rt[a:b]
                )
                assert t.names == want.names and t.keys == want.keys
                assert np.array_equal(t.cycles, want.cycles)
                assert np.array_equal(t.res, want.res)
                assert np.array_equal(t.values, want.values)
                checked += 1
    assert checked > 20


def test_tables_of_a_design_built_together_equal_the_per_group_ones():
    """``group_tables`` (new MVAU groups of a design built in one pass: window + MVAU groups
    and lone MVAUs) gives the same tables, bit for bit, as building each group on its own."""
    from dataclasses import replace as dc_replace

    import numpy as np

    from hwprune.cost.folding import clear_caches, group_tables, groups_of
    from hwprune.cost.fpga import FpgaCostParams
    from hwprune.cost.tables import _group_table, _unfolded

    rng = random.Random(12)
    lone = windowed = 0
    for params in (FpgaCostParams(), dc_replace(FpgaCostParams(), weight_layout="per_pe")):
        for _ in range(30):
            layers, shape, bits = _random_design(rng)
            g = build_ir(layers, shape, bits)
            clear_caches()
            for grp, got in zip(groups_of(g), group_tables(g, params), strict=True):
                want = _group_table(tuple(_unfolded(n) for n in grp), (), params)
                assert got.names == want.names and got.keys == want.keys
                assert np.array_equal(got.cycles, want.cycles)
                assert np.array_equal(got.res, want.res)
                assert np.array_equal(got.values, want.values)
                lone += grp[-1].op == "MVAU" and len(grp) == 1
                windowed += grp[-1].op == "MVAU" and len(grp) == 2
    assert lone > 20 and windowed > 20


def test_pairwise_pareto_set_equals_the_skyline_and_reduced_tables_keep_the_optimum():
    """:func:`_skyline` and :func:`_undominated_set` (all pairs at once) keep exactly the
    Pareto-optimal points (of duplicates the first; the skyline in lexicographic order); a
    table reduced for a budget floor keeps, at every budget above it, the same minimum area
    and per-resource minima as the full table."""
    import numpy as np

    from hwprune.cost.folding import group_tables
    from hwprune.cost.pareto_sets import _reduced, _skyline, _undominated_set

    def reference(points):  # lexicographic order; each head drops what it dominates
        order = np.lexsort(points.T[::-1])
        pts, idx, keep = points[order], order, []
        while idx.size:
            keep.append(int(idx[0]))
            alive = (pts < pts[0]).any(axis=1)
            pts, idx = pts[alive], idx[alive]
        return keep

    rng = np.random.default_rng(0)
    for _ in range(500):
        pts = rng.integers(0, 4, size=(int(rng.integers(1, 200)), 4)).astype(float)
        assert _skyline(pts).tolist() == reference(pts)
        if len(pts) <= 96:
            assert _undominated_set(pts).tolist() == sorted(reference(pts))
    w = 1.0 / np.array([53200.0, 106400.0, 280.0, 220.0])
    dropped = 0
    for layers, shape, bits in NETS.values():
        tables = group_tables(build_ir(layers, shape, bits))
        lower = max(int(t.cycles[0]) for t in tables)
        for t in tables:
            r = _reduced(t, lower)
            dropped += len(t.cycles) - len(r.cycles)
            for T in np.unique(t.cycles[t.cycles >= lower]):
                a, b = t.res[t.cycles <= T], r.res[r.cycles <= T]
                assert (a @ w).min() == (b @ w).min()
                assert np.array_equal(a.min(axis=0), b.min(axis=0))
    assert dropped > 0
