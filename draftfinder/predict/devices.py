"""The device a prediction is for: a ``--hardware`` preset, custom numbers, this machine (detected), or a
saved calibration (``--hardware local``).

A :class:`Device` carries the three figures the latency model reads — memory size, memory bandwidth and dense
matrix throughput — each with its basis (``published``: a vendor or third-party figure; ``estimated``: derived
by us from cited figures; ``measured``: read from this machine; ``given``: a flag the user typed) and its
source. How much of the peak an engine reaches is the latency model's business
(:mod:`draftfinder.predict.latency`), not this module's.

Where the figures come from:

- presets: ``draftfinder/data/hardware.json`` (:mod:`draftfinder.predict.hardware_specs`), every figure cited.
  ``tflops`` is the dense FP16/BF16 tensor rate (FP32 accumulate); on CPUs the FP32 rate. The RTX 5090's
  FP32-accumulate tensor rate is unpublished: its FP16-accumulate rate ÷ 2 (Ada's ratio) stands in, labelled
  estimated.
- ``cpu``: a generic x86 server whose size is its thread count (``--threads``; default this machine's cores).
  The preset's figures were measured with 2 threads on this project's machine (hardware.json); they are
  scaled per thread::

      tflops         = fp32_tflops_measured / threads_measured × threads
      bandwidth_gb_s = min(bandwidth_measured / threads_measured × threads, CPU_SOCKET_BANDWIDTH_GB_S)

  Compute scales with cores; bandwidth stops scaling at the socket's memory channels, capped at 8 channels of
  DDR4-3200 (8 × 3200 MT/s × 8 B = 204.8 GB/s, the memory configuration of AMD EPYC 7003 and 3rd-gen Xeon
  Scalable sockets). Memory size: this machine's RAM (/proc/meminfo) unless ``--memory`` is given.
- custom (``--hardware custom``): ``--bandwidth GB/s --tflops T [--memory GB]``; the same flags with a preset
  or with detection replace that figure of it (labelled given).
- detected (no ``--hardware``, or ``auto``): :func:`detect_device` — the CUDA/ROCm device name through torch
  (only imported when a GPU driver is present, so a CPU machine starts fast), the Apple chip through
  ``sysctl -n machdep.cpu.brand_string``, else this CPU from /proc/cpuinfo with its core count. A detected
  GPU or Apple chip takes its preset's figures, with the memory size read from the device; a GPU without a
  preset is an error naming the flags that describe it.
- ``local``, a saved calibration name or a profile file: :func:`predict.calibration.load_profile` (``draftfinder
  calibrate``; a missing, corrupt or foreign profile is its one-line error); the device is this machine
  (detected, at the profile's thread count) carrying the calibration, which the latency model uses.

Errors are one line naming the problem and the fix (:class:`~draftfinder.errors.UsageError`, numbers through
:mod:`draftfinder.ranges`).
"""

from __future__ import annotations

import difflib
import os
import platform
import re
import subprocess
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from draftfinder.constants import ESTIMATED, MEASURED, PUBLISHED
from draftfinder.errors import UsageError
from draftfinder.ranges import check_number

DEVICE_KINDS = ("cuda-gpu", "rocm-gpu", "apple-gpu", "cpu")
GIVEN = "given"                      # basis of a figure the user typed (--bandwidth, --tflops, --memory)
AUTO = "auto"
CUSTOM = "custom"
LOCAL = "local"

# 8 memory channels × DDR4-3200 (3200 MT/s × 8 bytes) = 204.8 GB/s: the per-socket memory configuration of
# AMD EPYC 7003 ("8 channels DDR4-3200") and 3rd-gen Intel Xeon Scalable (Ice Lake-SP, 8 channels DDR4-3200).
CPU_SOCKET_BANDWIDTH_GB_S = 204.8
CPU_SOCKET_BANDWIDTH_SOURCE = ("derived: 8 channels × DDR4-3200 × 8 B = 204.8 GB/s (AMD EPYC 7003 and Intel Xeon "
                               "Scalable 3rd gen: 8 DDR4-3200 channels per socket)")
MAX_THREADS = 4096
GIB = 2 ** 30                        # memory sizes are binary: "24 GB" of GDDR6X, "128 GB" unified = GiB
MAX_DEVICE_COUNT = 1024

# hardware.json "basis" -> the label every printed number carries.
_BASIS_LABEL = {"vendor": PUBLISHED, "vendor (via copy)": PUBLISHED, "third-party": PUBLISHED,
                "derived": ESTIMATED, "measured": MEASURED, "host": MEASURED}


@dataclass(frozen=True)
class Device:
    """One device (or ``count`` identical ones) as the latency and memory models see it.

    ``memory_gb`` is per device, in GB of 2^30 bytes as vendors count memory sizes (an "80 GB" A100 holds
    80 × 2^30 bytes; bandwidths are decimal, 1e9 B/s) (``None``: unknown — the fit check then says so); ``tflops`` the dense
    FP16/BF16 tensor rate (CPU: FP32); ``sources``/``basis`` map each figure's field name to its citation and
    its label (published | estimated | measured | given). ``detected_from`` says how this machine was
    identified (None for a preset or custom numbers); ``calibration`` is a
    :class:`predict.calibration.CalibratedProfile` for ``--hardware local``.
    """

    name: str
    kind: str                                   # cuda-gpu | rocm-gpu | apple-gpu | cpu
    memory_gb: Optional[float]
    bandwidth_gb_s: float
    tflops: float
    threads: Optional[int] = None
    count: int = 1
    sources: Dict[str, str] = field(default_factory=dict)
    detected_from: Optional[str] = None
    calibration: Optional[Any] = None
    description: str = ""
    preset: Optional[str] = None                # the hardware.json entry the figures come from
    basis: Dict[str, str] = field(default_factory=dict)
    fp32_tflops: Optional[float] = None

    def __hash__(self) -> int:                  # the dict fields are not part of the identity
        return hash((self.name, self.kind, self.memory_gb, self.bandwidth_gb_s, self.tflops, self.threads,
                     self.count, self.preset, self.detected_from))

    @property
    def total_memory_gb(self) -> Optional[float]:
        return None if self.memory_gb is None else self.memory_gb * self.count

    @property
    def is_this_machine(self) -> bool:
        """Detected here or calibrated here: measurements taken on this machine apply to it."""
        return self.detected_from is not None or self.calibration is not None

    @property
    def label(self) -> str:
        """``rtx4090``, ``2× h100``, ``cpu (8 threads)``."""
        base = f"{self.count}× {self.name}" if self.count > 1 else self.name
        return f"{base} ({self.threads} threads)" if self.kind == "cpu" and self.threads else base

    def summary(self) -> str:
        """One line: label, figures with their basis, and what was detected."""
        def fig(value: Optional[float], unit: str, key: str) -> str:
            return f"{'?' if value is None else f'{value:g}'} {unit} ({self.basis.get(key, '?')})"
        parts = [f"{self.label}: {fig(self.memory_gb, 'GB', 'memory_gb')}",
                 fig(self.bandwidth_gb_s, "GB/s", "bandwidth_gb_s"),
                 fig(self.tflops, "TFLOPS " + ("fp32" if self.kind == "cpu" else "fp16"), "tflops")]
        text = ", ".join(parts)
        if self.detected_from:
            text += f" — detected: {self.detected_from}"
        if self.calibration is not None:
            text += f" — calibration {getattr(self.calibration, 'name', '?')}"
        return text

    def to_dict(self) -> Dict[str, Any]:
        cal = self.calibration
        return {
            "name": self.name, "kind": self.kind, "description": self.description, "preset": self.preset,
            "count": self.count, "memory_gb": self.memory_gb, "total_memory_gb": self.total_memory_gb,
            "bandwidth_gb_s": self.bandwidth_gb_s, "tflops": self.tflops, "fp32_tflops": self.fp32_tflops,
            "threads": self.threads, "detected_from": self.detected_from,
            "calibration": None if cal is None else {"name": getattr(cal, "name", None),
                                                     "created_at": getattr(cal, "created_at", None),
                                                     "machine_id": getattr(cal, "machine_id", None)},
            "basis": dict(self.basis), "sources": dict(self.sources),
        }


# --- presets ----------------------------------------------------------------------------------------------

def _cite(fig: Any) -> str:
    text = f"{fig.basis}: {fig.source_title}"
    if fig.source_url:
        text += f" <{fig.source_url}>"
    if fig.read_at and fig.read_at != fig.source_url:
        text += f", read at <{fig.read_at}>"
    if fig.note:
        text += f" ({fig.note})"
    return text


def preset_names() -> List[str]:
    from draftfinder.predict.hardware_specs import load_hardware_specs

    return list(load_hardware_specs())


def _resolve_alias(name: str) -> Optional[str]:
    from draftfinder.predict.hardware_specs import hardware_aliases, load_hardware_specs

    key = name.strip().lower()
    key = hardware_aliases().get(key, key)
    return key if key in load_hardware_specs() else None


def _raw_preset(name: str) -> Dict[str, Any]:
    import json

    from draftfinder.predict.hardware_specs import HARDWARE_PATH

    return json.loads(HARDWARE_PATH.read_text(encoding="utf-8"))["presets"][name]


def preset_device(name: str, *, threads: Optional[int] = None) -> Device:
    """The preset called ``name`` (an alias is accepted) as a :class:`Device`; the ``cpu`` preset scaled to
    ``threads`` (default: this machine's cores). Raises :class:`UsageError` for an unknown name."""
    from draftfinder.predict.hardware_specs import load_hardware_specs

    key = _resolve_alias(name)
    if key is None:
        raise unknown_hardware(name)
    spec = load_hardware_specs()[key]
    if spec.kind == "cpu":
        return _cpu_device(key, threads=threads)
    kind = "apple-gpu" if spec.kind == "apple-gpu" else ("rocm-gpu" if spec.vendor == "AMD" else "cuda-gpu")
    sources = {"memory_gb": _cite(spec.memory_gb), "bandwidth_gb_s": _cite(spec.memory_bandwidth_gb_s)}
    basis = {"memory_gb": _BASIS_LABEL.get(spec.memory_gb.basis, ESTIMATED),
             "bandwidth_gb_s": _BASIS_LABEL.get(spec.memory_bandwidth_gb_s.basis, ESTIMATED)}
    tensor = spec.fp16_tensor_dense_tflops
    if tensor.value is not None:
        tflops, sources["tflops"], basis["tflops"] = float(tensor.value), _cite(tensor), _BASIS_LABEL.get(
            tensor.basis, ESTIMATED)
    else:
        # Only the RTX 5090 today: its FP16-accumulate dense rate is published, the FP32-accumulate one is not.
        acc16 = (_raw_preset(key).get("fp16_tensor_dense_tflops_fp16_acc") or {}).get("value")
        if acc16 is None:
            raise RuntimeError(f"hardware.json preset {key} has no tensor TFLOPS")   # a data bug, caught by tests
        tflops = float(acc16) / 2
        sources["tflops"] = (f"estimated (ours): FP16-accumulate dense {acc16:g} TFLOPS ÷ 2, Ada's FP32:FP16 "
                             f"accumulate ratio (the FP32-accumulate rate is unpublished; {_cite(tensor)})")
        basis["tflops"] = ESTIMATED
    fp32 = spec.fp32_tflops.value
    return Device(name=key, kind=kind, memory_gb=None if spec.memory_gb.value is None else float(spec.memory_gb.value),
                  bandwidth_gb_s=float(spec.memory_bandwidth_gb_s.value), tflops=tflops, threads=None, count=1,
                  sources=sources, basis=basis, description=spec.description, preset=key,
                  fp32_tflops=None if fp32 is None else float(fp32))


def _cpu_device(key: str, *, threads: Optional[int], model_name: Optional[str] = None,
                detected_from: Optional[str] = None) -> Device:
    """The ``cpu`` preset scaled to ``threads`` (module docstring; None: this machine's cores); memory = this
    machine's RAM."""
    from draftfinder.predict.hardware_specs import load_hardware_specs

    spec = load_hardware_specs()[key]
    measured_threads = int(_raw_preset(key).get("threads_measured") or 1)
    n = threads if threads is not None else this_machine_cores()[0]
    per_thread_bw = spec.memory_bandwidth_gb_s.value / measured_threads
    per_thread_tf = spec.fp32_tflops.value / measured_threads
    bandwidth = min(per_thread_bw * n, CPU_SOCKET_BANDWIDTH_GB_S)
    tflops = per_thread_tf * n
    mem = host_memory_gb()
    capped = per_thread_bw * n > CPU_SOCKET_BANDWIDTH_GB_S
    sources = {
        "bandwidth_gb_s": (f"estimated (ours): {per_thread_bw:g} GB/s per thread × {n} threads"
                           + (f", capped at {CPU_SOCKET_BANDWIDTH_GB_S:g} GB/s ({CPU_SOCKET_BANDWIDTH_SOURCE})"
                              if capped else "")
                           + f"; per-thread figure from {_cite(spec.memory_bandwidth_gb_s)} over {measured_threads} "
                             "threads"),
        "tflops": (f"estimated (ours): {per_thread_tf:g} TFLOPS fp32 per thread × {n} threads; per-thread figure "
                   f"from {_cite(spec.fp32_tflops)} over {measured_threads} threads"),
        "memory_gb": "measured: MemTotal in /proc/meminfo of this machine" if mem is not None
                     else "unknown: /proc/meminfo not readable (pass --memory GB)",
        "threads": "given (--threads)" if threads is not None else f"measured: {this_machine_cores()[1]}",
    }
    basis = {"bandwidth_gb_s": ESTIMATED, "tflops": ESTIMATED,
             "memory_gb": MEASURED if mem is not None else "unknown",
             "threads": GIVEN if threads is not None else MEASURED}
    desc = (f"{model_name}, {n} threads" if model_name
            else f"generic x86 server CPU, {n} threads (figures measured on 2 threads, scaled per thread)")
    return Device(name=key, kind="cpu", memory_gb=mem, bandwidth_gb_s=round(bandwidth, 4), tflops=round(tflops, 6),
                  threads=n, count=1, sources=sources, basis=basis, description=desc, preset=key,
                  detected_from=detected_from, fp32_tflops=round(tflops, 6))


# --- this machine -----------------------------------------------------------------------------------------

def host_memory_gb(meminfo: str = "/proc/meminfo") -> Optional[float]:
    """Total RAM in GB (2^30 bytes, see :class:`Device`) from /proc/meminfo (Linux) or ``sysctl hw.memsize``
    (macOS); None if neither."""
    try:
        for line in Path(meminfo).read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) * 1024 / GIB, 2)
    except (OSError, ValueError, IndexError):
        pass
    out = _sysctl("hw.memsize")
    if out and out.isdigit():
        return round(int(out) / GIB, 2)
    return None


def this_machine_cores() -> Tuple[int, str]:
    """(cores, how they were counted): physical cores this process may use."""
    from draftfinder.engine.threads import allowed_cpus, physical_cores

    physical, allowed = physical_cores(), allowed_cpus()
    n = max(1, min(physical, allowed))
    return n, f"{n} cores (physical cores {physical}, CPUs this process may use {allowed})"


def cpu_model_name(cpuinfo: str = "/proc/cpuinfo") -> Optional[str]:
    """``model name`` of /proc/cpuinfo (x86), or ``Model``/``Hardware`` (ARM), else ``platform.processor()``."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for key in ("model name", "Model", "Hardware"):
        m = re.search(rf"^{key}\s*:\s*(.+)$", text, re.MULTILINE)
        if m and m.group(1).strip():
            return re.sub(r"\s+", " ", m.group(1).strip())
    return platform.processor() or None


def _sysctl(key: str) -> Optional[str]:
    if platform.system() != "Darwin":
        return None
    try:
        out = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


# GPU / chip name -> preset. Patterns are matched against the lower-cased name with spaces and dashes removed;
# the first match wins (more specific names first). Names as the drivers report them, e.g. torch's
# get_device_name: "NVIDIA GeForce RTX 4090", "NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3", "NVIDIA H100
# PCIe", "NVIDIA RTX A6000", "NVIDIA L40S", "AMD Instinct MI300X"; sysctl's brand string "Apple M4 Max".
_NAME_PATTERNS: Tuple[Tuple[str, str], ...] = (
    (r"rtx3060", "rtx3060-12gb"), (r"rtx3090", "rtx3090"), (r"rtx4090", "rtx4090"), (r"rtx5090", "rtx5090"),
    (r"rtxa6000", "a6000"), (r"l40s", "l40s"),
    (r"a100.*40g", "a100-40gb"), (r"a100", "a100-80gb"),
    (r"h100.*pcie", "h100-pcie"), (r"h100", "h100"), (r"h200", "h200"), (r"mi300x", "mi300x"),
    (r"applem1max", "m1-max"), (r"applem2max", "m2-max"), (r"applem2ultra", "m2-ultra"), (r"applem3pro", "m3-pro"),
    (r"applem3max", "m3-max"), (r"applem3ultra", "m3-ultra"), (r"applem4pro", "m4-pro"), (r"applem4max", "m4-max"),
)


def match_preset(device_name: str) -> Optional[str]:
    """The preset for a device name as a driver reports it (``NVIDIA GeForce RTX 4090`` → ``rtx4090``), or None.

    The RTX 3060's 8 GB variant (a narrower bus) has no preset: pass the memory to tell them apart
    (see :func:`_gpu_from_name`)."""
    key = re.sub(r"[\s\-_]+", "", device_name.lower())
    for pattern, preset in _NAME_PATTERNS:
        if re.search(pattern, key):
            return preset
    return None


def _gpu_from_name(name: str, kind: str, memory_gb: Optional[float], count: int, how: str) -> Device:
    preset = match_preset(name)
    if preset == "rtx3060-12gb" and memory_gb is not None and memory_gb < 11:
        preset = None                                  # the 8 GB RTX 3060 (128-bit bus, 240 GB/s) is another card
    if preset is None:
        raise UsageError(
            f"detected {name} ({how}), which has no hardware preset",
            hint="describe it with --bandwidth GB/s --tflops T (--memory GB is read from the device), or choose a "
                 "preset with --hardware (draftfinder estimate --help lists them)")
    dev = preset_device(preset)
    sources, basis = dict(dev.sources), dict(dev.basis)
    if memory_gb is not None:
        sources["memory_gb"] = f"measured: {how}"
        basis["memory_gb"] = MEASURED
    return replace(dev, kind=kind, memory_gb=memory_gb if memory_gb is not None else dev.memory_gb, count=count,
                   detected_from=f"{how}: '{name}'" + (f" × {count}" if count > 1 else ""),
                   sources=sources, basis=basis)


def _gpu_driver_present() -> bool:
    """Cheap signs of an NVIDIA/AMD driver, so that a CPU-only machine never pays for ``import torch``."""
    if platform.system() == "Windows":
        return True
    return any(os.path.exists(p) for p in ("/proc/driver/nvidia/version", "/dev/nvidia0", "/dev/nvidiactl",
                                           "/dev/kfd", "/dev/dxg"))


def _detect_torch_gpu() -> Optional[Device]:
    import importlib.util

    if not _gpu_driver_present() or importlib.util.find_spec("torch") is None:
        return None
    import torch

    try:
        if not torch.cuda.is_available():
            return None
        count = torch.cuda.device_count()
        name = torch.cuda.get_device_name(0)
        memory = round(torch.cuda.get_device_properties(0).total_memory / GIB, 2)
    except Exception:  # a broken driver install: fall back to the CPU rather than fail every command
        return None
    kind = "rocm-gpu" if getattr(torch.version, "hip", None) else "cuda-gpu"
    return _gpu_from_name(name, kind, memory, count, "torch.cuda.get_device_name(0)")


def _detect_apple() -> Optional[Device]:
    brand = _sysctl("machdep.cpu.brand_string")
    if not brand or not brand.lower().startswith("apple"):
        return None                                    # an Intel Mac: its CPU is detected below
    memory = host_memory_gb()
    return _gpu_from_name(brand, "apple-gpu", memory, 1, "sysctl -n machdep.cpu.brand_string")


def detect_device(*, threads: Optional[int] = None) -> Device:
    """This machine: a CUDA/ROCm GPU through torch, an Apple chip through sysctl, else this CPU (the ``cpu``
    preset scaled to its cores, or ``threads``). ``detected_from`` says what was read."""
    gpu = _detect_cached()
    if gpu is not None:
        return gpu
    how = f"{threads} threads (--threads)" if threads is not None else this_machine_cores()[1]
    name = cpu_model_name() or "unknown CPU"
    source = "/proc/cpuinfo" if Path("/proc/cpuinfo").exists() else "platform.processor()"
    return _cpu_device("cpu", threads=threads, model_name=name,
                       detected_from=f"{source}: '{name}', {how}")


@lru_cache(maxsize=1)
def _detect_cached() -> Optional[Device]:
    return _detect_torch_gpu() or _detect_apple()


# --- one entry point --------------------------------------------------------------------------------------

def _saved_calibrations() -> List[str]:
    from draftfinder.predict.calibration import saved_profiles

    return saved_profiles()


def _is_calibration_name(name: str) -> bool:
    """``local``, a profile saved by ``draftfinder calibrate``, or a path to a profile file."""
    from draftfinder.predict.calibration import looks_like_path

    return name == LOCAL or looks_like_path(name) or name in _saved_calibrations()


def _local_device(name: str, threads: Optional[int]) -> Device:
    """This machine (detected) carrying the calibration profile ``name`` (:func:`calibration.load_profile`: its
    own one-line errors for a missing, corrupt or foreign profile)."""
    from draftfinder.predict.calibration import load_profile

    profile = load_profile(name)
    base = detect_device(threads=threads if threads is not None else (profile.threads or None))
    sources = dict(base.sources)
    sources["calibration"] = f"measured: {profile.describe()} ({profile.path or name})"
    return replace(base, name=f"local ({profile.name})" if profile.name != LOCAL else LOCAL, calibration=profile,
                   sources=sources)


def unknown_hardware(name: str) -> UsageError:
    """The one-line error for a name that is no preset, alias, ``custom``, ``local`` or saved calibration."""
    names = preset_names()
    close = difflib.get_close_matches(name.strip().lower(), names, n=1, cutoff=0.6)
    saved = _saved_calibrations()
    valid = ", ".join(names)
    extra = f"; saved calibrations: {', '.join(saved)}" if saved else ""
    did = f"did you mean {close[0]}? " if close else ""
    return UsageError(
        f"unknown hardware '{name}'",
        hint=f"{did}use one of: {valid}, auto (detect), custom, local (after `draftfinder calibrate`){extra}",
        hints={cmd: f"{did}use one of: {valid}; auto detects this machine, custom takes --bandwidth GB/s --tflops T "
                    f"--memory GB, local uses `draftfinder calibrate`{extra}" for cmd in ("find", "estimate")},
    )


def _check_figures(bandwidth_gb_s: Any, tflops: Any, memory_gb: Any, threads: Any, count: Any) -> Tuple:
    bw = check_number(bandwidth_gb_s, "--bandwidth", low=0, low_open=True, high=1e6, unit="GB/s",
                      hint="e.g. --bandwidth 1008 (GB/s, the memory bandwidth)", allow_none=True)
    tf = check_number(tflops, "--tflops", low=0, low_open=True, high=1e6, unit="dense TFLOP/s",
                      hint="e.g. --tflops 165 (dense fp16/bf16 tensor TFLOP/s; CPU: fp32)", allow_none=True)
    mem = check_number(memory_gb, "--memory", low=0, low_open=True, high=1e6, unit="GB",
                       hint="e.g. --memory 24 (GB per device)", allow_none=True)
    th = check_number(threads, "--threads", kind=int, low=1, high=MAX_THREADS, hint="e.g. --threads 16",
                      allow_none=True)
    n = check_number(count, "--device-count", kind=int, low=1, high=MAX_DEVICE_COUNT,
                     hint="e.g. --device-count 4 (identical devices; the fit check adds their memory)",
                     allow_none=True)
    return bw, tf, mem, th, n


def get_device(name: Optional[str] = None, *, bandwidth_gb_s: Optional[float] = None,
               tflops: Optional[float] = None, memory_gb: Optional[float] = None, threads: Optional[int] = None,
               count: Optional[int] = None, kind: Optional[str] = None) -> Device:
    """The device named by ``--hardware`` and the figure flags (module docstring for each case).

    ``name``: None or ``auto`` (detect this machine), a preset or alias, ``custom`` (needs ``bandwidth_gb_s``
    and ``tflops``), ``local`` or a saved calibration's name. ``bandwidth_gb_s``/``tflops``/``memory_gb`` given
    with a preset or detection replace its figure (labelled given); ``threads`` sizes a CPU; ``count`` identical
    devices; ``kind`` the kind of custom hardware (default cuda-gpu, or cpu when ``threads`` is given).
    """
    bw, tf, mem, th, n = _check_figures(bandwidth_gb_s, tflops, memory_gb, threads, count)
    if kind is not None and kind not in DEVICE_KINDS:
        raise UsageError(f"unknown device kind '{kind}'", hint=f"use one of: {', '.join(DEVICE_KINDS)}")
    key = (name or AUTO).strip()
    low = key.lower()
    if low == CUSTOM:
        if bw is None or tf is None:
            missing = " and ".join(f for f, v in (("--bandwidth GB/s", bw), ("--tflops T", tf)) if v is None)
            raise UsageError(f"--hardware custom needs {missing}",
                             hint="e.g. --hardware custom --bandwidth 1008 --tflops 165 --memory 24")
        k = kind or ("cpu" if th is not None else "cuda-gpu")
        dev = Device(name=CUSTOM, kind=k, memory_gb=None, bandwidth_gb_s=bw, tflops=tf, threads=th,
                     sources={"memory_gb": "unknown: pass --memory GB for the fit check"},
                     basis={"memory_gb": "unknown"}, description=f"custom {k}",
                     fp32_tflops=tf if k == "cpu" else None)
    elif low == AUTO:
        dev = _detect_or_describe(th, bw, tf)
    else:
        preset = _resolve_alias(key)
        if preset is not None:
            dev = preset_device(preset, threads=th)
        elif _is_calibration_name(key):
            dev = _local_device(key, th)
        else:
            raise unknown_hardware(key)
        if kind is not None and kind != dev.kind:
            raise UsageError(f"--device-kind {kind} contradicts --hardware {key} ({dev.kind})",
                             hint="drop --device-kind, or use --hardware custom with your own figures")
    return _override(dev, bw, tf, mem, n)


def _detect_or_describe(threads: Optional[int], bw: Optional[float], tf: Optional[float]) -> Device:
    """Detection; a GPU without a preset is described by --bandwidth/--tflops when both are given."""
    try:
        return detect_device(threads=threads)
    except UsageError as err:
        if bw is None or tf is None:
            raise
        m = re.match(r"detected (.+) \((.+)\), which has no hardware preset", err.message)
        name = m.group(1) if m else "this device"
        return Device(name=name, kind="cuda-gpu", memory_gb=None, bandwidth_gb_s=bw, tflops=tf,
                      detected_from=f"{m.group(2) if m else 'detection'}: '{name}'", description=name)


def _override(dev: Device, bw: Optional[float], tf: Optional[float], mem: Optional[float],
              count: Optional[int]) -> Device:
    sources, basis, changes = dict(dev.sources), dict(dev.basis), {}
    for key, value, flag in (("bandwidth_gb_s", bw, "--bandwidth"), ("tflops", tf, "--tflops"),
                             ("memory_gb", mem, "--memory")):
        if value is not None:
            changes[key] = value
            sources[key] = f"given ({flag})"
            basis[key] = GIVEN
    if count is not None:
        changes["count"] = count
        sources["count"] = "given (--device-count)"
    return replace(dev, sources=sources, basis=basis, **changes) if changes else dev


# --- the engine a prediction is for -----------------------------------------------------------------------

def engine_names() -> Tuple[str, ...]:
    """The engines the latency model knows (:data:`predict.latency.ENGINES` once it exists)."""
    from draftfinder.predict import latency

    return tuple(getattr(latency, "ENGINES", ("llama.cpp", "vllm", "sglang", "transformers", "draftfinder")))


DEFAULT_ENGINE_RULE = ("llama.cpp for GGUF models and on Apple chips and CPUs (llama-server, the snippet that "
                       "runs there); vLLM on CUDA and ROCm GPUs (vllm serve, the serving snippet)")


def default_engine(device: Device, *, gguf: bool = False) -> str:
    """The engine predictions are for when ``--engine`` is not given (:data:`DEFAULT_ENGINE_RULE`)."""
    if gguf or device.kind in ("apple-gpu", "cpu"):
        return "llama.cpp"
    return "vllm"


def default_engine_reason(device: Device, *, gguf: bool = False) -> str:
    """Why :func:`default_engine` chose what it chose, in a few words (for the report)."""
    why = "a GGUF model" if gguf else {"apple-gpu": "an Apple chip", "cpu": "a CPU", "cuda-gpu": "a CUDA GPU",
                                        "rocm-gpu": "a ROCm GPU"}.get(device.kind, device.kind)
    return f"default for {why}: llama.cpp for GGUF, Apple chips and CPUs, vLLM on GPUs; --engine to choose"


def check_engine(engine: Optional[str]) -> Optional[str]:
    """``engine`` normalised (``llamacpp``/``llama-cpp`` → ``llama.cpp``), or a one-line error listing them."""
    if engine is None:
        return None
    key = engine.strip().lower()
    key = {"llamacpp": "llama.cpp", "llama-cpp": "llama.cpp", "llama_cpp": "llama.cpp", "hf": "transformers",
           "engine": "draftfinder"}.get(key, key)
    names = engine_names()
    if key not in names:
        raise UsageError(f"unknown engine '{engine}'", hint=f"use one of: {', '.join(names)}")
    return key


__all__ = ["AUTO", "CPU_SOCKET_BANDWIDTH_GB_S", "CUSTOM", "DEFAULT_ENGINE_RULE", "DEVICE_KINDS", "Device", "GIVEN",
           "LOCAL", "check_engine", "cpu_model_name", "default_engine", "default_engine_reason", "detect_device", "engine_names",
           "get_device", "host_memory_gb", "match_preset", "preset_device", "preset_names", "this_machine_cores",
           "unknown_hardware"]
