"""Rules for vLLM: ``vllm serve TARGET ... --speculative-config JSON`` (or that JSON alone).

Source: ``vllm/config/speculative.py`` (``SpeculativeConfig``), read at vllm-project/vllm@002e77c (2026):
field names, the ``SpeculativeMethod`` literal, ``__post_init__`` and ``_verify_args``. Rules:

- ``vllm.removed-flag`` (error): ``--speculative-model``, ``--num-speculative-tokens`` … were replaced by
  ``--speculative-config`` (docs/features/speculative_decoding/draft_model.md: "has been deprecated").
- ``vllm.unknown-key`` (error) / ``vllm.key-of-other-version`` (info): a key that is not a field.
  ``tensor_parallel_size`` is refused by name ("not a valid argument in the speculative_config").
- ``vllm.unknown-method`` (error); ``vllm.deprecated-method`` (warning: ``deepseek_mtp`` … become ``mtp``).
- ``vllm.no-draft-model`` / ``vllm.no-num-speculative-tokens`` / ``vllm.bad-num-speculative-tokens`` (error):
  ``__post_init__`` / ``_verify_args`` raise for them.
- ``vllm.draft-tp`` (error): ``draft_tensor_parallel_size`` must be 1 or the target's ``-tp``
  (``_verify_and_get_draft_tp``).
- ``vllm.vocab-mismatch`` (error): method ``draft_model`` needs equal config vocab sizes
  (``verify_equal_vocab_size_if_draft_model``) unless ``use_heterogeneous_vocab``.
- ``vllm.eagle3-target`` (error): EAGLE-3 needs a target vLLM can take auxiliary hidden states from: versions
  with the ``eagle3_target_supported`` allowlist check ``model_type`` substrings; newer ones need the model class
  to implement ``SupportsEagle3`` ("Model does not support EAGLE3 interface").
- ``vllm.head-for-other-target`` (warning, not enforced): the head was trained for another model.
- ``vllm.mtp-without-layers`` (error): ``mtp`` on a target whose config declares no MTP layers.
- ``vllm.ngram-lookup`` (error): ``prompt_lookup_min > prompt_lookup_max``.
"""

from __future__ import annotations

import difflib
from typing import Any, Dict, List, Optional

from draftfinder.lint.commandline import Command, parse_json_value, split_argparse
from draftfinder.lint.findings import CommandReport, Enforcement, Finding
from draftfinder.lint import heads
from draftfinder.lint.model_facts import lookup

REPO = "vllm-project/vllm"
VERSION = "002e77c1f0ef (2026)"
SPEC_FILE = "vllm/config/speculative.py"

FIELDS = {
    "enforce_eager", "num_speculative_tokens", "model", "method", "draft_tensor_parallel_size", "quantization",
    "moe_backend", "attention_backend", "kv_cache_dtype", "max_model_len", "revision", "code_revision",
    "index_share_for_mtp_iteration", "disable_padded_drafter_batch", "disable_eagle_block_drop",
    "use_local_argmax_reduction", "use_heterogeneous_vocab", "prompt_lookup_max", "prompt_lookup_min",
    "parallel_drafting", "num_speculative_tokens_per_batch_size", "suffix_decoding_max_tree_depth",
    "suffix_decoding_max_cached_requests", "suffix_decoding_max_spec_factor", "suffix_decoding_min_token_prob",
    "draft_load_config", "rejection_sample_method", "synthetic_acceptance_rates", "synthetic_acceptance_length",
    "enable_adaptive_verification", "draft_sample_method", "dspark_draft_topk",
}
# fields of other vLLM versions (earlier SpeculativeConfig, or docs newer than VERSION)
OTHER_VERSION_FIELDS = {
    "disable_by_batch_size", "speculative_token_tree", "disable_log_stats", "acceptance_method",
    "posterior_threshold", "posterior_alpha", "disable_mqa_scorer", "fly_window_size", "fly_entropy_threshold",
}
MTP_METHODS = {
    "deepseek_mtp", "dots3_note_mtp", "mimo_mtp", "mimo_v2_mtp", "glm4_moe_mtp", "glm4_moe_lite_mtp", "glm_ocr_mtp",
    "ernie_mtp", "nemotron_h_mtp", "exaone_moe_mtp", "exaone4_5_mtp", "qwen3_next_mtp", "qwen4_exp_mtp",
    "qwen3_5_mtp", "longcat_flash_mtp", "bailing_hybrid_v3_mtp", "minimax_m3_mtp", "bailing_hybrid_mtp", "mtp",
    "kimi_k3_mtp", "pangu_ultra_moe_mtp", "step3p5_mtp", "hy_v3_mtp", "hy_v4_mtp", "gemma4_mtp", "inkling_mtp",
    "glm5_next_mtp",
}
METHODS = {"ngram", "medusa", "mlp_speculator", "draft_model", "suffix", "custom_class", "eagle", "eagle3",
           "extract_hidden_states", "dflash", "ngram_gpu", "dspark"} | MTP_METHODS
MODEL_FREE = {"ngram", "ngram_gpu", "suffix", "mtp", "dspark", "custom_class", "extract_hidden_states"}
# vllm/config/speculative.py _verify_args, the last versions with the allowlist (vllm-project/vllm#32765 quotes
# the 4-entry form; later ones add hunyuan_vl, hunyuan_v1_dense, afmoe)
EAGLE3_ALLOWLIST = ("llama", "qwen", "minicpm", "gpt_oss", "hunyuan_vl", "hunyuan_v1_dense", "afmoe")
REMOVED_FLAGS = {
    "--speculative-model": "model", "--num-speculative-tokens": "num_speculative_tokens",
    "--speculative-draft-tensor-parallel-size": "draft_tensor_parallel_size",
    "--speculative-max-model-len": "max_model_len", "--speculative-disable-by-batch-size": "disable_by_batch_size",
    "--ngram-prompt-lookup-max": "prompt_lookup_max", "--ngram-prompt-lookup-min": "prompt_lookup_min",
    "--speculative-model-quantization": "quantization", "--spec-decoding-acceptance-method": "acceptance_method",
    "--speculative-disable-mqa-scorer": "disable_mqa_scorer",
    "--typical-acceptance-sampler-posterior-threshold": "posterior_threshold",
    "--typical-acceptance-sampler-posterior-alpha": "posterior_alpha",
}
BOOLEAN_FLAGS = ("--enforce-eager", "--trust-remote-code", "--enable-prefix-caching", "--no-enable-prefix-caching",
                 "--enable-chunked-prefill", "--disable-log-stats", "--disable-log-requests", "--use-v2-block-manager",
                 "--enable-auto-tool-choice", "--enable-expert-parallel", "--disable-custom-all-reduce")


def _src(where: str, observed: Optional[str] = None, enforced: bool = True) -> Enforcement:
    return Enforcement("vllm", where, VERSION, REPO, enforced=enforced, observed=observed)


def lint(cmd: Command, *, resolve: bool = True) -> CommandReport:
    flags, positionals = split_argparse(cmd.args, BOOLEAN_FLAGS)
    values: Dict[str, Optional[str]] = {}
    for name, value, _ in flags:
        values.setdefault(name, value)
    target = values.get("--model") or (positionals[0] if positionals and cmd.program == "vllm serve" else None)
    report = CommandReport("vllm", cmd.program, cmd.text, target=target)
    findings: List[Finding] = []
    removed = [(n, v) for n, v, _ in flags if n in REMOVED_FLAGS]
    if removed:
        import json

        keys = json.dumps({REMOVED_FLAGS[n]: (_int(v) if _int(v) is not None else v) for n, v in removed})
        findings.append(Finding(
            "vllm.removed-flag", "error",
            f"{', '.join(n for n, _ in removed)}: replaced by --speculative-config; current vLLM has no such flags",
            f"--speculative-config '{keys}'",
            _src("vllm/engine/arg_utils.py EngineArgs (speculative settings live in --speculative-config); "
                 "docs/features/speculative_decoding/draft_model.md @04329df: 'has been deprecated'",
                 observed="vllm serve: error: unrecognized arguments"), [n for n, _ in removed]))
    raw = values.get("--speculative-config") or values.get("-sc")
    if raw is not None:
        spec = parse_json_value("--speculative-config", raw)
        tp = _int(values.get("--tensor-parallel-size") or values.get("-tp")) or 1
        findings += check_config(spec, target, tp, resolve=resolve)
        report.draft = spec.get("model") if isinstance(spec.get("model"), str) else None
    report.findings = findings
    return report


def _int(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def infer_method(spec: Dict[str, Any]) -> Optional[str]:
    """The method vLLM would use: given, else inferred from ``model`` as ``__post_init__`` does (by name)."""
    method, model = spec.get("method"), spec.get("model")
    if method:
        return "mtp" if method in MTP_METHODS else method
    if model in ("ngram", "[ngram]"):
        return "ngram"
    name = str(model or "").lower()
    if "eagle-" in name:
        return "eagle"
    if "eagle3" in name:
        return "eagle3"
    return "draft_model"


def check_config(spec: Dict[str, Any], target: Optional[str], tp: int, *, resolve: bool = True) -> List[Finding]:
    """Findings for one ``--speculative-config`` object (``target``: the served model, when known)."""
    out: List[Finding] = []
    for key in spec:
        if key == "tensor_parallel_size":
            out.append(Finding("vllm.unknown-key", "error", "tensor_parallel_size is not a speculative-config key",
                               "use draft_tensor_parallel_size", _src(
                                   f"{SPEC_FILE} SpeculativeConfig._verify_args",
                                   observed="'tensor_parallel_size' is not a valid argument in the "
                                            "speculative_config. Please pass 'draft_tensor_parallel_size' instead."),
                               [key]))
        elif key in OTHER_VERSION_FIELDS:
            out.append(Finding("vllm.key-of-other-version", "info", f"{key} is not a SpeculativeConfig field at "
                               f"{VERSION} (it is in other vLLM versions)", "check it against your vLLM version",
                               _src(f"{SPEC_FILE} SpeculativeConfig fields"), [key]))
        elif key not in FIELDS:
            close = difflib.get_close_matches(key, sorted(FIELDS), n=1)
            out.append(Finding("vllm.unknown-key", "error", f"{key} is not a speculative-config key: depending on "
                               "the version vLLM rejects it or ignores it, and the setting never applies",
                               f"did you mean {close[0]}?" if close else "see SpeculativeConfig's fields",
                               _src(f"{SPEC_FILE} SpeculativeConfig fields"), [key]))
    method_given = spec.get("method")
    if method_given is not None and method_given not in METHODS and method_given != "[ngram]":
        close = difflib.get_close_matches(str(method_given), sorted(METHODS), n=1)
        out.append(Finding("vllm.unknown-method", "error", f"method {method_given!r} is not a vLLM speculative method",
                           (f"did you mean {close[0]!r}? " if close else "") + "methods: " +
                           ", ".join(sorted(METHODS - MTP_METHODS | {"mtp"})),
                           _src(f"{SPEC_FILE} SpeculativeMethod (pydantic Literal)",
                                observed="pydantic validation error for method"), ["method"]))
        return out
    if method_given in MTP_METHODS and method_given != "mtp":
        out.append(Finding("vllm.deprecated-method", "warning", f"method {method_given!r} is deprecated",
                           'use "method": "mtp"', _src(f"{SPEC_FILE} SpeculativeConfig.__post_init__",
                                                       observed=f"method `{method_given}` is deprecated and "
                                                                "replaced with mtp."), ["method"]))
    method = infer_method(spec)
    model = spec.get("model")
    n_tok = spec.get("num_speculative_tokens")
    if n_tok is not None and (not isinstance(n_tok, int) or isinstance(n_tok, bool) or n_tok <= 0):
        out.append(Finding("vllm.bad-num-speculative-tokens", "error",
                           f"num_speculative_tokens {n_tok!r} must be a whole number > 0", "e.g. 3 to 5",
                           _src(f"{SPEC_FILE} num_speculative_tokens Field(gt=0)"), ["num_speculative_tokens"]))
    if model is None and method not in MODEL_FREE:
        out.append(Finding("vllm.no-draft-model", "error", f"method {method!r} needs \"model\" (the draft or head)",
                           'add "model": "<draft or head id>"',
                           _src(f"{SPEC_FILE} SpeculativeConfig.__post_init__",
                                observed="num_speculative_tokens was provided but without speculative model."),
                           ["model"]))
    if n_tok is None and method in ("draft_model",) and model is not None:
        out.append(Finding("vllm.no-num-speculative-tokens", "error", "num_speculative_tokens is missing",
                           'add "num_speculative_tokens": 3 (or 5)',
                           _src(f"{SPEC_FILE} SpeculativeConfig.__post_init__",
                                observed="A speculative model was provided, but `num_speculative_tokens` was not "
                                         "provided"), ["num_speculative_tokens"]))
    dtp = spec.get("draft_tensor_parallel_size")
    if dtp is not None and _int(dtp) not in (1, tp):
        out.append(Finding("vllm.draft-tp", "error", f"draft_tensor_parallel_size {dtp} is neither 1 nor the "
                           f"target's tensor parallel size {tp}", ("use 1" if tp == 1 else f"use 1 or {tp}") + " (or leave it out: the target's)",
                           _src(f"{SPEC_FILE} SpeculativeConfig._verify_and_get_draft_tp",
                                observed=f"speculative_draft_tensor_parallel_size={dtp} cannot be other value than "
                                         "1 or target model tensor_parallel_size"), ["draft_tensor_parallel_size"]))
    lo, hi = spec.get("prompt_lookup_min"), spec.get("prompt_lookup_max")
    if method in ("ngram", "ngram_gpu") and isinstance(lo, int) and isinstance(hi, int) and lo > hi:
        out.append(Finding("vllm.ngram-lookup", "error", f"prompt_lookup_min={lo} > prompt_lookup_max={hi}",
                           "make prompt_lookup_min <= prompt_lookup_max",
                           _src(f"{SPEC_FILE} SpeculativeConfig.__post_init__"), ["prompt_lookup_min"]))
    if resolve:
        out += _model_rules(spec, method, target)
    return out


def _model_rules(spec: Dict[str, Any], method: str, target: Optional[str]) -> List[Finding]:
    out: List[Finding] = []
    model = spec.get("model") if isinstance(spec.get("model"), str) else None
    tf = lookup(target) if target else None
    if method == "draft_model" and model and target and not spec.get("use_heterogeneous_vocab"):
        df = lookup(model)
        if tf.vocab_size and df.vocab_size and tf.vocab_size != df.vocab_size:
            out.append(Finding(
                "vllm.vocab-mismatch", "error",
                f"target {target} has vocab_size {tf.vocab_size} ({tf.source}), draft {model} {df.vocab_size} "
                f"({df.source}): vLLM refuses a draft_model pair whose vocab sizes differ",
                'add "use_heterogeneous_vocab": true (vLLM with vllm-project/vllm#38174; greedy drafting) or '
                "pick a draft with the same vocab_size (draftfinder find TARGET)",
                _src(f"{SPEC_FILE} SpeculativeConfig.verify_equal_vocab_size_if_draft_model",
                     observed="Target and draft model should have the same vocabulary size."), ["model"]))
        elif not (tf.vocab_size and df.vocab_size):
            missing = [m for m, f in ((target, tf), (model, df)) if not f.vocab_size]
            out.append(Finding("vllm.vocab-unchecked", "info", "vocab sizes not checked: " + "; ".join(
                f"{m} {lookup(m).where()}" for m in missing), "pass a local folder, or rerun with --hub",
                _src(f"{SPEC_FILE} SpeculativeConfig.verify_equal_vocab_size_if_draft_model"), []))
    if method == "eagle3" and tf is not None and tf.found and tf.model_type:
        mt = tf.model_type
        if not any(a in mt for a in EAGLE3_ALLOWLIST):
            out.append(Finding(
                "vllm.eagle3-target", "error",
                f"EAGLE-3 on a {mt} target ({target}): vLLM takes EAGLE-3's auxiliary hidden states only from "
                f"architectures that support them ({', '.join(EAGLE3_ALLOWLIST)} in the allowlist versions)",
                "use eagle (EAGLE-1), mtp or ngram for this target, or a vLLM whose model class implements "
                "SupportsEagle3",
                _src(f"{SPEC_FILE} _verify_args eagle3_target_supported (allowlist versions); newer: "
                     "vllm/v1/worker/gpu/spec_decode/eagle/eagle3_utils.py set_eagle3_aux_hidden_state_layers",
                     observed="Eagle3 is only supported for [...] models. / Model does not support EAGLE3 interface"),
                ["method"]))
    if method in ("eagle", "eagle3") and model and target:
        head_cfg = lookup(model).config if lookup(model).found else None
        trained = heads.trained_for(model, head_cfg)
        if trained and not heads.same_model(trained[0], target):
            out.append(Finding(
                "vllm.head-for-other-target", "warning",
                f"head {model} was trained for {trained[0]} ({trained[1]}), not {target}: its drafts will "
                "mostly be rejected", "use a head trained on this target (draftfinder find TARGET lists them)",
                _src("SpeculativeConfig loads any head whose shapes fit", enforced=False), ["model"]))
    if method == "mtp" and tf is not None and tf.found and tf.mtp_layers() == 0:
        out.append(Finding(
            "vllm.mtp-without-layers", "error",
            f"method mtp but {target}'s config ({tf.source}) declares no MTP layers "
            "(num_nextn_predict_layers / mtp_num_hidden_layers)",
            "use ngram or a draft model, or a checkpoint that ships MTP layers",
            _src(f"{SPEC_FILE} hf_config_override (the draft is the target's own MTP module)"), ["method"]))
    return out
