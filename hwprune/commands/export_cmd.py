"""``hwprune export``: a search's design or a QONNX model -> QONNX, dataflow graph, HLS project
checked bit-exact in g++ C simulation, FINN hand-off."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer


def _rtl_info(rtl: Any) -> dict[str, Any] | None:
    """What the RTL flow did (``ExportResult.rtl``): Verilog written, Verilator's verdict
    (None when it did not run), Yosys run, bitstream built."""
    if rtl is None:
        return None
    return {
        "verilog": rtl.design is not None,
        "verilator_bit_exact": None if rtl.sim is None else bool(rtl.bit_exact),
        "yosys": rtl.synth is not None,
        "bitstream": rtl.bitstream is not None,
    }


def _summary(res: Any, as_json: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    est = res.estimate
    info = {
        "out_dir": str(res.out_dir),
        "bit_exact": res.bit_exact,
        "executor_vs_qonnx": res.verify.to_dict(),
        "csim": None
        if res.csim is None
        else {
            "bit_exact": res.csim.bit_exact,
            "samples": res.csim.samples,
            "mismatching_samples": res.csim.mismatching_samples,
            "first_mismatch": res.csim.first_mismatch,
        },
        "estimate": {
            "fps": round(est.fps, 1),
            "lut": round(est.lut),
            "ff": round(est.ff),
            "bram18": round(est.bram18, 1),
            "dsp": round(est.dsp),
            "fits": est.fits,
        },
        "rtl": _rtl_info(res.rtl),
        "folding": res.folding,
        "cycles": list(res.cycles),
        "timings_s": {k: round(v, 3) for k, v in res.timings.items()},
    }
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    con = Console()
    table = Table(title=f"hwprune export -> {res.out_dir}")
    for col in ("kernel", "kind", "PE", "SIMD", "cycles/frame (csim)", "cost model"):
        table.add_column(col, justify="left" if col in ("kernel", "kind") else "right")
    fold = res.folding
    for c in res.cycles:
        if c["kind"] in ("axi_in", "axi_out"):
            continue
        f = fold.get(c["kernel"], {})
        table.add_row(
            c["kernel"],
            c["kind"],
            str(f.get("pe", "")),
            str(f.get("simd", "")),
            "-" if c["counted"] is None else f"{c['counted']:g}",
            "-" if c["cost_model"] is None else str(c["cost_model"]),
        )
    con.print(table)
    v = res.verify
    verdict = "identical" if v.exact else f"MISMATCH: {v.first_mismatch}"
    ties = f" ({v.label_ties} arg-max ties)" if v.label_ties else ""
    con.print(f"executor vs qonnx: {verdict} on {v.samples} samples{ties}")
    if res.csim is not None:
        c = res.csim
        verdict = "bit-exact" if c.bit_exact else f"MISMATCH: {c.first_mismatch}"
        con.print(
            f"C simulation: {verdict} on {c.samples} samples "
            f"(compile {c.compile_s:.1f} s, run {c.run_s:.1f} s)"
        )
    rtl = info["rtl"]
    if rtl is not None and rtl["verilator_bit_exact"] is not None:
        verdict = "bit-exact" if rtl["verilator_bit_exact"] else "MISMATCH (see rtl/sim.log)"
        con.print(f"Verilator: {verdict}" + (", Yosys synthesis run" if rtl["yosys"] else ""))
    con.print(
        f"estimate: {est.fps:,.0f} frames/s, {est.lut:,.0f} LUT, {est.bram18:.1f} BRAM18, "
        f"{est.dsp:.0f} DSP (fits: {est.fits})"
    )


#: ``--rtl`` levels, each with what it adds (``hwprune.export.rtl.flow.LEVELS`` plus "auto")
RTL_LEVELS: dict[str, str] = {
    "auto": "the default: 'full' on ECP5 boards (the bitstream), 'synth' on AMD/Xilinx parts "
    "(the RTL next to the HLS project, checked in Verilator, with Yosys counts)",
    "write": "the Verilog only (rtl/)",
    "sim": "+ Verilator runs the golden vectors, bit-exact, cycles per kernel (rtl/sim.log)",
    "synth": "+ Yosys synthesis for the target's family (synth/report.json)",
    "full": "+ on ECP5 boards nextpnr-ecp5 and ecppack (bitstream/, timing.json)",
}

# --- the options of `hwprune export` (module level, so that the command reads as a list)
_MODEL = typer.Argument(None, help="A QONNX model (.onnx) made elsewhere.")
_RUN = typer.Option(None, "--run", help="A search run folder (runs/<study>).")
_TRIAL = typer.Option(
    None,
    "--trial",
    help="Export this trial of --run instead of "
    "the chosen design (its candidate is fine-tuned again).",
)
_STORAGE = typer.Option(
    None,
    "--storage",
    help="Optuna storage URL of --run (default: the run folder's study.db).",
)
_TARGET = typer.Option(
    "pynq-z2", "--target", "-t", help="FPGA target name or TOML file (for MODEL)."
)
_FOLDING = typer.Option(
    None,
    "--folding",
    help="'auto' (cost model's optimizer) or a folding JSON file; default: auto, or the run's.",
)
_OUT = typer.Option(
    None,
    "--out",
    "-o",
    help="Output folder (default: export/ for MODEL, <run>/export for --run).",
)
_INPUTS = typer.Option(
    None,
    "--inputs",
    help="Golden inputs (.npy, raw model "
    "inputs); default: random values in the input quantizer's "
    "range (MODEL) or the test set (--run).",
)
_SAMPLES = typer.Option(100, "--samples", help="Number of golden vectors.")
_SCORES = typer.Option(
    False, "--scores", help="Output the head's integer scores instead of the arg-max label."
)
_NO_CSIM = typer.Option(False, "--no-csim", help="Skip the g++ C simulation.")
_RTL = typer.Option(
    "auto",
    "--rtl",
    help="How far the RTL flow goes: "
    + "; ".join(f"{level}: {what}" for level, what in RTL_LEVELS.items())
    + ".",
)
_FPS = typer.Option(
    None,
    "--fps",
    help="Fold for at least this many frames/s with the least area (default: fastest that fits).",
)
_CLOCK_MHZ = typer.Option(None, "--clock-mhz", help="Fabric clock (MHz).")
_JSON = typer.Option(False, "--json", help="Print the result as JSON.")


def register(app: typer.Typer) -> None:
    """Attach ``hwprune export`` to ``app``."""
    app.command("export")(export)


def export(
    model: str = _MODEL,
    run: str = _RUN,
    trial: int = _TRIAL,
    storage: str = _STORAGE,
    target: str = _TARGET,
    folding: str = _FOLDING,
    out: str = _OUT,
    inputs: str = _INPUTS,
    samples: int = _SAMPLES,
    scores: bool = _SCORES,
    no_csim: bool = _NO_CSIM,
    rtl: str = _RTL,
    fps: float = _FPS,
    clock_mhz: float = _CLOCK_MHZ,
    as_json: bool = _JSON,
) -> None:
    """Export a design as QONNX, HLS project (C-simulated), RTL and FINN hand-off.

    Writes model.qonnx.onnx, dataflow.json, estimate.json, hls/, rtl/, golden/, csim.log,
    finn/ and README.md into the output folder (and, by --rtl level, rtl/sim.log, synth/,
    bitstream/).
    """
    _check_args(model, run, trial, samples, rtl)
    # what both paths (a search run, a QONNX model) are given alike
    common: dict[str, Any] = {
        "output": "scores" if scores else "label",
        "n_golden": samples,
        "csim": not no_csim,
        "rtl": rtl,
    }
    if run is not None:
        _refuse_model_options(inputs=inputs, fps=fps, clock_mhz=clock_mhz)
        from hwprune.export.run import export_run

        res = export_run(run, trial, out, storage=storage, folding=folding, **common)
    else:
        from hwprune.export.core import export_model

        res = export_model(
            Path(model),
            target,
            folding=folding or "auto",
            out_dir=out or "export",
            golden_inputs=_load_inputs(inputs),
            fps=fps,
            clock_mhz=clock_mhz,
            **common,
        )
    _summary(res, as_json)


def _check_args(
    model: str | None, run: str | None, trial: int | None, samples: int, rtl: str
) -> None:
    """Refuse contradictory or out-of-range arguments in one line (exit 2)."""
    from hwprune.errors import ConfigError

    if (model is None) == (run is None):
        raise ConfigError(
            "give either MODEL.onnx or --run RUN_DIR (not both); see `hwprune export --help`"
        )
    if trial is not None and run is None:
        raise ConfigError("--trial needs --run RUN_DIR")
    if samples < 1:
        raise ConfigError(f"--samples must be at least 1, got {samples}")
    if rtl not in RTL_LEVELS:
        raise ConfigError(f"--rtl {rtl!r} is not a level; use one of {', '.join(RTL_LEVELS)}")


def _refuse_model_options(**given: Any) -> None:
    """With --run the run's test set and folding are used: options for MODEL are refused."""
    from hwprune.errors import ConfigError

    names = [f"--{k.replace('_', '-')}" for k, v in given.items() if v is not None]
    if names:
        raise ConfigError(
            f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} for exporting "
            "MODEL.onnx; with --run the run's "
            "test set and folding are used (pass --folding FILE to change the folding)"
        )


def _load_inputs(inputs: str | None) -> Any:
    """The ``--inputs`` array (None without the option)."""
    if inputs is None:
        return None
    import numpy as np

    from hwprune.errors import DataError

    p = Path(inputs)
    if not p.is_file():
        raise DataError(f"--inputs file {p} does not exist; pass a .npy array")
    try:
        return np.load(p, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {p} as a .npy array ({exc})") from exc
