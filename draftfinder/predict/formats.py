"""Weight formats as the latency model sees them: bits per weight and the kernel family that runs them.

A format is named as the engines name it (``bf16``, ``q8_0``, ``q4_k_m``, ``int4-awq``, ...) or given as a bare
number of bits (``"4.5"``); :func:`weight_format` normalizes both. Sources of the bits per weight:

- ggml block layouts (``ggml/src/ggml-common.h``): Q8_0 = 32 int8 + one fp16 scale = 34 bytes / 32 weights = 8.5
  bits; Q4_0 = 18 bytes / 32 = 4.5; Q4_1 = 20 / 32 = 5.0; Q5_0 = 22 / 32 = 5.5; Q5_1 = 24 / 32 = 6.0 (pure
  tensors; the whole-file figures below are a little higher because llama-quantize keeps ``output.weight`` at a
  higher type).
- whole-file averages, ggml-org/llama.cpp ``tools/quantize/README.md`` @ f4a71e7 (Llama-3.1-8B table, bits/weight):
  Q2_K 3.1593, Q3_K_S 3.6429, Q3_K_L 4.2979, Q4_K_S 4.6672, Q4_K_M 4.8944, Q5_K_S 5.5704, Q5_K_M 5.7036,
  Q6_K 6.5633, Q8_0 8.5008, F16 16.0005, IQ4_XS 4.4597, IQ4_NL 4.6818, IQ3_M 3.7628, IQ2_M 2.9294.
- formats that table lacks, from the file sizes ggml-org/llama.cpp ``tools/quantize/quantize.cpp`` @ 42ea59b
  prints for Llama-3-8B (8,030,261,248 weights; GiB × 2³⁰ × 8 / weights): Q4_0 4.34G → 4.643, Q4_1 4.78G → 5.114,
  Q5_0 5.21G → 5.574, Q5_1 5.65G → 6.045, Q3_K_M 3.74G → 4.001.
- nf4 with double quantization: 4 + 0.127 bits (Dettmers et al. 2023, QLoRA, §3 "Double Quantization").
- group-wise int4 (AWQ, GPTQ, gpt-fast int4): 4 bits + one fp16 scale and one zero per 128 weights = 4.25
  (group size 128, the AWQ/GPTQ default; gpt-fast's G=32 is 5.0, give ``int4-g32``).
- int8 / fp8 weight-only: 8 bits plus per-channel scales (negligible).

``family`` says which kernels run the format: ``float`` (no dequantization), ``gguf-legacy`` (Q4_0 … Q8_0: llama.cpp
has small-batch kernels for them at 2–8 tokens), ``gguf-k`` (k-quants: small-batch kernels only from 4 tokens on
Metal), ``gguf-i`` (i-quants: no small-batch kernels), ``int`` (AWQ/GPTQ/int8/fp8/nf4 in PyTorch engines).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Tuple

FAMILIES = ("float", "gguf-legacy", "gguf-k", "gguf-i", "int")


@dataclass(frozen=True)
class WeightFormat:
    name: str                 # canonical lower-case name ("q4_k_m"), or "<bits>bit" for a bare number
    bits_per_weight: float
    family: str               # one of FAMILIES

    @property
    def quantized(self) -> bool:
        return self.family != "float"

    @property
    def gguf(self) -> bool:
        return self.family.startswith("gguf")


_TABLE: Tuple[Tuple[str, float, str], ...] = (
    ("fp32", 32.0, "float"), ("fp16", 16.0, "float"), ("bf16", 16.0, "float"),
    ("f16", 16.0005, "float"),            # GGUF F16 file (a few tiny f32 tensors), quantize README
    ("q8_0", 8.5008, "gguf-legacy"), ("q5_1", 6.045, "gguf-legacy"), ("q5_0", 5.574, "gguf-legacy"),
    ("q4_1", 5.114, "gguf-legacy"), ("q4_0", 4.643, "gguf-legacy"),
    ("q6_k", 6.5633, "gguf-k"), ("q5_k_m", 5.7036, "gguf-k"), ("q5_k_s", 5.5704, "gguf-k"),
    ("q4_k_m", 4.8944, "gguf-k"), ("q4_k_s", 4.6672, "gguf-k"), ("q3_k_l", 4.2979, "gguf-k"),
    ("q3_k_m", 4.001, "gguf-k"), ("q3_k_s", 3.6429, "gguf-k"), ("q2_k", 3.1593, "gguf-k"),
    ("iq4_nl", 4.6818, "gguf-i"), ("iq4_xs", 4.4597, "gguf-i"), ("iq3_m", 3.7628, "gguf-i"),
    ("iq2_m", 2.9294, "gguf-i"),
    ("int8", 8.0, "int"), ("fp8", 8.0, "int"), ("int4-awq", 4.25, "int"), ("int4-gptq", 4.25, "int"),
    ("int4", 4.25, "int"), ("int4-g32", 5.0, "int"), ("nf4", 4.127, "int"),
)
FORMATS: Dict[str, WeightFormat] = {n: WeightFormat(n, b, f) for n, b, f in _TABLE}

ALIASES: Dict[str, str] = {
    "float32": "fp32", "f32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16",
    "awq": "int4-awq", "gptq": "int4-gptq", "bnb-8bit": "int8", "bnb-4bit": "nf4", "float8": "fp8",
    "q3_k": "q3_k_m", "q4_k": "q4_k_m", "q5_k": "q5_k_m", "int4-g128": "int4",
    # Q4_K_L (bartowski): Q4_K_M with Q8_0 embeddings/output; the weights read per token are Q4_K_M-like
    "q4_k_l": "q4_k_m",
}


def weight_format(name: object) -> WeightFormat:
    """The :class:`WeightFormat` for a name (case-insensitive, ``-``/``_`` alike) or a number of bits.

    A bare number that is exactly a listed width (``16``, ``4.8944``) gives that format (the first listed:
    16 → fp16, 8 → int8); any other number (``"4.5"``) a format of that width whose family is ``float`` at
    ≥ 16 bits and ``int`` below (the kernel is then unknown; the latency model treats it as group-wise int). Raises
    ValueError for an unknown name or a width outside (0, 64].
    """
    if isinstance(name, WeightFormat):
        return name
    if isinstance(name, bool):
        raise ValueError(f"weight format must be a name or a number of bits, got {name!r}")
    if isinstance(name, (int, float)):
        return _from_bits(float(name))
    key = str(name).strip().lower().replace(" ", "")
    key = ALIASES.get(key, key)
    if key in FORMATS:
        return FORMATS[key]
    alt = key.replace("-", "_")
    if alt in FORMATS:
        return FORMATS[alt]
    try:
        bits = float(key.removesuffix("bit").removesuffix("bits"))
    except ValueError:
        raise ValueError(f"unknown weight format {name!r}; use bits per weight or one of: "
                         f"{', '.join(FORMATS)}") from None
    return _from_bits(bits)


def _from_bits(bits: float) -> WeightFormat:
    if math.isnan(bits) or not 0 < bits <= 64:
        raise ValueError(f"bits per weight must be in (0, 64], got {bits!r}")
    for fmt in FORMATS.values():                      # 16 -> fp16, 4.8944 -> q4_k_m: exact widths only
        if abs(fmt.bits_per_weight - bits) < 1e-9:
            return fmt
    return WeightFormat(f"{bits:g}bit", bits, "float" if bits >= 16 else "int")


def bits_of(name: object) -> float:
    """Bits per weight of a format name or number (see :func:`weight_format`)."""
    return weight_format(name).bits_per_weight


__all__ = ["FAMILIES", "FORMATS", "ALIASES", "WeightFormat", "weight_format", "bits_of"]
