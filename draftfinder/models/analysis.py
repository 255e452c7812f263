"""Model analysis (manual §11.1 ``ModelAnalyzer``): parameters, memory, quantization, family, PEFT.

Parameters come from the most exact source available, in order:

1. ``safetensors-header``       — the record's counts from local safetensors headers (exact);
   ``hub-safetensors-metadata`` — the Hub's per-dtype counts (exact, except GPT-2-style checkpoints that store
   causal-mask buffers, which are removed, and packed quantized checkpoints, which are skipped);
2. ``gguf-tensors``             — Σ element counts of the GGUF tensor table (exact);
3. ``catalog``                  — the embedded catalog's count (exact: meta-device instantiation);
4. ``config-formula``           — :func:`~draftfinder.models.params.count_from_config` (labelled estimated; exact for
   the supported architectures, verified against transformers in ``tests/test_params.py``).

Memory (weights only, MiB = 2^20 bytes) is exact when the weight bytes are known (GGUF tensor table, local
safetensors headers, Hub file sizes) and otherwise estimated by :func:`~draftfinder.models.params.estimate_weight_bytes`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from draftfinder.models import family as fam
from draftfinder.constants import ESTIMATED, EXACT
from draftfinder.errors import ModelFileError
# The size formulas live in models/params.py.
from draftfinder.models.params import (ParamBreakdown, QuantInfo, count_from_config, detect_quantization, dims_of,
                     dtype_of, estimate_weight_bytes, mask_buffer_elements)
from draftfinder.find.results import ModelInfo, QuantizationType
from draftfinder.models.sources.base import ModelRecord

MIB = 1024 * 1024
_HUB_NAMED = {"hub", "hf-cache", "catalog"}        # sources whose model_id is a Hub id (owner/name)


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
        from draftfinder.models.resolver import resolve

        return cls.analyze_record(resolve(model_id, token=token))

    @classmethod
    def analyze_record(cls, record: ModelRecord) -> ModelInfo:
        where = _config_where(record)
        meta = None
        if record.gguf_path is not None:
            from draftfinder.models.gguf_meta import read_gguf_meta

            meta = read_gguf_meta(record.gguf_path)
        config: Dict[str, Any] = dict(record.config or {})
        if not config and meta is not None:
            from draftfinder.models.gguf_meta import config_from_gguf

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
            head_dim=dims.head_dim,
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
