"""Brevitas -> QONNX export, qonnx clean-up, and qonnx reference execution on integers.

Example:
    >>> path = export_brevitas(qmodel, (1, 8, 8), "out/model.qonnx.onnx")  # doctest: +SKIP
    >>> model = load_qonnx(path)                                           # doctest: +SKIP
    >>> ctx = reference_execute(model, x_int)                             # doctest: +SKIP
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from hwprune.errors import LoweringError, ModelError, UnsupportedModelError

log = logging.getLogger(__name__)


def export_brevitas(model: Any, input_shape: tuple[int, ...], path: str | Path) -> Path:
    """Export a Brevitas model to QONNX at ``path`` (cleaned with qonnx) and return the path.

    ``input_shape`` is (C, H, W) or (features,), without the batch dimension.
    """
    import torch
    from brevitas.export import export_qonnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    x = torch.zeros((1, *input_shape))
    with torch.no_grad():
        export_qonnx(model, input_t=x, export_path=str(path), dynamo=False)
    clean = load_qonnx(path)
    clean.save(str(path))
    return path


def check_brevitas_export(
    model: Any, qmodel: ModelWrapper, x_float: np.ndarray | None = None, n: int = 64
) -> None:
    """Check that the QONNX export ``qmodel`` computes what the Brevitas ``model`` does.

    Runs both on ``x_float`` (raw model inputs; default: ``n`` random inputs spread over the
    input quantizer's range, with a fixed seed) and raises
    :class:`~hwprune.errors.UnsupportedModelError` when more than a tenth of the samples get
    other outputs (beyond float rounding: a hidden value on a rounding boundary may flip one
    level on a few samples). Everything hwprune builds follows the QONNX file, so an export that
    is not the user's network must stop here. A known cause: Brevitas writes every 1-bit
    quantizer as bipolar (+-1), also an unsigned ``QuantReLU(bit_width=1)`` ({0, s}).

    Example:
        >>> check_brevitas_export(qmodel, load_qonnx("model.qonnx.onnx"))  # doctest: +SKIP
    """
    import torch

    if x_float is None:
        from hwprune.export.qonnx_read import _quant_type

        q, _ = input_quantizer(qmodel)
        _, scale, lo, hi, _ = _quant_type(q, qmodel)
        shape = qmodel.get_tensor_shape(qmodel.graph.input[0].name)[1:]
        rng = np.random.default_rng(0)
        x_float = rng.integers(lo, hi + 1, size=(n, *shape)).astype(np.float32) * scale
    x = np.asarray(x_float, dtype=np.float32)[:n]
    x = x.reshape((len(x), *qmodel.get_tensor_shape(qmodel.graph.input[0].name)[1:]))
    ref = reference_execute(qmodel, x)[qmodel.graph.output[0].name].reshape(len(x), -1)
    with torch.no_grad():
        out = model.eval()(torch.as_tensor(x))
    if isinstance(out, (tuple, list)) and len(out) == 1:
        out = out[0]
    out = getattr(out, "value", out)  # a QuantTensor's values
    if not isinstance(out, torch.Tensor):  # the export's one-output check reports the model
        log.warning("the model's forward() returns %s; its export was not checked", type(out))
        return
    got = np.asarray(out.detach().cpu().numpy(), dtype=np.float64)
    got = got.reshape(len(x), -1)
    tol = 1e-4 * max(float(np.abs(got).max()), 1e-12)
    bad = np.abs(got - ref).max(axis=1) > tol
    labels = got.argmax(axis=1) != ref.argmax(axis=1)
    if bad.mean() > 0.1 or labels.mean() > 0.1:
        raise UnsupportedModelError(
            f"Brevitas' QONNX export computes other outputs than the model itself on "
            f"{int(bad.sum())} of {len(x)} inputs ({int(labels.sum())} other labels), so the "
            "hardware would not be your network; a known cause is a 1-bit activation quantizer "
            "that is not bipolar (QuantReLU(bit_width=1), an unsigned or signed 1-bit "
            "QuantIdentity/QuantHardTanh: Brevitas exports them as +-1): use a bipolar one "
            "(brevitas.quant.SignedBinaryActPerTensorConst) or 2 bits"
        )


def load_qonnx(path_or_model: str | Path | ModelWrapper) -> ModelWrapper:
    """Load and clean a QONNX model (shapes, constants folded, unique node names, no Gemm)."""
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    if isinstance(path_or_model, ModelWrapper):
        model = copy.deepcopy(path_or_model)
    else:
        p = Path(path_or_model)
        if not p.is_file():
            raise ModelError(f"QONNX file {p} does not exist; pass the path of an .onnx file")
        try:
            model = ModelWrapper(str(p))
        except Exception as exc:  # onnx raises many types
            raise ModelError(f"cannot read {p} as ONNX ({exc}); pass a QONNX .onnx file") from exc
    inits = {i.name for i in model.graph.initializer}
    for gi in [i for i in model.graph.input if i.name in inits]:
        model.graph.input.remove(gi)
    if len(model.graph.input) != 1 or len(model.graph.output) != 1:
        raise LoweringError("the QONNX model must have exactly one input and one output")
    _check_acyclic(model.graph)
    model = cleanup_model(model)
    if any(n.op_type == "Gemm" for n in model.graph.node):
        model = model.transform(GemmWithoutBias())
        model = model.transform(GemmToMatMul())
        model = cleanup_model(model)
    model = model.transform(InferShapes())
    model = model.transform(GiveUniqueNodeNames())
    return model


def _check_acyclic(graph: Any) -> None:
    """Raise :class:`LoweringError` when a node's output feeds back into itself (a cycle).

    ONNX graphs are acyclic; a hand-edited one with a cycle would otherwise crash the QONNX
    clean-up with a traceback.
    """
    producer = {out: i for i, node in enumerate(graph.node) for out in node.output}
    preds = [
        {producer[x] for x in node.input if x in producer and producer[x] != i}
        | ({i} if any(producer.get(x) == i for x in node.input) else set())
        for i, node in enumerate(graph.node)
    ]
    indeg = [len(p) for p in preds]
    succs: list[list[int]] = [[] for _ in graph.node]
    for i, p in enumerate(preds):
        for j in p:
            succs[j].append(i)
    ready = [i for i, d in enumerate(indeg) if d == 0]
    seen = 0
    while ready:
        j = ready.pop()
        seen += 1
        for i in succs[j]:
            indeg[i] -= 1
            if indeg[i] == 0:
                ready.append(i)
    if seen < len(graph.node):
        stuck = [graph.node[i].name or graph.node[i].op_type for i, d in enumerate(indeg) if d]
        raise LoweringError(
            f"the ONNX graph has a cycle through {', '.join(stuck[:3])}; ONNX graphs must be "
            "acyclic, re-export the model"
        )


class GemmWithoutBias(Transformation):
    """Rewrite a ``Gemm`` without its optional bias (``C``) as ``MatMul`` (and ``Mul`` for
    ``alpha``): torch 2.13's dynamo exporter writes a bias-free ``nn.Linear`` so, and qonnx's
    ``GemmToMatMul`` expects three inputs.

    Example:
        >>> model = model.transform(GemmWithoutBias())  # doctest: +SKIP
    """

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        from onnx import helper

        g = model.graph
        for i, n in enumerate(g.node):
            if n.op_type != "Gemm" or len([x for x in n.input if x]) != 2:
                continue
            a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
            if a.get("transA", 0):
                raise LoweringError(f"{n.name} (Gemm) transposes its input; export it without")
            x, w = n.input[0], n.input[1]
            new: list[Any] = []
            if a.get("transB", 0):
                init = model.get_initializer(w)
                wt = model.make_new_valueinfo_name()
                if init is not None:
                    model.set_initializer(wt, np.ascontiguousarray(init.T))
                else:
                    new.append(helper.make_node("Transpose", [w], [wt], perm=[1, 0]))
                w = wt
            out = n.output[0]
            alpha = float(a.get("alpha", 1.0))
            mm_out = out if alpha == 1.0 else model.make_new_valueinfo_name()
            new.append(helper.make_node("MatMul", [x, w], [mm_out], name=f"{n.name}_matmul"))
            if alpha != 1.0:
                k = model.make_new_valueinfo_name()
                model.set_initializer(k, np.asarray(alpha, dtype=np.float32))
                new.append(helper.make_node("Mul", [mm_out, k], [out]))
            g.node.remove(n)
            for j, node in enumerate(new):
                g.node.insert(i + j, node)
            return model, True
        return model, False


def _batched(model: ModelWrapper, n: int) -> ModelWrapper:
    from qonnx.transformation.infer_shapes import InferShapes

    m = copy.deepcopy(model)
    for node in m.graph.node:
        if node.op_type == "Reshape":
            s = m.get_initializer(node.input[1])
            if s is not None and s.size and s[0] in (1, -1):
                s = s.copy()
                s[0] = n
                m.set_initializer(node.input[1], s)
    for t in list(m.graph.input) + list(m.graph.output):
        t.type.tensor_type.shape.dim[0].dim_value = n
    del m.graph.value_info[:]
    return m.transform(InferShapes())


def input_quantizer(model: ModelWrapper):
    """The first Quant/BipolarQuant node on the input path and the tensor it quantizes."""
    t = model.graph.input[0].name
    while True:
        cons = model.find_consumers(t)
        if len(cons) != 1:
            raise LoweringError("cannot find the input quantizer: the input path branches")
        n = cons[0]
        if n.op_type in ("Quant", "BipolarQuant"):
            return n, t
        t = n.output[0]


def cut_at_input_quant(model: ModelWrapper) -> ModelWrapper:
    """A copy whose graph input is the input quantizer's input (host pre-processing removed).

    Feeding it ``x_int * scale`` reproduces the original model on the quantizer's integers.
    """
    from onnx import helper
    from qonnx.transformation.infer_shapes import InferShapes

    m = copy.deepcopy(model)
    q, t = input_quantizer(m)
    if t != m.graph.input[0].name:
        pre = []
        cur = m.graph.input[0].name
        while cur != t:
            node = m.find_consumers(cur)[0]
            pre.append(node)
            cur = node.output[0]
        shape = m.get_tensor_shape(t)
        for node in pre:
            m.graph.node.remove(node)
        for vi in [v for v in m.graph.value_info if v.name == t]:
            m.graph.value_info.remove(vi)
        new_in = helper.make_tensor_value_info(t, 1, shape)
        m.graph.input.remove(m.graph.input[0])
        m.graph.input.append(new_in)
        m = m.transform(InferShapes())
    return m


def reference_execute(model: ModelWrapper, x_float: np.ndarray) -> dict[str, np.ndarray]:
    """Execute ``model`` with qonnx on a batch; returns every tensor of the graph."""
    from qonnx.core.onnx_exec import execute_onnx

    n = int(x_float.shape[0])
    m = _batched(model, n)
    ctx = execute_onnx(
        m, {m.graph.input[0].name: x_float.astype(np.float32)}, return_full_exec_context=True
    )
    return {k: v for k, v in ctx.items() if v is not None}


def quantize_inputs(model: ModelWrapper, x_float: np.ndarray) -> tuple[np.ndarray, float]:
    """Integers that the model's input quantizer makes of raw inputs, and its scale."""
    q, _ = input_quantizer(model)
    ctx = reference_execute(model, x_float)
    scale = float(np.asarray(model.get_initializer(q.input[1])).ravel()[0])
    xq = ctx[q.output[0]].astype(np.float64) / scale
    return np.rint(xq).astype(np.int64), scale


def qonnx_to_ir(
    path: str | Path | ModelWrapper, folding: Any = None, target: Any = None, output: str = "label"
) -> Any:
    """Read a QONNX model into the cost model's IR (:class:`hwprune.ir.DataflowGraph`).

    The nodes carry their integer payload (weights, thresholds, exact types). ``folding`` is
    ``None`` (left open, all ones, for the folding optimizer), "auto" (needs ``target``), a
    folding JSON path or a dict ``{node: {"pe": .., "simd": ..}}``.

    Example:
        >>> g = qonnx_to_ir("tfc.onnx")   # doctest: +SKIP
        >>> [n.op for n in g.nodes]        # doctest: +SKIP
        ['MVAU', 'MVAU', 'MVAU', 'MVAU', 'LabelSelect']
    """
    from dataclasses import replace

    from hwprune.export.lower import lower_model
    from hwprune.ir.folding import apply_folding

    graph = lower_model(load_qonnx(path), output)
    if folding is not None:
        graph = apply_folding(graph, folding, target)
    name = Path(path).name.split(".")[0] if isinstance(path, (str, Path)) else "qonnx"
    return replace(graph, name=name)
