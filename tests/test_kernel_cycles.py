"""Every kernel's cycles, three ways: the cost model (:mod:`hwprune.cost.fpga` on the priced IR
node) == the integer graph node's ``cycles()`` == the iterations the HLS kernel's pipelined loop
really runs in g++ C simulation (and, where Verilator is installed, in the RTL kernels).

Small Brevitas models go through the real export path (QONNX -> lowering -> folding -> HLS ->
csim; Verilator for the RTL kernels where it is installed). Between them they cover: windows
with stride 1 and 2, SIMD < and = channels, plain and depthwise (a depthwise window at stride 2
with SIMD < channels has FINN's replay stalls and frame tail), zero padding, max pools with
k = 2 and 3 on even and odd maps (window generator + pool unit, as FINN builds them), MVAU/VVAU
foldings and the label select.

The depthwise stalls and tail are FINN's *estimate* (``get_exp_cycles``), which hwprune's cost
model equals so that the FINN hand-off agrees layer by layer; FINN's simulated RTL spends fewer
cycles (``bench/results/finn_swg_rtl.md``).
"""

from __future__ import annotations

import numpy as np
import pytest

from hwprune.cost.fpga import maxpool_window_cycles, node_cost, pool_cycles, window_cycles
from hwprune.ir import FIFO, VVAU, MaxPool, Pad, SlidingWindow

pytestmark = [pytest.mark.slow, pytest.mark.csim]


def _model(layers, wbits, abits, shape):
    """A briefly calibrated Brevitas model of ``layers`` (batch statistics from random data)."""
    import torch

    from hwprune.compress.quant import to_brevitas

    torch.manual_seed(0)
    q = to_brevitas(torch.nn.Sequential(*layers), wbits, abits, 16.0)
    q.train()
    with torch.no_grad():
        q(torch.rand(64, *shape))
    q.eval()
    return q


def _windows_model():
    """9x9: padded 3x3 conv (SIMD = C = 1), depthwise 3x3 stride 2 padded (SIMD 2 < C 4), 3x3
    stride 2 conv (SIMD 2 < C 4), a 2x2 pool of a 2x2 map, fc head."""
    from torch import nn

    layers = [
        nn.Conv2d(1, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 8, 3, stride=2, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8, 10, bias=False),
    ]
    folding = {
        "conv1_swg": {"simd": 2},
        "conv1": {"pe": 2, "simd": 1},
        "conv2_swg": {"simd": 2},
        "conv2": {"pe": 4, "simd": 4},
        "fc0": {"pe": 2, "simd": 4},
        "labelselect": {"pe": 2},
    }
    return _model(layers, [4, 3, 2, 4], [2, 3, 2, None], (1, 9, 9)), (1, 9, 9), folding


def _pools_model():
    """13x13: 3x3 conv, 2x2 pool of an odd 11x11 map (floor), depthwise 3x3 stride 2 padded
    (SIMD = C = 4) to 3x3, 1x1 conv, 3x3 pool of the 3x3 map, fc head."""
    from torch import nn

    layers = [
        nn.Conv2d(1, 4, 3, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 6, 1, bias=False),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.MaxPool2d(3),
        nn.Flatten(),
        nn.Linear(6, 10, bias=False),
    ]
    folding = {
        "conv0_swg": {"simd": 1},
        "conv0": {"pe": 2, "simd": 3},
        "conv1_swg": {"simd": 4},
        "conv1": {"pe": 4, "simd": 9},
        "conv2": {"pe": 3, "simd": 2},
    }
    return _model(layers, [4, 3, 3, 4], [3, 2, 3, None], (1, 13, 13)), (1, 13, 13), folding


def _rtl_level() -> str:
    """RTL level: "sim" where Verilator is installed (the RTL kernels' counts are checked)."""
    try:
        from hwprune.export.rtl.tools import verilator_root

        verilator_root()
    except Exception:
        return "write"
    return "sim"


def _check(res) -> dict[str, int]:
    """Asserts cost model == node.cycles() == csim loop count (== RTL kernels' counted cycles
    in Verilator, when simulated) for every kernel of ``res``; returns the cycles per node."""
    assert res.bit_exact and res.csim.bit_exact
    checked = _check_counts(res, res.csim.cycles)  # kernel -> iterations per frame
    if res.rtl is not None and res.rtl.sim is not None:
        rtl = {k["kernel"]: k["counted"] for k in res.rtl.sim.kernels}
        assert res.rtl.sim.bit_exact
        assert _check_counts(res, rtl) == checked
    return checked


def _check_counts(res, counted) -> dict[str, int]:
    priced = {n.name for n in res.graph.nodes if not isinstance(n, FIFO)}
    checked = {}
    for node in res.graph.kernels():
        if isinstance(node, MaxPool):  # two kernels: window generator, then the pool
            assert counted[f"{node.name}_window"] == node.window_cycles(), node.name
            assert counted[node.name] == node.pool_cycles(), node.name
            got = max(counted[f"{node.name}_window"], counted[node.name])
        else:
            got = counted[node.name]
        assert got == node.cycles(), (node.name, got, node.cycles())
        if not isinstance(node, Pad):  # padding is priced inside the IR's window
            assert node_cost(node).cycles == node.cycles(), node.name
        checked[node.name] = int(got)
    assert priced <= set(checked)  # every priced node was checked
    for kernel, n in counted.items():  # ... and every kernel that ran
        if kernel.removesuffix("_window").removesuffix("_dwc") in checked:
            continue
        assert kernel in ("axi_in", "axi_out"), kernel
        assert n > 0
    return checked


def test_windows_strides_simd_and_depthwise(tmp_path):
    from hwprune.export.core import export_model

    q, shape, folding = _windows_model()
    res = export_model(q, "pynq-z2", folding=folding, out_dir=tmp_path / "w",
                       input_shape=shape, n_golden=6, rtl=_rtl_level())  # fmt: skip
    checked = _check(res)
    by = {n.name: n for n in res.graph.nodes}
    dw = by["conv1_swg"]  # depthwise, stride 2, SIMD 2 < C 4: FINN's extra terms are there
    assert isinstance(dw, SlidingWindow) and dw.depthwise and dw.stride == 2
    assert dw.simd < dw.in_shape[2]
    plain = window_cycles(dw.in_shape[:2], dw.out_shape[:2], 4, 2, 3, 2, False)
    assert checked["conv1_swg"] == plain + 5 * 5 * 1 * 1 + 1 * 11 * 2  # stalls + tail
    assert isinstance(by["conv1"], VVAU)
    s2 = by["conv2_swg"]
    assert not s2.depthwise and s2.stride == 2 and s2.simd < s2.in_shape[2]
    assert {"conv0_pad", "conv1_pad", "labelselect"} <= set(checked)


def test_pools_k2_k3_odd_maps_and_simd_equal_channels(tmp_path):
    from hwprune.export.core import export_model

    q, shape, folding = _pools_model()
    res = export_model(q, "pynq-z2", folding=folding, out_dir=tmp_path / "p",
                       input_shape=shape, n_golden=6, rtl=_rtl_level())  # fmt: skip
    checked = _check(res)
    pools = [n for n in res.graph.nodes if isinstance(n, MaxPool)]
    assert [(p.in_shape[:2], p.kernel) for p in pools] == [((11, 11), 2), ((3, 3), 3)]
    # 11x11, k2: fill 13, 5 rows of max(5*4, 2*11), tail 11; the pool 4*25
    assert checked[pools[0].name] == max(13 + 5 * 22 + 11, 100) == 134
    dw = next(n for n in res.graph.nodes if isinstance(n, SlidingWindow) and n.depthwise)
    assert dw.stride == 2 and dw.simd == dw.in_shape[2]  # SIMD = C: only the frame tail


@pytest.mark.parametrize("h,w,k", [(28, 28, 2), (11, 11, 2), (9, 9, 3), (10, 7, 3), (6, 6, 2)])
def test_pool_formula_by_hand(h, w, k):
    """The max pool's two loops, restated: the window generator fills (K-1) rows + K pixels,
    spends max(OW*K*K, K*W) per output row and drains (K-1) rows; the pool K*K per pixel."""
    oh, ow = h // k, w // k
    node = MaxPool("p", 3, (h, w), k, 1, "uint")
    assert node.out_shape == (oh, ow, 3)
    assert node.window_cycles() == (k - 1) * w + k + oh * max(ow * k * k, k * w) + (k - 1) * w
    assert node.window_cycles() == maxpool_window_cycles((h, w), k)
    assert node.pool_cycles() == k * k * oh * ow == pool_cycles((oh, ow), k)
    assert node.cycles() == max(node.window_cycles(), node.pool_cycles())


def test_window_formula_vectorised_equals_scalar():
    """The folding tables price windows with numpy arrays of SIMD: the same numbers."""
    simd = np.array([1, 2, 4, 8])
    for dw in (False, True):
        for s in (1, 2):
            vec = window_cycles((10, 10), ((10 - 3) // s + 1,) * 2, 8, simd, 3, s, dw)
            one = [window_cycles((10, 10), ((10 - 3) // s + 1,) * 2, 8, int(x), 3, s, dw)
                   for x in simd]  # fmt: skip
            assert list(vec) == one
