"""Result types of the find workflow (manual §11.2–11.3), with the fields the manual names and more.

Every result is a dataclass; JSON, YAML, tables and snippets are rendered from ``to_dict()``. Field names
carry units where they have one. Fields beyond the manual's are documented inline; numbers that are not
exact carry a provenance entry (``measured`` / ``estimated`` / ``published`` / ``exact``, see
``constants.py``) with the method that produced them.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from draftfinder.version import __version__


class Task(enum.Enum):
    GENERAL = "general"
    CODE = "code"
    CHAT = "chat"
    SUMMARIZATION = "summarization"


class QuantizationType(enum.Enum):
    NONE = "none"
    INT8 = "int8"
    INT4 = "int4"
    GPTQ = "gptq"
    AWQ = "awq"
    GGUF = "gguf"
    BNB_4BIT = "bnb-4bit"
    BNB_8BIT = "bnb-8bit"


class QualityTier(enum.Enum):
    EXCELLENT = "EXCELLENT"
    GOOD = "GOOD"
    ACCEPTABLE = "ACCEPTABLE"
    MARGINAL = "MARGINAL"
    POOR = "POOR"


def to_plain(value: Any) -> Any:
    """Convert dataclasses, enums, paths and containers to JSON-ready values (one rule for every export)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


@dataclass
class Provenance:
    """Where one number came from."""

    source: str                     # measured | estimated | published | exact
    method: str                     # how: "safetensors header", "latency model (a100-80gb)", "Leviathan 2023 Thm 3.8"
    detail: Optional[str] = None    # e.g. the measurement file, the paper table, the fallback reason

    def to_dict(self) -> Dict[str, Any]:
        return to_plain(self)


@dataclass
class ModelInfo:
    """What draftfinder knows about one model (manual §11.2 fields first)."""

    model_id: str
    architecture: str
    num_parameters: int
    num_layers: int
    hidden_size: int
    intermediate_size: Optional[int]
    num_attention_heads: int
    vocab_size: int                                  # config.vocab_size: rows of the embedding matrix (may be padded)
    quantization: QuantizationType
    bits_per_param: float
    memory_footprint_mb: float                       # weights only, at the stored dtype/quantization
    is_peft: bool = False
    model_family: Optional[str] = None
    is_official: bool = False
    is_quantized_variant: bool = False
    base_model_id: Optional[str] = None
    # --- beyond the manual -------------------------------------------------------------------------
    source: str = "hub"                              # hub | hf-cache | local | gguf | zoo | catalog
    parameters_source: str = "unknown"               # safetensors-header | hub-safetensors-metadata | gguf-tensors | catalog | config-formula
    parameters_exact: bool = False                   # False when counted by formula (labelled "estimated")
    memory_source: str = "estimated"                 # exact when the file sizes are known, else estimated
    tokenizer_vocab_size: Optional[int] = None       # entries in the tokenizer (≤ vocab_size when padded)
    num_key_value_heads: Optional[int] = None
    max_position_embeddings: Optional[int] = None
    dtype: Optional[str] = None                      # config dtype, or GGUF file type name (e.g. Q4_1)
    tie_word_embeddings: Optional[bool] = None
    path: Optional[str] = None                       # local folder or .gguf file, when local
    gguf_file: Optional[str] = None                  # file name inside ``path``'s folder for GGUF models
    author: Optional[str] = None
    gated: bool = False
    downloads: Optional[int] = None
    head_dim: Optional[int] = None                   # attention head size (config head_dim, else hidden / heads)

    @property
    def params_b(self) -> float:
        return self.num_parameters / 1e9

    def to_dict(self) -> Dict[str, Any]:
        return to_plain(self)


@dataclass
class Check:
    """One named compatibility check: both values, the verdict and why (never a bare bool)."""

    name: str
    passed: bool
    target_value: Any
    draft_value: Any
    reason: str
    required: bool = True          # a failed required check makes the pair incompatible (strict mode)
    skipped: bool = False          # could not run (e.g. offline catalog has no tokenizer files)

    def to_dict(self) -> Dict[str, Any]:
        return to_plain(self)


@dataclass
class EngineVerdict:
    """Whether one inference engine will accept this target/draft pair, by that engine's own rules."""

    engine: str                    # transformers | vllm | sglang | llama.cpp
    compatible: bool               # = every required check in ``checks`` passed (compat/engine_rules.py)
    mode: str                      # e.g. "same-tokenizer", "universal-assisted-decoding", "rejected", "refused"
    reasons: List[str] = field(default_factory=list)
    rule: str = ""                 # the rule and where it is written (source file / doc section)
    version: str = ""              # the engine version whose rule this applies
    checks: List[Check] = field(default_factory=list)   # the engine's own named checks, both values each

    def to_dict(self) -> Dict[str, Any]:
        return to_plain(self)


@dataclass
class CompatibilityResult:
    """Tokenizer compatibility of a draft with a target (manual §11.2 fields first)."""

    is_compatible: bool
    vocab_size_match: bool
    tokenizer_match: bool
    tokenization_match: bool
    decode_match: bool
    special_tokens_match: bool
    quantization_compatible: bool
    architecture_match: bool
    model_accessible: bool
    tokenization_match_rate: float = 0.0
    num_test_strings: int = 0
    num_passed_tests: int = 0
    num_failed_tests: int = 0
    failed_test_examples: List[Dict[str, Any]] = field(default_factory=list)
    incompatibility_reasons: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    compatibility_score: float = 100.0
    # --- beyond the manual -------------------------------------------------------------------------
    checks: List[Check] = field(default_factory=list)
    engines: Dict[str, EngineVerdict] = field(default_factory=dict)
    shared_vocab_size: Optional[int] = None          # ids compared token by token
    vocab_mismatches: Optional[int] = None           # ids in the shared range whose token text differs
    method: str = "tokenizers"                       # tokenizers (real files) | fingerprint (offline catalog) |
                                                      # file-hash (public hashes) | unverified
    verification: str = "verified"                   # verified | by-file-hash ("compatible (by file hash)") |
                                                      # unverified (could not be judged; compat/by_hash.py)

    def to_dict(self) -> Dict[str, Any]:
        return to_plain(self)


@dataclass
class DraftModelCandidate:
    """One evaluated draft (manual §11.2 fields first)."""

    model_id: str
    model_info: ModelInfo
    compatibility: CompatibilityResult
    size_ratio: float                                 # draft params / target params
    memory_ratio: float                               # draft memory / target memory
    estimated_speedup: Optional[float]                # at recommended_k; see provenance. None: does not fit
                                                      # the device's memory (``fit`` says how much it needs)
    recommended_k: Optional[int]                      # None when the pair does not fit (no speedup, no K)
    acceptance_rate_estimate: float                   # α, expected per-token acceptance; see provenance
    same_family: bool
    quality_tier: QualityTier
    quality_score: float
    warnings: List[str] = field(default_factory=list)
    # --- beyond the manual -------------------------------------------------------------------------
    cost_ratio: Optional[float] = None                # c = draft step latency / target step latency
    verify_cost_ratio: Optional[float] = None         # target latency for K+1 tokens / 1 token, at recommended_k
    speedup_by_k: Dict[int, float] = field(default_factory=dict)
    acceptance_low: Optional[float] = None            # uncertainty band of the α estimate
    acceptance_high: Optional[float] = None
    hardware: Optional[str] = None
    provenance: Dict[str, Provenance] = field(default_factory=dict)   # field name -> where its number came from
    usage: Dict[str, str] = field(default_factory=dict)               # engine -> ready-to-paste snippet
    speedup_basis: str = "estimated"                  # measured | published | estimated (find/ranking.py)
    rank: Optional[int] = None                        # 1 = best (find/ranking.py rank_key)
    sources: List[Dict[str, Any]] = field(default_factory=list)       # every place this model was found:
                                                      # {"source", "name", "found_by", "used"}; one row per model
    engine: Optional[str] = None                      # the engine the speedup is predicted for
    fit: Any = None                                   # predict.memory.MemoryFit: target + draft + KV caches
    concurrency: Any = None                           # predict.concurrency.ConcurrencyTable: speedup and K per N
    acceptance_kinds: Dict[str, Any] = field(default_factory=dict)    # α, accepted/drafted, AL at recommended_k,
                                                      # each labelled (predict/acceptance_kinds.py views_at_k)
    published: List[Dict[str, Any]] = field(default_factory=list)     # published rows about this pair, closest
                                                      # setup first, in full (find/published_basis.py)
    model_speedup: Optional[float] = None             # the latency model's estimate, when a published speedup of
                                                      # the same setup stands in for it (speedup_basis published)
    variant: Any = None                               # find.expert.VariantMatch: instruct/base variant, line, EOS
                                                      # and chat template against the target's; its tier ranks first
    source: Optional[str] = None                      # the source that proposed it first: "trained" (trained here,
                                                      # find/trained.py), "local", "zoo", "catalog", "known", "hub" …
    trained: Optional[Dict[str, Any]] = None          # drafts trained here: find.trained.TrainedDraft.to_dict()

    def to_dict(self) -> Dict[str, Any]:
        out = to_plain(self)
        # Flatten the handful of fields the manual's jq examples read at the top level.
        out["family"] = self.model_info.model_family
        out["num_parameters"] = self.model_info.num_parameters
        out["memory_footprint_mb"] = self.model_info.memory_footprint_mb
        out["tokenization_match_rate"] = self.compatibility.tokenization_match_rate
        out["engines"] = {k: v.compatible for k, v in self.compatibility.engines.items()}
        if self.fit is not None:
            out["fit"] = self.fit.to_dict()
        if self.variant is not None:
            out["variant"] = self.variant.to_dict()
        return out


@dataclass
class Rejection:
    """A candidate that was evaluated and left out, with why."""

    model_id: str
    stage: str                     # resolve | size | compatibility
    reasons: List[str]
    engines: Dict[str, bool] = field(default_factory=dict)
    sources: List[Dict[str, Any]] = field(default_factory=list)   # every place this model was found


@dataclass
class FindResult:
    """Everything one find run produced."""

    target: ModelInfo
    candidates: List[DraftModelCandidate]          # compatible, ranked best first
    rejected: List[Rejection]
    evaluated: int
    hardware: str
    task: str
    notes: List[str]
    elapsed_s: float
    settings: Dict[str, Any]
    device: Any = None                             # predict.devices.Device the estimates are for
    engine: Optional[str] = None                   # the engine the latency model predicts for
    engine_source: str = ""                        # "--engine" / "default: <rule>"
    engine_note: str = ""                          # what the latency model does with the engine (device_latency)
    ctx_tokens: int = 4096
    concurrency: int = 1
    target_fit: Any = None                         # predict.memory.MemoryFit of the target alone
    draft_methods: List[Dict[str, Any]] = field(default_factory=list)   # heads, MTP, model-free (methods/offers.py)
    unverified: List[DraftModelCandidate] = field(default_factory=list)   # tokenizer could not be judged: listed
                                                   # below the verified ones with the reason (compat/by_hash.py)

    def top(self, n: int) -> List[DraftModelCandidate]:
        return self.candidates[:n]

    def summary(self, top_n: int) -> Dict[str, Any]:
        top = self.top(top_n)
        n = len(top)
        fitting = [c.estimated_speedup for c in top if c.estimated_speedup is not None]
        return {
            "average_speedup": round(sum(fitting) / len(fitting), 4) if fitting else None,
            "average_acceptance_rate": round(sum(c.acceptance_rate_estimate for c in top) / n, 4) if n else None,
            "pairs_that_do_not_fit": sum(1 for c in top if c.estimated_speedup is None),
            "total_candidates_evaluated": self.evaluated,
            "compatible_candidates": len(self.candidates),
            "rejected_candidates": len(self.rejected),
            "unverified_candidates": len(self.unverified),
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def to_dict(self, top_n: Optional[int] = None) -> Dict[str, Any]:
        from draftfinder.find.ranking import RANK_ORDER, RANKING_RULE

        shown = self.candidates if top_n is None else self.top(top_n)
        return {
            "draftfinder_version": __version__,
            "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "target_model": self.target.to_dict(),
            "hardware": self.hardware,
            "device": self.device.to_dict() if self.device is not None else None,
            "engine": {"name": self.engine, "chosen_by": self.engine_source, "latency_model": self.engine_note},
            "ctx_tokens": self.ctx_tokens,
            "concurrency": self.concurrency,
            "target_fit": self.target_fit.to_dict() if self.target_fit is not None else None,
            "task": self.task,
            "ranking": {"order": list(RANK_ORDER), "rule": RANKING_RULE},
            "draft_models": [c.to_dict() for c in shown],
            "unverified_models": [c.to_dict() for c in self.unverified],
            "rejected_models": to_plain(self.rejected),
            "draft_methods": list(self.draft_methods),
            "summary": self.summary(top_n or len(self.candidates)),
            "notes": list(self.notes),
            "settings": self.settings,
        }
