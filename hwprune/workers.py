"""Workers: processes that pull trials from one shared Optuna study until its budget is spent.

A *worker* is a loop around Optuna's own ``study.optimize(..., n_trials=1)`` (so Optuna's
heartbeat thread, stale-trial detection and retry callback all apply, see
:mod:`hwprune.storage`) with three additions that make many workers on one study safe:

* **A shared trial budget.** The study's budget counts *finished* trials: COMPLETE, PRUNED, and
  FAIL trials whose objective raised (a NaN loss, out of memory, a lowering error). A worker
  stops when that count reaches the budget. Before it starts a trial it checks that the budget
  is not already taken by finished and running trials; if two workers race past that check,
  the trial with the higher number sees the lower one and gives way (it ends at once as FAIL
  with ``fail_reason`` "surplus ..." and user attribute ``hwprune_surplus``), so no more than
  ``budget`` trials ever finish, whatever the timing. Trials whose worker died are failed by
  the heartbeat check and their candidate re-queued (WAITING); they do not count, their retry
  does. While the rest of the budget is running on other workers, an idle worker waits
  (polling) so that it can take over a re-queued trial if one of them dies.
* **A trial that raises is recorded, not fatal.** Its state is FAIL, its reason is stored in
  the user attribute ``fail_reason`` ("ValueError: loss is NaN"), and the worker goes on.
* **Local worker processes.** :func:`launch_workers` starts K ``hwprune worker`` processes (or
  any command) with devices assigned round robin (``cuda:0,cuda:1``) and CPU threads split
  between them, and :func:`wait_workers` waits for them and stops them cleanly on Ctrl-C.

Example:
    >>> import optuna
    >>> study = optuna.create_study()
    >>> res = run_worker(study, lambda t: t.suggest_float("x", 0, 1), budget=3)
    >>> res.completed, len(study.trials)
    (3, 3)
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import optuna
from optuna.storages._heartbeat import is_heartbeat_enabled
from optuna.trial import FrozenTrial, Trial, TrialState

from hwprune.errors import ConfigError

__all__ = [
    "FAIL_REASON_ATTR",
    "STORAGE_ENV",
    "SURPLUS_ATTR",
    "WorkerResult",
    "assign_devices",
    "counts_toward_budget",
    "disk_error",
    "fail_kind",
    "finished_trials",
    "hwprune_worker_argv",
    "launch_workers",
    "parse_devices",
    "run_worker",
    "wait_workers",
    "worker_command",
]

logger = logging.getLogger(__name__)

#: User attribute holding why a trial failed ("ExceptionType: message").
FAIL_REASON_ATTR = "fail_reason"
#: User attribute set on a trial that was not run because other workers took the budget.
SURPLUS_ATTR = "hwprune_surplus"
_MAX_REASON_CHARS = 2000


class _BudgetTaken(Exception):
    """Raised inside a trial that other workers' trials have made surplus."""


def counts_toward_budget(trial: FrozenTrial, *, include_active: bool = False) -> bool:
    """Whether ``trial`` uses up one unit of the study's trial budget.

    Finished trials count (COMPLETE, PRUNED, and FAIL whose objective raised); a FAIL without a
    recorded reason (its worker died or was interrupted) and a surplus trial do not. With
    ``include_active`` RUNNING and WAITING trials count too (they will finish, or be re-queued).

    Example:
        >>> import optuna
        >>> t = optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL)
        >>> counts_toward_budget(t)
        False
    """
    state = trial.state
    if state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    if state == TrialState.FAIL:
        attrs = trial.user_attrs
        return FAIL_REASON_ATTR in attrs and not attrs.get(SURPLUS_ATTR, False)
    if state in (TrialState.RUNNING, TrialState.WAITING):
        return include_active and not trial.user_attrs.get(SURPLUS_ATTR, False)
    return False


def fail_kind(trial: FrozenTrial) -> str:
    """Why a FAIL trial is FAIL: ``"failed"``, ``"surplus"`` or ``"cut_off"``.

    * ``"failed"``: its objective raised; the reason is recorded (``fail_reason``, or the
      search's ``status`` = ``"failed"``). It counts toward the budget.
    * ``"surplus"``: a placeholder that gave way because other workers took the budget; it
      never ran.
    * ``"cut_off"``: its process died (SIGKILL, lost heartbeat) or was interrupted mid-trial,
      so nothing was recorded; its candidate is re-queued and the retry is a trial of its own.

    Example:
        >>> import optuna
        >>> t = optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL)
        >>> fail_kind(t)
        'cut_off'
    """
    attrs = trial.user_attrs
    if attrs.get(SURPLUS_ATTR):
        return "surplus"
    if FAIL_REASON_ATTR in attrs or attrs.get("status") == "failed":
        return "failed"
    return "cut_off"


def finished_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's trials that count toward its budget (see :func:`counts_toward_budget`).

    Example:
        >>> import optuna
        >>> s = optuna.create_study(); s.optimize(lambda t: 1.0, n_trials=2)
        >>> len(finished_trials(s))
        2
    """
    return [t for t in study.get_trials(deepcopy=False) if counts_toward_budget(t)]


@dataclass(frozen=True)
class WorkerResult:
    """What one worker did.

    Attributes:
        ran: trials this worker started and evaluated (surplus trials excluded).
        completed: of those, how many ended COMPLETE.
        failed: of those, how many ended FAIL (the objective raised).
        surplus: trials this worker gave way on because the budget was taken meanwhile.
        stopped_because: ``"budget"``, ``"max_trials"``, ``"timeout"`` or ``"stop_requested"``.
    """

    ran: int
    completed: int
    failed: int
    surplus: int
    stopped_because: str


class _QuietSurplus(logging.Filter):
    """Drops Optuna's two "Trial N failed" warnings (and traceback) for surplus trials."""

    def __init__(self) -> None:
        super().__init__()
        self.numbers: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], _BudgetTaken):
            return False
        if record.exc_info and disk_error(record.exc_info[1]) is not None:
            return False  # the worker stops and the CLI says it in one line
        msg = record.getMessage()
        return not any(msg.startswith(f"Trial {n} failed with value") for n in self.numbers)


#: errno values that mean "this folder cannot take more writes": stop, do not fail trial after
#: trial (each would fail the same way)
_DISK_ERRNOS = frozenset(
    getattr(errno, n) for n in ("ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM") if hasattr(errno, n)
)
_DISK_WORDS = ("database or disk is full", "readonly database", "disk i/o error")


def disk_error(exc: BaseException | None) -> BaseException | None:
    """The error in ``exc``'s chain that says the disk is full or read-only, else ``None``.

    An :class:`OSError` with ``ENOSPC``/``EDQUOT``/``EROFS``/``EACCES``/``EPERM``, or SQLite's
    "database or disk is full" / "attempt to write a readonly database" (wrapped by SQLAlchemy
    and Optuna).

    Example:
        >>> import errno
        >>> disk_error(OSError(errno.ENOSPC, "No space left on device")) is not None
        True
        >>> disk_error(ValueError("loss is NaN")) is None
        True
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
            return exc
        text = str(exc).lower()
        if type(exc).__name__ in ("OperationalError", "StorageInternalError") and any(
            w in text for w in _DISK_WORDS
        ):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _reason(exc: BaseException) -> str:
    """``Type: message`` of ``exc``, shortened; a wrapper that already says it (an exception
    whose message starts with its cause's type name) is not named twice."""
    cause = exc.__cause__
    if cause is not None and str(exc).startswith(type(cause).__name__):
        text = str(exc).strip()
    else:
        text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 3] + "..."


def _fail_stale(study: optuna.Study) -> None:
    if is_heartbeat_enabled(study._storage):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning
            optuna.storages.fail_stale_trials(study)


def run_worker(
    study: optuna.Study,
    objective: Callable[[Trial], Any],
    *,
    budget: int | None,
    max_trials: int | None = None,
    timeout: float | None = None,
    poll_interval: float = 2.0,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
    should_stop: Callable[[], bool] | None = None,
    reraise: tuple[type[BaseException], ...] = (),
) -> WorkerResult:
    """Run trials of ``study`` until its shared ``budget`` of finished trials is spent.

    Args:
        study: the study, opened on a shared storage (several processes may run this loop on
            the same study at once, on one machine or many).
        objective: Optuna objective. If it raises an ``Exception``, the trial is recorded FAIL
            with user attribute ``fail_reason`` and the worker continues.
        budget: total finished trials wanted in the study, counted over all workers
            (``None``: no shared budget, stop on ``max_trials`` / ``timeout`` only).
        max_trials: at most this many trials evaluated by this worker.
        timeout: stop starting new trials after this many seconds.
        poll_interval: seconds between checks while the rest of the budget is running on other
            workers (to take over trials of a worker that died).
        callbacks: Optuna trial callbacks, called after each trial of this worker.
        should_stop: polled between trials; return true to stop early.
        reraise: exception types that are the user's fault and would fail every trial alike
            (e.g. :class:`~hwprune.errors.ConfigError`): the trial is still recorded FAIL with
            its reason, then the exception stops this worker.

    Returns:
        A :class:`WorkerResult`.

    Example:
        >>> import optuna
        >>> s = optuna.create_study()
        >>> run_worker(s, lambda t: 1 / 0, budget=2).failed
        2
    """
    if budget is not None and budget < 0:
        raise ConfigError(f"the trial budget must be >= 0, got {budget}; use e.g. --trials 20")
    if max_trials is not None and max_trials < 0:
        raise ConfigError(f"--trials must be >= 0, got {max_trials}")
    start = time.monotonic()
    ran = completed = failed = surplus = 0
    waiting_logged = False
    guarded = _GuardedObjective(study, objective, budget, reraise)
    while True:
        stopped = _stop_reason(should_stop, max_trials, ran, timeout, start)
        if stopped is not None:
            break
        if budget is not None:
            done, active, waiting = _budget_counts(study)
            if done >= budget:
                stopped = "budget"
                break
            if active >= budget and not waiting:
                if not waiting_logged:
                    logger.info(
                        "%d of %d trials finished, the rest are running on other workers; "
                        "waiting in case one of them dies",
                        done,
                        budget,
                    )
                    waiting_logged = True
                time.sleep(poll_interval)
                continue
        waiting_logged = False
        trial = _optimize_one(study, guarded, callbacks)
        if trial is None:  # pragma: no cover - optimize always runs one trial
            continue
        if trial.user_attrs.get(SURPLUS_ATTR):
            surplus += 1
            continue
        ran += 1
        if trial.state == TrialState.COMPLETE:
            completed += 1
        elif trial.state == TrialState.FAIL:
            failed += 1
    result = WorkerResult(ran, completed, failed, surplus, stopped)
    logger.info(
        "worker done (%s): %d trials run, %d complete, %d failed",
        stopped,
        ran,
        completed,
        failed,
    )
    return result


def _stop_reason(
    should_stop: Callable[[], bool] | None,
    max_trials: int | None,
    ran: int,
    timeout: float | None,
    start: float,
) -> str | None:
    """Why :func:`run_worker` stops before its next trial ("stop_requested", "max_trials",
    "timeout"), or None to go on (the shared budget is checked apart)."""
    if should_stop is not None and should_stop():
        return "stop_requested"
    if max_trials is not None and ran >= max_trials:
        return "max_trials"
    if timeout is not None and time.monotonic() - start >= timeout:
        return "timeout"
    return None


def _budget_counts(study: optuna.Study) -> tuple[int, int, bool]:
    """(finished, finished + running or waiting, any waiting) trials of ``study``, after
    failing the trials of dead workers (their candidates are re-queued)."""
    _fail_stale(study)
    trials = study.get_trials(deepcopy=False)
    done = sum(counts_toward_budget(t) for t in trials)
    active = sum(counts_toward_budget(t, include_active=True) for t in trials)
    waiting = any(t.state == TrialState.WAITING for t in trials)
    return done, active, waiting


def _optimize_one(
    study: optuna.Study,
    guarded: _GuardedObjective,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]],
) -> FrozenTrial | None:
    """One ``study.optimize(n_trials=1)`` of ``guarded``: the trial it ran. Optuna's warnings
    about surplus trials are silenced; a disk error or a ``reraise`` error is raised."""
    before = _LastTrial()
    optuna_logger = logging.getLogger("optuna.study._optimize")
    optuna_logger.addFilter(guarded.quiet)
    try:
        study.optimize(
            guarded,
            n_trials=1,
            catch=(Exception,),
            callbacks=[*callbacks, before.record],
            gc_after_trial=False,
            show_progress_bar=False,
        )
    finally:
        optuna_logger.removeFilter(guarded.quiet)
    if guarded.fatal:
        raise guarded.fatal[0]
    return before.trial


class _GuardedObjective:
    """``objective`` as a worker runs it: a trial the other workers' trials have made surplus
    gives way (FAIL, ``hwprune_surplus``); a trial that raises has its reason recorded; errors
    that stop the worker (a full disk, ``reraise`` types) are kept in ``fatal``."""

    def __init__(
        self,
        study: optuna.Study,
        objective: Callable[[Trial], Any],
        budget: int | None,
        reraise: tuple[type[BaseException], ...],
    ) -> None:
        self.study, self.objective, self.budget, self.reraise = study, objective, budget, reraise
        self.quiet = _QuietSurplus()
        self.fatal: list[BaseException] = []

    def __call__(self, trial: Trial) -> Any:
        if self.budget is not None:
            self._give_way_if_taken(trial, self.budget)
        try:
            return self.objective(trial)
        except Exception as exc:
            self._record_failure(trial, exc)
            raise

    def _give_way_if_taken(self, trial: Trial, budget: int) -> None:
        ahead = [
            t
            for t in self.study.get_trials(deepcopy=False)
            if t.number < trial.number and counts_toward_budget(t, include_active=True)
        ]
        if len(ahead) >= budget:
            trial.set_user_attr(SURPLUS_ATTR, True)
            trial.set_user_attr(
                FAIL_REASON_ATTR, "surplus: the trial budget was taken by other workers"
            )
            self.quiet.numbers.add(trial.number)
            logger.info(
                "trial %d not run: the budget of %d trials was taken by other workers",
                trial.number,
                budget,
            )
            raise _BudgetTaken(f"trial {trial.number} not run: budget of {budget} taken")

    def _record_failure(self, trial: Trial, exc: Exception) -> None:
        if disk_error(exc) is not None:
            # not the candidate's fault: no failure reason, so the trial counts as cut off
            # and is re-queued when the same command resumes; the CLI says it in one line
            self.fatal.append(exc)
            return
        logger.warning("trial %d failed: %s", trial.number, _reason(exc))
        try:
            trial.set_user_attr(FAIL_REASON_ATTR, _reason(exc))
        except Exception:  # the storage itself is what failed; Optuna will still log it
            logger.debug("could not record the failure reason of trial %d", trial.number)
        if self.reraise and isinstance(exc, self.reraise):
            self.fatal.append(exc)


class _LastTrial:
    """Remembers the trial the last ``optimize(n_trials=1)`` call ran (via its callback)."""

    def __init__(self) -> None:
        self.trial: FrozenTrial | None = None

    def record(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.trial = trial


# ---------------------------------------------------------------------------------------------
# local worker processes


def parse_devices(spec: str | Iterable[str] | None) -> list[str]:
    """Parse ``--device``: ``"cuda:0,cuda:1"`` -> ``["cuda:0", "cuda:1"]``.

    Accepts ``cpu``, ``cuda``, ``cuda:N`` and ``mps``; ``None`` or ``""`` gives ``[]`` (each
    worker picks its default device).

    Example:
        >>> parse_devices("cuda:0, cuda:1")
        ['cuda:0', 'cuda:1']
        >>> parse_devices(None)
        []
    """
    if spec is None:
        return []
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    devices = [d.strip().lower() for d in items if d.strip()]
    for dev in devices:
        kind, _, index = dev.partition(":")
        if kind not in ("cpu", "cuda", "mps") or (index and not index.isdigit()):
            raise ConfigError(
                f"unknown device {dev!r} in --device; use cpu, cuda, cuda:N or a comma-separated "
                "list such as cuda:0,cuda:1"
            )
    return devices


def assign_devices(devices: Sequence[str], workers: int) -> list[str | None]:
    """Give each of ``workers`` workers a device, round robin (``None`` when none was given).

    Example:
        >>> assign_devices(["cuda:0", "cuda:1"], 3)
        ['cuda:0', 'cuda:1', 'cuda:0']
        >>> assign_devices([], 2)
        [None, None]
    """
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if not devices:
        return [None] * workers
    return [devices[i % len(devices)] for i in range(workers)]


def _threads_per_worker(workers: int) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cpus or 1) // workers)


@dataclass(frozen=True)
class LaunchedWorker:
    """One started worker process.

    Attributes:
        index: 0-based worker index.
        device: the device it was given, or ``None``.
        process: the :class:`subprocess.Popen` handle.
        log_path: where its output goes, or ``None`` when it shares the parent's terminal.
    """

    index: int
    device: str | None
    process: subprocess.Popen[bytes]
    log_path: Path | None


def launch_workers(
    argv: Sequence[str],
    workers: int,
    *,
    devices: Sequence[str] = (),
    device_flag: str = "--device",
    log_dir: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
) -> list[LaunchedWorker]:
    """Start ``workers`` processes running ``argv`` (+ ``device_flag DEVICE`` when given).

    Each child gets ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` = CPUs // workers unless the
    environment already sets them, so K workers on one CPU do not oversubscribe it, and
    ``HWPRUNE_WORKER_INDEX`` = its index. With ``log_dir`` each child's output goes to
    ``log_dir/worker-<i>.log``.

    Example:
        >>> import sys
        >>> ws = launch_workers([sys.executable, "-c", "print('hi')"], 2)
        >>> wait_workers(ws)
        [0, 0]
    """
    argv, secret_env = _secrets_to_env(argv)
    slots = assign_devices(list(devices), workers)
    threads = str(_threads_per_worker(workers))
    log_folder = Path(log_dir) if log_dir is not None else None
    if log_folder is not None:
        log_folder.mkdir(parents=True, exist_ok=True)
    started: list[LaunchedWorker] = []
    try:
        for index, device in enumerate(slots):
            child_env = dict(os.environ if env is None else env)
            child_env.setdefault("OMP_NUM_THREADS", threads)
            child_env.setdefault("MKL_NUM_THREADS", threads)
            child_env["HWPRUNE_WORKER_INDEX"] = str(index)
            child_env.update(secret_env)
            cmd = [*argv, *([device_flag, device] if device is not None else [])]
            log_path = log_folder / f"worker-{index}.log" if log_folder is not None else None
            out: IO[bytes] | None = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115
            try:
                proc = subprocess.Popen(
                    cmd,
                    env=child_env,
                    stdout=out,
                    stderr=subprocess.STDOUT if out is not None else None,
                )
            finally:
                if out is not None:
                    out.close()
            logger.info("started worker %d (pid %d, device %s)", index, proc.pid, device or "-")
            started.append(LaunchedWorker(index, device, proc, log_path))
    except BaseException:
        _stop(started)
        raise
    return started


#: environment variable that carries ``hwprune worker``'s storage URL when it holds a password
STORAGE_ENV = "HWPRUNE_STORAGE"


def _secrets_to_env(argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Move a ``--storage URL`` that holds a password out of ``argv`` into the environment.

    A command line is visible to every user of the machine (``ps``); the environment of a
    process is not. The worker reads the URL from :data:`STORAGE_ENV` instead.

    Example:
        >>> _secrets_to_env(["hwprune", "worker", "--storage", "postgresql://u:pw@h/db"])
        (['hwprune', 'worker'], {'HWPRUNE_STORAGE': 'postgresql://u:pw@h/db'})
        >>> _secrets_to_env(["hwprune", "worker", "--storage", "sqlite:///r/s.db"])[1]
        {}
    """
    from hwprune.storage import redact_url

    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg == "--storage" and redact_url(out[i + 1]) != out[i + 1]:
            env = {STORAGE_ENV: out[i + 1]}
            return out[:i] + out[i + 2 :], env
    return out, {}


def _stop(workers: Sequence[LaunchedWorker], grace: float = 30.0) -> None:
    """SIGINT the live workers (they fail their running trial cleanly), then kill stragglers."""
    live = [w for w in workers if w.process.poll() is None]
    for w in live:
        with contextlib.suppress(ProcessLookupError):
            w.process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace
    for w in live:
        try:
            w.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.process.kill()
            w.process.wait()


def wait_workers(
    workers: Sequence[LaunchedWorker],
    *,
    stop_grace: float = 30.0,
    on_poll: Callable[[], object] | None = None,
    poll_interval: float = 2.0,
) -> list[int]:
    """Wait for every worker; return their exit codes (in index order).

    ``on_poll`` (e.g. a progress-bar refresh) is called every ``poll_interval`` seconds while
    they run. On Ctrl-C (``KeyboardInterrupt``) the live workers get SIGINT, then are killed
    after ``stop_grace`` seconds, and the interrupt is re-raised.

    Example:
        >>> import sys
        >>> wait_workers(launch_workers([sys.executable, "-c", "raise SystemExit(3)"], 1))
        [3]
    """
    try:
        while on_poll is not None and any(w.process.poll() is None for w in workers):
            try:
                on_poll()
            except Exception as exc:  # a progress display must never stop the workers
                logger.debug("progress refresh failed: %s", exc)
            time.sleep(poll_interval)
        codes = [w.process.wait() for w in workers]
        if on_poll is not None:
            with contextlib.suppress(Exception):
                on_poll()
    except KeyboardInterrupt:
        _stop(workers, stop_grace)
        raise
    for w, code in zip(workers, codes, strict=True):
        if code != 0:
            where = f"; see {w.log_path}" if w.log_path is not None else ""
            logger.warning("worker %d exited with code %d%s", w.index, code, where)
    return codes


def hwprune_worker_argv(
    storage: str,
    study: str,
    *,
    out: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    trials: int | None = None,
    heartbeat: int | None = None,
    grace: int | None = None,
    quiet: bool = True,
) -> list[str]:
    """The ``hwprune worker ...`` command line of one local worker (no ``--device``).

    Example:
        >>> hwprune_worker_argv("sqlite:///r/study.db", "s", out="r")[3:]
        ['worker', '--storage', 'sqlite:///r/study.db', '--study', 's', '--out', 'r', '--quiet']
    """
    args = ["worker", "--storage", storage, "--study", study]
    if out is not None:
        args += ["--out", os.fspath(out)]
    if cache_dir is not None:
        args += ["--cache-dir", os.fspath(cache_dir)]
    if trials is not None:
        args += ["--trials", str(trials)]
    if heartbeat is not None:
        args += ["--heartbeat", str(heartbeat)]
    if grace is not None:
        args += ["--grace", str(grace)]
    if quiet:
        args.append("--quiet")
    return worker_command(*args)


def worker_command(*args: str) -> list[str]:
    """The command line that runs ``hwprune <args>`` with this Python interpreter.

    Example:
        >>> worker_command("worker", "--study", "s")[-3:]
        ['worker', '--study', 's']
    """
    return [sys.executable, "-m", "hwprune", *args]
