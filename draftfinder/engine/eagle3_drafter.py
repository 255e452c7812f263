"""``Eagle3Drafter``: drafts with an EAGLE-3 head (``engine/eagle3_head.py``) fed by the target's hidden states.

In the engine (``speculative.speculative_generate``) the drafter declares ``target_hidden_layers``; the target's
prefill and every verify pass then also return those layers' outputs, and the engine hands the rows of the
positions the target keeps to :meth:`observe_target_hidden` — no extra target work. Alone (``measure``'s
replays and cost timing call only ``begin``/``draft``/``accept``) the drafter runs the target itself on the
accepted tokens, in ``accept`` (and in the first ``draft`` after ``begin``), so ``draft`` times only the head.

State, for the accepted sequence ``ctx`` (length n; the target has seen ctx[:n−1]):

- ``_feat``: the target's features [F, 3, H] of positions 0..F−1 of the text ``_fctx`` (ctx or a longer text
  ctx is a prefix of: a replay of the same continuation reuses them; F ≥ n − 1 once synced);
- the head's KV cache holds positions 0..c−1 (c ≤ F) computed from those features (step 1 of EAGLE-3), each
  position i reading ctx[i + 1]; ``_last`` is the head's output at c − 1;
- ``draft``: runs the head over positions c..F−1 (one forward; the last row's output gives draft 1), then rolls
  the head on its own outputs for drafts 2..k (positions n−1.., each reading the previous draft), and crops the
  cache back to the target-fed positions: the K/V of draft positions never outlive a step (EAGLE's rollback).
  A context that diverges from the state (rejected drafts) truncates features and cache to the common prefix.

Draft ids are the target's (draft-vocabulary argmax mapped through ``d2t``); under sampling ``Draft.probs`` is
q over the *target's* vocabulary (zero off the draft vocabulary), so the engine's verify keeps the target's
distribution (Leviathan et al. 2023, Thm 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import torch

from draftfinder.engine import cache as kv
from draftfinder.engine.base import Draft, SamplingConfig
from draftfinder.engine.sampling import logits_to_probs, sample


class Eagle3Drafter:
    """The Drafter protocol for an EAGLE-3 head loaded for ``target`` (a ``LoadedModel``)."""

    def __init__(self, head: Any, target: Any, *, name: str = "eagle3"):
        self.head = head
        self.target = target
        self.name = name
        self.target_hidden_layers = tuple(int(i) for i in head.spec.aux_layers)
        self.vocab_size = int(target.vocab_size)
        self._draft_ids = head.draft_ids
        self._reset()

    @classmethod
    def from_folder(cls, folder: Any, target: Any) -> "Eagle3Drafter":
        from draftfinder.engine.eagle3_format import load_head

        head, _ = load_head(folder, target)
        return cls(head, target, name=f"eagle3:{Path(str(folder)).name}")

    def _reset(self) -> None:
        from draftfinder.engine.eagle3_head import HeadCache

        self._ctx: List[int] = []                    # the context the head's cache follows
        self._fctx: List[int] = []                   # the text the features (and the own target cache) follow
        self._feat: Optional[torch.Tensor] = None    # target features [F, 3, H] of positions 0..F−1 of _fctx
        self._cache = HeadCache()                    # head K/V of positions 0..c−1 (c ≤ F), target-fed
        self._last: Any = None                       # the head's StepOutput at position c − 1 (gives draft 1)
        self._tcache: Any = None                     # alone: the drafter's own target cache …
        self._tlen = 0                               # … holding positions 0..tlen−1

    @property
    def _features(self) -> int:
        return 0 if self._feat is None else int(self._feat.shape[0])

    # --- engine hook -------------------------------------------------------------------------------------
    def observe_target_hidden(self, context_ids: List[int], hidden: torch.Tensor) -> None:
        """``hidden`` [r, 3, H]: the target's features of the last r positions it holds for ``context_ids``
        (positions len − 1 − r .. len − 2), from its prefill or a verify pass."""
        ctx = [int(t) for t in context_ids]
        start = len(ctx) - 1 - int(hidden.shape[0])
        self._truncate(ctx)
        if start > self._features:
            raise ValueError(f"target features start at position {start}, the drafter has {self._features}")
        rows = hidden.detach().to(torch.float32)
        self._feat = rows if self._feat is None or start == 0 else torch.cat([self._feat[:start], rows], dim=0)
        if self._tcache is not None and self._tlen > start:
            kv.rollback(self._tcache, start)
            self._tlen = start
        self._fctx = ctx
        self._ctx = ctx

    # --- protocol ----------------------------------------------------------------------------------------
    def begin(self, prompt_ids: List[int]) -> None:
        """A new generation: the head's cache starts empty. The target features of the previous context are kept
        where the new one shares its prefix (``_sync`` truncates the rest): ``measure`` replays the same
        continuation at every K, and alone the drafter then runs the target over it once, not once per K."""
        from draftfinder.engine.eagle3_head import HeadCache

        self._cache = HeadCache()
        self._last = None

    def accept(self, n_accepted: int, context_ids: List[int]) -> None:
        with torch.inference_mode():
            self._sync([int(t) for t in context_ids])

    def end(self) -> None:
        """The generation is over: the head's cache goes; the target features stay for a replay (``begin``)."""
        from draftfinder.engine.eagle3_head import HeadCache

        self._cache = HeadCache()
        self._last = None

    def draft(self, context_ids: List[int], k: int, sampling: SamplingConfig, generator: Any) -> Draft:
        if k <= 0 or len(context_ids) < 2:          # one token: the target has no features yet
            return Draft(tokens=[])
        ctx = [int(t) for t in context_ids]
        with torch.inference_mode():
            self._sync(ctx)
            self._run_rows(ctx)
            committed = self._cache.length
            out = self._last
            tokens: List[int] = []
            rows: List[torch.Tensor] = []
            try:
                for i in range(k):
                    logits = out.logits[0, -1]                                   # [V_d]
                    if sampling.greedy:
                        token = int(self._draft_ids[int(logits.argmax())])
                    else:
                        q = logits_to_probs(self._to_target(logits), sampling)   # [V]
                        token = sample(q, generator)
                        rows.append(q)
                    tokens.append(token)
                    if i == k - 1:
                        break
                    out = self.head.step(out.prenorm[:, -1:], torch.tensor([[token]], device=out.prenorm.device),
                                         self._cache)
            finally:
                self._cache.crop(committed)                                      # draft positions never stay
        return Draft(tokens=tokens, probs=torch.stack(rows) if rows else None)

    # --- helpers -----------------------------------------------------------------------------------------
    def _to_target(self, logits: torch.Tensor) -> torch.Tensor:
        full = torch.full((self.vocab_size,), float("-inf"), dtype=logits.dtype, device=logits.device)
        full[self._draft_ids] = logits
        return full

    @staticmethod
    def _common(a: List[int], b: List[int]) -> int:
        limit = min(len(a), len(b))
        if a[:limit] == b[:limit]:
            return limit
        common = 0
        while a[common] == b[common]:
            common += 1
        return common

    def _truncate(self, ctx: List[int]) -> None:
        """Drop what ``ctx`` contradicts. Head positions ≥ c − 1 for c the prefix ``ctx`` shares with the head's
        context (position i reads ctx[i + 1]); when some go, the last kept one is recomputed too (its output gives
        draft 1). Features only where ``ctx`` and their text diverge (position i depends on tokens ≤ i): a
        shorter ``ctx`` on the same text keeps them for later."""
        common = self._common(self._ctx, ctx)
        keep = max(0, min(self._cache.length, common - 1))
        if keep < self._cache.length:
            self._cache.crop(max(0, keep - 1))
            self._last = None
        shared = self._common(self._fctx, ctx)
        if shared < min(len(self._fctx), len(ctx)):                         # the texts diverge at ``shared``
            if self._features > shared:
                self._feat = self._feat[:shared]
            if self._tcache is not None and self._tlen > shared:
                kv.rollback(self._tcache, shared)
                self._tlen = shared
            self._fctx = ctx
        elif len(ctx) > len(self._fctx):
            self._fctx = ctx

    def _sync(self, ctx: List[int]) -> None:
        """Make the state describe ``ctx``: drop what a divergent prefix invalidated, then (alone) run the
        target on the positions whose features nobody gave (up to len(ctx) − 2)."""
        self._truncate(ctx)
        self._ctx = ctx
        need = len(ctx) - 1
        if self._features < need:
            rows = self._target_features(ctx, self._features, need)
            self._feat = rows if self._feat is None else torch.cat([self._feat, rows], dim=0)

    def _target_features(self, ctx: List[int], start: int, stop: int) -> torch.Tensor:
        """Alone: the target's features [stop − start, 3, H] of positions start..stop−1, from its own cache."""
        from draftfinder.engine.speculative import model_forward

        model = self.target.model
        fresh = self._tcache is None
        if fresh:
            self._tcache = kv.new_cache(model)
            self._tlen = 0
        if self._tlen > start:
            kv.rollback(self._tcache, start)
            self._tlen = start
        first = self._tlen
        _, hidden = model_forward(model, self._tcache, ctx[first:stop], hidden_layers=self.target_hidden_layers)
        if fresh:
            kv.enable_rollback(self._tcache)
        self._tlen = stop
        return hidden[start - first:].to(torch.float32)

    def _run_rows(self, ctx: List[int]) -> None:
        """Run the head over the positions with features it has not seen (c..F−1, reading ctx[c+1..F])."""
        start = self._cache.length
        stop = min(self._features, len(ctx) - 1)
        if stop <= start:
            if self._last is None:
                raise ValueError("the EAGLE-3 drafter has no target features for this context")
            return
        tokens = torch.tensor([ctx[start + 1: stop + 1]], dtype=torch.long, device=self._feat.device)
        self._last = self.head.step(self.head.fuse(self._feat[start:stop])[None], tokens, self._cache)
