"""Model analysis (manual §11.1 ``ModelAnalyzer``): parameters, memory, quantization, family, PEFT.

Parameters come from the most exact source available, in order:

1. ``safetensors-header``       — the record's counts from local safetensors headers (exact);
   ``hub-safetensors-metadata`` — the Hub's per-dtype counts (exact, except GPT-2-style checkpoints that store
   causal-mask buffers, which are removed, and packed quantized checkpoints, which are skipped);
2. ``gguf-tensors``             — Σ element counts of the GGUF tensor table (exact);
3. ``catalog``                  — the embedded catalog's count (exact: meta-device instantiation);
4. ``config-formula``           — :func:`count_from_config` (labelled estimated; exact for the supported
   architectures, verified against transformers in ``tests/test_modelinfo.py``).

Memory (weights only, MiB = 2^20 bytes) is exact when the weight bytes are known (GGUF tensor table, local
safetensors headers, Hub file sizes) and otherwise estimated by :func:`estimate_weight_bytes`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from . import family as fam
from .constants import ESTIMATED, EXACT
from .errors import ModelFileError
from .schema import ModelInfo, QuantizationType
from .sources.base import ModelRecord

MIB = 1024 * 1024
_HUB_NAMED = {"hub", "hf-cache", "catalog"}        # sources whose model_id is a Hub id (owner/name)

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
    try:
        hidden, layers, heads, vocab = int(hidden), int(layers), int(heads), int(vocab)
    except (TypeError, ValueError) as err:
        raise ModelFileError(where, f"config numbers are not integers ({err})") from err
    kv = int(_get(c, "num_key_value_heads", "num_kv_heads", default=heads) or heads)
    if model_type == "falcon" and c.get("multi_query", True) and not c.get("new_decoder_architecture"):
        kv = 1
    head_dim = int(_get(c, "head_dim", default=0) or (hidden // heads if heads else 0))
    inter = _get(c, "intermediate_size", "ffn_dim", "n_inner", "ffn_hidden_size")
    if inter is None and model_type in ("gpt2", "gpt_neo", "gptj", "bloom", "falcon"):
        inter = 4 * hidden
    tied = c.get("tie_word_embeddings", config.get("tie_word_embeddings"))
    if tied is None:
        tied = model_type not in _UNTIED_BY_DEFAULT
    return Dims(model_type=model_type, vocab_size=vocab, hidden_size=hidden, num_layers=layers, num_heads=heads,
                num_kv_heads=kv, head_dim=head_dim, intermediate_size=int(inter) if inter else None,
                max_positions=_get(c, "max_position_embeddings", "n_positions", "n_ctx", "seq_length"),
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
        return out
    if mt not in _OWN_LM_HEAD and not d.tied:
        out.lm_head = V * H
    return out


def _llama_style(out: ParamBreakdown, d: Dims, c: Mapping[str, Any]) -> None:
    V, H, L, I = d.vocab_size, d.hidden_size, d.num_layers, d.intermediate_size or 4 * d.hidden_size
    q, kv = d.num_heads * d.head_dim, d.num_kv_heads * d.head_dim
    mt = d.model_type
    attn = H * q + 2 * H * kv + q * H
    experts = int(_get(c, "num_local_experts", "num_experts", default=0) or 0)
    if experts:
        I_moe = int(c.get("moe_intermediate_size") or I)
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


# --- tokenizer size --------------------------------------------------------------------------------

def tokenizer_vocab_size(folder: Optional[Path]) -> Optional[int]:
    """Entries in a folder's tokenizer (base vocabulary ∪ added tokens), from the files, without loading it.

    tokenizer.json: ids of ``model.vocab`` ∪ ``added_tokens``; vocab.json: its ids ∪ ``added_tokens_decoder``
    of tokenizer_config.json; tokenizer.model: pieces of the SentencePiece protobuf (field 1) ∪ added ids.
    """
    if folder is None:
        return None
    folder = Path(folder)
    added: set = set()
    try:
        tc_path = folder / "tokenizer_config.json"
        if tc_path.is_file():
            decoder = json.loads(tc_path.read_text(encoding="utf-8")).get("added_tokens_decoder") or {}
            added = {int(k) for k in decoder}
        tj = folder / "tokenizer.json"
        if tj.is_file():
            data = json.loads(tj.read_text(encoding="utf-8"))
            vocab = (data.get("model") or {}).get("vocab") or {}
            ids = set(vocab.values()) if isinstance(vocab, dict) else set(range(len(vocab)))
            ids |= {int(t["id"]) for t in data.get("added_tokens") or []}
            return len(ids | added)
        vj = folder / "vocab.json"
        if vj.is_file():
            return len(set(json.loads(vj.read_text(encoding="utf-8")).values()) | added)
        sp = folder / "tokenizer.model"
        if sp.is_file():
            pieces = _sentencepiece_pieces(sp.read_bytes())
            return len(set(range(pieces)) | added) if pieces else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return None


def _sentencepiece_pieces(data: bytes) -> int:
    """Count ``ModelProto.pieces`` (field 1, length-delimited) in a SentencePiece model by walking protobuf."""
    i, n, count = 0, len(data), 0

    def varint(pos: int) -> Tuple[int, int]:
        value = shift = 0
        while True:
            byte = data[pos]
            value |= (byte & 0x7F) << shift
            pos += 1
            if not byte & 0x80:
                return value, pos
            shift += 7

    while i < n:
        key, i = varint(i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, i = varint(i)
        elif wire == 1:
            i += 8
        elif wire == 2:
            length, i = varint(i)
            i += length
            count += field == 1
        elif wire == 5:
            i += 4
        else:
            raise ValueError("not a SentencePiece model")
    return count


# --- the analyzer ----------------------------------------------------------------------------------

def _tag_value(tags, prefix: str) -> Optional[str]:
    for tag in tags or []:
        if str(tag).startswith(prefix):
            return str(tag)[len(prefix):]
    return None


def _config_where(record: ModelRecord) -> str:
    if record.gguf_path is not None:
        return str(record.gguf_path)
    if record.local_dir is not None:
        return str(Path(record.local_dir) / "config.json")
    return f"{record.model_id}/config.json"


class ModelAnalyzer:
    """Turns a :class:`ModelRecord` into a :class:`ModelInfo` (no weights are loaded)."""

    @classmethod
    def analyze_model(cls, model_id: str, token: Optional[str] = None) -> ModelInfo:
        """Resolve ``model_id`` (zoo name, path, Hub id, HF cache, catalog) and analyze it (manual §11.1)."""
        from .resolver import resolve

        return cls.analyze_record(resolve(model_id, token=token))

    @classmethod
    def analyze_record(cls, record: ModelRecord) -> ModelInfo:
        where = _config_where(record)
        meta = None
        if record.gguf_path is not None:
            from .gguf_meta import read_gguf_meta

            meta = read_gguf_meta(record.gguf_path)
        config: Dict[str, Any] = dict(record.config or {})
        if not config and meta is not None:
            from .gguf_meta import config_from_gguf

            config = config_from_gguf(meta)
        adapter = record.adapter_config
        if adapter is None and record.gguf_path is None and record.local_dir is not None \
                and (Path(record.local_dir) / "adapter_config.json").is_file():
            adapter = _read_json(Path(record.local_dir) / "adapter_config.json")
        is_peft = adapter is not None or "adapter_config.json" in (record.files or []) or "peft" in (record.tags or [])
        if not config:
            if is_peft:
                return cls._adapter_only(record, adapter or {})
            raise ModelFileError(where, "no config.json (or it is empty)",
                                 hint="point at a folder with the model's config.json, or a .gguf file")

        dims = dims_of(config, where)
        parts = count_from_config(config, where)
        quant = detect_quantization(config, record.model_id, meta.file_type if meta else None)
        num_params, params_source, exact = cls._parameters(record, config, meta, parts, quant)

        dtype = meta.file_type if meta else dtype_of(config)
        if meta is not None:
            weight_bytes, memory_source = float(meta.tensor_bytes), EXACT
        elif record.weights_bytes:
            weight_bytes, memory_source = float(record.weights_bytes), EXACT
        elif record.catalog and record.catalog.get("weights_bytes"):
            weight_bytes, memory_source = float(record.catalog["weights_bytes"]), EXACT
        else:
            scale = num_params / parts.total if parts.total else 1.0
            weight_bytes = estimate_weight_bytes(parts, quant, dtype) * scale
            memory_source = ESTIMATED

        names = tuple(n for n in (
            meta.basename if meta else None, meta.name if meta else None,
            str(config.get("_name_or_path") or "") or None,
            Path(record.local_dir).name.replace("__", "/") if record.local_dir else None,
            Path(record.gguf_path).stem if record.gguf_path else None,
        ) if n)
        family = fam.detect_family(config, record.model_id, gguf_arch=meta.architecture if meta else None,
                                   names=names)

        base = None
        if is_peft:
            base = (adapter or {}).get("base_model_name_or_path") or _tag_value(record.tags, "base_model:adapter:")
        base = base or _tag_value(record.tags, "base_model:quantized:")
        if meta is not None and not base:
            base = _gguf_base_model(meta)
        quantized = quant.type != QuantizationType.NONE
        if not base and (quantized or fam.base_model_of(record.model_id)):
            base = fam.base_model_of(record.model_id)

        tok_size = meta.token_count if meta else None
        if tok_size is None:
            tok_size = tokenizer_vocab_size(record.local_dir)
        if tok_size is None and record.catalog:
            tok_size = record.catalog.get("tokenizer_vocab_size")

        archs = config.get("architectures") or []
        return ModelInfo(
            model_id=record.model_id,
            architecture=str(archs[0]) if archs else (dims.model_type or "unknown"),
            num_parameters=int(num_params),
            num_layers=dims.num_layers,
            hidden_size=dims.hidden_size,
            intermediate_size=dims.intermediate_size,
            num_attention_heads=dims.num_heads,
            vocab_size=dims.vocab_size,
            quantization=quant.type,
            bits_per_param=round(weight_bytes * 8 / num_params, 4) if num_params else 0.0,
            memory_footprint_mb=round(weight_bytes / MIB, 2),
            is_peft=is_peft,
            model_family=family,
            is_official=fam.is_official(record.model_id, family),
            is_quantized_variant=quantized or bool(fam.base_model_of(record.model_id)),
            base_model_id=base,
            source=record.source,
            parameters_source=params_source,
            parameters_exact=exact,
            memory_source=memory_source,
            tokenizer_vocab_size=tok_size,
            num_key_value_heads=dims.num_kv_heads,
            max_position_embeddings=int(dims.max_positions) if dims.max_positions else None,
            dtype=dtype,
            tie_word_embeddings=dims.tied,
            path=str(record.gguf_path or record.local_dir) if (record.gguf_path or record.local_dir) else None,
            gguf_file=Path(record.gguf_path).name if record.gguf_path else None,
            author=record.author or (fam.org_of(record.model_id) if record.source in _HUB_NAMED else None),
            gated=record.gated,
            downloads=record.downloads,
        )

    @staticmethod
    def _parameters(record: ModelRecord, config: Mapping[str, Any], meta, parts: ParamBreakdown,
                    quant: QuantInfo) -> Tuple[int, str, bool]:
        """(count, source, exact) by the precedence of the module docstring."""
        counts = record.safetensors_parameters
        if counts:
            total = sum(int(v) for v in counts.values())
            source = record.safetensors_source or "safetensors-header"
            packed = quant.type in (QuantizationType.GPTQ, QuantizationType.AWQ, QuantizationType.BNB_4BIT)
            if source == "safetensors-header" or not packed:
                if source != "safetensors-header":
                    for extra in mask_buffer_elements(config):
                        if total - extra == parts.total:
                            return parts.total, f"{source} (causal-mask buffers removed)", True
                return total, source, True
        if meta is not None:
            return meta.n_weights, "gguf-tensors", True
        entry = record.catalog or {}
        for key in ("num_parameters", "parameters"):
            if isinstance(entry.get(key), int) and entry[key] > 0:
                return int(entry[key]), "catalog", True
        return parts.total, "config-formula", False

    @staticmethod
    def _adapter_only(record: ModelRecord, adapter: Mapping[str, Any]) -> ModelInfo:
        """A PEFT adapter repo without its base model's config: adapter facts only (not usable as a draft
        by itself; ``base_model_id`` says which model to analyze instead)."""
        base = adapter.get("base_model_name_or_path") or _tag_value(record.tags, "base_model:adapter:")
        n = sum(int(v) for v in (record.safetensors_parameters or {}).values())
        return ModelInfo(
            model_id=record.model_id, architecture=f"peft:{adapter.get('peft_type', 'adapter')}",
            num_parameters=n, num_layers=0, hidden_size=0, intermediate_size=None, num_attention_heads=0,
            vocab_size=0, quantization=QuantizationType.NONE, bits_per_param=0.0,
            memory_footprint_mb=round((record.weights_bytes or 0) / MIB, 2), is_peft=True,
            model_family=fam.family_from_name(base) if base else None, base_model_id=base,
            source=record.source, parameters_source="adapter-safetensors" if n else "unknown",
            parameters_exact=bool(n), path=str(record.local_dir) if record.local_dir else None,
            author=record.author or (fam.org_of(record.model_id) if record.source in _HUB_NAMED else None),
            gated=record.gated, downloads=record.downloads,
        )


def _gguf_base_model(meta) -> Optional[str]:
    """``general.base_model.0.repo_url`` (https://huggingface.co/ORG/NAME) → ``ORG/NAME``."""
    url = meta.fields.get("general.base_model.0.repo_url")
    if isinstance(url, str) and "huggingface.co/" in url:
        return url.split("huggingface.co/", 1)[1].strip("/") or None
    org, name = meta.fields.get("general.base_model.0.organization"), meta.fields.get("general.base_model.0.name")
    if isinstance(org, str) and isinstance(name, str):
        return f"{org}/{name}"
    return None


def _read_json(path: Path) -> Dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelFileError(path, f"invalid JSON ({err})") from err
    if not isinstance(data, dict):
        raise ModelFileError(path, "expected a JSON object")
    return data
