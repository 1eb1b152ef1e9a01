"""Time of ``hwprune export`` (QONNX, lowering, checks, HLS project, g++ C simulation).

Designs:
* default: the default recipe's network (mlp-digits, 64-64-64-10) with mixed bits
  (weights 8/4/2/4, activations 4/2/2), trained briefly on digits; golden = 100 test images;
  folding "auto" on pynq-z2 (as ``hwprune search`` exports its best design).
* cnv-w1a1, cnv-w2a2: Brevitas' bnn_pynq CNV (CIFAR-10 size, 3x32x32), weights as initialised
  (the export does not depend on their values), 100 random golden inputs, folding "auto".

Usage: python bench/export_speed.py [--designs default cnv-w1a1 cnv-w2a2] [--out bench/results]
Writes export_speed.json and export_speed.md (timings per phase, csim result, cycles).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hwprune.export.core import export_model  # noqa: E402

MACHINE = "2-core x86_64 CPU, 24 GiB, shared with other jobs at the time"
DATE = "2026-11-22"


def default_design():
    from hwprune.compress.quant import to_brevitas
    from hwprune.data import load_dataset
    from hwprune.models import build_model, get_spec

    torch.manual_seed(0)
    torch.set_num_threads(1)
    data = load_dataset("digits")
    spec = get_spec("mlp-digits")
    q = to_brevitas(build_model(spec), [8, 4, 2, 4], [4, 2, 2, None], data.input_scale)
    x = torch.as_tensor(np.asarray(data.train.x))
    y = torch.as_tensor(np.asarray(data.train.y))
    opt = torch.optim.Adam(q.parameters(), lr=3e-3)
    q.train()
    for _ in range(200):
        idx = torch.randint(0, len(x), (64,))
        loss = torch.nn.functional.cross_entropy(q(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    q.eval()
    return q, tuple(spec.input_shape), np.asarray(data.test.x[:100])


def bnn_cnv(name: str, workdir: Path) -> Path:
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    from hwprune.export.qonnx import export_brevitas

    torch.manual_seed(0)
    m, _ = model_with_cfg(name, pretrained=False)
    return export_brevitas(m.eval(), (3, 32, 32), workdir / f"{name}.onnx")


def run(design: str, workdir: Path) -> dict:
    t0 = time.perf_counter()
    if design == "default":
        q, shape, x = default_design()
        prep = time.perf_counter() - t0
        t1 = time.perf_counter()
        res = export_model(
            q, "pynq-z2", out_dir=workdir / design, golden_inputs=x, input_shape=shape, n_golden=100
        )
    else:
        path = bnn_cnv({"cnv-w1a1": "cnv_1w1a", "cnv-w2a2": "cnv_2w2a"}[design], workdir)
        prep = time.perf_counter() - t0
        t1 = time.perf_counter()
        res = export_model(path, "pynq-z2", out_dir=workdir / design, n_golden=100)
    wall = time.perf_counter() - t1
    est = res.estimate
    mvau = [c for c in res.cycles if c["kind"] == "MVAU"]
    return {
        "design": design,
        "model_prep_s": round(prep, 2),
        "export_wall_s": round(wall, 2),
        "phases_s": {k: round(v, 2) for k, v in res.timings.items()},
        "bit_exact": res.bit_exact,
        "csim_samples": res.csim.samples,
        "executor_vs_qonnx_exact": res.verify.exact,
        "mvau_cycles_equal_cost_model": all(c["counted"] == c["cost_model"] for c in mvau),
        "max_cycles_counted": max(c["counted"] or 0 for c in res.cycles),
        "estimate_fps": round(est.fps, 1),
        "estimate_lut": round(est.lut),
        "estimate_bram18": round(est.bram18, 1),
        "folding": res.folding,
    }


def main() -> None:
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 PID` prints where a long run is
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", nargs="+", default=["default", "cnv-w1a1", "cnv-w2a2"])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="hwprune-bench-") as tmp:
        for d in args.designs:
            r = run(d, Path(tmp))
            print(json.dumps({k: v for k, v in r.items() if k != "folding"}), flush=True)
            rows.append(r)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    load = [round(x, 2) for x in os.getloadavg()]
    doc = {
        "date": DATE,
        "machine": MACHINE,
        "load_average_at_end": load,
        "python": platform.python_version(),
        "target": "pynq-z2",
        "golden_vectors": 100,
        "csim_opt": "-O2",
        "results": rows,
    }
    (out / "export_speed.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# Export speed (`bench/export_speed.py`)",
        "",
        f"Date {DATE}; machine: {MACHINE}; target pynq-z2, folding auto, 100 golden vectors, "
        f"g++ -O2 C simulation. Load average at the end: {load} (other jobs on the 2 cores).",
        "",
        "| design | export total (s) | QONNX (s) | lower (s) | executor vs qonnx (s) | "
        "HLS + golden + FINN files (s) | g++ compile (s) | csim run (s) | bit-exact | "
        "MVAU cycles = cost model | est. fps |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r["phases_s"]
        lines.append(
            f"| {r['design']} | {r['export_wall_s']} | {p.get('qonnx_s')} | {p.get('lower_s')} | "
            f"{p.get('verify_s')} | {p.get('generate_s')} | {p.get('csim_compile_s')} | "
            f"{p.get('csim_run_s')} | {r['bit_exact']} ({r['csim_samples']} samples) | "
            f"{r['mvau_cycles_equal_cost_model']} | {r['estimate_fps']:,} |"
        )
    (out / "export_speed.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
