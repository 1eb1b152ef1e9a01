"""GPU export: ONNX QCDQ and float16 ONNX run in onnxruntime with the torch model's top-1."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from hwprune.compress.quant import calibrate, to_brevitas
from hwprune.compress.train import finetune_qat, train_float
from hwprune.cost.gpu import estimate_gpu
from hwprune.data import load_dataset
from hwprune.export.gpu import (
    check_onnx,
    export_fp16,
    export_gpu_bundle,
    export_qcdq,
    onnx_predict,
    torch_predict,
)
from hwprune.models import build_model, get_spec
from hwprune.targets import load_target


@pytest.fixture(scope="module")
def digits():
    torch.set_num_threads(1)
    return load_dataset("digits")


def _trained(name: str, data, wbits, abits):
    torch.manual_seed(0)
    model = build_model(get_spec(name))
    train_float(model, data, epochs=6, seed=0)
    q = to_brevitas(model, wbits, abits, data.input_scale)
    calibrate(q, data.train.x)
    finetune_qat(q, model, data, epochs=1, seed=0)
    return model.eval(), q.eval()


def test_qcdq_mlp_same_top1_as_torch_on_digits(digits, tmp_path) -> None:
    model, q = _trained("mlp-digits", digits, [8, 4, 4, 8], [4, 4, 2, None])
    path = export_qcdq(q, digits.input_shape, tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert [i.name for i in proto.graph.input] == ["x"]  # weights are constants, not inputs
    int8 = [i for i in proto.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    assert int8, "QCDQ weights are stored as int8"
    check = check_onnx(path, q, digits.test.x, digits.test.y)
    assert check.torch_top1 > 0.8
    assert check.same_top1 and check.agreement == 1.0
    assert check.max_abs_logit_diff < 1e-4
    # a dynamic batch: one sample at a time gives the same logits
    one = onnx_predict(path, digits.test.x[:3], batch_size=1)
    np.testing.assert_allclose(one, torch_predict(q, digits.test.x[:3]), atol=1e-4)
    # onnxruntime's integer QDQ fusion (what deployment engines do) keeps the predictions
    fused = check_onnx(path, q, digits.test.x, digits.test.y, fuse_qdq=True)
    assert fused.agreement >= 0.98


def test_qcdq_cnn_and_fp16_on_digits(digits, tmp_path) -> None:
    model, q = _trained("cnn-digits", digits, [8, 4, 4, 4, 8], [4, 4, 4, 4, None])
    check = check_onnx(
        export_qcdq(q, digits.input_shape, tmp_path / "c.onnx"), q, digits.test.x, digits.test.y
    )
    assert {"Conv"} <= {n.op_type for n in onnx.load(str(tmp_path / "c.onnx")).graph.node}
    assert check.torch_top1 > 0.8 and check.same_top1 and check.agreement == 1.0
    path16 = export_fp16(model, digits.input_shape, tmp_path / "c16.onnx")
    proto = onnx.load(str(path16))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert all(
        i.data_type == onnx.TensorProto.FLOAT16
        for i in proto.graph.initializer
        if i.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)
    )
    c16 = check_onnx(path16, model, digits.test.x, digits.test.y)
    assert c16.torch_top1 > 0.9
    assert c16.agreement >= 0.99 and abs(c16.onnx_top1 - c16.torch_top1) <= 1 / len(digits.test)


def test_bundle_writes_what_the_precisions_need(digits, tmp_path) -> None:
    torch.manual_seed(0)
    model = build_model(get_spec("mlp-digits")).eval()
    q = to_brevitas(model, [8, 8, 8, 8], [8, 8, 8, None], digits.input_scale)
    calibrate(q, digits.train.x)
    design = {
        "input": {"shape": [1, 8, 8], "bits": 8},
        "layers": get_spec("mlp-digits").design_layers([8, 8, 16, 8], [8, 16, 16, None]),
    }
    est = estimate_gpu(design, load_target("jetson-agx-orin"))
    assert {r.precision for r in est.layers} == {"int8", "fp16"}
    files = export_gpu_bundle(
        tmp_path / "best",
        q.eval(),
        model,
        digits.input_shape,
        estimate=est,
        check=(digits.test.x, digits.test.y),
    )
    names = sorted(p.name for p in (tmp_path / "best").iterdir())
    assert names == [
        "latency.json",
        "latency.txt",
        "model_fp16.onnx",
        "model_qcdq.onnx",
        "onnx_check.json",
    ]
    report = json.loads((tmp_path / "best" / "latency.json").read_text())
    assert report["target"] == "jetson-agx-orin" and len(report["layers"]) == 4
    assert "runs as" in (tmp_path / "best" / "latency.txt").read_text()
    assert files["check"]["qcdq"]["agreement"] == 1.0
    # an all-int8 design on an int8 GPU needs no float file
    est8 = estimate_gpu(
        {
            "input": {"shape": [1, 8, 8], "bits": 8},
            "layers": get_spec("mlp-digits").design_layers([4] * 4, [4, 4, 4, None]),
        },
        load_target("a100"),
    )
    files8 = export_gpu_bundle(tmp_path / "b8", q.eval(), model, digits.input_shape, estimate=est8)
    assert "fp16" not in files8 and "qcdq" in files8


def test_qcdq_refuses_bipolar_layers_with_a_clear_message(digits, tmp_path) -> None:
    from hwprune.errors import ModelError

    q = to_brevitas(
        build_model(get_spec("mlp-digits")), [1, 1, 1, 8], [1, 1, 1, None], digits.input_scale
    )
    with pytest.raises(ModelError, match="1-bit"):
        export_qcdq(q, digits.input_shape, tmp_path / "b.onnx")
