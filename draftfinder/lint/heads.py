"""Which target an EAGLE / EAGLE-3 head was trained for, so lint can flag a head served with another target.

Evidence, first hit wins:

1. the head's own config, when the resolver finds it (a local folder, the HF cache, the catalog):
   ``speculators_config.verifier.name_or_path`` (the ``speculators`` format vLLM reads) or
   ``base_model_name_or_path`` / ``base_model``;
2. ``draftfinder/data/heads.json`` when this build ships it (the published heads catalog, issue 11 §3);
3. the pairs the engines' own documentation serves (below, each with its page).

No engine checks this: vLLM and SGLang load any head whose shapes fit, and a head trained on another model's
hidden states just proposes tokens the target rejects.
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

# head -> (target it was trained for, where an engine's documentation pairs them)
DOCUMENTED_HEADS: Dict[str, Tuple[str, str]] = {
    "lmsys/sglang-EAGLE-llama2-chat-7B": (
        "meta-llama/Llama-2-7b-chat-hf",
        "sgl-project/sglang docs/advanced_features/speculative_decoding.md @067ad4d (EAGLE-2 Decoding)"),
    "lmsys/sglang-EAGLE-LLaMA3-Instruct-8B": (
        "meta-llama/Meta-Llama-3-8B-Instruct",
        "sgl-project/sglang docs/advanced_features/speculative_decoding.md @067ad4d (FR-Spec)"),
    "jamesliu1/sglang-EAGLE3-Llama-3.1-Instruct-8B": (
        "meta-llama/Llama-3.1-8B-Instruct",
        "sgl-project/sglang docs/advanced_features/speculative_decoding.md @067ad4d (EAGLE-3 Decoding: "
        "--model meta-llama/Meta-Llama-3.1-8B-Instruct)"),
    "yuhuili/EAGLE3-LLaMA3.1-Instruct-8B": (
        "meta-llama/Llama-3.1-8B-Instruct",
        "vllm-project/vllm vllm/config/speculative.py @002e77c (comment: examples of eagle3 heads; "
        "_maybe_override_draft_max_position_embeddings names it for Llama-3.1-8B)"),
    "nm-testing/SpeculatorLlama3-1-8B-Eagle3-converted-0717-quantized": (
        "RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8-dynamic",
        "vllm-project/vllm#25250 (serve command pairing it with Meta-Llama-3.1-8B-Instruct-FP8-dynamic)"),
}


def model_key(name: str) -> str:
    """Comparable form of a model id: no owner, lower case, no ``meta-`` prefix, no quantization suffix."""
    base = name.rstrip("/").rsplit("/", 1)[-1].lower()
    base = re.sub(r"^meta-", "", base)
    base = re.sub(r"-(fp8|int8|int4|w8a8|w4a16|awq|gptq|gguf)(-dynamic)?$", "", base)
    return base


def trained_for(head: str, config: Optional[dict]) -> Optional[Tuple[str, str]]:
    """``(target, evidence)`` for ``head``, or None when nothing says."""
    cfg = config or {}
    verifier = ((cfg.get("speculators_config") or {}).get("verifier") or {}).get("name_or_path")
    if verifier:
        return verifier, "the head's config.json speculators_config.verifier.name_or_path"
    for key in ("base_model_name_or_path", "base_model"):
        if isinstance(cfg.get(key), str) and cfg[key]:
            return cfg[key], f"the head's config.json {key}"
    from draftfinder.errors import HeadsDataError
    from draftfinder.methods.heads import load_heads

    try:
        for row in load_heads():
            if row.repo_id.lower() == head.lower():
                return row.target, f"draftfinder/data/heads.json ({row.provenance_line()})"
    except HeadsDataError:
        pass
    if head in DOCUMENTED_HEADS:
        target, source = DOCUMENTED_HEADS[head]
        return target, source
    return None


def same_model(a: str, b: str) -> bool:
    return model_key(a) == model_key(b)
