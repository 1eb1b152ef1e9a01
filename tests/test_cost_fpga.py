"""FPGA cost model: cycle formulas by hand, memory mapping, calibration rows, design totals."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hwprune.cost.folding import fold
from hwprune.cost.fpga import (
    FpgaCostParams,
    bram18_for,
    io_cycles,
    memory_cost,
    node_cost,
    swg_cycles,
)
from hwprune.estimate import estimate, evaluate
from hwprune.ir import MVAU, VVAU, LabelSelect, MaxPool, SlidingWindow, Thresholding, build_ir
from hwprune.targets import load_target

P = FpgaCostParams()


def mvau(mw, mh, n_vec=1, pe=1, simd=1, w=1, a=1, out=1, **kw):
    wk = "bipolar" if w == 1 else "int"
    ak = "bipolar" if a == 1 else "uint"
    from hwprune.ir import accumulator_bits

    acc = accumulator_bits(mw, w, wk, a, ak)
    return MVAU(
        "m",
        mw,
        mh,
        n_vec,
        w,
        wk,
        a,
        ak,
        acc,
        out,
        "bipolar" if out == 1 else "uint",
        pe,
        simd,
        **kw,
    )


def test_mvau_cycles_by_hand():
    # BNN-PYNQ CNV layer 1: 576x64, 784 pixels, PE 32, SIMD 32 -> 2 * 18 * 784
    assert node_cost(mvau(576, 64, 784, 32, 32)).cycles == 28224
    # LFC layer 1: 1024x1024, PE 64, SIMD 32 -> 16 * 32
    assert node_cost(mvau(1024, 1024, 1, 64, 32)).cycles == 512


def test_vvau_thresholding_labelselect_maxpool_cycles_by_hand():
    v = VVAU("v", 32, 3, 100, 4, "int", 4, "uint", 12, 4, "uint", pe=8, simd=3)
    assert node_cost(v).cycles == (32 * 9) // (8 * 3) * 100  # 1200
    assert node_cost(Thresholding("t", 784, 1, 8, 1, "bipolar", pe=49)).cycles == 16
    assert node_cost(LabelSelect("l", 10, 16, pe=5)).cycles == 2
    # finn-plus: window generator (SIMD = C) + Pool_hls: fill 30 + 14 rows * 56 + 28 skipped
    assert node_cost(MaxPool("p", 64, (28, 28), 2, 1, "bipolar")).cycles == 842


def test_sliding_window_cycles_by_hand():
    # 3x3 window on 32x32x3, SIMD 3: buffer fill (2*32+3)*1 + 30 rows * max(30*9, 32)
    s = SlidingWindow("s", 3, (32, 32), 3, 1, 0, 8, "uint", simd=3)
    assert swg_cycles(s) == 67 + 30 * 270
    # stride 2 with padding 1 on 8x8x4, SIMD 2: padded 10, 4x4 out, CF 2
    s = SlidingWindow("s", 4, (8, 8), 3, 2, 1, 2, "uint", simd=2)
    assert s.ofm == (4, 4)
    assert swg_cycles(s) == (2 * 10 + 3) * 2 + 4 * max(4 * 9 * 2, 2 * 10 * 2)


def test_bnn_pynq_cnv_bottleneck_and_board_fps():
    """Reference section 1: the BNN-PYNQ CNV-W1A1 folding has max_cycles 32,768 (board 3,050)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from cost_fidelity import bnn_pynq_cnv

    e = evaluate(bnn_pynq_cnv(), load_target("pynq-z1"))
    assert e.node_cycles == 32768
    assert e.fps == pytest.approx(3050.0, rel=0.01)


@pytest.mark.parametrize(
    "width, depth, expected",
    [
        (27, 64, 2.0),  # L01: one RAMB36 (FINN estimates 1 RAMB18)
        (576, 64, 16.0),  # L02: 8 RAMB36
        (144, 512, 4.0),  # L03: 2 RAMB36
        (288, 512, 8.0),  # L04: 4 RAMB36
        (1280, 60, 36.0),  # R14 layer 0: 18 RAMB36
        (32, 9216, 32.0),  # deep-narrow: 2x16384 aspect, 16 RAMB36
        (8, 147456, 80.0),  # deeper than 32768: cascaded 1x32768 blocks
    ],
)
def test_weight_memory_mapping(width, depth, expected):
    assert bram18_for(width, depth) == expected


def test_small_memories_go_to_lutram_and_styles_are_honoured():
    assert memory_cost(2, 64, "auto", P) == (2.0, 0.0)  # 128 bits
    assert memory_cost(576, 8, "auto", P) == (576.0, 0.0)  # 16 words deep
    assert memory_cost(576, 64, "distributed", P) == (576.0, 0.0)
    assert memory_cost(2, 64, "block", P) == (0.0, 2.0)


def test_calibration_rows_reproduced():
    """Finn_Thesis per-node rows L01-L04: BRAM exact, LUT within 20%, DSP inferred on 8 bits."""
    real = {  # (PE, SIMD, MW, MH, pixels, in bits): (LUT, BRAM18, DSP)
        (1, 27, 27, 64, 900, 8): (357, 2, 27),
        (8, 72, 576, 64, 784, 1): (1820, 16, 0),
        (2, 72, 576, 128, 144, 1): (777, 4, 0),
        (4, 72, 1152, 128, 100, 1): (1356, 8, 0),
    }
    for (pe, simd, mw, mh, px, a), (lut, bram, dsp) in real.items():
        c = node_cost(mvau(mw, mh, px, pe, simd, 1, a))
        assert c.bram18 == bram and c.dsp == dsp
        assert c.lut == pytest.approx(lut, rel=0.2)
        assert c.ff > 0


def test_per_pe_layout_gives_bnn_pynq_lfc_bram():
    """Reference section 8: per-PE weight arrays give exactly LFC-W1A1's 208 RAMB18."""
    per_pe = replace(P, weight_layout="per_pe")
    fold_ = [(832, 1024, 32, 64), (1024, 1024, 64, 32), (1024, 1024, 32, 64), (1024, 64, 16, 8)]
    total = sum(
        node_cost(mvau(mw, mh, 1, pe, simd, out=1 if mh > 64 else None), per_pe).bram18
        for mw, mh, pe, simd in fold_
    )
    assert total == 208


def test_dsp_versus_lut_multipliers():
    wide = mvau(72, 16, 1, 4, 8, w=8, a=8, out=None)
    assert (
        node_cost(wide).dsp == 32
        and node_cost(wide).lut < node_cost(replace(wide, res_type="lut")).lut
    )
    assert node_cost(replace(wide, res_type="lut")).dsp == 0
    narrow = mvau(72, 16, 1, 4, 8, w=2, a=2, out=2)
    assert node_cost(narrow).dsp == 0 and node_cost(replace(narrow, res_type="dsp")).dsp == 32


def test_more_parallelism_costs_more_luts():
    base = node_cost(mvau(576, 64, 1, 1, 8, w=2, a=2, out=2)).lut
    assert node_cost(mvau(576, 64, 1, 4, 8, w=2, a=2, out=2)).lut > base
    assert node_cost(mvau(576, 64, 1, 1, 32, w=2, a=2, out=2)).lut > base
    assert node_cost(mvau(576, 64, 1, 1, 8, w=4, a=4, out=2)).lut > base


def test_optimizer_tables_and_evaluate_agree():
    t = load_target("pynq-z2")
    g = build_ir(
        [
            {"op": "conv", "out_ch": 16, "kernel": 3, "wbits": 2, "abits": 2},
            {"op": "maxpool", "kernel": 2},
            {"op": "conv", "out_ch": 32, "kernel": 3, "wbits": 2, "abits": 2},
            {"op": "fc", "out": 10, "wbits": 2, "abits": None},
        ],
        (3, 16, 16),
        8,
    )
    r = fold(g, t)
    e = evaluate(g.with_folding(r.folding), t)
    area = e.lut / t.lut + e.ff / t.ff + e.bram18 / t.bram18 + e.dsp / t.dsp
    assert r.area == pytest.approx(area, rel=1e-9)
    assert r.node_cycles == e.node_cycles and r.fits == e.fits


def test_design_too_big_says_what_binds_without_raising():
    d = {
        "input": {"shape": [1, 64, 64], "bits": 8},
        "layers": [
            {"op": "fc", "out": 4096, "wbits": 4, "abits": 4},
            {"op": "fc", "out": 10, "wbits": 4, "abits": None},
        ],
    }
    e = estimate(d, "pynq-z2")
    assert not e.fits and e.binding == "bram18" and e.util["bram18"] > 0.85
    assert e.to_dict()["fits"] is False


def test_totals_include_overheads_and_clock_scales_fps():
    d = {
        "input": {"shape": [3, 32, 32], "bits": 8},
        "layers": [
            {"op": "conv", "out_ch": 16, "kernel": 3, "wbits": 2, "abits": 2, "pe": 4, "simd": 9},
            {"op": "fc", "out": 10, "wbits": 2, "abits": None, "pe": 10, "simd": 30},
        ],
    }
    t = load_target("pynq-z2")
    e = estimate(d, t)
    nodes = sum(x.lut for x in e.layers)
    over = sum(o["lut"] for o in e.overheads.values())
    assert e.lut == pytest.approx(nodes + over)
    assert e.overheads["shell"]["lut"] == t.shell_lut and e.overheads["dma"]["count"] == 2
    assert e.overheads["fifos"]["count"] >= len(e.layers) + 1
    e2 = estimate(d, t, clock_mhz=200)
    assert e2.fps == pytest.approx(2 * e.fps)
    assert e.latency_us > 1e6 / e.fps * (e.node_cycles / e.cycles) * 0.99


def test_io_bound_fc_net():
    """A tiny MLP on a big input is limited by the 64-bit port, as FC nets on boards are."""
    d = {
        "input": {"shape": [1, 16, 16], "bits": 8},
        "layers": [
            {"op": "fc", "out": 8, "wbits": 2, "abits": 2},
            {"op": "fc", "out": 10, "wbits": 2, "abits": None},
        ],
    }
    e = estimate(d, "pynq-z2")
    assert e.io_cycles == io_cycles(256 * 8, 64) == 32
    assert e.binding == "io" and e.cycles == 32 + P.frame_overhead_cycles
    assert e.node_cycles <= 32
