"""Reports of a search run: ``summary.json``, plots (PNG + SVG) and one self-contained HTML page.

A run folder (written by :func:`hwprune.search`) holds the Optuna study (``study.db``) and files
beside it (``recipe.toml``/``recipe.json``, ``pareto.json``, ``summary.json``, ``trials/<n>/``,
``best/``). :func:`load_run` reads the study and those files into a :class:`RunData`;
:func:`write_report` turns it into ``report.html`` + plots + ``summary.json``;
:func:`compare_runs` puts the fronts of several runs (for example one recipe on several targets)
on one plot and one table.

The package, by what each module holds:

* :mod:`~hwprune.report.rundata`: :class:`RunData`, :class:`TrialView`, schema versions;
* :mod:`~hwprune.report.load`: reading a run folder, its study and any storage URL;
* :mod:`~hwprune.report.tables`: front, hypervolume, layer table, binding, budgets;
* :mod:`~hwprune.report.summary`: ``summary.json``;
* :mod:`~hwprune.report.plots`: the matplotlib figures;
* :mod:`~hwprune.report.html`: the pages, from the Jinja2 templates in ``templates/``;
* :mod:`~hwprune.report.write`: :func:`write_report` and :func:`compare_runs`.

Everything the search stores is optional here: a report of a run whose trials lack an attribute
shows "-" in its place rather than failing.

Example:
    >>> from hwprune.report import write_report          # doctest: +SKIP
    >>> write_report("runs/tfc-pynq-z2")                 # doctest: +SKIP
    PosixPath('runs/tfc-pynq-z2/report.html')

The schema of ``summary.json`` is documented in ``docs/summary_schema.md`` and is versioned by
its ``"schema"`` field (:data:`SUMMARY_SCHEMA`).
"""

from __future__ import annotations

from hwprune.report.html import render_compare, render_html
from hwprune.report.load import (
    _status,
    find_storage,
    load_run,
    open_report_storage,
    parse_csim_log,
)
from hwprune.report.plots import plot_hypervolume, plot_layers, plot_pareto, plot_resources
from hwprune.report.rundata import (
    COMPARE_SCHEMA,
    REPORT_SCHEMA,
    SUMMARY_SCHEMA,
    RunData,
    TrialView,
)
from hwprune.report.summary import build_report_section, build_summary
from hwprune.report.tables import (
    _hypervolume,
    binding_resource,
    design_size,
    hypervolume_history,
    layer_table,
    most_used_resource,
    pareto_front,
)
from hwprune.report.write import compare_runs, write_report

__all__ = [
    "COMPARE_SCHEMA",
    "REPORT_SCHEMA",
    "SUMMARY_SCHEMA",
    "RunData",
    "TrialView",
    "_hypervolume",
    "_status",
    "binding_resource",
    "build_report_section",
    "build_summary",
    "compare_runs",
    "design_size",
    "find_storage",
    "hypervolume_history",
    "layer_table",
    "load_run",
    "most_used_resource",
    "open_report_storage",
    "pareto_front",
    "parse_csim_log",
    "plot_hypervolume",
    "plot_layers",
    "plot_pareto",
    "plot_resources",
    "render_compare",
    "render_html",
    "write_report",
]
