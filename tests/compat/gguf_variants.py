"""Variants of a real GGUF file, made with the ``gguf`` library: the crafted drafts of the engine matrix.

:func:`write_variant` copies a GGUF file (every metadata key, every tensor byte for byte) and changes only what
it is told: metadata values (``tokenizer.ggml.eos_token_id``, ``tokenizer.ggml.add_bos_token``,
``tokenizer.ggml.model`` …), the text of single tokens, or ``extra_tokens`` appended to the vocabulary. Extra
tokens get a row each in ``token_embd.weight`` (a copy of row 0's quantized bytes) and in ``output.weight`` when
the file has one, and ``<arch>.vocab_size`` follows, so the variant is a model llama.cpp loads — a fine-tune
with added tokens, not a broken file. The weights are the original's, so a variant drafts exactly as well as
the original where llama.cpp lets it draft at all.

This is the method of gguf-py's own ``gguf/scripts/gguf_new_metadata.py`` (``copy_with_new_metadata``), with
the tensor rows added.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

TOKENS = "tokenizer.ggml.tokens"
TOKEN_TYPE = "tokenizer.ggml.token_type"
SCORES = "tokenizer.ggml.scores"
USER_DEFINED = 4              # gguf.TokenType.USER_DEFINED: what convert_hf_to_gguf.py gives added tokens
VOCAB_ROWS = ("token_embd.weight", "output.weight")   # tensors with one row per token


@dataclass(frozen=True)
class Variant:
    """One crafted draft: what changes relative to the original file."""

    name: str
    description: str
    metadata: Dict[str, Tuple[str, Any]] = field(default_factory=dict)   # key -> (GGUFValueType name, value);
                                                                        # value None removes the key
    token_text: Dict[int, str] = field(default_factory=dict)            # id -> new text
    extra_tokens: int = 0


@functools.lru_cache(maxsize=2)
def _reader(src: str, mtime_ns: int) -> Any:
    """The parsed source file, once per process: parsing the metadata arrays (49,152 tokens, 48,900 merges) is
    ~8 s of the ~9 s a variant takes; the tensors are a memory map."""
    import gguf

    return gguf.GGUFReader(src)


def write_variant(src: Path, dst: Path, variant: Variant) -> Path:
    """Write ``variant`` of the GGUF file ``src`` to ``dst`` (see the module docstring); returns ``dst``."""
    import numpy as np
    import gguf

    reader = _reader(str(src), src.stat().st_mtime_ns)
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(str(dst), arch=arch, endianess=reader.endianess)
    pending = dict(variant.metadata)
    vocab_key = f"{arch}.vocab_size"
    n_old = len(reader.fields[TOKENS].contents())
    n_new = n_old + variant.extra_tokens
    for fld in reader.fields.values():
        if fld.name == gguf.Keys.General.ARCHITECTURE or fld.name.startswith("GGUF."):
            continue                                  # written by GGUFWriter itself
        val_type = fld.types[0]
        sub_type = fld.types[-1] if val_type == gguf.GGUFValueType.ARRAY else None
        value = fld.contents()
        if fld.name in pending:
            type_name, value = pending.pop(fld.name)
            if value is None:                       # (type, None): the key is removed
                continue
            val_type, sub_type = gguf.GGUFValueType[type_name], None
        elif fld.name == TOKENS:
            value = list(value)
            for token_id, text in variant.token_text.items():
                value[token_id] = text
            value += [f"<extra_token_{i}>" for i in range(variant.extra_tokens)]
        elif fld.name == TOKEN_TYPE:
            value = list(value) + [USER_DEFINED] * variant.extra_tokens
        elif fld.name == SCORES:
            value = list(value) + [0.0] * variant.extra_tokens
        elif fld.name == vocab_key:
            value = n_new
        writer.add_key_value(fld.name, value, val_type, sub_type=sub_type)
    for key, (type_name, value) in pending.items():         # keys the original does not have
        if value is not None:
            writer.add_key_value(key, value, gguf.GGUFValueType[type_name])

    tensors = []
    for t in reader.tensors:
        data = t.data
        if variant.extra_tokens and t.name in VOCAB_ROWS:
            if data.shape[0] != n_old:
                raise ValueError(f"{t.name} has {data.shape[0]} rows, the vocabulary {n_old} tokens")
            data = np.concatenate([data, np.repeat(data[:1], variant.extra_tokens, axis=0)])
        tensors.append((t, data))
        writer.add_tensor_info(t.name, data.shape, data.dtype, data.nbytes, t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _, data in tensors:
        writer.write_tensor_data(data, tensor_endianess=reader.endianess)
    writer.close()
    return dst


def read_vocab(path: Path) -> Dict[str, Optional[Any]]:
    """The vocabulary keys of a GGUF file as written (for tests of the writer itself)."""
    import gguf

    reader = gguf.GGUFReader(str(path))       # not _reader: this is the file as written, read afresh

    def get(key: str) -> Any:
        fld = reader.fields.get(key)
        return fld.contents() if fld is not None else None

    return {"model": get("tokenizer.ggml.model"), "tokens": get(TOKENS), "bos": get("tokenizer.ggml.bos_token_id"),
            "eos": get("tokenizer.ggml.eos_token_id"), "add_bos": get("tokenizer.ggml.add_bos_token"),
            "add_eos": get("tokenizer.ggml.add_eos_token"),
            "rows": {t.name: int(t.data.shape[0]) for t in reader.tensors if t.name in VOCAB_ROWS}}
