"""Real stand-ins for servers this machine cannot run (vLLM, SGLang, LM Studio): executables that print a
realistic ``--help``, parse the flags they are given, serve a real HTTP server on 127.0.0.1 speaking the
server's API (OpenAI streaming, ``/metrics``, ``/get_server_info``, LM Studio's ``/api/v0``) with counters that
move, and exit with the real server's kind of error for a config it would refuse.

Standard library only (they run under any Python 3). :mod:`.fakeserve` is the shared core (the "model": a
deterministic text generator with a speculative step of K drafts of which ``STANDIN_ACCEPT`` are accepted).
:func:`install` writes the launchers into a folder for PATH.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SGLANG_PATH = HERE / "sglang_pkg"      # put on PYTHONPATH: `python -m sglang.launch_server` is the stand-in


def _script(path: Path, module: str) -> Path:
    path.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO)!r})\n"
                    f"from {module} import main\nsys.exit(main(sys.argv[1:]))\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def install(folder: Path) -> Path:
    """Write ``vllm`` and ``lms`` launchers into ``folder`` (to put on PATH); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    _script(folder / "vllm", "tests.standins.vllm_standin")
    _script(folder / "lms", "tests.standins.lms_standin")
    return folder


def pid_alive(pid: int) -> bool:
    """Is a process with this pid still running (a zombie counts as gone)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True
