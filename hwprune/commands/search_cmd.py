"""``hwprune search`` and ``hwprune worker``.

Heavy imports (torch, optuna, brevitas) happen inside the command bodies.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import typer


def register(app: typer.Typer) -> None:
    """Attach ``search`` and ``worker`` to ``app``."""
    app.command("search")(search_command)
    app.command("worker")(worker_command)


def _setup_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="hwprune: %(levelname)s: %(message)s",
    )
    for noisy in ("optuna", "brevitas", "torch_pruning"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _workers_and_devices(workers: int | None, device: str | None) -> tuple[list[str], int]:
    """``--workers``/``--device`` -> (devices, K): K defaults to one worker per device."""
    from hwprune.workers import parse_devices

    devices = parse_devices(device)
    k = workers if workers is not None else max(1, len(devices))
    if k < 1:
        from hwprune.errors import ConfigError

        raise ConfigError(f"--workers must be at least 1, got {k}")
    return devices, k


# Options shared by `search` and `worker` (a fresh OptionInfo per command).
def _workers_option() -> typer.models.OptionInfo:
    return typer.Option(
        None,
        "--workers",
        help="Local worker processes sharing the study (default 1, or one per --device).",
    )


def _device_option() -> typer.models.OptionInfo:
    return typer.Option(
        None, "--device", help="Device(s) for the workers, round robin: cpu, cuda:0,cuda:1."
    )


def _heartbeat_option() -> typer.models.OptionInfo:
    return typer.Option(
        None, "--heartbeat", help="Seconds between heartbeats of a running trial (default 30)."
    )


def _grace_option() -> typer.models.OptionInfo:
    return typer.Option(
        None,
        "--grace",
        help="Seconds without heartbeat before a trial counts as dead and is "
        "re-queued (default 120).",
    )


def search_command(
    target: str = typer.Option(
        "pynq-z2", "--target", "-t", help="Target name (see `hwprune targets`)."
    ),
    target_file: Path | None = typer.Option(
        None, "--target-file", help="A target TOML file of your own."
    ),
    recipe: str = typer.Option(
        "digits-mlp", "--recipe", "-r", help="Recipe name (search/*.toml) or path of a .toml file."
    ),
    trials: int | None = typer.Option(None, help="Number of finished trials to reach."),
    epochs: int | None = typer.Option(None, help="QAT fine-tune epochs per trial."),
    final_epochs: int | None = typer.Option(
        None, "--final-epochs", help="Fine-tune epochs of the chosen design."
    ),
    timeout: float | None = typer.Option(None, help="Stop starting trials after N seconds."),
    min_fps: float | None = typer.Option(None, "--min-fps", help="Require frames/s >= N."),
    max_latency_us: float | None = typer.Option(
        None, "--max-latency-us", help="Require latency <= N us."
    ),
    max_lut: int | None = typer.Option(None, "--max-lut", help="LUT budget."),
    max_ff: int | None = typer.Option(None, "--max-ff", help="FF budget."),
    max_bram18: int | None = typer.Option(None, "--max-bram18", help="BRAM18 budget."),
    max_dsp: int | None = typer.Option(None, "--max-dsp", help="DSP budget."),
    max_memory_mb: float | None = typer.Option(
        None, "--max-memory-mb", help="GPU targets: weights + peak activations budget (MB)."
    ),
    checkpoint: str | None = typer.Option(
        None,
        "--checkpoint",
        help="Weights for --model package.module:factory (loaded with "
        "weights_only=True); the parent is then not trained.",
    ),
    measure: bool = typer.Option(
        False,
        "--measure",
        help="Time each trained candidate on the local device (GPU or "
        "calibrated target) next to the predicted latency.",
    ),
    min_accuracy: float | None = typer.Option(
        None, "--min-accuracy", help="Require validation accuracy >= N."
    ),
    util_cap: float | None = typer.Option(
        None, "--util-cap", help="Utilisation cap (default: the target's)."
    ),
    sampler: str | None = typer.Option(None, help="tpe (default), nsga2 or random."),
    objectives: str | None = typer.Option(
        None,
        help="What the search optimises, comma-separated, accuracy first: accuracy, fps or "
        "latency_us, and resources lut, bram18, dsp, ff or util (the device fraction of the "
        "binding resource). Default accuracy,fps,lut.",
    ),
    folding: str | None = typer.Option(
        None,
        help="auto (default: smallest with --min-fps, else fastest), fastest (that fits; the "
        "smallest that reaches the stream port's rate) or smallest (that meets --min-fps).",
    ),
    select: str | None = typer.Option(
        None,
        help="How one design is chosen from the front: max-accuracy (default), knee, max-fps "
        "or min-resources.",
    ),
    select_fps_within: float | None = typer.Option(
        None,
        "--select-fps-within",
        help="max-accuracy: only designs within this fraction of the best frame rate (0.1 = 10%).",
    ),
    select_min_accuracy: float | None = typer.Option(
        None,
        "--select-min-accuracy",
        help="min-resources: the validation accuracy required (default: best minus 0.01).",
    ),
    criterion: str | None = typer.Option(
        None, help="Channel importance: l1, bn, taylor, activation."
    ),
    seed: int | None = typer.Option(None, help="Seed of everything."),
    dataset: str | None = typer.Option(None, help="Dataset name (overrides the recipe)."),
    model: str | None = typer.Option(None, help="Zoo model or package.module:factory."),
    data_dir: str | None = typer.Option(None, "--data-dir", help="Folder with dataset files."),
    wbits: str | None = typer.Option(None, help="Weight bits offered, e.g. 1,2,4,8."),
    abits: str | None = typer.Option(None, help="Activation bits offered, e.g. 2,4,8."),
    set_: list[str] = typer.Option(
        [],
        "--set",
        metavar="FIELD=VALUE",
        help="Override any recipe field, e.g. --set kd.alpha=0.7.",
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Run folder (default runs/<study-name>)."
    ),
    storage: str | None = typer.Option(
        None, help="Optuna storage URL (default: SQLite in the run folder)."
    ),
    study_name: str | None = typer.Option(
        None, "--study-name", help="Study name (default <recipe>-<target>)."
    ),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Parent-model cache (default <run>/parent)."
    ),
    no_export: bool = typer.Option(False, "--no-export", help="Skip the export into best/."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or tables."),
    workers: int | None = _workers_option(),
    device: str | None = _device_option(),
    heartbeat: int | None = _heartbeat_option(),
    grace: int | None = _grace_option(),
    list_fields: bool = typer.Option(
        False, "--list-fields", help="List every recipe field and exit."
    ),
) -> None:
    """Search channels and bit-widths for the best accuracy the target can run.

    Runs the recipe's Optuna study in the run folder (the same command again resumes it).

    Prints the Pareto front and writes pareto.json, summary.json and best/.
    """
    params = dict(locals())  # the flags, by parameter name
    from hwprune.recipe import FLAG_FIELDS, field_names, overrides_from_flags, parse_set_options

    if list_fields:
        for name in field_names():
            typer.echo(name)
        raise typer.Exit()
    _setup_logging(quiet)
    flags = {flag: params.get(flag.replace("-", "_")) for flag in FLAG_FIELDS}
    flags["measure"] = measure or None
    overrides = {**overrides_from_flags(flags), **parse_set_options(set_)}

    from rich.console import Console

    from hwprune.recipe import load_recipe
    from hwprune.search import search

    rec = load_recipe(recipe, overrides=overrides)
    # piped output (logs, CI) gets a wide table instead of truncated cells
    console = Console() if sys.stdout.isatty() else Console(width=160)
    tgt = str(target_file) if target_file is not None else target
    devices, k = _workers_and_devices(workers, device)
    result = search(
        rec,
        tgt,
        out=out,
        storage=storage,
        study_name=study_name,
        cache_dir=cache_dir,
        quiet=quiet,
        export=not no_export,
        console=console,
        workers=k,
        devices=devices,
        heartbeat_s=heartbeat,
        grace_s=grace,
    )
    _print_result(result, console, quiet)


def _print_result(result: Any, console: Any, quiet: bool) -> None:
    """The lines ``hwprune search`` prints after the front: counts, selection, chosen design."""
    if quiet:
        if result.chosen is not None:
            typer.echo(
                f"chosen trial {result.chosen.trial}: test accuracy "
                f"{result.test_accuracy:.4f}, {result.chosen.hw.get('fps', 0):,.0f} fps; "
                f"run folder {result.run_dir}"
            )
        return
    s = result.summary
    c = s["trials"]
    console.print(
        f"trials: {c['complete']} finished ({c['feasible']} feasible, {c['infeasible']} "
        f"infeasible, {c['stopped']} stopped early), {c['failed']} failed"
        + (f", {c['cut_off']} cut off and re-run" if c.get("cut_off") else "")
    )
    if result.chosen is None:
        console.print(
            "[yellow]no feasible design was found; relax the constraints or add trials[/yellow]"
        )
    else:
        ch = result.chosen
        hw = s["chosen"]["hw"]  # best/estimate.json's numbers
        if s.get("selection"):
            console.print(f"selection {s['selection']['rule']}: {s['selection']['explanation']}")
        console.print(
            f"chosen ({s['recipe']['study']['select']}): trial {ch.trial}, validation accuracy "
            f"{result.val_accuracy:.4f}, test accuracy {result.test_accuracy:.4f} (float parent "
            f"{s['parent']['test_accuracy']:.4f}), {hw.get('fps', 0):,.0f} frames/s, "
            f"{hw.get('lut', 0):,.0f} LUT, {hw.get('bram18', 0):g} BRAM18, "
            f"{hw.get('dsp', 0):g} DSP (best/estimate.json)"
        )
    console.print(f"run folder: {result.run_dir} (summary.json, pareto.json, best/)")


def worker_command(
    storage: str = typer.Option(
        ...,
        envvar="HWPRUNE_STORAGE",
        show_envvar=False,
        help="Optuna storage URL of the study to join (or the HWPRUNE_STORAGE environment "
        "variable, which keeps a password out of `ps`).",
    ),
    study: str = typer.Option(..., help="Name of the study to join."),
    trials: int | None = typer.Option(
        None, help="Total finished trials to reach (default: the study's budget)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Folder for trial artefacts (default runs/<study>)."
    ),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Parent-model cache (default <out>/parent)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    workers: int | None = _workers_option(),
    device: str | None = _device_option(),
    heartbeat: int | None = _heartbeat_option(),
    grace: int | None = _grace_option(),
) -> None:
    """Join a running study from this machine and work on its trials."""
    _setup_logging(quiet)
    from hwprune.search import worker

    devices, k = _workers_and_devices(workers, device)
    n = worker(
        storage,
        study,
        out=out,
        trials=trials,
        cache_dir=cache_dir,
        quiet=quiet,
        workers=k,
        devices=devices if k > 1 else (),
        device=devices[0] if devices and k == 1 else None,
        heartbeat_s=heartbeat,
        grace_s=grace,
    )
    typer.echo(f"worker done: {n} trial(s) run here")
