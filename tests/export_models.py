"""Small trained Brevitas models for the export tests (digits, mixed 1..8-bit, bipolar)."""

from __future__ import annotations

import functools

import numpy as np
import torch

from hwprune.compress.quant import to_brevitas
from hwprune.data import load_dataset
from hwprune.models import build_model, get_spec

# mlp-digits: fc0 8-bit weights -> bipolar; fc1, fc2 bipolar x bipolar (XNOR); fc3 head
MLP_BITS = ([8, 1, 1, 4], [1, 1, 3, None])
# cnn-digits: conv0 8-bit -> bipolar; conv1 bipolar weights on a zero-padded bipolar map;
# maxpool; conv2 2-bit; maxpool; fc0 4-bit; head 3-bit
CNN_BITS = ([8, 1, 2, 4, 3], [1, 2, 4, 3, None])


@functools.lru_cache(maxsize=1)
def digits():
    return load_dataset("digits")


def _train(model: torch.nn.Module, steps: int, seed: int) -> None:
    data = digits()
    x = torch.as_tensor(np.asarray(data.train.x))
    y = torch.as_tensor(np.asarray(data.train.y))
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def _flip_some_bn(model: torch.nn.Module) -> None:
    """Negate gamma/beta of every other BN channel: exercises the sign flips of the lowering."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.weight[::2] *= -1
                m.bias[::2] *= -1


@functools.lru_cache(maxsize=4)
def quant_model(name: str, steps: int = 60, seed: int = 0):
    """(Brevitas model, input shape) of zoo model ``name`` trained briefly on digits."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    spec = get_spec(name)
    wbits, abits = MLP_BITS if name == "mlp-digits" else CNN_BITS
    q = to_brevitas(build_model(spec), wbits, abits, 16.0)
    _train(q, steps, seed)
    _flip_some_bn(q)
    return q, tuple(spec.input_shape)


def digits_test_x(n: int | None = None) -> np.ndarray:
    x = np.asarray(digits().test.x)
    return x if n is None else x[:n]


def synth_small_cnn(target: str, out) -> tuple[dict, dict]:
    """Export a small untrained CNN (conv, max-pool, two FCs; 4/2/3-bit weights) to ``target``
    with Yosys (``rtl="synth"``); returns its (``estimate.json``, ``synth/report.json``)."""
    import json

    from hwprune.export.core import export_model
    from hwprune.models.spec import ModelSpec

    spec = ModelSpec("t", (1, 8, 8), 4, ({"op": "conv", "out_ch": 4, "kernel": 3, "pad": 1},
                                          {"op": "maxpool", "kernel": 2}, {"op": "fc", "out": 16},
                                          {"op": "fc", "out": 4}))  # fmt: skip
    torch.manual_seed(0)
    q = to_brevitas(build_model(spec), [4, 2, 3], [2, 2, None], 16.0).eval()
    export_model(q, target, out_dir=out, input_shape=spec.input_shape, n_golden=4,
                 csim=False, rtl="synth")  # fmt: skip
    est = json.loads((out / "estimate.json").read_text())
    return est, json.loads((out / "synth" / "report.json").read_text())
