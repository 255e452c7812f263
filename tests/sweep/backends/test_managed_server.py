"""Lifecycle of servers the sweep starts (sweep/backends/managed_server.py), driven with the vLLM stand-in:
the port lost between our check and the server's bind, a port that stays taken, a missing executable, Ctrl-C
of a whole `draftfinder sweep` while a server loads. Nothing here ran against a real vLLM or SGLang."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from draftfinder.errors import ServerStartError
from draftfinder.measure.prompts import Prompt
from draftfinder.sweep.backends import llama_command, make_backend, managed_server
from draftfinder.sweep.backends.llama_command import choose_port
from draftfinder.sweep.backends.managed_server import ServerProcess
from draftfinder.sweep.config import sweep_config_from_dict
from tests.standins import REPO
from tests.sweep.backends.standin_env import processes_mentioning, standin_env

PROMPT = Prompt(id="p", task="general", text="one two three four")


def cfg(**settings):
    return sweep_config_from_dict({"name": "t", "backend": "vllm", "targets": [{"label": "T", "path": "org/m"}],
                                   "settings": {"max_tokens": 8, "port": 0, "timeout_s": 60, **settings}})


@pytest.fixture
def busy():
    """A port another program listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield s.getsockname()[1]


@pytest.mark.slow
def test_port_lost_to_a_race_is_retried_on_another(tmp_path, monkeypatch, busy):
    """The first port handed to the server is taken when it binds (as when another program takes it between our
    check and the bind): the server's "address already in use" exit is retried on a free port."""
    standin_env(tmp_path, monkeypatch)
    calls = []

    def racy(preferred):
        calls.append(preferred)
        return busy if len(calls) == 1 else choose_port(None)

    monkeypatch.setattr(llama_command, "choose_port", racy)
    c = cfg()
    with make_backend(c).open(c.targets[0], None, None, c.settings) as session:
        assert len(calls) == 2 and session.port != busy
        assert session.generate(PROMPT, c.settings).tokens == 8


@pytest.mark.slow
def test_port_that_stays_taken_is_one_line(tmp_path, monkeypatch, busy):
    bin_dir = standin_env(tmp_path, monkeypatch)
    monkeypatch.setattr(llama_command, "choose_port", lambda preferred: busy)
    c = cfg()
    with pytest.raises(ServerStartError) as err:
        make_backend(c).open(c.targets[0], None, None, c.settings)
    line = err.value.line()
    assert "address already in use" in line and "set settings.port to a free port" in line and "\n" not in line
    assert not managed_server._LIVE and not processes_mentioning(str(bin_dir))


def test_executable_that_cannot_start(tmp_path):
    """A server binary that exists but cannot be executed: ServerStartError, nothing registered as live."""
    fake = tmp_path / "vllm"
    fake.write_text("not a program")
    server = ServerProcess([str(fake), "serve", "m"], name="vLLM server", port=1, timeout_s=5)
    with pytest.raises(ServerStartError, match="could not be started"):
        server.start()
    server.stop()
    assert server not in managed_server._LIVE


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_of_the_sweep_cli_stops_the_loading_server(sig, code, tmp_path, monkeypatch):
    """SIGINT (Ctrl-C) or SIGTERM (``kill``, a job scheduler) to `draftfinder sweep` while a cell's server loads:
    exit 130 / 143, the results file says interrupted, and neither the server nor its worker is left running.
    SIGTERM guards cli/main.py's handler: without it Python dies at once, no cleanup path runs and the server's
    workers outlive the sweep."""
    bin_dir = standin_env(tmp_path, monkeypatch)
    config = {"name": "t", "backend": "vllm", "targets": [{"label": "T", "path": "org/m"}],
              "settings": {"max_tokens": 8, "port": 0, "timeout_s": 60}}
    (tmp_path / "sweep.json").write_text(json.dumps(config))
    env = dict(os.environ, STANDIN_LOAD_S="60", PYTHONPATH=f"{REPO}{os.pathsep}{os.environ['PYTHONPATH']}")
    proc = subprocess.Popen([sys.executable, "-m", "draftfinder", "sweep", "--config", "sweep.json", "--results",
                             "r.json", "--no-chart", "--quiet"], cwd=str(tmp_path), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not processes_mentioning(f"{bin_dir}/vllm serve org/m"):      # the server, not the --help probe
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert json.loads((tmp_path / "r.json").read_text())["status"] == "interrupted"
    assert not processes_mentioning(str(bin_dir))


@pytest.mark.slow
def test_server_dying_mid_request_is_named_and_its_worker_stopped(tmp_path, monkeypatch):
    """The engine dies during a request: the error names the exit and its last log line (not just a dropped
    connection), and close() still stops the worker it left behind (the process group)."""
    from draftfinder.errors import EndpointError
    from tests.standins import pid_alive
    from tests.sweep.backends.standin_env import worker_pid

    standin_env(tmp_path, monkeypatch)
    monkeypatch.setenv("STANDIN_CRASH_ON_REQUEST", "1")
    c = cfg()
    session = make_backend(c).open(c.targets[0], None, None, c.settings)
    worker = worker_pid(session.server.log_path)
    try:
        with pytest.raises(EndpointError) as err:
            session.generate(PROMPT, c.settings)
        assert "exited with code 1 during a request: torch.OutOfMemoryError" in err.value.line()
        assert pid_alive(worker)                          # orphaned by the crash, still in the group
    finally:
        session.close()
    assert not pid_alive(worker)
