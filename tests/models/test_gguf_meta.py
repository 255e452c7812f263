"""GGUF header reading on the real zoo files (SmolLM2-135M Q4_1, Gemma-3-270M Q4_K_M)."""

from __future__ import annotations


import pytest

from draftfinder.errors import ModelFileError
from draftfinder.models.gguf_meta import _read_cached, config_from_gguf, read_gguf_meta
from draftfinder.models.analysis import count_from_config


def test_smollm2_header_facts(smollm2_gguf):
    meta = read_gguf_meta(smollm2_gguf)
    assert meta.architecture == "llama"
    assert meta.name == "Smollm2 135M 8k Lc100K Mix1 Ep2"
    assert meta.basename == "smollm2"
    assert meta.file_type == "Q4_1"
    assert (meta.block_count, meta.embedding_length, meta.feed_forward_length) == (30, 576, 1536)
    assert (meta.head_count, meta.head_count_kv, meta.context_length) == (9, 3, 8192)
    assert (meta.tokenizer_model, meta.token_count, meta.merges_count) == ("gpt2", 49152, 48900)
    assert (meta.bos_token_id, meta.eos_token_id) == (1, 2)
    assert meta.vocab_size == 49152
    assert meta.tensor_count == 272
    assert meta.n_weights == 134_515_008
    assert meta.tensor_bytes == 96_576_768
    assert meta.bits_per_weight == pytest.approx(96_576_768 * 8 / 134_515_008)
    assert round(meta.bits_per_weight, 4) == 5.7437
    assert meta.tied_embeddings is True
    # token_embd is Q8_0, the blocks Q4_1, norms F32
    assert meta.elements_by_type == {"Q8_0": 28_311_552, "Q4_1": 106_168_320, "F32": 35_136}


def test_gemma3_header_facts(gemma_gguf):
    meta = read_gguf_meta(gemma_gguf)
    assert meta.architecture == "gemma3"
    assert meta.name == "Gemma 3 270m"
    assert meta.file_type == "Q4_K_M"
    assert (meta.block_count, meta.embedding_length, meta.feed_forward_length) == (18, 640, 2048)
    assert (meta.head_count, meta.head_count_kv, meta.key_length) == (4, 1, 256)
    assert meta.context_length == 32768
    assert (meta.tokenizer_model, meta.token_count, meta.vocab_size) == ("llama", 262_144, 262_144)
    assert (meta.bos_token_id, meta.eos_token_id) == (2, 1)
    assert meta.n_weights == 268_098_176
    assert meta.tensor_bytes == 246_587_904
    assert round(meta.bits_per_weight, 4) == 7.3581


def test_agrees_with_the_stock_reader(smollm2_gguf):
    """Regression guard for the fast array path: every scalar key, array length and tensor size must equal
    what the unmodified gguf.GGUFReader reports."""
    import gguf

    stock = gguf.GGUFReader(smollm2_gguf)
    meta = read_gguf_meta(smollm2_gguf)
    for key, field in stock.fields.items():
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            assert meta.fields[key] == len(field.data), key
        else:
            assert meta.fields[key] == field.contents(), key
    assert meta.n_weights == sum(int(t.n_elements) for t in stock.tensors)
    assert meta.tensor_bytes == sum(int(t.n_bytes) for t in stock.tensors)


@pytest.mark.parametrize("which", ["smollm2_gguf", "gemma_gguf"])
def test_reading_is_cached_by_path_size_and_mtime(which, request):
    """A second read of an unchanged file is served from the cache (speed: bench/micro_latency.py)."""
    path = request.getfixturevalue(which)
    _read_cached.cache_clear()
    first = read_gguf_meta(path)
    assert read_gguf_meta(path) is first
    info = _read_cached.cache_info()
    assert (info.hits, info.misses) == (1, 1)


def test_config_from_gguf_counts_back_to_the_tensors(smollm2_gguf, gemma_gguf):
    """The synthesized config, fed to the parameter formula, gives the exact tensor element count."""
    for path in (smollm2_gguf, gemma_gguf):
        meta = read_gguf_meta(path)
        config = config_from_gguf(meta)
        assert count_from_config(config).total == meta.n_weights
    smol = config_from_gguf(read_gguf_meta(smollm2_gguf))
    assert smol == {
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "num_hidden_layers": 30, "hidden_size": 576,
        "intermediate_size": 1536, "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152,
        "max_position_embeddings": 8192, "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2,
    }
    gemma = config_from_gguf(read_gguf_meta(gemma_gguf))
    assert gemma["model_type"] == "gemma3_text" and gemma["head_dim"] == 256


def test_not_gguf(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_text('{"not": "gguf"}')
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        read_gguf_meta(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="cannot read"):
        read_gguf_meta(tmp_path / "absent.gguf")


def test_truncated_header_and_data(smollm2_gguf, tmp_path):
    data = smollm2_gguf.read_bytes()
    head = tmp_path / "head.gguf"
    head.write_bytes(data[:100_000])           # cut inside the vocabulary array
    with pytest.raises(ModelFileError, match="damaged GGUF header"):
        read_gguf_meta(head)
    half = tmp_path / "half.gguf"
    half.write_bytes(data[: len(data) // 2])   # header complete, tensor data cut
    with pytest.raises(ModelFileError, match="truncated"):
        read_gguf_meta(half)
