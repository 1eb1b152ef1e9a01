"""``conv -> BatchNorm -> MaxPool -> QuantReLU`` (pooling before the activation) is lowered by
moving the pool behind the quantizer, which is exact when the steps between are rising."""

from __future__ import annotations

import pytest
import torch

from hwprune.errors import LoweringError
from hwprune.export.core import export_model, golden_integers
from hwprune.export.lower import lower_model
from hwprune.export.qonnx import export_brevitas, load_qonnx
from hwprune.export.verify import verify_against_qonnx


def _net(negative_gamma: bool, bn_after_pool: bool = False) -> torch.nn.Module:
    """conv -> BatchNorm -> MaxPool -> QuantReLU -> fc (BatchNorm after the pool if asked);
    one negative BN scale if asked."""
    import brevitas.nn as qnn
    from brevitas.quant import Uint8ActPerTensorFloat

    torch.manual_seed(0)
    bn, pool = torch.nn.BatchNorm2d(8), torch.nn.MaxPool2d(2)
    net = torch.nn.Sequential(
        qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True),
        qnn.QuantConv2d(1, 8, 3, padding=1, bias=False, weight_bit_width=4),
        *((pool, bn) if bn_after_pool else (bn, pool)),
        qnn.QuantReLU(bit_width=3, return_quant_tensor=True),
        torch.nn.Flatten(),
        qnn.QuantLinear(8 * 4 * 4, 10, bias=False, weight_bit_width=4),
    )
    with torch.no_grad():
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        if negative_gamma:
            bn.weight[3] = -1.0  # a max of that channel becomes a min through the BN
    return net.eval()


def test_pool_before_the_activation_moves_behind_the_quantizer(tmp_path) -> None:
    q = load_qonnx(export_brevitas(_net(False), (1, 8, 8), tmp_path / "m.onnx"))
    ops = [n.op_type for n in q.graph.node]
    assert ops.index("MaxPool") < ops.index("Relu")  # as the user wrote it
    graph = lower_model(q)
    kinds = [n.op for n in graph.kernels()]
    assert kinds.index("MaxPool") > kinds.index("MVAU")
    rep = verify_against_qonnx(q, graph, golden_integers(q, graph, None, 300))
    assert rep.exact and rep.label_mismatches == 0, rep.first_mismatch


def test_a_negative_scale_before_the_pool_does_not_matter(tmp_path) -> None:
    """Only the steps between the pool and the quantizer move past it; a BatchNorm before the
    pool stays in front of it, whatever its signs."""
    q = load_qonnx(export_brevitas(_net(True), (1, 8, 8), tmp_path / "neg.onnx"))
    graph = lower_model(q)
    rep = verify_against_qonnx(q, graph, golden_integers(q, graph, None, 300))
    assert rep.exact and rep.label_mismatches == 0, rep.first_mismatch


def test_a_negative_scale_after_the_pool_is_refused(tmp_path) -> None:
    net = _net(True, bn_after_pool=True)
    q = load_qonnx(export_brevitas(net, (1, 8, 8), tmp_path / "bad.onnx"))
    with pytest.raises(LoweringError, match=r"MaxPool"):
        lower_model(q)


@pytest.mark.slow
def test_pool_before_the_activation_is_bit_exact_in_verilator(tmp_path) -> None:
    r = export_model(_net(False), "ulx3s-85f", out_dir=tmp_path / "x", input_shape=(1, 8, 8),
                     n_golden=8, csim=False, rtl="sim")  # fmt: skip
    assert r.rtl.sim.bit_exact and r.bit_exact
