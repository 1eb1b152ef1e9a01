"""The report's HTML: ``report.html`` and ``compare.html`` rendered from the Jinja2 templates in
``hwprune/report/templates/`` with autoescaping on.

Every value reaches a template as plain data (text, numbers, lists of *segments*) and is escaped
there; the templates alone write markup. A *segment* is ``{"cls": None | "ok" | "bad" | "code"
| "b", "text": str}``: plain, a green/red verdict, code, or bold.

Example:
    >>> fmt(1234567), fmt(None), fmt(0.1234), pct(0.9612)
    ('1,234,567', '-', '0.12', '96.12 %')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from hwprune.report.rundata import RESOURCE_LABEL, SUMMARY_SCHEMA, RunData, _num
from hwprune.report.summary import jsonable
from hwprune.report.tables import budget, layer_table, most_used_resource
from hwprune.storage import redact_url

Segment = dict[str, Any]
Item = tuple[str, list[Segment]]


def fmt(value: Any, digits: int = 0) -> str:
    """Human formatting for tables: thousands separators, ``-`` for missing.

    Example:
        >>> fmt(2.0), fmt(123.4), fmt(3.14159, 1), fmt("x")
        ('2', '123', '3.1', 'x')
    """
    f = _num(value)
    if f is None:
        return "-" if value is None or isinstance(value, float) else str(value)
    if abs(f - round(f)) < 1e-9:
        return f"{int(round(f)):,}"
    if abs(f) >= 100:
        return f"{f:,.0f}"
    return f"{f:,.{digits or 2}f}"


def pct(value: float | None) -> str:
    """A fraction as a percentage with two decimals, ``-`` for missing."""
    return "-" if value is None else f"{100 * value:.2f} %"


def seg(text: Any, cls: str | None = None) -> Segment:
    """One segment of a table cell (see the module docstring)."""
    return {"cls": cls, "text": str(text)}


@lru_cache(maxsize=1)
def environment() -> Any:
    """The Jinja2 environment of the report templates (autoescaped)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hwprune.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = fmt
    env.filters["pct"] = pct
    return env


# ------------------------------------------------------------------------------- overview


def _trials_text(t: Mapping[str, Any]) -> str:
    return (
        f"{t['total']} total: {t['feasible']} feasible, {t['infeasible']} "
        f"infeasible, {t['stopped']} early-stopped, {t['failed']} failed"
        + (f", {t['cut_off']} cut off (re-run)" if t.get("cut_off") else "")
        + (f", {t['surplus']} surplus (never ran)" if t.get("surplus") else "")
        + (f", {t['running']} running" if t.get("running") else "")
        + (f", {t['waiting']} queued" if t.get("waiting") else "")
    )


def _chosen_text(run: RunData) -> str:
    ch = run.chosen
    assert ch is not None
    info = run.chosen_info or {}
    final = _num(info.get("val_accuracy"))
    return (
        f"trial {ch.number}"
        + (f" (rule {info['rule']})" if info.get("rule") else "")
        + f": validation accuracy {pct(ch.accuracy)}"
        + (f" ({pct(final)} after the final fine-tune)" if final is not None else "")
        + (f", test {pct(ch.test_accuracy)}" if ch.test_accuracy is not None else "")
        + (f", {fmt(ch.fps)} frames/s" if ch.fps is not None else "")
        + (f", {fmt(ch.latency_us, 1)} µs" if ch.latency_us is not None else "")
        + "".join(
            f", {fmt(getattr(ch, r))} {RESOURCE_LABEL[r]}"
            for r in ("lut", "bram18", "dsp")
            if getattr(ch, r) is not None
        )
    )


def _overview(run: RunData, summary: Mapping[str, Any]) -> list[Item]:
    n_front = len(summary["pareto"])
    objectives = ", ".join(
        f"{n} ({d})" for n, d in zip(run.objective_names, run.directions, strict=False)
    )
    items: list[Item] = [
        ("study", [seg(run.study_name)]),
        ("target", [seg(run.target_name)]),
        ("objectives", [seg(objectives)]),
        ("trials", [seg(_trials_text(summary["trials"]))]),
        ("Pareto front", [seg(f"{n_front} design{'' if n_front == 1 else 's'}")]),
    ]
    if run.chosen is not None:
        items.append(("chosen design", [seg(_chosen_text(run))]))
        why = (run.chosen_info or {}).get("selection")
        if isinstance(why, str) and why:
            items.append(("why this design", [seg(why)]))
    items.append(("dashboard", [seg(f"optuna-dashboard {redact_url(run.storage)}", "code")]))
    return items


def _target_items(run: RunData) -> list[Item]:
    return [
        (
            str(k),
            [seg(fmt(v, 2) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)],
        )
        for k, v in (run.target or {}).items()
        if not isinstance(v, (Mapping, list))
    ]


# ---------------------------------------------------------------------------- layer table

_LAYER_COLUMNS = (
    ("name", "layer", "l"),
    ("op", "op", "l"),
    ("channels", "channels kept / parent", ""),
    ("wbits", "weight bits", ""),
    ("abits", "act. bits", ""),
    ("pe", "PE", ""),
    ("simd", "SIMD", ""),
    ("res_type", "multipliers", "l"),
    ("cycles", "cycles", ""),
    ("lut", "LUT (share)", ""),
    ("bram18", "BRAM18 (share)", ""),
    ("dsp", "DSP (share)", ""),
)


def _cell(row: Mapping[str, Any], key: str) -> tuple[str, float | None]:
    """Text of one cell of the layer table, and the row's share of the total (resources)."""
    if key == "channels":
        ch, pch = row["channels"], row["parent_channels"]
        return fmt(ch) + (f" / {fmt(pch)}" if pch is not None else ""), None
    if key in ("lut", "bram18", "dsp"):
        return fmt(row[key], 1), row.get(f"share_{key}")
    if key == "abits" and row["abits"] is None and row["wbits"] is not None:
        return "acc.", None
    if key == "res_type":
        return {"lut": "LUTs", "dsp": "DSPs"}.get(str(row[key]), fmt(row[key])), None
    return (fmt(row[key]) if key not in ("name", "op") else str(row[key])), None


def _usage(run: RunData, resource: str) -> str:
    """`` (used of budget, NN %)`` of the chosen design, or ``""`` without a budget."""
    used = getattr(run.chosen, resource, None) if run.chosen else None
    cap = budget(run.target, resource, run.recipe)
    return f" ({fmt(used)} of {fmt(cap)}, {100 * used / cap:.0f} %)" if used and cap else ""


def binding_note(run: RunData) -> list[Segment]:
    """What binds the chosen design, in the cost model's words
    (:func:`hwprune.report.tables.binding_resource`), and the resource it uses most of.

    Example:
        >>> [s["text"] for s in binding_note(run)]          # doctest: +SKIP
        ['Binding resource (a faster folding would exceed it): ', 'LUT', ' (4,803 of ...).']
    """
    ch = run.chosen
    if ch is None:
        return []
    out: list[Segment] = []
    binding = ch.binding
    if binding == "io":
        out += [seg("Binding: "), seg(RESOURCE_LABEL["io"], "b")]
        out.append(seg(" (it limits the frame rate; a faster folding would not help)."))
    elif binding is not None:
        out += [seg("Binding resource (a faster design would exceed it): ")]
        out += [seg(RESOURCE_LABEL.get(binding, binding), "b"), seg(f"{_usage(run, binding)}.")]
    elif ch.estimate:
        out.append(seg("Nothing binds (no resource or port stops a faster design)."))
    most = most_used_resource(run, ch)
    if most is not None and most[0] != binding:
        label = RESOURCE_LABEL.get(most[0], most[0])
        out += [seg(" Most-used resource: "), seg(label, "b"), seg(f"{_usage(run, most[0])}.")]
    return out


def _layer_view(run: RunData) -> dict[str, Any] | None:
    table = layer_table(run.chosen, run.parent)
    if not table["rows"]:
        return None
    binding = run.chosen.binding if run.chosen is not None else None
    cols = [
        c
        for c in _LAYER_COLUMNS
        if c[0] in ("name", "op", "channels")
        or any(row.get(c[0]) is not None for row in table["rows"])
    ]

    def klass(key: str, cls: str) -> str:
        return " ".join(x for x in (cls, "binding" if key == binding else "") if x)

    head = [{"cls": klass(key, cls), "label": label} for key, label, cls in cols]
    rows = []
    for row in table["rows"]:
        cells = []
        for key, _, cls in cols:
            text, share = _cell(row, key)
            cells.append({"cls": klass(key, cls), "text": text, "share": share})
        rows.append({"bottleneck": bool(row.get("bottleneck")), "cells": cells})
    slow = [str(r["name"]) for r in table["rows"] if r.get("bottleneck")]
    return {
        "head": head,
        "rows": rows,
        "slow": slow if table["bottleneck"] is not None else [],
        "max_cycles": fmt(table["totals"].get("max_cycles")),
        "binding_note": binding_note(run),
    }


# ------------------------------------------------------------------- parent and export


def _parent_view(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    par = summary.get("parent")
    if not par:
        return None
    ch, cmp_ = summary.get("chosen") or {}, summary.get("comparison") or {}
    rows = [
        (label, f(par.get(key)), f(ch.get(key)))
        for label, key, f in (
            ("validation accuracy", "accuracy", pct),
            ("test accuracy", "test_accuracy", pct),
            ("parameters", "params", fmt),
            ("weight memory (bits)", "weight_bits", fmt),
        )
    ]
    extra = []
    if "accuracy_delta" in cmp_:
        extra.append(f"accuracy change {100 * cmp_['accuracy_delta']:+.2f} points")
    if "params_ratio" in cmp_:
        extra.append(f"{100 * cmp_['params_ratio']:.1f} % of the parameters")
    if "weight_bits_ratio" in cmp_:
        extra.append(f"{100 * cmp_['weight_bits_ratio']:.2f} % of the weight memory")
    return {"rows": rows, "extra": "; ".join(extra)}


def _csim_items(ex: Mapping[str, Any]) -> list[Item]:
    items: list[Item] = []
    csim = ex.get("csim")
    if isinstance(csim, bool):  # the search's record: the C simulation's verdict
        csim = {"bit_exact": csim}
    if isinstance(csim, Mapping):  # with csim.log: its verdict, samples, first mismatch
        exact = csim.get("bit_exact")
        verdict = (
            seg("bit-exact", "ok")
            if exact
            else seg("NOT bit-exact", "bad")
            if exact is False
            else seg("-")
        )
        detail = (
            f" ({csim['samples']} samples, {csim.get('mismatching_samples', 0)} mismatching)"
            if "samples" in csim
            else ""
        )
        items.append(("C simulation (g++)", [verdict, seg(detail)]))
        if csim.get("first_mismatch"):
            items.append(("first mismatch", [seg(csim["first_mismatch"])]))
    elif "csim" in ex and ex.get("ok") is not False:  # exported, no C simulation (no g++)
        items.append(("C simulation (g++)", [seg("not run")]))
    if "bit_exact" in ex and not isinstance(csim, Mapping):
        items.append(("bit-exact", [seg("yes", "ok") if ex["bit_exact"] else seg("no", "bad")]))
    cycles = ex.get("cycles") or []
    if cycles:
        bad = [c["kernel"] for c in cycles if not c.get("match", True)]
        checked = [
            c
            for c in cycles
            if sum(c.get(k) is not None for k in ("counted", "ir", "cost_model")) >= 2
        ]
        items.append(
            (
                "cycles check",
                [
                    seg(f"all {len(checked)} kernels agree", "ok"),
                    seg(" (counted in C simulation = kernel loop model = cost model)"),
                ]
                if not bad
                else [seg(f"{len(bad)} kernel(s) differ", "bad"), seg(": " + ", ".join(bad))],
            )
        )
    return items


def _export_items(run: RunData) -> list[Item]:
    ex = run.export or {}
    items: list[Item] = []
    if ex.get("ok") is False:
        items.append(("export", [seg("failed", "bad"), seg(f": {ex.get('error', '')}")]))
    items += _csim_items(ex)
    est = ex.get("estimate")
    if isinstance(est, Mapping) and run.chosen is not None:
        parts = []
        for r in ("lut", "bram18", "dsp"):
            mine, theirs = _num(est.get(r)), getattr(run.chosen, r)
            if mine is None:
                continue
            diff = (
                f" ({100 * (mine - theirs) / theirs:+.1f} % vs the search)"
                if theirs and abs(mine - theirs) > 1e-6
                else ""
            )
            parts.append(f"{fmt(mine)} {RESOURCE_LABEL[r]}{diff}")
        if _num(est.get("fps")) is not None:
            parts.append(f"{fmt(est['fps'])} frames/s")
        items.append(("estimate of the exported graph", [seg(", ".join(parts))]))
    if ex.get("dir"):
        items.append(("folder", [seg(ex["dir"], "code")]))
    if ex.get("files"):
        files: list[Segment] = []
        for i, f in enumerate(ex["files"]):
            files += ([seg(", ")] if i else []) + [seg(f, "code")]
        items.append(("files", files))
    timings = ex.get("timings_s")
    if isinstance(timings, Mapping) and timings.get("total_s") is not None:
        items.append(("export time", [seg(f"{_num(timings['total_s']) or 0:.1f} s")]))
    return items


# ---------------------------------------------------------------------------------- pages


def render_html(
    run: RunData, summary: Mapping[str, Any], images: Mapping[str, tuple[str, str]]
) -> str:
    """The self-contained report page. ``summary`` is the ``report`` section of
    ``summary.json``; ``images`` maps stem -> (base64 PNG, caption).

    Example:
        >>> page = render_html(run, section, {"pareto": (b64, "Pareto plot")})  # doctest: +SKIP
    """
    ex = run.export
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            title=f"hwprune report: {run.study_name}",
            generator=f"hwprune report ({SUMMARY_SCHEMA})",
            generated=summary["generated"],
            run_dir=str(run.run_dir),
            overview=_overview(run, summary),
            figures={stem: {"b64": b64, "caption": cap} for stem, (b64, cap) in images.items()},
            front=sorted(summary["pareto"], key=lambda p: -(p["accuracy"] or 0)),
            is_fpga=run.is_fpga,
            layers=_layer_view(run),
            parent=_parent_view(summary),
            export=_export_items(run) if ex else None,
            cycles=(ex or {}).get("cycles") or [],
            target_items=_target_items(run),
            recipe=json.dumps(jsonable(run.recipe), indent=2) if run.recipe else None,
        )
    )


def render_compare(doc: Mapping[str, Any], b64: str, n_runs: int) -> str:
    """The comparison page of ``compare.json``'s document ``doc`` with its plot (base64 PNG).

    Example:
        >>> html = render_compare({"runs": []}, "", 0)
        >>> "hwprune comparison of 0 runs" in html
        True
    """
    return (
        environment()
        .get_template("compare.html.j2")
        .render(
            runs=doc["runs"],
            n_runs=n_runs,
            plot={"b64": b64, "caption": "Pareto fronts of every run: accuracy vs throughput"},
        )
    )
