"""``hwprune calibrate``: sweep, measure, fit and write a measured target file."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hwprune.calibrate.fit import FitReport, _replace, fit_target, target_toml
from hwprune.calibrate.sweep import Measurement, run_sweep, sweep_designs
from hwprune.cost.gpu import (
    GpuTarget,
)
from hwprune.errors import ConfigError, TargetError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrationResult:
    """What :func:`calibrate` produced."""

    target: GpuTarget
    report: FitReport
    path: Path | None
    measurements: tuple[Measurement, ...] = field(repr=False)
    seconds: float = 0.0


def local_cache_mb(device: str) -> float:
    """Per-core L2 size (cpu) or the GPU's L2 size, in MB; 0 when unknown."""
    if device == "cuda":
        import torch

        return torch.cuda.get_device_properties(0).L2_cache_size / 1e6
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for idx in sorted(base.glob("index*")):
        try:
            if (idx / "level").read_text().strip() == "2":
                size = (idx / "size").read_text().strip()
                mult = {"K": 1e3 * 1.024, "M": 1e6 * 1.048576}.get(size[-1], 1e-6)
                return float(size[:-1]) * mult / 1e6 if size[-1] in "KM" else float(size) / 1e6
        except OSError:
            continue
    return 0.0


def local_memory_mb(device: str) -> float:
    """Device memory (cuda) or physical RAM (cpu) in MB."""
    if device == "cuda":
        import torch

        return torch.cuda.get_device_properties(0).total_memory / 1e6
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e6
    except (ValueError, OSError, AttributeError):
        return math.inf


def _check_writable(path: Path) -> None:
    """ConfigError unless ``path`` can be written (its folder is created if needed)."""
    if path.is_dir():
        raise ConfigError(f"--out {path} is a folder; give a file name such as {path}/cpu.toml")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the folder of {path} ({exc.strerror}); choose another --out"
        ) from None
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise ConfigError(f"cannot write the target file {path}; choose another --out")


def calibrate(
    device: str = "cpu",
    out: str | Path | None = None,
    name: str | None = None,
    threads: int | None = 1,
    quick: bool = False,
    progress: Callable[[int, int], None] | None = None,
    min_time_s: float = 0.1,
) -> CalibrationResult:
    """Sweep, time, fit and (when ``out`` is given) write a measured target file.

    On ``cpu`` the sweep runs in onnxruntime with ``threads`` threads (recorded in the file,
    and used again by ``--measure``); on ``cuda`` it runs in torch at fp32 and fp16.

    Example:
        >>> res = calibrate("cpu", out="/tmp/cpu-local.toml", quick=True)  # doctest: +SKIP
        >>> res.target.name                                                 # doctest: +SKIP
        'cpu-local'
    """
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"unknown device {device!r}; use 'cpu' or 'cuda'")
    t0 = time.perf_counter()
    name = name or (Path(out).stem if out is not None else f"{device}-local")
    from hwprune.runfolder import safe_name

    safe_name(name, "target name", hint="pass a plain --name such as my-gpu")  # -> <name>.toml
    if out is not None:  # find an unwritable --out before minutes of measuring, not after
        _check_writable(Path(out))
    precisions = ("fp32",) if device == "cpu" else ("fp16", "fp32")
    designs: list[dict] = []
    for p in precisions:
        designs += sweep_designs(p, quick=quick)
    measurements = run_sweep(designs, device, threads, "fp32", progress, min_time_s)
    if device == "cpu":
        desc = f"measured: this CPU, onnxruntime fp32, {threads or 'default'} thread(s)"
    else:
        import torch

        desc = f"{torch.cuda.get_device_name(0)}, torch fp16/fp32 CUDA graphs (measured)"
    target, report = fit_target(
        measurements,
        name,
        device,
        precisions,
        cache_mb=local_cache_mb(device),
        memory_mb=local_memory_mb(device),
        threads=threads if device == "cpu" else None,
        description=desc,
    )
    path = None
    if out is not None:
        path = Path(out)
        text = target_toml(target, report)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:  # say where the fit went instead of losing it in a traceback
            fallback = Path.cwd() / f"{name}.toml"
            fallback.write_text(text, encoding="utf-8")
            raise ConfigError(
                f"cannot write {path} ({exc.strerror}); the calibrated target was saved as "
                f"{fallback} instead"
            ) from None
        target = _replace(target, source=str(path))
    log.info(
        "calibrated %s: median |error| %.1f%% on %d networks",
        name,
        100 * report.median_abs_error,
        report.points,
    )
    return CalibrationResult(target, report, path, tuple(measurements), time.perf_counter() - t0)


def check_target_file(path: str | Path) -> GpuTarget:
    """Read a calibrated target back (raises :class:`TargetError` when it is not one)."""
    from hwprune.cost.gpu import load_gpu_target

    target = load_gpu_target(path)
    if not target.calibrated:
        raise TargetError(f"{path} is not a calibrated target; run `hwprune calibrate`")
    return target
