"""Let a module double as the public function it is named after.

``hwprune.search`` and ``hwprune.estimate`` are public functions *and* the modules that define
them. Importing a submodule binds it on its package, which would hide the function of the same
name; making the module object callable keeps ``hwprune.search(...)`` working either way while
``from hwprune.search import SearchResult`` still imports from the module.

Example:
    >>> import hwprune, hwprune.estimate
    >>> callable(hwprune.estimate)
    True
"""

from __future__ import annotations

import sys
import types
from typing import Any


def make_module_callable(module_name: str, function_name: str) -> None:
    """Make ``sys.modules[module_name](...)`` call that module's ``function_name``."""
    module = sys.modules[module_name]

    class _CallableModule(types.ModuleType):
        __doc__ = module.__doc__

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return getattr(self, function_name)(*args, **kwargs)

    module.__class__ = _CallableModule
