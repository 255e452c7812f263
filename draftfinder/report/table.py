"""The human report of a find run (manual §7), rendered from the exported dict.

Every number says where it came from: ``exact`` (read from the model's files), ``estimated`` (a model of
ours, method named), ``measured`` or ``published``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

RULE = "=" * 80
TIER_ICONS = {"EXCELLENT": "🌟", "GOOD": "✅", "ACCEPTABLE": "👍", "MARGINAL": "⚡", "POOR": "⚠️"}
ENGINE_LABELS = {"transformers": "transformers", "vllm": "vLLM", "llama.cpp": "llama.cpp"}


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


def engines_line(engines: Dict[str, Any]) -> str:
    parts = []
    for name, verdict in engines.items():
        mark = "✓" if verdict["compatible"] else "✗"
        detail = verdict["mode"] if verdict["compatible"] else ("; ".join(verdict["reasons"]) or verdict["mode"])
        parts.append(f"{ENGINE_LABELS.get(name, name)} {mark} ({detail})")
    return " · ".join(parts) if parts else "not checked"


def summary_table(drafts: List[Dict[str, Any]]) -> List[str]:
    """One line per draft: the ranking at a glance."""
    head = f"{'#':>2}  {'draft':<40} {'params':>7} {'ratio':>6} {'α est':>6} {'K':>2} {'speedup est':>11} {'score':>5}  tier"
    lines = [head, "-" * len(head)]
    for i, c in enumerate(drafts, 1):
        name = c["model_id"] if len(c["model_id"]) <= 40 else "…" + c["model_id"][-39:]   # keep the tail of paths
        lines.append(
            f"{i:>2}  {name:<40} {_short(c['model_info']['num_parameters']):>7} "
            f"{100 * c['size_ratio']:>5.1f}% {c['acceptance_rate_estimate']:>6.2f} {c['recommended_k']:>2} "
            f"{c['estimated_speedup']:>10.2f}x {c['quality_score']:>5.1f}  {c['quality_tier']}"
        )
    return lines


def render_candidate(i: int, c: Dict[str, Any], *, show_warnings: bool, show_memory: bool,
                     show_compat: bool, verbose: bool = False) -> List[str]:
    info = c["model_info"]
    compat = c["compatibility"]
    ratio = c["size_ratio"]
    lines = [f"{i}. {c['model_id']}",
             f"    Family: {info.get('model_family') or 'unknown'}",
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
    else:
        lines.append(f"    Tokenization match: not checked ({compat.get('method')})")
    lines += [
        f"    Estimated speedup: {c['estimated_speedup']:.2f}x at K={c['recommended_k']} ({_prov(c, 'estimated_speedup', verbose=verbose)})",
        f"    Acceptance rate: {100 * c['acceptance_rate_estimate']:.1f}%"
        + (f" [range {100 * c['acceptance_low']:.0f}–{100 * c['acceptance_high']:.0f}%]"
           if c.get("acceptance_low") is not None and c.get("acceptance_high") is not None else "")
        + f" ({_prov(c, 'acceptance_rate_estimate', verbose=verbose)})",
        f"    Recommended K: {c['recommended_k']} ({_prov(c, 'recommended_k', verbose=verbose) or 'argmax of estimated speedup'})",
    ]
    if c.get("cost_ratio") is not None:
        lines.append(f"    Cost ratio c: {c['cost_ratio']:.3f} ({_prov(c, 'cost_ratio', verbose=verbose)})")
    lines.append(f"    Engines: {engines_line(compat.get('engines') or {})}")
    lines.append(f"    Quality score: {c['quality_score']:.1f}/100 (estimated)")
    lines.append(f"    {TIER_ICONS.get(c['quality_tier'], '')} {c['quality_tier']}")
    if show_compat:
        lines.append("    Checks:")
        for check in compat.get("checks", []):
            mark = "skip" if check.get("skipped") else ("pass" if check["passed"] else "FAIL")
            lines.append(f"      [{mark}] {check['name']}: {check['reason']}")
    if show_warnings and c.get("warnings"):
        lines.append("    ⚠️  Warnings:")
        lines += [f"      - {w}" for w in c["warnings"]]
    return lines


def render_failed_tests(c: Dict[str, Any]) -> List[str]:
    """Manual §7.8: ids and tokens of the test strings that tokenized differently."""
    examples = c["compatibility"].get("failed_test_examples") or []
    if not examples:
        return []
    lines = ["    📋 Failed Test Details:"]
    for j, ex in enumerate(examples, 1):
        lines += [f"       Test {j}: {ex.get('text')!r}",
                  f"         Target IDs: {ex.get('target_ids')}",
                  f"         Draft IDs:  {ex.get('draft_ids')}",
                  f"         Target tokens: {ex.get('target_tokens')}",
                  f"         Draft tokens:  {ex.get('draft_tokens')}"]
    return lines


def render_find(data: Dict[str, Any], *, verbose: bool = False, show_warnings: bool = True,
                show_memory: bool = True, show_compat: bool = False, show_test_details: bool = False) -> str:
    t = data["target_model"]
    drafts = data["draft_models"]
    lines = [RULE, "🎯 DRAFT MODEL RECOMMENDATIONS", RULE, ""]
    lines.append(f"Hardware profile: {data['hardware']} · Task: {data['task']} · "
                 f"Target facts from: {t.get('source')}")
    for note in data.get("notes") or []:
        lines.append(f"Note: {note}")
    lines += ["", f"📊 Target Model: {t['model_id']}",
              f"   Parameters: {_num(t['num_parameters'])} ({_params_label(t)})"]
    if show_memory:
        lines.append(f"   Memory: {_num(t['memory_footprint_mb'])} MB ({t.get('memory_source', 'estimated')}: "
                     f"{t.get('dtype') or t.get('quantization')} weights)")
    tok = f"; tokenizer {t['tokenizer_vocab_size']:,}" if t.get("tokenizer_vocab_size") else ""
    lines += [f"   Vocab Size: {_num(t['vocab_size'])} (config{tok})",
              f"   Family: {t.get('model_family') or 'unknown'}", ""]
    lines.append(f"🏆 Top {len(drafts)} Draft Models:")
    lines.append("")
    lines += ["   " + line for line in summary_table(drafts)]
    lines.append("")
    for i, c in enumerate(drafts, 1):
        lines += render_candidate(i, c, show_warnings=show_warnings, show_memory=show_memory,
                                  show_compat=show_compat or verbose, verbose=verbose)
        if show_test_details:
            lines += render_failed_tests(c)
        lines.append("")
    s = data["summary"]
    lines.append("📈 Summary Statistics:")
    if s.get("average_speedup") is not None:
        lines.append(f"   Average speedup: {s['average_speedup']:.2f}x (estimated)")
        lines.append(f"   Average acceptance rate: {100 * s['average_acceptance_rate']:.1f}% (estimated)")
    lines.append(f"   Total candidates evaluated: {s['total_candidates_evaluated']} "
                 f"({s['compatible_candidates']} compatible, {s['rejected_candidates']} rejected) "
                 f"in {s['elapsed_s']:.1f} s (measured)")
    if verbose and data.get("rejected_models"):
        lines += ["", "🚫 Rejected:"]
        for r in data["rejected_models"]:
            lines.append(f"   - {r['model_id']} [{r['stage']}]: {'; '.join(r['reasons'])}")
    if drafts:
        best = drafts[0]
        lines += ["", f"📝 Usage Example (best draft: {best['model_id']}, K={best['recommended_k']}):"]
        for engine, snippet in (best.get("usage") or {}).items():
            lines += ["", f"# --- {ENGINE_LABELS.get(engine, engine)} ---", snippet]
        lines += ["", "Speedups, acceptance and K above are estimates, not measurements: benchmark the pair on "
                  "your own hardware and prompts before deploying."]
    return "\n".join(lines)
