"""Distillation losses: how far the draft's next-token distribution q is from the target's p.

Source: Zhou et al. 2023, "DistillSpec: Improving Speculative Decoding via Knowledge Distillation"
(arXiv:2310.08461, ICLR 2024), §3–4 and Table 1, which compares these divergences for speculative decoding
and finds the best one depends on the task and on greedy vs sampled decoding. Per position, with p the
teacher (target) and q the student (draft)::

    forward KL  (fkl)  D_KL(p ‖ q) = Σ_v p(v) · (log p(v) − log q(v))        mode-covering; the default
    reverse KL  (rkl)  D_KL(q ‖ p) = Σ_v q(v) · (log q(v) − log p(v))        mode-seeking
    total variation    TVD(p, q)   = ½ Σ_v |p(v) − q(v)|                     DistillSpec's motivation:
    (tvd)                                                                     β = Σ_v min(p, q) = 1 − TVD
                                                                              (Leviathan et al. 2023, Cor. 3.6),
                                                                              so minimising TVD maximises
                                                                              the expected acceptance

The teacher is known only on its top-k ids (``TeacherData.topk_ids`` / ``topk_probs``): p is renormalised
over them, p̃(v) = p(v) / Σ_{top-k} p, and is 0 elsewhere. q is the softmax of the student's full logits.
Consequences, per divergence:

- fkl: Σ over the top-k only (p̃ = 0 elsewhere adds nothing); q's mass outside is penalised through log q.
- tvd: ½ (Σ_{top-k} |p̃ − q| + (1 − Σ_{top-k} q))   (q's mass outside the top-k counts in full).
- rkl: D_KL(q ‖ p̃) is infinite when q puts mass outside the top-k, so it is taken over the top-k:
  D_KL(q̂ ‖ p̃) − log Σ_{top-k} q, with q̂ = q renormalised over the top-k. The second term is ≥ 0: 0 when q
  lives on the top-k, growing as q leaks mass outside it (where p̃ is 0).

All functions are pure: tensors in, a scalar (the mean over positions) out. ``student_logits`` [N, V] float;
``topk_ids`` [N, k] int; ``topk_probs`` [N, k] float (any scale: renormalised here).
"""

from __future__ import annotations

from typing import Any, Dict

LOSSES = ("fkl", "rkl", "tvd")
DEFAULT_LOSS = "fkl"
EPS = 1e-8


def renormalised(topk_probs: Any) -> Any:
    """p̃ = p / Σ_k p over the teacher's top-k (float32), [N, k]."""
    p = topk_probs.float().clamp_min(0)
    return p / p.sum(dim=-1, keepdim=True).clamp_min(EPS)


def forward_kl(student_logits: Any, topk_ids: Any, topk_probs: Any) -> Any:
    """Mean over positions of D_KL(p̃ ‖ q) = Σ_j p̃_j (log p̃_j − log q_{id_j}) (DistillSpec, FKL)."""
    import torch

    logq = torch.log_softmax(student_logits.float(), dim=-1).gather(-1, topk_ids.long())      # [N, k]
    p = renormalised(topk_probs)
    logp = torch.log(p.clamp_min(EPS))
    return (p * (logp - logq)).sum(-1).mean()


def reverse_kl(student_logits: Any, topk_ids: Any, topk_probs: Any) -> Any:
    """Mean over positions of D_KL(q̂ ‖ p̃) − log Σ_{top-k} q (DistillSpec, RKL, on the teacher's top-k:
    module docstring)."""
    import torch

    logq_all = torch.log_softmax(student_logits.float(), dim=-1)
    logq = logq_all.gather(-1, topk_ids.long())                                                # [N, k]
    log_in = torch.logsumexp(logq, dim=-1, keepdim=True)                                       # log Σ_k q
    logq_hat = logq - log_in
    q_hat = logq_hat.exp()
    logp = torch.log(renormalised(topk_probs).clamp_min(EPS))
    return ((q_hat * (logq_hat - logp)).sum(-1) - log_in.squeeze(-1)).mean()


def total_variation(student_logits: Any, topk_ids: Any, topk_probs: Any) -> Any:
    """Mean over positions of TVD(p̃, q) = ½ (Σ_{top-k} |p̃ − q| + 1 − Σ_{top-k} q) (DistillSpec, TVD)."""
    import torch

    q = torch.softmax(student_logits.float(), dim=-1).gather(-1, topk_ids.long())               # [N, k]
    p = renormalised(topk_probs)
    return 0.5 * ((p - q).abs().sum(-1) + (1.0 - q.sum(-1)).clamp_min(0)).mean()


_BY_NAME: Dict[str, Any] = {"fkl": forward_kl, "rkl": reverse_kl, "tvd": total_variation}


def distillation_loss(kind: str, student_logits: Any, topk_ids: Any, topk_probs: Any) -> Any:
    """The divergence named ``kind`` (fkl | rkl | tvd), mean over the N positions."""
    try:
        fn = _BY_NAME[kind]
    except KeyError:
        raise ValueError(f"unknown loss '{kind}': use one of {', '.join(LOSSES)}") from None
    return fn(student_logits, topk_ids, topk_probs)


def chunked_head_loss(kind: str, hidden: Any, head: Any, topk_ids: Any, topk_probs: Any, *, rows: int = 256) -> Any:
    """:func:`distillation_loss` of ``head(hidden)`` without holding logits [N, V] for all N positions at once:
    the head and the loss run over ``rows`` positions at a time under activation checkpointing (the logits of
    a chunk are recomputed in backward), so memory is [rows, V] whatever N is — what a 262k-token vocabulary
    (Gemma-3) needs. ``hidden`` [N, H], ``head``: a callable [n, H] → logits [n, V]. Same value as the
    unchunked loss (a position-weighted mean of the chunk means)."""
    import torch
    from torch.utils.checkpoint import checkpoint

    n = hidden.shape[0]
    if n == 0:
        return hidden.sum() * 0.0

    def chunk_sum(h: Any, ids: Any, probs: Any) -> Any:
        return distillation_loss(kind, head(h), ids, probs) * h.shape[0]

    total = hidden.new_zeros(())
    for s in range(0, n, rows):
        e = min(n, s + rows)
        if torch.is_grad_enabled() and hidden.requires_grad:
            total = total + checkpoint(chunk_sum, hidden[s:e], topk_ids[s:e], topk_probs[s:e], use_reentrant=False)
        else:
            total = total + chunk_sum(hidden[s:e], topk_ids[s:e], topk_probs[s:e])
    return total / n
