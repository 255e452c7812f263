"""Hardware profiles and a latency model of batch-1 decoding: where the cost ratio ``c`` comes from.

Latency of one forward pass over ``n`` new tokens at batch size 1 (a roofline with a fixed overhead)::

    step_latency_ms = max(weight_bytes / effective_bandwidth,          # read every weight once
                          n · 2·params / effective_flops)             # 2 FLOPs per weight per token
                      + num_layers · per_layer_overhead_ms            # kernel launches, framework dispatch
                      + per_step_overhead_ms                          # sampling, host sync

    weight_bytes        = params · bits_per_param / 8
    effective_bandwidth = memory_bandwidth_gb_s · bandwidth_efficiency
    effective_flops     = peak_tflops · compute_efficiency

- The memory term is the standard batch-1 decode bound (every weight is read once per forward pass; see
  gpt-fast's README, which reports decode speed as achieved GB/s, and Leviathan 2023 §3.4, "the target
  model's weights … can be read once per execution").
- ``2·params`` FLOPs per token is the usual dense-transformer estimate (Kaplan et al. 2020, "Scaling Laws
  for Neural Language Models", §2.1, C_forward ≈ 2N), attention over the context is ignored.
- Because the memory term does not grow with ``n``, verifying ``k+1`` tokens costs about one step on a GPU;
  on a CPU the compute term overtakes it after a few tokens (see the ``cpu`` profile's calibration).

Derived ratios used by :mod:`draftfinder.predict.speedup`:

- ``cost_ratio(target, draft)``  = T_draft(1 token) / T_target(1 token)      (Leviathan's c, Definition 3.7)
- ``verify_cost(target, k)``     = T_target(k+1 tokens) / T_target(1 token)  (our extension, 1 in the paper)

Not modelled (known gaps): KV-cache and activation traffic (grows with context length), untied input
embeddings (only one row is read per token, yet ``params`` counts the whole matrix), tensor parallelism,
CPU offload, and the non-monotone small-batch GEMM behaviour measured on CPU (2–3-token passes slower than
4–5-token ones). Every function takes plain numbers so it serves ModelInfo and the what-if calculator alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Sequence, Tuple, Union

from draftfinder.errors import UsageError


# --- profiles -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HardwareProfile:
    """One accelerator (or CPU) as the latency model sees it. ``sources`` cites every figure."""

    name: str
    description: str
    memory_bandwidth_gb_s: float        # peak memory bandwidth, GB/s (1e9 bytes/s)
    bandwidth_efficiency: float         # fraction of it batch-1 decoding achieves
    peak_tflops: float                  # peak dense throughput at compute_dtype, TFLOP/s
    compute_dtype: str                  # the dtype peak_tflops refers to
    compute_efficiency: float           # fraction of peak reached by the small GEMMs of a verify pass
    per_layer_overhead_ms: float        # fixed cost per transformer layer per forward pass
    per_step_overhead_ms: float = 0.0   # fixed cost per forward pass (sampling, host sync)
    sources: Dict[str, str] = field(default_factory=dict)   # field name -> citation / how it was obtained

    @property
    def effective_bandwidth_gb_s(self) -> float:
        return self.memory_bandwidth_gb_s * self.bandwidth_efficiency

    @property
    def effective_tflops(self) -> float:
        return self.peak_tflops * self.compute_efficiency

    def to_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "memory_bandwidth_gb_s": self.memory_bandwidth_gb_s,
            "bandwidth_efficiency": self.bandwidth_efficiency,
            "effective_bandwidth_gb_s": round(self.effective_bandwidth_gb_s, 4),
            "peak_tflops": self.peak_tflops,
            "compute_dtype": self.compute_dtype,
            "compute_efficiency": self.compute_efficiency,
            "effective_tflops": round(self.effective_tflops, 6),
            "per_layer_overhead_ms": self.per_layer_overhead_ms,
            "per_step_overhead_ms": self.per_step_overhead_ms,
            "sources": dict(self.sources),
        }


# --- calibration data -----------------------------------------------------------------------------------
# Each fitted constant below is reproduced by a function in this module from these rows, and
# tests/predict/test_latency.py checks that the stored constant equals the refit, and checks the model out of
# sample on rows held out of the fit (GPU_HELD_OUT).

@dataclass(frozen=True)
class CpuMeasurement:
    """One timing from this project's CPU machine (2-core AMD EPYC KVM guest, PyTorch eager, 2026-11)."""

    model: str
    params: int
    num_layers: int
    bits_per_param: float
    tokens_per_s: float          # plain greedy decoding, 1 token per forward pass
    verify5_ratio: float         # T(5-token pass) / T(1-token step)


# Parameter counts: SmolLM2-135M counted from its config.json (../shared/fixtures, 30 layers, hidden 576,
# intermediate 1536, 9/3 heads, vocab 49152, tied embeddings); Gemma-3-270M from google/gemma-3-270m's
# architecture (18 layers, hidden 640, vocab 262144 tied; model card: "170M embedding + 100M transformer").
# bits_per_param = 32: the runs were fp32 (PyTorch's CPU default). They cannot have been bf16: on this
# machine a bf16 5×4096×4096 GEMM runs at ~195 GFLOP/s, too fast to make a 5-token pass cost 1.57×.
CPU_MEASUREMENTS: Tuple[CpuMeasurement, ...] = (
    CpuMeasurement("HuggingFaceTB/SmolLM2-135M", 134_515_008, 30, 32, tokens_per_s=14.0, verify5_ratio=1.57),
    CpuMeasurement("google/gemma-3-270m", 268_098_176, 18, 32, tokens_per_s=9.0, verify5_ratio=1.81),
)

# Peak figures of this machine, measured by us with PyTorch 2.13 (2 threads), 2026-11: sum over a 512 MiB
# fp32 tensor (read bandwidth) and a 512×4096 @ 4096×4096 fp32 matmul (GEMM throughput).
CPU_PEAK_READ_BANDWIDTH_GB_S = 33.6
CPU_PEAK_FP32_TFLOPS = 0.201


@dataclass(frozen=True)
class GpuDecodeMeasurement:
    """A published batch-1 decode speed, used to fit the shared GPU efficiency and per-layer overhead."""

    source: str
    hardware: str
    model: str
    weight_bytes: float
    num_layers: int
    tokens_per_s: float


# Two published batch-1 decode speeds on two engines; the GPU bandwidth efficiency and per-layer overhead
# are the (exact) solution of these two equations, assuming both GPUs share them.
GPU_MEASUREMENTS: Tuple[GpuDecodeMeasurement, ...] = (
    GpuDecodeMeasurement(
        source="pytorch-labs/gpt-fast README, Benchmarks table (A100-80GB power-limited to 330 W, batch 1, "
        "torch.compile): Llama-2-7B Base 104.9 tokens/s",
        hardware="a100-80gb",
        model="meta-llama/Llama-2-7b (6,738,415,616 params, bf16)",
        weight_bytes=6_738_415_616 * 2,
        num_layers=32,
        tokens_per_s=104.9,
    ),
    GpuDecodeMeasurement(
        source="geerlingguy/ai-benchmarks issue #43 'Benchmark Nvidia RTX 4090' (llama-bench build 7340, "
        "Vulkan): tinyllama-1.1b Q4_K_M, 636.18 MiB, tg128 762.37 t/s",
        hardware="rtx4090",
        model="TinyLlama-1.1B Q4_K_M (636.18 MiB)",
        weight_bytes=636.18 * 2**20,
        num_layers=22,
        tokens_per_s=762.37,
    ),
)

# Held out of the fit (validation only): the other single-A100 rows of the same gpt-fast table (quantized weights;
# the 70B Base row is OOM). Weight bytes: int8 = 1 byte per parameter; int4 with group size 32 = 4 bits plus a
# bf16 scale and zero per 32 weights = 5 bits. Llama-2-70B: 68,976,648,192 parameters, 80 layers. The roofline
# is an upper bound on them (tests/predict/test_latency.py): within +30 % for int8, but +46–63 % for int4, whose
# dequantizing kernels do not reach the memory bound — a known gap of the model.
_GPT_FAST = ("pytorch-labs/gpt-fast README, Benchmarks table (A100-80GB power-limited to 330 W, batch 1, "
             "torch.compile)")
GPU_HELD_OUT: Tuple[GpuDecodeMeasurement, ...] = (
    GpuDecodeMeasurement(f"{_GPT_FAST}: Llama-2-7B 8-bit 155.58 tokens/s", "a100-80gb",
                         "meta-llama/Llama-2-7b int8", 6_738_415_616 * 1.0, 32, 155.58),
    GpuDecodeMeasurement(f"{_GPT_FAST}: Llama-2-7B 4-bit (G=32) 196.80 tokens/s", "a100-80gb",
                         "meta-llama/Llama-2-7b int4 g32", 6_738_415_616 * 5 / 8, 32, 196.80),
    GpuDecodeMeasurement(f"{_GPT_FAST}: Llama-2-70B 8-bit 19.13 tokens/s", "a100-80gb",
                         "meta-llama/Llama-2-70b int8", 68_976_648_192 * 1.0, 80, 19.13),
    GpuDecodeMeasurement(f"{_GPT_FAST}: Llama-2-70B 4-bit (G=32) 25.25 tokens/s", "a100-80gb",
                         "meta-llama/Llama-2-70b int4 g32", 68_976_648_192 * 5 / 8, 80, 25.25),
)

# Vendor peak figures.
_PEAK = {
    "rtx4090": (1008.0, 165.2),     # GB/s, TFLOPS FP16/BF16 tensor (FP32 accumulate), dense
    "a100-80gb": (2039.0, 312.0),   # SXM4 80GB: GB/s, TFLOPS BF16 tensor, dense
    "h100": (3350.0, 989.0),        # SXM5 80GB: GB/s, TFLOPS BF16 tensor, dense
    "m4-max": (546.0, 13.0),        # GB/s (Apple); TFLOPS is our scaling, see the profile's sources
}

# The compute efficiency of GPUs on a verify pass's skinny GEMMs: an assumption of ours (no published
# figure found). It only matters once k+1 tokens make the compute term exceed the memory term, which for
# GPUs at batch 1 happens only for very long drafts on the M4 Max.
GPU_COMPUTE_EFFICIENCY_ASSUMED = 0.5


def _solve(a: List[List[float]], b: List[float]) -> List[float]:
    """Solve a small dense linear system by Gaussian elimination with partial pivoting."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[piv][col]) < 1e-300:
            raise ValueError("singular calibration system")
        m[col], m[piv] = m[piv], m[col]
        for r in range(n):
            if r != col:
                f = m[r][col] / m[col][col]
                for cc in range(col, n + 1):
                    m[r][cc] -= f * m[col][cc]
    return [m[i][n] / m[i][i] for i in range(n)]


def _weighted_lstsq(rows: Sequence[Sequence[float]], obs: Sequence[float], weights: Sequence[float]) -> List[float]:
    """Weighted least squares via the normal equations (tiny systems only)."""
    p = len(rows[0])
    ata = [[sum(w * r[i] * r[j] for r, w in zip(rows, weights)) for j in range(p)] for i in range(p)]
    atb = [sum(w * r[i] * y for r, y, w in zip(rows, obs, weights)) for i in range(p)]
    return _solve(ata, atb)


def fit_cpu_profile(measurements: Sequence[CpuMeasurement] = CPU_MEASUREMENTS) -> Dict[str, float]:
    """Refit the ``cpu`` profile's effective bandwidth, effective FLOP/s and per-layer overhead.

    Each measurement gives two equations of the latency model: the 1-token step (memory-bound) and the
    5-token pass (compute-bound) —
    ``1000/tok_s = bytes·u + L·o`` and ``verify5·1000/tok_s = 5·2·P·v + L·o`` —
    solved for u (ms/byte), v (ms/FLOP), o (ms/layer) by least squares on *relative* error (2 models ×
    2 equations, 3 unknowns). Returns effective GB/s, effective TFLOP/s and ms/layer. The regime assumption
    is checked in the tests (the fitted model is memory-bound at 1 token and compute-bound at 5).
    """
    rows, obs = [], []
    for m in measurements:
        t1 = 1000.0 / m.tokens_per_s
        rows.append([m.params * m.bits_per_param / 8, 0.0, m.num_layers])
        obs.append(t1)
        rows.append([0.0, 5 * 2.0 * m.params, m.num_layers])
        obs.append(t1 * m.verify5_ratio)
    u, v, o = _weighted_lstsq(rows, obs, [1.0 / y**2 for y in obs])
    return {
        "effective_bandwidth_gb_s": 1.0 / u / 1e6,      # bytes/ms -> GB/s
        "effective_tflops": 1.0 / v / 1e9,              # FLOP/ms -> TFLOP/s
        "per_layer_overhead_ms": o,
    }


def fit_gpu_overhead(measurements: Sequence[GpuDecodeMeasurement] = GPU_MEASUREMENTS) -> Dict[str, float]:
    """Solve the shared GPU ``bandwidth_efficiency`` e and ``per_layer_overhead_ms`` o exactly from two
    published decode speeds: ``1000/tok_s = bytes / (peak_bw·e) + L·o`` for each."""
    if len(measurements) != 2:
        raise ValueError("the GPU fit takes exactly two measurements")
    rows, obs = [], []
    for m in measurements:
        peak_bytes_per_ms = _PEAK[m.hardware][0] * 1e6
        rows.append([m.weight_bytes / peak_bytes_per_ms, m.num_layers])   # unknowns: 1/e, o
        obs.append(1000.0 / m.tokens_per_s)
    inv_e, o = _solve(rows, obs)
    return {"bandwidth_efficiency": 1.0 / inv_e, "per_layer_overhead_ms": o}


# Stored results of the two fits above (rounded; tests check they equal the refit).
CPU_EFFECTIVE_BANDWIDTH_GB_S = 10.77
CPU_EFFECTIVE_TFLOPS = 0.01443
CPU_PER_LAYER_OVERHEAD_MS = 0.6916
GPU_BANDWIDTH_EFFICIENCY = 0.7406
GPU_PER_LAYER_OVERHEAD_MS = 0.0190

_GPU_SHARED_SOURCES = {
    "bandwidth_efficiency": "fitted (ours): solved jointly with per_layer_overhead_ms from gpt-fast's A100 "
    "Llama-2-7B 104.9 tok/s and geerlingguy/ai-benchmarks#43's RTX 4090 TinyLlama Q4_K_M 762.37 t/s "
    "(hardware.fit_gpu_overhead)",
    "per_layer_overhead_ms": "fitted (ours): see bandwidth_efficiency",
    "compute_efficiency": "assumed (ours): no published figure for skinny verify GEMMs",
    "per_step_overhead_ms": "assumed 0 (folded into the per-layer overhead by the fit)",
}

def _gpu(name: str, description: str, compute_dtype: str, sources: Dict[str, str]) -> HardwareProfile:
    """A GPU profile: vendor peak figures from ``_PEAK`` with the efficiency and overhead fitted on A100 and
    RTX 4090 (``fit_gpu_overhead``); ``sources`` cites each figure."""
    return HardwareProfile(
        name=name,
        description=description,
        memory_bandwidth_gb_s=_PEAK[name][0],
        bandwidth_efficiency=GPU_BANDWIDTH_EFFICIENCY,
        peak_tflops=_PEAK[name][1],
        compute_dtype=compute_dtype,
        compute_efficiency=GPU_COMPUTE_EFFICIENCY_ASSUMED,
        per_layer_overhead_ms=GPU_PER_LAYER_OVERHEAD_MS,
        sources=sources,
    )


PROFILES: Dict[str, HardwareProfile] = {
    "cpu": HardwareProfile(
        name="cpu",
        description="2-core x86 CPU (AMD EPYC KVM guest, as on this project's machines), PyTorch eager, fp32",
        memory_bandwidth_gb_s=CPU_PEAK_READ_BANDWIDTH_GB_S,
        bandwidth_efficiency=CPU_EFFECTIVE_BANDWIDTH_GB_S / CPU_PEAK_READ_BANDWIDTH_GB_S,
        peak_tflops=CPU_PEAK_FP32_TFLOPS,
        compute_dtype="fp32",
        compute_efficiency=CPU_EFFECTIVE_TFLOPS / CPU_PEAK_FP32_TFLOPS,
        per_layer_overhead_ms=CPU_PER_LAYER_OVERHEAD_MS,
        per_step_overhead_ms=0.0,
        sources={
            "memory_bandwidth_gb_s": "measured (ours, 2026-11): torch.sum over 512 MiB fp32, 2 threads",
            "peak_tflops": "measured (ours, 2026-11): fp32 512x4096 @ 4096x4096 matmul, 2 threads",
            "bandwidth_efficiency": "fitted (ours): hardware.fit_cpu_profile on CPU_MEASUREMENTS "
            "(SmolLM2-135M 14 tok/s, 5-token pass 1.57x; Gemma-3-270M 9 tok/s, 1.81x; measured 2026-11)",
            "compute_efficiency": "fitted (ours): see bandwidth_efficiency",
            "per_layer_overhead_ms": "fitted (ours): see bandwidth_efficiency (PyTorch eager dispatch)",
            "per_step_overhead_ms": "assumed 0 (folded into the per-layer overhead by the fit)",
        },
    ),
    "rtx4090": _gpu(
        "rtx4090",
        "NVIDIA GeForce RTX 4090 24 GB (Ada), one GPU, model fully in VRAM",
        "fp16/bf16 tensor, fp32 accumulate",
        {
            "memory_bandwidth_gb_s": "NVIDIA Ada Lovelace architecture whitepaper, GeForce RTX 4090 "
            "(21 Gbps GDDR6X, 384-bit): 1008 GB/s",
            "peak_tflops": "NVIDIA Ada Lovelace architecture whitepaper, RTX 4090 peak FP16/BF16 Tensor "
            "TFLOPS with FP32 accumulate: 165.2 (dense; 330.4 with sparsity)",
            **_GPU_SHARED_SOURCES,
        },
    ),
    "a100-80gb": _gpu(
        "a100-80gb",
        "NVIDIA A100 80 GB SXM4, one GPU",
        "bf16 tensor",
        {
            "memory_bandwidth_gb_s": "NVIDIA A100 Tensor Core GPU datasheet, A100 80GB SXM: 2,039 GB/s",
            "peak_tflops": "NVIDIA A100 datasheet: BF16 Tensor Core 312 TFLOPS (dense; 624 with sparsity)",
            **_GPU_SHARED_SOURCES,
        },
    ),
    "h100": _gpu(
        "h100",
        "NVIDIA H100 80 GB SXM5, one GPU",
        "bf16 tensor",
        {
            "memory_bandwidth_gb_s": "NVIDIA H100 Tensor Core GPU datasheet, H100 SXM: 3.35 TB/s",
            "peak_tflops": "NVIDIA H100 datasheet, H100 SXM BF16 Tensor Core: 1,979 TFLOPS with sparsity, "
            "989 dense",
            "bandwidth_efficiency": "assumed (ours): the A100/RTX 4090 fit applied to H100 (no H100 point)",
            "per_layer_overhead_ms": "assumed (ours): the A100/RTX 4090 fit applied to H100",
            "compute_efficiency": _GPU_SHARED_SOURCES["compute_efficiency"],
            "per_step_overhead_ms": _GPU_SHARED_SOURCES["per_step_overhead_ms"],
        },
    ),
    "m4-max": _gpu(
        "m4-max",
        "Apple M4 Max (16-core CPU / 40-core GPU), unified memory, Metal",
        "fp16 (assumed same rate as fp32 on Apple GPUs)",
        {
            "memory_bandwidth_gb_s": "Apple Newsroom, 2024-10-30, MacBook Pro with M4 Pro and M4 Max: M4 Max "
            "'546GB/s of memory bandwidth' (40-core GPU configuration)",
            "peak_tflops": "estimated (ours): Apple publishes no M4 Max TFLOPS; Apple's M1 Max figure "
            "(10.4 TFLOPS, 32-core GPU, Apple Newsroom 2021-10-18) scaled by 40/32 cores = 13.0, "
            "conservative because M4 clocks are higher",
            "bandwidth_efficiency": "assumed (ours): the A100/RTX 4090 fit applied to Apple GPUs",
            "per_layer_overhead_ms": "assumed (ours): the A100/RTX 4090 fit applied to Metal",
            "compute_efficiency": _GPU_SHARED_SOURCES["compute_efficiency"],
            "per_step_overhead_ms": _GPU_SHARED_SOURCES["per_step_overhead_ms"],
        },
    ),
}

ALIASES = {
    "4090": "rtx4090",
    "rtx-4090": "rtx4090",
    "rtx4090-24gb": "rtx4090",      # draftbench's README example
    "a100": "a100-80gb",
    "a100-80g": "a100-80gb",
    "h100-sxm": "h100",
    "h100-80gb": "h100",
    "m4max": "m4-max",
}


def get_profile(name: Union[str, HardwareProfile, None]) -> HardwareProfile:
    """The profile called ``name`` (case-insensitive; a few aliases such as ``a100``/``4090``).

    ``None`` gives :data:`constants.DEFAULT_HARDWARE`; a :class:`HardwareProfile` is returned as is.
    Raises :class:`errors.UsageError` naming the valid profiles.
    """
    if isinstance(name, HardwareProfile):
        return name
    if name is None:
        from draftfinder.constants import DEFAULT_HARDWARE

        name = DEFAULT_HARDWARE
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    try:
        return PROFILES[key]
    except KeyError:
        raise UsageError(
            f"unknown hardware profile '{name}'",
            hint=f"use one of: {', '.join(PROFILES)}",
        ) from None


# --- the latency model ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelShape:
    """The three numbers the latency model needs about a model."""

    params: float
    bits_per_param: float
    num_layers: int

    @classmethod
    def of(cls, model: Any) -> "ModelShape":
        """From a ModelShape, a ``(params, bits, layers)`` tuple, or anything with ``num_parameters``,
        ``bits_per_param`` and ``num_layers`` (e.g. :class:`schema.ModelInfo`)."""
        if isinstance(model, ModelShape):
            return model
        if isinstance(model, (tuple, list)) and len(model) == 3:
            return cls(float(model[0]), float(model[1]), int(model[2]))
        try:
            return cls(float(model.num_parameters), float(model.bits_per_param), int(model.num_layers))
        except AttributeError:
            raise TypeError(
                f"expected a ModelShape, ModelInfo or (params, bits, layers) tuple, got {type(model).__name__}"
            ) from None


def _check_positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value <= 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)


def latency_breakdown(
    params: float, bits_per_param: float, num_layers: int, n_tokens: int, profile: Union[str, HardwareProfile]
) -> Dict[str, Any]:
    """The terms of :func:`step_latency_ms`: memory_ms, compute_ms, overhead_ms, latency_ms, bound."""
    params = _check_positive("params", params)
    bits = _check_positive("bits_per_param", bits_per_param)
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"num_layers must be an integer >= 1, got {num_layers!r}")
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens < 1:
        raise ValueError(f"n_tokens must be an integer >= 1, got {n_tokens!r}")
    hw = get_profile(profile)
    memory_ms = params * bits / 8 / (hw.effective_bandwidth_gb_s * 1e9) * 1e3
    compute_ms = n_tokens * 2.0 * params / (hw.effective_tflops * 1e12) * 1e3
    overhead_ms = num_layers * hw.per_layer_overhead_ms + hw.per_step_overhead_ms
    return {
        "memory_ms": memory_ms,
        "compute_ms": compute_ms,
        "overhead_ms": overhead_ms,
        "latency_ms": max(memory_ms, compute_ms) + overhead_ms,
        "bound": "memory" if memory_ms >= compute_ms else "compute",
    }


def step_latency_ms(
    params: float, bits_per_param: float, num_layers: int, n_tokens: int, profile: Union[str, HardwareProfile]
) -> float:
    """Milliseconds for one batch-1 forward pass over ``n_tokens`` new tokens (formula in the module doc)."""
    return latency_breakdown(params, bits_per_param, num_layers, n_tokens, profile)["latency_ms"]


def model_step_ms(model: Any, n_tokens: int, profile: Union[str, HardwareProfile, None] = None) -> float:
    """:func:`step_latency_ms` for a ModelShape / ModelInfo / ``(params, bits, layers)`` tuple."""
    s = ModelShape.of(model)
    return step_latency_ms(s.params, s.bits_per_param, s.num_layers, n_tokens, profile)


def cost_ratio(target: Any, draft: Any, profile: Union[str, HardwareProfile, None] = None) -> float:
    """Leviathan's c (Definition 3.7): one draft step / one target step, both 1 token, on ``profile``."""
    return model_step_ms(draft, 1, get_profile(profile)) / model_step_ms(target, 1, get_profile(profile))


def verify_cost(target: Any, k: int, profile: Union[str, HardwareProfile, None] = None) -> float:
    """T_target(k+1 tokens) / T_target(1 token): what verifying k drafts costs, in target steps."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    hw = get_profile(profile)
    return model_step_ms(target, k + 1, hw) / model_step_ms(target, 1, hw)


def verify_cost_fn(target: Any, profile: Union[str, HardwareProfile, None] = None) -> Callable[[int], float]:
    """``k -> verify_cost(target, k, profile)`` for :func:`estimate.optimal_k`."""
    hw = get_profile(profile)
    shape = ModelShape.of(target)
    return lambda k: verify_cost(shape, k, hw)


def tokens_per_second(model: Any, profile: Union[str, HardwareProfile, None] = None) -> float:
    """Plain batch-1 decode speed predicted by the model: ``1000 / step_latency_ms(..., n_tokens=1)``."""
    return 1000.0 / model_step_ms(model, 1, get_profile(profile))


__all__ = [
    "HardwareProfile",
    "ModelShape",
    "PROFILES",
    "get_profile",
    "step_latency_ms",
    "model_step_ms",
    "latency_breakdown",
    "cost_ratio",
    "verify_cost",
    "verify_cost_fn",
    "tokens_per_second",
    "fit_cpu_profile",
    "fit_gpu_overhead",
]
