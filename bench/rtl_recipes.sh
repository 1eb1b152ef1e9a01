#!/usr/bin/env bash
# Verilator on the shipped recipes' chosen designs: `hwprune search --recipe R --rtl sim` for each
# recipe (reduced budget: --trials N, default 6), then the chosen design's rtl/sim.log:
# result=BIT-EXACT or not, and whether every kernel's counted cycles per frame equal the IR's
# and the cost model's (cycles_match). Writes bench/results/rtl_recipes.md.
#
# Usage: [APPEND=1] [EXTRA_ARGS="..."] bash bench/rtl_recipes.sh [TRIALS] [RECIPE ...]
# EXTRA_ARGS: more `hwprune search` flags (e.g. "--set parent.epochs=1 --epochs 1"), named in the
# row. APPEND=1: add the rows and kernel tables to the existing results file, keeping its rows.
# fashion-cnv is left out by default: its parent alone takes about an hour on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
py="${PYTHON:-$here/.venv/bin/python}"
trials="${1:-6}"
shift || true
recipes=("$@")
read -r -a extra <<< "${EXTRA_ARGS:-}"
append="${APPEND:-0}"
[ ${#recipes[@]} -gt 0 ] || recipes=(digits-mlp digits-cnn dscnn-digits resnet8-digits mnist-tfc)
work="$(mktemp -d /tmp/hwprune-rtl-recipes.XXXXXX)"
trap 'rm -rf "$work"' EXIT
res="bench/results/rtl_recipes.md"
[ "$append" != 1 ] || [ -f "$res" ] || { echo "APPEND=1: no $res to append to" >&2; exit 2; }
{
  echo "# Verilator on the shipped recipes' chosen designs (bench/rtl_recipes.sh)"
  echo
  echo "Date: $(date -u +%Y-%m-%dT%H:%M:%SZ). Machine: $(nproc) cores $(uname -m), load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg) at the start. Verilator $("$py" -c 'import importlib.metadata as m; print(m.version("verilator"))')," \
    "hwprune $(git rev-parse --short HEAD)."
  echo
  echo "Each row: \`hwprune search --recipe R --target pynq-z2 --trials $trials --rtl sim\`"
  echo "(reduced trial budget; the recipe's epochs), then \`best/rtl/sim.log\` of the chosen"
  echo "design: Verilator streams the search's test-set golden vectors through the whole RTL"
  echo "(random input gaps and output back-pressure, then an ideal source and sink). A kernel"
  echo "matches when its counted cycles equal the IR's loop count and the cost model's (a"
  echo "max-pool node is two kernels, window and pool, priced as the slower of the two)."
  echo
  echo "| recipe | exit | result | cycles per kernel = IR = cost model | kernels | frame interval | wall s |"
  echo "|---|---:|---|---|---:|---|---:|"
} > "$work/head.md"
touch "$work/rows.md"
for r in "${recipes[@]}"; do
  t0=$(date +%s)
  name="$r"  # a row with other flags, or appended later, names its budget, date and load
  [ ${#extra[@]} -eq 0 ] && [ "$append" != 1 ] ||
    name="$r (\`--trials $trials ${extra[*]}\`; $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 \
      /proc/loadavg), hwprune $(git rev-parse --short HEAD))"
  set +e
  "$py" -m hwprune search --recipe "$r" --target pynq-z2 --trials "$trials" --rtl sim \
    --quiet --out "$work/$r" "${extra[@]}" > "$work/$r.log" 2>&1
  rc=$?
  set -e
  wall=$(( $(date +%s) - t0 ))
  log="$work/$r/best/rtl/sim.log"
  if [ -f "$log" ]; then
    result=$(grep -o 'result=[A-Z-]*' "$log" | tail -1 | cut -d= -f2)
    # kernel rows: name kind counted ir cost-model ok|DIFFERENT ('-': not a cost-model node);
    # a max-pool node is two kernels (PoolWindow, then MaxPool): its cost-model cycles are the
    # slower of the two, so the MaxPool row's cost model is checked against that maximum
    match=$(awk '/ (ok|DIFFERENT)$/ { n++; want = $3
                   if ($2 == "PoolWindow") win = $3
                   if ($2 == "MaxPool" && win > want) want = win
                   if ($3 == $4 && ($5 == "-" || $5 == want)) m++ }
                 END { printf "%s (%d of %d kernels)", (m == n ? "yes" : "no"), m, n }' "$log")
    kernels=$(grep -cE ' (ok|DIFFERENT)$' "$log" || true)
    interval=$(grep -o 'frame_interval=[0-9.]*' "$log" | head -1 | cut -d= -f2)
  else
    result="no sim.log ($(tail -n 1 "$work/$r.log"))"; match="-"; kernels="-"; interval="-"
  fi
  echo "| $name | $rc | $result | $match | $kernels | ${interval:--} | $wall |" >> "$work/rows.md"
  if [ -f "$log" ]; then  # the kernel table of sim.log, for the record
    { echo; echo "#### $r: cycles per frame (kernel, kind, counted, IR, cost model)"; echo
      echo '```'; grep -E ' (ok|DIFFERENT)$' "$log"; echo '```'; } >> "$work/tables.md"
  fi
done
if [ "$append" = 1 ]; then  # the new rows after the table's last row, the tables at the end
  awk -v rows="$work/rows.md" 'function add() { while ((getline l < rows) > 0) print l; done = 1 }
       !done && prev ~ /^\|/ && $0 !~ /^\|/ { add() } { print; prev = $0 } END { if (!done) add() }' \
    "$res" > "$res.tmp"
  cat "$work/tables.md" >> "$res.tmp" 2>/dev/null || true
else
  { cat "$work/head.md" "$work/rows.md"; echo; echo "## Kernel tables"
    cat "$work/tables.md" 2>/dev/null || true; } > "$res.tmp"
fi
mv "$res.tmp" "$res"
cat "$res"
