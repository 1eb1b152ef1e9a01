"""The calibration sweep: conv, fc and max-pool shapes (alone and stacked) as designs, and
their measured latencies."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwprune.calibrate.measure import measure_latency_us, onnx_bytes, torch_model_from_works
from hwprune.cost.gpu import (
    layer_works,
)
from hwprune.errors import ConfigError

log = logging.getLogger(__name__)


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

    nets = _fc_nets() + _conv_nets(rng) + _stack_nets(rng)
    out = [design(shape, layers) for shape, layers in nets]
    if quick:
        out = out[::2]
    return out


_Net = tuple[tuple[int, int, int], list[dict]]


def _fc_nets() -> list[_Net]:
    """Single fc layers over a grid of sizes, and fc stacks (per-kernel vs per-inference)."""
    out: list[_Net] = []
    for n_in in (64, 256, 784, 1024, 2048, 3072):
        for n_out in (10, 64, 256, 1024):
            out.append(((n_in, 1, 1), [{"op": "fc", "out": n_out}]))
    for width in (32, 128, 512, 1024):
        for depth in (2, 3, 5):
            layers = [{"op": "fc", "out": width} for _ in range(depth - 1)]
            out.append(((256, 1, 1), [*layers, {"op": "fc", "out": 10}]))
    return out


def _conv_nets(rng: np.random.Generator) -> list[_Net]:
    """Single convolutions (a random subset of a channel/size grid, some 1x1 and 5x5) and
    conv + max-pool pairs."""
    out: list[_Net] = []
    convs = [
        (cin, cout, hw, 3)
        for cin in (1, 3, 8, 16, 32, 64, 128)
        for cout in (8, 16, 32, 64, 128)
        for hw in (8, 16, 32)
        if cin * cout * hw * hw <= 64 * 64 * 32 * 32
    ]
    pick = rng.choice(len(convs), size=min(len(convs), 48), replace=False)
    singles = [convs[i] for i in sorted(pick)]
    singles += [(16, 32, 16, 1), (64, 64, 16, 1), (3, 16, 32, 5), (32, 32, 12, 5)]
    for cin, cout, hw, k in singles:
        out.append(((cin, hw, hw), [{"op": "conv", "out_ch": cout, "kernel": k}]))
    pool = {"op": "maxpool", "kernel": 2}
    for cin, cout, hw in [(3, 32, 32), (32, 64, 16), (16, 16, 8), (64, 128, 12)]:
        out.append(((cin, hw, hw), [{"op": "conv", "out_ch": cout, "kernel": 3}, dict(pool)]))
    for c, hw in [(16, 8), (32, 16), (64, 28), (128, 16)]:
        out.append(((c, hw, hw), [{"op": "conv", "out_ch": c, "kernel": 1}, dict(pool)]))
    return out


def _conv(c: int, pad: int = 0) -> dict:
    return {"op": "conv", "out_ch": c, "kernel": 3, **({"pad": pad} if pad else {})}


def _stack_nets(rng: np.random.Generator) -> list[_Net]:
    """CNV-style stacks (cache reuse across layers) and deeper stacks of random widths (conv
    kernels behave differently in a chain than alone: layout reorders, padding, the next
    layer's cache state)."""
    out: list[_Net] = []
    for w, hw in [(16, 16), (32, 32), (64, 16)]:
        layers = [_conv(w, 1), _conv(w, 1), {"op": "maxpool", "kernel": 2}, _conv(2 * w, 1)]
        out.append(((3, hw, hw), [*layers, {"op": "fc", "out": 10}]))
    widths = (8, 16, 32, 64, 128)
    for _ in range(6):
        a, b, c, f = (int(rng.choice(widths)) for _ in range(4))
        pool = {"op": "maxpool", "kernel": 2}
        layers = [_conv(a, 1), _conv(b, 1), dict(pool), _conv(c, 1), dict(pool)]
        out.append(((1, 8, 8), [*layers, {"op": "fc", "out": 4 * f}, {"op": "fc", "out": 10}]))
    for _ in range(4):
        a, b, c, f = (int(rng.choice(widths[:4])) for _ in range(4))
        pool = {"op": "maxpool", "kernel": 2}
        layers = [_conv(a), _conv(a), dict(pool), _conv(b), _conv(b), dict(pool)]
        layers += [_conv(c), _conv(c), {"op": "fc", "out": 8 * f}, {"op": "fc", "out": 10}]
        out.append(((3, 32, 32), layers))
    return out


def _design_precision(design: Mapping[str, Any]) -> str:
    return "fp16" if design["input"].get("bits") == 16 else "fp32"


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
