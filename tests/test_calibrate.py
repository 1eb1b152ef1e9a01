"""Calibration by measurement: the fit, the target file round trip, real timing on this CPU."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from hwprune.calibrate import (
    Measurement,
    fit_target,
    measure_latency_us,
    sweep_designs,
    target_toml,
    torch_model_from_works,
)
from hwprune.calibrate.fit import _Features
from hwprune.cost.gpu import (
    estimate_gpu,
    estimate_works,
    gpu_target_from_dict,
    layer_works,
    load_gpu_target,
)
from hwprune.errors import ConfigError
from hwprune.targets import load_target

TRUE = {
    "name": "truth",
    "precisions": ["fp32"],
    "peak_tops": {"fp32": 0.2},
    "mem_bw_gbps": 25.0,
    "cache_mb": 2.0,
    "cache_bw_gbps": 120.0,
    "launch_us": 0.5,
    "fixed_us": 4.0,
    "parallel_half": 40.0,
    "channel_half": 12.0,
    "reduce_half": 15.0,
    "pool_cost": 3.0,
    "conv_launch_us": 0.9,
    "pool_launch_us": 0.3,
    "channel_align": {"fp32": 8},
    "device": "cpu",
    "threads": 1,
}


def synthetic(target, noise: float = 0.0, seed: int = 0) -> list[Measurement]:
    rng = np.random.default_rng(seed)
    out = []
    for d in sweep_designs():
        us = estimate_gpu(d, target).latency_us * float(np.exp(rng.normal(0, noise)))
        out.append(Measurement(d, us))
    return out


def test_vectorised_fit_model_equals_the_estimator() -> None:
    """The fit prices the whole sweep at once through the same kernel model as estimate_gpu
    (gpu.kernel_us on arrays): same latencies as the per-layer estimator."""
    truth = gpu_target_from_dict(TRUE)
    designs = sweep_designs()
    works = [layer_works(d) for d in designs]
    feats = _Features(works, ["fp32"] * len(works), ("fp32",))
    pred = feats.predict(truth, np.array([truth.peak_tops["fp32"]]), feats.shape_terms(8))
    ref = np.array([estimate_works(w, truth).latency_us for w in works])
    np.testing.assert_allclose(pred, ref, rtol=1e-9)


def test_fit_recovers_a_known_target() -> None:
    truth = gpu_target_from_dict(TRUE)
    target, report = fit_target(
        synthetic(truth, noise=0.02), "fitted", "cpu", cache_mb=2.0, threads=1
    )
    assert report.points == len(sweep_designs())
    assert report.within_10 >= 0.95
    assert report.median_abs_error < 0.03
    assert target.calibrated and target.device == "cpu" and target.threads == 1
    assert target.peak_tops["fp32"] == pytest.approx(0.2, rel=0.15)
    assert target.mem_bw_gbps == pytest.approx(25.0, rel=0.15)
    assert target.fixed_us == pytest.approx(4.0, rel=0.15)
    assert target.conv_launch_us > target.launch_us  # one overhead per kind of layer


def test_fit_needs_enough_points() -> None:
    truth = gpu_target_from_dict(TRUE)
    with pytest.raises(ConfigError, match="at least 12"):
        fit_target(synthetic(truth)[:5], "x", "cpu")


def test_target_file_round_trip(tmp_path) -> None:
    truth = gpu_target_from_dict({**TRUE, "calibrated": True, "memory_mb": 24000.0})
    path = tmp_path / "my-cpu.toml"
    path.write_text(target_toml(truth))
    back = load_target(path)
    assert replace(back, name="truth", source="") == truth
    d = sweep_designs()[40]
    assert estimate_gpu(d, back).latency_us == estimate_gpu(d, truth).latency_us


def test_torch_model_from_works_matches_the_design_shapes() -> None:
    import torch

    design = {
        "input": {"shape": [3, 17, 17], "bits": 32},
        "layers": [
            {"op": "conv", "out_ch": 8, "kernel": 3, "stride": 2, "pad": 1},
            {"op": "conv", "out_ch": 8, "kernel": 3, "pad": 1, "groups": 8},
            {"op": "maxpool", "kernel": 3},
            {"op": "fc", "out": 5},
        ],
    }
    works = layer_works(design)
    model = torch_model_from_works(works)
    assert model(torch.zeros(2, 3, 17, 17)).shape == (2, 5)
    convs = [m for m in model if isinstance(m, torch.nn.Conv2d)]
    assert [c.stride for c in convs] == [(2, 2), (1, 1)] and convs[1].groups == 8
    assert works[2].out_shape == (8, 3, 3)


def test_measure_latency_orders_small_and_large_layers() -> None:
    from torch import nn

    small = nn.Sequential(nn.Flatten(), nn.Linear(64, 10, bias=False))
    large = nn.Sequential(nn.Flatten(), nn.Linear(2048, 1024, bias=False))
    t_small = measure_latency_us(small, (64, 1, 1), "cpu", min_time_s=0.02)
    t_large = measure_latency_us(large, (2048, 1, 1), "cpu", min_time_s=0.02)
    assert 0 < t_small < t_large
    # 8 MB of weights cannot be read in less than 8 MB / 1 TB/s = 8 us
    assert t_large > 8.0
    with pytest.raises(ConfigError, match="device"):
        measure_latency_us(small, (64, 1, 1), "tpu")


@pytest.mark.slow
def test_calibrate_command_writes_a_usable_target(tmp_path) -> None:
    """A real (quick) calibration on this CPU: the file loads back and predicts its sweep."""
    from typer.testing import CliRunner

    from hwprune.cli import app

    out = tmp_path / "cpu-local.toml"
    res = CliRunner().invoke(
        app, ["calibrate", "--device", "cpu", "--out", str(out), "--quick", "--json"]
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout[res.stdout.index("{") :])
    assert summary["target"] == "cpu-local" and summary["networks_timed"] >= 40
    target = load_gpu_target(out)
    assert target.calibrated and target.device == "cpu" and target.precisions == ("fp32",)
    assert target == load_target(str(out))
    text = out.read_text()
    assert "measured target written by `hwprune calibrate`" in text
    # the fit reproduces what was timed, even on a busy machine (loose bound)
    assert summary["median_abs_error"] < 0.25
    # the fitted numbers are physically plausible for one x86 core
    assert 0.005 < target.peak_tops["fp32"] < 5.0
    assert 1.0 < target.mem_bw_gbps < 500.0
    assert 0.0 <= target.launch_us < 50.0 and 0.0 < target.fixed_us < 500.0
    # a design that was not in the sweep is priced, and timing it lands near the prediction
    from hwprune.models import build_model, get_spec

    spec = get_spec("tfc")
    design = {
        "input": {"shape": [1, 28, 28], "bits": 32},
        "layers": spec.design_layers([32] * 4, [32, 32, 32, None]),
    }
    pred = estimate_gpu(design, target).latency_us
    meas = measure_latency_us(build_model(spec), (1, 28, 28), "cpu", threads=target.threads)
    assert math.isfinite(pred) and 0.33 < pred / meas < 3.0


def test_calibrate_rejects_unknown_device() -> None:
    from hwprune.calibrate import calibrate

    with pytest.raises(ConfigError, match="cpu"):
        calibrate(device="gpu")


def test_bn_folding_used_for_cuda_timing_keeps_the_function() -> None:
    """The CUDA timing path folds BatchNorm into conv/fc first; the outputs must not change."""
    import torch

    from hwprune.calibrate import _fold_bn
    from hwprune.models import build_model, get_spec

    torch.manual_seed(0)
    model = build_model(get_spec("cnn-digits")).eval()
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    folded = _fold_bn(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-4, atol=1e-5)


def test_measure_for_target_uses_the_target_device() -> None:
    from torch import nn

    from hwprune.calibrate import measure_for_target

    t = gpu_target_from_dict({**TRUE, "calibrated": True})
    us = measure_for_target(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), (1, 8, 8), t)
    assert 0 < us < 5_000
