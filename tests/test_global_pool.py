"""An AveragePool over the whole map (Brevitas ``TruncAvgPool2d(kernel_size=map)``, as KWS
DS-CNNs end) is a global average pool; a smaller window is refused by name."""

from __future__ import annotations

import pytest
import torch

from hwprune.errors import LoweringError
from hwprune.export.core import export_model, golden_integers
from hwprune.export.lower import lower_model
from hwprune.export.qonnx import export_brevitas, load_qonnx
from hwprune.export.verify import verify_against_qonnx


def _net(pool_kernel: int) -> torch.nn.Module:
    import brevitas.nn as qnn
    from brevitas.quant import Uint8ActPerTensorFloat

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            rq = dict(return_quant_tensor=True)
            self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, **rq)
            self.c = qnn.QuantConv2d(1, 8, 3, bias=False, weight_bit_width=4)
            self.bn = torch.nn.BatchNorm2d(8)
            self.a = qnn.QuantReLU(bit_width=4, **rq)
            self.p = qnn.TruncAvgPool2d(kernel_size=pool_kernel, bit_width=6)
            self.fc = qnn.QuantLinear(8 * (6 // pool_kernel) ** 2, 10, bias=False,
                                      weight_bit_width=4)  # fmt: skip

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.p(self.a(self.bn(self.c(self.inp(x))))).flatten(1))

    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-1, 1)
    return net.eval()


def test_average_pool_over_the_whole_map_is_a_global_pool(tmp_path) -> None:
    net = _net(6)
    q = load_qonnx(export_brevitas(net, (1, 8, 8), tmp_path / "gap.onnx"))
    assert "AveragePool" in {n.op_type for n in q.graph.node}
    graph = lower_model(q)
    assert [n.op for n in graph.kernels()].count("GlobalAccPool") == 1
    rep = verify_against_qonnx(q, graph, golden_integers(q, graph, None, 200))
    assert rep.exact and rep.label_mismatches == 0, rep.first_mismatch


def test_average_pool_of_smaller_windows_is_refused(tmp_path) -> None:
    q = load_qonnx(export_brevitas(_net(2), (1, 8, 8), tmp_path / "avg2.onnx"))
    with pytest.raises(LoweringError, match=r"averages \[2, 2\] windows of a 6x6 map"):
        lower_model(q)


@pytest.mark.slow
def test_average_pool_head_exports_bit_exact_in_verilator(tmp_path) -> None:
    r = export_model(_net(6), "ulx3s-85f", out_dir=tmp_path / "x", input_shape=(1, 8, 8),
                     n_golden=8, csim=False, rtl="sim")  # fmt: skip
    assert r.rtl.sim.bit_exact and r.bit_exact
