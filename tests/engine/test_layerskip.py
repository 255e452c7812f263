"""Layer-skip self-speculation sharing the target's KV cache (engine/layerskip.py, drafters.LayerSkipDrafter).

Guards: the draft writes layers 0..N−1 of the *target's* cache and has no cache or prefill of its own; the
verify pass reuses them and gives the target's own logits; greedy output equals target-only decoding (tiny
Llama and Gemma-3 past their sliding window, every N; the zoo SmolLM2 and Gemma-3 with real weights); the
drafts are the ones the stand-alone N-layer drafter makes; sampled output follows the target's distribution.
"""

from __future__ import annotations

import pytest
import torch

from draftfinder.engine import cache as kv
from draftfinder.engine.base import SamplingConfig
from draftfinder.engine.drafters import LayerSkipDrafter
from draftfinder.engine.layerskip import truncated_model, upper_cache_view
from draftfinder.engine.speculative import autoregressive_generate, model_forward, prefill, speculative_generate
from draftfinder.errors import UsageError
from tests.enginekit import hf_greedy, one_thread, tiny_gemma3, tiny_llama

GREEDY = SamplingConfig("greedy")


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


class OwnCache:
    """The same drafter without ``bind_target_cache``: the engine then treats it as a separate small model with
    its own N-layer cache (the stand-alone path, as before the cache was shared)."""

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name

    def begin(self, prompt_ids):
        self.inner.begin(prompt_ids)

    def draft(self, *args):
        return self.inner.draft(*args)

    def accept(self, *args):
        self.inner.accept(*args)

    def end(self):
        self.inner.end()


def test_the_draft_writes_the_targets_first_layers_and_verify_reuses_them():
    """After drafting 3 tokens, layers 0..N−1 of the target's cache hold 3 more positions and the others none;
    the verify pass returns the target's own logits for [last, x1, x2, x3] and leaves every layer at the same
    length. The drafter keeps no cache of its own (no second prefill)."""
    target = tiny_gemma3(0)                                           # 6 layers, window 6
    prompt = list(range(3, 14))                                       # 11 tokens: past the window
    n = 4
    cache = kv.new_cache(target.model)
    reference = kv.new_cache(target.model)
    drafter = LayerSkipDrafter(target, n)
    with torch.inference_mode():
        prefill(target.model, cache, prompt[:-1])
        prefill(target.model, reference, prompt[:-1])
        drafter.bind_target_cache(target.model, cache)
        drafter.begin(prompt)
        draft = drafter.draft(prompt, 3, GREEDY, None).tokens
        lengths = [layer.get_seq_length() for layer in cache.layers]
        assert lengths == [10 + 3] * n + [10] * (6 - n)
        assert drafter._cache is None                                 # nothing of its own was prefilled
        logits = drafter.verify_forward([prompt[-1]] + draft)
        want = model_forward(target.model, reference, [prompt[-1]] + draft)
    assert [layer.get_seq_length() for layer in cache.layers] == [14] * 6
    torch.testing.assert_close(logits, want, rtol=1e-4, atol=1e-4)
    assert logits.argmax(-1).tolist() == want.argmax(-1).tolist()
    drafter.end()
    assert drafter.bound_cache is None


def test_the_upper_cache_view_stands_in_with_layers_of_the_same_kind():
    target = tiny_gemma3(0)                                           # sliding, sliding, full, sliding, sliding, full
    cache = kv.new_cache(target.model)
    with torch.inference_mode():
        prefill(target.model, cache, [1, 2, 3])
    view = upper_cache_view(cache, 4)
    assert view.layers[4:] == cache.layers[4:] and len(view.layers) == 6
    assert view.layers[0] is cache.layers[4] and view.layers[2] is cache.layers[5]    # sliding → 4, full → 5
    assert cache.layers[0] is not cache.layers[4]                                     # the cache itself untouched


@pytest.mark.parametrize("build, layers", [(tiny_llama, 4), (tiny_gemma3, 6)], ids=["llama", "gemma3"])
def test_greedy_output_is_the_targets_for_every_n(build, layers):
    """Every split point N, several K; gemma3: window 6, so rollbacks cross it (sliding layers on both sides)."""
    target = build(0)
    prompt = [5, 17, 42, 99, 3, 8, 21, 60]
    want = autoregressive_generate(target, prompt, max_new_tokens=40, sampling=GREEDY).token_ids
    assert want == hf_greedy(target, prompt, 40)
    for n in range(1, layers):
        for k in (1, 3, 6):
            res = speculative_generate(target, LayerSkipDrafter(target, n), prompt, max_new_tokens=40,
                                       sampling=GREEDY, k=k)
            assert res.token_ids == want, (n, k)


def test_shared_cache_drafts_what_the_stand_alone_drafter_drafts():
    """Same accepted/rejected drafts, step by step, with the shared cache and with an own N-layer cache."""
    target = tiny_gemma3(0)
    prompt = [5, 17, 42, 99, 3, 8, 21, 60, 7]
    shared = speculative_generate(target, LayerSkipDrafter(target, 5), prompt, max_new_tokens=40,
                                  sampling=GREEDY, k=3, trace=True)
    alone = speculative_generate(target, OwnCache(LayerSkipDrafter(target, 5)), prompt, max_new_tokens=40,
                                 sampling=GREEDY, k=3, trace=True)
    assert shared.token_ids == alone.token_ids
    assert [(s["accepted"], s["rejected"]) for s in shared.trace] == [(s["accepted"], s["rejected"]) for s in alone.trace]
    assert 0 < shared.stats.accepted < shared.stats.drafted                      # both paths of the rollback ran


def test_sampled_output_follows_the_target_distribution_with_the_shared_cache():
    """First token and the joint of the first two, chi-square against the target's exact distribution."""
    from tests.engine.test_speculative import exact_distributions
    from tests.enginekit import P_MIN, chi_square_p, pooled

    target = tiny_llama(11, layers=3, vocab=8, hidden=32, init=0.2)
    prompt = [1, 5, 2]
    cfg = SamplingConfig("multinomial", temperature=1.0)
    p1, joint2, _ = exact_distributions(target, prompt, cfg)
    c1, c2 = [0] * 8, [0] * 64
    accepted = drafted = 0
    runs = 600
    for seed in range(runs):
        out = speculative_generate(target, LayerSkipDrafter(target, 2), prompt, max_new_tokens=3, k=2,
                                   sampling=SamplingConfig("multinomial", seed=seed))
        c1[out.token_ids[0]] += 1
        c2[out.token_ids[0] * 8 + out.token_ids[1]] += 1
        accepted += out.stats.accepted
        drafted += out.stats.drafted
    assert 0.1 < accepted / drafted < 0.95
    for observed, expected in ((c1, p1), (c2, joint2)):
        cells = pooled(observed, expected)
        assert len(cells[0]) >= 4
        assert chi_square_p(*cells) > P_MIN, (observed, [round(e * runs, 1) for e in expected])


def test_the_drafter_refuses_another_targets_cache():
    a, b = tiny_llama(0), tiny_llama(1)
    drafter = LayerSkipDrafter(a, 2)
    with pytest.raises(UsageError, match="another target"):
        drafter.bind_target_cache(b.model, kv.new_cache(b.model))


def test_the_stand_alone_drafter_still_works_without_an_engine():
    """``measure`` times ``draft`` after ``accept`` without a target pass: the unbound drafter keeps its own
    N-layer cache, and proposes the N-layer view's greedy tokens."""
    target = tiny_llama(0)
    prompt = [5, 17, 42, 99, 3]
    drafter = LayerSkipDrafter(target, 2)
    drafter.begin(prompt)
    tokens = drafter.draft(prompt, 3, GREEDY, None).tokens
    view = truncated_model(target.model, 2)
    with torch.no_grad():
        ids = list(prompt)
        for _ in range(3):
            ids.append(int(view(input_ids=torch.tensor([ids])).logits[0, -1].argmax()))
    assert tokens == ids[len(prompt):]
    drafter.accept(1, prompt + tokens[:1] + [7])
    assert len(drafter.draft(prompt + tokens[:1] + [7], 2, GREEDY, None).tokens) == 2
    drafter.end()


# --- real weights ------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_smollm2_shared_cache_greedy_equals_target_only(smollm2_gguf):
    """SmolLM2-135M (30 layers, full attention), layerskip:15 and :24 with the shared cache, K = 4."""
    from draftfinder.engine.loading import load_model

    target = load_model(str(smollm2_gguf))
    prompt = target.tokenizer.encode("The three primary colours are red, yellow and blue. Mixing red and yellow")
    want = autoregressive_generate(target, prompt, max_new_tokens=24, sampling=GREEDY).token_ids
    for n in (15, 24):
        res = speculative_generate(target, LayerSkipDrafter(target, n), prompt, max_new_tokens=24,
                                   sampling=GREEDY, k=4)
        assert res.token_ids == want, n
        assert res.stats.accepted > 0


@pytest.mark.slow
def test_gemma3_shared_cache_greedy_equals_target_only_past_the_window(gemma_gguf):
    """Gemma-3-270M (18 layers, 5 of 6 sliding with a 512-token window): a ~500-token prompt, so the
    generation crosses the window while drafts are rolled back; layerskip:9 (sliding and full layers on both
    sides of the split), K = 3."""
    from draftfinder.engine.loading import load_model

    target = load_model(str(gemma_gguf))
    window = target.model.config.sliding_window
    text = " ".join(f"Item {i}: the {['red', 'green', 'blue', 'grey'][i % 4]} box." for i in range(80))
    prompt = target.tokenizer.encode(text)[: window - 10]
    want = autoregressive_generate(target, prompt, max_new_tokens=32, sampling=GREEDY).token_ids
    res = speculative_generate(target, LayerSkipDrafter(target, 9), prompt, max_new_tokens=32, sampling=GREEDY,
                               k=3)
    assert len(prompt) + len(want) > window
    assert res.token_ids == want
    assert 0 < res.stats.accepted < res.stats.drafted
