"""The shipped dataset of published measurements (draftfinder/data/published.json) and the script that builds it.

The JSON checks guard its schema and provenance; the parser checks run scripts/build_published.py's own functions
on small inputs in the sources' formats (the real source files live outside the repository).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from pathlib import Path

import pytest

from draftfinder.predict.acceptance import LEVIATHAN, PUBLISHED_ACCEPTANCE
from draftfinder.predict.published import ACCEPTANCE_KINDS, PUBLISHED_PATH, ROLES, load_published

REPO = Path(__file__).resolve().parents[2]
RAW = json.loads(PUBLISHED_PATH.read_text(encoding="utf-8"))
ROW_KEYS = {
    "row_id", "source_id", "role", "engine", "engine_version", "method", "hardware", "target", "draft", "k",
    "draft_max", "draft_min", "draft_p_min", "temperature", "task", "dataset", "acceptance",
    "baseline_tokens_per_s", "speculative_tokens_per_s", "speedup", "speedup_basis", "concurrency", "batch_size",
    "load", "location", "provenance", "notes", "extra",
}
SHA1 = re.compile(r"^[0-9a-f]{40}$")


def _build_module():
    spec = importlib.util.spec_from_file_location("build_published", REPO / "scripts" / "build_published.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --- the shipped JSON -----------------------------------------------------------------------------------

def test_every_row_has_the_schema_keys_and_valid_enums():
    """Guards the row schema consumers rely on (find's 'published:' line, `draftfinder published`)."""
    assert RAW["schema_version"] == 1
    for r in RAW["rows"]:
        assert set(r) == ROW_KEYS, r["row_id"]
        assert r["role"] in ROLES
        assert set(r["hardware"]) == {"name", "preset", "count", "note"}
        for m in (r["target"], r["draft"]):
            if m is not None:
                assert set(m) == {"id", "label", "format", "quant", "file"}
                assert m["id"] or m["label"], r["row_id"]


def test_every_row_has_exact_provenance_from_its_source():
    """Every row says where it comes from: repository + path + full commit, or URL + title, and that place is one
    of its source's files in the sources table (no orphan rows, no row without a citation)."""
    sources = {s["source_id"]: s for s in RAW["sources"]}
    for r in RAW["rows"]:
        p = r["provenance"]
        assert r["source_id"] in sources, r["row_id"]
        if p.get("repo"):
            assert p["path"] and (SHA1.match(p["commit"]) or p["repo"] == "(this repository)"), r["row_id"]
        else:
            assert p["url"].startswith("https://") and p["title"], r["row_id"]
        files = sources[r["source_id"]]["files"]
        assert any(all(f.get(k) == v for k, v in p.items() if k != "citation") for f in files), r["row_id"]
        assert r["location"], r["row_id"]


def test_only_draftbench_is_training_data():
    """The issue's rule: draftbench may be fitted on, every other source is validation only."""
    for r in RAW["rows"]:
        assert (r["role"] == "training") == (r["source_id"] == "draftbench"), r["row_id"]
    for s in RAW["sources"]:
        assert (s["role"] == "training") == (s["source_id"] == "draftbench")


def test_acceptance_values_are_in_range_for_their_kind():
    """alpha and rate are probabilities, AL counts the bonus token (>= 1); each carries its definition."""
    for r in RAW["rows"]:
        a = r["acceptance"]
        if a is None:
            continue
        assert a["kind"] in ACCEPTANCE_KINDS and a["definition"], r["row_id"]
        if a["kind"] in ("alpha", "rate"):
            assert 0.0 <= a["value"] <= 1.0, r["row_id"]
        else:
            assert a["value"] >= 1.0, r["row_id"]


def test_computed_speedups_are_the_ratio_of_the_speeds():
    """A 'computed' speedup is speculative / baseline tokens/s of the same row (4 decimals); a 'published' one
    is what the source printed. Guards a mixed-up baseline."""
    n = 0
    for r in RAW["rows"]:
        if r["speedup_basis"] == "computed":
            assert r["speedup"] == round(r["speculative_tokens_per_s"] / r["baseline_tokens_per_s"], 4), r["row_id"]
            n += 1
        elif r["speedup"] is not None:
            assert r["speedup_basis"] == "published" and r["speedup"] > 0, r["row_id"]
    assert n >= 441


def test_row_counts_and_unique_ids():
    counts = {}
    for r in RAW["rows"]:
        counts[r["source_id"]] = counts.get(r["source_id"], 0) + 1
    assert counts == RAW["row_counts"]
    assert len({r["row_id"] for r in RAW["rows"]}) == len(RAW["rows"])
    # draftbench results/*.json at 991497a: 459 runs, 18 of them baselines (9 + 4 + 3 + 2 targets) -> 441 pairs
    assert counts["draftbench"] == 441
    # Spec-Bench Leaderboard.md at fd2c1cd: 10 + 10 + 11 + 10 methods x 7 columns
    assert counts["spec-bench"] == 287


def test_draftbench_rows_share_their_targets_baseline():
    """Every pair of one target (in one sweep file) is compared with the same baseline run."""
    base = {}
    for r in RAW["rows"]:
        if r["source_id"] == "draftbench":
            key = (r["provenance"]["path"], r["target"]["label"])
            base.setdefault(key, r["baseline_tokens_per_s"])
            assert base[key] == r["baseline_tokens_per_s"], r["row_id"]
    assert len(base) == 18


def test_known_rows_hold_the_published_numbers():
    """Spot checks read by hand in the sources: draftbench 72B Q8_0 + 0.5B FP16 (results/…72b.json /results/1:
    6.45 -> 17.04 tok/s, acceptance 0.744) and Spec-Bench RTX 3090 EAGLE2 Overall (2.19x, 4.35 accepted tokens)."""
    data = load_published()
    r = data.matching(target="72B Q8_0", draft="0.5B FP16")
    assert len(r) == 1
    r = r[0]
    assert (r.baseline_tokens_per_s, r.speculative_tokens_per_s, r.acceptance.value) == (6.45, 17.04, 0.744)
    assert r.acceptance.kind == "rate" and r.hardware_preset == "m4-max" and r.role == "training"
    assert r.target.file == "bartowski/Qwen2.5-72B-Instruct-GGUF/Qwen2.5-72B-Instruct-Q8_0/Qwen2.5-72B-Instruct-Q8_0-00001-of-00002.gguf"
    s = [x for x in data.by_source("spec-bench") if x.row_id == "spec-bench/3090/Vicuna-7B-v1.3/EAGLE2/mixed"]
    assert len(s) == 1 and s[0].speedup == 2.19 and s[0].acceptance.value == 4.35 and s[0].acceptance.kind == "al"


def test_leviathan_rows_equal_the_acceptance_prior_table():
    """The Leviathan α rows are built from draftfinder/predict/acceptance.py; a change there without a rebuild of
    published.json fails here."""
    ours = {(p.group, p.draft): p.alpha for p in PUBLISHED_ACCEPTANCE if p.citation == LEVIATHAN}
    shipped = {(r["location"].split("group ")[1].rstrip(")"), r["draft"]["label"]): r["acceptance"]["value"]
               for r in RAW["rows"] if r["source_id"] == "leviathan2023"}
    assert shipped == ours


def test_source_files_are_pinned_by_hash():
    """Every raw file the build reads is listed with its SHA-256 (the build refuses a file that differs)."""
    for s in RAW["sources"]:
        for f in s["files"]:
            if f["file"] is not None:
                assert re.match(r"^[0-9a-f]{64}$", f["sha256"]), f


def test_matching_filters_by_target_draft_and_role():
    data = load_published()
    rows = data.matching(target="Qwen2.5-72B", role="training")
    assert rows and all(r.source_id == "draftbench" and "72B" in r.target.label for r in rows)
    assert len(rows) == 62                          # 2 targets (Q8_0, Q4_K_M) x 31 drafts
    assert data.matching(target="no-such-model") == []
    ngram = data.matching(target="Llama3-70B")
    assert {r.method for r in ngram} == {"draft-model", "ngram"} and all(r.draft is None for r in ngram if r.method == "ngram")
    assert data.matching(target="Llama3-70B", draft="Qwama") == [r for r in ngram if r.method == "draft-model"]


# --- the build script's parsers -------------------------------------------------------------------------

def _entry(**k):
    base = {"source_id": "x", "role": "validation", "parser": "transcribed", "file": None, "sha256": None,
            "repo": None, "path": None, "commit": None, "url": "https://example.org/post", "title": "A post",
            "retrieved": "test", "note": None}
    base.update(k)
    return base


def test_transcribed_rows_must_occur_in_their_raw_file(tmp_path):
    """A typed-in number that is not in the saved source text stops the build (guards transcription slips)."""
    b = _build_module()
    (tmp_path / "post.txt").write_text("baseline 12.5 tok/s, with draft 20.0 tok/s\n", encoding="utf-8")
    manifest = [_entry(file="post.txt")]
    row = {"row_id": "x/1", "source_id": "x", "file": "post.txt", "baseline_tokens_per_s": 12.5,
           "speculative_tokens_per_s": 20.0, "verify": ["12.5 tok/s", "20.0 tok/s"]}
    t = tmp_path / "t.json"
    t.write_text(json.dumps([row]), encoding="utf-8")
    rows = b.parse_transcribed(manifest, tmp_path, t)
    assert rows[0]["speedup"] == 1.6 and rows[0]["speedup_basis"] == "computed"
    assert rows[0]["provenance"] == {"url": "https://example.org/post", "title": "A post"}
    row["verify"] = ["12.5 tok/s", "21.0 tok/s"]
    t.write_text(json.dumps([row]), encoding="utf-8")
    with pytest.raises(b.BuildError, match="21.0 tok/s"):
        b.parse_transcribed(manifest, tmp_path, t)


def test_changed_source_file_is_refused(tmp_path):
    """The manifest pins each raw file by SHA-256; an edited or re-fetched-at-another-commit file is an error."""
    b = _build_module()
    f = tmp_path / "a.json"
    f.write_text("{}", encoding="utf-8")
    good = hashlib.sha256(b"{}").hexdigest()
    b.check_files([_entry(file="a.json", sha256=good)], tmp_path)
    f.write_text("{ }", encoding="utf-8")
    with pytest.raises(b.BuildError, match="differs"):
        b.check_files([_entry(file="a.json", sha256=good)], tmp_path)


def test_specbench_parser_reads_devices_models_and_columns(tmp_path):
    """Leaderboard.md layout: '## Leaderboard on <device>', optional '### <model>', a header row, method rows
    with bold winners and links whose text may hold brackets (SAMD[EAGLE2])."""
    b = _build_module()
    cols = ["Multi-turn Conversation", "Translation", "Summa-rization", "Question Answering",
            "Mathematical Reasoning", "Retrieval-aug. Generation", "#Mean Accepted Tokens", "Overall"]
    head = "| Models | " + " | ".join(cols) + " |\n| --- |" + " :-: |" * len(cols) + "\n"
    md = ("## Leaderboard on 3090\n\n- Testing environment: Pytorch 9.9\n"
          "- Experimental Settings: Vicuna-7B-v1.3, greedy decoding\n\n" + head +
          "| [SAMD[EAGLE2]](https://x)🏅 | **2.00x** | 1.10x | 1.20x | 1.30x | 1.40x | 1.50x | **3.00** | **1.60x** |\n"
          "\n## Leaderboard on A100\n\n- Experimental Settings: greedy decoding\n\n### Vicuna-13B-v1.3\n\n" + head +
          "| [SpS](https://y) | 1.01x | 1.02x | 1.03x | 1.04x | 1.05x | 1.06x | 2.00 | 1.07x |\n")
    (tmp_path / "lb.md").write_text(md, encoding="utf-8")
    rows = b.parse_specbench(_entry(file="lb.md", repo="r/r", path="Leaderboard.md", commit="c" * 40), tmp_path)
    assert len(rows) == 14
    first = rows[0]
    assert first["method"] == "sam-decoding+eagle2" and first["hardware"]["preset"] == "rtx3090"
    assert first["target"]["id"] == "lmsys/vicuna-7b-v1.3" and first["speedup"] == 2.0 and first["acceptance"] is None
    overall = [r for r in rows if r["task"] == "mixed"]
    assert [r["acceptance"]["value"] for r in overall] == [3.0, 2.0]
    sps = rows[7]
    assert sps["method"] == "draft-model" and sps["hardware"]["preset"] == "a100-80gb"
    assert sps["target"]["label"] == "Vicuna-13B-v1.3" and sps["draft"]["label"].startswith("vicuna-68m")


def test_draftbench_parser_pairs_runs_with_their_baseline(tmp_path):
    """results JSON: baseline rows have draft null; each draft run becomes one row against its target's baseline,
    model files come from the sweep config's paths."""
    b = _build_module()
    res = {"name": "qwen25-7b", "hardware": "m4max-128gb", "settings": {"temperature": 0.0, "gpu_layers": 99,
           "ctx_size": 4096, "max_tokens": 1024, "runs": 1},
           "results": [
               {"target": "7B Q8_0", "draft": None, "mean_tps": 40.0, "median_tps": 41.0, "mean_ttft": 0.1, "acceptance_rate": None},
               {"target": "7B Q8_0", "draft": "0.5B FP16", "mean_tps": 60.0, "median_tps": 61.0, "mean_ttft": 0.2,
                "wall_time": 9.0, "acceptance_rate": 0.5}]}
    cfg = {"targets": [{"label": "7B Q8_0", "path": "/Users/u/models/Qwen/Qwen2.5-7B-Instruct-GGUF/q8.gguf"}],
           "drafts": [{"label": "0.5B FP16", "path": "/Users/u/models/Qwen/Qwen2.5-0.5B-Instruct-GGUF/f16.gguf"}]}
    (tmp_path / "r.json").write_text(json.dumps(res), encoding="utf-8")
    (tmp_path / "c.json").write_text(json.dumps(cfg), encoding="utf-8")
    entries = [_entry(source_id="draftbench", role="training", parser="draftbench_results", file="r.json",
                      repo="a/b", path="results/r.json", commit="d" * 40),
               _entry(source_id="draftbench", role="training", parser="draftbench_config", file="c.json")]
    rows = b.parse_draftbench(entries, tmp_path)
    assert len(rows) == 1
    r = rows[0]
    assert (r["baseline_tokens_per_s"], r["speculative_tokens_per_s"], r["speedup"]) == (40.0, 60.0, 1.5)
    assert r["draft"] == {"id": "Qwen/Qwen2.5-0.5B-Instruct", "label": "0.5B FP16", "format": "GGUF", "quant": "F16",
                          "file": "Qwen/Qwen2.5-0.5B-Instruct-GGUF/f16.gguf"}
    assert r["acceptance"]["kind"] == "rate" and r["role"] == "training"
    assert r["provenance"] == {"repo": "a/b", "path": "results/r.json", "commit": "d" * 40}


def test_hardware_presets_of_rows_exist_in_the_hardware_table():
    """A row's preset name must be one `--hardware` accepts, so `find` can match published rows to the user's
    device (guards a typo such as 'rtx-3090')."""
    from draftfinder.predict.hardware_specs import load_hardware_specs

    presets = set(load_hardware_specs())
    used = {r["hardware"]["preset"] for r in RAW["rows"]} - {None}
    assert used and used <= presets, used - presets
