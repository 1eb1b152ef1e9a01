"""Fault tests of issue 16: atomic trial claims, safe loads, no foreign file lost, full disks.

The bad-input table of the same issue lives in tests/test_errors.py (one table for every bad
input); here are the scenarios that need more than one command: many processes claiming queued
trials of one SQLite study at once, a malicious checkpoint, files dropped into a folder while
hwprune replaces it, a disk that fills up mid-search, and secrets in worker command lines.
"""

from __future__ import annotations

import errno
import json
import multiprocessing as mp
import os
import pickle
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ 1. atomic claims (SQLite)
def _claimer(url: str, out: str, go: object, n_queued: int) -> None:
    """One process: ask() until the queue is empty, record which queued trials it ran."""
    sys.path.insert(0, str(REPO))
    import optuna

    from hwprune.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(
        study_name="claims", storage=open_storage(url, heartbeat_interval=None, check=False)
    )
    go.wait()  # type: ignore[attr-defined]
    ran = []
    while True:
        trial = study.ask()
        if trial.number >= n_queued:  # the queue is empty: ask() made a fresh trial
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            break
        ran.append(trial.number)
        study.tell(trial, float(trial.params.get("x", 0)))  # a double claim would raise here
    Path(out).write_text(json.dumps(ran))


@pytest.mark.slow  # 6 spawned processes, 150 trials: ~34 s on 2 cores
def test_queued_trials_are_claimed_once_on_sqlite(tmp_path: Path) -> None:
    """6 processes pop 150 queued trials of one SQLite study at once: each runs exactly once.

    Before the fix (Optuna's read-then-write claim, which SQLite does not lock) this lost the
    race dozens of times per run, and the loser's ``tell`` raised UpdateFinishedTrialError.
    """
    import optuna

    from hwprune.storage import open_storage

    n, procs = 150, 6
    url = f"sqlite:///{tmp_path}/study.db"
    study = optuna.create_study(
        study_name="claims", storage=open_storage(url, heartbeat_interval=None)
    )
    for i in range(n):
        study.enqueue_trial({"x": i}, skip_if_exists=False)
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    workers = [
        ctx.Process(target=_claimer, args=(url, str(tmp_path / f"w{i}.json"), go, n))
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    time.sleep(2.0)  # let every process open the study, then start them together
    go.set()
    for w in workers:
        w.join(timeout=240)
    assert [w.exitcode for w in workers] == [0] * procs
    ran = [t for i in range(procs) for t in json.loads((tmp_path / f"w{i}.json").read_text())]
    assert len(ran) == len(set(ran)), "a queued trial ran twice"
    assert sorted(ran) == list(range(n)), "a queued trial never ran"
    states = [t.state for t in study.get_trials() if t.number < n]
    assert all(s == optuna.trial.TrialState.COMPLETE for s in states)


def test_claim_of_a_finished_or_running_trial_is_refused(tmp_path: Path) -> None:
    import optuna
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    from hwprune.storage import AtomicClaimRDBStorage

    st = AtomicClaimRDBStorage(f"sqlite:///{tmp_path}/s.db")
    study = optuna.create_study(storage=st)
    study.enqueue_trial({"x": 1.0})
    tid = study._pop_waiting_trial_id()
    assert tid is not None
    assert st.set_trial_state_values(tid, TrialState.RUNNING) is False
    st.set_trial_state_values(tid, TrialState.COMPLETE, [1.0])
    with pytest.raises(UpdateFinishedTrialError):
        st.set_trial_state_values(tid, TrialState.RUNNING)


# ------------------------------------------------------------------ 3. safe loads
class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_with_code_is_refused_even_when_torch_is_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from hwprune.errors import ModelError
    from hwprune.safeload import load_state_dict

    marker = tmp_path / "pwned"
    evil = tmp_path / "model.pt"
    torch.save({"fc.weight": torch.zeros(2), "x": _Evil(str(marker))}, evil)
    whole = tmp_path / "whole.pt"
    torch.save(torch.nn.Linear(2, 2), whole)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    for path in (evil, whole):
        with pytest.raises(ModelError) as info:
            load_state_dict(path, "weights")
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert not marker.exists(), "unpickling ran code"
    (tmp_path / "junk.pt").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ModelError):
        load_state_dict(tmp_path / "junk.pt")
    good = tmp_path / "good.pt"
    torch.save({"state_dict": torch.nn.Linear(2, 1).state_dict(), "epochs": 1}, good)
    assert sorted(load_state_dict(good)) == ["bias", "weight"]


def test_no_bare_torch_load_in_the_package() -> None:
    """Every .pt read goes through hwprune.safeload (grep, so a new call site fails here)."""
    offenders = []
    for path in (REPO / "hwprune").rglob("*.py"):
        if path.name == "safeload.py":
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if "torch.load(" in code and ">>>" not in code and "``" not in code:
                offenders.append(f"{path.relative_to(REPO)}:{i}")
    assert not offenders, offenders


# ------------------------------------------------------------------ 6. foreign files are kept
def test_replaced_folder_keeps_what_hwprune_did_not_write(tmp_path: Path) -> None:
    from hwprune.atomic import atomic_dir

    out = tmp_path / "best"
    out.mkdir()
    (out / "model.pt").write_text("old weights")
    (out / "csim.log").write_text("stale")
    (out / "mine.txt").write_text("the user's notes")
    with atomic_dir(out, owned={"model.pt", "csim.log", "design.json"}) as work:
        (work / "model.pt").write_text("new weights")
        (work / "design.json").write_text("{}")
        (out / "dropped.txt").write_text("written while hwprune worked")
    assert (out / "model.pt").read_text() == "new weights"
    assert not (out / "csim.log").exists()  # hwprune's stale file goes
    assert (out / "mine.txt").read_text() == "the user's notes"
    assert (out / "dropped.txt").read_text() == "written while hwprune worked"
    assert [p.name for p in tmp_path.iterdir()] == ["best"]  # no leftovers
    # without ``owned`` only what appeared during the block is someone else's
    with atomic_dir(out) as work:
        (work / "model.pt").write_text("newer")
        (out / "late.txt").write_text("late")
    assert (out / "late.txt").exists() and not (out / "design.json").exists()


@pytest.mark.slow
def test_export_keeps_a_file_dropped_into_out_during_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from export_models import quant_model
    finally:
        sys.path.pop(0)
    import hwprune.export.core as core
    from hwprune.export.qonnx import export_brevitas

    model, shape = quant_model("mlp-digits", steps=1)
    onnx_path = tmp_path / "m.onnx"
    export_brevitas(model, (1, *shape), onnx_path)
    out = tmp_path / "export"
    core.export_model(onnx_path, "pynq-z2", out_dir=out, csim=False, n_golden=4, rtl="write")
    real_readme = core._readme

    def readme_and_a_drop(folder: Path, ctx: dict) -> None:
        (out / "notes.txt").write_text("dropped during the export")
        real_readme(folder, ctx)

    monkeypatch.setattr(core, "_readme", readme_and_a_drop)
    core.export_model(onnx_path, "pynq-z2", out_dir=out, csim=False, n_golden=4, rtl="write")
    assert (out / "notes.txt").read_text() == "dropped during the export"
    assert (out / "dataflow.json").is_file() and (out / "README.md").is_file()


# ------------------------------------------------------------------ 10. stale temporaries
def test_stale_temporaries_are_cleaned_and_fresh_ones_kept(tmp_path: Path) -> None:
    from hwprune.atomic import clean_stale_temps

    old_dir, old_file, fresh = tmp_path / ".tmp-best.a", tmp_path / ".tmp-x.json.b", tmp_path
    old_dir.mkdir()
    (old_dir / "model.pt").write_text("half")
    old_file.write_text("half")
    (fresh / ".tmp-trial.c").mkdir()
    (tmp_path / "keep.tmp-not-ours").write_text("x")
    past = time.time() - 7200
    for p in (old_dir, old_file):
        os.utime(p, (past, past))
    assert clean_stale_temps(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-trial.c", "keep.tmp-not-ours"]


# ------------------------------------------------------------------ 4. secrets
def test_every_password_form_is_masked() -> None:
    from hwprune.storage import redact_url

    for url, secret in [
        ("postgresql://hw:pa55@db/x", "pa55"),
        ("postgresql://hw:a/b@db:5432/x", "a/b"),
        ("postgresql://hw:p@ss@db/x", "ss@"),
        ("mysql+pymysql://hw:a:b@db/x", "a:b"),
        ("postgresql://db/x?user=hw&password=s3cret", "s3cret"),
        ("postgresql://hw@db/x?sslpassword=k3y&application_name=a", "k3y"),
    ]:
        masked = redact_url(url)
        assert secret not in masked and "***" in masked, (url, masked)
    assert redact_url("sqlite:////runs/a:b@c/study.db") == "sqlite:////runs/a:b@c/study.db"


def test_worker_processes_get_the_storage_password_by_environment(tmp_path: Path) -> None:
    from hwprune.workers import launch_workers, wait_workers

    url = "postgresql://hw:top/secret@db.lab/optuna"
    probe = tmp_path / "probe.json"
    script = (
        "import json, os, sys; "
        f"json.dump([sys.argv, os.environ.get('HWPRUNE_STORAGE')], open({str(probe)!r}, 'w'))"
    )
    ws = launch_workers([sys.executable, "-c", script, "--storage", url, "--study", "s"], 1)
    assert wait_workers(ws) == [0]
    argv, env_url = json.loads(probe.read_text())
    assert "top/secret" not in " ".join(argv) and "--storage" not in argv
    assert env_url == url and argv[-2:] == ["--study", "s"]


# ------------------------------------------------------------------ 7. full / read-only disk
def test_full_disk_stops_the_worker_instead_of_failing_every_trial() -> None:
    import optuna

    from hwprune.workers import run_worker

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study()
    calls = []

    def objective(trial: optuna.Trial) -> float:
        calls.append(trial.number)
        raise OSError(errno.ENOSPC, "No space left on device", "/runs/x/trials/0/design.json")

    with pytest.raises(OSError):
        run_worker(study, objective, budget=50)
    assert calls == [0]


_FULL_DISK = """
import errno, os
_real = os.replace
_count = [0]
def _full(src, dst, *a, **k):
    if "{needle}" in os.fspath(dst):
        _count[0] += 1
        if _count[0] > {after}:
            raise OSError(errno.ENOSPC, "No space left on device", os.fspath(dst))
    return _real(src, dst, *a, **k)
os.replace = _full
"""


@pytest.mark.slow
def test_disk_filling_up_mid_search_is_one_line_and_resumable(tmp_path: Path) -> None:
    """ENOSPC injected (sitecustomize) into the third trial folder write of a real search."""
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(
        textwrap.dedent(_FULL_DISK.format(needle="/trials/", after=2))
    )
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "hwprune", "search", "--quiet", "--trials", "6",
        "--epochs", "1", "--final-epochs", "1", "--no-export", "--set", "parent.epochs=1",
        "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(inject), str(REPO)])}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    assert res.returncode == 2, res.stderr[-3000:]
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert lines[-1].startswith("hwprune: error: cannot write"), res.stderr[-2000:]
    assert "No space left" in lines[-1] and "re-run" in lines[-1]
    assert len(lines) <= 2, res.stderr  # no per-trial warnings or tracebacks
    env["PYTHONPATH"] = str(REPO)  # space freed: the same command resumes and finishes
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    counts = summary["trials"]
    assert counts["complete"] == 6  # the cut-off trial did not use up the budget
    assert counts["failed"] == 0 and counts["cut_off"] == 1  # the disk's fault, not the trial's


# ------------------------------------------------------------------ 8. no silent success
def _search_cmd(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "hwprune", "search", "--quiet", "--epochs", "1", "--no-export",
        "--out", str(out), *extra,
    ]  # fmt: skip


def _complete_trials(db: Path) -> int:
    import sqlite3

    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as con:
            q = "SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'"
            return int(con.execute(q).fetchone()[0])
    except sqlite3.Error:
        return 0


def _interrupt_when(cmd: list[str], ready: object, cwd: Path) -> subprocess.CompletedProcess:
    import signal

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd
    )
    deadline = time.monotonic() + 180
    while not ready() and proc.poll() is None and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.2)
    assert proc.poll() is None, f"ended before the interrupt:\n{proc.stderr.read()[-2000:]}"  # type: ignore[union-attr]
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _assert_interrupted(res: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    assert res.returncode == 2, (res.returncode, res.stderr[-3000:])
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("hwprune: error: interrupted") and "re-run" in last, res.stderr


@pytest.mark.slow
def test_ctrl_c_while_the_parent_trains_is_not_success(tmp_path: Path) -> None:
    """Click turns a Ctrl-C into a returned exit code; it used to be dropped (exit 0)."""
    out = tmp_path / "run"
    cmd = _search_cmd(out, "--trials", "2", "--set", "parent.epochs=3000")
    res = _interrupt_when(cmd, lambda: (out / "run.json").exists(), tmp_path)
    _assert_interrupted(res)
    assert not (out / "summary.json").exists()


@pytest.mark.slow
def test_ctrl_c_during_the_final_fine_tune_is_not_success(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = _search_cmd(out, "--trials", "1", "--final-epochs", "3000", "--set", "parent.epochs=1")
    res = _interrupt_when(cmd, lambda: _complete_trials(out / "study.db") >= 1, tmp_path)
    _assert_interrupted(res)
    assert not (out / "best").exists() and not (out / "summary.json").exists()
    assert _complete_trials(out / "study.db") == 1  # the finished trial is kept


@pytest.mark.slow
def test_search_whose_chosen_design_fails_to_export_is_not_success(tmp_path: Path) -> None:
    """No C++ compiler on PATH: the export's C simulation cannot run, so the search says so
    and exits 2 (it used to exit 0 with the failure buried in summary.json)."""
    out = tmp_path / "run"
    empty = tmp_path / "bin"
    empty.mkdir()
    cmd = [
        c
        for c in _search_cmd(out, "--trials", "1", "--set", "parent.epochs=1")
        if c != "--no-export"
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": str(empty)}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    assert res.returncode == 2, (res.returncode, res.stderr[-3000:])
    last = res.stderr.strip().splitlines()[-1]
    assert "export of the chosen design failed" in last and "re-run" in last, res.stderr
    summary = json.loads((out / "summary.json").read_text())  # what finished is kept
    assert summary["export"]["ok"] is False and (out / "best" / "model.pt").is_file()


# ------------------------------------------------------------------ 10. leftovers and reruns
@pytest.mark.slow
def test_rerun_of_a_finished_search_keeps_best_and_cleans_leftovers(tmp_path: Path) -> None:
    out = tmp_path / "run"
    (out / "best").mkdir(parents=True)
    (out / "best" / "mine.txt").write_text("the user's notes")
    cmd = [
        c
        for c in _search_cmd(
            out, "--trials", "2", "--final-epochs", "1", "--set", "parent.epochs=1"
        )
        if c != "--quiet"
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    # piped output: whole progress lines, no bar cut to 80 columns
    progress = [ln for ln in res.stdout.splitlines() if ln.startswith("trials ")]
    assert progress and progress[-1].startswith("trials 2/2:"), res.stdout
    assert all(re.fullmatch(r"trials \d+/2: feasible \d+, .*best acc \S+", ln) for ln in progress)
    assert (out / "best" / "mine.txt").read_text() == "the user's notes"
    weights = (out / "best" / "model.pt").stat().st_mtime_ns
    # leftovers of a run killed with SIGKILL: temporary trial folder, best/, a JSON file
    (out / "trials" / ".tmp-7.abc").mkdir()
    (out / ".tmp-best.xyz").mkdir()
    (out / ".tmp-summary.json.q").write_text("{")
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert "final_s" not in summary["timings_s"], summary["timings_s"]  # not fine-tuned again
    assert (out / "best" / "model.pt").stat().st_mtime_ns == weights
    assert summary["chosen"]["test_accuracy"] is not None
    left = [p.name for p in [*out.iterdir(), *(out / "trials").iterdir()]]
    assert not [n for n in left if n.startswith(".tmp-")], left


# ------------------------------------------------------------------ 1. short budgets are said
def test_a_search_short_of_its_budget_is_not_success(tmp_path: Path) -> None:
    import optuna

    from hwprune.errors import IncompleteError
    from hwprune.recipe import Recipe
    from hwprune.runfolder import RunFolder
    from hwprune.search.runner import _check_complete

    study = optuna.create_study()
    study.optimize(lambda t: 1.0, n_trials=1)
    rec = Recipe().with_overrides({"budget.trials": 3})
    run = RunFolder(tmp_path)
    ok = SimpleNamespace(summary={"export": {"ok": True}})  # what _check_complete reads
    with pytest.raises(IncompleteError, match=r"only 1 of 3 trials finished \(worker\(s\) 1"):
        _check_complete(study, rec, run, ok, 1.0, [1])
    timed = rec.with_overrides({"budget.timeout": 5})
    _check_complete(study, timed, run, ok, 6.0, [])  # the time budget ran out: said, exit 0
    study.optimize(lambda t: 1.0, n_trials=2)
    bad = SimpleNamespace(summary={"export": {"ok": False, "error": "g++ missing"}})
    with pytest.raises(IncompleteError, match="export of the chosen design failed"):
        _check_complete(study, rec, run, bad, 1.0, [])
    _check_complete(study, rec, run, ok, 1.0, [])


@pytest.mark.slow
def test_two_local_workers_run_the_whole_budget_once(tmp_path: Path) -> None:
    """`search --workers 2` with queued warm-start trials: the full budget, no double claims."""
    out = tmp_path / "run"
    cmd = _search_cmd(out, "--workers", "2", "--trials", "4", "--final-epochs", "1")
    cmd += ["--set", "parent.epochs=1"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=400)
    assert res.returncode == 0, res.stderr[-3000:]
    counts = json.loads((out / "summary.json").read_text())["trials"]
    assert counts["complete"] == 4 and counts["failed"] == 0, counts
    for log in (out / "workers").glob("*.log"):
        text = log.read_text()
        assert "Traceback" not in text and "UpdateFinishedTrialError" not in text, text[-2000:]


@pytest.mark.slow
def test_worker_pool_whose_workers_fail_is_not_success(tmp_path: Path) -> None:
    """`hwprune worker --workers 2` on a study whose data is missing: both workers fail, and
    the pool says so (exit 2) instead of reporting 0 trials done."""
    import optuna

    from hwprune.recipe import Recipe
    from hwprune.resources import resource_dir

    study = optuna.create_study(storage=f"sqlite:///{tmp_path}/s.db", study_name="p")
    recipe = {**Recipe().to_dict(), "dataset": "mnist", "data_dir": str(tmp_path / "none")}
    study.set_user_attr("recipe", recipe)
    study.set_user_attr("target", "pynq-z2")
    study.set_user_attr("target_toml", (resource_dir("targets") / "pynq-z2.toml").read_text())
    cmd = [
        sys.executable, "-m", "hwprune", "worker", "--storage", f"sqlite:///{tmp_path}/s.db",
        "--study", "p", "--out", str(tmp_path / "run"), "--workers", "2", "--quiet",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), "HWPRUNE_NO_DOWNLOAD": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert "Traceback" not in res.stderr and res.returncode == 2, res.stderr[-3000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("hwprune: error: worker(s) 0, 1 of 2 failed"), res.stderr


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_trial_killed_before_its_first_heartbeat_is_requeued(tmp_path: Path, kind: str) -> None:
    """A worker SIGKILLed between claiming a trial and its first heartbeat left the trial
    RUNNING forever (the other workers then waited for it without end)."""
    import optuna
    from optuna.trial import TrialState

    from hwprune.storage import open_storage

    url = f"journal://{tmp_path}/study.log" if kind == "journal" else None
    storage = open_storage(url, tmp_path, heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(storage=storage)
    study.enqueue_trial({"x": 0.5})
    orphan = study.ask()  # claimed, then its process "dies": no heartbeat ever
    assert orphan.number == 0
    time.sleep(2.5)
    optuna.storages.fail_stale_trials(study)
    states = {t.number: t.state for t in study.get_trials()}
    assert states[0] == TrialState.FAIL and TrialState.WAITING in states.values(), states
