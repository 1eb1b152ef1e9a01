"""Search quality: our search vs random search vs uniform baselines, at equal budgets and seeds.

For each benchmark (``digits-mlp``; Fashion-MNIST with FINN's TFC MLP when the data is
present) and each seed:

* **hwprune** — the recipe's search (multi-objective TPE with constraints and our early stop),
  ``N`` trials, of which the first ``study.warm_start`` are uniform designs that fit (W4A4 at
  each width ratio, then W8A8 and W2A2) (hwprune's warm start: they count in its budget);
* **random** — the same study with Optuna's random sampler and no warm start, ``N`` trials;
* **uniform** — every layer at the same width ratio (``r`` x parent width, rounded to the
  space's divisor-friendly choices) and the same bits (weights = activations = ``b``, head
  included), for ``r`` in {0.25, 0.5, 0.75, 1.0} and ``b`` in {1, 2, 4, 8}; each is priced with
  the same folding and fine-tuned the same way (same parent, epochs, KD, seed) — without early
  stopping, which can only help it.

Metrics, all on validation accuracy after the per-trial fine-tune (the quantity every method
optimises), frames/s and LUTs from the cost model on the target (hardware is a cost: a design
that is as accurate and as fast but larger is worse):

* hypervolume of the feasible front in accuracy x frames/s x (1 - LUT fraction of the device),
  reference point (``--acc-ref``, 0, 0); the accuracy x frames/s hypervolume is kept too;
* how many uniform designs the search's front dominates in (accuracy, frames/s, LUTs) (goal:
  all of them);
* frames/s at matched accuracy and at most the baseline's LUTs: the best uniform design that
  fits (highest accuracy, then frames/s, then fewer LUTs) vs the fastest front design within
  0.5 points of its accuracy that uses no more LUTs than it (goal >= 1.5x).

Usage::

    python bench/search_quality.py                     # digits-mlp, 3 seeds, 48 trials
    python bench/search_quality.py --fashion           # + Fashion-MNIST TFC when present
    python bench/search_quality.py --fashion --jobs 2  # two seeds at a time
    python bench/search_quality.py --out bench/results/search_quality.json
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import hwprune
from hwprune.pareto import dominates, hypervolume, pareto_indices
from hwprune.recipe import load_recipe

S = importlib.import_module("hwprune.search")  # the package (hwprune.search is the function)

DIRS = ["maximize", "maximize"]
#: (accuracy, frames/s, LUT fraction of the device)
DIRS3 = ["maximize", "maximize", "minimize"]
RATIOS = (0.25, 0.5, 0.75, 1.0)
BITS = (1, 2, 4, 8)


def run_search(
    recipe: Any,
    target: Any,
    sampler: str,
    trials: int,
    seed: int,
    cache: Path,
    work: Path,
    overrides: dict[str, Any],
) -> dict[str, Any]:
    """One search; returns its feasible (accuracy, fps, LUT fraction) points and timings."""
    ov = {
        **overrides,
        **({"study.warm_start": 0} if sampler == "random" else {}),
        "study.sampler": sampler,
        "budget.trials": trials,
        "seed": seed,
        "budget.final_epochs": 1,
    }
    t0 = time.perf_counter()
    res = hwprune.search(
        recipe,
        target,
        out=work / f"{sampler}-{seed}",
        overrides=ov,
        cache_dir=cache,
        export=False,
        study_name=f"{sampler}-{seed}",
    )
    wall = time.perf_counter() - t0
    import optuna

    study = optuna.load_study(
        study_name=res.study_name, storage=f"sqlite:///{res.run_dir / 'study.db'}"
    )
    pts = []
    for t in study.trials:
        if t.state.name != "COMPLETE" or t.user_attrs.get("status") not in ("ok", "stopped"):
            continue
        if any(v > 0 for v in t.constraints.values()):
            continue
        hw = t.user_attrs["hw"]
        pts.append(
            (
                float(t.user_attrs["accuracy"]),
                float(hw["fps"]),
                lut_fraction(hw, target),
                t.user_attrs["candidate"],
            )
        )
    return {"points": pts, "wall_s": wall, "counts": res.summary["trials"]}


def lut_fraction(hw: dict[str, Any], target: Any) -> float:
    """The design's LUTs as a fraction of the device's."""
    return float(hw.get("lut", 0.0) or 0.0) / float(target.lut)


def run_uniform(
    recipe: Any, target: Any, seed: int, cache: Path, work: Path, overrides: dict[str, Any]
) -> dict[str, Any]:
    """Price and fine-tune every uniform configuration."""
    rec = load_recipe(recipe, overrides={**overrides, "seed": seed})
    rec = S.resolve_objectives(rec, target)
    wb = S.build_workbench(rec, target, cache)
    pts, infeasible = [], []
    t0 = time.perf_counter()
    for r in RATIOS:
        for b in BITS:
            cand = wb.space.uniform(r, b)
            design = S.make_design(wb.spec, cand, rec.space.input_bits, "uniform")
            _, hw, cons = S.price(design, target, rec)
            if any(v > 0 for v in cons.values()):
                infeasible.append({"ratio": r, "bits": b, "hw": hw})
                continue
            _, acc, _ = S.train_candidate(wb, cand, rec.budget.epochs, seed=rec.trial_seed(0))
            pts.append(
                (
                    acc,
                    hw["fps"],
                    lut_fraction(hw, target),
                    {"ratio": r, "bits": b, **cand.to_json()},
                )
            )
    return {
        "points": pts,
        "infeasible": infeasible,
        "wall_s": time.perf_counter() - t0,
        "parent_val_accuracy": wb.parent_val_acc,
    }


def front(points: list[tuple]) -> list[tuple]:
    """The (accuracy, frames/s, LUT fraction) front, most accurate first."""
    idx = pareto_indices([p[:3] for p in points], DIRS3)
    return sorted((points[i] for i in idx), key=lambda p: -p[0])


def hv3(points: list[tuple], acc_ref: float) -> float:
    """Hypervolume in accuracy x frames/s x (1 - LUT fraction) above (acc_ref, 0, 0)."""
    pts = [(p[0], p[1], 1.0 - p[2]) for p in points]
    return hypervolume(pts, ["maximize"] * 3, (acc_ref, 0.0, 0.0))


def hv2(points: list[tuple], acc_ref: float) -> float:
    """Hypervolume in accuracy x frames/s above (acc_ref, 0) (resources ignored)."""
    pts = [p[:2] for p in points]
    return hypervolume([pts[i] for i in pareto_indices(pts, DIRS)], DIRS, (acc_ref, 0.0))


def fps_at_matched_accuracy(
    front_pts: list[tuple], target_acc: float, tol: float, max_lut: float = float("inf")
) -> float:
    """Fastest front design within ``tol`` of ``target_acc`` using at most ``max_lut``."""
    ok = [p[1] for p in front_pts if p[0] >= target_acc - tol and p[2] <= max_lut + 1e-12]
    return max(ok) if ok else 0.0


def run_seed(
    name: str,
    recipe: Any,
    target_name: str,
    seed: int,
    trials: int,
    acc_ref: float,
    overrides: dict[str, Any],
    work: Path,
) -> dict[str, Any]:
    """All three methods on one benchmark and seed; returns the row of the results table."""
    from hwprune.targets import load_target

    target = load_target(target_name)
    cache = work / name / "parent-cache"
    print(f"[{name}] seed {seed}: hwprune search ...", flush=True)
    ours = run_search(recipe, target, "tpe", trials, seed, cache, work / name, overrides)
    print(f"[{name}] seed {seed}: random search ...", flush=True)
    rnd = run_search(recipe, target, "random", trials, seed, cache, work / name, overrides)
    print(f"[{name}] seed {seed}: uniform baselines ...", flush=True)
    uni = run_uniform(recipe, target, seed, cache, work / name, overrides)
    f_ours, f_rnd, f_uni = front(ours["points"]), front(rnd["points"]), front(uni["points"])
    best_uni = max(uni["points"], key=lambda p: (p[0], p[1], -p[2]))
    matched = fps_at_matched_accuracy(f_ours, best_uni[0], 0.005, best_uni[2])
    matched_rnd = fps_at_matched_accuracy(f_rnd, best_uni[0], 0.005, best_uni[2])
    dominated = sum(any(dominates(o[:3], u[:3], DIRS3) for o in f_ours) for u in uni["points"])
    row = {
        "seed": seed,
        "hv": {
            "hwprune": hv3(f_ours, acc_ref),
            "random": hv3(f_rnd, acc_ref),
            "uniform": hv3(f_uni, acc_ref),
        },
        "hv_accuracy_fps": {
            "hwprune": hv2(f_ours, acc_ref),
            "random": hv2(f_rnd, acc_ref),
            "uniform": hv2(f_uni, acc_ref),
        },
        "uniform_points": len(uni["points"]),
        "uniform_infeasible": len(uni["infeasible"]),
        "uniform_dominated_by_hwprune": dominated,
        "best_uniform": {
            "accuracy": best_uni[0],
            "fps": best_uni[1],
            "lut_fraction": best_uni[2],
            **best_uni[3],
        },
        "hwprune_fps_at_matched_acc": matched,
        "random_fps_at_matched_acc": matched_rnd,
        "speedup_vs_best_uniform": matched / best_uni[1] if best_uni[1] else None,
        "random_speedup_vs_best_uniform": matched_rnd / best_uni[1] if best_uni[1] else None,
        "front_hwprune": [
            {"accuracy": p[0], "fps": p[1], "lut_fraction": p[2], **p[3]} for p in f_ours
        ],
        "front_random": [{"accuracy": p[0], "fps": p[1], "lut_fraction": p[2]} for p in f_rnd],
        "front_uniform": [
            {
                "accuracy": p[0],
                "fps": p[1],
                "lut_fraction": p[2],
                "ratio": p[3]["ratio"],
                "bits": p[3]["bits"],
            }
            for p in f_uni
        ],
        "all_uniform": [
            {
                "accuracy": p[0],
                "fps": p[1],
                "lut_fraction": p[2],
                "ratio": p[3]["ratio"],
                "bits": p[3]["bits"],
            }
            for p in uni["points"]
        ],
        "trials": {"hwprune": ours["counts"], "random": rnd["counts"]},
        "wall_s": {
            "hwprune": ours["wall_s"],
            "random": rnd["wall_s"],
            "uniform": uni["wall_s"],
        },
        "parent_val_accuracy": uni["parent_val_accuracy"],
    }
    keys = ("seed", "hv", "uniform_dominated_by_hwprune", "speedup_vs_best_uniform")
    print(json.dumps({k: row[k] for k in keys}), flush=True)
    return row


def bench(
    name: str,
    recipe: Any,
    target_name: str,
    seeds: list[int],
    trials: int,
    acc_ref: float,
    overrides: dict[str, Any],
    work: Path,
    jobs: int = 1,
) -> dict[str, Any]:
    """Every seed of one benchmark (``jobs`` seeds at a time, one process each)."""
    args = [(name, recipe, target_name, s, trials, acc_ref, overrides, work) for s in seeds]
    if jobs > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            rows = list(pool.map(run_seed, *zip(*args, strict=True)))
    else:
        rows = [run_seed(*a) for a in args]

    def med(key: str, sub: str | None = None) -> float | None:
        vals = [r[key][sub] if sub else r[key] for r in rows]
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    return {
        "benchmark": name,
        "recipe": str(recipe),
        "target": target_name,
        "trials": trials,
        "seeds": seeds,
        "acc_ref": acc_ref,
        "overrides": overrides,
        "median": {
            "hv_hwprune": med("hv", "hwprune"),
            "hv_random": med("hv", "random"),
            "hv_uniform": med("hv", "uniform"),
            "speedup_vs_best_uniform": med("speedup_vs_best_uniform"),
            "random_speedup_vs_best_uniform": med("random_speedup_vs_best_uniform"),
        },
        "all_uniform_dominated": all(
            r["uniform_dominated_by_hwprune"] == r["uniform_points"] for r in rows
        ),
        "runs": rows,
    }


def _x(speedup: float | None) -> str:
    if not speedup:
        return "none within 0.5 points"
    return f"{speedup:.2f}x"


def ceiling(row: dict[str, Any]) -> float:
    """Highest frames/s of any feasible design any method evaluated in this run."""
    pts = row["front_hwprune"] + row["front_random"] + row["all_uniform"]
    return max(p["fps"] for p in pts)


def to_markdown(results: dict[str, Any]) -> str:
    """A readable table of the recorded results."""
    lines = [
        "# Search quality: hwprune vs random search vs uniform baselines",
        "",
        f"- date: {results['date']}",
        f"- machine: {results['machine']}",
        "- accuracy: validation top-1 after each method's per-trial QAT fine-tune; "
        "frames/s and LUTs: cost model on the target",
        "",
    ]
    lines += [
        "Reading the tables: HV = hypervolume of the feasible front in accuracy x frames/s x "
        "(1 - LUT fraction of the device) above the reference accuracy (hardware is a cost: "
        "as accurate and as fast with more LUTs is worse); dominated = worse or equal on all "
        "three; the speed-up at matched accuracy counts only front designs within 0.5 points "
        "of the best uniform design that use no more LUTs than it. On a Zynq the frame rate "
        "of a small network is capped by the "
        "stream port plus the per-frame DMA overhead; the *ceiling* column is the fastest "
        "design any method found, so no speed-up at matched accuracy can exceed *largest "
        "possible speed-up* = ceiling / frames/s of the best uniform design. Validation sets "
        "are small (digits: 144 images, one image = 0.69 points), so 'within 0.5 points' means "
        "'no more misclassified validation images'.",
        "",
        "hwprune's study starts with its warm start (the uniform designs that fit, at most "
        "`study.warm_start` = 6, counted in its trial budget: with LUTs among the objectives "
        "W4A4, W2A2 and W1A1 at width ratios 1 and 0.5; with accuracy and frames/s only, W4A4 "
        "at width ratios 1, 0.75, 0.5, 0.25, then W8A8 and W2A2) and then samples with multi-"
        "objective TPE; random search has no warm start. Trial n is fine-tuned with seed 1000 +"
        " n and every uniform baseline with seed 1000, so the warm start's first design (full "
        "width, W4A4) is the very fine-tune of that uniform baseline: the two points are equal,"
        " and the front can at best tie there. Fashion-MNIST's validation set has 6,000 images "
        "(one image = 0.017 points).",
        "",
    ]
    for b in results["benchmarks"]:
        lines += [
            f"## {b['benchmark']} on {b['target']} ({b['trials']} trials per search, "
            f"seeds {b['seeds']}, hypervolume reference accuracy {b['acc_ref']})",
            "",
            "| seed | HV hwprune | HV random | HV uniform | uniform dominated by hwprune "
            "| best uniform (acc, fps, LUT %, ratio, bits) "
            "| hwprune fps at matched acc, <= its LUTs "
            "| speed-up | random speed-up | highest fps of any design (ceiling) "
            "| largest possible speed-up |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in b["runs"]:
            bu = r["best_uniform"]
            sp = r["speedup_vs_best_uniform"]
            rs = r["random_speedup_vs_best_uniform"]
            lines.append(
                f"| {r['seed']} | {r['hv']['hwprune']:,.0f} | {r['hv']['random']:,.0f} | "
                f"{r['hv']['uniform']:,.0f} | {r['uniform_dominated_by_hwprune']} of "
                f"{r['uniform_points']} ({r['uniform_infeasible']} infeasible) | "
                f"{bu['accuracy']:.4f}, {bu['fps']:,.0f}, {bu.get('lut_fraction', 0):.0%}, "
                f"{bu['ratio']}, {bu['bits']} | "
                f"{r['hwprune_fps_at_matched_acc']:,.0f} | "
                f"{_x(sp)} | {_x(rs)} | "
                f"{ceiling(r):,.0f} | {ceiling(r) / bu['fps']:.2f}x |"
            )
        m = b["median"]
        lines += [
            "",
            f"Median hypervolume: hwprune {m['hv_hwprune']:,.0f}, random "
            f"{m['hv_random']:,.0f}, uniform {m['hv_uniform']:,.0f}. Median speed-up at "
            f"matched accuracy vs the best uniform design: hwprune "
            f"{_x(m['speedup_vs_best_uniform'])}, random "
            f"{_x(m['random_speedup_vs_best_uniform'])}. Every uniform design dominated "
            f"in every seed: {b['all_uniform_dominated']}.",
            "",
        ]
        lines += _undominated_lines(b)
    return "\n".join(lines) + "\n"


def _undominated_lines(b: dict[str, Any]) -> list[str]:
    """For each seed, the uniform designs no hwprune front member dominates (accuracy,
    frames/s, LUTs), each with the front member closest to it (equal = the same point)."""
    out = []
    for r in b["runs"]:
        front = [(p["accuracy"], p["fps"], p.get("lut_fraction", 0.0)) for p in r["front_hwprune"]]
        for u in r["all_uniform"]:
            pt = (u["accuracy"], u["fps"], u.get("lut_fraction", 0.0))
            if any(dominates(f, pt, DIRS3) for f in front):
                continue
            near = min(front, key=lambda f: (abs(f[1] - pt[1]) / pt[1], abs(f[0] - pt[0])))
            how = (
                "equal"
                if near == pt
                else f"{near[0]:.4f} at {near[1]:,.0f} frames/s, {near[2]:.0%} LUTs"
            )
            out.append(
                f"- seed {r['seed']}: uniform ratio {u['ratio']}, {u['bits']} bits "
                f"({pt[0]:.4f} at {pt[1]:,.0f} frames/s, {pt[2]:.0%} LUTs) is not dominated; "
                f"nearest hwprune front member: {how}"
            )
    if out:
        out = ["Uniform designs the hwprune front does not strictly dominate:", "", *out, ""]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--trials", type=int, default=48)
    ap.add_argument("--target", default="pynq-z2")
    ap.add_argument("--acc-ref", type=float, default=0.8)
    ap.add_argument(
        "--fashion",
        action="store_true",
        help="also run Fashion-MNIST (TFC MLP) when the data is present",
    )
    ap.add_argument("--no-digits", action="store_true", help="skip the digits benchmark")
    ap.add_argument("--fashion-trials", type=int, default=48)
    ap.add_argument(
        "--fashion-seeds", type=int, nargs="+", help="seeds of the Fashion run (default: --seeds)"
    )
    ap.add_argument("--jobs", type=int, default=1, help="seeds run at a time (one process each)")
    ap.add_argument(
        "--machine",
        default=f"{os.cpu_count()}-core {platform.machine()} CPU",
        help="machine description recorded with the results",
    )
    ap.add_argument("--out", type=Path, default=Path("bench/results/search_quality.json"))
    ap.add_argument(
        "--render", type=Path, help="only rewrite the Markdown of a recorded results JSON"
    )
    args = ap.parse_args(argv)
    if args.render:
        recorded = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(to_markdown(recorded))
        print(f"wrote {args.render.with_suffix('.md')}")
        return 0
    results: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "machine": args.machine,
        "python": platform.python_version(),
        "benchmarks": [],
    }

    def save() -> None:  # after every benchmark, so a crash keeps what was measured
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(to_markdown(results))

    with tempfile.TemporaryDirectory(prefix="hwprune-bench-") as tmp:
        work = Path(tmp)
        if not args.no_digits:
            results["benchmarks"].append(
                bench(
                    "digits-mlp",
                    "digits-mlp",
                    args.target,
                    args.seeds,
                    args.trials,
                    args.acc_ref,
                    {},
                    work,
                    args.jobs,
                )
            )
            save()
        if args.fashion:
            try:
                from hwprune.data import load_dataset

                load_dataset("fashion-mnist")
            except Exception as exc:  # noqa: BLE001
                print(f"fashion-mnist skipped: {exc}")
            else:
                ov = {
                    "dataset": "fashion-mnist",
                    "model": "tfc",
                    "parent.epochs": 8,
                    "parent.lr": 0.003,
                    "budget.epochs": 3,
                    "kd.lr": 0.002,
                    "budget.threads": 1,
                }
                results["benchmarks"].append(
                    bench(
                        "fashion-tfc",
                        "mnist-tfc",
                        args.target,
                        args.fashion_seeds or args.seeds,
                        args.fashion_trials,
                        0.7,
                        ov,
                        work,
                        args.jobs,
                    )
                )
                save()
    save()
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
