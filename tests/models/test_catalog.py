"""The embedded catalog: generated from the fixtures by scripts/build_catalog.py, and still up to date."""

import subprocess
import sys

from draftfinder.models.sources.catalog import CatalogSource

from tests.conftest import REPO


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
