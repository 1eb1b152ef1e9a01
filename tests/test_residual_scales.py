"""A residual add whose two inputs have different scales (two Brevitas quantizers): lowered to
an integer add with multipliers ``a * P + b * Q`` and thresholds, bit-exact against qonnx and in
C simulation; the multipliers are the smallest exact ones, priced in the cost model."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from hwprune.models import build_model, get_spec

SHAPE = (1, 8, 8)


def _two_scale_forward(self, x: torch.Tensor) -> torch.Tensor:
    return self.relu(self.add_quant(self.body(x)) + self.skip_quant(self.shortcut(x)))


def _two_scale_resnet():
    """hwprune's ResNet-8 (quantized, random BN) whose adds requantize the shortcut with a
    quantizer of its own (another bit width, so another scale) instead of the shared one."""
    from hwprune.compress.quant import _act_layer, calibrate, to_brevitas
    from hwprune.models.build import ResidualBlock

    torch.manual_seed(0)
    spec = get_spec("resnet8", SHAPE, width_mult=0.25)
    n = spec.num_quant_layers
    wbits, abits = [3] * n, [4] * (n - 1) + [None]
    model = build_model(spec)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data = torch.rand(m.num_features) + 0.5
            m.bias.data = torch.randn(m.num_features) * 0.2
    q = to_brevitas(model, wbits, abits, 16.0)
    blocks = [m for m in q.modules() if isinstance(m, ResidualBlock)]
    assert blocks
    for k, blk in enumerate(blocks):
        blk.skip_quant = _act_layer(3 + k % 2 * 2, signed=True)  # 3 or 5 bits vs 4
        blk.forward = types.MethodType(_two_scale_forward, blk)
    calibrate(q, torch.randint(0, 17, (32, *SHAPE)).float() / 16.0)
    return q.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from hwprune.export.qonnx import export_brevitas, load_qonnx

    path = export_brevitas(_two_scale_resnet(), SHAPE, tmp_path_factory.mktemp("q") / "r.onnx")
    return load_qonnx(path), path


def test_unequal_scale_adds_lower_bit_exact_with_smallest_multipliers(exported) -> None:
    from hwprune.export.lower import lower_model
    from hwprune.export.verify import verify_against_qonnx
    from hwprune.ir import AddStreams

    model, _ = exported
    graph = lower_model(model)
    adds = [n for n in graph.nodes if isinstance(n, AddStreams)]
    assert len(adds) == 3 and all(a.muls != (1, 1) for a in adds)
    x = np.random.default_rng(1).integers(0, 17, size=(32, 8, 8, 1))
    rep = verify_against_qonnx(model, graph, x)
    assert rep.exact, rep.first_mismatch
    # the add's sum has no float tensor of its own; the thresholds after it are compared
    assert {"res0_act", "res0_skip", "res2_act"} <= {lay["name"] for lay in rep.layers}
    for a in adds:
        p, q = a.muls
        assert a.out_type.min <= min(a.in_types[0].min * p + a.in_types[1].min * q, 0)
        assert a.out_type.max >= a.in_types[0].max * p + a.in_types[1].max * q
        priced = graph.node(a.name)
        assert priced.mul_bits == (p.bit_length(), q.bit_length())
        assert priced.out_bits >= a.out_type.bits - 1


def test_multipliers_are_the_smallest_exact_and_refused_when_none(monkeypatch) -> None:
    from hwprune.export import add_requant
    from hwprune.export.add_requant import add_multipliers
    from hwprune.export.dtypes import IntType
    from hwprune.export.thresholds import _level_fn

    a_vals, b_vals = range(-8, 8), range(-16, 16)
    sa, sb = 0.173, 0.061
    qt = IntType(4, False)
    level = _level_fn(np.ones(1), np.zeros(1), True, qt, 0.2, 0, 15, "ROUND")
    p, q, T = add_multipliers(level, a_vals, sa, b_vals, sb, 15)
    a = np.array(a_vals)[:, None]
    b = np.array(b_vals)[None, :]
    ref = level(((a * np.float32(sa)).astype(np.float32) + b * np.float32(sb))[..., None])[..., 0]
    assert np.array_equal((((a * p + b * q)[..., None]) >= T[0]).sum(-1), ref)
    for qq in range(1, q + 1):  # no smaller denominator (nor numerator) is exact
        for pp in range(1, 4 * qq):
            if (qq, pp) >= (q, p):
                break
            s = (a * pp + b * qq)[..., None]
            order = np.argsort(s.ravel(), kind="stable")
            lv, sv = ref.ravel()[order], s.ravel()[order]
            exact = np.all(np.diff(lv) >= 0) and all(
                len(set(lv[sv == v])) == 1 for v in np.unique(sv)
            )
            assert not exact, (pp, qq)
    monkeypatch.setattr(add_requant, "MAX_MUL_BITS", max(p, q).bit_length() - 1)
    assert add_multipliers(level, a_vals, sa, b_vals, sb, 15) is None  # too wide: refused


@pytest.mark.slow
@pytest.mark.csim
def test_hwprune_export_of_unequal_scales_is_bit_exact_in_csim(exported, tmp_path) -> None:
    from hwprune.cli import main

    _, path = exported
    out = tmp_path / "exp"
    try:
        rc = main(
            ["export", str(path), "--target", "pynq-z2", "--out", str(out), "--samples", "20"]
            + ["--rtl", "sim"]  # Verilator too (the add's constant multipliers); no Yosys
        )
    except SystemExit as exc:
        rc = exc.code
    assert rc in (0, None)
    assert "result=BIT-EXACT" in (out / "csim.log").read_text()
    assert "result=BIT-EXACT" in (out / "rtl" / "sim.log").read_text()
    assert "hwp::add_streams<" in (out / "hls" / "top.cpp").read_text()
    # FINN's AddStreams has no input multipliers: no hand-off of a different design, and why
    assert not (out / "finn" / "folding_config.json").exists()
    assert "differently scaled" in (out / "finn" / "NOT_WRITTEN.txt").read_text()


def test_add_multipliers_are_priced_and_widen_the_sum() -> None:
    from hwprune.cost.fpga import node_cost
    from hwprune.ir import AddStreams

    plain = AddStreams("a", 16, 64, 4, "int", pe=2)
    scaled = AddStreams("a", 16, 64, 4, "int", pe=2, mul_bits=(3, 4))
    assert (plain.out_bits, scaled.out_bits) == (5, 9)
    c0, c1 = node_cost(plain), node_cost(scaled)
    assert c0.cycles == c1.cycles == 512
    assert c1.lut > c0.lut + 2 * 4 * (3 + 4) - 1  # pe x in_bits LUTs per multiplier bit
