"""draftfinder.models.params: the parameter formula against transformers on every fixture config, weight bytes."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FIXTURES, fixture_dir
from draftfinder.models.params import count_from_config, detect_quantization, estimate_weight_bytes

ALL_FIXTURES = sorted(p.name for p in FIXTURES.iterdir() if (p / "config.json").is_file()) if FIXTURES.is_dir() else []


def _config(model_id: str) -> dict:
    return json.loads((fixture_dir(model_id) / "config.json").read_text())


@pytest.fixture(scope="module")
def meta_counts(fixtures):
    """Parameter count of every fixture config, by instantiating it with transformers on the meta device."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    counts = {}
    for folder in ALL_FIXTURES:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(FIXTURES / folder))
        counts[folder] = sum(p.numel() for p in model.parameters())
    return counts


@pytest.mark.parametrize("folder", ALL_FIXTURES)
def test_formula_equals_transformers_on_every_fixture(meta_counts, folder):
    assert count_from_config(_config(folder)).total == meta_counts[folder]


def test_estimate_weight_bytes_unquantized_default_is_fp32(fixtures):
    parts = count_from_config(_config("gpt2"))
    assert estimate_weight_bytes(parts, detect_quantization({}), None) == 124_439_808 * 4
    assert estimate_weight_bytes(parts, detect_quantization({}), "bfloat16") == 124_439_808 * 2
