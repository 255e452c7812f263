"""Will it fit: weights + both KV caches against usable device memory, checked against hand calculations
(issue 10 §4)."""

from __future__ import annotations

import pytest

from draftfinder.predict.devices import get_device
from draftfinder.predict.memory import (GIB, ModelMemory, check_fit, kv_bytes_per_token, usable_fraction)

# Llama-3.1-70B (config.json: 80 layers, 8 KV heads, head_dim 8192/64 = 128) and Llama-3.2-1B (16 layers, 8 KV heads,
# head_dim 2048/32 = 64), bf16.
LLAMA70 = ModelMemory.from_shape("llama-70b", 70.6e9, 16, layers=80, kv_heads=8, head_dim=128)
LLAMA1 = ModelMemory.from_shape("llama-1b", 1.24e9, 16, layers=16, kv_heads=8, head_dim=64)


def test_kv_bytes_per_token_by_hand():
    # Llama-3-8B: K and V × 32 layers × 8 KV heads × 128 dims × 2 bytes = 131,072 B = 128 KiB per token
    assert kv_bytes_per_token(32, 8, 128) == 2 * 32 * 8 * 128 * 2 == 131_072
    assert LLAMA70.kv_bytes_per_token == 327_680 and LLAMA1.kv_bytes_per_token == 32_768


def test_the_issues_example_does_not_fit_on_an_rtx4090():
    """Guards issue 10 §4: a 70B bf16 target on an RTX 4090 got "2.90x". By hand: weights 70.6e9 × 2 B =
    131.50 GB, draft 2.31 GB, KV at 4096 tokens 1.25 + 0.125 GB = 135.18 GB, against 24 GB × 0.9 = 21.6 GB."""
    fit = check_fit(LLAMA70, LLAMA1, get_device("rtx4090"), ctx=4096)
    expected = (70.6e9 * 2 + 1.24e9 * 2 + 4096 * (327_680 + 32_768)) / GIB
    assert fit.required_gb == pytest.approx(expected, abs=1e-3) == pytest.approx(135.18, abs=0.01)
    assert fit.usable_gb == pytest.approx(21.6) and fit.fits is False
    assert fit.verdict == "does not fit (needs 135.2 GB of 21.6 GB usable on rtx4090)"
    assert check_fit(LLAMA70, LLAMA1, get_device("h100", count=2)).fits is True          # 144 GB usable
    assert check_fit(LLAMA70, LLAMA1, get_device("m4-max")).fits is False                # 128 GB × 0.84


def test_kv_grows_with_context_and_concurrency():
    one = check_fit(LLAMA70, LLAMA1, get_device("h100", count=2), ctx=4096, sequences=1)
    many = check_fit(LLAMA70, LLAMA1, get_device("h100", count=2), ctx=4096, sequences=16)
    long = check_fit(LLAMA70, LLAMA1, get_device("h100", count=2), ctx=65536, sequences=1)
    assert many.target_kv_gb == pytest.approx(16 * one.target_kv_gb) == pytest.approx(long.target_kv_gb)
    assert many.fits is False and one.fits is True          # 16 requests × 4096 tokens no longer fit in 144 GB


def test_usable_fraction_per_kind():
    assert usable_fraction(get_device("rtx4090"))[0] == 0.9                    # vLLM gpu_memory_utilization
    assert usable_fraction(get_device("mi300x"))[0] == 0.9
    assert usable_fraction(get_device("m3-pro", memory_gb=32))[0] == pytest.approx(2 / 3)   # 21845.34 of 32768 MB
    assert usable_fraction(get_device("m1-max"))[0] == 0.75                    # 64 GB: 49152 MiB
    assert usable_fraction(get_device("m4-max"))[0] == 0.84                    # 128 GB: 107.52 GiB


def test_unknown_memory_and_unknown_kv_shape_say_so():
    custom = get_device("custom", bandwidth_gb_s=1000, tflops=100)
    fit = check_fit(LLAMA70, LLAMA1, custom)
    assert fit.fits is None and fit.verdict.startswith("fit unknown (needs 135.2 GB")
    no_kv = ModelMemory.from_shape("t", 7e9, 16)
    fit = check_fit(no_kv, None, get_device("rtx4090"))
    assert fit.kv_counted is False and fit.required_gb == pytest.approx(7e9 * 2 / GIB, abs=1e-3)
    assert fit.verdict.endswith("; target KV cache not counted)") and fit.notes and fit.kv_missing == ["target"]


def test_from_info_reads_the_models_own_shape():
    """From a real config (Qwen2.5-7B-Instruct fixture: 28 layers, 4 KV heads, head_dim 3584/28 = 128)."""
    from draftfinder.models.analysis import ModelAnalyzer
    from tests.conftest import fixture_record

    info = ModelAnalyzer.analyze_record(fixture_record("Qwen/Qwen2.5-7B-Instruct"))
    mem = ModelMemory.from_info(info)
    assert mem.kv_bytes_per_token == 2 * 28 * 4 * 128 * 2
    assert mem.weights_gb == pytest.approx(info.memory_footprint_mb / 1024)
