"""The few model facts lint rules need (vocab size, architecture, MTP layers, recurrent memory), from our resolver.

A model named in a command is looked up with :class:`~draftfinder.models.resolver.Resolver`: a local folder or
``.gguf`` file, the HF cache, the built-in catalog — and the Hub only when lint is told it may (``--hub``).
A name that resolves nowhere gives ``found=False`` with the reason; rules then say they could not check.

Recurrent / hybrid memory (no partial removal of the last tokens): the config's ``model_type`` or GGUF
architecture against llama.cpp's recurrent and hybrid architectures (``src/llama-arch.cpp``
``llm_arch_is_recurrent`` / ``llm_arch_is_hybrid``: Mamba, Mamba-2, RWKV-6/7, Jamba, Falcon-H1, Granite-4.0-H,
Nemotron-H, LFM2, PLaMo-2, Qwen3-Next, Qwen3.5, Kimi-Linear …), and, when nothing resolves, the model name
(said so: "by name").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

RECURRENT_TYPES = {"mamba", "mamba2", "rwkv", "rwkv5", "rwkv6", "rwkv7", "rwkv6qwen2", "arwkv7"}
HYBRID_TYPES = {"jamba", "falcon_h1", "falcon-h1", "granitemoehybrid", "granitehybrid", "nemotron_h", "nemotron-h",
                "lfm2", "lfm2_moe", "plamo2", "qwen3_next", "qwen3next", "qwen3_5", "qwen3_5_moe", "qwen35",
                "qwen35moe", "zamba", "zamba2", "bamba", "kimi_linear", "minimax", "minimax_m1"}
_NAME_PATTERNS = [
    (r"mamba", "recurrent"), (r"rwkv", "recurrent"), (r"jamba", "hybrid"), (r"falcon-?h1", "hybrid"),
    (r"granite-4\.0-h", "hybrid"), (r"nemotron-h\b|nemotron-nano-9b-v2", "hybrid"), (r"lfm2", "hybrid"),
    (r"qwen3-next", "hybrid"), (r"qwen3\.5", "hybrid"), (r"zamba", "hybrid"), (r"bamba", "hybrid"),
    (r"plamo-2", "hybrid"), (r"kimi-linear", "hybrid"),
]


@dataclass
class ModelFacts:
    """What lint knows about one model name."""

    name: str
    found: bool
    source: Optional[str] = None          # hub | hf-cache | local | gguf | zoo | catalog
    config: Dict[str, Any] = field(default_factory=dict)
    problem: Optional[str] = None         # why it was not found
    memory_evidence: str = ""

    @property
    def text_config(self) -> Dict[str, Any]:
        inner = self.config.get("text_config")
        return inner if isinstance(inner, dict) else self.config

    @property
    def vocab_size(self) -> Optional[int]:
        v = self.text_config.get("vocab_size", self.config.get("vocab_size"))
        return int(v) if isinstance(v, (int, float)) else None

    @property
    def model_type(self) -> Optional[str]:
        return self.text_config.get("model_type") or self.config.get("model_type")

    @property
    def architectures(self) -> List[str]:
        return list(self.config.get("architectures") or [])

    def mtp_layers(self) -> Optional[int]:
        """MTP layers the config declares as vLLM reads them (methods.mtp.detect_mtp; 0 when it declares none),
        None when the config is unknown."""
        from draftfinder.methods.mtp import detect_mtp

        if not self.found:
            return None
        found = detect_mtp(self.config) or detect_mtp(self.text_config)
        return found.layers if found else 0

    def memory_kind(self) -> Optional[str]:
        """"recurrent" / "hybrid" when the model's memory cannot drop its last tokens, else None."""
        mt = (self.model_type or "").lower()
        if self.found and mt:
            if mt in RECURRENT_TYPES:
                self.memory_evidence = f"model_type {mt}, {self.source}"
                return "recurrent"
            if mt in HYBRID_TYPES:
                self.memory_evidence = f"model_type {mt}, {self.source}"
                return "hybrid"
            return None
        lowered = self.name.lower()
        for pattern, kind in _NAME_PATTERNS:
            if re.search(pattern, lowered):
                self.memory_evidence = f"by name: '{pattern}' in {self.name}; not resolved"
                return kind
        return None

    def where(self) -> str:
        return f"{self.source}" if self.found else f"not resolved: {self.problem}"


_STATE: Dict[str, Any] = {"resolver": None, "cache": {}}


def use_resolver(resolver: Any) -> None:
    """Use ``resolver`` for the lookups of this lint run (None: a new offline one on first use)."""
    _STATE["resolver"] = resolver
    _STATE["cache"] = {}


def notes() -> List[str]:
    r = _STATE.get("resolver")
    return list(getattr(r, "notes", []) or [])


def lookup(name: str) -> ModelFacts:
    """The facts of ``name`` (never raises: an unresolvable name gives ``found=False``)."""
    from draftfinder.errors import DraftFinderError

    cache = _STATE["cache"]
    if name in cache:
        return cache[name]
    if _STATE["resolver"] is None:
        from draftfinder.models.resolver import Resolver

        _STATE["resolver"] = Resolver(offline=True)
    try:
        record = _STATE["resolver"].resolve(name)
        facts = ModelFacts(name, True, record.source, dict(record.config or {}))
    except DraftFinderError as err:
        facts = ModelFacts(name, False, problem=err.message)
    cache[name] = facts
    return facts
