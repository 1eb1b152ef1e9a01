"""FINN hand-off: ``folding_config.json``, ``specialize_layers_config.json`` and
``build_config.json`` for FINN's ``build_dataflow`` on the exported ``model.qonnx.onnx``.

Node names are the ones FINN's flow gives after ``SpecializeLayers`` + ``GiveUniqueNodeNames``
(``<op_type>_<k>``, k counting per op type in graph order). The specialization is pinned by
``specialize_layers_config.json`` (MVAU: hls, sliding window / padding: rtl) so the names are
known in advance. The folding is checked for legality (FINN itself does not check it when it
applies the file) before anything is written.

Example:
    >>> write_finn_handoff(graph, "pynq-z2", "out/finn")  # doctest: +SKIP
    ['out/finn/folding_config.json', ...]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hwprune.errors import ConfigError, TargetError
from hwprune.export.fold import check_folding
from hwprune.export.graph import (
    IntGraph,
    LabelSelectNode,
    MaxPoolNode,
    MVAUNode,
    PadNode,
    SlidingWindowNode,
)

# hwprune target -> (FINN board name, shell flow, Vitis platform or None)
FINN_BOARDS: dict[str, tuple[str, str, str | None]] = {
    "pynq-z1": ("Pynq-Z1", "vivado_zynq", None),
    "pynq-z2": ("Pynq-Z2", "vivado_zynq", None),
    "ultra96-v2": ("Ultra96-V2", "vivado_zynq", None),
    "zcu102": ("ZCU102", "vivado_zynq", None),
    "zcu104": ("ZCU104", "vivado_zynq", None),
    "kv260": ("KV260_SOM", "vivado_zynq", None),
    "alveo-u250": ("U250", "vitis_alveo", "xilinx_u250_gen3x16_xdma_4_1_202210_1"),
}

# our node kind -> (FINN op type before specialization, implementation style pinned)
_FINN_OPS = {
    "MVAU": ("MVAU", "hls"),
    "VVAU": ("VVAU", "hls"),
    "SlidingWindow": ("ConvolutionInputGenerator", "rtl"),
    "Pad": ("FMPadding", "rtl"),
    "MaxPool": ("StreamingMaxPool", "hls"),
    "LabelSelect": ("LabelSelect", "hls"),
}


def finn_names(graph: IntGraph) -> dict[str, tuple[str, str]]:
    """Our node name -> (FINN name before specialization, after), in graph order.

    Example:
        >>> finn_names(graph)["conv0"]  # doctest: +SKIP
        ('MVAU_0', 'MVAU_hls_0')
    """
    counts: dict[str, int] = {}
    out: dict[str, tuple[str, str]] = {}
    for n in graph.nodes[1:]:
        op, style = _FINN_OPS[n.kind]
        k = counts.get(op, 0)
        counts[op] = k + 1
        out[n.name] = (f"{op}_{k}", f"{op}_{style}_{k}")
    return out


def folding_config(graph: IntGraph) -> dict[str, Any]:
    """FINN ``folding_config.json`` contents for the folded ``graph`` (checked first).

    Each MVAU/VVAU gets its PE, SIMD and ``resType`` (``"lut"`` or ``"dsp"``: what the folding
    chose and the cost model priced, see :attr:`~hwprune.export.graph.MVAUNode.mul_impl`).

    Example:
        >>> folding_config(graph)["MVAU_hls_0"]["resType"]  # doctest: +SKIP
        'dsp'
    """
    check_folding(graph)
    names = finn_names(graph)
    cfg: dict[str, Any] = {
        "Defaults": {"mem_mode": ["internal_decoupled", ["MVAU_hls"]]},
    }
    for n in graph.nodes[1:]:
        _, name = names[n.name]
        if isinstance(n, MVAUNode):
            cfg[name] = {
                "PE": n.pe,
                "SIMD": n.simd,
                "ram_style": "auto",
                "resType": n.mul_impl,  # the multiplier resource the folding priced
                "mem_mode": "internal_decoupled",
                "runtime_writeable_weights": 0,
            }
        elif isinstance(n, SlidingWindowNode):
            cfg[name] = {"SIMD": n.simd, "ram_style": "distributed", "parallel_window": 0}
        elif isinstance(n, PadNode):
            cfg[name] = {"SIMD": n.simd}
        elif isinstance(n, LabelSelectNode):
            cfg[name] = {"PE": n.pe}
        elif isinstance(n, MaxPoolNode):
            cfg[name] = {}
    return cfg


def specialize_config(graph: IntGraph) -> dict[str, Any]:
    """FINN ``specialize_layers_config.json`` pinning each node's implementation style."""
    cfg: dict[str, Any] = {}
    for n in graph.nodes[1:]:
        pre, _ = finn_names(graph)[n.name]
        cfg[pre] = {"preferred_impl_style": _FINN_OPS[n.kind][1]}
    return cfg


def build_config(
    target: Any, clock_mhz: float | None = None, output_dir: str = "finn_output"
) -> dict[str, Any]:
    """FINN ``DataflowBuildConfig`` as JSON for ``target`` (a loaded FpgaTarget)."""
    name = getattr(target, "name", str(target))
    if name not in FINN_BOARDS:
        raise TargetError(
            f"FINN has no board definition for target '{name}'; FINN hand-off "
            f"supports {sorted(FINN_BOARDS)}"
        )
    board, shell, platform = FINN_BOARDS[name]
    clock = float(clock_mhz or target.clock_mhz)
    cfg: dict[str, Any] = {
        "output_dir": output_dir,
        "synth_clk_period_ns": round(1000.0 / clock, 4),
        "board": board,
        "shell_flow_type": shell,
        "fpga_part": target.part,
        "folding_config_file": "folding_config.json",
        "specialize_layers_config_file": "specialize_layers_config.json",
        "auto_fifo_depths": True,
        "minimize_bit_width": True,
        "standalone_thresholds": False,
        "save_intermediate_models": True,
        "generate_outputs": [
            "estimate_reports",
            "stitched_ip",
            "out_of_context_synth",
            "bitfile",
            "pynq_driver",
            "deployment_package",
        ]
        if shell == "vivado_zynq"
        else ["estimate_reports", "stitched_ip", "bitfile"],
    }
    if platform:
        cfg["vitis_platform"] = platform
    return cfg


def write_finn_handoff(
    graph: IntGraph, target: Any, out_dir: str | Path, clock_mhz: float | None = None
) -> list[Path]:
    """Write the FINN hand-off files; returns their paths."""
    out = Path(out_dir)
    try:
        fold_cfg = folding_config(graph)
    except ConfigError as exc:
        raise ConfigError(f"the folding is not legal for FINN: {exc}") from exc
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "folding_config.json": fold_cfg,
        "specialize_layers_config.json": specialize_config(graph),
        "build_config.json": build_config(target, clock_mhz),
    }
    paths = []
    for fname, doc in files.items():
        p = out / fname
        p.write_text(json.dumps(doc, indent=2) + "\n")
        paths.append(p)
    script = out / "build.py"
    script.write_text(
        '"""Build the accelerator with FINN: python build.py (inside FINN\'s environment)."""\n'
        "import json\n\n"
        "from finn.builder.build_dataflow import build_dataflow_cfg\n"
        "from finn.builder.build_dataflow_config import DataflowBuildConfig\n\n"
        'with open("build_config.json") as f:\n'
        "    cfg = DataflowBuildConfig.from_dict(json.load(f))\n"
        'build_dataflow_cfg("../model.qonnx.onnx", cfg)\n'
    )
    paths.append(script)
    return paths
