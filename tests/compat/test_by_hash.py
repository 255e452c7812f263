"""Tokenizer identity from public file hashes (compat/by_hash.py) and unverified pairs in find.

The hashes here are sha256 of the real fixture files (../shared/fixtures, byte-identical to the Hub's). Test
catalogs are the shipped catalog with entries changed as each test says (facts removed, hashes added), handed
to the resolver through ``load_catalog``: the code under test is the real one.

Before issue 11 a pair with no tokenizer files or facts on a side was rejected ("could not be checked"),
whatever its public hashes said, and vanished from the draft list: these tests fail on that behaviour.
"""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from draftfinder import DraftModelFinder
from draftfinder.compat.by_hash import (BY_FILE_HASH, UNVERIFIED, compare_hashes, engine_verdicts_by_hash,
                                        folder_hashes, git_blob_sha1, parse_digest, verify_by_hash)
from draftfinder.compat.engine_rules import engine_verdicts
from draftfinder.compat.facts import TokenizerFacts
from draftfinder.errors import NoCompatibleDraftsError
from draftfinder.find.config import FinderConfig
from draftfinder.models.sources import catalog as catalog_module

from tests.conftest import fixture_dir


def _hashes(model_id: str):
    return folder_hashes(fixture_dir(model_id))


def test_folder_hashes_are_the_sha256_of_the_files():
    got = _hashes("gpt2")
    data = (fixture_dir("gpt2") / "vocab.json").read_bytes()
    assert got["vocab.json"] == hashlib.sha256(data).hexdigest()
    assert set(got) == {"vocab.json", "merges.txt", "tokenizer_config.json"}


def test_gpt2_and_distilgpt2_files_are_identical_and_qwen_base_vs_instruct_differ_in_configuration_only():
    same = compare_hashes(_hashes("gpt2"), _hashes("distilgpt2"))
    assert same.identical and same.vocabulary_identical
    qwen = compare_hashes(_hashes("Qwen/Qwen2.5-7B"), _hashes("Qwen/Qwen2.5-7B-Instruct"))
    assert qwen.vocabulary_identical and not qwen.identical
    assert qwen.different == ["tokenizer_config.json"]
    llama_mistral = compare_hashes(_hashes("meta-llama/Llama-2-7b-hf"), _hashes("mistralai/Mistral-7B-v0.1"))
    assert llama_mistral.vocabulary_identical is False            # tokenizer.model differs in bytes
    assert compare_hashes(_hashes("gpt2"), _hashes("meta-llama/Llama-2-7b-hf")).vocabulary_identical is None


def test_hash_values_may_be_dicts_and_other_files_are_ignored():
    h = _hashes("gpt2")
    cmp = compare_hashes({k: {"sha256": v.upper()} for k, v in h.items()} | {"config.json": "0" * 64}, h)
    assert cmp.identical and "config.json" not in cmp.equal


def test_git_blob_sha1_is_gits_own_blob_id(tmp_path):
    """The Hub's blobId is git's blob id: ours equals ``git hash-object`` on the real gpt2 vocab.json."""
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git not installed")
    path = fixture_dir("gpt2") / "vocab.json"
    want = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True).stdout
    assert git_blob_sha1(path.read_bytes()) == want.strip()


def test_a_sha256_never_matches_a_git_sha1_of_the_same_bytes():
    """Digests are compared like with like: the sha256 and the git blob SHA-1 of one real file are not equal
    and not different — incomparable, so no verdict comes from them. Guards against comparing across algorithms
    (or reading a 40-hex blob id as a truncated sha256)."""
    data = (fixture_dir("gpt2") / "vocab.json").read_bytes()
    sha, blob = hashlib.sha256(data).hexdigest(), git_blob_sha1(data)
    cmp = compare_hashes({"vocab.json": sha}, {"vocab.json": f"git-sha1:{blob}"})
    assert cmp.equal == [] and cmp.different == [] and cmp.incomparable == ["vocab.json"]
    assert cmp.vocabulary_identical is None and not cmp.identical
    assert "different digest algorithms" in cmp.describe_differences()
    assert compare_hashes({"vocab.json": sha}, {"vocab.json": f"git-sha1:{sha[:40]}"}).equal == []
    assert parse_digest(blob) is None                       # a bare 40-hex value names no algorithm: ignored
    assert compare_hashes({"vocab.json": blob}, {"vocab.json": blob}).equal == []


def test_git_blob_ids_compare_among_themselves_and_lists_carry_both_algorithms():
    """Before the blob-id schema a git-sha1 pin was dropped as malformed; equal blob ids now prove identity,
    a file pinned by both algorithms matches either, and two algorithms that disagree count as different."""
    data = (fixture_dir("gpt2") / "vocab.json").read_bytes()
    sha, blob = hashlib.sha256(data).hexdigest(), git_blob_sha1(data)
    merges = hashlib.sha256((fixture_dir("gpt2") / "merges.txt").read_bytes()).hexdigest()
    by_blob = compare_hashes({"vocab.json": f"git-sha1:{blob}"}, {"vocab.json": f"GIT-SHA1:{blob.upper()}"})
    assert by_blob.equal == ["vocab.json"] and by_blob.vocabulary_identical
    assert by_blob.describe() == f"vocab.json git-sha1 {blob[:12]}…"
    both = [f"sha256:{sha}", f"git-sha1:{blob}"]
    assert compare_hashes({"vocab.json": both}, {"vocab.json": f"git-sha1:{blob}"}).equal == ["vocab.json"]
    assert compare_hashes({"vocab.json": both}, {"vocab.json": sha}).algorithm == {"vocab.json": "sha256"}
    split = compare_hashes({"vocab.json": both}, {"vocab.json": [sha, f"git-sha1:{'0' * 40}"]})
    assert split.different == ["vocab.json"] and split.vocabulary_identical is False
    assert compare_hashes({"merges.txt": merges}, {"merges.txt": f"sha256:{merges}"}).equal == ["merges.txt"]


def _config(model_id):
    return json.loads((fixture_dir(model_id) / "config.json").read_text())


def _catalog_facts(model_id):
    cat = catalog_module.CatalogSource()
    return TokenizerFacts.from_dict(cat.tokenizer_facts(cat.resolve(model_id)))


PAIRS = [("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-0.5B"), ("gpt2", "distilgpt2"),
         ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-0.5B"), ("meta-llama/Llama-2-7b-hf", "TinyLlama/TinyLlama-1.1B-Chat-v1.0")]


@pytest.mark.parametrize("target, draft", PAIRS)
def test_verdicts_by_hash_never_contradict_the_verdicts_from_the_tokenizer_facts(target, draft):
    """Out of sample for the hash rules: on pairs whose facts we hold, the engine verdicts derived from file
    hashes alone equal the ones the fingerprint path gives, or say "unknown" — never the opposite."""
    tc, dc = _config(target), _config(draft)
    cmp = compare_hashes(_hashes(target), _hashes(draft))
    assert cmp.vocabulary_identical
    by_hash = engine_verdicts_by_hash(cmp, tc, dc)
    by_facts = engine_verdicts(_catalog_facts(target), _catalog_facts(draft), tc, dc)
    decided = 0
    for engine, verdict in by_hash.items():
        if verdict.mode == "unknown":
            assert not verdict.compatible
            continue
        decided += 1
        assert (verdict.compatible, verdict.mode) == (by_facts[engine].compatible, by_facts[engine].mode), engine
    assert decided >= 2


def test_compatible_by_file_hash_is_labelled_so():
    cmp = compare_hashes(_hashes("Qwen/Qwen2.5-7B"), _hashes("Qwen/Qwen2.5-0.5B"))
    result = verify_by_hash(cmp, "Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-0.5B", target_config=_config("Qwen/Qwen2.5-7B"),
                            draft_config=_config("Qwen/Qwen2.5-0.5B"))
    assert result.is_compatible and result.verification == BY_FILE_HASH and result.method == "file-hash"
    assert result.checks[0].name == "tokenizer_files" and "compatible (by file hash)" in result.checks[0].reason
    assert result.engines["llama.cpp"].compatible                       # 152064 vs 151936: diff 128 <= 128
    assert result.engines["transformers"].mode == "universal-assisted-decoding"


def test_different_bytes_are_unverified_not_incompatible():
    cmp = compare_hashes(_hashes("meta-llama/Llama-2-7b-hf"), _hashes("mistralai/Mistral-7B-v0.1"))
    result = verify_by_hash(cmp, "meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1", missing=("x",))
    assert result.verification == UNVERIFIED and not result.is_compatible
    assert "tokenizer.model differs in bytes" in result.incompatibility_reasons[0]


# --- find with a test catalog ------------------------------------------------------------------------

@pytest.fixture
def test_catalog(monkeypatch):
    """The shipped catalog, deep-copied; the test edits it; the resolver reads it."""
    data = copy.deepcopy(catalog_module.load_catalog())
    monkeypatch.setattr(catalog_module, "load_catalog", lambda path=None: data)
    return data


def _find(target, **cfg):
    return DraftModelFinder(target, config=FinderConfig(offline=True, hardware="a100-80gb", **cfg)).find()


def test_pairs_without_facts_but_identical_public_hashes_are_compatible_by_file_hash(test_catalog):
    """Guards the issue: a pair without tokenizer files on a side was rejected although its files are
    byte-identical by their public hashes."""
    for model_id in ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B"):
        entry = test_catalog["models"][model_id]
        entry["tokenizer"] = None                                   # no facts: as for a model we never had files of
        entry["tokenizer_file_hashes"] = _hashes(model_id)
    result = _find("Qwen/Qwen2.5-7B")
    # Qwen2.5-Coder-0.5B-Instruct: its pinned vocab.json / merges.txt (@ea3f2471) equal Qwen2.5-7B's files too
    assert {c.model_id for c in result.candidates} == {"Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B",
                                                       "Qwen/Qwen2.5-Coder-0.5B-Instruct"}
    for c in result.candidates:
        assert c.compatibility.verification == BY_FILE_HASH and c.compatibility.method == "file-hash"
        if c.model_id != "Qwen/Qwen2.5-Coder-0.5B-Instruct":    # its tokenizer_config.json differs: added
            assert c.compatibility.engines["llama.cpp"].compatible  # tokens / BOS not known, verdict "unknown"
    data = result.to_dict()
    assert data["draft_models"][0]["compatibility"]["verification"] == "by-file-hash"
    from draftfinder.report.table import render_find

    assert "Tokenization match: compatible (by file hash)" in render_find(data, symbols=False)


def test_facts_are_borrowed_from_a_model_with_byte_identical_files(test_catalog):
    """gpt2-large has no tokenizer facts; with public hashes equal to distilgpt2's files it gets distilgpt2's
    facts and the ordinary fingerprint checks (the issue: gpt2-large + distilgpt2 share byte-identical files).
    The gpt2-large hashes here are gpt2's fixture files' (the issue's premise), the others their own."""
    test_catalog["models"]["openai-community/gpt2-large"]["tokenizer_file_hashes"] = _hashes("gpt2")
    test_catalog["models"]["openai-community/gpt2"]["tokenizer_file_hashes"] = _hashes("gpt2")
    test_catalog["models"]["distilbert/distilgpt2"]["tokenizer_file_hashes"] = _hashes("distilgpt2")
    result = _find("openai-community/gpt2-large")
    ids = [c.model_id for c in result.candidates]
    assert "distilbert/distilgpt2" in ids and "openai-community/gpt2" in ids
    first = result.candidates[0]
    assert first.compatibility.method == "fingerprint" and first.compatibility.is_compatible
    borrowed = [c for c in first.compatibility.checks if c.name == "tokenizer_files"]
    assert borrowed and "byte-identical" in borrowed[0].reason
    assert first.variant.expert_pick                                 # a base draft for a base target


def test_unjudgeable_pairs_are_listed_below_with_the_reason_never_dropped(test_catalog, capsys):
    """Guards "never silently rejected": no facts and no hashes on the target → every draft is unverified,
    listed in unverified_models (and in the table) with the reason; the error says so."""
    test_catalog["models"]["Qwen/Qwen2.5-7B"]["tokenizer"] = None
    test_catalog["models"]["Qwen/Qwen2.5-7B"]["tokenizer_file_hashes"] = {}
    with pytest.raises(NoCompatibleDraftsError) as info:
        _find("Qwen/Qwen2.5-7B")
    unverified = info.value.unverified
    assert unverified >= 2 and "could not be verified" in info.value.message
    from draftfinder.cli.main import main

    code = main(["find", "Qwen/Qwen2.5-7B", "--offline", "--hardware", "a100-80gb", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 6
    names = [u["model_id"] for u in out["unverified_models"]]
    assert {"Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B"} <= set(names) and len(names) == unverified
    assert all("could not be checked" in u["compatibility"]["incompatibility_reasons"][0]
               for u in out["unverified_models"])
    assert not any(r["model_id"] in names for r in out["rejected_models"])
    code = main(["find", "Qwen/Qwen2.5-7B", "--offline", "--hardware", "a100-80gb"])
    captured = capsys.readouterr()
    assert code == 6 and f"Unverified drafts ({unverified})" in captured.out and "Qwen/Qwen2.5-0.5B" in captured.out


def test_unverified_come_after_verified_ones(test_catalog, tmp_path):
    """With one verified draft (local files) and unverified catalog drafts, the verified one is the
    recommendation and the unverified ones are listed after it, in the JSON and the table."""
    import shutil

    for model_id, entry in test_catalog["models"].items():
        if model_id.startswith("Qwen/Qwen2.5-") and model_id != "Qwen/Qwen2.5-7B":
            entry["tokenizer"], entry["tokenizer_file_hashes"] = None, {}
    folder = tmp_path / "models" / "Qwen2.5-1.5B-copy"
    shutil.copytree(fixture_dir("Qwen/Qwen2.5-1.5B"), folder)
    result = _find("Qwen/Qwen2.5-7B", models_dirs=[str(folder.parent)])
    assert [c.model_id for c in result.candidates] == [str(folder)]
    unverified = {c.model_id for c in result.unverified}
    assert {"Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B"} <= unverified
    from draftfinder.report.table import render_find

    text = render_find(result.to_dict(), symbols=False)
    assert text.index("1. " + str(folder)) < text.index(f"Unverified drafts ({len(unverified)})")
    assert result.to_dict()["summary"]["unverified_candidates"] == len(unverified)


def test_a_note_names_the_unverified_expert_pick_when_only_flagged_drafts_are_verified(test_catalog):
    """When every instruct draft of an instruct target is unverified, row 1 is a flagged base draft: the note
    says which instruct draft an expert would pick and why it could not be verified."""
    for model_id, entry in test_catalog["models"].items():
        if model_id.startswith("Qwen/Qwen2.5-") and entry.get("is_instruct") and model_id != "Qwen/Qwen2.5-7B-Instruct":
            entry["tokenizer"], entry["tokenizer_file_hashes"] = None, {}
    result = _find("Qwen/Qwen2.5-7B-Instruct")
    assert not result.candidates[0].variant.expert_pick
    note = next(n for n in result.notes if n.startswith("no verified instruct draft of the family"))
    expert = next(u for u in result.unverified if u.variant.expert_pick)
    assert f"the expert's pick {expert.model_id} is unverified" in note
