"""A user's residual float model as a spec, and as a :class:`SpecNet` with the user's weights.

A residual model written the usual way (``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``)
has its adds in ``forward``, where pruning sees them (torch-pruning traces them) but quantization
cannot put a shared quantizer on them. :func:`residual_spec_layers` reads the model's ``torch.fx``
graph into design layers with ``residual`` blocks (and ``gap``), and :func:`to_spec_net` copies the
user's weights into the equivalent :class:`~hwprune.models.build.SpecNet`, whose
:class:`~hwprune.models.build.ResidualBlock` s the quantizer understands. Chains never need this:
the user's module is used as it is.

The blocks it recognises are the :class:`ResidualBlock` shape: the two branches leave one tensor,
each is a run of Conv2d -> BatchNorm2d (-> ReLU, except after its last conv), an empty branch is
the identity, they meet in one add, and a ReLU follows the add. Anything else is refused with an
:class:`~hwprune.errors.UnsupportedModelError` naming the layer.

Example:
    >>> import torch
    >>> from hwprune.models import build_model, get_spec
    >>> spec = get_spec("resnet8", (1, 8, 8), width_mult=0.25)
    >>> residual_spec_layers(build_model(spec), (1, 8, 8)) == list(spec.layers)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from hwprune.errors import UnsupportedModelError
from hwprune.models.build import _pair, build_model, conv_record
from hwprune.models.spec import ModelSpec, walk_leaves

_BLOCK_FIX = (
    "write each residual block as relu(bn(conv(...)) + shortcut), the shortcut empty or "
    "Conv2d -> BatchNorm2d"
)


@dataclass
class _Graph:
    """The fx graph reduced to what the conversion needs."""

    modules: dict[str, nn.Module]
    order: list[Any]  # fx nodes, topological
    users: dict[str, list[Any]] = field(default_factory=dict)


def _trace(model: nn.Module) -> _Graph:
    from torch.fx import symbolic_trace

    gm = symbolic_trace(model)
    order = [n for n in gm.graph.nodes if n.op not in ("get_attr", "output")]
    g = _Graph(dict(gm.named_modules()), order)
    for n in order:
        for a in n.all_input_nodes:
            if _is_shape(n):
                continue
            g.users.setdefault(a.name, []).append(n)
    return g


def _is_shape(node: Any) -> bool:
    return node.op in ("call_method", "call_function") and getattr(
        node.target, "__name__", node.target
    ) in ("size", "dim", "getattr")


def _is_add(node: Any) -> bool:
    name = getattr(node.target, "__name__", node.target)
    return node.op in ("call_function", "call_method") and name in ("add", "iadd", "add_")


def _mod(g: _Graph, node: Any) -> nn.Module | None:
    return g.modules.get(node.target) if node.op == "call_module" else None


@dataclass
class _Leaf:
    """A compute leaf found in the user's model: its layer, module and BatchNorm names."""

    layer: dict[str, Any]
    module: str
    bn: str | None


def _branch(g: _Graph, start: str, end: Any) -> list[Any]:
    """Nodes from just after value ``start`` up to node ``end`` following single inputs."""
    path = []
    node = end
    while node.name != start:
        path.append(node)
        ins = [a for a in node.all_input_nodes if a.op != "get_attr"]
        if len(ins) != 1:
            raise UnsupportedModelError(
                f"layer '{node.target}' inside a residual branch has {len(ins)} inputs; "
                + _BLOCK_FIX
            )
        node = ins[0]
    return path[::-1]


def _branch_leaves(g: _Graph, nodes: list[Any], add: Any) -> list[_Leaf]:
    """Conv -> BN (-> ReLU) runs of one branch; the last conv has no ReLU."""
    leaves: list[_Leaf] = []
    expect_relu = False
    for n in nodes:
        mod = _mod(g, n)
        if isinstance(mod, nn.Conv2d):
            if expect_relu:
                raise UnsupportedModelError(
                    f"conv '{n.target}' in the branch into '{add.name}' follows a BatchNorm "
                    "without a ReLU; " + _BLOCK_FIX
                )
            leaves.append(_Leaf(conv_record(mod, str(n.target)), str(n.target), None))
        elif isinstance(mod, nn.BatchNorm2d) and leaves and leaves[-1].bn is None:
            leaves[-1].bn = str(n.target)
            expect_relu = True
        elif isinstance(mod, nn.ReLU) and expect_relu:
            expect_relu = False
        elif not isinstance(mod, (nn.Identity, nn.Dropout)):
            what = type(mod).__name__ if mod is not None else n.name
            raise UnsupportedModelError(
                f"'{what}' at '{n.name}' in the branch into '{add.name}'; " + _BLOCK_FIX
            )
    if leaves and (not expect_relu or any(x.bn is None for x in leaves)):
        raise UnsupportedModelError(
            f"the branch into '{add.name}' must end with a BatchNorm2d and no ReLU (the ReLU "
            "comes after the add), every conv followed by a BatchNorm2d; " + _BLOCK_FIX
        )
    return leaves


def _residual(g: _Graph, start: str, add: Any) -> tuple[dict[str, Any], list[_Leaf], Any, set]:
    """(residual layer, its leaves body-then-shortcut, the ReLU after the add, nodes used)."""
    ins = [a for a in add.all_input_nodes if a.op != "get_attr"]
    paths = [_branch(g, start, a) if a.name != start else [] for a in ins]
    branches = [_branch_leaves(g, p, add) for p in paths]
    if len(branches[1]) > len(branches[0]):
        branches = branches[::-1]
    relu = g.users.get(add.name, [])
    if len(relu) != 1 or not isinstance(_mod(g, relu[0]), nn.ReLU):
        raise UnsupportedModelError(f"the add '{add.name}' must be followed by one nn.ReLU module")
    layer = {
        "op": "residual",
        "body": [x.layer for x in branches[0]],
        "shortcut": [x.layer for x in branches[1]],
    }
    used = {n.name for p in paths for n in p} | {add.name, relu[0].name}
    return layer, branches[0] + branches[1], relu[0], used


def _chain_leaf(g: _Graph, n: Any) -> _Leaf | None:
    mod = _mod(g, n)
    name = str(n.target)
    if isinstance(mod, nn.Conv2d):
        return _Leaf(conv_record(mod, name), name, None)
    if isinstance(mod, nn.Linear):
        return _Leaf({"op": "fc", "out": int(mod.out_features)}, name, None)
    if isinstance(mod, nn.MaxPool2d):
        return _Leaf({"op": "maxpool", "kernel": _pair(mod.kernel_size, "kernel", name)}, "", None)
    if isinstance(mod, (nn.AdaptiveAvgPool2d, nn.AvgPool2d)):
        return _Leaf({"op": "gap"}, "", None)
    return None


def _walk(model: nn.Module) -> tuple[list[dict[str, Any]], list[_Leaf]]:
    g = _trace(model)
    layers: list[dict[str, Any]] = []
    leaves: list[_Leaf] = []
    cur = next(n.name for n in g.order if n.op == "placeholder")
    used: set[str] = set()
    for n in g.order:
        if n.op == "placeholder" or n.name in used or _is_shape(n):
            continue
        users = g.users.get(cur, [])
        if len(users) > 1:  # a fork: find the add that joins it
            add = next((u for u in g.order if _is_add(u) and _reaches(g, cur, u)), None)
            if add is None:
                raise UnsupportedModelError(
                    f"the output of '{cur}' feeds {len(users)} layers but no add joins them"
                )
            layer, block_leaves, relu, block_used = _residual(g, cur, add)
            layers.append(layer)
            leaves += block_leaves
            used |= block_used
            cur = relu.name
            continue
        leaf = _chain_leaf(g, n)
        mod = _mod(g, n)
        if leaf is not None:
            layers.append(leaf.layer)
            if leaf.module:
                leaves.append(leaf)
        elif isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)) and leaves and not leaves[-1].bn:
            leaves[-1].bn = str(n.target)
        cur = n.name
    return layers, leaves


def _reaches(g: _Graph, src: str, dst: Any) -> bool:
    """True when every data input path of ``dst`` leads back to value ``src``."""
    ins = [a for a in dst.all_input_nodes if a.op != "get_attr"]
    if len(ins) != 2:
        return False
    for a in ins:
        node = a
        while node.name != src:
            prev = [x for x in node.all_input_nodes if x.op != "get_attr"]
            if len(prev) != 1:
                return False
            node = prev[0]
    return True


def residual_spec_layers(model: nn.Module, input_shape: Sequence[int]) -> list[dict[str, Any]]:
    """Design layers of a residual float model, read from its ``torch.fx`` graph.

    Raises :class:`~hwprune.errors.UnsupportedModelError` naming the layer when a block does not
    have the :class:`~hwprune.models.build.ResidualBlock` shape (see the module docstring).
    """
    layers, _ = _walk(model)
    return layers


def to_spec_net(model: nn.Module, spec: ModelSpec) -> nn.Module:
    """The :class:`SpecNet` of ``spec`` holding ``model``'s weights (computes what it computes).

    Conv/linear biases before a BatchNorm are folded into its running mean (exact in eval mode;
    in training the batch mean cancels them anyway); a biased head keeps its bias.

    Example:
        >>> import torch
        >>> from hwprune.models import build_model, get_spec
        >>> spec = get_spec("resnet8", (1, 8, 8), width_mult=0.25)
        >>> user = build_model(spec).eval()
        >>> x = torch.rand(2, 1, 8, 8)
        >>> torch.equal(to_spec_net(user, spec).eval()(x), user(x))
        True
    """
    _, leaves = _walk(model)
    net = build_model(spec)
    targets = [x for x in walk_leaves(spec.input_shape, spec.layers) if x.name]
    if len(targets) != len(leaves):
        raise UnsupportedModelError(
            f"the model has {len(leaves)} conv/linear layers but its spec {len(targets)}; "
            + _BLOCK_FIX
        )
    user = dict(model.named_modules())
    for leaf, tgt in zip(leaves, targets, strict=True):
        src: Any = user[leaf.module]
        dst: Any = net.get_submodule(tgt.name)
        if tgt.name == "head":
            if src.bias is not None:
                net.head = dst = nn.Linear(src.in_features, src.out_features, bias=True)
                dst.bias.data.copy_(src.bias.data)
            dst.weight.data.copy_(src.weight.data)
            continue
        if leaf.bn is None:
            raise UnsupportedModelError(
                f"layer '{leaf.module}' has no BatchNorm after it; in a residual model give every "
                "hidden Conv2d/Linear a BatchNorm"
            )
        dst.weight.data.copy_(src.weight.data)
        bn_name = tgt.name.replace("conv", "bn").replace("fc", "bn")
        bn = net.get_submodule(bn_name)
        bn.load_state_dict(user[leaf.bn].state_dict())
        if src.bias is not None:
            with torch.no_grad():
                bn.running_mean -= src.bias.data
    net.train(model.training)
    return net
