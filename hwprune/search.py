"""The search: an Optuna study over per-layer channel counts and bit-widths under hardware limits.

Each trial

1. samples a :class:`Candidate` (multi-objective TPE by default, NSGA-II or random on request;
   seeded): channels kept per prunable layer, weight bits per layer, activation bits per hidden
   layer;
2. builds the candidate's design (design layers + bits) and prices it on the target with the
   folding optimizer ("fastest that fits", or "smallest that meets ``min_fps``"). Every
   constraint is stored with ``trial.set_constraint`` (feasible when <= 0). **An infeasible
   candidate is never trained**: it is recorded (status ``infeasible``) with the worst possible
   objective values (accuracy 0, frames/s 0, latency/resources +inf), so it can never enter a
   front even for a reader that ignores constraints, and Optuna's samplers rank it by its
   constraint violation;
3. prunes the trained float parent to the candidate's channels (importance criterion), builds
   the Brevitas model with the candidate's bits, fine-tunes it with knowledge distillation and
   stops early when it cannot reach the current front (:func:`cannot_reach_front`);
4. reports the objectives (default: validation accuracy up, frames/s up; on GPU targets
   latency down) and stores the design, its resources, folding and per-layer table as trial
   attributes and in ``trials/<n>/design.json``.

After the trials: the feasible Pareto front (``pareto.json``, printed as a table), the chosen
design (``select``: ``max-accuracy`` (default), ``knee`` or ``max-fps``), a longer final
fine-tune, test accuracy, ``best/`` (weights, design, estimate; the HLS/QONNX export when
:mod:`hwprune.export` provides it) and ``summary.json``.

Trial user attributes (read by reports)::

    status       "ok" | "stopped" (early stop) | "infeasible" | "failed"
    candidate    {"channels": [...], "wbits": [...], "abits": [..., null]}
    design       the design description (input, layers with bits and pe/simd)
    hw           {"fps", "latency_us", "lut", "ff", "bram18", "dsp", "fits", "binding"}
    estimate     the cost model's full JSON (per-layer table, folding, overheads)
    constraints  {name: value} as given to set_constraint (<= 0 is satisfied)
    val_curve    validation accuracy after each fine-tune epoch
    accuracy     validation accuracy reported (best epoch)
    train_s      seconds spent fine-tuning
    stopped_at   epoch after which the early-stop rule fired (status "stopped")
    retry_of     number of the cut-off trial this one re-runs (re-queued trials)
    worker       "<host>:<pid>" of the process that ran the trial

Study user attributes: ``recipe`` (the resolved recipe), ``target`` (name), ``target_toml``
(the target file's text), ``fingerprint``, ``objectives``, ``hwprune_version``.

Example:
    >>> import hwprune  # doctest: +SKIP
    >>> result = hwprune.search("digits-mlp", target="pynq-z2", out="runs/demo",
    ...                         overrides={"budget.trials": 6})  # doctest: +SKIP
    >>> result.chosen.accuracy > 0.9, result.chosen.hw["fits"]  # doctest: +SKIP
    (True, True)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwprune._callable import make_module_callable
from hwprune.errors import ConfigError, HwpruneError, InfeasibleError, StorageError, TargetError
from hwprune.pareto import hypervolume, pareto_indices, select
from hwprune.recipe import OBJECTIVES, Recipe, load_recipe
from hwprune.runfolder import (
    RunFolder,
    atomic_write_json,
    claim_path,
    folder_lock,
    trial_claim,
)

if TYPE_CHECKING:  # pragma: no cover
    import optuna

logger = logging.getLogger(__name__)

#: objectives that come from the hardware estimate (everything but accuracy)
HW_KEYS = ("fps", "latency_us", "lut", "ff", "bram18", "dsp")
STATUS_OK, STATUS_STOPPED, STATUS_INFEASIBLE, STATUS_FAILED = (
    "ok",
    "stopped",
    "infeasible",
    "failed",
)


# =============================================================================== candidates
@dataclass(frozen=True)
class Candidate:
    """One point of the search space.

    ``channels`` has one entry per prunable layer; ``wbits``/``abits`` one per conv/fc, head
    last (its ``abits`` is ``None``: the raw accumulator feeds the arg-max).

    Example:
        >>> Candidate((32, 16), (4, 4, 8), (4, 2, None)).to_json()["abits"]
        [4, 2, None]
    """

    channels: tuple[int, ...]
    wbits: tuple[int, ...]
    abits: tuple[int | None, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "channels": list(self.channels),
            "wbits": list(self.wbits),
            "abits": list(self.abits),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Candidate:
        """Inverse of :meth:`to_json`."""
        return cls(tuple(d["channels"]), tuple(d["wbits"]), tuple(d["abits"]))


def channel_choices(width: int, step: int, min_channels: int, min_ratio: float) -> tuple[int, ...]:
    """Channel counts offered for a layer of parent width ``width``.

    Multiples of ``step`` (0: 4 below 32 channels, 8 below 128, 16 above) from the floor
    ``max(min_channels, min_ratio * width)`` (rounded up to the step) to ``width``; ``width``
    itself is always offered.

    Example:
        >>> channel_choices(64, 8, 8, 0.125)
        (8, 16, 24, 32, 40, 48, 56, 64)
        >>> channel_choices(50, 0, 4, 0.25)
        (16, 24, 32, 40, 48, 50)
    """
    if step <= 0:
        step = 4 if width < 32 else 8 if width < 128 else 16
    floor = max(min_channels, math.ceil(min_ratio * width))
    floor = math.ceil(floor / step) * step
    out = [c for c in range(floor, width, step)]
    out.append(width)
    return tuple(out)


@dataclass(frozen=True)
class SearchSpace:
    """The candidates a recipe allows for one parent network.

    Example:
        >>> sp = SearchSpace.build((64, 64, 64), 4, Recipe())
        >>> len(sp.channel_choices), sp.channel_choices[0][:3], sp.head_wbits
        (3, (8, 16, 24), (1, 2, 3, 4, 6, 8))
    """

    parent_widths: tuple[int, ...]
    num_quant: int
    channel_choices: tuple[tuple[int, ...], ...]
    wbits: tuple[int, ...]
    abits: tuple[int, ...]
    head_wbits: tuple[int, ...]
    per_layer_bits: bool

    @classmethod
    def build(
        cls,
        parent_widths: Sequence[int],
        num_quant: int,
        recipe: Recipe,
        bits_override: tuple[int, ...] | None = None,
    ) -> SearchSpace:
        """Space for a parent with ``parent_widths`` and ``num_quant`` conv/fc layers.

        Raises :class:`ConfigError` when the channel floor is above a layer's width.
        """
        sp = recipe.space
        choices = []
        for i, w in enumerate(parent_widths):
            if not sp.prune:
                choices.append((int(w),))
                continue
            if sp.min_channels > w:
                raise ConfigError(
                    f"space.min_channels ({sp.min_channels}) is above the width {w} of prunable "
                    f"layer {i} of model '{recipe.model}'; lower space.min_channels"
                )
            choices.append(channel_choices(int(w), sp.channel_step, sp.min_channels, sp.min_ratio))
        wbits = bits_override or tuple(sorted(set(sp.wbits)))
        abits = bits_override or tuple(sorted(set(sp.abits)))
        head = bits_override or tuple(sorted(set(sp.head_wbits or sp.wbits)))
        return cls(
            tuple(int(w) for w in parent_widths),
            num_quant,
            tuple(choices),
            wbits,
            abits,
            head,
            sp.per_layer_bits,
        )

    # -------------------------------------------------------------------- sampling
    def suggest(self, trial: Any) -> Candidate:
        """Ask ``trial`` (an Optuna trial) for a candidate."""
        channels = []
        for i, ch in enumerate(self.channel_choices):
            if len(ch) == 1:
                channels.append(ch[0])
                continue
            step = ch[1] - ch[0]
            if all(b - a == step for a, b in zip(ch, ch[1:], strict=False)):
                channels.append(trial.suggest_int(f"ch{i}", ch[0], ch[-1], step=step))
            else:
                channels.append(trial.suggest_categorical(f"ch{i}", list(ch)))
        n = self.num_quant
        if self.per_layer_bits:
            wbits = [trial.suggest_categorical(f"wb{i}", list(self.wbits)) for i in range(n - 1)]
            wbits.append(trial.suggest_categorical(f"wb{n - 1}", list(self.head_wbits)))
            abits: list[int | None] = [
                trial.suggest_categorical(f"ab{i}", list(self.abits)) for i in range(n - 1)
            ]
        else:
            wb = trial.suggest_categorical("wb", list(self.wbits))
            wh = trial.suggest_categorical("wb_head", list(self.head_wbits))
            ab = trial.suggest_categorical("ab", list(self.abits))
            wbits, abits = [wb] * (n - 1) + [wh], [ab] * (n - 1)
        abits.append(None)
        return Candidate(
            tuple(int(c) for c in channels), tuple(int(b) for b in wbits), tuple(abits)
        )

    def params_of(self, cand: Candidate) -> dict[str, Any]:
        """Optuna parameters that make :meth:`suggest` return ``cand`` (for enqueue_trial).

        Raises :class:`ConfigError` when ``cand`` is outside the space.
        """
        params: dict[str, Any] = {}
        for i, (c, ch) in enumerate(zip(cand.channels, self.channel_choices, strict=True)):
            if c not in ch:
                raise ConfigError(f"channel count {c} of layer {i} is not in the space {ch}")
            if len(ch) > 1:
                params[f"ch{i}"] = c
        n = self.num_quant
        if self.per_layer_bits:
            for i in range(n):
                params[f"wb{i}"] = cand.wbits[i]
            for i in range(n - 1):
                params[f"ab{i}"] = cand.abits[i]
        else:
            params.update(wb=cand.wbits[0], wb_head=cand.wbits[-1], ab=cand.abits[0])
        return params

    def uniform(self, ratio: float, bits: int) -> Candidate:
        """The uniform candidate: every layer at ``ratio`` x its parent width and ``bits``.

        Each value is the nearest one the space offers (ties: the larger), so the result is
        always a member of the space.

        Example:
            >>> sp = SearchSpace.build((64, 64, 64), 4, Recipe())
            >>> c = sp.uniform(0.5, 4)
            >>> c.channels, c.wbits, c.abits
            ((32, 32, 32), (4, 4, 4, 4), (4, 4, 4, None))
        """

        def nearest(choices: Sequence[int], want: float) -> int:
            return min(choices, key=lambda c: (abs(c - want), -c))

        chans = tuple(
            nearest(ch, ratio * w)
            for ch, w in zip(self.channel_choices, self.parent_widths, strict=True)
        )
        n = self.num_quant
        wb, wh, ab = (nearest(c, bits) for c in (self.wbits, self.head_wbits, self.abits))
        return Candidate(chans, (wb,) * (n - 1) + (wh,), (ab,) * (n - 1) + (None,))

    def size(self) -> int:
        """Number of distinct candidates."""
        total = 1
        for ch in self.channel_choices:
            total *= len(ch)
        n = self.num_quant
        if self.per_layer_bits:
            total *= len(self.wbits) ** (n - 1) * len(self.head_wbits) * len(self.abits) ** (n - 1)
        else:
            total *= len(self.wbits) * len(self.head_wbits) * len(self.abits)
        return total


# =============================================================================== pricing
def make_design(spec: Any, cand: Candidate, input_bits: int, name: str) -> dict[str, Any]:
    """Design description of ``cand`` on model ``spec`` (a :class:`hwprune.models.ModelSpec`).

    Example:
        >>> from hwprune.models import get_spec
        >>> d = make_design(get_spec("mlp-digits"), Candidate((16, 8, 8), (4,) * 4,
        ...                 (4, 4, 4, None)), 8, "x")
        >>> d["input"], d["layers"][0]
        ({'shape': [1, 8, 8], 'bits': 8}, {'op': 'fc', 'out': 16, 'wbits': 4, 'abits': 4})
    """
    pruned = spec.with_widths(list(cand.channels))
    layers = pruned.design_layers(list(cand.wbits), list(cand.abits))
    return {
        "name": name,
        "input": {"shape": list(spec.input_shape), "bits": int(input_bits)},
        "layers": layers,
    }


def _est_get(est: Any, key: str, default: Any = None) -> Any:
    return getattr(est, key, default)


def price(
    design: Mapping[str, Any], target: Any, recipe: Recipe
) -> tuple[Any, dict[str, Any], dict[str, float]]:
    """Price ``design`` on ``target``: (estimate, hardware summary, constraint values).

    Constraint values are normalised violations, feasible when <= 0: ``fits`` (the folding
    optimizer found a design within the target's capacity under the utilisation cap),
    ``min_fps``, ``max_latency_us``, ``max_lut``/``ff``/``bram18``/``dsp`` (relative excess over
    the limit).
    """
    c = recipe.constraints
    if getattr(target, "kind", "fpga") == "gpu":
        from hwprune.cost.gpu import estimate_gpu

        est = estimate_gpu(dict(design), target)
        hw = {
            "fps": float(est.fps),
            "latency_us": float(est.latency_us),
            "lut": 0.0,
            "ff": 0.0,
            "bram18": 0.0,
            "dsp": 0.0,
            "fits": bool(est.fits_memory),
            "binding": None if est.fits_memory else "memory",
            "memory_mb": float(est.memory_mb),
        }
        cons = {
            "fits": 0.0
            if est.fits_memory
            else max(1e-6, est.memory_mb / max(target.memory_mb, 1e-9) - 1.0)
        }
        if c.max_memory_mb > 0:
            cons["max_memory_mb"] = (est.memory_mb - c.max_memory_mb) / c.max_memory_mb
    else:
        from hwprune.estimate import estimate as _estimate

        fps_goal = c.min_fps if recipe.study.folding == "smallest" else None
        est = _estimate(dict(design), target, fps=fps_goal, util_cap=c.util_cap or None)
        hw = {k: float(_est_get(est, k, 0.0) or 0.0) for k in HW_KEYS}
        hw["fits"] = bool(est.fits)
        hw["binding"] = _est_get(est, "binding")
        cons = {"fits": 0.0 if est.fits else _overflow(est, target, c.util_cap)}
    if c.min_fps > 0:
        cons["min_fps"] = (c.min_fps - hw["fps"]) / c.min_fps
    if c.max_latency_us > 0:
        cons["max_latency_us"] = (hw["latency_us"] - c.max_latency_us) / c.max_latency_us
    for key in ("lut", "ff", "bram18", "dsp"):
        limit = getattr(c, f"max_{key}")
        if limit > 0:
            cons[f"max_{key}"] = (hw[key] - limit) / limit
    return est, hw, cons


def _overflow(est: Any, target: Any, util_cap: float) -> float:
    """How far (relative) the cheapest folding overflows the capped capacity (> 0)."""
    cap = util_cap or getattr(target, "util_cap", 1.0) or 1.0
    worst = 0.0
    capacity = target.capacity() if hasattr(target, "capacity") else {}
    for key, avail in capacity.items():
        used = float(_est_get(est, key, 0.0) or 0.0)
        if avail > 0:
            worst = max(worst, used / (avail * cap) - 1.0)
    return max(worst, 1e-6)


def worst_values(objectives: Sequence[str]) -> list[float]:
    """Objective values reported for an infeasible (untrained) candidate: the worst possible.

    Example:
        >>> worst_values(["accuracy", "fps", "latency_us"])
        [0.0, 0.0, inf]
    """
    return [0.0 if OBJECTIVES[o] == "maximize" else math.inf for o in objectives]


# =============================================================================== early stop
def late_gain(curves: Sequence[Sequence[float]], epochs_done: int, margin: float) -> float:
    """Largest accuracy gain after epoch ``epochs_done`` seen in finished fine-tunes.

    For each validation curve, the gain is its best accuracy minus its best accuracy over the
    first ``epochs_done`` epochs; the result is the largest such gain, and at least ``margin``.

    Example:
        >>> late_gain([[0.5, 0.8, 0.9], [0.9, 0.91, 0.92]], 1, 0.03)
        0.4
    """
    gain = margin
    for c in curves:
        if len(c) > epochs_done:
            gain = max(gain, max(c) - max(c[:epochs_done]))
    return round(gain, 12)


def cannot_reach_front(
    acc_now: float,
    hw: Mapping[str, float],
    front: Sequence[Mapping[str, Any]],
    objectives: Sequence[str],
    gain: float,
) -> bool:
    """Our early-stopping rule (Optuna's pruners do not work on multi-objective studies).

    After the first epochs of its fine-tune a candidate has reached validation accuracy
    ``acc_now``. Its hardware objectives (``hw``: frames/s, latency, resources) are already
    known exactly from the cost model; only its accuracy can still change. We bound the
    accuracy it can still reach *optimistically* by ``acc_now + gain``, where ``gain`` is
    :func:`late_gain`: the largest gain after that epoch that any finished fine-tune of this
    study showed (at least a margin). If a member of the current ``front`` is at least as good
    on every hardware objective **and** more accurate than that optimistic bound, the candidate
    would end up dominated, so finishing its fine-tune cannot change the front: stop it. The
    stopped trial is reported with the accuracy it reached (a lower bound), which keeps it off
    the front.

    The gain statistic must not be biased by the rule itself (stopped fine-tunes never show
    their late gains): the search lets its first ``study.startup_trials`` trained candidates
    (random samples) always finish, and checks after ``study.early_stop_after`` epochs, where
    the remaining gain is smaller and better predicted.

    ``front`` holds the front of the finished, trained, feasible trials as dicts with
    ``accuracy`` and the hardware objectives.

    Example:
        >>> front = [{"accuracy": 0.95, "fps": 1e6}]
        >>> cannot_reach_front(0.50, {"fps": 5e5}, front, ["accuracy", "fps"], 0.05)
        True
        >>> cannot_reach_front(0.93, {"fps": 5e5}, front, ["accuracy", "fps"], 0.05)
        False
        >>> cannot_reach_front(0.50, {"fps": 2e6}, front, ["accuracy", "fps"], 0.05)
        False
    """
    optimistic = acc_now + gain
    hw_objs = [o for o in objectives if o != "accuracy"]
    for t in front:
        if float(t["accuracy"]) <= optimistic:
            continue
        if all(
            (t[o] >= hw[o]) if OBJECTIVES[o] == "maximize" else (t[o] <= hw[o]) for o in hw_objs
        ):
            return True
    return False


# =============================================================================== workbench
@dataclass
class Workbench:
    """What a trial needs, built once per process: data, parent network, target, space."""

    recipe: Recipe
    target: Any
    data: Any
    spec: Any
    parent: Any
    parent_val_acc: float
    parent_test_acc: float
    space: SearchSpace
    example_input: Any
    parent_s: float = 0.0
    #: where candidates are fine-tuned ("cpu", "cuda:1", ...); the parent stays on the CPU
    device: str = "cpu"

    @property
    def is_gpu(self) -> bool:
        """True on a GPU target."""
        return getattr(self.target, "kind", "fpga") == "gpu"


def _train_parent_once(lock_dir: Path, /, *args: Any, **kwargs: Any) -> Any:
    """``train_parent`` under the cache folder's file lock.

    Local workers that start together never train the parent twice at once: the first trains
    and publishes it (atomically), the others wait on the lock and then load it from the cache.
    """
    from hwprune.cache import file_lock
    from hwprune.compress import train as T

    Path(lock_dir).mkdir(parents=True, exist_ok=True)
    with file_lock(Path(lock_dir) / ".parent.lock"):
        return T.train_parent(*args, **kwargs)


def build_workbench(
    recipe: Recipe, target: Any, cache_dir: Path, device: str | None = None
) -> Workbench:
    """Load the data, get the float parent (trained once, cached in ``cache_dir``), the space.

    ``device`` is where this process fine-tunes candidates (default CPU); asking for a device
    torch cannot use here is a :class:`ConfigError`.
    """
    import torch

    device = _check_device(device or "cpu")
    if recipe.study.measure and getattr(target, "kind", "fpga") != "gpu":
        raise ConfigError(
            f"--measure times candidates on this machine, which says nothing about FPGA target "
            f"'{getattr(target, 'name', target)}'; use it with a GPU or measured target (write "
            "one with `hwprune calibrate --device cpu|cuda` and pass --target-file)"
        )
    if recipe.constraints.max_memory_mb > 0 and getattr(target, "kind", "fpga") != "gpu":
        raise ConfigError("--max-memory-mb applies to GPU targets; on an FPGA use --max-bram18")

    from hwprune.compress import train as T
    from hwprune.data import load_dataset
    from hwprune.models import (
        build_model,
        get_spec,
        load_checkpoint,
        load_user_model,
        model_layers,
    )
    from hwprune.models.spec import ModelSpec

    if recipe.budget.threads > 0:
        torch.set_num_threads(recipe.budget.threads)
    torch.manual_seed(recipe.seed)
    data = load_dataset(recipe.dataset, recipe.data_dir or None, seed=recipe.seed)
    t0 = time.perf_counter()
    p = recipe.parent
    if ":" in recipe.model:
        user = load_user_model(recipe.model, checkpoint=recipe.checkpoint or None)
        layers = model_layers(user, data.input_shape)
        spec = ModelSpec(
            recipe.model.replace(":", "."), data.input_shape, data.num_classes, tuple(layers)
        )
        if recipe.checkpoint:
            parent = user
        else:  # the user's module is the initial weights; trained and cached like a zoo model
            parent = _train_parent_once(
                cache_dir,
                user,
                data,
                seed=recipe.seed,
                epochs=p.epochs,
                cache_dir=cache_dir,
                lr=p.lr,
                optimizer=p.optimizer,
                bn_l1=p.bn_l1,
            )
    else:
        spec = get_spec(
            recipe.model, data.input_shape, data.num_classes, width_mult=recipe.width_mult
        )
        if recipe.checkpoint:  # a zoo model trained elsewhere: its weights are the parent
            parent = load_checkpoint(
                build_model(spec), recipe.checkpoint, f"zoo model '{recipe.model}' on {data.name}"
            )
        else:
            parent = _train_parent_once(
                cache_dir,
                spec,
                data,
                seed=recipe.seed,
                epochs=p.epochs,
                cache_dir=cache_dir,
                lr=p.lr,
                optimizer=p.optimizer,
                bn_l1=p.bn_l1,
            )
    parent.eval()
    parent_s = time.perf_counter() - t0
    val_acc = float(T.evaluate(parent, data.val))
    test_acc = float(T.evaluate(parent, data.test))
    logger.info(
        "float parent %s on %s (%d train / %d val / %d test): %s in %.1f s, val accuracy %.4f",
        spec.name,
        data.name,
        len(data.train),
        len(data.val),
        len(data.test),
        "loaded from cache" if getattr(parent, "cache_hit", False) else "trained",
        parent_s,
        val_acc,
    )
    bits = (8,) if getattr(target, "kind", "fpga") == "gpu" else None
    space = SearchSpace.build(
        spec.prunable_widths(), spec.num_quant_layers, recipe, bits_override=bits
    )
    example = data.train.x[:2].clone()
    return Workbench(
        recipe, target, data, spec, parent, val_acc, test_acc, space, example, parent_s, device
    )


def measure_candidate(wb: Workbench, cand: Candidate) -> float:
    """Median latency (us) of ``cand``'s pruned float network on the target's local device.

    The target must be a measured one (``kind = "gpu"`` with a local ``device``, e.g. written by
    ``hwprune calibrate``); the search records this next to the predicted ``latency_us``.
    """
    from hwprune.calibrate import measure_for_target
    from hwprune.compress import prune as P

    pruned = P.prune_to(
        wb.parent,
        list(cand.channels),
        wb.example_input,
        criterion=wb.recipe.prune.criterion,
        data=wb.data.train,
    )
    return float(measure_for_target(pruned.eval(), wb.data.input_shape, wb.target))


def _check_device(device: str) -> str:
    """``device`` if torch can use it in this process, else a ConfigError that says what to do."""
    import torch

    kind, _, index = device.partition(":")
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (index and int(index) >= count):
            raise ConfigError(
                f"device {device} is not available here (torch sees {count} CUDA device(s), "
                f"torch {torch.__version__}); install a CUDA build of torch or use --device cpu"
            )
    elif kind == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device mps is not available here; use --device cpu")
    return device


def train_candidate(
    wb: Workbench,
    cand: Candidate,
    epochs: int,
    seed: int,
    on_epoch: Callable[[int, float], bool] | None = None,
) -> tuple[Any, float, list[float]]:
    """Prune the parent to ``cand``, quantize, fine-tune with KD: (model, val acc, curve)."""
    import torch

    from hwprune.compress import prune as P
    from hwprune.compress import quant as Q
    from hwprune.compress import train as T

    r = wb.recipe
    torch.manual_seed(seed)
    pruned = P.prune_to(
        wb.parent,
        list(cand.channels),
        wb.example_input,
        criterion=r.prune.criterion,
        data=wb.data.train,
    )
    qmodel = Q.to_brevitas(
        pruned, list(cand.wbits), list(cand.abits), input_scale=wb.data.input_scale
    )
    curve: list[float] = []

    def cb(epoch: int, val_acc: float) -> bool:
        curve.append(float(val_acc))
        return True if on_epoch is None else bool(on_epoch(len(curve), float(val_acc)))

    hist = T.finetune_qat(
        qmodel,
        wb.parent,
        wb.data,
        epochs=epochs,
        kd_alpha=r.kd.alpha,
        kd_temperature=r.kd.temperature,
        patience=r.budget.patience or None,
        on_epoch=cb,
        lr=r.kd.lr,
        seed=seed,
        device=wb.device,
    )
    # the trainer restores the best-validation weights; report that accuracy
    acc = float(getattr(hist, "best_val_acc", None) or T.evaluate(qmodel, wb.data.val))
    return qmodel, acc, curve


# =============================================================================== objective
def _trained_records(study: optuna.Study) -> list[dict[str, Any]]:
    """Finished, fully trained, feasible trials as flat dicts (accuracy, hardware, curve)."""
    from optuna.trial import TrialState

    out = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.user_attrs.get("status") != STATUS_OK:
            continue
        if any(v > 0 for v in t.constraints.values()):
            continue
        rec = dict(t.user_attrs.get("hw", {}))
        rec["accuracy"] = float(t.user_attrs.get("accuracy", 0.0))
        rec["val_curve"] = t.user_attrs.get("val_curve", [])
        rec["number"] = t.number
        out.append(rec)
    return out


def _front_of(records: Sequence[Mapping[str, Any]], objectives: Sequence[str]) -> list:
    idx = pareto_indices(
        [_values(r, objectives) for r in records], [OBJECTIVES[o] for o in objectives]
    )
    return [records[i] for i in idx]


def _values(rec: Mapping[str, Any], objectives: Sequence[str]) -> list[float]:
    return [float(rec[o]) for o in objectives]


class Objective:
    """The Optuna objective of a search (callable on a trial); counts what it did."""

    def __init__(self, wb: Workbench, run: RunFolder) -> None:
        self.wb = wb
        self.run = run
        self.recipe = wb.recipe
        self.objectives = list(wb.recipe.objectives)
        self.trained = 0

    def __call__(self, trial: optuna.Trial) -> list[float]:
        r = self.recipe
        cand = self.wb.space.suggest(trial)
        design = make_design(
            self.wb.spec, cand, r.space.input_bits, f"{r.name}-trial{trial.number}"
        )
        est, hw, cons = price(design, self.wb.target, r)
        folded = _with_folding(design, est)
        for key, value in cons.items():
            trial.set_constraint(key, float(value))
        trial.set_user_attr("candidate", cand.to_json())
        trial.set_user_attr("design", folded)
        trial.set_user_attr("hw", hw)
        trial.set_user_attr("constraints", {k: float(v) for k, v in cons.items()})
        trial.set_user_attr("estimate", _estimate_json(est))
        atomic_write_json(self.run.trial_dir(trial.number) / "design.json", folded)
        if any(v > 0 for v in cons.values()):
            trial.set_user_attr("status", STATUS_INFEASIBLE)
            return worst_values(self.objectives)

        k = r.study.early_stop_after
        stopped: dict[str, int] = {}
        best_so_far: list[float] = []
        study = trial.study

        def on_epoch(done: int, acc: float) -> bool:
            best_so_far.append(max(acc, best_so_far[-1] if best_so_far else 0.0))
            if k <= 0 or done != k or done >= r.budget.epochs:
                return True
            records = _trained_records(study)
            if len(records) < r.study.startup_trials:
                return True  # the first fine-tunes always finish: unbiased late gains
            gain = late_gain([rec["val_curve"] for rec in records], k, r.study.early_stop_margin)
            if cannot_reach_front(
                best_so_far[-1], hw, _front_of(records, self.objectives), self.objectives, gain
            ):
                stopped["epoch"] = done
                return False
            return True

        t0 = time.perf_counter()
        self.trained += 1
        _, acc, curve = train_candidate(
            self.wb, cand, r.budget.epochs, seed=r.seed + 1000 + trial.number, on_epoch=on_epoch
        )
        trial.set_user_attr("train_s", round(time.perf_counter() - t0, 3))
        if r.study.measure:
            hw["measured_latency_us"] = measure_candidate(self.wb, cand)
            trial.set_user_attr("hw", hw)
        trial.set_user_attr("val_curve", curve)
        trial.set_user_attr("accuracy", acc)
        if not math.isfinite(acc):
            raise HwpruneError(f"trial {trial.number}: the fine-tune diverged (accuracy {acc})")
        if r.constraints.min_accuracy > 0:
            trial.set_constraint("min_accuracy", r.constraints.min_accuracy - acc)
        if stopped:
            trial.set_user_attr("status", STATUS_STOPPED)
            trial.set_user_attr("stopped_at", stopped["epoch"])
        else:
            trial.set_user_attr("status", STATUS_OK)
        values = dict(hw)
        values["accuracy"] = acc
        return _values(values, self.objectives)


#: the uniform designs a warm start tries, in order: (width ratio, bit-width). W4A4 at every
#: width first (FINN's usual trade-off), then W8A8 (int8, the accurate end) and W2A2 (the fast
#: end), widest first
WARM_START_GRID: tuple[tuple[float, int], ...] = tuple(
    (r, b) for b in (4, 8, 2) for r in (1.0, 0.75, 0.5, 0.25)
)


def warm_start_candidates(wb: Workbench, n: int) -> list[Candidate]:
    """Up to ``n`` distinct uniform candidates (see :data:`WARM_START_GRID`) that fit.

    Each is priced first (milliseconds), so a warm start never spends a trial on a design the
    cost model already rejects.

    Example:
        >>> from hwprune.targets import load_target
        >>> wb = build_workbench(load_recipe("digits-mlp"), load_target("pynq-z2"),
        ...                      Path("/tmp/hw-cache"))  # doctest: +SKIP
        >>> [c.wbits[0] for c in warm_start_candidates(wb, 2)]  # doctest: +SKIP
        [4, 2]
    """
    r = wb.recipe
    out: list[Candidate] = []
    for ratio, bits in WARM_START_GRID:
        if len(out) >= n:
            break
        cand = wb.space.uniform(ratio, bits)
        if cand in out:
            continue
        design = make_design(wb.spec, cand, r.space.input_bits, "warm-start")
        _, _, cons = price(design, wb.target, r)
        if all(v <= 0 for v in cons.values()):
            out.append(cand)
    return out


def enqueue_warm_start(study: optuna.Study, wb: Workbench) -> int:
    """Queue the recipe's ``study.warm_start`` uniform designs in a study that has no trials.

    A resumed or joined study is left alone. Returns how many trials were queued.
    """
    if study.trials:
        return 0
    n = min(wb.recipe.study.warm_start, wb.recipe.budget.trials)
    cands = warm_start_candidates(wb, n) if n > 0 else []
    for cand in cands:
        study.enqueue_trial(wb.space.params_of(cand), user_attrs={"warm_start": True})
    return len(cands)


def _with_folding(design: Mapping[str, Any], est: Any) -> dict[str, Any]:
    """Copy of ``design`` with the estimate's PE/SIMD and multiplier resource (``res_type``:
    ``"lut"`` or ``"dsp"``, chosen by the folding optimizer) written into its conv/fc layers.

    The cost model names the k-th conv ``conv<k>`` and the k-th fc ``fc<k>`` (see
    :func:`hwprune.ir.build_ir`); its ``folding`` maps those names to ``{"pe", "simd",
    "res_type"}``. Pricing the result again gives the same frames/s and resources (every
    choice is fixed); only ``binding`` may then read None, since no folding was searched.

    Example:
        >>> d = {"input": {"shape": [4], "bits": 8},
        ...      "layers": [{"op": "fc", "out": 2, "wbits": 2, "abits": None}]}
        >>> class E:
        ...     folding = {"fc0": {"pe": 2, "simd": 4, "res_type": "lut"}}
        >>> _with_folding(d, E())["layers"][0]
        {'op': 'fc', 'out': 2, 'wbits': 2, 'abits': None, 'pe': 2, 'simd': 4, 'res_type': 'lut'}
    """
    out = {**design, "layers": [dict(lay) for lay in design["layers"]]}
    folding = _est_get(est, "folding")
    if not isinstance(folding, Mapping) or not folding:
        return out
    count = {"conv": 0, "fc": 0}
    for lay in out["layers"]:
        if lay["op"] not in count:
            continue
        f = folding.get(f"{lay['op']}{count[lay['op']]}")
        count[lay["op"]] += 1
        if isinstance(f, Mapping):
            if "pe" in f:
                lay["pe"] = int(f["pe"])
            if "simd" in f:
                lay["simd"] = int(f["simd"])
            if f.get("res_type") in ("lut", "dsp"):
                lay["res_type"] = str(f["res_type"])
    return out


def _estimate_json(est: Any) -> Any:
    import json

    if hasattr(est, "to_json"):
        text = est.to_json()
        return json.loads(text) if isinstance(text, str) else text
    if hasattr(est, "to_dict"):
        return est.to_dict()
    return {}


# =============================================================================== storage
def open_storage(
    url: str | None,
    run_dir: str | Path | None = None,
    *,
    heartbeat_s: int | None = None,
    grace_s: int | None = None,
) -> Any:
    """Optuna storage for ``url`` (``None``: ``<run_dir>/study.db``), with heartbeats.

    Delegates to :func:`hwprune.storage.open_storage`: SQLite, any SQLAlchemy URL
    (PostgreSQL ...), or a journal file (``journal:///path/file.log``); a worker that dies
    mid-trial has its trial failed and re-queued by the heartbeat of the others (a heartbeat
    every ``heartbeat_s`` seconds, default 30; stale after ``grace_s``, default 120, or 4x
    ``heartbeat_s`` when only that is given). Raises :class:`StorageError` with a one-line
    reason when the storage cannot be used.

    Example:
        >>> open_storage("sqlite:///:memory:").__class__.__name__
        'RDBStorage'
    """
    from hwprune import storage as hs

    # None means "default"; 0 or a negative value is passed on and refused by open_storage
    interval = hs.DEFAULT_HEARTBEAT_INTERVAL if heartbeat_s is None else heartbeat_s
    if grace_s is not None:
        grace = grace_s
    else:
        grace = 4 * heartbeat_s if heartbeat_s else hs.DEFAULT_GRACE_PERIOD
    return hs.open_storage(url, run_dir=run_dir, heartbeat_interval=interval, grace_period=grace)


def _mask(url: str) -> str:
    """Hide a password in a storage URL."""
    from hwprune.storage import redact_url

    return redact_url(url)


def _claim_file(url: str, run: RunFolder) -> Path | None:
    """The trial-claim lock file of storage ``url`` (none for a database server).

    Keyed on the storage file, not on ``--out``: a worker joining ``<run>/study.db`` from
    any folder holds the same claim as the search that owns ``<run>``.
    """
    from hwprune.storage import parse_storage

    try:
        return claim_path(parse_storage(url, run_dir=run.root).path)
    except HwpruneError:  # a bad URL is reported by open_storage, with its reason
        return None


def requeue_cut_off(study: optuna.Study, own_storage: bool) -> list[int]:
    """Fail trials that were cut off and re-queue their parameters; returns their numbers.

    Cut off = ``FAIL`` with the ``interrupted`` mark (Ctrl-C), or ``RUNNING`` when
    ``own_storage`` is true. Each is re-queued once (the study remembers which).

    ``own_storage`` must be true only when no live process can be running a trial of this
    storage. :func:`search` proves it for the run folder's private SQLite file alone: it holds
    the folder lock (:func:`~hwprune.runfolder.folder_lock`) *and* the storage's trial claim
    exclusively (:class:`~hwprune.runfolder.TrialClaim`; every process that runs trials on a
    storage file, each ``hwprune worker`` included, holds that claim shared while it runs).
    Without that proof a RUNNING trial may belong to a live worker, here or on another machine,
    and is left to the heartbeats: a worker that finds a trial whose last heartbeat is older
    than the grace period fails and re-queues it (Optuna's stale-trial check, run before each
    trial by :func:`hwprune.workers.run_worker`).
    """
    from optuna.trial import TrialState

    done = set(study.user_attrs.get("requeued", []))
    storage = study._storage
    requeued = []
    for t in study.get_trials(deepcopy=False):
        if t.number in done:
            continue
        cut = (own_storage and t.state == TrialState.RUNNING) or (
            t.state == TrialState.FAIL and t.user_attrs.get("interrupted")
        )
        if not cut:
            continue
        if t.state == TrialState.RUNNING:
            with contextlib.suppress(Exception):
                storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        if not t.params:
            continue
        study.enqueue_trial(dict(t.params), user_attrs={"retry_of": t.number})
        requeued.append(t.number)
    if requeued:
        study.set_user_attr("requeued", sorted(done | set(requeued)))
        logger.info("re-queued cut-off trials %s", requeued)
    return requeued


# =============================================================================== results
@dataclass(frozen=True)
class FrontPoint:
    """One design of the Pareto front (or the chosen one)."""

    trial: int
    accuracy: float
    values: dict[str, float]
    candidate: Candidate
    hw: dict[str, Any]
    design: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "trial": self.trial,
            "accuracy": self.accuracy,
            "values": self.values,
            **self.candidate.to_json(),
            "hw": self.hw,
            "design": self.design,
        }


@dataclass(frozen=True)
class SearchResult:
    """What :func:`search` returns (``summary`` is the content of ``summary.json``)."""

    run_dir: Path
    study_name: str
    storage: str
    front: tuple[FrontPoint, ...]
    chosen: FrontPoint | None
    val_accuracy: float | None
    test_accuracy: float | None
    summary: dict[str, Any] = field(repr=False)


def trial_counts(study: optuna.Study) -> dict[str, int]:
    """Counts of the study's trials by outcome (``summary.json``'s ``trials``).

    ``total`` (every trial in the study) = ``complete`` (= ``feasible`` + ``infeasible`` +
    ``stopped``) + ``failed`` + ``cut_off`` + ``surplus`` + ``running`` + ``waiting``.
    ``failed``: the trial raised and its reason is recorded; ``cut_off``: its process died or
    was interrupted mid-trial (its candidate was re-queued and re-run as a trial of its own);
    ``surplus``: a placeholder of a worker that found the budget taken (it never ran). See
    :func:`hwprune.workers.fail_kind`.

    Example:
        >>> import optuna
        >>> s = optuna.create_study()
        >>> s.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
        >>> c = trial_counts(s)
        >>> c["total"], c["failed"], c["cut_off"]
        (1, 0, 1)
    """
    from optuna.trial import TrialState

    from hwprune.workers import fail_kind

    c = {
        "total": 0,
        "complete": 0,
        "feasible": 0,
        "infeasible": 0,
        "stopped": 0,
        "failed": 0,
        "cut_off": 0,
        "surplus": 0,
        "running": 0,
        "waiting": 0,
    }
    for t in study.get_trials(deepcopy=False):
        c["total"] += 1
        if t.state == TrialState.COMPLETE:
            c["complete"] += 1
            status = t.user_attrs.get("status")
            if status == STATUS_INFEASIBLE or any(v > 0 for v in t.constraints.values()):
                c["infeasible"] += 1
            elif status == STATUS_STOPPED:
                c["stopped"] += 1
            else:
                c["feasible"] += 1
        elif t.state == TrialState.FAIL:
            c[fail_kind(t)] += 1
        elif t.state == TrialState.RUNNING:
            c["running"] += 1
        elif t.state == TrialState.WAITING:
            c["waiting"] += 1
    return c


def pareto_front(study: optuna.Study, objectives: Sequence[str]) -> list[FrontPoint]:
    """Feasible, fully trained trials that no other such trial dominates (by trial number)."""
    from optuna.trial import TrialState

    pts: list[FrontPoint] = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.user_attrs.get("status") != STATUS_OK:
            continue
        if any(v > 0 for v in t.constraints.values()):
            continue
        values = dict(zip(objectives, t.values, strict=True))
        pts.append(
            FrontPoint(
                t.number,
                float(values["accuracy"]),
                values,
                Candidate.from_json(t.user_attrs["candidate"]),
                dict(t.user_attrs.get("hw", {})),
                dict(t.user_attrs.get("design", {})),
            )
        )
    dirs = [OBJECTIVES[o] for o in objectives]
    idx = pareto_indices([[p.values[o] for o in objectives] for p in pts], dirs)
    return sorted((pts[i] for i in idx), key=lambda p: (-p.accuracy, p.trial))


# =============================================================================== the search
def default_study_name(recipe: Recipe, target_name: str) -> str:
    """``<recipe>-<target>``, e.g. ``digits-mlp-pynq-z2``."""
    return f"{recipe.name}-{target_name}"


def _load_target(target: Any) -> Any:
    if not isinstance(target, (str, Path)):
        return target
    from hwprune.targets import load_target

    return load_target(str(target))


def _target_toml(target: Any) -> str:
    src = getattr(target, "source", "")
    with contextlib.suppress(OSError):
        if src and Path(src).is_file():
            return Path(src).read_text()
    return ""


def _make_sampler(recipe: Recipe, offset: int) -> Any:
    import optuna

    seed = recipe.seed + offset
    s = recipe.study
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if s.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(population_size=s.population, seed=seed)
        if s.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, n_startup_trials=s.startup_trials, constant_liar=True
        )


def _sampler_salt(joining: bool) -> int:
    """Seed offset that keeps concurrent processes on one study from proposing the same trials.

    A lone ``hwprune search`` gets 0 (reproducible). Local workers started with ``--workers K``
    get their index (``HWPRUNE_WORKER_INDEX``); a worker joining by hand, possibly on another
    machine, gets a value from its host name and process id.
    """
    index = os.environ.get("HWPRUNE_WORKER_INDEX")
    if index is not None and index.isdigit():
        return 1_000_003 * (int(index) + 1)
    if joining:
        digest = hashlib.sha256(f"{socket.gethostname()}:{os.getpid()}".encode()).digest()
        return int.from_bytes(digest[:4], "big")
    return 0


def open_study(
    recipe: Recipe, target: Any, storage: Any, study_name: str, create: bool = True
) -> optuna.Study:
    """Create or load ``study_name`` in ``storage`` (checking it is the same search)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trial failures: our own log line
    try:
        existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage)}
    except Exception as exc:  # noqa: BLE001
        raise StorageError(
            f"cannot read the study list from the storage ({exc}); check it"
        ) from None
    n_before = 0
    if study_name in existing:
        summ = existing[study_name]
        fp = summ.user_attrs.get("fingerprint")
        budget = (summ.user_attrs.get("recipe") or {}).get("budget")
        if fp is not None and not recipe.matches_fingerprint(fp, budget):
            before = budget.get("epochs") if isinstance(budget, dict) else None
            if isinstance(before, int) and before != recipe.budget.epochs:
                raise StorageError(
                    f"study '{study_name}' in this storage holds trials fine-tuned for {before} "
                    f"epochs each, not {recipe.budget.epochs} (accuracies of different fine-tune "
                    f"lengths cannot share one front); resume it with --epochs {before} and its "
                    "other settings, or pass --study-name NEW to start a new study"
                )
            raise StorageError(
                f"study '{study_name}' in this storage was created by a different recipe "
                "(its space, data, model, constraints or training differ); pass --study-name NEW "
                "or --out NEW"
            )
        n_before = summ.n_trials
    elif not create:
        raise StorageError(
            f"no study '{study_name}' in this storage; start it with `hwprune search` first "
            "or check --study"
        )
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        directions=recipe.directions(),
        sampler=_make_sampler(recipe, n_before + _sampler_salt(joining=not create)),
        load_if_exists=True,
    )
    if create:  # the latest budgets, so that workers joining later follow them
        study.set_user_attr("recipe", recipe.to_dict())
    if study_name not in existing:
        study.set_user_attr("fingerprint", recipe.fingerprint())
        study.set_user_attr("objectives", list(recipe.objectives))
        study.set_user_attr("target", getattr(target, "name", str(target)))
        study.set_user_attr("target_toml", _target_toml(target))
        from hwprune import __version__

        study.set_user_attr("hwprune_version", __version__)
    return study


def resolve_objectives(recipe: Recipe, target: Any) -> Recipe:
    """On a GPU target the default objective pair (accuracy, fps) becomes (accuracy, latency)."""
    if getattr(target, "kind", "fpga") == "gpu" and tuple(recipe.objectives) == ("accuracy", "fps"):
        return recipe.with_overrides({"objectives": ["accuracy", "latency_us"]})
    return recipe


@contextlib.contextmanager
def _progress(quiet: bool, total: int, study: Any) -> Iterator[Callable[..., None]]:
    """A rich progress bar over trials; yields an Optuna callback that refreshes it."""
    if quiet:
        yield lambda *a, **k: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    def describe() -> tuple[int, str]:
        c = trial_counts(study)
        best = _trained_records(study)
        acc = f"{max(b['accuracy'] for b in best):.3f}" if best else "-"
        return c["complete"], (
            f"feasible {c['feasible']} · infeasible {c['infeasible']} · "
            f"stopped {c['stopped']} · best acc {acc}"
        )

    with Progress(
        TextColumn("trials"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        transient=False,
    ) as prog:
        done, text = describe()
        task = prog.add_task(text, total=total, completed=min(done, total))

        def cb(*_: Any) -> None:
            d, txt = describe()
            prog.update(task, completed=min(d, total), description=txt)

        yield cb


def run_trials(
    study: optuna.Study,
    objective: Objective,
    n_trials: int,
    timeout: float | None,
    callback: Callable[..., None] | None = None,
) -> int:
    """Run trials until the study holds ``n_trials`` finished trials or time is up.

    Returns the number of trials this process ran.

    Several processes may call this on one study (workers, on one machine or many): the
    budget is shared and never overrun (:func:`hwprune.workers.run_worker`). Finished means
    COMPLETE (feasible, infeasible or stopped early) or failed with a recorded reason; a trial
    whose worker died does not count, its re-queued retry does. A user error (bad recipe,
    missing data) stops the search; any other exception fails only its trial.
    """
    import optuna

    from hwprune.workers import run_worker

    def guarded(trial: optuna.Trial) -> list[float]:
        trial.set_user_attr(WORKER_ATTR, _process_id())
        try:
            return objective(trial)
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        except _USER_ERRORS:
            raise
        except Exception as exc:
            # a trial that raises (NaN, OOM, a bug in one candidate) fails; the study goes on
            trial.set_user_attr("status", STATUS_FAILED)
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:500])
            raise _TrialFailed(f"{type(exc).__name__}: {exc}") from exc  # run_worker logs it

    with warnings.catch_warnings(), _first_ctrl_c_finishes_the_trial() as interrupted:
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        res = run_worker(
            study,
            guarded,
            budget=n_trials,
            timeout=timeout or None,
            callbacks=[callback] if callback is not None else [],
            reraise=_USER_ERRORS,
            should_stop=interrupted.is_set,
        )
    if interrupted.is_set():
        raise Interrupted(
            f"interrupted after {res.ran} trial(s) in this run; every finished trial is kept in "
            f"study '{study.study_name}'; run the same command again to resume"
        )
    return res.ran


#: trial user attribute naming the process that ran the trial ("<host>:<pid>")
WORKER_ATTR = "worker"


def _process_id(pid: int | None = None) -> str:
    """``<host>:<pid>`` of this process (or of local process ``pid``)."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


class Interrupted(HwpruneError):
    """The user pressed Ctrl-C; finished trials are stored and the study can be resumed."""


@contextlib.contextmanager
def _first_ctrl_c_finishes_the_trial() -> Iterator[threading.Event]:
    """SIGINT handling for the trial loop: the first Ctrl-C lets the running trial finish and
    stops the loop (the event is set); a second one interrupts at once (KeyboardInterrupt; the
    cut-off trial is re-queued on resume).

    A handler, not Python's default KeyboardInterrupt, because the default can land inside a
    garbage-collector callback (SQLAlchemy's), where Python ignores it and the search goes on.
    """
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum: int, frame: Any) -> None:
        if event.is_set():
            raise KeyboardInterrupt
        event.set()
        logger.warning("interrupted: finishing the running trial (Ctrl-C again stops at once)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, previous)


class _TrialFailed(Exception):
    """A trial raised a non-user error; recorded as FAIL, the study goes on."""


#: errors that are the user's (would fail every trial alike): they stop the search
_USER_ERRORS = (ConfigError, TargetError, StorageError)


def search(
    recipe: str | Path | Recipe | None = None,
    target: Any = "pynq-z2",
    *,
    out: str | Path | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    quiet: bool = True,
    export: bool = True,
    console: Any = None,
    workers: int = 1,
    devices: Sequence[str] = (),
    heartbeat_s: int | None = None,
    grace_s: int | None = None,
) -> SearchResult:
    """Run (or resume) a search and return its Pareto front and chosen design.

    ``recipe`` is a shipped recipe name, a TOML path or a :class:`Recipe`; ``overrides`` maps
    dotted recipe fields to values; ``target`` a target name, file or loaded target. The run
    folder defaults to ``runs/<study-name>``; the storage to its ``study.db``. Calling it
    again with the same arguments resumes: finished trials are kept, cut-off trials are
    re-queued, and only the missing trials run.

    Raises :class:`hwprune.errors.HwpruneError` subclasses for bad input; trial errors that
    are not the user's fault are recorded in the trial and the study goes on.

    Example:
        >>> r = search("digits-mlp", "pynq-z2", out="/tmp/hw-doc",
        ...            overrides={"budget.trials": 3})  # doctest: +SKIP
        >>> len(r.front) >= 1  # doctest: +SKIP
        True
    """
    t_start = time.perf_counter()
    rec = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    if overrides:
        rec = rec.with_overrides(dict(overrides))
    tgt = _load_target(target)
    rec = resolve_objectives(rec, tgt)
    name = study_name or default_study_name(rec, getattr(tgt, "name", "target"))
    run = RunFolder(Path(out) if out else Path("runs") / name)
    run.prepare()
    own = storage is None
    url = storage or run.default_storage_url
    with (
        folder_lock(run.root) as got_lock,
        trial_claim(_claim_file(url, run)) as claim,
    ):
        if own and not got_lock:
            raise StorageError(
                f"run folder '{run.root}' is in use by another hwprune search; wait for it, "
                "or join it with `hwprune worker`"
            )
        run.check_identity(
            name,
            rec.fingerprint(),
            epochs=rec.budget.epochs,
            cache_dir=Path(cache_dir) if cache_dir else None,
            record=got_lock,  # a search that does not own the folder leaves run.json alone
            matches=rec.matches_fingerprint,
        )
        st = open_storage(storage, run_dir=run.root, heartbeat_s=heartbeat_s, grace_s=grace_s)
        study = open_study(rec, tgt, st, name)
        # a RUNNING trial is cut off only when no live process can be running it: see
        # requeue_cut_off (trials of live workers are left to them, dead ones to heartbeats)
        alone = own and got_lock and claim.try_exclusive()
        requeue_cut_off(study, own_storage=alone)
        claim.share()  # from here on this process runs trials (or waits for its workers)
        # a single-process search fine-tunes on the first --device (K workers get theirs)
        wb = build_workbench(
            rec,
            tgt,
            Path(cache_dir) if cache_dir else run.parent_dir,
            device=devices[0] if devices and workers <= 1 else None,
        )
        enqueue_warm_start(study, wb)
        objective = Objective(wb, run)
        t_trials = time.perf_counter()
        with _progress(quiet, rec.budget.trials, study) as cb:
            if workers > 1:
                # K local `hwprune worker` processes share the storage; the parent is in the
                # cache already, so none of them trains it again
                _run_local_workers(
                    url,
                    name,
                    run,
                    Path(cache_dir) if cache_dir else run.parent_dir,
                    rec.budget.trials,
                    workers,
                    devices,
                    heartbeat_s,
                    grace_s,
                    cb,
                )
            else:
                run_trials(study, objective, rec.budget.trials, rec.budget.timeout, cb)
        trials_s = time.perf_counter() - t_trials
        result = finalize(
            study,
            wb,
            run,
            url,
            export=export,
            console=None if quiet else console,
            timings={"parent_s": wb.parent_s, "trials_s": trials_s},
            t_start=t_start,
        )
    return result


def worker(
    storage: str,
    study_name: str,
    *,
    out: str | Path | None = None,
    trials: int | None = None,
    cache_dir: str | Path | None = None,
    quiet: bool = True,
    workers: int = 1,
    devices: Sequence[str] = (),
    device: str | None = None,
    heartbeat_s: int | None = None,
    grace_s: int | None = None,
) -> int:
    """Join an existing study and run trials until its budget is met; returns trials run here.

    The recipe and the target come from the study itself, so a worker on another machine only
    needs the storage URL and the study name. ``workers`` > 1 starts that many local worker
    processes instead (``devices`` assigned round robin), waits for them and returns the
    trials they ran. ``device`` is the device this process was given (see
    :func:`hwprune.workers.launch_workers`).

    On a storage file (SQLite, journal) the worker holds the storage's trial claim shared while
    it runs (:class:`~hwprune.runfolder.TrialClaim`), so that a ``hwprune search`` started on
    the same run folder meanwhile leaves its RUNNING trials alone (see
    :func:`requeue_cut_off`).
    """
    if workers > 1:
        return _worker_pool(
            storage,
            study_name,
            out=out,
            trials=trials,
            cache_dir=cache_dir,
            workers=workers,
            devices=devices,
            heartbeat_s=heartbeat_s,
            grace_s=grace_s,
        )
    st = open_storage(storage, heartbeat_s=heartbeat_s, grace_s=grace_s)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trial failures: our own log line
    try:
        summ = {s.study_name: s for s in optuna.get_all_study_summaries(st)}[study_name]
    except KeyError:
        raise StorageError(
            f"no study '{study_name}' in storage '{_mask(storage)}'; check --study, or start it "
            "with `hwprune search --storage URL`"
        ) from None
    rec = Recipe.from_dict(summ.user_attrs["recipe"], source=f"study '{study_name}'")
    if trials is not None:
        rec = rec.with_overrides({"budget.trials": trials})
    tgt = _target_from_study(summ.user_attrs)
    run = RunFolder(Path(out) if out else Path("runs") / study_name)
    run.prepare()
    with trial_claim(_claim_file(storage, run)) as claim:
        claim.share()  # before this process can have a trial RUNNING
        study = open_study(rec, tgt, st, study_name, create=False)
        wb = build_workbench(
            rec, tgt, Path(cache_dir) if cache_dir else run.parent_dir, device=device
        )
        objective = Objective(wb, run)
        with _progress(quiet, rec.budget.trials, study) as cb:
            return run_trials(study, objective, rec.budget.trials, rec.budget.timeout, cb)


def _run_local_workers(
    url: str,
    study_name: str,
    run: RunFolder,
    cache_dir: Path,
    trials: int | None,
    workers: int,
    devices: Sequence[str],
    heartbeat_s: int | None,
    grace_s: int | None,
    on_poll: Callable[..., None] | None = None,
) -> list[Any]:
    """Start ``workers`` local ``hwprune worker`` processes on the study and wait for them.

    Their output goes to ``<run>/workers/worker-<i>.log``. Returns the finished
    :class:`~hwprune.workers.LaunchedWorker` s (exit code: ``process.returncode``); a worker
    that failed is reported (the others' trials are kept and the budget may be short).
    """
    from hwprune.workers import hwprune_worker_argv, launch_workers, wait_workers

    argv = hwprune_worker_argv(
        url,
        study_name,
        out=run.root,
        cache_dir=cache_dir,
        trials=trials,
        heartbeat=heartbeat_s,
        grace=grace_s,
    )
    procs = launch_workers(
        argv, max(workers, 1), devices=list(devices), log_dir=run.root / "workers"
    )
    codes = wait_workers(procs, on_poll=on_poll)
    bad = [i for i, code in enumerate(codes) if code != 0]
    if bad:
        logger.warning("worker(s) %s exited with an error; see %s", bad, run.root / "workers")
    return procs


def _worker_pool(
    storage: str,
    study_name: str,
    *,
    out: str | Path | None,
    trials: int | None,
    cache_dir: str | Path | None,
    workers: int,
    devices: Sequence[str],
    heartbeat_s: int | None,
    grace_s: int | None,
) -> int:
    """``hwprune worker --workers K``: K local workers on an existing study; trials run."""
    import optuna

    st = open_storage(storage, heartbeat_s=heartbeat_s, grace_s=grace_s)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trial failures: our own log line
    if study_name not in {s.study_name for s in optuna.get_all_study_summaries(st)}:
        raise StorageError(
            f"no study '{study_name}' in storage '{_mask(storage)}'; check --study, or start it "
            "with `hwprune search --storage URL`"
        )
    from hwprune.workers import counts_toward_budget

    done_before = {
        t.number
        for t in optuna.load_study(study_name=study_name, storage=st).get_trials(deepcopy=False)
        if counts_toward_budget(t)
    }
    run = RunFolder(Path(out) if out else Path("runs") / study_name)
    run.prepare()
    launched = _run_local_workers(
        storage,
        study_name,
        run,
        Path(cache_dir) if cache_dir else run.parent_dir,
        trials,
        workers,
        devices,
        heartbeat_s,
        grace_s,
    )
    # what the workers ran (finished trials they tagged), not how much the study grew: the
    # growth also holds surplus placeholders, re-queued copies and other machines' trials
    ours = {_process_id(w.process.pid) for w in launched}
    return sum(
        1
        for t in optuna.load_study(study_name=study_name, storage=st).get_trials(deepcopy=False)
        if t.user_attrs.get(WORKER_ATTR) in ours
        and counts_toward_budget(t)
        and t.number not in done_before
    )


def _target_from_study(attrs: Mapping[str, Any]) -> Any:
    from hwprune.targets import load_target

    name = attrs.get("target", "")
    text = attrs.get("target_toml", "")
    if not text:  # studies that did not store the file: the shipped target of that name
        return load_target(name)
    # the exact file the study was priced with (a user's --target-file may reuse a shipped name)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hwprune-target-") as d:
        p = Path(d) / f"{name or 'target'}.toml"
        p.write_text(text)
        return load_target(str(p))


# =============================================================================== finalize
def finalize(
    study: optuna.Study,
    wb: Workbench,
    run: RunFolder,
    storage_url: str,
    *,
    export: bool = True,
    console: Any = None,
    timings: dict[str, float] | None = None,
    t_start: float | None = None,
) -> SearchResult:
    """Front, selection, final fine-tune, ``best/``, ``pareto.json`` and ``summary.json``.

    ``summary.json`` (schema 1) holds: ``study``, ``storage`` (password hidden), ``run_dir``,
    ``recipe`` (resolved), ``target``, ``objectives``/``directions``, ``trials`` (counts:
    total, complete, feasible, infeasible, stopped, failed, cut_off, surplus, running,
    waiting; see :func:`trial_counts`), ``parent``
    (val/test accuracy, widths), ``front`` (one entry per Pareto design: trial, accuracy,
    values, channels, wbits, abits, hw, design), ``hypervolume`` (accuracy x frames/s from
    (0, 0); null for other objective pairs), ``chosen`` (trial, rule, channels, wbits, abits,
    search_val_accuracy, values, hw, final_epochs, val_accuracy, test_accuracy, val_curve,
    model), ``export`` (null when not run; else ok, dir, bit_exact, csim, timings_s or
    error) and ``timings_s`` (parent_s, trials_s, final_s, export_s, total_s).

    ``best/`` is assembled in a fresh folder and replaces the old one in one step
    (:func:`hwprune.atomic.atomic_dir`): a crash while it is written leaves the previous
    ``best/`` whole, and no file of an earlier design or export (a ``csim.log``, ``hls/``)
    survives next to the new weights.
    """
    from hwprune.atomic import atomic_dir

    r = wb.recipe
    objectives = list(r.objectives)
    dirs = [OBJECTIVES[o] for o in objectives]
    front = pareto_front(study, objectives)
    counts = trial_counts(study)
    timings = dict(timings or {})
    atomic_write_json(
        run.pareto_path,
        {
            "study": study.study_name,
            "objectives": objectives,
            "directions": dirs,
            "front": [p.to_json() for p in front],
        },
    )
    chosen: FrontPoint | None = None
    final: dict[str, Any] = {}
    export_info: dict[str, Any] | None = None
    if front:
        i = select(
            [[p.values[o] for o in objectives] for p in front], dirs, r.study.select, objectives
        )
        chosen = front[i]
        t0 = time.perf_counter()
        final, qmodel = _final_finetune(wb, chosen, run)
        timings["final_s"] = time.perf_counter() - t0
        with atomic_dir(run.best_dir) as folder:
            _write_best(folder, wb, chosen, qmodel, final)
            if export:
                t0 = time.perf_counter()
                export_info = _export_best(wb, chosen, qmodel, folder, run.best_dir)
                timings["export_s"] = time.perf_counter() - t0
    hv = None
    if front and len(objectives) == 2 and "fps" in objectives:
        hv = hypervolume(
            [[p.values[o] for o in objectives] for p in front], dirs, [0.0 for _ in objectives]
        )
    if t_start is not None:
        timings["total_s"] = time.perf_counter() - t_start
    summary = {
        "schema": 1,
        "study": study.study_name,
        "storage": _mask(storage_url),
        "run_dir": str(run.root),
        "recipe": r.to_dict(),
        "target": getattr(wb.target, "name", ""),
        "objectives": objectives,
        "directions": dirs,
        "trials": counts,
        "parent": {
            "val_accuracy": wb.parent_val_acc,
            "test_accuracy": wb.parent_test_acc,
            "widths": list(wb.space.parent_widths),
        },
        "front": [p.to_json() for p in front],
        "hypervolume": hv,
        "chosen": None
        if chosen is None
        else {
            "trial": chosen.trial,
            "rule": r.study.select,
            **chosen.candidate.to_json(),
            "search_val_accuracy": chosen.accuracy,
            "values": chosen.values,
            "hw": chosen.hw,
            **final,
        },
        "export": export_info,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }
    atomic_write_json(run.summary_path, summary)
    _write_report(run, storage_url)
    if chosen is None:  # everything is stored; say why nothing qualified
        raise InfeasibleError(_why_nothing_feasible(study, wb, run))
    if console is not None:
        print_front(front, objectives, chosen, console)
    return SearchResult(
        run.root,
        study.study_name,
        _mask(storage_url),
        tuple(front),
        chosen,
        final.get("val_accuracy"),
        final.get("test_accuracy"),
        summary,
    )


def _why_nothing_feasible(study: optuna.Study, wb: Workbench, run: RunFolder) -> str:
    """One sentence for a search whose front is empty: what was violated and what to do."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
    infeasible = [t for t in trials if t.user_attrs.get("status") == STATUS_INFEASIBLE]
    target = getattr(wb.target, "name", "the target")
    kept = f"the {len(trials)} trial(s) are kept in {run.root}"
    if not infeasible:
        return (
            f"no trial produced a trained design that meets the constraints on {target} "
            f"({len(trials)} finished or failed; see their fail_reason in the study); "
            f"relax --min-accuracy or add --trials; {kept}"
        )
    worst: dict[str, int] = {}
    closest: dict[str, float] = {}
    for t in infeasible:
        for key, value in t.user_attrs.get("constraints", {}).items():
            if value > 0:
                worst[key] = worst.get(key, 0) + 1
                closest[key] = min(closest.get(key, math.inf), float(value))
    key = max(worst, key=worst.get) if worst else "fits"
    binding = {t.user_attrs.get("hw", {}).get("binding") for t in infeasible} - {None}
    what = (
        f"the design does not fit ({', '.join(sorted(binding))} binds)"
        if key == "fits" and binding
        else f"{key} is exceeded"
    )
    advice = (
        (
            "use a larger target or offer fewer channels / bits (--wbits, --abits, "
            "--set space.min_channels=...)"
        )
        if key == "fits"
        else f"relax --{key.replace('_', '-')}"
    )
    excess = closest.get(key, 0.0)  # normalised: (value - limit) / limit
    by = f"{excess + 1:.0f}x the limit" if excess >= 1 else f"{excess:.0%} over the limit"
    return (
        f"no candidate met the constraints on {target}: in {worst.get(key, 0)} of "
        f"{len(infeasible)} infeasible trial(s) {what}, the closest at {by}; {advice}; "
        f"{kept}"
    )


def _final_finetune(wb: Workbench, chosen: FrontPoint, run: RunFolder) -> tuple[dict, Any]:
    """Longer fine-tune of the chosen design: (accuracy record, fine-tuned model)."""
    from hwprune.compress import train as T

    r = wb.recipe
    epochs = r.budget.final_epochs or r.budget.epochs
    qmodel, val_acc, curve = train_candidate(wb, chosen.candidate, epochs, seed=r.seed + 7)
    test_acc = float(T.evaluate(qmodel, wb.data.test))
    info = {
        "final_epochs": epochs,
        "val_accuracy": val_acc,
        "test_accuracy": test_acc,
        "val_curve": curve,
        "model": str(run.best_dir / "model.pt"),
    }
    return info, qmodel


def _write_best(
    folder: Path, wb: Workbench, chosen: FrontPoint, qmodel: Any, info: Mapping[str, Any]
) -> None:
    """The chosen design's weights, design, candidate, estimate and accuracy into ``folder``
    (the fresh folder that becomes ``best/``)."""
    from hwprune.atomic import atomic_torch_save

    r = wb.recipe
    atomic_torch_save(qmodel.state_dict(), folder / "model.pt")  # flushed to disk, like the rest
    design = dict(chosen.design)
    design["name"] = f"{r.name}-best"
    atomic_write_json(folder / "design.json", design)
    atomic_write_json(folder / "candidate.json", chosen.candidate.to_json())
    est, _, _ = price(chosen.design, wb.target, r)
    atomic_write_json(folder / "estimate.json", _estimate_json(est))
    atomic_write_json(folder / "accuracy.json", dict(info))


def _rebase(obj: Any, old: Path, new: Path) -> Any:
    """``obj`` (JSON-able) with the folder ``old`` named ``new`` in every string."""
    if isinstance(obj, str):
        return obj.replace(str(old), str(new))
    if isinstance(obj, Mapping):
        return {k: _rebase(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rebase(v, old, new) for v in obj]
    return obj


def _export_best(
    wb: Workbench, chosen: FrontPoint, qmodel: Any, folder: Path, best: Path
) -> dict | None:
    """Export the chosen design into ``folder``, the fresh folder that becomes ``best``.

    FPGA targets: QONNX, the integer dataflow graph, the HLS project checked bit-exact in g++
    C simulation and the FINN hand-off, with the *same folding* the search priced. GPU targets:
    ONNX QCDQ (int8) / float16 files checked in onnxruntime, and the latency report. An export
    failure is recorded in ``summary.json`` and logged; the finished search is kept. Paths in
    the record name ``best``.
    """
    import numpy as np

    try:
        if wb.is_gpu:
            from hwprune.compress import prune as P
            from hwprune.export.gpu import export_gpu_bundle

            est, _, _ = price(chosen.design, wb.target, wb.recipe)
            pruned = P.prune_to(
                wb.parent,
                list(chosen.candidate.channels),
                wb.example_input,
                criterion=wb.recipe.prune.criterion,
                data=wb.data.train,
            )
            files = export_gpu_bundle(
                folder,
                qmodel,
                pruned,
                wb.data.input_shape,
                estimate=est,
                check=(wb.data.test.x, wb.data.test.y),
            )
            return {"ok": True, "dir": str(best), "files": _rebase(_jsonable(files), folder, best)}
        from hwprune.export import export_model
        from hwprune.export.run import design_folding

        folding = design_folding(dict(chosen.design))  # the folding the search priced
        qmodel.eval()
        res = export_model(
            qmodel,
            wb.target,
            folding=folding or "auto",
            out_dir=folder,
            golden_inputs=np.asarray(wb.data.test.x[:100]),
            input_shape=tuple(wb.data.input_shape),
            n_golden=100,
            replace=False,  # ``folder`` is fresh; it replaces best/ as a whole afterwards
            name=best.name,  # the design is "best", not the temporary folder's name
        )
        csim = getattr(res, "csim", None)
        return {
            "ok": True,
            "dir": str(best),
            "bit_exact": bool(res.bit_exact),
            "csim": None if csim is None else bool(csim.bit_exact),
            "timings_s": {k: round(float(v), 3) for k, v in res.timings.items()},
        }
    except HwpruneError as exc:
        error = _rebase(str(exc), folder, best)
        logger.warning("export of the chosen design failed: %s", error)
        return {"ok": False, "error": error}
    except Exception as exc:  # noqa: BLE001 - keep the finished search even if export breaks
        error = _rebase(f"{type(exc).__name__}: {exc}", folder, best)
        logger.warning("export of the chosen design failed: %s", error)
        return {"ok": False, "error": error}


def _jsonable(obj: Any) -> Any:
    import json

    try:
        json.dumps(obj)
        return obj
    except TypeError:
        if hasattr(obj, "to_json"):
            v = obj.to_json()
            return json.loads(v) if isinstance(v, str) else v
        return str(obj)


def _write_report(run: RunFolder, storage_url: str) -> None:
    from hwprune.report import write_report

    try:
        write_report(run.root, storage=storage_url)
    except Exception as exc:  # noqa: BLE001 - a report problem must not lose the search
        logger.warning("could not write the report: %s", exc)


def print_front(
    front: Sequence[FrontPoint],
    objectives: Sequence[str],
    chosen: FrontPoint | None,
    console: Any,
) -> None:
    """Print the Pareto front as a rich table (the chosen design marked)."""
    from rich.table import Table

    table = Table(title="Pareto front (feasible, trained designs)")
    for col in (
        "",
        "trial",
        "val acc",
        "fps",
        "latency us",
        "LUT",
        "BRAM18",
        "DSP",
        "channels",
        "wbits",
        "abits",
    ):
        table.add_column(col, justify="right")
    for p in front:
        hw = p.hw
        table.add_row(
            "*" if chosen is not None and p.trial == chosen.trial else "",
            str(p.trial),
            f"{p.accuracy:.4f}",
            f"{hw.get('fps', 0):,.0f}",
            f"{hw.get('latency_us', 0):.2f}",
            f"{hw.get('lut', 0):,.0f}",
            f"{hw.get('bram18', 0):g}",
            f"{hw.get('dsp', 0):g}",
            ",".join(map(str, p.candidate.channels)),
            ",".join(map(str, p.candidate.wbits)),
            ",".join("-" if a is None else str(a) for a in p.candidate.abits),
        )
    console.print(table)


__all__ = [
    "Candidate",
    "FrontPoint",
    "Objective",
    "SearchResult",
    "SearchSpace",
    "cannot_reach_front",
    "channel_choices",
    "late_gain",
    "default_study_name",
    "make_design",
    "open_storage",
    "pareto_front",
    "price",
    "requeue_cut_off",
    "search",
    "trial_counts",
    "worker",
]


make_module_callable(__name__, "search")
