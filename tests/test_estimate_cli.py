"""``hwprune estimate``: table and JSON output, --fps, --target-file, errors as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwprune.cli import main

DESIGN = {
    "name": "cnv-w1a1",
    "input": {"shape": [3, 32, 32], "bits": 8},
    "layers": [
        {
            "op": "conv",
            "out_ch": 64,
            "kernel": 3,
            "stride": 1,
            "pad": 0,
            "wbits": 1,
            "abits": 1,
            "pe": 16,
            "simd": 3,
        },
        {"op": "maxpool", "kernel": 2},
        {"op": "conv", "out_ch": 64, "kernel": 3, "wbits": 1, "abits": 1},
        {"op": "maxpool", "kernel": 2},
        {"op": "fc", "out": 128, "wbits": 1, "abits": 1},
        {"op": "fc", "out": 10, "wbits": 1, "abits": None},
    ],
}


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def design(tmp_path: Path) -> Path:
    p = tmp_path / "cnv.json"
    p.write_text(json.dumps(DESIGN))
    return p


def test_json_output_has_the_agreed_keys(design, capsys):
    code, out, _ = run(["estimate", str(design), "--target", "pynq-z2", "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    for key in (
        "lut",
        "ff",
        "bram18",
        "dsp",
        "fps",
        "latency_us",
        "fits",
        "binding",
        "layers",
        "overheads",
        "folding",
    ):
        assert key in d
    assert d["fits"] is True and d["fps"] > 0
    for layer in d["layers"]:
        for key in ("op", "pe", "simd", "cycles", "lut", "ff", "bram18", "dsp"):
            assert key in layer
    assert set(d["overheads"]) == {"shell", "dma", "fifos", "width_converters"}
    conv0 = next(x for x in d["layers"] if x["name"] == "conv0")
    assert (conv0["pe"], conv0["simd"]) == (16, 3)  # given folding kept


def test_table_output(design, capsys):
    code, out, _ = run(["estimate", str(design), "--target", "pynq-z2"], capsys)
    assert code == 0
    assert "MVAU" in out and "SlidingWindow" in out and "frames/s" in out and "BRAM18" in out


def test_fps_switches_to_smallest_design(design, capsys):
    _, out_fast, _ = run(["estimate", str(design), "--json"], capsys)
    _, out_slow, _ = run(["estimate", str(design), "--json", "--fps", "500"], capsys)
    fast, slow = json.loads(out_fast), json.loads(out_slow)
    assert slow["meets_fps"] is True and slow["fps"] >= 500
    assert slow["lut"] <= fast["lut"]


def test_clock_and_target_file(design, tmp_path, capsys):
    board = tmp_path / "board.toml"
    board.write_text(
        'name = "mini"\nkind = "fpga"\npart = "xc7z010clg400-1"\nlut = 17600\n'
        "ff = 35200\nbram18 = 120\ndsp = 80\nclock_mhz = 50.0\nio_width_bits = 64\n"
    )
    code, out, _ = run(
        ["estimate", str(design), "--target-file", str(board), "--json", "--clock-mhz", "125"],
        capsys,
    )
    d = json.loads(out)
    assert d["target"] == "mini" and d["clock_mhz"] == 125.0
    assert code in (0, 2)


def test_impossible_design_is_a_one_line_error_naming_the_resource(tmp_path, capsys):
    big = dict(
        DESIGN,
        layers=[
            {"op": "fc", "out": 4096, "wbits": 4, "abits": 4},
            {"op": "fc", "out": 10, "wbits": 4, "abits": None},
        ],
    )
    p = tmp_path / "big.json"
    p.write_text(json.dumps(big))
    code, _, err = run(["estimate", str(p), "--target", "pynq-z2"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hwprune: error:")
    assert "bram18" in lines[0] and "does not fit pynq-z2" in lines[0]


@pytest.mark.parametrize(
    "content, msg",
    [
        ("{", "not valid JSON"),
        (
            json.dumps(
                dict(DESIGN, layers=[{"op": "fc", "out": 10, "wbits": 1, "abits": None, "pe": 3}])
            ),
            "pe=3 is illegal",
        ),
    ],
)
def test_bad_designs_are_one_line_errors(tmp_path, capsys, content, msg):
    p = tmp_path / "bad.json"
    p.write_text(content)
    code, _, err = run(["estimate", str(p)], capsys)
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1


def test_unknown_target_and_missing_file(design, tmp_path, capsys):
    code, _, err = run(["estimate", str(design), "--target", "pynq-z9"], capsys)
    assert code == 2 and "unknown target 'pynq-z9'" in err
    code, _, err = run(["estimate", str(tmp_path / "nope.json")], capsys)
    assert code == 2 and "does not exist" in err


def test_targets_command_through_the_real_cli(capsys):
    code, out, _ = run(["targets", "--json"], capsys)
    assert code == 0 and "pynq-z2" in {x["name"] for x in json.loads(out)}


@pytest.mark.slow
def test_qonnx_model_is_priced_like_its_json_design(tmp_path, capsys):
    """`hwprune estimate MODEL.onnx` lowers a Brevitas QONNX export to the same dataflow graph
    as the JSON design of that network: same nodes, folding and cycles."""
    pytest.importorskip("hwprune.export.lower")
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
    q = to_brevitas(build_model(spec), [2, 2, 2], [2, 2, None], input_scale=16.0).eval()
    onnx_path = tmp_path / "tiny.onnx"
    export_qonnx(q, input_t=torch.rand(1, 1, 8, 8), export_path=str(onnx_path), dynamo=False)
    design = {
        "name": "tiny",
        "input": {"shape": [1, 8, 8], "bits": 8},
        "layers": [
            {**layers[0], "wbits": 2, "abits": 2},
            layers[1],
            {**layers[2], "wbits": 2, "abits": 2},
            {**layers[3], "wbits": 2, "abits": None},
        ],
    }
    json_path = tmp_path / "tiny.json"
    json_path.write_text(json.dumps(design))
    code_o, out_o, err_o = run(["estimate", str(onnx_path), "--json", "--fps", "20000"], capsys)
    code_j, out_j, _ = run(["estimate", str(json_path), "--json", "--fps", "20000"], capsys)
    assert code_o == 0, err_o
    assert code_j == 0
    o, j = json.loads(out_o), json.loads(out_j)
    assert [x["op"] for x in o["layers"]] == [x["op"] for x in j["layers"]]
    assert [x["cycles"] for x in o["layers"]] == [x["cycles"] for x in j["layers"]]
    assert o["node_cycles"] == j["node_cycles"] and o["meets_fps"] and j["meets_fps"]
    assert o["lut"] <= j["lut"] * 1.01  # real weights can only narrow the accumulators


def test_a_design_with_res_type_per_layer_is_priced_as_given(tmp_path, capsys):
    """The search writes each conv/fc layer's multiplier resource into its design JSON."""
    d = json.loads(json.dumps(DESIGN))
    p = tmp_path / "res.json"
    for res in ("lut", "dsp"):  # 8-bit pixels: DSPs by the fixed rule, LUTs if given
        d["layers"][0]["res_type"] = res
        p.write_text(json.dumps(d))
        code, out, _ = run(["estimate", str(p), "--target", "pynq-z2", "--json"], capsys)
        assert code == 0
        e = json.loads(out)
        conv0 = next(x for x in e["layers"] if x["name"] == "conv0")
        assert conv0["res_type"] == e["folding"]["conv0"]["res_type"] == res
        assert (conv0["dsp"] > 0) == (res == "dsp")
    code, out, _ = run(["estimate", str(p), "--target", "pynq-z2"], capsys)
    assert code == 0 and "mult" in out and " dsp " in out
    for bad, msg in (("fpga", "'res_type' must be one of"), ("dsp", "XNOR-popcount")):
        d["layers"][4]["res_type"] = bad  # binary weights on binary inputs: no multiplier
        p.write_text(json.dumps(d))
        code, _, err = run(["estimate", str(p), "--target", "pynq-z2"], capsys)
        assert code == 2 and msg in err
