"""chat/render.py: the token view (ANSI colours and the plain markings used when colour is off), the legend,
the results of a prompt (table, measured speedups, the greedy ✓/✗ identity line, cancellation) and the
banner. Built from real result dataclasses with hand-written counts, so every expected string is exact."""

from __future__ import annotations

from draftfinder.chat.render import (
    PLAIN,
    RESET,
    STYLES,
    legend,
    mark,
    render_banner,
    render_output,
    render_turn,
    token_view,
)
from draftfinder.chat.results import Output, StrategyRun, Turn
from draftfinder.engine.base import GenerationResult, SamplingConfig, SpecStats

WORDS = {1: "The", 2: " cat", 3: " sat", 4: " on", 5: " the", 6: " mat", 7: "\n", 8: " dog"}
TRACE = [
    {"accepted": [1, 2], "rejected": [8], "next": 3, "kind": "correction", "k": 3},
    {"accepted": [4, 5], "rejected": [], "next": 6, "kind": "bonus", "k": 2},
    {"accepted": [], "rejected": [], "next": 7, "kind": "bonus", "k": 2},
]


def text(i: int) -> str:
    return WORDS[i]


def run(strategy, label, ids, *, tokens_per_s_time=1.0, k=None, adaptive=False, drafted=0, accepted=0,
        cancelled=False, trace=None):
    stats = SpecStats(steps=len(ids), drafted=drafted, accepted=accepted, new_tokens=len(ids),
                      total_s=tokens_per_s_time, accepted_hist={0: 1, 2: 2}, k_history=[3, 2, 2])
    result = GenerationResult(strategy=strategy, token_ids=list(ids), text="".join(WORDS[i] for i in ids),
                              stats=stats, trace=list(trace or []))
    return StrategyRun(strategy, label, result, k=k, adaptive=adaptive, cancelled=cancelled)


def turn(*runs, sampling=None, debug=False, cancelled=False):
    return Turn(prompt="p", prompt_token_ids=[1, 2, 3], chat=False, earlier_turns=0,
                sampling=sampling or SamplingConfig(), max_new_tokens=6, debug=debug, runs=list(runs),
                cancelled=cancelled)


SPEC = dict(k=3, drafted=5, accepted=4, trace=TRACE)
IDS = [1, 2, 3, 4, 5, 6]


def test_token_view_plain_markings():
    assert token_view(TRACE, text, color=False) == "[The cat]{ dog}<! sat>[ on the]< mat><\\n>"


def test_token_view_colour():
    g, r, y, c = STYLES["accepted"], STYLES["rejected"], STYLES["correction"], STYLES["bonus"]
    assert token_view(TRACE[:1], text, color=True) == f"{g}The cat{RESET}{r} dog{RESET}{y} sat{RESET}"
    assert token_view(TRACE[1:2], text, color=True) == f"{g} on the{RESET}{c} mat{RESET}"


def test_token_view_skips_a_next_token_cut_by_eos():
    step = {"accepted": [1], "rejected": [2], "next": None, "kind": "correction"}
    assert token_view([step], text, color=False) == "[The]{ cat}"


def test_legend_both_ways():
    plain = legend(False)
    assert "[accepted draft]  {rejected draft}  <!target's correction>  <target's bonus>" in plain
    assert "\x1b[" not in plain
    coloured = legend(True)
    assert all(STYLES[k] in coloured for k in PLAIN) and "[accepted" not in coloured
    assert mark("rejected", "x", False) == "{x}" and mark("bonus", "x", True) == f"{STYLES['bonus']}x{RESET}"


def test_turn_greedy_identical_table_and_speedup():
    t = turn(run("speculative", "speculative (ngram:basic:3)", IDS, tokens_per_s_time=0.5, **SPEC),
             run("target", "target only", IDS, tokens_per_s_time=1.0))
    out = render_turn(t, color=False, token_text=text)
    lines = out.splitlines()
    assert lines[0] == "prompt: 3 tokens (plain text) · greedy, seed 0 · at most 6 new tokens"
    assert lines[1].startswith("── speculative (ngram:basic:3) · K=3 ──")
    assert lines[2] == "The cat sat on the mat"
    assert lines[3].startswith("── target only ──")
    assert "strategy                     K  new tokens  time (s)  tokens/s  acceptance α" in lines
    assert "speculative (ngram:basic:3)  3           6      0.50      12.0  0.800 (4/5)" in lines
    assert "target only                  –           6      1.00       6.0  –" in lines
    assert "speedup (measured, tokens/s ratio): speculative (ngram:basic:3) ÷ target only = 2.00x" in lines
    assert "identical: speculative (ngram:basic:3) = target only (greedy)" in lines       # no colour: words
    assert "✓ identical: speculative (ngram:basic:3) = target only (greedy)" in render_turn(
        t, color=True, token_text=text).splitlines()
    assert any(line.startswith("measured: wall clock") for line in lines)
    assert "token view" not in out                      # only with /debug


def test_turn_debug_shows_token_view_and_stats():
    t = turn(run("speculative", "speculative (layerskip:20)", IDS, **SPEC), debug=True)
    out = render_turn(t, color=False, token_text=text)
    assert "token view: [The cat]{ dog}<! sat>[ on the]< mat><\\n>" in out
    assert "accepted drafts per step (count:steps) 0:1 2:2 · K per step 3 2 2" in out
    assert "speedup" not in out and "identical" not in out       # nothing to compare with


def test_turn_greedy_difference_is_flagged():
    t = turn(run("ngram", "n-gram (ngram:basic:3)", [1, 2, 8], **SPEC), run("target", "target only", [1, 2, 3]))
    assert ("DIFFERS: n-gram (ngram:basic:3) ≠ target only — unexpected under greedy, please report it"
            in render_turn(t, color=False, token_text=text))
    assert "✗ differs: n-gram (ngram:basic:3)" in render_turn(t, color=True, token_text=text)


def test_turn_sampling_says_distribution_only():
    t = turn(run("speculative", "speculative (x)", [1, 2], **SPEC), run("target", "target only", [1, 3]),
             sampling=SamplingConfig("nucleus", temperature=0.8, top_p=0.9, seed=7))
    out = render_turn(t, color=False, token_text=text)
    assert "nucleus P=0.9 T=0.8, seed 7" in out.splitlines()[0]
    assert "different tokens: speculative (x) vs target only (sampling: equal only in distribution" in out
    assert "✓" not in out and "✗" not in out


def test_turn_without_target_compares_with_the_first_and_draft_only_has_no_identity():
    t = turn(run("speculative", "speculative (layerskip:20)", IDS, tokens_per_s_time=1.0, **SPEC),
             run("draft", "draft only (layerskip:20)", [1, 8], tokens_per_s_time=0.5))
    out = render_turn(t, color=False, token_text=text)
    assert "speedup (measured, tokens/s ratio): draft only (layerskip:20) ÷ speculative (layerskip:20) = 0.67x" in out
    assert "identical" not in out and "differs" not in out


def test_turn_adaptive_k_and_cancelled():
    t = turn(run("speculative", "speculative (s)", [1, 2], adaptive=True, cancelled=True, **SPEC), cancelled=True)
    out = render_turn(t, color=False, token_text=text)
    assert "── speculative (s) · K=3 adaptive · cancelled" in out and "The cat …" in out
    assert "speculative (s) (cancelled)  3 adaptive" in out
    assert ("generation cancelled (Ctrl-C) during speculative (s); finished: nothing; the strategies after it did "
            "not run") in out
    assert "speedup" not in out


def test_render_output_message_legend_and_empty():
    assert render_output(Output(), color=False, token_text=text) == ""
    out = render_output(Output(message="token view: on", legend=True), color=False, token_text=text)
    assert out.startswith("token view: on\ntoken view (/debug): [accepted draft]")
    assert render_output(Output(message="bad — fix", error=True), color=True, token_text=text) == "bad — fix"


def test_banner():
    info = {"target": "zoo:smollm2-135m", "target_class": "LlamaForCausalLM", "target_layers": 30,
            "target_vocab": 49152, "tokenizer_size": 49152, "drafter": "layerskip:20", "drafter_kind": "layerskip",
            "drafter_vocab": "49152", "compatible": True, "verdict": "same tokenizer: …", "chat": True,
            "has_template": True, "strategies": ["speculative (layerskip:20)", "target only"]}
    plain = render_banner(info, color=False).splitlines()
    assert plain[0] == "target    zoo:smollm2-135m — LlamaForCausalLM, 30 layers, vocab 49152 (tokenizer 49152)"
    assert plain[1] == "drafter   layerskip:20 (layerskip) — vocab 49152"
    assert plain[2] == "compatibility yes, same tokenizer: …"          # NO_COLOR / not a terminal: no ✓
    assert plain[4] == "each prompt runs: speculative (layerskip:20), target only"
    coloured = render_banner(dict(info, compatible=False, verdict="incompatible: x"), color=True)
    assert f"{STYLES['rejected']}✗{RESET} incompatible: x" in coloured
