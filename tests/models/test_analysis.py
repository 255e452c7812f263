"""ModelAnalyzer on real configs: exact parameter counts, memory by dtype/quantization, PEFT, errors."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import FIXTURES, fixture_dir
from draftfinder.errors import ModelFileError
from draftfinder.models.analysis import MIB, ModelAnalyzer, tokenizer_vocab_size
from draftfinder.models.params import detect_quantization
from draftfinder.find.results import QuantizationType
from draftfinder.models.sources.base import ModelRecord
from draftfinder.models.sources.local import LocalSource

# The brief's exact counts (transformers, meta device) for the fixture configs.
EXACT = {
    "Qwen/Qwen2.5-0.5B": 494_032_768,
    "Qwen/Qwen2.5-7B": 7_615_616_512,
    "gpt2": 124_439_808,
    "TinyLlama/TinyLlama-1.1B-Chat-v1.0": 1_100_048_384,
    "meta-llama/Llama-2-7b-hf": 6_738_415_616,
    "mistralai/Mistral-7B-v0.1": 7_241_732_096,
    "HuggingFaceTB/SmolLM2-135M": 134_515_008,
}

ALL_FIXTURES = sorted(p.name for p in FIXTURES.iterdir() if (p / "config.json").is_file()) if FIXTURES.is_dir() else []


def _config(model_id: str) -> dict:
    return json.loads((fixture_dir(model_id) / "config.json").read_text())


@pytest.mark.parametrize("model_id,expected", sorted(EXACT.items()))
def test_exact_counts_of_the_brief(fixtures, model_id, expected):
    info = ModelAnalyzer.analyze_record(ModelRecord(model_id=model_id, source="hub", config=_config(model_id)))
    assert info.num_parameters == expected
    assert info.parameters_source == "config-formula"
    assert info.parameters_exact is False
    assert info.memory_source == "estimated"


@pytest.mark.parametrize("folder", ALL_FIXTURES)
def test_every_fixture_folder_analyzes(fixtures, folder):
    info = ModelAnalyzer.analyze_record(LocalSource().resolve(str(FIXTURES / folder)))
    config = _config(folder)
    assert info.source == "local"
    assert info.num_parameters > 0
    assert info.vocab_size == config["vocab_size"]
    assert info.model_family is not None
    assert info.quantization == QuantizationType.NONE
    assert info.architecture == config["architectures"][0]
    assert info.is_peft is False and info.is_quantized_variant is False


def test_target_section_fields(fixtures):
    """Manual §7.2's fields for facebook/opt-6.7b (fp16 checkpoint)."""
    info = ModelAnalyzer.analyze_record(ModelRecord("facebook/opt-6.7b", "hub", _config("facebook/opt-6.7b")))
    assert info.num_parameters == 6_658_473_984
    assert info.vocab_size == 50_272
    assert info.model_family == "opt"
    assert info.dtype == "float16"
    assert info.bits_per_param == 16.0
    assert info.memory_footprint_mb == round(6_658_473_984 * 2 / MIB, 2)
    assert info.is_official is True


def test_memory_by_stored_dtype(fixtures):
    qwen = ModelAnalyzer.analyze_record(ModelRecord("Qwen/Qwen2.5-7B", "hub", _config("Qwen/Qwen2.5-7B")))
    assert qwen.dtype == "bfloat16"
    assert qwen.memory_footprint_mb == round(7_615_616_512 * 2 / MIB, 2)     # 14,525.9 MiB
    gpt2 = ModelAnalyzer.analyze_record(ModelRecord("gpt2", "hub", _config("gpt2")))
    assert gpt2.dtype is None and gpt2.bits_per_param == 32.0                # no dtype declared: float32
    assert gpt2.memory_footprint_mb == round(124_439_808 * 4 / MIB, 2)


def test_tokenizer_vocab_sizes_from_files(fixtures):
    assert tokenizer_vocab_size(fixture_dir("Qwen/Qwen2.5-7B")) == 151_665     # 151,643 BPE + 22 added
    assert tokenizer_vocab_size(fixture_dir("gpt2")) == 50_257
    assert tokenizer_vocab_size(fixture_dir("TinyLlama/TinyLlama-1.1B-Chat-v1.0")) == 32_000
    assert tokenizer_vocab_size(fixture_dir("mistralai/Mistral-7B-v0.1")) == 32_000
    assert tokenizer_vocab_size(fixture_dir("facebook/opt-125m")) is None
    info = ModelAnalyzer.analyze_record(LocalSource().resolve(str(fixture_dir("Qwen/Qwen2.5-7B"))))
    assert (info.vocab_size, info.tokenizer_vocab_size) == (152_064, 151_665)


# --- quantization ---------------------------------------------------------------------------------------

GPTQ = {"bits": 4, "group_size": 128, "damp_percent": 0.1, "desc_act": False, "sym": True,
        "true_sequential": True, "model_name_or_path": None, "model_file_base_name": "model", "quant_method": "gptq"}
AWQ = {"quant_method": "awq", "zero_point": True, "group_size": 128, "bits": 4, "version": "gemm"}
BNB4 = {"_load_in_4bit": True, "_load_in_8bit": False, "bnb_4bit_compute_dtype": "bfloat16",
        "bnb_4bit_quant_storage": "uint8", "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True,
        "llm_int8_enable_fp32_cpu_offload": False, "llm_int8_has_fp16_weight": False,
        "llm_int8_skip_modules": None, "llm_int8_threshold": 6.0, "load_in_4bit": True, "load_in_8bit": False,
        "quant_method": "bitsandbytes"}
BNB8 = dict(BNB4, _load_in_4bit=False, _load_in_8bit=True, load_in_4bit=False, load_in_8bit=True)
W4A16 = {"quant_method": "compressed-tensors", "format": "pack-quantized",
         "config_groups": {"group_0": {"targets": ["Linear"], "weights": {"num_bits": 4, "group_size": 128,
                                                                           "strategy": "group", "type": "int"}}}}

# Llama-2-7b: linear (q, k, v, o, gate, up, down) = 32·(4·4096² + 3·4096·11008); the rest stays 16-bit.
L2_LINEAR = 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008)
L2_REST = 6_738_415_616 - L2_LINEAR


def _llama2(quantization_config, model_id="TheBloke/Llama-2-7B-GPTQ", tags=()):
    config = dict(_config("meta-llama/Llama-2-7b-hf"), quantization_config=quantization_config)
    return ModelAnalyzer.analyze_record(ModelRecord(model_id, "hub", config, tags=list(tags)))


def test_gptq(fixtures):
    info = _llama2(GPTQ, tags=["base_model:quantized:meta-llama/Llama-2-7b-hf"])
    assert info.quantization == QuantizationType.GPTQ
    assert info.num_parameters == 6_738_415_616
    expected = L2_LINEAR * (4 + (16 + 4) / 128) / 8 + L2_REST * 2          # 4-bit + fp16 scale & 4-bit zero / 128
    assert info.memory_footprint_mb == round(expected / MIB, 2)
    assert info.bits_per_param == pytest.approx(expected * 8 / 6_738_415_616, abs=1e-4)
    assert info.is_quantized_variant and not info.is_official
    assert info.base_model_id == "meta-llama/Llama-2-7b-hf"                  # from the Hub's tag


def test_awq_base_from_name(fixtures):
    info = _llama2(AWQ, model_id="TheBloke/Llama-2-7B-AWQ")
    assert info.quantization == QuantizationType.AWQ
    assert info.base_model_id == "meta-llama/Llama-2-7B"
    assert info.memory_footprint_mb == round((L2_LINEAR * (4 + 20 / 128) / 8 + L2_REST * 2) / MIB, 2)


def test_bitsandbytes(fixtures):
    four = _llama2(BNB4, model_id="unsloth/llama-2-7b-bnb-4bit")
    assert four.quantization == QuantizationType.BNB_4BIT
    double_quant_bits = 8 / 64 + 32 / (64 * 256)
    assert four.memory_footprint_mb == round((L2_LINEAR * (4 + double_quant_bits) / 8 + L2_REST * 2) / MIB, 2)
    eight = _llama2(BNB8, model_id="someone/llama-2-7b-8bit")
    assert eight.quantization == QuantizationType.BNB_8BIT
    assert eight.memory_footprint_mb == round((L2_LINEAR + L2_REST * 2) / MIB, 2)


def test_compressed_tensors_int4_and_names(fixtures):
    assert _llama2(W4A16, model_id="RedHatAI/Llama-2-7b-w4a16").quantization == QuantizationType.INT4
    assert detect_quantization({}, "TheBloke/Llama-2-7B-GPTQ").type == QuantizationType.GPTQ
    assert detect_quantization({}, "Qwen/Qwen2.5-0.5B").type == QuantizationType.NONE
    assert detect_quantization({"quantization_config": {"quant_method": "fp8"}}).type == QuantizationType.INT8


# --- parameter sources ----------------------------------------------------------------------------------

def test_hub_metadata_with_gpt2_mask_buffers(fixtures):
    """The Hub reports 137,022,720 F32 'parameters' for gpt2: 124,439,808 + 12 causal masks of 1024²."""
    record = ModelRecord("openai-community/gpt2", "hub", _config("gpt2"), safetensors_parameters={"F32": 137_022_720},
                         safetensors_source="hub-safetensors-metadata")
    info = ModelAnalyzer.analyze_record(record)
    assert info.num_parameters == 124_439_808
    assert info.parameters_exact
    assert info.parameters_source == "hub-safetensors-metadata (causal-mask buffers removed)"


def test_hub_metadata_used_as_is(fixtures):
    record = ModelRecord("Qwen/Qwen2.5-0.5B", "hub", _config("Qwen/Qwen2.5-0.5B"),
                         safetensors_parameters={"BF16": 494_032_768}, safetensors_source="hub-safetensors-metadata",
                         weights_bytes=988_097_824)
    info = ModelAnalyzer.analyze_record(record)
    assert (info.num_parameters, info.parameters_source, info.memory_source) == (
        494_032_768, "hub-safetensors-metadata", "exact")
    assert info.memory_footprint_mb == round(988_097_824 / MIB, 2)


def test_packed_hub_metadata_is_not_a_parameter_count(fixtures):
    """GPTQ int32 element counts from the Hub are packed weights: fall back to the formula."""
    config = dict(_config("meta-llama/Llama-2-7b-hf"), quantization_config=GPTQ)
    record = ModelRecord("TheBloke/Llama-2-7B-GPTQ", "hub", config,
                         safetensors_parameters={"I32": 809_500_672, "F16": 295_833_600},
                         safetensors_source="hub-safetensors-metadata")
    info = ModelAnalyzer.analyze_record(record)
    assert (info.num_parameters, info.parameters_source) == (6_738_415_616, "config-formula")


def test_catalog_count(fixtures):
    record = ModelRecord("gpt2", "catalog", _config("gpt2"), catalog={"num_parameters": 124_439_808, "family": "gpt2"})
    info = ModelAnalyzer.analyze_record(record)
    assert (info.parameters_source, info.parameters_exact) == ("catalog", True)


def test_analyze_model_resolves_paths_and_zoo(fixtures, smollm2_gguf):
    info = ModelAnalyzer.analyze_model(str(fixture_dir("gpt2")))
    assert (info.num_parameters, info.model_family, info.source) == (124_439_808, "gpt2", "local")
    zoo = ModelAnalyzer.analyze_model("zoo:smollm2-135m")
    assert (zoo.num_parameters, zoo.dtype, zoo.source) == (134_515_008, "Q4_1", "zoo")


# --- PEFT -----------------------------------------------------------------------------------------------

LORA = {"alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
        "bias": "none", "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True,
        "layers_pattern": None, "layers_to_transform": None, "lora_alpha": 16, "lora_dropout": 0.05,
        "modules_to_save": None, "peft_type": "LORA", "r": 8, "rank_pattern": {}, "revision": None,
        "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM"}


def test_peft_adapter_folder(tmp_path, fixtures):
    """An adapter repo (adapter_config.json + adapter_model.safetensors, no config.json)."""
    import torch
    from safetensors.torch import save_file

    tensors = {}
    for i in range(22):                   # TinyLlama: 22 layers, q 2048→2048, v 2048→256, rank 8
        p = f"base_model.model.model.layers.{i}.self_attn"
        tensors[f"{p}.q_proj.lora_A.weight"] = torch.zeros(8, 2048)
        tensors[f"{p}.q_proj.lora_B.weight"] = torch.zeros(2048, 8)
        tensors[f"{p}.v_proj.lora_A.weight"] = torch.zeros(8, 2048)
        tensors[f"{p}.v_proj.lora_B.weight"] = torch.zeros(256, 8)
    save_file(tensors, str(tmp_path / "adapter_model.safetensors"))
    (tmp_path / "adapter_config.json").write_text(json.dumps(LORA))
    info = ModelAnalyzer.analyze_record(LocalSource().resolve(str(tmp_path)))
    assert info.is_peft
    assert info.base_model_id == "TinyLlama/TinyLlama-1.1B-Chat-v1.0"
    assert info.num_parameters == 22 * (8 * 2048 + 2048 * 8 + 8 * 2048 + 256 * 8)     # 1,126,400
    assert info.model_family == "llama"
    assert info.architecture == "peft:LORA"


def test_peft_with_config_and_hub_tags(tmp_path, fixtures):
    for name in ("config.json", "tokenizer.model", "tokenizer_config.json"):
        shutil.copy(fixture_dir("TinyLlama/TinyLlama-1.1B-Chat-v1.0") / name, tmp_path / name)
    (tmp_path / "adapter_config.json").write_text(json.dumps(LORA))
    info = ModelAnalyzer.analyze_record(LocalSource().resolve(str(tmp_path)))
    assert info.is_peft and info.base_model_id == "TinyLlama/TinyLlama-1.1B-Chat-v1.0"
    assert info.num_parameters == 1_100_048_384
    hub = ModelAnalyzer.analyze_record(ModelRecord("someone/tinyllama-lora", "hub", {}, files=["adapter_config.json"],
                                                   tags=["peft", "base_model:adapter:TinyLlama/TinyLlama_v1.1"]))
    assert hub.is_peft and hub.base_model_id == "TinyLlama/TinyLlama_v1.1"


# --- errors ---------------------------------------------------------------------------------------------

def test_missing_config_names_the_file(tmp_path):
    (tmp_path / "vocab.json").write_text("{}")
    with pytest.raises(ModelFileError, match=r"config\.json: no such file"):
        LocalSource().resolve(str(tmp_path))
    with pytest.raises(ModelFileError, match=r"someone/model/config\.json"):
        ModelAnalyzer.analyze_record(ModelRecord("someone/model", "hub", {}))


def test_broken_config(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "llama",')
    with pytest.raises(ModelFileError, match=r"config\.json: invalid JSON"):
        LocalSource().resolve(str(tmp_path))
    (tmp_path / "config.json").write_text('{"model_type": "llama", "vocab_size": 32000}')
    with pytest.raises(ModelFileError, match="config has no hidden_size, num_hidden_layers, num_attention_heads"):
        ModelAnalyzer.analyze_record(LocalSource().resolve(str(tmp_path)))
