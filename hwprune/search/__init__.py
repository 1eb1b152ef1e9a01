"""The search: an Optuna study over per-layer channel counts and bit-widths under hardware limits.

Each trial

1. samples a :class:`Candidate` (multi-objective TPE by default, NSGA-II or random on request;
   seeded): channels kept per prunable layer, weight bits per layer, activation bits per hidden
   layer;
2. builds the candidate's design (design layers + bits) and prices it on the target with the
   folding optimizer ("fastest that fits", or "smallest that meets ``min_fps``"). Every
   constraint is stored with ``trial.set_constraint`` (feasible when <= 0). **An infeasible
   candidate is never trained**: it is recorded (status ``infeasible``) with the worst possible
   objective values (accuracy 0, frames/s 0, latency/resources +inf), so it can never enter a
   front even for a reader that ignores constraints, and Optuna's samplers rank it by its
   constraint violation;
3. prunes the trained float parent to the candidate's channels (importance criterion), builds
   the Brevitas model with the candidate's bits, fine-tunes it with knowledge distillation and
   stops early when it cannot reach the current front (:func:`cannot_reach_front`);
4. reports the objectives (default: validation accuracy up, frames/s up; on GPU targets
   latency down) and stores the design, its resources, folding and per-layer table as trial
   attributes and in ``trials/<n>/design.json``.

After the trials: the feasible Pareto front (``pareto.json``, printed as a table), the chosen
design (``select``: ``max-accuracy`` (default), ``knee`` or ``max-fps``), a longer final
fine-tune, test accuracy, ``best/`` (weights, design, estimate; the HLS/QONNX export when
:mod:`hwprune.export` provides it) and ``summary.json``.

Trial user attributes (read by reports)::

    status       "ok" | "stopped" (early stop) | "infeasible" | "failed"
    candidate    {"channels": [...], "wbits": [...], "abits": [..., null]}
    design       the design description (input, layers with bits and pe/simd)
    hw           {"fps", "latency_us", "lut", "ff", "bram18", "dsp", "fits", "binding"}
    estimate     the cost model's full JSON (per-layer table, folding, overheads)
    constraints  {name: value} as given to set_constraint (<= 0 is satisfied)
    val_curve    validation accuracy after each fine-tune epoch
    accuracy     validation accuracy reported (best epoch)
    train_s      seconds spent fine-tuning
    stopped_at   epoch after which the early-stop rule fired (status "stopped")
    retry_of     number of the cut-off trial this one re-runs (re-queued trials)
    worker       "<host>:<pid>" of the process that ran the trial

Each trial reads back as a :class:`~hwprune.search.record.TrialRecord` (one status word per
trial: feasible, infeasible, stopped, failed, cut_off, surplus, running, waiting).

Study user attributes: ``recipe`` (the resolved recipe), ``target`` (name), ``target_toml``
(the target file's text), ``fingerprint``, ``objectives``, ``hwprune_version``.

Example:
    >>> import hwprune  # doctest: +SKIP
    >>> result = hwprune.search("digits-mlp", target="pynq-z2", out="runs/demo",
    ...                         overrides={"budget.trials": 6})  # doctest: +SKIP
    >>> result.chosen.accuracy > 0.9, result.chosen.hw["fits"]  # doctest: +SKIP
    (True, True)

The package's modules: :mod:`~hwprune.search.space` (candidates, the space, designs),
:mod:`~hwprune.search.pricing` (price, constraints, early stop), :mod:`~hwprune.search.workbench`
(data, parent, rebuilding and fine-tuning a candidate), :mod:`~hwprune.search.objective` (the
Optuna objective, warm start), :mod:`~hwprune.search.study` (storage, study, sampler, claims,
re-queue), :mod:`~hwprune.search.record` (the trial record, counts),
:mod:`~hwprune.search.results` (front, result), :mod:`~hwprune.search.runner` (search, worker,
trial loop) and :mod:`~hwprune.search.finish` (selection, final fine-tune, ``best/``,
summary). ``hwprune.search`` (the attribute of :mod:`hwprune`) is the function
:func:`~hwprune.search.runner.search`; ``import hwprune.search`` / ``from hwprune.search import
X`` reach this package.
"""

from __future__ import annotations

from hwprune.search.finish import finalize, print_front
from hwprune.search.objective import (
    WARM_START_GRID,
    WARM_START_GRID_COST,
    Objective,
    enqueue_warm_start,
    warm_start_candidates,
    warm_start_grid,
)
from hwprune.search.pricing import (
    HW_KEYS,
    _with_folding,
    cannot_reach_front,
    late_gain,
    price,
    worst_values,
)
from hwprune.search.record import (
    STATUS_FAILED,
    STATUS_INFEASIBLE,
    STATUS_OK,
    STATUS_STOPPED,
    STATUSES,
    TrialRecord,
    trained_records,
    trial_counts,
    trial_records,
)
from hwprune.search.results import FrontPoint, SearchResult, pareto_front
from hwprune.search.runner import (
    WORKER_ATTR,
    Interrupted,
    run_trials,
    search,
    worker,
)
from hwprune.search.space import Candidate, SearchSpace, channel_choices, make_design
from hwprune.search.study import (
    default_study_name,
    open_storage,
    open_study,
    requeue_cut_off,
    resolve_objectives,
)
from hwprune.search.workbench import (
    Workbench,
    build_workbench,
    measure_candidate,
    prune_candidate,
    rebuild_candidate_model,
    train_candidate,
)

__all__ = [
    "HW_KEYS",
    "STATUSES",
    "STATUS_FAILED",
    "STATUS_INFEASIBLE",
    "STATUS_OK",
    "STATUS_STOPPED",
    "WARM_START_GRID",
    "WARM_START_GRID_COST",
    "WORKER_ATTR",
    "Candidate",
    "FrontPoint",
    "Interrupted",
    "Objective",
    "SearchResult",
    "SearchSpace",
    "TrialRecord",
    "Workbench",
    "build_workbench",
    "cannot_reach_front",
    "channel_choices",
    "default_study_name",
    "enqueue_warm_start",
    "finalize",
    "late_gain",
    "make_design",
    "measure_candidate",
    "open_storage",
    "open_study",
    "pareto_front",
    "price",
    "print_front",
    "prune_candidate",
    "rebuild_candidate_model",
    "requeue_cut_off",
    "resolve_objectives",
    "run_trials",
    "search",
    "train_candidate",
    "trained_records",
    "trial_counts",
    "trial_records",
    "warm_start_candidates",
    "warm_start_grid",
    "worker",
    "worst_values",
]

# a private helper the folding tests reach through the package
_PRIVATE = (_with_folding,)
