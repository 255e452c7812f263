#!/usr/bin/env python3
"""Issue 11's offline goal list: does each goal target get a compatible draft and an expert first pick?

For each target of :data:`GOALS` (issue 11, "Goals"), ``find`` runs offline on the shipped catalog, on the
``mi300x`` preset (192 GB: every pair fits, so the ranking is the variant tier and the speedup). A target meets
the goal when row 1 is compatible — verified from tokenizer facts or "compatible (by file hash)" from public
file hashes —, of the target's own variant (instruct/chat for instruct/chat targets), an expert pick, same family.
Otherwise the row says why: not in the catalog, no draft verified (the unverified drafts are counted; their
reason is the catalog's missing tokenizer evidence), or a first pick that is not the expert's.

Headline: how many of the 13 meet the goal. Not a timing benchmark: the figures are facts of the shipped catalog.

Usage: python bench/find_goals.py [--out FILE]
"""

from __future__ import annotations

import sys
from typing import Any, Dict

from _common import BenchRun, bench_parser

GOALS = [
    ("meta-llama/Llama-3.1-8B-Instruct", "instruct"), ("meta-llama/Llama-3.3-70B-Instruct", "instruct"),
    ("meta-llama/Llama-2-70b-chat-hf", "instruct"), ("Qwen/Qwen2.5-72B-Instruct", "instruct"),
    ("Qwen/Qwen2.5-Coder-32B-Instruct", "instruct"), ("Qwen/Qwen3-32B", "instruct"),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "instruct"), ("google/gemma-2-27b-it", "instruct"),
    ("google/gemma-3-27b-it", "instruct"), ("mistralai/Mixtral-8x7B-Instruct-v0.1", "instruct"),
    ("microsoft/Phi-3-medium-4k-instruct", "instruct"), ("facebook/opt-6.7b", "base"),
    ("openai-community/gpt2-large", "base"),
]


def judge(target: str, variant: str) -> Dict[str, Any]:
    """One goal target's row (see the module doc)."""
    from draftfinder import DraftModelFinder
    from draftfinder.errors import DraftFinderError, NoCompatibleDraftsError
    from draftfinder.find.config import FinderConfig

    finder = DraftModelFinder(target, config=FinderConfig(offline=True, hardware="mi300x"))
    row: Dict[str, Any] = {"target": target, "variant": variant}
    try:
        result = finder.find()
    except NoCompatibleDraftsError:
        result = finder.result
    except DraftFinderError as err:
        return {**row, "met": False, "why": f"{type(err).__name__}: {err.message}"}
    row["verified_drafts"] = len(result.candidates)
    row["unverified_drafts"] = len(result.unverified)
    row["unverified_examples"] = [
        {"draft": u.model_id, "reason": "; ".join(u.compatibility.incompatibility_reasons)[:200]}
        for u in result.unverified[:3]]
    if not result.candidates:
        return {**row, "met": False, "why": "no draft verified (tokenizer identity not public in the catalog's sources)"}
    first = result.candidates[0]
    v = first.variant
    row.update({"first_pick": first.model_id, "verification": first.compatibility.verification,
                "first_pick_variant": v.draft_variant, "expert_pick": v.expert_pick, "summary": v.summary})
    ok = (first.compatibility.is_compatible and v.draft_variant == variant and v.expert_pick
          and v.same_eos is not False and first.same_family)
    return {**row, "met": bool(ok), "why": "" if ok else f"first pick is not the expert's: {v.summary}"}


def main() -> int:
    args = bench_parser(__doc__, engine=False).parse_args()
    run = BenchRun(args)
    rows = [judge(t, v) for t, v in GOALS]
    print(f"{'target':45} {'met':>4} {'verified':>8} {'unverif.':>8}  first pick / why")
    for r in rows:
        print(f"{r['target']:45} {'yes' if r['met'] else 'no':>4} {r.get('verified_drafts', '-')!s:>8} "
              f"{r.get('unverified_drafts', '-')!s:>8}  {r.get('first_pick', '') + ' ' if r['met'] else ''}"
              f"{r.get('verification', '') if r['met'] else r['why']}")
    met = sum(r["met"] for r in rows)
    run.finish({"goals": rows, "headline": {"met": met, "of": len(rows)}})
    print(f"HEADLINE: {met} of {len(rows)} goal targets get a compatible draft with an expert first pick offline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
