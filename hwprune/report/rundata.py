"""What a report knows about one run: :class:`RunData` and its :class:`TrialRecord` rows, plus
the lenient number lookups every part of the report shares.

Example:
    >>> t = TrialRecord(3, "feasible", values=(0.95, 1200.0), accuracy=0.95, fps=1200.0)
    >>> t.complete, _find({"hw": {"luts": 812}}, "lut")
    (True, 812.0)
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
REPORT_SCHEMA = "hwprune.report/1"
#: ``schema`` of ``compare.json``
COMPARE_SCHEMA = "hwprune.compare/1"

#: names tried, in order, for each metric in a trial's user attributes (and nested dicts)
ALIASES: dict[str, tuple[str, ...]] = {
    "accuracy": ("accuracy", "val_accuracy", "val_acc", "acc"),
    "test_accuracy": ("test_accuracy", "test_acc"),
    "fps": ("fps", "frames_per_s", "throughput_fps"),
    "latency_us": ("latency_us", "latency"),
    "lut": ("lut", "luts", "LUT"),
    "ff": ("ff", "ffs", "FF"),
    "bram18": ("bram18", "bram", "BRAM18", "bram_18k"),
    "dsp": ("dsp", "dsps", "DSP"),
    "uram": ("uram", "URAM"),
    "params": ("params", "parameters", "n_params"),
    "weight_bits": ("weight_bits", "weight_memory_bits"),
    "cycles": ("cycles", "exp_cycles", "max_cycles"),
}
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
#: nested trial attributes searched for a metric (``hw`` is what the search writes)
_NESTED = ("hw", "metrics", "resources", "estimate", "objectives", "cost", "result")


@dataclass(frozen=True)
class TrialRecord:
    """One Optuna trial, normalised for reporting.

    ``status`` is one of ``"feasible"``, ``"infeasible"`` (over budget: never trained),
    ``"early-stopped"`` (fine-tune stopped because it could not reach the front),
    ``"failed"`` (raised, reason recorded), ``"cut-off"`` (its process died or was
    interrupted; re-queued and re-run as another trial), ``"surplus"`` (a worker's placeholder
    that never ran) or ``"running"``. ``binding`` is the cost model's word
    (:attr:`hwprune.estimate.Estimate.binding`): what stops a faster design, or ``None``.

    Example:
        >>> TrialRecord(0, "early-stopped").complete
        True
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
    user_attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when the trial trained and has objective values (feasible or early-stopped)."""
        return self.status in ("feasible", "early-stopped")


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
    trials: tuple[TrialRecord, ...]
    recipe: Mapping[str, Any] | None = None
    target: Mapping[str, Any] | None = None
    chosen: TrialRecord | None = None
    chosen_info: Mapping[str, Any] | None = None
    parent: Mapping[str, Any] | None = None
    export: Mapping[str, Any] | None = None
    pareto_numbers: tuple[int, ...] = ()

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
    """Find metric ``name`` in ``attrs`` at top level or inside a nested dict (one level)."""
    keys = ALIASES.get(name, (name,))
    for k in keys:
        if k in attrs and _num(attrs[k]) is not None:
            return _num(attrs[k])
    for nested in _NESTED:
        sub = attrs.get(nested)
        if isinstance(sub, Mapping):
            for k in keys:
                if k in sub and _num(sub[k]) is not None:
                    return _num(sub[k])
    return None


def _maybe_json(value: Any) -> Any:
    """``value`` parsed when it is a JSON object or list in a string, else as it is."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
