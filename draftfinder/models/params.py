"""Model sizes from a config alone: parameter counts by role, quantization, and weight bytes.

Pure functions on a ``config.json`` dict (no files, no weights): :func:`dims_of` normalizes the numbers,
:func:`count_from_config` counts parameters by role (:class:`ParamBreakdown`) with each architecture's formula,
:func:`detect_quantization` reads the quantization (:class:`QuantInfo`), :func:`estimate_weight_bytes` turns
both into weight bytes at the stored dtype (:func:`dtype_of`), and :func:`mask_buffer_elements` names the
causal-mask buffers some checkpoints count as parameters. ``models.analysis.ModelAnalyzer`` decides when these
estimates are used and when exact counts from files win.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

from draftfinder.models import family as fam
from draftfinder.errors import ModelFileError
from draftfinder.find.results import QuantizationType
from draftfinder.ranges import (MAX_EXPERTS, MAX_HEADS, MAX_HIDDEN_SIZE, MAX_LAYERS, MAX_PARAMETERS, MAX_VOCAB_SIZE,
                                check_number)

DTYPE_BITS = {"float32": 32, "float": 32, "fp32": 32, "float16": 16, "half": 16, "fp16": 16, "bfloat16": 16,
              "bf16": 16, "float64": 64, "float8_e4m3fn": 8, "float8_e5m2": 8, "int8": 8, "uint8": 8}


# --- architecture numbers ---------------------------------------------------------------------------

def _text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """Multimodal configs (gemma3, llava) keep the language model's numbers in ``text_config``."""
    inner = config.get("text_config")
    if isinstance(inner, Mapping) and inner.get("hidden_size"):
        merged = dict(inner)
        merged.setdefault("model_type", config.get("model_type"))
        return merged
    return config


def _get(config: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for name in names:
        value = config.get(name)
        if value is not None:
            return value
    return default


@dataclass
class Dims:
    """The numbers every formula needs, under one set of names whatever the config spells them."""

    model_type: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: Optional[int]
    max_positions: Optional[int]
    tied: bool


# Model types whose config class defaults ``tie_word_embeddings`` to False (PretrainedConfig's default is True).
_UNTIED_BY_DEFAULT = {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3", "phi",
                      "gpt_neox", "gptj"}
# Model types with their own lm_head formula (bias or untied default handled in count_from_config).
_OWN_LM_HEAD = {"gpt_neox", "gptj", "phi"}


def dims_of(config: Mapping[str, Any], where: str = "config.json") -> Dims:
    """Normalize a config's numbers; raises ``ModelFileError`` naming ``where`` when one is missing."""
    c = _text_config(config)
    model_type = str(c.get("model_type") or "").lower()
    hidden = _get(c, "hidden_size", "n_embd", "d_model")
    layers = _get(c, "num_hidden_layers", "n_layer", "num_layers")
    heads = _get(c, "num_attention_heads", "n_head", "num_heads")
    vocab = _get(c, "vocab_size", "padded_vocab_size")
    missing = [n for n, v in (("hidden_size", hidden), ("num_hidden_layers", layers),
                              ("num_attention_heads", heads), ("vocab_size", vocab)) if v is None]
    if missing:
        raise ModelFileError(where, f"config has no {', '.join(missing)}",
                             hint="the model's config.json is incomplete or not a transformer LM config")
    # A corrupted or hand-edited config (negative, zero, fractional or absurd sizes) is one error naming the
    # key and the file, never a nonsense parameter count further down (issue 9: -1,520,645 parameters).
    hint = "the model's config.json is corrupted or hand-edited: re-download it"

    def size(value: Any, key: str, high: float) -> int:
        return check_number(value, key, kind=int, low=1, high=high, source=str(where), hint=hint)

    hidden = size(hidden, "hidden_size", MAX_HIDDEN_SIZE)
    layers = size(layers, "num_hidden_layers", MAX_LAYERS)
    heads = size(heads, "num_attention_heads", MAX_HEADS)
    vocab = size(vocab, "vocab_size", MAX_VOCAB_SIZE)
    kv = size(_get(c, "num_key_value_heads", "num_kv_heads", default=heads) or heads, "num_key_value_heads", heads)
    if model_type == "falcon" and c.get("multi_query", True) and not c.get("new_decoder_architecture"):
        kv = 1
    head_dim = _get(c, "head_dim", default=None)
    head_dim = size(head_dim, "head_dim", MAX_HIDDEN_SIZE) if head_dim else max(1, hidden // heads)
    inter = _get(c, "intermediate_size", "ffn_dim", "n_inner", "ffn_hidden_size")
    if inter is None and model_type in ("gpt2", "gpt_neo", "gptj", "bloom", "falcon"):
        inter = 4 * hidden
    if inter is not None:
        inter = size(inter, "intermediate_size", 64 * MAX_HIDDEN_SIZE)
    positions = _get(c, "max_position_embeddings", "n_positions", "n_ctx", "seq_length")
    if positions is not None:
        positions = size(positions, "max_position_embeddings", 1 << 30)
    tied = c.get("tie_word_embeddings", config.get("tie_word_embeddings"))
    if tied is None:
        tied = model_type not in _UNTIED_BY_DEFAULT
    return Dims(model_type=model_type, vocab_size=vocab, hidden_size=hidden, num_layers=layers, num_heads=heads,
                num_kv_heads=kv, head_dim=head_dim, intermediate_size=inter, max_positions=positions,
                tied=bool(tied))


# --- parameter formula -----------------------------------------------------------------------------

@dataclass
class ParamBreakdown:
    """Parameters by role. ``linear`` (attention + MLP matrices of the blocks) is what GPTQ/AWQ/bnb quantize;
    embeddings, lm_head, norms and biases stay in 16-bit."""

    embedding: int = 0          # token (+ position, + projection) embeddings
    lm_head: int = 0            # untied output matrix (+ its bias)
    linear: int = 0             # weight matrices inside the blocks
    other: int = 0              # norms and biases
    method: str = ""            # which formula

    @property
    def total(self) -> int:
        return self.embedding + self.lm_head + self.linear + self.other


def count_from_config(config: Mapping[str, Any], where: str = "config.json") -> ParamBreakdown:
    """Parameter count of a decoder-only transformer from its config (no weights).

    Notation: V vocab, H hidden, L layers, n_h / n_kv query / key-value heads, d head dim, I intermediate,
    P positions. Per architecture (as implemented in transformers' modeling files):

    * Llama-style (llama, mistral, qwen2/3, gemma 1-3, phi3, …)::

        V·H  +  [V·H if untied]  +  L·( H·n_h·d + 2·H·n_kv·d + n_h·d·H      attention (GQA)
                                      + 3·H·I                             gated MLP (gate, up, down)
                                      + norms )  +  H                     final RMSNorm
        biases: qwen2 q/k/v (n_h·d + 2·n_kv·d); attention_bias → q/k/v/o; mlp_bias → 2·I + H
        norms per layer: 2·H; gemma2 4·H; gemma3 4·H + 2·d (q/k norm); qwen3 2·H + 2·d
        MoE (num_local_experts / num_experts E): MLP ×E + router H·E

    * GPT-2: V·H + P·H + L·(4·H + 3H²+3H + H²+H + 2·H·I + I + H) + 2·H (I = n_inner or 4H), tied.
    * OPT: V·e + (P+2)·H [+ 2·H·e projections if e ≠ H] + L·(4H²+4H + 2·H·F + F + H + 4H) + [2H final LN].
    * GPT-NeoX (Pythia): 2·V·H (untied) + L·(4H + 3H²+3H + H²+H + 2·H·I + I + H) + 2H.
    * BLOOM: V·H + 2H + L·(4H + 3H²+3H + H²+H + 8H²+4H+H) + 2H, tied.
    * GPT-Neo: V·H + P·H + L·(4H + 3H² + H²+H + 2·H·I + I + H) + 2H, tied.
    * GPT-J: 2·V·H + V + L·(2H + 4H² + 2·H·I + I + H) + 2H.
    * Phi (1, 1.5, 2): V·H + (V·H + V) + L·(2H + 4H²+4H + 2·H·I + I + H) + 2H.
    """
    d = dims_of(config, where)
    c = _text_config(config)
    V, H, L, I = d.vocab_size, d.hidden_size, d.num_layers, d.intermediate_size or 4 * d.hidden_size
    P = int(d.max_positions or 0)
    mt = d.model_type
    out = ParamBreakdown(method=mt or "llama-style")
    if mt == "gpt2":
        out.embedding = V * H + P * H
        out.linear = L * (3 * H * H + H * H + 2 * H * I)
        out.other = L * (4 * H + 3 * H + H + I + H) + 2 * H
    elif mt == "opt":
        e = int(c.get("word_embed_proj_dim") or H)
        F = int(c.get("ffn_dim") or 4 * H)
        out.embedding = V * e + (P + 2) * H + (2 * H * e if e != H else 0)
        bias = 1 if c.get("enable_bias", True) else 0
        out.linear = L * (4 * H * H + 2 * H * F)
        out.other = L * (bias * (4 * H + F + H) + 4 * H)
        if c.get("do_layer_norm_before", True) and not c.get("_remove_final_layer_norm", False):
            out.other += 2 * H
    elif mt == "gpt_neox":
        out.embedding = V * H
        out.lm_head = 0 if d.tied else V * H
        bias = 1 if c.get("attention_bias", True) else 0
        out.linear = L * (4 * H * H + 2 * H * I)
        out.other = L * (4 * H + bias * (3 * H + H) + I + H) + 2 * H
    elif mt == "bloom":
        out.embedding = V * H + 2 * H
        out.linear = L * (4 * H * H + 8 * H * H)
        out.other = L * (4 * H + 3 * H + H + 4 * H + H) + 2 * H
    elif mt == "gpt_neo":
        out.embedding = V * H + P * H
        out.linear = L * (4 * H * H + 2 * H * I)
        out.other = L * (4 * H + H + I + H) + 2 * H
    elif mt == "gptj":
        out.embedding = V * H
        out.lm_head = 0 if d.tied else V * H + V
        out.linear = L * (4 * H * H + 2 * H * I)
        out.other = L * (2 * H + I + H) + 2 * H
    elif mt == "phi":
        out.embedding = V * H
        out.lm_head = 0 if d.tied else V * H + V
        out.linear = L * (4 * H * H + 2 * H * I)
        out.other = L * (2 * H + 4 * H + I + H) + 2 * H
    else:
        _llama_style(out, d, c)
        return _checked_total(out, where)
    if mt not in _OWN_LM_HEAD and not d.tied:
        out.lm_head = V * H
    return _checked_total(out, where)


def _checked_total(out: ParamBreakdown, where: str) -> ParamBreakdown:
    """Sizes each within range can still multiply to an impossible model: refuse above ``MAX_PARAMETERS``."""
    check_number(out.total, "parameters computed from its sizes", kind=int, low=1, high=MAX_PARAMETERS,
                 source=str(where), hint="the model's config.json is corrupted or hand-edited: re-download it")
    return out


def _llama_style(out: ParamBreakdown, d: Dims, c: Mapping[str, Any]) -> None:
    V, H, L, I = d.vocab_size, d.hidden_size, d.num_layers, d.intermediate_size or 4 * d.hidden_size
    q, kv = d.num_heads * d.head_dim, d.num_kv_heads * d.head_dim
    mt = d.model_type
    attn = H * q + 2 * H * kv + q * H
    experts = _get(c, "num_local_experts", "num_experts", default=0) or 0
    experts = check_number(experts, "num_experts", kind=int, low=0, high=MAX_EXPERTS, source="config.json")
    if experts:
        I_moe = check_number(c.get("moe_intermediate_size") or I, "moe_intermediate_size", kind=int, low=1,
                             high=64 * MAX_HIDDEN_SIZE, source="config.json")
        mlp = experts * 3 * H * I_moe + H * experts
        shared = int(c.get("shared_expert_intermediate_size") or 0)
        if shared:
            mlp += 3 * H * shared + H            # shared expert + its gate
    else:
        mlp = 3 * H * I
    bias = 0
    if mt == "qwen2" or (mt in ("qwen2_moe",) and c.get("qkv_bias", True)):
        bias += q + 2 * kv
    elif c.get("attention_bias"):
        bias += q + 2 * kv + H
    if c.get("mlp_bias"):
        bias += 2 * I + H
    norms = {"gemma2": 4 * H, "gemma3": 4 * H + 2 * d.head_dim, "gemma3_text": 4 * H + 2 * d.head_dim,
             "qwen3": 2 * H + 2 * d.head_dim, "qwen3_moe": 2 * H + 2 * d.head_dim}.get(mt, 2 * H)
    out.embedding = V * H
    out.lm_head = 0 if d.tied else V * H
    out.linear = L * (attn + mlp)
    out.other = L * (bias + norms) + H
    out.method = f"{mt or 'llama'} (llama-style)"


def mask_buffer_elements(config: Mapping[str, Any]) -> Tuple[int, ...]:
    """Element counts that GPT-2-style checkpoints add as causal-mask buffers (``attn.bias`` L·P², plus
    ``attn.masked_bias`` L scalars): the Hub's safetensors metadata counts them as parameters."""
    c = _text_config(config)
    if str(c.get("model_type")) not in ("gpt2", "gpt_neo", "gptj", "gpt_neox"):
        return ()
    L = int(_get(c, "n_layer", "num_hidden_layers", "num_layers", default=0) or 0)
    P = int(_get(c, "n_positions", "max_position_embeddings", default=0) or 0)
    return (L * P * P, L * P * P + L, L)


# --- quantization and memory -----------------------------------------------------------------------

@dataclass
class QuantInfo:
    type: QuantizationType
    bits: Optional[float] = None      # bits of a quantized weight
    group_size: Optional[int] = None
    method: str = "none"              # quant_method as written (gptq, awq, bitsandbytes, gguf:Q4_K_M, ...)
    double_quant: bool = False


# Name markers, used only when the config has no quantization_config (e.g. catalog or partial Hub data).
_NAME_QUANT = [
    (re.compile(r"gptq", re.I), QuantizationType.GPTQ, 4),
    (re.compile(r"awq", re.I), QuantizationType.AWQ, 4),
    (re.compile(r"gguf|ggml", re.I), QuantizationType.GGUF, None),
    (re.compile(r"bnb[-_]?4bit", re.I), QuantizationType.BNB_4BIT, 4),
    (re.compile(r"bnb[-_]?8bit", re.I), QuantizationType.BNB_8BIT, 8),
    (re.compile(r"(^|[-_.])(4bit|int4|w4a16)($|[-_.])", re.I), QuantizationType.INT4, 4),
    (re.compile(r"(^|[-_.])(8bit|int8|w8a8|fp8)($|[-_.])", re.I), QuantizationType.INT8, 8),
]


def detect_quantization(config: Mapping[str, Any], model_id: str = "", gguf_file_type: Optional[str] = None
                        ) -> QuantInfo:
    """Quantization from ``quantization_config`` (authoritative), else the GGUF file, else the name."""
    if gguf_file_type is not None:
        return QuantInfo(QuantizationType.GGUF, method=f"gguf:{gguf_file_type}")
    qc = config.get("quantization_config") or _text_config(config).get("quantization_config")
    if isinstance(qc, Mapping):
        method = str(qc.get("quant_method") or "").lower()
        bits = qc.get("bits") or qc.get("w_bit") or qc.get("nbits") or qc.get("weight_bits")
        group = qc.get("group_size") or qc.get("q_group_size")
        if method == "gptq":
            return QuantInfo(QuantizationType.GPTQ, float(bits or 4), int(group or 128), method)
        if method == "awq":
            return QuantInfo(QuantizationType.AWQ, float(bits or 4), int(group or 128), method)
        if method == "bitsandbytes" or "load_in_4bit" in qc or "load_in_8bit" in qc:
            if qc.get("load_in_4bit"):
                return QuantInfo(QuantizationType.BNB_4BIT, 4.0, 64, "bitsandbytes",
                                 bool(qc.get("bnb_4bit_use_double_quant")))
            return QuantInfo(QuantizationType.BNB_8BIT, 8.0, None, "bitsandbytes")
        if method == "compressed-tensors":
            bits = _compressed_tensors_bits(qc)
        if bits is None and method in ("fp8", "fbgemm_fp8", "eetq", "quanto"):
            bits = 8 if qc.get("weights") in (None, "int8", "float8") else 4
        if bits is not None:
            b = float(bits)
            return QuantInfo(QuantizationType.INT4 if b <= 4 else QuantizationType.INT8, b,
                             int(group) if group else None, method or "unknown")
    for pattern, qtype, bits in _NAME_QUANT:
        if model_id and pattern.search(fam._short_name(model_id)):
            return QuantInfo(qtype, float(bits) if bits else None, 128 if qtype in (
                QuantizationType.GPTQ, QuantizationType.AWQ) else None, "name")
    return QuantInfo(QuantizationType.NONE)


def _compressed_tensors_bits(qc: Mapping[str, Any]) -> Optional[int]:
    for group in (qc.get("config_groups") or {}).values():
        weights = (group or {}).get("weights") or {}
        if weights.get("num_bits"):
            return int(weights["num_bits"])
    return None


def dtype_of(config: Mapping[str, Any]) -> Optional[str]:
    """The stored dtype the config declares (``dtype`` in transformers ≥ 4.56, ``torch_dtype`` before)."""
    c = _text_config(config)
    value = _get(c, "dtype", "torch_dtype") or _get(config, "dtype", "torch_dtype")
    return str(value).replace("torch.", "") if value else None


def estimate_weight_bytes(parts: ParamBreakdown, quant: QuantInfo, dtype: Optional[str]) -> float:
    """Weight bytes at the stored dtype/quantization (estimate; used when file sizes are unknown).

    * unquantized: N · bits(dtype)/8, dtype float32 when the config declares none (transformers' default);
    * GPTQ / AWQ: linear · (b + (16 + b)/g)/8 + rest · 2 — b-bit weights, one fp16 scale and one b-bit zero
      point per group of g inputs (g = -1: one group per input row ≈ H; GPTQ's int32 ``g_idx`` omitted);
    * bitsandbytes 4-bit: linear · (4 + 32/64)/8 + rest · 2 (fp32 absmax per 64-block; double quant:
      8/64 + 32/(64·256) bits instead of 32/64); 8-bit: linear · 1 + rest · 2 (per-row scales omitted);
    * other int4/int8: linear · bits/8 + rest · 2.
    """
    rest = parts.total - parts.linear
    if quant.type == QuantizationType.NONE or quant.bits is None:
        return parts.total * DTYPE_BITS.get((dtype or "float32").lower(), 16) / 8
    b = float(quant.bits)
    if quant.type in (QuantizationType.GPTQ, QuantizationType.AWQ):
        g = quant.group_size if quant.group_size and quant.group_size > 0 else 4096
        return parts.linear * (b + (16 + b) / g) / 8 + rest * 2
    if quant.type == QuantizationType.BNB_4BIT:
        absmax_bits = (8 / 64 + 32 / (64 * 256)) if quant.double_quant else 32 / 64
        return parts.linear * (4 + absmax_bits) / 8 + rest * 2
    return parts.linear * b / 8 + rest * 2

