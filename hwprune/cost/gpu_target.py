"""GPU (and measured CPU) targets: what the latency model (:mod:`hwprune.cost.gpu`) knows of
a device, read from ``kind = "gpu"`` target files, and the precision each bit width runs at.

Example:
    >>> t = gpu_target_from_dict({"name": "toy", "precisions": ["fp32"],
    ...     "peak_tops": {"fp32": 1.0}, "mem_bw_gbps": 100.0})
    >>> t.kind, precision_for_bits(4, t)
    ('gpu', 'fp32')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from hwprune.errors import ConfigError, TargetError

_MB = 1e6  # memory is reported in MB = 10^6 bytes, as datasheets count


Precision = Literal["int8", "fp16", "fp32"]

#: every precision the model knows, cheapest first
PRECISIONS: tuple[str, ...] = ("int8", "fp16", "fp32")
#: bytes per value at each precision
PRECISION_BYTES: dict[str, int] = {"int8": 1, "fp16": 2, "fp32": 4}
#: the bit width that stands for each precision in a design (search space on a GPU target)
PRECISION_BITS: dict[str, int] = {"int8": 8, "fp16": 16, "fp32": 32}


@dataclass(frozen=True)
class GpuTarget:
    """A GPU (or a measured CPU) as the latency model sees it.

    Attributes:
        name: target name (file stem).
        description: one line for ``hwprune targets``.
        precisions: precisions the device runs natively, cheapest first.
        peak_tops: dense peak throughput per precision in tera-ops/s (1 MAC = 2 ops).
        mem_bw_gbps: DRAM bandwidth (GB/s, datasheet or fitted).
        memory_eff: achievable fraction of ``mem_bw_gbps``.
        cache_mb: on-chip cache that holds a layer's working set (L2 on a GPU).
        cache_bw_gbps: bandwidth of that cache.
        memory_mb: device memory available to the network (the ``--max-memory-mb`` ceiling).
        launch_us: per-kernel overhead (launch, scheduling, small-op floor) of an fc layer,
            and of every layer when the two below are unset.
        conv_launch_us: the same for a convolution (cuDNN often runs several kernels for one
            layer); None: ``launch_us``.
        pool_launch_us: the same for a max-pool; None: ``launch_us``.
        fixed_us: per-inference overhead (synchronisation, host<->device copies of I/O).
        compute_eff: best achievable fraction of ``peak_tops`` on a large layer.
        parallel_half: output elements at which a layer reaches half of ``compute_eff``.
        channel_half: output channels at which a layer reaches half of ``compute_eff``.
        reduce_half: reduction length at which a layer reaches half of ``compute_eff``.
        pool_cost: ops per input value of a max-pool.
        channel_align: channel multiple each precision's kernels work on (padding cost).
        device: ``"cuda"`` or ``"cpu"``: where ``--measure`` times candidates.
        threads: CPU threads used when measuring (cpu targets only).
        calibrated: True when the numbers were fitted to measurements (``hwprune calibrate``).
        source: file the target was read from (empty when built in code).
    """

    name: str
    precisions: tuple[str, ...]
    peak_tops: Mapping[str, float]
    mem_bw_gbps: float
    description: str = ""
    memory_eff: float = 1.0
    cache_mb: float = 0.0
    cache_bw_gbps: float = 0.0
    memory_mb: float = math.inf
    launch_us: float = 0.0
    fixed_us: float = 0.0
    compute_eff: float = 1.0
    parallel_half: float = 0.0
    channel_half: float = 0.0
    reduce_half: float = 0.0
    pool_cost: float = 1.0
    channel_align: Mapping[str, int] = field(default_factory=dict)
    device: str = "cuda"
    threads: int | None = None
    calibrated: bool = False
    source: str = ""
    kind: str = "gpu"
    conv_launch_us: float | None = None
    pool_launch_us: float | None = None

    def launch_for(self, op: str) -> float:
        """Per-kernel overhead of a layer of kind ``op`` ("fc", "conv" or a pool).

        Example:
            >>> t = gpu_target_from_dict({"name": "x", "precisions": ["fp32"],
            ...     "peak_tops": {"fp32": 1}, "mem_bw_gbps": 1, "launch_us": 3,
            ...     "conv_launch_us": 7})
            >>> t.launch_for("fc"), t.launch_for("conv"), t.launch_for("maxpool")
            (3.0, 7.0, 3.0)
        """
        if op == "fc":
            return self.launch_us
        own = self.conv_launch_us if op == "conv" else self.pool_launch_us
        return self.launch_us if own is None else own

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view (JSON/TOML friendly)."""
        out = asdict(self)
        out["precisions"] = list(self.precisions)
        out["peak_tops"] = dict(self.peak_tops)
        out["channel_align"] = dict(self.channel_align)
        return out


_FLOAT_KEYS = (
    "mem_bw_gbps",
    "memory_eff",
    "cache_mb",
    "cache_bw_gbps",
    "memory_mb",
    "launch_us",
    "fixed_us",
    "compute_eff",
    "parallel_half",
    "channel_half",
    "reduce_half",
    "pool_cost",
    "conv_launch_us",
    "pool_launch_us",
)
_KNOWN_KEYS = {
    "name",
    "kind",
    "description",
    "precisions",
    "peak_tops",
    "channel_align",
    "device",
    "threads",
    "calibrated",
    "source",
    "calibration",
    *_FLOAT_KEYS,
}


def gpu_target_from_dict(data: Mapping[str, Any], source: str = "") -> GpuTarget:
    """Build a :class:`GpuTarget` from the parsed TOML of a ``kind = "gpu"`` target file.

    The file may hold the keys at top level or in a ``[gpu]`` table. Raises
    :class:`TargetError` saying which key is wrong.

    Example:
        >>> t = gpu_target_from_dict({"name": "x", "precisions": ["fp16", "fp32"],
        ...     "peak_tops": {"fp16": 10, "fp32": 5}, "mem_bw_gbps": 100})
        >>> t.precisions
        ('fp16', 'fp32')
    """
    where = source or str(data.get("name", "<target>"))
    flat: dict[str, Any] = {k: v for k, v in data.items() if k != "gpu"}
    if isinstance(data.get("gpu"), Mapping):
        flat.update(data["gpu"])
    if "name" not in flat:
        flat["name"] = Path(source).stem if source else "gpu"
    unknown = sorted(set(flat) - _KNOWN_KEYS)
    if unknown:
        raise TargetError(f"{where}: unknown GPU target key(s) {unknown}; check the spelling")
    precisions = flat.get("precisions")
    if not precisions or not isinstance(precisions, Sequence) or isinstance(precisions, str):
        raise TargetError(f'{where}: \'precisions\' must be a list such as ["fp16", "fp32"]')
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad:
        raise TargetError(f"{where}: unknown precision(s) {bad}; use {list(PRECISIONS)}")
    precisions = tuple(p for p in PRECISIONS if p in precisions)
    peak = flat.get("peak_tops")
    if not isinstance(peak, Mapping):
        raise TargetError(f"{where}: 'peak_tops' must be a table of tera-ops/s per precision")
    missing = [p for p in precisions if not _positive(peak.get(p))]
    if missing:
        raise TargetError(f"{where}: 'peak_tops' needs a positive value for {missing}")
    if not _positive(flat.get("mem_bw_gbps")):
        raise TargetError(f"{where}: 'mem_bw_gbps' must be a positive number (GB/s)")
    kwargs: dict[str, Any] = {}
    for key in _FLOAT_KEYS:
        if key in flat:
            value = flat[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise TargetError(f"{where}: '{key}' must be a non-negative number, got {value!r}")
            kwargs[key] = float(value)
    if not 0 < kwargs.get("compute_eff", 1.0) <= 1 or not 0 < kwargs.get("memory_eff", 1.0) <= 1:
        raise TargetError(f"{where}: 'compute_eff' and 'memory_eff' must be in (0, 1]")
    align = flat.get("channel_align", {})
    if not isinstance(align, Mapping) or any(
        not isinstance(v, int) or v < 1 for v in align.values()
    ):
        raise TargetError(f"{where}: 'channel_align' must map precisions to positive integers")
    device = flat.get("device", "cuda")
    if device not in ("cuda", "cpu"):
        raise TargetError(f'{where}: \'device\' must be "cuda" or "cpu", got {device!r}')
    threads = flat.get("threads")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise TargetError(f"{where}: 'threads' must be a positive integer")
    return GpuTarget(
        name=str(flat["name"]),
        description=str(flat.get("description", "")),
        precisions=precisions,
        peak_tops={p: float(peak[p]) for p in PRECISIONS if _positive(peak.get(p))},
        channel_align={str(k): int(v) for k, v in align.items()},
        device=device,
        threads=threads,
        calibrated=bool(flat.get("calibrated", False)),
        source=source,
        **kwargs,
    )


def load_gpu_target(path: str | Path) -> GpuTarget:
    """Read a ``kind = "gpu"`` target TOML file.

    Example:
        >>> from hwprune.resources import resource_dir
        >>> load_gpu_target(resource_dir("targets") / "a100.toml").precisions
        ('int8', 'fp16', 'fp32')
    """
    from hwprune.targets import target_from_file

    target = target_from_file(path)
    if not isinstance(target, GpuTarget):
        raise TargetError(f"{path} describes a '{target.kind}' target, not a GPU; use a GPU file")
    return target


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


# -- precision rules ---------------------------------------------------------------------------
def supported_precisions(target: GpuTarget) -> tuple[str, ...]:
    """Precisions the target runs natively, cheapest first: the per-layer search space on it.

    Example:
        >>> t = gpu_target_from_dict({"name": "x", "precisions": ["fp32", "int8"],
        ...     "peak_tops": {"int8": 8, "fp32": 1}, "mem_bw_gbps": 10})
        >>> supported_precisions(t)
        ('int8', 'fp32')
    """
    return tuple(target.precisions)


def precision_for_bits(bits: int | None, target: GpuTarget) -> str:
    """Precision a layer of ``bits`` runs at: <= 8 -> int8, <= 16 -> fp16, else fp32.

    ``None`` (a float layer) counts as 32 bits. When the target lacks that precision the
    next wider one it supports is used (and the widest one when none is wider).

    Example:
        >>> t = gpu_target_from_dict({"name": "nano", "precisions": ["fp16", "fp32"],
        ...     "peak_tops": {"fp16": 0.47, "fp32": 0.24}, "mem_bw_gbps": 25.6})
        >>> precision_for_bits(4, t), precision_for_bits(12, t), precision_for_bits(None, t)
        ('fp16', 'fp16', 'fp32')
    """
    b = 32 if bits is None else int(bits)
    wanted = "int8" if b <= 8 else "fp16" if b <= 16 else "fp32"
    order = list(PRECISIONS)
    for p in order[order.index(wanted) :]:
        if p in target.precisions:
            return p
    return target.precisions[-1]


def bits_for_precision(precision: str) -> int:
    """The bit width a design uses to ask for ``precision`` (8, 16 or 32).

    Example:
        >>> bits_for_precision("fp16")
        16
    """
    if precision not in PRECISION_BITS:
        raise ConfigError(f"unknown precision {precision!r}; use one of {list(PRECISIONS)}")
    return PRECISION_BITS[precision]


# -- per-layer work ----------------------------------------------------------------------------
