"""The embedded catalog: built by scripts/build_catalog.py from real files, sound, and still up to date."""

import copy
import csv
import hashlib
import json
import subprocess
import sys

import pytest

from draftfinder.compat.facts import facts_from_tokenizer
from draftfinder.compat.tokenizer import load_tokenizer
from draftfinder.models.sources.base import ModelRecord
from draftfinder.models.sources.catalog import (CatalogSource, load_catalog, validate_catalog,
                                                vocabulary_file_hashes)

from tests.conftest import FIXTURES, REPO

TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "tokenizer.model")
MANIFEST = REPO / "scripts" / "catalog_sources.tsv"
CATALOG = REPO / "draftfinder" / "data" / "catalog.json"


def _manifest_rows():
    with MANIFEST.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _folder(model_id):
    return {"openai-community/gpt2": "gpt2", "distilbert/distilgpt2": "distilgpt2"}.get(
        model_id, model_id.replace("/", "__"))


def _fixture_covered_models():
    """Catalog models whose every shipped source file (copy / reconstructed) is in ../shared/fixtures."""
    if not FIXTURES.is_dir():
        return []
    files = {}
    for row in _manifest_rows():
        if row["kind"] != "pin":
            files.setdefault(row["model_id"], []).append(row)
    covered = []
    for model_id, rows in sorted(files.items()):
        folder = FIXTURES / _folder(model_id)
        if not folder.is_dir() or {p.name for p in folder.iterdir()} != {r["file"] for r in rows}:
            continue
        if all(hashlib.sha256((folder / r["file"]).read_bytes()).hexdigest() == r["sha256"] for r in rows):
            covered.append(model_id)
    return covered


def _fixtures_with_tokenizers():
    """Fixture folders with tokenizer files that are exactly their catalog entry's sources. (TinyLlama's entry
    is built from the Hub's tokenizer.json too, which the fixture lacks; transformers 5 loading the fixture's
    tokenizer.model alone adds no BOS: another identity, rightly not compared.)"""
    if not FIXTURES.is_dir():
        return []
    covered = {_folder(m) for m in _fixture_covered_models()}
    return sorted(p.name for p in FIXTURES.iterdir() if p.name in covered
                  and (p / "config.json").is_file() and any((p / f).exists() for f in TOKENIZER_FILES))


@pytest.mark.slow
def test_fixture_part_of_the_catalog_matches_a_fresh_build(fixtures, tmp_path):
    """Rebuilds every catalog entry whose source files ../shared/fixtures holds, from those files and the
    committed manifest, and requires the committed entries to equal it (guards against hand edits, and against
    a checker change that would alter the stored facts)."""
    covered = _fixture_covered_models()
    assert len(covered) >= 12, covered
    out = tmp_path / "catalog.json"
    proc = subprocess.run([sys.executable, "scripts/build_catalog.py", "--sources", str(fixtures),
                           "--manifest", str(MANIFEST), "--out", str(out), "--only", *covered],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    fresh = json.loads(out.read_text())
    committed = json.loads(CATALOG.read_text())
    assert sorted(fresh["models"]) == sorted(covered)
    for model_id in covered:
        assert fresh["models"][model_id] == committed["models"][model_id], model_id
        key = fresh["models"][model_id]["tokenizer"]
        if key:
            assert fresh["tokenizers"][key] == committed["tokenizers"][key], model_id


def test_committed_catalog_is_sound():
    """validate_catalog: every fact has its provenance, every tokenizer key resolves, hashes are sha256."""
    data = json.loads(CATALOG.read_text())
    assert validate_catalog(data) == []


def test_a_corrupt_entry_is_reported_by_name():
    """A missing provenance, a dangling tokenizer key or a bad hash is named (it fails here, not for a user)."""
    data = json.loads(CATALOG.read_text())
    bad = copy.deepcopy(data)
    entry = bad["models"]["Qwen/Qwen2.5-7B-Instruct"]
    del entry["provenance"]["config"]
    entry["tokenizer"] = "no-such-key"
    entry["tokenizer_file_hashes"]["vocab.json"] = "abc"
    bad["models"]["gpt2-typo"] = {"config": {}}
    problems = validate_catalog(bad)
    assert "Qwen/Qwen2.5-7B-Instruct: no provenance for config" in problems
    assert "Qwen/Qwen2.5-7B-Instruct: tokenizer no-such-key is not in 'tokenizers'" in problems
    assert any("tokenizer_file_hashes[vocab.json] is not a sha256" in p for p in problems)
    assert any(p.startswith("gpt2-typo: num_parameters") for p in problems)


def test_catalog_holds_facts_not_files():
    cat = CatalogSource()
    qwen = cat.resolve("Qwen/Qwen2.5-7B")
    assert qwen.catalog["num_parameters"] == 7_615_616_512
    assert qwen.config["vocab_size"] == 152064
    facts = cat.tokenizer_facts(qwen)
    assert facts["n_tokens"] == 151_665
    text = CATALOG.read_text()
    assert "Ġthe" not in text and "{%- if" not in text          # no vocabulary, no chat template copied in
    assert len(text) < 6 * 1024 * len(cat.models())               # compact: a few KiB of facts per model
    base, inst = cat.resolve("Qwen/Qwen2.5-7B"), cat.resolve("Qwen/Qwen2.5-7B-Instruct")
    assert cat.tokenizer_facts(base)["fingerprint"] == cat.tokenizer_facts(inst)["fingerprint"]
    assert base.catalog["tokenizer"] != inst.catalog["tokenizer"]             # EOS differs: stored apart


def test_instruct_variants_carry_their_chat_facts():
    """Issue 11 §1: instruct/chat variants are in the catalog with is_instruct, chat template and base model
    (the 22-model catalog had no Qwen2.5-*-Instruct draft, so an expert pick was impossible)."""
    cat = CatalogSource()
    small = cat.resolve("Qwen/Qwen2.5-1.5B-Instruct").catalog
    assert small["is_instruct"] is True and small["base_model"] == "Qwen/Qwen2.5-1.5B"
    assert small["has_chat_template"] is True and len(small["chat_template_sha256"]) == 64
    assert small["special_tokens"]["eos_token"] == "<|im_end|>"
    assert "hf_api.json" in small["provenance"]["chat_template"]
    base = cat.resolve("Qwen/Qwen2.5-7B").catalog
    assert base["is_instruct"] is False and base["base_model"] is None
    assert cat.resolve("Qwen/Qwen3-32B").catalog["is_instruct"] is True           # post-trained; base is -Base
    assert cat.resolve("meta-llama/Meta-Llama-3.1-8B").model_id == "meta-llama/Llama-3.1-8B"   # renamed id


def test_file_hashes_identify_shared_vocabularies():
    """gpt2 and distilgpt2 ship byte-identical tokenizer files; Qwen2.5 and Qwen3 merges differ by a header."""
    cat = CatalogSource()
    gpt2 = vocabulary_file_hashes(cat.resolve("gpt2").catalog)
    assert gpt2 == vocabulary_file_hashes(cat.resolve("distilgpt2").catalog)
    assert set(gpt2) == {"tokenizer.json"}
    q25 = cat.resolve("Qwen/Qwen2.5-1.5B-Instruct").catalog["tokenizer_file_hashes"]
    q3 = cat.resolve("Qwen/Qwen3-32B").catalog["tokenizer_file_hashes"]
    assert q25["merges.txt"] != q3["merges.txt"]
    for entry in (cat.resolve(m).catalog for m in cat.models()):
        for name in entry["tokenizer_file_hashes"]:
            assert f"tokenizer_file_hashes.{name}" in entry["provenance"]


def test_published_parameter_counts_agree_with_the_meta_count():
    """Where a source recorded the Hub's safetensors total, it equals our meta-device count, or differs by
    exactly what the checkpoint stores besides unique parameters (tied lm_head stored twice, GPT-2 attention
    mask buffers, Llama-2 rotary inv_freq, Qwen3-Next MTP layers)."""
    data = load_catalog()
    explained = {"Qwen/Qwen3-0.6B": 151936 * 1024,                 # lm_head saved beside tied embeddings
                 "openai-community/gpt2": 12 * 1024 * 1024,        # attn.bias masks, 12 layers
                 "distilbert/distilgpt2": 6 * 1024 * 1024,
                 "meta-llama/Llama-2-7b-hf": 32 * 64}              # rotary_emb.inv_freq per layer
    checked = 0
    for model_id, entry in data["models"].items():
        published = entry.get("published_num_parameters")
        if published is None or "meta device" not in entry["parameters_method"]:
            continue
        if entry["config"].get("num_nextn_predict_layers") or "Next" in model_id:
            continue                                                 # MTP weights are not in the causal LM
        checked += 1
        assert published - entry["num_parameters"] == explained.get(model_id, 0), model_id
    assert checked >= 10


@pytest.mark.parametrize("folder", _fixtures_with_tokenizers())
def test_live_tokenizer_agrees_with_its_catalog_entry(folder):
    """A tokenizer loaded from the files and the catalog entry built from the same files have one identity
    (issue 9 §3b: under transformers 5.24 Mistral-7B-v0.1's live fingerprint no longer matched the catalog's).
    On a mismatch the message names the fields that differ."""
    cat = CatalogSource()
    path = FIXTURES / folder
    record = cat.resolve(folder.replace("__", "/"))          # gpt2, distilgpt2: catalog aliases
    stored = cat.tokenizer_facts(record)
    live = facts_from_tokenizer(load_tokenizer(ModelRecord(model_id=record.model_id, source="local",
                                                           local_dir=path))).to_dict()
    differing = sorted(k for k in set(live) | set(stored) if live.get(k) != stored.get(k))
    assert live["fingerprint"] == stored["fingerprint"] and not differing, (
        f"{record.model_id}: live facts differ from the catalog in {differing}; if a dependency upgrade changed "
        "the tokenizer's behaviour on purpose, rebuild the catalog (python scripts/build_catalog.py)")
