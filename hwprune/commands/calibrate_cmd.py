"""``hwprune calibrate``: time this machine (CPU or CUDA GPU), write a measured target file."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Attach ``hwprune calibrate`` to ``app``."""

    @app.command("calibrate")
    def calibrate(
        device: str = typer.Option(
            "cpu", "--device", help="Where to measure: 'cpu' (onnxruntime) or 'cuda' (torch)."
        ),
        out: Path = typer.Option(
            None, "--out", help="Target file to write (default: ./<device>-local.toml)."
        ),
        name: str = typer.Option(None, "--name", help="Target name (default: the file's stem)."),
        threads: int = typer.Option(
            1,
            "--threads",
            min=0,
            help="CPU threads for onnxruntime (0: its default); recorded in the file.",
        ),
        quick: bool = typer.Option(False, "--quick", help="Half the sweep (about 2x faster)."),
        as_json: bool = typer.Option(False, "--json", help="Print the fit summary as JSON."),
    ) -> None:
        """Time a sweep of conv/fc/pool shapes here, fit the latency model, write a target.

        The file is a `kind = "gpu"` target: use it with `--target-file` (search, estimate)
        to price candidates with measured rather than datasheet numbers.
        """
        from rich.console import Console
        from rich.progress import Progress

        from hwprune.calibrate import calibrate as run_calibration
        from hwprune.errors import ConfigError

        if device not in ("cpu", "cuda"):
            raise ConfigError(f"--device must be 'cpu' or 'cuda', got {device!r}")
        path = out if out is not None else Path(f"{device}-local.toml")
        console = Console(stderr=True)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"timing on {device}", total=None)

            def step(i: int, n: int) -> None:
                progress.update(task, completed=i, total=n)

            result = run_calibration(
                device=device,
                out=path,
                name=name,
                threads=threads or None,
                quick=quick,
                progress=step,
            )
        rep = result.report
        summary = {
            "target": result.target.name,
            "file": str(result.path),
            "networks_timed": rep.points,
            "seconds": round(result.seconds, 1),
            "median_abs_error": round(rep.median_abs_error, 4),
            "within_10": round(rep.within_10, 3),
            "within_20": round(rep.within_20, 3),
            "fitted": {
                "peak_tops": dict(result.target.peak_tops),
                "mem_bw_gbps": result.target.mem_bw_gbps,
                "cache_bw_gbps": result.target.cache_bw_gbps,
                "launch_us": result.target.launch_us,
                "fixed_us": result.target.fixed_us,
                "channel_align": rep.channel_align,
            },
        }
        if as_json:
            typer.echo(json.dumps(summary, indent=2))
            return
        t = result.target
        peaks = ", ".join(f"{p} {v * 1e3:.1f} GOPS" for p, v in t.peak_tops.items())
        console.print(
            f"timed {rep.points} networks in {result.seconds:.0f} s; fit: median |error| "
            f"{rep.median_abs_error:.1%}, {rep.within_10:.0%} within +-10%, "
            f"{rep.within_20:.0%} within +-20%"
        )
        console.print(
            f"peak {peaks}; DRAM {t.mem_bw_gbps:.1f} GB/s, cache {t.cache_bw_gbps:.1f} GB/s; "
            f"{t.launch_us:.2f} us per kernel + {t.fixed_us:.2f} us per inference"
        )
        typer.echo(f"wrote {result.path} (use it with --target-file {result.path})")
