"""Fmax model of ECP5 designs vs nextpnr-ecp5: calibrated on random designs, judged on held-out.

Truth: hwprune's bitstream flow on the ULX3S-85F (:mod:`hwprune.export.rtl.ecp5`): the design's
RTL (:func:`hwprune.export.rtl.generate.write_rtl`) in the board wrapper (PLL, UART bridge),
Yosys ``synth_ecp5``, nextpnr-ecp5 ``--85k --package CABGA381 --speed 6`` at the target's
50 MHz with a fixed ``--seed 1`` and ``--timing-allow-fail``; the achieved Fmax of the fabric
clock from nextpnr's ``--report``. Designs: random MLPs and small CNNs (random widths, weight
and activation bits, thresholds, PE/SIMD folding, LUT or DSP products, XNOR layers), built as
IR graphs directly (no training: Fmax depends on the structure, not the weight values).

Every measured design is cached (``--cache`` folder, one JSON per design, keyed by the design
seed), so an interrupted sweep resumes. The model (:mod:`hwprune.cost.fmax`) is fitted on the
calibration designs and judged on held-out designs drawn from other seeds; results:
``bench/results/fmax_fidelity.{json,md}`` (date, machine, tool versions).

Usage:
    nice -n 10 python bench/fmax_fidelity.py sweep --calib 30 --held-out 30
    python bench/fmax_fidelity.py fit          # fit + judge on the cached measurements
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwprune.ir import (  # noqa: E402
    MVAU,
    DataflowGraph,
    Export,
    GraphInput,
    IntType,
    LabelSelect,
    MaxPool,
    SlidingWindow,
)

CALIB_SEED0 = 0  # calibration designs: seeds 0 .. calib-1
HELD_SEED0 = 10_000  # held-out designs: seeds 10000 ..
CLOCK_MHZ = 50.0  # the ULX3S-85F target's clock (the flow's first try)
NEXTPNR_SEED = 1


# ------------------------------------------------------------------------------------ designs
def _divisor(rng: np.random.Generator, n: int, cap: int) -> int:
    return int(rng.choice([d for d in range(1, min(n, cap) + 1) if n % d == 0]))


def _mvau(
    rng: np.random.Generator, name: str, mw: int, mh: int, in_t: IntType, *, head: bool,
    nvec: int = 1, conv: bool = False, in_shape: tuple[int, ...] | None = None,
) -> MVAU:  # fmt: skip
    """A random MVAU of ``mw`` x ``mh`` on inputs of ``in_t`` (random bits, folding, products)."""
    xnor = in_t.bipolar and not head and rng.random() < 0.7
    wt = IntType(1, True, True) if xnor else IntType(int(rng.choice([2, 3, 4, 5, 6, 8])), True)
    w = rng.choice([-1, 1], size=(mh, mw)) if wt.bipolar else (
        rng.integers(wt.min, wt.max + 1, size=(mh, mw)))  # fmt: skip
    ib = 2 if in_t.bipolar else in_t.bits
    acc = IntType(wt.bits + ib + math.ceil(math.log2(mw)) + 1, True)
    simd = _divisor(rng, mw, 16)
    pe = _divisor(rng, mh, max(1, 16 // simd))
    res = "lut" if xnor else str(rng.choice(["lut", "dsp"]))
    if head:
        thr, out_t = None, acc
    else:
        nt = int(rng.choice([1, 1, 3, 7, 15, 31, 63, 255]))
        bip = nt == 1 and rng.random() < 0.6
        lim = 1 << min(acc.bits - 2, 12)
        thr = np.sort(rng.integers(-lim, lim, size=(mh, nt)), axis=1)
        out_t = IntType(1, True, True) if bip else IntType(int(nt).bit_length(), False)
    acc_bits = int(mw + 1).bit_length() if xnor else acc.bits  # an XNOR unit: a popcount
    out = (None, "int") if head else (out_t.bits, out_t.kind)
    ex = Export(out_type=out_t, in_type=in_t, in_shape=in_shape or (mw,), acc_type=acc)
    return MVAU(
        name, mw, mh, nvec, wt.bits, wt.kind, in_t.bits, in_t.kind, acc_bits, *out, pe=pe,
        simd=simd, conv=conv, res_type=res, weights=w, thresholds=thr, export=ex,
    )  # fmt: skip


def _graph(inp: GraphInput, nodes: list[Any]) -> DataflowGraph:
    shape = inp.out_shape
    chw = (shape[2], shape[0], shape[1]) if len(shape) == 3 else (shape[0], 1, 1)
    t = inp.out_type
    return DataflowGraph("design", chw, t.bits, tuple(nodes), input=inp, output="label")


def _label_select(head: MVAU, labels: int) -> LabelSelect:
    ex = Export(out_type=IntType(4, False), in_type=head.out_type)
    return LabelSelect("labelselect", labels, head.out_type.bits, export=ex)


def random_mlp(rng: np.random.Generator) -> DataflowGraph:
    """Input -> 1..3 thresholded MVAUs -> head MVAU -> arg-max."""
    n0 = int(rng.choice([16, 32, 64]))
    in_t = IntType(int(rng.choice([1, 2, 4, 8])), False)
    inp = GraphInput("input", (n0,), in_t, 1.0, "x", value_range=(0, in_t.max))
    nodes: list[Any] = []
    width, cur = n0, in_t
    for i in range(int(rng.integers(1, 3))):
        mh = int(rng.choice([8, 16, 32]))
        node = _mvau(rng, f"fc{i}", width, mh, cur, head=False)
        nodes.append(node)
        width, cur = mh, node.out_type
    labels = int(rng.choice([4, 8, 10]))
    head = _mvau(rng, "head", width, labels, cur, head=True)
    nodes.append(head)
    nodes.append(_label_select(head, labels))
    return _graph(inp, nodes)


def random_cnn(rng: np.random.Generator) -> DataflowGraph:
    """(H, W, C) -> 1..2 x (3x3 conv [-> 2x2 max pool]) -> head MVAU -> arg-max."""
    h = int(rng.choice([6, 8, 10]))
    c = int(rng.choice([1, 2, 3, 4]))
    in_t = IntType(int(rng.choice([2, 4, 8])), False)
    inp = GraphInput("input", (h, h, c), in_t, 1.0, "x", value_range=(0, in_t.max))
    nodes: list[Any] = []
    cur = in_t
    for i in range(int(rng.integers(1, 3))):
        if h < 3:
            break
        oh = h - 2
        cout = int(rng.choice([4, 8, 16]))
        name = f"conv{i}"
        nodes.append(SlidingWindow(f"{name}_swg", c, (h, h), 3, 1, 0, cur.bits, cur.kind))
        mv = _mvau(rng, name, 9 * c, cout, cur, head=False, nvec=oh * oh, conv=True,
                   in_shape=(oh, oh, 9 * c))  # fmt: skip
        mv = _replace_shape(mv, (oh, oh, cout))
        nodes.append(mv)
        h, c, cur = oh, cout, mv.out_type
        if h >= 4 and rng.random() < 0.6:
            nodes.append(MaxPool(f"pool{i}", c, (h, h), 2, cur.bits, cur.kind))
            h //= 2
    labels = int(rng.choice([4, 10]))
    head = _mvau(rng, "head", h * h * c, labels, cur, head=True, in_shape=(h, h, c))
    nodes.append(head)
    nodes.append(_label_select(head, labels))
    return _graph(inp, nodes)


def _replace_shape(node: MVAU, shape: tuple[int, ...]) -> MVAU:
    from dataclasses import replace

    assert node.export is not None
    return replace(node, export=replace(node.export, out_shape=shape))


def random_design(seed: int) -> DataflowGraph:
    """The design of ``seed`` (an MLP or, one time in three, a CNN)."""
    rng = np.random.default_rng(seed)
    return random_cnn(rng) if rng.random() < 1 / 3 else random_mlp(rng)


def describe(graph: DataflowGraph) -> list[dict[str, Any]]:
    """A short record of the design's nodes (for the results file; kinds spelled as the first
    sweep recorded them, ``MVAUNode`` etc.)."""
    out = []
    for n in graph.nodes:
        d: dict[str, Any] = {"name": n.name, "kind": f"{n.op}Node"}
        if isinstance(n, MVAU):
            d.update(mw=n.mw, mh=n.mh, pe=n.pe, simd=n.simd, nvec=n.n_vec, wtype=n.wtype.name,
                     in_type=n.in_type.name, acc=n.acc_type.name, res=n.res_type, xnor=n.xnor,
                     nt=0 if n.thresholds is None else int(n.thresholds.shape[1]))  # fmt: skip
        out.append(d)
    return out


# ------------------------------------------------------------------------------------ measure
def _critical(report: dict[str, Any]) -> list[str]:
    """Cell names along the worst critical path of nextpnr's report (first, last few)."""
    paths = report.get("critical_paths") or []
    if not paths:
        return []
    worst = paths[0]
    cells = [s.get("from", {}).get("cell", "") for s in worst.get("path", [])]
    cells += [s.get("to", {}).get("cell", "") for s in worst.get("path", [])[-1:]]
    return [c for c in cells if c][:3] + [c for c in cells if c][-3:]


def _child_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(seed: int, cache: Path) -> dict[str, Any]:
    """Yosys + nextpnr of design ``seed`` (cached in ``cache/<seed>.json``)."""
    from hwprune.export.rtl.ecp5 import _place_and_route
    from hwprune.export.rtl.generate import write_rtl
    from hwprune.resources import resource_dir

    f = cache / f"{seed}.json"
    if f.is_file():
        return json.loads(f.read_text())
    graph = random_design(seed)
    tmp = Path(tempfile.mkdtemp(prefix="hwprune-fmax-"))
    try:
        rtl, bit = tmp / "rtl", tmp / "bitstream"
        bit.mkdir(parents=True)
        design = write_rtl(graph, rtl)
        shutil.copyfile(resource_dir("rtl_templates") / "hwp_uart.v", rtl / "hwp_uart.v")
        c0 = _child_cpu()
        run = _place_and_route(rtl, bit, tmp / "synth", design, CLOCK_MHZ, 1_000_000,
                               NEXTPNR_SEED)  # fmt: skip
        rep = run["report"]
        rec = {
            "seed": seed,
            "nodes": describe(graph),
            "fmax_mhz": run["fmax_mhz"],
            "clock_mhz": run["clock_mhz"],
            "critical": _critical(rep),
            "utilization": {
                k: v.get("used") for k, v in rep.get("utilization", {}).items() if v.get("used")
            },
            "yosys_s": round(run["yosys_s"], 1),
            "nextpnr_s": round(run["nextpnr_s"], 1),
            "cpu_s": round(_child_cpu() - c0, 1),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps(rec, indent=1) + "\n")
    return rec


def sweep(seeds: list[int], cache: Path) -> list[dict[str, Any]]:
    out = []
    for s in seeds:
        t0 = time.perf_counter()
        try:
            rec = measure(s, cache)
        except Exception as e:  # noqa: BLE001 - a failed design is reported, not fatal
            print(f"  design {s}: FAILED {type(e).__name__}: {str(e)[:300]}", flush=True)
            continue
        out.append(rec)
        print(f"  design {s}: Fmax {rec['fmax_mhz']:.1f} MHz "
              f"({time.perf_counter() - t0:.0f} s) {rec['critical'][:1]}", flush=True)  # fmt: skip
    return out


# ------------------------------------------------------------------------------------ fit
def _paths(seed: int) -> list[dict[str, float]]:
    from hwprune.cost.fmax import graph_paths

    return [p for _, p in graph_paths(random_design(seed))]


def _load(seeds: list[int], cache: Path) -> list[dict[str, Any]]:
    recs = []
    for s in seeds:
        f = cache / f"{s}.json"
        if f.is_file():
            rec = json.loads(f.read_text())
            if rec["nodes"] != describe(random_design(s)):
                raise SystemExit(f"cached design {s} differs from the generator's; re-measure")
            recs.append(rec)
    return recs


def _errors(pred: list[float], truth: list[float]) -> dict[str, float]:
    p, t = np.asarray(pred), np.asarray(truth)
    err = np.abs(p - t) / t
    return {
        "n": int(len(t)),
        "median_abs_error": float(np.median(err)),
        "p90_abs_error": float(np.percentile(err, 90)),
        "max_abs_error": float(err.max()),
        "within_15pct": int((err <= 0.15).sum()),
        "over_predicted": int((p > t).sum()),
    }


def _critical_node(rec: dict[str, Any]) -> str:
    """The kernel instance named by nextpnr's worst path (its first cell), or 'wrapper'."""
    for c in rec["critical"][:1]:
        if c.startswith("u_top.u_"):
            return c.split(".")[1].removeprefix("u_")
    return "wrapper"


def _leave_one_out(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every design predicted by a fit on all the others (calibration and held-out designs)."""
    from hwprune.cost.fmax import fit_params

    paths = [_paths(r["seed"]) for r in recs]
    out = []
    for i, r in enumerate(recs):
        rest = [j for j in range(len(recs)) if j != i]
        prm = fit_params([paths[j] for j in rest], [recs[j]["fmax_mhz"] for j in rest])
        pred = 1000.0 / max(prm.delay(p) for p in paths[i])
        out.append({"seed": r["seed"], "fmax_mhz": r["fmax_mhz"], "pred_mhz": round(pred, 2)})
    return out


def fit(calib: list[int], held: list[int], cache: Path, out: Path) -> dict[str, Any]:
    from hwprune.cost.fmax import TERMS, critical_path, fit_params
    from hwprune.export.rtl.tools import tool_versions

    t_cal, t_held = _load(calib, cache), _load(held, cache)
    if len(t_cal) < len(TERMS) + 2:
        raise SystemExit(f"only {len(t_cal)} calibration designs measured; sweep first")
    params = fit_params([_paths(r["seed"]) for r in t_cal], [r["fmax_mhz"] for r in t_cal],
                        source="bench/fmax_fidelity.py")  # fmt: skip

    def rows(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        res = []
        for r in recs:
            node, delay = critical_path(random_design(r["seed"]), params)
            res.append({**r, "pred_mhz": round(1000.0 / delay, 2), "pred_critical": node,
                        "nextpnr_critical": _critical_node(r)})  # fmt: skip
        return res

    cal_rows, held_rows = rows(t_cal), rows(t_held)
    loo = _leave_one_out(t_cal + t_held)
    errs = {
        name: _errors([r["pred_mhz"] for r in rs], [r["fmax_mhz"] for r in rs]) if rs else {}
        for name, rs in (("calibration", cal_rows), ("held_out", held_rows))
    }
    tools = tool_versions()
    doc = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()}, {platform.processor() or 'cpu'}, "
        "2 cores shared with other jobs (nice 10)",
        "tools": {k: v for k, v in tools.items() if k != "verilator"},
        "flow": f"write_rtl + ULX3S wrapper; Yosys synth_ecp5; nextpnr-ecp5 --85k --package "
        f"CABGA381 --speed 6 --freq {CLOCK_MHZ:g} --seed {NEXTPNR_SEED} --timing-allow-fail",
        "terms": list(TERMS),
        "params": params.to_dict(),
        "errors": {
            **errs,
            "leave_one_out_all": _errors(
                [x["pred_mhz"] for x in loo], [x["fmax_mhz"] for x in loo]
            ),
        },
        "leave_one_out": loo,
        "calibration": cal_rows,
        "held_out": held_rows,
        "cpu_s_tools": round(sum(r["cpu_s"] or 0.0 for r in cal_rows + held_rows), 1),
        "from_log": [r["seed"] for r in cal_rows + held_rows if r.get("note")],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "fmax_fidelity.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "fmax_fidelity.md").write_text(render(doc))
    return doc


def render(doc: dict[str, Any]) -> str:
    e, c = doc["errors"].get("held_out") or {}, doc["errors"]["calibration"]
    agree = [r["pred_critical"] == r["nextpnr_critical"] for r in doc["held_out"]]
    rows = [
        "# Fmax model (hwprune/cost/fmax.py) vs nextpnr-ecp5 on held-out designs",
        "",
        f"Recorded {doc['date']} on {doc['machine']}.",
        "Tools: " + "; ".join(f"{k} {v}" for k, v in doc["tools"].items()) + ".",
        f"Flow: {doc['flow']}. Truth: nextpnr's achieved Fmax of the fabric clock.",
        f"Fit: {c['n']} random calibration designs (seeds {CALIB_SEED0}..); judged on "
        f"{e.get('n', 0)} random designs drawn from other seeds ({HELD_SEED0}..) that the fit "
        "never saw.",
        "",
        "| set | designs | median abs error | 90th pct | max | within 15% | over-predicted |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    loo = doc["errors"]["leave_one_out_all"]
    for name, x in (("held-out", e), ("calibration (fit)", c), ("leave-one-out, all", loo)):
        if x:
            rows.append(f"| {name} | {x['n']} | {x['median_abs_error']:.1%} | "
                        f"{x['p90_abs_error']:.1%} | {x['max_abs_error']:.1%} | "
                        f"{x['within_15pct']} | {x['over_predicted']} |")  # fmt: skip
    coef = ", ".join(f"{k} {v:.3f}" for k, v in doc["params"]["coef"].items())
    rows += [
        "",
        f"Coefficients (ns per unit): {coef}.",
        "Leave-one-out: every measured design (calibration and held-out) predicted by a fit "
        "on all the other designs; the shipped coefficients are the calibration fit above.",
        f"Critical kernel named by the model = nextpnr's worst path's first cell: "
        f"{sum(agree)} of {len(agree)} held-out designs.",
        f"Tool CPU time of the measured designs: {doc['cpu_s_tools']:.0f} s"
        + (
            f" (not counted: {len(doc['from_log'])} designs whose cached records were lost; their "
            "Fmax, to 0.1 MHz, and worst path's first cell come from the sweep's log)"
            if doc.get("from_log")
            else ""
        )
        + ".",
        "",
        *[f"Note: {n}" for n in doc.get("notes", [])],
        "",
        "| seed | kernels | nextpnr MHz | model MHz | error | nextpnr critical | model critical |",
        "| ---: | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in doc["held_out"]:
        ks = " ".join(n["name"] for n in r["nodes"])
        err = (r["pred_mhz"] - r["fmax_mhz"]) / r["fmax_mhz"]
        rows.append(f"| {r['seed']} | {ks} | {r['fmax_mhz']:.1f} | {r['pred_mhz']:.1f} | "
                    f"{err:+.1%} | {r['nextpnr_critical']} | {r['pred_critical']} |")  # fmt: skip
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["sweep", "fit"])
    ap.add_argument("--calib", type=int, default=30)
    ap.add_argument("--held-out", type=int, default=30)
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "hwprune-fmax-cache"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--worker", default="0/1", help="i/n: measure every n-th design from i")
    ap.add_argument(
        "--reverse", action="store_true", help="measure the worker's designs last first"
    )
    a = ap.parse_args(argv)
    cache = Path(a.cache)
    calib = list(range(CALIB_SEED0, CALIB_SEED0 + a.calib))
    held = list(range(HELD_SEED0, HELD_SEED0 + a.held_out))
    if a.mode == "sweep":  # interleaved: both sets grow together if the sweep is cut short
        order = [s for pair in zip(calib, held, strict=False) for s in pair]
        order += calib[len(held):] + held[len(calib):]  # fmt: skip
        i, n = (int(x) for x in a.worker.split("/"))
        mine = order[i::n]
        sweep(mine[::-1] if a.reverse else mine, cache)
        return
    doc = fit(calib, held, cache, Path(a.out))
    print(render(doc))
    print("FITTED coefficients:", doc["params"]["coef"])


if __name__ == "__main__":
    main()
