"""Run FINN's own estimate flow (finn-plus 1.6.1, no Vivado) on an hwprune export folder.

This is how the FINN hand-off is checked: FINN streamlines ``finn/model.finn.onnx``, converts
it to HW layers, specializes them for the target part, applies hwprune's
``folding_config.json`` (or folds it itself with ``SetFolding`` for a ``target_fps``), minimizes
bit widths and writes its estimate reports. :func:`run_finn_estimate` returns what FINN built:
per node its cycles and LUT/BRAM/DSP, which configuration entries were used, which were not,
and which nodes got none. :func:`compare_with_hwprune` sets that next to hwprune's
``estimate.json``, layer by layer.

FINN is imported once per process (about 5-10 s). Outside ``finn build`` it needs
``FINN_BUILD_DIR`` (a temporary folder is used when unset) and, without Vivado, the lazy
``finn.xsi`` import (RTL simulation) neutralised; :func:`import_finn` does both.

Example:
    >>> est = run_finn_estimate("export/cnn")              # doctest: +SKIP
    >>> est.unused_config, est.unconfigured, est.fps        # doctest: +SKIP
    ([], [], 166944.9)
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwprune.errors import ConfigError, HwpruneError

#: FINN's estimate-only steps (``estimate_only_dataflow_steps``) minus ``SetFolding`` unless a
#: target frame rate is asked for
_STEPS = (
    "step_qonnx_to_finn",
    "step_tidy_up",
    "step_streamline",
    "step_convert_to_hw",
    "step_minimize_bit_width_initial",
    "step_create_dataflow_partition",
    "step_specialize_layers",
    "step_target_fps_parallelization",
    "step_apply_folding_config",
    "step_minimize_bit_width",
    "step_generate_estimate_reports",
)

#: node attributes of the folding config that FINN must have taken over as written
_CHECKED_ATTRS = ("PE", "SIMD", "resType", "ram_style", "ram_style_thresholds", "parallel_window")


class FinnUnavailableError(HwpruneError):
    """finn-plus is not installed (or does not import) in this environment."""


@dataclass(frozen=True)
class FinnEstimate:
    """What FINN's estimate flow built and estimated.

    ``nodes``: (name, op type) of the HW nodes, in graph order; ``cycles``/``resources``: FINN's
    per-node estimates (``resources[name]`` has ``LUT``, ``BRAM_18K``, ``DSP``, ``URAM``);
    ``total``: their sum; ``max_cycles``/``bottleneck``/``fps``: FINN's network performance;
    ``used_config``/``unused_config``: folding-config entries that named a node / named none;
    ``unconfigured``: HW nodes no entry named; ``mismatched``: entries whose values FINN did not
    take over (``"node.attr: wanted != got"``); ``attrs``: each node's folding attributes.
    """

    nodes: tuple[tuple[str, str], ...]
    cycles: dict[str, int]
    resources: dict[str, dict[str, float]]
    total: dict[str, float]
    max_cycles: int
    bottleneck: str
    fps: float
    used_config: tuple[str, ...] = ()
    unused_config: tuple[str, ...] = ()
    unconfigured: tuple[str, ...] = ()
    mismatched: tuple[str, ...] = ()
    attrs: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: str = ""


def import_finn() -> Any:
    """Import FINN's build steps for use outside ``finn build``; returns the steps module.

    Raises :class:`FinnUnavailableError` when finn-plus is missing.
    """
    os.environ.setdefault("FINN_BUILD_DIR", tempfile.mkdtemp(prefix="hwprune_finn_"))
    try:
        import finn.xsi
    except ImportError as exc:
        raise FinnUnavailableError(
            f"finn-plus is not installed ({exc}); install it with bash scripts/install-finn.sh"
        ) from exc
    if not os.environ.get("XILINX_VIVADO"):
        finn.xsi.SimEngine = None  # RTL simulation needs Vivado; the estimate steps do not
    with contextlib.redirect_stdout(io.StringIO()):
        import finn.builder.build_dataflow_steps as steps
    return steps


def _config(export_dir: Path, out: Path, folding: Any, target_fps: float | None) -> Any:
    from finn.builder.build_dataflow_config import DataflowBuildConfig, DataflowOutputType

    finn_dir = export_dir / "finn"
    bc = json.loads((finn_dir / "build_config.json").read_text())
    fold_file = None
    if target_fps is None:
        fold_file = finn_dir / "folding_config.json"
        if isinstance(folding, dict):
            fold_file = out / "folding_config.json"
            fold_file.write_text(json.dumps(folding, indent=2))
        elif folding is not None:
            fold_file = Path(folding)
    return DataflowBuildConfig(
        output_dir=str(out),
        synth_clk_period_ns=bc["synth_clk_period_ns"],
        fpga_part=bc["fpga_part"],
        folding_config_file=fold_file,
        target_fps=None if target_fps is None else int(target_fps),
        specialize_layers_config_file=finn_dir / "specialize_layers_config.json",
        minimize_bit_width=bc.get("minimize_bit_width", True),
        standalone_thresholds=bc.get("standalone_thresholds", False),
        generate_outputs=[DataflowOutputType.ESTIMATE_REPORTS],
    )


def _attrs(model: Any) -> dict[str, dict[str, Any]]:
    from qonnx.custom_op.registry import getCustomOp

    out: dict[str, dict[str, Any]] = {}
    for n in model.graph.node:
        inst = getCustomOp(n)
        have = {a.name for a in n.attribute}
        vals = {}
        for a in _CHECKED_ATTRS:
            with contextlib.suppress(Exception):
                if a in have or a in inst.get_nodeattr_types():
                    vals[a] = inst.get_nodeattr(a)
        out[n.name] = vals
    return out


def _config_check(fold: dict[str, Any], attrs: dict[str, dict[str, Any]]) -> tuple:
    entries = [k for k in fold if k != "Defaults"]
    used = tuple(k for k in entries if k in attrs)
    unused = tuple(k for k in entries if k not in attrs)
    unconfigured = tuple(k for k in attrs if k not in fold)
    bad = []
    for k in used:
        for a, want in fold[k].items():
            got = attrs[k].get(a)
            if a in _CHECKED_ATTRS and got is not None and got != want:
                bad.append(f"{k}.{a}: {want!r} != {got!r}")
    return used, unused, unconfigured, tuple(bad)


def run_finn_estimate(
    export_dir: str | Path,
    *,
    folding: str | Path | dict[str, Any] | None = None,
    target_fps: float | None = None,
    work_dir: str | Path | None = None,
) -> FinnEstimate:
    """Run FINN's estimate-only flow on the export in ``export_dir``.

    Args:
        export_dir: an ``hwprune export`` folder (with ``finn/``).
        folding: a FINN folding config (path or dict) instead of ``finn/folding_config.json``.
        target_fps: let FINN fold the design itself (``SetFolding``) for this frame rate.
        work_dir: where FINN writes its reports (default: a temporary folder).

    Raises :class:`FinnUnavailableError` without finn-plus, :class:`ConfigError` for a folder
    without a FINN hand-off.
    """
    from qonnx.core.modelwrapper import ModelWrapper

    from hwprune.export.finn import FINN_MODEL

    export_dir = Path(export_dir)
    model_path = export_dir / "finn" / FINN_MODEL
    if not model_path.is_file():
        raise ConfigError(f"{export_dir} has no finn/{FINN_MODEL}; pass an hwprune export folder")
    steps = import_finn()
    tmp = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="hwprune_finn_out_")
        work_dir = tmp.name
    out = Path(work_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        cfg = _config(export_dir, out, folding, target_fps)
        model = ModelWrapper(str(model_path))
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            for name in _STEPS:
                model = steps.build_dataflow_step_lookup[name](model, cfg)
        return _read_reports(model, cfg, out / "report", buf.getvalue())
    finally:
        if tmp is not None:
            tmp.cleanup()


def _read_reports(model: Any, cfg: Any, rep: Path, log: str) -> FinnEstimate:
    cycles = json.loads((rep / "estimate_layer_cycles.json").read_text())
    res = json.loads((rep / "estimate_layer_resources.json").read_text())
    perf = json.loads((rep / "estimate_network_performance.json").read_text())
    attrs = _attrs(model)
    fold = {}
    if cfg.folding_config_file is not None:
        fold = json.loads(Path(cfg.folding_config_file).read_text())
    used, unused, unconf, bad = _config_check(fold, attrs) if fold else ((), (), (), ())
    total = res.pop("total")
    return FinnEstimate(
        nodes=tuple((n.name, n.op_type) for n in model.graph.node),
        cycles={k: int(v) for k, v in cycles.items()},
        resources=res,
        total=total,
        max_cycles=int(perf["max_cycles"]),
        bottleneck=str(perf["max_cycles_node_name"]),
        fps=float(perf["estimated_throughput_fps"]),
        used_config=used,
        unused_config=unused,
        unconfigured=unconf,
        mismatched=bad,
        attrs=attrs,
        log=log,
    )


def compare_with_hwprune(export_dir: str | Path, finn: FinnEstimate) -> dict[str, Any]:
    """hwprune's ``estimate.json`` next to FINN's estimate, per hwprune layer.

    Each hwprune layer's FINN cycles are the most cycles of the FINN nodes that implement it
    (a max-pool is a window generator and a ``Pool``; a padding belongs to the window after it).
    Returns ``{"layers": [{name, hwprune, finn, finn_nodes}], "fps": {hwprune_layers, finn},
    "resources": {hwprune: {lut, bram18, dsp}, finn: {...}}, "differences": [...]}``, the
    last the known differences of what FINN builds (:func:`hwprune.export.finn.finn_differences`).

    Example:
        >>> c = compare_with_hwprune("out", run_finn_estimate("out"))     # doctest: +SKIP
        >>> [r["name"] for r in c["layers"] if r["hwprune"] != r["finn"]]           # doctest: +SKIP
        []
    """
    from qonnx.core.modelwrapper import ModelWrapper

    from hwprune.export.finn import FINN_MODEL, finn_differences, finn_nodes
    from hwprune.export.lower import lower_model
    from hwprune.export.qonnx import load_qonnx
    from hwprune.ir.folding import apply_folding

    export_dir = Path(export_dir)
    est = json.loads((export_dir / "estimate.json").read_text())
    flow = json.loads((export_dir / "dataflow.json").read_text())
    graph = lower_model(load_qonnx(export_dir / "model.qonnx.onnx"), flow["output"])
    graph = apply_folding(graph, flow["folding"])
    fmodel = ModelWrapper(str(export_dir / "finn" / FINN_MODEL))
    if graph.folding != {k: dict(v) for k, v in est["folding"].items()}:
        raise ConfigError(f"{export_dir}: dataflow.json and estimate.json fold differently")
    groups: dict[str, list[str]] = {}
    for f in finn_nodes(graph):
        owner = f.ours.removesuffix("_pad") + "_swg" if f.ours.endswith("_pad") else f.ours
        groups.setdefault(owner, []).append(f.name)
    layers = []
    for layer in est["layers"]:
        names = groups.get(layer["name"], [])
        got = [finn.cycles[n] for n in names if n in finn.cycles]
        layers.append(
            {
                "name": layer["name"],
                "op": layer["op"],
                "hwprune": int(layer["cycles"]),
                "finn": max(got) if got else None,
                "finn_nodes": {n: finn.cycles.get(n) for n in names},
            }
        )
    clock_hz = float(est["clock_mhz"]) * 1e6
    return {
        "layers": layers,
        "fps": {"hwprune_layers": clock_hz / float(est["node_cycles"]), "finn": finn.fps},
        "resources": {
            "hwprune": {k: est[k] for k in ("lut", "bram18", "dsp")},
            "finn": {
                "lut": finn.total.get("LUT", 0.0),
                "bram18": finn.total.get("BRAM_18K", 0.0),
                "dsp": finn.total.get("DSP", 0.0),
            },
        },
        "differences": list(finn_differences(graph, fmodel)),
    }
