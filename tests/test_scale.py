"""Scale-out and fault tolerance: storages, heartbeats, shared budget, atomic artefacts, cache.

The multi-process tests start real worker processes on one study (PostgreSQL through a
throw-away server from ``pg.py``, a journal file, SQLite), SIGKILL one in the middle of a trial
and check that nothing finished is lost and the budget is met exactly.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from pg import postgres_url  # noqa: F401  (session fixture)

from hwprune.atomic import atomic_dir, atomic_torch_save, atomic_write_json, atomic_write_text
from hwprune.cache import FileCache, content_key, file_lock
from hwprune.errors import ConfigError, StorageError
from hwprune.storage import (
    HEARTBEAT_ATTR,
    HeartbeatJournalStorage,
    check_storage,
    open_storage,
    parse_storage,
    redact_url,
)
from hwprune.workers import (
    FAIL_REASON_ATTR,
    SURPLUS_ATTR,
    assign_devices,
    counts_toward_budget,
    finished_trials,
    launch_workers,
    parse_devices,
    run_worker,
    wait_workers,
)

REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "scale_worker.py"

optuna.logging.set_verbosity(optuna.logging.ERROR)


# ------------------------------------------------------------------------------ storage URLs
def test_parse_storage_kinds(tmp_path: Path) -> None:
    assert parse_storage(None, run_dir=tmp_path).url == f"sqlite:///{tmp_path}/study.db"
    j = parse_storage(f"journal://{tmp_path}/s.log")
    assert (j.kind, j.path) == ("journal", tmp_path / "s.log")
    assert parse_storage(f"journal:///{tmp_path}/s.log").path == tmp_path / "s.log"
    assert parse_storage(str(tmp_path / "x.journal")).kind == "journal"
    assert parse_storage(str(tmp_path / "x.db")).url == f"sqlite:///{tmp_path}/x.db"
    pg = parse_storage("postgresql://hw:s3cret@db:5432/opt")
    assert (pg.kind, pg.dialect) == ("rdb", "postgresql")
    assert "s3cret" not in pg.redacted() and pg.redacted() == "postgresql://hw:***@db:5432/opt"
    assert redact_url("mysql+pymysql://u:p@h/d") == "mysql+pymysql://u:***@h/d"
    with pytest.raises(StorageError, match="what kind of storage"):
        parse_storage("study.txt")
    with pytest.raises(StorageError, match="no run folder"):
        parse_storage(None)
    with pytest.raises(StorageError, match="redis"):
        parse_storage("redis://localhost:6379")


def test_unreachable_database_is_one_line_storage_error() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://hw:topsecret@127.0.0.1:{port}/nope"
    with pytest.raises(StorageError) as err:
        open_storage(url)
    msg = str(err.value)
    assert msg.startswith(f"cannot connect to postgresql://hw:***@127.0.0.1:{port}/nope: ")
    assert "topsecret" not in msg and "\n" not in msg and "check that the server" in msg


def test_missing_driver_and_missing_folder_are_storage_errors(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot connect to"):
        check_storage("postgresql+nosuchdriver://u@h/d")
    with pytest.raises(StorageError, match="does not exist"):
        open_storage(f"journal://{tmp_path}/missing/s.log")
    with pytest.raises(StorageError, match="grace period"):
        open_storage(None, run_dir=tmp_path, heartbeat_interval=10, grace_period=5)


# ------------------------------------------------------------------------------ atomic writes
def test_atomic_writes_replace_whole_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "design.json"
    atomic_write_json(target, {"v": 1})

    class Boom(Exception):
        pass

    def bad() -> object:
        raise Boom

    with pytest.raises(TypeError):
        atomic_write_json(target, {"v": bad})  # not serialisable: old file must survive
    assert json.loads(target.read_text()) == {"v": 1}
    atomic_write_text(target, '{"v": 2}')
    assert json.loads(target.read_text()) == {"v": 2}
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    mode = target.stat().st_mode & 0o777  # same permissions as a file written with open()
    assert mode == plain.stat().st_mode & 0o777, oct(mode)
    with pytest.raises(Boom), atomic_dir(tmp_path / "trial_1") as tmp:
        (tmp / "design.json").write_text("{}")
        raise Boom
    assert not (tmp_path / "trial_1").exists()
    with atomic_dir(tmp_path / "trial_1") as tmp:
        (tmp / "a").write_text("1")
    with atomic_dir(tmp_path / "trial_1") as tmp:  # replacing an existing folder
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in (tmp_path / "trial_1").iterdir()) == ["b"]
    import torch

    atomic_torch_save({"w": torch.arange(3)}, tmp_path / "c.pt")
    assert torch.load(tmp_path / "c.pt")["w"].tolist() == [0, 1, 2]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_atomic_dir_has_the_umask_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder made by atomic_dir (best/, an export) gets the mode a plain mkdir() gives
    under the umask (0755 under umask 022), not mkdtemp's 0700."""
    import hwprune.atomic as atomic

    monkeypatch.setattr(atomic, "_UMASK", 0o022)
    for final in (tmp_path / "new", tmp_path / "new"):  # made, then replaced
        with atomic_dir(final) as tmp:
            (tmp / "a").write_text("1")
        assert final.stat().st_mode & 0o777 == 0o755, oct(final.stat().st_mode)


def test_killed_writer_never_leaves_a_partial_file(tmp_path: Path) -> None:
    """SIGKILL a process in the middle of a large atomic write: the file is old or absent."""
    target = tmp_path / "ckpt.bin"
    atomic_write_text(target, "old")
    code = (
        "import sys, time\nfrom hwprune.atomic import atomic_path\n"
        f"with atomic_path({str(target)!r}) as tmp:\n"
        "    f = open(tmp, 'wb'); f.write(b'x' * 1000); f.flush()\n"
        "    print('writing', flush=True); time.sleep(30)\n"
    )
    p = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=_env(), cwd=REPO
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "writing"
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert target.read_text() == "old"


# ------------------------------------------------------------------------------ cache
def _build_in_process(root: str, key: str, counter: str, barrier_dir: str) -> str:
    def build(tmp: Path) -> None:
        with open(counter, "a") as fh:  # count real builds
            fh.write(f"{os.getpid()}\n")
        time.sleep(0.5)  # long enough that the others arrive while we build
        tmp.mkdir()
        (tmp / "weights.bin").write_bytes(b"w" * 100)
        (tmp / "meta.json").write_text("{}")

    return str(FileCache(Path(root)).get_or_create(key, build))


def test_cache_builds_once_across_processes(tmp_path: Path) -> None:
    key = content_key({"model": "mlp-digits", "epochs": 3, "seed": 0})
    counter = tmp_path / "builds.txt"
    ctx = mp.get_context("spawn")
    with ctx.Pool(3) as pool:
        paths = pool.starmap(
            _build_in_process, [(str(tmp_path / "c"), key, str(counter), str(tmp_path))] * 3
        )
    assert len(set(paths)) == 1
    assert len(counter.read_text().splitlines()) == 1, "the parent was built more than once"
    entry = Path(paths[0])
    assert sorted(p.name for p in entry.iterdir()) == ["meta.json", "weights.bin"]
    assert FileCache(tmp_path / "c").entries() == [entry]


def test_cache_failed_build_publishes_nothing(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)

    def bad(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        cache.get_or_create("k", bad)
    assert cache.lookup("k") is None and cache.entries() == []
    assert cache.get_or_create("k", lambda t: t.write_text("ok")).read_text() == "ok"
    with pytest.raises(ValueError):
        cache.path_for("../escape")
    assert content_key({"a": 1, "b": 2}) == content_key({"b": 2, "a": 1})
    assert content_key({"a": 1}) != content_key({"a": 2})


def test_file_lock_is_exclusive(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    order: list[str] = []
    with file_lock(lock):
        code = (
            f"from hwprune.cache import file_lock\nwith file_lock({str(lock)!r}, timeout=0.3):\n"
            "    pass\n"
        )
        r = subprocess.run(
            [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60
        )
        order.append("blocked" if "TimeoutError" in r.stderr else "acquired")
    assert order == ["blocked"]
    with file_lock(lock, timeout=1):
        pass


# ------------------------------------------------------------------------------ worker loop
def test_raising_trial_is_recorded_with_reason_and_study_goes_on() -> None:
    study = optuna.create_study()

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_int("x", 0, 9)
        if trial.number % 3 == 1:
            raise FloatingPointError("loss is NaN")
        return float(x)

    res = run_worker(study, objective, budget=6)
    states = Counter(t.state for t in study.trials)
    assert states == {TrialState.COMPLETE: 4, TrialState.FAIL: 2}
    assert (res.ran, res.completed, res.failed, res.stopped_because) == (6, 4, 2, "budget")
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert all(t.user_attrs[FAIL_REASON_ATTR] == "FloatingPointError: loss is NaN" for t in failed)
    assert len(finished_trials(study)) == 6
    # a second worker on the same study finds the budget spent and runs nothing
    assert run_worker(study, objective, budget=6).ran == 0


def test_user_error_in_a_trial_is_recorded_then_stops_the_worker() -> None:
    study = optuna.create_study()

    def objective(trial: optuna.Trial) -> float:
        raise ConfigError("unknown criterion 'l3'; use l1, bn, taylor or activation")

    with pytest.raises(ConfigError, match="unknown criterion"):
        run_worker(study, objective, budget=5, reraise=(ConfigError,))
    (only,) = study.trials
    assert only.state == TrialState.FAIL and "ConfigError" in only.user_attrs[FAIL_REASON_ATTR]


def test_threads_sharing_one_sqlite_study_meet_the_budget_exactly(tmp_path: Path) -> None:
    storage = open_storage(None, run_dir=tmp_path, heartbeat_interval=1, grace_period=3)
    study = optuna.create_study(storage=storage, study_name="t")
    results = []

    def objective(trial: optuna.Trial) -> float:
        time.sleep(0.05)
        return trial.suggest_float("x", 0, 1)

    def work() -> None:
        s = optuna.load_study(study_name="t", storage=storage)
        results.append(run_worker(s, objective, budget=10, poll_interval=0.05))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 10
    assert sum(r.completed for r in results) == 10
    surplus = [t for t in study.trials if t.user_attrs.get(SURPLUS_ATTR)]
    assert all(t.state == TrialState.FAIL and not counts_toward_budget(t) for t in surplus)


def test_journal_heartbeat_fails_and_requeues_a_dead_trial(tmp_path: Path) -> None:
    url = f"journal://{tmp_path}/study.log"
    storage = open_storage(url, heartbeat_interval=1, grace_period=2)
    assert isinstance(storage, HeartbeatJournalStorage)
    study = optuna.create_study(storage=storage, study_name="j")
    with pytest.warns(UserWarning, match="Heartbeat"):
        dead = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    storage.record_heartbeat(dead._trial_id)  # it beat once, then its worker died
    assert HEARTBEAT_ATTR in storage.get_trial(dead._trial_id).system_attrs
    time.sleep(2.5)
    assert storage._get_stale_trial_ids(study._study_id) == [dead._trial_id]
    res = run_worker(study, lambda t: t.suggest_float("x", 0, 1), budget=2)
    trials = study.trials
    assert trials[0].state == TrialState.FAIL and FAIL_REASON_ATTR not in trials[0].user_attrs
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].params == trials[0].params
    assert res.completed == 2 and len(study.get_trials(states=(TrialState.COMPLETE,))) == 2


def test_journal_lock_left_by_a_killed_writer_does_not_fail_live_trials(tmp_path: Path) -> None:
    """A worker SIGKILLed mid-append leaves the journal's lock behind. The live workers'
    heartbeats wait for it; the lock must be broken well before their trials go stale."""
    log = tmp_path / "study.log"
    storage = open_storage(f"journal://{log}", heartbeat_interval=1, grace_period=10)
    assert isinstance(storage, HeartbeatJournalStorage)
    study = optuna.create_study(storage=storage, study_name="j")
    with pytest.warns(UserWarning, match="Heartbeat"):
        live = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    storage.record_heartbeat(live._trial_id)
    os.symlink(log, f"{log}.lock")  # what a writer killed while holding the lock leaves
    t0 = time.monotonic()
    storage.record_heartbeat(live._trial_id)  # the live worker's next beat waits for the lock
    waited = time.monotonic() - t0
    assert 3 <= waited < 10 - 1 - 2, waited  # broken, with room for one interval and a poll
    assert storage._get_stale_trial_ids(study._study_id) == []
    assert not os.path.lexists(f"{log}.lock")


def test_journal_lock_of_a_dead_local_process_is_broken_at_once(tmp_path: Path) -> None:
    """The lock names its owner: a dead process on this host is seen at once (no grace wait,
    so two waiters never break each other's fresh locks); a live owner's lock is kept."""
    import socket

    from hwprune.journal_lock import OwnedSymlinkLock

    log = tmp_path / "study.log"
    storage = open_storage(f"journal://{log}", heartbeat_interval=1, grace_period=10)
    assert isinstance(storage, HeartbeatJournalStorage)
    study = optuna.create_study(storage=storage, study_name="j")
    with pytest.warns(UserWarning, match="Heartbeat"):
        live = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    os.symlink(f"{socket.gethostname()}:{dead.pid}:killed", f"{log}.lock")
    t0 = time.monotonic()
    storage.record_heartbeat(live._trial_id)
    assert time.monotonic() - t0 < 1.0
    assert not os.path.lexists(f"{log}.lock")
    os.symlink(f"{socket.gethostname()}:{os.getpid()}:alive", f"{log}.lock")
    other = OwnedSymlinkLock(str(log), grace_period=1)
    assert not other._stale(os.readlink(f"{log}.lock"))  # young and alive: kept
    os.unlink(f"{log}.lock")


# ------------------------------------------------------------------------------ devices
def test_devices_round_robin_and_thread_split(tmp_path: Path) -> None:
    assert parse_devices("cuda:0,cuda:1") == ["cuda:0", "cuda:1"]
    assert assign_devices(parse_devices("cuda:0,cuda:1"), 3) == ["cuda:0", "cuda:1", "cuda:0"]
    with pytest.raises(ConfigError):
        parse_devices("gpu0")
    with pytest.raises(ConfigError):
        assign_devices([], 0)
    code = "import os,sys; print(os.environ['HWPRUNE_WORKER_INDEX'], sys.argv[1:])"
    env = {k: v for k, v in _env().items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    ws = launch_workers(
        [sys.executable, "-c", code], 3, devices=["cuda:0", "cuda:1"], log_dir=tmp_path, env=env
    )
    assert wait_workers(ws) == [0, 0, 0]
    logs = [(tmp_path / f"worker-{i}.log").read_text().strip() for i in range(3)]
    assert logs == [
        "0 ['--device', 'cuda:0']",
        "1 ['--device', 'cuda:1']",
        "2 ['--device', 'cuda:0']",
    ]


# ------------------------------------------------------------------------------ processes
def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _run_workers(
    url: str,
    art: Path,
    *,
    n: int = 3,
    budget: int = 12,
    sleep: float = 0.6,
    kill_after: int | None = None,
) -> tuple[optuna.Study, int | None]:
    """Start ``n`` worker processes on a fresh study; SIGKILL worker 0 during its
    ``kill_after``-th trial. Returns the study and the number of the killed trial."""
    # grace 8 s: well above the journal's dead-lock break (3 s) plus a heartbeat interval, so
    # a worker killed while it holds the journal's lock cannot get the live trials failed
    storage = open_storage(url, heartbeat_interval=1, grace_period=8)
    optuna.create_study(
        storage=storage, study_name="scale", sampler=optuna.samplers.RandomSampler(seed=0)
    )
    args = [url, "scale", str(art), str(budget), str(sleep), "1", "8"]
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(),
        )
        for _ in range(n)
    ]
    killed = None
    try:
        if kill_after is not None:
            started = 0
            assert procs[0].stdout is not None
            for line in procs[0].stdout:
                if line.startswith("started"):
                    started += 1
                    if started == kill_after:
                        killed = int(line.split()[1])
                        time.sleep(sleep / 3)  # mid-trial, heartbeat thread running
                        procs[0].send_signal(signal.SIGKILL)
                        break
        outs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, out in zip(procs[1:], outs[1:], strict=True):
        assert p.returncode == 0, out[-3000:]
    if killed is not None:
        assert procs[0].returncode == -signal.SIGKILL
    return optuna.load_study(study_name="scale", storage=open_storage(url)), killed


def _check_outcome(study: optuna.Study, art: Path, budget: int, killed: int | None) -> None:
    trials = study.trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == budget, Counter(t.state.name for t in trials)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)), "duplicate trial numbers"
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    for t in complete:  # every finished trial's artefacts are there and whole
        folder = art / f"trial_{t.number:04d}"
        assert json.loads((folder / "design.json").read_text()) == t.params
        assert json.loads((folder / "result.json").read_text())["loss"] == t.value
    finals = {p.name for p in art.iterdir() if not p.name.startswith(".tmp-")}
    assert finals == {f"trial_{t.number:04d}" for t in complete}
    if killed is not None:
        dead = trials[killed]
        assert dead.state == TrialState.FAIL and FAIL_REASON_ATTR not in dead.user_attrs
        retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
        assert retries and retries[-1].state == TrialState.COMPLETE
        assert retries[-1].params == dead.params  # the same candidate was re-run


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_three_workers_twelve_trials(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    study, _ = _run_workers(postgres_url, tmp_path / "art")
    _check_outcome(study, tmp_path / "art", 12, None)


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_sigkill_mid_trial_loses_nothing(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    study, killed = _run_workers(
        _fresh_pg_db(postgres_url, "killtest"), tmp_path / "art", kill_after=2
    )
    _check_outcome(study, tmp_path / "art", 12, killed)


@pytest.mark.slow
def test_journal_sigkill_mid_trial_loses_nothing(tmp_path: Path) -> None:
    study, killed = _run_workers(f"journal://{tmp_path}/study.log", tmp_path / "art", kill_after=2)
    _check_outcome(study, tmp_path / "art", 12, killed)


# ------------------------------------------------------------------ real `hwprune` workers
_FAST = [
    "--recipe",
    "digits-mlp",
    "--target",
    "pynq-z2",
    "--epochs",
    "10",
    "--final-epochs",
    "1",
    "--set",
    "parent.epochs=5",
    "--set",
    "study.early_stop_after=0",
    "--no-export",
    "--quiet",
    "--heartbeat",
    "1",
    "--grace",
    "10",
]


@pytest.fixture(scope="module")
def parent_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("parent-cache")


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"worker" in cmd:
            kids.append(int(entry.name))
    return sorted(kids)


def _search_with_workers(url: str, out: Path, cache: Path, *, kill: bool) -> int | None:
    """`hwprune search --workers 3 --trials 12` on ``url``; optionally SIGKILL one worker
    while all three are in a trial. Returns the number of a trial that was cut off."""
    cmd = [
        sys.executable,
        "-m",
        "hwprune",
        "search",
        *_FAST,
        "--trials",
        "12",
        "--workers",
        "3",
        "--storage",
        url,
        "--out",
        str(out),
        "--cache-dir",
        str(cache),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(), cwd=REPO
    )
    running_at_kill: set[int] = set()
    try:
        if kill:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                assert proc.poll() is None, proc.communicate()[0][-3000:]
                kids = _children(proc.pid)
                trials = _peek(url)
                done = sum(s == "COMPLETE" for s in trials.values())
                running = {n for n, s in trials.items() if s == "RUNNING"}
                if len(kids) == 3 and done >= 2 and len(running) == 3:
                    os.kill(kids[0], signal.SIGKILL)
                    running_at_kill = running
                    break
                time.sleep(0.1)
            else:
                pytest.fail("never saw three workers in a trial at once")
        out_text = proc.communicate(timeout=400)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out_text[-3000:]
    if kill:
        logs = "".join(p.read_text() for p in sorted((out / "workers").glob("*.log")))
        assert "worker done" in logs
        study = optuna.load_study(study_name=_study_name(url), storage=open_storage(url))
        cut = [
            t.number
            for t in study.trials
            if t.number in running_at_kill
            and t.state == TrialState.FAIL
            and FAIL_REASON_ATTR not in t.user_attrs
        ]
        assert len(cut) == 1, [(t.number, t.state.name) for t in study.trials]
        return cut[0]
    return None


def _study_name(url: str) -> str:
    (summary,) = optuna.get_all_study_summaries(open_storage(url, heartbeat_interval=None))
    return summary.study_name


def _peek(url: str) -> dict[int, str]:
    try:
        st = open_storage(url, heartbeat_interval=None, check=False)
        summaries = optuna.get_all_study_summaries(st)
        if not summaries:
            return {}
        study = optuna.load_study(study_name=summaries[0].study_name, storage=st)
        return {t.number: t.state.name for t in study.get_trials(deepcopy=False)}
    except Exception:  # the study is being created
        return {}


def _check_search_outcome(url: str, out: Path, killed: int | None) -> None:
    study = optuna.load_study(study_name=_study_name(url), storage=open_storage(url))
    trials = study.trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 12, Counter(t.state.name for t in trials)
    assert len({t.number for t in trials}) == len(trials), "duplicate trial numbers"
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    for t in complete:  # each finished trial's design is on disk, whole, and the one priced
        design = json.loads((out / "trials" / str(t.number) / "design.json").read_text())
        assert design == t.user_attrs["design"]
        assert t.user_attrs["status"] in ("ok", "infeasible", "stopped")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"]["complete"] == 12
    if killed is not None:
        retry = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
        assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
        # the retry keeps every parameter the killed trial had drawn; one killed while its
        # parameters were still being drawn (a loaded machine) draws the rest in the retry
        drawn = trials[killed].params
        assert {k: retry[0].params.get(k) for k in drawn} == drawn


@pytest.mark.slow
@pytest.mark.postgres
def test_hwprune_search_three_workers_on_postgres(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
    parent_cache: Path,
) -> None:
    url = _fresh_pg_db(postgres_url, "search3")
    _search_with_workers(url, tmp_path / "run", parent_cache, kill=False)
    _check_search_outcome(url, tmp_path / "run", None)


@pytest.mark.slow
@pytest.mark.postgres
def test_hwprune_worker_sigkill_on_postgres(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
    parent_cache: Path,
) -> None:
    url = _fresh_pg_db(postgres_url, "searchkill")
    killed = _search_with_workers(url, tmp_path / "run", parent_cache, kill=True)
    _check_search_outcome(url, tmp_path / "run", killed)


@pytest.mark.slow
def test_hwprune_worker_sigkill_on_journal(tmp_path: Path, parent_cache: Path) -> None:
    url = f"journal://{tmp_path}/study.log"
    killed = _search_with_workers(url, tmp_path / "run", parent_cache, kill=True)
    _check_search_outcome(url, tmp_path / "run", killed)


def _fresh_pg_db(server_url: str, name: str) -> str:
    import sqlalchemy

    base = server_url.rsplit("/", 1)[0]
    engine = sqlalchemy.create_engine(
        base.replace("postgresql://", "postgresql+psycopg2://") + "/postgres",
        isolation_level="AUTOCOMMIT",
    )
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{base}/{name}"


def test_cli_unreachable_storage_and_bad_workers_are_one_line_errors() -> None:
    base = [sys.executable, "-m", "hwprune", "worker", "--study", "s"]
    r = subprocess.run(
        [*base, "--storage", "postgresql://hw:pw@127.0.0.1:1/x"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=REPO,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("hwprune: error: cannot connect to postgresql://hw:***@127.0.0.1:1/x")
    r = subprocess.run(
        [*base, "--storage", "sqlite:///x.db", "--device", "gpu0"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=REPO,
        timeout=120,
    )
    assert r.returncode == 2 and "unknown device 'gpu0'" in r.stderr
