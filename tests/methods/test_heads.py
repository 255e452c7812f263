"""data/heads.json: published heads with provenance, validated on load."""

from __future__ import annotations

import json

import pytest

from draftfinder.errors import HeadsDataError
from draftfinder.methods.heads import HEAD_METHODS, heads_for, load_heads


def test_the_shipped_heads_are_valid_and_cover_popular_targets():
    heads = load_heads()
    assert len(heads) >= 20
    assert {h.method for h in heads} == set(HEAD_METHODS)
    assert len({h.target for h in heads}) >= 15
    for h in heads:
        assert h.provenance["repo"] and h.provenance["path"] and h.provenance["where"]
    from draftfinder.predict.published import load_published

    row_ids = {r.row_id for r in load_published().rows}
    for h in heads:                       # a published speedup is a row of data/published.json, never typed in
        for pub in h.published:
            assert pub["row_id"] in row_ids
            assert [r.speedup for r in load_published().rows if r.row_id == pub["row_id"]] == [pub["speedup"]]


def test_heads_for_a_target_eagle3_first_and_renamed_meta_repos_match():
    ids = [h.repo_id for h in heads_for("meta-llama/Llama-3.1-8B-Instruct")]
    assert ids[:2] == ["yuhuili/EAGLE3-LLaMA3.1-Instruct-8B", "RedHatAI/Llama-3.1-8B-Instruct-speculator.eagle3"]
    assert "ibm-ai-platform/llama3-8b-accelerator" in ids          # listed for meta-llama/Meta-Llama-3.1-8B-Instruct
    assert heads_for("Qwen/Qwen2.5-0.5B") == []


@pytest.mark.parametrize("entry, problem", [
    ({"repo_id": "a/b", "target": "c/d", "method": "eagle4", "provenance": {"repo": "r", "path": "p", "where": "w"}},
     "unknown drafting method 'eagle4'"),
    ({"repo_id": "a/b", "target": "c/d", "method": "ngram", "provenance": {"repo": "r", "path": "p", "where": "w"}},
     "not a head method"),
    ({"repo_id": "a/b", "target": "c/d", "method": "eagle3"}, "missing provenance"),
])
def test_a_corrupt_entry_fails_loudly(tmp_path, entry, problem):
    path = tmp_path / "heads.json"
    path.write_text(json.dumps({"heads": [entry]}))
    with pytest.raises(HeadsDataError) as info:
        load_heads(str(path))
    assert problem in info.value.message
