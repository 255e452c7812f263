"""Processors and the speculative-sampling acceptance rule (engine/sampling.py), on hand-made numbers.

Statistical tests use fixed seeds and a chi-square test with p-value threshold ``P_MIN`` = 1e-3: a correct
implementation fails one of them with probability ~1e-3 per seed set, and the seeds are fixed, so the outcome
is deterministic; a wrong residual or acceptance rule gives p-values far below 1e-10 at these sample sizes.
"""

from __future__ import annotations

import math

import pytest
import torch

from draftfinder.engine.base import SamplingConfig, validate_sampling
from draftfinder.engine.sampling import (
    accept_greedy,
    align_vocab,
    logits_to_probs,
    residual_distribution,
    sample,
    verify_draft,
)
from draftfinder.errors import UsageError
from tests.enginekit import P_MIN, chi_square_p

def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- processors --------------------------------------------------------------------------------------------------

def test_greedy_is_one_hot_argmax_for_one_row_and_many():
    logits = torch.tensor([0.1, 2.0, -1.0, 1.9])
    assert logits_to_probs(logits, SamplingConfig("greedy")).tolist() == [0.0, 1.0, 0.0, 0.0]
    rows = torch.tensor([[0.1, 2.0, -1.0], [5.0, 2.0, -1.0]])        # [2, 3]
    assert logits_to_probs(rows, SamplingConfig("greedy")).tolist() == [[0, 1, 0], [1, 0, 0]]
    assert sample(logits_to_probs(logits, SamplingConfig("greedy")), gen(0)) == 1


def test_multinomial_is_softmax_over_temperature():
    logits = torch.tensor([1.0, 2.0, 3.0])
    for t in (1.0, 0.5, 2.0):
        z = [math.exp(x / t) for x in (1.0, 2.0, 3.0)]
        expected = [v / sum(z) for v in z]
        got = logits_to_probs(logits, SamplingConfig("multinomial", temperature=t)).tolist()
        assert got == pytest.approx(expected, rel=1e-6)


def test_topk_keeps_the_k_largest_and_ties():
    logits = torch.tensor([1.0, 4.0, 2.0, 3.0])
    got = logits_to_probs(logits, SamplingConfig("topk", top_k=2)).tolist()
    z = math.exp(4) + math.exp(3)
    assert got == pytest.approx([0.0, math.exp(4) / z, 0.0, math.exp(3) / z])
    tied = logits_to_probs(torch.tensor([1.0, 3.0, 3.0, 0.0]), SamplingConfig("topk", top_k=1)).tolist()
    assert tied == pytest.approx([0.0, 0.5, 0.5, 0.0])              # ties with the k-th logit are kept
    assert logits_to_probs(logits, SamplingConfig("topk", top_k=50)).tolist() == \
        pytest.approx(torch.softmax(logits, -1).tolist())           # k ≥ V: plain softmax


def test_nucleus_keeps_the_smallest_set_with_mass_at_least_p():
    logits = torch.log(torch.tensor([0.05, 0.5, 0.15, 0.3]))
    assert logits_to_probs(logits, SamplingConfig("nucleus", top_p=0.7)).tolist() == \
        pytest.approx([0.0, 0.5 / 0.8, 0.0, 0.3 / 0.8])
    assert logits_to_probs(logits, SamplingConfig("nucleus", top_p=0.85)).tolist() == \
        pytest.approx([0.0, 0.5 / 0.95, 0.15 / 0.95, 0.3 / 0.95])
    assert logits_to_probs(logits, SamplingConfig("nucleus", top_p=0.4)).tolist() == pytest.approx([0, 1, 0, 0])
    assert logits_to_probs(logits, SamplingConfig("nucleus", top_p=1.0)).tolist() == \
        pytest.approx([0.05, 0.5, 0.15, 0.3])


def test_nucleus_applies_temperature_first():
    logits = torch.log(torch.tensor([0.6, 0.4]))
    # T = 2: softmax(log p / 2) = sqrt(p) normalized = [0.5505, 0.4495]; p = 0.5 keeps only the first
    assert logits_to_probs(logits, SamplingConfig("nucleus", temperature=2.0, top_p=0.5)).tolist() == [1.0, 0.0]
    tempered = [math.sqrt(0.6) / (math.sqrt(0.6) + math.sqrt(0.4)), math.sqrt(0.4) / (math.sqrt(0.6) + math.sqrt(0.4))]
    assert logits_to_probs(logits, SamplingConfig("nucleus", temperature=2.0, top_p=0.6)).tolist() == \
        pytest.approx(tempered, rel=1e-5)                            # 0.5505 < 0.6: both kept, tempered


def test_topknucleus_is_topk_then_nucleus():
    logits = torch.log(torch.tensor([0.4, 0.3, 0.2, 0.1]))
    got = logits_to_probs(logits, SamplingConfig("topknucleus", top_k=3, top_p=0.75)).tolist()
    # top-3 renormalized: [4/9, 3/9, 2/9]; mass before the third is 7/9 ≥ 0.75 → keep two: [4/7, 3/7]
    assert got == pytest.approx([4 / 7, 3 / 7, 0.0, 0.0])


def test_rows_are_processed_independently():
    rows = torch.log(torch.tensor([[0.05, 0.5, 0.15, 0.3], [0.4, 0.3, 0.2, 0.1]]))   # [2, 4]
    cfg = SamplingConfig("nucleus", top_p=0.75)
    got = logits_to_probs(rows, cfg)
    assert got.shape == (2, 4)
    assert got[0].tolist() == pytest.approx(logits_to_probs(rows[0], cfg).tolist())
    assert got[1].tolist() == pytest.approx([0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9, 0.0])


@pytest.mark.parametrize("cfg, word", [
    (SamplingConfig("beam"), "beam"),
    (SamplingConfig("multinomial", temperature=0.0), "temperature"),
    (SamplingConfig("topk", top_k=0), "top_k"),
    (SamplingConfig("nucleus", top_p=0.0), "top_p"),
    (SamplingConfig("topknucleus", top_p=1.5), "top_p"),
])
def test_bad_settings_are_usage_errors_naming_the_value(cfg, word):
    with pytest.raises(UsageError, match=word):
        validate_sampling(cfg)


def test_align_vocab_pads_with_zero_and_cuts():
    q = torch.tensor([[0.5, 0.5]])
    assert align_vocab(q, 4).tolist() == [[0.5, 0.5, 0.0, 0.0]]
    assert align_vocab(torch.tensor([[0.5, 0.5, 0.0]]), 2).tolist() == [[0.5, 0.5]]
    assert align_vocab(None, 3) is None


# --- the acceptance rule -----------------------------------------------------------------------------------------

def test_residual_is_normalized_positive_part_of_p_minus_q():
    p = torch.tensor([0.4, 0.4, 0.2])
    q = torch.tensor([0.1, 0.3, 0.6])
    assert residual_distribution(p, q).tolist() == pytest.approx([0.75, 0.25, 0.0])   # [0.3, 0.1, 0] / 0.4
    assert residual_distribution(p, p).tolist() == pytest.approx(p.tolist())          # p == q: falls back to p


def test_acceptance_is_exactly_r_below_p_over_q():
    """Replays the generator: the first draw r decides, keep iff r < p(x)/q(x) = 0.3/0.6."""
    p_rows = torch.tensor([[0.1, 0.3, 0.6], [0.2, 0.2, 0.6]])       # [2, 3]
    q_rows = torch.tensor([[0.2, 0.6, 0.2]])                         # [1, 3]
    for seed in range(200):
        r = float(torch.rand((), generator=gen(seed)))
        n, nxt = verify_draft(p_rows, q_rows, [1], gen(seed))
        assert n == (1 if r < 0.5 else 0)
        if n == 0:
            # residual = norm(max(0, [-0.1, -0.3, 0.4])) = [0, 0, 1]: the replacement is certain
            assert nxt == 2


def test_acceptance_frequencies_match_min_one_p_over_q_per_position():
    p = torch.tensor([[0.5, 0.2, 0.3], [0.1, 0.6, 0.3], [0.3, 0.3, 0.4]])   # [3, 3]
    q = torch.tensor([[0.25, 0.5, 0.25], [0.2, 0.3, 0.5]])                 # [2, 3]
    drafts = [1, 2]           # a_1 = min(1, 0.2/0.5) = 0.4, a_2 = min(1, 0.3/0.5) = 0.6
    counts = [0, 0, 0]
    trials = 5000
    for seed in range(trials):
        n, _ = verify_draft(p, q, drafts, gen(seed))
        counts[n] += 1
    expected = [1 - 0.4, 0.4 * (1 - 0.6), 0.4 * 0.6]
    assert chi_square_p(counts, expected) > P_MIN, (counts, expected)


def test_emitted_token_follows_p_whatever_q():
    """Leviathan et al. 2023, Theorem 1 (Appendix A.1): x ~ q, then the rule, gives a token distributed as p."""
    p = torch.tensor([0.1, 0.2, 0.3, 0.4])
    q = torch.tensor([0.4, 0.3, 0.2, 0.1])
    counts = [0] * 4
    rejected_counts = [0] * 4
    for seed in range(6000):
        g = gen(seed)
        x = sample(q, g)
        n, nxt = verify_draft(torch.stack([p, p]), q[None], [x], g)
        token = x if n == 1 else nxt
        counts[token] += 1
        if n == 0:
            rejected_counts[nxt] += 1
    assert chi_square_p(counts, p.tolist()) > P_MIN, counts
    # conditioned on a rejection the token comes from norm(max(0, p − q)) = [0, 0, 0.1, 0.3] / 0.4
    assert chi_square_p(rejected_counts, [0.0, 0.0, 0.25, 0.75]) > P_MIN, rejected_counts


def test_acceptance_rate_is_sum_of_min_p_q():
    """Leviathan et al. 2023, Definition 3.1 / Corollary 3.6: α = E[min(1, p/q)] = Σ_x min(p(x), q(x))."""
    p = torch.tensor([0.1, 0.2, 0.3, 0.4])
    q = torch.tensor([0.25, 0.25, 0.25, 0.25])
    alpha = float(torch.minimum(p, q).sum())                         # 0.1 + 0.2 + 0.25 + 0.25 = 0.8
    trials, accepted = 6000, 0
    for seed in range(trials):
        g = gen(seed)
        n, _ = verify_draft(torch.stack([p, p]), q[None], [sample(q, g)], g)
        accepted += n
    sd = math.sqrt(alpha * (1 - alpha) / trials)
    assert abs(accepted / trials - alpha) < 4 * sd, (accepted / trials, alpha)


def test_expected_tokens_per_step_matches_leviathan_equation_1():
    """E[tokens per step] = (1 − α^(γ+1)) / (1 − α) for i.i.d. acceptance (Leviathan et al. 2023, Eq. (1))."""
    p = torch.tensor([0.1, 0.2, 0.3, 0.4])
    q = torch.tensor([0.25, 0.25, 0.25, 0.25])
    alpha, gamma = 0.8, 3
    expected = (1 - alpha ** (gamma + 1)) / (1 - alpha)              # 2.952
    trials, total = 4000, 0
    for seed in range(trials):
        g = gen(seed)
        drafts = [sample(q, g) for _ in range(gamma)]
        n, _ = verify_draft(p.expand(gamma + 1, 4), q.expand(gamma, 4), drafts, g)
        total += n + 1
    assert total / trials == pytest.approx(expected, abs=0.06)      # sd of the mean ≈ 0.017


def test_deterministic_drafter_keeps_x_with_probability_p_x():
    p = torch.tensor([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4]])             # [2, 3]
    counts = [0, 0, 0]                                                # accepted x=0 | replaced by 1 | by 2
    for seed in range(5000):
        n, nxt = verify_draft(p, None, [0], gen(seed))
        counts[0 if n == 1 else nxt] += 1
    # P(keep) = 0.7; replacement from p without token 0: [0, 2/3, 1/3] × 0.3
    assert chi_square_p(counts, [0.7, 0.2, 0.1]) > P_MIN, counts


def test_greedy_reduces_to_accept_while_argmax_matches():
    target_argmax = [3, 1, 4, 1, 5]
    hot = torch.zeros(5, 6).scatter_(1, torch.tensor(target_argmax)[:, None], 1.0)     # [5, 6]
    for drafts, expected in (([3, 1, 4, 1], (4, 5)), ([3, 1, 0, 1], (2, 4)), ([2, 1, 4, 1], (0, 3)), ([], (0, 3))):
        p_rows = hot[: len(drafts) + 1]
        q_rows = torch.zeros(len(drafts), 6)
        for i, x in enumerate(drafts):
            q_rows[i, x] = 1.0
        for seed in range(5):
            assert verify_draft(p_rows, q_rows, drafts, gen(seed)) == expected
            assert verify_draft(p_rows, None, drafts, gen(seed)) == expected
        assert accept_greedy(target_argmax[: len(drafts) + 1], drafts) == expected


def test_row_count_mismatch_is_refused():
    with pytest.raises(ValueError, match="n\\+1"):
        verify_draft(torch.ones(2, 3) / 3, None, [0, 1, 2], gen(0))
