"""The five named hardware profiles of issue 9 (``--hardware cpu|rtx4090|a100-80gb|h100|m4-max``), kept working.

Until the CLI takes devices (:mod:`draftfinder.predict.devices`), ``find``/``estimate``/``sweep`` name hardware by
these profiles. A profile is now only a *view*: its peak figures come from ``data/hardware.json`` (sourced there)
and its efficiencies from :mod:`draftfinder.predict.engine_costs` for the engine :func:`latency.default_engine`
picks on that device for a 16-bit model — the latency model itself works on devices and engines.

The CPU figures of this project's machine and the fit behind our engine's CPU constants live here as well
(:data:`CPU_MEASUREMENTS`, :func:`fit_cpu_profile`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence, Tuple, Union

from draftfinder.errors import UsageError


@dataclass(frozen=True)
class HardwareProfile:
    """One named device as issue 9's profiles described it. ``sources`` cites every figure."""

    name: str
    description: str
    memory_bandwidth_gb_s: float
    bandwidth_efficiency: float
    peak_tflops: float
    compute_dtype: str
    compute_efficiency: float
    per_layer_overhead_ms: float
    per_step_overhead_ms: float = 0.0
    engine: str = ""
    sources: Dict[str, str] = field(default_factory=dict)

    @property
    def effective_bandwidth_gb_s(self) -> float:
        return self.memory_bandwidth_gb_s * self.bandwidth_efficiency

    @property
    def effective_tflops(self) -> float:
        return self.peak_tflops * self.compute_efficiency

    def to_dict(self) -> Dict[str, Any]:
        d = {f: getattr(self, f) for f in ("name", "description", "memory_bandwidth_gb_s", "bandwidth_efficiency",
                                           "peak_tflops", "compute_dtype", "compute_efficiency",
                                           "per_layer_overhead_ms", "per_step_overhead_ms", "engine")}
        d["effective_bandwidth_gb_s"] = round(self.effective_bandwidth_gb_s, 4)
        d["effective_tflops"] = round(self.effective_tflops, 6)
        d["sources"] = dict(self.sources)
        return d


# --- this project's CPU machine and the fit of our engine's CPU constants ----------------------------------

@dataclass(frozen=True)
class CpuMeasurement:
    """One timing from this project's CPU machine (2-core AMD EPYC KVM guest, PyTorch eager, 2026-11)."""

    model: str
    params: int
    num_layers: int
    bits_per_param: float
    tokens_per_s: float          # plain greedy decoding, 1 token per forward pass
    verify5_ratio: float         # T(5-token pass) / T(1-token step)


# Parameter counts: SmolLM2-135M from its config.json (../shared/fixtures); Gemma-3-270M from google/gemma-3-270m's
# architecture. bits_per_param = 32: the runs were fp32 (a bf16 5x4096x4096 GEMM runs at ~195 GFLOP/s here, too
# fast to make a 5-token pass cost 1.57x).
CPU_MEASUREMENTS: Tuple[CpuMeasurement, ...] = (
    CpuMeasurement("HuggingFaceTB/SmolLM2-135M", 134_515_008, 30, 32, tokens_per_s=14.0, verify5_ratio=1.57),
    CpuMeasurement("google/gemma-3-270m", 268_098_176, 18, 32, tokens_per_s=9.0, verify5_ratio=1.81),
)
CPU_PEAK_READ_BANDWIDTH_GB_S = 33.6     # measured (ours): torch.sum over 512 MiB fp32, 2 threads, 2026-11
CPU_PEAK_FP32_TFLOPS = 0.201            # measured (ours): 512x4096 @ 4096x4096 fp32 matmul, 2 threads
CPU_EFFECTIVE_BANDWIDTH_GB_S = 10.77    # fit_cpu_profile() (tests check the refit)
CPU_EFFECTIVE_TFLOPS = 0.01443
CPU_PER_LAYER_OVERHEAD_MS = 0.6916


def solve_linear(a: List[List[float]], b: List[float], *, tol: float = 1e-300) -> List[float]:
    """Solve a small dense linear system by Gaussian elimination with partial pivoting; ValueError when a pivot
    is below ``tol`` in magnitude (singular). Also :func:`draftfinder.measure.calibrate`'s least squares."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[piv][col]) < tol:
            raise ValueError("singular calibration system")
        m[col], m[piv] = m[piv], m[col]
        for r in range(n):
            if r != col:
                f = m[r][col] / m[col][col]
                for cc in range(col, n + 1):
                    m[r][cc] -= f * m[col][cc]
    return [m[i][n] / m[i][i] for i in range(n)]


def fit_cpu_profile(measurements: Sequence[CpuMeasurement] = CPU_MEASUREMENTS) -> Dict[str, float]:
    """Refit our engine's CPU effective bandwidth, effective FLOP/s and per-layer overhead.

    Each measurement gives two equations — the 1-token step (memory-bound) and the 5-token pass (compute-bound):
    ``1000/tok_s = bytes·u + L·o`` and ``verify5·1000/tok_s = 5·2·P·v + L·o`` — solved for u (ms/byte), v (ms/FLOP)
    and o (ms/layer) by least squares on relative error (normal equations). Returns GB/s, TFLOP/s and ms/layer.
    """
    rows, obs = [], []
    for m in measurements:
        t1 = 1000.0 / m.tokens_per_s
        rows.append([m.params * m.bits_per_param / 8, 0.0, m.num_layers])
        obs.append(t1)
        rows.append([0.0, 5 * 2.0 * m.params, m.num_layers])
        obs.append(t1 * m.verify5_ratio)
    w = [1.0 / y ** 2 for y in obs]
    ata = [[sum(wi * r[i] * r[j] for r, wi in zip(rows, w)) for j in range(3)] for i in range(3)]
    atb = [sum(wi * r[i] * y for r, y, wi in zip(rows, obs, w)) for i in range(3)]
    u, v, o = solve_linear(ata, atb)
    return {"effective_bandwidth_gb_s": 1.0 / u / 1e6, "effective_tflops": 1.0 / v / 1e9, "per_layer_overhead_ms": o}


# --- the five profiles ---------------------------------------------------------------------------------------

PROFILE_NAMES = ("cpu", "rtx4090", "a100-80gb", "h100", "m4-max")
ALIASES = {"4090": "rtx4090", "rtx-4090": "rtx4090", "rtx4090-24gb": "rtx4090", "a100": "a100-80gb",
           "a100-80g": "a100-80gb", "h100-sxm": "h100", "h100-80gb": "h100", "m4max": "m4-max"}


def _profile(name: str) -> HardwareProfile:
    from draftfinder.predict.devices import preset_device
    from draftfinder.predict.engine_costs import default_engine, engine_costs

    dev = preset_device(name)
    engine = default_engine("bf16", dev.kind)
    c = engine_costs(engine, dev.kind)
    return HardwareProfile(
        name=name, description=dev.description, memory_bandwidth_gb_s=dev.bandwidth_gb_s,
        bandwidth_efficiency=c.bandwidth_efficiency, peak_tflops=dev.tflops,
        compute_dtype="fp32" if dev.kind == "cpu" else "fp16/bf16 dense",
        compute_efficiency=c.gemm_efficiency, per_layer_overhead_ms=c.per_layer_overhead_ms,
        per_step_overhead_ms=c.per_step_overhead_ms, engine=engine,
        sources={**dev.sources, **{k: f"{engine}: {v}" for k, v in c.sources.items()}},
    )


PROFILES: Dict[str, HardwareProfile] = {n: _profile(n) for n in PROFILE_NAMES}


def get_profile(name: Union[str, HardwareProfile, None]) -> HardwareProfile:
    """The profile called ``name`` (case-insensitive; aliases such as ``a100``/``4090``); ``None`` gives
    :data:`constants.DEFAULT_HARDWARE`. Raises :class:`errors.UsageError` naming the valid profiles."""
    if isinstance(name, HardwareProfile):
        return name
    if name is None:
        from draftfinder.constants import DEFAULT_HARDWARE

        name = DEFAULT_HARDWARE
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in PROFILES:
        raise UsageError(f"unknown hardware profile '{name}'", hint=f"use one of: {', '.join(PROFILE_NAMES)}")
    return PROFILES[key]


__all__ = ["HardwareProfile", "PROFILES", "PROFILE_NAMES", "ALIASES", "get_profile", "CpuMeasurement",
           "CPU_MEASUREMENTS", "fit_cpu_profile", "CPU_EFFECTIVE_BANDWIDTH_GB_S", "CPU_EFFECTIVE_TFLOPS",
           "CPU_PER_LAYER_OVERHEAD_MS", "CPU_PEAK_READ_BANDWIDTH_GB_S", "CPU_PEAK_FP32_TFLOPS"]
