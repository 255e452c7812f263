"""The ``openai`` sweep backend against a real loopback OpenAI-compatible server (``tests/openaiserver.py``)
serving SmolLM2-135M-Instruct (zoo) through our engine: streamed timings, token counts, llama-server timings,
vLLM ``/metrics`` deltas, the "loaded a draft but did not draft" flag, API keys (sent, never leaked), and the
one-line errors. Greedy throughout, ≤ 24 new tokens per request; the model loads once per module."""

from __future__ import annotations

import json
import socket

import pytest

from draftfinder.errors import EXIT_AUTH, EXIT_NETWORK, DraftFinderError, UsageError
from draftfinder.measure.prompts import Prompt
from draftfinder.sweep.backends import make_backend
from draftfinder.sweep.backends.openai import OpenAIBackend, metrics_base, parse_prometheus, vllm_counters
from draftfinder.sweep.config import sweep_config_from_dict
from tests.openaiserver import OpenAIServer

# A chat prompt whose answer copies from the context: the n-gram drafter gets real acceptances.
PROMPT = Prompt(id="council", task="chat", is_chat=True,
                text="Summarize: The town council met on Tuesday. The town council approved new bike lanes on Main "
                     "Street. The bike lanes on Main Street open in May.")
PLAIN = Prompt(id="fox", task="general", text="The quick brown fox jumps over the lazy dog. The quick brown")
KEY = "sk-loopback-test-3f9a1c77e2"     # a fake key: only ever given to the loopback server


@pytest.fixture(scope="module")
def model():
    from draftfinder.engine.loading import load_model
    from draftfinder.errors import ZooModelMissingError

    try:
        return load_model("zoo:smollm2-135m")
    except ZooModelMissingError as err:
        pytest.skip(f"zoo:smollm2-135m is not installed ({err.line()})")


def config(target_url, drafts=(), target_model=None, **settings):
    target = {"label": "smollm2", "url": target_url}
    if target_model:
        target["model"] = target_model
    data = {"name": "loopback", "backend": "openai", "targets": [target], "drafts": list(drafts),
            "settings": {"max_tokens": 24, "temperature": 0.0, "timeout_s": 60, "task": "chat", **settings}}
    return sweep_config_from_dict(data)


def one_session(url, *, draft=False, model=None, **settings):
    """A session on ``url`` (as the baseline, or as a draft cell's endpoint)."""
    drafts = [{"label": "spec", "url": url, **({"model": model} if model else {})}] if draft else []
    cfg = config(url, drafts, target_model=model, **settings)
    backend = make_backend(cfg)
    return backend.open(cfg.targets[0], cfg.drafts[0] if draft else None, None, cfg.settings), cfg.settings


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/v1"


# --- measurements ------------------------------------------------------------------------------------

def test_baseline_and_speculative_endpoints_llama_timings(model):
    with OpenAIServer(model) as base, OpenAIServer(model, drafter="ngram", k=4, timings="llama") as spec:
        cfg = config(base.url, [{"label": "ngram-k4", "url": spec.url, "k": 4}])
        backend = make_backend(cfg)
        assert isinstance(backend, OpenAIBackend)

        s0 = backend.open(cfg.targets[0], None, None, cfg.settings)
        g0 = s0.generate(PROMPT, cfg.settings)
        (log0,) = base.generations()
        assert base.paths("GET") == ["/v1/models", "/metrics"]        # model asked once; /metrics probed once (404)
        assert log0.model == "smollm2-135m" and log0.stream and log0.include_usage and log0.stream_matches
        assert 0 < g0.ttft_s < 0.75 * g0.total_s                     # streamed per step while the engine runs
        assert g0.tokens == log0.completion_tokens and g0.extra["token_count_source"] == "usage"
        assert g0.prompt_tokens == log0.prompt_tokens and g0.text == log0.text
        assert g0.tps_source == "tokens/(total-ttft)" and g0.tps > 0
        assert g0.drafted is None and g0.accepted is None and g0.speculative is None
        assert g0.extra["route"] == "/chat/completions" and not g0.extra["route_fallback"]

        s1 = backend.open(cfg.targets[0], cfg.drafts[0], 4, cfg.settings)
        g1 = s1.generate(PROMPT, cfg.settings)
        (log1,) = spec.generations()
        timings = g1.extra["timings"]
        assert log1.drafted > 0 and log1.stream_matches
        assert (g1.drafted, g1.accepted) == (log1.drafted, log1.accepted) == (timings["draft_n"],
                                                                                timings["draft_n_accepted"])
        assert g1.speculative is True and g1.extra["acceptance_source"] == "llama-server timings"
        assert g1.tps_source == "server" and g1.tps == timings["predicted_per_second"]
        assert g1.prompt_s == pytest.approx(timings["prompt_ms"] / 1000)
        assert g1.tokens == log1.completion_tokens and 0 < g1.ttft_s < g1.total_s
        assert g1.text == g0.text                                    # greedy: speculative output = the target's
        assert g1.extra["server_k"] == 4
        assert s1.command == ["POST", spec.url + "/chat/completions", "model=smollm2-135m", "stream=true",
                              "server_k=4"]
        s0.close(), s1.close()
        desc = backend.describe()
        assert desc["backend"] == "openai" and [e["url"] for e in desc["endpoints"]] == [base.url, spec.url]


def test_vllm_metrics_deltas_are_the_servers_real_counts(model):
    with OpenAIServer(model, drafter="ngram", k=3, metrics="vllm") as spec:
        session, settings = one_session(spec.url, draft=True, model="smollm2-135m")
        got = [session.generate(PROMPT, settings), session.generate(PLAIN, settings)]
        logs = spec.generations()
        assert len(logs) == 2 and sum(r.drafted for r in logs) > 0
        for g, log in zip(got, logs):                                # per request, not cumulative
            assert (g.drafted, g.accepted) == (log.drafted, log.accepted)
            assert g.extra["vllm_metrics_delta"]["drafts"] == log.spec_drafts
            assert g.extra["vllm_metrics_delta"]["generation_tokens"] == log.completion_tokens == g.tokens
            assert g.extra["acceptance_source"] == "vllm /metrics delta"
        assert got[0].speculative is True
        assert got[1].extra["route"] == "/completions"               # a plain prompt goes to /completions
        assert spec.paths("GET").count("/metrics") == 4               # before and after each request


def test_vllm_metrics_old_names_and_a_server_without_spec_counters(model):
    with OpenAIServer(model, drafter="ngram", metrics="vllm-old") as old, OpenAIServer(model, metrics="vllm") as plain:
        session, settings = one_session(old.url, draft=True, model="smollm2-135m", max_tokens=12)
        g = session.generate(PROMPT, settings)
        (log,) = old.generations()
        assert (g.drafted, g.accepted) == (log.drafted, log.accepted)

        session, settings = one_session(plain.url, model="smollm2-135m", max_tokens=4)
        g1, g2 = session.generate(PROMPT, settings), session.generate(PROMPT, settings)
        assert g1.drafted is None and g2.drafted is None and g1.speculative is None
        assert plain.paths("GET") == ["/metrics"]                     # no spec counters: not asked again


def test_timings_without_draft_fields_flag_a_draft_cell(model):
    """A server that loaded a draft but did not draft: llama-server then sends timings with no draft fields."""
    with OpenAIServer(model, timings="llama") as srv:
        session, settings = one_session(srv.url, draft=True, max_tokens=8)
        g = session.generate(PROMPT, settings)
        assert g.speculative is False and g.drafted is None and "did not draft" in g.extra["flag"]
        assert g.tps_source == "server" and "draft_n" not in g.extra["timings"]
        session, settings = one_session(srv.url, max_tokens=8)       # the same server as a baseline: no verdict
        assert session.generate(PROMPT, settings).speculative is None


def test_chunk_count_without_usage_and_404_route_fallback(model):
    with OpenAIServer(model, usage=False, routes=("completions",)) as srv:
        session, settings = one_session(srv.url, model="smollm2-135m", max_tokens=8)
        g = session.generate(PROMPT, settings)
        (log,) = srv.generations()
        assert g.extra["token_count_source"] == "chunks" and g.tokens == log.content_chunks
        assert g.tokens <= log.completion_tokens
        assert g.extra["route"] == "/completions" and g.extra["route_fallback"]
        session.generate(PROMPT, settings)                           # the working route is remembered
        assert [(r.path, r.status) for r in srv.requests if r.method == "POST"] == [
            ("/v1/chat/completions", 404), ("/v1/completions", 200), ("/v1/completions", 200)]
        assert session.command[1] == srv.url + "/completions"


# --- API keys ------------------------------------------------------------------------------------------

def test_api_key_is_sent_and_never_leaks(model, monkeypatch):
    monkeypatch.setenv("DF_TEST_KEY", KEY)
    with OpenAIServer(model, drafter="ngram", timings="llama", api_key=KEY) as srv:
        cfg = config(srv.url, [{"label": "spec", "url": srv.url}], api_key_env="DF_TEST_KEY", max_tokens=8)
        backend = make_backend(cfg)
        session = backend.open(cfg.targets[0], cfg.drafts[0], None, cfg.settings)
        g = session.generate(PROMPT, cfg.settings)
        assert g.speculative is True
        assert [(r.path, r.key_ok) for r in srv.requests if r.path.startswith("/v1/")] == [
            ("/v1/models", True), ("/v1/chat/completions", True)]
        for blob in (json.dumps(g.to_dict()), json.dumps(session.command), json.dumps(backend.describe()),
                     json.dumps(cfg.to_dict())):
            assert KEY not in blob

        srv.fail("/v1/chat/completions", 500, "CUDA error: out of memory", echo_auth=True)
        with pytest.raises(DraftFinderError) as info:
            session.generate(PROMPT, cfg.settings)
        text = str(info.value)
        assert "HTTP 500" in text and "out of memory" in text and "***" in text and KEY not in text
        assert "\n" not in text and info.value.exit_code == EXIT_NETWORK

    monkeypatch.delenv("DF_TEST_KEY")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)                        # the default variable
    with OpenAIServer(model, api_key=KEY) as srv:
        session, settings = one_session(srv.url, model="smollm2-135m", max_tokens=4)
        session.generate(PROMPT, settings)
        assert [r.key_ok for r in srv.requests if r.path.startswith("/v1/")] == [True]


def test_401_wrong_or_missing_key(monkeypatch):
    wrong = "sk-wrong-key-0000000000"
    monkeypatch.setenv("DF_TEST_KEY", wrong)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with OpenAIServer(None, api_key=KEY) as srv:
        session, settings = one_session(srv.url, api_key_env="DF_TEST_KEY")       # 401 already on GET /models
        with pytest.raises(DraftFinderError) as info:
            session.generate(PROMPT, settings)
        text = str(info.value)
        assert "HTTP 401" in text and srv.url + "/models" in text and "$DF_TEST_KEY" in text
        assert wrong not in text and "\n" not in text and info.value.exit_code == EXIT_AUTH

        session, settings = one_session(srv.url, model="smollm2-135m")            # no key at all: on the POST
        with pytest.raises(DraftFinderError) as info:
            session.generate(PROMPT, settings)
        assert "HTTP 401" in str(info.value) and "OPENAI_API_KEY" in str(info.value)
        assert [(r.authorized, r.status) for r in srv.requests if r.path.startswith("/v1/")] == [
            (True, 401), (False, 401)]


def test_api_key_env_that_is_not_set():
    cfg = config("http://127.0.0.1:9/v1", api_key_env="DF_UNSET_KEY_VAR")
    with pytest.raises(UsageError, match="DF_UNSET_KEY_VAR is not set"):
        make_backend(cfg).open(cfg.targets[0], None, None, cfg.settings)


# --- network errors ------------------------------------------------------------------------------------

def test_connection_refused_is_one_line():
    url = closed_port_url()
    session, settings = one_session(url, model="m")
    with pytest.raises(DraftFinderError) as info:
        session.generate(PROMPT, settings)
    text = str(info.value)
    assert text == (f"cannot connect to {url}/chat/completions (connection refused) — "
                    "start the server or fix url of 'smollm2' in the config")
    assert info.value.exit_code == EXIT_NETWORK


def test_timeout_from_settings():
    with OpenAIServer(None) as srv:
        srv.delay("/v1/chat/completions", 10)
        session, settings = one_session(srv.url, model="smollm2-135m", timeout_s=0.3)
        with pytest.raises(DraftFinderError, match=r"did not answer within 0.3 s — raise settings.timeout_s"):
            session.generate(PROMPT, settings)


def test_unknown_model_404_on_both_routes():
    with OpenAIServer(None) as srv:
        session, settings = one_session(srv.url, model="no-such-model")
        with pytest.raises(DraftFinderError) as info:
            session.generate(PROMPT, settings)
        assert "answered 404: The model `no-such-model` does not exist." in str(info.value)
        assert srv.paths("POST") == ["/v1/chat/completions", "/v1/completions"]


# --- Prometheus parsing (pure) -------------------------------------------------------------------------

def test_parse_prometheus_sums_label_sets_and_reads_both_name_styles():
    text = ("# TYPE vllm:spec_decode_num_draft_tokens_total counter\n"
            'vllm:spec_decode_num_draft_tokens_total{engine="0",model_name="m"} 30.0\n'
            'vllm:spec_decode_num_draft_tokens_total{engine="1",model_name="m"} 12.0\n'
            'vllm:spec_decode_num_draft_tokens_created{engine="0",model_name="m"} 1.7e+09\n'
            'vllm:spec_decode_num_accepted_tokens_total{engine="0",model_name="m"} 21.0\n')
    assert vllm_counters(parse_prometheus(text)) == {"drafted": 42.0, "accepted": 21.0}
    old = "vllm:spec_decode_num_draft_tokens 8\nvllm:spec_decode_num_accepted_tokens 5 1700000000000\n"
    assert vllm_counters(parse_prometheus(old)) == {"drafted": 8.0, "accepted": 5.0}
    assert vllm_counters(parse_prometheus("vllm:generation_tokens_total 9\n")) is None
    assert metrics_base("http://h:8000/v1/") == "http://h:8000" and metrics_base("http://h:8080") == "http://h:8080"


# --- end to end through the sweep runner ---------------------------------------------------------------

def test_run_sweep_end_to_end(model, tmp_path, monkeypatch):
    from draftfinder.sweep.runner import run_sweep

    monkeypatch.setenv("DF_TEST_KEY", KEY)
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps([{"id": PROMPT.id, "text": PROMPT.text, "is_chat": True}]))
    with OpenAIServer(model, api_key=KEY) as base, \
            OpenAIServer(model, drafter="ngram", k=4, timings="llama", metrics="vllm", api_key=KEY) as spec, \
            OpenAIServer(model, timings="llama", api_key=KEY) as nodraft:
        cfg = config(base.url, [{"label": "ngram-k4", "url": spec.url, "k": 4},
                                {"label": "no-draft", "url": nodraft.url}],
                     target_model="smollm2-135m", prompts_file=str(prompts), prompts=1, max_tokens=16,
                     api_key_env="DF_TEST_KEY", warmup=0)
        out = tmp_path / "results.json"
        res = run_sweep(cfg, out)
        cells = {c["draft"]: c for c in res.cells}
        assert cells[None]["status"] == "ok" and cells["ngram-k4"]["status"] == "ok"
        (log,) = spec.generations()
        assert cells["ngram-k4"]["acceptance_rate"] == pytest.approx(log.accepted / log.drafted)
        assert cells["ngram-k4"]["outputs_match_baseline"] is None or cells["ngram-k4"]["outputs_match_baseline"] == 1
        assert cells["ngram-k4"]["speedup"] is not None and cells["ngram-k4"]["k"] == 4
        assert cells["no-draft"]["status"] == "flagged" and "did not draft" in cells["no-draft"]["flag"]
        assert res.meta["backend_info"]["backend"] == "openai"
        assert KEY not in out.read_text()
