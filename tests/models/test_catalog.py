"""The embedded catalog: generated from the fixtures by scripts/build_catalog.py, and still up to date."""

import subprocess
import sys

import pytest

from draftfinder.compat.facts import facts_from_tokenizer
from draftfinder.compat.tokenizer import load_tokenizer
from draftfinder.models.sources.base import ModelRecord
from draftfinder.models.sources.catalog import CatalogSource

from tests.conftest import FIXTURES, REPO

TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "tokenizer.model")


def _fixtures_with_tokenizers():
    if not FIXTURES.is_dir():
        return []
    return sorted(p.name for p in FIXTURES.iterdir()
                  if (p / "config.json").is_file() and any((p / f).exists() for f in TOKENIZER_FILES))


@pytest.mark.slow
def test_catalog_matches_a_fresh_build(fixtures):
    """Guards against hand edits and against a checker change that would alter the stored facts."""
    proc = subprocess.run([sys.executable, "scripts/build_catalog.py", "--check", "--fixtures", str(fixtures)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_catalog_holds_facts_not_files():
    cat = CatalogSource()
    assert len(cat.models()) == 22
    qwen = cat.resolve("Qwen/Qwen2.5-7B")
    assert qwen.catalog["num_parameters"] == 7_615_616_512
    assert qwen.config["vocab_size"] == 152064
    facts = cat.tokenizer_facts(qwen)
    assert facts["n_tokens"] == 151_665
    text = (REPO / "draftfinder" / "data" / "catalog.json").read_text()
    assert "Ġthe" not in text and len(text) < 64 * 1024     # no vocabulary copied in, compact
    base, inst = cat.resolve("Qwen/Qwen2.5-7B"), cat.resolve("Qwen/Qwen2.5-7B-Instruct")
    assert cat.tokenizer_facts(base)["fingerprint"] == cat.tokenizer_facts(inst)["fingerprint"]
    assert base.catalog["tokenizer"] != inst.catalog["tokenizer"]             # EOS differs: stored apart


def test_every_catalog_tokenizer_is_checked_against_its_files():
    """The parametrized list below covers every catalog model that has tokenizer facts (not vacuous)."""
    if not FIXTURES.is_dir():
        pytest.skip(f"../shared/fixtures not found beside the clone ({FIXTURES})")
    cat = CatalogSource()
    with_facts = {mid for mid, entry in cat.data["models"].items() if entry.get("tokenizer")}
    assert {cat.resolve(f.replace("__", "/")).model_id for f in _fixtures_with_tokenizers()} == with_facts
    assert len(with_facts) == 9


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
