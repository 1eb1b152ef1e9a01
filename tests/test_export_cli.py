"""``hwprune export`` on the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from export_models import digits_test_x, quant_model
from onnx import helper

from hwprune.cli import main
from hwprune.export.qonnx import export_brevitas, load_qonnx


@pytest.fixture(scope="module")
def mlp_onnx(tmp_path_factory):
    q, shape = quant_model("mlp-digits")
    return export_brevitas(q, shape, tmp_path_factory.mktemp("cli") / "mlp.onnx")


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    cap = capsys.readouterr()
    return exc.value.code, cap.out, cap.err


@pytest.mark.slow
@pytest.mark.csim
@pytest.mark.parametrize("relative", [False, True], ids=["absolute-out", "relative-out"])
def test_export_qonnx_model(mlp_onnx, tmp_path, capsys, monkeypatch, relative):
    out = tmp_path / "exp"
    if relative:  # `--out exp` from the working directory (as `hwprune search` writes runs/...)
        monkeypatch.chdir(tmp_path)
    code, stdout, err = _run(
        [
            "export",
            str(mlp_onnx),
            "--target",
            "pynq-z2",
            "--folding",
            "auto",
            "--out",
            "exp" if relative else str(out),
            "--json",
            "--rtl",
            "write",
        ],
        capsys,
    )
    assert code == 0, err
    info = json.loads(stdout)
    assert info["bit_exact"] and info["csim"]["samples"] == 100
    assert info["executor_vs_qonnx"]["exact"]
    for name in (
        "model.qonnx.onnx",
        "dataflow.json",
        "estimate.json",
        "csim.log",
        "README.md",
        "hls/top.cpp",
        "golden/inputs.npy",
        "finn/folding_config.json",
        "finn/build_config.json",
        "finn/specialize_layers_config.json",
    ):
        assert (out / name).is_file(), name
    # random golden inputs within the input quantizer's range (digits: 0..16 -> UINT8 0..255)
    x = np.load(out / "golden" / "inputs.npy")
    assert x.shape == (100, 8, 8, 1) and x.max() > 16
    readme = (out / "README.md").read_text()
    assert "vitis_hls -f run_hls.tcl" in readme and "bit-exact" in readme
    est = json.loads((out / "estimate.json").read_text())
    flow = json.loads((out / "dataflow.json").read_text())
    assert flow["folding"] == est["folding"]


@pytest.mark.slow
@pytest.mark.csim
def test_export_with_inputs_and_folding_file(mlp_onnx, tmp_path, capsys):
    inputs = tmp_path / "x.npy"
    np.save(inputs, digits_test_x(101))
    fold = tmp_path / "fold.json"
    fold.write_text(
        json.dumps(
            {
                "fc0": {"pe": 8, "simd": 16},
                "fc1": {"pe": 4, "simd": 8},
                "fc2": {"pe": 1, "simd": 64},
                "fc3": {"pe": 2, "simd": 32},
                "labelselect": {"pe": 1},
            }
        )
    )
    out = tmp_path / "exp"
    code, stdout, err = _run(
        [
            "export",
            str(mlp_onnx),
            "--inputs",
            str(inputs),
            "--folding",
            str(fold),
            "--samples",
            "101",
            "--out",
            str(out),
            "--rtl",
            "write",
        ],
        capsys,
    )
    assert code == 0, err
    assert "bit-exact on 101 samples" in stdout
    assert np.load(out / "golden" / "inputs.npy").max() <= 16  # real digits, not random
    est = json.loads((out / "estimate.json").read_text())
    assert est["folding"]["fc1"] == {"pe": 4, "simd": 8}


def test_export_refuses_unsupported_node(mlp_onnx, tmp_path, capsys):
    m = load_qonnx(mlp_onnx)
    q = next(
        n
        for n in m.graph.node
        if n.op_type == "BipolarQuant" and m.get_initializer(n.input[0]) is None
    )
    for c in m.find_consumers(q.output[0]):
        c.input[0] = "t_out"
    m.graph.node.insert(
        list(m.graph.node).index(q) + 1,
        helper.make_node("Tanh", [q.output[0]], ["t_out"], name="Tanh_7"),
    )
    bad = tmp_path / "bad.onnx"
    m.save(str(bad))
    code, _, err = _run(["export", str(bad), "--out", str(tmp_path / "o"), "--no-csim"], capsys)
    assert code == 2
    assert err.startswith("hwprune: error: node 'Tanh_0' (Tanh)") and err.count("\n") == 1


def test_export_argument_errors(mlp_onnx, tmp_path, capsys):
    code, _, err = _run(["export"], capsys)
    assert code == 2 and "either MODEL.onnx or --run" in err
    code, _, err = _run(["export", str(mlp_onnx), "--trial", "3"], capsys)
    assert code == 2 and "--trial needs --run" in err
    code, _, err = _run(["export", str(tmp_path / "none.onnx")], capsys)
    assert code == 2 and "does not exist" in err
    code, _, err = _run(["export", str(mlp_onnx), "--target", "rtx-4090", "--no-csim"], capsys)
    assert code == 2 and "not an FPGA" in err
    code, _, err = _run(["export", "--run", str(tmp_path)], capsys)
    assert code == 2 and "not a search run folder" in err
    fold = tmp_path / "f.json"
    fold.write_text(json.dumps({"fc0": {"pe": 3}}))
    code, _, err = _run(
        [
            "export",
            str(mlp_onnx),
            "--folding",
            str(fold),
            "--no-csim",
            "--out",
            str(tmp_path / "o2"),
        ],
        capsys,
    )
    assert code == 2 and "fc0: pe=3 is illegal" in err


def test_export_no_csim_scores(mlp_onnx, tmp_path, capsys):
    out = tmp_path / "s"
    code, stdout, err = _run(
        [
            "export",
            str(mlp_onnx),
            "--no-csim",
            "--scores",
            "--samples",
            "10",
            "--out",
            str(out),
            "--json",
            "--rtl",
            "write",
        ],
        capsys,
    )
    assert code == 0, err
    info = json.loads(stdout)
    assert info["csim"] is None and info["executor_vs_qonnx"]["exact"]
    assert np.load(out / "golden" / "expected.npy").shape == (10, 10)
    assert (out / "hls" / "top.cpp").is_file() and not (out / "csim.log").exists()


@pytest.mark.slow
@pytest.mark.csim
def test_export_run_best_and_trial(tmp_path, capsys):
    """`hwprune export --run`: the chosen design (weights from best/) and a trial (re-trained)."""
    run = tmp_path / "run"
    code, _, err = _run(
        [
            "search",
            "--quiet",
            "--trials",
            "2",
            "--epochs",
            "1",
            "--final-epochs",
            "1",
            "--set",
            "parent.epochs=2",
            "--no-export",
            "--out",
            str(run),
            "--target",
            "pynq-z2",
        ],
        capsys,
    )
    assert code == 0, err
    code, stdout, err = _run(["export", "--run", str(run), "--json", "--rtl", "write"], capsys)
    assert code == 0, err
    info = json.loads(stdout)
    # next to best/ (which holds the search's own export), never nested inside it
    assert info["bit_exact"] and info["out_dir"] == str(run / "export")
    assert not (run / "best" / "export").exists()
    design = json.loads((run / "best" / "design.json").read_text())
    fc = [lay for lay in design["layers"] if lay["op"] == "fc"]
    assert any("pe" in lay for lay in fc)  # the loop below checks something
    for k, lay in enumerate(fc):  # the folding the search priced is the folding exported
        if "pe" in lay:
            want = {key: lay[key] for key in ("pe", "simd", "res_type") if key in lay}
            assert info["folding"][f"fc{k}"] == want
    code, stdout, err = _run(
        [
            "export",
            "--run",
            str(run),
            "--trial",
            "0",
            "--samples",
            "100",
            "--json",
            "--rtl",
            "write",
        ],
        capsys,
    )
    assert code == 0, err
    assert json.loads(stdout)["out_dir"] == str(run / "trials" / "0" / "export")
    code, _, err = _run(["export", "--run", str(run), "--trial", "99"], capsys)
    assert code == 2 and "has no trial 99" in err


def test_export_replaces_its_folder_whole(mlp_onnx, tmp_path, capsys):
    """A second export into the same --out leaves nothing of the first (no stale csim.log);
    a folder with other files is refused instead of replaced."""
    out = tmp_path / "exp"
    out.mkdir()
    (out / "csim.log").write_text("HWPRUNE_CSIM samples=100 mismatching_samples=0 result=BIT-EXACT")
    (out / "hls").mkdir()
    (out / "hls" / "old_kernel.hpp").write_text("// an earlier export")
    code, _, err = _run(
        ["export", str(mlp_onnx), "--no-csim", "--out", str(out), "--rtl", "write"], capsys
    )
    assert code == 0, err
    assert not (out / "csim.log").exists() and not (out / "hls" / "old_kernel.hpp").exists()
    assert (out / "hls" / "top.cpp").is_file() and (out / "README.md").is_file()
    assert "C simulation: not run" in (out / "README.md").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    (out / "README.md").write_text("an earlier export's")  # next to dataflow.json: its own
    code, _, err = _run(
        ["export", str(mlp_onnx), "--no-csim", "--out", str(out), "--rtl", "write"], capsys
    )
    assert code == 0, err
    assert "C simulation: not run" in (out / "README.md").read_text()
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "notes.md").write_text("mine")
    code, _, err = _run(["export", str(mlp_onnx), "--no-csim", "--out", str(mine)], capsys)
    assert code == 2 and err.count("\n") == 1 and "notes.md" in err
    assert (mine / "notes.md").read_text() == "mine" and not (mine / "hls").exists()


def test_export_refuses_a_project_folder_with_git_and_readme(mlp_onnx, tmp_path, capsys):
    """`--out proj` where proj holds the user's .git/ and README.md: refused on one line,
    nothing deleted (a dotfile or a README.md is not the export's own)."""
    proj = tmp_path / "proj"
    (proj / ".git").mkdir(parents=True)
    (proj / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (proj / "README.md").write_text("# my project\n")
    code, _, err = _run(["export", str(mlp_onnx), "--no-csim", "--out", str(proj)], capsys)
    assert code == 2 and err.count("\n") == 1 and ".git" in err and "--out" in err, err
    assert "Traceback" not in err
    assert (proj / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert (proj / "README.md").read_text() == "# my project\n"
    assert sorted(p.name for p in proj.iterdir()) == [".git", "README.md"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_replaceable_folder_rules(tmp_path):
    """What an export may replace: its own entries (a README.md only next to dataflow.json or
    hls/) and its own ``.tmp-`` leftovers; any other entry, dotfiles included, is refused."""
    from hwprune.errors import ConfigError
    from hwprune.export.core import _check_replaceable

    d = tmp_path / "d"
    d.mkdir()
    _check_replaceable(d)  # empty
    (d / "README.md").write_text("mine")
    with pytest.raises(ConfigError, match="README.md but is no earlier export"):
        _check_replaceable(d)
    (d / "hls").mkdir()
    _check_replaceable(d)  # README.md of an earlier export
    (d / "hls").rmdir()
    (d / "dataflow.json").write_text("{}")
    _check_replaceable(d)
    (d / ".tmp-hls.x1y2").mkdir()  # the export's own leftovers
    _check_replaceable(d)
    for dotfile in (".gitignore", ".env"):
        (d / dotfile).write_text("")
    with pytest.raises(ConfigError, match=r"\(\.env, \.gitignore\).*empty or new --out"):
        _check_replaceable(d)


def test_export_rtl_option(mlp_onnx, tmp_path, capsys):
    """`--rtl` takes the RTL flow's levels (help says what each does); a bad one is one line,
    exit 2; `--rtl write` on an AMD target writes the Verilog and runs neither Verilator nor
    Yosys."""
    import inspect

    from hwprune.commands import export_cmd
    from hwprune.commands.export_cmd import RTL_LEVELS
    from hwprune.export.core import export_model
    from hwprune.export.rtl.flow import LEVELS

    assert tuple(RTL_LEVELS) == ("auto", *LEVELS)
    # the command, export_model and the search's best/ (which passes no level) agree
    assert export_cmd._RTL.default == inspect.signature(export_model).parameters["rtl"].default
    code, stdout, _ = _run(["export", "--help"], capsys)
    assert code == 0 and "--rtl" in stdout
    for level in RTL_LEVELS:
        assert f"{level}:" in stdout, level
    code, _, err = _run(["export", str(mlp_onnx), "--rtl", "bitstream", "--no-csim"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--rtl 'bitstream'" in err and "auto, write, sim, synth, full" in err
    out = tmp_path / "w"
    argv = ["export", str(mlp_onnx), "-t", "pynq-z2", "--rtl", "write", "--no-csim"]
    code, stdout, err = _run([*argv, "--samples", "4", "--out", str(out), "--json"], capsys)
    assert code == 0, err
    rtl = json.loads(stdout)["rtl"]
    assert rtl == {"verilog": True, "verilator_bit_exact": None, "yosys": False, "bitstream": False}
    assert list((out / "rtl").glob("*.v")), "no Verilog written"
    assert not (out / "rtl" / "sim.log").exists() and not (out / "synth").exists()
