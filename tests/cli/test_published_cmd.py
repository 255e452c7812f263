"""``draftfinder published`` through ``draftfinder.cli.main.main``, on the shipped dataset.

Expected rows are read from ``draftfinder/data/published.json`` directly (json, not our loader), so a filter
that drops or adds rows fails.
"""

from __future__ import annotations

import json

import pytest
import yaml

from draftfinder.cli.main import main
from draftfinder.predict.published import PUBLISHED_PATH

RAW = json.loads(PUBLISHED_PATH.read_text(encoding="utf-8"))


def run(capsys, *argv):
    code = main(["published", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_all_rows_with_provenance(capsys):
    d = run_json(capsys)
    assert d["total_rows"] == d["matching_rows"] == len(RAW["rows"]) >= 773
    assert d["source"] == "published"
    for row in d["rows"]:
        prov = row["provenance"]
        assert (prov.get("repo") and prov.get("path") and prov.get("commit")) or (prov.get("url") and prov.get("title"))
        assert row["cite"] and row["short"].endswith("— " + row["source_id"])
    assert set(d["sources"]) == {r["source_id"] for r in RAW["rows"]}


def test_target_filter_matches_across_gguf_repo_names(capsys):
    """``--target Qwen/Qwen2.5-7B-Instruct-GGUF`` (the GGUF repository) finds the rows of the base model the
    dataset names: the same rows as the base id itself."""
    expected = {r["row_id"] for r in RAW["rows"] if r["target"]["id"] == "Qwen/Qwen2.5-7B-Instruct"}
    assert len(expected) > 100
    by_repo = run_json(capsys, "--target", "Qwen/Qwen2.5-7B-Instruct-GGUF")
    by_id = run_json(capsys, "--target", "Qwen/Qwen2.5-7B-Instruct")
    assert {r["row_id"] for r in by_repo["rows"]} == {r["row_id"] for r in by_id["rows"]} == expected


def test_filters_combine(capsys):
    d = run_json(capsys, "--target", "qwen2.5-7b", "--draft", "Qwen/Qwen2.5-0.5B-Instruct", "--hardware", "m4max",
                 "--engine", "llama.cpp")
    expected = {r["row_id"] for r in RAW["rows"]
                if r["target"]["id"] == "Qwen/Qwen2.5-7B-Instruct"
                and (r["draft"] or {}).get("id") == "Qwen/Qwen2.5-0.5B-Instruct"
                and r["hardware"]["preset"] == "m4-max" and (r["engine"] or "").startswith("llama.cpp")}
    assert expected and {r["row_id"] for r in d["rows"]} == expected
    assert d["filters"] == {"target": "qwen2.5-7b", "draft": "Qwen/Qwen2.5-0.5B-Instruct", "hardware": "m4max",
                            "engine": "llama.cpp"}


def test_engine_and_role_filters(capsys):
    vllm = run_json(capsys, "--engine", "vllm")
    assert {r["row_id"] for r in vllm["rows"]} == {r["row_id"] for r in RAW["rows"] if r["engine"] == "vLLM"}
    mlx = run_json(capsys, "--engine", "mlx")          # text of the engine description
    assert mlx["rows"] and all("MLX" in r["engine"] for r in mlx["rows"])
    training = run_json(capsys, "--role", "training")
    assert {r["source_id"] for r in training["rows"]} == {"draftbench"}
    assert training["matching_rows"] == sum(r["role"] == "training" for r in RAW["rows"])


def test_table_shows_setup_numbers_and_provenance(capsys):
    code, out, err = run(capsys, "--source", "llamacpp-5877")
    assert code == 0
    row = next(r for r in RAW["rows"] if r["source_id"] == "llamacpp-5877")
    assert "1 of" in out and "RTX 3060" in out and "Llama-3.1-8B-Instruct Q8_0" in out
    assert f"{row['speedup']:.2f}x" in out and "accepted/drafted 0.721" in out
    assert row["provenance"]["url"] in out or row["provenance"]["title"] in out


def test_yaml(capsys):
    code, out, _ = run(capsys, "--source", "gpt-fast", "--format", "yaml")
    assert code == 0
    d = yaml.safe_load(out)
    assert d["matching_rows"] == 1 and d["rows"][0]["provenance"]["repo"] == "pytorch-labs/gpt-fast"


def test_fixed_k_rows_carry_all_three_kinds(capsys):
    """llama.cpp issue 5877: accepted/drafted 0.72055 at K = 5 → AL = 1 + 0.72055·5 = 4.60275 (exact counting,
    still published); α from the i.i.d. inversion is estimated."""
    d = run_json(capsys, "--source", "llamacpp-5877")
    kinds = d["rows"][0]["acceptance_kinds"]
    assert kinds["k"] == 5
    assert kinds["rate"]["value"] == pytest.approx(0.72055) and kinds["rate"]["source"] == "published"
    assert kinds["al"]["value"] == pytest.approx(4.60275, abs=1e-6) and kinds["al"]["source"] == "published"
    assert kinds["alpha"]["source"] == "estimated" and 0.72055 < kinds["alpha"]["value"] < 1


def test_no_match_is_not_an_error_and_says_what_exists(capsys):
    code, out, err = run(capsys, "--engine", "tensorrt", "--format", "json")
    assert code == 0
    assert json.loads(out)["rows"] == []
    assert err.count("\n") == 1 and "no published measurement matches" in err and "llama.cpp" in err


def test_bad_flag_is_one_line(capsys):
    code, out, err = run(capsys, "--role", "fitting")
    assert code == 2 and err.count("\n") == 1 and "--role" in err
