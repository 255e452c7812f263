"""The fast decode path: a gpt-fast style forward over a static KV cache, ``torch.compile``-d for short passes.

transformers' modelling code runs one decode step of SmolLM2-135M at 1 CPU thread in ~76 ms, of which the
weight reads (matrix-vector products) take ~48 ms; the rest is ``DynamicCache`` concatenation, mask and
rotary set-up, and ~25 small element-wise kernels per layer each paying Python and dispatch overhead
(``bench/results/engine_vs_hf_*.json``, ``profile``). This module runs the same model (the same ``nn.Module``
weights, norms, MLPs and rotary tables; nothing is copied or converted) through its own forward:

- ``prefill``-sized passes (more than :data:`COMPILE_MAX_TOKENS` tokens) run eagerly, attending over the
  valid prefix of a :class:`~draftfinder.engine.static_cache.StaticKVCache`;
- decode (1 token) and verify (k + 1 tokens) passes run a ``torch.compile``-d graph over the whole buffer
  with a boolean mask (fixed shapes: one graph for 1 token, one for 2..16, per cache capacity), in which
  inductor fuses the norms, rotary embedding and activation into a few C++ kernels.

Families: ``llama`` (Llama, SmolLM, …) and ``gemma3_text`` (Gemma 3: q/k norms, four norms per layer,
sliding-window layers masked to their window, scaled embedding, optional final soft-capping). Anything else
uses transformers' forward (:func:`fast_support` says why).

Switches (read per call, ``constants.env_flag``): ``DRAFTFINDER_NO_FAST=1`` → transformers' forward and
``DynamicCache`` (the reference path); ``DRAFTFINDER_NO_COMPILE=1`` → this forward, eager. When compilation is
unavailable or fails, one line goes to stderr and the eager forward runs. :data:`PATHS` names the three.
Greedy outputs are those of transformers' forward token for token in our tests and benchmarks (same ops in
the same order eagerly; the compiled graph reorders float reductions, which can in principle flip a near-tie).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from draftfinder.constants import env_flag
from draftfinder.engine.static_cache import StaticKVCache

COMPILE_MAX_TOKENS = 16        # passes up to this many tokens run compiled; longer ones (prefill) eagerly
FAMILIES = ("llama", "gemma3_text")
PATHS = ("compiled", "eager-static", "transformers")   # what ran: compiled graph / our eager forward / HF's


def requested_path() -> str:
    """The path the environment asks for: "transformers" (``DRAFTFINDER_NO_FAST=1``), "eager-static"
    (``DRAFTFINDER_NO_COMPILE=1``) or "compiled" (default)."""
    if env_flag("DRAFTFINDER_NO_FAST"):
        return "transformers"
    if env_flag("DRAFTFINDER_NO_COMPILE"):
        return "eager-static"
    return "compiled"


def fast_support(model: Any) -> Optional[str]:
    """None when :class:`FastDecoder` can run ``model`` (a transformers causal LM), else why not."""
    config = getattr(model, "config", None)
    kind = getattr(config, "model_type", None)
    if kind not in FAMILIES:
        return f"model type {kind!r} is not one of {', '.join(FAMILIES)}"
    inner = getattr(model, "model", None)
    if inner is None or not hasattr(inner, "layers") or not hasattr(inner, "rotary_emb"):
        return "unexpected module layout"
    device_map = getattr(model, "hf_device_map", None) or {}
    if len({str(d) for d in device_map.values()}) > 1:
        return "weights spread over several devices (device_map)"
    if getattr(config, "attn_logit_softcapping", None) is not None:
        return "attention logit soft-capping"
    if getattr(config, "use_bidirectional_attention", False):
        return "bidirectional attention"
    return None


class FastDecoder:
    """Runs one transformers model (``llama`` / ``gemma3_text``) over :class:`StaticKVCache` s.

    One per model (:func:`decoder_for`), shared by every cache made for it. ``compile_s``: seconds spent in the
    first call of each graph (1-token, 2..16-token), i.e. compilation; a benchmark keeps it out of its timing by
    warming up, and reports it. ``compile_error``: why compilation failed (then every pass runs eagerly)."""

    def __init__(self, model: Any, *, compile: bool = True):
        import torch
        from transformers.models.llama.modeling_llama import apply_rotary_pos_emb   # Gemma-3's is the same

        self.apply_rotary = apply_rotary_pos_emb          # q·cos + rotate_half(q)·sin, cos/sin unsqueezed at dim 1
        self.model = model
        self.inner = model.model
        config = model.config
        self.gemma = config.model_type == "gemma3_text"
        first = self.inner.layers[0].self_attn
        self.head_dim = int(first.head_dim)
        self.n_kv_heads = int(config.num_key_value_heads)
        self.gqa = int(config.num_attention_heads) != self.n_kv_heads
        self.layer_types = list(getattr(config, "layer_types", None) or ["full_attention"] * len(self.inner.layers))
        self.windows = [int(config.sliding_window) if t == "sliding_attention" else None for t in self.layer_types]
        self.softcap = getattr(config, "final_logit_softcapping", None) if self.gemma else None
        self.compile_enabled = bool(compile)
        self.compile_error: Optional[str] = None
        self.compile_s = 0.0
        self._compiled = None
        self._seen: set = set()
        self.torch = torch

    # ---- caches --------------------------------------------------------------------------------------
    def new_cache(self, capacity: int = 0) -> "FastCache":
        param = next(self.model.parameters())
        kv = StaticKVCache(len(self.inner.layers), self.n_kv_heads, self.head_dim, dtype=param.dtype,
                           device=param.device, capacity=max(1, capacity))
        return FastCache(self, kv)

    @property
    def path(self) -> str:
        return "compiled" if self.compile_enabled and self.compile_error is None else "eager-static"

    # ---- the forward ---------------------------------------------------------------------------------
    def forward(self, kv: StaticKVCache, token_ids: Sequence[int], *, last_only: bool = False) -> Any:
        """Feed ``token_ids`` after the ``kv.length`` cached positions; logits [S, V] (or [1, V])."""
        torch = self.torch
        n = len(token_ids)
        start = kv.length
        kv.ensure(start + n)
        device = kv.keys[0].device
        input_ids = torch.tensor([list(token_ids)], dtype=torch.long, device=device)      # [1, S]
        pos = torch.arange(start, start + n, dtype=torch.long, device=device)             # [S]
        logits = None
        if n <= COMPILE_MAX_TOKENS and self.compile_enabled and self.compile_error is None:
            logits = self._run_compiled(input_ids, pos, kv)
        if logits is None:
            logits = self._forward(input_ids, pos, kv.keys, kv.values, start + n, last_only)
        kv.length = start + n
        logits = logits[0]                                                                # [S, V]
        return logits[-1:] if last_only else logits

    def _run_compiled(self, input_ids: Any, pos: Any, kv: StaticKVCache) -> Any:
        torch = self.torch
        key = input_ids.shape[1] == 1
        try:
            if self._compiled is None:
                _raise_recompile_limit(torch)
                sys.stderr.write("draftfinder: compiling the decode step (torch.compile, first use in this process: "
                                 "seconds to minutes, cached on disk for the next; DRAFTFINDER_NO_COMPILE=1 "
                                 "skips it)\n")
                self._compiled = torch.compile(self._forward, fullgraph=True)
            if getattr(kv, "marked_capacity", None) != kv.capacity:   # one graph for every cache capacity
                for t in kv.keys + kv.values:
                    torch._dynamo.mark_dynamic(t, 2)
                kv.marked_capacity = kv.capacity
            if input_ids.shape[1] > 1:       # one graph for every verify size 2..COMPILE_MAX_TOKENS
                torch._dynamo.mark_dynamic(input_ids, 1, min=2, max=COMPILE_MAX_TOKENS)
                torch._dynamo.mark_dynamic(pos, 0, min=2, max=COMPILE_MAX_TOKENS)
            t0 = time.perf_counter()
            out = self._compiled(input_ids, pos, kv.keys, kv.values, None, False)
            if key not in self._seen:
                self._seen.add(key)
                self.compile_s += time.perf_counter() - t0
            return out
        except Exception as err:          # inductor needs a C++ compiler; anything failing → eager, said once
            self.compile_error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:300]
            sys.stderr.write(f"draftfinder: torch.compile unavailable ({self.compile_error}); decoding with the "
                             f"eager static-cache forward (set DRAFTFINDER_NO_COMPILE=1 to skip the attempt)\n")
            return None

    def _forward(self, input_ids: Any, pos: Any, keys: List[Any], values: List[Any], kv_len: Optional[int],
                 last_only: bool) -> Any:
        """input_ids [1, S], pos [S] (absolute positions); K/V written at ``pos`` into keys/values[i]
        [1, H_kv, C, D]. ``kv_len`` (eager): attend over the first kv_len positions, masks only where needed
        (as transformers' sdpa path: none for 1 token or a causal prefill from empty); None (compiled): over
        all C positions with a boolean mask (positions > the query's own, or beyond its sliding window, off).
        Returns logits [1, S, V] (or [1, 1, V] with ``last_only``)."""
        torch = self.torch
        F = torch.nn.functional
        inner = self.inner
        S = input_ids.shape[1]
        h = inner.embed_tokens(input_ids)                                       # [1, S, H] (Gemma: scaled)
        pos_ids = pos[None]                                                     # [1, S]
        rope: Dict[str, Any] = {}
        masks: Dict[Optional[int], Any] = {}
        for i, layer in enumerate(inner.layers):
            kind, window = self.layer_types[i], self.windows[i]
            if kind not in rope:
                rope[kind] = inner.rotary_emb(h, pos_ids, kind) if self.gemma else inner.rotary_emb(h, pos_ids)
            cos, sin = rope[kind]                                               # [1, S, D]
            if window not in masks:
                masks[window] = self._mask(pos, kv_len if kv_len is not None else keys[i].shape[2], window,
                                           eager=kv_len is not None)
            mask, causal = masks[window]
            attn = layer.self_attn
            residual = h
            x = layer.input_layernorm(h)
            q = attn.q_proj(x).view(1, S, -1, self.head_dim).transpose(1, 2)    # [1, H_q, S, D]
            k = attn.k_proj(x).view(1, S, -1, self.head_dim).transpose(1, 2)    # [1, H_kv, S, D]
            v = attn.v_proj(x).view(1, S, -1, self.head_dim).transpose(1, 2)
            if self.gemma:
                q, k = attn.q_norm(q), attn.k_norm(k)
            q, k = self.apply_rotary(q, k, cos, sin)
            keys[i][:, :, pos] = k                                               # gpt-fast's in-place write
            values[i][:, :, pos] = v                                             # (inductor keeps it in place)
            K, V = keys[i], values[i]
            if kv_len is not None:
                K, V = K[:, :, :kv_len], V[:, :, :kv_len]
            o = F.scaled_dot_product_attention(q, K, V, attn_mask=mask, is_causal=causal, scale=attn.scaling,
                                               enable_gqa=self.gqa)                # [1, H_q, S, D]
            o = attn.o_proj(o.transpose(1, 2).reshape(1, S, -1))
            if self.gemma:
                h = residual + layer.post_attention_layernorm(o)
                h = h + layer.post_feedforward_layernorm(layer.mlp(layer.pre_feedforward_layernorm(h)))
            else:
                h = residual + o
                h = h + layer.mlp(layer.post_attention_layernorm(h))
        h = inner.norm(h)
        if last_only:
            h = h[:, -1:]
        logits = self.model.lm_head(h)
        if self.softcap is not None:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits

    def _mask(self, pos: Any, kv_len: int, window: Optional[int], *, eager: bool):
        """(bool mask [1, 1, S, kv_len] or None, is_causal) for queries at ``pos`` over keys 0..kv_len−1."""
        torch = self.torch
        S = pos.shape[0]
        if eager:
            first = kv_len - S                                   # the first query's position (python int)
            inside = window is None or kv_len <= window          # no key falls out of the window
            if inside and S == 1:
                return None, False
            if inside and first == 0:
                return None, True
        kv_pos = torch.arange(kv_len, device=pos.device)
        allowed = kv_pos[None, :] <= pos[:, None]                                    # [S, kv_len]
        if window is not None:
            allowed = allowed & (kv_pos[None, :] > pos[:, None] - window)
        return allowed[None, None], False


RECOMPILE_LIMIT = 64     # graphs per code object: 2 per model shape (1-token, 2..16-token); torch's default is 8


def _raise_recompile_limit(torch: Any) -> None:
    """Every :class:`FastDecoder` compiles the same method, so dynamo counts all models' graphs together; past its
    limit (8) it would silently run eagerly. A process that decodes with several targets (a sweep) needs more."""
    config = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(config, name) and getattr(config, name) < RECOMPILE_LIMIT:
            setattr(config, name, RECOMPILE_LIMIT)


class FastCache:
    """A :class:`StaticKVCache` bound to its :class:`FastDecoder`; speaks enough of transformers' ``Cache``
    (``get_seq_length``, ``crop(-n)``, ``layers``) for ``engine.cache.cache_length`` / ``rollback``."""

    layers: List[Any] = []                 # no per-layer objects (nothing for cache._trim_sliding to do)

    def __init__(self, decoder: FastDecoder, kv: StaticKVCache):
        self.decoder, self.kv = decoder, kv

    def get_seq_length(self) -> int:
        return self.kv.length

    def crop(self, n: int) -> None:
        """``crop(-n)`` drops the last n positions (transformers ≥ 5.18 semantics)."""
        if n > 0:
            raise ValueError("crop takes a negative count (positions to drop)")
        self.kv.rollback(self.kv.length + int(n))

    def forward(self, token_ids: Sequence[int], *, last_only: bool = False) -> Any:
        return self.decoder.forward(self.kv, token_ids, last_only=last_only)

    @property
    def path(self) -> str:
        return self.decoder.path


_DECODERS: Dict[tuple, FastDecoder] = {}


def decoder_for(model: Any, *, compile: bool) -> FastDecoder:
    """The :class:`FastDecoder` of ``model`` (one per model and compile setting, kept for the process)."""
    key = (id(model), bool(compile))
    dec = _DECODERS.get(key)
    if dec is None or dec.model is not model:
        dec = FastDecoder(model, compile=compile)
        _DECODERS[key] = dec
    return dec


def new_cache(model: Any, *, path: Optional[str] = None, capacity: int = 0) -> Any:
    """A cache for ``model`` on the requested ``path`` (None: :func:`requested_path`): a :class:`FastCache`
    when the model's family is supported and the path is not "transformers", else a ``DynamicCache``
    (``engine.cache.new_cache``). ``cache_path(cache)`` says which path then ran."""
    from draftfinder.engine import cache as kv

    path = requested_path() if path is None else path
    if path not in PATHS:
        raise ValueError(f"unknown decode path {path!r}; one of {', '.join(PATHS)}")
    if path == "transformers" or fast_support(model) is not None:
        return kv.new_cache(model)
    kv.check_transformers()
    return decoder_for(model, compile=path == "compiled").new_cache(capacity)


def cache_path(cache: Any) -> str:
    """Which path a cache from :func:`new_cache` decodes on (one of :data:`PATHS`)."""
    return cache.path if isinstance(cache, FastCache) else "transformers"
