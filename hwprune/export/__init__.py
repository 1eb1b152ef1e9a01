"""Export: QONNX -> integer dataflow graph -> HLS project (C-simulated) and FINN hand-off.

The light part of the API is importable without torch; heavy modules load on first use.

Example:
    >>> from hwprune.export import export_model                     # doctest: +SKIP
    >>> r = export_model("model.onnx", "pynq-z2", out_dir="out")     # doctest: +SKIP
    >>> r.bit_exact                                                  # doctest: +SKIP
    True
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "export_model": "hwprune.export.core",
    "ExportResult": "hwprune.export.core",
    "ExportMismatchError": "hwprune.export.core",
    "export_run": "hwprune.export.run",
    "lower_model": "hwprune.export.lower",
    "lower_qonnx": "hwprune.export.lower",
    "qonnx_to_ir": "hwprune.export.qonnx",
    "load_qonnx": "hwprune.export.qonnx",
    "export_brevitas": "hwprune.export.qonnx",
    "execute": "hwprune.export.executor",
    "verify_against_qonnx": "hwprune.export.verify",
    "write_hls_project": "hwprune.export.hls",
    "run_csim": "hwprune.export.csim",
    "write_finn_handoff": "hwprune.export.finn",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hwprune.export' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = list(_LAZY)
