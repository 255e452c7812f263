"""draftfinder.predict.drafting: fixed-K and llama.cpp's confidence-gated draft lengths, against hand calculations
and the fixed-K formulas of Leviathan et al. 2023."""

from __future__ import annotations

import pytest

from draftfinder.predict import drafting as dr
from draftfinder.predict import speedup as est

FIXED4 = dr.DraftPolicy(4)
GATED2 = dr.DraftPolicy(2, 0.75, 1.0)


def test_fixed_k_is_leviathans_geometric_run():
    # α 0.8, K 4: AL = (1 − 0.8⁵)/0.2 = 3.3616 (Leviathan 2023 Eq. 1); rate = 0.8·(1 − 0.8⁴)/(0.2·4) = 0.5904
    assert dr.acceptance_length(0.8, FIXED4) == pytest.approx(3.3616)
    assert dr.acceptance_rate(0.8, FIXED4) == pytest.approx(0.5904)
    assert dr.expected_drafted(0.8, FIXED4) == 4
    assert dr.acceptance_length(0.8, FIXED4) == pytest.approx(est.expected_tokens_per_step(0.8, 4))
    assert dr.draft_passes(4, FIXED4) == 4


def test_fixed_k_speedup_is_theorem_3_8_with_verify_cost():
    t = {1: 10.0, 5: 12.0}
    s = dr.expected_speedup(0.7, FIXED4, 1.5, lambda n: t[n])
    assert s == pytest.approx(est.expected_speedup(0.7, 4, 0.15, 1.2))


def test_gated_drafting_by_hand():
    """n_max 2, p_min 0.75, λ 1, a 0.9 → q = 0.9: P(D=0,1,2) = 0.1, 0.09, 0.81."""
    dist = dr.drafted_length_distribution(0.9, GATED2)
    assert dist == pytest.approx([0.1, 0.09, 0.81])
    assert dr.expected_drafted(0.9, GATED2) == pytest.approx(1.71)
    e_a = 0.09 * 0.9 + 0.81 * (0.9 + 0.81)                    # 1.4661
    assert dr.expected_accepted(0.9, GATED2) == pytest.approx(e_a)
    assert dr.acceptance_rate(0.9, GATED2) == pytest.approx(e_a / 1.71)
    # draft passes: D=0 → 1, D=1 → 2 (stopped by the gate), D=2 → 2 (the cap: the last draft is not evaluated)
    tokens, ms = dr.expected_step(0.9, GATED2, 1.0, lambda n: 10.0 * n)
    assert tokens == pytest.approx(1 + e_a)
    assert ms == pytest.approx(0.1 * (1 + 10) + 0.09 * (2 + 20) + 0.81 * (2 + 30))


def test_p_min_zero_is_fixed_k_and_the_gate_scales_with_p_min():
    assert dr.continue_probability(0.6, dr.DraftPolicy(8, 0.0)) == 1.0
    assert dr.continue_probability(0.6, dr.DraftPolicy(8, 0.75, 1.0)) == pytest.approx(0.6)
    assert dr.continue_probability(0.6, dr.DraftPolicy(8, 0.375, 1.0)) == pytest.approx(0.8)


def test_rate_and_length_grow_with_acceptance_and_round_trip():
    for pol in (FIXED4, dr.DraftPolicy(16, 0.75), dr.DraftPolicy(5, 0.5)):
        grid = [i / 50 for i in range(1, 50)]
        rates = [dr.acceptance_rate(a, pol) for a in grid]
        lengths = [dr.acceptance_length(a, pol) for a in grid]
        assert rates == sorted(rates) and lengths == sorted(lengths)
        for a in (0.3, 0.7, 0.95):
            assert dr.a_from_rate(dr.acceptance_rate(a, pol), pol) == pytest.approx(a, abs=1e-6)
            assert dr.a_from_acceptance_length(dr.acceptance_length(a, pol), pol) == pytest.approx(a, abs=1e-6)


def test_published_acceptance_length_to_alpha():
    """Spec-Bench's SpS row on A100 (Vicuna-7B, AL 2.28) with transformers' default 5 assistant tokens: solving
    (1 − α⁶)/(1 − α) = 2.28 by hand gives α ≈ 0.5777 (check: (1 − 0.5777⁶)/0.4223 = 2.2800)."""
    a = dr.a_from_acceptance_length(2.28, dr.DraftPolicy(5))
    assert a == pytest.approx(0.5777, abs=5e-4)
    assert (1 - a ** 6) / (1 - a) == pytest.approx(2.28)


@pytest.mark.parametrize("kw", [dict(n_max=0), dict(n_max=2, p_min=1.0), dict(n_max=2, p_min=-0.1),
                                dict(n_max=2, stop_link=0.0)])
def test_bad_policies(kw):
    with pytest.raises(ValueError):
        dr.DraftPolicy(**kw)


def test_impossible_figures_are_refused():
    with pytest.raises(ValueError, match="outside"):
        dr.a_from_acceptance_length(6.5, FIXED4)            # more than K + 1 tokens per pass
    with pytest.raises(ValueError):
        dr.acceptance_rate(1.2, FIXED4)
