"""The arithmetic of speculative decoding: expected tokens per step, walltime speedup, the best K.

Pure functions, no I/O. Every formula cites where it comes from; tests check them against numbers the papers
publish (``tests/test_estimate.py``).

Notation (Leviathan, Kalman & Matias 2023, "Fast Inference from Transformers via Speculative Decoding",
ICML 2023, arXiv:2211.17192 — "Leviathan 2023" below):

- ``alpha`` (α): expected probability that the target accepts one drafted token (Definition 3.1, Corollary 3.6).
  Tokens are assumed accepted i.i.d. with probability α — an approximation the paper states (§3.1).
- ``k`` (γ in the paper): tokens drafted per step.
- ``c``: cost coefficient = time of one draft step / time of one target step (Definition 3.7).
- ``verify_cost`` (our extension, not in the paper): time of the target's verification pass over ``k + 1``
  tokens / time of one ordinary 1-token target step. Leviathan's Theorem 3.8 assumes it is 1 ("we'll assume
  that we can run γ+1 concurrent evaluations of M_p in parallel without increasing the walltime", §3.3).
  That holds on a memory-bound GPU; on a CPU it does not (a 5-token pass costs 1.57× a 1-token step for
  SmolLM2-135M on this project's 2-core machine), so we carry it as an explicit factor.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, List, Tuple

VerifyCostFn = Callable[[int], float]


def _one(k: int) -> float:
    return 1.0


# --- validation ---------------------------------------------------------------------------------------

def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise ValueError(f"acceptance rate alpha must be a number in [0, 1], got {alpha!r}")
    alpha = float(alpha)
    if math.isnan(alpha) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"acceptance rate alpha must be in [0, 1] (a probability), got {alpha!r}")
    return alpha


def _check_k(k: int, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise ValueError(f"{name} (tokens drafted per step) must be an integer >= 1, got {k!r}")
    if k < 1:
        raise ValueError(f"{name} (tokens drafted per step) must be >= 1, got {k}")
    return k


def _check_c(c: float) -> float:
    if isinstance(c, bool) or not isinstance(c, (int, float)):
        raise ValueError(f"cost ratio c must be a number >= 0, got {c!r}")
    c = float(c)
    if math.isnan(c) or math.isinf(c) or c < 0.0:
        raise ValueError(f"cost ratio c (draft step time / target step time) must be finite and >= 0, got {c!r}")
    return c


def _check_verify_cost(v: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"verify_cost must be a number > 0, got {v!r}")
    v = float(v)
    if math.isnan(v) or math.isinf(v) or v <= 0.0:
        raise ValueError(
            f"verify_cost (target time for k+1 tokens / for 1 token) must be finite and > 0, got {v!r}"
        )
    return v


# --- formulas -----------------------------------------------------------------------------------------

def expected_tokens_per_step(alpha: float, k: int) -> float:
    """Expected tokens produced by one draft-then-verify step: ``(1 − α^(k+1)) / (1 − α)``.

    Source: Leviathan 2023, §3.1, Equation (1) (the mean of a capped geometric variable: accepted drafts
    plus the one token the target always contributes). At α = 1 the limit is ``k + 1``.
    """
    alpha = _check_alpha(alpha)
    k = _check_k(k)
    if alpha == 1.0:
        return float(k + 1)
    return (1.0 - alpha ** (k + 1)) / (1.0 - alpha)


def accepted_length_distribution(alpha: float, k: int) -> Dict[int, float]:
    """P(one step produces n tokens) for n = 1 … k+1.

    ``P(n) = α^(n−1)·(1 − α)`` for n ≤ k (n−1 drafts accepted, the n-th rejected and replaced by the target's
    token) and ``P(k+1) = α^k`` (all k accepted plus the target's bonus token). Its mean is
    :func:`expected_tokens_per_step`. Source: Leviathan 2023 §3.1 (i.i.d. acceptance, capped geometric).
    This is the histogram gpt-fast and llama.cpp report as accepted-length counts, for comparison with
    measurements.
    """
    alpha = _check_alpha(alpha)
    k = _check_k(k)
    dist = {n: alpha ** (n - 1) * (1.0 - alpha) for n in range(1, k + 1)}
    dist[k + 1] = alpha ** k
    return dist


def expected_speedup(alpha: float, k: int, c: float, verify_cost: float = 1.0) -> float:
    """Expected walltime improvement factor over plain decoding with the target alone.

    ``speedup = (1 − α^(k+1)) / ((1 − α) · (k·c + verify_cost))``

    With ``verify_cost = 1`` this is exactly Leviathan 2023, Theorem 3.8:
    ``(1 − α^(γ+1)) / ((1 − α)(γc + 1))`` — one step costs γ draft runs (γ·c·T) plus one target run (T) and
    yields Equation (1)'s expected tokens. ``verify_cost`` = T_target(k+1 tokens) / T_target(1 token) replaces
    that single T when verifying k+1 positions is not free (our documented extension; see the module
    docstring). Like the theorem, this assumes long generations and ignores the sampling/rejection
    bookkeeping. Results below 1 mean speculative decoding is slower than plain decoding.
    """
    c = _check_c(c)
    v = _check_verify_cost(verify_cost)
    return expected_tokens_per_step(alpha, k) / (k * c + v)


def expected_operations_factor(alpha: float, k: int, c_hat: float = 0.0) -> float:
    """Expected factor of increase in total arithmetic operations: ``(1−α)(k·ĉ + k + 1) / (1 − α^(k+1))``.

    ``ĉ`` = arithmetic operations per token of the draft / of the target (Definition 3.10).
    Source: Leviathan 2023, Theorem 3.11 (and Table 1, which tabulates it with ĉ = 0).
    """
    c_hat = _check_c(c_hat)
    return (k * c_hat + k + 1) / expected_tokens_per_step(alpha, k)


def speedup_curve(
    alpha: float,
    c: float,
    verify_cost_fn: VerifyCostFn = _one,
    max_k: int = 16,
) -> Dict[int, float]:
    """``{k: expected_speedup(alpha, k, c, verify_cost_fn(k))}`` for k = 1 … max_k."""
    max_k = _check_k(max_k, "max_k")
    return {k: expected_speedup(alpha, k, c, verify_cost_fn(k)) for k in range(1, max_k + 1)}


def optimal_k(
    alpha: float,
    c: float,
    verify_cost_fn: VerifyCostFn = _one,
    max_k: int = 16,
) -> Tuple[int, float]:
    """The K in 1 … max_k maximising :func:`expected_speedup`, and that speedup.

    Leviathan 2023 §3.5: "the optimal γ is the one maximizing the walltime improvement equation … Since γ is
    an integer, it can be easily found numerically". We search exhaustively — no bins, no caps. Ties go to the
    smaller K (fewer wasted target positions). If even the best K is below 1.0, speculative decoding does not
    pay on this pair and hardware; the caller should say so rather than hide it.
    """
    curve = speedup_curve(alpha, c, verify_cost_fn, max_k)
    best_k = max(curve, key=lambda k: (curve[k], -k))
    return best_k, curve[best_k]


def break_even_alpha(k: int, c: float, verify_cost: float = 1.0, tol: float = 1e-9) -> float:
    """The α at which speculative decoding with this K just matches plain decoding (speedup = 1).

    Solved by bisection on :func:`expected_speedup`, which increases with α. Returns 1.0 when even α = 1 cannot
    reach break-even (``k + 1 < k·c + verify_cost``) and 0.0 when α = 0 already breaks even.
    Corollary 3.9 of Leviathan 2023 is the K = 1, verify_cost = 1 case: any α > c gives an improvement.
    """
    k = _check_k(k)
    c = _check_c(c)
    v = _check_verify_cost(verify_cost)
    if expected_speedup(1.0, k, c, v) < 1.0:
        return 1.0
    if expected_speedup(0.0, k, c, v) >= 1.0:
        return 0.0
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if expected_speedup(mid, k, c, v) >= 1.0:
            hi = mid
        else:
            lo = mid
    return hi


def tokens_per_second(target_step_ms: float, speedup: float) -> float:
    """Decode throughput with speculation: plain ``1000 / target_step_ms`` tokens/s times ``speedup``."""
    if target_step_ms <= 0:
        raise ValueError(f"target_step_ms must be > 0, got {target_step_ms!r}")
    return 1000.0 / target_step_ms * speedup


__all__: List[str] = [
    "expected_tokens_per_step",
    "accepted_length_distribution",
    "expected_speedup",
    "expected_operations_factor",
    "speedup_curve",
    "optimal_k",
    "break_even_alpha",
    "tokens_per_second",
]
