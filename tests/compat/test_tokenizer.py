"""draftfinder.compat.tokenizer: loading real tokenizers (HF folders, GGUF files).

Runs on ../shared/fixtures (real tokenizer files of public models) and the zoo GGUF files. Tokenizers are
cached by ``load_tokenizer`` for the whole process, so each is read once across the test modules. Their facts
and fingerprints are tests/compat/test_facts.py.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import fixture_dir, fixture_record as record, fixture_tokenizer as tok
from draftfinder.compat import tokenizer as loading
from draftfinder.errors import TokenizerLoadError
from draftfinder.models.sources.base import ModelRecord


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
        loading.load_tokenizer(record(name))
    assert "no tokenizer files" in err.value.message
    assert f"found: {found}" in err.value.message
    assert "tokenizer.model" in err.value.hint


def test_catalog_record_has_no_files():
    with pytest.raises(TokenizerLoadError, match="no local files") as err:
        loading.load_tokenizer(ModelRecord(model_id="Qwen/Qwen2.5-7B", source="catalog"))
    assert "verify_facts" in err.value.hint


def test_missing_folder_and_missing_gguf(tmp_path):
    with pytest.raises(TokenizerLoadError, match="does not exist"):
        loading.load_tokenizer(ModelRecord(model_id="x", source="local", local_dir=tmp_path / "nope"))
    with pytest.raises(TokenizerLoadError, match="does not exist"):
        loading.load_tokenizer(ModelRecord(model_id="x", source="gguf", gguf_path=tmp_path / "nope.gguf"))


def test_file_that_is_not_gguf(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04 not a gguf file")
    with pytest.raises(TokenizerLoadError, match="not a GGUF file"):
        loading.load_tokenizer(ModelRecord(model_id="x", source="gguf", gguf_path=path))


def test_truncated_gguf(tmp_path, smollm2_gguf):
    path = tmp_path / "truncated.gguf"
    path.write_bytes(smollm2_gguf.read_bytes()[:4096])     # header, then cut inside the token list
    with pytest.raises(TokenizerLoadError) as err:
        loading.load_tokenizer(ModelRecord(model_id="x", source="gguf", gguf_path=path))
    assert "cannot read the GGUF metadata" in err.value.message and "re-download" in err.value.hint


def test_corrupt_vocab_file(tmp_path, fixtures):
    folder = tmp_path / "gpt2"
    shutil.copytree(fixture_dir("gpt2"), folder)
    text = (folder / "vocab.json").read_text()
    (folder / "vocab.json").write_text(text[: len(text) // 2])        # truncated download
    with pytest.raises(TokenizerLoadError, match="could not read the tokenizer files") as err:
        loading.load_tokenizer(ModelRecord(model_id="gpt2", source="local", local_dir=folder))
    assert "re-download" in err.value.hint



@pytest.mark.slow
@pytest.mark.parametrize("which", ["smollm2_gguf", "gemma_gguf"])
def test_gguf_fast_path_builds_the_autotokenizer_tokenizer(request, which):
    """Guards the shortcut in loading._load_gguf: same backend tokenizer as AutoTokenizer builds."""
    from transformers import AutoTokenizer

    path = request.getfixturevalue(which)
    ours = loading.load_tokenizer(ModelRecord(model_id=which, source="gguf", gguf_path=path))
    auto = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    assert ours.backend_tokenizer.to_str() == auto.backend_tokenizer.to_str()
    assert (ours.bos_token, ours.eos_token, ours.add_bos_token) == (auto.bos_token, auto.eos_token, auto.add_bos_token)


def test_a_sentencepiece_only_folder_tokenizes_as_sentencepiece_does(fixtures):
    """Mistral-7B-v0.1's fixture has only tokenizer.model: transformers converts it, and the conversion must
    tokenize as the original SentencePiece model does (its dummy prefix included: "Hello" → "▁Hello").
    transformers 5.23 did not (22 of 23 test strings differed; the catalog was built from that); 5.24, the
    version constraints.txt pins, does. Guards the lock and the catalog against a converter regression."""
    import sentencepiece

    from draftfinder.compat.teststrings import default_texts

    sp = sentencepiece.SentencePieceProcessor(model_file=str(fixture_dir("mistralai/Mistral-7B-v0.1") /
                                                              "tokenizer.model"))
    mistral = tok("mistralai/Mistral-7B-v0.1")
    differ = [text[:30] for text in default_texts()
              if mistral(text, add_special_tokens=False)["input_ids"] != sp.encode(text)]
    assert differ == [], f"{len(differ)} of 23 test strings tokenize unlike SentencePiece, e.g. {differ[:3]}"


def test_a_gguf_beside_hf_tokenizer_files_is_read_alone(smollm2_gguf, tmp_path):
    """Guards the `train --gguf` bug: a GGUF in a folder holding a Hugging Face tokenizer_config.json was read
    with that file's special tokens mixed in (transformers' from_pretrained(folder, gguf_file=…) reads both), so
    a Gemma draft's BOS came out None against the GGUF's 2. llama.cpp reads only the GGUF; so must we."""
    from draftfinder.compat import facts as vocab
    from draftfinder.compat.tokenizer import load_tokenizer

    alone_tok = load_tokenizer(ModelRecord(model_id="a", source="gguf", gguf_path=smollm2_gguf))
    alone = vocab.facts_from_tokenizer(alone_tok)
    folder = tmp_path / "draft"
    alone_tok.save_pretrained(str(folder))          # the folder train writes: tokenizer.json + tokenizer_config.json
    shutil.copyfile(smollm2_gguf, folder / "draft.gguf")            # a file of its own (the cache keys on it)
    before = sorted(p.name for p in folder.iterdir())
    beside = vocab.facts_from_tokenizer(load_tokenizer(ModelRecord(model_id="b", source="gguf",
                                                                   gguf_path=folder / "draft.gguf")))
    assert (beside.n_tokens, beside.bos_token_id, beside.eos_token_id, beside.add_bos_token) == \
        (alone.n_tokens, alone.bos_token_id, alone.eos_token_id, alone.add_bos_token)       # old: BOS/EOS None
    assert sorted(p.name for p in folder.iterdir()) == before          # nothing written into the user's folder
