"""A numpy executor of a lowered :class:`~hwprune.ir.DataflowGraph` (the golden model of the
HLS kernels): every kernel of :meth:`~hwprune.ir.DataflowGraph.kernels` run on integers.

Example:
    >>> result = execute(graph, x_int)            # doctest: +SKIP
    >>> result.output.shape, list(result.layers)  # doctest: +SKIP
    ((100,), ['global_in', 'fc0', ...])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hwprune import ir


@dataclass(frozen=True, eq=False)
class ExecResult:
    """Integer outputs of every node (batch first, NHWC) and the graph output."""

    layers: dict[str, np.ndarray]
    output: np.ndarray


def _mvau(node: ir.MVAU | ir.VVAU, x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    if isinstance(node, ir.VVAU):  # window (kernel row, kernel column, channel) per pixel
        win = x.reshape(n, node.n_vec, node.mw, node.mh).astype(np.int64)
        acc = np.einsum("nvkc,ck->nvc", win, node.weights)
    else:
        vec = x.reshape(n, node.n_vec, node.mw).astype(np.int64)
        acc = vec @ node.weights.T  # (n, nvec, mh)
    if node.thresholds is None:
        out = acc
    else:
        T = node.thresholds  # (mh, nt)
        level = np.empty_like(acc)
        for o in range(node.mh):  # thresholds sorted per row: level = #{k: T[o, k] <= acc}
            level[..., o] = np.searchsorted(T[o], acc[..., o], side="right")
        out = 2 * level - 1 if node.out_type.bipolar else level + node.out_bias
    return out.reshape((n, *node.out_shape))


def _sliding_window(node: ir.SlidingWindow, x: np.ndarray) -> np.ndarray:
    k, s = node.kernel, node.stride
    oh, ow, _ = node.out_shape
    cols = [
        x[:, ky : ky + s * (oh - 1) + 1 : s, kx : kx + s * (ow - 1) + 1 : s, :]
        for ky in range(k)
        for kx in range(k)
    ]
    return np.concatenate(cols, axis=-1)


def _maxpool(node: ir.MaxPool, x: np.ndarray) -> np.ndarray:
    k = node.kernel
    oh, ow, c = node.out_shape
    x = x[:, : oh * k, : ow * k, :]
    return x.reshape(x.shape[0], oh, k, ow, k, c).max(axis=(2, 4))


def _thresholding(node: ir.Thresholding, x: np.ndarray) -> np.ndarray:
    v = x.reshape(x.shape[0], -1, node.channels)
    level = np.empty_like(v)
    for c in range(node.channels):
        level[..., c] = np.searchsorted(node.thresholds[c], v[..., c], side="right")
    out = 2 * level - 1 if node.out_type.bipolar else level + node.out_bias
    return out.reshape((x.shape[0], *node.out_shape))


def round_shift(acc: np.ndarray, shift: int, rounding: str) -> np.ndarray:
    """``acc / 2**shift`` rounded to an integer: "ROUND" half to even (numpy's round, as
    qonnx's Trunc), else "FLOOR".

    Example:
        >>> round_shift(np.array([5, 6, 7, 10, -6]), 2, "ROUND").tolist()
        [1, 2, 2, 2, -2]
    """
    if shift <= 0:
        return acc
    q = acc >> shift  # floor
    if rounding.upper() != "ROUND":
        return q
    r = acc - (q << shift)
    half = 1 << (shift - 1)
    return q + ((r > half) | ((r == half) & (q % 2 == 1)))


def _gap(node: ir.GlobalAccPool, x: np.ndarray) -> np.ndarray:
    acc = x.sum(axis=(1, 2))
    out = round_shift(acc, node.shift, node.rounding)
    return np.clip(out, node.out_type.min, node.out_type.max).reshape((x.shape[0], *node.out_shape))


def label_keys(node: ir.LabelSelect, x: np.ndarray) -> np.ndarray:
    """The integer keys a :class:`~hwprune.ir.LabelSelect` takes the arg-max of, per sample:
    ``(acc << shift) + offsets`` (the accumulators themselves without offsets).

    Example:
        >>> ls = ir.LabelSelect("ls", 3, 8, offsets=(2, -3, 4), shift=1)
        >>> label_keys(ls, np.array([[1, 3, 0]])).tolist()
        [[4, 3, 4]]
    """
    acc = np.asarray(x, dtype=np.int64).reshape(x.shape[0], -1)
    if node.offsets is None:
        return acc
    return (acc << node.shift) + np.asarray(node.offsets, dtype=np.int64)


def run_node(node: Any, x: np.ndarray, *more: np.ndarray) -> np.ndarray:
    """Output of one kernel (:meth:`~hwprune.ir.DataflowGraph.kernels`) for a batch ``x``
    (integers, batch first); an add takes the short branch as ``more[0]``."""
    if isinstance(node, ir.AddStreams):
        p, q = node.muls
        return (x * p + more[0] * q).reshape((x.shape[0], *node.out_shape))
    if isinstance(node, ir.DuplicateStreams):
        return x
    if isinstance(node, ir.Thresholding):
        return _thresholding(node, x)
    if isinstance(node, ir.GlobalAccPool):
        return _gap(node, x)
    if isinstance(node, ir.GraphInput):
        return np.asarray(x, dtype=np.int64).reshape((x.shape[0], *node.out_shape))
    if isinstance(node, ir.Pad):
        p = node.pad
        return np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    if isinstance(node, ir.SlidingWindow):
        return _sliding_window(node, x)
    if isinstance(node, (ir.MVAU, ir.VVAU)):
        return _mvau(node, x)
    if isinstance(node, ir.MaxPool):
        return _maxpool(node, x)
    if isinstance(node, ir.LabelSelect):
        return np.argmax(label_keys(node, x), axis=1).reshape(-1, 1)
    raise TypeError(f"no executor for {type(node).__name__}")


def execute(graph: ir.DataflowGraph, x_int: np.ndarray) -> ExecResult:
    """Run ``graph`` on integer inputs ``x_int`` (batch first, NHWC or flat).

    Every value is exact (int64). ``output`` is the label per sample for a label graph, else the
    head's accumulators.
    """
    layers: dict[str, np.ndarray] = {}
    x = np.asarray(x_int)
    if not np.all(x == np.round(x)):
        raise ValueError("execute() takes integer inputs (the input quantizer's integers)")
    x = x.astype(np.int64)
    assert graph.input is not None, "execute() runs a graph lowered from a model"
    x = run_node(graph.input, x)
    layers[graph.input.name] = x
    producers = graph.producers()
    for node in graph.kernels():
        x = run_node(node, *(layers[p] for p in producers[node.name]))
        layers[node.name] = x
    out = x.reshape(x.shape[0]) if graph.output == "label" else x
    return ExecResult(layers, out)
