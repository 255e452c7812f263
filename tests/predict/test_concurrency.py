"""Concurrency: speedup and best K for N requests decoded together (issue 10 §5)."""

from __future__ import annotations

import pytest

from draftfinder.predict import speedup as est
from draftfinder.predict.concurrency import DEFAULT_LEVELS, concurrency_level, concurrency_table, levels_for
from draftfinder.predict.device_latency import evaluate, step_ms
from draftfinder.predict.devices import get_device
from draftfinder.predict.latency import ModelShape
from draftfinder.predict.memory import ModelMemory

# vLLM blog setup (2024-10-17, figures 5-7): Llama3-70B (bf16, 80 layers) with Qwama-0.5B (Qwen2-0.5B shape:
# 24 layers, 2 KV heads × 64) as the draft, tensor parallel over 4 H100s.
LLAMA70 = ModelShape(70.6e9, 16, 80)
QWAMA = ModelShape(0.494e9, 16, 24)
LLAMA70_MEM = ModelMemory.from_shape("llama3-70b", 70.6e9, 16, layers=80, kv_heads=8, head_dim=128)
QWAMA_MEM = ModelMemory.from_shape("qwama-0.5b", 0.494e9, 16, layers=24, kv_heads=2, head_dim=64)


def test_levels():
    assert levels_for(None) == list(DEFAULT_LEVELS) == [1, 4, 16, 64]
    assert levels_for(8) == [1, 4, 8, 16, 64] and levels_for(16) == [1, 4, 16, 64]


def test_speedup_at_n_is_theorem_3_8_at_batch_n_by_hand():
    """speedup_N(K) = E[tokens] · T_t(1×N) / (K · T_d(1×N) + T_t((K+1)×N)), from the latency model's passes."""
    dev, n, alpha = get_device("h100", count=4), 16, 0.7
    level = concurrency_level(LLAMA70, QWAMA, alpha, dev, "vllm", n, max_k=8)
    t1 = step_ms(LLAMA70, 1, dev, "vllm", batch=n)
    td = step_ms(QWAMA, 1, dev, "vllm", batch=n)
    for k in range(1, 9):
        tv = step_ms(LLAMA70, k + 1, dev, "vllm", batch=n)
        by_hand = (1 - alpha ** (k + 1)) / (1 - alpha) * t1 / (k * td + tv)
        assert level.speedup_by_k[k] == pytest.approx(by_hand)
        assert level.speedup_by_k[k] == pytest.approx(est.expected_speedup(alpha, k, td / t1, tv / t1))
    assert level.plain_tokens_per_s == pytest.approx(n * 1000 / t1)


def test_n1_agrees_with_the_batch1_estimate():
    """At N = 1 the table and find/estimate's headline number are the same model."""
    dev = get_device("rtx4090")
    one = concurrency_level(ModelShape(7.6e9, 4.89, 28), ModelShape(0.5e9, 16, 24), 0.7, dev, "vllm", 1, max_k=16)
    batch1 = evaluate(ModelShape(7.6e9, 4.89, 28), ModelShape(0.5e9, 16, 24), 0.7, dev, "vllm", 16)
    assert one.recommended_k == batch1.recommended_k and one.speedup == pytest.approx(batch1.speedup)


def test_speculation_pays_less_as_the_batch_grows_as_vllms_blog_measured():
    """Sanity check against published rows (validation, not fitted): vLLM's blog measured this pair at up to 1.5×
    at low load (QPS 1) and a 1.4× slowdown at high load. The model must agree in direction: a speedup at N = 1,
    less at N = 64, best K not growing with N."""
    from draftfinder.predict.published import load_published

    rows = {r.row_id: r for r in load_published().by_source("vllm-blog-2024-10")}
    low, high = rows["vllm-blog-2024-10/llama3-70b/sharegpt/qps1"], rows["vllm-blog-2024-10/llama3-70b/sharegpt/high-qps"]
    assert low.speedup > 1 > high.speedup and low.hardware_preset == "h100" and low.hardware_count == 4
    from draftfinder.predict.acceptance import prior_acceptance

    alpha = prior_acceptance(70.6e9, 0.494e9, same_family=False).alpha
    table = concurrency_table(LLAMA70, QWAMA, alpha, get_device("h100", count=4), "vllm", max_k=16,
                              target_memory=LLAMA70_MEM, draft_memory=QWAMA_MEM, draft_name="turboderp/Qwama-0.5B-Instruct")
    speedups = [level.speedup for level in table.levels]
    ks = [level.recommended_k or 0 for level in table.levels]
    assert speedups[0] > 1.0
    assert all(a >= b for a, b in zip(speedups, speedups[1:])) and speedups[-1] < speedups[0]
    assert all(a >= b for a, b in zip(ks, ks[1:]))
    assert all(level.fits for level in table.levels)          # 4 × 80 GB hold 64 requests of 4096 tokens


def test_speculation_is_off_when_no_k_beats_plain_decoding():
    """On a compute-bound CPU a batch of 64 makes every verify pass cost ~K+1 steps: speculation is switched off
    (no K), the speedup is 1.0 and the engines' forms say so."""
    table = concurrency_table(ModelShape(1.5e9, 16, 28), ModelShape(0.5e9, 16, 24), 0.7,
                              get_device("cpu", threads=2), "llama.cpp", max_k=8)
    off = table.at(64)
    assert off.recommended_k is None and off.speedup == 1.0 and off.speculative_tokens_per_s == off.plain_tokens_per_s
    assert max(off.speedup_by_k.values()) <= 1.0
    assert "speculation off" in off.vllm and "no -md" in off.llama_cpp and "-np 64" in off.llama_cpp


def test_k_in_the_form_each_engine_takes_it():
    table = concurrency_table(LLAMA70, QWAMA, 0.7, get_device("h100", count=4), "vllm", requested=8, max_k=8,
                              ctx=2048, draft_name="turboderp/Qwama-0.5B-Instruct")
    level = table.at(8)
    k = level.recommended_k
    assert k is not None and table.requested == 8
    assert f'"num_speculative_tokens": {k}' in level.vllm and "--max-num-seqs 8" in level.vllm
    assert '"model": "turboderp/Qwama-0.5B-Instruct"' in level.vllm
    assert f"--spec-draft-n-max {k}" in level.llama_cpp and f"--draft-max {k}" in level.llama_cpp
    assert "-np 8 -c 16384" in level.llama_cpp                     # llama-server splits -c over the slots
    assert f"--speculative-num-steps {k}" in level.sglang and f"--speculative-num-draft-tokens {k + 1}" in level.sglang


def test_a_level_that_does_not_fit_has_no_speedup():
    table = concurrency_table(LLAMA70, QWAMA, 0.7, get_device("h100", count=2), "vllm", max_k=8,
                              target_memory=LLAMA70_MEM, draft_memory=QWAMA_MEM)
    assert table.at(1).fits is True and table.at(1).speedup > 1
    assert table.at(64).fits is False and table.at(64).speedup is None and table.at(64).recommended_k is None
    assert table.at(64).fit_verdict.startswith("does not fit (needs")
