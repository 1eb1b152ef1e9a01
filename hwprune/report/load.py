"""Reading a run: the Optuna study (from a run folder's ``study.db`` or any storage URL) and the
files the search writes beside it, into a :class:`~hwprune.report.rundata.RunData`.

Trials are read with the search's own record (:class:`hwprune.search.record.TrialRecord`):
its status words, its attributes, its counts (:func:`hwprune.search.record.trial_counts`); the
report reads nothing the search does not write.

Storage URLs go through :func:`hwprune.storage.open_storage`, the one place that turns what a
user typed (``postgresql://``, ``journal:///...``, a ``.log`` path, ``sqlite:///``) into an
Optuna storage, so the report opens every storage the search can write to.

Example:
    >>> run = load_run("runs/tfc-pynq-z2")                 # doctest: +SKIP
    >>> run.chosen.accuracy                                # doctest: +SKIP
    0.962
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from hwprune.errors import StorageError
from hwprune.report.rundata import RunData, TrialView, _find, _maybe_json, _num
from hwprune.report.tables import pareto_front
from hwprune.storage import redact_url

log = logging.getLogger(__name__)

_RUN_HINT = "pass the folder a search wrote (runs/<name>)"


def _read_json(path: Path) -> Any:
    """The JSON document at ``path``; ``None`` when it is missing or unreadable (logged)."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return None


# --------------------------------------------------------------------------------- storage


def find_storage(run_dir: str | Path) -> str:
    """The Optuna storage URL of a run folder.

    ``study.db`` in the folder, else the ``storage`` the search recorded in ``summary.json``
    (with its password masked: then ``--storage`` must give the full URL).

    Example:
        >>> find_storage("runs/demo")                     # doctest: +SKIP
        'sqlite:////abs/runs/demo/study.db'
    """
    run = Path(run_dir)
    if not run.exists():
        raise StorageError(f"run folder '{run}' does not exist; {_RUN_HINT}")
    if not run.is_dir():
        raise StorageError(f"'{run}' is a file, not a run folder; {_RUN_HINT}")
    db = run / "study.db"
    if db.is_file():
        return f"sqlite:///{db.resolve()}"
    data = _read_json(run / "summary.json")
    url = data.get("storage") if isinstance(data, Mapping) else None
    if isinstance(url, str) and url:
        if "***" in url:  # recorded with its password masked
            raise StorageError(
                f"the study of '{run}' is in {url} (password not stored); pass "
                "--storage with the full URL"
            )
        return url
    raise StorageError(f"'{run}' is not a run folder (no study.db); {_RUN_HINT}")


def open_report_storage(storage: str, run: Path) -> Any:
    """The Optuna storage behind ``storage`` for reading, opened by
    :func:`hwprune.storage.open_storage` (no heartbeats; a database is checked first).

    A file storage (SQLite, journal) must exist: a report never creates one.

    Example:
        >>> open_report_storage("journal:///no/such.log", Path("r"))  # doctest: +SKIP
        Traceback (most recent call last):
        hwprune.errors.StorageError: the study storage journal:///no/such.log of 'r' does not ...
    """
    from hwprune.storage import open_storage, parse_storage

    try:
        spec = parse_storage(storage)
    except StorageError as exc:
        raise StorageError(f"cannot open the study storage of '{run}': {exc}") from None
    if spec.path is not None and not spec.path.is_file():
        raise StorageError(
            f"the study storage {spec.redacted()} of '{run}' does not exist; pass the "
            "--storage URL the search used"
        )
    try:
        return open_storage(spec, heartbeat_interval=None, check=spec.kind == "rdb")
    except StorageError as exc:
        if spec.path is None:  # a server: the storage's message says what to check
            raise StorageError(f"cannot open the study storage of '{run}': {exc}") from None
        cause = exc.__cause__
        reason = str(getattr(cause, "orig", None) or cause or exc).strip().splitlines()[0]
        raise StorageError(
            f"cannot open the study storage {spec.redacted()} of '{run}' ({reason}); check that "
            "it is the Optuna storage the search wrote and is readable"
        ) from None


def _load_study(storage: str, study_name: str | None, run: Path) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    opened = open_report_storage(storage, run)
    try:
        names = optuna.get_all_study_names(storage=opened)
    except Exception as exc:  # noqa: BLE001 - any storage failure is the user's to fix
        raise StorageError(
            f"cannot open the study storage of '{run}' ({type(exc).__name__}); check that "
            f"{redact_url(storage)} is an Optuna storage and is readable"
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
    return optuna.load_study(study_name=study_name, storage=opened)


# ---------------------------------------------------------------------------------- trials


def _status(trial: Any) -> str:
    """The status word of an Optuna trial: the search's record's (one set of words).

    Example:
        >>> import optuna
        >>> _status(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
        'cut_off'
    """
    from hwprune.search.record import TrialRecord

    return TrialRecord.from_trial(trial).status


def _estimate_layers(est: Any) -> tuple[Mapping[str, Any], ...]:
    """The per-node table of a cost-model estimate (its JSON), or ``()``."""
    layers = est.get("layers") if isinstance(est, Mapping) else None
    if isinstance(layers, Sequence) and layers and isinstance(layers[0], Mapping):
        return tuple(layers)
    return ()


def _trial_view(trial: Any, objective_names: Sequence[str]) -> TrialView:
    """The report's row of an Optuna trial, read through the search's :class:`TrialRecord`."""
    from hwprune.search.record import TrialRecord

    rec = TrialRecord.from_trial(trial, objective_names)
    values = tuple(float(v) for v in trial.values) if trial.values is not None else None
    metrics: dict[str, float | None] = {"accuracy": rec.accuracy}
    for k in ("fps", "latency_us", "lut", "ff", "bram18", "dsp"):
        metrics[k] = _num(rec.hw.get(k))
    # objective values fill metrics the record lacks (not for infeasible trials: the search
    # reports placeholder worst values for them)
    if rec.status != "infeasible":
        for name, v in rec.objectives.items():
            if name in metrics and metrics[name] is None:
                metrics[name] = v
    binding = rec.hw.get("binding", rec.estimate.get("binding"))
    return TrialView(
        number=rec.number,
        status=rec.status,
        values=values,
        params=rec.params,
        design=rec.design or None,
        layers=_estimate_layers(rec.estimate),
        binding=binding if isinstance(binding, str) else None,
        estimate=rec.estimate,
        record=rec,
        **metrics,
    )


def _objective_names(study: Any, run_meta: Mapping[str, Any]) -> tuple[str, ...]:
    names = None
    try:
        names = study.metric_names
    except Exception:  # noqa: BLE001 - older storages
        names = None
    if not names:
        names = study.user_attrs.get("objectives") or run_meta.get("objectives")
    n = len(study.directions)
    if not names or len(names) != n:
        names = ["accuracy", "fps", "lut"][:n] if n <= 3 else [f"objective_{i}" for i in range(n)]
    return tuple(str(x) for x in names)


# ------------------------------------------------------------------------------- run folder


def load_run(
    run_dir: str | Path, study_name: str | None = None, storage: str | None = None
) -> RunData:
    """Read a run folder (Optuna study + the files beside it) into a :class:`RunData`.

    ``storage`` is the study's storage when it is not the folder's ``study.db``: any URL the
    search accepts (``postgresql://...``, ``journal:///path/study.log``, ``sqlite:///...``).
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
        raise StorageError(f"run folder '{run}' does not exist or is not a folder; {_RUN_HINT}")
    from hwprune.search.record import trial_counts

    summary = _read_json(run / "summary.json")
    summary = summary if isinstance(summary, Mapping) else {}
    meta = _read_json(run / "run.json")
    meta = meta if isinstance(meta, Mapping) else {}
    study = _load_study(storage, study_name or _recorded_study_name(summary, meta), run)
    objective_names = _objective_names(study, summary)
    directions = tuple(d.name.lower() for d in study.directions)
    trials = tuple(_trial_view(t, objective_names) for t in study.get_trials(deepcopy=False))
    recipe = _maybe_json(study.user_attrs.get("recipe")) or summary.get("recipe")
    recipe = recipe if isinstance(recipe, Mapping) else None
    target = _target_of(study, summary, recipe)
    if str((target or {}).get("kind", "")).lower() == "gpu":
        # the search stores 0 LUT/FF/BRAM/DSP for GPU targets: not applicable, not zero
        trials = tuple(replace(t, lut=None, ff=None, bram18=None, dsp=None) for t in trials)
    pareto_numbers = _pareto_numbers(run, trials, directions)
    chosen, chosen_info = _chosen(run, summary, trials, pareto_numbers)
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
        parent=_parent_of(summary, chosen),
        export=_export_info(run, summary),
        pareto_numbers=pareto_numbers,
        counts=trial_counts(study),
    )


def _recorded_study_name(summary: Mapping[str, Any], meta: Mapping[str, Any]) -> str | None:
    """The study the search recorded in ``run.json`` (or ``summary.json``)."""
    name = meta.get("study") or summary.get("study") or None
    return name if isinstance(name, str) else None


def _target_of(
    study: Any, summary: Mapping[str, Any], recipe: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The target: its name (study attribute or ``summary.json``) with its capacities."""
    target = _maybe_json(study.user_attrs.get("target")) or summary.get("target")
    if isinstance(target, str):
        target = {"name": target}
    target = target if isinstance(target, Mapping) else None
    if target is None and recipe is not None:
        t = recipe.get("target")
        target = {"name": t} if isinstance(t, str) else (t if isinstance(t, Mapping) else None)
    return _enrich_target(target, study.user_attrs.get("target_toml"))


def _parent_of(summary: Mapping[str, Any], chosen: TrialView | None) -> dict[str, Any] | None:
    """The float parent: the search's ``summary.json`` ``parent`` (val/test accuracy, widths),
    with its design derived from the chosen one (same layers at the parent's widths)."""
    parent = summary.get("parent")
    parent = dict(parent) if isinstance(parent, Mapping) else None
    if parent is not None and "design" not in parent and chosen is not None:
        design = _parent_design_from(chosen.design, parent.get("widths"))
        if design is not None:
            parent["design"] = design
    return parent


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


_TARGET_KEYS = (
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
)


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
    for key in _TARGET_KEYS:
        v = getattr(t, key, None)
        if v is not None and key not in out:
            out[key] = v
    if "kind" not in out:
        out["kind"] = "fpga" if hasattr(t, "lut") else "gpu"
    return out


def _pareto_numbers(
    run: Path, trials: Sequence[TrialView], directions: Sequence[str]
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


def _chosen_info(run: Path, summary: Mapping[str, Any]) -> dict[str, Any]:
    """What the search recorded of its choice: ``summary.json``'s ``chosen``, with the final
    fine-tune's accuracies of ``best/accuracy.json``."""
    info: Any = summary.get("chosen")
    info = dict(info) if isinstance(info, Mapping) else {}
    data = _read_json(run / "best" / "accuracy.json")  # final fine-tune: val/test accuracy
    if isinstance(data, Mapping):
        info = {**data, **info}
    selection = summary.get("selection")  # the selection rule the search applied, and why
    if isinstance(selection, Mapping) and isinstance(selection.get("explanation"), str):
        info.setdefault("rule", selection.get("rule"))
        info["selection"] = selection["explanation"]
    return info


def _chosen(
    run: Path,
    summary: Mapping[str, Any],
    trials: Sequence[TrialView],
    pareto_numbers: Sequence[int],
) -> tuple[TrialView | None, Mapping[str, Any] | None]:
    """The chosen design: the trial named by the search (``summary.json`` ``chosen``), with
    the final fine-tune's numbers and ``best/``'s design merged in; without a record, the most
    accurate design of the front."""
    info = _chosen_info(run, summary)
    number = info.get("trial")
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
    # one source for the chosen design's numbers: best/estimate.json (after an export: the
    # lowered graph's, whose accumulators are sized from the trained weights), which is also
    # what summary.json's chosen hw holds; the trial's own table only when best/ has none
    best_est = _read_json(run / "best" / "estimate.json")
    layers = _estimate_layers(best_est)
    if layers:
        updates["layers"] = layers
        updates["estimate"] = best_est
        for key in ("fps", "latency_us", "lut", "ff", "bram18", "dsp"):
            if _num(best_est.get(key)) is not None:
                updates[key] = _num(best_est[key])
        # ``binding`` stays the trial's: best/'s estimate prices a fixed folding, so it has no
        # word on what stopped a faster one (Estimate.binding is None there)
    design = _read_json(run / "best" / "design.json")
    if isinstance(design, Mapping) and design.get("layers"):
        updates["design"] = design
    return replace(chosen, **updates), (info or None)


# ---------------------------------------------------------------------------------- export

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


def _export_dir(run: Path) -> Path:
    """Where the newest export of the chosen design is: the search exports into ``best/``,
    ``hwprune export --run`` into ``export/`` (older runs: ``best/export/``)."""
    candidates = [
        d
        for d in (run / "best", run / "export", run / "best" / "export")
        if (d / "csim.log").is_file() or (d / "hls").is_dir()
    ]
    if not candidates:
        return run / "best"
    return max(
        candidates, key=lambda d: (d / "hls").stat().st_mtime if (d / "hls").exists() else 0.0
    )


def _export_info(run: Path, summary: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The export of the chosen design: the search's record (``summary.json``'s ``export``)
    plus what ``best/`` holds (C simulation verdict and cycles check from ``csim.log``, the
    files an engineer takes away)."""
    data = summary.get("export")
    info: dict[str, Any] = dict(data) if isinstance(data, Mapping) else {}
    best = _export_dir(run)
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
