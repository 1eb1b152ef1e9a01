"""JSON design descriptions: what users write by hand and what the search produces.

A design is::

    {"name": "cnv-w1a1", "input": {"shape": [3, 32, 32], "bits": 8},
     "layers": [
       {"op": "conv", "out_ch": 64, "kernel": 3, "stride": 1, "pad": 0, "wbits": 1, "abits": 1,
        "pe": 16, "simd": 3},
       {"op": "maxpool", "kernel": 2},
       {"op": "fc", "out": 512, "wbits": 1, "abits": 1},
       {"op": "fc", "out": 10, "wbits": 1, "abits": null}]}

``abits`` is a layer's output activation width (``null`` for the last layer: raw accumulator,
followed by arg-max); shapes chain from layer to layer and an ``fc`` after a conv or pool
flattens (C, H, W order); ``pad`` is zero padding on each side; ``pe``/``simd`` are optional
(the folding optimizer picks what is left out; given values are checked), and so is ``res_type``
(``"lut"`` or ``"dsp"``: what the layer's multiplications are built from; left out or ``"auto"``,
the folding optimizer chooses). The input may also say ``"kind": "bipolar"`` for a 1-bit +-1
input.

Example:
    >>> from hwprune.design import graph_from_design, design_from_graph
    >>> d = {"name": "t", "input": {"shape": [1, 8, 8], "bits": 4},
    ...      "layers": [{"op": "fc", "out": 10, "wbits": 2, "abits": None, "pe": 5}]}
    >>> g = graph_from_design(d)
    >>> design_from_graph(g)["layers"][0]["pe"]
    5
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hwprune.errors import ConfigError
from hwprune.ir import MVAU, VVAU, DataflowGraph, MaxPool, SlidingWindow, build_ir

_LAYER_KEYS = {
    "conv": {
        "op",
        "out_ch",
        "kernel",
        "stride",
        "pad",
        "groups",
        "wbits",
        "abits",
        "pe",
        "simd",
        "res_type",
        "name",
    },
    "maxpool": {"op", "kernel", "name"},
    "fc": {"op", "out", "wbits", "abits", "pe", "simd", "res_type", "name"},
    "gap": {"op", "name"},
    "residual": {"op", "body", "shortcut", "name"},
}


def load_design(path: str | Path) -> dict[str, Any]:
    """Read a JSON design file (raises :class:`ConfigError` with the reason when it cannot).

    Example:
        >>> import json, tempfile, os
        >>> f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        >>> _ = f.write(json.dumps({"input": {"shape": [4], "bits": 2},
        ...     "layers": [{"op": "fc", "out": 2, "wbits": 2, "abits": None}]})); f.close()
        >>> load_design(f.name)["layers"][0]["out"]
        2
        >>> os.unlink(f.name)
    """
    from hwprune.safeload import load_user_json

    path = Path(path)
    data = load_user_json(path, "design file")
    if not isinstance(data, dict):
        raise ConfigError(f"design file {path} must hold a JSON object with 'input' and 'layers'")
    data.setdefault("name", path.stem)
    return data


def validate_design(design: Mapping[str, Any]) -> dict[str, Any]:
    """Check a design's structure and return a normalised copy (unknown keys are errors).

    Example:
        >>> validate_design({"input": {"shape": [2], "bits": 8},
        ...                  "layers": [{"op": "fc", "out": 3, "wbits": 2, "abits": None}]})["name"]
        'design'
    """
    if not isinstance(design, Mapping):
        raise ConfigError("a design must be an object with 'input' and 'layers'")
    unknown = sorted(set(design) - {"name", "input", "layers", "target", "notes"})
    if unknown:
        raise ConfigError(f"design: unknown key(s) {unknown}; use 'name', 'input', 'layers'")
    inp = design.get("input")
    if not isinstance(inp, Mapping) or "shape" not in inp:
        raise ConfigError('design: \'input\' must be {"shape": [C, H, W], "bits": 8}')
    shape = inp["shape"]
    if (
        not isinstance(shape, Sequence)
        or isinstance(shape, str)
        or len(shape) not in (1, 3)
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
    ):
        raise ConfigError(
            f"design: input shape must be [C, H, W] of positive integers, got {shape!r}"
        )
    bits = inp.get("bits", 8)
    if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 32:
        raise ConfigError(f"design: input bits must be an integer in 1..32, got {bits!r}")
    kind = inp.get("kind", "uint")
    layers = design.get("layers")
    if not isinstance(layers, Sequence) or isinstance(layers, str) or not layers:
        raise ConfigError("design: 'layers' must be a non-empty list")
    out_layers = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, Mapping):
            raise ConfigError(f'design: layer {i} must be an object such as {{"op": "fc", ...}}')
        op = layer.get("op")
        if op not in _LAYER_KEYS:
            raise ConfigError(
                f"layer {i}: unknown op {op!r}; use 'conv', 'maxpool', 'fc', 'gap' or 'residual'"
            )
        subs = [*layer.get("body", ()), *layer.get("shortcut", ())] if op == "residual" else []
        for sub in subs:
            extra = sorted(set(sub) - _LAYER_KEYS["conv"]) if isinstance(sub, Mapping) else []
            if not isinstance(sub, Mapping) or sub.get("op") != "conv" or extra:
                raise ConfigError(
                    f"layer {i} (residual): a branch holds conv layers with the keys "
                    f"{sorted(_LAYER_KEYS['conv'])}, got {sub!r}"
                )
        bad = sorted(set(layer) - _LAYER_KEYS[op])
        if bad:
            raise ConfigError(
                f"layer {i} ({op}): unknown key(s) {bad}; allowed: {sorted(_LAYER_KEYS[op])}"
            )
        out_layers.append(dict(layer))
    return {
        "name": str(design.get("name", "design")),
        "input": {"shape": list(shape), "bits": bits, "kind": kind},
        "layers": out_layers,
    }


def graph_from_design(design: Mapping[str, Any]) -> DataflowGraph:
    """Validate a design and lower it to the dataflow IR.

    Example:
        >>> g = graph_from_design({"input": {"shape": [3, 8, 8], "bits": 8}, "layers": [
        ...     {"op": "conv", "out_ch": 8, "kernel": 3, "wbits": 4, "abits": 4},
        ...     {"op": "fc", "out": 10, "wbits": 4, "abits": None}]})
        >>> [n.op for n in g.nodes]
        ['SlidingWindow', 'MVAU', 'MVAU', 'LabelSelect']
    """
    d = validate_design(design)
    return build_ir(
        d["layers"],
        d["input"]["shape"],
        d["input"]["bits"],
        name=d["name"],
        input_kind=d["input"]["kind"],
    )


def design_from_layers(
    layers: Sequence[Mapping[str, Any]],
    input_shape: Sequence[int],
    input_bits: int = 8,
    name: str = "design",
) -> dict[str, Any]:
    """Wrap design layers (the shared layer vocabulary) into a design description.

    Example:
        >>> design_from_layers([{"op": "fc", "out": 2, "wbits": 2, "abits": None}], [4])["input"]
        {'shape': [4], 'bits': 8}
    """
    return {
        "name": name,
        "input": {"shape": list(input_shape), "bits": input_bits},
        "layers": [dict(x) for x in layers],
    }


def _dot_layer(n: MVAU | VVAU, shape: dict[str, Any]) -> dict[str, Any]:
    """A conv/fc layer: its ``shape`` keys, then bits, folding and a ``res_type`` not "auto"."""
    layer = {**shape, "wbits": n.wbits, "abits": n.out_bits, "pe": n.pe, "simd": n.simd}
    if n.res_type != "auto":
        layer["res_type"] = n.res_type
    return layer


def design_from_graph(graph: DataflowGraph) -> dict[str, Any]:
    """The design description of a graph, with its folding written into the layers (and each
    conv/fc layer's ``res_type`` when it is not ``"auto"``).

    Example:
        >>> g = graph_from_design({"input": {"shape": [4], "bits": 2},
        ...     "layers": [{"op": "fc", "out": 2, "wbits": 2, "abits": None}]})
        >>> design_from_graph(g)["layers"]
        [{'op': 'fc', 'out': 2, 'wbits': 2, 'abits': None, 'pe': 1, 'simd': 1}]
    """
    layers: list[dict[str, Any]] = []
    nodes = graph.nodes
    for i, n in enumerate(nodes):
        if isinstance(n, MVAU):
            if n.conv:
                prev = nodes[i - 1] if i else None
                swg = prev if isinstance(prev, SlidingWindow) else None
                k, stride, pad = (swg.kernel, swg.stride, swg.pad) if swg else (1, 1, 0)
                shape = {"op": "conv", "out_ch": n.mh, "kernel": k, "stride": stride, "pad": pad}
                layers.append(_dot_layer(n, shape))
            else:
                layers.append(_dot_layer(n, {"op": "fc", "out": n.mh}))
        elif isinstance(n, VVAU):
            window = nodes[i - 1]
            assert isinstance(window, SlidingWindow)  # a VVAU is always fed by its window
            shape = {
                "op": "conv",
                "out_ch": n.channels,
                "kernel": n.kernel,
                "stride": window.stride,
                "pad": window.pad,
                "groups": n.channels,
            }
            layers.append(_dot_layer(n, shape))
        elif isinstance(n, MaxPool):
            layers.append({"op": "maxpool", "kernel": n.kernel})
    inp: dict[str, Any] = {"shape": list(graph.input_shape), "bits": graph.input_bits}
    if graph.input_kind != "uint":
        inp["kind"] = graph.input_kind
    if len(graph.input_shape) == 3 and graph.input_shape[1:] == (1, 1):
        inp["shape"] = [graph.input_shape[0]]
    return {"name": graph.name, "input": inp, "layers": layers}


def save_design(design: Mapping[str, Any], path: str | Path) -> Path:
    """Write a design description as indented JSON and return the path."""
    path = Path(path)
    path.write_text(json.dumps(design, indent=2) + "\n")
    return path
