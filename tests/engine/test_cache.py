"""KV-cache rollback (engine/cache.py) on real transformers caches of tiny Llama and Gemma-3 models.

What is guarded: a rollback that removes nothing crops nothing (with transformers 4.x / 5.0–5.17 semantics the
old ``crop(0)`` emptied the cache); a rollback by n is exact, also past a sliding window; the target-only
baseline never crops; a fully accepted speculative step never crops; versions older than 5.18 are refused.
The crop calls are observed by wrapping transformers' own ``DynamicCache.crop`` (our code is not replaced).
"""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache

from draftfinder.engine import cache as kv
from draftfinder.engine.base import SamplingConfig
from draftfinder.engine.speculative import autoregressive_generate, model_forward, prefill, speculative_generate
from draftfinder.errors import CacheRollbackError, MissingDependencyError
from tests.enginekit import hf_greedy, one_thread, tiny_gemma3, tiny_llama

GREEDY = SamplingConfig("greedy")


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture()
def crops(monkeypatch):
    """Every ``DynamicCache.crop`` argument, in order (transformers' method still runs)."""
    calls = []
    real = DynamicCache.crop

    def recording(self, n):
        calls.append(n)
        return real(self, n)

    monkeypatch.setattr(DynamicCache, "crop", recording)
    return calls


def _filled(loaded, ids):
    cache = kv.new_cache(loaded.model)
    with torch.inference_mode():
        prefill(loaded.model, cache, ids)
    return cache


def test_rollback_to_the_current_length_crops_nothing(crops):
    """Guards the no-op: the old rollback called crop(0) here, which 4.x and 5.0–5.17 read as "keep 0"."""
    for build in (tiny_llama, tiny_gemma3):
        cache = _filled(build(0), list(range(3, 15)))               # 12 positions: past gemma's window of 6
        keys = [layer.keys for layer in cache.layers]
        kv.rollback(cache, kv.cache_length(cache))
        assert crops == []
        assert kv.cache_length(cache) == 12
        assert all(layer.keys is k for layer, k in zip(cache.layers, keys))     # not even copied


@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma3], ids=["llama", "gemma3"])
@pytest.mark.parametrize("n", [1, 3, 5])
def test_rollback_by_n_is_exact(build, n, crops):
    """After feeding 5 more tokens and rolling back by n, the cache behaves exactly like one that saw only the
    kept tokens (gemma3: sliding window 6, so the rolled-back layers were past their window)."""
    loaded = build(0)
    ids = list(range(3, 17))
    extra = [40, 41, 42, 43, 44]
    cache = _filled(loaded, ids)
    with torch.inference_mode():
        model_forward(loaded.model, cache, extra)
        kv.rollback(cache, len(ids) + 5 - n)
        assert crops == [-n]
        assert kv.cache_length(cache) == len(ids) + 5 - n
        got = model_forward(loaded.model, cache, [99])[-1]
        fresh = _filled(loaded, ids + extra[: 5 - n])
        want = model_forward(loaded.model, fresh, [99])[-1]
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_rollback_forward_is_an_error():
    cache = _filled(tiny_llama(0), [1, 2, 3])
    with pytest.raises(CacheRollbackError, match="forward"):
        kv.rollback(cache, 10)


def test_the_baseline_never_crops(crops):
    """Guards the baseline's cost: target-only decoding used to call crop(0) after every token."""
    loaded = tiny_gemma3(0)
    prompt = list(range(3, 12))
    res = autoregressive_generate(loaded, prompt, max_new_tokens=20, sampling=GREEDY)
    assert crops == []
    assert res.token_ids == hf_greedy(loaded, prompt, 20)               # past the window of 6, still exact


def test_fully_accepted_steps_crop_nothing(crops):
    """A drafter proposing the target's own tokens: every step is fully accepted, so no rollback removes
    anything and no crop runs (the old loop called crop(0) after each of them)."""
    loaded = tiny_gemma3(0)
    prompt = list(range(3, 12))
    want = hf_greedy(loaded, prompt, 30)

    class Oracle:
        name = "oracle"

        def begin(self, prompt_ids):
            pass

        def draft(self, context_ids, k, sampling, generator):
            from draftfinder.engine.base import Draft

            done = len(context_ids) - len(prompt)
            return Draft(tokens=want[done: done + k])

        def accept(self, n_accepted, context_ids):
            pass

        def end(self):
            pass

    res = speculative_generate(loaded, Oracle(), prompt, max_new_tokens=30, sampling=GREEDY, k=4)
    assert res.token_ids == want
    assert res.stats.accepted == res.stats.drafted > 0
    assert crops == []


def test_recording_sliding_layers_stay_bounded_without_crops():
    """Fully accepted steps grow recording sliding layers; past ``SLIDING_SLACK`` extra positions they are
    trimmed back to the window, and the output stays exact."""
    loaded = tiny_gemma3(0, sliding_window=6)
    cache = _filled(loaded, list(range(3, 12)))
    kv.enable_rollback(cache)
    with torch.inference_mode():
        for step in range(kv.SLIDING_SLACK // 4 + 3):
            model_forward(loaded.model, cache, [7, 8, 9, 10])
            kv.rollback(cache, kv.cache_length(cache))
    sliding = [layer for layer in cache.layers if getattr(layer, "is_sliding", False)]
    assert sliding and all(layer.keys.shape[-2] <= 6 - 1 + kv.SLIDING_SLACK for layer in sliding)


@pytest.mark.parametrize("version, ok", [("4.57.1", False), ("5.0.0", False), ("5.17.0", False),
                                         ("5.18.0", True), ("5.24.0", True), ("5.30.0.dev0", True), ("6.0.0", True)])
def test_supported_transformers_versions(version, ok):
    assert kv.supported_transformers(version) is ok


def test_an_old_transformers_is_refused_with_the_pin(monkeypatch):
    import transformers

    monkeypatch.setattr(transformers, "__version__", "4.57.1")
    with pytest.raises(MissingDependencyError, match="transformers>=5.18") as err:
        kv.new_cache(tiny_llama(0).model)
    assert "pip install 'transformers>=5.18,<6'" in err.value.line()
