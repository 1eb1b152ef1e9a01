"""ECP5 resource model of hwprune's own RTL MVAU/VVAU kernel (``rtl_templates/hwp_mvau.v``).

Calibrated on Yosys ``synth_ecp5`` counts of the kernel over a sweep of shapes, bits and
foldings (``bench/rtl_fidelity.py``; data and fit in ``bench/results/rtl_fidelity.json``). The
units are Yosys's ECP5 primitives: LUT = LUT4 (+2 per CCU2C carry cell, +4 per DPR16X4),
FF = TRELLIS_FF, BRAM = DP16KD (18 Kbit EBR), DSP = MULT18X18D. These are not Vivado numbers and
never mix with the Xilinx-calibrated model.

The features follow the kernel's structure: lane products (LUT shift-and-add or MULT18X18D),
XNOR lanes, the pipelined adder trees, accumulators, thresholds (parallel comparators or binary
search stages), the weight ROM (EBR or LUTs), the pipeline registers. Input: the kernel's
Verilog parameters (what :func:`hwprune.export.rtl.generate.plan_rtl` gives ``hwp_mvau``).

Example:
    >>> d = dict(MW=64, MH=16, SIMD=8, PE=4, IB=4, WB=4, AW=16, NT=15, TMODE=0, NB=4,
    ...          TB=17, XNOR=0, RES=0, VV=0)
    >>> f = mvau_features(d)
    >>> f["dsp_lanes"], f["lut_mul"]
    (0, 800)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

#: DP16KD configurations (depth, width)
_EBR_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))

FEATURES = (
    "const",
    "lut_mul",
    "xnor_lanes",
    "tree_bits",
    "acc_bits",
    "thr_par_bits",
    "thr_par_cmp",
    "thr_bin_bits",
    "rom_lut_bits",
    "in_bits",
    "lanes_aw",
    "dsp_lanes",
    "ebr",
)
RESOURCES = ("lut", "ff", "bram", "dsp")
#: features each resource is fitted on
_USES = {
    "lut": ("const", "lut_mul", "xnor_lanes", "tree_bits", "acc_bits", "thr_par_bits",
            "thr_bin_bits", "rom_lut_bits", "in_bits"),
    "ff": ("const", "lanes_aw", "xnor_lanes", "tree_bits", "acc_bits", "thr_par_cmp",
           "thr_bin_bits", "in_bits"),
    "bram": ("ebr",),
    "dsp": ("dsp_lanes",),
}  # fmt: skip
#: ROMs of at least this many bits go to EBR (Yosys's choice, read off the sweep)
EBR_MIN_BITS = 4096


def ebr_blocks(depth: int, width: int) -> int:
    """DP16KD blocks for a ``depth`` x ``width`` memory (best single configuration)."""
    return min(math.ceil(width / w) * math.ceil(depth / d) for d, w in _EBR_SHAPES)


def mvau_features(p: dict[str, Any]) -> dict[str, float]:
    """Features of one ``hwp_mvau`` instance from its Verilog parameters."""
    pe, simd, aw = int(p["PE"]), int(p["SIMD"]), int(p["AW"])
    mw, mh = int(p["MW"]), int(p["MH"])
    wb, ib, nt = int(p["WB"]), int(p["IB"]), int(p["NT"])
    xnor, vv = bool(p.get("XNOR", 0)), bool(p.get("VV", 0))
    lanes = pe * simd
    sf, nf = mw // simd, mh // pe
    ww, wd = lanes * wb, nf * sf
    rom_bits = ww * wd
    tb = int(p.get("TB", aw + 1))
    tmode = int(p.get("TMODE", 0))
    par = nt > 0 and tmode == 0
    thr_rom_bits = nf * pe * nt * tb if par else 0
    ebr = 0
    if rom_bits >= EBR_MIN_BITS:
        ebr += ebr_blocks(wd, ww)
    if thr_rom_bits >= EBR_MIN_BITS:
        ebr += ebr_blocks(nf, pe * nt * tb)
    return {
        "const": 1,
        "lut_mul": 0 if (xnor or int(p["RES"])) else lanes * (wb + 1) * (ib + 1),
        "xnor_lanes": lanes if xnor else 0,
        "tree_bits": pe * (simd - 1) * aw,
        "acc_bits": pe * aw,
        "thr_par_bits": pe * nt * tb if par else 0,
        "thr_par_cmp": pe * nt if par else 0,
        "thr_bin_bits": pe * int(p.get("NB", 1)) * tb * max(1, nf) if nt and not par else 0,
        "rom_lut_bits": rom_bits if rom_bits < EBR_MIN_BITS else 0,
        "in_bits": (pe if vv else 1) * simd * ib,
        "lanes_aw": lanes * (1 if xnor else aw),
        "dsp_lanes": lanes if (int(p["RES"]) and not xnor) else 0,
        "ebr": ebr,
    }


@dataclass(frozen=True)
class Ecp5MvauParams:
    """Per-resource coefficients of :data:`FEATURES` (zero where a resource does not use one)."""

    coef: dict[str, dict[str, float]] = field(default_factory=dict)

    def predict(self, features: dict[str, float]) -> dict[str, float]:
        """LUT, FF, BRAM, DSP of one kernel."""
        return {
            r: sum(c * float(features.get(f, 0.0)) for f, c in self.coef.get(r, {}).items())
            for r in RESOURCES
        }

    def to_dict(self) -> dict[str, dict[str, float]]:
        """JSON-able coefficients."""
        return {r: dict(c) for r, c in self.coef.items()}


def fit_params(features: list[dict[str, float]], truth: list[dict[str, float]]) -> Ecp5MvauParams:
    """Non-negative least squares per resource, on relative error (every kernel weighs alike)."""
    import numpy as np
    from scipy.optimize import nnls

    coef: dict[str, dict[str, float]] = {}
    for r in RESOURCES:
        cols = _USES[r]
        a = np.array([[f[c] for c in cols] for f in features], float)
        y = np.array([t[r] for t in truth], float)
        w = 1.0 / np.maximum(y, 1.0)
        x, _ = nnls(a * w[:, None], y * w)
        coef[r] = {c: float(v) for c, v in zip(cols, x, strict=True)}
    return Ecp5MvauParams(coef)
