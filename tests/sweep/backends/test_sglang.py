"""The ``sglang`` sweep backend against the SGLang stand-in (tests/standins/sglang_pkg: ``python -m
sglang.launch_server`` with SGLang's flags, OpenAI streaming, /get_server_info's cumulative
avg_spec_accept_length, SGLang's refusals). Nothing here ran against a real SGLang."""

from __future__ import annotations

import importlib

import pytest

from draftfinder.errors import ServerStartError, UsageError
from draftfinder.measure.prompts import Prompt
from draftfinder.sweep.backends import make_backend, managed_server
from draftfinder.sweep.backends.server_help import ServerHelp, parse_help
from draftfinder.sweep.backends.sglang import accept_length, build_command, split_steps
from draftfinder.sweep.config import Entry, Settings, sweep_config_from_dict
from tests.standins import SGLANG_PATH, pid_alive
from tests.sweep.backends.standin_env import processes_mentioning, standin_env, worker_pid

PROMPT = Prompt(id="p", task="general", text="the cat sat on the mat and the dog")
TARGET = Entry(label="T", path="Qwen/Qwen2.5-7B-Instruct")


def sglang_help() -> ServerHelp:
    import sys

    sys.path.insert(0, str(SGLANG_PATH))
    try:
        mod = importlib.import_module("sglang.launch_server")
    finally:
        sys.path.remove(str(SGLANG_PATH))
    return ServerHelp(["python", "-m", "sglang.launch_server"], "test", "", parse_help(mod.parser().format_help()))


def test_flags_per_draft_type():
    """STANDALONE / EAGLE3 / NEXTN / NGRAM with a chain of K (steps K, top-k 1, draft tokens K+1), TP and memory
    fraction spelled as this SGLang's help lists them."""
    h = sglang_help()
    s = Settings(tensor_parallel_size=4, gpu_memory_fraction=0.8)
    argv = build_command(h, TARGET, Entry("d", path="org/draft"), 3, s, 30001)
    joined = " ".join(argv)
    for part in ("--model-path Qwen/Qwen2.5-7B-Instruct", "--host 127.0.0.1", "--port 30001",
                 "--tp-size 4", "--mem-fraction-static 0.8", "--speculative-algorithm STANDALONE",
                 "--speculative-draft-model-path org/draft", "--speculative-num-steps 3",
                 "--speculative-eagle-topk 1", "--speculative-num-draft-tokens 4"):
        assert part in joined, part
    e3 = build_command(h, TARGET, Entry("e", type="eagle3", path="org/head"), 2, Settings(), 1)
    assert e3[e3.index("--speculative-algorithm") + 1] == "EAGLE3"
    mtp = build_command(h, TARGET, Entry("m", type="mtp"), 2, Settings(), 1)
    assert mtp[mtp.index("--speculative-algorithm") + 1] == "NEXTN" and "--speculative-draft-model-path" not in mtp
    ng = build_command(h, TARGET, Entry("n", type="ngram", n=4), 5, Settings(), 1)
    assert ng[ng.index("--speculative-ngram-max-match-window-size") + 1] == "3"
    assert ng[ng.index("--speculative-num-draft-tokens") + 1] == "6" and "--speculative-num-steps" not in ng


def test_algorithm_this_sglang_lacks_is_refused():
    h = sglang_help()
    h.options["--speculative-algorithm"] = ["EAGLE", "EAGLE3"]          # an older build
    with pytest.raises(UsageError, match="no --speculative-algorithm STANDALONE"):
        build_command(h, TARGET, Entry("d", path="org/draft"), 3, Settings(), 1)
    mtp = build_command(h, TARGET, Entry("m", type="mtp"), 2, Settings(), 1)
    assert mtp[mtp.index("--speculative-algorithm") + 1] == "EAGLE"     # MTP via EAGLE before NEXTN existed


def test_split_steps_from_cumulative_average():
    """Verify steps of one request from the cumulative average: 19 decode tokens at 19/7 → 7 steps; the next 19
    at the same average → 7 more (not 14)."""
    assert split_steps(0, 19, None, 19 / 7) == 7
    assert split_steps(19, 38, 19 / 7, 38 / 14) == 7
    assert split_steps(0, 19, None, None) is None
    assert accept_length({"internal_states": [{"avg_spec_accept_length": 2.5}]}) == 2.5
    assert accept_length({"avg_spec_accept_length": 3}) == 3.0 and accept_length({}) is None


@pytest.mark.slow
def test_lifecycle_and_derived_acceptance(tmp_path, monkeypatch):
    """EAGLE-3 cell on the stand-in: 20 tokens, K=4, 2 accepted per step → 7 steps, 28 drafted, 12 accepted per
    request (derived from /get_server_info, per request not cumulative); server and worker gone after close."""
    standin_env(tmp_path, monkeypatch)
    c = sweep_config_from_dict({"name": "t", "backend": "sglang", "targets": [{"label": "T", "path": TARGET.path}],
                                "drafts": [{"label": "e3", "type": "eagle3", "path": "org/EAGLE3-head"}],
                                "settings": {"max_tokens": 20, "port": 0, "timeout_s": 60}})
    backend = make_backend(c)
    assert backend.describe()["source"] == "this Python"
    session = backend.open(c.targets[0], c.drafts[0], 4, c.settings)
    try:
        g1, g2 = session.generate(PROMPT, c.settings), session.generate(PROMPT, c.settings)
        assert (g1.tokens, g1.drafted, g1.accepted, g1.speculative) == (20, 28, 12, True)
        assert (g2.drafted, g2.accepted, g2.extra["verify_steps"]) == (28, 12, 7)
        assert g1.extra["acceptance_source"].startswith("derived")
        pid, worker = session.pid, worker_pid(session.server.log_path)
    finally:
        session.close()
    assert not pid_alive(pid) and not pid_alive(worker)


@pytest.mark.slow
def test_mtp_on_a_target_without_mtp_layers(tmp_path, monkeypatch):
    """SGLang refusing NEXTN at start: one line with its last log line; no process left."""
    standin_env(tmp_path, monkeypatch)
    c = sweep_config_from_dict({"name": "t", "backend": "sglang", "targets": [{"label": "T", "path": TARGET.path}],
                                "drafts": [{"label": "m", "type": "mtp"}], "settings": {"port": 0, "timeout_s": 60}})
    with pytest.raises(ServerStartError, match="has no MTP .NextN. layers"):
        make_backend(c).open(c.targets[0], c.drafts[0], 2, c.settings)
    assert not managed_server._LIVE and not processes_mentioning("sglang.launch_server")
