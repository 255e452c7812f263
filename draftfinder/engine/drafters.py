"""Draft sources for speculative decoding, all behind the ``Drafter`` protocol of ``base.py``.

==================  ============================================================================================
spec                drafter
==================  ============================================================================================
NAME or PATH        ``ModelDrafter``: a small draft model (``zoo:…``, .gguf, folder, Hub id) with its own KV cache;
                    its tokenizer must pass ``compat.EnhancedTokenizerChecker.verify_compatibility``
``layerskip:N``     ``LayerSkipDrafter``: self-draft with the target's first N decoder layers + final norm + LM head
                    (weights shared with the target; in the engine also its KV cache: the verify pass reuses
                    the draft's layers 0..N−1 — ``engine/layerskip.py``; LayerSkip-style early exit without the
                    early-exit training — Elhoushi et al. 2024, "LayerSkip", §5 self-speculation)
``ngram``           ``engine.ngram.NGramDrafter`` (n-gram / prompt lookup; NASD of the CLI seed),
``ngram:basic:N``   storage "basic" or "onelevel", order N, ``top_k_filler=1``, reset between generations
``ngram:onelevel:N``
``eagle3:DIR``      ``engine.eagle3_drafter.Eagle3Drafter``: an EAGLE-3 head fed by the target's hidden states
                    (Li et al. 2025); a speculators-format folder is recognised without the prefix
==================  ============================================================================================

The draft model's cache follows the accepted sequence: the drafter remembers which token ids its cache holds,
and before each draft (and on ``accept``) rolls back to the longest prefix shared with the accepted sequence,
then feeds what is missing (the target's correction or bonus token, and the last accepted draft, which was
never fed). Optional confidence stop (``confidence_threshold``): drafting stops after a token whose draft
top-probability, softmax of the raw logits, is below the threshold — that token is still proposed, as in
transformers' ``assistant_confidence_threshold``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

import torch

from draftfinder.errors import CacheRollbackError, UsageError
from draftfinder.engine import cache as kv
from draftfinder.engine.base import Draft, SamplingConfig
from draftfinder.engine.device import input_device
from draftfinder.engine.drafter_specs import DrafterSpec, check_tokenizer_pair, parse_drafter_spec
from draftfinder.engine.layerskip import HiddenTap, truncated_model, upper_cache_view, upper_model
from draftfinder.engine.loading import LoadedModel, load_model
from draftfinder.engine.sampling import logits_to_probs, sample, top_probability
from draftfinder.engine.speculative import cache_kwargs, decode_one_token, model_forward, prefill

class ModelDrafter:
    """Drafts with a small causal LM that shares the target's vocabulary."""

    def __init__(self, draft: LoadedModel, confidence_threshold: Optional[float] = None, *,
                 target: Optional[LoadedModel] = None, vocab_size: Optional[int] = None,
                 name: Optional[str] = None):
        """``target``: check the tokenizers (raises ``UsageError`` with the reasons) and align the vocabulary
        to the target's logits; ``vocab_size`` sets that width directly (ids ≥ it are never proposed)."""
        if confidence_threshold is not None and not 0 <= confidence_threshold <= 1:
            raise UsageError(f"confidence threshold must be in [0, 1], got {confidence_threshold}")
        if target is not None:
            check_draft_tokenizer(target, draft)
            vocab_size = target.vocab_size if vocab_size is None else vocab_size
        self.loaded = draft
        self.model = draft.model
        self.name = name or draft.name
        self.confidence_threshold = confidence_threshold
        self.vocab_size = vocab_size
        self._cache: Any = None
        self._cached: List[int] = []       # the token ids whose K/V the cache holds, in order
        self._floor = 0                    # the prefill: never rolled back (sliding layers kept only a window)

    # --- protocol ------------------------------------------------------------------------------------
    def begin(self, prompt_ids: List[int]) -> None:
        with torch.inference_mode():
            self._cache = kv.new_cache(self.model)
            prefix = list(prompt_ids[:-1])
            prefill(self.model, self._cache, prefix)
            self._cached = prefix
            self._floor = len(prefix)

    def draft(self, context_ids: List[int], k: int, sampling: SamplingConfig, generator: Any) -> Draft:
        with torch.inference_mode():
            logits = self._first_logits(context_ids)                          # [V_draft]
            tokens: List[int] = []
            rows: List[torch.Tensor] = []
            for i in range(k):
                logits = self._fit(logits)                                   # [V]
                if sampling.greedy:                                          # q one-hot: Draft.probs = None
                    token = int(logits.argmax())
                else:
                    q = logits_to_probs(logits, sampling)                    # [V]
                    token = sample(q, generator)
                    rows.append(q)
                tokens.append(token)
                low = self.confidence_threshold is not None and top_probability(logits) < self.confidence_threshold
                if i == k - 1 or low:
                    break
                logits = self._next_logits(token)
            probs = torch.stack(rows) if rows else None                       # [n, V]
        return Draft(tokens=tokens, probs=probs)

    def _first_logits(self, context_ids: List[int]) -> torch.Tensor:
        """Bring the cache up to ``context_ids`` (feed what it lacks); the logits after its last id."""
        if self._cache is None:
            self.begin(context_ids)
        self._sync(context_ids)
        pending = list(context_ids[len(self._cached):])                      # ≥ 1 token (see _sync)
        logits = model_forward(self.model, self._cache, pending)[-1]         # [V_draft]
        self._cached.extend(pending)
        return logits

    def _next_logits(self, token: int) -> torch.Tensor:
        logits = decode_one_token(self.model, self._cache, token)
        self._cached.append(token)
        return logits

    def accept(self, n_accepted: int, context_ids: List[int]) -> None:
        if self._cache is not None:
            with torch.inference_mode():
                self._sync(context_ids)

    def end(self) -> None:
        self._cache = None
        self._cached = []
        self._floor = 0

    # --- helpers -------------------------------------------------------------------------------------
    def _sync(self, context_ids: List[int]) -> None:
        """Roll the cache back to the longest prefix it shares with ``context_ids``, leaving ≥ 1 token to feed."""
        limit = min(len(self._cached), len(context_ids) - 1)
        if self._cached[:limit] == list(context_ids[:limit]):           # the usual case, compared in C
            common = limit
        else:
            common = 0
            while self._cached[common] == context_ids[common]:
                common += 1
        if common < self._floor:
            raise UsageError("the drafter's context no longer extends its prompt",
                             hint="call begin() with the new prompt")
        if common < len(self._cached):
            kv.rollback(self._cache, common)
            del self._cached[common:]

    def _fit(self, logits: torch.Tensor) -> torch.Tensor:
        """Cut or pad (−inf) the draft's logits [V_draft] to the target's width."""
        v = self.vocab_size
        if v is None or logits.shape[-1] == v:
            return logits
        if logits.shape[-1] > v:
            return logits[:v]
        return torch.cat([logits, torch.full((v - logits.shape[-1],), float("-inf"), dtype=logits.dtype,
                                             device=logits.device)])


class LayerSkipDrafter(ModelDrafter):
    """Self-speculation: the target's first ``n_layers`` decoder layers, its final norm and its LM head.

    Alone (``begin``/``draft``/``accept`` without an engine: ``measure``'s cost timing, chat's draft-only run)
    it drafts like a small model with its own N-layer cache. In ``speculative_generate`` the engine binds the
    target's cache (:meth:`bind_target_cache`): the draft then writes layers 0..N−1 of that cache, keeps its
    layer-N hidden states, and :meth:`verify_forward` runs only what is missing — x_k through layers 0..N−1,
    then layers N..L−1 over all k + 1 positions (``engine/layerskip.py``). No prompt prefill of its own.
    """

    def __init__(self, target: LoadedModel, n_layers: int, confidence_threshold: Optional[float] = None):
        view = truncated_model(target.model, n_layers)
        loaded = LoadedModel(name=f"{target.name}[:{n_layers} layers]", model=view, tokenizer=target.tokenizer,
                             record=target.record)
        super().__init__(loaded, confidence_threshold, vocab_size=target.vocab_size, name=f"layerskip:{n_layers}")
        self.n_layers = n_layers
        self.target_model = target.model
        self.bound_cache: Any = None            # the target's cache while bound (engine), else None
        self._upper: Any = None                 # layers N..L−1 + norm + head (built on first bind)
        self._upper_cache: Any = None
        self._tap = HiddenTap()
        self._fed: List[int] = []               # tokens in layers 0..N−1 beyond the upper layers, this step
        self._hidden: List[torch.Tensor] = []   # their layer-N hidden states, [S_i, H] each

    # --- shared cache (engine) ---------------------------------------------------------------------------
    def bind_target_cache(self, model: Any, cache: Any) -> None:
        """Share ``cache`` (the target's, prefilled) from now until :meth:`end`."""
        if model is not self.target_model:
            raise UsageError(f"{self.name} was built for another target model",
                             hint="make the layer-skip drafter from the target it drafts for")
        layers = len(self.target_model.model.layers)
        if len(getattr(cache, "layers", ())) != layers:
            raise CacheRollbackError(f"{self.name}: the target's cache lays out {len(getattr(cache, 'layers', ()))} "
                                     f"layers, the model has {layers}", hint="make it with engine.cache.new_cache")
        if self._upper is None:
            self._upper = upper_model(self.target_model, self.n_layers)
        self.bound_cache = cache
        self._upper_cache = upper_cache_view(cache, self.n_layers)
        self._tap.attach(self.target_model.model.layers[self.n_layers - 1])
        self._fed, self._hidden = [], []

    def _lengths(self) -> tuple:
        layers = self.bound_cache.layers
        return int(layers[0].get_seq_length()), int(layers[self.n_layers].get_seq_length())

    def _lower(self, tokens: List[int], head: bool) -> Optional[torch.Tensor]:
        """Feed ``tokens`` through layers 0..N−1 of the shared cache; keep their layer-N hidden states; the
        draft head's logits after the last one when ``head``."""
        ids = torch.tensor([tokens], dtype=torch.long, device=input_device(self.model))   # [1, S]
        self._tap.armed = True
        try:
            if head:
                logits = self.model(input_ids=ids, **cache_kwargs(self.model, self.bound_cache)).logits[0, -1]
            else:                                                            # no head: the inner model only
                inner = self.model.model
                inner(input_ids=ids, **cache_kwargs(inner, self.bound_cache))
                logits = None
        finally:
            self._tap.armed = False
        self._fed.extend(tokens)
        self._hidden.append(self._tap.rows)
        return logits

    def _drop_unverified(self) -> None:
        """Roll layers 0..N−1 back to the upper layers' length (a draft that was not verified)."""
        lower, upper = self._lengths()
        kv.rollback_layers(self.bound_cache.layers[: self.n_layers], lower - upper)
        self._fed, self._hidden = [], []

    def verify_forward(self, feed: List[int]) -> torch.Tensor:
        """The target's logits [len(feed), V] for ``feed`` = [last, x_1..x_k], run after this step's draft:
        layers 0..N−1 only for the tokens the draft did not feed, layers N..L−1 for all."""
        common = 0
        while common < min(len(self._fed), len(feed)) and self._fed[common] == feed[common]:
            common += 1
        if common < len(self._fed):                                          # the engine verifies other tokens
            self._drop_unverified()
        if len(feed) > len(self._fed):
            self._lower(list(feed[len(self._fed):]), head=False)
        lower, upper = self._lengths()
        if lower != upper + len(feed):
            raise CacheRollbackError(f"{self.name}: layers 0..N-1 hold {lower} positions, expected {upper + len(feed)}")
        hidden = torch.cat(self._hidden, dim=0)[None]                         # [1, S, H]
        positions = torch.arange(upper, upper + len(feed), dtype=torch.long, device=hidden.device)[None]
        out = self._upper(inputs_embeds=hidden, position_ids=positions, **cache_kwargs(self._upper, self._upper_cache))
        self._fed, self._hidden = [], []
        return out.logits[0]                                                 # [S, V]

    # --- protocol ----------------------------------------------------------------------------------------
    def begin(self, prompt_ids: List[int]) -> None:
        if self.bound_cache is None:
            super().begin(prompt_ids)
            return
        self._fed, self._hidden = [], []                                     # the target's prefill is ours

    def _first_logits(self, context_ids: List[int]) -> torch.Tensor:
        if self.bound_cache is None:
            return super()._first_logits(context_ids)
        if self._fed:
            self._drop_unverified()
        lower, upper = self._lengths()
        if upper != len(context_ids) - 1:
            raise CacheRollbackError(f"{self.name}: the shared cache holds {upper} positions, the context "
                                     f"{len(context_ids)} tokens", hint="the engine must roll it back after verify")
        return self._lower([int(context_ids[-1])], head=True)

    def _next_logits(self, token: int) -> torch.Tensor:
        if self.bound_cache is None:
            return super()._next_logits(token)
        return self._lower([int(token)], head=True)

    def accept(self, n_accepted: int, context_ids: List[int]) -> None:
        if self.bound_cache is None:
            super().accept(n_accepted, context_ids)
            return
        with torch.inference_mode():
            if self._fed:                                                    # drafted, never verified
                self._drop_unverified()

    def end(self) -> None:
        self._tap.detach()
        self.bound_cache = self._upper_cache = None
        self._fed, self._hidden = [], []
        super().end()


def check_draft_tokenizer(target: LoadedModel, draft: LoadedModel) -> None:
    """Raise ``UsageError`` unless ``draft``'s tokenizer is compatible with ``target``'s (compat's named checks)."""
    check_tokenizer_pair(target.tokenizer, draft.tokenizer, target.name, draft.name)


# ---------------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------------

def _make_ngram(spec: DrafterSpec, target: LoadedModel, **kw: Any) -> Any:
    from draftfinder.engine.ngram import NGramDrafter

    kw.pop("resolver", None)
    settings = {"storage": spec.storage, "n": spec.n, "top_k_filler": 1, "reset_between": True}
    settings.update(kw)                                  # e.g. top_k_filler=3, reset_between=False
    return NGramDrafter(**settings)


def _make_layerskip(spec: DrafterSpec, target: LoadedModel, **kw: Any) -> Any:
    kw.pop("resolver", None)
    return LayerSkipDrafter(target, int(spec.layers), **kw)


def _make_model(spec: DrafterSpec, target: LoadedModel, **kw: Any) -> Any:
    resolver = kw.pop("resolver", None)
    draft = load_model(spec.model, resolver=resolver, dtype=kw.pop("dtype", None), device=kw.pop("device", None))
    return ModelDrafter(draft, target=target, **kw)


def _make_eagle3(spec: DrafterSpec, target: LoadedModel, **kw: Any) -> Any:
    from draftfinder.engine.eagle3_drafter import Eagle3Drafter

    return Eagle3Drafter.from_folder(spec.model, target)


# kind (``drafter_specs.parse_drafter_spec``) → factory(spec, target, **kw)
DRAFTERS: Dict[str, Callable[..., Any]] = {
    "ngram": _make_ngram,
    "layerskip": _make_layerskip,
    "model": _make_model,
    "eagle3": _make_eagle3,
}


def make_drafter(spec: str, target: LoadedModel, **kw: Any) -> Any:
    """The drafter named by ``spec`` for ``target`` (syntax: ``engine/drafter_specs.py``). ``kw`` goes to the
    drafter (e.g. ``confidence_threshold``; ``resolver``, ``dtype`` and ``device`` for draft models). To refuse a bad spec
    before the target's weights load, call ``drafter_specs.check_drafter_spec`` first."""
    parsed = parse_drafter_spec(spec)
    return DRAFTERS[parsed.kind](parsed, target, **kw)
