"""Single-kernel Yosys runs for ``bench/rtl_fidelity.py``: hwprune's residual-block kernels
(``hwp_dup``, ``hwp_add``, ``hwp_gap``, ``hwp_thresh``) and deep ``hwp_fifo``s with random
Verilog parameters, all instances in one ``synth_ecp5 -noflatten`` run, counted apart.

Usage: through ``python bench/rtl_fidelity.py synth-kernels --seed 11 -n 70 --out k.json``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

# --- single kernels (the residual blocks' RTL, deep FIFOs) ------------------------------------

_MODULES = {
    "dup": "hwp_dup",
    "add": "hwp_add",
    "gap": "hwp_gap",
    "thresh": "hwp_thresh",
    "fifo": "hwp_fifo",
}


def random_kernel(rng: np.random.Generator, i: int) -> tuple[str, dict[str, int]]:
    """One residual-block kernel (or a deep FIFO) with random Verilog parameters."""
    k = ["dup", "add", "gap", "thresh", "fifo"][i % 5]
    if k == "dup":
        return k, {"W": int(rng.choice([4, 8, 16, 32, 64, 128])), "N": 64}
    if k == "fifo":
        return k, {
            "W": int(rng.choice([4, 8, 16, 32, 64])),
            "DEPTH": int(rng.choice([16, 32, 64, 128, 256, 512])),
        }
    if k == "add":
        pe = int(rng.choice([1, 2, 4, 8, 16]))
        ib0, ib1 = int(rng.choice([2, 3, 4, 8])), int(rng.choice([2, 3, 4, 8]))
        eq = rng.random() < 0.5
        p, q = (1, 1) if eq else (int(rng.integers(1, 16)), int(rng.integers(1, 16)))
        ob = max(ib0, ib1) + 1 + (0 if eq else int(max(p, q)).bit_length())
        return k, {
            "N": 64,
            "PE": pe,
            "IB0": ib0,
            "IT0": 1,
            "IB1": ib1,
            "IT1": int(rng.integers(0, 2)),
            "OB": ob,
            "P": p,
            "Q": q,
        }
    c = int(rng.choice([8, 16, 32, 64]))
    pe = int(rng.choice([d for d in (1, 2, 4, 8) if c % d == 0]))
    if k == "gap":
        ib, hw = int(rng.choice([2, 3, 4, 8])), int(rng.choice([4, 16, 49, 64]))
        return k, {
            "HW": hw,
            "C": c,
            "PE": pe,
            "IB": ib,
            "IT": 0,
            "AW": ib + hw.bit_length() + 1,
            "SHIFT": hw.bit_length() - 1,
            "RND": 1,
            "OMIN": 0,
            "OMAX": (1 << ib) - 1,
            "OB": ib,
            "OT": 0,
        }
    ib, ob = int(rng.choice([4, 6, 8, 10])), int(rng.choice([1, 2, 3, 4, 6]))
    nt = (1 << ob) - 1
    tmode = int(nt >= 16)
    return k, {
        "C": c,
        "PE": pe,
        "NVEC": 4,
        "IB": ib,
        "IT": 1,
        "NT": nt,
        "TMODE": tmode,
        "NB": nt.bit_length() if tmode else 1,
        "TB": ib + 2,
        "OB": ob,
        "OT": 0,
        "OBIAS": 0,
    }


def _threshold_files(d: dict[str, int], name: str, folder: Path, rng: np.random.Generator) -> None:
    """Random sorted thresholds in ``hwp_thresh``'s ROM files (one, or one per stage and PE)."""
    nf, pe, nt, tb = d["C"] // d["PE"], d["PE"], d["NT"], d["TB"]
    lim = 1 << (tb - 3)
    t = np.sort(rng.integers(-lim, lim, size=(nf, pe, nt)), axis=2) & ((1 << tb) - 1)
    if d["TMODE"] == 0:
        words = [sum(int(x) << (i * tb) for i, x in enumerate(t[f].reshape(-1))) for f in range(nf)]
        digits = (tb * pe * nt + 3) // 4
        (folder / f"{name}_t.hex").write_text("".join(f"{w:0{digits}x}\n" for w in words))
        return
    nb = d["NB"]
    pad = np.full((nf, pe, (1 << nb) - nt), (1 << (tb - 2)) & ((1 << tb) - 1))
    tp = np.concatenate([t, pad], axis=2)
    for s in range(nb):
        j = nb - 1 - s
        idx = np.arange(1 << s) * (1 << (j + 1)) + (1 << j) - 1
        for q in range(pe):
            vals = tp[:, q, :][:, idx].reshape(-1)
            (folder / f"{name}_t_{s:02d}_{q:02d}.hex").write_text(
                "".join(f"{int(v):0{(tb + 3) // 4}x}\n" for v in vals)
            )


def _ports(k: str, d: dict[str, int]) -> list[tuple[str, int, str]]:
    if k in ("dup", "fifo"):
        extra = [("out1_data", d["W"], "output")] if k == "dup" else []
        return [("in_data", d["W"], "input"), ("out_data", d["W"], "output"), *extra]
    if k == "add":
        return [
            ("in_data", d["PE"] * d["IB0"], "input"),
            ("in1_data", d["PE"] * d["IB1"], "input"),
            ("out_data", d["PE"] * d["OB"], "output"),
        ]
    return [("in_data", d["PE"] * d["IB"], "input"), ("out_data", d["PE"] * d["OB"], "output")]


def synth_kernels(seed: int, n: int, family: str = "ecp5") -> list[dict[str, Any]]:
    """Yosys counts of ``n`` random single kernels, all in one ``synth_ecp5 -noflatten`` (or
    ``synth_xilinx -family xc7``, which keeps the hierarchy) run (every instance counted apart;
    its ports are top-level ports, so nothing is optimised away)."""
    from hwprune.export.rtl.synth import _ECP5, _XILINX, _counts, _flat, _module_cells
    from hwprune.export.rtl.tools import run_tool, yowasp
    from hwprune.resources import resource_dir

    rng = np.random.default_rng(seed)
    insts = [random_kernel(rng, i) for i in range(n)]
    tmp = Path(tempfile.mkdtemp(prefix="hwprune-fid-"))
    try:
        for f in ("hwp_stream.v", "hwp_residual.v"):
            shutil.copyfile(resource_dir("rtl_templates") / f, tmp / f)
        ports, body = ["input wire clk", "input wire rst"], []
        for i, (k, d) in enumerate(insts):
            conns = [".clk(clk)", ".rst(rst)"]
            for pname, w, io in _ports(k, d):
                ports.append(f"{io} wire [{w - 1}:0] {pname}{i}")
                conns.append(f".{pname}({pname}{i})")
            hs = ["in_valid", "out_ready"] + (["in1_valid"] if k == "add" else [])
            hs += ["out1_ready"] if k == "dup" else []
            ports += [f"input wire {v}{i}" for v in hs] + [f"output wire ov{i}"]
            conns += [f".{v}({v}{i})" for v in hs] + [f".out_valid(ov{i})"]
            params = {a: str(b) for a, b in d.items()}
            if k == "thresh":
                _threshold_files(d, f"k{i}", tmp, rng)
                params["TFILE"] = f'"k{i}_t"'
            ps = ", ".join(f".{a}({b})" for a, b in params.items())
            body.append(f"    {_MODULES[k]} #({ps}) u_k{i} ({', '.join(conns)});")
        top = "module sweep_top (" + ", ".join(ports) + ");\n" + "\n".join(body) + "\nendmodule\n"
        (tmp / "top.v").write_text(top)
        flow = "synth_ecp5 -noflatten" if family == "ecp5" else f"synth_xilinx -family {family}"
        script = (
            f"read_verilog -defer hwp_stream.v hwp_residual.v top.v; {flow} -top sweep_top; "
            "tee -q -o stat.json stat -json; write_json -compat-int netlist.json"
        )
        t0 = time.perf_counter()
        run_tool([yowasp("yosys"), "-q", "-p", script], cwd=tmp, timeout=3600)
        secs = time.perf_counter() - t0
        table = _ECP5 if family == "ecp5" else _XILINX
        mods = _module_cells(json.loads((tmp / "stat.json").read_text()))
        cells = json.loads((tmp / "netlist.json").read_text())["modules"]["sweep_top"]["cells"]
        return [
            {
                "kernel": k,
                "params": d,
                "seconds": round(secs / n, 2),
                "truth": _counts(_flat(cells[f"u_k{i}"]["type"].lstrip("\\"), mods), table),
                "cells": _flat(cells[f"u_k{i}"]["type"].lstrip("\\"), mods),
            }
            for i, (k, d) in enumerate(insts)
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _kernel_params(k: str, d: dict[str, int]) -> dict[str, int]:
    """The model's parameters of a single-kernel sample."""
    names = {
        "dup": ("W",),
        "fifo": ("W", "DEPTH"),
        "add": ("PE", "IB0", "IB1", "OB", "P", "Q"),
        "gap": ("C", "PE", "AW", "OB"),
        "thresh": ("C", "PE", "IB", "NT"),
    }[k]
    return {n: d[n] for n in names}
