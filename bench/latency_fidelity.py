"""Latency-model fidelity: predicted vs measured latency of random candidates on this machine.

1. Calibrate the latency model on the local device (``hwprune calibrate``), or take a given
   calibrated ``--target-file``.
2. Draw random candidates from the MLP family (tfc/sfc/lfc on 1x28x28, mlp-digits on 1x8x8) and
   the CNN family (cnn-digits on 1x8x8, cnv on 3x32x32) with random per-layer widths.
3. Predict each one's latency with :func:`hwprune.cost.gpu.estimate_gpu` and time it on the
   device (onnxruntime on cpu, torch + CUDA events on cuda; on cuda each candidate runs at fp32
   or fp16 at random), the same way calibration does (two rounds, smallest median).
4. Report the share within +-10% / +-20% and the median |error|, overall and per family.

Usage::

    python bench/latency_fidelity.py --device cpu            # calibrates first (~20 s)
    python bench/latency_fidelity.py --device cuda --n 60
    python bench/latency_fidelity.py --target-file bench/results/cpu-local.toml

Results go to ``bench/results/latency_fidelity_<device>.{json,md}`` (``--out-dir``). Timing on a
machine shared with other jobs is noisy: re-run when the machine is quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MLP_WIDTHS = (16, 32, 64, 128, 256, 512, 1024)
CNN_WIDTHS = (8, 16, 24, 32, 48, 64, 96, 128)
FAMILIES = {
    # name: (family, input shape, width choices)
    "tfc": ("mlp", (1, 28, 28), MLP_WIDTHS),
    "sfc": ("mlp", (1, 28, 28), MLP_WIDTHS),
    "lfc": ("mlp", (1, 28, 28), MLP_WIDTHS),
    "mlp-digits": ("mlp", (1, 8, 8), MLP_WIDTHS),
    "cnn-digits": ("cnn", (1, 8, 8), CNN_WIDTHS),
    "cnv": ("cnn", (3, 32, 32), CNN_WIDTHS),
}
#: ``--set residual``: networks with residual adds, a global average pool, depthwise layers
RESIDUAL_FAMILIES = {
    "resnet8": ("residual", (3, 32, 32), CNN_WIDTHS[:-1]),
    "resnet8-small": ("residual", (1, 8, 8), CNN_WIDTHS),
    "dscnn": ("depthwise", (1, 28, 28), CNN_WIDTHS),
}


def draw_candidates(n: int, seed: int, device: str, which: str = "default") -> list[dict[str, Any]]:
    """``n`` random candidates, half MLPs and half CNNs (``which="residual"``: ResNet-8 and
    DS-CNN variants), with random widths (and precision)."""
    from hwprune.models import get_spec

    rng = np.random.default_rng(seed)
    if which == "residual":
        return _draw_residual(n, rng, device)
    mlps = [k for k, v in FAMILIES.items() if v[0] == "mlp"]
    cnns = [k for k, v in FAMILIES.items() if v[0] == "cnn"]
    out = []
    for i in range(n):
        name = str(rng.choice(mlps if i % 2 == 0 else cnns))
        family, shape, choices = FAMILIES[name]
        base = get_spec(name, shape, 10)
        if name == "cnv":
            choices = CNN_WIDTHS[:-1]  # keep the 3x32x32 CNV within a few ms on a CPU
        widths = [int(rng.choice(choices)) for _ in base.prunable_widths()]
        spec = base.with_widths(widths)
        precision = "fp32" if device == "cpu" else str(rng.choice(["fp32", "fp16"]))
        out.append(
            {
                "model": name,
                "family": family,
                "spec": spec,
                "widths": widths,
                "precision": precision,
            }
        )
    return out


def _draw_residual(n: int, rng: Any, device: str) -> list[dict[str, Any]]:
    """ResNet-8 / DS-CNN variants: one random width per channel group (layers joined by a
    residual add or a depthwise layer keep one count)."""
    from hwprune.models import get_spec

    names = list(RESIDUAL_FAMILIES)
    out = []
    for i in range(n):
        name = names[i % len(names)]
        family, shape, choices = RESIDUAL_FAMILIES[name]
        base = get_spec(name.removesuffix("-small"), shape, 10)
        widths = list(base.prunable_widths())
        for group in base.channel_groups():
            w = int(rng.choice(choices))
            for j in group.layers:
                widths[j] = w
        precision = "fp32" if device == "cpu" else str(rng.choice(["fp32", "fp16"]))
        out.append({"model": name, "family": family, "spec": base.with_widths(widths),
                    "widths": widths, "precision": precision})  # fmt: skip
    return out


def design_of(spec: Any, precision: str) -> dict[str, Any]:
    """Design description of a float spec at ``precision`` (32 or 16 bits everywhere)."""
    bits = 32 if precision == "fp32" else 16
    n = spec.num_quant_layers
    layers = spec.design_layers([bits] * n, [bits] * (n - 1) + [None])
    return {"input": {"shape": list(spec.input_shape), "bits": bits}, "layers": layers}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from hwprune.calibrate import calibrate, measure_latency_us, onnx_bytes
    from hwprune.cost.gpu import estimate_works, layer_works, load_gpu_target
    from hwprune.models import build_model

    torch.set_num_threads(max(1, args.threads or 1))
    load_before = os.getloadavg()[0]
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.target_file:
        target = load_gpu_target(args.target_file)
        calibration = {"file": args.target_file}
    else:
        cal_path = out_dir / f"{args.device}-local.toml"
        res = calibrate(args.device, out=cal_path, threads=args.threads or None)
        target = res.target
        calibration = {
            "file": str(cal_path.relative_to(ROOT) if cal_path.is_relative_to(ROOT) else cal_path),
            "networks": res.report.points,
            "seconds": round(res.seconds, 1),
            "fit_median_abs_error": res.report.median_abs_error,
            "fit_within_10": res.report.within_10,
            "fit_within_20": res.report.within_20,
        }
        print(
            f"calibrated in {res.seconds:.0f} s: fit median |error| "
            f"{res.report.median_abs_error:.1%}, {res.report.within_20:.0%} within +-20%"
        )
    cands = draw_candidates(args.n, args.seed, args.device, args.set)
    models = []
    for c in cands:
        model = build_model(c["spec"]).eval()
        shape = tuple(c["spec"].input_shape)
        models.append(onnx_bytes(model, shape) if args.device == "cpu" else model)
    measured = [float("inf")] * len(cands)
    for _ in range(args.rounds):
        for i, (c, model) in enumerate(zip(cands, models, strict=True)):
            us = measure_latency_us(
                model,
                tuple(c["spec"].input_shape),
                args.device,
                threads=args.threads or None,
                precision=c["precision"],
                min_time_s=args.min_time,
            )
            measured[i] = min(measured[i], us)
    rows = []
    for c, meas in zip(cands, measured, strict=True):
        works = layer_works(design_of(c["spec"], c["precision"]))
        pred = estimate_works(works, target).latency_us
        # the model before adds and average pools were kernels of their own (ablation)
        chain = [w for w in works if w.op not in ("add", "avgpool")]
        pred_chain = estimate_works(chain, target).latency_us
        rows.append(
            {
                "predicted_without_add_pool_us": round(pred_chain, 2),
                "error_without_add_pool": round(pred_chain / meas - 1.0, 4),
                "model": c["model"],
                "family": c["family"],
                "widths": c["widths"],
                "precision": c["precision"],
                "predicted_us": round(pred, 2),
                "measured_us": round(meas, 2),
                "error": round(pred / meas - 1.0, 4),
            }
        )

    def stats(sel: list[dict[str, Any]], key: str = "error") -> dict[str, Any]:
        err = np.abs([r[key] for r in sel])
        return {
            "n": len(sel),
            "within_10": float(np.mean(err <= 0.10)),
            "within_20": float(np.mean(err <= 0.20)),
            "median_abs_error": float(np.median(err)),
            "max_abs_error": float(np.max(err)),
        }

    summary = {"all": stats(rows)}
    for fam in ("mlp", "cnn", "residual", "depthwise"):
        sel = [r for r in rows if r["family"] == fam]
        if sel:
            summary[fam] = stats(sel)
    return {
        "bench": "latency_fidelity",
        "date": args.date,
        "machine": args.machine,
        "device": args.device,
        "threads": args.threads,
        "target": target.name,
        "calibration": calibration,
        "candidates": len(rows),
        "rounds": args.rounds,
        "seed": args.seed,
        "summary": summary,
        "summary_without_add_pool": {"all": stats(rows, "error_without_add_pool")},
        "set": args.set,
        "seconds": round(time.perf_counter() - t0, 1),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "rows": rows,
        "median_measured_us": statistics.median(r["measured_us"] for r in rows),
    }


def markdown(res: dict[str, Any]) -> str:
    s = res["summary"]
    lines = [
        f"# Latency-model fidelity ({res['device']})",
        "",
        f"- Date: {res['date']}",
        f"- Machine: {res['machine']}",
        f"- Device: {res['device']}, {res['threads']} thread(s); target `{res['target']}` "
        f"calibrated by `hwprune calibrate` ({res['calibration'].get('file')})",
        f"- {res['candidates']} random candidates (seed {res['seed']}), each timed in "
        f"{res['rounds']} rounds (smallest median kept); total {res['seconds']} s",
        f"- Command: `python bench/latency_fidelity.py --device {res['device']}"
        + (f" --set {res['set']}" if res.get("set", "default") != "default" else "")
        + (
            f" --target-file {res['calibration']['file']}`"
            if "networks" not in res["calibration"]
            else "`"
        ),
        f"- 1-minute load average before / after: {res['load_average_1min'][0]} / "
        f"{res['load_average_1min'][1]} (other jobs were using the CPU: timings are noisy; "
        "re-run on a quiet machine)",
        "- The calibration sweep (`hwprune calibrate`) times single conv/fc layers, fc stacks "
        "and generic conv stacks with widths drawn by its own seed; the candidates here are zoo "
        "models (tfc, sfc, lfc, mlp-digits, cnn-digits, cnv) with independently drawn widths.",
        "",
        "| set | n | within +-10% | within +-20% | median abs error | max abs error |",
        "|---|---|---|---|---|---|",
    ]
    for key, st in s.items():
        lines.append(
            f"| {key} | {st['n']} | {st['within_10']:.0%} | {st['within_20']:.0%} | "
            f"{st['median_abs_error']:.1%} | {st['max_abs_error']:.1%} |"
        )
    ab = res.get("summary_without_add_pool", {}).get("all")
    if ab and res.get("set") == "residual":
        lines += [
            "",
            "The same measurements priced without the residual adds and the global average pool "
            "as kernels of their own (the model before they were): "
            f"{ab['within_10']:.0%} within +-10%, {ab['within_20']:.0%} within +-20%, median "
            f"|error| {ab['median_abs_error']:.1%}, max {ab['max_abs_error']:.1%}.",
        ]
    lines += [
        "",
        "| model | widths | precision | predicted us | measured us | error | error without "
        "add/pool kernels |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['model']} | {r['widths']} | {r['precision']} | {r['predicted_us']} | "
            f"{r['measured_us']} | {r['error']:+.1%} | {r['error_without_add_pool']:+.1%} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--target-file", default=None, help="calibrated target (skip calibration)")
    p.add_argument("--n", type=int, default=40, help="number of random candidates (>= 30)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="CPU threads (0: runtime default)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--min-time", type=float, default=0.1, help="seconds of timed runs each")
    p.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    p.add_argument("--date", default=str(date.today()))
    p.add_argument("--machine", default=f"{platform.machine()} Linux host")
    p.add_argument(
        "--set",
        choices=("default", "residual"),
        default="default",
        help="candidates: zoo MLPs and CNNs, or ResNet-8 / DS-CNN variants",
    )
    args = p.parse_args(argv)
    res = run(args)
    out = Path(args.out_dir)
    stem = f"latency_fidelity_{args.device}" + ("" if args.set == "default" else f"_{args.set}")
    (out / f"{stem}.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / f"{stem}.md").write_text(markdown(res))
    s = res["summary"]["all"]
    print(
        f"{s['n']} candidates: {s['within_10']:.0%} within +-10%, {s['within_20']:.0%} within "
        f"+-20%, median |error| {s['median_abs_error']:.1%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
