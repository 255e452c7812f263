"""draftfinder.predict.acceptance: the α prior, checked out of sample on published points it was not fitted to."""

from __future__ import annotations

import math

import pytest

from draftfinder.predict import acceptance as acc
from draftfinder.predict.acceptance import PUBLISHED_ACCEPTANCE, AcceptanceEstimate, prior_acceptance, refit
from draftfinder.constants import ESTIMATED, MEASURED
from draftfinder.find.results import Task

USED = [p for p in PUBLISHED_ACCEPTANCE if p.used_in_fit]


def _prior_for(p):
    return prior_acceptance(p.target_params, p.draft_params, same_family=True, task=p.task,
                            draft_bits=p.draft_bits, target_bits=p.target_bits)


def test_stored_coefficients_equal_refit():
    fit = refit()
    assert acc.FIT_INTERCEPT == pytest.approx(fit.intercept, abs=1e-3)
    assert acc.FIT_SLOPE_PER_DECADE == pytest.approx(fit.slope_per_decade, abs=1e-3)
    assert acc.FIT_SUMMARIZATION_OFFSET == pytest.approx(fit.task_offsets[Task.SUMMARIZATION], abs=1e-3)
    assert acc.FIT_RESIDUAL_SD_LOGIT == pytest.approx(fit.residual_sd_logit, abs=1e-3)
    assert acc.FIT_MAX_ABS_RESIDUAL_LOGIT == pytest.approx(fit.max_abs_residual_logit, abs=1e-3)
    assert acc.FIT_MAX_ABS_RESIDUAL_ALPHA == pytest.approx(fit.max_abs_residual_alpha, abs=1e-3)
    assert fit.n_points == len(USED) == 22
    assert fit.n_groups == 7


def _alpha(fit, p):
    z = fit.predict_logit(p.draft_params, p.target_params, p.task)
    return 1 / (1 + math.exp(-(z - acc.quant_penalty(p.draft_bits) - acc.quant_penalty(p.target_bits))))


def test_out_of_sample_leviathan_fit_predicts_the_draftbench_points():
    """OUT OF SAMPLE. Guards issue 9 §5 (the test it replaces checked every fitted point against the maximum
    residual of the same fit, which cannot fail). Fitted on Leviathan 2023 alone (T5, LaMDA), the prior predicts
    another study — draftbench's Qwen2.5-72B points, llama.cpp, modern LLMs — within 0.13 in α, and in the
    published order (a larger draft is accepted more often)."""
    leviathan = refit([p for p in USED if not p.group.startswith("draftbench")])
    held_out = [p for p in USED if p.group.startswith("draftbench")]
    predicted = [_alpha(leviathan, p) for p in held_out]
    assert len(held_out) == 4
    assert max(abs(a - p.alpha) for a, p in zip(predicted, held_out)) <= 0.13
    assert predicted == sorted(predicted) and [p.alpha for p in held_out] == sorted(p.alpha for p in held_out)


def test_out_of_sample_leave_one_group_out():
    """OUT OF SAMPLE. Each study × dataset × temperature group predicted by a fit without it: the size slope
    stays within ±10 % of the full fit's, and every held-out α is within 0.21 (RMSE ≈ 0.10 — wider than the
    in-sample ±1 SD band, which covers the spread of fitted points only)."""
    full = refit()
    errors = []
    for group in sorted({p.group for p in USED}):
        fit = refit([p for p in USED if p.group != group])
        assert fit.slope_per_decade == pytest.approx(full.slope_per_decade, rel=0.10), group
        errors += [_alpha(fit, p) - p.alpha for p in USED if p.group == group]
    assert len(errors) == 22
    assert max(abs(e) for e in errors) <= 0.21
    assert math.sqrt(sum(e * e for e in errors) / len(errors)) <= 0.11


def test_in_sample_band_covers_about_two_thirds_of_the_fitted_points():
    """IN-SAMPLE (the band is ±1 residual SD of these very points): checks the SD and the band arithmetic only."""
    inside_band = sum(_prior_for(p).low <= p.alpha <= _prior_for(p).high for p in USED)
    assert inside_band / len(USED) >= 0.6


def test_published_table_values_and_citations():
    by = {(p.target, p.draft, p.temperature): p.alpha for p in PUBLISHED_ACCEPTANCE}
    assert by[("T5-XXL (EnDe)", "T5-small", 0)] == 0.75          # Leviathan 2023 Table 3
    assert by[("T5-XXL (CNNDM)", "T5-large", 1)] == 0.56
    assert by[("LaMDA (137B)", "LaMDA (8B)", 0)] == 0.75
    assert by[("Qwen2.5-72B-Instruct Q8_0", "Qwen2.5-3B-Instruct Q4_K_M", 0)] == 0.6888   # draftbench JSON
    assert all(p.citation for p in PUBLISHED_ACCEPTANCE)
    assert all(p.note for p in PUBLISHED_ACCEPTANCE if not p.used_in_fit)


def test_monotone_in_size_ratio():
    assert acc.FIT_SLOPE_PER_DECADE > 0
    alphas = [prior_acceptance(70e9, d, same_family=True).alpha for d in (0.1e9, 0.5e9, 1e9, 3e9, 7e9, 14e9)]
    assert alphas == sorted(alphas)
    assert len(set(alphas)) == len(alphas)


def test_draft_larger_than_target_is_capped():
    a = prior_acceptance(1e9, 2e9, same_family=True)
    b = prior_acceptance(1e9, 1e9, same_family=True)
    assert a.alpha == pytest.approx(b.alpha)
    assert "capped" in a.detail


def test_band_contains_estimate():
    e = prior_acceptance(7e9, 0.5e9, same_family=True)
    assert 0 < e.low < e.alpha < e.high < 1
    assert e.source == ESTIMATED and e.method


def test_family_tokenizer_task_and_quantization_adjustments():
    same = prior_acceptance(7e9, 1e9, same_family=True).alpha
    cross = prior_acceptance(7e9, 1e9, same_family=False).alpha
    assert cross < same
    assert prior_acceptance(7e9, 1e9, same_family=True, draft_bits=4.5).alpha < same
    assert prior_acceptance(7e9, 1e9, same_family=True, draft_bits=8.5).alpha == pytest.approx(same)
    assert prior_acceptance(7e9, 1e9, same_family=True, task=Task.SUMMARIZATION).alpha < same
    assert prior_acceptance(7e9, 1e9, same_family=True, task="code").alpha == pytest.approx(same)
    half = prior_acceptance(7e9, 1e9, same_family=True, tokenization_match_rate=0.5)
    assert half.alpha == pytest.approx(same / 2)


def test_cross_tokenizer_gives_zero_with_an_explanation():
    e = prior_acceptance(7e9, 1e9, same_family=False, tokenization_match_rate=0.0)
    assert e.alpha == e.low == e.high == 0.0
    assert "tokenizer" in e.method and "coincidence" in e.detail


def test_quant_penalty_is_monotone():
    pens = [acc.quant_penalty(b) for b in (32, 16, 8.5, 6.56, 4.89, 4.5, 3.16, 2.0)]
    assert pens == sorted(pens)
    assert acc.quant_penalty(None) == 0.0


def test_config_overrides_default_to_the_fit():
    base = prior_acceptance(7e9, 1e9, same_family=True).alpha
    fit_same, fit_cross = acc.fitted_reference_levels()
    explicit = prior_acceptance(7e9, 1e9, same_family=True, base_rate=fit_cross,
                                same_family_bonus=fit_same - fit_cross, tokenizer_match_bonus=0.0).alpha
    assert explicit == pytest.approx(base)


def test_manual_config_keys_set_the_reference_level():
    # Manual §6.3 defaults: base 0.8 + same-family 0.1 + tokenizer-match 0.05 = 0.95 at the reference ratio.
    target = 70e9
    e = prior_acceptance(target, target * acc.REFERENCE_SIZE_RATIO, same_family=True,
                         base_rate=0.8, same_family_bonus=0.1, tokenizer_match_bonus=0.05)
    assert e.alpha == pytest.approx(0.95)
    assert "config overrides" in e.detail
    # Imperfect tokenization drops the tokenizer bonus and scales by the rate.
    e = prior_acceptance(target, target * acc.REFERENCE_SIZE_RATIO, same_family=True, tokenization_match_rate=0.9,
                         base_rate=0.8, same_family_bonus=0.1, tokenizer_match_bonus=0.05)
    assert e.alpha == pytest.approx(0.9 * 0.9)


@pytest.mark.parametrize("kwargs", [
    {"target_params": 0}, {"draft_params": -1}, {"tokenization_match_rate": 1.5},
    {"base_rate": 1.2}, {"same_family_bonus": 2.0}, {"draft_bits": 0}, {"task": "poetry"},
])
def test_rejects_bad_input(kwargs):
    args = {"target_params": 7e9, "draft_params": 1e9, "same_family": True, **kwargs}
    with pytest.raises(ValueError):
        prior_acceptance(args.pop("target_params"), args.pop("draft_params"), **args)


def test_measured_estimate():
    m = AcceptanceEstimate.measured(0.71, detail="bench run")
    assert m.source == MEASURED and m.low == m.high == 0.71
    with pytest.raises(ValueError):
        AcceptanceEstimate.measured(1.5)
    assert math.isclose(m.to_dict()["alpha"], 0.71)
