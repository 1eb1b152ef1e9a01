"""What a report knows about one run: :class:`RunData` and its :class:`TrialView` rows (the
search's :class:`~hwprune.search.record.TrialRecord` of each trial, flattened for tables and
plots), plus the number lookups every part of the report shares.

Trial status words are the search's own (:data:`hwprune.search.record.STATUSES`): ``feasible``,
``infeasible``, ``stopped``, ``failed``, ``cut_off``, ``surplus``, ``running``, ``waiting``.

Example:
    >>> t = TrialView(3, "feasible", values=(0.95, 1200.0), accuracy=0.95, fps=1200.0)
    >>> t.trained, _find({"val_accuracy": 0.97}, "accuracy")
    (True, 0.97)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: ``schema`` of a summary.json (written by the search; the report derives one in the same shape)
SUMMARY_SCHEMA = 1
#: ``schema`` of the ``report`` section that :func:`hwprune.report.write_report` adds
#: (2: trial status words and ``trials`` counts are the search's, ``chosen.most_used`` added)
REPORT_SCHEMA = "hwprune.report/2"
#: ``schema`` of ``compare.json`` (2: the search's status words)
COMPARE_SCHEMA = "hwprune.compare/2"

#: the names a metric has in what the search writes: the validation accuracy is ``accuracy``
#: in a trial and ``val_accuracy`` in ``summary.json``'s ``parent`` and ``best/accuracy.json``
ALIASES: dict[str, tuple[str, ...]] = {"accuracy": ("accuracy", "val_accuracy")}
#: how each resource (and each binding word of :mod:`hwprune.estimate`) is named on the page
RESOURCE_LABEL = {
    "lut": "LUT",
    "ff": "FF",
    "bram18": "BRAM18",
    "dsp": "DSP",
    "uram": "URAM",
    "io": "I/O stream port",
    "memory": "GPU memory",
}


@dataclass(frozen=True)
class TrialView:
    """One trial as the report shows it: the search's record (``record``) flattened.

    ``status`` is the record's status word (see the module docstring); ``values`` the objective
    values reported to Optuna (the worst possible ones for a trial never trained);
    ``accuracy`` and the hardware numbers come from the record (``accuracy``, ``hw``), and
    ``None`` where the trial has none (an infeasible trial was never trained). ``binding`` is
    the cost model's word (:attr:`hwprune.estimate.Estimate.binding`): what stops a faster
    design, or ``None``. ``layers`` is the cost model's per-node table (``estimate.layers``);
    ``test_accuracy`` is only known for the chosen design (the final fine-tune's).

    Example:
        >>> TrialView(0, "stopped").trained
        False
    """

    number: int
    status: str
    values: tuple[float, ...] | None = None
    accuracy: float | None = None
    test_accuracy: float | None = None
    fps: float | None = None
    latency_us: float | None = None
    lut: float | None = None
    ff: float | None = None
    bram18: float | None = None
    dsp: float | None = None
    binding: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    design: Mapping[str, Any] | None = None
    layers: tuple[Mapping[str, Any], ...] = ()
    estimate: Mapping[str, Any] = field(default_factory=dict)
    record: Any = field(default=None, repr=False, compare=False)

    @property
    def trained(self) -> bool:
        """True when the trial was fine-tuned to the end and met every constraint."""
        return self.status == "feasible" and self.accuracy is not None


@dataclass(frozen=True)
class RunData:
    """Everything a report shows about one run folder.

    Example:
        >>> RunData(Path("r"), "s", "sqlite:///r/study.db", ("accuracy",), ("maximize",),
        ...         ()).target_name
        '?'
    """

    run_dir: Path
    study_name: str
    storage: str
    objective_names: tuple[str, ...]
    directions: tuple[str, ...]
    trials: tuple[TrialView, ...]
    recipe: Mapping[str, Any] | None = None
    target: Mapping[str, Any] | None = None
    chosen: TrialView | None = None
    chosen_info: Mapping[str, Any] | None = None
    parent: Mapping[str, Any] | None = None
    export: Mapping[str, Any] | None = None
    pareto_numbers: tuple[int, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def target_name(self) -> str:
        """The target's name, or ``"?"`` when the run does not record it."""
        if self.target and self.target.get("name"):
            return str(self.target["name"])
        if self.recipe:
            t = self.recipe.get("target")
            if isinstance(t, str):
                return t
            if isinstance(t, Mapping) and t.get("name"):
                return str(t["name"])
        return "?"

    @property
    def is_fpga(self) -> bool:
        """True when trials carry FPGA resources (LUT/BRAM) or the target says so."""
        kind = str((self.target or {}).get("kind", "")).lower()
        if kind:
            return kind == "fpga"
        return any(t.lut is not None for t in self.trials)


def _num(value: Any) -> float | None:
    """``value`` as a finite float, or ``None``.

    Example:
        >>> _num("2.5"), _num(True), _num(float("nan"))
        (2.5, None, None)
    """
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _find(attrs: Mapping[str, Any], name: str) -> float | None:
    """Metric ``name`` of ``attrs`` under any of its :data:`ALIASES`, as a float, or ``None``."""
    for k in ALIASES.get(name, (name,)):
        if k in attrs and _num(attrs[k]) is not None:
            return _num(attrs[k])
    return None


def _maybe_json(value: Any) -> Any:
    """``value`` parsed when it is a JSON object or list in a string, else as it is."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
