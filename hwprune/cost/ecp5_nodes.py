"""IR nodes -> hwprune's RTL kernels and their ECP5 resources (:mod:`hwprune.cost.ecp5`).

The RTL back end builds every IR node from one or two kernels (a padded sliding window is
``hwp_pad`` + ``hwp_swg``; a max-pool is a depthwise ``hwp_swg`` + ``hwp_maxpool``) and puts a
16-word ``hwp_fifo`` on every stream, with an ``hwp_dwc`` width converter where a producer's
word holds another number of elements than its consumer's. This module derives each kernel's
Verilog parameters from the IR node's fields (pure, numpy-broadcasting over PE/SIMD arrays:
the folding tables pass views whose folding fields are arrays) and prices them with the fitted
model. The cycle formulas stay in :mod:`hwprune.cost.fpga` (one per node kind).

Example:
    >>> from hwprune.ir import LabelSelect
    >>> [k for k, _ in node_kernels(LabelSelect("ls", 10, 16, pe=2))]
    ['labelsel']
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any

import numpy as np

from hwprune.cost.ecp5 import (
    BINARY_FROM,
    FEATURES,
    FIFO_DEPTH,
    FITTED,
    RESOURCES,
    Ecp5Model,
    clog2,
    threshold_bits,
    word_bits,
)
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
from hwprune.ir.dtypes import kind_code

Num = Any
Kernel = tuple[str, dict[str, Num]]

#: what the model is called in estimates and reports
MODEL_NAME = "yosys-ecp5"
UNITS = (
    "Yosys synth_ecp5 primitives: lut = LUT4 (+2 per CCU2C, +4 per DPR16X4), ff = TRELLIS_FF, "
    "bram18 = DP16KD (18 Kbit EBR), dsp = MULT18X18D"
)


def _kind_class(n: Any) -> type:
    return getattr(n, "kind_class", None) or type(n)


def _mac_params(n: Any, vv: bool) -> dict[str, Num]:
    """``hwp_mvau`` parameters of an MVAU/VVAU (or of a table view of them)."""
    from hwprune.cost.fpga import FpgaCostParams, mac_constants

    k = getattr(n, "mac", None) or mac_constants(n, FpgaCostParams())
    on_dsp = (n.res_type == 1) if isinstance(n.res_type, np.ndarray) else k.auto_dsp
    if vv:
        mw, mh = n.kernel * n.kernel, n.channels
    else:
        mw, mh = n.mw, n.mh
    aw = n.acc_bits + 1
    te = _rom_threshold_bits(n, aw, k.xnor)
    par = np.any((np.asarray(k.nthr) > 0) & (np.asarray(k.nthr) < BINARY_FROM))
    tw = _rom_word_bits(n, aw, k.xnor, n.pe) if par else None  # a parallel threshold ROM
    p = dict(MW=mw, MH=mh, SIMD=n.simd, PE=n.pe, IB=n.in_bits, WB=n.wbits, AW=aw,
             NT=k.nthr, XNOR=k.xnor, RES=on_dsp, VV=int(vv), TE=te)  # fmt: skip
    return p if tw is None else {**p, "TW": tw}


#: the threshold ROM's bits of recent threshold arrays (:func:`_rom_bits`): (id, xnor, MW, AW)
#: -> (a weak reference to the array, the RTL's thresholds, TE, {PE: TW}); the folding tables
#: price the same nodes many times
_TE_MEMO: OrderedDict[tuple[int, bool, int, int], tuple[Any, Any, float, dict[int, int]]] = (
    OrderedDict()
)


def _rom_bits(n: Any, aw: Num, xnor: Any) -> tuple[Any, float, dict[int, int]] | None:
    """(the thresholds as the RTL compares them, TE, memo of TW by PE) of ``n``; None when the
    node carries no thresholds (a priced spec)."""
    t0 = getattr(n, "thresholds", None)
    if t0 is None or getattr(t0, "ndim", 0) != 2:
        return None
    key = (id(t0), bool(xnor), int(n.mw), int(aw))
    hit = _TE_MEMO.get(key)
    if hit is not None and hit[0]() is t0:
        return hit[1:]
    t = np.asarray(t0, dtype=np.int64)
    if xnor:  # acc >= T  <=>  popcount >= ceil((T + MW) / 2)
        t = -((-(t + n.mw)) // 2)
    t = np.clip(t, -(1 << (aw - 1)), 1 << (aw - 1))
    out: tuple[np.ndarray, Any, dict] = (t, threshold_bits(t, aw + 1), {})
    try:
        _TE_MEMO[key] = (weakref.ref(t0), *out)
    except TypeError:  # not weakly referable: not kept
        return out
    if len(_TE_MEMO) > 4096:
        _TE_MEMO.popitem(last=False)
    return out


def _rom_threshold_bits(n: Any, aw: Num, xnor: Any) -> Num:
    """Bits per threshold of the RTL's threshold ROM after Yosys's optimisation
    (:func:`threshold_bits`; an XNOR unit's thresholds on the popcount, clipped into the
    accumulator's range); all ``aw + 1`` bits when the node carries no thresholds (a priced
    spec)."""
    rb = _rom_bits(n, aw, xnor)
    return aw + 1 if rb is None else rb[1]


def _rom_word_bits(n: Any, aw: Num, xnor: Any, pe: Num) -> Num | None:
    """Flip-flops of the registered threshold word (:func:`word_bits`) at ``pe`` (a number or
    an array of them); None when the node carries no thresholds or they do not fill the
    rows."""
    rb = _rom_bits(n, aw, xnor)
    if rb is None:
        return None
    t, _, memo = rb
    pes = np.asarray(pe)
    if np.any(t.shape[0] % np.maximum(pes, 1)):
        return None
    for v in np.unique(pes):
        if int(v) not in memo:
            memo[int(v)] = word_bits(t, int(aw) + 1, int(v))
    if pes.ndim == 0:
        return memo[int(pes)]
    return np.vectorize(memo.__getitem__, otypes=[float])(pes)


def _pad_out_bits(bits: Num, kind: str) -> Num:
    """Element bits after zero padding (a bipolar map becomes a 2-bit signed one)."""
    return 2 if kind == "bipolar" else bits


def node_kernels(n: Any) -> list[Kernel]:
    """The RTL kernels of IR node ``n`` as (kernel, Verilog parameters), FIFOs excluded."""
    kind = _kind_class(n)
    if kind is MVAU or kind is VVAU:
        return [("mvau", _mac_params(n, kind is VVAU))]
    if kind is SlidingWindow:
        b = _pad_out_bits(n.bits, n.kind) if n.pad else n.bits
        out: list[Kernel] = []
        if n.pad:
            out.append(("pad", dict(SIMD=n.simd, IB=n.bits, OB=b)))
        _, wp = n.padded
        out.append(("swg", dict(IW=wp, C=n.channels, SIMD=n.simd, K=n.kernel, S=n.stride, B=b)))
        return out
    if kind is MaxPool:
        c, k = n.channels, n.kernel
        return [
            ("swg", dict(IW=n.ifm[1], C=c, SIMD=c, K=k, S=k, B=n.bits)),
            ("pool", dict(C=c, B=n.bits, T=kind_code(n.kind))),
        ]
    if kind is LabelSelect:
        return [("labelsel", dict(PE=n.pe, B=n.key_bits, OB=clog2(n.labels)))]
    return _residual_kernels(n, kind)


def _add_muls(n: Any) -> tuple[Num, Num]:
    """(P, Q) constant multipliers of an add (1, 1 at equal scales); when the node carries only
    their bit widths, a multiplier of more than one bit is taken as two set bits."""
    try:
        m = n.muls
    except (AttributeError, TypeError):
        m = None
    if m is not None:
        return m[0], m[1]
    mb = n.mul_bits or (1, 1)
    return (3 if mb[0] > 1 else 1), (3 if mb[1] > 1 else 1)


def _residual_kernels(n: Any, kind: type) -> list[Kernel]:
    if kind is DuplicateStreams:
        return [("dup", dict(W=n.pe * n.bits))]
    if kind is AddStreams:
        p, q = _add_muls(n)
        ib = n.in_bits
        return [("add", dict(PE=n.pe, IB0=ib, IB1=ib, OB=n.out_bits, P=p, Q=q))]
    if kind is GlobalAccPool:
        return [("gap", dict(C=n.channels, PE=n.pe, AW=n.acc_bits + 1, OB=n.out_bits))]
    if kind is Thresholding:
        nt = n_thresholds(n.out_bits, n.out_kind)
        return [("thresh", dict(C=n.channels, PE=n.pe, IB=n.in_bits, NT=nt))]
    if kind is FIFO:
        return [("fifo", dict(W=n.width, DEPTH=n.depth))]
    return []


def node_resources(
    n: Any, model: Ecp5Model | None = None, features: dict[str, Any] | None = None
) -> tuple[Num, Num, Num, Num]:
    """(LUT, FF, BRAM, DSP) of IR node ``n`` on ECP5 (Yosys primitives), FIFOs between nodes
    excluded (see :func:`glue_resources`). ``features``: the kernels' feature functions
    (default :data:`~hwprune.cost.ecp5.FEATURES`; the xc7 model passes its own).

    Example:
        >>> from hwprune.ir import LabelSelect
        >>> lut, ff, bram, dsp = node_resources(LabelSelect("ls", 10, 16, pe=2))
        >>> lut > 0, bram, dsp
        (True, 0.0, 0.0)
    """
    m, feats = model or FITTED, features or FEATURES
    tot: dict[str, Num] = label_offset_resources(n, m, feats)
    for kernel, params in node_kernels(n):
        pred = m.predict(kernel, feats[kernel](**params))
        tot = {r: tot[r] + pred[r] for r in RESOURCES}
    return tot["lut"], tot["ff"], tot["bram"], tot["dsp"]


#: the memory features of a kernel (ECP5's and the xc7 model's names)
_MEMORY = ("rom_lut_bits", "ebr", "rom_luts", "rom_deep_luts", "bram18")


def _only(f: dict[str, Num], keep: tuple[str, ...]) -> dict[str, Num]:
    return {k: (v if k in keep else 0 * v) for k, v in f.items()}


def label_offset_resources(n: Any, model: Any, features: dict[str, Any]) -> dict[str, Num]:
    """LUT, FF, BRAM, DSP of a label select's per-class offsets (a head's bias; zero without):
    PE adders of ``key_bits + 1`` and the offset table (``labels / PE`` words of PE offsets
    of ``offset_bits``). No calibration design holds them, so they are priced with the terms
    of the kernels that build the same logic: ``hwp_add``'s LUTs per output bit (no register:
    the sums go straight to the compare) and ``hwp_thresh``'s threshold-ROM terms.

    Example:
        >>> from hwprune.ir import LabelSelect
        >>> label_offset_resources(LabelSelect("ls", 10, 16), FITTED, FEATURES)["lut"]
        0.0
        >>> ls = LabelSelect("ls", 10, 16, offsets=tuple(range(-5, 5)), shift=2)
        >>> float(label_offset_resources(ls, FITTED, FEATURES)["lut"]) > 0
        True
    """
    if _kind_class(n) is not LabelSelect or not n.offsets:
        return dict.fromkeys(RESOURCES, 0.0)
    kb, ob = n.key_bits, n.offset_bits
    add_f = features["add"](PE=n.pe, IB0=kb, IB1=ob, OB=kb + 1)
    add = model.predict("add", _only(add_f, ("out_bits",)))
    rom_f = features["thresh"](C=n.labels, PE=n.pe, IB=max(ob - 2, 0), NT=1, TMODE=0)
    rom = model.predict("thresh", _only(rom_f, _MEMORY))  # thresholds of TB = IB + 2 bits
    return {"lut": add["lut"] + rom["lut"], "ff": 0.0, "bram": rom["bram"], "dsp": 0.0}


def stream_ends(n: Any) -> tuple[tuple[Num, Num], tuple[Num, Num], list[Num]]:
    """((elements, bits) of the input word, of the output word, widths of the node's internal
    streams) of IR node ``n`` as its RTL kernels move them."""
    kind = _kind_class(n)
    if kind is MVAU or kind is VVAU:
        ein = n.pe * n.simd if kind is VVAU else n.simd
        return (ein, n.in_bits), (n.pe, n.obits), []
    if kind is SlidingWindow:
        b = _pad_out_bits(n.bits, n.kind) if n.pad else n.bits
        inner = [n.simd * b] if n.pad else []
        return (n.simd, n.bits), (n.simd, b), inner
    if kind is MaxPool:
        return (n.channels, n.bits), (n.channels, n.bits), [n.channels * n.bits]
    if kind is LabelSelect:
        return (n.pe, n.in_bits), (1, clog2(n.labels)), []
    pe = getattr(n, "pe", 1)
    return (pe, n.in_width // pe), (pe, n.out_width // pe), []


def _producers(chain: list[Any]) -> dict[str, list[str | None]]:
    """Node name -> the nodes its input streams come from (None: the graph input), as the RTL
    top wires them: the node before it, except in a residual block, whose short branch starts
    at the fork and whose add reads (long branch, short branch)."""
    out: dict[str, list[str | None]] = {}
    prev: str | None = None
    for n in chain:
        out[n.name], prev = [prev], n.name
    for n in chain:
        if _kind_class(n) is AddStreams and getattr(n, "fork", None):
            if n.short:
                out[n.short[0]] = [n.fork]
            out[n.name] = [n.long[-1] if n.long else n.fork, n.short[-1] if n.short else n.fork]
    return out


def skip_fifo_shape(fifo: Any, width: Num) -> tuple[Num, Num]:
    """(W, DEPTH) of a residual block's skip FIFO as the RTL top builds it: the FIFO node's bits
    (``depth`` pixels of ``width`` bits) in words of the add's input stream (``width`` bits:
    the add's PE elements), at least :data:`~hwprune.cost.ecp5.FIFO_DEPTH` words.

    Example:
        >>> from hwprune.ir import FIFO
        >>> skip_fifo_shape(FIFO("f", 16, 48), 4), skip_fifo_shape(FIFO("f", 16, 2), 8)
        ((4, 192), (8, 16))
    """
    return width, max(-(-fifo.depth * fifo.width // width), FIFO_DEPTH)


def glue_resources(
    nodes: Any,
    in_elems: int | None = None,
    model: Ecp5Model | None = None,
    features: dict[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """LUT/FF of the FIFOs and width converters of the RTL top of a graph's IR nodes: one
    FIFO on every stream (also inside a node: pad -> window, window -> pool; a fork writes
    two streams), a converter (and a FIFO after it) where a producer's word holds another
    number of elements than its consumer's. The input is read at the first node's word (the
    RTL top does), the output leaves at the last node's. A residual block's skip FIFO (the
    FIFO on the stream from its short branch into the add) is an IR node of its own, priced
    with the nodes a pixel wide; the RTL stores it in words of the add's input stream
    (:func:`skip_fifo_shape`), and the difference is charged here with the FIFOs.

    Example:
        >>> from hwprune.ir import LabelSelect
        >>> g = glue_resources([LabelSelect("ls", 10, 16, pe=2)])
        >>> g["fifos"]["count"], g["width_converters"]["count"]
        (2, 0)
    """
    m = model or FITTED
    feats = features or FEATURES
    fifos: dict[str, float] = {"count": 0, "lut": 0.0, "ff": 0.0, "bram18": 0.0, "dsp": 0.0}
    dwcs = dict(fifos)
    keys = ("lut", "ff", "bram18", "dsp")

    def add(acc: dict[str, float], kernel: str, sign: int = 1, **params: Any) -> None:
        pred = m.predict(kernel, feats[kernel](**params))
        acc["count"] += sign if kernel != "fifo" or "DEPTH" not in params else 0
        for r, k in zip(RESOURCES, keys, strict=True):
            acc[k] += sign * float(pred[r])

    nodes = list(nodes)
    skip_of = {n.name: n for n in nodes if _kind_class(n) is FIFO}
    chain = [n for n in nodes if _kind_class(n) is not FIFO]
    prods = _producers(chain)
    outs: dict[str, tuple[Any, Any]] = {}
    for n in chain:
        (ei, bi), (eo, bo), inner = stream_ends(n)
        for j, p in enumerate(prods[n.name]):
            skip = skip_of.get(getattr(n, "fifo", None) or "") if j == 1 else None
            if p is None:
                add(fifos, "fifo", W=ei * bi)
                continue
            se, sb = outs[p]
            converted = se != ei
            if converted:
                add(dwcs, "dwc", IN=se, OUT=ei, B=sb)
                if skip is None:
                    add(fifos, "fifo", W=ei * sb)
            elif skip is not None:  # the producer's FIFO on this stream is the skip FIFO
                add(fifos, "fifo", -1, W=se * sb)
            if skip is not None:
                w, depth = skip_fifo_shape(skip, ei * sb)
                add(fifos, "fifo", W=w, DEPTH=depth)
                add(fifos, "fifo", -1, W=skip.width, DEPTH=skip.depth)
        for w in inner:
            add(fifos, "fifo", W=w)
        for _ in range(2 if _kind_class(n) is DuplicateStreams else 1):
            add(fifos, "fifo", W=eo * bo)
        outs[n.name] = (eo, bo)
    return {"fifos": fifos, "width_converters": dwcs}


def glue_half(width: Num, model: Ecp5Model | None = None) -> tuple[Num, Num]:
    """Half of one stream's FIFO (LUT, FF) at ``width`` bits, charged to the node on each end
    by the folding optimizer (numbers or arrays)."""
    pred = (model or FITTED).predict("fifo", FEATURES["fifo"](W=width))
    return pred["lut"] / 2, pred["ff"] / 2
