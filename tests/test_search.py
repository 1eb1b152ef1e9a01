"""The search: space, early-stop rule, Pareto tools, and real tiny searches on digits.

The end-to-end tests run real searches (real parent training, real Brevitas QAT fine-tunes,
the real FPGA cost model, real Optuna SQLite storage) with tiny budgets.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
import torch

import hwprune
from hwprune.errors import ConfigError, StorageError
from hwprune.pareto import dominates, hypervolume, knee_index, pareto_indices, select
from hwprune.recipe import load_recipe
from hwprune.search import finish as F
from hwprune.search import objective as O
from hwprune.search import runner as R
from hwprune.search import study as St

# the package (``hwprune.search`` itself is the function); a name is patched in the module
# that uses it (O, F, R)
S = sys.modules["hwprune.search"]

REPO = Path(__file__).resolve().parents[1]

# tiny but real: 5-epoch parent, 1-epoch fine-tunes
TINY = {
    "parent.epochs": 5,
    "budget.epochs": 2,
    "budget.final_epochs": 1,
    "budget.threads": 1,
    "study.startup_trials": 2,
    "study.warm_start": 2,  # two uniform designs first, then sampled ones
}


# ------------------------------------------------------------------------------ pure parts
def test_channel_choices_are_divisor_friendly():
    assert S.channel_choices(64, 8, 8, 0.125) == (8, 16, 24, 32, 40, 48, 56, 64)
    assert S.channel_choices(256, 0, 8, 0.125) == tuple(range(32, 257, 16))
    assert S.channel_choices(20, 0, 4, 0.1) == (4, 8, 12, 16, 20)
    assert S.channel_choices(10, 4, 4, 0.1)[-1] == 10  # the parent width is always offered


def test_space_suggest_and_params_round_trip():
    from hwprune.models import get_spec

    spec = get_spec("mlp-digits")
    r = load_recipe("digits-mlp")
    space = S.SearchSpace.build(spec.prunable_widths(), spec.num_quant_layers, r)
    cand = S.Candidate((16, 64, 8), (1, 2, 8, 4), (2, 1, 8, None))
    got = space.suggest(optuna.trial.FixedTrial(space.params_of(cand)))
    assert got == cand
    assert space.size() > 10**6
    with pytest.raises(ConfigError, match="not in the space"):
        space.params_of(S.Candidate((12, 64, 8), (1, 2, 8, 4), (2, 1, 8, None)))
    shared = S.SearchSpace.build(
        spec.prunable_widths(),
        spec.num_quant_layers,
        r.with_overrides({"space.per_layer_bits": False}),
    )
    c2 = shared.suggest(
        optuna.trial.FixedTrial({"ch0": 8, "ch1": 8, "ch2": 8, "wb": 2, "wb_head": 4, "ab": 3})
    )
    assert c2.wbits == (2, 2, 2, 4) and c2.abits == (3, 3, 3, None)


def test_channel_floor_above_width_is_an_error():
    r = load_recipe("digits-mlp", overrides={"space.min_channels": 128})
    with pytest.raises(ConfigError, match="min_channels"):
        S.SearchSpace.build((64, 64, 64), 4, r)


def test_design_of_candidate_matches_interface():
    from hwprune.models import get_spec

    d = S.make_design(
        get_spec("cnn-digits"), S.Candidate((8, 8, 16, 32), (4,) * 5, (4, 4, 4, 4, None)), 8, "x"
    )
    assert d["input"] == {"shape": [1, 8, 8], "bits": 8}
    ops = [lay["op"] for lay in d["layers"]]
    assert ops == ["conv", "conv", "maxpool", "conv", "maxpool", "fc", "fc"]
    assert d["layers"][-1] == {"op": "fc", "out": 10, "wbits": 4, "abits": None}


def test_worst_values_never_dominate():
    w = S.worst_values(["accuracy", "fps", "latency_us", "lut"])
    assert w[:2] == [0.0, 0.0] and math.isinf(w[2]) and math.isinf(w[3])
    dirs = ["maximize", "maximize", "minimize", "minimize"]
    assert dominates([0.1, 1.0, 10.0, 5.0], w, dirs)


def test_early_stop_rule():
    front = [{"accuracy": 0.95, "fps": 1e6}, {"accuracy": 0.90, "fps": 4e6}]
    objs = ["accuracy", "fps"]
    curves = [[0.80, 0.90, 0.95], [0.89, 0.90, 0.90]]
    gain = S.late_gain(curves, 1, 0.02)
    assert gain == pytest.approx(0.15)  # 0.80 -> 0.95
    assert S.late_gain(curves, 2, 0.02) == pytest.approx(0.05)
    assert S.late_gain([[0.9, 0.9]], 1, 0.02) == 0.02  # never below the margin
    # a slow candidate far below a faster, better front member: stop
    assert S.cannot_reach_front(0.5, {"fps": 5e5}, front, objs, gain)
    # 0.81 + 0.15 > 0.95: it could still reach the front, go on
    assert not S.cannot_reach_front(0.81, {"fps": 5e5}, front, objs, gain)
    # faster than every front member: it would enter the front whatever its accuracy
    assert not S.cannot_reach_front(0.1, {"fps": 1e7}, front, objs, gain)
    # nothing finished yet: never stop
    assert not S.cannot_reach_front(0.1, {"fps": 1.0}, [], objs, gain)
    # latency objective (minimised)
    lat = [{"accuracy": 0.95, "latency_us": 10.0}]
    assert S.cannot_reach_front(0.5, {"latency_us": 20.0}, lat, ["accuracy", "latency_us"], 0.02)
    assert not S.cannot_reach_front(0.5, {"latency_us": 5.0}, lat, ["accuracy", "latency_us"], 0.02)


def test_pareto_tools():
    dirs = ["maximize", "maximize"]
    pts = [(0.95, 100.0), (0.90, 400.0), (0.85, 300.0), (0.97, 50.0), (0.90, 400.0)]
    assert pareto_indices(pts, dirs) == [0, 1, 3, 4]
    assert hypervolume(pts, dirs, (0.0, 0.0)) == pytest.approx(0.97 * 50 + 0.95 * 50 + 0.9 * 300)
    # adding a dominated point never changes the hypervolume
    assert hypervolume(pts + [(0.5, 10.0)], dirs, (0.0, 0.0)) == hypervolume(pts, dirs, (0, 0))
    # three objectives: unit cube corners
    assert hypervolume([(1, 1, 1)], ["maximize"] * 3, (0, 0, 0)) == pytest.approx(1.0)
    assert hypervolume([(1, 2, 1), (2, 1, 1)], ["maximize"] * 3, (0, 0, 0)) == pytest.approx(3)
    names = ["accuracy", "fps"]
    front = [pts[i] for i in pareto_indices(pts, dirs)]
    assert front[select(front, dirs, "max-accuracy", names)] == (0.97, 50.0)
    assert front[select(front, dirs, "max-fps", names)] == (0.90, 400.0)
    assert knee_index([(0.99, 1.0), (0.98, 9.0), (0.5, 10.0)], dirs) == 1
    with pytest.raises(ValueError):
        select(front, dirs, "best", names)


def test_storage_url_errors(tmp_path):
    with pytest.raises(StorageError, match="storage"):
        S.open_storage("not-a-url")
    with pytest.raises(StorageError, match="cannot connect"):
        S.open_storage("postgresql://u:secret@127.0.0.1:1/db")
    st = S.open_storage(f"journal://{tmp_path}/j.log")
    assert "Journal" in type(st).__name__
    assert St._mask("postgresql://me:secret@h/db") == "postgresql://me:***@h/db"


# ------------------------------------------------------------------------------ real searches
def _tiny(trials: int, **extra):
    ov = dict(TINY)
    ov["budget.trials"] = trials
    ov.update(extra)
    return ov


@pytest.fixture(scope="module")
def parent_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("parent-cache")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, parent_cache):
    """One real search shared by several checks (digits-mlp on pynq-z2, 5 trials)."""
    out = tmp_path_factory.mktemp("run") / "digits"
    res = hwprune.search(
        "digits-mlp", "pynq-z2", out=out, overrides=_tiny(5), cache_dir=parent_cache, export=False
    )
    return res


@pytest.mark.slow
def test_search_writes_run_folder(tiny_run):
    root = tiny_run.run_dir
    assert (root / "study.db").is_file()
    assert (root / "pareto.json").is_file() and (root / "summary.json").is_file()
    summary = json.loads((root / "summary.json").read_text())
    assert summary["trials"]["complete"] == 5
    assert summary["objectives"] == ["accuracy", "fps", "lut"]
    pareto = json.loads((root / "pareto.json").read_text())
    assert pareto["objectives"] == summary["objectives"]  # the study's real objectives
    assert summary["selection"]["trial"] == summary["chosen"]["trial"]
    assert summary["selection"]["explanation"]
    # one source for the chosen design's numbers: best/estimate.json
    est = json.loads((root / "best" / "estimate.json").read_text())
    for key in ("lut", "bram18", "dsp", "fps"):
        assert summary["chosen"]["hw"][key] == pytest.approx(est[key]), key
    study = optuna.load_study(
        study_name=tiny_run.study_name, storage=f"sqlite:///{root / 'study.db'}"
    )
    for t in study.trials:
        d = json.loads((root / "trials" / str(t.number) / "design.json").read_text())
        assert d["layers"][-1]["abits"] is None
        assert t.user_attrs["design"] == d
        assert {"fps", "lut", "bram18", "dsp", "fits"} <= set(t.user_attrs["hw"])
        assert "estimate" in t.user_attrs and "constraints" in t.user_attrs
    best = root / "best"
    assert (best / "model.pt").is_file() and (best / "design.json").is_file()
    assert tiny_run.chosen is not None
    assert 0.5 < tiny_run.test_accuracy <= 1.0
    assert summary["chosen"]["test_accuracy"] == tiny_run.test_accuracy


@pytest.mark.slow
def test_chosen_design_fits_target(tiny_run):
    from hwprune.estimate import estimate
    from hwprune.targets import load_target

    design = json.loads((tiny_run.run_dir / "best" / "design.json").read_text())
    est = estimate(design, load_target("pynq-z2"))
    assert est.fits
    assert tiny_run.chosen.hw["fits"]
    # the selection rule (max-accuracy) picked the most accurate front member
    assert tiny_run.chosen.accuracy == max(p.accuracy for p in tiny_run.front)


@pytest.mark.slow
def test_front_members_are_feasible_and_non_dominated(tiny_run):
    pareto = json.loads((tiny_run.run_dir / "pareto.json").read_text())
    study = optuna.load_study(
        study_name=tiny_run.study_name, storage=f"sqlite:///{tiny_run.run_dir / 'study.db'}"
    )
    by_num = {t.number: t for t in study.trials}
    dirs = pareto["directions"]
    vals = [p["values"] for p in pareto["front"]]
    assert vals
    for p in pareto["front"]:
        t = by_num[p["trial"]]
        assert all(v <= 0 for v in t.constraints.values())
        assert t.user_attrs["status"] == "ok"
    others = [
        t.values
        for t in study.trials
        if t.state.name == "COMPLETE"
        and all(v <= 0 for v in t.constraints.values())
        and t.user_attrs["status"] == "ok"
    ]
    for v in vals:
        point = [v[o] for o in pareto["objectives"]]
        assert not any(dominates(o, point, dirs) for o in others)


@pytest.mark.slow
def test_infeasible_candidates_are_never_trained(tmp_path, parent_cache, monkeypatch):
    """Constrain LUTs so that part of the space cannot fit; count the fine-tunes."""
    from hwprune.models import get_spec
    from hwprune.targets import load_target

    target = load_target("pynq-z2")
    r = load_recipe("digits-mlp")
    spec = get_spec("mlp-digits")
    small = S.Candidate((8, 8, 8), (1, 1, 1, 2), (1, 1, 1, None))
    big = S.Candidate((64, 64, 64), (8, 8, 8, 8), (8, 8, 8, None))
    lut = [S.price(S.make_design(spec, c, 8, "x"), target, r)[1]["lut"] for c in (small, big)]
    limit = int(math.sqrt(lut[0] * lut[1]))

    calls = []
    real = S.train_candidate

    def counting(wb, cand, *a, **k):
        calls.append(cand)
        return real(wb, cand, *a, **k)

    monkeypatch.setattr(O, "train_candidate", counting)  # the trials' fine-tunes
    monkeypatch.setattr(F, "train_candidate", counting)  # the final fine-tune
    res = hwprune.search(
        "digits-mlp",
        target,
        out=tmp_path / "run",
        cache_dir=parent_cache,
        overrides=_tiny(8, **{"constraints.max_lut": limit, "budget.final_epochs": 1}),
        export=False,
    )
    study = optuna.load_study(
        study_name=res.study_name, storage=f"sqlite:///{tmp_path / 'run' / 'study.db'}"
    )
    infeasible = [t for t in study.trials if t.user_attrs.get("status") == "infeasible"]
    trained = [t for t in study.trials if t.user_attrs.get("status") in ("ok", "stopped")]
    assert infeasible, "the LUT limit should make some candidates infeasible"
    assert trained, "the LUT limit should leave some candidates feasible"
    # one fine-tune per feasible trial, plus the final fine-tune of the chosen design
    assert len(calls) == len(trained) + 1
    trained_cands = {
        json.dumps(S.Candidate.from_json(t.user_attrs["candidate"]).to_json()) for t in trained
    }
    for c in calls:
        assert json.dumps(c.to_json()) in trained_cands
    for t in infeasible:
        assert t.user_attrs["hw"]["lut"] > limit
        assert "val_curve" not in t.user_attrs
        assert t.constraints["max_lut"] > 0
        assert t.values[0] == 0.0  # worst accuracy: never on a front
    for p in res.front:
        assert p.hw["lut"] <= limit
    assert res.chosen is not None and res.chosen.hw["lut"] <= limit
    assert res.summary["trials"]["infeasible"] == len(infeasible)


@pytest.mark.slow
def test_warm_start_tries_feasible_uniform_designs_first(tmp_path, parent_cache):
    """A new study starts from uniform designs that fit; a resumed one queues none again."""
    from hwprune.models import get_spec
    from hwprune.targets import load_target

    target = load_target("pynq-z2")
    r = load_recipe("digits-mlp")
    space = S.SearchSpace.build(get_spec("mlp-digits").prunable_widths(), 4, r)
    full4 = S.make_design(get_spec("mlp-digits"), space.uniform(1.0, 4), 8, "x")
    limit = int(S.price(full4, target, r)[1]["lut"]) - 1  # the widest W4A4 design no longer fits
    ov = _tiny(4, **{"study.warm_start": 3, "constraints.max_lut": limit})
    out = tmp_path / "run"
    res = hwprune.search(
        "digits-mlp", target, out=out, cache_dir=parent_cache, overrides=ov, export=False
    )
    url = f"sqlite:///{out / 'study.db'}"
    trials = optuna.load_study(study_name=res.study_name, storage=url).trials
    warm = [t for t in trials if t.user_attrs.get("warm_start")]
    assert [t.number for t in warm] == [0, 1, 2]
    expected: list = []  # the first three of the grid, in order, that the limit lets through
    for ratio, bits in S.warm_start_grid(r.objectives):
        cand = space.uniform(ratio, bits)
        hw = S.price(S.make_design(get_spec("mlp-digits"), cand, 8, "x"), target, r)[1]
        if hw["fits"] and hw["lut"] <= limit and cand not in expected:
            expected.append(cand)
    expected = expected[:3]
    assert len(expected) == 3 and space.uniform(1.0, 4) not in expected
    for t, want in zip(warm, expected, strict=True):
        assert S.Candidate.from_json(t.user_attrs["candidate"]) == want
        assert t.user_attrs["status"] in ("ok", "stopped")  # priced first: never infeasible
        assert t.user_attrs["hw"]["lut"] <= limit
    ov["budget.trials"] = 6
    hwprune.search(
        "digits-mlp", target, out=out, cache_dir=parent_cache, overrides=ov, export=False
    )
    trials = optuna.load_study(study_name=res.study_name, storage=url).trials
    assert len(trials) == 6
    assert [t.number for t in trials if t.user_attrs.get("warm_start")] == [0, 1, 2]


@pytest.mark.slow
def test_rerun_resumes_and_extends(tmp_path, parent_cache):
    out = tmp_path / "run"
    a = hwprune.search(
        "digits-mlp", "pynq-z2", out=out, cache_dir=parent_cache, overrides=_tiny(3), export=False
    )
    url = f"sqlite:///{out / 'study.db'}"
    first = {
        t.number: (t.params, t.values)
        for t in optuna.load_study(study_name=a.study_name, storage=url).trials
    }
    # same command again: nothing left to do, nothing lost
    hwprune.search(
        "digits-mlp", "pynq-z2", out=out, cache_dir=parent_cache, overrides=_tiny(3), export=False
    )
    study = optuna.load_study(study_name=a.study_name, storage=url)
    assert len(study.trials) == 3
    # a larger budget continues the count
    hwprune.search(
        "digits-mlp", "pynq-z2", out=out, cache_dir=parent_cache, overrides=_tiny(5), export=False
    )
    study = optuna.load_study(study_name=a.study_name, storage=url)
    assert [t.number for t in study.trials] == [0, 1, 2, 3, 4]
    for t in study.trials[:3]:
        assert (t.params, t.values) == first[t.number]
    # the continued trials are new candidates, not a replay of the seeded start
    assert study.trials[3].params != study.trials[0].params


def test_run_folder_of_another_study_is_refused(tmp_path):
    from hwprune.runfolder import RunFolder

    run = RunFolder(tmp_path / "r")
    run.prepare()
    run.check_identity("a", "f1")
    with pytest.raises(StorageError, match="belongs to study 'a'"):
        run.check_identity("b", "f1")
    with pytest.raises(StorageError, match="different recipe"):
        run.check_identity("a", "f2")
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(StorageError, match="is a file"):
        RunFolder(f).prepare()


# the same search as the resumed one (same recipe: same fingerprint), except that from its third
# fine-tune on the process hangs mid-trial, so that the test can kill it there
_KILL_SCRIPT = textwrap.dedent("""
    import sys, time, hwprune
    from hwprune.search import objective as O
    real, calls = O.train_candidate, []
    def hanging(*args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            time.sleep(3600)
        return real(*args, **kwargs)
    O.train_candidate = hanging
    hwprune.search("digits-mlp", "pynq-z2", out=sys.argv[1], cache_dir=sys.argv[2],
                   overrides={"parent.epochs": 5, "budget.epochs": 2, "budget.trials": 6,
                              "budget.final_epochs": 1, "budget.threads": 1,
                              "study.early_stop_after": 0}, export=False)
""")


def _states(db: Path) -> list[tuple[int, str]]:
    if not db.exists():
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            rows = con.execute("select number, state from trials order by number").fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return []
    return [(int(n), str(s)) for n, s in rows]


@pytest.mark.slow
def test_killed_mid_trial_resumes_without_loss(tmp_path, parent_cache):
    """SIGKILL a search while a trial is running; the same command again loses nothing."""
    out = tmp_path / "run"
    db = out / "study.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(out), str(parent_cache)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            st = _states(db)
            if sum(s == "COMPLETE" for _, s in st) >= 2 and any(s == "RUNNING" for _, s in st):
                break
            assert proc.poll() is None, "the search ended before it could be killed"
            time.sleep(0.2)
        else:
            pytest.fail("the search never had 2 finished trials and one running")
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = _states(db)
    killed = [n for n, s in before if s == "RUNNING"]
    assert killed
    url = f"sqlite:///{db}"
    name = optuna.get_all_study_summaries(url)[0].study_name
    done_before = {
        t.number: (t.params, t.values)
        for t in optuna.load_study(study_name=name, storage=url).trials
        if t.state.name == "COMPLETE"
    }
    res = hwprune.search(
        "digits-mlp",
        "pynq-z2",
        out=out,
        cache_dir=parent_cache,
        overrides={
            "parent.epochs": 5,
            "budget.epochs": 2,
            "budget.trials": 6,
            "budget.final_epochs": 1,
            "budget.threads": 1,
            "study.early_stop_after": 0,
        },
        export=False,
    )
    study = optuna.load_study(study_name=name, storage=url)
    by_num = {t.number: t for t in study.trials}
    for n, (params, values) in done_before.items():  # no finished trial lost or changed
        assert by_num[n].state.name == "COMPLETE"
        assert (by_num[n].params, by_num[n].values) == (params, values)
    for n in killed:  # the cut-off trial failed and was re-run with the same parameters
        assert by_num[n].state.name == "FAIL"
        retry = [t for t in study.trials if t.user_attrs.get("retry_of") == n]
        assert len(retry) == 1 and retry[0].params == by_num[n].params
        assert retry[0].state.name == "COMPLETE"
    assert res.summary["trials"]["complete"] == 6
    assert res.summary["trials"]["cut_off"] == len(killed)
    assert res.summary["trials"]["failed"] == 0


@pytest.mark.slow
def test_worker_joins_a_study(tmp_path, parent_cache):
    out = tmp_path / "run"
    res = hwprune.search(
        "digits-mlp", "pynq-z2", out=out, cache_dir=parent_cache, overrides=_tiny(2), export=False
    )
    url = f"sqlite:///{out / 'study.db'}"
    n = S.worker(url, res.study_name, out=tmp_path / "w", trials=4, cache_dir=parent_cache)
    assert n == 2
    study = optuna.load_study(study_name=res.study_name, storage=url)
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 4
    for t in study.trials[2:]:
        assert (tmp_path / "w" / "trials" / str(t.number) / "design.json").is_file()
    with pytest.raises(StorageError, match="no study 'nope'"):
        S.worker(url, "nope", out=tmp_path / "w2")


@pytest.mark.slow
def test_cli_search_quiet(tmp_path, parent_cache):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "hwprune",
        "search",
        "--target",
        "pynq-z2",
        "--trials",
        "2",
        "--epochs",
        "1",
        "--final-epochs",
        "1",
        "--set",
        "parent.epochs=5",
        "--out",
        str(tmp_path / "cli"),
        "--cache-dir",
        str(parent_cache),
        "--quiet",
        "--no-export",
    ]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "chosen trial" in p.stdout
    bad = subprocess.run(
        cmd[:4] + ["--trials", "0"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2
    assert "budget.trials" in bad.stderr and "Traceback" not in bad.stderr
    bad = subprocess.run(
        cmd[:4] + ["--set", "budget.trails=3"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "budget.trials" in bad.stderr
    if not torch.cuda.is_available():  # a device torch cannot use is refused in one line
        bad = subprocess.run(
            cmd + ["--device", "cuda:0"], env=env, capture_output=True, text=True, timeout=120
        )
        assert bad.returncode == 2, bad.stderr
        assert "device cuda:0 is not available" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_gpu_target_minimises_latency(tmp_path, parent_cache):
    res = hwprune.search(
        "digits-mlp",
        "jetson-orin-nano",
        out=tmp_path / "gpu",
        cache_dir=parent_cache,
        overrides=_tiny(3),
        export=False,
    )
    assert res.summary["objectives"] == ["accuracy", "latency_us"]
    assert res.summary["directions"] == ["maximize", "minimize"]
    assert res.chosen is not None and res.chosen.hw["latency_us"] > 0
    # a GPU runs every layer at 8 bits or more: the space offers no narrower widths
    assert set(res.chosen.candidate.wbits) == {8}


@pytest.mark.parametrize(
    "name, shape",
    [
        ("digits-mlp", (1, 8, 8)),
        ("digits-cnn", (1, 8, 8)),
        ("mnist-tfc", (1, 28, 28)),
        ("fashion-cnv", (1, 28, 28)),
    ],
)
def test_shipped_recipes_give_a_priceable_space(name, shape):
    """Each shipped recipe's space is built from its model, and its extremes can be priced."""
    from hwprune.models import get_spec
    from hwprune.targets import load_target

    r = load_recipe(name)
    spec = get_spec(r.model, shape, 10, width_mult=r.width_mult)
    space = S.SearchSpace.build(spec.prunable_widths(), spec.num_quant_layers, r)
    target = load_target("pynq-z2")
    n = spec.num_quant_layers
    for pick in (0, -1):
        cand = S.Candidate(
            tuple(ch[pick] for ch in space.channel_choices),
            (space.wbits[pick],) * (n - 1) + (space.head_wbits[pick],),
            (space.abits[pick],) * (n - 1) + (None,),
        )
        _, hw, cons = S.price(S.make_design(spec, cand, 8, name), target, r)
        assert hw["fps"] > 0 and "fits" in cons


@pytest.mark.slow
def test_measure_records_measured_next_to_predicted_latency(tmp_path, parent_cache):
    """--measure on a measured target (written by `hwprune calibrate`) times each candidate."""
    target_file = REPO / "bench" / "results" / "cpu-local.toml"
    res = hwprune.search(
        "digits-mlp",
        str(target_file),
        out=tmp_path / "measured",
        cache_dir=parent_cache,
        export=False,
        overrides=_tiny(3, **{"study.measure": True}),
    )
    study = optuna.load_study(study_name=res.study_name, storage=res.storage)
    trained = [t for t in study.trials if t.user_attrs.get("status") in ("ok", "stopped")]
    assert trained
    for t in trained:
        hw = t.user_attrs["hw"]
        assert hw["measured_latency_us"] > 0 and hw["latency_us"] > 0
        # same network, same machine: prediction and measurement agree within a factor of 3
        assert 1 / 3 < hw["measured_latency_us"] / hw["latency_us"] < 3


def test_measure_and_memory_limit_need_a_gpu_target(tmp_path, parent_cache):
    with pytest.raises(ConfigError, match="--measure"):
        hwprune.search(
            "digits-mlp",
            "pynq-z2",
            out=tmp_path / "m",
            cache_dir=parent_cache,
            export=False,
            overrides=_tiny(2, **{"study.measure": True}),
        )
    with pytest.raises(ConfigError, match="--max-memory-mb"):
        hwprune.search(
            "digits-mlp",
            "pynq-z2",
            out=tmp_path / "mm",
            cache_dir=parent_cache,
            export=False,
            overrides=_tiny(2, **{"constraints.max_memory_mb": 1.0}),
        )


@pytest.mark.slow
def test_gpu_memory_limit_is_a_constraint(tmp_path, parent_cache):
    res = hwprune.search(
        "digits-mlp",
        "jetson-nano",
        out=tmp_path / "mem",
        cache_dir=parent_cache,
        export=False,
        overrides=_tiny(4, **{"constraints.max_memory_mb": 0.05}),
    )
    study = optuna.load_study(study_name=res.study_name, storage=res.storage)
    for t in study.trials:
        cons = t.user_attrs["constraints"]
        assert "max_memory_mb" in cons
        feasible = t.user_attrs["status"] != "infeasible"
        assert feasible == (t.user_attrs["hw"]["memory_mb"] <= 0.05)


def test_concurrent_workers_sample_with_different_seeds(monkeypatch):
    """K workers opening one study at the same moment must not propose the same candidates."""
    monkeypatch.delenv("HWPRUNE_WORKER_INDEX", raising=False)
    assert St._sampler_salt(joining=False) == 0  # a lone search stays reproducible
    salts = set()
    for index in range(3):
        monkeypatch.setenv("HWPRUNE_WORKER_INDEX", str(index))
        salts.add(St._sampler_salt(joining=True))
    assert len(salts) == 3 and 0 not in salts
    monkeypatch.delenv("HWPRUNE_WORKER_INDEX")
    assert St._sampler_salt(joining=True) != 0  # a worker joining by hand: host and pid
    rec = load_recipe("digits-mlp")
    first = []
    for index in range(2):
        monkeypatch.setenv("HWPRUNE_WORKER_INDEX", str(index))
        sampler = St._make_sampler(rec, St._sampler_salt(joining=True))
        study = optuna.create_study(directions=rec.directions(), sampler=sampler)
        trial = study.ask()
        first.append(tuple(trial.suggest_int(f"ch{i}", 8, 512, step=8) for i in range(6)))
    assert first[0] != first[1]


# ------------------------------------------------------------------------------ issue #4 follow-ups
def test_fingerprint_covers_the_per_trial_finetune(tmp_path):
    r = load_recipe("digits-mlp")
    assert r.with_overrides({"budget.epochs": r.budget.epochs + 1}).fingerprint() != (
        r.fingerprint()
    )
    assert r.with_overrides({"budget.patience": 2}).fingerprint() != r.fingerprint()
    for key, value in (
        ("budget.trials", 99),
        ("budget.timeout", 60),
        ("budget.final_epochs", 30),
        ("budget.threads", 3),
    ):
        assert r.with_overrides({key: value}).fingerprint() == r.fingerprint(), key
    # resuming with another --epochs: both checks name the epochs and how to resume
    from hwprune.runfolder import RunFolder

    run = RunFolder(tmp_path / "r")
    run.prepare()
    two, other = (r.with_overrides({"budget.epochs": e}) for e in (2, 5))
    run.check_identity("s", two.fingerprint(), epochs=2)
    with pytest.raises(StorageError, match=r"fine-tuned for 2 epochs each, not 5.*--epochs 2"):
        run.check_identity("s", other.fingerprint(), epochs=5)
    st = S.open_storage(f"sqlite:///{tmp_path / 's.db'}")
    S.open_study(two, "pynq-z2", st, "s")
    with pytest.raises(StorageError, match=r"fine-tuned for 2 epochs each, not 5.*--epochs 2"):
        S.open_study(other, "pynq-z2", st, "s")
    S.open_study(two.with_overrides({"budget.trials": 9}), "pynq-z2", st, "s")


def test_studies_stamped_before_the_finetune_was_fingerprinted_still_resume(tmp_path):
    """A run folder and study made by the previous release (fingerprint without the per-trial
    fine-tune) resume with the same epochs and are refused with other epochs."""
    from hwprune.runfolder import RunFolder

    r = load_recipe("digits-mlp").with_overrides({"budget.epochs": 2})
    legacy = r._fingerprint(with_finetune=False)
    run = RunFolder(tmp_path / "r")
    run.prepare()
    (run.root / "run.json").write_text(json.dumps({"study": "s", "fingerprint": legacy}))
    run.check_identity("s", r.fingerprint(), epochs=2, matches=r.matches_fingerprint)
    assert json.loads((run.root / "run.json").read_text())["fingerprint"] == r.fingerprint()
    st = S.open_storage(f"sqlite:///{tmp_path / 's.db'}")
    old = optuna.create_study(study_name="s", storage=st, directions=r.directions())
    old.set_user_attr("fingerprint", legacy)
    old.set_user_attr("recipe", r.to_dict())
    S.open_study(r, "pynq-z2", st, "s")  # same epochs: resumes
    with pytest.raises(StorageError, match=r"fine-tuned for 2 epochs each, not 3"):
        S.open_study(r.with_overrides({"budget.epochs": 3}), "pynq-z2", st, "s")


def test_a_search_that_does_not_own_the_folder_leaves_run_json_alone(tmp_path):
    from hwprune.runfolder import RunFolder

    run = RunFolder(tmp_path / "r")
    run.prepare()
    run.check_identity("s", "abc", epochs=2)
    before = (run.root / "run.json").read_text()
    run.check_identity("s", "abc", epochs=2, cache_dir=tmp_path, record=False)
    assert (run.root / "run.json").read_text() == before


def test_trial_counts_tell_failed_from_cut_off_and_surplus():
    """A "failed" trial raised with a recorded reason; cut-off shells and surplus
    placeholders are counted apart, here and in the report."""
    from optuna.trial import TrialState, create_trial

    from hwprune.report import _status
    from hwprune.workers import FAIL_REASON_ATTR, SURPLUS_ATTR

    study = optuna.create_study()
    add = study.add_trial
    add(create_trial(state=TrialState.FAIL, user_attrs={FAIL_REASON_ATTR: "ValueError: nan"}))
    add(create_trial(state=TrialState.FAIL, user_attrs={"status": "failed", "error": "x"}))
    add(create_trial(state=TrialState.FAIL))  # its process was killed mid-trial
    add(create_trial(state=TrialState.FAIL, user_attrs={"interrupted": True}))  # Ctrl-C
    add(
        create_trial(
            state=TrialState.FAIL,
            user_attrs={SURPLUS_ATTR: True, FAIL_REASON_ATTR: "surplus: the budget was taken"},
        )
    )
    add(create_trial(state=TrialState.COMPLETE, value=1.0, user_attrs={"status": "ok"}))
    add(create_trial(state=TrialState.WAITING))
    c = S.trial_counts(study)
    assert (c["failed"], c["cut_off"], c["surplus"], c["complete"], c["waiting"]) == (2, 2, 1, 1, 1)
    parts = ("complete", "failed", "cut_off", "surplus", "running", "waiting")
    assert c["total"] == sum(c[k] for k in parts) == 7
    statuses = [_status(t) for t in study.trials]
    assert statuses[:5] == ["failed", "failed", "cut_off", "cut_off", "surplus"]


def test_trial_claim_is_exclusive_only_without_live_holders(tmp_path):
    """The lock a search needs before it may treat RUNNING trials as cut off."""
    from hwprune.runfolder import claim_path, trial_claim

    path = claim_path(tmp_path / "study.db")
    held = tmp_path / "held"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pathlib import Path\n"
            "from hwprune.runfolder import trial_claim\n"
            "with trial_claim(Path(sys.argv[1])) as c:\n"
            "    c.share(); Path(sys.argv[2]).write_text('x'); time.sleep(600)",
            str(path),
            str(held),
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.time() + 60
        while not held.exists():
            assert time.time() < deadline and holder.poll() is None
            time.sleep(0.05)
        with trial_claim(path) as claim:
            assert not claim.try_exclusive()  # a live worker holds it
            claim.share()  # workers share it
            assert claim.mode == "shared"
        holder.send_signal(signal.SIGKILL)  # the kernel drops a dead process's lock
        holder.wait(30)
        with trial_claim(path) as claim:
            assert claim.try_exclusive()
            claim.share()  # the search then runs trials like everyone else
            with trial_claim(path) as other:
                other.share()
                assert other.mode == "shared" and not other.try_exclusive()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


_SLOW_WORKER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from hwprune.search import objective as O, worker
    url, name, out, cache, started, release = sys.argv[1:7]
    real = O.train_candidate
    def held(*args, **kwargs):  # the fine-tune waits until the test releases it
        Path(started).write_text("x")
        deadline = time.time() + 240
        while not Path(release).exists() and time.time() < deadline:
            time.sleep(0.05)
        return real(*args, **kwargs)
    O.train_candidate = held
    print("ran", worker(url, name, out=out, trials=3, cache_dir=cache), flush=True)
""")


@pytest.mark.slow
def test_search_leaves_a_live_workers_running_trial_alone(tmp_path, parent_cache, monkeypatch):
    """`hwprune search` again on a run folder while a joined worker is mid-trial: the worker's
    RUNNING trial is neither failed nor re-queued; it finishes and counts."""
    out = tmp_path / "run"
    res = hwprune.search(
        "digits-mlp", "pynq-z2", out=out, cache_dir=parent_cache, overrides=_tiny(2), export=False
    )
    url = f"sqlite:///{out / 'study.db'}"
    study = optuna.load_study(study_name=res.study_name, storage=url)
    study.enqueue_trial(study.trials[0].params)  # a design that fits: the worker trains it
    started, release = tmp_path / "started", tmp_path / "release"
    worker = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WORKER, url, res.study_name, str(tmp_path / "elsewhere")]
        + [str(parent_cache), str(started), str(release)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 180
        while not (started.exists() and ("RUNNING" in dict(_states(out / "study.db")).values())):
            assert worker.poll() is None, worker.stdout.read()
            assert time.time() < deadline, "the worker never started its trial"
            time.sleep(0.1)
        running = [n for n, s in _states(out / "study.db") if s == "RUNNING"]
        requeued: list[list[int]] = []
        real = S.requeue_cut_off

        def requeue_then_release(study, own_storage):
            requeued.append(real(study, own_storage))
            release.write_text("x")  # let the worker's trial finish only after the check
            return requeued[-1]

        monkeypatch.setattr(R, "requeue_cut_off", requeue_then_release)
        again = hwprune.search(
            "digits-mlp",
            "pynq-z2",
            out=out,
            cache_dir=parent_cache,
            overrides=_tiny(3),
            export=False,
        )
        text, _ = worker.communicate(timeout=180)
    finally:
        release.write_text("x")
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, text
    assert "ran 1" in text
    assert requeued == [[]]
    study = optuna.load_study(study_name=res.study_name, storage=url)
    by_num = {t.number: t for t in study.trials}
    assert running == [2] and by_num[2].state.name == "COMPLETE"
    assert by_num[2].params == by_num[0].params
    assert not [t for t in study.trials if "retry_of" in t.user_attrs]
    assert len(study.trials) == 3
    assert again.summary["trials"]["cut_off"] == 0 and again.summary["trials"]["complete"] == 3


@pytest.mark.slow
def test_best_folder_is_replaced_whole(tmp_path, parent_cache, monkeypatch):
    """A crash while best/ is written keeps the old best/; a new best/ keeps no old file."""
    out = tmp_path / "run"
    kw = dict(out=out, cache_dir=parent_cache, overrides=_tiny(2), export=False, rtl="write")
    first = hwprune.search("digits-mlp", "pynq-z2", **{**kw, "export": True})
    best = out / "best"
    # summary.json's chosen numbers are best/estimate.json's (the exported design's estimate)
    est = json.loads((best / "estimate.json").read_text())
    assert first.summary["export"]["ok"], first.summary["export"]
    for key in ("lut", "ff", "bram18", "dsp", "fps"):
        assert first.summary["chosen"]["hw"][key] == pytest.approx(est[key]), key
    (best / "model.pt").write_bytes(b"old weights")
    (best / "csim.log").write_text("an earlier export's C simulation")

    def crash(*args, **kwargs):
        raise RuntimeError("killed while exporting")

    monkeypatch.setattr(F, "_export_best", crash)
    # a re-run keeps a finished search's best/ as it is; without summary.json it is redone
    (out / "summary.json").unlink()
    with pytest.raises(RuntimeError, match="killed while exporting"):
        hwprune.search("digits-mlp", "pynq-z2", **{**kw, "export": True})
    assert (best / "model.pt").read_bytes() == b"old weights"  # the old best/, whole
    assert (best / "csim.log").is_file() and (best / "candidate.json").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]
    monkeypatch.undo()
    res = hwprune.search("digits-mlp", "pynq-z2", **kw)  # --no-export this time
    assert not (best / "csim.log").exists()  # nothing of the earlier export is left
    assert sorted(p.name for p in best.iterdir()) == [
        "accuracy.json",
        "candidate.json",
        "design.json",
        "estimate.json",
        "model.pt",
    ]
    state = torch.load(best / "model.pt")
    assert state and res.summary["chosen"]["model"] == str(best / "model.pt")
    cand = json.loads((best / "candidate.json").read_text())
    assert cand["channels"] == list(res.chosen.candidate.channels)


@pytest.mark.slow
def test_export_run_uses_the_search_cache_dir(tmp_path, parent_cache):
    """`hwprune export --run` takes the parent from the search's --cache-dir (run.json), and
    replaces its output folder whole (a --no-csim export leaves no earlier csim.log)."""
    from hwprune.errors import ConfigError
    from hwprune.export.run import export_run

    out = tmp_path / "run"
    hwprune.search(
        "digits-mlp", "pynq-z2", out=out, cache_dir=parent_cache, overrides=_tiny(2), export=False
    )
    meta = json.loads((out / "run.json").read_text())
    assert meta["cache_dir"] == str(parent_cache.resolve()) and meta["epochs"] == 2
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "csim.log").write_text("HWPRUNE_CSIM samples=9 mismatching_samples=0 result=BIT-EXACT")
    res = export_run(out, out_dir=exp, csim=False, n_golden=8, rtl="write")
    assert res.out_dir == exp and res.csim is None and res.verify.exact
    assert not (out / "parent").exists()  # no second parent trained into the run folder
    assert not (exp / "csim.log").exists()
    assert (exp / "hls" / "top.cpp").is_file() and (exp / "README.md").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"holds files an export does not write \(todo.txt\)"):
        export_run(out, out_dir=mine, csim=False, n_golden=8, rtl="write")
    assert (mine / "todo.txt").read_text() == "mine"


@pytest.mark.slow
def test_worker_pool_reports_the_trials_it_ran(tmp_path, parent_cache):
    """`worker --workers 2` counts the trials its workers finished (a queued trial they ran
    included), not how much the study grew."""
    out = tmp_path / "run"
    res = hwprune.search(
        "digits-mlp", "pynq-z2", out=out, cache_dir=parent_cache, overrides=_tiny(2), export=False
    )
    url = f"sqlite:///{out / 'study.db'}"
    study = optuna.load_study(study_name=res.study_name, storage=url)
    study.enqueue_trial(study.trials[1].params)  # queued before the pool starts
    n = S.worker(url, res.study_name, out=out, trials=4, cache_dir=parent_cache, workers=2)
    study = optuna.load_study(study_name=res.study_name, storage=url)
    ran = [t for t in study.trials[2:] if t.state.name == "COMPLETE"]
    assert len(ran) == 2 and n == 2
    assert all(t.user_attrs["worker"].rsplit(":", 1)[1].isdigit() for t in ran)


def test_a_failing_trial_is_logged_once_with_its_reason(caplog):
    """A trial that raises fails alone, with one warning line naming the original error."""
    import logging

    study = optuna.create_study(directions=["maximize", "maximize"])
    calls = []

    def objective(trial):
        calls.append(trial.number)
        if trial.number == 0:
            raise ModuleNotFoundError("No module named 'x'")
        return [0.5, 1.0]

    with caplog.at_level(logging.WARNING):
        S.run_trials(study, objective, 2, None)
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("hwprune") and "failed" in r.getMessage()
    ]
    assert lines == ["trial 0 failed: ModuleNotFoundError: No module named 'x'"]
    assert calls == [0, 1]
    t0 = study.trials[0]
    assert t0.state.name == "FAIL" and t0.user_attrs["status"] == "failed"


# ------------------------------------------------------------------------------ issue 17
def _point(trial, acc, fps, lut, dsp=0.0, util=None):
    hw = {"fps": fps, "lut": lut, "bram18": 3.0, "dsp": dsp, "ff": lut, "util": util or lut / 53200}
    cand = S.Candidate((8,), (2, 2), (2, None))
    return S.FrontPoint(trial, acc, {"accuracy": acc, "fps": fps}, cand, hw, {})


def _study_with(points, objectives=("accuracy", "fps")):
    """A study holding finished, feasible trials with these (accuracy, fps, hw) values."""
    from optuna.trial import create_trial

    study = optuna.create_study(directions=["maximize"] * len(objectives))
    study.set_user_attr("objectives", list(objectives))
    for p in points:
        values = [p.accuracy if o == "accuracy" else p.hw[o] for o in objectives]
        attrs = {
            "status": "ok",
            "accuracy": p.accuracy,
            "hw": p.hw,
            "candidate": p.candidate.to_json(),
        }
        study.add_trial(create_trial(values=values, user_attrs=attrs))
    return study


def test_ties_on_accuracy_and_fps_are_broken_by_resources():
    """Two objectives only: a design matched on accuracy and frames/s by a cheaper one is not
    on the front (the issue's 85,450 LUT / 468 DSP design next to a 32,543 LUT one)."""
    pts = [
        _point(0, 0.97, 2.5e6, 85_450, dsp=468),
        _point(1, 0.97, 2.5e6, 32_543),
        _point(2, 0.95, 2.5e6, 20_000),
        _point(3, 0.98, 1.0e6, 40_000),
        _point(4, 0.98, 1.0e6, 40_000),  # an exact duplicate: both stay
    ]
    front = S.pareto_front(_study_with(pts), ["accuracy", "fps"])
    assert sorted(p.trial for p in front) == [1, 3, 4]
    for a in front:  # none is matched or beaten on accuracy and fps by a cheaper member
        for b in front:
            if b is not a and b.accuracy >= a.accuracy and b.hw["fps"] >= a.hw["fps"]:
                assert b.hw["lut"] >= a.hw["lut"]
    # with LUTs as an objective the cheaper, less accurate design is on the front as well
    three = S.pareto_front(_study_with(pts, ("accuracy", "fps", "lut")), ["accuracy", "fps", "lut"])
    assert sorted(p.trial for p in three) == [1, 2, 3, 4]
    # the pure function: costs only decide exact ties
    dirs = ["maximize", "maximize"]
    assert pareto_indices([(1, 1), (1, 1), (2, 0)], dirs, costs=[(5,), (3,), (9,)]) == [1, 2]


def test_selection_rules_and_their_explanations():
    from hwprune.pareto import choose

    front = [
        _point(0, 0.990, 1.0e6, 30_000),
        _point(1, 0.985, 2.5e6, 40_000),
        _point(2, 0.980, 2.5e6, 12_000),
        _point(3, 0.900, 2.5e6, 8_000),
    ]
    r = load_recipe("digits-mlp")

    def pick(**sel):
        rec = r.with_overrides({f"study.{k}": v for k, v in sel.items()})
        chosen = F.select_design(front, ["accuracy", "fps"], rec)
        return front[chosen.index].trial, chosen.explanation

    assert pick(select="max-accuracy")[0] == 0
    trial, why = pick(select="max-accuracy", select_fps_within=0.1)
    assert trial == 1 and "within 10% of the best frame rate" in why
    trial, why = pick(select="min-resources")  # best 0.99 - 0.01: trials 0, 1, 2 qualify
    assert trial == 2 and "0.9800" in why
    assert pick(select="min-resources", select_min_accuracy=0.9)[0] == 3
    assert pick(select="min-resources", select_min_accuracy=0.99)[0] == 0
    assert pick(select="max-fps")[0] == 1  # ties on fps: higher accuracy first
    trial, why = pick(select="knee")
    pts = [(p.accuracy, p.hw["fps"]) for p in front]
    assert trial == knee_index(pts, ["maximize", "maximize"]) and "knee" in why
    sel = choose(
        pts,
        ["maximize", "maximize"],
        "min-resources",
        ["accuracy", "fps"],
        costs=[(p.hw["lut"],) for p in front],
        min_accuracy=0.95,
    )
    assert sel.eligible == (0, 1, 2) and sel.index == 2
    with pytest.raises(ConfigError, match="select_fps_within"):
        r.with_overrides({"study.select_fps_within": 1.5})


def test_the_search_folds_no_bigger_than_the_frame_rate_cap():
    """At the stream port's frame rate the search's folding is the smallest that reaches it;
    with folding "auto" and --min-fps, the smallest that meets min_fps, and frames/s above it
    are worth nothing to the objectives."""
    from hwprune.estimate import estimate
    from hwprune.models import get_spec
    from hwprune.targets import load_target

    target = load_target("pynq-z2")
    r = load_recipe("digits-mlp")
    spec = get_spec("mlp-digits")
    cand = S.Candidate((8, 8, 8), (2, 2, 2, 2), (2, 2, 2, None))
    design = S.make_design(spec, cand, 8, "small")
    est, hw, _ = S.price(design, target, r)
    assert est.binding == "io"  # the stream port caps this design's frame rate
    capped = estimate(design, target, fps=hw["fps"] * 0.999)  # smallest that reaches the cap
    assert hw["lut"] == pytest.approx(capped.lut, rel=1e-9)
    assert hw["util"] == pytest.approx(S.pricing.device_fraction(hw, target))
    goal = load_recipe("digits-mlp").with_overrides({"constraints.min_fps": 1e5})
    assert goal.folding_mode() == "smallest"
    _, slow, cons = S.price(design, target, goal)
    assert 1e5 <= slow["fps"] < hw["fps"] and slow["lut"] < hw["lut"] and cons["min_fps"] <= 0
    assert S.pricing.objective_hw(slow, goal)["fps"] == 1e5


def test_objectives_can_name_resources(tmp_path):
    from hwprune.targets import load_target

    r = load_recipe("digits-mlp", overrides={"objectives": "accuracy,fps,util"})
    assert r.objectives == ("accuracy", "fps", "util") and r.directions()[2] == "minimize"
    gpu = load_target("jetson-orin-nano")
    assert S.resolve_objectives(load_recipe("digits-mlp"), gpu).objectives == (
        "accuracy",
        "latency_us",
    )
    with pytest.raises(ConfigError, match="FPGA resources"):
        S.resolve_objectives(r.with_overrides({"objectives": "accuracy,bram18"}), gpu)
    pts = [_point(0, 0.9, 1e6, 13_300)]
    pts[0].values["lut"] = 13_300
    hv = F.front_hypervolume(pts, ["accuracy", "fps", "lut"], load_target("pynq-z2"))
    assert hv == pytest.approx(0.9 * 1e6 * 0.75)
