"""What a trial needs, built once per process (:class:`Workbench`: data, float parent, target,
space), and what is done with it: rebuild a candidate's quantized model
(:func:`rebuild_candidate_model`, shared with ``hwprune export``), fine-tune it
(:func:`train_candidate`), time it (:func:`measure_candidate`).

Example:
    >>> from hwprune.targets import load_target
    >>> wb = build_workbench(load_recipe("digits-mlp"), load_target("pynq-z2"),
    ...                      Path("/tmp/hw-cache"))  # doctest: +SKIP
    >>> model = rebuild_candidate_model(wb, wb.space.uniform(0.5, 4))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwprune.errors import ConfigError
from hwprune.recipe import Recipe, load_recipe  # noqa: F401  (load_recipe: the doctest)
from hwprune.search.space import Candidate, SearchSpace, make_design
from hwprune.targets import FpgaTarget, Target, as_target

logger = logging.getLogger("hwprune.search")


@dataclass
class Workbench:
    """What a trial needs, built once per process: data, parent network, target, space."""

    recipe: Recipe
    target: Target
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
        return not isinstance(self.target, FpgaTarget)


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
    recipe: Recipe, target: Target | str | Path, cache_dir: Path, device: str | None = None
) -> Workbench:
    """Load the data, get the float parent (trained once, cached in ``cache_dir``), the space.

    ``target`` is a loaded target or a name/path (loaded here). ``device`` is where this
    process fine-tunes candidates (default CPU); asking for a device torch cannot use here is
    a :class:`ConfigError`.
    """
    import torch

    target = as_target(target)
    on_fpga = isinstance(target, FpgaTarget)
    device = _check_device(device or "cpu")
    if recipe.study.measure and on_fpga:
        raise ConfigError(
            f"--measure times candidates on this machine, which says nothing about FPGA target "
            f"'{target.name}'; use it with a GPU or measured target (write "
            "one with `hwprune calibrate --device cpu|cuda` and pass --target-file)"
        )
    if recipe.constraints.max_memory_mb > 0 and on_fpga:
        raise ConfigError("--max-memory-mb applies to GPU targets; on an FPGA use --max-bram18")

    from hwprune.compress import train as T
    from hwprune.data import load_dataset

    if recipe.budget.threads > 0:
        torch.set_num_threads(recipe.budget.threads)
    torch.manual_seed(recipe.seed)
    data = load_dataset(recipe.dataset, recipe.data_dir or None, seed=recipe.seed)
    if ":" not in recipe.model and isinstance(target, FpgaTarget):
        _check_reachable(recipe, target, data)  # before minutes of parent training
    t0 = time.perf_counter()
    spec, parent = _load_parent(recipe, data, cache_dir)
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
    bits = None if on_fpga else (8,)
    space = SearchSpace.build(
        spec.prunable_widths(),
        spec.num_quant_layers,
        recipe,
        bits_override=bits,
        groups=[g.layers for g in spec.channel_groups()],
        shared_abits=spec.shared_activations(),
    )
    example = data.train.x[:2].clone()
    return Workbench(
        recipe, target, data, spec, parent, val_acc, test_acc, space, example, parent_s, device
    )


#: how far above a --max-* limit the smallest design must be before the search refuses to
#: start (the proof assumes resources grow with channels and bits, so it keeps a margin)
_UNREACHABLE_MARGIN = 2.0


def _check_reachable(recipe: Recipe, target: FpgaTarget, data: Any) -> None:
    """Raise :class:`InfeasibleError` before any training when even the smallest design of
    the space, most folded, needs more than twice a ``--max-lut/ff/bram18/dsp`` limit.

    The smallest design takes every layer's lowest channel count; each resource is taken at
    its least over the uniform bit widths the space offers. The space itself is built here
    too, so its errors (a channel floor or step above a layer's width) come first as well.
    """
    from hwprune.errors import InfeasibleError
    from hwprune.estimate import estimate
    from hwprune.models import get_spec

    c = recipe.constraints
    limits = {k: getattr(c, f"max_{k}") for k in ("lut", "ff", "bram18", "dsp")}
    spec = get_spec(recipe.model, data.input_shape, data.num_classes, width_mult=recipe.width_mult)
    space = SearchSpace.build(
        spec.prunable_widths(),
        spec.num_quant_layers,
        recipe,
        groups=[g.layers for g in spec.channel_groups()],
        shared_abits=spec.shared_activations(),
    )
    if not any(v > 0 for v in limits.values()):
        return
    n = space.num_quant
    channels = tuple(ch[0] for ch in space.channel_choices)
    least: dict[str, float] = {}
    for b in sorted(set(space.wbits) | set(space.abits)):
        wb = min(space.wbits, key=lambda x: abs(x - b))
        ab = min(space.abits, key=lambda x: abs(x - b))
        hb = min(space.head_wbits, key=lambda x: abs(x - b))
        cand = Candidate(channels, (wb,) * (n - 1) + (hb,), (ab,) * (n - 1) + (None,))
        design = make_design(spec, cand, recipe.space.input_bits, "smallest")
        try:
            est = estimate(design, target, fps=1e-3)
        except Exception as exc:  # noqa: BLE001 - no proof; the trials will price the designs
            logger.debug("no reachability check (%s)", exc)
            return
        for key in limits:
            least[key] = min(least.get(key, math.inf), float(getattr(est, key, 0.0) or 0.0))
    for key, limit in limits.items():
        if limit > 0 and least[key] > _UNREACHABLE_MARGIN * limit:
            raise InfeasibleError(
                f"--max-{key} {limit:g} cannot be met: even the smallest design of the space "
                f"(channels {list(channels)}, fewest bits, most folded) needs {least[key]:,.0f} "
                f"{key.upper()} on {target.name}; relax --max-{key} "
                "or lower space.min_channels"
            )


def _load_parent(recipe: Recipe, data: Any, cache_dir: Path) -> tuple[Any, Any]:
    """(model spec, float parent): the user's module or a zoo model, from its checkpoint or
    trained once and cached in ``cache_dir``."""
    from hwprune.models import (
        build_model,
        get_spec,
        load_checkpoint,
        load_user_model,
        model_layers,
    )
    from hwprune.models.convert import to_spec_net
    from hwprune.models.spec import ModelSpec, require_hardware_support

    p = recipe.parent
    if ":" in recipe.model:
        user = load_user_model(recipe.model, checkpoint=recipe.checkpoint or None)
        layers = model_layers(user, data.input_shape)
        spec = ModelSpec(
            recipe.model.replace(":", "."), data.input_shape, data.num_classes, tuple(layers)
        )
        require_hardware_support(spec)
        if any(lay["op"] == "residual" for lay in spec.layers):
            user = to_spec_net(user, spec)  # its blocks get the add's shared quantizer
        # with a checkpoint the user's module is the parent; else its initial weights,
        # trained and cached like a zoo model
        initial: Any = user
        parent = user if recipe.checkpoint else None
    else:
        spec = get_spec(
            recipe.model, data.input_shape, data.num_classes, width_mult=recipe.width_mult
        )
        require_hardware_support(spec)
        initial = spec
        if recipe.checkpoint:  # a zoo model trained elsewhere: its weights are the parent
            parent = load_checkpoint(
                build_model(spec), recipe.checkpoint, f"zoo model '{recipe.model}' on {data.name}"
            )
    if not recipe.checkpoint:
        parent = _train_parent_once(
            cache_dir,
            initial,
            data,
            seed=recipe.seed,
            epochs=p.epochs,
            cache_dir=cache_dir,
            lr=p.lr,
            optimizer=p.optimizer,
            bn_l1=p.bn_l1,
        )
    return spec, parent


def measure_candidate(wb: Workbench, cand: Candidate) -> float:
    """Median latency (us) of ``cand``'s pruned float network on the target's local device.

    The target must be a measured one (``kind = "gpu"`` with a local ``device``, e.g. written by
    ``hwprune calibrate``); the search records this next to the predicted ``latency_us``.
    """
    from hwprune.calibrate import measure_for_target

    if isinstance(wb.target, FpgaTarget):  # build_workbench refuses --measure there
        raise ConfigError(f"--measure needs a GPU or measured target, not '{wb.target.name}'")
    pruned = prune_candidate(wb, cand)
    return float(measure_for_target(pruned.eval(), wb.data.input_shape, wb.target))


def prune_candidate(wb: Workbench, cand: Candidate) -> Any:
    """The float parent pruned to ``cand``'s channels (the recipe's importance criterion).

    Example:
        >>> pruned = prune_candidate(wb, wb.space.uniform(0.5, 4))  # doctest: +SKIP
    """
    from hwprune.compress import prune as P

    return P.prune_to(
        wb.parent,
        list(cand.channels),
        wb.example_input,
        criterion=wb.recipe.prune.criterion,
        data=wb.data.train,
    )


def rebuild_candidate_model(wb: Workbench, cand: Candidate, seed: int | None = None) -> Any:
    """``cand``'s quantized (Brevitas) model before fine-tuning: prune the parent, then quantize.

    The one way a candidate's model is built: the search's trials and final fine-tune and
    ``hwprune export`` (which then loads ``best/model.pt`` or fine-tunes again with
    :meth:`~hwprune.recipe.Recipe.trial_seed` / :meth:`~hwprune.recipe.Recipe.final_seed`) all
    call it. ``seed`` (when given) seeds torch first, as a trial does.

    Example:
        >>> q = rebuild_candidate_model(wb, wb.space.uniform(0.5, 4), seed=0)  # doctest: +SKIP
    """
    from hwprune.compress import quant as Q

    if seed is not None:
        import torch

        torch.manual_seed(seed)
    pruned = prune_candidate(wb, cand)
    return Q.to_brevitas(
        pruned, list(cand.wbits), list(cand.abits), input_scale=wb.data.input_scale
    )


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
    from hwprune.compress import train as T

    r = wb.recipe
    qmodel = rebuild_candidate_model(wb, cand, seed=seed)
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
