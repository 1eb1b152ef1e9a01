"""Model specs: a network described as an input shape plus an ordered list of design layers.

The layer vocabulary is the one shared by the model zoo, the FPGA cost model's design description
and the search ("design layers"):

* ``{"op": "conv", "out_ch": int, "kernel": int, "stride": 1, "pad": 0, "groups": 1}``
* ``{"op": "maxpool", "kernel": int}`` (stride = kernel)
* ``{"op": "fc", "out": int}`` (flattens a (C, H, W) input in C, H, W order)

Every conv/fc is followed by BatchNorm + activation, except the last fc (the classifier head: no
BN, never pruned). Quantized designs add ``"wbits"`` and ``"abits"`` to each conv/fc
(:meth:`ModelSpec.design_layers`).

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hwprune.errors import ConfigError

_CONV_DEFAULTS = {"stride": 1, "pad": 0, "groups": 1}


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
    else:
        raise ConfigError(
            f"unknown layer op {op!r} in {dict(layer)}; use 'conv', 'maxpool' or 'fc'"
        )
    return out


def is_compute(layer: Mapping[str, Any]) -> bool:
    """True for layers with weights (conv and fc), i.e. the ones that get bit widths."""
    return layer["op"] in ("conv", "fc")


def layer_width(layer: Mapping[str, Any]) -> int:
    """Output channels (conv) or output features (fc) of a compute layer."""
    return int(layer["out_ch"] if layer["op"] == "conv" else layer["out"])


def output_shapes(
    input_shape: Sequence[int], layers: Sequence[Mapping[str, Any]]
) -> list[tuple[int, ...]]:
    """Shape after every layer: (C, H, W) for conv/pool, (N,) for fc.

    Raises :class:`ConfigError` when a layer shrinks the feature map to nothing.

    Example:
        >>> conv = {"op": "conv", "out_ch": 4, "kernel": 3}
        >>> output_shapes((1, 8, 8), [conv, {"op": "fc", "out": 2}])
        [(4, 6, 6), (2,)]
    """
    shape: tuple[int, ...] = tuple(int(s) for s in input_shape)
    shapes = []
    for layer in layers:
        op = layer["op"]
        if op == "conv":
            if len(shape) != 3:
                raise ConfigError("a conv layer cannot follow an fc layer; reorder the layers")
            c, h, w = shape
            k, s, p = layer["kernel"], layer.get("stride", 1), layer.get("pad", 0)
            groups = layer.get("groups", 1)
            if c % groups or layer["out_ch"] % groups:
                raise ConfigError(
                    f"conv groups={groups} must divide the input ({c}) and output "
                    f"({layer['out_ch']}) channels"
                )
            h2, w2 = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            shape = (layer["out_ch"], h2, w2)
        elif op == "maxpool":
            if len(shape) != 3:
                raise ConfigError("a maxpool layer cannot follow an fc layer; reorder the layers")
            c, h, w = shape
            k = layer["kernel"]
            shape = (c, h // k, w // k)
        else:
            shape = (layer["out"],)
        if any(d < 1 for d in shape):
            raise ConfigError(
                f"layer {dict(layer)} reduces the feature map to {shape}; use a larger input, "
                "padding or fewer pooling layers"
            )
        shapes.append(shape)
    return shapes


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
        return [copy.deepcopy(lay) for lay in self.layers if is_compute(lay)]

    def prunable_widths(self) -> list[int]:
        """Channel/feature count of every prunable layer (conv/fc except the head), in order."""
        return [layer_width(lay) for lay in self.layers[:-1] if is_compute(lay)]

    @property
    def num_prunable(self) -> int:
        """Number of prunable layers (= len(prunable_widths()))."""
        return len(self.prunable_widths())

    @property
    def num_quant_layers(self) -> int:
        """Number of conv/fc layers, head included (= len of wbits/abits lists)."""
        return sum(1 for lay in self.layers if is_compute(lay))

    def with_widths(self, widths: Sequence[int]) -> ModelSpec:
        """Copy of the spec with new channel counts for the prunable layers.

        Example:
            >>> from hwprune.models import get_spec
            >>> get_spec("mlp-digits").with_widths([32, 16, 8]).prunable_widths()
            [32, 16, 8]
        """
        if len(widths) != self.num_prunable:
            raise ConfigError(
                f"model '{self.name}' has {self.num_prunable} prunable layers, got "
                f"{len(widths)} widths"
            )
        it = iter(int(w) for w in widths)
        new_layers = []
        for i, lay in enumerate(self.layers):
            lay = dict(lay)
            if is_compute(lay) and i < len(self.layers) - 1:
                w = next(it)
                if w < 1:
                    raise ConfigError(f"width {w} for layer {i} of '{self.name}' must be >= 1")
                if lay["op"] == "conv" and lay.get("groups", 1) > 1:
                    raise ConfigError("with_widths does not support grouped convolutions")
                lay["out_ch" if lay["op"] == "conv" else "out"] = w
            new_layers.append(lay)
        return ModelSpec(self.name, self.input_shape, self.num_classes, tuple(new_layers))

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
        out, q = [], 0
        for lay in self.layers:
            lay = copy.deepcopy(lay)
            if is_compute(lay):
                lay["wbits"], lay["abits"] = int(wbits[q]), abits[q]
                q += 1
            out.append(lay)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (inverse of :meth:`from_dict`)."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "layers": [dict(lay) for lay in self.layers],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelSpec:
        """Build a spec from :meth:`to_dict`'s output."""
        return cls(d["name"], tuple(d["input_shape"]), int(d["num_classes"]), tuple(d["layers"]))

    def key(self) -> str:
        """Canonical JSON string of the spec (used in cache keys)."""
        return json.dumps(self.to_dict(), sort_keys=True)
