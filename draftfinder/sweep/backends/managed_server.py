"""A server process the sweep starts and owns (``vllm serve``, ``python -m sglang.launch_server``): started in
its own process group, waited on until it answers, stopped — the whole group — on every exit path.

Lifecycle (the ``llamacpp`` backend's rules, :mod:`.llamacpp`, for servers that spawn workers):

- **start**: ``Popen(argv, start_new_session=True)``: the server leads a new process group, so its workers
  (vLLM's engine core and tensor-parallel workers, SGLang's scheduler and detokenizer) are stopped with it. On
  Linux the leader also gets ``PR_SET_PDEATHSIG`` (it dies with the process that started it, even on SIGKILL).
  Output (stdout + stderr) goes to a log in a temp dir; errors quote its last line.
- **ready**: ``GET /health`` answers 200 (both servers serve it once the model is loaded) and ``GET /v1/models``
  answers 200 (the OpenAI routes are up). A 404 on ``/health`` is skipped (a build without it). Every poll
  first checks whether the server exited: a server that dies at start (argparse error, a speculative config its
  validation refuses, a missing model, out of memory) is a :class:`~draftfinder.errors.ServerStartError` quoting
  its last output line, at once — not after the timeout.
- **port**: ``settings.port`` when free, else (and for 0) a free port the OS gives; a server that still loses
  the port between our check and its bind (``address already in use`` in its log) is restarted on another
  port (``PORT_RETRIES``).
- **stop**: ``SIGTERM`` to the group, wait ``STOP_WAIT_S``, then ``SIGKILL`` to the group; idempotent. Called
  by the session's ``close()`` (the runner's ``finally``: normal end, exceptions, Ctrl-C), for every live server
  at interpreter exit (``atexit``), and for a server whose start failed or was interrupted. The log dir is
  removed unless the server failed (then the error names it).
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

from draftfinder.errors import ServerStartError
from draftfinder.sweep.backends.base import close_at_exit
from draftfinder.sweep.backends.exit_status import exit_description
from draftfinder.sweep.backends.llama_command import HOST, start_on_a_port
from draftfinder.sweep.backends.llamacpp import _die_with_parent

READY_POLL_S = 0.25            # between readiness polls
STOP_WAIT_S = 15.0             # after SIGTERM to the group, before SIGKILL (vLLM frees GPU memory on SIGTERM)
GROUP_WAIT_S = 5.0             # after the final SIGKILL, until the group's workers are gone
BIND_ERRORS = ("address already in use", "errno 98", "could not bind", "couldn't bind")

_LIVE: "set[ServerProcess]" = set()
close_at_exit(_LIVE, lambda server: server.stop())


def last_line(path: Path) -> str:
    """The last non-empty line of a log (one line for an error message), or "(no server output)"."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no server output)"
    rows = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return rows[-1][:300] if rows else "(no server output)"


class ServerProcess:
    """One server process (and its process group) serving one cell on ``127.0.0.1:port``."""

    def __init__(self, argv: List[str], *, name: str, port: int, timeout_s: float,
                 env: Optional[Dict[str, str]] = None):
        self.argv = list(argv)
        self.name = name
        self.port = int(port)
        self.timeout_s = float(timeout_s)
        self.env = env
        self.proc: Optional[subprocess.Popen] = None
        self.failed = False
        self._dir = Path(tempfile.mkdtemp(prefix=f"draftfinder-{name.split()[0].lower()}-"))
        self.log_path = self._dir / "server.log"

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        """Start the server and wait until it is ready (module doc); raises :class:`ServerStartError`."""
        with open(self.log_path, "ab") as log:
            try:
                self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True,
                                             preexec_fn=_die_with_parent(), env=self.env)
            except OSError as exc:
                self.failed = True
                raise ServerStartError(f"{self.name} could not be started ({self.argv[0]}: {exc.strerror or exc})",
                                       hint="check settings.server_bin (or the executable on PATH)") from None
        _LIVE.add(self)
        deadline = time.monotonic() + self.timeout_s
        health = True
        while True:
            code = self.proc.poll()
            if code is not None:
                self.failed = True
                raise ServerStartError(f"{self.name} {exit_description(code)} before it was ready: "
                                       f"{last_line(self.log_path)}", hint=self._start_hint())
            status = self._get("/health") if health else 200
            if status == 404:
                health = False
            if status in (200, 404) and self._get("/v1/models") == 200:
                return
            if time.monotonic() > deadline:
                self.failed = True
                raise ServerStartError(f"{self.name} was not ready after {self.timeout_s:.0f} s: "
                                       f"{last_line(self.log_path)}",
                                       hint=f"raise settings.timeout_s for large models; full log: {self.log_path}")
            time.sleep(READY_POLL_S)

    def _start_hint(self) -> str:
        text = _read(self.log_path).lower()
        if any(e in text for e in BIND_ERRORS):
            return f"set settings.port to a free port (or 0: any free port); log: {self.log_path}"
        if "error: unrecognized arguments" in text or "error: argument" in text:
            return (f"this {self.name.split()[0]} does not take a flag draftfinder passed: update it, or tell us its "
                    f"version; log: {self.log_path}")
        if "speculative" in "\n".join(text.splitlines()[-20:]):
            return f"the server refused the cell's speculative config: check the draft entry; log: {self.log_path}"
        return f"check the model path and the command (recorded in the results); log: {self.log_path}"

    def bind_failed(self) -> bool:
        """Did the server exit because its port was taken (between our check and its bind)?"""
        return self.proc is not None and self.proc.poll() is not None and \
            any(e in _read(self.log_path).lower() for e in BIND_ERRORS)

    def _get(self, route: str) -> Optional[int]:
        """The HTTP status of ``GET route``, None when nothing answers yet."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=2.0)
        try:
            conn.request("GET", route)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM to the process group, wait, SIGKILL to the group; idempotent (module doc)."""
        proc, self.proc = self.proc, None
        if proc is not None:
            pgid = proc.pid                     # start_new_session: the leader's pid is the group id
            _signal_group(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                _signal_group(pgid, signal.SIGKILL)
                proc.wait(timeout=STOP_WAIT_S)
            _signal_group(pgid, signal.SIGKILL)  # workers the leader left behind
            _wait_group_gone(pgid, GROUP_WAIT_S)
        _LIVE.discard(self)
        if not self.failed and self._dir.exists():
            shutil.rmtree(self._dir, ignore_errors=True)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_running(pgid: int) -> bool:
    """Does any process of group ``pgid`` still run? (Linux: zombies awaiting their reaper do not count.)"""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def _wait_group_gone(pgid: int, wait_s: float) -> None:
    """Return once the group's processes have died (a SIGKILL is delivered asynchronously), or after ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while _group_running(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def start_server(argv_for: Callable[[int], List[str]], *, name: str, preferred_port: Optional[int],
                 timeout_s: float, env: Optional[Dict[str, str]] = None) -> ServerProcess:
    """Start the server whose command line for a port is ``argv_for(port)``; ready, or stopped and raised.

    A port taken between our check and the server's bind is retried on another (``PORT_RETRIES``); a start
    that fails — or a Ctrl-C while the model loads — stops the server before the error propagates."""
    return start_on_a_port(lambda port: ServerProcess(argv_for(port), name=name, port=port, timeout_s=timeout_s,
                                                      env=env),
                           lambda server: server.stop(), preferred_port)
