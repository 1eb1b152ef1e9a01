"""The public Python API: plain functions, re-exported lazily from ``hwprune``."""

from __future__ import annotations

import importlib
import inspect
import pickle
import subprocess
import sys
import types

import hwprune


def test_lazy_names_resolve_to_functions() -> None:
    for name in hwprune.__all__:
        if name == "__version__":
            continue
        value = getattr(hwprune, name)
        assert isinstance(value, types.FunctionType), name


def test_search_and_estimate_are_functions_after_submodule_import() -> None:
    importlib.import_module("hwprune.search")
    importlib.import_module("hwprune.search.runner")
    importlib.import_module("hwprune.estimate")
    assert isinstance(hwprune.search, types.FunctionType)
    assert isinstance(hwprune.estimate, types.FunctionType)
    params = inspect.signature(hwprune.search).parameters
    assert {"recipe", "target", "out", "overrides", "workers"} <= set(params)
    assert list(inspect.signature(hwprune.estimate).parameters)[:2] == ["design", "target"]
    # the export function is export_model (``hwprune.export`` stays the package of back ends)
    assert {"model", "target", "folding", "out_dir", "rtl"} <= set(
        inspect.signature(hwprune.export_model).parameters
    )
    # picklable by reference (workers, multiprocessing)
    assert pickle.loads(pickle.dumps(hwprune.search)) is hwprune.search
    assert pickle.loads(pickle.dumps(hwprune.estimate)) is hwprune.estimate
    # the package and the module stay reachable by their dotted names
    from hwprune.search import Candidate, TrialRecord, rebuild_candidate_model  # noqa: F401

    assert sys.modules["hwprune.search"].search is hwprune.search
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


def test_submodule_imported_first_does_not_hide_the_function() -> None:
    """In a fresh interpreter, importing the submodules before touching the name."""
    code = (
        "import hwprune.search.runner, hwprune.estimate, types, hwprune\n"
        "assert isinstance(hwprune.search, types.FunctionType), hwprune.search\n"
        "assert isinstance(hwprune.estimate, types.FunctionType), hwprune.estimate\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
