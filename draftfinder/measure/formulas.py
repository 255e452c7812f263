"""The pure math of the measurement: β = Σ min(p, q), the greedy window replay, the position-wise expected run,
bootstrap intervals. No models, no I/O; every formula names its source."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from draftfinder.predict import speedup as est
from draftfinder.engine.base import SpecStats
from draftfinder.measure.results import BOOTSTRAP_SAMPLES, CI_LEVEL


# ---------------------------------------------------------------------------------------------------
# pure math
# ---------------------------------------------------------------------------------------------------

def acceptance_probability(p: Any, q: Any) -> Any:
    """β = Σ_v min(p(v), q(v)) along the last dimension (tensors [..., V] → [...]).

    The probability that speculative sampling accepts a token drawn from q when the target's distribution is
    p: Leviathan, Kalman & Matias 2023, "Fast Inference from Transformers via Speculative Decoding", §3.1,
    Definition 3.1 (α = E[β]) and Corollary 3.6 (β = Σ min(p, q) = 1 − D_LK(p, q)). For one-hot p and q
    (greedy) β is 1 when the argmaxes agree, else 0; for a deterministic drafter (q one-hot on x) β = p(x).
    """
    import torch

    return torch.minimum(p, q).sum(dim=-1)


def leading_matches(match: Sequence[bool], start: int, k: int) -> int:
    """Number of consecutive True values of ``match`` from ``start``, at most ``k`` (and within the vector)."""
    n = 0
    while n < k and start + n < len(match) and match[start + n]:
        n += 1
    return n


@dataclass
class SimulatedRun:
    """Counters of one (simulated or replayed) greedy speculative generation at one K."""

    stats: SpecStats
    step_drafted: List[int] = field(default_factory=list)     # tokens drafted at each step (n-gram: may be < k)
    step_accepted: List[int] = field(default_factory=list)    # of those, accepted
    draft_call_s: List[float] = field(default_factory=list)   # measured per step (replayed drafters only)


def simulate_greedy_windows(match: Sequence[bool], k: int, *, max_new_tokens: Optional[int] = None) -> SimulatedRun:
    """Replay a greedy speculative generation of ``len(match)`` tokens from the match vector alone.

    ``match[i]``: the drafter's teacher-forced argmax at continuation position i equals the target's token.
    Mirrors ``engine.speculative.speculative_generate`` with a model drafter (which always drafts k' tokens):
    at generated length i, k' = max(0, min(k, budget − i − 1)); the step keeps n = leading matches of
    match[i : i+k'] and emits n + 1 tokens (n drafts + the target's correction or bonus). Positions past the
    end of ``match`` (after an EOS) count as rejections. Exactness argument: module docstring, point 3.
    """
    est._check_k(k)
    total = len(match)
    budget = total if max_new_tokens is None else max(total, int(max_new_tokens))
    stats = SpecStats()
    run = SimulatedRun(stats)
    i = 0
    while i < min(total, budget):
        k_step = max(0, min(k, budget - i - 1))
        n = leading_matches(match, i, k_step)
        stats.record_step(k_step, k_step, n)
        run.step_drafted.append(k_step)
        run.step_accepted.append(n)
        i += n + 1
    stats.new_tokens = min(i, total)
    return run


def expected_run(beta: Sequence[float], k: int) -> Tuple[float, float, float]:
    """Expected (steps, drafts reached, drafts accepted) of a speculative generation of ``len(beta)`` tokens when
    the draft at continuation position i is accepted with probability β_i (given the earlier drafts of its
    window were).

    Dynamic programme over window starts: E(i) = Σ_n P_i(n) · (this window's count + E(i + n + 1)), with
    P_i(n) = Π_{j<n} β_{i+j} · (1 − β_{i+n}) for n < k' and Π_{j<k'} β_{i+j} for n = k' (k' = min(k, L−i−1)),
    E(i ≥ L) = 0; a window contributes 1 step, min(n+1, k') drafts reached and n accepted. With β ∈ {0, 1}
    this is exactly :func:`simulate_greedy_windows`; with constant β the tokens per step are the capped
    geometric of Leviathan 2023 Eq. (1) — between the two it keeps how acceptance clusters along the text,
    which the i.i.d. formula averages away. (Under sampling a rejection changes the text that follows; this
    reads the target's own sampled continuation as representative — an estimate, not exact.)
    """
    est._check_k(k)
    total = len(beta)
    steps = [0.0] * (total + 2)
    reached = [0.0] * (total + 2)
    accepted = [0.0] * (total + 2)
    for i in range(total - 1, -1, -1):
        k_step = max(0, min(k, total - i - 1))
        reach = 1.0                     # P(first n drafts accepted)
        e_steps = e_reached = e_accepted = 0.0
        for n in range(k_step + 1):
            if n == k_step:
                p_n = reach
            else:
                b = float(beta[i + n])
                p_n = reach * (1.0 - b)
                reach *= b
            nxt = min(i + n + 1, total)
            e_steps += p_n * steps[nxt]
            e_reached += p_n * (min(n + 1, k_step) + reached[nxt])
            e_accepted += p_n * (n + accepted[nxt])
        steps[i] = 1.0 + e_steps
        reached[i] = e_reached
        accepted[i] = e_accepted
    return steps[0], reached[0], accepted[0]


def expected_generation_steps(beta: Sequence[float], k: int) -> float:
    """Expected number of speculative steps to generate ``len(beta)`` tokens (see :func:`expected_run`)."""
    return expected_run(beta, k)[0]


def bootstrap_ratio_ci(numerators: Sequence[float], denominators: Sequence[float], *, level: float = CI_LEVEL,
                       n_boot: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Tuple[Optional[float], Optional[float]]:
    """Percentile bootstrap interval of Σ num / Σ den, resampling the clusters (prompts) with replacement.

    Efron & Tibshirani 1993, "An Introduction to the Bootstrap", §13.3 (percentile interval) and the cluster
    (block) resampling of §8.5 for dependent observations. Resamples whose Σ den is 0 are dropped. Returns
    (None, None) when nothing can be resampled; a single cluster gives a zero-width interval.
    """
    import torch

    num = torch.tensor([float(x) for x in numerators], dtype=torch.float64)
    den = torch.tensor([float(x) for x in denominators], dtype=torch.float64)
    if num.numel() == 0 or float(den.sum()) <= 0:
        return None, None
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, num.numel(), (n_boot, num.numel()), generator=gen)   # [B, n]
    tot_num, tot_den = num[idx].sum(dim=1), den[idx].sum(dim=1)                 # [B]
    ok = tot_den > 0
    ratios = tot_num[ok] / tot_den[ok]
    if ratios.numel() == 0:
        return None, None
    tail = (1.0 - level) / 2.0
    q = torch.quantile(ratios, torch.tensor([tail, 1.0 - tail], dtype=torch.float64))
    return float(q[0]), float(q[1])


def median_ms(samples_s: Sequence[float]) -> float:
    return statistics.median(samples_s) * 1000.0


def interpolate(points: Dict[int, float], x: int) -> float:
    """Piecewise-linear interpolation through measured ``points`` (clamped to the end values outside them)."""
    if x in points:
        return points[x]
    xs = sorted(points)
    if x <= xs[0]:
        return points[xs[0]]
    if x >= xs[-1]:
        return points[xs[-1]]
    for lo, hi in zip(xs, xs[1:]):
        if lo < x < hi:
            return points[lo] + (points[hi] - points[lo]) * (x - lo) / (hi - lo)
    raise AssertionError("unreachable")
