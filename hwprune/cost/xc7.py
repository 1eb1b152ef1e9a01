"""xc7 (7-series) resource model of hwprune's own RTL kernels, fitted to Yosys ``synth_xilinx``.

Calibrated on Yosys ``synth_xilinx -family xc7`` counts of whole random designs and single
residual-block kernels (``bench/rtl_fidelity.py --family xc7``; data and fit in
``bench/results/rtl_fidelity_xc7.json``). The units are Yosys's xc7 primitives, as
``synth/report.json`` counts them (:mod:`hwprune.export.rtl.synth`):

* ``lut``: LUT1-LUT6, plus the LUTs of LUTRAM and shift registers (RAM32M / RAM64M = 4,
  RAM128X1D = 4, RAM32X1D / RAM64X1D / RAM128X1S = 2, SRL16E / SRLC32E = 1); CARRY4, MUXF7/8 and
  INV cells are not counted (Vivado folds an inverter into its LUT);
* ``ff``: FDRE / FDSE / FDCE / FDPE;
* ``bram``: RAMB18E1 equivalents (a RAMB36E1 counts 2);
* ``dsp``: DSP48E1.

These are neither Vivado numbers (:mod:`hwprune.cost.fpga`, calibrated on FINN's Vivado builds)
nor ECP5 ones (:mod:`hwprune.cost.ecp5`); estimates report them as a separate, labelled block.

The kernels are the ECP5 model's (same RTL, same structural features:
:data:`hwprune.cost.ecp5.FEATURES`); only the memories map differently. Yosys's
``memory_libmap`` picks the cheapest of its xc7 library's costs (``share/xilinx``): a RAMB18
costs 129 (a RAMB36 257), a LUTRAM cell 8 (RAM32M: 32 x 6 bits, RAM64M: 64 x 3 bits, simple
dual port), a ROM bit in logic 1/64 (``synth_xilinx``'s ``-logic-cost-rom``; ROMs never go to
LUTRAM: ``prune_rom``), a RAM bit in logic 1. So a ROM goes to block RAM when its bits / 64
exceed 129 per RAMB18 it needs, else to LUTs (about one LUT6 per 64 words of each bit); a
FIFO's buffer to LUTRAM unless 8 per cell exceeds 129 per RAMB18; the sliding window's line
buffer (``ram_style = "block"``) always to block RAM.
The calibration data confirms the rule (``bench/results/rtl_fidelity_xc7.md``).

Example:
    >>> f = mvau_features(MW=64, MH=16, SIMD=8, PE=4, IB=4, WB=4, AW=16, NT=15, XNOR=0, RES=0)
    >>> int(f["bram18"]), int(f["rom_luts"])  # weights and parallel thresholds in LUTs
    (0, 1148)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hwprune.cost import ecp5
from hwprune.cost.ecp5 import Ecp5Model, _cdiv, _land, _where, ebr_blocks

Num = Any
#: ``memory_libmap`` costs of Yosys's xc7 library: one RAMB18, one LUTRAM cell, a ROM bit in
#: logic (RAMB36 = 257, about two RAMB18s)
BRAM18_COST = 129
LUTRAM_COST = 8
ROM_BIT_COST = 1 / 64  # synth_xilinx -family xc7: memory_libmap -logic-cost-rom 0.015625
#: words of one LUT6 ROM (six address bits); MUXF7/MUXF8 widen it to 256
LUT_ROM_WORDS = 64
DEEP_ROM_WORDS = 256
#: ``synth_xilinx -family xc7`` maps a product to a DSP48E1 only from this many result bits
#: (``mul2dsp -D DSP_Y_MINWIDTH=9``, after ``wreduce``); narrower ones become LUTs
DSP_Y_MINWIDTH = 9
#: the container of the fitted coefficients (the same as the ECP5 model's)
Xc7Model = Ecp5Model
#: ECP5 feature -> its xc7 counterpart (the memory features); the others are shared
_RENAMED = {
    "ebr": "bram18",
    "rom_lut_bits": "rom_luts",
    "ram_bits": "lutram_luts",
    "general": "dsp_mul",
}


def bram18_blocks(depth: Num, width: Num) -> Num:
    """RAMB18 equivalents of a ``depth`` x ``width`` memory: the RAMB18E1 shapes (16K x 1 ...
    512 x 36 simple dual port) are the DP16KD ones, and a RAMB36E1 holds two.

    Example:
        >>> bram18_blocks(1024, 18), bram18_blocks(512, 72)
        (1, 2)
    """
    return ebr_blocks(depth, width)


def rom_split(depth: Num, width: Num, deep: bool = False) -> tuple[Num, Num]:
    """(RAMB18s, LUTs) of a synchronous-read ROM as Yosys maps it on xc7: block RAM when its
    logic cost (bits / 64) exceeds the blocks' (129 each), else LUT6s (one per 64 words of a
    bit; a one-word ROM is a constant: no LUT). ``deep``: count only the LUTs of ROMs deeper
    than :data:`DEEP_ROM_WORDS` (whose read multiplexer needs LUTs besides MUXF7/MUXF8).

    Example:
        >>> rom_split(64, 32), rom_split(2048, 8), rom_split(1, 64)
        ((0, 32), (1, 0), (0, 0))
    """
    blocks = bram18_blocks(depth, width)
    big = np.floor(depth * width * ROM_BIT_COST) > BRAM18_COST * blocks
    luts = _where(depth > (DEEP_ROM_WORDS if deep else 1), width * _cdiv(depth, LUT_ROM_WORDS), 0)
    return _where(big, blocks, 0), _where(big, 0, luts)


def lutram_cells(depth: Num, width: Num) -> Num:
    """RAM32M / RAM64M cells of a simple-dual-port RAM (32 x 6 or 64 x 3 bits a cell; deeper
    ones are banks of 64 words)."""
    return _where(depth <= 32, _cdiv(width, 6), _cdiv(depth, 64) * _cdiv(width, 3))


def ram_on_bram(depth: Num, width: Num) -> Num:
    """Whether Yosys puts a written RAM (a FIFO's buffer) in block RAM rather than LUTRAM."""
    return LUTRAM_COST * lutram_cells(depth, width) > BRAM18_COST * bram18_blocks(depth, width)


def _mvau_memories(
    f: dict[str, Num], *, MW: Num, MH: Num, SIMD: Num, PE: Num, WB: Num, AW: Num, NT: Num
) -> tuple[Num, Num, Num]:
    """(RAMB18s, ROM LUTs) of an ``hwp_mvau``'s ROMs: the weights (NF * SF words of
    PE * SIMD * WB bits), the parallel thresholds (NF words of PE * NT * TB bits) or the
    binary-search stages (per PE, stage s: NF * 2^s words of TB bits); ``f`` are the kernel's
    ECP5 features (which threshold mode it builds). Also the LUTs of the deep weight ROM."""
    nf, sf, tb = MH // PE, MW // SIMD, AW + 1
    bram, luts = rom_split(nf * sf, PE * SIMD * WB)
    deep = rom_split(nf * sf, PE * SIMD * WB, deep=True)[1]
    b, q = rom_split(nf, PE * NT * tb)
    par = f["thr_par_cmp"] > 0
    bram, luts = bram + _where(par, b, 0), luts + _where(par, q, 0)
    binm, nb = f["thr_bin_bits"] > 0, ecp5._bitlen(NT)
    for s in range(int(np.max(nb)) if np.size(nb) else 0):
        b, q = rom_split(nf * (1 << s), tb)
        on = _land(binm, nb > s)
        bram, luts = bram + _where(on, PE * b, 0), luts + _where(on, PE * q, 0)
    return bram, luts, deep


def _swap_memories(f: dict[str, Num], bram: Num, luts: Num, deep: Num) -> dict[str, Num]:
    out = {k: v for k, v in f.items() if k not in ("ebr", "rom_lut_bits")}
    return {**out, "bram18": bram, "rom_luts": luts, "rom_deep_luts": deep}


def operand_bits(bits: Num, code: Num) -> Num:
    """Bits of a product operand after Yosys's ``wreduce``: ``code`` 0 unsigned (a sign bit is
    added: bits + 1), 1 signed (bits), 2 bipolar (+1 / -1: 2)."""
    return _where(code == 2, 2, _where(code == 1, bits, bits + 1))


def mvau_features(*, WT: Num = None, IT: Num = None, **p: Num) -> dict[str, Num]:
    """Features of one ``hwp_mvau`` (:func:`hwprune.cost.ecp5.mvau_features`, its Verilog
    parameters), with its ROMs mapped by the xc7 rule (``bram18``, ``rom_luts``) and its
    products (``RES = 1``) on DSP48E1s only where they have :data:`DSP_Y_MINWIDTH` bits
    (``dsp_lanes``), else in LUTs (``soft_mul_bits``). ``WT``/``IT``: the weight and input
    type codes (0 unsigned, 1 signed, 2 bipolar); None: signed weights (bipolar at one bit),
    unsigned inputs (bipolar at one bit)."""
    f = ecp5.mvau_features(**p)
    keys = ("MW", "MH", "SIMD", "PE", "WB", "AW", "NT")
    out = _swap_memories(f, *_mvau_memories(f, **{k: p[k] for k in keys}))
    wb, ib = p["WB"], p["IB"]
    wt = _where(wb == 1, 2, 1) if WT is None else WT
    it = _where(ib == 1, 2, 0) if IT is None else IT
    wa, xa = operand_bits(wb, wt), operand_bits(ib, it)
    dsp = wa + xa >= DSP_Y_MINWIDTH
    out["dsp_lanes"] = _where(dsp, f["dsp_lanes"], 0)
    out["soft_mul_bits"] = _where(dsp, 0, f["dsp_lanes"] * wa * xa)
    return out


def thresh_features(
    *, C: Num, PE: Num, IB: Num, NT: Num, TMODE: Num | None = None
) -> dict[str, Num]:
    """Features of ``hwp_thresh`` (``hwp_mvau``'s thresholds alone, on IB + 1 signed bits)."""
    f = ecp5.thresh_features(C=C, PE=PE, IB=IB, NT=NT, TMODE=TMODE)
    m = ecp5.mvau_features(MW=1, MH=C, SIMD=1, PE=PE, IB=IB, WB=0, AW=IB + 1, NT=NT, XNOR=0,
                           RES=1, TMODE=TMODE)  # fmt: skip
    mem = _mvau_memories(m, MW=1, MH=C, SIMD=1, PE=PE, WB=0, AW=IB + 1, NT=NT)
    return _swap_memories(f, *mem)


def swg_features(**p: Num) -> dict[str, Num]:
    """Features of ``hwp_swg``: its line buffer is in block RAM (``ram_style = "block"``)."""
    f = ecp5.swg_features(**p)
    return {**{k: v for k, v in f.items() if k != "ebr"}, "bram18": f["ebr"]}


def fifo_features(*, W: Num, DEPTH: Num = ecp5.FIFO_DEPTH) -> dict[str, Num]:
    """Features of ``hwp_fifo``: its buffer in LUTRAM (4 LUTs a RAM32M / RAM64M cell, banks of
    64 words behind a read multiplexer) or, where Yosys finds it cheaper, block RAM."""
    bram = ram_on_bram(DEPTH, W)
    f = ecp5.fifo_features(W=W, DEPTH=DEPTH)
    return {
        "const": f["const"],
        "lutram_luts": _where(bram, 0, 4 * lutram_cells(DEPTH, W)),
        "mux_bits": _where(bram, 0, W * (_cdiv(DEPTH, LUT_ROM_WORDS) - 1)),
        "addr_bits": f["addr_bits"],
        "bram18": _where(bram, bram18_blocks(DEPTH, W), 0),
        "bram_width": _where(bram, W, 0),  # a block RAM's output register and bypass
    }


def _odd_part(c: Num) -> Num:
    """``c`` without its trailing zero bits (Yosys shifts a constant factor's zeros out)."""
    if isinstance(c, np.ndarray):
        return c // (c & -c)
    return c // (c & -c) if c else 0


def dwc_features(*, IN: Num, OUT: Num, B: Num) -> dict[str, Num]:
    """Features of ``hwp_dwc`` (:func:`hwprune.cost.ecp5.dwc_features`); the general case's
    word offset ``wi * OUT * B`` (``wi``: the CB-bit iteration count) takes a DSP48E1 when the
    product, OUT * B with its trailing zeros shifted out, has :data:`DSP_Y_MINWIDTH` bits
    (``dsp_mul``); a gather (OUT = k * IN) compares the count with each of its lcm / IN input
    slots (``gather_slots``)."""
    f = ecp5.dwc_features(IN=IN, OUT=OUT, B=B)
    lcm = np.lcm(IN, OUT)
    cb = ecp5.clog2(lcm // IN + lcm // OUT + 1) + 1
    odd = _odd_part(OUT * B)
    dsp = _land(odd > 1, cb + ecp5._bitlen(odd) >= DSP_Y_MINWIDTH)
    gather = (OUT % IN) == 0
    return {
        **f,
        "dsp_mul": _where(_land(f["general"] > 0, dsp), 1, 0),
        "gather_slots": _where(gather, lcm // IN, 0),
    }


#: the feature functions of every kernel (the ECP5 ones where no memory is involved)
FEATURES: dict[str, Callable[..., dict[str, Num]]] = {
    **ecp5.FEATURES,
    "mvau": mvau_features,
    "thresh": thresh_features,
    "swg": swg_features,
    "fifo": fifo_features,
    "dwc": dwc_features,
}
#: the features each resource of each kernel is fitted on: the ECP5 model's, memory features
#: renamed (:data:`_RENAMED`)
USES: dict[str, dict[str, tuple[str, ...]]] = {
    k: {r: tuple(_RENAMED.get(c, c) for c in cols) for r, cols in v.items()}
    for k, v in ecp5.USES.items()
}
USES["mvau"]["lut"] += ("soft_mul_bits", "rom_deep_luts")
USES["dwc"]["lut"] += ("gather_slots",)
USES["fifo"]["lut"] += ("bram_width",)
USES["fifo"]["ff"] += ("bram_width",)
USES["mvau"]["ff"] += ("soft_mul_bits",)


def fit_kernel(
    kernel: str, features: list[dict[str, float]], truth: list[dict[str, float]]
) -> dict[str, dict[str, float]]:
    """:func:`hwprune.cost.ecp5.fit_kernel` on the xc7 features (:data:`USES`)."""
    return ecp5.fit_kernel(kernel, features, truth, uses=USES)


def predict(kernel: str, params: dict[str, Num], model: Ecp5Model | None = None) -> dict[str, Num]:
    """LUT, FF, BRAM (RAMB18), DSP (DSP48E1) of one kernel from its Verilog parameters.

    Example:
        >>> r = predict("pool", {"C": 8, "B": 4})
        >>> sorted(r), bool(r["lut"] > 0)
        (['bram', 'dsp', 'ff', 'lut'], True)
    """
    return (model or FITTED).predict(kernel, FEATURES[kernel](**params))


#: coefficients fitted by ``bench/rtl_fidelity.py fit --family xc7``
#: (``bench/results/rtl_fidelity_xc7.json``); zero coefficients left out
FITTED = Xc7Model(
    {
        "add": {
            "lut": {"const": 13.8621, "out_bits": 0.07, "in_bits": 0.5315, "mul_bits": 0.1333},
            "ff": {"const": 24.6992, "out_bits": 1.003},
        },
        "dup": {
            "lut": {"const": 13.0},
            "ff": {"const": 26.0, "bits": 1.0},
        },
        "dwc": {
            "lut": {
                "const": 14.6668,
                "split_bits": 1.6297,
                "shift_bits": 0.2315,
                "gather_slots": 1.1405,
            },
            "ff": {"const": 30.4008, "buf_bits": 1.0583},
            "dsp": {"dsp_mul": 0.5},
        },
        "fifo": {
            "lut": {
                "lutram_luts": 0.977,
                "mux_bits": 0.7385,
                "addr_bits": 4.0298,
                "bram_width": 1.0699,
            },
            "ff": {"const": 2.2796, "addr_bits": 3.6903, "bram_width": 0.8357},
            "bram": {"bram18": 1.0},
        },
        "gap": {
            "lut": {"const": 36.3443, "acc_bits": 1.9948, "mem_bits": 0.0236},
            "ff": {"const": 49.5327, "acc_bits": 1.202, "out_bits": 0.7763},
        },
        "labelsel": {
            "lut": {"const": 19.1939, "cmp_bits": 2.2228, "idx_bits": 0.3044},
            "ff": {"const": 32.0258, "cmp_bits": 0.0532},
            "dsp": {},
        },
        "mvau": {
            "lut": {
                "const": 51.9153,
                "lut_mul": 0.606,
                "xnor_lanes": 4.0663,
                "tree_bits": 0.61,
                "acc_bits": 1.0768,
                "thr_par_bits": 0.3792,
                "thr_bin_bits": 0.3194,
                "rom_luts": 0.7413,
                "in_bits": 2.3506,
                "soft_mul_bits": 0.8761,
                "rom_deep_luts": 3.9223,
            },
            "ff": {
                "const": 117.77,
                "xnor_lanes": 1.3853,
                "tree_bits": 1.003,
                "acc_bits": 1.7849,
                "thr_par_cmp": 5.6176,
                "thr_bin_bits": 1.037,
                "in_bits": 3.2168,
                "lut_mul": 0.0129,
                "soft_mul_bits": 0.7114,
            },
            "bram": {"bram18": 0.95},
            "dsp": {"dsp_lanes": 1.0},
        },
        "pad": {
            "lut": {"const": 37.1678, "out_bits": 0.0147},
            "ff": {"const": 49.0, "out_bits": 1.0},
        },
        "pool": {
            "lut": {"const": 24.8628, "bits": 0.8326},
            "ff": {"const": 41.0, "bits": 1.0},
        },
        "swg": {
            "lut": {"const": 152.9896, "addr_bits": 9.8287},
            "ff": {"const": 122.265, "addr_bits": 3.5521},
            "bram": {"bram18": 1.0},
        },
        "thresh": {
            "lut": {
                "thr_par_bits": 0.6312,
                "thr_bin_bits": 0.5311,
                "rom_luts": 0.2732,
                "in_bits": 5.2467,
            },
            "ff": {"const": 19.0, "thr_par_cmp": 6.7447, "thr_bin_bits": 1.1292, "in_bits": 8.5918},
            "bram": {},
        },
    }
)
