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
    assert fit.n_points == len(USED) == 18
    assert fit.n_groups == 6


def _alpha(fit, p):
    z = fit.predict_logit(p.draft_params, p.target_params, p.task)
    return 1 / (1 + math.exp(-(z - acc.quant_penalty(p.draft_bits) - acc.quant_penalty(p.target_bits))))


def test_out_of_sample_prior_versus_draftbench_rates():
    """OUT OF SAMPLE (draftbench is not fitted on). Guards the issue-10 correction: draftbench's figures are
    llama.cpp accepted/drafted *rates* from results/m4max-128gb_llamacpp_qwen25-72b.json, not the README's sample
    output the prior used to fit. Converted through llama.cpp's gate (n_max 16, p_min 0.75), the Leviathan-fitted
    prior must rank the 0.5B draft lowest as draftbench does, and — on draftbench's highly predictable prompts (a
    JSON list, a small class, a numbered list) — predict a lower rate than published for every draft: the gap the
    module doc reports (prior ≈ 0.7 per drafted token, draftbench's rates imply 0.96-0.98)."""
    from draftfinder.predict import drafting

    points = [p for p in PUBLISHED_ACCEPTANCE if p.group.startswith("draftbench")]
    assert len(points) == 4 and all(p.kind == "rate" and not p.used_in_fit for p in points)
    assert {p.alpha for p in points} == {0.7429, 0.8421, 0.8325, 0.8476}
    policy = drafting.DraftPolicy(16, 0.75)
    fit = refit()
    predicted = {p.draft: drafting.acceptance_rate(_alpha(fit, p), policy) for p in points}
    implied = {p.draft: drafting.a_from_rate(p.alpha, policy) for p in points}
    assert all(predicted[p.draft] < p.alpha for p in points)
    assert min(predicted, key=predicted.get) == min(implied, key=implied.get) == "Qwen2.5-0.5B-Instruct Q8_0"
    assert all(0.94 < a < 0.99 for a in implied.values())
    assert all(0.6 < _alpha(fit, p) < 0.85 for p in points)


def test_out_of_sample_leave_one_group_out():
    """OUT OF SAMPLE. Each study × dataset × temperature group predicted by a fit without it: the size slope
    stays within ±10 % of the full fit's, and every held-out α is within 0.21 (RMSE ≈ 0.11 — wider than the
    in-sample ±1 SD band, which covers the spread of fitted points only)."""
    full = refit()
    errors = []
    for group in sorted({p.group for p in USED}):
        fit = refit([p for p in USED if p.group != group])
        assert fit.slope_per_decade == pytest.approx(full.slope_per_decade, rel=0.10), group
        errors += [_alpha(fit, p) - p.alpha for p in USED if p.group == group]
    assert len(errors) == 18
    assert max(abs(e) for e in errors) <= 0.21
    assert math.sqrt(sum(e * e for e in errors) / len(errors)) <= 0.115    # 0.110 since draftbench left the fit


def test_in_sample_band_covers_about_two_thirds_of_the_fitted_points():
    """IN-SAMPLE (the band is ±1 residual SD of these very points): checks the SD and the band arithmetic only."""
    inside_band = sum(_prior_for(p).low <= p.alpha <= _prior_for(p).high for p in USED)
    assert inside_band / len(USED) >= 0.6


def test_published_table_values_and_citations():
    by = {(p.target, p.draft, p.temperature): p.alpha for p in PUBLISHED_ACCEPTANCE}
    assert by[("T5-XXL (EnDe)", "T5-small", 0)] == 0.75          # Leviathan 2023 Table 3
    assert by[("T5-XXL (CNNDM)", "T5-large", 1)] == 0.56
    assert by[("LaMDA (137B)", "LaMDA (8B)", 0)] == 0.75
    assert by[("Qwen2.5-72B-Instruct Q8_0", "Qwen2.5-3B-Instruct Q4_K_M", 0)] == 0.8325   # draftbench results JSON
    assert all("m4max-128gb_llamacpp_qwen25-72b.json" in p.citation for p in PUBLISHED_ACCEPTANCE
               if p.group.startswith("draftbench"))
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
