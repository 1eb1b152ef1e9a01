"""Reports: summary.json, plots, the self-contained HTML page (also in headless Chromium), compare.

The synthetic run folder is a REAL Optuna study in a SQLite file, written with the ask/tell API
the way the search writes it (user attributes: design, per-layer table, resources, feasibility,
early stop; constraints through ``trial.set_constraint``). Its metrics come from a small
analytic model of the sampled widths/bits so the front has the usual shape.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from pg import postgres_url  # noqa: E402, F401  (session fixture)

from hwprune import report  # noqa: E402

PARENT = (64, 64)  # hidden widths of the float parent (an MLP on 8x8 digits)


def _design(widths: tuple[int, int], wbits: list[int], abits: list[int | None]) -> dict:
    layers = [
        {"op": "fc", "out": widths[0], "wbits": wbits[0], "abits": abits[0]},
        {"op": "fc", "out": widths[1], "wbits": wbits[1], "abits": abits[1]},
        {"op": "fc", "out": 10, "wbits": wbits[2], "abits": None},
    ]
    return {"input": {"shape": [1, 8, 8], "bits": 8}, "layers": layers}


def _price(design: dict) -> dict:
    """A small FINN-like model: cycles = MH*MW/(PE*SIMD), LUT ~ PE*SIMD*wbits*abits."""
    fan_in, rows = 64, []
    for i, layer in enumerate(design["layers"]):
        out = layer["out"]
        pe = min(out, 4 if out % 4 == 0 else 1)
        simd = 16 if fan_in % 16 == 0 else 1
        cycles = out * fan_in // (pe * simd)
        lut = 120 + pe * simd * layer["wbits"] * (layer["abits"] or 8) * 1.9
        bram = math.ceil(out * fan_in * layer["wbits"] / 18432) if out * fan_in > 2048 else 0
        rows.append(
            {
                "name": f"fc{i}",
                "op": "fc",
                "channels": out,
                "parent_channels": (PARENT[i] if i < 2 else 10),
                "wbits": layer["wbits"],
                "abits": layer["abits"],
                "pe": pe,
                "simd": simd,
                "cycles": cycles,
                "lut": round(lut),
                "bram18": bram,
                "dsp": 0,
            }
        )
        fan_in = out
    worst = max(r["cycles"] for r in rows)
    return {
        "fps": 100e6 / worst,
        "latency_us": sum(r["cycles"] for r in rows) / 100.0,
        "lut": 2500 + sum(r["lut"] for r in rows),
        "ff": 3000 + sum(r["lut"] for r in rows) * 1.5,
        "bram18": 4 + sum(r["bram18"] for r in rows),
        "dsp": 0,
        "layers": rows,
    }


def make_run(
    root: Path,
    target: str = "pynq-z2",
    n_trials: int = 14,
    lut_budget: float = 5200.0,
    seed: int = 0,
    with_best: bool = True,
) -> Path:
    """Write a run folder shaped like ``hwprune.search``'s (see its module docstring): a real
    Optuna SQLite study with the same trial/study user attributes, ``run.json``,
    ``pareto.json``, ``summary.json`` and ``best/``; return its path."""
    root.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{(root / 'study.db').resolve()}"
    study = optuna.create_study(
        study_name=f"digits-mlp-{target}",
        storage=storage,
        directions=["maximize", "maximize"],
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )
    recipe = {
        "name": "digits-mlp",
        "dataset": "digits",
        "model": "mlp-digits",
        "objectives": ["accuracy", "fps"],
        "constraints": {"max_lut": lut_budget, "min_fps": 0.0},
    }
    study.set_user_attr("recipe", recipe)
    study.set_user_attr("objectives", ["accuracy", "fps"])
    study.set_user_attr("target", target)
    n_feasible = 0
    for _ in range(n_trials):
        trial = study.ask()
        w0 = trial.suggest_categorical("ch0", [16, 32, 48, 64])
        w1 = trial.suggest_categorical("ch1", [16, 32, 48, 64])
        wb = [trial.suggest_categorical(f"wbits{k}", [1, 2, 4, 8]) for k in range(3)]
        ab = [trial.suggest_categorical(f"abits{k}", [1, 2, 4, 8]) for k in range(2)] + [None]
        design = _design((w0, w1), wb, ab)
        est = _price(design)
        for lay, row in zip(design["layers"], est["layers"], strict=True):
            lay["pe"], lay["simd"] = row["pe"], row["simd"]
        over = (est["lut"] - lut_budget) / lut_budget
        trial.set_constraint("max_lut", over)
        hw = {k: est[k] for k in ("fps", "latency_us", "lut", "ff", "bram18", "dsp")}
        hw.update(fits=True, binding="lut")
        trial.set_user_attr("candidate", {"channels": [w0, w1], "wbits": wb, "abits": ab})
        trial.set_user_attr("design", design)
        trial.set_user_attr("hw", hw)
        trial.set_user_attr("constraints", {"max_lut": over})
        trial.set_user_attr(
            "estimate",
            {
                "layers": est["layers"],
                "binding": "lut",
                "overheads": {
                    "shell": {"count": 1, "lut": 2000.0, "bram18": 0.0, "dsp": 0.0},
                    "dma": {"count": 2, "lut": 500.0, "bram18": 4.0, "dsp": 0.0},
                },
            },
        )
        if over > 0:  # never trained: worst objective values, no accuracy
            trial.set_user_attr("status", "infeasible")
            study.tell(trial, [0.0, 0.0])
            continue
        acc = 0.975 - 0.06 / min(wb + ab[:2]) ** 1.5 - 1.5 / (w0 + w1)
        n_feasible += 1
        if n_feasible % 3 == 0:
            acc -= 0.05
            trial.set_user_attr("status", "stopped")
            trial.set_user_attr("stopped_at", 1)
        else:
            trial.set_user_attr("status", "ok")
        trial.set_user_attr("accuracy", acc)
        study.tell(trial, [acc, est["fps"]])
    feas = [t for t in study.trials if t.user_attrs.get("status") == "ok"]
    front = report.pareto_front(
        [report.TrialView(t.number, "feasible", values=tuple(t.values)) for t in feas],
        ["maximize", "maximize"],
    )
    (root / "pareto.json").write_text(
        json.dumps(
            {
                "study": study.study_name,
                "objectives": ["accuracy", "fps"],
                "front": [{"trial": t.number, "accuracy": t.values[0]} for t in front],
            }
        )
    )
    (root / "run.json").write_text(json.dumps({"study": study.study_name, "fingerprint": "x"}))
    if with_best and front:
        best = max(front, key=lambda t: t.values[0])
        (root / "best").mkdir(exist_ok=True)
        final = {"val_accuracy": best.values[0] + 0.002, "test_accuracy": best.values[0] - 0.004}
        (root / "best" / "accuracy.json").write_text(json.dumps(final))
        summary = {
            "schema": 1,
            "study": study.study_name,
            "storage": storage,
            "run_dir": str(root),
            "recipe": recipe,
            "target": target,
            "objectives": ["accuracy", "fps"],
            "directions": ["maximize", "maximize"],
            "trials": {"total": n_trials},
            "parent": {"val_accuracy": 0.9694, "test_accuracy": 0.9611, "widths": list(PARENT)},
            "front": [{"trial": t.number} for t in front],
            "hypervolume": None,
            "chosen": {"trial": best.number, "rule": "max-accuracy", **final},
            "export": None,
            "timings_s": {"total_s": 1.0},
        }
        (root / "summary.json").write_text(json.dumps(summary))
        (root / "best" / "hls").mkdir()
        (root / "best" / "csim.log").write_text(
            "HWPRUNE_CYCLES kernel=fc0 kind=MVAU iterations=1600 per_frame=16.0\n"
            "HWPRUNE_CSIM samples=16 mismatching_samples=0 result=BIT-EXACT\n\n"
            "# cycles per frame: kernel, counted in csim, kernel loop model, cost model\n"
            "# axi_in          2.0   None   None\n"
            "# fc0            16.0     16     16\n"
            "# fc1            12.0     12     11\n"
        )
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("run") / "digits-mlp-pynq-z2")


@pytest.fixture(scope="module")
def written(run_dir: Path) -> Path:
    return report.write_report(run_dir)


def test_load_run_reads_the_study(run_dir: Path) -> None:
    run = report.load_run(run_dir)
    assert run.objective_names == ("accuracy", "fps")
    assert run.directions == ("maximize", "maximize")
    assert len(run.trials) == 14
    statuses = {t.status for t in run.trials}
    assert {"feasible", "infeasible", "stopped"} <= statuses
    # every infeasible trial broke the LUT budget, every feasible one kept it
    for t in run.trials:
        assert (t.lut > 5200.0) == (t.status == "infeasible")
    assert run.chosen is not None and run.chosen.status == "feasible"
    assert run.chosen.test_accuracy == pytest.approx(run.chosen.accuracy - 0.004)
    # the search's placeholder values of infeasible trials are not taken as accuracy/fps
    for t in run.trials:
        if t.status == "infeasible":
            assert t.accuracy is None and t.fps is not None and t.fps > 0
    front = set(run.pareto_numbers)
    assert run.chosen.number in front
    # the front is not dominated by any feasible trial
    feas = [t for t in run.trials if t.status == "feasible"]
    for n in front:
        f = next(t for t in run.trials if t.number == n)
        assert not any(t.accuracy > f.accuracy and t.fps > f.fps for t in feas)


def test_summary_schema(written: Path) -> None:
    full = json.loads((written.parent / "summary.json").read_text())
    # the search's own fields are kept; the report adds its section
    assert full["schema"] == 1 and full["timings_s"] == {"total_s": 1.0}
    s = full["report"]
    assert s["schema"] == report.REPORT_SCHEMA
    for key in (
        "study",
        "recipe",
        "target",
        "trials",
        "pareto",
        "chosen",
        "parent",
        "comparison",
        "hypervolume",
        "export",
        "files",
    ):
        assert key in s
    t = s["trials"]
    # one count, in the search's words: the report's section is the search's trial_counts
    from hwprune.search.record import trial_counts

    study = optuna.load_study(study_name=full["study"], storage=s["study"]["storage"])
    assert t == trial_counts(study)
    parts = ("feasible", "infeasible", "stopped", "failed", "cut_off", "surplus", "running")
    assert t["total"] == sum(t[k] for k in (*parts, "waiting"))
    assert t["complete"] == t["feasible"] + t["infeasible"] + t["stopped"]
    assert s["study"]["dashboard"].startswith("optuna-dashboard sqlite:///")
    ch = s["chosen"]
    assert ch["binding"] == "lut"  # only LUT is budgeted in this run
    assert ch["bottleneck"] in {row["name"] for row in ch["layers"]}
    # rows (layers + fixed overheads) add up to the design's total; shares to 1
    assert sum(r["lut"] for r in ch["layers"]) == pytest.approx(ch["lut"])
    assert sum(r["share_lut"] for r in ch["layers"]) == pytest.approx(1.0)
    assert ch["layers"][-1]["name"] == "overheads"
    # parameters of the chosen design: 64*w0 + w0*w1 + w1*10
    w0, w1 = (r["channels"] for r in ch["layers"][:2])
    assert ch["params"] == 64 * w0 + w0 * w1 + w1 * 10
    assert s["parent"]["params"] == 64 * 64 + 64 * 64 + 64 * 10
    assert s["chosen"]["final_val_accuracy"] == pytest.approx(s["chosen"]["accuracy"] + 0.002)
    assert s["parent"]["weight_bits"] == 32 * s["parent"]["params"]
    assert 0 < s["comparison"]["weight_bits_ratio"] < 0.26
    hv = s["hypervolume"]["values"]
    assert len(hv) == t["total"] and hv == sorted(hv) and hv[-1] > 0


def test_plots_exist_as_png_and_svg(written: Path) -> None:
    out = written.parent
    for stem in ("pareto", "resources", "layers", "hypervolume"):
        png = (out / f"{stem}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
        svg = (out / f"{stem}.svg").read_text()
        assert "<svg" in svg


def test_html_is_self_contained(written: Path) -> None:
    page = written.read_text()
    imgs = re.findall(r"<img src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(imgs) == 4
    for b64 in imgs:
        assert base64.b64decode(b64)[:4] == b"\x89PNG"
    # no external resources (scripts, stylesheets, remote images)
    assert not re.search(r"<(script|link)\b", page)
    assert "http://" not in page and "https://" not in page
    assert "class='bottleneck'" in page and "binding" in page
    for label in (
        "Pareto front",
        "Accuracy vs resources",
        "Chosen design, layer by layer",
        "Compared with the float parent",
        "Search progress",
        "pynq-z2",
    ):
        assert label in page


def test_export_section(run_dir: Path, written: Path) -> None:
    run = report.load_run(run_dir)
    ex = run.export
    assert ex["csim"]["bit_exact"] is True and ex["csim"]["samples"] == 16
    assert [c["match"] for c in ex["cycles"]] == [True, True, False]
    assert ex["files"] == ["csim.log", "hls"] or set(ex["files"]) >= {"csim.log", "hls"}
    page = written.read_text()
    assert "bit-exact" in page and "1 kernel(s) differ" in page and "cycles-table" in page


def test_pareto_plot_marks_trial_kinds(run_dir: Path) -> None:
    run = report.load_run(run_dir)
    fig = report.plot_pareto(run)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "feasible trial" in labels
    assert "early-stopped trial" in labels
    assert "infeasible (over budget, not trained)" in labels
    assert "Pareto front" in labels
    assert any(lbl.startswith("chosen design") for lbl in labels)
    assert any(lbl.startswith("float parent") for lbl in labels)
    assert fig.axes[0].get_xscale() == "log"


def test_layer_table_from_the_cost_model() -> None:
    """Rows of a real estimate: MVAUs matched to the design's conv/fc, other nodes kept."""
    estimate_mod = pytest.importorskip("hwprune.estimate")
    design = {
        "name": "cnn",
        "input": {"shape": [1, 8, 8], "bits": 8},
        "layers": [
            {"op": "conv", "out_ch": 16, "kernel": 3, "wbits": 4, "abits": 4},
            {"op": "maxpool", "kernel": 2},
            {"op": "fc", "out": 32, "wbits": 2, "abits": 2},
            {"op": "fc", "out": 10, "wbits": 2, "abits": None},
        ],
    }
    est = json.loads(estimate_mod.estimate(design, "pynq-z2").to_json())
    trial = report.TrialView(
        0,
        "feasible",
        design=design,
        layers=tuple(est["layers"]),
        lut=est["lut"],
        estimate=est,
    )
    table = report.layer_table(trial, {"widths": [32, 64]})
    rows = table["rows"]
    mvau = [r for r in rows if r["compute"]]
    assert [r["channels"] for r in mvau] == [16, 32, 10]
    assert [r["parent_channels"] for r in mvau] == [32, 64, 10]
    assert [r["wbits"] for r in mvau] == [4, 2, 2] and mvau[-1]["abits"] is None
    # where each layer's products were priced (the folding's LUT/DSP choice) is shown
    assert [r["res_type"] for r in mvau] == [
        lay["res_type"] for lay in est["layers"] if lay.get("res_type")
    ]
    assert all(r["res_type"] in ("lut", "dsp") for r in mvau)
    assert {r["op"] for r in rows if not r["compute"]} >= {"SlidingWindow", "MaxPool"}
    assert sum(r["lut"] for r in rows) == pytest.approx(est["lut"], rel=1e-3)
    worst = max(r["cycles"] for r in rows if r["cycles"] is not None)
    assert rows[table["bottleneck"]]["cycles"] == worst


def test_hypervolume_matches_a_hand_computation() -> None:
    # two points in a 2-D minimisation space against (1.1, 1.1)
    assert report._hypervolume([[0.0, 1.0], [1.0, 0.0]], [1.1, 1.1]) == pytest.approx(
        1.1 * 0.1 + 0.1 * 1.0
    )
    # 3-D goes through optuna's exact WFG; a single point is a box
    assert report._hypervolume([[0.1, 0.2, 0.3]], [1.0, 1.0, 1.0]) == pytest.approx(0.9 * 0.8 * 0.7)


def test_report_without_optional_files(tmp_path: Path) -> None:
    """A bare study (no pareto.json/best/parent) still gives a full report."""
    run = make_run(tmp_path / "bare", with_best=False, n_trials=6)
    (run / "pareto.json").unlink()
    page = report.write_report(run, tmp_path / "out")
    full = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert full["schema"] == 1 and full["study"] == "digits-mlp-pynq-z2"
    assert full["trials"]["total"] == 6
    s = full["report"]
    assert s["chosen"] is None or s["chosen"]["trial"] in [p["trial"] for p in s["pareto"]]
    assert "Search progress" in page.read_text()


def test_report_errors(tmp_path: Path) -> None:
    from hwprune.errors import ConfigError, StorageError

    with pytest.raises(StorageError, match="does not exist"):
        report.load_run(tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(StorageError, match="is a file"):
        report.load_run(tmp_path / "f")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StorageError, match="not a run folder"):
        report.load_run(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "study.db").write_text("this is not sqlite")
    with pytest.raises(StorageError, match="cannot open"):
        report.load_run(tmp_path / "bad")
    with pytest.raises(ConfigError, match="no run folders"):
        report.compare_runs([], tmp_path / "c")


def test_compare_runs(tmp_path: Path, run_dir: Path) -> None:
    other = make_run(tmp_path / "zcu104", target="zcu104", lut_budget=6000.0, seed=3)
    page = report.compare_runs([run_dir, other], tmp_path / "cmp")
    doc = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [r["target"] for r in doc["runs"]] == ["pynq-z2", "zcu104"]
    for r in doc["runs"]:
        accs = [p["accuracy"] for p in r["front"]]
        fps = [p["fps"] for p in r["front"]]
        assert fps == sorted(fps) and accs == sorted(accs, reverse=True)
    text = page.read_text()
    assert "pynq-z2" in text and "zcu104" in text and "data:image/png;base64," in text
    assert (tmp_path / "cmp" / "compare.svg").exists()


# ------------------------------------------------------------------------------- CLI


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hwprune", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_cli_report_and_compare(tmp_path: Path, run_dir: Path) -> None:
    res = _cli("report", str(run_dir), "--out", str(tmp_path / "r"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "r" / "report.html").exists()
    res = _cli("compare", str(run_dir), str(run_dir), "--out", str(tmp_path / "c"))
    assert res.returncode == 0, res.stderr
    assert "comparison:" in res.stdout
    res = _cli("report", str(tmp_path / "missing"))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "does not exist" in res.stderr


# ------------------------------------------------------------------------ headless browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium_run(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = _chromium()
    assert exe is not None
    profile = tempfile.mkdtemp(prefix="hwprune-chromium-")
    try:
        return subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                *args,
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HOME": profile},
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(
    _chromium() is None, reason="Chromium is not installed (Debian: apt-get install chromium)"
)
def test_report_renders_in_headless_chromium(written: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    res = _chromium_run(
        written, f"--screenshot={shot}", "--window-size=1280,2400", "--hide-scrollbars"
    )
    assert shot.exists(), res.stderr[-2000:]
    # JS errors and failed loads are logged as CONSOLE/ERROR lines
    bad = [
        line
        for line in res.stderr.splitlines()
        if "CONSOLE" in line and ("Uncaught" in line or "ERROR" in line) or "net::ERR_" in line
    ]
    assert not bad, bad
    from matplotlib.image import imread

    img = imread(shot)
    assert img.shape[0] >= 2000 and img.shape[1] >= 1200
    rgb = img[..., :3]
    # not blank: many distinct colours, a good share of non-white pixels
    assert (rgb < 0.9).any(axis=-1).mean() > 0.05
    assert len({tuple(p) for p in (rgb[::17, ::17] * 255).astype(int).reshape(-1, 3)}) > 50

    dom = _chromium_run(written, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    for plot in ("pareto", "resources", "layers", "hypervolume"):
        assert f'data-plot="{plot}"' in html
    for label in (
        "Pareto front",
        "Chosen design, layer by layer",
        "Search progress",
        "Compared with the float parent",
        "resource",
    ):
        assert label in html


@pytest.mark.slow
@pytest.mark.skipif(
    _chromium() is None, reason="Chromium is not installed (Debian: apt-get install chromium)"
)
def test_images_decode_in_chromium(written: Path, tmp_path: Path) -> None:
    """Each embedded image decodes to a real size in the browser (naturalWidth > 0)."""
    probe = tmp_path / "probe.html"
    page = written.read_text()
    script = (
        "<script>window.addEventListener('load',()=>{const r=[...document.images].map("
        "i=>i.dataset.plot+':'+i.naturalWidth+'x'+i.naturalHeight);"
        "document.body.setAttribute('data-sizes',r.join(','));});</script>"
    )
    probe.write_text(page.replace("</body>", script + "</body>"))
    dom = _chromium_run(probe, "--dump-dom", "--virtual-time-budget=5000")
    m = re.search(r'data-sizes="([^"]*)"', dom.stdout)
    assert m, dom.stderr[-2000:]
    sizes = dict(item.split(":") for item in m.group(1).split(","))
    assert set(sizes) == {"pareto", "resources", "layers", "hypervolume"}
    for wh in sizes.values():
        w, h = (int(x) for x in wh.split("x"))
        assert w > 300 and h > 200


# ---------------------------------------------------------------- real searches (end to end)


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two REAL tiny searches (digits MLP, 3 trials, 1 epoch): an FPGA and a GPU target."""
    import torch

    from hwprune import search

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("real")
    runs = {}
    for target in ("pynq-z2", "jetson-orin-nano"):
        res = search(
            "digits-mlp",
            target,
            out=root / target,
            cache_dir=root / "parent",
            export=target == "pynq-z2",
            rtl="write",
            quiet=True,
            overrides={
                "budget.trials": 3,
                "budget.epochs": 1,
                "budget.final_epochs": 1,
                "parent.epochs": 3,
            },
        )
        runs[target] = res.run_dir
    return runs


@pytest.mark.slow
def test_report_of_a_real_search(real_runs: dict[str, Path]) -> None:
    run_dir = real_runs["pynq-z2"]
    # the search wrote the report itself
    page = run_dir / "report.html"
    assert page.exists()
    full = json.loads((run_dir / "summary.json").read_text())
    rep = full["report"]
    study = optuna.load_study(study_name=full["study"], storage=f"sqlite:///{run_dir / 'study.db'}")
    assert rep["trials"]["total"] == len(study.trials) == full["trials"]["total"]
    assert rep["trials"] == full["trials"]  # one count, one set of status words
    if full["chosen"] is not None:
        ch = rep["chosen"]
        assert ch["trial"] == full["chosen"]["trial"]
        assert ch["test_accuracy"] == pytest.approx(full["chosen"]["test_accuracy"])
        assert ch["lut"] == pytest.approx(full["chosen"]["hw"]["lut"])
        assert ch["binding"] == full["chosen"]["hw"]["binding"]  # the cost model's word
        mvau = [r for r in ch["layers"] if r["compute"]]
        assert [r["channels"] for r in mvau[:-1]] == full["chosen"]["channels"]
        assert [r["wbits"] for r in mvau] == full["chosen"]["wbits"]
        assert all(r["pe"] and r["simd"] for r in mvau)
        assert sum(r["lut"] for r in ch["layers"]) == pytest.approx(ch["lut"], rel=0.01)
        assert [p["trial"] for p in rep["pareto"]] == [p["trial"] for p in full["front"]]
    text = page.read_text()
    assert "data:image/png;base64," in text and "optuna-dashboard sqlite:///" in text
    if full.get("selection"):  # the selection rule the search applied is explained in the page
        assert "why this design" in text
        assert html.escape(full["selection"]["explanation"], quote=False) in text
    if full["export"] and full["export"].get("ok") and full["export"].get("csim"):
        ex = rep["export"]
        # the real g++ C simulation of the exported design, and its cycles check
        assert ex["csim"]["bit_exact"] is True and ex["csim"]["samples"] > 0
        assert ex["cycles"] and all(c["match"] for c in ex["cycles"])
        assert "all " in text and "kernels agree" in text


@pytest.mark.slow
def test_report_and_compare_with_a_gpu_target(real_runs: dict[str, Path], tmp_path: Path) -> None:
    gpu = report.load_run(real_runs["jetson-orin-nano"])
    assert not gpu.is_fpga
    assert report.plot_resources(gpu) is None  # no LUT/BRAM on a GPU
    page = report.compare_runs(list(real_runs.values()), tmp_path / "cmp")
    doc = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [r["target"] for r in doc["runs"]] == ["pynq-z2", "jetson-orin-nano"]
    assert all(r["trials"] == 3 for r in doc["runs"])
    assert "jetson-orin-nano" in page.read_text()


def test_study_in_another_storage(tmp_path: Path) -> None:
    """A run whose study lives elsewhere (as with --storage): pass the URL explicitly."""
    from hwprune.errors import StorageError

    run = make_run(tmp_path / "run", n_trials=5)
    db = tmp_path / "elsewhere.db"
    (run / "study.db").rename(db)
    (run / "summary.json").unlink(missing_ok=True)
    with pytest.raises(StorageError, match="not a run folder"):
        report.load_run(run)
    page = report.write_report(run, storage=f"sqlite:///{db}")
    full = json.loads((run / "summary.json").read_text())
    assert full["trials"]["total"] == 5 and full["report"]["study"]["storage"].endswith(
        "elsewhere.db"
    )
    assert page.exists()


def test_optuna_dashboard_reads_the_study(run_dir: Path) -> None:
    """`optuna-dashboard sqlite:///RUN/study.db` (documented in the README) serves the study:
    its API lists it and returns every trial with the search's user attributes."""
    pytest.importorskip(
        "optuna_dashboard",
        reason="optuna-dashboard is not installed (pip install optuna-dashboard)",
    )
    from wsgiref.util import setup_testing_defaults

    from optuna_dashboard._app import create_app

    app = create_app(optuna.storages.RDBStorage(f"sqlite:///{run_dir / 'study.db'}"))

    def get(path: str) -> dict:
        env: dict = {}
        setup_testing_defaults(env)
        env["PATH_INFO"] = path
        status: list[str] = []
        body = b"".join(app(env, lambda s, h, e=None: status.append(s)))
        assert status[0].startswith("200"), (path, status, body[:500])
        return json.loads(body)

    studies = get("/api/studies")["study_summaries"]
    assert [s["study_name"] for s in studies] == ["digits-mlp-pynq-z2"]
    detail = get(f"/api/studies/{studies[0]['study_id']}")
    assert len(detail["trials"]) == 14
    keys = {u["key"] for t in detail["trials"] for u in t["user_attrs"]}
    assert {"design", "hw", "estimate", "status"} <= keys


def test_report_of_a_running_study(tmp_path: Path) -> None:
    """A study with a trial still running and a failed one is reported as it stands."""
    run = make_run(tmp_path / "live", n_trials=6, with_best=False)
    study = optuna.load_study(
        study_name="digits-mlp-pynq-z2", storage=f"sqlite:///{run / 'study.db'}"
    )
    study.ask()  # left running
    failed = study.ask()
    failed.set_user_attr("status", "failed")
    study.tell(failed, state=optuna.trial.TrialState.FAIL)
    report.write_report(run)
    s = json.loads((run / "summary.json").read_text())["report"]
    assert s["trials"]["running"] == 1 and s["trials"]["failed"] == 1
    assert s["trials"]["total"] == 8


# ------------------------------------------------------------ studies in other storages


def _move_study(run: Path, to_url: str) -> None:
    """Copy the run's study into the storage ``to_url``; remove ``study.db`` and summary.json
    (so only ``--storage`` finds the study, as for workers sharing a server or a journal)."""
    from hwprune.storage import open_storage

    optuna.copy_study(
        from_study_name="digits-mlp-pynq-z2",
        from_storage=f"sqlite:///{run / 'study.db'}",
        to_storage=open_storage(to_url, heartbeat_interval=None),
    )
    (run / "study.db").unlink()
    (run / "summary.json").unlink(missing_ok=True)


def test_report_of_a_journal_study(tmp_path: Path) -> None:
    """A journal study (``journal:///path`` or a plain ``.log`` path) is reported like SQLite."""
    from hwprune.errors import StorageError

    run = make_run(tmp_path / "run", n_trials=6)
    before = [(t.number, t.status, t.lut) for t in report.load_run(run).trials]
    log = tmp_path / "shared" / "study.log"
    log.parent.mkdir()
    _move_study(run, f"journal://{log}")
    for url in (f"journal://{log}", str(log)):
        loaded = report.load_run(run, storage=url)
        assert [(t.number, t.status, t.lut) for t in loaded.trials] == before
    res = _cli("report", str(run), "--storage", str(log), "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    full = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert full["trials"]["total"] == 6 and full["report"]["study"]["storage"].endswith(".log")
    missing = tmp_path / "nope.log"
    with pytest.raises(StorageError, match="does not exist"):
        report.load_run(run, storage=f"journal://{missing}")
    assert not missing.exists()  # a report never creates a storage


def test_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", n_trials=3)
    for url in (
        "postgresql://hw:se/cr3t@127.0.0.1:1/optuna",
        "postgresql://hw@127.0.0.1:1/optuna?password=se/cr3t",
    ):
        res = _cli("report", str(run), "--storage", url)
        assert res.returncode == 2
        assert res.stderr.strip().count("\n") == 0, res.stderr
        assert "se/cr3t" not in res.stderr + res.stdout and "***" in res.stderr
        assert "Traceback" not in res.stderr


def test_passwords_never_reach_the_report(run_dir: Path, tmp_path: Path) -> None:
    """Every password form is masked in summary.json and report.html, whoever recorded the
    URL (the report's own storage, or an older search's summary.json)."""
    from dataclasses import replace

    from hwprune.report.html import render_html

    run = report.load_run(run_dir)
    for url in (
        "postgresql://hw:se/cr3t@db.lab:5432/optuna",
        "postgresql+psycopg2://hw:se:cr3t@db.lab/optuna",
        "postgresql://hw@db.lab/optuna?sslmode=require&password=se/cr3t",
    ):
        leaky = replace(run, storage=url)
        summary = report.build_summary(leaky, {"schema": 1, "storage": url})
        page = render_html(leaky, summary["report"], {})
        text = json.dumps(summary) + page
        assert "se/cr3t" not in text and "se:cr3t" not in text
        assert "***" in summary["storage"] and "***" in summary["report"]["study"]["dashboard"]
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "summary.json").write_text(  # as the search records it
        json.dumps({"storage": "postgresql://hw@db.lab/optuna?password=***"})
    )
    from hwprune.errors import StorageError

    with pytest.raises(StorageError, match="password not stored"):
        report.find_storage(tmp_path / "r")


@pytest.mark.postgres
def test_report_of_a_postgresql_study(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    """``report --storage postgresql://...`` (no driver named) reads the study from a real
    server; a password holding ``/`` (ignored by the test server's trust login) is never shown."""
    run = make_run(tmp_path / "run", n_trials=5)
    before = [(t.number, t.status) for t in report.load_run(run).trials]
    host = postgres_url.split("@", 1)[1]
    url = f"postgresql://postgres:s3/cr:t@{host}"
    _move_study(run, url)
    for i, storage in enumerate((url, f"postgresql://postgres@{host}?password=s3/cr:t")):
        out = tmp_path / f"out{i}"
        res = _cli("report", str(run), "--storage", storage, "--out", str(out))
        assert res.returncode == 0, res.stderr
        text = (out / "report.html").read_text() + (out / "summary.json").read_text()
        assert "s3/cr" not in text + res.stdout + res.stderr
        full = json.loads((out / "summary.json").read_text())
        assert full["storage"].startswith("postgresql://postgres")
        assert "***" in full["storage"]
        assert full["trials"]["total"] == 5
    assert [(t.number, t.status) for t in report.load_run(run, storage=url).trials] == before


# --------------------------------------------------------------- binding: the cost model's word


def _priced_trial(layers: list[dict]) -> tuple:
    """A trial stored the way the search stores it, priced by the real cost model."""
    from hwprune.estimate import estimate
    from hwprune.report.load import _trial_view

    design = {"name": "d", "input": {"shape": [1, 8, 8], "bits": 4}, "layers": layers}
    est = estimate(design, "pynq-z2")
    hw = {k: getattr(est, k) for k in ("fps", "latency_us", "lut", "ff", "bram18", "dsp")}
    hw.update(fits=est.fits, binding=est.binding)
    frozen = optuna.trial.create_trial(
        values=[0.9, est.fps],
        user_attrs={
            "status": "ok",
            "accuracy": 0.9,
            "design": design,
            "hw": hw,
            "estimate": json.loads(est.to_json()),
        },
    )
    return est, _trial_view(frozen, ("accuracy", "fps"))


@pytest.mark.parametrize(
    ("layers", "word"),
    [
        # a tiny MLP: every layer fully parallel in a few cycles, the stream port is slower
        (
            [
                {"op": "fc", "out": 16, "wbits": 2, "abits": 2},
                {"op": "fc", "out": 10, "wbits": 2, "abits": None},
            ],
            "io",
        ),
        # a tiny conv: fully parallel and still slower than the port: nothing binds
        (
            [
                {"op": "conv", "out_ch": 2, "kernel": 3, "wbits": 2, "abits": 2},
                {"op": "fc", "out": 10, "wbits": 2, "abits": None},
            ],
            None,
        ),
    ],
)
def test_binding_is_the_cost_models_word(layers: list[dict], word: str | None) -> None:
    """The report's "binding" is :attr:`Estimate.binding` (what stops a faster design), never
    the most-used resource; that one is reported apart, under its own name."""
    from hwprune.report.html import binding_note, render_html
    from hwprune.report.load import _enrich_target

    est, rec = _priced_trial(layers)
    assert est.binding == word, est.binding  # the case this parameter is meant to cover
    run = report.RunData(
        Path("r"),
        "s",
        "sqlite:///r/study.db",
        ("accuracy", "fps"),
        ("maximize", "maximize"),
        (rec,),
        target=_enrich_target({"name": "pynq-z2"}),
        chosen=rec,
    )
    assert rec.binding == word and report.binding_resource(run, rec) == word
    section = report.build_report_section(run)
    assert section["chosen"]["binding"] == word
    most = section["chosen"]["most_used"]
    assert most["resource"] == max(("lut", "ff", "bram18", "dsp"), key=lambda r: est.util[r])
    assert most["share"] == pytest.approx(est.util[most["resource"]] / est.util_cap, rel=1e-3)
    note = "".join(s["text"] for s in binding_note(run))
    page = render_html(run, section, {})
    if word is None:
        assert note.startswith("Nothing binds") and "Most-used resource: LUT" in note
        assert "class='binding" not in page and " binding'" not in page
    else:
        assert note.startswith("Binding: I/O stream port")


def test_html_escapes_what_a_study_holds(tmp_path: Path) -> None:
    """Names and texts from a study or run folder (study, target, recipe, export error, C
    simulation output) reach report.html and compare.html escaped, never as markup."""
    evil = "<script>alert(1)</script>"
    run = make_run(tmp_path / "run", target=evil, n_trials=8)
    study = optuna.load_study(
        study_name=f"digits-mlp-{evil}", storage=f"sqlite:///{run / 'study.db'}"
    )
    study.set_user_attr("recipe", {"name": "</pre><script>alert(2)</script>", "constraints": {}})
    summary = json.loads((run / "summary.json").read_text())
    summary["export"] = {"ok": False, "error": "<img src=x onerror=alert(3)>"}
    (run / "summary.json").write_text(json.dumps(summary))
    with open(run / "best" / "csim.log", "a") as log:
        log.write("HWPRUNE_MISMATCH sample=0 <iframe src=javascript:alert(4)>\n")
    page = report.write_report(run, tmp_path / "out").read_text()
    cmp_page = report.compare_runs([run], tmp_path / "cmp").read_text()
    for text in (page, cmp_page):
        assert "<script" not in text and "<iframe" not in text and "<img src=x" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(3)&gt;" in page
    assert "&lt;iframe src=javascript:alert(4)&gt;" in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(2)" in page


@pytest.mark.parametrize(
    ("csim", "shown"),
    [(True, "bit-exact"), (False, "NOT bit-exact"), (None, "not run")],
)
def test_export_verdict_as_the_search_records_it(
    tmp_path: Path, run_dir: Path, csim: bool | None, shown: str
) -> None:
    """Without a csim.log, the search's ``export.csim`` (the C simulation's verdict, or null
    when it did not run) is what the report shows."""
    run = Path(shutil.copytree(run_dir, tmp_path / "run"))
    (run / "best" / "csim.log").unlink()
    summary = json.loads((run / "summary.json").read_text())
    summary["export"] = {"ok": True, "dir": str(run / "best"), "bit_exact": True, "csim": csim}
    (run / "summary.json").write_text(json.dumps(summary))
    page = report.write_report(run, tmp_path / "out").read_text()
    row = re.search(r"<td>C simulation \(g\+\+\)</td><td class='l'>(.*?)</td>", page)
    assert row is not None, page
    assert re.sub(r"<[^>]+>", "", row.group(1)).strip() == shown
