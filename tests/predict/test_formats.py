"""draftfinder.predict.formats: bits per weight and kernel family of each weight format."""

from __future__ import annotations

import pytest

from draftfinder.predict.formats import bits_of, weight_format


def test_ggml_block_arithmetic_and_file_averages():
    # Q8_0: 32 int8 + one fp16 scale = 34 bytes per 32 weights = 8.5 bits; the whole-file figure of the quantize
    # README is a hair above (output.weight kept at a higher type).
    assert 34 * 8 / 32 == 8.5 and bits_of("q8_0") == pytest.approx(8.5008)
    # formats the README table lacks: quantize.cpp's Llama-3-8B file sizes (GiB) over 8,030,261,248 weights
    for name, gib in (("q4_0", 4.34), ("q5_0", 5.21), ("q3_k_m", 3.74)):
        assert bits_of(name) == pytest.approx(gib * 2 ** 30 * 8 / 8_030_261_248, abs=2e-3)
    assert bits_of("Q4_K_M") == pytest.approx(4.8944)


def test_names_aliases_numbers_and_families():
    assert weight_format("bfloat16").name == "bf16" and not weight_format("bf16").quantized
    assert weight_format("Q4_K_L").name == "q4_k_m"
    assert weight_format("awq").family == "int"
    assert weight_format(16).name == "fp16"
    assert weight_format("4.8944").name == "q4_k_m"          # estimate's --bits number keeps its kernel family
    odd = weight_format("4.5")
    assert odd.bits_per_weight == 4.5 and odd.family == "int"
    assert weight_format("Q5_K_M").family == "gguf-k" and weight_format("q4_0").family == "gguf-legacy"
    assert weight_format("q4_0").gguf and not weight_format("int4").gguf


@pytest.mark.parametrize("bad", ["q9_z", "", "-1", "65", True])
def test_bad_formats(bad):
    with pytest.raises(ValueError):
        weight_format(bad)
