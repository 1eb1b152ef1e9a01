"""The typed core passes mypy (issue 12: a type checker in CI on ir, cost, design, targets)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TYPED_CORE = ["hwprune/ir", "hwprune/cost", "hwprune/design.py", "hwprune/targets.py"]


@pytest.mark.slow
def test_typed_core_passes_mypy(tmp_path: Path) -> None:
    if shutil.which("mypy") is None and not _has_mypy():
        pytest.fail("mypy is not installed; it is part of the dev extra (pip install -e '.[dev]')")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), *TYPED_CORE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _has_mypy() -> bool:
    try:
        import mypy  # noqa: F401
    except ImportError:
        return False
    return True
