"""IR nodes -> hwprune's RTL kernels and their Yosys xc7 resources (:mod:`hwprune.cost.xc7`).

The kernels of a node, the FIFOs on every stream and the width converters are those of the ECP5
model (:mod:`hwprune.cost.ecp5_nodes`: the same RTL); only the fitted coefficients and the
memory mapping differ. :func:`design_block` is what an AMD (xc7) target's ``estimate.json``
carries next to the Vivado-calibrated figures, as ``"yosys_xc7"``.

Example:
    >>> from hwprune.ir import LabelSelect
    >>> lut, ff, bram, dsp = node_resources(LabelSelect("ls", 10, 16, pe=2))
    >>> lut > 0, bram
    (True, 0.0)
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from hwprune.cost import ecp5_nodes
from hwprune.cost.xc7 import FEATURES, FITTED, Xc7Model
from hwprune.ir.dtypes import kind_code

Num = Any

#: what the model is called in estimates and reports
MODEL_NAME = "yosys-xc7"
UNITS = (
    "Yosys synth_xilinx -family xc7 primitives of hwprune's RTL: lut = LUT1-6 (+4 per RAM32M/"
    "RAM64M LUTRAM, +1 per SRL), ff = FD*, bram18 = RAMB18E1 (RAMB36E1 = 2), dsp = DSP48E1; "
    "CARRY4/MUXF7/MUXF8/INV not counted"
)
#: what the block covers (and what it leaves out)
SCOPE = "the RTL kernels, their FIFOs and width converters; no shell or DMA"


def node_kernels(n: Any) -> list[tuple[str, dict[str, Num]]]:
    """The RTL kernels of IR node ``n`` (:func:`hwprune.cost.ecp5_nodes.node_kernels`), an
    MVAU/VVAU's with its weight and input type codes (``WT``, ``IT``: which products Yosys
    puts on DSP48E1s).

    Example:
        >>> from hwprune.ir import build_ir
        >>> g = build_ir([{"op": "fc", "out": 10, "wbits": 2, "abits": None}], (16,), 2)
        >>> k, p = node_kernels(g.nodes[0])[0]
        >>> k, p["WT"], p["IT"]
        ('mvau', 1, 0)
    """
    out = ecp5_nodes.node_kernels(n)
    if out and out[0][0] == "mvau":
        codes = {"WT": kind_code(n.wkind), "IT": kind_code(n.in_kind)}
        out = [("mvau", {**out[0][1], **codes})]
    return out


def node_resources(
    n: Any, model: Xc7Model | None = None, features: dict[str, Any] | None = None
) -> tuple[Num, Num, Num, Num]:
    """(LUT, FF, RAMB18, DSP48E1) of IR node ``n`` as Yosys xc7 maps its RTL kernels, FIFOs
    between nodes excluded (see :func:`glue_resources`)."""
    m, feats = model or FITTED, features or FEATURES
    off = ecp5_nodes.label_offset_resources(n, m, feats)
    tot = [off["lut"], off["ff"], off["bram"], off["dsp"]]
    for kernel, params in node_kernels(n):
        pred = m.predict(kernel, feats[kernel](**params))
        tot = [t + pred[r] for t, r in zip(tot, ("lut", "ff", "bram", "dsp"), strict=True)]
    return tot[0], tot[1], tot[2], tot[3]


def glue_resources(nodes: Any, model: Xc7Model | None = None) -> dict[str, dict[str, float]]:
    """The FIFOs and width converters of a chain of IR nodes on xc7
    (:func:`hwprune.cost.ecp5_nodes.glue_resources` with the xc7 model)."""
    return ecp5_nodes.glue_resources(nodes, model=model or FITTED, features=FEATURES)


#: the feature functions, memoised on their (scalar) parameters: an estimate of a design prices
#: the same FIFO widths and kernels again and again
_MEMO_FEATURES = {k: lru_cache(maxsize=8192)(f) for k, f in FEATURES.items()}


def design_block(graph: Any, model: Xc7Model | None = None) -> dict[str, Any]:
    """The ``"yosys_xc7"`` block of an estimate: totals, per node and glue of ``graph`` (with
    the folding it carries) in Yosys xc7 primitives.

    Example:
        >>> from hwprune.ir import build_ir
        >>> g = build_ir([{"op": "fc", "out": 10, "wbits": 2, "abits": None}], (16,), 2)
        >>> b = design_block(g)
        >>> b["resource_model"], b["lut"] > 0, b["nodes"][0]["name"]
        ('yosys-xc7', True, 'fc0')
    """
    m = model or FITTED
    nodes, tot = [], {"lut": 0.0, "ff": 0.0, "bram18": 0.0, "dsp": 0.0}
    for n in graph.nodes:
        r = node_resources(n, m, _MEMO_FEATURES)
        row = dict(zip(tot, (float(x) for x in r), strict=True))
        nodes.append({"name": n.name, "op": n.op, **{k: round(v, 1) for k, v in row.items()}})
        tot = {k: tot[k] + row[k] for k in tot}
    glue = ecp5_nodes.glue_resources(graph.nodes, model=m, features=_MEMO_FEATURES)
    for g in glue.values():
        tot = {k: tot[k] + g[k] for k in tot}
    return {
        "resource_model": MODEL_NAME,
        "units": UNITS,
        "scope": SCOPE,
        **{k: round(v, 1) for k, v in tot.items()},
        "nodes": nodes,
        "glue": {k: {kk: round(vv, 1) for kk, vv in v.items()} for k, v in glue.items()},
    }
