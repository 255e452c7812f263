"""The one place where find, estimate and the concurrency table call the latency model with a
:class:`~draftfinder.predict.devices.Device` and an engine.

- :func:`step_ms` is :func:`draftfinder.predict.latency.step_ms` (one pass of ``n_tokens`` new tokens for each of
  ``batch`` sequences at ``ctx``, on the device, with the engine).
- :func:`evaluate` is :meth:`SpeedupEstimator.evaluate` on the device with the engine and context. An estimator
  that does not take an engine yet (its signature has no ``engine``) gets the device as an issue-9 profile
  object that is also the device (:class:`DeviceProfile`): the latency model then runs on the device's own
  figures with its default engine for the target's format, and :func:`engine_note` says so.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Optional

from draftfinder.predict import latency


def core_interface() -> bool:
    """Whether the latency model takes a device and an engine (``latency.step_ms`` and ``latency.ENGINES``)."""
    return hasattr(latency, "step_ms") and hasattr(latency, "ENGINES")


def estimator_takes_engine() -> bool:
    from draftfinder.predict.estimator import SpeedupEstimator

    return "engine" in inspect.signature(SpeedupEstimator.evaluate).parameters


@dataclass(frozen=True)
class DeviceProfile(latency.HardwareProfile):
    """An issue-9 :class:`latency.HardwareProfile` that is also the device (the latency model resolves a device by
    its ``kind`` and ``bandwidth_gb_s``): lets an estimator that takes profiles predict for any device."""

    kind: str = "cuda-gpu"
    bandwidth_gb_s: float = 0.0
    tflops: float = 0.0
    memory_gb: Optional[float] = None
    threads: Optional[int] = None
    count: int = 1
    calibration: Any = None
    detected_from: Optional[str] = None


def device_profile(device: Any) -> DeviceProfile:
    return DeviceProfile(
        name=device.name, description=getattr(device, "description", "") or device.name,
        memory_bandwidth_gb_s=device.bandwidth_gb_s, bandwidth_efficiency=1.0, peak_tflops=device.tflops,
        compute_dtype="fp32" if device.kind == "cpu" else "fp16/bf16 tensor", compute_efficiency=1.0,
        per_layer_overhead_ms=0.0, sources={k: str(v) for k, v in (getattr(device, "sources", {}) or {}).items()},
        kind=device.kind, bandwidth_gb_s=device.bandwidth_gb_s, tflops=device.tflops, memory_gb=device.memory_gb,
        threads=device.threads, count=device.count, calibration=device.calibration,
        detected_from=device.detected_from)


def hardware_arg(device: Any) -> Any:
    """What :meth:`SpeedupEstimator.evaluate` takes as ``hardware`` for this device."""
    return device if estimator_takes_engine() else device_profile(device)


def step_ms(model: Any, n_tokens: int, device: Any, engine: str, *, batch: int = 1, ctx: int = 0) -> float:
    """One forward pass: ``n_tokens`` new tokens for each of ``batch`` sequences, in ms."""
    return latency.step_ms(model, n_tokens, device, engine, batch=batch, ctx=ctx)


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


def engine_note(engine: Optional[str], device: Any = None, target: Any = None) -> str:
    """What the latency model distinguishes for ``engine`` (and ``device``'s calibration) in this build."""
    note = f"latency model for {engine} on {getattr(device, 'label', getattr(device, 'name', 'the device'))}"
    if not estimator_takes_engine():
        used = None
        if target is not None and device is not None:
            used = latency.default_engine(latency.ModelShape.of(target).weight_format, device.kind)
        if used != engine:
            note += (f"; this build's estimator takes no engine: the batch-1 figures use {used or 'the default engine'}"
                     f", the concurrency table {engine}")
    if getattr(device, "calibration", None) is not None:
        note += "; calibrated step times of this machine where the profile has the model"
    return note


__all__ = ["DeviceProfile", "core_interface", "device_profile", "engine_note", "estimator_takes_engine", "evaluate",
           "hardware_arg", "step_ms"]
