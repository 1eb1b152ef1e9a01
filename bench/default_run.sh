#!/usr/bin/env bash
# Wall time of the README's main command, `hwprune search --target pynq-z2`, end to end:
# parent training (cold cache), all trials, the final fine-tune and the export into best/.
# Goal: <= 120 s on a 2-core CPU. Writes bench/results/default_run.md.
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
"$py" -m hwprune search --target pynq-z2 --out "$out/run" "$@" | tee "$out/log.txt"
end=$(date +%s.%N)
wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')

summary="$out/run/summary.json"
read -r trials feasible infeasible stopped test_acc fps parent_s trials_s final_s export_s < <(
  "$py" - "$summary" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c, ch, t = s["trials"], s["chosen"] or {}, s["timings_s"]
print(c["complete"], c["feasible"], c["infeasible"], c["stopped"],
      f'{ch.get("test_accuracy", float("nan")):.4f}', f'{ch.get("hw", {}).get("fps", 0):.0f}',
      t.get("parent_s", 0), t.get("trials_s", 0), t.get("final_s", 0), t.get("export_s", 0))
PY
)

mkdir -p bench/results
cat > bench/results/default_run.md <<MD
# Default run: \`hwprune search --target pynq-z2\`

- date: $(date +%F)
- machine: 2-core x86_64 CPU, 24 GiB, shared with other jobs at the time
- command: \`hwprune search --target pynq-z2 $*\` (recipe digits-mlp, cold parent cache)

| measure | value |
| --- | --- |
| wall time, end to end (s) | $wall |
| goal (s) | <= 120 |
| trials finished | $trials ($feasible feasible, $infeasible infeasible, $stopped stopped early) |
| parent training (s) | $parent_s |
| trials (s) | $trials_s |
| final fine-tune (s) | $final_s |
| export (s) | $export_s |
| chosen design: test accuracy | $test_acc |
| chosen design: frames/s (cost model, pynq-z2) | $fps |
MD
echo "wall time: ${wall} s (goal <= 120 s); wrote bench/results/default_run.md"
