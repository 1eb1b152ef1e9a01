"""FINN (finn-plus 1.6.1) builds exactly what hwprune priced: its own estimate flow, run on
hwprune's exports with hwprune's folding config (no Vivado needed).

For each design: every HW node FINN builds gets a configuration entry and none is unused, FINN
took the values over, every layer's cycles equal hwprune's, and FINN's frames/s equals
hwprune's layers-only frames/s. CI installs finn-plus (scripts/install-finn.sh); elsewhere the
module is skipped when it is missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("finn") is None,
        reason="finn-plus is not installed (bash scripts/install-finn.sh installs it)",
    ),
]


def _export(model, shape, out: Path, **kw):
    from hwprune.export.core import export_model

    return export_model(
        model, "pynq-z2", out_dir=out, input_shape=shape, csim=False, rtl="write", **kw
    )


def _bnn_pynq(name: str):
    import torch
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(0)
    model, _ = model_with_cfg(name, pretrained=False)  # untrained: the structure is what counts
    return model.eval()


@pytest.fixture(scope="module")
def finn():
    from hwprune.export import finn_check

    finn_check.import_finn()  # once per session (5-10 s)
    return finn_check


def _check(finn, out: Path) -> dict:
    est = finn.run_finn_estimate(out)
    assert est.unused_config == (), est.unused_config
    assert est.unconfigured == (), est.unconfigured
    assert est.mismatched == (), est.mismatched
    kinds = {op for _, op in est.nodes}
    assert not kinds & {"Thresholding_rtl", "Thresholding_hls", "ElementwiseMul_hls"}, kinds
    cmp = finn.compare_with_hwprune(out, est)
    diff = [
        (r["name"], r["hwprune"], r["finn"]) for r in cmp["layers"] if r["hwprune"] != r["finn"]
    ]
    assert diff == [], f"layers whose FINN cycles differ from hwprune's: {diff}"
    fps = cmp["fps"]
    assert fps["finn"] == pytest.approx(fps["hwprune_layers"], rel=0.01)
    return cmp


def test_mlp_and_its_build_script(tmp_path, finn):
    """The digits MLP (8-bit input, XNOR layers, arg-max): FINN builds 4 MVAUs and a
    LabelSelect, nothing at PE=1 for the input; build.py runs as written outside `finn build`."""
    sys.path.insert(0, str(Path(__file__).parent))
    from export_models import quant_model

    q, shape = quant_model("mlp-digits")
    out = tmp_path / "mlp"
    _export(q, shape, out, n_golden=2)
    _check(finn, out)
    est = finn.run_finn_estimate(out)
    assert [op for _, op in est.nodes] == ["MVAU_hls"] * 4 + ["LabelSelect_hls"]
    cfg = json.loads((out / "finn" / "folding_config.json").read_text())
    # memories as priced: hwprune puts these weights in LUTRAM, so FINN counts no BRAM for them
    styles = {cfg[n]["ram_style"] for n in cfg if n.startswith("MVAU")}
    assert "distributed" in styles and styles <= {"distributed", "block"}
    for name, _ in est.nodes:
        if cfg[name].get("ram_style") == "distributed":
            assert est.resources[name]["BRAM_18K"] == 0, name
    env = {**os.environ, "FINN_BUILD_DIR": str(tmp_path / "fb")}
    env.pop("XILINX_VIVADO", None)
    run = subprocess.run(
        [sys.executable, "build.py", "--estimate-only"],
        cwd=out / "finn",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    rep = out / "finn" / "finn_output" / "report"
    perf = json.loads((rep / "estimate_network_performance.json").read_text())
    assert perf["max_cycles"] == est.max_cycles


def test_raw_scores_output(tmp_path, finn):
    """``output="scores"``: FINN outputs the head's accumulators as hwprune does (no float
    scale node after the last MVAU, no LabelSelect)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from export_models import quant_model

    q, shape = quant_model("mlp-digits")
    out = tmp_path / "scores"
    _export(q, shape, out, n_golden=2, output="scores")
    _check(finn, out)
    est = finn.run_finn_estimate(out)
    assert [op for _, op in est.nodes] == ["MVAU_hls"] * 4


def test_cnn_with_pools(tmp_path, finn):
    """Padding, sliding windows, two max-pools (window generator + Pool_hls in finn-plus)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from export_models import quant_model

    q, shape = quant_model("cnn-digits")
    out = tmp_path / "cnn"
    _export(q, shape, out, n_golden=2)
    _check(finn, out)
    est = finn.run_finn_estimate(out)
    assert sum(op == "Pool_hls" for _, op in est.nodes) == 2


def test_bnn_pynq_tfc(tmp_path, finn):
    """Brevitas' TFC-W1A1: its input reshape and quantizer stay on the host."""
    out = tmp_path / "tfc"
    _export(_bnn_pynq("tfc_1w1a"), (1, 28, 28), out, n_golden=2)
    cmp = _check(finn, out)
    assert [r["name"] for r in cmp["layers"]][-1] == "labelselect"


def test_bnn_pynq_cnv(tmp_path, finn):
    """Brevitas' CNV-W1A1 at hwprune's folding: FINN's bottleneck frame rate is hwprune's."""
    out = tmp_path / "cnv"
    _export(_bnn_pynq("cnv_1w1a"), (3, 32, 32), out, n_golden=2)
    cmp = _check(finn, out)
    assert cmp["fps"]["finn"] > 5000  # the note's mis-mapped hand-off gave 1,686


def test_depthwise_convolution(tmp_path, finn):
    """A depthwise conv at stride 2 and SIMD < channels (FINN's VVAU with its depthwise
    window, which replays each window per channel fold), a 1x1 conv and a pool."""
    import torch
    from torch import nn

    from hwprune.compress.quant import to_brevitas

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 16, 1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 2 * 2, 10, bias=False),
    )
    q = to_brevitas(net, [4, 2, 3, 4], [2, 3, 2, None], 16.0)
    q.train()
    with torch.no_grad():
        q(torch.rand(64, 1, 8, 8) * 16)  # calibrate the activation scales
    q.eval()
    out = tmp_path / "dw"
    folding = {"conv1_swg": {"simd": 2}, "conv1": {"pe": 2, "simd": 1}}  # rest: optimizer
    _export(q, (1, 8, 8), out, folding=folding, n_golden=2)
    _check(finn, out)
    est = finn.run_finn_estimate(out)
    assert [op for _, op in est.nodes].count("VVAU_hls") == 1
    assert est.attrs["VVAU_hls_0"]["PE"] == 2


def _chain_net(act0: str, act1: str, **kw):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_lower_chains import SHAPE, _net

    return _net(act0, act1, **kw), SHAPE


def test_final_softmax_is_left_out_for_finn(tmp_path, finn):
    """A final softmax (dropped by hwprune for label output) is left out of model.finn.onnx too:
    FINN builds the LabelSelect hwprune priced, not a float HWSoftmax, at the same cycles."""
    net, shape = _chain_net("bn_relu", "bn_relu", tail="softmax")
    out = tmp_path / "softmax"
    _export(net, shape, out, n_golden=2)
    cmp = _check(finn, out)
    est = finn.run_finn_estimate(out)
    assert [op for _, op in est.nodes][-1] == "LabelSelect_hls"
    assert cmp["differences"] == []


def test_relu6_and_hardtanh_clips_are_dropped_for_finn(tmp_path, finn):
    """nn.ReLU6 / nn.Hardtanh (Clip) before a quantizer whose range they do not cut: the Clip is
    left out of model.finn.onnx (FINN maps no Clip) and FINN builds what hwprune priced."""
    from qonnx.core.modelwrapper import ModelWrapper

    net, shape = _chain_net("bn_relu6_q", "bn_hardtanh_q")
    out = tmp_path / "clip"
    _export(net, shape, out, n_golden=2)
    fm = ModelWrapper(str(out / "finn" / "model.finn.onnx"))
    assert "Clip" not in {n.op_type for n in fm.graph.node}
    assert _check(finn, out)["differences"] == []


def test_clip_that_cuts_the_quantizer_range(tmp_path):
    """A Clip whose bounds change its quantizer's output: lower bound 0 -> a Relu (exact),
    otherwise FINN cannot build the model and the hand-off says why."""
    import copy

    import numpy as np
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from hwprune.export.finn import _inert_clips, finn_unbuildable

    net, shape = _chain_net("bn_relu", "bn_hardtanh_q")
    out = tmp_path / "cut"
    _export(net, shape, out, n_golden=2)
    m = ModelWrapper(str(out / "model.qonnx.onnx"))
    clip = next(n for n in m.graph.node if n.op_type == "Clip")
    m.set_initializer(clip.input[1], np.asarray(0.0, dtype=np.float32))  # cuts the signed range
    relu = copy.deepcopy(m)
    _inert_clips(relu)
    ops = [n.op_type for n in relu.graph.node]
    assert "Clip" not in ops and "Relu" in ops and finn_unbuildable(relu) is None
    x = np.random.default_rng(0).uniform(0, 16, (16, 1, *shape)).astype(np.float32)
    i, o = m.graph.input[0].name, m.graph.output[0].name
    for xi in x:
        assert np.array_equal(execute_onnx(m, {i: xi})[o], execute_onnx(relu, {i: xi})[o])
    m.set_initializer(clip.input[2], np.asarray(0.05, dtype=np.float32))  # cuts the top too
    _inert_clips(m)
    assert "Clip" in (finn_unbuildable(m) or "")


def test_bn_after_quant_relu_is_a_stated_difference(tmp_path, finn):
    """QuantReLU -> BatchNorm (negative gammas) -> QuantIdentity: hwprune folds the chain into
    the layer's thresholds; FINN builds the second quantizer as a separate Thresholding (and an
    ElementwiseMul for the negative gammas) that hwprune's folding does not configure. Every
    hwprune layer's cycles are FINN's, and the extra nodes are the stated differences."""
    net, shape = _chain_net("relu_bn_q", "relu_bn_q")
    out = tmp_path / "relu_bn"
    _export(net, shape, out, n_golden=2)
    est = finn.run_finn_estimate(out)
    assert est.unused_config == () and est.mismatched == ()
    extra = {op for name, op in est.nodes if name in est.unconfigured}
    assert extra <= {"Shuffle", "ElementwiseMul_hls", "Thresholding_rtl", "Thresholding_hls"}
    assert sum(op.startswith("Thresholding") for _, op in est.nodes) == 2
    cmp = finn.compare_with_hwprune(out, est)
    assert [r["name"] for r in cmp["layers"] if r["hwprune"] != r["finn"]] == []
    assert len(cmp["differences"]) == 2 and "Thresholding" in cmp["differences"][0]
    assert (out / "finn" / "DIFFERENCES.txt").read_text().count("\n- ") == 1
