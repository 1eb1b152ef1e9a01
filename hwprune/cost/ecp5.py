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
    (0, 2560)
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
           "thr_bin_bits", "in_bits", "lut_mul"),
    "bram": ("ebr",),
    "dsp": ("dsp_lanes",),
}  # fmt: skip
#: ROMs of at least this many words and bits go to EBR (Yosys's choice, read off the sweep's
#: calibration designs)
EBR_MIN_DEPTH = 128
EBR_MIN_BITS = 4096


def ebr_blocks(depth: int, width: int) -> int:
    """DP16KD blocks for a ``depth`` x ``width`` memory (best single configuration)."""
    return min(math.ceil(width / w) * math.ceil(depth / d) for d, w in _EBR_SHAPES)


def _rom(depth: int, width: int) -> tuple[int, int]:
    """(EBR blocks, LUT-ROM bits) of a synchronous-read ROM as Yosys maps it on ECP5: to EBR
    from :data:`EBR_MIN_DEPTH` words and :data:`EBR_MIN_BITS` bits, else to LUTs."""
    if depth >= EBR_MIN_DEPTH and depth * width >= EBR_MIN_BITS:
        return ebr_blocks(depth, width), 0
    return 0, depth * width


def mvau_features(p: dict[str, Any]) -> dict[str, float]:
    """Features of one ``hwp_mvau`` instance from its Verilog parameters."""
    pe, simd, aw = int(p["PE"]), int(p["SIMD"]), int(p["AW"])
    mw, mh = int(p["MW"]), int(p["MH"])
    wb, ib, nt = int(p["WB"]), int(p["IB"]), int(p["NT"])
    xnor, vv = bool(p.get("XNOR", 0)), bool(p.get("VV", 0))
    lanes = pe * simd
    sf, nf = mw // simd, mh // pe
    tb = int(p.get("TB", aw + 1))
    par = nt > 0 and int(p.get("TMODE", 0)) == 0
    lutpp = not xnor and not int(p["RES"])
    terms = simd * (wb + 1 if lutpp else 1)  # adder-tree terms per PE
    ebr, rom_lut = _rom(nf * sf, lanes * wb)
    bin_bits = 0
    if par:
        e, r = _rom(nf, pe * nt * tb)
        ebr, rom_lut = ebr + e, rom_lut + r
    elif nt:
        nb = int(p.get("NB", max(1, nt.bit_length())))
        for s in range(nb):  # one ROM per stage and PE: NF * 2^s words of TB bits
            e, r = _rom(nf << s, tb)
            ebr, rom_lut = ebr + pe * e, rom_lut + pe * r
        bin_bits = pe * nb * (2 * aw + tb)
    return {
        "const": 1,
        "lut_mul": pe * terms * aw if lutpp else 0,
        "xnor_lanes": lanes if xnor else 0,
        "tree_bits": pe * (terms - 1) * aw,
        "acc_bits": pe * aw,
        "thr_par_bits": pe * nt * tb if par else 0,
        "thr_par_cmp": pe * nt if par else 0,
        "thr_bin_bits": bin_bits,
        "rom_lut_bits": rom_lut,
        "in_bits": (pe if vv else 1) * simd * ib,
        "lanes_aw": 0 if lutpp else lanes * (1 if xnor else aw),
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


#: coefficients fitted by ``bench/rtl_fidelity.py`` (``bench/results/rtl_fidelity.json``:
#: 40 calibration kernels, Yosys 0.70 synth_ecp5); zero coefficients left out
FITTED = Ecp5MvauParams(
    {
        "lut": {
            "const": 232.2212,
            "lut_mul": 0.2277,
            "tree_bits": 1.0748,
            "acc_bits": 2.9761,
            "thr_par_bits": 1.4997,
            "thr_bin_bits": 0.4165,
            "rom_lut_bits": 0.0245,
            "in_bits": 1.3219,
        },
        "ff": {
            "const": 161.949,
            "lanes_aw": 1.2232,
            "xnor_lanes": 3.3726,
            "tree_bits": 0.4449,
            "acc_bits": 1.0838,
            "thr_par_cmp": 6.4536,
            "thr_bin_bits": 0.9846,
            "in_bits": 2.4033,
            "lut_mul": 0.5926,
        },
        "bram": {"ebr": 1.1187},
        "dsp": {"dsp_lanes": 1.0},
    }
)
