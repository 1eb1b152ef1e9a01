"""The CLI answers fast, without torch, and turns user errors into one line + exit code 2."""

from __future__ import annotations

import subprocess
import sys

import hwprune


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hwprune", *args], capture_output=True, text=True, timeout=120
    )


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from hwprune.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('torch', 'brevitas', 'optuna', 'qonnx', 'onnx', 'sklearn')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "HEAVY []" in res.stdout
    assert "search" in res.stdout or "targets" in res.stdout


def test_version() -> None:
    res = run_cli("--version")
    assert res.returncode == 0
    assert res.stdout.strip() == f"hwprune {hwprune.__version__}"


def test_unknown_command_is_one_line_exit_2() -> None:
    res = run_cli("no-such-command")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("hwprune: error:")
    assert "Traceback" not in res.stderr


def test_search_objectives_and_selection_flags() -> None:
    """`--objectives` names resources; bad objectives and selection values are one line, exit 2."""
    res = run_cli("search", "--help")
    assert res.returncode == 0
    for word in ("--objectives", "--select-fps-within", "--select-min-accuracy", "min-resources"):
        assert word in res.stdout, word
    res = run_cli("search", "--objectives", "accuracy,luts", "--trials", "1")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "unknown objective 'luts'" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = run_cli("search", "--select-fps-within", "2", "--trials", "1")
    assert res.returncode == 2 and "select_fps_within" in res.stderr
    res = run_cli("search", "--select", "cheapest", "--trials", "1")
    assert res.returncode == 2 and "min-resources" in res.stderr
