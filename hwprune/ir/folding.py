"""A user's folding on a :class:`~hwprune.ir.DataflowGraph`: parsed, applied, checked.

A folding is ``{node: {"pe": .., "simd": ..}}`` (an MVAU/VVAU's entry may also say
``"res_type"``: ``"lut"`` or ``"dsp"``, FINN's ``resType``); the node names are the IR's
(``conv0``, ``conv0_swg``, ``fc1``, ``labelselect``), so one folding drives the estimate, the
HLS project and the FINN hand-off. What is legal is each node's :meth:`fold_space` (plus the
pairings the nodes state: a VVAU's ``legal``, a depthwise window's SIMD = its VVAU's PE, no
DSP for an XNOR unit); the graph's :attr:`~hwprune.ir.DataflowGraph.folding` reads it back.

Example:
    >>> from hwprune.ir import build_ir
    >>> g = build_ir([{"op": "fc", "out": 8, "wbits": 2, "abits": None}], (16,), 2)
    >>> apply_folding(g, {"fc0": {"pe": 4, "simd": 8}}).folding["fc0"]
    {'pe': 4, 'simd': 8}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from hwprune.errors import ConfigError
from hwprune.ir.dtypes import RES_TYPES, XNOR_DSP_ERROR
from hwprune.ir.graph import DataflowGraph
from hwprune.ir.nodes import MVAU, VVAU, SlidingWindow

Folding = dict[str, dict[str, Any]]

#: what a folding parameter must divide, per node kind (the default: "the channels")
_DIVIDES = {
    ("MVAU", "pe"): "the output neurons",
    ("MVAU", "simd"): "the input length",
    ("conv", "pe"): "the output channels",
    ("conv", "simd"): "kernel*kernel*in_channels",
    ("VVAU", "pe"): "the channels of a depthwise conv",
    ("VVAU", "simd"): "kernel*kernel",
    ("LabelSelect", "pe"): "the labels",
}


def check_node(node: Any, given: Mapping[str, int] | None = None) -> None:
    """Raise :class:`ConfigError` if a node's folding breaks its own rules (FINN's): a PE/SIMD
    not in its ``fold_space()``, a depthwise unit's SIMD > 1 without PE = channels, DSP
    products for an XNOR-popcount unit. ``given``: check only these PE/SIMD values (a design's
    partial folding; what it leaves out is the optimizer's to choose).

    Example:
        >>> from hwprune.ir import MVAU
        >>> check_node(MVAU("fc0", 16, 8, 1, 2, "int", 2, "uint", 9, None, "int"), {"pe": 3})
        Traceback (most recent call last):
        hwprune.errors.ConfigError: fc0: pe=3 is illegal: PE must divide the output neurons (8); pick one of [1, 2, 4, 8]
    """  # noqa: E501
    space = node.fold_space()
    vals = {k: getattr(node, k) for k in space} if given is None else dict(given)
    for what, legal in space.items():
        v = vals.get(what)
        if v is not None and v not in legal:
            kind = "conv" if isinstance(node, MVAU) and node.conv else node.op
            of = _DIVIDES.get((kind, what), "the channels")
            raise ConfigError(
                f"{node.name}: {what}={v} is illegal: {what.upper()} must divide {of} "
                f"({max(legal)}); pick one of {list(legal)}"
            )
    pe, simd = vals.get("pe"), vals.get("simd")
    if isinstance(node, VVAU) and pe is not None and simd is not None and not node.legal(pe, simd):
        raise ConfigError(
            f"{node.name}: simd={simd} > 1 needs pe = channels ({node.channels}) in a "
            "depthwise convolution"
        )
    if isinstance(node, MVAU) and node.popcount and node.res_type == "dsp":
        raise ConfigError(f"{node.name}: {XNOR_DSP_ERROR}")


def check_folding(graph: DataflowGraph) -> None:
    """Raise :class:`ConfigError` if a node's folding is illegal (:func:`check_node`) or a
    depthwise window's SIMD is not the PE of the unit it feeds.

    Example:
        >>> from hwprune.ir import build_ir
        >>> g = build_ir([{"op": "fc", "out": 8, "wbits": 2, "abits": None}], (16,), 2)
        >>> check_folding(g.with_folding({"fc0": {"pe": 3}}))
        Traceback (most recent call last):
        hwprune.errors.ConfigError: fc0: pe=3 is illegal: PE must divide the output neurons (8); pick one of [1, 2, 4, 8]
    """  # noqa: E501
    nodes = graph.nodes
    for i, n in enumerate(nodes):
        check_node(n)
        swg = nodes[i - 1] if i else None
        if isinstance(n, VVAU) and isinstance(swg, SlidingWindow) and swg.simd != n.pe:
            raise ConfigError(
                f"{swg.name}: simd={swg.simd} must equal the pe={n.pe} of the depthwise "
                f"{n.name} it feeds"
            )


def parse_folding(folding: Any) -> Folding:
    """A folding given as a dict, a list of ``{"name": ..}`` entries (FINN's style), a
    ``{"folding": ..}`` document or a JSON file, as ``{name: {"pe"/"simd"/"res_type": ..}}``.

    Example:
        >>> parse_folding({"Defaults": {}, "fc0": {"PE": 2, "resType": "lut"}})
        {'fc0': {'pe': 2, 'res_type': 'lut'}}
    """
    if isinstance(folding, (str, Path)):
        p = Path(folding)
        if not p.is_file():
            raise ConfigError(f"folding file {p} does not exist; pass 'auto' or a JSON file")
        try:
            folding = json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"folding file {p} is not valid JSON ({exc}); fix it") from exc
    if isinstance(folding, Mapping) and "folding" in folding:
        folding = folding["folding"]
    if isinstance(folding, list):
        folding = {f["name"]: f for f in folding if isinstance(f, Mapping) and "name" in f}
    if not isinstance(folding, Mapping):
        raise ConfigError('a folding must map node names to {"pe": .., "simd": ..}')
    out: Folding = {}
    for name, f in folding.items():
        if name == "Defaults" or not isinstance(f, Mapping):
            continue
        vals = {k.lower(): f[k] for k in f if k.lower() in ("pe", "simd")}
        for k, v in vals.items():
            if not isinstance(v, int) or isinstance(v, bool):
                raise ConfigError(f"folding of {name}: {k} must be an integer, got {v!r}")
        entry: dict[str, Any] = {k: int(v) for k, v in vals.items()}
        res = [f[k] for k in f if k.lower() in ("res_type", "restype")]  # ours, FINN's resType
        if res:
            if res[0] not in RES_TYPES:
                raise ConfigError(
                    f"folding of {name}: res_type must be one of {list(RES_TYPES)}, got {res[0]!r}"
                )
            entry["res_type"] = str(res[0])
        out[str(name)] = entry
    return out


def with_folding(graph: DataflowGraph, folding: Mapping[str, Mapping[str, Any]]) -> DataflowGraph:
    """A copy of ``graph`` with ``folding`` applied and checked (an MVAU/VVAU's ``res_type``
    too; a parameter a node does not fold by is ignored).

    Unknown names raise :class:`ConfigError`. A depthwise window not given a SIMD takes the PE
    of the VVAU it feeds (they must be equal); a pad kernel has its window's SIMD.
    """
    known = {k.name for k in graph.kernels()} | {n.name for n in graph.nodes}
    if graph.input is not None:
        known.add(graph.input.name)
    unknown = sorted(set(folding) - known)
    if unknown:
        raise ConfigError(
            f"folding names unknown nodes {unknown}; the design has {sorted(graph.folding)}"
        )
    fold = {k: dict(v) for k, v in folding.items()}
    for n, m in zip(graph.nodes, graph.nodes[1:], strict=False):
        own, given = fold.get(n.name, {}), fold.get(m.name, {})
        dw = isinstance(n, SlidingWindow) and isinstance(m, VVAU)
        if dw and "simd" not in own and "pe" in given:
            fold[n.name] = {**own, "simd": int(given["pe"])}
    nodes = []
    for n in graph.nodes:
        f = fold.get(n.name, {})
        vals: dict[str, Any] = {k: int(f[k]) for k in n.fold_space() if k in f}
        if "res_type" in f and isinstance(n, (MVAU, VVAU)):
            vals["res_type"] = str(f["res_type"])
        nodes.append(replace(n, **vals) if vals else n)
    out = replace(graph, nodes=tuple(nodes))
    check_folding(out)
    return out


def auto_folding(
    graph: DataflowGraph,
    target: Any,
    fps: float | None = None,
    clock_mhz: float | None = None,
    fixed: Mapping[str, Mapping[str, Any]] | None = None,
) -> Folding:
    """The cost model's folding for ``target`` (a name, path or loaded FPGA target): the
    fastest that fits, or with ``fps`` the smallest that reaches it
    (:func:`hwprune.cost.optimizer.fold`); ``fixed`` values are kept."""
    from hwprune.cost.optimizer import fold
    from hwprune.targets import FpgaTarget, load_target

    tgt = target if isinstance(target, FpgaTarget) else load_target(target)
    if not isinstance(tgt, FpgaTarget):
        raise ConfigError(f"target {tgt.name} is not an FPGA; a folding needs an FPGA target")
    if fixed:
        graph = replace(graph, fixed={k: dict(v) for k, v in fixed.items()})
    mode = "smallest" if fps else "fastest"
    result = fold(graph, tgt, mode=mode, fps=fps, clock_mhz=clock_mhz)
    return {k: dict(v) for k, v in result.folding.items()}


def apply_folding(
    graph: DataflowGraph,
    folding: Any = "auto",
    target: Any = None,
    fps: float | None = None,
    clock_mhz: float | None = None,
) -> DataflowGraph:
    """Apply ``folding``: "auto" (needs ``target``), "none" (as it is), a dict, list or JSON file.

    With a ``target``, PE/SIMD left out of a partial folding are chosen by the cost model's
    optimizer around the given ones (e.g. a search's design.json gives only conv/fc folding),
    and so is the ``res_type`` of every MVAU/VVAU the folding does not give one. A complete
    PE/SIMD folding is applied as it is: its ``"auto"`` layers keep the cost model's fixed rule.
    """
    if folding is None or folding == "none":
        return graph
    if isinstance(folding, str) and folding == "auto":
        if target is None:
            raise ConfigError("--folding auto needs a target (e.g. --target pynq-z2)")
        folding = auto_folding(graph, target, fps, clock_mhz)
    given = parse_folding(folding)
    foldable = graph.folding
    partial = any(k not in given.get(name, {}) for name, f in foldable.items() for k in f)
    if partial and target is not None:  # the optimizer chooses what the user left open
        with_folding(graph, given)  # check the given values first
        given = auto_folding(graph, target, fps, clock_mhz, fixed=given)
    return with_folding(graph, given)
