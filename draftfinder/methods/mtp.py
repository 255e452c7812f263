"""Built-in multi-token-prediction (MTP) layers, detected from the target's own ``config.json``.

Some targets ship their own draft: DeepSeek-V3/R1 and GLM-4.5 keep ``num_nextn_predict_layers`` extra layers in
the checkpoint, Qwen3.5 ``mtp_num_hidden_layers``, MiMo its MTP layers. vLLM turns such a config into a draft
config in ``SpeculativeConfig.hf_config_override`` (vllm/config/speculative.py @ 002e77c1f0ef); :data:`MTP_RULES`
mirrors the cases of that function we can read from a config alone: the ``model_type`` (or first architecture)
it matches and the key it reads the layer count from. A target is offered MTP only when that count is ≥ 1 —
a config that names the key with 0 layers (checkpoints published without the MTP weights) is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from draftfinder.methods.registry import VLLM_SOURCE

# (model_type or architecture, config key for the layer count, vLLM's MTP model type) — from hf_config_override.
MTP_RULES: Tuple[Tuple[str, str, str], ...] = (
    ("deepseek_v3", "num_nextn_predict_layers", "deepseek_mtp"),
    ("deepseek_v32", "num_nextn_predict_layers", "deepseek_mtp"),
    ("deepseek_v4", "num_nextn_predict_layers", "deepseek_mtp"),
    ("glm_moe_dsa", "num_nextn_predict_layers", "deepseek_mtp"),
    ("Glm4MoeForCausalLM", "num_nextn_predict_layers", "glm4_moe_mtp"),
    ("Glm4MoeLiteForCausalLM", "num_nextn_predict_layers", "glm4_moe_lite_mtp"),
    ("MiMoForCausalLM", "num_nextn_predict_layers", "mimo_mtp"),
    ("ernie4_5_moe", "num_nextn_predict_layers", "ernie_mtp"),
    ("nemotron_h", "num_nextn_predict_layers", "nemotron_h_mtp"),
    ("qwen3_next", "num_nextn_predict_layers", "qwen3_next_mtp"),
    ("qwen3_5", "mtp_num_hidden_layers", "qwen3_5_mtp"),
    ("qwen3_5_moe", "mtp_num_hidden_layers", "qwen3_5_mtp"),
    ("qwen3_5_text", "mtp_num_hidden_layers", "qwen3_5_mtp"),
    ("qwen3_5_moe_text", "mtp_num_hidden_layers", "qwen3_5_mtp"),
    ("longcat_flash", "num_nextn_predict_layers", "longcat_flash_mtp"),
    ("exaone_moe", "num_nextn_predict_layers", "exaone_moe_mtp"),
    ("bailing_hybrid", "num_nextn_predict_layers", "bailing_hybrid_mtp"),
    ("pangu_ultra_moe", "num_nextn_predict_layers", "pangu_ultra_moe_mtp"),
    ("step3p5", "num_nextn_predict_layers", "step3p5_mtp"),
    ("hy_v3", "num_nextn_predict_layers", "hy_v3_mtp"),
)


@dataclass(frozen=True)
class MtpLayers:
    """The target's own MTP layers, as its config states them."""

    layers: int              # how many MTP layers the checkpoint carries
    key: str                 # the config key the count was read from
    matched: str             # the model_type / architecture that matched
    vllm_model_type: str     # what vLLM's hf_config_override turns the config into
    source: str = VLLM_SOURCE + " (SpeculativeConfig.hf_config_override)"

    def to_dict(self) -> Dict[str, Any]:
        return {"layers": self.layers, "key": self.key, "matched": self.matched,
                "vllm_model_type": self.vllm_model_type, "source": self.source}


def _count(config: Dict[str, Any], key: str) -> Optional[int]:
    for section in (config, config.get("text_config") or {}):
        value = section.get(key) if isinstance(section, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def detect_mtp(config: Optional[Dict[str, Any]]) -> Optional[MtpLayers]:
    """The MTP layers ``config`` (a parsed config.json) declares, or None (no rule matches / 0 layers)."""
    if not isinstance(config, dict):
        return None
    names = {str(config.get("model_type") or "")}
    names.update(str(a) for a in (config.get("architectures") or [])[:1])
    text = config.get("text_config")
    if isinstance(text, dict) and text.get("model_type"):
        names.add(str(text["model_type"]))
    for matched, key, vllm_type in MTP_RULES:
        if matched in names:
            n = _count(config, key)
            if n is not None and n >= 1:
                return MtpLayers(n, key, matched, vllm_type)
            return None
    return None
