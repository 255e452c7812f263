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
    assert any("tokenizer_file_hashes[vocab.json] is not a digest with its algorithm" in p for p in problems)
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


GOAL_TARGETS = ["meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.3-70B-Instruct", "meta-llama/Llama-2-70b-chat-hf",
                "Qwen/Qwen2.5-72B-Instruct", "Qwen/Qwen2.5-Coder-32B-Instruct", "Qwen/Qwen3-32B",
                "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "google/gemma-2-27b-it", "mistralai/Mixtral-8x7B-Instruct-v0.1",
                "microsoft/Phi-3-medium-4k-instruct", "facebook/opt-6.7b", "openai-community/gpt2-large"]


def test_issue_goal_targets_and_their_drafts_are_in_the_catalog():
    """Issue 11 goals: the targets named there resolve offline, instruct ones flagged, with a same-family draft at
    most a third of their size (the 73-model catalog had no Qwen2.5-72B-Instruct, Llama-2-70b-chat-hf or
    Mixtral-8x7B-Instruct, and no draft made for a target: JackFram/llama-68m, double7/vicuna-68m)."""
    cat = CatalogSource()
    data = load_catalog()["models"]
    for target in GOAL_TARGETS:
        entry = cat.resolve(target).catalog
        assert entry["is_instruct"] is (target.split("/")[0] not in ("facebook", "openai-community")), target
        drafts = [m for m, e in data.items() if e["family"] == entry["family"] and m != target
                  and e["num_parameters"] * 3 <= entry["num_parameters"]]
        assert drafts, f"{target}: no same-family draft in the catalog"
    for draft in ("JackFram/llama-68m", "JackFram/llama-160m", "double7/vicuna-68m", "Qwen/Qwen2.5-0.5B-Instruct"):
        assert data[draft]["num_parameters"] < 600_000_000, draft
    assert data["meta-llama/Llama-2-70b-chat-hf"]["base_model"] == "meta-llama/Llama-2-70b-hf"
    assert data["mistralai/Mixtral-8x7B-Instruct-v0.1"]["base_model"] == "mistralai/Mixtral-8x7B-v0.1"


def test_transcribed_values_say_so_in_their_provenance():
    """A config whose values come from a page or a derivative (not byte-exact copies) is labelled in its
    provenance, never presented as a copy."""
    data = load_catalog()["models"]
    for row in _manifest_rows():
        if row["file"] == "config.json" and row["kind"] == "transcribed" and row["model_id"] in data:
            prov = data[row["model_id"]]["provenance"]["config"]
            assert "values transcribed from" in prov and "copy of" not in prov, row["model_id"]


def test_a_published_pin_links_an_instruct_release_to_its_base_tokenizer():
    """Mixtral-8x7B-Instruct-v0.1's tokenizer.model is pinned by a public download script; its sha256 equals the
    Mistral v1 SentencePiece model copied for Mistral-7B-v0.1 (a file-hash match the finder can use offline)."""
    data = load_catalog()["models"]
    inst = data["mistralai/Mixtral-8x7B-Instruct-v0.1"]["tokenizer_file_hashes"]
    assert inst["tokenizer.model"] == data["mistralai/Mistral-7B-v0.1"]["tokenizer_file_hashes"]["tokenizer.model"]
    prov = data["mistralai/Mixtral-8x7B-Instruct-v0.1"]["provenance"]["tokenizer_file_hashes.tokenizer.model"]
    assert prov.startswith("pinned sha256 in")
    q_base, q_inst = (data[m]["tokenizer_file_hashes"] for m in ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct"))
    assert q_base["vocab.json"] == q_inst["vocab.json"] and q_base["merges.txt"] == q_inst["merges.txt"]


@pytest.mark.parametrize("family", ["llama", "llama3", "mistral", "qwen2", "qwen3", "gemma2", "smollm2", "pythia", "opt", "phi", "falcon3"])
def test_a_family_never_mixes_vocabularies(family):
    """Catalog drafts are proposed within a family, so a family must not hold two tokenizers. Falcon3, Ministral,
    Yi, Megrez (Llama/Mistral architecture, own 64k-131k vocabularies), Llama-4, Qwen3.5 and Gemma 4 once fell
    into llama / mistral / qwen3 / gemma by architecture or name; the vocabulary sizes of one family now stay
    within 3 % of each other (padding to a multiple of 64/128 and a few added tokens)."""
    sizes = {}
    for model_id, entry in load_catalog()["models"].items():
        if entry["family"] == family:
            cfg = entry["config"]
            size = cfg.get("vocab_size") or (cfg.get("text_config") or {}).get("vocab_size")
            if size:                                  # a composite config may leave it to the class default
                sizes[model_id] = size
    assert len(sizes) >= 2, sizes
    assert max(sizes.values()) <= 1.03 * min(sizes.values()), sizes


def test_digest_values_carry_their_algorithm():
    """tokenizer_file_hashes values: a bare sha256 (the first format), "sha256:…", "git-sha1:<40 hex>", or a list
    with one digest per algorithm; anything else is named (a bare 40-hex value could be read as either)."""
    from draftfinder.models.sources.catalog import digest_problem

    sha, blob = "ab" * 32, "cd" * 20
    for good in (sha, f"sha256:{sha}", f"git-sha1:{blob}", [sha, f"git-sha1:{blob}"]):
        assert digest_problem(good) is None, good
    for bad in (blob, f"git-sha1:{sha}", f"sha1:{blob}", f"GIT-SHA1:{blob}", [], [sha, f"sha256:{sha}"], 5):
        assert digest_problem(bad), bad
    data = json.loads(CATALOG.read_text())
    data["models"]["Qwen/Qwen2.5-7B-Instruct"]["tokenizer_file_hashes"]["vocab.json"] = blob
    assert any("tokenizer_file_hashes[vocab.json] is not a digest" in p for p in validate_catalog(data))


def test_llama_3_1_and_3_2_instruct_pin_one_tokenizer_json():
    """Llama-3.1-8B-Instruct's tokenizer.json is pinned by sha256 and by the git blob SHA-1 of its Hub listing;
    Llama-3.2-1B-Instruct's by sha256 (a snapshot audit): the sha256 values are equal, each has its source."""
    data = load_catalog()["models"]
    big = data["meta-llama/Llama-3.1-8B-Instruct"]
    small = data["meta-llama/Llama-3.2-1B-Instruct"]
    sha, blob = big["tokenizer_file_hashes"]["tokenizer.json"]
    assert blob.startswith("git-sha1:") and len(blob) == len("git-sha1:") + 40
    assert small["tokenizer_file_hashes"]["tokenizer.json"] == sha
    prov = big["provenance"]["tokenizer_file_hashes.tokenizer.json"]
    assert "sha256: pinned sha256 in" in prov and "git-sha1: pinned git blob SHA-1 in" in prov
    assert small["provenance"]["tokenizer_file_hashes.tokenizer.json"].startswith("pinned sha256 in github:")
