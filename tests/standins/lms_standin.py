"""Stand-in for LM Studio's ``lms`` CLI: ``lms server start [--port N]``, ``lms server stop``, ``lms status``,
``lms load KEY [--context-length N] [-y]``, ``lms unload KEY``, ``lms ls``. It runs the LM Studio server stand-in
(:mod:`.lmstudio_standin`) detached, as the app does, and keeps its pid and port in ``STANDIN_LMS_HOME``.
``lms load`` of an unknown key fails like the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.standins import REPO


def home() -> Path:
    h = Path(os.environ.get("STANDIN_LMS_HOME") or Path.home() / ".lmstudio-standin")
    h.mkdir(parents=True, exist_ok=True)
    return h


def running():
    f = home() / "server.json"
    if not f.is_file():
        return None
    info = json.loads(f.read_text())
    try:
        os.kill(info["pid"], 0)
    except ProcessLookupError:
        f.unlink()
        return None
    return info


def post(port, route, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{route}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:                       # not listening yet (URLError is an OSError)
        return None


def main(argv):
    if argv[:2] == ["server", "start"]:
        port = int(argv[argv.index("--port") + 1]) if "--port" in argv else 1234
        info = running()
        if info:
            print(f"The server is already running on port {info['port']}.")
            return 0
        log = open(home() / "server.log", "ab")
        env = dict(os.environ, PYTHONPATH=str(REPO))
        proc = subprocess.Popen([sys.executable, "-m", "tests.standins.lmstudio_standin", str(port)], cwd=str(REPO),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, env=env)
        (home() / "server.json").write_text(json.dumps({"pid": proc.pid, "port": port}))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if post(port, "/standin/ping", {}) in (200, 404):
                print(f"Success! Server is now running on port {port}")
                return 0
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        print("Error: the server failed to start", file=sys.stderr)
        return 1
    if argv[:2] == ["server", "stop"]:
        info = running()
        if not info:
            print("The server is not running.")
            return 0
        os.kill(info["pid"], signal.SIGTERM)
        for _ in range(100):
            if running() is None:
                break
            time.sleep(0.05)
        print(f"Stopped the server on port {info['port']}.")
        return 0
    if argv[:1] in (["load"], ["unload"]):
        info = running()
        if not info:
            print("Error: LM Studio is not running. Start it with `lms server start`.", file=sys.stderr)
            return 1
        code = post(info["port"], f"/standin/{argv[0]}", {"key": argv[1]})
        if code != 200:
            print(f"Error: Cannot find a model matching the provided path: {argv[1]}", file=sys.stderr)
            return 1
        print(f"Model loaded successfully: {argv[1]}" if argv[0] == "load" else f"Unloaded: {argv[1]}")
        return 0
    if argv[:1] == ["status"]:
        info = running()
        print(f"Server: ON (port: {info['port']})" if info else "Server: OFF")
        return 0
    print("lms - LM Studio CLI (stand-in)\nCommands: server start|stop, status, load, unload, ls", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
