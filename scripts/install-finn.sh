#!/usr/bin/env bash
# Install finn-plus 1.6.1 next to hwprune, in the virtual environment VENV (default: .venv,
# created if missing), with every version pinned by constraints.txt.
#
# finn-plus pins versions that clash with hwprune's (brevitas, onnxruntime, protobuf, ...), so
# plain `pip install finn-plus` silently resolves to an old 1.3.0. The wheel goes in with
# --no-deps, and the packages FINN's estimate flow imports but finn-plus does not (or does not
# resolvably) declare come from hwprune's `finn` extra. torch, onnx, qonnx and brevitas stay as
# pinned. `pip check` then lists finn-plus's own pins; they do not matter for the estimate flow
# (tests/test_finn_handoff.py runs it).
#
#   bash scripts/install-finn.sh            # into .venv
#   bash scripts/install-finn.sh /opt/venv  # into another venv
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q -c constraints.txt)
"${pip[@]}" --no-deps finn-plus
"${pip[@]}" -e ".[finn]"
"$venv/bin/python" - <<'PY'
import importlib.metadata as md

import onnx
import torch

print(f"finn-plus {md.version('finn-plus')} installed (torch {torch.__version__}, onnx {onnx.__version__})")
PY
