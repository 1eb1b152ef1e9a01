"""ECP5 resource model of hwprune's own RTL kernels (``rtl_templates/*.v``), fitted to Yosys.

Calibrated on Yosys ``synth_ecp5`` counts of whole random designs (every kernel counted apart,
``bench/rtl_fidelity.py``; data and fit in ``bench/results/rtl_fidelity.json``). The units are
Yosys's ECP5 primitives: LUT = LUT4 (+2 per CCU2C carry cell, +4 per DPR16X4), FF = TRELLIS_FF,
BRAM = DP16KD (18 Kbit EBR), DSP = MULT18X18D. These are not Vivado numbers and never mix with
the Xilinx-calibrated model (:mod:`hwprune.cost.fpga`).

One linear model per kernel (Verilog module), on features that follow what the kernel builds:

* ``mvau`` (``hwp_mvau``): lane products (LUT shift-and-add or MULT18X18D), XNOR lanes, the
  pipelined adder trees, accumulators, thresholds (parallel comparators or binary-search
  stages), the weight ROM (EBR or LUTs), the input/pipeline registers;
* ``pad`` (``hwp_pad``), ``swg`` (``hwp_swg``: the line buffer in EBR, address counters),
  ``pool`` (``hwp_maxpool``), ``labelsel`` (``hwp_labelsel``), ``dwc`` (``hwp_dwc``), ``fifo``
  (``hwp_fifo``, 16 words: DPR16X4 distributed RAM);
* the residual kernels: ``dup`` (``hwp_dup``), ``add`` (``hwp_add``), ``gap`` (``hwp_gap``),
  ``thresh`` (``hwp_thresh``, standalone thresholds), and deep (skip) FIFOs.

Every feature function takes the kernel's Verilog parameters as numbers or numpy arrays
(broadcast: the folding tables price every PE/SIMD at once). :mod:`hwprune.cost.ecp5_nodes`
derives the parameters from IR nodes.

Example:
    >>> f = mvau_features(MW=64, MH=16, SIMD=8, PE=4, IB=4, WB=4, AW=16, NT=15, XNOR=0, RES=0)
    >>> int(f["dsp_lanes"]), int(f["lut_mul"])
    (0, 2560)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: DP16KD configurations (depth, width)
_EBR_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))

RESOURCES = ("lut", "ff", "bram", "dsp")
#: ROMs of at least this many words and bits go to EBR (Yosys's choice: the rule with the
#: least EBR error on the calibration designs, ``bench/rtl_fidelity.py``); smaller ones to LUTs
EBR_MIN_DEPTH = 64
EBR_MIN_BITS = 2048
#: thresholds per row from which the RTL uses the binary-search comparator ("auto" mode)
BINARY_FROM = 16
#: words of every FIFO the RTL top puts between two kernels
FIFO_DEPTH = 16
#: a deeper FIFO of at least this many bits goes to EBR (read off the calibration kernels)
FIFO_EBR_MIN_BITS = 2048
#: a written RAM (the MVAU's input buffer) goes to EBR unless its DPR16X4 cells (16 x 4 bits)
#: cost less, at these relative costs of a cell and a DP16KD (Yosys's ECP5 library: 4 a cell,
#: 128 a DP16KD; the cell's effective cost with its share of the read multiplexer read off
#: single-kernel Yosys runs: 20 cells per DP16KD stay distributed RAM, 21 go to EBR)
DPR_COST = 6.25
EBR_COST = 128

Num = Any


def _cdiv(a: Num, b: Num) -> Num:
    return -(-a // b)


def _where(c: Any, a: Any, b: Any) -> Any:
    if isinstance(c, np.ndarray):
        return np.where(c, a, b)
    return a if c else b


def _land(a: Any, b: Any) -> Any:
    r = np.logical_and(a, b)
    return r if r.ndim else bool(r)


def _lnot(a: Any) -> Any:
    r = np.logical_not(a)
    return r if r.ndim else bool(r)


def _bitlen(x: Num) -> Num:
    """``int.bit_length`` of non-negative integers (numbers or arrays)."""
    if isinstance(x, np.ndarray):
        return np.where(x > 0, np.frexp(np.maximum(x, 1))[1], 0)
    return int(x).bit_length()


def clog2(x: Num) -> Num:
    """Verilog's ``$clog2`` (numbers or arrays).

    Example:
        >>> clog2(16), clog2(17), clog2(np.array([1, 2, 3])).tolist()
        (4, 5, [0, 1, 2])
    """
    return _bitlen(x - 1) if not isinstance(x, np.ndarray) else _bitlen(np.maximum(x - 1, 0))


def ebr_blocks(depth: Num, width: Num) -> Num:
    """DP16KD blocks for a ``depth`` x ``width`` memory (best single configuration).

    Example:
        >>> ebr_blocks(1024, 18), ebr_blocks(2048, 32)
        (1, 4)
    """
    counts = [_cdiv(width, w) * _cdiv(depth, d) for d, w in _EBR_SHAPES]
    if any(isinstance(n, np.ndarray) for n in counts):
        return np.minimum.reduce(np.broadcast_arrays(*counts))
    return min(counts)


def rom_split(depth: Num, width: Num) -> tuple[Num, Num]:
    """(EBR blocks, LUT-ROM bits) of a synchronous-read ROM as Yosys maps it on ECP5: to EBR
    from :data:`EBR_MIN_DEPTH` words and :data:`EBR_MIN_BITS` bits, else to LUTs."""
    big = (depth >= EBR_MIN_DEPTH) & (depth * width >= EBR_MIN_BITS)
    return _where(big, ebr_blocks(depth, width), 0), _where(big, 0, depth * width)


# --- features of each kernel ------------------------------------------------------------------


def _not_pow2(m: Num) -> Num:
    return _where(_land(m > 1, (m & (m - 1)) != 0), 1, 0)


def mvau_features(
    *, MW: Num, MH: Num, SIMD: Num, PE: Num, IB: Num, WB: Num, AW: Num, NT: Num,
    XNOR: Num, RES: Num, VV: Num = 0, TMODE: Num | None = None, TE: Num | None = None,
    TW: Num | None = None,
) -> dict[str, Num]:  # fmt: skip
    """Features of one ``hwp_mvau`` (its Verilog parameters; ``TMODE`` None: the "auto"
    rule, binary search from :data:`BINARY_FROM` thresholds). ``TE``: the bits a threshold
    takes in a LUT ROM (None: all TB = AW + 1): the ROM holds every threshold sign-extended
    to TB bits, and Yosys merges the copies of the sign bit and drops the bits that no row
    changes, so the ROM's logic follows the thresholds' values (:func:`threshold_bits`).
    ``TW``: the flip-flops Yosys keeps of the registered threshold word (:func:`word_bits`;
    None: PE * NT * TE)."""
    pe, simd, aw, wb, nt = PE, SIMD, AW, WB, NT
    xnor = _land(XNOR, True)
    res = _land(RES, _lnot(xnor))
    lutpp = _land(_lnot(xnor), _lnot(res))
    lanes = pe * simd
    sf, nf = MW // simd, MH // pe
    tb = aw + 1
    tmode = (nt >= BINARY_FROM) if TMODE is None else _land(TMODE, True)
    par = _land(nt > 0, _lnot(tmode))
    binm = _land(nt > 0, tmode)
    terms = simd * _where(lutpp, wb + 1, 1)  # adder-tree terms per PE
    te = tb if TE is None else np.minimum(TE, tb)
    ebr, rom_lut = rom_split(nf * sf, lanes * wb)
    thr_ebr, r = rom_split(nf, pe * nt * tb)
    ebr, rom_lut = ebr + _where(par, thr_ebr, 0), rom_lut + _where(par, r * te / tb, 0)
    nb = _bitlen(nt)
    for s in range(int(np.max(nb)) if np.size(nb) else 0):  # stage s: NF * 2^s words of TB bits
        e, r = rom_split(nf * (1 << s), tb)
        on = _land(binm, nb > s)
        ebr, rom_lut = ebr + _where(on, pe * e, 0), rom_lut + _where(on, pe * r * te / tb, 0)
    # the threshold word register (``tw``): of a ROM in LUTs, only its distinct non-constant
    # bit columns stay (an EBR's output register is inside the DP16KD)
    tw = pe * nt * te if TW is None else TW
    thr_reg = _where(_land(par, thr_ebr == 0), tw, 0)
    bram_in, ram_bits, mux_bits = input_buffer(MW // simd, simd * IB, VV)
    return {
        "const": 1 + 0 * pe,
        "lut_mul": _where(lutpp, pe * terms * aw, 0),
        "xnor_lanes": _where(xnor, lanes, 0),
        "tree_bits": pe * (terms - 1) * aw,
        "acc_bits": pe * aw,
        "thr_par_bits": _where(par, pe * nt * tb, 0),
        "thr_par_cmp": _where(par, pe * nt, 0),
        "thr_bin_bits": _where(binm, pe * nb * (2 * aw + tb), 0),
        "rom_lut_bits": rom_lut,
        "in_bits": _where(VV != 0, pe, 1) * simd * IB,
        "lanes_aw": _where(lutpp, 0, lanes * _where(xnor, 1, aw)),
        "dsp_lanes": _where(res, lanes, 0),
        "ebr": ebr + bram_in,
        "thr_reg_bits": thr_reg,
        "ibuf_ram_bits": ram_bits,
        "ibuf_mux_bits": mux_bits,
    }


def input_buffer(sf: Num, xw: Num, vv: Num = 0) -> tuple[Num, Num, Num]:
    """(EBR blocks, distributed-RAM bits, read-multiplexer bits) of an MVAU's input buffer
    (``inbuf``: SF words of the SIMD * IB-bit input, written while the first row block reads
    it, read again by the others; a VVAU has none, one word is a register). Yosys's
    ``memory_libmap`` takes the cheaper of DPR16X4 cells (16 words x 4 bits, banks of 16 words
    behind a read multiplexer, :data:`DPR_COST` each) and DP16KDs (:data:`EBR_COST` each).

    Example:
        >>> input_buffer(256, 2), input_buffer(384, 2), input_buffer(1, 8)
        ((0, 64, 30), (1, 0, 0), (0, 0, 0))
    """
    on = _land(vv == 0, sf > 1)
    cells = _cdiv(sf, 16) * _cdiv(xw, 4)
    blocks = ebr_blocks(sf, xw)
    ebr = _land(on, DPR_COST * cells >= EBR_COST * blocks)
    lut = _land(on, _lnot(ebr))
    mux = _where(lut, xw * (_cdiv(sf, 16) - 1), 0)
    return _where(ebr, blocks, 0), _where(lut, 4 * cells, 0), mux


def threshold_bits(thresholds: Any, tb: int) -> float:
    """Bits per threshold that a threshold ROM's logic costs once Yosys has optimised it: of
    every threshold (a column of ``thresholds``, one row per output channel), the bits that
    differ between the rows, its sign-extension copies counted once (Yosys merges equal
    columns and drops constant ones); the mean over the thresholds, at most ``tb``.

    Example:
        >>> threshold_bits(np.array([[-5, 3, 100], [4, 2, 101]]), 21)  # 4 + 1 + 1 bits
        2.0
        >>> threshold_bits(np.array([[7, 7], [7, 7]]), 21)  # one value: a constant ROM
        0.0
    """
    t = np.asarray(thresholds, dtype=np.int64)
    if t.size == 0:
        return float(tb)
    t = t.reshape(-1, t.shape[-1])
    hi = np.max(np.maximum(t, -t - 1), axis=0)  # per threshold: its width is bitlen + 1
    width = np.minimum(_bitlen(hi) + 1, int(tb))
    bits = (t[:, :, None] >> np.arange(int(np.max(width)))) & 1  # (rows, NT, bit)
    inside = np.arange(bits.shape[2]) < width[:, None]  # a threshold's bits, its sign the top
    varies = (bits != bits[:1]).any(axis=0) & inside
    return float(min(tb, varies.sum() / t.shape[1]))


def word_bits(thresholds: Any, tb: int, pe: int) -> int:
    """Flip-flops Yosys keeps of the registered threshold word of a LUT threshold ROM (``tw``,
    PE * NT thresholds of ``tb`` bits a row, channel ``nf * PE + p`` in row ``nf``): its bit
    columns over the rows that are not constant, equal columns counted once (the flip-flops
    of a constant column are removed, those of equal columns merged).

    Example:
        >>> word_bits(np.array([[-5, 3], [4, 2]]), 5, 1)  # 6 varying bits, 2 distinct columns
        2
        >>> word_bits(np.array([[7, 7], [7, 7]]), 5, 1), word_bits(np.array([[1], [2]]), 5, 2)
        (0, 0)
    """
    t = np.asarray(thresholds, dtype=np.int64)
    rows = t.reshape(-1, pe * t.shape[-1])
    bits = ((rows[:, :, None] >> np.arange(int(tb))) & 1).reshape(rows.shape[0], -1)
    bits = bits[:, (bits != bits[:1]).any(axis=0)].T.astype(np.uint8)
    return int(len(np.unique(bits, axis=0))) if bits.size else 0


def pad_features(*, SIMD: Num, IB: Num, OB: Num) -> dict[str, Num]:
    """Features of ``hwp_pad`` (three 16-bit counters, an encoder and the output register)."""
    return {"const": 1 + 0 * SIMD, "out_bits": SIMD * OB, "in_bits": SIMD * IB}


def swg_features(
    *, IW: Num, C: Num, SIMD: Num, K: Num, S: Num, B: Num
) -> dict[str, Num]:  # fmt: skip
    """Features of ``hwp_swg``: a line buffer of (K + S) rows in EBR (``ram_style`` block),
    its address arithmetic (AB bits) and the output register."""
    depth = (K + S) * IW * (C // SIMD)
    width = SIMD * B
    ab = clog2(depth + 1)
    return {"const": 1 + 0 * SIMD, "width": width, "addr_bits": ab, "ebr": ebr_blocks(depth, width)}


def pool_features(*, C: Num, B: Num, T: Num = 0) -> dict[str, Num]:
    """Features of ``hwp_maxpool``: C comparators of B bits (signed ones, T = 1, cost more),
    the running maximum and the output register."""
    return {"const": 1 + 0 * C, "bits": C * B, "signed_bits": _where(T == 1, C * B, 0)}


def labelsel_features(*, PE: Num, B: Num, OB: Num) -> dict[str, Num]:
    """Features of ``hwp_labelsel``: a chain of PE comparators of B + 1 bits (the first one,
    against the running best, folds into the fixed part); the index
    ``i * PE + p`` takes a MULT18X18D when PE is not a power of two."""
    return {
        "const": 1 + 0 * PE,
        "cmp_bits": (PE - 1) * (B + 1),
        "idx_bits": PE * OB,
        "idx_mul": _not_pow2(PE),
    }


def dwc_features(*, IN: Num, OUT: Num, B: Num) -> dict[str, Num]:
    """Features of ``hwp_dwc``: an lcm(IN, OUT)-element buffer and the output register; a
    split (IN = k * OUT) selects the output slice with a multiplexer over the buffer, the
    general case (neither divides the other) with a shifter at every bit offset (as wide as
    the shift amount ``i * OUT * B``, a product that takes MULT18X18Ds)."""
    lcm = np.lcm(IN, OUT)
    gather = (OUT % IN) == 0
    split = _land(_lnot(gather), (IN % OUT) == 0)
    general = _land(_lnot(gather), _lnot(split))
    lb = lcm * B
    cb = clog2(lcm // IN + lcm // OUT + 1) + 1  # the iteration counter's bits
    shift = _bitlen(((1 << cb) - 1) * OUT * B)  # bits of the shift amount i * OUT * B
    return {
        "const": 1 + 0 * IN,
        "buf_bits": lb,
        "out_bits": OUT * B,
        "split_bits": _where(split, lb, 0),
        "shift_bits": _where(general, lb * shift, 0),
        "general": _where(general, 1, 0),
    }


def fifo_features(*, W: Num, DEPTH: Num = FIFO_DEPTH) -> dict[str, Num]:
    """Features of ``hwp_fifo``: 16 words (the FIFOs between kernels) in DPR16X4 distributed
    RAM (16 x 4 bits a cell); a deeper one (a residual block's skip FIFO) in EBR from
    :data:`FIFO_EBR_MIN_BITS` bits, else in distributed RAM with a read multiplexer. An EBR
    reads synchronously, so Yosys adds a W-bit bypass multiplexer for the FIFO's
    asynchronous read (``mux_bits`` = W)."""
    ebr = _land(DEPTH > FIFO_DEPTH, DEPTH * W >= FIFO_EBR_MIN_BITS)
    cells = _cdiv(DEPTH, 16)
    return {
        "const": 1 + 0 * W,
        "ram_bits": _where(ebr, 0, 4 * _cdiv(W, 4) * cells),
        "mux_bits": _where(ebr, W, W * (cells - 1)),
        "addr_bits": clog2(DEPTH),
        "ebr": _where(ebr, ebr_blocks(DEPTH, W), 0),
    }


def dup_features(*, W: Num) -> dict[str, Num]:
    """Features of ``hwp_dup`` (a W-bit word to two outputs; Yosys merges the two registers)."""
    return {"const": 1 + 0 * W, "bits": W}


def _popcount(m: Num) -> Num:
    if isinstance(m, np.ndarray):
        return sum((m >> k) & 1 for k in range(int(np.max(m)).bit_length()))
    return bin(int(m)).count("1")


def add_features(*, PE: Num, IB0: Num, IB1: Num, OB: Num, P: Num = 1, Q: Num = 1) -> dict[str, Num]:
    """Features of ``hwp_add``: PE adders of OB bits; with unequal scales the constant
    products are shifted adds, one (OB + 1)-bit adder term per set bit of P and Q."""
    plain = _land(P == 1, Q == 1)
    return {
        "const": 1 + 0 * PE,
        "out_bits": PE * OB,
        "in_bits": PE * (IB0 + IB1),
        "mul_bits": _where(plain, 0, PE * (OB + 1) * (_popcount(P) + _popcount(Q))),
    }


def gap_features(*, C: Num, PE: Num, AW: Num, OB: Num) -> dict[str, Num]:
    """Features of ``hwp_gap``: PE accumulators of AW bits, their C / PE-word memory in
    distributed RAM, the rounding shift and clip to OB bits."""
    return {"const": 1 + 0 * PE, "acc_bits": PE * AW, "mem_bits": C * AW, "out_bits": PE * OB}


def thresh_features(
    *, C: Num, PE: Num, IB: Num, NT: Num, TMODE: Num | None = None
) -> dict[str, Num]:
    """Features of ``hwp_thresh`` (standalone thresholds: the comparators and ROMs of
    ``hwp_mvau``'s activation, on AW = IB + 1 signed bits)."""
    f = mvau_features(MW=1, MH=C, SIMD=1, PE=PE, IB=IB, WB=0, AW=IB + 1, NT=NT, XNOR=0, RES=1,
                      TMODE=TMODE)  # fmt: skip
    keep = (
        "const",
        "thr_par_bits",
        "thr_par_cmp",
        "thr_bin_bits",
        "rom_lut_bits",
        "in_bits",
        "thr_reg_bits",
    )
    return {**{k: f[k] for k in keep}, "ebr": f["ebr"]}


FEATURES: dict[str, Callable[..., dict[str, Num]]] = {
    "mvau": mvau_features,
    "pad": pad_features,
    "swg": swg_features,
    "pool": pool_features,
    "labelsel": labelsel_features,
    "dwc": dwc_features,
    "fifo": fifo_features,
    "dup": dup_features,
    "add": add_features,
    "gap": gap_features,
    "thresh": thresh_features,
}
#: the features each resource of each kernel is fitted on (the others' coefficients are 0)
USES: dict[str, dict[str, tuple[str, ...]]] = {
    "mvau": {
        "lut": ("const", "lut_mul", "xnor_lanes", "tree_bits", "acc_bits", "thr_par_bits",
                "thr_bin_bits", "rom_lut_bits", "in_bits", "ibuf_ram_bits", "ibuf_mux_bits"),
        "ff": ("const", "lanes_aw", "xnor_lanes", "tree_bits", "acc_bits", "thr_par_cmp",
               "thr_bin_bits", "in_bits", "lut_mul", "thr_reg_bits"),
        "bram": ("ebr",),
        "dsp": ("dsp_lanes",),
    },
    "pad": {"lut": ("const", "out_bits", "in_bits"), "ff": ("const", "out_bits")},
    "swg": {
        "lut": ("const", "width", "addr_bits"),
        "ff": ("const", "width", "addr_bits"),
        "bram": ("ebr",),
    },
    "pool": {"lut": ("const", "bits", "signed_bits"), "ff": ("const", "bits")},
    "labelsel": {
        "lut": ("const", "cmp_bits", "idx_bits"),
        "ff": ("const", "cmp_bits"),
        "dsp": ("idx_mul",),
    },
    "dwc": {
        "lut": ("const", "buf_bits", "split_bits", "shift_bits"),
        "ff": ("const", "buf_bits", "out_bits"),
        "dsp": ("general",),
    },
    "fifo": {
        "lut": ("const", "ram_bits", "mux_bits", "addr_bits"),
        "ff": ("const", "addr_bits"),
        "bram": ("ebr",),
    },
    "dup": {"lut": ("const",), "ff": ("const", "bits")},
    "add": {"lut": ("const", "out_bits", "in_bits", "mul_bits"), "ff": ("const", "out_bits")},
    "gap": {"lut": ("const", "acc_bits", "mem_bits"), "ff": ("const", "acc_bits", "out_bits")},
    "thresh": {
        "lut": ("const", "thr_par_bits", "thr_bin_bits", "rom_lut_bits", "in_bits"),
        "ff": ("const", "thr_par_cmp", "thr_bin_bits", "in_bits", "thr_reg_bits"),
        "bram": ("ebr",),
    },
}  # fmt: skip


@dataclass(frozen=True)
class Ecp5Model:
    """Per-kernel, per-resource coefficients of the features (zero where not listed).

    Example:
        >>> m = Ecp5Model({"pool": {"lut": {"const": 10.0, "bits": 1.5}}})
        >>> m.predict("pool", pool_features(C=8, B=4))["lut"]
        58.0
    """

    coef: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def predict(self, kernel: str, features: dict[str, Num]) -> dict[str, Num]:
        """LUT, FF, BRAM, DSP of one kernel (numbers or arrays, as the features)."""
        out: dict[str, Num] = {}
        for r in RESOURCES:
            v: Num = 0.0
            for f, c in self.coef.get(kernel, {}).get(r, {}).items():
                v = v + c * features[f]
            out[r] = v
        return out

    def to_dict(self) -> dict[str, dict[str, dict[str, float]]]:
        """JSON-able coefficients."""
        return {k: {r: dict(c) for r, c in v.items()} for k, v in self.coef.items()}


#: features that count primitives exactly (ECP5: the EBR blocks of the memory rules)
COUNTED = ("ebr",)


def fit_kernel(
    kernel: str,
    features: list[dict[str, float]],
    truth: list[dict[str, float]],
    uses: dict[str, dict[str, tuple[str, ...]]] | None = None,
) -> dict[str, dict[str, float]]:
    """Non-negative least squares per resource on relative error (every sample weighs alike);
    ``features`` may be sums over several kernels of one design (the FIFOs are counted
    together). ``uses``: the features of each resource (default :data:`USES`; the xc7 model
    passes its own). A resource counted by one feature of :data:`COUNTED` (the EBR blocks of
    the memory rules) takes it as is (coefficient 1, not fitted: a least-squares scale would
    trade a whole design's blocks for a few miscounted memories). Deterministic (no random
    state)."""
    from scipy.optimize import nnls

    out: dict[str, dict[str, float]] = {}
    for r, cols in (uses or USES)[kernel].items():
        if uses is None and len(cols) == 1 and cols[0] in COUNTED:
            out[r] = {cols[0]: 1.0}
            continue
        a = np.array([[float(f[c]) for c in cols] for f in features], float)
        y = np.array([float(t[r]) for t in truth], float)
        w = 1.0 / np.maximum(y, 10.0)
        x, _ = nnls(a * w[:, None], y * w)
        out[r] = {c: round(float(v), 4) for c, v in zip(cols, x, strict=True) if v > 0}
    return out


#: coefficients fitted by ``bench/rtl_fidelity.py`` (``bench/results/rtl_fidelity.json``:
#: 20 random designs, seed 0, Yosys 0.70 synth_ecp5); zero coefficients left out; EBR counts
#: taken as is (:data:`COUNTED`)
FITTED = Ecp5Model(
    {
        "add": {
            "lut": {"const": 44.4692, "out_bits": 1.1217, "mul_bits": 0.1084},
            "ff": {"const": 24.8396, "out_bits": 1.0018},
        },
        "dup": {
            "lut": {"const": 43.0},
            "ff": {"const": 26.0, "bits": 1.0},
        },
        "dwc": {
            "lut": {"const": 54.0485, "buf_bits": 0.082, "split_bits": 2.032, "shift_bits": 0.2923},
            "ff": {"const": 28.4995, "buf_bits": 1.1257},
            "dsp": {"general": 0.6},
        },
        "fifo": {
            "lut": {"ram_bits": 0.8948, "mux_bits": 1.4618, "addr_bits": 9.5734},
            "ff": {"addr_bits": 4.3879},
            "bram": {"ebr": 1.0},
        },
        "gap": {
            "lut": {"const": 82.5263, "acc_bits": 4.394, "mem_bits": 0.1197},
            "ff": {"const": 52.5553, "acc_bits": 1.5038},
        },
        "labelsel": {
            "lut": {"const": 47.2515, "cmp_bits": 4.0867, "idx_bits": 7.9656},
            "ff": {"const": 34.0969, "cmp_bits": 0.0607},
            "dsp": {"idx_mul": 1.0},
        },
        "mvau": {
            "lut": {
                "const": 173.8284,
                "lut_mul": 0.3663,
                "tree_bits": 0.9106,
                "acc_bits": 1.5411,
                "thr_par_bits": 1.5511,
                "thr_bin_bits": 0.3122,
                "rom_lut_bits": 0.0963,
                "in_bits": 1.3237,
                "ibuf_ram_bits": 0.768,
                "ibuf_mux_bits": 3.757,
            },
            "ff": {
                "const": 107.4576,
                "lanes_aw": 0.6058,
                "tree_bits": 1.106,
                "acc_bits": 2.0854,
                "thr_par_cmp": 4.403,
                "thr_bin_bits": 1.0524,
                "in_bits": 2.3725,
                "thr_reg_bits": 1.2194,
            },
            "bram": {"ebr": 1.0},
            "dsp": {"dsp_lanes": 1.0},
        },
        "pad": {
            "lut": {"const": 146.087, "in_bits": 0.0928},
            "ff": {"const": 49.0, "out_bits": 1.0},
        },
        "pool": {
            "lut": {"const": 66.6837, "bits": 1.3785},
            "ff": {"const": 41.0, "bits": 1.0},
        },
        "swg": {
            "lut": {"const": 432.9804, "addr_bits": 11.1954},
            "ff": {"const": 122.7183, "width": 1.9261, "addr_bits": 4.9013},
            "bram": {"ebr": 1.0},
        },
        "thresh": {
            "lut": {
                "const": 53.3555,
                "thr_par_bits": 1.6839,
                "thr_bin_bits": 0.2922,
                "rom_lut_bits": 0.0634,
            },
            "ff": {
                "const": 24.2389,
                "thr_par_cmp": 6.9031,
                "thr_bin_bits": 1.0091,
                "in_bits": 7.6044,
            },
            "bram": {"ebr": 1.0},
        },
    }
)
