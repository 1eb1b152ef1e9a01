"""Every bad input gets exit code 2 and ONE line that names the problem and the fix.

Table-driven: each case builds what it needs in a temporary folder, runs ``python -m hwprune``
in a subprocess and checks (1) exit code 2, (2) stderr is exactly one line
``hwprune: error: ...`` with no traceback, (3) the line names the problem (``problem`` regex)
and (4) says what to do (an imperative hint after the problem, see :data:`FIX_WORDS`).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

#: words that start the "what to do" half of a message
FIX_WORDS = re.compile(
    r"\b(pass|run|use|add|check|choose|remove|set|give|install|download|fix|rename|"
    r"relax|raise|lower|increase|reduce|export|start|put|point|create|see|make|"
    r"delete|try|retrain|rebuild|drop|list|select|write|re-?export|re-?run|one of|"
    r"expected|must|should|did you mean|allowed|accepted)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Case:
    """One bad input: ``args`` may contain ``{tmp}`` (the case's temporary folder)."""

    id: str
    args: tuple[str, ...]
    problem: str  # regex (case-insensitive) the message must match
    setup: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: text that must not appear in stdout or stderr (a password)
    forbid: tuple[str, ...] = ()
    #: paths (relative to the case's folder) that must not exist afterwards
    absent: tuple[str, ...] = ()
    #: the error is all that is printed (no progress or log lines before it)
    one_line: bool = False


# ------------------------------------------------------------------------------- setups


def _corrupt_idx(tmp: Path) -> None:
    d = tmp / "mnist"
    d.mkdir()
    for stem in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (d / f"{stem}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03garbage-not-idx"))


def _corrupt_pickle(tmp: Path) -> None:
    d = tmp / "cifar" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]:
        (d / name).write_bytes(b"this is not a pickle")


def _target_missing_field(tmp: Path) -> None:
    (tmp / "board.toml").write_text(
        'name = "my-board"\nkind = "fpga"\npart = "xc7z020clg400-1"\nlut = 53200\n'
        "ff = 106400\nbram18 = 280\nclock_mhz = 100\nio_width_bits = 64\n"  # no dsp
    )


def _other_study(tmp: Path) -> None:
    run = tmp / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"study": "someone-else", "fingerprint": "0"}))


def _a_file(tmp: Path) -> None:
    (tmp / "afile").write_text("not a folder\n")


def _empty_folder(tmp: Path) -> None:
    (tmp / "notarun").mkdir()


def _corrupt_db(tmp: Path) -> None:
    (tmp / "run").mkdir()
    (tmp / "run" / "study.db").write_bytes(b"SQLite format 2\x00 but not really" * 10)


def _readonly(tmp: Path) -> None:
    ro = tmp / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)


def _ro_path(tmp: Path) -> str:
    """A folder nobody can create: /sys is read-only even for root."""
    return "/sys/hwprune-out" if os.geteuid() == 0 else str(tmp / "ro" / "out")


def _bad_checkpoint(tmp: Path) -> None:
    import torch

    torch.save({"fc.weight": torch.zeros(3, 3)}, tmp / "wrong.pt")


def _user_model_and_bad_checkpoint(tmp: Path) -> None:
    (tmp / "mynets.py").write_text(
        "from torch import nn\n\n\n"
        "def build():\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32, bias=False),\n"
        "                         nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10, bias=False))\n"
    )
    _bad_checkpoint(tmp)


def _bad_onnx(tmp: Path) -> None:
    (tmp / "broken.onnx").write_bytes(b"\x08\x07garbage that is not a protobuf model")


def _plain_onnx(tmp: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph([node], "plain", [x], [y])
    onnx.save(helper.make_model(graph), tmp / "plain.onnx")


def _unsupported_qonnx(tmp: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])
    scale = helper.make_tensor("s", TensorProto.FLOAT, [], [1.0])
    zp = helper.make_tensor("z", TensorProto.FLOAT, [], [0.0])
    bw = helper.make_tensor("b", TensorProto.FLOAT, [], [8.0])
    q = helper.make_node(
        "Quant",
        ["x", "s", "z", "b"],
        ["q"],
        domain="qonnx.custom_op.general",
        signed=0,
        narrow=0,
        rounding_mode="ROUND",
    )
    lrn = helper.make_node("LRN", ["q"], ["y"], size=3)  # local response norm: not lowered
    graph = helper.make_graph([q, lrn], "unsupported", [x], [y], initializer=[scale, zp, bw])
    model = helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", 13),
            helper.make_opsetid("qonnx.custom_op.general", 1),
        ],
    )
    onnx.save(model, tmp / "lrn.onnx")


def _design_json(tmp: Path) -> None:
    (tmp / "d.json").write_text(
        json.dumps(
            {
                "name": "mlp",
                "input": {"shape": [1, 8, 8], "bits": 8},
                "layers": [
                    {"op": "fc", "out": 32, "wbits": 2, "abits": 2},
                    {"op": "fc", "out": 10, "wbits": 2, "abits": None},
                ],
            }
        )
    )


def _design_bad_op(tmp: Path) -> None:
    (tmp / "d.json").write_text(
        json.dumps(
            {
                "name": "rnn",
                "input": {"shape": [1, 8, 8], "bits": 8},
                "layers": [
                    {"op": "lstm", "out": 32, "wbits": 2, "abits": 2},
                    {"op": "fc", "out": 10, "wbits": 2, "abits": None},
                ],
            }
        )
    )


def _recipe_typo(tmp: Path) -> None:
    (tmp / "r.toml").write_text('name = "r"\ndataset = "digits"\n[budget]\ntrails = 3\n')


def _recipe_wrong_type(tmp: Path) -> None:
    (tmp / "r.toml").write_text('name = "r"\n[budget]\ntrials = "many"\n')


# ------------------------------------------------------------------------------- issue 16
_LATIN1 = 'name = "caf\xe9"\n'.encode("latin-1")  # not UTF-8


def _latin1_files(tmp: Path) -> None:
    (tmp / "latin.toml").write_bytes(_LATIN1)
    (tmp / "latin.json").write_bytes(b'{"name": "caf\xe9", "layers": []}')


def _deep_json(tmp: Path) -> None:
    (tmp / "deep.json").write_text("[" * 100_000 + "]" * 100_000)


def _deep_toml(tmp: Path) -> None:
    (tmp / "deep.toml").write_text('name = "d"\nx = ' + "[" * 50_000 + "]" * 50_000 + "\n")


def _recipe_named_outside(tmp: Path) -> None:
    (tmp / "r.toml").write_text('name = "../../escaped"\n[budget]\ntrials = 1\n')


def _target_named_outside(tmp: Path) -> None:
    _target_missing_field(tmp)
    text = (tmp / "board.toml").read_text().replace('"my-board"', '"../../escaped"')
    (tmp / "board.toml").write_text(text + "dsp = 220\n")


def _crafted_study(tmp: Path) -> None:
    """A study whose stored target name would make `hwprune worker` write outside its tmp."""
    import optuna

    from hwprune.recipe import Recipe
    from hwprune.resources import resource_dir

    toml = (resource_dir("targets") / "pynq-z2.toml").read_text()
    study = optuna.create_study(storage=f"sqlite:///{tmp}/s.db", study_name="crafted")
    study.set_user_attr("recipe", Recipe().to_dict())
    study.set_user_attr("target", "../../../escaped")
    study.set_user_attr("target_toml", toml.replace('name = "pynq-z2"', ""))


def _checkpoint_with_code(tmp: Path) -> None:
    import torch

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {tmp}/pwned",))

    torch.save({"fc0.weight": torch.zeros(2), "evil": Evil()}, tmp / "evil.pt")


def _cyclic_onnx(tmp: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    inits = [helper.make_tensor(n, TensorProto.FLOAT, [], [v]) for n, v in ("s1", "z0", "b8")]
    q = helper.make_node(
        "Quant", ["x", "s1", "z0", "b8"], ["q"], domain="qonnx.custom_op.general", signed=0,
        narrow=0, rounding_mode="ROUND",
    )  # fmt: skip
    add = helper.make_node("Add", ["q", "y"], ["t"])  # y is made from t: a cycle
    relu = helper.make_node("Relu", ["t"], ["y"])
    graph = helper.make_graph([q, add, relu], "cyclic", [x], [y], initializer=inits)
    opsets = [helper.make_opsetid("", 13), helper.make_opsetid("qonnx.custom_op.general", 1)]
    onnx.save(helper.make_model(graph, opset_imports=opsets), tmp / "cyclic.onnx")


def _a_folder_named_toml(tmp: Path) -> None:
    (tmp / "dir.toml").mkdir()


def _qonnx_model(tmp: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from export_models import quant_model
    finally:
        sys.path.pop(0)
    from hwprune.export.qonnx import export_brevitas

    model, shape = quant_model("mlp-digits", steps=1)
    export_brevitas(model, (1, *shape), tmp / "m.onnx")


def _qonnx_model_and_readonly(tmp: Path) -> None:
    _qonnx_model(tmp)
    _readonly(tmp)


def _corrupt_run_json(tmp: Path) -> None:
    (tmp / "run").mkdir()
    (tmp / "run" / "run.json").write_text('{"study": ')


_NO_CODE = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}

# ------------------------------------------------------------------------------- the table

S = ("search", "--quiet", "--trials", "1", "--epochs", "1", "--final-epochs", "1", "--no-export")

CASES: list[Case] = [
    Case("unknown-target", (*S, "--target", "pynq-z3", "--out", "{tmp}/r"), r"pynq-z3"),
    Case(
        "recipe-field-typo-cli",
        (*S, "--set", "budget.trails=3", "--out", "{tmp}/r"),
        r"budget\.trails",
    ),
    Case(
        "recipe-field-typo-file",
        (*S, "--recipe", "{tmp}/r.toml", "--out", "{tmp}/x"),
        r"trails",
        _recipe_typo,
    ),
    Case(
        "recipe-wrong-type",
        (*S, "--recipe", "{tmp}/r.toml", "--out", "{tmp}/x"),
        r"budget\.trials",
        _recipe_wrong_type,
    ),
    Case("wrong-type-flag", ("search", "--trials", "many"), r"trials"),
    Case("bits-out-of-range", (*S, "--wbits", "0,40", "--out", "{tmp}/r"), r"bits|wbits"),
    Case(
        "channel-floor-above-parent",
        (*S, "--set", "space.min_channels=4096", "--out", "{tmp}/r"),
        r"channel|min_channels",
    ),
    Case(
        "impossible-budget",
        ("search", "--trials", "2", "--target", "pynq-z1", "--max-lut", "50", "--out", "{tmp}/r"),
        r"lut|budget|fit|feasible",
        one_line=True,
    ),
    Case(
        "missing-dataset-files",
        ("data", "info", "mnist", "--data-dir", "{tmp}/nothing"),
        r"not found|missing|no such",
    ),
    Case(
        "corrupt-idx",
        ("data", "info", "mnist", "--data-dir", "{tmp}/mnist"),
        r"idx|corrupt|not an|invalid|read",
        _corrupt_idx,
    ),
    Case(
        "corrupt-pickle",
        ("data", "info", "cifar10", "--data-dir", "{tmp}/cifar"),
        r"pickle|corrupt|cifar|read",
        _corrupt_pickle,
    ),
    Case("unknown-dataset", (*S, "--dataset", "imagenet-99", "--out", "{tmp}/r"), r"imagenet-99"),
    Case("unreadable-onnx", ("estimate", "{tmp}/broken.onnx"), r"broken\.onnx|onnx", _bad_onnx),
    Case("non-qonnx-onnx", ("estimate", "{tmp}/plain.onnx"), r"qonnx|quant", _plain_onnx),
    Case("unsupported-qonnx-op", ("estimate", "{tmp}/lrn.onnx"), r"LRN", _unsupported_qonnx),
    Case(
        "user-model-does-not-import",
        (*S, "--model", "no_such_pkg.nets:build", "--out", "{tmp}/r"),
        r"no_such_pkg",
    ),
    Case(
        "checkpoint-mismatch",
        (*S, "--set", "checkpoint={tmp}/wrong.pt", "--out", "{tmp}/r"),
        r"checkpoint|wrong\.pt",
        _bad_checkpoint,
    ),
    Case(
        "checkpoint-mismatch-user-model",
        (*S, "--model", "mynets:build", "--set", "checkpoint={tmp}/wrong.pt", "--out", "{tmp}/r"),
        r"checkpoint|wrong\.pt",
        _user_model_and_bad_checkpoint,
    ),
    Case(
        "run-folder-of-another-study",
        (*S, "--out", "{tmp}/run"),
        r"someone-else|study",
        _other_study,
    ),
    Case(
        "storage-cannot-connect",
        (*S, "--storage", "postgresql://nobody:pw@127.0.0.1:9/none", "--out", "{tmp}/r"),
        r"storage|connect",
    ),
    Case("trials-zero", ("search", "--trials", "0", "--out", "{tmp}/r"), r"trials"),
    Case(
        "export-run-with-model-only-flag",
        ("export", "--run", "{tmp}/r", "--fps", "10"),
        r"--fps.*MODEL\.onnx",
    ),
    Case("negative-fps", ("search", "--min-fps", "-5", "--out", "{tmp}/r"), r"fps"),
    Case("unknown-rtl-level", ("search", "--rtl", "bitstream", "--out", "{tmp}/r"), r"rtl"),
    Case(
        "unknown-selection-rule",
        ("search", "--select", "best-one", "--out", "{tmp}/r"),
        r"best-one|select",
    ),
    Case(
        "target-file-missing-field",
        ("targets", "--target-file", "{tmp}/board.toml"),
        r"dsp",
        _target_missing_field,
    ),
    Case(
        "write-protected-output",
        ("report", "{run}", "--out", "{ro}"),
        r"write|permission|cannot create|not permitted",
        _readonly,
    ),
    Case("output-path-is-a-file", (*S, "--out", "{tmp}/afile"), r"afile|file", _a_file),
    Case("report-of-a-file", ("report", "{tmp}/afile"), r"afile|file", _a_file),
    Case(
        "report-not-a-run-folder", ("report", "{tmp}/notarun"), r"run folder|study", _empty_folder
    ),
    Case(
        "report-corrupt-study-db", ("report", "{tmp}/run"), r"study|storage|database", _corrupt_db
    ),
    Case(
        "compare-missing-run", ("compare", "{tmp}/gone", "--out", "{tmp}/c"), r"gone|does not exist"
    ),
    Case(
        "estimate-negative-fps", ("estimate", "{tmp}/d.json", "--fps", "-5"), r"fps", _design_json
    ),
    Case(
        "estimate-unknown-target",
        ("estimate", "{tmp}/d.json", "--target", "zcu999"),
        r"zcu999",
        _design_json,
    ),
    Case("estimate-unknown-op", ("estimate", "{tmp}/d.json"), r"lstm", _design_bad_op),
    Case("export-run-missing", ("export", "--run", "{tmp}/gone"), r"gone"),
    Case(
        "export-unreadable-onnx",
        ("export", "{tmp}/broken.onnx", "--out", "{tmp}/o"),
        r"broken\.onnx|onnx",
        _bad_onnx,
    ),
    # ---- issue 16: names that would become paths outside the intended folder
    Case(
        "study-name-climbs-out",
        (*S, "--study-name", "../../escaped"),
        r"study name",
        absent=("../escaped", "../../escaped", "runs"),
    ),
    Case(
        "study-name-absolute",
        (*S, "--study-name", "{tmp}/abs/escaped"),
        r"study name",
        absent=("abs", "runs"),
    ),
    Case(
        "recipe-name-climbs-out",
        ("search", "--quiet", "--recipe", "{tmp}/r.toml"),
        r"recipe name",
        _recipe_named_outside,
        absent=("runs", "../escaped-pynq-z2"),
    ),
    Case(
        "target-name-climbs-out",
        ("targets", "--target-file", "{tmp}/board.toml"),
        r"target name",
        _target_named_outside,
    ),
    Case(
        "target-argument-climbs-out",
        (*S, "--target", "../no/such/board", "--out", "{tmp}/r"),
        r"unknown target",
    ),
    Case(
        "worker-of-a-study-with-a-crafted-target-name",
        ("worker", "--storage", "sqlite:///{tmp}/s.db", "--study", "crafted", "--out", "{tmp}/w"),
        r"target name",
        _crafted_study,
    ),
    # ---- a checkpoint with code in it is refused, even when torch is told to allow it
    Case(
        "checkpoint-with-code",
        (*S, "--set", "checkpoint={tmp}/evil.pt", "--out", "{tmp}/r"),
        r"evil\.pt",
        _checkpoint_with_code,
        env=_NO_CODE,
        absent=("pwned",),
    ),
    # ---- passwords never printed, in any form
    Case(
        "storage-password-with-slash",
        (*S, "--storage", "postgresql://hw:se/cret@127.0.0.1:9/none", "--out", "{tmp}/r"),
        r"storage|connect",
        forbid=("se/cret", "cret@"),
    ),
    Case(
        "storage-password-in-query",
        (
            *S,
            "--storage",
            "postgresql://hw@127.0.0.1:9/none?password=topsecret",
            "--out",
            "{tmp}/r",
        ),
        r"storage|connect",
        forbid=("topsecret",),
    ),
    # ---- malformed or absurd input
    Case("negative-seed", (*S, "--seed", "-1", "--out", "{tmp}/r"), r"seed"),
    Case(
        "trial-count-overflow",
        ("search", "--trials", "99999999999999999999999", "--out", "{tmp}/r"),
        r"trials",
    ),
    Case("absurd-width", (*S, "--set", "width_mult=1e9", "--out", "{tmp}/r"), r"width_mult"),
    Case(
        "sixteen-bit-head-weights",
        (*S, "--set", "space.head_wbits=16", "--out", "{tmp}/r"),
        r"head_wbits|bits",
    ),
    Case(
        "channel-step-above-parent",
        (*S, "--set", "space.channel_step=100000", "--out", "{tmp}/r"),
        r"channel_step",
    ),
    Case(
        "non-utf8-target-file",
        ("targets", "--target-file", "{tmp}/latin.toml"),
        r"UTF-8",
        _latin1_files,
    ),
    Case(
        "non-utf8-recipe-file",
        (*S, "--recipe", "{tmp}/latin.toml", "--out", "{tmp}/r"),
        r"UTF-8",
        _latin1_files,
    ),
    Case("non-utf8-design-file", ("estimate", "{tmp}/latin.json"), r"UTF-8", _latin1_files),
    Case("deeply-nested-design", ("estimate", "{tmp}/deep.json"), r"nested|deep", _deep_json),
    Case(
        "deeply-nested-recipe",
        (*S, "--recipe", "{tmp}/deep.toml", "--out", "{tmp}/r"),
        r"nested|TOML|deep",
        _deep_toml,
    ),
    Case("cyclic-onnx-graph", ("estimate", "{tmp}/cyclic.onnx"), r"cycle", _cyclic_onnx),
    Case(
        "recipe-is-a-folder",
        (*S, "--recipe", "{tmp}/dir.toml", "--out", "{tmp}/r"),
        r"recipe|dir\.toml",
        _a_folder_named_toml,
    ),
    Case(
        "export-into-read-only-parent",
        ("export", "{tmp}/m.onnx", "--no-csim", "--out", "{ro}"),
        r"write|permission|not permitted|read-only",
        _qonnx_model_and_readonly,
    ),
    Case("output-name-too-long", (*S, "--out", "{tmp}/" + "a" * 300), r"too long|a{20}"),
    Case(
        "export-run-with-corrupt-run-json",
        ("export", "--run", "{tmp}/run"),
        r"run\.json|run file|JSON",
        _corrupt_run_json,
    ),
]


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run folder for the report cases (same writer as tests/test_report.py)."""
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from test_report import make_run
    finally:
        sys.path.pop(0)
    return make_run(tmp_path_factory.mktemp("good") / "run", n_trials=4)


def _expand(arg: str, tmp: Path, run: Path) -> str:
    return arg.replace("{tmp}", str(tmp)).replace("{run}", str(run)).replace("{ro}", _ro_path(tmp))


def test_enough_cases() -> None:
    assert len(CASES) >= 55
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, good_run: Path) -> None:
    if case.setup is not None:
        case.setup(tmp_path)
    args = [_expand(a, tmp_path, good_run) for a in case.args]
    repo = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "HWPRUNE_NO_DOWNLOAD": "1",
        **case.env,
        "PYTHONPATH": os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p),
    }
    around = sorted(p.name for p in tmp_path.parent.iterdir())
    res = subprocess.run(
        [sys.executable, "-m", "hwprune", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    err = res.stderr.strip()
    # nothing written outside the case's folder, nothing that should not be there
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == around, f"{case.id}: wrote outside"
    for rel in case.absent:
        assert not (tmp_path / rel).exists(), f"{case.id}: {rel} was created"
    for secret in case.forbid:
        assert secret not in res.stderr + res.stdout, f"{case.id}: {secret!r} was printed"
    assert "Traceback" not in res.stderr, f"{case.id}: traceback\n{res.stderr[-3000:]}"
    assert res.returncode == 2, f"{case.id}: exit {res.returncode}\n{res.stderr[-3000:]}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    # log lines (hwprune: INFO/WARNING) may precede the error; the error itself is one line
    errors = [ln for ln in lines if ln.startswith("hwprune: error:")]
    assert len(errors) == 1, f"{case.id}: expected one error line, got\n{err}"
    assert lines[-1] == errors[0], f"{case.id}: the error must be the last line\n{err}"
    if case.one_line:
        assert len(lines) == 1 and not res.stdout.strip(), f"{case.id}: more than the error\n{err}"
    msg = errors[0][len("hwprune: error:") :].strip()
    assert re.search(case.problem, msg, re.IGNORECASE), f"{case.id}: problem not named: {msg}"
    assert FIX_WORDS.search(msg), f"{case.id}: no fix suggested: {msg}"
    assert len(msg) < 400, f"{case.id}: message too long: {msg}"


@pytest.mark.slow
def test_interrupted_search_keeps_finished_trials(tmp_path: Path) -> None:
    """Ctrl-C in the middle of a search: exit 2, one line, finished trials stay in the study,
    and the same command resumes from them."""
    import signal
    import sqlite3
    import time

    repo = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": repo}
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "hwprune",
        "search",
        "--quiet",
        "--trials",
        "40",
        "--epochs",
        "1",
        "--final-epochs",
        "1",
        "--no-export",
        "--set",
        "parent.epochs=2",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )

    def complete() -> int:
        db = out / "study.db"
        if not db.exists():
            return 0
        try:
            with sqlite3.connect(db, timeout=5) as con:
                return con.execute(
                    "SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'"
                ).fetchone()[0]
        except sqlite3.Error:
            return 0

    deadline = time.monotonic() + 180
    while complete() < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.3)
    assert proc.poll() is None, f"search ended early:\n{proc.stderr.read()[-3000:]}"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("hwprune: error:") and "interrupt" in last.lower(), err[-2000:]
    kept = complete()
    assert kept >= 2
    # resuming with a smaller budget finishes without running new trials for the kept ones
    res = subprocess.run(
        [*cmd[:6], str(kept), *cmd[7:]],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert complete() == kept
