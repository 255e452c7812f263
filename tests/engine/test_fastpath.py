"""engine/fastpath.py: our forward over the static cache reproduces transformers' forward (logits, greedy tokens),
a rollback equals recomputing, the compiled graph gives the eager tokens, and a failing compiler falls back.

Tiny random-weight Llama and Gemma-3 models (tests/enginekit.py; Gemma-3's sliding window is 6, so the tests run
past it); the compiled tests are slow (torch.compile of a tiny model takes tens of seconds on 2 shared cores).
"""

from __future__ import annotations

import pytest
import torch

from draftfinder.engine import cache as kv
from draftfinder.engine import fastpath
from draftfinder.engine.base import SamplingConfig
from draftfinder.engine.drafters import make_drafter
from draftfinder.engine.speculative import autoregressive_generate, model_forward, prefill, speculative_generate
from tests.enginekit import hf_greedy, one_thread, tiny_gemma3, tiny_llama

GREEDY = SamplingConfig("greedy")
PROMPT = [5, 17, 42, 99, 3, 17, 42, 99, 8, 1, 250]


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module", params=["llama", "gemma3"])
def tiny(request):
    return tiny_llama(0) if request.param == "llama" else tiny_gemma3(0)


def _feed(model, cache, chunks):
    """Logits of each chunk fed in turn ([S, V] each)."""
    with torch.inference_mode():
        return [model_forward(model, cache, chunk) for chunk in chunks]


def test_forward_matches_transformers_logits(tiny):
    """Guards the forward itself (norms, rotary, GQA, Gemma's q/k norms and sliding window): prefill, 1-token
    steps and multi-token verify passes past the window give transformers' logits."""
    model = tiny.model
    chunks = [PROMPT, [7], [8, 9, 10, 11, 12], [13], [14, 15]]
    ref = _feed(model, kv.new_cache(model), chunks)
    ours = _feed(model, fastpath.new_cache(model, path="eager-static"), chunks)
    for r, o in zip(ref, ours):
        assert o.shape == r.shape
        torch.testing.assert_close(o, r, rtol=1e-5, atol=1e-5)


def test_rollback_equals_recompute(tiny):
    """A verify pass of 6 tokens of which 2 are kept, then other tokens: the logits equal those of a cache that
    only ever saw the kept sequence (the stale rows past the length are never read: reading them moves the logits
    by far more than the float rounding of computing the kept K/V in a 6-token rather than a 2-token pass)."""
    model = tiny.model
    with torch.inference_mode():
        cache = fastpath.new_cache(model, path="eager-static")
        prefill(model, cache, PROMPT)
        base = kv.cache_length(cache)
        model_forward(model, cache, [20, 21, 22, 23, 24, 25])
        kv.rollback(cache, base + 2)                          # keep 20, 21
        assert kv.cache_length(cache) == base + 2
        got = model_forward(model, cache, [30, 31, 32])
        fresh = fastpath.new_cache(model, path="eager-static")
        prefill(model, fresh, PROMPT + [20, 21])
        want = model_forward(model, fresh, [30, 31, 32])
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_greedy_generation_equals_transformers_generate_on_the_fast_path(tiny):
    """Plain and n-gram speculative decoding on the eager fast path give ``generate``'s tokens; the path is
    recorded in the stats."""
    want = hf_greedy(tiny, PROMPT, 30)
    plain = autoregressive_generate(tiny, PROMPT, max_new_tokens=30, sampling=GREEDY)
    spec = speculative_generate(tiny, make_drafter("ngram", tiny), PROMPT, max_new_tokens=30, sampling=GREEDY, k=4)
    assert plain.token_ids == want and spec.token_ids == want
    assert plain.stats.decode_path == spec.stats.decode_path == "eager-static"
    assert plain.stats.to_dict()["decode_path"] == "eager-static"


def test_no_fast_selects_transformers_forward(monkeypatch):
    """DRAFTFINDER_NO_FAST=1 is the reference path (transformers' forward and DynamicCache)."""
    monkeypatch.setenv("DRAFTFINDER_NO_FAST", "1")
    target = tiny_llama(0)
    res = autoregressive_generate(target, PROMPT, max_new_tokens=5, sampling=GREEDY)
    assert res.stats.decode_path == "transformers"
    assert fastpath.requested_path() == "transformers"


def test_unsupported_family_keeps_transformers_forward():
    from transformers import MistralConfig, MistralForCausalLM

    from draftfinder.engine.loading import LoadedModel

    torch.manual_seed(0)
    model = MistralForCausalLM(MistralConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2, initializer_range=0.3))
    model.eval()
    assert "mistral" in (fastpath.fast_support(model) or "")
    res = autoregressive_generate(LoadedModel("tiny-mistral", model), PROMPT, max_new_tokens=3, sampling=GREEDY)
    assert res.stats.decode_path == "transformers"


@pytest.mark.slow
def test_compiled_graph_gives_the_eager_tokens(monkeypatch):
    """torch.compile of the 1-token and the 2..16-token passes: same greedy tokens as eager and as ``generate``,
    plain and n-gram speculative; the path says "compiled" and the compile time is counted."""
    monkeypatch.delenv("DRAFTFINDER_NO_COMPILE", raising=False)
    target = tiny_llama(3, layers=1, hidden=32)      # one layer: the compile takes the least time
    want = hf_greedy(target, PROMPT, 12)
    spec = speculative_generate(target, make_drafter("ngram", target), PROMPT, max_new_tokens=12, sampling=GREEDY,
                                k=3)
    assert min(spec.stats.drafted_history) == 0 and max(spec.stats.drafted_history) > 0   # both graphs
    plain = autoregressive_generate(target, PROMPT, max_new_tokens=12, sampling=GREEDY)
    assert plain.stats.decode_path == spec.stats.decode_path == "compiled"
    assert plain.token_ids == want and spec.token_ids == want
    assert fastpath.decoder_for(target.model, compile=True).compile_s > 0


def test_compile_failure_falls_back_to_eager_with_one_line(monkeypatch, capsys):
    """When torch.compile fails (no C++ compiler for inductor, an unsupported platform, a graph break) the steps run
    eagerly, the output is unchanged, and one line on stderr says so, once per model. torch.compile is replaced by
    one that raises as it would: a real compiler failure takes minutes of tracing first on 2 shared cores."""
    monkeypatch.delenv("DRAFTFINDER_NO_COMPILE", raising=False)

    def unavailable(*args, **kwargs):
        raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found in torch._inductor.config.cpp.cxx")

    monkeypatch.setattr(torch, "compile", unavailable)
    target = tiny_llama(4, layers=3, hidden=48)
    want = hf_greedy(target, PROMPT, 6)
    for _ in range(2):
        res = autoregressive_generate(target, PROMPT, max_new_tokens=6, sampling=GREEDY)
        assert res.token_ids == want
        assert res.stats.decode_path == "eager-static"
    err = capsys.readouterr().err.strip().splitlines()
    assert len([line for line in err if "torch.compile unavailable" in line]) == 1
    assert "InvalidCxxCompiler" in fastpath.decoder_for(target.model, compile=True).compile_error
