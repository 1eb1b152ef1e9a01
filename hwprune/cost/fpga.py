"""FPGA cost model of a FINN-style streaming dataflow accelerator.

For every IR node (:mod:`hwprune.ir`): cycles per frame, LUT, FF, BRAM18 and DSP. For a design:
totals including the stream glue (FIFOs, width converters), DMAs and the shell; frames/s =
f_clk / (slowest node, or the I/O port, plus a per-frame overhead); latency; the binding resource.

Cycle formulas are FINN's (``get_exp_cycles``; reference section 1), which match the boards within
1% for conv nets. The resource formulas are ours, built on the same micro-architecture but fitted to
real post-synthesis data (``fpga_calibration.csv``) where FINN is known to be wrong (reference
section 8):

* **weight memories**: Vivado maps a weight memory ``width x depth`` onto block RAM without
  cascading in depth when it can: it takes the RAMB36 aspect ratio with the smallest depth that
  holds the whole memory (72x512 ... 1x32768) and tiles the width (deeper memories cascade
  1x32768 blocks). This reproduces all four MVAU BRAM counts of rows L01-L04 exactly (1/8/2/4
  RAMB36), including the "tiny" 27x64 memory that FINN prices as one RAMB18 and the shallow-wide
  ones. BNN-PYNQ's HLS library keeps one array per PE in RAMB18s (``weight_layout="per_pe"``).
* **LUTs** are priced per multiply-accumulate lane and per PE, not with FINN-R's constants
  (which overestimate wide-SIMD layers 1.6-2.3x) ; **FFs** are modelled (FINN has no FF model);
* **DSPs**: HLS puts a product on a DSP48 when an operand is 8 bits or wider (row L01: a 1-bit
  x 8-bit layer with 27 lanes used 27 DSPs, where FINN estimates 0); that is the rule for a
  node whose ``res_type`` is ``"auto"``; ``"lut"``/``"dsp"`` (FINN's ``resType``, which the
  folding optimizer chooses per layer) price the products in LUTs or on DSPs;
* max-pool, sliding-window, FIFO/width-converter, DMA and shell costs (which FINN leaves out, 59%
  of the LUTs of the Finn_Thesis design) are fitted to that design's per-node report.

Every constant says which calibration rows it was fitted to. All functions are pure.

Each node kind's cost is written once, in one function (:data:`COST_FUNCTIONS`), with numpy
broadcasting: :func:`node_cost` prices one folded node with it (numbers), and the folding option
tables (:mod:`hwprune.cost.tables`) price every legal folding of a node at once with the very
same function (the node's folding fields are arrays there). A new node kind needs one cost
function registered here (and its ``fold_space`` on the IR node).

Example:
    >>> from hwprune.ir import build_ir
    >>> from hwprune.cost.fpga import node_cost, FpgaCostParams
    >>> g = build_ir([{"op": "fc", "out": 64, "wbits": 1, "abits": 1, "pe": 8, "simd": 72}],
    ...              (576, 1, 1), 1, input_kind="bipolar")
    >>> c = node_cost(g.nodes[0], FpgaCostParams())
    >>> c.cycles, c.bram18
    (64, 16.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from hwprune.ir import (
    FIFO,
    MVAU,
    VVAU,
    AddStreams,
    DuplicateStreams,
    GlobalAccPool,
    LabelSelect,
    MaxPool,
    SlidingWindow,
    Thresholding,
    n_thresholds,
)

#: a Python number (one node, one folding) or a numpy array (one entry per folding option)
Num = Any

# RAMB36 and RAMB18 aspect ratios (width, depth), widest first (Xilinx UG473 / UG573).
_RAMB36 = ((72, 512), (36, 1024), (18, 2048), (9, 4096), (4, 8192), (2, 16384), (1, 32768))
_RAMB18 = ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))
# granularity -> (aspect widths, the same as an array, deepest aspect, RAMB18 per block);
# the aspect depths are 512 * 2**i, so the shallowest that holds d words is i = ceil(log2 d) - 9
_ASPECTS = {
    "ramb36": (tuple(w for w, _ in _RAMB36), np.array([w for w, _ in _RAMB36]), 32768, 2.0),
    "ramb18": (tuple(w for w, _ in _RAMB18), np.array([w for w, _ in _RAMB18]), 16384, 1.0),
}

#: a memory's ``mem_style`` / ``ram_style`` as a number (option tables carry it per row)
STYLE_CODES = {"auto": 0, "distributed": 1, "block": 2}

#: multiplier resources of MVAU/VVAU options, by code (a table's ``res_type`` column)
RES_CODES = ("lut", "dsp")


@dataclass(frozen=True)
class FpgaCostParams:
    """Constants of the FPGA cost model (defaults fitted to ``fpga_calibration.csv``).

    Attributes (rows in brackets are the calibration rows each value was fitted to):
        mvau_lut: fixed LUTs of an MVAU/VVAU (control, stream interfaces, weight streamer)
            [L01: 357 LUT - 14 LUTRAM thresholds - 28 accumulator/comparator LUTs].
        lane_lut: LUTs per "lane unit" of a multiply-accumulate lane; an XNOR-popcount lane is
            2 units (1 weight bit + 1 sum bit), a W x A lane W + (W+A) + W*A units (no
            multiplier term when one operand is 1 bit: a sign flip or AND merges into the adder)
            [least squares on L02-L04 given mvau_lut and pe_lut: 1.20].
        pe_lut: LUTs per accumulator / threshold-comparator bit per PE (carry chains: 1 LUT
            per bit; structural, not fitted).
        mvau_ff, lane_ff: fixed and per-lane-unit flip-flops, with ``pe_ff`` = 2 per accumulator
            bit and PE (accumulator + output register) [least squares on L01-L04].
        dsp_min_bits: a product uses a DSP when either operand has at least this many bits
            and the node's ``res_type`` is ``"auto"`` [L01: 1 x 8 bits -> 1 DSP per lane].
        lutram_max_bits: memories up to this many bits (or at most 16 words deep) go to
            LUTRAM, 64 bits per LUT; larger ones to BRAM however shallow [L01: a 1,728-bit,
            64-deep memory went to BRAM; R14: a 1,280 x 60 memory took 18 RAMB36 and the
            128-bit one of its last layer none - 22 RAMB36 in all, as measured].
        thr_lutram_max_bits: threshold memories up to this size (one RAMB18) stay in LUTRAM.
        weight_layout: ``"shared"`` (one wide weight memory per layer, FINN >= 0.9 memstream,
            RAMB36 granularity) or ``"per_pe"`` (one array per PE in RAMB18s, BNN-PYNQ).
        swg_lut, swg_bits_per_lut: sliding window = fixed + line-buffer bits / 28 (SRL32-based
            LUTRAM) [least squares on the five per-node SWG LUTs of L11: 217/293/258/328/231].
        swg_ff, swg_ff_per_bit: [L11: 510 FF over five SWGs with stream widths 8+8+2+2+1].
        swg_lutram_max_bits: larger line buffers go to BRAM (FINN's distributed default
            explodes on wide images).
        pool_lut, pool_lut_per_bit, pool_ff, pool_ff_per_bit: max-pool = fixed + per
            channel-bit [two-point fit on L09 (64 ch, 245 LUT / 515 FF) and L10 (128 ch,
            450 / 953)].
        pool_ramb36_per_72bits: RAMB36 per 72 bits of channel width [L09: 2, L10: 4 RAMB36].
        glue_lut, glue_lut_per_bit, glue_ff, glue_ff_per_bit: each stream between two nodes
            gets a FIFO (and a width converter with its own FIFO when the widths differ);
            priced per stream as ``glue_* + glue_*_per_bit * (producer + consumer width)``;
            the per-bit term is fixed at 0.5 (an SRL32 FIFO of width w takes ~w LUTs), the
            fixed term fitted to the 16 streams of the Finn_Thesis design [L13 + L14: 28 FIFOs
            and 12 converters, 2,819 LUT / 2,316 FF in all].
        frame_overhead_cycles: cycles per frame the board loses to DMA and driver overhead
            [median excess of measured over f/max_cycles in R01, R08, R16, R17].
    """

    mvau_lut: float = 315.0
    lane_lut: float = 1.20
    pe_lut: float = 1.0
    mvau_ff: float = 1011.0
    lane_ff: float = 1.32
    pe_ff: float = 2.0
    dsp_min_bits: int = 8
    lutram_max_bits: int = 1024
    thr_lutram_max_bits: int = 18432
    weight_layout: str = "shared"
    swg_lut: float = 175.0
    swg_bits_per_lut: float = 28.0
    swg_ff: float = 85.0
    swg_ff_per_bit: float = 4.0
    swg_lutram_max_bits: int = 36864
    pool_lut: float = 40.0
    pool_lut_per_bit: float = 3.2
    pool_ff: float = 77.0
    pool_ff_per_bit: float = 6.84
    pool_ramb36_per_72bits: float = 2.0
    glue_lut: float = 143.0
    glue_lut_per_bit: float = 0.5
    glue_ff: float = 112.0
    glue_ff_per_bit: float = 0.5
    frame_overhead_cycles: float = 32.0
    resource_model: str = "vivado"

    @classmethod
    def for_target(cls, target: Any) -> FpgaCostParams:
        """The calibrated params for ``target``: Lattice ECP5 targets (``family = "ecp5"``) are
        priced with the Yosys-fitted model of hwprune's RTL kernels (:data:`RESOURCE_MODELS`
        ``"yosys-ecp5"``: LUT4, TRELLIS_FF, DP16KD, MULT18X18D), every other FPGA with the
        Vivado-calibrated one. The cycles are the same for both.

        Example:
            >>> from hwprune.targets import load_target
            >>> FpgaCostParams.for_target(load_target("ulx3s-85f")).resource_model
            'yosys-ecp5'
            >>> FpgaCostParams.for_target(load_target("pynq-z2")).resource_model
            'vivado'
        """
        if getattr(target, "family", "") == "ecp5":
            return cls(resource_model="yosys-ecp5")
        return cls()


#: resource models and the units of their numbers
RESOURCE_MODELS = {
    "vivado": "Vivado-calibrated (FINN designs): lut = LUT6, ff, bram18 = RAMB18, dsp = DSP48",
    "yosys-ecp5": "Yosys synth_ecp5 of hwprune's RTL: lut = LUT4 (+2 per CCU2C, +4 per "
    "DPR16X4), ff = TRELLIS_FF, bram18 = DP16KD (18 Kbit EBR), dsp = MULT18X18D",
}


@dataclass(frozen=True)
class NodeCost:
    """Cycles per frame and resources of one node.

    Priced with :func:`node_cost` the fields are numbers; the folding tables price many
    foldings at once through the same functions, and then each field is an array."""

    cycles: Num
    lut: Num
    ff: Num
    bram18: Num
    dsp: Num


#: depth of one LUTRAM primitive (RAM64X1): a memory up to this deep costs one LUT a bit
LUTRAM_DEPTH = 64


# --- broadcasting helpers: a plain branch on numbers, numpy on arrays -----------------------


def _where(cond: Any, a: Any, b: Any) -> Any:
    """``a`` where ``cond`` holds, else ``b`` (:func:`numpy.where` when ``cond`` is an array)."""
    if isinstance(cond, np.ndarray):
        return np.where(cond, a, b)
    return a if cond else b


def _float(x: Any) -> Any:
    return x.astype(float) if isinstance(x, np.ndarray) else float(x)


def cdiv(a: Any, b: Any) -> Any:
    """Ceiling division of integers (numbers or arrays).

    Example:
        >>> cdiv(65, 64), cdiv(np.array([0, 64, 65]), 64).tolist()
        (2, [0, 1, 2])
    """
    return -(-a // b)


def _aspect_index(depth: Any, count: int) -> Any:
    """Index of the shallowest aspect (512 * 2**i words) that holds ``depth`` words."""
    if isinstance(depth, np.ndarray):
        e = np.frexp(np.maximum(depth, 1) - 1)[1]  # exponent = ceil(log2(depth)), exactly
        return np.minimum(np.maximum(e - 9, 0), count - 1)
    return min(max(int(max(depth, 1) - 1).bit_length() - 9, 0), count - 1)


# --- memories ---------------------------------------------------------------------------------


def bram18_for(width: Num, depth: Num, granularity: str = "ramb36") -> Num:
    """RAMB18-equivalents for a ``width x depth`` memory, mapped as Vivado does for FINN memories.

    The aspect ratio with the smallest depth that holds all ``depth`` words is used and the width
    is tiled (memories deeper than the deepest aspect cascade it). ``granularity`` ``"ramb36"``
    counts each RAMB36 as 2; ``"ramb18"`` uses RAMB18 aspects (BNN-PYNQ's per-PE arrays).
    Numbers or arrays (broadcast).

    Example:
        >>> bram18_for(576, 64), bram18_for(32, 9216), bram18_for(8, 147456)
        (16.0, 32.0, 80.0)
        >>> bram18_for(32, 512, "ramb18")
        1.0
    """
    widths, arr, last, unit = _ASPECTS[granularity]
    i = _aspect_index(depth, len(widths))
    aw = arr[i] if isinstance(i, np.ndarray) else widths[i]
    out = unit * cdiv(width, aw) * _where(depth > last, cdiv(depth, last), 1)
    return _where((width <= 0) | (depth <= 0), 0.0, _float(out))


def memory_cost(
    width: Num, depth: Num, style: str | Num, p: FpgaCostParams, granularity: str = "ramb36"
) -> tuple[Num, Num]:
    """(LUT, BRAM18) of a memory; ``style`` is ``"auto"``, ``"block"`` or ``"distributed"``
    (or their :data:`STYLE_CODES`, per option). Numbers or arrays (broadcast).

    Example:
        >>> memory_cost(27, 32, "auto", FpgaCostParams())   # shallow: LUTRAM, 64 bits per LUT
        (27.0, 0.0)
    """
    code = STYLE_CODES[style] if isinstance(style, str) else style
    auto = (depth <= 16) | (width * depth <= p.lutram_max_bits)
    lutram = _where(code == 1, True, _where(code == 2, False, auto))
    lut = _where(lutram, _float(width * cdiv(depth, LUTRAM_DEPTH)), 0.0)
    return lut, _where(lutram, 0.0, bram18_for(width, depth, granularity))


def threshold_memory(width: Num, depth: Num, p: FpgaCostParams) -> tuple[Num, Num]:
    """(LUT, BRAM18) of a threshold memory: LUTRAM (FINN's default for thresholds) unless it
    holds more than ``thr_lutram_max_bits`` *and* is deeper than one LUTRAM primitive (64).

    A shallow, wide memory (8-bit outputs: 255 thresholds a channel, at high PE) would fill a
    block RAM's width and leave its depth empty, so synthesis keeps it in LUTRAM.

    Example:
        >>> threshold_memory(14, 64, FpgaCostParams())
        (14.0, 0.0)
        >>> threshold_memory(255 * 16, 16, FpgaCostParams())  # 8-bit out, 16 channels, PE=1
        (4080.0, 0.0)
    """
    lutram = (width * depth <= p.thr_lutram_max_bits) | (depth <= LUTRAM_DEPTH)
    if isinstance(lutram, np.ndarray):
        lut = np.where(lutram, width * cdiv(depth, LUTRAM_DEPTH), 0).astype(float)
        bram = np.zeros(lut.shape)
        big = np.flatnonzero(~lutram)
        if big.size:  # threshold memories in block RAM are rare: map only those
            w, d = np.broadcast_to(width, lut.shape), np.broadcast_to(depth, lut.shape)
            bram[big] = bram18_for(w[big], d[big])
        return lut, bram
    if lutram:
        return float(width * cdiv(depth, LUTRAM_DEPTH)), 0.0
    return 0.0, bram18_for(width, depth)


# --- multiply-accumulate units (MVAU, VVAU) ---------------------------------------------------


def _lane_units(wbits: int, wkind: str, abits: int, akind: str) -> int:
    """LUT 'units' of one multiply-accumulate lane built from LUTs."""
    if wkind == "bipolar" and akind == "bipolar":
        return 2  # XNOR + popcount bit
    if wkind == "bipolar":
        return 1 + (abits + 1)  # conditional negate folded into the adder
    if akind == "bipolar":
        return wbits + (wbits + 1)
    if abits == 1:
        return wbits + wbits  # a 0/1 input gates the weight: the AND merges into the adder
    return wbits + (wbits + abits) + wbits * abits


def _uses_dsp(wbits: int, abits: int, res_type: str, p: FpgaCostParams) -> bool:
    if res_type == "dsp":
        return True
    if res_type == "lut":
        return False
    return max(wbits, abits) >= p.dsp_min_bits


def res_type_of(node: Any, p: FpgaCostParams | None = None) -> str:
    """The multiplier resource an MVAU/VVAU is priced with: ``"lut"`` or ``"dsp"``.

    A node's ``res_type`` is ``"lut"``, ``"dsp"`` or ``"auto"``; the folding optimizer chooses
    one for an ``"auto"`` node, and a node priced as ``"auto"`` follows the fixed rule (a DSP
    per lane when an operand has ``dsp_min_bits`` or more bits, as HLS does by default).

    Example:
        >>> from dataclasses import replace
        >>> from hwprune.ir import build_ir
        >>> g = build_ir([{"op": "fc", "out": 8, "wbits": 2, "abits": None}], (16,), 8)
        >>> res_type_of(g.nodes[0]), res_type_of(replace(g.nodes[0], res_type="lut"))
        ('dsp', 'lut')
    """
    q = p or FpgaCostParams()
    return "dsp" if _uses_dsp(node.wbits, node.in_bits, node.res_type, q) else "lut"


def _dsp_per_lane(wbits: int, abits: int) -> int:
    # one DSP48 multiplies 25 x 18 (E1) / 27 x 18 (E2) bits; wider products tile
    a, b = max(wbits, abits), min(wbits, abits)
    return math.ceil(a / 25) * math.ceil(b / 18)


@dataclass(frozen=True)
class MacConstants:
    """What an MVAU/VVAU's price needs from its data types, as numbers (per node; the folding
    tables repeat them per option when they price several nodes in one pass).

    Attributes:
        units: LUT units of one lane when its product is built from LUTs.
        dsp_per_lane: DSP48s of one lane when its product is on DSPs.
        nthr: thresholds per channel (0: no activation).
        style: the weight memory's :data:`STYLE_CODES` entry.
        auto_dsp: what ``res_type`` ``"auto"`` means for this node when priced as is.
        xnor: bipolar weights times bipolar inputs (XNOR-popcount lanes).
    """

    units: int
    dsp_per_lane: int
    nthr: int
    style: int
    auto_dsp: bool
    xnor: bool = False


def mac_constants(n: Any, p: FpgaCostParams) -> MacConstants:
    """:class:`MacConstants` of an MVAU or VVAU.

    Example:
        >>> from hwprune.ir import build_ir
        >>> g = build_ir([{"op": "fc", "out": 8, "wbits": 2, "abits": None}], (16,), 8)
        >>> mac_constants(g.nodes[0], FpgaCostParams()).units   # 2 + (2 + 8) + 2 * 8
        28
    """
    return MacConstants(
        _lane_units(n.wbits, n.wkind, n.in_bits, n.in_kind),
        _dsp_per_lane(n.wbits, n.in_bits),
        n_thresholds(n.out_bits, n.out_kind),
        STYLE_CODES[n.mem_style],
        _uses_dsp(n.wbits, n.in_bits, n.res_type, p),
        n.wkind == "bipolar" and n.in_kind == "bipolar",
    )


def _mac(n: Any, p: FpgaCostParams, rows: Num, cols: Num) -> NodeCost:
    """An MVAU/VVAU with ``rows`` (PE divides them) by ``cols`` (SIMD divides them) weights
    per output vector: cycles = rows/PE * cols/SIMD * n_vec; LUT/FF per lane and per PE;
    weight memory (PE*SIMD*W wide, shared or one per PE) and threshold memory.

    ``n`` is a node, or for the option tables a view of one (or of several nodes) whose
    folding fields are arrays, ``res_type`` an array of :data:`RES_CODES` indices, and
    ``mac`` its :class:`MacConstants` (arrays when it stands for several nodes)."""
    k = getattr(n, "mac", None) or mac_constants(n, p)
    pe, simd = n.pe, n.simd
    on_dsp = (n.res_type == 1) if isinstance(n.res_type, np.ndarray) else k.auto_dsp
    tmem = rows // pe
    depth = tmem * (cols // simd)
    lanes = pe * simd
    units = _where(on_dsp, 0, k.units)
    lut = p.mvau_lut + p.lane_lut * units * lanes + p.pe_lut * (pe * n.acc_bits * (1 + k.nthr))
    ff = p.mvau_ff + p.lane_ff * units * lanes + p.pe_ff * pe * n.acc_bits
    dsp = _float(lanes * _where(on_dsp, k.dsp_per_lane, 0))
    wwidth = lanes * n.wbits
    if p.weight_layout == "per_pe":
        wl, wb = memory_cost(wwidth // pe, depth, k.style, p, "ramb18")
        wl, wb = wl * pe, wb * pe
    else:
        wl, wb = memory_cost(wwidth, depth, k.style, p)
    tl, tb = threshold_memory(pe * k.nthr * n.acc_bits, tmem, p)
    return NodeCost(depth * n.n_vec, lut + wl + tl, ff, wb + tb, dsp)


def mvau_cost(n: Any, p: FpgaCostParams) -> NodeCost:
    """Cost of an :class:`~hwprune.ir.MVAU` (cycles = MH/PE * MW/SIMD * n_vec)."""
    return _mac(n, p, n.mh, n.mw)


def vvau_cost(n: Any, p: FpgaCostParams) -> NodeCost:
    """Cost of a depthwise :class:`~hwprune.ir.VVAU` (cycles = C*K*K/(PE*SIMD) * n_vec)."""
    return _mac(n, p, n.channels, n.kernel * n.kernel)


# --- the other nodes --------------------------------------------------------------------------


def window_cycles(
    ifm: tuple[Num, Num],
    ofm: tuple[Num, Num],
    channels: Num,
    simd: Num,
    kernel: int,
    stride: int,
    depthwise: bool,
) -> Num:
    """Cycles of FINN's RTL sliding-window generator (2D, default style) on an ``ifm`` map
    (already padded) with ``ofm`` windows: the line-buffer fill ``((K-1)*W + K)*CF``, then per
    output row the larger of ``OW*K*K*CF`` words out and ``S*W*CF`` words in. For a depthwise
    generator (channel-fold-major windows) FINN's estimate adds, per output row,
    ``OW*(S-1)*(CF-1)`` (a window replayed per channel fold) and, at the end of the frame,
    ``(S-1)*W*CF`` (frames do not overlap); both vanish at stride 1, the first also at SIMD =
    channels. ``CF = channels / simd``; numbers or numpy arrays (``channels``/``simd``).
    hwprune's HLS and RTL window kernels run this schedule. It is FINN's estimate
    (``get_exp_cycles``), an upper bound of its simulated RTL (``bench/results/finn_swg_rtl.md``:
    842 vs 812 cycles for a 28x28 k2 pool window, where the depthwise tail is not spent).

    Example:
        >>> window_cycles((6, 6), (3, 3), 4, 2, 2, 2, True)  # 16 + 3*(max(24, 24) + 3) + 12
        109
    """
    _, wp = ifm
    oh, ow = ofm
    cf = channels // simd
    buf_min = ((kernel - 1) * wp + kernel) * cf
    k2 = kernel * kernel
    dw = 1 if depthwise else 0
    s1 = stride - 1
    extra = dw * (ow * s1 * (cf - 1))
    tail = dw * (s1 * wp * cf)
    if isinstance(cf, np.ndarray):
        return buf_min + oh * (np.maximum(ow * k2 * cf, stride * wp * cf) + extra) + tail
    return int(buf_min + oh * (max(ow * k2 * cf, stride * wp * cf) + extra) + tail)


def swg_cycles(n: Any) -> Num:
    """FINN's RTL sliding-window cycles (2D, default style) on the zero-padded image
    (:func:`window_cycles`).

    Example:
        >>> from hwprune.ir import SlidingWindow
        >>> swg_cycles(SlidingWindow("s", 64, (30, 30), 3, 1, 0, 1, "bipolar", simd=8))
        56952
    """
    return window_cycles(
        n.padded, n.ofm, n.channels, n.simd, n.kernel, n.stride, getattr(n, "depthwise", False)
    )


def swg_cost(n: Any, p: FpgaCostParams) -> NodeCost:
    """Cost of a :class:`~hwprune.ir.SlidingWindow` (line buffer of (K-1) rows + K pixels)."""
    _, wp = n.padded
    words = ((n.kernel - 1) * wp + n.kernel) * (n.channels // n.simd)
    width = n.simd * n.bits
    bits = words * width
    style = STYLE_CODES[n.ram_style]
    lutram = (style == 1) | ((style == 0) & (bits <= p.swg_lutram_max_bits))
    lut = p.swg_lut + _where(lutram, bits / p.swg_bits_per_lut, 0.0)
    bram = _where(lutram, 0.0, bram18_for(width, words))
    ff = p.swg_ff + p.swg_ff_per_bit * width
    return NodeCost(swg_cycles(n), lut, ff, bram, 0.0)


def maxpool_window_cycles(ifm: tuple[int, int], kernel: int) -> int:
    """Cycles of a max-pool's window generator: FINN's depthwise RTL generator with SIMD =
    channels (one channel fold) and stride = kernel (:func:`window_cycles`).

    Example:
        >>> maxpool_window_cycles((28, 28), 2)  # 30 + 14*56 + 28
        842
    """
    h, w = ifm
    ofm = (max((h - kernel) // kernel + 1, 0), max((w - kernel) // kernel + 1, 0))
    return int(window_cycles(ifm, ofm, 1, 1, kernel, kernel, True))


def pool_cycles(ofm: tuple[int, int], kernel: int) -> int:
    """Cycles of ``Pool_hls`` with PE = channels: one window word (all channels) per cycle,
    ``K*K*OH*OW``.

    Example:
        >>> pool_cycles((14, 14), 2)
        784
    """
    return int(kernel * kernel * ofm[0] * ofm[1])


def maxpool_cycles(n: Any) -> int:
    """Cycles of a 2D max-pool as finn-plus builds it and hwprune's kernels run it: a depthwise
    sliding-window generator (SIMD = channels, :func:`maxpool_window_cycles`) feeding a pool
    unit (PE = channels, :func:`pool_cycles`); the slower of the two.

    Example:
        >>> from hwprune.ir import MaxPool
        >>> maxpool_cycles(MaxPool("p", 64, (28, 28), 2, 1, "bipolar"))  # 30 + 14*56 + 28
        842
    """
    return max(maxpool_window_cycles(n.ifm, n.kernel), pool_cycles(n.ofm, n.kernel), 1)


def maxpool_cost(n: Any, p: FpgaCostParams) -> NodeCost:
    """Cost of a 2D :class:`~hwprune.ir.MaxPool`: cycles :func:`maxpool_cycles`; LUT/FF/BRAM
    per channel-bit as calibrated on real pools (rows L09, L10)."""
    cb = n.channels * n.bits
    lut = p.pool_lut + p.pool_lut_per_bit * cb
    ff = p.pool_ff + p.pool_ff_per_bit * cb
    bram = 2.0 * p.pool_ramb36_per_72bits * math.ceil(cb / 72)
    return NodeCost(maxpool_cycles(n), lut, ff, bram, 0.0)


def thresholding_cost(n: Any, p: FpgaCostParams) -> NodeCost:
    """Cost of a standalone :class:`~hwprune.ir.Thresholding` (cycles = n_vec * C/PE)."""
    nthr = n_thresholds(n.out_bits, n.out_kind)
    tl, tb = threshold_memory(n.pe * nthr * n.in_bits, n.channels // n.pe, p)
    lut = 20.0 + p.pe_lut * n.pe * n.in_bits * nthr + tl
    ff = 20.0 + p.pe_ff * n.pe * (n.in_bits + n.out_bits)
    return NodeCost(n.n_vec * n.channels // n.pe, lut, ff, tb, 0.0)


def labelselect_cost(n: Any, p: FpgaCostParams) -> NodeCost:
    """Cost of :class:`~hwprune.ir.LabelSelect`: a PE-wide comparator tree on ``key_bits``
    (the accumulator's bits; cycles = labels/PE). A head's per-class bias adds PE adders of
    the key (``pe_lut`` a bit) and its offset table (``labels/PE`` words of PE offsets),
    priced as a threshold memory.

    Example:
        >>> from hwprune.ir import LabelSelect
        >>> c = labelselect_cost(LabelSelect("ls", 10, 16, pe=2), FpgaCostParams())
        >>> k = labelselect_cost(LabelSelect("ls", 10, 16, pe=2, offsets=tuple(range(-5, 5)),
        ...                                  shift=2), FpgaCostParams())
        >>> c.cycles == k.cycles, c.lut < k.lut
        (True, True)
    """
    kb = n.key_bits
    lut = 30.0 + 2.0 * p.pe_lut * n.pe * kb
    ff = 30.0 + p.pe_ff * (n.pe + 1) * kb
    bram: Num = 0.0
    if n.offsets:
        tl, bram = threshold_memory(n.pe * n.offset_bits, n.labels // n.pe, p)
        lut = lut + p.pe_lut * n.pe * (kb + 1) + tl
    return NodeCost(n.labels // n.pe, lut, ff, bram, 0.0)


# --- residual blocks and global pooling -------------------------------------------------------
# No calibration row holds these nodes: their LUT/FF are structural (1 LUT per adder or
# register bit, as ``pe_lut``/``pe_ff`` price the MVAU's accumulators) plus a fixed stream
# interface of ``stream_lut``/``stream_ff``; their memories are priced as the others.

#: fixed LUT/FF of a stream kernel with no arithmetic (handshakes, counters)
STREAM_LUT, STREAM_FF = 20.0, 20.0
#: a FIFO up to this deep is a shift register (SRL32: one LUT per bit and 32 words); deeper
#: ones go to block RAM (FINN's ``impl_style`` rule of thumb)
SRL_MAX_DEPTH = 256


def _stream_logic_cost(cycles: Num, bits: Num, p: FpgaCostParams) -> NodeCost:
    """A stream interface and ``bits`` bits of logic (a LUT and a flip-flop share per bit), no
    memory and no DSP."""
    return NodeCost(cycles, STREAM_LUT + p.pe_lut * bits, STREAM_FF + p.pe_ff * bits, 0.0, 0.0)


def duplicate_cost(n: Any, p: FpgaCostParams) -> NodeCost:
    """Cost of :class:`~hwprune.ir.DuplicateStreams`: one word in, the same word to both outputs
    (cycles ``n_vec * channels / pe``, as FINN's ``DuplicateStreams_hls``)."""
    return _stream_logic_cost(n.n_vec * n.channels // n.pe, n.pe * n.bits, p)


def add_cost(n: Any, p: FpgaCostParams) -> NodeCost:
    """Cost of :class:`~hwprune.ir.AddStreams`: ``pe`` adders of ``out_bits`` bits (cycles
    ``n_vec * channels / pe``, as FINN's ``AddStreams_hls``); with ``mul_bits`` (unequal
    scales) also ``pe`` constant multipliers per input, each priced structurally as one
    ``in_bits``-bit shift-add row per multiplier bit (``pe_lut`` LUTs a bit)."""
    cost = _stream_logic_cost(n.n_vec * n.channels // n.pe, n.pe * n.out_bits, p)
    if not n.mul_bits:
        return cost
    mul_lut = p.pe_lut * n.pe * n.in_bits * sum(n.mul_bits)
    return NodeCost(cost.cycles, cost.lut + mul_lut, cost.ff, cost.bram18, cost.dsp)


def gap_cost(n: Any, p: FpgaCostParams) -> NodeCost:
    """Cost of :class:`~hwprune.ir.GlobalAccPool`: ``pe`` accumulators of ``acc_bits`` and a
    ``channels / pe``-deep accumulator memory; cycles ``(H*W + 1) * channels / pe`` (sum every
    pixel, then write the sums out)."""
    folds = n.channels // n.pe
    width = n.pe * n.acc_bits
    lut, bram = memory_cost(width, folds, "auto", p)
    cycles = (n.ifm[0] * n.ifm[1] + 1) * folds
    return NodeCost(
        cycles, STREAM_LUT + 2 * p.pe_lut * width + lut, STREAM_FF + p.pe_ff * width, bram, 0.0
    )


def fifo_cost(n: Any, p: FpgaCostParams) -> NodeCost:
    """Cost of a :class:`~hwprune.ir.FIFO` (a residual block's skip FIFO): a shift register up
    to :data:`SRL_MAX_DEPTH` words (one LUT per bit per 32 words), else block RAM. It never
    limits the frame rate (0 cycles).

    Example:
        >>> from hwprune.ir import FIFO
        >>> c = fifo_cost(FIFO("f", 64, 1024), FpgaCostParams())
        >>> c.bram18, c.lut
        (4.0, 20.0)
    """
    srl = n.depth <= SRL_MAX_DEPTH
    lut = STREAM_LUT + _where(srl, _float(n.width * cdiv(n.depth, 32)), 0.0)
    bram = _where(srl, 0.0, bram18_for(n.width, n.depth))
    return NodeCost(0, lut, STREAM_FF + 2.0 * n.width, bram, 0.0)


CostFn = Callable[[Any, FpgaCostParams], NodeCost]


def priced_by_model(fn: CostFn) -> CostFn:
    """``fn`` (cycles and Vivado-calibrated resources of one node kind) with its resources
    taken from the params' :attr:`~FpgaCostParams.resource_model`: for ``"yosys-ecp5"`` the
    Yosys-fitted ECP5 model of the node's RTL kernels
    (:func:`hwprune.cost.ecp5_nodes.node_resources`); the cycles are always ``fn``'s."""

    def priced(n: Any, p: FpgaCostParams) -> NodeCost:
        c = fn(n, p)
        if p.resource_model == "vivado":
            return c
        from hwprune.cost.ecp5_nodes import node_resources

        lut, ff, bram, dsp = node_resources(n)
        return NodeCost(c.cycles, lut, ff, bram, dsp)

    priced.__name__ = priced.__qualname__ = fn.__name__
    priced.__doc__ = fn.__doc__
    return priced


#: the one cost function of every compute node kind (a new kind adds its entry here)
COST_FUNCTIONS: dict[type, CostFn] = {
    kind: priced_by_model(fn)
    for kind, fn in (
        (MVAU, mvau_cost),
        (VVAU, vvau_cost),
        (SlidingWindow, swg_cost),
        (MaxPool, maxpool_cost),
        (Thresholding, thresholding_cost),
        (LabelSelect, labelselect_cost),
        (DuplicateStreams, duplicate_cost),
        (AddStreams, add_cost),
        (GlobalAccPool, gap_cost),
        (FIFO, fifo_cost),
    )
}


def cost_function(node: Any) -> Callable[[Any, FpgaCostParams], NodeCost]:
    """The cost function of ``node``'s kind (or of the kind a table view stands for)."""
    kind = getattr(node, "kind_class", None) or type(node)
    try:
        return COST_FUNCTIONS[kind]
    except KeyError:
        raise TypeError(f"no FPGA cost model for node type {kind.__name__}") from None


def node_cost(node: Any, p: FpgaCostParams | None = None) -> NodeCost:
    """Cycles and resources of one compute node.

    Example:
        >>> from hwprune.ir import LabelSelect
        >>> node_cost(LabelSelect("ls", 10, 16, pe=2)).cycles
        5
    """
    q = p or FpgaCostParams()
    try:
        return _cached_cost(node, q)
    except TypeError:  # pragma: no cover - a node with an unhashable field
        return cost_function(node)(node, q)


@lru_cache(maxsize=65536)
def _cached_cost(node: Any, p: FpgaCostParams) -> NodeCost:
    """:func:`node_cost` of a (frozen, hashable) node: a search prices the same folded nodes
    again and again."""
    return cost_function(node)(node, p)


def glue_cost(in_width: int, out_width: int, p: FpgaCostParams) -> tuple[float, float]:
    """(LUT, FF) of the stream between a producer of ``in_width`` bits and a consumer of
    ``out_width`` bits: one FIFO, plus a width converter and a second FIFO when they differ.

    Written as a sum of a producer-side and a consumer-side term so that the folding optimizer
    can charge each node its half; see :func:`glue_half`.

    Example:
        >>> glue_cost(8, 8, FpgaCostParams())
        (151.0, 120.0)
    """
    a_l, a_f = glue_half(in_width, p)
    b_l, b_f = glue_half(out_width, p)
    return a_l + b_l, a_f + b_f


def glue_half(width: Num, p: FpgaCostParams) -> tuple[Num, Num]:
    """Half of a stream's glue cost, charged to the node on one end (width in bits; numbers
    or arrays). With the ``"yosys-ecp5"`` model: half of one RTL FIFO of that width."""
    if p.resource_model != "vivado":
        from hwprune.cost.ecp5_nodes import glue_half as ecp5_glue_half

        return ecp5_glue_half(width)
    return (p.glue_lut / 2 + p.glue_lut_per_bit * width, p.glue_ff / 2 + p.glue_ff_per_bit * width)


def io_cycles(frame_bits: int, port_bits: int) -> int:
    """Cycles to move ``frame_bits`` over a ``port_bits`` stream port (one word per cycle).

    Example:
        >>> io_cycles(784 * 8, 64)
        98
    """
    return math.ceil(frame_bits / port_bits)
