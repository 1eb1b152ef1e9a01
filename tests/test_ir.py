"""Design layers -> dataflow IR: shapes, bit widths, legality, design JSON round trip, QONNX."""

from __future__ import annotations

import json

import pytest

from hwprune.design import (
    design_from_graph,
    design_from_layers,
    graph_from_design,
    load_design,
    save_design,
)
from hwprune.errors import ConfigError
from hwprune.ir import (
    MVAU,
    VVAU,
    LabelSelect,
    MaxPool,
    SlidingWindow,
    accumulator_bits,
    build_ir,
)

CNV = [
    {"op": "conv", "out_ch": 64, "kernel": 3, "wbits": 1, "abits": 1},
    {"op": "conv", "out_ch": 64, "kernel": 3, "wbits": 1, "abits": 1},
    {"op": "maxpool", "kernel": 2},
    {"op": "conv", "out_ch": 128, "kernel": 3, "wbits": 1, "abits": 1},
    {"op": "fc", "out": 10, "wbits": 1, "abits": None},
]


def test_cnv_shapes_chain_and_flatten():
    g = build_ir(CNV, (3, 32, 32), 8)
    ops = [n.op for n in g.nodes]
    assert ops == [
        "SlidingWindow",
        "MVAU",
        "SlidingWindow",
        "MVAU",
        "MaxPool",
        "SlidingWindow",
        "MVAU",
        "MVAU",
        "LabelSelect",
    ]
    c0, c1, pool, c2, fc = (g.node(n) for n in ("conv0", "conv1", "pool0", "conv2", "fc0"))
    assert (c0.mw, c0.mh, c0.n_vec) == (27, 64, 900)
    assert (c1.mw, c1.mh, c1.n_vec) == (576, 64, 784)
    assert pool.ifm == (28, 28) and pool.ofm == (14, 14)
    assert (c2.mw, c2.n_vec) == (576, 144)
    assert (fc.mw, fc.mh, fc.n_vec) == (128 * 12 * 12, 10, 1)
    # bits: 8-bit unsigned input, then bipolar 1-bit activations; XNOR from layer 1 on
    assert (c0.in_bits, c0.in_kind, c0.xnor) == (8, "uint", False)
    assert (c1.in_bits, c1.in_kind, c1.xnor) == (1, "bipolar", True)
    assert fc.out_bits is None and g.nodes[-1].labels == 10
    assert g.nodes[-1].in_bits == fc.acc_bits


def test_padding_stride_and_1x1_convs():
    g = build_ir(
        [
            {"op": "conv", "out_ch": 8, "kernel": 3, "stride": 2, "pad": 1, "wbits": 4, "abits": 4},
            {"op": "conv", "out_ch": 16, "kernel": 1, "wbits": 4, "abits": 4},
            {"op": "fc", "out": 10, "wbits": 4, "abits": None},
        ],
        (3, 9, 9),
        8,
    )
    swg = g.nodes[0]
    assert isinstance(swg, SlidingWindow) and swg.padded == (11, 11) and swg.ofm == (5, 5)
    assert g.node("conv0").n_vec == 25
    assert g.nodes[2].op == "MVAU" and g.nodes[2].name == "conv1"  # 1x1: no window
    assert g.node("conv1").mw == 8 and g.node("fc0").mw == 16 * 25


def test_depthwise_conv_becomes_vvau():
    g = build_ir(
        [
            {
                "op": "conv",
                "out_ch": 8,
                "kernel": 3,
                "groups": 8,
                "pad": 1,
                "wbits": 4,
                "abits": 4,
                "pe": 8,
                "simd": 3,
            },
            {"op": "fc", "out": 2, "wbits": 4, "abits": None},
        ],
        (8, 6, 6),
        4,
    )
    v = g.node("conv0")
    assert isinstance(v, VVAU) and (v.channels, v.kernel, v.n_vec, v.pe, v.simd) == (8, 3, 36, 8, 3)
    assert g.nodes[0].depthwise and g.nodes[0].simd == 8


@pytest.mark.parametrize(
    "mw, w, wk, a, ak, expected",
    [
        (576, 1, "bipolar", 1, "bipolar", 10),  # popcount 0..576
        (27, 1, "bipolar", 8, "uint", 14),  # +-27*255 -> 14 bits signed
        (64, 2, "int", 2, "uint", 9),  # narrow 2-bit weights -1..1: +-192 -> 9 bits
        (600, 2, "int", 1, "uint", 11),  # +-600 -> 11 bits
        (16, 4, "int", 4, "uint", 12),  # +-16*7*15 = +-1680 -> 12 bits
    ],
)
def test_accumulator_width_from_ranges(mw, w, wk, a, ak, expected):
    assert accumulator_bits(mw, w, wk, a, ak) == expected


def test_given_folding_is_checked_with_the_rule_it_breaks():
    with pytest.raises(ConfigError, match=r"pe=5 is illegal: PE must divide the output"):
        build_ir([{"op": "fc", "out": 64, "wbits": 1, "abits": None, "pe": 5}], (16,), 1)
    with pytest.raises(ConfigError, match=r"simd=5 is illegal: SIMD must divide kernel\*kernel"):
        build_ir(
            [
                {"op": "conv", "out_ch": 8, "kernel": 3, "wbits": 1, "abits": 1, "simd": 5},
                {"op": "fc", "out": 2, "wbits": 1, "abits": None},
            ],
            (4, 8, 8),
            8,
        )
    g = build_ir([{"op": "fc", "out": 64, "wbits": 1, "abits": None, "pe": 16}], (16,), 1)
    assert g.fixed == {"fc0": {"pe": 16}} and g.node("fc0").pe == 16


@pytest.mark.parametrize(
    "layers, msg",
    [
        ([], "no layers"),
        ([{"op": "dense", "out": 3}], "unknown op"),
        ([{"op": "fc", "out": 3, "wbits": 2}], "missing 'abits'"),
        ([{"op": "fc", "out": 3, "abits": None}], "missing 'wbits'"),
        (
            [
                {"op": "fc", "out": 3, "wbits": 2, "abits": None},
                {"op": "fc", "out": 3, "wbits": 2, "abits": None},
            ],
            "only the last layer",
        ),
        ([{"op": "conv", "out_ch": 3, "kernel": 9, "wbits": 2, "abits": None}], "does not fit"),
        (
            [{"op": "conv", "out_ch": 6, "kernel": 3, "groups": 2, "wbits": 2, "abits": None}],
            "groups=2",
        ),
        ([{"op": "fc", "out": 0, "wbits": 2, "abits": None}], "'out' must be an integer >= 1"),
    ],
)
def test_bad_layers_are_config_errors(layers, msg):
    with pytest.raises(ConfigError, match=msg):
        build_ir(layers, (4, 4, 4), 8)


@pytest.mark.parametrize(
    "layer, input_kind, msg",
    [
        ({"wbits": 2, "abits": None, "res_type": "bram"}, "uint", "'res_type' must be one of"),
        ({"wbits": 1, "abits": None, "res_type": "dsp"}, "bipolar", "XNOR-popcount"),
    ],
)
def test_bad_res_type_is_a_config_error(layer, input_kind, msg):
    with pytest.raises(ConfigError, match=msg):
        build_ir([{"op": "fc", "out": 4, **layer}], (16,), 1, input_kind=input_kind)


def test_res_type_is_kept_by_the_ir_and_the_design(tmp_path):
    layers = [
        {"op": "conv", "out_ch": 8, "kernel": 3, "wbits": 2, "abits": 2, "res_type": "lut"},
        {"op": "fc", "out": 4, "wbits": 2, "abits": None, "res_type": "dsp"},
    ]
    g = build_ir(layers, (1, 6, 6), 8)
    assert [g.node("conv0").res_type, g.node("fc0").res_type] == ["lut", "dsp"]
    assert g.folding["conv0"]["res_type"] == "lut" and "res_type" not in g.folding["conv0_swg"]
    back = graph_from_design(load_design(save_design(design_from_graph(g), tmp_path / "d.json")))
    assert back == g
    auto = build_ir([{**x, "res_type": None} for x in layers], (1, 6, 6), 8)
    assert auto.node("fc0").res_type == "auto" and "res_type" not in auto.folding["fc0"]
    assert auto.with_folding({"fc0": {"res_type": "lut"}}).node("fc0").res_type == "lut"


def test_design_json_round_trip(tmp_path):
    d = design_from_layers(CNV, [3, 32, 32], 8, name="cnv")
    path = save_design(d, tmp_path / "cnv.json")
    g = graph_from_design(load_design(path))
    assert g == build_ir(CNV, (3, 32, 32), 8, name="cnv")
    folded = g.with_folding({"conv0": {"pe": 16, "simd": 3}, "fc0": {"pe": 2, "simd": 8}})
    back = graph_from_design(design_from_graph(folded))
    assert back.node("conv0").pe == 16 and back.node("fc0").simd == 8
    assert [n.op for n in back.nodes] == [n.op for n in g.nodes]


def test_design_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="not valid JSON"):
        (tmp_path / "x.json").write_text("{")
        load_design(tmp_path / "x.json")
    with pytest.raises(ConfigError, match="unknown key"):
        graph_from_design(
            {
                "input": {"shape": [4], "bits": 8},
                "layers": [{"op": "fc", "out": 2, "wbits": 2, "abits": None, "bias": True}],
            }
        )
    with pytest.raises(ConfigError, match="input shape"):
        graph_from_design(
            {
                "input": {"shape": [4, 4], "bits": 8},
                "layers": [{"op": "fc", "out": 2, "wbits": 2, "abits": None}],
            }
        )


def test_ir_nodes_are_frozen_and_hashable():
    g = build_ir(CNV, (3, 32, 32), 8)
    with pytest.raises(AttributeError):
        g.nodes[1].pe = 4  # type: ignore[misc]
    assert len({g, build_ir(CNV, (3, 32, 32), 8)}) == 1
    assert isinstance(g.nodes[1], MVAU) and isinstance(g.nodes[4], MaxPool)
    assert isinstance(g.nodes[-1], LabelSelect)
    assert json.dumps(g.folding)


@pytest.mark.slow
def test_json_and_qonnx_give_the_same_ir(tmp_path):
    """A Brevitas model exported to QONNX lowers to the IR its design layers give."""
    lower = pytest.importorskip("hwprune.export.lower")
    torch = pytest.importorskip("torch")
    from brevitas.export import export_qonnx

    from hwprune.compress.quant import to_brevitas
    from hwprune.models import ModelSpec, build_model

    torch.manual_seed(0)
    layers = [
        {"op": "conv", "out_ch": 8, "kernel": 3, "stride": 1, "pad": 0, "groups": 1},
        {"op": "maxpool", "kernel": 2},
        {"op": "fc", "out": 16},
        {"op": "fc", "out": 10},
    ]
    spec = ModelSpec(name="tiny", input_shape=(1, 8, 8), num_classes=10, layers=tuple(layers))
    wbits, abits = [2, 2, 2], [2, 2, None]
    qmodel = to_brevitas(build_model(spec), wbits, abits, input_scale=16.0).eval()
    path = tmp_path / "tiny.onnx"
    export_qonnx(qmodel, input_t=torch.rand(1, 1, 8, 8), export_path=str(path), dynamo=False)
    from_onnx = lower.lower_qonnx(path)
    design_layers = []
    q = iter(zip(wbits, abits, strict=False))
    for layer in layers:
        if layer["op"] == "maxpool":
            design_layers.append(dict(layer))
        else:
            w, a = next(q)
            design_layers.append({**layer, "wbits": w, "abits": a})
    from_json = build_ir(design_layers, (1, 8, 8), 8, name=from_onnx.name)
    assert [n.op for n in from_onnx.nodes] == [n.op for n in from_json.nodes]
    for a, b in zip(from_onnx.nodes, from_json.nodes, strict=False):
        if a.op == "MVAU":  # the lowering may know a tighter accumulator from real weights
            assert (a.mw, a.mh, a.n_vec, a.wbits, a.in_bits, a.out_bits) == (
                b.mw,
                b.mh,
                b.n_vec,
                b.wbits,
                b.in_bits,
                b.out_bits,
            )
            assert a.acc_bits <= b.acc_bits
        elif a.op == "LabelSelect":  # reads that accumulator
            assert a.labels == b.labels and a.in_bits <= b.in_bits
        else:
            assert a == b


def test_ir_package_re_exports_its_names():
    """``hwprune.ir`` is a package (dtypes, nodes, graph, build); every public name is
    importable from it, as from the single module it replaced."""
    import hwprune.ir as ir
    from hwprune.ir import build, dtypes, graph, nodes

    for name in ir.__all__:
        assert getattr(ir, name) is not None
    assert ir.build_ir is build.build_ir and ir.DataflowGraph is graph.DataflowGraph
    assert ir.MVAU is nodes.MVAU and ir.accumulator_bits is dtypes.accumulator_bits
    assert {"DuplicateStreams", "AddStreams", "GlobalAccPool", "FIFO"} <= set(ir.__all__)
