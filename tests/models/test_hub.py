"""HubSource through huggingface_hub's own HTTP code, against the loopback Hub in ``tests/hubserver.py``.

Nothing is mocked: huggingface_hub sends real requests to a real HTTP server that serves the fixture files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import traceback

# huggingface_hub reads its environment once, at import; make sure it never phones the real Hub from here
# (it fetches an "agent harness" list for its user agent unless telemetry is disabled).
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pytest  # noqa: E402

from draftfinder import constants, errors  # noqa: E402
from draftfinder.models.sources.base import ModelRecord  # noqa: E402
from draftfinder.models.sources.hub import SAFETENSORS_SOURCE, HubSource, weights_bytes  # noqa: E402

from tests.conftest import fixture_dir  # noqa: E402
from tests.hubserver import HubServer, RepoSpec  # noqa: E402

QWEN = "Qwen/Qwen2.5-7B"
QWEN_PARAMS = 7_615_616_512          # Qwen2.5-7B on the Hub: {"BF16": 7615616512}
SECRET = "loopback-secret-7f3a9c1e"  # deliberately not hf_-shaped: redaction must come from register_secret


@pytest.fixture
def hub(fixtures):
    with HubServer() as server:
        server.warm(QWEN)            # the meta-device layout is computed once per process, before timing tests
        yield server


def source(hub: HubServer, **kwargs) -> HubSource:
    kwargs.setdefault("timeout", 30)
    return HubSource(endpoint=hub.url, **kwargs)


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def everything_about(err: BaseException) -> str:
    """The error's message, hint and the whole formatted traceback with its chained causes."""
    return "\n".join([str(err), repr(err), getattr(err, "hint", "") or "", "".join(traceback.format_exception(err))])


# --- resolve --------------------------------------------------------------------------------------------

def test_resolve_reads_model_info_and_downloads_only_metadata(hub):
    rec = source(hub).resolve(QWEN)

    fixture = fixture_dir(QWEN)
    assert rec.source == "hub" and rec.model_id == QWEN
    assert rec.config == json.loads((fixture / "config.json").read_text())
    assert rec.safetensors_parameters == {"BF16": QWEN_PARAMS}
    assert rec.safetensors_source == SAFETENSORS_SOURCE
    assert rec.revision == hub.repos[QWEN].sha and rec.author == "Qwen" and rec.downloads == 450_000
    assert rec.gated is False and "qwen2" in rec.tags
    assert "model.safetensors.index.json" in rec.files and "model-00001-of-00004.safetensors" in rec.files
    # weights_bytes = the shard sizes the API reported: 2 bytes per BF16 parameter plus four headers
    shard_sizes = [f.size for f in hub.repos[QWEN].files.values() if f.name.endswith(".safetensors")]
    assert rec.weights_bytes == sum(shard_sizes) and 0 < rec.weights_bytes - 2 * QWEN_PARAMS < 200_000

    # tokenizer files sit in the HF cache snapshot of that commit, byte-identical to the fixtures
    assert rec.local_dir.parent.name == "snapshots" and rec.local_dir.name == rec.revision
    assert str(rec.local_dir).startswith(os.environ["HF_HUB_CACHE"])
    for name in ("config.json", "vocab.json", "merges.txt", "tokenizer_config.json"):
        assert (rec.local_dir / name).read_bytes() == (fixture / name).read_bytes()
    assert rec.has_tokenizer_files()

    # one model_info call with file sizes, then only the four small files: no weight, no index, no CDN
    assert hub.requests[0].path == f"/api/models/{QWEN}" and hub.requests[0].query == {"blobs": ["true"]}
    assert hub.weight_requests() == [] and hub.paths(server="cdn") == []
    downloaded = {p.rsplit("/", 1)[1] for p in hub.paths("GET") if "/resolve-cache/" in p}
    assert downloaded == {"config.json", "vocab.json", "merges.txt", "tokenizer_config.json"}


def test_lfs_file_comes_from_the_cdn_without_the_token(hub):
    model = "meta-llama/Llama-2-7b-hf"
    rec = source(hub, token=SECRET).resolve(model)

    assert (rec.local_dir / "tokenizer.model").read_bytes() == (fixture_dir(model) / "tokenizer.model").read_bytes()
    cdn = [r for r in hub.requests if r.server == "cdn"]
    assert [r.path.rsplit("/", 1)[1] for r in cdn] == ["tokenizer.model"]
    assert not cdn[0].authorized and all(r.authorized for r in hub.requests if r.server == "hub")
    assert rec.safetensors_parameters == {"F16": 6_738_415_616} and hub.weight_requests() == []


def test_short_alias_follows_the_hub_redirect(hub):
    rec = source(hub).resolve("gpt2")
    assert rec.model_id == "gpt2" and rec.author == "openai-community"
    assert rec.config == json.loads((fixture_dir("gpt2") / "config.json").read_text())
    assert rec.safetensors_parameters == {"F32": 124_439_808}   # parameters (the Hub's 137M adds attn.bias buffers)


def test_adapter_repo_without_config(hub, tmp_path):
    """A PEFT adapter repo: adapter_config.json is fetched and parsed, config stays empty."""
    adapter = {"base_model_name_or_path": "Qwen/Qwen2.5-0.5B", "peft_type": "LORA", "r": 8, "lora_alpha": 16,
               "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM"}
    (tmp_path / "adapter_config.json").write_text(json.dumps(adapter))
    hub.add_repo(RepoSpec("someone/qwen-lora", tmp_path))
    rec = source(hub).resolve("someone/qwen-lora")
    assert rec.adapter_config == adapter and rec.config == {} and rec.files == ["adapter_config.json"]
    assert rec.safetensors_parameters is None and rec.weights_bytes is None
    assert (rec.local_dir / "adapter_config.json").exists()


# --- errors ---------------------------------------------------------------------------------------------

def test_unknown_repo_is_model_not_found(hub):
    from huggingface_hub.errors import RepositoryNotFoundError

    with pytest.raises(errors.ModelNotFoundError) as info:
        source(hub).resolve("nobody/no-such-model")
    assert "nobody/no-such-model" in str(info.value) and info.value.exit_code == errors.EXIT_NOT_FOUND
    assert isinstance(info.value.__cause__, RepositoryNotFoundError)


def test_unknown_revision_is_model_not_found(hub):
    with pytest.raises(errors.ModelNotFoundError, match="revision"):
        source(hub).resolve(QWEN, revision="v9.9")


def test_private_repo_answers_like_a_missing_one(hub):
    hub.make_private(QWEN, allowed_tokens=[SECRET])
    with pytest.raises(errors.ModelNotFoundError, match="private") as info:
        source(hub).resolve(QWEN)
    assert hub.requests[-1].status == 401
    assert source(hub, token=SECRET).resolve(QWEN).revision == hub.repos[QWEN].sha
    assert SECRET not in everything_about(info.value)


def test_invalid_token_is_reported_as_such(hub):
    hub.fail(f"/api/models/{QWEN}", 401, message="Invalid credentials in Authorization header")
    with pytest.raises(errors.DraftFinderError, match="rejected the token") as info:
        source(hub, token=SECRET).resolve(QWEN)
    assert SECRET not in everything_about(info.value)


def test_gated_without_token(hub):
    hub.gate(QWEN, allowed_tokens=[SECRET])
    with pytest.raises(errors.GatedModelError) as info:
        source(hub).resolve(QWEN)
    assert "HF_TOKEN" in info.value.hint and info.value.exit_code == errors.EXIT_AUTH
    assert [r.status for r in hub.requests][-1] == 401


def test_gated_with_refused_token_never_shows_the_token(hub, caplog):
    caplog.set_level(logging.DEBUG)
    hub.gate(QWEN, allowed_tokens=["some-other-token"])
    with pytest.raises(errors.GatedModelError) as info:
        source(hub, token=SECRET).resolve(QWEN)
    assert "token was refused" in info.value.hint and hub.requests[-1].status == 403
    assert SECRET not in everything_about(info.value) and SECRET not in caplog.text


def test_gated_with_allowed_token_resolves_and_stores_no_token(hub, caplog):
    caplog.set_level(logging.DEBUG)
    hub.gate(QWEN, allowed_tokens=[SECRET])
    src = source(hub, token=SECRET)
    rec = src.resolve(QWEN)

    assert rec.gated is True and rec.safetensors_parameters == {"BF16": QWEN_PARAMS}
    assert all(r.authorized for r in hub.requests if r.server == "hub")
    assert SECRET not in repr(dataclasses.asdict(rec)) and SECRET not in repr(src) and SECRET not in caplog.text
    for path in constants.data_home().rglob("*"):                      # metadata kept for offline use
        assert path.is_dir() or SECRET not in path.read_text(errors="replace")


def test_rate_limited_passes_retry_after(hub):
    hub.fail(f"/api/models/{QWEN}", 429, retry_after="17")
    with pytest.raises(errors.RateLimitedError, match="wait 17 s") as info:
        source(hub).resolve(QWEN)
    assert info.value.exit_code == errors.EXIT_NETWORK


def test_timeout(hub):
    hub.delay(f"/api/models/{QWEN}", 5)              # answered only after 5 s: the error proves the 0.3 s timeout
    with pytest.raises(errors.HubTimeoutError, match=QWEN):
        source(hub, timeout=0.3).resolve(QWEN)


def test_connection_refused_is_network_error(fixtures):
    with pytest.raises(errors.NetworkError, match="refused") as info:
        HubSource(endpoint=closed_port_url(), timeout=5).resolve(QWEN)
    assert info.value.exit_code == errors.EXIT_NETWORK


def test_unexpected_http_error_quotes_the_server_redacted(hub):
    hub.fail(f"/api/models/{QWEN}", 500, message="backend exploded near hf_abcdefghijklmnop")
    with pytest.raises(errors.DraftFinderError) as info:
        source(hub).resolve(QWEN)
    assert type(info.value) is errors.DraftFinderError
    assert "HTTP 500" in str(info.value) and "backend exploded" in str(info.value)
    assert "hf_abcdefghijklmnop" not in str(info.value)


# --- offline --------------------------------------------------------------------------------------------

def test_offline_resolve_from_cache_makes_no_request(hub):
    online = source(hub).resolve(QWEN)
    hub.clear_log()
    offline = source(hub, offline=True).resolve(QWEN)

    assert hub.requests == []
    assert offline.source == "hf-cache"
    for name in ("config", "local_dir", "revision", "files", "safetensors_parameters", "safetensors_source",
                 "weights_bytes", "author", "tags", "downloads"):
        assert getattr(offline, name) == getattr(online, name), name


def test_offline_without_kept_metadata_uses_the_snapshot(hub):
    """A snapshot cached by another tool (no Hub answer kept): files and commit only, no invented counts."""
    online = source(hub).resolve(QWEN)
    for path in sorted(constants.data_home().rglob("*.json")):
        path.unlink()
    offline = source(hub, offline=True).resolve(QWEN)
    assert offline.config == online.config and offline.revision == online.revision
    assert offline.files == ["config.json", "merges.txt", "tokenizer_config.json", "vocab.json"]
    assert offline.safetensors_parameters is None and offline.weights_bytes is None and offline.author == "Qwen"


def test_offline_uncached_is_unavailable(hub):
    with pytest.raises(errors.OfflineUnavailableError):
        source(hub, offline=True).resolve(QWEN)
    assert source(hub, offline=True).search("qwen2.5", target=ModelRecord(QWEN, "hub"), limit=5) == []
    assert hub.requests == []


# --- listing and search ---------------------------------------------------------------------------------

QWEN_BY_DOWNLOADS = ["Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B", "Qwen/Qwen2.5-7B"]


def test_list_models_by_downloads(hub):
    refs = source(hub).list_models(search="Qwen2.5")
    assert [r.model_id for r in refs] == QWEN_BY_DOWNLOADS
    assert [r.downloads for r in refs] == sorted((r.downloads for r in refs), reverse=True)
    assert {r.source for r in refs} == {"hub"} and {r.author for r in refs} == {"Qwen"}
    assert hub.requests[0].query["sort"] == ["downloads"]


def test_list_models_follows_pagination(fixtures):
    with HubServer(page_size=2) as hub:
        refs = source(hub).list_models(search="Qwen2.5", limit=4)
        assert [r.model_id for r in refs] == QWEN_BY_DOWNLOADS
        assert [r.query.get("cursor") for r in hub.requests] == [None, ["2"]]


def test_search_proposes_family_excluding_target(hub):
    target = ModelRecord(QWEN, "hub", author="Qwen")
    refs = source(hub).search("qwen2.5", target=target, limit=10)
    assert [r.model_id for r in refs] == QWEN_BY_DOWNLOADS[:-1]
    assert all(r.reason.startswith("hub search: ") for r in refs)
    assert hub.requests[0].query["author"] == ["Qwen"]


def test_list_models_timeout(hub):
    hub.delay("/api/models", 5)                       # answered only after 5 s: the error proves the timeout
    with pytest.raises(errors.HubTimeoutError):
        source(hub, timeout=0.3).list_models(search="Qwen2.5")


# --- pure helpers and the loopback Hub itself -----------------------------------------------------------

def test_weights_bytes_counts_one_format():
    assert weights_bytes({"model.safetensors": 10, "pytorch_model.bin": 11, "onnx/model.onnx": 5}) == 10
    assert weights_bytes({"model-1.safetensors": 4, "consolidated.safetensors": 8, "model-2.safetensors": 4}) == 8
    assert weights_bytes({"pytorch_model.bin": 11, "training_args.bin": 1}) == 11
    assert weights_bytes({"a.Q4.gguf": 3, "a.Q8.gguf": 6}) is None
    assert weights_bytes({"model.safetensors": None}) is None


def test_loopback_hub_safetensors_headers_agree_with_its_api(hub):
    """Guards the loopback Hub: huggingface_hub's header reader (Range requests) sees the advertised counts."""
    from huggingface_hub import HfApi

    meta = HfApi(endpoint=hub.url, token=False).get_safetensors_metadata(QWEN)
    assert meta.sharded and meta.parameter_count == {"BF16": QWEN_PARAMS}
    assert all(r.range for r in hub.requests if r.server == "cdn")
