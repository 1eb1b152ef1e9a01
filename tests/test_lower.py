"""Lowering QONNX -> integer dataflow graph, and the numpy executor against qonnx."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from export_models import digits_test_x, quant_model
from onnx import helper

from hwprune.errors import ConfigError, LoweringError
from hwprune.export.core import golden_integers
from hwprune.export.dtypes import IntType
from hwprune.export.executor import execute
from hwprune.export.lower import compute_thresholds, lower_model
from hwprune.export.qonnx import export_brevitas, load_qonnx
from hwprune.export.verify import verify_against_qonnx
from hwprune.ir import MVAU
from hwprune.ir.folding import apply_folding, with_folding


@pytest.fixture(scope="module")
def mlp_qonnx(tmp_path_factory):
    q, shape = quant_model("mlp-digits")
    path = export_brevitas(q, shape, tmp_path_factory.mktemp("mlp") / "model.qonnx.onnx")
    return load_qonnx(path), path


@pytest.fixture(scope="module")
def cnn_qonnx(tmp_path_factory):
    q, shape = quant_model("cnn-digits")
    path = export_brevitas(q, shape, tmp_path_factory.mktemp("cnn") / "model.qonnx.onnx")
    return load_qonnx(path), path


def test_int_types():
    assert IntType.for_range(0, 255).name == "UINT8"
    assert IntType.for_range(-128, 127).name == "INT8"
    assert IntType.for_range(-129, 0).name == "INT9"
    assert IntType.from_name("INT4").min == -8
    assert IntType.from_name("BIPOLAR").encode(np.array([-1, 1, 1])).tolist() == [0, 1, 1]
    assert IntType(3, True).encode(np.array([-1])).tolist() == [7]


@pytest.mark.parametrize("seed", range(6))
def test_thresholds_equal_brute_force(seed):
    """Thresholds reproduce the float level function at every integer accumulator."""
    rng = np.random.default_rng(seed)
    from hwprune.export.lower import _level_fn

    nch = 7
    A = rng.uniform(0.001, 0.3, nch)
    B = rng.uniform(-2, 2, nch)
    relu = bool(seed % 2)
    for qtype, qmin, qmax in (
        (IntType(3, False), 0, 7),
        (IntType(4, True), -7, 7),
        (IntType(1, True, True), -1, 1),
    ):
        s_a = float(rng.uniform(0.05, 0.5))
        level = _level_fn(A, B, relu, qtype, s_a, qmin, qmax, "ROUND")
        amin, amax = np.full(nch, -150), np.full(nch, 170)
        nt = 1 if qtype.bipolar else qmax - qmin
        T = compute_thresholds(level, amin, amax, nt)
        accs = np.arange(-150, 171)
        for c in range(nch):
            want = np.array([level(np.full(nch, a))[c] for a in accs])
            got = (accs[:, None] >= T[c][None, :]).sum(axis=1)
            assert np.array_equal(want, got), (qtype, c)


def _check_every_layer(model, graph, x_int):
    rep = verify_against_qonnx(model, graph, x_int)
    assert rep.samples == len(x_int)
    for layer in rep.layers:
        assert layer["mismatches"] == 0, layer
    assert rep.label_mismatches == 0
    assert rep.exact, rep.first_mismatch
    return rep


def test_mlp_executor_equals_qonnx_on_test_set(mlp_qonnx):
    model, _ = mlp_qonnx
    graph = lower_model(model)
    kinds = [n.op for n in (graph.input, *graph.kernels())]
    assert kinds == ["Input", "MVAU", "MVAU", "MVAU", "MVAU", "LabelSelect"]
    mv = graph.mvaus()
    assert [m.xnor for m in mv] == [False, True, True, False]
    assert mv[0].wtype.name == "INT8" and mv[0].out_type.bipolar
    assert mv[2].out_type.name == "UINT3" and mv[3].is_head
    x_int = golden_integers(model, graph, digits_test_x(), 0)
    assert len(x_int) >= 300 and x_int.max() <= 16 and x_int.min() >= 0
    rep = _check_every_layer(model, graph, x_int)
    assert {lay["name"] for lay in rep.layers} == {"input", "fc0", "fc1", "fc2", "fc3"}


def test_cnn_executor_equals_qonnx_on_test_set(cnn_qonnx):
    model, _ = cnn_qonnx
    graph = lower_model(model)
    kinds = [n.op for n in (graph.input, *graph.kernels())]
    assert kinds == [
        "Input",
        "Pad",
        "SlidingWindow",
        "MVAU",
        "Pad",
        "SlidingWindow",
        "MVAU",
        "MaxPool",
        "Pad",
        "SlidingWindow",
        "MVAU",
        "MaxPool",
        "MVAU",
        "MVAU",
        "LabelSelect",
    ]
    conv1 = graph.mvaus()[1]
    assert conv1.in_type.name == "INT2"  # a zero-padded bipolar map holds -1, 0, +1
    x_int = golden_integers(model, graph, digits_test_x(), 0)
    rep = _check_every_layer(model, graph, x_int)
    assert {"conv0", "conv1", "pool0", "conv2", "pool1", "fc0", "fc1"} <= {
        lay["name"] for lay in rep.layers
    }


def test_negative_bn_scales_flip_weight_rows(mlp_qonnx):
    """The fixture negates every other BN gamma; those rows' weights come out negated."""
    model, _ = mlp_qonnx
    graph = lower_model(model)
    fc0 = graph.mvaus()[0]
    q = [n for n in model.graph.node if n.op_type == "Quant"][1]  # fc0's weight quantizer
    w = model.get_initializer(q.input[0])
    s = model.get_initializer(q.input[1])
    wint = np.clip(np.round(w / s), -127, 127).T  # (out, in) in C,H,W = H,W,C order (C = 1)
    flipped = np.all(fc0.weights == -wint, axis=1)
    kept = np.all(fc0.weights == wint, axis=1)
    assert flipped.any() and kept.any() and np.all(flipped | kept)


def test_random_inputs_cover_quantizer_range(cnn_qonnx):
    model, _ = cnn_qonnx
    graph = lower_model(model)
    x_int = golden_integers(model, graph, None, 120, seed=3)
    assert x_int.shape == (120, 8, 8, 1) and x_int.max() > 200
    _check_every_layer(model, graph, x_int)


def test_scores_output(mlp_qonnx):
    model, _ = mlp_qonnx
    graph = lower_model(model, output="scores")
    assert graph.nodes[-1].op == "MVAU"
    x_int = golden_integers(model, graph, digits_test_x(50), 0)
    res = execute(graph, x_int)
    assert res.output.shape == (50, 10)
    _check_every_layer(model, graph, x_int)


def test_bnn_pynq_tfc_lowers_exactly(tmp_path):
    """A model made elsewhere: Brevitas' bnn_pynq TFC (input 2x-1 on the host, TensorNorm)."""
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(0)
    m, _ = model_with_cfg("tfc_2w2a", pretrained=False)
    path = export_brevitas(m.eval(), (1, 28, 28), tmp_path / "tfc.onnx")
    model = load_qonnx(path)
    graph = lower_model(model)
    assert graph.input.host_preprocessing  # Reshape / Mul / Sub before the input quantizer
    assert [n.op for n in graph.nodes].count("MVAU") == 4
    x_int = golden_integers(model, graph, None, 100)
    _check_every_layer(model, graph, x_int)


@pytest.mark.slow
def test_brevitas_default_export_dynamo_with_external_data_lowers_exactly(tmp_path):
    """Brevitas' default exporter under torch 2.13 (dynamo, opset 20, external ``.data`` file,
    bias-free Linear written as a two-input Gemm): the export reads and lowers it exactly."""
    import brevitas.nn as qnn
    from brevitas.export import export_qonnx

    from hwprune.export.core import export_model

    torch.manual_seed(0)
    m = torch.nn.Sequential(
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
        qnn.QuantLinear(16, 8, bias=False, weight_bit_width=4),
        torch.nn.BatchNorm1d(8),
        qnn.QuantReLU(bit_width=4),
        qnn.QuantLinear(8, 4, bias=False, weight_bit_width=4),
    ).eval()
    path = tmp_path / "dyn.onnx"
    export_qonnx(m, input_t=torch.rand(1, 16), export_path=str(path))
    assert (tmp_path / "dyn.onnx.data").is_file()
    proto = onnx.load(str(path), load_external_data=False)
    gemms = [n for n in proto.graph.node if n.op_type == "Gemm"]
    assert gemms and all(len(n.input) == 2 for n in gemms)  # what made qonnx's GemmToMatMul fail
    res = export_model(
        path, "pynq-z2", out_dir=tmp_path / "out", csim=False, n_golden=50, rtl="write"
    )
    assert res.verify.exact and [n.op for n in res.graph.nodes].count("MVAU") == 2


@pytest.mark.slow
def test_bnn_pynq_cnv_lowers_exactly(tmp_path):
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(0)
    m, _ = model_with_cfg("cnv_1w1a", pretrained=False)
    path = export_brevitas(m.eval(), (3, 32, 32), tmp_path / "cnv.onnx")
    model = load_qonnx(path)
    graph = lower_model(model)
    assert sum(isinstance(n, MVAU) and n.xnor for n in graph.nodes) >= 7
    _check_every_layer(model, graph, golden_integers(model, graph, None, 100))


def test_lowered_graph_is_the_priced_ir(cnn_qonnx):
    """Same node names, shapes and folding rules as build_ir of the design layers."""
    from hwprune.ir import build_ir
    from hwprune.models import get_spec

    model, _ = cnn_qonnx
    lowered = lower_model(model)
    wbits, abits = [8, 1, 2, 4, 3], [1, 2, 4, 3, None]
    design = get_spec("cnn-digits").design_layers(wbits, abits)
    priced = build_ir(design, (1, 8, 8), 8)
    assert [(n.op, n.name) for n in lowered.nodes] == [(n.op, n.name) for n in priced.nodes]
    for a, b in zip(lowered.nodes, priced.nodes, strict=True):
        if a.op == "MVAU":
            assert (a.mw, a.mh, a.n_vec, a.wbits, a.out_bits) == (
                b.mw,
                b.mh,
                b.n_vec,
                b.wbits,
                b.out_bits,
            )
            assert a.weights is not None and a.acc_bits <= b.acc_bits + 1


def test_estimate_reads_qonnx(mlp_qonnx):
    from hwprune.estimate import estimate

    _, path = mlp_qonnx
    est = estimate(str(path), "pynq-z2")
    assert est.fits and [lay.name for lay in est.layers][:4] == ["fc0", "fc1", "fc2", "fc3"]


def test_folding_is_checked(mlp_qonnx):
    model, _ = mlp_qonnx
    graph = lower_model(model)
    g = with_folding(graph, {"fc0": {"pe": 8, "simd": 16}})
    assert g.folding["fc0"] == {"pe": 8, "simd": 16}
    with pytest.raises(ConfigError, match="fc0: pe=7 is illegal"):
        with_folding(graph, {"fc0": {"pe": 7}})
    with pytest.raises(ConfigError, match="unknown nodes"):
        with_folding(graph, {"conv9": {"pe": 1}})


# --------------------------------------------------------------------- refused graphs


def _edit(model, fn):
    import copy

    m = copy.deepcopy(model)
    fn(m)
    return m


def test_unknown_op_is_refused_with_its_name(mlp_qonnx):
    model, _ = mlp_qonnx

    def add_sigmoid(m):
        q = next(
            n
            for n in m.graph.node
            if n.op_type == "BipolarQuant" and m.get_initializer(n.input[0]) is None
        )
        out = q.output[0]
        for c in m.find_consumers(out):
            c.input[0] = "sig_out"
        idx = list(m.graph.node).index(q)
        m.graph.node.insert(
            idx + 1, helper.make_node("Sigmoid", [out], ["sig_out"], name="MySigmoid")
        )

    with pytest.raises(LoweringError, match=r"'MySigmoid' \(Sigmoid\)"):
        lower_model(_edit(model, add_sigmoid))


def test_nan_quantizer_parameters_are_named(mlp_qonnx):
    """A diverged training leaves NaN scales (1-bit weights under a float-scale quantizer); the
    refusal says so instead of calling a NaN scale per-channel."""
    model, _ = mlp_qonnx

    def nan_scale(m, kind):
        for n in m.graph.node:
            w = m.get_initializer(n.input[0]) if n.op_type == "Quant" else None
            if (w is not None) == (kind == "weight") and n.op_type == "Quant":
                s = m.get_initializer(n.input[1])
                m.set_initializer(n.input[1], np.full_like(s, np.nan))
                return

    for kind in ("activation", "weight"):
        with pytest.raises(LoweringError, match=r"scale holds NaN or infinite values"):
            lower_model(_edit(model, lambda m, k=kind: nan_scale(m, k)))


def test_residual_add_is_refused(mlp_qonnx):
    model, _ = mlp_qonnx

    def add_residual(m):
        mm = [n for n in m.graph.node if n.op_type == "MatMul"][2]
        bn = m.find_consumers(mm.output[0])[0]
        bn.input[0] = "res_out"
        idx = list(m.graph.node).index(mm)
        m.graph.node.insert(
            idx + 1, helper.make_node("Add", [mm.output[0], mm.input[0]], ["res_out"], name="Skip")
        )

    with pytest.raises(LoweringError, match=r"'Skip' \(Add\).*residual add"):
        lower_model(_edit(model, add_residual))


def test_float_activation_is_refused(tmp_path):
    import brevitas.nn as qnn
    from brevitas.quant import Uint8ActPerTensorFloat

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat)
            self.fc0 = qnn.QuantLinear(64, 16, bias=False, weight_bit_width=4)
            self.relu = torch.nn.ReLU()  # float: no activation quantizer
            self.fc1 = qnn.QuantLinear(16, 10, bias=False, weight_bit_width=4)

        def forward(self, x):
            return self.fc1(self.relu(self.fc0(self.inp(x).flatten(1))))

    path = export_brevitas(Net().eval(), (1, 8, 8), tmp_path / "float_act.onnx")
    with pytest.raises(LoweringError, match="float activation"):
        lower_model(load_qonnx(path))


def test_not_a_model_file(tmp_path):
    from hwprune.errors import ModelError

    bad = tmp_path / "x.onnx"
    bad.write_text("not onnx")
    with pytest.raises(ModelError, match="cannot read"):
        load_qonnx(bad)
    with pytest.raises(ModelError, match="does not exist"):
        load_qonnx(tmp_path / "missing.onnx")
    assert isinstance(onnx.__version__, str)


def test_partial_folding_is_completed_by_the_optimizer(cnn_qonnx):
    """A search's design.json fixes only conv/fc PE/SIMD: the rest comes from the optimizer."""
    model, _ = cnn_qonnx
    graph = lower_model(model)
    given = {"conv1": {"pe": 4, "simd": 48}, "fc0": {"pe": 2, "simd": 16}}
    folded = apply_folding(graph, given, "pynq-z2")
    f = folded.folding
    for name in given:  # kept as given; the multiplier resource chosen by the optimizer
        assert {k: v for k, v in f[name].items() if k != "res_type"} == given[name]
        assert f[name]["res_type"] in ("lut", "dsp")
    assert f["conv1_swg"]["simd"] > 1  # chosen by the optimizer, not left at 1


def test_old_design_without_res_type_is_exported_as_priced(mlp_qonnx):
    """A design.json from before the search chose LUT/DSP has PE/SIMD but no res_type; it was
    priced with the fixed "auto" rule, so `export --run` pins that rule's choice instead of
    letting the optimizer choose again (it would take LUTs for fc0's 8-bit weights)."""
    from export_models import MLP_BITS

    from hwprune.design import graph_from_design
    from hwprune.estimate import evaluate
    from hwprune.export.run import design_folding
    from hwprune.models import get_spec
    from hwprune.targets import load_target

    model, _ = mlp_qonnx
    graph = lower_model(model)
    spec = get_spec("mlp-digits")
    old = {
        "name": "old",
        "input": {"shape": list(spec.input_shape), "bits": graph.input.out_type.bits},
        "layers": [{**lay, "pe": 1, "simd": 1} for lay in spec.design_layers(*MLP_BITS)],
    }
    priced = evaluate(graph_from_design(old), load_target("pynq-z2"))  # priced as it was then
    want = {lay.name: lay.res_type for lay in priced.layers if lay.op == "MVAU"}
    assert want["fc0"] == "dsp"
    folding = design_folding(old)
    assert {name: f["res_type"] for name, f in folding.items()} == want
    f = apply_folding(graph, folding, "pynq-z2").folding
    assert {name: f[name] for name in want} == {
        name: {"pe": 1, "simd": 1, "res_type": res} for name, res in want.items()
    }


def test_res_types_and_xnor_message_are_shared_with_the_ir(mlp_qonnx):
    """The export's folding check uses the IR's res_type values and its XNOR/DSP message."""
    from hwprune import ir
    from hwprune.ir import folding as fold

    assert fold.RES_TYPES is ir.RES_TYPES
    model, _ = mlp_qonnx
    graph = lower_model(model)
    with pytest.raises(ConfigError) as exc:
        with_folding(graph, {"fc1": {"res_type": "dsp"}})  # fc1: bipolar x bipolar (XNOR)
    assert str(exc.value) == f"fc1: {ir.XNOR_DSP_ERROR}"
    layers = [{"op": "fc", "out": 4, "wbits": 1, "abits": None, "res_type": "dsp"}]
    with pytest.raises(ConfigError) as exc:
        ir.build_ir(layers, (8,), 1, input_kind="bipolar")
    assert str(exc.value) == f"fc0: {ir.XNOR_DSP_ERROR}"


def test_grouped_convolution_is_refused(tmp_path):
    import brevitas.nn as qnn
    from brevitas.quant import Uint8ActPerTensorFloat

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat)
            self.c0 = qnn.QuantConv2d(1, 4, 3, bias=False, weight_bit_width=4)
            self.a0 = qnn.QuantReLU(bit_width=2)
            self.c1 = qnn.QuantConv2d(4, 8, 3, groups=2, bias=False, weight_bit_width=4)
            self.a1 = qnn.QuantReLU(bit_width=2)
            self.fc = qnn.QuantLinear(8 * 4 * 4, 10, bias=False, weight_bit_width=4)

        def forward(self, x):
            x = self.a1(self.c1(self.a0(self.c0(self.inp(x)))))
            return self.fc(x.flatten(1))

    path = export_brevitas(Net().eval(), (1, 8, 8), tmp_path / "grouped.onnx")
    with pytest.raises(LoweringError, match=r"\(Conv\) is a grouped convolution \(2 groups\)"):
        lower_model(load_qonnx(path))


def test_layer_biases_fold_into_thresholds(tmp_path):
    """Brevitas' default ``bias=True``: a Conv's own bias input (float, or quantized by
    ``Int32Bias``: a Quant node of constants) and a Linear's bias Add fold into the next
    thresholds; every layer stays exact. (A Conv's bias used to be ignored silently.)"""
    import brevitas.nn as qnn
    from brevitas.quant import Int32Bias, Uint8ActPerTensorFloat

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            rq = dict(return_quant_tensor=True)
            self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, **rq)
            self.c0 = qnn.QuantConv2d(1, 6, 3, weight_bit_width=4)  # float bias
            self.a0 = qnn.QuantReLU(bit_width=3, **rq)
            self.c1 = qnn.QuantConv2d(6, 6, 3, groups=6, weight_bit_width=4, bias_quant=Int32Bias)
            self.a1 = qnn.QuantReLU(bit_width=3, **rq)
            self.fc0 = qnn.QuantLinear(6 * 4 * 4, 12, weight_bit_width=4)
            self.a2 = qnn.QuantReLU(bit_width=3, **rq)
            self.fc1 = qnn.QuantLinear(12, 10, bias=False, weight_bit_width=4)

        def forward(self, x):
            x = self.a1(self.c1(self.a0(self.c0(self.inp(x)))))
            return self.fc1(self.a2(self.fc0(x.flatten(1))))

    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():  # biases large enough to move many thresholds
        for m in (net.c0, net.c1, net.fc0):
            m.bias.uniform_(-0.5, 0.5)
    path = export_brevitas(net.eval(), (1, 8, 8), tmp_path / "bias.onnx")
    model = load_qonnx(path)
    assert sum(len(n.input) == 3 and n.op_type == "Conv" for n in model.graph.node) == 2
    graph = lower_model(model)
    assert [n.op for n in graph.kernels()].count("VVAU") == 1
    x_int = golden_integers(model, graph, None, 64)
    _check_every_layer(model, graph, x_int)
