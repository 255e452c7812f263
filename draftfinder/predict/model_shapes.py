"""Architectures of the models in the published measurements (``data/published.json``), for the latency model.

The published rows name their models by Hub id; fitting and validating the latency model on them needs each
model's shape. Figures are the models' published ones: parameters, layers and attention heads (query/KV) from the
model cards, hidden size, vocabulary and embedding tying from their ``config.json``:

- Qwen2.5 (Qwen/Qwen2.5-*-Instruct cards, "Number of Parameters", "Number of Layers", "Number of Attention Heads
  (GQA)"; config.json ``hidden_size``, ``vocab_size`` 151936 for 0.5B–3B and 152064 from 7B, ``tie_word_embeddings``
  true up to 3B). Qwen2.5-Coder shares the architecture of the same size.
- LLaMA-1 / Vicuna v1.3 (lmsys/vicuna-*-v1.3 config.json, LLaMA paper Table 2): 7B 32×4096, 13B 40×5120,
  33B 60×6656, vocabulary 32000, untied; OpenLLaMA 7B v2 has the LLaMA-7B shape.
- Llama 3.1 8B / 3.2 1B (meta-llama config.json): 32×4096 and 16×2048, 8 KV heads, vocabulary 128256; 3.2-1B ties
  its embeddings.
- vicuna-68m (double7/vicuna-68m, the Spec-Bench drafter) and llama-160m (JackFram/llama-160m): LLaMA layers of
  width 768, 2 and 12 layers, vocabulary 32000.
- Llama-2 7B / 70B (meta-llama config.json): 6,738,415,616 and 68,976,648,192 parameters, 32×4096 and 80×8192
  (8 KV heads), vocabulary 32000.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

from draftfinder.predict.latency import ModelShape


@dataclass(frozen=True)
class Arch:
    params: float
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool

    def shape(self, weight_format: str, name: str = "") -> ModelShape:
        """The latency model's :class:`ModelShape` at ``weight_format``; KV cache f16 (2 bytes per value)."""
        kv = 2.0 * self.layers * self.kv_heads * (self.hidden / self.heads) * 2.0
        return ModelShape(self.params, self.layers, self.hidden, self.vocab, weight_format, kv, self.tied, None, name)


ARCHS: Dict[str, Arch] = {
    "Qwen/Qwen2.5-0.5B-Instruct": Arch(0.494e9, 24, 896, 14, 2, 151936, True),
    "Qwen/Qwen2.5-1.5B-Instruct": Arch(1.54e9, 28, 1536, 12, 2, 151936, True),
    "Qwen/Qwen2.5-3B-Instruct": Arch(3.09e9, 36, 2048, 16, 2, 151936, True),
    "Qwen/Qwen2.5-7B-Instruct": Arch(7.61e9, 28, 3584, 28, 4, 152064, False),
    "Qwen/Qwen2.5-14B-Instruct": Arch(14.7e9, 48, 5120, 40, 8, 152064, False),
    "Qwen/Qwen2.5-32B-Instruct": Arch(32.5e9, 64, 5120, 40, 8, 152064, False),
    "Qwen/Qwen2.5-72B-Instruct": Arch(72.7e9, 80, 8192, 64, 8, 152064, False),
    "lmsys/vicuna-7b-v1.3": Arch(6.74e9, 32, 4096, 32, 32, 32000, False),
    "lmsys/vicuna-13b-v1.3": Arch(13.0e9, 40, 5120, 40, 40, 32000, False),
    "lmsys/vicuna-33b-v1.3": Arch(32.5e9, 60, 6656, 52, 52, 32000, False),
    "double7/vicuna-68m": Arch(68e6, 2, 768, 12, 12, 32000, False),
    "JackFram/llama-160m": Arch(162e6, 12, 768, 12, 12, 32000, False),
    "openlm-research/open_llama_7b_v2": Arch(6.74e9, 32, 4096, 32, 32, 32000, False),
    "meta-llama/Llama-3.1-8B-Instruct": Arch(8.03e9, 32, 4096, 32, 8, 128256, False),
    "meta-llama/Llama-3.2-1B-Instruct": Arch(1.24e9, 16, 2048, 32, 8, 128256, True),
    "meta-llama/Llama-2-7b-chat-hf": Arch(6_738_415_616, 32, 4096, 32, 32, 32000, False),
    "meta-llama/Llama-2-70b-chat-hf": Arch(68_976_648_192, 80, 8192, 64, 8, 32000, False),
}
ALIASES = {
    "Qwen/Qwen2.5-Coder-32B-Instruct": "Qwen/Qwen2.5-32B-Instruct",
    "Qwen/Qwen2.5-Coder-3B": "Qwen/Qwen2.5-3B-Instruct",
}
# draft labels of rows without a Hub id
LABELS = {"vicuna-68m": "double7/vicuna-68m", "llama-160m": "JackFram/llama-160m"}


def arch_of(model_id: Optional[str], label: Optional[str] = None) -> Optional[Arch]:
    """The architecture of a published model by Hub id (or, without one, by a label naming a known drafter)."""
    if model_id:
        key = ALIASES.get(model_id, model_id)
        if key in ARCHS:
            return ARCHS[key]
    for needle, key in LABELS.items():
        if label and needle in label:
            return ARCHS[key]
    return None


__all__ = ["Arch", "ARCHS", "arch_of"]
