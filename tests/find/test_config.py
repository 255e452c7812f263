"""Config files (manual §6): templates round-trip, types are validated by key, CLI wins over the file."""

import json

import pytest
import yaml

from draftfinder.find import config as cfgmod
from draftfinder.cli import find_cmd
from draftfinder.cli.main import build_parser
from draftfinder.errors import ConfigError


def test_yaml_and_json_templates_load_back_to_defaults(tmp_path):
    for fmt in ("yaml", "json"):
        path = tmp_path / f"config.{fmt}"
        path.write_text(cfgmod.template(fmt))
        cfg = cfgmod.load_config(str(path))
        assert cfg.target_model == "Qwen/Qwen2.5-7B-Instruct"
        assert cfg.top_n == 5 and cfg.max_candidates == 100
        assert cfg.compatibility.min_tokenization_match_rate == 0.95


def test_manual_example_config_is_accepted(tmp_path):
    """The exact YAML of manual §6.3 loads (sections and keys as written)."""
    manual = """
target_model: facebook/opt-6.7b
token: null
top_n: 5
task: general
max_candidates: 100
verbose: false
export: null
search:
  include_quantized: true
  min_size_ratio: 0.05
  max_size_ratio: 0.5
  prefer_same_family: true
  prefer_official_models: true
compatibility:
  strict_vocab_match: true
  strict_tokenization_match: true
  min_tokenization_match_rate: 0.95
  min_compatibility_score: 70.0
  require_special_tokens: false
  tokenizer_load_timeout: 30
performance:
  base_acceptance_rate: 0.8
  same_family_bonus: 0.1
  tokenizer_match_bonus: 0.05
  optimal_size_ratio_min: 0.1
  optimal_size_ratio_max: 0.3
output:
  show_warnings: true
  show_compatibility_details: false
  show_memory_info: true
  format: table
"""
    path = tmp_path / "manual.yaml"
    path.write_text(manual)
    cfg = cfgmod.load_config(str(path))
    assert cfg.search.min_size_ratio == 0.05
    assert cfg.performance.base_acceptance_rate == 0.8
    assert cfg.output.format == "table"


@pytest.mark.parametrize("doc, key, expected", [
    ({"top_n": "five"}, "top_n", "a whole number"),
    ({"search": {"min_size_ratio": "small"}}, "search.min_size_ratio", "a number"),
    ({"compatibility": {"strict_vocab_match": "yes"}}, "compatibility.strict_vocab_match", "true or false"),
    ({"output": []}, "output", "a mapping"),
    ({"colour": True}, "colour", "one of the known keys"),
    ({"search": {"bogus": 1}}, "search.bogus", "one of the known keys"),
    ({"task": "poetry"}, "task", "one of general"),
    ({"compatibility": {"min_tokenization_match_rate": 1.5}}, "compatibility.min_tokenization_match_rate", "from 0 to 1"),
])
def test_bad_values_name_the_key_and_type(tmp_path, doc, key, expected):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as info:
        cfgmod.load_config(str(path))
    assert info.value.key == key
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_syntax_error_is_one_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("top_n: [1, 2\n")
    with pytest.raises(ConfigError) as info:
        cfgmod.load_config(str(path))
    assert "valid YAML or JSON" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="existing config file"):
        cfgmod.load_config(str(tmp_path / "nope.yaml"))


def test_cli_overrides_config_only_for_typed_flags(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"target_model": "gpt2", "top_n": 3, "verbose": True,
                                    "output": {"format": "json"}, "hardware": "h100"}))
    args = build_parser("find").parse_args(["--config", str(path), "--top-n", "10", "--format", "yaml"])
    cfg = find_cmd.build_config(args)
    assert cfg.top_n == 10                 # typed: wins
    assert cfg.output.format == "yaml"     # typed: wins
    assert cfg.verbose is True             # not typed: file value kept
    assert cfg.hardware == "h100"
    assert cfg.target_model == "gpt2"


def test_token_comes_from_env_and_is_not_in_to_dict(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefghijklmnop")
    cfg = find_cmd.build_config(build_parser("find").parse_args(["gpt2"]))
    assert cfg.token == "hf_abcdefghijklmnop"
    assert "hf_abcdefghijklmnop" not in json.dumps(cfg.to_dict())
