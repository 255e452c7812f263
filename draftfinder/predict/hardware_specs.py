"""Vendor figures of the ``--hardware`` presets, each with its source (``draftfinder/data/hardware.json``).

Only the peak numbers live here (memory size, memory bandwidth, dense FP16/BF16 tensor and FP32 TFLOPS); how much
of them an engine reaches is the latency model's business (:mod:`draftfinder.predict.latency`). Every number carries
``basis`` (vendor, vendor via a copy of its table, third-party, derived by us, measured by us, unknown) and its source;
an unknown figure is ``None``, never a guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Optional, Union

HARDWARE_PATH = Path(__file__).resolve().parents[1] / "data" / "hardware.json"
FIGURES = ("memory_gb", "memory_bandwidth_gb_s", "fp16_tensor_dense_tflops", "fp32_tflops")


@dataclass(frozen=True)
class Figure:
    value: Optional[float]
    basis: str
    source_title: str
    source_url: Optional[str]
    read_at: Optional[str]
    note: Optional[str]


@dataclass(frozen=True)
class HardwareSpec:
    name: str
    vendor: str
    kind: str                  # gpu | apple-gpu | cpu
    description: str
    memory_gb: Figure
    memory_bandwidth_gb_s: Figure
    fp16_tensor_dense_tflops: Figure
    fp32_tflops: Figure


def _figure(d: Dict[str, Any]) -> Figure:
    src = d.get("source") or {}
    return Figure(d.get("value"), d["basis"], src.get("title", ""), src.get("url"), d.get("read_at"), d.get("note"))


@lru_cache(maxsize=2)
def _load(path: str) -> Dict[str, HardwareSpec]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {name: HardwareSpec(name, p["vendor"], p["kind"], p["description"], *(_figure(p[f]) for f in FIGURES))
            for name, p in data["presets"].items()}


def load_hardware_specs(path: Union[str, Path, None] = None) -> Dict[str, HardwareSpec]:
    """Preset name -> :class:`HardwareSpec`, read once per process."""
    return _load(str(path or HARDWARE_PATH))


def hardware_aliases(path: Union[str, Path, None] = None) -> Dict[str, str]:
    return dict(json.loads(Path(path or HARDWARE_PATH).read_text(encoding="utf-8")).get("aliases", {}))


__all__ = ["FIGURES", "Figure", "HardwareSpec", "HARDWARE_PATH", "hardware_aliases", "load_hardware_specs"]
