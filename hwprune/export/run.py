"""Export a design of a search run: its chosen design (``best/``) or any trial.

The recipe and target come from the study (the run folder's ``study.db`` or another Optuna
storage). ``best/`` keeps the fine-tuned weights (``model.pt``); a trial keeps only its design,
so its candidate is fine-tuned again with the search's seed and budget before export. The
float parent comes from the cache the search used (``run.json``'s ``cache_dir`` for a search
run with ``--cache-dir``, else ``<run>/parent``). The folding is the one the search priced
(``design.json``), completed by the cost model's optimizer where it left a node open.

Example:
    >>> r = export_run("runs/mlp-digits-pynq-z2")           # doctest: +SKIP
    >>> r.out_dir                                             # doctest: +SKIP
    PosixPath('runs/mlp-digits-pynq-z2/export')
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hwprune.errors import ConfigError, StorageError

log = logging.getLogger(__name__)


def _study(run_dir: Path, storage: str | None) -> tuple[Any, Any, Any]:
    """(recipe, target, optuna study) of the run folder."""
    import optuna

    from hwprune.recipe import Recipe
    from hwprune.search.study import _target_from_study, open_storage
    from hwprune.storage import redact_url

    meta = run_dir / "run.json"
    if not meta.is_file():
        raise StorageError(
            f"'{run_dir}' is not a search run folder (no run.json); pass the "
            "folder `hwprune search` wrote (runs/<study>)"
        )
    from hwprune.safeload import load_user_json

    doc = load_user_json(meta, "run file")
    name = doc.get("study") if isinstance(doc, dict) else None
    if not isinstance(name, str):
        raise StorageError(
            f"'{meta}' names no study; pass the folder `hwprune search` wrote (runs/<study>)"
        )
    url = storage or f"sqlite:///{(run_dir / 'study.db').resolve()}"
    st = open_storage(url, run_dir)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=name, storage=st)
        recipe_dict = study.user_attrs["recipe"]
    except KeyError:
        raise StorageError(
            f"no hwprune study '{name}' in {redact_url(url)}; pass the storage the search used "
            "with --storage URL"
        ) from None
    recipe = Recipe.from_dict(recipe_dict, source=f"study '{name}'")
    target = _target_from_study(study.user_attrs)
    return recipe, target, study


def design_folding(design: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The folding a search's design gives its conv/fc layers (PE, SIMD, ``res_type``).

    A design written before the search chose LUT or DSP per layer has PE and SIMD but no
    ``res_type``: it was priced by the cost model's fixed rule for ``"auto"``
    (:func:`hwprune.cost.fpga.res_type_of`), so that rule's choice is pinned, and the export
    builds the design that was priced instead of letting the optimizer choose again.

    Example:
        >>> design_folding({"layers": [{"op": "fc", "pe": 2, "simd": 4, "res_type": "lut"}]})
        {'fc0': {'pe': 2, 'simd': 4, 'res_type': 'lut'}}
        >>> design_folding({"input": {"shape": [16], "bits": 8}, "layers": [
        ...     {"op": "fc", "out": 8, "wbits": 2, "abits": None, "pe": 2, "simd": 4}]})
        {'fc0': {'pe': 2, 'simd': 4, 'res_type': 'dsp'}}
    """
    count = {"conv": 0, "fc": 0}
    folding: dict[str, dict[str, Any]] = {}
    fixed_rule: dict[str, str] | None = None
    leaves: list[Any] = []
    for lay in design.get("layers", []):  # a residual block's convs: body, then shortcut
        if isinstance(lay, dict) and lay.get("op") == "residual":
            leaves += [*lay.get("body", []), *lay.get("shortcut", [])]
        else:
            leaves.append(lay)
    for lay in leaves:
        op = lay.get("op")
        if op not in count:
            continue
        name = f"{op}{count[op]}"
        count[op] += 1
        f: dict[str, Any] = {k: int(lay[k]) for k in ("pe", "simd") if isinstance(lay.get(k), int)}
        if lay.get("res_type") in ("lut", "dsp"):  # the multiplier resource the search priced
            f["res_type"] = lay["res_type"]
        elif "pe" in f and "simd" in f:  # priced as "auto": the fixed rule's choice
            if fixed_rule is None:
                fixed_rule = _fixed_res_types(design)
            f["res_type"] = fixed_rule[name]
        if f:
            folding[name] = f
    return folding


def _fixed_res_types(design: dict[str, Any]) -> dict[str, str]:
    """``{name: "lut" | "dsp"}``: what each conv/fc of ``design`` is priced with as ``"auto"``.

    Example:
        >>> _fixed_res_types({"input": {"shape": [16], "bits": 8}, "layers": [
        ...     {"op": "fc", "out": 8, "wbits": 1, "abits": 1},
        ...     {"op": "fc", "out": 2, "wbits": 1, "abits": None}]})
        {'fc0': 'dsp', 'fc1': 'lut'}
    """
    from hwprune.cost.fpga import res_type_of
    from hwprune.design import graph_from_design

    layers = [
        {k: v for k, v in lay.items() if k not in ("pe", "simd", "res_type")}
        if isinstance(lay, dict)
        else lay
        for lay in design.get("layers", [])
    ]
    graph = graph_from_design({**design, "layers": layers})
    return {n.name: res_type_of(n) for n in graph.mvaus()}


def _candidate(doc: Any, path: Path) -> Any:
    """A :class:`~hwprune.search.Candidate` from ``best/candidate.json``, or a one-line error."""
    from hwprune.search import Candidate

    try:
        return Candidate.from_json(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StorageError(
            f"'{path}' is not a candidate hwprune wrote ({type(exc).__name__}: {exc}); "
            "re-run the search to rewrite best/, or pass --trial N"
        ) from None


def _load_weights(qmodel: Any, state: dict[str, Any], path: Path) -> None:
    """Load ``best/model.pt`` (already read weights-only) into the rebuilt design."""
    from hwprune.errors import ModelError

    try:
        qmodel.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ModelError(
            f"weights '{path}' do not fit the chosen design ({first}); re-run the search to "
            "rewrite best/, or delete the file to fine-tune the design again"
        ) from None


def _chosen_model(run: Path, wb: Any) -> tuple[dict[str, Any], Any]:
    """The design and the fine-tuned model of the run's chosen design (``best/``): its saved
    weights, or fine-tuned again when ``best/model.pt`` is missing."""
    from hwprune.safeload import load_state_dict, load_user_json
    from hwprune.search import rebuild_candidate_model, train_candidate

    recipe = wb.recipe
    best = run / "best"
    design_path, cand_path = best / "design.json", best / "candidate.json"
    if not (design_path.is_file() and cand_path.is_file()):
        raise StorageError(
            f"'{run}' has no chosen design yet (best/ is missing); let the "
            "search finish or pass --trial N"
        )
    design = load_user_json(design_path, "design")
    cand = _candidate(load_user_json(cand_path, "candidate"), cand_path)
    qmodel = rebuild_candidate_model(wb, cand)
    weights = best / "model.pt"
    if weights.is_file():
        _load_weights(qmodel, load_state_dict(weights, "weights"), weights)
    else:
        log.warning("best/model.pt is missing: fine-tuning the chosen design again")
        qmodel, _, _ = train_candidate(
            wb,
            cand,
            recipe.budget.final_epochs or recipe.budget.epochs,
            seed=recipe.final_seed(),
        )
    return design, qmodel


def _trial_model(run: Path, study: Any, wb: Any, trial: int) -> tuple[dict[str, Any], Any]:
    """The design of trial ``trial`` and its candidate fine-tuned again (as in the search)."""
    from hwprune.search import Candidate, train_candidate

    recipe = wb.recipe
    frozen = {t.number: t for t in study.trials}
    if trial not in frozen:
        raise ConfigError(
            f"run '{run}' has no trial {trial}; it has trials 0..{max(frozen) if frozen else -1}"
        )
    t = frozen[trial]
    if "candidate" not in t.user_attrs:
        raise ConfigError(f"trial {trial} of '{run}' has no candidate recorded")
    design = t.user_attrs.get("design", {})
    cand = Candidate.from_json(t.user_attrs["candidate"])
    log.info("fine-tuning trial %d's candidate again (%d epochs)", trial, recipe.budget.epochs)
    qmodel, _, _ = train_candidate(wb, cand, recipe.budget.epochs, seed=recipe.trial_seed(trial))
    return design, qmodel


def export_run(
    run_dir: str | Path,
    trial: int | None = None,
    out_dir: str | Path | None = None,
    *,
    storage: str | None = None,
    folding: Any = None,
    n_golden: int = 100,
    csim: bool = True,
    output: str = "label",
    strict: bool = True,
    rtl: str = "auto",
) -> Any:
    """Export the chosen design of ``run_dir`` (or trial ``trial``); returns an ExportResult.

    ``rtl`` is the RTL flow's level (see :func:`~hwprune.export.core.export_model`).
    ``folding`` overrides the run's folding ("auto" or a JSON file). The default output
    folder is ``<run>/export`` (next to ``best/``, which holds the search's own export) or
    ``<run>/trials/<n>/export``; it is replaced as a whole
    (see :func:`~hwprune.export.core.export_model`).
    """
    import numpy as np

    from hwprune.export.core import export_model
    from hwprune.search import build_workbench

    run = Path(run_dir)
    recipe, target, study = _study(run, storage)
    from hwprune.targets import FpgaTarget

    if not isinstance(target, FpgaTarget):
        raise ConfigError(
            f"run '{run}' searched for GPU target '{target.name}'; `hwprune "
            "export` writes FPGA designs (its best/ already holds the GPU export)"
        )
    from hwprune.runfolder import RunFolder

    wb = build_workbench(recipe, target, RunFolder(run).cache_dir)
    if trial is None:
        design, qmodel = _chosen_model(run, wb)
        default_out = run / "export"  # best/ already holds the search's own export
    else:
        design, qmodel = _trial_model(run, study, wb, trial)
        default_out = run / "trials" / str(trial) / "export"
    qmodel.eval()
    fold = folding if folding is not None else (design_folding(design) or "auto")
    return export_model(
        qmodel,
        target,
        folding=fold,
        out_dir=out_dir or default_out,
        golden_inputs=np.asarray(wb.data.test.x[:n_golden]),
        input_shape=tuple(wb.data.input_shape),
        n_golden=n_golden,
        output=output,
        csim=csim,
        strict=strict,
        rtl=rtl,
    )
