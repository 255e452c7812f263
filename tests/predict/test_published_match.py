"""predict/published_match.py: which published rows are about a pair, and which share its setup.

The models are the real fixture configs analysed by draftfinder; where a test needs a GGUF file of a model we
have no weights for, it takes the analysed fixture and sets the fields a GGUF file would give (id, file name,
file type) — what is under test is the matching over those fields, not the analysis. Expected rows come from
the shipped JSON read directly.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from draftfinder.find.results import QuantizationType
from draftfinder.models.analysis import ModelAnalyzer
from draftfinder.predict import published_match as pm
from draftfinder.predict.published import PUBLISHED_PATH, load_published
from tests.conftest import fixture_record

RAW = json.loads(PUBLISHED_PATH.read_text(encoding="utf-8"))["rows"]


def _info(fixture: str, **fields):
    return dataclasses.replace(ModelAnalyzer.analyze_record(fixture_record(fixture)), **fields)


def _gguf(fixture: str, model_id: str, file: str, file_type: str):
    return _info(fixture, model_id=model_id, gguf_file=file, dtype=file_type, quantization=QuantizationType.GGUF)


@pytest.mark.parametrize("name,key", [
    ("Qwen/Qwen2.5-0.5B-Instruct", "qwen2.5-0.5b-instruct"),
    ("bartowski/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct"),
    ("/models/Qwen__Qwen2.5-0.5B-Instruct", "qwen2.5-0.5b-instruct"),
    ("qwen2.5-0.5b-instruct-q4_0.gguf", "qwen2.5-0.5b-instruct"),
    ("qwen2.5-7b-instruct-q5_0-00001-of-00002.gguf", "qwen2.5-7b-instruct"),
    ("Qwen2.5-1.5B-Instruct-IQ4_XS.gguf", "qwen2.5-1.5b-instruct"),
    ("unsloth/Llama-3.2-1B-Instruct-bnb-4bit", "llama-3.2-1b-instruct"),
    ("Qwen/Qwen2.5-0.5B", "qwen2.5-0.5b"),                 # the base model is another model than the Instruct
    ("", None),
])
def test_model_key(name, key):
    assert pm.model_key(name) == key


def test_every_row_with_a_file_has_one_key_for_id_and_file():
    """The dataset gives the base model's id for GGUF files: id, repository and file name reduce to one key."""
    data = load_published()
    for row in data.rows:
        for ref in (row.target, row.draft):
            if ref is not None and ref.id:
                assert pm.row_model_keys(ref) == {pm.model_key(ref.id)}, (row.row_id, ref)


@pytest.mark.parametrize("a,b,same", [("F16", "fp16", True), ("bf16", "bfloat16", True), ("bf16", "F16", False),
                                      ("Q8_0", "q8_0", True), ("Q8_0", "F16", False), ("q4_k_m", "Q4_K_M", True)])
def test_format_key(a, b, same):
    assert (pm.format_key(a) == pm.format_key(b)) is same


def test_engine_key():
    assert pm.engine_key("llama.cpp (llama-server)") == "llama.cpp"
    assert pm.engine_key("vLLM") == "vllm" and pm.engine_key("SGLang") == "sglang"
    assert pm.engine_key("transformers (assisted generation)") == "transformers"
    for other in ("LM Studio (MLX engine)", "gpt-fast (PyTorch, torch.compile)", "T5X", None):
        assert pm.engine_key(other) is None


def test_short_line_is_the_issue_example():
    """Issue 10 §7: 'published: 1.66× on M4 Max, llama.cpp, Q8_0 target, FP16 draft — draftbench' (the dataset
    writes FP16 GGUF files as F16)."""
    row = next(r for r in load_published().rows if r.row_id == "draftbench/qwen25-7b/7B Q8_0/0.5B FP16")
    assert pm.short_line(row) == "published: 1.66x on M4 Max, llama.cpp, Q8_0 target, F16 draft — draftbench"


def test_pair_rows_from_hub_ids_are_the_draftbench_rows():
    target = _info("Qwen/Qwen2.5-7B-Instruct")
    draft = _info("Qwen/Qwen2.5-0.5B", model_id="Qwen/Qwen2.5-0.5B-Instruct")
    matches = pm.match_pair(target, draft, hardware="m4-max", engine="llama.cpp", task="general")
    expected = {r["row_id"] for r in RAW if r["target"]["id"] == "Qwen/Qwen2.5-7B-Instruct"
                and (r["draft"] or {}).get("id") == "Qwen/Qwen2.5-0.5B-Instruct"}
    assert {m.row.row_id for m in matches} == expected and len(expected) >= 40
    # bf16 safetensors are not any of the GGUF files measured: shown, never the same setup
    assert not any(m.same_formats for m in matches) and pm.exact_rows(matches) == []
    assert all(m.same_hardware and m.same_engine for m in matches if m.row.source_id == "draftbench")
    # nearest formats first: the 16-bit target rows before the quantized ones
    assert matches[0].row.target.quant == "F16"


def test_base_model_is_not_the_instruct_model():
    target = _info("Qwen/Qwen2.5-7B-Instruct")
    draft = _info("Qwen/Qwen2.5-0.5B")
    assert pm.match_pair(target, draft) == []


def test_same_setup_needs_formats_hardware_engine_and_task():
    target = _gguf("Qwen/Qwen2.5-7B-Instruct", "/models/qwen2.5-7b-instruct-q8_0-00001-of-00003.gguf",
                   "qwen2.5-7b-instruct-q8_0-00001-of-00003.gguf", "Q8_0")
    draft = _gguf("Qwen/Qwen2.5-0.5B", "/models/qwen2.5-0.5b-instruct-fp16.gguf",
                  "qwen2.5-0.5b-instruct-fp16.gguf", "F16")
    exact = pm.exact_rows(pm.match_pair(target, draft, hardware="m4max", engine="llama.cpp", task="general"))
    assert [r.row_id for r in exact] == ["draftbench/qwen25-7b/7B Q8_0/0.5B FP16"]
    assert pm.published_speedup(exact) == pytest.approx(1.663)
    for changed in ({"hardware": "rtx4090"}, {"engine": "vllm"}, {"engine": None}, {"task": "summarization"}):
        kwargs = {"hardware": "m4-max", "engine": "llama.cpp", "task": "general", **changed}
        assert pm.exact_rows(pm.match_pair(target, draft, **kwargs)) == [], changed
    q4 = dataclasses.replace(draft, dtype="Q4_K_M", gguf_file="qwen2.5-0.5b-instruct-q4_k_m.gguf")
    exact = pm.exact_rows(pm.match_pair(target, q4, hardware="m4-max", engine="llama.cpp", task="general"))
    assert [r.row_id for r in exact] == ["draftbench/qwen25-7b/7B Q8_0/0.5B Q4_K_M"]


def test_multi_gpu_rows_never_match_one_device():
    """vLLM's blog measured Llama 3 70B on 4×H100: not the setup of one h100."""
    rows = [r for r in load_published().rows if r.hardware_count == 4]
    assert rows and all(r.hardware_preset == "h100" for r in rows)
    assert pm.hardware_label(rows[0]).startswith("4x ")


@pytest.mark.parametrize("row_task,task,fits", [("mixed (code, JSON, list)", "general", True),
                                                 ("mixed (code, JSON, list)", "summarization", False),
                                                 ("summarization", "summarization", True), (None, "code", True),
                                                 ("translation", "general", False)])
def test_task_fits(row_task, task, fits):
    assert pm.task_fits(row_task, task) is fits
