"""What ``rtl="auto"`` costs an AMD-target export: "synth" (Verilator + Yosys) against "write".

Exports the digits MLP and CNN of the test suite (``tests/export_models.py``, trained briefly,
auto folding for pynq-z2, 100 golden vectors, C simulation on) twice, and prints one JSON line
per export: wall and CPU seconds (this process and its children: g++, Verilator, Yosys), the
RTL step's seconds, Verilator's build seconds and verdict, Yosys's seconds and counts.

Usage: python bench/rtl_export_time.py OUT_DIR [MODEL ...]   (default: mlp-digits cnn-digits)
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from export_models import digits_test_x, quant_model  # noqa: E402

from hwprune.export.core import export_model  # noqa: E402


def _cpu() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def main(out: str, models: list[str]) -> None:
    for name in models:
        q, shape = quant_model(name)
        for level in ("write", "auto"):
            t0, c0 = time.perf_counter(), _cpu()
            res = export_model(q, "pynq-z2", out_dir=f"{out}/{name}_{level}",
                               golden_inputs=digits_test_x(100), input_shape=shape,
                               n_golden=100, rtl=level)  # fmt: skip
            sim, synth = res.rtl.sim, res.rtl.synth
            row = {
                "model": name,
                "rtl": level,
                "wall_s": round(time.perf_counter() - t0, 1),
                "cpu_s": round(_cpu() - c0, 1),
                "rtl_s": round(res.timings["rtl_s"], 1),
                "bit_exact": res.bit_exact,
                "verilator": None if sim is None else {
                    "bit_exact": sim.bit_exact, "cycles_match": sim.cycles_match,
                    "build_s": round(sim.build_s, 1)},
                "yosys": None if synth is None else {
                    "seconds": synth["seconds"], "total": synth["total"]},
            }  # fmt: skip
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or ["mlp-digits", "cnn-digits"])
