"""Every kind of draft, and how each engine runs it — with the engine's own rule, its version and its source.

A *method* is a way of proposing tokens for the target to verify: a separate small model (``independent``),
a trained head that reads the target's hidden states (``eagle``, ``eagle3``, ``medusa``, ``mlp-speculator``),
the target's own multi-token-prediction layers (``mtp``), the target's first layers (``layer-skip``), or no
model at all (``ngram`` / prompt lookup, ``suffix``). :data:`METHODS` holds one :class:`Method` per kind;
each names, per engine, whether the engine runs it, the exact switch (vLLM ``"method"`` in
``--speculative-config``, SGLang ``--speculative-algorithm``, llama.cpp ``--spec-type``, transformers
``generate`` arguments), the rule the engine enforces and where that rule is written.

Sources (read with the project's search tools; versions as found):

- vLLM: ``vllm/config/speculative.py`` at commit 002e77c1f0ef9b19cff8b9e21cfbd6feb3d6b443 —
  ``SpeculativeMethod`` = ngram | medusa | mlp_speculator | draft_model | suffix | custom_class | eagle | eagle3
  | MTP types | dflash | ngram_gpu | dspark; every ``*_mtp`` method name is "deprecated and replaced with mtp";
  ``hf_config_override`` turns a target config into its MTP draft config; method auto-detection from the
  draft's name (``eagle-`` → eagle, ``eagle3`` → eagle3) or ``model_type`` (medusa, mlp_speculator, MTP types);
  ngram defaults ``prompt_lookup_min = prompt_lookup_max = 5``; suffix runs ``_validate_suffix_decoding``
  (needs the ``arctic-inference`` package, ``has_arctic_inference``); ``draft_tensor_parallel_size`` "can only
  be 1 or the same as the target model's tensor parallel size".
- SGLang: ``python/sglang/srt/server_args.py`` — ``--speculative-algorithm`` choices
  ``EAGLE, EAGLE3, NEXTN, STANDALONE, NGRAM`` (0.5.x); ``--speculative-draft-model-path``,
  ``--speculative-num-steps``, ``--speculative-eagle-topk``, ``--speculative-num-draft-tokens``.
- llama.cpp: ``common/speculative.cpp`` ``common_speculative_type_from_name_map`` — ``none, draft-simple,
  draft-eagle3, draft-mtp, draft-dflash, draft-dspark, ngram-simple, ngram-map-k, ngram-map-k4v, ngram-mod,
  ngram-cache``; ``SPEC_VOCAB_MAX_SIZE_DIFFERENCE 128``, ``SPEC_VOCAB_CHECK_START_TOKEN_ID 5``; a ``-md``
  draft without ``--spec-type`` loads but does not draft (ggml-org/llama.cpp#22964).
- transformers (5.x ``GenerationMixin.generate``): ``assistant_model`` (+ ``assistant_tokenizer`` and
  ``tokenizer`` when vocabularies differ), ``prompt_lookup_num_tokens`` (prompt lookup decoding),
  ``assistant_early_exit`` (self-speculation from an early layer, made for LayerSkip-trained checkpoints).
- draftfinder's own engine: ``--draft ngram[:KIND:N]``, ``--draft layerskip:N`` (engine/drafter_specs.py).

Unknown method names fail loudly: :func:`get_method` raises :class:`~draftfinder.errors.UnknownMethodError`,
and ``tests/methods`` checks every method id used anywhere (heads.json, published rows) is registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from draftfinder.errors import UnknownMethodError

ENGINES = ("vllm", "sglang", "llama.cpp", "transformers", "draftfinder")

VLLM_SOURCE = "vllm-project/vllm vllm/config/speculative.py @ 002e77c1f0ef9b19cff8b9e21cfbd6feb3d6b443"
VLLM_VERSION = "vLLM main @ 002e77c1f0ef (V1 engine)"
SGLANG_SOURCE = "sgl-project/sglang python/sglang/srt/server_args.py (--speculative-algorithm choices)"
SGLANG_VERSION = "SGLang 0.5.x"
LLAMA_SOURCE = "ggml-org/llama.cpp common/speculative.cpp (common_speculative_type_from_name_map)"
LLAMA_VERSION = "llama.cpp 2026 builds with --spec-type (ggml-org/llama.cpp#22964)"
HF_SOURCE = "huggingface/transformers generation/utils.py GenerationMixin.generate (candidate generators)"
HF_VERSION = "transformers 5.x"
OWN_SOURCE = "draftfinder engine/drafter_specs.py (--draft specs)"
OWN_VERSION = "draftfinder (this package)"


@dataclass(frozen=True)
class EngineSupport:
    """Whether one engine runs a method, the switch that turns it on, and the rule the engine applies."""

    engine: str
    supported: bool
    how: str                 # the flag / config key / argument, e.g. '"method": "eagle3"'
    rule: str                # what the engine requires or refuses, in a sentence
    source: str              # the file (and commit) or doc the rule is read from
    version: str

    def to_dict(self) -> Dict[str, object]:
        return {"engine": self.engine, "supported": self.supported, "how": self.how, "rule": self.rule,
                "source": self.source, "version": self.version}


@dataclass(frozen=True)
class Method:
    """One kind of draft."""

    id: str
    label: str
    needs: str                       # "draft model" | "trained head" | "target's MTP layers" | "nothing"
    model_free: bool                 # True: offered for every target (no weights to find)
    summary: str
    engines: Dict[str, EngineSupport] = field(default_factory=dict)
    aliases: tuple = ()

    def engines_supported(self) -> List[str]:
        return [name for name, e in self.engines.items() if e.supported]

    def to_dict(self) -> Dict[str, object]:
        return {"id": self.id, "label": self.label, "needs": self.needs, "model_free": self.model_free,
                "summary": self.summary, "engines": {k: v.to_dict() for k, v in self.engines.items()}}


def _v(supported: bool, how: str, rule: str) -> EngineSupport:
    return EngineSupport("vllm", supported, how, rule, VLLM_SOURCE, VLLM_VERSION)


def _s(supported: bool, how: str, rule: str) -> EngineSupport:
    return EngineSupport("sglang", supported, how, rule, SGLANG_SOURCE, SGLANG_VERSION)


def _l(supported: bool, how: str, rule: str) -> EngineSupport:
    return EngineSupport("llama.cpp", supported, how, rule, LLAMA_SOURCE, LLAMA_VERSION)


def _t(supported: bool, how: str, rule: str) -> EngineSupport:
    return EngineSupport("transformers", supported, how, rule, HF_SOURCE, HF_VERSION)


def _o(supported: bool, how: str, rule: str) -> EngineSupport:
    return EngineSupport("draftfinder", supported, how, rule, OWN_SOURCE, OWN_VERSION)


_NO_V = "not a vLLM SpeculativeMethod"
_NO_S = "not among --speculative-algorithm's choices"
_NO_L = "no --spec-type for it"
_NO_T = "no generate() argument for it"
_NO_O = "no --draft spec for it"


def _methods() -> Dict[str, Method]:
    ms = [
        Method("independent", "independent draft model", "draft model", False,
               "a smaller model with the same tokenizer proposes K tokens; what `find` ranks above",
               {"vllm": _v(True, '"method": "draft_model"', "vocab sizes must match unless use_heterogeneous_vocab; "
                            "draft TP 1 or the target's"),
                "sglang": _s(True, "--speculative-algorithm STANDALONE --speculative-draft-model-path D",
                             "draft shares the target's tokenizer"),
                "llama.cpp": _l(True, "-md D --spec-type draft-simple",
                                "vocab types equal, sizes within 128, token texts equal from id 5; without "
                                "--spec-type the draft loads but never drafts"),
                "transformers": _t(True, "assistant_model=draft",
                                   "same vocabulary, or pass tokenizer= and assistant_tokenizer= (Universal "
                                   "Assisted Decoding)"),
                "draftfinder": _o(True, "--draft MODEL", "tokenizers pass compat's named checks")},
               aliases=("draft_model", "draft-model", "standalone")),
        Method("eagle", "EAGLE-1/2 head", "trained head", False,
               "a one-layer head on the target's last hidden state; EAGLE-2 is the same weights with a dynamic tree",
               {"vllm": _v(True, '"method": "eagle", "model": HEAD', "auto-detected when the head's name has "
                           "'eagle-'; the head's config is wrapped in EAGLEConfig"),
                "sglang": _s(True, "--speculative-algorithm EAGLE --speculative-draft-model-path HEAD",
                             "head trained for this target"),
                "llama.cpp": _l(False, "-", _NO_L + " (draft-eagle3 loads EAGLE-3 heads only)"),
                "transformers": _t(False, "-", _NO_T),
                "draftfinder": _o(False, "-", _NO_O)},
               aliases=("eagle2", "eagle-2", "eagle1")),
        Method("eagle3", "EAGLE-3 head", "trained head", False,
               "a head fusing low/mid/high-layer features of the target, often with a reduced draft vocabulary",
               {"vllm": _v(True, '"method": "eagle3", "model": HEAD', "the target's model class must expose "
                           "auxiliary hidden states (SupportsEagle3); heads in the speculators format name their "
                           "verifier in speculators_config.verifier.name_or_path"),
                "sglang": _s(True, "--speculative-algorithm EAGLE3 --speculative-draft-model-path HEAD",
                             "head trained for this target"),
                "llama.cpp": _l(True, "-md HEAD.gguf --spec-type draft-eagle3",
                                "the head converted to GGUF (eagle3 sidecar)"),
                "transformers": _t(False, "-", _NO_T),
                "draftfinder": _o(False, "-", _NO_O)},
               aliases=("eagle-3",)),
        Method("medusa", "Medusa heads", "trained head", False,
               "extra decoding heads on the target's last hidden state, one per future position",
               {"vllm": _v(True, '"method": "medusa", "model": HEADS', "old-format checkpoints lack model_type; "
                           "the method must then be given; vocab aligned to the target's"),
                "sglang": _s(False, "-", _NO_S),
                "llama.cpp": _l(False, "-", _NO_L),
                "transformers": _t(False, "-", _NO_T),
                "draftfinder": _o(False, "-", _NO_O)}),
        Method("mlp-speculator", "MLP speculator (IBM accelerator)", "trained head", False,
               "a small MLP conditioned on the target's context vector and the sampled tokens",
               {"vllm": _v(True, '"method": "mlp_speculator", "model": HEAD', "auto-detected from model_type "
                           "mlp_speculator; num_speculative_tokens defaults to the head's n_predict; draft TP 1"),
                "sglang": _s(False, "-", _NO_S),
                "llama.cpp": _l(False, "-", _NO_L),
                "transformers": _t(False, "-", _NO_T),
                "draftfinder": _o(False, "-", _NO_O)},
               aliases=("mlp_speculator", "arctic", "mlp")),
        Method("mtp", "built-in MTP layers", "target's MTP layers", False,
               "the target ships its own next-token-prediction layers (DeepSeek-V3/R1, GLM-4.5, MiMo, Qwen3-Next …)",
               {"vllm": _v(True, '"method": "mtp", "num_speculative_tokens": 1', "the target's config must map to an "
                           "MTP draft in hf_config_override (model_type / architectures + num_nextn_predict_layers or "
                           "mtp_num_hidden_layers); K > 1 reruns the same layer (lower acceptance)"),
                "sglang": _s(True, "--speculative-algorithm EAGLE (DeepSeek NextN; NEXTN is an alias)",
                             "the target's MTP weights in its checkpoint"),
                "llama.cpp": _l(True, "--spec-type draft-mtp", "the GGUF keeps the MTP tensors (or an MTP sidecar)"),
                "transformers": _t(False, "-", _NO_T),
                "draftfinder": _o(False, "-", _NO_O)},
               aliases=("nextn", "deepseek_mtp")),
        Method("layer-skip", "layer-skip self-speculation", "nothing", True,
               "the target's first N layers plus its LM head draft; strong only on checkpoints trained for early exit "
               "(LayerSkip)",
               {"vllm": _v(False, "-", _NO_V),
                "sglang": _s(False, "-", _NO_S),
                "llama.cpp": _l(False, "-", _NO_L),
                "transformers": _t(True, "assistant_early_exit=N", "exits after layer N of the target itself"),
                "draftfinder": _o(True, "--draft layerskip:N", "1 ≤ N < the target's layer count")},
               aliases=("layerskip", "early-exit", "self-speculative")),
        Method("ngram", "n-gram / prompt lookup", "nothing", True,
               "copies the continuation of the last n-gram already seen in the prompt or output",
               {"vllm": _v(True, '"method": "ngram", "prompt_lookup_max": 4', "prompt_lookup_min ≤ prompt_lookup_max "
                           "(both default to 5)"),
                "sglang": _s(True, "--speculative-algorithm NGRAM", "no draft model"),
                "llama.cpp": _l(True, "--spec-type ngram-simple", "also ngram-map-k, ngram-map-k4v, ngram-mod, "
                                "ngram-cache; draftless types take precedence over a draft model"),
                "transformers": _t(True, "prompt_lookup_num_tokens=K", "prompt lookup decoding"),
                "draftfinder": _o(True, "--draft ngram", "ngram[:basic|onelevel:N], N ≥ 2")},
               aliases=("prompt-lookup", "pld", "lookup")),
        Method("suffix", "suffix decoding", "nothing", True,
               "a suffix tree over the prompt and past responses proposes the continuation (agentic, repetitive work)",
               {"vllm": _v(True, '"method": "suffix"', "needs the arctic-inference package; tree depth 24, "
                           "min token probability 0.1 by default"),
                "sglang": _s(False, "-", _NO_S),
                "llama.cpp": _l(False, "-", _NO_L + " (ngram-cache is the nearest)"),
                "transformers": _t(False, "-", _NO_T),
                "draftfinder": _o(False, "-", _NO_O)},
               aliases=("suffix-decoding",)),
    ]
    return {m.id: m for m in ms}


METHODS: Dict[str, Method] = _methods()
_ALIASES: Dict[str, str] = {a: m.id for m in METHODS.values() for a in (m.id, *m.aliases)}


def method_id(name: str) -> str:
    """The registered id of ``name`` (an id or an alias, any case); raises :class:`UnknownMethodError`."""
    key = (name or "").strip().lower()
    if key not in _ALIASES:
        raise UnknownMethodError(name, sorted(METHODS))
    return _ALIASES[key]


def get_method(name: str) -> Method:
    """The :class:`Method` named ``name`` (id or alias); raises :class:`UnknownMethodError`."""
    return METHODS[method_id(name)]


def model_free_methods() -> List[Method]:
    """The methods offered for every target (no weights to find)."""
    return [m for m in METHODS.values() if m.model_free]


def engine_how(method: str, engine: str) -> Optional[str]:
    """The switch that turns ``method`` on in ``engine``, or None when the engine does not run it."""
    support = get_method(method).engines.get(engine)
    return support.how if support is not None and support.supported else None
