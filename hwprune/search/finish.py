"""The end of a search: the front and the chosen design (:func:`finalize`), its final
fine-tune, ``best/`` (weights, design, estimate, export), ``pareto.json``, ``summary.json``, the
report and the printed front (:func:`print_front`).

Example:
    >>> _rebase({"dir": "/tmp/x/.tmp-best"}, Path("/tmp/x/.tmp-best"), Path("/tmp/x/best"))
    {'dir': '/tmp/x/best'}
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwprune.errors import HwpruneError, InfeasibleError
from hwprune.pareto import Selection, choose, hypervolume
from hwprune.recipe import OBJECTIVES, Recipe
from hwprune.runfolder import RunFolder, atomic_write_json
from hwprune.search.pricing import _estimate_json, device_fraction, price, resource_cost
from hwprune.search.record import STATUS_INFEASIBLE, trial_counts
from hwprune.search.results import FrontPoint, SearchResult, pareto_front
from hwprune.search.space import Candidate  # noqa: F401  (the doctest)
from hwprune.search.study import _mask
from hwprune.search.workbench import Workbench, prune_candidate, train_candidate
from hwprune.targets import RESOURCES, FpgaTarget, Target

if TYPE_CHECKING:  # pragma: no cover
    import optuna

logger = logging.getLogger("hwprune.search")


def finalize(
    study: optuna.Study,
    wb: Workbench,
    run: RunFolder,
    storage_url: str,
    *,
    export: bool = True,
    rtl: str = "auto",
    console: Any = None,
    timings: dict[str, float] | None = None,
    t_start: float | None = None,
) -> SearchResult:
    """Front, selection, final fine-tune, ``best/``, ``pareto.json`` and ``summary.json``.

    ``summary.json`` (schema 1) holds: ``study``, ``storage`` (password hidden), ``run_dir``,
    ``recipe`` (resolved), ``target``, ``objectives``/``directions`` (the study's), ``trials``
    (counts by status word: total, complete, feasible, infeasible, stopped, failed, cut_off,
    surplus, running, waiting; see :func:`trial_counts`), ``parent`` (val/test accuracy,
    widths), ``front`` (one entry per Pareto design: trial, accuracy, values, channels, wbits,
    abits, hw, design), ``hypervolume`` (:func:`front_hypervolume`: accuracy x frames/s x
    (1 - device fraction) per resource; null with a latency objective), ``selection`` (rule,
    explanation, trial, eligible_trials), ``chosen`` (trial, rule, channels, wbits, abits,
    search_val_accuracy, values, hw (= ``best/estimate.json``), search_hw (as priced during
    the search), final_epochs, val_accuracy, test_accuracy, val_curve, model), ``export``
    (null when not run; else ok, dir, bit_exact, csim, timings_s or error) and ``timings_s``
    (parent_s, trials_s, final_s, export_s, total_s).

    ``best/`` is assembled in a fresh folder and replaces the old one in one step
    (:func:`hwprune.atomic.atomic_dir`): a crash while it is written leaves the previous
    ``best/`` whole, and no file of an earlier design or export (a ``csim.log``, ``hls/``)
    survives next to the new weights.
    """
    r = wb.recipe
    objectives = study_objectives(study, r)
    dirs = [OBJECTIVES[o] for o in objectives]
    front = pareto_front(study, objectives)
    counts = trial_counts(study)
    timings = dict(timings or {})
    atomic_write_json(
        run.pareto_path,
        {
            "study": study.study_name,
            "objectives": objectives,
            "directions": dirs,
            "front": [p.to_json() for p in front],
        },
    )
    chosen: FrontPoint | None = None
    best_hw: dict[str, Any] = {}
    selection: Selection | None = None
    final: dict[str, Any] = {}
    export_info: dict[str, Any] | None = None
    reused = None
    if front:
        selection = select_design(front, objectives, r)
        chosen = front[selection.index]
        reused = _reusable_best(run, wb, chosen, export)
        if reused is not None:  # a re-run of a finished search: nothing to fine-tune again
            final, export_info, best_hw = reused
            logger.info("best/ already holds trial %d, fine-tuned; kept as it is", chosen.trial)
    if chosen is not None and reused is None:
        final, export_info, best_hw = _finish_chosen(wb, chosen, run, export, rtl, timings)
    hv = front_hypervolume(front, objectives, wb.target)
    if t_start is not None:
        timings["total_s"] = time.perf_counter() - t_start
    summary = _summary(study, wb, run, storage_url, front, chosen, final, counts, hv)
    summary["objectives"], summary["directions"] = objectives, dirs
    summary["selection"] = None if selection is None else _selection_json(selection, front)
    if summary["chosen"] is not None:  # the numbers of best/estimate.json; the search's too
        summary["chosen"]["search_hw"] = summary["chosen"]["hw"]
        summary["chosen"]["hw"] = best_hw
    summary["export"] = export_info
    summary["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    atomic_write_json(run.summary_path, summary)
    _write_report(run, storage_url)
    if chosen is None:  # everything is stored; say why nothing qualified
        raise InfeasibleError(_why_nothing_feasible(study, wb, run))
    if console is not None:
        print_front(front, objectives, chosen, console)
    return SearchResult(
        run.root,
        study.study_name,
        _mask(storage_url),
        tuple(front),
        chosen,
        final.get("val_accuracy"),
        final.get("test_accuracy"),
        summary,
    )


def _finish_chosen(
    wb: Workbench,
    chosen: FrontPoint,
    run: RunFolder,
    export: bool,
    rtl: str,
    timings: dict[str, float],
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
    """The chosen design's final fine-tune, ``best/`` and (with ``export``) its export; returns
    the fine-tune's numbers, the export's summary entry and the hardware numbers of
    ``best/estimate.json``. ``timings`` gets ``final_s`` and ``export_s``."""
    from hwprune.atomic import atomic_dir

    export_info: dict[str, Any] | None = None
    t0 = time.perf_counter()
    final, qmodel = _final_finetune(wb, chosen, run)
    timings["final_s"] = time.perf_counter() - t0
    # only what hwprune writes into best/ is replaced; a user's own files there are kept
    with atomic_dir(run.best_dir, owned=_best_entries()) as folder:
        _write_best(folder, wb, chosen, qmodel, final)
        if export:
            t0 = time.perf_counter()
            export_info = _export_best(wb, chosen, qmodel, folder, run.best_dir, rtl)
            timings["export_s"] = time.perf_counter() - t0
        best_hw = _best_hw(folder / "estimate.json", chosen.hw, wb.target)
    return final, export_info, best_hw


def _best_hw(path: Path, search_hw: Mapping[str, Any], target: Target) -> dict[str, Any]:
    """The hardware numbers of ``best/estimate.json`` (the export's, priced on the exported
    integer graph, whose accumulators are sized from the trained weights; else the search's
    design priced again), in the search's ``hw`` keys: one source for the chosen design.

    Example:
        >>> from hwprune.targets import load_target
        >>> _best_hw(Path("/nonexistent.json"), {"lut": 5.0}, load_target("pynq-z2"))
        {'lut': 5.0}
    """
    import json

    try:
        est = json.loads(path.read_text())
    except (OSError, ValueError):
        return dict(search_hw)
    if not isinstance(est, Mapping) or "lut" not in est:
        return dict(search_hw)
    hw = dict(search_hw)
    for key in ("fps", "latency_us", "lut", "ff", "bram18", "dsp"):
        if isinstance(est.get(key), (int, float)):
            hw[key] = float(est[key])
    if "fits" in est:
        hw["fits"] = bool(est["fits"])
    hw["util"] = device_fraction(hw, target)
    return hw


def study_objectives(study: optuna.Study, recipe: Recipe) -> list[str]:
    """The objectives the study was created with (its trials' values are in that order).

    Example:
        >>> import optuna
        >>> s = optuna.create_study(directions=["maximize", "maximize"])
        >>> s.set_user_attr("objectives", ["accuracy", "fps"])
        >>> study_objectives(s, Recipe())
        ['accuracy', 'fps']
    """
    stored = study.user_attrs.get("objectives")
    if isinstance(stored, list) and stored and len(stored) == len(study.directions):
        return [str(o) for o in stored]
    return list(recipe.objectives)


def front_hypervolume(
    front: Sequence[FrontPoint], objectives: Sequence[str], target: Target
) -> float | None:
    """Hypervolume of the front from the worst corner: accuracy x frames/s x (1 - device
    fraction) for each resource objective (LUT, FF, BRAM18, DSP as a fraction of the target's,
    ``util`` as is); None for objectives without a natural worst value (latency).

    Example:
        >>> p = FrontPoint(0, 0.9, {"accuracy": 0.9, "fps": 1e6, "lut": 13300.0},
        ...                Candidate((8,), (2, 2), (2, None)), {}, {})
        >>> from hwprune.targets import load_target
        >>> round(front_hypervolume([p], ["accuracy", "fps", "lut"], load_target("pynq-z2")))
        675000
    """
    if not front or any(o not in ("accuracy", "fps", "util", *RESOURCES) for o in objectives):
        return None
    capacity = target.capacity() if isinstance(target, FpgaTarget) else {}

    def gain(p: FrontPoint, o: str) -> float:
        v = float(p.values[o])
        if o in RESOURCES:
            avail = float(capacity.get(o, 0) or 0)
            return 1.0 - v / avail if avail > 0 else 1.0
        return 1.0 - v if o == "util" else v

    pts = [[gain(p, o) for o in objectives] for p in front]
    return hypervolume(pts, ["maximize"] * len(objectives), [0.0] * len(objectives))


def select_design(
    front: Sequence[FrontPoint], objectives: Sequence[str], recipe: Recipe
) -> Selection:
    """The front design the recipe's rule (``study.select``) picks, with why.

    Ties are broken by resources; ``min-resources`` ranks by the device fraction of the binding
    resource, then LUTs (:func:`hwprune.pareto.choose`).
    """
    s = recipe.study
    cheap_first = [(float(p.hw.get("util", 0.0) or 0.0), *resource_cost(p.hw)) for p in front]
    return choose(
        [[p.values[o] for o in objectives] for p in front],
        [OBJECTIVES[o] for o in objectives],
        s.select,
        objectives,
        costs=cheap_first if s.select == "min-resources" else [resource_cost(p.hw) for p in front],
        fps=[float(p.hw.get("fps", 0.0) or 0.0) for p in front],
        fps_within=s.select_fps_within,
        min_accuracy=s.select_min_accuracy,
        accuracy_drop=s.select_accuracy_drop,
    )


def _selection_json(selection: Selection, front: Sequence[FrontPoint]) -> dict[str, Any]:
    """``summary.json``'s ``selection``: the rule, why, and the trials it chose among."""
    return {
        "rule": selection.rule,
        "explanation": selection.explanation,
        "trial": front[selection.index].trial,
        "eligible_trials": [front[i].trial for i in selection.eligible],
    }


def _summary(
    study: optuna.Study,
    wb: Workbench,
    run: RunFolder,
    storage_url: str,
    front: Sequence[FrontPoint],
    chosen: FrontPoint | None,
    final: Mapping[str, Any],
    counts: Mapping[str, int],
    hv: float | None,
) -> dict[str, Any]:
    """``summary.json`` without its ``export`` and ``timings_s`` (see :func:`finalize`)."""
    r = wb.recipe
    objectives = list(r.objectives)
    dirs = [OBJECTIVES[o] for o in objectives]
    summary = {
        "schema": 1,
        "study": study.study_name,
        "storage": _mask(storage_url),
        "run_dir": str(run.root),
        "recipe": r.to_dict(),
        "target": wb.target.name,
        "objectives": objectives,
        "directions": dirs,
        "trials": counts,
        "parent": {
            "val_accuracy": wb.parent_val_acc,
            "test_accuracy": wb.parent_test_acc,
            "widths": list(wb.space.parent_widths),
        },
        "front": [p.to_json() for p in front],
        "hypervolume": hv,
        "chosen": None
        if chosen is None
        else {
            "trial": chosen.trial,
            "rule": r.study.select,
            **chosen.candidate.to_json(),
            "search_val_accuracy": chosen.accuracy,
            "values": chosen.values,
            "hw": chosen.hw,
            **final,
        },
        "export": None,
        "timings_s": {},
    }
    return summary


def _why_nothing_feasible(study: optuna.Study, wb: Workbench, run: RunFolder) -> str:
    """One sentence for a search whose front is empty: what was violated and what to do."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
    infeasible = [t for t in trials if t.user_attrs.get("status") == STATUS_INFEASIBLE]
    target = wb.target.name
    kept = f"the {len(trials)} trial(s) are kept in {run.root}"
    if not infeasible:
        return (
            f"no trial produced a trained design that meets the constraints on {target} "
            f"({len(trials)} finished or failed; see their fail_reason in the study); "
            f"relax --min-accuracy or add --trials; {kept}"
        )
    worst: dict[str, int] = {}
    closest: dict[str, float] = {}
    for t in infeasible:
        for key, value in t.user_attrs.get("constraints", {}).items():
            if value > 0:
                worst[key] = worst.get(key, 0) + 1
                closest[key] = min(closest.get(key, math.inf), float(value))
    key = max(worst, key=worst.get) if worst else "fits"
    binding = {t.user_attrs.get("hw", {}).get("binding") for t in infeasible} - {None}
    what = (
        f"the design does not fit ({', '.join(sorted(binding))} binds)"
        if key == "fits" and binding
        else f"{key} is exceeded"
    )
    advice = (
        (
            "use a larger target or offer fewer channels / bits (--wbits, --abits, "
            "--set space.min_channels=...)"
        )
        if key == "fits"
        else f"relax --{key.replace('_', '-')}"
    )
    excess = closest.get(key, 0.0)  # normalised: (value - limit) / limit
    by = f"{excess + 1:.0f}x the limit" if excess >= 1 else f"{excess:.0%} over the limit"
    return (
        f"no candidate met the constraints on {target}: in {worst.get(key, 0)} of "
        f"{len(infeasible)} infeasible trial(s) {what}, the closest at {by}; {advice}; "
        f"{kept}"
    )


def _final_finetune(wb: Workbench, chosen: FrontPoint, run: RunFolder) -> tuple[dict, Any]:
    """Longer fine-tune of the chosen design: (accuracy record, fine-tuned model)."""
    from hwprune.compress import train as T

    r = wb.recipe
    epochs = r.budget.final_epochs or r.budget.epochs
    qmodel, val_acc, curve = train_candidate(wb, chosen.candidate, epochs, seed=r.final_seed())
    test_acc = float(T.evaluate(qmodel, wb.data.test))
    info = {
        "final_epochs": epochs,
        "val_accuracy": val_acc,
        "test_accuracy": test_acc,
        "val_curve": curve,
        "model": str(run.best_dir / "model.pt"),
    }
    return info, qmodel


#: what a search writes into best/ (besides an export's entries); anything else there is a
#: user's and survives a new best/
_BEST_FILES = ("model.pt", "design.json", "candidate.json", "estimate.json", "accuracy.json")


def _best_entries() -> set[str]:
    """Names the search may write into ``best/`` (weights, design, FPGA or GPU export)."""
    from hwprune.export.core import EXPORT_ENTRIES
    from hwprune.export.gpu import FP16_FILE, FP32_FILE, QCDQ_FILE

    gpu = {QCDQ_FILE, FP16_FILE, FP32_FILE, "latency.json", "latency.txt", "onnx_check.json"}
    return {*_BEST_FILES, *EXPORT_ENTRIES, *gpu}


def _reusable_best(
    run: RunFolder, wb: Workbench, chosen: FrontPoint, export: bool
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]] | None:
    """(final, export record, best hw) of a ``best/`` that already holds ``chosen`` fine-tuned
    by this recipe (and exported, when ``export``), else ``None``.

    A re-run of a finished search (same recipe, same chosen trial) keeps ``best/`` instead of
    fine-tuning and exporting it again; anything missing or different redoes it.
    """
    import json

    best = run.best_dir
    try:
        prev = json.loads(run.summary_path.read_text())
        cand = json.loads((best / "candidate.json").read_text())
        final = json.loads((best / "accuracy.json").read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not all((best / n).is_file() for n in _BEST_FILES) or not isinstance(prev, dict):
        return None
    same = (
        cand == json.loads(json.dumps(chosen.candidate.to_json()))
        and prev.get("recipe") == json.loads(json.dumps(wb.recipe.to_dict()))
        and (prev.get("chosen") or {}).get("trial") == chosen.trial
        and isinstance(final, dict)
    )
    exp = prev.get("export")
    if not same or (export and not (isinstance(exp, dict) and exp.get("ok"))):
        return None
    if export and not _export_still_there(best, exp):
        return None
    hw = _best_hw(best / "estimate.json", chosen.hw, wb.target)
    return final, (exp if export else None), hw


def _export_still_there(best: Path, exp: Mapping[str, Any]) -> bool:
    """Whether the export recorded in ``exp`` is still whole in ``best`` (nobody deleted it)."""
    files = exp.get("files")
    if isinstance(files, Mapping):  # GPU bundle: the files it listed
        paths = [Path(v) for v in files.values() if isinstance(v, str)]
        return all(p.exists() for p in paths)
    return all((best / n).exists() for n in ("model.qonnx.onnx", "dataflow.json", "hls"))


def _write_best(
    folder: Path, wb: Workbench, chosen: FrontPoint, qmodel: Any, info: Mapping[str, Any]
) -> None:
    """The chosen design's weights, design, candidate, estimate and accuracy into ``folder``
    (the fresh folder that becomes ``best/``)."""
    from hwprune.atomic import atomic_torch_save

    r = wb.recipe
    atomic_torch_save(qmodel.state_dict(), folder / "model.pt")  # flushed to disk, like the rest
    design = dict(chosen.design)
    design["name"] = f"{r.name}-best"
    atomic_write_json(folder / "design.json", design)
    atomic_write_json(folder / "candidate.json", chosen.candidate.to_json())
    est, _, _ = price(chosen.design, wb.target, r)
    atomic_write_json(folder / "estimate.json", _estimate_json(est))
    atomic_write_json(folder / "accuracy.json", dict(info))


def _rebase(obj: Any, old: Path, new: Path) -> Any:
    """``obj`` (JSON-able) with the folder ``old`` named ``new`` in every string."""
    if isinstance(obj, str):
        return obj.replace(str(old), str(new))
    if isinstance(obj, Mapping):
        return {k: _rebase(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rebase(v, old, new) for v in obj]
    return obj


def _export_best(
    wb: Workbench, chosen: FrontPoint, qmodel: Any, folder: Path, best: Path, rtl: str = "auto"
) -> dict | None:
    """Export the chosen design into ``folder``, the fresh folder that becomes ``best``.

    FPGA targets: QONNX, the integer dataflow graph, the HLS project checked bit-exact in g++
    C simulation, the FINN hand-off and the RTL at level ``rtl`` (``hwprune export --rtl``;
    "auto" as the command's default: see :func:`hwprune.export.rtl.flow.resolve_level`), with the
    *same folding* the search priced. GPU targets:
    ONNX QCDQ (int8) / float16 files checked in onnxruntime, and the latency report. An export
    failure is recorded in ``summary.json`` and logged; the finished search is kept. Paths in
    the record name ``best``.
    """
    import numpy as np

    try:
        if wb.is_gpu:
            from hwprune.export.gpu import export_gpu_bundle

            est, _, _ = price(chosen.design, wb.target, wb.recipe)
            pruned = prune_candidate(wb, chosen.candidate)
            files = export_gpu_bundle(
                folder,
                qmodel,
                pruned,
                wb.data.input_shape,
                estimate=est,
                check=(wb.data.test.x, wb.data.test.y),
            )
            return {"ok": True, "dir": str(best), "files": _rebase(_jsonable(files), folder, best)}
        from hwprune.export import export_model
        from hwprune.export.run import design_folding

        folding = design_folding(dict(chosen.design))  # the folding the search priced
        qmodel.eval()
        res = export_model(
            qmodel,
            wb.target,
            folding=folding or "auto",
            out_dir=folder,
            golden_inputs=np.asarray(wb.data.test.x[:100]),
            input_shape=tuple(wb.data.input_shape),
            n_golden=100,
            replace=False,  # ``folder`` is fresh; it replaces best/ as a whole afterwards
            name=best.name,  # the design is "best", not the temporary folder's name
            rtl=rtl,
        )
        csim = getattr(res, "csim", None)
        return {
            "ok": True,
            "dir": str(best),
            "bit_exact": bool(res.bit_exact),
            "csim": None if csim is None else bool(csim.bit_exact),
            "timings_s": {k: round(float(v), 3) for k, v in res.timings.items()},
        }
    except HwpruneError as exc:
        error = _rebase(str(exc), folder, best)
        logger.warning("export of the chosen design failed: %s", error)
        return {"ok": False, "error": error}
    except Exception as exc:  # noqa: BLE001 - keep the finished search even if export breaks
        error = _rebase(f"{type(exc).__name__}: {exc}", folder, best)
        logger.warning("export of the chosen design failed: %s", error)
        return {"ok": False, "error": error}


def _jsonable(obj: Any) -> Any:
    import json

    try:
        json.dumps(obj)
        return obj
    except TypeError:
        if hasattr(obj, "to_json"):
            v = obj.to_json()
            return json.loads(v) if isinstance(v, str) else v
        return str(obj)


def _write_report(run: RunFolder, storage_url: str) -> None:
    from hwprune.report import write_report

    try:
        write_report(run.root, storage=storage_url)
    except Exception as exc:  # noqa: BLE001 - a report problem must not lose the search
        logger.warning("could not write the report: %s", exc)


def print_front(
    front: Sequence[FrontPoint],
    objectives: Sequence[str],
    chosen: FrontPoint | None,
    console: Any,
) -> None:
    """Print the Pareto front as a rich table (the chosen design marked)."""
    from rich.table import Table

    table = Table(title="Pareto front (feasible, trained designs)")
    for col in (
        "",
        "trial",
        "val acc",
        "fps",
        "latency us",
        "LUT",
        "BRAM18",
        "DSP",
        "device",
        "channels",
        "wbits",
        "abits",
    ):
        table.add_column(col, justify="right")
    for p in front:
        hw = p.hw
        table.add_row(
            "*" if chosen is not None and p.trial == chosen.trial else "",
            str(p.trial),
            f"{p.accuracy:.4f}",
            f"{hw.get('fps', 0):,.0f}",
            f"{hw.get('latency_us', 0):.2f}",
            f"{hw.get('lut', 0):,.0f}",
            f"{hw.get('bram18', 0):g}",
            f"{hw.get('dsp', 0):g}",
            f"{float(hw.get('util', 0.0) or 0.0):.0%}",
            ",".join(map(str, p.candidate.channels)),
            ",".join(map(str, p.candidate.wbits)),
            ",".join("-" if a is None else str(a) for a in p.candidate.abits),
        )
    console.print(table)
