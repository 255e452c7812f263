"""How llama.cpp reads a GGUF vocabulary's special-token flags: the file's keys, else its own defaults.

``llama_vocab::impl::load`` (``src/llama-vocab.cpp``, read at ggml-org/llama.cpp@00ad355, 2026-11-30) sets
``add_bos`` / ``add_eos`` in three steps:

1. by vocab type (``tokenizer.ggml.model``): SPM (``llama``) and WPM (``bert``) add BOS; UGM (``t5``) adds EOS;
   BPE (``gpt2``), RWKV and the rest add neither;
2. for BPE, by pre-tokenizer (``tokenizer.ggml.pre``): ``llama3``, ``llama-v3``, ``llama-bpe``, ``falcon3``,
   ``falcon-h1``, ``pixtral``, ``midm-2.0``, ``lfm2``, ``jina-v5-nano``, ``tekken`` and ``chameleon`` add BOS;
3. ``tokenizer.ggml.add_bos_token`` / ``add_eos_token``, when the file has them, override both — except that
   the ``gemma4`` pre-tokenizer always adds BOS (the Gemma 4 workaround, ggml-org/llama.cpp#21500).

transformers builds a GGUF file's tokenizer without step 2: a Llama-3-style file (``pre = llama-bpe``) that
does not store ``add_bos_token`` adds no BOS in transformers but does in llama.cpp — and llama.cpp refuses to
draft with it beside a target that adds none (checked against llama-server in
``tests/compat/test_engine_matrix.py``). :func:`add_special` is step 1–3, for the facts of GGUF files.
"""

from __future__ import annotations

from typing import Optional, Tuple

ADD_BOS_PRE_TOKENIZERS = frozenset({
    "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano",
    "tekken", "chameleon",
})
FORCE_BOS_PRE_TOKENIZERS = frozenset({"gemma4", "granite-embed-multi-311m"})   # LLAMA_VOCAB_PRE_TYPE_GEMMA4
TYPE_DEFAULTS = {"SPM": (True, False), "WPM": (True, False), "UGM": (False, True), "RWKV": (False, False),
                 "BPE": (False, False)}


def add_special(vocab_type: Optional[str], pre: Optional[str], add_bos_key: Optional[bool],
                add_eos_key: Optional[bool]) -> Tuple[bool, bool]:
    """``(add_bos, add_eos)`` as llama.cpp loads them (module docstring); ``*_key`` None = the file has no key."""
    add_bos, add_eos = TYPE_DEFAULTS.get(vocab_type or "", (False, False))
    if vocab_type == "BPE" and pre in ADD_BOS_PRE_TOKENIZERS:
        add_bos = True
    if add_bos_key is not None:
        add_bos = bool(add_bos_key)
    if add_eos_key is not None:
        add_eos = bool(add_eos_key)
    if vocab_type == "BPE" and pre in FORCE_BOS_PRE_TOKENIZERS:
        add_bos = True
    return add_bos, add_eos
