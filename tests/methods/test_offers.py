"""The drafting methods find lists beside the draft models (FindResult.draft_methods, the report section)."""

from __future__ import annotations

from draftfinder.find.finder import DraftModelFinder
from draftfinder.report.table import render_find


def test_find_lists_heads_mtp_and_model_free_methods_offline():
    """Guards: find's JSON had no draft_methods; the report no 'Other drafting methods' section."""
    result = DraftModelFinder("Qwen/Qwen2.5-7B-Instruct", offline=True, hardware="a100-80gb").find()
    data = result.to_dict(3)
    methods = {m["method"]: m for m in data["draft_methods"]}
    assert {"ngram", "suffix", "layer-skip"} <= set(methods)
    ng = methods["ngram"]
    assert ng["expected_speedup"] == 1.6 and ng["speedup_basis"] == "published"
    assert '"method": "ngram"' in ng["usage"]["vllm"] and ng["usage"]["llama.cpp"].endswith("--spec-type ngram-simple")
    assert "mtp" not in methods                                           # Qwen2.5 has no MTP layers
    text = render_find(data, symbols=False)
    assert "Other drafting methods" in text and "n-gram / prompt lookup" in text


def test_heads_are_listed_even_when_no_draft_model_is_compatible():
    from draftfinder.errors import NoCompatibleDraftsError

    finder = DraftModelFinder("meta-llama/Llama-3.1-8B-Instruct", offline=True, hardware="a100-80gb")
    try:
        finder.find()
    except NoCompatibleDraftsError:
        pass
    methods = finder.result.to_dict()["draft_methods"]
    heads = [m["draft"] for m in methods if m["draft"]]
    assert heads[0] == "yuhuili/EAGLE3-LLaMA3.1-Instruct-8B"
    first = methods[0]
    assert first["engines"] == ["vllm", "sglang", "llama.cpp"] and "SafeAILab/EAGLE README.md" in first["provenance"]
    assert "vllm/config/speculative.py" in first["rules"]["vllm"]
