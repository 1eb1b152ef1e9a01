"""Running a search: :func:`search` (create or resume a study in a run folder, run its trials,
finalize), :func:`worker` (join a study), local worker pools, the trial loop
(:func:`run_trials`), the progress bar and Ctrl-C handling.

Example:
    >>> r = search("digits-mlp", "pynq-z2", out="/tmp/hw-doc",
    ...            overrides={"budget.trials": 3})  # doctest: +SKIP
    >>> len(r.front) >= 1  # doctest: +SKIP
    True
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwprune.errors import (
    ConfigError,
    HwpruneError,
    IncompleteError,
    StorageError,
    TargetError,
)
from hwprune.recipe import Recipe, load_recipe
from hwprune.runfolder import RunFolder, folder_lock, safe_name, trial_claim
from hwprune.search.finish import finalize
from hwprune.search.objective import Objective, enqueue_warm_start
from hwprune.search.record import STATUS_FAILED, trained_records, trial_counts
from hwprune.search.results import SearchResult
from hwprune.search.study import (
    _claim_file,
    _mask,
    _target_from_study,
    default_study_name,
    open_storage,
    open_study,
    requeue_cut_off,
    resolve_objectives,
)
from hwprune.search.workbench import build_workbench
from hwprune.targets import Target, as_target

if TYPE_CHECKING:  # pragma: no cover
    import optuna

logger = logging.getLogger("hwprune.search")


@contextlib.contextmanager
def _progress(quiet: bool, total: int, study: Any) -> Iterator[Callable[..., None]]:
    """A rich progress bar over trials; yields an Optuna callback that refreshes it."""
    if quiet:
        yield lambda *a, **k: None
        return
    import sys

    if not sys.stdout.isatty():  # a log file or a pipe: plain lines, never a cut-off bar
        yield _plain_progress(total, study)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    def describe() -> tuple[int, str]:
        c = trial_counts(study)
        best = trained_records(study)
        acc = f"{max(b['accuracy'] for b in best):.3f}" if best else "-"
        return c["complete"], (
            f"feasible {c['feasible']} · infeasible {c['infeasible']} · "
            f"stopped {c['stopped']} · best acc {acc}"
        )

    with Progress(
        TextColumn("trials"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        transient=False,
    ) as prog:
        done, text = describe()
        task = prog.add_task(text, total=total, completed=min(done, total))

        def cb(*_: Any) -> None:
            d, txt = describe()
            prog.update(task, completed=min(d, total), description=txt)

        yield cb


def _plain_progress(total: int, study: Any) -> Callable[..., None]:
    """A progress callback for output that is not a terminal: one full line per change."""
    import sys

    last: list[str] = []

    def cb(*_: Any) -> None:
        c = trial_counts(study)
        best = trained_records(study)
        acc = f"{max(b['accuracy'] for b in best):.3f}" if best else "-"
        line = (
            f"trials {min(c['complete'], total)}/{total}: feasible {c['feasible']}, "
            f"infeasible {c['infeasible']}, stopped {c['stopped']}, failed {c['failed']}, "
            f"best acc {acc}"
        )
        if not last or last[0] != line:
            last[:] = [line]
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    return cb


def run_trials(
    study: optuna.Study,
    objective: Objective,
    n_trials: int,
    timeout: float | None,
    callback: Callable[..., None] | None = None,
) -> int:
    """Run trials until the study holds ``n_trials`` finished trials or time is up.

    Returns the number of trials this process ran.

    Several processes may call this on one study (workers, on one machine or many): the
    budget is shared and never overrun (:func:`hwprune.workers.run_worker`). Finished means
    COMPLETE (feasible, infeasible or stopped early) or failed with a recorded reason; a trial
    whose worker died does not count, its re-queued retry does. A user error (bad recipe,
    missing data) stops the search; any other exception fails only its trial.
    """
    import optuna

    from hwprune.workers import disk_error, run_worker

    def guarded(trial: optuna.Trial) -> list[float]:
        trial.set_user_attr(WORKER_ATTR, _process_id())
        try:
            return objective(trial)
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        except _USER_ERRORS:
            raise
        except Exception as exc:
            if disk_error(exc) is not None:  # a full / read-only run folder: not the trial's
                raise  # fault; left cut off (re-queued on resume), run_worker stops
            # a trial that raises (NaN, OOM, a bug in one candidate) fails; the study goes on
            trial.set_user_attr("status", STATUS_FAILED)
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:500])
            raise _TrialFailed(f"{type(exc).__name__}: {exc}") from exc  # run_worker logs it

    with warnings.catch_warnings(), _first_ctrl_c_finishes_the_trial() as interrupted:
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        res = run_worker(
            study,
            guarded,
            budget=n_trials,
            timeout=timeout or None,
            callbacks=[callback] if callback is not None else [],
            reraise=_USER_ERRORS,
            should_stop=interrupted.is_set,
        )
    if interrupted.is_set():
        raise Interrupted(
            f"interrupted after {res.ran} trial(s) in this run; every finished trial is kept in "
            f"study '{study.study_name}'; run the same command again to resume"
        )
    return res.ran


#: trial user attribute naming the process that ran the trial ("<host>:<pid>")
WORKER_ATTR = "worker"


def _process_id(pid: int | None = None) -> str:
    """``<host>:<pid>`` of this process (or of local process ``pid``)."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


class Interrupted(HwpruneError):
    """The user pressed Ctrl-C; finished trials are stored and the study can be resumed."""


@contextlib.contextmanager
def _first_ctrl_c_finishes_the_trial() -> Iterator[threading.Event]:
    """SIGINT handling for the trial loop: the first Ctrl-C lets the running trial finish and
    stops the loop (the event is set); a second one interrupts at once (KeyboardInterrupt; the
    cut-off trial is re-queued on resume).

    A handler, not Python's default KeyboardInterrupt, because the default can land inside a
    garbage-collector callback (SQLAlchemy's), where Python ignores it and the search goes on.
    """
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum: int, frame: Any) -> None:
        if event.is_set():
            raise KeyboardInterrupt
        event.set()
        logger.warning("interrupted: finishing the running trial (Ctrl-C again stops at once)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, previous)


class _TrialFailed(Exception):
    """A trial raised a non-user error; recorded as FAIL, the study goes on."""


#: errors that are the user's (would fail every trial alike): they stop the search
_USER_ERRORS = (ConfigError, TargetError, StorageError)


@contextlib.contextmanager
def _ctrl_c_in_callbacks_is_delivered_again() -> Iterator[None]:
    """A KeyboardInterrupt raised inside a garbage-collector or weakref callback is not
    printed as an "Exception ignored ... Traceback" (the user sees one line, never a
    traceback); the Ctrl-C is delivered to the main thread again (``_thread.interrupt_main``),
    so the SIGINT handler runs once more, in ordinary code, where it takes effect. Other
    unraisable exceptions go to the hook that was there before.
    """
    import _thread

    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            _thread.interrupt_main(signal.SIGINT)
            return
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


@contextlib.contextmanager
def _interrupts_are_never_success() -> Iterator[None]:
    """Ctrl-C anywhere in a search (parent training, final fine-tune, export) stops it.

    Python's own KeyboardInterrupt can land in a garbage-collector callback, where it is
    printed and dropped and the work goes on; this handler also remembers the Ctrl-C, so a
    search that went on anyway still ends with :class:`Interrupted`, never as a success. (The
    trial loop installs its own handler while it runs: its first Ctrl-C finishes the trial.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hit = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        hit.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        with _ctrl_c_in_callbacks_is_delivered_again():
            yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if hit.is_set():
        raise Interrupted(
            "interrupted before the search was complete; every finished trial is kept, run "
            "the same command again to resume"
        )


@_interrupts_are_never_success()
def search(
    recipe: str | Path | Recipe | None = None,
    target: Target | str | Path = "pynq-z2",
    *,
    out: str | Path | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    quiet: bool = True,
    export: bool = True,
    rtl: str = "auto",
    console: Any = None,
    workers: int = 1,
    devices: Sequence[str] = (),
    heartbeat_s: int | None = None,
    grace_s: int | None = None,
) -> SearchResult:
    """Run (or resume) a search and return its Pareto front and chosen design.

    ``recipe`` is a shipped recipe name, a TOML path or a :class:`Recipe`; ``overrides`` maps
    dotted recipe fields to values; ``target`` a target name, file or loaded target. The run
    folder defaults to ``runs/<study-name>``; the storage to its ``study.db``. Calling it
    again with the same arguments resumes: finished trials are kept, cut-off trials are
    re-queued, and only the missing trials run. ``rtl`` is the RTL level of the chosen design's
    export into ``best/`` (as ``hwprune export --rtl``; "auto": Verilator + Yosys on AMD
    targets, + the bitstream on ECP5 ones; "write" for the Verilog alone).

    Raises :class:`hwprune.errors.HwpruneError` subclasses for bad input; trial errors that
    are not the user's fault are recorded in the trial and the study goes on.

    Example:
        >>> r = search("digits-mlp", "pynq-z2", out="/tmp/hw-doc",
        ...            overrides={"budget.trials": 3})  # doctest: +SKIP
        >>> len(r.front) >= 1  # doctest: +SKIP
        True
    """
    t_start = time.perf_counter()
    rec = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    if overrides:
        rec = rec.with_overrides(dict(overrides))
    tgt = as_target(target)
    from hwprune.export.rtl.flow import resolve_level

    resolve_level(rtl, tgt)  # a bad RTL level is refused before any training
    rec = resolve_objectives(rec, tgt)
    name = study_name or default_study_name(rec, tgt.name)
    if study_name is not None:  # the study's name becomes runs/<name> and a file stem
        safe_name(study_name, "study name", hint="pass a plain --study-name such as my-study")
    run = RunFolder.for_study(out, name)
    run.prepare()
    own = storage is None
    url = storage or run.default_storage_url
    with (
        folder_lock(run.root) as got_lock,
        trial_claim(_claim_file(url, run)) as claim,
    ):
        if own and not got_lock:
            raise StorageError(
                f"run folder '{run.root}' is in use by another hwprune search; wait for it, "
                "or join it with `hwprune worker`"
            )
        run.check_identity(
            name,
            rec.fingerprint(),
            epochs=rec.budget.epochs,
            cache_dir=Path(cache_dir) if cache_dir else None,
            record=got_lock,  # a search that does not own the folder leaves run.json alone
            matches=rec.matches_fingerprint,
        )
        result = _search_locked(
            rec,
            tgt,
            run,
            name,
            storage,
            url,
            claim,
            alone=own and got_lock,
            cache_dir=cache_dir,
            quiet=quiet,
            export=export,
            rtl=rtl,
            console=console,
            workers=workers,
            devices=devices,
            heartbeat_s=heartbeat_s,
            grace_s=grace_s,
            t_start=t_start,
        )
    return result


def _search_locked(
    rec: Recipe,
    tgt: Target,
    run: RunFolder,
    name: str,
    storage: str | None,
    url: str,
    claim: Any,
    *,
    alone: bool,
    cache_dir: str | Path | None,
    quiet: bool,
    export: bool,
    rtl: str,
    console: Any,
    workers: int,
    devices: Sequence[str],
    heartbeat_s: int | None,
    grace_s: int | None,
    t_start: float,
) -> SearchResult:
    """The search once the run folder is locked: open the study, re-queue what was cut off
    (only when ``alone`` and the trial claim is exclusive), run the trials, finalize."""
    st = open_storage(storage, run_dir=run.root, heartbeat_s=heartbeat_s, grace_s=grace_s)
    study = open_study(rec, tgt, st, name)
    # a RUNNING trial is cut off only when no live process can be running it: see
    # requeue_cut_off (trials of live workers are left to them, dead ones to heartbeats)
    alone = alone and claim.try_exclusive()
    requeue_cut_off(study, own_storage=alone)
    if alone:  # no live process writes trials or best/ here: a killed one's temporaries go
        _clean_stale_temporaries(run)
    claim.share()  # from here on this process runs trials (or waits for its workers)
    # a single-process search fine-tunes on the first --device (K workers get theirs)
    wb = build_workbench(
        rec,
        tgt,
        Path(cache_dir) if cache_dir else run.parent_dir,
        device=devices[0] if devices and workers <= 1 else None,
    )
    enqueue_warm_start(study, wb)
    objective = Objective(wb, run)
    t_trials = time.perf_counter()
    failed_workers: list[int] = []
    with _progress(quiet, rec.budget.trials, study) as cb:
        if workers > 1:
            # K local `hwprune worker` processes share the storage; the parent is in the
            # cache already, so none of them trains it again
            procs = _run_local_workers(
                url,
                name,
                run,
                Path(cache_dir) if cache_dir else run.parent_dir,
                rec.budget.trials,
                workers,
                devices,
                heartbeat_s,
                grace_s,
                cb,
            )
            failed_workers = [w.index for w in procs if w.process.returncode != 0]
        else:
            run_trials(study, objective, rec.budget.trials, rec.budget.timeout, cb)
    trials_s = time.perf_counter() - t_trials
    result = finalize(
        study,
        wb,
        run,
        url,
        export=export,
        rtl=rtl,
        console=None if quiet else console,
        timings={"parent_s": wb.parent_s, "trials_s": trials_s},
        t_start=t_start,
    )
    _check_complete(study, rec, run, result, trials_s, failed_workers)
    return result


def _clean_stale_temporaries(run: RunFolder) -> None:
    """Remove the ``.tmp-*`` leftovers of a search or worker that was killed (SIGKILL).

    Called only by a search that owns the folder and holds the storage's trial claim
    exclusively, so no live process is writing a trial folder or ``best/``; temporaries of
    other writers in the run folder (``export/``, ``report.html``) are left unless an hour old.
    """
    from hwprune.atomic import clean_stale_temps

    trials = run.root / "trials"
    n = clean_stale_temps(trials, older_than_s=0.0)
    with contextlib.suppress(OSError):
        for sub in trials.iterdir():
            if sub.is_dir() and not sub.name.startswith("."):
                n += clean_stale_temps(sub, older_than_s=0.0)
    n += clean_stale_temps(
        run.root,
        older_than_s=0.0,
        finals={"best", "run.json", "pareto.json", "summary.json", "trials"},
    )
    n += clean_stale_temps(run.root)
    n += clean_stale_temps(run.parent_dir, older_than_s=0.0)  # a parent save cut by SIGKILL
    if n:
        logger.info("removed %d temporary file(s) left by an earlier run that was killed", n)


def _check_complete(
    study: Any,
    rec: Recipe,
    run: RunFolder,
    result: SearchResult,
    trials_s: float,
    failed_workers: Sequence[int],
) -> None:
    """Raise :class:`IncompleteError` when the search stopped short of its budget without a
    stated reason, or its chosen design failed to export: such a search never exits 0."""
    from hwprune.workers import finished_trials

    problems = []
    done, budget = len(finished_trials(study)), rec.budget.trials
    if done < budget:
        if rec.budget.timeout and trials_s >= rec.budget.timeout:
            logger.warning(
                "the time budget (--timeout %g s) ran out after %d of %d trials",
                rec.budget.timeout,
                done,
                budget,
            )
        else:
            why = (
                f"worker(s) {', '.join(map(str, failed_workers))} failed, see "
                f"{run.root / 'workers'}"
                if failed_workers
                else "trials stopped early"
            )
            problems.append(f"only {done} of {budget} trials finished ({why})")
    exp = result.summary.get("export") if isinstance(result.summary, dict) else None
    if isinstance(exp, dict) and exp.get("ok") is False:
        error = str(exp.get("error", "")).splitlines()[0][:200] if exp.get("error") else ""
        problems.append(f"the export of the chosen design failed ({error})")
    if problems:
        raise IncompleteError(
            f"{'; '.join(problems)}; what finished is kept in {run.root}, fix the cause and "
            "re-run the same command to complete it"
        )


def worker(
    storage: str,
    study_name: str,
    *,
    out: str | Path | None = None,
    trials: int | None = None,
    cache_dir: str | Path | None = None,
    quiet: bool = True,
    workers: int = 1,
    devices: Sequence[str] = (),
    device: str | None = None,
    heartbeat_s: int | None = None,
    grace_s: int | None = None,
) -> int:
    """Join an existing study and run trials until its budget is met; returns trials run here.

    The recipe and the target come from the study itself, so a worker on another machine only
    needs the storage URL and the study name. ``workers`` > 1 starts that many local worker
    processes instead (``devices`` assigned round robin), waits for them and returns the
    trials they ran. ``device`` is the device this process was given (see
    :func:`hwprune.workers.launch_workers`).

    On a storage file (SQLite, journal) the worker holds the storage's trial claim shared while
    it runs (:class:`~hwprune.runfolder.TrialClaim`), so that a ``hwprune search`` started on
    the same run folder meanwhile leaves its RUNNING trials alone (see
    :func:`requeue_cut_off`).
    """
    if workers > 1:
        return _worker_pool(
            storage,
            study_name,
            out=out,
            trials=trials,
            cache_dir=cache_dir,
            workers=workers,
            devices=devices,
            heartbeat_s=heartbeat_s,
            grace_s=grace_s,
        )
    st = open_storage(storage, heartbeat_s=heartbeat_s, grace_s=grace_s)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trial failures: our own log line
    try:
        summ = {s.study_name: s for s in optuna.get_all_study_summaries(st)}[study_name]
    except KeyError:
        raise StorageError(
            f"no study '{study_name}' in storage '{_mask(storage)}'; check --study, or start it "
            "with `hwprune search --storage URL`"
        ) from None
    rec = Recipe.from_dict(summ.user_attrs["recipe"], source=f"study '{study_name}'")
    if trials is not None:
        rec = rec.with_overrides({"budget.trials": trials})
    tgt = _target_from_study(summ.user_attrs)
    run = RunFolder.for_study(out, study_name)
    run.prepare()
    with trial_claim(_claim_file(storage, run)) as claim:
        claim.share()  # before this process can have a trial RUNNING
        study = open_study(rec, tgt, st, study_name, create=False)
        wb = build_workbench(
            rec, tgt, Path(cache_dir) if cache_dir else run.parent_dir, device=device
        )
        objective = Objective(wb, run)
        with _progress(quiet, rec.budget.trials, study) as cb:
            return run_trials(study, objective, rec.budget.trials, rec.budget.timeout, cb)


def _run_local_workers(
    url: str,
    study_name: str,
    run: RunFolder,
    cache_dir: Path,
    trials: int | None,
    workers: int,
    devices: Sequence[str],
    heartbeat_s: int | None,
    grace_s: int | None,
    on_poll: Callable[..., None] | None = None,
) -> list[Any]:
    """Start ``workers`` local ``hwprune worker`` processes on the study and wait for them.

    Their output goes to ``<run>/workers/worker-<i>.log``. Returns the finished
    :class:`~hwprune.workers.LaunchedWorker` s (exit code: ``process.returncode``); a worker
    that failed is reported (the others' trials are kept and the budget may be short).
    """
    from hwprune.workers import hwprune_worker_argv, launch_workers, wait_workers

    argv = hwprune_worker_argv(
        url,
        study_name,
        out=run.root,
        cache_dir=cache_dir,
        trials=trials,
        heartbeat=heartbeat_s,
        grace=grace_s,
    )
    procs = launch_workers(
        argv, max(workers, 1), devices=list(devices), log_dir=run.root / "workers"
    )
    codes = wait_workers(procs, on_poll=on_poll)
    bad = [i for i, code in enumerate(codes) if code != 0]
    if bad:
        logger.warning("worker(s) %s exited with an error; see %s", bad, run.root / "workers")
    return procs


def _worker_pool(
    storage: str,
    study_name: str,
    *,
    out: str | Path | None,
    trials: int | None,
    cache_dir: str | Path | None,
    workers: int,
    devices: Sequence[str],
    heartbeat_s: int | None,
    grace_s: int | None,
) -> int:
    """``hwprune worker --workers K``: K local workers on an existing study; trials run."""
    import optuna

    st = open_storage(storage, heartbeat_s=heartbeat_s, grace_s=grace_s)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trial failures: our own log line
    if study_name not in {s.study_name for s in optuna.get_all_study_summaries(st)}:
        raise StorageError(
            f"no study '{study_name}' in storage '{_mask(storage)}'; check --study, or start it "
            "with `hwprune search --storage URL`"
        )
    from hwprune.workers import counts_toward_budget

    done_before = {
        t.number
        for t in optuna.load_study(study_name=study_name, storage=st).get_trials(deepcopy=False)
        if counts_toward_budget(t)
    }
    run = RunFolder.for_study(out, study_name)
    run.prepare()
    launched = _run_local_workers(
        storage,
        study_name,
        run,
        Path(cache_dir) if cache_dir else run.parent_dir,
        trials,
        workers,
        devices,
        heartbeat_s,
        grace_s,
    )
    failed = [w.index for w in launched if w.process.returncode != 0]
    if failed:
        raise IncompleteError(
            f"worker(s) {', '.join(map(str, failed))} of {workers} failed, see "
            f"{run.root / 'workers'}; finished trials are kept, fix the cause and re-run the "
            "same command to complete the budget"
        )
    # what the workers ran (finished trials they tagged), not how much the study grew: the
    # growth also holds surplus placeholders, re-queued copies and other machines' trials
    ours = {_process_id(w.process.pid) for w in launched}
    return sum(
        1
        for t in optuna.load_study(study_name=study_name, storage=st).get_trials(deepcopy=False)
        if t.user_attrs.get(WORKER_ATTR) in ours
        and counts_toward_budget(t)
        and t.number not in done_before
    )
