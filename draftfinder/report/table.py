"""The human report of a find run (manual §7), rendered from the exported dict.

Every number says where it came from: ``exact`` (read from the model's files), ``estimated`` (a model of
ours, method named), ``measured`` or ``published``.

Symbols (emoji, ✓/✗) only when stdout is a terminal and ``NO_COLOR`` is unset (``symbols=None`` decides so
from :func:`draftfinder.constants.color_enabled`); otherwise plain words: an engine "accepts" or "refuses".
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Optional

RULE = "=" * 80
TIER_ICONS = {"EXCELLENT": "🌟", "GOOD": "✅", "ACCEPTABLE": "👍", "MARGINAL": "⚡", "POOR": "⚠️"}
ENGINE_LABELS = {"transformers": "transformers", "vllm": "vLLM", "llama.cpp": "llama.cpp", "sglang": "SGLang",
                 "draftfinder": "draftfinder engine"}
# Section icons of the manual's report (§7), shown only with symbols on.
ICONS = {"title": "🎯", "target": "📊", "top": "🏆", "warnings": "⚠️ ", "summary": "📈", "usage": "📝",
         "rejected": "🚫", "failed": "📋"}


def use_symbols(symbols: Optional[bool] = None, stream: Any = None) -> bool:
    """``symbols`` when given, else: stdout (or ``stream``) is a terminal and NO_COLOR is unset."""
    if symbols is not None:
        return symbols
    from draftfinder.constants import color_enabled

    return color_enabled(stream or sys.stdout)


def _icon(name: str, symbols: bool) -> str:
    return f"{ICONS[name]} " if symbols else ""


def _num(n: Optional[float]) -> str:
    return "?" if n is None else f"{int(n):,}"


def _short(n: Optional[float]) -> str:
    if not n:
        return "?"
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.1f}{unit}" if n / div < 100 else f"{n / div:.0f}{unit}"
    return str(int(n))


def _prov(cand: Dict[str, Any], key: str, *, verbose: bool = False) -> str:
    """``source: method`` — the short form; ``verbose`` adds the detail (the JSON always has all of it)."""
    p = (cand.get("provenance") or {}).get(key)
    if not p:
        return ""
    method = p["method"] if verbose else p["method"].split(": ")[0].split("; ")[0]
    return f"{p['source']}: {method}" + (f"; {p['detail']}" if verbose and p.get("detail") else "")


def _params_label(info: Dict[str, Any]) -> str:
    label = "exact" if info.get("parameters_exact") else "estimated"
    return f"{label}: {info.get('parameters_source')}"


def engines_line(engines: Dict[str, Any], symbols: bool = True) -> str:
    """One verdict per engine, with the names of its failed checks — the same checks the JSON and the
    ``Checks:`` section show, so the verdict and the checks beside it cannot disagree. A verdict of mode
    ``unknown`` (a needed fact missing, e.g. BOS/EOS insertion known from no file) is "not decided", never
    "refuses"."""
    parts = []
    for name, verdict in engines.items():
        failed = [c["name"] for c in verdict.get("checks") or [] if c.get("required", True) and not c["passed"]]
        if verdict["compatible"]:
            word = "✓" if symbols else "accepts"
            detail = verdict["mode"]
        elif verdict["mode"] == "unknown":          # a needed fact is missing: neither accepted nor refused
            word = "?" if symbols else "not decided"
            detail = f"unknown: {', '.join(failed)} not known" if failed else "unknown"
        else:
            word = "✗" if symbols else "refuses"
            failed_text = f"failed: {', '.join(failed)}" if failed else ""
            detail = (f"{verdict['mode']}; {failed_text}" if symbols else failed_text) if failed else verdict["mode"]
        label = ENGINE_LABELS.get(name, name)
        parts.append(f"{label} {word} ({detail})" if symbols else f"{label}: {word} ({detail})")
    return " · ".join(parts) if parts else "not checked"


def engine_versions(drafts: List[Dict[str, Any]]) -> List[str]:
    """The engine versions whose rules the verdicts apply (the same for every draft of a run)."""
    seen: Dict[str, str] = {}
    for c in drafts:
        for name, verdict in ((c.get("compatibility") or {}).get("engines") or {}).items():
            if verdict.get("version"):
                seen.setdefault(name, verdict["version"])
    return [f"{ENGINE_LABELS.get(n, n)}: {v}" for n, v in seen.items()]


def _sources_line(c: Dict[str, Any]) -> Optional[str]:
    """Every place the model was found (one row per model); the entry whose files were used is marked."""
    sources = c.get("sources") or []
    if len(sources) < 2:
        return None
    parts = [f"{s['source']} ({s['name']}{'; used' if s.get('used') else ''})" for s in sources]
    return "    Found in: " + ", ".join(parts)


def summary_table(drafts: List[Dict[str, Any]]) -> List[str]:
    """One line per draft: the ranking at a glance."""
    head = (f"{'#':>2}  {'draft':<40} {'params':>7} {'ratio':>6} {'α':>5} {'K':>2} {'speedup':>8} {'basis':<9} "
            f"{'score':>5}  tier")
    lines = [head, "-" * len(head)]
    for i, c in enumerate(drafts, 1):
        name = (c.get("trained") or {}).get("label") or c["model_id"]          # "trained: <folder>" for drafts
        name = name if len(name) <= 40 else "…" + name[-39:]                    # trained here; the tail of paths
        head = f"{i:>2}  {name:<40} {_short(c['model_info']['num_parameters']):>7} {100 * c['size_ratio']:>5.1f}% "
        if c.get("estimated_speedup") is None:       # does not fit: the verdict instead of α, K and a speedup
            lines.append(head + _fit_short(c) + f"  {c['quality_score']:>5.1f}  {c['quality_tier']}")
            continue
        lines.append(
            head + f"{c['acceptance_rate_estimate']:>5.2f} {c['recommended_k']:>2} "
            f"{c['estimated_speedup']:>7.2f}x {c.get('speedup_basis', 'estimated'):<9} "
            f"{c['quality_score']:>5.1f}  {c['quality_tier']}"
        )
    return lines


def _fit_short(c: Dict[str, Any]) -> str:
    """``does not fit (needs 135.2 GB of 21.6 GB)`` for the one-line table."""
    fit = c.get("fit") or {}
    if fit.get("usable_gb") is None:
        return fit.get("verdict") or "does not fit"
    return f"does not fit (needs {fit['required_gb']:.1f} GB of {fit['usable_gb']:.1f} GB)"


def device_lines(data: Dict[str, Any]) -> List[str]:
    """Device (with what was detected), engine, context and concurrency of a find or estimate payload."""
    dev = data.get("device") or {}
    lines = []
    if dev:
        basis = dev.get("basis") or {}

        def fig(key: str, unit: str) -> str:
            value = dev.get(key)
            return f"{'?' if value is None else f'{value:g}'} {unit} ({basis.get(key, '?')})"
        count = f"{dev['count']}× " if dev.get("count", 1) > 1 else ""
        lines.append(f"Device: {count}{dev['name']} ({dev.get('description') or dev.get('kind')}) — "
                     f"{fig('memory_gb', 'GB')}, {fig('bandwidth_gb_s', 'GB/s')}, "
                     f"{fig('tflops', 'TFLOPS fp32' if dev.get('kind') == 'cpu' else 'TFLOPS fp16')}")
        if dev.get("detected_from"):
            lines.append(f"   detected: {dev['detected_from']} (--hardware to choose another)")
        if dev.get("calibration"):
            cal = dev["calibration"]
            lines.append(f"   calibration: {cal.get('name')} ({cal.get('created_at')}, machine {cal.get('machine_id')})")
    engine = data.get("engine")
    if isinstance(engine, dict) and engine.get("name"):
        lines.append(f"Engine: {ENGINE_LABELS.get(engine['name'], engine['name'])} ({engine.get('chosen_by')})")
        if engine.get("latency_model"):
            lines.append(f"   estimated with: {engine['latency_model']}")
    if data.get("ctx_tokens") is not None:
        lines.append(f"Context: {data['ctx_tokens']:,} tokens per request · Concurrency: {data.get('concurrency', 1)} "
                     "request(s) decoded together")
    return lines


def concurrency_lines(table: Dict[str, Any], requested: int = 1) -> List[str]:
    """The speedup and K per concurrency level, with K as vLLM, llama-server and SGLang take it."""
    lines = [f"   {'N':>4}  {'K':>3}  {'speedup':>8}  {'plain tok/s':>11}  {'spec tok/s':>10}  fit"]
    for level in table.get("levels") or []:
        n = level["concurrency"]
        mark = "  ← requested" if n == requested and requested != 1 else ""
        if level.get("fits") is False:
            lines.append(f"   {n:>4}  {'-':>3}  {'-':>8}  {level['plain_tokens_per_s']:>11.3g}  {'-':>10}  "
                         f"{level['fit_verdict']}{mark}")
            continue
        k = level.get("recommended_k")
        spec = level.get("speculative_tokens_per_s")
        lines.append(f"   {n:>4}  {'off' if k is None else k:>3}  {level['speedup']:>7.2f}x  "
                     f"{level['plain_tokens_per_s']:>11.3g}  {spec:>10.3g}  "
                     f"{'yes' if level.get('fits') else 'unknown' if level.get('fits') is None else 'no'}{mark}")
    runnable = [level for level in table.get("levels") or [] if level.get("fits") is not False]
    if runnable:
        lines.append("   K per N as the engines take it:")
    for level in runnable:
        lines.append(f"     N={level['concurrency']}: vLLM {level['vllm']}")
        lines.append(f"     {'':{len(str(level['concurrency'])) + 2}} llama-server {level['llama_cpp']}")
        lines.append(f"     {'':{len(str(level['concurrency'])) + 2}} SGLang {level['sglang']}")
    prov = (table.get("provenance") or {}).get("speedup") or {}
    lines.append(f"   (estimated: {prov.get('method', '')}; {prov.get('detail', '')}; tok/s summed over the N "
                 "requests; off = no K beats plain decoding)")
    return lines


def acceptance_kinds_line(views: Optional[Dict[str, Any]]) -> Optional[str]:
    """``α 0.712 (estimated) · accepted/drafted 0.590 at K=4 (estimated) · AL 3.36 at K=4 (estimated)`` from an
    ``acceptance_kinds`` dict (predict/acceptance_kinds.py ``AcceptanceViews.to_dict``)."""
    if not views:
        return None
    a, r, al, k = views["alpha"], views["rate"], views["al"], views["k"]
    return (f"α {a['value']:.3f} ({a['source']}) · accepted/drafted {r['value']:.3f} at K={k} ({r['source']}) · "
            f"AL {al['value']:.2f} tokens/pass at K={k} ({al['source']})")


def render_candidate(i: int, c: Dict[str, Any], *, show_warnings: bool, show_memory: bool,
                     show_compat: bool, verbose: bool = False, symbols: bool = True) -> List[str]:
    info = c["model_info"]
    compat = c["compatibility"]
    ratio = c["size_ratio"]
    trained = c.get("trained")
    lines = [f"{i}. {c['model_id']}" + (" (trained here)" if trained else "")]
    sources = _sources_line(c)
    if sources:
        lines.append(sources)
    if trained:
        lines.append(f"    Trained here: {trained['method']} draft for {trained['target']}, task {trained.get('task')}; "
                     f"report {trained['report_path']}")
    lines += [f"    Family: {info.get('model_family') or 'unknown'}"]
    variant = c.get("variant")
    if variant:
        verdict = (" — expert pick" if variant.get("expert_pick") else
                   " — flagged" if variant.get("flag") else "")
        lines.append(f"    Variant: {variant['summary']}{verdict}")
    lines += [
             f"    Parameters: {_num(info['num_parameters'])} ({_params_label(info)})",
             f"    Size: {1 / ratio:.1f}x smaller ({100 * ratio:.1f}% of target)" if ratio else "    Size: ?"]
    if show_memory:
        mem_ratio = c.get("memory_ratio") or 0
        less = f" ({1 / mem_ratio:.1f}x less memory)" if mem_ratio else ""
        lines.append(f"    Memory: {_num(info['memory_footprint_mb'])} MB{less} "
                     f"({info.get('memory_source', 'estimated')}: {info.get('dtype') or info.get('quantization')})")
    if compat.get("num_test_strings"):
        lines.append(f"    Tokenization match: {100 * compat['tokenization_match_rate']:.1f}% "
                     f"({compat['num_passed_tests']}/{compat['num_test_strings']} test strings)")
    elif compat.get("method") == "fingerprint":
        same = any(ch["name"] == "fingerprint" and ch["passed"] for ch in compat.get("checks", []))
        lines.append("    Tokenization match: " + ("identical tokenizers (same fingerprint; " if same else
                     "vocabulary compared block by block (") + "offline catalog, test strings not run)")
    elif compat.get("method") == "file-hash":
        lines.append("    Tokenization match: compatible (by file hash) — byte-identical tokenizer files by their public "
                     "hashes; files not loaded, test strings not run")
    else:
        lines.append(f"    Tokenization match: not checked ({compat.get('method')})")
    fit = c.get("fit") or {}
    if c.get("estimated_speedup") is None:
        lines.append(f"    Estimated speedup: none — {fit.get('verdict', 'does not fit')} "
                     f"(estimated: weights + KV caches at {fit.get('ctx_tokens')} tokens × {fit.get('sequences')} "
                     "request(s))")
    elif trained and c.get("speedup_basis") == "measured" and c.get("model_speedup") is not None:
        lines += [f"    Measured speedup: {c['estimated_speedup']:.2f}x at K={c['recommended_k']} "
                  f"({_prov(c, 'estimated_speedup', verbose=verbose)})",
                  f"    Latency model: {c['model_speedup']:.2f}x (estimated from the measured α, c and v(K))"]
        if fit:
            lines.append(f"    Memory fit: {fit['verdict']} (estimated: weights + both KV caches at "
                         f"{fit['ctx_tokens']} tokens × {fit['sequences']} request(s))")
    elif c.get("speedup_basis") == "published" and c.get("model_speedup") is not None:
        lines += [f"    Published speedup: {c['estimated_speedup']:.2f}x ({_prov(c, 'estimated_speedup', verbose=verbose)}; "
                  f"at the source's draft settings)",
                  f"    Latency model: {c['model_speedup']:.2f}x at K={c['recommended_k']}"
                  + (f" for {ENGINE_LABELS.get(c['engine'], c['engine'])}" if c.get("engine") else "") + " (estimated)"]
    else:
        lines.append(f"    Estimated speedup: {c['estimated_speedup']:.2f}x at K={c['recommended_k']}"
                     + (f" for {ENGINE_LABELS.get(c['engine'], c['engine'])}" if c.get("engine") else "")
                     + f" ({_prov(c, 'estimated_speedup', verbose=verbose)})")
        if fit:
            lines.append(f"    Memory fit: {fit['verdict']} (estimated: weights + both KV caches at "
                         f"{fit['ctx_tokens']} tokens × {fit['sequences']} request(s))")
    k_line = (f"    Recommended K: {c['recommended_k']} ({_prov(c, 'recommended_k', verbose=verbose) or 'argmax of estimated speedup'})"
              if c.get("recommended_k") is not None else "    Recommended K: none (does not fit)")
    lines += [
        f"    Acceptance rate: {100 * c['acceptance_rate_estimate']:.1f}%"
        + (f" [range {100 * c['acceptance_low']:.0f}–{100 * c['acceptance_high']:.0f}%]"
           if c.get("acceptance_low") is not None and c.get("acceptance_high") is not None else "")
        + f" ({_prov(c, 'acceptance_rate_estimate', verbose=verbose)})",
        k_line,
    ]
    kinds = acceptance_kinds_line(c.get("acceptance_kinds"))
    if kinds:
        lines.append(f"    Acceptance kinds: {kinds}")
    if c.get("cost_ratio") is not None:
        lines.append(f"    Cost ratio c: {c['cost_ratio']:.3f} ({_prov(c, 'cost_ratio', verbose=verbose)})")
    if c.get("published"):
        from draftfinder.find.published_basis import short_lines

        lines += [f"    {line}" for line in short_lines(c["published"])]
    lines.append(f"    Engines: {engines_line(compat.get('engines') or {}, symbols)}")
    lines.append(f"    Quality score: {c['quality_score']:.1f}/100 (estimated)")
    tier_icon = f"{TIER_ICONS.get(c['quality_tier'], '')} " if symbols else "Tier: "
    lines.append(f"    {tier_icon}{c['quality_tier']}")
    if show_compat:
        lines.append("    Checks:")
        engine_checks = [ch for v in (compat.get("engines") or {}).values() for ch in v.get("checks") or []]
        for check in list(compat.get("checks", [])) + engine_checks:
            mark = "skip" if check.get("skipped") else ("pass" if check["passed"] else "FAIL")
            lines.append(f"      [{mark}] {check['name']}: {check['reason']}")
    if show_warnings and c.get("warnings"):
        lines.append(f"    {_icon('warnings', symbols)}Warnings:")
        lines += [f"      - {w}" for w in c["warnings"]]
    return lines


def unverified_lines(data: Dict[str, Any]) -> List[str]:
    """The drafts whose tokenizer could not be judged, below the verified ones, each with the reason; their
    speedups assume the tokenizers agree (compat/by_hash.py)."""
    rows = data.get("unverified_models") or []
    if not rows:
        return []
    lines = [f"Unverified drafts ({len(rows)}): the tokenizer could not be judged — not recommended until checked; "
             "speedups are estimated as if the tokenizers agree:"]
    for c in rows:
        reason = "; ".join((c.get("compatibility") or {}).get("incompatibility_reasons") or []) or "not checked"
        speed = (f"{c['estimated_speedup']:.2f}x at K={c['recommended_k']} (estimated, if compatible)"
                 if c.get("estimated_speedup") is not None else (c.get("fit") or {}).get("verdict", "does not fit"))
        variant = (c.get("variant") or {}).get("draft_variant")
        lines.append(f"   - {c['model_id']}" + (f" [{variant}]" if variant else "") + f": {speed} — {reason}")
    return lines


def render_failed_tests(c: Dict[str, Any], symbols: Optional[bool] = None) -> List[str]:
    """Manual §7.8: ids and tokens of the test strings that tokenized differently."""
    examples = c["compatibility"].get("failed_test_examples") or []
    if not examples:
        return []
    lines = [f"    {_icon('failed', use_symbols(symbols, sys.stderr))}Failed Test Details:"]
    for j, ex in enumerate(examples, 1):
        lines += [f"       Test {j}: {ex.get('text')!r}",
                  f"         Target IDs: {ex.get('target_ids')}",
                  f"         Draft IDs:  {ex.get('draft_ids')}",
                  f"         Target tokens: {ex.get('target_tokens')}",
                  f"         Draft tokens:  {ex.get('draft_tokens')}"]
    return lines


def draft_method_lines(methods: List[Dict[str, Any]], task: str) -> List[str]:
    """The "Other drafting methods" section: per method its engines, expected speedup with basis, and the
    snippet of the first engine that runs it (the JSON ``draft_methods`` has every engine's snippet and rule)."""
    if not methods:
        return []
    lines = [f"Other drafting methods (heads, built-in MTP, model-free; task {task}):"]
    for m in methods:
        name = f"{m['label']}: {m['draft']}" if m.get("draft") else m["label"]
        engines = ", ".join(ENGINE_LABELS.get(e, e) for e in m.get("engines") or []) or "none here"
        if m.get("expected_speedup") is not None:
            speed = f"~{m['expected_speedup']:.2f}x ({m['speedup_basis']}: {m['basis_detail']})"
        else:
            speed = f"no figure ({m.get('basis_detail')})"
        lines += [f"   - {name}", f"       engines: {engines}", f"       expected speedup: {speed}"]
        if m.get("provenance"):
            lines.append(f"       from: {m['provenance']}")
        for note in m.get("notes") or []:
            lines.append(f"       note: {note}")
        usage = m.get("usage") or {}
        if usage:
            engine, snippet = next(iter(usage.items()))
            lines.append(f"       {ENGINE_LABELS.get(engine, engine)}: " + snippet.replace("\n", "\n         "))
    return lines


def render_find(data: Dict[str, Any], *, verbose: bool = False, show_warnings: bool = True,
                show_memory: bool = True, show_compat: bool = False, show_test_details: bool = False,
                symbols: Optional[bool] = None) -> str:
    """The report; ``symbols`` None: emoji and ✓/✗ only on a terminal without NO_COLOR (:func:`use_symbols`)."""
    sym = use_symbols(symbols)
    t = data["target_model"]
    drafts = data["draft_models"]
    lines = [RULE, f"{_icon('title', sym)}DRAFT MODEL RECOMMENDATIONS", RULE, ""]
    lines += device_lines(data)
    lines.append(f"Task: {data['task']} · Target facts from: {t.get('source')}")
    for note in data.get("notes") or []:
        lines.append(f"Note: {note}")
    lines += ["", f"{_icon('target', sym)}Target Model: {t['model_id']}",
              f"   Parameters: {_num(t['num_parameters'])} ({_params_label(t)})"]
    if show_memory:
        lines.append(f"   Memory: {_num(t['memory_footprint_mb'])} MB ({t.get('memory_source', 'estimated')}: "
                     f"{t.get('dtype') or t.get('quantization')} weights)")
    tok = f"; tokenizer {t['tokenizer_vocab_size']:,}" if t.get("tokenizer_vocab_size") else ""
    lines += [f"   Vocab Size: {_num(t['vocab_size'])} (config{tok})",
              f"   Family: {t.get('model_family') or 'unknown'}", ""]
    lines.append(f"{_icon('top', sym)}Top {len(drafts)} Draft Models (the target's variant first — instruct/chat "
                 "drafts for an instruct target, base for a base one; then ranked by expected speedup on "
                 f"{data['hardware']}; ties: measured before published before estimated, then score, then name; "
                 "pairs that do not fit last):")
    lines.append("")
    lines += ["   " + line for line in summary_table(drafts)]
    lines.append("")
    for i, c in enumerate(drafts, 1):
        lines += render_candidate(i, c, show_warnings=show_warnings, show_memory=show_memory,
                                  show_compat=show_compat or verbose, verbose=verbose, symbols=sym)
        if show_test_details:
            lines += render_failed_tests(c, sym)
        lines.append("")
    unverified = unverified_lines(data)
    if unverified:
        lines += unverified + [""]
    versions = engine_versions(drafts)
    if versions:
        lines.append("Engine verdicts apply the rules of: " + "; ".join(versions))
        lines.append("")
    s = data["summary"]
    lines.append(f"{_icon('summary', sym)}Summary Statistics:")
    if s.get("average_speedup") is not None:
        basis = {c.get("speedup_basis", "estimated") for c in drafts if c.get("estimated_speedup") is not None}
        label = "estimated" if basis <= {"estimated"} else "over " + " and ".join(sorted(basis)) + " speedups"
        fitting = "" if not s.get("pairs_that_do_not_fit") else " over the pairs that fit"
        lines.append(f"   Average speedup: {s['average_speedup']:.2f}x{fitting} ({label})")
        lines.append(f"   Average acceptance rate: {100 * s['average_acceptance_rate']:.1f}% (estimated)")
    if s.get("pairs_that_do_not_fit"):
        lines.append(f"   Pairs that do not fit the device's memory: {s['pairs_that_do_not_fit']} (estimated)")
    unverified_n = f", {s['unverified_candidates']} unverified" if s.get("unverified_candidates") else ""
    lines.append(f"   Total candidates evaluated: {s['total_candidates_evaluated']} "
                 f"({s['compatible_candidates']} compatible, {s['rejected_candidates']} rejected{unverified_n}) "
                 f"in {s['elapsed_s']:.1f} s (measured)")
    methods = draft_method_lines(data.get("draft_methods") or [], data.get("task", "general"))
    if methods:
        lines += [""] + methods
    if verbose and data.get("rejected_models"):
        lines += ["", f"{_icon('rejected', sym)}Rejected:"]
        for r in data["rejected_models"]:
            lines.append(f"   - {r['model_id']} [{r['stage']}]: {'; '.join(r['reasons'])}")
    if drafts and drafts[0].get("concurrency"):
        best = drafts[0]
        lines += ["", f"Concurrency (best draft {best['model_id']}; speedup per request):"]
        lines += concurrency_lines(best["concurrency"], data.get("concurrency", 1))
    if drafts and drafts[0].get("recommended_k") is None:
        lines += ["", f"{_icon('usage', sym)}No usage example: no pair fits on {data['hardware']} (see the memory "
                  "verdicts above)."]
    elif drafts:
        best = drafts[0]
        lines += ["", f"{_icon('usage', sym)}Usage Example (best draft: {best['model_id']}, K={best['recommended_k']}):"]
        for engine, snippet in (best.get("usage") or {}).items():
            lines += ["", f"# --- {ENGINE_LABELS.get(engine, engine)} ---", snippet]
        bases = {c.get("speedup_basis", "estimated") for c in drafts}
        if bases == {"estimated"}:
            lines += ["", "Speedups, acceptance and K above are estimates, not measurements: benchmark the pair on "
                      "your own hardware and prompts before deploying."]
        else:
            said = []
            if "measured" in bases:
                said.append("basis 'measured' come from saved `draftfinder measure` runs on this machine")
            if "published" in bases:
                said.append("basis 'published' were measured by others on the same pair, formats, hardware and "
                            "engine (cited above)")
            lines += ["", "Speedups with " + "; those with ".join(said)
                      + "; the 'estimated' ones are estimates: benchmark those pairs before deploying."]
    return "\n".join(lines)
