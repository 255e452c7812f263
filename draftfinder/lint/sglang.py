"""Rules for SGLang: ``python -m sglang.launch_server --model-path T --speculative-algorithm A ...``.

Sources: ``python/sglang/srt/server_args.py`` (``ServerArgs.speculative_*`` fields; the EAGLE-family handling that
auto-chooses and adjusts steps/top-k/draft tokens), read at sgl-project/sglang@001067f (2026), and the
speculative-decoding documentation (docs/advanced_features/speculative_decoding.md @067ad4d). Rules:

- ``sglang.unknown-algorithm`` (error): builtins EAGLE, EAGLE3, NEXTN, STANDALONE, NGRAM, DFLASH, DSPARK
  (names registered with ``SpeculativeAlgorithm.register`` by a plugin are accepted too).
- ``sglang.no-draft-path`` (error for STANDALONE, warning for EAGLE/EAGLE3: MTP targets may omit it).
- ``sglang.partial-tuning`` (error): top-k or draft tokens without ``--speculative-num-steps`` (the auto-choice
  asserts the other two are unset; the docs: "leave all three unset … or set all three").
- ``sglang.draft-tokens-adjusted`` (warning): top-k 1 with draft tokens ≠ steps + 1 ("speculative_num_draft_tokens
  is adjusted to speculative_num_steps + 1 when speculative_eagle_topk == 1").
- ``sglang.topk-page-size`` (error): top-k > 1 with ``--page-size`` > 1 on a backend other than flashinfer, fa3,
  triton; ``sglang.topk-trtllm`` (error): trtllm_mha only supports top-k 1.
- ``sglang.dp-attention`` (error): STANDALONE and NGRAM do not support ``--enable-dp-attention`` (docs).
- ``sglang.spec-v2-topk`` (error): ``SGLANG_ENABLE_SPEC_V2`` needs top-k 1 (docs).
- ``sglang.head-for-other-target`` (warning, not enforced): an EAGLE head trained for another model.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from draftfinder.lint import heads
from draftfinder.lint.commandline import Command, split_argparse
from draftfinder.lint.findings import CommandReport, Enforcement, Finding
from draftfinder.lint.model_facts import lookup

REPO = "sgl-project/sglang"
VERSION = "001067fffe33 (2026)"
ARGS_FILE = "python/sglang/srt/server_args.py"
DOCS = "docs/advanced_features/speculative_decoding.md @067ad4d"
ALGORITHMS = ("EAGLE", "EAGLE3", "NEXTN", "STANDALONE", "NGRAM", "DFLASH", "DSPARK")
PAGE_TREE_BACKENDS = ("flashinfer", "fa3", "triton")
BOOLEAN_FLAGS = ("--trust-remote-code", "--enable-dp-attention", "--enable-torch-compile", "--disable-radix-cache",
                 "--disable-cuda-graph", "--enable-mixed-chunk", "--skip-server-warmup", "--enable-metrics",
                 "--disable-overlap-schedule", "--enable-multi-layer-eagle", "--speculative-use-rejection-sampling")


def _src(where: str, observed: Optional[str] = None, enforced: bool = True, docs: bool = False) -> Enforcement:
    return Enforcement("sglang", where, "067ad4d" if docs else VERSION, REPO, enforced=enforced, observed=observed)


def _int(v: Optional[str]) -> Optional[int]:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def lint(cmd: Command, *, resolve: bool = True) -> CommandReport:
    flags, _ = split_argparse(cmd.args, BOOLEAN_FLAGS)
    v: Dict[str, Optional[str]] = {}
    present = set()
    for name, value, _ in flags:
        v.setdefault(name, value)
        present.add(name)
    target = v.get("--model-path") or v.get("--model")
    draft = v.get("--speculative-draft-model-path") or v.get("--speculative-draft-model")
    report = CommandReport("sglang", cmd.program, cmd.text, target=target, draft=draft)
    out: List[Finding] = []
    algo = v.get("--speculative-algorithm")
    if algo is None:
        spec_flags = sorted(f for f in present if f.startswith("--speculative-"))
        if spec_flags:
            out.append(Finding("sglang.no-algorithm", "error", f"{', '.join(spec_flags)} without "
                               "--speculative-algorithm: speculative decoding stays off",
                               "add --speculative-algorithm EAGLE3 (or EAGLE, STANDALONE, NGRAM, NEXTN)",
                               _src(f"{ARGS_FILE} ServerArgs.speculative_algorithm (default None)"), spec_flags))
        report.findings = out
        return report
    name = algo.upper()
    if name not in ALGORITHMS:
        out.append(Finding("sglang.unknown-algorithm", "error", f"--speculative-algorithm {algo}: not a builtin "
                           "algorithm", f"use one of {', '.join(ALGORITHMS)} (or register yours with "
                           "SpeculativeAlgorithm.register)",
                           _src(f"{ARGS_FILE} ServerArgs.speculative_algorithm"), ["--speculative-algorithm", algo]))
        report.findings = out
        return report
    if name in ("EAGLE", "EAGLE3", "STANDALONE", "DFLASH") and not draft:
        sev = "error" if name == "STANDALONE" else "warning"
        out.append(Finding("sglang.no-draft-path", sev, f"--speculative-algorithm {algo} without "
                           "--speculative-draft-model-path" + ("" if sev == "error" else
                                                                ": works only for targets with MTP layers"),
                           "add --speculative-draft-model-path <draft or head>",
                           _src(f"{DOCS} (EAGLE Decoding: 'Typically required for EAGLE/EAGLE3 and STANDALONE')",
                                docs=True), ["--speculative-algorithm"]))
    steps, topk, ndt = (_int(v.get("--speculative-num-steps")), _int(v.get("--speculative-eagle-topk")),
                        _int(v.get("--speculative-num-draft-tokens")))
    eagle_like = name in ("EAGLE", "EAGLE3", "STANDALONE", "NEXTN")
    if eagle_like and steps is None and (topk is not None or ndt is not None):
        given = [f for f in ("--speculative-eagle-topk", "--speculative-num-draft-tokens") if f in present]
        out.append(Finding("sglang.partial-tuning", "error", f"{', '.join(given)} without --speculative-num-steps: "
                           "the auto-choice of the three asserts the other two are unset",
                           "set all three (--speculative-num-steps, --speculative-eagle-topk, "
                           "--speculative-num-draft-tokens) or none",
                           _src(f"{ARGS_FILE} _auto_choose_speculative_params: assert speculative_eagle_topk is None "
                                "and speculative_num_draft_tokens is None"), given))
    if eagle_like and topk == 1 and steps is not None and ndt is not None and ndt != steps + 1:
        out.append(Finding("sglang.draft-tokens-adjusted", "warning",
                           f"--speculative-eagle-topk 1 with --speculative-num-draft-tokens {ndt}: SGLang changes "
                           f"it to --speculative-num-steps + 1 = {steps + 1}",
                           f"write --speculative-num-draft-tokens {steps + 1}",
                           _src(f"{ARGS_FILE} EAGLE-family handling",
                                observed="speculative_num_draft_tokens is adjusted to speculative_num_steps + 1 when "
                                         "speculative_eagle_topk == 1"), ["--speculative-num-draft-tokens"]))
    page = _int(v.get("--page-size"))
    backend = v.get("--attention-backend")
    if topk is not None and topk > 1 and page is not None and page > 1 and backend and backend not in PAGE_TREE_BACKENDS:
        out.append(Finding("sglang.topk-page-size", "error", f"--speculative-eagle-topk {topk} with --page-size "
                           f"{page} on --attention-backend {backend}", "use --speculative-eagle-topk 1, "
                           f"--page-size 1, or a backend among {', '.join(PAGE_TREE_BACKENDS)}",
                           _src(f"{ARGS_FILE} EAGLE-family handling (_PAGE_TREE_SPEC_BACKENDS)"),
                           ["--speculative-eagle-topk", "--page-size"]))
    if topk is not None and topk > 1 and "trtllm_mha" in (backend, v.get("--decode-attention-backend"),
                                                         v.get("--prefill-attention-backend")):
        out.append(Finding("sglang.topk-trtllm", "error", f"--speculative-eagle-topk {topk} with trtllm_mha",
                           "use --speculative-eagle-topk 1 or another attention backend",
                           _src(f"{ARGS_FILE} EAGLE-family handling",
                                observed="trtllm_mha backend only supports topk = 1 for speculative decoding."),
                           ["--speculative-eagle-topk"]))
    if name in ("STANDALONE", "NGRAM") and "--enable-dp-attention" in present:
        out.append(Finding("sglang.dp-attention", "error", f"{name} does not support --enable-dp-attention",
                           "drop --enable-dp-attention or use EAGLE/EAGLE3",
                           _src(f"{DOCS} (method comparison table)", docs=True), ["--enable-dp-attention"]))
    if str(cmd.env.get("SGLANG_ENABLE_SPEC_V2", "")).lower() in ("1", "true") and name in ("EAGLE", "EAGLE3",
                                                                                          "STANDALONE"):
        if topk is None or topk > 1:
            out.append(Finding("sglang.spec-v2-topk", "error" if topk else "warning",
                               "SGLANG_ENABLE_SPEC_V2 supports only --speculative-eagle-topk 1" +
                               (f"; got {topk}" if topk else "; auto-tuning may pick more for this target"),
                               "set --speculative-eagle-topk 1 explicitly",
                               _src(f"{DOCS} (Speculative Decoding V2)", docs=True), ["SGLANG_ENABLE_SPEC_V2"]))
    if name == "EAGLE3" and v.get("--speculative-token-map"):
        out.append(Finding("sglang.token-map-ignored", "info", "--speculative-token-map is ignored for EAGLE-3",
                           "drop it", _src(f"{DOCS} (EAGLE Decoding)", docs=True), ["--speculative-token-map"]))
    if resolve and name in ("EAGLE", "EAGLE3") and draft and target:
        hf = lookup(draft)
        trained = heads.trained_for(draft, hf.config if hf.found else None)
        if trained and not heads.same_model(trained[0], target):
            out.append(Finding("sglang.head-for-other-target", "warning",
                               f"head {draft} was trained for {trained[0]} ({trained[1]}), not {target}: its "
                               "drafts will mostly be rejected", "use a head trained on this target",
                               _src("the EAGLE worker loads any head whose shapes fit", enforced=False),
                               ["--speculative-draft-model-path"]))
    report.findings = out
    return report
