"""What the pipeline can represent: a structural check of a user's float model, run BEFORE training.

:func:`check_representable` traces the model with ``torch.fx`` (every module call, functional
call, tensor method and add is a graph node), classifies each node into a *kind* and refuses the
first node whose kind the hardware model cannot build yet, with one line naming the layer and
what to change (:class:`~hwprune.errors.UnsupportedModelError`, exit 2 in the CLI).

Kinds:

==========  ==========================================================  =====================
kind        what                                                        supported today
==========  ==========================================================  =====================
conv        ``nn.Conv2d``, groups = 1                                   yes
depthwise   ``nn.Conv2d``, groups = in = out channels                   yes
fc          ``nn.Linear``                                               yes
maxpool     ``nn.MaxPool2d``                                            yes
bn, relu    ``nn.BatchNorm1d/2d``, ``nn.ReLU`` (folded into thresholds)  yes
flatten     ``nn.Flatten``, ``torch.flatten``, ``x.view/reshape/flatten``  yes
identity    ``nn.Identity``, ``nn.Dropout``                             yes
gap         ``nn.AdaptiveAvgPool2d(1)``, ``nn.AvgPool2d``               not yet (no IR node)
residual    an add of two tensors (``a + b``, ``torch.add``)            not yet (no IR node)
grouped     ``nn.Conv2d`` with other groups                             no
branch      a tensor used twice without an add joining the branches     no
==========  ==========================================================  =====================

The supported set is ``HARDWARE_OPS`` of :mod:`hwprune.models.spec` plus the kinds that never
become a hardware node of their own (bn, relu, flatten, identity). When the IR gains a node kind,
add it there and the check lets it through. An add is also checked for being *couplable*: both
inputs the same shape (torch-pruning then keeps their channels equal).

Example:
    >>> from torch import nn
    >>> mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    >>> [n.kind for n in check_representable(mlp, (1, 8, 8))]
    ['flatten', 'fc']
    >>> check_representable(nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.Sigmoid(),
    ...                                   nn.Linear(8, 10)), (1, 8, 8))
    Traceback (most recent call last):
    ...
    hwprune.errors.UnsupportedModelError: layer '2' (Sigmoid) is not supported by hwprune; ...
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hwprune.errors import ModelError, UnsupportedModelError
from hwprune.models.spec import _WHY_NOT, HARDWARE_OPS

log = logging.getLogger(__name__)

#: kinds that are folded into their neighbours and never need an IR node of their own
PASSIVE_KINDS: frozenset[str] = frozenset({"bn", "relu", "flatten", "identity", "shape"})

_FUNCTIONAL_FIX: dict[str, str] = {
    "relu": "nn.ReLU",
    "relu_": "nn.ReLU",
    "max_pool2d": "nn.MaxPool2d",
    "avg_pool2d": "nn.AvgPool2d",
    "adaptive_avg_pool2d": "nn.AdaptiveAvgPool2d",
    "conv2d": "nn.Conv2d",
    "linear": "nn.Linear",
    "batch_norm": "nn.BatchNorm2d",
    "dropout": "nn.Dropout",
    "mean": "nn.AdaptiveAvgPool2d(1) (global average pool)",
}
_ADDS = {operator.add, operator.iadd, torch.add, "add", "add_", "__add__", "__iadd__"}
_FLATTENS = {torch.flatten, "flatten", "view", "reshape", "squeeze"}
_IDENTITIES = {"contiguous"}
_SHAPE = {"size", "dim", getattr, "shape"}
_MODULE_KINDS: tuple[tuple[type, str], ...] = (
    (nn.Linear, "fc"),
    (nn.MaxPool2d, "maxpool"),
    (nn.AdaptiveAvgPool2d, "gap"),
    (nn.AvgPool2d, "gap"),
    (nn.BatchNorm1d, "bn"),
    (nn.BatchNorm2d, "bn"),
    (nn.ReLU, "relu"),
    (nn.Flatten, "flatten"),
    (nn.Identity, "identity"),
    (nn.Dropout, "identity"),
)
_FIX_CHAIN = "use Conv2d, Linear, MaxPool2d, BatchNorm, ReLU and Flatten modules"


@dataclass(frozen=True)
class TracedNode:
    """One node of the traced model: its kind, a name for messages, and its data inputs."""

    kind: str
    name: str
    what: str
    inputs: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...] = ()
    key: str = ""  # the fx node's own name (what ``inputs`` refer to)


@contextmanager
def zero_batch(
    model: nn.Module, input_shape: Sequence[int], module: nn.Module | None = None
) -> Iterator[torch.Tensor]:
    """A batch of one zero input for a probing forward pass of a user's model.

    ``module`` (default ``model``) is in eval mode without gradients inside the block;
    ``model``'s training mode is restored after it. Any error of the user's model inside
    the block becomes a :class:`~hwprune.errors.ModelError`.

    Example:
        >>> with zero_batch(nn.Linear(4, 2), (4,)) as x:
        ...     tuple(x.shape)
        (1, 4)
    """
    was_training = model.training
    try:
        (model if module is None else module).eval()
        with torch.no_grad():
            yield torch.zeros(1, *[int(s) for s in input_shape])
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - any user-model failure becomes a ModelError
        raise ModelError(
            f"the model failed on an input of shape {tuple(input_shape)} ({exc}); check that "
            "the model matches the dataset's input shape"
        ) from exc
    finally:
        model.train(was_training)


def _module_kind(mod: nn.Module) -> str | None:
    if isinstance(mod, nn.Conv2d):
        if mod.groups == 1:
            return "conv"
        if mod.groups == mod.in_channels == mod.out_channels:
            return "depthwise"
        return "grouped"
    for cls, kind in _MODULE_KINDS:
        if isinstance(mod, cls):
            return kind
    return None


def _target_name(target: Any) -> str:
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


def _shape_of(node: Any) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta") if hasattr(node, "meta") else None
    return (
        tuple(int(d) for d in meta.shape) if meta is not None and hasattr(meta, "shape") else None
    )


def _classify(node: Any, modules: dict[str, nn.Module]) -> tuple[str, str]:
    """(kind, what) of one fx node; kind "unsupported"/"functional" carries the fix in ``what``."""
    if node.op == "call_module":
        mod = modules[node.target]
        kind = _module_kind(mod)
        return (kind or "unsupported"), type(mod).__name__
    target = node.target
    tname = _target_name(target)
    if target in _ADDS or tname in _ADDS:
        tensors = [a for a in node.args if hasattr(a, "op")]
        return ("residual" if len(tensors) == 2 else "unsupported"), "add"
    if target in _FLATTENS or tname in _FLATTENS:
        return "flatten", tname
    if target in _SHAPE or tname in _SHAPE:
        return "shape", tname
    if tname in _IDENTITIES:
        return "identity", tname
    if tname in _FUNCTIONAL_FIX:
        return "functional", tname
    return "unsupported", tname


def trace_nodes(model: nn.Module, input_shape: Sequence[int]) -> list[TracedNode] | None:
    """The model's computation as :class:`TracedNode` s, or ``None`` when fx cannot trace it.

    Example:
        >>> from torch import nn
        >>> [n.kind for n in trace_nodes(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), (1, 2, 2))]
        ['flatten', 'fc']
    """
    from torch.fx import symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp

    try:
        gm = symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 - data-dependent control flow etc.
        log.warning(
            "cannot trace %s with torch.fx (%s: %s); only its modules are checked",
            type(model).__name__,
            type(exc).__name__,
            exc,
        )
        return None
    with zero_batch(model, input_shape, module=gm) as x:
        ShapeProp(gm).propagate(x)
    modules = dict(gm.named_modules())
    out = []
    for node in gm.graph.nodes:
        if node.op in ("placeholder", "output", "get_attr"):
            continue
        kind, what = _classify(node, modules)
        args = [a for a in node.all_input_nodes if a.op != "get_attr"]
        shapes = tuple(s for s in (_shape_of(a) for a in args) if s is not None)
        name = node.target if node.op == "call_module" else node.name
        inputs = tuple(a.name for a in args)
        out.append(TracedNode(kind, str(name), what, inputs, shapes, node.name))
    return out


def _refuse(
    node: TracedNode, supported: Collection[str], names: dict[str, str] | None = None
) -> str | None:
    """The one-line reason ``node`` cannot be built, or None (``names``: fx key -> layer name)."""
    label = f"layer '{node.name}' ({node.what})"
    if node.kind == "residual":
        ins = [f"'{(names or {}).get(i, i)}'" for i in node.inputs]
        label = f"the add '{node.name}' of {' and '.join(ins)}"
    if node.kind == "unsupported":
        if node.what == "add":
            return f"{label} adds a constant or more than two tensors; {_FIX_CHAIN}"
        return f"{label} is not supported by hwprune; {_FIX_CHAIN}"
    if node.kind == "functional":
        fix = _FUNCTIONAL_FIX[node.what]
        return (
            f"the functional call '{node.what}' at '{node.name}' is invisible to pruning and "
            f"quantization; use an {fix} module instead"
        )
    if node.kind == "residual" and len(set(node.shapes)) > 1:
        return (
            f"{label} joins tensors of shapes {list(node.shapes)}, which cannot "
            "be coupled channel for channel; give both inputs the same shape (a 1x1 conv with "
            "stride on the shortcut)"
        )
    if node.kind in supported or node.kind in PASSIVE_KINDS:
        return None
    why = _WHY_NOT.get(node.kind, f"'{node.kind}' is not supported by the hardware model")
    return f"{label}: {why}"


def check_representable(
    model: nn.Module, input_shape: Sequence[int], supported: Collection[str] = HARDWARE_OPS
) -> list[TracedNode] | None:
    """Refuse a model the pipeline cannot represent, naming the first offending layer.

    Returns the traced nodes (``None`` when fx could not trace the model).

    ``supported`` is the set of node kinds the hardware model can build (default
    ``HARDWARE_OPS``). Raises :class:`~hwprune.errors.UnsupportedModelError` for an unsupported
    module, a functional call pruning/quantization cannot see, an add (residual) the IR cannot
    price yet or cannot couple, or a branch that no add joins. Models ``torch.fx`` cannot trace
    are let through with a warning (their modules are still checked by the tracer of
    :func:`hwprune.models.model_layers`).

    Example:
        >>> from hwprune.models import build_model, get_spec
        >>> len(check_representable(build_model(get_spec("cnn-digits")), (1, 8, 8)))
        16
    """
    nodes = trace_nodes(model, input_shape)
    if nodes is None:
        for name, mod in model.named_modules():
            kind = _module_kind(mod)
            if kind is not None and kind not in supported and kind not in PASSIVE_KINDS:
                node = TracedNode(kind, name, type(mod).__name__, ())
                raise UnsupportedModelError(_refuse(node, supported) or "")
        return None
    uses: dict[str, int] = {}
    for node in nodes:
        if node.kind != "shape":
            for i in node.inputs:
                uses[i] = uses.get(i, 0) + 1
    has_add = any(n.kind == "residual" for n in nodes)
    by_name = {n.key: n for n in nodes}
    names = {n.key: n.name for n in nodes}
    for node in nodes:
        reason = _refuse(node, supported, names)
        if reason:
            raise UnsupportedModelError(reason)
    for name, count in uses.items():
        if count > 1 and not has_add:
            src = by_name.get(name)
            label = f"'{src.name}'" if src is not None else "the input"
            raise UnsupportedModelError(
                f"the output of {label} feeds {count} layers but no add joins the branches; "
                "hwprune builds chains (and, later, residual adds); " + _FIX_CHAIN
            )
    return nodes
