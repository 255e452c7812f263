"""Candidate generation (candidates.py): sources, ordering, bounds — through the real finder and Hub code."""

from __future__ import annotations

import shutil

import pytest

from draftfinder import DraftModelFinder
from draftfinder.find.candidates import gather_candidates
from draftfinder.find.config import FinderConfig
from draftfinder.models.analysis import ModelAnalyzer
from draftfinder.models.resolver import Resolver

from tests.conftest import fixture_dir
from tests.hubserver import HubServer, RepoSpec


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """The loopback Hub with two extra repos made of real Qwen2.5-0.5B files: a community fine-tune and a
    quantized re-upload, both findable only through Hub search (they are in no known-drafts list)."""
    with HubServer() as server:
        src = fixture_dir("Qwen/Qwen2.5-0.5B")
        server.add_repo(RepoSpec("someuser/Qwen2.5-0.5B-finetune", src, downloads=50))
        server.add_repo(RepoSpec("someuser/Qwen2.5-0.5B-Instruct-GPTQ-Int4", src, downloads=40))
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def refs_for(target: str, **cfg):
    config = FinderConfig(**cfg)
    resolver = Resolver(token=None, offline=config.offline, models_dirs=config.models_dirs)
    record = resolver.resolve(target)
    return gather_candidates(record, ModelAnalyzer.analyze_record(record), resolver, config)


def test_hub_search_finds_community_models_and_official_come_first(hub):
    refs = refs_for("Qwen/Qwen2.5-7B")
    ids = [r.model_id for r in refs]
    assert "someuser/Qwen2.5-0.5B-finetune" in ids
    official = [i for i, r in enumerate(refs) if r.model_id.startswith("Qwen/")]
    community = [i for i, r in enumerate(refs) if r.model_id.startswith("someuser/")]
    assert max(official) < min(community)
    assert "Qwen/Qwen2.5-7B" not in ids                      # never the target itself


def test_quantized_variants_in_or_out(hub):
    with_q = [r.model_id for r in refs_for("Qwen/Qwen2.5-7B")]
    assert "someuser/Qwen2.5-0.5B-Instruct-GPTQ-Int4" in with_q
    from draftfinder.find.config import SearchConfig

    without_q = [r.model_id for r in refs_for("Qwen/Qwen2.5-7B", search=SearchConfig(include_quantized=False))]
    assert "someuser/Qwen2.5-0.5B-Instruct-GPTQ-Int4" not in without_q
    assert "someuser/Qwen2.5-0.5B-finetune" in without_q


def test_max_candidates_bounds_the_list(hub):
    assert len(refs_for("Qwen/Qwen2.5-7B", max_candidates=2)) == 2


@pytest.mark.slow
def test_community_draft_is_ranked_with_a_warning(hub):
    result = DraftModelFinder("Qwen/Qwen2.5-7B").find()
    community = [c for c in result.candidates if c.model_id == "someuser/Qwen2.5-0.5B-finetune"]
    assert community, [c.model_id for c in result.candidates]
    assert any("Community model" in w for w in community[0].warnings)
    official = [c for c in result.candidates if c.model_id == "Qwen/Qwen2.5-0.5B"][0]
    assert not any("Community model" in w for w in official.warnings)


@pytest.mark.slow
def test_size_ratio_bounds_from_config(hub):
    from draftfinder.find.config import SearchConfig

    result = DraftModelFinder("Qwen/Qwen2.5-7B", config=FinderConfig(
        search=SearchConfig(min_size_ratio=0.1, max_size_ratio=0.5))).find()
    assert [c.model_id for c in result.candidates] == ["Qwen/Qwen2.5-1.5B"]     # 0.5B is 6.5 %: out
    assert any(r.model_id == "Qwen/Qwen2.5-0.5B" and "outside search bounds" in r.reasons[0]
               for r in result.rejected)


@pytest.mark.slow
def test_hf_cache_is_a_source_after_an_online_run(hub, monkeypatch):
    DraftModelFinder("Qwen/Qwen2.5-7B").find()                 # downloads config + tokenizer files only
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")   # now the Hub is gone
    result = DraftModelFinder("Qwen/Qwen2.5-7B", offline=True).find()
    assert result.target.source == "hf-cache"
    cached = [c for c in result.candidates if c.model_info.source == "hf-cache"]
    assert {c.model_id for c in cached} >= {"Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B"}
    assert all(c.compatibility.method == "tokenizers" for c in cached)      # real files, test strings run


def test_models_dir_models_come_first(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(fixture_dir("Qwen/Qwen2.5-1.5B"), models / "my-draft")
    refs = refs_for("Qwen/Qwen2.5-7B", offline=True, models_dirs=[str(models)])
    assert refs[0].reason == "--models-dir" and refs[0].model_id.endswith("my-draft")


def test_offline_known_drafts_missing_from_catalog_and_cache_are_a_note_not_rejections():
    """Guards issue 11: offline, every known-good draft the catalog lacks was "rejected" as "not available
    offline" — noise that looked like a verdict. Now they are named once in a note and not evaluated."""
    from draftfinder.models.family import KNOWN_DRAFTS

    resolver = Resolver(offline=True)
    record = resolver.resolve("Qwen/Qwen2.5-7B-Instruct")
    refs = gather_candidates(record, ModelAnalyzer.analyze_record(record), resolver, FinderConfig(offline=True))
    ids = {r.model_id for r in refs}
    missing = [m for m in KNOWN_DRAFTS["qwen2"] if not resolver.catalog.has(m)]
    assert missing and not ids & set(missing)
    note = next(n for n in resolver.notes if n.startswith("known-good drafts for qwen2 not available offline"))
    assert all(m in note for m in missing)
    result = DraftModelFinder("Qwen/Qwen2.5-7B-Instruct", config=FinderConfig(offline=True)).find()
    assert not any("not available offline" in "; ".join(r.reasons) for r in result.rejected)
