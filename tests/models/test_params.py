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


@pytest.mark.parametrize("key, value", [("hidden_size", -896), ("intermediate_size", -4864), ("num_hidden_layers", 0),
                                        ("vocab_size", 2.5), ("num_attention_heads", True),
                                        ("num_hidden_layers", 10 ** 9), ("num_key_value_heads", 99)])
def test_corrupted_config_sizes_are_one_error(fixtures, key, value):
    """Guards issue 9 §2: a corrupted config.json gave -1,520,645 parameters; now one NumberError naming the key."""
    from draftfinder.errors import NumberError

    config = _config("Qwen/Qwen2.5-0.5B")
    config[key] = value
    with pytest.raises(NumberError) as info:
        count_from_config(config, "/m/config.json")
    line = info.value.line()
    assert line.startswith(f"/m/config.json: '{key}' must be") and "\n" not in line


def test_sizes_each_in_range_but_impossible_together(fixtures):
    from draftfinder.errors import NumberError

    config = dict(_config("Qwen/Qwen2.5-0.5B"), hidden_size=1 << 20, num_hidden_layers=5000,
                  intermediate_size=1 << 22, num_attention_heads=8192, num_key_value_heads=8192)
    with pytest.raises(NumberError, match="parameters computed from its sizes"):
        count_from_config(config, "/m/config.json")


def test_corrupted_config_on_the_command_line(fixtures, tmp_path, capsys):
    from draftfinder.cli.main import main

    folder = tmp_path / "m"
    folder.mkdir()
    for f in fixture_dir("Qwen/Qwen2.5-0.5B").iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    config = _config("Qwen/Qwen2.5-0.5B")
    config["hidden_size"] = -896
    (folder / "config.json").write_text(json.dumps(config))
    assert main([str(folder), "--offline", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'hidden_size' must be a whole number" in err and "-896" in err
