"""chat/session.py: slash commands change the settings (and only bad input is refused, in one line), prompts run
every enabled strategy with the same ids and seed, greedy speculative = target token for token, chat history,
cancellation through should_stop. Real engine on a tiny random-weight Llama with TinyLlama-Chat's real
tokenizer (../shared/fixtures), so prompts go through a real chat template."""

from __future__ import annotations

import dataclasses

import pytest

from draftfinder.chat.results import ChatSettings
from draftfinder.chat.commands import CACHE_NOTE, COMMANDS, completions, describe_sampling, help_text, parse_processor
from draftfinder.chat.session import ChatSession
from draftfinder.engine.base import SamplingConfig
from draftfinder.errors import UsageError

from tests.conftest import fixture_dir
from tests.enginekit import tiny_llama

TOKENIZER = "TinyLlama/TinyLlama-1.1B-Chat-v1.0"      # sentencepiece, 32000 ids, has a chat template


@pytest.fixture(scope="module")
def target():
    transformers = pytest.importorskip("transformers")
    try:
        tok = transformers.AutoTokenizer.from_pretrained(str(fixture_dir(TOKENIZER)))
    except (FileNotFoundError, OSError) as err:
        pytest.skip(f"fixture tokenizer {TOKENIZER} unavailable: {err}")
    model = tiny_llama(seed=3, vocab=32000, layers=4)
    return dataclasses.replace(model, name="tiny-llama-chat", tokenizer=tok)


def session(target, draft="ngram", **settings):
    from draftfinder.engine.drafters import make_drafter

    settings.setdefault("length", 8)
    return ChatSession(target, make_drafter(draft, target), settings=ChatSettings(**settings))


# --- commands -----------------------------------------------------------------------------------------

def test_commands_change_settings(target):
    s = session(target)
    assert s.handle("/gamma 6").message == "K (draft tokens per step) = 6" and s.settings.gamma == 6
    s.handle("/length 5")
    assert s.settings.length == 5
    out = s.handle("/processor topknucleus 40 0.8 0.7")
    assert not out.error
    assert s.settings.sampling == SamplingConfig("topknucleus", temperature=0.7, top_k=40, top_p=0.8, seed=0)
    s.handle("/processor nucleus 0.5")                              # omitted temperature is kept
    cfg = s.settings.sampling
    assert (cfg.processor, cfg.top_p, cfg.temperature) == ("nucleus", 0.5, 0.7)
    s.handle("/seed 9")
    s.handle("/processor greedy")
    assert s.settings.sampling.greedy and s.settings.sampling.seed == 9
    assert s.settings.target is True
    s.handle("/target")
    assert s.settings.target is False and s.plan() == ["speculative"]
    s.handle("/target on")
    s.handle("/ngram on")
    assert s.plan() == ["speculative", "ngram", "target"]
    s.handle("/adaptive")
    assert s.settings.adaptive
    s.handle("/debug on")
    assert s.settings.debug


def test_ngram_settings_reach_both_ngram_drafters(target):
    s = session(target, draft="ngram:onelevel:2")
    assert (s.settings.ngram_storage, s.settings.ngram_n) == ("onelevel", 2)   # read from the --draft spec
    assert s.settings.ngram is False                     # the n-gram run would repeat the speculative one
    out = s.handle("/set_ngramstorage basic 4")
    assert "basic, n=4" in out.message and "speculative drafter" in out.message
    assert s.drafter.name == "ngram:basic:4" and s.nasd().name == "ngram:basic:4" and s.drafter is not s.nasd()
    s.handle("/top_k_filler 3")
    s.handle("/reset_in_between off")
    for d in (s.drafter, s.nasd()):
        assert d.top_k_filler == 3 and d.reset_between is False


def test_layerskip_session_has_draft_only_and_ngram(target):
    s = session(target, draft="layerskip:2")
    assert s.kind == "layerskip" and s.settings.ngram is True
    s.handle("/set_ngramstorage onelevel 3")
    assert s.drafter.name == "layerskip:2" and s.nasd().name == "ngram:onelevel:3"
    s.handle("/drafter")
    assert s.plan() == ["speculative", "ngram", "target", "draft"]


@pytest.mark.parametrize("line", [
    "/gamma", "/gamma x", "/gamma 0", "/gamma 65", "/length -1", "/length 3 4",
    "/processor", "/processor beam", "/processor greedy 3", "/processor topk x", "/processor topk 0",
    "/processor nucleus 1.5", "/processor multinomial 0", "/processor topknucleus 1 2 3 4",
    "/set_ngramstorage", "/set_ngramstorage trie 3", "/set_ngramstorage basic 1", "/top_k_filler 0",
    "/target maybe", "/cache sideways", "/nosuch", "/", "/seed -1",
])
def test_bad_input_gets_one_line_and_changes_nothing(target, line):
    s = session(target)
    before = dataclasses.replace(s.settings)
    out = s.handle(line)
    assert out.error and out.message and "\n" not in out.message
    assert out.turn is None and not out.quit
    assert s.settings == before


def test_unknown_command_suggests_the_close_one(target):
    out = session(target).handle("/gamm 3")
    assert out.message == "unknown command '/gamm' — did you mean /gamma? /help lists the commands"


def test_drafter_only_refused_for_ngram(target):
    s = session(target)
    out = s.handle("/drafter")
    assert out.error and "n-gram" in out.message and s.settings.drafter is False


def test_cache_says_it_cannot_be_turned_off(target):
    s = session(target)
    for line in ("/cache", "/cache off"):
        out = s.handle(line)
        assert out.message == CACHE_NOTE and not out.error
    assert s.settings.cache is True


def test_help_settings_quit(target):
    s = session(target)
    out = s.handle("/help")
    assert out.legend and all(f"/{name}" in out.message for name in COMMANDS)
    assert s.handle("/debug").legend                     # the legend comes with /debug on
    text = s.handle("/settings").message
    for key in ("gamma (K)", "length", "processor", "speculative", "ngram", "target", "drafter", "cache", "chat",
                "debug", "ngram storage", "top_k_filler", "reset_in_between", "adaptive K"):
        assert key in text
    assert s.handle("/quit").quit and s.handle("/exit").quit
    assert s.handle("   ").message == "" and s.handle("").turn is None


def test_every_strategy_off_is_a_hint(target):
    s = session(target)
    s.handle("/speculative off")
    assert "every strategy is off" in s.handle("/target off").message
    out = s.handle("hello")
    assert out.error and "turn one on" in out.message


# --- generation ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("draft", ["ngram", "layerskip:2"])
def test_greedy_speculative_equals_target(target, draft):
    s = session(target, draft=draft, length=12, gamma=3)
    s.handle("/ngram on")
    if draft != "ngram":
        s.handle("/drafter on")
    turn = s.handle("Tell me about owls and owls and owls").turn
    names = [r.strategy for r in turn.runs]
    assert names == (["speculative", "ngram", "target"] + (["draft"] if draft != "ngram" else []))
    base = turn.run("target").result.token_ids
    assert 0 < len(base) <= 12
    for name in ("speculative", "ngram"):
        run = turn.run(name)
        assert run.result.token_ids == base and turn.identical(run) is True and run.k == 3
        assert run.result.trace and run.result.stats.k_history[0] == 3
    assert turn.identical(turn.run("target")) is None
    if draft != "ngram":
        assert turn.identical(turn.run("draft")) is None and turn.run("draft").result.stats.drafted == 0
    assert {b for _, b, _ in turn.speedups()} == {"target only"} and len(turn.speedups()) == len(turn.runs) - 1
    d = turn.to_dict()
    assert d["identical"]["speculative"] is True and all(x["source"] == "measured" for x in d["speedups"])


def test_same_seed_reproduces_sampling(target):
    s = session(target, chat=False, length=10)
    s.handle("/processor multinomial 1.0")
    a = s.handle("Once upon a time").turn
    b = s.handle("Once upon a time").turn
    for name in ("speculative", "target"):
        assert a.run(name).result.token_ids == b.run(name).result.token_ids
    s.handle("/seed 1")
    c = s.handle("Once upon a time").turn
    assert c.sampling.seed == 1 and not c.greedy


def test_gamma_and_adaptive_reach_the_engine(target):
    s = session(target, length=10)
    s.handle("/target off")
    s.handle("/gamma 5")
    run = s.handle("hi there").turn.run("speculative")
    assert run.k == 5 and set(run.result.stats.k_history) <= {5, 4, 3, 2, 1, 0}
    s.handle("/adaptive on")
    run = s.handle("hi there").turn.run("speculative")
    assert run.adaptive and run.result.stats.k_history[0] == 5


def test_chat_history_kept_cleared_and_dropped(target):
    s = session(target, chat=True, length=4)
    s.handle("/speculative off")
    first = s.handle("What is an owl?").turn
    assert first.chat and first.earlier_turns == 0
    second = s.handle("What is an owl?").turn
    assert second.earlier_turns == 1 and len(second.prompt_token_ids) > len(first.prompt_token_ids)
    assert [m["role"] for m in s.history] == ["user", "assistant"] * 2
    assert s.history[1]["content"] == first.run("target").result.text
    assert "2 turn(s) forgotten" in s.handle("/clear").message
    assert s.handle("What is an owl?").turn.prompt_token_ids == first.prompt_token_ids
    s.handle("/chat off")
    assert s.history == [] and s.settings.chat is False
    plain = s.handle("What is an owl?").turn
    assert not plain.chat and len(plain.prompt_token_ids) < len(first.prompt_token_ids)


def test_should_stop_cancels_and_skips_the_rest(target):
    s = session(target, chat=True, length=50)
    calls = {"n": 0}

    def stop_after_three_polls():
        calls["n"] += 1
        return calls["n"] > 3

    labels = []
    turn = s.handle("hello", should_stop=stop_after_three_polls, progress=labels.append).turn
    assert turn.cancelled and [r.strategy for r in turn.runs] == ["speculative"]
    assert turn.runs[0].cancelled and len(turn.runs[0].result.token_ids) < 50
    assert labels == ["speculative (ngram:basic:3)"]
    assert s.history == []                               # a cancelled turn is not part of the conversation
    assert turn.speedups() == [] and turn.identical(turn.runs[0]) is None


def test_warm_up_leaves_a_kept_ngram_storage_empty(target):
    s = session(target)
    s.handle("/reset_in_between off")
    s.warm_up()
    assert len(s.drafter.storage) == 0


def test_describe_for_the_banner(target):
    info = session(target, draft="layerskip:2").describe()
    assert info["target"] == "tiny-llama-chat" and info["target_vocab"] == 32000 and info["tokenizer_size"] == 32000
    assert info["drafter"] == "layerskip:2" and info["compatible"] and "same tokenizer" in info["verdict"]
    assert info["strategies"] == ["speculative (layerskip:2)", "n-gram (ngram:basic:3)", "target only"]


# --- pure helpers -------------------------------------------------------------------------------------

def test_parse_processor_orders_k_p_t():
    cfg = parse_processor(["topknucleus", "50", "0.9", "0.8"], SamplingConfig(seed=4))
    assert (cfg.top_k, cfg.top_p, cfg.temperature, cfg.seed) == (50, 0.9, 0.8, 4)
    assert parse_processor(["topk", "7", "2"], SamplingConfig()).temperature == 2.0
    with pytest.raises(UsageError, match="did you mean topk"):
        parse_processor(["topc"], SamplingConfig())
    assert describe_sampling(cfg) == "topknucleus K=50 P=0.9 T=0.8, seed 4"
    assert describe_sampling(SamplingConfig()) == "greedy, seed 0"


def test_completions():
    assert completions("/ga") == ["/gamma"]
    assert "/set_ngramstorage" in completions("/") and len(completions("/")) == len(COMMANDS)
    assert completions("/processor top") == ["topk", "topknucleus"]
    assert completions("/set_ngramstorage ") == ["basic", "onelevel"]
    assert completions("/debug o") == ["on", "off"]
    assert completions("/gamma ") == [] and completions("hello") == [] and completions("/processor greedy x") == []


def test_help_text_lists_every_command_once():
    text = help_text()
    for name, (args, _) in COMMANDS.items():
        assert text.count(f"/{name} ") + text.count(f"/{name}\n") >= 1
    assert "Ctrl-C" in text and "Ctrl-D" in text


def test_model_drafter_verdict_and_draft_only(target):
    """A draft model with its own (equal) tokenizer: the banner runs compat's named checks; draft-only runs it."""
    from transformers import AutoTokenizer

    from draftfinder.engine.drafters import ModelDrafter
    from tests.enginekit import noisy_copy

    own = AutoTokenizer.from_pretrained(str(fixture_dir(TOKENIZER)))            # a second, separate object
    draft = dataclasses.replace(noisy_copy(target, 0.003), name="tiny-draft", tokenizer=own)
    s = ChatSession(target, ModelDrafter(draft, target=target), settings=ChatSettings(length=6, chat=True))
    info = s.describe()
    assert info["drafter_kind"] == "model" and info["drafter_vocab"] == "32000"
    assert info["compatible"] and info["verdict"].startswith("compatible: ") and "test strings" in info["verdict"]
    s.handle("/drafter on")
    turn = s.handle("hello").turn
    assert [r.label for r in turn.runs] == ["speculative (tiny-draft)", "n-gram (ngram:basic:3)", "target only",
                                            "draft only (tiny-draft)"]
    assert turn.identical(turn.run("speculative")) is True


def test_incompatible_pair_verdict_names_the_reason(target):
    from transformers import AutoTokenizer

    from draftfinder.chat.session import compatibility_verdict
    from draftfinder.engine.drafters import ModelDrafter

    gpt2 = AutoTokenizer.from_pretrained(str(fixture_dir("gpt2")))
    other = dataclasses.replace(tiny_llama(seed=5, vocab=50257), name="gpt2-ish", tokenizer=gpt2)
    ok, line = compatibility_verdict(target, ModelDrafter(other, vocab_size=32000))
    assert not ok and line.startswith("incompatible: ")
