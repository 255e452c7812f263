"""Model surgery for layer-skip self-speculation: views of a decoder's first N layers and of the rest, and a view
of its KV cache for the rest. Used by ``drafters.LayerSkipDrafter``.

Self-speculation (Elhoushi et al. 2024, "LayerSkip: Enabling Early Exit Inference and Self-Speculative
Decoding", §5; Zhang et al. 2023, "Draft & Verify: Lossless Large Language Model Acceleration via
Self-Speculative Decoding") drafts with a part of the target itself, so the draft and the verify pass can share
one KV cache. Here the draft is the target's first N layers + its final norm + LM head (no early-exit training),
and with the cache shared:

- the draft's forwards of [last, x_1, …, x_{k−1}] write layers 0..N−1 of the *target's* cache, and their
  layer-N hidden states are kept (LayerSkip's "exit query cache");
- the verify pass feeds only x_k through layers 0..N−1, then runs layers N..L−1 over the k + 1 kept hidden
  states (:func:`upper_model` on :func:`upper_cache_view`), and the target's head gives the k + 1 rows of
  logits. Layers 0..N−1 are never run twice for a token, and the prompt is prefilled once (by the target);
- the engine's rollback then crops every layer to the accepted sequence, as for any drafter.

The K/V written by the draft are exactly what the target's own layers compute for the same tokens in the same
positions, so greedy output stays the target's (up to batched-vs-single-token float rounding, which the
target-only loop — 1-token passes — and the verify pass differ by anyway).

Why two cache views and not the cache itself: transformers sizes the attention masks from the *first* layer of
each kind (full, sliding) in the cache. While the draft runs ahead, layers 0..N−1 are longer than N..L−1; the
first-N-layer forward only needs masks of kinds its own layers have, whose first layer is among them, so it
uses the cache as is; the forward of layers N..L−1 uses a view whose entries 0..N−1 stand in with an upper
layer of the same kind (:func:`upper_cache_view`), so its masks are sized from layers at its own length.
Supported layouts: ``model.model.layers`` + ``model.model.norm`` + ``model.lm_head`` (Llama, Gemma-3, Qwen2,
Mistral, …), as in transformers ≥ 5.18.
"""

from __future__ import annotations

import copy
from typing import Any, List

import torch

from draftfinder.errors import UsageError


def _parts(model: Any, n_layers: int):
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if layers is None or getattr(inner, "norm", None) is None:
        raise UsageError(f"layer-skip drafting does not support {type(model).__name__}",
                         hint="it needs a decoder with .model.layers and .model.norm (Llama, Gemma-3, Qwen2, …)")
    total = len(layers)
    if not 1 <= int(n_layers) < total:
        raise UsageError(f"layerskip:{n_layers}: N must be between 1 and {total - 1} (the target has {total} layers)")
    return inner, layers, int(n_layers)


def _view(model: Any, inner: Any, layers: Any, start: int, stop: int) -> Any:
    """Shallow copies of the outer and inner modules with their own module tables, running layers
    start..stop−1 (same weights), and a config copy cut to them (``num_hidden_layers``, ``layer_types``)."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = stop - start
    if isinstance(getattr(config, "layer_types", None), list):
        config.layer_types = config.layer_types[start:stop]
    view_inner = copy.copy(inner)
    view_inner.__dict__["_modules"] = dict(inner._modules)                 # own table: the target keeps its layers
    view_inner.layers = torch.nn.ModuleList(list(layers)[start:stop])
    view_inner.__dict__["config"] = config
    view = copy.copy(model)
    view.__dict__["_modules"] = dict(model._modules)
    view.model = view_inner
    view.__dict__["config"] = config
    return view


def truncated_model(model: Any, n_layers: int) -> Any:
    """A view of a decoder-only causal LM that runs only its first ``n_layers`` layers, then its final norm and
    LM head; shares every weight. ``DynamicCache(config=view.config)`` lays out exactly N layers; the view also
    runs on the full model's cache (it writes layers 0..N−1)."""
    inner, layers, n = _parts(model, n_layers)
    return _view(model, inner, layers, 0, n)


def upper_model(model: Any, n_layers: int) -> Any:
    """A view that runs layers N..L−1, the final norm and the LM head on hidden states given as
    ``inputs_embeds`` (the layer-N residual stream); run it on :func:`upper_cache_view` with explicit
    ``position_ids``. Each layer keeps its own index, so it writes its own entry of the cache."""
    inner, layers, n = _parts(model, n_layers)
    return _view(model, inner, layers, n, len(layers))


def upper_cache_view(cache: Any, n_layers: int) -> Any:
    """The same cache (same layer objects) with entries 0..N−1 standing in with the first upper layer of the same
    kind (sliding or not), so masks for layers N..L−1 are sized from layers at their own length."""
    layers: List[Any] = list(cache.layers)
    upper = layers[n_layers:]

    def stand_in(layer: Any) -> Any:
        sliding = bool(getattr(layer, "is_sliding", False))
        for other in upper:
            if bool(getattr(other, "is_sliding", False)) == sliding:
                return other
        return upper[0]

    view = copy.copy(cache)
    view.layers = [stand_in(layer) for layer in layers[:n_layers]] + upper
    return view


class HiddenTap:
    """Keeps the output of one decoder layer (the layer-N hidden states [S, H]) while ``armed``; a forward hook
    registered by :meth:`attach` and removed by :meth:`detach`."""

    def __init__(self) -> None:
        self.armed = False
        self.rows: Any = None
        self._handle: Any = None

    def attach(self, layer: Any) -> None:
        self.detach()
        self._handle = layer.register_forward_hook(self._grab)

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self.armed = False

    def _grab(self, module: Any, args: Any, output: Any) -> None:
        if self.armed:
            hidden = output[0] if isinstance(output, tuple) else output     # [1, S, H]
            self.rows = hidden[0]
