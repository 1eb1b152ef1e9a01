"""Fmax model of hwprune's RTL on ECP5: nextpnr-ecp5's achieved clock, predicted from the IR.

The RTL kernels (``rtl_templates/``) register every adder-tree level, the accumulator, the
thresholds and the output, so a design's clock is set by its slowest register-to-register path.
Each node of the :class:`~hwprune.ir.DataflowGraph` contributes a few candidate paths, each
described by structural counts (:data:`TERMS`): the carry-chain bits it crosses (accumulator,
adder-tree levels, threshold comparators), the LUT levels of a ROM read or a mux, whether it
starts at an EBR (DP16KD) output or crosses a MULT18X18D, and the log2 fan-out of the net that
drives it (the input-select mux of the MVAU's lanes, the clock enable of the kernel's
registers). A path's delay is ``sum(coef[t] * count[t])`` in ns, with one non-negative
coefficient per term shared by all paths; the design's Fmax is ``1000 / max(path delays)``.

The coefficients are fitted on nextpnr-ecp5 runs (LFE5U-85F, speed 6, the ULX3S-85F wrapper,
``--seed 1``) of random designs by ``bench/fmax_fidelity.py``; its results (data, fit and
held-out error) are in ``bench/results/fmax_fidelity.{json,md}`` and the fit in
:data:`FITTED`. The model knows the kernels hwprune's RTL back end writes (MVAU/VVAU,
sliding window, max pool, label select, and the UART bridge/FIFOs); nodes without an RTL
kernel yet (thresholding, residual adds, pooling sums) get the generic carry path of their
widths, which the fit has not seen.

Example:
    >>> from hwprune.ir import build_ir
    >>> g = build_ir([{"op": "fc", "out": 16, "wbits": 4, "abits": 4},
    ...               {"op": "fc", "out": 10, "wbits": 4, "abits": None}], (64,), 8)
    >>> 20.0 < predict_fmax(g) < 400.0
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: the structural counts a path is described by (see the module docstring)
TERMS = ("base", "carry", "lut", "ebr", "dsp", "fanout", "enable")

Path = dict[str, float]


def _log2(n: float) -> float:
    return math.log2(max(1.0, float(n)))


#: memories (ROMs, the MVAU's input buffer) of at least this many words and more bits than
#: :data:`EBR_MIN_BITS` sit in EBR (DP16KD) in Yosys's mapping, and a path then starts at the
#: block's output (read off the sweep's DP16KD counts and nextpnr's worst paths: 128 x 2,048
#: bits stayed in LUTs, 128 x 2,944 went to an EBR)
EBR_MIN_DEPTH = 128
EBR_MIN_BITS = 2560


def _in_ebr(depth: int, width: int) -> bool:
    """Whether a synchronous-read memory of ``depth`` words of ``width`` bits is an EBR."""
    return depth >= EBR_MIN_DEPTH and depth * width >= EBR_MIN_BITS


def _path(**counts: float) -> Path:
    return {"base": 1.0, **counts}


def _thresholds(node: Any) -> int:
    """Thresholds per row of a dot-product node (0: no activation, the head)."""
    t = getattr(node, "thresholds", None)
    if t is not None and getattr(t, "ndim", 0) == 2:
        return int(t.shape[1])
    if node.out_bits is None:
        return 0
    return 1 if node.out_kind == "bipolar" else (1 << int(node.out_bits)) - 1


def _uses_dsp(node: Any) -> bool:
    from hwprune.cost.fpga import res_type_of

    return (not node.xnor) and res_type_of(node) == "dsp"


def dot_product_paths(node: Any) -> list[Path]:
    """Candidate paths of an MVAU/VVAU (``hwp_mvau``), as structural counts.

    Example:
        >>> from hwprune.ir import build_ir
        >>> n = build_ir([{"op": "fc", "out": 8, "wbits": 4, "abits": None}], (16,), 4).nodes[0]
        >>> sorted(dot_product_paths(n)[0])
        ['base', 'carry', 'enable']
    """
    vv = node.op == "VVAU"
    mw = node.kernel * node.kernel if vv else node.mw
    mh = node.channels if vv else node.mh
    pe, simd = int(node.pe), int(node.simd)
    aw = int(node.acc_bits) + 1  # the RTL's accumulator register (one guard bit)
    sf, nf = max(1, mw // simd), max(1, mh // pe)
    xnor, dsp = bool(node.xnor), _uses_dsp(node)
    lutpp = not xnor and not dsp
    terms = simd * (int(node.wbits) + 1 if lutpp else 1)
    # clock enable: every pipeline register of the kernel (lanes, tree, accumulators)
    regs = pe * terms * (1 if xnor else aw) + pe * aw
    en = _log2(regs)
    paths = [_path(carry=aw, enable=en)]  # adder-tree level / accumulate
    # the lanes' operands: the weight ROM word and the input (buffered: SF words, MVAU only)
    ib = max(1, int(node.in_bits))
    ebr = _in_ebr(nf * sf, pe * simd * int(node.wbits)) or (not vv and _in_ebr(sf, simd * ib))
    front = {"ebr": 1.0} if ebr else {"lut": _log2(nf * sf)}
    fan = _log2((pe if vv else 1) * simd * ib)  # input-select mux
    if dsp:
        paths.append(_path(dsp=1.0, fanout=fan, **front))
    elif lutpp:  # weights -> partial products (negated sign term) -> first tree level
        paths.append(_path(carry=2 * aw, fanout=fan, **front))
    else:  # XNOR bit -> first popcount level
        paths.append(_path(carry=_log2(simd) + 1, fanout=fan, **front))
    nt = _thresholds(node)
    if nt:
        tb = aw + 1
        if nt < 16:  # parallel comparators on the row block's threshold word
            e = _in_ebr(nf, pe * nt * tb)
            paths.append(_path(carry=tb, ebr=float(e), lut=0.0 if e else _log2(nf)))
        else:  # binary search: address add + ROM read, then compare + index update
            nb = int(nt).bit_length()
            depth = nf << (nb - 1)
            e = _in_ebr(depth, tb)
            paths.append(_path(carry=_log2(depth), lut=_log2(depth)))
            paths.append(_path(carry=tb + nb, ebr=float(e)))
    return paths


def node_paths(node: Any) -> list[Path]:
    """Candidate paths of one IR node (any kind; see the module docstring)."""
    op = node.op
    if op in ("MVAU", "VVAU"):
        return dot_product_paths(node)
    if op == "SlidingWindow":  # window addressing (counters, row offsets) + line-buffer read
        ifm = node.ifm[0] * node.ifm[1] * node.channels // max(1, node.simd)
        return [_path(carry=_log2(ifm) + 8, lut=1.0, enable=_log2(node.simd * node.bits))]
    if op == "MaxPool":  # running maximum: one comparator per channel
        return [_path(carry=node.bits + 1, lut=1.0, enable=_log2(node.channels * node.bits))]
    if op == "LabelSelect":  # compare with the best score so far
        return [_path(carry=node.key_bits + 1, lut=1.0)]  # keys: in_bits without offsets
    if op == "Thresholding":
        return [_path(carry=node.in_bits + 1, enable=_log2(node.pe * node.in_bits))]
    if op in ("AddStreams", "GlobalAccPool"):
        return [_path(carry=node.out_bits, enable=_log2(node.pe * node.out_bits))]
    return [_path()]


def wrapper_paths() -> list[Path]:
    """The board wrapper's paths: UART bit counters (16-bit), FIFO counts."""
    return [_path(carry=16, lut=1.0)]


def graph_paths(graph: Any) -> list[tuple[str, Path]]:
    """``(node name, path)`` for every candidate path of ``graph`` and the wrapper."""
    out = [("wrapper", p) for p in wrapper_paths()]
    for n in graph.nodes:
        out += [(n.name, p) for p in node_paths(n)]
    return out


@dataclass(frozen=True)
class FmaxParams:
    """ns per unit of each of :data:`TERMS` (non-negative) and where they come from."""

    coef: Mapping[str, float]
    source: str = ""
    error: Mapping[str, float] = field(default_factory=dict)

    def delay(self, path: Mapping[str, float]) -> float:
        """Delay of one path in ns."""
        return sum(self.coef.get(t, 0.0) * v for t, v in path.items())

    def to_dict(self) -> dict[str, Any]:
        return {"coef": dict(self.coef), "source": self.source, "error": dict(self.error)}


#: fabric clocks (MHz) the ECP5 PLL (EHXPLLL, ``yowasp-ecppll``) makes exactly from the
#: ULX3S's 25 MHz oscillator, fastest first
PLL_CLOCKS_MHZ = (100.0, 75.0, 60.0, 50.0, 45.0, 40.0, 35.0, 30.0, 25.0, 20.0, 12.5)


def pll_clock(limit_mhz: float) -> float:
    """The fastest of :data:`PLL_CLOCKS_MHZ` at or below ``limit_mhz`` (the slowest if none).

    Example:
        >>> pll_clock(57.3), pll_clock(50.0), pll_clock(3.0)
        (50.0, 50.0, 12.5)
    """
    return next((c for c in PLL_CLOCKS_MHZ if c <= limit_mhz + 1e-9), PLL_CLOCKS_MHZ[-1])


def priced_clock(graph: Any, clock_mhz: float, params: FmaxParams | None = None) -> float:
    """The clock to price and build ``graph`` at on an ECP5 board: the fastest exact PLL clock
    at or below both ``clock_mhz`` (the target's) and the predicted Fmax.

    Example:
        >>> from hwprune.ir import build_ir
        >>> g = build_ir([{"op": "fc", "out": 10, "wbits": 2, "abits": None}], (32,), 2)
        >>> priced_clock(g, 50.0) <= 50.0
        True
    """
    return build_clock(clock_mhz, predict_fmax(graph, params))


def build_clock(clock_mhz: float, fmax_mhz: float) -> float:
    """The fastest exact PLL clock at or below both ``clock_mhz`` and ``fmax_mhz`` (the rule of
    :func:`priced_clock`, for a prediction already made).

    Example:
        >>> build_clock(50.0, 96.5), build_clock(100.0, 57.3)
        (50.0, 50.0)
    """
    return pll_clock(min(float(clock_mhz), float(fmax_mhz)))


def critical_path(graph: Any, params: FmaxParams | None = None) -> tuple[str, float]:
    """(node name, delay in ns) of the slowest predicted path of ``graph``."""
    p = params or FITTED
    return max(((name, p.delay(path)) for name, path in graph_paths(graph)), key=lambda x: x[1])


def predict_fmax(graph: Any, params: FmaxParams | None = None) -> float:
    """nextpnr-ecp5's achieved Fmax (MHz) of ``graph``'s RTL on the ULX3S-85F, predicted.

    Example:
        >>> from hwprune.ir import build_ir
        >>> g = build_ir([{"op": "fc", "out": 10, "wbits": 2, "abits": None}], (32,), 2)
        >>> round(predict_fmax(g), 1) == round(predict_fmax(g), 1)
        True
    """
    return 1000.0 / critical_path(graph, params)[1]


def fit_params(
    designs: Sequence[Sequence[Path]], fmax: Iterable[float], source: str = ""
) -> FmaxParams:
    """Fit :data:`TERMS`' coefficients to measured Fmax (MHz) of designs given as their paths:
    least squares on log Fmax of ``1000 / max(path delays)``, coefficients >= 0."""
    import numpy as np
    from scipy.optimize import least_squares

    y = np.log(np.asarray(list(fmax), float))
    mats = [np.array([[p.get(t, 0.0) for t in TERMS] for p in d]) for d in designs]

    def resid(c: Any) -> Any:
        return np.array([np.log(1000.0 / max(float((m @ c).max()), 1e-3)) for m in mats]) - y

    best = None
    rng = np.random.default_rng(0)
    for k in range(12):
        x0 = np.full(len(TERMS), 0.3) if k == 0 else rng.uniform(0.0, 2.0, len(TERMS))
        x0[0] = 3.0 + (0 if k == 0 else rng.uniform(0, 3))
        r = least_squares(resid, x0, bounds=(0.0, np.inf), method="trf")
        if best is None or r.cost < best.cost:
            best = r
    assert best is not None
    return FmaxParams({t: round(float(v), 5) for t, v in zip(TERMS, best.x, strict=True)}, source)


#: fitted by ``bench/fmax_fidelity.py`` on 21 calibration designs; ``error``: |model - nextpnr|
#: / nextpnr on 35 held-out designs, and leave-one-out over all 56
#: (``bench/results/fmax_fidelity.md``)
FITTED = FmaxParams(
    {
        "base": 5.43119,
        "carry": 0.01342,
        "lut": 0.22982,
        "ebr": 3.8406,
        "dsp": 3.22279,
        "fanout": 0.19208,
        "enable": 0.42589,
    },
    source="bench/fmax_fidelity.py, 2026-12-05, nextpnr-ecp5 0.11.1 --seed 1",
    error={
        "held_out_designs": 35,
        "median_abs_error": 0.0724,
        "p90_abs_error": 0.1683,
        "max_abs_error": 0.303,
        "loo_median_abs_error": 0.0556,
        "loo_p90_abs_error": 0.1185,
    },
)
