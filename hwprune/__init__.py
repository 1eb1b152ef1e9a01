"""hwprune: hardware-aware pruning and quantization search.

The public API is plain functions, imported lazily on first use (``hwprune --help`` must not
import torch)::

    >>> import hwprune
    >>> hwprune.__version__
    '0.1.0'
    >>> import inspect
    >>> list(inspect.signature(hwprune.estimate).parameters)[:2]
    ['design', 'target']

``hwprune.search`` and ``hwprune.estimate`` are the functions; the code that defines them lives
in the package :mod:`hwprune.search` and the module :mod:`hwprune.estimate`, which stay
importable by their dotted names (``from hwprune.search import Candidate``,
``import hwprune.search.runner``). Python's import system binds a freshly imported submodule
on its parent (``hwprune.search = <package>``); this package's module type declines exactly
that one binding for the function names, so ``hwprune.search`` is the function whatever was
imported before or after it.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # the names type checkers see (imported lazily at run time)
    from hwprune.cost.gpu import estimate_gpu  # noqa: F401
    from hwprune.data import load_dataset  # noqa: F401
    from hwprune.estimate import estimate  # noqa: F401
    from hwprune.export.core import export_model  # noqa: F401
    from hwprune.report import write_report  # noqa: F401
    from hwprune.search.runner import search  # noqa: F401
    from hwprune.targets import load_target  # noqa: F401

# public name -> module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "search": "hwprune.search.runner",
    "estimate": "hwprune.estimate",
    "estimate_gpu": "hwprune.cost.gpu",
    "export_model": "hwprune.export.core",
    "load_dataset": "hwprune.data",
    "load_target": "hwprune.targets",
    "write_report": "hwprune.report",
}

#: public functions that share their name with a submodule
_SHADOWED = frozenset(("search", "estimate"))


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hwprune' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """The type of the ``hwprune`` module: a submodule named like a public function
    (``hwprune/search/``, ``hwprune/estimate.py``) is not bound over the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return  # the import system binding the submodule; the function keeps the name
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = ["__version__", *_LAZY]
