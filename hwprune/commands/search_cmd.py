"""``hwprune search`` and ``hwprune worker``.

Heavy imports (torch, optuna, brevitas) happen inside the command bodies.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
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


# --- the options of `hwprune search` (module level, so that the command reads as a list)
# target and recipe
_TARGET = typer.Option("pynq-z2", "--target", "-t", help="Target name (see `hwprune targets`).")
_TARGET_FILE = typer.Option(None, "--target-file", help="A target TOML file of your own.")
_RECIPE = typer.Option(
    "digits-mlp", "--recipe", "-r", help="Recipe name (search/*.toml) or path of a .toml file."
)
# budget
_TRIALS = typer.Option(None, help="Number of finished trials to reach.")
_EPOCHS = typer.Option(None, help="QAT fine-tune epochs per trial.")
_FINAL_EPOCHS = typer.Option(None, "--final-epochs", help="Fine-tune epochs of the chosen design.")
_TIMEOUT = typer.Option(None, help="Stop starting trials after N seconds.")
# constraints
_MIN_FPS = typer.Option(None, "--min-fps", help="Require frames/s >= N.")
_MAX_LATENCY_US = typer.Option(None, "--max-latency-us", help="Require latency <= N us.")
_MAX_LUT = typer.Option(None, "--max-lut", help="LUT budget.")
_MAX_FF = typer.Option(None, "--max-ff", help="FF budget.")
_MAX_BRAM18 = typer.Option(None, "--max-bram18", help="BRAM18 budget.")
_MAX_DSP = typer.Option(None, "--max-dsp", help="DSP budget.")
_MAX_MEMORY_MB = typer.Option(
    None, "--max-memory-mb", help="GPU targets: weights + peak activations budget (MB)."
)
# the parent's weights; timing candidates on this machine
_CHECKPOINT = typer.Option(
    None,
    "--checkpoint",
    help="Weights for --model package.module:factory (loaded with "
    "weights_only=True); the parent is then not trained.",
)
_MEASURE = typer.Option(
    False,
    "--measure",
    help="Time each trained candidate on the local device (GPU or "
    "calibrated target) next to the predicted latency.",
)
# more constraints
_MIN_ACCURACY = typer.Option(None, "--min-accuracy", help="Require validation accuracy >= N.")
_UTIL_CAP = typer.Option(None, "--util-cap", help="Utilisation cap (default: the target's).")
# search space, objectives and the selection of one design
_SAMPLER = typer.Option(None, help="tpe (default), nsga2 or random.")
_OBJECTIVES = typer.Option(
    None,
    help="What the search optimises, comma-separated, accuracy first: accuracy, fps or "
    "latency_us, and resources lut, bram18, dsp, ff or util (the device fraction of the "
    "binding resource). Default accuracy,fps,lut.",
)
_FOLDING = typer.Option(
    None,
    help="auto (default: smallest with --min-fps, else fastest), fastest (that fits; the "
    "smallest that reaches the stream port's rate) or smallest (that meets --min-fps).",
)
_SELECT = typer.Option(
    None,
    help="How one design is chosen from the front: max-accuracy (default), knee, max-fps "
    "or min-resources.",
)
_SELECT_FPS_WITHIN = typer.Option(
    None,
    "--select-fps-within",
    help="max-accuracy: only designs within this fraction of the best frame rate (0.1 = 10%).",
)
_SELECT_MIN_ACCURACY = typer.Option(
    None,
    "--select-min-accuracy",
    help="min-resources: the validation accuracy required (default: best minus 0.01).",
)
_CRITERION = typer.Option(None, help="Channel importance: l1, bn, taylor, activation.")
_SEED = typer.Option(None, help="Seed of everything.")
_DATASET = typer.Option(None, help="Dataset name (overrides the recipe).")
_MODEL = typer.Option(None, help="Zoo model or package.module:factory.")
_DATA_DIR = typer.Option(None, "--data-dir", help="Folder with dataset files.")
_WBITS = typer.Option(None, help="Weight bits offered, e.g. 1,2,4,8.")
_ABITS = typer.Option(None, help="Activation bits offered, e.g. 2,4,8.")
_SET = typer.Option(
    [],
    "--set",
    metavar="FIELD=VALUE",
    help="Override any recipe field, e.g. --set kd.alpha=0.7.",
)
# run folder, storage and output
_OUT = typer.Option(None, "--out", "-o", help="Run folder (default runs/<study-name>).")
_STORAGE = typer.Option(None, help="Optuna storage URL (default: SQLite in the run folder).")
_STUDY_NAME = typer.Option(None, "--study-name", help="Study name (default <recipe>-<target>).")
_CACHE_DIR = typer.Option(None, "--cache-dir", help="Parent-model cache (default <run>/parent).")
_NO_EXPORT = typer.Option(False, "--no-export", help="Skip the export into best/.")
_RTL = typer.Option(
    "auto",
    "--rtl",
    help="How far the RTL flow of best/'s export goes (as `hwprune export --rtl`): "
    "auto (Verilator + Yosys on AMD parts, + the bitstream on ECP5 boards), write, sim, "
    "synth, full.",
)
_QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar or tables.")
_LIST_FIELDS = typer.Option(False, "--list-fields", help="List every recipe field and exit.")


def search_command(
    target: str = _TARGET,
    target_file: Path | None = _TARGET_FILE,
    recipe: str = _RECIPE,
    trials: int | None = _TRIALS,
    epochs: int | None = _EPOCHS,
    final_epochs: int | None = _FINAL_EPOCHS,
    timeout: float | None = _TIMEOUT,
    min_fps: float | None = _MIN_FPS,
    max_latency_us: float | None = _MAX_LATENCY_US,
    max_lut: int | None = _MAX_LUT,
    max_ff: int | None = _MAX_FF,
    max_bram18: int | None = _MAX_BRAM18,
    max_dsp: int | None = _MAX_DSP,
    max_memory_mb: float | None = _MAX_MEMORY_MB,
    checkpoint: str | None = _CHECKPOINT,
    measure: bool = _MEASURE,
    min_accuracy: float | None = _MIN_ACCURACY,
    util_cap: float | None = _UTIL_CAP,
    sampler: str | None = _SAMPLER,
    objectives: str | None = _OBJECTIVES,
    folding: str | None = _FOLDING,
    select: str | None = _SELECT,
    select_fps_within: float | None = _SELECT_FPS_WITHIN,
    select_min_accuracy: float | None = _SELECT_MIN_ACCURACY,
    criterion: str | None = _CRITERION,
    seed: int | None = _SEED,
    dataset: str | None = _DATASET,
    model: str | None = _MODEL,
    data_dir: str | None = _DATA_DIR,
    wbits: str | None = _WBITS,
    abits: str | None = _ABITS,
    set_: list[str] = _SET,
    out: Path | None = _OUT,
    storage: str | None = _STORAGE,
    study_name: str | None = _STUDY_NAME,
    cache_dir: Path | None = _CACHE_DIR,
    no_export: bool = _NO_EXPORT,
    rtl: str = _RTL,
    quiet: bool = _QUIET,
    workers: int | None = _workers_option(),
    device: str | None = _device_option(),
    heartbeat: int | None = _heartbeat_option(),
    grace: int | None = _grace_option(),
    list_fields: bool = _LIST_FIELDS,
) -> None:
    """Search channels and bit-widths for the best accuracy the target can run.

    Runs the recipe's Optuna study in the run folder (the same command again resumes it).

    Prints the Pareto front and writes pareto.json, summary.json and best/.
    """
    params = dict(locals())  # the flags, by parameter name
    if list_fields:
        from hwprune.recipe import field_names

        for name in field_names():
            typer.echo(name)
        raise typer.Exit()
    _setup_logging(quiet)
    overrides = _recipe_overrides(params)

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
        rtl=rtl,
        console=console,
        workers=k,
        devices=devices,
        heartbeat_s=heartbeat,
        grace_s=grace,
    )
    _print_result(result, console, quiet)


def _recipe_overrides(params: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe overrides that ``hwprune search``'s flags (by parameter name) and its
    ``--set FIELD=VALUE`` options ask for; ``--set`` wins over a flag of the same field."""
    from hwprune.recipe import FLAG_FIELDS, overrides_from_flags, parse_set_options

    flags = {flag: params.get(flag.replace("-", "_")) for flag in FLAG_FIELDS}
    flags["measure"] = params["measure"] or None
    return {**overrides_from_flags(flags), **parse_set_options(params["set_"])}


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
