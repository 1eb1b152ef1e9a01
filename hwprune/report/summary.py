"""``summary.json``: the search's summary (or one derived from the study when the search wrote
none) with the report's ``report`` section (schema: ``docs/summary_schema.md``).

Example:
    >>> s = build_summary(load_run("runs/demo"))          # doctest: +SKIP
    >>> s["schema"], s["report"]["schema"]                # doctest: +SKIP
    (1, 'hwprune.report/1')
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hwprune.report.rundata import REPORT_SCHEMA, SUMMARY_SCHEMA, RunData, TrialView, _find, _num
from hwprune.report.tables import (
    binding_resource,
    design_size,
    hypervolume_history,
    layer_table,
    most_used_resource,
    parent_design,
)
from hwprune.storage import redact_url


def trial_brief(t: TrialView) -> dict[str, Any]:
    """A trial's headline numbers (``summary.json``'s front and chosen entries)."""
    return {
        "trial": t.number,
        "status": t.status,
        "values": list(t.values) if t.values is not None else None,
        "accuracy": t.accuracy,
        "test_accuracy": t.test_accuracy,
        "fps": t.fps,
        "latency_us": t.latency_us,
        "lut": t.lut,
        "ff": t.ff,
        "bram18": t.bram18,
        "dsp": t.dsp,
    }


def jsonable(obj: Any) -> Any:
    """``obj`` with every value JSON can hold (non-finite floats become ``None``).

    Example:
        >>> jsonable({"a": (1, float("inf")), "p": Path("x")})
        {'a': [1, None], 'p': 'x'}
    """
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def status_counts(run: RunData) -> dict[str, int]:
    """Trials per status word: the search's own count
    (:func:`hwprune.search.record.trial_counts`, taken when the run was loaded), so
    ``summary.json``'s ``trials`` and the report's agree by construction."""
    if run.counts:
        return dict(run.counts)
    from hwprune.search.record import STATUSES

    counts = {"total": len(run.trials), "complete": 0, **{k: 0 for k in STATUSES}}
    for t in run.trials:
        counts[t.status] += 1
        counts["complete"] += t.status in ("feasible", "infeasible", "stopped")
    return counts


def _chosen_doc(run: RunData) -> dict[str, Any] | None:
    chosen = run.chosen
    if chosen is None:
        return None
    table = layer_table(chosen, run.parent)
    size = design_size(chosen.design)
    most = most_used_resource(run, chosen)
    return {
        **trial_brief(chosen),
        "binding": binding_resource(run, chosen),
        "most_used": {"resource": most[0], "share": most[1]} if most else None,
        "bottleneck": (
            table["rows"][table["bottleneck"]]["name"] if table["bottleneck"] is not None else None
        ),
        "params": size[0] if size else None,
        "weight_bits": size[1] if size else None,
        "final_val_accuracy": _num((run.chosen_info or {}).get("val_accuracy")),
        "rule": (run.chosen_info or {}).get("rule"),
        "design": chosen.design,
        "layers": table["rows"],
    }


def _parent_doc(run: RunData) -> dict[str, Any] | None:
    if not run.parent:
        return None
    psize = design_size(parent_design(run))
    return {
        "accuracy": _find(run.parent, "accuracy"),
        "test_accuracy": _find(run.parent, "test_accuracy"),
        "params": _find(run.parent, "params") or (psize[0] if psize else None),
        "weight_bits": _find(run.parent, "weight_bits") or (psize[1] if psize else None),
        "fps": _find(run.parent, "fps"),
    }


def _comparison(chosen: Mapping[str, Any] | None, parent: Mapping[str, Any] | None) -> Any:
    if chosen is None or parent is None:
        return None
    comparison = {}
    acc_c, acc_p = chosen["accuracy"], parent["accuracy"]
    if acc_c is not None and acc_p is not None:
        comparison["accuracy_delta"] = acc_c - acc_p
    for key in ("params", "weight_bits"):
        c, p = chosen[key], parent[key]
        if c is not None and p:
            comparison[f"{key}_ratio"] = c / p
    return comparison


def build_report_section(run: RunData) -> dict[str, Any]:
    """The ``report`` section of ``summary.json`` (schema: ``docs/summary_schema.md``).

    Example:
        >>> s = build_report_section(load_run("runs/demo"))  # doctest: +SKIP
        >>> s["schema"]                                      # doctest: +SKIP
        'hwprune.report/1'
    """
    by_number = {t.number: t for t in run.trials}
    numbers, hv, hv_info = hypervolume_history(run)
    chosen_doc = _chosen_doc(run)
    parent_doc = _parent_doc(run)
    storage = redact_url(run.storage)
    doc = {
        "schema": REPORT_SCHEMA,
        "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "run_dir": str(run.run_dir),
        "study": {
            "name": run.study_name,
            "storage": storage,
            "objectives": list(run.objective_names),
            "directions": list(run.directions),
            "dashboard": f"optuna-dashboard {storage}",
        },
        "recipe": run.recipe,
        "target": run.target,
        "trials": status_counts(run),
        "pareto": [trial_brief(by_number[n]) for n in run.pareto_numbers if n in by_number],
        "chosen": chosen_doc,
        "parent": parent_doc,
        "comparison": _comparison(chosen_doc, parent_doc),
        "hypervolume": {**hv_info, "trials": numbers, "values": hv},
        "export": run.export,
    }
    return jsonable(doc)


def _front_entry(run: RunData, t: TrialView) -> dict[str, Any]:
    return {
        "trial": t.number,
        "accuracy": t.accuracy,
        "values": dict(zip(run.objective_names, t.values or (), strict=False)),
        "hw": {k: getattr(t, k) for k in ("fps", "latency_us", "lut", "ff", "bram18", "dsp")},
        "design": t.design,
    }


def _base_summary(run: RunData) -> dict[str, Any]:
    """A ``summary.json`` in the search's shape, for runs whose search did not write one
    (cut off before its end, or a storage filled by workers only)."""
    by_number = {t.number: t for t in run.trials}
    parent = run.parent or {}
    ch = run.chosen
    return {
        "schema": SUMMARY_SCHEMA,
        "study": run.study_name,
        "storage": redact_url(run.storage),
        "run_dir": str(run.run_dir),
        "recipe": run.recipe,
        "target": run.target_name,
        "objectives": list(run.objective_names),
        "directions": list(run.directions),
        "trials": status_counts(run),
        "parent": {
            "val_accuracy": _find(parent, "accuracy"),
            "test_accuracy": _find(parent, "test_accuracy"),
            "widths": parent.get("widths"),
        }
        if parent
        else None,
        "front": [_front_entry(run, by_number[n]) for n in run.pareto_numbers if n in by_number],
        "hypervolume": None,
        "chosen": None
        if ch is None
        else {
            "trial": ch.number,
            "values": dict(zip(run.objective_names, ch.values or (), strict=False)),
            "search_val_accuracy": ch.accuracy,
            "test_accuracy": ch.test_accuracy,
        },
        "export": run.export,
    }


def build_summary(run: RunData, existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``summary.json`` document: the search's summary (``existing``, or one derived from
    the study when the search wrote none) with the report's ``report`` section added. A storage
    URL in ``existing`` is shown with its password masked, whoever wrote it.

    Example:
        >>> s = build_summary(load_run("runs/demo"))      # doctest: +SKIP
        >>> s["schema"], s["report"]["schema"]            # doctest: +SKIP
        (1, 'hwprune.report/1')
    """
    base = dict(existing) if existing else _base_summary(run)
    if isinstance(base.get("storage"), str):
        base["storage"] = redact_url(base["storage"])
    base["report"] = build_report_section(run)
    return jsonable(base)
