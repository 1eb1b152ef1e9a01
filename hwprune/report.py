"""Reports of a search run: ``summary.json``, plots (PNG + SVG) and one self-contained HTML page.

A run folder (written by :func:`hwprune.search`) holds the Optuna study (``study.db``) and files
beside it (``recipe.toml``/``recipe.json``, ``pareto.json``, ``summary.json``, ``trials/<n>/``,
``best/``). :func:`load_run` reads the study and those files into a :class:`RunData`;
:func:`write_report` turns it into ``report.html`` + plots + ``summary.json``;
:func:`compare_runs` puts the fronts of several runs (for example one recipe on several targets)
on one plot and one table.

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

import base64
import datetime as _dt
import html
import io
import json
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hwprune.atomic import atomic_write_text
from hwprune.errors import ConfigError, StorageError
from hwprune.storage import redact_url

log = logging.getLogger(__name__)

#: ``schema`` of a summary.json (written by the search; the report derives one in the same shape)
SUMMARY_SCHEMA = 1
#: ``schema`` of the ``report`` section that :func:`write_report` adds to summary.json
REPORT_SCHEMA = "hwprune.report/1"
COMPARE_SCHEMA = "hwprune.compare/1"

#: names tried, in order, for each metric in a trial's user attributes (and nested dicts)
_ALIASES: dict[str, tuple[str, ...]] = {
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
_RESOURCE_LABEL = {
    "lut": "LUT",
    "ff": "FF",
    "bram18": "BRAM18",
    "dsp": "DSP",
    "uram": "URAM",
    "io": "I/O stream port",
    "memory": "GPU memory",
}


# --------------------------------------------------------------------------------------------
# data model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialRecord:
    """One Optuna trial, normalised for reporting.

    ``status`` is one of ``"feasible"``, ``"infeasible"`` (over budget: never trained),
    ``"early-stopped"`` (fine-tune stopped because it could not reach the front),
    ``"failed"`` (raised, reason recorded), ``"cut-off"`` (its process died or was
    interrupted; re-queued and re-run as another trial), ``"surplus"`` (a worker's placeholder
    that never ran) or ``"running"``.
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
    """Everything a report shows about one run folder."""

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


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    """``value`` as a finite float, or ``None``."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _find(attrs: Mapping[str, Any], name: str) -> float | None:
    """Find metric ``name`` in ``attrs`` at top level or inside a nested dict (one level)."""
    keys = _ALIASES.get(name, (name,))
    for k in keys:
        if k in attrs and _num(attrs[k]) is not None:
            return _num(attrs[k])
    for nested in ("hw", "metrics", "resources", "estimate", "objectives", "cost", "result"):
        sub = attrs.get(nested)
        if isinstance(sub, Mapping):
            for k in keys:
                if k in sub and _num(sub[k]) is not None:
                    return _num(sub[k])
    return None


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return None


def _read_recipe(run_dir: Path) -> Mapping[str, Any] | None:
    for name in ("recipe.json", "config.json"):
        data = _read_json(run_dir / name)
        if isinstance(data, Mapping):
            return data
    for name in ("recipe.toml", "config.toml"):
        path = run_dir / name
        if path.is_file():
            try:
                import tomllib
            except ModuleNotFoundError:  # pragma: no cover - Python 3.10
                import tomli as tomllib  # type: ignore[no-redef]
            try:
                return tomllib.loads(path.read_text())
            except (OSError, ValueError) as exc:
                log.warning("ignoring unreadable %s: %s", path, exc)
    return None


def _fmt(value: Any, digits: int = 0) -> str:
    """Human formatting for tables: thousands separators, ``-`` for missing."""
    f = _num(value)
    if f is None:
        return "-" if value is None or isinstance(value, float) else html.escape(str(value))
    if abs(f - round(f)) < 1e-9:
        return f"{int(round(f)):,}"
    if abs(f) >= 100:
        return f"{f:,.0f}"
    return f"{f:,.{digits or 2}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


# --------------------------------------------------------------------------------------------
# loading a run
# --------------------------------------------------------------------------------------------


def find_storage(run_dir: str | Path) -> str:
    """The Optuna storage URL of a run folder.

    ``study.db`` in the folder, else the ``storage`` recorded in ``summary.json``/``run.json``.

    Example:
        >>> find_storage("runs/demo")                     # doctest: +SKIP
        'sqlite:////abs/runs/demo/study.db'
    """
    run = Path(run_dir)
    if not run.exists():
        raise StorageError(
            f"run folder '{run}' does not exist; pass the folder a search wrote (runs/<name>)"
        )
    if not run.is_dir():
        raise StorageError(
            f"'{run}' is a file, not a run folder; pass the folder a search wrote (runs/<name>)"
        )
    db = run / "study.db"
    if db.is_file():
        return f"sqlite:///{db.resolve()}"
    for name in ("run.json", "summary.json"):
        data = _read_json(run / name)
        if isinstance(data, Mapping):
            url = data.get("storage")
            if not url and isinstance(data.get("study"), Mapping):
                url = data["study"].get("storage")
            if isinstance(url, str) and url:
                if ":***@" in url:
                    raise StorageError(
                        f"the study of '{run}' is in {url} (password not stored); pass "
                        "--storage with the full URL"
                    )
                return url
    raise StorageError(
        f"'{run}' is not a run folder (no study.db); pass the folder a search wrote (runs/<name>)"
    )


def _load_study(storage: str, study_name: str | None, run: Path) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        names = optuna.get_all_study_names(storage=storage)
    except Exception as exc:  # noqa: BLE001 - any storage failure is the user's to fix
        raise StorageError(
            f"cannot open the study storage of '{run}' ({type(exc).__name__}); check that "
            "study.db is an Optuna database and is readable"
        ) from None
    if not names:
        raise StorageError(f"'{run}' holds no Optuna study; run `hwprune search` into it first")
    if study_name is None:
        if len(names) > 1:
            raise StorageError(
                f"'{run}' holds several studies ({', '.join(names)}); pass --study NAME"
            )
        study_name = names[0]
    elif study_name not in names:
        raise StorageError(
            f"'{run}' has no study '{study_name}' (it has: {', '.join(names)}); pass one of those"
        )
    return optuna.load_study(study_name=study_name, storage=storage)


def _status(trial: Any) -> str:
    state = trial.state.name
    attrs = trial.user_attrs
    if state == "RUNNING" or state == "WAITING":
        return "running"
    if state == "FAIL":
        from hwprune.workers import fail_kind

        return {"cut_off": "cut-off"}.get(fail_kind(trial), fail_kind(trial))
    status = attrs.get("status")
    if status == "failed":
        return "failed"
    if (
        attrs.get("early_stopped")
        or attrs.get("early_stop")
        or status in ("stopped", "early-stopped")
    ):
        return "early-stopped"
    if state == "PRUNED":
        return "infeasible" if attrs.get("feasible") is False else "early-stopped"
    feasible = attrs.get("feasible")
    if feasible is None:
        feasible = _constraints_ok(trial)
    if status in ("infeasible", "over-budget"):
        feasible = False
    return "infeasible" if feasible is False else "feasible"


def _constraints_ok(trial: Any) -> bool | None:
    """Feasibility from Optuna's stored constraints (``<= 0`` is satisfied); None if unset."""
    cons: Any = None
    try:
        cons = trial.constraints  # optuna >= 5: {name: value}
    except Exception:  # noqa: BLE001 - older optuna
        cons = None
    if isinstance(cons, Mapping):
        cons = list(cons.values())
    if not cons:
        cons = trial.system_attrs.get("constraints")
    if isinstance(cons, Sequence) and cons:
        return all((_num(c) or 0.0) <= 0.0 for c in cons)
    return None


def _layers_of(attrs: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    for key in ("layer_table", "layers_table", "per_layer", "layers"):
        value = _maybe_json(attrs.get(key))
        if isinstance(value, Sequence) and value and isinstance(value[0], Mapping):
            return tuple(value)
    est = _maybe_json(attrs.get("estimate"))
    if isinstance(est, Mapping):
        layers = est.get("layers")
        if isinstance(layers, Sequence) and layers and isinstance(layers[0], Mapping):
            return tuple(layers)
    return ()


def _trial_record(trial: Any, objective_names: Sequence[str]) -> TrialRecord:
    attrs = {k: _maybe_json(v) for k, v in trial.user_attrs.items()}
    values = tuple(float(v) for v in trial.values) if trial.values is not None else None
    metrics: dict[str, float | None] = {
        name: _find(attrs, name)
        for name in ("accuracy", "test_accuracy", "fps", "latency_us", "lut", "ff", "bram18", "dsp")
    }
    status = _status(trial)
    # objective values fill metrics the attributes lack (not for infeasible trials: the search
    # reports placeholder worst values for them)
    if values is not None and status != "infeasible":
        for name, v in zip(objective_names, values, strict=False):
            key = next((k for k, al in _ALIASES.items() if name in al), name)
            if key in metrics and metrics[key] is None:
                metrics[key] = v
    design = attrs.get("design")
    binding = attrs.get("binding")
    if binding is None:
        for nested in ("estimate", "resources"):
            sub = attrs.get(nested)
            if isinstance(sub, Mapping) and isinstance(sub.get("binding"), str):
                binding = sub["binding"]
    return TrialRecord(
        number=int(trial.number),
        status=status,
        values=values,
        params=dict(trial.params),
        design=design if isinstance(design, Mapping) else None,
        layers=_layers_of(attrs),
        binding=binding if isinstance(binding, str) else None,
        user_attrs=attrs,
        **metrics,
    )


def _objective_names(study: Any, run_meta: Mapping[str, Any]) -> tuple[str, ...]:
    names = None
    try:
        names = study.metric_names
    except Exception:  # noqa: BLE001 - older storages
        names = None
    if not names:
        names = run_meta.get("objectives") or study.user_attrs.get("objectives")
        if isinstance(names, Sequence) and names and isinstance(names[0], Mapping):
            names = [n.get("name") for n in names]
    n = len(study.directions)
    if not names or len(names) != n:
        names = ["accuracy", "fps", "lut"][:n] if n <= 3 else [f"objective_{i}" for i in range(n)]
    return tuple(str(x) for x in names)


def load_run(
    run_dir: str | Path, study_name: str | None = None, storage: str | None = None
) -> RunData:
    """Read a run folder (Optuna study + the files beside it) into a :class:`RunData`.

    Raises :class:`hwprune.errors.StorageError` when the folder is missing, is a file, or holds
    no readable study.

    Example:
        >>> run = load_run("runs/tfc-pynq-z2")             # doctest: +SKIP
        >>> run.chosen.accuracy                            # doctest: +SKIP
        0.962
    """
    run = Path(run_dir)
    if storage is None:
        storage = find_storage(run)
    elif not run.is_dir():
        raise StorageError(
            f"run folder '{run}' does not exist or is not a folder; pass the folder a search "
            "wrote (runs/<name>)"
        )
    summary = _read_json(run / "summary.json")
    summary = summary if isinstance(summary, Mapping) else {}
    meta = _read_json(run / "run.json")
    meta = meta if isinstance(meta, Mapping) else {}
    if study_name is None:
        in_summary = summary.get("study")
        if isinstance(in_summary, Mapping):
            in_summary = in_summary.get("name")
        study_name = meta.get("study") or meta.get("study_name") or in_summary or None
        study_name = study_name if isinstance(study_name, str) else None
    study = _load_study(storage, study_name, run)
    objective_names = _objective_names(study, {**summary, **meta})
    directions = tuple(d.name.lower() for d in study.directions)
    trials = tuple(_trial_record(t, objective_names) for t in study.get_trials(deepcopy=False))

    recipe = _read_recipe(run) or _maybe_json(study.user_attrs.get("recipe"))
    recipe = recipe if isinstance(recipe, Mapping) else None
    target = (
        _maybe_json(study.user_attrs.get("target")) or meta.get("target") or summary.get("target")
    )
    if isinstance(target, str):
        target = {"name": target}
    target = target if isinstance(target, Mapping) else None
    if target is None and recipe is not None:
        t = recipe.get("target")
        target = {"name": t} if isinstance(t, str) else (t if isinstance(t, Mapping) else None)
    target = _enrich_target(target, study.user_attrs.get("target_toml"))

    if str((target or {}).get("kind", "")).lower() == "gpu":
        # the search stores 0 LUT/FF/BRAM/DSP for GPU targets: not applicable, not zero
        trials = tuple(replace(t, lut=None, ff=None, bram18=None, dsp=None) for t in trials)
    pareto_numbers = _pareto_numbers(run, study, trials, directions)
    chosen, chosen_info = _chosen(run, summary, study, trials, pareto_numbers)
    parent = (
        _maybe_json(study.user_attrs.get("parent"))
        or summary.get("parent")
        or _read_json(run / "parent.json")
    )
    parent = dict(parent) if isinstance(parent, Mapping) else None
    if parent is not None and "design" not in parent and chosen is not None:
        design = _parent_design_from(chosen.design, parent.get("widths"))
        if design is not None:
            parent["design"] = design
    export = _export_info(run, summary)
    return RunData(
        run_dir=run,
        study_name=study.study_name,
        storage=storage,
        objective_names=objective_names,
        directions=directions,
        trials=trials,
        recipe=recipe,
        target=target,
        chosen=chosen,
        chosen_info=chosen_info,
        parent=parent,
        export=export,
        pareto_numbers=pareto_numbers,
    )


def _parent_design_from(design: Mapping[str, Any] | None, widths: Any) -> dict[str, Any] | None:
    """The float parent's design: ``design`` with the parent's widths and 32-bit weights."""
    if not design or not isinstance(widths, Sequence) or isinstance(widths, str):
        return None
    layers, k = [], 0
    for layer in design.get("layers") or []:
        layer = dict(layer)
        if layer.get("op") in ("conv", "fc"):
            if k < len(widths):
                layer["out_ch" if layer["op"] == "conv" else "out"] = int(widths[k])
            k += 1
            layer["wbits"], layer["abits"] = 32, None
            layer.pop("pe", None)
            layer.pop("simd", None)
        layers.append(layer)
    return {**design, "layers": layers}


def _enrich_target(
    target: Mapping[str, Any] | None, target_toml: Any = None
) -> Mapping[str, Any] | None:
    """Add capacities (LUT/BRAM/DSP) from ``hwprune.targets`` when the run recorded only a name
    (or from the target file's text the study stored, for a target that is not shipped)."""
    if target is None or not target.get("name"):
        return target
    if any(k in target for k in ("lut", "bram18", "budget", "resources")):
        return target
    t: Any = None
    try:
        from hwprune.targets import load_target

        t = load_target(str(target["name"]))
    except Exception:  # noqa: BLE001 - a report must not fail on a target renamed since
        t = None
    if t is None and isinstance(target_toml, str) and target_toml.strip():
        try:
            import tomllib

            data = tomllib.loads(target_toml)
            return {**data, **target}
        except Exception:  # noqa: BLE001
            return target
    if t is None:
        return target
    out = dict(target)
    for key in (
        "kind",
        "part",
        "lut",
        "ff",
        "bram18",
        "dsp",
        "uram",
        "clock_mhz",
        "util_cap",
        "description",
    ):
        v = getattr(t, key, None)
        if v is not None and key not in out:
            out[key] = v
    if "kind" not in out:
        out["kind"] = "fpga" if hasattr(t, "lut") else "gpu"
    return out


def _budget(
    target: Mapping[str, Any] | None, resource: str, recipe: Mapping[str, Any] | None = None
) -> float | None:
    """What the search allowed of ``resource``: the recipe's ``max_<r>`` if set, else the
    target's capacity times its utilisation cap."""
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


def _pareto_numbers(
    run: Path, study: Any, trials: Sequence[TrialRecord], directions: Sequence[str]
) -> tuple[int, ...]:
    data = _read_json(run / "pareto.json")
    if isinstance(data, Mapping):
        data = data.get("trials") or data.get("front") or data.get("pareto")
    if isinstance(data, Sequence) and not isinstance(data, str):
        nums = []
        for item in data:
            n = item.get("trial", item.get("number")) if isinstance(item, Mapping) else item
            if isinstance(n, int):
                nums.append(n)
        if nums:
            return tuple(nums)
    feasible = [t for t in trials if t.status == "feasible" and t.values is not None]
    return tuple(t.number for t in pareto_front(feasible, directions))


def pareto_front(trials: Sequence[TrialRecord], directions: Sequence[str]) -> list[TrialRecord]:
    """The non-dominated trials among ``trials`` for the study's ``directions``.

    Example:
        >>> a = TrialRecord(0, "feasible", values=(0.9, 100.0))
        >>> b = TrialRecord(1, "feasible", values=(0.8, 50.0))
        >>> [t.number for t in pareto_front([a, b], ["maximize", "maximize"])]
        [0]
    """
    from hwprune.pareto import pareto_indices

    keep = set(pareto_indices([tuple(t.values or ()) for t in trials], directions))
    return [t for i, t in enumerate(trials) if i in keep]


def _chosen(
    run: Path,
    summary: Mapping[str, Any],
    study: Any,
    trials: Sequence[TrialRecord],
    pareto_numbers: Sequence[int],
) -> tuple[TrialRecord | None, Mapping[str, Any] | None]:
    """The chosen design: the trial named by the search (``summary.json`` ``chosen``, or
    ``best/*.json``), with the final fine-tune's numbers and ``best/``'s estimate merged in;
    without a record, the most accurate design of the front."""
    info: Any = summary.get("chosen") or _maybe_json(study.user_attrs.get("chosen"))
    if not isinstance(info, Mapping):
        for candidate in ("best.json", "chosen.json", "summary.json"):
            info = _read_json(run / "best" / candidate)
            if isinstance(info, Mapping):
                break
    info = dict(info) if isinstance(info, Mapping) else {}
    for extra in ("accuracy.json",):  # final fine-tune: val_accuracy, test_accuracy
        data = _read_json(run / "best" / extra)
        if isinstance(data, Mapping):
            info = {**data, **info}
    number = info.get("trial", info.get("number", info.get("trial_number")))
    if number is None:
        number = study.user_attrs.get("chosen_trial")
    by_number = {t.number: t for t in trials}
    chosen = by_number.get(number) if isinstance(number, int) else None
    if chosen is None and pareto_numbers:
        # fall back: most accurate feasible design on the front
        front = [by_number[n] for n in pareto_numbers if n in by_number]
        front = [t for t in front if t.accuracy is not None]
        if front:
            chosen = max(front, key=lambda t: t.accuracy or 0.0)
    if chosen is None:
        return None, (info or None)
    updates: dict[str, Any] = {}
    v = _find(info, "test_accuracy")
    if v is not None:
        updates["test_accuracy"] = v
    # the trial's own per-layer table matches the totals the search chose by; best/'s estimate
    # (after an export: of the lowered graph) only fills in when the trial has none
    if not chosen.layers:
        est = _read_json(run / "best" / "estimate.json")
        layers = _layers_of(info) or (_layers_of({"estimate": est}) if est else ())
        if layers:
            updates["layers"] = layers
    design = info.get("design")
    if not isinstance(design, Mapping):
        design = _read_json(run / "best" / "design.json")
    if isinstance(design, Mapping) and design.get("layers"):
        updates["design"] = design
    return replace(chosen, **updates), (info or None)


_CSIM_CYCLES = re.compile(r"^#\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", re.MULTILINE)


def parse_csim_log(text: str) -> dict[str, Any]:
    r"""The C simulation's verdict and cycles check from an export's ``csim.log``.

    The testbench prints ``HWPRUNE_CSIM samples=N mismatching_samples=M result=R``; the
    export appends a ``# kernel counted ir cost_model`` table of cycles per frame.

    Example:
        >>> log = ("HWPRUNE_CSIM samples=4 mismatching_samples=0 result=BIT-EXACT\n"
        ...        "# cycles per frame: kernel, counted in csim, kernel loop model, cost model\n"
        ...        "# fc0  16.0  16  16\n")
        >>> r = parse_csim_log(log)
        >>> r["bit_exact"], r["cycles"][0]["match"]
        (True, True)
    """
    from hwprune.export.csim import CSIM_RESULT

    out: dict[str, Any] = {}
    m = CSIM_RESULT.search(text)
    if m is not None:
        out.update(
            samples=int(m.group(1)),
            mismatching_samples=int(m.group(2)),
            result=m.group(3),
            bit_exact=m.group(3) == "BIT-EXACT",
        )
        first = next((ln for ln in text.splitlines() if ln.startswith("HWPRUNE_MISMATCH")), None)
        if first:
            out["first_mismatch"] = first
    rows = []
    for km in _CSIM_CYCLES.finditer(text):
        kernel, counted, ir, cost = km.groups()
        if kernel.endswith(":") or kernel == "cycles":
            continue
        vals = [_num(v) if v != "None" else None for v in (counted, ir, cost)]
        known = [v for v in vals if v is not None]
        rows.append(
            {
                "kernel": kernel,
                "counted": vals[0],
                "ir": vals[1],
                "cost_model": vals[2],
                "match": len(known) < 2 or max(known) - min(known) < 1e-6,
            }
        )
    if rows:
        out["cycles"] = rows
    return out


def _export_info(run: Path, summary: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The export of the chosen design: the search's record plus what ``best/`` holds (C
    simulation verdict and cycles check from ``csim.log``, the files an engineer takes away)."""
    info: dict[str, Any] = {}
    for candidate in (run / "best" / "export.json", run / "export.json"):
        data = _read_json(candidate)
        if isinstance(data, Mapping):
            info.update(data)
            break
    data = summary.get("export")
    if isinstance(data, Mapping):
        info = {**data, **info}
    # the search exports into best/; `hwprune export --run` into best/export/ (newest wins)
    candidates = [
        d
        for d in (run / "best", run / "best" / "export")
        if (d / "csim.log").is_file() or (d / "hls").is_dir()
    ]
    best = (
        max(candidates, key=lambda d: (d / "hls").stat().st_mtime if (d / "hls").exists() else 0.0)
        if candidates
        else run / "best"
    )
    if best != run / "best":
        info["dir"] = str(best)
    log_path = best / "csim.log"
    if log_path.is_file():
        try:
            parsed = parse_csim_log(log_path.read_text(errors="replace"))
        except OSError:
            parsed = {}
        if parsed:
            info["csim"] = {
                **(info["csim"] if isinstance(info.get("csim"), Mapping) else {}),
                **{k: v for k, v in parsed.items() if k != "cycles"},
            }
            if "cycles" in parsed:
                info["cycles"] = parsed["cycles"]
    est = _read_json(best / "estimate.json")
    if isinstance(est, Mapping) and (best / "hls").is_dir():
        info["estimate"] = {
            k: est.get(k)
            for k in ("lut", "ff", "bram18", "dsp", "fps", "latency_us", "fits", "binding")
        }
    if best.is_dir():
        from hwprune.export.core import EXPORT_ENTRIES

        files = [name for name in EXPORT_ENTRIES if (best / name).exists()]
        if files and ("hls" in files or "model.qonnx.onnx" in files):
            info["files"] = files
    return info or None


# --------------------------------------------------------------------------------------------
# derived numbers
# --------------------------------------------------------------------------------------------


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


def _parent_design(run: RunData) -> Mapping[str, Any] | None:
    if run.parent and isinstance(run.parent.get("design"), Mapping):
        return run.parent["design"]
    return None


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
    numbers = sorted(t.number for t in run.trials if t.status != "running")
    info: dict[str, Any] = {
        "objectives": [run.objective_names[i] for i in idx],
        "reference": 1.1,
        "normalised": True,
    }
    if not feas or not idx:
        return numbers, [0.0] * len(numbers), info
    raw = np.array([[t.values[i] for i in idx] for t in feas], dtype=float)
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
    """Exact hypervolume of minimisation ``points`` against ``ref``."""
    from hwprune.pareto import hypervolume

    pts = [tuple(float(v) for v in p) for p in points]
    return hypervolume(pts, ["minimize"] * len(ref), tuple(float(r) for r in ref))


_COMPUTE_OPS = ("conv", "fc", "mvau", "vvau")


def _overheads(trial: TrialRecord) -> Mapping[str, Mapping[str, Any]]:
    est = trial.user_attrs.get("estimate")
    over = est.get("overheads") if isinstance(est, Mapping) else None
    return over if isinstance(over, Mapping) else {}


def layer_table(trial: TrialRecord | None, parent: Mapping[str, Any] | None = None) -> dict:
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
    design_layers = [
        dict(layer)
        for layer in ((trial.design or {}).get("layers") or [])
        if layer.get("op") in ("conv", "fc")
    ]
    parent_layers: list[int] = []
    if parent:
        pdesign = parent.get("design") if isinstance(parent.get("design"), Mapping) else None
        pl = parent.get("widths") or parent.get("channels")
        if isinstance(pl, Sequence) and not isinstance(pl, str):
            parent_layers = [int(x) for x in pl]
        elif pdesign:
            parent_layers = [
                int(layer.get("out_ch", layer.get("out", 0)))
                for layer in pdesign.get("layers", [])
                if layer.get("op") in ("conv", "fc")
            ]
    src = list(trial.layers) or design_layers
    rows = []
    k = 0  # index of the next conv/fc of the design
    for i, node in enumerate(src):
        op = str(node.get("op", node.get("kind", "")))
        compute = op.lower() in _COMPUTE_OPS
        d: Mapping[str, Any] = {}
        ch = parent_ch = None
        if compute:
            d = design_layers[k] if k < len(design_layers) else {}
            ch = node.get("channels", d.get("out_ch", d.get("out")))
            parent_ch = node.get("parent_channels")
            if parent_ch is None and k < len(parent_layers):
                parent_ch = parent_layers[k]
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
    over = _overheads(trial)
    if over and rows:
        rows.append(
            {
                "name": "overheads",
                "op": ", ".join(
                    f"{name} ×{int(v.get('count', 1))}"
                    if _num(v.get("count")) not in (None, 1)
                    else name
                    for name, v in over.items()
                    if isinstance(v, Mapping)
                ),
                "channels": None,
                "parent_channels": None,
                "wbits": None,
                "abits": None,
                "pe": None,
                "simd": None,
                "res_type": None,
                "cycles": None,
                **{
                    r: float(
                        sum(_num(v.get(r)) or 0.0 for v in over.values() if isinstance(v, Mapping))
                    )
                    for r in ("lut", "bram18", "dsp")
                },
                "compute": False,
            }
        )
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


def binding_resource(run: RunData, trial: TrialRecord | None) -> str | None:
    """The resource closest to the target's budget for ``trial`` (the cost model's word first)."""
    if trial is None:
        return None
    if trial.binding:
        return trial.binding
    est = trial.user_attrs.get("estimate")
    util = est.get("util") if isinstance(est, Mapping) else None
    if isinstance(util, Mapping) and util:
        used = {k: _num(v) for k, v in util.items() if _num(v) is not None}
        if used:
            return max(used, key=lambda k: used[k])
    best, best_u = None, -1.0
    for r in ("lut", "ff", "bram18", "dsp"):
        used, cap = getattr(trial, r), _budget(run.target, r, run.recipe)
        if used is not None and cap:
            u = used / cap
            if u > best_u:
                best, best_u = r, u
    return best


# --------------------------------------------------------------------------------------------
# summary.json
# --------------------------------------------------------------------------------------------


def _trial_brief(t: TrialRecord) -> dict[str, Any]:
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


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def build_report_section(run: RunData) -> dict[str, Any]:
    """The ``report`` section of ``summary.json`` (schema: ``docs/summary_schema.md``).

    Example:
        >>> s = build_report_section(load_run("runs/demo"))  # doctest: +SKIP
        >>> s["schema"]                                      # doctest: +SKIP
        'hwprune.report/1'
    """
    statuses = ("feasible", "infeasible", "early-stopped", "failed", "cut-off", "surplus")
    counts = {k: 0 for k in (*statuses, "running")}
    for t in run.trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    by_number = {t.number: t for t in run.trials}
    numbers, hv, hv_info = hypervolume_history(run)
    chosen = run.chosen
    table = layer_table(chosen, run.parent)
    chosen_doc = None
    if chosen is not None:
        size = design_size(chosen.design)
        chosen_doc = {
            **_trial_brief(chosen),
            "binding": binding_resource(run, chosen),
            "bottleneck": (
                table["rows"][table["bottleneck"]]["name"]
                if table["bottleneck"] is not None
                else None
            ),
            "params": size[0] if size else None,
            "weight_bits": size[1] if size else None,
            "final_val_accuracy": _num((run.chosen_info or {}).get("val_accuracy")),
            "rule": (run.chosen_info or {}).get("rule"),
            "design": chosen.design,
            "layers": table["rows"],
        }
    parent_doc = None
    comparison = None
    if run.parent:
        psize = design_size(_parent_design(run))
        parent_doc = {
            "accuracy": _find(run.parent, "accuracy"),
            "test_accuracy": _find(run.parent, "test_accuracy"),
            "params": _find(run.parent, "params") or (psize[0] if psize else None),
            "weight_bits": _find(run.parent, "weight_bits") or (psize[1] if psize else None),
            "fps": _find(run.parent, "fps"),
        }
        if chosen_doc is not None:
            comparison = {}
            acc_c, acc_p = chosen_doc["accuracy"], parent_doc["accuracy"]
            if acc_c is not None and acc_p is not None:
                comparison["accuracy_delta"] = acc_c - acc_p
            for key in ("params", "weight_bits"):
                c, p = chosen_doc[key], parent_doc[key]
                if c is not None and p:
                    comparison[f"{key}_ratio"] = c / p
    doc = {
        "schema": REPORT_SCHEMA,
        "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "run_dir": str(run.run_dir),
        "study": {
            "name": run.study_name,
            "storage": redact_url(run.storage),
            "objectives": list(run.objective_names),
            "directions": list(run.directions),
            "dashboard": f"optuna-dashboard {redact_url(run.storage)}",
        },
        "recipe": run.recipe,
        "target": run.target,
        "trials": {"total": len(run.trials), **counts},
        "pareto": [_trial_brief(by_number[n]) for n in run.pareto_numbers if n in by_number],
        "chosen": chosen_doc,
        "parent": parent_doc,
        "comparison": comparison,
        "hypervolume": {
            **hv_info,
            "trials": numbers,
            "values": hv,
        },
        "export": run.export,
    }
    return _jsonable(doc)


def _base_summary(run: RunData) -> dict[str, Any]:
    """A ``summary.json`` in the search's shape, for runs whose search did not write one
    (cut off before its end, or a storage filled by workers only)."""
    counts = {
        "total": len(run.trials),
        "complete": 0,
        "feasible": 0,
        "infeasible": 0,
        "stopped": 0,
        "failed": 0,
        "cut_off": 0,
        "surplus": 0,
        "running": 0,
        "waiting": 0,
    }
    rename = {"early-stopped": "stopped", "cut-off": "cut_off"}
    for t in run.trials:
        counts[rename.get(t.status, t.status)] = counts.get(rename.get(t.status, t.status), 0) + 1
        if t.status in ("feasible", "infeasible", "early-stopped"):
            counts["complete"] += 1
    by_number = {t.number: t for t in run.trials}
    parent = run.parent or {}
    return {
        "schema": SUMMARY_SCHEMA,
        "study": run.study_name,
        "storage": redact_url(run.storage),
        "run_dir": str(run.run_dir),
        "recipe": run.recipe,
        "target": run.target_name,
        "objectives": list(run.objective_names),
        "directions": list(run.directions),
        "trials": counts,
        "parent": {
            "val_accuracy": _find(parent, "accuracy"),
            "test_accuracy": _find(parent, "test_accuracy"),
            "widths": parent.get("widths"),
        }
        if parent
        else None,
        "front": [
            {
                "trial": n,
                "accuracy": by_number[n].accuracy,
                "values": dict(zip(run.objective_names, by_number[n].values or (), strict=False)),
                "hw": {
                    k: getattr(by_number[n], k)
                    for k in ("fps", "latency_us", "lut", "ff", "bram18", "dsp")
                },
                "design": by_number[n].design,
            }
            for n in run.pareto_numbers
            if n in by_number
        ],
        "hypervolume": None,
        "chosen": None
        if run.chosen is None
        else {
            "trial": run.chosen.number,
            "values": dict(zip(run.objective_names, run.chosen.values or (), strict=False)),
            "search_val_accuracy": run.chosen.accuracy,
            "test_accuracy": run.chosen.test_accuracy,
        },
        "export": run.export,
    }


def build_summary(run: RunData, existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``summary.json`` document: the search's summary (``existing``, or one derived from
    the study when the search wrote none) with the report's ``report`` section added.

    Example:
        >>> s = build_summary(load_run("runs/demo"))      # doctest: +SKIP
        >>> s["schema"], s["report"]["schema"]            # doctest: +SKIP
        (1, 'hwprune.report/1')
    """
    base = dict(existing) if existing else _base_summary(run)
    base["report"] = build_report_section(run)
    return _jsonable(base)


# --------------------------------------------------------------------------------------------
# plots (matplotlib Figure objects, no pyplot state)
# --------------------------------------------------------------------------------------------

_STYLE = {
    "feasible": {"marker": "o", "color": "#4C72B0", "label": "feasible trial"},
    "early-stopped": {"marker": "^", "color": "#DD8452", "label": "early-stopped trial"},
    "infeasible": {"marker": "x", "color": "#9a9a9a", "label": "infeasible (over budget)"},
}


def _perf_axis(run: RunData) -> tuple[str, str, bool]:
    """``(metric, axis label, larger is better)`` for the x axis of the Pareto plot."""
    names = [n.lower() for n in run.objective_names]
    has_fps = any(t.fps is not None for t in run.trials)
    has_lat = any(t.latency_us is not None for t in run.trials)
    if any("latency" in n for n in names) and has_lat or not has_fps and has_lat:
        return "latency_us", "latency (µs, log scale)", False
    return "fps", "throughput (frames/s, log scale)", True


def _new_figure(width: float = 6.4, height: float = 4.4) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig


def plot_pareto(run: RunData) -> Any:
    """Accuracy vs throughput (or latency): trials by status, the front, chosen and parent.

    Example:
        >>> fig = plot_pareto(load_run("runs/demo"))       # doctest: +SKIP
    """
    metric, xlabel, larger = _perf_axis(run)
    fig = _new_figure()
    ax = fig.add_subplot()
    for status, style in _STYLE.items():
        pts = [
            (getattr(t, metric), t.accuracy)
            for t in run.trials
            if t.status == status and getattr(t, metric) is not None and t.accuracy is not None
        ]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.scatter(xs, [100 * y for y in ys], s=28, alpha=0.75, **style)
    rug = _untrained_rug(ax, run, metric)
    by_number = {t.number: t for t in run.trials}
    front = [
        by_number[n]
        for n in run.pareto_numbers
        if n in by_number
        and getattr(by_number[n], metric) is not None
        and by_number[n].accuracy is not None
    ]
    if front:
        front.sort(key=lambda t: getattr(t, metric))
        xs = [getattr(t, metric) for t in front]
        ys = [100 * (t.accuracy or 0.0) for t in front]
        ax.step(
            xs,
            ys,
            where="post" if not larger else "pre",
            color="#C44E52",
            lw=1.2,
            alpha=0.8,
            zorder=2,
        )
        ax.scatter(
            xs,
            ys,
            s=46,
            facecolors="none",
            edgecolors="#C44E52",
            linewidths=1.4,
            label="Pareto front",
            zorder=4,
        )
    ch = run.chosen
    if ch is not None and getattr(ch, metric) is not None and ch.accuracy is not None:
        ax.scatter(
            [getattr(ch, metric)],
            [100 * ch.accuracy],
            marker="*",
            s=260,
            color="#D62728",
            edgecolors="black",
            linewidths=0.8,
            zorder=6,
            label=f"chosen design (trial {ch.number})",
        )
    if run.parent:
        pacc = _find(run.parent, "accuracy")
        px = _find(run.parent, metric)
        if pacc is not None and px is not None:
            ax.scatter(
                [px], [100 * pacc], marker="D", s=70, color="black", zorder=6, label="float parent"
            )
        elif pacc is not None:
            ax.axhline(
                100 * pacc,
                color="black",
                ls="--",
                lw=1.0,
                label=f"float parent ({100 * pacc:.2f} %)",
            )
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
    ax.update_datalim(
        [
            (min(lo, xlo), ax.dataLim.y0 if ax.dataLim.height > 0 else 0.0),
            (max(hi, xhi), ax.dataLim.y0 if ax.dataLim.height > 0 else 0.0),
        ],
        updatey=False,
    )
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
        cap = _budget(run.target, resource, run.recipe)
    if cap:
        label = "required fps" if resource == "fps" else f"{_RESOURCE_LABEL[resource]} budget"
        (ax.axvline if vertical else ax.axhline)(cap, color="#55A868", ls=":", lw=1.5, label=label)


def plot_resources(run: RunData) -> Any | None:
    """Accuracy vs LUT and vs BRAM18 (two panels), budgets drawn; ``None`` without FPGA data."""
    if not any((t.lut or 0) > 0 or (t.bram18 or 0) > 0 for t in run.trials):
        return None  # GPU targets (the search stores zero LUT/BRAM there)
    fig = _new_figure(10.0, 4.2)
    axes = fig.subplots(1, 2, sharey=True)
    rug = False
    for ax, res in zip(axes, ("lut", "bram18"), strict=True):
        for status, style in _STYLE.items():
            pts = [
                (getattr(t, res), t.accuracy)
                for t in run.trials
                if t.status == status and getattr(t, res) is not None and t.accuracy is not None
            ]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.scatter(xs, [100 * y for y in ys], s=26, alpha=0.75, **style)
        rug = _untrained_rug(ax, run, res) or rug
        ch = run.chosen
        if ch is not None and getattr(ch, res) is not None and ch.accuracy is not None:
            ax.scatter(
                [getattr(ch, res)],
                [100 * ch.accuracy],
                marker="*",
                s=220,
                color="#D62728",
                edgecolors="black",
                linewidths=0.8,
                zorder=5,
                label="chosen design",
            )
        _budget_line(ax, run, res, vertical=True)
        ax.set_xlabel(f"{_RESOURCE_LABEL[res]} (estimated)")
        ax.grid(True, alpha=0.3)
        ax.set_title(f"accuracy vs {_RESOURCE_LABEL[res]}")
    axes[0].set_ylabel("validation accuracy (%)")
    if rug:
        _room_below(axes[0])  # shared y axis: once
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=8, loc="best", framealpha=0.85)
    return fig


def plot_hypervolume(run: RunData) -> Any:
    """Hypervolume of the feasible front over trials (search progress)."""
    numbers, values, info = hypervolume_history(run)
    fig = _new_figure(6.4, 3.4)
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
    fig = _new_figure(6.4, 3.2)
    ax = fig.add_subplot()
    names = [str(r["name"]) for r in rows]
    cyc = [r["cycles"] for r in rows]
    worst = max(cyc)
    colors = ["#C44E52" if c == worst else "#4C72B0" for c in cyc]
    ax.bar(range(len(rows)), cyc, color=colors)
    ax.set_xticks(range(len(rows)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("cycles per frame")
    ax.set_title("chosen design: cycles per layer (bottleneck in red)")
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def _save(fig: Any, out_dir: Path, stem: str) -> tuple[str, Path, Path]:
    """Write PNG + SVG, return ``(base64 PNG, png path, svg path)``."""
    png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    data = buf.getvalue()
    png.write_bytes(data)
    fig.savefig(svg, format="svg")
    return base64.b64encode(data).decode("ascii"), png, svg


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;line-height:1.4;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;
border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right;white-space:nowrap}
td.l{white-space:normal}
th{background:#f2f2f2}td.l,th.l{text-align:left}
tr.bottleneck td{background:#fde2e2;font-weight:600}
th.binding,td.binding{background:#fff3c4}
tr.bottleneck td.binding{background:#f9caa7}
.muted{color:#777}.ok{color:#1a7f37;font-weight:600}.bad{color:#c62828;font-weight:600}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
code,pre{background:#f6f8fa;padding:.1em .3em;border-radius:3px}
pre{padding:.6em;overflow-x:auto;font-size:.85em}
.kv td:first-child{text-align:left;font-weight:600}
"""


def _kv_table(items: Iterable[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td class='l'>{v}</td></tr>" for k, v in items)
    return f"<table class='kv'>{rows}</table>"


def _figure_html(b64: str, stem: str, caption: str) -> str:
    return (
        f"<figure id='fig-{stem}'><img src='data:image/png;base64,{b64}' "
        f"alt='{html.escape(caption)}' data-plot='{stem}'>"
        f"<figcaption>{html.escape(caption)} (also <a href='{stem}.svg'>{stem}.svg</a>, "
        f"<a href='{stem}.png'>{stem}.png</a>)</figcaption></figure>"
    )


def _layer_table_html(run: RunData) -> str:
    table = layer_table(run.chosen, run.parent)
    if not table["rows"]:
        return "<p class='muted'>No per-layer data was stored for the chosen design.</p>"
    binding = binding_resource(run, run.chosen)
    cols = [
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
    ]
    cols = [
        c
        for c in cols
        if c[0] in ("name", "op", "channels")
        or any(row.get(c[0]) is not None for row in table["rows"])
    ]
    head = "".join(
        f"<th class='{cls}{' binding' if key == binding else ''}'>{html.escape(label)}</th>"
        for key, label, cls in cols
    )
    body = []
    for row in table["rows"]:
        cells = []
        for key, _, cls in cols:
            if key == "channels":
                ch, pch = row["channels"], row["parent_channels"]
                text = _fmt(ch) + (f" / {_fmt(pch)}" if pch is not None else "")
            elif key in ("lut", "bram18", "dsp"):
                share = row.get(f"share_{key}")
                text = _fmt(row[key], 1) + (
                    f" <span class='muted'>({100 * share:.0f} %)</span>"
                    if share is not None
                    else ""
                )
            elif key == "abits" and row["abits"] is None and row["wbits"] is not None:
                text = "acc."
            elif key == "res_type":
                text = {"lut": "LUTs", "dsp": "DSPs"}.get(str(row[key]), _fmt(row[key]))
            else:
                text = _fmt(row[key]) if key not in ("name", "op") else html.escape(str(row[key]))
            klass = " ".join(x for x in (cls, "binding" if key == binding else "") if x)
            cells.append(f"<td class='{klass}'>{text}</td>")
        klass = " class='bottleneck'" if row.get("bottleneck") else ""
        body.append(f"<tr{klass}>{''.join(cells)}</tr>")
    note = []
    if table["bottleneck"] is not None:
        slow = [str(r["name"]) for r in table["rows"] if r.get("bottleneck")]
        names = ", ".join(f"<b>{html.escape(n)}</b>" for n in slow)
        cycles = _fmt(table["totals"].get("max_cycles"))
        note.append(
            f"Bottleneck layer{'s' if len(slow) > 1 else ''} (most cycles, {cycles} per frame, "
            f"sets the frame rate): {names}{' (tied)' if len(slow) > 1 else ''}."
        )
    if binding:
        used = getattr(run.chosen, binding, None) if run.chosen else None
        cap = _budget(run.target, binding, run.recipe)
        extra = f" ({_fmt(used)} of {_fmt(cap)}, {100 * used / cap:.0f} %)" if used and cap else ""
        what = (
            "Binding resource"
            if run.chosen is not None and run.chosen.binding
            else "Most-used resource (under budget)"
        )
        note.append(f"{what}: <b>{_RESOURCE_LABEL.get(binding, binding)}</b>{extra}.")
    return (
        f"<table id='layer-table'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}"
        f"</tbody></table><p>{' '.join(note)}</p>"
    )


def _parent_html(run: RunData, summary: Mapping[str, Any]) -> str:
    ch, par, cmp_ = summary.get("chosen"), summary.get("parent"), summary.get("comparison")
    if not par:
        return "<p class='muted'>The run did not record the float parent.</p>"
    ch = ch or {}

    def row(label: str, key: str, pct: bool = False) -> str:
        f = _pct if pct else _fmt
        return (
            f"<tr><td class='l'>{label}</td><td>{f(par.get(key))}</td>"
            f"<td>{f(ch.get(key))}</td></tr>"
        )

    rows = [
        row("validation accuracy", "accuracy", True),
        row("test accuracy", "test_accuracy", True),
        row("parameters", "params"),
        row("weight memory (bits)", "weight_bits"),
    ]
    extra = []
    if cmp_:
        if "accuracy_delta" in cmp_:
            extra.append(f"accuracy change {100 * cmp_['accuracy_delta']:+.2f} points")
        if "params_ratio" in cmp_:
            extra.append(f"{100 * cmp_['params_ratio']:.1f} % of the parameters")
        if "weight_bits_ratio" in cmp_:
            extra.append(f"{100 * cmp_['weight_bits_ratio']:.2f} % of the weight memory")
    return (
        "<table id='parent-table'><tr><th class='l'></th><th>float parent</th>"
        f"<th>chosen design</th></tr>{''.join(rows)}</table>"
        + (f"<p>{'; '.join(extra)}.</p>" if extra else "")
    )


def _export_html(run: RunData) -> str:
    ex = run.export
    if not ex:
        return (
            "<p class='muted'>Not exported: run <code>hwprune export "
            f"{html.escape(str(run.run_dir))}</code> (or search without --no-export).</p>"
        )
    items = []
    if ex.get("ok") is False:
        items.append(
            ("export", f"<span class='bad'>failed</span>: {html.escape(str(ex.get('error', '')))}")
        )
    csim = ex.get("csim")
    if isinstance(csim, Mapping):
        exact = csim.get("bit_exact", csim.get("passed"))
        detail = (
            f" ({csim['samples']} samples, {csim.get('mismatching_samples', 0)} mismatching)"
            if "samples" in csim
            else ""
        )
        items.append(
            (
                "C simulation (g++)",
                (
                    "<span class='ok'>bit-exact</span>"
                    if exact
                    else "<span class='bad'>NOT bit-exact</span>"
                    if exact is False
                    else "-"
                )
                + detail,
            )
        )
        if csim.get("first_mismatch"):
            items.append(("first mismatch", html.escape(str(csim["first_mismatch"]))))
    elif csim is False:
        items.append(("C simulation (g++)", "not run"))
    if "bit_exact" in ex and not isinstance(csim, Mapping):
        items.append(
            (
                "bit-exact",
                "<span class='ok'>yes</span>" if ex["bit_exact"] else "<span class='bad'>no</span>",
            )
        )
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
                (
                    f"<span class='ok'>all {len(checked)} kernels agree</span> (counted in C "
                    "simulation = kernel loop model = cost model)"
                    if not bad
                    else f"<span class='bad'>{len(bad)} kernel(s) differ</span>: "
                    + html.escape(", ".join(bad))
                ),
            )
        )
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
            parts.append(f"{_fmt(mine)} {_RESOURCE_LABEL[r]}{diff}")
        if _num(est.get("fps")) is not None:
            parts.append(f"{_fmt(est['fps'])} frames/s")
        items.append(("estimate of the exported graph", ", ".join(parts)))
    if ex.get("dir"):
        items.append(("folder", f"<code>{html.escape(str(ex['dir']))}</code>"))
    if ex.get("files"):
        items.append(("files", ", ".join(f"<code>{html.escape(f)}</code>" for f in ex["files"])))
    timings = ex.get("timings_s")
    if isinstance(timings, Mapping) and timings.get("total_s") is not None:
        items.append(("export time", f"{_num(timings['total_s']) or 0:.1f} s"))
    out = _kv_table(items)
    if cycles:
        rows = "".join(
            f"<tr{'' if c.get('match', True) else ' class=bottleneck'}>"
            f"<td class='l'>{html.escape(str(c['kernel']))}</td><td>{_fmt(c.get('counted'))}"
            f"</td><td>{_fmt(c.get('ir'))}</td><td>{_fmt(c.get('cost_model'))}</td>"
            f"<td>{'✓' if c.get('match', True) else '✗'}</td></tr>"
            for c in cycles
        )
        out += (
            "<table id='cycles-table'><thead><tr><th class='l'>kernel</th>"
            "<th>cycles counted in C sim</th><th>kernel loop model</th><th>cost model</th>"
            f"<th>agree</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    return out


def render_html(
    run: RunData, summary: Mapping[str, Any], images: Mapping[str, tuple[str, str]]
) -> str:
    """The self-contained report page. ``images`` maps stem -> (base64 PNG, caption)."""
    t = summary["trials"]
    ch = run.chosen
    title = f"hwprune report: {run.study_name}"
    overview = [
        ("study", html.escape(run.study_name)),
        ("target", html.escape(run.target_name)),
        (
            "objectives",
            html.escape(
                ", ".join(
                    f"{n} ({d})" for n, d in zip(run.objective_names, run.directions, strict=False)
                )
            ),
        ),
        (
            "trials",
            f"{t['total']} total: {t['feasible']} feasible, {t['infeasible']} "
            f"infeasible, {t['early-stopped']} early-stopped, {t['failed']} failed"
            + (f", {t['cut-off']} cut off (re-run)" if t.get("cut-off") else "")
            + (f", {t['running']} running" if t.get("running") else ""),
        ),
        (
            "Pareto front",
            f"{len(summary['pareto'])} design{'' if len(summary['pareto']) == 1 else 's'}",
        ),
    ]
    if ch is not None:
        info = run.chosen_info or {}
        overview.append(
            (
                "chosen design",
                f"trial {ch.number}"
                + (f" (rule {html.escape(str(info['rule']))})" if info.get("rule") else "")
                + f": validation accuracy {_pct(ch.accuracy)}"
                + (
                    f" ({_pct(_num(info['val_accuracy']))} after the final fine-tune)"
                    if _num(info.get("val_accuracy")) is not None
                    else ""
                )
                + (f", test {_pct(ch.test_accuracy)}" if ch.test_accuracy is not None else "")
                + (f", {_fmt(ch.fps)} frames/s" if ch.fps is not None else "")
                + (f", {_fmt(ch.latency_us, 1)} µs" if ch.latency_us is not None else "")
                + "".join(
                    f", {_fmt(getattr(ch, r))} {_RESOURCE_LABEL[r]}"
                    for r in ("lut", "bram18", "dsp")
                    if getattr(ch, r) is not None
                ),
            )
        )
    overview.append(
        ("dashboard", f"<code>optuna-dashboard {html.escape(redact_url(run.storage))}</code>")
    )
    target_items = [
        (
            str(k),
            _fmt(v, 2)
            if isinstance(v, (int, float)) and not isinstance(v, bool)
            else html.escape(str(v)),
        )
        for k, v in (run.target or {}).items()
        if not isinstance(v, (Mapping, list))
    ]
    recipe = (
        f"<pre>{html.escape(json.dumps(_jsonable(run.recipe), indent=2))}</pre>"
        if run.recipe
        else "<p class='muted'>No recipe recorded.</p>"
    )
    figs = {stem: _figure_html(b64, stem, cap) for stem, (b64, cap) in images.items()}
    missing = "<p class='muted'>No data for this plot.</p>"
    front_rows = "".join(
        f"<tr><td>{p['trial']}</td><td>{_pct(p['accuracy'])}</td><td>{_fmt(p['fps'])}</td>"
        f"<td>{_fmt(p['latency_us'], 1)}</td><td>{_fmt(p['lut'])}</td><td>{_fmt(p['bram18'])}"
        f"</td><td>{_fmt(p['dsp'])}</td></tr>"
        for p in sorted(summary["pareto"], key=lambda p: -(p["accuracy"] or 0))
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hwprune report ({SUMMARY_SCHEMA})">
<title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="muted">Generated {html.escape(summary["generated"])} from
<code>{html.escape(str(run.run_dir))}</code>.</p>
<section id="overview"><h2>Overview</h2>{_kv_table(overview)}</section>
<section id="pareto"><h2>Pareto front</h2>{figs.get("pareto", missing)}
<table id="front-table"><thead><tr><th>trial</th><th>accuracy</th><th>frames/s</th>
<th>latency (µs)</th><th>LUT</th><th>BRAM18</th><th>DSP</th></tr></thead>
<tbody>{front_rows}</tbody></table></section>
<section id="resources"><h2>Accuracy vs resources</h2>{
        figs.get(
            "resources",
            missing
            if run.is_fpga
            else "<p class='muted'>Not applicable: a GPU target has no LUT/BRAM budget.</p>",
        )
    }
</section>
<section id="layers"><h2>Chosen design, layer by layer</h2>{_layer_table_html(run)}
{figs.get("layers", "")}</section>
<section id="parent"><h2>Compared with the float parent</h2>{_parent_html(run, summary)}</section>
<section id="progress"><h2>Search progress</h2>{figs.get("hypervolume", missing)}</section>
<section id="export"><h2>Export and C simulation</h2>{_export_html(run)}</section>
<section id="target"><h2>Target</h2>{_kv_table(target_items) if target_items else missing}
</section>
<section id="recipe"><h2>Recipe</h2>{recipe}</section>
</body></html>
"""


# --------------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------------


def _writable_dir(path: Path) -> Path:
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


def write_report(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    study_name: str | None = None,
    storage: str | None = None,
) -> Path:
    """Write ``report.html``, the plots (PNG + SVG) and ``summary.json``; return the HTML path.

    ``out_dir`` defaults to the run folder. ``study_name`` picks a study when the storage
    holds several; ``storage`` is the Optuna URL when the study is not in ``study.db`` of the
    run folder (a PostgreSQL or journal storage; shown with its password masked). Called by
    the search at its end and by ``hwprune report RUN_DIR``.

    Example:
        >>> write_report("runs/tfc-pynq-z2")                # doctest: +SKIP
        PosixPath('runs/tfc-pynq-z2/report.html')
    """
    run = load_run(run_dir, study_name, storage)
    out = _writable_dir(Path(out_dir) if out_dir is not None else run.run_dir)
    existing = _read_json(run.run_dir / "summary.json")
    summary = build_summary(run, existing if isinstance(existing, Mapping) else None)
    section = summary["report"]
    metric, _, _ = _perf_axis(run)
    images: dict[str, tuple[str, str]] = {}
    plots: dict[str, dict[str, str]] = {}
    try:
        for stem, fn, caption in (
            (
                "pareto",
                plot_pareto,
                "Pareto plot: validation accuracy vs "
                + ("frames/s" if metric == "fps" else "latency"),
            ),
            ("resources", plot_resources, "Accuracy vs LUT and vs BRAM18"),
            ("layers", plot_layers, "Cycles per layer of the chosen design"),
            ("hypervolume", plot_hypervolume, "Hypervolume over trials"),
        ):
            fig = fn(run)
            if fig is None:
                continue
            b64, png, svg = _save(fig, out, stem)
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


# --------------------------------------------------------------------------------------------
# comparing runs
# --------------------------------------------------------------------------------------------

_COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3")


def _run_label(run: RunData, used: set[str]) -> str:
    label = run.target_name if run.target_name != "?" else run.study_name
    if label in used:
        label = f"{label} ({run.run_dir.name})"
    used.add(label)
    return label


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
    out = _writable_dir(Path(out_dir))
    used: set[str] = set()
    labels = [_run_label(r, used) for r in runs]
    lat_only = all(not any(t.fps is not None for t in r.trials) for r in runs)
    metric = "latency_us" if lat_only else "fps"
    fig = _new_figure(7.2, 4.8)
    ax = fig.add_subplot()
    rows = []
    for k, (run, label) in enumerate(zip(runs, labels, strict=True)):
        color = _COLORS[k % len(_COLORS)]
        feas = [
            t
            for t in run.trials
            if t.status == "feasible" and getattr(t, metric) is not None and t.accuracy is not None
        ]
        if feas:
            ax.scatter(
                [getattr(t, metric) for t in feas],
                [100 * t.accuracy for t in feas],
                s=14,
                alpha=0.25,
                color=color,
            )
        # the front in the (accuracy, metric) plane, whatever the run's own objectives were
        front = pareto_front(
            [replace(t, values=(t.accuracy, getattr(t, metric))) for t in feas],
            ["maximize", "maximize" if metric == "fps" else "minimize"],
        )
        front.sort(key=lambda t: getattr(t, metric))
        if front:
            ax.step(
                [getattr(t, metric) for t in front],
                [100 * t.accuracy for t in front],
                where="pre" if metric == "fps" else "post",
                color=color,
                lw=1.6,
            )
            ax.scatter(
                [getattr(t, metric) for t in front],
                [100 * t.accuracy for t in front],
                s=40,
                color=color,
                edgecolors="black",
                linewidths=0.5,
                label=label,
                zorder=4,
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
        best = max(feas, key=lambda t: t.accuracy or 0.0) if feas else None
        fastest = (
            max(feas, key=lambda t: getattr(t, metric) * (1 if metric == "fps" else -1))
            if feas
            else None
        )
        rows.append(
            {
                "label": label,
                "run_dir": str(run.run_dir),
                "study": run.study_name,
                "target": run.target_name,
                "trials": len(run.trials),
                "feasible": len(feas),
                "front": [_trial_brief(t) for t in front],
                "best_accuracy": _trial_brief(best) if best else None,
                "fastest": _trial_brief(fastest) if fastest else None,
                "chosen": _trial_brief(ch) if ch else None,
            }
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
    b64, _, _ = _save(fig, out, "compare")
    doc = _jsonable(
        {
            "schema": COMPARE_SCHEMA,
            "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "metric": metric,
            "runs": rows,
        }
    )
    (out / "compare.json").write_text(json.dumps(doc, indent=2) + "\n")

    def cell(b: Mapping[str, Any] | None) -> str:
        if not b:
            return "<td>-</td>" * 6
        return (
            f"<td>{b['trial']}</td><td>{_pct(b['accuracy'])}</td><td>{_fmt(b['fps'])}</td>"
            f"<td>{_fmt(b['lut'])}</td><td>{_fmt(b['bram18'])}</td><td>{_fmt(b['dsp'])}</td>"
        )

    body = "".join(
        f"<tr><td class='l'>{html.escape(r['label'])}</td><td>{r['trials']}</td>"
        f"<td>{r['feasible']}</td><td>{len(r['front'])}</td>{cell(r['chosen'])}"
        f"{cell(r['best_accuracy'])}</tr>"
        for r in doc["runs"]
    )
    sub = "<th>trial</th><th>accuracy</th><th>frames/s</th><th>LUT</th><th>BRAM18</th><th>DSP</th>"
    page = out / "compare.html"
    page.write_text(
        f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>hwprune comparison</title>
<style>{_CSS}</style></head><body>
<h1>hwprune comparison of {len(runs)} runs</h1>
{_figure_html(b64, "compare", "Pareto fronts of every run: accuracy vs throughput")}
<table id="compare-table"><thead>
<tr><th class='l' rowspan=2>run</th><th rowspan=2>trials</th><th rowspan=2>feasible</th>
<th rowspan=2>front</th><th colspan=6>chosen design</th><th colspan=6>most accurate</th></tr>
<tr>{sub}{sub}</tr></thead><tbody>{body}</tbody></table>
</body></html>
""",
        encoding="utf-8",
    )
    return page
