"""The manual's Python API examples (§8.5, §8.7, §11.1), run as written against real files."""

from __future__ import annotations

import json

import pytest

import draftfinder
from draftfinder import (
    CompatibilityResult, DraftModelCandidate, DraftModelFinder, EnhancedTokenizerChecker, ModelAnalyzer,
    ModelInfo, QualityTier, QuantizationType, SpeedupEstimator, Task,
)

from tests.conftest import fixture_dir


def test_public_names_and_version():
    assert draftfinder.__version__
    assert {t.value for t in Task} == {"general", "code", "chat", "summarization"}
    assert {q.value for q in QuantizationType} == {"none", "int8", "int4", "gptq", "awq", "gguf", "bnb-4bit", "bnb-8bit"}
    assert [t.value for t in QualityTier] == ["EXCELLENT", "GOOD", "ACCEPTABLE", "MARGINAL", "POOR"]
    for cls in (ModelInfo, DraftModelCandidate, CompatibilityResult):
        assert hasattr(cls, "to_dict")


def test_manual_8_5_programmatic_usage(tmp_path, capsys):
    finder = DraftModelFinder(target_model_id="Qwen/Qwen2.5-7B", token=None, task=Task.GENERAL, verbose=True,
                              max_candidates=100, strict_tokenization=True)
    candidates = finder.find_draft_models(top_n=5)
    # a base target: the base drafts of its line first (issue 11 adds flagged instruct drafts below them)
    assert [c.model_id for c in candidates][:2] == ["Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B"]
    for c in candidates:
        assert f"{c.estimated_speedup:.2f}x" and f"{c.quality_score:.1f}"
    finder.print_results(top_n=5)
    assert "DRAFT MODEL RECOMMENDATIONS" in capsys.readouterr().out
    finder.export_results(str(tmp_path / "results.json"))
    assert json.loads((tmp_path / "results.json").read_text())["draft_models"][0]["model_id"] == "Qwen/Qwen2.5-0.5B"


def test_manual_8_7_custom_tests(monkeypatch):
    from transformers import AutoTokenizer

    monkeypatch.setattr(EnhancedTokenizerChecker, "TEST_STRINGS", list(EnhancedTokenizerChecker.TEST_STRINGS))
    target_tok = AutoTokenizer.from_pretrained(str(fixture_dir("gpt2")))
    draft_tok = AutoTokenizer.from_pretrained(str(fixture_dir("distilgpt2")))
    n = len(EnhancedTokenizerChecker.TEST_STRINGS)
    assert n >= 23
    EnhancedTokenizerChecker.TEST_STRINGS.extend(["Your domain-specific text here", "Another test case"])
    result = EnhancedTokenizerChecker.verify_compatibility(target_tok, draft_tok, "gpt2", "distilgpt2",
                                                           strict_tokenization=True, min_match_rate=0.95)
    assert result.is_compatible
    assert result.num_test_strings == n + 2 and result.num_passed_tests == n + 2
    assert result.failed_test_examples == []


def test_manual_11_1_analyzer_and_estimator():
    info = ModelAnalyzer.analyze_model("facebook/opt-6.7b")      # Hub unreachable here: offline catalog
    assert info.num_parameters == 6_658_473_984                    # (the manual prints 6,854,545,408: wrong)
    assert info.model_family == "opt"
    target = ModelAnalyzer.analyze_model("Qwen/Qwen2.5-7B")
    draft = ModelAnalyzer.analyze_model("Qwen/Qwen2.5-0.5B")
    acceptance = SpeedupEstimator.estimate_acceptance_rate(target, draft, same_family=True, tokenizer_match=True,
                                                           tokenization_match_rate=1.0)
    k = SpeedupEstimator.recommend_k(target, draft, acceptance)
    speedup = SpeedupEstimator.estimate_speedup(target, draft, acceptance, k)
    assert 0.5 < acceptance < 0.95
    assert 1 <= k <= 16
    assert speedup == pytest.approx(max(SpeedupEstimator.estimate_speedup(target, draft, acceptance, j)
                                        for j in range(1, 17)))
