"""Where the engine runs: ``--device`` / ``--dtype`` resolution, multi-GPU placement, device-aware timing.

One module for every command that runs models (generate, chat, measure, train, sweep's engine and hf backends).
The decisions are pure functions of what torch reports (:class:`Accelerators`, read once by :func:`probe`), so
each rule is tested with explicit inputs on a machine without a GPU:

==================  ===========================================================================================
``--device``        ``auto`` → ``cuda:0`` when a CUDA device is visible, else ``mps`` when available, else ``cpu``;
                    ``cuda`` → ``cuda:0`` (and the target may spread over every visible GPU, see placement);
                    ``cuda:N`` → that GPU only; ``mps``; ``cpu``. An absent device is a one-line
                    :class:`~draftfinder.errors.DeviceUnavailableError` naming what was found.
``--dtype``         ``auto`` → bf16 on a CUDA GPU that supports it, fp16 on other GPUs and on mps, fp32 on the CPU;
                    ``bf16`` / ``fp16`` / ``fp32`` as asked (bf16 on a CUDA GPU without it is refused).
placement           a target whose weights (parameters × bytes per element) exceed
                    :data:`GPU_MEMORY_HEADROOM` × the free memory of ``cuda:0`` is loaded with
                    ``device_map="auto"`` (accelerate) and ``max_memory`` = that share of each visible GPU's free
                    memory; the rest stays on one device. Inputs go to the device of the input embeddings.
timing              :func:`timer` — ``time.perf_counter`` itself on the CPU; on CUDA / mps the clock first waits
                    for the device's queued kernels (``torch.cuda.synchronize`` on every visible GPU /
                    ``torch.mps.synchronize``), so a phase's time is the device's, not the launch's.
==================  ===========================================================================================

Seeded sampling is reproducible per device, not across devices: each device has its own random generator
(``generator_for``), so CPU and CUDA runs with one seed draw different streams.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from draftfinder.errors import DeviceUnavailableError, UsageError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
DTYPE_CHOICES = ("auto", "bf16", "fp16", "fp32")
DTYPE_ALIASES = {"bf16": "bf16", "bfloat16": "bf16", "fp16": "fp16", "float16": "fp16", "half": "fp16",
                 "fp32": "fp32", "float32": "fp32", "float": "fp32", "auto": "auto"}
TORCH_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
BYTES_PER_ELEMENT = {"bf16": 2, "fp16": 2, "fp32": 4}
GPU_MEMORY_HEADROOM = 0.85    # share of a GPU's free memory the weights may take (the rest: KV cache, activations)

_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda)(?::(\d+))?$")


# ---------------------------------------------------------------------------------------------------
# what torch reports
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Gpu:
    """One visible CUDA device."""

    index: int
    name: str
    total_memory_bytes: int
    free_memory_bytes: int
    bf16_supported: bool


@dataclass(frozen=True)
class Accelerators:
    """What the installed torch can run on, as :func:`probe` read it (or a test wrote it)."""

    torch_version: str
    cuda_build: Optional[str] = None              # torch.version.cuda; None for a CPU-only build
    gpus: Tuple[Gpu, ...] = ()
    mps_built: bool = False
    mps_available: bool = False

    def found(self) -> str:
        """"cpu, cuda:0 (NVIDIA A100-SXM4-80GB), mps" — every device a run could use."""
        names = ["cpu"] + [f"cuda:{g.index} ({g.name})" for g in self.gpus]
        return ", ".join(names + (["mps"] if self.mps_available else []))

    def to_dict(self) -> Dict[str, Any]:
        return {"torch": self.torch_version, "cuda_build": self.cuda_build, "mps_available": self.mps_available,
                "gpus": [{"index": g.index, "name": g.name, "total_memory_bytes": g.total_memory_bytes,
                          "free_memory_bytes": g.free_memory_bytes, "bf16_supported": g.bf16_supported}
                         for g in self.gpus]}


def probe() -> Accelerators:
    """Read the real torch: CUDA build and devices (name, memory, bf16), MPS. Initialises CUDA only when a
    device is there (``torch.cuda.is_available``)."""
    import torch

    gpus: List[Gpu] = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            try:
                free, total = torch.cuda.mem_get_info(i)
            except RuntimeError:                      # a busy / MIG device: fall back on the total
                free, total = props.total_memory, props.total_memory
            with torch.cuda.device(i):
                bf16 = bool(torch.cuda.is_bf16_supported())
            gpus.append(Gpu(i, str(props.name), int(total), int(free), bf16))
    mps = getattr(torch.backends, "mps", None)
    return Accelerators(torch_version=str(torch.__version__), cuda_build=getattr(torch.version, "cuda", None),
                        gpus=tuple(gpus), mps_built=bool(mps and mps.is_built()),
                        mps_available=bool(mps and mps.is_available()))


# ---------------------------------------------------------------------------------------------------
# resolution rules (pure)
# ---------------------------------------------------------------------------------------------------

def parse_device(text: Any, flag: str = "--device") -> str:
    """The normalised spelling of a device request ("auto", "cpu", "cuda", "cuda:N", "mps"); ``UsageError`` for
    anything else. No torch needed: a typo is refused before anything loads."""
    value = str(text if text is not None else "auto").strip().lower()
    if not _DEVICE_RE.match(value) or (value.startswith(("auto", "cpu", "mps")) and ":" in value):
        raise UsageError(f"{flag}: unknown device '{text}'", hint=f"use one of: {' | '.join(DEVICE_CHOICES)}")
    return value


def parse_dtype(text: Any, flag: str = "--dtype") -> str:
    """"auto", "bf16", "fp16" or "fp32" (also accepts bfloat16, float16, half, float32); ``UsageError`` else."""
    value = str(text if text is not None else "auto").strip().lower().replace("torch.", "")
    if value not in DTYPE_ALIASES:
        raise UsageError(f"{flag}: unknown dtype '{text}'", hint=f"use one of: {' | '.join(DTYPE_CHOICES)}")
    return DTYPE_ALIASES[value]


def resolve_device(requested: str, acc: Accelerators, flag: str = "--device") -> str:
    """The concrete device ("cpu", "cuda:N", "mps") for a request (see the module table); raises
    :class:`DeviceUnavailableError` when the requested device is not there."""
    req = parse_device(requested, flag)
    if req == "auto":
        if acc.gpus:
            return "cuda:0"
        return "mps" if acc.mps_available else "cpu"
    if req == "cpu":
        return "cpu"
    if req == "mps":
        if not acc.mps_available:
            why = "this torch was built without MPS" if not acc.mps_built else "MPS is built but not available " \
                                                                               "(macOS 12.3+ on Apple silicon)"
            raise DeviceUnavailableError(flag, req, f"no MPS device ({why}; found: {acc.found()})",
                                         fix="an Apple-silicon Mac")
        return "mps"
    index = int(req.split(":")[1]) if ":" in req else 0
    if not acc.gpus:
        if acc.cuda_build is None:
            why = f"torch {acc.torch_version} is a CPU build"
            fix = "a CUDA build of torch (README, \"GPUs\")"
        else:
            why = f"torch {acc.torch_version} is built for CUDA {acc.cuda_build} but sees no GPU (driver, " \
                  "CUDA_VISIBLE_DEVICES)"
            fix = "a visible NVIDIA GPU"
        raise DeviceUnavailableError(flag, req, f"no CUDA device ({why}; found: {acc.found()})", fix=fix)
    if index >= len(acc.gpus):
        raise DeviceUnavailableError(flag, req, f"no CUDA device {index} ({len(acc.gpus)} visible: "
                                                f"{acc.found()})", fix=None,
                                     alternative=f"cuda:{len(acc.gpus) - 1}" if len(acc.gpus) > 1 else "cuda")
    return f"cuda:{index}"


def resolve_dtype(requested: str, device: str, acc: Accelerators, flag: str = "--dtype") -> str:
    """"bf16" / "fp16" / "fp32" for a request on the resolved ``device`` (see the module table)."""
    req = parse_dtype(requested, flag)
    gpu = _gpu(device, acc)
    if req == "auto":
        if device.startswith("cuda"):
            return "bf16" if gpu is not None and gpu.bf16_supported else "fp16"
        return "fp16" if device == "mps" else "fp32"
    if req == "bf16" and gpu is not None and not gpu.bf16_supported:
        raise UsageError(f"{flag} bf16: {device} ({gpu.name}) has no bfloat16 support",
                         hint=f"use {flag} fp16 (or auto)" if flag.startswith("--")
                         else f"set {flag}: fp16 (or auto)")
    return req


def _gpu(device: str, acc: Accelerators) -> Optional[Gpu]:
    if not device.startswith("cuda"):
        return None
    index = int(device.split(":")[1]) if ":" in device else 0
    return acc.gpus[index] if index < len(acc.gpus) else None


# ---------------------------------------------------------------------------------------------------
# placement (pure)
# ---------------------------------------------------------------------------------------------------

@dataclass
class Placement:
    """Where a model's weights go: one device, or ``device_map="auto"`` over the visible GPUs."""

    device: str                                   # the device inputs go to (the first one when spread)
    device_map: Optional[str] = None              # "auto" when spread over GPUs by accelerate, else None
    max_memory: Optional[Dict[Any, int]] = None   # accelerate's max_memory per GPU index (bytes), when spread
    weights_bytes: Optional[int] = None           # estimated: parameters × bytes per element of the dtype
    reason: str = ""
    devices: List[str] = field(default_factory=list)   # filled after loading: the devices that hold weights

    def to_dict(self) -> Dict[str, Any]:
        return {"device": self.device, "device_map": self.device_map, "weights_bytes": self.weights_bytes,
                "max_memory_bytes": {str(k): v for k, v in (self.max_memory or {}).items()} or None,
                "devices": list(self.devices), "reason": self.reason}


def plan_placement(requested: str, device: str, weights_bytes: Optional[int], acc: Accelerators,
                   headroom: float = GPU_MEMORY_HEADROOM) -> Placement:
    """One device, unless the request is ``cuda`` or ``auto`` (not a pinned ``cuda:N``), several GPUs are
    visible, and the weights do not fit ``headroom`` × the free memory of the first: then ``device_map="auto"``
    with ``max_memory`` = ``headroom`` × each GPU's free memory (accelerate fills the GPUs in order; what still
    does not fit would be offloaded to CPU RAM, which the reason says)."""
    size = f"{weights_bytes / 2**30:.1f} GiB" if weights_bytes else "size unknown"
    gpu = _gpu(device, acc)
    if gpu is None:
        return Placement(device=device, weights_bytes=weights_bytes, reason=f"one device ({device}; {size})")
    budget = int(gpu.free_memory_bytes * headroom)
    fits = weights_bytes is None or weights_bytes <= budget
    pinned = ":" in parse_device(requested)
    if fits or pinned or len(acc.gpus) < 2:
        why = f"fits {device}" if fits else (f"pinned to {device} although larger than {headroom:.0%} of its free "
                                             f"memory ({budget / 2**30:.1f} GiB)" if pinned else
                                             f"larger than {headroom:.0%} of {device}'s free memory "
                                             f"({budget / 2**30:.1f} GiB) and no other GPU is visible")
        return Placement(device=device, weights_bytes=weights_bytes, reason=f"one device ({why}; {size})")
    max_memory = {g.index: int(g.free_memory_bytes * headroom) for g in acc.gpus}
    total = sum(max_memory.values())
    spill = "" if weights_bytes <= total else "; more than all GPUs hold: accelerate offloads the rest to CPU RAM"
    return Placement(device=f"cuda:{acc.gpus[0].index}", device_map="auto", max_memory=max_memory,
                     weights_bytes=weights_bytes,
                     reason=f"device_map=auto over {len(acc.gpus)} GPUs ({size} > {budget / 2**30:.1f} GiB on "
                            f"{device}){spill}")


def estimate_weights_bytes(record: Any, dtype: str) -> Optional[int]:
    """Parameters × bytes per element of ``dtype``: parameters from the safetensors headers when known, else
    from the config's architecture formula (``models/params.count_from_config``); None when neither works."""
    params = None
    counts = getattr(record, "safetensors_parameters", None)
    if counts:
        params = sum(int(v) for v in counts.values())
    elif getattr(record, "config", None):
        from draftfinder.models.params import count_from_config

        try:
            params = count_from_config(record.config).total or None
        except Exception:                              # an architecture the formula does not know
            params = None
    return None if params is None else params * BYTES_PER_ELEMENT[parse_dtype(dtype)]


# ---------------------------------------------------------------------------------------------------
# the resolved pair
# ---------------------------------------------------------------------------------------------------

@dataclass
class Target:
    """A resolved ``--device`` / ``--dtype`` pair (what to load models with), and how it was decided."""

    device: str                                   # "cpu", "cuda:N", "mps"
    dtype: str                                    # "bf16", "fp16", "fp32"
    requested_device: str = "auto"
    requested_dtype: str = "auto"
    accelerators: Optional[Accelerators] = None

    @property
    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, TORCH_DTYPES[self.dtype])

    def to_dict(self) -> Dict[str, Any]:
        return {"device": self.device, "dtype": self.dtype, "requested_device": self.requested_device,
                "requested_dtype": self.requested_dtype,
                "gpus": [g.name for g in self.accelerators.gpus] if self.accelerators else []}


def load_kwargs(place: Optional[Target]) -> Dict[str, Any]:
    """``engine.loading.load_model`` keywords for a resolved pair (none: the CPU in float32, as always)."""
    if place is None:
        return {}
    return {"dtype": place.dtype, "device": place.device, "requested_device": place.requested_device}


def resolve(device: Any = "auto", dtype: Any = "auto", *, device_flag: str = "--device", dtype_flag: str = "--dtype",
            acc: Optional[Accelerators] = None) -> Target:
    """Both flags at once, against ``acc`` (default: :func:`probe` of the real torch)."""
    req_dev, req_dt = parse_device(device, device_flag), parse_dtype(dtype, dtype_flag)
    acc = acc if acc is not None else probe()
    dev = resolve_device(req_dev, acc, device_flag)
    return Target(device=dev, dtype=resolve_dtype(req_dt, dev, acc, dtype_flag), requested_device=req_dev,
                  requested_dtype=req_dt, accelerators=acc)


# ---------------------------------------------------------------------------------------------------
# runtime helpers
# ---------------------------------------------------------------------------------------------------

def input_device(model: Any) -> Any:
    """The device a model's inputs go to: its input embeddings' (the first device under a ``device_map``)."""
    emb = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    weight = getattr(emb, "weight", None)
    if weight is not None:
        return weight.device
    return next(model.parameters()).device


def weight_devices(model: Any) -> List[str]:
    """Every device that holds some of ``model``'s weights, in first-use order (e.g. ["cuda:0", "cuda:1"])."""
    seen: List[str] = []
    for p in model.parameters():
        name = str(p.device)
        if name not in seen:
            seen.append(name)
    return seen


def synchronize(device: Any) -> None:
    """Wait for every kernel queued on ``device`` (and on every visible GPU for a CUDA device: a model spread
    over several runs on all of them). A no-op on the CPU."""
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cuda":
        import torch

        for i in range(torch.cuda.device_count()):
            torch.cuda.synchronize(i)
    elif kind == "mps":
        import torch

        torch.mps.synchronize()


def timer(device: Any) -> Callable[[], float]:
    """A clock for timing work on ``device``: ``time.perf_counter`` on the CPU (no overhead, identical
    timings), else a function that synchronises the device before reading ``perf_counter``."""
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cpu":
        return time.perf_counter

    def clock() -> float:
        synchronize(device)
        return time.perf_counter()

    return clock


def generator_for(device: Any, seed: int) -> Any:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (the CPU generator on the CPU, as before)."""
    import torch

    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cpu":
        return torch.Generator().manual_seed(int(seed))
    return torch.Generator(device=device).manual_seed(int(seed))


def describe_devices(devices: Sequence[str]) -> str:
    return " + ".join(devices) if devices else "cpu"
