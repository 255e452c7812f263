"""Model families: which models share a tokenizer lineage, who publishes them, which drafts are known-good.

A *family* here is a group whose members share (or nearly share) one tokenizer, which is what makes a draft
usable (manual §4.1, Appendix A). Detection uses, strongest first:

1. the config's ``model_type`` / ``architectures`` (or the GGUF ``general.architecture``) — a coarse family;
2. the name (Hub id, folder, GGUF ``general.name``/``basename``) — refines it (TinyLlama → llama,
   CodeLlama → codellama, SmolLM2 → smollm2), but never overrides a contradicting config;
3. the vocabulary size for Llama-architecture configs with an uninformative name: 128256 → llama3 (Llama-3.x
   tiktoken BPE), 32016 → codellama (Llama-2 SentencePiece + 16 infilling tokens), 49152 → smollm2,
   32000 → llama.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Set

# model_type (config.json) -> coarse family.
MODEL_TYPE_FAMILY: Dict[str, str] = {
    "gpt2": "gpt2",
    "opt": "opt",
    "llama": "llama",
    "mistral": "mistral",
    "mixtral": "mistral",
    "qwen2": "qwen2",
    "qwen2_moe": "qwen2",
    "qwen3": "qwen3",
    "qwen3_moe": "qwen3",
    "gemma": "gemma",
    "gemma2": "gemma2",
    "gemma3": "gemma3",
    "gemma3_text": "gemma3",
    "gpt_neox": "pythia",
    "bloom": "bloom",
    "gpt_neo": "gpt-neo",
    "gptj": "gpt-j",
    "phi": "phi",
    "phi3": "phi3",
    "falcon": "falcon",
    "starcoder2": "starcoder2",
    "gpt_bigcode": "starcoder",
    "stablelm": "stablelm",
    "olmo": "olmo",
    "olmo2": "olmo",
    # own tokenizers, not their architecture's: kept apart so no draft is proposed across them
    "llama4": "llama4",
    "granite": "granite",
    "granitemoe": "granite",
    "smollm3": "smollm3",
    "gpt_oss": "gpt-oss",
    "qwen3_5": "qwen3.5",
    "qwen3_5_moe": "qwen3.5",
    "gemma4": "gemma4",
}

# GGUF general.architecture -> coarse family (llama.cpp names).
GGUF_ARCH_FAMILY: Dict[str, str] = {
    "llama": "llama",
    "mistral": "mistral",
    "qwen2": "qwen2",
    "qwen2moe": "qwen2",
    "qwen3": "qwen3",
    "gemma": "gemma",
    "gemma2": "gemma2",
    "gemma3": "gemma3",
    "gpt2": "gpt2",
    "gptneox": "pythia",
    "bloom": "bloom",
    "gptj": "gpt-j",
    "phi2": "phi",
    "phi3": "phi3",
    "falcon": "falcon",
    "starcoder2": "starcoder2",
    "starcoder": "starcoder",
    "stablelm": "stablelm",
    "olmo": "olmo",
}

# Families that run on another family's architecture (a Llama-architecture config may be any of these).
ARCH_SUBFAMILIES: Dict[str, Set[str]] = {
    # llama.cpp converts Mistral to "llama"; Falcon3, Yi, Megrez are Llama-architecture with their own vocabularies
    "llama": {"llama", "llama3", "codellama", "smollm2", "mistral", "falcon3", "yi", "megrez"},
    "mistral": {"mistral", "ministral"},
}

# Name patterns -> family, most specific first. Matched case-insensitively against the id's last part,
# the GGUF name or basename.
NAME_PATTERNS: List[tuple[str, re.Pattern]] = [
    ("codellama", re.compile(r"code-?llama")),
    ("smollm2", re.compile(r"smol-?lm")),
    ("llama3", re.compile(r"llama-?3(?!\d)")),
    ("llama", re.compile(r"tinyllama|llama-?2|llama2|sheared-llama|vicuna|llama-(68|160)m|open_?llama")),
    ("ministral", re.compile(r"ministral")),        # Tekken 131k vocabulary, not Mistral v1's 32k
    ("mistral", re.compile(r"mistral|mixtral|zephyr")),
    ("qwen3.5", re.compile(r"qwen-?3\.5")),         # 248k vocabulary, not Qwen3's 152k
    ("qwen3", re.compile(r"qwen-?3(?!\d)")),
    ("qwen2", re.compile(r"qwen-?2(?!\d)")),
    ("gemma4", re.compile(r"gemma-?4(?![\db])")),
    ("gemma3", re.compile(r"gemma-?3(?![\db])")),   # not gemma-2b (Gemma 1, 2B)
    ("gemma2", re.compile(r"gemma-?2(?![\db])")),
    ("gemma", re.compile(r"gemma")),
    ("phi3", re.compile(r"phi-?3|phi-?4")),
    ("phi", re.compile(r"phi-?(1|1[._]5|2)\b")),
    ("pythia", re.compile(r"pythia|gpt-?neox")),
    ("gpt-neo", re.compile(r"gpt-?neo(?!x)")),
    ("gpt-j", re.compile(r"gpt-?j")),
    ("bloom", re.compile(r"bloom")),
    ("opt", re.compile(r"(^|[-_/])opt-")),
    ("gpt2", re.compile(r"gpt-?2|distilgpt2")),
    ("yi", re.compile(r"^yi-")),                     # Llama architecture, own 64k vocabulary
    ("megrez", re.compile(r"megrez")),              # Llama architecture, own 123k vocabulary
    ("falcon3", re.compile(r"falcon-?3")),          # Llama architecture, own 131k vocabulary
    ("falcon", re.compile(r"falcon")),
    ("starcoder2", re.compile(r"starcoder-?2")),
    ("llama", re.compile(r"llama")),
]

# Known-good drafts per family: real public Hub ids, smallest first (manual §9.2: "DraftFinder automatically
# includes known models for each family"). Target-size filtering happens after analysis.
KNOWN_DRAFTS: Dict[str, List[str]] = {
    "gpt2": ["distilgpt2", "gpt2", "gpt2-medium", "gpt2-large"],
    "opt": ["facebook/opt-125m", "facebook/opt-350m", "facebook/opt-1.3b", "facebook/opt-2.7b"],
    "llama": ["JackFram/llama-68m", "JackFram/llama-160m", "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
              "TinyLlama/TinyLlama_v1.1", "princeton-nlp/Sheared-LLaMA-1.3B"],
    "llama3": ["meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-3B",
               "meta-llama/Llama-3.2-3B-Instruct"],
    "codellama": ["codellama/CodeLlama-7b-hf", "codellama/CodeLlama-7b-Instruct-hf",
                  "codellama/CodeLlama-7b-Python-hf"],
    "mistral": [],        # no official small model shares Mistral's v1 SentencePiece model; Hub search fills in
    "qwen2": ["Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-1.5B", "Qwen/Qwen2.5-1.5B-Instruct",
              "Qwen/Qwen2.5-3B", "Qwen/Qwen2.5-3B-Instruct", "Qwen/Qwen2.5-Coder-0.5B", "Qwen/Qwen2.5-Coder-1.5B"],
    "qwen3": ["Qwen/Qwen3-0.6B", "Qwen/Qwen3-1.7B", "Qwen/Qwen3-4B"],
    "smollm2": ["HuggingFaceTB/SmolLM2-135M", "HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-360M",
                "HuggingFaceTB/SmolLM2-360M-Instruct"],
    "gemma3": ["google/gemma-3-270m", "google/gemma-3-270m-it", "google/gemma-3-1b-pt", "google/gemma-3-1b-it"],
    "gemma2": ["google/gemma-2-2b", "google/gemma-2-2b-it"],
    "gemma": ["google/gemma-2b", "google/gemma-2b-it"],
    "pythia": ["EleutherAI/pythia-70m", "EleutherAI/pythia-160m", "EleutherAI/pythia-410m", "EleutherAI/pythia-1b"],
    "bloom": ["bigscience/bloom-560m", "bigscience/bloom-1b1", "bigscience/bloom-1b7"],
    "gpt-neo": ["EleutherAI/gpt-neo-125m", "EleutherAI/gpt-neo-1.3B"],
    "phi": ["microsoft/phi-1_5"],
    "phi3": ["microsoft/Phi-3-mini-4k-instruct"],
}

# Organisations that publish each family's original weights.
OFFICIAL_ORGS: Dict[str, Set[str]] = {
    "gpt2": {"openai-community", "distilbert"},
    "opt": {"facebook"},
    "llama": {"meta-llama", "TinyLlama"},
    "llama3": {"meta-llama"},
    "codellama": {"codellama", "meta-llama"},
    "mistral": {"mistralai"},
    "qwen2": {"Qwen"},
    "qwen3": {"Qwen"},
    "smollm2": {"HuggingFaceTB"},
    "gemma": {"google"},
    "gemma2": {"google"},
    "gemma3": {"google"},
    "pythia": {"EleutherAI"},
    "gpt-neo": {"EleutherAI"},
    "gpt-j": {"EleutherAI"},
    "bloom": {"bigscience"},
    "phi": {"microsoft"},
    "phi3": {"microsoft"},
    "falcon": {"tiiuae"},
    "starcoder2": {"bigcode"},
    "starcoder": {"bigcode"},
    "stablelm": {"stabilityai"},
    "olmo": {"allenai"},
    "falcon3": {"tiiuae"},
    "ministral": {"mistralai"},
    "llama4": {"meta-llama"},
    "granite": {"ibm-granite"},
    "smollm3": {"HuggingFaceTB"},
    "gpt-oss": {"openai"},
    "qwen3.5": {"Qwen"},
    "gemma4": {"google"},
    "yi": {"01-ai"},
    "megrez": {"Infinigence"},
}

# Organisations that republish other people's models quantized (their repos are never originals).
QUANTIZER_ORGS = {
    "thebloke", "unsloth", "bartowski", "lmstudio-community", "maziyarpanahi", "quantfactory", "mlx-community",
    "second-state", "neuralmagic", "redhatai", "hugging-quants", "turboderp", "mradermacher", "ggml-org",
    "tensorblock", "casperhansen", "solidrust", "modelcloud",
}

# Suffixes that mark a quantized re-upload (stripped, case-insensitive, possibly several: "-Instruct-GPTQ-Int4").
_QUANT_SUFFIX_RE = re.compile(
    r"[-_.](gptq|awq|gguf|ggml|exl2|hqq|aqlm|mlx|bnb|unsloth|(bnb[-_])?[48]bit|int[48]|fp8|w[48]a(8|16)|"
    r"dynamic|fp16|q[2-8](_k)?(_[msl])?|q8_0)$",
    re.IGNORECASE,
)


def _short_name(model_id: str) -> str:
    return model_id.rstrip("/").rsplit("/", 1)[-1]


def family_from_name(name: Optional[str]) -> Optional[str]:
    """The family a model name points at (first matching pattern of ``NAME_PATTERNS``), or None."""
    if not name:
        return None
    text = name.lower()
    for family, pattern in NAME_PATTERNS:
        if pattern.search(text):
            return family
    return None


_TYPES_LONGEST_FIRST = sorted(MODEL_TYPE_FAMILY.items(), key=lambda kv: -len(kv[0]))


def _coarse_family(config: Optional[Mapping[str, Any]], gguf_arch: Optional[str]) -> Optional[str]:
    if config:
        model_type = str(config.get("model_type") or "").lower()
        if model_type in MODEL_TYPE_FAMILY:
            return MODEL_TYPE_FAMILY[model_type]
        if model_type == "llava" or "text_config" in config:
            text = config.get("text_config") or {}
            inner = str(text.get("model_type") or "").lower()
            if inner in MODEL_TYPE_FAMILY:
                return MODEL_TYPE_FAMILY[inner]
        for arch in config.get("architectures") or []:
            arch_l = str(arch).lower()
            for model_type_key, family in _TYPES_LONGEST_FIRST:
                if arch_l.startswith(model_type_key.replace("_", "")):
                    return family
    if gguf_arch:
        return GGUF_ARCH_FAMILY.get(gguf_arch.lower())
    return None


def _vocab_refinement(config: Optional[Mapping[str, Any]]) -> Optional[str]:
    """Sub-family of a Llama-architecture config from its vocabulary size (see the module docstring)."""
    vocab = (config or {}).get("vocab_size")
    return {128256: "llama3", 32016: "codellama", 49152: "smollm2", 32000: "llama"}.get(vocab)


def detect_family(config: Optional[Mapping[str, Any]] = None, model_id: Optional[str] = None, *,
                  gguf_arch: Optional[str] = None, names: tuple = ()) -> Optional[str]:
    """The family of a model from its config, its id and (for GGUF) its architecture and embedded names.

    ``names`` are further names to try (GGUF ``general.basename`` / ``general.name``, a folder name).
    """
    coarse = _coarse_family(config, gguf_arch)
    allowed = ARCH_SUBFAMILIES.get(coarse, {coarse}) if coarse else None
    for name in (model_id and _short_name(model_id), model_id, *names):
        by_name = family_from_name(name)
        if by_name and (allowed is None or by_name in allowed):
            if by_name == "llama" and coarse == "llama":     # "...-Distill-Llama-8B": the vocabulary decides
                return _vocab_refinement(config) or by_name
            return by_name
    if coarse == "llama":
        return _vocab_refinement(config) or "llama"
    return coarse


def org_of(model_id: str) -> Optional[str]:
    """``owner`` of ``owner/name``; None for legacy canonical ids (``gpt2``) and paths."""
    if "/" not in model_id or model_id.startswith(("/", ".", "~")) or model_id.count("/") != 1:
        return None
    return model_id.split("/", 1)[0]


def is_official(model_id: str, family: Optional[str] = None) -> bool:
    """True when ``model_id`` is published by its family's own organisation (any family when ``family`` is
    None). Legacy ids without an owner (``gpt2``, ``distilgpt2``) are canonical Hub models, hence official."""
    if not model_id or model_id.startswith(("/", ".", "~", "zoo:")):
        return False
    org = org_of(model_id)
    if org is None:
        return "/" not in model_id
    orgs = OFFICIAL_ORGS.get(family, set()) if family else set().union(*OFFICIAL_ORGS.values())
    return org.lower() in {o.lower() for o in orgs}


def strip_quant_suffixes(name: str) -> str:
    """``Llama-3.2-1B-Instruct-bnb-4bit`` → ``Llama-3.2-1B-Instruct`` (every trailing quantization marker)."""
    previous = None
    while previous != name:
        previous = name
        name = _QUANT_SUFFIX_RE.sub("", name)
    return name


def base_model_of(model_id: str) -> Optional[str]:
    """The original model a quantized re-upload was made from, or None when ``model_id`` is not one.

    ``Qwen/Qwen2.5-7B-Instruct-AWQ`` → ``Qwen/Qwen2.5-7B-Instruct`` (owner kept);
    ``unsloth/Llama-3.2-1B-Instruct-bnb-4bit`` → ``meta-llama/Llama-3.2-1B-Instruct`` (owner guessed from the
    family's official organisation); ``TheBloke/Foo-7B-GPTQ`` → ``Foo-7B`` when the family is unknown.
    The Hub's own ``base_model:quantized:…`` tag, when available, is more reliable (see models/analysis.py).
    """
    if not model_id or model_id.startswith(("/", ".", "~")):
        return None
    org = org_of(model_id)
    name = _short_name(model_id)
    stripped = strip_quant_suffixes(name)
    if stripped == name and (org or "").lower() not in QUANTIZER_ORGS:
        return None
    if org and org.lower() not in QUANTIZER_ORGS:
        return f"{org}/{stripped}"
    family = family_from_name(stripped)
    orgs = sorted(OFFICIAL_ORGS.get(family, ())) if family else []
    preferred = {"llama": "meta-llama", "codellama": "codellama"}.get(family or "")
    if family == "llama" and stripped.lower().startswith("tinyllama"):
        preferred = "TinyLlama"
    owner = preferred or (orgs[0] if orgs else None)
    return f"{owner}/{stripped}" if owner else stripped
