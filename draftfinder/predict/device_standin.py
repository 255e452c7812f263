"""What the latency model needs of a device, and how it gets one from a name.

The CLI's devices come from :mod:`draftfinder.predict.devices` (``Device``, ``get_device``: presets, custom figures,
detection, calibrated profiles). The latency model reads only these fields of a device — ``name``, ``kind``
(``cuda-gpu`` | ``rocm-gpu`` | ``apple-gpu`` | ``cpu``), ``bandwidth_gb_s``, ``tflops`` (dense FP16/BF16 matrix
peak; CPUs: FP32), ``count``, ``threads``, ``calibration`` — so any object with them works. :func:`resolve_device`
turns what callers pass (a device, a preset name, an issue-9 profile) into a ``predict.devices.Device``.
"""

from __future__ import annotations

from typing import Any

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
    from draftfinder.predict.devices import get_device

    return get_device(name)


__all__ = ["resolve_device"]
