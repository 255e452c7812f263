"""What a server's exit status means, in words a user can act on.

``subprocess`` reports a child killed by a signal as a negative return code (``-4`` for SIGILL). "exited with
code -4" tells a user nothing; :func:`exit_description` names the signal and what it usually means for a
llama.cpp build on this kind of machine:

==========  =====================================================================================
SIGILL      an instruction the CPU (or the VM) does not allow: a ``-march=native`` / ``GGML_NATIVE``
            build used AMX/AVX-512 the VM hides (issue 9: ``tilezero`` on the first matmul). Rebuild
            portable: ``scripts/build_llama.sh`` (GGML_NATIVE=OFF, explicit AVX/AVX2/AVX-512/FMA/F16C)
SIGKILL     killed from outside, almost always the kernel's out-of-memory killer (``dmesg``): a
            smaller model/context (``settings.ctx_size``) or fewer servers at once
SIGSEGV     the server crashed (a llama.cpp bug, or a GGUF it cannot read): the log's last lines,
            another build or another file
SIGBUS      the memory-mapped model file changed or shrank under the server (truncated download,
            file on a full or removed disk)
SIGABRT     llama.cpp stopped itself on a failed check (``GGML_ASSERT``): the log's last lines say which
SIGFPE      an arithmetic fault (division by zero) inside llama.cpp: another build
SIGTERM     stopped from outside (a shutdown, or another program)
==========  =====================================================================================
"""

from __future__ import annotations

import signal
from typing import Optional

# signal name -> what it usually means for llama-server, and what to do
MEANINGS = {
    "SIGILL": "illegal instruction: the binary uses CPU instructions this machine (or its VM) does not allow, "
              "usually a native build (-march=native / GGML_NATIVE) picking up AMX or AVX-512; rebuild it "
              "portable with scripts/build_llama.sh (GGML_NATIVE=OFF)",
    "SIGKILL": "killed from outside, usually by the kernel's out-of-memory killer (see dmesg); use a smaller "
               "model or settings.ctx_size, or run fewer things at once",
    "SIGSEGV": "segmentation fault: llama.cpp crashed (a bug in this build, or a model file it cannot read); "
               "check the log's last lines, try another llama.cpp build or re-download the model",
    "SIGBUS": "bus error: the memory-mapped model file changed or was truncated while the server ran; "
              "re-download it and keep it on a disk that stays mounted",
    "SIGABRT": "aborted: llama.cpp stopped on a failed internal check (GGML_ASSERT); the log's last lines say "
               "which",
    "SIGFPE": "arithmetic fault inside llama.cpp; try another llama.cpp build",
    "SIGTERM": "terminated from outside (a shutdown, or another program stopped it)",
}


def signal_name(returncode: Optional[int]) -> Optional[str]:
    """``"SIGILL"`` for a return code of ``-4`` (killed by signal 4); None for a normal exit or no code."""
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def exit_description(returncode: Optional[int]) -> str:
    """``"exited with code 1"`` or ``"was killed by SIGILL (signal 4)"`` (what happened; the meaning is
    :func:`signal_meaning`)."""
    if returncode is None:
        return "is still running"
    name = signal_name(returncode)
    return f"exited with code {returncode}" if name is None else f"was killed by {name} (signal {-returncode})"


def signal_meaning(returncode: Optional[int]) -> Optional[str]:
    """What a death by this signal usually means and what to do (``MEANINGS``); None for a normal exit or a
    signal with no usual meaning."""
    name = signal_name(returncode)
    meaning = MEANINGS.get(name or "")
    return f"{name}: {meaning}" if meaning else None
