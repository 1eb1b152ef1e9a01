"""Model specs: a network described as an input shape plus an ordered list of design layers.

The layer vocabulary is the one shared by the model zoo, the FPGA cost model's design description
and the search ("design layers"):

* ``{"op": "conv", "out_ch": int, "kernel": int, "stride": 1, "pad": 0, "groups": 1}``
  (``groups = in_ch = out_ch`` is a depthwise convolution: its channels follow its producer's)
* ``{"op": "maxpool", "kernel": int}`` (stride = kernel)
* ``{"op": "fc", "out": int}`` (flattens a (C, H, W) input in C, H, W order)
* ``{"op": "gap"}``: global average pooling, (C, H, W) -> (C, 1, 1)
* ``{"op": "residual", "body": [conv, ...], "shortcut": [] or [conv, ...]}``: ``relu(body(x) +
  shortcut(x))``; an empty shortcut is the identity. Inside a block every conv has BN + ReLU
  except the last conv of the body and of the shortcut (BN only): the ReLU comes after the add.

Every conv/fc is followed by BatchNorm + activation, except the last fc (the classifier head: no
BN, never pruned). Compute layers are numbered in order, a residual block's body before its
shortcut. Quantized designs add ``"wbits"`` and ``"abits"`` to each conv/fc
(:meth:`ModelSpec.design_layers`).

Channels that must stay equal are *coupled* (:meth:`ModelSpec.channel_groups`): the convs whose
outputs meet in one add, and a depthwise conv with the layer that feeds it. The search offers one
channel count per group and expands it with :meth:`ModelSpec.widths_from_groups`.

Not every spec can be built as hardware yet: :func:`require_hardware_support` names the first layer
the dataflow IR cannot price (``HARDWARE_OPS``); relax it node kind by node kind.

Example:
    >>> spec = ModelSpec("mlp", (1, 8, 8), 10, ({"op": "fc", "out": 32}, {"op": "fc", "out": 10}))
    >>> spec.prunable_widths()
    [32]
    >>> spec.with_widths([16]).layers[0]["out"]
    16
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hwprune.errors import ConfigError, UnsupportedModelError

_CONV_DEFAULTS = {"stride": 1, "pad": 0, "groups": 1}

#: Design-layer kinds the dataflow IR (``hwprune.ir``) can price and the export can lower today.
#: "depthwise" is a conv with groups = channels; "grouped" any other groups > 1.
HARDWARE_OPS: frozenset[str] = frozenset({"conv", "depthwise", "maxpool", "fc", "residual", "gap"})

_WHY_NOT: dict[str, str] = {
    "residual": "residual networks (skip connections and adds) are not yet supported by the "
    "hardware model (the dataflow IR has no add/duplicate-stream nodes yet); use a chain model "
    "(Conv2d/Linear/MaxPool2d) such as cnn-digits or cnv",
    "gap": "global average pooling is not yet supported by the hardware model; use a MaxPool2d "
    "(stride = kernel) or flatten into the classifier",
    "grouped": "grouped convolutions other than depthwise (groups = in = out channels) are not "
    "supported; use groups=1 or depthwise",
}


def normalize_layer(layer: Mapping[str, Any]) -> dict[str, Any]:
    """Return a validated copy of one design layer with defaults filled in.

    Example:
        >>> normalize_layer({"op": "conv", "out_ch": 8, "kernel": 3})["stride"]
        1
    """
    op = layer.get("op")
    out = dict(layer)
    if op == "conv":
        for key in ("out_ch", "kernel"):
            if not isinstance(out.get(key), int) or out[key] < 1:
                raise ConfigError(f"conv layer {dict(layer)} needs a positive integer '{key}'")
        for key, default in _CONV_DEFAULTS.items():
            out.setdefault(key, default)
    elif op == "maxpool":
        if not isinstance(out.get("kernel"), int) or out["kernel"] < 1:
            raise ConfigError(f"maxpool layer {dict(layer)} needs a positive integer 'kernel'")
    elif op == "fc":
        if not isinstance(out.get("out"), int) or out["out"] < 1:
            raise ConfigError(f"fc layer {dict(layer)} needs a positive integer 'out'")
    elif op == "gap":
        pass
    elif op == "residual":
        body, short = out.get("body"), out.get("shortcut", [])
        if not isinstance(body, (list, tuple)) or not body or not isinstance(short, (list, tuple)):
            raise ConfigError(
                "a residual layer needs a non-empty 'body' list of conv layers and a 'shortcut' "
                "list (empty for the identity)"
            )
        out["body"] = [_branch_conv(b) for b in body]
        out["shortcut"] = [_branch_conv(b) for b in short]
    else:
        raise ConfigError(
            f"unknown layer op {op!r} in {dict(layer)}; use 'conv', 'maxpool', 'fc', 'gap' or "
            "'residual'"
        )
    return out


def _branch_conv(layer: Any) -> dict[str, Any]:
    if not isinstance(layer, Mapping) or layer.get("op") != "conv":
        raise ConfigError(f"a residual branch holds only conv layers, got {layer!r}")
    return normalize_layer(layer)


def is_compute(layer: Mapping[str, Any]) -> bool:
    """True for layers with weights (conv and fc), i.e. the ones that get bit widths."""
    return layer["op"] in ("conv", "fc")


def layer_width(layer: Mapping[str, Any]) -> int:
    """Output channels (conv) or output features (fc) of a compute layer."""
    return int(layer["out_ch"] if layer["op"] == "conv" else layer["out"])


def is_depthwise(layer: Mapping[str, Any], in_ch: int) -> bool:
    """True for a conv with ``groups = in_ch = out_ch > 1`` (its channels follow its input's)."""
    g = int(layer.get("groups", 1))
    return layer["op"] == "conv" and g > 1 and g == in_ch == layer["out_ch"]


def _leaf_shape(shape: tuple[int, ...], layer: Mapping[str, Any]) -> tuple[int, ...]:
    op = layer["op"]
    if op == "fc":
        return (layer["out"],)
    if len(shape) != 3:
        raise ConfigError(f"a {op} layer cannot follow an fc layer; reorder the layers")
    c, h, w = shape
    if op == "conv":
        k, s, p = layer["kernel"], layer.get("stride", 1), layer.get("pad", 0)
        groups = layer.get("groups", 1)
        if c % groups or layer["out_ch"] % groups:
            raise ConfigError(
                f"conv groups={groups} must divide the input ({c}) and output "
                f"({layer['out_ch']}) channels"
            )
        return (layer["out_ch"], (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
    if op == "maxpool":
        return (c, h // layer["kernel"], w // layer["kernel"])
    return (c, 1, 1)  # gap


def _check_nonempty(shape: tuple[int, ...], layer: Mapping[str, Any]) -> None:
    if any(d < 1 for d in shape):
        raise ConfigError(
            f"layer {dict(layer)} reduces the feature map to {shape}; use a larger input, "
            "padding or fewer pooling layers"
        )


def _residual_shape(shape: tuple[int, ...], layer: Mapping[str, Any]) -> tuple[int, ...]:
    branches = []
    for key in ("body", "shortcut"):
        cur = shape
        for sub in layer[key]:
            cur = _leaf_shape(cur, sub)
            _check_nonempty(cur, sub)
        branches.append(cur)
    if branches[0] != branches[1]:
        raise ConfigError(
            f"residual block: the body gives {branches[0]} but the shortcut gives {branches[1]}; "
            "give the shortcut a 1x1 conv with the body's channels and stride"
        )
    return branches[0]


def output_shapes(
    input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]]
) -> list[tuple[int, ...]]:
    """Shape after every layer: (C, H, W) for conv/pool/residual, (N,) for fc.

    Raises :class:`ConfigError` when a layer shrinks the feature map to nothing.

    Example:
        >>> conv = {"op": "conv", "out_ch": 4, "kernel": 3}
        >>> output_shapes((1, 8, 8), [conv, {"op": "fc", "out": 2}])
        [(4, 6, 6), (2,)]
    """
    shape: tuple[int, ...] = tuple(int(s) for s in input_shape)
    shapes = []
    for layer in layers:
        if layer["op"] == "residual":
            if len(shape) != 3:
                raise ConfigError("a residual block cannot follow an fc layer; reorder the layers")
            shape = _residual_shape(shape, layer)
        else:
            shape = _leaf_shape(shape, layer)
        _check_nonempty(shape, layer)
        shapes.append(shape)
    return shapes


@dataclass(frozen=True)
class LeafInfo:
    """One leaf layer of a spec in order: its layer, input channels, role and module name.

    ``role`` is ``"main"``, ``"body"`` or ``"shortcut"``; ``name`` is the module name that
    :func:`hwprune.models.build_model` gives the conv/linear (``""`` for pools).
    """

    layer: dict[str, Any]
    in_ch: int
    role: str
    name: str


def walk_leaves(input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]]) -> list[LeafInfo]:
    """Every leaf layer (residual blocks opened: body, then shortcut) with its input channels.

    Example:
        >>> conv = {"op": "conv", "out_ch": 1, "kernel": 1}
        >>> res = normalize_layer({"op": "residual", "body": [conv]})
        >>> [(x.name, x.role) for x in walk_leaves((1, 4, 4), [res, {"op": "fc", "out": 2}])]
        [('res0.body.conv0', 'body'), ('head', 'main')]
    """
    out: list[LeafInfo] = []
    shape: tuple[int, ...] = tuple(int(s) for s in input_shape)
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        if layer["op"] == "residual":
            for key in ("body", "shortcut"):
                cur = shape
                for j, sub in enumerate(layer[key]):
                    out.append(LeafInfo(dict(sub), int(cur[0]), key, f"res{i}.{key}.conv{j}"))
                    cur = _leaf_shape(cur, sub)
            shape = _residual_shape(shape, layer)
            continue
        op = layer["op"]
        name = {"conv": f"conv{i}", "fc": "head" if i == last else f"fc{i}"}.get(op, "")
        out.append(LeafInfo(dict(layer), int(shape[0]), "main", name))
        shape = _leaf_shape(shape, layer)
    return out


def _map_compute(
    layers: Sequence[Mapping[str, Any]], fn: Callable[[int, dict[str, Any]], dict[str, Any]]
) -> tuple[dict[str, Any], ...]:
    """Copy of ``layers`` with ``fn(k, layer)`` applied to the k-th compute leaf (in order)."""
    k = 0

    def one(layer: Mapping[str, Any]) -> dict[str, Any]:
        nonlocal k
        lay = copy.deepcopy(dict(layer))
        if lay["op"] == "residual":
            lay["body"] = [one(b) for b in lay["body"]]
            lay["shortcut"] = [one(b) for b in lay["shortcut"]]
            return lay
        if is_compute(lay):
            lay = fn(k, lay)
            k += 1
        return lay

    return tuple(one(lay) for lay in layers)


def _iter_compute(layers: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    for lay in layers:
        if lay["op"] == "residual":
            yield from _iter_compute(lay["body"])
            yield from _iter_compute(lay["shortcut"])
        elif is_compute(lay):
            yield dict(lay)


@dataclass(frozen=True)
class ChannelGroup:
    """Prunable layers whose output channels are coupled and keep one channel count.

    ``layers`` are indices into :meth:`ModelSpec.prunable_widths` (or into the prunable layers of a
    float model), ``names`` their module names, ``width`` the current channel count. A residual
    group holds every conv whose output meets in one add (and the producer of an identity
    shortcut); a depthwise conv sits in the group of the layer that feeds it.
    """

    layers: tuple[int, ...]
    names: tuple[str, ...]
    width: int


def spec_channel_groups(
    input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]]
) -> tuple[list[ChannelGroup], list[int]]:
    """(coupled groups, prunable layers fixed to the input's channels) of a spec's layers."""
    leaves = [x for x in walk_leaves(input_shape, layers) if is_compute(x.layer)][:-1]
    parent: dict[int, int] = {-1: -1}  # -1: the network input (channels cannot change)

    def find(a: int) -> int:
        while parent[a] != a:
            a = parent[a]
        return a

    def union(a: int, b: int) -> int:
        ra, rb = find(a), find(b)
        if ra == -1 or rb == -1:
            parent[ra], parent[rb] = -1, -1
            return -1
        parent[max(ra, rb)] = min(ra, rb)
        return min(ra, rb)

    of_layer: dict[int, int] = {}
    k = 0

    def run(seq: Sequence[Mapping[str, Any]], src: int) -> int:
        nonlocal k
        for lay in seq:
            if lay["op"] == "residual":
                a, b = run(lay["body"], src), run(lay["shortcut"], src)
                src = union(a, b)
            elif is_compute(lay):
                if k < len(leaves) and is_depthwise(lay, leaves[k].in_ch):
                    of_layer[k] = src
                else:
                    parent[k] = k
                    of_layer[k] = k
                    src = k
                k += 1
        return src

    run(layers, -1)
    members: dict[int, list[int]] = {}
    fixed = []
    for i in range(len(leaves)):
        root = find(of_layer[i])
        (fixed.append(i) if root == -1 else members.setdefault(root, []).append(i))
    groups = [
        ChannelGroup(tuple(m), tuple(leaves[i].name for i in m), layer_width(leaves[m[0]].layer))
        for m in sorted(members.values())
    ]
    return groups, fixed


def require_hardware_support(spec: ModelSpec) -> None:
    """Raise :class:`UnsupportedModelError` naming the first layer the dataflow IR cannot price.

    Call it before the parent is trained. The supported kinds are ``HARDWARE_OPS``.

    Example:
        >>> from hwprune.models import get_spec
        >>> require_hardware_support(get_spec("cnn-digits"))
        >>> require_hardware_support(get_spec("resnet8", (1, 8, 8)))
        >>> grouped = ModelSpec("g", (4, 8, 8), 2, ({"op": "conv", "out_ch": 4, "kernel": 3,
        ...                     "groups": 2}, {"op": "fc", "out": 2}))
        >>> require_hardware_support(grouped)
        Traceback (most recent call last):
        ...
        hwprune.errors.UnsupportedModelError: model 'g' layer 0 (grouped): grouped convolutions ...
    """
    shape: tuple[int, ...] = spec.input_shape
    for i, lay in enumerate(spec.layers):
        kind = lay["op"]
        if kind == "conv" and lay["groups"] > 1:
            kind = "depthwise" if is_depthwise(lay, shape[0]) else "grouped"
        if kind not in HARDWARE_OPS:
            why = _WHY_NOT.get(kind, f"'{kind}' layers are not supported by the hardware model")
            raise UnsupportedModelError(f"model '{spec.name}' layer {i} ({kind}): {why}")
        shape = _leaf_shape(shape, lay)


@dataclass(frozen=True)
class ModelSpec:
    """A float base network: input shape, number of classes and its design layers (no bits).

    The last layer must be ``{"op": "fc", "out": num_classes}`` (the head).

    Example:
        >>> from hwprune.models import get_spec
        >>> spec = get_spec("mlp-digits")
        >>> spec.input_shape, spec.prunable_widths()
        ((1, 8, 8), [64, 64, 64])
    """

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    layers: tuple[dict[str, Any], ...]

    def __post_init__(self) -> None:
        layers = tuple(normalize_layer(lay) for lay in self.layers)
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        if len(self.input_shape) != 3:
            raise ConfigError(f"input_shape must be (C, H, W), got {self.input_shape}")
        if not layers or layers[-1]["op"] != "fc" or layers[-1]["out"] != self.num_classes:
            raise ConfigError(
                f"model '{self.name}' must end with an fc layer of {self.num_classes} outputs "
                "(the classifier head)"
            )
        output_shapes(self.input_shape, layers)  # validates the geometry

    # -- views -------------------------------------------------------------------------------
    def compute_layers(self) -> list[dict[str, Any]]:
        """The conv/fc layers in order, head included (one entry per wbits/abits value)."""
        return list(_iter_compute(self.layers))

    def prunable_widths(self) -> list[int]:
        """Channel/feature count of every prunable layer (conv/fc except the head), in order."""
        return [layer_width(lay) for lay in self.compute_layers()[:-1]]

    @property
    def num_prunable(self) -> int:
        """Number of prunable layers (= len(prunable_widths()))."""
        return len(self.prunable_widths())

    @property
    def num_quant_layers(self) -> int:
        """Number of conv/fc layers, head included (= len of wbits/abits lists)."""
        return len(self.compute_layers())

    def channel_groups(self) -> list[ChannelGroup]:
        """Coupled prunable layers: one channel count per group (see :class:`ChannelGroup`).

        A chain without depthwise convs has one group per prunable layer. Layers coupled to the
        network input (a depthwise conv on the image) are in no group: their width is fixed.

        Example:
            >>> from hwprune.models import get_spec
            >>> [g.layers for g in get_spec("resnet8", (1, 8, 8), width_mult=0.25).channel_groups()]
            [(0, 2), (1,), (3,), (4, 5), (6,), (7, 8)]
        """
        return spec_channel_groups(self.input_shape, self.layers)[0]

    def shared_activations(self) -> list[tuple[int, ...]]:
        """Compute layers (indices into the wbits/abits lists) that share one activation quantizer.

        The last conv of a residual body and of its shortcut meet in the add: both get the add's
        shared quantizer and the ReLU after it, so their ``abits`` must be equal (the search
        offers one value per tuple). A block with an identity shortcut shares nothing.

        Example:
            >>> from hwprune.models import get_spec
            >>> get_spec("resnet8", (1, 8, 8)).shared_activations()
            [(4, 5), (7, 8)]
        """
        out: list[tuple[int, ...]] = []
        k = 0
        for lay in self.layers:
            if lay["op"] == "residual":
                nb, ns = len(lay["body"]), len(lay["shortcut"])
                if ns:
                    out.append((k + nb - 1, k + nb + ns - 1))
                k += nb + ns
            elif is_compute(lay):
                k += 1
        return out

    def widths_from_groups(self, counts: Sequence[int]) -> list[int]:
        """Per-layer widths (for :meth:`with_widths`) from one channel count per group.

        Example:
            >>> from hwprune.models import get_spec
            >>> spec = get_spec("resnet8", (1, 8, 8), width_mult=0.25)
            >>> spec.widths_from_groups([1, 2, 3, 4, 5, 6])
            [1, 2, 1, 3, 4, 4, 5, 6, 6]
        """
        groups, _ = spec_channel_groups(self.input_shape, self.layers)
        if len(counts) != len(groups):
            raise ConfigError(
                f"model '{self.name}' has {len(groups)} channel groups, got {len(counts)} counts"
            )
        widths = self.prunable_widths()
        for g, c in zip(groups, counts, strict=True):
            for i in g.layers:
                widths[i] = int(c)
        return widths

    def with_widths(self, widths: Sequence[int]) -> ModelSpec:
        """Copy of the spec with new channel counts for the prunable layers.

        A depthwise conv must get the width of the layer that feeds it (its ``groups`` follow);
        coupled layers (see :meth:`channel_groups`) must get equal widths.

        Example:
            >>> from hwprune.models import get_spec
            >>> get_spec("mlp-digits").with_widths([32, 16, 8]).prunable_widths()
            [32, 16, 8]
        """
        n = self.num_prunable
        if len(widths) != n:
            raise ConfigError(
                f"model '{self.name}' has {n} prunable layers, got {len(widths)} widths"
            )
        new = [int(w) for w in widths]
        leaves = [x for x in walk_leaves(self.input_shape, self.layers) if is_compute(x.layer)]
        dw = {k for k, x in enumerate(leaves[:-1]) if is_depthwise(x.layer, x.in_ch)}
        for g in spec_channel_groups(self.input_shape, self.layers)[0]:
            got = {new[i] for i in g.layers}
            if len(got) > 1:
                raise ConfigError(
                    f"layers {list(g.names)} of '{self.name}' are coupled (residual add or "
                    f"depthwise) and must keep the same channel count, got {sorted(got)}"
                )

        def set_width(k: int, lay: dict[str, Any]) -> dict[str, Any]:
            if k >= n:
                return lay
            if new[k] < 1:
                raise ConfigError(f"width {new[k]} for layer {k} of '{self.name}' must be >= 1")
            if lay["op"] == "conv" and lay.get("groups", 1) > 1:
                if k not in dw:
                    raise ConfigError(
                        f"layer {k} ('{leaves[k].name}') of '{self.name}' is a grouped conv; "
                        "only depthwise convs (groups = in = out channels) can be resized"
                    )
                lay["groups"] = 1  # set below, once the producer's width is checked
            lay["out_ch" if lay["op"] == "conv" else "out"] = new[k]
            return lay

        layers = _map_compute(self.layers, set_width)
        for k, x in enumerate(walk_leaves(self.input_shape, layers)):
            if k in dw and x.in_ch != new[k]:
                raise ConfigError(
                    f"layer {k} ('{x.name}') of '{self.name}' is depthwise: it follows its "
                    f"producer's {x.in_ch} channels; give it the same width (got {new[k]})"
                )

        def set_groups(k: int, lay: dict[str, Any]) -> dict[str, Any]:
            if k in dw:
                lay["groups"] = new[k]
            return lay

        layers = _map_compute(layers, set_groups)
        return ModelSpec(self.name, self.input_shape, self.num_classes, layers)

    def design_layers(
        self, wbits: Sequence[int], abits: Sequence[int | None]
    ) -> list[dict[str, Any]]:
        """Design layers with ``wbits``/``abits`` attached to every conv/fc (head included).

        Example:
            >>> from hwprune.models import get_spec
            >>> get_spec("mlp-digits").design_layers([4] * 4, [4, 4, 4, None])[-1]
            {'op': 'fc', 'out': 10, 'wbits': 4, 'abits': None}
        """
        n = self.num_quant_layers
        if len(wbits) != n or len(abits) != n:
            raise ConfigError(f"model '{self.name}' needs {n} wbits and abits values")

        def attach(k: int, lay: dict[str, Any]) -> dict[str, Any]:
            lay["wbits"], lay["abits"] = int(wbits[k]), abits[k]
            return lay

        return list(_map_compute(self.layers, attach))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (inverse of :meth:`from_dict`)."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "layers": [copy.deepcopy(dict(lay)) for lay in self.layers],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelSpec:
        """Build a spec from :meth:`to_dict`'s output."""
        return cls(d["name"], tuple(d["input_shape"]), int(d["num_classes"]), tuple(d["layers"]))

    def key(self) -> str:
        """Canonical JSON string of the spec (used in cache keys)."""
        return json.dumps(self.to_dict(), sort_keys=True)
