"""Residual and depthwise-separable networks end to end: IR (fork, add, skip FIFO, global pool),
cost, lowering from QONNX (bit-exact against qonnx), HLS C simulation, and the search."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from hwprune.errors import ConfigError
from hwprune.ir import (
    FIFO,
    MVAU,
    VVAU,
    AddStreams,
    DuplicateStreams,
    GlobalAccPool,
    LabelSelect,
    build_ir,
)
from hwprune.models import build_model, get_spec

SHAPE = (1, 8, 8)


def _design(name: str, wbits: int = 4, abits: int = 3) -> list[dict]:
    spec = get_spec(name, SHAPE, width_mult=0.25)
    n = spec.num_quant_layers
    return spec.design_layers([wbits] * n, [abits] * (n - 1) + [None])


def test_residual_blocks_become_fork_branches_fifo_add() -> None:
    g = build_ir(_design("resnet8"), SHAPE, 8)
    ops = [n.op for n in g.nodes]
    assert ops.count("DuplicateStreams") == ops.count("AddStreams") == ops.count("FIFO") == 3
    assert ops[-3:] == ["GlobalAccPool", "MVAU", "LabelSelect"]
    add = g.node("res1_add")
    assert add.long == ("conv3_swg", "conv3", "conv4_swg", "conv4")  # the body, 2 convs
    assert add.short == ("conv5_swg", "conv5")  # the 1x1 stride-2 shortcut
    assert g.node("conv4").out_kind == "int" and g.node("conv5").out_kind == "int"  # add quant
    assert g.node("res0_skip").out_kind == "int"  # identity skip requantized into it
    assert g.node("res0_act").in_bits == add.in_bits + 1 == 4
    # the skip FIFO holds the body's line-buffer lead: 2 windows of (2 rows of 10 + 3) pixels
    assert g.node("res0_fifo").depth == min(64, 2 * 23 + 2)
    assert g.node("res2_fifo").depth == 4  # a whole 2x2 frame at most
    gap = g.node("gap0")
    assert (gap.ifm, gap.out_bits, gap.shift) == ((2, 2), 3, 2)
    with pytest.raises(ConfigError, match="share its quantizer"):
        bad = _design("resnet8")
        bad[2]["shortcut"][0]["abits"] = 2
        build_ir(bad, SHAPE, 8)


def test_new_nodes_are_priced_and_folded() -> None:
    from hwprune.cost.fpga import node_cost
    from hwprune.cost.tables import groups_of
    from hwprune.estimate import estimate
    from hwprune.targets import load_target

    deep = FIFO("f", 16 * 4, 2048)
    assert node_cost(deep).bram18 > 0 and node_cost(FIFO("g", 16, 40)).bram18 == 0
    assert node_cost(deep).cycles == 0
    assert node_cost(DuplicateStreams("d", 16, 64, 4, "uint", pe=4)).cycles == 256
    assert node_cost(AddStreams("a", 16, 64, 4, "int", pe=2)).cycles == 512
    assert node_cost(GlobalAccPool("p", 16, (4, 4), 4, "uint", 4, 4, pe=4)).cycles == 68
    g = build_ir(_design("resnet8"), SHAPE, 8)
    assert ("res0_fifo",) in [tuple(n.name for n in grp) for grp in groups_of(g)]
    est = estimate(g, load_target("pynq-z2"))
    kinds = {lay.op for lay in est.layers}
    assert {"DuplicateStreams", "AddStreams", "FIFO", "GlobalAccPool"} <= kinds
    fold = est.folding
    assert {"res0_dup", "res0_add", "res0_act", "gap0"} <= set(fold)
    # every node keeps up: the slowest new node is no slower than the slowest MVAU
    cyc = {lay.name: lay.cycles for lay in est.layers}
    macs = max(c for n, c in cyc.items() if isinstance(g.node(n), (MVAU, VVAU)))
    assert all(cyc[n] <= max(macs, est.node_cycles) for n in ("res0_add", "res0_dup", "gap0"))


def _ok(main, argv: list[str]) -> None:
    """Run the CLI; it must succeed (return 0/None or exit 0)."""
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    assert rc in (0, None)


def _quant(name: str, seed: int = 0):
    from hwprune.compress.quant import calibrate, to_brevitas

    torch.manual_seed(seed)
    spec = get_spec(name, SHAPE, width_mult=0.25)
    n = spec.num_quant_layers
    rng = np.random.default_rng(seed)
    wbits = [int(b) for b in rng.choice([2, 3, 4], n)]
    abits = [int(b) for b in rng.choice([2, 3, 4], n - 1)] + [None]
    for a, b in spec.shared_activations():  # one quantizer on both inputs of an add
        abits[b] = abits[a]
    model = build_model(spec)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data = torch.rand(m.num_features) + 0.5
            m.weight.data[::2] *= -1  # negative slopes: flipped weight rows
            m.bias.data = torch.randn(m.num_features) * 0.2
    q = to_brevitas(model, wbits, abits, 16.0)
    calibrate(q, torch.randint(0, 17, (32, *SHAPE)).float() / 16.0)
    return q.eval(), spec, wbits, abits


@pytest.fixture(scope="module", params=["resnet8", "dscnn"])
def exported(request, tmp_path_factory):
    from hwprune.export.qonnx import export_brevitas, load_qonnx

    q, spec, wbits, abits = _quant(request.param)
    path = export_brevitas(q, SHAPE, tmp_path_factory.mktemp("q") / f"{request.param}.onnx")
    return request.param, load_qonnx(path), path, spec, wbits, abits


def test_lowering_is_bit_exact_against_qonnx_and_is_the_ir(exported) -> None:
    from hwprune.export.lower import lower_model
    from hwprune.export.verify import verify_against_qonnx

    name, model, _, spec, wbits, abits = exported
    graph = lower_model(model)
    x = np.random.default_rng(1).integers(0, 17, size=(16, 8, 8, 1))
    rep = verify_against_qonnx(model, graph, x)
    assert rep.exact, rep.first_mismatch
    assert any(lay["name"] == "gap0" for lay in rep.layers)
    if name == "resnet8":
        assert {"res0_add", "res0_act", "res0_skip"} <= {lay["name"] for lay in rep.layers}
    # the lowered design is the design the search prices (the accumulators may be tighter:
    # the lowering knows the real weights)
    priced = build_ir(spec.design_layers(wbits, abits), SHAPE, 8)
    lowered = graph
    assert [n.name for n in lowered.nodes] == [n.name for n in priced.nodes]
    for a, b in zip(priced.nodes, lowered.nodes, strict=True):
        if isinstance(a, (MVAU, VVAU)):
            assert b == type(a)(**{**a.__dict__, "acc_bits": b.acc_bits})
            assert b.acc_bits <= a.acc_bits
        elif not isinstance(a, LabelSelect):
            assert a == b, a.name


@pytest.mark.slow
@pytest.mark.csim
def test_hwprune_export_is_bit_exact_in_csim_with_model_cycles(exported, tmp_path) -> None:
    from hwprune.cli import main

    name, _, path, *_ = exported
    out = tmp_path / "exp"
    argv = ["export", str(path), "--target", "pynq-z2", "--out", str(out), "--samples", "20"]
    _ok(main, [*argv, "--rtl", "write"])
    log = (out / "csim.log").read_text()
    assert "result=BIT-EXACT" in log
    counted = {
        m[0]: float(m[1])
        for m in re.findall(
            r"kernel=(\w+) kind=\w+ iterations=\d+ "
            r"per_frame=([\d.]+)",
            log,
        )
    }
    est = json.loads((out / "estimate.json").read_text())
    cost = {lay["name"]: lay["cycles"] for lay in est["layers"]}
    new = [
        lay["name"]
        for lay in est["layers"]
        if lay["op"]
        in ("DuplicateStreams", "AddStreams", "Thresholding", "GlobalAccPool", "VVAU", "MVAU")
    ]
    assert "gap0" in new and (name != "resnet8" or "res2_add" in new)
    for k in new:  # the kernels' loop counts are the cost model's cycles
        assert counted[k] == cost[k], k
    if name == "resnet8":
        top = (out / "hls" / "top.cpp").read_text()
        assert top.count("// skip FIFO") == 3
        finn = json.loads((out / "finn" / "folding_config.json").read_text())
        assert {"DuplicateStreams_hls_0", "AddStreams_hls_2", "GlobalAccPool_hls_0"} <= set(finn)


def test_rtl_flow_writes_residual_kernels(exported, tmp_path) -> None:
    """Fork, add, skip FIFO and global pool have RTL kernels (Verilator: test_rtl_residual)."""
    from hwprune.export.lower import lower_model
    from hwprune.export.rtl.flow import run_rtl_flow
    from hwprune.targets import load_target

    name, model, *_ = exported
    graph = lower_model(model)
    res = run_rtl_flow(graph, load_target("pynq-z2"), tmp_path, "write")
    top = (tmp_path / "rtl" / "top.v").read_text()
    assert res.design is not None and "hwp_gap" in top
    assert top.count("// skip FIFO") == (3 if name == "resnet8" else 0)


@pytest.mark.slow
@pytest.mark.csim
@pytest.mark.parametrize("factory", ["tiny_resnet", "tiny_dscnn"])
def test_search_on_user_residual_and_dscnn_models_exports_best(factory, tmp_path) -> None:
    from hwprune.cli import main

    out = tmp_path / "run"
    argv = ["search", "--model", f"hwprune.models.examples:{factory}", "--dataset", "digits"]
    argv += ["--target", "pynq-z2", "--trials", "2", "--epochs", "1", "--final-epochs", "1"]
    argv += ["--set", "parent.epochs=2", "--out", str(out), "--cache-dir", str(tmp_path / "c")]
    argv += ["--rtl", "write"]
    _ok(main, [*argv, "--quiet"])
    best = out / "best"
    assert "result=BIT-EXACT" in (best / "csim.log").read_text()
    ops = [lay["op"] for lay in json.loads((best / "estimate.json").read_text())["layers"]]
    if factory == "tiny_resnet":
        assert ops.count("AddStreams") == ops.count("FIFO") == 2
    else:
        assert ops.count("VVAU") == 2


@pytest.mark.parametrize("recipe", ["resnet8-digits", "dscnn-digits"])
def test_recipe_space_couples_groups_and_prices_its_extremes(recipe) -> None:
    """One channel count per coupled group and one abits per add; the extremes are priced with
    their adds, FIFOs and global pool."""
    import optuna

    from hwprune.recipe import load_recipe
    from hwprune.search import space as S
    from hwprune.search.pricing import price
    from hwprune.targets import load_target

    r = load_recipe(recipe)
    spec = get_spec(r.model, SHAPE, 10, width_mult=r.width_mult)
    groups = [g.layers for g in spec.channel_groups()]
    sp = S.SearchSpace.build(
        spec.prunable_widths(),
        spec.num_quant_layers,
        r,
        groups=groups,
        shared_abits=spec.shared_activations(),
    )
    trial = optuna.trial.FixedTrial(
        {
            **{f"ch{g[0]}": sp.channel_choices[g[0]][0] for g in groups},
            **{f"wb{i}": sp.wbits[0] for i in range(sp.num_quant - 1)},
            f"wb{sp.num_quant - 1}": sp.head_wbits[0],
            **{f"ab{i}": sp.abits[-1] for i in range(sp.num_quant - 1)},
        }
    )
    cand = sp.suggest(trial)
    for g in groups:
        assert len({cand.channels[i] for i in g}) == 1
    for a, b in spec.shared_activations():
        assert cand.abits[a] == cand.abits[b]
    assert sp.params_of(cand) == trial.params
    _, hw, cons = price(S.make_design(spec, cand, 8, recipe), load_target("pynq-z2"), r)
    assert hw["fps"] > 0 and "fits" in cons
