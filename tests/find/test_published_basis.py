"""find: published rows beside each candidate, and a published speedup standing in for the estimate.

The rule (find/published_basis.py): only a row about the same pair, weight formats, hardware preset, engine and
task replaces an *estimated* speedup. Candidates are evaluated by ``DraftModelFinder._estimate`` on real
fixture configs and a real tokenizer check; the GGUF files draftbench measured are represented by the analysed
fixture with the fields such a file gives (id, file name, file type) — we have no Qwen GGUF weights here.
The engine is set on the config object (``cfg.engine``) as ``--engine`` does; without it find uses the device's
default engine (llama.cpp for a GGUF target).
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from draftfinder.cli.main import main
from draftfinder.compat.checks import EnhancedTokenizerChecker
from draftfinder.find.config import FinderConfig
from draftfinder.find.finder import DraftModelFinder
from draftfinder.find.ranking import rank_key
from draftfinder.find.results import QuantizationType
from draftfinder.models.analysis import ModelAnalyzer
from tests.conftest import fixture_dir, fixture_record, fixture_tokenizer

ROW_Q8_F16 = "draftbench/qwen25-7b/7B Q8_0/0.5B FP16"          # published 1.663x on M4 Max, llama.cpp


@pytest.fixture(scope="module")
def pair():
    target = ModelAnalyzer.analyze_record(fixture_record("Qwen/Qwen2.5-7B-Instruct"))
    draft = ModelAnalyzer.analyze_record(fixture_record("Qwen/Qwen2.5-0.5B"))
    t_rec, d_rec = fixture_record("Qwen/Qwen2.5-7B-Instruct"), fixture_record("Qwen/Qwen2.5-0.5B")
    compat = EnhancedTokenizerChecker.verify_compatibility(
        fixture_tokenizer("Qwen/Qwen2.5-7B-Instruct"), fixture_tokenizer("Qwen/Qwen2.5-0.5B"),
        target.model_id, draft.model_id, target_config=t_rec.config, draft_config=d_rec.config)
    assert compat.is_compatible
    gguf_target = dataclasses.replace(target, model_id="/models/qwen2.5-7b-instruct-q8_0-00001-of-00003.gguf",
                                      gguf_file="qwen2.5-7b-instruct-q8_0-00001-of-00003.gguf", dtype="Q8_0",
                                      quantization=QuantizationType.GGUF, bits_per_param=8.5)
    gguf_draft = dataclasses.replace(draft, model_id="/models/qwen2.5-0.5b-instruct-fp16.gguf",
                                     gguf_file="qwen2.5-0.5b-instruct-fp16.gguf", dtype="F16",
                                     quantization=QuantizationType.GGUF)
    return gguf_target, gguf_draft, compat


def _candidate(pair, *, engine="llama.cpp", hardware="m4-max", task="general", draft_fields=None):
    target, draft, compat = pair
    if draft_fields:
        draft = dataclasses.replace(draft, **draft_fields)
    cfg = FinderConfig(hardware=hardware, task=task, offline=True)
    if engine is not None:
        cfg.engine = engine
    finder = DraftModelFinder(target.model_id, config=cfg)
    return finder._estimate(target, draft, compat, draft.num_parameters / target.num_parameters)


def test_same_setup_published_speedup_stands_in_for_the_estimate(pair):
    """Guards issue 10 §7: a published speedup of the same pair, formats, hardware and engine becomes the
    candidate's speedup (basis published), the model's estimate kept beside it; before, every find speedup was
    the latency model's."""
    c = _candidate(pair)
    assert c.speedup_basis == "published"
    assert c.estimated_speedup == pytest.approx(1.663)
    assert c.model_speedup is not None and c.model_speedup != pytest.approx(1.663)
    prov = c.provenance["estimated_speedup"]
    assert prov.source == "published"
    assert "M4 Max, llama.cpp, Q8_0 target, F16 draft — draftbench" in prov.method
    assert "alexziskind1/draftbench/results/m4max-128gb_llamacpp_qwen25-7b.json@991497a" in prov.detail
    assert "not stated" in prov.detail                      # draftbench ran the server's default draft settings
    assert c.published[0]["row_id"] == ROW_Q8_F16 and c.published[0]["match"]["same_setup"] is True
    assert c.model_speedup == pytest.approx(c.speedup_by_k[c.recommended_k])     # the latency model's curve
    # the usage snippet's "Estimated speedup … at K" is the model's figure for its K, not the published one
    snippet = c.usage.get("transformers", "")
    assert f"Estimated speedup: ~{c.model_speedup:.2f}x at K={c.recommended_k}" in snippet
    assert "~1.66x" not in snippet


@pytest.mark.parametrize("change", [{"engine": "transformers"}, {"engine": "vllm", "hardware": "h100"},
                                    {"hardware": "rtx4090"},
                                    {"task": "summarization"}])
def test_any_other_setup_keeps_the_estimate(pair, change):
    c = _candidate(pair, **change)
    assert c.speedup_basis == "estimated" and c.model_speedup is None
    assert c.provenance["estimated_speedup"].source == "estimated"
    assert c.published and not any(p["match"]["same_setup"] for p in c.published)


def test_other_draft_format_takes_its_own_row(pair):
    c = _candidate(pair, draft_fields={"dtype": "Q8_0", "gguf_file": "qwen2.5-0.5b-instruct-q8_0.gguf"})
    assert c.speedup_basis == "published" and c.estimated_speedup == pytest.approx(1.8037)


def test_published_ranks_before_estimated_at_a_tie(pair):
    published = _candidate(pair)
    estimated = _candidate(pair, engine="transformers")
    estimated.estimated_speedup = published.estimated_speedup      # a tie at the printed 0.01x
    estimated.quality_score = published.quality_score + 10          # even a better score does not win the tie
    assert sorted([estimated, published], key=rank_key)[0] is published


def test_acceptance_kinds_at_the_recommended_k(pair):
    c = _candidate(pair, engine=None)
    kinds = c.acceptance_kinds
    k, a = c.recommended_k, c.acceptance_rate_estimate
    assert kinds["k"] == k and kinds["alpha"]["value"] == pytest.approx(a, abs=1e-6)
    assert kinds["al"]["value"] == pytest.approx(sum(a ** j for j in range(k + 1)), abs=1e-6)   # 1 + α + … + α^K
    assert kinds["rate"]["value"] == pytest.approx((kinds["al"]["value"] - 1) / k, abs=1e-6)
    assert {kinds[n]["source"] for n in ("alpha", "rate", "al")} == {"estimated"}


def test_find_cli_shows_published_rows_and_all_three_kinds(tmp_path, capsys):
    """Through the CLI: the folder ``Qwen__Qwen2.5-0.5B-Instruct`` holds the real Qwen2.5-0.5B config and
    tokenizer (same architecture and tokenizer as the Instruct model; we have no Instruct files) — what is under
    test is that the folder's name finds draftbench's rows of the pair, short in the table and full in JSON."""
    models = tmp_path / "models"
    shutil.copytree(fixture_dir("Qwen/Qwen2.5-0.5B"), models / "Qwen__Qwen2.5-0.5B-Instruct")
    argv = ["Qwen/Qwen2.5-7B-Instruct", "--offline", "--hardware", "m4-max", "--models-dir", str(models), "-q"]
    assert main(argv + ["--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_id = {d["model_id"]: d for d in data["draft_models"]}
    inst = by_id[str(models / "Qwen__Qwen2.5-0.5B-Instruct")]
    assert len(inst["published"]) >= 40 and all(p["source_id"] == "draftbench" for p in inst["published"])
    first = inst["published"][0]
    assert first["provenance"]["repo"] == "alexziskind1/draftbench" and first["match"]["same_setup"] is False
    assert inst["speedup_basis"] == "estimated"          # bf16 files are not the GGUF files measured
    assert by_id["Qwen/Qwen2.5-0.5B"]["published"] == []   # the base model was not measured
    assert set(inst["acceptance_kinds"]) >= {"k", "alpha", "rate", "al"}
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "published: 2.69x on M4 Max, llama.cpp, F16 target, F16 draft" in text
    assert "more published rows for this pair" in text
    assert "Acceptance kinds: α " in text and "accepted/drafted" in text and "AL " in text
