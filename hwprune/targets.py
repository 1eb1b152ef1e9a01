"""Hardware targets: one TOML file per device under ``targets/`` (or a user's own file).

Every file has a ``kind`` field that picks its reader: ``"fpga"`` files become
:class:`FpgaTarget` (read here), ``"gpu"`` files are handed to the GPU cost model's reader
(:func:`hwprune.cost.gpu.gpu_target_from_dict`). Adding a kind is one line in ``_READERS``.
A loaded target is a :data:`Target` (``FpgaTarget | GpuTarget``); code dispatches on it with
``isinstance`` (``GpuTarget`` is importable from here, loaded on first use).

Example:
    >>> from hwprune.targets import load_target
    >>> t = load_target("pynq-z2")
    >>> t.part, t.lut, t.bram18, t.dsp
    ('xc7z020clg400-1', 53200, 280, 220)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import tomllib

from hwprune.errors import TargetError
from hwprune.resources import resource_dir

if TYPE_CHECKING:
    from hwprune.cost.gpu_target import GpuTarget as GpuTarget

#: resources a design is budgeted on, in the order they are reported
RESOURCES: tuple[str, ...] = ("lut", "ff", "bram18", "dsp")


@dataclass(frozen=True)
class FpgaTarget:
    """An FPGA device and board as the FPGA cost model sees it.

    Attributes:
        name: target name (file stem, e.g. ``"pynq-z2"``).
        part: Xilinx/AMD part number.
        family: ``"zynq7000"`` (DSP48E1), ``"zynqmp"`` or ``"alveo"`` (DSP48E2), ``"ecp5"``
            (Lattice ECP5: LUT4, DP16KD counted as bram18, MULT18X18D counted as dsp).
        lut, lutram, ff, bram18, uram, dsp: device capacity (BRAM counted as RAMB18).
        clock_mhz: default fabric clock of the accelerator.
        io_width_bits: width of the PS-PL (or host) stream port, bits per clock.
        shell_*: fixed cost of the shell (PS block design, interconnect).
        dma_*: cost of one DMA engine (a design has one in, one out).
        util_cap: fraction of each resource a design may use.
        link: host link, ``"stream"`` (a PS-PL / PCIe stream port of ``io_width_bits`` per
            clock) or ``"uart"`` (a USB-UART at ``link_baud``, 10 line bits per byte).
        link_baud: UART baud rate (``link = "uart"``).
        description: one line for ``hwprune targets``.
        source: file the target was read from.
    """

    name: str
    part: str
    family: str
    lut: int
    ff: int
    bram18: int
    dsp: int
    clock_mhz: float
    io_width_bits: int
    lutram: int = 0
    uram: int = 0
    shell_lut: float = 0.0
    shell_ff: float = 0.0
    shell_bram18: float = 0.0
    shell_dsp: float = 0.0
    dma_lut: float = 0.0
    dma_ff: float = 0.0
    dma_bram18: float = 0.0
    util_cap: float = 0.85
    link: str = "stream"
    link_baud: int = 0
    description: str = ""
    source: str = ""
    kind: str = "fpga"

    def capacity(self) -> dict[str, int]:
        """Device capacity per budgeted resource (``lut``, ``ff``, ``bram18``, ``dsp``)."""
        return {"lut": self.lut, "ff": self.ff, "bram18": self.bram18, "dsp": self.dsp}

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view (JSON friendly)."""
        return asdict(self)

    def link_cycles(self, frame_bits: int, clock_mhz: float | None = None) -> int:
        """Fabric cycles to move ``frame_bits`` over the host link: ``io_width_bits`` per cycle
        on a stream port; on a UART, whole bytes at ``link_baud`` with 10 line bits each.

        Example:
            >>> t = fpga_target_from_dict({"name": "u", "part": "x", "lut": 1, "ff": 1,
            ...     "bram18": 1, "dsp": 0, "clock_mhz": 48, "io_width_bits": 8,
            ...     "link": "uart", "link_baud": 3000000})
            >>> t.link_cycles(64 * 8)  # 64 bytes: 640 line bits at 3 Mbaud = 213.3 us
            10240
        """
        if self.link == "uart":
            nbytes = -(-int(frame_bits) // 8)
            clock = float(clock_mhz or self.clock_mhz)
            return int(math.ceil(nbytes * 10 * clock * 1e6 / self.link_baud - 1e-9))
        return -(-int(frame_bits) // self.io_width_bits)


#: a loaded target of any kind
Target: TypeAlias = "FpgaTarget | GpuTarget"


def __getattr__(name: str) -> Any:
    """``GpuTarget`` lives with the GPU cost model; it is imported from there on first use, so
    reading an FPGA target never imports the cost package."""
    if name == "GpuTarget":
        from hwprune.cost.gpu_target import GpuTarget

        return GpuTarget
    raise AttributeError(f"module 'hwprune.targets' has no attribute {name!r}")


_INT_FIELDS = ("lut", "ff", "bram18", "dsp", "io_width_bits", "lutram", "uram", "link_baud")
_FLOAT_FIELDS = (
    "clock_mhz",
    "shell_lut",
    "shell_ff",
    "shell_bram18",
    "shell_dsp",
    "dma_lut",
    "dma_ff",
    "dma_bram18",
    "util_cap",
)
_REQUIRED = ("part", "lut", "ff", "bram18", "dsp", "clock_mhz", "io_width_bits")
_FAMILIES = ("zynq7000", "zynqmp", "alveo", "versal", "ecp5")


def fpga_target_from_dict(data: Mapping[str, Any], source: str = "") -> FpgaTarget:
    """Build an :class:`FpgaTarget` from a parsed ``kind = "fpga"`` TOML table.

    Raises :class:`TargetError` naming the missing or malformed field.

    Example:
        >>> t = fpga_target_from_dict({"name": "tiny", "part": "xc7z010", "lut": 17600,
        ...     "ff": 35200, "bram18": 120, "dsp": 80, "clock_mhz": 100, "io_width_bits": 64})
        >>> t.util_cap
        0.85
    """
    where = source or str(data.get("name", "<target>"))
    known = {"name", "kind", "part", "family", "description", "link"}
    known |= {*_INT_FIELDS, *_FLOAT_FIELDS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise TargetError(
            f"{where}: unknown field(s) {unknown}; FPGA target fields are {sorted(known)}"
        )
    for key in _REQUIRED:
        if key not in data:
            raise TargetError(f"{where}: missing field '{key}'; add it to the target file")
    kwargs: dict[str, Any] = {}
    for key in _INT_FIELDS:
        if key in data:
            value = data[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise TargetError(
                    f"{where}: field '{key}' must be a non-negative integer, got {value!r}"
                )
            kwargs[key] = value
    for key in _FLOAT_FIELDS:
        if key in data:
            value = data[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise TargetError(
                    f"{where}: field '{key}' must be a non-negative number, got {value!r}"
                )
            kwargs[key] = float(value)
    if kwargs["clock_mhz"] <= 0:
        raise TargetError(f"{where}: field 'clock_mhz' must be positive")
    if kwargs["io_width_bits"] <= 0:
        raise TargetError(f"{where}: field 'io_width_bits' must be positive")
    if not 0 < kwargs.get("util_cap", 0.85) <= 1:
        raise TargetError(f"{where}: field 'util_cap' must be in (0, 1], e.g. 0.85")
    for key in ("lut", "ff", "bram18"):
        if kwargs[key] == 0:
            raise TargetError(f"{where}: field '{key}' must be positive")
    family = str(data.get("family", "zynq7000"))
    if family not in _FAMILIES:
        raise TargetError(f"{where}: field 'family' must be one of {list(_FAMILIES)}")
    link = str(data.get("link", "stream"))
    if link not in ("stream", "uart"):
        raise TargetError(f"{where}: field 'link' must be 'stream' or 'uart'")
    if link == "uart" and not kwargs.get("link_baud"):
        raise TargetError(f"{where}: a 'uart' link needs 'link_baud' (e.g. 3000000)")
    part = data["part"]
    if not isinstance(part, str) or not part:
        raise TargetError(f"{where}: field 'part' must be a part number string")
    name = str(data.get("name") or (Path(source).stem if source else "fpga"))
    return FpgaTarget(
        name=name,
        part=part,
        family=family,
        link=link,
        description=str(data.get("description", "")),
        source=source,
        **kwargs,
    )


def _gpu_reader(data: Mapping[str, Any], source: str) -> GpuTarget:
    from hwprune.cost.gpu import gpu_target_from_dict

    return gpu_target_from_dict(data, source)


#: kind -> reader(parsed_toml, source_path) ; extend here for new target kinds
_READERS: dict[str, Callable[[Mapping[str, Any], str], FpgaTarget | GpuTarget]] = {
    "fpga": fpga_target_from_dict,
    "gpu": _gpu_reader,
}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise TargetError(
            f"cannot read target file {path}: {exc.strerror}; check the path"
        ) from exc
    except UnicodeDecodeError:
        raise TargetError(
            f"target file {path} is not UTF-8 text; write it as UTF-8 text (e.g. iconv -t UTF-8)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"target file {path} is not valid TOML ({exc}); fix its syntax") from exc
    except RecursionError:
        raise TargetError(f"target file {path} is nested too deeply; fix the file") from None


def target_from_file(path: str | Path) -> FpgaTarget | GpuTarget:
    """Read one target file (any kind).

    Example:
        >>> from hwprune.resources import resource_dir
        >>> target_from_file(resource_dir("targets") / "zcu104.toml").dsp
        1728
    """
    path = Path(path)
    data = _read_toml(path)
    kind = data.get("kind")
    if kind not in _READERS:
        raise TargetError(f"{path}: field 'kind' must be one of {sorted(_READERS)}, got {kind!r}")
    if "name" not in data:
        data = {**data, "name": path.stem}
    from hwprune.runfolder import safe_name

    safe_name(data["name"], "target name", hint=f"rename it in {path}")
    return _READERS[kind](data, str(path))


def list_targets() -> list[str]:
    """Names of the shipped targets, sorted.

    Example:
        >>> "pynq-z2" in list_targets()
        True
    """
    return sorted(p.stem for p in resource_dir("targets").glob("*.toml"))


def as_target(target: Target | str | Path) -> Target:
    """``target`` itself when it is a loaded target, else :func:`load_target` of its name/path.

    Example:
        >>> as_target("pynq-z2") == as_target(load_target("pynq-z2"))
        True
    """
    if isinstance(target, (str, Path)):
        return load_target(target)
    from hwprune.cost.gpu_target import GpuTarget

    if isinstance(target, (FpgaTarget, GpuTarget)):
        return target
    raise TargetError(
        f"a target is a name, a TOML path or a loaded target, not {type(target).__name__}; "
        "pass e.g. 'pynq-z2'"
    )


def load_target(name_or_path: str | Path) -> FpgaTarget | GpuTarget:
    """Load a shipped target by name (``"pynq-z2"``) or a user's file by path.

    Returns an :class:`FpgaTarget` or a :class:`~hwprune.cost.gpu.GpuTarget`, depending on the
    file's ``kind``; callers dispatch with ``isinstance``.

    Example:
        >>> load_target("kv260").family
        'zynqmp'
    """
    text = str(name_or_path)
    candidate = Path(text)
    if text.endswith(".toml") or candidate.is_file():
        if not candidate.is_file():
            raise TargetError(f"target file {text} does not exist; check the path")
        return target_from_file(candidate)
    from hwprune.errors import ConfigError
    from hwprune.runfolder import safe_name

    try:
        safe_name(text, "target")
    except ConfigError:
        raise TargetError(
            f"unknown target {text!r}; run `hwprune targets` to list them, or pass a TOML file"
        ) from None
    shipped = resource_dir("targets") / f"{text}.toml"
    if not shipped.is_file():
        raise TargetError(
            f"unknown target '{text}'; run `hwprune targets` to list them, or pass a TOML file"
        )
    return target_from_file(shipped)
