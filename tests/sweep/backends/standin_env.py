"""Helpers shared by the managed-server backend tests: the stand-ins on PATH, processes left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

from tests.standins import REPO, SGLANG_PATH, install


def standin_env(tmp_path: Path, monkeypatch) -> Path:
    """Stand-in ``vllm`` / ``lms`` first on PATH, the sglang stand-in on PYTHONPATH; returns the bin folder."""
    bin_dir = install(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("PYTHONPATH", f"{SGLANG_PATH}{os.pathsep}{REPO}")
    monkeypatch.setenv("STANDIN_LMS_HOME", str(tmp_path / "lms-home"))
    return bin_dir


def processes_mentioning(text: str) -> List[int]:
    """Pids of running (non-zombie) processes whose command line contains ``text``."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmd and state != "Z":
            out.append(int(d.name))
    return out


def worker_pid(log_path: Path) -> int:
    """The pid of the stand-in server's worker child (it logs ``worker pid N``)."""
    for line in log_path.read_text().splitlines():
        if "worker pid" in line:
            return int(line.split()[-1])
    raise AssertionError(f"no worker pid in {log_path}")


def run_sweep_cli(config: Dict, tmp_path: Path, env_extra: Dict[str, str] = None) -> subprocess.CompletedProcess:
    """``draftfinder sweep --config`` in a child process (its own atexit, like a user's run)."""
    cfg = tmp_path / "sweep.json"
    cfg.write_text(json.dumps(config))
    env = dict(os.environ, **(env_extra or {}))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "draftfinder", "sweep", "--config", str(cfg), "--results",
                           str(tmp_path / "results.json"), "--no-chart", "--quiet"], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=300)
