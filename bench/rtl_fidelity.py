"""ECP5 model of hwprune's own RTL MVAU kernel: calibrated on Yosys, judged on held-out designs.

Truth: Yosys 0.70 ``synth_ecp5`` of ``rtl_templates/hwp_mvau.v`` (hierarchy kept: every kernel
counted alone), LUT = LUT4 + 2 per CCU2C + 4 per DPR16X4, FF = TRELLIS_FF, BRAM = DP16KD,
DSP = MULT18X18D. Kernels of one batch share one Yosys run (the tool's start-up and cell
libraries cost seconds). A calibration sweep (shapes, bits, foldings, LUT/DSP products,
parallel/binary thresholds, XNOR) fits :mod:`hwprune.cost.ecp5`'s features by non-negative least
squares; a second set of random designs that the fit never saw judges it (median |error| per
resource). Results: ``bench/results/rtl_fidelity.{json,md}`` (date, machine, tool versions).

Usage:
    python bench/rtl_fidelity.py [--calib 40] [--held-out 30] [--batch 10] [--seed 0]
    python bench/rtl_fidelity.py --refit   # fit again on the recorded counts
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwprune.cost.ecp5 import FEATURES, fit_params, mvau_features  # noqa: E402
from hwprune.export.rtl.synth import _ECP5, _counts, _flat, _module_cells  # noqa: E402
from hwprune.export.rtl.tools import run_tool, tool_versions, yowasp  # noqa: E402
from hwprune.resources import resource_dir  # noqa: E402

RESOURCES = ("lut", "ff", "bram", "dsp")


def random_design(rng: np.random.Generator) -> dict:
    """One MVAU configuration (the parameters of ``hwp_mvau``)."""
    xnor = rng.random() < 0.15
    mw = int(rng.choice([16, 32, 64, 128, 256]))
    mh = int(rng.choice([8, 16, 32, 64]))
    simd = int(rng.choice([d for d in (1, 2, 4, 8, 16, 32) if mw % d == 0 and d <= mw]))
    pe = int(rng.choice([d for d in (1, 2, 4, 8) if mh % d == 0 and d * simd <= 64]))
    if xnor:
        wb = ib = 1
        wt = it = 2
        aw = int(mw + 1).bit_length() + 1
    else:
        wb = int(rng.choice([2, 3, 4, 6, 8]))
        ib = int(rng.choice([1, 2, 3, 4, 6, 8]))
        wt, it = 1, 0
        aw = wb + ib + int(np.ceil(np.log2(mw))) + 2
    nt = int(rng.choice([0, 1, 3, 7, 15, 31, 63])) if rng.random() < 0.9 else 255
    tmode = 1 if nt >= 16 else 0
    res = 0 if xnor else int(rng.random() < 0.5)
    ob = max(1, int(nt).bit_length()) if nt else aw
    return dict(MW=mw, MH=mh, SIMD=simd, PE=pe, NVEC=1, IB=ib, IT=it, WB=wb, WT=wt, AW=aw,
                NT=nt, TMODE=tmode, NB=max(1, int(nt).bit_length()), TB=aw + 1, OB=ob,
                OT=0, OBIAS=0, XNOR=int(xnor), RES=res, VV=0)  # fmt: skip


def _write_roms(d: dict, name: str, folder: Path, rng: np.random.Generator) -> None:
    sf, nf = d["MW"] // d["SIMD"], d["MH"] // d["PE"]
    ww = d["PE"] * d["SIMD"] * d["WB"]
    digits = (ww + 3) // 4
    words = [int.from_bytes(rng.bytes((ww + 7) // 8), "little") & ((1 << ww) - 1)
             for _ in range(nf * sf)]  # fmt: skip
    (folder / f"{name}_w.hex").write_text("".join(f"{w:0{digits}x}\n" for w in words))
    nt, tb, pe = d["NT"], d["TB"], d["PE"]
    if nt == 0:
        return
    lim = 1 << (d["AW"] - 2)
    t = np.sort(rng.integers(-lim, lim, size=(nf, pe, nt)), axis=2) & ((1 << tb) - 1)
    if d["TMODE"] == 0:
        w = tb * pe * nt
        lines = []
        for f in range(nf):
            v = 0
            for i, x in enumerate(t[f].reshape(-1).tolist()):
                v |= int(x) << (i * tb)
            lines.append(f"{v:0{(w + 3) // 4}x}\n")
        (folder / f"{name}_t.hex").write_text("".join(lines))
        return
    nb = d["NB"]
    pad = np.full((nf, pe, (1 << nb) - nt), (1 << (d["AW"] - 1)) & ((1 << tb) - 1))
    tp = np.concatenate([t, pad], axis=2)
    for s in range(nb):
        j = nb - 1 - s
        idx = np.arange(1 << s) * (1 << (j + 1)) + (1 << j) - 1
        for p in range(pe):
            vals = tp[:, p, :][:, idx].reshape(-1)
            (folder / f"{name}_t_{s:02d}_{p:02d}.hex").write_text(
                "".join(f"{int(v):0{(tb + 3) // 4}x}\n" for v in vals)
            )


def synth_batch(designs: list[dict], seed: int) -> list[dict]:
    """Yosys counts of every design (one run, hierarchy kept)."""
    rng = np.random.default_rng(seed)
    tmp = Path(tempfile.mkdtemp(prefix="hwprune-fidelity-"))
    try:
        for f in ("hwp_stream.v", "hwp_mvau.v"):
            shutil.copyfile(resource_dir("rtl_templates") / f, tmp / f)
        ports, body = ["input wire clk", "input wire rst"], []
        for i, d in enumerate(designs):  # ports keep every instance (outputs used)
            name = f"k{i}"
            _write_roms(d, name, tmp, rng)
            xw = (d["PE"] if d["VV"] else 1) * d["SIMD"] * d["IB"]
            yw = d["PE"] * d["OB"]
            ports += [f"input wire [{xw - 1}:0] x{i}", f"output wire [{yw - 1}:0] y{i}",
                      f"input wire r{i}", f"output wire v{i}"]  # fmt: skip
            ps = ", ".join(f".{k}({v})" for k, v in d.items())
            body.append(
                f'    hwp_mvau #({ps}, .WFILE("{name}_w.hex"), .TFILE("{name}_t")) u_{name} ('
                f".clk(clk), .rst(rst), .in_valid(1'b1), .in_ready(), .in_data(x{i}), "
                f".out_valid(v{i}), .out_ready(r{i}), .out_data(y{i}), .iter(), .done());"
            )
        lines = ["module sweep_top (" + ", ".join(ports) + ");", *body, "endmodule"]
        (tmp / "sweep_top.v").write_text("\n".join(lines) + "\n")
        script = (
            "read_verilog -defer hwp_stream.v hwp_mvau.v sweep_top.v; "
            "synth_ecp5 -top sweep_top -noflatten; tee -q -o stat.json stat -json; "
            "write_json -compat-int netlist.json"
        )
        run_tool([yowasp("yosys"), "-q", "-p", script], cwd=tmp, timeout=7200)
        mods = _module_cells(json.loads((tmp / "stat.json").read_text()))
        cells = json.loads((tmp / "netlist.json").read_text())["modules"]["sweep_top"]["cells"]
        out = []
        for i in range(len(designs)):
            prims = _flat(cells[f"u_k{i}"]["type"].lstrip("\\"), mods)
            out.append(_counts(prims, _ECP5))
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure(designs: list[dict], batch: int, seed: int) -> list[dict]:
    truth: list[dict] = []
    for b in range(0, len(designs), batch):
        t0 = time.perf_counter()
        truth += synth_batch(designs[b : b + batch], seed + b)
        print(f"  synthesized {len(truth)}/{len(designs)} ({time.perf_counter() - t0:.0f} s)")
    return truth


def _errors(pred: list[dict], truth: list[dict]) -> dict[str, dict]:
    res = {}
    for r in RESOURCES:
        t = np.array([x[r] for x in truth], float)
        p = np.array([x[r] for x in pred], float)
        err = np.abs(p - t) / np.maximum(t, 1.0)
        res[r] = {"median_abs_error": float(np.median(err)), "p90_abs_error": float(
            np.percentile(err, 90)), "max_abs_error": float(err.max()),
            "total_truth": float(t.sum()), "total_pred": float(p.sum())}  # fmt: skip
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calib", type=int, default=40)
    ap.add_argument("--held-out", type=int, default=30)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument(
        "--refit",
        action="store_true",
        help="fit again on the recorded Yosys counts (rtl_fidelity.json), no synthesis",
    )
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    if a.refit:
        old = json.loads((Path(a.out) / "rtl_fidelity.json").read_text())
        calib, t_cal = old["calibration"]["designs"], old["calibration"]["truth"]
        held, t_held = old["held_out"]["designs"], old["held_out"]["truth"]
        measured = old["date"]
    else:
        rng = np.random.default_rng(a.seed)
        calib = [random_design(rng) for _ in range(a.calib)]
        held = [random_design(np.random.default_rng(a.seed + 1000 + i)) for i in range(a.held_out)]
        print(f"calibration sweep: {len(calib)} kernels")
        t_cal = measure(calib, a.batch, a.seed)
        print(f"held-out: {len(held)} kernels")
        t_held = measure(held, a.batch, a.seed + 7)
        measured = None
    params = fit_params([mvau_features(d) for d in calib], t_cal)
    pred = [params.predict(mvau_features(d)) for d in held]
    fit_pred = [params.predict(mvau_features(d)) for d in calib]
    doc = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()}, {platform.processor() or 'cpu'}",
        "tools": {k: v for k, v in tool_versions().items() if k == "yosys"},
        "truth": "Yosys synth_ecp5 -noflatten per hwp_mvau instance; " + _ECP5_UNITS,
        "features": list(FEATURES),
        "params": params.to_dict(),
        "calibration": {"designs": calib, "truth": t_cal, "errors": _errors(fit_pred, t_cal)},
        "held_out": {
            "designs": held,
            "truth": t_held,
            "pred": pred,
            "errors": _errors(pred, t_held),
        },  # fmt: skip
        "seconds": old["seconds"] if a.refit else round(time.perf_counter() - t0, 1),
        "synthesized": measured or "this run",
        "fmax": "not modelled here: nextpnr runs of single kernels need an I/O wrapper; the "
        "bitstream flow reports each design's achieved Fmax (bitstream/timing.json)",
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "rtl_fidelity.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "rtl_fidelity.md").write_text(render(doc))
    print(render(doc))


_ECP5_UNITS = "LUT = LUT4 + 2/CCU2C + 4/DPR16X4, FF = TRELLIS_FF, BRAM = DP16KD, DSP = MULT18X18D"


def render(doc: dict) -> str:
    rows = [
        "# ECP5 cost model of hwprune's MVAU kernel vs Yosys (held-out designs)",
        "",
        f"Recorded {doc['date']} on {doc['machine']}; {doc['tools'].get('yosys')}; Yosys counts "
        f"from {doc.get('synthesized', 'this run')}.",
        f"Truth: {doc['truth']}. Fit: non-negative least squares on "
        f"{len(doc['calibration']['designs'])} calibration kernels; judged on "
        f"{len(doc['held_out']['designs'])} random kernels it never saw.",
        "",
        "| resource | median abs error | 90th pct | calibration median | truth total "
        "| model total |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in RESOURCES:
        e, c = doc["held_out"]["errors"][r], doc["calibration"]["errors"][r]
        rows.append(
            f"| {r} | {e['median_abs_error']:.1%} | {e['p90_abs_error']:.1%} | "
            f"{c['median_abs_error']:.1%} | {e['total_truth']:.0f} | {e['total_pred']:.0f} |"
        )
    rows += [
        "",
        "The features (``hwprune/cost/ecp5.py``) were revised once after the first fit, on the "
        "calibration designs only (leave-one-out there): the ROM rule (EBR from 128 words and "
        "4,096 bits, binary-search stage ROMs counted) and the LUT partial-product terms. The "
        "first fit's held-out errors had been printed before (median LUT 20.4%, FF 37.0%, "
        "BRAM 92.1%, DSP 0.0%), so these held-out designs are not entirely unseen: a fresh "
        "sweep (``--seed 1``, about 20 min here) is the clean check.",
        f"Fmax: {doc['fmax']}.",
        f"Synthesis time: {doc['seconds']} s.",
        "",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    main()
