"""Types shared by the speculative decoding engine: sampling settings, the drafter protocol, results and stats.

The engine (``speculative.py``) knows drafters only through :class:`Drafter` (llama.cpp's begin → draft →
accept lifecycle): a small draft model, n-gram / prompt lookup, a layer-skip self-draft, all alike.
Batch size is 1 everywhere; token ids are plain Python ints at the protocol boundary, tensors inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Protocol

PROCESSORS = ("greedy", "multinomial", "topk", "nucleus", "topknucleus")
MAX_K = 64       # drafts per step at most: a larger draft window is never useful and is most likely a typo


@dataclass
class SamplingConfig:
    """How the next token is chosen from logits (the processors of the interactive CLI seed, 004_…txt)."""

    processor: str = "greedy"       # greedy | multinomial | topk | nucleus | topknucleus
    temperature: float = 1.0        # multinomial and the filtered processors divide logits by it
    top_k: int = 50                 # topk, topknucleus
    top_p: float = 0.9              # nucleus, topknucleus
    seed: int = 0                   # one torch.Generator per generation, seeded with this

    @property
    def greedy(self) -> bool:
        return self.processor == "greedy"


def validate_sampling(cfg: SamplingConfig) -> None:
    """Raise ``UsageError`` naming the bad value when ``cfg`` cannot be used (no torch: the CLI checks its
    flags with it before anything heavy loads)."""
    from draftfinder.errors import UsageError

    if cfg.processor not in PROCESSORS:
        raise UsageError(f"unknown sampling processor '{cfg.processor}'",
                         hint=f"use one of: {', '.join(PROCESSORS)}")
    if cfg.processor == "greedy":
        return
    if not cfg.temperature > 0:
        raise UsageError(f"temperature must be > 0, got {cfg.temperature}",
                         hint="use the greedy processor for deterministic output")
    if cfg.processor in ("topk", "topknucleus") and int(cfg.top_k) < 1:
        raise UsageError(f"top_k must be ≥ 1, got {cfg.top_k}")
    if cfg.processor in ("nucleus", "topknucleus") and not 0 < cfg.top_p <= 1:
        raise UsageError(f"top_p must be in (0, 1], got {cfg.top_p}")


@dataclass
class Draft:
    """What a drafter proposes for one step."""

    tokens: List[int]                         # proposed ids, 0 ≤ len ≤ k (empty: nothing to propose)
    probs: Any = None                         # torch.Tensor [len(tokens), vocab]: the draft's distribution q
                                              # after the processor; None for deterministic drafters (q = one-hot)


class Drafter(Protocol):
    """Lifecycle of every draft source, for one generation at a time.

    begin(prompt)  → a new generation: reset per-generation state, prefill caches on the prompt
    draft(ctx, k)  → propose up to k tokens continuing ``ctx`` (the full accepted sequence so far)
    accept(n, ctx) → n of the last draft were accepted; ``ctx`` is the accepted sequence *after* the step
                     (accepted drafts + the target's correction or bonus token): roll caches back to it
    end()          → the generation is over (drafters that keep state across generations may keep it)

    Optional hooks, used when present:
    bind_target_cache(model, cache) → called after the target's prefill, before ``begin``: a self-speculative
                     drafter (part of the target) writes its layers into the target's own KV cache; it then
                     exposes ``bound_cache`` (that cache) and ``verify_forward(feed) → logits [len(feed), V]``,
                     the verify pass reusing what the draft already computed. ``end`` unbinds.
    extend(ctx, n)  → up to n more draft tokens for free (n-gram drafters; pass-size padding)
    observe_target_topk(ctx, start, rows) → the target's top ids at the verified positions (n-gram filler)
    target_hidden_layers (attribute) + observe_target_hidden(ctx, hidden) → the target's prefill and verify
                     passes also return the outputs of those decoder layers; ``hidden`` [r, n_layers, H] holds
                     the r positions the target kept, ending at len(ctx) − 2 (EAGLE-3; called before ``accept``)
    """

    name: str

    def begin(self, prompt_ids: List[int]) -> None: ...

    def draft(self, context_ids: List[int], k: int, sampling: SamplingConfig, generator: Any) -> Draft: ...

    def accept(self, n_accepted: int, context_ids: List[int]) -> None: ...

    def end(self) -> None: ...


@dataclass
class SpecStats:
    """Counters of one generation (built in from day one: STYLE habit 6)."""

    steps: int = 0                                   # target verify passes
    drafted: int = 0                                 # draft tokens proposed
    accepted: int = 0                                # draft tokens accepted
    accepted_hist: Dict[int, int] = field(default_factory=dict)     # accepted count per step -> steps
    position_drafted: List[int] = field(default_factory=list)       # [i]: steps that drafted a token at i
    position_accepted: List[int] = field(default_factory=list)      # [i]: of those, accepted
    k_history: List[int] = field(default_factory=list)              # K asked of the drafter at each step
    drafted_history: List[int] = field(default_factory=list)        # tokens really drafted and verified per
                                                                     # step (< K: the drafter stopped early;
                                                                     # > K: pass-size padding added some)
    padded: int = 0                                  # of ``drafted``, tokens added by pass-size padding
    new_tokens: int = 0
    prefill_s: float = 0.0
    draft_s: float = 0.0
    verify_s: float = 0.0
    total_s: float = 0.0
    ttft_s: float = 0.0                              # time to the first new token
    decode_path: str = ""                            # target forward: compiled / eager-static / transformers
                                                     # (engine/fastpath.py; "" when not recorded)

    @property
    def alpha(self) -> Optional[float]:
        """Observed per-token acceptance: accepted / drafted."""
        return self.accepted / self.drafted if self.drafted else None

    @property
    def tokens_per_step(self) -> Optional[float]:
        return self.new_tokens / self.steps if self.steps else None

    @property
    def tokens_per_s(self) -> Optional[float]:
        return self.new_tokens / self.total_s if self.total_s > 0 else None

    @property
    def position_acceptance(self) -> List[Optional[float]]:
        """P(accepted at window position i | drafted at i), i = 0..max K−1."""
        return [a / d if d else None for a, d in zip(self.position_accepted, self.position_drafted)]

    def record_step(self, k: int, n_drafted: int, n_accepted: int, n_padded: int = 0) -> None:
        """One verify step: ``k`` asked of the drafter, ``n_drafted`` verified (padding included),
        ``n_accepted`` kept, ``n_padded`` of the drafted added by pass-size padding."""
        if not 0 <= n_accepted <= n_drafted or not 0 <= n_padded <= n_drafted:
            raise ValueError(f"need 0 ≤ n_accepted, n_padded ≤ n_drafted, got {n_accepted}, {n_padded}, {n_drafted}")
        self.steps += 1
        self.k_history.append(k)
        self.drafted_history.append(n_drafted)
        self.padded += n_padded
        self.drafted += n_drafted
        self.accepted += n_accepted
        self.accepted_hist[n_accepted] = self.accepted_hist.get(n_accepted, 0) + 1
        while len(self.position_drafted) < n_drafted:
            self.position_drafted.append(0)
            self.position_accepted.append(0)
        # positions 0..n_accepted were reached; 0..n_accepted-1 accepted; position n_accepted rejected
        for i in range(min(n_drafted, n_accepted + 1)):
            self.position_drafted[i] += 1
            if i < n_accepted:
                self.position_accepted[i] += 1

    def to_dict(self) -> Dict[str, Any]:
        return {
            "steps": self.steps, "drafted": self.drafted, "accepted": self.accepted,
            "alpha": self.alpha, "tokens_per_step": self.tokens_per_step,
            "accepted_hist": {str(k): v for k, v in sorted(self.accepted_hist.items())},
            "position_acceptance": self.position_acceptance, "k_history": self.k_history,
            "drafted_history": self.drafted_history, "padded": self.padded,
            "new_tokens": self.new_tokens, "tokens_per_s": self.tokens_per_s,
            "prefill_s": self.prefill_s, "draft_s": self.draft_s, "verify_s": self.verify_s,
            "total_s": self.total_s, "ttft_s": self.ttft_s, "decode_path": self.decode_path,
        }


@dataclass
class GenerationResult:
    """One generation: the new token ids, their text, and its stats."""

    strategy: str                     # speculative | ngram | target | draft | hf-assisted | ...
    token_ids: List[int]              # new tokens only (prompt excluded)
    text: str = ""
    stats: SpecStats = field(default_factory=SpecStats)
    # per step: (accepted draft ids, rejected draft ids, target's correction/bonus id) for the colour view
    trace: List[Dict[str, Any]] = field(default_factory=list)
    cancelled: bool = False           # should_stop() ended it before EOS or the budget

    def to_dict(self) -> Dict[str, Any]:
        return {"strategy": self.strategy, "token_ids": self.token_ids, "text": self.text,
                "stats": self.stats.to_dict(), "cancelled": self.cancelled}
