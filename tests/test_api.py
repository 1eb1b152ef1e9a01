"""The public Python API: lazily imported names, callable even after their modules are imported."""

from __future__ import annotations

import importlib

import hwprune


def test_lazy_names_resolve_to_functions() -> None:
    for name in hwprune.__all__:
        if name == "__version__":
            continue
        assert callable(getattr(hwprune, name)), name


def test_search_and_estimate_stay_callable_after_submodule_import() -> None:
    importlib.import_module("hwprune.search")
    importlib.import_module("hwprune.estimate")
    assert callable(hwprune.search)
    est = hwprune.estimate(
        {
            "input": {"shape": [1, 8, 8], "bits": 8},
            "layers": [
                {"op": "fc", "out": 16, "wbits": 4, "abits": 4},
                {"op": "fc", "out": 10, "wbits": 4, "abits": None},
            ],
        },
        "pynq-z2",
    )
    assert est.fits and est.fps > 0
    assert est.lut > 0 and est.bram18 >= 0
