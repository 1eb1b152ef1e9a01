"""Timing on the local device: a float network built from kernels, timed with onnxruntime
(CPU) or torch + CUDA graphs (GPU); :func:`measure_latency_us` is also what
``hwprune search --measure`` calls."""

from __future__ import annotations

import io
import logging
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hwprune.cost.gpu import (
    GpuTarget,
    LayerWork,
)
from hwprune.errors import ConfigError, HwpruneError

log = logging.getLogger(__name__)


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
