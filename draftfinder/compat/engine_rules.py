"""Whether transformers, vLLM and llama.cpp accept a target/draft pair — each by its own rule.

Each engine checks something different, and none of them checks "same tokenizer" directly:

- **transformers** compares the config vocabulary sizes (``config.get_text_config().vocab_size``). Equal →
  same-tokenizer assisted decoding, draft ids fed to the target as-is. Different → it insists on
  ``tokenizer=`` and ``assistant_tokenizer=`` and runs Universal Assisted Decoding (UAD), which decodes and
  re-encodes text every step. Source: ``transformers/generation/utils.py``,
  ``GenerationMixin._validate_generation_mode`` (transformers 5.x; ``_validate_assistant`` in 4.x), and
  ``_get_candidate_generator`` (UAD = ``AssistedCandidateGeneratorDifferentTokenizers``, or
  ``UniversalSpeculativeDecodingGenerator`` when sampling). ``_assisted_decoding`` requires batch size 1.
- **vLLM** (``method="draft_model"``) requires equal config vocabulary sizes:
  ``vllm/config/speculative.py``, ``SpeculativeConfig.verify_equal_vocab_size_if_draft_model`` (raises
  "Target and draft model should have the same vocabulary size"; V1 draft models, vllm-project/vllm#24322;
  V0's ``spec_decode_worker.py`` asserted the same, see vllm-project/vllm#5203 and #7252 about Qwen2's
  151936 vs 152064). ``use_heterogeneous_vocab=True`` (vllm-project/vllm#38174, Token-Level
  Intersection, greedy drafting only) skips that check and maps tokens through the shared vocabulary.
  Padding-only differences (Qwen2.5 0.5B vs 7B) have an open fix, vllm-project/vllm#42775
  (``allow_draft_model_vocab_padding``), not merged.
- **llama.cpp**: ``common/speculative.cpp``, ``common_speculative_are_compatible``: vocab type equal, BOS/EOS
  ids and add_bos/add_eos equal, ``|n_vocab_tgt - n_vocab_dft| <= SPEC_VOCAB_MAX_SIZE_DIFFERENCE`` (128), and
  token text equal for every id from ``SPEC_VOCAB_CHECK_START_TOKEN_ID`` (5) to the smaller n_vocab. When it
  fails, llama-server and llama-speculative-simple built after ggml-org/llama.cpp#12635 translate tokens
  through text ("tokens will be translated between the draft and target models"); older builds and DFlash
  drafts refuse the pair. Note: the source stores ``llama_vocab_type`` in a ``bool`` before comparing, so the
  type check in practice only distinguishes "no vocabulary" from any vocabulary; the token-text check is
  what catches an SPM vs BPE pair. We apply the rule as written and report the real types.

llama.cpp's ``n_vocab`` for a model converted from HF is the *padded* ``config.vocab_size``:
``convert_hf_to_gguf.py`` (``TextModel.get_vocab_base``; ``_create_vocab_sentencepiece``) fills the ids that
have no token with ``[PAD…]`` entries up to ``hparams["vocab_size"]``. So Qwen2.5-0.5B (151936) vs 7B
(152064) differ by exactly 128 and pass; for a GGUF file n_vocab is its token count. BOS/EOS come from
the tokenizer files, else from ``config.json`` (gguf-py ``SpecialVocab``). add_bos/add_eos: the files'
explicit setting, else llama.cpp's default for SentencePiece vocabularies (add BOS; transformers'
``integrations/gguf/gguf_tokenizer_mapping.py`` ``get_gguf_tokenizer`` documents the same default), else
what the HF tokenizer does.

Modes: transformers ``same-tokenizer`` | ``universal-assisted-decoding`` | ``rejected`` (equal config sizes
but different vocabularies: the only path transformers allows would draft wrong tokens); vLLM
``draft-model`` | ``heterogeneous-vocab``; llama.cpp ``shared-vocab`` | ``retokenize``; ``unknown`` when a
needed fact (config vocab size, tokenizer facts) is missing. ``compatible`` means the engine
runs the pair correctly when given the arguments in the first reason (``run: …``); translating modes
(UAD, heterogeneous-vocab, retokenize) are slower per step than sharing ids.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from draftfinder.find.results import EngineVerdict
from draftfinder.compat.facts import HEAD_IDS, TokenizerFacts
from draftfinder.compat.vocabdiff import compare_facts

SPEC_VOCAB_MAX_SIZE_DIFFERENCE = 128   # llama.cpp common/speculative.cpp
SPEC_VOCAB_CHECK_START_TOKEN_ID = HEAD_IDS  # = 5, llama.cpp common/speculative.cpp

RULE_TRANSFORMERS = (
    "transformers generation/utils.py GenerationMixin._validate_generation_mode: equal "
    "config.get_text_config().vocab_size -> same-tokenizer assisted decoding (passing assistant_tokenizer is a "
    "ValueError); different -> tokenizer= and assistant_tokenizer= are required and _get_candidate_generator "
    "runs Universal Assisted Decoding; _assisted_decoding: batch_size must be 1"
)
RULE_VLLM = (
    "vLLM vllm/config/speculative.py SpeculativeConfig.verify_equal_vocab_size_if_draft_model: method "
    "'draft_model' requires target and draft ModelConfig.get_vocab_size() (config vocab_size) to be equal; "
    "use_heterogeneous_vocab=True (vllm-project/vllm#38174, TLI, greedy drafting) skips it"
)
RULE_LLAMA_CPP = (
    "llama.cpp common/speculative.cpp common_speculative_are_compatible: vocab type, BOS/EOS ids and "
    "add_bos/add_eos equal; |n_vocab diff| <= SPEC_VOCAB_MAX_SIZE_DIFFERENCE (128); token text equal from "
    "SPEC_VOCAB_CHECK_START_TOKEN_ID (5) over the shared range; otherwise llama-server translates through text "
    "(ggml-org/llama.cpp#12635)"
)


def config_vocab_size(config: Optional[Dict[str, Any]]) -> Optional[int]:
    """``config.get_text_config().vocab_size`` on a config dict: the text sub-config's for composite models."""
    if not config:
        return None
    value = config.get("vocab_size")
    if not isinstance(value, int):
        for key in ("text_config", "language_config", "llm_config"):
            sub = config.get(key)
            if isinstance(sub, dict) and isinstance(sub.get("vocab_size"), int):
                value = sub["vocab_size"]
                break
    return value if isinstance(value, int) else None


def _config_token_id(config: Optional[Dict[str, Any]], role: str) -> Optional[int]:
    value = (config or {}).get(f"{role}_token_id")
    return value if isinstance(value, int) else None     # gguf-py SpecialVocab ignores lists (Llama-3 eos)


def vocab_state(target: Optional[TokenizerFacts], draft: Optional[TokenizerFacts]) -> Tuple[str, str]:
    """``(state, detail)``: identical | same-ids (shared ids agree, sizes differ) | different | unknown."""
    if target is None or draft is None:
        return "unknown", "no tokenizer facts for " + ("the target" if target is None else "the draft")
    if target.fingerprint and target.fingerprint == draft.fingerprint:
        return "identical", f"identical tokenizers (fingerprint {target.fingerprint[:12]})"
    cmp = compare_facts(target, draft)
    if cmp.identical is False:
        first = cmp.differing_ranges[0]
        return "different", (f"vocabularies differ (first difference in ids {first[0]}–{first[1] - 1} of the "
                             f"{cmp.size} shared ids)")
    if cmp.identical is None:
        return "unknown", "vocabularies agree where comparable, but ids " + ", ".join(
            f"{lo}–{hi - 1}" for lo, hi in cmp.unverified_ranges[:3]) + " could not be compared offline"
    if target.n_tokens != draft.n_tokens:
        return "same-ids", (f"the {cmp.size} shared ids carry the same tokens; sizes differ "
                            f"({target.n_tokens} vs {draft.n_tokens} tokens)")
    return "same-ids", "same tokens for every id, but tokenization settings differ (merges/normalizer/added-token flags)"


# --- transformers -----------------------------------------------------------------------------------

def transformers_verdict(target: Optional[TokenizerFacts], draft: Optional[TokenizerFacts],
                         target_config: Optional[Dict[str, Any]], draft_config: Optional[Dict[str, Any]]) -> EngineVerdict:
    vt, vd = config_vocab_size(target_config), config_vocab_size(draft_config)
    state, detail = vocab_state(target, draft)
    if vt is None or vd is None:
        return EngineVerdict("transformers", False, "unknown",
                             ["config vocab_size unknown for " + ("the target" if vt is None else "the draft")],
                             RULE_TRANSFORMERS)
    if vt == vd:
        if state == "different":
            return EngineVerdict("transformers", False, "rejected", [
                f"config vocab sizes are equal ({vt}), so generate() shares token ids with the draft unchanged, "
                f"but {detail}: every drafted id would mean a different token",
                "universal assisted decoding cannot be forced: passing assistant_tokenizer with equal vocab sizes "
                "raises ValueError in _validate_generation_mode",
            ], RULE_TRANSFORMERS)
        reasons = ["run: model.generate(**inputs, assistant_model=draft_model)",
                   f"config vocab sizes are equal ({vt}): same-tokenizer assisted decoding; {detail}"]
        if state == "unknown":
            reasons.append("tokenizer identity not verified: if the vocabularies differ, drafts will be rejected")
        return EngineVerdict("transformers", True, "same-tokenizer", reasons, RULE_TRANSFORMERS)
    reasons = [
        "run: model.generate(**inputs, assistant_model=draft_model, tokenizer=target_tokenizer, "
        "assistant_tokenizer=draft_tokenizer)",
        f"config vocab sizes differ ({vt} vs {vd}): transformers requires tokenizer= and assistant_tokenizer= and "
        "uses universal assisted decoding, which decodes and re-encodes the text at every step",
    ]
    if state == "identical" and target is not None:
        reasons.append(
            f"{detail}: the config sizes differ only by embedding padding ({target.n_tokens} tokens on both "
            f"sides). To use the faster same-tokenizer path instead, resize the draft's embeddings: "
            f"draft_model.resize_token_embeddings({vt})")
    else:
        reasons.append(f"{detail}; acceptance depends on how well the two tokenizations align")
    reasons.append("assisted generation runs with batch size 1 only")
    return EngineVerdict("transformers", True, "universal-assisted-decoding", reasons, RULE_TRANSFORMERS)


# --- vLLM -------------------------------------------------------------------------------------------

def vllm_verdict(target: Optional[TokenizerFacts], draft: Optional[TokenizerFacts],
                 target_config: Optional[Dict[str, Any]], draft_config: Optional[Dict[str, Any]]) -> EngineVerdict:
    vt, vd = config_vocab_size(target_config), config_vocab_size(draft_config)
    state, detail = vocab_state(target, draft)
    base = 'speculative_config={"method": "draft_model", "model": DRAFT, "num_speculative_tokens": K'
    if vt is None or vd is None:
        return EngineVerdict("vllm", False, "unknown",
                             ["config vocab_size unknown for " + ("the target" if vt is None else "the draft")],
                             RULE_VLLM)
    tli = (f"run: {base}, \"use_heterogeneous_vocab\": true}} (vLLM with vllm-project/vllm#38174; greedy "
           "draft sampling only)")
    if vt == vd and state != "different":
        reasons = [f"run: {base}}}", f"config vocab sizes are equal ({vt}): verify_equal_vocab_size_if_draft_model "
                   f"passes; {detail}"]
        if state == "unknown":
            reasons.append("tokenizer identity not verified: if the vocabularies differ, drafts will be rejected")
        return EngineVerdict("vllm", True, "draft-model", reasons, RULE_VLLM)
    if vt == vd:
        reasons = [tli, f"config vocab sizes are equal ({vt}), so the default check passes, but {detail}: without "
                   "use_heterogeneous_vocab the draft's ids would be read as the target's (wrong drafts)"]
    else:
        reasons = [tli, f"by default rejected: verify_equal_vocab_size_if_draft_model raises ValueError (config "
                   f"vocab_size {vt} vs {vd})"]
        if state == "identical":
            reasons.append(f"{detail}: the token intersection is the whole vocabulary, so TLI loses nothing; "
                           "the open vllm-project/vllm#42775 (allow_draft_model_vocab_padding) would cover this "
                           "padding-only case")
        else:
            reasons.append(f"{detail}; TLI drafts only tokens both vocabularies share")
    return EngineVerdict("vllm", True, "heterogeneous-vocab", reasons, RULE_VLLM)


# --- llama.cpp --------------------------------------------------------------------------------------

def llama_cpp_view(facts: TokenizerFacts, config: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The vocabulary as llama.cpp would see it after conversion to GGUF (see module docstring)."""
    if facts.source_format == "gguf":
        n_vocab = facts.gguf_n_vocab or facts.n_tokens
    else:
        n_vocab = max(config_vocab_size(config) or 0, facts.n_tokens)
    bos = facts.bos_token_id if facts.bos_token_id is not None else _config_token_id(config, "bos")
    eos = facts.eos_token_id if facts.eos_token_id is not None else _config_token_id(config, "eos")
    if facts.add_special_explicit or facts.vocab_kind != "SPM":
        add_bos, add_eos = facts.add_bos_token, facts.add_eos_token
    else:
        add_bos, add_eos = True, False
    return {"vocab_type": facts.vocab_kind or "NONE", "n_vocab": n_vocab, "bos": bos, "eos": eos,
            "add_bos": add_bos, "add_eos": add_eos}


def llama_cpp_verdict(target: Optional[TokenizerFacts], draft: Optional[TokenizerFacts],
                      target_config: Optional[Dict[str, Any]], draft_config: Optional[Dict[str, Any]]) -> EngineVerdict:
    if target is None or draft is None:
        return EngineVerdict("llama.cpp", False, "unknown",
                             ["no tokenizer facts for " + ("the target" if target is None else "the draft")],
                             RULE_LLAMA_CPP)
    t, d = llama_cpp_view(target, target_config), llama_cpp_view(draft, draft_config)
    failures: List[str] = []
    # const bool vocab_type_tgt = llama_vocab_type(...): compared as bools in the source.
    if (t["vocab_type"] != "NONE") != (d["vocab_type"] != "NONE"):
        failures.append(f"vocab type differs ({t['vocab_type']} vs {d['vocab_type']})")
    for key, label in (("add_bos", "add_bos"), ("add_eos", "add_eos"), ("bos", "BOS id"), ("eos", "EOS id")):
        if t[key] != d[key]:
            failures.append(f"{label} differs ({t[key]} vs {d[key]})")
    diff = abs(t["n_vocab"] - d["n_vocab"])
    if diff > SPEC_VOCAB_MAX_SIZE_DIFFERENCE:
        failures.append(f"n_vocab differs by {diff} > {SPEC_VOCAB_MAX_SIZE_DIFFERENCE} "
                        f"({t['n_vocab']} vs {d['n_vocab']})")
    else:
        cmp = compare_facts(target, draft, start=SPEC_VOCAB_CHECK_START_TOKEN_ID,
                            target_n_vocab=t["n_vocab"], draft_n_vocab=d["n_vocab"])
        if cmp.identical is False:
            lo, hi = cmp.differing_ranges[0]
            example = f": target {cmp.examples[0][1]!r} vs draft {cmp.examples[0][2]!r}" if cmp.examples else ""
            failures.append(f"token text differs from id {lo} (ids {lo}–{hi - 1}){example}")
        elif cmp.identical is None:
            lo, hi = cmp.unverified_ranges[0]
            failures.append(f"token text of ids {lo}–{hi - 1} could not be compared offline")
    summary = (f"n_vocab {t['n_vocab']} vs {d['n_vocab']} (diff {diff}, max {SPEC_VOCAB_MAX_SIZE_DIFFERENCE}), "
               f"vocab type {t['vocab_type']}/{d['vocab_type']}, BOS {t['bos']}/{d['bos']}, "
               f"EOS {t['eos']}/{d['eos']}, add_bos {t['add_bos']}/{d['add_bos']}")
    if not failures:
        return EngineVerdict("llama.cpp", True, "shared-vocab", [
            "run: llama-server -m target.gguf -md draft.gguf",
            f"common_speculative_are_compatible passes: {summary}; token text equal from id "
            f"{SPEC_VOCAB_CHECK_START_TOKEN_ID} over the shared range",
        ], RULE_LLAMA_CPP)
    return EngineVerdict("llama.cpp", True, "retokenize", [
        "run: llama-server -m target.gguf -md draft.gguf (a build with ggml-org/llama.cpp#12635; it translates "
        "draft tokens through text, slower per step; older builds and DFlash drafts refuse the pair)",
        "common_speculative_are_compatible fails: " + "; ".join(failures),
        summary,
    ], RULE_LLAMA_CPP)


def engine_verdicts(target_facts: Optional[TokenizerFacts], draft_facts: Optional[TokenizerFacts],
                    target_config: Optional[Dict[str, Any]], draft_config: Optional[Dict[str, Any]]
                    ) -> Dict[str, EngineVerdict]:
    """Verdicts of ``transformers``, ``vllm`` and ``llama.cpp`` for drafting ``target`` with ``draft``."""
    return {
        "transformers": transformers_verdict(target_facts, draft_facts, target_config, draft_config),
        "vllm": vllm_verdict(target_facts, draft_facts, target_config, draft_config),
        "llama.cpp": llama_cpp_verdict(target_facts, draft_facts, target_config, draft_config),
    }
