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


def test_a_design_too_big_even_fully_folded_is_priced_and_reported(tmp_path, capsys):
    """No folding fits: the estimate still prices it (fits: no, the numbers), exit 0."""
    big = dict(
        DESIGN,
        layers=[
            {"op": "fc", "out": 4096, "wbits": 4, "abits": 4},
            {"op": "fc", "out": 10, "wbits": 4, "abits": None},
        ],
    )
    p = tmp_path / "big.json"
    p.write_text(json.dumps(big))
    code, out, _ = run(["estimate", str(p), "--target", "pynq-z2"], capsys)
    assert code == 0
    assert "fits: no" in out and "over the cap: bram18" in out
    code, out, _ = run(["estimate", str(p), "--target", "pynq-z2", "--json"], capsys)
    assert code == 0 and json.loads(out)["fits"] is False


#: a CNV-like design whose every conv/fc folding is given (as a search's design.json has it)
FOLDED = {
    "name": "folded",
    "input": {"shape": [3, 32, 32], "bits": 8},
    "layers": [
        {"op": "conv", "out_ch": 64, "kernel": 3, "wbits": 2, "abits": 2, "pe": 64, "simd": 27},
        {"op": "conv", "out_ch": 64, "kernel": 3, "wbits": 2, "abits": 2, "pe": 64, "simd": 64},
        {"op": "maxpool", "kernel": 2},
        {"op": "fc", "out": 128, "wbits": 2, "abits": 2, "pe": 16, "simd": 64},
        {"op": "fc", "out": 10, "wbits": 2, "abits": None, "pe": 10, "simd": 16},
    ],
}


@pytest.fixture()
def folded(tmp_path: Path) -> Path:
    p = tmp_path / "folded.json"
    p.write_text(json.dumps(FOLDED))
    return p


def test_fps_refolds_the_layers_not_pinned_and_says_which_were(folded, capsys):
    _, out, _ = run(["estimate", str(folded), "--json", "--util-cap", "1.0"], capsys)
    given = json.loads(out)
    assert given["pinned"][:2] == ["conv0_swg", "conv0"]  # no --fps: the file's folding
    assert given["folding"]["conv1"] == {"pe": 64, "simd": 64, "res_type": "lut"} or (
        given["folding"]["conv1"]["pe"] == 64 and given["folding"]["conv1"]["simd"] == 64
    )
    code, out, _ = run(["estimate", str(folded), "--json", "--fps", "500"], capsys)
    slow = json.loads(out)
    assert code == 0 and slow["pinned"] == [] and slow["meets_fps"] is True
    assert 500 <= slow["fps"] < given["fps"] / 5 and slow["lut"] < given["lut"] / 2
    code, out, _ = run(["estimate", str(folded), "--fps", "500", "--pin", "fc0"], capsys)
    assert code == 0 and "pinned (kept as given): fc0;" in out
    code, out, _ = run(["estimate", str(folded), "--fps", "500", "--pin", "fc0", "--json"], capsys)
    d = json.loads(out)
    assert d["pinned"] == ["fc0"] and d["folding"]["fc0"]["pe"] == 16
    assert d["folding"]["fc0"]["simd"] == 64
    code, _, err = run(["estimate", str(folded), "--fps", "500", "--pin", "nope"], capsys)
    assert code == 2 and "cannot pin nope" in err


def test_a_given_folding_over_the_cap_is_priced_as_given(folded, capsys):
    """Real boards run designs over 85% (CNV-W2A2: 280 of 280 BRAM18): price what is given,
    report fits: no with the numbers, exit 0, and keep the windows at their conv's SIMD."""
    code, out, err = run(["estimate", str(folded), "--util-cap", "1.0"], capsys)
    assert code == 0, err
    assert "fits: no" in out and "over the cap: lut" in out and "of 53,200 usable" in out
    code, out, _ = run(["estimate", str(folded), "--util-cap", "1.0", "--json"], capsys)
    d = json.loads(out)
    assert d["fits"] is False and d["util"]["lut"] > 1.0
    assert d["folding"]["conv0_swg"]["simd"] == 3 and d["folding"]["conv1_swg"]["simd"] == 64
    swg = next(x for x in d["layers"] if x["name"] == "conv1_swg")
    mvau = next(x for x in d["layers"] if x["name"] == "conv1")
    assert swg["cycles"] < 2 * mvau["cycles"]  # not re-folded to SIMD 1 (64x slower)


def test_gpu_target_prices_with_the_latency_model(folded, capsys):
    code, out, err = run(["estimate", str(folded), "--target", "jetson-orin-nano"], capsys)
    assert code == 0, err
    assert "runs as" in out and "int8" in out and "memory" in out and "samples/s" in out
    assert len([line for line in out.splitlines() if " conv " in line]) == 2
    code, out, _ = run(["estimate", str(folded), "--target", "jetson-orin-nano", "--json"], capsys)
    d = json.loads(out)
    assert d["target"] == "jetson-orin-nano" and d["latency_us"] > 0 and d["memory_mb"] > 0
    assert [x["precision"] for x in d["layers"]][:2] == ["int8", "int8"]


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


def test_a_uart_board_is_priced_with_its_link(tmp_path, capsys):
    """The ULX3S talks to its host over a USB-UART: the frame rate is the UART's bytes per frame at
    its baud rate (10 line bits a byte), the design says the link binds, and the folding spends no
    more than that rate needs."""
    mlp = {
        "name": "mlp",
        "input": {"shape": [1, 8, 8], "bits": 8},
        "layers": [
            {"op": "fc", "out": 64, "wbits": 2, "abits": 2},
            {"op": "fc", "out": 10, "wbits": 2, "abits": None},
        ],
    }
    p = tmp_path / "mlp.json"
    p.write_text(json.dumps(mlp))
    code, out, _ = run(["estimate", str(p), "--target", "ulx3s-85f", "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    from hwprune.targets import load_target

    t = load_target("ulx3s-85f")
    assert t.link == "uart" and d["link"] == f"uart {t.link_baud} baud"
    link_fps = t.link_baud / (64 * 10)  # 64 input bytes a frame
    assert d["binding"] == "io"
    assert d["fps"] <= link_fps and d["fps"] == pytest.approx(link_fps, rel=0.01)
    code, out, _ = run(["estimate", str(p), "--target", "ulx3s-85f"], capsys)
    assert "the host link: uart" in out
    code, out, _ = run(["estimate", str(p), "--target", "pynq-z2", "--json"], capsys)
    assert json.loads(out)["fps"] > 100 * link_fps  # a stream port is not a UART
