"""The Brevitas -> QONNX export is checked against the model's own outputs before anything is
built from it (hwprune builds what the QONNX file says)."""

from __future__ import annotations

import pytest
import torch

from hwprune.errors import UnsupportedModelError
from hwprune.export.core import export_model
from hwprune.export.qonnx import check_brevitas_export, export_brevitas, load_qonnx


def _net(act_bits: int) -> torch.nn.Module:
    import brevitas.nn as qnn
    from brevitas.quant import Uint8ActPerTensorFloat

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True),
        qnn.QuantLinear(64, 16, bias=False, weight_bit_width=4),
        torch.nn.BatchNorm1d(16),
        qnn.QuantReLU(bit_width=act_bits, return_quant_tensor=True),
        qnn.QuantLinear(16, 10, bias=False, weight_bit_width=4),
    )
    with torch.no_grad():  # a BN that shifts the pre-activations around zero
        net[2].running_mean.uniform_(-2, 2)
        net[2].bias.uniform_(-1, 1)
    return net.eval()


def test_an_export_that_is_not_the_model_is_refused(tmp_path) -> None:
    """Brevitas writes an unsigned 1-bit QuantReLU ({0, s}) as a bipolar quantizer (+-1): the
    QONNX file is another network, and every check after it would compare against that file."""
    bad = _net(1)
    q = load_qonnx(export_brevitas(bad, (64,), tmp_path / "bad.onnx"))
    assert any(n.op_type == "BipolarQuant" for n in q.graph.node)  # the exporter's doing
    with pytest.raises(UnsupportedModelError, match=r"computes other outputs .* not bipolar"):
        check_brevitas_export(bad, q)
    out = tmp_path / "export"
    with pytest.raises(UnsupportedModelError, match="QuantReLU"):
        export_model(bad, "pynq-z2", out_dir=out, input_shape=(64,), csim=False, rtl="write")
    assert not out.exists()  # stopped before anything was written
    good = _net(2)  # the same network with 2-bit activations is its own export
    check_brevitas_export(good, load_qonnx(export_brevitas(good, (64,), tmp_path / "ok.onnx")))
