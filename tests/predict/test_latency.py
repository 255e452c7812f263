"""draftfinder.predict.latency: one forward pass per (engine, device, weight format), against hand calculations,
and its constants against published figures they were not fitted on."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from draftfinder import constants
from draftfinder.errors import UsageError
from draftfinder.find.results import ModelInfo, QuantizationType
from draftfinder.predict import latency as hw
from draftfinder.predict.devices import Device
from draftfinder.predict.engine_costs import EngineCosts, LLAMACPP_METAL_FIT, engine_costs

SMOL = hw.CPU_MEASUREMENTS[0]      # SmolLM2-135M, fp32
GEMMA = hw.CPU_MEASUREMENTS[1]     # Gemma-3-270M, fp32
LLAMA7B = hw.ModelShape.from_bits(6_738_415_616, 16, 32)
QWEN05B = hw.ModelShape.from_bits(494_032_768, 16, 24)

# a device and constants with round numbers, for hand calculations
DEV = Device(name="test", kind="apple-gpu", memory_gb=64, bandwidth_gb_s=100.0, tflops=10.0)
METAL = EngineCosts("llama.cpp", "apple-gpu", "metal", bandwidth_efficiency=0.5, gemm_efficiency=0.5,
                    per_layer_overhead_ms=0.1, per_step_overhead_ms=1.0, per_token_overhead_ms=0.2,
                    dequant_ops={"q4_0": 5.0, "gguf-k": 10.0}, small_batch_growth=(0.1, 0.0),
                    gemm_tile_tokens=32, gemm_dequant_ops=20.0)
# 1e9 weights read per token (tied embeddings), 10 layers, vocabulary 100k
M = hw.ModelShape(1e9, 10, 1000, 100_000, "q4_0", kv_bytes_per_token=1e5, tied_embeddings=True)


def shape(m) -> hw.ModelShape:
    return hw.ModelShape.from_bits(m.params, m.bits_per_param, m.num_layers)


# --- hand calculations of the formula --------------------------------------------------------------------------

def test_metal_single_token_is_bytes_over_bandwidth_plus_dequant_plus_overheads():
    s = hw.step_breakdown(M, 1, DEV, "llama.cpp", costs=METAL)
    mem = 1e9 * 4.643 / 8 / (100e9 * 0.5) * 1e3          # 11.6075 ms
    deq = 1e9 * 5.0 / 10e12 * 1e3                        # 0.5 ms
    assert s.memory_ms == pytest.approx(mem)
    assert s.dequant_ms == pytest.approx(deq)
    assert s.overhead_ms == pytest.approx(10 * 0.1 + 1.0 + 0.2)
    assert s.total_ms == pytest.approx(mem + deq + 2.2)
    assert s.kernel == "mat-vec" and s.bound == "memory"


def test_metal_small_batch_kernel_reads_weights_once_per_group_of_tokens():
    t1 = 1e9 * 4.643 / 8 / 50e9 * 1e3 + 0.5
    # 5 tokens: one group of 5 (r1ptg 5), growth 0.1 per extra token
    assert hw.step_breakdown(M, 5, DEV, "llama.cpp", costs=METAL).weights_ms == pytest.approx(t1 * 1.4)
    # 6 tokens: groups of 3 -> the weights are read twice (ggml-metal-ops.cpp switch (ne11))
    assert hw.step_breakdown(M, 6, DEV, "llama.cpp", costs=METAL).weights_ms == pytest.approx(t1 * 2 * 1.5)


def test_metal_k_quants_run_one_mat_vec_per_token_below_4_tokens():
    k = hw.ModelShape(1e9, 10, 1000, 100_000, "q4_k_m", tied_embeddings=True)
    t1 = hw.step_breakdown(k, 1, DEV, "llama.cpp", costs=METAL).weights_ms
    three = hw.step_breakdown(k, 3, DEV, "llama.cpp", costs=METAL)
    four = hw.step_breakdown(k, 4, DEV, "llama.cpp", costs=METAL)
    assert three.kernel == "mat-vec per token" and three.weights_ms == pytest.approx(3 * t1)
    assert four.kernel == "small-batch mat-vec" and four.weights_ms == pytest.approx(t1 * 1.3)
    assert four.total_ms < three.total_ms              # the kernel switch makes 4 tokens cheaper than 3


def test_metal_gemm_pads_to_32_token_tiles():
    s9 = hw.step_breakdown(M, 9, DEV, "llama.cpp", costs=METAL)
    s32 = hw.step_breakdown(M, 32, DEV, "llama.cpp", costs=METAL)
    s33 = hw.step_breakdown(M, 33, DEV, "llama.cpp", costs=METAL)
    comp = 2 * 1e9 * 32 / (10e12 * 0.5) * 1e3          # 12.8 ms for one tile
    assert s9.compute_ms == pytest.approx(comp) and s9.weights_ms == pytest.approx(comp + 1e9 * 20 / 10e12 * 1e3)
    assert s32.weights_ms == pytest.approx(s9.weights_ms)
    assert s33.compute_ms == pytest.approx(2 * comp)
    assert s9.kernel.startswith("dequantize + GEMM")


def test_kv_cache_traffic_grows_with_context_and_batch():
    base = hw.step_breakdown(M, 1, DEV, "llama.cpp", costs=METAL)
    long = hw.step_breakdown(M, 1, DEV, "llama.cpp", costs=METAL, ctx=10_000)
    assert long.kv_ms == pytest.approx(1e5 * 10_000 / 50e9 * 1e3)       # 20 ms
    assert long.total_ms == pytest.approx(base.total_ms + 20.0)
    assert hw.step_breakdown(M, 1, DEV, "llama.cpp", costs=METAL, ctx=10_000, batch=2).kv_ms == pytest.approx(40.0)


def test_roofline_engines_turn_compute_bound():
    cpu = Device(name="c", kind="cpu", memory_gb=None, bandwidth_gb_s=10.0, tflops=0.1)
    costs = EngineCosts("draftfinder", "cpu", "roofline", 1.0, 1.0, 0.0, 0.0, 0.0)
    fp32 = hw.ModelShape(1e8, 4, 0, 0, "fp32")
    one = hw.step_breakdown(fp32, 1, cpu, "draftfinder", costs=costs)
    many = hw.step_breakdown(fp32, 30, cpu, "draftfinder", costs=costs)
    assert one.total_ms == pytest.approx(max(4e8 / 10e9, 2e8 / 0.1e12) * 1e3) and one.bound == "memory"  # 40 ms
    assert many.total_ms == pytest.approx(30 * 2e8 / 0.1e12 * 1e3) and many.bound == "compute"            # 60 ms


def test_untied_input_embedding_is_not_read():
    untied = hw.ModelShape(7.61e9, 28, 3584, 152064, "fp16", tied_embeddings=False)
    assert untied.read_params == pytest.approx(7.61e9 - 3584 * 152064)
    assert hw.ModelShape(7.61e9, 28, 3584, 152064, "fp16").read_params == 7.61e9      # unknown: all of them


def test_ratios_are_ratios_of_steps():
    t = hw.ModelShape(7e9, 32, 4096, 32000, "q8_0", tied_embeddings=False)
    d = hw.ModelShape(0.5e9, 24, 896, 32000, "q4_0")
    assert hw.cost_ratio(t, d, "m4-max", "llama.cpp") == pytest.approx(
        hw.step_ms(d, 1, "m4-max", "llama.cpp") / hw.step_ms(t, 1, "m4-max", "llama.cpp"))
    assert hw.verify_cost(t, 4, "rtx4090", "llama.cpp", ctx=100) == pytest.approx(
        hw.step_ms(t, 5, "rtx4090", "llama.cpp", ctx=100) / hw.step_ms(t, 1, "rtx4090", "llama.cpp", ctx=100))
    # the draft at its own (cheaper) format costs less
    assert hw.cost_ratio(t, hw.ModelShape.of(d, "q2_k"), "rtx4090", "llama.cpp") < hw.cost_ratio(
        t, hw.ModelShape.of(d, "fp16"), "rtx4090", "llama.cpp")


def test_quantized_target_pays_more_for_verification_on_metal():
    """Guards issue 10 §1 (old model: T(k+1)/T(1) = 1 on every GPU). On Metal the GEMM that verifies > 8 tokens is
    compute-bound, so a 4-bit target, whose 1-token step is short, pays relatively more than a Q8_0 one."""
    q8 = hw.ModelShape(72.7e9, 80, 8192, 152064, "q8_0", tied_embeddings=False)
    q4 = hw.ModelShape.of(q8, "q4_k_m")
    v8, v4 = hw.verify_cost(q8, 16, "m4-max", "llama.cpp"), hw.verify_cost(q4, 16, "m4-max", "llama.cpp")
    assert 1.5 < v8 < v4


def test_calibrated_device_uses_measured_times_for_its_model():
    entry = SimpleNamespace(engine="llama.cpp", model="m", weight_format="q4_0", params=1e9, layers=10,
                            t_ms_by_batch={1: 10.0, 2: 11.0, 4: 15.0}, per_step_overhead_ms=0.5,
                            effective_bandwidth_gb_s=40.0, draft_step_ms=None)
    dev = Device(name="local", kind="cpu", memory_gb=None, bandwidth_gb_s=30.0, tflops=0.2,
                        calibration=SimpleNamespace(engines={"llama.cpp": [entry]}))
    assert hw.step_ms(M, 1, dev, "llama.cpp") == pytest.approx(10.0)
    assert hw.step_ms(M, 3, dev, "llama.cpp") == pytest.approx(13.0)             # interpolated
    assert hw.step_ms(M, 6, dev, "llama.cpp") == pytest.approx(19.0)             # extrapolated
    other = hw.ModelShape(2e9, 10, 1000, 100_000, "q4_0", tied_embeddings=True)
    s = hw.step_breakdown(other, 1, dev, "llama.cpp")
    assert s.calibrated and s.memory_ms == pytest.approx(2e9 * 4.643 / 8 / 40e9 * 1e3)


# --- inputs --------------------------------------------------------------------------------------------------

def test_model_shape_from_model_info_tuple_and_bits():
    info = ModelInfo(
        model_id="Qwen/Qwen2.5-0.5B", architecture="Qwen2ForCausalLM", num_parameters=494_032_768,
        num_layers=24, hidden_size=896, intermediate_size=4864, num_attention_heads=14, vocab_size=151936,
        quantization=QuantizationType.NONE, bits_per_param=16.0, memory_footprint_mb=942.3,
        num_key_value_heads=2, dtype="bfloat16", tie_word_embeddings=True,
    )
    s = hw.ModelShape.of(info)
    assert (s.params, s.layers, s.hidden, s.vocab, s.weight_format) == (494_032_768, 24, 896, 151936, "bf16")
    assert s.kv_bytes_per_token == pytest.approx(2 * 24 * 2 * 64 * 2)
    assert hw.ModelShape.of((494_032_768, 16, 24)) == QWEN05B
    assert hw.ModelShape.from_bits(7e9, 4.8944, 32).weight_format == "q4_k_m"
    assert hw.ModelShape.from_bits(7e9, "q8_0", 32).bits_per_param == pytest.approx(8.5008)
    with pytest.raises(TypeError):
        hw.ModelShape.of("Qwen/Qwen2.5-0.5B")
    with pytest.raises(TypeError):                         # issue 9's positional (params, bits, layers) is refused
        hw.ModelShape(7e9, 16, 32)


@pytest.mark.parametrize("kwargs", [dict(params=0), dict(layers=0), dict(weight_format="q9_z"), dict(hidden=-1),
                                    dict(kv_bytes_per_token=-1.0)])
def test_model_shape_rejects_bad_input(kwargs):
    base = dict(params=1e9, layers=4, hidden=64, vocab=100, weight_format="fp16")
    with pytest.raises(ValueError):
        hw.ModelShape(**{**base, **kwargs})


def test_step_rejects_bad_counts_and_engines():
    for kw in (dict(n_tokens=0), dict(n_tokens=1, batch=0), dict(n_tokens=1, ctx=-1)):
        with pytest.raises(ValueError):
            hw.step_ms(M, device="m4-max", engine="llama.cpp", **kw)
    with pytest.raises(ValueError, match="vllm on a apple-gpu"):
        hw.step_ms(M, 1, "m4-max", "vllm")
    with pytest.raises(ValueError, match="unknown engine"):
        hw.step_ms(M, 1, "m4-max", "tgi")
    with pytest.raises(UsageError):
        hw.step_ms(M, 1, "tpu-v4", "llama.cpp")
    with pytest.raises(ValueError):
        hw.verify_cost(LLAMA7B, 0, "cpu")


def test_default_engine_follows_the_format_and_device():
    assert hw.default_engine("q4_k_m", "cuda-gpu") == "llama.cpp"
    assert hw.default_engine("bf16", "cuda-gpu") == "vllm"
    assert hw.default_engine("bf16", "cpu") == "draftfinder"
    assert engine_costs("llamacpp", "apple-gpu").gated_drafting


# --- in-sample consistency of stored constants ---------------------------------------------------------------

def test_in_sample_cpu_fit_reproduces_its_measurements_and_stored_constants():
    """IN-SAMPLE (fit_cpu_profile solves these very rows): checks the refit and the regime, not the model."""
    fit = hw.fit_cpu_profile()
    assert hw.CPU_EFFECTIVE_BANDWIDTH_GB_S == pytest.approx(fit["effective_bandwidth_gb_s"], rel=1e-3)
    assert hw.CPU_EFFECTIVE_TFLOPS == pytest.approx(fit["effective_tflops"], rel=1e-3)
    assert hw.CPU_PER_LAYER_OVERHEAD_MS == pytest.approx(fit["per_layer_overhead_ms"], rel=1e-3)
    assert hw.verify_cost(shape(SMOL), 4, "cpu") == pytest.approx(1.57, rel=0.05)
    assert hw.verify_cost(shape(GEMMA), 4, "cpu") == pytest.approx(1.81, rel=0.05)
    assert hw.tokens_per_second(shape(SMOL), "cpu") == pytest.approx(14.0, rel=0.10)
    costs = [hw.verify_cost(shape(SMOL), k, "cpu") for k in range(1, 9)]
    assert costs == sorted(costs) and costs[-1] > 2.0


# --- out of sample: published decode speeds the constants were not fitted on -----------------------------------

# llama.cpp discussion #4167 (llama-bench tg128, Llama-2-7B Q4_0, -ngl 99), read in a third-party copy of its table.
LLAMA2_7B_Q4_0 = hw.ModelShape(6_738_415_616, 32, 4096, 32000, "q4_0", tied_embeddings=False)


def test_out_of_sample_metal_fit_predicts_apple_decode_speeds_of_another_model():
    """OUT OF SAMPLE. The Metal constants were fitted on draftbench (Qwen2.5 on an M4 Max). Discussion #4167's
    Llama-2-7B Q4_0 decode speeds are another model and, for the M4 Pro, another chip: M4 Max 83.1 t/s, M4 Pro
    50.7 t/s must come out within 12 %. (The Ultra chips, two dies, run 20-30 % below the model: a known gap.)
    Caveat: this check also chose the model's form once (a per-token overhead term fitted on draftbench missed it
    by 15 % and was dropped, engine_costs.metal_costs sources), so it is a validation set, not an untouched one."""
    for device, published in (("m4-max", 83.1), ("m4-pro", 50.7)):
        predicted = hw.tokens_per_second(LLAMA2_7B_Q4_0, device, "llama.cpp")
        assert predicted == pytest.approx(published, rel=0.12), device


def test_metal_fit_constants_are_physical():
    assert 0.5 < LLAMACPP_METAL_FIT["bandwidth_efficiency"] <= 1.0
    assert all(v >= 0 for v in LLAMACPP_METAL_FIT.values())


# --- issue 9's profiles, kept ------------------------------------------------------------------------------------

def test_profiles_and_aliases():
    assert hw.get_profile("A100").name == "a100-80gb"
    assert hw.get_profile(None).name == constants.DEFAULT_HARDWARE
    assert set(hw.PROFILES) == {"cpu", "rtx4090", "a100-80gb", "h100", "m4-max"}
    assert hw.PROFILES["rtx4090"].memory_bandwidth_gb_s == 1008
    assert hw.PROFILES["m4-max"].memory_bandwidth_gb_s == 546
    for p in hw.PROFILES.values():
        assert p.sources.get("bandwidth_gb_s") and p.engine
    with pytest.raises(UsageError):
        hw.get_profile("tpu")
    # the legacy three-number functions are the new model with the default engine
    assert hw.step_latency_ms(7e9, 16, 32, 1, "a100-80gb") == pytest.approx(
        hw.step_ms(hw.ModelShape.from_bits(7e9, 16, 32), 1, "a100-80gb", "vllm"))
    assert not math.isnan(hw.latency_breakdown(7e9, 16, 32, 5, "cpu")["latency_ms"])
