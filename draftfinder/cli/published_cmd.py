"""``draftfinder published``: the published speculative-decoding measurements draftfinder ships, with provenance.

    draftfinder published [--target ID] [--draft ID] [--engine E] [--hardware H] [--source S]
                          [--role training|validation] [--format table|json|yaml]

Lists the rows of ``draftfinder/data/published.json`` (:mod:`draftfinder.predict.published`) that match every
filter given. ``--target``/``--draft`` match a row whose model id, label or GGUF file contains the text
(case-insensitive), or whose model is the same once quantization labels are set aside
(:func:`draftfinder.predict.published_match.model_key`: ``Qwen/Qwen2.5-7B-Instruct-GGUF`` finds the
``Qwen/Qwen2.5-7B-Instruct`` rows). ``--engine`` is an engine name (llama.cpp, vllm, sglang, transformers) or
text in the source's engine description (``mlx``); ``--hardware`` a preset (``m4-max``, aliases such as ``4090``)
or text in the source's hardware description. Every number printed is ``published`` and each row names where it
was published (repository + path + commit, or URL + title, and the place inside).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Optional

HELP = "list the published speculative-decoding measurements draftfinder ships (with provenance)"


def configure(parser: argparse.ArgumentParser) -> None:
    from draftfinder.report.output import FORMATS

    g = parser.add_argument_group("filters (all must match)")
    g.add_argument("--target", metavar="ID", help="target model: Hub id, GGUF repo or file name, or part of one")
    g.add_argument("--draft", metavar="ID", help="draft model, the same way")
    g.add_argument("--engine", metavar="E", help="llama.cpp, vllm, sglang, transformers, or text of the engine "
                                                 "description (e.g. mlx)")
    g.add_argument("--hardware", metavar="H", help="hardware preset (m4-max, a100-80gb, rtx3090, …) or text of "
                                                   "the source's hardware description")
    g.add_argument("--source", metavar="S", help="source id (draftbench, spec-bench, …)")
    g.add_argument("--role", choices=["training", "validation"],
                   help="training rows (draftbench: the latency model may be fitted on them) or validation rows "
                        "(every other source: held out)")
    parser.add_argument("--format", default="table", choices=list(FORMATS), help="output format (default table)")


def _name_hit(ref: Any, text: Optional[str], key: Optional[str]) -> bool:
    from draftfinder.predict.published_match import row_model_keys

    if text is None:
        return True
    if ref is None:
        return False
    t = text.strip().lower()
    if any(t in (s or "").lower() for s in (ref.id, ref.label, ref.file)):
        return True
    return key is not None and key in row_model_keys(ref)


def select(args: argparse.Namespace) -> List[Any]:
    """The rows matching every filter, in the dataset's order."""
    from draftfinder.predict.published import load_published
    from draftfinder.predict.published_match import engine_key, hardware_key, model_key

    data = load_published()
    t_key, d_key = model_key(args.target), model_key(args.draft)
    engine = (args.engine or "").strip().lower() or None
    hw = hardware_key(args.hardware)
    source = (args.source or "").strip().lower() or None
    rows = []
    for r in data.rows:
        if not _name_hit(r.target, args.target, t_key) or not _name_hit(r.draft, args.draft, d_key):
            continue
        if engine and engine_key(r.engine) != engine and engine not in (r.engine or "").lower():
            continue
        if hw and r.hardware_preset != hw and hw not in (r.hardware_name or "").lower():
            continue
        if source and r.source_id.lower() != source:
            continue
        if args.role and r.role != args.role:
            continue
        rows.append(r)
    return rows


def _filters(args: argparse.Namespace) -> Dict[str, Any]:
    return {k: getattr(args, k) for k in ("target", "draft", "engine", "hardware", "source", "role")
            if getattr(args, k) is not None}


def build(args: argparse.Namespace) -> Dict[str, Any]:
    """The payload: filters, counts, the matching rows in full (plus ``short`` and ``cite``), the sources."""
    from draftfinder.constants import PUBLISHED
    from draftfinder.predict.published import PUBLISHED_PATH, load_published
    from draftfinder.predict.published_match import full_dict

    data = load_published()
    rows = select(args)
    used = sorted({r.source_id for r in rows})
    return {
        "dataset": str(PUBLISHED_PATH.name),
        "source": PUBLISHED,
        "definitions": data.definitions,
        "filters": _filters(args),
        "total_rows": len(data.rows),
        "matching_rows": len(rows),
        "rows": [full_dict(r) for r in rows],
        "sources": {s: data.sources[s] for s in used if s in data.sources},
    }


def _fmt(x: Optional[float], spec: str = ".3g") -> str:
    return "-" if x is None else format(x, spec)


def _model(m: Optional[Dict[str, Any]]) -> str:
    if not m:
        return "-"
    name = (m.get("id") or m.get("label") or "?").split("/")[-1]
    return f"{name} {m['quant']}" if m.get("quant") else name


def render_table(d: Dict[str, Any]) -> str:
    """One line per row (setup, acceptance, speeds, speedup) and its provenance under it."""
    from draftfinder.predict import published_match as pm
    from draftfinder.predict.published import row_from_dict

    filt = ", ".join(f"--{k} {v}" for k, v in d["filters"].items())
    lines = [f"{d['matching_rows']} of {d['total_rows']} published measurements"
             + (f" match {filt}" if filt else "")
             + f" (draftfinder/data/{d['dataset']}; every number below is published)"]
    if not d["rows"]:
        return "\n".join(lines)
    lines.append("")
    head = (f"{'source':<18} {'engine':<12} {'hardware':<20} {'target':<30} {'draft':<30} {'K':>6} "
            f"{'acceptance':<24} {'tok/s plain→spec':>17} {'speedup':>8}  role")
    lines += [head, "-" * len(head)]
    for raw in d["rows"]:
        row = row_from_dict(raw)
        k = raw.get("k") or (f"max{raw['draft_max']}" if raw.get("draft_max") else "-")
        acc = row.acceptance
        acc_text = "-" if acc is None else \
            f"{ {'alpha': 'α', 'rate': 'accepted/drafted', 'al': 'AL'}.get(acc.kind, acc.kind)} {acc.value:.3g}"
        speeds = (f"{_fmt(row.baseline_tokens_per_s)}→{_fmt(row.speculative_tokens_per_s)}"
                  if row.baseline_tokens_per_s or row.speculative_tokens_per_s else "-")
        speedup = "-" if row.speedup is None else f"{row.speedup:.2f}x"
        lines.append(f"{row.source_id[:18]:<18} {pm.engine_label(row)[:12]:<12} {pm.hardware_label(row)[:20]:<20} "
                     f"{_model(raw.get('target'))[:30]:<30} {_model(raw.get('draft'))[:30]:<30} {str(k):>6} "
                     f"{acc_text[:24]:<24} {speeds:>17} {speedup:>8}  {row.role}")
        lines.append(f"    {row.method}; {raw['cite']}")
    lines.append("")
    lines.append("Acceptance kinds: " + "; ".join(f"{k} = {v}" for k, v in d["definitions"].get("acceptance_kinds", {}).items()))
    lines.append("Speedup = speculative ÷ baseline tokens/s of the same source (computed when we divided the two "
                 "published speeds, published when the source printed the ratio); K: the source's draft length, "
                 "maxN its --draft-max, - not stated.")
    return "\n".join(lines)


def _hint_for_empty(args: argparse.Namespace) -> Optional[str]:
    """What the dataset does hold, for the filters that matched nothing on their own."""
    from draftfinder.predict.published import load_published
    from draftfinder.predict.published_match import engine_key

    data = load_published()
    hints = []
    if args.engine:
        engines = sorted({engine_key(r.engine) or (r.engine or "").split(" (")[0] for r in data.rows if r.engine})
        hints.append("engines: " + ", ".join(engines))
    if args.hardware:
        presets = sorted({r.hardware_preset for r in data.rows if r.hardware_preset})
        hints.append("hardware presets: " + ", ".join(presets))
    if args.source:
        hints.append("sources: " + ", ".join(sorted(data.sources)))
    if args.target or args.draft:
        hints.append("try part of the name (e.g. --target qwen2.5-7b)")
    return "; ".join(hints) or None


def run(args: argparse.Namespace) -> int:
    from draftfinder.report.output import emit

    payload = build(args)
    emit(payload, args.format, table=render_table)
    if not payload["rows"]:
        hint = _hint_for_empty(args)
        sys.stderr.write("draftfinder: no published measurement matches these filters"
                         + (f" — the dataset has {hint}" if hint else "") + "\n")
    return 0
