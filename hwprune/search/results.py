"""What a search returns: the Pareto front (:func:`pareto_front`, :class:`FrontPoint`) and the
:class:`SearchResult`.

Example:
    >>> import optuna
    >>> s = optuna.create_study(directions=["maximize", "maximize"])
    >>> pareto_front(s, ["accuracy", "fps"])
    []
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwprune.pareto import pareto_indices
from hwprune.recipe import OBJECTIVES
from hwprune.search.pricing import resource_cost
from hwprune.search.record import trial_records
from hwprune.search.space import Candidate

if TYPE_CHECKING:  # pragma: no cover
    import optuna


@dataclass(frozen=True)
class FrontPoint:
    """One design of the Pareto front (or the chosen one)."""

    trial: int
    accuracy: float
    values: dict[str, float]
    candidate: Candidate
    hw: dict[str, Any]
    design: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "trial": self.trial,
            "accuracy": self.accuracy,
            "values": self.values,
            **self.candidate.to_json(),
            "hw": self.hw,
            "design": self.design,
        }


@dataclass(frozen=True)
class SearchResult:
    """What :func:`search` returns (``summary`` is the content of ``summary.json``)."""

    run_dir: Path
    study_name: str
    storage: str
    front: tuple[FrontPoint, ...]
    chosen: FrontPoint | None
    val_accuracy: float | None
    test_accuracy: float | None
    summary: dict[str, Any] = field(repr=False)


def pareto_front(study: optuna.Study, objectives: Sequence[str]) -> list[FrontPoint]:
    """Feasible, fully trained trials that no other such trial dominates, most accurate first.

    Exact ties on every objective are broken by resources (:func:`~hwprune.search.pricing.
    resource_cost`: fewer LUTs first), so no member is matched on every objective by a cheaper
    design, even when the objectives name no resource.
    """
    from optuna.trial import TrialState

    pts: list[FrontPoint] = []
    for r in trial_records(study, objectives, states=(TrialState.COMPLETE,)):
        if r.status != "feasible" or r.candidate is None:
            continue
        values = dict(r.objectives)
        pts.append(
            FrontPoint(
                r.number, float(values["accuracy"]), values, r.candidate, dict(r.hw), r.design
            )
        )
    dirs = [OBJECTIVES[o] for o in objectives]
    idx = pareto_indices(
        [[p.values[o] for o in objectives] for p in pts],
        dirs,
        costs=[resource_cost(p.hw) for p in pts],
    )
    return sorted((pts[i] for i in idx), key=lambda p: (-p.accuracy, p.trial))
