"""Text of a chat session's outputs: the startup banner, the results of a prompt, the ``/debug`` token view.

The token view marks what each speculative step did with the drafts (``GenerationResult.trace``):

==============  ===========  =============  =============================================================
token           colour       without colour meaning
==============  ===========  =============  =============================================================
accepted        green        ``[text]``     draft tokens the target kept
rejected        red, struck  ``{text}``     draft tokens the target refused (not part of the output)
correction      yellow       ``<!text>``    the target's token in place of the first rejected draft
bonus           cyan         ``<text>``     the target's extra token after every draft was accepted (or
                                            when nothing was drafted)
==============  ===========  =============  =============================================================

Colour is used when stdout is a terminal and ``NO_COLOR`` is not set (``constants.color_enabled``); the
caller decides and passes ``color``. Without colour the ✓/✗ marks are words too ("identical"/"DIFFERS",
"yes,"/"NO,"). Every number printed is measured in this process, and says so.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from draftfinder.chat.results import Output, StrategyRun, Turn
from draftfinder.chat.commands import describe_sampling

RESET = "\x1b[0m"
STYLES = {"accepted": "\x1b[32m", "rejected": "\x1b[31;9m", "correction": "\x1b[33m", "bonus": "\x1b[36m"}
PLAIN = {"accepted": ("[", "]"), "rejected": ("{", "}"), "correction": ("<!", ">"), "bonus": ("<", ">")}
MEANING = {"accepted": "accepted draft", "rejected": "rejected draft", "correction": "target's correction",
           "bonus": "target's bonus"}
RULE_WIDTH = 60

TokenText = Callable[[int], str]


def mark(kind: str, text: str, color: bool) -> str:
    """``text`` marked as ``kind`` (accepted | rejected | correction | bonus): ANSI colour or brackets."""
    if color:
        return f"{STYLES[kind]}{text}{RESET}"
    left, right = PLAIN[kind]
    return f"{left}{text}{right}"


def legend(color: bool) -> str:
    """The token view's legend, in the marking the session uses now."""
    marks = "  ".join(mark(kind, MEANING[kind], color) for kind in PLAIN)
    return (f"token view (/debug): {marks}\n"
            "  correction: the target's token in place of the first rejected draft; bonus: the target's extra "
            "token after every draft of a step was accepted (or when nothing was drafted)")


def _visible(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def token_view(trace: List[Dict[str, Any]], token_text: TokenText, color: bool) -> str:
    """One marked string for a speculative run's steps, in order (see the module docstring)."""
    def group(ids: List[int]) -> str:
        return _visible("".join(token_text(t) for t in ids))

    parts: List[str] = []
    for step in trace:
        if step.get("accepted"):
            parts.append(mark("accepted", group(step["accepted"]), color))
        if step.get("rejected"):
            parts.append(mark("rejected", group(step["rejected"]), color))
        if step.get("next") is not None:
            parts.append(mark(step.get("kind", "correction"), group([step["next"]]), color))
    return "".join(parts)


def _num(value: Optional[float], fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _k(run: StrategyRun) -> str:
    if run.k is None:
        return "–"
    return f"{run.k} adaptive" if run.adaptive else str(run.k)


def _rule(title: str) -> str:
    head = f"── {title} "
    return head + "─" * max(4, RULE_WIDTH - len(head))


def _stats_lines(run: StrategyRun) -> List[str]:
    st = run.result.stats
    hist = " ".join(f"{n}:{c}" for n, c in sorted(st.accepted_hist.items()))
    ks = st.k_history
    shown = " ".join(map(str, ks[:24])) + (" …" if len(ks) > 24 else "")
    return [f"  steps {st.steps} · accepted drafts per step (count:steps) {hist or '–'} · "
            f"K per step {shown or '–'}",
            f"  time: prefill {st.prefill_s:.3f} s · draft {st.draft_s:.3f} s · verify {st.verify_s:.3f} s · "
            f"first token {st.ttft_s:.3f} s (measured)"]


def render_turn(turn: Turn, *, color: bool, token_text: TokenText) -> str:
    """A prompt's results: each strategy's text, one table of measured numbers, speedups, identity."""
    how = (f"chat template, {turn.earlier_turns} earlier turn(s)" if turn.chat else "plain text")
    lines = [f"prompt: {len(turn.prompt_token_ids)} tokens ({how}) · {describe_sampling(turn.sampling)} · "
             f"at most {turn.max_new_tokens} new tokens"]
    for run in turn.runs:
        title = (run.label + (f" · K={_k(run)}" if run.k is not None else "")
                 + (" · cancelled" if run.cancelled else ""))
        lines.append(_rule(title))
        lines.append(run.result.text + (" …" if run.cancelled else ""))
        if turn.debug and run.strategy in ("speculative", "ngram"):
            lines.append("token view: " + token_view(run.result.trace, token_text, color))
            lines += _stats_lines(run)
    if turn.runs:
        lines.append("")
        lines += _table(turn.runs)
        lines.append("measured: wall clock on this machine, one run each, same prompt ids and seed, after an untimed "
                     "warm-up")
        for run_label, base_label, ratio in turn.speedups():
            lines.append(f"speedup (measured, tokens/s ratio): {run_label} ÷ {base_label} = {_num(ratio, '.2f')}x")
        lines += _identity_lines(turn, color)
    if turn.cancelled:
        done = ", ".join(r.label for r in turn.runs if not r.cancelled) or "nothing"
        stopped = next((r.label for r in turn.runs if r.cancelled), None)
        where = f" during {stopped}" if stopped else " between strategies"
        lines.append(f"generation cancelled (Ctrl-C){where}; finished: {done}; the strategies after it did not run")
    return "\n".join(lines)


def _table(runs: List[StrategyRun]) -> List[str]:
    header = ("strategy", "K", "new tokens", "time (s)", "tokens/s", "acceptance α")
    rows = [header]
    for r in runs:
        st = r.result.stats
        alpha = (f"{_num(st.alpha, '.3f')} ({st.accepted}/{st.drafted})" if r.k is not None else "–")
        rows.append((r.label + (" (cancelled)" if r.cancelled else ""), _k(r), str(st.new_tokens),
                     _num(st.total_s, ".2f"), _num(st.tokens_per_s, ".1f"), alpha))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    out = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in range(1, len(row) - 1)]
        cells.append(row[-1].ljust(widths[-1]))
        out.append("  ".join(cells).rstrip())
    return out


def _identity_lines(turn: Turn, color: bool = True) -> List[str]:
    """Greedy: ✓/✗ on a colour terminal, the words "identical"/"DIFFERS" otherwise (NO_COLOR, a pipe)."""
    lines = []
    for run in turn.runs:
        same = turn.identical(run)
        if same is None:
            continue
        if turn.greedy:
            ok, bad = ("✓ identical", "✗ differs") if color else ("identical", "DIFFERS")
            lines.append(f"{ok}: {run.label} = target only (greedy)" if same else
                         f"{bad}: {run.label} ≠ target only — unexpected under greedy, please report it")
        else:
            lines.append(f"{'same' if same else 'different'} tokens: {run.label} vs target only (sampling: equal "
                         "only in distribution, not token for token)")
    return lines


def render_output(out: Output, *, color: bool, token_text: TokenText) -> str:
    """The text of one :class:`~draftfinder.chat.session.Output` ("" when there is nothing to show)."""
    parts = []
    if out.turn is not None:
        parts.append(render_turn(out.turn, color=color, token_text=token_text))
    if out.message:
        parts.append(out.message)
    if out.legend:
        parts.append(legend(color))
    return "\n".join(parts)


def render_banner(info: Dict[str, Any], *, color: bool) -> str:
    """What was loaded (``ChatSession.describe()``), the compatibility verdict, and how to go on."""
    layers = f", {info['target_layers']} layers" if info.get("target_layers") else ""
    tok = f" (tokenizer {info['tokenizer_size']})" if info.get("tokenizer_size") else ""
    ok = info["compatible"]
    sign = ("✓" if ok else "✗") if color else ("yes," if ok else "NO,")
    if color:
        sign = f"{STYLES['accepted' if ok else 'rejected']}{sign}{RESET}"
    chat = ("on (instruct model; /chat toggles)" if info["chat"] else
            "off (/chat turns it on)" if info["has_template"] else "off (the tokenizer has no chat template)")
    return "\n".join([
        f"target    {info['target']} — {info['target_class']}{layers}, vocab {info['target_vocab']}{tok}",
        f"drafter   {info['drafter']} ({info['drafter_kind']}) — vocab {info['drafter_vocab']}",
        f"compatibility {sign} {info['verdict']}",
        f"chat template {chat}",
        f"each prompt runs: {', '.join(info['strategies']) or 'nothing (every strategy is off)'}",
        "/help lists the commands · /settings shows them all · Ctrl-C cancels a generation · Ctrl-D or /quit leaves",
    ])


__all__ = ["render_output", "render_turn", "render_banner", "token_view", "legend", "mark", "STYLES", "PLAIN"]
