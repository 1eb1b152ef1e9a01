"""The fit: least squares (on log latency) of the parameters of the one latency model,
:func:`hwprune.cost.gpu.kernel_us`, to measured latencies; the fitted target as TOML."""

from __future__ import annotations

import logging
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from hwprune.calibrate.sweep import Measurement
from hwprune.cost.gpu import (
    PRECISION_BYTES,
    GpuTarget,
    LayerWork,
    _cached_fraction,
    estimate_works,
    gpu_target_from_dict,
    kernel_launch_us,
    kernel_us,
    layer_precision,
    layer_works,
    mac_shape,
)
from hwprune.cost.gpu_target import _FLOAT_KEYS
from hwprune.errors import ConfigError

log = logging.getLogger(__name__)

_ALIGN_CHOICES = (1, 4, 8, 16)

# -- the fit -----------------------------------------------------------------------------------
#: not fitted: the efficiencies are 1 (folded into the fitted peaks), the sizes are given
_NOT_FITTED = ("memory_eff", "cache_mb", "memory_mb", "compute_eff")
#: the fitted parameters, in the GPU model's order (mem_bw_gbps, cache_bw_gbps, launch_us, ...)
_PARAMS = tuple(k for k in _FLOAT_KEYS if k not in _NOT_FITTED)


@dataclass(frozen=True)
class FitReport:
    """How well the fitted model reproduces the sweep it was fitted on."""

    points: int
    channel_align: int
    median_abs_error: float
    within_10: float
    within_20: float
    rms_log_error: float


class _Features:
    """The sweep's kernels as arrays, so the fit evaluates the model without Python loops."""

    def __init__(
        self,
        works_per_design: Sequence[Sequence[LayerWork]],
        precisions: Sequence[str],
        target_precisions: tuple[str, ...],
        batch: int = 1,
    ) -> None:
        rows = [(d, w) for d, ws in enumerate(works_per_design) for w in ws]
        self.n_designs = len(works_per_design)
        self.design = np.array([d for d, _ in rows])
        self.compute = np.array([w.op in ("conv", "fc") for _, w in rows])
        self.conv = np.array([w.op == "conv" for _, w in rows])
        self.prec = np.array([precisions[d] for d, _ in rows])
        self.prec_index = np.array([target_precisions.index(p) for p in self.prec])
        nbytes = np.array([PRECISION_BYTES[p] for p in self.prec], dtype=float)
        self.works = [w for _, w in rows]
        self.batch = batch
        acts = np.array([w.act_elems for w in self.works])
        weights = np.array([w.weights for w in self.works], dtype=float)
        self.bytes = weights * nbytes + batch * acts * nbytes
        ws = np.zeros(self.n_designs)
        np.add.at(ws, self.design, weights * nbytes)
        peak = np.zeros(self.n_designs)
        np.maximum.at(peak, self.design, batch * acts * nbytes)
        #: working set of each row's network (all weights + largest activation pair)
        self.working_set = (ws + peak)[self.design]
        self.in_elems = np.array([batch * math.prod(w.in_shape) for w in self.works], dtype=float)

    def shape_terms(self, align: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Output elements, padded reduction and padded output channels of every kernel
        (:func:`hwprune.cost.gpu.mac_shape`; 1 for a max-pool, which has none)."""
        par = np.ones(len(self.works))
        red = np.ones(len(self.works))
        outc = np.ones(len(self.works))
        for i, w in enumerate(self.works):
            if w.op in ("conv", "fc"):
                par[i], red[i], outc[i] = mac_shape(w, align, self.batch)
        return par, red, outc

    def predict(
        self, target: GpuTarget, peaks: np.ndarray, terms: tuple[np.ndarray, ...]
    ) -> np.ndarray:
        """Latency of every design under ``target`` (its peaks per precision ``peaks``):
        :func:`hwprune.cost.gpu.kernel_us` over all kernels at once, summed per design."""
        par, red, outc = terms
        _, _, per_layer = kernel_us(
            target,
            mac=self.compute,
            par=par,
            red=red,
            out=outc,
            pool_ops=self.in_elems,
            peak_tops=peaks[self.prec_index],
            nbytes=self.bytes,
            cached_fraction=_cached_fraction(self.working_set, target),
            launch=kernel_launch_us(target, self.conv, self.compute),
        )
        per_design = np.bincount(self.design, weights=per_layer, minlength=self.n_designs)
        return target.fixed_us + per_design


def fit_target(
    measurements: Sequence[Measurement],
    name: str,
    device: str,
    precisions: Sequence[str] = ("fp32",),
    cache_mb: float = 0.0,
    memory_mb: float = math.inf,
    threads: int | None = None,
    description: str = "",
) -> tuple[GpuTarget, FitReport]:
    """Least-squares fit (on log latency) of the model's parameters to ``measurements``.

    Fitted: peak throughput per precision, DRAM and cache bandwidth, per-kernel (fc, conv and
    max-pool separately) and per-inference overhead, the parallelism and reduction half
    points; the channel alignment is chosen among 1/4/8/16 by the best fit. ``compute_eff``
    and ``memory_eff`` are 1 (they are folded into the fitted peaks). Raises
    :class:`ConfigError` with fewer than 12 points.
    """
    from scipy.optimize import least_squares

    if len(measurements) < 12:
        raise ConfigError(f"calibration needs at least 12 measurements, got {len(measurements)}")
    precisions = tuple(p for p in ("int8", "fp16", "fp32") if p in precisions)
    probe = gpu_target_from_dict(
        {
            "name": name,
            "precisions": list(precisions),
            "mem_bw_gbps": 1.0,
            "peak_tops": {p: 1.0 for p in precisions},
        }
    )
    works = [layer_works(m.design) for m in measurements]
    layer_prec = [layer_precision(ws[0], probe) if ws else precisions[-1] for ws in works]
    feats = _Features(works, layer_prec, precisions)
    measured = np.array([m.measured_us for m in measurements])
    n_peaks = len(precisions)
    if device == "cpu":
        x0 = [0.1] * n_peaks + [20.0, 100.0, 1.0, 3.0, 100.0, 8.0, 10.0, 2.0, 1.0, 1.0]
    else:
        x0 = [10.0] * n_peaks + [500.0, 2000.0, 5.0, 10.0, 1e5, 16.0, 32.0, 2.0, 5.0, 5.0]
    best: tuple[float, int, np.ndarray] | None = None
    for align in _ALIGN_CHOICES:
        terms = feats.shape_terms(align)

        def resid(logt: np.ndarray, terms: tuple = terms) -> np.ndarray:
            theta = np.exp(logt)
            values = dict(zip(_PARAMS, (float(v) for v in theta[n_peaks:]), strict=True))
            trial = _replace(probe, cache_mb=float(cache_mb), **values)
            pred = feats.predict(trial, theta[:n_peaks], terms)
            return np.log(pred) - np.log(measured)

        for scale in (1.0, 0.2, 5.0):
            start = np.log(np.array(x0) * scale)
            sol = least_squares(
                resid,
                start,
                loss="soft_l1",
                f_scale=0.1,
                bounds=(np.full(len(start), -12.0), np.full(len(start), 16.0)),
            )
            cost = float(sol.cost)  # robust (soft-L1) sum over all points
            if best is None or cost < best[0]:
                best = (cost, align, sol.x)
    assert best is not None
    _, align, logt = best
    theta = np.exp(logt)
    values = dict(zip(_PARAMS, (float(v) for v in theta[n_peaks:]), strict=True))
    target = gpu_target_from_dict(
        {
            "name": name,
            "description": description,
            "precisions": list(precisions),
            "peak_tops": {p: float(theta[i]) for i, p in enumerate(precisions)},
            "channel_align": {p: align for p in precisions},
            "cache_mb": float(cache_mb),
            "memory_mb": float(memory_mb) if math.isfinite(memory_mb) else 0.0,
            "device": device,
            **({"threads": threads} if threads is not None else {}),
            "calibrated": True,
            **values,
        }
    )
    if not math.isfinite(memory_mb):
        target = _replace(target, memory_mb=math.inf)
    pred = np.array([estimate_works(ws, target).latency_us for ws in works])
    report = _error_report(pred, measured, align)
    return target, report


def _replace(target: GpuTarget, **changes: Any) -> GpuTarget:
    from dataclasses import replace

    return replace(target, **changes)


def _error_report(pred: np.ndarray, measured: np.ndarray, align: int) -> FitReport:
    rel = np.abs(pred / measured - 1.0)
    return FitReport(
        points=len(measured),
        channel_align=align,
        median_abs_error=float(np.median(rel)),
        within_10=float(np.mean(rel <= 0.10)),
        within_20=float(np.mean(rel <= 0.20)),
        rms_log_error=float(np.sqrt(np.mean(np.log(pred / measured) ** 2))),
    )


# -- the target file ---------------------------------------------------------------------------
def target_toml(target: GpuTarget, report: FitReport | None = None, note: str = "") -> str:
    """TOML text of a calibrated target, with how and where it was measured in comments.

    Example:
        >>> from hwprune.cost.gpu import gpu_target_from_dict
        >>> t = gpu_target_from_dict({"name": "x", "precisions": ["fp32"],
        ...     "peak_tops": {"fp32": 0.1}, "mem_bw_gbps": 20})
        >>> 'kind = "gpu"' in target_toml(t)
        True
    """

    def num(v: float) -> str:
        return repr(float(f"{v:.6g}"))

    lines = [
        f"# {target.name}: measured target written by `hwprune calibrate` on {date.today()}.",
        f"# Machine: {platform.machine()} {platform.processor() or ''} "
        f"({os.cpu_count()} logical CPUs), {platform.system()} {platform.release()}.",
    ]
    if note:
        lines.append(f"# {note}")
    if report is not None:
        lines.append(
            f"# Fit on {report.points} timed networks: median |error| "
            f"{report.median_abs_error:.1%}, {report.within_10:.0%} within +-10%, "
            f"{report.within_20:.0%} within +-20% (channel alignment {report.channel_align})."
        )
    lines.append("# Peaks and bandwidths are effective (fitted) values, not datasheet numbers.")
    lines += [
        f'name = "{target.name}"',
        'kind = "gpu"',
        f'description = "{target.description}"',
        f'device = "{target.device}"',
        "calibrated = true",
        "precisions = [" + ", ".join(f'"{p}"' for p in target.precisions) + "]",
    ]
    if target.threads is not None:
        lines.append(f"threads = {target.threads}")
    lines.append(
        "peak_tops = { " + ", ".join(f"{p} = {num(v)}" for p, v in target.peak_tops.items()) + " }"
    )
    lines.append(
        "channel_align = { "
        + ", ".join(f"{p} = {v}" for p, v in target.channel_align.items())
        + " }"
    )
    for key in (k for k in _FLOAT_KEYS if k != "memory_mb"):  # memory_mb: below, if finite
        if getattr(target, key) is not None:
            lines.append(f"{key} = {num(getattr(target, key))}")
    if math.isfinite(target.memory_mb):
        lines.append(f"memory_mb = {num(target.memory_mb)}")
    return "\n".join(lines) + "\n"
