"""What the latency model needs of a device, and how it gets one from a name.

The CLI's devices come from :mod:`draftfinder.predict.devices` (``Device``, ``get_device``: presets, custom figures,
detection, calibrated profiles). The latency model reads only these fields of a device — ``name``, ``kind``
(``cuda-gpu`` | ``rocm-gpu`` | ``apple-gpu`` | ``cpu``), ``bandwidth_gb_s``, ``tflops`` (dense FP16/BF16 matrix
peak; CPUs: FP32), ``count``, ``threads``, ``calibration`` — so any object with them works. :func:`resolve_device`
turns what callers pass (a device, a preset name, an issue-9 profile) into one; until ``predict.devices`` exists it
builds :class:`StandInDevice` from ``data/hardware.json`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from draftfinder.errors import UsageError

KINDS = ("cuda-gpu", "rocm-gpu", "apple-gpu", "cpu")


@dataclass(frozen=True)
class StandInDevice:
    """A device with the field names of ``predict.devices.Device`` (contract of issue 10)."""

    name: str
    kind: str
    memory_gb: Optional[float]
    bandwidth_gb_s: float
    tflops: float
    threads: Optional[int] = None
    count: int = 1
    sources: Dict[str, str] = field(default_factory=dict)
    detected_from: Optional[str] = None
    calibration: Optional[Any] = None
    description: str = ""


def _kind(spec: Any) -> str:
    if spec.kind == "gpu":
        return "rocm-gpu" if spec.vendor.upper() == "AMD" else "cuda-gpu"
    return spec.kind


def preset_device(name: str) -> StandInDevice:
    """The preset ``name`` of ``data/hardware.json`` (aliases included) as a :class:`StandInDevice`. A preset
    without an FP16 matrix figure uses twice its FP32 figure (said in ``sources``). UsageError lists presets."""
    from draftfinder.predict.hardware_specs import hardware_aliases, load_hardware_specs
    from draftfinder.predict.legacy_profiles import ALIASES as LEGACY_ALIASES

    specs = load_hardware_specs()
    key = str(name).strip().lower()
    key = hardware_aliases().get(key, LEGACY_ALIASES.get(key, key))
    if key not in specs:
        raise UsageError(f"unknown hardware '{name}'", hint=f"use one of: {', '.join(specs)}")
    s = specs[key]
    kind = _kind(s)
    sources = {"bandwidth_gb_s": f"{s.memory_bandwidth_gb_s.basis}: {s.memory_bandwidth_gb_s.source_title}",
               "memory_gb": f"{s.memory_gb.basis}: {s.memory_gb.source_title}"}
    if kind == "cpu":
        tflops, fig = s.fp32_tflops.value, s.fp32_tflops
        sources["tflops"] = f"{fig.basis}: {fig.source_title} (FP32)"
    elif s.fp16_tensor_dense_tflops.value is not None:
        tflops, fig = s.fp16_tensor_dense_tflops.value, s.fp16_tensor_dense_tflops
        sources["tflops"] = f"{fig.basis}: {fig.source_title}"
    else:
        tflops = 2.0 * (s.fp32_tflops.value or 0.0)
        sources["tflops"] = (f"derived (ours): 2 x FP32 {s.fp32_tflops.value} ({s.fp32_tflops.source_title}); no "
                             "dense FP16 tensor figure in hardware.json")
    if not s.memory_bandwidth_gb_s.value or not tflops:
        raise UsageError(f"hardware '{key}' lacks a bandwidth or FLOP/s figure", hint="give --bandwidth and --tflops")
    return StandInDevice(name=key, kind=kind, memory_gb=s.memory_gb.value, bandwidth_gb_s=float(s.memory_bandwidth_gb_s.value),
                         tflops=float(tflops), sources=sources, description=s.description)


def resolve_device(device: Any = None) -> Any:
    """A device object for the latency model from: a device (returned as is), a preset name or alias, an
    issue-9 ``HardwareProfile``, or None (``constants.DEFAULT_HARDWARE``). Names go through
    ``predict.devices.get_device`` when that module exists (presets, ``local``, saved calibrations)."""
    if device is None:
        from draftfinder.constants import DEFAULT_HARDWARE

        device = DEFAULT_HARDWARE
    if hasattr(device, "kind") and hasattr(device, "bandwidth_gb_s"):
        return device
    name = getattr(device, "name", device)        # a HardwareProfile names its preset
    if not isinstance(name, str):
        raise TypeError(f"expected a device, a hardware name or a profile, got {type(device).__name__}")
    try:
        from draftfinder.predict.devices import get_device  # type: ignore[import-not-found]
    except ImportError:
        return preset_device(name)
    return get_device(name)


__all__ = ["KINDS", "StandInDevice", "preset_device", "resolve_device"]
