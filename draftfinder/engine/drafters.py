"""Draft sources for speculative decoding, all behind the ``Drafter`` protocol of ``base.py``.

==================  ============================================================================================
spec                drafter
==================  ============================================================================================
NAME or PATH        ``ModelDrafter``: a small draft model (``zoo:…``, .gguf, folder, Hub id) with its own KV cache;
                    its tokenizer must pass ``compat.EnhancedTokenizerChecker.verify_compatibility``
``layerskip:N``     ``LayerSkipDrafter``: self-draft with the target's first N decoder layers + final norm + LM head
                    (weights shared with the target, its own KV cache; LayerSkip-style early exit without the
                    early-exit training — Elhoushi et al. 2024, "LayerSkip", §4 self-speculation)
``ngram``           ``engine.ngram.NGramDrafter`` (n-gram / prompt lookup; NASD of the CLI seed),
``ngram:basic:N``   storage "basic" or "onelevel", order N, ``top_k_filler=1``, reset between generations
``ngram:onelevel:N``
==================  ============================================================================================

The draft model's cache follows the accepted sequence: the drafter remembers which token ids its cache holds,
and before each draft (and on ``accept``) rolls back to the longest prefix shared with the accepted sequence,
then feeds what is missing (the target's correction or bonus token, and the last accepted draft, which was
never fed). Optional confidence stop (``confidence_threshold``): drafting stops after a token whose draft
top-probability, softmax of the raw logits, is below the threshold — that token is still proposed, as in
transformers' ``assistant_confidence_threshold``.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, List, Optional

import torch

from draftfinder.errors import UsageError
from draftfinder.engine import cache as kv
from draftfinder.engine.base import Draft, SamplingConfig
from draftfinder.engine.loading import LoadedModel, load_model
from draftfinder.engine.sampling import logits_to_probs, sample, top_probability
from draftfinder.engine.speculative import decode_one_token, model_forward, prefill

DEFAULT_NGRAM_N = 3          # n-gram order for the bare ``ngram`` spec


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
        if self._cache is None:
            self.begin(context_ids)
        with torch.inference_mode():
            self._sync(context_ids)
            pending = list(context_ids[len(self._cached):])                  # ≥ 1 token (see _sync)
            logits = model_forward(self.model, self._cache, pending)[-1]     # [V_draft]
            self._cached.extend(pending)
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
                logits = decode_one_token(self.model, self._cache, token)
                self._cached.append(token)
            probs = torch.stack(rows) if rows else None                       # [n, V]
        return Draft(tokens=tokens, probs=probs)

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
        return torch.cat([logits, torch.full((v - logits.shape[-1],), float("-inf"), dtype=logits.dtype)])


class LayerSkipDrafter(ModelDrafter):
    """Self-speculation: the target's first ``n_layers`` decoder layers, its final norm and its LM head."""

    def __init__(self, target: LoadedModel, n_layers: int, confidence_threshold: Optional[float] = None):
        view = truncated_model(target.model, n_layers)
        loaded = LoadedModel(name=f"{target.name}[:{n_layers} layers]", model=view, tokenizer=target.tokenizer,
                             record=target.record)
        super().__init__(loaded, confidence_threshold, vocab_size=target.vocab_size, name=f"layerskip:{n_layers}")
        self.n_layers = n_layers


def truncated_model(model: Any, n_layers: int) -> Any:
    """A view of a decoder-only causal LM that runs only its first ``n_layers`` layers; shares every weight.

    Works for models laid out as ``model.model.layers`` + ``model.model.norm`` + ``model.lm_head`` (Llama,
    Gemma-3, Qwen2, Mistral, …). Shallow copies of the outer and inner modules get their own module tables and
    a config copy with ``num_hidden_layers`` (and ``layer_types``) cut to N, so the target is untouched and
    ``DynamicCache(config=…)`` lays out exactly N layers.
    """
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if layers is None or getattr(inner, "norm", None) is None:
        raise UsageError(f"layer-skip drafting does not support {type(model).__name__}",
                         hint="it needs a decoder with .model.layers and .model.norm (Llama, Gemma-3, Qwen2, …)")
    total = len(layers)
    if not 1 <= int(n_layers) < total:
        raise UsageError(f"layerskip:{n_layers}: N must be between 1 and {total - 1} (the target has {total} layers)")
    n = int(n_layers)
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = n
    if isinstance(getattr(config, "layer_types", None), list):
        config.layer_types = config.layer_types[:n]

    view_inner = copy.copy(inner)
    view_inner.__dict__["_modules"] = dict(inner._modules)                 # own table: the target keeps its layers
    view_inner.layers = torch.nn.ModuleList(list(layers)[:n])
    view_inner.__dict__["config"] = config
    view = copy.copy(model)
    view.__dict__["_modules"] = dict(model._modules)
    view.model = view_inner
    view.__dict__["config"] = config
    return view


def check_draft_tokenizer(target: LoadedModel, draft: LoadedModel) -> None:
    """Raise ``UsageError`` unless ``draft``'s tokenizer is compatible with ``target``'s (compat's named checks)."""
    if target.tokenizer is not None and target.tokenizer is draft.tokenizer:
        return
    if target.tokenizer is None or draft.tokenizer is None:
        missing = target.name if target.tokenizer is None else draft.name
        raise UsageError(f"cannot check the draft's tokenizer: '{missing}' has no tokenizer",
                         hint="load both models with their tokenizer files")
    from draftfinder.compat.checks import EnhancedTokenizerChecker

    result = EnhancedTokenizerChecker.verify_compatibility(target.tokenizer, draft.tokenizer, target.name, draft.name)
    if not result.is_compatible:
        reasons = "; ".join(result.incompatibility_reasons[:2]) or "tokenizers differ"
        raise UsageError(f"draft '{draft.name}' cannot draft for '{target.name}': {reasons}",
                         hint="pick a draft of the same family (draftfinder find TARGET lists compatible ones)")


# ---------------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------------

def _make_ngram(arg: str, target: LoadedModel, **kw: Any) -> Any:
    """``ngram`` | ``ngram:basic:N`` | ``ngram:onelevel:N``."""
    parts = [p for p in arg.split(":") if p] if arg else []
    storage, n = "basic", DEFAULT_NGRAM_N
    if parts:
        if len(parts) != 2 or parts[0] not in ("basic", "onelevel") or not parts[1].isdigit() or int(parts[1]) < 1:
            raise UsageError(f"bad n-gram drafter spec 'ngram:{arg}'",
                             hint="use ngram, ngram:basic:N or ngram:onelevel:N (N ≥ 2)")
        storage, n = parts[0], int(parts[1])
    try:
        from draftfinder.engine.ngram import NGramDrafter
    except ImportError as err:
        raise UsageError("the n-gram drafter is not available in this build",
                         hint="use a draft model or layerskip:N") from err
    kw.pop("resolver", None)
    settings = {"storage": storage, "n": n, "top_k_filler": 1, "reset_between": True}
    settings.update(kw)                                  # e.g. top_k_filler=3, reset_between=False
    return NGramDrafter(**settings)


def _make_layerskip(arg: str, target: LoadedModel, **kw: Any) -> Any:
    if not arg.isdigit():
        raise UsageError(f"bad layer-skip spec 'layerskip:{arg}'", hint="use layerskip:N with N the layers to keep")
    kw.pop("resolver", None)
    return LayerSkipDrafter(target, int(arg), **kw)


def _make_model(arg: str, target: LoadedModel, **kw: Any) -> Any:
    resolver = kw.pop("resolver", None)
    draft = load_model(arg, resolver=resolver, dtype=kw.pop("dtype", None))
    return ModelDrafter(draft, target=target, **kw)


# prefix → factory(argument after "prefix:", target, **kw); anything else is a model name or path
DRAFTERS: Dict[str, Callable[..., Any]] = {
    "ngram": _make_ngram,
    "layerskip": _make_layerskip,
    "model": _make_model,
}


def make_drafter(spec: str, target: LoadedModel, **kw: Any) -> Any:
    """The drafter named by ``spec`` for ``target`` (see the table above). ``kw`` goes to the drafter
    (e.g. ``confidence_threshold``; ``resolver`` and ``dtype`` for draft models)."""
    spec = spec.strip()
    if not spec:
        raise UsageError("empty drafter spec", hint="use a model name, layerskip:N or ngram")
    prefix, _, arg = spec.partition(":")
    if prefix in DRAFTERS and prefix != "model":
        return DRAFTERS[prefix](arg, target, **kw)
    if prefix == "model" and arg:
        return _make_model(arg, target, **kw)
    return _make_model(spec, target, **kw)
