"""``hwprune export``: a search's design or a QONNX model -> QONNX, dataflow graph, HLS project
checked bit-exact in g++ C simulation, FINN hand-off."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer


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
    con.print(
        f"estimate: {est.fps:,.0f} frames/s, {est.lut:,.0f} LUT, {est.bram18:.1f} BRAM18, "
        f"{est.dsp:.0f} DSP (fits: {est.fits})"
    )


def register(app: typer.Typer) -> None:
    """Attach ``hwprune export`` to ``app``."""

    @app.command("export")
    def export(
        model: str = typer.Argument(None, help="A QONNX model (.onnx) made elsewhere."),
        run: str = typer.Option(None, "--run", help="A search run folder (runs/<study>)."),
        trial: int = typer.Option(
            None,
            "--trial",
            help="Export this trial of --run instead of "
            "the chosen design (its candidate is fine-tuned again).",
        ),
        storage: str = typer.Option(
            None,
            "--storage",
            help="Optuna storage URL of --run (default: the run folder's study.db).",
        ),
        target: str = typer.Option(
            "pynq-z2", "--target", "-t", help="FPGA target name or TOML file (for MODEL)."
        ),
        folding: str = typer.Option(
            None,
            "--folding",
            help="'auto' (cost model's optimizer) "
            "or a folding JSON file; default: auto, or the run's.",
        ),
        out: str = typer.Option(
            None,
            "--out",
            "-o",
            help="Output folder (default: export/ for MODEL, <run>/export for --run).",
        ),
        inputs: str = typer.Option(
            None,
            "--inputs",
            help="Golden inputs (.npy, raw model "
            "inputs); default: random values in the input quantizer's "
            "range (MODEL) or the test set (--run).",
        ),
        samples: int = typer.Option(100, "--samples", help="Number of golden vectors."),
        scores: bool = typer.Option(
            False, "--scores", help="Output the head's integer scores instead of the arg-max label."
        ),
        no_csim: bool = typer.Option(False, "--no-csim", help="Skip the g++ C simulation."),
        fps: float = typer.Option(
            None,
            "--fps",
            help="Fold for at least this many frames/s "
            "with the least area (default: fastest that fits).",
        ),
        clock_mhz: float = typer.Option(None, "--clock-mhz", help="Fabric clock (MHz)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Export a design as QONNX, HLS project (C-simulated) and FINN hand-off.

        Writes model.qonnx.onnx, dataflow.json, estimate.json, hls/, golden/, csim.log, finn/
        and README.md into the output folder.
        """
        from hwprune.errors import ConfigError, DataError

        if (model is None) == (run is None):
            raise ConfigError(
                "give either MODEL.onnx or --run RUN_DIR (not both); see `hwprune export --help`"
            )
        if trial is not None and run is None:
            raise ConfigError("--trial needs --run RUN_DIR")
        if samples < 1:
            raise ConfigError(f"--samples must be at least 1, got {samples}")
        output = "scores" if scores else "label"
        if run is not None:
            given = [
                f
                for f, v in (("--inputs", inputs), ("--fps", fps), ("--clock-mhz", clock_mhz))
                if v is not None
            ]
            if given:
                raise ConfigError(
                    f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for exporting "
                    "MODEL.onnx; with --run the run's "
                    "test set and folding are used (pass --folding FILE to change the folding)"
                )
            from hwprune.export.run import export_run

            res = export_run(
                run,
                trial,
                out,
                storage=storage,
                folding=folding,
                n_golden=samples,
                csim=not no_csim,
                output=output,
            )
        else:
            import numpy as np

            from hwprune.export.core import export_model

            golden = None
            if inputs is not None:
                p = Path(inputs)
                if not p.is_file():
                    raise DataError(f"--inputs file {p} does not exist; pass a .npy array")
                try:
                    golden = np.load(p, allow_pickle=False)
                except (OSError, ValueError) as exc:
                    raise DataError(f"cannot read {p} as a .npy array ({exc})") from exc
            res = export_model(
                Path(model),
                target,
                folding=folding or "auto",
                out_dir=out or "export",
                golden_inputs=golden,
                output=output,
                n_golden=samples,
                fps=fps,
                clock_mhz=clock_mhz,
                csim=not no_csim,
            )
        _summary(res, as_json)
