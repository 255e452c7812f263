"""Exact parameter counts from safetensors headers, without reading tensor data.

A ``.safetensors`` file starts with an 8-byte little-endian header length N, then N bytes of JSON mapping
each tensor name to ``{"dtype", "shape", "data_offsets"}`` (plus an optional ``__metadata__``); the data
follows. Only those N + 8 bytes are read. A sharded checkpoint lists its shards in
``model.safetensors.index.json`` (``weight_map``: tensor → shard file).

What counts as a parameter (so the total equals ``sum(p.numel() for p in model.parameters())``):

* every tensor except buffers that some checkpoints carry: GPT-2's causal masks ``attn.bias`` /
  ``attn.masked_bias`` (4-D, 1×1×n_ctx×n_ctx), rotary ``inv_freq`` tables, ``position_ids``;
* GPTQ / AWQ packed weights (``qweight``, int32): elements × 32 / bits; their ``qzeros``, ``scales`` and
  ``g_idx`` are quantization overhead, counted in bytes but not as parameters;
* bitsandbytes 4-bit weights (uint8, two 4-bit values per byte): elements × 2; their ``absmax``,
  ``quant_map`` and ``quant_state`` tensors are overhead. 8-bit ``SCB``/``weight_format`` are overhead.
"""

from __future__ import annotations

import json
import re
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from draftfinder.errors import ModelFileError

INDEX_FILE = "model.safetensors.index.json"
MAX_HEADER_BYTES = 100 * 1024 * 1024          # the safetensors format's own limit

DTYPE_BYTES = {
    "F64": 8, "I64": 8, "U64": 8,
    "F32": 4, "I32": 4, "U32": 4,
    "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
    "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BOOL": 1,
    "F4": 0.5, "F6_E2M3": 0.75, "F6_E3M2": 0.75,
}

# Buffers stored by some checkpoints, never parameters: rotary tables and position ids always; causal masks
# (GPT-2/GPT-J ``attn.bias``, GPT-Neo/GPT-NeoX ``attention.bias``, ``masked_bias``) when they are not 1-D,
# since a real bias vector of those names would be 1-D.
_BUFFER_RE = re.compile(r"(^|\.)(inv_freq|position_ids|_float_tensor)$")
_MASK_RE = re.compile(r"(^|\.)(attn\.bias|attention\.bias|masked_bias)$")
# Quantization side tensors: overhead bytes, not parameters.
_OVERHEAD_RE = re.compile(
    r"\.(qzeros|scales|g_idx|absmax|quant_map|nested_absmax|nested_quant_map|SCB|weight_format|"
    r"quant_state\.[\w.]+|weight_scale|weight_zero_point|input_scale|weight_global_scale)$"
)


@dataclass
class TensorInfo:
    name: str
    dtype: str
    shape: List[int]
    nbytes: int

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= int(d)
        return n


@dataclass
class SafetensorsCount:
    """Parameters counted from one checkpoint's headers."""

    total: int                                           # parameters (see the module docstring)
    by_dtype: Dict[str, int] = field(default_factory=dict)   # stored dtype -> parameters
    bytes: int = 0                                       # all tensor data, buffers and overhead included
    parameter_bytes: int = 0                             # bytes of the tensors counted as parameters
    buffer_bytes: int = 0                                # bytes of stored buffers (causal masks, inv_freq)
    excluded: Dict[str, int] = field(default_factory=dict)   # buffer / overhead tensor name -> elements
    files: List[str] = field(default_factory=list)
    tensor_count: int = 0
    metadata: Dict[str, str] = field(default_factory=dict)   # __metadata__ of the first file (format, ...)

    @property
    def weight_bytes(self) -> int:
        """Bytes the weights occupy once loaded: parameters plus quantization overhead, buffers excluded."""
        return self.bytes - self.buffer_bytes

    @property
    def excluded_elements(self) -> int:
        return sum(self.excluded.values())

    def to_dict(self) -> Dict[str, Any]:
        from draftfinder.find.results import to_plain

        return to_plain(self)


def read_header(path: Union[str, Path]) -> Dict[str, Any]:
    """The parsed JSON header of one ``.safetensors`` file (8-byte length + JSON). Raises ``ModelFileError``."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ModelFileError(p, "file shorter than the 8-byte safetensors header length")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER_BYTES:
                raise ModelFileError(p, f"not a safetensors file (header length {n:,} bytes is implausible)")
            raw = fh.read(n)
        size = p.stat().st_size
    except OSError as err:
        raise ModelFileError(p, err.strerror or str(err)) from err
    if len(raw) < n:
        raise ModelFileError(p, f"truncated header ({len(raw):,} of {n:,} bytes)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(p, f"safetensors header is not valid JSON ({err})") from err
    if not isinstance(header, dict):
        raise ModelFileError(p, "safetensors header is not a JSON object")
    end = max((int(v["data_offsets"][1]) for k, v in header.items()
               if k != "__metadata__" and isinstance(v, dict) and "data_offsets" in v), default=0)
    if 8 + n + end > size:
        raise ModelFileError(p, f"truncated: tensors end at byte {8 + n + end:,}, file has {size:,}",
                             hint="re-download the file")
    return header


def tensors_of(header: Mapping[str, Any], path: Union[str, Path] = "?") -> List[TensorInfo]:
    """The tensors a header describes (``__metadata__`` skipped)."""
    out = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            start, end = (int(x) for x in info["data_offsets"])
            out.append(TensorInfo(name=name, dtype=str(info["dtype"]), shape=[int(d) for d in info["shape"]],
                                  nbytes=end - start))
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFileError(path, f"bad entry for tensor '{name}' in the safetensors header") from err
    return out


def classify(tensor: TensorInfo, *, quant_bits: Optional[int] = None, bnb_4bit: bool = False) -> tuple[str, int]:
    """(kind, parameters) of one tensor: kind is ``parameter``, ``buffer`` or ``overhead``.

    ``quant_bits`` is the GPTQ/AWQ ``bits`` (packed ``qweight``: elements · 32 / bits parameters);
    ``bnb_4bit`` marks bitsandbytes 4-bit storage (uint8 ``.weight``: elements · 2 parameters).
    """
    name = tensor.name
    if _BUFFER_RE.search(name):
        return "buffer", 0
    if _MASK_RE.search(name) and (len(tensor.shape) != 1 or tensor.dtype == "BOOL"):
        return "buffer", 0
    if _OVERHEAD_RE.search(name):
        return "overhead", 0
    if name.endswith(".qweight") and tensor.dtype in ("I32", "U32"):
        return "parameter", tensor.numel * 32 // (quant_bits or 4)
    if bnb_4bit and tensor.dtype == "U8" and name.endswith(".weight"):
        return "parameter", tensor.numel * 2          # bitsandbytes 4-bit: two values per byte
    return "parameter", tensor.numel


def count_headers(headers: Iterable[tuple[str, Mapping[str, Any]]], *, quant_bits: Optional[int] = None,
                  bnb_4bit: bool = False) -> SafetensorsCount:
    """Count parameters over (file name, header) pairs; a tensor seen twice (shared) counts once.

    ``bnb_4bit`` marks a bitsandbytes 4-bit checkpoint (uint8 ``.weight`` = packed pairs).
    """
    result = SafetensorsCount(total=0)
    by_dtype: Counter = Counter()
    seen = set()
    for file_name, header in headers:
        result.files.append(file_name)
        if not result.metadata and isinstance(header.get("__metadata__"), dict):
            result.metadata = {str(k): str(v) for k, v in header["__metadata__"].items()}
        for t in tensors_of(header, file_name):
            if t.name in seen:
                continue
            seen.add(t.name)
            result.tensor_count += 1
            result.bytes += t.nbytes
            kind, n = classify(t, quant_bits=quant_bits, bnb_4bit=bnb_4bit)
            if kind != "parameter":
                result.excluded[t.name] = t.numel
                if kind == "buffer":
                    result.buffer_bytes += t.nbytes
                continue
            by_dtype[t.dtype] += n
            result.parameter_bytes += t.nbytes
    result.by_dtype = dict(by_dtype)
    result.total = sum(by_dtype.values())
    return result


def safetensors_files(folder: Union[str, Path]) -> List[Path]:
    """The checkpoint files of a folder: the shards the index names, else every ``*.safetensors``."""
    folder = Path(folder)
    index = folder / INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            names = sorted(set(weight_map.values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise ModelFileError(index, f"bad shard index ({type(err).__name__}: {err})") from err
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise ModelFileError(index, f"shard(s) listed but missing: {', '.join(missing[:3])}",
                                 hint="download every shard of the checkpoint")
        return [folder / n for n in names]
    return sorted(p for p in folder.glob("*.safetensors") if p.is_file())


def count_parameters(path: Union[str, Path], *, quant_bits: Optional[int] = None,
                     bnb_4bit: bool = False) -> Optional[SafetensorsCount]:
    """Count a folder's checkpoint (sharded or not) or one ``.safetensors`` file; None when there is none.

    Adapter checkpoints (``adapter_model.safetensors``) are left out of a folder count: they are not the
    model's weights.
    """
    p = Path(path)
    if p.is_file():
        files = [p]
    else:
        files = [f for f in safetensors_files(p) if not f.name.startswith("adapter_model")]
    if not files:
        return None
    return count_headers(((f.name, read_header(f)) for f in files), quant_bits=quant_bits, bnb_4bit=bnb_4bit)
