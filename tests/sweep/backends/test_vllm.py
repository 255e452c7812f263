"""The ``vllm`` sweep backend against the ``vllm`` stand-in (tests/standins/vllm_standin.py: argparse help,
flag parsing, OpenAI streaming, Prometheus /metrics, vLLM's refusals): commands built from the probed
``--help`` (current ``--speculative-config`` and legacy flags), counters read as per-request deltas, the server
and its worker stopped on every exit path, and the one-line errors. Nothing here ran against a real vLLM."""

from __future__ import annotations

import json
import signal
import socket

import pytest

from draftfinder.errors import MissingDependencyError, ServerStartError, UsageError
from draftfinder.measure.prompts import Prompt
from draftfinder.sweep.backends import make_backend, managed_server
from draftfinder.sweep.backends.server_help import ServerHelp, parse_help
from draftfinder.sweep.backends.vllm import build_command, speculative_config
from draftfinder.sweep.config import Entry, Settings, sweep_config_from_dict
from tests.standins import pid_alive, vllm_standin
from tests.sweep.backends.standin_env import processes_mentioning, run_sweep_cli, standin_env, worker_pid

PROMPT = Prompt(id="p", task="general", text="the cat sat on the mat and the dog")
TARGET = Entry(label="T", path="Qwen/Qwen2.5-7B-Instruct")


def help_of(monkeypatch, legacy: bool) -> ServerHelp:
    if legacy:
        monkeypatch.setenv("STANDIN_VLLM_LEGACY", "1")
    else:
        monkeypatch.delenv("STANDIN_VLLM_LEGACY", raising=False)
    return ServerHelp(["vllm", "serve"], "test", "", parse_help(vllm_standin.parser().format_help()))


def cfg(drafts=(), **settings):
    return sweep_config_from_dict({"name": "t", "backend": "vllm", "targets": [{"label": "T", "path": TARGET.path}],
                                   "drafts": list(drafts), "settings": {"max_tokens": 20, "port": 0,
                                                                        "timeout_s": 60, **settings}})


# --- commands (fast) ---------------------------------------------------------------------------------

def test_speculative_config_per_draft_type():
    """Each draft type maps to vLLM's SpeculativeConfig fields (docs/features/speculative_decoding)."""
    assert speculative_config(Entry("d", path="org/draft"), 5) == \
        {"method": "draft_model", "model": "org/draft", "num_speculative_tokens": 5}
    assert speculative_config(Entry("n", type="ngram", n=4), 3) == \
        {"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_max": 3, "prompt_lookup_min": 3}
    assert speculative_config(Entry("e", type="eagle3", path="org/EAGLE3-head"), 2)["method"] == "eagle3"
    assert speculative_config(Entry("m", type="mtp"), 1) == {"method": "mtp", "num_speculative_tokens": 1}
    with pytest.raises(UsageError, match="layerskip"):
        speculative_config(Entry("l", type="layerskip", layers=3), 2)


def test_command_uses_the_probed_flags(monkeypatch):
    """Current help: --speculative-config JSON, -tp, --gpu-memory-utilization, 127.0.0.1 and the port."""
    h = help_of(monkeypatch, legacy=False)
    s = Settings(tensor_parallel_size=2, gpu_memory_fraction=0.85, ctx_size=2048, seed=7)
    argv = build_command(h, TARGET, Entry("n", type="ngram", n=3), 4, s, 8123)
    assert argv[:3] == ["vllm", "serve", TARGET.path]
    joined = " ".join(argv)
    for part in ("--host 127.0.0.1", "--port 8123", "--seed 7", "--max-model-len 2048", "--tensor-parallel-size 2",
                 "--gpu-memory-utilization 0.85"):
        assert part in joined
    spec = json.loads(argv[argv.index("--speculative-config") + 1])
    assert spec == {"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_max": 2, "prompt_lookup_min": 2}


def test_legacy_vllm_gets_the_old_flags(monkeypatch):
    """A vLLM whose help has no --speculative-config gets --speculative-model / --num-speculative-tokens, and
    MTP (which it does not have) is a one-line error, not a server that ignores it."""
    h = help_of(monkeypatch, legacy=True)
    argv = build_command(h, TARGET, Entry("d", path="org/draft"), 3, Settings(), 8000)
    assert "--speculative-config" not in argv
    assert argv[argv.index("--speculative-model") + 1] == "org/draft"
    assert argv[argv.index("--num-speculative-tokens") + 1] == "3"
    ng = build_command(h, TARGET, Entry("n", type="ngram", n=3), 3, Settings(), 8000)
    assert ng[ng.index("--speculative-model") + 1] == "[ngram]" and "--ngram-prompt-lookup-max" in ng
    with pytest.raises(UsageError, match="cannot run mtp"):
        build_command(h, TARGET, Entry("m", type="mtp"), 3, Settings(), 8000)


def test_missing_vllm_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependencyError) as err:
        make_backend(cfg())
    assert "vllm" in err.value.line() and "pip install vllm" in err.value.line()
    with pytest.raises(UsageError, match="does not exist"):
        make_backend(cfg(server_bin=str(tmp_path / "nope" / "vllm")))


# --- lifecycle against the stand-in (slow: starts servers) ---------------------------------------------

@pytest.mark.slow
def test_draft_cell_reads_counter_deltas_and_stops_the_group(tmp_path, monkeypatch):
    """A draft cell: the recorded command is the started argv; drafted/accepted are the per-request deltas of
    vllm:spec_decode_* (20 tokens, K=4, 2 accepted per step: 7 steps → 28 drafted, 12 accepted — twice, not
    cumulative); close() stops the server and its worker (the process group)."""
    standin_env(tmp_path, monkeypatch)
    c = cfg([{"label": "d", "path": "Qwen/Qwen2.5-0.5B-Instruct"}])
    backend = make_backend(c)
    session = backend.open(c.targets[0], c.drafts[0], 4, c.settings)
    try:
        assert session.command[1:3] == ["serve", TARGET.path] and "--speculative-config" in session.command
        g1, g2 = session.generate(PROMPT, c.settings), session.generate(PROMPT, c.settings)
        assert (g1.tokens, g1.drafted, g1.accepted, g1.speculative) == (20, 28, 12, True)
        assert (g2.drafted, g2.accepted) == (28, 12)
        assert g1.extra["acceptance_source"] == "vllm /metrics delta"
        pid, worker = session.pid, worker_pid(session.server.log_path)
        assert pid_alive(pid) and pid_alive(worker)
    finally:
        session.close()
    assert not pid_alive(pid) and not pid_alive(worker)
    session.close()                                           # idempotent


@pytest.mark.slow
def test_rejected_speculative_config_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    """vLLM refusing EAGLE-3 for this target at start: ServerStartError quoting its last line, no process."""
    bin_dir = standin_env(tmp_path, monkeypatch)
    c = sweep_config_from_dict({"name": "t", "backend": "vllm", "targets": [{"label": "T", "path": "openai/gpt2"}],
                                "drafts": [{"label": "e3", "type": "eagle3", "path": "org/EAGLE3-head"}],
                                "settings": {"port": 0, "timeout_s": 60}})
    with pytest.raises(ServerStartError) as err:
        make_backend(c).open(c.targets[0], c.drafts[0], 3, c.settings)
    line = err.value.line()
    assert "exited with code 1 before it was ready" in line and "Eagle3 is only supported" in line
    assert "\n" not in line and "speculative config" in line
    assert not managed_server._LIVE and not processes_mentioning(str(bin_dir))


@pytest.mark.slow
def test_busy_port_moves_to_a_free_one(tmp_path, monkeypatch):
    """settings.port taken by another program: the server starts on a free port instead of failing."""
    standin_env(tmp_path, monkeypatch)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        c = cfg(port=port)
        with make_backend(c).open(c.targets[0], None, None, c.settings) as session:
            assert session.port != port and f"--port {session.port}" in " ".join(session.command)
            assert session.generate(PROMPT, c.settings).tokens == 20


@pytest.mark.slow
def test_ctrl_c_while_loading_leaves_no_server(tmp_path, monkeypatch):
    """Ctrl-C (KeyboardInterrupt) while the model loads: the server is stopped before the interrupt propagates."""
    bin_dir = standin_env(tmp_path, monkeypatch)
    monkeypatch.setenv("STANDIN_LOAD_S", "30")
    c = cfg()
    backend = make_backend(c)

    def interrupt(*_):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            backend.open(c.targets[0], None, None, c.settings)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert not managed_server._LIVE and not processes_mentioning(str(bin_dir))


@pytest.mark.slow
def test_sweep_cli_end_to_end(tmp_path, monkeypatch):
    """`draftfinder sweep --config` on a draftbench-style vllm config (label/path, runs/max_tokens/temperature/
    gpu_layers/ctx_size/port) plus an EAGLE-3 cell the server refuses: the good cells are measured (acceptance
    12/28 from the counters), the refused one is failed with vLLM's line, exit 1, no process left."""
    bin_dir = standin_env(tmp_path, monkeypatch)
    config = {"name": "qwen25", "hardware": "rtx4090-24gb", "backend": "vllm", "model_family": "Qwen2.5",
              "targets": [{"label": "7B", "path": "Qwen/Qwen2.5-7B-Instruct"}],
              "drafts": [{"label": "0.5B", "path": "Qwen/Qwen2.5-0.5B-Instruct"},
                         {"label": "e3", "type": "eagle3", "path": "org/EAGLE3-gpt2"}],
              "settings": {"runs": 1, "max_tokens": 20, "temperature": 0.0, "gpu_layers": 99, "ctx_size": 4096,
                           "port": 8080}}                 # draftbench's keys only (8080 busy: a free port)
    config["targets"][0]["path"] = "org/gpt2-7b"          # EAGLE-3 refused for a gpt2-type target
    out = run_sweep_cli(config, tmp_path)
    assert out.returncode == 1, out.stderr
    res = json.loads((tmp_path / "results.json").read_text())
    cells = {c["draft"]: c for c in res["results"]}
    assert cells[None]["status"] == "ok" and cells["0.5B"]["status"] == "ok"
    assert cells["0.5B"]["acceptance_rate"] == pytest.approx(12 / 28)
    assert "--speculative-config" in cells["0.5B"]["command"]
    assert cells["e3"]["status"] == "failed" and "Eagle3 is only supported" in cells["e3"]["error"]
    assert not processes_mentioning(str(bin_dir))
