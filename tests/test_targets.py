"""Hardware target files: shipped boards, user files, malformed fields, kind dispatch."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hwprune.errors import TargetError
from hwprune.targets import FpgaTarget, fpga_target_from_dict, list_targets, load_target

REQUIRED_BOARDS = ("pynq-z1", "pynq-z2", "ultra96-v2", "zcu104", "zcu102", "kv260", "alveo-u250")

MINIMAL = """\
name = "my-board"
kind = "fpga"
part = "xc7z010clg400-1"
lut = 17600
ff = 35200
bram18 = 120
dsp = 80
clock_mhz = 125.0
io_width_bits = 64
"""


@pytest.mark.parametrize("name", REQUIRED_BOARDS)
def test_shipped_boards_load_with_sane_numbers(name):
    t = load_target(name)
    assert isinstance(t, FpgaTarget) and t.kind == "fpga" and t.name == name
    assert t.lut > 10_000 and t.ff >= t.lut and t.bram18 > 100 and t.dsp > 100
    assert 0 < t.util_cap <= 1 and t.clock_mhz > 0 and t.io_width_bits in (64, 128, 512)
    assert t.shell_lut > 0 and t.dma_lut > 0


def test_z7020_capacity_matches_the_data_sheet():
    for name in ("pynq-z1", "pynq-z2"):
        t = load_target(name)
        assert (t.part, t.lut, t.ff, t.bram18, t.dsp, t.uram) == (
            "xc7z020clg400-1",
            53200,
            106400,
            280,
            220,
            0,
        )


def test_list_targets_contains_every_board():
    assert set(REQUIRED_BOARDS) <= set(list_targets())


def test_user_target_file(tmp_path: Path):
    f = tmp_path / "my_board.toml"
    f.write_text(MINIMAL)
    t = load_target(f)
    assert t.name == "my-board" and t.dsp == 80 and t.util_cap == 0.85
    assert load_target(str(f)).lut == 17600


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda s: s.replace("lut = 17600\n", ""), "lut"),
        (lambda s: s.replace("dsp = 80", 'dsp = "many"'), "dsp"),
        (lambda s: s.replace("clock_mhz = 125.0", "clock_mhz = -5"), "clock_mhz"),
        (lambda s: s + "util_cap = 1.5\n", "util_cap"),
        (lambda s: s + "luts = 5\n", "luts"),
        (lambda s: s.replace('kind = "fpga"', 'kind = "asic"'), "kind"),
        (lambda s: s.replace('part = "xc7z010clg400-1"', "part = 7"), "part"),
    ],
)
def test_malformed_file_names_the_bad_field(tmp_path: Path, edit, field):
    f = tmp_path / "bad.toml"
    f.write_text(edit(MINIMAL))
    with pytest.raises(TargetError, match=field):
        load_target(f)


def test_invalid_toml_and_unknown_names(tmp_path: Path):
    f = tmp_path / "broken.toml"
    f.write_text("lut = = 3\n")
    with pytest.raises(TargetError, match="not valid TOML"):
        load_target(f)
    with pytest.raises(TargetError, match="unknown target 'pynq-z3'"):
        load_target("pynq-z3")
    with pytest.raises(TargetError, match="does not exist"):
        load_target(tmp_path / "missing.toml")


def test_gpu_kind_is_dispatched_to_the_gpu_reader(tmp_path: Path):
    pytest.importorskip("hwprune.cost.gpu")
    f = tmp_path / "gpu.toml"
    f.write_text(
        'name = "toy-gpu"\nkind = "gpu"\nprecisions = ["fp32"]\n'
        "peak_tops = {fp32 = 1.0}\nmem_bw_gbps = 100.0\n"
    )
    t = load_target(f)
    assert t.kind == "gpu" and t.name == "toy-gpu"
    from hwprune.targets import GpuTarget

    assert isinstance(t, GpuTarget) and not isinstance(t, FpgaTarget)


def test_as_target_loads_names_and_paths_and_refuses_other_objects(tmp_path: Path):
    """Callers dispatch with isinstance, so anything that is not a loaded target is loaded
    (a name or a path) or refused: nothing relies on duck typing."""
    from hwprune.search.pricing import price
    from hwprune.search.study import resolve_objectives
    from hwprune.targets import GpuTarget, as_target

    board = load_target("pynq-z2")
    assert as_target(board) is board
    assert as_target("pynq-z2") == board
    f = tmp_path / "my-board.toml"
    f.write_text(MINIMAL)
    assert as_target(f) == as_target(str(f)) == load_target(f)
    assert isinstance(as_target("jetson-orin-nano"), GpuTarget)
    with pytest.raises(TargetError, match="not SimpleNamespace"):
        from types import SimpleNamespace

        as_target(SimpleNamespace(kind="gpu", name="fake"))  # type: ignore[arg-type]
    # a name is priced as the loaded target would be, on both kinds
    from hwprune.recipe import Recipe

    design = {
        "input": {"shape": [1, 8, 8], "bits": 8},
        "layers": [
            {"op": "fc", "out": 16, "wbits": 4, "abits": 4},
            {"op": "fc", "out": 10, "wbits": 4, "abits": None},
        ],
    }
    for name in ("pynq-z2", "jetson-orin-nano"):
        assert price(design, name, Recipe())[1] == price(design, load_target(name), Recipe())[1]
    assert resolve_objectives(Recipe(), "jetson-orin-nano").objectives == (
        "accuracy",
        "latency_us",
    )


def test_fpga_target_from_dict_defaults():
    t = fpga_target_from_dict(
        {
            "part": "x",
            "lut": 1,
            "ff": 1,
            "bram18": 1,
            "dsp": 0,
            "clock_mhz": 100,
            "io_width_bits": 32,
        }
    )
    assert t.family == "zynq7000" and t.capacity() == {"lut": 1, "ff": 1, "bram18": 1, "dsp": 0}


def _app() -> typer.Typer:
    from hwprune.commands import targets_cmd

    app = typer.Typer()
    targets_cmd.register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps typer from flattening the app
        pass

    return app


def test_targets_command_lists_boards_as_table_and_json(tmp_path: Path):
    import json

    r = CliRunner().invoke(_app(), ["targets"], terminal_width=160)
    assert r.exit_code == 0, r.output
    for name in REQUIRED_BOARDS:
        assert name in r.output
    assert "53,200" in r.output and "xc7z020" in r.output
    f = tmp_path / "mine.toml"
    f.write_text(MINIMAL)
    r = CliRunner().invoke(_app(), ["targets", "--json", "--target-file", str(f)])
    rows = json.loads(r.output)
    by_name = {x["name"]: x for x in rows}
    assert by_name["zcu104"]["dsp"] == 1728 and by_name["my-board"]["lut"] == 17600
