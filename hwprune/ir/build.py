"""Design layers -> :class:`~hwprune.ir.graph.DataflowGraph` (:func:`build_ir`).

Example:
    >>> from hwprune.ir.build import build_ir
    >>> [n.op for n in build_ir([{"op": "fc", "out": 2, "wbits": 2, "abits": 2}], (4,), 2).nodes]
    ['MVAU']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from hwprune.errors import ConfigError
from hwprune.ir import nodes
from hwprune.ir.dtypes import (
    RES_TYPES,
    accumulator_bits,
    act_kind,
    weight_kind,
)
from hwprune.ir.folding import check_node
from hwprune.ir.graph import DataflowGraph

_Dot = TypeVar("_Dot", nodes.MVAU, nodes.VVAU)


def _as_int(
    layer: Mapping[str, Any], key: str, i: int, default: Any = ..., minimum: int = 1
) -> Any:
    if key not in layer or layer[key] is None:
        if default is ...:
            raise ConfigError(f"layer {i} ({layer.get('op')}): missing '{key}'; add it")
        return default
    v = layer[key]
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise ConfigError(
            f"layer {i} ({layer.get('op')}): '{key}' must be an integer >= {minimum}, got {v!r}"
        )
    return v


def build_ir(
    layers: Sequence[Mapping[str, Any]],
    input_shape: Sequence[int],
    input_bits: int = 8,
    name: str = "design",
    label_select: bool = True,
    input_kind: str = "uint",
) -> DataflowGraph:
    """Lower design layers to a :class:`DataflowGraph`.

    Args:
        layers: design layers (``conv``/``maxpool``/``fc`` dicts with ``wbits``/``abits`` and
            optional ``pe``/``simd``/``res_type``); see the module docstring of
            :mod:`hwprune.design`.
        input_shape: ``(C, H, W)`` (or ``(N,)`` for a flat input).
        input_bits: bits of the unsigned integer input values.
        name: design name.
        label_select: append an arg-max :class:`LabelSelect` after a final layer without
            activation (``abits`` None), as FINN does for classifiers.
        input_kind: ``"uint"`` (integer pixels, the default) or ``"bipolar"`` (a 1-bit +-1
            input, as in BNN-PYNQ's binarized MNIST).

    Given ``pe``/``simd`` values are checked: an illegal one raises :class:`ConfigError` naming
    the divisibility rule. Folding left out stays 1 (the optimizer chooses it).

    Example:
        >>> g = build_ir([{"op": "fc", "out": 64, "wbits": 1, "abits": 1, "pe": 16},
        ...               {"op": "fc", "out": 10, "wbits": 1, "abits": None}], (1, 28, 28), 1)
        >>> g.nodes[0].mw, g.nodes[0].pe, g.nodes[1].acc_bits
        (784, 16, 7)
    """
    shape = _check_input(layers, input_shape, input_bits, input_kind)
    st = _Lowering(*shape, bits=input_bits, kind=input_kind)
    last_abits: Any = "unset"
    for i, layer in enumerate(layers):
        if not isinstance(layer, Mapping):
            raise ConfigError(f'layer {i} must be an object such as {{"op": "fc", "out": 10}}')
        op = layer.get("op")
        if last_abits is None:
            raise ConfigError(
                f"layer {i} ({op}) follows a layer with abits null; only the last layer may "
                "have no activation"
            )
        if op == "maxpool":
            _add_maxpool(st, layer, i)
            continue
        if op == "gap":
            _add_gap(st, i)
            continue
        if op == "residual":
            last_abits = _add_residual(st, layer, i)
            continue
        if op not in ("conv", "fc"):
            raise ConfigError(
                f"layer {i}: unknown op {op!r}; use 'conv', 'maxpool', 'fc', 'gap' or 'residual'"
            )
        q = _layer_quant(layer, i)
        if op == "conv":
            _add_conv(st, layer, i, q)
        else:
            _add_fc(st, layer, i, q)
        last_abits = q.abits
        if q.abits is not None:
            st.bits, st.kind = q.abits, act_kind(q.abits)
    if last_abits == "unset":
        raise ConfigError("the design has no conv or fc layer; add one")
    if last_abits is None and label_select:
        last = st.nodes[-1]
        assert isinstance(last, (nodes.MVAU, nodes.VVAU))
        labels = last.mh if isinstance(last, nodes.MVAU) else last.channels
        st.nodes.append(nodes.LabelSelect("labelselect", labels, last.acc_bits))
    return DataflowGraph(name, shape, input_bits, tuple(st.nodes), input_kind, st.fixed)


def _check_input(
    layers: Sequence[Any], input_shape: Sequence[int], input_bits: int, input_kind: str
) -> tuple[int, int, int]:
    """The input shape as ``(C, H, W)``, after checking the design's input description."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 1:
        shape = (shape[0], 1, 1)
    if len(shape) != 3 or min(shape) < 1:
        raise ConfigError(
            f"input shape must be [C, H, W] of positive sizes, got {list(input_shape)}"
        )
    if not isinstance(input_bits, int) or not 1 <= input_bits <= 32:
        raise ConfigError(f"input bits must be an integer in 1..32, got {input_bits!r}")
    if not layers:
        raise ConfigError("the design has no layers; add at least one 'fc' or 'conv'")
    if input_kind not in ("uint", "bipolar") or (input_kind == "bipolar" and input_bits != 1):
        raise ConfigError(f"input kind must be 'uint' or (1-bit) 'bipolar', got {input_kind!r}")
    return shape[0], shape[1], shape[2]


@dataclass
class _Lowering:
    """What :func:`build_ir` carries from layer to layer: the current map and data type."""

    c: int
    h: int
    w: int
    bits: int
    kind: str
    flat: bool = False
    nodes: list[nodes.ComputeNode] = field(default_factory=list)
    fixed: dict[str, dict[str, int]] = field(default_factory=dict)
    count: dict[str, int] = field(
        default_factory=lambda: {"conv": 0, "fc": 0, "pool": 0, "res": 0, "gap": 0}
    )

    def next_name(self, what: str) -> str:
        k = self.count[what]
        self.count[what] += 1
        return f"{what}{k}"


class _Quant(NamedTuple):
    """A conv/fc layer's bits, data kinds, given folding and multiplier resource."""

    wbits: int
    wkind: str
    abits: int | None
    okind: str
    pe: int | None
    simd: int | None
    res_type: str


def _layer_quant(layer: Mapping[str, Any], i: int) -> _Quant:
    op = layer.get("op")
    wbits = _as_int(layer, "wbits", i)
    if wbits > 32:
        raise ConfigError(f"layer {i}: wbits must be <= 32, got {wbits}")
    abits = layer.get("abits", "missing")
    if abits == "missing":
        raise ConfigError(f"layer {i} ({op}): missing 'abits' (use null for the last layer)")
    if abits is not None and (
        not isinstance(abits, int) or isinstance(abits, bool) or not 1 <= abits <= 32
    ):
        raise ConfigError(f"layer {i} ({op}): 'abits' must be an integer in 1..32 or null")
    wkind = weight_kind(wbits)
    return _Quant(
        wbits,
        wkind,
        abits,
        act_kind(abits) if abits is not None else "int",
        _as_int(layer, "pe", i, None),
        _as_int(layer, "simd", i, None),
        _res_type(layer, i),
    )


def _dot_args(
    st: _Lowering, q: _Quant, n_vec: int, length: int
) -> tuple[int, int, str, int, str, int, int | None, str, int, int]:
    """An MVAU's/VVAU's arguments after its shape: ``n_vec``, weight and input bits and kinds,
    the accumulator bits of a ``length``-long dot product, output bits and kind, PE and SIMD."""
    dot = (q.wbits, q.wkind, st.bits, st.kind)
    acc = accumulator_bits(length, *dot)
    return (n_vec, *dot, acc, q.abits, q.okind, q.pe or 1, q.simd or 1)


def _add_maxpool(st: _Lowering, layer: Mapping[str, Any], i: int) -> None:
    if st.flat:
        raise ConfigError(f"layer {i}: maxpool after an fc layer is not supported")
    k = _as_int(layer, "kernel", i)
    if k > st.h or k > st.w:
        raise ConfigError(f"layer {i}: maxpool kernel {k} is larger than the {st.h}x{st.w} map")
    st.nodes.append(nodes.MaxPool(st.next_name("pool"), st.c, (st.h, st.w), k, st.bits, st.kind))
    st.h, st.w = st.h // k, st.w // k


def _add_conv(st: _Lowering, layer: Mapping[str, Any], i: int, q: _Quant) -> None:
    if st.flat:
        raise ConfigError(f"layer {i}: conv after an fc layer is not supported")
    c, h, w = st.c, st.h, st.w
    out_ch = _as_int(layer, "out_ch", i)
    k = _as_int(layer, "kernel", i)
    stride = _as_int(layer, "stride", i, 1)
    pad = _as_int(layer, "pad", i, 0, minimum=0)
    groups = _as_int(layer, "groups", i, 1)
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    if oh < 1 or ow < 1:
        raise ConfigError(f"layer {i}: kernel {k} does not fit the {h}x{w} input (pad {pad})")
    cname = st.next_name("conv")
    pe, simd = q.pe, q.simd
    if groups == 1:
        mw = k * k * c
        args = _dot_args(st, q, oh * ow, mw)
        mvau = _checked(st, nodes.MVAU(cname, mw, out_ch, *args, conv=True, res_type=q.res_type), q)
        if not (k == 1 and stride == 1 and pad == 0):
            sw_simd = simd if simd is not None and c % simd == 0 else 1
            st.nodes.append(
                nodes.SlidingWindow(
                    f"{cname}_swg", c, (h, w), k, stride, pad, st.bits, st.kind, simd=sw_simd
                )
            )
        st.nodes.append(mvau)
    elif groups == c and out_ch == c:
        args = _dot_args(st, q, oh * ow, k * k)
        vvau = _checked(st, nodes.VVAU(cname, c, k, *args, res_type=q.res_type), q)
        st.nodes.append(
            nodes.SlidingWindow(
                f"{cname}_swg",
                c,
                (h, w),
                k,
                stride,
                pad,
                st.bits,
                st.kind,
                simd=pe or 1,
                depthwise=True,
            )
        )
        st.nodes.append(vvau)
    else:
        raise ConfigError(
            f"layer {i}: groups={groups} is not supported; use 1 or depthwise "
            f"(groups = in_ch = out_ch = {c})"
        )
    st.c, st.h, st.w = out_ch, oh, ow


def _add_fc(st: _Lowering, layer: Mapping[str, Any], i: int, q: _Quant) -> None:
    out = _as_int(layer, "out", i)
    mw = st.c * st.h * st.w
    fname = st.next_name("fc")
    fc = nodes.MVAU(fname, mw, out, *_dot_args(st, q, 1, mw), res_type=q.res_type)
    st.nodes.append(_checked(st, fc, q))
    st.c, st.h, st.w, st.flat = out, 1, 1, True


def _res_type(layer: Mapping[str, Any], i: int) -> str:
    """A layer's ``res_type`` (``"auto"`` when left out), one of :data:`RES_TYPES`."""
    v = layer.get("res_type", "auto")
    if v is None:
        v = "auto"
    if v not in RES_TYPES:
        raise ConfigError(
            f"layer {i} ({layer.get('op')}): 'res_type' must be one of {list(RES_TYPES)}, got {v!r}"
        )
    return v


def _checked(st: _Lowering, node: _Dot, q: _Quant) -> _Dot:
    """``node`` after checking the folding its layer gives (:func:`~hwprune.ir.folding.check_node`,
    the rules every folding is checked by); the given values are recorded in ``st.fixed``."""
    given = {k: v for k, v in (("pe", q.pe), ("simd", q.simd)) if v is not None}
    check_node(node, given)
    if given:
        st.fixed[node.name] = given
    return node


def _add_gap(st: _Lowering, i: int) -> None:
    """Global average pooling: an integer sum per channel, rounded back to the input's bits
    (Brevitas' ``TruncAdaptiveAvgPool2d``); the 1/(H*W) scale goes into the next layer."""
    if st.flat:
        raise ConfigError(f"layer {i}: gap after an fc layer is not supported")
    shift = max(0, math.ceil(math.log2(st.h * st.w)))
    out_bits = st.bits if st.kind != "bipolar" else 2
    name = st.next_name("gap")
    st.nodes.append(
        nodes.GlobalAccPool(name, st.c, (st.h, st.w), st.bits, st.kind, out_bits, shift)
    )
    st.h = st.w = 1
    st.bits, st.kind = out_bits, ("uint" if st.kind == "uint" else "int")


def _branch(st: _Lowering, convs: Sequence[Mapping[str, Any]], i: int, add_bits: int) -> list:
    """Lower one branch of a residual block (its convs); the last conv outputs the add's signed
    ``add_bits``. Returns the branch's nodes (appended to ``st.nodes``)."""
    first = len(st.nodes)
    for j, conv in enumerate(convs):
        q = _layer_quant(conv, i)
        abits = q.abits
        if abits is None:
            raise ConfigError(f"layer {i} (residual): every conv of a block needs 'abits'")
        if j == len(convs) - 1:
            if q.abits != add_bits:
                raise ConfigError(
                    f"layer {i} (residual): the last convs of the body and of the shortcut "
                    f"meet in the add and share its quantizer; give both abits {add_bits} "
                    f"(got {q.abits})"
                )
            q = q._replace(okind=add_kind(add_bits))
        _add_conv(st, conv, i, q)
        st.bits, st.kind = abits, q.okind
    return st.nodes[first:]


def add_kind(bits: int) -> str:
    """Kind of the signed quantizer shared by both inputs of a residual add.

    Example:
        >>> add_kind(1), add_kind(4)
        ('bipolar', 'int')
    """
    return "bipolar" if bits == 1 else "int"


def _add_residual(st: _Lowering, layer: Mapping[str, Any], i: int) -> int:
    """A residual block: fork, body, shortcut (identity: a requantizing threshold), skip FIFO,
    add, and the activation after the add. Returns the block's activation bits."""
    if st.flat:
        raise ConfigError(f"layer {i}: a residual block cannot follow an fc layer")
    body, short = list(layer.get("body") or ()), list(layer.get("shortcut") or ())
    if not body or any(not isinstance(b, Mapping) or b.get("op") != "conv" for b in body + short):
        raise ConfigError(
            f"layer {i} (residual): 'body' must be a non-empty list of conv layers and "
            "'shortcut' a list of conv layers (empty: identity)"
        )
    add_bits = _as_int(body[-1], "abits", i)
    rname = st.next_name("res")
    c, h, w, bits, kind = st.c, st.h, st.w, st.bits, st.kind
    fork = nodes.DuplicateStreams(f"{rname}_dup", c, h * w, bits, kind)
    st.nodes.append(fork)
    long = _branch(st, body, i, add_bits)
    out = (st.c, st.h, st.w)
    st.c, st.h, st.w, st.bits, st.kind = c, h, w, bits, kind
    if short:
        shortn = _branch(st, short, i, add_bits)
    else:
        shortn = [nodes.Thresholding(f"{rname}_skip", c, h * w, bits, add_bits, add_kind(add_bits))]
        st.nodes.extend(shortn)
    if (st.c, st.h, st.w) != out:
        raise ConfigError(
            f"layer {i} (residual): the body gives {out} but the shortcut gives "
            f"{(st.c, st.h, st.w)}; give the shortcut a conv with matching channels/stride"
        )
    pixels = st.h * st.w
    depth = skip_fifo_depth(long, shortn, pixels, h * w)
    fifo = nodes.FIFO(f"{rname}_fifo", st.c * add_bits, depth)
    add = nodes.AddStreams(
        f"{rname}_add",
        st.c,
        pixels,
        add_bits,
        add_kind(add_bits),
        fork=fork.name,
        long=tuple(n.name for n in long),
        short=tuple(n.name for n in shortn),
        fifo=fifo.name,
    )
    act = nodes.Thresholding(
        f"{rname}_act", st.c, pixels, add.out_bits, add_bits, act_kind(add_bits)
    )
    st.nodes += [fifo, add, act]
    st.bits, st.kind = add_bits, act_kind(add_bits)
    return add_bits


def _lead(branch: Sequence[Any], in_pixels: int) -> float:
    """Input pixels (of the block's input map) a branch takes in before its first output: each
    sliding window buffers ``(K-1)`` padded rows plus ``K`` pixels of its own input map."""
    lead = 0.0
    for n in branch:
        if isinstance(n, nodes.SlidingWindow):
            _, wp = n.padded
            per = in_pixels / (n.ifm[0] * n.ifm[1])  # block-input pixels per pixel of this map
            lead += ((n.kernel - 1) * wp + n.kernel) * per
    return lead


def skip_fifo_depth(
    long: Sequence[Any], short: Sequence[Any], out_pixels: int, in_pixels: int
) -> int:
    """Depth (words of one pixel) of the FIFO on a residual block's short branch.

    While the long branch fills its line buffers the fork keeps feeding the short branch, whose
    output must wait for the add: the FIFO holds the difference of the two branches' leads
    (:func:`_lead`, in the block's input pixels, scaled to the add's map), plus 2 words of
    pipeline slack, at most one frame.

    Example:
        >>> g = build_ir([{"op": "residual", "body": [
        ...     {"op": "conv", "out_ch": 4, "kernel": 3, "pad": 1, "wbits": 2, "abits": 2}]},
        ...     {"op": "fc", "out": 2, "wbits": 2, "abits": None}], (4, 8, 8), 2)
        >>> g.node("res0_fifo").depth   # 2 rows of 10 padded pixels + 3, + 2
        25
    """
    diff = _lead(long, in_pixels) - _lead(short, in_pixels)
    words = math.ceil(max(0.0, diff) * out_pixels / in_pixels)
    return int(min(out_pixels, words + 2))
