"""ECP5 model of hwprune's RTL kernels: calibrated on Yosys, judged on held-out whole designs.

Designs: random small networks (MLPs and CNNs with pools; random widths, bits 1-8, random or
the optimizer's folding, LUT or DSP products), built as a user's model is: a Brevitas model
(random weights and batch-norm statistics) -> QONNX -> hwprune's lowering -> RTL
(:func:`hwprune.export.rtl.generate.write_rtl`). Truth: Yosys ``synth_ecp5 -noflatten`` of each
design (:func:`hwprune.export.rtl.synth.synthesize`: ``synth/report.json``, per kernel and in
total), LUT = LUT4 + 2/CCU2C + 4/DPR16X4, FF = TRELLIS_FF, BRAM = DP16KD, DSP = MULT18X18D.

Fit: per kernel (``hwp_mvau``, ``hwp_pad``, ``hwp_swg``, ``hwp_maxpool``, ``hwp_labelsel``,
``hwp_dwc``; the FIFOs on their design sums) non-negative least squares of the structural
features of :mod:`hwprune.cost.ecp5`, with the kernels' parameters derived from the IR nodes
(:mod:`hwprune.cost.ecp5_nodes`, checked against the Verilog parameters of every stage).
Judge: designs from another seed, never fitted, priced by :func:`hwprune.estimate.evaluate` on
the ULX3S-85F target (what ``estimate.json`` holds) against Yosys's totals and per node.

Usage (``nice -n 10``; each design is one Yosys run of 4-80 s):
    python bench/rtl_fidelity.py synth --seed 0 -n 45 --out cal.json     # designs of seed 0
    python bench/rtl_fidelity.py synth --seed 1 -n 32 --out held.json    # a fresh seed
    python bench/rtl_fidelity.py synth-kernels --seed 11 -n 70 --out kcal.json   # one run
    python bench/rtl_fidelity.py synth-kernels --seed 12 -n 40 --out kheld.json
    python bench/rtl_fidelity.py fit cal.json held.json --n-calib 20 --fresh 0:20,1:11 \
        --kernels kcal.json kheld.json     # fit on designs 0-19 of seed 0, judge the rest
    python bench/rtl_fidelity.py fit       # again, on the data recorded in rtl_fidelity.json

xc7 (``synth_xilinx -family xc7``, :mod:`hwprune.cost.xc7`; small designs, sets from seed 100):
    D=bench/results/xc7_sweep
    python bench/rtl_fidelity.py synth-kernels --family xc7 --seed 21 -n 60 --out $D/kcal.json
    python bench/rtl_fidelity.py synth-kernels --family xc7 --seed 22 -n 30 --out $D/kheld.json
    python bench/rtl_fidelity.py synth --family xc7 --seed 100 -n 20 --out $D/cal.json
    python bench/rtl_fidelity.py synth --family xc7 --seed 101 -n 45 --out $D/held.json
    python bench/rtl_fidelity.py fit --family xc7 $D/cal.json $D/held.json --n-calib 20 \
        --kernels $D/kcal.json $D/kheld.json      # -> rtl_fidelity_xc7.json / .md
    python bench/rtl_fidelity.py fit --family xc7  # again, on the recorded data
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import hwprune.cost.ecp5 as ecp5_model  # noqa: E402
import hwprune.cost.xc7 as xc7_model  # noqa: E402
import hwprune.cost.xc7_nodes as xc7_nodes  # noqa: E402
from hwprune.cost.ecp5 import RESOURCES, Ecp5Model  # noqa: E402
from hwprune.cost.ecp5_nodes import node_kernels  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rtl_kernel_sweep import _kernel_params, synth_kernels  # noqa: E402

OUT = ROOT / "bench" / "results"
#: report stage kind -> model kernel
STAGE_KERNEL = {
    "Pad": "pad",
    "SlidingWindow": "swg",
    "PoolWindow": "swg",
    "MVAU": "mvau",
    "VVAU": "mvau",
    "MaxPool": "pool",
    "LabelSelect": "labelsel",
    "WidthAdapt": "dwc",
}
UNITS = "LUT = LUT4 + 2/CCU2C + 4/DPR16X4, FF = TRELLIS_FF, BRAM = DP16KD, DSP = MULT18X18D"
#: the model being fitted and judged (its FEATURES, USES, fit_kernel): ``--family``
KIT: Any = ecp5_model
FAMILIES = {
    "ecp5": (ecp5_model, "synth_ecp5 -noflatten", UNITS, "rtl_fidelity"),
    "xc7": (
        xc7_model,
        "synth_xilinx -family xc7",
        "LUT = LUT1-6 + LUTRAM/SRL LUTs (RAM32M/RAM64M = 4, SRL = 1; CARRY4, MUXF7/8, INV not "
        "counted), FF = FDRE/FDSE/FDCE/FDPE, BRAM = RAMB18E1 (RAMB36E1 = 2), DSP = DSP48E1",
        "rtl_fidelity_xc7",
    ),
}


# --- random designs ---------------------------------------------------------------------------


#: sets (seeds) from this one on draw the small profile (no 28x28 inputs, FC layers of at most
#: 32 outputs): the xc7 sweep, whose Yosys runs take longer on the shared 2-core machine
SMALL_FROM = 100


def random_spec(
    rng: np.random.Generator, small: bool = False
) -> tuple[Any, list[int], list[int | None]]:
    """(ModelSpec, weight bits, activation bits) of one random MLP or small CNN."""
    from hwprune.models.spec import ModelSpec

    cnn = rng.random() < 0.6
    layers: list[dict[str, Any]] = []
    if cnn:
        c = int(rng.choice([1, 2, 3]))
        big = rng.random() < 0.3 and not small
        hw = int(rng.choice([8, 10, 12, 16, 28] if big else [8, 10, 12]))
        shape = (c, hw, hw)
        for _ in range(int(rng.integers(1, 3))):
            layers.append(
                {
                    "op": "conv",
                    "out_ch": int(rng.choice([4, 8, 12, 16])),
                    "kernel": int(rng.choice([2, 3])),
                    "pad": int(rng.integers(0, 2)),
                }
            )
            if rng.random() < 0.6:
                layers.append({"op": "maxpool", "kernel": 2})
    else:
        mnist = rng.random() < 0.2 and not small
        shape = (1, 28, 28) if mnist else (1, int(rng.choice([4, 6, 8])), int(rng.choice([4, 8])))
    for _ in range(int(rng.integers(0 if cnn else 1, 3))):
        outs = [8, 16, 24, 32] if small else [8, 16, 24, 32, 64, 128]
        layers.append({"op": "fc", "out": int(rng.choice(outs))})
    ncls = int(rng.choice([4, 8, 10]))
    layers.append({"op": "fc", "out": ncls})
    spec = ModelSpec("r", shape, ncls, tuple(layers))
    nc = sum(1 for x in layers if x["op"] in ("conv", "fc"))
    wb = [int(rng.choice([1, 2, 3, 4, 6, 8])) for _ in range(nc)]
    ab: list[int | None] = [int(rng.choice([1, 2, 3, 4, 6])) for _ in range(nc - 1)]
    return spec, wb, ab + [None]


def lower_spec(spec: Any, wb: list[int], ab: list[int | None], seed: int) -> Any:
    """The lowered integer graph of a Brevitas model of ``spec`` (random weights and batch-norm
    statistics from ``seed``)."""
    import torch

    from hwprune.compress.quant import to_brevitas
    from hwprune.export.lower import lower_model
    from hwprune.export.qonnx import export_brevitas, load_qonnx
    from hwprune.models import build_model

    torch.manual_seed(seed)
    q = to_brevitas(build_model(spec), wb, ab, 16.0)
    with torch.no_grad():
        for m in q.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2)
    q.eval()
    tmp = Path(tempfile.mkdtemp(prefix="hwprune-fid-"))
    try:
        return lower_model(load_qonnx(export_brevitas(q, spec.input_shape, tmp / "m.onnx")))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _divs(n: int, cap: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0 and d <= cap]


def as_ir(g: Any, name: str = "design") -> Any:
    """The IR :class:`~hwprune.ir.DataflowGraph` of a lowered graph (the lowering returns one)."""
    return g


def apply(g: Any, folding: dict[str, dict[str, Any]]) -> Any:
    """``g`` with ``folding`` (IR node names) applied."""
    from hwprune.ir.folding import apply_folding

    return apply_folding(g, folding)


def random_folding(g: Any, rng: np.random.Generator) -> Any:
    """``g`` folded at random (a quarter: the optimizer's fastest folding for the ULX3S)."""
    if rng.random() < 0.25:
        from hwprune.cost.folding import fold
        from hwprune.targets import load_target

        return apply(g, fold(as_ir(g), load_target("ulx3s-85f")).folding)
    f: dict[str, dict[str, Any]] = {}
    for n in as_ir(g).nodes:
        if n.op == "MVAU":
            simd = int(rng.choice(_divs(n.mw, 32)))
            pe = int(rng.choice([d for d in _divs(n.mh, 16) if d * simd <= 128] or [1]))
            e: dict[str, Any] = {"pe": pe, "simd": simd}
            if not (n.wkind == "bipolar" and n.in_kind == "bipolar"):  # XNOR: LUTs only
                e["res_type"] = str(rng.choice(["lut", "dsp"]))
            f[n.name] = e
        elif n.op == "SlidingWindow":
            f[n.name] = {"simd": int(rng.choice(_divs(n.channels, 10**9)))}
        elif n.op == "LabelSelect":
            f[n.name] = {"pe": int(rng.choice(_divs(n.labels, 10**9)))}
    return apply(g, f)


def _spec(seed: int, i: int) -> tuple[np.random.Generator, Any, list[int], list[int | None]]:
    rng = np.random.default_rng([seed, i])
    spec, wb, ab = random_spec(rng, small=seed >= SMALL_FROM)
    return rng, spec, wb, ab


def _record(i: int, spec: Any, wb: list[int], ab: list[int | None], g: Any) -> dict[str, Any]:
    return {
        "i": i,
        "spec": {"input_shape": list(spec.input_shape), "layers": list(spec.layers)},
        "wbits": wb,
        "abits": ab,
        "folding": as_ir(g).folding,
    }


def design(seed: int, i: int) -> tuple[dict[str, Any], Any]:
    """Design ``i`` of the set ``seed``: (record, folded lowered graph). The network is
    deterministic; a folding by the optimizer follows the cost model of the day (the record
    keeps the folding that was synthesized)."""
    rng, spec, wb, ab = _spec(seed, i)
    g = random_folding(lower_spec(spec, wb, ab, seed * 1000 + i), rng)
    return _record(i, spec, wb, ab, g), g


# --- synthesis --------------------------------------------------------------------------------


def synth(
    seed: int, n: int, out: Path, family: str = "ecp5", start: int = 0
) -> list[dict[str, Any]]:
    """Yosys counts of designs 0..n-1 of set ``seed`` (written to ``out`` after each; from
    ``start`` on, the designs before it read back from ``out``). A drawn network whose layers
    do not fit its input (the spec check refuses it) is skipped."""
    from hwprune.errors import ConfigError
    from hwprune.export.rtl.generate import write_rtl
    from hwprune.export.rtl.synth import synthesize

    rows = [r for r in json.loads(out.read_text()) if r["i"] < start] if start else []
    for i in range(start, n):
        try:
            rec, g = design(seed, i)
        except ConfigError as e:
            print(f"  design {i}: skipped ({e})", flush=True)
            continue
        tmp = Path(tempfile.mkdtemp(prefix="hwprune-fid-"))
        t0 = time.perf_counter()
        try:
            d = write_rtl(g, tmp / "rtl")
            rep = synthesize(tmp / "rtl", d, family, tmp / "synth")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rec["stages"] = [
            {
                "name": s.name,
                "kind": s.kind,
                "module": s.module,
                "params": {k: v for k, v in s.params.items() if not isinstance(v, str)},
                "in": [s.in_stream.elems, s.in_stream.bits],
                "out": [s.out_stream.elems, s.out_stream.bits],
            }
            for s in d.stages
        ]
        rec["report"] = {
            k: rep[k] for k in ("kernels", "fifos", "total", "seconds", "version", "cells")
        }
        rec["seed"] = seed
        rows.append(rec)
        out.write_text(json.dumps(rows))
        print(f"  design {i}: {time.perf_counter() - t0:.0f} s {rep['total']}", flush=True)
    return rows


# --- samples, fit, judgement ------------------------------------------------------------------


def _ir(seed: int, rec: dict[str, Any]) -> Any:
    """The IR of recorded design ``rec`` of set ``seed``: the network rebuilt (checked against
    the record) with the recorded folding."""
    _, spec, wb, ab = _spec(seed, rec["i"])
    again = {
        "spec": {"input_shape": list(spec.input_shape), "layers": list(spec.layers)},
        "wbits": wb,
        "abits": ab,
    }
    same = [
        json.dumps(again[k], sort_keys=True) == json.dumps(rec[k], sort_keys=True)
        for k in ("spec", "wbits", "abits")
    ]
    if not all(same):
        raise RuntimeError(f"design {rec['i']} of seed {seed} is not reproduced")
    g = apply(lower_spec(spec, wb, ab, seed * 1000 + rec["i"]), rec["folding"])
    return as_ir(g, name=f"s{seed}d{rec['i']}")


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def samples(rows: list[dict[str, Any]]) -> tuple[dict[str, list], list]:
    """Per-kernel samples ``{kernel: [(params, truth)]}`` (parameters derived from the IR and
    checked against the stage's Verilog parameters) and the designs' FIFO samples
    ``[(widths, truth)]``."""
    per: dict[str, list] = defaultdict(list)
    fifos = []
    for r in rows:
        kernels_of = xc7_nodes.node_kernels if KIT is xc7_model else node_kernels
        derived = [k for n in _ir(r["seed"], r).nodes for k in kernels_of(n)]
        stages = list(zip(r["stages"], r["report"]["kernels"], strict=True))
        main = [(s, t) for s, t in stages if s["kind"] != "WidthAdapt"]
        if len(main) != len(derived):
            raise RuntimeError(f"design {r['i']}: {len(main)} stages, {len(derived)} derived")
        for (s, t), (kern, params) in zip(main, derived, strict=True):
            if STAGE_KERNEL[s["kind"]] != kern:
                raise RuntimeError(f"{s['name']}: stage {s['kind']} derived as {kern}")
            params = {k: int(_plain(v)) for k, v in params.items()}
            for k, v in params.items():
                if k in s["params"] and k not in ("XNOR", "RES") and s["params"][k] != v:
                    raise RuntimeError(f"{s['name']}: {k} = {s['params'][k]}, derived {v}")
            per[kern].append((params, {x: t[x] for x in RESOURCES}, r["i"], s["name"]))
        for s, t in stages:
            if s["kind"] == "WidthAdapt":
                p = {k: s["params"][k] for k in ("IN", "OUT", "B")}
                per["dwc"].append((p, {x: t[x] for x in RESOURCES}, r["i"], s["name"]))
        widths = [r["stages"][0]["in"][0] * r["stages"][0]["in"][1]]
        widths += [s["out"][0] * s["out"][1] for s in r["stages"]]
        fifos.append((_fifo_sum(widths), r["report"]["fifos"]))
    return per, fifos


def kernel_samples(rows: list[dict[str, Any]]) -> tuple[dict[str, list], list]:
    """:func:`samples` of single-kernel runs (:func:`synth_kernels`)."""
    per: dict[str, list] = defaultdict(list)
    fifos = []
    for j, r in enumerate(rows):
        params = _kernel_params(r["kernel"], r["params"])
        truth = {x: r["truth"][x] for x in RESOURCES}
        if r["kernel"] == "fifo":
            fifos.append((KIT.FEATURES["fifo"](**params), truth))
        per[r["kernel"]].append((params, truth, j, f"k{j}"))
    return per, fifos


def _fifo_sum(widths: list[int]) -> dict[str, float]:
    feats = [KIT.FEATURES["fifo"](W=w) for w in widths]
    return {f: float(sum(x[f] for x in feats)) for f in feats[0]}


def fit(per: dict[str, list], fifos: list) -> Ecp5Model:
    """Every kernel's coefficients (deterministic: NNLS has no random state)."""
    coef = {}
    for kern in sorted(k for k in per if k != "fifo"):
        feats = [KIT.FEATURES[kern](**p) for p, *_ in per[kern]]
        coef[kern] = KIT.fit_kernel(kern, feats, [t for _, t, *_ in per[kern]])
    coef["fifo"] = KIT.fit_kernel("fifo", [f for f, _ in fifos], [t for _, t in fifos])
    return Ecp5Model(coef)


def rom_rule(per: dict[str, list]) -> dict[str, Any]:
    """Yosys's ROM-to-EBR choice as (minimum words, minimum bits): the grid point with the
    least EBR error of the MVAU kernels (their weight and threshold ROMs); the chosen rule is
    :data:`hwprune.cost.ecp5.EBR_MIN_DEPTH` / ``EBR_MIN_BITS``."""
    import hwprune.cost.ecp5 as e

    saved = e.EBR_MIN_DEPTH, e.EBR_MIN_BITS
    grid = []
    try:
        for d in (16, 32, 48, 64, 96, 128, 256):
            for b in (512, 1024, 1536, 2048, 2304, 2560, 3072, 4096):
                e.EBR_MIN_DEPTH, e.EBR_MIN_BITS = d, b
                err = sum(abs(int(mvau_ebr(p)) - t["bram"]) for p, t, *_ in per["mvau"])
                grid.append((err, d, b))
    finally:
        e.EBR_MIN_DEPTH, e.EBR_MIN_BITS = saved
    grid.sort()
    return {
        "in_code": list(saved),
        "best": grid[:8],
        "truth_ebr": sum(t["bram"] for _, t, *_ in per["mvau"]),
    }


def mvau_ebr(p: dict[str, int]) -> Any:
    return ecp5_model.FEATURES["mvau"](**p)["ebr"]


def memory_rule(per: dict[str, list]) -> dict[str, Any]:
    """xc7: how often the memory rule of :mod:`hwprune.cost.xc7` (Yosys's ``memory_libmap``
    costs) gives Yosys's RAMB18 count exactly, per kernel with memories."""
    out = {}
    for kern in ("mvau", "thresh", "swg", "fifo"):
        smp = [(KIT.FEATURES[kern](**p)["bram18"], t["bram"]) for p, t, *_ in per.get(kern, [])]
        if smp:
            out[kern] = {
                "n": len(smp),
                "exact": sum(int(round(float(m))) == int(t) for m, t in smp),
                "model_bram18": float(sum(m for m, _ in smp)),
                "truth_bram18": float(sum(t for _, t in smp)),
            }
    return out


def _err(pred: list[float], truth: list[float]) -> dict[str, float]:
    p, t = np.array(pred, float), np.array(truth, float)
    e = np.abs(p - t) / np.maximum(t, 1.0)
    return {
        "n": len(t),
        "median_abs_error": float(np.median(e)) if len(e) else 0.0,
        "p90_abs_error": float(np.percentile(e, 90)) if len(e) else 0.0,
        "truth_total": float(t.sum()),
        "model_total": float(p.sum()),
    }


def kernel_errors(model: Ecp5Model, per: dict[str, list]) -> dict[str, dict[str, Any]]:
    """Per kernel and resource: median |error| of the model on the samples."""
    out: dict[str, dict[str, Any]] = {}
    for kern, smp in sorted(per.items()):
        preds = [model.predict(kern, KIT.FEATURES[kern](**p)) for p, *_ in smp]
        out[kern] = {
            r: _err([float(x[r]) for x in preds], [t[r] for _, t, *_ in smp])
            for r in RESOURCES
            if r in KIT.USES[kern]
        }
    return out


class _Priced:
    """An xc7 ``design_block`` read as an :class:`~hwprune.estimate.Estimate` (totals and
    ``layers`` with op, name, lut, ff, bram18, dsp)."""

    def __init__(self, block: dict[str, Any]) -> None:
        from types import SimpleNamespace

        self.lut, self.ff, self.bram18, self.dsp = (
            block[k] for k in ("lut", "ff", "bram18", "dsp")
        )
        self.layers = [SimpleNamespace(**n) for n in block["nodes"]]


def judge(
    rows: list[dict[str, Any]], model: Ecp5Model, fresh: dict[int, int] | None = None
) -> dict[str, Any]:
    """The held-out designs priced as ``estimate.json`` prices them (ECP5: ``estimate.evaluate``
    on the ULX3S target; xc7: the ``"yosys_xc7"`` block,
    :func:`hwprune.cost.xc7_nodes.design_block`), with the fitted model ``model`` in place of
    the shipped one, against Yosys: design totals and per IR node (its stages summed)."""
    import hwprune.cost.ecp5_nodes as en
    from hwprune.cost.fpga import FpgaCostParams, _cached_cost
    from hwprune.cost.xc7_nodes import design_block
    from hwprune.estimate import evaluate
    from hwprune.targets import load_target

    tgt = load_target("ulx3s-85f")
    saved = en.FITTED
    en.FITTED = model
    _cached_cost.cache_clear()
    try:
        designs, nodes = [], defaultdict(lambda: {"pred": [], "truth": []})
        for r in rows:
            if KIT is xc7_model:
                est = _Priced(design_block(_ir(r["seed"], r), model))
            else:
                est = evaluate(_ir(r["seed"], r), tgt, params=FpgaCostParams.for_target(tgt))
            t = r["report"]["total"]
            pred = {"lut": est.lut, "ff": est.ff, "bram": est.bram18, "dsp": est.dsp}
            designs.append(
                {
                    "seed": r["seed"],
                    "i": r["i"],
                    "truth": t,
                    "pred": {k: round(v, 1) for k, v in pred.items()},
                }
            )
            by_name = defaultdict(lambda: dict.fromkeys(RESOURCES, 0))
            for s, k in zip(r["stages"], r["report"]["kernels"], strict=True):
                if s["kind"] == "WidthAdapt":
                    continue
                node = s["name"].removesuffix("_pad").removesuffix("_window")
                if s["kind"] == "Pad":
                    node += "_swg"
                for x in RESOURCES:
                    by_name[node][x] += k[x]
            for layer in est.layers:
                truth = by_name[layer.name]
                nodes[layer.op]["truth"].append(truth)
                nodes[layer.op]["pred"].append(
                    {"lut": layer.lut, "ff": layer.ff, "bram": layer.bram18, "dsp": layer.dsp}
                )
    finally:
        en.FITTED = saved
        _cached_cost.cache_clear()
    totals = {
        x: _err([d["pred"][x] for d in designs], [d["truth"][x] for d in designs])
        for x in RESOURCES
    }
    fresh = {int(k): int(v) for k, v in (fresh or {}).items()}
    unseen = [d for d in designs if d["i"] >= fresh.get(d["seed"], 10**9)]
    totals_unseen = {
        x: _err([d["pred"][x] for d in unseen], [d["truth"][x] for d in unseen]) for x in RESOURCES
    }
    per_node = {
        op: {x: _err([p[x] for p in v["pred"]], [t[x] for t in v["truth"]]) for x in RESOURCES}
        for op, v in sorted(nodes.items())
    }
    return {
        "priced": designs,
        "totals": totals,
        "totals_unseen": totals_unseen,
        "fresh_from": fresh or {},
        "per_node": per_node,
    }


# --- record -----------------------------------------------------------------------------------


def _fresh(text: str) -> dict[int, int]:
    return {int(k): int(v) for k, v in (x.split(":") for x in text.split(",") if x)}


def _machine() -> str:
    import os

    return f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs (shared)"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("synth", help="Yosys counts of a set of random designs")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("-n", type=int, default=30)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--family", default="ecp5", choices=("ecp5", "xc7"))
    s.add_argument("--start", type=int, default=0, help="resume at this design index")
    k = sub.add_parser("synth-kernels", help="Yosys counts of random single residual kernels")
    k.add_argument("--seed", type=int, required=True)
    k.add_argument("-n", type=int, default=60)
    k.add_argument("--out", type=Path, required=True)
    k.add_argument("--family", default="ecp5", choices=("ecp5", "xc7"))
    f = sub.add_parser("fit", help="fit on one set, judge on another, record")
    f.add_argument("calib", nargs="?", type=Path, help="synth output (default: recorded data)")
    f.add_argument("held", nargs="?", type=Path)
    f.add_argument("--calib-seed", type=int, default=0)
    f.add_argument("--held-seed", type=int, default=1)
    f.add_argument("--n-calib", type=int, default=20, help="fit on designs 0..n-1 of the set")
    f.add_argument(
        "--fresh",
        default="",
        help="seed:i,... designs from i on were synthesized after the last interim look",
    )
    f.add_argument("--kernels", nargs=2, type=Path, help="synth-kernels outputs: calib, held")
    f.add_argument("--family", default="ecp5", choices=tuple(FAMILIES))
    a = ap.parse_args(argv)
    if a.cmd == "synth":
        synth(a.seed, a.n, a.out, a.family, a.start)
        return
    if a.cmd == "synth-kernels":
        rows = synth_kernels(a.seed, a.n, a.family)
        a.out.write_text(json.dumps(rows, indent=0) + "\n")
        return
    record(a)


def record(a: argparse.Namespace) -> None:
    """``fit``: fit on the calibration data, judge the held-out data, write the record."""
    global KIT
    KIT, flow, units, stem = FAMILIES[a.family]
    old = json.loads((OUT / f"{stem}.json").read_text()) if a.calib is None else {}
    cal = json.loads(a.calib.read_text()) if a.calib else old["calibration"]["designs"]
    held = json.loads(a.held.read_text()) if a.held else old["held_out"]["designs"]
    if a.kernels:
        k_cal, k_held = (json.loads(x.read_text()) for x in a.kernels)
    else:
        k_cal, k_held = old["kernels"]["calibration"], old["kernels"]["held_out"]
    for rows, seed in ((cal, a.calib_seed), (held, a.held_seed)):
        for r in rows:
            r.setdefault("seed", seed)
    # designs of the calibration set from --n-calib on were never fitted: held out too
    held = [r for r in cal if r["i"] >= a.n_calib] + held
    cal = [r for r in cal if r["i"] < a.n_calib]
    per, fifos = samples(cal)
    kper, kfifos = kernel_samples(k_cal)
    for kern, smp in kper.items():
        per[kern] += smp
    model = fit(per, fifos + kfifos)
    rule = rom_rule(per) if a.family == "ecp5" else memory_rule(per)
    h_per, _ = samples(held)
    for kern, smp in kernel_samples(k_held)[0].items():
        h_per[kern] += smp
    doc = {
        "family": a.family,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(),
        "tools": {"yosys": cal[0]["report"]["version"]},
        "truth": f"Yosys {flow} of hwprune's RTL (synth/report.json); {units}",
        "yosys_seconds": round(
            sum(r["report"]["seconds"] for r in cal + held)
            + sum(r["seconds"] for r in k_cal + k_held),
            1,
        ),
        "kernels": {"calibration": k_cal, "held_out": k_held},
        "rom_rule" if a.family == "ecp5" else "memory_rule": rule,
        "params": model.to_dict(),
        "calibration": {
            "seed": cal[0]["seed"],
            "designs": cal,
            "kernel_errors": kernel_errors(model, per),
        },
        "held_out": {
            "seeds": sorted({r["seed"] for r in held}),
            "designs": held,
            "kernel_errors": kernel_errors(model, h_per),
            **judge(held, model, _fresh(a.fresh) or old.get("held_out", {}).get("fresh_from")),
        },
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{stem}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (OUT / f"{stem}.md").write_text(render(doc))
    print(render(doc))
    print("coefficients:", json.dumps(model.to_dict()))


def render(doc: dict[str, Any]) -> str:
    """The markdown summary of a recorded run."""
    xc7 = doc.get("family", "ecp5") == "xc7"
    head = _head_xc7(doc) if xc7 else _head_ecp5(doc)
    tail = _tail_xc7(doc) if xc7 else _tail_ecp5(doc)
    return "\n".join(head + _tables(doc) + tail)


def _head_ecp5(doc: dict[str, Any]) -> list[str]:
    h = doc["held_out"]
    return [
        "# ECP5 cost model of hwprune's RTL kernels vs Yosys (held-out whole designs)",
        "",
        f"Recorded {doc['date']} on {doc['machine']}; {doc['tools']['yosys']}.",
        f"Truth: {doc['truth']}. Fit: non-negative least squares per kernel on "
        f"{len(doc['calibration']['designs'])} random designs (seed "
        f"{doc['calibration']['seed']}, designs 0-{len(doc['calibration']['designs']) - 1}) and "
        f"{len(doc['kernels']['calibration'])} single residual kernels; judged on "
        f"{len(h['designs'])} random designs that the fit never saw (seeds {h['seeds']}: the "
        "rest of the calibration seed's designs, set apart before they were synthesized, and "
        f"a fresh seed) and {len(doc['kernels']['held_out'])} single kernels, priced by "
        "`hwprune.estimate.evaluate` on "
        f"the ULX3S-85F (what `estimate.json` holds). Yosys time: {doc['yosys_seconds']} s.",
        "",
    ]


def _tables(doc: dict[str, Any]) -> list[str]:
    h = doc["held_out"]
    rows = [
        "## Design totals (held out)",
        "",
        "| resource | median abs error | 90th pct | Yosys total | model total |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in RESOURCES:
        e = h["totals"][r]
        rows.append(
            f"| {r} | {e['median_abs_error']:.1%} | {e['p90_abs_error']:.1%} | "
            f"{e['truth_total']:.0f} | {e['model_total']:.0f} |"
        )
    if h.get("fresh_from"):
        u = h["totals_unseen"]
        rows += [
            "",
            f"Of these, the {u['lut']['n']} designs synthesized after the last interim look at "
            f"held-out results (from design index {h['fresh_from']} per seed) alone: median "
            + ", ".join(f"{r} {u[r]['median_abs_error']:.1%}" for r in RESOURCES)
            + ".",
        ]
    rows += [
        "",
        "## Per IR node (held out; a node's kernels summed)",
        "",
        "| node | n | LUT | FF | BRAM | DSP |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for op, e in h["per_node"].items():
        rows.append(
            f"| {op} | {e['lut']['n']} | "
            + " | ".join(f"{e[r]['median_abs_error']:.1%}" for r in RESOURCES)
            + " |"
        )
    rows += [
        "",
        "## Per kernel (median abs error: calibration / held out)",
        "",
        "| kernel | n (cal / held) | LUT | FF | BRAM | DSP |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kern, ce in doc["calibration"]["kernel_errors"].items():
        he = h["kernel_errors"].get(kern, {})
        n = next(iter(ce.values()))["n"]
        hn = next(iter(he.values()))["n"] if he else 0
        cells = [
            f"{ce[r]['median_abs_error']:.1%} / {he[r]['median_abs_error']:.1%}"
            if r in ce and r in he
            else "-"
            for r in RESOURCES
        ]
        rows.append(f"| {kern} | {n} / {hn} | " + " | ".join(cells) + " |")
    return rows


def _tail_ecp5(doc: dict[str, Any]) -> list[str]:
    return [
        "",
        "Median |error| = median over designs of |model - Yosys| / max(Yosys, 1) (a resource "
        "that a design does not use counts 0% when the model also says 0). FIFOs are fitted on "
        "the designs' FIFO sums (the report counts them together) and on single deep FIFOs. "
        "The residual kernels (`hwp_dup`, `hwp_add`, `hwp_gap`, `hwp_thresh`, deep "
        "`hwp_fifo`) are fitted and judged as single kernels (one Yosys run holds all "
        "instances); no whole residual design is in the held-out set yet.",
        f"ROM rule (EBR from {doc['rom_rule']['in_code'][0]} words and "
        f"{doc['rom_rule']['in_code'][1]} bits): the grid point with the least EBR error on "
        f"the calibration MVAUs, best points (error, words, bits): {doc['rom_rule']['best'][:4]}"
        f" of {doc['rom_rule']['truth_ebr']} EBR.",
        "Development: the features were revised after interim fits whose held-out results were "
        "printed (the ROM-to-EBR rule, the MULT18X18Ds of label select and width converters, "
        "signed pool compares, the label-select comparator chain); only the designs "
        "synthesized after the last such look are fully unseen (the line under the table).",
        "",
    ]


def _head_xc7(doc: dict[str, Any]) -> list[str]:
    h, c = doc["held_out"], doc["calibration"]
    return [
        "# xc7 cost model of hwprune's RTL kernels vs Yosys (held-out whole designs)",
        "",
        f"Recorded {doc['date']} on {doc['machine']}; {doc['tools']['yosys']}.",
        f"Truth: {doc['truth']}. Model: `hwprune.cost.xc7` (the ECP5 model's kernel features, "
        "xc7 memory rule, own coefficients), what an AMD (xc7) target's `estimate.json` holds "
        "as the `yosys_xc7` block (`hwprune.cost.xc7_nodes.design_block`: kernels, FIFOs, "
        "width converters; no shell or DMA), next to, never mixed with, the Vivado-calibrated "
        "figures. Fit: non-negative least squares per kernel on "
        f"{len(c['designs'])} random designs (small profile, seed {c['seed']}, designs "
        f"0-{len(c['designs']) - 1}) and {len(doc['kernels']['calibration'])} single "
        f"residual kernels; judged on {len(h['designs'])} random designs that the fit never saw "
        f"(seeds {h['seeds']}) and {len(doc['kernels']['held_out'])} single kernels. Yosys "
        f"time: {doc['yosys_seconds']} s.",
        "",
    ]


def _tail_xc7(doc: dict[str, Any]) -> list[str]:
    m = doc["memory_rule"]
    rule = "; ".join(
        f"{k} {v['exact']}/{v['n']} exact ({v['model_bram18']:.0f} vs {v['truth_bram18']:.0f} "
        "RAMB18)"
        for k, v in m.items()
    )
    return [
        "",
        "Median |error| = median over designs of |model - Yosys| / max(Yosys, 1) (a resource "
        "that a design does not use counts 0% when the model also says 0). FIFOs are fitted on "
        "the designs' FIFO sums and on single deep FIFOs; the residual kernels (`hwp_dup`, "
        "`hwp_add`, `hwp_gap`, `hwp_thresh`, deep `hwp_fifo`) as single kernels.",
        "Memory rule (Yosys `memory_libmap` costs of `synth_xilinx -family xc7`: RAMB18 129, "
        "RAMB36 257, LUTRAM cell 8, ROM bit in logic 1/64, RAM bit in logic 1; ROMs never in "
        "LUTRAM; the window's line buffer `ram_style` block), RAMB18 count exact on the "
        f"calibration kernels: {rule}.",
        "Designs: the small profile of `random_spec` (sets from seed "
        f"{SMALL_FROM}: no 28x28 inputs, FC layers of at most 32 outputs), so that the "
        "sweep fits the shared 2-core machine; a quarter folded by the optimizer "
        "(fastest on the ULX3S), the rest at random, LUT or DSP products at random.",
        "Development: the xc7 features (memory rule, DSP48E1 width rule, gather slots, deep ROM "
        "LUTs, block-RAM FIFO width) were revised on the calibration designs and kernels; the "
        "held-out designs were first priced in this run. The held-out single kernels' RAMB18 "
        "counts were looked at once, with the calibration ones, while setting the memory rule "
        "(then taken from Yosys's library costs: `-logic-cost-rom` 1/64).",
        "",
    ]


if __name__ == "__main__":
    main()
