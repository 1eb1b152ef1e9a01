"""Pricing a candidate's design on the target, and the early-stop rule that uses the prices.

:func:`price` gives the estimate, the hardware summary and the constraint values (feasible
when <= 0); :func:`worst_values` what an infeasible candidate reports; :func:`late_gain` and
:func:`cannot_reach_front` decide when a fine-tune can stop early.

Example:
    >>> worst_values(["accuracy", "lut"])
    [0.0, inf]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hwprune.recipe import OBJECTIVES, Recipe
from hwprune.targets import FpgaTarget, Target, as_target

if TYPE_CHECKING:
    from hwprune.targets import GpuTarget

#: objectives that come from the hardware estimate (everything but accuracy)
HW_KEYS = ("fps", "latency_us", "lut", "ff", "bram18", "dsp")
#: what "fewer resources" means when two designs tie on every objective: fewer LUTs, then a
#: smaller fraction of the device for the binding resource, BRAM18, DSP, FF
#: (see :func:`resource_cost`)
COST_KEYS = ("lut", "util", "bram18", "dsp", "ff")


def _est_get(est: Any, key: str, default: Any = None) -> Any:
    return getattr(est, key, default)


def price(
    design: Mapping[str, Any], target: Target | str, recipe: Recipe
) -> tuple[Any, dict[str, Any], dict[str, float]]:
    """Price ``design`` on ``target``: (estimate, hardware summary, constraint values).

    Constraint values are normalised violations, feasible when <= 0: ``fits`` (the folding
    optimizer found a design within the target's capacity under the utilisation cap),
    ``min_fps``, ``max_latency_us``, ``max_lut``/``ff``/``bram18``/``dsp`` (relative excess over
    the limit). The hardware summary's ``util`` is the fraction of the device its binding
    resource uses (FPGA: the largest of LUT, FF, BRAM18, DSP over the device's; GPU: memory).
    ``target`` is a loaded target or a name/path (loaded here).

    Example:
        >>> design = {"input": {"shape": [1, 8, 8], "bits": 8}, "layers": [
        ...     {"op": "fc", "out": 16, "wbits": 4, "abits": 4},
        ...     {"op": "fc", "out": 10, "wbits": 4, "abits": None}]}
        >>> est, hw, cons = price(design, "pynq-z2", Recipe())
        >>> cons["fits"], hw["binding"]
        (0.0, 'io')
    """
    target = as_target(target)
    c = recipe.constraints
    if isinstance(target, FpgaTarget):
        est, hw, cons = _price_fpga(design, target, recipe)
    else:
        est, hw, cons = _price_gpu(design, target, recipe)
    if c.min_fps > 0:
        cons["min_fps"] = (c.min_fps - hw["fps"]) / c.min_fps
    if c.max_latency_us > 0:
        cons["max_latency_us"] = (hw["latency_us"] - c.max_latency_us) / c.max_latency_us
    for key in ("lut", "ff", "bram18", "dsp"):
        limit = getattr(c, f"max_{key}")
        if limit > 0:
            cons[f"max_{key}"] = (hw[key] - limit) / limit
    return est, hw, cons


def _price_gpu(
    design: Mapping[str, Any], target: GpuTarget, recipe: Recipe
) -> tuple[Any, dict[str, Any], dict[str, float]]:
    """:func:`price` on a GPU target: the latency model; fits when the memory does."""
    from hwprune.cost.gpu import estimate_gpu

    c = recipe.constraints
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
        "util": float(est.memory_mb) / max(float(target.memory_mb or 0), 1e-9),
    }
    cons = {
        "fits": 0.0
        if est.fits_memory
        else max(1e-6, est.memory_mb / max(target.memory_mb, 1e-9) - 1.0)
    }
    if c.max_memory_mb > 0:
        cons["max_memory_mb"] = (est.memory_mb - c.max_memory_mb) / c.max_memory_mb
    return est, hw, cons


def _price_fpga(
    design: Mapping[str, Any], target: FpgaTarget, recipe: Recipe
) -> tuple[Any, dict[str, Any], dict[str, float]]:
    """:func:`price` on an FPGA target: the folding optimizer's estimate under the cap."""
    from hwprune.estimate import estimate as _estimate

    c = recipe.constraints
    # "fastest" already stops at the stream port's frame rate with the smallest folding
    # that reaches it; "smallest" (or "auto" with --min-fps) stops at min_fps
    fps_goal = c.min_fps if recipe.folding_mode() == "smallest" else None
    est = _estimate(dict(design), target, fps=fps_goal, util_cap=c.util_cap or None)
    hw: dict[str, Any] = {k: float(_est_get(est, k, 0.0) or 0.0) for k in HW_KEYS}
    hw["util"] = device_fraction(hw, target)
    hw["fits"] = bool(est.fits)
    hw["binding"] = _est_get(est, "binding")
    cons = {"fits": 0.0 if est.fits else _overflow(est, target, c.util_cap)}
    return est, hw, cons


def device_fraction(hw: Mapping[str, Any], target: Target) -> float:
    """The fraction of ``target`` that the binding resource of ``hw`` uses (no cap applied).

    Example:
        >>> from hwprune.targets import load_target
        >>> t = load_target("pynq-z2")
        >>> device_fraction({"lut": t.lut / 2, "ff": 0, "bram18": 0, "dsp": 0}, t)
        0.5
    """
    capacity = target.capacity() if isinstance(target, FpgaTarget) else {}
    return max(
        (float(hw.get(k, 0.0) or 0.0) / avail for k, avail in capacity.items() if avail > 0),
        default=0.0,
    )


def resource_cost(hw: Mapping[str, Any]) -> tuple[float, ...]:
    """The tie-break key of a design (lower is cheaper): :data:`COST_KEYS` from ``hw``.

    Example:
        >>> resource_cost({"lut": 2000.0, "util": 0.04, "bram18": 3, "dsp": 0, "ff": 900})
        (2000.0, 0.04, 3.0, 0.0, 900.0)
    """
    return tuple(float(hw.get(k, 0.0) or 0.0) for k in COST_KEYS)


def objective_hw(hw: Mapping[str, Any], recipe: Recipe) -> dict[str, Any]:
    """``hw`` as the objectives see it: with folding "auto" and a ``min_fps``, frames/s above
    ``min_fps`` are worth nothing, so ``fps`` is capped there (designs at the cap then tie on it
    and the cheaper one wins).

    Example:
        >>> r = Recipe().with_overrides({"constraints.min_fps": 1e5})
        >>> objective_hw({"fps": 3e5, "lut": 10.0}, r)["fps"]
        100000.0
    """
    out = dict(hw)
    c = recipe.constraints
    if recipe.study.folding == "auto" and c.min_fps > 0 and "fps" in out:
        out["fps"] = min(float(out["fps"]), float(c.min_fps))
    return out


def _overflow(est: Any, target: FpgaTarget, util_cap: float) -> float:
    """How far (relative) the cheapest folding overflows the capped capacity (> 0)."""
    cap = util_cap or target.util_cap or 1.0
    worst = 0.0
    for key, avail in target.capacity().items():
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
    leaves = []
    for lay in out["layers"]:  # a residual block's convs: body, then shortcut (as build_ir)
        if lay["op"] == "residual":
            lay["body"] = [dict(b) for b in lay["body"]]
            lay["shortcut"] = [dict(b) for b in lay.get("shortcut", [])]
            leaves += lay["body"] + lay["shortcut"]
        else:
            leaves.append(lay)
    for lay in leaves:
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
