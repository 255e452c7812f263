"""draftfinder.compat.llama_vocab: llama.cpp's add_bos/add_eos for a GGUF file, and the facts that use them."""

from __future__ import annotations

import pytest

from draftfinder.compat.llama_vocab import add_special


@pytest.mark.parametrize("vocab_type, pre, keys, expected", [
    ("SPM", None, (None, None), (True, False)),            # llama-vocab.cpp: SPM adds BOS
    ("WPM", None, (None, None), (True, False)),
    ("UGM", None, (None, None), (False, True)),            # T5: EOS
    ("BPE", "smollm", (None, None), (False, False)),       # SmolLM2's pre-tokenizer: nothing
    ("BPE", "qwen2", (None, None), (False, False)),
    ("BPE", "llama-bpe", (None, None), (True, False)),     # Llama-3-style files add BOS by default
    ("BPE", "tekken", (None, None), (True, False)),
    ("BPE", "llama-bpe", (False, None), (False, False)),   # the file's key wins …
    ("SPM", None, (False, True), (False, True)),
    ("BPE", "gemma4", (False, None), (True, False)),       # … except Gemma 4's forced BOS (llama.cpp#21500)
])
def test_add_special_follows_llama_vocab_load(vocab_type, pre, keys, expected):
    """``llama_vocab::impl::load`` (ggml-org/llama.cpp@00ad355): type defaults, then BPE pre-tokenizer
    defaults, then the file's keys, then the Gemma 4 override."""
    assert add_special(vocab_type, pre, *keys) == expected


def test_gguf_facts_use_llama_cpp_defaults(smollm2_gguf, tmp_path):
    """Guards the llama.cpp verdict of a Llama-3-style GGUF without ``add_bos_token`` (pre-tokenizer llama-bpe):
    transformers builds its tokenizer without BOS, llama.cpp adds BOS, and llama-server refuses it as a draft
    for the SmolLM2 target (which adds none; tests/compat/test_engine_matrix.py). The facts said add_bos False
    and the verdict "shared-vocab"; they now carry llama.cpp's flags and the verdict is "refused"."""
    from draftfinder.compat.engine_rules import llama_cpp_verdict
    from tests.compat.engine_matrix import gguf_facts
    from tests.compat.gguf_variants import Variant, write_variant

    variant = Variant("llama-bpe", "", metadata={"tokenizer.ggml.add_bos_token": ("BOOL", None),
                                                 "tokenizer.ggml.pre": ("STRING", "llama-bpe")})
    draft = gguf_facts(write_variant(smollm2_gguf, tmp_path / "llama-bpe.gguf", variant))
    target = gguf_facts(smollm2_gguf)
    assert (target.add_bos_token, draft.add_bos_token) == (False, True)
    verdict = llama_cpp_verdict(target, draft, None, None)
    assert verdict.mode == "refused" and "add_bos differs (False vs True)" in verdict.reasons[0]
