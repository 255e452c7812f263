"""Built-in MTP layers detected from the target's config (vLLM's hf_config_override cases)."""

from __future__ import annotations

import json

from draftfinder.methods.mtp import detect_mtp
from tests.conftest import fixture_dir

# The MTP keys of deepseek-ai/DeepSeek-V3's config.json (its full config has ~50 keys; these decide).
DEEPSEEK_V3 = {"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "num_nextn_predict_layers": 1,
               "hidden_size": 7168, "num_hidden_layers": 61}


def test_deepseek_v3_offers_its_mtp_layer():
    layers = detect_mtp(DEEPSEEK_V3)
    assert (layers.layers, layers.key, layers.vllm_model_type) == (1, "num_nextn_predict_layers", "deepseek_mtp")
    assert "hf_config_override" in layers.source


def test_glm45_by_architecture_and_qwen35_by_its_own_key():
    assert detect_mtp({"architectures": ["Glm4MoeForCausalLM"], "model_type": "glm4_moe",
                       "num_nextn_predict_layers": 1}).vllm_model_type == "glm4_moe_mtp"
    assert detect_mtp({"model_type": "qwen3_5", "text_config": {"model_type": "qwen3_5_text",
                                                                "mtp_num_hidden_layers": 1}}).layers == 1


def test_no_mtp_for_plain_models_or_zero_layers():
    """A config naming the key with 0 layers (weights stripped) is not offered MTP."""
    for name in ("Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"):
        assert detect_mtp(json.loads((fixture_dir(name) / "config.json").read_text())) is None
    assert detect_mtp(dict(DEEPSEEK_V3, num_nextn_predict_layers=0)) is None
    assert detect_mtp(None) is None
