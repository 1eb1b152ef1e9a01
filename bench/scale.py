"""Benchmark: trials per hour with 1, 2 and 4 local workers on the digits recipe.

For each worker count K it runs, in a fresh run folder,

    hwprune search --recipe digits-mlp --target pynq-z2 --trials N --workers K \\
        --cache-dir <shared parent cache> --no-export --quiet

(the float parent is trained once, before the first K, and then found in the shared cache, so
every K measures trials only), and reads the study back from the run folder's ``study.db``:

* ``trials/h (window)``: finished trials / (last trial end - first trial start), the
  throughput while the workers are all busy;
* ``trials/h (phase)``: finished trials / the search's ``timings_s.trials_s`` (from launching
  the workers to the last one exiting: includes each worker's start-up, data and parent load);
* the outcome counts (complete, failed, surplus, re-queued) and that exactly N finished.

Usage: python bench/scale.py [--trials 24] [--workers 1,2,4] [--out bench/results/scale.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

NOTES = """Reading the table: *window* counts from the first trial's start to the last trial's end
(workers busy); *phase* counts from launching the workers to the last one exiting, so it also
pays each worker process's start-up (Python, torch, brevitas, data, cached parent: several
seconds on 2 cores). K = 1 runs the trials inside the `search` process (no start-up). The recipe
trains on one thread per worker (`budget.threads = 1`), so 2 workers can use both cores; 4
workers on 2 cores only time-share them (longer mean trial time). *surplus* counts trials that
gave way because the last slots of the budget were taken by other workers at the same moment
(never run, never counted). No GPU machine was lent to this task, so there is no GPU run."""


def _run(k: int, trials: int, root: Path, cache: Path, recipe: str, extra: list[str]) -> dict:
    import optuna
    from optuna.trial import TrialState

    from hwprune.workers import SURPLUS_ATTR, counts_toward_budget

    out = root / f"k{k}"
    cmd = [
        sys.executable,
        "-m",
        "hwprune",
        "search",
        "--recipe",
        recipe,
        "--target",
        "pynq-z2",
        "--trials",
        str(trials),
        "--workers",
        str(k),
        "--out",
        str(out),
        "--cache-dir",
        str(cache),
        "--no-export",
        "--quiet",
        *extra,
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"K={k} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    summary = json.loads((out / "summary.json").read_text())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=summary["study"], storage=f"sqlite:///{out / 'study.db'}")
    trials_all = study.get_trials(deepcopy=False)
    fin = [t for t in trials_all if counts_toward_budget(t)]
    start = min(t.datetime_start for t in fin)
    end = max(t.datetime_complete for t in fin)
    window = (end - start).total_seconds()
    phase = float(summary["timings_s"]["trials_s"])
    return {
        "workers": k,
        "finished": len(fin),
        "complete": sum(t.state == TrialState.COMPLETE for t in trials_all),
        "failed": sum(
            t.state == TrialState.FAIL and not t.user_attrs.get(SURPLUS_ATTR) for t in trials_all
        ),
        "surplus": sum(bool(t.user_attrs.get(SURPLUS_ATTR)) for t in trials_all),
        "window_s": round(window, 2),
        "trials_phase_s": round(phase, 2),
        "wall_s": round(wall, 2),
        "per_h_window": round(len(fin) / window * 3600, 1),
        "per_h_phase": round(len(fin) / phase * 3600, 1),
        "mean_trial_s": round(
            sum((t.datetime_complete - t.datetime_start).total_seconds() for t in fin) / len(fin), 2
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--recipe", default="digits-mlp")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "scale.md")
    ap.add_argument(
        "--machine", default="2-core x86_64 CPU, 24 GiB, shared with other jobs at the time"
    )
    ap.add_argument("extra", nargs="*", help="more `hwprune search` options, after --")
    args = ap.parse_args()
    ks = [int(k) for k in args.workers.split(",")]
    root = Path(tempfile.mkdtemp(prefix="hwprune-bench-scale-"))
    cache = root / "parent-cache"
    rows = []
    for k in ks:
        row = _run(k, args.trials, root, cache, args.recipe, args.extra)
        print(json.dumps(row), flush=True)
        rows.append(row)
    base = rows[0]["per_h_window"]
    cpus = len(os.sched_getaffinity(0))
    lines = [
        "# Scale-out: trials per hour with K local workers",
        "",
        f"- date: {date.today().isoformat()}",
        f"- machine: {args.machine} ({cpus} CPUs visible, {platform.machine()}, no GPU)",
        f"- command: `python bench/scale.py --trials {args.trials} --workers {args.workers}"
        f"{' -- ' + ' '.join(args.extra) if args.extra else ''}`"
        f" (recipe {args.recipe}, target pynq-z2, SQLite study in the run folder, parent cached"
        " before the first K)",
        "",
        "| workers | finished | complete | failed | surplus | mean trial s | window s | "
        "trials/h (window) | speed-up | trials phase s | trials/h (phase) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['workers']} | {r['finished']} | {r['complete']} | {r['failed']} | "
            f"{r['surplus']} | {r['mean_trial_s']} | {r['window_s']} | {r['per_h_window']} | "
            f"{r['per_h_window'] / base:.2f}x | {r['trials_phase_s']} | {r['per_h_phase']} |"
        )
    lines += ["", NOTES, "", "Raw rows:", "", "```json", json.dumps(rows, indent=1), "```", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
