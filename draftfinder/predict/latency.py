"""Latency of one forward pass per (engine, device, weight format), and the ratios speculative decoding needs.

One pass over ``n`` new tokens for each of ``batch`` sequences (``rows = n·batch``) at context ``ctx``::

    step_ms = weights_ms(rows) + kv_ms + layers·per_layer_ms + per_step_ms + rows·per_token_ms·vocab/1e5

    weights:   bytes = read_params · bits/8   (read_params: params minus the input embedding when it is not
               tied — only one row of it is read per token; Leviathan 2023 §3.4: the weights are read once per pass)
               mem_ms = bytes / (bandwidth · bandwidth_efficiency)
               dequant_ms = read_params · dequant_ops(format) / FLOP/s        (ALU work of unpacking a quant)
    kernel regimes (engine_costs module doc has the sources):
      metal    rows 1: mem + dequant; 2–8: (mem + dequant)·reads·(1 + g·(rows − 1)): the small-batch kernel reads
               the weights once per group of 2–5 tokens, the per-token mat-vec once per token; > 8: max(mem, 2·W·32·⌈rows/32⌉ / (FLOP/s·gemm_eff)) + W·gemm_ops / FLOP/s
      cuda     rows ≤ 8: max(mem, dequant)·(1 + g·(rows − 1)); > 8: max(mem, 2·W·rows / (FLOP/s·gemm_eff))
      roofline max(mem, rows·W·(2 + dequant_ops) / (FLOP/s·gemm_eff))     (2 FLOPs per weight per token: Kaplan
               et al. 2020 §2.1, C_forward ≈ 2N)
    kv_ms   = kv_bytes_per_token · ctx · batch / (bandwidth · bandwidth_efficiency)   (attention reads the cache once)

Constants per engine and device class, each with its source, are in :mod:`draftfinder.predict.engine_costs`. A
device with a ``calibration`` (``draftfinder calibrate``) replaces them: the measured T(b) of the same model and
format is used as is, other models use the calibrated effective bandwidth and per-step overhead.

Derived ratios (used by :mod:`draftfinder.predict.estimator`):

- :func:`cost_ratio` = T_draft(1) / T_target(1) — Leviathan et al. 2023's c (Definition 3.7), the draft at its own
  format on the same engine and device;
- :func:`verify_cost` = T_target(k+1) / T_target(1) — what verifying k drafts costs in target steps (1 in the paper).

Not modelled: tensor-parallel communication (``count`` > 1 multiplies bandwidth and FLOP/s only), CPU offload,
prefill, MoE routing, attention FLOPs (only the KV bytes), NUMA.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from draftfinder.predict.device_standin import resolve_device
from draftfinder.predict.devices import Device, preset_device
from draftfinder.predict.engine_costs import ENGINES, EngineCosts, default_engine, engine_costs, normalize_engine
from draftfinder.predict.formats import WeightFormat, weight_format
from draftfinder.predict.legacy_profiles import (ALIASES, CPU_EFFECTIVE_BANDWIDTH_GB_S, CPU_EFFECTIVE_TFLOPS,
                                                 CPU_MEASUREMENTS, CPU_PEAK_FP32_TFLOPS,
                                                 CPU_PEAK_READ_BANDWIDTH_GB_S, CPU_PER_LAYER_OVERHEAD_MS, PROFILES,
                                                 CpuMeasurement, HardwareProfile, fit_cpu_profile, get_profile)



# --- the model's view of a model ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelShape:
    """What the latency model needs about a model. ``kv_bytes_per_token`` = 2·layers·kv_heads·head_dim·2 bytes
    (f16 cache; 0 when unknown). ``tied_embeddings`` False: the input embedding (vocab × hidden) is not read per
    token; None: unknown, every parameter counts. ``bits_per_weight`` overrides the format's table width when the
    file's own figure is known (GGUF tensor bytes)."""

    params: float
    layers: int
    hidden: int
    vocab: int
    weight_format: str
    kv_bytes_per_token: float = 0.0
    tied_embeddings: Optional[bool] = None
    bits_per_weight: Optional[float] = None
    name: str = ""

    def __post_init__(self) -> None:
        _positive("params", self.params)
        for f in ("layers", "hidden", "vocab"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < (1 if f == "layers" else 0):
                raise ValueError(f"{f} must be an integer >= {1 if f == 'layers' else 0}, got {v!r}")
        weight_format(self.weight_format)                     # ValueError for an unknown format
        if self.bits_per_weight is not None:
            _positive("bits_per_weight", self.bits_per_weight)
        if not self.kv_bytes_per_token >= 0:
            raise ValueError(f"kv_bytes_per_token must be >= 0, got {self.kv_bytes_per_token!r}")

    @property
    def fmt(self) -> WeightFormat:
        return weight_format(self.weight_format)

    @property
    def bits_per_param(self) -> float:
        return float(self.bits_per_weight) if self.bits_per_weight is not None else self.fmt.bits_per_weight

    @property
    def num_layers(self) -> int:
        return self.layers

    @property
    def read_params(self) -> float:
        """Weights read per token: all parameters, less the input embedding when it is a separate matrix."""
        emb = float(self.vocab) * float(self.hidden)
        if self.tied_embeddings is False and 0 < emb < self.params:
            return self.params - emb
        return float(self.params)

    @property
    def weight_bytes(self) -> float:
        return self.read_params * self.bits_per_param / 8.0

    @classmethod
    def from_bits(cls, params: float, bits: Any, layers: int, **kw: Any) -> "ModelShape":
        """From issue 9's three numbers (parameters, bits or a format name, layers); hidden/vocab unknown."""
        fmt = weight_format(bits)
        return cls(float(params), int(layers), kw.pop("hidden", 0), kw.pop("vocab", 0), fmt.name,
                   bits_per_weight=None if isinstance(bits, str) else float(bits), **kw)

    @classmethod
    def of(cls, model: Any, weight_format_override: Optional[str] = None) -> "ModelShape":
        """From a ModelShape, a ``(params, bits, layers)`` tuple, or a ModelInfo-like object (``num_parameters``,
        ``num_layers``, ``bits_per_param``, optional ``hidden_size``, ``vocab_size``, ``dtype``, ``quantization``,
        ``num_attention_heads``, ``num_key_value_heads``, ``tie_word_embeddings``). ``weight_format_override``
        runs the same model at another format (a draft at its own quantization)."""
        if isinstance(model, ModelShape):
            shape = model
        elif isinstance(model, (tuple, list)) and len(model) == 3:
            shape = cls.from_bits(float(model[0]), float(model[1]), int(model[2]))
        else:
            try:
                params, layers, bits = float(model.num_parameters), int(model.num_layers), model.bits_per_param
            except AttributeError:
                raise TypeError(f"expected a ModelShape, ModelInfo or (params, bits, layers) tuple, got "
                                f"{type(model).__name__}") from None
            shape = _shape_of_info(model, params, layers, bits)
        if weight_format_override is not None:
            fmt = weight_format(weight_format_override)
            shape = ModelShape(shape.params, shape.layers, shape.hidden, shape.vocab, fmt.name,
                               shape.kv_bytes_per_token, shape.tied_embeddings, None, shape.name)
        return shape


_QUANT_FORMAT = {"int8": "int8", "int4": "int4", "gptq": "int4-gptq", "awq": "int4-awq", "bnb-4bit": "nf4",
                 "bnb-8bit": "int8"}


def _shape_of_info(info: Any, params: float, layers: int, bits: Any) -> ModelShape:
    quant = getattr(getattr(info, "quantization", None), "value", getattr(info, "quantization", None))
    fmt: Optional[WeightFormat] = None
    for cand in (_QUANT_FORMAT.get(str(quant)), getattr(info, "dtype", None)):
        if cand:
            try:
                fmt = weight_format(cand)
                break
            except ValueError:
                pass
    bits_f = float(bits) if bits else None
    if fmt is None:
        fmt = weight_format(bits_f or 16.0)
    hidden = int(getattr(info, "hidden_size", 0) or 0)
    vocab = int(getattr(info, "vocab_size", 0) or 0)
    heads = int(getattr(info, "num_attention_heads", 0) or 0)
    kv_heads = int(getattr(info, "num_key_value_heads", 0) or heads or 0)
    kv = 2.0 * layers * kv_heads * (hidden / heads) * 2.0 if heads and hidden else 0.0
    return ModelShape(params, layers, hidden, vocab, fmt.name, kv, getattr(info, "tie_word_embeddings", None),
                      bits_f if bits_f and abs(bits_f - fmt.bits_per_weight) > 1e-6 else None,
                      str(getattr(info, "model_id", "") or ""))


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value <= 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)


def _count(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


# --- one forward pass ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepCost:
    """The terms of one forward pass (module doc), in milliseconds, and which kernel regime ran."""

    engine: str
    device: str
    kernel: str
    n_tokens: int
    batch: int
    ctx: int
    memory_ms: float
    dequant_ms: float
    compute_ms: float
    weights_ms: float            # the weight-side time the regime gives (from memory/dequant/compute)
    kv_ms: float
    overhead_ms: float
    total_ms: float
    bound: str                   # memory | compute | dequant | overhead
    calibrated: bool = False


def _calibration_entries(dev: Any, engine: str) -> list:
    cal = getattr(dev, "calibration", None)
    engines = getattr(cal, "engines", None) or {}
    return list(engines.get(engine) or [])


def _measured_ms(entries: list, m: ModelShape, rows: int) -> Optional[float]:
    """T(rows) of a calibrated entry for this very model and format: linear between measured batch sizes,
    extrapolated from the last two beyond the largest."""
    for e in entries:
        try:
            same = abs(float(e.params) / m.params - 1) < 0.02 and weight_format(e.weight_format).name == m.fmt.name
        except (ValueError, AttributeError, TypeError):
            continue
        pts = sorted((int(b), float(t)) for b, t in (getattr(e, "t_ms_by_batch", None) or {}).items())
        if not same or not pts:
            continue
        for (b0, t0), (b1, t1) in zip(pts, pts[1:]):
            if b0 <= rows <= b1:
                return t0 + (t1 - t0) * (rows - b0) / (b1 - b0)
        if rows <= pts[0][0]:
            return pts[0][1]
        (b0, t0), (b1, t1) = pts[-2:] if len(pts) > 1 else (pts[-1], pts[-1])
        return t1 + (t1 - t0) / max(b1 - b0, 1) * (rows - b1)
    return None


# mul_mv_ext: src1 rows per threadgroup by batch size (ggml-metal-ops.cpp @ 6340ab1, ``switch (ne11)``); the
# weights are read once per group of that many tokens. The plain mat-vec kernel reads them once per token.
_MV_EXT_ROWS = {2: 2, 3: 3, 4: 4, 5: 5, 6: 3, 7: 4, 8: 4}


def step_breakdown(model: Any, n_tokens: int, device: Any = None, engine: Optional[str] = None, *,
                   batch: int = 1, ctx: int = 0, costs: Optional[EngineCosts] = None) -> StepCost:
    """The terms of :func:`step_ms` (module doc). ``engine`` None: :func:`default_engine` for the model's format.
    ``costs`` replaces the engine's constants from :mod:`engine_costs` (the fit in :mod:`latency_fit` uses it)."""
    m = ModelShape.of(model)
    n = _count("n_tokens", n_tokens, 1)
    b = _count("batch", batch, 1)
    ctx = _count("ctx", ctx, 0)
    dev = resolve_device(device)
    eng = normalize_engine(engine) if engine else default_engine(m.weight_format, dev.kind)
    c = costs or engine_costs(eng, dev.kind)
    rows = n * b
    count = int(getattr(dev, "count", 1) or 1)
    entries = _calibration_entries(dev, eng)
    bw = float(dev.bandwidth_gb_s) * 1e9 * count * c.bandwidth_efficiency          # bytes/s
    per_step = c.per_step_overhead_ms
    if entries:
        cal_bw = [float(e.effective_bandwidth_gb_s) for e in entries if getattr(e, "effective_bandwidth_gb_s", 0)]
        cal_step = [float(e.per_step_overhead_ms) for e in entries if getattr(e, "per_step_overhead_ms", None) is not None]
        bw = sum(cal_bw) / len(cal_bw) * 1e9 if cal_bw else bw
        per_step = sorted(cal_step)[len(cal_step) // 2] if cal_step else per_step
    flops = float(dev.tflops) * 1e12 * count
    w_params, fmt = m.read_params, m.fmt
    mem = m.weight_bytes / bw * 1e3
    ops = c.dequant_ops_for(fmt.name, fmt.family)
    deq = w_params * ops / flops * 1e3
    comp = 0.0
    if c.kernels == "metal":
        if rows == 1:
            weights, kernel = mem + deq, "mat-vec"
        elif rows <= c.gemm_min_tokens:
            ext = fmt.family in ("float", "gguf-legacy") or (fmt.family == "gguf-k" and rows >= 4)
            g = c.small_batch_growth[0 if ext else 1]
            reads = math.ceil(rows / _MV_EXT_ROWS[rows]) if ext else rows
            weights = (mem + deq) * reads * (1 + g * (rows - 1))
            kernel = "small-batch mat-vec" if ext else "mat-vec per token"
        else:
            tile = c.gemm_tile_tokens or 1
            comp = 2.0 * w_params * tile * math.ceil(rows / tile) / (flops * c.gemm_efficiency) * 1e3
            deq = w_params * c.gemm_dequant_ops / flops * 1e3
            weights, kernel = max(mem, comp) + deq, f"dequantize + GEMM ({tile}-token tiles)"
    elif c.kernels == "cuda":
        if rows <= c.gemm_min_tokens:
            weights = max(mem, deq) * (1 + c.small_batch_growth[0] * (rows - 1))
            kernel = "mat-vec (mmvq)" if fmt.quantized else "mat-vec"
        else:
            comp = 2.0 * w_params * rows / (flops * c.gemm_efficiency) * 1e3
            weights, kernel = max(mem, comp), "GEMM (mmq/cuBLAS)"
    else:
        comp = rows * w_params * (2.0 + ops) / (flops * c.gemm_efficiency) * 1e3
        deq = 0.0
        weights, kernel = max(mem, comp), "roofline"
    kv = m.kv_bytes_per_token * ctx * b / bw * 1e3
    overhead = m.layers * c.per_layer_overhead_ms + per_step + rows * c.per_token_overhead_ms * (m.vocab or 1e5) / 1e5
    total = weights + kv + overhead
    measured = _measured_ms(entries, m, rows) if entries else None
    if measured is not None:
        total = measured + kv
    parts = {"memory": mem, "compute": comp, "dequant": deq, "overhead": overhead}
    return StepCost(eng, str(getattr(dev, "name", "?")), kernel, n, b, ctx, mem, deq, comp, weights, kv, overhead,
                    total, max(parts, key=parts.get), calibrated=bool(entries))


def step_ms(model: Any, n_tokens: int, device: Any = None, engine: Optional[str] = None, *, batch: int = 1,
            ctx: int = 0, costs: Optional[EngineCosts] = None) -> float:
    """Milliseconds for one forward pass: ``n_tokens`` new tokens for each of ``batch`` sequences (module doc)."""
    return step_breakdown(model, n_tokens, device, engine, batch=batch, ctx=ctx, costs=costs).total_ms


def cost_ratio(target: Any, draft: Any, device: Any = None, engine: Optional[str] = None, *, ctx: int = 0) -> float:
    """Leviathan 2023's c (Definition 3.7): one draft step / one target step, 1 token each, same engine and device.
    The engine defaults to the target's (:func:`default_engine`); the draft runs at its own format."""
    t = ModelShape.of(target)
    dev = resolve_device(device)
    eng = engine or default_engine(t.weight_format, dev.kind)
    return step_ms(draft, 1, dev, eng, ctx=ctx) / step_ms(t, 1, dev, eng, ctx=ctx)


def verify_cost(target: Any, k: int, device: Any = None, engine: Optional[str] = None, *, batch: int = 1,
                ctx: int = 0) -> float:
    """T_target(k+1 tokens) / T_target(1 token): what verifying k drafts costs, in target steps."""
    _count("k", k, 1)
    return (step_ms(target, k + 1, device, engine, batch=batch, ctx=ctx)
            / step_ms(target, 1, device, engine, batch=batch, ctx=ctx))


def verify_cost_fn(target: Any, device: Any = None, engine: Optional[str] = None, *, batch: int = 1,
                   ctx: int = 0) -> Callable[[int], float]:
    """``k -> verify_cost(target, k, ...)`` with the device resolved once."""
    dev, shape = resolve_device(device), ModelShape.of(target)
    return lambda k: verify_cost(shape, k, dev, engine, batch=batch, ctx=ctx)


def tokens_per_second(model: Any, device: Any = None, engine: Optional[str] = None, *, ctx: int = 0) -> float:
    """Plain batch-1 decode speed predicted by the model: ``1000 / step_ms(model, 1)``."""
    return 1000.0 / step_ms(model, 1, device, engine, ctx=ctx)


# --- issue 9's functions of (params, bits, layers) and profiles, kept --------------------------------------

def model_step_ms(model: Any, n_tokens: int, profile: Any = None) -> float:
    """:func:`step_ms` on a profile or device with the default engine."""
    return step_ms(model, n_tokens, profile)


def step_latency_ms(params: float, bits_per_param: float, num_layers: int, n_tokens: int, profile: Any) -> float:
    """:func:`step_ms` for issue 9's three numbers (see :meth:`ModelShape.from_bits`)."""
    return latency_breakdown(params, bits_per_param, num_layers, n_tokens, profile)["latency_ms"]


def latency_breakdown(params: float, bits_per_param: float, num_layers: int, n_tokens: int,
                      profile: Any) -> Dict[str, Any]:
    """The terms of :func:`step_latency_ms` as a dict (memory_ms, compute_ms, overhead_ms, latency_ms, bound)."""
    _positive("params", params)
    _positive("bits_per_param", bits_per_param)
    _count("num_layers", num_layers, 1)
    s = step_breakdown(ModelShape.from_bits(params, bits_per_param, num_layers), n_tokens, profile)
    return {"memory_ms": s.memory_ms, "compute_ms": s.compute_ms, "dequant_ms": s.dequant_ms,
            "overhead_ms": s.overhead_ms, "latency_ms": s.total_ms, "bound": s.bound, "kernel": s.kernel,
            "engine": s.engine}


__all__ = [
    "ENGINES", "ModelShape", "StepCost", "Device", "EngineCosts", "resolve_device", "preset_device",
    "default_engine", "engine_costs", "step_breakdown", "step_ms", "cost_ratio", "verify_cost", "verify_cost_fn",
    "tokens_per_second", "HardwareProfile", "PROFILES", "ALIASES", "get_profile", "model_step_ms",
    "step_latency_ms", "latency_breakdown", "CpuMeasurement", "CPU_MEASUREMENTS", "fit_cpu_profile",
    "CPU_EFFECTIVE_BANDWIDTH_GB_S", "CPU_EFFECTIVE_TFLOPS", "CPU_PER_LAYER_OVERHEAD_MS",
    "CPU_PEAK_READ_BANDWIDTH_GB_S", "CPU_PEAK_FP32_TFLOPS",
]
