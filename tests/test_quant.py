"""Brevitas QAT models: per-layer bits, FINN conventions, QONNX export matching torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from hwprune.compress.quant import calibrate, quant_layers, to_brevitas
from hwprune.errors import ConfigError, ModelError
from hwprune.models import build_model, get_spec

warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small models on a shared 2-core machine: one intra-op thread is fastest."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _digits_like(n: int, shape=(1, 8, 8), levels: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, levels + 1, (n, *shape), generator=g).float() / levels


def _one_step(q: nn.Module, x: torch.Tensor) -> None:
    q.train()
    opt = torch.optim.SGD(q.parameters(), lr=0.05)
    y = torch.arange(len(x)) % 10
    before = {k: v.clone() for k, v in q.state_dict().items()}
    loss = nn.functional.cross_entropy(q(x), y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    changed = [
        k
        for k, v in q.state_dict().items()
        if k in before and v.dtype.is_floating_point and not torch.equal(v, before[k])
    ]
    assert any("weight" in k for k in changed), "a training step must change the weights"
    q.eval()


CASES = [
    ("mlp-digits", [8, 4, 1, 2], [4, 1, 2, None]),
    ("cnn-digits", [8, 1, 4, 2, 3], [2, 4, 1, 8, None]),
]


@pytest.mark.parametrize(("name", "wbits", "abits"), CASES)
def test_mixed_bits_train_step_and_qonnx_matches_torch(tmp_path, name, wbits, abits) -> None:
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    torch.manual_seed(0)
    float_model = build_model(get_spec(name))
    q = to_brevitas(float_model, wbits, abits, input_scale=16.0)
    x = _digits_like(16)
    calibrate(q, x)
    _one_step(q, x)
    path = tmp_path / f"{name}.onnx"
    export_qonnx(q, input_t=x, export_path=str(path), dynamo=False)
    model = cleanup_model(ModelWrapper(str(path))).transform(InferShapes())
    ops = [n.op_type for n in model.graph.node]
    assert "BipolarQuant" in ops and "Quant" in ops
    inp, outp = model.graph.input[0].name, model.graph.output[0].name
    got = execute_onnx(model, {inp: x.numpy()})[outp]
    with torch.no_grad():
        ref = q(x).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    assert np.abs(ref).max() > 0


def test_finn_conventions() -> None:
    from brevitas.nn import QuantIdentity, QuantReLU

    float_model = build_model(get_spec("mlp-digits")).eval()
    q = to_brevitas(float_model, [8, 1, 4, 3], [1, 4, 2, None], input_scale=16.0).eval()
    x = _digits_like(8)
    # input: unsigned 8 bit, constant scale exactly 1/16 -> pixels are exact integers
    iq = q.input_quant
    assert float(iq.act_quant.scale()) == 1 / 16
    assert int(iq.act_quant.bit_width()) == 8 and not iq.act_quant.is_signed
    assert torch.equal(iq(x), x)
    layers = quant_layers(q)
    assert [n for n, _ in layers] == ["body.fc0", "body.fc1", "body.fc2", "body.head"]
    # per-output-channel scale on hidden layers, per-tensor on the head
    assert layers[0][1].quant_weight().scale.numel() == 64
    assert layers[-1][1].quant_weight().scale.numel() == 1
    assert [int(m.quant_weight().bit_width) for _, m in layers] == [8, 1, 4, 3]
    # 1-bit weights are bipolar: +-scale
    w1 = layers[1][1].quant_weight()
    assert set(torch.unique(w1.int()).tolist()) <= {-1, 1}
    # 8-bit weights are a close copy of the float weights
    w0 = float_model.fc0.weight
    assert (layers[0][1].quant_weight().value - w0).abs().max() < w0.abs().max() / 100
    # activations: layer 0 bipolar sign, others unsigned QuantReLU; BN kept
    assert isinstance(q.body.relu0, QuantIdentity) and isinstance(q.body.relu1, QuantReLU)
    assert isinstance(q.body.bn0, nn.BatchNorm1d)
    h = q.body.bn0(q.body.fc0(q.body.flatten0(q.input_quant(x))))
    assert set(torch.unique(q.body.relu0(h)).tolist()) <= {-1.0, 1.0}
    assert int(q.body.relu1.act_quant.bit_width()) == 4
    # the float model is untouched
    assert type(float_model.fc0) is nn.Linear
    assert q.wbits == (8, 1, 4, 3) and q.abits == (1, 4, 2, None)


def test_head_argmax_matches_accumulator() -> None:
    q = to_brevitas(build_model(get_spec("mlp-digits")), [4] * 4, [4, 4, 4, None], 16.0).eval()
    calibrate(q, _digits_like(64))
    x = _digits_like(32)
    head = q.body.head
    feats = {}
    head.register_forward_hook(lambda m, i, o: feats.update(inp=i[0]))
    with torch.no_grad():
        out = q(x)
        qw = head.quant_weight()
        acc = feats["inp"] @ qw.int().float().t()  # integer weights, one per-tensor scale
    assert qw.scale.numel() == 1
    torch.testing.assert_close(acc * qw.scale, out)
    assert torch.equal(acc.argmax(1), out.argmax(1))


def test_bad_bits_and_models() -> None:
    model = build_model(get_spec("mlp-digits"))
    with pytest.raises(ConfigError, match="4 conv/linear"):
        to_brevitas(model, [4, 4], [4, None], 16.0)
    with pytest.raises(ConfigError, match="1..8"):
        to_brevitas(model, [4, 9, 4, 4], [4, 4, 4, None], 16.0)
    with pytest.raises(ConfigError, match="1..8"):
        to_brevitas(model, [4] * 4, [4, 0, 4, None], 16.0)
    with pytest.raises(ConfigError, match="head"):
        to_brevitas(model, [4] * 4, [4, 4, 4, 4], 16.0)
    with pytest.raises(ConfigError, match="8-bit"):
        to_brevitas(model, [4] * 4, [4, 4, 4, None], 1024.0)
    no_relu = nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.Linear(8, 10))
    with pytest.raises(ModelError, match="nn.ReLU"):
        to_brevitas(no_relu, [4, 4], [4, None], 16.0)


def test_user_model_with_bias_quantizes() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 10)).eval()
    q = to_brevitas(model, [8, 8], [8, None], 16.0).eval()
    calibrate(q, _digits_like(64))
    x = _digits_like(4)
    assert q(x).shape == (4, 10)
    assert torch.allclose(q.body[1].bias, model[1].bias)


def _randomize_bn(model: nn.Module) -> nn.Module:
    g = torch.Generator().manual_seed(3)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data = torch.rand(m.num_features, generator=g) + 0.5
            m.bias.data = torch.randn(m.num_features, generator=g) * 0.2
            m.running_var = torch.rand(m.num_features, generator=g) * 0.2 + 0.05
    return model


@pytest.mark.parametrize(
    ("name", "wbits", "abits"),
    [
        ("resnet8", [8, 4, 2, 3, 4, 4, 2, 4, 3, 4], [4, 3, 4, 2, 3, 3, 4, 2, 2, None]),
        ("dscnn", [8, 4, 3, 2, 4, 8, 3, 4, 2, 4], [4, 3, 2, 4, 4, 3, 2, 4, 4, None]),
    ],
)
def test_residual_and_depthwise_export_to_qonnx(tmp_path, name, wbits, abits) -> None:
    """Residual adds share one quantizer (an integer add of equal scales), depthwise and pointwise
    layers have their own bits, global average pooling is an integer sum + truncation; the QONNX
    export computes exactly what the Brevitas model does."""
    from brevitas.nn import QuantConv2d, QuantIdentity, TruncAdaptiveAvgPool2d
    from qonnx.core.onnx_exec import execute_onnx

    from hwprune.export.qonnx import export_brevitas, load_qonnx

    torch.manual_seed(0)
    spec = get_spec(name, (1, 8, 8), width_mult=0.25)
    q = to_brevitas(_randomize_bn(build_model(spec)), wbits, abits, input_scale=16.0)
    x = _digits_like(16)
    calibrate(q, x)
    _one_step(q, x)
    assert [m.weight_quant.bit_width() for _, m in quant_layers(q)] == wbits
    assert any(isinstance(m, TruncAdaptiveAvgPool2d) for m in q.modules())
    if name == "dscnn":
        dw = [m for m in q.modules() if isinstance(m, QuantConv2d) and m.groups > 1]
        assert [int(m.weight_quant.bit_width()) for m in dw] == [4, 2, 8, 4]
    else:
        for blk in (q.body.res1, q.body.res2, q.body.res3):
            assert isinstance(blk.add_quant, QuantIdentity)
            assert blk.add_quant.act_quant.is_signed
    model = load_qonnx(export_brevitas(q, (1, 8, 8), tmp_path / f"{name}.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Add") == (3 if name == "resnet8" else 0)
    assert "Trunc" in ops
    for add in (n for n in model.graph.node if n.op_type == "Add"):
        scales = [model.get_initializer(model.find_producer(t).input[1]) for t in add.input]
        assert all(model.find_producer(t).op_type == "Quant" for t in add.input)
        np.testing.assert_array_equal(scales[0], scales[1])  # one shared quantizer
    inp, outp = model.graph.input[0].name, model.graph.output[0].name
    got = np.concatenate([execute_onnx(model, {inp: x[i : i + 1].numpy()})[outp] for i in range(4)])
    with torch.no_grad():
        ref = q(x[:4]).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    assert np.abs(ref).max() > 0


def test_residual_add_inputs_need_equal_activation_bits() -> None:
    spec = get_spec("resnet8", (1, 8, 8), width_mult=0.25)
    abits = [4] * 9 + [None]
    abits[5] = 2  # res2.shortcut.conv0 meets res2.body.conv1 (abits 4) in the add
    assert (4, 5) in spec.shared_activations()
    with pytest.raises(ConfigError, match="same activation bits"):
        to_brevitas(build_model(spec), [4] * 10, abits, 16.0)
