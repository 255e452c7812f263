"""draftfinder.compat.tokenizer: loading real tokenizers (HF folders, GGUF files) and their facts.

Runs on ../shared/fixtures (real tokenizer files of public models) and the zoo GGUF files. Tokenizers are
cached by ``load_tokenizer`` for the whole process, so each is read once across the test modules.
"""

from __future__ import annotations

import json
import math
import os
import shutil

import pytest

from tests.conftest import fixture_dir
from draftfinder.compat import tokenizer as vocab
from draftfinder.errors import TokenizerLoadError
from draftfinder.models.sources.base import ModelRecord

QWEN = ["Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B", "Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct"]


def record(name: str) -> ModelRecord:
    folder = fixture_dir(name)
    return ModelRecord(model_id=name, source="local", local_dir=folder,
                       config=json.loads((folder / "config.json").read_text()))


def tok(name: str):
    return vocab.load_tokenizer(record(name))


def facts(name: str) -> vocab.TokenizerFacts:
    return vocab.facts_from_tokenizer(tok(name))


# --- loading ----------------------------------------------------------------------------------------

def test_load_is_cached_by_file_content(fixtures):
    """Guards the find speed-up: byte-identical tokenizer files load once, whatever the folder."""
    assert tok("gpt2") is tok("gpt2")
    assert tok("gpt2") is tok("distilgpt2")              # identical files, different folders
    assert tok("Qwen/Qwen2.5-0.5B") is tok("Qwen/Qwen2.5-7B")
    assert tok("Qwen/Qwen2.5-7B") is not tok("Qwen/Qwen2.5-7B-Instruct")   # tokenizer_config.json differs


@pytest.mark.parametrize("name, n_tokens", [
    ("gpt2", 50257), ("distilgpt2", 50257), ("Qwen/Qwen2.5-7B", 151665),
    ("meta-llama/Llama-2-7b-hf", 32000), ("TinyLlama/TinyLlama-1.1B-Chat-v1.0", 32000),
    ("mistralai/Mistral-7B-v0.1", 32000),
])
def test_loads_fixture_tokenizers(fixtures, name, n_tokens):
    assert len(tok(name)) == n_tokens


@pytest.mark.parametrize("name, found", [
    ("codellama/CodeLlama-7b-hf", "config.json, special_tokens_map.json, tokenizer_config.json"),
    ("meta-llama/Llama-2-7b-chat-hf", "config.json"),
])
def test_folder_without_tokenizer_files_is_a_clear_error(fixtures, name, found):
    with pytest.raises(TokenizerLoadError) as err:
        vocab.load_tokenizer(record(name))
    assert "no tokenizer files" in err.value.message
    assert f"found: {found}" in err.value.message
    assert "tokenizer.model" in err.value.hint


def test_catalog_record_has_no_files():
    with pytest.raises(TokenizerLoadError, match="no local files") as err:
        vocab.load_tokenizer(ModelRecord(model_id="Qwen/Qwen2.5-7B", source="catalog"))
    assert "verify_facts" in err.value.hint


def test_missing_folder_and_missing_gguf(tmp_path):
    with pytest.raises(TokenizerLoadError, match="does not exist"):
        vocab.load_tokenizer(ModelRecord(model_id="x", source="local", local_dir=tmp_path / "nope"))
    with pytest.raises(TokenizerLoadError, match="does not exist"):
        vocab.load_tokenizer(ModelRecord(model_id="x", source="gguf", gguf_path=tmp_path / "nope.gguf"))


def test_file_that_is_not_gguf(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04 not a gguf file")
    with pytest.raises(TokenizerLoadError, match="not a GGUF file"):
        vocab.load_tokenizer(ModelRecord(model_id="x", source="gguf", gguf_path=path))


def test_truncated_gguf(tmp_path, smollm2_gguf):
    path = tmp_path / "truncated.gguf"
    path.write_bytes(smollm2_gguf.read_bytes()[:4096])     # header, then cut inside the token list
    with pytest.raises(TokenizerLoadError) as err:
        vocab.load_tokenizer(ModelRecord(model_id="x", source="gguf", gguf_path=path))
    assert "cannot read the GGUF metadata" in err.value.message and "re-download" in err.value.hint


def test_corrupt_vocab_file(tmp_path, fixtures):
    folder = tmp_path / "gpt2"
    shutil.copytree(fixture_dir("gpt2"), folder)
    text = (folder / "vocab.json").read_text()
    (folder / "vocab.json").write_text(text[: len(text) // 2])        # truncated download
    with pytest.raises(TokenizerLoadError, match="could not read the tokenizer files") as err:
        vocab.load_tokenizer(ModelRecord(model_id="gpt2", source="local", local_dir=folder))
    assert "re-download" in err.value.hint


# --- facts ------------------------------------------------------------------------------------------

def test_qwen_facts(fixtures):
    f = facts("Qwen/Qwen2.5-7B")
    assert (f.n_tokens, f.base_vocab_size) == (151665, 151643)          # 151,643 BPE entries + 22 added
    assert f.added_tokens_count == 22 and sorted(f.added_tokens) == list(range(151643, 151665))
    assert f.added_tokens[151643] == "<|endoftext|>" and f.added_tokens[151645] == "<|im_end|>"
    assert (f.eos_token, f.eos_token_id, f.bos_token_id, f.unk_token_id) == ("<|endoftext|>", 151643, None, None)
    assert (f.model_type, f.vocab_kind, f.normalizer) == ("BPE", "BPE", "NFC")
    assert f.pre_tokenizer == "Sequence(Split,ByteLevel)"
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
    assert fa.merges_hash != fb.merges_hash


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


def test_facts_of_a_fresh_qwen_tokenizer_equal_the_cached_ones(fixtures):
    """(Its speed, 151,665 tokens: bench/micro_latency.py.)"""
    from transformers import AutoTokenizer

    fresh = AutoTokenizer.from_pretrained(str(fixture_dir("Qwen/Qwen2.5-7B")))   # not in any cache
    f = vocab.facts_from_tokenizer(fresh)
    assert f == facts("Qwen/Qwen2.5-7B")
    assert vocab.facts_from_tokenizer(fresh) is f                   # cached per tokenizer object


# --- GGUF -------------------------------------------------------------------------------------------

def test_smollm2_gguf_facts(smollm2_gguf):
    f = vocab.facts_from_tokenizer(vocab.load_tokenizer(ModelRecord(model_id="smol", source="gguf",
                                                                    gguf_path=smollm2_gguf)))
    assert (f.n_tokens, f.gguf_n_vocab, f.source_format, f.vocab_kind) == (49152, 49152, "gguf", "BPE")
    assert (f.bos_token, f.bos_token_id, f.eos_token, f.eos_token_id) == ("<|im_start|>", 1, "<|im_end|>", 2)
    assert (f.add_bos_token, f.add_special_explicit) == (False, True)
    assert f.head_tokens[0] == "<|endoftext|>"


def test_gemma_gguf_facts(gemma_gguf):
    t = vocab.load_tokenizer(ModelRecord(model_id="gemma", source="gguf", gguf_path=gemma_gguf))   # speed: bench/
    f = vocab.facts_from_tokenizer(t)                                                             # micro_latency.py
    assert (f.n_tokens, f.vocab_kind, f.model_type) == (262144, "SPM", "BPE")
    assert (f.bos_token, f.bos_token_id, f.eos_token, f.eos_token_id) == ("<bos>", 2, "<eos>", 1)
    assert f.add_bos_token is True
    assert len(json.dumps(f.to_dict())) < 4000                       # 6,384 added tokens are inside the base


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("DRAFTFINDER_SLOW_TESTS"), reason="set DRAFTFINDER_SLOW_TESTS=1 (~15 s)")
@pytest.mark.parametrize("which", ["smollm2_gguf", "gemma_gguf"])
def test_gguf_fast_path_builds_the_autotokenizer_tokenizer(request, which):
    """Guards the shortcut in vocab._load_gguf: same backend tokenizer as AutoTokenizer builds."""
    from transformers import AutoTokenizer

    path = request.getfixturevalue(which)
    ours = vocab.load_tokenizer(ModelRecord(model_id=which, source="gguf", gguf_path=path))
    auto = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    assert ours.backend_tokenizer.to_str() == auto.backend_tokenizer.to_str()
    assert (ours.bos_token, ours.eos_token, ours.add_bos_token) == (auto.bos_token, auto.eos_token, auto.add_bos_token)


def test_facts_key_separates_what_the_fingerprint_merges(fixtures):
    """Regression: a store keyed by fingerprint gave every Qwen2.5 size the Instruct model's EOS."""
    base, instruct = facts("Qwen/Qwen2.5-7B"), facts("Qwen/Qwen2.5-7B-Instruct")
    assert base.fingerprint == instruct.fingerprint and base.key != instruct.key
    assert facts("Qwen/Qwen2.5-0.5B").key == base.key                  # same files -> same key
    llama, tiny = facts("meta-llama/Llama-2-7b-hf"), facts("TinyLlama/TinyLlama-1.1B-Chat-v1.0")
    assert llama.fingerprint == tiny.fingerprint and llama.key != tiny.key   # PAD role, add_bos default
