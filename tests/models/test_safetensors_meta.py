"""Parameter counting from real safetensors headers (written by transformers, or from real model shapes)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from tests.conftest import fixture_dir
from draftfinder.errors import ModelFileError
from draftfinder.models.safetensors_meta import count_parameters, read_header

GPT2_PARAMS = 124_439_808
TINYLLAMA_PARAMS = 1_100_048_384
BYTES = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4, "U8": 1, "I64": 8}


def write_safetensors(path: Path, tensors: dict, metadata: dict | None = None) -> Path:
    """A valid safetensors file for {name: (dtype, shape)}: real header, zero data written as a sparse hole
    (so a 500 MB checkpoint costs nothing). ``safetensors.safe_open`` accepts it (checked below)."""
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        n = 1
        for d in shape:
            n *= d
        size = n * BYTES[dtype]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + offset)
    return path


def meta_state_dict(config_dir: Path, dtype: str = "F32", drop=("lm_head.weight",)) -> dict:
    """{name: (dtype, shape)} of the real model built by transformers on the meta device."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(config_dir))
    return {k: (dtype, tuple(v.shape)) for k, v in model.state_dict().items() if k not in drop}


@pytest.fixture(scope="module")
def gpt2_shapes(fixtures):
    return meta_state_dict(fixture_dir("gpt2"))


def test_gpt2_legacy_checkpoint_with_mask_buffers(tmp_path, gpt2_shapes):
    """The Hub's gpt2 model.safetensors stores names without ``transformer.`` and 12 causal masks
    ``h.N.attn.bias`` (1×1×1024×1024 fp32): they are buffers, not parameters."""
    import safetensors

    tensors = {k.removeprefix("transformer."): v for k, v in gpt2_shapes.items()}
    for i in range(12):
        tensors[f"h.{i}.attn.bias"] = ("F32", (1, 1, 1024, 1024))
    path = write_safetensors(tmp_path / "model.safetensors", tensors, {"format": "pt"})
    with safetensors.safe_open(str(path), "pt") as f:            # a file the official library accepts
        assert len(list(f.keys())) == len(tensors)
        assert f.get_slice("wte.weight").get_shape() == [50257, 768]
    count = count_parameters(tmp_path)
    assert count.total == GPT2_PARAMS
    assert count.by_dtype == {"F32": GPT2_PARAMS}
    assert count.excluded_elements == 12 * 1024 * 1024
    assert count.parameter_bytes == GPT2_PARAMS * 4
    assert count.weight_bytes == GPT2_PARAMS * 4                # masks excluded from the weight bytes
    assert count.bytes == (GPT2_PARAMS + 12 * 1024 * 1024) * 4
    assert count.metadata == {"format": "pt"}


def test_gpt2_sharded_index(tmp_path, gpt2_shapes):
    names = sorted(gpt2_shapes)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    weight_map = {}
    for file, keys in shards.items():
        write_safetensors(tmp_path / file, {k: ("F16", gpt2_shapes[k][1]) for k in keys})
        weight_map.update({k: file for k in keys})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": GPT2_PARAMS * 2}, "weight_map": weight_map}))
    count = count_parameters(tmp_path)
    assert count.total == GPT2_PARAMS
    assert count.by_dtype == {"F16": GPT2_PARAMS}
    assert count.bytes == GPT2_PARAMS * 2
    assert count.files == sorted(shards)


def test_checkpoint_written_by_transformers(tmp_path, fixtures):
    """A real save_pretrained (fp16, small gpt2 from the fixture config, sharded) counts like the model."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(fixture_dir("gpt2"), n_layer=2, n_embd=64, n_head=4)
    model = AutoModelForCausalLM.from_config(config).to(torch.float16)
    model.save_pretrained(tmp_path / "one")
    model.save_pretrained(tmp_path / "sharded", max_shard_size="2MB")
    expected = sum(p.numel() for p in model.parameters())
    assert (tmp_path / "sharded" / "model.safetensors.index.json").is_file()
    for folder in ("one", "sharded"):
        count = count_parameters(tmp_path / folder)
        assert count.total == expected
        assert count.by_dtype == {"F16": expected}


def test_gptq_packed_weights_count_as_parameters(tmp_path, fixtures):
    """TinyLlama laid out as an AutoGPTQ 4-bit checkpoint (group 128): qweight int32 [in/8, out] holds 8
    weights per element; qzeros/scales/g_idx are overhead. The count equals the fp16 model's."""
    shapes = meta_state_dict(fixture_dir("TinyLlama/TinyLlama-1.1B-Chat-v1.0"), "F16", drop=())
    tensors = {}
    for name, (dtype, shape) in shapes.items():
        if ".layers." in name and name.endswith("proj.weight"):
            out_f, in_f = shape
            base = name.removesuffix(".weight")
            tensors[base + ".qweight"] = ("I32", (in_f // 8, out_f))
            tensors[base + ".qzeros"] = ("I32", (in_f // 128, out_f // 8))
            tensors[base + ".scales"] = ("F16", (in_f // 128, out_f))
            tensors[base + ".g_idx"] = ("I32", (in_f,))
        else:
            tensors[name] = (dtype, shape)
    write_safetensors(tmp_path / "model.safetensors", tensors)
    count = count_parameters(tmp_path, quant_bits=4)
    assert count.total == TINYLLAMA_PARAMS
    assert set(count.by_dtype) == {"I32", "F16"}
    assert all(n.endswith((".qzeros", ".scales", ".g_idx")) for n in count.excluded)
    assert count.weight_bytes == count.bytes                       # overhead is part of the weights


def test_bnb_4bit_weights(tmp_path):
    """bitsandbytes 4-bit: uint8 [n/2, 1] weights plus absmax / quant_map / quant_state side tensors."""
    tensors = {
        "model.layers.0.mlp.down_proj.weight": ("U8", (2048 * 5632 // 2, 1)),
        "model.layers.0.mlp.down_proj.weight.absmax": ("F32", (2048 * 5632 // 64,)),
        "model.layers.0.mlp.down_proj.weight.quant_map": ("F32", (16,)),
        "model.layers.0.mlp.down_proj.weight.quant_state.bitsandbytes__nf4": ("U8", (120,)),
        "model.norm.weight": ("BF16", (2048,)),
    }
    write_safetensors(tmp_path / "model.safetensors", tensors)
    count = count_parameters(tmp_path, bnb_4bit=True)
    assert count.total == 2048 * 5632 + 2048
    assert len(count.excluded) == 3


def test_rotary_inv_freq_is_a_buffer(tmp_path):
    tensors = {"model.layers.0.self_attn.rotary_emb.inv_freq": ("F32", (64,)),
               "model.layers.0.self_attn.q_proj.weight": ("F16", (128, 128)),
               "gpt_neox.layers.0.attention.bias": ("U8", (1, 1, 2048, 2048)),
               "gpt_neox.layers.0.attention.dense.bias": ("F16", (128,))}
    write_safetensors(tmp_path / "model.safetensors", tensors)
    count = count_parameters(tmp_path)
    assert count.total == 128 * 128 + 128
    assert set(count.excluded) == {"model.layers.0.self_attn.rotary_emb.inv_freq", "gpt_neox.layers.0.attention.bias"}


def test_adapter_weights_are_not_the_model(tmp_path):
    write_safetensors(tmp_path / "adapter_model.safetensors", {"a.lora_A.weight": ("F32", (8, 64))})
    assert count_parameters(tmp_path) is None
    assert count_parameters(tmp_path / "adapter_model.safetensors").total == 512


def test_no_checkpoint(tmp_path):
    assert count_parameters(tmp_path) is None


def test_broken_files(tmp_path):
    good = write_safetensors(tmp_path / "good.safetensors", {"w": ("F32", (4, 4))})
    data = good.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(data[:-8])
    with pytest.raises(ModelFileError, match="truncated"):
        read_header(tmp_path / "trunc.safetensors")
    (tmp_path / "short.safetensors").write_bytes(b"\x01\x02")
    with pytest.raises(ModelFileError, match="shorter than"):
        read_header(tmp_path / "short.safetensors")
    (tmp_path / "huge.safetensors").write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(ModelFileError, match="implausible"):
        read_header(tmp_path / "huge.safetensors")
    (tmp_path / "json.safetensors").write_bytes(struct.pack("<Q", 4) + b"{{{{")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        read_header(tmp_path / "json.safetensors")


def test_missing_shard(tmp_path):
    write_safetensors(tmp_path / "model-00001-of-00002.safetensors", {"w": ("F32", (4,))})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"w": "model-00001-of-00002.safetensors", "v": "model-00002-of-00002.safetensors"}}))
    with pytest.raises(ModelFileError, match="missing: model-00002-of-00002.safetensors"):
        count_parameters(tmp_path)
