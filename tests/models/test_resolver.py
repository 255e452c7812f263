"""Name resolution order and fallbacks (resolver.py)."""

import os
from pathlib import Path

import pytest

from draftfinder.errors import ModelNotFoundError, NetworkError, OfflineUnavailableError
from draftfinder.models.resolver import Resolver

from tests.conftest import fixture_dir


def test_offline_uses_catalog_with_a_note():
    r = Resolver(offline=True)
    rec = r.resolve("qwen/qwen2.5-7b")                  # case-insensitive
    assert rec.source == "catalog" and rec.model_id == "Qwen/Qwen2.5-7B"
    assert any("catalog" in n for n in r.notes)


def test_catalog_aliases():
    assert Resolver(offline=True).resolve("gpt2").model_id == "openai-community/gpt2"


def test_unreachable_hub_is_asked_once_then_catalog():
    r = Resolver()                                     # conftest: HF_ENDPOINT is a closed port
    assert r.resolve("Qwen/Qwen2.5-0.5B").source == "catalog"
    assert isinstance(r.hub_down, NetworkError)
    assert any("Hub unreachable" in n for n in r.notes)
    with pytest.raises(NetworkError):                  # not in the catalog: the network error is the answer
        r.resolve("someone/unknown-model")


def test_offline_unknown_model():
    with pytest.raises(OfflineUnavailableError):
        Resolver(offline=True).resolve("gpt2-xl")


def test_local_path_and_models_dir_names(tmp_path):
    import shutil

    folder = tmp_path / "models" / "my-qwen-draft"
    shutil.copytree(fixture_dir("Qwen/Qwen2.5-0.5B"), folder)
    r = Resolver(offline=True, models_dirs=[str(tmp_path / "models")])
    assert r.resolve(str(folder)).source == "local"
    assert r.resolve("my-qwen-draft").local_dir == folder
    assert len(r.local_records()) == 1
    with pytest.raises(ModelNotFoundError):
        r.resolve("./missing-folder")


def test_incomplete_hf_cache_snapshot_falls_through_to_catalog():
    """Regression: a snapshot holding only model.safetensors.index.json (no config.json) must not abort."""
    snap = Path(os.environ["HF_HUB_CACHE"]) / "models--Qwen--Qwen2.5-7B" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "model.safetensors.index.json").write_text('{"metadata": {}, "weight_map": {}}')
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text("abc123")
    r = Resolver(offline=True)
    assert r.resolve("Qwen/Qwen2.5-7B").source == "catalog"
    assert any("skipped the HF cache copy" in n for n in r.notes)
