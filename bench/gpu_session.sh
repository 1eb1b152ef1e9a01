#!/usr/bin/env bash
# The CUDA checks of hwprune, in one go, on a machine with an NVIDIA GPU (what a CPU-only CI
# cannot run). Writes everything under OUT (default ./gpu-out):
#   1. calibrate   hwprune calibrate --device cuda   -> cuda-local.toml (the fitted target)
#   2. fidelity    bench/latency_fidelity.py --device cuda, with the calibrated target and with
#                  the shipped datasheet target (GPU_TARGET, default h100-sxm)
#   3. search      a small digits-mlp search on the calibrated target, fine-tuning on cuda and
#                  timing every trained candidate on the GPU (--measure)
#   4. training    one parent + QAT fine-tune of mlp-digits on cuda vs cpu (accuracy, seconds)
#
# Usage: [STEPS="1 2"] bash bench/gpu_session.sh [OUT]   (hwprune importable, e.g. pip install -e . or PYTHONPATH)
set -euo pipefail
OUT=${1:-${OUT:-gpu-out}}
GPU_TARGET=${GPU_TARGET:-h100-sxm}
N=${N:-40}
STEPS=${STEPS:-1 2 3 4}   # which of the four checks to run
step() { [[ " $STEPS " == *" $1 "* ]]; }
CALIB=${CALIB:-$OUT/cuda-local.toml}   # the calibrated target steps 2 and 3 use
mkdir -p "$OUT"
HW="python3 -m hwprune"
GPU=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)
MACHINE="${GPU}; torch $(python3 -c 'import torch; print(torch.__version__)'); $(nproc) CPU cores"
echo "machine: $MACHINE" | tee "$OUT/machine.txt"

if step 1; then
echo "== 1. calibrate"
/usr/bin/time -f "calibrate wall %e s" $HW calibrate --device cuda --out "$OUT/cuda-local.toml" \
    --json > "$OUT/calibrate.json" 2> "$OUT/calibrate.err" || { cat "$OUT/calibrate.err"; exit 1; }
tail -1 "$OUT/calibrate.err"

fi
if step 2; then
echo "== 2. latency fidelity (calibrated, then datasheet $GPU_TARGET)"
python3 bench/latency_fidelity.py --device cuda --n "$N" --target-file "$CALIB" \
    --out-dir "$OUT/calibrated" --machine "$MACHINE" | tail -4
python3 bench/latency_fidelity.py --device cuda --n "$N" \
    --target-file "$(python3 -c "from hwprune.resources import resource_dir as r; print(r('targets'))")/$GPU_TARGET.toml" \
    --out-dir "$OUT/datasheet" --machine "$MACHINE" | tail -4

fi
if step 3; then
echo "== 3. search on the GPU (fine-tune on cuda, --measure)"
$HW search --target-file "$CALIB" --device cuda --measure --trials 8 \
    --out /tmp/hwprune-gpu-search --quiet
cp /tmp/hwprune-gpu-search/summary.json "$OUT/search_summary.json"

fi
if step 4; then
echo "== 4. training on cuda vs cpu"
python3 - "$OUT/train_cuda.json" "${DEVICES:-cpu cuda}" <<'EOF'
import json, sys, time
from hwprune.compress.quant import to_brevitas
from hwprune.compress.train import evaluate, finetune_qat, train_float
from hwprune.data import load_dataset
from hwprune.models import build_model, get_spec

data = load_dataset("digits")
rows = []
for device in sys.argv[2].split():
    t0 = time.perf_counter()
    parent = build_model(get_spec("mlp-digits"))
    train_float(parent, data, epochs=40, device=device)
    t1 = time.perf_counter()
    q = to_brevitas(parent, [4, 4, 4, 4], [4, 4, 4, None], data.input_scale)
    finetune_qat(q, parent, data, epochs=5, device=device)
    t2 = time.perf_counter()
    rows.append({"device": device, "parent_s": round(t1 - t0, 2), "qat_s": round(t2 - t1, 2),
                 "parent_test": evaluate(parent, data.test, device=device),
                 "qat_test": evaluate(q, data.test, device=device)})
    print(rows[-1], flush=True)
json.dump(rows, open(sys.argv[1], "w"), indent=2)
EOF
fi
echo "done: $OUT"
