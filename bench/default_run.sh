#!/usr/bin/env bash
# Wall time of the README's main command, `hwprune search --target pynq-z2`, end to end:
# parent training (cold cache), all trials, the final fine-tune and the export into best/.
# Goal: <= 120 s on a 2-core CPU, a front of >= 4 designs, none of which another front member
# matches or beats on accuracy and frames/s with fewer LUTs. Writes bench/results/default_run.md.
#
# Usage: bash bench/default_run.sh [extra hwprune search flags]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
py="${PYTHON:-$here/.venv/bin/python}"
[ -x "$py" ] || py=python3
out="$(mktemp -d /tmp/hwprune-default-run.XXXXXX)"
trap 'rm -rf "$out"' EXIT

start=$(date +%s.%N)
TIMEFORMAT='%U %S'
{ time "$py" -m hwprune search --target pynq-z2 --out "$out/run" "$@" > "$out/log.txt" 2>&1 ; } \
  2> "$out/time.txt"
cat "$out/log.txt"
end=$(date +%s.%N)
wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
# CPU seconds (user + system) of the command: what it costs on a machine shared with others
cpu=$(tail -n 1 "$out/time.txt" | awk '{ printf "%.1f", $1 + $2 }')

summary="$out/run/summary.json"
read -r trials feasible infeasible stopped test_acc fps lut parent_s trials_s final_s export_s \
  front_n cheaper objectives < <(
  "$py" - "$summary" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c, ch, t = s["trials"], s["chosen"] or {}, s["timings_s"]
front = s["front"]
# front members matched or beaten on accuracy and frames/s by another member with fewer LUTs
cheaper = sum(
    any(
        b is not a and b["accuracy"] >= a["accuracy"] and b["hw"]["fps"] >= a["hw"]["fps"]
        and b["hw"]["lut"] < a["hw"]["lut"]
        for b in front
    )
    for a in front
)
print(c["complete"], c["feasible"], c["infeasible"], c["stopped"],
      f'{ch.get("test_accuracy", float("nan")):.4f}', f'{ch.get("hw", {}).get("fps", 0):.0f}',
      f'{ch.get("hw", {}).get("lut", 0):.0f}',
      t.get("parent_s", 0), t.get("trials_s", 0), t.get("final_s", 0), t.get("export_s", 0),
      len(front), cheaper, ",".join(s["objectives"]))
PY
)

mkdir -p bench/results
cat > bench/results/default_run.md <<MD
# Default run: \`hwprune search --target pynq-z2\`

- date: $(date +%F)
- machine: 2-core x86_64 CPU, 24 GiB, shared with other jobs at the time (load average $(cut -d' ' -f1 /proc/loadavg) at the end)
- command: \`hwprune search --target pynq-z2 $*\` (recipe digits-mlp, cold parent cache)

| measure | value |
| --- | --- |
| wall time, end to end (s) | $wall |
| CPU time, user + system (s) | $cpu |
| goal (s) | <= 120 |
| trials finished | $trials ($feasible feasible, $infeasible infeasible, $stopped stopped early) |
| parent training (s) | $parent_s |
| trials (s) | $trials_s |
| final fine-tune (s) | $final_s |
| export (s) | $export_s |
| chosen design: test accuracy | $test_acc |
| chosen design: frames/s (cost model, pynq-z2) | $fps |
| chosen design: LUTs (best/estimate.json) | $lut |
| objectives | $objectives |
| front size (goal >= 4) | $front_n |
| front members matched or beaten on accuracy and frames/s by a cheaper one (goal 0) | $cheaper |
MD
echo "wall time: ${wall} s (goal <= 120 s); wrote bench/results/default_run.md"
