#!/usr/bin/env bash
# GPU check of draftfinder's engine on a CUDA machine: (1) lossless greedy — speculative == plain greedy, token for
# token, on the zoo models with n-gram, layer-skip and model drafters (fp32 strict; the GPU's bf16/fp16 reported),
# and plain greedy == transformers' generate; (2) sampling — speculative sampling's first two tokens against the
# target's exact top-k distribution (chi-square); (3) bench/engine_vs_hf.py --device cuda (ours vs transformers).
# Writes bench/results/gpu_check_<gpu>.json (+ _engine_vs_hf.json). Details: bench/gpu_check.py's docstring.
#
# Setup on the CUDA machine (no edit to this script needed):
#   git clone … && cd draftfinder && scripts/setup.sh
#   On Linux x86_64 PyPI's torch==2.13.0 wheel IS the CUDA build; check with
#     .venv/bin/python -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())'
#   If it prints a "+cpu" version or None (a CPU wheel came from a local wheelhouse or a pip config), reinstall
#   torch from PyTorch's CUDA index matching your driver, e.g.
#     .venv/bin/python -m pip install --force-reinstall torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128
#   then: bench/gpu_check.sh            (DEVICE=cuda:1 bench/gpu_check.sh to pick a GPU; extra args go to gpu_check.py)
# Exit: 0 passed, 1 a strict check failed, 2 no CUDA device (one line saying what torch found).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
if [ ! -x "$PY" ]; then
  echo "gpu_check: $PY not found — run scripts/setup.sh first (or set PYTHON=/path/to/python)" >&2
  exit 2
fi
exec "$PY" bench/gpu_check.py --device "${DEVICE:-cuda}" "$@"
