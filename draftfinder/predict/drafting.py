"""How many tokens an engine drafts per step, and what that does to acceptance figures and to the speedup.

Two drafting policies cover the engines draftfinder models:

- **fixed K** (vLLM ``num_speculative_tokens``, SGLang, transformers with ``num_assistant_tokens_schedule=
  "constant"``, our engine): every step drafts exactly K tokens. This is Leviathan et al. 2023's setting.
- **confidence-gated** (llama.cpp ``--spec-draft-n-max N --spec-draft-p-min P``, older ``--draft-max`` /
  ``--draft-p-min``): the draft proposes its greedy token while its probability is at least ``p_min`` and at most
  ``n_max`` tokens (ggml-org/llama.cpp ``common/speculative.cpp``: ``if (cur_p->data[0].p < p_min) break;``).
  The default was ``n_max`` 16, ``p_min`` 0.75 in the builds of early 2026 (b8400-era ``--help``, quoted in
  ggml-org/llama.cpp#26100), 0.0 in later ones (the same issue; #25908).

Model of gated drafting (ours). Per position the draft continues with probability ``q`` and a drafted token is
accepted with probability ``a`` (i.i.d., as in Leviathan 2023 §3.1). A draft that stops where it is unsure stops
where rejections happen, so we tie the two: ``1 − q = λ_eff · (1 − a)`` with ``λ_eff = λ · p_min / 0.75``
(``λ`` = :data:`GATING_STOP_LINK`, assumed 1 — draftbench, the one source at p_min 0.75, cannot tell values
from 0.05 to 1 apart; scaling λ linearly in ``p_min`` is an assumption too; ``p_min`` 0 gives ``q`` = 1, i.e.
fixed K = n_max). The drafted length D is then capped-geometric::

    P(D = d) = q^d (1 − q)        d < n_max
    P(D = n_max) = q^n_max
    E[A | D = d] = a (1 − a^d) / (1 − a)          accepted drafts: the run of acceptances before the first reject

and the engine-facing figures follow: llama.cpp's acceptance rate ``E[A] / E[D]`` (``draft_n_accepted /
draft_n``), the acceptance length ``1 + E[A]`` (tokens per target pass, bonus included: vLLM/SGLang/Spec-Bench).
With ``p_min`` 0 they reduce to the fixed-K formulas: rate = α(1 − α^K) / ((1 − α)K), AL = (1 − α^(K+1)) / (1 − α)
(Leviathan 2023 Eq. 1). ``a`` is the per-drafted-token acceptance: for a fixed-K engine it is Leviathan's α.

Draft passes per step (llama.cpp): the draft model evaluates the last accepted token, then each drafted token but
the last one kept — D + 1 passes when the gate stopped it, D when ``n_max`` did (K for fixed K).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, List

# λ of the gated-drafting model: assumed 1 ("the draft stops as often as it would be rejected": q = a at
# p_min 0.75). draftbench cannot tell λ in [0.05, 1] apart: fits with λ 0.05, 0.5 and 1 reach the same in-sample
# error (latency_fit; the bench reports it); λ 2 is clearly worse.
GATING_STOP_LINK = 1.0
P_MIN_OF_FIT = 0.75


@dataclass(frozen=True)
class DraftPolicy:
    """``n_max`` tokens at most per step; ``p_min`` > 0 turns on llama.cpp's confidence gate."""

    n_max: int
    p_min: float = 0.0
    stop_link: float = GATING_STOP_LINK

    def __post_init__(self) -> None:
        if isinstance(self.n_max, bool) or not isinstance(self.n_max, int) or self.n_max < 1:
            raise ValueError(f"n_max (tokens drafted per step) must be an integer >= 1, got {self.n_max!r}")
        if not 0.0 <= float(self.p_min) < 1.0:
            raise ValueError(f"p_min must be in [0, 1), got {self.p_min!r}")
        if not float(self.stop_link) > 0:
            raise ValueError(f"stop_link must be > 0, got {self.stop_link!r}")

    @property
    def gated(self) -> bool:
        return self.p_min > 0.0

    def describe(self) -> str:
        if not self.gated:
            return f"fixed K = {self.n_max}"
        return f"confidence-gated: n_max {self.n_max}, p_min {self.p_min:g} (λ {self.stop_link:.3g})"


def _check_a(a: float) -> float:
    if isinstance(a, bool) or not isinstance(a, (int, float)) or math.isnan(a) or not 0.0 <= a <= 1.0:
        raise ValueError(f"acceptance probability must be in [0, 1], got {a!r}")
    return float(a)


def continue_probability(a: float, policy: DraftPolicy) -> float:
    """q: the chance the draft proposes one more token. ``1 − λ·(p_min/0.75)·(1 − a)``, clipped to [0, 1]; 1 when
    ``p_min`` is 0 (module doc)."""
    a = _check_a(a)
    if not policy.gated:
        return 1.0
    lam = policy.stop_link * policy.p_min / P_MIN_OF_FIT
    return min(1.0, max(0.0, 1.0 - lam * (1.0 - a)))


def drafted_length_distribution(a: float, policy: DraftPolicy) -> List[float]:
    """``[P(D = 0), …, P(D = n_max)]``: capped geometric in q (module doc). Sums to 1."""
    q, n = continue_probability(a, policy), policy.n_max
    return [q ** d * (1.0 - q) for d in range(n)] + [q ** n]


def accepted_given_drafted(a: float, d: int) -> float:
    """E[A | D = d] = a(1 − a^d)/(1 − a): the expected run of acceptances among d drafts (d at a = 1)."""
    a = _check_a(a)
    return float(d) if a == 1.0 else a * (1.0 - a ** d) / (1.0 - a)


def expected_drafted(a: float, policy: DraftPolicy) -> float:
    """E[D], drafted tokens per step."""
    return sum(d * p for d, p in enumerate(drafted_length_distribution(a, policy)))


def expected_accepted(a: float, policy: DraftPolicy) -> float:
    """E[A], accepted drafted tokens per step (the target adds one more token every step)."""
    return sum(p * accepted_given_drafted(a, d) for d, p in enumerate(drafted_length_distribution(a, policy)))


def acceptance_rate(a: float, policy: DraftPolicy) -> float:
    """E[A] / E[D]: llama.cpp's ``draft_n_accepted / draft_n`` (draftbench's ``acceptance_rate``). 0 if nothing
    is ever drafted."""
    drafted = expected_drafted(a, policy)
    return expected_accepted(a, policy) / drafted if drafted > 0 else 0.0


def acceptance_length(a: float, policy: DraftPolicy) -> float:
    """1 + E[A]: tokens per target pass including the target's own token (vLLM/SGLang "acceptance length",
    Spec-Bench "#Mean Accepted Tokens"). Fixed K: (1 − a^(K+1))/(1 − a), Leviathan 2023 Eq. 1."""
    return 1.0 + expected_accepted(a, policy)


def draft_passes(d: int, policy: DraftPolicy) -> int:
    """Draft forward passes in a step that drafted d tokens: d + 1 when the gate stopped it, d at the cap."""
    return d if d >= policy.n_max else d + 1


def _invert(fn: Callable[[float], float], target: float, what: str) -> float:
    lo, hi = 0.0, 1.0
    f_lo, f_hi = fn(lo), fn(hi - 1e-12)
    if not f_lo - 1e-12 <= target <= f_hi + 1e-12:
        raise ValueError(f"{what} {target:g} is outside what this drafting policy can produce "
                         f"({f_lo:.4g} … {f_hi:.4g})")
    for _ in range(60):
        mid = (lo + hi) / 2
        if fn(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def a_from_rate(rate: float, policy: DraftPolicy) -> float:
    """The per-drafted-token acceptance a that gives this accepted ÷ drafted ratio under ``policy`` (bisection;
    the ratio increases with a — tested). Fixed K: solves rate = a(1 − a^K)/((1 − a)K)."""
    return _invert(lambda a: acceptance_rate(a, policy), float(rate), "acceptance rate")


def a_from_acceptance_length(al: float, policy: DraftPolicy) -> float:
    """The a that gives this acceptance length (1 + E[A]) under ``policy``. Fixed K: solves
    AL = (1 − a^(K+1))/(1 − a)."""
    return _invert(lambda a: acceptance_length(a, policy), float(al), "acceptance length")


def expected_step(a: float, policy: DraftPolicy, draft_ms: float,
                  target_ms: Callable[[int], float]) -> tuple:
    """(E[tokens per step], E[milliseconds per step]) for drafting with ``policy``.

    ``E[ms] = Σ_d P(D=d) · (passes(d)·draft_ms + target_ms(d + 1))``: the draft's passes, then one target pass
    over the d drafts plus the last accepted token. Tokens: 1 + E[A]. With p_min 0 this is Leviathan 2023
    Thm 3.8's step: K draft runs and one (K+1)-token target run.
    """
    dist = drafted_length_distribution(a, policy)
    ms = sum(p * (draft_passes(d, policy) * draft_ms + target_ms(d + 1)) for d, p in enumerate(dist) if p > 0)
    return 1.0 + sum(p * accepted_given_drafted(a, d) for d, p in enumerate(dist)), ms


def expected_speedup(a: float, policy: DraftPolicy, draft_ms: float, target_ms: Callable[[int], float]) -> float:
    """Speedup over plain decoding: ``E[tokens] · target_ms(1) / E[ms per step]`` (long-run tokens per second
    ratio; module doc). Equals :func:`speedup.expected_speedup` (Leviathan 2023 Thm 3.8 with verify cost) when
    p_min is 0, with c = draft_ms / target_ms(1) and verify cost target_ms(K+1) / target_ms(1)."""
    tokens, ms = expected_step(a, policy, draft_ms, target_ms)
    return tokens * target_ms(1) / ms


__all__ = ["DraftPolicy", "GATING_STOP_LINK", "P_MIN_OF_FIT", "continue_probability", "drafted_length_distribution",
           "accepted_given_drafted", "expected_drafted", "expected_accepted", "acceptance_rate",
           "acceptance_length", "draft_passes", "a_from_rate", "a_from_acceptance_length", "expected_step",
           "expected_speedup"]
