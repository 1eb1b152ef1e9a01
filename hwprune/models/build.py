"""Build float PyTorch models from a :class:`ModelSpec`, and read design layers back from any model.

Example:
    >>> import torch
    >>> from hwprune.models import build_model, get_spec, model_layers, prunable_layers
    >>> model = build_model(get_spec("cnn-digits"))
    >>> model(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    >>> [name for name, _ in prunable_layers(model)]
    ['conv0', 'conv1', 'conv3', 'fc5']
    >>> model_layers(model, (1, 8, 8))[-1]
    {'op': 'fc', 'out': 10}
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Collection, Sequence
from typing import Any

import torch
from torch import nn

from hwprune.errors import HwpruneError, ModelError
from hwprune.models.spec import ModelSpec, output_shapes
from hwprune.models.support import zero_batch


class SpecNet(nn.Sequential):
    """A float network built from a :class:`ModelSpec` (an ``nn.Sequential`` that keeps its spec).

    Children are named ``conv{i}``/``bn{i}``/``relu{i}``, ``pool{i}``, ``gap{i}``, ``res{i}``
    (a :class:`ResidualBlock`), ``flatten{i}``, ``fc{i}``/``bn{i}``/``relu{i}`` and ``head``, where
    ``i`` is the index in ``spec.layers``.
    """

    def __init__(self, spec: ModelSpec, modules: OrderedDict[str, nn.Module]) -> None:
        super().__init__(modules)
        self.spec = spec


class ResidualBlock(nn.Module):
    """``relu(add_quant(body(x)) + add_quant(shortcut(x)))``: a residual block hwprune can quantize.

    ``body`` and ``shortcut`` are ``nn.Sequential`` of Conv2d -> BatchNorm2d (-> ReLU except after
    the last conv); an empty ``shortcut`` is the identity. ``add_quant`` is an ``nn.Identity`` in
    the float model; :func:`hwprune.compress.quant.to_brevitas` makes it ONE shared quantizer, so
    both inputs of the add have the same scale (an integer add).

    Example:
        >>> import torch
        >>> body = nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2))
        >>> blk = ResidualBlock(body, nn.Sequential())
        >>> blk(torch.zeros(1, 2, 3, 3)).shape
        torch.Size([1, 2, 3, 3])
    """

    def __init__(self, body: nn.Sequential, shortcut: nn.Sequential) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.add_quant: nn.Module = nn.Identity()
        self.relu: nn.Module = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.add_quant(self.body(x)) + self.add_quant(self.shortcut(x)))


def _branch(c: int, layers: Sequence[dict[str, Any]]) -> nn.Sequential:
    mods: OrderedDict[str, nn.Module] = OrderedDict()
    for j, lay in enumerate(layers):
        k, s, p, g = lay["kernel"], lay["stride"], lay["pad"], lay["groups"]
        mods[f"conv{j}"] = nn.Conv2d(c, lay["out_ch"], k, stride=s, padding=p, groups=g, bias=False)
        mods[f"bn{j}"] = nn.BatchNorm2d(lay["out_ch"])
        if j < len(layers) - 1:
            mods[f"relu{j}"] = nn.ReLU()
        c = lay["out_ch"]
    return nn.Sequential(mods)


def build_model(spec: ModelSpec) -> SpecNet:
    """Float model for ``spec``: Conv/Linear (bias=False) -> BatchNorm -> ReLU, pools where listed.

    The input is NCHW; a ``Flatten`` is inserted before the first fc (C, H, W order). The head is a
    bias-free Linear with no BN and no activation. ``gap`` is an ``nn.AdaptiveAvgPool2d(1)``, a
    ``residual`` layer a :class:`ResidualBlock`.

    Example:
        >>> from hwprune.models import get_spec
        >>> build_model(get_spec("mlp-digits"))[0]
        Flatten(start_dim=1, end_dim=-1)
    """
    mods: OrderedDict[str, nn.Module] = OrderedDict()
    shapes = output_shapes(spec.input_shape, spec.layers)
    c = spec.input_shape[0]
    flat: int | None = None
    last = len(spec.layers) - 1
    for i, lay in enumerate(spec.layers):
        op = lay["op"]
        if op == "conv":
            k, s, p, g = lay["kernel"], lay["stride"], lay["pad"], lay["groups"]
            mods[f"conv{i}"] = nn.Conv2d(
                c, lay["out_ch"], k, stride=s, padding=p, groups=g, bias=False
            )
            mods[f"bn{i}"] = nn.BatchNorm2d(lay["out_ch"])
            mods[f"relu{i}"] = nn.ReLU()
        elif op == "maxpool":
            mods[f"pool{i}"] = nn.MaxPool2d(lay["kernel"])
        elif op == "gap":
            mods[f"gap{i}"] = nn.AdaptiveAvgPool2d(1)
        elif op == "residual":
            mods[f"res{i}"] = ResidualBlock(_branch(c, lay["body"]), _branch(c, lay["shortcut"]))
        else:
            if flat is None:
                mods[f"flatten{i}"] = nn.Flatten()
                flat = math.prod(shapes[i - 1]) if i else math.prod(spec.input_shape)
            if i == last:
                mods["head"] = nn.Linear(flat, lay["out"], bias=False)
            else:
                mods[f"fc{i}"] = nn.Linear(flat, lay["out"], bias=False)
                mods[f"bn{i}"] = nn.BatchNorm1d(lay["out"])
                mods[f"relu{i}"] = nn.ReLU()
            flat = lay["out"]
        c = shapes[i][0]
    return SpecNet(spec, mods)


def compute_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """All Conv2d/Linear modules of ``model`` in registration order (head = the last one)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def prunable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Conv/Linear layers that may be pruned, in forward order; the classifier head is excluded.

    Modules are taken in registration order, which is forward order for ``nn.Sequential`` models
    and for the usual hand-written networks; the last Conv/Linear is the head.

    Example:
        >>> from hwprune.models import build_model, get_spec
        >>> [n for n, _ in prunable_layers(build_model(get_spec("mlp-digits")))]
        ['fc0', 'fc1', 'fc2']
    """
    mods = compute_modules(model)
    if not mods:
        raise ModelError("the model has no Conv2d or Linear layer; nothing to prune or quantize")
    if not isinstance(mods[-1][1], nn.Linear):
        raise ModelError(
            "the model's last weight layer must be an nn.Linear classifier head; add one"
        )
    return mods[:-1]


def _pair(v: Any, what: str, name: str) -> int:
    if isinstance(v, tuple):
        if len(set(v)) != 1:
            raise ModelError(f"layer '{name}' has a non-square {what} {v}; use square {what}s")
        v = v[0]
    return int(v)


def conv_record(mod: nn.Conv2d, name: str) -> dict[str, Any]:
    """The design layer of one ``nn.Conv2d`` (square kernel/stride/padding; "same"/"valid").

    Example:
        >>> conv_record(nn.Conv2d(1, 8, 3, padding="same"), "c")["pad"]
        1
    """
    k = _pair(mod.kernel_size, "kernel", name)
    if isinstance(mod.padding, str):  # "same" (stride 1) or "valid"
        pad = (k - 1) // 2 if mod.padding == "same" else 0
    else:
        pad = _pair(mod.padding, "padding", name)
    return {
        "op": "conv",
        "out_ch": int(mod.out_channels),
        "kernel": k,
        "stride": _pair(mod.stride, "stride", name),
        "pad": int(pad),
        "groups": int(mod.groups),
    }


def _check_shapes(
    records: Sequence[dict[str, Any]],
    seen: Sequence[tuple[str, tuple[int, ...]]],
    input_shape: Sequence[int],
) -> None:
    """ModelError when a layer's real input differs from what the traced layers predict.

    Modules hwprune does not model (AdaptiveAvgPool2d, AvgPool2d, Upsample, ...) change shapes
    invisibly; pricing such a model would be silently wrong, so it is refused instead.
    """
    try:
        predicted = [tuple(int(d) for d in input_shape), *output_shapes(input_shape, records)]
    except HwpruneError as exc:
        raise ModelError(f"the traced layers do not chain ({exc}); change the model") from None
    for i, (name, real) in enumerate(seen):
        want = predicted[i]
        same = real == want or (records[i]["op"] == "fc" and math.prod(real) == math.prod(want))
        if not same:
            raise ModelError(
                f"layer '{name}' gets an input of shape {real} but its Conv2d/Linear/MaxPool2d "
                f"predecessors give {want}: a module hwprune does not model (e.g. "
                "AdaptiveAvgPool2d, AvgPool2d) changes the shape; use only Conv2d, Linear, "
                "MaxPool2d, BatchNorm, ReLU and Flatten"
            )


def model_layers(
    model: nn.Module, input_shape: Sequence[int], supported: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """Design layers of any ``nn.Module``, traced from a forward pass of one dummy input.

    Conv2d, Linear, MaxPool2d and global average pool (``gap``) modules are recorded in the order
    they run. BatchNorm/ReLU are implied. First,
    :func:`hwprune.models.support.check_representable` refuses (before anything is trained) a
    model with a module, functional call, add or branch the hardware model cannot build, naming
    the layer (:class:`~hwprune.errors.UnsupportedModelError`). Raises
    :class:`ModelError` when the layers do not run in registration order or one runs twice
    (pruning and quantization rely on registration order).

    ``supported`` (default ``HARDWARE_OPS``) is the set of node kinds accepted. Where it admits
    ``residual``, a model with adds is read from its fx graph into ``residual`` blocks by
    :func:`hwprune.models.convert.residual_spec_layers` (then use
    :func:`hwprune.models.convert.to_spec_net` as the parent, so the adds get a shared quantizer).

    Example:
        >>> from hwprune.models import build_model, get_spec
        >>> model_layers(build_model(get_spec("mlp-digits")), (1, 8, 8))[0]
        {'op': 'fc', 'out': 64}
    """
    from hwprune.models.spec import HARDWARE_OPS
    from hwprune.models.support import check_representable

    nodes = check_representable(
        model, input_shape, HARDWARE_OPS if supported is None else supported
    )
    if nodes and any(n.kind == "residual" for n in nodes):
        from hwprune.models.convert import residual_spec_layers

        layers = residual_spec_layers(model, input_shape)
        try:
            output_shapes(input_shape, layers)
        except HwpruneError as exc:
            raise ModelError(f"the traced layers do not chain ({exc}); change the model") from None
        return layers
    records: list[dict[str, Any]] = []
    seen: list[tuple[str, tuple[int, ...]]] = []  # (module name, its real input shape)
    order: list[str] = []
    hooks = []

    def hook(mod: nn.Module, inp: Any, out: Any, name: str) -> None:
        order.append(name)
        seen.append((name, tuple(int(d) for d in inp[0].shape[1:])))
        if isinstance(mod, nn.Conv2d):
            records.append(conv_record(mod, name))
        elif isinstance(mod, nn.Linear):
            records.append({"op": "fc", "out": int(mod.out_features)})
        elif isinstance(mod, nn.MaxPool2d):
            k = _pair(mod.kernel_size, "kernel", name)
            s = _pair(mod.stride, "stride", name) if mod.stride is not None else k
            if s != k or _pair(mod.padding, "padding", name) != 0 or mod.ceil_mode:
                raise ModelError(
                    f"max-pool '{name}' must have stride = kernel, no padding and no ceil_mode "
                    f"(got kernel {k}, stride {s}); change the model"
                )
            records.append({"op": "maxpool", "kernel": k})
        elif isinstance(mod, (nn.AdaptiveAvgPool2d, nn.AvgPool2d)):
            if tuple(int(d) for d in out.shape[2:]) != (1, 1):
                raise ModelError(
                    f"average pool '{name}' gives a {tuple(out.shape[2:])} map; only global "
                    "average pooling (to 1x1, e.g. AdaptiveAvgPool2d(1)) is supported"
                )
            records.append({"op": "gap"})

    for name, mod in model.named_modules():
        if isinstance(
            mod, (nn.Conv2d, nn.Linear, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.AvgPool2d)
        ):
            hooks.append(mod.register_forward_hook(lambda m, i, o, name=name: hook(m, i, o, name)))
    try:
        with zero_batch(model, input_shape) as x:
            model(x)
    finally:
        for h in hooks:
            h.remove()
    if not records or records[-1]["op"] != "fc":
        raise ModelError("the model must end with an nn.Linear classifier head; add one")
    _check_shapes(records, seen, input_shape)
    ran = [n for n in order if isinstance(model.get_submodule(n), (nn.Conv2d, nn.Linear))]
    registered = [n for n, _ in compute_modules(model)]
    if ran != registered:
        raise ModelError(
            f"the model's Conv2d/Linear layers run in the order {ran} but are registered as "
            f"{registered}; define them in forward order and call each one once"
        )
    return records
