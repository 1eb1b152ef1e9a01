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
from dataclasses import dataclass

from hwprune.ir import n_thresholds

# RAMB36 and RAMB18 aspect ratios (width, depth), widest first (Xilinx UG473 / UG573).
_RAMB36 = ((72, 512), (36, 1024), (18, 2048), (9, 4096), (4, 8192), (2, 16384), (1, 32768))
_RAMB18 = ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))


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


@dataclass(frozen=True)
class NodeCost:
    """Cycles per frame and resources of one node."""

    cycles: int
    lut: float
    ff: float
    bram18: float
    dsp: float


#: depth of one LUTRAM primitive (RAM64X1): a memory up to this deep costs one LUT a bit
LUTRAM_DEPTH = 64


def bram18_for(width: int, depth: int, granularity: str = "ramb36") -> float:
    """RAMB18-equivalents for a ``width x depth`` memory, mapped as Vivado does for FINN memories.

    The aspect ratio with the smallest depth that holds all ``depth`` words is used and the width
    is tiled (memories deeper than the deepest aspect cascade it). ``granularity`` ``"ramb36"``
    counts each RAMB36 as 2; ``"ramb18"`` uses RAMB18 aspects (BNN-PYNQ's per-PE arrays).

    Example:
        >>> bram18_for(576, 64), bram18_for(32, 9216), bram18_for(8, 147456)
        (16.0, 32.0, 80.0)
        >>> bram18_for(32, 512, "ramb18")
        1.0
    """
    if width <= 0 or depth <= 0:
        return 0.0
    table, unit = (_RAMB36, 2.0) if granularity == "ramb36" else (_RAMB18, 1.0)
    for aw, ad in table:
        if ad >= depth:
            return unit * math.ceil(width / aw)
    aw, ad = table[-1]
    return unit * math.ceil(width / aw) * math.ceil(depth / ad)


def memory_cost(
    width: int, depth: int, style: str, p: FpgaCostParams, granularity: str = "ramb36"
) -> tuple[float, float]:
    """(LUT, BRAM18) of a memory; ``style`` is ``"auto"``, ``"block"`` or ``"distributed"``.

    Example:
        >>> memory_cost(27, 32, "auto", FpgaCostParams())   # shallow: LUTRAM, 64 bits per LUT
        (27.0, 0.0)
    """
    if width <= 0 or depth <= 0:
        return 0.0, 0.0
    lutram = style == "distributed" or (
        style == "auto" and (depth <= 16 or width * depth <= p.lutram_max_bits)
    )
    if lutram:
        return float(width * math.ceil(depth / LUTRAM_DEPTH)), 0.0
    return 0.0, bram18_for(width, depth, granularity)


def threshold_memory(width: int, depth: int, p: FpgaCostParams) -> tuple[float, float]:
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
    if width * depth <= p.thr_lutram_max_bits or depth <= LUTRAM_DEPTH:
        return memory_cost(width, depth, "distributed", p)
    return memory_cost(width, depth, "block", p)


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


def res_type_of(node, p: FpgaCostParams | None = None) -> str:
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


def _mac_cost(
    *,
    lanes: int,
    pe: int,
    wbits: int,
    wkind: str,
    in_bits: int,
    in_kind: str,
    acc_bits: int,
    out_bits: int | None,
    out_kind: str,
    wmem_width: int,
    wmem_depth: int,
    tmem_depth: int,
    mem_style: str,
    res_type: str,
    p: FpgaCostParams,
) -> tuple[float, float, float, float]:
    """LUT, FF, BRAM18, DSP of an MVAU/VVAU with ``lanes`` = PE*SIMD parallel products."""
    dsp_lanes = _uses_dsp(wbits, in_bits, res_type, p)
    units = 0 if dsp_lanes else _lane_units(wbits, wkind, in_bits, in_kind)
    nthr = n_thresholds(out_bits, out_kind)
    pe_bits = pe * acc_bits * (1 + nthr)
    lut = p.mvau_lut + p.lane_lut * units * lanes + p.pe_lut * pe_bits
    ff = p.mvau_ff + p.lane_ff * units * lanes + p.pe_ff * pe * acc_bits
    dsp = float(lanes * _dsp_per_lane(wbits, in_bits)) if dsp_lanes else 0.0
    bram = 0.0
    if p.weight_layout == "per_pe":
        wl, wb = memory_cost(wmem_width // pe, wmem_depth, mem_style, p, "ramb18")
        wl, wb = wl * pe, wb * pe
    else:
        wl, wb = memory_cost(wmem_width, wmem_depth, mem_style, p)
    lut += wl
    bram += wb
    if nthr:
        tl, tb = threshold_memory(pe * nthr * acc_bits, tmem_depth, p)
        lut += tl
        bram += tb
    return lut, ff, bram, dsp


def mvau_cost(n, p: FpgaCostParams) -> NodeCost:
    """Cost of an :class:`~hwprune.ir.MVAU` (cycles = MH/PE * MW/SIMD * n_vec)."""
    nf, sf = n.mh // n.pe, n.mw // n.simd
    lut, ff, bram, dsp = _mac_cost(
        lanes=n.pe * n.simd,
        pe=n.pe,
        wbits=n.wbits,
        wkind=n.wkind,
        in_bits=n.in_bits,
        in_kind=n.in_kind,
        acc_bits=n.acc_bits,
        out_bits=n.out_bits,
        out_kind=n.out_kind,
        wmem_width=n.pe * n.simd * n.wbits,
        wmem_depth=nf * sf,
        tmem_depth=nf,
        mem_style=n.mem_style,
        res_type=n.res_type,
        p=p,
    )
    return NodeCost(nf * sf * n.n_vec, lut, ff, bram, dsp)


def vvau_cost(n, p: FpgaCostParams) -> NodeCost:
    """Cost of a depthwise :class:`~hwprune.ir.VVAU` (cycles = C*K*K/(PE*SIMD) * n_vec)."""
    k2 = n.kernel * n.kernel
    depth = (n.channels // n.pe) * (k2 // n.simd)
    lut, ff, bram, dsp = _mac_cost(
        lanes=n.pe * n.simd,
        pe=n.pe,
        wbits=n.wbits,
        wkind=n.wkind,
        in_bits=n.in_bits,
        in_kind=n.in_kind,
        acc_bits=n.acc_bits,
        out_bits=n.out_bits,
        out_kind=n.out_kind,
        wmem_width=n.pe * n.simd * n.wbits,
        wmem_depth=depth,
        tmem_depth=n.channels // n.pe,
        mem_style=n.mem_style,
        res_type=n.res_type,
        p=p,
    )
    return NodeCost(depth * n.n_vec, lut, ff, bram, dsp)


def swg_cycles(n) -> int:
    """FINN's RTL sliding-window cycles (2D, default style) on the zero-padded image.

    Example:
        >>> from hwprune.ir import SlidingWindow
        >>> swg_cycles(SlidingWindow("s", 64, (30, 30), 3, 1, 0, 1, "bipolar", simd=8))
        56952
    """
    hp, wp = n.padded
    oh, ow = n.ofm
    cf = n.channels // n.simd
    buf_min = ((n.kernel - 1) * wp + n.kernel) * cf
    return buf_min + oh * max(ow * n.kernel * n.kernel * cf, n.stride * wp * cf)


def swg_cost(n, p: FpgaCostParams) -> NodeCost:
    """Cost of a :class:`~hwprune.ir.SlidingWindow` (line buffer of (K-1) rows + K pixels)."""
    _, wp = n.padded
    words = ((n.kernel - 1) * wp + n.kernel) * (n.channels // n.simd)
    width = n.simd * n.bits
    bits = words * width
    lut, bram = p.swg_lut, 0.0
    if n.ram_style == "distributed" or (n.ram_style == "auto" and bits <= p.swg_lutram_max_bits):
        lut += bits / p.swg_bits_per_lut
    else:
        bram = bram18_for(width, words)
    ff = p.swg_ff + p.swg_ff_per_bit * width
    return NodeCost(swg_cycles(n), lut, ff, bram, 0.0)


def maxpool_cost(n, p: FpgaCostParams) -> NodeCost:
    """Cost of a 2D :class:`~hwprune.ir.MaxPool` (FINN's cycles: H*W*(1 + 1/K^2))."""
    h, w = n.ifm
    cycles = math.ceil(h * w * (1 + 1 / (n.kernel * n.kernel)))
    cb = n.channels * n.bits
    lut = p.pool_lut + p.pool_lut_per_bit * cb
    ff = p.pool_ff + p.pool_ff_per_bit * cb
    bram = 2.0 * p.pool_ramb36_per_72bits * math.ceil(cb / 72)
    return NodeCost(cycles, lut, ff, bram, 0.0)


def thresholding_cost(n, p: FpgaCostParams) -> NodeCost:
    """Cost of a standalone :class:`~hwprune.ir.Thresholding` (cycles = n_vec * C/PE)."""
    nthr = n_thresholds(n.out_bits, n.out_kind)
    tl, tb = threshold_memory(n.pe * nthr * n.in_bits, n.channels // n.pe, p)
    lut = 20.0 + p.pe_lut * n.pe * n.in_bits * nthr + tl
    ff = 20.0 + p.pe_ff * n.pe * (n.in_bits + n.out_bits)
    return NodeCost(n.n_vec * n.channels // n.pe, lut, ff, tb, 0.0)


def labelselect_cost(n, p: FpgaCostParams) -> NodeCost:
    """Cost of :class:`~hwprune.ir.LabelSelect`: a PE-wide comparator tree (cycles = labels/PE)."""
    lut = 30.0 + 2.0 * p.pe_lut * n.pe * n.in_bits
    ff = 30.0 + p.pe_ff * (n.pe + 1) * n.in_bits
    return NodeCost(n.labels // n.pe, lut, ff, 0.0, 0.0)


_COST = {
    "MVAU": mvau_cost,
    "VVAU": vvau_cost,
    "SlidingWindow": swg_cost,
    "MaxPool": maxpool_cost,
    "Thresholding": thresholding_cost,
    "LabelSelect": labelselect_cost,
}


def node_cost(node, p: FpgaCostParams | None = None) -> NodeCost:
    """Cycles and resources of one compute node.

    Example:
        >>> from hwprune.ir import LabelSelect
        >>> node_cost(LabelSelect("ls", 10, 16, pe=2)).cycles
        5
    """
    return _COST[node.op](node, p or FpgaCostParams())


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


def glue_half(width: int, p: FpgaCostParams) -> tuple[float, float]:
    """Half of a stream's glue cost, charged to the node on one end (width in bits)."""
    return (p.glue_lut / 2 + p.glue_lut_per_bit * width, p.glue_ff / 2 + p.glue_ff_per_bit * width)


def io_cycles(frame_bits: int, port_bits: int) -> int:
    """Cycles to move ``frame_bits`` over a ``port_bits`` stream port (one word per cycle).

    Example:
        >>> io_cycles(784 * 8, 64)
        98
    """
    return math.ceil(frame_bits / port_bits)
