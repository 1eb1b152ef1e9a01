"""Measured targets: time layers on the local device, fit the latency model, write a target file.

``hwprune calibrate --device cpu`` sweeps conv, fc and max-pool shapes (alone and stacked),
times each small network on this machine (onnxruntime on CPU, torch + CUDA events on a GPU;
warm-up runs, then the median of many runs), fits the parameters of the roofline model in
:mod:`hwprune.cost.gpu` (peak throughput, DRAM and cache bandwidth, per-kernel and per-inference
overhead, the two shape-efficiency half points and the channel alignment) by least squares on
log latency, and writes a ``kind = "gpu"`` target TOML that :func:`hwprune.targets.load_target`
reads back. :func:`measure_latency_us` is also what ``hwprune search --measure`` calls.

Example:
    >>> from hwprune.calibrate import calibrate
    >>> result = calibrate(device="cpu", out="targets/cpu-local.toml", quick=True)  # doctest: +SKIP
    >>> result.target.device, result.median_abs_error < 0.2                        # doctest: +SKIP
    ('cpu', True)
"""

from __future__ import annotations

from hwprune.calibrate.fit import FitReport, fit_target, target_toml
from hwprune.calibrate.measure import (
    _fold_bn,
    measure_for_target,
    measure_latency_us,
    onnx_bytes,
    torch_model_from_works,
)
from hwprune.calibrate.run import (
    CalibrationResult,
    calibrate,
    check_target_file,
    local_cache_mb,
    local_memory_mb,
)
from hwprune.calibrate.sweep import Measurement, run_sweep, sweep_designs

__all__ = [
    "CalibrationResult",
    "FitReport",
    "Measurement",
    "_fold_bn",
    "calibrate",
    "check_target_file",
    "fit_target",
    "local_cache_mb",
    "local_memory_mb",
    "measure_for_target",
    "measure_latency_us",
    "onnx_bytes",
    "run_sweep",
    "sweep_designs",
    "target_toml",
    "torch_model_from_works",
]
