"""The find workflow end to end: loopback Hub (huggingface_hub over HTTP), offline catalog, local GGUF files.

Nothing of ours is mocked. The Hub is ``tests/hubserver.py`` serving the real fixture files; the local
models are the real zoo GGUFs and folders built from real config/tokenizer files.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from draftfinder import DraftModelFinder, QualityTier
from draftfinder.find.config import FinderConfig
from draftfinder.errors import NoCompatibleDraftsError
from draftfinder.find.finder import FindResult

from tests.conftest import fixture_dir
from tests.hubserver import HubServer

QWEN_DRAFTS = {"Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B"}


@pytest.fixture(scope="module")
def hub():
    with HubServer() as server:
        server.warm("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B", "Qwen/Qwen2.5-7B-Instruct")
        yield server


@pytest.fixture
def online(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    hub.clear_log()
    return hub


def _find(target: str, **cfg) -> FindResult:
    config = FinderConfig(**{k: v for k, v in cfg.items() if k in FinderConfig.__dataclass_fields__})
    return DraftModelFinder(target, config=config).find()


def test_qwen_7b_online_ranks_the_qwen_drafts(online):
    result = _find("Qwen/Qwen2.5-7B")
    ids = [c.model_id for c in result.candidates]
    assert set(ids) == QWEN_DRAFTS
    assert result.target.num_parameters == 7_615_616_512
    assert result.target.source == "hub"
    for c in result.candidates:
        assert c.compatibility.is_compatible
        assert c.compatibility.method == "tokenizers"          # real tokenizer files, test strings run
        assert c.compatibility.num_test_strings >= 23
        assert set(c.compatibility.engines) == {"transformers", "vllm", "llama.cpp", "sglang"}
        assert c.compatibility.engines["llama.cpp"].compatible   # vocab difference 128 <= 128
        assert 1 <= c.recommended_k <= 16
        assert c.estimated_speedup == pytest.approx(max(c.speedup_by_k.values()))
        assert c.recommended_k == max(c.speedup_by_k, key=c.speedup_by_k.get)
        assert isinstance(c.quality_tier, QualityTier)
        assert c.provenance["estimated_speedup"].source == "estimated"
        assert c.provenance["acceptance_rate_estimate"].source == "estimated"
    # ranked best first by expected speedup (find/ranking.py rank_key)
    speedups = [round(c.estimated_speedup, 2) for c in result.candidates]
    assert speedups == sorted(speedups, reverse=True)
    assert [c.rank for c in result.candidates] == [1, 2]
    # the 7B-Instruct sibling is not a draft (same size), and no weight file was ever requested
    assert any(r.model_id == "Qwen/Qwen2.5-7B-Instruct" and r.stage == "size" for r in result.rejected)
    assert online.weight_requests() == []


def test_offline_catalog_gives_the_same_ranking_and_says_so(online, monkeypatch):
    live = _find("Qwen/Qwen2.5-7B")
    shutil.rmtree(os.environ["HF_HUB_CACHE"])       # nothing cached: offline must come from the catalog
    offline = _find("Qwen/Qwen2.5-7B", offline=True)
    # the catalog holds more models than the loopback Hub serves (issue 11): the shared ones rank alike
    live_ids = [c.model_id for c in live.candidates]
    shared = [c for c in offline.candidates if c.model_id in live_ids]
    assert [c.model_id for c in shared] == live_ids
    for a, b in zip(live.candidates, shared):
        assert a.model_info.num_parameters == b.model_info.num_parameters
        assert a.recommended_k == b.recommended_k
        # live memory comes from exact file sizes, the catalog's from the dtype: the same to 1e-3
        assert a.estimated_speedup == pytest.approx(b.estimated_speedup, rel=1e-3)
        assert b.compatibility.method == "fingerprint"
        assert b.compatibility.is_compatible
    assert offline.target.source == "catalog"
    assert any("catalog" in note for note in offline.notes)


def test_unreachable_hub_falls_back_to_catalog_with_a_note():
    # conftest points HF_ENDPOINT at a closed loopback port: the Hub is down
    result = _find("Qwen/Qwen2.5-7B-Instruct")
    assert QWEN_DRAFTS <= {c.model_id for c in result.candidates}          # issue 11: the catalog has more now
    assert {c.model_info.source for c in result.candidates} == {"catalog"}
    assert any("Hub unreachable" in note for note in result.notes)


def test_export_has_the_fields_the_manual_jq_examples_read(online, tmp_path):
    finder = DraftModelFinder("Qwen/Qwen2.5-7B", token="hf_secretsecretsecret1234")
    finder.find_draft_models(top_n=5)
    out = tmp_path / "results.json"
    finder.export_results(str(out))
    text = out.read_text()
    assert "hf_secretsecretsecret1234" not in text
    data = json.loads(text)
    assert data["target_model"]["model_id"] == "Qwen/Qwen2.5-7B"
    for d in data["draft_models"]:
        for key in ("quality_tier", "estimated_speedup", "size_ratio", "quality_score", "recommended_k",
                    "acceptance_rate_estimate", "provenance", "engines", "usage"):
            assert key in d
        assert d["quality_tier"] in {t.value for t in QualityTier}
        assert d["provenance"]["estimated_speedup"]["source"] == "estimated"
        assert d["provenance"]["num_parameters"]["source"] == "exact"


def _fixture_models(tmp_path, *names):
    models = tmp_path / "models"
    for name in names:
        shutil.copytree(fixture_dir(name), models / name.split("/")[1])
    return models


def test_llama2_target_accepts_tinyllama(tmp_path):
    models = _fixture_models(tmp_path, "meta-llama/Llama-2-7b-hf", "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
                             "mistralai/Mistral-7B-v0.1")
    result = _find(str(models / "Llama-2-7b-hf"), offline=True, models_dirs=[str(models)])
    local = [c for c in result.candidates if c.model_info.source == "local"]
    assert [c.model_info.num_parameters for c in local] == [1_100_048_384]
    tiny = local[0]
    assert tiny.compatibility.is_compatible and tiny.compatibility.tokenization_match_rate == 1.0
    assert tiny.same_family


def test_mistral_target_rejects_tinyllama_despite_equal_vocab_size(tmp_path):
    """Mistral-7B-v0.1 and TinyLlama both have 32000 tokens, but not the same ones."""
    models = _fixture_models(tmp_path, "mistralai/Mistral-7B-v0.1", "TinyLlama/TinyLlama-1.1B-Chat-v1.0")
    finder = DraftModelFinder(str(models / "Mistral-7B-v0.1"), offline=True, models_dirs=[str(models)])
    with pytest.raises(NoCompatibleDraftsError):
        finder.find()
    tiny = [r for r in finder.result.rejected if "tinyllama" in r.model_id.lower()]
    assert tiny and tiny[0].stage == "compatibility"
    assert any("vocab" in reason.lower() for reason in tiny[0].reasons), tiny[0].reasons


def _smollm2_models_dir(tmp_path, smollm2_gguf, gemma_gguf):
    """A user's models folder: SmolLM2-1.7B and -360M as HF folders (real configs; the SmolLM2 family's one
    tokenizer, saved by transformers from the real SmolLM2 GGUF), the two zoo GGUF files, and gpt2."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(smollm2_gguf.parent), gguf_file=smollm2_gguf.name)
    models = tmp_path / "models"
    for name in ("HuggingFaceTB/SmolLM2-1.7B", "HuggingFaceTB/SmolLM2-360M"):
        folder = models / name.split("/")[1]
        folder.mkdir(parents=True)
        shutil.copy(fixture_dir(name) / "config.json", folder / "config.json")
        tok.save_pretrained(str(folder))
    gpt2 = models / "gpt2"
    shutil.copytree(fixture_dir("gpt2"), gpt2)
    (models / "gguf").mkdir()
    (models / "gguf" / smollm2_gguf.name).symlink_to(smollm2_gguf)
    (models / "gguf" / gemma_gguf.name).symlink_to(gemma_gguf)
    return models


def test_models_dir_with_real_gguf_files(tmp_path, smollm2_gguf, gemma_gguf):
    models = _smollm2_models_dir(tmp_path, smollm2_gguf, gemma_gguf)
    result = _find(str(models / "SmolLM2-1.7B"), offline=True, models_dirs=[str(models)])
    by_id = {c.model_id: c for c in result.candidates}
    sources = {c.model_info.source for c in result.candidates}
    assert "gguf" in sources or "zoo" in sources              # the real SmolLM2-135M GGUF is a draft
    gguf_cands = [c for c in result.candidates if c.model_info.source in ("gguf", "zoo")]
    assert gguf_cands and gguf_cands[0].model_info.num_parameters == 134_515_008
    assert gguf_cands[0].model_info.parameters_exact
    assert any(c.model_info.num_parameters == 361_821_120 for c in by_id.values())   # the 360M folder
    rejected = {r.model_id: r for r in result.rejected}
    gemma = [r for r in result.rejected if "gemma" in r.model_id.lower()]
    assert gemma and gemma[0].stage == "compatibility"
    assert any("gpt2" in mid for mid in rejected)


def test_zoo_target_by_name(smollm2_gguf):
    with pytest.raises(NoCompatibleDraftsError) as info:
        _find("zoo:smollm2-135m", offline=True)
    assert info.value.evaluated >= 0


def test_no_compatible_drafts_keeps_the_evaluation(tmp_path, smollm2_gguf, gemma_gguf):
    finder = DraftModelFinder("zoo:gemma3-270m", offline=True, models_dirs=[str(smollm2_gguf.parent)])
    with pytest.raises(NoCompatibleDraftsError):
        finder.find()
    assert finder.result is not None
    assert any(r.stage in ("compatibility", "size") for r in finder.result.rejected)


def test_a_saved_measurement_replaces_the_prior_and_is_labelled_measured():
    """find reads `draftfinder measure` results of this machine: α (any hardware) and c (only for this machine's
    CPU, detected, and the PyTorch engine the measurement timed — issue 10: ``--hardware cpu`` is now a generic
    server sized by --threads, and a c timed with our engine says nothing of llama.cpp).

    The measurement file here is hand-made (no offline Qwen weights to measure); what is under test is the
    plumbing from the store into ranking and labels, not the figures."""
    import draftfinder.measure as M
    from tests.measure.test_measure import _hand_made_measurement

    m = _hand_made_measurement()
    m.target_id, m.draft_id = "Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-0.5B"
    m.machine.machine_id = M.store._this_machine()
    M.save_measurement(m)
    here = {c.model_id: c for c in _find("Qwen/Qwen2.5-7B", offline=True, engine="draftfinder").candidates}
    measured, other = here["Qwen/Qwen2.5-0.5B"], here["Qwen/Qwen2.5-1.5B"]
    assert measured.acceptance_rate_estimate == pytest.approx(0.42)
    assert measured.provenance["acceptance_rate_estimate"].source == "measured"
    assert measured.cost_ratio == pytest.approx(0.5)
    assert measured.provenance["cost_ratio"].source == "measured"
    assert other.provenance["acceptance_rate_estimate"].source == "estimated"     # no file: the prior
    for cfg in ({"hardware": "h100"}, {"hardware": "cpu", "engine": "draftfinder"}, {"engine": "llama.cpp"}):
        got = {c.model_id: c for c in _find("Qwen/Qwen2.5-7B", offline=True, **cfg).candidates}["Qwen/Qwen2.5-0.5B"]
        assert got.provenance["acceptance_rate_estimate"].source == "measured", cfg
        assert got.provenance["cost_ratio"].source == "estimated", cfg   # a c timed here, with our engine, only


def test_ranking_is_by_expected_speedup_and_the_snippet_is_for_row_1():
    """Guards issue 9 §2: with --hardware cpu Qwen2.5-1.5B (1.05x, higher quality score) was ranked above
    Qwen2.5-0.5B (1.12x) and the usage snippet was for the slower one. Rank = expected speedup on the chosen
    hardware; the score and tier stay as columns."""
    from draftfinder.report.table import render_find

    result = _find("Qwen/Qwen2.5-7B-Instruct", offline=True, hardware="cpu", engine="draftfinder")   # issue 9's setting
    # issue 11: the variant tier (find/expert.py) comes first — the instruct drafts; within a tier, the speedup
    by_id = {c.model_id: c for c in result.candidates}
    first, second = by_id["Qwen/Qwen2.5-0.5B"], by_id["Qwen/Qwen2.5-1.5B"]      # both base drafts: one tier
    assert first.variant.tier == second.variant.tier
    assert first.estimated_speedup > second.estimated_speedup
    assert first.quality_score < second.quality_score          # the score is a column, not the sort key
    assert first.rank + 1 == second.rank and first.speedup_basis == second.speedup_basis == "estimated"
    data = result.to_dict()
    order = data["ranking"]["order"]
    assert order[0].startswith("fits") and order[1].startswith("variant.tier") and order[2].startswith("estimated_speedup")
    best = result.candidates[0]
    text = render_find(data, symbols=False)
    assert f"Usage Example (best draft: {best.model_id}, K=" in text
    assert f'draft = AutoModelForCausalLM.from_pretrained("{best.model_id}"' in text
    table = text.split(f"Top {len(data['draft_models'])} Draft Models")[1].splitlines()
    rows = [line for line in table if line.strip()[:2].strip().isdigit()]
    assert best.model_id in rows[0]
    assert rows.index(next(r for r in rows if "Qwen/Qwen2.5-0.5B " in r)) + 1 == \
        rows.index(next(r for r in rows if "Qwen/Qwen2.5-1.5B " in r))


@pytest.mark.parametrize("folder", ["{org}__{name}", "{name}"])     # the fixtures' naming, and a plain name
def test_a_model_in_the_catalog_and_in_models_dir_is_one_row_with_both_sources(tmp_path, folder):
    """Guards issue 9 §2: a model both in the catalog and under --models-dir is one row listing both sources
    (the local files are the ones evaluated)."""
    models = tmp_path / "models"
    for hub_id in ("Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B"):
        org, name = hub_id.split("/")
        shutil.copytree(fixture_dir(hub_id), models / folder.format(org=org, name=name))
    result = _find("Qwen/Qwen2.5-7B-Instruct", offline=True, hardware="cpu", models_dirs=[str(models)])
    local = [c for c in result.candidates if c.model_id.startswith(str(models))]   # issue 11: instruct drafts too
    assert len(local) == 2
    for cand, name in zip(local, ("Qwen2.5-0.5B", "Qwen2.5-1.5B")):
        path = str(models / folder.format(org="Qwen", name=name))
        assert cand.model_id == path
        by_source = {s["source"]: s for s in cand.sources}
        assert by_source["local"] == {"source": "local", "name": path, "found_by": "--models-dir", "used": True}
        assert by_source["catalog"]["name"] == f"Qwen/{name}" and by_source["catalog"]["used"] is False
    ids = [c.model_id for c in result.candidates] + [r.model_id for r in result.rejected]
    assert not any(i in ("Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B") for i in ids)     # no second row
    from draftfinder.report.table import render_find

    text = render_find(result.to_dict(5), symbols=False)
    first = models / folder.format(org="Qwen", name="Qwen2.5-0.5B")
    assert f"Found in: local ({first}; used), catalog (Qwen/Qwen2.5-0.5B)" in text
