"""draftfinder.predict.latency: profiles, the batch-1 latency model, and the calibrations behind them."""

from __future__ import annotations

import dataclasses

import pytest

from draftfinder import constants
from draftfinder.predict import latency as hw
from draftfinder.errors import UsageError
from draftfinder.find.results import ModelInfo, QuantizationType

SMOL = hw.CPU_MEASUREMENTS[0]      # SmolLM2-135M, fp32
GEMMA = hw.CPU_MEASUREMENTS[1]     # Gemma-3-270M, fp32
LLAMA7B = hw.ModelShape(6_738_415_616, 16, 32)
QWEN05B = hw.ModelShape(494_032_768, 16, 24)


def shape(m: hw.CpuMeasurement) -> hw.ModelShape:
    return hw.ModelShape(m.params, m.bits_per_param, m.num_layers)


# --- the cpu profile against this project's measurements (2-core machine, 2026-11) ----------------------
# IN-SAMPLE: these four figures are the rows fit_cpu_profile solves from (3 unknowns, 4 equations), so they
# check the least-squares fit and its stated residual, not the model's accuracy on other models or sizes.

def test_in_sample_cpu_verify_cost_smollm2_k4():
    # Fitted row: a 5-token verify pass costs 1.57× a 1-token step for SmolLM2-135M. Stated residual: ±5 %.
    assert hw.verify_cost(shape(SMOL), 4, "cpu") == pytest.approx(1.57, rel=0.05)


def test_in_sample_cpu_verify_cost_gemma_k4():
    # Fitted row: 1.81× for Gemma-3-270M. Stated residual: ±5 %.
    assert hw.verify_cost(shape(GEMMA), 4, "cpu") == pytest.approx(1.81, rel=0.05)


def test_in_sample_cpu_tokens_per_second():
    # Fitted rows, plain greedy: SmolLM2 ≈ 14 tok/s, Gemma ≈ 9 tok/s. Stated residual: ±10 %.
    assert hw.tokens_per_second(shape(SMOL), "cpu") == pytest.approx(14.0, rel=0.10)
    assert hw.tokens_per_second(shape(GEMMA), "cpu") == pytest.approx(9.0, rel=0.10)


def test_cpu_fit_regime_assumption_holds():
    # fit_cpu_profile assumes memory-bound at 1 token and compute-bound at 5; the fitted model must agree.
    for m in hw.CPU_MEASUREMENTS:
        assert hw.latency_breakdown(m.params, m.bits_per_param, m.num_layers, 1, "cpu")["bound"] == "memory"
        assert hw.latency_breakdown(m.params, m.bits_per_param, m.num_layers, 5, "cpu")["bound"] == "compute"


def test_cpu_stored_constants_equal_refit():
    fit = hw.fit_cpu_profile()
    assert hw.CPU_EFFECTIVE_BANDWIDTH_GB_S == pytest.approx(fit["effective_bandwidth_gb_s"], rel=1e-3)
    assert hw.CPU_EFFECTIVE_TFLOPS == pytest.approx(fit["effective_tflops"], rel=1e-3)
    assert hw.CPU_PER_LAYER_OVERHEAD_MS == pytest.approx(fit["per_layer_overhead_ms"], rel=1e-3)
    cpu = hw.PROFILES["cpu"]
    assert cpu.effective_bandwidth_gb_s == pytest.approx(hw.CPU_EFFECTIVE_BANDWIDTH_GB_S)
    assert cpu.effective_tflops == pytest.approx(hw.CPU_EFFECTIVE_TFLOPS)


def test_cpu_verify_cost_grows_with_k():
    costs = [hw.verify_cost(shape(SMOL), k, "cpu") for k in range(1, 9)]
    assert costs == sorted(costs) and costs[-1] > 2.0


# --- GPU profiles ---------------------------------------------------------------------------------------

GPUS = ["rtx4090", "a100-80gb", "h100", "m4-max"]


@pytest.mark.parametrize("name", GPUS)
def test_gpus_are_memory_bound_at_batch_1(name):
    for model in (LLAMA7B, QWEN05B):
        for n in (1, 5, 9):
            b = hw.latency_breakdown(model.params, model.bits_per_param, model.num_layers, n, name)
            assert b["bound"] == "memory", (name, model, n)
    # … so verifying k+1 = 5 tokens costs one step, as Leviathan 2023 §3.3 assumes.
    assert hw.verify_cost(LLAMA7B, 4, name) == pytest.approx(1.0)


def test_gpu_stored_constants_equal_refit():
    """The stored constants are the exact solution of the two published speeds (hw.fit_gpu_overhead). Two
    equations, two unknowns: the fitted speeds are reproduced by construction, so they are not checked here —
    see the held-out rows below."""
    fit = hw.fit_gpu_overhead()
    assert hw.GPU_BANDWIDTH_EFFICIENCY == pytest.approx(fit["bandwidth_efficiency"], rel=1e-3)
    assert hw.GPU_PER_LAYER_OVERHEAD_MS == pytest.approx(fit["per_layer_overhead_ms"], rel=1e-2)


def _predicted_tokens_per_s(m: hw.GpuDecodeMeasurement) -> float:
    return 1000 / hw.step_latency_ms(m.weight_bytes * 8, 1, m.num_layers, 1, m.hardware)   # params·bits/8 = bytes


def test_out_of_sample_gpt_fast_quantized_rows():
    """OUT OF SAMPLE. Guards issue 9 §5 (a test that reproduced the published speeds from constants solved from
    those same speeds could not fail). The other single-A100 rows of gpt-fast's table (int8 and int4 Llama-2-7B
    and -70B) were not used in the fit. The model is a memory roofline, so it must bound them from above, and
    the int8 rows must be within +30 %; the int4 rows (+46–63 %: dequantizing kernels miss the memory bound)
    are the known gap the module docstring states."""
    errors = {m.model: _predicted_tokens_per_s(m) / m.tokens_per_s - 1 for m in hw.GPU_HELD_OUT}
    assert all(e > 0 for e in errors.values()), errors                          # an upper bound, every row
    assert all(e < 0.30 for name, e in errors.items() if "int8" in name), errors
    assert all(e < 0.65 for e in errors.values()), errors
    assert not set(m.source for m in hw.GPU_HELD_OUT) & set(m.source for m in hw.GPU_MEASUREMENTS)


def test_gpu_efficiency_is_a_fraction():
    assert 0 < hw.GPU_BANDWIDTH_EFFICIENCY < 1
    assert 0 < hw.GPU_PER_LAYER_OVERHEAD_MS < 0.1


# --- the model's arithmetic -------------------------------------------------------------------------------

def test_step_latency_formula():
    p = hw.PROFILES["a100-80gb"]
    b = hw.latency_breakdown(7e9, 16, 32, 1, p)
    assert b["memory_ms"] == pytest.approx(7e9 * 2 / (p.effective_bandwidth_gb_s * 1e9) * 1e3)
    assert b["compute_ms"] == pytest.approx(2 * 7e9 / (p.effective_tflops * 1e12) * 1e3)
    assert b["overhead_ms"] == pytest.approx(32 * p.per_layer_overhead_ms)
    assert hw.step_latency_ms(7e9, 16, 32, 1, p) == pytest.approx(b["memory_ms"] + b["overhead_ms"])


def test_cost_ratio():
    assert hw.cost_ratio(LLAMA7B, LLAMA7B, "h100") == pytest.approx(1.0)
    c = hw.cost_ratio(LLAMA7B, QWEN05B, "a100-80gb")
    assert 0 < c < 0.15
    assert c == pytest.approx(hw.step_latency_ms(*dataclasses.astuple(QWEN05B), 1, "a100-80gb")
                              / hw.step_latency_ms(*dataclasses.astuple(LLAMA7B), 1, "a100-80gb"))
    # Quantizing the draft makes it cheaper.
    assert hw.cost_ratio(LLAMA7B, hw.ModelShape(QWEN05B.params, 4.5, 24), "a100-80gb") < c
    # Default hardware is constants.DEFAULT_HARDWARE.
    assert hw.cost_ratio(LLAMA7B, QWEN05B) == hw.cost_ratio(LLAMA7B, QWEN05B, constants.DEFAULT_HARDWARE)


def test_model_shape_from_model_info_and_tuple():
    info = ModelInfo(
        model_id="Qwen/Qwen2.5-0.5B", architecture="Qwen2ForCausalLM", num_parameters=494_032_768,
        num_layers=24, hidden_size=896, intermediate_size=4864, num_attention_heads=14, vocab_size=151936,
        quantization=QuantizationType.NONE, bits_per_param=16.0, memory_footprint_mb=942.3,
    )
    assert hw.ModelShape.of(info) == QWEN05B
    assert hw.ModelShape.of((494_032_768, 16, 24)) == QWEN05B
    assert hw.cost_ratio(LLAMA7B, info, "rtx4090") == hw.cost_ratio(LLAMA7B, QWEN05B, "rtx4090")
    with pytest.raises(TypeError):
        hw.ModelShape.of("Qwen/Qwen2.5-0.5B")


@pytest.mark.parametrize("args", [(0, 16, 32, 1), (7e9, 0, 32, 1), (7e9, 16, 0, 1), (7e9, 16, 32, 0),
                                  (7e9, 16, 32.5, 1), (-1, 16, 32, 1)])
def test_step_latency_rejects_bad_input(args):
    with pytest.raises(ValueError):
        hw.step_latency_ms(*args, "cpu")


def test_verify_cost_rejects_bad_k():
    with pytest.raises(ValueError):
        hw.verify_cost(LLAMA7B, 0, "cpu")


# --- profiles -----------------------------------------------------------------------------------------

def test_required_profiles_exist_and_cite_every_figure():
    for name in ("cpu", "rtx4090", "a100-80gb", "h100", "m4-max"):
        p = hw.PROFILES[name]
        assert p.name == name
        for f in ("memory_bandwidth_gb_s", "peak_tflops", "bandwidth_efficiency", "compute_efficiency",
                  "per_layer_overhead_ms", "per_step_overhead_ms"):
            assert p.sources.get(f), (name, f)
        assert 0 < p.bandwidth_efficiency <= 1 and 0 < p.compute_efficiency <= 1


def test_vendor_figures():
    assert hw.PROFILES["rtx4090"].memory_bandwidth_gb_s == 1008
    assert hw.PROFILES["a100-80gb"].memory_bandwidth_gb_s == 2039
    assert hw.PROFILES["h100"].memory_bandwidth_gb_s == 3350
    assert hw.PROFILES["m4-max"].memory_bandwidth_gb_s == 546


def test_get_profile():
    assert hw.get_profile("A100").name == "a100-80gb"
    assert hw.get_profile("4090").name == "rtx4090"
    assert hw.get_profile(None).name == constants.DEFAULT_HARDWARE
    p = hw.PROFILES["h100"]
    assert hw.get_profile(p) is p
    with pytest.raises(UsageError) as err:
        hw.get_profile("tpu-v4")
    assert "tpu-v4" in str(err.value)
    for name in hw.PROFILES:
        assert name in str(err.value)


def test_profile_to_dict():
    d = hw.PROFILES["cpu"].to_dict()
    assert d["effective_bandwidth_gb_s"] == pytest.approx(hw.CPU_EFFECTIVE_BANDWIDTH_GB_S, rel=1e-3)
    assert "sources" in d
