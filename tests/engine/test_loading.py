"""Loading models for generation (engine/loading.py): zoo GGUF, local folders, and the errors users see."""

from __future__ import annotations

import shutil
import sys

import pytest
import torch

from draftfinder.engine.loading import LoadedModel, clear_model_cache, load_model
from draftfinder.errors import (
    DraftFinderError,
    MissingDependencyError,
    ModelFileError,
    ModelNotFoundError,
    OfflineUnavailableError,
    UsageError,
)
from draftfinder.models.resolver import Resolver
from draftfinder.models.sources.base import ModelRecord
from draftfinder.compat.tokenizer import load_tokenizer
from tests.conftest import fixture_dir
from tests.enginekit import tiny_llama


def offline() -> Resolver:
    return Resolver(offline=True)


@pytest.mark.slow
def test_zoo_model_loads_once_ready_to_generate(smollm2_gguf, capfd):
    """Real weights: SmolLM2-135M-Instruct Q4_1 GGUF, dequantized to float32 (~12 s, once per process)."""
    loaded = load_model("zoo:smollm2-135m", resolver=offline())
    assert capfd.readouterr() == ("", "")                              # no progress bars, no warnings
    assert isinstance(loaded, LoadedModel)
    assert loaded.record.source == "zoo" and loaded.record.gguf_path == smollm2_gguf
    assert type(loaded.model).__name__ == "LlamaForCausalLM"
    assert not loaded.model.training
    assert not any(p.requires_grad for p in loaded.model.parameters())
    assert loaded.model.dtype == torch.float32
    assert loaded.vocab_size == 49152
    assert 2 in loaded.eos_token_ids                                     # <|im_end|>
    assert loaded.decode(loaded.tokenizer.encode("Hello world")) == "Hello world"
    again = load_model("zoo:smollm2-135m", resolver=offline())        # cached: the same objects, not a reload
    by_path = load_model(str(smollm2_gguf), resolver=offline())     # same file under another name
    assert again is loaded
    assert by_path.model is loaded.model and by_path.tokenizer is loaded.tokenizer
    assert by_path.name == str(smollm2_gguf) and by_path.record.source == "gguf"


def test_missing_gguf_file_is_a_one_line_not_found_error(tmp_path):
    missing = tmp_path / "nowhere" / "model.gguf"
    with pytest.raises(ModelNotFoundError) as err:
        load_model(str(missing), resolver=offline())
    assert str(missing) in str(err.value) and "check the path" in str(err.value)
    assert "\n" not in str(err.value)


def test_damaged_gguf_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"garbage, not a GGUF file")
    with pytest.raises(ModelFileError, match="bad.gguf"):
        load_model(str(bad), resolver=offline())


def test_folder_without_weights_says_so(tmp_path):
    folder = tmp_path / "SmolLM2-135M"
    folder.mkdir()
    (folder / "config.json").write_bytes((fixture_dir("HuggingFaceTB/SmolLM2-135M") / "config.json").read_bytes())
    with pytest.raises(ModelFileError) as err:
        load_model(str(folder), resolver=offline())
    assert "no weights" in str(err.value) and str(folder) in str(err.value)


def test_unknown_hub_id_offline_and_catalog_only_model(tmp_path):
    with pytest.raises(OfflineUnavailableError):
        load_model("someone/no-such-model", resolver=offline())
    with pytest.raises(ModelNotFoundError, match="facts, not its weights"):
        load_model("Qwen/Qwen2.5-7B", resolver=offline())               # known to the built-in catalog only


def test_local_folder_loads_with_its_tokenizer_and_dtype(tmp_path, smollm2_gguf, capfd):
    """A folder written by save_pretrained: tiny random Llama + SmolLM2's real tokenizer."""
    smol = load_tokenizer(ModelRecord(model_id="smol", source="gguf", gguf_path=smollm2_gguf))
    folder = tmp_path / "tiny"
    tiny_llama(0, vocab=49152, hidden=16).model.save_pretrained(folder)
    smol.save_pretrained(folder)
    capfd.readouterr()
    loaded = load_model(str(folder), resolver=offline(), dtype=torch.float64)
    assert capfd.readouterr() == ("", "")
    assert loaded.model.dtype == torch.float64 and loaded.record.source == "local"
    assert loaded.tokenizer.encode("Hello world") == smol.encode("Hello world")
    assert load_model(str(folder), resolver=offline(), dtype="float64") is loaded
    assert load_model(str(folder), resolver=offline()) is not loaded   # another dtype, another model
    with pytest.raises(UsageError, match="int8"):
        load_model(str(folder), resolver=offline(), dtype="int8")
    clear_model_cache()
    assert load_model(str(folder), resolver=offline(), dtype=torch.float64) is not loaded


def test_gguf_without_accelerate_names_the_package(smollm2_gguf, monkeypatch, tmp_path):
    copy = tmp_path / "copy.gguf"                                     # another file: not in the model cache
    shutil.copyfile(smollm2_gguf, copy)
    monkeypatch.setitem(sys.modules, "accelerate", None)               # as if it were not installed
    with pytest.raises(MissingDependencyError) as err:
        load_model(str(copy), resolver=offline())
    assert "accelerate" in str(err.value) and "pip install accelerate" in str(err.value)
    assert isinstance(err.value, DraftFinderError)


def test_loaded_model_eos_ids_merge_config_tokenizer_and_extras(smollm2_gguf):
    tok = load_tokenizer(ModelRecord(model_id="smol", source="gguf", gguf_path=smollm2_gguf))
    tiny = tiny_llama(0, vocab=49152, hidden=16)
    tiny.model.generation_config.eos_token_id = [7]
    loaded = LoadedModel("tiny", tiny.model, tokenizer=tok, extra_eos_ids=[9, 7])
    assert loaded.eos_token_ids == [7, tok.eos_token_id, 9]
    assert LoadedModel("bare", tiny_llama(1).model).eos_token_ids == []
    assert LoadedModel("bare", tiny_llama(1).model).decode([1, 2]) == ""


def test_placement_keywords_for_from_pretrained():
    """None (the CPU): no device_map, the load is what it always was; one accelerator: straight onto it; spread:
    accelerate's device_map="auto" with the per-GPU budget."""
    from draftfinder.engine.device import Placement
    from draftfinder.engine.loading import _placement_kwargs

    assert _placement_kwargs(None) == {}
    assert _placement_kwargs(Placement(device="cuda:1")) == {"device_map": {"": "cuda:1"}}
    spread = Placement(device="cuda:0", device_map="auto", max_memory={0: 10, 1: 20})
    assert _placement_kwargs(spread) == {"device_map": "auto", "max_memory": {0: 10, 1: 20}}


def test_a_one_device_placement_loads_through_accelerate_with_the_same_outputs(tmp_path):
    """The device_map path of from_pretrained, run for real on the one device here (the CPU)."""
    import transformers

    from draftfinder.engine.device import Placement, weight_devices
    from draftfinder.engine.loading import _from_pretrained, _placement_kwargs

    tiny = tiny_llama(3, layers=2)
    tiny.model.save_pretrained(str(tmp_path))
    model = _from_pretrained(transformers, tmp_path, str(tmp_path), torch.float32,
                             **_placement_kwargs(Placement(device="cpu"))).eval()
    assert weight_devices(model) == ["cpu"]
    ids = torch.tensor([[1, 5, 2, 7]])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, tiny.model(ids).logits)
