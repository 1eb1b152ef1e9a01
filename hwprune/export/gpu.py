"""GPU-ready export: ONNX QCDQ (int8 QuantizeLinear/DequantizeLinear) and float16 ONNX.

For a GPU target, ``best/`` holds

* ``model_qcdq.onnx``: the Brevitas model exported with ``brevitas.export.export_onnx_qcdq``
  (QuantizeLinear -> DequantizeLinear pairs around every quantized tensor, opset 13), which
  TensorRT builds as an INT8 engine and onnxruntime runs as is;
* ``model_fp16.onnx``: the float model in half precision (inputs, weights and outputs float16),
  written when fp16 is the precision chosen for some layer;
* ``latency.json`` / ``latency.txt``: the per-layer latency report of
  :func:`hwprune.cost.gpu.estimate_gpu`.

:func:`onnx_predict` runs an exported file in onnxruntime so callers can check that it
predicts what the torch model predicts.

Example:
    >>> import torch
    >>> from hwprune.models import build_model, get_spec
    >>> from hwprune.export.gpu import export_fp16, onnx_predict
    >>> path = export_fp16(build_model(get_spec("mlp-digits")), (1, 8, 8), "/tmp/m16.onnx")
    >>> onnx_predict(path, torch.rand(3, 1, 8, 8)).shape
    (3, 10)
"""

from __future__ import annotations

import copy
import json
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwprune.errors import ModelError

log = logging.getLogger(__name__)

QCDQ_FILE = "model_qcdq.onnx"
FP16_FILE = "model_fp16.onnx"
FP32_FILE = "model_fp32.onnx"


def export_qcdq(qmodel: Any, input_shape: Sequence[int], path: str | Path, opset: int = 13) -> Path:
    """Export a Brevitas model as ONNX QCDQ (int8 Q/DQ) with a dynamic batch dimension.

    The graph's input is ``x`` (float32, N x C x H x W, the same [0, 1] values the torch model
    takes) and its output ``y`` (float32 logits). Initializers are not listed as graph inputs,
    so engines treat them as constants.

    Example:
        >>> from hwprune.models import build_model, get_spec
        >>> from hwprune.compress.quant import to_brevitas
        >>> q = to_brevitas(build_model(get_spec("mlp-digits")), [8] * 4, [8, 8, 8, None], 16.0)
        >>> export_qcdq(q, (1, 8, 8), "/tmp/q.onnx").name
        'q.onnx'
    """
    import onnx
    import torch
    from brevitas.export import export_onnx_qcdq

    bits = [*getattr(qmodel, "wbits", ()), *getattr(qmodel, "abits", ())]
    if 1 in bits:
        raise ModelError(
            "QCDQ (int8 Q/DQ) cannot express 1-bit bipolar weights or activations; on a GPU "
            "target search with bit widths >= 2 (every width <= 8 runs as int8 there anyway)"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(qmodel).eval().cpu()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_onnx_qcdq(
                model,
                args=torch.zeros(1, *input_shape),
                export_path=str(path),
                dynamo=False,
                opset_version=opset,
                input_names=["x"],
                output_names=["y"],
                dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
            )
    except Exception as exc:  # brevitas raises many types; say which model failed and why
        raise ModelError(
            f"QCDQ export of the quantized model failed ({type(exc).__name__}: {exc}); "
            "check that it is a Brevitas model built by hwprune.compress.quant.to_brevitas"
        ) from exc
    proto = onnx.load(str(path))
    _drop_initializer_inputs(proto)
    onnx.save(proto, str(path))
    return path


def _drop_initializer_inputs(proto: Any) -> None:
    """Remove initializers from the graph inputs (legacy exporter lists them there)."""
    names = {init.name for init in proto.graph.initializer}
    keep = [i for i in proto.graph.input if i.name not in names]
    del proto.graph.input[:]
    proto.graph.input.extend(keep)


def export_fp16(float_model: Any, input_shape: Sequence[int], path: str | Path) -> Path:
    """Export a float torch model as a float16 ONNX (input ``x`` and output ``y`` are float16).

    Example:
        >>> from hwprune.models import build_model, get_spec
        >>> export_fp16(build_model(get_spec("tfc")), (1, 28, 28), "/tmp/t16.onnx").suffix
        '.onnx'
    """
    return export_float(float_model, input_shape, path, half=True)


def export_float(
    float_model: Any, input_shape: Sequence[int], path: str | Path, half: bool = False
) -> Path:
    """Export a float torch model as ONNX (float32, or float16 throughout when ``half``)."""
    import onnx
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if half else torch.float32
    model = copy.deepcopy(float_model).eval().cpu().to(dtype)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            torch.zeros(1, *input_shape, dtype=dtype),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
        )
    proto = onnx.load(str(path))
    _drop_initializer_inputs(proto)
    onnx.save(proto, str(path))
    return path


def onnx_predict(
    path: str | Path,
    x: Any,
    batch_size: int = 256,
    provider: str = "CPUExecutionProvider",
    fuse_qdq: bool = False,
) -> np.ndarray:
    """Run an exported ONNX file on ``x`` (N x C x H x W, values in [0, 1]) and return logits.

    The input is cast to the graph's input type (float16 for an fp16 export); the logits are
    returned as float32. By default onnxruntime runs the graph as written (basic graph
    optimisations), which reproduces Brevitas' QCDQ arithmetic exactly; ``fuse_qdq=True``
    enables its extended optimisations, which fuse Q/DQ pairs into integer kernels with their
    own requantisation rounding (what a deployment engine does; logits then differ slightly).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if fuse_qdq
        else ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    )
    sess = ort.InferenceSession(str(path), opts, providers=[provider])
    inp = sess.get_inputs()[0]
    dtype = np.float16 if "float16" in inp.type else np.float32
    xs = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    outs = [
        sess.run(None, {inp.name: xs[i : i + batch_size].astype(dtype)})[0]
        for i in range(0, len(xs), batch_size)
    ]
    return np.concatenate(outs).astype(np.float32)


def torch_predict(model: Any, x: Any, batch_size: int = 256) -> np.ndarray:
    """Logits of a torch (or Brevitas) model on ``x`` as a float32 array."""
    import torch

    model = model.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out = model(x[i : i + batch_size])
            out = getattr(out, "value", out)  # a Brevitas QuantTensor
            outs.append(out.float().cpu().numpy())
    return np.concatenate(outs)


@dataclass(frozen=True)
class OnnxCheck:
    """How an exported ONNX file's predictions compare with the torch model's on a dataset."""

    path: str
    torch_top1: float
    onnx_top1: float
    agreement: float
    max_abs_logit_diff: float

    @property
    def same_top1(self) -> bool:
        """True when both reach the same top-1 accuracy."""
        return abs(self.torch_top1 - self.onnx_top1) < 1e-12


def check_onnx(path: str | Path, model: Any, x: Any, y: Any, fuse_qdq: bool = False) -> OnnxCheck:
    """Compare an exported file with ``model`` on (``x``, ``y``): top-1 of each, agreement.

    Example:
        >>> from hwprune.data import load_dataset
        >>> from hwprune.models import build_model, get_spec
        >>> m, ds = build_model(get_spec("mlp-digits")), load_dataset("digits")
        >>> path = export_fp16(m, (1, 8, 8), "/tmp/a.onnx")
        >>> check_onnx(path, m, ds.test.x, ds.test.y).agreement > 0.9
        True
    """
    logits_t = torch_predict(model, x)
    logits_o = onnx_predict(path, x, fuse_qdq=fuse_qdq)
    labels = y.cpu().numpy() if hasattr(y, "cpu") else np.asarray(y)
    pt, po = logits_t.argmax(1), logits_o.argmax(1)
    return OnnxCheck(
        path=str(path),
        torch_top1=float((pt == labels).mean()),
        onnx_top1=float((po == labels).mean()),
        agreement=float((pt == po).mean()),
        max_abs_logit_diff=float(np.abs(logits_t - logits_o).max()),
    )


def export_gpu_bundle(
    out_dir: str | Path,
    qmodel: Any,
    float_model: Any,
    input_shape: Sequence[int],
    estimate: Any | None = None,
    precisions: Sequence[str] = ("int8",),
    check: tuple[Any, Any] | None = None,
) -> dict[str, Any]:
    """Write the GPU deliverables of a chosen design into ``out_dir`` (``best/``).

    ``precisions`` are the precisions the design's layers run at on the target (from its
    :class:`~hwprune.cost.gpu.GpuEstimate`): ``model_qcdq.onnx`` is written when int8 is among
    them, ``model_fp16.onnx`` when fp16 is (``model_fp32.onnx`` for fp32); ``estimate`` (a
    ``GpuEstimate``) is written as ``latency.json`` and ``latency.txt``; ``check`` = (x, y)
    runs each file in onnxruntime and records its top-1 next to torch's in ``onnx_check.json``.
    Returns what was written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    if estimate is not None:
        precisions = sorted({r.precision for r in estimate.layers})
    if "int8" in precisions:
        files["qcdq"] = str(export_qcdq(qmodel, input_shape, out / QCDQ_FILE))
        if check is not None:
            checks["qcdq"] = _check_dict(check_onnx(files["qcdq"], qmodel, *check))
    for prec, name in (("fp16", FP16_FILE), ("fp32", FP32_FILE)):
        if prec in precisions:
            files[prec] = str(export_float(float_model, input_shape, out / name, prec == "fp16"))
            if check is not None:
                checks[prec] = _check_dict(check_onnx(files[prec], float_model, *check))
    if estimate is not None:
        (out / "latency.json").write_text(estimate.to_json(), encoding="utf-8")
        (out / "latency.txt").write_text(estimate.table() + "\n", encoding="utf-8")
        files["latency"] = str(out / "latency.json")
    if checks:
        (out / "onnx_check.json").write_text(json.dumps(checks, indent=2), encoding="utf-8")
        files["check"] = checks
    return files


def _check_dict(c: OnnxCheck) -> Mapping[str, Any]:
    return {
        "path": c.path,
        "torch_top1": c.torch_top1,
        "onnx_top1": c.onnx_top1,
        "agreement": c.agreement,
        "max_abs_logit_diff": c.max_abs_logit_diff,
    }
