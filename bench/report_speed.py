"""Benchmark: how long ``hwprune report`` takes as a study grows (50 / 200 / 1000 trials).

Each study is a real Optuna SQLite study whose trials carry the attributes the search stores
(design, hw, estimate with the per-layer table, constraints, status); every design is priced
by the real cost model (``hwprune.estimate``) on pynq-z2 and its "accuracy" is a smooth
function of widths and bits (no training: this measures the report, not the search). Timed:
reading the run (``load_run``), the whole ``write_report`` (summary, 4 plots as PNG + SVG,
HTML), and the size of the self-contained HTML.

Run:  python bench/report_speed.py            (writes bench/results/report_speed.{json,md})
"""

from __future__ import annotations

import datetime
import json
import platform
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optuna  # noqa: E402

from hwprune.estimate import estimate  # noqa: E402
from hwprune.report import load_run, write_report  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
WIDTHS = (16, 24, 32, 40, 48, 56, 64)
BITS = (1, 2, 3, 4, 6, 8)


def make_study(root: Path, n: int, seed: int = 0) -> Path:
    """A run folder with ``n`` priced trials (search-shaped user attributes)."""
    rng = random.Random(seed)
    root.mkdir(parents=True)
    storage = f"sqlite:///{root / 'study.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="bench", storage=storage, directions=["maximize", "maximize"]
    )
    study.set_user_attr("target", "pynq-z2")
    study.set_user_attr("objectives", ["accuracy", "fps"])
    for _ in range(n):
        t = study.ask()
        ch = [rng.choice(WIDTHS) for _ in range(3)]
        wb = [rng.choice(BITS) for _ in range(4)]
        ab = [rng.choice(BITS) for _ in range(3)] + [None]
        layers = [
            {"op": "fc", "out": c, "wbits": w, "abits": a}
            for c, w, a in zip([*ch, 10], wb, ab, strict=True)
        ]
        design = {
            "name": f"t{t.number}",
            "input": {"shape": [1, 8, 8], "bits": 8},
            "layers": layers,
        }
        est = estimate(design, "pynq-z2")
        doc = json.loads(est.to_json())
        hw = {k: doc[k] for k in ("fps", "latency_us", "lut", "ff", "bram18", "dsp")}
        t.set_user_attr("design", design)
        t.set_user_attr("hw", {**hw, "fits": est.fits, "binding": est.binding})
        t.set_user_attr("estimate", doc)
        t.set_constraint("fits", 0.0 if est.fits else 1.0)
        if not est.fits:
            t.set_user_attr("status", "infeasible")
            study.tell(t, [0.0, 0.0])
            continue
        acc = 0.97 - 0.05 / min(wb + ab[:3]) - 1.0 / sum(ch)
        t.set_user_attr("status", "ok")
        t.set_user_attr("accuracy", acc)
        study.tell(t, [acc, hw["fps"]])
    return root


def main() -> None:
    import jinja2
    import matplotlib
    import torch

    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in (50, 200, 1000):
            t0 = time.perf_counter()
            run = make_study(Path(tmp) / f"n{n}", n)
            build_s = time.perf_counter() - t0
            t0, c0 = time.perf_counter(), time.process_time()
            load_run(run)
            load_s, load_cpu = time.perf_counter() - t0, time.process_time() - c0
            t0, c0 = time.perf_counter(), time.process_time()
            page = write_report(run)
            report_s, report_cpu = time.perf_counter() - t0, time.process_time() - c0
            rows.append(
                {
                    "trials": n,
                    "make_study_s": round(build_s, 2),
                    "load_run_s": round(load_s, 3),
                    "load_run_cpu_s": round(load_cpu, 3),
                    "write_report_s": round(report_s, 2),
                    "write_report_cpu_s": round(report_cpu, 2),
                    "html_kib": round(page.stat().st_size / 1024, 1),
                }
            )
            print(rows[-1], flush=True)
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "machine": "2-core x86_64 CPU, 24 GiB, shared with other jobs at the time",
        "python": platform.python_version(),
        "optuna": optuna.__version__,
        "jinja2": jinja2.__version__,
        "matplotlib": matplotlib.__version__,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "report_speed.json").write_text(json.dumps({**meta, "rows": rows}, indent=2))
    lines = [
        "# report_speed: time to write the report of a study (bench/report_speed.py)",
        "",
        f"Date {meta['date']}; machine: {meta['machine']}; Python {meta['python']}, "
        f"optuna {meta['optuna']}, jinja2 {meta['jinja2']}, matplotlib {meta['matplotlib']} "
        "(HTML from the Jinja2 templates of hwprune/report/templates). Trials priced by the "
        "real cost model on pynq-z2 (digits MLP, random widths/bits); SQLite storage.",
        "",
        "Wall-clock seconds, and CPU seconds of this process (the machine is shared, so CPU "
        "time is the steadier figure).",
        "",
        "| trials | load_run s (CPU s) | write_report s (CPU s) (summary + 4 plots PNG/SVG + "
        "HTML) | report.html KiB |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['trials']} | {r['load_run_s']} ({r['load_run_cpu_s']}) | {r['write_report_s']} "
        f"({r['write_report_cpu_s']}) | {r['html_kib']} |"
        for r in rows
    ]
    (RESULTS / "report_speed.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
