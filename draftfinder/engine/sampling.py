"""Logits → probabilities → tokens, and the acceptance rule of speculative sampling. Pure functions.

Processors (the interactive CLI seed 004_…txt; order of operations as in transformers' warpers:
temperature first, then top-k, then top-p):

==============  =================================================================================================
greedy          one-hot of argmax(logits) — sampling from it returns the argmax
multinomial     softmax(logits / T)
topk            softmax over the k largest logits / T, others 0 (Fan et al. 2018, "Hierarchical Neural Story
                Generation", §5.4); ties with the k-th logit are kept
nucleus         softmax(logits / T), then the smallest set of tokens, most probable first, whose mass is ≥ p,
                renormalized (Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration", §3.1)
topknucleus     topk, then nucleus on what is left
==============  =================================================================================================

Speculative sampling (Leviathan et al. 2023, "Fast Inference from Transformers via Speculative Decoding",
Algorithm 1 and Appendix A.1; Chen et al. 2023, "Accelerating Large Language Model Decoding with Speculative
Sampling", Algorithm 2): draft token x ~ q is accepted with probability min(1, p(x)/q(x)); on rejection the
replacement is drawn from norm(max(0, p − q)). The emitted token is then distributed exactly as p, whatever q.
Both p and q must come from the *same* processor, so the output follows the target's processed distribution.

Shapes: ``[V]`` for one position, ``[N, V]`` for N positions; probabilities are float32.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import torch

from draftfinder.errors import UsageError
from draftfinder.engine.base import PROCESSORS, SamplingConfig


def _top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Set every logit below the k-th largest to −inf (ties with the k-th are kept). logits: [..., V]"""
    if k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]          # [..., 1]
    return logits.masked_fill(logits < kth, float("-inf"))


def _nucleus_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest most-probable set with mass ≥ top_p (the top token always), renormalize. probs: [..., V]"""
    if top_p >= 1.0:
        return probs
    sorted_p, order = probs.sort(dim=-1, descending=True)          # [..., V]
    mass_before = sorted_p.cumsum(dim=-1) - sorted_p                 # mass of the tokens ranked above each one
    sorted_p = sorted_p.masked_fill(mass_before >= top_p, 0.0)       # the set is complete before this token
    kept = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    return kept / kept.sum(dim=-1, keepdim=True)


def logits_to_probs(logits: torch.Tensor, cfg: SamplingConfig) -> torch.Tensor:
    """The processor's distribution over the vocabulary. logits: [V] or [N, V] → probs: same shape, float32."""
    logits = logits.float()
    if cfg.processor == "greedy":
        index = logits.argmax(dim=-1, keepdim=True)                  # [..., 1]
        return torch.zeros_like(logits).scatter_(-1, index, 1.0)
    if cfg.processor not in PROCESSORS:
        raise UsageError(f"unknown sampling processor '{cfg.processor}'", hint=f"use one of: {', '.join(PROCESSORS)}")
    logits = logits / cfg.temperature
    if cfg.processor in ("topk", "topknucleus"):
        logits = _top_k_filter(logits, int(cfg.top_k))
    probs = torch.softmax(logits, dim=-1)
    if cfg.processor in ("nucleus", "topknucleus"):
        probs = _nucleus_filter(probs, float(cfg.top_p))
    return probs


def sample(probs: torch.Tensor, generator: Optional[torch.Generator] = None) -> int:
    """One token id drawn from ``probs`` [V] (a one-hot distribution always gives its hot index). The draw
    happens on the generator's device (``probs`` moves there when a draft model runs on another device)."""
    if generator is not None and generator.device != probs.device:
        probs = probs.to(generator.device)
    return int(torch.multinomial(probs, 1, generator=generator).item())


def residual_distribution(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """norm(max(0, p − q)): where rejected draft tokens are replaced from (Leviathan et al. 2023, §2.3).

    p, q: [V]. When p ≤ q everywhere (p == q up to rounding) a rejection cannot happen in exact arithmetic;
    p itself is returned so that a rounding-induced rejection still samples from the target.
    """
    residual = torch.clamp(p - q, min=0.0)                          # [V]
    total = residual.sum()
    if not total > 0:
        return p
    return residual / total


def verify_draft(
    p_rows: torch.Tensor,
    q_rows: Optional[torch.Tensor],
    draft_tokens: Sequence[int],
    generator: Optional[torch.Generator] = None,
    rejected_q: Optional[torch.Tensor] = None,
) -> Tuple[int, int]:
    """Speculative sampling for one step: how many drafts to keep, and the token that follows them.

    p_rows: [n+1, V] target distributions — row i is p(· | context, x_1..x_i), the last row is for the bonus.
    q_rows: [n, V] draft distributions the drafts were sampled from; None for a deterministic drafter
            (q = one-hot of its token, so x_i is kept with probability p(x_i)).
    draft_tokens: x_1..x_n.

    Rule (Leviathan et al. 2023, Algorithm 1; Chen et al. 2023, Algorithm 2):
        for i = 1..n: draw r ~ U[0, 1); keep x_i if r < min(1, p_i(x_i) / q_i(x_i))
        at the first rejection: emit a token from norm(max(0, p_i − q_i)) and stop
        if all n are kept: emit a bonus token from p_{n+1}
    With one-hot p and q (greedy) this is "keep while the draft equals the target's argmax, then emit the
    target's argmax". Returns (n_accepted, next_token).

    rejected_q: [V] the draft distribution (cut to the target's ids) of an (n+1)-th draft token the target
    cannot have (an id ≥ V: p(x) = 0, so min(1, p/q) = 0 and it is rejected with certainty). When all n drafts
    are kept, the next token is then drawn from norm(max(0, p_{n+1} − rejected_q)), the rule's own rejection
    branch, instead of the bonus draw from p_{n+1}. Emitted y then has probability
    min(p, q)(y) + (1 − Σ min(p, q)) · norm(max(0, p − q))(y) = p(y), with q's mass beyond V landing on the
    rejection; a bonus draw from p instead would give p(y) + Q·(p(y) − max(0, p − q)(y)/(1 − β)) with Q the mass
    beyond V and β = Σ min(p, q), which is not p unless Q = 0.
    """
    n = len(draft_tokens)
    if p_rows.dim() != 2 or p_rows.shape[0] != n + 1:
        raise ValueError(f"p_rows must be [n+1, V] = [{n + 1}, V], got {tuple(p_rows.shape)}")
    if q_rows is not None and (q_rows.dim() != 2 or q_rows.shape[0] < n):
        raise ValueError(f"q_rows must be [n, V] with n = {n}, got {tuple(q_rows.shape)}")
    for i, x in enumerate(draft_tokens):
        p_x = float(p_rows[i, x])
        q_x = 1.0 if q_rows is None else float(q_rows[i, x])
        r = float(torch.rand((), generator=generator, device=generator.device if generator is not None else None))
        if r * q_x < p_x:                                            # r < p/q, written without dividing by q
            continue
        if q_rows is None:
            q = torch.zeros_like(p_rows[i])
            q[x] = 1.0
        else:
            q = q_rows[i]
        return i, sample(residual_distribution(p_rows[i], q), generator)
    if rejected_q is not None:
        return n, sample(residual_distribution(p_rows[n], rejected_q.to(p_rows.dtype)), generator)
    return n, sample(p_rows[n], generator)


def accept_greedy(target_argmax: List[int], draft_tokens: Sequence[int]) -> Tuple[int, int]:
    """``verify_draft`` for the greedy processor, without building one-hot rows.

    target_argmax: [n+1] argmax of the target's logits at each row. Keeps drafts while they equal the argmax;
    returns (n_accepted, the argmax after them). Same result as ``verify_draft`` on one-hot p and q.
    """
    n = 0
    while n < len(draft_tokens) and draft_tokens[n] == target_argmax[n]:
        n += 1
    return n, target_argmax[n]


def top_probability(logits: torch.Tensor) -> float:
    """max softmax(logits) of one position [V]: the draft's confidence used by the confidence stop."""
    return float(torch.softmax(logits.float(), dim=-1).max())


def align_vocab(probs: Any, vocab_size: int) -> Any:
    """Pad (with 0) or cut the last dim of a [N, V'] distribution to the target's V (None passes through)."""
    if probs is None or probs.shape[-1] == vocab_size:
        return probs
    if probs.shape[-1] > vocab_size:
        return probs[..., :vocab_size]
    pad = torch.zeros(*probs.shape[:-1], vocab_size - probs.shape[-1], dtype=probs.dtype, device=probs.device)
    return torch.cat([probs, pad], dim=-1)
