"""The expert's first pick (find/expert.py, ranking.rank_key's first criterion).

Before issue 11, ``find Qwen/Qwen2.5-7B-Instruct`` put the base Qwen2.5-0.5B first (highest estimated speedup)
even with an instruct draft of the family available, and nothing said its EOS differs. These tests fail on
that behaviour.
"""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest

from draftfinder import DraftModelFinder
from draftfinder.find.config import FinderConfig
from draftfinder.find.expert import (BASE, INSTRUCT, TIER_FLAGGED, TIER_SAME_LINE, TIER_SAME_VARIANT, TIER_UNKNOWN,
                                     UNKNOWN, model_line, model_variant, variant_match)
from draftfinder.find.ranking import rank_key

from tests.conftest import fixture_dir


@pytest.mark.parametrize("model_id, variant", [
    ("Qwen/Qwen2.5-7B-Instruct", INSTRUCT), ("Qwen/Qwen2.5-0.5B", BASE), ("meta-llama/Llama-2-70b-chat-hf", INSTRUCT),
    ("meta-llama/Llama-2-7b-hf", BASE), ("google/gemma-2-27b-it", INSTRUCT), ("google/gemma-3-1b-pt", BASE),
    ("google/gemma-2-2b", BASE), ("Qwen/Qwen3-32B", INSTRUCT), ("Qwen/Qwen3-0.6B-Base", BASE),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", INSTRUCT), ("double7/vicuna-68m", INSTRUCT),
    ("JackFram/llama-68m", BASE), ("distilgpt2", BASE), ("mistralai/Mixtral-8x7B-Instruct-v0.1", INSTRUCT),
    ("unsloth/Llama-3.2-1B-Instruct-bnb-4bit", INSTRUCT), ("HuggingFaceTB/SmolLM3-3B", INSTRUCT),
])
def test_variant_from_the_name(model_id, variant):
    assert model_variant(model_id)[0] == variant


def test_catalog_is_instruct_wins_over_the_name_and_local_names_without_marker_are_unknown():
    assert model_variant("someone/odd-name", {"is_instruct": True}) == (INSTRUCT, "catalog is_instruct")
    assert model_variant("org/Foo-Instruct", {"is_instruct": False})[0] == BASE
    assert model_variant("/models/draft-q4_k_m.gguf", local=True)[0] == UNKNOWN


@pytest.mark.parametrize("model_id, line", [
    ("Qwen/Qwen2.5-Coder-32B-Instruct", "qwen2.5-coder"), ("Qwen/Qwen2.5-0.5B-Instruct", "qwen2.5"),
    ("meta-llama/Llama-3.2-1B-Instruct", "llama-3.2"), ("meta-llama/Meta-Llama-3-8B-Instruct", "llama-3"),
    ("microsoft/Phi-3-medium-4k-instruct", "phi-3"), ("microsoft/Phi-3-mini-4k-instruct", "phi-3"),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "deepseek-r1-distill-qwen"), ("google/gemma-3-270m-it", "gemma-3"),
    ("Qwen/Qwen3-30B-A3B", "qwen3"), ("facebook/opt-6.7b", "opt"), ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral"),
])
def test_line(model_id, line):
    assert model_line(model_id) == line


def test_tiers():
    cfg = dict(target_config={"eos_token_id": 151645})
    same_line = variant_match("Qwen/Qwen2.5-72B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct",
                              draft_config={"eos_token_id": 151645}, **cfg)
    coder = variant_match("Qwen/Qwen2.5-72B-Instruct", "Qwen/Qwen2.5-Coder-0.5B-Instruct",
                          draft_config={"eos_token_id": 151645}, **cfg)
    base = variant_match("Qwen/Qwen2.5-72B-Instruct", "Qwen/Qwen2.5-0.5B", draft_config={"eos_token_id": 151643}, **cfg)
    local = variant_match("Qwen/Qwen2.5-72B-Instruct", "/m/draft.gguf", draft_local=True, **cfg)
    assert (same_line.tier, coder.tier, base.tier, local.tier) == (TIER_SAME_LINE, TIER_SAME_VARIANT, TIER_FLAGGED,
                                                                   TIER_UNKNOWN)
    assert same_line.expert_pick and coder.expert_pick and not base.expert_pick and not local.expert_pick
    assert base.flag.startswith("Base model for an instruct/chat target: EOS/chat template differ")
    assert "id 151643 vs the target's id 151645" in base.flag
    # an instruct draft whose EOS differs is flagged too (it proposes another end of turn)
    other_eos = variant_match("Qwen/Qwen2.5-72B-Instruct", "x/Other-1B-Instruct", draft_config={"eos_token_id": 2}, **cfg)
    assert other_eos.tier == TIER_FLAGGED and other_eos.flag.startswith("EOS differs")
    # a base target prefers base drafts
    rev = variant_match("facebook/opt-6.7b", "someone/opt-125m-chat")
    assert rev.tier == TIER_FLAGGED and rev.flag.startswith("Instruct/chat model for a base target")
    assert variant_match("facebook/opt-6.7b", "facebook/opt-125m").tier == TIER_SAME_LINE


def test_tier_ranks_before_speedup_but_never_above_a_pair_that_fits():
    def cand(name, speedup, tier):
        return SimpleNamespace(model_id=name, estimated_speedup=speedup, speedup_basis="estimated", quality_score=50,
                               variant=SimpleNamespace(tier=tier), fit=SimpleNamespace(required_gb=1.0))
    cands = [cand("a/base-fast", 2.5, TIER_FLAGGED), cand("b/instruct-slow", 1.4, TIER_SAME_LINE),
             cand("c/coder", 1.9, TIER_SAME_VARIANT), cand("d/instruct-nofit", None, TIER_SAME_LINE)]
    assert [c.model_id for c in sorted(cands, key=rank_key)] == ["b/instruct-slow", "c/coder", "a/base-fast",
                                                                  "d/instruct-nofit"]


def _instruct_draft_folder(tmp_path):
    """Qwen2.5-1.5B-Instruct from real files: the 1.5B config.json (its published Instruct config differs in
    eos_token_id 151645, set here) and the Qwen2.5 Instruct tokenizer files (byte-identical across sizes)."""
    folder = tmp_path / "models" / "Qwen2.5-1.5B-Instruct"
    folder.mkdir(parents=True)
    config = json.loads((fixture_dir("Qwen/Qwen2.5-1.5B") / "config.json").read_text())
    config["eos_token_id"] = 151645
    (folder / "config.json").write_text(json.dumps(config))
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        shutil.copy(fixture_dir("Qwen/Qwen2.5-7B-Instruct") / name, folder / name)
    return folder


def test_instruct_target_gets_the_instruct_draft_first_and_base_drafts_are_flagged(tmp_path):
    """Guards the issue: the base Qwen2.5-0.5B (higher estimated speedup) no longer outranks an instruct draft."""
    folder = _instruct_draft_folder(tmp_path)
    cfg = FinderConfig(offline=True, hardware="a100-80gb", models_dirs=[str(folder.parent)])
    result = DraftModelFinder("Qwen/Qwen2.5-7B-Instruct", config=cfg).find()
    first = result.candidates[0]              # an instruct draft (the catalog's 0.5B-Instruct, by file hash, is faster)
    assert first.variant.draft_variant == INSTRUCT and first.variant.expert_pick
    local = next(c for c in result.candidates if c.model_id == str(folder))
    assert local.variant.draft_variant == INSTRUCT and local.variant.expert_pick
    assert local.variant.same_eos is True and local.variant.eos_basis == "tokenizer check"
    base = [c for c in result.candidates if c.model_id == "Qwen/Qwen2.5-0.5B"][0]
    assert base.estimated_speedup > local.estimated_speedup            # the speedup alone would have put it first
    assert base.rank > local.rank
    assert base.variant.tier == TIER_FLAGGED and base.warnings[0].startswith("Base model for an instruct/chat target")
    data = result.to_dict()
    assert data["draft_models"][0]["variant"]["expert_pick"] is True
    assert "instruct/chat" in data["ranking"]["rule"]


def test_report_names_the_variant(tmp_path):
    from draftfinder.report.table import render_find

    folder = _instruct_draft_folder(tmp_path)
    cfg = FinderConfig(offline=True, hardware="a100-80gb", models_dirs=[str(folder.parent)])
    text = render_find(DraftModelFinder("Qwen/Qwen2.5-7B-Instruct", config=cfg).find().to_dict(), symbols=False)
    assert "Variant: instruct draft for an instruct target (same line qwen2.5; EOS '<|im_end|>' (151645) on both" in text
    assert "— expert pick" in text and "— flagged" in text
