"""Search quality on a residual network: the ResNet-8-style recipe (``resnet8-digits``) on pynq-z2.

The same protocol as ``bench/search_quality.py`` (its functions are reused): hwprune's search vs
random search vs uniform baselines (every layer at one width ratio and one bit width), at equal
trial budgets, seeds and fine-tune epochs; hypervolume in accuracy x frames/s x (1 - LUT
fraction), uniform designs dominated by the front, frames/s at matched accuracy. Every design is
priced with its residual hardware (forks, skip FIFOs, adds, global pool) by the same cost model.
The uniform bit widths are the recipe space's (2, 4, 8: the space has no 1-bit activations).

Usage::

    python bench/search_quality_resnet.py                       # 1 seed, 12 trials, 2 epochs
    python bench/search_quality_resnet.py --seeds 0 1 2 --trials 24 --epochs 4
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import search_quality as SQ  # noqa: E402  (the MLP bench, same protocol)

import hwprune  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=2, help="fine-tune epochs per design")
    ap.add_argument("--parent-epochs", type=int, default=30)
    ap.add_argument("--target", default="pynq-z2")
    ap.add_argument("--acc-ref", type=float, default=0.5)
    ap.add_argument("--out", type=Path, default=Path("bench/results/search_quality_resnet.json"))
    args = ap.parse_args(argv)
    SQ.BITS = (2, 4, 8)  # the recipe's space: no 1-bit activations
    overrides = {"budget.epochs": args.epochs, "parent.epochs": args.parent_epochs}
    with tempfile.TemporaryDirectory(prefix="hwprune-sq-resnet-") as tmp:
        res = SQ.bench(
            "resnet8-digits",
            "resnet8-digits",
            args.target,
            args.seeds,
            args.trials,
            args.acc_ref,
            overrides,
            Path(tmp),
        )
    import torch

    doc = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs)",
        "versions": {
            "python": platform.python_version(),
            "hwprune": hwprune.__version__,
            "torch": torch.__version__,
        },
        "uniform_bits": list(SQ.BITS),
        "benchmarks": [res],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2))
    args.out.with_suffix(".md").write_text(_markdown(doc))
    print(_markdown(doc))
    return 0


def _markdown(doc: dict) -> str:
    (b,) = doc["benchmarks"]
    m = b["median"]
    lines = [
        f"# Search quality: ResNet-8-style (`resnet8-digits`) on {b['target']} ({doc['date']})",
        "",
        f"Machine: {doc['machine']}; Python {doc['versions']['python']}, torch "
        f"{doc['versions']['torch']}. {b['trials']} trials per search, seeds {b['seeds']}, "
        f"overrides {b['overrides']}; uniform baselines: ratios {list(SQ.RATIOS)} x bits "
        f"{doc['uniform_bits']}. Produced by `python bench/search_quality_resnet.py`.",
        "",
        "| metric (median over seeds) | hwprune | random | uniform |",
        "| --- | --- | --- | --- |",
        f"| hypervolume acc x fps x (1 - LUT) | {m['hv_hwprune']:.4g} | {m['hv_random']:.4g} | "
        f"{m['hv_uniform']:.4g} |",
        f"| fps at the best uniform design's accuracy and LUTs, vs it | "
        f"{SQ._x(m['speedup_vs_best_uniform'])} | {SQ._x(m['random_speedup_vs_best_uniform'])} "
        "| 1x |",
        "",
    ]
    fps = {p["fps"] for r in b["runs"] for p in r["front_hwprune"] + r["all_uniform"]}
    if len(fps) == 1:
        lines += [
            f"Every design runs at {fps.pop():,.0f} frames/s: the first layer's sliding window "
            "(one input channel, nothing to fold) bounds them all on 8x8 digits, so the "
            "comparison is accuracy against LUTs.",
            "",
        ]
    for r in b["runs"]:
        bu = r["best_uniform"]
        lines.append(
            f"Seed {r['seed']}: the front dominates {r['uniform_dominated_by_hwprune']} of "
            f"{r['uniform_points']} uniform designs ({r['uniform_infeasible']} infeasible); best "
            f"uniform: ratio {bu['ratio']}, {bu['bits']} bits, accuracy {bu['accuracy']:.4f}, "
            f"{bu['fps']:,.0f} frames/s, LUT fraction {bu['lut_fraction']:.3f}; parent accuracy "
            f"{r['parent_val_accuracy']:.4f}; wall s {r['wall_s']}."
        )
        lines.append("")
        lines.append(
            "| hwprune front: accuracy | frames/s | LUT fraction | channels | wbits | abits |"
        )
        lines.append("| --- | --- | --- | --- | --- | --- |")
        for p in r["front_hwprune"]:
            lines.append(
                f"| {p['accuracy']:.4f} | {p['fps']:,.0f} | {p['lut_fraction']:.3f} | "
                f"{p.get('channels')} | {p.get('wbits')} | {p.get('abits')} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
