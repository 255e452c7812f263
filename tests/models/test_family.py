"""Family detection on the real fixture configs, GGUF architectures and Hub names."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import FIXTURES
from draftfinder.models.family import (
    KNOWN_DRAFTS,
    OFFICIAL_ORGS,
    base_model_of,
    detect_family,
    family_from_name,
    is_official,
    strip_quant_suffixes,
)

# Fixture folder -> expected family.
EXPECTED = {
    "HuggingFaceTB__SmolLM2-1.7B": "smollm2",
    "HuggingFaceTB__SmolLM2-135M": "smollm2",
    "HuggingFaceTB__SmolLM2-360M": "smollm2",
    "Qwen__Qwen2.5-0.5B": "qwen2",
    "Qwen__Qwen2.5-1.5B": "qwen2",
    "Qwen__Qwen2.5-7B": "qwen2",
    "Qwen__Qwen2.5-7B-Instruct": "qwen2",
    "TinyLlama__TinyLlama-1.1B-Chat-v1.0": "llama",
    "codellama__CodeLlama-7b-hf": "codellama",
    "distilgpt2": "gpt2",
    "facebook__opt-1.3b": "opt",
    "facebook__opt-125m": "opt",
    "facebook__opt-6.7b": "opt",
    "gpt2": "gpt2",
    "meta-llama__Llama-2-7b-chat-hf": "llama",
    "meta-llama__Llama-2-7b-hf": "llama",
    "meta-llama__Llama-3.1-8B-Instruct": "llama3",
    "meta-llama__Llama-3.2-1B": "llama3",
    "meta-llama__Llama-3.2-1B-Instruct": "llama3",
    "meta-llama__Llama-3.2-3B-Instruct": "llama3",
    "mistralai__Mistral-7B-v0.1": "mistral",
    "openai-community__gpt2-large": "gpt2",
}


def _config(folder: str) -> dict:
    return json.loads((FIXTURES / folder / "config.json").read_text())


@pytest.mark.parametrize("folder,family", sorted(EXPECTED.items()))
def test_fixture_configs_with_their_ids(fixtures, folder, family):
    assert detect_family(_config(folder), folder.replace("__", "/")) == family


@pytest.mark.parametrize("folder,family", sorted(EXPECTED.items()))
def test_fixture_configs_without_a_name(fixtures, folder, family):
    """A renamed local folder still gets its family from the config alone (vocab size refines llama)."""
    assert detect_family(_config(folder), "/data/my-model") == family


def test_every_fixture_is_covered(fixtures):
    folders = {p.name for p in FIXTURES.iterdir() if (p / "config.json").is_file()}
    assert folders == set(EXPECTED)


def test_name_never_overrides_a_contradicting_config(fixtures):
    assert detect_family(_config("gpt2"), "someone/llama-3-finetune") == "gpt2"
    assert detect_family(_config("Qwen__Qwen2.5-0.5B"), "someone/mistral-merge") == "qwen2"


def test_gguf_architectures_and_names():
    assert detect_family(None, "SmolLM2-135M-Instruct.Q4_1", gguf_arch="llama") == "smollm2"
    assert detect_family(None, "/m/model.gguf", gguf_arch="llama", names=("smollm2",)) == "smollm2"
    assert detect_family(None, "/m/x.gguf", gguf_arch="gemma3", names=("gemma-3", "Gemma 3 270m")) == "gemma3"
    assert detect_family(None, "/m/mistral-7b-v0.1.Q4_K_M.gguf", gguf_arch="llama") == "mistral"
    assert detect_family(None, "/m/x.gguf", gguf_arch="qwen2") == "qwen2"
    assert detect_family(None, "/m/x.gguf", gguf_arch="gptneox") == "pythia"
    assert detect_family({"model_type": "gemma3_text"}, "google/gemma-3-270m") == "gemma3"


@pytest.mark.parametrize("name,family", [
    ("huggyllama/llama-30b", "llama"),           # LLaMA-1 30B is not Llama-3
    ("google/gemma-2b", "gemma"),                # Gemma 1 at 2B, not Gemma 2
    ("google/gemma-2-2b-it", "gemma2"),
    ("EleutherAI/gpt-neox-20b", "pythia"),
    ("EleutherAI/gpt-neo-1.3B", "gpt-neo"),
    ("microsoft/phi-2", "phi"),
    ("microsoft/Phi-3-mini-4k-instruct", "phi3"),
    ("bigscience/bloomz-560m", "bloom"),
    ("double7/vicuna-68m", "llama"),
    ("some/unknown-model", None),
])
def test_family_from_name(name, family):
    assert family_from_name(name) == family


def test_known_drafts_are_hub_ids_of_their_family():
    for family, ids in KNOWN_DRAFTS.items():
        assert family in OFFICIAL_ORGS
        for model_id in ids:
            assert re.fullmatch(r"([\w.-]+/)?[\w.-]+", model_id), model_id
            assert family_from_name(model_id) == family, model_id
    assert "Qwen/Qwen2.5-0.5B-Instruct" in KNOWN_DRAFTS["qwen2"]
    assert KNOWN_DRAFTS["gpt2"] == ["distilgpt2", "gpt2", "gpt2-medium", "gpt2-large"]
    assert "facebook/opt-350m" in KNOWN_DRAFTS["opt"]
    assert "meta-llama/Llama-3.2-1B-Instruct" in KNOWN_DRAFTS["llama3"]
    assert "HuggingFaceTB/SmolLM2-135M" in KNOWN_DRAFTS["smollm2"]
    assert "google/gemma-3-270m" in KNOWN_DRAFTS["gemma3"]


def test_is_official():
    assert is_official("Qwen/Qwen2.5-0.5B")
    assert is_official("Qwen/Qwen2.5-0.5B", "qwen2")
    assert not is_official("Qwen/Qwen2.5-0.5B", "llama")
    assert is_official("gpt2") and is_official("distilgpt2")        # legacy canonical ids
    assert is_official("meta-llama/Llama-3.2-1B")
    assert not is_official("TheBloke/Llama-2-7B-GPTQ")
    assert not is_official("/models/gpt2")
    assert not is_official("zoo:smollm2-135m")


@pytest.mark.parametrize("model_id,base", [
    ("TheBloke/Llama-2-7B-GPTQ", "meta-llama/Llama-2-7B"),
    ("TheBloke/TinyLlama-1.1B-Chat-v1.0-AWQ", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"),
    ("TheBloke/Mistral-7B-v0.1-GGUF", "mistralai/Mistral-7B-v0.1"),
    ("unsloth/Llama-3.2-1B-Instruct-bnb-4bit", "meta-llama/Llama-3.2-1B-Instruct"),
    ("bartowski/Qwen2.5-7B-Instruct-GGUF", "Qwen/Qwen2.5-7B-Instruct"),
    ("Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4", "Qwen/Qwen2.5-7B-Instruct"),
    ("Qwen/Qwen2.5-7B-Instruct-AWQ", "Qwen/Qwen2.5-7B-Instruct"),
    ("TheBloke/Foo-7B-GPTQ", "Foo-7B"),
    ("Qwen/Qwen2.5-7B-Instruct", None),
    ("gpt2", None),
    ("/local/model", None),
])
def test_base_model_of(model_id, base):
    assert base_model_of(model_id) == base


def test_strip_quant_suffixes():
    assert strip_quant_suffixes("Meta-Llama-3.1-8B-Instruct-FP8-dynamic") == "Meta-Llama-3.1-8B-Instruct"
    assert strip_quant_suffixes("SmolLM2-135M-Instruct-Q4_K_M") == "SmolLM2-135M-Instruct"
    assert strip_quant_suffixes("Qwen2.5-0.5B") == "Qwen2.5-0.5B"
