"""engine/ngram.py: the two n-gram storages counted by hand, drafting walks, top_k_filler, reset_between,
and (with SmolLM2 and the engine) n-gram speculative decoding on a copy-heavy prompt."""

from __future__ import annotations


import pytest

from draftfinder.engine.base import Draft, SamplingConfig
from draftfinder.engine.ngram import (
    BasicNGramStorage,
    NGramDrafter,
    OneLevelNGramStorage,
    make_storage,
)
from draftfinder.errors import UsageError

SEQ = [1, 2, 3, 1, 2, 4, 1, 2, 3]


def tables(storage):
    """Every table as {order: {context: {token: count}}} — the storage's whole state."""
    return {m: {ctx: dict(entry[1]) for ctx, entry in t.items()} for m, t in storage.tables.items()}


# --- storages -----------------------------------------------------------------------------------------

def test_onelevel_n3_counts_by_hand():
    s = OneLevelNGramStorage(3)
    s.add_sequence(SEQ)
    assert tables(s) == {3: {(1, 2): {3: 2, 4: 1}, (2, 3): {1: 1}, (3, 1): {2: 1}, (2, 4): {1: 1}, (4, 1): {2: 1}}}
    assert len(s) == 5
    assert s.lookup([9, 1, 2]) == 3            # most frequent continuation of (1, 2)
    assert s.lookup([2, 4]) == 1
    assert s.lookup([7, 2]) is None            # unseen context: no back-off
    assert s.lookup([2]) is None               # shorter than n−1


def test_basic_n3_counts_by_hand_and_backs_off():
    s = BasicNGramStorage(3)
    s.add_sequence(SEQ)
    assert tables(s)[3] == tables_onelevel(3, SEQ)[3]
    assert tables(s)[2] == {(1,): {2: 3}, (2,): {3: 2, 4: 1}, (3,): {1: 1}, (4,): {1: 1}}
    assert len(s) == 9
    assert s.orders == [3, 2]
    assert s.lookup([7, 2]) == 3               # (7, 2) unseen → back off to (2,)
    assert s.lookup([4]) == 1
    assert s.lookup([1, 2]) == 3
    assert s.lookup([7, 7]) is None
    assert s.lookup([]) is None


def tables_onelevel(n, seq):
    s = OneLevelNGramStorage(n)
    s.add_sequence(seq)
    return tables(s)


def test_order_2_and_4():
    s2 = OneLevelNGramStorage(2)
    s2.add_sequence([5, 6, 5, 7, 5, 6])
    assert tables(s2) == {2: {(5,): {6: 2, 7: 1}, (6,): {5: 1}, (7,): {5: 1}}}
    assert s2.lookup([5]) == 6

    b2 = BasicNGramStorage(2)                  # the seed's NGramStorage stores nothing at n=2; ours = order 2
    b2.add_sequence([5, 6, 5, 7, 5, 6])
    assert tables(b2) == tables(s2)

    b4 = BasicNGramStorage(4)
    b4.add_sequence([1, 2, 3, 4, 1, 2, 3, 5, 9, 2, 3])
    t = tables(b4)
    assert b4.orders == [4, 3, 2]
    assert t[4] == {(1, 2, 3): {4: 1, 5: 1}, (2, 3, 4): {1: 1}, (3, 4, 1): {2: 1}, (4, 1, 2): {3: 1},
                    (2, 3, 5): {9: 1}, (3, 5, 9): {2: 1}, (5, 9, 2): {3: 1}}
    assert t[3][(2, 3)] == {4: 1, 5: 1} and t[3][(9, 2)] == {3: 1}
    assert t[2][(2,)] == {3: 3} and t[2][(3,)] == {4: 1, 5: 1}
    assert b4.lookup([1, 2, 3]) == 4           # tie 4 vs 5: 4 reached count 1 first
    assert b4.lookup([8, 9, 2]) == 3           # order 4 miss, order 3 (9, 2) hit
    assert b4.lookup([8, 8, 5]) == 9           # only order 2 (5,) knows it

    o4 = OneLevelNGramStorage(4)
    o4.add_sequence([1, 2, 3, 4, 1, 2, 3, 5, 9, 2, 3])
    assert tables(o4) == {4: t[4]}
    assert o4.lookup([8, 9, 2]) is None


def test_best_is_first_to_reach_the_maximum_count():
    s = OneLevelNGramStorage(2)
    s.add([5], 7)
    s.add([5], 8)
    assert s.lookup([5]) == 7                  # 1–1 tie: the incumbent stays
    s.add([5], 8)
    assert s.lookup([5]) == 8                  # 8 is strictly ahead
    s.add([5], 7)
    assert s.counts([5]) == {7: 2, 8: 2}
    assert s.lookup([5]) == 8                  # 2–2 tie: 8 reached 2 first


def test_add_uses_only_the_last_n_minus_1_tokens_and_counts_returns_copies():
    s = BasicNGramStorage(3)
    s.add([9, 9, 9, 1, 2], 3)
    assert tables(s) == {3: {(1, 2): {3: 1}}, 2: {(2,): {3: 1}}}
    c = s.counts([1, 2])
    c[3] = 99
    assert s.counts([1, 2]) == {3: 1}
    assert s.counts([2], order=2) == {3: 1}
    assert s.counts([4, 4]) == {}
    with pytest.raises(ValueError):
        OneLevelNGramStorage(3).counts([2], order=2)


def test_add_sequence_from_a_start_position_equals_one_pass():
    whole = BasicNGramStorage(3)
    whole.add_sequence(SEQ)
    parts = BasicNGramStorage(3)
    parts.add_sequence(SEQ[:4])
    parts.add_sequence(SEQ, start=4)
    assert tables(parts) == tables(whole)


def test_reset_and_bad_storage_arguments():
    s = make_storage("basic", 3)
    s.add_sequence(SEQ)
    s.reset()
    assert len(s) == 0 and s.lookup([1, 2]) is None
    assert isinstance(make_storage("onelevel", 2), OneLevelNGramStorage)
    with pytest.raises(UsageError, match="unknown n-gram storage 'trie'"):
        make_storage("trie", 3)
    for bad in (1, 0, -3, 2.5, True):
        with pytest.raises(UsageError):
            BasicNGramStorage(bad)


# --- drafter ------------------------------------------------------------------------------------------

def test_drafter_walks_the_storage_greedily():
    d = NGramDrafter("basic", n=3)
    prompt = [1, 2, 3, 4, 5, 1, 2]
    d.begin(prompt)
    draft = d.draft(prompt, 4, None, None)
    assert isinstance(draft, Draft) and draft.probs is None
    assert draft.tokens == [3, 4, 5, 1]
    assert d.draft(prompt, 2, None, None).tokens == [3, 4]
    assert d.draft(prompt, 0, None, None).tokens == []
    assert d.draft(prompt, 9, None, None).tokens == [3, 4, 5, 1, 2, 3, 4, 5, 1]   # the walk may cycle
    assert d.name == "ngram:basic:3"


def test_drafter_empty_when_the_context_is_unknown():
    d = NGramDrafter("onelevel", n=3)
    d.begin([1, 2, 3, 4])
    assert d.draft([1, 2, 3, 4], 4, None, None).tokens == []        # (3, 4) only occurs at the end
    assert d.empty_drafts == 1 and d.lookups == 1


def test_accept_records_the_step_and_changes_later_drafts():
    d = NGramDrafter("onelevel", n=2)
    d.begin([1, 2, 1, 3, 1, 3])          # (1,): {2: 1, 3: 2}; (2,): {1: 1}; (3,): {1: 1}
    assert d.draft([1, 2, 1, 3, 1, 3], 3, None, None).tokens == [1, 3, 1]
    # the target accepted 1 and corrected to 2, twice: (1,) becomes {2: 3, 3: 2}
    d.accept(1, [1, 2, 1, 3, 1, 3, 1, 2])
    d.accept(1, [1, 2, 1, 3, 1, 3, 1, 2, 1, 2])
    assert d.storage.counts([1]) == {2: 3, 3: 2}
    assert d.draft([1, 2, 1, 3, 1, 3, 1, 2, 1, 2], 3, None, None).tokens == [1, 2, 1]


def test_draft_records_unseen_context_tokens_itself():
    """If the engine calls draft() with tokens accept() did not report, they are recorded first."""
    d = NGramDrafter("onelevel", n=2)
    d.begin([7])
    assert d.draft([7, 8, 7], 2, None, None).tokens == [8, 7]


def test_top_k_filler_records_the_targets_top_tokens():
    d = NGramDrafter("onelevel", n=3, top_k_filler=3)
    d.begin([1, 2, 3])
    d.accept(0, [1, 2, 3, 4])                                # the target's token 4 after (2, 3)
    d.observe_target_topk([1, 2, 3, 4], 3, [[4, 7, 8, 9]])   # its top-4 there; only 3 are used
    assert d.storage.counts([2, 3]) == {4: 2, 7: 1, 8: 1}
    # positions start+i for several i; a position past the sequence is ignored
    d.observe_target_topk([1, 2, 3, 4], 2, [[3, 6], [5, 4], [1]])
    assert d.storage.counts([1, 2]) == {3: 2, 6: 1}
    assert d.storage.counts([2, 3]) == {4: 3, 7: 1, 8: 1, 5: 1}

    plain = NGramDrafter("onelevel", n=3, top_k_filler=1)    # 1 = the accepted tokens only
    plain.begin([1, 2, 3])
    plain.accept(0, [1, 2, 3, 4])
    plain.observe_target_topk([1, 2, 3, 4], 3, [[4, 7, 8]])
    assert plain.storage.counts([2, 3]) == {4: 1}


def test_top_k_filler_moves_drafts_towards_the_targets_preferences():
    d = NGramDrafter("onelevel", n=2, top_k_filler=2)
    ctx = [5, 7, 5, 7, 5, 6, 5]                              # (5,): {7: 2, 6: 1}
    d.begin(ctx)
    assert d.draft(ctx, 1, None, None).tokens == [7]
    d.observe_target_topk(ctx, 5, [[6, 8]])                  # the target's top-2 at position 5 (after a 5)
    d.observe_target_topk(ctx, 5, [[6, 8]])
    assert d.storage.counts([5]) == {7: 2, 6: 3, 8: 2}
    assert d.draft(ctx, 1, None, None).tokens == [6]


@pytest.mark.parametrize("reset_between", [True, False])
def test_reset_between_two_generations(reset_between):
    d = NGramDrafter("onelevel", n=3, reset_between=reset_between)
    d.begin([1, 2, 3])
    d.accept(1, [1, 2, 3, 1, 2])
    d.end()
    d.begin([4, 1, 2])
    draft = d.draft([4, 1, 2], 4, None, None).tokens
    if reset_between:
        assert tables(d.storage) == {3: {(4, 1): {2: 1}}}
        assert draft == []
    else:
        # first generation's (1,2)->3, (2,3)->1, (3,1)->2 kept, plus the new prompt's (4,1)->2;
        # the walk 3 → 1 → 2 → 3 … uses the kept n-grams
        assert tables(d.storage) == {3: {(1, 2): {3: 1}, (2, 3): {1: 1}, (3, 1): {2: 1}, (4, 1): {2: 1}}}
        assert draft == [3, 1, 2, 3]


def test_reset_between_false_counts_a_repeated_prompt_again():
    d = NGramDrafter("basic", n=2, reset_between=False)
    d.begin([1, 2])
    d.begin([1, 2])
    assert d.storage.counts([1]) == {2: 2}


def test_drafter_bad_arguments():
    with pytest.raises(UsageError, match="top_k_filler"):
        NGramDrafter(top_k_filler=0)
    with pytest.raises(UsageError):
        NGramDrafter(storage="nope")
    with pytest.raises(UsageError):
        NGramDrafter(n=1)


# --- with the engine and a real model -----------------------------------------------------------------

COPY_PARAGRAPH = ("The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a "
                  "single step. All that glitters is not gold, and not all those who wander are lost.")


@pytest.fixture(scope="module")
def smollm2(smollm2_gguf):
    from draftfinder.engine import speculative
    from draftfinder.engine.loading import load_model
    from draftfinder.models.resolver import Resolver

    model = load_model("zoo:smollm2-135m", resolver=Resolver(offline=True))
    text = model.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Repeat this text exactly: " + COPY_PARAGRAPH}],
        add_generation_prompt=True, tokenize=False)
    prompt = model.tokenizer(text, add_special_tokens=False)["input_ids"]
    base = speculative.autoregressive_generate(model, prompt, max_new_tokens=40, sampling=SamplingConfig())
    return speculative, model, prompt, base


@pytest.mark.parametrize("storage, filler", [("basic", 1), ("onelevel", 1), ("basic", 3)])
def test_ngram_speculative_equals_target_on_a_copy_prompt(smollm2, storage, filler):
    """Greedy n-gram speculative decoding reproduces the target token for token, and a copy task is where
    n-gram drafts pay: a large share of the drafted tokens is accepted (measured: basic:3 0.375, onelevel:3 0.92)."""
    speculative, model, prompt, base = smollm2
    greedy = SamplingConfig()
    drafter = NGramDrafter(storage, n=3, top_k_filler=filler)
    spec = speculative.speculative_generate(model, drafter, prompt, max_new_tokens=40, sampling=greedy, k=4)
    assert spec.token_ids == base.token_ids
    assert spec.text == base.text and "quick brown fox" in spec.text
    assert spec.stats.alpha > 0.3, spec.stats.to_dict()
    assert spec.stats.steps < base.stats.steps                    # fewer target forwards than tokens
    assert spec.stats.new_tokens == base.stats.new_tokens
