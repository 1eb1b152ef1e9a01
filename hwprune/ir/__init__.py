"""The dataflow IR: one frozen node per hardware block of a FINN-style streaming accelerator.

A network becomes a list of nodes (a chain; a residual block is laid out as fork, long branch,
short branch, skip FIFO, add), each with its shapes, bit widths and folding:

* :class:`SlidingWindow` - the im2col line buffer in front of a convolution (zero padding included);
* :class:`MVAU` - matrix-vector-activation unit: a fully connected layer, or a convolution lowered
  to a matrix (``mw = k*k*c_in`` columns, ``mh = c_out`` rows, ``n_vec`` output pixels), with its
  activation as embedded thresholds (``out_bits``) or none (``out_bits=None``: raw accumulator);
* :class:`VVAU` - depthwise convolution (one ``k*k`` dot product per channel);
* :class:`MaxPool` - 2D max pooling, all channels in parallel;
* :class:`Thresholding` - a standalone multi-threshold activation;
* :class:`LabelSelect` - arg-max over the classifier's accumulators;
* :class:`DuplicateStreams`, :class:`AddStreams` - the fork and the join of a residual block,
  with a skip :class:`FIFO` on the short branch sized from the long branch's lead;
* :class:`GlobalAccPool` - global average pooling as an integer sum (scale to the next layer);
* glue the build adds between them: :class:`FIFO`, :class:`WidthConverter`, :class:`DMA`.

Data types: an activation or weight is ``(bits, kind)`` with kind ``"uint"``, ``"int"`` (signed,
weights narrow-range as Brevitas exports them) or ``"bipolar"`` (1 bit meaning -1/+1: binary
weights and 1-bit activations, as FINN expects).

:func:`build_ir` turns design layers (the layer vocabulary shared by model specs, the JSON design
description and the search) into a :class:`DataflowGraph`. The QONNX lowering builds the same node
types directly and attaches their integer payload (weights, thresholds and an
:class:`Export` record of exact types, shapes and scales; excluded from equality), which the
executor, the HLS writer, the FINN hand-off and the RTL read; :mod:`hwprune.ir.folding` applies
and checks a user's folding.

Example:
    >>> from hwprune.ir import build_ir
    >>> g = build_ir([{"op": "conv", "out_ch": 16, "kernel": 3, "wbits": 2, "abits": 2},
    ...               {"op": "maxpool", "kernel": 2},
    ...               {"op": "fc", "out": 10, "wbits": 2, "abits": None}], (1, 8, 8), 8)
    >>> [n.op for n in g.nodes]
    ['SlidingWindow', 'MVAU', 'MaxPool', 'MVAU', 'LabelSelect']
    >>> g.nodes[1].mw, g.nodes[1].mh, g.nodes[1].n_vec
    (9, 16, 36)
"""

from __future__ import annotations

from hwprune.ir.build import add_kind, build_ir, skip_fifo_depth
from hwprune.ir.dtypes import (
    RES_TYPES,
    XNOR_DSP_ERROR,
    DTypeKind,
    IntType,
    accumulator_bits,
    act_kind,
    divisors,
    n_thresholds,
    value_range,
    weight_kind,
)
from hwprune.ir.graph import DataflowGraph, GraphInput
from hwprune.ir.lowered import Export, Pad
from hwprune.ir.nodes import (
    DMA,
    FIFO,
    FOLDABLE,
    MVAU,
    VVAU,
    AddStreams,
    ComputeNode,
    DuplicateStreams,
    GlobalAccPool,
    GlueNode,
    LabelSelect,
    MaxPool,
    SlidingWindow,
    Thresholding,
    WidthConverter,
)

__all__ = [
    "AddStreams",
    "DuplicateStreams",
    "GlobalAccPool",
    "add_kind",
    "skip_fifo_depth",
    "DMA",
    "FIFO",
    "FOLDABLE",
    "MVAU",
    "RES_TYPES",
    "VVAU",
    "XNOR_DSP_ERROR",
    "ComputeNode",
    "DTypeKind",
    "DataflowGraph",
    "Export",
    "GraphInput",
    "IntType",
    "Pad",
    "GlueNode",
    "LabelSelect",
    "MaxPool",
    "SlidingWindow",
    "Thresholding",
    "WidthConverter",
    "accumulator_bits",
    "act_kind",
    "build_ir",
    "divisors",
    "n_thresholds",
    "value_range",
    "weight_kind",
]
