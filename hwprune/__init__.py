"""hwprune: hardware-aware pruning and quantization search.

The package import is light on purpose (``hwprune --help`` must not import torch); the heavy
public API is imported lazily on first use::

    >>> import hwprune
    >>> hwprune.__version__
    '0.1.0'
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "search": "hwprune.search",
    "estimate": "hwprune.estimate",
    "estimate_gpu": "hwprune.cost.gpu",
    "export_model": "hwprune.export.core",
    "load_dataset": "hwprune.data",
    "load_target": "hwprune.targets",
    "write_report": "hwprune.report",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hwprune' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["__version__", *_LAZY]
