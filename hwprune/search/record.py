"""The trial record: what one trial of a search is, in one typed place.

The search stores a trial as Optuna user attributes (see :mod:`hwprune.search`);
:class:`TrialRecord` reads them back (:meth:`TrialRecord.from_trial`), writes them
(:meth:`TrialRecord.to_attrs`) and says what became of the trial with **one status word**
(:data:`STATUSES`), used by :func:`trial_counts` (``summary.json``'s ``trials``), the progress
bar, the early-stop rule and the Pareto front.

Status words:

    feasible     finished, trained, every constraint met (may enter the front)
    infeasible   finished, a constraint violated (never trained, or --min-accuracy missed)
    stopped      finished, fine-tune stopped early (it could not reach the front)
    failed       raised; the reason is recorded (``reason``); counts toward the budget
    cut_off      its process died or was interrupted mid-trial (re-queued as a new trial)
    surplus      a worker's placeholder that found the budget taken (never ran)
    running      running now (or its process died and no heartbeat has failed it yet)
    waiting      queued (warm start, re-queued), not started

Example:
    >>> import optuna
    >>> t = optuna.trial.create_trial(
    ...     values=[0.9, 1e6], user_attrs={"status": "ok", "accuracy": 0.9,
    ...                                    "hw": {"fps": 1e6, "lut": 5000.0}})
    >>> r = TrialRecord.from_trial(t, ["accuracy", "fps"])
    >>> r.status, r.accuracy, r.fps, r.lut, r.objectives
    ('feasible', 0.9, 1000000.0, 5000.0, {'accuracy': 0.9, 'fps': 1000000.0})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hwprune.search.space import Candidate

if TYPE_CHECKING:  # pragma: no cover
    import optuna

#: the raw ``status`` user attribute the objective writes (kept as stored by older studies)
STATUS_OK, STATUS_STOPPED, STATUS_INFEASIBLE, STATUS_FAILED = (
    "ok",
    "stopped",
    "infeasible",
    "failed",
)

#: what became of a trial: the one set of status words (see the module docstring)
STATUSES: tuple[str, ...] = (
    "feasible",
    "infeasible",
    "stopped",
    "failed",
    "cut_off",
    "surplus",
    "running",
    "waiting",
)


def _status_of(state: str, attrs: Mapping[str, Any], constraints: Mapping[str, float]) -> str:
    """The status word of a trial in Optuna ``state`` with user ``attrs`` and ``constraints``."""
    if state == "COMPLETE":
        raw = attrs.get("status")
        if raw == STATUS_INFEASIBLE or any(v > 0 for v in constraints.values()):
            return "infeasible"
        return "stopped" if raw == STATUS_STOPPED else "feasible"
    if state == "FAIL":
        from hwprune.workers import FAIL_REASON_ATTR, SURPLUS_ATTR

        if attrs.get(SURPLUS_ATTR):
            return "surplus"
        if FAIL_REASON_ATTR in attrs or attrs.get("status") == STATUS_FAILED:
            return "failed"
        return "cut_off"
    if state == "PRUNED":  # never written by hwprune; Optuna's own early stop
        return "stopped"
    return "running" if state == "RUNNING" else "waiting"


def _float_or_none(v: Any) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class TrialRecord:
    """One trial of a search, as its user attributes describe it.

    ``status`` is one of :data:`STATUSES`; ``state`` the Optuna state name (``COMPLETE``,
    ``FAIL``, ``RUNNING``, ``WAITING``, ``PRUNED``). ``objectives`` maps the study's objective
    names to the values reported to Optuna (empty unless COMPLETE and objectives were given);
    ``hw`` holds fps, latency_us, lut, ff, bram18, dsp, fits and binding (plus memory_mb on GPU
    targets, measured_latency_us with --measure). ``reason`` is the recorded error of a failed
    trial. ``design_path`` is relative to the run folder.
    """

    number: int
    state: str
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    candidate: Candidate | None = None
    objectives: dict[str, float] = field(default_factory=dict)
    accuracy: float | None = None
    hw: dict[str, Any] = field(default_factory=dict)
    constraints: dict[str, float] = field(default_factory=dict)
    design: dict[str, Any] = field(default_factory=dict)
    estimate: dict[str, Any] = field(default_factory=dict, repr=False)
    val_curve: tuple[float, ...] = ()
    train_s: float | None = None
    stopped_at: int | None = None
    retry_of: int | None = None
    warm_start: bool = False
    worker: str | None = None
    reason: str | None = None
    duration_s: float | None = None

    # ------------------------------------------------------------------ hardware numbers
    @property
    def fps(self) -> float | None:
        """Frames/s the cost model gives the design (None when it was not priced)."""
        return _float_or_none(self.hw.get("fps"))

    @property
    def latency_us(self) -> float | None:
        """Latency of one frame (us)."""
        return _float_or_none(self.hw.get("latency_us"))

    @property
    def lut(self) -> float | None:
        """LUTs of the design."""
        return _float_or_none(self.hw.get("lut"))

    @property
    def bram18(self) -> float | None:
        """BRAM18 blocks of the design."""
        return _float_or_none(self.hw.get("bram18"))

    @property
    def dsp(self) -> float | None:
        """DSP slices of the design."""
        return _float_or_none(self.hw.get("dsp"))

    @property
    def design_path(self) -> str:
        """Where the search wrote the trial's design, relative to the run folder."""
        return f"trials/{self.number}/design.json"

    @property
    def trained(self) -> bool:
        """True when the candidate was fine-tuned to the end and met every constraint."""
        return self.status == "feasible" and self.accuracy is not None

    # ------------------------------------------------------------------ conversions
    @classmethod
    def from_trial(
        cls, trial: optuna.trial.FrozenTrial, objectives: Sequence[str] | None = None
    ) -> TrialRecord:
        """The record of an Optuna trial; ``objectives`` names its values (the study's)."""
        from hwprune.workers import FAIL_REASON_ATTR

        attrs = trial.user_attrs
        cons = {k: float(v) for k, v in (getattr(trial, "constraints", None) or {}).items()}
        if not cons and isinstance(attrs.get("constraints"), Mapping):
            cons = {k: float(v) for k, v in attrs["constraints"].items()}
        state = trial.state.name
        values: dict[str, float] = {}
        if objectives is not None and trial.values is not None and state == "COMPLETE":
            values = {o: float(v) for o, v in zip(objectives, trial.values, strict=False)}
        cand = attrs.get("candidate")
        duration = trial.duration
        return cls(
            number=int(trial.number),
            state=state,
            status=_status_of(state, attrs, cons),
            params=dict(trial.params),
            candidate=Candidate.from_json(cand) if isinstance(cand, Mapping) else None,
            objectives=values,
            accuracy=_float_or_none(attrs.get("accuracy")),
            hw=dict(attrs.get("hw") or {}),
            constraints=cons,
            design=dict(attrs.get("design") or {}),
            estimate=dict(attrs.get("estimate") or {}),
            val_curve=tuple(float(v) for v in attrs.get("val_curve") or ()),
            train_s=_float_or_none(attrs.get("train_s")),
            stopped_at=attrs.get("stopped_at"),
            retry_of=attrs.get("retry_of"),
            warm_start=bool(attrs.get("warm_start", False)),
            worker=attrs.get("worker"),
            reason=attrs.get("error") or attrs.get(FAIL_REASON_ATTR),
            duration_s=None if duration is None else duration.total_seconds(),
        )

    #: alias: the record is read from the trial's attributes
    from_attrs = from_trial

    def to_attrs(self) -> dict[str, Any]:
        """The user attributes the search writes for this trial (inverse of :meth:`from_trial`).

        Example:
            >>> TrialRecord(3, "COMPLETE", "stopped", stopped_at=2).to_attrs()["status"]
            'stopped'
        """
        raw = {
            "feasible": STATUS_OK,
            "stopped": STATUS_STOPPED,
            "infeasible": STATUS_INFEASIBLE,
            "failed": STATUS_FAILED,
        }.get(self.status)
        attrs: dict[str, Any] = {
            "status": raw,
            "candidate": None if self.candidate is None else self.candidate.to_json(),
            "design": self.design or None,
            "hw": self.hw or None,
            "constraints": self.constraints or None,
            "estimate": self.estimate or None,
            "val_curve": list(self.val_curve) or None,
            "accuracy": self.accuracy,
            "train_s": self.train_s,
            "stopped_at": self.stopped_at,
            "retry_of": self.retry_of,
            "warm_start": self.warm_start or None,
            "worker": self.worker,
            "error": self.reason,
        }
        return {k: v for k, v in attrs.items() if v is not None}


def trial_records(
    study: optuna.Study, objectives: Sequence[str] | None = None, states: Any = None
) -> list[TrialRecord]:
    """Every trial of ``study`` (or those in ``states``) as a :class:`TrialRecord`.

    ``objectives`` defaults to the study's ``objectives`` user attribute.
    """
    if objectives is None:
        objectives = study.user_attrs.get("objectives")
    return [
        TrialRecord.from_trial(t, objectives)
        for t in study.get_trials(deepcopy=False, states=states)
    ]


def trained_records(study: optuna.Study, objectives: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Finished, fully trained, feasible trials as flat dicts (accuracy, hardware, curve);
    the values reported for ``objectives`` override the hardware numbers (capped fps)."""
    from optuna.trial import TrialState

    out = []
    for r in trial_records(study, objectives, states=(TrialState.COMPLETE,)):
        if not r.trained:
            continue
        rec = dict(r.hw)
        rec.update({k: v for k, v in r.objectives.items() if k != "accuracy"})
        rec["accuracy"] = float(r.accuracy or 0.0)
        rec["val_curve"] = list(r.val_curve)
        rec["number"] = r.number
        out.append(rec)
    return out


def trial_counts(study: optuna.Study) -> dict[str, int]:
    """Counts of the study's trials by status word (``summary.json``'s ``trials``).

    ``total`` (every trial in the study) = ``complete`` (= ``feasible`` + ``infeasible`` +
    ``stopped``) + ``failed`` + ``cut_off`` + ``surplus`` + ``running`` + ``waiting``; the
    words are :data:`STATUSES` (see :class:`TrialRecord`).

    Example:
        >>> import optuna
        >>> s = optuna.create_study()
        >>> s.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
        >>> c = trial_counts(s)
        >>> c["total"], c["failed"], c["cut_off"]
        (1, 0, 1)
    """
    c = {"total": 0, "complete": 0, **{s: 0 for s in STATUSES}}
    for r in trial_records(study, objectives=()):
        c["total"] += 1
        c["complete"] += r.state == "COMPLETE"
        c[r.status] += 1
    return c
