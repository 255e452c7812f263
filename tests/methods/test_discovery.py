"""Hub discovery of heads whose config names the target, on the loopback Hub with real head configs
(tests/methods/hub_heads/SOURCES.md says where each came from)."""

from __future__ import annotations

from pathlib import Path

import pytest

from draftfinder.methods.discovery import discover_heads, method_of, named_target
from draftfinder.models.sources.hub import HubSource
from tests.hubserver import HubServer, RepoSpec, default_repos

HEADS = Path(__file__).parent / "hub_heads"


@pytest.fixture
def hub():
    repos = default_repos()
    for folder in sorted(p for p in HEADS.iterdir() if p.is_dir()):
        repo_id = folder.name.replace("__", "/")
        repos[repo_id] = RepoSpec(repo_id, folder, downloads=5_000, weights=False)
    with HubServer(repos) as server:
        yield server


def test_a_speculators_head_naming_the_target_is_found(hub):
    """Guards: find listed only independent draft models; a Hub head whose config names the target (speculators
    format) is now found, with its method read from the config."""
    found = discover_heads(HubSource(endpoint=hub.url, offline=False), "meta-llama/Llama-3.1-8B-Instruct")
    assert [(h.repo_id, h.method, h.found_by) for h in found] == [
        ("RedHatAI/Llama-3.1-8B-Instruct-speculator.eagle3", "eagle3", "hub")]
    assert "speculators_config.verifier.name_or_path" in found[0].provenance["where"]


def test_heads_naming_another_target_are_not_offered(hub):
    """The gemma-4 and Kimi-K3 heads are listed by the search (their names look like heads) but their configs name
    other targets: the config decides, never the name."""
    found = discover_heads(HubSource(endpoint=hub.url, offline=False), "meta-llama/Llama-3.2-1B")
    assert found == []
    requested = hub.paths("GET")
    assert any("RedHatAI/gemma-4-31B-it-speculator.eagle3" in p and p.endswith("config.json") for p in requested)


def test_an_old_medusa_head_is_found_by_base_model_name(hub):
    found = discover_heads(HubSource(endpoint=hub.url, offline=False), "lmsys/vicuna-7b-v1.3")
    assert [(h.repo_id, h.method) for h in found] == [("FasterDecoding/medusa-vicuna-7b-v1.3", "medusa")]


def test_named_target_and_method_forms():
    assert named_target({"speculators_config": {"verifier": {"name_or_path": "a/b"}}}) == "a/b"
    assert named_target({"base_model_name_or_path": "c/d"}) == "c/d"
    assert named_target({"model_type": "llama"}) is None
    assert method_of({"model_type": "mlp_speculator"}, "ibm/x-accelerator") == "mlp-speculator"
    assert method_of({}, "yuhuili/EAGLE3-LLaMA3.1-Instruct-8B") == "eagle3"
    assert method_of({}, "yuhuili/EAGLE-LLaMA3-Instruct-8B") == "eagle"
