"""Will it fit? Target and draft weights plus both KV caches against the device's memory.

::

    required_gb  = target_weights + draft_weights + sequences · ctx · (kv_target + kv_draft)
    kv_per_token = 2 · layers · kv_heads · head_dim · bytes_per_element        (K and V, every layer)
    usable_gb    = memory_gb · count · usable_fraction(device kind)
    fits         = required_gb ≤ usable_gb

- Weights at their stored format: the model's file sizes when known (safetensors / GGUF, exact), else
  params · bits / 8 (estimated).
- KV cache in fp16/bf16 (2 bytes per element): the default of vLLM (``--kv-cache-dtype auto``: the model's
  dtype, 16-bit for quantized checkpoints) and of llama.cpp (``--cache-type-k/-v f16``). Every layer is counted
  at full context, an upper bound for sliding-window models (Gemma 2/3, Mistral). ``sequences`` is the
  concurrency: each request decoded together holds its own ``ctx`` tokens of cache. A draft that runs on the
  same device keeps its own cache (vLLM allocates draft KV blocks beside the target's; llama-server a second
  context for ``-md``).
- The usable fraction is the runtime overhead (CUDA context, activations, compute buffers, the OS) taken off
  the top, per device kind (:data:`USABLE_FRACTION`, each with its source).

Sizes are in GB of 2^30 bytes, as vendors count memory (``Device.memory_gb``) and as model file sizes are
shown (MiB/GiB).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from draftfinder.constants import ESTIMATED, EXACT
from draftfinder.find.results import Provenance, to_plain

GIB = 2 ** 30
KV_BYTES_PER_ELEMENT = 2          # fp16/bf16 cache: vLLM kv_cache_dtype "auto", llama.cpp --cache-type-k/v f16
DEFAULT_CTX = 4096                # tokens of context per sequence for the fit check (--ctx)

# Usable share of device memory, per kind: (fraction, source).
USABLE_FRACTION: Dict[str, Tuple[float, str]] = {
    "cuda-gpu": (0.90, "vLLM's default --gpu-memory-utilization 0.9 (the share of GPU memory it gives to weights, "
                       "KV cache and activations; the rest is left for the CUDA context and other processes)"),
    "rocm-gpu": (0.90, "vLLM's default --gpu-memory-utilization 0.9 (as for CUDA GPUs)"),
    "cpu": (0.90, "assumed (ours): 10 % of RAM left to the OS and other processes"),
}
# Apple GPUs may wire only Metal's recommendedMaxWorkingSetSize of unified memory, which grows with the machine:
# 2/3 of 32 GB (21845.34 MB, llama.cpp PR #2011 log, M1 Max 32 GB), 3/4 of 64 GB (49152.00 MiB, llama.cpp
# issue #1870, M1 Max 64 GB), 107.52 GiB of 128 GiB = 0.84 (antirez/ds4 PR #893, M5 Max 128 GB, macOS 26).
APPLE_WORKING_SET: Tuple[Tuple[float, float, str], ...] = (
    (48.0, 2 / 3, "Metal recommendedMaxWorkingSetSize = 2/3 of unified memory up to 32 GB (llama.cpp PR #2011: "
                  "21845.34 MB on a 32 GB M1 Max)"),
    (112.0, 0.75, "Metal recommendedMaxWorkingSetSize = 3/4 of unified memory at 64 GB (llama.cpp issue #1870: "
                  "49152.00 MiB on a 64 GB M1 Max)"),
    (float("inf"), 0.84, "Metal recommendedMaxWorkingSetSize = 0.84 of unified memory at 128 GB (antirez/ds4 "
                         "PR #893: 107.52 GiB on a 128 GB M5 Max; larger machines assumed the same)"),
)


def kv_bytes_per_token(layers: int, kv_heads: int, head_dim: int,
                       bytes_per_element: float = KV_BYTES_PER_ELEMENT) -> float:
    """Bytes of KV cache one token adds: ``2 · layers · kv_heads · head_dim · bytes_per_element`` (a K and a V
    vector per KV head per layer). Llama-3-8B (32 layers, 8 KV heads, head_dim 128, fp16): 131,072 B = 128 KiB."""
    return 2.0 * layers * kv_heads * head_dim * bytes_per_element


def usable_fraction(device: Any) -> Tuple[float, str]:
    """(fraction, source) of ``device``'s memory the runtime can give to weights and caches."""
    if device.kind == "apple-gpu":
        mem = device.memory_gb or 0.0
        for upto, frac, source in APPLE_WORKING_SET:
            if mem <= upto:
                return frac, source
    return USABLE_FRACTION.get(device.kind, USABLE_FRACTION["cuda-gpu"])


@dataclass(frozen=True)
class ModelMemory:
    """What one model needs: its weights and the KV cache one token adds (None: shape unknown)."""

    name: str
    weights_gb: float
    weights_source: str                       # exact | estimated
    weights_method: str
    kv_bytes_per_token: Optional[float]
    kv_method: str

    @classmethod
    def from_info(cls, info: Any) -> "ModelMemory":
        """From a :class:`~draftfinder.find.results.ModelInfo`: file sizes when known, the KV shape from its
        config (``head_dim`` = hidden / heads when the config does not give it)."""
        weights_gb = float(info.memory_footprint_mb) / 1024
        exact = getattr(info, "memory_source", ESTIMATED) == EXACT
        method = ("weight file sizes" if exact else "parameters × bits per weight / 8") + \
                 f" ({getattr(info, 'dtype', None) or getattr(info.quantization, 'value', info.quantization)})"
        kv_heads = info.num_key_value_heads or info.num_attention_heads
        head_dim = getattr(info, "head_dim", None) or (
            info.hidden_size // info.num_attention_heads if info.num_attention_heads else None)
        if info.num_layers and kv_heads and head_dim:
            kv = kv_bytes_per_token(info.num_layers, kv_heads, head_dim)
            kv_method = (f"2 · {info.num_layers} layers · {kv_heads} KV heads · head_dim {head_dim} · "
                         f"{KV_BYTES_PER_ELEMENT} B (fp16 cache)")
        else:
            kv, kv_method = None, "unknown: the config gives no layer/head counts"
        return cls(info.model_id, weights_gb, EXACT if exact else ESTIMATED, method, kv, kv_method)

    @classmethod
    def from_shape(cls, name: str, params: float, bits_per_param: float, *, layers: Optional[int] = None,
                   kv_heads: Optional[int] = None, head_dim: Optional[int] = None,
                   missing_hint: str = "") -> "ModelMemory":
        """From the what-if numbers: params · bits / 8 bytes of weights; the KV cache when the shape is given."""
        weights_gb = params * bits_per_param / 8 / GIB
        if layers and kv_heads and head_dim:
            kv = kv_bytes_per_token(layers, kv_heads, head_dim)
            kv_method = f"2 · {layers} layers · {kv_heads} KV heads · head_dim {head_dim} · 2 B (fp16 cache)"
        else:
            kv, kv_method = None, "KV shape not given" + (f": {missing_hint}" if missing_hint else "")
        return cls(name, weights_gb, ESTIMATED, f"{params:.4g} parameters × {bits_per_param:g} bits / 8", kv,
                   kv_method)


@dataclass
class MemoryFit:
    """The fit verdict for a target (and draft) on a device at ``ctx_tokens`` × ``sequences``."""

    fits: Optional[bool]                       # None: the device's memory size is unknown
    required_gb: float
    usable_gb: Optional[float]
    device_memory_gb: Optional[float]          # memory_gb × count
    usable_fraction: float
    target_weights_gb: float
    draft_weights_gb: float
    target_kv_gb: float
    draft_kv_gb: float
    ctx_tokens: int
    sequences: int
    kv_counted: bool                           # False when a model's KV shape is unknown (then required is a floor)
    device: str
    kv_missing: List[str] = field(default_factory=list)   # "target" / "draft" whose KV cache is not counted
    provenance: Dict[str, Provenance] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``fits (needs 16.3 GB of 21.6 GB usable on rtx4090)`` / ``does not fit (needs 148.2 GB of 21.6 GB usable
        on rtx4090)`` / ``fit unknown (needs 16.3 GB; memory of custom unknown)``; ``; draft KV cache not counted``
        is added when a model's KV shape is unknown (the need is then a floor)."""
        floor = "" if self.kv_counted else f"; {' and '.join(self.kv_missing) or 'a'} KV cache not counted"
        if self.fits is None:
            return f"fit unknown (needs {self.required_gb:.1f} GB; memory of {self.device} unknown{floor})"
        body = f"needs {self.required_gb:.1f} GB of {self.usable_gb:.1f} GB usable on {self.device}{floor}"
        return f"fits ({body})" if self.fits else f"does not fit ({body})"

    def to_dict(self) -> Dict[str, Any]:
        out = to_plain(self)
        out["verdict"] = self.verdict
        return out


def check_fit(target: ModelMemory, draft: Optional[ModelMemory], device: Any, *, ctx: int = DEFAULT_CTX,
              sequences: int = 1) -> MemoryFit:
    """Whether ``target`` and ``draft`` (None: the target alone) fit on ``device`` (module docstring formula)."""
    models = [m for m in (target, draft) if m is not None]

    def kv_gb(m: Optional[ModelMemory]) -> float:
        return 0.0 if m is None else (m.kv_bytes_per_token or 0.0) * ctx * sequences / GIB

    t_kv, d_kv = kv_gb(target), kv_gb(draft)
    d_w = draft.weights_gb if draft is not None else 0.0
    required = target.weights_gb + d_w + t_kv + d_kv
    kv_counted = all(m.kv_bytes_per_token is not None for m in models)
    frac, frac_source = usable_fraction(device)
    total = device.total_memory_gb
    usable = None if total is None else total * frac
    fits = None if usable is None else required <= usable
    mem_basis = (getattr(device, "basis", {}) or {}).get("memory_gb", ESTIMATED)
    provenance = {
        "target_weights_gb": Provenance(target.weights_source, target.weights_method),
        "draft_weights_gb": Provenance(draft.weights_source if draft else EXACT,
                                       draft.weights_method if draft else "no draft"),
        "kv_gb": Provenance(ESTIMATED, f"KV cache at {ctx} tokens × {sequences} sequence(s)",
                            f"target: {target.kv_method}; draft: {draft.kv_method if draft else 'none'}"),
        "usable_gb": Provenance(ESTIMATED, f"device memory × {frac:.3g}", frac_source),
        "device_memory_gb": Provenance(mem_basis, (getattr(device, "sources", {}) or {}).get("memory_gb", "")),
        "fits": Provenance(ESTIMATED, "weights + both KV caches ≤ usable memory"),
    }
    notes = []
    missing = [role for role, m in (("target", target), ("draft", draft)) if m is not None and m.kv_bytes_per_token is None]
    if missing:
        why = "; ".join(f"{m.name}: {m.kv_method}" for m in models if m.kv_bytes_per_token is None)
        notes.append(f"KV cache of {' and '.join(missing)} not counted ({why}): the need is a floor")
    if device.count > 1:
        notes.append(f"{device.count} devices: weights and caches assumed split evenly (tensor parallel)")
    return MemoryFit(fits=fits, required_gb=round(required, 3), usable_gb=None if usable is None else round(usable, 3),
                     device_memory_gb=total, usable_fraction=frac, target_weights_gb=round(target.weights_gb, 3),
                     draft_weights_gb=round(d_w, 3), target_kv_gb=round(t_kv, 3), draft_kv_gb=round(d_kv, 3),
                     ctx_tokens=ctx, sequences=sequences, kv_counted=kv_counted, device=device.label,
                     kv_missing=missing, provenance=provenance, notes=notes)


__all__ = ["APPLE_WORKING_SET", "DEFAULT_CTX", "GIB", "KV_BYTES_PER_ELEMENT", "MemoryFit", "ModelMemory",
           "USABLE_FRACTION", "check_fit", "kv_bytes_per_token", "usable_fraction"]
