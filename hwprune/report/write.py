"""Writing reports: ``report.html`` + plots + ``summary.json`` for one run
(:func:`write_report`), ``compare.html`` + plot + ``compare.json`` for several
(:func:`compare_runs`).

Example:
    >>> write_report("runs/tfc-pynq-z2")                   # doctest: +SKIP
    PosixPath('runs/tfc-pynq-z2/report.html')
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from hwprune.atomic import atomic_write_text
from hwprune.errors import ConfigError, StorageError
from hwprune.report.html import render_compare, render_html
from hwprune.report.load import _read_json, load_run
from hwprune.report.plots import (
    feasible_with,
    perf_axis,
    plot_compare,
    plot_hypervolume,
    plot_layers,
    plot_pareto,
    plot_resources,
    save_figure,
)
from hwprune.report.rundata import COMPARE_SCHEMA, RunData
from hwprune.report.summary import build_summary, jsonable, trial_brief
from hwprune.report.tables import pareto_front

log = logging.getLogger(__name__)


def writable_dir(path: Path) -> Path:
    """``path`` created if needed; :class:`StorageError`/:class:`ConfigError` with one line when
    it is a file or cannot be written."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"output path '{path}' is a file; pass a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot create output folder '{path}' ({exc.strerror}); pass a writable --out"
        ) from None
    if not os.access(path, os.W_OK):
        raise StorageError(f"output folder '{path}' is write-protected; pass a writable --out")
    return path


def _plots(run: RunData) -> list[tuple[str, Any, str]]:
    """``(stem, plot function, caption)`` of every plot of a report."""
    metric, _, _ = perf_axis(run)
    return [
        (
            "pareto",
            plot_pareto,
            "Pareto plot: validation accuracy vs " + ("frames/s" if metric == "fps" else "latency"),
        ),
        ("resources", plot_resources, "Accuracy vs LUT and vs BRAM18"),
        ("layers", plot_layers, "Cycles per layer of the chosen design"),
        ("hypervolume", plot_hypervolume, "Hypervolume over trials"),
    ]


def write_report(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    study_name: str | None = None,
    storage: str | None = None,
) -> Path:
    """Write ``report.html``, the plots (PNG + SVG) and ``summary.json``; return the HTML path.

    ``out_dir`` defaults to the run folder. ``study_name`` picks a study when the storage
    holds several; ``storage`` is the Optuna storage when the study is not in ``study.db`` of
    the run folder: any URL the search accepts (``postgresql://...``, ``journal:///...``,
    ``sqlite:///...``), shown with its password masked. Called by the search at its end and by
    ``hwprune report RUN_DIR``.

    Example:
        >>> write_report("runs/tfc-pynq-z2")                # doctest: +SKIP
        PosixPath('runs/tfc-pynq-z2/report.html')
    """
    run = load_run(run_dir, study_name, storage)
    out = writable_dir(Path(out_dir) if out_dir is not None else run.run_dir)
    existing = _read_json(run.run_dir / "summary.json")
    summary = build_summary(run, existing if isinstance(existing, Mapping) else None)
    section = summary["report"]
    images: dict[str, tuple[str, str]] = {}
    plots: dict[str, dict[str, str]] = {}
    try:
        for stem, fn, caption in _plots(run):
            fig = fn(run)
            if fig is None:
                continue
            b64, png, svg = save_figure(fig, out, stem)
            images[stem] = (b64, caption)
            plots[stem] = {"png": png.name, "svg": svg.name}
        section["files"] = {"report": "report.html", "plots": plots}
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
        page = out / "report.html"
        atomic_write_text(page, render_html(run, section, images))
    except PermissionError:
        raise StorageError(
            f"output folder '{out}' is write-protected; pass a writable --out"
        ) from None
    log.info("report written to %s", page)
    return page


def _run_label(run: RunData, used: set[str]) -> str:
    label = run.target_name if run.target_name != "?" else run.study_name
    if label in used:
        label = f"{label} ({run.run_dir.name})"
    used.add(label)
    return label


def _compare_front(run: RunData, metric: str) -> list:
    """The run's front in the (accuracy, metric) plane, whatever its own objectives were,
    sorted along the metric."""
    feas = feasible_with(run, metric)
    front = pareto_front(
        [replace(t, values=(t.accuracy, getattr(t, metric))) for t in feas],
        ["maximize", "maximize" if metric == "fps" else "minimize"],
    )
    front.sort(key=lambda t: getattr(t, metric))
    return front


def _compare_row(run: RunData, label: str, front: Sequence, metric: str) -> dict[str, Any]:
    feas = feasible_with(run, metric)
    best = max(feas, key=lambda t: t.accuracy or 0.0) if feas else None
    sign = 1 if metric == "fps" else -1
    fastest = max(feas, key=lambda t: getattr(t, metric) * sign) if feas else None
    ch = run.chosen
    return {
        "label": label,
        "run_dir": str(run.run_dir),
        "study": run.study_name,
        "target": run.target_name,
        "trials": len(run.trials),
        "feasible": len(feas),
        "front": [trial_brief(t) for t in front],
        "best_accuracy": trial_brief(best) if best else None,
        "fastest": trial_brief(fastest) if fastest else None,
        "chosen": trial_brief(ch) if ch else None,
    }


def compare_runs(run_dirs: Sequence[str | Path], out_dir: str | Path = "compare") -> Path:
    """Fronts of several runs on one plot and one table (``compare.html``, PNG/SVG, JSON).

    Throughput is the common axis (FPGA and GPU targets alike); runs are labelled by target.

    Example:
        >>> compare_runs(["runs/tfc-pynq-z2", "runs/tfc-zcu104"], "cmp")  # doctest: +SKIP
        PosixPath('cmp/compare.html')
    """
    if not run_dirs:
        raise ConfigError("no run folders given; pass one or more RUN_DIR to compare")
    runs = [load_run(d) for d in run_dirs]
    out = writable_dir(Path(out_dir))
    used: set[str] = set()
    labels = [_run_label(r, used) for r in runs]
    lat_only = all(not any(t.fps is not None for t in r.trials) for r in runs)
    metric = "latency_us" if lat_only else "fps"
    fronts = [_compare_front(run, metric) for run in runs]
    b64, _, _ = save_figure(plot_compare(runs, labels, fronts, metric), out, "compare")
    rows = [
        _compare_row(run, label, front, metric)
        for run, label, front in zip(runs, labels, fronts, strict=True)
    ]
    doc = jsonable(
        {
            "schema": COMPARE_SCHEMA,
            "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "metric": metric,
            "runs": rows,
        }
    )
    (out / "compare.json").write_text(json.dumps(doc, indent=2) + "\n")
    page = out / "compare.html"
    page.write_text(render_compare(doc, b64, len(runs)), encoding="utf-8")
    return page
