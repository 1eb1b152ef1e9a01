#!/usr/bin/env bash
# The open-hardware must-show of issue 15, end to end: `hwprune search --target ulx3s-85f` with
# the default recipe (training, trials, final fine-tune, export with --rtl auto = full on ECP5:
# Verilator, Yosys, nextpnr-ecp5, ecppack). Then reads what best/ holds: the bitstream's header
# part, nextpnr's achieved Fmax against the priced clock (bitstream/timing.json), Verilator's
# result (rtl/sim.log) and the estimate against Yosys (estimate.json vs synth/report.json).
# Writes bench/results/ulx3s_search.md; exits non-zero when the search failed or a check fails.
#
# Usage: bash bench/ulx3s_search.sh [extra hwprune search flags]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
py="${PYTHON:-$here/.venv/bin/python}"
out="$(mktemp -d /tmp/hwprune-ulx3s.XXXXXX)"
keep=0  # a failed run's folder is kept for a look
trap '[ "$keep" = 1 ] && echo "kept $out" || rm -rf "$out"' EXIT
load="$(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
set +e
"$py" -m hwprune search --target ulx3s-85f --out "$out/run" "$@" > "$out/log.txt" 2>&1
rc=$?
set -e
wall=$(( $(date +%s) - start ))
tail -n 5 "$out/log.txt"
keep=1
"$py" - "$out/run" "$rc" "$wall" "$load" "$*" <<'PY'
import datetime, importlib.metadata as md, json, platform, subprocess, sys
from pathlib import Path

run, rc, wall, load, extra = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
best = run / "best"
def read(p):
    return json.loads(p.read_text()) if p.exists() else {}
timing = read(best / "bitstream" / "timing.json")
est, synth = read(best / "estimate.json"), read(best / "synth" / "report.json")
summary = read(run / "summary.json")
sim = (best / "rtl" / "sim.log").read_text() if (best / "rtl" / "sim.log").exists() else ""
result = next((l.split("=", 1)[1] for l in sim.splitlines() if l.startswith("result=")), "missing")
rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
tools = ", ".join(f"{k} {v}" for k, v in (timing.get("tools") or {}).items())
checks = {
    "search exit 0": rc == 0,
    "bitstream header names LFE5U-85F": timing.get("bitstream_header_part") == "LFE5U-85F",
    "nextpnr Fmax >= priced clock": bool(timing.get("meets_priced_clock")),
    "Verilator BIT-EXACT": result == "BIT-EXACT",
}
total = synth.get("total") or {}
rows = []
for k, ek in (("lut", "lut"), ("ff", "ff"), ("bram", "bram18"), ("dsp", "dsp")):
    e, y = est.get(ek), total.get(k)
    err = f"{100 * (e - y) / y:+.1f}%" if e is not None and y else ""
    rows.append(f"| {k} | {e} | {y} | {err} |")
ch = summary.get("chosen") or {}
lines = [
    "# `hwprune search --target ulx3s-85f` end to end (bench/ulx3s_search.sh)",
    "",
    f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ}. Machine: "
    f"{platform.machine()}, 2 cores shared (load {load} at the start); Python "
    f"{platform.python_version()}, torch {md.version('torch')}; {tools}; hwprune {rev}.",
    f"Command: `{('hwprune search --target ulx3s-85f ' + extra).strip()}` (default recipe); "
    f"wall {wall} s; exit {rc}. Seconds by stage (summary.json; a parent near 0 s came from "
    f"the cache of an earlier run): {summary.get('timings_s')}.",
    "",
    "| check | result |",
    "|---|---|",
    *[f"| {k} | {'yes' if v else 'NO'} |" for k, v in checks.items()],
    "",
    f"Chosen trial {ch.get('trial')}: test accuracy {ch.get('test_accuracy')}; "
    f"nextpnr-ecp5 achieved {timing.get('achieved_fmax_mhz')} MHz against the priced "
    f"{timing.get('priced_clock_mhz')} MHz (model's prediction {timing.get('predicted_fmax_mhz')} "
    f"MHz); {timing.get('frames_per_s')} frames/s over the "
    f"{(timing.get('link') or {}).get('baud')}-baud UART; Verilator: {result}.",
    "",
    "Estimate (`best/estimate.json`, yosys-ecp5 model) vs Yosys (`best/synth/report.json`):",
    "",
    "| resource | estimate | Yosys | error |",
    "|---|---:|---:|---:|",
    *rows,
    "",
]
Path("bench/results/ulx3s_search.md").write_text("\n".join(lines))
print("\n".join(lines))
sys.exit(0 if all(checks.values()) else 1)
PY
keep=0
