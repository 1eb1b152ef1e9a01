"""Check the integer executor against qonnx execution of the QONNX model, layer by layer.

Example:
    >>> report = verify_against_qonnx(model, graph, x_int)  # doctest: +SKIP
    >>> report.exact, report.layers[0]["name"]               # doctest: +SKIP
    (True, 'input')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from hwprune.export.executor import ExecResult, execute, label_keys
from hwprune.export.qonnx import cut_at_input_quant, input_quantizer, reference_execute
from hwprune.ir import MVAU, VVAU, DataflowGraph, LabelSelect


@dataclass(frozen=True)
class VerifyReport:
    """Executor vs qonnx.

    ``layers``: per node with a QONNX counterpart: name, qonnx tensor, values compared,
    mismatches (integers that differ), max_abs_diff of the dequantised values.
    ``label_mismatches``: samples whose arg-max differs, excluding ``label_ties``: samples where
    the integer keys tie (the accumulators, or with a per-class head bias the label select's
    keys: equal scores) and qonnx's float rounding picked another of the tied classes.
    """

    samples: int
    layers: tuple[dict[str, Any], ...]
    label_mismatches: int
    label_ties: int
    exact: bool
    first_mismatch: str | None = None
    qonnx_labels: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "exact": self.exact,
            "layers": list(self.layers),
            "label_mismatches": self.label_mismatches,
            "label_ties": self.label_ties,
            "first_mismatch": self.first_mismatch,
        }


def _to_nchw(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, 3, 1, 2) if x.ndim == 4 else x


def verify_against_qonnx(
    model: ModelWrapper, graph: DataflowGraph, x_int: np.ndarray, result: ExecResult | None = None
) -> VerifyReport:
    """Run qonnx on ``x_int`` (the input quantizer's integers, batch first, NHWC or flat) and
    compare every layer boundary with the executor."""
    q, _ = input_quantizer(model)
    scale = float(np.asarray(model.get_initializer(q.input[1])).ravel()[0])
    cut = cut_at_input_quant(model)
    qshape = cut.get_tensor_shape(cut.graph.input[0].name)
    x = np.asarray(x_int, dtype=np.int64)
    n = x.shape[0]
    assert graph.input is not None, "verify_against_qonnx() checks a graph lowered from a model"
    xf = _to_nchw(x.reshape((n, *graph.input.out_shape))).reshape((n, *qshape[1:]))
    ctx = reference_execute(cut, (xf * scale).astype(np.float32))
    res = result or execute(graph, x)
    layers = []
    first = None
    exact = True
    for node in (graph.input, *graph.kernels()):
        head = isinstance(node, (MVAU, VVAU)) and node.is_head
        if not node.qonnx_tensor or node.qonnx_tensor not in ctx:
            continue
        ref = np.asarray(ctx[node.qonnx_tensor], dtype=np.float64)
        got = _to_nchw(res.layers[node.name]).reshape(ref.shape)
        if head:
            a = np.asarray(node.score_scale)
            b = np.asarray(node.score_bias)
            deq = got * a + b
            diff = np.abs(deq - ref)
            tol = 1e-5 * max(1.0, float(np.abs(ref).max()))
            bad = int((diff > tol).sum())
        else:
            deq = got * node.out_scale
            diff = np.abs(deq - ref)
            ref_int = np.rint(ref / node.out_scale)
            bad = int((ref_int != got).sum())
        layers.append(
            {
                "name": node.name,
                "qonnx_tensor": node.qonnx_tensor,
                "values": int(got.size),
                "mismatches": bad,
                "max_abs_diff": float(diff.max()) if diff.size else 0.0,
            }
        )
        if bad:
            exact = False
            if first is None:
                idx = np.argwhere(
                    (np.rint(ref / node.out_scale) != got)
                    if not head
                    else (
                        np.abs(
                            got * np.asarray(node.score_scale) + np.asarray(node.score_bias) - ref
                        )
                        > 1e-5
                    )
                )[0]
                where = tuple(int(i) for i in idx[1:])
                first = (
                    f"sample {int(idx[0])}, layer {node.name}, index {where}: "
                    f"executor {got[tuple(idx)]}, qonnx {ref[tuple(idx)]}"
                )
    out_name = cut.graph.output[0].name
    qlab = np.argmax(np.asarray(ctx[out_name]).reshape(n, -1), axis=1)
    mism = ties = 0
    if graph.output == "label":
        head = graph.mvaus()[-1]
        ls = next(k for k in graph.nodes if isinstance(k, LabelSelect))
        key = label_keys(ls, res.layers[head.name].reshape(n, -1))
        for i in np.nonzero(qlab != res.output)[0]:
            if key[i, qlab[i]] == key[i, res.output[i]]:
                ties += 1
            else:
                mism += 1
        if mism:
            exact = False
            if first is None:
                i = int(np.nonzero(qlab != res.output)[0][0])
                first = f"sample {i}: executor label {int(res.output[i])}, qonnx {int(qlab[i])}"
    return VerifyReport(n, tuple(layers), mism, ties, exact, first, qlab)
