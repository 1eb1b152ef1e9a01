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

import io
import logging
import math
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from hwprune.cost.gpu import (
    _CACHE_STEEPNESS,
    PRECISION_BYTES,
    GpuTarget,
    LayerWork,
    estimate_works,
    gpu_target_from_dict,
    layer_precision,
    layer_works,
)
from hwprune.errors import ConfigError, HwpruneError, TargetError

log = logging.getLogger(__name__)

_ALIGN_CHOICES = (1, 4, 8, 16)


# -- building a float network from kernels -----------------------------------------------------
def torch_model_from_works(works: Sequence[LayerWork]) -> Any:
    """A float ``nn.Sequential`` that runs ``works``: conv/fc -> BN -> ReLU, max-pool as listed.

    The last layer, when it is an fc, is a classifier head (no BN, no ReLU), as in every
    hwprune model. Shapes are read from the kernels (which come from the IR).

    Example:
        >>> from hwprune.cost.gpu import LayerWork
        >>> m = torch_model_from_works([LayerWork("fc", (64,), (10,))])
        >>> type(m[-1]).__name__
        'Linear'
    """
    from torch import nn

    mods: list[nn.Module] = []
    flat = False
    for i, w in enumerate(works):
        last = i == len(works) - 1
        if w.op == "conv":
            mods += [
                nn.Conv2d(
                    w.in_ch,
                    w.out_ch,
                    w.kernel,
                    stride=w.stride,
                    padding=w.pad,
                    groups=w.groups,
                    bias=False,
                ),
                nn.BatchNorm2d(w.out_ch),
                nn.ReLU(),
            ]
        elif w.op == "maxpool":
            mods.append(nn.MaxPool2d(w.kernel))
        elif w.op == "fc":
            if not flat:
                mods.append(nn.Flatten())
                flat = True
            mods.append(nn.Linear(w.in_ch, w.out_ch, bias=False))
            if not last:
                mods += [nn.BatchNorm1d(w.out_ch), nn.ReLU()]
        else:
            raise ConfigError(f"cannot build a torch layer for op {w.op!r}")
    model = nn.Sequential(*mods)
    _randomize_bn(model)
    return model.eval()


def _randomize_bn(model: Any) -> None:
    import torch

    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)


# -- measuring ---------------------------------------------------------------------------------
def onnx_bytes(model: Any, input_shape: Sequence[int], batch: int = 1) -> bytes:
    """Export a float torch model to ONNX (opset 17, legacy exporter) and return the bytes."""
    import torch

    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(
            model.eval(),
            torch.zeros(batch, *input_shape),
            buf,
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            opset_version=17,
        )
    return buf.getvalue()


def measure_latency_us(
    model: Any,
    input_shape: Sequence[int],
    device: str = "cpu",
    batch: int = 1,
    *,
    threads: int | None = 1,
    precision: str = "fp32",
    warmup: int = 10,
    min_runs: int = 20,
    max_runs: int = 2000,
    min_time_s: float = 0.1,
) -> float:
    """Median latency in microseconds of one inference of ``model`` on the local ``device``.

    ``model`` is a torch ``nn.Module``, an ONNX file path or ONNX bytes. On ``cpu`` it runs
    in onnxruntime (a torch model is exported first) with ``threads`` intra-op threads (None:
    onnxruntime's default); on ``cuda`` a torch model runs in torch with CUDA events (``precision``
    "fp16" runs it in half precision; BatchNorm is folded into the conv/fc first and the
    network is replayed as one captured CUDA graph, as an inference engine would) and an ONNX
    model in onnxruntime's CUDA provider. ``warmup`` runs
    are discarded, then at least ``min_runs`` and ``min_time_s`` of runs are timed.

    Example:
        >>> from torch import nn
        >>> us = measure_latency_us(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), (1, 8, 8))
        >>> 0 < us < 10_000
        True
    """
    if device == "cpu":
        return _measure_ort(
            model,
            input_shape,
            batch,
            threads,
            "CPUExecutionProvider",
            warmup,
            min_runs,
            max_runs,
            min_time_s,
        )
    if device == "cuda":
        if isinstance(model, (bytes, str, Path)):
            return _measure_ort(
                model,
                input_shape,
                batch,
                threads,
                "CUDAExecutionProvider",
                warmup,
                min_runs,
                max_runs,
                min_time_s,
            )
        return _measure_torch_cuda(
            model, input_shape, batch, precision, warmup, min_runs, max_runs, min_time_s
        )
    raise ConfigError(f"unknown device {device!r}; use 'cpu' or 'cuda'")


def measure_for_target(
    model: Any,
    input_shape: Sequence[int],
    target: GpuTarget,
    batch: int = 1,
    precision: str | None = None,
) -> float:
    """Time ``model`` the way ``target`` was calibrated (``hwprune search --measure``).

    Uses the target's ``device`` and ``threads``; ``precision`` defaults to the cheapest float
    precision the target has (fp16 on a GPU that has it, else fp32). Returns microseconds.

    Example:
        >>> from torch import nn
        >>> from hwprune.cost.gpu import gpu_target_from_dict
        >>> t = gpu_target_from_dict({"name": "c", "precisions": ["fp32"], "device": "cpu",
        ...     "peak_tops": {"fp32": 0.1}, "mem_bw_gbps": 20, "threads": 1})
        >>> measure_for_target(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), (1, 8, 8), t) > 0
        True
    """
    if precision is None:
        precision = "fp16" if target.device == "cuda" and "fp16" in target.precisions else "fp32"
    return measure_latency_us(
        model, input_shape, target.device, batch, threads=target.threads, precision=precision
    )


def _measure_ort(
    model: Any,
    input_shape: Sequence[int],
    batch: int,
    threads: int | None,
    provider: str,
    warmup: int,
    min_runs: int,
    max_runs: int,
    min_time_s: float,
) -> float:
    import onnxruntime as ort

    if isinstance(model, (str, Path)):
        data = Path(model).read_bytes()
    elif isinstance(model, bytes):
        data = model
    else:
        data = onnx_bytes(model, input_shape, batch)
    if provider not in ort.get_available_providers():
        raise HwpruneError(
            f"onnxruntime here has no {provider}; install onnxruntime-gpu to time ONNX on a GPU"
        )
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    sess = ort.InferenceSession(data, opts, providers=[provider])
    inp = sess.get_inputs()[0]
    dtype = np.float16 if "float16" in inp.type else np.float32
    x = np.random.default_rng(0).random((batch, *input_shape)).astype(dtype)
    feed = {inp.name: x}
    run = sess.run
    for _ in range(warmup):
        run(None, feed)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_runs and (
        len(times) < min_runs or time.perf_counter() - start < min_time_s
    ):
        t0 = time.perf_counter_ns()
        run(None, feed)
        times.append((time.perf_counter_ns() - t0) / 1e3)
    return float(statistics.median(times))


def _measure_torch_cuda(
    model: Any,
    input_shape: Sequence[int],
    batch: int,
    precision: str,
    warmup: int,
    min_runs: int,
    max_runs: int,
    min_time_s: float,
) -> float:
    import torch

    if not torch.cuda.is_available():
        raise HwpruneError("no CUDA device is visible to torch; use --device cpu or a CUDA build")
    dtype = {"fp32": torch.float32, "fp16": torch.float16}.get(precision)
    if dtype is None:
        raise ConfigError(f"torch timing on cuda supports fp32 and fp16, not {precision!r}")
    model = _fold_bn(model).to("cuda", dtype).eval()
    x = torch.rand(batch, *input_shape, device="cuda", dtype=dtype)
    times: list[float] = []
    with torch.inference_mode():
        for _ in range(warmup):
            model(x)
        torch.cuda.synchronize()
        run = _cuda_graph_replay(model, x)
        start = time.perf_counter()
        while len(times) < max_runs and (
            len(times) < min_runs or time.perf_counter() - start < min_time_s
        ):
            t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            t0.record()
            run()
            t1.record()
            t1.synchronize()
            times.append(t0.elapsed_time(t1) * 1e3)
    return float(statistics.median(times))


def _cuda_graph_replay(model: Any, x: Any) -> Callable[[], Any]:
    """A function that runs ``model(x)`` as one captured CUDA graph (eager when capture fails).

    An inference engine (TensorRT, onnxruntime with CUDA graphs) launches a small network's
    kernels back to back; timing eager PyTorch instead would measure its per-op CPU dispatch
    (about 10 us an op on a virtual machine, seen on an H100), not the GPU.
    """
    import torch

    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                model(x)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            model(x)
        graph.replay()
        torch.cuda.synchronize()
    except Exception as exc:  # noqa: BLE001  (an op that cannot be captured: time it eagerly)
        log.info("CUDA graph capture failed (%s); timing eager execution", exc)
        torch.cuda.synchronize()
        return lambda: model(x)
    return graph.replay


def _fold_bn(model: Any) -> Any:
    """Copy of a Sequential-like model with each BatchNorm folded into the conv/fc before it."""
    import copy

    import torch
    from torch import nn

    model = copy.deepcopy(model).eval()

    def fold(seq: nn.Module) -> None:
        names = list(seq._modules)
        for a, b in zip(names[:-1], names[1:], strict=True):
            prev, bn = seq._modules[a], seq._modules[b]
            if isinstance(bn, (nn.BatchNorm1d, nn.BatchNorm2d)) and isinstance(
                prev, (nn.Conv2d, nn.Linear)
            ):
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                shape = (-1,) + (1,) * (prev.weight.dim() - 1)
                with torch.no_grad():
                    prev.weight.mul_(scale.reshape(shape))
                    bias = bn.bias - bn.running_mean * scale
                    if prev.bias is not None:
                        bias = bias + prev.bias * scale
                    prev.bias = nn.Parameter(bias)
                seq._modules[b] = nn.Identity()
        for child in seq.children():
            fold(child)

    fold(model)
    return model


# -- the sweep ---------------------------------------------------------------------------------
def sweep_designs(precision: str = "fp32", quick: bool = False, seed: int = 0) -> list[dict]:
    """Small networks whose timings pin the model's parameters down.

    Single fc layers over a grid of input/output sizes, fc stacks (to separate per-kernel from
    per-inference overhead), single 3x3 (and some 1x1/5x5) convolutions over channel counts
    and feature-map sizes, conv + max-pool pairs and conv stacks (8x8 and 32x32 inputs, random
    widths). ``precision`` "fp16" marks every layer 16-bit (for a GPU's half-precision sweep).
    ``quick`` halves the sweep.

    Example:
        >>> designs = sweep_designs(quick=True)
        >>> len(designs) > 30, designs[0]["layers"][0]["op"]
        (True, 'fc')
    """
    if precision not in ("fp32", "fp16"):
        raise ConfigError(f"a sweep runs at fp32 or fp16, not {precision!r}")
    bits = None if precision == "fp32" else 16
    in_bits = 32 if precision == "fp32" else 16
    rng = np.random.default_rng(seed)

    def design(shape: Sequence[int], layers: list[dict]) -> dict:
        for lay in layers:
            if lay["op"] != "maxpool":
                lay["wbits"], lay["abits"] = bits, bits
        return {"input": {"shape": list(shape), "bits": in_bits}, "layers": layers}

    out: list[dict] = []
    fc_in = [64, 256, 784, 1024, 2048, 3072]
    fc_out = [10, 64, 256, 1024]
    for n_in in fc_in:
        for n_out in fc_out:
            out.append(design((n_in, 1, 1), [{"op": "fc", "out": n_out}]))
    for width in (32, 128, 512, 1024):
        for depth in (2, 3, 5):
            layers = [{"op": "fc", "out": width} for _ in range(depth - 1)] + [
                {"op": "fc", "out": 10}
            ]
            out.append(design((256, 1, 1), layers))
    convs = [
        (cin, cout, hw, 3)
        for cin in (1, 3, 8, 16, 32, 64, 128)
        for cout in (8, 16, 32, 64, 128)
        for hw in (8, 16, 32)
        if cin * cout * hw * hw <= 64 * 64 * 32 * 32
    ]
    pick = rng.choice(len(convs), size=min(len(convs), 48), replace=False)
    for i in sorted(pick):
        cin, cout, hw, k = convs[i]
        out.append(design((cin, hw, hw), [{"op": "conv", "out_ch": cout, "kernel": k}]))
    for cin, cout, hw, k in [(16, 32, 16, 1), (64, 64, 16, 1), (3, 16, 32, 5), (32, 32, 12, 5)]:
        out.append(design((cin, hw, hw), [{"op": "conv", "out_ch": cout, "kernel": k}]))
    for cin, cout, hw in [(3, 32, 32), (32, 64, 16), (16, 16, 8), (64, 128, 12)]:
        out.append(
            design(
                (cin, hw, hw),
                [
                    {"op": "conv", "out_ch": cout, "kernel": 3},
                    {"op": "maxpool", "kernel": 2},
                ],
            )
        )
    for c, hw in [(16, 8), (32, 16), (64, 28), (128, 16)]:
        out.append(
            design(
                (c, hw, hw),
                [
                    {"op": "conv", "out_ch": c, "kernel": 1},
                    {"op": "maxpool", "kernel": 2},
                ],
            )
        )
    for w, hw in [(16, 16), (32, 32), (64, 16)]:  # CNV-style stacks: cache reuse across layers
        out.append(
            design(
                (3, hw, hw),
                [
                    {"op": "conv", "out_ch": w, "kernel": 3, "pad": 1},
                    {"op": "conv", "out_ch": w, "kernel": 3, "pad": 1},
                    {"op": "maxpool", "kernel": 2},
                    {"op": "conv", "out_ch": 2 * w, "kernel": 3, "pad": 1},
                    {"op": "fc", "out": 10},
                ],
            )
        )
    # deeper conv stacks with random widths (conv kernels behave differently in a chain than
    # alone: layout reorders, padding, the next layer's cache state)
    widths = (8, 16, 32, 64, 128)
    for _ in range(6):
        a, b, c, f = (int(rng.choice(widths)) for _ in range(4))
        out.append(
            design(
                (1, 8, 8),
                [
                    {"op": "conv", "out_ch": a, "kernel": 3, "pad": 1},
                    {"op": "conv", "out_ch": b, "kernel": 3, "pad": 1},
                    {"op": "maxpool", "kernel": 2},
                    {"op": "conv", "out_ch": c, "kernel": 3, "pad": 1},
                    {"op": "maxpool", "kernel": 2},
                    {"op": "fc", "out": 4 * f},
                    {"op": "fc", "out": 10},
                ],
            )
        )
    for _ in range(4):
        a, b, c, f = (int(rng.choice(widths[:4])) for _ in range(4))
        out.append(
            design(
                (3, 32, 32),
                [
                    {"op": "conv", "out_ch": a, "kernel": 3},
                    {"op": "conv", "out_ch": a, "kernel": 3},
                    {"op": "maxpool", "kernel": 2},
                    {"op": "conv", "out_ch": b, "kernel": 3},
                    {"op": "conv", "out_ch": b, "kernel": 3},
                    {"op": "maxpool", "kernel": 2},
                    {"op": "conv", "out_ch": c, "kernel": 3},
                    {"op": "conv", "out_ch": c, "kernel": 3},
                    {"op": "fc", "out": 8 * f},
                    {"op": "fc", "out": 10},
                ],
            )
        )
    if quick:
        out = out[::2]
    return out


@dataclass(frozen=True)
class Measurement:
    """One timed network: its design and the median measured latency (us)."""

    design: dict
    measured_us: float


def run_sweep(
    designs: Sequence[Mapping[str, Any]],
    device: str = "cpu",
    threads: int | None = 1,
    precision: str = "fp32",
    progress: Callable[[int, int], None] | None = None,
    min_time_s: float = 0.1,
    rounds: int = 2,
) -> list[Measurement]:
    """Build and time every design on ``device``; ``progress(i, n)`` after each timing.

    The sweep is timed ``rounds`` times (each round visits every design once) and each
    design keeps its smallest median: a burst of load from other processes during one
    round does not skew the fit. On ``cpu`` each design is exported to ONNX once.
    """
    import torch

    torch.manual_seed(0)
    models: list[Any] = []
    for d in designs:
        model = torch_model_from_works(layer_works(d))
        if device == "cpu":
            model = onnx_bytes(model, tuple(d["input"]["shape"]))
        models.append(model)
    best = [math.inf] * len(designs)
    total = rounds * len(designs)
    for r in range(rounds):
        for i, (d, model) in enumerate(zip(designs, models, strict=True)):
            us = measure_latency_us(
                model,
                tuple(d["input"]["shape"]),
                device,
                threads=threads,
                precision=_design_precision(d) if device == "cuda" else precision,
                min_time_s=min_time_s,
            )
            best[i] = min(best[i], us)
            if progress is not None:
                progress(r * len(designs) + i + 1, total)
    return [Measurement(dict(d), us) for d, us in zip(designs, best, strict=True)]


def _design_precision(design: Mapping[str, Any]) -> str:
    return "fp16" if design["input"].get("bits") == 16 else "fp32"


# -- the fit -----------------------------------------------------------------------------------
_PARAMS = (
    "mem_bw_gbps",
    "cache_bw_gbps",
    "launch_us",
    "fixed_us",
    "parallel_half",
    "channel_half",
    "reduce_half",
    "pool_cost",
    "conv_launch_us",
    "pool_launch_us",
)


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
        acts = np.array([math.prod(w.in_shape) + math.prod(w.out_shape) for w in self.works])
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
        par = np.zeros(len(self.works))
        red = np.zeros(len(self.works))
        outc = np.ones(len(self.works))
        for i, w in enumerate(self.works):
            if w.op not in ("conv", "fc"):
                continue
            a = align
            out_pad = -(-w.out_ch // a) * a
            if w.op == "fc":
                red[i] = -(-w.in_ch // a) * a
            elif w.groups == 1:
                red[i] = -(-w.in_ch // a) * a * w.kernel * w.kernel
            else:
                red[i] = w.reduce_len
            par[i] = self.batch * w.out_pixels * out_pad
            outc[i] = out_pad
        return par, red, outc

    def predict(
        self,
        theta: np.ndarray,
        terms: tuple[np.ndarray, np.ndarray, np.ndarray],
        cache_mb: float,
        n_peaks: int,
    ) -> np.ndarray:
        par, red, outc = terms
        peaks = theta[:n_peaks]
        dram, cache_bw, launch, fixed, ph, ch, rh, pool, conv_launch, pool_launch = theta[n_peaks:]
        peak = peaks[self.prec_index] * 1e6  # ops per us
        tc = np.where(
            self.compute,
            2.0 * (par + ph) * (red + rh) * (outc + ch) / (outc * peak),
            pool * self.in_elems / peak,
        )
        frac = (
            1.0 / (1.0 + (self.working_set / (cache_mb * 1e6)) ** _CACHE_STEEPNESS)
            if cache_mb > 0
            else 0.0
        )
        cached = self.bytes * frac
        tm = cached / (cache_bw * 1e3) + (self.bytes - cached) / (dram * 1e3)
        kernel = np.where(self.conv, conv_launch, np.where(self.compute, launch, pool_launch))
        per_layer = kernel + np.maximum(tc, tm)
        return fixed + np.bincount(self.design, weights=per_layer, minlength=self.n_designs)


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
            pred = feats.predict(np.exp(logt), terms, cache_mb, n_peaks)
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
    for key in (
        "mem_bw_gbps",
        "memory_eff",
        "cache_mb",
        "cache_bw_gbps",
        "launch_us",
        "fixed_us",
        "compute_eff",
        "parallel_half",
        "channel_half",
        "reduce_half",
        "pool_cost",
        "conv_launch_us",
        "pool_launch_us",
    ):
        if getattr(target, key) is not None:
            lines.append(f"{key} = {num(getattr(target, key))}")
    if math.isfinite(target.memory_mb):
        lines.append(f"memory_mb = {num(target.memory_mb)}")
    return "\n".join(lines) + "\n"


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
