"""HLS project generation, g++ C simulation (bit-exact), cycles and folding vs the cost model."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest
from export_models import digits_test_x, quant_model

from hwprune.errors import ConfigError
from hwprune.export.core import export_model
from hwprune.export.csim import find_hls_headers, parse_csim_log

pytestmark = [pytest.mark.slow, pytest.mark.csim]


_RES = {"hwp::RES_LUT": "lut", "hwp::RES_DSP": "dsp"}


def _hls_folding(hls_dir):
    """PE/SIMD and multiplier resource (the RES argument that picks the BIND_OP of the
    products) of every MVAU/VVAU and SIMD of every sliding window, read back from top.cpp."""
    text = (hls_dir / "top.cpp").read_text()
    out = {}
    res = r", (hwp::RES_\w+)>\(.*// (\w+)"
    for m in re.finditer(r"hwp::mvau<\d+, \d+, (\d+), (\d+), (\d+), (\d+),.*" + res, text):
        out[m.group(6)] = {"pe": int(m.group(4)), "simd": int(m.group(3)), "res": _RES[m.group(5)]}
    for m in re.finditer(r"hwp::vvau<\d+, \d+, \d+, \d+, (\d+), (\d+),.*" + res, text):
        out[m.group(4)] = {"pe": int(m.group(2)), "simd": int(m.group(1)), "res": _RES[m.group(3)]}
    for m in re.finditer(r"hwp::sliding_window<\d+, \d+, \d+, \d+, (\d+),.*// (\w+)", text):
        out[m.group(2)] = {"simd": int(m.group(1))}
    return out


def _check_against_estimate(res):
    est = json.loads((res.out_dir / "estimate.json").read_text())
    hls = _hls_folding(res.out_dir / "hls")
    priced = {}  # PE/SIMD and the multiplier resource each MVAU/VVAU was priced with
    for lay in est["layers"]:
        if lay["op"] in ("MVAU", "VVAU"):
            priced[lay["name"]] = {"pe": lay["pe"], "simd": lay["simd"], "res": lay["res_type"]}
        elif lay["op"] == "SlidingWindow":
            priced[lay["name"]] = {"simd": lay["simd"]}
    assert hls == priced  # the folding emitted is the folding priced
    for name, f in est["folding"].items():  # a res_type in the folding is the one priced
        if "res_type" in f:
            assert f["res_type"] == priced[name]["res"]
    cost = {lay["name"]: lay["cycles"] for lay in est["layers"]}
    counted = {c["kernel"]: c["counted"] for c in res.cycles}
    mvaus = [lay["name"] for lay in est["layers"] if lay["op"] in ("MVAU", "VVAU")]
    assert mvaus
    for name in mvaus:  # iterations counted in C simulation == the cost model's MVAU cycles
        assert counted[name] == cost[name], name
    for lay in est["layers"]:  # the sliding windows follow the same (FINN RTL) schedule
        if lay["op"] == "SlidingWindow":
            assert counted[lay["name"]] == cost[lay["name"]], lay["name"]


def test_headers_found():
    assert (find_hls_headers() / "ap_int.h").is_file()


def test_mlp_export_bit_exact(tmp_path):
    q, shape = quant_model("mlp-digits")
    x = digits_test_x(120)
    res = export_model(
        q,
        "pynq-z2",
        out_dir=tmp_path / "mlp",
        golden_inputs=x,
        input_shape=shape,
        n_golden=120,
        rtl="write",
    )
    assert res.bit_exact and res.verify.exact
    assert res.csim.bit_exact and res.csim.samples == 120 and res.csim.mismatching_samples == 0
    _check_against_estimate(res)
    for name in (
        "model.qonnx.onnx",
        "dataflow.json",
        "estimate.json",
        "csim.log",
        "README.md",
        "hls/top.cpp",
        "hls/testbench.cpp",
        "hls/run_hls.tcl",
        "hls/block_design.tcl",
        "golden/input.bin",
        "golden/inputs.npy",
        "finn/folding_config.json",
        "finn/build_config.json",
    ):
        assert (res.out_dir / name).is_file(), name
    top = (res.out_dir / "hls" / "top.cpp").read_text()
    assert "#pragma HLS DATAFLOW" in top and "#pragma HLS INTERFACE axis" in top
    tcl = (res.out_dir / "hls" / "run_hls.tcl").read_text()
    assert "set_part xc7z020clg400-1" in tcl and "create_clock -period 10.0" in tcl
    assert "csim_design" in tcl and "export_design" in tcl
    assert "processing_system7" in (res.out_dir / "hls" / "block_design.tcl").read_text()
    flow = json.loads((res.out_dir / "dataflow.json").read_text())
    assert flow["verification"]["exact"] and flow["folding"]
    assert "BIT-EXACT" in (res.out_dir / "csim.log").read_text()
    # the testbench really compares: a corrupted golden layer is reported with sample and layer
    gold = res.out_dir / "golden"
    fc1 = np.fromfile(gold / "fc1.bin", dtype="<i1")
    fc1[64 * 3 + 5] = -fc1[64 * 3 + 5]
    fc1.tofile(gold / "fc1.bin")
    run = subprocess.run(
        [str(res.out_dir / "hls" / "csim"), str(gold)],
        capture_output=True,
        text=True,
        cwd=res.out_dir / "hls",
    )
    assert run.returncode == 1
    bad = parse_csim_log(run.stdout)
    assert not bad.bit_exact and bad.mismatching_samples == 1
    assert "sample=3 layer=fc1 index=5" in bad.first_mismatch


def test_cnn_export_bit_exact_auto_folding(tmp_path):
    q, shape = quant_model("cnn-digits")
    res = export_model(
        q,
        "pynq-z2",
        out_dir=tmp_path / "cnn",
        golden_inputs=digits_test_x(100),
        input_shape=shape,
        rtl="write",
    )
    assert res.bit_exact and res.csim.samples == 100
    _check_against_estimate(res)
    kinds = {c["kind"] for c in res.cycles}
    assert {"Pad", "SlidingWindow", "MVAU", "MaxPool", "LabelSelect"} <= kinds
    for c in res.cycles:  # every kernel's loop count matches its model
        if c["ir"] is not None:
            assert c["counted"] == c["ir"], c


def test_cnn_manual_folding_and_scores(tmp_path):
    """Hand folding with width ratios that are not integers (PE 4 -> SIMD 3), raw scores out."""
    q, shape = quant_model("cnn-digits")
    folding = {
        "conv0_swg": {"simd": 1},
        "conv0": {"pe": 4, "simd": 3},
        "conv1_swg": {"simd": 2},
        "conv1": {"pe": 8, "simd": 48},
        "conv2_swg": {"simd": 16},
        "conv2": {"pe": 2, "simd": 16},
        "fc0": {"pe": 8, "simd": 32},
        "fc1": {"pe": 5, "simd": 8},
    }
    res = export_model(
        q,
        "pynq-z2",
        folding=folding,
        out_dir=tmp_path / "cnn_scores",
        golden_inputs=digits_test_x(100),
        input_shape=shape,
        output="scores",
        rtl="write",
    )
    assert res.bit_exact
    assert {k: res.folding["conv0"][k] for k in ("pe", "simd")} == {"pe": 4, "simd": 3}
    assert np.load(res.out_dir / "golden" / "expected.npy").shape == (100, 10)
    _check_against_estimate(res)


def test_illegal_folding_refused_before_writing(tmp_path):
    q, shape = quant_model("mlp-digits")
    with pytest.raises(ConfigError, match="fc1: simd=5 is illegal"):
        export_model(
            q,
            "pynq-z2",
            folding={"fc1": {"pe": 2, "simd": 5}},
            out_dir=tmp_path / "x",
            input_shape=shape,
            csim=False,
            rtl="write",
        )
    assert not (tmp_path / "x" / "hls").exists()


def test_finn_handoff(tmp_path):
    q, shape = quant_model("cnn-digits")
    res = export_model(
        q, "pynq-z2", out_dir=tmp_path / "f", input_shape=shape, csim=False, n_golden=4, rtl="write"
    )
    cfg = json.loads((res.out_dir / "finn" / "folding_config.json").read_text())
    assert "Defaults" in cfg
    assert cfg["MVAU_hls_0"]["PE"] == res.folding["conv0"]["pe"]
    assert cfg["MVAU_hls_4"]["SIMD"] == res.folding["fc1"]["simd"]
    # pool0 is FINN's window generator 2 + Pool_hls_0, so conv2's window is generator 3
    assert cfg["ConvolutionInputGenerator_rtl_3"]["SIMD"] == res.folding["conv2_swg"]["simd"]
    for k, name in enumerate(("conv0", "conv1", "conv2", "fc0", "fc1")):  # the folding's choice
        assert cfg[f"MVAU_hls_{k}"]["resType"] == res.folding[name]["res_type"], name
    assert {"FMPadding_rtl_0", "Pool_hls_1", "LabelSelect_hls_0"} <= set(cfg)
    spec = json.loads((res.out_dir / "finn" / "specialize_layers_config.json").read_text())
    assert spec["MVAU_0"] == {"preferred_impl_style": "hls"}
    build = json.loads((res.out_dir / "finn" / "build_config.json").read_text())
    assert build["board"] == "Pynq-Z2" and build["shell_flow_type"] == "vivado_zynq"
    assert build["synth_clk_period_ns"] == 10.0 and "bitfile" in build["generate_outputs"]


def test_each_layer_is_bound_to_the_multiplier_resource_it_was_priced_with(tmp_path):
    """A folding's res_type per layer reaches the HLS kernels (BIND_OP of the products on DSPs
    or in fabric, chosen per call), the FINN hand-off (resType) and the estimate; C simulation
    still compiles and is bit-exact (g++ ignores the pragmas)."""
    q, shape = quant_model("mlp-digits")  # fc0: 8-bit weights on 8-bit pixels; fc1, fc2: XNOR
    res = export_model(
        q,
        "pynq-z2",
        folding={"fc0": {"res_type": "lut"}, "fc3": {"resType": "dsp"}},  # ours, FINN's spelling
        out_dir=tmp_path / "res",
        golden_inputs=digits_test_x(20),
        input_shape=shape,
        n_golden=20,
        rtl="write",
    )
    assert res.bit_exact and res.csim.bit_exact
    want = {"fc0": "lut", "fc1": "lut", "fc2": "lut", "fc3": "dsp"}
    assert {k: v["res"] for k, v in _hls_folding(res.out_dir / "hls").items()} == want
    _check_against_estimate(res)
    kernels = (res.out_dir / "hls" / "hwp_kernels.hpp").read_text()
    assert "#pragma HLS BIND_OP variable = prod_dsp op = mul impl = dsp" in kernels
    assert "#pragma HLS BIND_OP variable = prod_lut op = mul impl = fabric" in kernels
    assert kernels.count("lane_mul<RES, WB, IB>(wv[i], xv[") == 2  # mvau and vvau products
    cfg = json.loads((res.out_dir / "finn" / "folding_config.json").read_text())
    assert [cfg[f"MVAU_hls_{k}"]["resType"] for k in range(4)] == ["lut", "lut", "lut", "dsp"]
    est = json.loads((res.out_dir / "estimate.json").read_text())
    layers = {x["name"]: x for x in est["layers"]}
    assert layers["fc0"]["dsp"] == 0 and layers["fc3"]["dsp"] > 0
    flow = json.loads((res.out_dir / "dataflow.json").read_text())
    assert {n["name"]: n["res_type"] for n in flow["nodes"] if n["kind"] == "MVAU"} == want
    with pytest.raises(ConfigError, match="XNOR-popcount"):
        export_model(
            q,
            "pynq-z2",
            folding={"fc1": {"res_type": "dsp"}},
            out_dir=tmp_path / "bad",
            input_shape=shape,
            csim=False,
            rtl="write",
        )
    with pytest.raises(ConfigError, match="res_type must be one of"):
        export_model(
            q,
            "pynq-z2",
            folding={"fc0": {"res_type": "uram"}},
            out_dir=tmp_path / "bad",
            input_shape=shape,
            csim=False,
            rtl="write",
        )


def test_design_name_is_the_final_folders_not_the_temporary_ones(tmp_path):
    """A caller writing into a temporary folder (the search's best/) names the design: its
    estimate.json and dataflow.json say "best", not ".tmp-best.xxxx"; by default the design is
    named after --out."""
    q, shape = quant_model("mlp-digits")
    work = tmp_path / ".tmp-best.a1b2"
    export_model(
        q,
        "pynq-z2",
        out_dir=work,
        input_shape=shape,
        n_golden=4,
        csim=False,
        name="best",
        replace=False,
        rtl="write",
    )
    assert json.loads((work / "estimate.json").read_text())["name"] == "best"
    assert json.loads((work / "dataflow.json").read_text())["name"] == "best"
    res = export_model(
        q,
        "pynq-z2",
        out_dir=tmp_path / "exp",
        input_shape=shape,
        n_golden=4,
        csim=False,
        rtl="write",
    )
    assert json.loads((res.out_dir / "estimate.json").read_text())["name"] == "exp"
    assert json.loads((res.out_dir / "dataflow.json").read_text())["name"] == "exp"


def test_bnn_pynq_tfc_made_elsewhere(tmp_path):
    """Brevitas' bnn_pynq TFC-W1A1 (XNOR layers, XNOR head, TensorNorm, 2x-1 on the host)."""
    import torch
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    from hwprune.export.qonnx import export_brevitas

    torch.manual_seed(1)
    m, _ = model_with_cfg("tfc_1w1a", pretrained=False)
    path = export_brevitas(m.eval(), (1, 28, 28), tmp_path / "tfc.onnx")
    res = export_model(path, "pynq-z2", out_dir=tmp_path / "tfc", n_golden=100, rtl="write")
    assert res.bit_exact and res.csim.samples == 100
    assert all(n.xnor for n in res.graph.mvaus())
    _check_against_estimate(res)


def test_strided_and_pointwise_convolutions(tmp_path):
    """Stride 2 with padding, a 1x1 conv (no window generator), a 2x2/2 conv, then an fc."""
    import torch
    from torch import nn

    from hwprune.compress.quant import to_brevitas

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 12, 1, bias=False),
        nn.BatchNorm2d(12),
        nn.ReLU(),
        nn.Conv2d(12, 8, 2, stride=2, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32, 10, bias=False),
    )
    q = to_brevitas(net, [4, 3, 2, 4], [2, 3, 4, None], 16.0)
    q.train()
    with torch.no_grad():
        q(torch.as_tensor(digits_test_x(64)))  # batch statistics and activation ranges
    q.eval()
    res = export_model(
        q,
        "pynq-z2",
        out_dir=tmp_path / "strided",
        input_shape=(1, 8, 8),
        golden_inputs=digits_test_x(100),
        rtl="write",
    )
    assert res.bit_exact
    kinds = [n.op for n in (res.graph.input, *res.graph.kernels())]
    assert kinds[:7] == ["Input", "Pad", "SlidingWindow", "MVAU", "MVAU", "SlidingWindow", "MVAU"]
    assert res.graph.mvaus()[1].n_vec == 16  # the 1x1 conv streams the 4x4 map directly
    _check_against_estimate(res)


def test_depthwise_convolution(tmp_path):
    """A depthwise 3x3 conv (VVAU, SIMD over kernel positions) between plain convolutions."""
    import torch
    from torch import nn

    from hwprune.compress.quant import to_brevitas

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 16, 1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 16, 10, bias=False),
    )
    q = to_brevitas(net, [4, 2, 3, 4], [2, 3, 2, None], 16.0)
    q.train()
    with torch.no_grad():
        q(torch.as_tensor(digits_test_x(64)))
    q.eval()
    folding = {"conv1_swg": {"simd": 8}, "conv1": {"pe": 8, "simd": 3}}  # rest: optimizer
    res = export_model(
        q,
        "pynq-z2",
        folding=folding,
        out_dir=tmp_path / "dw",
        input_shape=(1, 8, 8),
        golden_inputs=digits_test_x(100),
        rtl="write",
    )
    assert res.bit_exact
    assert [n.op for n in res.graph.nodes].count("VVAU") == 1
    assert {k: res.folding["conv1"][k] for k in ("pe", "simd")} == {"pe": 8, "simd": 3}
    _check_against_estimate(res)
    with pytest.raises(ConfigError, match="must equal the pe=4"):
        export_model(
            q,
            "pynq-z2",
            folding={"conv1_swg": {"simd": 8}, "conv1": {"pe": 4}},
            out_dir=tmp_path / "bad",
            input_shape=(1, 8, 8),
            csim=False,
            rtl="write",
        )
