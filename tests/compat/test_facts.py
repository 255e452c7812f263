"""draftfinder.compat.facts: tokenizer facts and fingerprints of real tokenizers.

Runs on ../shared/fixtures (real tokenizer files of public models) and the zoo GGUF files.
"""

from __future__ import annotations

import json
import math

import pytest

from tests.conftest import fixture_dir, fixture_tokenizer as tok
from draftfinder.compat import facts as vocab
from draftfinder.compat import tokenizer as loading
from draftfinder.models.sources.base import ModelRecord

QWEN = ["Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B", "Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct"]


def facts(name: str) -> vocab.TokenizerFacts:
    return vocab.facts_from_tokenizer(tok(name))


# --- facts ------------------------------------------------------------------------------------------

def test_qwen_facts(fixtures):
    f = facts("Qwen/Qwen2.5-7B")
    assert (f.n_tokens, f.base_vocab_size) == (151665, 151643)          # 151,643 BPE entries + 22 added
    assert f.added_tokens_count == 22 and sorted(f.added_tokens) == list(range(151643, 151665))
    assert f.added_tokens[151643] == "<|endoftext|>" and f.added_tokens[151645] == "<|im_end|>"
    assert (f.eos_token, f.eos_token_id, f.bos_token_id, f.unk_token_id) == ("<|endoftext|>", 151643, None, None)
    assert f.vocab_kind == "BPE"
    assert len(f.test_encodings) == len(f.test_decodes) == 23                   # the built-in test strings
    assert f.add_bos_token is False and f.add_special_explicit is True
    assert len(f.block_hashes) == math.ceil(151643 / vocab.BLOCK_SIZE) == 38
    assert f.head_tokens == ["!", '"', "#", "$", "%"]


def test_instruct_variant_differs_only_in_eos_role(fixtures):
    base, instruct = facts("Qwen/Qwen2.5-7B"), facts("Qwen/Qwen2.5-7B-Instruct")
    assert base.fingerprint == instruct.fingerprint                     # roles are not tokenization
    assert (instruct.eos_token, instruct.eos_token_id) == ("<|im_end|>", 151645)


def test_llama_family_facts(fixtures):
    llama, tiny = facts("meta-llama/Llama-2-7b-hf"), facts("TinyLlama/TinyLlama-1.1B-Chat-v1.0")
    assert llama.vocab_kind == "SPM" and llama.head_tokens == ["<unk>", "<s>", "</s>", "<0x00>", "<0x01>"]
    assert (llama.bos_token, llama.bos_token_id, llama.eos_token_id, llama.unk_token_id) == ("<s>", 1, 2, 0)
    # Llama-2's tokenizer_config sets add_bos_token; TinyLlama's fixture has no tokenizer.json and no flag,
    # and transformers 5 then adds no BOS.
    assert (llama.add_bos_token, llama.add_special_explicit) == (True, True)
    assert (tiny.add_bos_token, tiny.add_special_explicit) == (False, False)
    assert (tiny.pad_token, tiny.pad_token_id, llama.pad_token_id) == ("</s>", 2, None)


@pytest.mark.parametrize("group", [
    QWEN,
    ["gpt2", "distilgpt2"],
    ["meta-llama/Llama-2-7b-hf", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"],
])
def test_fingerprint_equal_for_identical_tokenizers(fixtures, group):
    prints = {facts(name).fingerprint for name in group}
    assert len(prints) == 1
    blocks = {tuple(facts(name).block_hashes) for name in group}
    assert len(blocks) == 1


@pytest.mark.parametrize("a, b", [
    ("meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1"),     # same size 32000, different model
    ("gpt2", "Qwen/Qwen2.5-0.5B"),
])
def test_fingerprint_differs_otherwise(fixtures, a, b):
    fa, fb = facts(a), facts(b)
    assert fa.fingerprint != fb.fingerprint
    assert sum(x != y for x, y in zip(fa.test_encodings, fb.test_encodings)) >= 20     # all but "" and near


def test_mistral_and_llama_share_only_their_first_block_boundary(fixtures):
    llama, mistral = facts("meta-llama/Llama-2-7b-hf"), facts("mistralai/Mistral-7B-v0.1")
    assert llama.head_tokens == mistral.head_tokens                 # <unk> <s> </s> <0x00> <0x01>
    assert all(x != y for x, y in zip(llama.block_hashes, mistral.block_hashes))


def test_facts_round_trip_through_json(fixtures):
    for name in ["Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-2-7b-hf", "gpt2"]:
        f = facts(name)
        text = json.dumps(f.to_dict())
        assert len(text) < 4000                                     # small: stored for ~22 catalog models
        assert vocab.TokenizerFacts.from_dict(json.loads(text)) == f


def test_from_dict_rejects_another_version(fixtures):
    data = facts("gpt2").to_dict()
    data["version"] = vocab.FACTS_VERSION + 1
    with pytest.raises(ValueError, match="version"):
        vocab.TokenizerFacts.from_dict(data)


@pytest.mark.slow
def test_facts_of_a_fresh_copy_are_equal_and_cached(fixtures):
    from transformers import AutoTokenizer

    fresh = AutoTokenizer.from_pretrained(str(fixture_dir("Qwen/Qwen2.5-7B")))   # not in any cache
    f = vocab.facts_from_tokenizer(fresh)
    assert f == facts("Qwen/Qwen2.5-7B")
    assert vocab.facts_from_tokenizer(fresh) is f                   # cached per tokenizer object


# --- GGUF -------------------------------------------------------------------------------------------

def test_smollm2_gguf_facts(smollm2_gguf):
    f = vocab.facts_from_tokenizer(loading.load_tokenizer(ModelRecord(model_id="smol", source="gguf",
                                                                    gguf_path=smollm2_gguf)))
    assert (f.n_tokens, f.gguf_n_vocab, f.source_format, f.vocab_kind) == (49152, 49152, "gguf", "BPE")
    assert (f.bos_token, f.bos_token_id, f.eos_token, f.eos_token_id) == ("<|im_start|>", 1, "<|im_end|>", 2)
    assert (f.add_bos_token, f.add_special_explicit) == (False, True)
    assert f.head_tokens[0] == "<|endoftext|>"


def test_gemma_gguf_facts(gemma_gguf):
    t = loading.load_tokenizer(ModelRecord(model_id="gemma", source="gguf", gguf_path=gemma_gguf))
    f = vocab.facts_from_tokenizer(t)
    assert (f.n_tokens, f.vocab_kind) == (262144, "SPM")
    assert (f.bos_token, f.bos_token_id, f.eos_token, f.eos_token_id) == ("<bos>", 2, "<eos>", 1)
    assert f.add_bos_token is True
    assert len(json.dumps(f.to_dict())) < 4000                       # 6,384 added tokens are inside the base


def test_facts_key_separates_what_the_fingerprint_merges(fixtures):
    """Regression: a store keyed by fingerprint gave every Qwen2.5 size the Instruct model's EOS."""
    base, instruct = facts("Qwen/Qwen2.5-7B"), facts("Qwen/Qwen2.5-7B-Instruct")
    assert base.fingerprint == instruct.fingerprint and base.key != instruct.key
    assert facts("Qwen/Qwen2.5-0.5B").key == base.key                  # same files -> same key
    llama, tiny = facts("meta-llama/Llama-2-7b-hf"), facts("TinyLlama/TinyLlama-1.1B-Chat-v1.0")
    assert llama.fingerprint == tiny.fingerprint and llama.key != tiny.key   # PAD role, add_bos default


# --- identity is behaviour, not the library's representation (issue 9 §3b) ------------------------------

def _fresh_gpt2(**kw):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(fixture_dir("gpt2")), **kw)      # a private copy, not cached


def test_fingerprint_ignores_how_a_library_represents_the_tokenizer(fixtures):
    """Guards the fingerprint that hashed the converted normalizer/pre-tokenizer/decoder JSON: transformers
    5.24 re-expressed Mistral's tokenizer.model and its catalog fingerprint changed. Here the same tokenizer
    is re-expressed (each component wrapped in a one-element Sequence, as converters do): same behaviour on
    every test string, so the same identity. The old fingerprint differed."""
    from tokenizers import decoders, pre_tokenizers

    plain, wrapped = _fresh_gpt2(), _fresh_gpt2()
    backend = wrapped.backend_tokenizer
    backend.pre_tokenizer = pre_tokenizers.Sequence([backend.pre_tokenizer])
    backend.decoder = decoders.Sequence([backend.decoder])
    assert backend.to_str() != plain.backend_tokenizer.to_str()                 # another representation
    a, b = vocab.facts_from_tokenizer(plain), vocab.facts_from_tokenizer(wrapped)
    assert a.fingerprint == b.fingerprint and a.key == b.key and a == b


def test_fingerprint_follows_behaviour(fixtures):
    """Same vocabulary, other behaviour (a prefix space before every text, as SentencePiece's dummy prefix):
    another identity, and the stored encodings say which test strings changed."""
    plain, spaced = vocab.facts_from_tokenizer(_fresh_gpt2()), vocab.facts_from_tokenizer(
        _fresh_gpt2(add_prefix_space=True))
    assert plain.block_hashes == spaced.block_hashes and plain.added_tokens_hash == spaced.added_tokens_hash
    assert plain.fingerprint != spaced.fingerprint
    changed = [i for i, (x, y) in enumerate(zip(plain.test_encodings, spaced.test_encodings)) if x != y]
    assert 0 < len(changed) < 23 and 19 not in changed                       # "" (index 19) encodes to []
