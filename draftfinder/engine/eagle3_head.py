"""The EAGLE-3 draft head: its modules, its two forwards (training-time test and incremental with a KV cache).

EAGLE-3 (Li et al. 2025, "EAGLE-3: Scaling up Inference Acceleration of Large Language Models via Training-Time
Test", §3) drafts with one decoder layer fed by the target itself:

- ``fc``: 3H → H fuses the target's low, middle and high hidden states g_i = fc([l_i; m_i; h_i]) (§3.2);
- one decoder layer of the target's type whose attention input is [input_layernorm(e(t_{i+1})); hidden_norm(g_i)]
  (2H → q/k/v; the residual stream is g_i — speculators' ``Eagle3DecoderLayer`` with ``norm_before_residual``
  false, vLLM's ``llama_eagle3.LlamaDecoderLayer``);
- the final norm and an LM head over a reduced draft vocabulary V_d; ``d2t`` maps a draft id d to the target id
  d + d2t[d], ``t2d`` marks the target ids the draft vocabulary holds (§3.2, "vocabulary"; speculators'
  ``Eagle3Speculator.compute_logits``).

At position i the head reads the target's features of position i and the token t_{i+1} the target emitted
there, and predicts t_{i+2}. Its output before the final norm ("prenorm", vLLM's ``hidden_prenorm``) replaces
the target's features at the next draft step: step m at position i + m − 1 reads (prenorm of step m − 1,
e(its draft token)).

Training-time test (§3.3): step 1 runs over every position of a sequence on the target's features; step j
reuses the outputs of step j − 1 at the same positions. Query (i, j), at rotary position i + j − 1, attends to
step-1 keys at positions ≤ i (causal) and to the keys of steps 2..j at position i (the "diagonal"), exactly the
keys it sees at inference (:meth:`Eagle3Head.ttt_forward`). The incremental forward (:meth:`Eagle3Head.step`) is
the same computation with an ordinary causal KV cache; tests check the two agree.

Embeddings are the target's own module (frozen, shared, not part of the state dict), as vLLM shares them when
the shapes match (``vllm/v1/spec_decode/eagle.py``, "Assuming the EAGLE head shares the same vocab embedding").
"""

from __future__ import annotations

import copy
import inspect
import sys
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

import torch
from torch import nn


def _text_config(model: Any) -> Any:
    config = model.config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def _inner(model: Any) -> Any:
    inner = getattr(model, "model", None)
    if inner is None or getattr(inner, "layers", None) is None or getattr(inner, "norm", None) is None:
        from draftfinder.errors import UsageError

        raise UsageError(f"an EAGLE-3 head cannot be built for {type(model).__name__}",
                         hint="it needs a decoder with .model.layers, .model.norm and .model.rotary_emb "
                              "(Llama, Gemma-3, Qwen2, Mistral, …)")
    return inner


def layer_config(target_model: Any) -> Any:
    """The target's text config cut to one full-attention decoder layer (the head's ``transformer_layer_config``)."""
    config = copy.deepcopy(_text_config(target_model))
    config.num_hidden_layers = 1
    if isinstance(getattr(config, "layer_types", None), list):
        config.layer_types = ["full_attention"]
    config.tie_word_embeddings = False
    return config


class Eagle3Attention(nn.Module):
    """The target's attention with q/k/v projections over 2H inputs ([embedding; hidden], EAGLE-3 §3.2).

    Keeps the target's o_proj shape, its q/k norms (Gemma-3) and its score scaling. Attention itself is written
    out (grouped-query heads repeated) so the training-time-test mask and the KV cache share one code path."""

    def __init__(self, proto: Any, config: Any, hidden_size: int):
        super().__init__()
        self.head_dim = int(getattr(proto, "head_dim", None) or config.hidden_size // config.num_attention_heads)
        self.num_heads = int(config.num_attention_heads)
        self.num_kv_heads = int(config.num_key_value_heads)
        self.scaling = float(getattr(proto, "scaling", self.head_dim ** -0.5))
        self.softcap = getattr(proto, "attn_logit_softcapping", None)
        bias = bool(getattr(config, "attention_bias", False))
        self.q_proj = nn.Linear(2 * hidden_size, self.num_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(2 * hidden_size, self.num_kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(2 * hidden_size, self.num_kv_heads * self.head_dim, bias=bias)
        self.o_proj = proto.o_proj
        self.q_norm = getattr(proto, "q_norm", None)
        self.k_norm = getattr(proto, "k_norm", None)

    def project(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rope: Any):
        """x [B, S, 2H] → q [B, Hq, S, d], k, v [B, Hkv, S, d] (rotary applied)."""
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, s, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.num_kv_heads, self.head_dim).transpose(1, 2)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = rope(q, k, cos, sin)
        return q, k, v

    def scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """q [B, Hq, Sq, d] · k [B, Hkv, Sk, d] → [B, Hq, Sq, Sk], scaled (and soft-capped where the target is)."""
        k = k.repeat_interleave(self.num_heads // self.num_kv_heads, dim=1)
        s = torch.matmul(q, k.transpose(-1, -2)) * self.scaling
        if self.softcap:
            s = torch.tanh(s / self.softcap) * self.softcap
        return s

    def output(self, weights: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """weights [B, Hq, Sq, Sk] · v [B, Hkv, Sk, d] → [B, Sq, H] after o_proj."""
        v = v.repeat_interleave(self.num_heads // self.num_kv_heads, dim=1)
        out = torch.matmul(weights, v)                                       # [B, Hq, Sq, d]
        b, _, s, _ = out.shape
        return self.o_proj(out.transpose(1, 2).reshape(b, s, -1))


class Eagle3Layer(nn.Module):
    """One decoder layer of the target's type over [input_layernorm(e); hidden_norm(g)], residual g.

    Submodule names follow speculators' ``Eagle3DecoderLayer`` (``input_layernorm``, ``hidden_norm``,
    ``self_attn.{q,k,v,o}_proj``, ``post_attention_layernorm``, ``mlp.*``); a Gemma-3 layer also keeps its
    ``pre_/post_feedforward_layernorm`` and q/k norms (vLLM's Llama-type EAGLE-3 layer has no slot for them)."""

    def __init__(self, config: Any, proto: Any, norm_before_residual: bool = False):
        super().__init__()
        hidden = int(config.hidden_size)
        self.norm_before_residual = bool(norm_before_residual)
        self.input_layernorm = proto.input_layernorm
        self.hidden_norm = copy.deepcopy(proto.input_layernorm)
        self.self_attn = Eagle3Attention(proto.self_attn, config, hidden)
        self.post_attention_layernorm = proto.post_attention_layernorm
        self.mlp = proto.mlp
        self.sandwich = hasattr(proto, "pre_feedforward_layernorm")          # Gemma-2/3 norm placement
        if self.sandwich:
            self.pre_feedforward_layernorm = proto.pre_feedforward_layernorm
            self.post_feedforward_layernorm = proto.post_feedforward_layernorm

    def inputs(self, embeds: torch.Tensor, hidden: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(attention input [B, S, 2H], residual [B, S, H])."""
        if self.norm_before_residual:
            hidden = self.hidden_norm(hidden)
            residual = hidden
        else:
            residual = hidden
            hidden = self.hidden_norm(hidden)
        return torch.cat([self.input_layernorm(embeds), hidden], dim=-1), residual

    def finish(self, attn: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """Attention output + residual, then the MLP block: the layer's output [B, S, H]."""
        if self.sandwich:
            h = residual + self.post_attention_layernorm(attn)
            return h + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(h)))
        h = residual + attn
        return h + self.mlp(self.post_attention_layernorm(h))


@dataclass
class HeadCache:
    """The head's own KV cache for one generation: keys/values [1, Hkv, L, d] of positions 0..L−1."""

    keys: Optional[torch.Tensor] = None
    values: Optional[torch.Tensor] = None

    @property
    def length(self) -> int:
        return 0 if self.keys is None else int(self.keys.shape[2])

    def append(self, k: torch.Tensor, v: torch.Tensor) -> None:
        self.keys = k if self.keys is None else torch.cat([self.keys, k], dim=2)
        self.values = v if self.values is None else torch.cat([self.values, v], dim=2)

    def crop(self, length: int) -> None:
        """Keep positions 0..length−1 (drop rejected or unverified draft positions)."""
        if self.keys is not None and length < self.length:
            self.keys, self.values = self.keys[:, :, :length], self.values[:, :, :length]


@dataclass
class StepOutput:
    """What the head computes for a run of positions."""

    logits: torch.Tensor              # [B, S, V_d] over the draft vocabulary
    prenorm: torch.Tensor             # [B, S, H] the layer's output before the final norm (fed back next step)


@dataclass
class HeadSpec:
    """Everything that sizes a head besides the target's layer config."""

    draft_vocab_size: int
    target_vocab_size: int
    aux_layers: Tuple[int, ...]       # target decoder layers whose *outputs* feed fc (0-based; contract convention)
    target_hidden_size: int
    extra: dict = field(default_factory=dict)
    # norm_before_residual (speculators' Eagle3DecoderLayer; vLLM reads it from config.json): the residual is
    # the normalised fused features. On for Gemma-type (sandwich-norm) targets: on zoo:gemma3-270m (same teacher
    # data, 100 steps) off gave draft-position acceptance 0.27, 0.002, 0, 0 and on 0.39, 0.33, 0.19, 0.12 (Gemma's
    # massive activations make the un-normalised residual drown the next token's embedding after step 1);
    # RedHatAI's Gemma speculators set it too. Off for the others (SmolLM2's heads: 0.43, 0.41, 0.40 off).
    norm_before_residual: bool = False


class Eagle3Head(nn.Module):
    """fc + one decoder layer + final norm + draft-vocabulary LM head, with ``d2t``/``t2d`` buffers.

    Built from a target (:meth:`from_target`); the target's embedding module is attached, not owned."""

    def __init__(self, config: Any, proto_layer: Any, norm: nn.Module, rotary: nn.Module, spec: HeadSpec):
        super().__init__()
        hidden = int(config.hidden_size)
        self.config = config
        self.spec = spec
        self.fc = nn.Linear(3 * spec.target_hidden_size, hidden, bias=False)
        self.layers = nn.ModuleList([Eagle3Layer(config, proto_layer, spec.norm_before_residual)])
        self.norm = norm
        self.lm_head = nn.Linear(hidden, spec.draft_vocab_size, bias=False)
        self.register_buffer("d2t", torch.zeros(spec.draft_vocab_size, dtype=torch.long))
        self.register_buffer("t2d", torch.zeros(spec.target_vocab_size, dtype=torch.bool))
        self.rotary = rotary
        self._rope_fn = getattr(sys.modules[type(proto_layer).__module__], "apply_rotary_pos_emb")
        self._rotary_layer_type = "layer_type" in inspect.signature(rotary.forward).parameters
        self.__dict__["embed"] = None                                         # the target's module, not a child

    # --- construction ------------------------------------------------------------------------------------
    @classmethod
    def from_target(cls, target_model: Any, *, draft_vocab_size: int, aux_layers: Sequence[int],
                    seed: int = 0, norm_before_residual: Optional[bool] = None) -> "Eagle3Head":
        """A fresh head for ``target_model``: the layer of its type, initialised N(0, initializer_range) (HF's
        init), norms as the layer class makes them; ``norm`` copied from the target's final norm.
        ``norm_before_residual`` None: on for sandwich-norm (Gemma-type) layers, off for the others."""
        inner = _inner(target_model)
        config = layer_config(target_model)
        text = _text_config(target_model)
        layer_cls = type(inner.layers[0])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            proto = layer_cls(config, layer_idx=0)
            std = float(getattr(config, "initializer_range", 0.02))
            spec = HeadSpec(draft_vocab_size=int(draft_vocab_size),
                            target_vocab_size=int(target_model.get_output_embeddings().weight.shape[0]),
                            aux_layers=tuple(int(i) for i in aux_layers), target_hidden_size=int(text.hidden_size),
                            norm_before_residual=(hasattr(proto, "pre_feedforward_layernorm")
                                                  if norm_before_residual is None else bool(norm_before_residual)))
            head = cls(config, proto, copy.deepcopy(inner.norm), type(inner.rotary_emb)(config=config), spec)
            for module in head.modules():
                if isinstance(module, nn.Linear):
                    nn.init.normal_(module.weight, std=std)
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)
        head.attach_embedding(target_model.get_input_embeddings())
        head.to(device=target_model.get_input_embeddings().weight.device, dtype=next(target_model.parameters()).dtype)
        return head

    def attach_embedding(self, embed: nn.Module) -> None:
        """Use the target's (frozen) input embedding; it stays outside ``parameters()`` and ``state_dict()``."""
        self.__dict__["embed"] = embed

    def set_vocab(self, draft_to_target: torch.Tensor) -> None:
        """Fill ``d2t``/``t2d`` from the sorted target ids [V_d] of the draft vocabulary."""
        ids = draft_to_target.to(torch.long)
        ids = ids.to(self.d2t.device)
        self.d2t.copy_(ids - torch.arange(ids.numel(), dtype=torch.long, device=ids.device))
        self.t2d.zero_()
        self.t2d[ids] = True

    @property
    def draft_ids(self) -> torch.Tensor:
        """Target id of each draft id [V_d] (d + d2t[d])."""
        return torch.arange(self.d2t.numel(), dtype=torch.long, device=self.d2t.device) + self.d2t

    # --- pieces ------------------------------------------------------------------------------------------
    def fuse(self, hidden3: torch.Tensor) -> torch.Tensor:
        """Target features [..., 3, H_t] (low, mid, high) → g [..., H]."""
        return self.fc(hidden3.flatten(-2).to(self.fc.weight.dtype))

    def _rope(self, x: torch.Tensor, positions: torch.Tensor):
        args = (x, positions, "full_attention") if self._rotary_layer_type else (x, positions)
        return self.rotary(*args)

    def logits(self, prenorm: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.norm(prenorm))

    # --- incremental (inference) -------------------------------------------------------------------------
    def step(self, hidden: torch.Tensor, token_ids: torch.Tensor, cache: HeadCache) -> StepOutput:
        """Run positions cache.length .. cache.length + S − 1 of one sequence: ``hidden`` [1, S, H] (fused target
        features or the previous step's prenorm), ``token_ids`` [1, S] (the next token at each position);
        appends their K/V to ``cache``; causal over everything cached."""
        layer = self.layers[0]
        attn = layer.self_attn
        start = cache.length
        s = token_ids.shape[1]
        x, residual = layer.inputs(self.embed(token_ids).to(hidden.dtype), hidden)
        positions = torch.arange(start, start + s, dtype=torch.long, device=x.device)[None]
        cos, sin = self._rope(x, positions)
        q, k, v = attn.project(x, cos, sin, self._rope_fn)
        cache.append(k, v)
        scores = attn.scores(q, cache.keys)                                  # [1, Hq, S, start + S]
        if s > 1:
            mask = torch.ones(s, start + s, dtype=torch.bool, device=scores.device).tril(diagonal=start)
            scores = scores.masked_fill(~mask, float("-inf"))
        out = layer.finish(attn.output(scores.softmax(dim=-1, dtype=torch.float32).to(q.dtype), cache.values),
                           residual)
        return StepOutput(logits=self.logits(out), prenorm=out)

    # --- training-time test ------------------------------------------------------------------------------
    def ttt_forward(self, fused: torch.Tensor, tokens: torch.Tensor, steps: int) -> List[StepOutput]:
        """Steps 1..``steps`` over a batch of right-padded sequences (EAGLE-3 §3.3).

        ``fused`` [B, M, H]: fc of the target's features at positions 0..M−1; ``tokens`` [B, M + steps − 1]:
        tokens[:, i + j − 1] is the token read at (position i, step j) — the sequence's ids shifted by one.
        Returns one :class:`StepOutput` [B, M, ·] per step; row i of step j predicts the token at i + j + 1.
        Right padding needs no mask: position i never attends past i, and the caller masks the loss."""
        layer = self.layers[0]
        attn = layer.self_attn
        b, m, _ = fused.shape
        base = torch.arange(m, dtype=torch.long, device=fused.device)[None].expand(b, m)
        causal = torch.ones(m, m, dtype=torch.bool, device=fused.device).tril()
        hidden = fused
        keys: List[torch.Tensor] = []
        values: List[torch.Tensor] = []
        outs: List[StepOutput] = []
        for j in range(steps):
            x, residual = layer.inputs(self.embed(tokens[:, j: j + m]).to(hidden.dtype), hidden)
            cos, sin = self._rope(x, base + j)
            q, k, v = attn.project(x, cos, sin, self._rope_fn)
            keys.append(k)
            values.append(v)
            main = attn.scores(q, keys[0]).masked_fill(~causal, float("-inf"))          # [B, Hq, M, M]
            rep = attn.num_heads // attn.num_kv_heads
            diag = [(q * kk.repeat_interleave(rep, dim=1)).sum(-1, keepdim=True) * attn.scaling
                    for kk in keys[1:]]                                                  # [B, Hq, M, 1] each
            if attn.softcap:
                diag = [torch.tanh(d / attn.softcap) * attn.softcap for d in diag]
            weights = torch.cat([main] + diag, dim=-1).softmax(dim=-1, dtype=torch.float32).to(q.dtype)
            mixed = torch.matmul(weights[..., :m], values[0].repeat_interleave(rep, dim=1))
            for t, vv in enumerate(values[1:]):
                mixed = mixed + weights[..., m + t: m + t + 1] * vv.repeat_interleave(rep, dim=1)
            out = layer.finish(attn.o_proj(mixed.transpose(1, 2).reshape(b, m, -1)), residual)
            outs.append(StepOutput(logits=self.logits(out), prenorm=out))
            hidden = out
        return outs

    def trainable(self) -> List[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]
