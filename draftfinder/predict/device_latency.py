"""The one place where find, estimate and the concurrency table call the latency model with a
:class:`~draftfinder.predict.devices.Device` and an engine.

The latency model (:mod:`draftfinder.predict.latency`) provides ``step_ms(model, n_tokens, device, engine, *,
batch, ctx)``. While a build carries the older batch-1 model (named hardware profiles, no engines), this module
maps a device onto such a profile — the device's own peak figures with the profile family's fitted
efficiencies (CPU or GPU), ``count`` devices as one with ``count``× the bandwidth and compute (ideal tensor
parallelism) — and a batch of ``b`` sequences × ``n`` new tokens as one pass over ``b·n`` tokens, which is
what that roofline sees (weights read once, ``2·params`` FLOPs per token).
"""

from __future__ import annotations

import inspect
from typing import Any, Optional

from draftfinder.predict import latency


def core_interface() -> bool:
    """Whether the latency model takes a device and an engine (``latency.step_ms`` and ``latency.ENGINES``)."""
    return hasattr(latency, "step_ms") and hasattr(latency, "ENGINES")


def legacy_profile(device: Any) -> Any:
    """A :class:`latency.HardwareProfile` with ``device``'s peak figures (older latency model only)."""
    n = max(1, int(getattr(device, "count", 1) or 1))
    sources = dict(getattr(device, "sources", {}) or {})
    if device.kind == "cpu":
        bw_eff = latency.CPU_EFFECTIVE_BANDWIDTH_GB_S / latency.CPU_PEAK_READ_BANDWIDTH_GB_S
        tf_eff = latency.CPU_EFFECTIVE_TFLOPS / latency.CPU_PEAK_FP32_TFLOPS
        overhead, dtype = latency.CPU_PER_LAYER_OVERHEAD_MS, "fp32"
        sources.update({"bandwidth_efficiency": "fitted (ours): latency.fit_cpu_profile",
                        "compute_efficiency": "fitted (ours): latency.fit_cpu_profile",
                        "per_layer_overhead_ms": "fitted (ours): latency.fit_cpu_profile"})
    else:
        bw_eff, tf_eff = latency.GPU_BANDWIDTH_EFFICIENCY, latency.GPU_COMPUTE_EFFICIENCY_ASSUMED
        overhead, dtype = latency.GPU_PER_LAYER_OVERHEAD_MS, "fp16/bf16 tensor"
        sources.update({"bandwidth_efficiency": "fitted (ours): latency.fit_gpu_overhead",
                        "compute_efficiency": "assumed (ours): latency.GPU_COMPUTE_EFFICIENCY_ASSUMED",
                        "per_layer_overhead_ms": "fitted (ours): latency.fit_gpu_overhead"})
    return latency.HardwareProfile(
        name=device.name, description=getattr(device, "description", "") or device.name,
        memory_bandwidth_gb_s=device.bandwidth_gb_s * n, bandwidth_efficiency=bw_eff,
        peak_tflops=device.tflops * n, compute_dtype=dtype, compute_efficiency=tf_eff,
        per_layer_overhead_ms=overhead, sources={k: str(v) for k, v in sources.items()})


def hardware_arg(device: Any) -> Any:
    """What :meth:`SpeedupEstimator.evaluate` takes as ``hardware`` for this device."""
    return device if core_interface() else legacy_profile(device)


def step_ms(model: Any, n_tokens: int, device: Any, engine: str, *, batch: int = 1, ctx: int = 0) -> float:
    """One forward pass: ``n_tokens`` new tokens for each of ``batch`` sequences, in ms."""
    if core_interface():
        return latency.step_ms(_shape(model), n_tokens, device, engine, batch=batch, ctx=ctx)
    return latency.model_step_ms(model, n_tokens * batch, legacy_profile(device))


def _shape(model: Any) -> Any:
    """The latency model's ModelShape for a ModelInfo / shape (its own ``of`` when it has one)."""
    of = getattr(latency.ModelShape, "of", None)
    return of(model) if of is not None and not isinstance(model, latency.ModelShape) else model


def evaluate(target: Any, draft: Any, acceptance: Any, device: Any, engine: str, max_k: int, *, ctx: int = 0,
             **kwargs: Any) -> Any:
    """:meth:`SpeedupEstimator.evaluate` on ``device`` with ``engine`` (engine/ctx passed when it takes them)."""
    from draftfinder.predict.estimator import SpeedupEstimator

    params = inspect.signature(SpeedupEstimator.evaluate).parameters
    extra = {}
    if "engine" in params:
        extra["engine"] = engine
    if "ctx" in params:
        extra["ctx"] = ctx
    return SpeedupEstimator.evaluate(target, draft, acceptance, hardware_arg(device), max_k, **extra, **kwargs)


def engine_note(engine: Optional[str], device: Any = None) -> str:
    """What the latency model distinguishes for ``engine`` (and ``device``'s calibration) in this build."""
    if core_interface():
        return f"latency model for {engine}"
    note = f"batch-1 roofline (no per-engine constants in this build; predictions labelled for {engine})"
    if getattr(device, "calibration", None) is not None:
        note += "; the calibration is not used by this build's latency model"
    return note


__all__ = ["core_interface", "engine_note", "evaluate", "hardware_arg", "legacy_profile", "step_ms"]
