"""Local folders, .gguf files, --models-dir scans and the HF cache, built in tmp from real files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import fixture_dir
from draftfinder.errors import ModelFileError, ModelNotFoundError
from draftfinder.models.analysis import ModelAnalyzer
from draftfinder.models.sources.base import ModelRecord
from draftfinder.models.sources.local import HFCacheSource, LocalSource, hf_hub_cache, scan_models_dir


def copy_fixture(model_id: str, dest: Path) -> Path:
    shutil.copytree(fixture_dir(model_id), dest)
    return dest


def test_folder_with_a_real_checkpoint(tmp_path, fixtures):
    """config + tokenizer from the fixture, weights saved by transformers (small fp16 gpt2)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    folder = tmp_path / "tiny-gpt2"
    config = AutoConfig.from_pretrained(fixture_dir("gpt2"), n_layer=2, n_embd=64, n_head=4)
    model = AutoModelForCausalLM.from_config(config).to(torch.float16)
    model.save_pretrained(folder)
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        shutil.copy(fixture_dir("gpt2") / name, folder / name)
    expected = sum(p.numel() for p in model.parameters())

    record = LocalSource().resolve(str(folder))
    assert record.source == "local" and record.local_dir == folder
    assert record.safetensors_parameters == {"F16": expected}
    assert record.safetensors_source == "safetensors-header"
    assert record.weights_bytes == expected * 2
    assert record.has_tokenizer_files()
    assert "model.safetensors" in record.files

    info = ModelAnalyzer.analyze_record(record)
    assert (info.num_parameters, info.parameters_source, info.parameters_exact) == (expected, "safetensors-header", True)
    assert info.memory_source == "exact" and info.bits_per_param == 16.0
    assert info.model_family == "gpt2"
    assert info.tokenizer_vocab_size == 50_257


def test_gguf_file(tmp_path, smollm2_gguf):
    link = tmp_path / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    link.parent.mkdir()
    link.symlink_to(smollm2_gguf)
    record = LocalSource().resolve(str(link))
    assert record.source == "gguf"
    assert record.gguf_path == link and record.local_dir == link.parent
    assert record.config["model_type"] == "llama" and record.config["num_hidden_layers"] == 30
    assert record.weights_bytes == 96_576_768
    info = ModelAnalyzer.analyze_record(record)
    assert (info.num_parameters, info.parameters_source) == (134_515_008, "gguf-tensors")
    assert info.quantization.value == "gguf" and info.dtype == "Q4_1"
    assert info.model_family == "smollm2"
    assert info.gguf_file == link.name


def test_folder_holding_one_gguf(tmp_path, smollm2_gguf):
    (tmp_path / "model.gguf").symlink_to(smollm2_gguf)
    record = LocalSource().resolve(str(tmp_path))
    assert record.source == "gguf" and record.gguf_path == tmp_path / "model.gguf"
    (tmp_path / "other.gguf").symlink_to(smollm2_gguf)
    with pytest.raises(ModelFileError, match="holds 2 .gguf files"):
        LocalSource().resolve(str(tmp_path))


def test_bad_paths(tmp_path):
    with pytest.raises(ModelNotFoundError, match="local disk"):
        LocalSource().resolve(str(tmp_path / "absent"))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelFileError, match="not a .gguf file or a model folder"):
        LocalSource().resolve(str(tmp_path / "notes.txt"))


def test_scan_models_dir(tmp_path, fixtures, smollm2_gguf):
    root = tmp_path / "models"
    copy_fixture("Qwen/Qwen2.5-0.5B", root / "Qwen" / "Qwen2.5-0.5B")
    copy_fixture("gpt2", root / "gpt2")
    (root / "gguf" / "small").mkdir(parents=True)
    (root / "gguf" / "small" / "smollm2.gguf").symlink_to(smollm2_gguf)
    (root / "gguf" / "small" / "big-00002-of-00003.gguf").write_bytes(b"later shard: skipped")
    (root / "broken").mkdir()
    (root / "broken" / "config.json").write_text("{not json")
    (root / "fake.gguf").write_text("not a gguf")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.gguf").symlink_to(smollm2_gguf)
    deep = root / "a" / "b" / "c" / "d" / "e"
    copy_fixture("distilgpt2", deep)                       # 5 levels down: beyond the default depth

    records, problems = scan_models_dir(root)
    found = {(r.source, Path(r.gguf_path or r.local_dir).relative_to(root).as_posix()) for r in records}
    assert found == {("local", "Qwen/Qwen2.5-0.5B"), ("local", "gpt2"), ("gguf", "gguf/small/smollm2.gguf")}
    assert len(problems) == 2
    assert any(p.startswith(str(root / "broken")) and "invalid JSON" in p for p in problems)
    assert any(p.startswith(str(root / "fake.gguf")) and "not a GGUF file" in p for p in problems)

    records, _ = scan_models_dir(root, max_depth=6)
    assert any(r.local_dir == deep for r in records)


def test_scan_missing_dir(tmp_path):
    records, problems = scan_models_dir(tmp_path / "absent")
    assert records == [] and problems == [f"{tmp_path / 'absent'}: not a folder"]


# --- HF cache -------------------------------------------------------------------------------------------

def make_cached_repo(cache: Path, repo_id: str, files: dict, commit: str, ref: str | None = "main") -> Path:
    """The huggingface_hub cache layout: blobs/<hash>, snapshots/<commit>/<file> → ../../blobs/<hash>,
    refs/<ref> holding the commit."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for name, source in files.items():
        blob = repo / "blobs" / f"{commit[:8]}-{name}"
        if Path(source).is_file() and Path(source).stat().st_size > 10_000_000:
            blob.symlink_to(source)                      # large real files: link rather than copy
        else:
            shutil.copy(source, blob)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / name)
    if ref:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    return snapshot


@pytest.fixture
def hf_cache(fixtures, smollm2_gguf):
    cache = hf_hub_cache()
    assert cache == Path(os.environ["HF_HUB_CACHE"])      # conftest points it at a tmp dir
    qwen = fixture_dir("Qwen/Qwen2.5-0.5B")
    files = {n: qwen / n for n in ("config.json", "vocab.json", "merges.txt", "tokenizer_config.json")}
    old = make_cached_repo(cache, "Qwen/Qwen2.5-0.5B", {"config.json": qwen / "config.json"}, "a" * 40, ref=None)
    os.utime(old / "config.json", (1, 1), follow_symlinks=False)
    new = make_cached_repo(cache, "Qwen/Qwen2.5-0.5B", files, "b" * 40)
    gpt2 = fixture_dir("gpt2")
    make_cached_repo(cache, "openai-community/gpt2", {"config.json": gpt2 / "config.json"}, "c" * 40)
    make_cached_repo(cache, "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
                     {"SmolLM2-135M-Instruct.Q4_1.gguf": smollm2_gguf}, "d" * 40)
    return cache, new


def test_hf_cache_resolve_newest_snapshot(hf_cache):
    cache, newest = hf_cache
    source = HFCacheSource()
    assert source.models() == ["HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", "Qwen/Qwen2.5-0.5B", "openai-community/gpt2"]
    record = source.resolve("qwen/qwen2.5-0.5b")
    assert record.source == "hf-cache" and record.model_id == "Qwen/Qwen2.5-0.5B"
    assert record.local_dir == newest and record.revision == "b" * 40
    assert record.author == "Qwen"
    assert record.has_tokenizer_files()
    info = ModelAnalyzer.analyze_record(record)
    assert info.num_parameters == 494_032_768 and info.is_official and info.source == "hf-cache"
    gguf = source.resolve("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF")
    assert gguf.source == "hf-cache" and gguf.gguf_path is not None
    assert ModelAnalyzer.analyze_record(gguf).num_parameters == 134_515_008


def test_hf_cache_search_by_family(hf_cache):
    source = HFCacheSource()
    target = ModelRecord("Qwen/Qwen2.5-7B", "hub")
    assert [c.model_id for c in source.search("qwen2", target=target, limit=10)] == ["Qwen/Qwen2.5-0.5B"]
    assert source.search("qwen2", target=ModelRecord("Qwen/Qwen2.5-0.5B", "hub"), limit=10) == []
    assert [c.model_id for c in source.search("smollm2", target=target, limit=10)] == [
        "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"]
    assert [c.source for c in source.search("gpt2", target=target, limit=10)] == ["hf-cache"]


def test_hf_cache_missing_model_and_empty_cache(tmp_path):
    source = HFCacheSource(tmp_path / "nothing-here")
    assert source.models() == []
    with pytest.raises(ModelNotFoundError, match="local HF cache"):
        source.resolve("gpt2")
