"""The Optuna objective of a search (:class:`Objective`: sample, price, train, report) and its
warm start (the uniform designs an engineer would try first).

Example:
    >>> WARM_START_GRID[:2]
    ((1.0, 4), (0.75, 4))
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path  # noqa: F401  (the doctest)
from typing import TYPE_CHECKING, Any

from hwprune.errors import HwpruneError
from hwprune.pareto import pareto_indices
from hwprune.recipe import OBJECTIVES, load_recipe  # noqa: F401  (load_recipe: the doctest)
from hwprune.runfolder import RunFolder, atomic_write_json
from hwprune.search.pricing import (
    _estimate_json,
    _with_folding,
    cannot_reach_front,
    late_gain,
    objective_hw,
    price,
    worst_values,
)
from hwprune.search.record import (
    STATUS_INFEASIBLE,
    STATUS_OK,
    STATUS_STOPPED,
    trained_records,
)
from hwprune.search.space import Candidate, make_design
from hwprune.search.workbench import (
    Workbench,
    build_workbench,  # noqa: F401  (the doctest)
    measure_candidate,
    train_candidate,
)

if TYPE_CHECKING:  # pragma: no cover
    import optuna


def _front_of(records: Sequence[Mapping[str, Any]], objectives: Sequence[str]) -> list:
    idx = pareto_indices(
        [_values(r, objectives) for r in records], [OBJECTIVES[o] for o in objectives]
    )
    return [records[i] for i in idx]


def _values(rec: Mapping[str, Any], objectives: Sequence[str]) -> list[float]:
    return [float(rec[o]) for o in objectives]


class Objective:
    """The Optuna objective of a search (callable on a trial); counts what it did."""

    def __init__(self, wb: Workbench, run: RunFolder) -> None:
        self.wb = wb
        self.run = run
        self.recipe = wb.recipe
        self.objectives = list(wb.recipe.objectives)
        self.trained = 0

    def __call__(self, trial: optuna.Trial) -> list[float]:
        r = self.recipe
        cand = self.wb.space.suggest(trial)
        design = make_design(
            self.wb.spec, cand, r.space.input_bits, f"{r.name}-trial{trial.number}"
        )
        est, hw, cons = price(design, self.wb.target, r)
        folded = _with_folding(design, est)
        for key, value in cons.items():
            trial.set_constraint(key, float(value))
        trial.set_user_attr("candidate", cand.to_json())
        trial.set_user_attr("design", folded)
        trial.set_user_attr("hw", hw)
        trial.set_user_attr("constraints", {k: float(v) for k, v in cons.items()})
        trial.set_user_attr("estimate", _estimate_json(est))
        atomic_write_json(self.run.trial_dir(trial.number) / "design.json", folded)
        if any(v > 0 for v in cons.values()):
            trial.set_user_attr("status", STATUS_INFEASIBLE)
            return worst_values(self.objectives)

        seen = objective_hw(hw, r)  # what the objectives see (fps capped at --min-fps)
        k = r.study.early_stop_after
        stopped: dict[str, int] = {}
        best_so_far: list[float] = []
        study = trial.study

        def on_epoch(done: int, acc: float) -> bool:
            best_so_far.append(max(acc, best_so_far[-1] if best_so_far else 0.0))
            if k <= 0 or done != k or done >= r.budget.epochs:
                return True
            records = trained_records(study, self.objectives)
            if len(records) < r.study.startup_trials:
                return True  # the first fine-tunes always finish: unbiased late gains
            gain = late_gain([rec["val_curve"] for rec in records], k, r.study.early_stop_margin)
            if cannot_reach_front(
                best_so_far[-1], seen, _front_of(records, self.objectives), self.objectives, gain
            ):
                stopped["epoch"] = done
                return False
            return True

        t0 = time.perf_counter()
        self.trained += 1
        _, acc, curve = train_candidate(
            self.wb, cand, r.budget.epochs, seed=r.trial_seed(trial.number), on_epoch=on_epoch
        )
        trial.set_user_attr("train_s", round(time.perf_counter() - t0, 3))
        if r.study.measure:
            hw["measured_latency_us"] = measure_candidate(self.wb, cand)
            trial.set_user_attr("hw", hw)
        trial.set_user_attr("val_curve", curve)
        trial.set_user_attr("accuracy", acc)
        if not math.isfinite(acc):
            raise HwpruneError(f"trial {trial.number}: the fine-tune diverged (accuracy {acc})")
        if r.constraints.min_accuracy > 0:
            trial.set_constraint("min_accuracy", r.constraints.min_accuracy - acc)
        if stopped:
            trial.set_user_attr("status", STATUS_STOPPED)
            trial.set_user_attr("stopped_at", stopped["epoch"])
        else:
            trial.set_user_attr("status", STATUS_OK)
        values = objective_hw(hw, r)
        values["accuracy"] = acc
        return _values(values, self.objectives)


#: the uniform designs a warm start tries, in order: (width ratio, bit-width). W4A4 at every
#: width first (FINN's usual trade-off), then W8A8 (int8, the accurate end) and W2A2 (the fast
#: end), widest first
WARM_START_GRID: tuple[tuple[float, int], ...] = tuple(
    (r, b) for b in (4, 8, 2) for r in (1.0, 0.75, 0.5, 0.25)
)

#: the warm start when hardware is an objective too (LUT, BRAM18, DSP, FF or the device
#: fraction): the accurate end (W4A4) and the cheap ends (W2A2, binary) at full and half
#: width first, so the front starts out spanning accuracy and resources; then the rest
WARM_START_GRID_COST: tuple[tuple[float, int], ...] = (
    (1.0, 4),
    (1.0, 2),
    (1.0, 1),
    (0.5, 4),
    (0.5, 2),
    (0.5, 1),
    *((r, b) for b in (4, 2, 1, 8) for r in (0.75, 0.25)),
    (1.0, 8),
    (0.5, 8),
)


def warm_start_grid(objectives: Sequence[str]) -> tuple[tuple[float, int], ...]:
    """The uniform designs a warm start tries for these objectives, in order.

    Example:
        >>> warm_start_grid(["accuracy", "fps"])[:2], warm_start_grid(["accuracy", "lut"])[:3]
        (((1.0, 4), (0.75, 4)), ((1.0, 4), (1.0, 2), (1.0, 1)))
    """
    cost = {"lut", "ff", "bram18", "dsp", "util"}
    return WARM_START_GRID_COST if cost & set(objectives) else WARM_START_GRID


def warm_start_candidates(wb: Workbench, n: int) -> list[Candidate]:
    """Up to ``n`` distinct uniform candidates (see :func:`warm_start_grid`) that fit.

    Each is priced first (milliseconds), so a warm start never spends a trial on a design the
    cost model already rejects.

    Example:
        >>> from hwprune.targets import load_target
        >>> wb = build_workbench(load_recipe("digits-mlp"), load_target("pynq-z2"),
        ...                      Path("/tmp/hw-cache"))  # doctest: +SKIP
        >>> [c.wbits[0] for c in warm_start_candidates(wb, 2)]  # doctest: +SKIP
        [4, 2]
    """
    r = wb.recipe
    out: list[Candidate] = []
    for ratio, bits in warm_start_grid(r.objectives):
        if len(out) >= n:
            break
        cand = wb.space.uniform(ratio, bits)
        if cand in out:
            continue
        design = make_design(wb.spec, cand, r.space.input_bits, "warm-start")
        _, _, cons = price(design, wb.target, r)
        if all(v <= 0 for v in cons.values()):
            out.append(cand)
    return out


def enqueue_warm_start(study: optuna.Study, wb: Workbench) -> int:
    """Queue the recipe's ``study.warm_start`` uniform designs in a study that has no trials.

    A resumed or joined study is left alone. Returns how many trials were queued.
    """
    if study.trials:
        return 0
    n = min(wb.recipe.study.warm_start, wb.recipe.budget.trials)
    cands = warm_start_candidates(wb, n) if n > 0 else []
    for cand in cands:
        study.enqueue_trial(wb.space.params_of(cand), user_attrs={"warm_start": True})
    return len(cands)
