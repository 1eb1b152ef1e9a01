"""Numbers a report derives from a run: the Pareto front, hypervolume over trials, design size,
the chosen design's layer table, what binds it and how much of each budget it uses.

Example:
    >>> layer_table(None)
    {'rows': [], 'bottleneck': None, 'totals': {}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hwprune.report.rundata import RunData, TrialView, _find, _num

_COMPUTE_OPS = ("conv", "fc", "mvau", "vvau")
#: resources with a budget on an FPGA target, in the order the report lists them
FPGA_RESOURCES = ("lut", "ff", "bram18", "dsp")


def pareto_front(trials: Sequence[TrialView], directions: Sequence[str]) -> list[TrialView]:
    """The non-dominated trials among ``trials`` for the study's ``directions``.

    Example:
        >>> a = TrialView(0, "feasible", values=(0.9, 100.0))
        >>> b = TrialView(1, "feasible", values=(0.8, 50.0))
        >>> [t.number for t in pareto_front([a, b], ["maximize", "maximize"])]
        [0]
    """
    from hwprune.pareto import pareto_indices

    keep = set(pareto_indices([tuple(t.values or ()) for t in trials], directions))
    return [t for i, t in enumerate(trials) if i in keep]


def design_size(design: Mapping[str, Any] | None) -> tuple[int, int] | None:
    """``(parameters, weight-memory bits)`` of a design description (layers + input shape).

    Weight bits use each layer's ``wbits`` (32 when absent: a float layer).

    Example:
        >>> d = {"input": {"shape": [1, 8, 8]}, "layers": [{"op": "fc", "out": 10, "wbits": 2}]}
        >>> design_size(d)
        (640, 1280)
    """
    if not design:
        return None
    inp = design.get("input") or {}
    shape = inp.get("shape") or design.get("input_shape")
    layers = design.get("layers")
    if not shape or not isinstance(layers, Sequence):
        return None
    c, h, w = (int(x) for x in shape)
    flat: int | None = None
    params = bits = 0
    for layer in layers:
        op = layer.get("op")
        if op == "conv":
            k = int(layer.get("kernel", 1))
            s = int(layer.get("stride", 1))
            p = int(layer.get("pad", 0))
            g = int(layer.get("groups", 1))
            out = int(layer["out_ch"])
            n = out * (c // g) * k * k
            h = (h + 2 * p - k) // s + 1
            w = (w + 2 * p - k) // s + 1
            c = out
        elif op == "maxpool":
            k = int(layer.get("kernel", 2))
            h, w = h // k, w // k
            continue
        elif op == "fc":
            fan_in = flat if flat is not None else c * h * w
            out = int(layer["out"])
            n = fan_in * out
            flat = out
        else:
            continue
        params += n
        bits += n * int(layer.get("wbits") or 32)
    return params, bits


def parent_design(run: RunData) -> Mapping[str, Any] | None:
    """The float parent's design description, when the run records (or implies) one."""
    if run.parent and isinstance(run.parent.get("design"), Mapping):
        return run.parent["design"]
    return None


# ------------------------------------------------------------------------------ hypervolume


def hypervolume_history(
    run: RunData, objectives: Sequence[str] | None = None
) -> tuple[list[int], list[float], dict[str, Any]]:
    """Hypervolume of the feasible front after each trial, in a normalised objective space.

    Each objective is turned into a loss, scaled to [0, 1] over all feasible trials of the run
    (throughput-like objectives on a log scale), and measured against the reference point 1.1
    in every coordinate; 1.21 is the largest 2-D value. Returns ``(trial numbers, values,
    reference info)``.

    Example:
        >>> numbers, hv, ref = hypervolume_history(run)    # doctest: +SKIP
    """
    import numpy as np

    names = list(objectives or run.objective_names)
    idx = [run.objective_names.index(n) for n in names if n in run.objective_names]
    feas = sorted(
        (t for t in run.trials if t.status == "feasible" and t.values is not None),
        key=lambda t: t.number,
    )
    numbers = sorted(t.number for t in run.trials if t.status not in ("running", "waiting"))
    info: dict[str, Any] = {
        "objectives": [run.objective_names[i] for i in idx],
        "reference": 1.1,
        "normalised": True,
    }
    if not feas or not idx:
        return numbers, [0.0] * len(numbers), info
    raw = np.array([[t.values[i] for i in idx] for t in feas], dtype=float)  # type: ignore[index]
    logs = []
    for j, i in enumerate(idx):
        name = run.objective_names[i].lower()
        if any(s in name for s in ("fps", "latency", "lut", "bram", "dsp", "cycles")) and np.all(
            raw[:, j] > 0
        ):
            raw[:, j] = np.log10(raw[:, j])
            logs.append(run.objective_names[i])
        if run.directions[i].startswith("max"):
            raw[:, j] = -raw[:, j]
    info["log_scaled"] = logs
    lo, hi = raw.min(axis=0), raw.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    loss = (raw - lo) / span
    ref = np.full(loss.shape[1], 1.1)
    by_number = {t.number: k for k, t in enumerate(feas)}
    values: list[float] = []
    seen: list[int] = []
    for n in numbers:
        if n in by_number:
            seen.append(by_number[n])
        values.append(_hypervolume(loss[seen], ref) if seen else 0.0)
    return numbers, values, info


def _hypervolume(points: Any, ref: Any) -> float:
    """Exact hypervolume of minimisation ``points`` against ``ref``.

    Example:
        >>> round(_hypervolume([[0.0, 1.0], [1.0, 0.0]], [1.1, 1.1]), 6)
        0.21
    """
    from hwprune.pareto import hypervolume

    pts = [tuple(float(v) for v in p) for p in points]
    return hypervolume(pts, ["minimize"] * len(ref), tuple(float(r) for r in ref))


# ------------------------------------------------------------------------------ layer table


def _overheads(trial: TrialView) -> Mapping[str, Mapping[str, Any]]:
    over = trial.estimate.get("overheads")
    return over if isinstance(over, Mapping) else {}


def _parent_widths(parent: Mapping[str, Any] | None) -> list[int]:
    """The parent's output channels per conv/fc layer (its ``widths``, or from its design)."""
    if not parent:
        return []
    pdesign = parent.get("design") if isinstance(parent.get("design"), Mapping) else None
    pl = parent.get("widths") or parent.get("channels")
    if isinstance(pl, Sequence) and not isinstance(pl, str):
        return [int(x) for x in pl]
    if pdesign:
        return [
            int(layer.get("out_ch", layer.get("out", 0)))
            for layer in pdesign.get("layers", [])
            if layer.get("op") in ("conv", "fc")
        ]
    return []


def _layer_rows(trial: TrialView, parent_widths: Sequence[int]) -> list[dict[str, Any]]:
    """One row per node of the cost model's table (else per design layer); conv/fc rows take
    channels and bits from the design's conv/fc layers, in order."""
    design_layers = [
        dict(layer)
        for layer in ((trial.design or {}).get("layers") or [])
        if layer.get("op") in ("conv", "fc")
    ]
    rows = []
    k = 0  # index of the next conv/fc of the design
    for i, node in enumerate(list(trial.layers) or design_layers):
        op = str(node.get("op", node.get("kind", "")))
        compute = op.lower() in _COMPUTE_OPS
        d: Mapping[str, Any] = {}
        ch = parent_ch = None
        if compute:
            d = design_layers[k] if k < len(design_layers) else {}
            ch = node.get("channels", d.get("out_ch", d.get("out")))
            parent_ch = node.get("parent_channels")
            if parent_ch is None and k < len(parent_widths):
                parent_ch = parent_widths[k]
            if parent_ch is None and design_layers and k == len(design_layers) - 1:
                parent_ch = ch  # the classifier head is never pruned
            k += 1
        bits = node.get("bits") if isinstance(node.get("bits"), Mapping) else {}
        rows.append(
            {
                "name": node.get("name", f"{op or 'layer'}{i}"),
                "op": op,
                "channels": ch,
                "parent_channels": parent_ch,
                "wbits": node.get("wbits", bits.get("w", d.get("wbits"))) if compute else None,
                "abits": node.get("abits", bits.get("out", d.get("abits"))) if compute else None,
                "pe": node.get("pe", d.get("pe")),
                "simd": node.get("simd", d.get("simd")),
                "res_type": node.get("res_type", d.get("res_type")) if compute else None,
                "cycles": _find(node, "cycles"),
                "lut": _find(node, "lut"),
                "bram18": _find(node, "bram18"),
                "dsp": _find(node, "dsp"),
                "compute": compute,
            }
        )
    return rows


def _overhead_row(over: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The fixed overheads (shell, DMA, FIFOs, width converters) as one last row."""
    parts = [
        f"{name} ×{int(v.get('count', 1))}" if _num(v.get("count")) not in (None, 1) else name
        for name, v in over.items()
        if isinstance(v, Mapping)
    ]
    return {
        "name": "overheads",
        "op": ", ".join(parts),
        "channels": None,
        "parent_channels": None,
        "wbits": None,
        "abits": None,
        "pe": None,
        "simd": None,
        "res_type": None,
        "cycles": None,
        **{
            r: float(sum(_num(v.get(r)) or 0.0 for v in over.values() if isinstance(v, Mapping)))
            for r in ("lut", "bram18", "dsp")
        },
        "compute": False,
    }


def layer_table(trial: TrialView | None, parent: Mapping[str, Any] | None = None) -> dict:
    """Per-layer rows of a design, with each layer's share of the design's total and the
    bottleneck (most cycles) marked.

    Rows come from the cost model's per-node table when the trial stored one (MVAU/VVAU nodes
    are matched, in order, to the design's conv/fc layers for channels and bits; sliding
    windows, pools, label select have their own rows), else from the design layers. Fixed
    overheads (shell, DMA, FIFOs, width converters) form a last row, so shares add up to 1.
    Returns ``{"rows": [...], "bottleneck": index|None, "totals": {...}}`` (``bottleneck``: the
    first of the slowest rows); each row has name, op, channels, parent_channels, wbits, abits,
    pe, simd, res_type (where the layer's multiplications go: "lut" or "dsp"), cycles, lut,
    bram18, dsp, ``share_<resource>`` and ``bottleneck`` (true for every row tied at the most
    cycles).

    Example:
        >>> layer_table(None)
        {'rows': [], 'bottleneck': None, 'totals': {}}
    """
    if trial is None:
        return {"rows": [], "bottleneck": None, "totals": {}}
    rows = _layer_rows(trial, _parent_widths(parent))
    over = _overheads(trial)
    if over and rows:
        rows.append(_overhead_row(over))
    totals: dict[str, float] = {}
    for r in ("lut", "bram18", "dsp"):
        vals = [row[r] for row in rows if row[r] is not None]
        if vals:
            totals[r] = float(sum(vals))
            for row in rows:
                row[f"share_{r}"] = (
                    row[r] / totals[r] if row[r] is not None and totals[r] > 0 else None
                )
    cyc = [row["cycles"] for row in rows if row["cycles"] is not None]
    bottleneck = None
    if cyc:
        worst = max(cyc)
        totals["max_cycles"] = worst
        for n, row in enumerate(rows):
            row["bottleneck"] = row["cycles"] is not None and row["cycles"] >= worst
            if row["bottleneck"] and bottleneck is None:
                bottleneck = n  # the first of the slowest layers
    return {"rows": rows, "bottleneck": bottleneck, "totals": totals}


# ------------------------------------------------------------------- budgets and binding


def budget(
    target: Mapping[str, Any] | None, resource: str, recipe: Mapping[str, Any] | None = None
) -> float | None:
    """What the search allowed of ``resource``: the recipe's ``max_<r>`` if set, else the
    target's capacity times its utilisation cap.

    Example:
        >>> budget({"lut": 1000, "util_cap": 0.8}, "lut")
        800.0
    """
    cons = (recipe or {}).get("constraints")
    if isinstance(cons, Mapping):
        v = _num(cons.get(f"max_{resource}"))
        if v:
            return v
    if not target:
        return None
    for holder in (target.get("budget"), target, target.get("resources")):
        if isinstance(holder, Mapping):
            v = _find(holder, resource)
            if v is not None:
                if holder is target:
                    cap = _num(cons.get("util_cap")) if isinstance(cons, Mapping) else None
                    v *= cap or _num(target.get("util_cap")) or 1.0
                return v
    return None


def binding_resource(run: RunData | None, trial: TrialView | None) -> str | None:
    """What binds ``trial``, in the cost model's words (:attr:`hwprune.estimate.Estimate.binding`,
    stored by the search): the resource a faster folding would overrun (or, for a design that
    does not fit, the most over-used one), ``"io"`` when the stream port limits the frame rate,
    ``"memory"`` for a GPU over its memory, ``None`` when nothing binds (every layer as parallel
    as it goes, or the smallest design that meets the required frames/s).

    ``run`` is unused; it is kept so callers written for earlier versions still work.

    Example:
        >>> binding_resource(None, TrialView(0, "feasible", binding="io"))
        'io'
    """
    del run
    return trial.binding if trial is not None else None


def most_used_resource(run: RunData, trial: TrialView | None) -> tuple[str, float] | None:
    """``(resource, used / budget)`` of the resource ``trial`` uses most of what the search
    allowed (the recipe's limit or the target's capacity times its cap); ``None`` without
    budgets. Not the same as :func:`binding_resource`: a design can use 90 % of its LUTs while
    the stream port is what limits it.

    Example:
        >>> most_used_resource(run, run.chosen)            # doctest: +SKIP
        ('lut', 0.58)
    """
    if trial is None:
        return None
    best: tuple[str, float] | None = None
    for r in FPGA_RESOURCES:
        used, cap = getattr(trial, r), budget(run.target, r, run.recipe)
        if used is not None and cap:
            u = used / cap
            if best is None or u > best[1]:
                best = (r, u)
    return best
