"""``export_model``: Brevitas model or QONNX file -> everything an FPGA engineer takes away.

The output folder holds ``model.qonnx.onnx``, ``dataflow.json`` (the folded integer graph and
the executor-vs-qonnx check), ``estimate.json`` (the cost model on the same folding), ``hls/``
(the Vitis HLS project), ``golden/`` (test vectors), ``csim.log`` (g++ C simulation), ``finn/``
(FINN hand-off) and ``README.md``. The folder is replaced as a whole when the export is
done: a crash or an error leaves the previous export intact, and a new export never keeps a file
of an old one (say, the ``csim.log`` of an earlier run when this one skips the C simulation).

Example:
    >>> r = export_model(qmodel, "pynq-z2", out_dir="out", input_shape=(1, 8, 8),
    ...                  golden_inputs=test_x)             # doctest: +SKIP
    >>> r.csim.bit_exact, r.verify.exact                  # doctest: +SKIP
    (True, True)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwprune.errors import ConfigError, DataError, HwpruneError
from hwprune.ir.folding import apply_folding

log = logging.getLogger(__name__)


class ExportMismatchError(HwpruneError):
    """The exported design does not reproduce the model (executor or C simulation)."""


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_model` produced.

    ``cycles``: per kernel, the iterations counted in C simulation per frame next to the
    model's cycles (``ir``: the kernel's loop count, ``cost_model``: :mod:`hwprune.cost.fpga`).
    """

    out_dir: Path
    graph: Any
    estimate: Any
    verify: Any
    csim: Any
    cycles: tuple[dict[str, Any], ...]
    folding: dict[str, dict[str, int]]
    timings: dict[str, float] = field(default_factory=dict)
    rtl: Any = None  # hwprune.export.rtl.flow.RtlFlowResult

    @property
    def bit_exact(self) -> bool:
        """Executor == qonnx and (if they ran) C simulation and Verilator == executor."""
        return bool(
            self.verify.exact
            and (self.csim is None or self.csim.bit_exact)
            and (self.rtl is None or self.rtl.bit_exact)
        )


def _qonnx_model(
    model: Any, input_shape: tuple[int, ...] | None, out: Path, golden: np.ndarray | None = None
):
    """The cleaned QONNX model of ``model`` (saved as ``model.qonnx.onnx``); a Brevitas module
    is exported and checked against its own outputs (on ``golden`` raw inputs when they fit)."""
    from qonnx.core.modelwrapper import ModelWrapper

    from hwprune.export.qonnx import check_brevitas_export, export_brevitas, load_qonnx

    dest = out / "model.qonnx.onnx"
    if isinstance(model, (str, Path)):
        m = load_qonnx(model)
        m.save(str(dest))
        return m
    if isinstance(model, ModelWrapper):
        m = load_qonnx(model)
        m.save(str(dest))
        return m
    if input_shape is None:
        input_shape = getattr(model, "input_shape", None)
    if input_shape is None:
        raise ConfigError("exporting a Brevitas model needs its input_shape (C, H, W)")
    export_brevitas(model, tuple(input_shape), dest)
    m = load_qonnx(dest)
    x = None
    if golden is not None and np.asarray(golden).size % max(1, int(np.prod(input_shape))) == 0:
        x = np.asarray(golden, dtype=np.float32).reshape((-1, *input_shape))
    check_brevitas_export(model, m, x)
    return m


def golden_integers(
    model: Any, graph: Any, golden_inputs: np.ndarray | None, n: int, seed: int = 0
) -> np.ndarray:
    """Integer golden inputs (batch, NHWC/flat): the quantized ``golden_inputs`` (raw model
    inputs, e.g. the test set), or ``n`` random integers in the input quantizer's range."""
    from hwprune.export.qonnx import quantize_inputs

    shape = graph.input.out_shape
    if golden_inputs is None:
        t = graph.input.out_type
        rng = np.random.default_rng(seed)
        if t.bipolar:
            return rng.choice(np.array([-1, 1]), size=(n, *shape)).astype(np.int64)
        lo, hi = graph.input.value_range
        return rng.integers(lo, hi + 1, size=(n, *shape), dtype=np.int64)
    x = np.asarray(golden_inputs, dtype=np.float32)
    in_shape = model.get_tensor_shape(model.graph.input[0].name)
    if x.size % int(np.prod(in_shape[1:])) != 0:
        dims = ", ".join(map(str, in_shape[1:]))
        raise DataError(
            f"golden inputs of shape {x.shape} do not match the model input "
            f"({dims}); pass an array of shape (N, {dims})"
        )
    x = x.reshape((-1, *in_shape[1:]))
    xi, _ = quantize_inputs(model, x)
    if xi.ndim == 4:
        xi = xi.transpose(0, 2, 3, 1)
    return xi.reshape((xi.shape[0], *shape))


#: what an export folder holds, in reading order (anything else in an existing --out folder
#: stops the export; the report lists these)
EXPORT_ENTRIES = (
    "model.qonnx.onnx",
    "dataflow.json",
    "estimate.json",
    "hls",
    "golden",
    "csim.log",
    "finn",
    "rtl",
    "synth",
    "bitstream",
    "README.md",
)


def _check_replaceable(out: Path) -> None:
    """Refuse an output folder that replacing as a whole would lose someone's files in.

    Only what an export writes (:data:`EXPORT_ENTRIES`) may be there, dotfiles such as
    ``.git`` are someone's too (only an export's own ``.tmp-`` leftovers are passed over), and
    a ``README.md`` counts as an export's only next to its ``dataflow.json`` or ``hls/``.
    """
    from hwprune.atomic import _TMP_PREFIX

    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"output folder '{out}' is a file; pass a folder name")
    here = Path.cwd().resolve()
    if out.resolve() == here or out.resolve() in here.parents:
        raise ConfigError(
            f"output folder '{out}' is the working directory (or holds it); the export "
            "replaces its folder as a whole, so pass a subfolder such as --out export"
        )
    names = {p.name for p in out.iterdir() if not p.name.startswith(_TMP_PREFIX)}
    extra = sorted(names - set(EXPORT_ENTRIES))
    if extra:
        shown = ", ".join(extra[:3]) + (", ..." if len(extra) > 3 else "")
        raise ConfigError(
            f"output folder '{out}' holds files an export does not write ({shown}); the "
            "export replaces its folder as a whole, so pass an empty or new --out (or an "
            "earlier export's folder)"
        )
    if "README.md" in names and not ((out / "dataflow.json").is_file() or (out / "hls").is_dir()):
        raise ConfigError(
            f"output folder '{out}' holds a README.md but is no earlier export (it has no "
            "dataflow.json or hls/); the export replaces its folder as a whole, so pass an "
            "empty or new --out"
        )


@contextlib.contextmanager
def _output_folder(out: Path, replace: bool) -> Iterator[Path]:
    """The folder to write the export into: a fresh one that replaces ``out`` at the end
    (``replace``), else ``out`` itself."""
    if not replace:
        out.mkdir(parents=True, exist_ok=True)
        yield out
        return
    from hwprune.atomic import atomic_dir

    _check_replaceable(out)
    # only the export's own entries are deleted with the old folder; a file dropped into
    # ``out`` while the export runs is moved into the new one
    with atomic_dir(Path(os.path.abspath(out)), owned=EXPORT_ENTRIES) as work:
        yield work


def _readme(out: Path, ctx: dict[str, Any]) -> None:
    from hwprune.export.hls import _env

    (out / "README.md").write_text(_env().get_template("README.md.j2").render(**ctx))


def _write_finn(folded: Any, tgt: Any, work: Path, clock: float, qmodel: Any) -> None:
    """The FINN hand-off into ``work/finn``; for a design FINN cannot build as priced, a
    ``NOT_WRITTEN.txt`` that says why (never a different design). AMD parts only."""
    from hwprune.export.finn import finn_unsupported, write_finn_handoff

    if tgt.family == "ecp5":  # FINN builds for AMD parts only
        return
    why_not = finn_unsupported(folded)
    if why_not is None:
        write_finn_handoff(folded, tgt, work / "finn", clock_mhz=clock, qonnx_model=qmodel)
        return
    (work / "finn").mkdir()
    (work / "finn" / "NOT_WRITTEN.txt").write_text(
        f"No FINN hand-off for this design: {why_not}.\n"
    )
    log.warning("no FINN hand-off: %s", why_not)


def _kernel_cycles(
    plan: Any, model_cycles: dict[str, int], csim_res: Any, log_path: Path
) -> list[dict[str, Any]]:
    """Per kernel: cycles counted in C simulation, the kernel's loop model and the cost model;
    appended to ``csim.log`` when the simulation ran."""
    cycles = [
        {
            "kernel": st.name,
            "kind": st.kind,
            "counted": None if csim_res is None else csim_res.cycles.get(st.name),
            "ir": st.expected_cycles or None,
            "cost_model": model_cycles.get(st.name),  # padding is inside the IR's window
        }
        for st in plan.stages
    ]
    if csim_res is not None:
        with log_path.open("a") as f:
            f.write(
                "\n# cycles per frame: kernel, counted in csim, kernel loop model, cost model\n"
            )
            for c in cycles:
                f.write(
                    f"# {c['kernel']:<22} {c['counted']!s:>12} {c['ir']!s:>12} "
                    f"{c['cost_model']!s:>12}\n"
                )
    return cycles


def export_model(
    model: Any,
    target: Any = "pynq-z2",
    folding: Any = "auto",
    out_dir: str | Path = "export",
    golden_inputs: np.ndarray | None = None,
    *,
    input_shape: tuple[int, ...] | None = None,
    output: str = "label",
    n_golden: int = 100,
    fps: float | None = None,
    clock_mhz: float | None = None,
    csim: bool = True,
    csim_opt: str = "-O2",
    seed: int = 0,
    strict: bool = True,
    replace: bool = True,
    name: str | None = None,
    rtl: str = "auto",
) -> ExportResult:
    """Export ``model`` (Brevitas ``nn.Module``, QONNX path or ModelWrapper) for ``target``.

    Args:
        model: the quantized model.
        target: FPGA target name, TOML path or loaded target.
        folding: "auto" (the cost model's folding optimizer), a folding JSON path, or a dict
            ``{node: {"pe": .., "simd": ..}}`` (names as in ``dataflow.json``).
        out_dir: output folder: new, empty or an earlier export (a folder with other files
            is refused with :class:`~hwprune.errors.ConfigError`). It is replaced as a whole
            once everything is written; on an error the earlier export stays as it was.
        golden_inputs: raw model inputs for the golden vectors (e.g. the test set); default:
            ``n_golden`` random integers within the input quantizer's range.
        input_shape: (C, H, W) of a Brevitas model.
        output: "label" (arg-max) or "scores" (the head's integer accumulators).
        n_golden: number of golden vectors (at most this many of ``golden_inputs`` are used).
        fps, clock_mhz: passed to the folding optimizer / estimate.
        csim: compile and run the g++ C simulation.
        strict: raise :class:`ExportMismatchError` if anything is not bit-exact (after all
            files, including the logs, are written).
        replace: False writes into ``out_dir`` file by file instead (for a caller that
            assembles a fresh folder and publishes it whole itself, e.g. the search's
            ``best/``).
        rtl: the RTL flow (``rtl/`` is always written): "write", "sim" (Verilator, bit-exact
            and cycles), "synth" (+ Yosys ``synth/report.json``), "full" (+ an ECP5 target's
            ``bitstream/``); "auto": "full" for ECP5 targets, else "write". See
            :mod:`hwprune.export.rtl.flow`.
        name: the design's name in ``estimate.json`` and ``dataflow.json``; default: the name
            of ``out_dir`` (a caller writing into a temporary folder that becomes the final
            one passes the final folder's name).

    Raises :class:`~hwprune.errors.LoweringError` for graphs the lowering cannot handle.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    tgt = _fpga_target(target, n_golden)
    out = Path(out_dir)
    design_name = name or Path(os.path.abspath(out)).name or "design"
    with _output_folder(out, replace) as work:
        qmodel = _qonnx_model(model, input_shape, work, golden_inputs)
        timings["qonnx_s"] = time.perf_counter() - t0
        graph, x_int, res, report = _lower_and_verify(
            qmodel, output, golden_inputs, n_golden, seed, timings
        )
        t = time.perf_counter()
        folded = apply_folding(graph, folding, tgt, fps=fps, clock_mhz=clock_mhz)
        folded = dataclasses.replace(folded, name=design_name)
        est = _estimate(folded, tgt, clock_mhz, report, work)
        timings["fold_estimate_s"] = time.perf_counter() - t
        clock = float(clock_mhz or tgt.clock_mhz)
        plan, csim_res, cycles = _generate(
            folded, tgt, work, clock, qmodel, x_int, res, csim_opt if csim else None, timings
        )
        rtl_res = _rtl(folded, tgt, work, rtl, clock_mhz, design_name, timings)
        timings["total_s"] = time.perf_counter() - t0
        _readme(
            work,
            {
                "graph": folded,
                "target": tgt,
                "estimate": est,
                "verify": report,
                "csim": csim_res,
                "cycles": cycles,
                "plan": plan,
                "clock_mhz": clock,
                "zynq": tgt.family in ("zynq7000", "zynqmp"),
                "output": output,
            },
        )
    result = ExportResult(
        out, folded, est, report, csim_res, tuple(cycles), folded.folding, timings, rtl_res
    )
    if strict and not result.bit_exact:
        _refuse_inexact(result, out)
    return result


def _fpga_target(target: Any, n_golden: int) -> Any:
    """The loaded FPGA target of an export, after checking the export's arguments."""
    from hwprune.targets import FpgaTarget, GpuTarget, load_target

    tgt = target if isinstance(target, (FpgaTarget, GpuTarget)) else load_target(target)
    if not isinstance(tgt, FpgaTarget):
        raise ConfigError(f"target '{tgt.name}' is not an FPGA; export needs an FPGA target")
    if n_golden < 1:
        raise ConfigError("the number of golden vectors must be at least 1")
    return tgt


def _rtl(
    folded: Any,
    tgt: Any,
    work: Path,
    rtl: str,
    clock_mhz: float | None,
    name: str,
    timings: dict[str, float],
) -> Any:
    """The RTL flow's step of an export (:func:`hwprune.export.rtl.flow.run_rtl_flow`), timed
    into ``timings["rtl_s"]``."""
    t = time.perf_counter()
    from hwprune.export.rtl.flow import run_rtl_flow

    res = run_rtl_flow(folded, tgt, work, rtl, clock_mhz=clock_mhz, name=name)
    timings["rtl_s"] = time.perf_counter() - t
    return res


def _lower_and_verify(
    qmodel: Any,
    output: str,
    golden_inputs: np.ndarray | None,
    n_golden: int,
    seed: int,
    timings: dict[str, float],
) -> tuple[Any, np.ndarray, Any, Any]:
    """The lowered graph, the golden integers, the executor's result on them and its check
    against qonnx."""
    from hwprune.export.executor import execute
    from hwprune.export.lower import lower_model
    from hwprune.export.verify import verify_against_qonnx

    t = time.perf_counter()
    graph = lower_model(qmodel, output)
    timings["lower_s"] = time.perf_counter() - t
    t = time.perf_counter()
    if golden_inputs is not None:
        golden_inputs = np.asarray(golden_inputs)[:n_golden]
    x_int = golden_integers(qmodel, graph, golden_inputs, n_golden, seed)
    res = execute(graph, x_int)
    report = verify_against_qonnx(qmodel, graph, x_int, res)
    timings["verify_s"] = time.perf_counter() - t
    return graph, x_int, res, report


def _estimate(folded: Any, tgt: Any, clock_mhz: float | None, report: Any, work: Path) -> Any:
    """The cost model's estimate of the folded graph (``estimate.json``) and ``dataflow.json``."""
    from hwprune.estimate import evaluate

    est = evaluate(folded, tgt, clock_mhz=clock_mhz)
    if {k: dict(v) for k, v in est.folding.items()} != folded.folding:  # one folding for both
        raise ExportMismatchError("internal: the folding of estimate.json differs from the HLS")
    (work / "estimate.json").write_text(est.to_json() + "\n")
    doc = json.loads(folded.to_json())
    doc["name"] = folded.name
    doc["target"] = tgt.name
    doc["verification"] = report.to_dict()
    (work / "dataflow.json").write_text(json.dumps(doc, indent=2) + "\n")
    return est


def _generate(
    folded: Any,
    tgt: Any,
    work: Path,
    clock: float,
    qmodel: Any,
    x_int: np.ndarray,
    res: Any,
    csim_opt: str | None,
    timings: dict[str, float],
) -> tuple[Any, Any, list[dict[str, Any]]]:
    """The HLS project, golden vectors and FINN hand-off, then the C simulation (``csim_opt``
    None: skipped); returns the HLS plan, the simulation's result and the cycles table."""
    from hwprune.export.csim import run_csim
    from hwprune.export.hls import write_golden, write_hls_project

    t = time.perf_counter()
    zynq = tgt.family in ("zynq7000", "zynqmp")
    plan = write_hls_project(
        folded, work / "hls", part=tgt.part, clock_mhz=clock, board=tgt.name, zynq=zynq
    )
    write_golden(folded, x_int, res.layers, res.output, work / "golden")
    _write_finn(folded, tgt, work, clock, qmodel)
    timings["generate_s"] = time.perf_counter() - t
    # padding is priced inside the IR's window: the pad kernel has no cost-model cycles
    model_cycles = {k.name: k.cycles() for k in folded.kernels() if k.op != "Pad"}
    csim_res = None
    if csim_opt is not None:
        t = time.perf_counter()
        csim_res = run_csim(work / "hls", work / "golden", opt=csim_opt)
        (work / "csim.log").write_text(csim_res.log)
        timings["csim_compile_s"] = csim_res.compile_s
        timings["csim_run_s"] = csim_res.run_s
        timings["csim_s"] = time.perf_counter() - t
    return plan, csim_res, _kernel_cycles(plan, model_cycles, csim_res, work / "csim.log")


def _refuse_inexact(result: ExportResult, out: Path) -> None:
    """Raise :class:`ExportMismatchError` naming the first check the export failed."""
    report, csim_res, rtl_res = result.verify, result.csim, result.rtl
    if not report.exact:
        what = report.first_mismatch
    elif csim_res is not None and not csim_res.bit_exact:
        what = csim_res.first_mismatch
    else:
        what = f"Verilator: {rtl_res.sim.first_mismatch or 'cycles differ from the model'}"
    raise ExportMismatchError(
        f"the exported design is not bit-exact ({what}); see "
        f"{out / 'csim.log'}, {out / 'rtl' / 'sim.log'} and {out / 'dataflow.json'}"
    )
