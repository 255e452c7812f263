"""Quality score and tiers (manual §4.2–4.4)."""

import pytest

from draftfinder.find.results import QualityTier
from draftfinder.find.ranking import (
    WEIGHTS, candidate_warnings, quality_score, quality_tier, size_ratio_component,
)


def test_weights_are_the_manuals():
    assert WEIGHTS == {"speedup": 40, "acceptance": 30, "size_ratio": 15, "family": 10, "tokenization": 5}
    assert sum(WEIGHTS.values()) == 100


def test_perfect_candidate_scores_100():
    s = quality_score(3.0, 1.0, 0.2, True, 1.0)
    assert s.total == pytest.approx(100.0)


def test_score_components_exact():
    # speedup 2.0 -> 0.5*40=20; alpha .7 -> 21; ratio inside band -> 15; family 10; tokenization 5
    assert quality_score(2.0, 0.7, 0.15, True, 1.0).total == pytest.approx(71.0)
    # different family, 10x below the band edge -> size component 0
    assert quality_score(2.0, 0.7, 0.01, False, 1.0).total == pytest.approx(20 + 21 + 0 + 0 + 5)


@pytest.mark.parametrize("ratio, expected", [(0.1, 1.0), (0.3, 1.0), (0.01, 0.0), (0.05, 1 - 0.30103), (3.0, 0.0)])
def test_size_ratio_component(ratio, expected):
    assert size_ratio_component(ratio, 0.1, 0.3) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("score, alpha, speedup, tier", [
    (85, 0.85, 2.5, QualityTier.EXCELLENT),
    (85, 0.75, 2.5, QualityTier.GOOD),          # acceptance keeps it out of EXCELLENT
    (85, 0.85, 1.4, QualityTier.ACCEPTABLE),    # speedup keeps it out of GOOD
    (55, 0.9, 3.0, QualityTier.ACCEPTABLE),
    (40, 0.55, 1.25, QualityTier.MARGINAL),
    (90, 0.4, 3.0, QualityTier.POOR),
    (20, 0.9, 3.0, QualityTier.POOR),
])
def test_tier_needs_all_three_thresholds(score, alpha, speedup, tier):
    assert quality_tier(score, alpha, speedup) is tier


def test_warnings_of_manual_7_4():
    w = candidate_warnings(size_ratio=0.005, quantized=True, quantization="int4", official=False,
                           tokenization_match_rate=0.95, num_tests=23, speedup=0.9, engine_problems=["vllm: x"])
    text = "\n".join(w)
    for needle in ("Very small model", "Quantized variant (int4)", "Community model",
                   "Tokenization mismatch on 5% of tests", "below 1×", "vllm: x"):
        assert needle in text
    assert candidate_warnings(size_ratio=0.7, quantized=False, quantization="", official=True,
                              tokenization_match_rate=1.0, num_tests=23, speedup=1.2,
                              engine_problems=[]) == ["Large draft model - limited speedup benefit (> 50% of target size)"]


def _cand(model_id, speedup, basis="estimated", score=50.0):
    from types import SimpleNamespace

    return SimpleNamespace(model_id=model_id, estimated_speedup=speedup, speedup_basis=basis, quality_score=score)


def test_rank_key_speedup_then_basis_then_score_then_id():
    """The documented sort key: speedup at 0.01x, then measured > published > estimated, then score, then id."""
    from draftfinder.find.ranking import rank_key

    cands = [_cand("z/est-fast", 1.30), _cand("a/est", 1.20, score=90), _cand("m/measured", 1.204, "measured"),
             _cand("p/published", 1.199, "published"), _cand("b/est", 1.20, score=90), _cand("c/est-low", 1.20, score=10)]
    order = [c.model_id for c in sorted(cands, key=rank_key)]
    assert order == ["z/est-fast", "m/measured", "p/published", "a/est", "b/est", "c/est-low"]


def test_speedup_basis_is_the_weakest_input():
    from draftfinder.find.ranking import speedup_basis
    from draftfinder.find.results import Provenance

    measured, est = Provenance("measured", "m"), Provenance("estimated", "e")
    assert speedup_basis({"acceptance_rate_estimate": measured, "cost_ratio": measured,
                          "verify_cost_by_k": measured, "estimated_speedup": est}) == "measured"
    assert speedup_basis({"acceptance_rate_estimate": measured, "cost_ratio": est,
                          "verify_cost_by_k": est}) == "estimated"
    assert speedup_basis({"acceptance_rate_estimate": {"source": "published"}, "cost_ratio": measured,
                          "verify_cost_by_k": measured}) == "published"
    assert speedup_basis({"estimated_speedup": measured}) == "measured"      # timed side by side
