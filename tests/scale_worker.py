"""A worker process for tests/test_scale.py: hwprune's worker loop on a small real objective.

Usage: python tests/scale_worker.py STORAGE STUDY ARTEFACTS BUDGET SLEEP [HEARTBEAT GRACE]

The objective trains nothing (the real `hwprune worker` is tested separately); it fits a
least-squares line to a few points drawn from the trial's parameters (real work), sleeps SLEEP
seconds "mid-trial" (while the heartbeat thread runs), then writes the trial's artefacts
(design.json + result.json) with :func:`hwprune.atomic.atomic_dir` and returns the loss.
Prints ``started <number>`` when a trial begins so the test knows when to kill it.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import optuna

from hwprune.atomic import atomic_dir
from hwprune.storage import open_storage
from hwprune.workers import run_worker


def main(argv: list[str]) -> int:
    storage_url, study_name, art, budget, sleep = argv[:5]
    heartbeat = int(argv[5]) if len(argv) > 5 else 1
    grace = int(argv[6]) if len(argv) > 6 else 3
    logging.basicConfig(level=logging.INFO, format="%(process)d %(name)s %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(storage_url, heartbeat_interval=heartbeat, grace_period=grace)
    study = optuna.load_study(study_name=study_name, storage=storage)
    out = Path(art)

    def objective(trial: optuna.Trial) -> float:
        a = trial.suggest_float("a", -2.0, 2.0)
        b = trial.suggest_int("b", 0, 8)
        print(f"started {trial.number}", flush=True)
        x = np.linspace(0.0, 1.0, 64)
        y = a * x + b + np.sin(7 * x)
        coef = np.polyfit(x, y, 1)
        loss = float(np.mean((np.polyval(coef, x) - y) ** 2) + (a - 0.5) ** 2)
        time.sleep(float(sleep))
        with atomic_dir(out / f"trial_{trial.number:04d}") as tmp:
            (tmp / "design.json").write_text(json.dumps({"a": a, "b": b}))
            (tmp / "result.json").write_text(json.dumps({"loss": loss, "coef": coef.tolist()}))
        return loss

    res = run_worker(study, objective, budget=int(budget), poll_interval=0.5)
    print(f"done ran={res.ran} surplus={res.surplus} stop={res.stopped_because}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
