"""The report's plots: matplotlib ``Figure`` objects (no pyplot state), saved as PNG + SVG.

Example:
    >>> fig = plot_pareto(load_run("runs/demo"))           # doctest: +SKIP
    >>> save_figure(fig, Path("out"), "pareto")[1]         # doctest: +SKIP
    PosixPath('out/pareto.png')
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hwprune.report.rundata import RESOURCE_LABEL, RunData, TrialView, _find, _num
from hwprune.report.tables import budget, hypervolume_history, layer_table

_STYLE = {
    "feasible": {"marker": "o", "color": "#4C72B0", "label": "feasible trial"},
    "stopped": {"marker": "^", "color": "#DD8452", "label": "early-stopped trial"},
    "infeasible": {"marker": "x", "color": "#9a9a9a", "label": "infeasible (over budget)"},
}
#: one colour per run in a comparison
COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3")
_FRONT = "#C44E52"
_CHOSEN = "#D62728"


def perf_axis(run: RunData) -> tuple[str, str, bool]:
    """``(metric, axis label, larger is better)`` for the x axis of the Pareto plot."""
    names = [n.lower() for n in run.objective_names]
    has_fps = any(t.fps is not None for t in run.trials)
    has_lat = any(t.latency_us is not None for t in run.trials)
    if any("latency" in n for n in names) and has_lat or not has_fps and has_lat:
        return "latency_us", "latency (µs, log scale)", False
    return "fps", "throughput (frames/s, log scale)", True


def new_figure(width: float = 6.4, height: float = 4.4) -> Any:
    """An empty matplotlib ``Figure`` with a constrained layout."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _scatter_by_status(ax: Any, run: RunData, metric: str, size: float) -> None:
    for status, style in _STYLE.items():
        pts = [
            (getattr(t, metric), t.accuracy)
            for t in run.trials
            if t.status == status and getattr(t, metric) is not None and t.accuracy is not None
        ]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.scatter(xs, [100 * y for y in ys], s=size, alpha=0.75, **style)


def _draw_front(ax: Any, run: RunData, metric: str, larger: bool) -> None:
    by_number = {t.number: t for t in run.trials}
    front = [
        by_number[n]
        for n in run.pareto_numbers
        if n in by_number
        and getattr(by_number[n], metric) is not None
        and by_number[n].accuracy is not None
    ]
    if not front:
        return
    front.sort(key=lambda t: getattr(t, metric))
    xs = [getattr(t, metric) for t in front]
    ys = [100 * (t.accuracy or 0.0) for t in front]
    ax.step(
        xs, ys, where="post" if not larger else "pre", color=_FRONT, lw=1.2, alpha=0.8, zorder=2
    )
    ax.scatter(
        xs,
        ys,
        s=46,
        facecolors="none",
        edgecolors=_FRONT,
        linewidths=1.4,
        label="Pareto front",
        zorder=4,
    )


def _draw_chosen(
    ax: Any, ch: TrialView | None, metric: str, size: float, label: str, zorder: int
) -> None:
    if ch is not None and getattr(ch, metric) is not None and ch.accuracy is not None:
        ax.scatter(
            [getattr(ch, metric)],
            [100 * ch.accuracy],
            marker="*",
            s=size,
            color=_CHOSEN,
            edgecolors="black",
            linewidths=0.8,
            zorder=zorder,
            label=label,
        )


def _draw_parent(ax: Any, run: RunData, metric: str) -> None:
    if not run.parent:
        return
    pacc = _find(run.parent, "accuracy")
    px = _find(run.parent, metric)
    if pacc is not None and px is not None:
        ax.scatter(
            [px], [100 * pacc], marker="D", s=70, color="black", zorder=6, label="float parent"
        )
    elif pacc is not None:
        ax.axhline(
            100 * pacc, color="black", ls="--", lw=1.0, label=f"float parent ({100 * pacc:.2f} %)"
        )


def plot_pareto(run: RunData) -> Any:
    """Accuracy vs throughput (or latency): trials by status, the front, chosen and parent.

    Example:
        >>> fig = plot_pareto(load_run("runs/demo"))       # doctest: +SKIP
    """
    metric, xlabel, larger = perf_axis(run)
    fig = new_figure()
    ax = fig.add_subplot()
    _scatter_by_status(ax, run, metric, 28)
    rug = _untrained_rug(ax, run, metric)
    _draw_front(ax, run, metric, larger)
    ch = run.chosen
    _draw_chosen(ax, ch, metric, 260, f"chosen design (trial {ch.number})" if ch else "", 6)
    _draw_parent(ax, run, metric)
    if metric == "fps":
        _budget_line(ax, run, "fps", vertical=True)
    ax.set_ylabel("validation accuracy (%)")
    xs = [getattr(t, metric) for t in run.trials if getattr(t, metric)]
    if xs and min(xs) > 0 and max(xs) / min(xs) > 3:  # half a decade or more
        ax.set_xscale("log")
    else:
        xlabel = xlabel.replace(", log scale", "")
    ax.set_xlabel(xlabel)
    ax.set_title(f"Pareto front: {run.study_name} on {run.target_name}")
    ax.grid(True, which="both", alpha=0.3)
    if rug:
        _room_below(ax)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best", framealpha=0.85)
    return fig


def _untrained_rug(ax: Any, run: RunData, metric: str) -> bool:
    """Infeasible trials were never trained (no accuracy): mark their x position as a rug of
    crosses along the bottom of the axes, outside the accuracy scale."""
    xs = [
        getattr(t, metric)
        for t in run.trials
        if t.status == "infeasible" and t.accuracy is None and getattr(t, metric)
    ]
    if not xs:
        return False
    labelled = any(
        t.status == "infeasible" and t.accuracy is not None and getattr(t, metric) is not None
        for t in run.trials
    )
    ax.scatter(
        xs,
        [0.03] * len(xs),
        transform=ax.get_xaxis_transform(),
        marker="x",
        color=_STYLE["infeasible"]["color"],
        s=28,
        zorder=3,
        label=None if labelled else "infeasible (over budget, not trained)",
    )
    lo, hi = min(xs), max(xs)
    xlo, xhi = ax.dataLim.intervalx if ax.dataLim.width > 0 else (lo, hi)
    y0 = ax.dataLim.y0 if ax.dataLim.height > 0 else 0.0
    ax.update_datalim([(min(lo, xlo), y0), (max(hi, xhi), y0)], updatey=False)
    return True


def _room_below(ax: Any) -> None:
    """Lower the bottom of the accuracy axis so the rug of untrained trials sits clear of
    the lowest trained point."""
    ax.autoscale_view()
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo - 0.08 * (hi - lo), hi)


def _budget_line(ax: Any, run: RunData, resource: str, vertical: bool = True) -> None:
    if resource == "fps":
        cons = (run.recipe or {}).get("constraints")
        cap = _num(cons.get("min_fps")) if isinstance(cons, Mapping) else None
    else:
        cap = budget(run.target, resource, run.recipe)
    if cap:
        label = "required fps" if resource == "fps" else f"{RESOURCE_LABEL[resource]} budget"
        (ax.axvline if vertical else ax.axhline)(cap, color="#55A868", ls=":", lw=1.5, label=label)


def plot_resources(run: RunData) -> Any | None:
    """Accuracy vs LUT and vs BRAM18 (two panels), budgets drawn; ``None`` without FPGA data."""
    if not any((t.lut or 0) > 0 or (t.bram18 or 0) > 0 for t in run.trials):
        return None  # GPU targets (the search stores zero LUT/BRAM there)
    fig = new_figure(10.0, 4.2)
    axes = fig.subplots(1, 2, sharey=True)
    rug = False
    for ax, res in zip(axes, ("lut", "bram18"), strict=True):
        _scatter_by_status(ax, run, res, 26)
        rug = _untrained_rug(ax, run, res) or rug
        _draw_chosen(ax, run.chosen, res, 220, "chosen design", 5)
        _budget_line(ax, run, res, vertical=True)
        ax.set_xlabel(f"{RESOURCE_LABEL[res]} (estimated)")
        ax.grid(True, alpha=0.3)
        ax.set_title(f"accuracy vs {RESOURCE_LABEL[res]}")
    axes[0].set_ylabel("validation accuracy (%)")
    if rug:
        _room_below(axes[0])  # shared y axis: once
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=8, loc="best", framealpha=0.85)
    return fig


def plot_hypervolume(run: RunData) -> Any:
    """Hypervolume of the feasible front over trials (search progress)."""
    numbers, values, info = hypervolume_history(run)
    fig = new_figure(6.4, 3.4)
    ax = fig.add_subplot()
    if numbers:
        ax.step(numbers, values, where="post", color="#4C72B0", lw=1.6)
        ax.fill_between(numbers, values, step="post", alpha=0.15, color="#4C72B0")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel("hypervolume (normalised)")
    ax.set_title("search progress: hypervolume of " + " × ".join(info.get("objectives", [])))
    ax.grid(True, alpha=0.3)
    return fig


def plot_layers(run: RunData) -> Any | None:
    """Cycles per layer of the chosen design, the bottleneck highlighted; ``None`` if unknown."""
    table = layer_table(run.chosen, run.parent)
    rows = [r for r in table["rows"] if r["cycles"] is not None]
    if not rows:
        return None
    fig = new_figure(6.4, 3.2)
    ax = fig.add_subplot()
    names = [str(r["name"]) for r in rows]
    cyc = [r["cycles"] for r in rows]
    worst = max(cyc)
    colors = [_FRONT if c == worst else "#4C72B0" for c in cyc]
    ax.bar(range(len(rows)), cyc, color=colors)
    ax.set_xticks(range(len(rows)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("cycles per frame")
    ax.set_title("chosen design: cycles per layer (bottleneck in red)")
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def plot_compare(
    runs: Sequence[RunData],
    labels: Sequence[str],
    fronts: Sequence[Sequence[TrialView]],
    metric: str,
) -> Any:
    """The fronts of several runs on one accuracy vs throughput (or latency) plot: all feasible
    trials faint, each front as a step line, each run's chosen design starred."""
    fig = new_figure(7.2, 4.8)
    ax = fig.add_subplot()
    for k, (run, label, front) in enumerate(zip(runs, labels, fronts, strict=True)):
        color = COLORS[k % len(COLORS)]
        feas = feasible_with(run, metric)
        if feas:
            xs = [getattr(t, metric) for t in feas]
            ax.scatter(xs, [100 * (t.accuracy or 0.0) for t in feas], s=14, alpha=0.25, color=color)
        if front:
            xs = [getattr(t, metric) for t in front]
            ys = [100 * (t.accuracy or 0.0) for t in front]
            ax.step(xs, ys, where="pre" if metric == "fps" else "post", color=color, lw=1.6)
            ax.scatter(
                xs, ys, s=40, color=color, edgecolors="black", linewidths=0.5, label=label, zorder=4
            )
        ch = run.chosen
        if ch is not None and getattr(ch, metric) is not None and ch.accuracy is not None:
            ax.scatter(
                [getattr(ch, metric)],
                [100 * ch.accuracy],
                marker="*",
                s=220,
                color=color,
                edgecolors="black",
                linewidths=0.8,
                zorder=5,
            )
    ax.set_xscale("log")
    ax.set_xlabel(
        "throughput (frames/s, log scale)" if metric == "fps" else "latency (µs, log scale)"
    )
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Pareto fronts by target (★ = chosen design)")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower left")
    return fig


def feasible_with(run: RunData, metric: str) -> list[TrialView]:
    """The run's feasible trials that have an accuracy and ``metric``."""
    return [
        t
        for t in run.trials
        if t.status == "feasible" and getattr(t, metric) is not None and t.accuracy is not None
    ]


def save_figure(fig: Any, out_dir: Path, stem: str) -> tuple[str, Path, Path]:
    """Write PNG + SVG, return ``(base64 PNG, png path, svg path)``."""
    png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    data = buf.getvalue()
    png.write_bytes(data)
    fig.savefig(svg, format="svg")
    return base64.b64encode(data).decode("ascii"), png, svg
