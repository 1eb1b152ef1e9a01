"""The wheel ships targets/, search/, hls_templates/, rtl_templates/; installed, finds them."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
    )
    (whl,) = out.glob("hwprune-*.whl")
    return whl


def test_wheel_contains_data_folders(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for kind in ("targets", "search", "hls_templates", "rtl_templates"):
        shipped = [n for n in names if n.startswith(f"hwprune/_data/{kind}/")]
        source = [p for p in (ROOT / kind).rglob("*") if p.is_file()]
        assert source, f"repository has no files in {kind}/"
        assert len(shipped) == len(source), f"{kind}: wheel has {shipped}, repo has {source}"


def test_wheel_contains_report_templates(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    folder = ROOT / "hwprune" / "report" / "templates"
    source = [p.relative_to(ROOT).as_posix() for p in folder.rglob("*") if p.is_file()]
    assert any(s.endswith("report.html.j2") for s in source)
    assert set(source) <= names, sorted(set(source) - names)


@pytest.mark.slow
def test_installed_wheel_finds_resources(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    code = (
        "from hwprune.resources import resource_dir\n"
        "import hwprune\n"
        "for k in ('targets', 'search', 'hls_templates', 'rtl_templates'):\n"
        "    d = resource_dir(k)\n"
        "    assert 'site-packages' in str(d), d\n"
        "    assert any(d.iterdir()), d\n"
        "print('ok')\n"
    )
    res = subprocess.run([py, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("Set up and run the tests", 1)[1]
    command = section.split("```bash", 1)[1].split("```", 1)[0].strip()
    assert "pytest" in command
    ci_lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines, f"{command!r} is not a line of .ci/run"
