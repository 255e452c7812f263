"""GGUF metadata without loading weights: architecture, shapes, tokenizer facts and exact sizes.

The file is opened with the official reader (``gguf.GGUFReader``, memory-mapped). The stock reader builds one
numpy view per array element, which for a 262,144-entry vocabulary takes seconds; :class:`_HeaderReader`
keeps everything else of the official reader (magic, version, tensor table, alignment, quant block sizes)
and reads array-valued keys in one step: numeric arrays become a single view, string arrays (the vocabulary
and merges) are walked by their length prefixes and kept as a count only. Tensor data is never read.

Exact numbers (GGUF spec, ggml ``GGML_QUANT_SIZES``)::

    n_weights     = Σ_tensors Π shape                       (every tensor counts: weights, norms, biases)
    tensor_bytes  = Σ_tensors n_elements · type_size / block_size
    bits_per_weight = tensor_bytes · 8 / n_weights          (SmolLM2-135M Q4_1: 96,576,768·8 / 134,515,008 = 5.74)
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Optional, Union

from draftfinder.errors import MissingDependencyError, ModelFileError

GGUF_MAGIC = b"GGUF"

# GGUF ``general.architecture`` → Hugging Face (model_type, architectures[0]).
HF_ARCH = {
    "llama": ("llama", "LlamaForCausalLM"),
    "mistral": ("mistral", "MistralForCausalLM"),
    "qwen2": ("qwen2", "Qwen2ForCausalLM"),
    "qwen3": ("qwen3", "Qwen3ForCausalLM"),
    "gemma": ("gemma", "GemmaForCausalLM"),
    "gemma2": ("gemma2", "Gemma2ForCausalLM"),
    "gemma3": ("gemma3_text", "Gemma3ForCausalLM"),
    "gpt2": ("gpt2", "GPT2LMHeadModel"),
    "gptneox": ("gpt_neox", "GPTNeoXForCausalLM"),
    "bloom": ("bloom", "BloomForCausalLM"),
    "phi2": ("phi", "PhiForCausalLM"),
    "phi3": ("phi3", "Phi3ForCausalLM"),
    "falcon": ("falcon", "FalconForCausalLM"),
    "starcoder2": ("starcoder2", "Starcoder2ForCausalLM"),
    "stablelm": ("stablelm", "StableLmForCausalLM"),
    "olmo": ("olmo", "OlmoForCausalLM"),
}


@dataclass
class GGUFMeta:
    """What a GGUF header says about its model. Sizes are exact (counted from the tensor table)."""

    path: str
    file_size_bytes: int
    version: int
    architecture: str                          # general.architecture, e.g. "llama", "gemma3"
    name: Optional[str]                        # general.name
    basename: Optional[str]                    # general.basename, e.g. "smollm2"
    organization: Optional[str]                # general.organization
    size_label: Optional[str]                  # general.size_label, e.g. "135M"
    file_type: Optional[str]                   # general.file_type as a name: Q4_1, Q4_K_M, F16, ...
    block_count: Optional[int]
    embedding_length: Optional[int]
    feed_forward_length: Optional[int]
    head_count: Optional[int]
    head_count_kv: Optional[int]
    context_length: Optional[int]
    key_length: Optional[int]                  # attention head dim when it differs from embedding/heads
    vocab_size: Optional[int]                  # {arch}.vocab_size, else the token count, else embedding rows
    tokenizer_model: Optional[str]             # tokenizer.ggml.model: gpt2 (BPE) | llama (SentencePiece) | ...
    tokenizer_pre: Optional[str]
    token_count: Optional[int]                 # entries in tokenizer.ggml.tokens
    merges_count: Optional[int]
    bos_token_id: Optional[int]
    eos_token_id: Optional[int]
    tensor_count: int
    n_weights: int                             # Σ tensor element counts (exact parameter count)
    tensor_bytes: int                          # Σ tensor sizes on disk
    tied_embeddings: bool                      # no separate output.weight tensor
    elements_by_type: Dict[str, int] = field(default_factory=dict)   # ggml type name -> elements
    fields: Dict[str, Any] = field(default_factory=dict)             # every scalar key/value (arrays as lengths)

    @property
    def bits_per_weight(self) -> float:
        """tensor_bytes · 8 / n_weights."""
        return self.tensor_bytes * 8 / self.n_weights if self.n_weights else 0.0

    def to_dict(self) -> Dict[str, Any]:
        from draftfinder.find.results import to_plain

        out = to_plain(self)
        out["bits_per_weight"] = round(self.bits_per_weight, 6)
        return out


def _reader_class():
    try:
        import gguf
    except ImportError as err:  # pragma: no cover - gguf is a dependency
        raise MissingDependencyError("gguf", "reading .gguf files") from err
    import numpy as np

    class _HeaderReader(gguf.GGUFReader):
        """``gguf.GGUFReader`` with array-valued keys read in one step (see the module docstring)."""

        def _get_field_parts(self, orig_offs, raw_type):
            if raw_type != gguf.GGUFValueType.ARRAY or self.byte_order != "I":
                return super()._get_field_parts(orig_offs, raw_type)
            offs = orig_offs
            raw_itype = self._get(offs, np.uint32)
            offs += 4
            alen = self._get(offs, np.uint64)
            offs += 8
            itype = gguf.GGUFValueType(int(raw_itype[0]))
            count = int(alen[0])
            nptype = self.gguf_scalar_to_np.get(itype)
            if nptype is not None:
                values = self._get(offs, nptype, count)
                offs += int(values.nbytes)
                return offs - orig_offs, [raw_itype, alen, values], [2], [gguf.GGUFValueType.ARRAY, itype]
            if itype == gguf.GGUFValueType.STRING:
                # Walk the u64 length prefixes; keep only the count (contents() of this field is empty).
                buf = memoryview(self.data)
                unpack = struct.Struct("<Q").unpack_from
                for _ in range(count):
                    offs += 8 + unpack(buf, offs)[0]
                return offs - orig_offs, [raw_itype, alen], [], [gguf.GGUFValueType.ARRAY, itype]
            return super()._get_field_parts(orig_offs, raw_type)

    return _HeaderReader, gguf


def _file_type_name(gguf_mod, value: Optional[int]) -> Optional[str]:
    """``general.file_type`` → llama.cpp's name without the ``MOSTLY_`` prefix (Q4_1, Q4_K_M, F16, F32)."""
    if value is None:
        return None
    try:
        name = gguf_mod.LlamaFileType(int(value)).name
    except ValueError:
        return f"type{value}"
    if name == "ALL_F32":
        return "F32"
    return name.removeprefix("MOSTLY_")


def _scalar(field) -> Any:
    """Plain value of a scalar field, or the length of an array field."""
    import gguf

    if field.types and field.types[0] == gguf.GGUFValueType.ARRAY:
        return int(field.parts[4][0])            # parts: key length, key, value type, item type, count, ...
    value = field.contents()
    return value


def read_gguf_meta(path: Union[str, Path]) -> GGUFMeta:
    """Read the header of ``path`` (cached by path, size and mtime). Raises ``ModelFileError``."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as err:
        raise ModelFileError(p, f"{err.strerror or err}", hint="check the path of the .gguf file") from err
    if not p.is_file():
        raise ModelFileError(p, "not a file", hint="pass the path of a .gguf file")
    return _read_cached(str(p.resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=64)
def _read_cached(path: str, size: int, mtime_ns: int) -> GGUFMeta:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != GGUF_MAGIC:
        raise ModelFileError(path, f"not a GGUF file (magic {magic!r}, expected b'GGUF')",
                             hint="pass a .gguf model file (llama.cpp format)")
    reader_cls, gguf_mod = _reader_class()
    try:
        reader = reader_cls(path)
    except Exception as err:  # the reader raises ValueError/KeyError/IndexError on damaged headers
        raise ModelFileError(path, f"damaged GGUF header ({type(err).__name__}: {err})") from err
    try:
        return _meta_from_reader(reader, gguf_mod, path, size)
    except ModelFileError:
        raise
    except Exception as err:
        raise ModelFileError(path, f"unexpected GGUF metadata ({type(err).__name__}: {err})") from err


def _meta_from_reader(reader, gguf_mod, path: str, size: int) -> GGUFMeta:
    fields: Dict[str, Any] = {}
    for key, f in reader.fields.items():
        try:
            fields[key] = _scalar(f)
        except Exception:  # a value we cannot decode (bad UTF-8): keep going, it is not one we need
            fields[key] = None
    arch = fields.get("general.architecture")
    if not arch:
        raise ModelFileError(path, "GGUF header has no general.architecture")

    def arch_int(key: str) -> Optional[int]:
        value = fields.get(f"{arch}.{key}")
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def opt_int(key: str) -> Optional[int]:
        value = fields.get(key)
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    n_weights = 0
    tensor_bytes = 0
    by_type: Counter = Counter()
    names = set()
    embd_rows = None
    for t in reader.tensors:
        n_weights += int(t.n_elements)
        tensor_bytes += int(t.n_bytes)
        by_type[t.tensor_type.name] += int(t.n_elements)
        names.add(t.name)
        if t.name == "token_embd.weight" and len(t.shape) == 2:
            embd_rows = int(t.shape[1])          # GGUF shapes are [ne0, ne1]: columns first
    if tensor_bytes + reader.data_offset > size:
        raise ModelFileError(path, f"truncated: tensors need {tensor_bytes + reader.data_offset:,} bytes, "
                                   f"file has {size:,}", hint="re-download or re-assemble the file")
    token_count = fields.get("tokenizer.ggml.tokens")
    head_count = arch_int("attention.head_count")
    return GGUFMeta(
        path=path,
        file_size_bytes=size,
        version=int(fields.get("GGUF.version", 0)),
        architecture=str(arch),
        name=fields.get("general.name"),
        basename=fields.get("general.basename"),
        organization=fields.get("general.organization"),
        size_label=fields.get("general.size_label"),
        file_type=_file_type_name(gguf_mod, opt_int("general.file_type")) or _dominant_type(by_type),
        block_count=arch_int("block_count"),
        embedding_length=arch_int("embedding_length"),
        feed_forward_length=arch_int("feed_forward_length"),
        head_count=head_count,
        head_count_kv=arch_int("attention.head_count_kv") or head_count,
        context_length=arch_int("context_length"),
        key_length=arch_int("attention.key_length"),
        vocab_size=arch_int("vocab_size") or token_count or embd_rows,
        tokenizer_model=fields.get("tokenizer.ggml.model"),
        tokenizer_pre=fields.get("tokenizer.ggml.pre"),
        token_count=token_count,
        merges_count=fields.get("tokenizer.ggml.merges"),
        bos_token_id=opt_int("tokenizer.ggml.bos_token_id"),
        eos_token_id=opt_int("tokenizer.ggml.eos_token_id"),
        tensor_count=len(reader.tensors),
        n_weights=n_weights,
        tensor_bytes=tensor_bytes,
        tied_embeddings="output.weight" not in names,
        elements_by_type=dict(by_type),
        fields=fields,
    )


def _dominant_type(by_type: Counter) -> Optional[str]:
    """When ``general.file_type`` is absent: the ggml type holding most elements."""
    return by_type.most_common(1)[0][0] if by_type else None


def config_from_gguf(meta: GGUFMeta) -> Dict[str, Any]:
    """An HF-style ``config.json`` dict synthesized from GGUF metadata (for analysis, not for loading).

    Mapping (llama.cpp ``convert_hf_to_gguf.py`` in reverse): block_count → num_hidden_layers,
    embedding_length → hidden_size, feed_forward_length → intermediate_size, attention.head_count(_kv) →
    num_attention_heads / num_key_value_heads, context_length → max_position_embeddings, attention.key_length
    → head_dim (only when it differs from hidden_size / heads), tokens → vocab_size.
    """
    model_type, arch_class = HF_ARCH.get(meta.architecture, (meta.architecture, None))
    config: Dict[str, Any] = {
        "model_type": model_type,
        "architectures": [arch_class] if arch_class else [],
        "num_hidden_layers": meta.block_count,
        "hidden_size": meta.embedding_length,
        "intermediate_size": meta.feed_forward_length,
        "num_attention_heads": meta.head_count,
        "num_key_value_heads": meta.head_count_kv,
        "vocab_size": meta.vocab_size,
        "max_position_embeddings": meta.context_length,
        "tie_word_embeddings": meta.tied_embeddings,
        "bos_token_id": meta.bos_token_id,
        "eos_token_id": meta.eos_token_id,
    }
    if meta.key_length and meta.head_count and meta.embedding_length and \
            meta.key_length * meta.head_count != meta.embedding_length:
        config["head_dim"] = meta.key_length
    if meta.architecture == "qwen2":
        config["attention_bias"] = True              # Qwen2 q/k/v projections always carry biases
    return {k: v for k, v in config.items() if v is not None}
