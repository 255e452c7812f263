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
    """Piecewise-linear interpolation through measured ``points`` (clamped to the end values outside them).

    For verify costs use :func:`verify_cost_curve`, which extrapolates past the last point with a model
    instead of clamping."""
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


MEASURED_V = "measured"
INTERPOLATED_V = "interpolated"
EXTRAPOLATED_V = "extrapolated"


@dataclass
class VerifyCostCurve:
    """v(K) for K = 1 … max_k from the Ks whose verify pass was timed, each labelled by where it came from."""

    verify_cost_by_k: Dict[int, float]
    source_by_k: Dict[int, str]                  # K -> measured | interpolated | extrapolated
    slope_per_k: Optional[float] = None          # Δv per extra drafted token used past the last measured K
    method: Optional[str] = None                 # how the extrapolation was made (None: nothing extrapolated)

    def ks(self, source: str) -> List[int]:
        return [k for k in sorted(self.source_by_k) if self.source_by_k[k] == source]


def verify_cost_curve(measured: Dict[int, float], max_k: int) -> VerifyCostCurve:
    """v(K) = T_target(K+1) / T_target(1) for every K = 1 … ``max_k`` from the measured ``{K: v(K)}``.

    - **measured** K: the measured value, always.
    - **interpolated** (a K between two measured ones, or below the first with the exact anchor v(0) = 1,
      a 1-token pass over itself): piecewise linear.
    - **extrapolated** (a K past the last measured one, K_last): affine in K,
      ``v(K) = v(K_last) + s · (K − K_last)``.

    Why affine: the batch-1 latency model (:mod:`draftfinder.predict.latency`; roofline
    T(n) = max(weight bytes / bandwidth, n · 2·params / FLOP/s) + layers · overhead, with C_forward ≈ 2N FLOPs per
    token from Kaplan et al. 2020 §2.1) is affine in the pass size n once the pass is compute-bound, which on a
    CPU is from a few tokens on — so past the measured range each extra drafted token adds a constant share of
    a step. The slope s is the least-squares slope of the measured v(K), K ≥ 1 (at least two of them); with one
    measured K it is the chord from the anchor, (v(K_last) − 1) / K_last. A slope ≤ 0 (noise: on this CPU a
    4-token pass can be cheaper than a 3-token one) is replaced by that chord, and by 0 only when the measured
    v(K_last) ≤ 1; ``method`` states which was used and the slope.
    """
    if max_k < 1:
        raise ValueError(f"max_k must be at least 1, got {max_k}")
    points = {int(k): float(v) for k, v in measured.items() if int(k) >= 1}
    out: Dict[int, float] = {}
    src: Dict[int, str] = {}
    if not points:
        raise ValueError("no measured verify cost: time at least one K")
    anchored = {0: 1.0, **points}
    last = max(points)
    for k in range(1, min(max_k, last) + 1):
        out[k] = interpolate(anchored, k)
        src[k] = MEASURED_V if k in points else INTERPOLATED_V
    slope = method = None
    if max_k > last:
        ks = sorted(points)
        chord = (points[last] - 1.0) / last
        if len(ks) >= 2:
            mk = sum(ks) / len(ks)
            mv = sum(points[k] for k in ks) / len(ks)
            slope = sum((k - mk) * (points[k] - mv) for k in ks) / sum((k - mk) ** 2 for k in ks)
            how = f"least-squares slope of the measured v(K) at K = {','.join(map(str, ks))}"
        else:
            slope, how = chord, f"chord from v(0) = 1 to the measured v({last})"
        if slope <= 0:
            slope, how = chord, (f"chord from v(0) = 1 to the measured v({last}) (the least-squares slope was "
                                 f"{slope:.3f} ≤ 0)")
        if slope <= 0:
            slope, how = 0.0, f"slope 0: the measured v({last}) = {points[last]:.3f} is not above v(0) = 1"
        method = (f"affine past K = {last} (latency model: a compute-bound pass costs a constant amount per extra "
                  f"token): v(K) = v({last}) + {slope:.4f}·(K − {last}); {how}")
        for k in range(last + 1, max_k + 1):
            out[k] = points[last] + slope * (k - last)
            src[k] = EXTRAPOLATED_V
    return VerifyCostCurve(out, src, slope, method)
